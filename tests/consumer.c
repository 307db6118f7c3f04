/* consumer.c: a user's program, compiled against the *installed* headers and
 * library through pkg-config (`tape` for float, `tape-double` for double):
 * fits y = 3x by gradient descent; builds a VAE through <tape/model.h>; and
 * trains a small conv autoencoder whose loss uses conv2d, conv_transpose2d,
 * logsumexp, softmax and Gumbel-softmax, then gradient-checks that loss
 * with the eps and tolerance its build supports. */
#include <stdio.h>
#include <tape/ad.h>
#include <tape/model.h>

/* eps and tolerance for ad_gradcheck: double resolves central differences
 * to 1e-6; float only to about 1e-2 */
#ifdef TN_REAL_DOUBLE
#define EPS 1e-6
#define TOL 1e-6
#else
#define EPS 1e-2
#define TOL 2e-2
#endif

/* loss(W1, b1, W2, b2) on a batch of 8x8 images: conv (1->4, stride 2) ->
 * relu -> transposed conv (4->1) = logits; BCE to the input, plus a
 * logsumexp / softmax / Gumbel-softmax term over the 64 logits of a row */
typedef struct {
    tn_rng rng;
    const tn_tensor *X; /* the batch (N, 1, 8, 8) */
} batch;

static ad_var *conv_loss(ad_tape *t, ad_var *const *p, void *ctx)
{
    batch *b = ctx;
    tn_rng *rng = &b->rng;
    tn_rng_seed(rng, 7, 1); /* gradient checks need the same noise each call */
    const tn_tensor *X = b->X;
    ad_var *x = ad_const(t, X);
    ad_var *h = ad_relu(ad_conv2d(x, p[0], p[1], 2, 1));           /* (N,4,4,4) */
    ad_var *logits = ad_conv_transpose2d(h, p[2], p[3], 2, 1, 0);  /* (N,1,8,8) */
    ad_var *bce = ad_mean(ad_bce_logits(logits, x));
    ad_var *rows = ad_reshape(logits, 2, (const size_t[]){X->shape[0], 64});
    ad_var *lse = ad_mean(ad_logsumexp(rows, -1, 0));
    ad_var *ent = ad_mean(ad_mul(ad_softmax(rows), ad_gumbel_softmax(rows, (tn_real)0.5, 0, rng)));
    return ad_add(bce, ad_scale(ad_add(lse, ent), (tn_real)0.01));
}

static int conv_autoencoder(void)
{
    const size_t shapes[4][4] = {{4, 1, 3, 3}, {4}, {4, 1, 4, 4}, {1}};
    const int nd[4] = {4, 1, 4, 1};
    tn_tensor *v[4], *g[4];
    tn_rng rng;
    tn_rng_seed(&rng, 3, 3);
    for (int i = 0; i < 4; i++) {
        v[i] = tn_new(nd[i], shapes[i]);
        g[i] = tn_new(nd[i], shapes[i]);
        tn_rng_fill_uniform(&rng, v[i], (tn_real)-0.3, (tn_real)0.3);
    }
    tn_tensor *X = tn_new(4, (const size_t[]){6, 1, 8, 8});
    for (size_t i = 0; i < X->size; i++) /* stripes: a pattern to learn */
        X->data[i] = (tn_real)((i / 8) % 2);
    ad_tape *t = ad_tape_new(0);
    batch b = {.X = X};
    double first = 0, last = 0;
    for (int step = 0; step < 200; step++) {
        ad_tape_reset(t);
        ad_var *p[4];
        for (int i = 0; i < 4; i++)
            p[i] = ad_param(t, v[i], g[i]);
        ad_var *loss = conv_loss(t, p, &b);
        if (ad_backward(t, loss) != 0) {
            fprintf(stderr, "consumer: %s\n", ad_tape_error(t));
            return 1;
        }
        last = ad_item(loss);
        if (step == 0)
            first = last;
        for (int i = 0; i < 4; i++) {
            tn_axpy(v[i], (tn_real)-0.5, g[i]);
            tn_fill(g[i], 0);
        }
    }
    printf("conv autoencoder: loss %.4f -> %.4f over 200 steps (%s)\n", first, last, TN_REAL_NAME);
    ad_gradcheck_report rep;
    double err = ad_gradcheck(conv_loss, &b, v, 4, EPS, &rep);
    printf("gradient check at eps %g: worst error %.3g (tolerance %g)\n", EPS, err, TOL);
    ad_tape_free(t);
    for (int i = 0; i < 4; i++)
        tn_free(v[i]), tn_free(g[i]);
    tn_free(X);
    return !(last < 0.8 * first) || !(err >= 0 && err <= TOL);
}

int main(void)
{
    tn_tensor *w = tn_new(1, (const size_t[]){1}), *g = tn_new(1, (const size_t[]){1});
    tn_tensor *x = tn_new(1, (const size_t[]){4}), *y = tn_new(1, (const size_t[]){4});
    ad_tape *t = ad_tape_new(0);
    for (int i = 0; i < 4; i++)
        x->data[i] = (tn_real)i, y->data[i] = (tn_real)(3 * i);
    for (int step = 0; step < 100; step++) {
        ad_tape_reset(t);
        ad_var *pred = ad_mul(ad_param(t, w, g), ad_const(t, x));
        ad_var *loss = ad_mean(ad_square(ad_sub(pred, ad_const(t, y))));
        if (ad_backward(t, loss) != 0) {
            fprintf(stderr, "consumer: %s\n", ad_tape_error(t));
            return 1;
        }
        w->data[0] -= (tn_real)0.1 * g->data[0];
        g->data[0] = 0;
    }
    int ok = w->data[0] > 2.99 && w->data[0] < 3.01;
    printf("w = %g (expected 3)\n", (double)w->data[0]);
    ad_tape_free(t);
    tn_free(w), tn_free(g), tn_free(x), tn_free(y);
    nn_error err;
    tn_rng rng;
    tn_rng_seed(&rng, 1, 1);
    model_config c = model_defaults(MODEL_VAE);
    model *m = model_new(&c, &rng, &err);
    if (!m || nn_params_size(m->params) != 652824) {
        fprintf(stderr, "consumer: %s\n", m ? "wrong parameter count" : err.msg);
        return 1;
    }
    printf("VAE 784-400-20: %zu parameters\n", nn_params_size(m->params));
    model_free(m);
    return ok && conv_autoencoder() == 0 ? 0 : 1;
}
