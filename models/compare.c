/* compare.c: model_compare (compare.h): every variant trained with every
 * seed through nn_train, evaluated through its latent hooks (the built-in
 * ones through model_latent), the table, results.json and the pictures. */
#define _POSIX_C_SOURCE 200809L

#include "compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare_internal.h"
#include "model_internal.h"
#include "train_internal.h"

#define M MODEL__CMP_METRICS

model_compare_options model_compare_defaults(void)
{
    return (model_compare_options){.out = "out/compare", .seeds = 3, .epochs = 10, .batch = 128, .lr = 1e-3,
                                   .hidden = "400", .latent = 20, .beta = 4, .k = 5, .noise = 0.25,
                                   .gauss = 0.25, .clip = 1, .iw = 50, .probe_limit = 10000,
                                   .time_steps = 30, .data = "", .log = nn_log_stdio};
}

model_compare_options model_compare_setup(const nn_setup *s)
{
    model_compare_options o = model_compare_defaults();
    o.out = s->out, o.seeds = 1, o.epochs = s->cfg.epochs, o.batch = (long)s->cfg.batch, o.lr = s->lr;
    o.data = s->data, o.log = s->cfg.log, o.log_ctx = s->cfg.log_ctx;
    return o;
}

int model_compare_list(const char *list, model_compare_variant *v, int max, nn_error *err)
{
    int n = 0;
    if (!list || !*list)
        return nn_fail(err, "variants: expected a list of names like vae,iwae, got \"\"");
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        const char *name = NULL;
        for (int i = 0; model_variants[i]; i++)
            if (strlen(model_variants[i]) == len && !strncmp(p, model_variants[i], len))
                name = model_variants[i];
        if (!name)
            return nn_fail(err, "variants: \"%.*s\" is not one of vae, beta-vae, iwae, cvae, ae, sparse, "
                                "sparse-hidden, dae-mask, dae-gauss, dae-sp, conv-vae", (int)len, p);
        for (int i = 0; i < n; i++)
            if (!strcmp(v[i].name, name))
                return nn_fail(err, "variants: %s is named twice", name);
        if (n == max)
            return nn_fail(err, "variants: more than %d names", max);
        v[n++] = (model_compare_variant){.name = name};
        if (!p[len])
            return n;
        p += len + 1;
    }
}

/* ---- a run's model: a built-in one or the user's, one interface ---------- */

typedef struct {
    void *m;         /* model * (built-in) or the user's struct */
    nn_params *p;
    nn_latent l;
    nn_loss_fn loss;
    nn_eval_fn eval; /* the built-ins' test numbers in parts; NULL: the loss */
    model_config c;  /* built-in */
} live;

static int builtin(const model_compare_variant *v) { return v->size == 0; }

/* The built-in variant's model with the comparison's options. */
static int variant_config(const char *name, const model_compare_options *o, const nn_dataset *d,
                          model_config *c, nn_error *err)
{
    if (model_variant(name, c))
        return nn_fail(err, "%s: not a built-in variant (one of vae, beta-vae, iwae, cvae, ae, sparse, "
                            "sparse-hidden, dae-mask, dae-gauss, dae-sp, conv-vae), and no model of its own "
                            "(size, init, loss)", name);
    if (model_hidden_parse(o->hidden, c))
        return nn_fail(err, "hidden: expected widths like 400 or 500,500, got \"%s\"", o->hidden);
    c->input_dim = d->dim, c->latent = (size_t)o->latent;
    if (d->rows == 0) /* continuous data */
        c->likelihood = MODEL_LIK_GAUSSIAN, c->recon = MODEL_RECON_MSE;
    if (c->beta != 1) /* the beta-vae */
        c->beta = o->beta;
    if (c->iw_k > 1) /* the iwae */
        c->iw_k = (int)o->k;
    if (c->conv_rows)
        c->conv_rows = d->rows, c->conv_cols = d->cols;
    c->noise_level = c->noise == MODEL_NOISE_GAUSSIAN ? o->gauss : o->noise;
    c->noise_clip = o->clip;
    if (c->kind == MODEL_VAE && c->classes && !d->labels)
        return nn_fail(err, "%s: the data have no labels to condition on", name);
    if (c->conv_rows && !d->rows)
        return nn_fail(err, "%s: the data are not images (a CSV); a convolutional body needs rows and columns",
                       name);
    return 0;
}

static void unmake(const model_compare_variant *v, live *x)
{
    if (builtin(v))
        model_free(x->m);
    else if (x->m) {
        if (v->done)
            v->done(x->m);
        nn_params_free(x->p);
        free(x->m);
    }
    x->m = NULL, x->p = NULL;
}

