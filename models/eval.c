/* eval.c: the built-in models as nn_latent callbacks (model_latent), so
 * that they are evaluated and drawn by the same code as users' models
 * (nn/latent.c, nn/pictures.c); and model_evaluate, which adds what only
 * the autoencoders have: reconstruction from corrupted input and the mean
 * code activation. */
#define _POSIX_C_SOURCE 200809L

#include "model_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

static ad_var *posterior(void *mp, ad_tape *t, const nn_batch *b, ad_var **logvar)
{
    model *m = mp;
    ad_var *x = ad_const(t, &b->x), *mu;
    *logvar = NULL;
    if (m->c.kind != MODEL_VAE)
        return model_encode(m, t, x, b->labels);
    vae_posterior(m, t, x, b->labels, &mu, logvar);
    return mu;
}

/* log p(x | z) per row, Bernoulli (logits) or Gaussian (mean, log σ²): z
 * (N x latent) gives (N), z (S x N x latent) gives (S x N) */
static ad_var *log_lik(void *mp, ad_tape *t, const nn_batch *b, ad_var *z)
{
    model *m = mp;
    ad_var *x = ad_const(t, &b->x);
    if (z && ad_value(z)->ndim == 3)
        return vae__log_px(m, t, z, x, b->labels);
    size_t n = z ? ad_dim(z, 0) : 0;
    ad_var *lp = vae__log_px(m, t, ad_reshape(z, 3, (const size_t[]){1, n, m->c.latent}), x, b->labels);
    return ad_reshape(lp, 1, (const size_t[]){n});
}

static ad_var *decode(void *mp, ad_tape *t, ad_var *z, const int *labels)
{
    return model_decode(mp, t, z, labels);
}

nn_latent model_latent(model *m, size_t rows, size_t cols)
{
    return (nn_latent){.model = m, .latent = m->c.latent, .rows = rows, .cols = cols,
                       .classes = m->c.kind == MODEL_VAE ? m->c.classes : 0,
                       .posterior = posterior,
                       .log_lik = m->c.kind == MODEL_VAE ? log_lik : NULL, .log_lik_samples = 1,
                       .decode = decode};
}

