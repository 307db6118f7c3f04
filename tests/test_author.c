/* test_author.c: what a model author needs from the library beyond the ops
 * (issue 22): evaluation of any loss over a dataset, row selection that
 * works for bytes and floats alike. */
#define _POSIX_C_SOURCE 200809L

#include "test.h"
#include "train.h"

#define SHAPE(...) ((const size_t[]){__VA_ARGS__})

/* the mean squared value of x's rows, and the label as a report */
static ad_var *sq_loss(void *m, ad_tape *t, const nn_batch *b, nn_step *s)
{
    (void)m;
    double lab = 0;
    for (size_t i = 0; b->labels && i < b->n; i++)
        lab += b->labels[i];
    nn_scalars_set(s->report, "label", lab / (double)b->n);
    return ad_mean(ad_sum_axis(ad_square(ad_const(t, &b->x)), -1));
}

static nn_dataset *bytes(size_t n, size_t dim)
{
    nn_dataset *d = calloc(1, sizeof *d);
    d->n = n, d->dim = dim, d->x8 = malloc(n * dim), d->x8_scale = 1 / 255.0;
    d->labels = malloc(n * sizeof(int));
    for (size_t i = 0; i < n * dim; i++)
        d->x8[i] = (uint8_t)(i * 37 % 256);
    for (size_t i = 0; i < n; i++)
        d->labels[i] = (int)(i % 3);
    return d;
}

void test_evaluate_and_select(void)
{
    nn_error err;
    nn_dataset *b = bytes(1003, 7);
    nn_dataset *f = nn_data_head(b, b->n, &err);
    CHECK(f && nn_data_floats(f, &err) == 0 && f->x && !b->x);
    tn_rng r1, r2;
    tn_rng_seed(&r1, 1, 1), tn_rng_seed(&r2, 1, 1);
    nn_scalars sb, sf;
    CHECK(nn_evaluate(sq_loss, NULL, b, 100, &r1, &sb, &err) == 0);
    CHECK(nn_evaluate(sq_loss, NULL, f, 0, &r2, &sf, &err) == 0);
    double want = 0;
    for (size_t i = 0; i < f->n * f->dim; i++)
        want += (double)f->x[i] * f->x[i];
    CHECK_NEAR(nn_scalars_get(&sb, "loss"), want / (double)f->n, 1e-4);
    CHECK_NEAR(nn_scalars_get(&sb, "loss"), nn_scalars_get(&sf, "loss"), 1e-5);
    CHECK_NEAR(nn_scalars_get(&sb, "label"), (334 * 1 + 334 * 2) / 1003.0, 1e-9);
    nn_dataset empty = {0};
    CHECK(nn_evaluate(sq_loss, NULL, &empty, 0, &r1, &sb, &err) == -1);
    CHECK_STR_HAS(err.msg, "evaluate: no examples");
    /* rows by index, bytes staying bytes */
    const size_t rows[3] = {5, 0, 5};
    nn_dataset *s = nn_data_select(b, rows, 3, &err);
    CHECK(s && s->n == 3 && s->x8 && !s->x && s->labels[0] == 2 && s->labels[1] == 0);
    CHECK(s && memcmp(s->x8, b->x8 + 5 * 7, 7) == 0 && memcmp(s->x8 + 14, b->x8 + 35, 7) == 0);
    const size_t bad[1] = {1003};
    CHECK(nn_data_select(b, bad, 1, &err) == NULL);
    CHECK_STR_HAS(err.msg, "row 1003 (entry 0 of the list) is outside the 1003 examples");
    /* k of each class */
    tn_rng r;
    tn_rng_seed(&r, 4, 4);
    nn_dataset *pc = nn_data_per_class(f, 10, 3, &r, &err);
    int count[3] = {0};
    for (size_t i = 0; pc && i < pc->n; i++)
        count[pc->labels[i]]++;
    CHECK(pc && pc->n == 30 && count[0] == 10 && count[1] == 10 && count[2] == 10);
    CHECK(nn_data_per_class(f, 400, 3, &r, &err) == NULL);
    CHECK_STR_HAS(err.msg, "class 0 has 335 examples, 400 wanted");
    nn_dataset_free(b), nn_dataset_free(f), nn_dataset_free(s), nn_dataset_free(pc);
}

/* ---- the gradient check a user can trust in either build ------------------ */

typedef struct {
    nn_params *p;
    nn_mlp enc, dec;
    int mistake; /* 0 none, 1 a detached path, 2 a wrong sign */
} small_vae;

static ad_var *small_loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    small_vae *m = m_;
    ad_var *lv, *mu = ad_split2(nn_mlp_forward(&m->enc, ad_const(t, &b->x)), &lv);
    ad_var *z = ad_sample_normal(mu, lv, s->rng);
    ad_var *rec = ad_neg(ad_mean(nn_bernoulli_logp_rows(ad_const(t, &b->x), nn_mlp_forward(&m->dec, z))));
    /* mistakes a check must catch (detach and straight-through are meant,
     * and the check takes them out; a constant made of a value is not):
     * 1 a detached path, mu's value as a constant in the KL; 2 a wrong
     * sign, the KL's value with the gradient of its negative */
    ad_var *kl = nn_kl_normal(m->mistake == 1 ? ad_const(t, ad_value(mu)) : mu, lv);
    if (m->mistake == 2)
        kl = ad_sub(ad_scale(ad_const(t, ad_value(kl)), 2), kl);
    return ad_add(rec, kl);
}