/* A fresh model of variant v, its weights from init. */
static int make(const model_compare_variant *v, const model_compare_options *o, const nn_dataset *d,
                tn_rng init, live *x, nn_error *err)
{
    *x = (live){0};
    if (builtin(v)) {
        model *m;
        if (variant_config(v->name, o, d, &x->c, err) || !(m = model_new(&x->c, &init, err)))
            return -1;
        x->m = m, x->p = m->params, x->loss = model_train_loss, x->eval = model_train_eval;
        x->l = model_latent(m, d->rows, d->cols);
        return 0;
    }
    if (v->size < sizeof(nn_params *) || !v->init || !v->loss)
        return nn_fail(err, "%s: a model of your own needs size (at least a pointer), init and loss", v->name);
    if (!(x->m = calloc(1, v->size)))
        return nn_fail(err, "%s: out of memory", v->name);
    if (v->init(x->m, init, err) || !(x->p = *(nn_params **)x->m)) {
        if (!x->p)
            nn_fail(err, "%s: init left no parameters in the struct's first member", v->name);
        unmake(v, x);
        return -1;
    }
    x->loss = v->loss, x->l = v->latent, x->l.model = x->m;
    if (!x->l.rows)
        x->l.rows = d->rows, x->l.cols = d->cols;
    return 0;
}

static int generative(const live *x) { return x->l.log_lik != NULL || x->l.sample != NULL; }

/* ---- evaluation through the hooks ------------------------------------------ */

/* The codes of the first `limit` rows of d (posterior means), with labels. */
static nn_dataset *codes_of(const nn_latent *l, const nn_dataset *d, size_t limit, nn_error *err)
{
    size_t n = d->n < limit ? d->n : limit, J = 0, B = 500; /* J: the posterior mean's width */
    nn_dataset *c = calloc(1, sizeof *c);
    ad_tape *t = ad_tape_new(0);
    tn_real *buf = malloc(B * d->dim * sizeof *buf);
    int rc = 0;
    if (!c || !t || !buf || (d->labels && !(c->labels = malloc(n * sizeof(int) + 1))))
        rc = nn_fail(err, "codes: out of memory");
    if (!rc && !l->posterior)
        rc = nn_fail(err, "codes: the model has no posterior hook");
    ad_set_grad_enabled(t, 0);
    for (size_t b0 = 0; !rc && b0 < n; b0 += B) {
        size_t nb = n - b0 < B ? n - b0 : B;
        const int *lab = d->labels ? d->labels + b0 : NULL;
        nn_batch b = {tn_wrap((tn_real *)nn_data_rows(d, b0, nb, buf), TN_DIMS(nb, d->dim)), lab, nb};
        ad_var *lv;
        ad_tape_reset(t);
        ad_var *z = l->posterior(l->model, t, &b, &lv);
        if (z && !J && !(c->x = malloc(n * (J = ad_dim(z, -1)) * sizeof *c->x + 1))) {
            rc = nn_fail(err, "codes: out of memory");
            break;
        }
        c->n = n, c->dim = J;
        if (!z || ad_dim(z, 0) != nb || ad_dim(z, 1) != J) {
            rc = nn_fail(err, "codes: %s", z ? "the posterior's mean is not (rows x latent)" : ad_tape_error(t));
            break;
        }
        memcpy(c->x + b0 * J, ad_data(z), nb * J * sizeof *c->x);
        if (lab)
            memcpy(c->labels + b0, lab, nb * sizeof(int));
    }
    free(buf), ad_tape_free(t);
    if (rc)
        nn_dataset_free(c), c = NULL;
    return c;
}

/* softmax regression on codes: W (10 x J), b (10) */
typedef struct {
    nn_params *p;
    nn_linear l;
} probe;

static ad_var *probe_loss(void *pp, ad_tape *t, const nn_batch *b, nn_step *s)
{
    probe *q = pp;
    (void)s;
    return ad_mean(ad_cross_entropy(nn_forward(&q->l, ad_const(t, &b->x)), b->labels));
}

/* The test accuracy of a linear classifier of the codes, trained with
 * this library on the (standardized) training codes; NaN without labels. */
