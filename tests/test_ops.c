/* test_ops.c: forward values of the ops added for users' own models: the
 * convolutions against their naive references, softmax-family results at
 * extreme logits, Gumbel-softmax and dropout statistics, ties, and the
 * contracts of constants (copies, one-hot, writable values, a failed tape). */
#include "nn.h"
#include "tn_dnnl.h"
#include "tn_ref.h"
#include "test.h"

#define SHAPE(...) (const size_t[]){__VA_ARGS__}

/* conv2d / conv_transpose2d through the tape (oneDNN in the float build,
 * im2col + GEMM) against the direct loops, for strides, paddings, odd
 * sizes and non-square kernels */
void test_conv_matches_reference(void)
{
    static const struct {
        size_t N, C, H, W, F, kh, kw, s, p, op;
    } g[] = {
        {2, 3, 7, 6, 4, 3, 3, 1, 1, 0}, {3, 2, 8, 9, 5, 3, 2, 2, 0, 0},
        {1, 4, 5, 5, 2, 5, 5, 1, 2, 0}, {2, 1, 28, 28, 3, 4, 4, 2, 1, 1},
        {4, 6, 7, 7, 3, 1, 1, 3, 0, 2},
    };
    for (size_t c = 0; c < sizeof g / sizeof g[0]; c++)
        for (int tr = 0; tr < 2; tr++) {
            ad_tape *t = ad_tape_new(0);
            tn_tensor *x = test_random(4, SHAPE(g[c].N, g[c].C, g[c].H, g[c].W), -1, 1, 10 + c);
            tn_tensor *W = tr ? test_random(4, SHAPE(g[c].C, g[c].F, g[c].kh, g[c].kw), -1, 1, 20 + c)
                              : test_random(4, SHAPE(g[c].F, g[c].C, g[c].kh, g[c].kw), -1, 1, 20 + c);
            tn_tensor *b = test_random(1, SHAPE(g[c].F), -1, 1, 30 + c);
            ad_var *y = tr ? ad_conv_transpose2d(ad_const(t, x), ad_const(t, W), ad_const(t, b),
                                                 g[c].s, g[c].p, g[c].op)
                           : ad_conv2d(ad_const(t, x), ad_const(t, W), ad_const(t, b), g[c].s, g[c].p);
            CHECK(y != NULL);
            if (!y) {
                printf("    case %zu%s: %s\n", c, tr ? " (transpose)" : "", ad_tape_error(t));
            } else {
                const tn_tensor *Y = ad_value(y);
                size_t ho = tr ? (g[c].H - 1) * g[c].s - 2 * g[c].p + g[c].kh + g[c].op
                               : tn_conv_out(g[c].H, g[c].kh, g[c].s, g[c].p);
                CHECK(Y->shape[0] == g[c].N && Y->shape[1] == g[c].F && Y->shape[2] == ho);
                tn_tensor *R = tn_new(4, Y->shape);
                CHECK((tr ? tn__conv_transpose2d_ref(R, x, W, b, g[c].s, g[c].p)
                          : tn__conv2d_ref(R, x, W, b, g[c].s, g[c].p)) == TN_OK);
                double worst = 0;
                for (size_t i = 0; i < R->size; i++)
                    worst = fmax(worst, fabs(R->data[i] - Y->data[i]));
                CHECK_NEAR(worst, 0, VAL_TOL * 100);
                tn_free(R);
            }
            ad_tape_free(t);
            tn_free(x), tn_free(W), tn_free(b);
        }
    /* shapes that do not fit are reported with the shapes */
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = tn_new(4, SHAPE(1, 2, 3, 3)), *W = tn_new(4, SHAPE(1, 2, 5, 5));
    tn_tensor *b = tn_new(1, SHAPE(1));
    CHECK(ad_conv2d(ad_const(t, x), ad_const(t, W), ad_const(t, b), 1, 0) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "conv2d: (1x2x3x3), (1x2x5x5), (1): the kernel does not fit");
    ad_tape_reset(t);
    tn_tensor *Wt = tn_new(4, SHAPE(2, 1, 3, 3));
    CHECK(ad_conv_transpose2d(ad_const(t, x), ad_const(t, Wt), ad_const(t, b), 2, 0, 2) == NULL);
    tn_free(Wt);
    CHECK_STR_HAS(ad_tape_error(t), "output padding < stride");
    ad_tape_free(t);
    tn_free(x), tn_free(W), tn_free(b);
}

