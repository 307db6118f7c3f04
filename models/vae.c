/* vae.c: the variational autoencoder (Kingma & Welling 2013): the encoder
 * gives q(z|x) = N(μ, diag σ²), z = μ + σ ⊙ ε, the decoder p(x|z) is
 * Bernoulli (logits) or Gaussian (mean, log-variance); the loss is the
 * negative ELBO -E_q[log p(x|z)] + β·KL(q(z|x) || N(0, I)) with L samples.
 * Also the importance-weighted bound L_k (Burda et al. 2015). */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453

void vae_posterior(model *m, ad_tape *t, ad_var *x, ad_var **mu, ad_var **logvar)
{
    ad_var *h = nn_mlp_forward(&m->enc, t, m->params, x);
    *mu = ad_slice(h, 0, m->c.latent);
    *logvar = ad_slice(h, m->c.latent, m->c.latent);
}

/* -log p(x|z) per example, averaged over the batch. */
static ad_var *neg_loglik(model *m, ad_tape *t, ad_var *z, ad_var *x)
{
    ad_var *out = nn_mlp_forward(&m->dec, t, m->params, z);
    if (m->c.likelihood == LIK_BERNOULLI)
        return nn_bce_logits(out, x);
    size_t d = m->c.input_dim;
    return nn_gaussian_nll(ad_slice(out, 0, d), ad_slice(out, d, d), x);
}

int vae__batch_loss(model *m, ad_tape *t, ad_var *x, tn_rng *rng, long step, model_loss *out)
{
    ad_var *mu, *lv, *rec = NULL;
    vae_posterior(m, t, x, &mu, &lv);
    for (int l = 0; l < m->c.samples; l++) { /* (1/L) Σ_l -log p(x|z_l) */
        ad_var *r = neg_loglik(m, t, ad_sample_normal(mu, lv, rng), x);
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

/* log Σ exp(v) / k, stably */
static double log_mean_exp(const double *v, int k)
{
    double mx = v[0], s = 0;
    for (int i = 1; i < k; i++)
        mx = v[i] > mx ? v[i] : mx;
    for (int i = 0; i < k; i++)
        s += exp(v[i] - mx);
    return mx + log(s / k);
}

double vae_iwae(model *m, const nn_dataset *d, int k, tn_rng *rng, nn_error *err)
{
    if (m->c.kind != MODEL_VAE)
        return nn_fail(err, "iwae: the model is not a VAE"), NAN;
    if (k < 1 || d->dim != m->c.input_dim)
        return nn_fail(err, "iwae: needs k >= 1 and data of %zu columns", m->c.input_dim), NAN;
    const size_t J = m->c.latent, D = d->dim;
    const size_t B = 16;                                /* examples at a time */
    size_t chunk = 4096 / B;                            /* samples per pass */
    if (chunk > (size_t)k)
        chunk = (size_t)k;
    ad_tape *t = ad_tape_new(0);
    double *logw = malloc(B * (size_t)k * sizeof *logw), total = 0;
    double *pmq = malloc(chunk * B * sizeof *pmq); /* log p(z) - log q(z|x) */
    if (!t || !logw || !pmq) {
        ad_tape_free(t), free(logw), free(pmq);
        return nn_fail(err, "iwae: out of memory"), NAN;
    }
    ad_set_grad_enabled(t, 0);
    int failed = 0;
    for (size_t b0 = 0; b0 < d->n && !failed; b0 += B) {
        size_t nb = d->n - b0 < B ? d->n - b0 : B;
        tn_tensor xb = tn_wrap(d->x + b0 * D, 2, (const size_t[]){nb, D});
        for (size_t s0 = 0; s0 < (size_t)k && !failed; s0 += chunk) {
            size_t ns = (size_t)k - s0 < chunk ? (size_t)k - s0 : chunk, rows = ns * nb;
            ad_tape_reset(t);
            ad_var *mu, *lv;
            vae_posterior(m, t, ad_const(t, &xb), &mu, &lv);
            ad_var *Z = ad_const_new(t, 2, (const size_t[]){rows, J});
            ad_var *X = ad_const_new(t, 2, (const size_t[]){rows, D});
            if (!Z || !X || !mu) {
                failed = 1;
                break;
            }
            /* row s·nb + b: sample s of example b */
            const tn_real *M = ad_data(mu), *L = ad_data(lv);
            for (size_t s = 0; s < ns; s++)
                for (size_t b = 0; b < nb; b++) {
                    size_t r = s * nb + b;
                    double lp = 0, lq = 0;
                    for (size_t j = 0; j < J; j++) {
                        double e = tn_rng_normal(rng), sd = exp(0.5 * L[b * J + j]);
                        double z = M[b * J + j] + sd * e;
                        ad_data(Z)[r * J + j] = (tn_real)z;
                        lp += -0.5 * (z * z + LOG_2PI);
                        lq += -0.5 * (e * e + LOG_2PI + L[b * J + j]);
                    }
                    pmq[r] = lp - lq;
                    memcpy(ad_data(X) + r * D, xb.data + b * D, D * sizeof(tn_real));
                }
            ad_var *out = nn_mlp_forward(&m->dec, t, m->params, Z), *lpx;
            if (m->c.likelihood == LIK_BERNOULLI)
                lpx = nn_bernoulli_logp(out, X);
            else
                lpx = nn_gaussian_logp(ad_slice(out, 0, D), ad_slice(out, D, D), X);
            if (!lpx) {
                failed = 1;
                break;
            }
            for (size_t s = 0; s < ns; s++)
                for (size_t b = 0; b < nb; b++)
                    logw[b * (size_t)k + s0 + s] = ad_data(lpx)[s * nb + b] + pmq[s * nb + b];
        }
        for (size_t b = 0; b < nb && !failed; b++)
            total += log_mean_exp(logw + b * (size_t)k, k);
    }
    if (failed)
        nn_fail(err, "iwae: %s", ad_tape_error(t));
    ad_tape_free(t), free(logw), free(pmq);
    return failed ? NAN : total / (double)d->n;
}
