/* train.c: nn_train, the loop every model trains with: seeded shuffled
 * batches, the user's loss, backward, the optimizer, a guard against
 * non-finite numbers, evaluation, checkpoints that resume exactly, and
 * metrics appended as JSON Lines. */
#define _POSIX_C_SOURCE 200809L

#include "train.h"
#include "nn_internal.h"

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
    if (nn_dist_rank() != 0) /* under MPI, rank 0 alone speaks */
        return;
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
    if (test && !test->x)
        return nn_fail(err, "train: the test data are bytes (x8): nn_data_floats() first");
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

/* The metadata key of shard s's noise generator. */
static void noise_key(char *key, size_t len, int s)
{
    if (s == 0)
        snprintf(key, len, "rng.noise");
    else
        snprintf(key, len, "rng.noise.%d", s);
}

/* Reads the training state of a checkpoint's metadata strictly: the epoch,
 * the step, the shards it was written with (1 when absent), which must be
 * this run's S, and the data generator and S noise generators. */
static int read_state(const char *path, const nn_meta *m, int *epoch, long *step,
                      tn_rng *data, tn_rng *noise, int S, nn_error *err)
{
    const char *keys[3] = {"train.epoch", "train.step", "train.shards"};
    const long hi[3] = {1000000000L, 1L << 50, 1000000};
    const char *said[3] = {"0 to 10^9", "0 to 2^50", "1 to 1000000"};
    long v[3];
    for (int i = 0; i < 3; i++) {
        const char *s = nn_meta_get(m, keys[i]);
        char *end = NULL;
        errno = 0;
        v[i] = s ? strtol(s, &end, 10) : 1;
        if ((!s && i < 2) || (s && (!*s || *end || errno || v[i] < (i == 2) || v[i] > hi[i])))
            return nn_fail(err, "%s: metadata %s = \"%s\": expected a whole number from %s",
                           path, keys[i], s ? s : "(missing)", said[i]);
    }
    if (v[2] != S)
        return nn_fail(err, "%s: written by a run with %ld shards (ranks x shards a rank), this "
                            "run has %d: resume with the same number", path, v[2], S);
    if (nn_meta_get_rng(m, "rng.data", data))
        return nn_fail(err, "%s: metadata: expected the generators' state rng.data and rng.noise",
                       path);
    for (int s = 0; s < S; s++) {
        char key[32];
        noise_key(key, sizeof key, s);
        if (nn_meta_get_rng(m, key, &noise[s]))
            return s ? nn_fail(err, "%s: metadata: expected the generator state %s", path, key)
                     : nn_fail(err, "%s: metadata: expected the generators' state rng.data and "
                                    "rng.noise", path);
    }
    *epoch = (int)v[0], *step = v[1];
    return 0;
}

/* ---- shards -----------------------------------------------------------------
 * A step's batch (and the test set) is cut into S shards of contiguous rows;
 * this process runs the shards s with s % ranks == rank. Per-shard numbers
 * go into slots of one vector that a collective sums (every slot has one
 * writer, so the sum is exact) and are then added in shard order: one
 * process with S shards and S ranks compute the same sums. */

typedef struct {
    int S, P, rank;       /* shards, ranks, this rank */
    tn_rng *noise;        /* S generators; only this rank's advance */
    tn_real *acc;         /* the gradients summed so far, with > 1 shard a rank */
    nn_scalars names;     /* what the loss reports, in its order */
    double *slot;         /* P statuses, then S x NN_SCALARS_MAX sums */
    double comm;          /* seconds in collectives */
} shards;

static int mine(const shards *sh, int s) { return s % sh->P == sh->rank; }
static size_t shard_lo(size_t n, int s, int S) { return n * (size_t)s / (size_t)S; }
static double *sums(shards *sh, int s) { return sh->slot + sh->P + (size_t)s * NN_SCALARS_MAX; }
static size_t n_slots(const shards *sh) { return (size_t)sh->P + (size_t)sh->S * NN_SCALARS_MAX; }

/* rep (means over n rows) into shard s's slots, by the names' order */
static void put(shards *sh, int s, const nn_scalars *rep, size_t n)
{
    for (int i = 0; i < rep->n; i++) {
        if (isnan(nn_scalars_get(&sh->names, rep->name[i])))
            nn_scalars_set(&sh->names, rep->name[i], 0);
        for (int k = 0; k < sh->names.n; k++)
            if (strcmp(sh->names.name[k], rep->name[i]) == 0)
                sums(sh, s)[k] += rep->value[i] * (double)n;
    }
}

