/* model.c: configurations (defaults, names, metadata), building the encoder
 * and decoder MLPs, the shared encode/decode/loss entry points, and saving
 * and loading a model through a safetensors checkpoint. */
#include "model_internal.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"vae", "ae", "sparse", "denoising"};
static const char *const noise_names[] = {"gaussian", "saltpepper", "mask"};

const char *model_kind_name(model_kind k) { return (unsigned)k < 4 ? kind_names[k] : "?"; }
const char *model_noise_name(model_noise n) { return (unsigned)n < 3 ? noise_names[n] : "?"; }

int model_kind_parse(const char *s, model_kind *out)
{
    int i = nn_name_index(s, kind_names, 4);
    if (i >= 0)
        *out = (model_kind)i;
    return i >= 0 ? 0 : -1;
}

int model_noise_parse(const char *s, model_noise *out)
{
    int i = nn_name_index(s, noise_names, 3);
    if (i >= 0)
        *out = (model_noise)i;
    return i >= 0 ? 0 : -1;
}

model_config model_defaults(model_kind kind)
{
    model_config c = {0};
    c.kind = kind;
    c.input_dim = 784;
    c.n_hidden = 1;
    c.hidden[0] = 400;
    c.latent = kind == MODEL_VAE ? 20 : 64;
    c.act = NN_ACT_RELU;
    c.init = NN_INIT_TORCH;
    c.likelihood = LIK_BERNOULLI;
    c.samples = 1;
    c.beta = 1;
    c.recon = RECON_BCE;
    c.sparsity = SPARSE_KL;
    c.rho = 0.05;
    c.sparse_beta = 3;
    c.l1 = 1e-3;
    c.noise = NOISE_MASK;
    c.noise_level = 0.25;
    c.iw_k = 1;
    c.noise_clip = 1;
    return c;
}

/* ---- the named variants ---------------------------------------------------------- */

const char *const model_variants[] = {"vae", "beta-vae", "iwae", "cvae", "ae", "sparse", "sparse-hidden",
                                      "dae-mask", "dae-gauss", "dae-sp", "conv-vae", NULL};

int model_variant(const char *name, model_config *c)
{
    static const model_kind kind[] = {MODEL_VAE, MODEL_VAE, MODEL_VAE, MODEL_VAE, MODEL_AE,
                                      MODEL_SPARSE_AE, MODEL_SPARSE_AE, MODEL_DENOISING_AE,
                                      MODEL_DENOISING_AE, MODEL_DENOISING_AE, MODEL_VAE};
    int v = 0;
    while (model_variants[v] && strcmp(model_variants[v], name) != 0)
        v++;
    if (!model_variants[v])
        return -1;
    const char *n = model_variants[v];
    *c = model_defaults(kind[v]);
    c->latent = 20;
    c->beta = strcmp(n, "beta-vae") == 0 ? 4 : c->beta;
    c->iw_k = strcmp(n, "iwae") == 0 ? 5 : 1;
    c->classes = strcmp(n, "cvae") == 0 ? 10 : 0;
    c->sparse_on = strcmp(n, "sparse-hidden") == 0 ? SPARSE_ON_HIDDEN : SPARSE_ON_CODE;
    c->noise = strcmp(n, "dae-gauss") == 0 ? NOISE_GAUSSIAN
             : strcmp(n, "dae-sp") == 0    ? NOISE_SALT_PEPPER
                                           : NOISE_MASK;
    if (strcmp(n, "conv-vae") == 0)
        c->conv_rows = c->conv_cols = 28;
    return 0;
}

/* ---- configuration <-> metadata ------------------------------------------------ */

