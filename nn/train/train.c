/* train.c: nn_train, the loop every model trains with: seeded shuffled
 * batches, the user's loss, backward, the optimizer, a guard against
 * non-finite numbers, evaluation, checkpoints that resume exactly, and
 * metrics appended as JSON Lines. The loop reads as its description:
 *   open the run (checks, locks, resume, metrics) -> for each epoch: the
 *   steps, then the end of the epoch (evaluate, log, save, metrics) ->
 *   close the run (one cleanup path). */
#define _POSIX_C_SOURCE 200809L

#include "train_internal.h"
#include "plot.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

nn_train_config nn_train_defaults(void)
{
    return (nn_train_config){.epochs = 10, .batch = 128, .seed = 1, .eval_batch = 500,
                             .log = nn_log_stdio};
}

const char *nn_train_resumable(const char *path)
{
    return path && access(path, F_OK) == 0 ? path : NULL;
}

/* ---- the guard ------------------------------------------------------------
 * Every step: the loss, and the optimizer's own flag for the weights and
 * state it wrote. Before the first step and before every save: a scan of
 * the weights. A non-finite gradient makes a non-finite weight, so the flag
 * catches it; the scans below then say which. */

/* The guard's message, or 0 when every value of `which` (0 weights, 1
 * gradients, 2 the optimizer's state) is finite. */
static int guard(nn_params *p, nn_optim *o, int which, long step, int epoch, nn_error *err)
{
    static const char *const tail = "training stopped, the last checkpoint is unchanged (try a smaller "
                                    "learning rate or clipping)";
    if (which == 2) {
        for (int k = 0; o && k < nn_optim_slots(o); k++) {
            size_t n = nn_params_size(p), i = nn__first_nonfinite(nn_optim_slot(o, k), n);
            if (i < n)
                return nn_fail(err, "step %ld (epoch %d): the optimizer's %s[%zu] is %g; %s", step, epoch,
                               nn_optim_slot_name(o, k), i, (double)nn_optim_slot(o, k)[i], tail);
        }
        return 0;
    }
    int i;
    size_t k;
    if (!nn_params_nonfinite(p, which, &i, &k))
        return 0;
    const tn_tensor *t = which ? nn_params_grad(p, i) : nn_params_value(p, i);
    return nn_fail(err, "step %ld (epoch %d): the %s of %s[%zu] is %g; %s", step, epoch,
                   which ? "gradient" : "weight", nn_params_name(p, i), k, (double)t->data[k], tail);
}

/* ---- the run ------------------------------------------------------------------ */

/* The thread team sized to the free cores: idle OpenMP workers and BLIS's
 * barriers spin, so a team larger than the cores other processes leave
 * free spends its waits spinning on a core its other thread needs (see
 * tensor/load.c). Sampled a tenth of a second after the start (a short
 * training, such as a probe or a timing, must not spend its time crowded),
 * then every half second; fewer threads at once (a crowded team costs
 * most), more only after two samples agree. Said once when it first
 * changes; every change with NN_LOG_PROGRESS. */
typedef struct {
    int want, cur, pending, said;
    double next;
    tn_load load;
} team;

typedef struct {
    nn_params *p;
    nn_optim *opt;
    nn_loss_fn loss;
    void *model;
    const nn_dataset *train, *test;
    const nn_train_config *c;
    nn_error *err;
    int writer;              /* rank 0 logs and writes */
    nn_log_fn log;
    nn__shards sh;
    tn_rng data_rng;
    nn_meta meta;            /* what each checkpoint holds */
    nn_lock locks[3];        /* the checkpoint's, the metrics' and the plot's */
    nn_batches *batches;
    ad_tape *t;
    team tm;
    int start;               /* the epoch resumed from */
    char *saved_line;        /* that epoch's metrics line, from the checkpoint */
    long step;
    nn_train_result r;
} run;

/* ---- checks before the first step ------------------------------------------- */