int model_evaluate(model *m, const nn_dataset *d, size_t batch, tn_rng *rng,
                   model_eval *out, nn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!d->x)
        return nn_fail(err, "evaluation: %s", "the data are bytes (x8): nn_data_floats() first");
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
            if (model_batch_loss(m, t, &xb, d->labels ? d->labels + b0 : NULL, rng, 1L << 40, noisy,
                                 &l)) {
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

ad_var *model_train_loss(void *mp, ad_tape *t, const nn_batch *b, nn_step *s)
{
    model *m = mp;
    model_loss l;
    if (model_batch_loss(m, t, &b->x, b->labels, s->rng, s->step, 1, &l))
        return NULL;
    if (m->c.kind == MODEL_VAE || m->c.kind == MODEL_SPARSE_AE)
        nn_scalars_set(s->report, "recon", l.recon);
    if (m->c.kind == MODEL_VAE)
        nn_scalars_set(s->report, "kl", l.kl);
    if (m->c.kind == MODEL_SPARSE_AE)
        nn_scalars_set(s->report, "penalty", l.penalty);
    return l.loss;
}

int model_train_eval(void *mp, const nn_dataset *test, tn_rng *rng, nn_scalars *out,
                     nn_error *err)
{
    model *m = mp;
    model_eval ev;
    if (model_evaluate(m, test, 500, rng, &ev, err))
        return -1;
    nn_scalars_set(out, "loss", m->c.kind == MODEL_VAE ? ev.neg_elbo : ev.recon);
    if (m->c.kind == MODEL_VAE) {
        nn_scalars_set(out, "recon", ev.recon);
        nn_scalars_set(out, "kl", ev.kl);
    }
    if (m->c.kind == MODEL_DENOISING_AE)
        nn_scalars_set(out, "recon_noisy", ev.recon_noisy);
    if (m->c.kind == MODEL_SPARSE_AE)
        nn_scalars_set(out, "mean_act", ev.mean_act);
    return 0;
}

/* The reconstruction error per image from the posterior mean, the input
 * first corrupted as `noise` says when not NULL (the target stays clean):
 * BCE (x̂ clipped to [1e-7, 1 - 1e-7]) and the squared error. */
int model__reconstruction(const nn_latent *l, const nn_dataset *d, const model_config *noise, tn_rng *rng,
                          double *bce, double *se, nn_error *err)
{
    size_t B = 500;
    ad_tape *t = ad_tape_new(0);
    tn_real *buf = malloc(B * d->dim * sizeof *buf);
    int rc = 0;
    *bce = *se = 0;
    if (!t || !buf || !d->x || !d->n || !l->posterior || !l->decode)
        rc = nn_fail(err, "reconstruction: %s", !d->x ? "the data are bytes (x8): nn_data_floats() first"
                                                : !d->n ? "no examples"
                                                : !t || !buf ? "out of memory"
                                                             : "the model has no posterior or decode hook");
    ad_set_grad_enabled(t, 0);
    for (size_t b0 = 0; !rc && b0 < d->n; b0 += B) {
        size_t nb = d->n - b0 < B ? d->n - b0 : B;
        const int *lab = d->labels ? d->labels + b0 : NULL;
        memcpy(buf, d->x + b0 * d->dim, nb * d->dim * sizeof *buf);
        nn_batch b = {tn_wrap(buf, TN_DIMS(nb, d->dim)), lab, nb};
        if (noise)
            ae_corrupt(noise, &b.x, rng);
        ad_var *lv;
        ad_tape_reset(t);
        ad_var *y = l->decode(l->model, t, l->posterior(l->model, t, &b, &lv), lab);
        if (!y || ad_value(y)->size != nb * d->dim) {
            rc = nn_fail(err, "reconstruction: %s", y ? "decode's output is not (rows x the data's width)"
                                                      : ad_tape_error(t));
            break;
        }
        const tn_real *p = ad_data(y), *c = d->x + b0 * d->dim;
        for (size_t i = 0; i < nb * d->dim; i++) {
            double q = p[i] < 1e-7 ? 1e-7 : p[i] > 1 - 1e-7 ? 1 - 1e-7 : p[i];
            *bce -= c[i] * log(q) + (1 - c[i]) * log(1 - q);
            *se += (p[i] - c[i]) * (p[i] - c[i]);
        }
    }
    *bce /= (double)(d->n ? d->n : 1), *se /= (double)(d->n ? d->n : 1);
    free(buf), ad_tape_free(t);
    return rc;
}

int model_reconstruction(model *m, const nn_dataset *d, const model_config *noise, tn_rng *rng,
                         double *bce, double *se, nn_error *err)
{
    nn_latent l = model_latent(m, d->rows, d->cols);
    return model__reconstruction(&l, d, noise, rng, bce, se, err);
}

int model_report(model *m, const nn_dataset *test, tn_rng *rng, int iw, nn_log_fn log,
                 void *ctx, nn_error *err)
{
    model_eval ev;
    if (model_evaluate(m, test, 500, rng, &ev, err))
        return -1;
    if (m->c.kind == MODEL_VAE) {
        nn_logf(log, ctx, NN_LOG_INFO, "test negative ELBO %.2f nats (reconstruction %.2f + KL %.2f), %zu examples",
             ev.neg_elbo, ev.recon, ev.kl, test->n);
        double bce, se;
        if (m->c.likelihood == MODEL_LIK_BERNOULLI) {
            if (model_reconstruction(m, test, NULL, rng, &bce, &se, err))
                return -1;
            nn_logf(log, ctx, NN_LOG_INFO, "test reconstruction from z = mu: %.6f nats (BCE per image), squared "
                           "error %.6f", bce, se);
        }
        double t0 = tn_seconds();
        double lk = iw > 0 ? vae_iwae(m, test, iw, rng, err) : 0;
        double took = tn_seconds() - t0;
        if (isnan(lk))
            return -1;
        if (iw > 0)
            nn_logf(log, ctx, NN_LOG_INFO, "test log p(x) >= L_%d = %.2f nats (importance-weighted bound, %.0f s)",
                 iw, lk, took);
    } else {
        nn_logf(log, ctx, NN_LOG_INFO, "test reconstruction %.3f (%s per example, clean input)", ev.recon,
             m->c.recon == MODEL_RECON_BCE ? "BCE nats" : "squared error");
        if (m->c.kind == MODEL_DENOISING_AE)
            nn_logf(log, ctx, NN_LOG_INFO, "test reconstruction %.3f from corrupted input (%s noise %.2f)",
                 ev.recon_noisy, model_noise_name(m->c.noise), m->c.noise_level);
        if (m->c.kind == MODEL_SPARSE_AE)
            nn_logf(log, ctx, NN_LOG_INFO, "mean code activation %.4f (target %.3f)", ev.mean_act, m->c.rho);
    }
    int active = model_active_units(m, test, 0.01, NULL, err);
    if (active < 0)
        return -1;
    nn_logf(log, ctx, NN_LOG_INFO, "active latent units: %d of %zu (variance of the code over the data > 0.01)",
         active, m->c.latent);
    return 0;
}

char *model_describe(const model *m, char *buf, size_t len)
{
    int u = snprintf(buf, len, "%s %zu", model_kind_name(m->c.kind), m->c.input_dim);
    if (m->c.conv_rows && u > 0 && (size_t)u < len) /* the convolutional body's channels */
        u += snprintf(buf + u, len - (size_t)u, "-conv(32,64)");
    for (int i = 0; i < m->c.n_hidden && u > 0 && (size_t)u < len; i++)
        u += snprintf(buf + u, len - (size_t)u, "-%zu", m->c.hidden[i]);
    if (u > 0 && (size_t)u < len)
        snprintf(buf + u, len - (size_t)u, "-%zu, %s, %s decoder, %zu parameters", m->c.latent,
                 nn_act_name(m->c.act),
                 m->c.kind == MODEL_VAE ? (m->c.likelihood == MODEL_LIK_GAUSSIAN ? "Gaussian" : "Bernoulli")
                                        : (m->c.recon == MODEL_RECON_BCE ? "BCE" : "MSE"),
                 nn_params_size(m->params));
    return buf;
}

