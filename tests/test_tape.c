/* test_tape.c: the tape's semantics: a value used twice, accumulation over
 * two backward passes, reset, no-grad mode, errors that propagate and name
 * shapes, a steady state without new memory, and a small model that learns. */
#include <string.h>

#include "ad_internal.h"
#include "test.h"

#define SHAPE(...) (const size_t[]){__VA_ARGS__}

void test_op_table_complete(void)
{
    for (int i = 0; i < AD_OP_COUNT; i++) {
        CHECK(ad_ops[i] != NULL);
        if (!ad_ops[i])
            continue;
        CHECK(ad_ops[i]->name && ad_ops[i]->shape && ad_ops[i]->forward &&
              ad_ops[i]->backward);
        CHECK(ad_ops[i]->arity >= (i == AD_OP_LEAF ? 0 : 1) && ad_ops[i]->arity <= 3);
        for (int j = 0; j < i; j++)
            CHECK(!ad_ops[j] || strcmp(ad_ops[i]->name, ad_ops[j]->name) != 0);
    }
}

void test_tape_reuse_of_value(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = test_tensor(1, SHAPE(3), (const double[]){1, -2, 3});
    tn_tensor *gx = tn_new(1, SHAPE(3));
    ad_var *v = ad_param(t, x, gx);
    /* y = Σ (x·x + x): dy/dx = 2x + 1, both uses of x contribute */
    ad_var *y = ad_sum(ad_add(ad_mul(v, v), v));
    CHECK(ad_backward(t, y) == 0);
    CHECK(gx->data[0] == 3 && gx->data[1] == -3 && gx->data[2] == 7);
    /* a diamond: h = e^x feeds two branches */
    tn_fill(gx, 0);
    ad_tape_reset(t);
    v = ad_param(t, x, gx);
    ad_var *h = ad_exp(v);
    y = ad_sum(ad_add(ad_scale(h, 2), ad_square(h))); /* 2e^x + e^2x */
    CHECK(ad_backward(t, y) == 0);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(gx->data[i], 2 * exp(x->data[i]) + 2 * exp(2 * x->data[i]),
                   1e-4 * (1 + 2 * exp(2 * x->data[i])));
    ad_tape_free(t);
    tn_free(x), tn_free(gx);
}

/* Backwards that write a fresh gradient instead of adding to a zeroed one
 * (matmul, linear, unary, bce_logits_rows) and a reshape that hands its
 * gradient's memory to its input: h = relu(x·Wᵀ) feeds a reshape and
 * itself, x·x feeds matmul twice; the gradients are the plain sums, once
 * and after a second backward on the same tape. */
void test_tape_fresh_and_adopted_gradients(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = test_tensor(2, SHAPE(2, 3), (const double[]){1, -2, 3, 0.5, 1, -1});
    tn_tensor *w = test_tensor(2, SHAPE(2, 3), (const double[]){0.5, 1, 0.25, -1, 2, 1});
    tn_tensor *gx = tn_new(2, SHAPE(2, 3)), *gw = tn_new(2, SHAPE(2, 3));
    ad_var *X = ad_param(t, x, gx), *W = ad_param(t, w, gw);
    ad_var *h = ad_relu(ad_matmul(X, 0, W, 1)); /* (2, 2) */
    ad_var *lin = ad_sum(ad_scale(h, 3));
    ad_var *r = ad_reshape(h, 1, SHAPE(4));     /* h's last consumer: its backward runs first */
    ad_var *y = ad_add(ad_sum(ad_mul(r, r)), lin); /* Σ h² + 3 Σ h */
    y = ad_add(y, ad_sum(ad_matmul(X, 0, X, 1)));                   /* + Σ x·xᵀ */
    CHECK(ad_backward(t, y) == 0);
    /* by hand: dh = 2h + 3 where h > 0; dx = dh·W + 2 Σ_rows x (x·xᵀ's
     * gradient: every row gets the sum of the rows, twice); dW = dhᵀ·x */
    double H[4], want_x[6], want_w[6];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int k = 0; k < 3; k++)
                s += x->data[i * 3 + k] * w->data[j * 3 + k];
            H[i * 2 + j] = s > 0 ? 2 * s + 3 : 0;
        }
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) {
            want_x[i * 3 + k] = H[i * 2] * w->data[k] + H[i * 2 + 1] * w->data[3 + k] +
                                2 * (x->data[k] + x->data[3 + k]);
            want_w[i * 3 + k] = H[i] * x->data[k] + H[2 + i] * x->data[3 + k];
        }
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(gx->data[i], want_x[i], 1e-5);
        CHECK_NEAR(gw->data[i], want_w[i], 1e-5);
    }
    CHECK(ad_backward(t, y) == 0); /* again: twice the gradients */
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(gx->data[i], 2 * want_x[i], 1e-5);
        CHECK_NEAR(gw->data[i], 2 * want_w[i], 1e-5);
    }
    ad_tape_free(t);
    tn_free(x), tn_free(w), tn_free(gx), tn_free(gw);
}

