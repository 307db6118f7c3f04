/* iwae.c: the importance-weighted autoencoder (Burda et al. 2015) on MNIST: L_k =
 * E log (1/k) Σ_i p(x, z_i)/q(z_i | x), next to the VAE (k = 1) of the same shape,
 * budget and start; reports L_1, L_k and L_5000 (over the first 1000 test images). */
#include <math.h>
#include <stdio.h>
#include <tape/train.h>

enum { D = 784, H = 400, Z = 20 };
typedef struct {
    nn_params *p;
    nn_mlp enc, dec; /* enc: x -> H -> (μ, log σ²); dec: z -> H -> logits */
    size_t k;
} iwae;
static int iwae_init(iwae *m, tn_rng rng, nn_error *err)
{
    const nn_act act[2] = {NN_ACT_RELU, NN_ACT_NONE};
    return !(m->p = nn_params_new()) ||
           nn_mlp_init(&m->enc, m->p, "enc", TN_DIMS(D, H, 2 * Z), act, err) ||
           nn_mlp_init(&m->dec, m->p, "dec", TN_DIMS(Z, H, D), act, err) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
static ad_var *posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv)
{
    iwae *m = m_;
    return ad_split2(nn_forward(&m->enc, ad_const(t, &b->x)), lv);
}
/* log p(x | z) for z (S, N, Z) or (N, Z): (S, N), x broadcast over samples */
static ad_var *log_lik(void *m_, ad_tape *t, const nn_batch *b, ad_var *z)
{
    iwae *m = m_;
    return ad_sum_axis(ad_bernoulli_logp(ad_const(t, &b->x), nn_forward(&m->dec, z)), -1);
}
/* -L_k = -mean_n [logsumexp_i log w_i - log k],
 * log w_i = log p(x | z_i) + log N(z_i; 0, I) - log q(z_i | x) */
static ad_var *loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    iwae *m = m_;
    ad_var *lv, *mu = posterior(m, t, b, &lv), *zero = ad_scalar(t, 0);
    ad_var *eps = ad_randn(t, TN_DIMS(m->k, b->n, Z), s->rng);
    ad_var *z = ad_sample_normal_eps(mu, lv, eps); /* (k, N, Z) */
    ad_var *lw = ad_add(log_lik(m, t, b, z), ad_sum_axis(ad_gaussian_logp(z, zero, zero), -1));
    lw = ad_sub(lw, ad_sum_axis(ad_gaussian_logp(z, mu, lv), -1));
    return ad_neg(ad_mean(ad_add_scalar(ad_logsumexp(lw, 0, 0), (tn_real)-log((double)m->k))));
}
int main(int argc, char **argv)
{
    nn_setup s;
    nn_error err;
    long k = 5;
    int rc;
    if ((rc = nn_setup_args(&s, argc, argv, "iwae", 10, "k", &k, &err)))
        return nn_setup_exit(rc, &err);
    nn_dataset head = nn_data_view(s.test, 0, 1000);
    for (int run = 0; run < 2 && !rc; run++) { /* the VAE (k = 1), then k = K, from the same weights */
        iwae m = {.k = run ? (size_t)k : 1};
        nn_latent l = {.model = &m, .latent = Z, .rows = 28, .cols = 28,
                       .posterior = posterior, .log_lik = log_lik};
        double L1 = NAN, Lk = NAN, L5000 = NAN;
        nn_setup_run(&s, run ? "iwae" : "vae"); /* OUT/vae.safetensors, OUT/vae.jsonl, ... */
        rc = iwae_init(&m, s.init, &err) || nn_setup_train(&s, loss, &m, m.p, NULL, &err) ||
             (!s.check && (isnan(L1 = nn_latent_iwae(&l, s.test, 1, &s.rng, &err)) ||
                           isnan(Lk = nn_latent_iwae(&l, s.test, (int)k, &s.rng, &err)) ||
                           isnan(L5000 = nn_latent_iwae(&l, &head, 5000, &s.rng, &err))));
        if (!rc && !s.check)
            printf("%s (k = %zu): test L_1 %.2f  L_%ld %.2f  L_5000 %.2f (first %zu test images)\n",
                   run ? "IWAE" : "VAE", m.k, L1, k, Lk, L5000, head.n);
        nn_params_free(m.p);
    }
    return nn_setup_end(&s, rc, &err);
}
