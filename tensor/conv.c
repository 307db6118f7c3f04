/* conv.c: the convolution helpers: im2col and its adjoint col2im, which turn
 * a convolution into one BLIS GEMM, and naive direct convolutions kept as the
 * reference the fast path is tested against. Tensors are NCHW. */
#include "tn.h"
#include "tn_ref.h"

#include <string.h>

#include "tn_parallel.h"

size_t tn_conv_out(size_t in, size_t k, size_t stride, size_t pad)
{
    if (stride == 0 || k == 0 || in + 2 * pad < k)
        return 0;
    return (in + 2 * pad - k) / stride + 1;
}

/* Checks x (N,C,H,W) against cols (C·kh·kw, N·Ho·Wo). */
static int cols_fit(const tn_tensor *cols, const tn_tensor *x, size_t kh,
                    size_t kw, size_t stride, size_t pad, size_t *ho, size_t *wo)
{
    if (x->ndim != 4 || cols->ndim != 2)
        return 0;
    *ho = tn_conv_out(x->shape[2], kh, stride, pad);
    *wo = tn_conv_out(x->shape[3], kw, stride, pad);
    return *ho && *wo && cols->shape[0] == x->shape[1] * kh * kw &&
           cols->shape[1] == x->shape[0] * *ho * *wo;
}

/* The output columns ow whose input column ow·s + j - p lies inside
 * 0..W-1: [*lo, *hi). Computed once per kernel offset, so the inner loops
 * carry no bounds tests. */
static void valid_range(size_t j, size_t W, size_t wo, size_t s, size_t p,
                        size_t *lo, size_t *hi)
{
    *lo = j >= p ? 0 : (p - j + s - 1) / s;           /* ow·s + j >= p */
    size_t end = W + p > j ? (W + p - j + s - 1) / s : 0; /* ow·s + j < W + p */
    *hi = end < wo ? end : wo;
    if (*lo > *hi)
        *lo = *hi;
}

/* One row r = (c, i, j) of the columns, for every image: copy (or, with
 * acc, add back) the strided window of channel c shifted by (i, j). */
static void im2col_row(tn_real *row, tn_real *x, const size_t *xs, size_t c,
                       size_t i, size_t j, size_t ho, size_t wo, size_t s,
                       size_t p, int acc)
{
    size_t N = xs[0], C = xs[1], H = xs[2], W = xs[3], lo, hi;
    valid_range(j, W, wo, s, p, &lo, &hi);
    for (size_t n = 0; n < N; n++) {
        tn_real *img = x + (n * C + c) * H * W;
        for (size_t oh = 0; oh < ho; oh++, row += wo) {
            size_t h = oh * s + i; /* + pad */
            if (h < p || h - p >= H) {
                if (!acc)
                    memset(row, 0, wo * sizeof *row);
                continue;
            }
            tn_real *in = img + (h - p) * W + (lo * s + j - p); /* at ow = lo */
            if (acc) {
                for (size_t ow = lo; ow < hi; ow++)
                    in[(ow - lo) * s] += row[ow];
                continue;
            }
            for (size_t ow = 0; ow < lo; ow++)
                row[ow] = 0;
            if (s == 1)
                memcpy(row + lo, in, (hi - lo) * sizeof *row);
            else
                for (size_t ow = lo; ow < hi; ow++)
                    row[ow] = in[(ow - lo) * s];
            for (size_t ow = hi; ow < wo; ow++)
                row[ow] = 0;
        }
    }
}

tn_status tn_im2col(tn_tensor *cols, const tn_tensor *x, size_t kh, size_t kw,
                    size_t stride, size_t pad)
{
    size_t ho, wo;
    if (!cols_fit(cols, x, kh, kw, stride, pad, &ho, &wo))
        return TN_ESHAPE;
    size_t rows = cols->shape[0], len = cols->shape[1];
    /* rows are independent: split them over threads when the copy is big */
    if (cols->size >= TN_PAR_MIN) {
#pragma omp parallel for
        for (size_t r = 0; r < rows; r++)
            im2col_row(cols->data + r * len, x->data, x->shape, r / (kh * kw),
                       r / kw % kh, r % kw, ho, wo, stride, pad, 0);
    } else {
        for (size_t r = 0; r < rows; r++)
            im2col_row(cols->data + r * len, x->data, x->shape, r / (kh * kw),
                       r / kw % kh, r % kw, ho, wo, stride, pad, 0);
    }
    return TN_OK;
}

