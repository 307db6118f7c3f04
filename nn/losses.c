/* losses.c: losses composed from autograd ops, reported as the papers do:
 * summed over the dimensions of an example, averaged over the N examples
 * (rows). Formulas and their sources: docs/nn.md. */
#include "nn_internal.h"

#include <math.h>


/* Rows of x: its first axis (1 for a scalar or a vector). */
static double rows(ad_var *x)
{
    const tn_tensor *v = ad_value(x);
    return v && v->ndim >= 2 ? (double)v->shape[0] : 1.0;
}

/* Σ over every axis but the first: (N x ...) -> (N). */
static ad_var *row_sums(ad_var *x)
{
    const tn_tensor *v = ad_value(x);
    if (!v)
        return NULL;
    if (v->ndim < 2)
        return x;
    size_t shape[2] = {v->shape[0], v->shape[0] ? v->size / v->shape[0] : 0};
    if (v->ndim > 2)
        x = ad_reshape(x, 2, shape);
    return ad_sum_axis(x, 1);
}

ad_var *nn_mean_rows(ad_var *v) { return ad_mean(v); }

/* (1/N) Σ (pred - target)² */
ad_var *nn_mse(ad_var *pred, ad_var *target)
{
    return ad_scale(ad_sum(ad_square(ad_sub(pred, target))), (tn_real)(1 / rows(pred)));
}

/* Whether t is l's shape: then the fused row sums serve (broadcast
 * targets take the element-wise op). */
static int same_shape(ad_var *l, ad_var *t)
{
    const tn_tensor *a = ad_value(l), *b = ad_value(t);
    if (!a || !b || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

/* (1/N) Σ [max(l,0) - l·t + log(1 + e^-|l|)] */
ad_var *nn_bce_logits(ad_var *logits, ad_var *target)
{
    ad_var *b = same_shape(logits, target) ? ad_bce_logits_rows(logits, target)
                                           : ad_bce_logits(logits, target);
    return ad_scale(ad_sum(b), (tn_real)(1 / rows(logits)));
}

/* log p(x|l) = Σ_d x log σ(l) + (1-x) log(1-σ(l)) = -Σ_d BCE(l, x) */
ad_var *nn_bernoulli_logp_rows(ad_var *x, ad_var *logits)
{
    if (same_shape(logits, x) && ad_value(logits)->ndim == 2)
        return ad_neg(ad_bce_logits_rows(logits, x)); /* one fused node */
    return ad_neg(row_sums(ad_bce_logits(logits, x)));
}

/* log N(x; m, e^lv) = -½ Σ_d [log 2π + lv + (x - m)² e^-lv] */
ad_var *nn_gaussian_logp_rows(ad_var *x, ad_var *mean, ad_var *logvar)
{
    return row_sums(ad_gaussian_logp(x, mean, logvar)); /* one fused node */
}

ad_var *nn_gaussian_mean_nll(ad_var *x, ad_var *mean, ad_var *logvar)
{
    return ad_neg(ad_mean(nn_gaussian_logp_rows(x, mean, logvar)));
}

/* KL_n = Σ_d -½ (1 + lv - mu² - e^lv) */
ad_var *nn_kl_normal_rows(ad_var *mu, ad_var *logvar)
{
    return row_sums(ad_kl_normal(mu, logvar));
}

ad_var *nn_kl_normal(ad_var *mu, ad_var *logvar)
{
    return ad_mean(nn_kl_normal_rows(mu, logvar));
}

/* β Σ_j [ρ log(ρ/ρ̂_j) + (1-ρ) log((1-ρ)/(1-ρ̂_j))], ρ̂_j = mean_n h_nj */
ad_var *nn_sparse_kl(ad_var *h, double rho, double beta)
{
    /* ρ̂'s value kept inside [1e-6, 1 - 1e-6]: a saturated unit (ρ̂ = 1 in
     * float) would make the KL infinite, and β = 0 times infinity NaN. The
     * gradient passes through as if unclamped (ρ̂ + a constant shift), so
     * a saturated unit is still pushed back (the KL's slope there is
     * (1 - ρ)/1e-6): a clamp's zero gradient would leave it stuck at 1. */
    ad_var *mean = ad_mean_axis(h, 0);
    const tn_tensor *mv = ad_value(mean);
    ad_var *shift = mv ? ad_const_new(ad_tape_of(mean), mv->ndim, mv->shape) : NULL;
    if (!shift)
        return NULL;
    const tn_real lo = (tn_real)1e-6, hi = (tn_real)(1 - 1e-6);
    for (size_t i = 0; i < mv->size; i++) {
        tn_real m = mv->data[i];
        ad_data(shift)[i] = (m < lo ? lo : m > hi ? hi : m) - m;
    }
    ad_var *rhohat = ad_add(mean, shift);
    const tn_tensor *r = ad_value(rhohat);
    if (!r)
        return NULL;
    double per_unit = rho * log(rho) + (1 - rho) * log(1 - rho);
    ad_var *a = ad_scale(ad_log(rhohat), (tn_real)-rho);
    ad_var *b = ad_scale(ad_log(ad_add_scalar(ad_neg(rhohat), 1)), (tn_real)-(1 - rho));
    ad_var *kl = ad_add_scalar(ad_sum(ad_add(a, b)), (tn_real)(per_unit * (double)r->size));
    return ad_scale(kl, (tn_real)beta);
}

/* λ (1/N) Σ |h| */
ad_var *nn_l1_activity(ad_var *h, double lambda)
{
    return ad_scale(ad_sum(ad_abs(h)), (tn_real)(lambda / rows(h)));
}

/* (λ/2) Σ_W ||W||² */
ad_var *nn_l2_weights(ad_tape *t, nn_params *p, double lambda)
{
    ad_var *total = ad_scalar(t, 0);
    for (int i = 0; i < nn_params_count(p); i++)
        if (nn_params_value(p, i)->ndim == 2)
            total = ad_add(total, ad_sum(ad_square(nn_param(t, p, i))));
    return ad_scale(total, (tn_real)(lambda / 2));
}
