/* numpy's legacy RandomState stream: MT19937, 53-bit doubles and the polar
 * Gaussian with a cached second value (see rng.h). */
#include <math.h>

#include "rng.h"

enum { BW_MT_M = 397 };
#define BW_MT_MATRIX_A 0x9908b0dfU
#define BW_MT_UPPER 0x80000000U
#define BW_MT_LOWER 0x7fffffffU

void bw_rng_seed(bw_rng *r, uint32_t seed)
{
    uint32_t s = seed;
    for (int i = 0; i < BW_MT_N; i++) {
        r->key[i] = s;
        s = 1812433253U * (s ^ (s >> 30)) + (uint32_t)(i + 1);
    }
    r->pos = BW_MT_N;
    r->has_gauss = 0;
    r->gauss = 0.0;
}

/* Regenerates the whole key (the MT19937 "twist"). */
static inline uint32_t bw_mt_mix(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t y = (a & BW_MT_UPPER) | (b & BW_MT_LOWER);
    return c ^ (y >> 1) ^ ((0U - (y & 1U)) & BW_MT_MATRIX_A);
}

/* The MT19937 state update, in three branch-free loops (the compiler can
 * vectorise the first two). */
static void bw_rng_twist(bw_rng *r)
{
    uint32_t *k = r->key;
    int i;
    for (i = 0; i < BW_MT_N - BW_MT_M; i++) k[i] = bw_mt_mix(k[i], k[i + 1], k[i + BW_MT_M]);
    for (; i < BW_MT_N - 1; i++) k[i] = bw_mt_mix(k[i], k[i + 1], k[i + BW_MT_M - BW_MT_N]);
    k[BW_MT_N - 1] = bw_mt_mix(k[BW_MT_N - 1], k[0], k[BW_MT_M - 1]);
    r->pos = 0;
}

static inline uint32_t bw_mt_temper(uint32_t y)
{
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

uint32_t bw_rng_u32(bw_rng *r)
{
    if (r->pos >= BW_MT_N) bw_rng_twist(r);
    return bw_mt_temper(r->key[r->pos++]);
}

double bw_rng_double(bw_rng *r)
{
    uint32_t a = bw_rng_u32(r) >> 5;
    uint32_t b = bw_rng_u32(r) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

double bw_rng_gauss(bw_rng *r)
{
    if (r->has_gauss) {
        r->has_gauss = 0;
        double g = r->gauss;
        r->gauss = 0.0;
        return g;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * bw_rng_double(r) - 1.0;
        x2 = 2.0 * bw_rng_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}

static inline double bw_mt_res53(uint32_t a, uint32_t b)
{
    return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) / 9007199254740992.0;
}

/* The same stream as n calls of bw_rng_gauss, faster: each polar attempt
 * consumes exactly four 32-bit words, so attempts are taken straight from
 * the state (tempered inline) while four words remain before a twist, and
 * accepted pairs are written without going through the one-value cache. */
void bw_rng_fill_gauss(bw_rng *r, double *out, size_t n)
{
    size_t i = 0;
    if (i < n && r->has_gauss) out[i++] = bw_rng_gauss(r);
    while (n - i >= 2) {
        if (r->pos > BW_MT_N - 4) {
            /* an attempt that straddles a twist: the plain path */
            out[i++] = bw_rng_gauss(r);
            out[i++] = bw_rng_gauss(r);
            continue;
        }
        const uint32_t *k = r->key + r->pos;
        r->pos += 4;
        double x1 = 2.0 * bw_mt_res53(bw_mt_temper(k[0]), bw_mt_temper(k[1])) - 1.0;
        double x2 = 2.0 * bw_mt_res53(bw_mt_temper(k[2]), bw_mt_temper(k[3])) - 1.0;
        double r2 = x1 * x1 + x2 * x2;
        if (r2 >= 1.0 || r2 == 0.0) continue;
        double f = sqrt(-2.0 * log(r2) / r2);
        out[i++] = f * x2;
        out[i++] = f * x1;
    }
    if (i < n) out[i++] = bw_rng_gauss(r);
}
