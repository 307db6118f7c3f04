/* test_reliability.c: the audit's findings of issue 25, each as the kind it
 * stands for: checkpoints of any number of shards, outputs that are not
 * regular files or coincide, one owner an output, metrics lines whole,
 * tensors without data, variables used after a reset, and the numbers a
 * library call must refuse. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "train.h"

#define SHAPE(...) ((const size_t[]){__VA_ARGS__})

/* ---- a small model on made-up rows: no data files needed ------------------ */

typedef struct {
    nn_params *p;
    nn_linear enc, dec;
    double scale; /* the loss times this (a huge one overflows Adam's state) */
} toy;

static void toy_init(toy *m)
{
    tn_rng r;
    tn_rng_seed(&r, 3, 3);
    m->p = nn_params_new();
    m->scale = 1;
    nn_linear_init(&m->enc, m->p, "enc", 6, 4, NULL);
    nn_linear_init(&m->dec, m->p, "dec", 2, 6, NULL);
    nn_params_alloc_init(m->p, NN_INIT_TORCH, 0, &r, NULL);
}

static ad_var *toy_loss(void *m_, ad_tape *t, const nn_batch *b, nn_step *s)
{
    toy *m = m_;
    ad_var *lv, *mu = ad_split2(nn_linear_forward(&m->enc, ad_const(t, &b->x)), &lv);
    ad_var *z = ad_sample_normal(mu, lv, s->rng);
    ad_var *y = nn_linear_forward(&m->dec, z);
    ad_var *l = ad_add(ad_mean(ad_square(ad_sub(y, ad_const(t, &b->x)))), nn_kl_normal(mu, lv));
    return m->scale == 1 ? l : ad_scale(l, (tn_real)m->scale);
}

static nn_dataset *rows(size_t n)
{
    nn_dataset *d = calloc(1, sizeof *d);
    d->n = n, d->dim = 6, d->x = malloc(n * 6 * sizeof *d->x);
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    for (size_t i = 0; i < n * 6; i++)
        d->x[i] = (tn_real)tn_rng_uniform(&r);
    return d;
}

static int toy_train(toy *m, const nn_dataset *d, nn_train_config *c, nn_error *err)
{
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-2);
    nn_optim *o = nn_optim_new(&oc, m->p, err);
    int rc = o ? nn_train(m->p, o, toy_loss, m, d, d, c, NULL, err) : -1;
    nn_optim_free(o);
    return rc;
}

static nn_train_config cfg(int epochs, const char *ckpt, const char *metrics)
{
    nn_train_config c = nn_train_defaults();
    c.epochs = epochs, c.batch = 64, c.seed = 5, c.log = NULL;
    c.checkpoint = ckpt, c.metrics = metrics;
    return c;
}

static long lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == '\n';
    if (f)
        fclose(f);
    return f ? n : -1;
}

/* F01: a checkpoint of 8 and of 64 shards is written, read and resumed
 * exactly (the metadata hold 30 + 4 per shard entries and more). */
void test_shards_checkpoint_any_count(void)
{
    nn_dataset *d = rows(256);
    nn_error err;
    const int counts[2] = {8, 64};
    for (int k = 0; k < 2; k++) {
        char a[256], b[256], name[64];
        snprintf(name, sizeof name, "s%d-a.safetensors", counts[k]);
        test_tmp_path(name, a, sizeof a);
        snprintf(name, sizeof name, "s%d-b.safetensors", counts[k]);
        test_tmp_path(name, b, sizeof b);
        toy x, y;
        toy_init(&x), toy_init(&y);
        nn_train_config c = cfg(2, a, NULL);
        c.shards = counts[k];
        CHECK(toy_train(&x, d, &c, &err) == 0);
        c = cfg(1, b, NULL), c.shards = counts[k];
        CHECK(toy_train(&y, d, &c, &err) == 0);
        c = cfg(2, b, NULL), c.shards = counts[k], c.resume = b;
        CHECK(toy_train(&y, d, &c, &err) == 0);
        CHECK(memcmp(nn_params_values(x.p), nn_params_values(y.p), nn_params_size(x.p) * sizeof(tn_real)) == 0);
        nn_meta meta = NN_META_INIT;
        CHECK(nn_load_meta(a, &meta, &err) == 0);
        char key[32];
        snprintf(key, sizeof key, "rng.noise.%d.state", counts[k] - 1);
        CHECK(meta.n > 4 * counts[k] && nn_meta_get(&meta, key) != NULL);
        nn_meta_free(&meta);
        nn_params_free(x.p), nn_params_free(y.p);
    }
    /* the store itself: many entries, long values, copies of their own */
    nn_meta m = NN_META_INIT, c = NN_META_INIT;
    char big[5000];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    int ok = 1;
    for (int i = 0; i < 500; i++)
        ok &= nn_meta_setf(&m, "k", "%d", i) == 0 && nn_meta_setf(&m, big + 4900, "%d", i) == 0;
    for (int i = 0; i < 500; i++) {
        char key[16];
        snprintf(key, sizeof key, "key.%d", i);
        ok &= nn_meta_set(&m, key, big) == 0;
    }
    CHECK(ok && m.n == 502);
    CHECK(nn_meta_copy(&c, &m) == 0 && c.n == 502 && c.value[5] != m.value[5]);
    nn_meta_free(&m);
    CHECK(strlen(nn_meta_get(&c, "key.499")) == sizeof big - 1 && m.n == 0);
    CHECK(nn_meta_set(&c, "", "x") == -1);
    nn_meta_free(&c);
    nn_dataset_free(d);
}