void test_softmax_family_values(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *X = test_tensor(2, SHAPE(3, 3), (const double[]){80, 80, -80, 2, 2, 2, 1000, 0, -1000});
    ad_var *x = ad_const(t, X);
    const tn_real *lse = ad_data(ad_logsumexp(x, -1, 0));
    CHECK_NEAR(lse[0], 80 + log(2.0), VAL_TOL * 100);
    CHECK_NEAR(lse[1], 2 + log(3.0), VAL_TOL * 10);
    CHECK_NEAR(lse[2], 1000, VAL_TOL * 1000);
    const tn_real *sm = ad_data(ad_softmax(x));
    CHECK_NEAR(sm[0], 0.5, VAL_TOL);
    CHECK_NEAR(sm[2], 0, VAL_TOL);
    CHECK_NEAR(sm[4], 1.0 / 3, VAL_TOL);
    CHECK(sm[6] == 1 && sm[7] == 0 && sm[8] == 0);
    const tn_real *ls = ad_data(ad_log_softmax(x));
    CHECK_NEAR(ls[6], 0, VAL_TOL);
    CHECK_NEAR(ls[7], -1000, VAL_TOL * 1000);
    CHECK(isfinite(ls[8]) && ls[8] < -1999);
    const tn_real *kl = ad_data(ad_kl_categorical(x));
    CHECK_NEAR(kl[1], 0, VAL_TOL);           /* uniform q: KL 0 */
    CHECK_NEAR(kl[2], log(3.0), VAL_TOL * 10); /* one-hot q: log K */
    CHECK_NEAR(kl[0], log(3.0) - log(2.0), VAL_TOL * 10);
    const tn_real *mx = ad_data(ad_max_axis(x, 0, 1));
    CHECK(ad_value(ad_max_axis(x, 0, 1))->ndim == 2 && mx[0] == 1000 && mx[1] == 80 && mx[2] == 2);
    /* a row of -inf: logsumexp -inf, not NaN */
    tn_tensor *I = test_tensor(1, SHAPE(2), (const double[]){-INFINITY, -INFINITY});
    CHECK(isinf(ad_item(ad_logsumexp(ad_const(t, I), 0, 0))));
    /* keepdim shapes */
    ad_var *k = ad_sum_axis_keep(x, 0);
    CHECK(ad_value(k)->ndim == 2 && ad_value(k)->shape[0] == 1 && ad_value(k)->shape[1] == 3);
    CHECK_NEAR(ad_data(k)[1], 82, VAL_TOL * 100);
    CHECK_NEAR(ad_data(ad_mean_axis_keep(x, 1))[1], 2, VAL_TOL);
    CHECK(ad_tape_ok(t));
    ad_tape_free(t);
    tn_free(X), tn_free(I);
}

/* ties: max over an axis splits the gradient evenly, minimum/maximum in half */
void test_ties_split_gradient(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *X = test_tensor(1, SHAPE(4), (const double[]){2, 2, 1, 2});
    tn_tensor *G = tn_new(1, SHAPE(4));
    ad_var *x = ad_param(t, X, G);
    CHECK(ad_backward(t, ad_max_axis(x, 0, 0)) == 0);
    CHECK_NEAR(G->data[0], 1.0 / 3, VAL_TOL);
    CHECK(G->data[2] == 0);
    tn_fill(G, 0);
    ad_tape_reset(t);
    x = ad_param(t, X, G);
    tn_tensor *Y = test_tensor(1, SHAPE(4), (const double[]){2, 3, 0, 2});
    CHECK(ad_backward(t, ad_sum(ad_maximum(x, ad_const(t, Y)))) == 0);
    CHECK(G->data[0] == 0.5 && G->data[1] == 0 && G->data[2] == 1 && G->data[3] == 0.5);
    ad_tape_free(t);
    tn_free(X), tn_free(G), tn_free(Y);
}

void test_elementwise_new_values(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *X = test_tensor(1, SHAPE(4), (const double[]){-2, -0.5, 0.5, 3});
    ad_var *x = ad_const(t, X);
    const tn_real *c = ad_data(ad_clamp(x, -1, 1));
    CHECK(c[0] == -1 && c[1] == (tn_real)-0.5 && c[3] == 1);
    const tn_real *l = ad_data(ad_leaky_relu(x, (tn_real)0.1));
    CHECK_NEAR(l[0], -0.2, VAL_TOL);
    CHECK(l[3] == 3);
    const tn_real *e = ad_data(ad_elu(x, 1));
    CHECK_NEAR(e[0], exp(-2.0) - 1, VAL_TOL);
    CHECK(e[2] == (tn_real)0.5);
    CHECK_NEAR(ad_data(ad_pow(x, 3))[0], -8, VAL_TOL * 10);
    CHECK_NEAR(ad_data(ad_pow(x, (tn_real)0.5))[3], sqrt(3.0), VAL_TOL);
    CHECK(ad_data(ad_minimum(x, ad_scalar(t, 0)))[3] == 0);
    CHECK(ad_clamp(x, 1, -1) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "clamp: lower bound 1 above upper bound -1");
    ad_tape_free(t);
    tn_free(X);
}

