/* test_grad.c: every op gradient-checked by central differences on every
 * element (1e-6 in the double build), including broadcast shapes and the four
 * transpose combinations of matmul; and forward values against hand-computed
 * numbers. One row per op: adding an op adds a row here. */
#include <string.h>

#include "test.h"

#define SHAPE(...) (const size_t[]){__VA_ARGS__}

typedef struct {
    const char *name;
    ad_fn f;
    int n;
    int ndim[3];
    size_t shape[3][TN_MAX_DIMS];
    double lo, hi;     /* inputs drawn uniformly from [lo, hi) */
    int away_from_0;   /* moved to |x| >= 0.1 (kinks of relu and abs) */
} grad_case;

static tn_rng sample_rng;

#define F1(nm, expr) \
    static ad_var *f_##nm(ad_tape *t, ad_var *const *x, void *c) { (void)t; (void)c; return expr; }

F1(add, ad_add(x[0], x[1]))
F1(sub, ad_sub(x[0], x[1]))
F1(mul, ad_mul(x[0], x[1]))
F1(div, ad_div(x[0], x[1]))
F1(exp, ad_exp(x[0]))
F1(log, ad_log(x[0]))
F1(sqrt, ad_sqrt(x[0]))
F1(square, ad_square(x[0]))
F1(neg, ad_neg(x[0]))
F1(abs, ad_abs(x[0]))
F1(relu, ad_relu(x[0]))
F1(sigmoid, ad_sigmoid(x[0]))
F1(softplus, ad_softplus(x[0]))
F1(tanh, ad_tanh(x[0]))
F1(scale, ad_scale(x[0], (tn_real)-1.5))
F1(add_scalar, ad_add_scalar(x[0], (tn_real)0.25))
F1(sum, ad_sum(x[0]))
F1(mean, ad_mean(x[0]))
F1(sum_axis0, ad_sum_axis(x[0], 0))
F1(sum_axis1, ad_sum_axis(x[0], 1))
F1(mean_axis_last, ad_mean_axis(x[0], -1))
/* x's gradient already written when the reduction's backward adds to it:
 * the reduction of x recorded first, so that its backward runs last */
static ad_var *reduce_twice(ad_var *x, int mean, int ax)
{
    ad_var *a = mean ? ad_mean_axis(x, ax) : ad_sum_axis(x, ax);
    ad_var *sq = ad_square(x);
    return ad_add(a, mean ? ad_mean_axis(sq, ax) : ad_sum_axis(sq, ax));
}
F1(sum_axis_last_twice, reduce_twice(x[0], 0, -1))
F1(mean_axis0_twice, reduce_twice(x[0], 1, 0))
F1(reshape, ad_reshape(x[0], 3, SHAPE(2, 2, 3)))
F1(transpose, ad_transpose(x[0]))
F1(slice, ad_slice(x[0], 1, 3))
F1(concat, ad_concat(x[0], x[1]))
F1(matmul, ad_matmul(x[0], 0, x[1], 0))
F1(linear, ad_linear(x[0], x[1], x[2]))
F1(bce_logits, ad_bce_logits(x[0], x[1]))
F1(bce_logits_rows, ad_bce_logits_rows(x[0], x[1]))
F1(kl_normal, ad_kl_normal(x[0], x[1]))
F1(pow, ad_pow(x[0], (tn_real)2.5))
F1(pow_int, ad_pow(x[0], 3))
F1(clamp, ad_clamp(x[0], (tn_real)-0.55, (tn_real)0.45))
F1(leaky_relu, ad_leaky_relu(x[0], (tn_real)0.2))
F1(elu, ad_elu(x[0], (tn_real)1.3))
F1(minimum, ad_minimum(x[0], x[1]))
F1(maximum, ad_maximum(x[0], x[1]))
F1(sum_keep, ad_sum_axis_keep(x[0], 1))
F1(mean_keep, ad_mean_axis_keep(x[0], -1))
F1(max_axis, ad_max_axis(x[0], 1, 0))
F1(max_keep, ad_max_axis(x[0], -1, 1))
F1(logsumexp0, ad_logsumexp(x[0], 0, 0))
F1(logsumexp_keep, ad_logsumexp(x[0], -1, 1))
F1(softmax, ad_softmax(x[0]))
F1(log_softmax, ad_log_softmax(x[0]))
F1(kl_categorical, ad_kl_categorical(x[0]))
F1(repeat, ad_repeat(x[0], 3))
F1(gather_rows, ad_gather_rows(x[0], (const int[]){2, 0, 2, 3}, 4))
F1(conv2d_s1p1, ad_conv2d(x[0], x[1], x[2], 1, 1))
F1(conv2d_s2p0, ad_conv2d(x[0], x[1], x[2], 2, 0))
F1(convt_s2p1, ad_conv_transpose2d(x[0], x[1], x[2], 2, 1, 1))
F1(convt_s1p0, ad_conv_transpose2d(x[0], x[1], x[2], 1, 0, 0))
F1(sample_normal_eps, ad_sample_normal_eps(x[0], x[1], x[2]))
F1(gaussian_logp, ad_gaussian_logp(x[0], x[1], x[2]))
F1(bernoulli_logp, ad_bernoulli_logp(x[0], x[1]))
F1(softmax_axis0, ad_softmax_axis(x[0], 0))
F1(log_softmax_axis1, ad_log_softmax_axis(x[0], 1))
F1(log_softmax_axis_last, ad_log_softmax_axis(x[0], -1))
F1(logmeanexp0, ad_logmeanexp(x[0], 0, 0))
F1(cross_entropy, ad_cross_entropy(x[0], (const int[]){2, 0, 3}))
F1(linear_leading, ad_linear(x[0], x[1], x[2]))
F1(linear_no_bias, ad_linear(x[0], x[1], NULL))
static ad_var *f_gumbel_noise(ad_tape *t, ad_var *const *x, void *c)
{
    (void)c;
    tn_rng_seed(&sample_rng, 14, 3);
    ad_var *g = ad_randn(t, 2, SHAPE(3, 5), &sample_rng); /* stands in for Gumbel noise */
    return ad_gumbel_softmax_noise(x[0], g, (tn_real)0.7, 0);
}

