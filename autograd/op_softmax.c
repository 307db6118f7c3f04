/* op_softmax.c: the ops over the last axis of logits: softmax, log-softmax,
 * the KL of a categorical to the uniform prior and the Gumbel-softmax
 * sample. Each is one fused node, stable for any finite logits (the row's
 * maximum is subtracted before exp). x is viewed as (rows, K). At the end,
 * the family over any axis, log-mean-exp, cross-entropy with integer labels
 * and the Gumbel-softmax of given noise, composed from tested ops. */
#include "ad_internal.h"

#include <tgmath.h>

#include "tn_math.h"
#include "tn_parallel.h"

static void rows_of(const tn_tensor *x, size_t *rows, size_t *K)
{
    *K = x->shape[x->ndim - 1];
    *rows = *K ? x->size / *K : 0;
}

static const char *last_axis_shape(ad_var *v)
{
    const tn_tensor *x = &v->in[0]->val;
    if (x->ndim < 1 || x->shape[x->ndim - 1] == 0)
        return "needs a non-empty last axis";
    return ad__shape_same(v);
}

/* The rows below are vectorized (TN_CLONES; e^ by tn_exp_le0, sums over
 * eight running sums, tn_math.h): the float build's values are within a few
 * ulp of libm's, the same on every CPU and thread count. */

/* out = log_softmax(x) of one row of K: x - m - log Σ e^(x - m) */
TN_CLONES static void log_softmax_row(tn_real *out, const tn_real *x, size_t K) /* out may be x */
{
    tn_real m = tn_max8(x, K);
    tn_real lse = m + (tn_real)log(tn_sum_exp8(x, m, K));
    for (size_t k = 0; k < K; k++)
        out[k] = x[k] - lse;
}

/* out = softmax(x) of one row: e^(x - m) / Σ e^(x - m), one exp each */
TN_CLONES static void softmax_row(tn_real *restrict out, const tn_real *restrict x, size_t K)
{
    tn_real m = tn_max8(x, K);
    for (size_t k = 0; k < K; k++)
        out[k] = tn_exp_le0(x[k] - m);
    tn_real inv = (tn_real)(1 / tn_sum8d(out, K));
    for (size_t k = 0; k < K; k++)
        out[k] *= inv;
}

/* y = e^x / Σ e^x along the last axis */
static void softmax_forward(ad_var *v)
{
    size_t rows, K;
    rows_of(&v->val, &rows, &K);
    TN_FOR_WORK(r, rows, rows * K,
                softmax_row(v->val.data + r * K, v->in[0]->val.data + r * K, K););
}
/* d += scale · y ⊙ (g - Σ_k g_k y_k) of one row (d = ... when fresh: d
 * holds no gradient yet), the sum in double (tn_dot8d) */
TN_CLONES static void jvp_row(tn_real *restrict d, const tn_real *restrict y, const tn_real *restrict g, size_t K,
                              tn_real scale, int fresh)
{
    tn_real s = (tn_real)tn_dot8d(g, y, K);
    size_t k;
    if (fresh)
        for (k = 0; k < K; k++)
            d[k] = scale * y[k] * (g[k] - s);
    else
        for (k = 0; k < K; k++)
            d[k] += scale * y[k] * (g[k] - s);
}
/* x's gradient += scale · y ⊙ (g - Σ_k g_k y_k), row by row: the
 * softmax's Jacobian applied to g, for softmax (scale 1) and
 * Gumbel-softmax (scale 1/τ); written whole when x has none yet (no
 * zeroing pass) */
static void softmax_jvp_acc(ad_var *x, const tn_real *Y, const tn_real *G, size_t rows, size_t K, tn_real scale)
{
    int fresh;
    tn_tensor *dx = ad__grad_out(x, &fresh);
    if (!dx)
        return;
    TN_FOR_WORK(r, rows, rows * K,
        jvp_row(dx->data + r * K, Y + r * K, G + r * K, K, scale, fresh););
}
/* dx = y ⊙ (g - Σ_k g_k y_k) */
static void softmax_backward(ad_var *v)
{
    size_t rows, K;
    rows_of(&v->val, &rows, &K);
    softmax_jvp_acc(v->in[0], v->val.data, v->grad->data, rows, K, 1);
}
const ad_op_def ad__op_softmax = {"softmax", 1, last_axis_shape, softmax_forward, softmax_backward};

/* y = x - logsumexp(x) along the last axis */
/* out = log_softmax(x) and p = softmax(x) of one row, each e^(x - m) taken
 * once, into p: out is log_softmax_row's to the bit (the same sum) */
