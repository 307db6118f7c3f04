/* bench.c: `make bench`. (1) The tape's overhead per recorded op on tiny
 * tensors, against the bare kernel; (2) tn_matmul against a direct BLIS call
 * at 128x784x400, interleaved so that both see the same machine state.
 * Prints medians of repeated runs; no assertion, machines here are noisy. */
#define _POSIX_C_SOURCE 200809L

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ad.h"
#include "tn.h"

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

int main(void)
{
#ifdef TN_REAL_DOUBLE
    fprintf(stderr, "bench: build the float library\n");
    return 1;
#endif
    bench_tape();
    bench_matmul(1);
    bench_matmul(2);
    return 0;
}