static ad_var *f_gumbel(ad_tape *t, ad_var *const *x, void *c)
{
    (void)t, (void)c;
    tn_rng_seed(&sample_rng, 12, 3);
    return ad_gumbel_softmax(x[0], (tn_real)0.7, 0, &sample_rng);
}

static ad_var *f_dropout(ad_tape *t, ad_var *const *x, void *c)
{
    (void)t, (void)c;
    tn_rng_seed(&sample_rng, 13, 3);
    return ad_dropout(x[0], (tn_real)0.3, &sample_rng);
}

static ad_var *f_sample_normal(ad_tape *t, ad_var *const *x, void *c)
{
    (void)t, (void)c;
    tn_rng_seed(&sample_rng, 11, 2); /* the same eps at every evaluation */
    return ad_sample_normal(x[0], x[1], &sample_rng);
}

/* A whole small VAE step: enc = relu(x·W1ᵀ+b1); (mu, lv) = split(enc·W2ᵀ+b2);
 * z = mu + e^(lv/2)·eps; loss = Σ bce(z·W3ᵀ+b3, x) + Σ kl(mu, lv). Inputs
 * are x and the six parameters; x gets a gradient too. */
static ad_var *f_vae_like(ad_tape *t, ad_var *const *p, void *c)
{
    (void)t, (void)c;
    tn_rng_seed(&sample_rng, 3, 4);
    ad_var *h = ad_relu(ad_linear(p[0], p[1], p[2]));
    ad_var *enc = ad_linear(h, p[3], p[4]);
    ad_var *mu = ad_slice(enc, 0, 2), *lv = ad_slice(enc, 2, 2);
    ad_var *z = ad_sample_normal(mu, lv, &sample_rng);
    ad_var *logits = ad_linear(z, p[5], p[6]);
    ad_var *target = ad_sigmoid(p[0]); /* a target in (0,1) that depends on x */
    return ad_add(ad_sum(ad_bce_logits(logits, target)),
                  ad_sum(ad_kl_normal(mu, lv)));
}

