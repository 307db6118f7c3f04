/* gumbel_vae.c: a VAE with 30 categorical latent variables of 10 classes on
 * MNIST (Jang et al. 2017): z = Gumbel-softmax(logits, τ), τ annealed from 1
 * to 0.5 over the run, KL to the uniform prior; draws samples of the prior. */
#include <math.h>
#include <stdio.h>
#include <tape/train.h>

enum { D = 784, H = 400, N = 30, K = 10 };
typedef struct {
    nn_params *p;
    nn_mlp enc, dec; /* enc: x -> H -> logits (N x K); dec: one-hot codes -> H -> logits */
    long steps;      /* of the whole run, for the temperature */
} gvae;
static int gvae_init(gvae *m, tn_rng rng, nn_error *err)
{
    const nn_act act[2] = {NN_ACT_RELU, NN_ACT_NONE};
    return !(m->p = nn_params_new()) ||
           nn_mlp_init(&m->enc, m->p, "enc", TN_DIMS(D, H, N * K), act, err) ||
           nn_mlp_init(&m->dec, m->p, "dec", TN_DIMS(N * K, H, D), act, err) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
static ad_var *enc_logits(gvae *m, ad_tape *t, const nn_batch *b) /* (n, N, K) */
{
    ad_var *h = nn_forward(&m->enc, ad_const(t, &b->x));
    return ad_reshape(h, TN_DIMS(b->n, N, K));
}
static ad_var *dec_logits(gvae *m, ad_var *z) /* z (n, N, K) or (n, N·K) */
{
    return nn_forward(&m->dec, ad_reshape(z, TN_DIMS(ad_dim(z, 0), N * K)));
}
/* -ELBO = BCE(x, dec(z)) + Σ_N KL(q || U(K)), z = Gumbel-softmax(logits, τ),
 * τ = max(0.5, 2^(-step/steps)) */
static ad_var *loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    gvae *m = m_;
    ad_var *lg = enc_logits(m, t, b);
    tn_real tau = (tn_real)fmax(0.5, pow(2, -(double)s->step / (double)m->steps));
    ad_var *z = ad_gumbel_softmax(lg, tau, 0, s->rng);
    ad_var *rec = nn_bce_logits(dec_logits(m, z), ad_const(t, &b->x));
    ad_var *kl = ad_mean(ad_sum_axis(ad_kl_categorical(lg), -1));
    nn_scalars_set(s->report, "tau", tau);
    return ad_add(nn_report(s, "recon", rec), nn_report(s, "kl", kl));
}
/* for the pictures: E[x | z] and draws of the uniform prior, one-hot codes */
static ad_var *decode(void *m, ad_tape *t, ad_var *z, const int *labels)
{
    (void)t, (void)labels;
    return ad_sigmoid(dec_logits(m, z));
}
static void prior(void *m, tn_rng *rng, tn_real *z, size_t n)
{
    (void)m;
    for (size_t i = 0; i < n * N; i++)
        for (size_t k = 0, c = tn_rng_below(rng, K); k < K; k++)
            z[i * K + k] = k == c;
}
int main(int argc, char **argv)
{
    nn_setup s;
    nn_error err;
    gvae m = {0};
    nn_train_result res;
    int rc;
    if ((rc = nn_setup_args(&s, argc, argv, "gumbel_vae", 10, NULL, NULL, &err)))
        return nn_setup_exit(rc, &err);
    m.steps = s.cfg.epochs * (long)((s.train->n + s.cfg.batch - 1) / s.cfg.batch);
    nn_latent l = {.model = &m, .latent = N * K, .rows = 28, .cols = 28,
                   .decode = decode, .prior = prior};
    rc = gvae_init(&m, s.init, &err) || nn_setup_train(&s, loss, &m, m.p, &res, &err) ||
         (!s.check && nn_pic_samples(nn_setup_path(&s, "samples.png"), &l, 10, 10, NULL, 0, &s.rng, &err));
    if (!rc && !s.check)
        printf("test -ELBO %.2f (recon %.2f + KL %.2f) at tau %.2f; samples.png in %s\n",
               nn_scalars_get(&res.test, "loss"), nn_scalars_get(&res.test, "recon"),
               nn_scalars_get(&res.test, "kl"), nn_scalars_get(&res.test, "tau"), s.out);
    nn_params_free(m.p);
    return nn_setup_end(&s, rc, &err);
}
