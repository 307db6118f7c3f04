/* rng.c: PCG32 streams (after M. E. O'Neill's minimal C implementation,
 * pcg-random.org, Apache-2.0), uniform / normal / Bernoulli draws, bulk
 * draws that vectorize, and seeding from libsodium's entropy when the
 * caller gives no seed. */
#include "tn.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "tn_math.h"

#define PCG_MULT 6364136223846793005ULL

/* PCG's XSH-RR output of a state */
static inline uint32_t pcg_output(uint64_t old)
{
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t tn_rng_u32(tn_rng *r)
{
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    return pcg_output(old);
}

/* The LCG's step taken delta times, as one multiply and add: state ->
 * state·mult + plus (Brown, "Random number generation with arbitrary
 * strides", 1994; pcg_advance_lcg_64). Steps are mod 2^64, so a negative
 * delta, as uint64_t, goes back. */
static void lcg_jump(uint64_t delta, uint64_t inc, uint64_t *mult, uint64_t *plus)
{
    uint64_t cur_mult = PCG_MULT, cur_plus = inc, acc_mult = 1, acc_plus = 0;
    for (; delta; delta >>= 1) {
        if (delta & 1)
            acc_mult *= cur_mult, acc_plus = acc_plus * cur_mult + cur_plus;
        cur_plus = (cur_mult + 1) * cur_plus;
        cur_mult *= cur_mult;
    }
    *mult = acc_mult, *plus = acc_plus;
}

void tn_rng_advance(tn_rng *r, int64_t delta)
{
    uint64_t mult, plus;
    lcg_jump((uint64_t)delta, r->inc, &mult, &plus);
    r->state = r->state * mult + plus;
}

/* 16 lanes, each 16 draws ahead of the one before it in the stream: the
 * lanes' loop vectorizes, and out[] is what n calls of tn_rng_u32 give. */
TN_CLONES void tn_rng_fill_u32(tn_rng *r, uint32_t *out, size_t n)
{
    enum { W = 16 };
    size_t blocks = n / W;
    if (blocks) {
        uint64_t s[W], mult, plus;
        for (int j = 0; j < W; j++)
            s[j] = r->state, r->state = r->state * PCG_MULT + r->inc;
        lcg_jump(W, r->inc, &mult, &plus);
        for (size_t b = 0; b < blocks; b++)
            for (int j = 0; j < W; j++) {
                uint64_t old = s[j];
                s[j] = old * mult + plus;
                out[b * W + j] = pcg_output(old);
            }
        r->state = s[0]; /* lane 0 is at draw blocks·W */
    }
    for (size_t i = blocks * W; i < n; i++)
        out[i] = tn_rng_u32(r);
}

/* log u for u in (0, 1]: u = m·2^e, m in [1, 2): e·ln 2 + log(1 + (m - 1)) */
static inline float log_01(float u)
{
    uint32_t bits;
    memcpy(&bits, &u, sizeof bits);
    int e = (int)(bits >> 23) - 127;
    bits = (bits & 0x7fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &bits, sizeof m);
    return (float)e * 0.693147181f + tn_log1p_01(m - 1.0f);
}

/* Box-Muller on pairs of draws, in float: u1 = k·2^-24 in (0, 1] from the
 * first, the angle's quadrant and its place in it from the second; sine
 * and cosine of a in [0, π/2) by their series to a^11 and a^12 (within
 * 6e-8). Tails reach √(-2 ln 2^-24) = 5.77. */
TN_CLONES static void normals_of(const uint32_t *u, float *out, size_t pairs)
{
    for (size_t p = 0; p < pairs; p++) {
        uint32_t a = u[2 * p], b = u[2 * p + 1];
        float u1 = (float)((a >> 8) + 1) * 5.96046448e-8f; /* 2^-24 */
        float rad = sqrtf(-2.0f * log_01(u1));
        uint32_t quadrant = b >> 30;
        float t = (float)((b >> 8) & 0x3fffffu) * 2.38418579e-7f * 1.57079633f; /* 2^-22 · π/2 */
        float t2 = t * t;
        float s = t * (1.0f - t2 * (1.0f / 6 - t2 * (1.0f / 120 - t2 * (1.0f / 5040 - t2 * (1.0f / 362880 -
                                     t2 * (1.0f / 39916800))))));
        float c = 1.0f - t2 * (0.5f - t2 * (1.0f / 24 - t2 * (1.0f / 720 - t2 * (1.0f / 40320 -
                              t2 * (1.0f / 3628800 - t2 * (1.0f / 479001600))))));
        /* θ = quadrant·π/2 + t: (cos θ, sin θ) = (c, s), (-s, c), (-c, -s), (s, -c) */
        float cx = quadrant & 1 ? s : c, sx = quadrant & 1 ? c : s;
        out[2 * p] = rad * ((quadrant + 1) & 2 ? -cx : cx);
        out[2 * p + 1] = rad * (quadrant & 2 ? -sx : sx);
    }
}

void tn_rng_normals(tn_rng *r, float *out, size_t n)
{
    enum { PAIRS = 256 };
    uint32_t u[2 * PAIRS];
    float last[2];
    for (size_t i = 0; i < n; i += 2 * PAIRS) {
        size_t want = n - i < 2 * PAIRS ? n - i : 2 * PAIRS, pairs = want / 2;
        tn_rng_fill_u32(r, u, 2 * ((want + 1) / 2));
        normals_of(u, out + i, pairs);
        if (want % 2) { /* an odd count: the last pair's first value */
            normals_of(u + 2 * pairs, last, 1);
            out[i + want - 1] = last[0];
        }
    }
}

void tn_rng_seed(tn_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    tn_rng_u32(r);
    r->state += seed;
    tn_rng_u32(r);
    r->seed = seed;
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t tn_rng_seed_entropy(tn_rng *r, uint64_t stream, int *ok)
{
    uint64_t seed = 0;
    int good = sodium_init() >= 0;
    if (good)
        randombytes_buf(&seed, sizeof seed);
    tn_rng_seed(r, seed, stream);
    if (ok)
        *ok = good;
    return seed;
}

double tn_rng_uniform(tn_rng *r)
{
    uint64_t hi = tn_rng_u32(r) >> 5, lo = tn_rng_u32(r) >> 6; /* 27 + 26 bits */
    return (double)(hi * 67108864u + lo) * (1.0 / 9007199254740992.0);
}

uint32_t tn_rng_below(tn_rng *r, uint32_t n)
{
    if (n == 0)
        return 0;
    uint32_t threshold = (0u - n) % n; /* rejects the biased low range */
    for (;;) {
        uint32_t x = tn_rng_u32(r);
        if (x >= threshold)
            return x % n;
    }
}

double tn_rng_normal(tn_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller on (0, 1]: 1 - uniform never reaches 0, so log is finite. */
    double u1 = 1.0 - tn_rng_uniform(r), u2 = tn_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

void tn_rng_fill_uniform(tn_rng *r, tn_tensor *t, tn_real lo, tn_real hi)
{
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = (tn_real)(lo + (hi - lo) * tn_rng_uniform(r));
}

void tn_rng_fill_normal(tn_rng *r, tn_tensor *t, tn_real mean, tn_real sd)
{
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = (tn_real)(mean + sd * tn_rng_normal(r));
}

void tn_rng_fill_bernoulli(tn_rng *r, tn_tensor *t, tn_real p)
{
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = tn_rng_uniform(r) < p ? 1 : 0;
}
