/* rng.c: PCG32 streams (after M. E. O'Neill's minimal C implementation,
 * pcg-random.org, Apache-2.0), uniform / normal / Bernoulli draws, and seeding
 * from libsodium's entropy when the caller gives no seed. */
#include "tn.h"

#include <math.h>
#include <sodium.h>

uint32_t tn_rng_u32(tn_rng *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
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
