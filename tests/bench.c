/* bench.c: `make bench`. (1) The tape's overhead per recorded op on tiny
 * tensors, against the bare kernel; (2) tn_matmul against a direct BLIS call
 * at 128x784x400, interleaved so that both see the same machine state;
 * (3) loading MNIST and saving / loading a checkpoint; (4) forward and
 * backward of conv2d, conv_transpose2d, logsumexp and softmax at realistic
 * sizes, beside their floors of passes at the copy bandwidth and e^ alone
 * (ours and glibc's vector expf) (`bench ops THREADS` alone, for
 * examples/bench_ops.sh); (5) a
 * training step against its physical floor (`bench step THREADS BATCH
 * [ROUNDS]`; the floor's products timed alone, and run as steps in blocks
 * between blocks of ours), every variant of `compare` against its own (`bench variants
 * THREADS BATCH [ROUNDS [NAMES]]`; one alone for a profiler, `bench train
 * NAME [THREADS [EPOCHS]]`), and L_5000 against its GEMM floor, timed alone
 * and (on one thread) run as passes beside ours (`bench iwae THREADS
 * [IMAGES]`); (6) bulk random draws (`bench rng`).
 * `bench --kernels auto|measure|avx512|blis ...` first chooses BLIS's kernels as the
 * programs do (tn_blas_kernels); ours runs them, and a step's floor takes
 * the fastest of BLIS's configurations, each product in its fastest
 * layout (floor_fastest), both named in the output.
 * Prints medians of repeated runs; no assertion, machines here are noisy. */
#define _POSIX_C_SOURCE 200809L

#include <blis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ad.h"
#include "model.h"
#include "tn.h"
#include "tn_math.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__m256 _ZGVdN8v_expf(__m256 x); /* glibc's libmvec: expf on 8 floats, AVX2 */
#endif

/* --kernels: auto, avx512 or blis (tn_blas_kernels) */
static const char *kernels = "auto";
static void pick_kernels(int rows)
{
    if (tn_blas_kernels(kernels, (size_t)rows)) {
        fprintf(stderr, "bench: --kernels: expected one of auto|measure|avx512|blis, got \"%s\"\n", kernels);
        exit(2);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

#define REPS 15

static void bench_tape(void)
{
    const int ops = 1000, rounds = 200; /* 200k ops a measurement */
    tn_tensor *a = tn_new(1, (const size_t[]){4}), *ga = tn_new(1, (const size_t[]){4});
    tn_tensor *o = tn_new(1, (const size_t[]){4});
    tn_fill(a, (tn_real)0.5);
    ad_tape *t = ad_tape_new(0);
    double bare[REPS], rec[REPS], full[REPS], sink = 0;
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        for (int k = 0; k < rounds; k++)
            for (int i = 0; i < ops; i++)
                tn_mul(o, a, a), sink += o->data[0];
        double t1 = now();
        for (int k = 0; k < rounds; k++) {
            ad_tape_reset(t);
            ad_var *x = ad_param(t, a, ga);
            for (int i = 0; i < ops; i++)
                x = ad_mul(x, ad_param(t, a, ga)); /* one op recorded a step */
            sink += ad_item(x);
        }
        double t2 = now();
        for (int k = 0; k < rounds; k++) {
            ad_tape_reset(t);
            ad_var *x = ad_param(t, a, ga);
            for (int i = 0; i < ops; i++)
                x = ad_mul(x, ad_param(t, a, ga));
            ad_backward(t, ad_sum(x));
        }
        double t3 = now();
        double n = (double)ops * rounds;
        bare[r] = (t1 - t0) / n * 1e9;
        rec[r] = (t2 - t1) / n * 1e9;
        full[r] = (t3 - t2) / n * 1e9;
    }
    double b = median(bare, REPS), f = median(rec, REPS), fb = median(full, REPS);
    printf("tape, 4-element tensors, median of %d runs of %d ops:\n", REPS, ops * rounds);
    printf("  bare kernel tn_mul          %7.1f ns/op\n", b);
    printf("  recorded ad_mul (forward)   %7.1f ns/op  (overhead %.1f ns/op)\n", f, f - b);
    printf("  forward + backward          %7.1f ns/op\n", fb);
    if (sink == 12345.678)
        printf("%g\n", sink);
    ad_tape_free(t);
    tn_free(a), tn_free(ga), tn_free(o);
}

static void bench_matmul(int threads)
{
    const size_t m = 128, k = 784, n = 400;
    tn_rng rng;
    tn_rng_seed(&rng, 1, 1);
    tn_tensor *X = tn_new(2, (const size_t[]){m, k});
    tn_tensor *W = tn_new(2, (const size_t[]){n, k});
    tn_tensor *C = tn_new(2, (const size_t[]){m, n});
    tn_rng_fill_uniform(&rng, X, -1, 1);
    tn_rng_fill_uniform(&rng, W, -1, 1);
    tn_set_threads(threads);
    const int iters = 50;
    double wrap[REPS], direct[REPS];
    float one = 1, zero = 0;
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        for (int i = 0; i < iters; i++) /* C = X·Wᵀ, the forward of linear */
            tn_matmul(C, X, 0, W, 1, 1, 0);
        double t1 = now();
        for (int i = 0; i < iters; i++)
            bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, (dim_t)m, (dim_t)n,
                      (dim_t)k, &one, (float *)X->data, (inc_t)k, 1,
                      (float *)W->data, (inc_t)k, 1, &zero, (float *)C->data,
                      (inc_t)n, 1);
        double t2 = now();
        wrap[r] = (t1 - t0) / iters * 1e6;
        direct[r] = (t2 - t1) / iters * 1e6;
    }
    double w = median(wrap, REPS), d = median(direct, REPS);
    double gflops = 2.0 * m * n * k / (d * 1e-6) / 1e9;
    printf("matmul 128x784 · (400x784)ᵀ, %d thread%s, median of %d x %d calls:\n",
           threads, threads > 1 ? "s" : "", REPS, iters);
    printf("  tn_matmul   %8.1f us\n  bli_sgemm   %8.1f us  (%.1f GFLOP/s)\n"
           "  ratio wrapper/direct %.3f\n", w, d, gflops, w / d);
    tn_free(X), tn_free(W), tn_free(C);
}

/* Loading MNIST's training set (gzipped IDX) and saving / loading the
 * reference VAE's checkpoint with Adam's state. */
