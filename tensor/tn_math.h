/* tn_math.h: exp and log written as plain arithmetic, so that the compiler
 * vectorizes the loops that call them (glibc's expf and logf are calls,
 * one element at a time). Float only: the double build keeps libm, which
 * the gradient checks at 1e-6 compare against. Internal; not installed.
 *
 * tn_exp_neg(x), x <= 0: e^x within 3 ulp; 0 below -87.3 (where e^x is
 * denormal in float; the trainer flushes those to zero anyway) and for NaN;
 * e^x too for x in (0, 88], and never undefined behaviour above.
 * tn_exp_f(x), any x: e^x within 3 ulp; 0 below -87.3, infinite above
 * log(FLT_MAX), NaN for NaN.
 * tn_log1p_01(e), e in [0, 1]: log(1 + e) within 3 ulp.
 * tn_log_ge1(p), p >= 1 and finite: log p within 3 ulp (from 2^k·m).
 * tn_tanh_f(x): tanh x within 3 ulp; NaN for NaN.
 * tn_sigmoid_f(x), tn_softplus_f(x): σ(x) and log(1 + e^x) from e^-|x|,
 * within 4.1 and 5.1 ulp for x in [-87, 87] (every float there checked
 * against libm in double once; the tests sweep a grid); NaN for NaN.
 * tn_max8, tn_exp_le0, tn_sum_exp8: a row's maximum and its sum of
 * e^(x - max), for the softmax family; tn_sum8, tn_sum8d, tn_dot8d: sums
 * over eight lanes (TN_SUM8_BODY). */
#ifndef TN_MATH_H
#define TN_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tn.h"

/* TN_CLONES before a function: compiled three times, for AVX-512, AVX2 and
 * the x86-64 baseline (SSE2), the CPU picking one when the library loads
 * (GCC's target_clones). -std=c11 keeps GCC from fusing a multiply and an
 * add into an FMA (-ffp-contract=off; checked: the clones hold no vfmadd),
 * so every version does the same operations on more lanes and computes
 * the same bits. Elsewhere (and under the sanitizers, whose start-up the
 * resolver would precede) one version. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define TN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TN_CLONES
#endif

/* The body of a function that returns Σ_{k < n} term (k the index, term
 * an expression of it) over eight running sums of type T in a fixed order:
 * the additions vectorize (at any width: the order is written here, not
 * chosen by the compiler), and the result is the same on every thread
 * count and CPU. The sums below are this with their own term. */
