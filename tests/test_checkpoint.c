/* test_checkpoint.c: safetensors round trips, a file read by numpy alone,
 * exact resumption of training, atomic saves, and broken files rejected
 * with errors that name the tensor and the field. */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nn.h"
#include "test.h"

#define SHAPE(...) (const size_t[]){__VA_ARGS__}

/* An MLP in -> hidden -> out named "fc"/"mlp", its store allocated. */
static nn_params *model(size_t in, size_t hidden, size_t out, nn_mlp *m)
{
    nn_params *p = nn_params_new();
    nn_error err;
    if (nn_mlp_init(m, p, "mlp", 3, SHAPE(in, hidden, out),
                    (const nn_act[]){NN_ACT_TANH, NN_ACT_NONE}, &err) ||
        nn_params_alloc(p, &err)) {
        nn_params_free(p);
        return NULL;
    }
    return p;
}

void test_checkpoint_round_trip(void)
{
    char path[256];
    nn_mlp m;
    nn_error err;
    nn_params *a = model(4, 3, 2, &m), *b = model(4, 3, 2, &m);
    tn_rng r, r2;
    tn_rng_seed(&r, 3, 1);
    nn_params_init(a, NN_INIT_GLOROT_UNIFORM, 0, &r);
    tn_rng_normal(&r); /* leaves a Box-Muller spare */
    nn_optim_config c = nn_optim_defaults(NN_ADAM, 0.01);
    nn_optim *oa = nn_optim_new(&c, a, &err), *ob = nn_optim_new(&c, b, &err);
    for (size_t i = 0; i < nn_params_size(a); i++)
        nn_params_grads(a)[i] = (tn_real)(0.1 * (double)i);
    nn_optim_step(oa, a);
    nn_optim_step(oa, a);
    nn_meta meta = {0};
    nn_meta_set(&meta, "model", "mlp 4-3-2");
    nn_meta_put_rng(&meta, "rng", &r);
    CHECK(nn_save(test_tmp_path("rt.safetensors", path, sizeof path), a, oa, &meta, &err) == 0);
    nn_meta got = NN_META_INIT;
    CHECK(nn_load(path, b, ob, &got, &err) == 0);
    int same = 1;
    for (size_t i = 0; i < nn_params_size(a); i++)
        same &= nn_params_values(a)[i] == nn_params_values(b)[i];
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < nn_params_size(a); i++)
            same &= nn_optim_slot(oa, k)[i] == nn_optim_slot(ob, k)[i];
    CHECK(same);
    CHECK(nn_optim_steps(ob) == 2);
    CHECK(nn_meta_get(&got, "model") && strcmp(nn_meta_get(&got, "model"), "mlp 4-3-2") == 0);
    CHECK(nn_meta_get_rng(&got, "rng", &r2) == 0);
    CHECK(r2.state == r.state && r2.inc == r.inc && r2.has_spare && r2.spare == r.spare);
    CHECK(tn_rng_normal(&r2) == tn_rng_normal(&r));
    nn_meta_free(&meta), nn_meta_free(&got);
    /* the parameters alone, into a model without an optimizer */
    nn_params *c2 = model(4, 3, 2, &m);
    CHECK(nn_load(path, c2, NULL, NULL, &err) == 0);
    CHECK(nn_params_values(c2)[5] == nn_params_values(a)[5]);
    /* an optimizer of another kind does not take Adam's state */
    nn_optim_config sc = nn_optim_defaults(NN_SGD, 0.1);
    sc.momentum = 0.9;
    nn_optim *os = nn_optim_new(&sc, c2, &err);
    CHECK(nn_load(path, c2, os, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "optim.kind: expected \"sgd\", found \"adam\"");
    /* no temporary file is left behind */
    struct stat st;
    char leftover[300];
    snprintf(leftover, sizeof leftover, "%s.tmp.", path);
    CHECK(stat(leftover, &st) != 0);
    nn_optim_free(oa), nn_optim_free(ob), nn_optim_free(os);
    nn_params_free(a), nn_params_free(b), nn_params_free(c2);
}

void test_checkpoint_read_by_numpy(void)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        SKIP("no /usr/bin/python3");
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        SKIP("no numpy for /usr/bin/python3 (apt-get install python3-numpy)");
    char path[256], cmd[600];
    nn_error err;
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_linear_init(&l, p, "fc", 4, 3, &err);
    nn_params_alloc(p, &err);
    for (size_t i = 0; i < 12; i++)
        nn_params_value(p, l.w)->data[i] = (tn_real)(0.5 * (double)i - 1);
    for (size_t i = 0; i < 3; i++)
        nn_params_value(p, l.b)->data[i] = (tn_real)(7 + i);
    nn_meta meta = {0};
    nn_meta_set(&meta, "model", "check");
    CHECK(nn_save(test_tmp_path("np.safetensors", path, sizeof path), p, NULL, &meta, &err) == 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/read_safetensors.py '%s'", path);
    CHECK(system(cmd) == 0);
    nn_meta_free(&meta);
    nn_params_free(p);
}

