/* The kNN estimator on one column: Ross's nearest-neighbour estimate of the
 * mutual information between a continuous column and the binary failure
 * label, as scikit-learn's _compute_mi_cd computes it, using the 1-D
 * structure: one sort of the column (radix on the top bits, exact order
 * inside runs of equal keys), then the split into the two classes' sorted
 * values; the radii (k-th neighbour within a class) in one
 * sequential pass per class; the neighbour counts class by class, by
 * branch-free vector tests of the next 8 (16 for the smaller class) values
 * on each side, then a galloping search in the rare case that they all
 * pass. Distances are exact: |fl(x_j − x_i)|, which is what scikit-learn's
 * KD-tree compares (sqrt(fl(d²)) == |d|); the counting predicate
 * fl(x_j − x_i) <= r is monotone in x_j on each side, so searching the
 * sorted column is valid.
 *
 * Also here, because they are on the same hot path: numpy's pairwise sum
 * and the selector's block gather and preprocessing.
 *
 * This file is compiled twice: with baseline x86-64 instructions (SSE2,
 * bit scans; no popcount; names ending in _base), and, where the compiler
 * can, with -mavx2 -mpopcnt (BW_KNN_AVX2; names ending in _avx2), whose
 * counting, radii, key making, placing, gather, preprocessing and sums use
 * 256-bit registers. Both compute the
 * same operations on the same values (no fused multiply-add, no
 * reassociation), so their results are identical bit for bit;
 * lib/mi_knn.c picks one at run time. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "internal.h"
#include "selector_internal.h"

#if defined(BW_KNN_AVX2)
#define BW_KNN_EST bw_knn_mi_avx2
#define BW_KNN_PREP bw_knn_prepare_block_avx2
#define BW_KNN_PSUM bw_pairwise_sum_avx2
#define BW_KNN_GATHER bw_knn_gather_block_avx2
#else
#define BW_KNN_EST bw_knn_mi_base
#define BW_KNN_PREP bw_knn_prepare_block_base
#define BW_KNN_PSUM bw_pairwise_sum_base
#define BW_KNN_GATHER bw_knn_gather_block_base
#endif

/* ---- numpy's pairwise summation ----------------------------------------- */

/* numpy's pairwise_sum on at most 8192 elements: sequential below 8, eight
 * accumulators (lanes of two registers in the AVX2 build) up to 128, halves
 * (a multiple of 8) above. */
static double bw_pairwise_block(const double *a, size_t n)
{
    if (n < 8) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
#if defined(__AVX2__)
        __m256d r03 = _mm256_loadu_pd(a), r47 = _mm256_loadu_pd(a + 4);
        for (i = 8; i < n - (n % 8); i += 8) {
            r03 = _mm256_add_pd(r03, _mm256_loadu_pd(a + i));
            r47 = _mm256_add_pd(r47, _mm256_loadu_pd(a + i + 4));
        }
        _mm256_storeu_pd(r, r03);
        _mm256_storeu_pd(r + 4, r47);
#else
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + (size_t)j];
#endif
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) s += a[i];
        return s;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return bw_pairwise_block(a, n2) + bw_pairwise_block(a + n2, n - n2);
}

/* numpy's reduction hands the inner loop at most its buffer size (8192
 * elements) at a time: pairwise within each chunk, chunks added in order. */
double BW_KNN_PSUM(const double *a, size_t n)
{
    enum { BW_NPY_BUFSIZE = 8192 };
    double s = 0.0;
    for (size_t i = 0; i < n; i += BW_NPY_BUFSIZE)
        s += bw_pairwise_block(a + i, n - i < BW_NPY_BUFSIZE ? n - i : BW_NPY_BUFSIZE);
    return s;
}


/* ---- sorting -------------------------------------------------------------- */

/* Order-preserving map of a double's bits to an unsigned key. */
static inline uint64_t bw_key_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    uint64_t neg = 0 - (u >> 63); /* all ones for a negative value */
    return u ^ (neg | 0x8000000000000000ULL);
}

static inline double bw_value_of(uint64_t k)
{
    uint64_t neg = (k >> 63) - 1; /* all ones when the value was negative */
    uint64_t u = k ^ (neg | 0x8000000000000000ULL);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

enum { BW_RADIX_BITS = 11, BW_RADIX_PASSES = 6, BW_RADIX_SIZE = 1 << BW_RADIX_BITS };

/* LSD radix sort of (k, p) by k, 11 bits per pass (6 passes; a pass where
 * every key has the same digit is skipped), using (k2, p2) as the second
 * buffer. hist holds BW_RADIX_PASSES * BW_RADIX_SIZE counters. Returns 1
 * when the result ended up in (k2, p2). */
static int bw_radix_sort(uint64_t *k, uint32_t *p, uint64_t *k2, uint32_t *p2, size_t n,
                         uint32_t *hist)
{
    const uint64_t mask = BW_RADIX_SIZE - 1;
    memset(hist, 0, (size_t)BW_RADIX_PASSES * BW_RADIX_SIZE * sizeof *hist);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = k[i];
        for (int b = 0; b < BW_RADIX_PASSES; b++)
            hist[b * BW_RADIX_SIZE + ((x >> (BW_RADIX_BITS * b)) & mask)]++;
    }
    int swapped = 0;
    for (int b = 0; b < BW_RADIX_PASSES; b++) {
        uint32_t *h = hist + b * BW_RADIX_SIZE;
        int shift = BW_RADIX_BITS * b;
        if (h[(k[0] >> shift) & mask] == n) continue; /* one digit value */
        uint32_t sum = 0;
        for (int v = 0; v < BW_RADIX_SIZE; v++) {
            uint32_t c = h[v];
            h[v] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t x = k[i];
            uint32_t dst = h[(x >> shift) & mask]++;
            k2[dst] = x;
            p2[dst] = p[i];
        }
        uint64_t *tk = k;
        k = k2;
        k2 = tk;
        uint32_t *tp = p;
        p = p2;
        p2 = tp;
        swapped ^= 1;
    }
    return swapped;
}

