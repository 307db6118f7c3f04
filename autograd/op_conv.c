/* op_conv.c: 2-D convolution and its transpose on NCHW tensors, with
 * PyTorch's weight layouts: conv2d W (F, C, kh, kw), conv_transpose2d
 * W (C, F, kh, kw). conv2d goes through oneDNN in the float build
 * (tensor/conv_dnnl.c); the transpose, and conv2d in the double build or
 * where oneDNN cannot, through im2col (tn_im2col) and one BLIS GEMM per
 * pass over the whole batch; tn__conv2d_ref and tn__conv_transpose2d_ref
 * are the naive loops they are tested against.
 *
 * Dimensions: N batch, C input channels, F output channels, H x W the input
 * image, Ho x Wo the output, K = kh·kw, S = H·W, So = Ho·Wo. The im2col
 * matrix is 2-D, (C·K) x (N·So), so tensors never need more than 4 axes:
 * the 6-d view (C, kh, kw, N, Ho, Wo) exists only as index arithmetic.
 * Attributes: i[0] stride, i[1] padding, i[2] output padding (transpose). */
#include "ad_internal.h"

#include <string.h>

#include "tn_dnnl.h"
#include "tn_parallel.h"

/* dst (C, N·S) = src (N, C, S) with the first two axes swapped; images
 * over threads when large */
static void to_channel_major(tn_real *dst, const tn_real *src, size_t N,
                             size_t C, size_t S)
{
    TN_FOR_WORK(n, N, N * C * S,
        for (size_t c = 0; c < C; c++)
            memcpy(dst + (c * N + n) * S, src + (n * C + c) * S, S * sizeof *dst););
}

/* dst (N, C, S) (+)= src (C, N·S), plus bias[c] when bias is given (the
 * copy and the bias in one pass); images over threads when large */
static void to_batch_major(tn_real *dst, const tn_real *src, size_t N,
                           size_t C, size_t S, int add, const tn_real *bias)
{
    TN_FOR_WORK(n, N, N * C * S,
        for (size_t c = 0; c < C; c++) {
            tn_real *d = dst + (n * C + c) * S;
            const tn_real *s = src + (c * N + n) * S;
            if (add)
                for (size_t i = 0; i < S; i++)
                    d[i] += s[i];
            else if (bias)
                for (size_t i = 0; i < S; i++)
                    d[i] = s[i] + bias[c];
            else
                memcpy(d, s, S * sizeof *d);
        });
}

/* db[f] += Σ_{n, s} g[n, f, s], each f over n in order (channels over
 * threads when large: the same bits on any number) */
static void bias_backward(ad_var *v)
{
    tn_tensor *db = ad__grad_buf(v->in[2]);
    if (!db)
        return;
    const tn_tensor *g = v->grad;
    size_t N = g->shape[0], F = g->shape[1], S = g->shape[2] * g->shape[3];
    TN_FOR_WORK(f, F, N * F * S,
        for (size_t n = 0; n < N; n++) {
            double s = 0;
            for (size_t i = 0; i < S; i++)
                s += g->data[(n * F + f) * S + i];
            db->data[f] += (tn_real)s;
        });
}

static tn_tensor *scratch2(ad_tape *t, size_t rows, size_t cols)
{
    tn_tensor like = tn_wrap(NULL, 2, (const size_t[]){rows, cols});
    return ad__scratch(t, &like);
}

/* Checks x (N,C,H,W), W 4-D and b (F) and sets y's shape. */
static const char *conv_shape(ad_var *v, int transpose)
{
    const tn_tensor *x = &v->in[0]->val, *W = &v->in[1]->val, *b = &v->in[2]->val;
    if (x->ndim != 4 || W->ndim != 4 || b->ndim != 1)
        return transpose ? "expects x (N, C, H, W), W (C, F, kh, kw), b (F)"
                         : "expects x (N, C, H, W), W (F, C, kh, kw), b (F)";
    size_t C = transpose ? W->shape[0] : W->shape[1];
    size_t F = transpose ? W->shape[1] : W->shape[0];
    if (x->shape[1] != C)
        return "x's channels differ from W's input channels";
    if (b->shape[0] != F)
        return "b's length differs from W's output channels";
    long s = v->attr.i[0], p = v->attr.i[1], op = v->attr.i[2];
    if (s < 1 || p < 0 || op < 0 || (transpose && op >= s))
        return transpose ? "needs stride >= 1, padding >= 0, 0 <= output padding < stride"
                         : "needs stride >= 1 and padding >= 0";
    size_t kh = W->shape[2], kw = W->shape[3], ho, wo;
    if (!transpose) {
        ho = tn_conv_out(x->shape[2], kh, (size_t)s, (size_t)p);
        wo = tn_conv_out(x->shape[3], kw, (size_t)s, (size_t)p);
    } else {
        /* Ho = (H - 1)·s - 2p + kh + op */
        size_t full_h = (x->shape[2] - (x->shape[2] > 0)) * (size_t)s + kh + (size_t)op;
        size_t full_w = (x->shape[3] - (x->shape[3] > 0)) * (size_t)s + kw + (size_t)op;
        ho = x->shape[2] && full_h > 2 * (size_t)p ? full_h - 2 * (size_t)p : 0;
        wo = x->shape[3] && full_w > 2 * (size_t)p ? full_w - 2 * (size_t)p : 0;
    }
    if (!ho || !wo)
        return "the kernel does not fit the padded image";
    v->val.ndim = 4;
    v->val.shape[0] = x->shape[0];
    v->val.shape[1] = F;
    v->val.shape[2] = ho;
    v->val.shape[3] = wo;
    return NULL;
}

