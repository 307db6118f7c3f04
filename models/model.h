/* model.h: the four autoencoders (VAE, AE, sparse AE, denoising AE) behind
 * one interface: build from a configuration, record a batch's loss on a
 * tape, encode, decode, evaluate, save and load. Built only from nn/ and
 * autograd/. Maths and references: docs/models.md.
 *
 * Lifetimes: model_new / model_load return a model the caller frees with
 * model_free; it owns its parameter store. Tape values follow ad.h.
 * Errors: -1 / NULL with a message in the nn_error passed.
 */
#ifndef MODEL_H
#define MODEL_H

#include "nn.h"
#include "train.h"

typedef enum { MODEL_VAE, MODEL_AE, MODEL_SPARSE_AE, MODEL_DENOISING_AE } model_kind;
typedef enum { MODEL_LIK_BERNOULLI, MODEL_LIK_GAUSSIAN } model_likelihood; /* VAE decoder */
typedef enum { MODEL_RECON_BCE, MODEL_RECON_MSE } model_recon;               /* AE decoders */
typedef enum { MODEL_SPARSE_KL, MODEL_SPARSE_L1 } model_sparsity;
/* Where the sparse AE's penalty goes: on the code (a sigmoid code, as the
 * seed material defines sparsity "on the latent variables"), or on the
 * encoder's last hidden layer (sigmoid) with a linear code, as Ng's notes
 * and most PyTorch code do. */
typedef enum { MODEL_SPARSE_ON_CODE, MODEL_SPARSE_ON_HIDDEN } model_sparse_on;
typedef enum { MODEL_NOISE_GAUSSIAN, MODEL_NOISE_SALT_PEPPER, MODEL_NOISE_MASK } model_noise;

#define MODEL_MAX_HIDDEN 8

typedef struct {
    model_kind kind;
    size_t input_dim;
    int n_hidden;                     /* encoder widths; the decoder mirrors them */
    size_t hidden[MODEL_MAX_HIDDEN];
    size_t latent;
    nn_act act;                       /* after every hidden layer */
    nn_init init;
    /* VAE */
    model_likelihood likelihood;
    int samples;                      /* L Monte-Carlo samples per example */
    double beta;                      /* weight of the KL term */
    long warmup;                      /* steps of linear KL warm-up, 0: none */
    int iw_k;                         /* > 1: trained on the IWAE bound L_k (Burda et al.) */
    size_t classes;                   /* > 0: conditional on the one-hot label (CVAE) */
    /* AE family */
    model_recon recon;
    model_sparsity sparsity;          /* sparse AE */
    model_sparse_on sparse_on;        /* on the code (default) or the last hidden layer */
    double rho, sparse_beta, l1;      /* KL target and weight; L1 weight */
    model_noise noise;                /* denoising AE */
    double noise_level;               /* σ, or the fraction of pixels */
    int noise_clip;                   /* Gaussian noise: clip x̃ to [0, 1] (default 1) */
    /* > 0: a convolutional body for single-channel images of conv_rows x
     * conv_cols (both divisible by 4, their product input_dim): the encoder
     * runs 1 -> 32 -> 64 channels (4x4 kernels, stride 2, padding 1, the
     * activation after each) before its linear layers, and the decoder's
     * linear layers end in 64 x rows/4 x cols/4 values (activated) that
     * transposed convolutions take back, 64 -> 32 -> 1 channel (2 for the
     * Gaussian decoder's mean and log-variance). 0: linear layers only. */
    size_t conv_rows, conv_cols;
} model_config;

/* The defaults a user gets: 784-400-20 ReLU VAE, Bernoulli decoder, L = 1,
 * β = 1, the ELBO (iw_k 1), unconditional, linear layers only; sparse AE
 * ρ = 0.05, β = 3, on the code; masking noise at 0.25 (Gaussian noise
 * clipped to [0, 1]). */