/* h[v] = h[0] + ... + h[v-1] (exclusive prefix sums), size a multiple of 4. */
static void bw_exclusive_prefix(uint32_t *h, size_t size)
{
#if defined(__SSE2__)
    __m128i carry = _mm_setzero_si128(); /* the sum so far, in every lane */
    for (size_t v = 0; v < size; v += 4) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(h + v));
        __m128i p = _mm_add_epi32(x, _mm_slli_si128(x, 4));
        p = _mm_add_epi32(p, _mm_slli_si128(p, 8)); /* inclusive sums */
        _mm_storeu_si128((__m128i *)(void *)(h + v), _mm_add_epi32(carry, _mm_sub_epi32(p, x)));
        carry = _mm_add_epi32(carry, _mm_shuffle_epi32(p, 0xFF));
    }
#else
    uint32_t sum = 0;
    for (size_t v = 0; v < size; v++) {
        uint32_t c = h[v];
        h[v] = sum;
        sum += c;
    }
#endif
}

/* a[v] += b[v] for v < size (a multiple of 4). */
static void bw_add_counts(uint32_t *a, const uint32_t *b, size_t size)
{
#if defined(__SSE2__)
    for (size_t v = 0; v < size; v += 4) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + v));
        __m128i z = _mm_loadu_si128((const __m128i *)(const void *)(b + v));
        _mm_storeu_si128((__m128i *)(void *)(a + v), _mm_add_epi32(x, z));
    }
#else
    for (size_t v = 0; v < size; v++) a[v] += b[v];
#endif
}

/* The two radix digits of a packed word (BW_TOP_BITS bits each, from the
 * top): digit 0 (moved first) and digit 1. */
enum { BW_TOP_BITS = 11, BW_TOP_SIZE = 1 << BW_TOP_BITS, BW_TOP_KEY_SHIFT = 64 - 2 * BW_TOP_BITS };
#define BW_TOP_DIGIT0(w) (((w) >> BW_TOP_KEY_SHIFT) & (BW_TOP_SIZE - 1))
#define BW_TOP_DIGIT1(w) ((w) >> (64 - BW_TOP_BITS))

/* LSD radix sort of packed words by their upper 2 * BW_TOP_BITS bits (two
 * passes; a pass where every word has the same digit is skipped), using a2
 * as the second buffer. hist holds the counts of digit 0 then of digit 1
 * (2 * BW_TOP_SIZE counters, filled by the caller) and room for a third
 * table. Returns the buffer holding the result. */
static uint64_t *bw_radix_sort_top(uint64_t *a, uint64_t *a2, size_t n, uint32_t *hist)
{
    for (int b = 0; b < 2; b++) {
        uint32_t *h = hist + (size_t)b * BW_TOP_SIZE;
        if (h[b ? BW_TOP_DIGIT1(a[0]) : BW_TOP_DIGIT0(a[0])] == n) continue; /* one digit */
        bw_exclusive_prefix(h, BW_TOP_SIZE);
        if (b == 0) {
            for (size_t i = 0; i < n; i++) {
                uint64_t x = a[i];
                a2[h[BW_TOP_DIGIT0(x)]++] = x;
            }
        } else {
            /* Digit 1 (sign, exponent) takes few values, so consecutive
             * words often share a counter: a chain through memory. Both
             * ends at once, the front half into the bucket starts (moving
             * up), the back half into the bucket ends (moving down), run
             * two independent chains (11-14% faster estimator; the same
             * for digit 0 measured 3-8% slower). Stable: each half keeps
             * its order within a bucket, front before back. */
            uint32_t *hi = hist + 2 * (size_t)BW_TOP_SIZE;
            memcpy(hi, h + 1, (BW_TOP_SIZE - 1) * sizeof *hi);
            hi[BW_TOP_SIZE - 1] = (uint32_t)n;
            size_t half = n / 2;
            for (size_t i = 0; i < half; i++) {
                uint64_t x = a[i], z = a[n - 1 - i];
                a2[h[BW_TOP_DIGIT1(x)]++] = x;
                a2[--hi[BW_TOP_DIGIT1(z)]] = z;
            }
            if (n & 1) a2[h[BW_TOP_DIGIT1(a[half])]++] = a[half];
        }
        uint64_t *t = a;
        a = a2;
        a2 = t;
    }
    return a;
}

/* Order-preserving 32-bit key of a float. */
static inline uint32_t bw_key32_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t neg = 0U - (u >> 31);
    return u ^ (neg | 0x80000000U);
}

/* ---- the estimator -------------------------------------------------------- */

/* Sentinel slots on each side of the sorted arrays, so that the short
 * branch-free scans below never test bounds. */
enum { BW_PAD = 16 };

/* Columns up to this many kept rows are sorted by insertion. */
enum { BW_SMALL_SORT = 64 };

/* scratch layout (in order): keys k1, k2 (u64); sorted values v with pads;
 * class values w0, w1 with pads; ψ(m) per kept row; payloads p1, p2 (u32);
 * radix histograms; one bit per sorted slot (equal keys). */
#if !defined(BW_KNN_AVX2) /* one definition, shared by both builds */
size_t bw_knn_scratch_size(size_t n)
{
    size_t m = n ? n : 1;
    return m * (2 * sizeof(uint64_t) + 3 * sizeof(double) + 2 * sizeof(uint32_t)) +
           (6 * BW_PAD) * sizeof(double) +
           (size_t)BW_RADIX_PASSES * BW_RADIX_SIZE * sizeof(uint32_t) +
           (m / 64 + 2) * sizeof(uint64_t) + 64;
}
#endif

/* nextafter(d, 0) for d >= 0 */
static inline double bw_toward_zero(double d)
{
    if (d <= 0.0) return 0.0;
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    u--;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* k-th smallest of |x_j − x_i| over the other members of a class, for the
 * member at `pos` of the class's sorted values wc[0..C) (padded with
 * BW_PAD ∓inf on each side when k <= BW_PAD). */
