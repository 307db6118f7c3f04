/* op_reduce.c: sum and mean over all elements or over one axis (the axis is
 * removed from the shape). g is the gradient arriving at the output. */
#include "ad_internal.h"

#include <string.h>

static const char *scalar_shape(ad_var *v)
{
    v->val.ndim = 0;
    return NULL;
}

/* y = Σ x */
static void sum_forward(ad_var *v) { v->val.data[0] = (tn_real)tn_sum_all(&v->in[0]->val); }
/* dx = g (every element) */
static void sum_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (dx)
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
const ad_op_def ad__op_mean = {"mean", 1, scalar_shape, mean_forward, mean_backward};

/* Output: x's shape without axis i[0] (resolved here, kept in i[0]). */
static const char *axis_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    int ax = tn_axis(x, (int)v->attr.i[0]);
    if (ax < 0)
        return "axis out of range";
    v->attr.i[0] = ax;
    v->val.ndim = x->ndim - 1;
    for (int i = 0, o = 0; i < x->ndim; i++)
        if (i != ax)
            v->val.shape[o++] = x->shape[i];
    return NULL;
}

/* dx[o, l, j] += scale · g[o, j], with x viewed as (outer, len, inner). */
static void axis_backward(ad_var *v, int mean)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    int ax = (int)v->attr.i[0];
    size_t outer = 1, inner = 1, len = dx->shape[ax];
    for (int i = 0; i < ax; i++)
        outer *= dx->shape[i];
    for (int i = ax + 1; i < dx->ndim; i++)
        inner *= dx->shape[i];
    tn_real scale = mean && len ? (tn_real)1 / (tn_real)len : 1;
    for (size_t o = 0; o < outer; o++)
        for (size_t l = 0; l < len; l++) {
            tn_real *d = dx->data + (o * len + l) * inner;
            const tn_real *g = v->grad->data + o * inner;
            for (size_t j = 0; j < inner; j++)
                d[j] += scale * g[j];
        }
}

/* y = Σ_axis x;  dx = g broadcast along the axis */
static void sum_axis_forward(ad_var *v) { tn_sum_axis(&v->val, &v->in[0]->val, (int)v->attr.i[0]); }
static void sum_axis_backward(ad_var *v) { axis_backward(v, 0); }
const ad_op_def ad__op_sum_axis = {"sum_axis", 1, axis_shape, sum_axis_forward, sum_axis_backward};

/* y = mean_axis x;  dx = g / len broadcast along the axis */
static void mean_axis_forward(ad_var *v) { tn_mean_axis(&v->val, &v->in[0]->val, (int)v->attr.i[0]); }
static void mean_axis_backward(ad_var *v) { axis_backward(v, 1); }
const ad_op_def ad__op_mean_axis = {"mean_axis", 1, axis_shape, mean_axis_forward, mean_axis_backward};

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
