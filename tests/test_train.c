/* test_train.c: the trainer (nn_train) on a small model and real MNIST:
 * resume equals the uninterrupted run bit for bit, the metrics history
 * survives a resume, the non-finite guard stops with the step named and
 * never overwrites a good checkpoint, setup errors come before the first
 * step; and the pictures and the latent-model evaluation of train.h. */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "train.h"

/* A tiny VAE-like model: x -> tanh(W1 x) -> (mu, lv) -> decoder, on the first
 * 600 images of MNIST at 28x28. poison_at: the step from which the loss
 * returns NaN (-1: never). calls counts the loss calls. */
typedef struct {
    nn_params *p;
    nn_mlp enc, dec;
    long poison_at, calls;
    long grad_poison_at; /* from this step a finite loss with a NaN gradient */
    int no_noise;        /* z = mu: a loss without sampling */
} tiny;

static int tiny_init(tiny *m, uint64_t seed)
{
    const nn_act act[2] = {NN_ACT_TANH, NN_ACT_NONE};
    tn_rng r;
    tn_rng_seed(&r, seed, 3);
    m->p = nn_params_new();
    m->poison_at = -1, m->calls = 0, m->grad_poison_at = -1, m->no_noise = 0;
    return nn_mlp_init(&m->enc, m->p, "enc", 3, (const size_t[]){784, 16, 4}, act, NULL) ||
           nn_mlp_init(&m->dec, m->p, "dec", 3, (const size_t[]){2, 16, 784}, act, NULL) ||
           nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &r, NULL);
}

static ad_var *tiny_posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv)
{
    tiny *m = m_;
    return ad_split2(nn_mlp_forward(&m->enc, ad_const(t, &b->x)), lv);
}

static ad_var *tiny_log_lik(void *m_, ad_tape *t, const nn_batch *b, ad_var *z)
{
    tiny *m = m_;
    return nn_bernoulli_logp_rows(ad_const(t, &b->x), nn_mlp_forward(&m->dec, z));
}

/* a log-likelihood of the wrong shape: one number for the whole batch */
static ad_var *summed_log_lik(void *m_, ad_tape *t, const nn_batch *b, ad_var *z)
{
    (void)m_, (void)t, (void)b;
    return ad_sum(z);
}

static ad_var *tiny_decode(void *m_, ad_tape *t, ad_var *z, const int *labels)
{
    tiny *m = m_;
    (void)t, (void)labels;
    return ad_sigmoid(nn_mlp_forward(&m->dec, z));
}

static ad_var *tiny_loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    tiny *m = m_;
    m->calls++;
    ad_var *lv, *mu = tiny_posterior(m, t, b, &lv);
    ad_var *z = m->no_noise ? mu : ad_sample_normal(mu, lv, s->rng);
    ad_var *rec = ad_neg(ad_mean(tiny_log_lik(m, t, b, z)));
    ad_var *kl = nn_kl_normal(mu, lv);
    nn_scalars_set(s->report, "kl", ad_item(kl));
    ad_var *loss = ad_add(rec, kl);
    if (m->poison_at >= 0 && s->step >= m->poison_at && ad_grad_enabled(t))
        loss = ad_mul(loss, ad_scalar(t, NAN));
    if (m->grad_poison_at >= 0 && s->step >= m->grad_poison_at && ad_grad_enabled(t)) {
        /* + Σ √|0·W|: the value 0, the slope at 0 infinite, times 0: NaN */
        ad_var *w = nn_param(t, m->p, 0);
        loss = ad_add(loss, ad_sum(ad_sqrt(ad_abs(ad_scale(w, 0)))));
    }
    return loss;
}

