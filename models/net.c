/* net.c: the network every built-in model shares: building the encoder and
 * decoder (MLPs, around a convolutional body when asked), the encoder's
 * input (convolutions, then the label of a conditional model) and the
 * decoder's output. vae.c and ae.c stand on it. */
#include "model_internal.h"

#include <stdlib.h>
#include <string.h>

model *model_new(const model_config *c, tn_rng *rng, nn_error *err)
{
    if (c->n_hidden < 0 || c->n_hidden > MODEL_MAX_HIDDEN || !c->input_dim || !c->latent)
        return nn_fail_null(err, "model: needs an input size, a latent size and 0 to %d hidden layers",
                             MODEL_MAX_HIDDEN);
    if (c->kind == MODEL_VAE && c->samples < 1)
        return nn_fail_null(err, "model: samples must be >= 1, got %d", c->samples);
    if (c->kind == MODEL_SPARSE_AE && c->sparsity == MODEL_SPARSE_KL && !(c->rho > 0 && c->rho < 1))
        return nn_fail_null(err, "model: the sparsity target rho must be in (0, 1), got %g", c->rho);
    if (c->kind == MODEL_SPARSE_AE && c->sparse_on == MODEL_SPARSE_ON_HIDDEN && c->n_hidden < 1)
        return nn_fail_null(err, "model: a penalty on the last hidden layer needs a hidden layer");
    if (c->iw_k < 1)
        return nn_fail_null(err, "model: iw_k must be >= 1, got %d", c->iw_k);
    size_t R = c->conv_rows, C = c->conv_cols, feat = 64 * (R / 4) * (C / 4);
    if ((R || C) && (R % 4 || C % 4 || !R || !C || R * C != c->input_dim))
        return nn_fail_null(err, "model: a convolutional body needs images whose rows and columns "
                                 "are multiples of 4 and make input_dim %zu, got %zux%zu",
                            c->input_dim, R, C);
    model *m = calloc(1, sizeof *m);
    if (!m || !(m->params = nn_params_new())) {
        free(m);
        return nn_fail_null(err, "model: out of memory");
    }
    m->c = *c;
    /* encoder D -> h1 .. hn -> code; decoder code -> hn .. h1 -> out */
    size_t ew[MODEL_MAX_HIDDEN + 2], dw[MODEL_MAX_HIDDEN + 2];
    nn_act ea[MODEL_MAX_HIDDEN + 1], da[MODEL_MAX_HIDDEN + 1];
    int n = c->n_hidden;
    size_t cond = c->kind == MODEL_VAE ? c->classes : 0; /* the one-hot label joins x and z */
    ew[0] = (R ? feat : c->input_dim) + cond;
    dw[0] = c->latent + cond;
    for (int i = 0; i < n; i++) {
        ew[i + 1] = c->hidden[i];
        dw[i + 1] = c->hidden[n - 1 - i];
        ea[i] = da[i] = c->act;
    }
    int vae = c->kind == MODEL_VAE;
    ew[n + 1] = vae ? 2 * c->latent : c->latent;          /* (μ, log σ²) or the code */
    int on_hidden = c->kind == MODEL_SPARSE_AE && c->sparse_on == MODEL_SPARSE_ON_HIDDEN;
    if (on_hidden && n > 0)
        ea[n - 1] = NN_ACT_SIGMOID; /* ρ̂ of the last hidden layer needs (0, 1) */
    ea[n] = c->kind == MODEL_SPARSE_AE && !on_hidden ? NN_ACT_SIGMOID : NN_ACT_NONE;
    int two = vae && c->likelihood == MODEL_LIK_GAUSSIAN;       /* the mean and log σ² */
    dw[n + 1] = R ? feat : two ? 2 * c->input_dim : c->input_dim;
    da[n] = R ? c->act : NN_ACT_NONE;                     /* logits, the mean, or features */
    if ((R && (nn_conv2d_init(&m->conv[0], m->params, "encoder.conv.0", 1, 32, 4, 2, 1, err) ||
               nn_conv2d_init(&m->conv[1], m->params, "encoder.conv.1", 32, 64, 4, 2, 1, err))) ||
        nn_mlp_init(&m->enc, m->params, "encoder", n + 2, ew, ea, err) ||
        nn_mlp_init(&m->dec, m->params, "decoder", n + 2, dw, da, err) ||
        (R && (nn_conv_transpose2d_init(&m->deconv[0], m->params, "decoder.conv.0", 64, 32, 4, 2, 1,
                                        0, err) ||
               nn_conv_transpose2d_init(&m->deconv[1], m->params, "decoder.conv.1", 32, two ? 2 : 1,
                                        4, 2, 1, 0, err))) ||
        nn_params_alloc(m->params, err)) {
        model_free(m);
        return NULL;
    }
    if (rng)
        nn_params_init(m->params, c->init, 0.01, rng);
    return m;
}

void model_free(model *m)
{
    if (!m)
        return;
    nn_params_free(m->params);
    free(m);
}

/* ---- the shared body ------------------------------------------------------------------ */

ad_var *model__with_label(model *m, ad_tape *t, ad_var *v, const int *labels)
{
    if (!m->c.classes || !v)
        return v;
    if (!labels) {
        ad_tape_fail(t, "model: a conditional VAE (%zu classes) needs the batch's labels",
                     m->c.classes);
        return NULL;
    }
    ad_var *c = ad_one_hot(t, labels, ad_dim(v, -2), m->c.classes);
    if (ad_value(v)->ndim == 3) /* S samples of each row */
        c = ad_repeat(c, ad_dim(v, 0));
    return ad_concat(v, c);
}

ad_var *model__enc_input(model *m, ad_tape *t, ad_var *x, const int *labels)
{
    size_t R = m->c.conv_rows, C = m->c.conv_cols;
    if (R && x) { /* (N, D) -> (N, 1, R, C) -> (N, 64, R/4, C/4) -> (N, 64·R/4·C/4) */
        size_t n = ad_dim(x, 0);
        ad_var *h = ad_reshape(x, TN_DIMS(n, 1, R, C));
        for (int i = 0; i < 2; i++)
            h = nn_act_apply(nn_conv2d_forward(&m->conv[i], h), m->c.act);
        x = ad_reshape(h, TN_DIMS(n, 64 * (R / 4) * (C / 4)));
    }
    return m->c.kind == MODEL_VAE ? model__with_label(m, t, x, labels) : x;
}

ad_var *model__decoder(model *m, ad_var *zin)
{
    ad_var *h = nn_mlp_forward(&m->dec, zin);
    size_t R = m->c.conv_rows, C = m->c.conv_cols;
    if (!R || !h)
        return h;
    size_t n = ad_dim(h, 0);
    h = ad_reshape(h, TN_DIMS(n, 64, R / 4, C / 4));
    h = nn_act_apply(nn_conv2d_forward(&m->deconv[0], h), m->c.act);
    h = nn_conv2d_forward(&m->deconv[1], h); /* (N, 1 or 2, R, C) */
    return ad_reshape(h, TN_DIMS(n, m->deconv[1].out * R * C));
}