/* ad_tape_write_grads: a block of 4 gradients (W 2x3 at 0, b 3 at 6, u 2
 * at 9, an unused 2 at 11, 13 values) full of NaN before each backward.
 * The step makes W twice (its two gradients share memory: added), b (an
 * add, whose backward adds to a zeroed buffer), u (not reached by the loss)
 * and leaves the last out: W and b get their gradients, u and the rest
 * zeros, twice in a row (written, not added), on a new step too; a param
 * outside the block is added to as before. */
void test_tape_write_grads(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_real vals[13], block[13];
    for (int i = 0; i < 13; i++)
        vals[i] = (tn_real)(0.5 * i - 2);
    tn_tensor W = tn_wrap(vals, 2, SHAPE(2, 3)), b = tn_wrap(vals + 6, 1, SHAPE(3));
    tn_tensor u = tn_wrap(vals + 9, 1, SHAPE(2));
    tn_tensor gW = tn_wrap(block, 2, SHAPE(2, 3)), gb = tn_wrap(block + 6, 1, SHAPE(3));
    tn_tensor gu = tn_wrap(block + 9, 1, SHAPE(2));
    tn_tensor *o = test_tensor(1, SHAPE(3), (const double[]){1, 2, 3}), *go = tn_new(1, SHAPE(3));
    tn_tensor *x = test_tensor(2, SHAPE(1, 3), (const double[]){1, -1, 2});
    ad_tape_write_grads(t, block, 13);
    for (int round = 0; round < 3; round++) {
        ad_tape_reset(t);
        for (int i = 0; i < 13; i++)
            block[i] = NAN;
        ad_var *Wv = ad_param(t, &W, &gW), *W2 = ad_param(t, &W, &gW);
        ad_var *h = ad_add(ad_matmul(ad_const(t, x), 0, Wv, 1), ad_matmul(ad_const(t, x), 0, W2, 1));
        ad_var *B = ad_param(t, &b, &gb);
        (void)ad_param(t, &u, &gu);
        ad_var *O = ad_param(t, o, go); /* outside the block */
        /* y = Σ_j h_j·b_j-ish: h (1x2) against b's first two, plus Σ b ⊙ o */
        ad_var *y = ad_add(ad_sum(ad_mul(h, ad_slice(ad_reshape(B, 2, SHAPE(1, 3)), 0, 2))),
                           ad_sum(ad_mul(B, O)));
        CHECK(ad_backward(t, y) == 0);
        if (round == 1)
            CHECK(ad_backward(t, y) == 0); /* a second backward writes the same */
        /* h_j = 2 Σ_k x_k W_jk: dW_jk = 2 b_j x_k; db_j = h_j (j < 2) + o_j; do_j = b_j */
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++)
                CHECK_NEAR(block[j * 3 + k], 2 * vals[6 + j] * x->data[k], 1e-6);
        for (int j = 0; j < 3; j++) {
            double hj = 0;
            for (int k = 0; j < 2 && k < 3; k++)
                hj += 2 * x->data[k] * vals[j * 3 + k];
            CHECK_NEAR(block[6 + j], hj + o->data[j], 1e-5);
        }
        for (int i = 9; i < 13; i++)
            CHECK(block[i] == 0);
        for (int j = 0; j < 3; j++) /* added: 1, 3 (two backwards), then 4 */
            CHECK_NEAR(go->data[j], (round == 0 ? 1 : round == 1 ? 3 : 4) * vals[6 + j], 1e-6);
    }
    ad_tape_write_grads(t, NULL, 0); /* off: added to again */
    ad_tape_reset(t);
    for (int i = 0; i < 13; i++)
        block[i] = 1;
    CHECK(ad_backward(t, ad_sum(ad_param(t, &b, &gb))) == 0);
    CHECK(block[6] == 2 && block[8] == 2 && block[0] == 1 && block[12] == 1);
    ad_tape_free(t);
    tn_free(o), tn_free(go), tn_free(x);
}

