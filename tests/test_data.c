/* test_data.c: the loaders on the real data of ../shared/data (its README
 * gives what to expect), on broken files, and the transforms and batches. */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "nn.h"
#include "test.h"

static void write_bytes(const char *path, const void *b, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        gzwrite(g, b, (unsigned)n);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

void test_load_mnist(void)
{
    char bi[512], bl[512], ti[512], tl[512];
    DATA_OR_SKIP(images, "mnist/train-images-idx3-ubyte.gz", bi);
    DATA_OR_SKIP(labels, "mnist/train-labels-idx1-ubyte.gz", bl);
    DATA_OR_SKIP(timages, "mnist/t10k-images-idx3-ubyte.gz", ti);
    DATA_OR_SKIP(tlabels, "mnist/t10k-labels-idx1-ubyte.gz", tl);
    nn_error err;
    nn_dataset *d = nn_load_idx(images, labels, &err);
    CHECK(d != NULL);
    if (!d) {
        printf("    %s\n", err.msg);
        return;
    }
    CHECK(d->n == 60000 && d->dim == 784 && d->rows == 28 && d->cols == 28);
    const int first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    for (int i = 0; i < 10; i++)
        CHECK(d->labels[i] == first[i]);
    /* the well-known class counts of the training set */
    const int count[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    int seen[10] = {0};
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] >= 0 && d->labels[i] < 10)
            seen[d->labels[i]]++;
    for (int k = 0; k < 10; k++)
        CHECK(seen[k] == count[k]);
    double lo = 255, hi = 0, mean = 0;
    for (size_t i = 0; i < d->n * d->dim; i++)
        lo = fmin(lo, d->x[i]), hi = fmax(hi, d->x[i]), mean += d->x[i];
    CHECK(lo == 0 && hi == 255);
    /* README: the mean intensity of the training set is 0.1307 of 255 */
    CHECK_NEAR(mean / (double)(d->n * d->dim) / 255, 0.1307, 0.0001);
    nn_dataset_free(d);
    d = nn_load_idx(timages, tlabels, &err);
    CHECK(d && d->n == 10000 && d->labels[0] == 7);
    nn_dataset_free(d);
}

void test_load_frey_face(void)
{
    char b[512];
    DATA_OR_SKIP(path, "freyface/frey_rawface.mat", b);
    nn_error err;
    nn_dataset *d = nn_load_frey(path, &err);
    CHECK(d != NULL);
    if (!d) {
        printf("    %s\n", err.msg);
        return;
    }
    CHECK(d->n == 1965 && d->dim == 560 && d->rows == 28 && d->cols == 20);
    double lo = 255, hi = 0;
    for (size_t i = 0; i < d->n * d->dim; i++)
        lo = fmin(lo, d->x[i]), hi = fmax(hi, d->x[i]);
    CHECK(lo == 8 && hi == 238); /* README: values from 8 to 238 */
    nn_dataset_free(d);
}

void test_load_binarized_mnist(void)
{
    char b[512];
    DATA_OR_SKIP(path, "binarized_mnist/binarized_mnist_test.amat.gz", b);
    nn_error err;
    nn_dataset *d = nn_load_amat(path, &err);
    CHECK(d != NULL);
    if (!d) {
        printf("    %s\n", err.msg);
        return;
    }
    CHECK(d->n == 10000 && d->dim == 784 && d->rows == 28);
    int binary = 1;
    double mean = 0;
    for (size_t i = 0; i < d->n * d->dim; i++)
        binary &= d->x[i] == 0 || d->x[i] == 1, mean += d->x[i];
    CHECK(binary);
    mean /= (double)(d->n * d->dim);
    CHECK(mean > 0.12 && mean < 0.14);
    nn_dataset_free(d);
}

void test_load_fashion_mnist(void)
{
    const char *dir = "/usr/share/datasets/fashion-mnist"; /* Debian's package */
    char img[256], lab[256];
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", dir);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
    if (access(img, R_OK) != 0)
        SKIP("Debian's dataset-fashion-mnist is not installed");
    nn_error err;
    nn_dataset *d = nn_load_idx(img, lab, &err);
    CHECK(d && d->n == 10000 && d->dim == 784);
    int seen[10] = {0};
    for (size_t i = 0; d && i < d->n; i++)
        if (d->labels[i] >= 0 && d->labels[i] < 10)
            seen[d->labels[i]]++;
    for (int k = 0; d && k < 10; k++)
        CHECK(seen[k] == 1000); /* balanced test set */
    nn_dataset_free(d);
}