/* F02, F06: outputs that are not regular files, links, and outputs that
 * coincide, refused before anything is written or replaced. */
void test_outputs_checked(void)
{
    nn_dataset *d = rows(128);
    nn_error err;
    char ck[256], fifo[256], real[256], link[256];
    test_tmp_path("o.safetensors", ck, sizeof ck);
    test_tmp_path("fifo.jsonl", fifo, sizeof fifo);
    test_tmp_path("real.jsonl", real, sizeof real);
    test_tmp_path("link.jsonl", link, sizeof link);
    mkfifo(fifo, 0600);
    toy m;
    toy_init(&m);
    nn_train_config c = cfg(1, ck, "/dev/null");
    CHECK(toy_train(&m, d, &c, &err) == -1);
    CHECK_STR_HAS(err.msg, "/dev/null: is a character device, expected a regular file");
    struct stat st;
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    c = cfg(1, ck, fifo);
    CHECK(toy_train(&m, d, &c, &err) == -1); /* no hang */
    CHECK_STR_HAS(err.msg, "is a FIFO");
    c = cfg(1, ck, ck); /* the metrics onto the checkpoint */
    CHECK(toy_train(&m, d, &c, &err) == -1);
    CHECK_STR_HAS(err.msg, "the same file");
    /* a link to the user's log: followed, the log gets the lines, the link stays */
    FILE *f = fopen(real, "w");
    fclose(f);
    CHECK(symlink("real.jsonl", link) == 0);
    c = cfg(2, ck, link);
    CHECK(toy_train(&m, d, &c, &err) == 0);
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(lines_of(real) == 2);
    /* a link onto the checkpoint is the checkpoint */
    char link2[256];
    test_tmp_path("link2.jsonl", link2, sizeof link2);
    CHECK(symlink("o.safetensors", link2) == 0);
    c = cfg(3, ck, link2), c.resume = ck;
    CHECK(toy_train(&m, d, &c, &err) == -1);
    CHECK_STR_HAS(err.msg, "the same file");
    /* the atomic writer never renames over what is not a regular file */
    nn_atomic a;
    CHECK(nn_atomic_open(&a, "/dev/null", &err) == -1);
    CHECK(nn_output_check(fifo, &err) == -1);
    const char *three[3] = {ck, real, link};
    CHECK(nn_outputs_distinct(three, 3, &err) == -1);
    CHECK_STR_HAS(err.msg, "real.jsonl and ");
    nn_params_free(m.p);
    nn_dataset_free(d);
}