static int probe_accuracy(const nn_latent *l, const nn_dataset *train, const nn_dataset *test, long limit,
                          double *acc, nn_error *err)
{
    *acc = NAN;
    if (!train->labels || !test->labels)
        return 0;
    int classes = 0;
    for (size_t i = 0; i < train->n; i++)
        classes = train->labels[i] + 1 > classes ? train->labels[i] + 1 : classes;
    nn_dataset *tr = codes_of(l, train, (size_t)limit, err), *te = tr ? codes_of(l, test, test->n, err) : NULL;
    double *mean = malloc(l->latent * sizeof *mean), *sd = malloc(l->latent * sizeof *sd);
    probe q = {nn_params_new(), {0}};
    tn_rng r;
    tn_rng_seed(&r, 7, 7);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-2);
    nn_optim *opt = NULL;
    ad_tape *t = NULL;
    int rc = !te ? -1 : !mean || !sd || !q.p ? nn_fail(err, "probe: out of memory") : 0;
    if (!rc) {
        nn_data_stats(tr, mean, sd);
        nn_data_standardize(tr, mean, sd);
        nn_data_standardize(te, mean, sd);
        nn_train_config tc = nn_train_defaults();
        tc.epochs = 20, tc.batch = 256, tc.log = NULL, tc.seed = 7;
        rc = nn_linear_init(&q.l, q.p, "probe", tr->dim, (size_t)classes, err) ||
             nn_params_alloc_init(q.p, NN_INIT_TORCH, 0, &r, err) || !(opt = nn_optim_new(&oc, q.p, err)) ||
             nn_train(q.p, opt, probe_loss, &q, tr, NULL, &tc, NULL, err) || !(t = ad_tape_new(0)) ? -1 : 0;
    }
    if (!rc) {
        ad_set_grad_enabled(t, 0);
        tn_tensor x = tn_wrap(te->x, TN_DIMS(te->n, te->dim));
        const int *y = ad_argmax(nn_forward(&q.l, ad_const(t, &x)), -1);
        size_t right = 0;
        for (size_t i = 0; y && i < te->n; i++)
            right += y[i] == te->labels[i];
        if (y)
            *acc = (double)right / (double)te->n;
        else
            rc = nn_fail(err, "probe: %s", ad_tape_error(t));
    }
    if (rc && !err->msg[0])
        nn_fail(err, "probe: out of memory");
    ad_tape_free(t), nn_optim_free(opt), nn_params_free(q.p), free(mean), free(sd);
    nn_dataset_free(tr), nn_dataset_free(te);
    return rc;
}

/* The median of the "seconds" of a metrics file's lines; NaN for none. */
static double median_seconds(const char *metrics)
{
    FILE *f = fopen(metrics, "r");
    double v[4096];
    int n = 0;
    char line[8192];
    while (f && n < 4096 && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seconds");
        if (cJSON_IsNumber(s))
            v[n++] = s->valuedouble;
        cJSON_Delete(j);
    }
    if (f)
        fclose(f);
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen epochs */
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double x = v[j];
            v[j] = v[j - 1], v[j - 1] = x;
        }
    return n ? v[n / 2] : NAN;
}

/* Every column of a trained run, through its hooks. */
static int evaluate(const live *x, const model_compare_options *o, const nn_dataset *train,
                    const nn_dataset *test, const char *metrics, uint64_t seed, model__cmp_run *r, nn_error *err)
{
    tn_rng evr;
    tn_rng_seed(&evr, seed, 6);
    for (int k = 0; k < M; k++)
        r->v[k] = NAN;
    static const model_noise noise[3] = {MODEL_NOISE_MASK, MODEL_NOISE_SALT_PEPPER, MODEL_NOISE_GAUSSIAN};
    for (int k = 0; k < 4; k++) { /* clean, then each corruption */
        model_config nc = model_defaults(MODEL_AE);
        if (k)
            nc.noise = noise[k - 1], nc.noise_level = k == 3 ? o->gauss : o->noise;
        nc.noise_clip = o->clip;
        if (x->l.decode && /* without a decode hook: no reconstruction columns */
            model__reconstruction(&x->l, test, k ? &nc : NULL, &evr, &r->v[2 * k], &r->v[2 * k + 1], err))
            return -1;
    }
    if (generative(x)) {
        nn_elbo e;
        if (nn_latent_elbo(&x->l, test, 500, &evr, &e, err))
            return -1;
        r->v[8] = e.neg_elbo, r->v[9] = e.kl;
        if (o->iw > 0 && isnan(r->v[10] = nn_latent_iwae(&x->l, test, (int)o->iw, &evr, err)))
            return -1;
    }
    int active = nn_latent_active_units(&x->l, test, 0.01, NULL, err);
    nn_dataset *codes = active < 0 ? NULL : codes_of(&x->l, test, test->n, err);
    if (!codes)
        return -1;
    double mean_code = 0;
    for (size_t i = 0; i < codes->n * codes->dim; i++)
        mean_code += codes->x[i] / (double)(codes->n * codes->dim);
    nn_dataset_free(codes);
    r->v[11] = active, r->v[12] = mean_code;
    if (probe_accuracy(&x->l, train, test, o->probe_limit, &r->v[13], err))
        return -1;
    r->v[14] = (double)nn_params_size(x->p), r->v[15] = median_seconds(metrics);
    r->v[16] = (double)o->epochs;
    return 0;
}

