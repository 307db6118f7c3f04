/* ad.h: reverse-mode automatic differentiation on a tape. Each op computes its
 * value at once and appends a node to the tape; ad_backward walks the tape in
 * reverse and accumulates gradients. Derivations: docs/design.md.
 *
 * Lifetimes:
 *   1. Parameters, their gradients (and, in nn/, optimizer state) are tensors
 *      the caller owns and that outlive every step; ad_param borrows them.
 *   2. Every ad_var, every value and gradient computed in a step, lives in the
 *      tape's arena and is gone at ad_tape_reset (call it once per step). A
 *      variable kept past the reset and given to an op or to ad_backward is
 *      refused with a message (each variable carries the tape's reset
 *      count), as long as a later variable has not taken its memory: keep
 *      none past a reset.
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
TN_API ad_tape *ad_tape_new(size_t arena_bytes);
TN_API void ad_tape_free(ad_tape *t);
/* Forgets every node, value and gradient of the step and the error.
 * Parameters' gradients are untouched (zero them yourself, or let backward
 * write them: ad_tape_write_grads). */
TN_API void ad_tape_reset(ad_tape *t);

/* Anomaly detection (as torch.autograd.detect_anomaly), off by default:
 * every op's result, and every gradient backward passes on, is checked for
 * NaN and inf; the first one fails the tape naming the op, the pass, the
 * shapes and the element ("anomaly: log's forward gave -inf at element 3 of
 * (128x784), inputs (128x784)"). A pass over each result: for finding a
 * NaN, not for training. Returns the old setting. */
TN_API int ad_set_detect_anomaly(ad_tape *t, int on);
TN_API int ad_tape_ok(const ad_tape *t);             /* 1 while no error */
TN_API const char *ad_tape_error(const ad_tape *t);  /* "" while no error */
TN_API size_t ad_tape_len(const ad_tape *t);         /* nodes recorded */
TN_API tn_arena *ad_tape_arena(ad_tape *t);          /* the step's memory */

/* Records an error on the tape, as an op does when its shapes do not fit:
 * the first one sticks until reset. For users' own ops and models. */
