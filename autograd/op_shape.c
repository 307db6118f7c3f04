/* op_shape.c: reshape, transpose of the last two axes, slice and concat along
 * the last axis, repeat along a new leading axis, gather rows by index.
 * Their backwards move gradients back without arithmetic (or add copies). */
#include "ad_internal.h"

#include <stdio.h>
#include <string.h>

/* y = x with the shape in attr (same element count): a view, y's values are
 * x's memory (setting val.data here tells the tape not to allocate) */
static const char *reshape_shape(ad_var *v)
{
    tn_tensor t = v->in[0]->val;
    if (tn_reshape(&t, v->attr.ndim, v->attr.shape) != TN_OK) { /* the shape asked for, beside x's */
        char *why = ad__why_buf(v->tape);
        size_t used = (size_t)snprintf(why, AD_WHY_LEN, "to (");
        size_t count = 1;
        for (int i = 0; i < v->attr.ndim && used < AD_WHY_LEN; i++) {
            count *= v->attr.shape[i];
            used += (size_t)snprintf(why + used, AD_WHY_LEN - used, i ? "x%zu" : "%zu", v->attr.shape[i]);
        }
        if (used < AD_WHY_LEN)
            snprintf(why + used, AD_WHY_LEN - used, "): %zu elements, the input has %zu", count, t.size);
        return why;
    }
    v->val = t;
    return NULL;
}
static void reshape_forward(ad_var *v) { (void)v; }
/* dx = g, read in x's shape; when x has no gradient yet it takes y's memory
 * (y's backward is the last reader of it), and in a second backward on the
 * tape the two are still one buffer, x's other terms already in it */
static void reshape_backward(ad_var *v)
{
    const ad_var *x = v->in[0];
    if (ad__grad_adopt(v->in[0], v->grad) || (x->grad && x->grad->data == v->grad->data))
        return;
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (dx)
        tn_axpy(dx, 1, v->grad);
}
const ad_op_def ad__op_reshape = {"reshape", 1, reshape_shape, reshape_forward, reshape_backward};

/* y[..., j, i] = x[..., i, j] */
static const char *transpose_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    if (x->ndim < 2)
        return "needs at least 2 dimensions";
    ad__shape_same(v);
    v->val.shape[x->ndim - 2] = x->shape[x->ndim - 1];
    v->val.shape[x->ndim - 1] = x->shape[x->ndim - 2];
    return NULL;
}
static void transpose_forward(ad_var *v) { tn_transpose(&v->val, &v->in[0]->val); }
/* dx = gᵀ (last two axes) */
static void transpose_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    size_t r = dx->shape[dx->ndim - 2], c = dx->shape[dx->ndim - 1];
    size_t batch = (r && c) ? dx->size / (r * c) : 0;
    for (size_t b = 0; b < batch; b++) {
        tn_real *d = dx->data + b * r * c;
        const tn_real *g = v->grad->data + b * r * c;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                d[i * c + j] += g[j * r + i];
    }
}
const ad_op_def ad__op_transpose = {"transpose", 1, transpose_shape, transpose_forward, transpose_backward};

/* y = x[..., start : start + len] with start = i[0], len = i[1] */
static const char *slice_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    if (x->ndim < 1)
        return "cannot slice a scalar";
    size_t start = (size_t)v->attr.i[0], len = (size_t)v->attr.i[1];
    size_t w = x->shape[x->ndim - 1];
    if (v->attr.i[0] < 0 || v->attr.i[1] < 0 || start > w || len > w - start) {
        char *why = ad__why_buf(v->tape);
        snprintf(why, AD_WHY_LEN, "start %ld, length %ld runs past the last axis (%zu)",
                 v->attr.i[0], v->attr.i[1], w);
        return why;
    }
    ad__shape_same(v);
    v->val.shape[x->ndim - 1] = len;
    return NULL;
}
static void slice_forward(ad_var *v) { tn_slice_last(&v->val, &v->in[0]->val, (size_t)v->attr.i[0]); }
/* dx[..., start + j] += g[..., j] */
static void slice_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    size_t w = dx->shape[dx->ndim - 1], len = v->val.shape[v->val.ndim - 1];
    size_t rows = w ? dx->size / w : 0, start = (size_t)v->attr.i[0];
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < len; j++)
            dx->data[i * w + start + j] += v->grad->data[i * len + j];
}
const ad_op_def ad__op_slice = {"slice", 1, slice_shape, slice_forward, slice_backward};

/* y = [a, b] along the last axis */
static const char *concat_shape(ad_var *v)
{
    const tn_tensor *a = &v->in[0]->val, *b = &v->in[1]->val;
    if (a->ndim < 1 || a->ndim != b->ndim)
        return "need the same number of dimensions (at least 1)";
    for (int i = 0; i < a->ndim - 1; i++)
        if (a->shape[i] != b->shape[i])
            return "all axes but the last must agree";
    ad__shape_same(v);
    v->val.shape[a->ndim - 1] = a->shape[a->ndim - 1] + b->shape[b->ndim - 1];
    return NULL;
}
static void concat_forward(ad_var *v) { tn_concat_last(&v->val, &v->in[0]->val, &v->in[1]->val); }
/* da = g[..., :wa], db = g[..., wa:] */
static void concat_backward(ad_var *v)
{
    size_t w = v->val.shape[v->val.ndim - 1];
    size_t rows = w ? v->val.size / w : 0, off = 0;
    for (int k = 0; k < 2; k++) {
        ad_var *x = v->in[k];
        size_t wx = x->val.shape[x->val.ndim - 1];
        tn_tensor *dx = ad__grad_buf(x);
        for (size_t i = 0; dx && i < rows; i++)
            for (size_t j = 0; j < wx; j++)
                dx->data[i * wx + j] += v->grad->data[i * w + off + j];
        off += wx;
    }
}
const ad_op_def ad__op_concat = {"concat", 2, concat_shape, concat_forward, concat_backward};