/* ---- one run ------------------------------------------------------------------- */

/* What makes a run the run asked for: every option that changes its
 * numbers and the data's identity. A stored run is reused only when this
 * text is the same. */
static void run_identity(char *buf, size_t len, const char *name, uint64_t seed, const model_compare_options *o,
                         const nn_dataset *train, const nn_dataset *test)
{
    snprintf(buf, len, "model=%s seed=%llu epochs=%ld batch=%ld lr=%.17g hidden=%s latent=%ld beta=%.17g "
                       "k=%ld noise=%.17g gauss=%.17g clip=%d iw=%ld probe=%ld data=%s; %zu train / %zu test used",
             name, (unsigned long long)seed, o->epochs, o->batch, o->lr, o->hidden, o->latent, o->beta, o->k,
             o->noise, o->gauss, o->clip, o->iw, o->probe_limit, o->data, train->n, test->n);
}

/* A stored checkpoint that is not this run's: refused, naming the difference. */
static int same_run(const char *ckpt, const char *id, nn_error *err)
{
    nn_meta meta = NN_META_INIT;
    if (!nn_train_resumable(ckpt))
        return 0;
    if (nn_load_meta(ckpt, &meta, err))
        return -1;
    char d[8000] = "no options stored";
    const char *was = nn_meta_get(&meta, "compare.identity");
    if (was)
        model__cmp_first_difference(id, was, d, sizeof d);
    int rc = !was || strcmp(was, id) != 0 ? nn_fail(err, "%s: made with other options or data (%s); give "
                                                         "another out folder, or remove the file to train this "
                                                         "run again", ckpt, d)
                                          : 0;
    nn_meta_free(&meta);
    return rc;
}

/* Variant v with seed s: its numbers from OUT/runs/NAME-sS.json when they
 * are there, else trained (or resumed) and evaluated; the model in *x for
 * the pictures. */
static int run(const model_compare_variant *v, int vi, uint64_t seed, const model_compare_options *o,
               const nn_dataset *train, const nn_dataset *test, model__cmp_run *r, live *x, nn_error *err)
{
    char base[4200], ckpt[4300], metr[4300], res[4300], plot[4300], id[10000], why[10100];
    snprintf(base, sizeof base, "%s/runs/%s-s%llu", o->out, v->name, (unsigned long long)seed);
    snprintf(ckpt, sizeof ckpt, "%s.safetensors", base);
    snprintf(metr, sizeof metr, "%s.jsonl", base);
    snprintf(res, sizeof res, "%s.json", base);
    snprintf(plot, sizeof plot, "%s.svg", base);
    r->variant = vi, r->name = v->name, r->seed = seed;
    run_identity(id, sizeof id, v->name, seed, o, train, test);
    tn_rng init;
    tn_rng_seed(&init, seed, 3);
    if (make(v, o, train, init, x, err))
        return -1;
    int stored = model__cmp_read(res, id, generative(x), o->iw, r, why, sizeof why);
    if (stored < 0)
        return nn_fail(err, "%s: %s; give another out folder, or remove the file to train this run again", res,
                       why);
    if (!stored) { /* done before, with these options on this data: its weights for the pictures */
        nn_meta meta = NN_META_INIT;
        int rc = nn_load(ckpt, x->p, NULL, &meta, err);
        nn_meta_free(&meta);
        nn_logf(o->log, o->log_ctx, NN_LOG_INFO, "%s, seed %llu: done before (%s)", v->name,
                (unsigned long long)seed, res);
        return rc;
    }
    nn_meta meta = NN_META_INIT;
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, o->lr);
    nn_optim *opt = NULL;
    int rc = same_run(ckpt, id, err) || !(opt = nn_optim_new(&oc, x->p, err)) ? -1 : 0;
    if (!rc && ((builtin(v) && model_config_to_meta(&x->c, &meta)) || nn_meta_set(&meta, "compare.identity", id)))
        rc = nn_fail(err, "out of memory");
    if (!rc) {
        nn_train_config tc = nn_train_defaults();
        tc.epochs = (int)o->epochs, tc.batch = (size_t)o->batch, tc.seed = seed, tc.checkpoint = ckpt;
        tc.resume = nn_train_resumable(ckpt), tc.metrics = metr, tc.plot = plot, tc.meta = &meta, tc.eval = x->eval;
        tc.log = o->log, tc.log_ctx = o->log_ctx;
        nn_logf(o->log, o->log_ctx, NN_LOG_INFO, "== %s, seed %llu: %zu parameters", v->name,
                (unsigned long long)seed, nn_params_size(x->p));
        if (nn_train(x->p, opt, x->loss, x->m, train, test, &tc, NULL, err) ||
            evaluate(x, o, train, test, metr, seed, r, err))
            rc = nn_fail(err, "%s, seed %llu: %s", v->name, (unsigned long long)seed, strcpy(why, err->msg));
    }
    cJSON *j = rc ? NULL : model__cmp_json(r, id);
    char *text = j ? cJSON_Print(j) : NULL;
    nn_atomic a;
    if (!rc && nn_dist_rank() == 0 && /* under MPI, rank 0 alone writes */
        (!text || nn_atomic_open(&a, res, err) || nn_atomic_commit(&a, fputs(text, a.f) >= 0, err)))
        rc = text ? -1 : nn_fail(err, "out of memory");
    cJSON_Delete(j), free(text), nn_optim_free(opt), nn_meta_free(&meta);
    return rc;
}

