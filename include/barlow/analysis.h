/*
 * barlow_analysis — the whole-dataset analysis: for every class and each
 * grouping (rows whose label is the class, rows whose prediction is the
 * class), pick the top-k features by mutual information with failure
 * (barlow_selector), fit a failure tree on those columns (barlow_tree, one
 * tree per requested depth), and keep the node statistics and rules; then
 * the paper's automatic evaluation (its Table 1): per grouping and depth,
 * the fraction of classes whose highest-IV leaf is *valid*:
 *     ER(best leaf) >= BER(group) + delta   and   EC(best leaf) >= gamma.
 *
 * Groups. There is one group per (grouping, class present), in this order:
 * the label grouping first (if requested), then the prediction grouping;
 * class ids ascending within each. The classes present are those that occur
 * as the label or the prediction of some row (a class id no row uses is not
 * listed, so time and memory follow the rows and the classes present, not
 * the largest id); both groupings list the same classes. A class with no
 * rows in one grouping (e.g. never predicted, or predicted but never a
 * label) is listed there with size 0, no selection and no tree, status
 * BARLOW_ANALYSIS_EMPTY, and is left out of the evaluation's denominators. A group with no failures, no correct rows,
 * or fewer than min_group_size rows gets no feature selection and a
 * one-leaf tree whose statistics are defined (EC = 0 without failures), and
 * is counted in the evaluation (its best leaf is never valid).
 *
 * Memory. The features are read in place (a read-only file mapping of a
 * large .npy is fine: see barlow_matrix_map_npy()); the matrix is never
 * copied as a whole. The selector scores each group's rows where they are
 * (barlow_selector_score_rows()); each worker thread then copies the
 * selected columns of one group's rows at a time into a scratch buffer of
 * (largest group size) × d floats (about 10 MB for an ImageNet class),
 * which the tree reads.
 *
 * Threads. With T threads (the `threads` option) and G groups to analyse,
 * min(T, G) groups are analysed at once, each by one worker, and each
 * group's feature scoring uses T / min(T, G) threads.
 *
 * Determinism: each group is computed by one thread from its own inputs,
 * so the results are bit-identical for every thread count.
 *
 * Distributed analysis. barlow_analysis_count_groups() gives the number of
 * groups of the plan; barlow_analysis_run_groups() computes a contiguous range
 * of them (on another process or machine: see barlow_analysis_serialize()
 * and barlow_analysis_deserialize() to ship the result), leaving the other
 * groups PENDING; barlow_analysis_merge() joins parts that together
 * analyse every group exactly once into the analysis barlow_analysis_run()
 * gives.
 *
 * Thread safety: an analysis is immutable after barlow_analysis_run() returns;
 * every function taking a `const barlow_analysis *` may run concurrently on
 * one analysis. barlow_analysis_run() only reads the features and the dataset.
 */
#ifndef BARLOW_ANALYSIS_H
#define BARLOW_ANALYSIS_H

#include "common.h"
#include "dataset.h"
#include "matrix.h"
#include "selector.h"
#include "tree.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_analysis barlow_analysis;

/* Which groupings to analyse (a bit set; BOTH = LABEL | PREDICTION). */
typedef enum barlow_analysis_groupings {
    BARLOW_ANALYSIS_BY_LABEL = 1,
    BARLOW_ANALYSIS_BY_PREDICTION = 2,
    BARLOW_ANALYSIS_BY_BOTH = 3
} barlow_analysis_groupings;

/* What was done with a group. */
typedef enum barlow_analysis_status {
    BARLOW_ANALYSIS_ANALYSED = 0,    /* top-k selection and tree(s) */
    BARLOW_ANALYSIS_EMPTY = 1,       /* no rows: no selection, no tree */
    BARLOW_ANALYSIS_NO_FAILURES = 2, /* every row correct: one-leaf tree */
    BARLOW_ANALYSIS_NO_CORRECT = 3,  /* every row a failure: one-leaf tree */
    BARLOW_ANALYSIS_TOO_SMALL = 4,   /* fewer than min_group_size rows: one-leaf tree */
    BARLOW_ANALYSIS_PENDING = 5      /* outside the groups a partial analysis
                                        (barlow_analysis_run_groups) computed: no
                                        selection, no tree, left out of the
                                        evaluation */
} barlow_analysis_status;