int model_config_to_meta(const model_config *c, nn_meta *m)
{
    char hidden[200] = "";
    size_t used = 0;
    for (int i = 0; i < c->n_hidden && used < sizeof hidden; i++)
        used += (size_t)snprintf(hidden + used, sizeof hidden - used, i ? ",%zu" : "%zu", c->hidden[i]);
    int rc = 0;
    rc |= nn_meta_set(m, "model.kind", model_kind_name(c->kind));
    rc |= nn_meta_setf(m, "model.input_dim", "%zu", c->input_dim);
    rc |= nn_meta_set(m, "model.hidden", hidden);
    rc |= nn_meta_setf(m, "model.latent", "%zu", c->latent);
    rc |= nn_meta_set(m, "model.activation", nn_act_name(c->act));
    rc |= nn_meta_set(m, "model.init", nn_init_name(c->init));
    rc |= nn_meta_set(m, "model.likelihood", c->likelihood == LIK_GAUSSIAN ? "gaussian" : "bernoulli");
    rc |= nn_meta_setf(m, "model.samples", "%d", c->samples);
    rc |= nn_meta_setf(m, "model.beta", "%.17g", c->beta);
    rc |= nn_meta_setf(m, "model.warmup", "%ld", c->warmup);
    rc |= nn_meta_set(m, "model.recon", c->recon == RECON_MSE ? "mse" : "bce");
    rc |= nn_meta_set(m, "model.sparsity", c->sparsity == SPARSE_L1 ? "l1" : "kl");
    rc |= nn_meta_setf(m, "model.rho", "%.17g", c->rho);
    rc |= nn_meta_setf(m, "model.sparse_beta", "%.17g", c->sparse_beta);
    rc |= nn_meta_setf(m, "model.l1", "%.17g", c->l1);
    rc |= nn_meta_set(m, "model.noise", model_noise_name(c->noise));
    rc |= nn_meta_setf(m, "model.noise_level", "%.17g", c->noise_level);
    rc |= nn_meta_setf(m, "model.iw_k", "%d", c->iw_k);
    rc |= nn_meta_setf(m, "model.classes", "%zu", c->classes);
    rc |= nn_meta_set(m, "model.sparse_on", c->sparse_on == SPARSE_ON_HIDDEN ? "hidden" : "code");
    rc |= nn_meta_setf(m, "model.noise_clip", "%d", c->noise_clip);
    rc |= nn_meta_setf(m, "model.conv", "%zux%zu", c->conv_rows, c->conv_cols);
    return rc ? -1 : 0;
}

static const char *need(const nn_meta *m, const char *key, nn_error *err)
{
    const char *v = nn_meta_get(m, key);
    if (!v)
        nn_fail(err, "metadata %s: missing", key);
    return v;
}

/* A whole number from lo to hi, strictly: digits only. */
static int get_size(const nn_meta *m, const char *key, size_t lo, size_t hi, size_t *out,
                    nn_error *err)
{
    const char *v = need(m, key, err);
    char *end;
    if (!v)
        return -1;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end || errno || x < lo || x > hi)
        return nn_fail(err, "metadata %s: expected a whole number from %zu to %zu, found \"%s\"", key,
                       lo, hi, v);
    *out = (size_t)x;
    return 0;
}

static int get_double(const nn_meta *m, const char *key, double *out, nn_error *err)
{
    const char *v = need(m, key, err);
    char *end;
    if (!v)
        return -1;
    *out = strtod(v, &end);
    if (!*v || *end || !(*out >= 0))
        return nn_fail(err, "metadata %s: expected a number >= 0, found \"%s\"", key, v);
    return 0;
}

static int get_choice(const nn_meta *m, const char *key, const char *a, const char *b, int *out,
                      nn_error *err)
{
    const char *v = need(m, key, err);
    if (!v)
        return -1;
    if (strcmp(v, a) && strcmp(v, b))
        return nn_fail(err, "metadata %s: expected \"%s\" or \"%s\", found \"%s\"", key, a, b, v);
    *out = strcmp(v, b) == 0;
    return 0;
}