/* ---- speed in one sitting ------------------------------------------------------- */

/* The epochs' own seconds depend on whatever else ran while each model
 * trained. Here every variant's training step is timed in one sitting: for
 * each of 3 rounds, each variant in turn runs time_steps steps (a fresh
 * model of seed 1 and optimizer, the first rows of the training set).
 * timed[i]: the median over the rounds, as seconds an epoch of the whole
 * training set. */
static int time_steps(const model_compare_options *o, const model_compare_variant *v, int n,
                      const nn_dataset *train, double *timed, nn_error *err)
{
    double(*secs)[3] = malloc((size_t)n * sizeof *secs);
    size_t rows = (size_t)(o->time_steps * o->batch), per_epoch = (train->n + (size_t)o->batch - 1) /
                                                                  (size_t)o->batch;
    nn_dataset part = nn_data_view(train, 0, rows < train->n ? rows : train->n);
    long steps = (long)((part.n + (size_t)o->batch - 1) / (size_t)o->batch);
    if (!secs)
        return nn_fail(err, "timing: out of memory");
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < n; i++) {
            live x;
            tn_rng init;
            tn_rng_seed(&init, 1, 3);
            nn_optim_config oc = nn_optim_defaults(NN_ADAM, o->lr);
            nn_optim *opt = make(&v[i], o, train, init, &x, err) ? NULL : nn_optim_new(&oc, x.p, err);
            nn_train_config tc = nn_train_defaults();
            tc.epochs = 1, tc.batch = (size_t)o->batch, tc.seed = 1, tc.log = NULL;
            nn_train_result res;
            int rc = !opt || nn_train(x.p, opt, x.loss, x.m, &part, NULL, &tc, &res, err);
            nn_optim_free(opt), unmake(&v[i], &x);
            if (rc) {
                free(secs);
                return nn_fail(err, "timing %s: %s", v[i].name, strcpy((char[sizeof err->msg]){0}, err->msg));
            }
            secs[i][round] = res.seconds / (double)steps * (double)per_epoch;
        }
    for (int i = 0; i < n; i++) {
        double *s = secs[i], lo = fmin(s[0], fmin(s[1], s[2])), hi = fmax(s[0], fmax(s[1], s[2]));
        timed[i] = s[0] + s[1] + s[2] - lo - hi; /* the median of three */
        nn_logf(o->log, o->log_ctx, NN_LOG_INFO, "%s: %.2f s an epoch (timed: %ld steps, 3 interleaved rounds, "
                "%.2f to %.2f)", v[i].name, timed[i], steps, lo, hi);
    }
    free(secs);
    return 0;
}

/* ---- the report -------------------------------------------------------------------- */

