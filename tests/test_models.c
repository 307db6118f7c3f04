/* test_models.c: every model gradient-checked whole in double at tiny sizes,
 * its loss falling with a fixed seed on a slice of real MNIST, the
 * evaluations (IWAE bound, active units, reconstruction), corruption noise,
 * and configurations and checkpoints of models. */
#include "model.h"
#include "model_internal.h"
#include "test.h"

#define SHAPE(...) (const size_t[]){__VA_ARGS__}

typedef struct {
    model *m;
    tn_tensor *x;
    tn_rng rng;
    const int *labels;
} mctx;

static model_config tiny(model_kind kind);

/* The convolutional body on 4 x 8 images: x (4, 32), conv 1 -> 32 -> 64
 * channels down to 1 x 2, then the linear layers. The two 32 -> 64 kernels
 * (32 768 numbers each) are left out of the numeric check to keep it
 * seconds long; every other tensor is checked, the first convolution's
 * kernel included, whose gradient passes through theirs. The ops
 * themselves are checked whole in test_grad. */
static model_config tiny_conv(model_kind kind)
{
    model_config c = tiny(kind);
    c.input_dim = 32, c.conv_rows = 4, c.conv_cols = 8;
    return c;
}

static ad_var *model_fn(ad_tape *t, ad_var *const *in, void *ctx)
{
    (void)in;
    mctx *c = ctx;
    model_loss l;
    tn_rng_seed(&c->rng, 21, 0); /* the same ε and noise at every evaluation */
    if (model_batch_loss(c->m, t, c->x, c->labels, &c->rng, 3, 1, &l))
        return NULL;
    return l.loss;
}

static model_config tiny(model_kind kind)
{
    model_config c = model_defaults(kind);
    c.input_dim = 6, c.n_hidden = 2, c.hidden[0] = 5, c.hidden[1] = 4, c.latent = 3;
    c.act = NN_ACT_SOFTPLUS;
    c.init = NN_INIT_GLOROT_UNIFORM;
    return c;
}