/* ---- conv2d -------------------------------------------------------------- */

static const char *conv2d_shape(ad_var *v) { return conv_shape(v, 0); }

/* room for oneDNN (tn_dnnl.h) in the tape's arena */
static void *arena_bytes(void *tape, size_t bytes)
{
    tn_tensor *t = ad__scratch(tape, &(tn_tensor){.ndim = 1, .shape = {(bytes + sizeof(tn_real) - 1) / sizeof(tn_real)}});
    return t ? t->data : NULL;
}

/* The float build: oneDNN's direct convolution (tensor/conv_dnnl.c), with
 * nothing kept (v->saved NULL). Where it cannot, and in the double build:
 * cols = im2col(x) (C·K x N·So), kept for backward; Y = Wm·cols (F x N·So)
 * with Wm = W as (F x C·K); y[n, f] = Y[f, n] + b[f] */
static void conv2d_forward(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val, *W = &v->in[1]->val, *b = &v->in[2]->val;
    size_t N = x->shape[0], F = W->shape[0], K = W->shape[2] * W->shape[3];
    size_t CK = W->shape[1] * K, So = v->val.shape[2] * v->val.shape[3];
    size_t s = (size_t)v->attr.i[0], p = (size_t)v->attr.i[1];
    v->saved = NULL;
    if (tn__dnnl_conv2d_forward(&v->val, x, W, b, s, p, arena_bytes, v->tape) == 0)
        return;
    v->saved = scratch2(v->tape, CK, N * So);
    tn_tensor *Y = scratch2(v->tape, F, N * So);
    if (!v->saved || !Y)
        return;
    tn_im2col(v->saved, x, W->shape[2], W->shape[3], s, p);
    tn_tensor Wm = tn_wrap(W->data, 2, (const size_t[]){F, CK});
    tn_matmul(Y, &Wm, 0, v->saved, 0, 1, 0);
    to_batch_major(v->val.data, Y->data, N, F, So, 0, b->data); /* y = Y + b */
}
/* G = g as (F x N·So):  dWm += G·colsᵀ,  dx += col2im(Wmᵀ·G),  db += Σ g */
static void conv2d_backward(ad_var *v)
{
    const tn_tensor *W = &v->in[1]->val;
    size_t N = v->val.shape[0], F = W->shape[0], K = W->shape[2] * W->shape[3];
    size_t CK = W->shape[1] * K, So = v->val.shape[2] * v->val.shape[3];
    size_t s = (size_t)v->attr.i[0], p = (size_t)v->attr.i[1];
    tn_tensor *dx = ad__grad_buf(v->in[0]), *dW = ad__grad_buf(v->in[1]);
    if (!v->saved) { /* forward went through oneDNN: so does backward, or the columns are made now */
        if (tn__dnnl_conv2d_backward(dx, dW, ad__grad_buf(v->in[2]), v->grad, &v->in[0]->val, W, s, p,
                                     arena_bytes, v->tape) == 0)
            return;
        if (!(v->saved = scratch2(v->tape, CK, N * So)))
            return;
        tn_im2col(v->saved, &v->in[0]->val, W->shape[2], W->shape[3], s, p);
    }
    tn_tensor *G = scratch2(v->tape, F, N * So);
    if (!G)
        return;
    to_channel_major(G->data, v->grad->data, N, F, So);
    if (dW) {
        tn_tensor dWm = tn_wrap(dW->data, 2, (const size_t[]){F, CK});
        tn_matmul(&dWm, G, 0, v->saved, 1, 1, 1);
    }
    if (dx) {
        tn_tensor *dcols = scratch2(v->tape, CK, N * So);
        if (!dcols)
            return;
        tn_tensor Wm = tn_wrap(W->data, 2, (const size_t[]){F, CK});
        tn_matmul(dcols, &Wm, 1, G, 0, 1, 0);
        tn_col2im_acc(dx, dcols, W->shape[2], W->shape[3], s, p);
    }
    bias_backward(v);
}
const ad_op_def ad__op_conv2d = {"conv2d", 3, conv2d_shape, conv2d_forward, conv2d_backward};

