/* model_internal.h: what the files of models/ share and users do not see:
 * the network body (net.c), and what model.c dispatches to in vae.c and
 * ae.c (users call model_batch_loss instead). */
#ifndef MODEL_INTERNAL_H
#define MODEL_INTERNAL_H

#include "model.h"

/* The VAE's negative ELBO (β-weighted, L samples), or -L_k (iw_k > 1), on
 * the batch x. */
int vae__batch_loss(model *m, ad_tape *t, ad_var *x, const int *labels, tn_rng *rng, long step,
                    model_loss *out);
/* v with the one-hot label appended along its last axis, for a conditional
 * VAE (classes > 0; v itself otherwise). v is (N x d) or (S x N x d). net.c */
ad_var *model__with_label(model *m, ad_tape *t, ad_var *v, const int *labels);
/* log p(x | z) for z (S x N x latent), S samples of each of x's N rows:
 * (S x N), x (N x input_dim) read once for all samples. */
ad_var *vae__log_px(model *m, ad_tape *t, ad_var *z, ad_var *x, const int *labels);
/* What the encoder's linear layers take: x (N x input_dim) through the
 * convolutional body when there is one, then the label (CVAE). */
ad_var *model__enc_input(model *m, ad_tape *t, ad_var *x, const int *labels);
/* The decoder's output (N x out) from its input (N x latent [+ classes]):
 * the linear layers, then the transposed convolutions when there are. */
ad_var *model__decoder(model *m, ad_var *zin);
/* ae_corrupt written into out (x's shape), x left as it is: the same
 * numbers, without copying x first */
void ae_corrupt_from(const model_config *c, tn_tensor *out, const tn_tensor *x, tn_rng *rng);
/* An AE's reconstruction (+ sparsity penalty); corrupts first when asked. */
int ae__batch_loss(model *m, ad_tape *t, const tn_tensor *x, tn_rng *rng, int corrupt,
                   model_loss *out);

/* model_reconstruction through a model's hooks (posterior mean, decode),
 * for the built-in models and the users' alike (eval.c). */
int model__reconstruction(const nn_latent *l, const nn_dataset *d, const model_config *noise, tn_rng *rng,
                          double *bce, double *se, nn_error *err);

#endif
