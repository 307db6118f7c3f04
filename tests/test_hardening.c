/* test_hardening.c: one test per finding of the bad-input audit that the
 * library (not the command line, see test_cli.sh) answers: each input that
 * crashed, was accepted silently or lost work, and what must happen now. */
#define _POSIX_C_SOURCE 200809L

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "model.h"
#include "test.h"

static const char *put(const char *name, const void *b, size_t n, int gz)
{
    static char path[8][256];
    static int k;
    char *p = path[k++ % 8];
    test_tmp_path(name, p, 256);
    if (gz) {
        gzFile g = gzopen(p, "wb");
        gzwrite(g, b, (unsigned)n);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
    }
    return p;
}

#define PUT(name, text) put(name, text, strlen(text), 0)

/* findings 1 and 2: .amat with tabs and a bad cell (a NULL dereference in
 * the message code), and many whitespace-only lines (0 columns, a double
 * free) */
void test_amat_tabs_and_blank_lines(void)
{
    nn_error err;
    CHECK(nn_load_amat(PUT("tabs.amat", "0\t1\t0\n1\tx\t1\n"), &err) == NULL);
    CHECK_STR_HAS(err.msg, "line 2, column 2: \"x\" is not a number");
    char *blank = malloc(3000 * 3 + 1);
    for (int i = 0; i < 3000; i++)
        memcpy(blank + 3 * i, " \t\n", 3);
    blank[9000] = '\0';
    CHECK(nn_load_amat(put("blank.amat", blank, 9000, 0), &err) == NULL);
    CHECK_STR_HAS(err.msg, "no data rows (3000 lines read)");
    memcpy(blank + 8997, "1 0", 3); /* a real row at the end is read */
    nn_dataset *d = nn_load_amat(put("blank2.amat", blank, 9000, 0), &err);
    CHECK(d && d->n == 1 && d->dim == 2);
    nn_dataset_free(d);
    free(blank);
    /* binary pixels must be 0 or 1 */
    CHECK(nn_load_amat(PUT("seven.amat", "0 1 0\n1 7 1\n"), &err) == NULL);
    CHECK_STR_HAS(err.msg, "line 2, column 2: \"7\" is not 0 or 1");
    CHECK(nn_load_amat(PUT("minus.amat", "0 -1 0\n"), &err) == NULL);
    CHECK_STR_HAS(err.msg, "line 1, column 2: \"-1\" is not 0 or 1");
}

/* CSV cells that are not finite, or do not fit a float */
void test_csv_rejects_nonfinite(void)
{
    nn_error err;
    const char *cells[3] = {"nan", "inf", "1e39"};
    for (int i = 0; i < 3; i++) {
        char text[64], name[32], want[64];
        snprintf(text, sizeof text, "1,2,3\n4,%s,6\n", cells[i]);
        snprintf(name, sizeof name, "bad%d.csv", i);
        nn_dataset *d = nn_load_csv(PUT(name, text), -1, &err);
#ifdef TN_REAL_DOUBLE
        if (i == 2) { /* 1e39 fits a double */
            CHECK(d != NULL);
            nn_dataset_free(d);
            continue;
        }
#endif
        CHECK(d == NULL);
        snprintf(want, sizeof want, "line 2, column 2: \"%s\" is not a finite number", cells[i]);
        CHECK_STR_HAS(err.msg, want);
    }
}

/* A folder or a corrupt stream is named as such; junk after a gzip stream
 * is refused. */
void test_gzip_and_folders(void)
{
    nn_error err;
    CHECK(nn_load_idx(test_tmpdir(), NULL, &err) == NULL);
    CHECK_STR_HAS(err.msg, ": is a folder, expected a file");
    CHECK(nn_load_csv(test_tmpdir(), -1, &err) == NULL);
    CHECK_STR_HAS(err.msg, "is a folder");
    CHECK(nn_load_frey(test_tmpdir(), &err) == NULL);
    CHECK_STR_HAS(err.msg, "is a folder");
    CHECK(nn_load_meta(test_tmpdir(), NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "is a folder, expected a checkpoint file");
    /* a valid IDX, gzipped, then junk */
    unsigned char idx[16] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4}; /* 2 images of 2 */
    const char *p = put("ok.idx.gz", idx, sizeof idx, 1);
    nn_dataset *d = nn_load_idx(p, NULL, &err);
    CHECK(d && d->n == 2 && d->dim == 2);
    nn_dataset_free(d);
    FILE *f = fopen(p, "ab");
    fputs("JUNK", f);
    fclose(f);
    CHECK(nn_load_idx(p, NULL, &err) == NULL);
    CHECK_STR_HAS(err.msg, "bytes after the gzip stream");
    /* two gzip members are one valid stream */
    f = fopen(p, "wb");
    fclose(f);
    gzFile g = gzopen(p, "ab");
    gzwrite(g, idx, 6);
    gzclose(g);
    g = gzopen(p, "ab");
    gzwrite(g, idx + 6, 10);
    gzclose(g);
    d = nn_load_idx(p, NULL, &err);
    CHECK(d && d->n == 2);
    nn_dataset_free(d);
    /* a corrupt stream: a gzip header, then garbage */
    unsigned char bad[32] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff};
    CHECK(nn_load_idx(put("bad.idx.gz", bad, sizeof bad, 0), NULL, &err) == NULL);
    CHECK_STR_HAS(err.msg, "not a valid gzip stream");
}

