/* rng.c - xoshiro256** seeded by splitmix64 (Blackman & Vigna).
 *
 * Weight initialisation must give the same network on every machine, so
 * nothing here depends on libm: the normal generator uses the polar method
 * with a logarithm of our own (only +, -, *, / and sqrt, all correctly
 * rounded in IEEE double arithmetic). */
#include <math.h>

#include "cnnrt.h"

/* a fused multiply-add would change results on machines that have one */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cnn_rng_seed(cnn_rng *r, uint64_t seed)
{
    int i;
    for (i = 0; i < 4; i++)             /* never all zero: splitmix64 is a bijection */
        r->s[i] = splitmix64(&seed);
}

uint64_t cnn_rng_next(cnn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

float cnn_rng_uniform(cnn_rng *r)
{
    /* the top 24 bits: exactly representable, so never rounds up to 1 */
    return (float)(cnn_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

static double uniform53(cnn_rng *r)
{
    return (double)(cnn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* log(x) for x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then
 * log(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172: the series to s^21
 * is accurate to ~1e-17. */
static double det_log(double x)
{
    static const double ln2_hi = 6.93147180369123816490e-01;
    static const double ln2_lo = 1.90821492927058770002e-10;
    int e, k;
    double m = frexp(x, &e), s, s2, p;
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e--;
    }
    s = (m - 1.0) / (m + 1.0);
    s2 = s * s;
    p = 1.0 / 21.0;
    for (k = 19; k >= 1; k -= 2) {
        p = p * s2;
        p = p + 1.0 / (double)k;
    }
    return (double)e * ln2_hi + ((double)e * ln2_lo + 2.0 * s * p);
}

float cnn_rng_normal(cnn_rng *r)
{
    double u, v, s;
    do {
        u = 2.0 * uniform53(r) - 1.0;
        v = 2.0 * uniform53(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    /* the second variate (v * ...) is dropped: cnn_rng has no room to cache it */
    return (float)(u * sqrt(-2.0 * det_log(s) / s));
}