void test_models_gradcheck(void)
{
    struct {
        const char *name;
        model_config c;
    } cases[24];
    int n = 0;
    static const int labels[4] = {2, 0, 1, 2};
    cases[n].name = "vae bernoulli", cases[n++].c = tiny(MODEL_VAE);
    cases[n].name = "vae gaussian, L=3, warm-up, beta", cases[n].c = tiny(MODEL_VAE);
    cases[n].c.likelihood = MODEL_LIK_GAUSSIAN, cases[n].c.samples = 3, cases[n].c.warmup = 10;
    cases[n++].c.beta = 0.5;
    cases[n].name = "vae relu", cases[n].c = tiny(MODEL_VAE), cases[n++].c.act = NN_ACT_RELU;
    cases[n].name = "ae bce", cases[n++].c = tiny(MODEL_AE);
    cases[n].name = "ae mse tanh", cases[n].c = tiny(MODEL_AE), cases[n].c.recon = MODEL_RECON_MSE;
    cases[n++].c.act = NN_ACT_TANH;
    cases[n].name = "sparse kl", cases[n++].c = tiny(MODEL_SPARSE_AE);
    cases[n].name = "sparse l1", cases[n].c = tiny(MODEL_SPARSE_AE), cases[n].c.sparsity = MODEL_SPARSE_L1;
    cases[n++].c.l1 = 0.1;
    cases[n].name = "denoising gaussian", cases[n].c = tiny(MODEL_DENOISING_AE);
    cases[n].c.noise = MODEL_NOISE_GAUSSIAN, cases[n++].c.noise_level = 0.3;
    cases[n].name = "vae on the IWAE bound, k = 3", cases[n].c = tiny(MODEL_VAE), cases[n++].c.iw_k = 3;
    cases[n].name = "iwae gaussian k = 2", cases[n].c = tiny(MODEL_VAE), cases[n].c.iw_k = 2;
    cases[n++].c.likelihood = MODEL_LIK_GAUSSIAN;
    cases[n].name = "conditional vae, 3 classes", cases[n].c = tiny(MODEL_VAE), cases[n++].c.classes = 3;
    cases[n].name = "conditional iwae", cases[n].c = tiny(MODEL_VAE), cases[n].c.classes = 3;
    cases[n++].c.iw_k = 2;
    cases[n].name = "sparse kl on the hidden layer", cases[n].c = tiny(MODEL_SPARSE_AE);
    cases[n++].c.sparse_on = MODEL_SPARSE_ON_HIDDEN;
    cases[n].name = "sparse kl, beta 0", cases[n].c = tiny(MODEL_SPARSE_AE), cases[n++].c.sparse_beta = 0;
    int first_conv = n;
    cases[n].name = "conv vae", cases[n++].c = tiny_conv(MODEL_VAE);
    cases[n].name = "conv vae gaussian", cases[n].c = tiny_conv(MODEL_VAE);
    cases[n++].c.likelihood = MODEL_LIK_GAUSSIAN;
    cases[n].name = "conv conditional iwae", cases[n].c = tiny_conv(MODEL_VAE), cases[n].c.iw_k = 2;
    cases[n++].c.classes = 3;
    cases[n].name = "conv sparse ae on the hidden layer", cases[n].c = tiny_conv(MODEL_SPARSE_AE);
    cases[n++].c.sparse_on = MODEL_SPARSE_ON_HIDDEN;
    for (int k = 0; k < n; k++) {
        nn_error err;
        tn_rng r;
        tn_rng_seed(&r, 100 + (uint64_t)k, 0);
        size_t D = cases[k].c.input_dim;
        mctx c = {model_new(&cases[k].c, &r, &err), test_random(2, SHAPE(4, D), 0.05, 0.95, 7), {0},
                  labels};
        CHECK(c.m != NULL);
        if (!c.m)
            continue;
        int np = 0;
        tn_tensor *vals[32], *grads[32];
        for (int i = 0; i < nn_params_count(c.m->params); i++) {
            tn_tensor *v = nn_params_value(c.m->params, i);
            if (k >= first_conv && v->size == 32768) /* the 32 -> 64 kernels, see tiny_conv */
                continue;
            vals[np] = v, grads[np++] = nn_params_grad(c.m->params, i);
        }
        CHECK(k < first_conv || np == nn_params_count(c.m->params) - 2);
        ad_gradcheck_report rep;
        double e = ad_gradcheck_model(model_fn, &c, vals, grads, np, GRAD_EPS, &rep);
        if (!(e >= 0 && e <= GRAD_TOL)) {
            test_failures++;
            printf("    %s: worst error %.3g in %s[%zu] (analytic %.10g, numeric %.10g) %s\n", cases[k].name,
                   e, nn_params_name(c.m->params, rep.input), rep.index, rep.analytic, rep.numeric, rep.error);
        }
        model_free(c.m);
        tn_free(c.x);
    }
}

static nn_dataset *mnist_slice(size_t n)
{
    char b[512], l[512];
    const char *img = test_data("mnist/t10k-images-idx3-ubyte.gz", b, sizeof b);
    const char *lab = test_data("mnist/t10k-labels-idx1-ubyte.gz", l, sizeof l);
    if (!img || !lab)
        return NULL;
    nn_error err;
    nn_dataset *all = nn_load_idx(img, lab, &err);
    if (!all)
        return NULL;
    nn_dataset *d = nn_data_head(all, n, &err);
    nn_dataset_free(all);
    if (d)
        nn_data_scale(d, 1 / 255.0);
    return d;
}

/* d = the first n MNIST test images in [0, 1], or SKIP without the data. */
#define MNIST_SLICE_OR_SKIP(d, n)                                              \
    char path_[512];                                                           \
    DATA_OR_SKIP(img_, "mnist/t10k-images-idx3-ubyte.gz", path_);             \
    (void)img_;                                                                \
    nn_dataset *d = mnist_slice(n);                                            \
    CHECK(d != NULL);                                                          \
    if (!d)                                                                    \
    return

/* 300 Adam steps on 1000 real images; returns (first, last) mean loss over
 * the first and last 20 steps. */
