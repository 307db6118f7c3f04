/* train.c: nn_train, the loop every model trains with: seeded shuffled
 * batches, the user's loss, backward, the optimizer, a guard against
 * non-finite numbers, evaluation, checkpoints that resume exactly, and
 * metrics appended as JSON Lines. */
#define _POSIX_C_SOURCE 200809L

#include "train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int nn_scalars_set(nn_scalars *s, const char *name, double v)
{
    if (strlen(name) >= sizeof s->name[0])
        return -1;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) {
            s->value[i] = v;
            return 0;
        }
    if (s->n == NN_SCALARS_MAX)
        return -1;
    strcpy(s->name[s->n], name);
    s->value[s->n++] = v;
    return 0;
}

double nn_scalars_get(const nn_scalars *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0)
            return s->value[i];
    return NAN;
}

void nn_log_stdio(void *ctx, nn_log_level level, const char *line)
{
    (void)ctx;
    int tty = isatty(STDERR_FILENO);
    if (level == NN_LOG_PROGRESS) {
        if (tty)
            fprintf(stderr, "\r%s\033[K", line);
        return;
    }
    if (tty)
        fputs("\r\033[K", stderr); /* clear a progress line first */
    printf("%s\n", line);
    fflush(stdout);
}

nn_train_config nn_train_defaults(void)
{
    return (nn_train_config){.epochs = 10, .batch = 128, .seed = 1, .eval_batch = 500,
                             .log = nn_log_stdio};
}

const char *nn_train_resumable(const char *path)
{
    return path && access(path, F_OK) == 0 ? path : NULL;
}

void nn_logf(nn_log_fn log, void *ctx, nn_log_level level, const char *fmt, ...)
{
    if (!log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log(ctx, level, line);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the guard ------------------------------------------------------------
 * Every step: the loss, and the optimizer's own flag for the weights it
 * wrote. Before the first step and before every save: a scan of the
 * weights. A non-finite gradient makes a non-finite weight, so the flag
 * catches it; the scans below then say which. */

/* Index of the first non-finite element of x[0..n), or n. Blocks are first
 * scanned with a branch-free test (x - x is 0 exactly when x is finite),
 * which the compiler vectorizes: the guard costs one read of the block. */
static size_t first_nonfinite(const tn_real *x, size_t n)
{
    for (size_t b = 0; b < n; b += 4096) {
        size_t e = n - b < 4096 ? n : b + 4096;
        int bad = 0;
        for (size_t i = b; i < e; i++)
            bad |= x[i] - x[i] != 0;
        if (bad)
            for (size_t i = b; i < e; i++)
                if (x[i] - x[i] != 0)
                    return i;
    }
    return n;
}

int nn_params_nonfinite(nn_params *p, int which, int *param, size_t *index)
{
    for (int i = 0; i < nn_params_count(p); i++) {
        const tn_tensor *t = which ? nn_params_grad(p, i) : nn_params_value(p, i);
        size_t k = first_nonfinite(t->data, t->size);
        if (k < t->size) {
            *param = i, *index = k;
            return 1;
        }
    }
    return 0;
}

/* The guard's message, or 0 when every value of `which` is finite. */
static int guard(nn_params *p, int which, long step, int epoch, nn_error *err)
{
    int i;
    size_t k;
    if (!nn_params_nonfinite(p, which, &i, &k))
        return 0;
    const tn_tensor *t = which ? nn_params_grad(p, i) : nn_params_value(p, i);
    return nn_fail(err, "step %ld (epoch %d): the %s of %s[%zu] is %g; training stopped, "
                        "the last checkpoint is unchanged (try a smaller learning rate or clipping)",
                   step, epoch, which ? "gradient" : "weight", nn_params_name(p, i), k,
                   (double)t->data[k]);
}

/* ---- metrics ---------------------------------------------------------------- */

/* Keeps the lines of path whose "epoch" is at most `keep` (all other lines
 * go), rewriting the file atomically; a missing file is fine. */
static int metrics_trim(const char *path, int keep, nn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : nn_fail(err, "%s: cannot read the metrics: %s", path, strerror(errno));
    nn_atomic a;
    if (nn_atomic_open(&a, path, err)) {
        fclose(f);
        return -1;
    }
    char line[8192];
    int ok = 1, lineno = 0;
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        cJSON *j = cJSON_Parse(line);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "epoch");
        if (!cJSON_IsNumber(e)) {
            cJSON_Delete(j);
            fclose(f);
            nn_atomic_abort(&a);
            return nn_fail(err, "%s:%d: expected a JSON object with an \"epoch\" number", path, lineno);
        }
        if (e->valuedouble <= keep)
            ok = fputs(line, a.f) >= 0;
        cJSON_Delete(j);
    }
    fclose(f);
    return nn_atomic_commit(&a, ok, err);
}

