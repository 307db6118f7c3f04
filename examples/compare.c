/* compare.c: trains autoencoder variants on the same data, architecture,
 * budget, optimizer and seeds, and writes a report folder: report.md (one
 * table, mean ± sd over seeds, the best of each column marked), results.json
 * (every number of every run) and pictures side by side. A run whose
 * results are already in the folder is not trained again, so a comparison
 * that was cut short resumes. docs/compare.md shows a report. */
#define _POSIX_C_SOURCE 200809L

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

#include "compare_runs.h"


typedef struct {
    const char *models, *out, *data, *binarized, *frey, *csv;
    long seeds, epochs, latent, k, iw, batch, threads, train_limit, test_limit, probe_limit, time_steps;
    double beta, noise, gauss, lr;
    int no_clip, conv;
    const char *kernels;
    const char *hidden;
} options;

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("compare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- options -------------------------------------------------------------- */

static double number(const char *opt, const char *v, double lo, double hi, int whole)
{
    char *end;
    errno = 0;
    double x = strtod(v ? v : "", &end);
    if (!v || !*v || *end || errno || !(x >= lo && x <= hi) || (whole && x != floor(x))) {
        fprintf(stderr, "compare: --%s: expected %s from %g to %g, got \"%s\"\n", opt,
                whole ? "a whole number" : "a number", lo, hi, v ? v : "");
        exit(2);
    }
    return x;
}

static const char usage[] =
    "usage: compare [options]   trains the variants, writes OUT/report.md, results.json, PNGs\n"
    "  --models LIST   of vae,beta-vae,iwae,cvae,ae,sparse,sparse-hidden,dae-mask,dae-gauss,dae-sp,\n"
    "                  conv-vae (default: all but conv-vae)\n"
    "  --conv          adds conv-vae: the VAE with a convolutional body (1 -> 32 -> 64 channels,\n"
    "                  4x4 kernels, stride 2) before the encoder's layers and after the decoder's\n"
    "  --seeds N (3)  --epochs N (10)  --batch N (128)  --lr X (1e-3)  --threads N\n"
    "  --hidden LIST (400)  --latent N (20)  --beta B (4, beta-vae)  --k K (5, iwae)\n"
    "  --noise X (0.25: masking and salt-and-pepper fraction)  --gauss SD (0.25)  --no-clip\n"
    "  --iw-samples K (50: L_k of the generative models)  --probe-limit N (10000 train codes)\n"
    "  --time-steps N (30: each model's step timed in one sitting, models interleaved, 3 rounds;\n"
    "                 0: off)\n"
    "  --data DIR | --binarized DIR | --frey FILE | --csv FILE   --train-limit N  --test-limit N\n"
    "  --out DIR (out/compare)   --kernels auto|avx512|blis (BLIS's products; auto: its AVX-512\n"
    "                 kernels for batches of 64 and more when the CPU has them)\n";

static options parse(int argc, char **argv)
{
    options o = {.out = "out/compare", .seeds = 3, .epochs = 10, .latent = 20, .k = 5, .iw = 50,
                 .batch = 128, .threads = 2, .probe_limit = 10000, .beta = 4, .noise = 0.25,
                 .gauss = 0.25, .lr = 1e-3, .hidden = "400", .time_steps = 30, .kernels = "auto"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            fputs(usage, stdout), exit(0);
        if (!strcmp(a, "--no-clip")) {
            o.no_clip = 1;
            continue;
        }
        if (!strcmp(a, "--conv")) {
            o.conv = 1;
            continue;
        }
        if (strncmp(a, "--", 2) || !v)
            fprintf(stderr, "compare: %s: expected an option and its value\n%s", a, usage), exit(2);
        a += 2, i++;
        if (!strcmp(a, "models")) o.models = v;
        else if (!strcmp(a, "out")) o.out = v;
        else if (!strcmp(a, "data")) o.data = v;
        else if (!strcmp(a, "binarized")) o.binarized = v;
        else if (!strcmp(a, "frey")) o.frey = v;
        else if (!strcmp(a, "csv")) o.csv = v;
        else if (!strcmp(a, "hidden")) o.hidden = v;
        else if (!strcmp(a, "seeds")) o.seeds = (long)number(a, v, 1, 20, 1);
        else if (!strcmp(a, "epochs")) o.epochs = (long)number(a, v, 0, 1e6, 1);
        else if (!strcmp(a, "latent")) o.latent = (long)number(a, v, 1, 100000, 1);
        else if (!strcmp(a, "k")) o.k = (long)number(a, v, 2, 10000, 1);
        else if (!strcmp(a, "iw-samples")) o.iw = (long)number(a, v, 0, 1e6, 1);
        else if (!strcmp(a, "batch")) o.batch = (long)number(a, v, 1, 1e6, 1);
        else if (!strcmp(a, "threads")) o.threads = (long)number(a, v, 1, 1024, 1);
        else if (!strcmp(a, "train-limit")) o.train_limit = (long)number(a, v, 1, 1e9, 1);
        else if (!strcmp(a, "test-limit")) o.test_limit = (long)number(a, v, 1, 1e9, 1);
        else if (!strcmp(a, "probe-limit")) o.probe_limit = (long)number(a, v, 10, 1e9, 1);
        else if (!strcmp(a, "time-steps")) o.time_steps = (long)number(a, v, 0, 1e6, 1);
        else if (!strcmp(a, "beta")) o.beta = number(a, v, 0, 1e6, 0);
        else if (!strcmp(a, "noise")) o.noise = number(a, v, 0, 1, 0);
        else if (!strcmp(a, "gauss")) o.gauss = number(a, v, 0, 100, 0);
        else if (!strcmp(a, "lr")) o.lr = number(a, v, 0, 1e3, 0);
        else if (!strcmp(a, "kernels")) o.kernels = v;
        else fprintf(stderr, "compare: --%s: unknown option\n%s", a, usage), exit(2);
    }
    if ((o.data != NULL) + (o.binarized != NULL) + (o.frey != NULL) + (o.csv != NULL) > 1)
        fprintf(stderr, "compare: give one of --data, --binarized, --frey, --csv\n"), exit(2);
    return o;
}

/* The model of a variant (model_variant) with this comparison's options. */
static model_config variant_config(int v, const options *o, const nn_dataset *d)
{
    model_config c;
    if (model_variant(model_variants[v], &c))
        die("no variant %s", model_variants[v]);
    if (model_hidden_parse(o->hidden, &c))
        fprintf(stderr, "compare: --hidden: expected widths like 400 or 500,500, got \"%s\"\n",
                o->hidden), exit(2);
    c.input_dim = d->dim, c.latent = (size_t)o->latent;
    if (d->rows == 0) /* continuous data */
        c.likelihood = MODEL_LIK_GAUSSIAN, c.recon = MODEL_RECON_MSE;
    if (c.beta != 1) /* the beta-vae */
        c.beta = o->beta;
    if (c.iw_k > 1) /* the iwae */
        c.iw_k = (int)o->k;
    if (c.conv_rows)
        c.conv_rows = d->rows, c.conv_cols = d->cols;
    c.noise_level = c.noise == MODEL_NOISE_GAUSSIAN ? o->gauss : o->noise;
    c.noise_clip = !o->no_clip;
    return c;
}

/* ---- evaluation ------------------------------------------------------------------ */

/* The codes of a dataset (posterior means), as a dataset with its labels. */
static nn_dataset *codes_of(model *m, const nn_dataset *d, size_t limit)
{
    size_t n = d->n < limit ? d->n : limit, J = m->c.latent;
    nn_dataset *c = calloc(1, sizeof *c);
    ad_tape *t = ad_tape_new(0);
    if (!c || !t || !(c->x = malloc(n * J * sizeof *c->x)) ||
        (d->labels && !(c->labels = malloc(n * sizeof(int)))))
        die("out of memory");
    ad_set_grad_enabled(t, 0);
    c->n = n, c->dim = J;
    tn_real *buf = d->x ? NULL : malloc(500 * d->dim * sizeof *buf); /* bytes: their values */
    if (!d->x && !buf)
        die("out of memory");
    for (size_t b0 = 0; b0 < n; b0 += 500) {
        size_t nb = n - b0 < 500 ? n - b0 : 500;
        tn_tensor x = tn_wrap((tn_real *)nn_data_rows(d, b0, nb, buf), 2, (const size_t[]){nb, d->dim});
        ad_tape_reset(t);
        const int *lab = d->labels ? d->labels + b0 : NULL;
        ad_var *z = model_encode(m, t, ad_const(t, &x), lab);
        if (!z)
            die("codes: %s", ad_tape_error(t));
        memcpy(c->x + b0 * J, ad_data(z), nb * J * sizeof *c->x);
        if (lab)
            memcpy(c->labels + b0, lab, nb * sizeof(int));
    }
    free(buf);
    ad_tape_free(t);
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
 * this library on the (standardized) training codes. */
static double probe_accuracy(model *m, const nn_dataset *train, const nn_dataset *test,
                             const options *o)
{
    if (!train->labels || !test->labels)
        return NAN;
    nn_dataset *tr = codes_of(m, train, (size_t)o->probe_limit), *te = codes_of(m, test, test->n);
    double *mean = malloc(tr->dim * sizeof *mean), *sd = malloc(tr->dim * sizeof *sd);
    nn_error err;
    probe q = {nn_params_new(), {0}};
    tn_rng r;
    tn_rng_seed(&r, 7, 7);
    nn_data_stats(tr, mean, sd);
    nn_data_standardize(tr, mean, sd);
    nn_data_standardize(te, mean, sd);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-2);
    nn_optim *opt = NULL;
    if (nn_linear_init(&q.l, q.p, "probe", tr->dim, 10, &err) ||
        nn_params_alloc_init(q.p, NN_INIT_TORCH, 0, &r, &err) ||
        !(opt = nn_optim_new(&oc, q.p, &err)))
        die("probe: %s", err.msg);
    nn_train_config tc = nn_train_defaults();
    tc.epochs = 20, tc.batch = 256, tc.log = NULL, tc.seed = 7;
    if (nn_train(q.p, opt, probe_loss, &q, tr, NULL, &tc, NULL, &err))
        die("probe: %s", err.msg);
    ad_tape *t = ad_tape_new(0);
    ad_set_grad_enabled(t, 0);
    tn_tensor x = tn_wrap(te->x, 2, (const size_t[]){te->n, te->dim});
    ad_var *s = nn_forward(&q.l, ad_const(t, &x));
    size_t right = 0;
    for (size_t i = 0; s && i < te->n; i++) {
        const tn_real *row = ad_data(s) + i * 10;
        int best = 0;
        for (int c = 1; c < 10; c++)
            best = row[c] > row[best] ? c : best;
        right += best == te->labels[i];
    }
    ad_tape_free(t), nn_optim_free(opt), nn_params_free(q.p), free(mean), free(sd);
    nn_dataset_free(tr), nn_dataset_free(te);
    return (double)right / (double)test->n;
}

/* ---- one run: train (or resume), evaluate, keep the numbers ------------------ */

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

/* What makes a run the run asked for: every option that changes its
 * numbers and the data's identity (its description: path, sizes; and its
 * kind). A stored run is reused only when this text is the same. */
static void run_identity(char *buf, size_t len, int v, uint64_t seed, const options *o, const char *data)
{
    snprintf(buf, len, "model=%s seed=%llu epochs=%ld batch=%ld lr=%.17g hidden=%s latent=%ld beta=%.17g "
                       "k=%ld noise=%.17g gauss=%.17g clip=%d iw=%ld probe=%ld data=%s",
             model_variants[v], (unsigned long long)seed, o->epochs, o->batch, o->lr, o->hidden, o->latent,
             o->beta, o->k, o->noise, o->gauss, !o->no_clip, o->iw, o->probe_limit, data);
}

/* Trains variant v with seed s unless OUT/runs/NAME.json holds its numbers;
 * returns the model (trained or loaded) for the pictures. */
static model *run(int v, uint64_t seed, const options *o, const nn_dataset *train,
                  const nn_dataset *test, const char *data_id, run_result *r)
{
    char base[1200], ckpt[1300], metr[1300], res[1300], id[10000], why[10100];
    snprintf(base, sizeof base, "%s/runs/%s-s%llu", o->out, model_variants[v], (unsigned long long)seed);
    snprintf(ckpt, sizeof ckpt, "%s.safetensors", base);
    snprintf(metr, sizeof metr, "%s.jsonl", base);
    snprintf(res, sizeof res, "%s.json", base);
    nn_error err;
    r->variant = v, r->seed = seed;
    run_identity(id, sizeof id, v, seed, o, data_id);
    model_config c = variant_config(v, o, train);
    int stored = read_result(res, id, v, seed, c.kind == MODEL_VAE, o->iw, r, why, sizeof why);
    if (stored < 0)
        die("%s: %s; give another --out, or remove the file to train this run again", res, why);
    if (!stored) { /* done before, with these options on this data */
        model *m = model_load(ckpt, NULL, &err);
        if (!m)
            die("%s", err.msg);
        printf("%s, seed %llu: done before (%s)\n", model_variants[v], (unsigned long long)seed, res);
        return m;
    }
    nn_meta meta = NN_META_INIT;
    if (nn_train_resumable(ckpt)) { /* a run cut short: resumed only when it is this run */
        const char *was;
        if (nn_load_meta(ckpt, &meta, &err))
            die("%s", err.msg);
        char d[8000] = "no options stored";
        if ((was = nn_meta_get(&meta, "compare.identity")))
            first_difference(id, was, d, sizeof d);
        if (!was || strcmp(was, id) != 0)
            die("%s: made with other options or data (%s); give another --out, or remove the file to "
                "train this run again", ckpt, d);
        nn_meta_free(&meta);
    }
    tn_rng init, evr;
    tn_rng_seed(&init, seed, 3), tn_rng_seed(&evr, seed, 6);
    model *m = model_new(&c, &init, &err);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, o->lr);
    nn_optim *opt = m ? nn_optim_new(&oc, m->params, &err) : NULL;
    if (!opt)
        die("%s: %s", model_variants[v], err.msg);
    if (model_config_to_meta(&m->c, &meta) || nn_meta_set(&meta, "compare.identity", id))
        die("out of memory");
    nn_train_config tc = nn_train_defaults();
    tc.epochs = (int)o->epochs, tc.batch = (size_t)o->batch, tc.seed = seed, tc.checkpoint = ckpt;
    tc.resume = nn_train_resumable(ckpt), tc.metrics = metr, tc.meta = &meta;
    tc.eval = model_train_eval;
    printf("== %s, seed %llu: %zu parameters\n", model_variants[v], (unsigned long long)seed,
           nn_params_size(m->params));
    if (nn_train(m->params, opt, model_train_loss, m, train, test, &tc, NULL, &err))
        die("%s, seed %llu: %s", model_variants[v], (unsigned long long)seed, err.msg);
    for (int k = 0; k < N_METRICS; k++)
        r->v[k] = NAN;
    static const model_noise noise[3] = {MODEL_NOISE_MASK, MODEL_NOISE_SALT_PEPPER, MODEL_NOISE_GAUSSIAN};
    for (int k = 0; k < 4; k++) { /* clean, then each corruption */
        model_config nc = m->c;
        if (k)
            nc.noise = noise[k - 1], nc.noise_level = k == 3 ? o->gauss : o->noise;
        nc.noise_clip = !o->no_clip;
        if (model_reconstruction(m, test, k ? &nc : NULL, &evr, &r->v[2 * k], &r->v[2 * k + 1], &err))
            die("%s", err.msg);
    }
    if (m->c.kind == MODEL_VAE) {
        nn_latent l = model_latent(m, test->rows, test->cols);
        nn_elbo e;
        if (nn_latent_elbo(&l, test, 500, &evr, &e, &err))
            die("%s", err.msg);
        r->v[8] = e.neg_elbo, r->v[9] = e.kl;
        if (o->iw > 0 && isnan(r->v[10] = nn_latent_iwae(&l, test, (int)o->iw, &evr, &err)))
            die("%s", err.msg);
    }
    double *var = malloc(m->c.latent * sizeof *var), mean_code = 0;
    int active = model_active_units(m, test, 0.01, var, &err);
    if (active < 0)
        die("%s", err.msg);
    free(var);
    nn_dataset *codes = codes_of(m, test, test->n);
    for (size_t i = 0; i < codes->n * codes->dim; i++)
        mean_code += codes->x[i] / (double)(codes->n * codes->dim);
    nn_dataset_free(codes);
    r->v[11] = active, r->v[12] = mean_code;
    r->v[13] = probe_accuracy(m, train, test, o);
    r->v[14] = (double)nn_params_size(m->params), r->v[15] = median_seconds(metr);
    r->v[16] = (double)o->epochs;
    nn_meta_free(&meta);
    cJSON *j = result_json(r, id);
    char *text = cJSON_Print(j);
    nn_atomic a;
    if (nn_dist_rank() == 0 && /* under MPI, rank 0 alone writes */
        (!text || nn_atomic_open(&a, res, &err) || nn_atomic_commit(&a, fputs(text, a.f) >= 0, &err)))
        die("%s", text ? err.msg : "out of memory");
    cJSON_Delete(j), free(text), nn_optim_free(opt);
    return m;
}