void test_check_loss_trusted(void)
{
    char buf[512];
    DATA_OR_SKIP(path, "mnist/t10k-images-idx3-ubyte.gz", buf);
    nn_error err;
    nn_dataset *d = nn_load_idx(path, NULL, &err), *h = d ? nn_data_head(d, 16, &err) : NULL;
    CHECK(h != NULL);
    if (!h)
        return;
    nn_data_scale(h, 1 / 255.0);
    const nn_act act[2] = {NN_ACT_RELU, NN_ACT_NONE};
    small_vae m = {nn_params_new(), {0}, {0}, 0};
    tn_rng r;
    tn_rng_seed(&r, 1, 3);
    CHECK(nn_mlp_init(&m.enc, m.p, "enc", 3, (size_t[]){784, 200, 2 * 8}, act, &err) == 0 &&
          nn_mlp_init(&m.dec, m.p, "dec", 3, (size_t[]){8, 200, 784}, act, &err) == 0 &&
          nn_params_alloc_init(m.p, NN_INIT_TORCH, 0, &r, &err) == 0);
    nn_batch b = {tn_wrap(h->x, 2, SHAPE(16, 784)), NULL, 16};
    double worst[3];
    ad_gradcheck_report rep;
    for (int k = 0; k < 3; k++) {
        m.mistake = k;
        int rc = nn_check_loss(small_loss, &m, m.p, &b, 1, &worst[k], &rep);
        CHECK(rc == (k ? 1 : 0));
        printf("    %s loss: worst relative error %.3g (tolerance %g, %s, eps %g), %zu at a kink\n",
               k == 0 ? "correct" : k == 1 ? "detached-path" : "wrong-sign", worst[k], NN_CHECK_TOL,
               TN_REAL_NAME, NN_CHECK_EPS, rep.kinks);
    }
    CHECK(worst[0] <= NN_CHECK_TOL && worst[1] > NN_CHECK_TOL && worst[2] > NN_CHECK_TOL);
    nn_params_free(m.p), nn_dataset_free(d), nn_dataset_free(h);
}

/* a ReLU whose input sits within eps of 0: told apart, not a failure */
static ad_var *kink_loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    nn_params *p = m_;
    (void)b, (void)s;
    ad_var *w = nn_param(t, p, 0);
    return ad_sum(ad_add(ad_scale(ad_relu(w), 3), ad_square(w)));
}

void test_check_loss_kinks(void)
{
    nn_params *p = nn_params_new();
    nn_error err;
    nn_params_add(p, "w", 1, SHAPE(4), &err);
    nn_params_alloc(p, &err);
    tn_real *w = nn_params_values(p);
    w[0] = (tn_real)(0.3 * NN_CHECK_EPS), w[1] = (tn_real)(-0.4 * NN_CHECK_EPS), w[2] = 0.5, w[3] = -0.7;
    tn_real x = 0;
    nn_batch b = {tn_wrap(&x, 2, SHAPE(1, 1)), NULL, 1};
    ad_gradcheck_report rep;
    double worst;
    CHECK(nn_check_loss(kink_loss, p, p, &b, 1, &worst, &rep) == 0);
    CHECK(rep.kinks == 2 && rep.checked == 2);
    CHECK(worst <= NN_CHECK_TOL);
    nn_params_free(p);
}

/* Anomaly detection names the op that first makes a NaN or inf, forward
 * or backward; shape errors show both shapes. */
void test_anomaly_and_messages(void)
{
    ad_tape *t = ad_tape_new(0);
    ad_set_detect_anomaly(t, 1);
    ad_var *x = ad_const_copy(t, 2, SHAPE(2, 2), (const tn_real[]){1, 2, 0, 4});
    CHECK(ad_sum(ad_log(x)) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "anomaly: log's forward gave -inf at element 2 of (2x2), inputs (2x2)");
    ad_tape_reset(t);
    tn_tensor *w = test_tensor(1, SHAPE(2), (const double[]){0, 1}), *g = tn_new(1, SHAPE(2));
    ad_var *l = ad_sum(ad_sqrt(ad_param(t, w, g)));
    CHECK(l != NULL && ad_backward(t, l) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "anomaly: sqrt's backward gave inf at element 0 of (2)");
    ad_set_detect_anomaly(t, 0);
    ad_tape_reset(t);
    CHECK(ad_sum(ad_log(ad_const_copy(t, 1, SHAPE(1), (const tn_real[]){0}))) != NULL); /* off: no check */
    ad_tape_reset(t);
    CHECK(ad_reshape(ad_const_new(t, 2, SHAPE(128, 10)), 2, SHAPE(64, 30)) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "reshape: (128x10): to (64x30): 1920 elements, the input has 1280");
    tn_free(w), tn_free(g);
    ad_tape_free(t);
}

/* A loss that reports a name too long stops the run, naming it; a rerun of
 * a finished run gives the stored results instead of nothing. */
typedef struct {
    nn_params *p;
    nn_linear l;
    int long_name;
} lin;

static ad_var *lin_loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    lin *m = m_;
    ad_var *y = nn_linear_forward(&m->l, ad_const(t, &b->x));
    ad_var *l = ad_mean(ad_square(y));
    nn_scalars_set(s->report, m->long_name ? "a_name_of_forty_characters_is_too_long" : "sq", ad_item(l));
    return l;
}

void test_reports_and_reruns(void)
{
    nn_dataset d = {.n = 64, .dim = 3};
    tn_real x[64 * 3];
    for (int i = 0; i < 64 * 3; i++)
        x[i] = (tn_real)((i % 7) - 3) / 3;
    d.x = x;
    lin m = {nn_params_new(), {0}, 1};
    nn_error err;
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    nn_linear_init(&m.l, m.p, "l", 3, 2, &err);
    nn_params_alloc_init(m.p, NN_INIT_TORCH, 0, &r, &err);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-2);
    nn_optim *o = nn_optim_new(&oc, m.p, &err);
    char ck[256];
    test_tmp_path("rerun.safetensors", ck, sizeof ck);
    nn_train_config c = nn_train_defaults();
    c.epochs = 2, c.batch = 16, c.log = NULL, c.checkpoint = ck;
    CHECK(nn_train(m.p, o, lin_loss, &m, &d, &d, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "the loss reported \"a_name_of_forty_characters_is_t...\": names are under 32");
    nn_scalars out;
    CHECK(nn_evaluate(lin_loss, &m, &d, 0, &r, &out, &err) == -1);
    CHECK_STR_HAS(err.msg, "evaluation: the loss reported");
    m.long_name = 0;
    nn_train_result a, b;
    CHECK(nn_train(m.p, o, lin_loss, &m, &d, &d, &c, &a, &err) == 0);
    c.resume = ck; /* the same run again: nothing to train */
    CHECK(nn_train(m.p, o, lin_loss, &m, &d, &d, &c, &b, &err) == 0);
    CHECK(b.epoch == 2 && !isnan(nn_scalars_get(&b.test, "loss")));
    CHECK_NEAR(nn_scalars_get(&b.test, "loss"), nn_scalars_get(&a.test, "loss"), 1e-9);
    CHECK_NEAR(nn_scalars_get(&b.train, "sq"), nn_scalars_get(&a.train, "sq"), 1e-9);
    nn_optim_free(o), nn_params_free(m.p);
}

