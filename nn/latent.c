/* latent.c: the evaluation of any latent-variable model given as nn_latent
 * callbacks: the negative ELBO in parts, the importance-weighted bound L_k
 * (Burda et al. 2015) and the active units. Gradients are off throughout.
 * Derivations: docs/models.md. */
#include "nn_internal.h"
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_batch batch_of(const nn_dataset *d, size_t b0, size_t nb)
{
    return (nn_batch){tn_wrap(d->x + b0 * d->dim, 2, (const size_t[]){nb, d->dim}),
                      d->labels ? d->labels + b0 : NULL, nb};
}

static ad_tape *eval_tape(nn_error *err)
{
    ad_tape *t = ad_tape_new(0);
    if (!t)
        nn_fail(err, "evaluation: out of memory");
    else
        ad_set_grad_enabled(t, 0);
    return t;
}

/* Under MPI, rank r evaluates rows [r·n/P, (r+1)·n/P) with a generator of
 * its own (drawn from the caller's, which every rank holds alike), and the
 * sums are added over ranks with every rank's status: one rank's error
 * stops all of them. In one process: all rows, the caller's generator. */
typedef struct {
    int P, r;
    nn_dataset view;
    tn_rng own, *rng;
} ranks_part;

static void part(ranks_part *p, const nn_dataset *d, tn_rng *rng)
{
    int local = nn__dist_local_now(); /* inside nn_train's own split */
    *p = (ranks_part){.P = local ? 1 : nn_dist_size(), .r = local ? 0 : nn_dist_rank(), .rng = rng};
    size_t lo = d->n * (size_t)p->r / (size_t)p->P, hi = d->n * (size_t)(p->r + 1) / (size_t)p->P;
    p->view = nn_data_view(d, lo, hi - lo);
    if (p->P > 1) {
        uint64_t key = (uint64_t)tn_rng_u32(rng) << 32;
        key |= tn_rng_u32(rng);
        tn_rng_seed(&p->own, key, 64 + (uint64_t)p->r);
        p->rng = &p->own;
    }
}

/* sums[0..n) added over ranks with every rank's outcome rc */
static int reduce(const ranks_part *p, double *sums, size_t n, int rc, nn_error *err)
{
    if (p->P == 1)
        return rc;
    double *v = calloc((size_t)p->P + n, sizeof *v);
    if (!v) /* the others wait at the all-reduce; the program's exit aborts the job */
        return nn_fail(err, "evaluation: out of memory");
    memcpy(v + p->P, sums, n * sizeof *v);
    rc = nn__dist_sum_status(v, n, rc, err);
    memcpy(sums, v + p->P, n * sizeof *v);
    free(v);
    return rc;
}

int nn_latent_elbo(const nn_latent *m, const nn_dataset *d, size_t batch,
                   tn_rng *rng, nn_elbo *out, nn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m->log_lik)
        return nn_fail(err, "elbo: the model has no likelihood (log_lik is NULL)");
    if (!d->x)
        return nn_fail(err, "elbo: %s", "the data are bytes (x8): nn_data_floats() first");
    if (batch < 1 || d->n == 0)
        return nn_fail(err, "elbo: the batch size (%zu) and the dataset (%zu examples) must be "
                            "non-empty", batch, d->n);
    ranks_part pt;
    part(&pt, d, rng);
    const nn_dataset *mine = &pt.view;
    ad_tape *t = eval_tape(err);
    int rc = t ? 0 : -1;
    double sums[2] = {0, 0}; /* -Σ log p(x|z), Σ KL over this rank's rows */
    for (size_t b0 = 0; b0 < mine->n && rc == 0; b0 += batch) {
        size_t nb = mine->n - b0 < batch ? mine->n - b0 : batch;
        nn_batch b = batch_of(mine, b0, nb);
        ad_var *lv = NULL;
        ad_tape_reset(t);
        ad_var *mu = m->posterior(m->model, t, &b, &lv);
        if (mu && !lv) {
            rc = nn_fail(err, "elbo: the posterior gave no log-variance (a deterministic code)");
            break;
        }
        ad_var *ll = ad_sum(m->log_lik(m->model, t, &b, ad_sample_normal(mu, lv, pt.rng)));
        ad_var *kl = ad_sum(ad_kl_normal(mu, lv));
        if (!ll || !kl) {
            rc = nn_fail(err, "elbo: %s", ad_tape_error(t));
            break;
        }
        sums[0] -= ad_item(ll), sums[1] += ad_item(kl);
    }
    ad_tape_free(t);
    rc = reduce(&pt, sums, 2, rc, err);
    out->recon = sums[0] / (double)d->n, out->kl = sums[1] / (double)d->n;
    out->neg_elbo = out->recon + out->kl;
    return rc;
}