TN_API model_config model_defaults(model_kind kind);
TN_API const char *model_kind_name(model_kind k);
/* The named variants that `compare` trains side by side, NULL-terminated:
 * vae, beta-vae, iwae, cvae, ae, sparse, sparse-hidden, dae-mask,
 * dae-gauss, dae-sp, conv-vae. */
TN_API extern const char *const model_variants[];
/* *c = the variant on the common architecture (784-400-20 ReLU, every kind
 * with a code of 20): model_defaults of its kind, then β = 4 (beta-vae),
 * k = 5 (iwae), 10 classes (cvae), the penalty on the last hidden layer
 * (sparse-hidden), the noise named (dae-*: masking, Gaussian clipped to
 * [0, 1], salt-and-pepper, each at 0.25), a 28 x 28 convolutional body
 * (conv-vae). -1 for a name not in model_variants. */
TN_API int model_variant(const char *name, model_config *c);
TN_API int model_kind_parse(const char *s, model_kind *out);
TN_API const char *model_noise_name(model_noise n);
TN_API int model_noise_parse(const char *s, model_noise *out);
/* The configuration as checkpoint metadata ("model.kind", ...) and back;
 * reading checks every field and names the one that is wrong. to_meta: 0,
 * or -1 when out of memory. */
TN_API int model_config_to_meta(const model_config *c, nn_meta *m);
TN_API int model_config_from_meta(const nn_meta *m, model_config *c, nn_error *err);

typedef struct {
    model_config c;
    nn_params *params;
    nn_mlp enc, dec;
    nn_conv2d conv[2], deconv[2];     /* with conv_rows > 0 */
} model;

/* Builds and initialises (from rng) a model. */
TN_API model *model_new(const model_config *c, tn_rng *rng, nn_error *err);
TN_API void model_free(model *m);

/* What one batch's loss is made of, in nats (or squared error) per example. */
typedef struct {
    ad_var *loss;     /* what training minimises (recon + β_t·KL, or + penalty) */
    double recon;     /* VAE: -E_q[log p(x|z)]; AEs: reconstruction loss */
    double kl;        /* VAE: KL(q(z|x) || p(z)) */
    double penalty;   /* sparse AE: the sparsity term */
    double mean_act;  /* sparse AE: mean code activation */
    double neg_elbo;  /* VAE: recon + KL, the negative ELBO */
} model_loss;

/* Records the loss of batch x (N x input_dim) on t. labels (N) condition a
 * conditional VAE (NULL otherwise). rng draws ε (VAE) and the corruption
 * (denoising AE); step drives the KL warm-up. Returns 0, or -1 with the
 * tape's error. With corrupt = 0 a denoising AE sees clean input
 * (evaluation). */
TN_API int model_batch_loss(model *m, ad_tape *t, const tn_tensor *x, const int *labels,
                     tn_rng *rng, long step, int corrupt, model_loss *out);

/* The code of x: μ for the VAE, the (sigmoid, for the sparse AE on its
 * code) code otherwise. (N x latent). labels as model_batch_loss. */
TN_API ad_var *model_encode(model *m, ad_tape *t, ad_var *x, const int *labels);
/* The VAE's posterior: μ and log σ² of q(z|x) (or q(z|x, c)). */
TN_API void vae_posterior(model *m, ad_tape *t, ad_var *x, const int *labels, ad_var **mu,
                   ad_var **logvar);
/* The decoder's mean E[x|z] (or E[x|z, c]): σ(logits) for Bernoulli/BCE,
 * the mean else. */
TN_API ad_var *model_decode(model *m, ad_tape *t, ad_var *z, const int *labels);
/* Corrupts x in place with the configured noise (denoising AE). */
TN_API void ae_corrupt(const model_config *c, tn_tensor *x, tn_rng *rng);

/* ---- evaluation over a dataset (no gradients) ----------------------------- */

/* The model as the callbacks nn/train.h's evaluation and pictures take
 * (images of rows x cols); m must outlive the result. Only the VAE has a
 * likelihood (log_lik); the autoencoders' posterior is their code. */
