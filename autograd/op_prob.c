/* op_prob.c: the fused probabilistic ops, kept as primitives because
 * composing them would be unstable or slow: BCE with logits, the closed-form
 * Gaussian KL to N(0, I) and the reparameterized Gaussian sample. */
#include "ad_internal.h"

#include <tgmath.h>

#include "tn_parallel.h"

/* log(1 + e) for e in [0, 1]: log(u)·e/(u - 1) with u = 1 + e is accurate
 * to a few ulps (Goldberg, "What every computer scientist should know about
 * floating-point arithmetic", thm. 4) and cheaper than log1p. */
static inline tn_real log1p_small(tn_real e)
{
    tn_real u = 1 + e;
    return u == 1 ? e : log(u) * e / (u - 1);
}

/* y = max(x,0) - x·t + log(1 + e^-|x|)  (x logits, t targets);
 * e^-|x| is kept for backward */
static void bce_forward(ad_var *v)
{
    v->saved = ad__scratch(v->tape, &v->val);
    if (!v->saved)
        return;
    const tn_real *x = v->in[0]->val.data, *t = v->in[1]->val.data;
    tn_real *restrict y = v->val.data, *restrict e = v->saved->data;
    TN_FOR(i, v->val.size, e[i] = exp(-fabs(x[i]));
           y[i] = (x[i] > 0 ? x[i] : 0) - x[i] * t[i] + log1p_small(e[i]););
}
/* dx = g·(σ(x) - t), dt = -g·x;  σ(x) = 1/(1+e) for x >= 0, e/(1+e) else */
static void bce_backward(ad_var *v)
{
    const tn_real *x = v->in[0]->val.data, *t = v->in[1]->val.data;
    const tn_real *g = v->grad->data, *e = v->saved->data;
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    tn_tensor *dt = ad__grad_buf(v->in[1]);
    if (dx) {
        tn_real *restrict d = dx->data;
        TN_FOR(i, dx->size, tn_real s = (x[i] >= 0 ? 1 : e[i]) / (1 + e[i]);
               d[i] += g[i] * (s - t[i]););
    }
    if (dt) {
        tn_real *restrict d = dt->data;
        TN_FOR(i, dt->size, d[i] -= g[i] * x[i];);
    }
}
const ad_op_def ad__op_bce_logits = {"bce_logits", 2, ad__shape_same2, bce_forward, bce_backward};

/* y = -1/2 (1 + lv - mu² - e^lv) */
static void kl_forward(ad_var *v)
{
    const tn_real *mu = v->in[0]->val.data, *lv = v->in[1]->val.data;
    for (size_t i = 0; i < v->val.size; i++)
        v->val.data[i] = (tn_real)-0.5 * (1 + lv[i] - mu[i] * mu[i] - exp(lv[i]));
}
/* dmu = g·mu, dlv = g·(e^lv - 1)/2 */
static void kl_backward(ad_var *v)
{
    const tn_real *mu = v->in[0]->val.data, *lv = v->in[1]->val.data;
    const tn_real *g = v->grad->data;
    tn_tensor *dmu = ad__grad_buf(v->in[0]);
    tn_tensor *dlv = ad__grad_buf(v->in[1]);
    for (size_t i = 0; dmu && i < dmu->size; i++)
        dmu->data[i] += g[i] * mu[i];
    for (size_t i = 0; dlv && i < dlv->size; i++)
        dlv->data[i] += g[i] * (tn_real)0.5 * (exp(lv[i]) - 1);
}
const ad_op_def ad__op_kl_normal = {"kl_normal", 2, ad__shape_same2, kl_forward, kl_backward};

/* z = mu + e^(lv/2) ⊙ eps, eps ~ N(0, I) from attr.rng, kept in v->saved */
static void sample_forward(ad_var *v)
{
    v->saved = ad__scratch(v->tape, &v->val);
    if (!v->saved)
        return;
    tn_rng_fill_normal(v->attr.rng, v->saved, 0, 1);
    const tn_real *mu = v->in[0]->val.data, *lv = v->in[1]->val.data;
    const tn_real *eps = v->saved->data;
    for (size_t i = 0; i < v->val.size; i++)
        v->val.data[i] = mu[i] + exp((tn_real)0.5 * lv[i]) * eps[i];
}
/* dmu = g, dlv = g·eps·e^(lv/2)/2 */
static void sample_backward(ad_var *v)
{
    const tn_real *lv = v->in[1]->val.data, *eps = v->saved->data;
    const tn_real *g = v->grad->data;
    tn_tensor *dmu = ad__grad_buf(v->in[0]);
    tn_tensor *dlv = ad__grad_buf(v->in[1]);
    if (dmu)
        tn_axpy(dmu, 1, v->grad);
    for (size_t i = 0; dlv && i < dlv->size; i++)
        dlv->data[i] += g[i] * eps[i] * (tn_real)0.5 * exp((tn_real)0.5 * lv[i]);
}
const ad_op_def ad__op_sample_normal = {"sample_normal", 2, ad__shape_same2, sample_forward, sample_backward};

ad_var *ad_bce_logits(ad_var *x, ad_var *t) { return ad__record(AD_OP_BCE_LOGITS, x, t, NULL, NULL); }
ad_var *ad_kl_normal(ad_var *mu, ad_var *lv) { return ad__record(AD_OP_KL_NORMAL, mu, lv, NULL, NULL); }

ad_var *ad_sample_normal(ad_var *mu, ad_var *logvar, tn_rng *rng)
{
    if (!rng) {
        ad_tape *t = mu ? mu->tape : logvar ? logvar->tape : NULL;
        if (t)
            ad_tape_fail(t, "sample_normal: no random generator given");
        return NULL;
    }
    ad_attr at = {.rng = rng};
    return ad__record(AD_OP_SAMPLE_NORMAL, mu, logvar, NULL, &at);
}