void test_shape_ops_values(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *X = test_tensor(2, SHAPE(3, 2), (const double[]){1, 2, 3, 4, 5, 6});
    ad_var *x = ad_const(t, X);
    ad_var *r = ad_repeat(x, 2);
    CHECK(ad_value(r)->ndim == 3 && ad_value(r)->shape[0] == 2 && ad_value(r)->shape[1] == 3);
    CHECK(ad_data(r)[6] == 1 && ad_data(r)[11] == 6);
    ad_var *g = ad_gather_rows(x, (const int[]){2, 2, 0}, 3);
    CHECK(ad_value(g)->shape[0] == 3 && ad_value(g)->shape[1] == 2);
    CHECK(ad_data(g)[0] == 5 && ad_data(g)[3] == 6 && ad_data(g)[4] == 1);
    /* scatter-add: a row picked twice gets both gradients */
    tn_tensor *G = tn_new(2, SHAPE(3, 2));
    ad_var *p = ad_param(t, X, G);
    CHECK(ad_backward(t, ad_sum(ad_gather_rows(p, (const int[]){2, 2, 0}, 3))) == 0);
    CHECK(G->data[4] == 2 && G->data[0] == 1 && G->data[2] == 0);
    CHECK(ad_repeat(r, 2) != NULL && ad_repeat(ad_repeat(r, 2), 2) == NULL); /* 5 axes */
    CHECK_STR_HAS(ad_tape_error(t), "repeat: (2x2x3x2): already has the most dimensions");
    ad_tape_free(t);
    tn_free(X), tn_free(G);
}

/* Gumbel-max: the arg-max of logits + Gumbel noise is distributed as
 * softmax(logits), so the hard samples' frequencies must match it; the hard
 * sample's gradient is the soft one's (straight-through). */
void test_gumbel_softmax(void)
{
    enum { ROWS = 20000, K = 4 };
    ad_tape *t = ad_tape_new(0);
    tn_tensor *L = tn_new(2, SHAPE(ROWS, K));
    const double logits[K] = {1, 0, -1, 0.5};
    for (size_t i = 0; i < L->size; i++)
        L->data[i] = (tn_real)logits[i % K];
    tn_rng r;
    tn_rng_seed(&r, 4, 4);
    ad_var *y = ad_gumbel_softmax(ad_const(t, L), (tn_real)0.5, 1, &r);
    double count[K] = {0}, z = 0;
    int one_hot = 1;
    for (size_t i = 0; i < ROWS; i++) {
        double s = 0;
        for (size_t k = 0; k < K; k++) {
            tn_real v = ad_data(y)[i * K + k];
            one_hot &= v == 0 || v == 1;
            s += v, count[k] += v;
        }
        one_hot &= s == 1;
    }
    CHECK(one_hot);
    for (size_t k = 0; k < K; k++)
        z += exp(logits[k]);
    for (size_t k = 0; k < K; k++) /* sd of a frequency: about 0.0035 */
        CHECK_NEAR(count[k] / ROWS, exp(logits[k]) / z, 0.015);
    /* soft samples sum to 1 per row */
    ad_var *soft = ad_gumbel_softmax(ad_const(t, L), 1, 0, &r);
    CHECK_NEAR(ad_data(soft)[0] + ad_data(soft)[1] + ad_data(soft)[2] + ad_data(soft)[3], 1, VAL_TOL * 4);
    /* straight-through: the same noise gives the same gradient hard or soft */
    tn_tensor *P = test_random(2, SHAPE(3, K), -1, 1, 5);
    tn_tensor *Gh = tn_new(2, SHAPE(3, K)), *Gs = tn_new(2, SHAPE(3, K));
    tn_tensor *W = test_random(2, SHAPE(3, K), -1, 1, 6);
    for (int hard = 0; hard < 2; hard++) {
        ad_tape_reset(t);
        tn_rng_seed(&r, 9, 9);
        ad_var *s = ad_gumbel_softmax(ad_param(t, P, hard ? Gh : Gs), (tn_real)0.7, hard, &r);
        CHECK(ad_backward(t, ad_sum(ad_mul(s, ad_const(t, W)))) == 0);
    }
    for (size_t i = 0; i < Gh->size; i++)
        CHECK_NEAR(Gh->data[i], Gs->data[i], VAL_TOL);
    CHECK(ad_gumbel_softmax(ad_const(t, L), 0, 0, &r) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "gumbel_softmax: temperature 0, expected > 0");
    ad_tape_free(t);
    tn_free(L), tn_free(P), tn_free(Gh), tn_free(Gs), tn_free(W);
}

