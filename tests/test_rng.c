/* test_rng.c: PCG32 against the reference outputs, reproducibility, and the
 * moments of the uniform, normal and Bernoulli draws within statistical
 * bounds (5 standard errors). */
#include "test.h"

void test_rng_same_seed(void)
{
    /* pcg32-demo: pcg32_srandom_r(&rng, 42, 54) prints these first. */
    const uint32_t ref[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                             0x83d2f293, 0xbfa4784b, 0xcbed606e};
    tn_rng a, b;
    tn_rng_seed(&a, 42, 54);
    for (int i = 0; i < 6; i++)
        CHECK(tn_rng_u32(&a) == ref[i]);
    tn_rng_seed(&a, 7, 1);
    tn_rng_seed(&b, 7, 1);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        same &= tn_rng_normal(&a) == tn_rng_normal(&b);
    CHECK(same);
    CHECK(a.seed == 7);
}

void test_rng_streams_differ(void)
{
    tn_rng a, b, c;
    tn_rng_seed(&a, 7, 1);
    tn_rng_seed(&b, 7, 2);
    tn_rng_seed(&c, 8, 1);
    int eq_ab = 0, eq_ac = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = tn_rng_u32(&a);
        eq_ab += x == tn_rng_u32(&b);
        eq_ac += x == tn_rng_u32(&c);
    }
    CHECK(eq_ab < 3 && eq_ac < 3);
}

void test_rng_normal_moments(void)
{
    const int n = 1000000;
    tn_rng r;
    tn_rng_seed(&r, 2024, 3);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    for (int i = 0; i < n; i++) {
        double x = tn_rng_normal(&r);
        s1 += x, s2 += x * x, s3 += x * x * x, s4 += x * x * x * x;
    }
    double mean = s1 / n, var = s2 / n - mean * mean;
    /* standard errors: mean 1/√n, variance √(2/n), skew √(6/n), kurt √(24/n) */
    CHECK_NEAR(mean, 0, 5 / sqrt(n));
    CHECK_NEAR(var, 1, 5 * sqrt(2.0 / n));
    CHECK_NEAR(s3 / n, 0, 5 * sqrt(6.0 / n));
    CHECK_NEAR(s4 / n, 3, 5 * sqrt(96.0 / n));
    /* through the tensor fill, with a mean and sd */
    tn_tensor *t = tn_new(1, (const size_t[]){100000});
    tn_rng_fill_normal(&r, t, 2, 3);
    double m = tn_mean_all(t);
    CHECK_NEAR(m, 2, 5 * 3 / sqrt(100000.0));
    tn_free(t);
}

void test_rng_uniform_bernoulli(void)
{
    const int n = 1000000;
    tn_rng r;
    tn_rng_seed(&r, 99, 0);
    double s = 0, s2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; i++) {
        double u = tn_rng_uniform(&r);
        s += u, s2 += u * u;
        lo = fmin(lo, u), hi = fmax(hi, u);
    }
    CHECK(lo >= 0 && hi < 1);
    CHECK_NEAR(s / n, 0.5, 5 * sqrt(1.0 / 12 / n));
    CHECK_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 0.001);
    tn_tensor *t = tn_new(1, (const size_t[]){n});
    tn_rng_fill_bernoulli(&r, t, (tn_real)0.3);
    int only01 = 1;
    for (size_t i = 0; i < t->size; i++)
        only01 &= t->data[i] == 0 || t->data[i] == 1;
    CHECK(only01);
    CHECK_NEAR(tn_mean_all(t), 0.3, 5 * sqrt(0.21 / n));
    tn_rng_fill_uniform(&r, t, -2, 6);
    CHECK_NEAR(tn_mean_all(t), 2, 5 * 8 / sqrt(12.0 * n));
    tn_free(t);
}