static nn_dataset *mnist(size_t n, int test)
{
    char a[512], b[512];
    const char *img = test_data(test ? "mnist/t10k-images-idx3-ubyte.gz" : "mnist/train-images-idx3-ubyte.gz", a, sizeof a);
    const char *lab = test_data(test ? "mnist/t10k-labels-idx1-ubyte.gz" : "mnist/train-labels-idx1-ubyte.gz", b, sizeof b);
    nn_dataset *d = img ? nn_load_idx(img, lab, NULL) : NULL;
    nn_dataset *h = d ? nn_data_head(d, n, NULL) : NULL;
    nn_dataset_free(d);
    if (h)
        nn_data_scale(h, 1 / 255.0);
    return h;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    *len = s && fread(s, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
    if (s)
        s[*len] = '\0';
    fclose(f);
    return s;
}

static nn_train_config quiet(int epochs, const char *ckpt, const char *metrics)
{
    nn_train_config c = nn_train_defaults();
    c.epochs = epochs, c.batch = 50, c.seed = 11, c.log = NULL;
    c.checkpoint = ckpt, c.metrics = metrics;
    return c;
}

static int train_tiny(tiny *m, const nn_dataset *tr, const nn_dataset *te, nn_train_config *c,
                      nn_train_result *res, nn_error *err)
{
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-2);
    nn_optim *o = nn_optim_new(&oc, m->p, err);
    int rc = o ? nn_train(m->p, o, tiny_loss, m, tr, te, c, res, err) : -1;
    nn_optim_free(o);
    return rc;
}

void test_train_resume_is_exact(void)
{
    char buf[512];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    nn_dataset *tr = mnist(600, 0), *te = mnist(200, 1);
    char ck_a[256], ck_b[256], me_a[256], me_b[256];
    test_tmp_path("a.safetensors", ck_a, sizeof ck_a);
    test_tmp_path("b.safetensors", ck_b, sizeof ck_b);
    test_tmp_path("a.jsonl", me_a, sizeof me_a);
    test_tmp_path("b.jsonl", me_b, sizeof me_b);
    nn_error err;
    nn_train_result ra, rb;
    /* three epochs straight */
    tiny a, b;
    tiny_init(&a, 5);
    nn_train_config c = quiet(3, ck_a, me_a);
    CHECK(train_tiny(&a, tr, te, &c, &ra, &err) == 0);
    CHECK(ra.epoch == 3 && ra.steps == 36);
    /* one epoch, then a new process's worth of state: resume for two more */
    tiny_init(&b, 5);
    c = quiet(1, ck_b, me_b);
    CHECK(train_tiny(&b, tr, te, &c, NULL, &err) == 0);
    nn_params_free(b.p);
    tiny_init(&b, 99); /* other initial weights: the checkpoint must overwrite them */
    c = quiet(3, ck_b, me_b);
    c.resume = ck_b;
    CHECK(train_tiny(&b, tr, te, &c, &rb, &err) == 0);
    CHECK(rb.epoch == 3 && rb.steps == 36);
    CHECK(memcmp(nn_params_values(a.p), nn_params_values(b.p),
                 nn_params_size(a.p) * sizeof(tn_real)) == 0);
    CHECK(nn_scalars_get(&ra.test, "loss") == nn_scalars_get(&rb.test, "loss"));
    /* the metrics: three lines each, the history before the resume kept,
     * equal but for the seconds */
    size_t la, lb;
    char *ma = slurp(me_a, &la), *mb = slurp(me_b, &lb);
    int lines_a = 0, lines_b = 0;
    for (size_t i = 0; ma && i < la; i++)
        lines_a += ma[i] == '\n';
    for (size_t i = 0; mb && i < lb; i++)
        lines_b += mb[i] == '\n';
    CHECK(lines_a == 3 && lines_b == 3);
    CHECK_STR_HAS(mb, "{\"epoch\":1,");
    CHECK_STR_HAS(mb, "{\"epoch\":3,");
    CHECK_STR_HAS(ma, "\"test_loss\"");
    CHECK_STR_HAS(ma, "\"train_kl\"");
    /* resuming from epoch 1 with three lines there: lines 2 and 3 go (they
     * belong to a run the checkpoint does not hold), epoch 2 is appended */
    char ck_c[256];
    test_tmp_path("c.safetensors", ck_c, sizeof ck_c);
    nn_params_free(b.p);
    tiny_init(&b, 5);
    c = quiet(1, ck_c, NULL);
    CHECK(train_tiny(&b, tr, te, &c, NULL, &err) == 0);
    c = quiet(2, ck_c, me_b);
    c.resume = ck_c;
    CHECK(train_tiny(&b, tr, te, &c, NULL, &err) == 0);
    free(mb);
    mb = slurp(me_b, &lb);
    lines_b = 0;
    for (size_t i = 0; mb && i < lb; i++)
        lines_b += mb[i] == '\n';
    CHECK(lines_b == 2 && mb && strstr(mb, "{\"epoch\":2,") && !strstr(mb, "{\"epoch\":3,"));
    /* a fresh run (no resume) starts the history anew */
    c = quiet(1, NULL, me_b);
    CHECK(train_tiny(&b, tr, te, &c, NULL, &err) == 0);
    free(mb);
    mb = slurp(me_b, &lb);
    CHECK(mb && strstr(mb, "{\"epoch\":1,") && !strstr(mb, "{\"epoch\":2,"));
    free(ma), free(mb);
    nn_params_free(a.p), nn_params_free(b.p);
    nn_dataset_free(tr), nn_dataset_free(te);
}