enum {
    BARLOW_ANALYSIS_OPTIONS_VERSION = 1,
    BARLOW_ANALYSIS_GROUP_VERSION = 1,
    BARLOW_ANALYSIS_RESULT_VERSION = 1,
    BARLOW_ANALYSIS_EVALUATION_VERSION = 1,
    BARLOW_ANALYSIS_MAX_DEPTHS = 16 /* most entries of the depths list */
};

/* Options of barlow_analysis_run(). The pointers are read during the call only. */
typedef struct barlow_analysis_options {
    uint32_t version;                /* BARLOW_ANALYSIS_OPTIONS_VERSION */
    uint32_t groupings;              /* barlow_analysis_groupings: 1 LABEL,
                                        2 PREDICTION or 3 BOTH (default) */
    size_t k;                        /* features selected per group; default 20,
                                        1..d */
    /* Tree options (max_depth, criterion, class weights, min_samples_*),
     * NULL (default) for barlow_tree_options_init()'s. */
    const barlow_tree_options *tree;
    /* Depths to fit, one tree per entry (1..16 each, at most
     * BARLOW_ANALYSIS_MAX_DEPTHS entries, no repeats), overriding
     * tree->max_depth; NULL with n_depths 0 (default) = the one depth
     * tree->max_depth (1 by default). */
    const int32_t *depths;
    size_t n_depths;
    barlow_estimator estimator;      /* selection score; default BARLOW_ESTIMATOR_KNN;
                                        a barlow_estimator (checked as
                                        barlow_selector_create checks it) */
    size_t n_neighbors;              /* knn neighbours; default 3, 1..1000000 */
    uint32_t seed;                   /* knn noise seed; default 0 */
    size_t threads;                  /* worker threads, 0 (default) = all cores;
                                        any value */
    /* Filter of the rules kept in the JSON and of the CSV's best rule; NULL
     * (default) keeps every leaf. */
    const barlow_rule_options *rules;
    double delta;                    /* validity: ER >= BER + delta; default 0.1,
                                        0..1 */
    double gamma;                    /* validity: EC >= gamma; default 0.2, 0..1 */
    size_t min_group_size;           /* smaller groups get a one-leaf tree without
                                        selection; default 2, >= 1 */
} barlow_analysis_options;

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_analysis_options_init(barlow_analysis_options *opts);

/* One group's identity and counts. The caller sets `version` to
 * BARLOW_ANALYSIS_GROUP_VERSION; the library fills the rest. */
typedef struct barlow_analysis_group {
    uint32_t version;               /* set by the caller */
    barlow_group_by grouping;       /* label or prediction */
    int32_t class_id;
    const char *class_name;         /* owned by the analysis */
    size_t size;                    /* rows in the group */
    size_t failures;                /* rows with prediction != label */
    double base_error_rate;         /* failures / size (0 for an empty group) */
    barlow_analysis_status status;
    size_t n_selected;              /* k for an analysed group, else 0 */
} barlow_analysis_group;

/* The outcome of one tree (group × depth). The caller sets `version` to
 * BARLOW_ANALYSIS_RESULT_VERSION. For an empty or pending group every number
 * is 0, best_leaf and best_rule are -1 and valid is 0. */
typedef struct barlow_analysis_result {
    uint32_t version;          /* set by the caller */
    int32_t depth;             /* the max_depth the tree was fitted with */
    double aler;               /* average leaf error rate */
    int32_t best_leaf;         /* node id of the highest-IV leaf (ties: lowest id) */
    double best_error_rate;    /* its ER, EC and IV */
    double best_error_coverage;
    double best_importance;
    int32_t valid;             /* 1 when ER >= BER + delta and EC >= gamma */
    int32_t best_rule;         /* node id of the best leaf passing the rule
                                  filter, -1 when none passes */
} barlow_analysis_result;