static void train_slice(model *m, const nn_dataset *d, double *first, double *last)
{
    nn_error err;
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    nn_optim *o = nn_optim_new(&oc, m->params, &err);
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    nn_batches *b = nn_batches_new(d, 100, &r, 0, &err);
    ad_tape *t = ad_tape_new(0);
    *first = *last = 0;
    for (int step = 0; step < 300; step++) {
        tn_tensor x;
        if (!nn_batches_next(b, &x, NULL))
            nn_batches_next(b, &x, NULL);
        model_loss l;
        ad_tape_reset(t);
        nn_params_zero_grad(m->params);
        if (model_batch_loss(m, t, &x, NULL, &r, step, 1, &l) || ad_backward(t, l.loss)) {
            printf("    %s\n", ad_tape_error(t));
            *last = NAN;
            break;
        }
        nn_optim_step(o, m->params);
        if (step < 20)
            *first += ad_item(l.loss) / 20;
        if (step >= 280)
            *last += ad_item(l.loss) / 20;
    }
    ad_tape_free(t);
    nn_batches_free(b);
    nn_optim_free(o);
}

void test_models_loss_falls_on_mnist(void)
{
    MNIST_SLICE_OR_SKIP(d, 1000);
    model_kind kinds[4] = {MODEL_VAE, MODEL_AE, MODEL_SPARSE_AE, MODEL_DENOISING_AE};
    for (int k = 0; k < 4; k++) {
        model_config c = model_defaults(kinds[k]);
        c.hidden[0] = 100, c.latent = kinds[k] == MODEL_VAE ? 10 : 32;
        nn_error err;
        tn_rng r;
        tn_rng_seed(&r, 5, 0);
        model *m = model_new(&c, &r, &err);
        double first, last;
        train_slice(m, d, &first, &last);
        /* from ~540 nats (BCE of a blank guess) to well under 60% of it */
        if (!(last < 0.6 * first)) {
            test_failures++;
            printf("    %s: loss %.2f -> %.2f over 300 steps\n", model_kind_name(kinds[k]), first, last);
        }
        model_free(m);
    }
    nn_dataset_free(d);
}

/* A whole training step of the VAE (batch, loss, backward, Adam) makes no
 * heap allocation once the first step has sized the arena. */
void test_model_step_makes_no_allocation(void)
{
    nn_error err;
    tn_rng r;
    tn_rng_seed(&r, 2, 2);
    model_config c = model_defaults(MODEL_VAE);
    c.input_dim = 50, c.hidden[0] = 40, c.latent = 5, c.samples = 2;
    model *m = model_new(&c, &r, &err);
    tn_tensor *x = test_random(2, SHAPE(64, 50), 0, 1, 3);
    nn_dataset d = {.n = 64, .dim = 50, .x = x->data};
    nn_batches *b = nn_batches_new(&d, 16, &r, 1, &err);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    oc.clip_norm = 5;
    nn_optim *o = nn_optim_new(&oc, m->params, &err);
    ad_tape *t = ad_tape_new(1024);
    long before = 0;
    for (int step = 0; step < 12; step++) {
        if (step == 1)
            before = test_allocs;
        tn_tensor bx;
        if (!nn_batches_next(b, &bx, NULL))
            nn_batches_next(b, &bx, NULL);
        model_loss l;
        ad_tape_reset(t);
        nn_params_zero_grad(m->params);
        CHECK(model_batch_loss(m, t, &bx, NULL, &r, step, 1, &l) == 0 && ad_backward(t, l.loss) == 0);
        nn_optim_step(o, m->params);
    }
    CHECK(test_allocs == before);
    if (test_allocs != before)
        printf("    %ld allocations in 11 steps\n", test_allocs - before);
    ad_tape_free(t);
    nn_optim_free(o);
    nn_batches_free(b);
    model_free(m);
    tn_free(x);
}