static inline double bw_kth_distance(const double *wc, size_t C, size_t pos, size_t k,
                                     double xi)
{
    /* wc[i - t] reaches into the left padding for the first members: index
     * with a signed offset (an unsigned pos - t would wrap) */
    const ptrdiff_t p = (ptrdiff_t)pos;
    if (k == 3) { /* the default, unrolled: min(R3, max(L1,R2), max(L2,R1), L3) */
        double L1 = xi - wc[p - 1], L2 = xi - wc[p - 2], L3 = xi - wc[p - 3];
        double R1 = wc[pos + 1] - xi, R2 = wc[pos + 2] - xi, R3 = wc[pos + 3] - xi;
        double a = L1 > R2 ? L1 : R2, b = L2 > R1 ? L2 : R1;
        double m = R3 < L3 ? R3 : L3;
        m = a < m ? a : m;
        return b < m ? b : m;
    }
    if (k <= BW_PAD) {
        /* k-th smallest of two sorted lists L (left distances) and R (right):
         * min over t of max(L_t, R_{k-t}), with L_0 = R_0 = 0 */
        double best = wc[pos + k] - xi;                /* t = 0 */
        for (size_t t = 1; t <= k; t++) {
            double L = xi - wc[p - (ptrdiff_t)t];
            double R = t < k ? wc[pos + k - t] - xi : 0.0;
            double m = L > R ? L : R;
            best = m < best ? m : best;
        }
        return best;
    }
    size_t l = pos, r = pos + 1;
    double dk = 0.0;
    for (size_t t = 0; t < k; t++) {
        double dl = l > 0 ? xi - wc[l - 1] : INFINITY;
        double dr = r < C ? wc[r] - xi : INFINITY;
        if (dl <= dr) {
            dk = dl;
            l--;
        } else {
            dk = dr;
            r++;
        }
    }
    return dk;
}

#if defined(__SSE2__)
/* Length of the run of set bits at the bottom of an 8-bit mask: the number
 * of passing tests when the passing ones are a prefix (bit i = the i-th
 * nearest value). A bit scan (baseline x86-64); no popcount needed. */
static inline size_t bw_prefix_len8(unsigned m)
{
    return (size_t)__builtin_ctz(~m); /* ~m has bit 8 set: never 0 */
}
#endif

/* Number of passing tests fl(b[t] − xi) <= rad among t = 1..8 when b[8]
 * fails (the passing ones are a prefix: 0..7). */
static inline size_t bw_window_right(const double *b, double xi, double rad)
{
#if defined(__SSE2__)
    /* eight independent tests */
    __m128d X = _mm_set1_pd(xi), R = _mm_set1_pd(rad);
    int m0 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(_mm_loadu_pd(b + 1), X), R));
    int m1 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(_mm_loadu_pd(b + 3), X), R));
    int m2 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(_mm_loadu_pd(b + 5), X), R));
    int m3 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(_mm_loadu_pd(b + 7), X), R));
    return bw_prefix_len8((unsigned)(m0 | m1 << 2 | m2 << 4 | m3 << 6));
#else
    size_t c = 0;
    c += (b[c + 4] - xi <= rad) ? 4 : 0;
    c += (b[c + 2] - xi <= rad) ? 2 : 0;
    c += (b[c + 1] - xi <= rad) ? 1 : 0;
    return c;
#endif
}

/* The mirror image: passing tests fl(xi − b[−t]) <= rad among t = 1..8
 * when b[−8] fails. */
static inline size_t bw_window_left(const double *b, double xi, double rad)
{
#if defined(__SSE2__)
    __m128d X = _mm_set1_pd(xi), R = _mm_set1_pd(rad);
    int m0 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(X, _mm_loadu_pd(b - 2)), R));
    int m1 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(X, _mm_loadu_pd(b - 4)), R));
    int m2 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(X, _mm_loadu_pd(b - 6)), R));
    int m3 = _mm_movemask_pd(_mm_cmple_pd(_mm_sub_pd(X, _mm_loadu_pd(b - 8)), R));
    /* lane 0 of each pair is the farther value: swap the bits of each pair
     * so that bit i is the (i+1)-th value to the left */
    unsigned m = (unsigned)(m0 | m1 << 2 | m2 << 4 | m3 << 6);
    return bw_prefix_len8(((m & 0x55U) << 1) | ((m >> 1) & 0x55U));
#else
    ptrdiff_t c = 0;
    c += (xi - b[-c - 4] <= rad) ? 4 : 0;
    c += (xi - b[-c - 2] <= rad) ? 2 : 0;
    c += (xi - b[-c - 1] <= rad) ? 1 : 0;
    return (size_t)c;
#endif
}

/* Number of sorted values v[s+1..] with v[j] − xi <= rad. v is padded with
 * BW_PAD (16) +inf after the end; the predicate is monotone in j
 * (fl(v[j] − xi) never decreases), so eight branch-free tests settle the
 * usual case, eight more the next most usual, a galloping search the rest. */
static inline size_t bw_count_right(const double *v, size_t N, size_t s, double xi, double rad)
{
    const double *b = v + s;
    if (!(b[8] - xi <= rad)) return bw_window_right(b, xi, rad);
    if (!(b[16] - xi <= rad)) return 8 + bw_window_right(b + 8, xi, rad);
    size_t lo = s + 16, step = 1; /* v[lo] passes */
    while (lo + step < N && v[lo + step] - xi <= rad) {
        lo += step;
        step <<= 1;
    }
    size_t hi = lo + step < N ? lo + step : N;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] - xi <= rad) lo = mid;
        else hi = mid;
    }
    return lo - s;
}

/* Number of sorted values v[..s-1] with xi − v[j] <= rad (v padded with
 * BW_PAD −inf before the start); the mirror image of bw_count_right. */
static inline size_t bw_count_left(const double *v, size_t s, double xi, double rad)
{
    const double *b = v + s;
    if (!(xi - b[-8] <= rad)) return bw_window_left(b, xi, rad);
    if (!(xi - b[-16] <= rad)) return 8 + bw_window_left(b - 8, xi, rad);
    size_t hi = s - 16, step = 1; /* v[hi] passes */
    while (hi >= step && xi - v[hi - step] <= rad) {
        hi -= step;
        step <<= 1;
    }
    size_t a = hi >= step ? hi - step + 1 : 0, e = hi; /* first passing in [a, e] */
    while (a < e) {
        size_t mid = a + (e - a) / 2;
        if (xi - v[mid] <= rad) e = mid;
        else a = mid + 1;
    }
    return s - a;
}

/* r[pos] = nextafter(d_k, 0) for every member pos < C of a class whose
 * sorted values are wc[0..C) (padded with BW_PAD ∓inf on each side). */
