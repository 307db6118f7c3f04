/* train.h: what turns a model definition into a trained, evaluated and drawn
 * model, for any model the user defines: one call that trains it through a
 * loss callback (nn_train), the evaluation of a latent-variable model (the
 * negative ELBO in parts, the importance-weighted bound L_k, active units),
 * and its pictures as PNG files (libpng). Built on nn.h; docs/tutorial.md
 * walks through a whole model.
 *
 * Lifetimes: nothing here keeps a pointer past the call that received it.
 * Tapes are made and freed inside each call; the caller owns the parameters,
 * the optimizer and the datasets.
 * Errors: 0 / a value on success, -1 (NaN for a bound) with a message in the
 * nn_error passed, naming the file, the step or the option. Nothing here
 * prints or exits: lines go to the log hook of the configuration.
 */
#ifndef NN_TRAIN_H
#define NN_TRAIN_H

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
} nn_scalars;
/* Sets name to v (adding it when new); -1 when full or the name is too long. */
int nn_scalars_set(nn_scalars *s, const char *name, double v);
/* The value of name, or NaN. */
double nn_scalars_get(const nn_scalars *s, const char *name);

/* ---- the trainer ------------------------------------------------------------ */

/* Records one batch's loss on t and returns it (one element), or NULL with
 * the tape's error. rng is the trainer's noise generator (draw ε, Gumbel
 * noise or corruption from it, so runs repeat and resume exactly); step
 * counts the updates so far (KL warm-up, temperature annealing). Whatever
 * the loss puts in `report` is averaged and logged with the loss. The
 * trainer calls it with gradients off to evaluate on the test set. */
typedef ad_var *(*nn_loss_fn)(void *model, ad_tape *t, const nn_batch *b,
                              tn_rng *rng, long step, nn_scalars *report);

/* An evaluation of its own, run with gradients off after every epoch
 * (instead of the loss averaged over the test set): fills out, whose
 * "loss" entry is the test loss. 0, or -1 with err. */
typedef int (*nn_eval_fn)(void *model, const nn_dataset *test, tn_rng *rng,
                          nn_scalars *out, nn_error *err);

/* The log hook: every line the trainer has to say. NN_LOG_PROGRESS lines
 * (batch, running loss, ETA) come several times a second and are meant to
 * overwrite each other; NN_LOG_INFO lines are one per epoch and such. */
typedef enum { NN_LOG_INFO, NN_LOG_PROGRESS } nn_log_level;
typedef void (*nn_log_fn)(void *ctx, nn_log_level level, const char *line);
/* Formats a line and hands it to log (nothing when log is NULL). */
void nn_logf(nn_log_fn log, void *ctx, nn_log_level level, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* The default hook: INFO lines to stdout; progress to stderr, and only when
 * stderr is a terminal (overwritten in place). */
void nn_log_stdio(void *ctx, nn_log_level level, const char *line);

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
    int shards;            /* each global batch in this many contiguous row
                              shards, each with its noise generator, their
                              gradients summed before the step; 0: one per
                              MPI rank (1 without MPI). See "Data-parallel". */
} nn_train_config;

nn_train_config nn_train_defaults(void);
/* path when that file exists (a run that was cut short continues), else NULL. */
const char *nn_train_resumable(const char *path);

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
int nn_train(nn_params *p, nn_optim *opt, nn_loss_fn loss, void *model,
             const nn_dataset *train, const nn_dataset *test,
             const nn_train_config *c, nn_train_result *res, nn_error *err);

/* ---- the metrics file ----------------------------------------------------------
 * JSON Lines: one object an epoch with an "epoch" number. nn_train writes
 * it through these; a program of its own may too. */

/* Appends line (one JSON object with an "epoch" number, no newline) and a
 * newline in one write: the file gains the whole line or, on any failure
 * (a full disk), nothing. path must be a regular file or new (symbolic
 * links followed). 0, or -1 with err. */
int nn_metrics_append(const char *path, const char *line, nn_error *err);
/* Brings path back to a run at the end of epoch `keep` (0: a fresh run):
 * lines of later epochs go, a last line cut off by a failed write goes, and
 * when the line of epoch keep is missing (a run killed between its
 * checkpoint and its metrics line) saved_line (that epoch's line, from the
 * checkpoint; may be NULL) is put back. A line that is not a metrics object
 * is an error naming the line. The file is rewritten atomically only when
 * something changes; a fresh run creates it empty. *dropped (may be NULL):
 * the lines that went. 0, or -1 with err. */