static int check_setup(const run *R)
{
    const nn_train_config *c = R->c;
    nn_error *err = R->err;
    if (c->epochs < 0 || c->batch < 1 || c->eval_batch < 1)
        return nn_fail(err, "train: epochs %d, batch %zu, eval batch %zu: expected epochs >= 0 and "
                            "batches >= 1", c->epochs, c->batch, c->eval_batch);
    if (!R->train || R->train->n == 0)
        return nn_fail(err, "train: the training set is empty");
    if (!R->train->x && !R->train->x8)
        return nn_fail(err, "train: the training set has no values (x and x8 are NULL)");
    if (R->test && !R->test->x)
        return nn_fail(err, "train: the test data are bytes (x8): nn_data_floats() first");
    if (R->test && R->test->dim != R->train->dim)
        return nn_fail(err, "train: the test data have %zu values per example, the training data %zu",
                       R->test->dim, R->train->dim);
    if (nn_params_size(R->p) == 0)
        return nn_fail(err, "train: the model has no parameters");
    if (c->batch < (size_t)R->sh.S)
        return nn_fail(err, "train: batch %zu is smaller than its %d shards", c->batch, R->sh.S);
    if (!R->writer)
        return 0;
    if (c->plot && !c->metrics)
        return nn_fail(err, "train: a plot (%s) is drawn from the metrics file: give one", c->plot);
    const char *out[3] = {c->checkpoint, c->metrics, c->plot};
    for (int i = 0; i < 3; i++)
        if (out[i] && nn_output_check(out[i], err))
            return -1;
    return nn_outputs_distinct(out, 3, err);
}