/* y[r] = x for r < k: shape (k, x's shape); k = i[0] */
static const char *repeat_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    if (x->ndim >= TN_MAX_DIMS)
        return "already has the most dimensions a tensor can have";
    if (v->attr.i[0] < 1)
        return "the count must be at least 1";
    v->val.ndim = x->ndim + 1;
    v->val.shape[0] = (size_t)v->attr.i[0];
    memcpy(v->val.shape + 1, x->shape, (size_t)x->ndim * sizeof x->shape[0]);
    return NULL;
}
static void repeat_forward(ad_var *v)
{
    size_t n = v->in[0]->val.size;
    for (long r = 0; r < v->attr.i[0]; r++)
        memcpy(v->val.data + (size_t)r * n, v->in[0]->val.data, n * sizeof(tn_real));
}
/* dx = Σ_r g[r] */
static void repeat_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    for (long r = 0; r < v->attr.i[0]; r++) {
        const tn_real *g = v->grad->data + (size_t)r * dx->size;
        for (size_t i = 0; i < dx->size; i++)
            dx->data[i] += g[i];
    }
}
const ad_op_def ad__op_repeat = {"repeat", 1, repeat_shape, repeat_forward, repeat_backward};

/* y[r] = x[idx[r]] along axis 0: shape (n, x's other axes); n = i[0] */
static const char *gather_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    if (x->ndim < 1)
        return "cannot gather rows of a scalar";
    size_t n = (size_t)v->attr.i[0];
    for (size_t r = 0; r < n; r++)
        if (v->attr.idx[r] < 0 || (size_t)v->attr.idx[r] >= x->shape[0]) {
            char *why = ad__why_buf(v->tape);
            snprintf(why, AD_WHY_LEN, "index %d at position %zu is outside 0..%zu",
                     v->attr.idx[r], r, x->shape[0] - (x->shape[0] > 0));
            return why;
        }
    ad__shape_same(v);
    v->val.shape[0] = n;
    return NULL;
}
static void gather_forward(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    size_t row = x->shape[0] ? x->size / x->shape[0] : 0;
    for (long r = 0; r < v->attr.i[0]; r++)
        memcpy(v->val.data + (size_t)r * row, x->data + (size_t)v->attr.idx[r] * row,
               row * sizeof(tn_real));
}
/* dx[idx[r]] += g[r] (scatter-add: a row picked twice gets both) */
static void gather_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    size_t row = dx->shape[0] ? dx->size / dx->shape[0] : 0;
    for (long r = 0; r < v->attr.i[0]; r++) {
        tn_real *d = dx->data + (size_t)v->attr.idx[r] * row;
        const tn_real *g = v->grad->data + (size_t)r * row;
        for (size_t j = 0; j < row; j++)
            d[j] += g[j];
    }
}
const ad_op_def ad__op_gather_rows = {"gather_rows", 1, gather_shape, gather_forward, gather_backward};

ad_var *ad_repeat(ad_var *x, size_t k)
{
    ad_attr at = {.i = {k > (size_t)0x7fffffff ? -1 : (long)k}};
    return ad__record(AD_OP_REPEAT, x, NULL, NULL, &at);
}

ad_var *ad_gather_rows(ad_var *x, const int *idx, size_t n)
{
    if (!x)
        return NULL;
    ad_tape *t = x->tape;
    if (!ad_tape_ok(t))
        return NULL;
    int *copy = n ? tn_arena_alloc(ad_tape_arena(t), n * sizeof *copy) : NULL;
    if (n && (!copy || !idx)) {
        ad_tape_fail(t, idx ? "gather_rows: out of memory for %zu indices"
                            : "gather_rows: no indices given for %zu rows", n);
        return NULL;
    }
    if (n)
        memcpy(copy, idx, n * sizeof *copy);
    ad_attr at = {.i = {(long)n}, .idx = copy};
    return ad__record(AD_OP_GATHER_ROWS, x, NULL, NULL, &at);
}

ad_var *ad_reshape(ad_var *x, int ndim, const size_t *shape)
{
    ad_attr at = {.ndim = ndim};
    if (ndim < 0 || ndim > TN_MAX_DIMS) {
        at.ndim = -1; /* rejected by the shape rule */
    } else {
        for (int i = 0; i < ndim; i++)
            at.shape[i] = shape[i];
    }
    return ad__record(AD_OP_RESHAPE, x, NULL, NULL, &at);
}

ad_var *ad_transpose(ad_var *x) { return ad__record(AD_OP_TRANSPOSE, x, NULL, NULL, NULL); }

ad_var *ad_slice(ad_var *x, size_t start, size_t len)
{
    ad_attr at = {.i = {(long)start, (long)len}};
    return ad__record(AD_OP_SLICE, x, NULL, NULL, &at);
}

ad_var *ad_concat(ad_var *a, ad_var *b) { return ad__record(AD_OP_CONCAT, a, b, NULL, NULL); }

ad_var *ad_split2(ad_var *x, ad_var **second)
{
    size_t w = ad_dim(x, -1);
    if (x && w % 2) {
        char sh[64];
        ad_tape_fail(x->tape, "split2: (%s): the last axis (%zu) is odd, expected two equal halves",
                     tn_shape_str(&x->val, sh, sizeof sh), w);
        x = NULL;
    }
    *second = ad_slice(x, w / 2, w / 2);
    return ad_slice(x, 0, w / 2);
}