tn_status tn_col2im_acc(tn_tensor *x, const tn_tensor *cols, size_t kh,
                        size_t kw, size_t stride, size_t pad)
{
    size_t ho, wo;
    if (!cols_fit(cols, x, kh, kw, stride, pad, &ho, &wo))
        return TN_ESHAPE;
    size_t C = x->shape[1], len = cols->shape[1], kk = kh * kw;
    /* rows of one channel overlap in x, channels do not: threads per channel;
     * within a channel the rows are added in a fixed order */
    if (cols->size >= TN_PAR_MIN && C > 1) {
#pragma omp parallel for
        for (size_t c = 0; c < C; c++)
            for (size_t r = c * kk; r < (c + 1) * kk; r++)
                im2col_row(cols->data + r * len, x->data, x->shape, c,
                           r / kw % kh, r % kw, ho, wo, stride, pad, 1);
    } else {
        for (size_t r = 0; r < C * kk; r++)
            im2col_row(cols->data + r * len, x->data, x->shape, r / kk,
                       r / kw % kh, r % kw, ho, wo, stride, pad, 1);
    }
    return TN_OK;
}

/* Shapes shared by both references: x (N,C,H,W), y (N,F,Ho,Wo), b (F);
 * W is (F,C,kh,kw) for conv2d and (C,F,kh,kw) for the transpose. */
static int ref_fit(const tn_tensor *y, const tn_tensor *x, const tn_tensor *W,
                   const tn_tensor *b, int transpose)
{
    if (x->ndim != 4 || y->ndim != 4 || W->ndim != 4 || b->ndim != 1)
        return 0;
    size_t F = transpose ? W->shape[1] : W->shape[0];
    size_t C = transpose ? W->shape[0] : W->shape[1];
    return x->shape[0] == y->shape[0] && x->shape[1] == C &&
           y->shape[1] == F && b->shape[0] == F;
}

tn_status tn__conv2d_ref(tn_tensor *y, const tn_tensor *x, const tn_tensor *W,
                        const tn_tensor *b, size_t stride, size_t pad)
{
    if (!ref_fit(y, x, W, b, 0))
        return TN_ESHAPE;
    size_t N = x->shape[0], C = x->shape[1], H = x->shape[2], Wd = x->shape[3];
    size_t F = W->shape[0], kh = W->shape[2], kw = W->shape[3];
    size_t ho = y->shape[2], wo = y->shape[3];
    if (ho != tn_conv_out(H, kh, stride, pad) || wo != tn_conv_out(Wd, kw, stride, pad))
        return TN_ESHAPE;
    for (size_t n = 0; n < N; n++)
        for (size_t f = 0; f < F; f++)
            for (size_t oh = 0; oh < ho; oh++)
                for (size_t ow = 0; ow < wo; ow++) {
                    double s = b->data[f];
                    for (size_t c = 0; c < C; c++)
                        for (size_t i = 0; i < kh; i++)
                            for (size_t j = 0; j < kw; j++) {
                                long h = (long)(oh * stride + i) - (long)pad;
                                long w = (long)(ow * stride + j) - (long)pad;
                                if (h < 0 || w < 0 || h >= (long)H || w >= (long)Wd)
                                    continue;
                                s += (double)x->data[((n * C + c) * H + (size_t)h) * Wd + (size_t)w] *
                                     W->data[((f * C + c) * kh + i) * kw + j];
                            }
                    y->data[((n * F + f) * ho + oh) * wo + ow] = (tn_real)s;
                }
    return TN_OK;
}

tn_status tn__conv_transpose2d_ref(tn_tensor *y, const tn_tensor *x,
                                  const tn_tensor *W, const tn_tensor *b,
                                  size_t stride, size_t pad)
{
    if (!ref_fit(y, x, W, b, 1))
        return TN_ESHAPE;
    size_t N = x->shape[0], C = x->shape[1], H = x->shape[2], Wd = x->shape[3];
    size_t F = W->shape[1], kh = W->shape[2], kw = W->shape[3];
    size_t ho = y->shape[2], wo = y->shape[3];
    /* y is the shape of a conv2d input that gives x: check it that way */
    if (tn_conv_out(ho, kh, stride, pad) != H || tn_conv_out(wo, kw, stride, pad) != Wd)
        return TN_ESHAPE;
    for (size_t n = 0; n < N; n++)
        for (size_t f = 0; f < F; f++)
            for (size_t i = 0; i < ho * wo; i++)
                y->data[(n * F + f) * ho * wo + i] = b->data[f];
    /* every input pixel spreads its kernel-weighted value over the output */
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t h = 0; h < H; h++)
                for (size_t w = 0; w < Wd; w++) {
                    tn_real v = x->data[((n * C + c) * H + h) * Wd + w];
                    for (size_t f = 0; f < F; f++)
                        for (size_t i = 0; i < kh; i++)
                            for (size_t j = 0; j < kw; j++) {
                                long oh = (long)(h * stride + i) - (long)pad;
                                long ow = (long)(w * stride + j) - (long)pad;
                                if (oh < 0 || ow < 0 || oh >= (long)ho || ow >= (long)wo)
                                    continue;
                                y->data[((n * F + f) * ho + (size_t)oh) * wo + (size_t)ow] +=
                                    v * W->data[((c * F + f) * kh + i) * kw + j];
                            }
                }
    return TN_OK;
}