#define TN_SUM8_BODY(T, n, k, term)                                                             \
    T acc_[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                       \
    size_t i_ = 0;                                                                              \
    for (; i_ + 8 <= (n); i_ += 8)                                                              \
        for (size_t j_ = 0; j_ < 8; j_++) {                                                     \
            size_t k = i_ + j_;                                                                 \
            acc_[j_] += (term);                                                                 \
        }                                                                                       \
    for (; i_ < (n); i_++) {                                                                    \
        size_t k = i_;                                                                          \
        acc_[i_ % 8] += (term);                                                                 \
    }                                                                                           \
    return ((acc_[0] + acc_[4]) + (acc_[1] + acc_[5])) + ((acc_[2] + acc_[6]) + (acc_[3] + acc_[7]))

/* Σ x[0..n) in tn_real */
static inline tn_real tn_sum8(const tn_real *x, size_t n) { TN_SUM8_BODY(tn_real, n, k, x[k]); }

static inline float tn_exp_neg(float x)
{
    /* x = n·ln2 + r, |r| <= ln2/2; e^x = 2^n·e^r, e^r by its Taylor
     * polynomial to r^6 (Horner), 2^n built in the exponent bits.
     * NaN and anything below -87.3 to -87.3, whose e^ is made 0 below. No
     * clamp above: every caller passes -|v| or v - max (a clamp there cost
     * softmax's forward 10%); a positive x up to 88 still gets its e^x,
     * beyond that a wrong but finite-or-infinite value, never undefined
     * behaviour (no float-to-integer conversion: see t). Written as max
     * is, GCC leaves fewer blends. */
    float c = x > -87.3f ? x : -87.3f;
    /* round to nearest by the 1.5·2^23 trick: t = 1.5·2^23 + n exactly,
     * so t's low mantissa bits are n (plain SSE2 arithmetic) */
    float t = c * 1.44269504f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = c - n * 0.693145752f; /* ln2 in two parts (Cody-Waite) */
    r = r - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666418e-2f +
                                      r * (8.33336e-3f + r * 1.38944e-3f)))));
    /* 2^n: n + 127 shifted into the exponent field, taken from t's bits in
     * unsigned arithmetic (t's own exponent and the mantissa's top bit
     * shift out); at the bottom of the clamp the bits are 0, a scale of +0
     * and so a result of +0, one select where choosing the result took
     * GCC five */
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 127u) << 23;
    bits = c <= -87.3f ? 0u : bits;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float tn_exp_f(float x)
{
    /* as tn_exp_neg on x clamped to [-87.3, log FLT_MAX]: n up to 128,
     * whose 2^n is not a float, so 2^min(n, 127) and a last doubling */
    const float top = 88.7228317f; /* e^top <= FLT_MAX < e^nextafter(top) */
    float c = x > -87.3f ? x : -87.3f; /* NaN too; as tn_exp_neg's clamp */
    c = top < c ? top : c;
    float n = (c * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = c - n * 0.693145752f;
    r = r - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666418e-2f +
                                      r * (8.33336e-3f + r * 1.38944e-3f)))));
    float h = n > 127.0f ? 127.0f : n;
    uint32_t bits = (uint32_t)((int32_t)h + 127) << 23; /* h in [-126, 127] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale * (n > 127.0f ? 2.0f : 1.0f);
    return x != x ? x : x > top ? HUGE_VALF : x <= -87.3f ? 0.0f : y;
}

static inline float tn_log1p_01(float e)
{
    /* log(1 + e) = 2 atanh(s), s = e/(2 + e) in [0, 1/3]: the odd series
     * to s^13. s comes from e itself, not from 1 + e rounded, so small e
     * keep their digits (no correction step, one division) */
    float s = e / (2.0f + e), s2 = s * s;
    return 2.0f * s * (1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9 +
                                    s2 * (1.0f / 11 + s2 * (1.0f / 13)))))));
}

/* p = 2^k·m with m in [1, 2): log p = k·ln2 + log(1 + (m - 1)), ln2 in two
 * parts as in tn_exp_neg; integer operations on the bits, so it vectorizes */
static inline float tn_log_ge1(float p)
{
    uint32_t b;
    memcpy(&b, &p, sizeof b);
    float k = (float)((int32_t)(b >> 23) - 127), m;
    b = (b & 0x7fffffu) | 0x3f800000u;
    memcpy(&m, &b, sizeof m);
    return k * 0.693145752f + (tn_log1p_01(m - 1.0f) + k * 1.42860677e-6f);
}

/* |x| < 0.625: x + x·t·Q(t), t = x², Q fitted to tanh's relative error
 * (0.8 ulp in float); above: (1 - e) / (1 + e), e = e^-2|x| <= 0.29 (no
 * cancellation), with x's sign. Both are computed, so the loop vectorizes. */
static inline float tn_tanh_f(float x)
{
    float a = x < 0 ? -x : x, t = x * x;
    float q = -0.333333313f + t * (0.133332118f + t * (-0.0539474525f + t * (0.0217039995f +
                                  t * (-0.00818466209f + t * 0.002148984f))));
    float small = x + x * t * q;
    float e = tn_exp_neg(-2.0f * a), big = (1.0f - e) / (1.0f + e);
    big = x < 0 ? -big : big;
    return a < 0.625f ? small : a >= 0.625f ? big : x; /* the last: NaN */
}

