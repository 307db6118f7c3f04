/* trainer.h: the loop every model trains with (nn_train), through a loss
 * callback: batches, named numbers, the log hook, the metrics file,
 * data-parallel shards over MPI, and the gradient check of a loss as the
 * trainer runs it. Built on nn.h; latent.h and setup.h stand on it, and
 * train.h gathers the three.
 *
 * Lifetimes: nothing here keeps a pointer past the call that received it.
 * Tapes are made and freed inside each call; the caller owns the parameters,
 * the optimizer and the datasets.
 * Errors: 0 / a value on success, -1 with a message in the nn_error passed,
 * naming the file, the step or the option. Nothing here prints or exits:
 * lines go to the log hook of the configuration.
 */
#ifndef NN_TRAINER_H
#define NN_TRAINER_H

#include "nn.h"

/* ---- batches and named numbers ------------------------------------------- */

/* A minibatch as a loss sees it: x (n x dim), a view valid for one call. */
typedef struct {
    tn_tensor x;
    const int *labels;  /* n labels, or NULL when the data have none */
    size_t n;
} nn_batch;

/* Named numbers a loss reports ("recon", "kl", ...), averaged over examples
 * by the trainer and written to the metrics file. */
#define NN_SCALARS_MAX 16
typedef struct {
    int n;
    char name[NN_SCALARS_MAX][32];
    double value[NN_SCALARS_MAX];
    char refused[32];   /* the first name that could not be set (its start) */
} nn_scalars;
/* Sets name to v (adding it when new); -1 when full or the name is 32
 * characters or more, the name then kept in `refused`: the trainer and
 * nn_evaluate stop with an error naming it rather than drop the number. */
TN_API int nn_scalars_set(nn_scalars *s, const char *name, double v);
/* The value of name, or NaN. */
TN_API double nn_scalars_get(const nn_scalars *s, const char *name);

/* ---- the trainer ------------------------------------------------------------ */

/* What a loss gets besides the model, the tape and the batch: the
 * trainer's noise generator (draw ε, Gumbel noise or corruption from it, so
 * runs repeat and resume exactly), the updates done so far (KL warm-up,
 * temperature annealing) and the named numbers to report. */
typedef struct {
    tn_rng *rng;
    long step;
    nn_scalars *report;
} nn_step;
/* Reports v's value (one element) as `name` and returns v, so a loss can
 * report its parts where it adds them:
 *   return ad_add(nn_report(s, "recon", rec), nn_report(s, "kl", kl));
 * NULL v is passed through. A name of 32 characters or more, or a 17th
 * name, stops the trainer with an error naming it. */
TN_API ad_var *nn_report(nn_step *s, const char *name, ad_var *v);

/* Records one batch's loss on t and returns it (one element), or NULL with
 * the tape's error. Whatever the loss reports is averaged and logged with
 * the loss. The trainer calls it with gradients off to evaluate on the
 * test set. E.g.
 *   static ad_var *loss(void *m, ad_tape *t, const nn_batch *b, nn_step *s)
 */
typedef ad_var *(*nn_loss_fn)(void *model, ad_tape *t, const nn_batch *b,
                              nn_step *s);

/* An evaluation of its own, run with gradients off after every epoch
 * (instead of the loss averaged over the test set): fills out, whose
 * "loss" entry is the test loss. 0, or -1 with err. */
typedef int (*nn_eval_fn)(void *model, const nn_dataset *test, tn_rng *rng,
                          nn_scalars *out, nn_error *err);

/* The log hook: every line the library has to say. NN_LOG_PROGRESS lines
 * (batch, running loss, ETA) come several times a second and are meant to
 * overwrite each other; NN_LOG_INFO lines are one per epoch and such;
 * NN_LOG_ERROR is why a program stops (nn_setup_end). */
