/* vae.c: the variational autoencoder (Kingma & Welling 2013): the encoder
 * gives q(z|x) = N(μ, diag σ²), z = μ + σ ⊙ ε, the decoder p(x|z) is
 * Bernoulli (logits) or Gaussian (mean, log-variance); the loss is the
 * negative ELBO -E_q[log p(x|z)] + β·KL(q(z|x) || N(0, I)) with L samples.
 * Its evaluation (ELBO parts, L_k) is nn/latent.c's, through models/eval.c. */
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


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
