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
static void bw_rng_twist(bw_rng *r)
{
    uint32_t *k = r->key;
    int i;
    for (i = 0; i < BW_MT_N - 1; i++) {
        uint32_t y = (k[i] & BW_MT_UPPER) | (k[i + 1] & BW_MT_LOWER);
        int src = i + BW_MT_M < BW_MT_N ? i + BW_MT_M : i + BW_MT_M - BW_MT_N;
        k[i] = k[src] ^ (y >> 1) ^ ((0U - (y & 1U)) & BW_MT_MATRIX_A);
    }
    uint32_t y = (k[BW_MT_N - 1] & BW_MT_UPPER) | (k[0] & BW_MT_LOWER);
    k[BW_MT_N - 1] = k[BW_MT_M - 1] ^ (y >> 1) ^ ((0U - (y & 1U)) & BW_MT_MATRIX_A);
    r->pos = 0;
}

uint32_t bw_rng_u32(bw_rng *r)
{
    if (r->pos >= BW_MT_N) bw_rng_twist(r);
    uint32_t y = r->key[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
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

void bw_rng_fill_gauss(bw_rng *r, double *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = bw_rng_gauss(r);
}