typedef enum { NN_LOG_INFO, NN_LOG_PROGRESS, NN_LOG_ERROR } nn_log_level;
typedef void (*nn_log_fn)(void *ctx, nn_log_level level, const char *line);
/* Formats a line and hands it to log (nothing when log is NULL). */
TN_API void nn_logf(nn_log_fn log, void *ctx, nn_log_level level, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* The default hook: INFO lines to stdout; progress to stderr, and only when
 * stderr is a terminal (overwritten in place); errors to stderr. Under MPI
 * rank 0 alone says INFO and progress lines; every rank its errors. */
TN_API void nn_log_stdio(void *ctx, nn_log_level level, const char *line);

typedef struct {
    int epochs;            /* train until this many epochs are done (10) */
    size_t batch;          /* 128 */
    uint64_t seed;         /* data order (stream 1) and noise (stream 2) */
    int dynamic_binarize;  /* each batch a fresh Bernoulli sample of x */
    const char *checkpoint; /* written every epoch, atomically; NULL: none */
    const char *resume;    /* a checkpoint nn_train wrote to continue from
                              (often the same path; see nn_train_resumable) */
    const char *metrics;   /* JSON Lines, one object an epoch; appended on
                              resume (lines after the checkpoint's epoch are
                              dropped), started afresh otherwise */
    const char *plot;      /* an SVG of the learning curves, redrawn from
                              the metrics file after every epoch
                              (nn_plot_curves); NULL: none */
    const nn_meta *meta;   /* extra metadata saved in each checkpoint */
    nn_eval_fn eval;       /* NULL: the loss averaged over the test set */
    size_t eval_batch;     /* 500 */
    nn_log_fn log;         /* nn_log_stdio; NULL: silent */
    void *log_ctx;
    int keep_denormals;    /* 0 (default): tn_flush_denormals(1) before training */
    int fixed_threads;     /* 0 (default): every second, the thread team is
                              sized to the cores other processes leave free
                              (tn_load_others), up to tn_get_threads() at the
                              start; 1: keep the count as it is */
    int detect_anomaly;    /* 1: every op's result and gradient checked for NaN
                              and inf, the first named (ad_set_detect_anomaly);
                              slower, for finding where a NaN comes from */
    int shards;            /* each global batch in this many contiguous row
                              shards, each with its noise generator, their
                              gradients summed before the step; 0: one per
                              MPI rank (1 without MPI). See "Data-parallel". */
} nn_train_config;

TN_API nn_train_config nn_train_defaults(void);
/* path when that file exists (a run that was cut short continues), else NULL. */
TN_API const char *nn_train_resumable(const char *path);

/* What a run did: its last epoch's averages. */
typedef struct {
    int epoch;             /* epochs done (the last one trained) */
    long steps;            /* updates done, over all runs */
    nn_scalars train;      /* "loss" and the loss's reports, averaged */
    nn_scalars test;       /* the evaluation's numbers ("loss", ...) */
    double seconds;        /* the last epoch's training time */
    double comm_seconds;   /* of which in the all-reduces (MPI, > 1 rank) */
} nn_train_result;

/* Trains p with opt on train, evaluating on test (may be NULL) after every
 * epoch. Before the first step it checks what can be checked: the
 * checkpoint's folder can be written, the metrics path is not a folder, the
 * test data have the training data's width. Each step: loss(), backward,
 * opt (which clips and schedules as configured). A loss, gradient or weight
 * that is not finite stops training with the step, the epoch and the
 * quantity named; weights are checked before every save, so the last good
 * checkpoint is never overwritten by a bad one. The checkpoint holds the
 * parameters, the optimizer's state, the epoch, the step and both
 * generators' states: a resumed run equals the uninterrupted one bit for
 * bit. res may be NULL. Returns 0, or -1 with err. */
TN_API int nn_train(nn_params *p, nn_optim *opt, nn_loss_fn loss, void *model,
             const nn_dataset *train, const nn_dataset *test,
             const nn_train_config *c, nn_train_result *res, nn_error *err);

/* The loss averaged over a whole dataset with gradients off: each batch of
 * `batch` rows (0: 500) through loss(model, t, b, rng, 0, report), "loss"
 * and every reported number averaged over the examples into out. Works on
 * floats and on byte-stored data alike; under MPI the rows are split over
 * the ranks and the sums reduced, as the trainer's evaluation does. An
 * evaluation of any loss or metric (a classifier's error rate, a
 * reconstruction, a bound) is this call with that function. 0, or -1 with
 * err (the first failing batch's tape error). */
TN_API int nn_evaluate(nn_loss_fn loss, void *model, const nn_dataset *d, size_t batch, tn_rng *rng,
                nn_scalars *out, nn_error *err);

/* ---- the metrics file ----------------------------------------------------------
 * JSON Lines: one object an epoch with an "epoch" number. nn_train writes
 * it through these; a program of its own may too. */

/* Appends line (one JSON object with an "epoch" number, no newline) and a
 * newline in one write: the file gains the whole line or, on any failure
 * (a full disk), nothing. path must be a regular file or new (symbolic
 * links followed). 0, or -1 with err. */
TN_API int nn_metrics_append(const char *path, const char *line, nn_error *err);
/* Brings path back to a run at the end of epoch `keep` (0: a fresh run):
 * lines of later epochs go, a last line cut off by a failed write goes, and
 * when the line of epoch keep is missing (a run killed between its
 * checkpoint and its metrics line) saved_line (that epoch's line, from the
 * checkpoint; may be NULL) is put back. A line that is not a metrics object
 * is an error naming the line. The file is rewritten atomically only when
 * something changes; a fresh run creates it empty. *dropped (may be NULL):
 * the lines that went. 0, or -1 with err. */
TN_API int nn_metrics_resume(const char *path, int keep, const char *saved_line, int *dropped,
                      nn_error *err);

/* ---- Data-parallel: shards and MPI ------------------------------------------
 * A step splits its global batch of B rows into S shards of contiguous rows
 * (shard s: rows s·B/S to (s+1)·B/S), runs the loss and backward on each
 * with the shard's own noise generator (stream 2 of the seed for shard 0,
 * 256 + s for the others), scales each shard's gradient by its share of the
 * rows (so the step's gradient is the gradient of the mean loss over the
 * batch, as with one shard) and sums them before the optimizer's step. In one
 * process this is gradient accumulation. In the library built with
 * `make MPI=1` and started by mpirun, S defaults to the number of ranks:
 * rank r runs shard r, and one MPI_Allreduce over the gradient block sums
 * them; every rank reads the data and takes its rows of one shared, seeded
 * shuffle. Rank 0 alone logs, writes metrics and checkpoints (holding every
 * shard's generator), and draws pictures; the test set is split the same
 * way and its sums reduced. A run with S shards under MPI computes what one
 * process with `shards = S` computes: each number is the same sum of the
 * same terms in the same order, so the two agree bit for bit (the tests say
 * so). Resume works as without MPI, with the same S. A rank that fails
 * stops every rank at the same collective, each with an error; a rank that
 * exits with a non-zero status aborts the job. */
TN_API int nn_dist_size(void);   /* ranks in the job: 1 without mpirun or MPI */
TN_API int nn_dist_rank(void);   /* this process's rank: 0 without */

/* The gradient check of a loss as the trainer runs it: backward's gradient
 * of every parameter of p against central differences (f(w+eps) -
 * f(w-eps)) / 2eps on batch b, with the loss's generator reseeded from
 * `seed` before every evaluation, so its noise (ε, Gumbel noise) is the same
 * each time. per_tensor > 0 checks that many elements of each parameter
 * tensor, drawn from the seed (0: every element; a full model is millions of
 * evaluations). Error per element as ad_gradcheck: |a - n| / max(1, |a|,
 * |n|). Use the double build (pkg-config tape-double) with eps 1e-6, where a
 * correct loss is within 1e-6; in float, eps 1e-2 and 2e-2. Returns the
 * worst error, or -1 with report->error set. report may be NULL. */
TN_API double nn_gradcheck_loss(nn_loss_fn loss, void *model, nn_params *p,
                         const nn_batch *b, uint64_t seed, double eps,
                         size_t per_tensor, ad_gradcheck_report *report);
/* An element whose error is suspect is measured again with half the step:
 * when the two measured slopes disagree, a kink (relu, abs, clamp, max) or
 * rounding sits within eps and central differences cannot resolve the
 * slope; such elements are counted in report->kinks and left out of the
 * worst error (a wrong gradient disagrees with a slope both steps agree
 * on). report->checked counts the others. */

/* The check with the build's settings: NN_CHECK_PER_TENSOR elements of each
 * tensor, eps NN_CHECK_EPS and tolerance NN_CHECK_TOL (double: 1e-6 and
 * 1e-6; float: 1e-2 and 5e-2, what float's rounding of a loss of hundreds
 * of nats leaves resolvable: every example's and built-in variant's
 * correct loss measures well under it, a detached path or a wrong sign
 * well over it (examples/check_all.sh, build/test_float check_loss_trusted;
 * docs/results.md); define both before the include to choose others). 0 when the worst error is within the
 * tolerance, 1 when not (report names the element), -1 when the check could
 * not run (report->error). worst and report may be NULL. */
#ifndef NN_CHECK_EPS
#ifdef TN_REAL_DOUBLE
#define NN_CHECK_EPS 1e-6
#define NN_CHECK_TOL 1e-6
#else
#define NN_CHECK_EPS 1e-2
#define NN_CHECK_TOL 5e-2
#endif
#endif
#define NN_CHECK_PER_TENSOR 50
#define NN_CHECK_ROWS 64 /* nn_check_data's batch: more rows average the rounding */
TN_API int nn_check_loss(nn_loss_fn loss, void *model, nn_params *p, const nn_batch *b, uint64_t seed,
                  double *worst, ad_gradcheck_report *report);
/* nn_check_loss on the first NN_CHECK_ROWS rows of d (floats), its result as one line
 * to the log hook ("gradient check (float, eps 0.01, ...): worst relative
 * error ... passed"). 0 passed, 1 failed, -1 could not run; err says why
 * for both. What `--check` runs. */
TN_API int nn_check_data(nn_loss_fn loss, void *model, nn_params *p, const nn_dataset *d, uint64_t seed,
                  nn_log_fn log, void *log_ctx, nn_error *err);

#endif