static void bench_io(void)
{
    const char *img = "../shared/data/mnist/train-images-idx3-ubyte.gz";
    const char *lab = "../shared/data/mnist/train-labels-idx1-ubyte.gz";
    nn_error err;
    double t0 = now();
    nn_dataset *d = nn_load_idx(img, lab, &err);
    double t1 = now();
    if (d)
        printf("load MNIST train (60000 images, gzipped IDX): %.0f ms\n", (t1 - t0) * 1e3);
    else
        printf("load MNIST train: skipped (%s)\n", err.msg);
    nn_dataset_free(d);
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    model_config c = model_defaults(MODEL_VAE);
    model *m = model_new(&c, &r, &err);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    nn_optim *o = nn_optim_new(&oc, m->params, &err);
    char path[] = "/tmp/tape-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        close(fd);
    double save[REPS], load[REPS];
    for (int i = 0; i < REPS; i++) {
        double a = now();
        model_save(m, path, o, NULL, &err);
        double b = now();
        nn_load(path, m->params, o, NULL, &err);
        double e = now();
        save[i] = (b - a) * 1e3, load[i] = (e - b) * 1e3;
    }
    struct stat st;
    stat(path, &st);
    printf("checkpoint of the 784-400-20 VAE with Adam's state (%.1f MB): save %.1f ms "
           "(fsync included), load %.1f ms (validated), medians of %d\n",
           (double)st.st_size / 1e6, median(save, REPS), median(load, REPS), REPS);
    unlink(path);
    nn_optim_free(o);
    model_free(m);
}

/* Forward + backward of one op on a realistic size, median ms of REPS:
 * what examples/bench_ops.sh sets beside PyTorch's (tests/bench_ops.py). */
typedef ad_var *(*op_fn)(ad_var *const *in);
static ad_var *op_conv2d(ad_var *const *in) { return ad_conv2d(in[0], in[1], in[2], 1, 1); }
static ad_var *op_convt(ad_var *const *in) { return ad_conv_transpose2d(in[0], in[1], in[2], 2, 1, 0); }
static ad_var *op_lse(ad_var *const *in) { return ad_logsumexp(in[0], -1, 0); }
static ad_var *op_softmax(ad_var *const *in) { return ad_softmax(in[0]); }
static ad_var *op_log_softmax(ad_var *const *in) { return ad_log_softmax(in[0]); }
static ad_var *op_bernoulli(ad_var *const *in) { return ad_bernoulli_logp(in[0], in[1]); }
static ad_var *op_gaussian(ad_var *const *in) { return ad_gaussian_logp(in[0], in[1], in[2]); }

static void bench_op(const char *name, op_fn f, int n, const size_t (*shape)[4],
                     const int *ndim, double *fwd_ms, double *all_ms)
{
    tn_rng rng;
    tn_rng_seed(&rng, 2, 2);
    tn_tensor *v[3], *g[3];
    for (int i = 0; i < n; i++) {
        v[i] = tn_new(ndim[i], shape[i]);
        g[i] = tn_new(ndim[i], shape[i]);
        tn_rng_fill_uniform(&rng, v[i], -1, 1);
    }
    ad_tape *t = ad_tape_new(0);
    double fwd[REPS], all[REPS];
    for (int r = 0; r < REPS + 2; r++) { /* two warm-up rounds grow the arena */
        ad_tape_reset(t);
        ad_var *in[3];
        for (int i = 0; i < n; i++)
            in[i] = ad_param(t, v[i], g[i]);
        double t0 = now();
        ad_var *y = f(in);
        double t1 = now();
        /* backward of sum(y·w) with w = 1: the op's backward plus a pass */
        if (ad_backward(t, ad_sum(y)) != 0) {
            printf("%s: %s\n", name, ad_tape_error(t));
            break;
        }
        double t2 = now();
        if (r >= 2)
            fwd[r - 2] = (t1 - t0) * 1e3, all[r - 2] = (t2 - t0) * 1e3;
    }
    *fwd_ms = median(fwd, REPS), *all_ms = median(all, REPS);
    printf("  %-44s forward %8.3f ms   forward+backward %8.3f ms\n", name, *fwd_ms, *all_ms);
    ad_tape_free(t);
    for (int i = 0; i < n; i++)
        tn_free(v[i]), tn_free(g[i]);
}

/* ms of one pass over n floats at the copy bandwidth of arrays of that
 * size (one read and one write a pass pair), over the threads: the best of
 * 30 copies, half of one copy's time */
static double pass_ms(size_t n)
{
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (!a || !b) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        a[i] = (float)i, b[i] = 0;
    double best = 1e9;
    for (int r = 0; r < 30; r++) {
        double t0 = now();
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            b[i] = a[i];
        best = fmin(best, now() - t0);
    }
    int keep = b[n / 2] < 0;
    free(a), free(b);
    return best * 1e3 / 2 + keep;
}

/* e^ alone, ms over the n values of x (<= 0) into y: the library's
 * (tn_math.h, the softmax family's and BCE's; the same bits on every CPU)
 * and glibc's vector expf (libmvec, AVX2 with FMA; -1 where the CPU or the
 * compiler has none), the best of 30 */