/* A few steps of a small VAE-like model with Adam and sampling; returns the
 * losses of steps [from, to). */
static void train(nn_params *p, nn_optim *o, tn_rng *r, const tn_tensor *x,
                  const nn_mlp *enc, const nn_mlp *dec, int from, int to, double *loss)
{
    ad_tape *t = ad_tape_new(0);
    for (int s = from; s < to; s++) {
        ad_tape_reset(t);
        nn_params_zero_grad(p);
        ad_var *X = ad_const(t, x);
        ad_var *h = nn_mlp_forward(enc, X);
        ad_var *mu = ad_slice(h, 0, 2), *lv = ad_slice(h, 2, 2);
        ad_var *z = ad_sample_normal(mu, lv, r);
        ad_var *l = ad_add(nn_bce_logits(nn_mlp_forward(dec, z), X), nn_kl_normal(mu, lv));
        ad_backward(t, l);
        loss[s] = ad_item(l);
        nn_optim_step(o, p);
    }
    ad_tape_free(t);
}

static nn_params *vae_model(nn_mlp *enc, nn_mlp *dec)
{
    nn_params *p = nn_params_new();
    nn_error err;
    nn_mlp_init(enc, p, "encoder", 3, SHAPE(6, 5, 4), (const nn_act[]){NN_ACT_RELU, NN_ACT_NONE}, &err);
    nn_mlp_init(dec, p, "decoder", 3, SHAPE(2, 5, 6), (const nn_act[]){NN_ACT_RELU, NN_ACT_NONE}, &err);
    nn_params_alloc(p, &err);
    return p;
}

void test_checkpoint_resume_is_exact(void)
{
    char path[256];
    nn_error err;
    nn_mlp enc, dec;
    tn_tensor *x = test_random(2, SHAPE(8, 6), 0, 1, 17);
    double straight[20], resumed[20];
    nn_optim_config c = nn_optim_defaults(NN_ADAM, 0.05);
    /* 20 steps in one go */
    nn_params *p = vae_model(&enc, &dec);
    tn_rng r;
    tn_rng_seed(&r, 5, 0);
    nn_params_init(p, NN_INIT_GLOROT_UNIFORM, 0, &r);
    nn_optim *o = nn_optim_new(&c, p, &err);
    train(p, o, &r, x, &enc, &dec, 0, 20, straight);
    nn_optim_free(o), nn_params_free(p);
    /* 10 steps, save, forget everything, load, 10 more */
    p = vae_model(&enc, &dec);
    tn_rng_seed(&r, 5, 0);
    nn_params_init(p, NN_INIT_GLOROT_UNIFORM, 0, &r);
    o = nn_optim_new(&c, p, &err);
    train(p, o, &r, x, &enc, &dec, 0, 10, resumed);
    nn_meta meta = {0};
    nn_meta_put_rng(&meta, "rng", &r);
    CHECK(nn_save(test_tmp_path("resume.safetensors", path, sizeof path), p, o, &meta, &err) == 0);
    nn_optim_free(o), nn_params_free(p);
    memset(&r, 0, sizeof r);
    p = vae_model(&enc, &dec);
    o = nn_optim_new(&c, p, &err);
    CHECK(nn_load(path, p, o, &meta, &err) == 0);
    CHECK(nn_meta_get_rng(&meta, "rng", &r) == 0);
    train(p, o, &r, x, &enc, &dec, 10, 20, resumed);
    int same = 1;
    for (int s = 0; s < 20; s++)
        same &= straight[s] == resumed[s];
    CHECK(same);
    CHECK(straight[19] < straight[0]);
    nn_meta_free(&meta);
    if (!same)
        printf("    step 19: straight %.17g, resumed %.17g\n", straight[19], resumed[19]);
    nn_optim_free(o), nn_params_free(p);
    tn_free(x);
}