static void bw_class_radii(const double *wc, size_t C, size_t k, double *r)
{
    size_t pos = 0;
#if defined(__AVX2__)
    if (k == 3) { /* the same, four members at a time */
        const __m256d zero = _mm256_setzero_pd();
        const __m256i one = _mm256_set1_epi64x(1);
        for (; pos + 4 <= C; pos += 4) {
            const double *b = wc + pos;
            __m256d X = _mm256_loadu_pd(b);
            __m256d L1 = _mm256_sub_pd(X, _mm256_loadu_pd(b - 1));
            __m256d L2 = _mm256_sub_pd(X, _mm256_loadu_pd(b - 2));
            __m256d L3 = _mm256_sub_pd(X, _mm256_loadu_pd(b - 3));
            __m256d R1 = _mm256_sub_pd(_mm256_loadu_pd(b + 1), X);
            __m256d R2 = _mm256_sub_pd(_mm256_loadu_pd(b + 2), X);
            __m256d R3 = _mm256_sub_pd(_mm256_loadu_pd(b + 3), X);
            __m256d m = _mm256_min_pd(_mm256_min_pd(R3, L3),
                                      _mm256_min_pd(_mm256_max_pd(L1, R2), _mm256_max_pd(L2, R1)));
            __m256d pos_mask = _mm256_cmp_pd(m, zero, _CMP_GT_OQ);
            __m256i dec = _mm256_sub_epi64(_mm256_castpd_si256(m), one);
            _mm256_storeu_pd(r + pos, _mm256_and_pd(pos_mask, _mm256_castsi256_pd(dec)));
        }
    }
#endif
#if defined(__SSE2__)
    if (k == 3) { /* bw_kth_distance's k = 3 formula, two members at a time */
        const __m128d zero = _mm_setzero_pd();
        const __m128i one = _mm_set1_epi64x(1);
        for (; pos + 2 <= C; pos += 2) {
            const double *b = wc + pos;
            __m128d X = _mm_loadu_pd(b);
            __m128d L1 = _mm_sub_pd(X, _mm_loadu_pd(b - 1));
            __m128d L2 = _mm_sub_pd(X, _mm_loadu_pd(b - 2));
            __m128d L3 = _mm_sub_pd(X, _mm_loadu_pd(b - 3));
            __m128d R1 = _mm_sub_pd(_mm_loadu_pd(b + 1), X);
            __m128d R2 = _mm_sub_pd(_mm_loadu_pd(b + 2), X);
            __m128d R3 = _mm_sub_pd(_mm_loadu_pd(b + 3), X);
            /* finite or +inf, never NaN: max/min pick the same values as the
             * scalar comparisons (equal operands are equal values, +0) */
            __m128d m = _mm_min_pd(_mm_min_pd(R3, L3),
                                   _mm_min_pd(_mm_max_pd(L1, R2), _mm_max_pd(L2, R1)));
            /* nextafter(m, 0): the bits minus one when m > 0, else 0 */
            __m128d pos_mask = _mm_cmpgt_pd(m, zero);
            __m128i dec = _mm_sub_epi64(_mm_castpd_si128(m), one);
            _mm_storeu_pd(r + pos, _mm_and_pd(pos_mask, _mm_castsi128_pd(dec)));
        }
    }
#endif
    for (; pos < C; pos++) r[pos] = bw_toward_zero(bw_kth_distance(wc, C, pos, k, wc[pos]));
}

/* Sorts v[s..e) by value, moving ps along (insertion sort: short runs). */
static inline void bw_insertion_sort(double *v, uint32_t *ps, size_t s, size_t e)
{
    for (size_t i = s + 1; i < e; i++) {
        double vi = v[i];
        uint32_t pi = ps[i];
        size_t q = i;
        while (q > s && v[q - 1] > vi) {
            v[q] = v[q - 1];
            ps[q] = ps[q - 1];
            q--;
        }
        v[q] = vi;
        ps[q] = pi;
    }
}

#if defined(__GNUC__)
#define BW_ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define BW_ALWAYS_INLINE inline
#endif

static BW_ALWAYS_INLINE void bw_count_class(const double *v, size_t N, const uint32_t *s_of,
                                  const double *rad, size_t C, const uint32_t *ps,
                                  const double *psi, double *pv, int W)
{
    for (size_t i = 0; i < C; i++) {
        size_t s = s_of[i];
        const double *b = v + s;
        double xi = b[0], r = rad[i];
        size_t m;
#if defined(__AVX2__)
        /* the W values on each side, four to a register: a 2W-bit mask of
         * the passing tests, whose population is the count */
        __m256d X = _mm256_set1_pd(xi), R = _mm256_set1_pd(r);
        unsigned mask = 0, over;
#if defined(__GNUC__)
#pragma GCC unroll 4
#endif
        for (int t = 0; t < W; t += 4) {
            __m256d cr = _mm256_cmp_pd(_mm256_sub_pd(_mm256_loadu_pd(b + 1 + t), X), R,
                                       _CMP_LE_OQ);
            __m256d cl = _mm256_cmp_pd(_mm256_sub_pd(X, _mm256_loadu_pd(b - 4 - t)), R,
                                       _CMP_LE_OQ);
            mask |= (unsigned)_mm256_movemask_pd(cr) << (2 * t);
            mask |= (unsigned)_mm256_movemask_pd(cl) << (2 * t + 4);
        }
        /* bit 2W-5 is b[W] (lane 3 of the last right register), bit 2W-4
         * is b[-W] (lane 0 of the last left one) */
        over = (mask >> (2 * W - 5)) & 3U;
        m = 1 + (size_t)__builtin_popcount(mask);
        if (over) m = 1 + bw_count_right(v, N, s, xi, r) + bw_count_left(v, s, xi, r);
#elif defined(__SSE2__)
        __m128d X = _mm_set1_pd(xi), R = _mm_set1_pd(r);
        __m128i acc = _mm_setzero_si128();
        __m128d cr = X, cl = X;
#if defined(__GNUC__)
#pragma GCC unroll 8
#endif
        for (int t = 1; t < W; t += 2) {
            cr = _mm_cmple_pd(_mm_sub_pd(_mm_loadu_pd(b + t), X), R);
            cl = _mm_cmple_pd(_mm_sub_pd(X, _mm_loadu_pd(b - t - 1)), R);
            acc = _mm_add_epi64(acc, _mm_castpd_si128(cr));
            acc = _mm_add_epi64(acc, _mm_castpd_si128(cl));
        }
        /* the last pairs hold b[W] (lane 1 of cr) and b[-W] (lane 0 of cl) */
        int over = (_mm_movemask_pd(cr) >> 1) | (_mm_movemask_pd(cl) & 1);
        acc = _mm_add_epi64(acc, _mm_unpackhi_epi64(acc, acc));
        m = 1 - (size_t)_mm_cvtsi128_si64(acc);
        if (over) m = 1 + bw_count_right(v, N, s, xi, r) + bw_count_left(v, s, xi, r);
#else
        (void)W;
        m = 1 + bw_count_right(v, N, s, xi, r) + bw_count_left(v, s, xi, r);
#endif
        pv[ps[s] >> 1] = psi[m];
    }
}

