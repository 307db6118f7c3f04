/* elementwise.c: binary ops with numpy broadcasting, the reduction that undoes
 * a broadcast, unary maps (stable sigmoid and softplus), affine maps and
 * reductions over everything or one axis. */
#include "tn.h"

#include <tgmath.h>

#include "tn_math.h"
#include "tn_parallel.h"

tn_status tn_broadcast_shape(const tn_tensor *a, const tn_tensor *b,
                             int *ndim, size_t *shape)
{
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        /* i counts from the last axis */
        size_t da = i < a->ndim ? a->shape[a->ndim - 1 - i] : 1;
        size_t db = i < b->ndim ? b->shape[b->ndim - 1 - i] : 1;
        if (da != db && da != 1 && db != 1)
            return TN_ESHAPE;
        shape[n - 1 - i] = da == 1 ? db : da;
    }
    *ndim = n;
    return TN_OK;
}

/* Strides (in elements) of x seen in a TN_MAX_DIMS-d frame shaped like out:
 * 0 along axes where x is broadcast. */
static void frame_strides(const tn_tensor *x, const tn_tensor *out,
                          size_t *st)
{
    size_t s = 1;
    for (int i = TN_MAX_DIMS - 1; i >= 0; i--) {
        int xi = i - (TN_MAX_DIMS - x->ndim);
        size_t d = xi >= 0 ? x->shape[xi] : 1;
        int oi = i - (TN_MAX_DIMS - out->ndim);
        size_t od = oi >= 0 ? out->shape[oi] : 1;
        st[i] = (d == od && d != 1) ? s : 0;
        s *= d;
    }
}

static void frame_shape(const tn_tensor *out, size_t *sh)
{
    for (int i = 0; i < TN_MAX_DIMS; i++) {
        int oi = i - (TN_MAX_DIMS - out->ndim);
        sh[i] = oi >= 0 ? out->shape[oi] : 1;
    }
}

static int out_is_broadcast(const tn_tensor *out, const tn_tensor *a,
                            const tn_tensor *b)
{
    int nd;
    size_t sh[TN_MAX_DIMS];
    if (tn_broadcast_shape(a, b, &nd, sh) != TN_OK || nd != out->ndim)
        return 0;
    for (int i = 0; i < nd; i++)
        if (sh[i] != out->shape[i])
            return 0;
    return 1;
}

/* One binary op: a flat loop when shapes agree, a strided 4-d walk else. */
#define BINARY_OP(name, expr)                                                 \
    tn_status name(tn_tensor *out, const tn_tensor *a, const tn_tensor *b)   \
    {                                                                         \
        if (!out_is_broadcast(out, a, b))                                     \
            return TN_ESHAPE;                                                 \
        tn_real *o = out->data;                                               \
        const tn_real *pa = a->data, *pb = b->data;                           \
        if (a->size == out->size && b->size == out->size) {                   \
            TN_FOR(i, out->size, tn_real x = pa[i], y = pb[i];                \
                   o[i] = (expr););                                           \
            return TN_OK;                                                     \
        }                                                                     \
        size_t sa[TN_MAX_DIMS], sb[TN_MAX_DIMS], sh[TN_MAX_DIMS];             \
        frame_strides(a, out, sa);                                            \
        frame_strides(b, out, sb);                                            \
        frame_shape(out, sh);                                                 \
        for (size_t i0 = 0; i0 < sh[0]; i0++)                                 \
            for (size_t i1 = 0; i1 < sh[1]; i1++)                             \
                for (size_t i2 = 0; i2 < sh[2]; i2++) {                       \
                    const tn_real *ra = pa + i0 * sa[0] + i1 * sa[1] + i2 * sa[2]; \
                    const tn_real *rb = pb + i0 * sb[0] + i1 * sb[1] + i2 * sb[2]; \
                    for (size_t i3 = 0; i3 < sh[3]; i3++) {                   \
                        tn_real x = ra[i3 * sa[3]], y = rb[i3 * sb[3]];       \
                        *o++ = (expr);                                        \
                    }                                                         \
                }                                                             \
        return TN_OK;                                                         \
    }

BINARY_OP(tn_add, x + y)
BINARY_OP(tn_sub, x - y)
BINARY_OP(tn_mul, x * y)
BINARY_OP(tn_div, x / y)

