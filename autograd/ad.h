/* ad.h: reverse-mode automatic differentiation on a tape. Each op computes its
 * value at once and appends a node to the tape; ad_backward walks the tape in
 * reverse and accumulates gradients. Derivations: docs/design.md.
 *
 * Lifetimes:
 *   1. Parameters, their gradients (and, in nn/, optimizer state) are tensors
 *      the caller owns and that outlive every step; ad_param borrows them.
 *   2. Every ad_var, every value and gradient computed in a step, lives in the
 *      tape's arena and is gone at ad_tape_reset (call it once per step).
 *   3. ad_tape_new returns a tape the caller frees with ad_tape_free.
 *
 * Errors: an op whose shapes do not fit records a message naming the op and
 * the shapes ("matmul: (128x784)·(400x784): inner dimensions differ") and
 * returns NULL; an op given NULL returns NULL, so model code can chain ops and
 * check once. The first error sticks until reset: ad_backward returns -1 and
 * ad_tape_error() gives the message. Nothing here prints or exits.
 */
#ifndef AD_H
#define AD_H

#include "tn.h"

typedef struct ad_tape ad_tape;
typedef struct ad_var ad_var;

/* ---- the tape ------------------------------------------------------------ */

/* arena_bytes: size of the first arena block (0 for 1 MiB); it grows as
 * needed in the first step and is then reused. NULL when out of memory. */
ad_tape *ad_tape_new(size_t arena_bytes);
void ad_tape_free(ad_tape *t);
/* Forgets every node, value and gradient of the step and the error.
 * Parameters' gradients are untouched (zero them yourself). */
void ad_tape_reset(ad_tape *t);

int ad_tape_ok(const ad_tape *t);             /* 1 while no error */
const char *ad_tape_error(const ad_tape *t);  /* "" while no error */
size_t ad_tape_len(const ad_tape *t);         /* nodes recorded */
tn_arena *ad_tape_arena(ad_tape *t);          /* the step's memory */

/* Records an error on the tape, as an op does when its shapes do not fit:
 * the first one sticks until reset. For users' own ops and models. */