/* An IDX header with the given magic and dims, then `data` bytes. */
static size_t idx_bytes(unsigned char *buf, uint32_t magic, int nd, const uint32_t *dims, size_t data)
{
    size_t n = 0;
    for (int s = 24; s >= 0; s -= 8)
        buf[n++] = (unsigned char)(magic >> s);
    for (int i = 0; i < nd; i++)
        for (int s = 24; s >= 0; s -= 8)
            buf[n++] = (unsigned char)(dims[i] >> s);
    memset(buf + n, 7, data);
    return n + data;
}

void test_idx_rejects_bad_files(void)
{
    static unsigned char buf[4096];
    char p[256], q[256];
    nn_error err;
    test_tmp_path("x.idx", p, sizeof p);
    test_tmp_path("x.idx.gz", q, sizeof q);
    struct {
        uint32_t magic;
        int nd;
        uint32_t dims[4];
        size_t data, cut;
        const char *expect;
    } c[] = {
        {0x00000803, 3, {2, 3, 4}, 24, 0, NULL}, /* the control */
        {0x00000803, 3, {2, 3, 4}, 24, 10, "truncated"},
        {0x00000803, 3, {2, 3, 4}, 24, 30, "ends inside the header"},
        {0x00000803, 3, {2, 3, 4}, 24, 38, "magic: the file ends after 2 bytes"},
        {0x00000803, 3, {2, 3, 4}, 30, 0, "extra bytes"},
        {0x08030000, 3, {2, 3, 4}, 24, 0, "is not IDX"},
        {0x00000D03, 3, {2, 3, 4}, 24, 0, "element type 0x0d is not supported"},
        {0x00000804, 4, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, 8, 0, "product overflows"},
        {0x00000803, 3, {60000, 28, 28}, 100, 0, "truncated"},
        {0x00000801, 1, {5}, 5, 0, "expected at least 2"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        for (int gz = 0; gz < 2; gz++) {
            size_t n = idx_bytes(buf, c[i].magic, c[i].nd, c[i].dims, c[i].data);
            if (c[i].cut)
                n = n - c[i].cut < n ? (c[i].cut > n ? 0 : n - c[i].cut) : n;
            const char *path = gz ? q : p;
            write_bytes(path, buf, n, gz);
            nn_dataset *d = nn_load_idx(path, NULL, &err);
            if (!c[i].expect) {
                CHECK(d && d->n == 2 && d->dim == 12 && d->x[11] == 7);
            } else if (d || !strstr(err.msg, c[i].expect) || !strstr(err.msg, path)) {
                test_failures++;
                printf("    case %zu (%s): %s lacks \"%s\"\n", i, gz ? "gz" : "plain",
                       d ? "loaded" : err.msg, c[i].expect);
            }
            nn_dataset_free(d);
        }
    /* labels that do not match the images */
    char l[256];
    size_t n = idx_bytes(buf, 0x00000803, 3, (const uint32_t[]){2, 3, 4}, 24);
    write_bytes(p, buf, n, 0);
    n = idx_bytes(buf, 0x00000801, 1, (const uint32_t[]){3}, 3);
    write_bytes(test_tmp_path("l.idx", l, sizeof l), buf, n, 0);
    CHECK(nn_load_idx(p, l, &err) == NULL);
    CHECK_STR_HAS(err.msg, "expected 1 dimension of 2 labels");
    CHECK(nn_load_idx("/nonexistent/file", NULL, &err) == NULL);
    CHECK_STR_HAS(err.msg, "/nonexistent/file: cannot open");
}

void test_mat_rejects_bad_files(void)
{
    char p[256], src[512];
    nn_error err;
    test_tmp_path("x.mat", p, sizeof p);
    write_bytes(p, "not a mat file at all", 21, 0);
    CHECK(nn_load_frey(p, &err) == NULL);
    CHECK_STR_HAS(err.msg, "header: expected a 128-byte header");
    const char *real = test_data("freyface/frey_rawface.mat", src, sizeof src);
    if (!real)
        return;
    /* the real file cut short: the element sizes no longer fit */
    FILE *f = fopen(real, "rb");
    static unsigned char buf[1200000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(p, buf, n / 2, 0);
    CHECK(nn_load_frey(p, &err) == NULL);
    CHECK_STR_HAS(err.msg, "truncated");
    buf[128 + 8 + 8] = 6; /* the array class byte: double instead of uint8 */
    write_bytes(p, buf, n, 0);
    CHECK(nn_load_frey(p, &err) == NULL);
    CHECK_STR_HAS(err.msg, "array flags: class 6, expected uint8 (9)");
}

void test_csv_loader(void)
{
    char p[256];
    nn_error err;
    test_tmp_path("t.csv", p, sizeof p);
    const char *good = "a,b,c\n1,2.5,-3\r\n4, 5 ,6e-1\n\n";
    write_bytes(p, good, strlen(good), 0);
    nn_dataset *d = nn_load_csv(p, -1, &err); /* header detected */
    CHECK(d && d->n == 2 && d->dim == 3);
    CHECK(d && d->x[1] == (tn_real)2.5 && d->x[5] == (tn_real)0.6 && d->x[4] == 5);
    nn_dataset_free(d);
    d = nn_load_csv(p, 0, &err); /* told there is none: the text is an error */
    CHECK(d == NULL);
    CHECK_STR_HAS(err.msg, "line 1, column 1: \"a\" is not a number");
    const char *numeric = "1,2\n3,4\n";
    write_bytes(p, numeric, strlen(numeric), 0);
    d = nn_load_csv(p, -1, &err);
    CHECK(d && d->n == 2); /* a numeric first row is data */
    nn_dataset_free(d);
    const char *text_cell = "x,y\n1,2\n3,abc\n";
    write_bytes(p, text_cell, strlen(text_cell), 0);
    CHECK(nn_load_csv(p, 1, &err) == NULL);
    CHECK_STR_HAS(err.msg, "line 3, column 2: \"abc\" is not a number");
    const char *ragged = "1,2,3\n4,5\n";
    write_bytes(p, ragged, strlen(ragged), 0);
    CHECK(nn_load_csv(p, 0, &err) == NULL);
    CHECK_STR_HAS(err.msg, "line 2: 2 values, expected 3");
    const char *empty = "1,,3\n";
    write_bytes(p, empty, strlen(empty), 0);
    CHECK(nn_load_csv(p, 0, &err) == NULL);
    CHECK_STR_HAS(err.msg, "line 1, column 2");
    write_bytes(p, "", 0, 0);
    CHECK(nn_load_csv(p, -1, &err) == NULL);
    CHECK_STR_HAS(err.msg, "no data rows");
    const char *amat = "0 1 1\n1 0 0\n";
    write_bytes(p, amat, strlen(amat), 1);
    d = nn_load_amat(p, &err); /* gzipped text */
    CHECK(d && d->n == 2 && d->dim == 3 && d->x[2] == 1 && d->x[3] == 1);
    nn_dataset_free(d);
}

void test_transforms_and_split(void)
{
    nn_dataset d = {0};
    tn_real x[8] = {0, 255, 51, 102, 204, 153, 255, 0};
    d.n = 4, d.dim = 2, d.x = x;
    nn_data_scale(&d, 1 / 255.0);
    CHECK_NEAR(x[2], 0.2, 1e-6);
    double mean[2], sd[2];
    nn_data_stats(&d, mean, sd);
    nn_data_standardize(&d, mean, sd);
    double m0 = 0, v0 = 0;
    for (int i = 0; i < 4; i++)
        m0 += x[2 * i], v0 += x[2 * i] * x[2 * i];
    CHECK_NEAR(m0 / 4, 0, 1e-6);
    CHECK_NEAR(v0 / 4, 1, 1e-5);
    nn_data_binarize(&d, 0);
    for (int i = 0; i < 8; i++)
        CHECK(x[i] == 0 || x[i] == 1);
    /* stochastic binarisation: mean follows x */
    nn_dataset *big = NULL;
    nn_error err;
    tn_real *bx = malloc(100000 * sizeof(tn_real));
    for (int i = 0; i < 100000; i++)
        bx[i] = (tn_real)0.3;
    nn_dataset b = {.n = 1000, .dim = 100, .x = bx};
    tn_rng r;
    tn_rng_seed(&r, 4, 4);
    nn_data_binarize_sample(&b, &r);
    double s = 0;
    for (int i = 0; i < 100000; i++)
        s += bx[i];
    CHECK_NEAR(s / 100000, 0.3, 5 * sqrt(0.21 / 100000));
    /* split: sizes, labels kept, every example exactly once */
    int labels[1000];
    for (int i = 0; i < 1000; i++)
        bx[i * 100] = (tn_real)i, labels[i] = i;
    b.labels = labels;
    nn_dataset *tr, *va;
    CHECK(nn_data_split(&b, 100, &r, &tr, &va, &err) == 0);
    CHECK(tr->n == 900 && va->n == 100);
    static int seen[1000];
    memset(seen, 0, sizeof seen);
    for (size_t i = 0; i < tr->n; i++)
    {
        seen[tr->labels[i]]++;
        CHECK(tr->x[i * 100] == tr->labels[i]);
    }
    for (size_t i = 0; i < va->n; i++)
        seen[va->labels[i]]++;
    int once = 1;
    for (int i = 0; i < 1000; i++)
        once &= seen[i] == 1;
    CHECK(once);
    nn_dataset_free(tr), nn_dataset_free(va);
    CHECK(nn_data_split(&b, 2000, &r, &tr, &big, &err) == -1);
    CHECK(tr == NULL && big == NULL);
    CHECK_STR_HAS(err.msg, "2000 validation examples asked of 1000");
    nn_dataset *h = nn_data_head(&b, 10, &err);
    CHECK(h && h->n == 10 && h->labels[9] == 9);
    nn_dataset *cat = nn_data_concat(h, &b, &err);
    CHECK(cat && cat->n == 1010 && cat->labels[10] == 0 && cat->x[1009 * 100] == 999);
    nn_dataset_free(cat);
    nn_dataset_free(h);
    free(bx);
}

void test_minibatches(void)
{
    tn_real x[10 * 2];
    int labels[10];
    for (int i = 0; i < 10; i++)
        x[2 * i] = (tn_real)i, x[2 * i + 1] = (tn_real)0.5, labels[i] = i;
    nn_dataset d = {.n = 10, .dim = 2, .x = x, .labels = labels};
    tn_rng r1, r2;
    tn_rng_seed(&r1, 9, 0);
    tn_rng_seed(&r2, 9, 0);
    nn_error err;
    nn_batches *b = nn_batches_new(&d, 4, &r1, 0, &err), *c = nn_batches_new(&d, 4, &r2, 0, &err);
    CHECK(nn_batches_per_epoch(b) == 3);
    int order[2][10], k = 0;
    for (int epoch = 0; epoch < 2; epoch++) {
        tn_tensor bx;
        const int *lab;
        int seen[10] = {0}, batches = 0;
        k = 0;
        while (nn_batches_next(b, &bx, &lab)) {
            batches++;
            CHECK(bx.ndim == 2 && bx.shape[1] == 2 && bx.shape[0] == (batches < 3 ? 4u : 2u));
            for (size_t i = 0; i < bx.shape[0]; i++) {
                CHECK(bx.data[2 * i] == lab[i]);
                seen[lab[i]]++;
                order[epoch][k++] = lab[i];
            }
        }
        CHECK(batches == 3);
        for (int i = 0; i < 10; i++)
            CHECK(seen[i] == 1);
    }
    CHECK(memcmp(order[0], order[1], sizeof order[0]) != 0); /* reshuffled */
    /* a new iterator given the generator's state at an epoch's start
     * repeats that epoch (what resuming from a checkpoint relies on) */
    tn_rng at_epoch3 = r1;
    int third[10];
    k = 0;
    for (tn_tensor bx; nn_batches_next(b, &bx, NULL);)
        for (size_t i = 0; i < bx.shape[0]; i++)
            third[k++] = (int)bx.data[2 * i];
    nn_batches *fresh = nn_batches_new(&d, 4, &at_epoch3, 0, &err);
    k = 0;
    int same = 1;
    for (tn_tensor bx; nn_batches_next(fresh, &bx, NULL);)
        for (size_t i = 0; i < bx.shape[0]; i++)
            same &= third[k++] == (int)bx.data[2 * i];
    CHECK(same && k == 10);
    nn_batches_free(fresh);
    tn_tensor cx;
    const int *cl;
    nn_batches_next(c, &cx, &cl); /* the same seed gives the same order */
    CHECK(cl[0] == order[0][0] && cl[3] == order[0][3]);
    nn_batches_free(b), nn_batches_free(c);
    /* without a generator: in order; dynamic binarisation gives 0/1 */
    b = nn_batches_new(&d, 3, NULL, 0, &err);
    nn_batches_next(b, &cx, &cl);
    CHECK(cl[0] == 0 && cl[2] == 2);
    nn_batches_free(b);
    CHECK(nn_batches_new(&d, 3, NULL, 1, &err) == NULL);
    b = nn_batches_new(&d, 10, &r1, 1, &err);
    nn_batches_next(b, &cx, &cl);
    int ok = 1;
    for (size_t i = 0; i < cx.size; i++)
        ok &= cx.data[i] == 0 || cx.data[i] == 1;
    CHECK(ok);
    nn_batches_free(b);
}

/* The IDX training set of nn_load_source is kept as bytes (a quarter of the
 * memory): its values, its batches (plain and dynamically binarized), its
 * head, split and binarization equal the float path's bit for bit. */
void test_data_bytes(void)
{
    char bi[512];
    DATA_OR_SKIP(images, "mnist/train-images-idx3-ubyte.gz", bi);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", images);
    *strrchr(dir, '/') = '\0';
    nn_error err;
    nn_dataset *tr, *te, *f = nn_load_idx(images, NULL, &err);
    tn_rng split;
    tn_rng_seed(&split, 1, 0);
    char desc[256];
    CHECK(f && nn_load_source(NN_SOURCE_IDX, dir, &split, &tr, &te, desc, sizeof desc, &err) == 0);
    if (!f || !tr)
        return;
    nn_data_scale(f, 1 / 255.0);
    CHECK(!tr->x && tr->x8 && te->x && !te->x8 && tr->n == 60000 && tr->labels);
    tn_real *buf = malloc(60000 * 784 * sizeof *buf);
    CHECK(memcmp(nn_data_rows(tr, 0, tr->n, buf), f->x, 60000 * 784 * sizeof *buf) == 0);
    CHECK(nn_data_rows(f, 5, 1, NULL) == f->x + 5 * 784);
    for (int dyn = 0; dyn < 2; dyn++) { /* the same batches from either */
        tn_rng ra, rb;
        tn_rng_seed(&ra, 3, 1), tn_rng_seed(&rb, 3, 1);
        nn_batches *a = nn_batches_new(tr, 100, &ra, dyn, &err), *b = nn_batches_new(f, 100, &rb, dyn, &err);
        tn_tensor xa, xb;
        for (int k = 0; k < 3 && a && b; k++) {
            CHECK(nn_batches_next(a, &xa, NULL) && nn_batches_next(b, &xb, NULL));
            CHECK(memcmp(xa.data, xb.data, 100 * 784 * sizeof(tn_real)) == 0);
        }
        nn_batches_free(a), nn_batches_free(b);
    }
    nn_dataset *h = nn_data_head(tr, 1000, &err), *hf = nn_data_head(f, 1000, &err);
    CHECK(h && !h->x && h->labels && h->labels[0] == 5);
    nn_dataset *s1, *s2, *sf1, *sf2;
    tn_rng r1, r2;
    tn_rng_seed(&r1, 9, 0), tn_rng_seed(&r2, 9, 0);
    CHECK(nn_data_split(h, 100, &r1, &s1, &s2, &err) == 0 && nn_data_split(hf, 100, &r2, &sf1, &sf2, &err) == 0);
    CHECK(!s2->x && memcmp(nn_data_rows(s2, 0, 100, buf), sf2->x, 100 * 784 * sizeof *buf) == 0);
    nn_data_binarize(h, 0.5), nn_data_binarize(hf, 0.5);
    CHECK(!h->x && memcmp(nn_data_rows(h, 0, 1000, buf), hf->x, 1000 * 784 * sizeof *buf) == 0);
    CHECK(nn_data_concat(h, hf, &err) == NULL);
    CHECK_STR_HAS(err.msg, "bytes");
    CHECK(nn_data_floats(h, &err) == 0 && h->x && !h->x8 &&
          memcmp(h->x, hf->x, 1000 * 784 * sizeof *buf) == 0);
    nn_dataset_free(s1), nn_dataset_free(s2), nn_dataset_free(sf1), nn_dataset_free(sf2);
    nn_dataset_free(h), nn_dataset_free(hf), nn_dataset_free(tr), nn_dataset_free(te), nn_dataset_free(f);
    free(buf);
}
