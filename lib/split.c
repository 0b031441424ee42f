/* The single-feature best-threshold search shared by the failure tree and
 * the selector's split-gain estimator (see split.h for the contract). */
#include <math.h>
#include <string.h>

#include "split.h"

/* scikit-learn computes log2 as ln(x) / ln(2); so do we. */
static const double bw_ln2 = 0.693147180559945309417232121458176568;

static inline double log2_sk(double x) { return log(x) / bw_ln2; }

/* Impurity of a node holding a0 correct and a1 failure samples, with the
 * weighted totals l0 = a0*w0, l1 = a1*w1, W = l0 + l1. t0/t1 give log2(l0),
 * log2(l1) when not NULL (tables indexed by count). */
static inline double impurity_counts(size_t a0, size_t a1, double l0, double l1, double W,
                                     bw_criterion crit, const double *t0, const double *t1)
{
    if (!(W > 0.0)) return 0.0;
    if (crit == BW_CRITERION_GINI) {
        double sq = l0 * l0 + l1 * l1;
        return 1.0 - sq / (W * W);
    }
    if (a0 == 0 || a1 == 0) return 0.0;
    double lw = log2_sk(W);
    double g0 = t0 ? t0[a0] : log2_sk(l0);
    double g1 = t1 ? t1[a1] : log2_sk(l1);
    return -(l0 / W) * (g0 - lw) - (l1 / W) * (g1 - lw);
}

double bw_impurity(double w0, double w1, bw_criterion crit)
{
    /* counts only matter for being zero */
    return impurity_counts(w0 > 0.0, w1 > 0.0, w0, w1, w0 + w1, crit, NULL, NULL);
}

void bw_split_log_table(double *table, size_t count, double w)
{
    table[0] = 0.0;
    for (size_t a = 1; a <= count; a++) table[a] = log2_sk((double)a * w);
}

typedef struct scan_ctx {
    size_t n0, n1;
    double w0, w1;
    bw_criterion crit;
    const double *t0, *t1;
} scan_ctx;

/* Proxy of a position with a0/a1 samples of each class on the left. */
static inline double proxy_at(const scan_ctx *c, size_t a0, size_t a1)
{
    size_t b0 = c->n0 - a0, b1 = c->n1 - a1;
    double l0 = (double)a0 * c->w0, l1 = (double)a1 * c->w1;
    double r0 = (double)b0 * c->w0, r1 = (double)b1 * c->w1;
    double wl = l0 + l1, wr = r0 + r1;
    double il = impurity_counts(a0, a1, l0, l1, wl, c->crit, c->t0, c->t1);
    double ir = impurity_counts(b0, b1, r0, r1, wr, c->crit, c->t0, c->t1);
    return -wr * ir - wl * il;
}

static int weights_ok(double w_correct, double w_failure)
{
    return isfinite(w_correct) && isfinite(w_failure) && w_correct >= 0.0 && w_failure >= 0.0;
}

/* Block kinds for the boundary-point pruning. */
enum { KIND_0 = 0, KIND_1 = 1, KIND_MIXED = 2 };

/* The scan over sorted samples, given either (xs, ys) or (items, fail). */
static inline float val_at(const float *xs, const uint64_t *items, size_t i)
{
    return items ? bw_item_value(items[i]) : xs[i];
}
static inline size_t lab_at(const uint8_t *ys, const uint64_t *items, const uint8_t *fail,
                            size_t i)
{
    return items ? (fail[bw_item_row(items[i])] != 0) : (ys[i] != 0);
}