void test_models_evaluation(void)
{
    MNIST_SLICE_OR_SKIP(d, 1000);
    model_config c = model_defaults(MODEL_VAE);
    c.hidden[0] = 100, c.latent = 10;
    nn_error err;
    tn_rng r;
    tn_rng_seed(&r, 5, 0);
    model *m = model_new(&c, &r, &err);
    double first, last;
    train_slice(m, d, &first, &last);
    model_eval ev;
    CHECK(model_evaluate(m, d, 128, &r, &ev, &err) == 0);
    CHECK_NEAR(ev.neg_elbo, ev.recon + ev.kl, 1e-6);
    CHECK(ev.kl > 0 && ev.recon > 0);
    /* L_1 is a one-sample ELBO: equal to -ELBO in expectation */
    double l1 = vae_iwae(m, d, 1, &r, &err), l50 = vae_iwae(m, d, 50, &r, &err);
    CHECK_NEAR(l1, -ev.neg_elbo, 1.0);
    /* the bound tightens with k: L_50 > L_1, and stays below 0 */
    CHECK(l50 > l1 + 0.5 && l50 < 0);
    /* the samples of an example share its x (log_lik takes z (S, N, J)) or
     * take copies of it: the same bound from the same draws */
    nn_latent shared = model_latent(m, 28, 28), copies = shared;
    copies.log_lik_samples = 0;
    CHECK(shared.log_lik_samples == 1);
    tn_rng r1, r2;
    tn_rng_seed(&r1, 9, 1), tn_rng_seed(&r2, 9, 1);
    nn_dataset *few = nn_data_head(d, 40, &err);
    double a = nn_latent_iwae(&shared, few, 70, &r1, &err), b = nn_latent_iwae(&copies, few, 70, &r2, &err);
    CHECK(isfinite(a) && a < 0);
    CHECK_NEAR(a, b, 1e-5 * fabs(b));
    /* blocks of 16 examples, a block per thread with a stream of its own:
     * the same bound, to the bit, on one thread and on two */
    int threads = tn_get_threads();
    double on[2];
    for (int n = 1; n <= 2; n++) {
        tn_set_threads(n);
        tn_rng_seed(&r1, 9, 1);
        on[n - 1] = nn_latent_iwae(&shared, few, 70, &r1, &err);
    }
    tn_set_threads(threads);
    CHECK(isfinite(on[0]) && on[0] == on[1]);
    nn_dataset_free(few);
    /* active units: only unit 0's mean may vary once the other rows of the
     * μ layer (the encoder's last layer) and their biases are zeroed */
    int last_w = nn_params_find(m->params, "encoder.1.weight");
    int last_b = nn_params_find(m->params, "encoder.1.bias");
    tn_tensor *W = nn_params_value(m->params, last_w), *B = nn_params_value(m->params, last_b);
    for (size_t j = 1; j < c.latent; j++) {
        for (size_t i = 0; i < W->shape[1]; i++)
            W->data[j * W->shape[1] + i] = 0;
        B->data[j] = 0;
    }
    double var[10];
    CHECK(model_active_units(m, d, 0.01, var, &err) == 1);
    CHECK(var[0] > 0.01 && var[1] == 0);
    model_free(m);
    /* the denoising AE reconstructs corrupted input better than a plain AE
     * trained on clean data does: the point of denoising */
    c = model_defaults(MODEL_DENOISING_AE);
    c.hidden[0] = 100, c.latent = 32;
    m = model_new(&c, &r, &err);
    train_slice(m, d, &first, &last);
    tn_rng_seed(&r, 77, 0);
    CHECK(model_evaluate(m, d, 128, &r, &ev, &err) == 0);
    CHECK(ev.recon > 0 && ev.recon_noisy > 0 && ev.recon_noisy != ev.recon);
    model_config pc = c;
    pc.kind = MODEL_AE;
    model *plain = model_new(&pc, &r, &err);
    train_slice(plain, d, &first, &last);
    nn_dataset *noisy = nn_data_head(d, d->n, &err);
    tn_tensor nx = tn_wrap(noisy->x, 2, (const size_t[]){noisy->n, noisy->dim});
    tn_rng_seed(&r, 77, 0);
    ae_corrupt(&c, &nx, &r); /* the same masking noise as the evaluation's */
    model_eval pe;
    CHECK(model_evaluate(plain, noisy, 128, &r, &pe, &err) == 0);
    if (!(ev.recon_noisy < pe.recon)) {
        test_failures++;
        printf("    from masked input: denoising AE %.2f, plain AE %.2f\n", ev.recon_noisy, pe.recon);
    }
    nn_dataset_free(noisy);
    model_free(plain);
    CHECK(model_active_units(m, d, 0.01, NULL, &err) > 0);
    CHECK(isnan(vae_iwae(m, d, 5, &r, &err)));
    CHECK_STR_HAS(err.msg, "not a VAE");
    model_free(m);
    nn_dataset_free(d);
}

