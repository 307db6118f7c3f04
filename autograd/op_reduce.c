/* op_reduce.c: sum and mean over all elements or over one axis (the axis is
 * removed from the shape, or kept with length 1), max and logsumexp over an
 * axis. g is the gradient arriving at the output. */
#include "ad_internal.h"

#include <string.h>
#include <tgmath.h>

#include "tn_math.h"
#include "tn_parallel.h"

static const char *scalar_shape(ad_var *v)
{
    v->val.ndim = 0;
    return NULL;
}

/* a mean needs something to average */
static const char *mean_shape(ad_var *v)
{
    return v->in[0]->val.size ? scalar_shape(v) : "the mean of no elements";
}

/* y = Σ x */
static void sum_forward(ad_var *v) { v->val.data[0] = (tn_real)tn_sum_all(&v->in[0]->val); }
/* dx = g (every element): written whole when x has no gradient yet */
static void sum_backward(ad_var *v)
{
    int fresh;
    tn_tensor *dx = ad__grad_out(v->in[0], &fresh);
    if (dx && fresh)
        tn_fill(dx, v->grad->data[0]);
    else if (dx)
        tn_affine(dx, dx, 1, v->grad->data[0]);
}
const ad_op_def ad__op_sum = {"sum", 1, scalar_shape, sum_forward, sum_backward};

/* y = Σ x / n */
static void mean_forward(ad_var *v) { v->val.data[0] = (tn_real)tn_mean_all(&v->in[0]->val); }
/* dx = g / n */
static void mean_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (dx && dx->size)
        tn_affine(dx, dx, 1, v->grad->data[0] / (tn_real)dx->size);
}
const ad_op_def ad__op_mean = {"mean", 1, mean_shape, mean_forward, mean_backward};

/* Output: x's shape without axis i[0] (resolved here, kept in i[0]), or
 * with it at length 1 when i[1] (keepdim) is set. Either way the output's
 * elements are laid out as (outer, inner). */
static const char *axis_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    int ax = tn_axis(x, (int)v->attr.i[0]);
    if (ax < 0)
        return "axis out of range";
    if (x->shape[ax] == 0 && (v->op == AD_OP_MAX_AXIS || v->op == AD_OP_LOGSUMEXP))
        return "the axis is empty";
    v->attr.i[0] = ax;
    v->val.ndim = v->attr.i[1] ? x->ndim : x->ndim - 1;
    for (int i = 0, o = 0; i < x->ndim; i++)
        if (i != ax)
            v->val.shape[o++] = x->shape[i];
        else if (v->attr.i[1])
            v->val.shape[o++] = 1;
    return NULL;
}

/* dx[o, l, j] += scale · g[o, j], with x viewed as (outer, len, inner)
 * (written, not added, when dx is fresh: no zeroing first). Each (o, l)
 * is its own run of dx: split over threads when large. */
static void axis_backward(ad_var *v, int mean)
{
    int fresh;
    tn_tensor *dx = ad__grad_out(v->in[0], &fresh);
    if (!dx)
        return;
    int ax = (int)v->attr.i[0];
    size_t outer, inner, len;
    ad__axis_split(dx, ax, &outer, &len, &inner);
    tn_real scale = mean && len ? (tn_real)1 / (tn_real)len : 1;
    tn_real *dd = dx->data;
    const tn_real *gd = v->grad->data;
    if (inner == 1) /* the last axis (a row's log-density summed): along the row */
        TN_FOR_WORK(o, outer, outer * len, {
            tn_real *d = dd + o * len, s = scale * gd[o];
            if (fresh)
                for (size_t l = 0; l < len; l++)
                    d[l] = s;
            else
                for (size_t l = 0; l < len; l++)
                    d[l] += s;
        });
    else
        TN_FOR_WORK(r, outer * len, outer * len * inner, {
            tn_real *d = dd + r * inner;
            const tn_real *g = gd + r / len * inner;
            if (fresh)
                for (size_t j = 0; j < inner; j++)
                    d[j] = scale * g[j];
            else
                for (size_t j = 0; j < inner; j++)
                    d[j] += scale * g[j];
        });
}

/* The output seen without the reduced axis, as tn_sum_axis expects it. */
static tn_tensor dropped(const ad_var *v)
{
    tn_tensor o = v->val;
    int ax = (int)v->attr.i[0];
    if (v->attr.i[1]) {
        o.ndim--;
        memmove(o.shape + ax, o.shape + ax + 1, (size_t)(o.ndim - ax) * sizeof o.shape[0]);
    }
    return o;
}

