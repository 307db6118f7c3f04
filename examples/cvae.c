/* cvae.c: a conditional VAE (Sohn et al. 2015) on MNIST: the one-hot label c
 * joins x in q(z | x, c) and z in p(x | z, c). Draws a row per digit (z shared
 * down each column); compares the test -ELBO with true and shuffled labels. */
#include <stdio.h>
#include <tape/train.h>

enum { D = 784, H = 400, Z = 20, C = 10 };
typedef struct {
    nn_params *p;
    nn_mlp enc, dec; /* enc: (x, c) -> H -> (μ, log σ²); dec: (z, c) -> H -> logits */
} cvae;

static int cvae_init(cvae *m, tn_rng rng, nn_error *err)
{
    const nn_act act[2] = {NN_ACT_RELU, NN_ACT_NONE};
    return !(m->p = nn_params_new()) || nn_mlp_init(&m->enc, m->p, "enc", TN_DIMS(D + C, H, 2 * Z), act, err) ||
           nn_mlp_init(&m->dec, m->p, "dec", TN_DIMS(Z + C, H, D), act, err) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
/* q(z | x, c): returns μ and sets log σ² */
static ad_var *posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv)
{
    cvae *m = m_;
    ad_var *xc = ad_concat(ad_const(t, &b->x), ad_one_hot(t, b->labels, b->n, C));
    return ad_split2(nn_forward(&m->enc, xc), lv);
}
/* the logits of p(x | z, c) */
static ad_var *logits(cvae *m, ad_tape *t, ad_var *z, const int *labels)
{
    return nn_forward(&m->dec, ad_concat(z, ad_one_hot(t, labels, ad_dim(z, 0), C)));
}
static ad_var *log_lik(void *m, ad_tape *t, const nn_batch *b, ad_var *z) /* per row */
{
    return nn_bernoulli_logp_rows(ad_const(t, &b->x), logits(m, t, z, b->labels));
}
static ad_var *decode(void *m, ad_tape *t, ad_var *z, const int *labels)
{
    return ad_sigmoid(logits(m, t, z, labels));
}
/* -ELBO = -log p(x | z, c) + KL(q(z | x, c) || N(0, I)), z = μ + σ ⊙ ε */
static ad_var *loss(void *m, ad_tape *t, const nn_batch *b, nn_step *s)
{
    ad_var *lv, *mu = posterior(m, t, b, &lv);
    ad_var *rec = ad_neg(ad_mean(log_lik(m, t, b, ad_sample_normal(mu, lv, s->rng))));
    return ad_add(nn_report(s, "recon", rec), nn_report(s, "kl", nn_kl_normal(mu, lv)));
}
int main(int argc, char **argv)
{
    nn_setup s;
    nn_error err;
    cvae m = {0};
    nn_elbo real, shuffled;
    int rc;
    if ((rc = nn_setup_args(&s, argc, argv, "cvae", 10, NULL, NULL, &err)))
        return nn_setup_exit(rc, &err);
    nn_latent l = {.model = &m, .latent = Z, .rows = 28, .cols = 28, .classes = C,
                   .posterior = posterior, .log_lik = log_lik, .decode = decode};
    nn_dataset *mixed = nn_data_head(s.test, s.test->n, &err); /* the test set, labels shuffled */
    nn_data_shuffle_labels(mixed, &s.rng);
    rc = !mixed || cvae_init(&m, s.init, &err) || nn_setup_train(&s, loss, &m, m.p, NULL, &err) ||
         (!s.check && (nn_pic_all(s.out, &l, s.test, &s.rng, nn_log_stdio, NULL, &err) ||
                       nn_latent_elbo(&l, s.test, 500, &s.rng, &real, &err) ||
                       nn_latent_elbo(&l, mixed, 500, &s.rng, &shuffled, &err)));
    if (!rc && !s.check)
        printf("test -ELBO %.2f with the true labels, %.2f with shuffled labels\n", real.neg_elbo,
               shuffled.neg_elbo);
    nn_dataset_free(mixed), nn_params_free(m.p);
    return nn_setup_end(&s, rc, &err);
}
