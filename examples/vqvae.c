/* vqvae.c: a convolutional VQ-VAE (van den Oord et al. 2017) on MNIST: the
 * encoder's 7x7 grid of 16-d vectors, each replaced by its nearest entry of
 * a 64 x 16 codebook, straight-through gradients to the encoder; loss
 * BCE + ||sg[z] - e||² + β ||z - sg[e]||², β = 0.25. Reports the test
 * reconstruction and the share of the codebook in use. */
#include <stdio.h>
#include <tape/train.h>

enum { K = 64, E = 16, G = 7 * 7, D = 784 };
typedef struct {
    nn_params *p;
    nn_conv2d c1, c2, t1, t2;
    int book; /* the codebook's parameter index */
} vq;
static int vq_init(vq *m, tn_rng rng, nn_error *err)
{
    return !(m->p = nn_params_new()) || nn_conv2d_init(&m->c1, m->p, "enc.0", 1, 32, 4, 2, 1, err) ||
           nn_conv2d_init(&m->c2, m->p, "enc.1", 32, E, 4, 2, 1, err) ||
           (m->book = nn_params_add(m->p, "codebook", TN_DIMS(K, E), err)) < 0 ||
           nn_conv_transpose2d_init(&m->t1, m->p, "dec.0", E, 32, 4, 2, 1, 0, err) ||
           nn_conv_transpose2d_init(&m->t2, m->p, "dec.1", 32, 1, 4, 2, 1, 0, err) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
static ad_var *encode(vq *m, ad_tape *t, const nn_batch *b) /* z_e: a row a grid cell (n·49 x 16) */
{
    ad_var *x = ad_reshape(ad_const(t, &b->x), TN_DIMS(b->n, 1, 28, 28));
    ad_var *h = nn_forward(&m->c2, ad_relu(nn_forward(&m->c1, x)));
    return ad_reshape(ad_transpose(ad_reshape(h, TN_DIMS(b->n, E, G))), TN_DIMS(b->n * G, E));
}
/* the nearest codebook entry of each row: argmin_k -2 z·e_k + |e_k|² */
static const int *nearest(vq *m, ad_tape *t, ad_var *z)
{
    ad_var *e = nn_param(t, m->p, m->book);
    return ad_argmin(ad_add(ad_scale(ad_matmul(z, 0, e, 1), -2), ad_sum_axis(ad_square(e), -1)), -1);
}
static ad_var *decode(void *m_, ad_tape *t, ad_var *zq, const int *labels) /* (n, 49·16) -> (n, 784) */
{
    vq *m = m_;
    size_t n = ad_dim(zq, 0);
    (void)t, (void)labels;
    ad_var *h = ad_reshape(ad_transpose(ad_reshape(zq, TN_DIMS(n, G, E))), TN_DIMS(n, E, 7, 7));
    h = ad_relu(nn_forward(&m->t1, h));
    return ad_reshape(nn_forward(&m->t2, h), TN_DIMS(n, D));
}
static ad_var *code(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv) /* the pictures' encoder */
{
    vq *m = m_;
    const int *k = nearest(m, t, encode(m, t, b));
    *lv = NULL;
    return ad_reshape(ad_gather_rows(nn_param(t, m->p, m->book), k, b->n * G), TN_DIMS(b->n, G * E));
}
static ad_var *loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    vq *m = m_;
    ad_var *z = encode(m, t, b);
    const int *idx = nearest(m, t, z);
    ad_var *e = idx ? ad_gather_rows(nn_param(t, m->p, m->book), idx, b->n * G) : NULL;
    ad_var *st = ad_reshape(ad_straight_through(z, e), TN_DIMS(b->n, G * E));
    ad_var *rec = ad_neg(ad_mean(nn_bernoulli_logp_rows(ad_const(t, &b->x), decode(m, t, st, NULL))));
    ad_var *book = ad_mean(ad_square(ad_sub(ad_detach(z), e))), *commit = ad_mean(ad_square(ad_sub(z, ad_detach(e))));
    int used[K] = {0}, n_used = 0; /* the codebook's entries this batch uses */
    for (size_t i = 0; idx && i < b->n * G; i++)
        n_used += !used[idx[i]]++;
    nn_scalars_set(s->report, "used", (double)n_used / K);
    return ad_add(nn_report(s, "recon", rec), ad_scale(ad_add(book, ad_scale(commit, 0.25)), (tn_real)(G * E))); /* per image */
}
int main(int argc, char **argv)
{
    nn_setup s;
    nn_error err;
    vq m = {0};
    nn_scalars test;
    int rc;
    if ((rc = nn_setup_args(&s, argc, argv, "vqvae", 10, NULL, NULL, &err)))
        return nn_setup_exit(rc, &err);
    nn_latent l = {.model = &m, .latent = G * E, .rows = 28, .cols = 28, .posterior = code, .decode = decode};
    /* --check takes the stop-gradients out (ad_set_transparent) */
    rc = vq_init(&m, s.init, &err) || nn_setup_train(&s, loss, &m, m.p, NULL, &err) ||
         (!s.check && (nn_evaluate(loss, &m, s.test, 500, &s.rng, &test, &err) ||
                       nn_pic_reconstructions(nn_setup_path(&s, "reconstructions.png"), &l, s.test, &err)));
    if (!rc && !s.check)
        printf("test reconstruction %.2f nats (BCE per image); codebook entries in use: %.0f%% of %d (in a "
               "test batch of 500)\n", nn_scalars_get(&test, "recon"), 100 * nn_scalars_get(&test, "used"), K);
    nn_params_free(m.p);
    return nn_setup_end(&s, rc, &err);
}