void test_dropout_and_samples(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *X = tn_new(1, SHAPE(100000)), *G = tn_new(1, SHAPE(100000));
    tn_fill(X, 1);
    tn_rng r;
    tn_rng_seed(&r, 8, 1);
    ad_var *x = ad_param(t, X, G);
    ad_var *d = ad_dropout(x, (tn_real)0.25, &r);
    double zeros = 0, sum = 0;
    for (size_t i = 0; i < X->size; i++)
        zeros += ad_data(d)[i] == 0, sum += ad_data(d)[i];
    CHECK_NEAR(zeros / 100000, 0.25, 0.005);
    CHECK_NEAR(sum / 100000, 1, 0.01);                     /* inverted scaling */
    CHECK(ad_data(d)[0] == 0 || fabs(ad_data(d)[0] - 4.0 / 3) < 1e-6);
    ad_set_grad_enabled(t, 0);
    CHECK(ad_dropout(x, (tn_real)0.25, &r) == x);          /* evaluation: identity */
    ad_set_grad_enabled(t, 1);
    CHECK(ad_dropout(x, 1, &r) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "dropout: probability 1, expected 0 <= p < 1");
    ad_tape_reset(t);
    /* Bernoulli samples: a 0/1 constant with the right mean */
    tn_fill(X, (tn_real)0.3);
    ad_var *b = ad_bernoulli_sample(ad_const(t, X), &r);
    double ones = 0;
    int binary = 1;
    for (size_t i = 0; i < X->size; i++)
        ones += ad_data(b)[i], binary &= ad_data(b)[i] == 0 || ad_data(b)[i] == 1;
    CHECK(binary);
    CHECK_NEAR(ones / 100000, 0.3, 0.005);
    CHECK(ad_value_mut(b) != NULL);
    /* the caller's eps, broadcast: k = 2 samples of (1 x 2) */
    tn_tensor *E = test_tensor(3, SHAPE(2, 1, 2), (const double[]){1, -1, 0.5, 2});
    tn_tensor *M = test_tensor(2, SHAPE(1, 2), (const double[]){0.5, -0.5});
    tn_tensor *V = test_tensor(2, SHAPE(1, 2), (const double[]){0, log(4.0)});
    ad_var *z = ad_sample_normal_eps(ad_const(t, M), ad_const(t, V), ad_const(t, E));
    CHECK(ad_value(z)->ndim == 3 && ad_value(z)->shape[0] == 2);
    CHECK_NEAR(ad_data(z)[1], -0.5 - 2, VAL_TOL);
    CHECK_NEAR(ad_data(z)[3], -0.5 + 4, VAL_TOL);
    /* log N(x; mu, e^lv) by hand */
    ad_var *lp = ad_gaussian_logp(z, ad_const(t, M), ad_const(t, V));
    CHECK_NEAR(ad_data(lp)[1], -0.5 * (log(2 * M_PI) + log(4.0) + 4.0 / 4), VAL_TOL * 10);
    CHECK(ad_tape_ok(t));
    ad_tape_free(t);
    tn_free(X), tn_free(G), tn_free(E), tn_free(M), tn_free(V);
}

/* The Gaussian ops read an input that repeats along the output (μ, log σ²
 * (N, d) under k samples (k, N, d); a column (d); a scalar) in place: the values and
 * gradients are those of the same inputs repeated out in full first. */
