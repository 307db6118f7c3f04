/* hvae2.c: a VAE with two stochastic layers (Burda et al. 2015's 784-200-200
 * -100-100-50 architecture): q(z1|x) q(z2|z1) and p(z2) p(z1|z2) p(x|z1), all
 * diagonal Gaussians but p(x|z1) (Bernoulli). The code z = [z1, z2] (150);
 * the ELBO and L_k come from the library through the sample and log_prior
 * hooks (a one-layer VAE of the same budget: vae --iw-samples 50). */
#include <math.h>
#include <stdio.h>
#include <tape/compare.h>

enum { D = 784, Z1 = 100, Z2 = 50 };
typedef struct {
    nn_params *p;
    nn_mlp q1, q2, p1, px; /* q(z1|x), q(z2|z1), p(z1|z2), p(x|z1) */
} hvae;
static int hvae_init(void *m_, tn_rng rng, nn_error *err)
{
    hvae *m = m_;
    const nn_act act[3] = {NN_ACT_TANH, NN_ACT_TANH, NN_ACT_NONE};
    return !(m->p = nn_params_new()) || nn_mlp_init(&m->q1, m->p, "q1", TN_DIMS(D, 200, 200, 2 * Z1), act, err) ||
           nn_mlp_init(&m->q2, m->p, "q2", TN_DIMS(Z1, 100, 100, 2 * Z2), act, err) ||
           nn_mlp_init(&m->p1, m->p, "p1", TN_DIMS(Z2, 100, 100, 2 * Z1), act, err) ||
           nn_mlp_init(&m->px, m->p, "px", TN_DIMS(Z1, 200, 200, D), act, err) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
static ad_var *logn(ad_var *z, ad_var *mu, ad_var *lv) { return ad_sum_axis(ad_gaussian_logp(z, mu, lv), -1); }
static ad_var *posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv) /* q(z1|x): codes, pictures */
{
    hvae *m = m_;
    return ad_split2(nn_forward(&m->q1, ad_const(t, &b->x)), lv);
}
/* S samples of z = [z1, z2] a row ((S·N) x 150) and log q(z1|x) + log q(z2|z1) */
static ad_var *sample(void *m_, ad_tape *t, const nn_batch *b, size_t S, tn_rng *rng, ad_var **z)
{
    hvae *m = m_;
    size_t R = S * b->n;
    ad_var *lv1, *mu1 = posterior(m, t, b, &lv1);
    ad_var *z1 = ad_sample_normal_eps(mu1, lv1, ad_randn(t, TN_DIMS(S, b->n, Z1), rng));
    ad_var *lq = ad_reshape(logn(z1, mu1, lv1), TN_DIMS(R));
    z1 = ad_reshape(z1, TN_DIMS(R, Z1));
    ad_var *lv2, *mu2 = ad_split2(nn_forward(&m->q2, z1), &lv2);
    ad_var *z2 = ad_sample_normal(mu2, lv2, rng);
    *z = ad_concat(z1, z2);
    return ad_add(lq, logn(z2, mu2, lv2));
}
static ad_var *log_prior(void *m_, ad_tape *t, ad_var *z) /* log p(z2) + log p(z1|z2) */
{
    hvae *m = m_;
    ad_var *z1 = ad_slice(z, 0, Z1), *z2 = ad_slice(z, Z1, Z2), *lv, *mu = ad_split2(nn_forward(&m->p1, z2), &lv);
    ad_var *zero = ad_scalar(t, 0);
    return ad_add(logn(z2, zero, zero), logn(z1, mu, lv));
}
static ad_var *log_lik(void *m_, ad_tape *t, const nn_batch *b, ad_var *z) /* log p(x|z1) */
{
    hvae *m = m_;
    return nn_bernoulli_logp_rows(ad_const(t, &b->x), nn_forward(&m->px, ad_slice(z, 0, Z1)));
}
static ad_var *loss(void *m, ad_tape *t, const nn_batch *b, nn_step *s)
{
    ad_var *z, *lq = sample(m, t, b, 1, s->rng, &z);
    ad_var *rec = ad_neg(ad_mean(log_lik(m, t, b, z))), *kl = ad_mean(ad_sub(lq, log_prior(m, t, z)));
    return ad_add(nn_report(s, "recon", rec), nn_report(s, "kl", kl));
}
int main(int argc, char **argv)
{
    nn_setup s;
    nn_error err;
    hvae m = {0};
    nn_elbo e;
    double lk = NAN;
    int rc;
    const char *with = NULL; /* --compare vae,iwae: joins the built-in variants' table */
    nn_option own[] = {NN_OPT_TEXT("compare", &with, "LIST", "built-in variants to train beside it, one table"),
                       NN_OPT_END};
    if ((rc = nn_setup_args_with(&s, argc, argv, "hvae2", 10, own, &err)))
        return nn_setup_exit(rc, &err);
    nn_latent l = {.model = &m, .latent = Z1 + Z2, .rows = 28, .cols = 28, .posterior = posterior,
                   .log_lik = log_lik, .sample = sample, .log_prior = log_prior};
    if (with) { /* OUT/report.md: this model and the named ones, same data and budget */
        model_compare_variant v[12] = {{.name = "hvae2", .size = sizeof m, .init = hvae_init, .loss = loss, .latent = l}};
        model_compare_options c = model_compare_setup(&s);
        int n = model_compare_list(with, v + 1, 11, &err);
        return nn_setup_end(&s, n < 0 || model_compare(&c, v, n + 1, s.train, s.test, &err), &err);
    }
    rc = hvae_init(&m, s.init, &err) || nn_setup_train(&s, loss, &m, m.p, NULL, &err) ||
         (!s.check && (nn_latent_elbo(&l, s.test, 500, &s.rng, &e, &err) ||
                       isnan(lk = nn_latent_iwae(&l, s.test, 50, &s.rng, &err))));
    if (!rc && !s.check)
        printf("two stochastic layers: test -ELBO %.2f (recon %.2f + KL %.2f), log p(x) >= L_50 = %.2f\n",
               e.neg_elbo, e.recon, e.kl, lk);
    nn_params_free(m.p);
    return nn_setup_end(&s, rc, &err);
}