static const grad_case cases[] = {
    {"add", f_add, 2, {2, 2}, {{3, 4}, {3, 4}}, -1, 1, 0},
    {"sub", f_sub, 2, {2, 2}, {{3, 4}, {3, 4}}, -1, 1, 0},
    {"mul", f_mul, 2, {2, 2}, {{3, 4}, {3, 4}}, -1, 1, 0},
    {"div", f_div, 2, {2, 2}, {{3, 4}, {3, 4}}, 0.5, 2, 0},
    {"exp", f_exp, 1, {2}, {{3, 4}}, -1, 1, 0},
    {"log", f_log, 1, {2}, {{3, 4}}, 0.5, 2, 0},
    {"sqrt", f_sqrt, 1, {2}, {{3, 4}}, 0.5, 2, 0},
    {"square", f_square, 1, {2}, {{3, 4}}, -1, 1, 0},
    {"neg", f_neg, 1, {2}, {{3, 4}}, -1, 1, 0},
    {"abs", f_abs, 1, {2}, {{3, 4}}, -1, 1, 1},
    {"relu", f_relu, 1, {2}, {{3, 4}}, -1, 1, 1},
    {"sigmoid", f_sigmoid, 1, {2}, {{3, 4}}, -4, 4, 0},
    {"softplus", f_softplus, 1, {2}, {{3, 4}}, -4, 4, 0},
    {"tanh", f_tanh, 1, {2}, {{3, 4}}, -2, 2, 0},
    {"scale", f_scale, 1, {2}, {{3, 4}}, -1, 1, 0},
    {"add_scalar", f_add_scalar, 1, {2}, {{3, 4}}, -1, 1, 0},
    {"sum", f_sum, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"mean", f_mean, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"sum_axis 0", f_sum_axis0, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"sum_axis 1", f_sum_axis1, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"mean_axis -1", f_mean_axis_last, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"sum_axis -1, x twice", f_sum_axis_last_twice, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"mean_axis 0, x twice", f_mean_axis0_twice, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"reshape", f_reshape, 1, {2}, {{3, 4}}, -1, 1, 0},
    {"transpose", f_transpose, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"slice", f_slice, 1, {2}, {{3, 5}}, -1, 1, 0},
    {"concat", f_concat, 2, {2, 2}, {{3, 2}, {3, 3}}, -1, 1, 0},
    {"matmul", f_matmul, 2, {2, 2}, {{3, 4}, {4, 5}}, -1, 1, 0},
    {"linear", f_linear, 3, {2, 2, 1}, {{5, 3}, {4, 3}, {4}}, -1, 1, 0},
    {"bce_logits", f_bce_logits, 2, {2, 2}, {{3, 4}, {3, 4}}, -3, 3, 0},
    {"kl_normal", f_kl_normal, 2, {2, 2}, {{3, 4}, {3, 4}}, -2, 2, 0},
    {"sample_normal", f_sample_normal, 2, {2, 2}, {{3, 4}, {3, 4}}, -2, 2, 0},
    {"pow 2.5", f_pow, 1, {2}, {{3, 4}}, 0.5, 2, 0},
    {"pow 3", f_pow_int, 1, {2}, {{3, 4}}, -2, 2, 0},
    {"clamp", f_clamp, 1, {2}, {{3, 4}}, -1, 1, 0},
    {"leaky_relu", f_leaky_relu, 1, {2}, {{3, 4}}, -1, 1, 1},
    {"elu", f_elu, 1, {2}, {{3, 4}}, -1, 1, 1},
    {"minimum (3x4),(4)", f_minimum, 2, {2, 1}, {{3, 4}, {4}}, -1, 1, 0},
    {"maximum (2x3x4),(3x1)", f_maximum, 2, {3, 2}, {{2, 3, 4}, {3, 1}}, -1, 1, 0},
    {"sum_axis_keep 1", f_sum_keep, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"mean_axis_keep -1", f_mean_keep, 1, {3}, {{2, 3, 4}}, -1, 1, 0},
    {"max_axis 1", f_max_axis, 1, {3}, {{2, 3, 4}}, -20, 20, 0}, /* spread: eps must not swap the arg-max */
    {"max_axis -1 keep", f_max_keep, 1, {2}, {{3, 5}}, -20, 20, 0},
    {"logsumexp 0", f_logsumexp0, 1, {3}, {{3, 2, 4}}, -3, 3, 0},
    {"logsumexp -1 keep", f_logsumexp_keep, 1, {2}, {{4, 5}}, -3, 3, 0},
    {"softmax", f_softmax, 1, {3}, {{2, 3, 4}}, -3, 3, 0},
    {"log_softmax", f_log_softmax, 1, {2}, {{3, 5}}, -3, 3, 0},
    {"kl_categorical", f_kl_categorical, 1, {3}, {{2, 3, 4}}, -3, 3, 0},
    {"gumbel_softmax", f_gumbel, 1, {2}, {{3, 5}}, -2, 2, 0},
    {"repeat", f_repeat, 1, {2}, {{2, 3}}, -1, 1, 0},
    {"gather_rows", f_gather_rows, 1, {2}, {{4, 3}}, -1, 1, 0},
    {"conv2d s1 p1", f_conv2d_s1p1, 3, {4, 4, 1}, {{2, 3, 5, 4}, {2, 3, 3, 3}, {2}}, -1, 1, 0},
    {"conv2d s2 p0", f_conv2d_s2p0, 3, {4, 4, 1}, {{2, 2, 5, 6}, {3, 2, 2, 3}, {3}}, -1, 1, 0},
    {"conv_transpose2d s2 p1 op1", f_convt_s2p1, 3, {4, 4, 1}, {{2, 3, 3, 2}, {3, 2, 4, 3}, {2}}, -1, 1, 0},
    {"conv_transpose2d s1 p0", f_convt_s1p0, 3, {4, 4, 1}, {{1, 2, 3, 3}, {2, 2, 2, 2}, {2}}, -1, 1, 0},
    {"bce_logits (2x3x4),(3x4)", f_bce_logits, 2, {3, 2}, {{2, 3, 4}, {3, 4}}, -3, 3, 0},
    {"kl_normal (3x4),(4)", f_kl_normal, 2, {2, 1}, {{3, 4}, {4}}, -2, 2, 0},
    {"sample_normal_eps (3x4),(3x4),(2x3x4)", f_sample_normal_eps, 3, {2, 2, 3},
     {{3, 4}, {3, 4}, {2, 3, 4}}, -2, 2, 0},
    {"gaussian_logp (2x3x4),(3x4),(4)", f_gaussian_logp, 3, {3, 2, 1},
     {{2, 3, 4}, {3, 4}, {4}}, -2, 2, 0},
    /* inputs that do not repeat along the output (expanded copies) */
    {"sample_normal_eps (3x1),(3x4),(2x3x4)", f_sample_normal_eps, 3, {2, 2, 3},
     {{3, 1}, {3, 4}, {2, 3, 4}}, -2, 2, 0},
    {"gaussian_logp (2x3x4),(3x1),(2x1x4)", f_gaussian_logp, 3, {3, 2, 3},
     {{2, 3, 4}, {3, 1}, {2, 1, 4}}, -2, 2, 0},
    {"gaussian_logp (3x4),(1),(1)", f_gaussian_logp, 3, {2, 1, 1}, {{3, 4}, {1}, {1}}, -2, 2, 0},
    {"bernoulli_logp (2x3),(2x3)", f_bernoulli_logp, 2, {2, 2}, {{2, 3}, {2, 3}}, -3, 3, 0},
    {"dropout", f_dropout, 1, {2}, {{4, 5}}, -1, 1, 0},
    {"bce_logits_rows (3x13),(3x13)", f_bce_logits_rows, 2, {2, 2}, {{3, 13}, {3, 13}}, -3, 3, 0},
    {"bce_logits_rows (2x3x5),(3x5)", f_bce_logits_rows, 2, {3, 2}, {{2, 3, 5}, {3, 5}}, -3, 3, 0},
    {"bce_logits_rows (7),(7)", f_bce_logits_rows, 2, {1, 1}, {{7}, {7}}, -3, 3, 0},
    {"softmax_axis 0 (3x4)", f_softmax_axis0, 1, {2}, {{3, 4}}, -2, 2, 0},
    {"log_softmax_axis 1 (2x3x4)", f_log_softmax_axis1, 1, {3}, {{2, 3, 4}}, -2, 2, 0},
    {"log_softmax_axis -1 (3x4)", f_log_softmax_axis_last, 1, {2}, {{3, 4}}, -2, 2, 0},
    {"logmeanexp 0 (5x3)", f_logmeanexp0, 1, {2}, {{5, 3}}, -2, 2, 0},
    {"cross_entropy (3x4)", f_cross_entropy, 1, {2}, {{3, 4}}, -2, 2, 0},
    {"linear (2x3x4),(5x4),(5)", f_linear_leading, 3, {3, 2, 1}, {{2, 3, 4}, {5, 4}, {5}}, -1, 1, 0},
    {"linear no bias (3x4),(5x4)", f_linear_no_bias, 2, {2, 2}, {{3, 4}, {5, 4}}, -1, 1, 0},
    {"gumbel_softmax_noise (3x5)", f_gumbel_noise, 1, {2}, {{3, 5}}, -1, 1, 0},
};

