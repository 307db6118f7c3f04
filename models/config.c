/* config.c: a model's configuration: the kinds' and noises' names, the
 * defaults, the named variants of `compare`, the configuration as checkpoint
 * metadata and back, and the hidden-size list parser. Nothing here builds
 * or runs a model. */
#include "model_internal.h"

#include <errno.h>
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
    c.likelihood = MODEL_LIK_BERNOULLI;
    c.samples = 1;
    c.beta = 1;
    c.recon = MODEL_RECON_BCE;
    c.sparsity = MODEL_SPARSE_KL;
    c.rho = 0.05;
    c.sparse_beta = 3;
    c.l1 = 1e-3;
    c.noise = MODEL_NOISE_MASK;
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
    c->sparse_on = strcmp(n, "sparse-hidden") == 0 ? MODEL_SPARSE_ON_HIDDEN : MODEL_SPARSE_ON_CODE;
    c->noise = strcmp(n, "dae-gauss") == 0 ? MODEL_NOISE_GAUSSIAN
             : strcmp(n, "dae-sp") == 0    ? MODEL_NOISE_SALT_PEPPER
                                           : MODEL_NOISE_MASK;
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
    rc |= nn_meta_set(m, "model.likelihood", c->likelihood == MODEL_LIK_GAUSSIAN ? "gaussian" : "bernoulli");
    rc |= nn_meta_setf(m, "model.samples", "%d", c->samples);
    rc |= nn_meta_setf(m, "model.beta", "%.17g", c->beta);
    rc |= nn_meta_setf(m, "model.warmup", "%ld", c->warmup);
    rc |= nn_meta_set(m, "model.recon", c->recon == MODEL_RECON_MSE ? "mse" : "bce");
    rc |= nn_meta_set(m, "model.sparsity", c->sparsity == MODEL_SPARSE_L1 ? "l1" : "kl");
    rc |= nn_meta_setf(m, "model.rho", "%.17g", c->rho);
    rc |= nn_meta_setf(m, "model.sparse_beta", "%.17g", c->sparse_beta);
    rc |= nn_meta_setf(m, "model.l1", "%.17g", c->l1);
    rc |= nn_meta_set(m, "model.noise", model_noise_name(c->noise));
    rc |= nn_meta_setf(m, "model.noise_level", "%.17g", c->noise_level);
    rc |= nn_meta_setf(m, "model.iw_k", "%d", c->iw_k);
    rc |= nn_meta_setf(m, "model.classes", "%zu", c->classes);
    rc |= nn_meta_set(m, "model.sparse_on", c->sparse_on == MODEL_SPARSE_ON_HIDDEN ? "hidden" : "code");
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
    r.sparse_on = on ? MODEL_SPARSE_ON_HIDDEN : MODEL_SPARSE_ON_CODE;
    r.likelihood = lik ? MODEL_LIK_GAUSSIAN : MODEL_LIK_BERNOULLI;
    r.recon = rec ? MODEL_RECON_MSE : MODEL_RECON_BCE;
    r.sparsity = sp ? MODEL_SPARSE_L1 : MODEL_SPARSE_KL;
    r.samples = (int)samples;
    r.warmup = (long)warm;
    *c = r;
    return 0;
}

int model_hidden_parse(const char *s, model_config *c)
{
    size_t h[MODEL_MAX_HIDDEN];
    int n = 0;
    for (const char *p = s;; p++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 100000 || n == MODEL_MAX_HIDDEN ||
            (*end && *end != ',') || *p == ' ' || *p == '+' || *p == '-')
            return -1;
        h[n++] = (size_t)v;
        if (!*(p = end))
            break;
    }
    c->n_hidden = n;
    for (int i = 0; i < n; i++)
        c->hidden[i] = h[i];
    return 0;
}