int model_config_from_meta(const nn_meta *m, model_config *c, nn_error *err)
{
    model_config r = model_defaults(MODEL_VAE);
    const char *v;
    size_t samples, warm;
    int lik, rec, sp;
    if (!(v = need(m, "model.kind", err)))
        return -1;
    if (model_kind_parse(v, &r.kind))
        return nn_fail(err, "metadata model.kind: expected vae, ae, sparse or denoising, found \"%s\"", v);
    if (get_size(m, "model.input_dim", 1, 10000000, &r.input_dim, err) ||
        get_size(m, "model.latent", 1, 100000, &r.latent, err))
        return -1;
    if (!(v = need(m, "model.hidden", err)))
        return -1;
    if (model_hidden_parse(v, &r))
        return nn_fail(err, "metadata model.hidden: expected 1 to %d widths from 1 to 100000 like "
                            "\"500,500\", found \"%s\"", MODEL_MAX_HIDDEN, v);
    if (!(v = need(m, "model.activation", err)))
        return -1;
    if (nn_act_parse(v, &r.act))
        return nn_fail(err, "metadata model.activation: unknown activation \"%s\"", v);
    if (!(v = need(m, "model.init", err)))
        return -1;
    if (nn_init_parse(v, &r.init))
        return nn_fail(err, "metadata model.init: unknown initialiser \"%s\"", v);
    if (get_choice(m, "model.likelihood", "bernoulli", "gaussian", &lik, err) ||
        get_size(m, "model.samples", 1, 10000, &samples, err) ||
        get_double(m, "model.beta", &r.beta, err) ||
        get_choice(m, "model.recon", "bce", "mse", &rec, err) ||
        get_choice(m, "model.sparsity", "kl", "l1", &sp, err) || get_double(m, "model.rho", &r.rho, err) ||
        get_double(m, "model.sparse_beta", &r.sparse_beta, err) || get_double(m, "model.l1", &r.l1, err) ||
        get_double(m, "model.noise_level", &r.noise_level, err))
        return -1;
    if (get_size(m, "model.warmup", 0, 1000000000000ULL, &warm, err))
        return -1;
    if (!(v = need(m, "model.noise", err)))
        return -1;
    if (model_noise_parse(v, &r.noise))
        return nn_fail(err, "metadata model.noise: expected gaussian, saltpepper or mask, found \"%s\"", v);
    /* keys added later: optional, with the defaults older checkpoints had */
    size_t iw = 1, classes = 0, clip = 1;
    int on = 0;
    if ((nn_meta_get(m, "model.iw_k") && get_size(m, "model.iw_k", 1, 100000, &iw, err)) ||
        (nn_meta_get(m, "model.classes") && get_size(m, "model.classes", 0, 100000, &classes, err)) ||
        (nn_meta_get(m, "model.noise_clip") && get_size(m, "model.noise_clip", 0, 1, &clip, err)) ||
        (nn_meta_get(m, "model.sparse_on") &&
         get_choice(m, "model.sparse_on", "code", "hidden", &on, err)))
        return -1;
    if ((v = nn_meta_get(m, "model.conv"))) { /* "0x0", or the images' rows x cols */
        char tail;
        unsigned long long rows, cols;
        if (sscanf(v, "%llux%llu%c", &rows, &cols, &tail) != 2 || strspn(v, "0123456789x") != strlen(v) ||
            rows > 100000 || cols > 100000)
            return nn_fail(err, "metadata model.conv: expected rows x cols like \"28x28\" (0x0: "
                                "none), found \"%s\"", v);
        r.conv_rows = (size_t)rows, r.conv_cols = (size_t)cols;
    }
    r.iw_k = (int)iw, r.classes = classes, r.noise_clip = (int)clip;
    r.sparse_on = on ? SPARSE_ON_HIDDEN : SPARSE_ON_CODE;
    r.likelihood = lik ? LIK_GAUSSIAN : LIK_BERNOULLI;
    r.recon = rec ? RECON_MSE : RECON_BCE;
    r.sparsity = sp ? SPARSE_L1 : SPARSE_KL;
    r.samples = (int)samples;
    r.warmup = (long)warm;
    *c = r;
    return 0;
}

/* ---- building --------------------------------------------------------------------- */