static void scan(const scan_ctx *c, const float *xs, const uint8_t *ys, const uint64_t *items,
                 const uint8_t *fail, size_t n, size_t msl, bw_split_result *out)
{
    /* Walk the blocks of values that sklearn never separates (neighbours
     * within FEATURE_THRESHOLD, added in float32). A candidate position is
     * the start of a block. Along a run of candidates where only samples of
     * one class move from right to left, the weighted impurity sum is
     * concave, so its best value is at one of the run's ends (and a tie
     * inside implies a tie at the run's start, which comes first). So a
     * candidate whose blocks on both sides hold one and the same class is
     * skipped, unless it is the first or last valid position
     * (min_samples_leaf bounds the range). */
    size_t lo = msl, hi = n - msl; /* valid positions p: lo <= p <= hi */
    int have_best = 0;
    double best_proxy = -INFINITY;
    size_t best_pos = 0, best_a0 = 0, best_a1 = 0;

    int pending = 0, pending_first = 0, pend_kind = KIND_MIXED;
    size_t pend_pos = 0, pend_a0 = 0, pend_a1 = 0;
    size_t a0 = 0, a1 = 0; /* counts of [0, p) */
    size_t p = 0;
    int seen_valid = 0;
    float cur = val_at(xs, items, 0);
    while (p < n) {
        size_t s = p;
        size_t c1 = lab_at(ys, items, fail, p);
        while (p + 1 < n) {
            float nx = val_at(xs, items, p + 1);
            if (!(nx <= (float)(cur + BW_FEATURE_THRESHOLD_F))) {
                cur = nx;
                break;
            }
            cur = nx;
            p++;
            c1 += lab_at(ys, items, fail, p);
        }
        p++;
        size_t e = p, len = e - s;
        int kind = c1 == 0 ? KIND_0 : (c1 == len ? KIND_1 : KIND_MIXED);
        if (pending) {
            int is_last = e >= n || e > hi;
            int interior = pend_kind != KIND_MIXED && pend_kind == kind;
            if (!interior || pending_first || is_last) {
                double pr = proxy_at(c, pend_a0, pend_a1);
                if (!have_best || pr > best_proxy) {
                    best_proxy = pr;
                    best_pos = pend_pos;
                    best_a0 = pend_a0;
                    best_a1 = pend_a1;
                    have_best = 1;
                }
            }
            pending = 0;
        }
        a1 += c1;
        a0 += len - c1;
        if (e < n && e >= lo && e <= hi) {
            pending = 1;
            pending_first = !seen_valid;
            seen_valid = 1;
            pend_pos = e;
            pend_a0 = a0;
            pend_a1 = a1;
            pend_kind = kind;
        }
    }
    if (!have_best) return;

    size_t b0 = c->n0 - best_a0, b1 = c->n1 - best_a1;
    double l0 = (double)best_a0 * c->w0, l1 = (double)best_a1 * c->w1;
    double r0 = (double)b0 * c->w0, r1 = (double)b1 * c->w1;
    double wl = l0 + l1, wr = r0 + r1;
    double t0 = (double)c->n0 * c->w0, t1 = (double)c->n1 * c->w1, wt = t0 + t1;
    if (!(wt > 0.0)) return;
    double a = val_at(xs, items, best_pos - 1), b = val_at(xs, items, best_pos);
    double thr = a / 2.0 + b / 2.0;
    if (thr == b || isinf(thr)) thr = a;

    out->found = 1;
    out->threshold = thr;
    out->n_left = best_pos;
    out->n_right = n - best_pos;
    out->w_left = wl;
    out->w_right = wr;
    out->impurity = impurity_counts(c->n0, c->n1, t0, t1, wt, c->crit, NULL, NULL);
    out->impurity_left = impurity_counts(best_a0, best_a1, l0, l1, wl, c->crit, c->t0, c->t1);
    out->impurity_right = impurity_counts(b0, b1, r0, r1, wr, c->crit, c->t0, c->t1);
    out->proxy = best_proxy;
    out->gain = out->impurity - wr / wt * out->impurity_right - wl / wt * out->impurity_left;
}

int bw_split_best_sorted(const float *xs, const uint8_t *ys, size_t n, double w_correct,
                         double w_failure, bw_criterion crit, size_t min_samples_leaf,
                         bw_split_result *out)
{
    if (!out) return -1;
    memset(out, 0, sizeof *out);
    if (n > 0 && (!xs || !ys)) return -1;
    if (!weights_ok(w_correct, w_failure)) return -1;
    size_t msl = min_samples_leaf ? min_samples_leaf : 1;
    if (n < 2 || n < 2 * msl) return 0;
    size_t n1 = 0;
    for (size_t i = 0; i < n; i++) n1 += ys[i] != 0;
    scan_ctx c = {n - n1, n1, w_correct, w_failure, crit, NULL, NULL};
    scan(&c, xs, ys, NULL, NULL, n, msl, out);
    return 0;
}

int bw_split_best_items(const uint64_t *items, const uint8_t *fail, size_t n, size_t n0,
                        size_t n1, double w_correct, double w_failure, bw_criterion crit,
                        size_t min_samples_leaf, const double *log0, const double *log1,
                        bw_split_result *out)
{
    if (!out) return -1;
    memset(out, 0, sizeof *out);
    if (n > 0 && (!items || !fail)) return -1;
    if (!weights_ok(w_correct, w_failure) || n0 + n1 != n) return -1;
    size_t msl = min_samples_leaf ? min_samples_leaf : 1;
    if (n < 2 || n < 2 * msl) return 0;
    scan_ctx c = {n0, n1, w_correct, w_failure, crit, log0, log1};
    scan(&c, NULL, NULL, items, fail, n, msl, out);
    return 0;
}

/* ---- radix sorts ------------------------------------------------------------ */