/* F15: one owner an output; a second trainer is refused by name. */
void test_output_lock(void)
{
    nn_dataset *d = rows(128);
    nn_error err;
    char ck[256];
    test_tmp_path("locked.safetensors", ck, sizeof ck);
    nn_lock l, l2;
    CHECK(nn_lock_take(&l, ck, &err) == 0);
    CHECK(nn_lock_take(&l2, ck, &err) == -1);
    CHECK_STR_HAS(err.msg, "in use by another run (process");
    toy m;
    toy_init(&m);
    nn_train_config c = cfg(1, ck, NULL);
    CHECK(toy_train(&m, d, &c, &err) == -1);
    CHECK_STR_HAS(err.msg, "locked.safetensors: in use by another run");
    /* another process too */
    pid_t pid = fork();
    if (pid == 0) {
        nn_lock o;
        _exit(nn_lock_take(&o, ck, &err) == -1 && strstr(err.msg, "in use") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    nn_lock_release(&l);
    CHECK(toy_train(&m, d, &c, &err) == 0);
    CHECK(nn_lock_take(&l2, ck, &err) == 0); /* released at the end of the run */
    nn_lock_release(&l2);
    nn_params_free(m.p);
    nn_dataset_free(d);
}

/* F17: a metrics line is whole or absent; resume drops a cut-off last line
 * and puts back the checkpoint epoch's line when it is missing. */
void test_metrics_lines_whole(void)
{
    nn_dataset *d = rows(128);
    nn_error err;
    char ck[256], m1[256];
    test_tmp_path("mw.safetensors", ck, sizeof ck);
    test_tmp_path("mw.jsonl", m1, sizeof m1);
    toy m;
    toy_init(&m);
    nn_train_config c = cfg(2, ck, m1);
    CHECK(toy_train(&m, d, &c, &err) == 0);
    CHECK(lines_of(m1) == 2);
    /* a file-size limit in the middle of a line: the file as it was */
    struct stat before, after;
    stat(m1, &before);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit lim = {(rlim_t)before.st_size + 10, (rlim_t)before.st_size + 10};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        _exit(nn_metrics_append(m1, "{\"epoch\":3,\"train_loss\":1.2345678901234}", &err) == -1 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    stat(m1, &after);
    CHECK(after.st_size == before.st_size);
    /* half a line at the end (a crash of an older writer), and the last
     * epoch's line missing (killed between the checkpoint and the append) */
    FILE *f = fopen(m1, "r");
    char first[4096] = "";
    CHECK(f && fgets(first, sizeof first, f));
    fclose(f);
    f = fopen(m1, "w");
    fprintf(f, "%s{\"epoch\":2,\"train_lo", first);
    fclose(f);
    c = cfg(3, ck, m1), c.resume = ck;
    CHECK(toy_train(&m, d, &c, &err) == 0);
    CHECK(lines_of(m1) == 3);
    char *text = NULL;
    size_t cap = 0;
    f = fopen(m1, "r");
    int epochs_ok = 1;
    for (int e = 1; e <= 3; e++) {
        char want[32];
        snprintf(want, sizeof want, "{\"epoch\":%d,", e);
        epochs_ok &= getline(&text, &cap, f) > 0 && strncmp(text, want, strlen(want)) == 0;
    }
    fclose(f);
    free(text);
    CHECK(epochs_ok);
    /* a line in the middle that is no metrics line: refused, named */
    f = fopen(m1, "a");
    fputs("not json\n{\"epoch\":4}\n", f);
    fclose(f);
    int dropped;
    CHECK(nn_metrics_resume(m1, 3, NULL, &dropped, &err) == -1);
    CHECK_STR_HAS(err.msg, "mw.jsonl:4: expected a JSON object");
    CHECK(nn_metrics_append(m1, "{\"no\":1}", &err) == -1);
    nn_params_free(m.p);
    nn_dataset_free(d);
}

/* F05: a tensor without data reaches no kernel. */
void test_tensor_without_data(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor x = tn_wrap(NULL, 2, SHAPE(4, 3));
    CHECK(ad_const(t, &x) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "const (4x3): the tensor has no data");
    ad_tape_reset(t);
    tn_tensor *g = tn_new(2, SHAPE(4, 3));
    CHECK(ad_param(t, &x, g) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "the value has no data");
    /* the gradient check on such a batch, and with eps 0 */
    toy m;
    toy_init(&m);
    nn_batch b = {tn_wrap(NULL, 2, SHAPE(4, 6)), NULL, 4};
    ad_gradcheck_report rep;
    CHECK(nn_gradcheck_loss(toy_loss, &m, m.p, &b, 1, GRAD_EPS, 3, &rep) == -1);
    CHECK_STR_HAS(rep.error, "the batch has no values");
    nn_dataset *d = rows(4);
    b.x = tn_wrap(d->x, 2, SHAPE(4, 6));
    CHECK(nn_gradcheck_loss(toy_loss, &m, m.p, &b, 1, 0, 3, &rep) == -1);
    CHECK_STR_HAS(rep.error, "eps 0: expected a finite number > 0");
    /* a training set with neither floats nor bytes */
    nn_dataset empty = {.n = 4, .dim = 6};
    nn_train_config c = cfg(1, NULL, NULL);
    nn_error err;
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    nn_optim *o = nn_optim_new(&oc, m.p, &err);
    CHECK(nn_train(m.p, o, toy_loss, &m, &empty, NULL, &c, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "the training set has no values");
    nn_optim_free(o);
    nn_params_free(m.p);
    nn_dataset_free(d);
    tn_free(g);
    ad_tape_free(t);
}

/* A variable of an earlier step, given to an op or to backward, is refused. */
void test_use_after_reset(void)
{
    ad_tape *t = ad_tape_new(0);
    tn_tensor *w = test_random(1, SHAPE(3), -1, 1, 1), *g = tn_new(1, SHAPE(3));
    ad_var *loss = ad_sum(ad_square(ad_param(t, w, g)));
    ad_var *old = ad_param(t, w, g);
    ad_tape_reset(t);
    CHECK(ad_backward(t, loss) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "backward: the loss was recorded before the tape's last reset");
    ad_tape_reset(t);
    CHECK(ad_exp(old) == NULL || !ad_tape_ok(t));
    CHECK_STR_HAS(ad_tape_error(t), "was recorded before the tape's last reset");
    tn_free(w), tn_free(g);
    ad_tape_free(t);
}

/* Numbers a call must refuse, with a message naming them. */
void test_refused_numbers(void)
{
    ad_tape *t = ad_tape_new(0);
    ad_var *none = ad_const_new(t, 2, SHAPE(0, 3));
    CHECK(ad_mean(none) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "the mean of no elements");
    ad_tape_reset(t);
    ad_one_hot(t, NULL, 3, 10);
    CHECK_STR_HAS(ad_tape_error(t), "one_hot: no labels (NULL) for 3 rows");
    ad_tape_reset(t);
    const int lab[2] = {0, 1};
    ad_one_hot(t, lab, 2, 0);
    CHECK_STR_HAS(ad_tape_error(t), "one_hot: 0 classes for 2 labels");
    /* linear without a bias: x·Wᵀ */
    ad_tape_reset(t);
    tn_tensor *x = test_random(2, SHAPE(2, 3), -1, 1, 2), *w = test_random(2, SHAPE(4, 3), -1, 1, 3);
    ad_var *a = ad_linear(ad_const(t, x), ad_const(t, w), NULL);
    ad_var *b = ad_matmul(ad_const(t, x), 0, ad_const(t, w), 1);
    CHECK(a && b && memcmp(ad_data(a), ad_data(b), 8 * sizeof(tn_real)) == 0);
    tn_free(x), tn_free(w);
    ad_tape_free(t);
    /* optimizer hyperparameters */
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_error err;
    nn_linear_init(&l, p, "fc", 2, 2, &err);
    nn_params_alloc(p, &err);
    struct {
        double b1, b2, eps, min_lr;
        const char *say;
    } bad[] = {{1, 0.999, 1e-8, 0, "betas (1, 0.999)"}, {0.9, 1.5, 1e-8, 0, "betas (0.9, 1.5)"},
               {0.9, 0.999, -1, 0, "eps -1"}, {0.9, 0.999, 1e-8, 0.5, "min_lr 0.5"}};
    for (int i = 0; i < 4; i++) {
        nn_optim_config c = nn_optim_defaults(NN_ADAM, 1e-3);
        c.beta1 = bad[i].b1, c.beta2 = bad[i].b2, c.eps = bad[i].eps;
        if (bad[i].min_lr > 0)
            c.sched = NN_SCHED_COSINE, c.total_steps = 10, c.min_lr = bad[i].min_lr;
        CHECK(nn_optim_new(&c, p, &err) == NULL);
        CHECK_STR_HAS(err.msg, bad[i].say);
    }
    nn_params_free(p);
}

/* The guard sees the optimizer's state overflow (weights still finite) at
 * the step it happens, and names it with the step and the epoch. */
void test_guard_optimizer_state(void)
{
    nn_dataset *d = rows(128);
    toy m;
    toy_init(&m);
    m.scale = sizeof(tn_real) == 4 ? 1e30 : 1e200; /* g² overflows, m/√v stays finite */
    nn_error err;
    char ck[256];
    test_tmp_path("g.safetensors", ck, sizeof ck);
    nn_train_config c = cfg(1, ck, NULL);
    CHECK(toy_train(&m, d, &c, &err) == -1);
    CHECK_STR_HAS(err.msg, "step 0 (epoch 1): the optimizer's exp_avg_sq[");
    CHECK(access(ck, F_OK) != 0); /* nothing saved */
    nn_params_free(m.p);
    nn_dataset_free(d);
}

/* Pictures with fewer than 40 images: drawn with what there is. */
static ad_var *toy_posterior(void *m_, ad_tape *t, const nn_batch *b, ad_var **lv)
{
    toy *m = m_;
    return ad_split2(nn_linear_forward(&m->enc, ad_const(t, &b->x)), lv);
}

static ad_var *toy_log_lik(void *m_, ad_tape *t, const nn_batch *b, ad_var *z)
{
    toy *m = m_;
    return nn_bernoulli_logp_rows(ad_const(t, &b->x), nn_linear_forward(&m->dec, z));
}

static ad_var *toy_decode(void *m_, ad_tape *t, ad_var *z, const int *labels)
{
    toy *m = m_;
    (void)t, (void)labels;
    return ad_sigmoid(nn_linear_forward(&m->dec, z));
}

void test_pictures_few_images(void)
{
    nn_dataset *d = rows(3);
    d->rows = 2, d->cols = 3;
    toy m;
    toy_init(&m);
    nn_latent l = {.model = &m, .latent = 2, .rows = 2, .cols = 3, .posterior = toy_posterior,
                   .log_lik = toy_log_lik, .decode = toy_decode};
    char dir[256], paths[NN_PIC_FILES][4096];
    nn_error err;
    test_tmp_path("few", dir, sizeof dir);
    CHECK(nn_make_dirs(dir, &err) == 0);
    tn_rng r;
    tn_rng_seed(&r, 1, 5);
    int n = nn_pic_all_files(dir, &l, d, paths, &err);
    CHECK(n == 8); /* reconstructions, samples, interpolation, manifold: PNG and labelled SVG */
    CHECK(nn_pic_all(dir, &l, d, &r, NULL, NULL, &err) == 0);
    for (int i = 0; i < n; i++)
        CHECK(access(paths[i], F_OK) == 0);
    nn_dataset one = nn_data_view(d, 0, 1);
    CHECK(nn_pic_all_files(dir, &l, &one, paths, &err) == 6); /* no interpolation from one image */
    CHECK(nn_pic_all(dir, &l, &one, &r, NULL, NULL, &err) == 0);
    nn_params_free(m.p);
    nn_dataset_free(d);
}

/* nn_setup_args: the seed exactly as 64 bits, --out never cut, --help with
 * no error struct, and the exit status of each outcome. */
void test_setup_args(void)
{
    char buf[512], out[256];
    DATA_OR_SKIP(path, "mnist/train-images-idx3-ubyte.gz", buf);
    (void)path;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mnist", getenv("TAPE_DATA") ? getenv("TAPE_DATA") : "../shared/data");
    test_tmp_path("setup", out, sizeof out);
    nn_setup s;
    nn_error err;
    char *ok[] = {"prog", "--data", dir, "--train-limit", "10", "--test-limit", "10", "--seed",
                  "9007199254740993", "--out", out, "--epochs", "0"};
    tn_set_threads(tn_get_threads());
    CHECK(nn_setup_args(&s, 13, ok, "prog", 1, NULL, NULL, &err) == 0);
    CHECK(s.cfg.seed == 9007199254740993ULL); /* 2^53 + 1: a double would make it 2^53 */
    nn_setup_free(&s);
    char *help[] = {"prog", "--help"};
    CHECK(nn_setup_args(&s, 2, help, "prog", 1, NULL, NULL, NULL) == NN_SETUP_HELP);
    static char longout[5000];
    memset(longout, 'o', sizeof longout - 1);
    char *lo[] = {"prog", "--out", longout};
    CHECK(nn_setup_args(&s, 3, lo, "prog", 1, NULL, NULL, &err) == NN_SETUP_USAGE);
    CHECK_STR_HAS(err.msg, "prog: --out: 4999 bytes: expected a folder name");
    CHECK(nn_setup_exit(NN_SETUP_USAGE, &err) == 2 && nn_setup_exit(NN_SETUP_FAILED, &err) == 1);
    char *missing[] = {"prog", "--data", "/nonexistent"};
    CHECK(nn_setup_args(&s, 3, missing, "prog", 1, NULL, NULL, &err) == NN_SETUP_FAILED);
    CHECK_STR_HAS(err.msg, "prog: /nonexistent: expected train-images");
    char *seed[] = {"prog", "--seed", "-1"};
    CHECK(nn_setup_args(&s, 3, seed, "prog", 1, NULL, NULL, &err) == NN_SETUP_USAGE);
}

/* The ops a model author asked for, by value: arg-max/min, stop-gradient,
 * straight-through, cross-entropy, log-mean-exp, hard Gumbel of given noise. */
void test_author_ops_values(void)
{
    ad_tape *t = ad_tape_new(0);
    const tn_real v[6] = {1, 5, 5, -2, 0, 7};
    ad_var *x = ad_const_copy(t, 2, SHAPE(2, 3), v);
    const int *mx = ad_argmax(x, -1), *mn = ad_argmin(x, -1), *m0 = ad_argmax(x, 0);
    CHECK(mx && mx[0] == 1 && mx[1] == 2); /* first on ties */
    CHECK(mn && mn[0] == 0 && mn[1] == 0);
    CHECK(m0 && m0[0] == 0 && m0[1] == 0 && m0[2] == 1);
    CHECK(ad_argmax(x, 2) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "argmax: (2x3): axis 2 out of range");
    ad_tape_reset(t);
    /* cross-entropy against log-softmax picked by hand */
    x = ad_const_copy(t, 2, SHAPE(2, 3), v);
    ad_var *ce = ad_cross_entropy(x, (const int[]){1, 2});
    ad_var *ls = ad_log_softmax(x);
    CHECK(ce && fabs(ad_data(ce)[0] + ad_data(ls)[1]) < VAL_TOL && fabs(ad_data(ce)[1] + ad_data(ls)[5]) < VAL_TOL);
    CHECK(ad_cross_entropy(x, (const int[]){1, 3}) == NULL);
    CHECK_STR_HAS(ad_tape_error(t), "label 3 at row 1 is outside 0..2");
    ad_tape_reset(t);
    /* log-mean-exp of equal values is the value */
    ad_var *e = ad_logmeanexp(ad_const_copy(t, 1, SHAPE(4), (const tn_real[]){2, 2, 2, 2}), 0, 0);
    CHECK(e && fabs(ad_item(e) - 2) < VAL_TOL);
    /* the hard sample is a one-hot of the soft one's arg-max */
    ad_var *lg = ad_const_copy(t, 2, SHAPE(2, 3), v), *g = ad_const_new(t, 2, SHAPE(2, 3));
    ad_var *h = ad_gumbel_softmax_noise(lg, g, 1, 1);
    CHECK(h && ad_data(h)[1] == 1 && ad_data(h)[0] == 0 && ad_data(h)[5] == 1 && ad_data(h)[4] == 0);
    /* stop-gradient: no gradient reaches through it */
    tn_tensor *w = test_random(1, SHAPE(3), -1, 1, 5), *gw = tn_new(1, SHAPE(3));
    ad_var *p = ad_param(t, w, gw);
    ad_var *loss = ad_sum(ad_mul(ad_detach(p), ad_detach(p)));
    CHECK(ad_backward(t, loss) == -1);
    CHECK_STR_HAS(ad_tape_error(t), "depends on no parameter");
    /* straight-through: y's value forward, x's gradient back (d/dx Σ c·st = c) */
    ad_tape_reset(t);
    tn_tensor *gx = tn_new(1, SHAPE(3));
    ad_var *px = ad_param(t, w, gx);
    ad_var *y = ad_const_copy(t, 1, SHAPE(3), (const tn_real[]){7, 8, 9});
    ad_var *st = ad_straight_through(px, y);
    CHECK(st && ad_data(st)[0] == 7 && ad_data(st)[2] == 9);
    ad_var *c = ad_const_copy(t, 1, SHAPE(3), (const tn_real[]){1, -2, 3});
    CHECK(ad_backward(t, ad_sum(ad_mul(st, c))) == 0);
    CHECK(gx->data[0] == 1 && gx->data[1] == -2 && gx->data[2] == 3);
    tn_free(w), tn_free(gw), tn_free(gx);
    ad_tape_free(t);
}