model *model_new(const model_config *c, tn_rng *rng, nn_error *err)
{
    if (c->n_hidden < 0 || c->n_hidden > MODEL_MAX_HIDDEN || !c->input_dim || !c->latent)
        return nn_fail_null(err, "model: needs an input size, a latent size and 0 to %d hidden layers",
                             MODEL_MAX_HIDDEN);
    if (c->kind == MODEL_VAE && c->samples < 1)
        return nn_fail_null(err, "model: samples must be >= 1, got %d", c->samples);
    if (c->kind == MODEL_SPARSE_AE && c->sparsity == SPARSE_KL && !(c->rho > 0 && c->rho < 1))
        return nn_fail_null(err, "model: the sparsity target rho must be in (0, 1), got %g", c->rho);
    if (c->kind == MODEL_SPARSE_AE && c->sparse_on == SPARSE_ON_HIDDEN && c->n_hidden < 1)
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
    int on_hidden = c->kind == MODEL_SPARSE_AE && c->sparse_on == SPARSE_ON_HIDDEN;
    if (on_hidden && n > 0)
        ea[n - 1] = NN_ACT_SIGMOID; /* ρ̂ of the last hidden layer needs (0, 1) */
    ea[n] = c->kind == MODEL_SPARSE_AE && !on_hidden ? NN_ACT_SIGMOID : NN_ACT_NONE;
    int two = vae && c->likelihood == LIK_GAUSSIAN;       /* the mean and log σ² */
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

/* ---- shared entry points ------------------------------------------------------------- */

ad_var *model__enc_input(model *m, ad_tape *t, ad_var *x, const int *labels)
{
    size_t R = m->c.conv_rows, C = m->c.conv_cols;
    if (R && x) { /* (N, D) -> (N, 1, R, C) -> (N, 64, R/4, C/4) -> (N, 64·R/4·C/4) */
        size_t n = ad_dim(x, 0);
        ad_var *h = ad_reshape(x, 4, (const size_t[]){n, 1, R, C});
        for (int i = 0; i < 2; i++)
            h = nn_act_apply(nn_conv2d_forward(&m->conv[i], t, m->params, h), m->c.act);
        x = ad_reshape(h, 2, (const size_t[]){n, 64 * (R / 4) * (C / 4)});
    }
    return m->c.kind == MODEL_VAE ? vae__with_label(m, t, x, labels) : x;
}

ad_var *model__decoder(model *m, ad_tape *t, ad_var *zin)
{
    ad_var *h = nn_mlp_forward(&m->dec, t, m->params, zin);
    size_t R = m->c.conv_rows, C = m->c.conv_cols;
    if (!R || !h)
        return h;
    size_t n = ad_dim(h, 0);
    h = ad_reshape(h, 4, (const size_t[]){n, 64, R / 4, C / 4});
    h = nn_act_apply(nn_conv2d_forward(&m->deconv[0], t, m->params, h), m->c.act);
    h = nn_conv2d_forward(&m->deconv[1], t, m->params, h); /* (N, 1 or 2, R, C) */
    return ad_reshape(h, 2, (const size_t[]){n, m->deconv[1].out * R * C});
}

ad_var *model_encode(model *m, ad_tape *t, ad_var *x, const int *labels)
{
    if (m->c.kind == MODEL_VAE) {
        ad_var *mu, *lv;
        vae_posterior(m, t, x, labels, &mu, &lv);
        return mu;
    }
    return nn_mlp_forward(&m->enc, t, m->params, model__enc_input(m, t, x, NULL));
}

ad_var *model_decode(model *m, ad_tape *t, ad_var *z, const int *labels)
{
    ad_var *out = model__decoder(m, t, vae__with_label(m, t, z, labels));
    if (m->c.kind == MODEL_VAE && m->c.likelihood == LIK_GAUSSIAN)
        return ad_slice(out, 0, m->c.input_dim);
    if (m->c.kind != MODEL_VAE && m->c.recon == RECON_MSE)
        return out;
    return ad_sigmoid(out);
}

int model_batch_loss(model *m, ad_tape *t, const tn_tensor *x, const int *labels,
                     tn_rng *rng, long step, int corrupt, model_loss *out)
{
    memset(out, 0, sizeof *out);
    if (x->ndim != 2 || x->shape[1] != m->c.input_dim) {
        char s[64];
        ad_tape_fail(t, "model: batch (%s) does not have %zu columns", tn_shape_str(x, s, sizeof s),
                 m->c.input_dim);
        return -1;
    }
    if (m->c.kind == MODEL_VAE)
        return vae__batch_loss(m, t, ad_const(t, x), labels, rng, step, out);
    return ae__batch_loss(m, t, x, rng, corrupt, out);
}

/* ---- checkpoints ------------------------------------------------------------------------ */

int model_save(model *m, const char *path, nn_optim *o, const nn_meta *extra, nn_error *err)
{
    nn_meta meta = NN_META_INIT;
    int rc = (extra && nn_meta_copy(&meta, extra)) || model_config_to_meta(&m->c, &meta)
                 ? nn_fail(err, "%s: out of memory for the metadata", path)
                 : nn_save(path, m->params, o, &meta, err);
    nn_meta_free(&meta);
    return rc;
}

model *model_load(const char *path, nn_meta *meta, nn_error *err)
{
    nn_meta local = NN_META_INIT;
    model_config c;
    if (nn_load_meta(path, &local, err))
        return NULL;
    int bad = model_config_from_meta(&local, &c, err);
    nn_meta_free(&local);
    if (bad) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        return nn_fail_null(err, "%s: %s", path, msg);
    }
    /* the sizes the metadata promise, against the bytes the file holds:
     * a lying header must not make us allocate gigabytes */
    double count = 0, in = (double)c.input_dim;
    for (int i = 0; i <= c.n_hidden; i++) {
        double out = i < c.n_hidden ? (double)c.hidden[i] : 2.0 * (double)c.latent;
        count += 2 * (in * out + out), in = out; /* encoder and (about) the decoder */
    }
    struct stat st;
    if (stat(path, &st) == 0 && count * 4 > 2.0 * (double)st.st_size + 1e6)
        return nn_fail_null(err, "%s: metadata model.*: the sizes (input %zu, latent %zu, %d hidden "
                                 "layers) make about %.0f parameters, but the file holds only %lld "
                                 "bytes", path, c.input_dim, c.latent, c.n_hidden, count,
                            (long long)st.st_size);
    model *m = model_new(&c, NULL, err);
    if (!m)
        return NULL;
    if (nn_load(path, m->params, NULL, meta, err)) {
        model_free(m);
        return NULL;
    }
    return m;
}

int model_load_optim(model *m, const char *path, nn_optim *o, nn_error *err)
{
    return nn_load(path, m->params, o, NULL, err);
}