void test_broadcast_in_place(void)
{
    ad_tape *t = ad_tape_new(0);
    const size_t K = 3, N = 4, D = 5;
    tn_tensor *E = test_random(3, SHAPE(K, N, D), -2, 2, 11);
    tn_tensor *M = test_random(2, SHAPE(N, D), -1, 1, 12), *V = test_random(2, SHAPE(N, D), -1, 1, 13);
    tn_tensor *S = test_random(0, SHAPE(0), -1, 1, 14); /* a scalar log-variance */
    tn_tensor *R = test_random(1, SHAPE(D), -1, 1, 15); /* one a column: runs of D */
    tn_tensor *Z = tn_new(3, SHAPE(K, N, D));
    tn_tensor *GM[2], *GV[2], *GE[2], *GS[2], *GR[2];
    double val[2][K * N * D];
    for (int full = 0; full < 2; full++) {
        GM[full] = tn_new(2, SHAPE(N, D)), GV[full] = tn_new(2, SHAPE(N, D));
        GE[full] = tn_new(3, SHAPE(K, N, D)), GS[full] = tn_new(0, SHAPE(0)), GR[full] = tn_new(1, SHAPE(D));
        ad_var *mu = ad_param(t, M, GM[full]), *lv = ad_param(t, V, GV[full]);
        ad_var *eps = ad_param(t, E, GE[full]), *s = ad_param(t, S, GS[full]), *rc = ad_param(t, R, GR[full]);
        ad_var *m = full ? ad_repeat(mu, K) : mu, *l = full ? ad_repeat(lv, K) : lv;
        ad_var *z = ad_sample_normal_eps(m, l, eps);
        ad_var *sf = full ? ad_add(s, ad_const(t, Z)) : s; /* (K, N, D) copies of the scalar */
        ad_var *lq = ad_gaussian_logp(z, m, l), *lp = ad_gaussian_logp(z, ad_scalar(t, 0), sf);
        ad_var *r = full ? ad_repeat(ad_repeat(rc, N), K) : rc;
        ad_var *lr = ad_gaussian_logp(z, m, r), *zr = ad_sample_normal_eps(m, r, eps);
        ad_var *loss = ad_sum(ad_add(ad_add(ad_scale(lq, 0.5), lp), ad_add(ad_scale(lr, 0.25), ad_scale(zr, 0.125))));
        CHECK(ad_backward(t, loss) == 0);
        for (size_t i = 0; i < K * N * D; i++)
            val[full][i] = ad_data(lq)[i] + 3 * ad_data(lp)[i] + 7 * ad_data(z)[i] + 11 * ad_data(lr)[i] +
                           13 * ad_data(zr)[i];
        ad_tape_reset(t);
    }
    int same = 1;
    for (size_t i = 0; i < K * N * D; i++)
        same &= val[0][i] == val[1][i];
    CHECK(same);
    for (size_t i = 0; i < N * D; i++) {
        CHECK_NEAR(GM[0]->data[i], GM[1]->data[i], VAL_TOL * 10);
        CHECK_NEAR(GV[0]->data[i], GV[1]->data[i], VAL_TOL * 10);
    }
    for (size_t i = 0; i < K * N * D; i++)
        CHECK_NEAR(GE[0]->data[i], GE[1]->data[i], VAL_TOL * 10);
    for (size_t i = 0; i < D; i++)
        CHECK_NEAR(GR[0]->data[i], GR[1]->data[i], VAL_TOL * 100);
    CHECK_NEAR(GS[0]->data[0], GS[1]->data[0], VAL_TOL * 100);
    CHECK(GS[0]->data[0] != 0);
    ad_tape_free(t);
    for (int f = 0; f < 2; f++)
        tn_free(GM[f]), tn_free(GV[f]), tn_free(GE[f]), tn_free(GS[f]), tn_free(GR[f]);
    tn_free(E), tn_free(M), tn_free(V), tn_free(S), tn_free(R), tn_free(Z);
}

/* Constants: copies, one-hot, writable values, and a failed tape still
 * hands out constants a program can write (issue: writing through
 * ad_data() of a NULL constant crashed). */
