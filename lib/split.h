/*
 * Internal: the single-feature best-threshold search of the failure tree
 * (lib/tree.c) with class weights and the entropy/gini criterion. This is the
 * ONE place where the tree's split criterion lives; the MI selector's
 * "split-gain" estimator calls bw_split_best() for its per-feature score.
 * Not installed, not part of the ABI (bw_* names are hidden).
 *
 * The search reproduces scikit-learn's BestSplitter + ClassificationCriterion
 * (sklearn 1.2, dense float32 input, two classes) for one feature:
 *
 *  - samples are sorted by value (stable: equal values keep row order);
 *  - candidate positions are between consecutive sorted values a < b with
 *    b > a + 1e-7 computed in float32 (FEATURE_THRESHOLD; closer values are
 *    treated as equal and never separated);
 *  - a position is valid when both sides hold >= min_samples_leaf samples;
 *  - candidates are compared by the impurity-improvement proxy
 *    -(w_left*imp_left + w_right*imp_right) with a strict `>`, so the first
 *    (lowest-threshold) best position wins;
 *  - the threshold is the midpoint a/2 + b/2 computed in double from the two
 *    float32 values; when that rounds to b (or to inf) it is a instead.
 *    A row goes left when (double)x <= threshold;
 *  - impurities use class weights w_correct (y = 0) and w_failure (y = 1)
 *    per sample, weighted class totals computed as count * weight; entropy
 *    in bits, -sum p_c (log2 w_c - log2 W) with log2 x = ln x / ln 2 (as
 *    scikit-learn); gini 1 - sum p_c^2. The impurity is a function of the
 *    two class counts only, so equal counts give bit-identical values
 *    (ties are exact; the first position, lowest feature wins).
 *
 * Class weights must be finite and >= 0 with a positive total node weight.
 *
 * Thread safety: the functions are reentrant (no globals); concurrent calls
 * need distinct scratch buffers.
 */
#ifndef BW_SPLIT_H
#define BW_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Same values as barlow_criterion in include/barlow/tree.h. */
typedef enum bw_criterion {
    BW_CRITERION_ENTROPY = 0, /* Shannon entropy in bits (sklearn "entropy") */
    BW_CRITERION_GINI = 1     /* Gini impurity (sklearn "gini") */
} bw_criterion;

/* sklearn's FEATURE_THRESHOLD, a float32 constant: sorted neighbours a <= b
 * with b <= (float)(a + 1e-7f), added in float32 arithmetic as scikit-learn
 * does, are never separated by a threshold. */
#define BW_FEATURE_THRESHOLD_F 1e-7f

typedef struct bw_split_result {
    int found;            /* 1 when a valid split exists (then the fields
                             below are set); 0: constant feature or no
                             position satisfies min_samples_leaf */
    double threshold;     /* rows with (double)x <= threshold go left */
    size_t n_left;        /* samples left / right of the threshold */
    size_t n_right;
    double w_left;        /* weighted sample counts (class weights applied) */
    double w_right;
    double impurity;      /* impurity of the whole node (weighted classes) */
    double impurity_left; /* impurity of the two children */
    double impurity_right;
    double proxy;         /* -(w_left*imp_left + w_right*imp_right): the
                             quantity maximised */
    double gain;          /* impurity - (w_left*imp_left + w_right*imp_right)
                             / (w_left + w_right): the weighted impurity
                             decrease of this node (for entropy: information
                             gain in bits, with class weights). >= 0 up to
                             rounding. */
} bw_split_result;

/* Impurity of a node with class weights w0 (correct) and w1 (failure)
 * summed over its samples. 0 for an empty or pure node. */
double bw_impurity(double w0, double w1, bw_criterion crit);

/* Bytes of scratch that bw_split_best needs for n samples. */
size_t bw_split_scratch_size(size_t n);

/* Best threshold of one feature: x[i] (finite float32, any order) with labels
 * y[i] in {0 = correct, 1 = failure}, i < n. `scratch` holds at least
 * bw_split_scratch_size(n) bytes, aligned for double (malloc'd memory is).
 * Writes *out always (out->found = 0 when nothing is valid; n < 2 or
 * n < 2*min_samples_leaf finds nothing). min_samples_leaf 0 acts as 1.
 * Returns 0; -1 only for invalid arguments (NULL pointers with n > 0,
 * negative or non-finite class weights). Never allocates. */
int bw_split_best(const float *x, const uint8_t *y, size_t n, double w_correct,
                  double w_failure, bw_criterion crit, size_t min_samples_leaf,
                  void *scratch, bw_split_result *out);

/* Same search over samples already sorted by value (ascending, equal values
 * in any order): xs[i] values, ys[i] labels. Used by the tree learner, which
 * keeps presorted columns. No scratch needed. Returns as bw_split_best. */
int bw_split_best_sorted(const float *xs, const uint8_t *ys, size_t n,
                         double w_correct, double w_failure, bw_criterion crit,
                         size_t min_samples_leaf, bw_split_result *out);

/* Sorts n float32 values ascending together with a uint32 payload (e.g. row
 * indices), stably (LSD radix sort on the IEEE bits; -0.0 sorts before +0.0,
 * which the tree treats as equal values). `scratch` holds at least
 * bw_sort_scratch_size(n) bytes. Values must not be NaN. */
size_t bw_sort_scratch_size(size_t n);
void bw_sort_f32_u32(float *keys, uint32_t *payload, size_t n, void *scratch);

/* ---- the tree's fast path: packed items -------------------------------- */

/* An item packs a float32 value's order-preserving key (high 32 bits) and a
 * row index (low 32 bits): sorting items as integers sorts by value, then
 * by row. */
static inline uint64_t bw_item_pack(float x, uint32_t row)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ((uint64_t)u << 32) | row;
}
static inline float bw_item_value(uint64_t item)
{
    uint32_t k = (uint32_t)(item >> 32);
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline uint32_t bw_item_row(uint64_t item) { return (uint32_t)item; }

/* Sorts n items ascending (LSD radix on the key, stable); tmp holds n items. */
void bw_sort_items(uint64_t *items, size_t n, uint64_t *tmp);

/* Fills table[a] = log2(a * w) for a = 1..count (table[0] = 0): the
 * per-node logarithm tables of bw_split_best_items (entropy only). */
void bw_split_log_table(double *table, size_t count, double w);

/* bw_split_best_sorted over sorted items whose labels are fail[row]; n0/n1
 * are the node's class counts, log0/log1 tables from bw_split_log_table
 * for (n0, w_correct) and (n1, w_failure) (NULL: computed on the fly; the
 * results are identical). */
int bw_split_best_items(const uint64_t *items, const uint8_t *fail, size_t n, size_t n0,
                        size_t n1, double w_correct, double w_failure, bw_criterion crit,
                        size_t min_samples_leaf, const double *log0, const double *log1,
                        bw_split_result *out);

#endif /* BW_SPLIT_H */
