/* nn.h: what a person defining a model reaches for, built on ad.h: one
 * parameter store, linear layers and MLPs, initialisers, losses, optimizers,
 * safetensors checkpoints and dataset loaders. Formulas: docs/nn.md.
 *
 * Lifetimes: nn_params holds every parameter's value and gradient, each in
 * one block allocated once by nn_params_alloc; an nn_optim holds its state in
 * one block per slot. Both, datasets and batch iterators come from a _new or
 * a loader and are freed with their _free. Ops on the tape follow ad.h.
 *
 * Errors: functions that can fail return 0 / a pointer on success and -1 /
 * NULL on failure, with a message in the nn_error the caller passed (which
 * may be NULL) naming the file, the field and what was expected. Nothing
 * here prints or exits.
 */
#ifndef NN_H
#define NN_H

#include <stdio.h>

#include "ad.h"

typedef struct {
    char msg[512];
} nn_error;

/* Writes a message into err (when not NULL) and returns -1 / NULL: for
 * functions of users' own that report errors the way nn/ does. */
TN_API int nn_fail(nn_error *err, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
TN_API void *nn_fail_null(nn_error *err, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The index of s in a table of n names, or -1: what the _parse functions
 * of nn/ and models/ share. */
TN_API int nn_name_index(const char *s, const char *const *names, int n);

/* ---- output files ----------------------------------------------------------
 * A path is resolved first: symbolic links are followed (to a target that
 * may not exist yet), never replaced. The target must be a regular file or
 * not exist yet; a folder, device, FIFO or socket is refused. */

/* 0 when path can be written as an output: it resolves to a regular file or
 * to nothing yet, within the path limit, in a folder that can be written;
 * else -1 with err naming the path and what it is. Nothing is created. */
TN_API int nn_output_check(const char *path, nn_error *err);
/* 0 when the n paths (NULL entries skipped) name n different files after
 * resolution; -1 with err naming the two that coincide. */
TN_API int nn_outputs_distinct(const char *const *paths, int n, nn_error *err);

/* Writing a file that is never seen half-written: nn_atomic_open checks
 * path (nn_output_check) and creates "<target>.tmp.<pid>.XXXXXX" beside its
 * resolved target (write to a->f); nn_atomic_commit(a, written, err) flushes,
 * fsyncs, closes and renames it over the target; on any failure, and with
 * nn_atomic_abort, the temporary file is removed and the target untouched.
 * Temporary files of processes that no longer run are removed on open. */
typedef struct {
    FILE *f;
    const char *path;       /* as given */
    char target[4096];      /* resolved */
    char tmp[4160];
} nn_atomic;
TN_API int nn_atomic_open(nn_atomic *a, const char *path, nn_error *err);
TN_API int nn_atomic_commit(nn_atomic *a, int written, nn_error *err);
TN_API void nn_atomic_abort(nn_atomic *a);

/* One owner an output: a lock on ".<name>.lock" beside path's target, held
 * until nn_lock_release (or the process ends, however it ends). A second
 * lock of the same output, from this process or another, fails with err
 * naming the path and the owner's process id. */
typedef struct {
    int fd;
    char path[4200];
} nn_lock;
TN_API int nn_lock_take(nn_lock *l, const char *path, nn_error *err);
TN_API void nn_lock_release(nn_lock *l); /* removes the lock file */

/* mkdir -p: path and every missing folder above it. */
TN_API int nn_make_dirs(const char *path, nn_error *err);

/* ---- parameters ------------------------------------------------------------ */

typedef struct nn_params nn_params;

TN_API nn_params *nn_params_new(void);
TN_API void nn_params_free(nn_params *p);
/* Declares a parameter; returns its index, or -1 (bad shape, a name used
 * twice, or called after nn_params_alloc). Names look like
 * "encoder.0.weight". */
TN_API int nn_params_add(nn_params *p, const char *name, int ndim,
                  const size_t *shape, nn_error *err);
/* Allocates the value block and the gradient block (zero-filled). */
TN_API int nn_params_alloc(nn_params *p, nn_error *err);

TN_API int nn_params_count(const nn_params *p);        /* parameter tensors */
TN_API size_t nn_params_size(const nn_params *p);      /* elements in all */
TN_API const char *nn_params_name(const nn_params *p, int i);
TN_API int nn_params_find(const nn_params *p, const char *name); /* -1 if none */
TN_API tn_tensor *nn_params_value(nn_params *p, int i); /* a view into the block */
TN_API tn_tensor *nn_params_grad(nn_params *p, int i);
TN_API tn_real *nn_params_values(nn_params *p);         /* the whole blocks */
TN_API tn_real *nn_params_grads(nn_params *p);
TN_API void nn_params_zero_grad(nn_params *p);
/* Parameter groups: the optimizer's step for parameter i is its learning
 * rate times `scale` (1 by default); 0 leaves the parameter out (frozen:
 * no step, no weight decay). -1 with err for a scale < 0 or not finite. */
TN_API int nn_params_set_lr_scale(nn_params *p, int i, double scale, nn_error *err);
TN_API double nn_params_lr_scale(const nn_params *p, int i);
/* Initialising a parameter from data (a codebook from encoder outputs, a
 * bias from the data's mean): its n values, copied. An error for another
 * count or a value that is not finite. */
TN_API int nn_params_set_value(nn_params *p, int i, const tn_real *values, size_t n, nn_error *err);
/* avg = decay·avg + (1 - decay)·x over n values: an exponential moving
 * average (a VQ-VAE's EMA codebook, an averaged copy of the weights). */
TN_API void nn_ema(tn_real *avg, const tn_real *x, size_t n, double decay);
/* Parameter i as a leaf on tape t. */
TN_API ad_var *nn_param(ad_tape *t, nn_params *p, int i);

typedef enum {
    NN_INIT_GLOROT_UNIFORM, /* U(±√(6/(fan_in+fan_out))) */
    NN_INIT_HE_NORMAL,      /* N(0, 2/fan_in) */
    NN_INIT_NORMAL,         /* N(0, sd²); sd = 0.01 in the AEVB paper */
    NN_INIT_TORCH           /* PyTorch's nn.Linear: W and b ~ U(±1/√fan_in) */
} nn_init;
/* Initialises every parameter of 2 or more axes (a weight: linear (out x
 * in), conv (F, C, kh, kw), transposed conv (C, F, kh, kw)) with the scheme,
 * fan_in = shape[1]·kh·kw and fan_out = shape[0]·kh·kw as PyTorch counts
 * them, and every 1-D one (a bias) with zeros, except NN_INIT_TORCH, which
 * draws a bias like its layer's weight, U(±1/√fan_in) (the bias declared
 * right after its weight, as the layers below do). */
TN_API void nn_params_init(nn_params *p, nn_init kind, double sd, tn_rng *rng);
/* nn_params_alloc, then nn_params_init: the last step of building a model. */
TN_API int nn_params_alloc_init(nn_params *p, nn_init kind, double sd, tn_rng *rng,
                         nn_error *err);
TN_API const char *nn_init_name(nn_init k);             /* glorot, he, normal, torch */
TN_API int nn_init_parse(const char *s, nn_init *out);

/* The first index of a non-finite value in the parameters' values (which =
 * 0) or gradients (which = 1): parameter *param, element *index; returns 1
 * when one was found, 0 when every value is finite. */
TN_API int nn_params_nonfinite(nn_params *p, int which, int *param, size_t *index);

/* ---- layers ----------------------------------------------------------------- */

typedef enum {
    NN_ACT_NONE, NN_ACT_RELU, NN_ACT_TANH, NN_ACT_SIGMOID, NN_ACT_SOFTPLUS
} nn_act;
TN_API const char *nn_act_name(nn_act a);
TN_API int nn_act_parse(const char *s, nn_act *out);  /* "relu", ...; -1 if unknown */
TN_API ad_var *nn_act_apply(ad_var *x, nn_act a);

/* A layer keeps the store its parameters were added to (`p`, borrowed: the
 * store outlives the layer), so a call takes the layer and its input alone
 * and records on the input's tape:
 *   h = nn_forward(&m->enc, x);      (any layer below; NULL x gives NULL)
 * nn_forward picks nn_linear_forward, nn_conv2d_forward or nn_mlp_forward
 * by the layer's type. */

/* y = x·Wᵀ + b, W (out x in), b (out): "<name>.weight", "<name>.bias".
 * x may have leading axes (S x N x in -> S x N x out). */
typedef struct {
    nn_params *p;
    int w, b;
    size_t in, out;
} nn_linear;
TN_API int nn_linear_init(nn_linear *l, nn_params *p, const char *name, size_t in,
                   size_t out, nn_error *err);
TN_API ad_var *nn_linear_forward(const nn_linear *l, ad_var *x);

/* 2-D convolution layers on NCHW tensors, weights in PyTorch's layout and
 * names, so safetensors files move both ways with torch.nn.Conv2d /
 * ConvTranspose2d (bias=True): conv W "<name>.weight" (out, in, k, k);
 * transposed W (in, out, k, k); b "<name>.bias" (out). Square kernels,
 * stride and padding; Ho as ad_conv2d / ad_conv_transpose2d say. */
typedef struct {
    nn_params *p;
    int w, b;
    size_t in, out, k, stride, padding, output_padding;
    int transpose;
} nn_conv2d;
TN_API int nn_conv2d_init(nn_conv2d *l, nn_params *p, const char *name, size_t in,
                   size_t out, size_t k, size_t stride, size_t padding,
                   nn_error *err);
TN_API int nn_conv_transpose2d_init(nn_conv2d *l, nn_params *p, const char *name,
                             size_t in, size_t out, size_t k, size_t stride,
                             size_t padding, size_t output_padding,
                             nn_error *err);
TN_API ad_var *nn_conv2d_forward(const nn_conv2d *l, ad_var *x);

#define NN_MLP_MAX 16
/* widths[0] inputs -> widths[n-1] outputs; act[i] follows layer i
 * ("<name>.<i>"); the last entry is usually NN_ACT_NONE. The widths are
 * written inline with TN_DIMS: nn_mlp_init(&m, p, "enc", TN_DIMS(784, 400,
 * 40), act, err). */
typedef struct {
    int n_layers;
    nn_linear layer[NN_MLP_MAX];
    nn_act act[NN_MLP_MAX];
} nn_mlp;
TN_API int nn_mlp_init(nn_mlp *m, nn_params *p, const char *name, int n_widths,
                const size_t *widths, const nn_act *act, nn_error *err);
TN_API ad_var *nn_mlp_forward(const nn_mlp *m, ad_var *x);

#define nn_forward(layer, x)                                                   \
    _Generic((layer), nn_linear *: nn_linear_forward,                          \
             const nn_linear *: nn_linear_forward, nn_conv2d *: nn_conv2d_forward, \
             const nn_conv2d *: nn_conv2d_forward, nn_mlp *: nn_mlp_forward,   \
             const nn_mlp *: nn_mlp_forward)(layer, x)

/* ---- losses: x is (N x D); per-example sums, averaged over N ------------
 * One argument order for every density, here and in ad.h: the data x
 * first, then the distribution's parameters (logits; mean, log-variance). */

/* (1/N) Σ_n Σ_d (pred - target)² */
TN_API ad_var *nn_mse(ad_var *pred, ad_var *target);
/* (1/N) Σ_n Σ_d BCE(logits, target) */
TN_API ad_var *nn_bce_logits(ad_var *logits, ad_var *target);
/* log p(x_n | logits_n) = -Σ_d BCE for each row: (N) */
TN_API ad_var *nn_bernoulli_logp_rows(ad_var *x, ad_var *logits);
/* log N(x_n; mean_n, e^logvar_n) = -½ Σ_d (log 2π + lv + (x-m)² e^-lv): (N) */
TN_API ad_var *nn_gaussian_logp_rows(ad_var *x, ad_var *mean, ad_var *logvar);
/* -(1/N) Σ_n log N(x_n; mean_n, e^logvar_n) */
TN_API ad_var *nn_gaussian_mean_nll(ad_var *x, ad_var *mean, ad_var *logvar);
/* KL(N(mu, e^lv) || N(0, I)) for each row: (N) */
TN_API ad_var *nn_kl_normal_rows(ad_var *mu, ad_var *logvar);
/* (1/N) Σ_n KL_n */
TN_API ad_var *nn_kl_normal(ad_var *mu, ad_var *logvar);
/* β Σ_j KL(ρ || ρ̂_j), ρ̂_j = (1/N) Σ_n h_nj, h in (0,1) (a sigmoid code) */
TN_API ad_var *nn_sparse_kl(ad_var *h, double rho, double beta);
/* λ (1/N) Σ_n Σ_j |h_nj| */
TN_API ad_var *nn_l1_activity(ad_var *h, double lambda);
/* (λ/2) Σ ||W||² over the 2-D parameters (weights, not biases) */
TN_API ad_var *nn_l2_weights(ad_tape *t, nn_params *p, double lambda);
/* mean of a (N) vector: turns a per-row term into a loss */
TN_API ad_var *nn_mean_rows(ad_var *v);

/* ---- optimizers ----------------------------------------------------------- */

typedef enum { NN_SGD, NN_ADAGRAD, NN_ADAM, NN_ADAMW } nn_optim_kind;
typedef enum { NN_SCHED_CONSTANT, NN_SCHED_STEP, NN_SCHED_COSINE } nn_sched;

typedef struct {
    nn_optim_kind kind;
    double lr;
    double momentum;      /* SGD */
    int nesterov;         /* SGD */
    double beta1, beta2;  /* Adam, AdamW */
    double eps;           /* Adam, AdamW, Adagrad */
    double weight_decay;  /* L2 added to the gradient; decoupled for AdamW */
    double clip_norm;     /* > 0: scale gradients to this global L2 norm */
    nn_sched sched;
    long step_size;       /* NN_SCHED_STEP: multiply by gamma every ... */
    double gamma;
    long total_steps;     /* NN_SCHED_COSINE: lr -> min_lr over these */
    double min_lr;
} nn_optim_config;

/* Defaults as PyTorch's: Adam β = (0.9, 0.999), eps 1e-8; Adagrad eps 1e-10. */
TN_API nn_optim_config nn_optim_defaults(nn_optim_kind kind, double lr);
TN_API const char *nn_optim_name(nn_optim_kind k);
TN_API int nn_optim_parse(const char *s, nn_optim_kind *out);

typedef struct nn_optim nn_optim;
/* Every number of c is checked: lr > 0 and finite, Adam's betas in [0, 1),
 * eps >= 0, weight decay >= 0, momentum in [0, 1], clip norm >= 0, a cosine
 * schedule's min_lr in [0, lr], a step schedule's gamma in (0, 1]. NULL with
 * err naming the number otherwise. */
TN_API nn_optim *nn_optim_new(const nn_optim_config *c, const nn_params *p,
                       nn_error *err);
TN_API void nn_optim_free(nn_optim *o);
/* One update from the gradients in p (clipped first if configured); the
 * gradients are left as they are. Returns the gradient norm before
 * clipping when clipping is on, 0 otherwise (it costs a pass). */
TN_API double nn_optim_step(nn_optim *o, nn_params *p);
TN_API double nn_optim_lr(const nn_optim *o);   /* the schedule's rate for the next step */
TN_API long nn_optim_steps(const nn_optim *o);  /* updates so far */
/* 1 when the last step wrote a weight or a state value (a moment, a sum of
 * squares) that is not finite (checked within the update's own pass, so it
 * costs nothing). */
TN_API int nn_optim_nonfinite(const nn_optim *o);
TN_API const nn_optim_config *nn_optim_config_of(const nn_optim *o);
/* State slots (SGD momentum 1 or 0, Adagrad 1, Adam(W) 2), each a block of
 * nn_params_size() elements: what a checkpoint saves. */
TN_API int nn_optim_slots(const nn_optim *o);
TN_API const char *nn_optim_slot_name(const nn_optim *o, int k);
TN_API tn_real *nn_optim_slot(nn_optim *o, int k);
TN_API void nn_optim_set_steps(nn_optim *o, long steps);

/* Global L2 norm of all gradients; when > max_norm (> 0), scales them so it
 * is max_norm. Returns the norm before scaling. */
TN_API double nn_clip_grad_norm(nn_params *p, double max_norm);

/* ---- checkpoints (safetensors) ------------------------------------------ */

/* String metadata: the model's configuration, the step, the RNG state. Any
 * number of entries of any length, on the heap: start from NN_META_INIT (or
 * all zeros) and release with nn_meta_free. A copy made with `=` shares the
 * entries; nn_meta_copy makes one of its own. */
typedef struct {
    int n, cap;
    char **key, **value; /* n of each */
} nn_meta;
#define NN_META_INIT {0, 0, NULL, NULL}
TN_API void nn_meta_free(nn_meta *m); /* frees the entries; m is empty afterwards */
/* dst (empty or holding entries, which are freed) becomes a copy of src.
 * 0, or -1 when out of memory (dst then empty). */
TN_API int nn_meta_copy(nn_meta *dst, const nn_meta *src);
/* Sets key to value, adding it when new. 0, or -1 when out of memory or the
 * key is empty (m unchanged). */
TN_API int nn_meta_set(nn_meta *m, const char *key, const char *value);
TN_API int nn_meta_setf(nn_meta *m, const char *key, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
TN_API const char *nn_meta_get(const nn_meta *m, const char *key); /* NULL if none */
/* The generator's state as metadata "<prefix>.state"/".inc"/".seed"/".spare",
 * and back. put: 0, or -1 when out of memory. */
TN_API int nn_meta_put_rng(nn_meta *m, const char *prefix, const tn_rng *r);
TN_API int nn_meta_get_rng(const nn_meta *m, const char *prefix, tn_rng *r);

/* Writes the parameters (F32, or F64 in the double build), the optimizer's
 * state and step when o is given, and meta, to `path` through a temporary
 * file renamed into place. */
TN_API int nn_save(const char *path, nn_params *p, nn_optim *o, const nn_meta *meta,
            nn_error *err);
/* Reads `path` into p (and o's state and step when o is given; meta when
 * given). Everything is validated before anything is copied: header length,
 * JSON, dtypes, shapes against byte spans, spans inside the data and not
 * overlapping, and names and shapes against p. F32 and F64 are accepted.
 * meta, when given, must be empty or hold entries (NN_META_INIT first): on
 * success its entries are replaced by the file's; on failure it is kept. */
TN_API int nn_load(const char *path, nn_params *p, nn_optim *o, nn_meta *meta,
            nn_error *err);
/* Only the metadata (to build a model before loading it); meta as nn_load. */
TN_API int nn_load_meta(const char *path, nn_meta *meta, nn_error *err);

/* ---- data ----------------------------------------------------------------- */

typedef struct {
    size_t n, dim;      /* examples x features */
    size_t rows, cols;  /* image shape when rows·cols == dim, else 0 */
    tn_real *x;         /* n x dim, row-major; NULL when the values are bytes: */
    uint8_t *x8;        /* n x dim bytes, value (tn_real)(x8_scale · byte); a
                           quarter of the memory (nn_load_source's IDX training
                           set; nn_train and nn_data_rows read either) */
    double x8_scale;
    int *labels;        /* n, or NULL */
} nn_dataset;

TN_API void nn_dataset_free(nn_dataset *d);
/* Rows [start, start + n) as floats: a pointer into x, or, for bytes, buf
 * (n x dim, the caller's) filled with their values. */
TN_API const tn_real *nn_data_rows(const nn_dataset *d, size_t start, size_t n, tn_real *buf);
/* Turns bytes into floats in place (nothing to do for floats). 0, or -1 with
 * err (out of memory; d unchanged). */
TN_API int nn_data_floats(nn_dataset *d, nn_error *err);
/* IDX (MNIST, Fashion-MNIST), gzipped or plain: unsigned-byte images with
 * 2 or more dimensions, labels (may be NULL) with one; raw values 0..255. */
TN_API nn_dataset *nn_load_idx(const char *images, const char *labels, nn_error *err);
/* Frey Face: MAT v5 holding one uint8 matrix (560 x 1965): 1965 faces of
 * 28 x 20, raw values. */
TN_API nn_dataset *nn_load_frey(const char *path, nn_error *err);
/* Binarized MNIST .amat (text, gzipped or plain): one example per line,
 * the same number of numbers on every line. */
TN_API nn_dataset *nn_load_amat(const char *path, nn_error *err);
/* CSV of numbers; header: 1 yes, 0 no, -1 if the first row is not numeric. */
TN_API nn_dataset *nn_load_csv(const char *path, int header, nn_error *err);

/* These take either kind; scale and binarize keep bytes as bytes, the
 * others (standardize, binarize_sample) turn them into floats first, and do
 * nothing when memory for that runs out. */
TN_API void nn_data_scale(nn_dataset *d, double a);            /* x = a·x */
/* Per-feature mean and standard deviation (dim each, caller's arrays). */
TN_API void nn_data_stats(const nn_dataset *d, double *mean, double *sd);
/* x = (x - mean) / sd per feature; sd 0 is treated as 1. */
TN_API void nn_data_standardize(nn_dataset *d, const double *mean, const double *sd);
TN_API void nn_data_binarize(nn_dataset *d, double threshold); /* x = [x > t] */
TN_API void nn_data_binarize_sample(nn_dataset *d, tn_rng *r); /* x ~ Bernoulli(x) */
/* Shuffled split into n - n_valid and n_valid examples (new datasets). */
TN_API int nn_data_split(const nn_dataset *d, size_t n_valid, tn_rng *r,
                  nn_dataset **train, nn_dataset **valid, nn_error *err);
/* a's examples followed by b's, as a new dataset (same width; labels kept
 * when both have them, the image shape when both agree). */
TN_API nn_dataset *nn_data_concat(const nn_dataset *a, const nn_dataset *b, nn_error *err);
/* Examples [start, start + n) of d as a view (clipped to d; no copy, nothing
 * to free; valid while d is). */
TN_API nn_dataset nn_data_view(const nn_dataset *d, size_t start, size_t n);
/* Permutes d's labels among its examples (a control: a conditional model
 * should do worse with them); nothing happens without labels (or d). */
TN_API void nn_data_shuffle_labels(nn_dataset *d, tn_rng *r);
/* Replaces *d by its first n examples when 0 < n < (*d)->n (--train-limit,
 * --test-limit); nothing else changes. 0, or -1 with err (*d kept). */
TN_API int nn_data_limit(nn_dataset **d, size_t n, nn_error *err);
/* The first n examples (n clipped to d->n) as a new dataset. */
TN_API nn_dataset *nn_data_head(const nn_dataset *d, size_t n, nn_error *err);
/* The examples of the listed rows (in that order, repeats allowed) as a new
 * dataset; bytes stay bytes, labels and the image shape are kept. A row
 * outside d is an error naming it. */
TN_API nn_dataset *nn_data_select(const nn_dataset *d, const size_t *rows, size_t n, nn_error *err);
/* k examples of each of classes 0..classes-1, drawn with r, in the data's
 * order (a semi-supervised model's labelled set: 10 of each digit). An
 * error when the data have no labels or a class has fewer than k. */
TN_API nn_dataset *nn_data_per_class(const nn_dataset *d, size_t k, size_t classes, tn_rng *r, nn_error *err);

/* The datasets the example programs read, as a training and a test set
 * with values scaled to [0, 1] (an IDX training set kept as bytes, x8; the
 * test set as floats): an IDX folder (train-images-idx3-ubyte[.gz],
 * labels, t10k-...; path NULL: $TAPE_DATA/mnist, data/mnist (what `make
 * demo` fetches), then Debian's Fashion-MNIST), binarized MNIST (a folder of
 * binarized_mnist_{train,valid,test}.amat[.gz]; train + valid to train),
 * Frey Face (the .mat file) or a CSV of numbers; the last two hold out a
 * tenth, drawn with `split`, as the test set. desc gets a line saying what
 * was loaded. The caller frees both sets. */
typedef enum { NN_SOURCE_IDX, NN_SOURCE_BINARIZED, NN_SOURCE_FREY, NN_SOURCE_CSV } nn_source;
TN_API int nn_load_source(nn_source kind, const char *path, tn_rng *split, nn_dataset **train,
                   nn_dataset **test, char *desc, size_t desc_len, nn_error *err);
TN_API const char *nn_default_data_dir(void); /* the first of those with MNIST, or NULL */

/* Minibatches over a dataset, reshuffled each epoch when rng is given (an
 * epoch's order depends only on the generator's state at its start, so a
 * resumed run repeats it); the last batch of an epoch may be smaller. dynamic: each batch is a fresh
 * Bernoulli sample of x (values in [0,1]). */
typedef struct nn_batches nn_batches;
TN_API nn_batches *nn_batches_new(const nn_dataset *d, size_t batch, tn_rng *rng,
                           int dynamic, nn_error *err);
TN_API void nn_batches_free(nn_batches *b);
/* The next batch of the epoch in *x (a view valid until the next call) and
 * its labels (NULL without); 0 at the end of an epoch (the next call starts
 * a new one). */
TN_API int nn_batches_next(nn_batches *b, tn_tensor *x, const int **labels);
TN_API size_t nn_batches_per_epoch(const nn_batches *b);

#endif