void test_constants_contract(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_real buf[6] = {1, 2, 3, 4, 5, 6};
    ad_var *c = ad_const_copy(t, 2, SHAPE(2, 3), buf);
    buf[0] = 100;
    CHECK(ad_data(c)[0] == 1 && ad_data(c)[5] == 6);       /* a copy */
    tn_tensor *v = ad_value_mut(c);
    CHECK(v != NULL && v->shape[1] == 3);
    v->data[0] = 7;
    CHECK(ad_item(ad_sum(c)) == 27);
    ad_var *oh = ad_one_hot(t, (const int[]){2, 0}, 2, 3);
    CHECK(ad_data(oh)[2] == 1 && ad_data(oh)[3] == 1 && ad_item(ad_sum(oh)) == 2);
    tn_tensor *P = tn_new(1, SHAPE(4)), *PG = tn_new(1, SHAPE(4));
    ad_var *p = ad_param(t, P, PG);
    CHECK(ad_value_mut(p) == NULL);                        /* not a constant */
    CHECK(ad_value_mut(ad_exp(p)) == NULL);                /* an op's result */
    CHECK(ad_value_mut(NULL) == NULL);
    /* after an error */
    CHECK(ad_add(c, p) == NULL);
    CHECK(!ad_tape_ok(t));
    ad_var *late = ad_const_new(t, 2, SHAPE(2, 3));
    CHECK(late != NULL);
    if (late)
        ad_data(late)[5] = 1;                              /* safe to write */
    ad_var *late_copy = ad_const_copy(t, 1, SHAPE(3), buf);
    CHECK(late_copy != NULL && ad_data(late_copy)[0] == 100);
    CHECK(ad_mul(late, c) == NULL);                        /* ops still refuse */
    CHECK_STR_HAS(ad_tape_error(t), "add: (2x3), (4)");    /* the first error stays */
    CHECK(ad_backward(t, ad_sum(p)) == -1);
    ad_tape_free(t);
    tn_free(P), tn_free(PG);
}

/* sin(a·i + b) for element i: inputs both sides can make exactly */
static tn_tensor *sin_fill(int ndim, const size_t *shape, double a, double b)
{
    tn_tensor *t = tn_new(ndim, shape);
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = (tn_real)sin(a * (double)i + b);
    return t;
}

/* PyTorch's layouts: values printed by tests/torch_conv_fixture.py
 * (torch 1.13, float64) for the same inputs */
void test_conv_matches_pytorch(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = sin_fill(4, SHAPE(2, 3, 5, 4), 0.7, 0.1);
    tn_tensor *W = sin_fill(4, SHAPE(4, 3, 3, 3), 1.3, 0.2), *b = sin_fill(1, SHAPE(4), 2.1, 0.3);
    ad_var *y = ad_conv2d(ad_const(t, x), ad_const(t, W), ad_const(t, b), 2, 1);
    const tn_tensor *Y = ad_value(y);
    CHECK(Y->shape[0] == 2 && Y->shape[1] == 4 && Y->shape[2] == 3 && Y->shape[3] == 2);
    CHECK_NEAR(Y->data[0], -0.845774270831, VAL_TOL * 10);
    CHECK_NEAR(Y->data[5], 0.450283479297, VAL_TOL * 10);
    CHECK_NEAR(Y->data[17], -0.612940613289, VAL_TOL * 10);
    CHECK_NEAR(Y->data[Y->size - 1], 1.362220161596, VAL_TOL * 10);
    CHECK_NEAR(tn_sum_all(Y), 6.572771194219, VAL_TOL * 100);
    tn_tensor *Wt = sin_fill(4, SHAPE(3, 2, 4, 3), 0.9, 0.4), *bt = sin_fill(1, SHAPE(2), 1.7, 0.5);
    ad_var *yt = ad_conv_transpose2d(ad_const(t, x), ad_const(t, Wt), ad_const(t, bt), 2, 1, 1);
    const tn_tensor *T = ad_value(yt);
    CHECK(T->shape[0] == 2 && T->shape[1] == 2 && T->shape[2] == 11 && T->shape[3] == 8);
    CHECK_NEAR(T->data[0], 0.840812138956, VAL_TOL * 10);
    CHECK_NEAR(T->data[7], -0.000841015077, VAL_TOL * 10);
    CHECK_NEAR(T->data[33], 1.006682438704, VAL_TOL * 10);
    CHECK_NEAR(T->data[T->size - 1], 0.813367182693, VAL_TOL * 10);
    CHECK_NEAR(tn_sum_all(T), 223.530202474727, VAL_TOL * 1000);
    ad_tape_free(t);
    tn_free(x), tn_free(W), tn_free(b), tn_free(Wt), tn_free(bt);
}

/* nn_ layers: PyTorch's parameter names, shapes and default initialisation
 * U(±1/√fan_in), fan_in = shape[1]·k·k for both layouts */
