/* op_elementwise.c: broadcasting add, sub, mul, div; the unary maps; a·x + b.
 * Each op: shape rule, forward, backward, side by side. g is the gradient
 * arriving at the output y; backward adds into the inputs' gradients. */
#include "ad_internal.h"

#include <tgmath.h>

#include "tn_math.h"
#include "tn_parallel.h"

/* σ as tn_sigmoid1 computes it, inline so that softplus's backward loop
 * vectorizes in float */
#ifdef TN_REAL_DOUBLE
#define SIGMOID(x) tn_sigmoid1(x)
#else
#define SIGMOID(x) tn_sigmoid_f(x)
#endif

static const char *broadcast_shape(ad_var *v)
{
    if (tn_broadcast_shape(&v->in[0]->val, &v->in[1]->val, &v->val.ndim,
                           v->val.shape) != TN_OK)
        return "shapes do not broadcast";
    return NULL;
}

/* dx += alpha · (g summed back to x's shape), for broadcast inputs. */
static void acc_reduced(ad_var *x, const tn_tensor *g, tn_real alpha)
{
    tn_tensor *dx = ad__grad_buf(x);
    if (dx)
        tn_sum_to_acc(dx, g, alpha);
}

/* g ∘ other, summed back to x's shape and added into dx; `div_by` divides
 * instead of multiplying. Uses a scratch tensor only when x is broadcast. */
static void acc_product(ad_var *v, ad_var *x, const tn_tensor *other,
                        tn_real alpha, int div_by)
{
    tn_tensor *dx = ad__grad_buf(x);
    if (!dx)
        return;
    const tn_tensor *g = v->grad;
    if (dx->size == g->size && other->size == g->size) {
        for (size_t i = 0; i < g->size; i++)
            dx->data[i] += alpha * (div_by ? g->data[i] / other->data[i]
                                           : g->data[i] * other->data[i]);
        return;
    }
    tn_tensor *tmp = ad__scratch(v->tape, g);
    if (!tmp)
        return;
    (div_by ? tn_div : tn_mul)(tmp, g, other);
    tn_sum_to_acc(dx, tmp, alpha);
}

/* y = a + b */
static void add_forward(ad_var *v) { tn_add(&v->val, &v->in[0]->val, &v->in[1]->val); }
/* da = g, db = g (summed over broadcast axes) */
static void add_backward(ad_var *v)
{
    acc_reduced(v->in[0], v->grad, 1);
    acc_reduced(v->in[1], v->grad, 1);
}
const ad_op_def ad__op_add = {"add", 2, broadcast_shape, add_forward, add_backward};

/* y = a - b */
static void sub_forward(ad_var *v) { tn_sub(&v->val, &v->in[0]->val, &v->in[1]->val); }
/* da = g, db = -g */
static void sub_backward(ad_var *v)
{
    acc_reduced(v->in[0], v->grad, 1);
    acc_reduced(v->in[1], v->grad, -1);
}
const ad_op_def ad__op_sub = {"sub", 2, broadcast_shape, sub_forward, sub_backward};

/* y = a ⊙ b */
static void mul_forward(ad_var *v) { tn_mul(&v->val, &v->in[0]->val, &v->in[1]->val); }
/* da = g ⊙ b, db = g ⊙ a */
static void mul_backward(ad_var *v)
{
    acc_product(v, v->in[0], &v->in[1]->val, 1, 0);
    acc_product(v, v->in[1], &v->in[0]->val, 1, 0);
}
const ad_op_def ad__op_mul = {"mul", 2, broadcast_shape, mul_forward, mul_backward};