static void bw_count_class8(const double *v, size_t N, const uint32_t *s_of, const double *rad,
                            size_t C, const uint32_t *ps, const double *psi, double *pv)
{
    bw_count_class(v, N, s_of, rad, C, ps, psi, pv, 8);
}

_Static_assert(BW_PAD >= 16, "bw_count_class16 reads 16 values on each side");

static void bw_count_class16(const double *v, size_t N, const uint32_t *s_of,
                             const double *rad, size_t C, const uint32_t *ps,
                             const double *psi, double *pv)
{
    bw_count_class(v, N, s_of, rad, C, ps, psi, pv, 16);
}

/* Pass 1 of placing the sorted words: ps[s] = the payload of word s,
 * v[s] = its value xs[payload >> 1], and bit s of eqbits set when words s
 * and s + 1 have the same key (word >> key_shift). */
static void bw_place(const uint64_t *ks, size_t N, int key_shift, const double *xs, double *v,
                     uint32_t *ps, uint64_t *eqbits)
{
    size_t s = 0;
    uint64_t acc = 0;
#if defined(__AVX2__)
    const __m256i lows = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    for (; s + 5 <= N; s += 4) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(ks + s));
        __m256i wn = _mm256_loadu_si256((const __m256i *)(const void *)(ks + s + 1));
        __m256i eq = _mm256_cmpeq_epi64(_mm256_srli_epi64(w, key_shift),
                                        _mm256_srli_epi64(wn, key_shift));
        acc |= (uint64_t)(unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(eq)) << (s & 63);
        __m128i pay = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(w, lows));
        _mm_storeu_si128((__m128i *)(void *)(ps + s), pay);
        _mm256_storeu_pd(v + s, _mm256_i32gather_pd(xs, _mm_srli_epi32(pay, 1), 8));
        if ((s & 63) == 60) {
            eqbits[s >> 6] = acc;
            acc = 0;
        }
    }
#endif
    for (; s < N; s++) {
        uint64_t w = ks[s];
        uint32_t pay = (uint32_t)w;
        ps[s] = pay;
        v[s] = xs[pay >> 1];
        if (s + 1 < N) acc |= (uint64_t)((w >> key_shift) == (ks[s + 1] >> key_shift)) << (s & 63);
        if ((s & 63) == 63) {
            eqbits[s >> 6] = acc;
            acc = 0;
        }
    }
    if (N & 63) eqbits[N >> 6] = acc;
}

/* The first set bit at or after position `from` of a bitmap of nw words,
 * or nw * 64 when there is none. */
static size_t bw_next_bit(const uint64_t *bits, size_t nw, size_t from)
{
    size_t w = from >> 6;
    if (w >= nw) return nw * 64;
    uint64_t m = bits[w] & (~0ULL << (from & 63));
    while (!m) {
        if (++w == nw) return nw * 64;
        m = bits[w];
    }
    return w * 64 + (size_t)__builtin_ctzll(m);
}

double BW_KNN_EST(const bw_knn_plan *plan, const double *x, size_t stride, void *scratch)
{
    size_t N = plan->n_kept;
    if (N == 0) return 0.0;
    size_t n = plan->n;
    const uint8_t *y = plan->y;

    uint64_t *k1 = scratch;
    uint64_t *k2 = k1 + N;
    double *v = (double *)(k2 + N) + BW_PAD; /* N sorted values, padded */
    double *wbase = v + N + BW_PAD;          /* class arrays, padded */
    double *pv = wbase + N + 4 * BW_PAD;     /* ψ(m) by compact row */
    uint32_t *p1 = (uint32_t *)(pv + N);
    uint32_t *p2 = p1 + N;
    uint32_t *hist = p2 + N;
    uint64_t *eqbits = (uint64_t *)(void *)(hist + (size_t)BW_RADIX_PASSES * BW_RADIX_SIZE);

    /* Sort the kept rows by value: first by the top bits of the value's
     * float32 key (sign, exponent, 13 bits of mantissa; one packed word
     * per row: key32 << 32 | compact index << 1 | class; two radix passes),
     * then each run of equal keys by the exact double. Such runs are short
     * except for exact ties in the input, which only the 1e-10 noise
     * separates. */
    const double *xs = pv; /* value of each compact row (pv is written later) */
    /* 22-bit keys, two 2048-bucket passes (16-bit keys with 256-bucket
     * passes measured slower: more runs to fix), their digits counted while
     * the words are made. Small columns: the passes' fixed cost would
     * dominate; one insertion sort of the keys instead. Digit 1 (sign,
     * exponent) takes few values: consecutive words would update the same
     * counter, a chain through memory, so its counts are split over two
     * tables (odd and even words) and added up afterwards (four tables
     * measured slower: clearing and reading them costs more cache). */
    int radix = N > BW_SMALL_SORT;
    int all = plan->keep[0] && plan->keep[1];
    uint32_t *h0 = hist, *h1 = hist + BW_TOP_SIZE;
#if defined(__AVX2__)
    if (radix && all && stride == 1) {
        /* every row kept, contiguous: four words at a time, the values
         * read in place */
        memset(hist, 0, 3 * BW_TOP_SIZE * sizeof *hist);
        xs = x;
        const __m128i sign = _mm_set1_epi32((int)0x80000000U);
        const __m128i low11 = _mm_set1_epi32(BW_TOP_SIZE - 1);
        const __m128i step = _mm_set1_epi32(8);
        __m128i pay = _mm_setr_epi32(0, 2, 4, 6); /* index << 1 */
        uint32_t dg[8];
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            __m128i u = _mm_castps_si128(_mm256_cvtpd_ps(_mm256_loadu_pd(x + j)));
            __m128i key = _mm_xor_si128(u, _mm_or_si128(_mm_srai_epi32(u, 31), sign));
            uint32_t y4;
            memcpy(&y4, y + j, sizeof y4);
            __m128i p = _mm_or_si128(pay, _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)y4)));
            pay = _mm_add_epi32(pay, step);
            _mm_storeu_si128((__m128i *)(void *)(k1 + j), _mm_unpacklo_epi32(p, key));
            _mm_storeu_si128((__m128i *)(void *)(k1 + j + 2), _mm_unpackhi_epi32(p, key));
            _mm_storeu_si128((__m128i *)(void *)dg,
                             _mm_and_si128(_mm_srli_epi32(key, 32 - BW_TOP_BITS - BW_TOP_BITS), low11));
            _mm_storeu_si128((__m128i *)(void *)(dg + 4), _mm_srli_epi32(key, 32 - BW_TOP_BITS));
            h0[dg[0]]++;
            h0[dg[1]]++;
            h0[dg[2]]++;
            h0[dg[3]]++;
            h1[dg[4]]++;
            h1[BW_TOP_SIZE + dg[5]]++;
            h1[dg[6]]++;
            h1[BW_TOP_SIZE + dg[7]]++;
        }
        for (; j < n; j++) {
            uint64_t w = (uint64_t)bw_key32_of((float)x[j]) << 32 | (uint64_t)(j << 1) | y[j];
            k1[j] = w;
            h0[BW_TOP_DIGIT0(w)]++;
            h1[(j & 1) * BW_TOP_SIZE + BW_TOP_DIGIT1(w)]++;
        }
    } else
