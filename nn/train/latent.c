/* latent.c: the evaluation of any latent-variable model given as nn_latent
 * callbacks: the negative ELBO in parts, the importance-weighted bound L_k
 * (Burda et al. 2015) and the active units. Gradients are off throughout.
 * Derivations: docs/models.md. */
#include "train_internal.h"
#include "latent.h"

#include <math.h>
#include <stdio.h>
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

/* With a sample hook: S samples of b's rows into *z ((S·N) x latent) and
 * log p(z) - log q(z | x) of each ((S·N)), on t; NULL with the tape's error. */
static ad_var *hook_pmq(const nn_latent *m, ad_tape *t, const nn_batch *b, size_t S, tn_rng *rng, ad_var **z)
{
    ad_var *lq = m->sample(m->model, t, b, S, rng, z);
    if (!lq || !*z)
        return NULL;
    ad_var *lp = m->log_prior ? m->log_prior(m->model, t, *z)
                              : ad_add_scalar(ad_scale(ad_sum_axis(ad_square(*z), -1), (tn_real)-0.5),
                                              (tn_real)(-0.5 * (double)m->latent * log(2 * 3.141592653589793)));
    size_t rows = S * b->n;
    if (ad_value(lq) && ad_value(lq)->size != rows) {
        char s[64];
        ad_tape_fail(t, "sample gave log q of %s for %zu samples of %zu examples: expected %zu values",
                     tn_shape_str(ad_value(lq), s, sizeof s), S, b->n, rows);
        return NULL;
    }
    return ad_sub(lp, ad_reshape(lq, 1, (const size_t[]){rows}));
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
        if (m->sample) { /* recon = -log p(x|z), kl ≈ log q(z|x) - log p(z), one z a row */
            ad_var *z = NULL, *pmq = hook_pmq(m, t, &b, 1, pt.rng, &z);
            ad_var *ll = pmq ? ad_sum(m->log_lik(m->model, t, &b, z)) : NULL;
            if (!ll) {
                rc = nn_fail(err, "elbo: %s", ad_tape_error(t));
                break;
            }
            sums[0] -= ad_item(ll), sums[1] -= ad_item(ad_sum(pmq));
            continue;
        }
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

/* One thread's buffers for L_k: its tape and a pass's samples. */
typedef struct {
    ad_tape *t;
    double *logw, *pmq, *sd; /* log w of a block; log p(z) - log q(z|x); σ */
    float *eps;              /* a pass's ε, drawn in bulk */
    tn_real *X;              /* x and labels tiled, one row a sample, for a */
    int *L;                  /* log_lik that takes z (N x latent) only */
} iw_work;

static void iw_work_free(iw_work *w)
{
    ad_tape_free(w->t), free(w->logw), free(w->pmq), free(w->sd), free(w->eps), free(w->X), free(w->L);
}

static int iw_work_new(iw_work *w, const nn_latent *m, const nn_dataset *d, size_t B, size_t chunk, int k)
{
    size_t J = m->latent, D = d->dim;
    int tile = !m->log_lik_samples;
    *w = (iw_work){ad_tape_new(0), malloc(B * (size_t)k * sizeof *w->logw),
                   malloc(chunk * B * sizeof *w->pmq), malloc(B * J * sizeof *w->sd),
                   malloc(chunk * B * J * sizeof *w->eps),
                   tile ? malloc(chunk * B * D * sizeof *w->X) : NULL,
                   tile && d->labels ? malloc(chunk * B * sizeof *w->L) : NULL};
    if (w->t)
        ad_set_grad_enabled(w->t, 0);
    if (!w->t || !w->logw || !w->pmq || !w->sd || !w->eps || (tile && !w->X) ||
        (tile && d->labels && !w->L)) {
        iw_work_free(w);
        return -1;
    }
    return 0;
}

/* A pass's ns samples of each of xb's nb rows from the posterior's
 * Gaussian: z ((ns·nb) x J, or (ns x nb x J) for a log_lik that takes
 * samples) and log p(z) - log q(z|x) into w->pmq. NULL with the tape's error. */
static ad_var *gaussian_draws(const nn_latent *m, const nn_batch *xb, size_t ns, tn_rng *rng, iw_work *w)
{
    const size_t J = m->latent, nb = xb->n, rows = ns * nb;
    ad_tape *t = w->t;
    ad_var *lv = NULL, *mu = m->posterior(m->model, t, xb, &lv);
    ad_var *Z = w->X ? ad_const_new(t, 2, (const size_t[]){rows, J})
                     : ad_const_new(t, 3, (const size_t[]){ns, nb, J});
    if (!mu || !lv || !Z) {
        if (mu && !lv)
            ad_tape_fail(t, "the posterior gave no log-variance (a deterministic code)");
        return NULL;
    }
    /* row s·nb + i: sample s of example i, z = μ + σ ε; log N(z; 0, I)
     * - log N(z; μ, σ²) = ½ Σ_j (ε² + log σ² - z²), the 2π's cancelling */
    const tn_real *M = ad_data(mu), *LV = ad_data(lv);
    for (size_t c = 0; c < nb * J; c++)
        w->sd[c] = exp(0.5 * LV[c]);
    tn_rng_normals(rng, w->eps, rows * J);
    for (size_t r = 0; r < rows; r++) {
        size_t i = r % nb;
        double acc = 0;
        for (size_t j = 0; j < J; j++) {
            double e = w->eps[r * J + j], z = M[i * J + j] + w->sd[i * J + j] * e;
            ad_data(Z)[r * J + j] = (tn_real)z;
            acc += e * e + LV[i * J + j] - z * z;
        }
        w->pmq[r] = 0.5 * acc;
    }
    return Z;
}

/* The same from the model's sample hook (and log_prior). */
static ad_var *hook_draws(const nn_latent *m, const nn_batch *xb, size_t ns, tn_rng *rng, iw_work *w)
{
    ad_var *Z = NULL, *pmq = hook_pmq(m, w->t, xb, ns, rng, &Z);
    if (!pmq)
        return NULL;
    for (size_t r = 0; r < ns * xb->n; r++)
        w->pmq[r] = ad_data(pmq)[r];
    return w->X ? Z : ad_reshape(Z, 3, (const size_t[]){ns, xb->n, m->latent});
}

/* Σ over the block's nb examples of log (1/k) Σ_i w_i, in passes of at most
 * chunk samples of each; -1 with the tape's error on failure. */
static int iw_block(const nn_latent *m, const nn_batch *xb, int k, size_t chunk, tn_rng *rng,
                    iw_work *w, double *sum)
{
    const size_t D = xb->x.shape[1], nb = xb->n;
    ad_tape *t = w->t;
    for (size_t s0 = 0; s0 < (size_t)k; s0 += chunk) {
        size_t ns = (size_t)k - s0 < chunk ? (size_t)k - s0 : chunk, rows = ns * nb;
        ad_tape_reset(t);
        ad_var *Z = m->sample ? hook_draws(m, xb, ns, rng, w) : gaussian_draws(m, xb, ns, rng, w);
        if (!Z)
            return -1;
        for (size_t r = 0; w->X && r < rows; r++) { /* x (and its label) once a sample */
            memcpy(w->X + r * D, xb->x.data + (r % nb) * D, D * sizeof *w->X);
            if (w->L)
                w->L[r] = xb->labels[r % nb];
        }
        nn_batch tiled = {tn_wrap(w->X, 2, (const size_t[]){rows, D}), w->L, rows};
        ad_var *lpx = m->log_lik(m->model, t, w->X ? &tiled : xb, Z); /* (rows) or (ns, nb) */
        if (lpx && ad_value(lpx)->size != rows) {
            char s[64];
            ad_tape_fail(t, "log_lik gave %s for %zu samples of %zu examples: expected %zu values",
                         tn_shape_str(ad_value(lpx), s, sizeof s), ns, nb, rows);
            lpx = NULL;
        }
        if (!lpx)
            return -1;
        for (size_t s = 0; s < ns; s++)
            for (size_t i = 0; i < nb; i++)
                w->logw[i * (size_t)k + s0 + s] = ad_data(lpx)[s * nb + i] + w->pmq[s * nb + i];
    }
    *sum = 0;
    for (size_t i = 0; i < nb; i++)
        *sum += log_mean_exp(w->logw + i * (size_t)k, k);
    return 0;
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
    const nn_dataset *full = d;
    d = &pt.view; /* this rank's rows */
    /* Blocks of B examples, each block on one thread with its own generator
     * (stream = the block's number), so the bound does not depend on the
     * thread count; chunk samples of each example per pass: 1024 rows
     * (4096 were slower; from 256 to 2048 the decoder's product and the
     * likelihood took the same time a row, docs/results.md). A thread's products
     * run on that thread alone (tn_matmul inside a parallel region): one
     * block per thread left the second thread waiting less than one product
     * split over both. */
    const size_t B = 16, nblocks = (d->n + B - 1) / B;
    size_t chunk = 1024 / B < (size_t)k ? 1024 / B : (size_t)k;
    uint64_t key = (uint64_t)tn_rng_u32(pt.rng) << 32;
    key |= tn_rng_u32(pt.rng);
    double *sums = malloc((nblocks ? nblocks : 1) * sizeof *sums), total = 0;
    size_t bad = nblocks; /* the first block that failed */
    char why[256] = "out of memory";
    int threads = tn_get_threads();
    if ((size_t)threads > nblocks) /* no more threads than blocks, and at least one (a */
        threads = nblocks ? (int)nblocks : 1; /* rank under MPI may have no rows) */
    if (sums) {
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
        {
            iw_work w;
            int ok = iw_work_new(&w, m, d, B, chunk, k) == 0;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
            for (size_t b = 0; b < nblocks; b++) {
                size_t first;
#ifdef _OPENMP
#pragma omp atomic read
#endif
                first = bad;
                if (first < b) /* a block before this one failed: the rest is moot */
                    continue;
                tn_rng r;
                tn_rng_seed(&r, key, b);
                size_t nb = d->n - b * B < B ? d->n - b * B : B;
                nn_batch xb = batch_of(d, b * B, nb);
                if (ok && iw_block(m, &xb, k, chunk, &r, &w, &sums[b]) == 0)
                    continue;
#ifdef _OPENMP
#pragma omp critical
#endif
                if (b < bad) {
                    snprintf(why, sizeof why, "%s", ok ? ad_tape_error(w.t) : "out of memory");
#ifdef _OPENMP
#pragma omp atomic write
#endif
                    bad = b;
                }
            }
            if (ok)
                iw_work_free(&w);
        }
    }
    for (size_t b = 0; sums && b < nblocks && bad == nblocks; b++)
        total += sums[b];
    int failed = !sums || bad < nblocks;
    free(sums);
    if (failed)
        nn_fail(err, "iwae: %s", why);
    if (reduce(&pt, &total, 1, failed ? -1 : 0, err))
        return NAN;
    return total / (double)full->n;
}

int nn_latent_active_units(const nn_latent *m, const nn_dataset *d,
                           double threshold, double *var_out, nn_error *err)
{
    size_t J = 0; /* the posterior mean's width (a hierarchy's may be less than m->latent) */
    if (d->n == 0)
        return nn_fail(err, "active units: the dataset is empty");
    if (!d->x)
        return nn_fail(err, "active units: %s", "the data are bytes (x8): nn_data_floats() first");
    double *s1 = NULL, *s2 = NULL;
    ad_tape *t = eval_tape(err);
    int active = -1;
    if (!t)
        goto out;
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
        if (!J && !(J = ad_dim(code, -1), s1 = calloc(J + 1, sizeof *s1), s2 = calloc(J + 1, sizeof *s2))) {
            nn_fail(err, "active units: out of memory");
            goto out;
        }
        if (ad_value(code)->ndim != 2 || ad_dim(code, 0) != nb || ad_dim(code, 1) != J || J > m->latent) {
            char sh[64];
            nn_fail(err, "active units: the posterior's mean is %s, expected (%zux%zu) with at most %zu columns",
                    tn_shape_str(ad_value(code), sh, sizeof sh), nb, J, m->latent);
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