/* ---- speed in one sitting -------------------------------------------------------- */

/* The epochs' own seconds depend on whatever else ran while each model
 * trained. Here every model's training step is timed in one sitting: for
 * each of 3 rounds, each model in turn runs time_steps steps (from its
 * seed-1 checkpoint, with a fresh optimizer, on the first rows of the
 * training set). timed[i]: the median over the rounds, as seconds an epoch
 * of the whole training set. */
static void time_steps(const options *o, const int *chosen, int n, const nn_dataset *train,
                       double *timed)
{
    double secs[N_VARIANTS][3];
    size_t rows = (size_t)(o->time_steps * o->batch), per_epoch = (train->n + (size_t)o->batch - 1) /
                                                                  (size_t)o->batch;
    nn_dataset part = nn_data_view(train, 0, rows < train->n ? rows : train->n);
    long steps = (long)((part.n + (size_t)o->batch - 1) / (size_t)o->batch);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < n; i++) {
            char ckpt[1300];
            nn_error err;
            snprintf(ckpt, sizeof ckpt, "%s/runs/%s-s1.safetensors", o->out, model_variants[chosen[i]]);
            model *m = model_load(ckpt, NULL, &err);
            nn_optim_config oc = nn_optim_defaults(NN_ADAM, o->lr);
            nn_optim *opt = m ? nn_optim_new(&oc, m->params, &err) : NULL;
            nn_train_config tc = nn_train_defaults();
            tc.epochs = 1, tc.batch = (size_t)o->batch, tc.seed = 1, tc.log = NULL;
            nn_train_result res;
            if (!opt || nn_train(m->params, opt, model_train_loss, m, &part, NULL, &tc, &res, &err))
                die("timing %s: %s", model_variants[chosen[i]], err.msg);
            secs[i][round] = res.seconds / (double)steps * (double)per_epoch;
            nn_optim_free(opt), model_free(m);
        }
    for (int i = 0; i < n; i++) {
        double *s = secs[i], lo = fmin(s[0], fmin(s[1], s[2])), hi = fmax(s[0], fmax(s[1], s[2]));
        timed[i] = s[0] + s[1] + s[2] - lo - hi; /* the median of three */
        printf("%s: %.2f s an epoch (timed: %ld steps, 3 interleaved rounds, %.2f to %.2f)\n",
               model_variants[chosen[i]], timed[i], steps, lo, hi);
    }
}