#endif
    {
        double *xw = pv;
        xs = xw;
        if (radix) memset(hist, 0, 3 * BW_TOP_SIZE * sizeof *hist);
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (!all && !plan->keep[y[i]]) continue;
            double val = x[i * stride];
            xw[j] = val;
            uint64_t w = (uint64_t)bw_key32_of((float)val) << 32 | (uint64_t)(j << 1) | y[i];
            k1[j] = w;
            if (radix) {
                h0[BW_TOP_DIGIT0(w)]++;
                h1[(j & 1) * BW_TOP_SIZE + BW_TOP_DIGIT1(w)]++;
            }
            j++;
        }
    }
    if (radix) bw_add_counts(h1, h1 + BW_TOP_SIZE, BW_TOP_SIZE);
    uint32_t *ps = p1;
    int key_shift = BW_TOP_KEY_SHIFT;
    uint64_t *ks = radix ? bw_radix_sort_top(k1, k2, N, hist) : k1;
    if (!radix) {
        for (size_t i = 1; i < N; i++) {
            uint64_t key = k1[i];
            size_t q = i;
            while (q > 0 && (k1[q - 1] >> key_shift) > (key >> key_shift)) {
                k1[q] = k1[q - 1];
                q--;
            }
            k1[q] = key;
        }
    }
    /* Three passes in key order. (1) Each value and payload to its sorted
     * slot, noting which neighbouring slots have equal keys. (2) Each run of
     * equal keys put in exact order: by insertion (short runs, from the
     * 22-bit keys' collisions), or by a radix sort of the doubles (runs
     * over 32: exact ties in the input, which only the noise separates).
     * (3) Each point appended to its class, branch-free (the class is
     * random): its value to w0/w1 and its slot to s0/s1 at its class
     * index (also the index of its radius). */
    bw_place(ks, N, key_shift, xs, v, ps, eqbits);
    size_t nw = (N + 63) / 64;
    for (size_t a = bw_next_bit(eqbits, nw, 0); a + 1 < N; ) {
        size_t e = a + 1;
        while (e < N && (eqbits[(e - 1) >> 6] >> ((e - 1) & 63) & 1)) e++;
        size_t len = e - a;
        if (len > 32) {
            /* Buffers: the one of k1/k2 that ks is not, p2 and the start of
             * pv (payloads): free here. The key buffer needs 2*len words:
             * ks's own run slots are read only through v/ps from now on. */
            uint64_t *ra = ks == k1 ? k2 : k1;
            uint64_t *rb = ks + a;
            uint32_t *qa = p2, *qb = (uint32_t *)pv;
            for (size_t i = 0; i < len; i++) {
                ra[i] = bw_key_of(v[a + i]);
                qa[i] = ps[a + i];
            }
            int sw = bw_radix_sort(ra, qa, rb, qb, len, hist);
            const uint64_t *rk = sw ? rb : ra;
            const uint32_t *rq = sw ? qb : qa;
            for (size_t i = 0; i < len; i++) {
                v[a + i] = bw_value_of(rk[i]);
                ps[a + i] = rq[i];
            }
        } else {
            bw_insertion_sort(v, ps, a, e);
        }
        a = bw_next_bit(eqbits, nw, e);
    }
    size_t n1 = plan->kept[1], n0 = plan->kept[0];
    double *w0 = wbase + BW_PAD;
    double *w1 = w0 + n0 + 2 * BW_PAD;
    uint32_t *s0 = p2, *s1 = (uint32_t *)(void *)(ks == k1 ? k2 : k1);
    {
        /* both classes' slots are written every time; the one not advanced
         * is overwritten by the next member or lands in the padding */
        size_t c0 = 0, c1 = 0;
        for (size_t i = 0; i < N; i++) {
            size_t c = ps[i] & 1;
            double val = v[i];
            w0[c0] = val;
            w1[c1] = val;
            s0[c0] = (uint32_t)i;
            s1[c1] = (uint32_t)i;
            c0 += 1 - c;
            c1 += c;
        }
    }
    for (int t = 1; t <= BW_PAD; t++) {
        v[-t] = -INFINITY;
        v[N - 1 + (size_t)t] = INFINITY;
        w0[-t] = -INFINITY;
        w0[n0 - 1 + (size_t)t] = INFINITY;
        w1[-t] = -INFINITY;
        w1[n1 - 1 + (size_t)t] = INFINITY;
    }

    /* radii by class position (k1 is free now): a sequential pass over each
     * class's sorted values; then the counts */
    double *rad = (double *)(void *)ks; /* ks is free now; s1 is in the other buffer */
    bw_class_radii(w0, n0, plan->k[0], rad);
    bw_class_radii(w1, n1, plan->k[1], rad + n0);
    /* the counts, class by class: the window tested for every point is
     * wider for the class whose points have more neighbours in their radius
     * (the smaller one), so that the searches are rarely needed */
    for (int c = 0; c < 2; c++) {
        size_t C = c ? n1 : n0, off = c ? n0 : 0;
        const uint32_t *s_of = c ? s1 : s0;
        if (C == 0) continue;
        /* mean neighbours per side within the radius ≈ k·N / (2C) */
        if (plan->k[c] * N > 6 * C)
            bw_count_class16(v, N, s_of, rad + off, C, ps, plan->psi, pv);
        else
            bw_count_class8(v, N, s_of, rad + off, C, ps, plan->psi, pv);
    }
    double mean_m = BW_KNN_PSUM(pv, N) / (double)N;
    double mi = plan->base - mean_m;
    return mi > 0.0 ? mi : 0.0;
}