/* LSD radix sort of n items; the result is in items or tmp (returned). */
static uint64_t *radix_core(uint64_t *items, size_t n, uint64_t *tmp)
{
    if (n <= 48) { /* insertion sort (stable) for tiny inputs */
        for (size_t i = 1; i < n; i++) {
            uint64_t v = items[i];
            size_t j = i;
            while (j > 0 && items[j - 1] > v) {
                items[j] = items[j - 1];
                j--;
            }
            items[j] = v;
        }
        return items;
    }
    uint32_t hist[4][256];
    memset(hist, 0, sizeof hist);
    for (size_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)(items[i] >> 32);
        hist[0][k & 0xff]++;
        hist[1][(k >> 8) & 0xff]++;
        hist[2][(k >> 16) & 0xff]++;
        hist[3][k >> 24]++;
    }
    uint64_t *src = items, *dst = tmp;
    for (int pass = 0; pass < 4; pass++) {
        uint32_t *h = hist[pass];
        unsigned shift = 32u + (unsigned)pass * 8u;
        /* skip a pass where every key has the same digit */
        if (h[(src[0] >> shift) & 0xff] == n) continue;
        uint32_t sum = 0;
        for (int b = 0; b < 256; b++) {
            uint32_t cnt = h[b];
            h[b] = sum;
            sum += cnt;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t v = src[i];
            dst[h[(v >> shift) & 0xff]++] = v;
        }
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    return src;
}

/* The key of +0.0: features after a ReLU hold many exact zeros, which need
 * no sorting (they are already in row order). */
#define BW_KEY_ZERO 0x80000000u

void bw_sort_items(uint64_t *items, size_t n, uint64_t *tmp)
{
    if (n < 2) return;
    size_t z = 0;
    for (size_t i = 0; i < n; i++) z += (uint32_t)(items[i] >> 32) == BW_KEY_ZERO;
    if (z < n / 8 || z == n) {
        uint64_t *res = radix_core(items, n, tmp);
        if (res != items) memcpy(items, res, n * sizeof *items);
        return;
    }
    /* zeros (in row order) to items[0, z), the others to tmp[0, m) */
    size_t m = 0, zc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = items[i];
        if ((uint32_t)(v >> 32) == BW_KEY_ZERO) items[zc++] = v;
        else tmp[m++] = v;
    }
    uint64_t *sorted = radix_core(tmp, m, items + z);
    size_t q = 0; /* values below zero come first */
    while (q < m && (uint32_t)(sorted[q] >> 32) < BW_KEY_ZERO) q++;
    if (sorted == tmp) {
        memmove(items + q, items, z * sizeof *items);
        memcpy(items, tmp, q * sizeof *items);
        memcpy(items + q + z, tmp + q, (m - q) * sizeof *items);
    } else { /* sorted == items + z */
        if (q) {
            memcpy(tmp, items, z * sizeof *items);
            memmove(items, items + z, q * sizeof *items);
            memcpy(items + q, tmp, z * sizeof *items);
        }
    }
}

size_t bw_sort_scratch_size(size_t n) { return 2 * n * sizeof(uint64_t) + 16; }

void bw_sort_f32_u32(float *keys, uint32_t *payload, size_t n, void *scratch)
{
    if (n < 2) return;
    uint64_t *items = scratch, *tmp = items + n;
    /* pack (key, original position) so that the sort is stable */
    for (size_t i = 0; i < n; i++) items[i] = bw_item_pack(keys[i], (uint32_t)i);
    bw_sort_items(items, n, tmp);
    /* permute the payload through tmp (reused as uint32 storage) */
    uint32_t *pl = (uint32_t *)(void *)tmp;
    for (size_t i = 0; i < n; i++) pl[i] = payload[bw_item_row(items[i])];
    for (size_t i = 0; i < n; i++) {
        keys[i] = bw_item_value(items[i]);
        payload[i] = pl[i];
    }
}

/* ---- unsorted input ------------------------------------------------------ */

size_t bw_split_scratch_size(size_t n)
{
    /* sorted values (float), payload (uint32), labels (uint8) + sort scratch */
    return n * sizeof(float) + n * sizeof(uint32_t) + n + 16 + bw_sort_scratch_size(n);
}

int bw_split_best(const float *x, const uint8_t *y, size_t n, double w_correct,
                  double w_failure, bw_criterion crit, size_t min_samples_leaf,
                  void *scratch, bw_split_result *out)
{
    if (!out) return -1;
    if (n > 0 && (!x || !y || !scratch)) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    if (n < 2) return bw_split_best_sorted(x, y, n, w_correct, w_failure, crit,
                                           min_samples_leaf, out);
    unsigned char *base = scratch;
    void *sort_scratch = base;
    float *xs = (float *)(void *)(base + bw_sort_scratch_size(n));
    uint32_t *pl = (uint32_t *)(void *)((unsigned char *)xs + n * sizeof(float));
    uint8_t *ys = (uint8_t *)(pl + n);
    memcpy(xs, x, n * sizeof *xs);
    for (size_t i = 0; i < n; i++) pl[i] = y[i] != 0;
    bw_sort_f32_u32(xs, pl, n, sort_scratch);
    for (size_t i = 0; i < n; i++) ys[i] = (uint8_t)pl[i];
    return bw_split_best_sorted(xs, ys, n, w_correct, w_failure, crit, min_samples_leaf, out);
}
