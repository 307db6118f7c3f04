/* test_inject.c: allocation failures injected into a training run, a
 * checkpoint save and load, and every loader: for every n up to the number
 * of allocations the operation makes, the n-th one fails. Each must return
 * a clean error (an out-of-memory message, no crash), leave the file it was
 * saving untouched with no temporary file beside it, and leak nothing (the
 * sanitizer build's LeakSanitizer checks the whole process at exit). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <unistd.h>

#include "model.h"
#include "test.h"

/* Runs op once to count its allocations, then once per allocation with
 * that one failing. op returns 0 on success, -1 on a reported error (with
 * the message in err). Returns the number of failures survived, and counts
 * a test failure for an injected run that claimed success or reported
 * nothing. */
typedef int (*op_fn)(void *ctx, nn_error *err);

static long inject_all(const char *name, op_fn op, void *ctx)
{
    nn_error err;
    long before = test_allocs;
    if (op(ctx, &err) != 0) {
        test_failures++;
        printf("    %s: fails without injection: %s\n", name, err.msg);
        return 0;
    }
    long total = test_allocs - before, survived = 0;
    for (long n = 1; n <= total; n++) {
        err.msg[0] = '\0';
        long failed = test_failed;
        test_fail_at = test_allocs + n;
        int rc = op(ctx, &err);
        test_fail_at = 0;
        if (test_failed == failed)
            continue; /* this run took another path and made fewer allocations */
        if (rc == 0) {
            /* an allocation some code can do without (a cache, a retry) */
            survived++;
            continue;
        }
        if (!err.msg[0]) {
            test_failures++;
            printf("    %s: allocation %ld of %ld failed and no message was given\n", name, n, total);
            continue;
        }
        survived++;
    }
    printf("    %s: %ld allocations, each made to fail: %ld clean errors\n", name, total, survived);
    return survived;
}

/* ---- the operations ------------------------------------------------------- */

typedef struct {
    const char *path, *labels;
    int kind; /* 0 idx, 1 csv, 2 amat, 3 frey */
} load_ctx;

static int load_op(void *c_, nn_error *err)
{
    load_ctx *c = c_;
    nn_dataset *d = c->kind == 0 ? nn_load_idx(c->path, c->labels, err)
                  : c->kind == 1 ? nn_load_csv(c->path, -1, err)
                  : c->kind == 2 ? nn_load_amat(c->path, err)
                                 : nn_load_frey(c->path, err);
    nn_dataset_free(d);
    return d ? 0 : -1;
}

typedef struct {
    model *m;
    nn_optim *o;
    const char *path;
    nn_dataset *d;
} model_ctx;

static int save_op(void *c_, nn_error *err)
{
    model_ctx *c = c_;
    return model_save(c->m, c->path, c->o, NULL, err);
}

static int load_ckpt_op(void *c_, nn_error *err)
{
    model_ctx *c = c_;
    nn_meta meta = NN_META_INIT;
    model *m = model_load(c->path, &meta, err);
    int rc = m ? model_load_optim(m, c->path, c->o, err) : -1;
    model_free(m);
    nn_meta_free(&meta);
    return rc;
}

static int train_op(void *c_, nn_error *err)
{
    model_ctx *c = c_;
    nn_train_config tc = nn_train_defaults();
    tc.epochs = 1, tc.batch = 10, tc.log = NULL, tc.eval = model_train_eval;
    return nn_train(c->m->params, c->o, model_train_loss, c->m, c->d, c->d, &tc, NULL, err);
}

/* Files in the test folder whose name starts with prefix. */
static int files_like(const char *prefix)
{
    DIR *d = opendir(test_tmpdir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    return n;
}

void test_alloc_failures_loaders(void)
{
    static const struct {
        const char *file, *labels;
        int kind;
    } cases[] = {
        {"tests/fuzz/corpus/idx/images3.idx", "tests/fuzz/corpus/idx/labels3.idx", 0},
        {"tests/fuzz/corpus/idx/images3.idx.gz", NULL, 0},
        {"tests/fuzz/corpus/csv/three.csv", NULL, 1},
        {"tests/fuzz/corpus/amat/three.amat.gz", NULL, 2},
        {"tests/fuzz/corpus/mat/three.mat", NULL, 3},
    };
    long survived = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        load_ctx c = {cases[i].file, cases[i].labels, cases[i].kind};
        survived += inject_all(cases[i].file, load_op, &c);
    }
    CHECK(survived >= 5); /* every loader allocates; inject_all checked each failure */
}

void test_alloc_failures_checkpoint_and_training(void)
{
    nn_error err;
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    model_config mc = model_defaults(MODEL_VAE);
    mc.input_dim = 12, mc.hidden[0] = 6, mc.latent = 2;
    model *m = model_new(&mc, &r, &err);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    nn_optim *o = nn_optim_new(&oc, m->params, &err);
    tn_real xs[40 * 12];
    for (size_t i = 0; i < 40 * 12; i++)
        xs[i] = (tn_real)((i * 7) % 10) / 10;
    nn_dataset data = {.n = 40, .dim = 12, .x = xs};
    char path[256];
    test_tmp_path("inject.safetensors", path, sizeof path);
    model_ctx c = {m, o, path, &data};
    CHECK(save_op(&c, &err) == 0);
    size_t len;
    FILE *f = fopen(path, "rb");
    char before[8192];
    len = f ? fread(before, 1, sizeof before, f) : 0;
    if (f)
        fclose(f);
    CHECK(inject_all("checkpoint save", save_op, &c) > 0);
    /* the file is the one saved first: not one byte changed, no temp file */
    char after[8192];
    f = fopen(path, "rb");
    size_t len2 = f ? fread(after, 1, sizeof after, f) : 0;
    if (f)
        fclose(f);
    CHECK(len > 0 && len == len2 && memcmp(before, after, len) == 0);
    CHECK(files_like("inject.safetensors.tmp.") == 0);
    CHECK(inject_all("checkpoint load", load_ckpt_op, &c) > 0);
    CHECK(inject_all("training (an epoch of 4 steps and evaluation)", train_op, &c) > 0);
    nn_optim_free(o);
    model_free(m);
}