static int metrics_append(const char *path, const char *line, nn_error *err)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return nn_fail(err, "%s: cannot append the metrics: %s", path, strerror(errno));
    int ok = fputs(line, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    return ok ? 0 : nn_fail(err, "%s: writing the metrics failed: %s", path, strerror(errno));
}

static void add_scalars(cJSON *j, const char *prefix, const nn_scalars *s)
{
    char key[64];
    for (int i = 0; i < s->n; i++) {
        snprintf(key, sizeof key, "%s_%s", prefix, s->name[i]);
        cJSON_AddNumberToObject(j, key, s->value[i]);
    }
}

/* "loss 110.21 (recon 85.10, kl 25.11)" */
static void describe(char *buf, size_t len, const nn_scalars *s)
{
    int u = snprintf(buf, len, "loss %.2f", nn_scalars_get(s, "loss"));
    for (int i = 0, first = 1; i < s->n && u > 0 && (size_t)u < len; i++) {
        if (strcmp(s->name[i], "loss") == 0)
            continue;
        u += snprintf(buf + u, len - (size_t)u, "%s%s %.2f", first ? " (" : ", ", s->name[i],
                      s->value[i]);
        first = 0;
    }
    if (u > 0 && (size_t)u < len && s->n > 1)
        snprintf(buf + u, len - (size_t)u, ")");
}

/* ---- checks before the first step --------------------------------------- */

static int check_setup(nn_params *p, const nn_dataset *train, const nn_dataset *test,
                       const nn_train_config *c, nn_error *err)
{
    if (c->epochs < 0 || c->batch < 1 || c->eval_batch < 1)
        return nn_fail(err, "train: epochs %d, batch %zu, eval batch %zu: expected epochs >= 0 and "
                            "batches >= 1", c->epochs, c->batch, c->eval_batch);
    if (!train || train->n == 0)
        return nn_fail(err, "train: the training set is empty");
    if (test && test->dim != train->dim)
        return nn_fail(err, "train: the test data have %zu values per example, the training data %zu",
                       test->dim, train->dim);
    if (nn_params_size(p) == 0)
        return nn_fail(err, "train: the model has no parameters");
    if (c->checkpoint) { /* the folder must take a new file */
        nn_atomic a;
        if (nn_atomic_open(&a, c->checkpoint, err))
            return -1;
        nn_atomic_abort(&a);
    }
    if (c->metrics) {
        struct stat st;
        if (stat(c->metrics, &st) == 0 && S_ISDIR(st.st_mode))
            return nn_fail(err, "%s: the metrics path is a folder, expected a file", c->metrics);
        FILE *f = fopen(c->metrics, "a");
        if (!f)
            return nn_fail(err, "%s: cannot write the metrics: %s", c->metrics, strerror(errno));
        fclose(f);
    }
    return 0;
}

/* Reads the training state of a checkpoint's metadata strictly. */
static int read_state(const char *path, const nn_meta *m, int *epoch, long *step,
                      tn_rng *data, tn_rng *noise, nn_error *err)
{
    const char *keys[2] = {"train.epoch", "train.step"};
    long v[2];
    for (int i = 0; i < 2; i++) {
        const char *s = nn_meta_get(m, keys[i]);
        char *end;
        errno = 0;
        v[i] = s ? strtol(s, &end, 10) : 0;
        if (!s || !*s || *end || errno || v[i] < 0 || (i == 0 && v[i] > 1000000000L) ||
            (i == 1 && v[i] > (1L << 50)))
            return nn_fail(err, "%s: metadata %s = \"%s\": expected a whole number from 0 to %s",
                           path, keys[i], s ? s : "(missing)", i ? "2^50" : "10^9");
    }
    if (nn_meta_get_rng(m, "rng.data", data) || nn_meta_get_rng(m, "rng.noise", noise))
        return nn_fail(err, "%s: metadata: expected the generators' state rng.data and rng.noise",
                       path);
    *epoch = (int)v[0], *step = v[1];
    return 0;
}