void test_tape_accumulates_two_backwards(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = test_tensor(1, SHAPE(2), (const double[]){2, 5});
    tn_tensor *gx = tn_new(1, SHAPE(2));
    ad_var *y = ad_sum(ad_square(ad_param(t, x, gx)));
    CHECK(ad_backward(t, y) == 0);
    CHECK(gx->data[0] == 4 && gx->data[1] == 10);
    CHECK(ad_backward(t, y) == 0); /* the same graph again: adds 2x again */
    CHECK(gx->data[0] == 8 && gx->data[1] == 20);
    /* a new step without zeroing: parameters' gradients persist */
    ad_tape_reset(t);
    y = ad_sum(ad_param(t, x, gx));
    CHECK(ad_backward(t, y) == 0);
    CHECK(gx->data[0] == 9 && gx->data[1] == 21);
    ad_tape_free(t);
    tn_free(x), tn_free(gx);
}

void test_tape_reset(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = tn_new(2, SHAPE(4, 4)), *gx = tn_new(2, SHAPE(4, 4));
    ad_var *v = ad_param(t, x, gx);
    ad_sum(ad_tanh(ad_exp(v)));
    CHECK(ad_tape_len(t) == 3);
    CHECK(tn_arena_used(ad_tape_arena(t)) > 0);
    CHECK(ad_matmul(v, 0, ad_reshape(v, 1, SHAPE(16)), 0) == NULL);
    CHECK(!ad_tape_ok(t));
    ad_tape_reset(t);
    CHECK(ad_tape_len(t) == 0);
    CHECK(tn_arena_used(ad_tape_arena(t)) == 0);
    CHECK(ad_tape_ok(t) && ad_tape_error(t)[0] == '\0');
    ad_tape_free(t);
    tn_free(x), tn_free(gx);
}

void test_tape_no_grad(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = test_tensor(1, SHAPE(2), (const double[]){1, 2});
    tn_tensor *gx = tn_new(1, SHAPE(2));
    CHECK(ad_set_grad_enabled(t, 0) == 1);
    CHECK(!ad_grad_enabled(t));
    ad_var *y = ad_sum(ad_square(ad_param(t, x, gx)));
    CHECK(ad_item(y) == 5); /* values are computed */
    CHECK(ad_tape_len(t) == 0); /* nothing recorded */
    CHECK(ad_backward(t, y) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "no-grad");
    CHECK(gx->data[0] == 0);
    ad_tape_reset(t);
    CHECK(ad_set_grad_enabled(t, 1) == 0);
    y = ad_sum(ad_square(ad_param(t, x, gx)));
    CHECK(ad_tape_len(t) == 2);
    CHECK(ad_backward(t, y) == 0 && gx->data[1] == 4);
    ad_tape_free(t);
    tn_free(x), tn_free(gx);
}

void test_tape_error_propagation(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *a = tn_new(2, SHAPE(2, 3)), *b = tn_new(2, SHAPE(4, 5));
    tn_tensor *ga = tn_new(2, SHAPE(2, 3));
    ad_var *va = ad_param(t, a, ga), *vb = ad_const(t, b);
    ad_var *bad = ad_add(va, vb);
    CHECK(bad == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "add: (2x3), (4x5): shapes do not broadcast");
    /* later ops on the failed value fail too, and the first error stays */
    ad_var *y = ad_sum(ad_exp(bad));
    CHECK(y == NULL);
    CHECK(ad_sigmoid(va) == NULL); /* the tape is failed until reset */
    CHECK(ad_matmul(va, 0, vb, 0) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "add: (2x3), (4x5)");
    CHECK(ad_backward(t, y) == -1);
    CHECK(ad_item(y) != ad_item(y)); /* NaN for NULL */
    CHECK(ad_value(NULL) == NULL && ad_grad(NULL) == NULL);
    ad_tape_free(t);
    tn_free(a), tn_free(b), tn_free(ga);
}