TN_API void ad_tape_fail(ad_tape *t, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* No-grad mode (evaluation): ops compute values but record nothing.
 * Returns the previous setting. */
TN_API int ad_set_grad_enabled(ad_tape *t, int enabled);
TN_API int ad_grad_enabled(const ad_tape *t);

/* For a training loop: block[0..n) (the gradients of all the parameters,
 * nn_params_grads) is written whole by each ad_backward on this tape, not
 * added to. A parameter made (ad_param) with its gradient inside the block
 * gets d loss / d p written by its first writer (a GEMM with beta = 0), and
 * zeros when the loss does not reach it; the rest of the block, parameters
 * not made in this step, gets zeros. So the loop zeroes nothing and no
 * gradient is read before it is written. Gradients that overlap (one
 * tensor made a parameter twice) are zeroed and added to. NULL: off (as on
 * a new tape). nn_train sets it. */
TN_API void ad_tape_write_grads(ad_tape *t, tn_real *block, size_t n);

/* d loss / d p for every parameter p the loss depends on, *added* to the
 * parameter's gradient tensor (written, with ad_tape_write_grads). loss
 * must have exactly one element.
 * Returns 0, or -1 with ad_tape_error() set. Intermediate gradients are
 * cleared at the start, so backward may be called twice on one tape (the
 * parameters then receive both contributions). */
TN_API int ad_backward(ad_tape *t, ad_var *loss);

/* ---- leaves ---------------------------------------------------------------- */

/* A parameter: `value` and `grad` (same shape) are borrowed and must outlive
 * the step; backward adds into `grad` (or writes it: ad_tape_write_grads). */
TN_API ad_var *ad_param(ad_tape *t, tn_tensor *value, tn_tensor *grad);
/* Constants get no gradient. They are made even on a tape that has already
 * failed (ops on them then return NULL), so a program may fill a constant it
 * just made without checking: they are NULL only when memory runs out (or
 * the shape is impossible), which the tape then reports.
 *
 * A constant over the caller's tensor (no copy; it must outlive the step).
 * A tensor without data (x.data NULL, e.g. a byte-stored dataset's x) fails
 * the tape with a message and gives NULL. */
TN_API ad_var *ad_const(ad_tape *t, const tn_tensor *value);
/* A zero-filled constant in the arena; write it through ad_value_mut() or
 * ad_data(). Gone at reset. */
TN_API ad_var *ad_const_new(ad_tape *t, int ndim, const size_t *shape);
/* A constant in the arena holding a copy of data (size = product of shape
 * elements, row-major): the safe way to bring a buffer onto the tape. */
TN_API ad_var *ad_const_copy(ad_tape *t, int ndim, const size_t *shape,
                      const tn_real *data);
/* One-hot rows (n x classes) from integer labels: a constant. A label
 * outside 0..classes-1 fails the tape naming the label and its row. */
TN_API ad_var *ad_one_hot(ad_tape *t, const int *labels, size_t n, size_t classes);
TN_API ad_var *ad_scalar(ad_tape *t, tn_real v);

TN_API const tn_tensor *ad_value(const ad_var *v);   /* NULL for NULL */
/* The value of a constant, writable: the caller owns a constant's contents
 * for the step. NULL for NULL, parameters and op results (their values
 * belong to the tape: writing them would make gradients wrong). */
TN_API tn_tensor *ad_value_mut(ad_var *v);
TN_API tn_real *ad_data(ad_var *v);                  /* NULL for NULL */
TN_API const tn_tensor *ad_grad(const ad_var *v);    /* NULL until a gradient */
TN_API double ad_item(const ad_var *v);              /* first element; NaN for NULL */
/* The length of v's axis (negative counts from the end); 0 for NULL or an
 * axis v does not have. */
TN_API size_t ad_dim(const ad_var *v, int axis);
TN_API ad_tape *ad_tape_of(const ad_var *v);

/* ---- ops (every input from one tape; NULL in, NULL out) ------------------- */

/* numpy broadcasting between a and b */
TN_API ad_var *ad_add(ad_var *a, ad_var *b);
TN_API ad_var *ad_sub(ad_var *a, ad_var *b);
TN_API ad_var *ad_mul(ad_var *a, ad_var *b);
TN_API ad_var *ad_div(ad_var *a, ad_var *b);

TN_API ad_var *ad_exp(ad_var *x);
TN_API ad_var *ad_log(ad_var *x);
TN_API ad_var *ad_sqrt(ad_var *x);
TN_API ad_var *ad_square(ad_var *x);
TN_API ad_var *ad_neg(ad_var *x);
TN_API ad_var *ad_abs(ad_var *x);      /* d|x| = sign(x), 0 at 0 */
TN_API ad_var *ad_relu(ad_var *x);     /* gradient 0 at 0 */
TN_API ad_var *ad_sigmoid(ad_var *x);
TN_API ad_var *ad_softplus(ad_var *x); /* log(1 + e^x) */
TN_API ad_var *ad_tanh(ad_var *x);
TN_API ad_var *ad_scale(ad_var *x, tn_real a);        /* a·x */
TN_API ad_var *ad_add_scalar(ad_var *x, tn_real b);   /* x + b */
TN_API ad_var *ad_pow(ad_var *x, tn_real p);          /* x^p; x > 0 unless p is whole */
/* min(max(x, lo), hi); gradient 1 where lo <= x <= hi, else 0. lo <= hi. */
TN_API ad_var *ad_clamp(ad_var *x, tn_real lo, tn_real hi);
TN_API ad_var *ad_leaky_relu(ad_var *x, tn_real slope);  /* x > 0 ? x : slope·x */
TN_API ad_var *ad_elu(ad_var *x, tn_real alpha);         /* x > 0 ? x : α(eˣ - 1) */
/* Element-wise min / max of a and b, broadcasting; at a tie each input gets
 * half the gradient (as PyTorch's minimum/maximum). */
TN_API ad_var *ad_minimum(ad_var *a, ad_var *b);
TN_API ad_var *ad_maximum(ad_var *a, ad_var *b);

/* Reductions. `axis` may be negative (-1 = last). */
TN_API ad_var *ad_sum(ad_var *x);                 /* all elements -> scalar */
TN_API ad_var *ad_mean(ad_var *x);
TN_API ad_var *ad_sum_axis(ad_var *x, int axis);  /* axis removed */
TN_API ad_var *ad_mean_axis(ad_var *x, int axis);
TN_API ad_var *ad_sum_axis_keep(ad_var *x, int axis);  /* axis kept, length 1 */
TN_API ad_var *ad_mean_axis_keep(ad_var *x, int axis);
/* Maximum over an axis (kept at length 1 when keepdim): the gradient goes
 * to the maximum, split evenly among ties (as torch.amax). */
TN_API ad_var *ad_max_axis(ad_var *x, int axis, int keepdim);
/* log Σ_axis e^x, computed as m + log Σ e^(x - m) with m the maximum: no
 * overflow for any finite input; a row of -inf gives -inf. */
TN_API ad_var *ad_logsumexp(ad_var *x, int axis, int keepdim);

/* Over the last axis, one fused node each, stable for any finite input
 * (logits of ±80, rows of equal values, one huge entry). Shape kept. */
TN_API ad_var *ad_softmax(ad_var *x);
TN_API ad_var *ad_log_softmax(ad_var *x);
/* The same over any axis (the last one is the fused node above; another is
 * x - logsumexp(x, axis) and its exp). */
TN_API ad_var *ad_softmax_axis(ad_var *x, int axis);
TN_API ad_var *ad_log_softmax_axis(ad_var *x, int axis);
/* log (1/n) Σ_axis e^x, n the axis's length: the IWAE bound's average of
 * weights, stable as logsumexp. */
TN_API ad_var *ad_logmeanexp(ad_var *x, int axis, int keepdim);
/* -log softmax(logits)[label] for each row: logits (N x classes), labels
 * (N) in 0..classes-1 -> (N). A label outside fails the tape naming it. */
TN_API ad_var *ad_cross_entropy(ad_var *logits, const int *labels);
/* The index of the largest / smallest element along axis for every other
 * position (first on ties), as (outer x inner) ints in the tape's arena:
 * valid until the reset. No gradient (an index is not differentiable); NULL
 * with the tape failed for an empty or missing axis. The nearest codebook
 * entry: ad_argmin(distances, -1); a classifier's answer: ad_argmax. */
TN_API const int *ad_argmax(ad_var *x, int axis);
TN_API const int *ad_argmin(ad_var *x, int axis);

/* Stop-gradient: x's value as a leaf that backward does not cross (shares
 * x's values; no copy). ad_straight_through(x, y) is y's value with x's
 * gradient, x + detach(y - x): the straight-through estimator of VQ-VAE
 * (x the encoder's output, y its nearest codebook entry) and of hard
 * Gumbel-softmax samples. x and y of one shape. */
TN_API ad_var *ad_detach(ad_var *x);
TN_API ad_var *ad_straight_through(ad_var *x, ad_var *y);
/* Transparent stop-gradients (off by default): detach(x) is x and
 * straight_through(x, y) is x, and every arg-max/min gives the indices it
 * gave in the first step after the switch (an assignment, such as VQ's
 * nearest entries, held fixed), so that a loss's value and backward's
 * gradient belong to one smooth function, which central differences can
 * check. The gradient checks of nn/ turn it on. Returns the old setting. */
TN_API int ad_set_transparent(ad_tape *t, int on);

/* A view: the result shares x's values (no copy), so write into neither
 * after reshaping (ad_data of a constant, say). Its gradient flows to x,
 * and after backward may share x's gradient's memory (read x's). */
TN_API ad_var *ad_reshape(ad_var *x, int ndim, const size_t *shape);
TN_API ad_var *ad_transpose(ad_var *x);                          /* last two axes */
TN_API ad_var *ad_slice(ad_var *x, size_t start, size_t len);    /* last axis */
TN_API ad_var *ad_concat(ad_var *a, ad_var *b);                  /* last axis */
/* The first half of x's last axis (which must be even); *second gets the
 * other half: an encoder's output split into μ and log σ². */
TN_API ad_var *ad_split2(ad_var *x, ad_var **second);
/* k copies of x along a new leading axis: (k, x's shape). x has at most
 * TN_MAX_DIMS - 1 axes. Gradient: the sum of the copies'. */
TN_API ad_var *ad_repeat(ad_var *x, size_t k);
/* Rows of x by index (an embedding lookup): y[r] = x[idx[r]], shape
 * (n, x's other axes). idx is copied. Gradient: scatter-added, so a row
 * picked twice gets both. An index outside x fails the tape naming it. */
TN_API ad_var *ad_gather_rows(ad_var *x, const int *idx, size_t n);

/* Inverted dropout: each element is zeroed with probability p (0 <= p < 1)
 * and the rest scaled by 1/(1 - p), drawn from rng. With gradients off
 * (evaluation) it returns x itself. */
TN_API ad_var *ad_dropout(ad_var *x, tn_real p, tn_rng *rng);

/* op(a)·op(b), 2-D, op = transpose when the flag is nonzero. */
TN_API ad_var *ad_matmul(ad_var *a, int trans_a, ad_var *b, int trans_b);
/* x·Wᵀ + b: x (N x in), W (out x in) as PyTorch stores it, b (out), or
 * NULL for a layer without a bias (x·Wᵀ). x may have leading axes (S x N x
 * in -> S x N x out): they are taken as rows. */
TN_API ad_var *ad_linear(ad_var *x, ad_var *W, ad_var *b);

/* Convolutions on NCHW tensors with PyTorch's layouts (so safetensors
 * weights move both ways), square stride and padding, one GEMM per pass:
 * conv2d: x (N, C, H, W), W (F, C, kh, kw), b (F) -> (N, F, Ho, Wo),
 *   Ho = (H + 2·padding - kh)/stride + 1.
 * conv_transpose2d: x (N, C, H, W), W (C, F, kh, kw), b (F) -> (N, F, Ho, Wo),
 *   Ho = (H - 1)·stride - 2·padding + kh + output_padding (< stride). */
TN_API ad_var *ad_conv2d(ad_var *x, ad_var *W, ad_var *b, size_t stride,
                  size_t padding);
TN_API ad_var *ad_conv_transpose2d(ad_var *x, ad_var *W, ad_var *b, size_t stride,
                            size_t padding, size_t output_padding);

/* ---- probability -------------------------------------------------------- */
/* The element-wise ops here broadcast their inputs as ad_add does, so k
 * samples (k, N, d) meet parameters (N, d) without copies. */

/* Element-wise binary cross-entropy of target t given logits x:
 * max(x,0) - x·t + log(1 + e^-|x|), stable for any x. */
TN_API ad_var *ad_bce_logits(ad_var *x, ad_var *t);
/* The same summed over the last axis: (…, D) -> (…). t is shaped as x or
 * as its trailing axes (k samples (k, N, D) against targets (N, D)). One
 * fused node: the element-wise values are never stored. */
TN_API ad_var *ad_bce_logits_rows(ad_var *x, ad_var *t);
/* log p(x | logits) of a Bernoulli, element-wise: -bce_logits(logits, x). */
TN_API ad_var *ad_bernoulli_logp(ad_var *x, ad_var *logits);
/* log N(x; mu, e^lv) = -1/2 (log 2π + lv + (x - mu)² e^-lv), element-wise. */
TN_API ad_var *ad_gaussian_logp(ad_var *x, ad_var *mu, ad_var *logvar);
/* Element-wise KL(N(mu, e^lv) || N(0, 1)) = -1/2 (1 + lv - mu² - e^lv). */
TN_API ad_var *ad_kl_normal(ad_var *mu, ad_var *logvar);
/* z = mu + exp(lv/2) ⊙ eps, eps ~ N(0, I) drawn from rng (reparameterization
 * trick: gradients reach mu and lv). mu and lv of one shape. The float
 * build draws eps in bulk (tn_rng_normals), the double build one at a time
 * (tn_rng_normal): the two draw different numbers from one seed. */
TN_API ad_var *ad_sample_normal(ad_var *mu, ad_var *logvar, tn_rng *rng);
/* The same with the caller's eps (a constant, e.g. shared with another
 * framework or op), broadcasting: eps (k, N, d) gives k samples of each
 * row of mu, lv (N, d). */
TN_API ad_var *ad_sample_normal_eps(ad_var *mu, ad_var *logvar, ad_var *eps);
/* KL(q || Uniform(K)) = Σ_k q_k (log q_k + log K), q = softmax(logits)
 * over the last axis: one value per row (the last axis removed). */
TN_API ad_var *ad_kl_categorical(ad_var *logits);
/* Gumbel-softmax (Jang et al. 2017) over the last axis: softmax((logits +
 * G)/tau) with G = -log(-log U) drawn from rng, tau > 0. hard: the forward
 * value is the one-hot of the arg-max (first on ties) while the gradient is
 * the soft sample's (straight-through). */
TN_API ad_var *ad_gumbel_softmax(ad_var *logits, tn_real tau, int hard, tn_rng *rng);
/* The same with the caller's Gumbel noise G (a constant broadcasting
 * against logits, e.g. -log(-log U) drawn once for an evaluation). */
TN_API ad_var *ad_gumbel_softmax_noise(ad_var *logits, ad_var *gumbel, tn_real tau, int hard);
/* A constant of standard normal draws (like torch.randn), from rng: in bulk
 * (tn_rng_normals) in the float build, tn_rng_fill_normal in the double one. */
TN_API ad_var *ad_randn(ad_tape *t, int ndim, const size_t *shape, tn_rng *rng);
/* A constant of p's shape with elements 1 with probability p, else 0. */
TN_API ad_var *ad_bernoulli_sample(ad_var *p, tn_rng *rng);

/* ---- gradient check ----------------------------------------------------------- */

/* Builds a value from the inputs on tape t. Called many times; it must be a
 * deterministic function of the inputs (reseed any generator inside). */
typedef ad_var *(*ad_fn)(ad_tape *t, ad_var *const *inputs, void *ctx);

typedef struct {
    int input;            /* where the worst error was */
    size_t index;
    double analytic, numeric;
    size_t checked;       /* elements (or directions) compared */
    size_t kinks;         /* elements within eps of a kink, told apart (nn_gradcheck_loss) */
    char error[256];      /* set when the check could not run */
} ad_gradcheck_report;

/* Compares backward's gradient with central differences
 * (f(x+eps) - f(x-eps)) / 2eps, accumulated in double, for every element of
 * every input. A value with more than one element is reduced to
 * Σ w_i·f_i with fixed pseudo-random weights w, so every output element is
 * tested. Error per element: |analytic - numeric| / max(1, |analytic|,
 * |numeric|). Returns the worst, or -1 when f failed (see report->error).
 * The inputs are perturbed in place and restored. report may be NULL. */
TN_API double ad_gradcheck(ad_fn f, void *ctx, tn_tensor *const *inputs, int n,
                    double eps, ad_gradcheck_report *report);
/* The same for a whole model whose function makes its own parameter leaves
 * (ad_param over values[i] and grads[i], e.g. from an nn_params store): f
 * ignores its `inputs` argument; backward's result is read from grads[i]
 * (zeroed first). Any number of tensors. */
TN_API double ad_gradcheck_model(ad_fn f, void *ctx, tn_tensor *const *values,
                          tn_tensor *const *grads, int n, double eps,
                          ad_gradcheck_report *report);

#endif