/* One owner an output, for the whole run (rank 0, which writes them). */
static int lock_outputs(run *R)
{
    const char *out[3] = {R->c->checkpoint, R->c->metrics, R->c->plot};
    for (int i = 0; R->writer && i < 3; i++)
        if (out[i] && nn_lock_take(&R->locks[i], out[i], R->err))
            return -1;
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
static int read_state(run *R, const char *path, const nn_meta *m)
{
    const char *keys[3] = {"train.epoch", "train.step", "train.shards"};
    const long hi[3] = {1000000000L, 1L << 50, 1000000};
    const char *said[3] = {"0 to 10^9", "0 to 2^50", "1 to 1000000"};
    long v[3];
    nn_error *err = R->err;
    for (int i = 0; i < 3; i++) {
        const char *s = nn_meta_get(m, keys[i]);
        char *end = NULL;
        errno = 0;
        v[i] = s ? strtol(s, &end, 10) : 1;
        if ((!s && i < 2) || (s && (!*s || *end || errno || v[i] < (i == 2) || v[i] > hi[i])))
            return nn_fail(err, "%s: metadata %s = \"%s\": expected a whole number from %s",
                           path, keys[i], s ? s : "(missing)", said[i]);
    }
    if (v[2] != R->sh.S)
        return nn_fail(err, "%s: written by a run with %ld shards (ranks x shards a rank), this "
                            "run has %d: resume with the same number", path, v[2], R->sh.S);
    if (nn_meta_get_rng(m, "rng.data", &R->data_rng))
        return nn_fail(err, "%s: metadata: expected the generators' state rng.data and rng.noise",
                       path);
    for (int s = 0; s < R->sh.S; s++) {
        char key[32];
        noise_key(key, sizeof key, s);
        if (nn_meta_get_rng(m, key, &R->sh.noise[s]))
            return s ? nn_fail(err, "%s: metadata: expected the generator state %s", path, key)
                     : nn_fail(err, "%s: metadata: expected the generators' state rng.data and "
                                    "rng.noise", path);
    }
    R->start = (int)v[0], R->step = v[1];
    return 0;
}

/* The training state into R->meta: epoch, step, seed, shards, generators.
 * Written before the first step too, so that a metadata store that cannot
 * take it fails before any work. */
static int put_state(run *R, int epoch)
{
    int rc = nn_meta_setf(&R->meta, "train.epoch", "%d", epoch) |
             nn_meta_setf(&R->meta, "train.step", "%ld", R->step) |
             nn_meta_setf(&R->meta, "train.seed", "%" PRIu64, R->c->seed) |
             nn_meta_put_rng(&R->meta, "rng.data", &R->data_rng);
    if (R->sh.S > 1)
        rc |= nn_meta_setf(&R->meta, "train.shards", "%d", R->sh.S);
    for (int s = 0; s < R->sh.S; s++) {
        char key[32];
        noise_key(key, sizeof key, s);
        rc |= nn_meta_put_rng(&R->meta, key, &R->sh.noise[s]);
    }
    return rc ? nn_fail(R->err, "train: out of memory for the checkpoint's metadata") : 0;
}

/* Resumes from c->resume (weights, optimizer, generators, epoch, step), or
 * starts; brings the metrics file to the start; checks the weights. */
static int resume(run *R)
{
    const nn_train_config *c = R->c;
    nn_meta saved = NN_META_INIT;
    int rc = 0;
    if (c->resume) {
        rc = nn_load(c->resume, R->p, R->opt, &saved, R->err) || read_state(R, c->resume, &saved);
        if (rc == 0)
            nn_logf(R->log, c->log_ctx, NN_LOG_INFO, "resumed from %s: epoch %d, step %ld", c->resume,
                    R->start, R->step);
    }
    if (rc == 0 && R->sh.P > 1) /* one set of weights, whatever each rank did */
        rc = nn__dist_bcast_real(nn_params_values(R->p), nn_params_size(R->p), R->err);
    if (rc == 0)
        rc = guard(R->p, R->opt, 0, R->step, R->start + 1, R->err) ||
             guard(R->p, R->opt, 2, R->step, R->start + 1, R->err);
    const char *line = nn_meta_get(&saved, "train.metrics");
    if (rc == 0 && line && !(R->saved_line = strdup(line)))
        rc = nn_fail(R->err, "train: out of memory");
    int dropped = 0;
    if (rc == 0 && R->writer && c->metrics && nn_metrics_resume(c->metrics, R->start, line, &dropped, R->err))
        rc = -1;
    if (rc == 0 && dropped && c->resume)
        nn_logf(R->log, c->log_ctx, NN_LOG_INFO, "%s: %d line%s after epoch %d dropped", c->metrics, dropped,
                dropped > 1 ? "s" : "", R->start);
    nn_meta_free(&saved);
    return rc ? -1 : put_state(R, R->start);
}

static int run_open(run *R)
{
    const nn_train_config *c = R->c;
    R->writer = nn_dist_rank() == 0;
    R->log = R->writer ? c->log : NULL;
    R->locks[0].fd = R->locks[1].fd = R->locks[2].fd = -1;
    if (nn__shards_open(&R->sh, c->shards, nn_params_size(R->p), R->err))
        return -1;
    int rc = check_setup(R) || lock_outputs(R) ? -1 : 0;
    if (c->meta && rc == 0 && nn_meta_copy(&R->meta, c->meta))
        rc = nn_fail(R->err, "train: out of memory for the checkpoint's metadata");
    if (nn__shards_agree(&R->sh, rc, R->err))
        return -1;
    if (!c->keep_denormals) /* flat epochs: see tn_flush_denormals */
        tn_flush_denormals(1);
    tn_rng_seed(&R->data_rng, c->seed, 1);
    for (int s = 0; s < R->sh.S; s++)
        tn_rng_seed(&R->sh.noise[s], c->seed, s == 0 ? 2 : 256 + (uint64_t)s);
    if (nn__shards_agree(&R->sh, resume(R), R->err))
        return -1;
    R->batches = nn_batches_new(R->train, c->batch, &R->data_rng, c->dynamic_binarize, R->err);
    if (!R->batches)
        return -1;
    if (!(R->t = ad_tape_new(0)))
        return nn_fail(R->err, "train: out of memory");
    /* backward writes the gradient block whole: nothing to zero, GEMMs write with beta = 0 */
    ad_tape_write_grads(R->t, nn_params_grads(R->p), nn_params_size(R->p));
    ad_set_detect_anomaly(R->t, c->detect_anomaly);
    R->r.epoch = R->start, R->r.steps = R->step;
    R->tm.want = c->fixed_threads ? 1 : tn_get_threads();
    R->tm.cur = R->tm.pending = R->tm.want;
    R->tm.next = tn_seconds() + 0.1;
    tn_load_others(&R->tm.load);
    return 0;
}

static void run_close(run *R)
{
    if (R->tm.cur != R->tm.want) /* the caller's count back */
        tn_set_threads(R->tm.want);
    ad_tape_free(R->t);
    nn_batches_free(R->batches);
    nn_meta_free(&R->meta);
    free(R->saved_line);
    nn__shards_close(&R->sh);
    for (int i = 0; i < 3; i++)
        nn_lock_release(&R->locks[i]);
}

/* ---- a step ------------------------------------------------------------------- */

static void team_adapt(team *tm, const nn_train_config *c, nn_log_fn log)
{
    double t = tn_seconds();
    if (tm->want < 2 || t < tm->next)
        return;
    tm->next = t + 0.5;
    double others = tn_load_others(&tm->load);
    if (others < 0)
        return;
    int cores = tn_cores(), free_ = (int)floor((double)cores - others + 0.5);
    int target = free_ < 1 ? 1 : free_ > tm->want ? tm->want : free_;
    if (target < tm->cur || (target > tm->cur && target == tm->pending)) {
        nn_logf(log, c->log_ctx, tm->said ? NN_LOG_PROGRESS : NN_LOG_INFO,
                "threads: %d -> %d (other processes keep %.1f of %d cores busy)%s", tm->cur, target, others,
                cores, tm->said ? "" : "; further changes are not logged");
        tm->said = 1;
        tn_set_threads(target);
        if (target > tm->cur && !c->keep_denormals) /* new workers flush too */
            tn_flush_denormals(1);
        tm->cur = target;
    }
    tm->pending = target;
}

/* The loss and backward of this rank's shards of batch b; the gradient of
 * the batch's mean loss left in the block (summed over ranks by the
 * caller); the reports in the shard slots. */
static int shards_backward(run *R, const nn_batch *b, int epoch)
{
    nn__shards *sh = &R->sh;
    size_t n = b->x.shape[0], dim = b->x.shape[1], m = nn_params_size(R->p);
    int first = 1;
    for (int s = 0; s < sh->S; s++) {
        size_t lo = nn__shard_lo(n, s, sh->S), hi = nn__shard_lo(n, s + 1, sh->S);
        if (!nn__shards_mine(sh, s) || hi == lo)
            continue;
        /* a rank's second shard and on: its gradient in the block from
         * zero, added to the sum of the ones before (in shard order, as the
         * all-reduce adds the ranks') */
        if (!first)
            memcpy(sh->acc, nn_params_grads(R->p), m * sizeof *sh->acc);
        nn_batch bs = {tn_wrap(b->x.data + lo * dim, 2, (const size_t[]){hi - lo, dim}),
                       b->labels ? b->labels + lo : NULL, hi - lo};
        nn_scalars rep = {0};
        ad_tape_reset(R->t);
        nn_step st = {&sh->noise[s], R->step, &rep};
        ad_var *l = R->loss(R->model, R->t, &bs, &st);
        /* each shard's gradient weighted by its share of the rows: the sum
         * is the gradient of the batch's mean loss */
        ad_var *scaled = l && sh->S > 1 ? ad_scale(l, (tn_real)((double)(hi - lo) / (double)n)) : l;
        if (!l || ad_backward(R->t, scaled))
            return nn_fail(R->err, "step %ld (epoch %d): %s", R->step, epoch, ad_tape_error(R->t));
        if (rep.refused[0]) { /* the message only when it is needed: this is every step */
            char where[64];
            snprintf(where, sizeof where, "step %ld (epoch %d)", R->step, epoch);
            return nn__scalars_refused(&rep, where, R->err);
        }
        double v = ad_item(l);
        if (!isfinite(v))
            return nn_fail(R->err, "step %ld (epoch %d): the loss is %g; training stopped, the last "
                                   "checkpoint is unchanged (check the data for NaN, or try a smaller "
                                   "learning rate or clipping; detect_anomaly names the op)", R->step, epoch, v);
        nn_scalars_set(&rep, "loss", v);
        nn__shards_put(sh, s, &rep, hi - lo);
        if (!first) {
            tn_real *g = nn_params_grads(R->p);
            for (size_t i = 0; i < m; i++)
                g[i] = sh->acc[i] + g[i];
        }
        first = 0;
    }
    if (first) /* no rows here this step (a short last batch) */
        nn_params_zero_grad(R->p);
    return 0;
}

/* One update from batch b: the shards' backward, their reports into sum,
 * the all-reduce, the optimizer, the guard. */
static int train_step(run *R, const nn_batch *b, int epoch, nn_scalars *sum)
{
    nn__shards *sh = &R->sh;
    nn__shards_clear(sh);
    int local = shards_backward(R, b, epoch);
    if (nn__shards_gather(sh, local, sum, R->err))
        return -1;
    if (sh->P > 1) { /* the one all-reduce of the step */
        double c0 = tn_seconds();
        int rc = nn__dist_sum_real(nn_params_grads(R->p), nn_params_size(R->p), R->err);
        sh->comm += tn_seconds() - c0;
        if (rc)
            return -1;
    }
    /* the optimizer says, from its own pass, whether a weight or its state
     * came out non-finite; only then are the blocks scanned, to name it
     * (the grads are as backward left them). Every rank has the same
     * gradient, so every rank sees it. */
    nn_optim_step(R->opt, R->p);
    if (nn_optim_nonfinite(R->opt)) { /* name it: a gradient, else a weight, else the state */
        static const int order[3] = {1, 0, 2};
        for (int k = 0; k < 3; k++)
            if (guard(R->p, R->opt, order[k], R->step, epoch, R->err))
                return -1;
        return nn_fail(R->err, "step %ld (epoch %d): the optimizer wrote a value that is not finite; "
                               "training stopped, the last checkpoint is unchanged", R->step, epoch);
    }
    R->step++;
    return 0;
}

/* An epoch's steps; the means of what the loss reported in R->r.train. */
static int train_epoch(run *R, int epoch)
{
    const nn_train_config *c = R->c;
    double t0 = tn_seconds(), last_said = t0;
    nn_scalars sum = {0};
    size_t seen = 0, nb = 0, per = nn_batches_per_epoch(R->batches);
    nn_batch b;
    R->sh.comm = 0;
    while (nn_batches_next(R->batches, &b.x, &b.labels)) {
        if (train_step(R, &b, epoch, &sum))
            return -1;
        seen += b.x.shape[0], nb++;
        team_adapt(&R->tm, c, R->log);
        if (R->log && tn_seconds() - last_said > 0.2) {
            double el = tn_seconds() - t0;
            nn_logf(R->log, c->log_ctx, NN_LOG_PROGRESS, "epoch %d/%d  batch %zu/%zu  loss %.2f  ETA %.0f s",
                    epoch, c->epochs, nb, per, nn_scalars_get(&sum, "loss") / (double)seen,
                    el / (double)nb * (double)(per - nb));
            last_said = tn_seconds();
        }
    }
    for (int i = 0; i < sum.n; i++)
        sum.value[i] /= (double)seen;
    R->r.train = sum, R->r.seconds = tn_seconds() - t0, R->r.steps = R->step, R->r.epoch = epoch;
    R->r.comm_seconds = R->sh.comm;
    return 0;
}

/* ---- the end of an epoch ---------------------------------------------------------- */

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

/* The epoch's metrics line (heap), or NULL when out of memory. timed: with
 * its seconds and ranks; the checkpoint keeps the line without them, so that
 * two runs of one seed write the same bytes, and one process with S shards
 * the bytes of S ranks. */
static char *metrics_line(const run *R, int epoch, int timed)
{
    const nn_train_result *r = &R->r;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epoch", epoch);
    cJSON_AddNumberToObject(j, "steps", (double)R->step);
    if (timed)
        cJSON_AddNumberToObject(j, "seconds", r->seconds);
    if (R->sh.P > 1 && timed) {
        cJSON_AddNumberToObject(j, "ranks", R->sh.P);
        cJSON_AddNumberToObject(j, "allreduce_seconds", r->comm_seconds);
    }
    cJSON_AddNumberToObject(j, "lr", nn_optim_lr(R->opt)); /* the next step's */
    add_scalars(j, "train", &r->train);
    add_scalars(j, "test", &r->test);
    char *line = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return line;
}

/* The test evaluation, every number of it finite. */
static int evaluate(run *R, int epoch)
{
    R->r.test = (nn_scalars){0};
    if (!R->test)
        return 0;
    if (nn__shards_eval(&R->sh, R->loss, R->model, R->t, R->test, R->c, R->step, &R->r.test, R->err))
        return -1;
    for (int i = 0; i < R->r.test.n; i++)
        if (!isfinite(R->r.test.value[i]))
            return nn_fail(R->err, "epoch %d: the test %s is %g; training stopped, the last checkpoint is "
                                   "unchanged", epoch, R->r.test.name[i], R->r.test.value[i]);
    return 0;
}

/* The checkpoint (holding the epoch's metrics line without its seconds,
 * which a resume puts back if the append below never happened), then the
 * metrics line. */
static int save(run *R, int epoch, const char *line, const char *untimed)
{
    const nn_train_config *c = R->c;
    int rc = 0;
    if (c->checkpoint) {
        if (nn__shards_share_rngs(&R->sh, R->err))
            return -1;
        rc = put_state(R, epoch) ||
             (untimed && nn_meta_set(&R->meta, "train.metrics", untimed) &&
              nn_fail(R->err, "train: out of memory for the checkpoint's metadata"));
        if (rc == 0 && R->writer && nn_save(c->checkpoint, R->p, R->opt, &R->meta, R->err)) {
            char msg[sizeof R->err->msg];
            snprintf(msg, sizeof msg, "%s", R->err->msg);
            rc = nn_fail(R->err, "epoch %d, step %ld: %s", epoch, R->step, msg);
        }
        if (nn__shards_agree(&R->sh, rc, R->err))
            return -1;
    }
    if (R->writer && c->metrics)
        rc = line ? nn_metrics_append(c->metrics, line, R->err) : nn_fail(R->err, "train: out of memory");
    if (rc == 0 && R->writer && c->plot) /* the learning curves so far, redrawn from the file */
        rc = nn_plot_curves(c->plot, 1, &c->metrics, NULL, c->metrics, R->err);
    return nn__shards_agree(&R->sh, rc, R->err);
}

static int end_epoch(run *R, int epoch)
{
    const nn_train_config *c = R->c;
    if (evaluate(R, epoch))
        return -1;
    char tr[256], te[256] = "", cm[64] = "";
    describe(tr, sizeof tr, &R->r.train);
    if (R->test)
        describe(te, sizeof te, &R->r.test);
    if (R->sh.P > 1)
        snprintf(cm, sizeof cm, " (all-reduce %.1f s, %d ranks)", R->r.comm_seconds, R->sh.P);
    nn_logf(R->log, c->log_ctx, NN_LOG_INFO, "epoch %d/%d  train %s%s%s  %.1f s%s", epoch, c->epochs, tr,
            R->test ? "  test " : "", te, R->r.seconds, cm);
    int shapes = 0, packed = 0;
    if (epoch == R->start + 1) /* once: the ways the first epoch's products took */
        tn_blas_plans(&shapes, &packed);
    if (shapes)
        nn_logf(R->log, c->log_ctx, NN_LOG_INFO, "BLIS: the faster of its two ways, timed, for %d product "
                "shape%s: %d packed (TAPE_GEMM_PLAN=0: BLIS's own way for all)", shapes, shapes > 1 ? "s" : "",
                packed);
    char *line = metrics_line(R, epoch, 1), *untimed = metrics_line(R, epoch, 0);
    int rc = save(R, epoch, line, untimed);
    free(line), free(untimed);
    return rc;
}

/* A run resumed at or past its last epoch trains nothing: its result is the
 * checkpoint's (the averages of its last epoch, from the saved line). */
static void stored_result(run *R)
{
    cJSON *j = R->saved_line ? cJSON_Parse(R->saved_line) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsNumber(it) || !it->string)
            continue;
        if (!strncmp(it->string, "train_", 6))
            nn_scalars_set(&R->r.train, it->string + 6, it->valuedouble);
        else if (!strncmp(it->string, "test_", 5))
            nn_scalars_set(&R->r.test, it->string + 5, it->valuedouble);
    }
    cJSON_Delete(j);
}

int nn_train(nn_params *p, nn_optim *opt, nn_loss_fn loss, void *model,
             const nn_dataset *train, const nn_dataset *test,
             const nn_train_config *c, nn_train_result *res, nn_error *err)
{
    nn_error scratch;
    if (!err) /* the caller does not want the message; the run still needs one */
        err = &scratch;
    run R = {.p = p, .opt = opt, .loss = loss, .model = model, .train = train, .test = test, .c = c,
             .err = err};
    int rc = run_open(&R);
    for (int epoch = R.start + 1; rc == 0 && epoch <= c->epochs; epoch++)
        rc = train_epoch(&R, epoch) || end_epoch(&R, epoch) ? -1 : 0;
    if (rc == 0 && R.start >= c->epochs) {
        stored_result(&R);
        nn_logf(R.log, c->log_ctx, NN_LOG_INFO, "nothing to train: the checkpoint is at epoch %d of %d%s",
                R.start, c->epochs, R.saved_line ? "; its results as stored" : "");
    }
    run_close(&R);
    if (res)
        *res = R.r;
    return rc;
}