/* ---- evaluation ------------------------------------------------------------ */

/* The loss averaged over the test set, gradients off. */
static int eval_loss(nn_loss_fn loss, void *model, ad_tape *t, const nn_dataset *d,
                     size_t batch, tn_rng *rng, long step, nn_scalars *out, nn_error *err)
{
    int was = ad_set_grad_enabled(t, 0);
    nn_scalars sum = {0};
    int rc = 0;
    for (size_t b0 = 0; b0 < d->n && rc == 0; b0 += batch) {
        size_t nb = d->n - b0 < batch ? d->n - b0 : batch;
        nn_batch b = {tn_wrap(d->x + b0 * d->dim, 2, (const size_t[]){nb, d->dim}),
                      d->labels ? d->labels + b0 : NULL, nb};
        nn_scalars rep = {0};
        ad_tape_reset(t);
        ad_var *l = loss(model, t, &b, rng, step, &rep);
        if (!l) {
            rc = nn_fail(err, "evaluation: %s", ad_tape_error(t));
            break;
        }
        nn_scalars_set(&rep, "loss", ad_item(l));
        for (int i = 0; i < rep.n; i++) {
            double prev = nn_scalars_get(&sum, rep.name[i]);
            nn_scalars_set(&sum, rep.name[i], (isnan(prev) ? 0 : prev) + rep.value[i] * (double)nb);
        }
    }
    ad_set_grad_enabled(t, was);
    for (int i = 0; i < sum.n; i++)
        sum.value[i] /= (double)d->n;
    *out = sum;
    return rc;
}

/* ---- the loop ---------------------------------------------------------------- */

