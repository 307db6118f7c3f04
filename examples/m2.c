/* m2.c: Kingma et al.'s (2014) semi-supervised M2 on MNIST with 100 labels
 * (10 a class): q(y|x) a classifier, q(z|x,y), p(x|y,z). A labelled x costs
 * L(x,y) = -log p(x|y,z) + KL; an unlabelled one U(x) = Σ_y q(y|x) L(x,y)
 * - H(q(y|x)), every y enumerated; plus α·(-log q(y|x)) on the labels,
 * α = 0.1·N/100 (--alpha-factor 0.1, --labels 10 a class). Reports the
 * test error of q(y|x) (the paper: 11.97 %). */
#include <stdio.h>
#include <tape/train.h>

enum { D = 784, H = 500, Z = 50, C = 10 };
typedef struct {
    nn_params *p;
    nn_mlp cls, enc, dec;
    nn_dataset *lab; /* the 100 labelled examples */
    double alpha;
} m2;
static int m2_init(m2 *m, tn_rng rng, nn_error *err)
{
    const nn_act act[2] = {NN_ACT_SOFTPLUS, NN_ACT_NONE};
    return !(m->p = nn_params_new()) || nn_mlp_init(&m->cls, m->p, "cls", TN_DIMS(D, H, C), act, err) ||
           nn_mlp_init(&m->enc, m->p, "enc", TN_DIMS(D + C, H, 2 * Z), act, err) ||
           nn_mlp_init(&m->dec, m->p, "dec", TN_DIMS(Z + C, H, D), act, err) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &rng, err);
}
/* L(x, y) for each row: -log p(x | y, z) + KL(q(z | x, y) || N(0, I)) */
static ad_var *neg_elbo(m2 *m, ad_tape *t, ad_var *x, const int *y, tn_rng *rng)
{
    ad_var *c = ad_one_hot(t, y, ad_dim(x, 0), C), *lv;
    ad_var *mu = ad_split2(nn_forward(&m->enc, ad_concat(x, c)), &lv);
    ad_var *z = ad_sample_normal(mu, lv, rng);
    ad_var *logits = nn_forward(&m->dec, ad_concat(z, c));
    return ad_sub(nn_kl_normal_rows(mu, lv), nn_bernoulli_logp_rows(x, logits));
}
static ad_var *loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    m2 *m = m_;
    size_t n = b->n, nl = m->lab->n;
    ad_var *x = ad_const(t, &b->x), *xl = ad_const_copy(t, TN_DIMS(nl, D), m->lab->x);
    /* unlabelled: every y for every row, as 10 blocks of n rows */
    int *ys = tn_arena_alloc(ad_tape_arena(t), C * n * sizeof *ys);
    for (size_t i = 0; ys && i < C * n; i++)
        ys[i] = (int)(i / n);
    ad_var *L = ad_transpose(ad_reshape(neg_elbo(m, t, ad_reshape(ad_repeat(x, C), TN_DIMS(C * n, D)), ys, s->rng),
                                        2, (size_t[]){C, n}));
    ad_var *lq = ad_log_softmax(nn_forward(&m->cls, x));
    ad_var *U = ad_mean(ad_sum_axis(ad_mul(ad_exp(lq), ad_add(L, lq)), -1));
    /* labelled: L(x, y) and the classifier's cross-entropy */
    ad_var *Ll = ad_mean(neg_elbo(m, t, xl, m->lab->labels, s->rng));
    ad_var *ce = ad_mean(ad_cross_entropy(nn_forward(&m->cls, xl), m->lab->labels));
    return ad_add(nn_report(s, "unlabelled", U),
                  ad_add(nn_report(s, "labelled", Ll), ad_scale(nn_report(s, "ce", ce), (tn_real)m->alpha)));
}
/* the classifier's test error, as a loss nn_evaluate averages */
static ad_var *error(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    m2 *m = m_;
    (void)s;
    const int *y = ad_argmax(nn_forward(&m->cls, ad_const(t, &b->x)), -1);
    size_t wrong = 0;
    for (size_t i = 0; y && i < b->n; i++)
        wrong += y[i] != b->labels[i];
    return y ? ad_scalar(t, (tn_real)((double)wrong / (double)b->n)) : NULL;
}
int main(int argc, char **argv)
{
    nn_setup s;
    nn_error err;
    m2 m = {0};
    nn_scalars test;
    double factor = 0.1;
    long per_class = 10;
    nn_option own[] = {NN_OPT_REAL("alpha-factor", &factor, 0, 1e6, "the classifier's weight, per labelled row"),
                       NN_OPT_INT("labels", &per_class, 1, 1000, "labelled rows a class"), NN_OPT_END};
    int rc;
    if ((rc = nn_setup_args_with(&s, argc, argv, "m2", 10, own, &err)))
        return nn_setup_exit(rc, &err);
    m.lab = nn_data_per_class(s.train, (size_t)per_class, C, &s.rng, &err);
    m.alpha = factor * (double)s.train->n / (double)(per_class * C);
    rc = !m.lab || nn_data_floats(m.lab, &err) || m2_init(&m, s.init, &err) ||
         nn_setup_train(&s, loss, &m, m.p, NULL, &err) ||
         (!s.check && nn_evaluate(error, &m, s.test, 500, &s.rng, &test, &err));
    if (!rc && !s.check)
        printf("test error of q(y|x) with %zu labels: %.2f%% (Kingma et al. 2014, 100 labels: 11.97%%)\n", m.lab->n,
               100 * nn_scalars_get(&test, "loss"));
    nn_dataset_free(m.lab), nn_params_free(m.p);
    return nn_setup_end(&s, rc, &err);
}