tn_status tn_sum_to_acc(tn_tensor *out, const tn_tensor *in, tn_real alpha)
{
    if (!out_is_broadcast(in, out, in))
        return TN_ESHAPE;
    if (out->size == in->size) {
        for (size_t i = 0; i < in->size; i++)
            out->data[i] += alpha * in->data[i];
        return TN_OK;
    }
    size_t so[TN_MAX_DIMS], sh[TN_MAX_DIMS];
    frame_strides(out, in, so);
    frame_shape(in, sh);
    const tn_real *p = in->data;
    for (size_t i0 = 0; i0 < sh[0]; i0++)
        for (size_t i1 = 0; i1 < sh[1]; i1++)
            for (size_t i2 = 0; i2 < sh[2]; i2++) {
                tn_real *r = out->data + i0 * so[0] + i1 * so[1] + i2 * so[2];
                for (size_t i3 = 0; i3 < sh[3]; i3++)
                    r[i3 * so[3]] += alpha * *p++;
            }
    return TN_OK;
}

/* ---- unary ---------------------------------------------------------------- */

/* In float, the vectorized formulas of tn_math.h (within 4.1 and 5.1 ulp; the unary
 * loops and the softplus backward go through these, so scalar and loop give
 * the same bits); in double, libm, which the gradient checks compare
 * against. */
tn_real tn_sigmoid1(tn_real x)
{
#ifdef TN_REAL_DOUBLE
    /* exp of a non-positive number never overflows */
    if (x >= 0)
        return 1 / (1 + exp(-x));
    tn_real e = exp(x);
    return e / (1 + e);
#else
    return tn_sigmoid_f(x);
#endif
}

tn_real tn_softplus1(tn_real x)
{
#ifdef TN_REAL_DOUBLE
    /* log(1 + e^x) = max(x, 0) + log1p(e^-|x|) */
    return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
#else
    return tn_softplus_f(x);
#endif
}

#define UNARY_LOOP(expr)                                                    \
    for (size_t i = 0; i < n; i++) {                                        \
        tn_real v = in[i];                                                  \
        o[i] = (expr);                                                      \
    }                                                                       \
    break;

/* o[0..n) = f(in[0..n)) (o may be in). TN_CLONES: the transcendental ones
 * are arithmetic-bound, so wider lanes pay (docs/results.md has the
 * measurements), and every version gives the same bits (see tn_math.h) */
TN_CLONES static void unary_run(tn_unary_op op, const tn_real *in, tn_real *o, size_t n)
{
    switch (op) {
    case TN_EXP: UNARY_LOOP(exp(v))
    case TN_LOG: UNARY_LOOP(log(v))
    case TN_SQRT: UNARY_LOOP(sqrt(v))
    case TN_SQUARE: UNARY_LOOP(v * v)
    case TN_NEG: UNARY_LOOP(-v)
    case TN_ABS: UNARY_LOOP(fabs(v))
    case TN_RELU: UNARY_LOOP(v > 0 ? v : 0)
#ifdef TN_REAL_DOUBLE
    case TN_SIGMOID: UNARY_LOOP(tn_sigmoid1(v))
    case TN_SOFTPLUS: UNARY_LOOP(tn_softplus1(v))
    case TN_TANH: UNARY_LOOP(tanh(v))
#else
    case TN_SIGMOID: UNARY_LOOP(tn_sigmoid_f(v))   /* vectorized, 4.1 ulp */
    case TN_SOFTPLUS: UNARY_LOOP(tn_softplus_f(v)) /* vectorized, 5.1 ulp */
    case TN_TANH: UNARY_LOOP(tn_tanh_f(v))         /* vectorized, 3 ulp */
#endif
    }
}
#undef UNARY_LOOP

tn_status tn_unary(tn_tensor *out, const tn_tensor *x, tn_unary_op op)
{
    if (out->size != x->size)
        return TN_ESHAPE;
    if ((unsigned)op > TN_TANH)
        return TN_EARG;
    TN_PARTS(x->size, lo, hi, unary_run(op, x->data + lo, out->data + lo, hi - lo));
    return TN_OK;
}

tn_status tn_exp(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_EXP); }
tn_status tn_log(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_LOG); }
tn_status tn_sqrt(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_SQRT); }
tn_status tn_square(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_SQUARE); }
tn_status tn_neg(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_NEG); }
tn_status tn_abs(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_ABS); }
tn_status tn_relu(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_RELU); }
tn_status tn_sigmoid(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_SIGMOID); }
tn_status tn_softplus(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_SOFTPLUS); }
tn_status tn_tanh(tn_tensor *o, const tn_tensor *x) { return tn_unary(o, x, TN_TANH); }

tn_status tn_affine(tn_tensor *out, const tn_tensor *x, tn_real a, tn_real b)
{
    if (out->size != x->size)
        return TN_ESHAPE;
    size_t n = x->size;
    const tn_real *in = x->data;
    tn_real *o = out->data;
    TN_FOR(i, n, o[i] = a * in[i] + b;);
    return TN_OK;
}