/* The automatic evaluation of one grouping at one depth. The caller sets
 * `version` to BARLOW_ANALYSIS_EVALUATION_VERSION. */
typedef struct barlow_analysis_evaluation {
    uint32_t version;           /* set by the caller */
    barlow_group_by grouping;
    int32_t depth;
    size_t groups;              /* non-empty groups of this grouping (of a
                                   partial analysis: those analysed) */
    size_t valid;               /* of them, groups whose best leaf is valid */
    double valid_fraction;      /* valid / groups (0 when groups = 0) */
} barlow_analysis_evaluation;

/* ---- running ---------------------------------------------------------------- */

/* Runs the whole-dataset analysis of `features` (one row per dataset row,
 * n × d float32, read in place) for `dataset` (labels, predictions, class
 * names), with `opts` (NULL for defaults). Groups run in parallel on
 * opts->threads workers. `progress` (may be NULL) is called on the calling
 * thread only, with done/total counted in groups; a non-zero return cancels.
 * On success *out receives a new analysis (free with barlow_analysis_free()).
 * Errors: INVALID_ARG (NULL features/dataset/out; features with rows !=
 * the dataset's size, naming both; unknown options version; groupings not
 * 1..3; k = 0 or k > d, naming both; a depth outside 1..16, repeated, or
 * more than 16 depths; n_depths > 0 with NULL depths; delta or gamma
 * outside 0..1; min_group_size 0; n_neighbors outside 1..1000000 or an
 * estimator outside barlow_estimator, with the selector's message; tree or
 * rule options the tree rejects, with the tree's message; a non-finite
 * feature value in a row of a non-empty group (every row of every group is
 * checked, all d columns), naming the group, the row and the column; the
 * first such group in group order is named), STATE (the dataset has no
 * predictions), CANCELLED (progress returned non-zero; nothing is
 * returned), NOMEM. *out is untouched on error. */
BARLOW_API barlow_status barlow_analysis_run(const barlow_matrix *features,
                                        const barlow_dataset *dataset,
                                        const barlow_analysis_options *opts,
                                        barlow_progress_fn progress, void *user_data,
                                        barlow_analysis **out);

/* ---- distributed analysis: parts of the plan ---------------------------------- */

/* The number of groups barlow_analysis_run() would make for `dataset` with `opts`
 * (NULL for defaults): classes present × groupings, computed from the
 * labels and predictions alone (no features; O(rows + largest class id /
 * 64) time), for a scheduler that splits the groups into parts for
 * barlow_analysis_run_groups(). Only opts->version and opts->groupings are read
 * (the other options are checked by barlow_analysis_run_groups()). Errors:
 * INVALID_ARG (NULL dataset or n_groups, unknown options version,
 * groupings not 1..3), STATE (no predictions), NOMEM. *n_groups is
 * untouched on error. Thread safety: reads the dataset only. */
BARLOW_API barlow_status barlow_analysis_count_groups(const barlow_dataset *dataset,
                                                      const barlow_analysis_options *opts,
                                                      size_t *n_groups);

