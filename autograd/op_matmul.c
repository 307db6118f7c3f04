/* op_matmul.c: matmul with transpose flags and the fused linear layer
 * x·Wᵀ + b. Every product goes to BLIS with flags, never through copies. */
#include "ad_internal.h"

#include <string.h>

#include "tn_math.h"
#include "tn_parallel.h"

/* C = op(A)·op(B), flags in i[0], i[1] */
static const char *matmul_shape(ad_var *v)
{
    const tn_tensor *a = &v->in[0]->val, *b = &v->in[1]->val;
    int ta = (int)v->attr.i[0], tb = (int)v->attr.i[1];
    if (a->ndim != 2 || b->ndim != 2)
        return "both operands must be 2-D";
    size_t ka = ta ? a->shape[0] : a->shape[1];
    size_t kb = tb ? b->shape[1] : b->shape[0];
    if (ka != kb)
        return "inner dimensions differ";
    v->val.ndim = 2;
    v->val.shape[0] = ta ? a->shape[1] : a->shape[0];
    v->val.shape[1] = tb ? b->shape[0] : b->shape[1];
    return NULL;
}
static void matmul_forward(ad_var *v)
{
    tn_matmul(&v->val, &v->in[0]->val, (int)v->attr.i[0], &v->in[1]->val,
              (int)v->attr.i[1], 1, 0);
}
/* C = op(A)·op(B), G = dC:
 *   dA += G·op(B)ᵀ          (A not transposed)   dA += op(B)·Gᵀ   (A transposed)
 *   dB += op(A)ᵀ·G          (B not transposed)   dB += Gᵀ·op(A)   (B transposed) */
static void matmul_backward(ad_var *v)
{
    const tn_tensor *A = &v->in[0]->val, *B = &v->in[1]->val, *G = v->grad;
    int ta = (int)v->attr.i[0], tb = (int)v->attr.i[1];
    int fresh;
    tn_tensor *dA = ad__grad_out(v->in[0], &fresh);
    if (dA) {
        if (!ta)
            tn_matmul(dA, G, 0, B, !tb, 1, fresh ? 0 : 1);
        else
            tn_matmul(dA, B, tb, G, 1, 1, fresh ? 0 : 1);
    }
    tn_tensor *dB = ad__grad_out(v->in[1], &fresh);
    if (dB) {
        if (!tb)
            tn_matmul(dB, A, !ta, G, 0, 1, fresh ? 0 : 1);
        else
            tn_matmul(dB, G, 1, A, ta, 1, fresh ? 0 : 1);
    }
}
const ad_op_def ad__op_matmul = {"matmul", 2, matmul_shape, matmul_forward, matmul_backward};

/* y = x·Wᵀ + b: x (N x in), W (out x in), b (out) -> y (N x out) */
static const char *linear_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val, *W = &v->in[1]->val, *b = &v->in[2]->val;
    if (x->ndim != 2 || W->ndim != 2 || b->ndim != 1)
        return "expects x (N x in), W (out x in), b (out)";
    if (x->shape[1] != W->shape[1])
        return "x's columns differ from W's columns";
    if (b->shape[0] != W->shape[0])
        return "b's length differs from W's rows";
    v->val.ndim = 2;
    v->val.shape[0] = x->shape[0];
    v->val.shape[1] = W->shape[0];
    return NULL;
}
static void linear_forward(ad_var *v)
{
    tn_tensor *y = &v->val;
    const tn_real *b = v->in[2]->val.data;
    size_t n = y->shape[0], m = y->shape[1];
    tn_real *yd = y->data;
    TN_FOR_WORK(i, n, n * m, memcpy(yd + i * m, b, m * sizeof *b);); /* y = b, then y += x·Wᵀ */
    /* BLIS 0.9 runs x·Wᵀ with W stored out x in several times slower than
     * with Wᵀ stored when W's rows are short (in <= 128): such a W is
     * transposed into the arena first, a few thousand values, and the
     * product is the same */
    const tn_tensor *W = &v->in[1]->val;
    tn_tensor wt = {.ndim = 2, .shape = {W->shape[1], W->shape[0]}};
    tn_tensor *Wt = W->shape[1] <= 128 && n >= 32 ? ad__scratch(v->tape, &wt) : NULL;
    if (Wt) {
        tn_transpose(Wt, W);
        tn_matmul(y, &v->in[0]->val, 0, Wt, 0, 1, 1);
    } else
        tn_matmul(y, &v->in[0]->val, 0, W, 1, 1, 1);
}
/* d[j] += Σ_i g[i, j] for columns [j0, j1) (at most 64) of n rows of m,
 * each column summed in row order: the sums kept in a local block while
 * the rows stream by (TN_CLONES: 4 AVX-512 registers a row) */