TN_CLONES static void exp_ours(float *restrict y, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = tn_exp_neg(x[i]);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void exp_glibc(float *y, const float *x, size_t n)
{
    size_t body = n / 8 * 8;
    for (size_t i = 0; i < body; i += 8)
        _mm256_storeu_ps(y + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
    float last[8] = {0};
    memcpy(last, x + body, (n - body) * sizeof *x); /* the last n mod 8 values, padded */
    _mm256_storeu_ps(last, _ZGVdN8v_expf(_mm256_loadu_ps(last)));
    memcpy(y + body, last, (n - body) * sizeof *y);
}
#endif
static float *random_floats(size_t n);
static void exp_ms(size_t n, double *ours, double *glibc)
{
    float *x = random_floats(n), *y = random_floats(n);
    for (size_t i = 0; i < n; i++)
        x[i] = -8 * fabsf(x[i]);
    *ours = *glibc = 1e9;
    int has = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    for (int r = 0; r < 30; r++) {
        double t0 = now();
        exp_ours(y, x, n);
        *ours = fmin(*ours, now() - t0);
#if defined(__x86_64__) && defined(__GNUC__)
        t0 = now();
        if (has)
            exp_glibc(y, x, n);
        *glibc = fmin(*glibc, now() - t0);
#endif
    }
    *ours *= 1e3, *glibc = has ? *glibc * 1e3 : -1;
    free(x), free(y);
}

static void bench_ops(int threads)
{
    double fwd, all;
    tn_set_threads(threads);
    printf("ops, %d thread%s, median of %d:\n", threads, threads > 1 ? "s" : "", REPS);
    bench_op("conv2d (128,32,14,14) 32->32 3x3 pad 1", op_conv2d, 3,
             (const size_t[][4]){{128, 32, 14, 14}, {32, 32, 3, 3}, {32}}, (const int[]){4, 4, 1}, &fwd, &all);
    bench_op("conv_transpose2d (128,32,14,14) 32->16 4x4 s2", op_convt, 3,
             (const size_t[][4]){{128, 32, 14, 14}, {32, 16, 4, 4}, {16}}, (const int[]){4, 4, 1}, &fwd, &all);
    /* the softmax family against the bandwidth of its passes over (5000,128):
     * logsumexp reads x (forward), then reads x and writes dx; softmax reads
     * x and writes y, the benchmark's sum reads y and its backward writes g,
     * then softmax's reads y and g and writes dx */
    double pass = pass_ms(5000 * 128), e_ours, e_glibc;
    /* what one e^ an element costs beside that floor, on one thread */
    exp_ms(5000 * 128, &e_ours, &e_glibc);
    if (e_glibc > 0)
        printf("  %-44s ours %.3f ms, glibc's vector expf %.3f ms (one thread; %.1f and %.1f times a pass)\n",
               "e^ alone over (5000,128), no op around it", e_ours, e_glibc, e_ours / pass, e_glibc / pass);
    else
        printf("  %-44s ours %.3f ms (one thread; %.1f times a pass; no glibc vector expf on this CPU)\n",
               "e^ alone over (5000,128), no op around it", e_ours, e_ours / pass);
    bench_op("logsumexp over (5000,128), last axis", op_lse, 1,
             (const size_t[][4]){{5000, 128}}, (const int[]){2}, &fwd, &all);
    printf("  %-44s forward %8.3f ms   forward+backward %8.3f ms   (x %.2f, x %.2f)\n",
           "  its bandwidth floor (1 and 3 passes)", pass, 3 * pass, fwd / pass, all / (3 * pass));
    bench_op("softmax over (5000,128)", op_softmax, 1,
             (const size_t[][4]){{5000, 128}}, (const int[]){2}, &fwd, &all);
    printf("  %-44s forward %8.3f ms   forward+backward %8.3f ms   (x %.2f, x %.2f)\n",
           "  its bandwidth floor (2 and 7 passes)", 2 * pass, 7 * pass, fwd / (2 * pass), all / (7 * pass));
    bench_op("log_softmax over (5000,128)", op_log_softmax, 1,
             (const size_t[][4]){{5000, 128}}, (const int[]){2}, &fwd, &all);
    printf("  %-44s forward %8.3f ms   forward+backward %8.3f ms   (x %.2f, x %.2f)\n",
           "  its bandwidth floor (2 and 7 passes)", 2 * pass, 7 * pass, fwd / (2 * pass), all / (7 * pass));
    /* the densities of L_5000's decoder outputs for one image, element-wise:
     * Bernoulli reads x and the logits and writes y; its backward reads
     * the two and g and writes both gradients (with the sum's 2 passes: 10).
     * Gaussian reads x, mu, lv, writes y; back: 4 read, 3 written (13) */
    pass = pass_ms(5000 * 784);
    bench_op("Bernoulli log density (5000,784)", op_bernoulli, 2,
             (const size_t[][4]){{5000, 784}, {5000, 784}}, (const int[]){2, 2}, &fwd, &all);
    printf("  %-44s forward %8.3f ms   forward+backward %8.3f ms   (x %.2f, x %.2f)\n",
           "  its bandwidth floor (3 and 10 passes)", 3 * pass, 10 * pass, fwd / (3 * pass), all / (10 * pass));
    bench_op("Gaussian log density (5000,784)", op_gaussian, 3,
             (const size_t[][4]){{5000, 784}, {5000, 784}, {5000, 784}}, (const int[]){2, 2, 2}, &fwd, &all);
    printf("  %-44s forward %8.3f ms   forward+backward %8.3f ms   (x %.2f, x %.2f)\n",
           "  its bandwidth floor (4 and 13 passes)", 4 * pass, 13 * pass, fwd / (4 * pass), all / (13 * pass));
}

/* ---- a training step against its physical floor ------------------------------
 * The floor of a step of the reference VAE (784-400-20, Adam) is BLIS sgemm
 * alone on exactly the step's products, each in its fastest layout, with
 * the fastest of BLIS's configurations, plus one fused, vectorized Adam
 * pass over the parameters: the two measurements of ../shared/limit
 * (gemm_peak.c, adam_floor.c), made here in the same run as our step. Our step is
 * nn_train's, on 6400 MNIST images (random binary images without them): the
 * batch gathered, the loss, backward, Adam, the guard. Floor and ours are
 * measured alternately, ROUNDS times; medians. */

/* The first n MNIST images of `file` scaled to [0, 1], or, without them,
 * as many random binary images (the same work); *what says which. */
static nn_dataset *images_or_random(const char *file, size_t n, const char **what)
{
    char path[4400], labels[4400];
    nn_error err;
    const char *dir = nn_default_data_dir(); /* $TAPE_DATA/mnist, data/mnist, ... */
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "data/mnist", file);
    snprintf(labels, sizeof labels, "%s/%s", dir ? dir : "data/mnist", /* t10k- or train- */
             file[0] == 't' && file[1] == '1' ? "t10k-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte.gz");
    nn_dataset *all = nn_load_idx(path, labels, &err);
    nn_dataset *d = all ? nn_data_head(all, n, &err) : NULL;
    nn_dataset_free(all);
    *what = "MNIST";
    if (d) {
        nn_data_scale(d, 1 / 255.0);
        return d;
    }
    *what = "random binary images";
    tn_rng r;
    tn_rng_seed(&r, 7, 1);
    nn_dataset tmp = {.n = n, .dim = 784, .x = calloc(n * 784, sizeof(tn_real)),
                      .labels = calloc(n, sizeof(int))};
    for (size_t i = 0; tmp.x && i < n * 784; i++)
        tmp.x[i] = (tn_real)(tn_rng_uniform(&r) < 0.13);
    for (size_t i = 0; tmp.labels && i < n; i++)
        tmp.labels[i] = (int)(i % 10);
    d = tmp.x && tmp.labels ? nn_data_head(&tmp, n, &err) : NULL;
    free(tmp.x), free(tmp.labels);
    if (!d) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    return d;
}

/* A product in one of its layouts, for the floor: C (m x n) = op(A) op(B),
 * inner size k, op a transpose when ta / tb, by BLIS's own path or
 * (packed) its packed one */
typedef struct {
    int m, n, k, ta, tb, packed;
} layout;

/* The product w on A, B and C (as w stores them). BLIS's own way: no
 * rntm_t (NULL), as tn_matmul runs it. Packed: one from BLIS's global
 * settings (its threads), its small-matrix path off. Not a copy of the
 * global settings for BLIS's own way: in BLIS 0.9 bli_rntm_init_from_global
 * leaves the small-matrix path off, and such a copy runs packed too (the
 * floor took only the packed way until 2026-12-07) */
static void layout_run(const layout *w, float *A, float *B, float *C)
{
    float one = 1, zero = 0;
    rntm_t rntm, *rp = NULL;
    if (w->packed) {
        bli_rntm_init_from_global(&rntm);
        bli_rntm_disable_l3_sup(&rntm);
        rp = &rntm;
    }
    bli_sgemm_ex(w->ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, w->tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, w->m, w->n,
                 w->k, &one, A, w->ta ? w->m : w->k, 1, B, w->tb ? w->k : w->n, 1, &zero, C, w->n, 1, NULL, rp);
}

/* n floats in [-0.5, 0.5) (rand()), or exit on no memory */
static float *random_floats(size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return x;
}

/* Seconds of the product w on buffers of its own: the best of 3 rounds of
 * at least 1 ms each (after one to warm up). */
static double gemm_time(const layout *w)
{
    float *A = random_floats((size_t)w->m * (size_t)w->k), *B = random_floats((size_t)w->k * (size_t)w->n);
    float *C = random_floats((size_t)w->m * (size_t)w->n);
    double best = 1e9;
    for (int r = 0; r < 4; r++) {
        long reps = 0;
        double t0 = now(), t;
        do {
            layout_run(w, A, B, C);
            reps++;
        } while ((t = now() - t0) < 1e-3);
        if (r && t / (double)reps < best)
            best = t / (double)reps;
    }
    free(A), free(B), free(C);
    return best;
}

/* The floor of a product C (m x n) = A (m x k) B (k x n): the fastest of
 * the eight ways to store it for BLIS (A and B each as they are or
 * transposed, C or Cᵀ = BᵀAᵀ computed), as a model may store its weights
 * and activations either way, each run by BLIS's own path and by its
 * packed one (tn_matmul takes the faster of the two, tensor/tn_blas.h).
 * *best_way (when not NULL): that way. */
static double product_floor_way(int m, int n, int k, layout *best_way)
{
    double best = 1e9;
    for (int packed = 0; packed < 2; packed++)
        for (int swap = 0; swap < 2; swap++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    layout w = swap ? (layout){n, m, k, ta, tb, packed} : (layout){m, n, k, ta, tb, packed};
                    double t = gemm_time(&w);
                    if (t < best && best_way)
                        *best_way = w;
                    best = fmin(best, t);
                }
    return best;
}

static double product_floor(int m, int n, int k)
{
    return product_floor_way(m, n, k, NULL);
}

/* One fused Adam pass over n parameters (read p, g, m, v; write p, m, v),
 * as ../shared/limit/adam_floor.c: vectorized (this file is built with
 * -O3 -fno-math-errno, so sqrtf vectorizes; the widest of AVX-512, AVX2
 * and SSE2 that the CPU has), OpenMP over the threads, best of 200. */
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
adam_pass(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t n, float c1,
          float c2)
{
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i], mi = b1 * m[i] + (1 - b1) * gi, vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi, v[i] = vi;
        p[i] -= lr * (mi * c1) / (sqrtf(vi) * c2 + eps);
    }
}