/* log (1/k) Σ e^(a_i), stably */
static double log_mean_exp(const double *a, int k)
{
    double m = -INFINITY, s = 0;
    for (int i = 0; i < k; i++)
        m = a[i] > m ? a[i] : m;
    if (!isfinite(m))
        return m;
    for (int i = 0; i < k; i++)
        s += exp(a[i] - m);
    return m + log(s / k);
}

double nn_latent_iwae(const nn_latent *m, const nn_dataset *d, int k,
                      tn_rng *rng, nn_error *err)
{
    if (!m->log_lik)
        return nn_fail(err, "iwae: the model has no likelihood (log_lik is NULL)"), NAN;
    if (!d->x)
        return nn_fail(err, "iwae: %s", "the data are bytes (x8): nn_data_floats() first"), NAN;
    if (k < 1 || d->n == 0)
        return nn_fail(err, "iwae: k = %d and %zu examples: expected k >= 1 and data", k, d->n), NAN;
    ranks_part pt;
    part(&pt, d, rng);
    rng = pt.rng;
    const nn_dataset *full = d;
    d = &pt.view; /* this rank's rows */
    /* B examples at a time, chunk samples of each per pass: 1024 rows, so
     * that a pass's decoder output stays in a core's L2 cache for the
     * likelihood to read (4096 rows took 1.2x as long) */
    const size_t J = m->latent, D = d->dim, B = 16;
    size_t chunk = 1024 / B;
    if (chunk > (size_t)k)
        chunk = (size_t)k;
    ad_tape *t = eval_tape(err);
    double *logw = malloc(B * (size_t)k * sizeof *logw), total = 0;
    double *pmq = malloc(chunk * B * sizeof *pmq);  /* log p(z) - log q(z|x) */
    double *sd = malloc(B * J * sizeof *sd);         /* σ of the block's examples */
    float *eps = malloc(chunk * B * J * sizeof *eps); /* a pass's ε, drawn in bulk */
    /* x and labels tiled, one row a sample, for a log_lik that takes z
     * (N x latent) only */
    int tile = !m->log_lik_samples;
    tn_real *X = tile ? malloc(chunk * B * D * sizeof *X) : NULL;
    int *L = tile && d->labels ? malloc(chunk * B * sizeof *L) : NULL;
    if (!t || !logw || !pmq || !sd || !eps || (tile && !X) || (tile && d->labels && !L)) {
        ad_tape_free(t), free(logw), free(pmq), free(sd), free(eps), free(X), free(L);
        double none = 0;
        return reduce(&pt, &none, 1, nn_fail(err, "iwae: out of memory"), err), NAN;
    }
    int failed = 0;
    for (size_t b0 = 0; b0 < d->n && !failed; b0 += B) {
        size_t nb = d->n - b0 < B ? d->n - b0 : B;
        nn_batch xb = batch_of(d, b0, nb);
        for (size_t s0 = 0; s0 < (size_t)k && !failed; s0 += chunk) {
            size_t ns = (size_t)k - s0 < chunk ? (size_t)k - s0 : chunk, rows = ns * nb;
            ad_tape_reset(t);
            ad_var *lv = NULL, *mu = m->posterior(m->model, t, &xb, &lv);
            ad_var *Z = tile ? ad_const_new(t, 2, (const size_t[]){rows, J})
                             : ad_const_new(t, 3, (const size_t[]){ns, nb, J});
            if (!mu || !lv || !Z) {
                failed = 1;
                if (mu && !lv)
                    ad_tape_fail(t, "the posterior gave no log-variance (a deterministic code)");
                break;
            }
            /* row s·nb + i: sample s of example i, z = μ + σ ε; log N(z; 0, I)
             * - log N(z; μ, σ²) = ½ Σ_j (ε² + log σ² - z²), the 2π's cancelling */
            const tn_real *M = ad_data(mu), *LV = ad_data(lv);
            for (size_t c = 0; c < nb * J; c++)
                sd[c] = exp(0.5 * LV[c]);
            tn_rng_normals(rng, eps, rows * J);
            for (size_t s = 0; s < ns; s++)
                for (size_t i = 0; i < nb; i++) {
                    size_t r = s * nb + i;
                    double acc = 0;
                    for (size_t j = 0; j < J; j++) {
                        double e = eps[r * J + j], z = M[i * J + j] + sd[i * J + j] * e;
                        ad_data(Z)[r * J + j] = (tn_real)z;
                        acc += e * e + LV[i * J + j] - z * z;
                    }
                    pmq[r] = 0.5 * acc;
                    if (X)
                        memcpy(X + r * D, xb.x.data + i * D, D * sizeof *X);
                    if (L)
                        L[r] = xb.labels[i];
                }
            nn_batch tiled = {tn_wrap(X, 2, (const size_t[]){rows, D}), L, rows};
            ad_var *lpx = m->log_lik(m->model, t, tile ? &tiled : &xb, Z); /* (rows) or (ns, nb) */
            if (lpx && ad_value(lpx)->size != rows) {
                char s[64];
                ad_tape_fail(t, "log_lik gave %s for %zu samples of %zu examples: expected %zu values",
                             tn_shape_str(ad_value(lpx), s, sizeof s), ns, nb, rows);
                lpx = NULL;
            }
            if (!lpx) {
                failed = 1;
                break;
            }
            for (size_t s = 0; s < ns; s++)
                for (size_t i = 0; i < nb; i++)
                    logw[i * (size_t)k + s0 + s] = ad_data(lpx)[s * nb + i] + pmq[s * nb + i];
        }
        for (size_t i = 0; i < nb && !failed; i++)
            total += log_mean_exp(logw + i * (size_t)k, k);
    }
    if (failed)
        nn_fail(err, "iwae: %s", ad_tape_error(t));
    ad_tape_free(t), free(logw), free(pmq), free(sd), free(eps), free(X), free(L);
    if (reduce(&pt, &total, 1, failed ? -1 : 0, err))
        return NAN;
    return total / (double)full->n;
}

int nn_latent_active_units(const nn_latent *m, const nn_dataset *d,
                           double threshold, double *var_out, nn_error *err)
{
    size_t J = m->latent;
    if (d->n == 0)
        return nn_fail(err, "active units: the dataset is empty");
    if (!d->x)
        return nn_fail(err, "active units: %s", "the data are bytes (x8): nn_data_floats() first");
    double *s1 = calloc(J, sizeof *s1), *s2 = calloc(J, sizeof *s2);
    ad_tape *t = eval_tape(err);
    int active = -1;
    if (!s1 || !s2 || !t) {
        nn_fail(err, "active units: out of memory");
        goto out;
    }
    for (size_t b0 = 0; b0 < d->n; b0 += 500) {
        size_t nb = d->n - b0 < 500 ? d->n - b0 : 500;
        nn_batch b = batch_of(d, b0, nb);
        ad_var *lv;
        ad_tape_reset(t);
        ad_var *code = m->posterior(m->model, t, &b, &lv);
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