/* Runs one case; prints and fails when the worst error is over tolerance. */
static void run_case(const char *name, ad_fn f, void *ctx, int n,
                     const int *ndim, const size_t (*shape)[TN_MAX_DIMS],
                     double lo, double hi, int away, uint64_t seed)
{
    tn_tensor *in[16];
    for (int i = 0; i < n; i++) {
        in[i] = test_random(ndim[i], shape[i], lo, hi, seed + (uint64_t)i);
        for (size_t j = 0; away && j < in[i]->size; j++)
            if (fabs(in[i]->data[j]) < 0.1)
                in[i]->data[j] += in[i]->data[j] < 0 ? -0.1 : 0.1;
    }
    ad_gradcheck_report rep;
    double err = ad_gradcheck(f, ctx, in, n, GRAD_EPS, &rep);
    if (!(err >= 0 && err <= GRAD_TOL)) {
        test_failures++;
        printf("    %s: worst error %.3g at input %d element %zu "
               "(analytic %.10g, numeric %.10g) %s\n",
               name, err, rep.input, rep.index, rep.analytic, rep.numeric,
               rep.error);
    }
    for (int i = 0; i < n; i++)
        tn_free(in[i]);
}

void test_grad_all_ops(void)
{
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        run_case(cases[c].name, cases[c].f, NULL, cases[c].n, cases[c].ndim,
                 cases[c].shape, cases[c].lo, cases[c].hi, cases[c].away_from_0,
                 100 + c * 10);
    /* a composite: every op of a VAE step in one graph */
    const int nd[7] = {2, 2, 1, 2, 1, 2, 1};
    const size_t sh[7][TN_MAX_DIMS] = {{4, 5}, {6, 5}, {6}, {4, 6}, {4}, {5, 2}, {5}};
    run_case("vae-like graph", f_vae_like, NULL, 7, nd, sh, -1, 1, 0, 999);
}