/* As barlow_analysis_run(), but only groups [first, first + count) of the plan
 * are analysed: a part of a distributed analysis, which
 * barlow_analysis_merge() joins with the other parts. The plan is the
 * whole analysis' (the same groups in the same order, with their
 * identities, sizes, failures, base error rates and class names); the
 * analysed groups get exactly barlow_analysis_run()'s selection, scores, trees
 * and results (bit-identical: each group depends on its own rows only, the
 * knn noise on the group's row count and the seed); every other group gets
 * status BARLOW_ANALYSIS_PENDING, no selection and no tree
 * (barlow_analysis_group_tree() is NULL, barlow_analysis_get_result() gives
 * zeros, best_leaf and best_rule -1). Only the rows of the analysed groups
 * are read from `features` (and checked to be finite), so the features may
 * be a mapping of which a task touches only its own rows. The evaluation
 * (barlow_analysis_get_evaluation(), the JSON's) counts only the analysed
 * groups; the JSON and CSV list the pending groups with status "pending"
 * and no numbers, as empty groups. progress counts the `count` groups.
 * Errors: those of barlow_analysis_run() (the non-finite check covers the
 * analysed groups only), and INVALID_ARG for count 0 or first + count
 * beyond the plan's groups (naming first, count and the number of groups).
 * *out is untouched on error. */
BARLOW_API barlow_status barlow_analysis_run_groups(const barlow_matrix *features,
                                               const barlow_dataset *dataset,
                                               const barlow_analysis_options *opts,
                                               size_t first, size_t count,
                                               barlow_progress_fn progress, void *user_data,
                                               barlow_analysis **out);

/* Joins the parts of one plan (barlow_analysis_run_groups() results, full
 * analyses or deserialized copies, in any order) into a new analysis that
 * equals barlow_analysis_run()'s: each group is taken from the one part that
 * analysed it, the evaluation is computed again, and JSON and CSV are
 * byte-identical to barlow_analysis_run()'s. The result is a deep copy: the
 * parts may be freed afterwards (free it with barlow_analysis_free()).
 * Errors: INVALID_ARG (NULL parts, out or a part; n_parts 0; parts of
 * different plans, naming the part and what differs from part 0: rows,
 * columns, classes, an option, the depths, a class name, a group's identity
 * or counts; a group analysed in two parts or in none, naming the group,
 * e.g. "group label/Coat is analysed in parts 0 and 2"), NOMEM. *out is
 * untouched on error. Thread safety: reads the parts only. */
BARLOW_API barlow_status barlow_analysis_merge(const barlow_analysis *const *parts,
                                               size_t n_parts, barlow_analysis **out);

/* The analysis (full or partial) as bytes that barlow_analysis_deserialize()
 * turns back into the same analysis in another process: a versioned
 * little-endian binary format (docs/formats.md, "Binary tree and
 * analysis") holding the options, the class names, and per group its
 * counts, status, selection and trees (each in barlow_tree_serialize()'s
 * format). Release *out with barlow_buffer_free(). Errors: INVALID_ARG
 * (NULL), NOMEM. */
BARLOW_API barlow_status barlow_analysis_serialize(const barlow_analysis *a,
                                                   barlow_buffer *out);

/* A new analysis from barlow_analysis_serialize()'s bytes (free it with
 * barlow_analysis_free()); it serializes to the same bytes, exports the
 * same JSON and CSV, merges like the original, and its trees work with
 * every tree function. The bytes are treated as hostile: every count,
 * length, index and option is checked against the bytes present and
 * against the others (the options as barlow_analysis_run() checks them, class
 * ids ascending and below the class count, group sizes adding up to the
 * rows in each grouping, each status the one the counts give or pending,
 * selected columns distinct and below the column count, finite scores,
 * each tree as barlow_tree_deserialize() checks it and fitted on its
 * group's rows at its depth) before anything is allocated for them;
 * results and the evaluation are recomputed from the trees, never read.
 * Errors: INVALID_ARG (NULL data or out), FORMAT naming what is wrong and
 * its byte offset, NOMEM. *out is untouched on error. */
BARLOW_API barlow_status barlow_analysis_deserialize(const void *data, size_t size,
                                                     barlow_analysis **out);

/* Frees the analysis and its trees. NULL is allowed. */
BARLOW_API void barlow_analysis_free(barlow_analysis *a);

/* ---- results ---------------------------------------------------------------- */

/* Number of groups (classes present × groupings analysed); 0 for NULL. */
BARLOW_API size_t barlow_analysis_group_count(const barlow_analysis *a);