/* y = Σ_axis x;  dx = g broadcast along the axis */
static void sum_axis_forward(ad_var *v)
{
    tn_tensor o = dropped(v);
    tn_sum_axis(&o, &v->in[0]->val, (int)v->attr.i[0]);
}
static void sum_axis_backward(ad_var *v) { axis_backward(v, 0); }
const ad_op_def ad__op_sum_axis = {"sum_axis", 1, axis_shape, sum_axis_forward, sum_axis_backward};

/* y = mean_axis x;  dx = g / len broadcast along the axis */
static void mean_axis_forward(ad_var *v)
{
    tn_tensor o = dropped(v);
    tn_mean_axis(&o, &v->in[0]->val, (int)v->attr.i[0]);
}
static void mean_axis_backward(ad_var *v) { axis_backward(v, 1); }
const ad_op_def ad__op_mean_axis = {"mean_axis", 1, axis_shape, mean_axis_forward, mean_axis_backward};

/* y = max_axis x; dx = g to the maximum, split evenly among ties (as
 * torch.amax does) */
static void max_axis_forward(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    size_t outer, len, inner;
    ad__axis_split(x, (int)v->attr.i[0], &outer, &len, &inner);
    /* rows o are independent: threads when the work is large */
    TN_FOR_WORK(o, outer, outer * len * inner,
        for (size_t j = 0; j < inner; j++) {
            const tn_real *p = x->data + o * len * inner + j;
            tn_real m = p[0];
            for (size_t l = 1; l < len; l++)
                if (p[l * inner] > m || p[l * inner] != p[l * inner])
                    m = p[l * inner]; /* NaN wins */
            v->val.data[o * inner + j] = m;
        });
}
static void max_axis_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    const tn_tensor *x = &v->in[0]->val;
    size_t outer, len, inner;
    ad__axis_split(x, (int)v->attr.i[0], &outer, &len, &inner);
    /* rows o are independent: threads when the work is large */
    TN_FOR_WORK(o, outer, outer * len * inner,
        for (size_t j = 0; j < inner; j++) {
            const tn_real *p = x->data + o * len * inner + j;
            tn_real m = v->val.data[o * inner + j], ties = 0;
            for (size_t l = 0; l < len; l++)
                ties += p[l * inner] == m;
            if (ties == 0)
                continue; /* NaN */
            tn_real share = v->grad->data[o * inner + j] / ties;
            for (size_t l = 0; l < len; l++)
                if (p[l * inner] == m)
                    dx->data[o * len * inner + l * inner + j] += share;
        });
}
const ad_op_def ad__op_max_axis = {"max_axis", 1, axis_shape, max_axis_forward, max_axis_backward};

/* y = m + log Σ_axis e^(x - m), m = max_axis x (stable for any finite x;
 * a row of -inf gives -inf) */
static inline tn_real lse(const tn_real *p, size_t len, size_t stride)
{
    tn_real m = p[0];
    for (size_t l = 1; l < len; l++)
        m = p[l * stride] > m ? p[l * stride] : m;
    if (!isfinite(m))
        return m;
    double s = 0;
    for (size_t l = 0; l < len; l++)
        s += exp(p[l * stride] - m);
    return m + (tn_real)log(s);
}
/* lse of a contiguous row, vectorized (TN_CLONES; tn_math.h's row
 * helpers: within a few ulp of libm's in the float build) */