static ad_var *f_matmul_flags(ad_tape *t, ad_var *const *x, void *ctx)
{
    (void)t;
    const int *fl = ctx;
    return ad_matmul(x[0], fl[0], x[1], fl[1]);
}

void test_grad_matmul_transposes(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int fl[2] = {ta, tb};
            const int nd[2] = {2, 2};
            size_t sh[2][TN_MAX_DIMS] = {{0}};
            sh[0][0] = ta ? 4 : 3, sh[0][1] = ta ? 3 : 4;   /* op(A) 3x4 */
            sh[1][0] = tb ? 5 : 4, sh[1][1] = tb ? 4 : 5;   /* op(B) 4x5 */
            char name[32];
            snprintf(name, sizeof name, "matmul ta=%d tb=%d", ta, tb);
            run_case(name, f_matmul_flags, fl, 2, nd, (const size_t(*)[TN_MAX_DIMS])sh,
                     -1, 1, 0, 7 + (uint64_t)(ta * 2 + tb));
        }
}

F1(badd, ad_add(x[0], x[1]))
F1(bmul, ad_mul(x[0], x[1]))
F1(bsub, ad_sub(x[0], x[1]))
F1(bdiv, ad_div(x[0], x[1]))

void test_grad_broadcast_shapes(void)
{
    struct {
        const char *name;
        ad_fn f;
        int nd[2];
        size_t sh[2][TN_MAX_DIMS];
        double lo;
    } b[] = {
        {"add (3x4)+(4)", f_badd, {2, 1}, {{3, 4}, {4}}, -1},
        {"add (3x1)+(1x4)", f_badd, {2, 2}, {{3, 1}, {1, 4}}, -1},
        {"sub (4)-(3x4)", f_bsub, {1, 2}, {{4}, {3, 4}}, -1},
        {"mul scalar·(3x4)", f_bmul, {0, 2}, {{0}, {3, 4}}, -1},
        {"mul (2x3x4)·(3x1)", f_bmul, {3, 2}, {{2, 3, 4}, {3, 1}}, -1},
        {"div (2x1x4)/(3x1)", f_bdiv, {3, 2}, {{2, 1, 4}, {3, 1}}, 0.5},
        {"div (3x4)/(4)", f_bdiv, {2, 1}, {{3, 4}, {4}}, 0.5},
    };
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
        run_case(b[i].name, b[i].f, NULL, 2, b[i].nd,
                 (const size_t(*)[TN_MAX_DIMS])b[i].sh, b[i].lo, 2, 0, 50 + i);
}

/* A gradient that is wrong on purpose: x·stop(x) where the copy is a
 * constant, so backward sees d/dx = x while the function's slope is 2x. */
