/* tensor.c: tensor headers, heap and arena allocation, status strings,
 * copies and shape changes (fill, copy, reshape, transpose, slice, concat). */
#include "tn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tn_parallel.h"

#ifdef TN_REAL_DOUBLE
const int tn_real_is_double = 1;
#else
const int tn_real_is_float = 1;
#endif

const char *tn_status_str(tn_status s)
{
    switch (s) {
    case TN_OK: return "ok";
    case TN_ESHAPE: return "shapes do not fit";
    case TN_ENOMEM: return "out of memory";
    case TN_EARG: return "argument out of range";
    }
    return "unknown status";
}

/* Element count of a shape, 0 on overflow or bad ndim. Scalars count 1. */
static size_t shape_size(int ndim, const size_t *shape, int *ok)
{
    size_t n = 1;
    *ok = ndim >= 0 && ndim <= TN_MAX_DIMS;
    for (int i = 0; *ok && i < ndim; i++) {
        if (shape[i] != 0 && n > SIZE_MAX / sizeof(tn_real) / shape[i])
            *ok = 0;
        else
            n *= shape[i];
    }
    return *ok ? n : 0;
}

tn_tensor tn_wrap(tn_real *data, int ndim, const size_t *shape)
{
    tn_tensor t = {0};
    int ok;
    t.size = shape_size(ndim, shape, &ok);
    if (!ok)
        return t;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.shape[i] = shape[i];
    t.data = data;
    return t;
}

/* Header rounded up so that data stays 64-byte aligned. */
#define HEADER_BYTES ((sizeof(tn_tensor) + 63) / 64 * 64)

tn_tensor *tn_new(int ndim, const size_t *shape)
{
    int ok;
    size_t n = shape_size(ndim, shape, &ok);
    if (!ok)
        return NULL;
    size_t bytes = HEADER_BYTES + n * sizeof(tn_real);
    bytes = (bytes + 63) / 64 * 64;
    unsigned char *mem = aligned_alloc(64, bytes);
    if (!mem)
        return NULL;
    memset(mem, 0, bytes);
    tn_tensor *t = (tn_tensor *)mem;
    *t = tn_wrap((tn_real *)(mem + HEADER_BYTES), ndim, shape);
    return t;
}

void tn_free(tn_tensor *t) { free(t); }