TN_CLONES static void log_softmax_p_row(tn_real *restrict out, tn_real *restrict p, const tn_real *restrict x,
                                        size_t K)
{
    tn_real m = tn_max8(x, K);
    for (size_t k = 0; k < K; k++)
        p[k] = tn_exp_le0(x[k] - m);
    double sum = tn_sum8d(p, K);
    tn_real lse = m + (tn_real)log(sum), inv = (tn_real)(1 / sum);
    for (size_t k = 0; k < K; k++) {
        out[k] = x[k] - lse;
        p[k] *= inv;
    }
}
/* y = x - logsumexp(x); with a backward to come, softmax(x) is kept for it
 * (v->saved), so that backward takes no e^ */
static void log_softmax_forward(ad_var *v)
{
    size_t rows, K;
    rows_of(&v->val, &rows, &K);
    const tn_real *x = v->in[0]->val.data;
    tn_real *y = v->val.data, *p = NULL;
    if (ad_grad_enabled(v->tape) && v->in[0]->requires_grad) {
        if (!(v->saved = ad__scratch(v->tape, &v->val)))
            return;
        p = v->saved->data;
    }
    if (p)
        TN_FOR_WORK(r, rows, rows * K, log_softmax_p_row(y + r * K, p + r * K, x + r * K, K););
    else
        TN_FOR_WORK(r, rows, rows * K, log_softmax_row(y + r * K, x + r * K, K););
}
/* d += g - p Σ_k g_k of one row, p = softmax(x) */
TN_CLONES static void log_softmax_row_backward(tn_real *restrict d, const tn_real *restrict p,
                                               const tn_real *restrict g, size_t K)
{
    tn_real s = (tn_real)tn_sum8d(g, K);
    for (size_t k = 0; k < K; k++)
        d[k] += g[k] - p[k] * s;
}
/* dx = g - softmax(x) Σ_k g_k */
static void log_softmax_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx || !v->saved)
        return;
    size_t rows, K;
    rows_of(&v->val, &rows, &K);
    TN_FOR_WORK(r, rows, rows * K,
                log_softmax_row_backward(dx->data + r * K, v->saved->data + r * K, v->grad->data + r * K, K););
}
const ad_op_def ad__op_log_softmax = {"log_softmax", 1, last_axis_shape, log_softmax_forward, log_softmax_backward};

/* Output: x's shape without the last axis (one KL per row). */
static const char *row_shape(ad_var *v)
{
    const char *why = last_axis_shape(v);
    if (!why)
        v->val.ndim--;
    return why;
}

/* y = KL(q || U(K)) = Σ_k q_k (log q_k + log K), q = softmax(x); log q is
 * kept for backward */
static void kl_cat_forward(ad_var *v)
{
    v->saved = ad__scratch(v->tape, &v->in[0]->val);
    if (!v->saved)
        return;
    size_t rows, K;
    rows_of(&v->in[0]->val, &rows, &K);
    tn_real logK = log((tn_real)K);
    TN_FOR_WORK(r, rows, rows * K,
        tn_real *lq = v->saved->data + r * K;
        log_softmax_row(lq, v->in[0]->val.data + r * K, K);
        double s = 0;
        for (size_t k = 0; k < K; k++)
            s += exp(lq[k]) * (lq[k] + logK);
        v->val.data[r] = (tn_real)s;
    );
}
/* dx_k = g · q_k (log q_k + log K - y) */
static void kl_cat_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (!dx)
        return;
    size_t rows, K;
    rows_of(&v->in[0]->val, &rows, &K);
    tn_real logK = log((tn_real)K);
    TN_FOR_WORK(r, rows, rows * K,
        const tn_real *lq = v->saved->data + r * K;
        tn_real g = v->grad->data[r], y = v->val.data[r];
        for (size_t k = 0; k < K; k++)
            dx->data[r * K + k] += g * exp(lq[k]) * (lq[k] + logK - y);
    );
}
const ad_op_def ad__op_kl_categorical = {"kl_categorical", 1, row_shape, kl_cat_forward, kl_cat_backward};

/* Gumbel-softmax (Jang et al. 2017): y = softmax((x + G)/τ), G = -log(-log U)
 * drawn from attr.rng, τ = f[0]. hard (i[0]): the forward value is the
 * one-hot of y's arg-max (first on ties) and backward uses the soft y
 * (straight-through). The soft y is kept in v->saved. */
static void gumbel_forward(ad_var *v)
{
    v->saved = ad__scratch(v->tape, &v->val);
    if (!v->saved)
        return;
    size_t rows, K;
    rows_of(&v->val, &rows, &K);
    tn_real inv_tau = (tn_real)(1 / v->attr.f[0]);
    const tn_real *x = v->in[0]->val.data;
    tn_real *y = v->saved->data;
    for (size_t i = 0; i < v->val.size; i++) {
        double u;
        do
            u = tn_rng_uniform(v->attr.rng);
        while (u <= 0);
        y[i] = (x[i] - (tn_real)log(-log(u))) * inv_tau;
    }
    TN_FOR_WORK(r, rows, rows * K,
        tn_real *yr = y + r * K, *out = v->val.data + r * K;
        log_softmax_row(yr, yr, K);
        size_t best = 0;
        for (size_t k = 0; k < K; k++) {
            yr[k] = exp(yr[k]);
            best = yr[k] > yr[best] ? k : best;
        }
        for (size_t k = 0; k < K; k++)
            out[k] = v->attr.i[0] ? (tn_real)(k == best) : yr[k];
    );
}
/* dx = (1/τ) y ⊙ (g - Σ_k g_k y_k), y the soft sample */
static void gumbel_backward(ad_var *v)
{
    size_t rows, K;
    rows_of(&v->val, &rows, &K);
    softmax_jvp_acc(v->in[0], v->saved->data, v->grad->data, rows, K, (tn_real)(1 / v->attr.f[0]));
}
const ad_op_def ad__op_gumbel_softmax = {"gumbel_softmax", 1, last_axis_shape, gumbel_forward, gumbel_backward};