void test_rng_below(void)
{
    tn_rng r;
    tn_rng_seed(&r, 5, 5);
    int count[3] = {0};
    const int n = 300000;
    for (int i = 0; i < n; i++) {
        uint32_t k = tn_rng_below(&r, 3);
        CHECK(k < 3);
        if (k < 3)
            count[k]++;
    }
    double sd = sqrt(n * (1.0 / 3) * (2.0 / 3));
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(count[k], n / 3.0, 5 * sd);
}

void test_rng_entropy_seed(void)
{
    tn_rng a, b, c;
    int ok1 = 0, ok2 = 0;
    uint64_t s1 = tn_rng_seed_entropy(&a, 3, &ok1);
    uint64_t s2 = tn_rng_seed_entropy(&c, 3, &ok2);
    CHECK(ok1 && ok2);
    CHECK(s1 != s2); /* two 64-bit draws from libsodium */
    CHECK(a.seed == s1);
    tn_rng_seed(&b, s1, 3); /* the reported seed repeats the run */
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= tn_rng_u32(&a) == tn_rng_u32(&b);
    CHECK(same);
}

/* The bulk draws: tn_rng_fill_u32 gives what tn_rng_u32 one at a time
 * gives (any count, the generator left at the same place), and
 * tn_rng_advance jumps forward and back. */
void test_rng_fill_u32_and_advance(void)
{
    static uint32_t got[1000], want[1000];
    for (size_t n = 0; n <= 1000; n = n < 40 ? n + 1 : n + 193) {
        tn_rng a, b;
        tn_rng_seed(&a, 42, 54), tn_rng_seed(&b, 42, 54);
        tn_rng_u32(&a), tn_rng_u32(&b); /* not at a multiple of 16 */
        tn_rng_fill_u32(&a, got, n);
        for (size_t i = 0; i < n; i++)
            want[i] = tn_rng_u32(&b);
        CHECK(memcmp(got, want, n * sizeof *got) == 0);
        CHECK(a.state == b.state);
    }
    tn_rng r, s;
    tn_rng_seed(&r, 5, 9), tn_rng_seed(&s, 5, 9);
    for (int i = 0; i < 777; i++)
        tn_rng_u32(&s);
    tn_rng_advance(&r, 777);
    CHECK(r.state == s.state && tn_rng_u32(&r) == tn_rng_u32(&s));
    tn_rng_advance(&r, -778); /* back to the start */
    tn_rng_seed(&s, 5, 9);
    CHECK(r.state == s.state);
}

/* tn_rng_normals: float Box-Muller in bulk. The moments within 5 standard
 * errors, the two tails alike, the 1.96 quantile, the largest value below
 * the 5.77 its 24-bit uniforms allow, reproducible, and an odd count the
 * first values of the next even one. */
void test_rng_normals_float(void)
{
    enum { N = 1000001 };
    static float x[N], y[N];
    tn_rng r, q;
    tn_rng_seed(&r, 11, 4), tn_rng_seed(&q, 11, 4);
    tn_rng_normals(&r, x, N);
    tn_rng_normals(&q, y, N - 1);
    CHECK(memcmp(x, y, (N - 1) * sizeof *x) == 0);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0, top = 0;
    long out = 0, low = 0, high = 0;
    for (int i = 0; i < N; i++) {
        double v = x[i];
        s1 += v, s2 += v * v, s3 += v * v * v, s4 += v * v * v * v;
        out += fabs(v) > 1.959964, low += v < -1, high += v > 1;
        top = fmax(top, fabs(v));
    }
    double mean = s1 / N, var = s2 / N - mean * mean;
    CHECK_NEAR(mean, 0, 5 / sqrt(N));
    CHECK_NEAR(var, 1, 5 * sqrt(2.0 / N));
    CHECK_NEAR(s3 / N, 0, 5 * sqrt(6.0 / N));
    CHECK_NEAR(s4 / N, 3, 5 * sqrt(96.0 / N));
    CHECK_NEAR((double)out / N, 0.05, 5 * sqrt(0.05 * 0.95 / N));
    CHECK_NEAR((double)(low - high) / N, 0, 5 * sqrt(2 * 0.1587 / N));
    CHECK(top > 4.5 && top <= 5.78);
}