/* ---- the report ------------------------------------------------------------------- */

static void mean_sd(const run_result *r, int n, int variant, int k, double *mean, double *sd, int *count)
{
    double s = 0, s2 = 0;
    *count = 0;
    for (int i = 0; i < n; i++)
        if (r[i].variant == variant && !isnan(r[i].v[k]))
            s += r[i].v[k], s2 += r[i].v[k] * r[i].v[k], ++*count;
    *mean = *count ? s / *count : NAN;
    *sd = *count > 1 ? sqrt(fmax(0, (s2 - s * s / *count) / (*count - 1))) : 0;
}

static void write_report(const options *o, const int *chosen, int n_chosen, const run_result *r,
                         int n_runs, const char *desc, size_t dim, const double *timed)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/report.md", o->out);
    nn_atomic a;
    nn_error err;
    if (nn_dist_rank() != 0) /* under MPI, rank 0 alone writes */
        return;
    if (nn_atomic_open(&a, path, &err))
        die("%s", err.msg);
    FILE *f = a.f;
    fprintf(f, "# Autoencoder variants compared\n\n%s; architecture %zu-%s-%ld, Adam %g, batch %ld, "
               "%ld epochs, %ld seed%s (mean ± sd); masking and salt-and-pepper noise %g, Gaussian "
               "noise sd %g%s; L_k with k = %ld; the linear probe is softmax regression on %ld "
               "training codes. Best of each column in bold.\n\n",
            desc, dim, o->hidden, o->latent, o->lr, o->batch, o->epochs, o->seeds,
            o->seeds > 1 ? "s" : "", o->noise, o->gauss, o->no_clip ? " (unclipped)" : ", clipped to [0, 1]",
            o->iw, o->probe_limit);
    fprintf(f, "| model |");
    for (int k = 0; k < N_METRICS - 1; k++)
        fprintf(f, " %s |", metrics[k].head);
    fprintf(f, "%s\n| --- |", timed ? " s/epoch timed |" : "");
    for (int k = 0; k < N_METRICS - 1 + (timed != NULL); k++)
        fprintf(f, " --- |");
    fprintf(f, "\n");
    for (int i = 0; i < n_chosen; i++) {
        fprintf(f, "| %s |", model_variants[chosen[i]]);
        for (int k = 0; k < N_METRICS - 1; k++) {
            double m, sd, best = NAN, bm, bsd;
            int c, bc;
            mean_sd(r, n_runs, chosen[i], k, &m, &sd, &c);
            for (int j = 0; j < n_chosen && k != 12 && k != 14; j++) { /* the column's best */
                mean_sd(r, n_runs, chosen[j], k, &bm, &bsd, &bc);
                if (bc && (isnan(best) || (metrics[k].higher ? bm > best : bm < best)))
                    best = bm;
            }
            if (!c)
                fprintf(f, " — |");
            else if (k == 14 || k == 11)
                fprintf(f, " %s%.0f%s |", m == best ? "**" : "", m, m == best ? "**" : "");
            else
                fprintf(f, " %s%.*f ± %.*f%s |", m == best ? "**" : "", k == 13 ? 4 : 2, m,
                        k == 13 ? 4 : 2, sd, m == best ? "**" : "");
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
            o->latent == 2 ? ", latent_MODEL.png (2-D codes by label)" : "");
    if (nn_atomic_commit(&a, !ferror(f), &err))
        die("%s", err.msg);
    /* results.json: every run, and the summary */
    cJSON *root = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(root, "runs");
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddStringToObject(root, "data", desc);
    for (int i = 0; i < n_runs; i++)
        cJSON_AddItemToArray(runs, result_json(&r[i], NULL));
    for (int i = 0; i < n_chosen; i++) {
        cJSON *mo = cJSON_AddObjectToObject(sum, model_variants[chosen[i]]);
        for (int k = 0; k < N_METRICS; k++) {
            double m, sd;
            int c;
            mean_sd(r, n_runs, chosen[i], k, &m, &sd, &c);
            if (!c)
                continue;
            cJSON *x = cJSON_AddObjectToObject(mo, metrics[k].key);
            cJSON_AddNumberToObject(x, "mean", m);
            cJSON_AddNumberToObject(x, "sd", sd);
        }
        if (timed)
            cJSON_AddNumberToObject(mo, "sec_epoch_timed", timed[i]);
    }
    char *text = cJSON_Print(root);
    snprintf(path, sizeof path, "%s/results.json", o->out);
    if (!text || nn_atomic_open(&a, path, &err) || nn_atomic_commit(&a, fputs(text, a.f) >= 0, &err))
        die("%s", text ? err.msg : "out of memory");
    free(text), cJSON_Delete(root);
}