/* Transparent stop-gradients: detach and straight-through pass x through,
 * and arg-min replays the first step's indices after a reset. */
void test_transparent_checks(void)
{
    ad_tape *t = ad_tape_new(0);
    ad_var *x = ad_const_copy(t, 2, SHAPE(1, 3), (const tn_real[]){3, 1, 2});
    CHECK(ad_detach(x) != x);
    ad_set_transparent(t, 1);
    CHECK(ad_detach(x) == x && ad_straight_through(x, ad_scale(x, 2)) == x);
    const int *a = ad_argmin(x, -1);
    CHECK(a && a[0] == 1);
    ad_tape_reset(t);
    x = ad_const_copy(t, 2, SHAPE(1, 3), (const tn_real[]){0, 1, 2}); /* moved: argmin 0 now */
    a = ad_argmin(x, -1);
    CHECK(a && a[0] == 1); /* the first step's, held */
    ad_set_transparent(t, 0);
    ad_tape_reset(t);
    x = ad_const_copy(t, 2, SHAPE(1, 3), (const tn_real[]){0, 1, 2});
    a = ad_argmin(x, -1);
    CHECK(a && a[0] == 0);
    ad_tape_free(t);
}

/* A program's own options: types, ranges, defaults in the usage line. */
void test_setup_own_options(void)
{
    double alpha = 0.1;
    long k = 5;
    const char *name = "plain";
    nn_option own[] = {NN_OPT_REAL("alpha", &alpha, 0, 10, NULL), NN_OPT_INT("k", &k, 1, 100, "samples"),
                       NN_OPT_TEXT("style", &name, NULL, NULL), NN_OPT_END};
    nn_setup s;
    nn_error err;
    char *help[] = {"prog", "--help"};
    CHECK(nn_setup_args_with(&s, 2, help, "prog", 3, own, &err) == NN_SETUP_HELP);
    CHECK_STR_HAS(s.usage, "usage: prog [options]\n  --alpha X (0.1)\n  --k N (5)                     samples\n"
                           "  --style TEXT (plain)\n  --data DIR");
    CHECK_STR_HAS(s.usage, "  --epochs N (3)\n");
    char *bad_r[] = {"prog", "--alpha", "11"};
    CHECK(nn_setup_args_with(&s, 3, bad_r, "prog", 3, own, &err) == NN_SETUP_USAGE);
    CHECK_STR_HAS(err.msg, "prog: --alpha: expected a number from 0 to 10, got \"11\"");
    char *bad_i[] = {"prog", "--k", "2.5"};
    CHECK(nn_setup_args_with(&s, 3, bad_i, "prog", 3, own, &err) == NN_SETUP_USAGE);
    CHECK_STR_HAS(err.msg, "--k: expected a whole number from 1 to 100, got \"2.5\"");
    char buf[512];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    char dir[600], out[256];
    snprintf(dir, sizeof dir, "%s/mnist", getenv("TAPE_DATA") ? getenv("TAPE_DATA") : "../shared/data");
    test_tmp_path("own", out, sizeof out);
    char *ok[] = {"prog", "--alpha", "2.5", "--data", dir, "--k", "7", "--style", "fancy", "--train-limit", "10",
                  "--test-limit", "10", "--out", out};
    CHECK(nn_setup_args_with(&s, 15, ok, "prog", 3, own, &err) == 0);
    CHECK(alpha == 2.5 && k == 7 && strcmp(name, "fancy") == 0);
    nn_setup_free(&s);
}

/* The option table: every type read and checked against its row, the
 * errors naming the option, what was found and what was expected, and the
 * usage made from the same rows. */