/* ---- conv_transpose2d: the adjoint of conv2d in x ---------------------- */

static const char *convt_shape(ad_var *v) { return conv_shape(v, 1); }

/* X = x as (C x N·S), kept for backward; cols = Wmᵀ·X (F·K x N·S) with
 * Wm = W as (C x F·K); y = b + col2im(cols) */
static void convt_forward(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val, *W = &v->in[1]->val, *b = &v->in[2]->val;
    size_t N = x->shape[0], C = x->shape[1], S = x->shape[2] * x->shape[3];
    size_t F = W->shape[1], FK = F * W->shape[2] * W->shape[3];
    size_t So = v->val.shape[2] * v->val.shape[3];
    v->saved = scratch2(v->tape, C, N * S);
    tn_tensor *cols = scratch2(v->tape, FK, N * S);
    if (!v->saved || !cols)
        return;
    to_channel_major(v->saved->data, x->data, N, C, S);
    tn_tensor Wm = tn_wrap(W->data, 2, (const size_t[]){C, FK});
    tn_matmul(cols, &Wm, 1, v->saved, 0, 1, 0);
    TN_FOR_WORK(n, N, N * F * So,
        for (size_t f = 0; f < F; f++) {
            tn_real *y = v->val.data + (n * F + f) * So;
            for (size_t i = 0; i < So; i++)
                y[i] = b->data[f];
        });
    tn_col2im_acc(&v->val, cols, W->shape[2], W->shape[3], (size_t)v->attr.i[0],
                  (size_t)v->attr.i[1]);
}
/* Gc = im2col(g) (F·K x N·S):  dWm += X·Gcᵀ,  dx += (Wm·Gc) as (N,C,H,W),
 * db += Σ g */
static void convt_backward(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val, *W = &v->in[1]->val;
    size_t N = x->shape[0], C = x->shape[1], S = x->shape[2] * x->shape[3];
    size_t FK = W->shape[1] * W->shape[2] * W->shape[3];
    tn_tensor *dx = ad__grad_buf(v->in[0]), *dW = ad__grad_buf(v->in[1]);
    if (dx || dW) {
        tn_tensor *Gc = scratch2(v->tape, FK, N * S);
        if (!Gc)
            return;
        tn_im2col(Gc, v->grad, W->shape[2], W->shape[3], (size_t)v->attr.i[0],
                  (size_t)v->attr.i[1]);
        if (dW) {
            tn_tensor dWm = tn_wrap(dW->data, 2, (const size_t[]){C, FK});
            tn_matmul(&dWm, v->saved, 0, Gc, 1, 1, 1);
        }
        if (dx) {
            tn_tensor *dX = scratch2(v->tape, C, N * S);
            if (!dX)
                return;
            tn_tensor Wm = tn_wrap(W->data, 2, (const size_t[]){C, FK});
            tn_matmul(dX, &Wm, 0, Gc, 0, 1, 0);
            to_batch_major(dx->data, dX->data, N, C, S, 1, NULL);
        }
    }
    bias_backward(v);
}
const ad_op_def ad__op_conv_transpose2d = {"conv_transpose2d", 3, convt_shape, convt_forward, convt_backward};

static ad_var *conv(ad_op_id op, ad_var *x, ad_var *W, ad_var *b, size_t stride,
                    size_t padding, size_t out_pad)
{
    ad_attr at = {.i = {stride > 65536 ? -1 : (long)stride, padding > 65536 ? -1 : (long)padding,
                        out_pad > 65536 ? -1 : (long)out_pad}};
    return ad__record(op, x, W, b, &at);
}

ad_var *ad_conv2d(ad_var *x, ad_var *W, ad_var *b, size_t stride, size_t padding)
{
    return conv(AD_OP_CONV2D, x, W, b, stride, padding, 0);
}

ad_var *ad_conv_transpose2d(ad_var *x, ad_var *W, ad_var *b, size_t stride,
                            size_t padding, size_t output_padding)
{
    return conv(AD_OP_CONV_TRANSPOSE2D, x, W, b, stride, padding, output_padding);
}