/* The same test images reconstructed by every model (a row each), and a
 * row of prior samples per generative model. */
static void write_pictures(const options *o, model **models, const int *chosen, int n,
                           const nn_dataset *test)
{
    size_t D = test->dim, per = test->n < 10 ? test->n : 10; /* a row of 10, or what there is */
    tn_real *rec = malloc((size_t)(n + 1) * per * D * sizeof *rec);
    tn_real *smp = malloc((size_t)n * per * D * sizeof *smp);
    ad_tape *t = ad_tape_new(0);
    tn_rng r;
    tn_rng_seed(&r, 5, 5);
    if (!rec || !smp || !t)
        die("pictures: out of memory");
    ad_set_grad_enabled(t, 0);
    memcpy(rec, test->x, per * D * sizeof *rec);
    tn_tensor x = tn_wrap(test->x, 2, (const size_t[]){per, D});
    int ns = 0;
    static const int digits[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int i = 0; i < n; i++) {
        model *m = models[i];
        ad_tape_reset(t);
        ad_var *y = model_decode(m, t, model_encode(m, t, ad_const(t, &x), test->labels), test->labels);
        if (!y)
            die("pictures: %s", ad_tape_error(t));
        memcpy(rec + (size_t)(i + 1) * per * D, ad_data(y), per * D * sizeof *rec);
        if (m->c.kind != MODEL_VAE)
            continue;
        ad_tape_reset(t);
        ad_var *z = ad_randn(t, 2, (const size_t[]){per, m->c.latent}, &r);
        y = model_decode(m, t, z, digits);
        if (!y)
            die("pictures: %s", ad_tape_error(t));
        memcpy(smp + (size_t)ns++ * per * D, ad_data(y), per * D * sizeof *smp);
    }
    char path[1200];
    nn_error err;
    snprintf(path, sizeof path, "%s/reconstructions.png", o->out);
    if (test->rows && nn_png_grid(path, rec, (size_t)(n + 1) * per, test->rows, test->cols, per, 2, &err))
        die("%s", err.msg);
    snprintf(path, sizeof path, "%s/samples.png", o->out);
    if (test->rows && ns && nn_png_grid(path, smp, (size_t)ns * per, test->rows, test->cols, per, 2, &err))
        die("%s", err.msg);
    for (int i = 0; o->latent == 2 && test->labels && i < n; i++) {
        nn_latent l = model_latent(models[i], test->rows, test->cols);
        snprintf(path, sizeof path, "%s/latent_%s.png", o->out, model_variants[chosen[i]]);
        if (nn_pic_scatter(path, &l, test, &err))
            die("%s", err.msg);
    }
    free(rec), free(smp), ad_tape_free(t);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    nn_dist_size(); /* under mpirun (make MPI=1): MPI starts; rank 0 alone prints */
    options o = parse(argc, argv);
    if (tn_blas_kernels(o.kernels, (size_t)o.batch)) /* before BLIS's first call */
        fprintf(stderr, "compare: --kernels: expected one of auto|avx512|blis, got \"%s\"\n", o.kernels),
            exit(2);
    tn_set_threads((int)o.threads);
    int chosen[N_VARIANTS], n = 0;
    const char *list = o.models ? o.models : "vae,beta-vae,iwae,cvae,ae,sparse,sparse-hidden,"
                                             "dae-mask,dae-gauss,dae-sp";
    if (!*list)
        fprintf(stderr, "compare: --models: expected a list of names like vae,iwae, got \"\"\n"), exit(2);
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        int v = -1;
        for (int i = 0; i < N_VARIANTS; i++)
            if (strlen(model_variants[i]) == len && !strncmp(p, model_variants[i], len))
                v = i;
        if (v < 0)
            fprintf(stderr, "compare: --models: \"%.*s\" is not one of vae, beta-vae, iwae, cvae, ae, "
                            "sparse, sparse-hidden, dae-mask, dae-gauss, dae-sp, conv-vae\n", (int)len, p),
                exit(2);
        for (int i = 0; i < n; i++)
            if (chosen[i] == v)
                fprintf(stderr, "compare: --models: %s is named twice\n", model_variants[v]), exit(2);
        chosen[n++] = v;
        if (!p[len])
            break;
        p += len + 1;
    }
    int has_conv = 0;
    for (int i = 0; i < n; i++)
        has_conv |= chosen[i] == 10;
    if (o.conv && !has_conv && n < N_VARIANTS) /* --conv adds the conv VAE to the list */
        chosen[n++] = 10, has_conv = 1;
    nn_error err;
    tn_rng split;
    tn_rng_seed(&split, 1, 4);
    nn_dataset *train, *test;
    char desc[8400], runs[1100];
    nn_source kind = o.csv ? NN_SOURCE_CSV : o.frey ? NN_SOURCE_FREY : o.binarized ? NN_SOURCE_BINARIZED
                                                                                 : NN_SOURCE_IDX;
    const char *src = o.csv ? o.csv : o.frey ? o.frey : o.binarized ? o.binarized : o.data;
    if (nn_load_source(kind, src, &split, &train, &test, desc, sizeof desc, &err))
        die("%s", err.msg);
    if (nn_data_limit(&train, (size_t)o.train_limit, &err) ||
        nn_data_limit(&test, (size_t)o.test_limit, &err))
        die("%s", err.msg);
    for (int i = 0; i < n; i++)
        if (chosen[i] == 3 && (!train->labels || !test->labels))
            die("cvae: the data have no labels to condition on");
    if (has_conv && !train->rows)
        die("conv-vae: the data are not images (a CSV); a convolutional body needs rows and columns");
    snprintf(runs, sizeof runs, "%s/runs", o.out);
    if (nn_make_dirs(runs, &err))
        die("%s", err.msg);
    /* the report's files, before any training: each a file or new, none twice */
    static const char *const names[4] = {"report.md", "results.json", "reconstructions.png", "samples.png"};
    char outs[4][1200];
    const char *out_list[4];
    for (int i = 0; i < 4; i++) {
        if ((size_t)snprintf(outs[i], sizeof outs[i], "%s/%s", o.out, names[i]) >= sizeof outs[i])
            fprintf(stderr, "compare: --out: the folder's name is too long\n"), exit(2);
        out_list[i] = outs[i];
        if (nn_output_check(outs[i], &err))
            die("%s", err.msg);
    }
    if (nn_outputs_distinct(out_list, 4, &err))
        die("%s", err.msg);
    char data_id[9000];
    snprintf(data_id, sizeof data_id, "%s; %zu train / %zu test used", desc, train->n, test->n);
    printf("data: %s\n%ld thread%s, BLIS's %s kernels\n", desc, o.threads, o.threads > 1 ? "s" : "",
           tn_blas_config());
    run_result *res = calloc((size_t)n * (size_t)o.seeds, sizeof *res); /* every model x seed */
    if (!res)
        die("out of memory");
    model *first[N_VARIANTS];
    int nr = 0;
    for (int i = 0; i < n; i++)
        for (long s = 1; s <= o.seeds; s++) {
            model *m = run(chosen[i], (uint64_t)s, &o, train, test, data_id, &res[nr++]);
            if (s == 1)
                first[i] = m;
            else
                model_free(m);
        }
    double timed[N_VARIANTS];
    if (o.time_steps > 0)
        time_steps(&o, chosen, n, train, timed);
    write_report(&o, chosen, n, res, nr, desc, train->dim, o.time_steps > 0 ? timed : NULL);
    write_pictures(&o, first, chosen, n, test);
    printf("report: %s/report.md, %s/results.json, %s/reconstructions.png, %s/samples.png\n", o.out,
           o.out, o.out, o.out);
    for (int i = 0; i < n; i++)
        model_free(first[i]);
    free(res), nn_dataset_free(train), nn_dataset_free(test);
    return 0;
}