void test_corruption_noise(void)
{
    model_config c = model_defaults(MODEL_DENOISING_AE);
    tn_rng r;
    tn_rng_seed(&r, 3, 3);
    tn_tensor *x = tn_new(1, SHAPE(100000));
    c.noise = MODEL_NOISE_MASK, c.noise_level = 0.3;
    tn_fill(x, 1);
    ae_corrupt(&c, x, &r);
    CHECK_NEAR(1 - tn_mean_all(x), 0.3, 5 * sqrt(0.21 / 100000));
    c.noise = MODEL_NOISE_SALT_PEPPER, c.noise_level = 0.2;
    tn_fill(x, (tn_real)0.5);
    ae_corrupt(&c, x, &r);
    size_t zeros = 0, ones = 0;
    for (size_t i = 0; i < x->size; i++)
        zeros += x->data[i] == 0, ones += x->data[i] == 1;
    CHECK_NEAR((double)(zeros + ones) / 100000, 0.2, 0.01);
    CHECK_NEAR((double)zeros / (double)(zeros + ones), 0.5, 0.02);
    c.noise = MODEL_NOISE_GAUSSIAN, c.noise_level = 0.4, c.noise_clip = 0; /* unclipped: σ */
    tn_fill(x, 0);
    ae_corrupt(&c, x, &r);
    double s2 = 0;
    for (size_t i = 0; i < x->size; i++)
        s2 += x->data[i] * x->data[i];
    CHECK_NEAR(sqrt(s2 / 100000), 0.4, 0.01);
    c.noise_clip = 1; /* the default: x̃ stays a pixel value, half the zeros stay 0 */
    tn_fill(x, 0);
    ae_corrupt(&c, x, &r);
    size_t at_zero = 0, outside = 0;
    for (size_t i = 0; i < x->size; i++)
        at_zero += x->data[i] == 0, outside += x->data[i] < 0 || x->data[i] > 1;
    CHECK(outside == 0);
    CHECK_NEAR((double)at_zero / 100000, 0.5, 0.01);
    /* the stream, on 1 and 2 threads: pixel i of masking noise is picked by
     * the stream's i-th 32-bit draw, Gaussian noise is the stream's i-th
     * normal, salt-and-pepper the same on both; the generator ends where
     * one pass in order would leave it (98 chunks of 1024 and a short one) */
    int threads = tn_get_threads();
    const size_t N = 100353;
    tn_tensor *y = tn_new(1, SHAPE(N)), *y1 = tn_new(1, SHAPE(N));
    uint32_t *u = malloc(N * sizeof *u);
    float *e = malloc(N * sizeof *e);
    for (int th = 1; th <= 2; th++) {
        tn_set_threads(th);
        tn_rng copy = r;
        c.noise = MODEL_NOISE_MASK, c.noise_level = 0.3;
        tn_fill(y, 1);
        ae_corrupt(&c, y, &r);
        tn_rng_fill_u32(&copy, u, N);
        int same = tn_rng_u32(&r) == tn_rng_u32(&copy);
        for (size_t i = 0; i < N; i++)
            same &= y->data[i] == (u[i] < (uint32_t)(0.3 * 4294967296.0) ? 0 : 1);
        CHECK(same);
        c.noise = MODEL_NOISE_GAUSSIAN, c.noise_level = 0.4, c.noise_clip = 0;
        tn_fill(y, 0);
        ae_corrupt(&c, y, &r);
        tn_rng_normals(&copy, e, N);
        same = tn_rng_u32(&r) == tn_rng_u32(&copy);
        for (size_t i = 0; i < N; i++)
            same &= y->data[i] == (tn_real)0.4 * (tn_real)e[i];
        CHECK(same);
        c.noise = MODEL_NOISE_SALT_PEPPER, c.noise_level = 0.2;
        tn_rng sp;
        tn_rng_seed(&sp, 9, 9);
        tn_fill(y, (tn_real)0.5);
        ae_corrupt(&c, y, &sp);
        if (th == 1)
            memcpy(y1->data, y->data, N * sizeof *y->data);
        else
            CHECK(memcmp(y1->data, y->data, N * sizeof *y->data) == 0);
    }
    tn_set_threads(threads);
    c.noise_clip = 1;
    free(u), free(e), tn_free(y), tn_free(y1);
    /* written from x into another tensor (training's way): the numbers
     * corrupting a copy in place gives, and x as it was */
    tn_tensor *src = tn_new(1, SHAPE(N)), *keep = tn_new(1, SHAPE(N));
    tn_tensor *from = tn_new(1, SHAPE(N)), *inplace = tn_new(1, SHAPE(N));
    for (size_t i = 0; i < N; i++)
        src->data[i] = (tn_real)(i % 257) / 256;
    memcpy(keep->data, src->data, N * sizeof *src->data);
    for (int kind = 0; kind < 3; kind++) {
        c.noise = kind == 0 ? MODEL_NOISE_MASK : kind == 1 ? MODEL_NOISE_SALT_PEPPER : MODEL_NOISE_GAUSSIAN;
        c.noise_level = 0.25;
        tn_rng r1, r2;
        tn_rng_seed(&r1, 5, 5), tn_rng_seed(&r2, 5, 5);
        ae_corrupt_from(&c, from, src, &r1);
        memcpy(inplace->data, src->data, N * sizeof *src->data);
        ae_corrupt(&c, inplace, &r2);
        CHECK(memcmp(from->data, inplace->data, N * sizeof *src->data) == 0);
        CHECK(memcmp(src->data, keep->data, N * sizeof *src->data) == 0);
        CHECK(tn_rng_u32(&r1) == tn_rng_u32(&r2));
    }
    tn_free(src), tn_free(keep), tn_free(from), tn_free(inplace);
    c.noise = MODEL_NOISE_MASK, c.noise_level = 1; /* every pixel, then none */
    tn_fill(x, 1);
    ae_corrupt(&c, x, &r);
    CHECK(tn_mean_all(x) == 0);
    c.noise_level = 0;
    tn_fill(x, 1);
    ae_corrupt(&c, x, &r);
    CHECK(tn_mean_all(x) == 1);
    tn_free(x);
}