void test_options_table(void)
{
    double x = 0.5;
    long n = -1; /* out of range: "chosen later", no default shown */
    uint64_t seed = 0;
    int given = 0, flag = 0, pick = 1;
    const char *text = NULL;
    nn_option rows[] = {NN_OPT_HEADING("group"), NN_OPT_REAL("x", &x, 0, 1, "a fraction"),
                        NN_OPT_INT("n", &n, 1, 9, NULL), NN_OPT_SEED("seed", &seed, &given, NULL),
                        NN_OPT_FLAG("on", &flag, NULL), NN_OPT_CHOICE("pick", &pick, "a|bb|c", NULL),
                        NN_OPT_TEXT("text-option-with-a-long-name", &text, "FILE", "line one\nline two"),
                        NN_OPT_END};
    char usage[1024];
    size_t need = nn_options_usage("p [options]", rows, usage, sizeof usage);
    CHECK(need == strlen(usage));
    CHECK_STR_HAS(usage, "usage: p [options]\ngroup:\n  --x X (0.5)                   a fraction\n  --n N\n"
                         "  --seed N\n  --on\n  --pick a|bb|c (bb)\n  --text-option-with-a-long-name FILE\n"
                         "                                line one\n                                line two\n");
    char small[16];
    CHECK(nn_options_usage("p", rows, small, sizeof small) == need - strlen(" [options]") &&
          strlen(small) == sizeof small - 1);
    char *ok[] = {"p", "--x=0.25", "--n", "9", "--seed", "18446744073709551615", "--on", "--pick", "c",
                  "--text-option-with-a-long-name", "f.txt"};
    nn_error err;
    CHECK(nn_options_parse(rows, 11, ok, &err) == 0);
    CHECK(x == 0.25 && n == 9 && seed == UINT64_MAX && given && flag && pick == 2 && !strcmp(text, "f.txt"));
    static struct {
        int argc;
        char *argv[3];
        const char *msg;
    } bad[] = {
        {3, {"p", "--x", "1.5"}, "--x: expected a number from 0 to 1, got \"1.5\""},
        {3, {"p", "--n", "10"}, "--n: expected a whole number from 1 to 9, got \"10\""},
        {3, {"p", "--n", "2.0"}, "--n: expected a whole number from 1 to 9, got \"2.0\""},
        {3, {"p", "--seed", "-1"}, "--seed: expected a whole number from 0 to 18446744073709551615, got \"-1\""},
        {3, {"p", "--seed", "18446744073709551616"}, "got \"18446744073709551616\""},
        {3, {"p", "--pick", "b"}, "--pick: expected one of a|bb|c, got \"b\""},
        {2, {"p", "--on=1"}, "--on: a flag, expected no value, got \"1\""},
        {2, {"p", "--x"}, "--x: expected a value after it, got the end of the line"},
        {3, {"p", "--nope", "1"}, "--nope: unknown option (see --help)"},
        {3, {"p", "--group", "1"}, "--group: unknown option"}, /* a heading is no option */
        {2, {"p", "x"}, "\"x\": expected an option like --name VALUE"},
        {3, {"p", "--text-option-with-a-long-name", ""}, "--text-option-with-a-long-name: expected a non-empty FILE, got \"\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        CHECK(nn_options_parse(rows, bad[i].argc, bad[i].argv, &err) == NN_OPTIONS_USAGE);
        CHECK_STR_HAS(err.msg, bad[i].msg);
    }
    char *help[] = {"p", "--x", "7", "-h"};
    CHECK(nn_options_parse(rows, 4, help, &err) == NN_OPTIONS_HELP && x == 0.25); /* nothing read */
    /* the words that are not options, in order, up to the row's room */
    const char *files[2];
    int nf = 0, verbose = 0;
    nn_option with_words[] = {NN_OPT_FLAG("verbose", &verbose, NULL), NN_OPT_WORDS("FILE", files, 2, &nf, "inputs"),
                              NN_OPT_END};
    char *two[] = {"p", "a.txt", "--verbose", "b.txt"}, *three[] = {"p", "a", "b", "c"};
    CHECK(nn_options_parse(with_words, 4, two, &err) == 0 && nf == 2 && verbose);
    CHECK(nf == 2 && !strcmp(files[0], "a.txt") && !strcmp(files[1], "b.txt"));
    nf = 0;
    CHECK(nn_options_parse(with_words, 4, three, &err) == NN_OPTIONS_USAGE);
    CHECK_STR_HAS(err.msg, "\"c\": expected at most 2 FILE");
    nn_options_usage("p [options] FILE ...", with_words, usage, sizeof usage);
    CHECK_STR_HAS(usage, "  --verbose\n  FILE ...                      inputs\n");
    nn_option wrong[] = {{.name = "w", .type = 'q', .value = &x}, NN_OPT_END};
    char *w[] = {"p", "--w", "1"};
    CHECK(nn_options_parse(wrong, 3, w, &err) == NN_OPTIONS_USAGE);
    CHECK_STR_HAS(err.msg, "--w: the program's table gives the type 'q'");
}

/* The posterior's sample hook: a Gaussian written as a hook gives the ELBO
 * and L_k the built-in Gaussian path gives, within their noise; a hook of
 * the wrong size is an error naming the sizes. */
static ad_var *sv_posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv)
{
    small_vae *m = m_;
    return ad_split2(nn_mlp_forward(&m->enc, ad_const(t, &b->x)), lv);
}
static ad_var *sv_log_lik(void *m_, ad_tape *t, const nn_batch *b, ad_var *z)
{
    small_vae *m = m_;
    return nn_bernoulli_logp_rows(ad_const(t, &b->x), nn_mlp_forward(&m->dec, z));
}
static size_t sv_rows_wrong;
static ad_var *sv_sample(void *m, ad_tape *t, const nn_batch *b, size_t S, tn_rng *rng, ad_var **z)
{
    ad_var *lv, *mu = sv_posterior(m, t, b, &lv);
    ad_var *z0 = ad_sample_normal_eps(mu, lv, ad_randn(t, 3, SHAPE(S, b->n, ad_dim(mu, -1)), rng));
    *z = ad_reshape(z0, 2, SHAPE(S * b->n, ad_dim(mu, -1)));
    ad_var *lq = ad_sum_axis(ad_gaussian_logp(z0, mu, lv), -1);
    return sv_rows_wrong ? ad_slice(ad_reshape(lq, 2, SHAPE(1, S * b->n)), 0, 1) : lq;
}

void test_latent_sample_hook(void)
{
    char buf[512];
    DATA_OR_SKIP(path, "mnist/t10k-images-idx3-ubyte.gz", buf);
    nn_error err;
    nn_dataset *d = nn_load_idx(path, NULL, &err), *h = d ? nn_data_head(d, 64, &err) : NULL;
    CHECK(h != NULL);
    if (!h)
        return;
    nn_data_scale(h, 1 / 255.0);
    h->rows = h->cols = 28;
    const nn_act act[2] = {NN_ACT_RELU, NN_ACT_NONE};
    small_vae m = {nn_params_new(), {0}, {0}, 0};
    tn_rng r;
    tn_rng_seed(&r, 1, 3);
    nn_mlp_init(&m.enc, m.p, "enc", 3, (size_t[]){784, 100, 2 * 4}, act, &err);
    nn_mlp_init(&m.dec, m.p, "dec", 3, (size_t[]){4, 100, 784}, act, &err);
    nn_params_alloc_init(m.p, NN_INIT_TORCH, 0, &r, &err);
    nn_latent plain = {.model = &m, .latent = 4, .rows = 28, .cols = 28, .posterior = sv_posterior,
                       .log_lik = sv_log_lik};
    nn_latent hook = plain;
    hook.sample = sv_sample;
    nn_elbo a, b;
    tn_rng_seed(&r, 2, 2);
    CHECK(nn_latent_elbo(&plain, h, 32, &r, &a, &err) == 0 && nn_latent_elbo(&hook, h, 32, &r, &b, &err) == 0);
    double la = nn_latent_iwae(&plain, h, 64, &r, &err), lb = nn_latent_iwae(&hook, h, 64, &r, &err);
    printf("    ELBO %.2f / %.2f, L_64 %.2f / %.2f (Gaussian path / hook)\n", -a.neg_elbo, -b.neg_elbo, la, lb);
    CHECK(fabs(a.neg_elbo - b.neg_elbo) < 0.03 * a.neg_elbo && fabs(la - lb) < 1.5 && lb > -b.neg_elbo - 1);
    sv_rows_wrong = 1;
    CHECK(isnan(nn_latent_iwae(&hook, h, 4, &r, &err)));
    CHECK_STR_HAS(err.msg, "iwae: sample gave log q of 1x1 for 4 samples of 16 examples: expected 64 values");
    sv_rows_wrong = 0;
    nn_params_free(m.p), nn_dataset_free(d), nn_dataset_free(h);
}