/* Sums the slots over ranks, then: a failed rank makes every rank fail (the
 * failing one keeps its own message); else out += the shards' sums in order. */
static int gather(shards *sh, int local_rc, nn_scalars *out, nn_error *err)
{
    if (sh->P > 1) {
        double t0 = now();
        local_rc = nn__dist_sum_status(sh->slot, n_slots(sh) - (size_t)sh->P, local_rc, err);
        sh->comm += now() - t0;
    }
    if (local_rc)
        return -1;
    for (int s = 0; s < sh->S; s++)
        for (int k = 0; k < sh->names.n; k++) {
            double prev = nn_scalars_get(out, sh->names.name[k]);
            nn_scalars_set(out, sh->names.name[k], (isnan(prev) ? 0 : prev) + sums(sh, s)[k]);
        }
    return 0;
}

static void clear(shards *sh) { memset(sh->slot, 0, n_slots(sh) * sizeof *sh->slot); }

/* ---- evaluation ------------------------------------------------------------ */

/* The loss averaged over rows [0, d->n) of d, gradients off; means in out. */
static int eval_loss(nn_loss_fn loss, void *model, ad_tape *t, const nn_dataset *d,
                     size_t batch, tn_rng *rng, long step, nn_scalars *out, nn_error *err)
{
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
    for (int i = 0; i < sum.n; i++)
        sum.value[i] /= (double)d->n;
    *out = sum;
    return rc;
}

/* The test set cut into the shards, each evaluated with its generator by
 * its rank (the configuration's eval, or the loss), the sums reduced. */
static int eval_shards(shards *sh, nn_loss_fn loss, void *model, ad_tape *t,
                       const nn_dataset *test, const nn_train_config *c, long step,
                       nn_scalars *out, nn_error *err)
{
    int was = ad_set_grad_enabled(t, 0), rc = 0;
    int local = nn__dist_local(1); /* the eval sees this shard only */
    clear(sh);
    nn_scalars names = sh->names;
    sh->names = (nn_scalars){0};
    for (int s = 0; s < sh->S && rc == 0; s++) {
        size_t lo = shard_lo(test->n, s, sh->S), hi = shard_lo(test->n, s + 1, sh->S);
        if (!mine(sh, s) || hi == lo)
            continue;
        nn_dataset v = nn_data_view(test, lo, hi - lo);
        nn_scalars rep = {0};
        rc = c->eval ? c->eval(model, &v, &sh->noise[s], &rep, err)
                     : eval_loss(loss, model, t, &v, c->eval_batch, &sh->noise[s], step, &rep, err);
        if (rc == 0)
            put(sh, s, &rep, hi - lo);
    }
    ad_set_grad_enabled(t, was);
    nn__dist_local(local);
    /* every rank runs the same evaluation, so the names come in the same
     * order on each (a rank without test rows contributes nothing) */
    *out = (nn_scalars){0};
    rc = gather(sh, rc, out, err);
    for (int i = 0; i < out->n; i++)
        out->value[i] /= (double)test->n;
    sh->names = names;
    return rc;
}

/* generator states of every shard, as rank 0 saves them: each rank fills its
 * shards' slots, the sum over ranks gives all */
static int share_rngs(shards *sh, nn_error *err)
{
    size_t per = sizeof(tn_rng) / sizeof(uint64_t) + 1;
    uint64_t *u = calloc((size_t)sh->S * per, sizeof *u);
    if (!u)
        return nn_fail(err, "train: out of memory");
    for (int s = 0; s < sh->S; s++)
        if (mine(sh, s))
            memcpy(u + (size_t)s * per, &sh->noise[s], sizeof(tn_rng));
    double t0 = now();
    int rc = nn__dist_sum_u64(u, (size_t)sh->S * per, err);
    sh->comm += now() - t0;
    for (int s = 0; s < sh->S && rc == 0; s++)
        memcpy(&sh->noise[s], u + (size_t)s * per, sizeof(tn_rng));
    free(u);
    return rc;
}