static ad_var *f_detached(ad_tape *t, ad_var *const *x, void *c)
{
    (void)c;
    ad_var *copy = ad_const_new(t, ad_value(x[0])->ndim, ad_value(x[0])->shape);
    if (copy)
        memcpy(ad_data(copy), ad_value(x[0])->data,
               ad_value(x[0])->size * sizeof(tn_real));
    return ad_mul(x[0], copy);
}

void test_gradcheck_catches_wrong_gradient(void)
{
    tn_tensor *x = test_random(1, SHAPE(5), 1, 2, 3);
    ad_gradcheck_report rep;
    double err = ad_gradcheck(f_detached, NULL, &x, 1, GRAD_EPS, &rep);
    CHECK(err > 0.2); /* |x - 2x| / 2|x| = 1/2 */
    CHECK(rep.error[0] == '\0');
    /* and a function that fails reports the tape's message */
    err = ad_gradcheck(f_matmul, NULL, (tn_tensor *[]){x, x}, 2, GRAD_EPS, &rep);
    CHECK(err < 0);
    CHECK_STR_HAS(rep.error, "matmul");
    tn_free(x);
}

/* Forward values of the ops through the tape, by hand. */
void test_op_values(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *A = test_tensor(2, SHAPE(2, 3), (const double[]){1, 2, 3, 4, 5, 6});
    ad_var *a = ad_const(t, A);
    ad_var *s = ad_sum(a);
    CHECK(ad_item(s) == 21);
    CHECK(ad_value(s)->ndim == 0);
    CHECK(ad_item(ad_mean(a)) == 3.5);
    ad_var *cols = ad_sum_axis(a, 0);
    CHECK(ad_value(cols)->ndim == 1 && ad_value(cols)->shape[0] == 3);
    CHECK(ad_data(cols)[0] == 5 && ad_data(cols)[2] == 9);
    ad_var *rows = ad_mean_axis(a, 1);
    CHECK(ad_data(rows)[0] == 2 && ad_data(rows)[1] == 5);
    ad_var *tr = ad_transpose(a);
    CHECK(ad_value(tr)->shape[0] == 3 && ad_data(tr)[1] == 4);
    ad_var *sl = ad_slice(a, 1, 2);
    CHECK(ad_data(sl)[0] == 2 && ad_data(sl)[3] == 6);
    ad_var *cat = ad_concat(sl, a);
    CHECK(ad_value(cat)->shape[1] == 5 && ad_data(cat)[2] == 1 && ad_data(cat)[9] == 6);
    ad_var *rs = ad_reshape(a, 1, SHAPE(6));
    CHECK(ad_value(rs)->ndim == 1 && ad_data(rs)[5] == 6);
    ad_var *sc = ad_add_scalar(ad_scale(a, 2), 1);
    CHECK(ad_data(sc)[0] == 3 && ad_data(sc)[5] == 13);
    /* linear: x (1x3)·Wᵀ (W 2x3) + b */
    tn_tensor *X = test_tensor(2, SHAPE(1, 3), (const double[]){1, 1, 1});
    tn_tensor *B = test_tensor(1, SHAPE(2), (const double[]){10, 20});
    ad_var *y = ad_linear(ad_const(t, X), a, ad_const(t, B));
    CHECK(ad_value(y)->shape[0] == 1 && ad_value(y)->shape[1] == 2);
    CHECK(ad_data(y)[0] == 16 && ad_data(y)[1] == 35);
    ad_var *mm = ad_matmul(a, 0, a, 1); /* A·Aᵀ = [14 32; 32 77] */
    CHECK(ad_data(mm)[0] == 14 && ad_data(mm)[1] == 32 && ad_data(mm)[3] == 77);
    ad_var *d = ad_div(ad_sqrt(ad_square(a)), ad_exp(ad_log(a)));
    CHECK_NEAR(ad_data(d)[4], 1, VAL_TOL * 10);
    CHECK(ad_data(ad_neg(a))[2] == -3 && ad_data(ad_abs(ad_neg(a)))[2] == 3);
    CHECK(ad_tape_ok(t));
    ad_tape_free(t);
    tn_free(A), tn_free(X), tn_free(B);
}