/* Seconds of that pass over n parameters, the best of 200 from cache, or
 * with from_memory, the best of 20 with p, g, m and v coming from memory,
 * as in a step whose products have pushed them out of cache: each line of
 * a 64 MB buffer read and written between the passes (memset's streaming
 * stores would leave the cache as it was). The second is what stands
 * between the floor's Adam and a step's on a machine whose cache is not
 * all its own. */
static double adam_time(size_t n, int from_memory)
{
    size_t big = from_memory ? (size_t)64 << 20 : 64;
    char *flush = calloc(big, 1);
    float *p = aligned_alloc(64, n * 4 + 64), *g = aligned_alloc(64, n * 4 + 64);
    float *m = aligned_alloc(64, n * 4 + 64), *v = aligned_alloc(64, n * 4 + 64);
    if (!flush || !p || !g || !m || !v) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = 0.01f * (float)(i % 97), g[i] = 1e-3f * (float)(i % 13), m[i] = v[i] = 0;
    double best = 1e9;
    for (int rep = 0; rep < (from_memory ? 20 : 200); rep++) {
        float c1 = 1.0f / (1.0f - powf(0.9f, (float)rep + 1)), c2 = 1.0f / sqrtf(1.0f - powf(0.999f, (float)rep + 1));
        for (size_t i = 0; from_memory && i < big; i += 64) /* a line each, read and written: through the cache */
            flush[i] = (char)(flush[i] + rep);
        double t0 = now();
        adam_pass(p, g, m, v, n, c1, c2);
        best = fmin(best, now() - t0);
    }
    int keep = p[n / 2] > 1e30f || flush[big / 2] == 127; /* the work kept */
    free(flush), free(p), free(g), free(m), free(v);
    return best + keep;
}

/* The products of a step of model mo at `batch` rows, into dims (m, n, k
 * of C (m x n) = A (m x k) B (k x n)), at most max: the model's linear
 * layers (its 2-D "weight" parameters, out x in): forward, weight gradient
 * and (but for the first layer, whose input is the data) input gradient,
 * the decoder's at batch x samples rows (L samples, or k for the IWAE).
 * For the reference VAE these are gemm_peak.c's 784-400-(2x20)-400-784. */
static int step_products(model *mo, int batch, int (*dims)[3], int max)
{
    int n = 0;
    int samples = mo->c.iw_k > 1 ? mo->c.iw_k : mo->c.samples > 1 ? mo->c.samples : 1;
    for (int i = 0; i < nn_params_count(mo->params); i++) {
        const char *name = nn_params_name(mo->params, i);
        const tn_tensor *w = nn_params_value(mo->params, i);
        size_t len = strlen(name);
        if (w->ndim != 2 || len < 7 || strcmp(name + len - 7, ".weight") != 0 || n + 3 > max)
            continue;
        int out = (int)w->shape[0], in = (int)w->shape[1];
        int rows = batch * (strncmp(name, "decoder", 7) == 0 ? samples : 1);
        int first = strcmp(name, "encoder.0.weight") == 0;
        dims[n][0] = rows, dims[n][1] = out, dims[n++][2] = in;
        dims[n][0] = out, dims[n][1] = in, dims[n++][2] = rows;
        if (!first)
            dims[n][0] = rows, dims[n][1] = in, dims[n++][2] = out;
    }
    return n;
}