static int write_table(const model_compare_options *o, const model_compare_variant *v, int n,
                       const model__cmp_run *r, int n_runs, size_t dim, const double *timed, nn_error *err)
{
    nn_atomic a;
    if (model__cmp_open(&a, o, "report.md", err))
        return -1;
    FILE *f = a.f;
    fprintf(f, "# Autoencoder variants compared\n\n%s; architecture %zu-%s-%ld, Adam %g, batch %ld, "
               "%ld epochs, %ld seed%s (mean ± sd); masking and salt-and-pepper noise %g, Gaussian "
               "noise sd %g%s; L_k with k = %ld; the linear probe is softmax regression on %ld "
               "training codes. Best of each column in bold.\n\n",
            o->data, dim, o->hidden, o->latent, o->lr, o->batch, o->epochs, o->seeds, o->seeds > 1 ? "s" : "",
            o->noise, o->gauss, o->clip ? ", clipped to [0, 1]" : " (unclipped)", o->iw, o->probe_limit);
    fprintf(f, "| model |");
    for (int k = 0; k < M - 1; k++)
        fprintf(f, " %s |", model__cmp_metrics[k].head);
    fprintf(f, "%s\n| --- |", timed ? " s/epoch timed |" : "");
    for (int k = 0; k < M - 1 + (timed != NULL); k++)
        fprintf(f, " --- |");
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "| %s |", v[i].name);
        for (int k = 0; k < M - 1; k++) {
            double m, sd, best = NAN, bm, bsd;
            int c, bc;
            model__cmp_mean(r, n_runs, i, k, &m, &sd, &c);
            for (int j = 0; j < n && k != 12 && k != 14; j++) { /* the column's best */
                model__cmp_mean(r, n_runs, j, k, &bm, &bsd, &bc);
                if (bc && (isnan(best) || (model__cmp_metrics[k].higher ? bm > best : bm < best)))
                    best = bm;
            }
            const char *b = m == best ? "**" : "";
            if (!c)
                fprintf(f, " — |");
            else if (k == 14 || k == 11)
                fprintf(f, " %s%.0f%s |", b, m, b);
            else
                fprintf(f, " %s%.*f ± %.*f%s |", b, k == 13 ? 4 : 2, m, k == 13 ? 4 : 2, sd, b);
        }
        if (timed)
            fprintf(f, " %.2f |", timed[i]);
        fprintf(f, "\n");
    }
    fprintf(f, "\nBCE and SE: reconstruction error per image (nats, squared error) from clean input "
               "and from input with each corruption, against the clean image. -ELBO, KL and L_k "
               "(an estimate of log p(x), higher is better) for the generative models. active: "
               "latent units whose posterior mean varies by more than 0.01. s/epoch: the median "
               "of each run's epochs while it trained%s. Pictures: "
               "reconstructions.png (the test images, then a row per model), samples.png (a row "
               "per generative model)%s.\n",
            timed ? "; s/epoch timed: every model's step timed in one sitting, the models "
                    "interleaved (3 rounds, the median), as seconds an epoch: the column to compare "
                    "speeds by" : "",
            o->latent == 2 ? ", latent_MODEL.svg (2-D codes by label)" : "");
    return nn_atomic_commit(&a, !ferror(f), err);
}

static int write_json(const model_compare_options *o, const model_compare_variant *v, int n,
                      const model__cmp_run *r, int n_runs, const double *timed, nn_error *err)
{
    cJSON *root = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(root, "runs");
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddStringToObject(root, "data", o->data);
    for (int i = 0; i < n_runs; i++)
        cJSON_AddItemToArray(runs, model__cmp_json(&r[i], NULL));
    for (int i = 0; i < n; i++) {
        cJSON *mo = cJSON_AddObjectToObject(sum, v[i].name);
        for (int k = 0; k < M; k++) {
            double m, sd;
            int c;
            model__cmp_mean(r, n_runs, i, k, &m, &sd, &c);
            if (!c)
                continue;
            cJSON *x = cJSON_AddObjectToObject(mo, model__cmp_metrics[k].key);
            cJSON_AddNumberToObject(x, "mean", m);
            cJSON_AddNumberToObject(x, "sd", sd);
        }
        if (timed)
            cJSON_AddNumberToObject(mo, "sec_epoch_timed", timed[i]);
    }
    char *text = cJSON_Print(root);
    nn_atomic a;
    int rc = !text ? nn_fail(err, "results.json: out of memory")
                   : model__cmp_open(&a, o, "results.json", err) || nn_atomic_commit(&a, fputs(text, a.f) >= 0, err)
                   ? -1 : 0;
    free(text), cJSON_Delete(root);
    return rc;
}

/* The same test images reconstructed by every model (a row each), and a
 * row of prior samples per generative model. */
