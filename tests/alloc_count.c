/* alloc_count.c: the test programs are linked with -Wl,--wrap=malloc (and
 * calloc, realloc, aligned_alloc), so every allocation made by the library's
 * and the tests' code passes through here and is counted; and, when
 * test_fail_at is set, the allocation with that count fails (returns NULL),
 * to test every error path that running out of memory takes. */
#include <stddef.h>

long test_allocs;
long test_fail_at; /* the count at which allocation fails, 0: never */
long test_failed;  /* allocations made to fail so far */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t s);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);

static int fail_now(void)
{
    if (++test_allocs == test_fail_at) {
        test_failed++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t s) { return fail_now() ? NULL : __real_calloc(n, s); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return fail_now() ? NULL : __real_aligned_alloc(a, n); }