tn_status tn_axpy(tn_tensor *y, tn_real a, const tn_tensor *x)
{
    if (y->size != x->size)
        return TN_ESHAPE;
    for (size_t i = 0; i < x->size; i++)
        y->data[i] += a * x->data[i];
    return TN_OK;
}

/* ---- reductions --------------------------------------------------------------- */

/* Σ x[lo..hi) over eight running sums in double (tn_sum8d): the adds
 * overlap instead of each waiting for the last */
TN_CLONES static double block_sum(const tn_real *x, size_t lo, size_t hi) { return tn_sum8d(x + lo, hi - lo); }

/* The sum in blocks whose size depends on the tensor's alone (at least
 * 16384 elements, at most 256 blocks), each block over eight running sums,
 * the blocks' sums added in order: blocks over threads when long, and the
 * same bits on every thread count and CPU */
double tn_sum_all(const tn_tensor *x)
{
    enum { MAX_BLOCKS = 256, MIN_BLOCK = 16384 };
    size_t n = x->size, block = (n + MAX_BLOCKS - 1) / MAX_BLOCKS;
    block = block < MIN_BLOCK ? MIN_BLOCK : block;
    size_t nb = n ? (n + block - 1) / block : 0;
    double part[MAX_BLOCKS], s = 0;
    const tn_real *d = x->data;
    TN_FOR_WORK(b, nb, n, part[b] = block_sum(d, b * block, (b + 1) * block < n ? (b + 1) * block : n););
    for (size_t b = 0; b < nb; b++)
        s += part[b];
    return s;
}

double tn_mean_all(const tn_tensor *x)
{
    return x->size ? tn_sum_all(x) / (double)x->size : 0;
}

int tn_axis(const tn_tensor *x, int axis)
{
    if (axis < 0)
        axis += x->ndim;
    return axis >= 0 && axis < x->ndim ? axis : -1;
}

/* x viewed as (outer, len, inner) around `axis`; out is (outer, inner). */
static tn_status reduce_axis(tn_tensor *out, const tn_tensor *x, int axis,
                             int mean)
{
    int ax = tn_axis(x, axis);
    if (ax < 0)
        return TN_EARG;
    if (out->ndim != x->ndim - 1)
        return TN_ESHAPE;
    size_t outer = 1, inner = 1, len = x->shape[ax];
    for (int i = 0; i < x->ndim; i++) {
        if (i == ax)
            continue;
        if (out->shape[i < ax ? i : i - 1] != x->shape[i])
            return TN_ESHAPE;
        if (i < ax)
            outer *= x->shape[i];
        else
            inner *= x->shape[i];
    }
    tn_real scale = mean && len ? (tn_real)1 / (tn_real)len : 1;
    if (inner == 1) { /* the last axis: each row by tn_sum8, which vectorizes */
        for (size_t o = 0; o < outer; o++)
            out->data[o] = tn_sum8(x->data + o * len, len) * scale;
        return TN_OK;
    }
    for (size_t o = 0; o < outer; o++) {
        tn_real *dst = out->data + o * inner;
        for (size_t j = 0; j < inner; j++)
            dst[j] = 0;
        for (size_t l = 0; l < len; l++) {
            const tn_real *src = x->data + (o * len + l) * inner;
            for (size_t j = 0; j < inner; j++)
                dst[j] += src[j];
        }
        for (size_t j = 0; j < inner; j++)
            dst[j] *= scale;
    }
    return TN_OK;
}

tn_status tn_sum_axis(tn_tensor *out, const tn_tensor *x, int axis)
{
    return reduce_axis(out, x, axis, 0);
}

tn_status tn_mean_axis(tn_tensor *out, const tn_tensor *x, int axis)
{
    return reduce_axis(out, x, axis, 1);
}

tn_status tn_expand(tn_tensor *out, const tn_tensor *x)
{
    if (!out_is_broadcast(out, x, out))
        return TN_ESHAPE;
    if (x->size == out->size) {
        for (size_t i = 0; i < x->size; i++)
            out->data[i] = x->data[i];
        return TN_OK;
    }
    size_t sx[TN_MAX_DIMS], sh[TN_MAX_DIMS];
    frame_strides(x, out, sx);
    frame_shape(out, sh);
    tn_real *o = out->data;
    for (size_t i0 = 0; i0 < sh[0]; i0++)
        for (size_t i1 = 0; i1 < sh[1]; i1++)
            for (size_t i2 = 0; i2 < sh[2]; i2++) {
                const tn_real *r = x->data + i0 * sx[0] + i1 * sx[1] + i2 * sx[2];
                for (size_t i3 = 0; i3 < sh[3]; i3++)
                    *o++ = r[i3 * sx[3]];
            }
    return TN_OK;
}
