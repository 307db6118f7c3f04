/* ae.c: the deterministic autoencoders. Plain AE: code = enc(x),
 * loss = recon(dec(code), x) with BCE (logits) or MSE. Sparse AE: β Σ_j
 * KL(ρ || ρ̂_j) or an L1 penalty on a sigmoid code, or on the encoder's last
 * (sigmoid) hidden layer with a linear code. Denoising AE (Vincent et al.
 * 2008): the encoder sees a corrupted x̃, the loss compares with the clean x. */
#include "model_internal.h"

#include <string.h>

void ae_corrupt(const model_config *c, tn_tensor *x, tn_rng *rng)
{
    double f = c->noise_level;
    for (size_t i = 0; i < x->size; i++) {
        switch (c->noise) {
        case NOISE_GAUSSIAN: /* x̃ = x + σε, clipped to [0, 1] unless noise_clip is 0 */
            x->data[i] += (tn_real)(f * tn_rng_normal(rng));
            if (c->noise_clip)
                x->data[i] = x->data[i] < 0 ? 0 : x->data[i] > 1 ? 1 : x->data[i];
            break;
        case NOISE_SALT_PEPPER: /* a fraction f set to 0 or 1, evenly */
            if (tn_rng_uniform(rng) < f)
                x->data[i] = tn_rng_uniform(rng) < 0.5 ? 0 : 1;
            break;
        case NOISE_MASK: /* a fraction f set to 0 */
            if (tn_rng_uniform(rng) < f)
                x->data[i] = 0;
            break;
        }
    }
}

int ae__batch_loss(model *m, ad_tape *t, const tn_tensor *x, tn_rng *rng, int corrupt, model_loss *out)
{
    ad_var *clean = ad_const(t, x), *in = clean;
    if (m->c.kind == MODEL_DENOISING_AE && corrupt) {
        in = ad_const_new(t, x->ndim, x->shape);
        if (!in)
            return -1;
        memcpy(ad_data(in), x->data, x->size * sizeof(tn_real));
        tn_tensor noisy = *ad_value(in);
        ae_corrupt(&m->c, &noisy, rng);
    }
    /* the encoder layer by layer, keeping the last hidden layer's output */
    ad_var *code = model__enc_input(m, t, in, NULL), *hidden = NULL;
    for (int i = 0; i < m->enc.n_layers; i++) {
        if (i == m->enc.n_layers - 1)
            hidden = code;
        code = nn_act_apply(nn_linear_forward(&m->enc.layer[i], t, m->params, code), m->enc.act[i]);
    }
    ad_var *outp = model__decoder(m, t, code);
    ad_var *rec = m->c.recon == RECON_BCE ? nn_bce_logits(outp, clean) : nn_mse(outp, clean);
    ad_var *loss = rec;
    if (m->c.kind == MODEL_SPARSE_AE) {
        ad_var *h = m->c.sparse_on == SPARSE_ON_HIDDEN ? hidden : code;
        ad_var *pen = m->c.sparsity == SPARSE_KL ? nn_sparse_kl(h, m->c.rho, m->c.sparse_beta)
                                                 : nn_l1_activity(h, m->c.l1);
        loss = ad_add(rec, pen);
        out->penalty = ad_item(pen);
        out->mean_act = ad_value(h) ? tn_mean_all(ad_value(h)) : 0;
    }
    if (!loss)
        return -1;
    out->loss = loss;
    out->recon = ad_item(rec);
    return 0;
}