void test_prob_op_values(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *X = test_tensor(1, SHAPE(4), (const double[]){0, 0, 2, -50});
    tn_tensor *T = test_tensor(1, SHAPE(4), (const double[]){1, 0, 1, 1});
    ad_var *b = ad_bce_logits(ad_const(t, X), ad_const(t, T));
    CHECK_NEAR(ad_data(b)[0], 0.6931471805599453, VAL_TOL);      /* log 2 */
    CHECK_NEAR(ad_data(b)[1], 0.6931471805599453, VAL_TOL);
    CHECK_NEAR(ad_data(b)[2], 0.1269280110429725, VAL_TOL);      /* log(1+e^-2) */
    CHECK_NEAR(ad_data(b)[3], 50, VAL_TOL * 50);                  /* no overflow */
    /* KL(N(mu, e^lv) || N(0,1)) = (mu² + e^lv - 1 - lv)/2 */
    tn_tensor *M = test_tensor(1, SHAPE(3), (const double[]){0, 1, 0.5});
    tn_tensor *L = test_tensor(1, SHAPE(3), (const double[]){0, 0, 1});
    ad_var *kl = ad_kl_normal(ad_const(t, M), ad_const(t, L));
    CHECK_NEAR(ad_data(kl)[0], 0, VAL_TOL);
    CHECK_NEAR(ad_data(kl)[1], 0.5, VAL_TOL);
    CHECK_NEAR(ad_data(kl)[2], 0.5 * (0.25 + 2.718281828459045 - 2), VAL_TOL * 4);
    /* z = mu + e^(lv/2)·eps with the eps the generator gives: in bulk in
     * float (tn_rng_normals), one at a time in double (tn_rng_normal) */
    tn_rng r, r2;
    tn_rng_seed(&r, 5, 0);
    tn_rng_seed(&r2, 5, 0);
    ad_var *z = ad_sample_normal(ad_const(t, M), ad_const(t, L), &r);
#ifndef TN_REAL_DOUBLE
    float bulk[3];
    tn_rng_normals(&r2, bulk, 3);
#endif
    for (int i = 0; i < 3; i++) {
#ifdef TN_REAL_DOUBLE
        double eps = tn_rng_normal(&r2);
#else
        double eps = bulk[i];
#endif
        CHECK_NEAR(ad_data(z)[i], M->data[i] + exp(0.5 * L->data[i]) * eps, VAL_TOL * 4);
    }
    CHECK(ad_tape_ok(t));
    CHECK(ad_sample_normal(ad_const(t, M), ad_const(t, L), NULL) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "sample_normal: no random generator");
    ad_tape_free(t);
    tn_free(X), tn_free(T), tn_free(M), tn_free(L);
}

/* The stability cases the issue names: logits of ±80, rows of equal values,
 * one huge entry. Each op is gradient-checked at these exact inputs. */
static void run_fixed(const char *name, ad_fn f, int ndim, const size_t *shape,
                      const double *vals)
{
    tn_tensor *x = test_tensor(ndim, shape, vals);
    ad_gradcheck_report rep;
    double err = ad_gradcheck(f, NULL, &x, 1, GRAD_EPS, &rep);
    if (!(err >= 0 && err <= GRAD_TOL)) {
        test_failures++;
        printf("    %s: worst error %.3g at element %zu (analytic %.10g, "
               "numeric %.10g) %s\n", name, err, rep.index, rep.analytic,
               rep.numeric, rep.error);
    }
    tn_free(x);
}

void test_grad_extreme_logits(void)
{
    static const struct {
        const char *what;
        double v[8];
    } rows[] = {
        {"logits of +-80", {80, -80, 79.5, -79, 80, 0.5, -80, 78}},
        {"equal rows", {3, 3, 3, 3, -2, -2, -2, -2}},
        {"one huge entry", {1000, 0, 1, -1, -2, 2, 3, 500}},
    };
    const struct {
        const char *name;
        ad_fn f;
    } ops[] = {{"logsumexp", f_logsumexp_keep}, {"softmax", f_softmax},
               {"log_softmax", f_log_softmax}, {"kl_categorical", f_kl_categorical},
               {"gumbel_softmax", f_gumbel}, {"max_axis", f_max_keep}};
    for (size_t r = 0; r < 3; r++)
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            if (r == 1 && ops[o].f == f_max_keep)
                continue; /* ties: max is not differentiable there */
            char name[96];
            snprintf(name, sizeof name, "%s, %s", ops[o].name, rows[r].what);
            run_fixed(name, ops[o].f, 2, SHAPE(2, 4), rows[r].v);
        }
}