/* y = a / b */
static void div_forward(ad_var *v) { tn_div(&v->val, &v->in[0]->val, &v->in[1]->val); }
/* da = g / b, db = -g ⊙ y / b */
static void div_backward(ad_var *v)
{
    acc_product(v, v->in[0], &v->in[1]->val, 1, 1);
    if (!v->in[1]->requires_grad)
        return;
    tn_tensor *gy = ad__scratch(v->tape, &v->val);
    if (!gy)
        return;
    tn_mul(gy, v->grad, &v->val);
    tn_tensor *dup = ad__scratch(v->tape, &v->val);
    if (!dup)
        return;
    tn_div(dup, gy, &v->in[1]->val);
    acc_reduced(v->in[1], dup, -1);
}
const ad_op_def ad__op_div = {"div", 2, broadcast_shape, div_forward, div_backward};

/* ---- unary: y = f(x), dx += g ⊙ f'(x) written with x = X[i], y = Y[i] ----
 * (dx = when x has no gradient yet: ad__grad_out) */

#define UNARY(name, TN_OP, dexpr)                                           \
    static void name##_forward(ad_var *v)                                   \
    {                                                                       \
        tn_unary(&v->val, &v->in[0]->val, TN_OP);                           \
    }                                                                       \
    static void name##_backward(ad_var *v)                                  \
    {                                                                       \
        int fresh;                                                          \
        tn_tensor *dx = ad__grad_out(v->in[0], &fresh);                     \
        if (!dx)                                                            \
            return;                                                         \
        const tn_real *X = v->in[0]->val.data, *Y = v->val.data;            \
        const tn_real *G = v->grad->data;                                   \
        tn_real *restrict D = dx->data;                                     \
        if (fresh)                                                          \
            TN_FOR(i, dx->size, tn_real x = X[i], y = Y[i]; (void)x;        \
                   (void)y; D[i] = G[i] * (dexpr););                        \
        else                                                                \
            TN_FOR(i, dx->size, tn_real x = X[i], y = Y[i]; (void)x;        \
                   (void)y; D[i] += G[i] * (dexpr););                       \
    }                                                                       \
    const ad_op_def ad__op_##name = {#name, 1, ad__shape_same,              \
                                     name##_forward, name##_backward};

UNARY(exp, TN_EXP, y)                                 /* dx = g·eˣ */
UNARY(log, TN_LOG, 1 / x)                             /* dx = g/x */
UNARY(sqrt, TN_SQRT, (tn_real)0.5 / y)                /* dx = g/(2√x) */
UNARY(square, TN_SQUARE, 2 * x)                       /* dx = g·2x */
UNARY(neg, TN_NEG, -1)                                /* dx = -g */
UNARY(abs, TN_ABS, (tn_real)((x > 0) - (x < 0)))      /* dx = g·sign(x) */
UNARY(relu, TN_RELU, (tn_real)(x > 0))                /* dx = g·[x > 0] */
UNARY(sigmoid, TN_SIGMOID, y * (1 - y))               /* dx = g·σ(1-σ) */
UNARY(softplus, TN_SOFTPLUS, SIGMOID(x))              /* dx = g·σ(x) */
UNARY(tanh, TN_TANH, 1 - y * y)                       /* dx = g·(1-y²) */

/* y = a·x + b with scalars a = f[0], b = f[1] */
static void affine_forward(ad_var *v)
{
    tn_affine(&v->val, &v->in[0]->val, (tn_real)v->attr.f[0],
              (tn_real)v->attr.f[1]);
}
/* dx = a·g */
static void affine_backward(ad_var *v)
{
    tn_tensor *dx = ad__grad_buf(v->in[0]);
    if (dx)
        tn_axpy(dx, (tn_real)v->attr.f[0], v->grad);
}
const ad_op_def ad__op_affine = {"affine", 1, ad__shape_same, affine_forward, affine_backward};

/* ---- unary with scalars a = f[0], b = f[1]: y = fexpr, dx += g ⊙ dexpr ---- */