/* Parameter groups: a scale of 0 freezes a parameter (no step, no decay),
 * 0.5 halves its SGD step; an EMA; a parameter set from data. */
void test_param_groups_ema_init(void)
{
    nn_params *p = nn_params_new();
    nn_error err;
    int a = nn_params_add(p, "a", 1, SHAPE(3), &err), b = nn_params_add(p, "b", 1, SHAPE(2), &err);
    int c = nn_params_add(p, "c", 1, SHAPE(2), &err);
    nn_params_alloc(p, &err);
    const tn_real init[7] = {1, 2, 3, 4, 5, 6, 7};
    CHECK(nn_params_set_value(p, a, init, 3, &err) == 0 && nn_params_set_value(p, b, init + 3, 2, &err) == 0 &&
          nn_params_set_value(p, c, init + 5, 2, &err) == 0);
    CHECK(nn_params_set_value(p, a, init, 2, &err) == -1);
    CHECK_STR_HAS(err.msg, "set value of a: 2 values, the parameter has 3");
    CHECK(nn_params_set_lr_scale(p, b, 0, &err) == 0 && nn_params_set_lr_scale(p, c, 0.5, &err) == 0);
    CHECK(nn_params_set_lr_scale(p, a, -1, &err) == -1);
    for (size_t i = 0; i < 7; i++)
        nn_params_grads(p)[i] = 1;
    nn_optim_config oc = nn_optim_defaults(NN_SGD, 0.1);
    oc.weight_decay = 0.5;
    nn_optim *o = nn_optim_new(&oc, p, &err);
    nn_optim_step(o, p);
    const tn_real *w = nn_params_values(p);
    /* a: w -= 0.1·(1 + 0.5·w); b frozen; c: w -= 0.05·(1 + 0.5·w) */
    CHECK_NEAR(w[0], 1 - 0.1 * 1.5, VAL_TOL);
    CHECK(w[3] == 4 && w[4] == 5);
    CHECK_NEAR(w[5], 6 - 0.05 * 4, VAL_TOL);
    /* Adam and AdamW: a frozen parameter keeps its value, others move */
    for (int kind = NN_ADAM; kind <= NN_ADAMW; kind++) {
        nn_optim_config ac = nn_optim_defaults((nn_optim_kind)kind, 0.1);
        nn_optim *ao = nn_optim_new(&ac, p, &err);
        tn_real before = w[3], other = w[0];
        nn_optim_step(ao, p);
        CHECK(w[3] == before && w[0] != other);
        nn_optim_free(ao);
    }
    tn_real avg[3] = {0, 0, 0};
    nn_ema(avg, (const tn_real[]){1, 2, 4}, 3, 0.75);
    CHECK_NEAR(avg[2], 1, VAL_TOL);
    nn_optim_free(o), nn_params_free(p);
}

/* The short forms of a definition: TN_DIMS counts its sizes, nn_forward
 * runs any layer on its input's tape (NULL in, NULL out), nn_report records
 * and passes through; a program's run is nn_setup_train (--check or train)
 * and its end nn_setup_end (the message through the log hook, the status). */
static char said[512];
static void keep_line(void *ctx, nn_log_level level, const char *line)
{
    (void)ctx;
    if (level == NN_LOG_ERROR)
        snprintf(said, sizeof said, "%s", line);
}

void test_short_definitions(void)
{
    nn_error err;
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_mlp m;
    nn_conv2d c;
    const nn_act act[2] = {NN_ACT_RELU, NN_ACT_NONE};
    CHECK(nn_linear_init(&l, p, "l", 4, 3, &err) == 0 && nn_mlp_init(&m, p, "m", TN_DIMS(4, 5, 2), act, &err) == 0 &&
          nn_conv2d_init(&c, p, "c", 1, 2, 3, 1, 1, &err) == 0 && m.n_layers == 2 && m.layer[1].out == 2);
    tn_rng r;
    tn_rng_seed(&r, 3, 3);
    CHECK(nn_params_alloc_init(p, NN_INIT_TORCH, 0, &r, &err) == 0);
    ad_tape *t = ad_tape_new(0);
    ad_var *x = ad_randn(t, TN_DIMS(2, 4), &r), *img = ad_randn(t, TN_DIMS(1, 1, 4, 4), &r);
    ad_var *a = nn_forward(&l, x), *b = nn_linear_forward(&l, x);
    ad_var *h = nn_forward(&m, x), *k = nn_forward(&c, img);
    CHECK(a && b && ad_dim(a, 1) == 3 && ad_item(ad_sum(ad_sub(a, b))) == 0);
    CHECK(h && ad_dim(h, 0) == 2 && ad_dim(h, 1) == 2 && k && ad_dim(k, 1) == 2 && ad_dim(k, 3) == 4);
    CHECK(ad_reshape(x, TN_DIMS(8)) && ad_dim(ad_reshape(x, TN_DIMS(1, 2, 4)), 2) == 4);
    CHECK(nn_forward(&l, NULL) == NULL && nn_forward(&m, NULL) == NULL && nn_forward(&c, NULL) == NULL);
    nn_scalars rep = {0};
    nn_step st = {&r, 0, &rep};
    CHECK(nn_report(&st, "sum", ad_sum(x)) != NULL && nn_report(&st, "none", NULL) == NULL);
    CHECK(rep.n == 1 && nn_scalars_get(&rep, "sum") == ad_item(ad_sum(x)));
    ad_tape_free(t);
    nn_params_free(p);

    char buf[512];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    char dir[600], out[256];
    snprintf(dir, sizeof dir, "%s/mnist", getenv("TAPE_DATA") ? getenv("TAPE_DATA") : "../shared/data");
    test_tmp_path("short", out, sizeof out);
    char *args[] = {"prog", "--data", dir, "--train-limit", "64", "--test-limit", "64", "--epochs", "2", "--out", out};
    nn_setup s;
    CHECK(nn_setup_args(&s, 11, args, "prog", 3, NULL, NULL, &err) == 0);
    s.cfg.log = keep_line;
    lin q = {nn_params_new(), {0}, 0};
    nn_train_result res;
    CHECK(nn_linear_init(&q.l, q.p, "l", 784, 2, &err) == 0 && nn_params_alloc_init(q.p, NN_INIT_TORCH, 0, &r, &err) == 0);
    s.check = 1; /* --check: the gradient check, nothing trained */
    CHECK(nn_setup_train(&s, lin_loss, &q, q.p, NULL, &err) == 0);
    s.check = 0;
    CHECK(nn_setup_train(&s, lin_loss, &q, q.p, &res, &err) == 0 && res.epoch == 2 && res.steps == 2);
    q.long_name = 1; /* a failure: the message, prefixed, through the hook; status 1 */
    s.cfg.epochs = 3;
    CHECK(nn_setup_train(&s, lin_loss, &q, q.p, &res, &err) == -1);
    CHECK(nn_setup_end(&s, 1, &err) == 1 && s.train == NULL);
    CHECK_STR_HAS(said, "prog: ");
    CHECK_STR_HAS(said, "a_name_of_forty");
    nn_params_free(q.p);
}

