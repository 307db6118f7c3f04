/* model.c: the front of a built-in model: encode, decode and the batch loss
 * (dispatched to vae.c or ae.c by kind), and saving and loading a model
 * through a safetensors checkpoint. Configurations are config.c's, the
 * network net.c's. */
#include "model_internal.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared entry points ------------------------------------------------------------- */

ad_var *model_encode(model *m, ad_tape *t, ad_var *x, const int *labels)
{
    if (m->c.kind == MODEL_VAE) {
        ad_var *mu, *lv;
        vae_posterior(m, t, x, labels, &mu, &lv);
        return mu;
    }
    return nn_mlp_forward(&m->enc, model__enc_input(m, t, x, NULL));
}

ad_var *model_decode(model *m, ad_tape *t, ad_var *z, const int *labels)
{
    ad_var *out = model__decoder(m, model__with_label(m, t, z, labels));
    if (m->c.kind == MODEL_VAE && m->c.likelihood == MODEL_LIK_GAUSSIAN)
        return ad_slice(out, 0, m->c.input_dim);
    if (m->c.kind != MODEL_VAE && m->c.recon == MODEL_RECON_MSE)
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