int nn_train(nn_params *p, nn_optim *opt, nn_loss_fn loss, void *model,
             const nn_dataset *train, const nn_dataset *test,
             const nn_train_config *c, nn_train_result *res, nn_error *err)
{
    nn_train_result r = {0};
    if (check_setup(p, train, test, c, err))
        return -1;
    if (!c->keep_denormals) /* flat epochs: see tn_flush_denormals */
        tn_flush_denormals(1);
    tn_rng data_rng, noise_rng;
    tn_rng_seed(&data_rng, c->seed, 1);
    tn_rng_seed(&noise_rng, c->seed, 2);
    nn_meta *meta = calloc(1, sizeof *meta);
    if (!meta)
        return nn_fail(err, "train: out of memory");
    if (c->meta)
        *meta = *c->meta;
    int start = 0;
    long step = 0;
    if (c->resume) {
        nn_meta saved = {0};
        if (nn_load(c->resume, p, opt, &saved, err) ||
            read_state(c->resume, &saved, &start, &step, &data_rng, &noise_rng, err)) {
            free(meta);
            return -1;
        }
        nn_logf(c->log, c->log_ctx, NN_LOG_INFO, "resumed from %s: epoch %d, step %ld", c->resume, start, step);
    }
    if (guard(p, 0, step, start + 1, err) ||
        (c->metrics && metrics_trim(c->metrics, start, err))) { /* weights before any step */
        free(meta);
        return -1;
    }
    nn_batches *batches = nn_batches_new(train, c->batch, &data_rng, c->dynamic_binarize, err);
    ad_tape *t = ad_tape_new(0);
    int rc = batches && t ? 0 : (batches ? nn_fail(err, "train: out of memory") : -1);
    size_t per = batches ? nn_batches_per_epoch(batches) : 0;
    r.epoch = start, r.steps = step;
    for (int epoch = start + 1; rc == 0 && epoch <= c->epochs; epoch++) {
        double t0 = now(), last_said = t0;
        nn_scalars sum = {0};
        size_t seen = 0, nb = 0;
        nn_batch b;
        while (rc == 0 && nn_batches_next(batches, &b.x, &b.labels)) {
            nn_scalars rep = {0};
            b.n = b.x.shape[0];
            ad_tape_reset(t);
            nn_params_zero_grad(p);
            ad_var *l = loss(model, t, &b, &noise_rng, step, &rep);
            if (!l || ad_backward(t, l)) {
                rc = nn_fail(err, "step %ld (epoch %d): %s", step, epoch, ad_tape_error(t));
                break;
            }
            double v = ad_item(l);
            if (!isfinite(v)) {
                rc = nn_fail(err, "step %ld (epoch %d): the loss is %g; training stopped, the last "
                                  "checkpoint is unchanged (check the data for NaN, or try a smaller "
                                  "learning rate or clipping)", step, epoch, v);
                break;
            }
            /* the optimizer says, from its own pass, whether a weight came
             * out non-finite; only then are the blocks scanned, to name the
             * gradient or the weight (the grads are as backward left them) */
            nn_optim_step(opt, p);
            if (nn_optim_nonfinite(opt)) {
                if (!(rc = guard(p, 1, step, epoch, err)) && !(rc = guard(p, 0, step, epoch, err)))
                    rc = nn_fail(err, "step %ld (epoch %d): the optimizer wrote a weight that is not "
                                      "finite; training stopped, the last checkpoint is unchanged",
                                 step, epoch);
                break;
            }
            nn_scalars_set(&rep, "loss", v);
            for (int i = 0; i < rep.n; i++) {
                double prev = nn_scalars_get(&sum, rep.name[i]);
                nn_scalars_set(&sum, rep.name[i], (isnan(prev) ? 0 : prev) + rep.value[i] * (double)b.n);
            }
            seen += b.n, step++, nb++;
            if (now() - last_said > 0.2) {
                double el = now() - t0;
                nn_logf(c->log, c->log_ctx, NN_LOG_PROGRESS, "epoch %d/%d  batch %zu/%zu  loss %.2f  ETA %.0f s", epoch,
                    c->epochs, nb, per, nn_scalars_get(&sum, "loss") / (double)seen,
                    el / (double)nb * (double)(per - nb));
                last_said = now();
            }
        }
        if (rc)
            break;
        for (int i = 0; i < sum.n; i++)
            sum.value[i] /= (double)seen;
        r.train = sum, r.seconds = now() - t0, r.steps = step, r.epoch = epoch;
        r.test = (nn_scalars){0};
        if (test) {
            if (c->eval) {
                int was = ad_set_grad_enabled(t, 0);
                rc = c->eval(model, test, &noise_rng, &r.test, err);
                ad_set_grad_enabled(t, was);
            } else {
                rc = eval_loss(loss, model, t, test, c->eval_batch, &noise_rng, step, &r.test, err);
            }
            if (rc)
                break;
            for (int i = 0; i < r.test.n && rc == 0; i++)
                if (!isfinite(r.test.value[i]))
                    rc = nn_fail(err, "epoch %d: the test %s is %g; training stopped, the last "
                                      "checkpoint is unchanged", epoch, r.test.name[i], r.test.value[i]);
            if (rc)
                break;
        }
        char tr[256], te[256] = "";
        describe(tr, sizeof tr, &r.train);
        if (test)
            describe(te, sizeof te, &r.test);
        nn_logf(c->log, c->log_ctx, NN_LOG_INFO, "epoch %d/%d  train %s%s%s  %.1f s", epoch, c->epochs, tr,
            test ? "  test " : "", te, r.seconds);
        if (c->checkpoint) {
            nn_meta_setf(meta, "train.epoch", "%d", epoch);
            nn_meta_setf(meta, "train.step", "%ld", step);
            nn_meta_setf(meta, "train.seed", "%" PRIu64, c->seed);
            nn_meta_put_rng(meta, "rng.data", &data_rng);
            nn_meta_put_rng(meta, "rng.noise", &noise_rng);
            if ((rc = nn_save(c->checkpoint, p, opt, meta, err)))
                break;
        }
        if (c->metrics) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "epoch", epoch);
            cJSON_AddNumberToObject(j, "steps", (double)step);
            cJSON_AddNumberToObject(j, "seconds", r.seconds);
            cJSON_AddNumberToObject(j, "lr", nn_optim_lr(opt)); /* the next step's */
            add_scalars(j, "train", &r.train);
            add_scalars(j, "test", &r.test);
            char *line = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            rc = line ? metrics_append(c->metrics, line, err) : nn_fail(err, "train: out of memory");
            free(line);
        }
    }
    ad_tape_free(t);
    nn_batches_free(batches);
    free(meta);
    if (res)
        *res = r;
    return rc;
}