int nn_metrics_resume(const char *path, int keep, const char *saved_line, int *dropped,
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
int nn_dist_size(void);   /* ranks in the job: 1 without mpirun or MPI */
int nn_dist_rank(void);   /* this process's rank: 0 without */

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
double nn_gradcheck_loss(nn_loss_fn loss, void *model, nn_params *p,
                         const nn_batch *b, uint64_t seed, double eps,
                         size_t per_tensor, ad_gradcheck_report *report);


/* ---- a latent-variable model, as evaluation and pictures see it ---------- */

/* Any model that gives these callbacks (the built-in ones through
 * model_latent() in model.h) can be evaluated and drawn. */
typedef struct {
    void *model;
    size_t latent;
    size_t rows, cols;   /* the images' shape (rows·cols = the data's width) */
    size_t classes;      /* a conditional model's label count, else 0 */
    /* q(z | x) of a batch: returns its mean (N x latent) and sets *logvar
     * (N x latent), or NULL for a deterministic code (an autoencoder: the
     * mean is the code). NULL on error. */
    ad_var *(*posterior)(void *model, ad_tape *t, const nn_batch *b,
                         ad_var **logvar);
    /* log p(x_n | z_n) for each row (N): row n of z goes with row n of b.
     * NULL for a model without a likelihood (then no ELBO, no L_k). */
    ad_var *(*log_lik)(void *model, ad_tape *t, const nn_batch *b, ad_var *z);
    /* The decoder's mean E[x | z] in [0, 1] (N x rows·cols), for pictures;
     * labels (N) condition it for a conditional model, else NULL. */
    ad_var *(*decode)(void *model, ad_tape *t, ad_var *z, const int *labels);
    /* n draws from the prior p(z) into z (n x latent), for samples; NULL:
     * N(0, I). A discrete latent (one-hot codes) gives its own. */
    void (*prior)(void *model, tn_rng *rng, tn_real *z, size_t n);
    /* 1 when log_lik also takes z as (S x N x latent), S samples of each of
     * b's N rows, and returns (S x N): L_k then passes each x once instead
     * of S copies of it. 0 (the default): z is always (N x latent). */
    int log_lik_samples;
} nn_latent;

/* Averages over the dataset, in nats per example, with one z ~ q(z|x) per
 * example: recon = -E_q[log p(x|z)], kl = KL(q(z|x) || N(0, I)) in closed
 * form, neg_elbo = recon + kl. */
typedef struct {
    double neg_elbo, recon, kl;
} nn_elbo;
int nn_latent_elbo(const nn_latent *m, const nn_dataset *d, size_t batch,
                   tn_rng *rng, nn_elbo *out, nn_error *err);
/* The importance-weighted bound (Burda et al. 2015), an estimate of log p(x)
 * averaged over the dataset: L_k = E[log (1/k) Σ_i p(x, z_i) / q(z_i | x)],
 * z_i ~ q(z | x), computed with log-sum-exp. NaN with err on failure.
 * Blocks of 16 examples run on all threads at once, each thread with its own
 * tape: m's callbacks are called concurrently and must not write shared
 * state. Each block has its own stream, so the result does not depend on
 * the thread count. */
double nn_latent_iwae(const nn_latent *m, const nn_dataset *d, int k,
                      tn_rng *rng, nn_error *err);
/* Latent units whose posterior mean varies over the data by more than
 * threshold (0.01 in Burda et al.): Cov_x(E_q[z_u]). var_out (latent) may
 * be NULL. Returns the count, or -1 with err. */
int nn_latent_active_units(const nn_latent *m, const nn_dataset *d,
                           double threshold, double *var_out, nn_error *err);

/* ---- pictures (PNG through libpng, written atomically) ------------------- */

/* A grid of n grey images (each rows x cols values in [0, 1], clipped),
 * grid_cols to a row, each pixel drawn zoom x zoom. */
int nn_png_grid(const char *path, const tn_real *imgs, size_t n, size_t rows,
                size_t cols, size_t grid_cols, size_t zoom, nn_error *err);
/* Rows of 10 test images, each row of inputs above its reconstructions
 * (decoded from the posterior mean): 4 such pairs of rows, fewer (and
 * shorter) with fewer than 40 images. */
int nn_pic_reconstructions(const char *path, const nn_latent *m,
                           const nn_dataset *d, nn_error *err);
/* grid_rows x grid_cols samples decoded from z ~ N(0, I). labels (one per
 * image, or NULL) condition the decoder; share_z_by_column draws one z per
 * column and uses it down the column (a conditional model's classic grid:
 * one row per class, the style shared down each column). */
int nn_pic_samples(const char *path, const nn_latent *m, size_t grid_rows,
                   size_t grid_cols, const int *labels, int share_z_by_column,
                   tn_rng *rng, nn_error *err);
/* Between the codes of test images 2r and 2r+1, 10 evenly spaced steps, 6
 * rows, fewer with fewer than 12 images (labels of the first image condition
 * a conditional model). */
int nn_pic_interpolation(const char *path, const nn_latent *m,
                         const nn_dataset *d, nn_error *err);
/* A 2-D latent space: z on an n x n grid through Φ⁻¹ of evenly spaced
 * probabilities (AEVB's figure), decoded. */
int nn_pic_manifold(const char *path, const nn_latent *m, size_t n,
                    nn_error *err);
/* A 2-D latent space: the posterior means of up to 5000 examples, one dot
 * each, coloured by label. */
int nn_pic_scatter(const char *path, const nn_latent *m, const nn_dataset *d,
                   nn_error *err);
/* Every picture above that applies to the model into dir, each file named
 * to the log hook: reconstructions.png, interpolation.png; samples.png when
 * the model has a likelihood (for a conditional model, one row per class
 * with z shared down each column); with a 2-D latent space manifold.png
 * (unconditional models) and latent_scatter.png (labelled data). */
int nn_pic_all(const char *dir, const nn_latent *m, const nn_dataset *d,
               tn_rng *rng, nn_log_fn log, void *log_ctx, nn_error *err);
/* The files nn_pic_all would write for m and d, each "dir/name" into
 * paths (5 rows at most): the count, or -1 with err (a path too long). For
 * checking a run's outputs before it trains (nn_outputs_distinct). */
int nn_pic_all_files(const char *dir, const nn_latent *m, const nn_dataset *d, char paths[][4096],
                     nn_error *err);

/* ---- a small model program's command line --------------------------------- */

/* What a model program needs besides its model: data, a budget, an output
 * folder, seeds. nn_setup_args reads the common options
 *   --data DIR (IDX; default nn_default_data_dir())  --binarized DIR
 *   --epochs N  --batch N  --lr X  --train-limit N  --test-limit N
 *   --seed N  --threads N  --out DIR (default out/NAME)
 *   --kernels auto|avx512|blis (BLIS's, chosen here before its first call:
 *             auto takes its AVX-512 ones for batches of 64 and more when
 *             the CPU has them, tn_blas_avx512; blis leaves BLIS's choice)
 * and, when extra_name is given, --EXTRA_NAME N into *extra; loads the data
 * (scaled to [0, 1]), creates the folder, and fills cfg: the checkpoint
 * OUT/model.safetensors (resumed when it is there), the metrics
 * OUT/metrics.jsonl, the seed. Returns 0 to go on, or NN_SETUP_HELP (the
 * usage in err->msg), NN_SETUP_USAGE (a bad option) or NN_SETUP_FAILED (a
 * file that cannot be read or written), with err->msg starting with the
 * program's name; then `return nn_setup_exit(rc, &err);` prints it where it
 * belongs and gives the exit status (0, 2 and 1). err may be NULL. On any
 * return but 0 nothing is left to free. */
enum { NN_SETUP_HELP = 1, NN_SETUP_USAGE = 2, NN_SETUP_FAILED = 3 };
typedef struct {
    nn_dataset *train, *test;
    nn_train_config cfg;
    double lr;              /* 1e-3 */
    const char *out;        /* the output folder */
    tn_rng init;            /* the seed's stream 3: initial weights */
    tn_rng rng;             /* stream 5: pictures and final evaluation */
    char name[64];          /* the program's, for messages */
    char dir[4096], checkpoint[4200], metrics[4200], scratch[4200];
} nn_setup;
int nn_setup_args(nn_setup *s, int argc, char **argv, const char *name,
                  int default_epochs, const char *extra_name, long *extra,
                  nn_error *err);
int nn_setup_exit(int rc, const nn_error *err);
void nn_setup_free(nn_setup *s);
/* A path in the output folder, "OUT/file", in a buffer of the setup's
 * (valid until the next call). */
const char *nn_setup_path(nn_setup *s, const char *file);
/* For a program that trains several models: points cfg's checkpoint and
 * metrics at OUT/name.safetensors and OUT/name.jsonl (resumed when there). */
void nn_setup_run(nn_setup *s, const char *name);
/* Adam at the command line's --lr (PyTorch's defaults otherwise), over p. */
nn_optim *nn_setup_optim(nn_setup *s, nn_params *p, nn_error *err);

/* Φ⁻¹(p), the standard normal quantile (Acklam's approximation, relative
 * error < 1.2e-9). */
double nn_normal_quantile(double p);

#endif
