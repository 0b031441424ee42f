/*
 * Internal: numpy's legacy random stream (numpy.random.RandomState), the
 * source of scikit-learn's tie-breaking noise in mutual_info_classif.
 *
 *  - MT19937 seeded from a 32-bit integer the way RandomState(seed) seeds it
 *    (Matsumoto–Nishimura init_genrand);
 *  - random doubles in [0, 1) from two 32-bit outputs (53 bits: a >> 5,
 *    b >> 6), as RandomState.random_sample;
 *  - standard normals by the polar Box–Muller method, which makes two values
 *    per accepted pair and returns the second one first, caching the other
 *    for the next call (RandomState.standard_normal).
 *
 * The same seed gives the same stream as numpy, bit for bit (tested against
 * values printed by numpy in tests/test_selector.c).
 *
 * Thread safety: a bw_rng is used by one thread at a time.
 */
#ifndef BW_RNG_H
#define BW_RNG_H

#include <stddef.h>
#include <stdint.h>

enum { BW_MT_N = 624 };

typedef struct bw_rng {
    uint32_t key[BW_MT_N];
    int pos;          /* next word of key[]; BW_MT_N = regenerate first */
    int has_gauss;    /* a cached normal is waiting */
    double gauss;     /* the cached normal */
} bw_rng;

/* Seeds like numpy.random.RandomState(seed). */
void bw_rng_seed(bw_rng *r, uint32_t seed);

/* The next 32-bit output of MT19937. */
uint32_t bw_rng_u32(bw_rng *r);

/* A double in [0, 1) with 53 random bits (RandomState.random_sample). */
double bw_rng_double(bw_rng *r);

/* A standard normal (RandomState.standard_normal, legacy polar method). */
double bw_rng_gauss(bw_rng *r);

/* Fills out[0..n) with successive standard normals. */
void bw_rng_fill_gauss(bw_rng *r, double *out, size_t n);

#endif /* BW_RNG_H */