/* Shards: a batch cut into S row shards, their gradients weighted by their
 * rows and summed, is the batch's gradient (gradient accumulation; what
 * each MPI rank runs); resume with shards is exact; a different count is
 * refused by name. */
void test_train_shards(void)
{
    char buf[512];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    nn_dataset *tr = mnist(600, 0), *te = mnist(200, 1);
    nn_dataset one = nn_data_view(tr, 0, 50); /* one step of 50 rows */
    nn_error err;
    tiny a;
    CHECK(tiny_init(&a, 5) == 0);
    a.no_noise = 1;
    nn_train_config c = quiet(1, NULL, NULL);
    CHECK(train_tiny(&a, &one, NULL, &c, NULL, &err) == 0);
    size_t n = nn_params_size(a.p);
    double gmax = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs((double)nn_params_grads(a.p)[i]));
    for (int S = 2; S <= 3; S++) { /* 25 + 25 rows; 16 + 17 + 17 */
        tiny b;
        CHECK(tiny_init(&b, 5) == 0);
        b.no_noise = 1;
        c.shards = S;
        CHECK(train_tiny(&b, &one, NULL, &c, NULL, &err) == 0);
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs((double)nn_params_grads(a.p)[i] - (double)nn_params_grads(b.p)[i]));
        /* the same sums in another order: rounding of tn_real only */
        CHECK_NEAR(worst / gmax, 0, sizeof(tn_real) == 4 ? 1e-5 : 1e-13);
        CHECK(gmax > 0 && worst < gmax);
        nn_params_free(b.p);
    }
    nn_params_free(a.p);
    /* two epochs straight against one, then a resume, with 2 shards */
    char ck_a[256], ck_b[256];
    test_tmp_path("sa.safetensors", ck_a, sizeof ck_a);
    test_tmp_path("sb.safetensors", ck_b, sizeof ck_b);
    tiny x, y;
    tiny_init(&x, 5), tiny_init(&y, 5);
    nn_train_result rx, ry;
    c = quiet(2, ck_a, NULL), c.shards = 2;
    CHECK(train_tiny(&x, tr, te, &c, &rx, &err) == 0);
    c = quiet(1, ck_b, NULL), c.shards = 2;
    CHECK(train_tiny(&y, tr, te, &c, NULL, &err) == 0);
    c = quiet(2, ck_b, NULL), c.shards = 2, c.resume = ck_b;
    CHECK(train_tiny(&y, tr, te, &c, &ry, &err) == 0);
    CHECK(memcmp(nn_params_values(x.p), nn_params_values(y.p), nn_params_size(x.p) * sizeof(tn_real)) == 0);
    CHECK(nn_scalars_get(&rx.test, "loss") == nn_scalars_get(&ry.test, "loss"));
    CHECK(nn_scalars_get(&rx.train, "kl") == nn_scalars_get(&ry.train, "kl"));
    /* with 2 shards the noise differs from 1 shard's: another run */
    tiny z;
    tiny_init(&z, 5);
    nn_train_result rz;
    c = quiet(2, NULL, NULL);
    CHECK(train_tiny(&z, tr, te, &c, &rz, &err) == 0);
    CHECK(nn_scalars_get(&rz.train, "loss") != nn_scalars_get(&rx.train, "loss"));
    c = quiet(3, ck_b, NULL), c.shards = 3, c.resume = ck_b;
    CHECK(train_tiny(&y, tr, te, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "written by a run with 2 shards");
    c = quiet(3, NULL, NULL), c.shards = 3, c.batch = 2;
    CHECK(train_tiny(&y, tr, te, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "batch 2 is smaller than its 3 shards");
    c.shards = -1, c.batch = 50;
    CHECK(train_tiny(&y, tr, te, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "-1 shards");
    nn_params_free(x.p), nn_params_free(y.p), nn_params_free(z.p);
    nn_dataset_free(tr), nn_dataset_free(te);
}

/* The numbers do not depend on the thread count (no loop's result depends
 * on how it is split), which is what lets nn_train change the count to the
 * free cores mid-run. */
void test_train_threads_same_numbers(void)
{
    char buf[512];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    nn_dataset *tr = mnist(600, 0), *te = mnist(200, 1);
    int was = tn_get_threads();
    tiny a[2];
    nn_error err;
    for (int k = 0; k < 2; k++) {
        tn_set_threads(k + 1);
        CHECK(tiny_init(&a[k], 5) == 0);
        nn_train_config c = quiet(1, NULL, NULL);
        c.fixed_threads = 1, c.batch = 200; /* 200 x 784: the loops split */
        CHECK(train_tiny(&a[k], tr, te, &c, NULL, &err) == 0);
        CHECK(tn_get_threads() == k + 1);
    }
    CHECK(memcmp(nn_params_values(a[0].p), nn_params_values(a[1].p),
                 nn_params_size(a[0].p) * sizeof(tn_real)) == 0);
    tn_set_threads(was);
    nn_params_free(a[0].p), nn_params_free(a[1].p);
    nn_dataset_free(tr), nn_dataset_free(te);
}

void test_train_nonfinite_guard(void)
{
    char buf[512];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    nn_dataset *tr = mnist(600, 0), *te = mnist(200, 1);
    char ck[256];
    test_tmp_path("guard.safetensors", ck, sizeof ck);
    nn_error err;
    tiny m;
    tiny_init(&m, 5);
    nn_train_config c = quiet(1, ck, NULL);
    CHECK(train_tiny(&m, tr, te, &c, NULL, &err) == 0);
    size_t l1, l2;
    char *good = slurp(ck, &l1);
    /* a loss that turns NaN at step 15 (epoch 2) */
    m.poison_at = 15;
    c = quiet(3, ck, NULL);
    c.resume = ck;
    CHECK(train_tiny(&m, tr, te, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "step 15 (epoch 2): the loss is nan");
    char *after = slurp(ck, &l2);
    CHECK(good && after && l1 == l2 && memcmp(good, after, l1) == 0);
    free(after);
    /* a finite loss whose gradient is NaN: the optimizer's flag stops it,
     * naming the gradient; the checkpoint stays as it was */
    m.poison_at = -1, m.grad_poison_at = 14;
    CHECK(train_tiny(&m, tr, te, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "step 14 (epoch 2): the gradient of enc.0.weight[0] is ");
    CHECK_STR_HAS(err.msg, "nan");
    after = slurp(ck, &l2);
    CHECK(after && l1 == l2 && memcmp(good, after, l1) == 0);
    free(after);
    /* the weights in memory took the NaN step (they are never saved):
     * start the next case from fresh ones */
    nn_params_free(m.p);
    tiny_init(&m, 5);
    /* weights that are not finite are refused before the first step */
    m.poison_at = -1;
    nn_params_values(m.p)[7] = INFINITY;
    c.resume = NULL;
    m.calls = 0;
    CHECK(train_tiny(&m, tr, te, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "step 0 (epoch 1): the weight of enc.0.weight[7] is inf");
    CHECK(m.calls == 0);
    after = slurp(ck, &l2);
    CHECK(after && l1 == l2 && memcmp(good, after, l1) == 0);
    /* and a checkpoint never holds non-finite numbers: the guard scans */
    int pi;
    size_t idx;
    CHECK(nn_params_nonfinite(m.p, 0, &pi, &idx) == 1 && pi == 0);
    free(good), free(after);
    nn_params_free(m.p);
    nn_dataset_free(tr), nn_dataset_free(te);
}

/* What can be known before training is reported before the first step. */
void test_train_setup_errors(void)
{
    tn_real xs[20 * 784] = {0}, ys[5 * 783] = {0};
    nn_dataset tr = {.n = 20, .dim = 784, .rows = 28, .cols = 28, .x = xs};
    nn_dataset te = {.n = 5, .dim = 783, .x = ys};
    char dir[256], file[256], bad[300];
    test_tmp_path("metrics-dir", dir, sizeof dir);
    mkdir(dir, 0700);
    test_tmp_path("plain-file", file, sizeof file);
    FILE *f = fopen(file, "w");
    if (f)
        fclose(f);
    snprintf(bad, sizeof bad, "%s/model.safetensors", file); /* under a file */
    nn_error err;
    tiny m;
    tiny_init(&m, 1);
    nn_train_config c = quiet(1, NULL, dir);
    CHECK(train_tiny(&m, &tr, NULL, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "metrics-dir: is a folder, expected a regular file or a new file name");
    c = quiet(1, bad, NULL);
    CHECK(train_tiny(&m, &tr, NULL, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "plain-file/model.safetensors");
    c = quiet(1, NULL, NULL);
    CHECK(train_tiny(&m, &tr, &te, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "the test data have 783 values per example, the training data 784");
    c.batch = 0;
    CHECK(train_tiny(&m, &tr, NULL, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "batch 0");
    CHECK(m.calls == 0); /* not one step was taken */
    nn_params_free(m.p);
}

/* PNG files: the signature and the size in the header, and a clear error
 * for a folder that does not exist. */
void test_pictures_png(void)
{
    tn_real img[6 * 4 * 5];
    for (size_t i = 0; i < sizeof img / sizeof img[0]; i++)
        img[i] = (tn_real)(i % 7) / 6;
    char path[256];
    test_tmp_path("grid.png", path, sizeof path);
    nn_error err;
    CHECK(nn_png_grid(path, img, 6, 4, 5, 3, 2, &err) == 0);
    size_t len;
    unsigned char *png = (unsigned char *)slurp(path, &len);
    CHECK(png && len > 33 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    if (png && len > 24) { /* 3 columns of 5·2 + 2 and a gap: 38 wide; 2 rows of 4·2 + 2 and a gap: 22 */
        unsigned w = (unsigned)png[16] << 24 | (unsigned)png[17] << 16 | (unsigned)png[18] << 8 | png[19];
        unsigned h = (unsigned)png[20] << 24 | (unsigned)png[21] << 16 | (unsigned)png[22] << 8 | png[23];
        CHECK(w == 38 && h == 22);
    }
    free(png);
    CHECK(nn_png_grid("/nonexistent-dir/x.png", img, 6, 4, 5, 3, 2, &err) == -1);
    CHECK_STR_HAS(err.msg, "/nonexistent-dir/x.png");
    CHECK(nn_png_grid(path, img, 0, 4, 5, 3, 2, &err) == -1);
    CHECK_STR_HAS(err.msg, "a grid of 0 images");
    CHECK(nn_normal_quantile(0.5) == 0);
    CHECK_NEAR(nn_normal_quantile(0.975), 1.959963985, 1e-8);
}

/* A user's model through nn_latent: the evaluation tools and every picture,
 * and the bound's order L_1 <= L_k (in expectation; with 64 samples the
 * gap is far above the noise for this model). */
void test_latent_tools(void)
{
    char buf[512];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    nn_dataset *tr = mnist(600, 0), *te = mnist(100, 1);
    tiny m;
    tiny_init(&m, 5);
    nn_error err;
    nn_train_config c = quiet(2, NULL, NULL);
    CHECK(train_tiny(&m, tr, te, &c, NULL, &err) == 0);
    nn_latent l = {.model = &m, .latent = 2, .rows = 28, .cols = 28, .posterior = tiny_posterior,
                   .log_lik = tiny_log_lik, .decode = tiny_decode};
    tn_rng r;
    tn_rng_seed(&r, 3, 3);
    nn_elbo e;
    CHECK(nn_latent_elbo(&l, te, 50, &r, &e, &err) == 0);
    CHECK(e.neg_elbo > 0 && fabs(e.recon + e.kl - e.neg_elbo) < 1e-9 && e.kl > 0);
    double l1 = nn_latent_iwae(&l, te, 1, &r, &err), l64 = nn_latent_iwae(&l, te, 64, &r, &err);
    CHECK(l1 < l64 && l64 < 0);
    CHECK_NEAR(-l1, e.neg_elbo, 0.05 * e.neg_elbo); /* L_1 estimates the ELBO */
    /* a log_lik that does not take (S, N, latent) although the model says
     * so, or that gives the wrong number of values: an error, not a bound */
    nn_latent bad = l;
    bad.log_lik_samples = 1;
    CHECK(isnan(nn_latent_iwae(&bad, te, 8, &r, &err)));
    CHECK_STR_HAS(err.msg, "iwae: log_lik gave 8 for 8 samples of 16 examples: expected 128 values");
    bad.log_lik_samples = 0, bad.log_lik = summed_log_lik;
    CHECK(isnan(nn_latent_iwae(&bad, te, 8, &r, &err)));
    CHECK_STR_HAS(err.msg, "iwae: log_lik gave scalar for 8 samples of 16 examples: expected 128 values");
    double var[2];
    CHECK(nn_latent_active_units(&l, te, 0.01, var, &err) >= 0 && var[0] >= 0);
    const char *dir = test_tmpdir();
    CHECK(nn_pic_all(dir, &l, te, &r, NULL, NULL, &err) == 0);
    const char *names[5] = {"reconstructions", "samples", "interpolation", "manifold", "latent_scatter"};
    /* each PNG, and beside it an SVG that says what it shows */
    static const char *const says[5][3] = {
        {"<text", ">input</text>", ">reconstruction</text>"},
        {"samples: x decoded from z drawn from the prior", "data:image/png;base64,", "<image"},
        {"interpolation: 10 steps", ">test 1 to 2</text>", ">test 11 to 12</text>"},
        {"z1 = Φ⁻¹(p)", ">-1.96</text>", ">1.96</text>"},   /* Φ⁻¹(0.025), Φ⁻¹(0.975) */
        {">label</text>", "<circle", ">z2</text>"}};
    for (int i = 0; i < 5; i++) {
        static char svg[1 << 23]; /* the manifold's PNG is inlined: over a megabyte */
        char p[256];
        snprintf(p, sizeof p, "%s/%s.png", dir, names[i]);
        struct stat st;
        CHECK(stat(p, &st) == 0 && st.st_size > 100);
        snprintf(p, sizeof p, "%s/%s.svg", dir, names[i]);
        FILE *f = fopen(p, "r");
        size_t n = f ? fread(svg, 1, sizeof svg - 1, f) : 0;
        svg[n] = '\0';
        if (f)
            fclose(f);
        for (int k = 0; k < 3; k++)
            CHECK_STR_HAS(svg, says[i][k]);
        static const char *const bad[6] = {"=\"nan", ">nan", "=\"-nan", ">-nan", " nan", "=\"inf"};
        for (int k = 0; k < 6; k++) /* no coordinate or text that is not a number */
            CHECK(strstr(svg, bad[k]) == NULL);
    }
    /* a model without a likelihood has no ELBO, said so */
    l.log_lik = NULL;
    CHECK(nn_latent_elbo(&l, te, 50, &r, &e, &err) == -1);
    CHECK_STR_HAS(err.msg, "no likelihood");
    nn_params_free(m.p);
    nn_dataset_free(tr), nn_dataset_free(te);
}

/* A loss whose backward misses a path: the decoder's input detached (a
 * copy on the tape as a constant), so the encoder's gradient is wrong. */
static ad_var *broken_loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    tiny *m = m_;
    (void)s;
    ad_var *lv, *mu = tiny_posterior(m, t, b, &lv);
    ad_var *cut = ad_const_copy(t, 2, ad_value(mu)->shape, ad_value(mu)->data);
    ad_var *rec = ad_neg(ad_mean(tiny_log_lik(m, t, b, ad_add(cut, ad_scale(mu, 0)))));
    return ad_add(rec, nn_kl_normal(mu, lv));
}

/* nn_gradcheck_loss passes a correct loss (with noise drawn inside) at the
 * build's tolerance and catches a wrong one. */
void test_gradcheck_loss(void)
{
    tiny m;
    tiny_init(&m, 5);
    tn_tensor *X = test_random(2, (const size_t[]){6, 784}, 0, 1, 4);
    nn_batch b = {*X, NULL, 6};
    ad_gradcheck_report rep;
    double e = nn_gradcheck_loss(tiny_loss, &m, m.p, &b, 3, GRAD_EPS, 30, &rep);
    CHECK(e >= 0 && e <= GRAD_TOL);
    if (!(e >= 0 && e <= GRAD_TOL))
        printf("    worst %.3g at tensor %d element %zu %s\n", e, rep.input, rep.index, rep.error);
    e = nn_gradcheck_loss(broken_loss, &m, m.p, &b, 3, GRAD_EPS, 30, &rep);
    CHECK(e > 0.1);
    CHECK(rep.input >= 0 && rep.input <= 3); /* enc.0 and enc.1: the encoder */
    tn_free(X);
    nn_params_free(m.p);
}

/* The optimizers flag a non-finite weight from their own update pass. */
void test_optim_nonfinite_flag(void)
{
    nn_error err;
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_linear_init(&l, p, "fc", 300, 200, &err); /* 60 200 weights: the threaded path */
    nn_params_alloc(p, &err);
    for (int k = 0; k < 3; k++) {
        nn_optim_config oc = nn_optim_defaults(k == 0 ? NN_SGD : k == 1 ? NN_ADAGRAD : NN_ADAM, 1e-2);
        nn_optim *o = nn_optim_new(&oc, p, &err);
        tn_fill(nn_params_value(p, 0), 1);
        tn_fill(nn_params_grad(p, 0), (tn_real)0.5);
        nn_optim_step(o, p);
        CHECK(nn_optim_nonfinite(o) == 0);
        nn_params_grads(p)[12345] = NAN;
        nn_optim_step(o, p);
        CHECK(nn_optim_nonfinite(o) == 1);
        CHECK(nn_params_values(p)[12345] != nn_params_values(p)[12345]);
        nn_params_grads(p)[12345] = 0;
        if (k == 2) { /* a gradient whose square overflows: v is infinite, w stays finite */
            tn_fill(nn_params_value(p, 0), 1);
            nn_params_grads(p)[777] = (tn_real)(sqrt(sizeof(tn_real) == 4 ? FLT_MAX : DBL_MAX) * 1e3);
            nn_optim_step(o, p);
            CHECK(nn_optim_nonfinite(o) == 1);
            CHECK(isfinite(nn_params_values(p)[777]) && isinf(nn_optim_slot(o, 1)[777]));
            nn_params_grads(p)[777] = 0;
        }
        /* the blocks start on a cache line: Adam's vector loads straddled lines before */
        CHECK((uintptr_t)nn_params_values(p) % 64 == 0 && (uintptr_t)nn_params_grads(p) % 64 == 0);
        CHECK((uintptr_t)nn_optim_slot(o, 0) % 64 == 0);
        nn_optim_free(o);
    }
    nn_params_free(p);
}

/* Adam and AdamW over a block long enough to be split over threads, of a
 * length that is no multiple of the chunks' 16: the same weights and
 * moments, to the bit, on 1 and 2 threads (a chunk that skipped or repeated
 * an element would differ), and a weight made non-finite in the last
 * thread's chunk is flagged */
void test_optim_threads_same_numbers(void)
{
    nn_error err;
    int was = tn_get_threads();
    for (int kind = NN_ADAM; kind <= NN_ADAMW; kind++) {
        tn_real *out[2][3] = {{NULL}};
        size_t n = 0;
        for (int threads = 1; threads <= 2; threads++) {
            tn_set_threads(threads);
            nn_params *p = nn_params_new();
            nn_linear l;
            nn_linear_init(&l, p, "fc", 301, 199, &err); /* 60 098 values */
            CHECK(nn_params_alloc(p, &err) == 0);
            n = nn_params_size(p);
            CHECK(n % 16 != 0 && n >= 32768);
            tn_real *w = nn_params_values(p), *g = nn_params_grads(p);
            nn_optim_config oc = nn_optim_defaults((nn_optim_kind)kind, 1e-2);
            oc.weight_decay = 0.1;
            nn_optim *o = nn_optim_new(&oc, p, &err);
            for (size_t i = 0; i < n; i++)
                w[i] = (tn_real)sin(0.37 * (double)i);
            for (int s = 0; o && s < 3; s++) {
                for (size_t i = 0; i < n; i++)
                    g[i] = (tn_real)cos(0.11 * (double)(i + 7 * (size_t)s));
                nn_optim_step(o, p);
                CHECK(nn_optim_nonfinite(o) == 0);
            }
            for (int k = 0; o && k < 3; k++) {
                out[threads - 1][k] = malloc(n * sizeof(tn_real));
                memcpy(out[threads - 1][k], k == 0 ? w : nn_optim_slot(o, k - 1), n * sizeof(tn_real));
            }
            g[n - 1] = INFINITY;
            nn_optim_step(o, p);
            CHECK(nn_optim_nonfinite(o) == 1);
            nn_optim_free(o);
            nn_params_free(p);
        }
        for (int k = 0; k < 3; k++) {
            CHECK(out[0][k] && out[1][k] && memcmp(out[0][k], out[1][k], n * sizeof(tn_real)) == 0);
            free(out[0][k]), free(out[1][k]);
        }
    }
    tn_set_threads(was);
}