/* GEMM-only step (gemm_peak.c's products, each in its fastest layout) +
 * one Adam pass (adam_floor.c's, built with -fno-math-errno as this file
 * is). */
static double floor_step(model *mo, int batch)
{
    int dims[64][3], n = step_products(mo, batch, dims, 64);
    double step = 0;
    for (int i = 0; i < n; i++)
        step += product_floor(dims[i][0], dims[i][1], dims[i][2]);
    return step + adam_time(nn_params_size(mo->params), 0);
}

/* The floor run as steps, beside ours (`bench step`'s blocks): the step's
 * products one after another, each in its fastest layout (the fastest
 * found in this process, with its BLIS configuration), then the Adam pass
 * over buffers of the model's size. All the products share one A, one B
 * and one C, the largest's size, which a real step's distinct weights and
 * activations cannot: what they read is as near as it can be, and the
 * floor stays a lower bound. Run in blocks between blocks of our steps
 * (timed_loss), so that the two are measured in the same stretches of the
 * machine's load. */
static struct {
    int n;
    layout way[64];
    float *A, *B, *C;
    size_t params;
    float *p, *g, *m, *v;
} fs; /* the floor run as steps */

/* One A, one B and one C for the n products ways[], each the largest's
 * size (random values) */
static void layout_buffers(const layout *ways, int n, float **A, float **B, float **C)
{
    size_t a = 0, b = 0, c = 0;
    for (int i = 0; i < n; i++) {
        const layout *w = &ways[i];
        size_t wa = (size_t)w->m * (size_t)w->k, wb = (size_t)w->k * (size_t)w->n, wc = (size_t)w->m * (size_t)w->n;
        a = wa > a ? wa : a, b = wb > b ? wb : b, c = wc > c ? wc : c;
    }
    *A = random_floats(a), *B = random_floats(b), *C = random_floats(c);
}

static void floor_steps_new(model *mo, int batch)
{
    int dims[64][3];
    fs.n = step_products(mo, batch, dims, 64);
    for (int i = 0; i < fs.n; i++)
        product_floor_way(dims[i][0], dims[i][1], dims[i][2], &fs.way[i]);
    layout_buffers(fs.way, fs.n, &fs.A, &fs.B, &fs.C);
    fs.params = nn_params_size(mo->params);
    fs.p = random_floats(fs.params), fs.g = random_floats(fs.params);
    fs.m = calloc(fs.params + 1, sizeof(float)), fs.v = calloc(fs.params + 1, sizeof(float));
    if (!fs.m || !fs.v) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
}

static void floor_steps_free(void)
{
    free(fs.A), free(fs.B), free(fs.C);
    free(fs.p), free(fs.g), free(fs.m), free(fs.v);
    memset(&fs, 0, sizeof fs);
}

static void floor_step_run(void)
{
    for (int i = 0; i < fs.n; i++)
        layout_run(&fs.way[i], fs.A, fs.B, fs.C);
    adam_pass(fs.p, fs.g, fs.m, fs.v, fs.params, 1.0f, 1.0f);
}

/* The floor of a step of the variant `name` at `batch` rows on `threads`
 * threads with the fastest of BLIS's configurations: BLIS's own choice,
 * skx, zen3 and haswell, each measured in a child process (`bench floor`)
 * started with BLIS_ARCH_TYPE, since BLIS takes its configuration once, at
 * its start. A configuration this CPU cannot run dies in its child and is
 * left out. *which: the fastest one's name. */
static double floor_fastest(const char *name, int threads, int batch, char *which, size_t len)
{
    static const int ids[] = {-1, BLIS_ARCH_SKX, BLIS_ARCH_ZEN3, BLIS_ARCH_HASWELL};
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    double best = INFINITY;
    snprintf(which, len, "none");
    for (size_t i = 0; n > 0 && i < sizeof ids / sizeof ids[0]; i++) {
        char cmd[4400], took[64], env[40] = "";
        self[n] = '\0';
        if (ids[i] >= 0)
            snprintf(env, sizeof env, "BLIS_ARCH_TYPE=%d ", ids[i]);
        snprintf(cmd, sizeof cmd, "%s'%s' floor %s %d %d 2>/dev/null", env, self, name, threads, batch);
        FILE *f = popen(cmd, "r");
        double secs;
        int ok = f && fscanf(f, "%63s %lf", took, &secs) == 2;
        if (f && pclose(f) != 0)
            ok = 0;
        if (ok && (ids[i] < 0 || strcmp(took, bli_arch_string((arch_t)ids[i])) == 0) && secs < best)
            best = secs, snprintf(which, len, "%s", took);
    }
    if (!isfinite(best)) {
        fprintf(stderr, "bench: no configuration of BLIS could measure the floor\n");
        exit(1);
    }
    return best;
}

/* Ours timed call by call and, with blocks on, the floor run in blocks
 * between blocks of ours (bench step's steps, bench iwae's passes): each
 * call's time to the next over its `per` (rows, or 1) in t, the first
 * TIMES; after every BLOCK of ours, BLOCK runs of the floor, each timed
 * over floor_per, in f (nf of them). The first of each block, ours and the
 * floor's, is left out: its data comes from where the other's block left
 * it. */
enum { BLOCK = 10, TIMES = 8192 };
typedef struct {
    int n, nf, blocks, since;
    double last, per, t[TIMES], f[TIMES];
} interleaved;

/* A call of ours now, `per` its rows (or 1) */
static void interleaved_tick(interleaved *v, void (*floor_run)(void), double floor_per, double per)
{
    double at = now();
    if (v->last > 0 && v->n < TIMES && !(v->blocks && v->since == 0))
        v->t[v->n++] = (at - v->last) / v->per;
    if (v->blocks && ++v->since == BLOCK) {
        for (int i = 0; i < BLOCK; i++) {
            double t0 = now();
            floor_run();
            if (i > 0 && v->nf < TIMES)
                v->f[v->nf++] = (now() - t0) / floor_per;
        }
        v->since = 0, at = now();
    }
    v->last = at, v->per = per;
}

/* Each step's time, read between one call of the loss and the next (a
 * whole step: forward, backward, the optimizer, the next batch's rows), for
 * bench step's and bench train's distribution of them: collected while
 * step_timing is on; with blocks on (bench step), the floor run as steps
 * (floor_step_run) between them. */
static interleaved step_times;
static int step_timing;

static ad_var *timed_loss(void *model, ad_tape *t, const nn_batch *b, nn_step *s)
{
    interleaved_tick(&step_times, floor_step_run, 1, 1);
    return model_train_loss(model, t, b, s);
}

/* Times v[0..n) sorted into a copy: the fastest, 10th percentile and
 * median in seconds (NaN when there are none) */