void test_tape_shape_error_message(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = tn_new(2, SHAPE(128, 784)), *w = tn_new(2, SHAPE(400, 784));
    ad_var *y = ad_matmul(ad_const(t, x), 0, ad_const(t, w), 0);
    CHECK(y == NULL);
    CHECK(strcmp(ad_tape_error(t),
                 "matmul: (128x784)·(400x784): inner dimensions differ") == 0);
    ad_tape_reset(t);
    CHECK(ad_matmul(ad_const(t, x), 0, ad_const(t, w), 1) != NULL); /* x·wᵀ */
    tn_tensor *b = tn_new(1, SHAPE(300));
    CHECK(ad_linear(ad_const(t, x), ad_const(t, w), ad_const(t, b)) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "linear: (128x784), (400x784), (300): b's length");
    ad_tape_reset(t);
    CHECK(ad_slice(ad_const(t, x), 780, 5) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "slice: (128x784): start 780, length 5 runs past the last axis (784)");
    ad_tape_reset(t);
    CHECK(ad_sum_axis(ad_const(t, x), 2) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "sum_axis: (128x784): axis out of range");
    ad_tape_reset(t);
    CHECK(ad_reshape(ad_const(t, x), 2, SHAPE(100, 100)) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "reshape: (128x784): to (100x100): 10000 elements, the input has 100352");
    ad_tape_reset(t);
    CHECK(ad_kl_normal(ad_const(t, x), ad_const(t, w)) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "kl_normal: (128x784), (400x784): shapes do not broadcast");
    ad_tape_reset(t);
    CHECK(ad_gather_rows(ad_const(t, w), (const int[]){3, 400}, 2) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "gather_rows: (400x784): index 400 at position 1 is outside 0..399");
    ad_tape_reset(t);
    CHECK(ad_one_hot(t, (const int[]){1, 10}, 2, 10) != NULL); /* still a constant */
    CHECK_STR_HAS(ad_tape_error(t), "one_hot: label 10 at row 1 is outside 0..9");
    ad_tape_reset(t);
    CHECK(ad_conv2d(ad_const(t, x), ad_const(t, w), ad_const(t, b), 1, 0) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "conv2d: (128x784), (400x784), (300): expects x (N, C, H, W)");
    ad_tape_free(t);
    tn_free(x), tn_free(w), tn_free(b);
}

void test_tape_backward_errors(void)
{
    ad_tape *t = ad_tape_new(0), *t2 = ad_tape_new(0);
    tn_tensor *x = tn_new(2, SHAPE(2, 2)), *gx = tn_new(2, SHAPE(2, 2));
    ad_var *v = ad_param(t, x, gx);
    CHECK(ad_backward(t, ad_exp(v)) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "backward: the loss must have one element, not (2x2)");
    ad_tape_reset(t);
    CHECK(ad_backward(t, NULL) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "backward: the loss is NULL");
    ad_tape_reset(t);
    ad_var *c = ad_sum(ad_const(t, x));
    CHECK(ad_backward(t, c) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "depends on no parameter");
    ad_tape_reset(t);
    v = ad_param(t, x, gx);
    ad_var *w = ad_param(t2, x, gx);
    CHECK(ad_add(v, w) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "add: inputs come from different tapes");
    tn_tensor *wrong = tn_new(1, SHAPE(4));
    ad_tape_reset(t);
    CHECK(ad_param(t, x, wrong) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "param: value (2x2) and gradient (4)");
    ad_tape_free(t), ad_tape_free(t2);
    tn_free(x), tn_free(gx), tn_free(wrong);
}

/* One VAE-shaped step; returns the loss. */
static double vae_step(ad_tape *t, tn_tensor **p, tn_tensor **g, tn_tensor *x,
                       tn_rng *r)
{
    ad_tape_reset(t);
    ad_var *P[6];
    for (int i = 0; i < 6; i++)
        P[i] = ad_param(t, p[i], g[i]);
    ad_var *X = ad_const(t, x);
    ad_var *enc = ad_linear(ad_relu(ad_linear(X, P[0], P[1])), P[2], P[3]);
    ad_var *mu = ad_slice(enc, 0, 4), *lv = ad_slice(enc, 4, 4);
    ad_var *z = ad_sample_normal(mu, lv, r);
    ad_var *rec = ad_sum(ad_bce_logits(ad_linear(z, P[4], P[5]), X));
    ad_var *loss = ad_add(rec, ad_sum(ad_kl_normal(mu, lv)));
    if (ad_backward(t, loss) != 0)
        return NAN;
    return ad_item(loss);
}

void test_tape_steady_state_no_alloc(void)
{
    const int nd[6] = {2, 1, 2, 1, 2, 1};
    const size_t sh[6][2] = {{32, 64}, {32}, {8, 32}, {8}, {64, 4}, {64}};
    tn_tensor *p[6], *g[6];
    for (int i = 0; i < 6; i++) {
        p[i] = test_random(nd[i], sh[i], -0.1, 0.1, (uint64_t)i);
        g[i] = tn_new(nd[i], sh[i]);
    }
    tn_tensor *x = test_random(2, SHAPE(16, 64), 0, 1, 9);
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    ad_tape *t = ad_tape_new(4096); /* small: the first step must grow it */
    CHECK(isfinite(vae_step(t, p, g, x, &r)));
    size_t blocks = tn_arena_block_allocs(ad_tape_arena(t));
    size_t cap = tn_arena_capacity(ad_tape_arena(t));
    size_t len = ad_tape_len(t);
    CHECK(blocks > 1);
    long allocs = test_allocs;
    for (int step = 0; step < 5; step++)
        CHECK(isfinite(vae_step(t, p, g, x, &r)));
    CHECK(test_allocs == allocs); /* not one malloc in five steps */
    CHECK(tn_arena_block_allocs(ad_tape_arena(t)) == blocks);
    CHECK(tn_arena_capacity(ad_tape_arena(t)) == cap);
    CHECK(ad_tape_len(t) == len);
    ad_tape_free(t);
    for (int i = 0; i < 6; i++)
        tn_free(p[i]), tn_free(g[i]);
    tn_free(x);
}