void test_model_config_and_checkpoint(void)
{
    nn_error err;
    /* compare's named variants: each one's kind and own fields, all with a
     * code of 20; an unknown name is refused */
    int n = 0;
    model_config v;
    for (; model_variants[n]; n++) {
        CHECK(model_variant(model_variants[n], &v) == 0);
        CHECK(v.latent == 20 && v.hidden[0] == 400 && v.n_hidden == 1);
    }
    CHECK(n == 11);
    CHECK(model_variant("beta-vae", &v) == 0 && v.kind == MODEL_VAE && v.beta == 4 && v.iw_k == 1);
    CHECK(model_variant("iwae", &v) == 0 && v.iw_k == 5 && v.beta == 1);
    CHECK(model_variant("cvae", &v) == 0 && v.classes == 10);
    CHECK(model_variant("sparse", &v) == 0 && v.kind == MODEL_SPARSE_AE && v.sparse_on == MODEL_SPARSE_ON_CODE);
    CHECK(model_variant("sparse-hidden", &v) == 0 && v.sparse_on == MODEL_SPARSE_ON_HIDDEN);
    CHECK(model_variant("dae-gauss", &v) == 0 && v.kind == MODEL_DENOISING_AE && v.noise == MODEL_NOISE_GAUSSIAN &&
          v.noise_clip == 1 && v.noise_level == 0.25);
    CHECK(model_variant("dae-sp", &v) == 0 && v.noise == MODEL_NOISE_SALT_PEPPER);
    CHECK(model_variant("dae-mask", &v) == 0 && v.noise == MODEL_NOISE_MASK);
    CHECK(model_variant("conv-vae", &v) == 0 && v.conv_rows == 28 && v.conv_cols == 28);
    CHECK(model_variant("vae", &v) == 0 && v.kind == MODEL_VAE && v.conv_rows == 0 && v.classes == 0);
    CHECK(model_variant("ae", &v) == 0 && v.kind == MODEL_AE);
    CHECK(model_variant("gan", &v) == -1 && model_variant("", &v) == -1);
    nn_meta meta = {0};
    model_config c = model_defaults(MODEL_SPARSE_AE), back;
    c.n_hidden = 2, c.hidden[0] = 50, c.hidden[1] = 30, c.latent = 7, c.rho = 0.1, c.act = NN_ACT_TANH;
    model_config_to_meta(&c, &meta);
    CHECK(model_config_from_meta(&meta, &back, &err) == 0);
    CHECK(back.kind == MODEL_SPARSE_AE && back.n_hidden == 2 && back.hidden[1] == 30 && back.latent == 7);
    CHECK(back.rho == 0.1 && back.act == NN_ACT_TANH && back.init == c.init);
    nn_meta_set(&meta, "model.hidden", "50,x");
    CHECK(model_config_from_meta(&meta, &back, &err) == -1);
    CHECK_STR_HAS(err.msg, "metadata model.hidden: expected 1 to 8 widths");
    nn_meta_set(&meta, "model.hidden", "50");
    nn_meta_set(&meta, "model.kind", "gan");
    CHECK(model_config_from_meta(&meta, &back, &err) == -1);
    CHECK_STR_HAS(err.msg, "metadata model.kind");
    nn_meta empty = NN_META_INIT;
    CHECK(model_config_from_meta(&empty, &back, &err) == -1);
    CHECK_STR_HAS(err.msg, "metadata model.kind: missing");
    /* the convolutional body: its image size, strictly; absent in older files */
    nn_meta_set(&meta, "model.kind", "sparse");
    nn_meta_set(&meta, "model.conv", "28x20");
    CHECK(model_config_from_meta(&meta, &back, &err) == 0 && back.conv_rows == 28 && back.conv_cols == 20);
    const char *bad_conv[] = {"28", "28x", "x28", "28x 28", "-4x4", "28x28x1", "28X28", ""};
    for (int i = 0; i < 8; i++) {
        nn_meta_set(&meta, "model.conv", bad_conv[i]);
        CHECK(model_config_from_meta(&meta, &back, &err) == -1);
        CHECK_STR_HAS(err.msg, "metadata model.conv: expected rows x cols");
    }
    nn_meta_free(&meta);
    model_config cc = tiny_conv(MODEL_VAE);
    cc.conv_cols = 6, cc.input_dim = 24;
    CHECK(model_new(&cc, NULL, &err) == NULL);
    CHECK_STR_HAS(err.msg, "multiples of 4 and make input_dim 24, got 4x6");
    cc.conv_cols = 8;
    CHECK(model_new(&cc, NULL, &err) == NULL);
    CHECK_STR_HAS(err.msg, "make input_dim 24, got 4x8");
    /* a model saved and loaded decodes alike */
    char path[256];
    snprintf(path, sizeof path, "%s/m.safetensors", test_tmpdir());
    model_config vc = tiny(MODEL_VAE);
    tn_rng r;
    tn_rng_seed(&r, 9, 9);
    model *m = model_new(&vc, &r, &err);
    nn_meta extra = {0};
    nn_meta_set(&extra, "train.epoch", "3");
    CHECK(model_save(m, path, NULL, &extra, &err) == 0);
    nn_meta got = NN_META_INIT;
    model *m2 = model_load(path, &got, &err);
    CHECK(m2 != NULL);
    if (m2) {
        CHECK(m2->c.latent == 3 && m2->c.n_hidden == 2 && m2->c.act == NN_ACT_SOFTPLUS);
        CHECK(nn_meta_get(&got, "train.epoch") && !strcmp(nn_meta_get(&got, "train.epoch"), "3"));
        ad_tape *t = ad_tape_new(0);
        tn_tensor *z = test_random(2, SHAPE(2, 3), -1, 1, 4);
        ad_var *a = model_decode(m, t, ad_const(t, z), NULL), *b = model_decode(m2, t, ad_const(t, z), NULL);
        int same = 1;
        for (size_t i = 0; i < 12; i++)
            same &= ad_data(a)[i] == ad_data(b)[i];
        CHECK(same);
        ad_tape_free(t);
        tn_free(z);
    }
    /* an AE's checkpoint is not this VAE's: the names differ in shape */
    model_config ac = tiny(MODEL_AE);
    model *ae = model_new(&ac, &r, &err);
    CHECK(model_save(ae, path, NULL, NULL, &err) == 0);
    CHECK(nn_load(path, m->params, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "field shape");
    model_free(ae), model_free(m), model_free(m2);
    nn_meta_free(&extra), nn_meta_free(&got);
    /* a batch of the wrong width is an error, not a crash */
    model_config bc = tiny(MODEL_AE);
    m = model_new(&bc, &r, &err);
    ad_tape *t = ad_tape_new(0);
    tn_tensor *wide = tn_new(2, SHAPE(2, 7));
    model_loss l;
    CHECK(model_batch_loss(m, t, wide, NULL, &r, 0, 1, &l) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "model: batch (2x7) does not have 6 columns");
    ad_tape_free(t);
    tn_free(wide);
    model_free(m);
    c.kind = MODEL_VAE, c.samples = 0;
    CHECK(model_new(&c, &r, &err) == NULL);
    CHECK_STR_HAS(err.msg, "samples must be >= 1");
}