void test_checkpoint_atomic_save(void)
{
    char path[256], back[64];
    nn_error err;
    nn_mlp m;
    nn_params *p = model(100, 50, 10, &m);
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    nn_params_init(p, NN_INIT_GLOROT_UNIFORM, 0, &r);
    CHECK(nn_save(test_tmp_path("atomic.safetensors", path, sizeof path), p, NULL, NULL, &err) == 0);
    /* a save that fails half-way (the file size limit cuts the write) */
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit lim = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        nn_params_values(p)[0] = 12345;
        _exit(nn_save(path, p, NULL, NULL, &err) == -1 && strstr(err.msg, "writing failed") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the previous checkpoint is whole and loads */
    nn_params *q = model(100, 50, 10, &m);
    CHECK(nn_load(path, q, NULL, NULL, &err) == 0);
    CHECK(nn_params_values(q)[0] == nn_params_values(p)[0]);
    /* and nothing else was left in the folder */
    snprintf(back, sizeof back, "ls '%s' | grep -c tmp >/dev/null", test_tmpdir());
    CHECK(system(back) != 0);
    /* a target that is a directory: refused before anything is written */
    char dir[256];
    test_tmp_path("adir", dir, sizeof dir);
    mkdir(dir, 0700);
    CHECK(nn_save(dir, p, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "adir: is a folder, expected a regular file or a new file name");
    nn_params_free(p), nn_params_free(q);
}

/* Writes a safetensors file from a header text and `data` bytes of zeros. */
static void write_raw(const char *path, const char *header, size_t data, long lie_len)
{
    FILE *f = fopen(path, "wb");
    uint64_t n = lie_len >= 0 ? (uint64_t)lie_len : strlen(header);
    for (int b = 0; b < 8; b++)
        fputc((int)(n >> (8 * b)) & 0xff, f);
    fputs(header, f);
    for (size_t i = 0; i < data; i++)
        fputc(0, f);
    fclose(f);
}

void test_checkpoint_rejects_bad_files(void)
{
    char path[256];
    nn_error err;
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_linear_init(&l, p, "fc", 2, 2, &err); /* fc.weight (2x2), fc.bias (2) */
    nn_params_alloc(p, &err);
    const char *good = "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                       "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}";
    test_tmp_path("bad.safetensors", path, sizeof path);
    write_raw(path, good, 24, -1);
    CHECK(nn_load(path, p, NULL, NULL, &err) == 0); /* the control */
    struct {
        const char *header;
        size_t data;
        long lie;
        const char *expect;
    } cases[] = {
        {"", 0, 3, "header length: 3 bytes runs past the end of the file (8 bytes)"},
        {good, 24, 1L << 40, "over the"},
        {good, 24, 5000, "runs past the end of the file"},
        {"[1, 2]", 0, -1, "not a JSON object"},
        {"{\"fc.weight\": {\"dtype\": \"F32\", \"shape\": [2,2], ", 0, -1, "not a JSON object"},
        {"{\"fc.weight\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 8, -1,
         "fc.weight: field dtype: \"BF16\" is not supported"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}}", 16, -1,
         "fc.weight: field shape"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16, -1,
         "fc.weight: field data_offsets: spans 12 bytes but shape x dtype needs 16"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, -1,
         "fc.weight: field data_offsets: [0, 16] runs past the data area of 8 bytes"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", 16, -1,
         "fc.weight: field shape: the element count overflows"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
         "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, -1,
         "overlaps the tensor before it"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
         "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}", 28, -1,
         "leaves a hole of 4 bytes"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 24, -1,
         "8 belong to no tensor"},
        {"{\"__metadata__\":{\"a\":1},\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
         16, -1, "__metadata__.a: expected a string value"},
        /* another architecture: a shape, a name */
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
         "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}}", 36, -1,
         "tensor fc.weight: field shape: expected [2, 2] (the model's), found [3, 2]"},
        {"{\"enc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
         "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", 24, -1,
         "tensor enc.weight: not a parameter of this model"},
        {"{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, -1,
         "tensor fc.bias: missing from the file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_raw(path, cases[i].header, cases[i].data, cases[i].lie);
        tn_fill(nn_params_value(p, 0), 42);
        int rc = nn_load(path, p, NULL, NULL, &err);
        if (rc != -1 || !strstr(err.msg, cases[i].expect)) {
            test_failures++;
            printf("    case %zu: rc %d, \"%s\" lacks \"%s\"\n", i, rc, err.msg, cases[i].expect);
        }
        CHECK(nn_params_value(p, 0)->data[0] == 42); /* nothing copied */
        CHECK_STR_HAS(err.msg, path);
    }
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    CHECK(nn_load(path, p, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "the file has 3 bytes, fewer than the 8 of the length field");
    /* a truncated real checkpoint */
    CHECK(nn_save(path, p, NULL, NULL, &err) == 0);
    CHECK(truncate(path, 40) == 0);
    CHECK(nn_load(path, p, NULL, NULL, &err) == -1);
    CHECK(nn_load_meta("/nonexistent/x.safetensors", NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "cannot open");
    nn_params_free(p);
}