void test_conv_layers(void)
{
    nn_params *p = nn_params_new();
    nn_conv2d c, ct;
    nn_error err;
    CHECK(nn_conv2d_init(&c, p, "enc.0", 3, 64, 3, 2, 1, &err) == 0);
    CHECK(nn_conv_transpose2d_init(&ct, p, "dec.0", 64, 5, 4, 2, 1, 0, &err) == 0);
    CHECK(nn_conv_transpose2d_init(&ct, p, "dec.bad", 64, 5, 4, 2, 1, 2, &err) == -1);
    CHECK_STR_HAS(err.msg, "conv_transpose2d dec.bad: output padding 2, expected less than the stride 2");
    CHECK(nn_params_alloc(p, &err) == 0);
    int w = nn_params_find(p, "enc.0.weight"), wt = nn_params_find(p, "dec.0.weight");
    CHECK(w >= 0 && nn_params_value(p, w)->shape[0] == 64 && nn_params_value(p, w)->shape[1] == 3);
    CHECK(wt >= 0 && nn_params_value(p, wt)->shape[0] == 64 && nn_params_value(p, wt)->shape[1] == 5);
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    nn_params_init(p, NN_INIT_TORCH, 0, &r);
    const char *names[4] = {"enc.0.weight", "enc.0.bias", "dec.0.weight", "dec.0.bias"};
    const double bound[4] = {1 / sqrt(27.0), 1 / sqrt(27.0), 1 / sqrt(80.0), 1 / sqrt(80.0)};
    for (int i = 0; i < 4; i++) {
        const tn_tensor *v = nn_params_value(p, nn_params_find(p, names[i]));
        double mx = 0;
        for (size_t j = 0; j < v->size; j++)
            mx = fmax(mx, fabs(v->data[j]));
        CHECK(mx <= bound[i] && mx > (i % 2 ? 0.5 : 0.95) * bound[i]);
    }
    /* a forward through both layers: (2, 3, 8, 8) -> (2, 64, 4, 4) -> (2, 5, 8, 8) */
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = test_random(4, SHAPE(2, 3, 8, 8), 0, 1, 3);
    ad_var *h = nn_conv2d_forward(&c, ad_const(t, x));
    ad_var *y = nn_conv2d_forward(&ct, ad_relu(h));
    CHECK(y && ad_value(h)->shape[1] == 64 && ad_value(h)->shape[2] == 4);
    CHECK(y && ad_value(y)->shape[1] == 5 && ad_value(y)->shape[2] == 8 && ad_value(y)->shape[3] == 8);
    CHECK(ad_backward(t, ad_sum(y)) == 0);
    ad_tape_free(t);
    tn_free(x);
    nn_params_free(p);
}

/* linear's gradients against matmul's for a W of short rows and many rows
 * of x (where forward transposes W first and backward makes Wᵀ's gradient
 * and turns it): x (300 x 20), W (50 x 20) */
void test_linear_short_rows(void)
{
    const size_t N = 300, IN = 20, OUT = 50;
    tn_tensor *X = test_random(2, SHAPE(N, IN), -1, 1, 71), *W = test_random(2, SHAPE(OUT, IN), -1, 1, 72);
    tn_tensor *B = test_random(1, SHAPE(OUT), -1, 1, 73), *R = test_random(2, SHAPE(N, OUT), -1, 1, 74);
    tn_tensor *G[2][3];
    tn_real *val[2];
    ad_tape *t = ad_tape_new(0);
    for (int k = 0; k < 2; k++) {
        G[k][0] = tn_new(2, SHAPE(N, IN)), G[k][1] = tn_new(2, SHAPE(OUT, IN)), G[k][2] = tn_new(1, SHAPE(OUT));
        ad_var *x = ad_param(t, X, G[k][0]), *w = ad_param(t, W, G[k][1]), *b = ad_param(t, B, G[k][2]);
        ad_var *wi = ad_scale(w, 1); /* an op's result: its gradient buffer is new (fresh), as a
                                        parameter's is in training */
        ad_var *y = k ? ad_linear(x, wi, b) : ad_add(ad_matmul(x, 0, wi, 1), b);
        CHECK(ad_backward(t, ad_sum(ad_mul(y, ad_const(t, R)))) == 0);
        val[k] = malloc(N * OUT * sizeof(tn_real));
        memcpy(val[k], ad_data(y), N * OUT * sizeof(tn_real));
        ad_tape_reset(t);
    }
    for (size_t i = 0; i < N * OUT; i++)
        CHECK_NEAR(val[1][i], val[0][i], VAL_TOL * 10);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < G[0][k]->size; i++)
            CHECK_NEAR(G[1][k]->data[i], G[0][k]->data[i], VAL_TOL * 100);
    for (int k = 0; k < 2; k++) {
        free(val[k]);
        for (int j = 0; j < 3; j++)
            tn_free(G[k][j]);
    }
    ad_tape_free(t);
    tn_free(X), tn_free(W), tn_free(B), tn_free(R);
}