/* Number of depths (trees per group); 0 for NULL. */
BARLOW_API size_t barlow_analysis_depth_count(const barlow_analysis *a);

/* The j-th depth (in the order given); 0 for NULL or j out of range. */
BARLOW_API int32_t barlow_analysis_depth(const barlow_analysis *a, size_t j);

/* Copies group i's identity and counts into *out (out->version set by the
 * caller). Errors: INVALID_ARG (NULL, i out of range, unknown version);
 * *out is untouched on error. */
BARLOW_API barlow_status barlow_analysis_get_group(const barlow_analysis *a, size_t i,
                                                   barlow_analysis_group *out);

/* Writes group i's selected features, best first (original column
 * indices), to `features` and their selection scores to `scores` (each
 * n_selected entries; either may be NULL). Nothing is written for a group
 * without selection. Errors: INVALID_ARG (NULL a, i out of range). */
BARLOW_API barlow_status barlow_analysis_group_selection(const barlow_analysis *a,
                                                         size_t i, size_t *features,
                                                         double *scores);

/* The tree of group i at the j-th depth, owned by the analysis (valid until
 * barlow_analysis_free()); NULL for an empty or pending group or an index
 * out of range.
 * Its features are original column indices of the features matrix. */
BARLOW_API const barlow_tree *barlow_analysis_group_tree(const barlow_analysis *a,
                                                         size_t i, size_t j);

/* The outcome of group i's tree at the j-th depth (best leaf, validity).
 * Errors: INVALID_ARG (NULL, i or j out of range, unknown out->version);
 * *out is untouched on error. */
BARLOW_API barlow_status barlow_analysis_get_result(const barlow_analysis *a, size_t i,
                                                    size_t j, barlow_analysis_result *out);

/* The automatic evaluation of `grouping` at the j-th depth. Errors:
 * INVALID_ARG (NULL, j out of range, unknown out->version, a grouping that
 * was not analysed). *out is untouched on error. */
BARLOW_API barlow_status barlow_analysis_get_evaluation(const barlow_analysis *a,
                                                        barlow_group_by grouping,
                                                        size_t j,
                                                        barlow_analysis_evaluation *out);

/* ---- export ----------------------------------------------------------------- */

/* The whole analysis as one JSON document (schema in docs/formats.md,
 * "Analysis JSON and CSV"): options, the evaluation, and per group its
 * identity, counts, selected features with scores and, per depth, the best
 * leaf, the validity flag and the tree (barlow_tree_to_json()'s object,
 * with the rules that pass the rule filter). Release *out with
 * barlow_buffer_free(). Errors: INVALID_ARG (NULL), NOMEM. */
BARLOW_API barlow_status barlow_analysis_to_json(const barlow_analysis *a,
                                                 barlow_buffer *out);

/* The CSV summary (RFC 4180, header line first, LF line ends): one row per
 * group and depth with grouping, class id, class name, depth, size,
 * failures, BER, ALER, best leaf, its ER, EC and IV, the validity flag, the
 * status and the best passing rule's sentence. Release with
 * barlow_buffer_free(). Errors: INVALID_ARG (NULL), NOMEM. */
BARLOW_API barlow_status barlow_analysis_to_csv(const barlow_analysis *a,
                                                barlow_buffer *out);

/* Writes barlow_analysis_to_json()'s text (plus a newline) to `path`
 * atomically. Errors: INVALID_ARG (NULL), IO naming the path (e.g. a
 * missing directory; nothing is left behind), NOMEM. */
BARLOW_API barlow_status barlow_analysis_save_json(const barlow_analysis *a,
                                                   const char *path);

/* Writes barlow_analysis_to_csv()'s text to `path` atomically. Errors: as
 * barlow_analysis_save_json. */
BARLOW_API barlow_status barlow_analysis_save_csv(const barlow_analysis *a,
                                                  const char *path);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_ANALYSIS_H */
