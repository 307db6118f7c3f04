/* ae.c: the deterministic autoencoders. Plain AE: code = enc(x),
 * loss = recon(dec(code), x) with BCE (logits) or MSE. Sparse AE: β Σ_j
 * KL(ρ || ρ̂_j) or an L1 penalty on a sigmoid code, or on the encoder's last
 * (sigmoid) hidden layer with a linear code. Denoising AE (Vincent et al.
 * 2008): the encoder sees a corrupted x̃, the loss compares with the clean x. */
#include "model_internal.h"

#include "tn_parallel.h"

/* The noise is drawn in bulk, CHUNK pixels at a time (tn_rng_normals,
 * tn_rng_fill_u32: loops that vectorize), into buffers on the stack. */
enum { CHUNK = 1024 };

/* The 32-bit draws n pixels of noise take from the stream. */
static int64_t draws(const model_config *c, size_t n)
{
    return c->noise == MODEL_NOISE_GAUSSIAN ? 2 * (int64_t)((n + 1) / 2) /* normals come in pairs */
         : c->noise == MODEL_NOISE_SALT_PEPPER ? 2 * (int64_t)n : (int64_t)n;
}

/* n <= CHUNK pixels: v = x corrupted from rng (v may be x) */
static void corrupt_chunk(const model_config *c, tn_real *v, const tn_real *x, size_t n, tn_rng *rng)
{
    const tn_real f = (tn_real)c->noise_level;
    /* a pixel is picked when its 32-bit draw u < f·2^32, every one at f >= 1
     * (32-bit compares, so that the loops vectorize) */
    const int every = c->noise_level >= 1;
    const uint32_t pick = every ? 0 : (uint32_t)(c->noise_level * 4294967296.0);
    if (c->noise == MODEL_NOISE_GAUSSIAN) { /* x̃ = x + σε, clipped to [0, 1] unless noise_clip is 0 */
        float e[CHUNK];
        tn_rng_normals(rng, e, n);
        for (size_t i = 0; i < n; i++)
            v[i] = x[i] + f * (tn_real)e[i];
        for (size_t i = 0; c->noise_clip && i < n; i++)
            v[i] = v[i] < 0 ? 0 : v[i] > 1 ? 1 : v[i];
    } else if (c->noise == MODEL_NOISE_SALT_PEPPER) { /* a fraction f set to 0 or 1, evenly */
        uint32_t u[2 * CHUNK];                   /* the picks, then the values' bits */
        tn_rng_fill_u32(rng, u, 2 * n);
        for (size_t i = 0; i < n; i++) { /* p·value + (1 - p)·x, p 0 or 1: exact, and it vectorizes */
            tn_real p = (tn_real)((u[i] < pick) | every);
            v[i] = x[i] * (1 - p) + p * (tn_real)(int32_t)(u[n + i] >> 31);
        }
    } else { /* MODEL_NOISE_MASK: a fraction f set to 0 */
        uint32_t u[CHUNK];
        tn_rng_fill_u32(rng, u, n);
        for (size_t i = 0; i < n; i++)
            v[i] = x[i] * (tn_real)(1 - ((u[i] < pick) | every));
    }
}

/* Chunk k draws from its own copy of rng moved to where the chunks before
 * it end (tn_rng_advance), so the chunks run on any number of threads and
 * the pixels get the numbers one pass in order would give them; rng ends
 * where that pass would leave it. */
void ae_corrupt_from(const model_config *c, tn_tensor *out, const tn_tensor *x, tn_rng *rng)
{
    size_t chunks = (x->size + CHUNK - 1) / CHUNK;
    if (chunks == 0)
        return;
    const int64_t per = draws(c, CHUNK);
    TN_FOR_WORK(k, chunks, x->size, { /* split over threads when there are many pixels */
        tn_rng r = *rng;
        tn_rng_advance(&r, (int64_t)k * per);
        size_t i0 = k * (size_t)CHUNK;
        corrupt_chunk(c, out->data + i0, x->data + i0, x->size - i0 < CHUNK ? x->size - i0 : CHUNK, &r);
    });
    tn_rng_advance(rng, (int64_t)(chunks - 1) * per + draws(c, x->size - (chunks - 1) * CHUNK));
}

void ae_corrupt(const model_config *c, tn_tensor *x, tn_rng *rng) { ae_corrupt_from(c, x, x, rng); }

int ae__batch_loss(model *m, ad_tape *t, const tn_tensor *x, tn_rng *rng, int corrupt, model_loss *out)
{
    ad_var *clean = ad_const(t, x), *in = clean;
    if (m->c.kind == MODEL_DENOISING_AE && corrupt) {
        in = ad_const_new(t, x->ndim, x->shape);
        if (!in)
            return -1;
        tn_tensor noisy = *ad_value(in);
        ae_corrupt_from(&m->c, &noisy, x, rng); /* x̃ written from x: no copy first */
    }
    /* the encoder layer by layer, keeping the last hidden layer's output */
    ad_var *code = model__enc_input(m, t, in, NULL), *hidden = NULL;
    for (int i = 0; i < m->enc.n_layers; i++) {
        if (i == m->enc.n_layers - 1)
            hidden = code;
        code = nn_act_apply(nn_linear_forward(&m->enc.layer[i], code), m->enc.act[i]);
    }
    ad_var *outp = model__decoder(m, code);
    ad_var *rec = m->c.recon == MODEL_RECON_BCE ? nn_bce_logits(outp, clean) : nn_mse(outp, clean);
    ad_var *loss = rec;
    if (m->c.kind == MODEL_SPARSE_AE) {
        ad_var *h = m->c.sparse_on == MODEL_SPARSE_ON_HIDDEN ? hidden : code;
        ad_var *pen = m->c.sparsity == MODEL_SPARSE_KL ? nn_sparse_kl(h, m->c.rho, m->c.sparse_beta)
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