ad_var *ad_softmax(ad_var *x) { return ad__record(AD_OP_SOFTMAX, x, NULL, NULL, NULL); }
ad_var *ad_log_softmax(ad_var *x) { return ad__record(AD_OP_LOG_SOFTMAX, x, NULL, NULL, NULL); }
ad_var *ad_kl_categorical(ad_var *logits) { return ad__record(AD_OP_KL_CATEGORICAL, logits, NULL, NULL, NULL); }

ad_var *ad_gumbel_softmax(ad_var *logits, tn_real tau, int hard, tn_rng *rng)
{
    if (!logits)
        return NULL;
    if (!rng || !(tau > 0)) {
        ad_tape_fail(logits->tape, rng ? "gumbel_softmax: temperature %g, expected > 0"
                                       : "gumbel_softmax: no random generator given (temperature %g)",
                     (double)tau);
        return NULL;
    }
    ad_attr at = {.i = {hard != 0}, .f = {tau}, .rng = rng};
    return ad__record(AD_OP_GUMBEL_SOFTMAX, logits, NULL, NULL, &at);
}

/* ---- the same family over any axis, and what is built from it -------------
 * Compositions of the ops above and of op_reduce.c's, so each gradient is
 * theirs: no new backward to get wrong. */

ad_var *ad_log_softmax_axis(ad_var *x, int axis)
{
    if (x && tn_axis(&x->val, axis) == x->val.ndim - 1)
        return ad_log_softmax(x); /* the fused node */
    return ad_sub(x, ad_logsumexp(x, axis, 1));
}

ad_var *ad_softmax_axis(ad_var *x, int axis)
{
    if (x && tn_axis(&x->val, axis) == x->val.ndim - 1)
        return ad_softmax(x);
    return ad_exp(ad_log_softmax_axis(x, axis));
}

ad_var *ad_logmeanexp(ad_var *x, int axis, int keepdim)
{
    int ax = x ? tn_axis(&x->val, axis) : -1;
    if (x && ax < 0) {
        char s[64];
        ad_tape_fail(x->tape, "logmeanexp: (%s): axis %d out of range", tn_shape_str(&x->val, s, sizeof s),
                     axis);
        return NULL;
    }
    size_t n = x ? x->val.shape[ax] : 0;
    return ad_add_scalar(ad_logsumexp(x, axis, keepdim), (tn_real)-log((double)(n ? n : 1)));
}

ad_var *ad_cross_entropy(ad_var *logits, const int *labels)
{
    if (!logits)
        return NULL;
    const tn_tensor *x = &logits->val;
    char s[64];
    if (x->ndim != 2) {
        ad_tape_fail(logits->tape, "cross_entropy: logits (%s): expected (N x classes)",
                     tn_shape_str(x, s, sizeof s));
        return NULL;
    }
    ad_var *y = ad_one_hot(logits->tape, labels, x->shape[0], x->shape[1]);
    return ad_neg(ad_sum_axis(ad_mul(ad_log_softmax(logits), y), -1));
}

ad_var *ad_gumbel_softmax_noise(ad_var *logits, ad_var *gumbel, tn_real tau, int hard)
{
    if (!logits || !gumbel)
        return NULL;
    if (!(tau > 0)) {
        ad_tape_fail(logits->tape, "gumbel_softmax: temperature %g, expected > 0", (double)tau);
        return NULL;
    }
    ad_var *soft = ad_softmax(ad_scale(ad_add(logits, gumbel), (tn_real)(1 / tau)));
    if (!hard || !soft)
        return soft;
    /* the one-hot of the arg-max forward, the soft sample's gradient back */
    const tn_tensor *y = &soft->val;
    size_t K = y->shape[y->ndim - 1], rows = y->size / K;
    const int *best = ad_argmax(soft, -1);
    ad_var *one = best ? ad_const_new(soft->tape, y->ndim, y->shape) : NULL;
    if (!one)
        return NULL;
    for (size_t r = 0; r < rows; r++)
        ad_data(one)[r * K + (size_t)best[r]] = 1;
    return ad_straight_through(soft, one);
}