/* ---- the preprocessing of a block of columns ------------------------------- */

/* scikit-learn's preprocessing of nb <= BW_KNN_BLOCK columns held row-major
 * in tile[i * nb + t]: scale(with_mean=False) (population std; a std below
 * 10 eps counts as 1), in place, and the noise factor
 * c[t] = 1e-10 * max(1, mean|x|) of each column. The column sums run row by
 * row, numpy's order for an axis-0 reduction of a C-order n×d array with
 * d > 1 (sums: those sums already taken, or NULL); nb is a compile-time
 * constant at the main call site so that the loops over t vectorise. */
static inline void bw_scale_block(double *tile, size_t n, size_t nb, const double *sums,
                                  double *c)
{
    double sum[BW_KNN_BLOCK], sq[BW_KNN_BLOCK], am[BW_KNN_BLOCK], mean[BW_KNN_BLOCK],
        sd[BW_KNN_BLOCK];
    for (size_t t = 0; t < nb; t++) sum[t] = sq[t] = am[t] = 0.0;
    if (sums)
        for (size_t t = 0; t < nb; t++) sum[t] = sums[t];
    else
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < nb; t++) sum[t] += tile[i * nb + t];
    for (size_t t = 0; t < nb; t++) mean[t] = sum[t] / (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < nb; t++) {
            double e = tile[i * nb + t] - mean[t];
            sq[t] += e * e;
        }
    for (size_t t = 0; t < nb; t++) {
        sd[t] = sqrt(sq[t] / (double)n);
        if (sd[t] < 10 * DBL_EPSILON) sd[t] = 1.0;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < nb; t++) {
            double x = tile[i * nb + t] / sd[t];
            tile[i * nb + t] = x;
            am[t] += fabs(x);
        }
    for (size_t t = 0; t < nb; t++) {
        double m = am[t] / (double)n;
        c[t] = 1e-10 * (m > 1.0 ? m : 1.0);
    }
}

/* cm[t * n + i] = tile[i * nb + t] + c[t] * g[t * grows + i]: the noise
 * added while transposing, column by column, so that the noise (read from
 * memory) streams sequentially while the tile (in cache) is read with a
 * stride. */
static inline void bw_noise_transpose(const double *tile, size_t n, size_t nb, const double *c,
                                      const double *g0, size_t grows, double *cm)
{
    for (size_t t = 0; t < nb; t++) {
        const double *g = g0 + t * grows;
        double *dst = cm + t * n;
        double ct = c[t];
        for (size_t i = 0; i < n; i++) dst[i] = tile[i * nb + t] + ct * g[i];
    }
}

#if defined(__AVX2__)
/* The same two steps for a full block of BW_KNN_BLOCK (32) columns, the
 * block's 32 running sums in eight registers; the transposition four rows
 * by four columns at a time. Same operations, same order per column. */
enum { BW_Q = BW_KNN_BLOCK / 4 };
/* the eight running sums stay in registers only when the loop over them is
 * unrolled */
#if defined(__GNUC__) && !defined(__clang__)
#define BW_UNROLL8 _Pragma("GCC unroll 8")
#else
#define BW_UNROLL8
#endif
_Static_assert(BW_KNN_BLOCK % 4 == 0 && BW_Q == 8, "eight registers of four columns");