char *tn_shape_str(const tn_tensor *t, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (t->ndim == 0) {
        snprintf(buf, len, "scalar");
        return buf;
    }
    for (int i = 0; i < t->ndim && used < len; i++) {
        int w = snprintf(buf + used, len - used, i ? "x%zu" : "%zu",
                         t->shape[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return buf;
}

int tn_same_shape(const tn_tensor *a, const tn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* ---- arena ---------------------------------------------------------------- */

typedef struct block {
    struct block *next;
    size_t cap, used;
    unsigned char *mem;
} block;

struct tn_arena {
    block *first, *cur;
    size_t next_cap;
    size_t block_allocs;
};

static block *block_new(size_t cap)
{
    block *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    cap = (cap + 63) / 64 * 64;
    b->mem = aligned_alloc(64, cap);
    if (!b->mem) {
        free(b);
        return NULL;
    }
    b->cap = cap;
    b->used = 0;
    b->next = NULL;
    return b;
}

tn_arena *tn_arena_new(size_t first_block_bytes)
{
    tn_arena *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->next_cap = first_block_bytes ? first_block_bytes : (size_t)1 << 20;
    return a;
}

void tn_arena_free(tn_arena *a)
{
    if (!a)
        return;
    for (block *b = a->first, *n; b; b = n) {
        n = b->next;
        free(b->mem);
        free(b);
    }
    free(a);
}

void *tn_arena_alloc(tn_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX - 64)
        return NULL;
    bytes = (bytes + 63) / 64 * 64;
    /* Try the current block and the ones after it (kept from past steps). */
    for (block *b = a->cur; b; b = b->next) {
        if (b->cap - b->used >= bytes) {
            void *p = b->mem + b->used;
            b->used += bytes;
            a->cur = b;
            return p;
        }
    }
    size_t cap = a->next_cap;
    while (cap < bytes)
        cap *= 2;
    block *nb = block_new(cap);
    if (!nb)
        return NULL;
    a->block_allocs++;
    a->next_cap = cap * 2;
    /* Append at the end so that reset walks blocks in allocation order. */
    if (!a->first) {
        a->first = nb;
    } else {
        block *last = a->cur ? a->cur : a->first;
        while (last->next)
            last = last->next;
        last->next = nb;
    }
    a->cur = nb;
    nb->used = bytes;
    return nb->mem;
}

void tn_arena_reset(tn_arena *a)
{
    for (block *b = a->first; b; b = b->next)
        b->used = 0;
    a->cur = a->first;
}

size_t tn_arena_used(const tn_arena *a)
{
    size_t n = 0;
    for (block *b = a->first; b; b = b->next)
        n += b->used;
    return n;
}

size_t tn_arena_capacity(const tn_arena *a)
{
    size_t n = 0;
    for (block *b = a->first; b; b = b->next)
        n += b->cap;
    return n;
}

size_t tn_arena_block_allocs(const tn_arena *a) { return a->block_allocs; }

tn_tensor *tn_arena_tensor_raw(tn_arena *a, int ndim, const size_t *shape)
{
    int ok;
    size_t n = shape_size(ndim, shape, &ok);
    if (!ok || n > (SIZE_MAX - HEADER_BYTES) / sizeof(tn_real))
        return NULL;
    unsigned char *mem = tn_arena_alloc(a, HEADER_BYTES + n * sizeof(tn_real));
    if (!mem)
        return NULL;
    tn_tensor *t = (tn_tensor *)mem;
    *t = tn_wrap((tn_real *)(mem + HEADER_BYTES), ndim, shape);
#ifdef TN_POISON_ARENA /* the sanitizer build: an op that leaves an element
                        * unwritten turns its result into NaN */
    for (size_t i = 0; i < n; i++)
        t->data[i] = NAN;
#endif
    return t;
}

tn_tensor *tn_arena_tensor(tn_arena *a, int ndim, const size_t *shape)
{
    tn_tensor *t = tn_arena_tensor_raw(a, ndim, shape);
    if (t)
        memset(t->data, 0, t->size * sizeof(tn_real));
    return t;
}

/* ---- copies and shapes ------------------------------------------------------ */

void tn_fill(tn_tensor *t, tn_real v)
{
    tn_real *d = t->data;
    TN_FOR(i, t->size, d[i] = v;);
}

tn_status tn_copy(tn_tensor *dst, const tn_tensor *src)
{
    if (dst->size != src->size)
        return TN_ESHAPE;
    if (dst->data != src->data)
        memmove(dst->data, src->data, src->size * sizeof(tn_real));
    return TN_OK;
}

tn_status tn_reshape(tn_tensor *t, int ndim, const size_t *shape)
{
    int ok;
    size_t n = shape_size(ndim, shape, &ok);
    if (!ok)
        return TN_EARG;
    if (n != t->size)
        return TN_ESHAPE;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    return TN_OK;
}

tn_status tn_transpose(tn_tensor *out, const tn_tensor *x)
{
    if (x->ndim < 2 || out->ndim != x->ndim || out->data == x->data)
        return TN_ESHAPE;
    int d = x->ndim;
    size_t r = x->shape[d - 2], c = x->shape[d - 1];
    for (int i = 0; i < d - 2; i++)
        if (out->shape[i] != x->shape[i])
            return TN_ESHAPE;
    if (out->shape[d - 2] != c || out->shape[d - 1] != r)
        return TN_ESHAPE;
    size_t batch = (r && c) ? x->size / (r * c) : 0;
    for (size_t b = 0; b < batch; b++) {
        const tn_real *src = x->data + b * r * c;
        tn_real *dst = out->data + b * r * c;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                dst[j * r + i] = src[i * c + j];
    }
    return TN_OK;
}

/* Same shape but for the last axis? Sets *rows to the product of the rest. */
static int same_lead(const tn_tensor *a, const tn_tensor *b, size_t *rows)
{
    if (a->ndim != b->ndim || a->ndim < 1)
        return 0;
    *rows = 1;
    for (int i = 0; i < a->ndim - 1; i++) {
        if (a->shape[i] != b->shape[i])
            return 0;
        *rows *= a->shape[i];
    }
    return 1;
}

tn_status tn_slice_last(tn_tensor *out, const tn_tensor *x, size_t start)
{
    size_t rows;
    if (!same_lead(out, x, &rows))
        return TN_ESHAPE;
    size_t w = out->shape[out->ndim - 1], xw = x->shape[x->ndim - 1];
    if (start > xw || w > xw - start)
        return TN_EARG;
    for (size_t i = 0; i < rows; i++)
        memcpy(out->data + i * w, x->data + i * xw + start, w * sizeof(tn_real));
    return TN_OK;
}

tn_status tn_concat_last(tn_tensor *out, const tn_tensor *a,
                         const tn_tensor *b)
{
    size_t rows, rb;
    if (!same_lead(out, a, &rows) || !same_lead(out, b, &rb))
        return TN_ESHAPE;
    size_t wa = a->shape[a->ndim - 1], wb = b->shape[b->ndim - 1];
    size_t w = out->shape[out->ndim - 1];
    if (w != wa + wb)
        return TN_ESHAPE;
    for (size_t i = 0; i < rows; i++) {
        memcpy(out->data + i * w, a->data + i * wa, wa * sizeof(tn_real));
        memcpy(out->data + i * w + wa, b->data + i * wb, wb * sizeof(tn_real));
    }
    return TN_OK;
}
