/* latent.h: a latent-variable model as evaluation and pictures see it
 * (nn_latent: callbacks any model gives), its evaluation (the negative ELBO
 * in parts, the importance-weighted bound L_k, active units) and its
 * pictures as PNG files (libpng). Lifetimes and errors as trainer.h: NaN
 * for a bound that failed. */
#ifndef NN_LATENT_H
#define NN_LATENT_H

#include "trainer.h"

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
    /* A posterior other than one diagonal Gaussian (a flow, a hierarchy, a
     * discrete code): draws S samples of each of b's N rows into *z
     * ((S·N) x latent, row s·N + i: sample s of row i) and returns
     * log q(z | x) of each ((S·N)); NULL on error. When given, the ELBO and
     * L_k use it (with log_prior) instead of posterior's Gaussian; posterior
     * still gives the codes that active units and pictures read. */
    ad_var *(*sample)(void *model, ad_tape *t, const nn_batch *b, size_t S, tn_rng *rng,
                      ad_var **z);
    /* log p(z) of each row of z ((S·N) x latent -> (S·N)); NULL: N(0, I). */
    ad_var *(*log_prior)(void *model, ad_tape *t, ad_var *z);
} nn_latent;

/* Averages over the dataset, in nats per example, with one z ~ q(z|x) per
 * example: recon = -E_q[log p(x|z)], kl = KL(q(z|x) || N(0, I)) in closed
 * form, neg_elbo = recon + kl. */
typedef struct {
    double neg_elbo, recon, kl;
} nn_elbo;
TN_API int nn_latent_elbo(const nn_latent *m, const nn_dataset *d, size_t batch,
                   tn_rng *rng, nn_elbo *out, nn_error *err);
/* The importance-weighted bound (Burda et al. 2015), an estimate of log p(x)
 * averaged over the dataset: L_k = E[log (1/k) Σ_i p(x, z_i) / q(z_i | x)],
 * z_i ~ q(z | x), computed with log-sum-exp. NaN with err on failure.
 * Blocks of 16 examples run on all threads at once, each thread with its own
 * tape: m's callbacks are called concurrently and must not write shared
 * state. Each block has its own stream, so the result does not depend on
 * the thread count. */
TN_API double nn_latent_iwae(const nn_latent *m, const nn_dataset *d, int k,
                      tn_rng *rng, nn_error *err);
/* Latent units whose posterior mean varies over the data by more than
 * threshold (0.01 in Burda et al.): Cov_x(E_q[z_u]), over the posterior
 * mean's columns (at most m->latent; a hierarchy's first layer may have
 * fewer). var_out (latent) may be NULL. Returns the count, or -1 with err
 * (a posterior mean of another shape is named). */
TN_API int nn_latent_active_units(const nn_latent *m, const nn_dataset *d,
                           double threshold, double *var_out, nn_error *err);

/* ---- pictures (PNG through libpng, written atomically) ------------------- */

/* A grid of n grey images (each rows x cols values in [0, 1], clipped),
 * grid_cols to a row, each pixel drawn zoom x zoom. */
TN_API int nn_png_grid(const char *path, const tn_real *imgs, size_t n, size_t rows,
                size_t cols, size_t grid_cols, size_t zoom, nn_error *err);
/* Rows of 10 test images, each row of inputs above its reconstructions
 * (decoded from the posterior mean): 4 such pairs of rows, fewer (and
 * shorter) with fewer than 40 images. */
TN_API int nn_pic_reconstructions(const char *path, const nn_latent *m,
                           const nn_dataset *d, nn_error *err);
/* grid_rows x grid_cols samples decoded from z ~ N(0, I). labels (one per
 * image, or NULL) condition the decoder; share_z_by_column draws one z per
 * column and uses it down the column (a conditional model's classic grid:
 * one row per class, the style shared down each column). */
TN_API int nn_pic_samples(const char *path, const nn_latent *m, size_t grid_rows,
                   size_t grid_cols, const int *labels, int share_z_by_column,
                   tn_rng *rng, nn_error *err);
/* Between the codes of test images 2r and 2r+1, 10 evenly spaced steps, 6
 * rows, fewer with fewer than 12 images (labels of the first image condition
 * a conditional model). */
TN_API int nn_pic_interpolation(const char *path, const nn_latent *m,
                         const nn_dataset *d, nn_error *err);
/* A 2-D latent space: z on an n x n grid through Φ⁻¹ of evenly spaced
 * probabilities (AEVB's figure), decoded. */
TN_API int nn_pic_manifold(const char *path, const nn_latent *m, size_t n,
                    nn_error *err);
/* A 2-D latent space: the posterior means of up to 5000 examples, one dot
 * each, coloured by label; as SVG (axes, ticks, a legend; codes that are
 * not finite left out and counted) when path ends in ".svg". */
TN_API int nn_pic_scatter(const char *path, const nn_latent *m, const nn_dataset *d,
                   nn_error *err);
/* Every picture above that applies to the model into dir, each file named
 * to the log hook: reconstructions.png, interpolation.png; samples.png when
 * the model has a likelihood (for a conditional model, one row per class
 * with z shared down each column); with a 2-D latent space manifold.png
 * (unconditional models) and latent_scatter.png (labelled data). Beside
 * each, NAME.svg names what it shows: a title and a label on each row
 * ("input" / "reconstruction", "class 3", ...), the manifold's Φ⁻¹ grid
 * values on both axes; latent_scatter.svg is the scatter in vectors with
 * axes, ticks and a legend of the labels (nn_pic_scatter with a path
 * ending in .svg draws that). */
TN_API int nn_pic_all(const char *dir, const nn_latent *m, const nn_dataset *d,
               tn_rng *rng, nn_log_fn log, void *log_ctx, nn_error *err);
/* The files nn_pic_all would write for m and d, each "dir/name" into
 * paths (NN_PIC_FILES rows at most): the count, or -1 with err (a path too
 * long). For checking a run's outputs before it trains. */
#define NN_PIC_FILES 10
TN_API int nn_pic_all_files(const char *dir, const nn_latent *m, const nn_dataset *d, char paths[][4096],
                     nn_error *err);

/* Φ⁻¹(p), the standard normal quantile (Acklam's approximation, relative
 * error < 1.2e-9). */
TN_API double nn_normal_quantile(double p);

#endif