#define UNARY_AB(name, fexpr, dexpr)                                        \
    static void name##_forward(ad_var *v)                                   \
    {                                                                       \
        const tn_real a = (tn_real)v->attr.f[0], b = (tn_real)v->attr.f[1]; \
        const tn_real *X = v->in[0]->val.data;                              \
        tn_real *restrict Y = v->val.data;                                  \
        (void)a, (void)b;                                                   \
        TN_FOR(i, v->val.size, tn_real x = X[i]; Y[i] = (fexpr););          \
    }                                                                       \
    static void name##_backward(ad_var *v)                                  \
    {                                                                       \
        tn_tensor *dx = ad__grad_buf(v->in[0]);                             \
        if (!dx)                                                            \
            return;                                                         \
        const tn_real a = (tn_real)v->attr.f[0], b = (tn_real)v->attr.f[1]; \
        const tn_real *X = v->in[0]->val.data, *Y = v->val.data;            \
        const tn_real *G = v->grad->data;                                   \
        tn_real *restrict D = dx->data;                                     \
        (void)a, (void)b;                                                   \
        TN_FOR(i, dx->size, tn_real x = X[i], y = Y[i]; (void)x; (void)y;   \
               D[i] += G[i] * (dexpr););                                    \
    }                                                                       \
    const ad_op_def ad__op_##name = {#name, 1, ad__shape_same,              \
                                     name##_forward, name##_backward};

UNARY_AB(pow, pow(x, a), a * pow(x, a - 1))                  /* dx = g·a·x^(a-1) */
UNARY_AB(clamp, x < a ? a : x > b ? b : x,                   /* dx = g·[a <= x <= b] */
         (tn_real)(x >= a && x <= b))
UNARY_AB(leaky_relu, x > 0 ? x : a * x, x > 0 ? 1 : a)       /* dx = g·(1 or a) */
UNARY_AB(elu, x > 0 ? x : a * (exp(x) - 1), x > 0 ? 1 : y + a) /* dx = g·(1 or y+a) */

/* ---- minimum, maximum: broadcasting; at a tie each input gets g/2 ---------- */

static void minmax_forward(ad_var *v, int is_max)
{
    const tn_real *A = ad__expanded(v, 0), *B = ad__expanded(v, 1);
    if (!A || !B)
        return;
    tn_real *restrict Y = v->val.data;
    TN_FOR(i, v->val.size, Y[i] = (A[i] > B[i]) == is_max ? A[i] : B[i];);
}
/* da = g·[a wins] + g/2·[a = b], db likewise */
static void minmax_backward(ad_var *v, int is_max)
{
    const tn_real *A = ad__expanded(v, 0), *B = ad__expanded(v, 1);
    if (!A || !B)
        return;
    const tn_real *G = v->grad->data;
    for (int k = 0; k < 2; k++) {
        tn_tensor *tmp;
        tn_real *D = ad__grad_full(v, k, &tmp);
        if (!D)
            continue;
        const tn_real *X = k ? B : A, *O = k ? A : B;
        for (size_t i = 0; i < v->val.size; i++)
            D[i] += X[i] == O[i] ? G[i] / 2 : ((X[i] > O[i]) == is_max ? G[i] : 0);
        ad__grad_reduce(v, k, tmp);
    }
}
static void minimum_forward(ad_var *v) { minmax_forward(v, 0); }
static void minimum_backward(ad_var *v) { minmax_backward(v, 0); }
static void maximum_forward(ad_var *v) { minmax_forward(v, 1); }
static void maximum_backward(ad_var *v) { minmax_backward(v, 1); }
const ad_op_def ad__op_minimum = {"minimum", 2, broadcast_shape, minimum_forward, minimum_backward};
const ad_op_def ad__op_maximum = {"maximum", 2, broadcast_shape, maximum_forward, maximum_backward};

/* ---- constructors and table rows ----------------------------------------- */

