/* vae.c: the variational autoencoder (Kingma & Welling 2013): the encoder
 * gives q(z|x) = N(μ, diag σ²), z = μ + σ ⊙ ε, the decoder p(x|z) is
 * Bernoulli (logits) or Gaussian (mean, log-variance); the loss is the
 * negative ELBO -E_q[log p(x|z)] + β·KL(q(z|x) || N(0, I)) with L samples,
 * or the importance-weighted bound -L_k (Burda et al. 2015). With classes,
 * the one-hot label c joins x and z: q(z|x, c), p(x|z, c) (Sohn et al.).
 * Its evaluation (ELBO parts, L_k) is nn/latent.c's, through models/eval.c. */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


void vae_posterior(model *m, ad_tape *t, ad_var *x, const int *labels, ad_var **mu,
                   ad_var **logvar)
{
    ad_var *h = nn_mlp_forward(&m->enc, model__enc_input(m, t, x, labels));
    *mu = ad_slice(h, 0, m->c.latent);
    *logvar = ad_slice(h, m->c.latent, m->c.latent);
}

/* -log p(x|z) per example, averaged over the batch. */
static ad_var *neg_loglik(model *m, ad_tape *t, ad_var *z, ad_var *x, const int *labels)
{
    ad_var *out = model__decoder(m, model__with_label(m, t, z, labels));
    if (m->c.likelihood == MODEL_LIK_BERNOULLI)
        return nn_bce_logits(out, x);
    size_t d = m->c.input_dim;
    return nn_gaussian_mean_nll(x, ad_slice(out, 0, d), ad_slice(out, d, d));
}

/* log p(x | z) for z (k, N, J): (k, N), x (N, D) broadcast over samples */
ad_var *vae__log_px(model *m, ad_tape *t, ad_var *z, ad_var *x, const int *labels)
{
    size_t k = ad_dim(z, 0), n = ad_dim(z, 1), D = m->c.input_dim;
    size_t w = m->c.latent + m->c.classes;
    ad_var *zin = ad_reshape(model__with_label(m, t, z, labels), 2, (const size_t[]){k * n, w});
    ad_var *out = model__decoder(m, zin);
    size_t ow = m->c.likelihood == MODEL_LIK_GAUSSIAN ? 2 * D : D;
    out = ad_reshape(out, 3, (const size_t[]){k, n, ow});
    if (m->c.likelihood == MODEL_LIK_BERNOULLI) /* x (N, D) against the k samples' logits */
        return ad_neg(ad_bce_logits_rows(out, x));
    return ad_sum_axis(ad_gaussian_logp(x, ad_slice(out, 0, D), ad_slice(out, D, D)), -1);
}

/* -L_k = -mean_n [logsumexp_i log w_i - log k], log w_i = log p(x | z_i) +
 * log N(z_i; 0, I) - log q(z_i | x), z_i = μ + σ ⊙ ε_i: the k samples are one
 * (k, N, J) tensor broadcast against μ, σ (N, J). */
static int iwae_loss(model *m, ad_tape *t, ad_var *x, const int *labels, ad_var *mu, ad_var *lv,
                     tn_rng *rng, model_loss *out)
{
    size_t k = (size_t)m->c.iw_k, n = ad_dim(x, 0);
    ad_var *zero = ad_scalar(t, 0);
    ad_var *z = ad_sample_normal_eps(mu, lv, ad_randn(t, 3, (const size_t[]){k, n, m->c.latent}, rng));
    ad_var *lpx = vae__log_px(m, t, z, x, labels);
    ad_var *lw = ad_add(lpx, ad_sum_axis(ad_gaussian_logp(z, zero, zero), -1));
    lw = ad_sub(lw, ad_sum_axis(ad_gaussian_logp(z, mu, lv), -1));
    ad_var *lk = ad_add_scalar(ad_logsumexp(lw, 0, 0), (tn_real)-log((double)k));
    ad_var *kl = nn_kl_normal(mu, lv);
    out->loss = ad_neg(ad_mean(lk));
    if (!out->loss || !kl)
        return -1;
    out->recon = -ad_item(ad_mean(lpx)); /* one sample's reconstruction, averaged */
    out->kl = ad_item(kl);
    out->neg_elbo = out->recon + out->kl;
    return 0;
}

int vae__batch_loss(model *m, ad_tape *t, ad_var *x, const int *labels, tn_rng *rng, long step,
                    model_loss *out)
{
    ad_var *mu, *lv, *rec = NULL;
    vae_posterior(m, t, x, labels, &mu, &lv);
    if (m->c.iw_k > 1)
        return iwae_loss(m, t, x, labels, mu, lv, rng, out);
    for (int l = 0; l < m->c.samples; l++) { /* (1/L) Σ_l -log p(x|z_l) */
        ad_var *r = neg_loglik(m, t, ad_sample_normal(mu, lv, rng), x, labels);
        rec = rec ? ad_add(rec, r) : r;
    }
    if (m->c.samples > 1)
        rec = ad_scale(rec, (tn_real)(1.0 / m->c.samples));
    ad_var *kl = nn_kl_normal(mu, lv);
    double beta = m->c.beta;
    if (m->c.warmup > 0 && step + 1 < m->c.warmup) /* linear KL warm-up */
        beta *= (double)(step + 1) / (double)m->c.warmup;
    out->loss = ad_add(rec, ad_scale(kl, (tn_real)beta));
    if (!out->loss)
        return -1;
    out->recon = ad_item(rec);
    out->kl = ad_item(kl);
    out->neg_elbo = out->recon + out->kl;
    return 0;
}