static void spread(const double *v, int n, double *fastest, double *p10, double *med)
{
    static double s[TIMES];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp);
    *fastest = n ? s[0] : NAN, *p10 = n ? s[n / 10] : NAN, *med = n ? s[n / 2] : NAN;
}

static double our_step(const nn_dataset *d, int batch, model *mo, nn_optim *o)
{
    nn_train_config c = nn_train_defaults();
    c.epochs = 1, c.batch = (size_t)batch, c.log = NULL, c.fixed_threads = 1;
    nn_train_result r;
    nn_error err;
    step_times.last = 0; /* the first step of a run has no step before it */
    if (nn_train(mo->params, o, step_timing ? timed_loss : model_train_loss, mo, d, NULL, &c, &r, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    return r.seconds / (double)((d->n + (size_t)batch - 1) / (size_t)batch);
}

/* The training benchmarks' start: the thread count, denormals flushed, and
 * the first 6400 MNIST training images (random binary ones without them). */
static nn_dataset *train_setup(int threads, const char **what)
{
    tn_set_threads(threads);
    tn_flush_denormals(1);
    return images_or_random("train-images-idx3-ubyte.gz", 6400, what);
}

/* One variant's training steps alone, no floor: what to run under `perf
 * record` (`bench train NAME THREADS EPOCHS [BATCH]`, epochs of the 6400
 * images, 50 steps of 128 by default). */
static void bench_train(const char *name, int threads, int epochs, int batch)
{
    nn_error err;
    const char *what;
    nn_dataset *d = train_setup(threads, &what);
    tn_rng r;
    tn_rng_seed(&r, 1, 3);
    model_config c;
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    int known = model_variant(name, &c) == 0;
    model *mo = known ? model_new(&c, &r, &err) : NULL;
    nn_optim *o = mo ? nn_optim_new(&oc, mo->params, &err) : NULL;
    if (!o) {
        fprintf(stderr, "bench: %s: %s\n", name, known ? err.msg : "no such variant");
        exit(1);
    }
    double ms[64];
    epochs = epochs < 1 ? 1 : epochs > 64 ? 64 : epochs;
    step_timing = 1, step_times.n = 0;
    for (int e = 0; e < epochs; e++)
        ms[e] = our_step(d, batch, mo, o) * 1e3;
    step_timing = 0;
    double first = ms[0], last = ms[epochs - 1]; /* median sorts */
    double fastest, p10, med;
    spread(step_times.t, step_times.n, &fastest, &p10, &med);
    printf("%s, batch %d, %d thread%s (%s): %d epochs of %zu steps, median %.3f ms a step "
           "(first %.3f, last %.3f); step by step, 10th percentile %.3f ms, median %.3f\n", name, batch,
           threads, threads > 1 ? "s" : "", what, epochs, (d->n + (size_t)batch - 1) / (size_t)batch,
           median(ms, epochs), first, last, p10 * 1e3, med * 1e3);
    nn_optim_free(o), model_free(mo), nn_dataset_free(d);
}

static void bench_step(int threads, int batch, int rounds)
{
    nn_error err;
    const char *what;
    nn_dataset *d = train_setup(threads, &what);
    tn_rng r;
    tn_rng_seed(&r, 1, 3);
    model_config mc = model_defaults(MODEL_VAE);
    model *mo = model_new(&mc, &r, &err);
    nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
    nn_optim *o = nn_optim_new(&oc, mo->params, &err);
    double fl[16], us[16];
    char which[64];
    our_step(d, batch, mo, o); /* warm up */
    step_timing = 1, step_times.n = 0;
    for (int k = 0; k < rounds; k++) {
        fl[k] = floor_fastest("vae", threads, batch, which, sizeof which);
        us[k] = our_step(d, batch, mo, o);
    }
    step_timing = 0;
    double f = median(fl, rounds), u = median(us, rounds);
    int steps = (60000 + batch - 1) / batch;
    printf("step of the 784-400-20 VAE, batch %d, %d thread%s (%s; medians of %d alternate rounds): floor "
           "%.3f ms (epoch %.2f s; BLIS's fastest configuration, %s), ours %.3f ms (epoch %.2f s; BLIS's %s "
           "kernels, BLIS_ARCH_TYPE=%d, %s), ratio %.2f\n", batch, threads, threads > 1 ? "s" : "", what, rounds,
           f * 1e3, f * steps, which, u * 1e3, u * steps, tn_blas_config(), (int)bli_arch_query_id(), tn_blas_how(),
           u / f);
    /* the floor's Adam runs from cache; a step's comes from memory */
    double hot = adam_time(nn_params_size(mo->params), 0), cold = adam_time(nn_params_size(mo->params), 1);
    printf("Adam's pass in the floor (from cache) %.3f ms; from memory %.3f ms: the floor with it %.3f ms, "
           "ratio %.2f\n", hot * 1e3, cold * 1e3, (f - hot + cold) * 1e3, u / (f - hot + cold));
    /* The same steps one by one. On a machine shared with others (a VM
     * whose cores' other halves or caches other tenants use), whole
     * stretches of seconds run slower; the floor, the best of its rounds,
     * is measured in their quiet moments, and the 10th percentile shows
     * ours in them (docs/results.md) */
    double fastest, p10, med;
    int n = step_times.n;
    spread(step_times.t, n, &fastest, &p10, &med);
    if (n > 0)
        printf("ours step by step (%d steps of those rounds, each from one call of the loss to the next): fastest "
               "%.3f ms, 10th percentile %.3f, median %.3f; the 10th percentile / floor %.2f\n",
               n, fastest * 1e3, p10 * 1e3, med * 1e3, p10 / f);
    /* The floor run as steps, in blocks between blocks of ours, on 3 more
     * epochs: both medians come from the same stretches of the machine's
     * load, while the floor above is the best of its rounds and ours their
     * mean */
    floor_steps_new(mo, batch);
    step_timing = 1, step_times.blocks = 1, step_times.n = step_times.nf = step_times.since = 0;
    for (int k = 0; k < 3; k++)
        our_step(d, batch, mo, o);
    step_timing = 0, step_times.blocks = 0;
    double bf, bu, bf10, bu10, bf0;
    spread(step_times.f, step_times.nf, &bf0, &bf10, &bf);
    spread(step_times.t, step_times.n, &fastest, &bu10, &bu);
    printf("the floor run as steps, %d at a time between %d of ours (%d and %d timed; its products in their "
           "fastest layouts with BLIS's %s kernels, then the Adam pass): medians floor %.3f ms, ours %.3f ms, "
           "ratio %.2f; 10th percentiles %.3f and %.3f, ratio %.2f\n", BLOCK, BLOCK, step_times.nf, step_times.n,
           tn_blas_config(), bf * 1e3, bu * 1e3, bu / bf, bf10 * 1e3, bu10 * 1e3, bu10 / bf10);
    floor_steps_free();
    int shapes, packed;
    tn_blas_plans(&shapes, &packed);
    printf("BLIS's ways (tn_blas_plans): the faster of two, timed now or in an earlier run, for %d product "
           "shape%s: %d packed\n", shapes, shapes == 1 ? "" : "s", packed);
    nn_optim_free(o), model_free(mo), nn_dataset_free(d);
}

/* ---- bulk random draws (`bench rng`): the denoising AEs' noise for one
 * batch of 128 MNIST images, one draw at a time against in bulk, the two
 * alternated, medians of REPS */
static void bench_rng(void)
{
    enum { N = 128 * 784 };
    static uint32_t u[2 * N];
    static float f[N];
    tn_rng r;
    tn_rng_seed(&r, 1, 1);
    double one_u[REPS], bulk_u[REPS], one_n[REPS], bulk_n[REPS];
    uint32_t sink = 0;
    for (int k = 0; k < REPS; k++) {
        double t0 = now();
        for (size_t i = 0; i < 2 * N; i++)
            u[i] = tn_rng_u32(&r);
        double t1 = now();
        tn_rng_fill_u32(&r, u, 2 * N);
        double t2 = now();
        for (size_t i = 0; i < N; i++)
            f[i] = (float)tn_rng_normal(&r);
        double t3 = now();
        tn_rng_normals(&r, f, N);
        double t4 = now();
        sink += u[k] + (uint32_t)(f[k] > 0);
        one_u[k] = t1 - t0, bulk_u[k] = t2 - t1, one_n[k] = t3 - t2, bulk_n[k] = t4 - t3;
    }
    printf("random draws, %d raw: one at a time %.3f ms, tn_rng_fill_u32 %.3f ms; %d normals: "
           "tn_rng_normal %.3f ms, tn_rng_normals %.3f ms (medians of %d)%s\n", 2 * N,
           median(one_u, REPS) * 1e3, median(bulk_u, REPS) * 1e3, N, median(one_n, REPS) * 1e3,
           median(bulk_n, REPS) * 1e3, REPS, sink == 1 ? " " : "");
}

/* ---- every variant of `compare` against its own floor ------------------------
 * compare's MLP variants (784-400-20, as `compare` trains them), each step
 * against the floor of its own products, the rounds interleaved: floor and
 * ours of every model, then the next round. */
static void bench_variants(int threads, int batch, int rounds, const char *only)
{
    const char *const *names = model_variants;
    enum { NV = 16 }; /* room for the MLP variants: every one but conv-vae */
    nn_error err;
    const char *what;
    nn_dataset *d = train_setup(threads, &what);
    model *mo[NV] = {0};
    nn_optim *o[NV] = {0};
    double fl[NV][16], us[NV][16];
    for (int v = 0; v < NV; v++) {
        char pad[64];
        if (!names[v])
            break;
        snprintf(pad, sizeof pad, ",%s,", names[v]);
        if ((only && !strstr(only, pad)) || strcmp(names[v], "conv-vae") == 0)
            continue;
        tn_rng r;
        tn_rng_seed(&r, 1, 3);
        model_config c;
        model_variant(names[v], &c);
        nn_optim_config oc = nn_optim_defaults(NN_ADAM, 1e-3);
        if (!(mo[v] = model_new(&c, &r, &err)) || !(o[v] = nn_optim_new(&oc, mo[v]->params, &err))) {
            fprintf(stderr, "bench: %s: %s\n", names[v], err.msg);
            exit(1);
        }
        our_step(d, batch, mo[v], o[v]); /* warm up */
    }
    for (int k = 0; k < rounds; k++)
        for (int v = 0; v < NV; v++) {
            if (!mo[v])
                continue;
            char which[64];
            fl[v][k] = floor_fastest(names[v], threads, batch, which, sizeof which);
            us[v][k] = our_step(d, batch, mo[v], o[v]);
        }
    printf("compare's variants, 784-400-20, batch %d, %d thread%s (%s; medians of %d interleaved rounds)\n"
           "%-14s %10s %10s %6s\n", batch, threads, threads > 1 ? "s" : "", what, rounds, "model",
           "floor ms", "ours ms", "ratio");
    for (int v = 0; v < NV; v++) {
        if (!mo[v])
            continue;
        double f = median(fl[v], rounds), u = median(us[v], rounds);
        printf("%-14s %10.3f %10.3f %6.2f\n", names[v], f * 1e3, u * 1e3, u / f);
        nn_optim_free(o[v]), model_free(mo[v]);
    }
    nn_dataset_free(d);
}

/* ---- the importance-weighted bound against its GEMM floor ----------------------
 * L_5000 of the reference VAE: per sample, the decoder's two products
 * (z 20 -> 400 -> 784); the floor is BLIS sgemm alone on them, per sample
 * the faster of 1024 rows (what a pass of nn_latent_iwae uses) and 4096. Ours: nn_latent_iwae on the
 * first `images` MNIST test images (random binary ones without them).
 * Then, as bench step does for steps, the floor run as passes: on one
 * thread, each of our passes timed from one call of the likelihood to the
 * next (a whole pass: the posterior, the draws, the decoder, the density),
 * and after every BLOCK of them BLOCK passes of the floor (its two
 * products on 1024 rows, in their fastest layouts), timed one by one; per
 * sample, so that the last, shorter pass of an image counts alike. */
enum { PASS_ROWS = 1024 }; /* the floor's pass */
static struct {
    interleaved v;
    ad_var *(*log_lik)(void *, ad_tape *, const nn_batch *, ad_var *);
    layout way[2];
    float *A, *B, *C;
} passes;

static void pass_floor_run(void)
{
    layout_run(&passes.way[0], passes.A, passes.B, passes.C);
    layout_run(&passes.way[1], passes.A, passes.B, passes.C);
}

static ad_var *timed_log_lik(void *model, ad_tape *t, const nn_batch *b, ad_var *z)
{
    const tn_tensor *zv = ad_value(z); /* (rows x latent) or (samples x rows x latent) */
    interleaved_tick(&passes.v, pass_floor_run, PASS_ROWS, (double)zv->size / (double)zv->shape[zv->ndim - 1]);
    return passes.log_lik(model, t, b, z);
}

static void bench_iwae(int threads, int images)
{
    tn_set_threads(threads);
    tn_flush_denormals(1);
    nn_error err;
    const char *what;
    nn_dataset *d = images_or_random("t10k-images-idx3-ubyte.gz", (size_t)images, &what);
    tn_rng r;
    tn_rng_seed(&r, 1, 3);
    model_config mc = model_defaults(MODEL_VAE);
    model *mo = model_new(&mc, &r, &err);
    if (!mo) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    nn_latent l = model_latent(mo, 28, 28);
    double fl[3], us[3];
    for (int k = 0; k < 3; k++) {
        double per = INFINITY; /* seconds per sample */
        for (size_t rows = 1024; rows <= 4096; rows *= 4)
            per = fmin(per, (product_floor(rows, 400, 20) + product_floor(rows, 784, 400)) /
                                (double)rows);
        fl[k] = per * (double)images * 5000;
        double t0 = now();
        double v = nn_latent_iwae(&l, d, 5000, &r, &err);
        us[k] = now() - t0;
        if (isnan(v)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
    }
    double f = median(fl, 3), u = median(us, 3);
    printf("L_5000 of the 784-400-20 VAE over %d images, %d thread%s (%s; medians of 3 alternate rounds): "
           "GEMM floor %.2f s, ours %.2f s, ratio %.2f; for the 10000 test images: floor %.0f s, ours %.0f s "
           "(BLIS's %s kernels)\n",
           images, threads, threads > 1 ? "s" : "", what, f, u, u / f, f * 10000 / images, u * 10000 / images,
           tn_blas_config());
    if (threads == 1) { /* the passes one by one (on more threads, they run at once) */
        product_floor_way(PASS_ROWS, 400, 20, &passes.way[0]);
        product_floor_way(PASS_ROWS, 784, 400, &passes.way[1]);
        layout_buffers(passes.way, 2, &passes.A, &passes.B, &passes.C);
        passes.v.blocks = 1, passes.log_lik = l.log_lik, l.log_lik = timed_log_lik;
        double v = nn_latent_iwae(&l, d, 5000, &r, &err);
        if (isnan(v)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            exit(1);
        }
        double ff, fu, f10, u10, fast;
        spread(passes.v.f, passes.v.nf, &fast, &f10, &ff);
        spread(passes.v.t, passes.v.n, &fast, &u10, &fu);
        printf("the floor run as passes of 1024 rows, %d at a time between %d of ours (%d and %d timed), µs a "
               "sample: medians floor %.2f, ours %.2f, ratio %.2f; 10th percentiles %.2f and %.2f, ratio %.2f\n",
               BLOCK, BLOCK, passes.v.nf, passes.v.n, ff * 1e6, fu * 1e6, fu / ff, f10 * 1e6, u10 * 1e6, u10 / f10);
        free(passes.A), free(passes.B), free(passes.C);
    }
    model_free(mo), nn_dataset_free(d);
}

/* floor_fastest's child: with BLIS's configuration of this process (its
 * BLIS_ARCH_TYPE), "NAME SECONDS" of the floor of a step of the variant. */
static int bench_floor(const char *name, int threads, int batch)
{
    tn_set_threads(threads);
    tn_flush_denormals(1);
    tn_rng r;
    tn_rng_seed(&r, 1, 3);
    model_config c;
    nn_error err;
    model *mo = model_variant(name, &c) == 0 ? model_new(&c, &r, &err) : NULL;
    if (!mo || batch < 1)
        return 1;
    double f = floor_step(mo, batch);
    printf("%s %.9f\n", bli_arch_string(bli_arch_query_id()), f);
    model_free(mo);
    return 0;
}

int main(int argc, char **argv)
{
#ifdef TN_REAL_DOUBLE
    fprintf(stderr, "bench: build the float library\n");
    return 1;
#endif
    if (argc > 2 && strcmp(argv[1], "--kernels") == 0)
        kernels = argv[2], argc -= 2, argv += 2;
    if (argc > 4 && strcmp(argv[1], "floor") == 0) /* bench floor NAME THREADS BATCH: floor_fastest's child */
        return bench_floor(argv[2], atoi(argv[3]), atoi(argv[4]));
    { /* every figure below is of this CPU: name it, and the day */
        time_t now = time(NULL);
        char day[32];
        strftime(day, sizeof day, "%Y-%m-%d", gmtime(&now));
        printf("CPU: %s, %ld cores online; %s\n", tn_cpu_name(), sysconf(_SC_NPROCESSORS_ONLN), day);
    }
    if (argc > 1 && strcmp(argv[1], "step") == 0) { /* bench step THREADS BATCH [ROUNDS] */
        int rounds = argc > 4 ? atoi(argv[4]) : 5, batch = argc > 3 ? atoi(argv[3]) : 128;
        pick_kernels(batch);
        bench_step(argc > 2 ? atoi(argv[2]) : 1, batch, rounds < 1 ? 1 : rounds > 16 ? 16 : rounds);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "variants") == 0) { /* bench variants THREADS BATCH [ROUNDS [NAMES]] */
        int rounds = argc > 4 ? atoi(argv[4]) : 3, batch = argc > 3 ? atoi(argv[3]) : 128;
        char only[256];
        snprintf(only, sizeof only, ",%s,", argc > 5 ? argv[5] : "");
        pick_kernels(batch);
        printf("(BLIS's %s kernels)\n", tn_blas_config());
        bench_variants(argc > 2 ? atoi(argv[2]) : 1, batch, rounds < 1 ? 1 : rounds > 16 ? 16 : rounds,
                       argc > 5 ? only : NULL);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "train") == 0) { /* bench train NAME [THREADS [EPOCHS [BATCH]]] */
        int batch = argc > 5 && atoi(argv[5]) > 0 ? atoi(argv[5]) : 128;
        pick_kernels(batch);
        bench_train(argv[2], argc > 3 ? atoi(argv[3]) : 1, argc > 4 ? atoi(argv[4]) : 10, batch);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "iwae") == 0) { /* bench iwae THREADS [IMAGES] */
        int images = argc > 3 ? atoi(argv[3]) : 64;
        pick_kernels(1024);
        bench_iwae(argc > 2 ? atoi(argv[2]) : 1, images < 1 ? 1 : images);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "rng") == 0) { /* bench rng */
        bench_rng();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "ops") == 0) { /* bench ops [THREADS] */
        bench_ops(argc > 2 ? atoi(argv[2]) : 1);
        return 0;
    }
    /* the rest; the training steps run one setting a process (make bench),
     * each with the kernels its batch picks */
    pick_kernels(128);
    printf("(BLIS's %s kernels)\n", tn_blas_config());
    bench_tape();
    bench_matmul(1);
    bench_matmul(2);
    bench_io();
    bench_rng();
    bench_ops(1);
    bench_ops(2);
    return 0;
}