TN_API nn_latent model_latent(model *m, size_t rows, size_t cols);

typedef struct {
    double neg_elbo, kl;          /* VAE, per example */
    double recon;                 /* VAE: -E_q[log p(x|z)]; AEs: loss on clean input */
    double recon_noisy;           /* denoising AE: on corrupted input */
    double mean_act;              /* sparse AE */
} model_eval;

TN_API int model_evaluate(model *m, const nn_dataset *d, size_t batch, tn_rng *rng,
                   model_eval *out, nn_error *err);
/* The importance-weighted bound L_k = E[log (1/k) Σ_i p(x, z_i) / q(z_i|x)]
 * (Burda et al.), averaged over the dataset: an estimate of log p(x). */
TN_API double vae_iwae(model *m, const nn_dataset *d, int k, tn_rng *rng,
                nn_error *err);
/* Latent units whose posterior mean varies over the data by more than
 * `threshold` (0.01): Cov_x(E_q[z_u]). var_out (latent) may be NULL. */
TN_API int model_active_units(model *m, const nn_dataset *d, double threshold,
                       double *var_out, nn_error *err);

/* ---- training with nn_train ------------------------------------------------- */

/* An nn_loss_fn for the built-in models (model = the model *): the batch
 * loss, reporting "recon" and "kl" (VAE) or "recon" and "penalty" (sparse
 * AE). */
TN_API ad_var *model_train_loss(void *model, ad_tape *t, const nn_batch *b, nn_step *s);
/* An nn_eval_fn: model_evaluate's numbers as "loss" (the negative ELBO, or
 * the reconstruction of the AEs), "recon", "kl", "recon_noisy" and
 * "mean_act" as they apply. */
TN_API int model_train_eval(void *model, const nn_dataset *test, tn_rng *rng,
                     nn_scalars *out, nn_error *err);

/* The reconstruction error per image of d: x̂ = the decoder's mean from the
 * posterior mean (VAE) or the code, the input first corrupted as `noise`
 * says when it is not NULL (its noise, noise_level, noise_clip; the target
 * stays the clean x): BCE in nats, x̂ clipped to [1e-7, 1 - 1e-7], and the
 * squared error. 0, or -1 with err. */
TN_API int model_reconstruction(model *m, const nn_dataset *d, const model_config *noise, tn_rng *rng,
                         double *bce, double *se, nn_error *err);
/* The test numbers a trained model is judged by, as lines to the log hook:
 * the negative ELBO in parts and the reconstruction from z = μ (VAE), or
 * the reconstruction error (from corrupted input too, for the denoising AE;
 * the mean code activation for the sparse AE), L_k when iw > 0, and the
 * active units. 0, or -1 with err. */
TN_API int model_report(model *m, const nn_dataset *test, tn_rng *rng, int iw,
                 nn_log_fn log, void *log_ctx, nn_error *err);
/* "vae 784-400-20, relu, Bernoulli decoder, 652824 parameters" into buf. */
TN_API char *model_describe(const model *m, char *buf, size_t len);
/* Hidden widths "400" or "500,500" (1 to MODEL_MAX_HIDDEN, each 1..100000)
 * into c; -1 (c untouched) when s is anything else. */
TN_API int model_hidden_parse(const char *s, model_config *c);

/* ---- checkpoints -------------------------------------------------------------- */

/* The model's parameters and configuration (plus o's state and extra
 * metadata, e.g. the epoch and the generator) to path, atomically. */
TN_API int model_save(model *m, const char *path, nn_optim *o,
               const nn_meta *extra, nn_error *err);
/* Builds the model the checkpoint's metadata describes and loads it; the
 * optimizer state is left in the file for model_load_optim. */
TN_API model *model_load(const char *path, nn_meta *meta, nn_error *err);
TN_API int model_load_optim(model *m, const char *path, nn_optim *o, nn_error *err);

#endif