/* A checkpoint file in the safetensors layout from a header and data. */
static const char *ckpt(const char *name, const char *header, const void *data, size_t n)
{
    size_t h = strlen(header);
    unsigned char *b = malloc(8 + h + n);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    memcpy(b + 8 + h, data, n);
    const char *p = put(name, b, 8 + h + n, 0);
    free(b);
    return p;
}

/* Duplicate names, junk after the JSON, non-finite weights, metadata
 * numbers out of range, and sizes the file cannot hold. */
void test_checkpoint_strictness(void)
{
    nn_error err;
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_linear_init(&l, p, "fc", 2, 2, &err);
    nn_params_alloc(p, &err);
    float data[6] = {1, 2, 3, 4, 5, 6};
    const char *w = "\"fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}";
    const char *b = "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}";
    char h[512];
    snprintf(h, sizeof h, "{%s,%s}", w, b);
    CHECK(nn_load(ckpt("ok.st", h, data, 24), p, NULL, NULL, &err) == 0); /* the control */
    snprintf(h, sizeof h, "{%s,%s,%s}", w, b, w);
    CHECK(nn_load(ckpt("dup.st", h, data, 24), p, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "header: the name \"fc.weight\" appears twice");
    snprintf(h, sizeof h, "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"},%s,%s}", w, b);
    CHECK(nn_load(ckpt("dupmeta.st", h, data, 24), p, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "__metadata__.a: the key appears twice");
    snprintf(h, sizeof h, "{%s,%s}junk", w, b);
    CHECK(nn_load(ckpt("junk.st", h, data, 24), p, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "header: \"junk\" after the JSON object");
    snprintf(h, sizeof h, "{%s,%s}    ", w, b); /* padding is allowed */
    CHECK(nn_load(ckpt("pad.st", h, data, 24), p, NULL, NULL, &err) == 0);
    snprintf(h, sizeof h, "{%s,%s}", w, b);
    data[2] = NAN;
    tn_fill(nn_params_value(p, 0), 42);
    CHECK(nn_load(ckpt("nan.st", h, data, 24), p, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "tensor fc.weight: element 2 is nan, expected a finite");
    CHECK(nn_params_value(p, 0)->data[0] == 42); /* nothing copied */
    data[2] = 3;
    /* nn_save never writes non-finite weights */
    nn_params_values(p)[1] = INFINITY;
    char path[256];
    test_tmp_path("inf.safetensors", path, sizeof path);
    CHECK(nn_save(path, p, NULL, NULL, &err) == -1);
    CHECK_STR_HAS(err.msg, "fc.weight[1] is inf");
    CHECK(access(path, F_OK) != 0);
    nn_params_values(p)[1] = 0;
    /* optim.steps out of range (it overflowed a long before): a file whole
     * but for that number, checked against the same file with steps 3 */
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    nn_optim *o = nn_optim_new(&oc, p, &err);
    float all[18] = {1, 2, 3, 4, 5, 6}; /* the parameters, then both slots at 0 */
    const char *slots = "\"optim.exp_avg.fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[24,40]},"
                        "\"optim.exp_avg.fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[40,48]},"
                        "\"optim.exp_avg_sq.fc.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[48,64]},"
                        "\"optim.exp_avg_sq.fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[64,72]}";
    const char *steps[2] = {"3", "9223372036854775807"};
    for (int k = 0; k < 2; k++) {
        char h2[1024];
        snprintf(h2, sizeof h2, "{\"__metadata__\":{\"optim.kind\":\"adam\",\"optim.steps\":\"%s\"},%s,%s,%s}",
                 steps[k], w, b, slots);
        CHECK(nn_load(ckpt("steps.st", h2, all, sizeof all), p, o, NULL, &err) == (k ? -1 : 0));
    }
    CHECK(nn_optim_steps(o) == 3);
    CHECK_STR_HAS(err.msg, "__metadata__.optim.steps: expected a whole number from 0 to 2^50, "
                           "found \"9223372036854775807\"");
    nn_optim_free(o);
    nn_params_free(p);
}

/* Model metadata: sizes parsed strictly with ranges, and sizes the file
 * cannot hold refused before the model is allocated. */
void test_model_metadata_limits(void)
{
    nn_error err;
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    model_config c = model_defaults(MODEL_VAE);
    c.input_dim = 4, c.hidden[0] = 3, c.latent = 2;
    model *m = model_new(&c, &r, &err);
    nn_meta meta = {0};
    model_config_to_meta(&m->c, &meta);
    struct {
        const char *key, *value, *expect;
    } cases[] = {
        {"model.hidden", "100000000", "metadata model.hidden: expected 1 to 8 widths from 1 to 100000"},
        {"model.hidden", "8,", "metadata model.hidden"},
        {"model.latent", "-1", "metadata model.latent: expected a whole number from 1 to 100000, found \"-1\""},
        {"model.warmup", "ten", "metadata model.warmup: expected a whole number"},
        {"model.samples", "4294967296", "metadata model.samples"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nn_meta bad = NN_META_INIT;
        CHECK(nn_meta_copy(&bad, &meta) == 0);
        nn_meta_set(&bad, cases[i].key, cases[i].value);
        model_config out;
        CHECK(model_config_from_meta(&bad, &out, &err) == -1);
        CHECK_STR_HAS(err.msg, cases[i].expect);
        nn_meta_free(&bad);
    }
    /* a small checkpoint whose metadata promise a huge model */
    char path[256];
    test_tmp_path("liar.safetensors", path, sizeof path);
    CHECK(nn_save(path, m->params, NULL, &meta, &err) == 0);
    model_config big = m->c;
    big.hidden[0] = 100000, big.input_dim = 100000;
    nn_meta bigmeta = {0};
    model_config_to_meta(&big, &bigmeta);
    CHECK(nn_save(path, m->params, NULL, &bigmeta, &err) == 0);
    long before = test_allocs;
    CHECK(model_load(path, NULL, &err) == NULL);
    CHECK_STR_HAS(err.msg, "parameters, but the file holds only");
    CHECK(test_allocs - before < 100); /* refused before allocating the model */
    nn_meta_free(&meta), nn_meta_free(&bigmeta);
    model_free(m);
}

/* Saving: files get the umask's permissions; temporary files left by a
 * killed save are removed by the next save; long paths keep the reason. */
void test_saving_files(void)
{
    nn_error err;
    nn_params *p = nn_params_new();
    nn_linear l;
    nn_linear_init(&l, p, "fc", 2, 2, &err);
    nn_params_alloc(p, &err);
    char path[256], stale[300], live[300], recent[300];
    test_tmp_path("perm.safetensors", path, sizeof path);
    /* a dead process's temporary file (no process has a pid this high),
     * a live one's (this test's parent), one of the old form just written */
    snprintf(stale, sizeof stale, "%s.tmp.%ld.AbC123", path, 4194304L + 7);
    snprintf(live, sizeof live, "%s.tmp.%ld.AbC123", path, (long)getppid());
    snprintf(recent, sizeof recent, "%s.tmp.AbC123", path);
    const char *tmps[3] = {stale, live, recent};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(tmps[i], "w");
        fputs("half a checkpoint", f);
        fclose(f);
    }
    mode_t old = umask(022);
    CHECK(nn_save(path, p, NULL, NULL, &err) == 0);
    umask(old);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    CHECK(access(stale, F_OK) != 0); /* cleaned up */
    CHECK(access(live, F_OK) == 0);  /* another run's, still writing: kept */
    CHECK(access(recent, F_OK) == 0);
    unlink(live), unlink(recent);
    /* a very long path: the message keeps its end */
    char longp[5000];
    memset(longp, 'd', sizeof longp - 1);
    longp[0] = '/', longp[sizeof longp - 1] = '\0';
    CHECK(nn_save(longp, p, NULL, NULL, &err) == -1);
    CHECK(strlen(err.msg) < sizeof err.msg);
    CHECK_STR_HAS(err.msg, "...");
    CHECK_STR_HAS(err.msg, "the path is too long");
    nn_params_free(p);
}

/* binarized MNIST's train and valid files of different widths: the
 * message names both files */
void test_binarized_width_mismatch(void)
{
    char dir[256], a[300], b[300], c[300];
    test_tmp_path("bin", dir, sizeof dir);
    mkdir(dir, 0700);
    snprintf(a, sizeof a, "%s/binarized_mnist_train.amat", dir);
    snprintf(b, sizeof b, "%s/binarized_mnist_valid.amat", dir);
    snprintf(c, sizeof c, "%s/binarized_mnist_test.amat", dir);
    FILE *f = fopen(a, "w");
    fputs("0 1 0\n1 1 0\n", f);
    fclose(f);
    f = fopen(b, "w");
    fputs("0 1\n1 1\n", f);
    fclose(f);
    f = fopen(c, "w");
    fputs("0 1 0\n", f);
    fclose(f);
    nn_dataset *tr, *te;
    nn_error err;
    char desc[256];
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    CHECK(nn_load_source(NN_SOURCE_BINARIZED, dir, &r, &tr, &te, desc, sizeof desc, &err) == -1);
    CHECK_STR_HAS(err.msg, "binarized_mnist_train.amat has 3 values per example");
    CHECK_STR_HAS(err.msg, "binarized_mnist_valid.amat has 2");
    CHECK(tr == NULL && te == NULL);
}