/* ---- the loop ---------------------------------------------------------------- */

/* Every rank agrees on one outcome (see nn__dist_sum_status). */
static int agree(shards *sh, int rc, nn_error *err) { return nn__dist_sum_status(sh->slot, 0, rc, err); }

/* The thread team sized to the free cores: idle OpenMP workers and BLIS's
 * barriers spin, so a team larger than the cores other processes leave
 * free spends its waits spinning on a core its other thread needs (see
 * tensor/load.c). Sampled a tenth of a second after the start (a short
 * training, such as a probe or a timing, must not spend its time crowded),
 * then every half second; fewer threads at once (a crowded team costs
 * most), more only after two samples agree. */
typedef struct {
    int want, cur, pending;
    double next;
    tn_load load;
} team;

static void team_adapt(team *tm, const nn_train_config *c, nn_log_fn log)
{
    double t = now();
    if (tm->want < 2 || t < tm->next)
        return;
    tm->next = t + 0.5;
    double others = tn_load_others(&tm->load);
    if (others < 0)
        return;
    int cores = tn_cores(), free_ = (int)floor((double)cores - others + 0.5);
    int target = free_ < 1 ? 1 : free_ > tm->want ? tm->want : free_;
    if (target < tm->cur || (target > tm->cur && target == tm->pending)) {
        nn_logf(log, c->log_ctx, NN_LOG_INFO, "threads: %d -> %d (other processes keep %.1f of %d "
                "cores busy)", tm->cur, target, others, cores);
        tn_set_threads(target);
        if (target > tm->cur && !c->keep_denormals) /* new workers flush too */
            tn_flush_denormals(1);
        tm->cur = target;
    }
    tm->pending = target;
}