void ad_tape_fail(ad_tape *t, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* No-grad mode (evaluation): ops compute values but record nothing.
 * Returns the previous setting. */
int ad_set_grad_enabled(ad_tape *t, int enabled);
int ad_grad_enabled(const ad_tape *t);

/* d loss / d p for every parameter p the loss depends on, *added* to the
 * parameter's gradient tensor. loss must have exactly one element.
 * Returns 0, or -1 with ad_tape_error() set. Intermediate gradients are
 * cleared at the start, so backward may be called twice on one tape (the
 * parameters then receive both contributions). */
int ad_backward(ad_tape *t, ad_var *loss);

/* ---- leaves ---------------------------------------------------------------- */

/* A parameter: `value` and `grad` (same shape) are borrowed and must outlive
 * the step; backward adds into `grad`. */
ad_var *ad_param(ad_tape *t, tn_tensor *value, tn_tensor *grad);
/* A constant over the caller's tensor (no copy); no gradient. */
ad_var *ad_const(ad_tape *t, const tn_tensor *value);
/* A zero-filled constant in the arena; write it through ad_data(). */
ad_var *ad_const_new(ad_tape *t, int ndim, const size_t *shape);
ad_var *ad_scalar(ad_tape *t, tn_real v);

const tn_tensor *ad_value(const ad_var *v);   /* NULL for NULL */
tn_real *ad_data(ad_var *v);                  /* NULL for NULL */
const tn_tensor *ad_grad(const ad_var *v);    /* NULL until a gradient */
double ad_item(const ad_var *v);              /* first element; NaN for NULL */
ad_tape *ad_tape_of(const ad_var *v);

/* ---- ops (every input from one tape; NULL in, NULL out) ------------------- */

/* numpy broadcasting between a and b */
ad_var *ad_add(ad_var *a, ad_var *b);
ad_var *ad_sub(ad_var *a, ad_var *b);
ad_var *ad_mul(ad_var *a, ad_var *b);
ad_var *ad_div(ad_var *a, ad_var *b);

ad_var *ad_exp(ad_var *x);
ad_var *ad_log(ad_var *x);
ad_var *ad_sqrt(ad_var *x);
ad_var *ad_square(ad_var *x);
ad_var *ad_neg(ad_var *x);
ad_var *ad_abs(ad_var *x);      /* d|x| = sign(x), 0 at 0 */
ad_var *ad_relu(ad_var *x);     /* gradient 0 at 0 */
ad_var *ad_sigmoid(ad_var *x);
ad_var *ad_softplus(ad_var *x); /* log(1 + e^x) */
ad_var *ad_tanh(ad_var *x);
ad_var *ad_scale(ad_var *x, tn_real a);        /* a·x */
ad_var *ad_add_scalar(ad_var *x, tn_real b);   /* x + b */

ad_var *ad_sum(ad_var *x);                 /* all elements -> scalar */
ad_var *ad_mean(ad_var *x);
ad_var *ad_sum_axis(ad_var *x, int axis);  /* axis removed; -1 = last */
ad_var *ad_mean_axis(ad_var *x, int axis);

ad_var *ad_reshape(ad_var *x, int ndim, const size_t *shape);
ad_var *ad_transpose(ad_var *x);                          /* last two axes */
ad_var *ad_slice(ad_var *x, size_t start, size_t len);    /* last axis */
ad_var *ad_concat(ad_var *a, ad_var *b);                  /* last axis */

/* op(a)·op(b), 2-D, op = transpose when the flag is nonzero. */
ad_var *ad_matmul(ad_var *a, int trans_a, ad_var *b, int trans_b);
/* x·Wᵀ + b: x (N x in), W (out x in) as PyTorch stores it, b (out). */
ad_var *ad_linear(ad_var *x, ad_var *W, ad_var *b);

/* Element-wise binary cross-entropy of target t given logits x:
 * max(x,0) - x·t + log(1 + e^-|x|), stable for any x. Same shapes. */
ad_var *ad_bce_logits(ad_var *x, ad_var *t);
/* Element-wise KL(N(mu, e^lv) || N(0, 1)) = -1/2 (1 + lv - mu² - e^lv). */
ad_var *ad_kl_normal(ad_var *mu, ad_var *logvar);
/* z = mu + exp(lv/2) ⊙ eps, eps ~ N(0, I) drawn from rng (reparameterization
 * trick: gradients reach mu and lv). Same shapes. */
ad_var *ad_sample_normal(ad_var *mu, ad_var *logvar, tn_rng *rng);

/* ---- gradient check ----------------------------------------------------------- */

/* Builds a value from the inputs on tape t. Called many times; it must be a
 * deterministic function of the inputs (reseed any generator inside). */
typedef ad_var *(*ad_fn)(ad_tape *t, ad_var *const *inputs, void *ctx);

typedef struct {
    int input;            /* where the worst error was */
    size_t index;
    double analytic, numeric;
    char error[256];      /* set when the check could not run */
} ad_gradcheck_report;

/* Compares backward's gradient with central differences
 * (f(x+eps) - f(x-eps)) / 2eps, accumulated in double, for every element of
 * every input. A value with more than one element is reduced to
 * Σ w_i·f_i with fixed pseudo-random weights w, so every output element is
 * tested. Error per element: |analytic - numeric| / max(1, |analytic|,
 * |numeric|). Returns the worst, or -1 when f failed (see report->error).
 * The inputs are perturbed in place and restored. report may be NULL. */
double ad_gradcheck(ad_fn f, void *ctx, tn_tensor *const *inputs, int n,
                    double eps, ad_gradcheck_report *report);
/* The same for a whole model whose function makes its own parameter leaves
 * (ad_param over values[i] and grads[i], e.g. from an nn_params store): f
 * ignores its `inputs` argument; backward's result is read from grads[i]
 * (zeroed first). Any number of tensors. */
double ad_gradcheck_model(ad_fn f, void *ctx, tn_tensor *const *values,
                          tn_tensor *const *grads, int n, double eps,
                          ad_gradcheck_report *report);

#endif
