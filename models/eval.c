/* eval.c: a model over a whole dataset without gradients: the negative
 * ELBO and its parts, reconstruction errors, and the active latent units
 * (Burda et al. 2015: a unit is active when Cov_x(E_q[z_u]) > 0.01). */
#include "model.h"

#include <stdlib.h>
#include <string.h>

int model_evaluate(model *m, const nn_dataset *d, size_t batch, tn_rng *rng,
                   model_eval *out, nn_error *err)
{
    memset(out, 0, sizeof *out);
    ad_tape *t = ad_tape_new(0);
    if (!t)
        return nn_fail(err, "evaluate: out of memory");
    ad_set_grad_enabled(t, 0);
    int rc = 0;
    for (size_t b0 = 0; b0 < d->n; b0 += batch) {
        size_t nb = d->n - b0 < batch ? d->n - b0 : batch;
        tn_tensor xb = tn_wrap(d->x + b0 * d->dim, 2, (const size_t[]){nb, d->dim});
        double w = (double)nb / (double)d->n;
        for (int noisy = 0; noisy < (m->c.kind == MODEL_DENOISING_AE ? 2 : 1); noisy++) {
            model_loss l;
            ad_tape_reset(t);
            if (model_batch_loss(m, t, &xb, rng, 1L << 40, noisy, &l)) {
                rc = nn_fail(err, "evaluate: %s", ad_tape_error(t));
                goto out;
            }
            if (noisy) {
                out->recon_noisy += w * l.recon;
                continue;
            }
            out->neg_elbo += w * l.neg_elbo;
            out->recon += w * l.recon;
            out->kl += w * l.kl;
            out->mean_act += w * l.mean_act;
        }
    }
out:
    ad_tape_free(t);
    return rc;
}

int model_active_units(model *m, const nn_dataset *d, double threshold,
                       double *var_out, nn_error *err)
{
    size_t J = m->c.latent;
    double *s1 = calloc(J, sizeof *s1), *s2 = calloc(J, sizeof *s2);
    ad_tape *t = ad_tape_new(0);
    int active = -1;
    if (!s1 || !s2 || !t) {
        nn_fail(err, "active units: out of memory");
        goto out;
    }
    ad_set_grad_enabled(t, 0);
    for (size_t b0 = 0; b0 < d->n; b0 += 500) {
        size_t nb = d->n - b0 < 500 ? d->n - b0 : 500;
        tn_tensor xb = tn_wrap(d->x + b0 * d->dim, 2, (const size_t[]){nb, d->dim});
        ad_tape_reset(t);
        ad_var *code = model_encode(m, t, ad_const(t, &xb));
        if (!code) {
            nn_fail(err, "active units: %s", ad_tape_error(t));
            goto out;
        }
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < J; j++) {
                double v = ad_data(code)[i * J + j];
                s1[j] += v, s2[j] += v * v;
            }
    }
    active = 0;
    for (size_t j = 0; j < J; j++) {
        double mean = s1[j] / (double)d->n, var = s2[j] / (double)d->n - mean * mean;
        if (var_out)
            var_out[j] = var;
        active += var > threshold;
    }
out:
    free(s1), free(s2);
    ad_tape_free(t);
    return active;
}