TN_CLONES static void col_sums(const tn_real *restrict g, tn_real *restrict d, size_t n, size_t m,
                               size_t j0, size_t j1)
{
    tn_real acc[64];
    size_t w = j1 - j0;
    for (size_t j = 0; j < w; j++)
        acc[j] = d[j0 + j];
    if (w == 64)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < 64; j++)
                acc[j] += g[i * m + j0 + j];
    else
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < w; j++)
                acc[j] += g[i * m + j0 + j];
    for (size_t j = 0; j < w; j++)
        d[j0 + j] = acc[j];
}

/* db += Σ_rows G, dW += Gᵀ·x, dx += G·W: in this order, so that G is read
 * while the op before wrote it, and dx is written last, for the op before
 * this one in the walk, which reads it next */
static void linear_backward(ad_var *v)
{
    const tn_tensor *G = v->grad;
    int fresh;
    tn_tensor *db = ad__grad_buf(v->in[2]);
    if (db) { /* by blocks of 64 columns, each summed in row order: split over threads
                 when large, the same bits on any number of them */
        size_t n = G->shape[0], m = G->shape[1], blocks = (m + 63) / 64;
        const tn_real *g = G->data;
        tn_real *d = db->data;
        TN_FOR_WORK(k, blocks, n * m, {
            size_t j0 = k * 64;
            col_sums(g, d, n, m, j0, j0 + 64 < m ? j0 + 64 : m);
        });
    }
    tn_tensor *dW = ad__grad_out(v->in[1], &fresh);
    const tn_tensor *x = &v->in[0]->val;
    /* a W of short rows (in <= 128, as forward) and many rows of x: Wᵀ's
     * gradient xᵀ·G, a product of few rows and long ones, then turned, is
     * quicker (measured on the IWAE's 640 x 20 -> 400; at 128 rows no
     * faster on 2 threads) */
    tn_tensor dwt = {.ndim = 2, .shape = {x->shape[1], G->shape[1]}};
    tn_tensor *dWt = dW && fresh && x->shape[1] <= 128 && x->shape[0] >= 256 ? ad__scratch(v->tape, &dwt) : NULL;
    if (dWt) {
        tn_matmul(dWt, x, 1, G, 0, 1, 0);
        tn_transpose(dW, dWt);
    } else if (dW)
        tn_matmul(dW, G, 1, x, 0, 1, fresh ? 0 : 1);
    tn_tensor *dx = ad__grad_out(v->in[0], &fresh);
    if (dx)
        tn_matmul(dx, G, 0, &v->in[1]->val, 0, 1, fresh ? 0 : 1);
}
const ad_op_def ad__op_linear = {"linear", 3, linear_shape, linear_forward, linear_backward};

ad_var *ad_matmul(ad_var *a, int trans_a, ad_var *b, int trans_b)
{
    ad_attr at = {.i = {trans_a != 0, trans_b != 0}};
    return ad__record(AD_OP_MATMUL, a, b, NULL, &at);
}

ad_var *ad_linear(ad_var *x, ad_var *W, ad_var *b)
{
    if (x && W && x->val.ndim > 2) { /* leading axes (S x N x in): as rows, then back */
        const tn_tensor *v = &x->val;
        size_t in = v->shape[v->ndim - 1], rows = in ? v->size / in : 0, shape[TN_MAX_DIMS];
        ad_var *y = ad_linear(ad_reshape(x, 2, (const size_t[]){rows, in}), W, b);
        if (!y)
            return NULL;
        memcpy(shape, v->shape, sizeof shape);
        shape[v->ndim - 1] = y->val.shape[1];
        return ad_reshape(y, v->ndim, shape);
    }
    if (x && W && !b) /* no bias: x·Wᵀ */
        return ad_matmul(x, 0, W, 1);
    return ad__record(AD_OP_LINEAR, x, W, b, NULL);
}