ad_var *ad_add(ad_var *a, ad_var *b) { return ad__record(AD_OP_ADD, a, b, NULL, NULL); }
ad_var *ad_sub(ad_var *a, ad_var *b) { return ad__record(AD_OP_SUB, a, b, NULL, NULL); }
ad_var *ad_mul(ad_var *a, ad_var *b) { return ad__record(AD_OP_MUL, a, b, NULL, NULL); }
ad_var *ad_div(ad_var *a, ad_var *b) { return ad__record(AD_OP_DIV, a, b, NULL, NULL); }
ad_var *ad_exp(ad_var *x) { return ad__record(AD_OP_EXP, x, NULL, NULL, NULL); }
ad_var *ad_log(ad_var *x) { return ad__record(AD_OP_LOG, x, NULL, NULL, NULL); }
ad_var *ad_sqrt(ad_var *x) { return ad__record(AD_OP_SQRT, x, NULL, NULL, NULL); }
ad_var *ad_square(ad_var *x) { return ad__record(AD_OP_SQUARE, x, NULL, NULL, NULL); }
ad_var *ad_neg(ad_var *x) { return ad__record(AD_OP_NEG, x, NULL, NULL, NULL); }
ad_var *ad_abs(ad_var *x) { return ad__record(AD_OP_ABS, x, NULL, NULL, NULL); }
ad_var *ad_relu(ad_var *x) { return ad__record(AD_OP_RELU, x, NULL, NULL, NULL); }
ad_var *ad_sigmoid(ad_var *x) { return ad__record(AD_OP_SIGMOID, x, NULL, NULL, NULL); }
ad_var *ad_softplus(ad_var *x) { return ad__record(AD_OP_SOFTPLUS, x, NULL, NULL, NULL); }
ad_var *ad_tanh(ad_var *x) { return ad__record(AD_OP_TANH, x, NULL, NULL, NULL); }

ad_var *ad_scale(ad_var *x, tn_real a)
{
    ad_attr at = {.f = {a, 0}};
    return ad__record(AD_OP_AFFINE, x, NULL, NULL, &at);
}

ad_var *ad_add_scalar(ad_var *x, tn_real b)
{
    ad_attr at = {.f = {1, b}};
    return ad__record(AD_OP_AFFINE, x, NULL, NULL, &at);
}


static ad_var *unary_ab(ad_op_id op, ad_var *x, double a, double b)
{
    ad_attr at = {.f = {a, b}};
    return ad__record(op, x, NULL, NULL, &at);
}

ad_var *ad_pow(ad_var *x, tn_real p) { return unary_ab(AD_OP_POW, x, p, 0); }
ad_var *ad_leaky_relu(ad_var *x, tn_real slope) { return unary_ab(AD_OP_LEAKY_RELU, x, slope, 0); }
ad_var *ad_elu(ad_var *x, tn_real alpha) { return unary_ab(AD_OP_ELU, x, alpha, 0); }
ad_var *ad_minimum(ad_var *a, ad_var *b) { return ad__record(AD_OP_MINIMUM, a, b, NULL, NULL); }
ad_var *ad_maximum(ad_var *a, ad_var *b) { return ad__record(AD_OP_MAXIMUM, a, b, NULL, NULL); }

ad_var *ad_clamp(ad_var *x, tn_real lo, tn_real hi)
{
    if (x && !(lo <= hi)) {
        ad_tape_fail(x->tape, "clamp: lower bound %g above upper bound %g",
                     (double)lo, (double)hi);
        return NULL;
    }
    return unary_ab(AD_OP_CLAMP, x, lo, hi);
}

/* Built from the ops above and ad_detach: y's value, x's gradient (the
 * straight-through estimator); the tape's transparent mode gives x. */
ad_var *ad_straight_through(ad_var *x, ad_var *y)
{
    if (!x || !y)
        return NULL;
    if (ad__transparent(x->tape))
        return x;
    if (!tn_same_shape(&x->val, &y->val)) {
        char a[64], b[64];
        ad_tape_fail(x->tape, "straight_through: x (%s) and y (%s) must have one shape",
                     tn_shape_str(&x->val, a, sizeof a), tn_shape_str(&y->val, b, sizeof b));
        return NULL;
    }
    return ad_add(x, ad_detach(ad_sub(y, x))); /* y's value, x's gradient */
}