/* oneDNN's conv2d (tensor/conv_dnnl.c) called directly: the float build
 * takes it (the double build has none: -1), its forward against the
 * direct loops, its three gradients against the sums they are (added to
 * what the buffers held), on a shape with a stride that leaves a row out */
static void *test_alloc(void *ctx, size_t bytes)
{
    void **list = ctx; /* up to 64 blocks, freed by the caller */
    for (int i = 0; i < 64; i++)
        if (!list[i])
            return list[i] = aligned_alloc(64, (bytes + 63) / 64 * 64);
    return NULL;
}

void test_conv_dnnl(void)
{
    enum { N = 3, C = 4, H = 9, Wd = 8, F = 5, K = 3, S = 2, P = 1 };
    size_t ho = tn_conv_out(H, K, S, P), wo = tn_conv_out(Wd, K, S, P);
    tn_tensor *x = test_random(4, SHAPE(N, C, H, Wd), -1, 1, 41), *W = test_random(4, SHAPE(F, C, K, K), -1, 1, 42);
    tn_tensor *b = test_random(1, SHAPE(F), -1, 1, 43), *g = test_random(4, SHAPE(N, F, ho, wo), -1, 1, 44);
    tn_tensor *y = tn_new(4, SHAPE(N, F, ho, wo)), *R = tn_new(4, SHAPE(N, F, ho, wo));
    tn_tensor *dx = tn_new(4, x->shape), *dW = tn_new(4, W->shape), *db = tn_new(1, b->shape);
    tn_fill(dx, 1), tn_fill(dW, 1), tn_fill(db, 1); /* gradients add to what is there */
    void *blocks[64] = {NULL};
    int fwd = tn__dnnl_conv2d_forward(y, x, W, b, S, P, test_alloc, blocks);
    int bwd = tn__dnnl_conv2d_backward(dx, dW, db, g, x, W, S, P, test_alloc, blocks);
#ifdef TN_REAL_DOUBLE
    CHECK(fwd == -1 && bwd == -1);
#else
    CHECK(fwd == 0 && bwd == 0);
    CHECK(tn__conv2d_ref(R, x, W, b, S, P) == TN_OK);
    double worst = 0, wx = 0, ww = 0, wb = 0;
    for (size_t i = 0; i < R->size; i++)
        worst = fmax(worst, fabs(R->data[i] - y->data[i]));
    double *ex = calloc(x->size, sizeof *ex), *ew = calloc(W->size, sizeof *ew), eb[F] = {0};
    for (size_t n = 0; n < N; n++) /* y[n,f,i,j] = b[f] + Σ W[f,c,u,v] x[n,c,iS-P+u,jS-P+v] */
        for (size_t f = 0; f < F; f++)
            for (size_t i = 0; i < ho; i++)
                for (size_t j = 0; j < wo; j++) {
                    double gv = g->data[((n * F + f) * ho + i) * wo + j];
                    eb[f] += gv;
                    for (size_t c = 0; c < C; c++)
                        for (size_t u = 0; u < K; u++)
                            for (size_t v = 0; v < K; v++) {
                                long r = (long)(i * S + u) - P, q = (long)(j * S + v) - P;
                                if (r < 0 || q < 0 || r >= H || q >= Wd)
                                    continue;
                                size_t xi = ((n * C + c) * H + (size_t)r) * Wd + (size_t)q;
                                size_t wi = ((f * C + c) * K + u) * K + v;
                                ex[xi] += gv * W->data[wi], ew[wi] += gv * x->data[xi];
                            }
                }
    for (size_t i = 0; i < x->size; i++)
        wx = fmax(wx, fabs(dx->data[i] - 1 - ex[i]));
    for (size_t i = 0; i < W->size; i++)
        ww = fmax(ww, fabs(dW->data[i] - 1 - ew[i]));
    for (size_t f = 0; f < F; f++)
        wb = fmax(wb, fabs(db->data[f] - 1 - eb[f]));
    printf("    oneDNN against the loops: y %.2g, dx %.2g, dW %.2g, db %.2g\n", worst, wx, ww, wb);
    CHECK(worst < 1e-5 && wx < 1e-5 && ww < 1e-4 && wb < 1e-4);
    free(ex), free(ew);
#endif
    for (int i = 0; i < 64; i++)
        free(blocks[i]);
    tn_free(x), tn_free(W), tn_free(b), tn_free(g), tn_free(y), tn_free(R), tn_free(dx), tn_free(dW), tn_free(db);
}
