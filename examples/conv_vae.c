/* conv_vae.c: a convolutional VAE on MNIST: encoder 1 -> 32 -> 64 channels
 * (4x4 kernels, stride 2: 28 -> 14 -> 7) and a linear layer to (μ, log σ²);
 * decoder the mirror image with transposed convolutions; Bernoulli p(x | z). */
#include <stdio.h>
#include <tape/train.h>

enum { D = 784, Z = 20, F = 64 * 7 * 7 };
typedef struct {
    nn_params *p;
    nn_conv2d c1, c2, t1, t2;
    nn_linear enc, dec;
} cvae;
static int cvae_init(cvae *m, tn_rng rng, nn_error *err)
{
    return !(m->p = nn_params_new()) || nn_conv2d_init(&m->c1, m->p, "enc.0", 1, 32, 4, 2, 1, err) ||
           nn_conv2d_init(&m->c2, m->p, "enc.1", 32, 64, 4, 2, 1, err) ||
           nn_linear_init(&m->enc, m->p, "enc.2", F, 2 * Z, err) ||
           nn_linear_init(&m->dec, m->p, "dec.0", Z, F, err) ||
           nn_conv_transpose2d_init(&m->t1, m->p, "dec.1", 64, 32, 4, 2, 1, 0, err) ||
           nn_conv_transpose2d_init(&m->t2, m->p, "dec.2", 32, 1, 4, 2, 1, 0, err) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
static ad_var *posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv)
{
    cvae *m = m_;
    ad_var *x = ad_reshape(ad_const(t, &b->x), TN_DIMS(b->n, 1, 28, 28));
    ad_var *h = ad_relu(nn_forward(&m->c1, x));
    h = ad_relu(nn_forward(&m->c2, h)); /* (n, 64, 7, 7) */
    h = nn_forward(&m->enc, ad_reshape(h, TN_DIMS(b->n, F)));
    return ad_split2(h, lv);
}
static ad_var *logits(cvae *m, ad_var *z) /* (n, 784) */
{
    size_t n = ad_dim(z, 0);
    ad_var *h = ad_relu(nn_forward(&m->dec, z));
    h = ad_reshape(h, TN_DIMS(n, 64, 7, 7));
    h = ad_relu(nn_forward(&m->t1, h)); /* (n, 32, 14, 14) */
    return ad_reshape(nn_forward(&m->t2, h), TN_DIMS(n, D));
}
static ad_var *log_lik(void *m, ad_tape *t, const nn_batch *b, ad_var *z) /* per row */
{
    return nn_bernoulli_logp_rows(ad_const(t, &b->x), logits(m, z));
}
static ad_var *decode(void *m, ad_tape *t, ad_var *z, const int *labels)
{
    (void)t, (void)labels;
    return ad_sigmoid(logits(m, z));
}
/* -ELBO = -log p(x | z) + KL(q(z | x) || N(0, I)), z = μ + σ ⊙ ε */
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
    nn_train_result res;
    int rc;
    if ((rc = nn_setup_args(&s, argc, argv, "conv_vae", 10, NULL, NULL, &err)))
        return nn_setup_exit(rc, &err);
    nn_latent l = {.model = &m, .latent = Z, .rows = 28, .cols = 28,
                   .posterior = posterior, .log_lik = log_lik, .decode = decode};
    rc = cvae_init(&m, s.init, &err) || nn_setup_train(&s, loss, &m, m.p, &res, &err) ||
         (!s.check && nn_pic_all(s.out, &l, s.test, &s.rng, nn_log_stdio, NULL, &err));
    if (!rc && !s.check)
        printf("test -ELBO %.2f after %d epochs, %.1f s for the last; %zu parameters\n",
               nn_scalars_get(&res.test, "loss"), res.epoch, res.seconds, nn_params_size(m.p));
    nn_params_free(m.p);
    return nn_setup_end(&s, rc, &err);
}