static int write_pictures(const model_compare_options *o, const model_compare_variant *v, live *x, int n,
                          const nn_dataset *test, const char **rec_rows, int *n_rec, const char **smp_rows,
                          int *n_smp, nn_error *err)
{
    size_t D = test->dim, per = test->n < 10 ? test->n : 10; /* a row of 10, or what there is */
    tn_real *rec = malloc((size_t)(n + 1) * per * D * sizeof *rec);
    tn_real *smp = malloc((size_t)n * per * D * sizeof *smp + 1);
    ad_tape *t = ad_tape_new(0);
    tn_rng r;
    tn_rng_seed(&r, 5, 5);
    int rc = !rec || !smp || !t ? nn_fail(err, "pictures: out of memory") : 0, ns = 0;
    ad_set_grad_enabled(t, 0);
    if (!rc)
        memcpy(rec, test->x, per * D * sizeof *rec);
    static const int digits[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    nn_batch b = {tn_wrap(test->x, TN_DIMS(per, D)), test->labels, per};
    int nr = 0; /* rows drawn: the models with posterior and decode hooks */
    rec_rows[0] = "input";
    for (int i = 0; !rc && i < n; i++) {
        const nn_latent *l = &x[i].l;
        ad_var *lv, *y;
        ad_tape_reset(t);
        if (!l->posterior || !l->decode)
            continue;
        if (!(y = l->decode(l->model, t, l->posterior(l->model, t, &b, &lv), test->labels))) {
            rc = nn_fail(err, "pictures, %s: %s", v[i].name, ad_tape_error(t));
            break;
        }
        memcpy(rec + (size_t)++nr * per * D, ad_data(y), per * D * sizeof *rec);
        rec_rows[nr] = v[i].name;
        if (!generative(&x[i]))
            continue;
        ad_tape_reset(t);
        ad_var *z = ad_randn(t, TN_DIMS(per, l->latent), &r);
        if (z && l->prior)
            l->prior(l->model, &r, ad_value(z)->data, per);
        if (!(y = l->decode(l->model, t, z, l->classes ? digits : NULL))) {
            rc = nn_fail(err, "pictures, %s: %s", v[i].name, ad_tape_error(t));
            break;
        }
        smp_rows[ns] = v[i].name;
        memcpy(smp + (size_t)ns++ * per * D, ad_data(y), per * D * sizeof *smp);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/reconstructions.png", o->out);
    if (!rc && test->rows && nn_png_grid(path, rec, (size_t)(nr + 1) * per, test->rows, test->cols, per, 2, err))
        rc = -1;
    char svg[4300];
    snprintf(svg, sizeof svg, "%s/reconstructions.svg", o->out); /* the same, each row named */
    if (!rc && test->rows &&
        nn__fig_grid(svg, path, "the test images (input), then each model's reconstructions (seed 1)", rec_rows,
                     (size_t)nr + 1, NULL, 0, err))
        rc = -1;
    snprintf(path, sizeof path, "%s/samples.png", o->out);
    snprintf(svg, sizeof svg, "%s/samples.svg", o->out);
    if (!rc && test->rows && ns &&
        (nn_png_grid(path, smp, (size_t)ns * per, test->rows, test->cols, per, 2, err) ||
         nn__fig_grid(svg, path, "samples of the prior, a row per generative model (seed 1)", smp_rows,
                      (size_t)ns, NULL, 0, err)))
        rc = -1;
    for (int i = 0; !rc && o->latent == 2 && test->labels && i < n; i++) {
        snprintf(path, sizeof path, "%s/latent_%s.svg", o->out, v[i].name);
        if (x[i].l.latent == 2 && x[i].l.posterior && nn_pic_scatter(path, &x[i].l, test, err))
            rc = -1;
    }
    *n_rec = test->rows ? nr + 1 : 0, *n_smp = test->rows ? ns : 0;
    free(rec), free(smp), ad_tape_free(t);
    return rc;
}

/* Every variant's learning curves (seed 1) overlaid: OUT/curves.svg. */
static int write_curves(const model_compare_options *o, const model_compare_variant *v, int n, nn_error *err)
{
    char (*files)[4300] = malloc((size_t)n * sizeof *files), path[4200];
    const char **list = malloc((size_t)n * sizeof *list), **names = malloc((size_t)n * sizeof *names);
    int rc = !files || !list || !names ? nn_fail(err, "curves: out of memory") : 0;
    for (int i = 0; !rc && i < n; i++) {
        snprintf(files[i], sizeof files[i], "%s/runs/%s-s1.jsonl", o->out, v[i].name);
        list[i] = files[i], names[i] = v[i].name;
    }
    snprintf(path, sizeof path, "%s/curves.svg", o->out);
    if (!rc)
        rc = nn_plot_curves(path, n, list, names, "learning curves, seed 1", err);
    free(files), free(list), free(names);
    return rc;
}

/* The report's files: each a file or new, none twice; before any training. */
static int outputs_ok(const model_compare_options *o, nn_error *err)
{
    static const char *const names[8] = {"report.md",  "results.json", "reconstructions.png", "samples.png",
                                         "curves.svg", "report.html",  "reconstructions.svg", "samples.svg"};
    char outs[8][4200], runs[4200];
    const char *list[8];
    if ((size_t)snprintf(runs, sizeof runs, "%s/runs", o->out) >= sizeof runs - 64)
        return nn_fail(err, "out: the folder's name is too long");
    if (nn_make_dirs(runs, err))
        return -1;
    for (int i = 0; i < 8; i++) {
        snprintf(outs[i], sizeof outs[i], "%s/%s", o->out, names[i]);
        list[i] = outs[i];
        if (nn_output_check(outs[i], err))
            return -1;
    }
    return nn_outputs_distinct(list, 8, err);
}

int model_compare(const model_compare_options *o, const model_compare_variant *v, int n,
                  const nn_dataset *train, const nn_dataset *test, nn_error *err)
{
    if (n < 1 || o->seeds < 1)
        return nn_fail(err, "compare: %s", n < 1 ? "no variants" : "seeds: expected 1 or more");
    for (int i = 0; i < n; i++) {
        if (!v[i].name || !*v[i].name || strchr(v[i].name, '/') || strlen(v[i].name) > 64)
            return nn_fail(err, "compare: variant %d: expected a name of 1 to 64 characters without '/'", i + 1);
        for (int j = 0; j < i; j++)
            if (!strcmp(v[i].name, v[j].name))
                return nn_fail(err, "compare: %s is named twice", v[i].name);
        model_config c;
        if (builtin(&v[i]) && variant_config(v[i].name, o, train, &c, err))
            return -1;
    }
    if (!test->x)
        return nn_fail(err, "compare: the test data are bytes: nn_data_floats() first");
    if (outputs_ok(o, err))
        return -1;
    size_t n_runs = (size_t)n * (size_t)o->seeds;
    model__cmp_run *res = calloc(n_runs, sizeof *res); /* every variant x seed */
    live *first = calloc((size_t)n, sizeof *first);
    double *timed = malloc((size_t)n * sizeof *timed);
    const char **rows = malloc((size_t)(2 * n + 1) * sizeof *rows); /* the pictures' rows: names */
    int rc = !res || !first || !timed || !rows ? nn_fail(err, "compare: out of memory") : 0, n_rec = 0, n_smp = 0;
    for (int i = 0, k = 0; !rc && i < n; i++)
        for (long s = 1; !rc && s <= o->seeds; s++) {
            live x;
            rc = run(&v[i], i, (uint64_t)s, o, train, test, &res[k++], &x, err);
            if (s == 1 && !rc)
                first[i] = x;
            else
                unmake(&v[i], &x);
        }
    if (!rc && o->time_steps > 0)
        rc = time_steps(o, v, n, train, timed, err);
    if (!rc && nn_dist_rank() == 0) /* under MPI, rank 0 alone writes */
        rc = write_table(o, v, n, res, (int)n_runs, train->dim, o->time_steps > 0 ? timed : NULL, err) ||
                     write_json(o, v, n, res, (int)n_runs, o->time_steps > 0 ? timed : NULL, err) ||
                     write_pictures(o, v, first, n, test, rows, &n_rec, rows + n + 1, &n_smp, err) ||
                     (o->epochs > 0 && write_curves(o, v, n, err)) ||
                     model__cmp_html(o, v, n, res, (int)n_runs, o->time_steps > 0 ? timed : NULL, rows, n_rec,
                                     rows + n + 1, n_smp, err)
                 ? -1
                 : 0;
    if (!rc)
        nn_logf(o->log, o->log_ctx, NN_LOG_INFO, "report: %s/report.md, %s/results.json, %s/reconstructions.png, "
                "%s/samples.png, %s/curves.svg; the page: %s/report.html", o->out, o->out, o->out, o->out, o->out,
                o->out);
    for (int i = 0; first && i < n; i++)
        unmake(&v[i], &first[i]);
    free(res), free(first), free(timed), free(rows);
    return rc;
}
