/* eval.c: the built-in models as nn_latent callbacks (model_latent), so
 * that they are evaluated and drawn by the same code as users' models
 * (nn/latent.c, nn/pictures.c); and model_evaluate, which adds what only
 * the autoencoders have: reconstruction from corrupted input and the mean
 * code activation. */
#include "model.h"

#include <math.h>
#include <string.h>

static ad_var *posterior(void *mp, ad_tape *t, const nn_batch *b, ad_var **logvar)
{
    model *m = mp;
    ad_var *x = ad_const(t, &b->x), *mu;
    *logvar = NULL;
    if (m->c.kind != MODEL_VAE)
        return model_encode(m, t, x);
    vae_posterior(m, t, x, &mu, logvar);
    return mu;
}

/* log p(x | z) per row: Bernoulli (logits) or Gaussian (mean, log σ²) */
static ad_var *log_lik(void *mp, ad_tape *t, const nn_batch *b, ad_var *z)
{
    model *m = mp;
    ad_var *out = nn_mlp_forward(&m->dec, t, m->params, z), *x = ad_const(t, &b->x);
    if (m->c.likelihood == LIK_BERNOULLI)
        return nn_bernoulli_logp(out, x);
    size_t d = m->c.input_dim;
    return nn_gaussian_logp(ad_slice(out, 0, d), ad_slice(out, d, d), x);
}

static ad_var *decode(void *mp, ad_tape *t, ad_var *z, const int *labels)
{
    (void)labels;
    return model_decode(mp, t, z);
}

nn_latent model_latent(model *m, size_t rows, size_t cols)
{
    return (nn_latent){.model = m, .latent = m->c.latent, .rows = rows, .cols = cols,
                       .posterior = posterior,
                       .log_lik = m->c.kind == MODEL_VAE ? log_lik : NULL, .decode = decode};
}

int model_evaluate(model *m, const nn_dataset *d, size_t batch, tn_rng *rng,
                   model_eval *out, nn_error *err)
{
    memset(out, 0, sizeof *out);
    if (m->c.kind == MODEL_VAE) {
        nn_latent l = model_latent(m, d->rows, d->cols);
        nn_elbo e;
        if (nn_latent_elbo(&l, d, batch, rng, &e, err))
            return -1;
        out->neg_elbo = e.neg_elbo, out->recon = e.recon, out->kl = e.kl;
        return 0;
    }
    ad_tape *t = ad_tape_new(0);
    if (!t)
        return nn_fail(err, "evaluate: out of memory");
    ad_set_grad_enabled(t, 0);
    int rc = 0;
    for (size_t b0 = 0; b0 < d->n && rc == 0; b0 += batch) {
        size_t nb = d->n - b0 < batch ? d->n - b0 : batch;
        tn_tensor xb = tn_wrap(d->x + b0 * d->dim, 2, (const size_t[]){nb, d->dim});
        double w = (double)nb / (double)d->n;
        for (int noisy = 0; noisy < (m->c.kind == MODEL_DENOISING_AE ? 2 : 1); noisy++) {
            model_loss l;
            ad_tape_reset(t);
            if (model_batch_loss(m, t, &xb, rng, 1L << 40, noisy, &l)) {
                rc = nn_fail(err, "evaluate: %s", ad_tape_error(t));
                break;
            }
            if (noisy) {
                out->recon_noisy += w * l.recon;
            } else {
                out->recon += w * l.recon;
                out->mean_act += w * l.mean_act;
            }
        }
    }
    ad_tape_free(t);
    return rc;
}

int model_active_units(model *m, const nn_dataset *d, double threshold,
                       double *var_out, nn_error *err)
{
    nn_latent l = model_latent(m, d->rows, d->cols);
    return nn_latent_active_units(&l, d, threshold, var_out, err);
}

double vae_iwae(model *m, const nn_dataset *d, int k, tn_rng *rng, nn_error *err)
{
    if (m->c.kind != MODEL_VAE)
        return nn_fail(err, "iwae: the model is not a VAE"), NAN;
    if (d->dim != m->c.input_dim)
        return nn_fail(err, "iwae: the model takes %zu values per example, the data have %zu",
                       m->c.input_dim, d->dim), NAN;
    nn_latent l = model_latent(m, d->rows, d->cols);
    return nn_latent_iwae(&l, d, k, rng, err);
}
