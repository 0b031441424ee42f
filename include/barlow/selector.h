/*
 * barlow_selector — ranks the features of a group by how much they tell
 * about failure (mutual information between each feature and the failure
 * indicator), and picks the top k.
 *
 * Estimators (barlow_estimator):
 *
 *  - BARLOW_ESTIMATOR_KNN (default): the same quantity as scikit-learn's
 *    `mutual_info_classif(X, y, n_neighbors=3, random_state=seed)` for
 *    continuous X: each column is scaled to unit (population) variance, a
 *    tie-breaking noise 1e-10 * max(1, mean|x|) * N(0,1) drawn exactly as
 *    `numpy.random.RandomState(seed).standard_normal((n, d))` is added, and
 *    Ross's nearest-neighbour estimator is evaluated with exact 1-D
 *    distances, clamped at 0. Computed in double (float32 features are
 *    widened first). Values agree with scikit-learn's to 1e-6; one documented
 *    deviation: where a class of the failure label has 2..7 members,
 *    scikit-learn's brute-force distances (x² − 2xy + y²) are inexact and
 *    libbarlow keeps exact ones (docs/selector.md).
 *  - BARLOW_ESTIMATOR_SPLIT_GAIN: the largest class-weighted information gain
 *    (in bits) of a single threshold split of the feature, the failure
 *    tree's own criterion (class weights: correct 1, failure
 *    n_correct/n_failed). Features are used as float32, like the tree.
 *    0 when the group has no failures or no correct rows.
 *  - BARLOW_ESTIMATOR_MEAN: the mean activation of each feature over the
 *    rows given (what the reference's custom-data notebook ranks by); the
 *    failure flags are validated but not used.
 *
 * Higher scores are better. top-k orders by score, best first, ties broken
 * by the lower feature index. Scores never depend on the thread count.
 *
 * Degenerate groups have defined results (the knn estimator follows
 * scikit-learn): a class of the failure label with a single member is left
 * out of the estimate; when no class has two members, every score is 0.
 *
 * Memory: a selector keeps two caches between calls, freed with it: the
 * knn estimator's noise (about n*d doubles for the largest n scored; see
 * docs/selector.md) and the calls' working memory (about 560 bytes per row
 * and worker thread, at most 256 MiB kept), so that scoring many groups in
 * a row does not allocate afresh each time.
 *
 * Thread safety: a selector is immutable after creation except for those
 * caches, which a mutex guards, so every function taking a
 * `const barlow_selector *` may run concurrently on one selector (each call
 * runs on the selector's `threads`).
 */
#ifndef BARLOW_SELECTOR_H
#define BARLOW_SELECTOR_H

#include "common.h"
#include "matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_selector barlow_selector;

/* How a feature is scored against the failure indicator. */
typedef enum barlow_estimator {
    BARLOW_ESTIMATOR_KNN = 0,        /* kNN mutual information (sklearn) */
    BARLOW_ESTIMATOR_SPLIT_GAIN = 1, /* best single-split information gain */
    BARLOW_ESTIMATOR_MEAN = 2        /* mean activation over the rows */
} barlow_estimator;

enum { BARLOW_SELECTOR_OPTIONS_VERSION = 1 };

/* Options of barlow_selector_create(). */
typedef struct barlow_selector_options {
    uint32_t version;           /* BARLOW_SELECTOR_OPTIONS_VERSION */
    barlow_estimator estimator; /* default BARLOW_ESTIMATOR_KNN; KNN, SPLIT_GAIN
                                   or MEAN */
    size_t n_neighbors;         /* knn: neighbours k, default 3, 1..1000000 */
    uint32_t seed;              /* knn: noise seed (numpy RandomState), default 0 */
    size_t threads;             /* worker threads of each call (over blocks of
                                   32 columns), 0 (default) = all cores; any
                                   value */
} barlow_selector_options;

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_selector_options_init(barlow_selector_options *opts);

