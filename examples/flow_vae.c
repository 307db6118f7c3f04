/* flow_vae.c: a VAE whose posterior is a diagonal Gaussian followed by K
 * planar flows (Rezende & Mohamed 2015): z_k = z_{k-1} + û_k tanh(w_kᵀ z_{k-1}
 * + b_k), log q(z_K|x) = log N(z_0; μ, σ²) - Σ_k log |1 + û_kᵀ ψ_k|, û_k
 * constrained so that each step is invertible. The ELBO and L_k come from
 * the library's evaluation through the posterior's sample hook. */
#include <math.h>
#include <stdio.h>
#include <tape/train.h>

enum { D = 784, H = 400, Z = 20, K = 4 };
typedef struct {
    nn_params *p;
    nn_mlp enc, dec;
    int u, w, b; /* the flows' parameters: (K x Z), (K x Z), (K) */
} fvae;
static int fvae_init(fvae *m, tn_rng rng, nn_error *err)
{
    const nn_act act[2] = {NN_ACT_RELU, NN_ACT_NONE};
    return !(m->p = nn_params_new()) || nn_mlp_init(&m->enc, m->p, "enc", TN_DIMS(D, H, 2 * Z), act, err) ||
           nn_mlp_init(&m->dec, m->p, "dec", TN_DIMS(Z, H, D), act, err) ||
           (m->u = nn_params_add(m->p, "flow.u", TN_DIMS(K, Z), err)) < 0 ||
           (m->w = nn_params_add(m->p, "flow.w", TN_DIMS(K, Z), err)) < 0 ||
           (m->b = nn_params_add(m->p, "flow.b", TN_DIMS(K), err)) < 0 ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
static ad_var *posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv) /* q(z_0 | x) */
{
    fvae *m = m_;
    return ad_split2(nn_forward(&m->enc, ad_const(t, &b->x)), lv);
}
static ad_var *sample(void *m_, ad_tape *t, const nn_batch *b, size_t S, tn_rng *rng, ad_var **z) /* z_K, log q */
{
    fvae *m = m_;
    ad_var *lv, *mu = posterior(m, t, b, &lv);
    ad_var *z0 = ad_sample_normal_eps(mu, lv, ad_randn(t, TN_DIMS(S, b->n, Z), rng));
    ad_var *lq = ad_reshape(ad_sum_axis(ad_gaussian_logp(z0, mu, lv), -1), TN_DIMS(S * b->n));
    ad_var *zk = ad_reshape(z0, TN_DIMS(S * b->n, Z)); /* row s·N + i */
    for (int k = 0; k < K; k++) {
        ad_var *u = ad_slice(ad_transpose(nn_param(t, m->p, m->u)), (size_t)k, 1); /* (Z x 1) */
        ad_var *w = ad_slice(ad_transpose(nn_param(t, m->p, m->w)), (size_t)k, 1);
        ad_var *bk = ad_slice(nn_param(t, m->p, m->b), (size_t)k, 1);
        ad_var *wu = ad_sum(ad_mul(w, u)); /* û = u + (softplus(wᵀu) - 1 - wᵀu) w / |w|²: invertible */
        ad_var *uh = ad_add(u, ad_mul(w, ad_div(ad_sub(ad_add_scalar(ad_softplus(wu), -1), wu), ad_sum(ad_square(w)))));
        ad_var *h = ad_tanh(ad_add(ad_matmul(zk, 0, w, 0), bk)); /* (S·N x 1) */
        ad_var *dh = ad_add_scalar(ad_neg(ad_square(h)), 1);
        zk = ad_add(zk, ad_matmul(h, 0, uh, 1));
        ad_var *det = ad_add_scalar(ad_mul(dh, ad_sum(ad_mul(w, uh))), 1); /* 1 + ûᵀψ */
        lq = ad_sub(lq, ad_reshape(ad_log(ad_abs(det)), TN_DIMS(S * b->n)));
    }
    *z = zk;
    return lq;
}
static ad_var *log_lik(void *m_, ad_tape *t, const nn_batch *b, ad_var *z)
{
    fvae *m = m_;
    return nn_bernoulli_logp_rows(ad_const(t, &b->x), nn_forward(&m->dec, z));
}
/* -ELBO = -log p(x|z_K) + log q(z_K|x) - log p(z_K), one sample a row */
static ad_var *loss(void *m, ad_tape *t, const nn_batch *b, nn_step *s)
{
    ad_var *z, *lq = sample(m, t, b, 1, s->rng, &z);
    ad_var *lp = ad_scale(ad_sum_axis(ad_square(z), -1), -0.5); /* log N(z; 0, I) + ½ Z log 2π */
    ad_var *rec = ad_neg(ad_mean(log_lik(m, t, b, z)));
    ad_var *kl = ad_add_scalar(ad_mean(ad_sub(lq, lp)), (tn_real)(0.5 * Z * log(2 * 3.141592653589793)));
    return ad_add(nn_report(s, "recon", rec), nn_report(s, "kl", kl));
}
int main(int argc, char **argv)
{
    nn_setup s;
    nn_error err;
    fvae m = {0};
    nn_elbo e;
    double lk = NAN;
    int rc;
    if ((rc = nn_setup_args(&s, argc, argv, "flow_vae", 10, NULL, NULL, &err)))
        return nn_setup_exit(rc, &err);
    nn_latent l = {.model = &m, .latent = Z, .rows = 28, .cols = 28, .posterior = posterior,
                   .log_lik = log_lik, .sample = sample};
    rc = fvae_init(&m, s.init, &err) || nn_setup_train(&s, loss, &m, m.p, NULL, &err) ||
         (!s.check && (nn_latent_elbo(&l, s.test, 500, &s.rng, &e, &err) ||
                       isnan(lk = nn_latent_iwae(&l, s.test, 50, &s.rng, &err))));
    if (!rc && !s.check)
        printf("%d planar flows: test -ELBO %.2f (recon %.2f + KL %.2f), log p(x) >= L_50 = %.2f\n", K, e.neg_elbo,
               e.recon, e.kl, lk);
    nn_params_free(m.p);
    return nn_setup_end(&s, rc, &err);
}