int nn_train(nn_params *p, nn_optim *opt, nn_loss_fn loss, void *model,
             const nn_dataset *train, const nn_dataset *test,
             const nn_train_config *c, nn_train_result *res, nn_error *err)
{
    nn_train_result r = {0};
    shards sh = {.P = nn_dist_size(), .rank = nn_dist_rank()};
    sh.S = c->shards > 0 ? c->shards : sh.P;
    int writer = sh.rank == 0; /* rank 0 logs and writes */
    nn_log_fn log = writer ? c->log : NULL;
    if (c->shards < 0 || sh.S % sh.P) /* the same on every rank */
        return nn_fail(err, "train: %d shards over %d ranks: expected a multiple of the ranks "
                            "(0: one a rank)", c->shards, sh.P);
    sh.noise = calloc((size_t)sh.S, sizeof *sh.noise);
    sh.slot = calloc(n_slots(&sh), sizeof *sh.slot);
    if (sh.S > sh.P)
        sh.acc = malloc(nn_params_size(p) * sizeof *sh.acc + 1);
    if (!sh.noise || !sh.slot || (sh.S > sh.P && !sh.acc)) {
        free(sh.noise), free(sh.slot), free(sh.acc);
        return nn_fail(err, "train: out of memory");
    }
    int rc = writer ? check_setup(p, train, test, c, err) : 0;
    if (rc == 0 && c->batch < (size_t)sh.S)
        rc = nn_fail(err, "train: batch %zu is smaller than its %d shards", c->batch, sh.S);
    if (!writer && rc == 0 && (!train || train->n == 0))
        rc = nn_fail(err, "train: the training set is empty");
    if ((rc = agree(&sh, rc, err))) {
        free(sh.noise), free(sh.slot), free(sh.acc);
        return -1;
    }
    if (!c->keep_denormals) /* flat epochs: see tn_flush_denormals */
        tn_flush_denormals(1);
    tn_rng data_rng;
    tn_rng_seed(&data_rng, c->seed, 1);
    for (int s = 0; s < sh.S; s++)
        tn_rng_seed(&sh.noise[s], c->seed, s == 0 ? 2 : 256 + (uint64_t)s);
    nn_meta *meta = calloc(1, sizeof *meta);
    if (!meta) {
        free(sh.noise), free(sh.slot), free(sh.acc);
        return nn_fail(err, "train: out of memory");
    }
    if (c->meta)
        *meta = *c->meta;
    int start = 0;
    long step = 0;
    if (c->resume) {
        nn_meta saved = {0};
        rc = nn_load(c->resume, p, opt, &saved, err) ||
             read_state(c->resume, &saved, &start, &step, &data_rng, sh.noise, sh.S, err);
        if (rc == 0)
            nn_logf(log, c->log_ctx, NN_LOG_INFO, "resumed from %s: epoch %d, step %ld", c->resume, start, step);
    }
    if (rc == 0 && sh.P > 1) /* one set of weights, whatever each rank did */
        rc = nn__dist_bcast_real(nn_params_values(p), nn_params_size(p), err);
    if (rc == 0 && (guard(p, 0, step, start + 1, err) || /* weights before any step */
                    (writer && c->metrics && metrics_trim(c->metrics, start, err))))
        rc = -1;
    if ((rc = agree(&sh, rc, err))) {
        free(meta), free(sh.noise), free(sh.slot), free(sh.acc);
        return -1;
    }
    nn_batches *batches = nn_batches_new(train, c->batch, &data_rng, c->dynamic_binarize, err);
    ad_tape *t = ad_tape_new(0);
    rc = batches && t ? 0 : (batches ? nn_fail(err, "train: out of memory") : -1);
    if (t) /* backward writes the gradient block whole: nothing to zero, GEMMs write with beta = 0 */
        ad_tape_write_grads(t, nn_params_grads(p), nn_params_size(p));
    size_t per = batches ? nn_batches_per_epoch(batches) : 0;
    r.epoch = start, r.steps = step;
    team tm = {.want = c->fixed_threads ? 1 : tn_get_threads()};
    tm.cur = tm.pending = tm.want;
    tm.next = now() + 0.1;
    tn_load_others(&tm.load);
    for (int epoch = start + 1; rc == 0 && epoch <= c->epochs; epoch++) {
        double t0 = now(), last_said = t0;
        nn_scalars sum = {0};
        size_t seen = 0, nb = 0;
        nn_batch b;
        sh.comm = 0;
        while (rc == 0 && nn_batches_next(batches, &b.x, &b.labels)) {
            size_t n = b.x.shape[0], dim = b.x.shape[1];
            int local = 0;
            clear(&sh);
            int first = 1;
            for (int s = 0; s < sh.S && local == 0; s++) {
                size_t lo = shard_lo(n, s, sh.S), hi = shard_lo(n, s + 1, sh.S);
                if (!mine(&sh, s) || hi == lo)
                    continue;
                /* a rank's second shard and on: its gradient in the block
                 * from zero, added to the sum of the ones before (in shard
                 * order, as the all-reduce adds the ranks') */
                if (!first)
                    memcpy(sh.acc, nn_params_grads(p), nn_params_size(p) * sizeof *sh.acc);
                nn_batch bs = {tn_wrap(b.x.data + lo * dim, 2, (const size_t[]){hi - lo, dim}),
                               b.labels ? b.labels + lo : NULL, hi - lo};
                nn_scalars rep = {0};
                ad_tape_reset(t);
                ad_var *l = loss(model, t, &bs, &sh.noise[s], step, &rep);
                /* each shard's gradient weighted by its share of the rows:
                 * the sum is the gradient of the batch's mean loss */
                ad_var *scaled = l && sh.S > 1 ? ad_scale(l, (tn_real)((double)(hi - lo) / (double)n)) : l;
                if (!l || ad_backward(t, scaled)) {
                    local = nn_fail(err, "step %ld (epoch %d): %s", step, epoch, ad_tape_error(t));
                    break;
                }
                double v = ad_item(l);
                if (!isfinite(v)) {
                    local = nn_fail(err, "step %ld (epoch %d): the loss is %g; training stopped, the last "
                                         "checkpoint is unchanged (check the data for NaN, or try a smaller "
                                         "learning rate or clipping)", step, epoch, v);
                    break;
                }
                nn_scalars_set(&rep, "loss", v);
                put(&sh, s, &rep, hi - lo);
                if (!first) {
                    tn_real *g = nn_params_grads(p);
                    for (size_t i = 0, m = nn_params_size(p); i < m; i++)
                        g[i] = sh.acc[i] + g[i];
                }
                first = 0;
            }
            if (first) /* no rows here this step (a short last batch) */
                nn_params_zero_grad(p);
            if ((rc = gather(&sh, local, &sum, err)))
                break;
            if (sh.P > 1) { /* the one all-reduce of the step */
                double c0 = now();
                rc = nn__dist_sum_real(nn_params_grads(p), nn_params_size(p), err);
                sh.comm += now() - c0;
                if (rc)
                    break;
            }
            /* the optimizer says, from its own pass, whether a weight came
             * out non-finite; only then are the blocks scanned, to name the
             * gradient or the weight (the grads are as backward left them).
             * Every rank has the same gradient, so every rank sees it. */
            nn_optim_step(opt, p);
            if (nn_optim_nonfinite(opt)) {
                if (!(rc = guard(p, 1, step, epoch, err)) && !(rc = guard(p, 0, step, epoch, err)))
                    rc = nn_fail(err, "step %ld (epoch %d): the optimizer wrote a weight that is not "
                                      "finite; training stopped, the last checkpoint is unchanged",
                                 step, epoch);
                break;
            }
            seen += n, step++, nb++;
            team_adapt(&tm, c, log);
            if (log && now() - last_said > 0.2) {
                double el = now() - t0;
                nn_logf(log, c->log_ctx, NN_LOG_PROGRESS, "epoch %d/%d  batch %zu/%zu  loss %.2f  ETA %.0f s", epoch,
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
        r.comm_seconds = sh.comm;
        r.test = (nn_scalars){0};
        if (test) {
            if ((rc = eval_shards(&sh, loss, model, t, test, c, step, &r.test, err)))
                break;
            for (int i = 0; i < r.test.n && rc == 0; i++)
                if (!isfinite(r.test.value[i]))
                    rc = nn_fail(err, "epoch %d: the test %s is %g; training stopped, the last "
                                      "checkpoint is unchanged", epoch, r.test.name[i], r.test.value[i]);
            if (rc)
                break;
        }
        char tr[256], te[256] = "", cm[64] = "";
        describe(tr, sizeof tr, &r.train);
        if (test)
            describe(te, sizeof te, &r.test);
        if (sh.P > 1)
            snprintf(cm, sizeof cm, " (all-reduce %.1f s, %d ranks)", r.comm_seconds, sh.P);
        nn_logf(log, c->log_ctx, NN_LOG_INFO, "epoch %d/%d  train %s%s%s  %.1f s%s", epoch, c->epochs, tr,
            test ? "  test " : "", te, r.seconds, cm);
        if (c->checkpoint) {
            if ((rc = share_rngs(&sh, err)))
                break;
            nn_meta_setf(meta, "train.epoch", "%d", epoch);
            nn_meta_setf(meta, "train.step", "%ld", step);
            nn_meta_setf(meta, "train.seed", "%" PRIu64, c->seed);
            nn_meta_put_rng(meta, "rng.data", &data_rng);
            if (sh.S > 1)
                nn_meta_setf(meta, "train.shards", "%d", sh.S);
            for (int s = 0; s < sh.S; s++) {
                char key[32];
                noise_key(key, sizeof key, s);
                nn_meta_put_rng(meta, key, &sh.noise[s]);
            }
            rc = writer ? nn_save(c->checkpoint, p, opt, meta, err) : 0;
            if ((rc = agree(&sh, rc, err)))
                break;
        }
        if (writer && c->metrics) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "epoch", epoch);
            cJSON_AddNumberToObject(j, "steps", (double)step);
            cJSON_AddNumberToObject(j, "seconds", r.seconds);
            if (sh.P > 1) {
                cJSON_AddNumberToObject(j, "ranks", sh.P);
                cJSON_AddNumberToObject(j, "allreduce_seconds", r.comm_seconds);
            }
            cJSON_AddNumberToObject(j, "lr", nn_optim_lr(opt)); /* the next step's */
            add_scalars(j, "train", &r.train);
            add_scalars(j, "test", &r.test);
            char *line = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
            rc = line ? metrics_append(c->metrics, line, err) : nn_fail(err, "train: out of memory");
            free(line);
        }
        if ((rc = agree(&sh, rc, err)))
            break;
    }
    if (tm.cur != tm.want) /* the caller's count back */
        tn_set_threads(tm.want);
    ad_tape_free(t);
    nn_batches_free(batches);
    free(meta), free(sh.noise), free(sh.slot), free(sh.acc);
    if (res)
        *res = r;
    return rc;
}