/* Learning curves: the SVG of a known metrics file has its panels, its
 * axis ticks over the data's range and a legend entry a run; a missing or
 * non-finite value is left out (no NaN coordinates) and said; a file with
 * no epoch lines is named. */
void test_plot_curves(void)
{
    char a[256], b[256], svg[256], bad[256];
    test_tmp_path("a.jsonl", a, sizeof a), test_tmp_path("b.jsonl", b, sizeof b);
    test_tmp_path("curves.svg", svg, sizeof svg), test_tmp_path("bad.jsonl", bad, sizeof bad);
    FILE *f = fopen(a, "w");
    fprintf(f, "{\"epoch\":1,\"train_loss\":200,\"test_loss\":190,\"train_kl\":10,\"test_kl\":9}\n"
               "{\"epoch\":2,\"train_loss\":150,\"test_loss\":null,\"train_kl\":12,\"test_kl\":11}\n"
               "{\"epoch\":3,\"train_loss\":120,\"test_loss\":118,\"train_kl\":13,\"test_kl\":12}\n");
    fclose(f);
    f = fopen(b, "w");
    fprintf(f, "{\"epoch\":1,\"train_loss\":210,\"test_loss\":205}\n{\"epoch\":2,\"train_loss\":160,\"test_loss\":150}\n");
    fclose(f);
    f = fopen(bad, "w");
    fprintf(f, "not json\n");
    fclose(f);
    nn_error err;
    const char *files[2] = {a, b}, *names[2] = {"the VAE", "a <model> & co"};
    CHECK(nn_plot_curves(svg, 2, files, names, "two runs", &err) == 0);
    char text[65536] = "";
    f = fopen(svg, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    CHECK_STR_HAS(text, "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    CHECK_STR_HAS(text, ">two runs</text>");
    CHECK_STR_HAS(text, ">the VAE</text>");
    CHECK_STR_HAS(text, ">a &lt;model&gt; &amp; co</text>"); /* escaped */
    CHECK_STR_HAS(text, ">loss</text>");
    CHECK_STR_HAS(text, ">kl</text>");
    CHECK_STR_HAS(text, ">epoch</text>");
    CHECK_STR_HAS(text, ">1 point left out (missing or not finite)</text>");
    CHECK_STR_HAS(text, ">200</text>"); /* the loss axis: ticks of 20 over 115..215 */
    CHECK_STR_HAS(text, ">120</text>");
    CHECK(strstr(text, ">100</text>") == NULL && strstr(text, ">240</text>") == NULL);
    CHECK(strstr(text, "nan") == NULL && strstr(text, "inf") == NULL); /* no coordinate that is not a number */
    CHECK(nn_plot_curves(svg, 1, (const char *[]){bad}, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "bad.jsonl: no epoch lines");
    CHECK(nn_plot_curves(svg, 1, (const char *[]){"/nonexistent/m.jsonl"}, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "/nonexistent/m.jsonl: cannot be read");
}

/* The softmax family's rows (vectorized e^ in the float build, tn_math.h)
 * against libm in double: softmax within 8 ulp of each probability beyond
 * the rounding of x - max in tn_real, which any softmax in that precision
 * has (a relative |x - max|·2^-24 in float; the gradients of log-softmax
 * and logsumexp, from the stored y or lse, (|x| + |lse|)·2^-24),
 * log-softmax and logsumexp within 4 ulp of the row's scale (|x| + |lse|),
 * their gradients within 16 ulp of their scale; rows of 10 and of 5000 (L_5000's width), a row
 * with -inf entries, and a NaN making its row NaN. */
static double ulp_of(double x)
{
    float f = fabsf((float)x);
    return (double)(nextafterf(f, INFINITY) - f);
}

void test_softmax_family_ulps(void)
{
    enum { R = 4 };
    const size_t widths[2] = {10, 5000};
    double worst[4] = {0}; /* softmax, log-softmax, logsumexp, gradients */
    for (int w = 0; w < 2; w++) {
        size_t K = widths[w], n = R * K;
        tn_tensor *xv = tn_new(TN_DIMS(R, K)), *dx = tn_new(TN_DIMS(R, K));
        tn_rng r;
        tn_rng_seed(&r, 11, (uint64_t)w);
        for (size_t i = 0; i < n; i++)
            xv->data[i] = (tn_real)(5 * tn_rng_normal(&r));
        xv->data[2 * K + 1] = xv->data[2 * K + 3] = -INFINITY; /* row 2: entries of probability 0 */
        for (int op = 0; op < 3; op++) {
            ad_tape *t = ad_tape_new(0);
            tn_fill(dx, 0);
            ad_var *x = ad_param(t, xv, dx);
            ad_var *y = op == 0 ? ad_softmax(x) : op == 1 ? ad_log_softmax(x) : ad_logsumexp(x, 1, 0);
            const tn_real *yv = ad_value(y)->data;
            ad_var *g = ad_const_copy(t, ad_value(y)->ndim, ad_value(y)->shape, NULL); /* dL/dy: 1, 2, 3, ... */
            for (size_t i = 0; i < ad_value(y)->size; i++)
                ad_value_mut(g)->data[i] = (tn_real)(1 + i % 7);
            CHECK(ad_backward(t, ad_sum(ad_mul(y, g))) == 0);
            for (size_t row = 0; row < R; row++) {
                const tn_real *xr = xv->data + row * K;
                double m = -INFINITY, s = 0;
                for (size_t k = 0; k < K; k++)
                    m = fmax(m, (double)xr[k]);
                for (size_t k = 0; k < K; k++)
                    s += exp((double)xr[k] - m);
                double lse = m + log(s), gsum = 0, gy = 0;
                for (size_t k = 0; k < K; k++) {
                    double p = exp((double)xr[k] - lse), gk = (double)(1 + (row * K + k) % 7);
                    gsum += gk, gy += gk * p;
                }
                if (op == 2) {
                    worst[2] = fmax(worst[2], fabs((double)yv[row] - lse) / ulp_of(fabs(lse) + fabs(m)));
                }
                for (size_t k = 0; k < K; k++) {
                    double p = exp((double)xr[k] - lse), gk = (double)(1 + (row * K + k) % 7), want, dwant;
                    double got = op == 2 ? 0 : (double)yv[row * K + k], d = (double)dx->data[row * K + k];
                    double cond = fabs((double)xr[k] - m) * (sizeof(tn_real) == 4 ? 0x1p-24 : 0x1p-53);
                    if (op == 0) { /* d = p (g - Σ g p) */
                        want = p, dwant = p * (gk - gy);
                        worst[0] = fmax(worst[0], p > 1e-30 ? (fabs(got - want) - p * cond) / ulp_of(want)
                                                            : fabs(got) / 1e-30);
                        worst[3] = fmax(worst[3], (fabs(d - dwant) - p * (gk + gy) * cond) /
                                                      ulp_of(p * (gk + gy) + 1e-30));
                    } else if (op == 1) { /* d = g - p Σ g */
                        want = (double)xr[k] - lse, dwant = gk - p * gsum;
                        if (isfinite(want))
                            worst[1] = fmax(worst[1], fabs(got - want) / ulp_of(fabs((double)xr[k]) + fabs(lse)));
                        /* from the stored y, rounded to the row's scale */
                        double ycond = (fabs((double)xr[k]) + fabs(lse)) * (sizeof(tn_real) == 4 ? 0x1p-24 : 0x1p-53);
                        worst[3] = fmax(worst[3], (fabs(d - dwant) - p * gsum * ycond) / ulp_of(gk + p * gsum));
                    } else { /* d = g p */
                        dwant = (double)(1 + row % 7) * p; /* from the stored lse, as log-softmax's */
                        double ycond = (fabs((double)xr[k]) + fabs(lse)) * (sizeof(tn_real) == 4 ? 0x1p-24 : 0x1p-53);
                        worst[3] = fmax(worst[3], (fabs(d - dwant) - dwant * ycond) / ulp_of(dwant + 1e-30));
                    }
                }
            }
            ad_tape_free(t);
        }
        /* a NaN makes its row NaN, and only its row */
        xv->data[K + 2] = NAN;
        ad_tape *t = ad_tape_new(0);
        ad_var *x = ad_param(t, xv, dx);
        const tn_real *sm = ad_value(ad_softmax(x))->data, *ls = ad_value(ad_logsumexp(x, 1, 0))->data;
        CHECK(isnan(sm[K]) && isnan(sm[2 * K - 1]) && isfinite(sm[0]) && isfinite(sm[2 * K]));
        CHECK(isnan(ls[1]) && isfinite(ls[0]) && isfinite(ls[3]));
        ad_tape_free(t);
        tn_free(xv), tn_free(dx);
    }
    printf("    worst: softmax %.2f ulp, log-softmax %.2f, logsumexp %.2f, gradients %.2f\n", worst[0], worst[1],
           worst[2], worst[3]);
    CHECK(worst[0] <= 8 && worst[1] <= 4 && worst[2] <= 4 && worst[3] <= 16); /* measured: 1.98, 0.96, 0.23, 10.5 */
}

/* The densities over the threads (tensors above the parallel threshold,
 * one pass a thread): the Gaussian with nothing repeating (the one-pass
 * forward and backward), with mu and log σ² repeating under samples (rows
 * in order), and the Bernoulli. Values and every gradient against the
 * formulas in double, within a few ulp of their scale (the float build's
 * e^ is tn_exp_f, 3 ulp), and the same bits on 1 and 2 threads. */
static void density_run(int op, int threads, tn_real *out)
{
    enum { S = 200, D = 300 };
    int was = tn_get_threads();
    tn_set_threads(threads);
    tn_rng r;
    tn_rng_seed(&r, 5, 1);
    size_t rows = op == 1 ? 1 : S; /* op 1: mu and lv one row, repeated S times */
    tn_tensor *x = tn_new(TN_DIMS(S, D)), *mu = tn_new(TN_DIMS(rows, D)), *lv = tn_new(TN_DIMS(rows, D));
    tn_tensor *dx = tn_new(TN_DIMS(S, D)), *dmu = tn_new(TN_DIMS(rows, D)), *dlv = tn_new(TN_DIMS(rows, D));
    tn_rng_fill_uniform(&r, x, -2, 2), tn_rng_fill_uniform(&r, mu, -2, 2), tn_rng_fill_uniform(&r, lv, -3, 3);
    tn_fill(dx, 0), tn_fill(dmu, 0), tn_fill(dlv, 0);
    ad_tape *t = ad_tape_new(0);
    ad_var *vx = ad_param(t, x, dx), *vm = ad_param(t, mu, dmu), *vl = ad_param(t, lv, dlv);
    ad_var *y = op == 2 ? ad_bernoulli_logp(vx, vm) : ad_gaussian_logp(vx, vm, vl);
    ad_var *g = ad_const_copy(t, 2, (size_t[]){S, D}, NULL); /* dL/dy: 1, 2, 3, ... */
    for (size_t i = 0; i < (size_t)S * D; i++)
        ad_value_mut(g)->data[i] = (tn_real)(1 + i % 5);
    CHECK(ad_backward(t, ad_sum(ad_mul(y, g))) == 0);
    double worst = 0;
    for (size_t i = 0; i < (size_t)S * D; i++) {
        size_t j = i % (rows * D);
        double xi = x->data[i], m = mu->data[j], l = lv->data[j], want, scale;
        if (op == 2) { /* x the targets, mu the logits */
            want = -(fmax(m, 0) - m * xi + log1p(exp(-fabs(m))));
            scale = fabs(m) + 1;
        } else {
            want = -0.5 * (log(2 * M_PI) + l + (xi - m) * (xi - m) * exp(-l));
            scale = fabs(want) + fabs(l) + 2;
        }
        worst = fmax(worst, fabs(ad_value(y)->data[i] - want) / ulp_of(scale));
    }
    /* the Gaussian's gradients against the formulas, dmu and dlv summed over the repeats */
    double *want = calloc(3 * (size_t)S * D, sizeof *want), *scale = calloc(3 * (size_t)S * D, sizeof *scale);
    for (size_t i = 0; op != 2 && i < (size_t)S * D; i++) {
        size_t j = i % (rows * D);
        double xi = x->data[i], m = mu->data[j], l = lv->data[j], gi = 1 + (double)(i % 5);
        double z = (xi - m) * exp(-l), dl = gi * 0.5 * (z * (xi - m) - 1);
        want[i] = -gi * z, scale[i] = fabs(gi * z);
        want[S * D + j] += gi * z, scale[S * D + j] += fabs(gi * z);
        want[2 * S * D + j] += dl, scale[2 * S * D + j] += fabs(gi * 0.5 * z * (xi - m)) + gi;
    }
    const tn_real *got[3] = {dx->data, dmu->data, dlv->data};
    for (int k = 0; op != 2 && k < 3; k++)
        for (size_t j = 0; j < (k ? rows * D : (size_t)S * D); j++)
            worst = fmax(worst, fabs(got[k][j] - want[k * S * D + j]) / ulp_of(scale[k * S * D + j] + 1));
    free(want), free(scale);
    printf("    %s, %d thread%s: worst %.2f ulp of its scale\n",
           op == 0 ? "Gaussian" : op == 1 ? "Gaussian, mu and lv repeated" : "Bernoulli", threads,
           threads > 1 ? "s" : "", worst);
    CHECK(worst <= 16);
    memcpy(out, ad_value(y)->data, sizeof(tn_real) * S * D);
    memcpy(out + S * D, dx->data, sizeof(tn_real) * S * D);
    memcpy(out + 2 * S * D, dmu->data, sizeof(tn_real) * rows * D);
    memcpy(out + 3 * S * D, dlv->data, sizeof(tn_real) * rows * D);
    ad_tape_free(t);
    tn_free(x), tn_free(mu), tn_free(lv), tn_free(dx), tn_free(dmu), tn_free(dlv);
    tn_set_threads(was);
}

/* the Bernoulli log density is BCE negated inside the op: the same bits
 * as -BCE composed, values and both gradients */
static void bernoulli_as_neg_bce(int fused, tn_real *out)
{
    enum { S = 200, D = 300 };
    tn_rng r;
    tn_rng_seed(&r, 6, 1);
    tn_tensor *x = tn_new(TN_DIMS(S, D)), *l = tn_new(TN_DIMS(S, D));
    tn_tensor *dx = tn_new(TN_DIMS(S, D)), *dl = tn_new(TN_DIMS(S, D));
    tn_rng_fill_uniform(&r, x, 0, 1), tn_rng_fill_uniform(&r, l, -8, 8);
    tn_fill(dx, 0), tn_fill(dl, 0);
    ad_tape *t = ad_tape_new(0);
    ad_var *vx = ad_param(t, x, dx), *vl = ad_param(t, l, dl);
    ad_var *y = fused ? ad_bernoulli_logp(vx, vl) : ad_neg(ad_bce_logits(vl, vx));
    ad_var *g = ad_const_copy(t, 2, (size_t[]){S, D}, NULL);
    for (size_t i = 0; i < (size_t)S * D; i++)
        ad_value_mut(g)->data[i] = (tn_real)(0.5 + i % 3);
    CHECK(ad_backward(t, ad_sum(ad_mul(y, g))) == 0);
    memcpy(out, ad_value(y)->data, sizeof(tn_real) * S * D);
    memcpy(out + S * D, dx->data, sizeof(tn_real) * S * D);
    memcpy(out + 2 * S * D, dl->data, sizeof(tn_real) * S * D);
    ad_tape_free(t);
    tn_free(x), tn_free(l), tn_free(dx), tn_free(dl);
}

void test_density_parts(void)
{
    size_t n = 4 * 200 * 300;
    tn_real *one = calloc(n, sizeof *one), *two = calloc(n, sizeof *two);
    for (int op = 0; op < 3; op++) {
        density_run(op, 1, one);
        density_run(op, 2, two);
        CHECK(memcmp(one, two, n * sizeof *one) == 0);
    }
    bernoulli_as_neg_bce(1, one);
    bernoulli_as_neg_bce(0, two);
    CHECK(memcmp(one, two, 3 * 200 * 300 * sizeof *one) == 0);
    free(one), free(two);
}
