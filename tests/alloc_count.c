/* alloc_count.c: the test programs are linked with -Wl,--wrap=malloc (and
 * calloc, realloc, aligned_alloc), so every allocation made by the library's
 * and the tests' code passes through here and is counted. */
#include <stddef.h>

long test_allocs;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n)
{
    test_allocs++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t s)
{
    test_allocs++;
    return __real_calloc(n, s);
}

void *__wrap_realloc(void *p, size_t n)
{
    test_allocs++;
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
    test_allocs++;
    return __real_aligned_alloc(a, n);
}