TN_CLONES static tn_real lse_row(const tn_real *restrict p, size_t len)
{
    tn_real m = tn_max8(p, len);
    return isfinite(m) ? m + (tn_real)log(tn_sum_exp8(p, m, len)) : m;
}
static void logsumexp_forward(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    size_t outer, len, inner;
    ad__axis_split(x, (int)v->attr.i[0], &outer, &len, &inner);
    /* rows o are independent: threads when the work is large; the last
     * axis (stride 1) gets its own contiguous loop */
    TN_FOR_WORK(o, outer, outer * len * inner,
        for (size_t j = 0; j < inner; j++) {
            const tn_real *p = x->data + o * len * inner + j;
            v->val.data[o * inner + j] = inner == 1 ? lse_row(p, len) : lse(p, len, inner);
        });
}
/* d += g e^(x - y) of a contiguous row (x <= y) */
TN_CLONES static void lse_row_backward(tn_real *restrict d, const tn_real *restrict x, tn_real y, tn_real g,
                                       size_t len)
{
    for (size_t l = 0; l < len; l++)
        d[l] += g * tn_exp_le0(x[l] - y);
}
/* dx = g ⊙ e^(x - y) (the softmax along the axis) */
static void logsumexp_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    const tn_tensor *x = &v->in[0]->val;
    size_t outer, len, inner;
    ad__axis_split(x, (int)v->attr.i[0], &outer, &len, &inner);
    /* rows o are independent: threads when the work is large */
    TN_FOR_WORK(o, outer, outer * len * inner,
        for (size_t j = 0; j < inner; j++) {
            tn_real y = v->val.data[o * inner + j], g = v->grad->data[o * inner + j];
            if (!isfinite(y))
                continue; /* all -inf: no element moves the value */
            if (inner == 1) {
                lse_row_backward(dx->data + o * len, x->data + o * len, y, g, len);
                continue;
            }
            for (size_t l = 0; l < len; l++) {
                size_t k = o * len * inner + l * inner + j;
                dx->data[k] += g * exp(x->data[k] - y);
            }
        });
}
const ad_op_def ad__op_logsumexp = {"logsumexp", 1, axis_shape, logsumexp_forward, logsumexp_backward};

static ad_var *axis_op(ad_op_id op, ad_var *x, int axis, int keep)
{
    ad_attr at = {.i = {axis, keep != 0}};
    return ad__record(op, x, NULL, NULL, &at);
}

ad_var *ad_sum_axis_keep(ad_var *x, int axis) { return axis_op(AD_OP_SUM_AXIS, x, axis, 1); }
ad_var *ad_mean_axis_keep(ad_var *x, int axis) { return axis_op(AD_OP_MEAN_AXIS, x, axis, 1); }
ad_var *ad_max_axis(ad_var *x, int axis, int keepdim) { return axis_op(AD_OP_MAX_AXIS, x, axis, keepdim); }
ad_var *ad_logsumexp(ad_var *x, int axis, int keepdim) { return axis_op(AD_OP_LOGSUMEXP, x, axis, keepdim); }

ad_var *ad_sum(ad_var *x) { return ad__record(AD_OP_SUM, x, NULL, NULL, NULL); }
ad_var *ad_mean(ad_var *x) { return ad__record(AD_OP_MEAN, x, NULL, NULL, NULL); }

ad_var *ad_sum_axis(ad_var *x, int axis)
{
    ad_attr at = {.i = {axis, 0}};
    return ad__record(AD_OP_SUM_AXIS, x, NULL, NULL, &at);
}

ad_var *ad_mean_axis(ad_var *x, int axis)
{
    ad_attr at = {.i = {axis, 0}};
    return ad__record(AD_OP_MEAN_AXIS, x, NULL, NULL, &at);
}

/* ---- arg-max and arg-min: indices, no gradient ----------------------------- */

/* The index of the extreme along axis for each (outer, inner) position,
 * first on ties, in the tape's arena. sign 1: max, -1: min. */
static const int *arg_extreme(ad_var *x, int axis, int sign, const char *name)
{
    if (!x)
        return NULL;
    const tn_tensor *v = &x->val;
    char s[64];
    int ax = tn_axis(v, axis);
    if (ax < 0 || v->shape[ax] == 0) {
        ad_tape_fail(x->tape, "%s: (%s): axis %d %s", name, tn_shape_str(v, s, sizeof s), axis,
                     ax < 0 ? "out of range" : "is empty");
        return NULL;
    }
    size_t len = v->shape[ax], inner = 1;
    for (int i = ax + 1; i < v->ndim; i++)
        inner *= v->shape[i];
    size_t outer = v->size / (len * inner);
    size_t count = outer * inner;
    int *out = tn_arena_alloc(ad_tape_arena(x->tape), (count ? count : 1) * sizeof *out);
    if (!out) {
        ad_tape_fail(x->tape, "%s: out of memory", name);
        return NULL;
    }
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < inner; j++) {
            const tn_real *p = v->data + o * len * inner + j;
            size_t best = 0;
            for (size_t l = 1; l < len; l++)
                if (sign > 0 ? p[l * inner] > p[best * inner] : p[l * inner] < p[best * inner])
                    best = l;
            out[o * inner + j] = (int)best;
        }
    return ad__frozen_indices(x->tape, out, count);
}

const int *ad_argmax(ad_var *x, int axis) { return arg_extreme(x, axis, 1, "argmax"); }
const int *ad_argmin(ad_var *x, int axis) { return arg_extreme(x, axis, -1, "argmin"); }