/* σ(x) = 1/(1 + e^-x) with e = e^-|x| (never overflows): 1/(1 + e) for
 * x >= 0, e/(1 + e) below, one division; NaN for NaN. Both branches are
 * selected, not taken, so the loop vectorizes. */
static inline float tn_sigmoid_f(float x)
{
    float e = tn_exp_neg(x < 0 ? x : -x);
    float s = (x >= 0 ? 1.0f : e) / (1.0f + e);
    return x == x ? s : x;
}

/* log(1 + e^x) = max(x, 0) + log(1 + e^-|x|); NaN for NaN */
static inline float tn_softplus_f(float x)
{
    float s = (x > 0 ? x : 0.0f) + tn_log1p_01(tn_exp_neg(x < 0 ? x : -x));
    return x == x ? s : x;
}

/* ---- the softmax family's rows: vectorized by TN_CLONES callers ---------- */

/* max x[0..n), n >= 1, over eight running maxima (a NaN at x[0] stays;
 * the rows that use it come out NaN for any NaN anyway). With GCC's vector
 * extension (clang has it too) the eight maxima are one vector, the
 * compare a mask and the pick bitwise, which GCC does not find for the
 * scalar loop (softmax's forward 0.79 -> 0.74 ms); the same lanes in the
 * same order, so the same value either way. */
#if defined(__GNUC__)
typedef tn_real tn_vreal8 __attribute__((vector_size(8 * sizeof(tn_real))));
#if defined(TN_REAL_DOUBLE)
typedef int64_t tn_vmask8 __attribute__((vector_size(8 * sizeof(tn_real))));
#else
typedef int32_t tn_vmask8 __attribute__((vector_size(8 * sizeof(tn_real))));
#endif
#endif
static inline tn_real tn_max8(const tn_real *x, size_t n)
{
    tn_real acc[8];
    size_t i = 0;
#if defined(__GNUC__)
    tn_vreal8 v;
    for (int j = 0; j < 8; j++)
        v[j] = x[0];
    for (; i + 8 <= n; i += 8) {
        tn_vreal8 t;
        memcpy(&t, x + i, sizeof t);
        tn_vmask8 more = t > v;
        v = (tn_vreal8)(((tn_vmask8)t & more) | ((tn_vmask8)v & ~more));
    }
    memcpy(acc, &v, sizeof acc);
#else
    for (int j = 0; j < 8; j++)
        acc[j] = x[0];
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
#endif
    for (; i < n; i++)
        acc[0] = x[i] > acc[0] ? x[i] : acc[0];
    tn_real m = acc[0];
    for (int j = 1; j < 8; j++)
        m = acc[j] > m ? acc[j] : m;
    return m;
}

/* e^d for d <= 0 (a value minus its row's maximum), NaN kept NaN: the
 * float build's tn_exp_neg (3 ulp), the double build's libm */
static inline tn_real tn_exp_le0(tn_real d)
{
#ifdef TN_REAL_DOUBLE
    return exp(d);
#else
    float e = tn_exp_neg(d);
    return d == d ? e : d;
#endif
}

/* Σ x[0..n) in double */
static inline double tn_sum8d(const tn_real *x, size_t n) { TN_SUM8_BODY(double, n, k, (double)x[k]); }

/* Σ_k a[k]·b[k] in double (each product in tn_real) */
static inline double tn_dot8d(const tn_real *a, const tn_real *b, size_t n)
{
    TN_SUM8_BODY(double, n, k, (double)(a[k] * b[k]));
}

/* Σ_k e^(x[k] - m) in double, e^ by tn_exp_le0 */
static inline double tn_sum_exp8(const tn_real *x, tn_real m, size_t n)
{
    TN_SUM8_BODY(double, n, k, (double)tn_exp_le0(x[k] - m));
}

#endif