/* bce_logits_rows' row sums (float: its logs taken of products of 8
 * factors) against the sum in double of libm's terms, on MNIST-sized rows
 * (784 = 6 blocks of 128 and a rest of 16) and short ones, logits over
 * [-30, 30] with binary and fractional targets */
void test_bce_rows_accuracy(void)
{
    const size_t R = 40, Ds[] = {784, 130, 5};
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        size_t D = Ds[k];
        tn_tensor *L = test_random(2, SHAPE(R, D), -30, 30, 51), *T = test_random(2, SHAPE(R, D), 0, 1, 52);
        for (size_t i = 0; i < R * D; i++)
            T->data[i] = i % 3 ? (T->data[i] > 0.5) : T->data[i];
        ad_tape *t = ad_tape_new(0);
        ad_var *y = ad_bce_logits_rows(ad_const(t, L), ad_const(t, T));
        CHECK(y != NULL);
        for (size_t r = 0; y && r < R; r++) {
            double want = 0, mag = 0;
            for (size_t d = 0; d < D; d++) {
                double x = L->data[r * D + d], tt = T->data[r * D + d];
                double b = (x > 0 ? x : 0) - x * tt + log1p(exp(-fabs(x)));
                want += b, mag += fabs(b);
            }
            worst = fmax(worst, fabs(ad_data(y)[r] - want) / mag);
        }
        ad_tape_free(t), tn_free(L), tn_free(T);
    }
    printf("    worst row sum error: %.2g of the sum of |terms|\n", worst);
    CHECK(worst <= (sizeof(tn_real) == 4 ? 1e-6 : 1e-14));
}

/* bce_logits_rows on rows long enough to be split over threads (and
 * longer than any fixed buffer): the element-wise op summed row by row,
 * the same gradients, the same bits on 1 and 2 threads; a wrong shape named */
void test_bce_rows_large(void)
{
    const size_t R = 6, D = 7000; /* 42 000 values: over TN_PAR_MIN */
    tn_tensor *L = test_random(2, SHAPE(R, D), -6, 6, 41), *T = test_random(1, SHAPE(D), 0, 1, 42);
    tn_real y[2][6];
    for (int threads = 1; threads <= 2; threads++) {
        tn_set_threads(threads);
        ad_tape *t = ad_tape_new(0);
        tn_tensor *G = tn_new(2, SHAPE(R, D)), *G2 = tn_new(2, SHAPE(R, D));
        ad_var *l = ad_param(t, L, G), *x = ad_const(t, T);
        ad_var *fused = ad_bce_logits_rows(l, x);
        ad_var *plain = ad_sum_axis(ad_bce_logits(l, x), -1);
        CHECK(fused && plain && ad_value(fused)->ndim == 1 && ad_dim(fused, 0) == R);
        for (size_t r = 0; fused && plain && r < R; r++) {
            CHECK_NEAR(ad_data(fused)[r], ad_data(plain)[r], VAL_TOL * D);
            y[threads - 1][r] = ad_data(fused)[r];
        }
        /* the gradient of Σ_r w_r·rows against the element-wise op's */
        tn_tensor *W = test_random(1, SHAPE(R), -1, 1, 43);
        ad_var *w = ad_const(t, W);
        CHECK(ad_backward(t, ad_sum(ad_mul(fused, w))) == 0);
        ad_tape *t2 = ad_tape_new(0);
        ad_var *l2 = ad_param(t2, L, G2);
        ad_var *p2 = ad_sum_axis(ad_bce_logits(l2, ad_const(t2, T)), -1);
        CHECK(ad_backward(t2, ad_sum(ad_mul(p2, ad_const(t2, W)))) == 0);
        double worst = 0;
        for (size_t i = 0; i < R * D; i++)
            worst = fmax(worst, fabs(G->data[i] - G2->data[i]));
        CHECK(worst > 0 || G->data[0] != 0); /* a gradient arrived */
        CHECK(worst <= VAL_TOL);
        tn_free(G), tn_free(G2), tn_free(W);
        ad_tape_free(t), ad_tape_free(t2);
    }
    tn_set_threads(1);
    for (size_t r = 0; r < R; r++)
        CHECK(y[0][r] == y[1][r]);
    ad_tape *t = ad_tape_new(0);
    tn_tensor *B = tn_new(2, SHAPE(R, 3));
    CHECK(ad_bce_logits_rows(ad_const(t, L), ad_const(t, B)) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "bce_logits_rows: targets 6x3 are not the logits' 6x7000");
    ad_tape_free(t), tn_free(B), tn_free(L), tn_free(T);
}