/* Creates a selector. opts: NULL for defaults (copied; not kept).
 * Errors: INVALID_ARG (NULL out, unknown options version, an estimator value
 * that is not a barlow_estimator, n_neighbors outside 1..1000000), NOMEM. */
BARLOW_API barlow_status barlow_selector_create(const barlow_selector_options *opts,
                                                barlow_selector **out);

/* Frees the selector and its cache. NULL is allowed. */
BARLOW_API void barlow_selector_free(barlow_selector *sel);

/* Scores every feature (column) of `features` (n rows × d columns) against
 * `failures` (n flags, 1 = the row is a failure, 0 = correct) and writes
 * d scores to `scores` (caller-allocated, d doubles).
 * Errors: INVALID_ARG (NULL selector/features/failures/scores; a
 * non-finite feature value, naming the first one's row and column (row-major
 * order) and value; a failure flag other than 0 or 1, naming its index and
 * value; more than 2^31-1 rows), NOMEM. `scores` is untouched on error.
 * The knn estimator keeps the noise it draws in the selector for later
 * calls (about n*d doubles; see docs/selector.md). */
BARLOW_API barlow_status barlow_selector_score(const barlow_selector *sel,
                                               const barlow_matrix *features,
                                               const uint8_t *failures, double *scores);

/* Scores the rows rows[0..n_rows) of `features` (indices of its rows, in
 * any order, repeats allowed) against failures[0..n_rows) (failures[i] is
 * the flag of row rows[i]) and writes d scores to `scores`: the same
 * scores, bit for bit, as barlow_selector_score on the n_rows × d matrix
 * made of those rows in that order, without making it — the rows are read
 * where they are (a memory-mapped matrix is paged in, never copied as a
 * whole). This is how the analysis scores each class's rows.
 * Errors: INVALID_ARG (NULL selector/features/rows/failures/scores;
 * n_rows = 0; a row index that is not a row of `features`, naming its
 * position and value; a non-finite value, naming its row of `features` and
 * its column; a failure flag other than 0 or 1, naming its index and value;
 * more than 2^31-1 rows), NOMEM. `scores` is untouched on error.
 * Thread safety: as barlow_selector_score (a const selector: concurrent
 * calls on one selector are fine). */
BARLOW_API barlow_status barlow_selector_score_rows(const barlow_selector *sel,
                                                    const barlow_matrix *features,
                                                    const size_t *rows, size_t n_rows,
                                                    const uint8_t *failures, double *scores);

/* As barlow_selector_score for float64 features given as a row-major n×d
 * array (no widening step; the split-gain estimator rounds them to float32
 * like the tree). Errors: as barlow_selector_score, and INVALID_ARG for
 * n = 0 or d = 0 or n*d overflowing. */
BARLOW_API barlow_status barlow_selector_score_f64(const barlow_selector *sel,
                                                   const double *features, size_t n,
                                                   size_t d, const uint8_t *failures,
                                                   double *scores);

/* Scores all features (as barlow_selector_score) and writes the indices of
 * the k best, best first (ties: lower index first), to `top` (k entries).
 * When `scores` is not NULL it receives all d scores.
 * Errors: as barlow_selector_score, and INVALID_ARG for NULL top, k = 0 or
 * k > d (naming both). Outputs are untouched on error. */
BARLOW_API barlow_status barlow_selector_top_k(const barlow_selector *sel,
                                               const barlow_matrix *features,
                                               const uint8_t *failures, size_t k,
                                               size_t *top, double *scores);

/* Orders d given scores: writes the indices of the k largest, best first
 * (ties: lower index first) to `top`. NaN scores rank last.
 * Errors: INVALID_ARG (NULL scores/top, d = 0, k = 0 or k > d), NOMEM. */
BARLOW_API barlow_status barlow_selector_rank(const double *scores, size_t d, size_t k,
                                              size_t *top);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_SELECTOR_H */