void test_tape_constants_get_no_grad(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *x = test_tensor(1, SHAPE(2), (const double[]){1, 2});
    tn_tensor *gx = tn_new(1, SHAPE(2));
    ad_var *c = ad_const(t, x), *p = ad_param(t, x, gx);
    ad_var *cc = ad_exp(c); /* depends only on a constant: not recorded */
    CHECK(ad_tape_len(t) == 0);
    ad_var *y = ad_sum(ad_mul(cc, p));
    CHECK(ad_tape_len(t) == 2);
    CHECK(ad_backward(t, y) == 0);
    CHECK(ad_grad(c) == NULL && ad_grad(cc) == NULL);
    CHECK(ad_grad(p) == gx);
    CHECK_NEAR(gx->data[1], exp(2.0), 1e-5);
    ad_tape_free(t);
    tn_free(x), tn_free(gx);
}

void test_sample_normal_statistics(void)
{
    const size_t n = 200000;
    ad_tape *t = ad_tape_new(0);
    ad_var *mu = ad_const_new(t, 1, SHAPE(n)), *lv = ad_const_new(t, 1, SHAPE(n));
    for (size_t i = 0; i < n; i++)
        ad_data(mu)[i] = 1.5, ad_data(lv)[i] = (tn_real)log(4.0); /* sd 2 */
    tn_rng r;
    tn_rng_seed(&r, 77, 0);
    ad_var *z = ad_sample_normal(mu, lv, &r);
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++)
        s += ad_data(z)[i], s2 += ad_data(z)[i] * ad_data(z)[i];
    double m = s / (double)n, v = s2 / (double)n - m * m;
    CHECK_NEAR(m, 1.5, 5 * 2 / sqrt((double)n));
    CHECK_NEAR(v, 4, 5 * 4 * sqrt(2.0 / (double)n));
    ad_tape_free(t);
}

/* A 2-4-1 tanh network fits four points by plain gradient descent. */
void test_mlp_step_reduces_loss(void)
{
    tn_tensor *W1 = test_random(2, SHAPE(8, 2), -1, 1, 1), *b1 = tn_new(1, SHAPE(8));
    tn_tensor *W2 = test_random(2, SHAPE(1, 8), -1, 1, 2), *b2 = tn_new(1, SHAPE(1));
    tn_tensor *p[4] = {W1, b1, W2, b2}, *g[4];
    for (int i = 0; i < 4; i++)
        g[i] = tn_new(p[i]->ndim, p[i]->shape);
    tn_tensor *x = test_tensor(2, SHAPE(4, 2), (const double[]){0, 0, 0, 1, 1, 0, 1, 1});
    tn_tensor *y = test_tensor(2, SHAPE(4, 1), (const double[]){0, 1, 1, 0});
    ad_tape *t = ad_tape_new(0);
    double first = 0, last = 0;
    for (int step = 0; step < 500; step++) {
        ad_tape_reset(t);
        ad_var *P[4];
        for (int i = 0; i < 4; i++)
            P[i] = ad_param(t, p[i], g[i]);
        ad_var *h = ad_tanh(ad_linear(ad_const(t, x), P[0], P[1]));
        ad_var *logits = ad_linear(h, P[2], P[3]);
        ad_var *loss = ad_mean(ad_bce_logits(logits, ad_const(t, y)));
        CHECK(ad_backward(t, loss) == 0);
        if (step == 0)
            first = ad_item(loss);
        last = ad_item(loss);
        for (int i = 0; i < 4; i++) {
            tn_axpy(p[i], (tn_real)-0.5, g[i]);
            tn_fill(g[i], 0);
        }
    }
    CHECK(first > 0.6);
    CHECK(last < 0.1); /* XOR learned */
    ad_tape_free(t);
    for (int i = 0; i < 4; i++)
        tn_free(p[i]), tn_free(g[i]);
    tn_free(x), tn_free(y);
}