static void bw_prepare32_avx2(double *tile, size_t n, const double *sums, const double *g0,
                              size_t grows, double *cm)
{
    const size_t nb = BW_KNN_BLOCK;
    __m256d acc[BW_Q], mean[BW_Q], sd[BW_Q], c[BW_Q];
    const __m256d dn = _mm256_set1_pd((double)n);
    if (sums) {
        for (int q = 0; q < BW_Q; q++) acc[q] = _mm256_loadu_pd(sums + 4 * q);
    } else {
        for (int q = 0; q < BW_Q; q++) acc[q] = _mm256_setzero_pd();
        for (size_t i = 0; i < n; i++)
            BW_UNROLL8 for (int q = 0; q < BW_Q; q++)
                acc[q] = _mm256_add_pd(acc[q], _mm256_loadu_pd(tile + i * nb + 4 * q));
    }
    for (int q = 0; q < BW_Q; q++) {
        mean[q] = _mm256_div_pd(acc[q], dn);
        acc[q] = _mm256_setzero_pd();
    }
    for (size_t i = 0; i < n; i++)
        BW_UNROLL8 for (int q = 0; q < BW_Q; q++) {
            __m256d e = _mm256_sub_pd(_mm256_loadu_pd(tile + i * nb + 4 * q), mean[q]);
            acc[q] = _mm256_add_pd(acc[q], _mm256_mul_pd(e, e));
        }
    const __m256d tiny = _mm256_set1_pd(10 * DBL_EPSILON), one = _mm256_set1_pd(1.0);
    for (int q = 0; q < BW_Q; q++) {
        __m256d s = _mm256_sqrt_pd(_mm256_div_pd(acc[q], dn));
        sd[q] = _mm256_blendv_pd(s, one, _mm256_cmp_pd(s, tiny, _CMP_LT_OQ));
        acc[q] = _mm256_setzero_pd();
    }
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    for (size_t i = 0; i < n; i++)
        BW_UNROLL8 for (int q = 0; q < BW_Q; q++) {
            __m256d x = _mm256_div_pd(_mm256_loadu_pd(tile + i * nb + 4 * q), sd[q]);
            _mm256_storeu_pd(tile + i * nb + 4 * q, x);
            acc[q] = _mm256_add_pd(acc[q], _mm256_and_pd(x, absmask));
        }
    const __m256d eps10 = _mm256_set1_pd(1e-10);
    for (int q = 0; q < BW_Q; q++) {
        /* max(m, 1): m is never NaN, and max_pd returns 1.0 when m <= 1 */
        c[q] = _mm256_mul_pd(eps10, _mm256_max_pd(_mm256_div_pd(acc[q], dn), one));
    }
    for (int q = 0; q < BW_Q; q++) {
        double ct[4];
        _mm256_storeu_pd(ct, c[q]);
        const double *g = g0 + (size_t)(4 * q) * grows;
        double *dst = cm + (size_t)(4 * q) * n;
        __m256d c0 = _mm256_set1_pd(ct[0]), c1 = _mm256_set1_pd(ct[1]);
        __m256d c2 = _mm256_set1_pd(ct[2]), c3 = _mm256_set1_pd(ct[3]);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            /* rows i..i+3 of columns 4q..4q+3, transposed */
            __m256d r0 = _mm256_loadu_pd(tile + (i + 0) * nb + 4 * q);
            __m256d r1 = _mm256_loadu_pd(tile + (i + 1) * nb + 4 * q);
            __m256d r2 = _mm256_loadu_pd(tile + (i + 2) * nb + 4 * q);
            __m256d r3 = _mm256_loadu_pd(tile + (i + 3) * nb + 4 * q);
            __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
            __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
            __m256d col0 = _mm256_permute2f128_pd(t0, t2, 0x20);
            __m256d col1 = _mm256_permute2f128_pd(t1, t3, 0x20);
            __m256d col2 = _mm256_permute2f128_pd(t0, t2, 0x31);
            __m256d col3 = _mm256_permute2f128_pd(t1, t3, 0x31);
            _mm256_storeu_pd(dst + i, _mm256_add_pd(col0, _mm256_mul_pd(c0, _mm256_loadu_pd(g + i))));
            _mm256_storeu_pd(dst + n + i,
                             _mm256_add_pd(col1, _mm256_mul_pd(c1, _mm256_loadu_pd(g + grows + i))));
            _mm256_storeu_pd(dst + 2 * n + i,
                             _mm256_add_pd(col2, _mm256_mul_pd(c2, _mm256_loadu_pd(g + 2 * grows + i))));
            _mm256_storeu_pd(dst + 3 * n + i,
                             _mm256_add_pd(col3, _mm256_mul_pd(c3, _mm256_loadu_pd(g + 3 * grows + i))));
        }
        for (; i < n; i++)
            for (int u = 0; u < 4; u++)
                dst[(size_t)u * n + i] = tile[i * nb + 4 * q + (size_t)u] + ct[u] * g[(size_t)u * grows + i];
    }
}
#endif

void BW_KNN_PREP(double *tile, size_t n, size_t nb, const double *sums, const double *g0,
                 size_t grows, double *cm)
{
#if defined(__AVX2__)
    if (nb == BW_KNN_BLOCK) {
        bw_prepare32_avx2(tile, n, sums, g0, grows, cm);
        return;
    }
#endif
    double c[BW_KNN_BLOCK];
    if (nb == BW_KNN_BLOCK) bw_scale_block(tile, n, BW_KNN_BLOCK, sums, c);
    else bw_scale_block(tile, n, nb, sums, c);
    bw_noise_transpose(tile, n, nb, c, g0, grows, cm);
}

int BW_KNN_GATHER(const float *X, size_t stride, const size_t *rows, size_t n, size_t j0,
                  size_t nb, double *tile, double *sums)
{
    /* Rows are prefetched a few iterations ahead (they are a stride apart,
     * which hardware prefetchers do not follow). A float is not finite when
     * (bits & 0x7fffffff) + 0x00800000 carries into bit 31. */
    enum { AHEAD = 8 };
    int ok = 1;
    size_t i = 0;
#if defined(__AVX2__)
    if (nb == BW_KNN_BLOCK) {
        __m256d acc[BW_Q];
        for (int q = 0; q < BW_Q; q++) acc[q] = _mm256_setzero_pd();
        const __m256i mag = _mm256_set1_epi32(0x7fffffff), one_exp = _mm256_set1_epi32(0x00800000);
        __m256i chk = _mm256_setzero_si256();
        for (; i < n; i++) {
            if (i + AHEAD < n) {
                const char *pa = (const char *)(X + (rows ? rows[i + AHEAD] : i + AHEAD) * stride + j0);
                _mm_prefetch(pa, _MM_HINT_T0);
                _mm_prefetch(pa + 64, _MM_HINT_T0);
            }
            const float *src = X + (rows ? rows[i] : i) * stride + j0;
            double *dst = tile + i * BW_KNN_BLOCK;
            for (int h = 0; h < 4; h++) {
                __m256 f = _mm256_loadu_ps(src + 8 * h);
                __m256i u = _mm256_castps_si256(f);
                chk = _mm256_or_si256(chk, _mm256_add_epi32(_mm256_and_si256(u, mag), one_exp));
                __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(f));
                __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));
                _mm256_storeu_pd(dst + 8 * h, lo);
                _mm256_storeu_pd(dst + 8 * h + 4, hi);
                acc[2 * h] = _mm256_add_pd(acc[2 * h], lo);
                acc[2 * h + 1] = _mm256_add_pd(acc[2 * h + 1], hi);
            }
        }
        for (int q = 0; q < BW_Q; q++) _mm256_storeu_pd(sums + 4 * q, acc[q]);
        return !_mm256_movemask_ps(_mm256_castsi256_ps(chk));
    }
#endif
    for (size_t t = 0; t < nb; t++) sums[t] = 0.0;
    for (; i < n; i++) {
#if defined(__GNUC__)
        if (i + AHEAD < n) {
            const char *pa = (const char *)(X + (rows ? rows[i + AHEAD] : i + AHEAD) * stride + j0);
            for (size_t off = 0; off < nb * sizeof(float); off += 64) __builtin_prefetch(pa + off);
        }
#endif
        const float *src = X + (rows ? rows[i] : i) * stride + j0;
        double *dst = tile + i * nb;
        for (size_t t = 0; t < nb; t++) {
            dst[t] = (double)src[t];
            sums[t] += dst[t];
        }
        ok &= bw_f32_all_finite(src, nb);
    }
    return ok;
}
