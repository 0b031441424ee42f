/*
 * barlow_tree — a shallow failure tree: a binary classification tree that
 * predicts failure (1) vs correct (0) from a group's feature rows, with the
 * paper's statistics per node, rules (root-to-leaf paths), held-out
 * evaluation and JSON / Graphviz DOT export.
 *
 * The tree is the one scikit-learn builds with
 *     DecisionTreeClassifier(criterion="entropy", max_depth=D,
 *                            class_weight={0: 1, 1: n_correct / n_failed})
 * on float32 features: same split features and thresholds (midpoints a/2+b/2
 * of consecutive sorted values, values within 1e-7 treated as equal), same
 * node numbering (pre-order, left child first) and per-node sample counts.
 * Rows with x <= threshold go left. Two documented deviations (docs/tree.md):
 * equal-gain ties between features go to the lowest original column index
 * (scikit-learn draws a random feature order), and a pure node is always a
 * leaf (scikit-learn sometimes splits one because of a ~1e-14 rounding
 * residue in a child's impurity).
 *
 * Definitions, for the group G the tree was fitted on (n rows, F failures):
 *   base error rate BER = F / n
 *   error rate      ER(node) = failures(node) / size(node)   (every node)
 *   error coverage  EC(node) = failures(node) / F             (0 when F = 0)
 *   importance      IV(node) = ER · EC
 *   ALER            = sum over leaves of ER · EC  (>= BER)
 *   p-value(node)   = P[X >= failures(node)], X ~ Binomial(size(node), BER):
 *                     the exact one-sided binomial upper tail (docs/tree.md)
 *   failure leaf    = a leaf whose weighted failures exceed its weighted
 *                     correct rows (the leaf the tree labels "failure"; with
 *                     the reference weights: failures·n_correct/n_failed >
 *                     correct rows); tree precision = failures in failure
 *                     leaves / rows in failure leaves (0 when there is no
 *                     failure leaf), recall = failures in failure leaves / F
 *                     (0 when F = 0).
 * A group with no failures or no correct rows gives a one-leaf tree with
 * these statistics defined (no division by zero).
 *
 * Features are always reported by their ORIGINAL column index in the matrix
 * given to barlow_tree_fit(), also when the fit used a column subset.
 *
 * Thread safety: a fitted tree and an evaluation are immutable; every
 * function taking a `const barlow_tree *` or `const barlow_tree_eval *` may
 * run concurrently on one handle. Different trees are independent.
 */
#ifndef BARLOW_TREE_H
#define BARLOW_TREE_H

#include "common.h"
#include "matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_tree barlow_tree;
typedef struct barlow_tree_eval barlow_tree_eval;

/* The impurity a split minimises. */
typedef enum barlow_criterion {
    BARLOW_CRITERION_ENTROPY = 0, /* Shannon entropy, bits (sklearn "entropy") */
    BARLOW_CRITERION_GINI = 1     /* Gini impurity (sklearn "gini") */
} barlow_criterion;

/* How rows are weighted by class when choosing splits. */
typedef enum barlow_class_weight {
    BARLOW_CLASS_WEIGHT_REFERENCE = 0, /* correct 1, failure n_correct/n_failed
                                          (1 and 1 when a class is absent) */
    BARLOW_CLASS_WEIGHT_NONE = 1,      /* 1 and 1 */
    BARLOW_CLASS_WEIGHT_GIVEN = 2      /* weight_correct and weight_failure */
} barlow_class_weight;

/* Comparison of a rule condition. */
typedef enum barlow_op {
    BARLOW_OP_LE = 0, /* feature <= threshold (the left branch) */
    BARLOW_OP_GT = 1  /* feature > threshold (the right branch) */
} barlow_op;

/* Which rows of a node barlow_tree_node_rows()/barlow_tree_sample_rows() give. */
typedef enum barlow_rows {
    BARLOW_ROWS_ALL = 0,
    BARLOW_ROWS_FAILURES = 1,
    BARLOW_ROWS_CORRECT = 2
} barlow_rows;

enum {
    BARLOW_TREE_OPTIONS_VERSION = 1,
    BARLOW_TREE_NODE_VERSION = 1,
    BARLOW_TREE_SUMMARY_VERSION = 1,
    BARLOW_RULE_OPTIONS_VERSION = 1,
    BARLOW_SVG_OPTIONS_VERSION = 1,
    BARLOW_TREE_MAX_DEPTH = 16 /* largest max_depth; also the most conditions of a rule */
};

/* Options of barlow_tree_fit(). */
typedef struct barlow_tree_options {
    uint32_t version;                 /* BARLOW_TREE_OPTIONS_VERSION */
    int32_t max_depth;                /* default 1, 1..16 */
    barlow_criterion criterion;       /* default BARLOW_CRITERION_ENTROPY; ENTROPY
                                         or GINI */
    barlow_class_weight class_weight; /* default BARLOW_CLASS_WEIGHT_REFERENCE;
                                         REFERENCE, NONE or GIVEN */
    double weight_correct;            /* GIVEN only: finite, > 0 (default 1) */
    double weight_failure;            /* GIVEN only: finite, > 0 (default 1) */
    size_t min_samples_split;         /* default 2, >= 2: smaller nodes are leaves */
    size_t min_samples_leaf;          /* default 1, >= 1: rows each child must keep */
    double min_impurity_decrease;     /* default 0, finite >= 0: a split must decrease
                                         the weighted impurity (sklearn's definition,
                                         scaled by the node's weight share) by
                                         at least this much */
} barlow_tree_options;

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_tree_options_init(barlow_tree_options *opts);

/* One node of a fitted tree (or its statistics on held-out rows). The caller
 * sets `version` to BARLOW_TREE_NODE_VERSION before the call; the library
 * fills the fields that version has. */
typedef struct barlow_tree_node {
    uint32_t version;         /* set by the caller: BARLOW_TREE_NODE_VERSION */
    int32_t id;               /* pre-order number, root 0, left child first */
    int32_t parent;           /* -1 for the root */
    int32_t left, right;      /* children; -1 for a leaf */
    int32_t depth;            /* root 0 */
    int32_t is_leaf;          /* 1 or 0 */
    int32_t predicts_failure; /* 1 when weighted failures > weighted correct */
    int64_t feature;          /* original column index; -1 for a leaf */
    double threshold;         /* rows with x <= threshold go left; NaN for a leaf */
    size_t size;              /* rows in the node */
    size_t failures;          /* failures among them */
    double weighted_size;     /* sum of the class weights of its rows */
    double weighted_failures; /* the failures' share of weighted_size */
    double impurity;          /* criterion value of the node (weighted classes) */
    double improvement;       /* sklearn's weighted impurity decrease of the
                                 node's split: (W_node/W_root)·(impurity −
                                 Σ W_child/W_node·impurity_child); 0 for a leaf,
                                 NaN in a held-out evaluation */
    double error_rate;        /* failures / size (0 for an empty held-out node) */
    double error_coverage;    /* failures / group failures (0 when none) */
    double importance;        /* error_rate · error_coverage */
    double p_value;           /* P[Binomial(size, BER) >= failures]; 1 when size = 0 */
} barlow_tree_node;

/* Whole-tree statistics (of the training rows or of a held-out evaluation).
 * The caller sets `version` to BARLOW_TREE_SUMMARY_VERSION. */
typedef struct barlow_tree_summary {
    uint32_t version;       /* set by the caller: BARLOW_TREE_SUMMARY_VERSION */
    int32_t depth;          /* depth of the deepest leaf (0 for a one-leaf tree) */
    size_t node_count;
    size_t leaf_count;
    size_t size;            /* rows of the group */
    size_t failures;        /* failures of the group */
    double base_error_rate; /* BER = failures / size (0 for size 0) */
    double aler;            /* average leaf error rate Σ ER·EC over leaves */
    double aler_gain;       /* aler − base_error_rate (>= 0 up to rounding) */
    double precision;       /* tree precision (see the top of this header) */
    double recall;          /* tree recall */
    double weight_correct;  /* the class weights the fit used */
    double weight_failure;
} barlow_tree_summary;

/* One condition of a rule: `feature op threshold`. */
typedef struct barlow_condition {
    int64_t feature;    /* original column index */
    barlow_op op;       /* BARLOW_OP_LE or BARLOW_OP_GT */
    double threshold;   /* full precision */
} barlow_condition;

/* Filter of barlow_tree_rules() and of the "rules" in the JSON export. */
typedef struct barlow_rule_options {
    uint32_t version;      /* BARLOW_RULE_OPTIONS_VERSION */
    double min_coverage;   /* default 0, 0..1: keep leaves with EC >= this */
    double min_error_rate; /* default 0, 0..1: keep leaves with ER >= this */
    double max_p_value;    /* default 1, 0..1: keep leaves with p-value <= this */
} barlow_rule_options;

/* Fills *opts with the defaults above (every leaf passes). NULL is ignored. */
BARLOW_API void barlow_rule_options_init(barlow_rule_options *opts);

/* ---- fitting --------------------------------------------------------------- */

/* Fits a tree on the rows of `features` (n × d float32) with `failures`
 * (n flags: 1 = failure, 0 = correct). `columns` lists the candidate columns
 * (original indices < d, no duplicates, any order) or is NULL for all d
 * columns (then n_columns must be 0). opts: NULL for defaults (copied).
 * Only the candidate columns are read; the tree copies what it needs and
 * keeps no pointer to the inputs. Scratch memory: about 40 bytes per row
 * plus, for depth 1, max(2 MiB, 128 bytes per row) (columns are sorted in
 * blocks) or, for deeper trees, 8 bytes per row per candidate column (the
 * sorted columns are kept and partitioned node by node). The fitted tree
 * keeps 5 bytes per row (for node rows and sampling).
 * Errors: INVALID_ARG (NULL features/failures/out; n = 0; n >= 2^32; a
 * failure flag other than 0/1, naming its row; NaN or ±inf in a candidate
 * column, naming the row, column and value; a column index >= d or
 * repeated, naming it; n_columns = 0 with non-NULL columns or > 0 with NULL
 * columns; unknown options version; max_depth outside 1..16; a criterion or
 * class_weight value outside its enum; given weights not finite and > 0;
 * min_samples_split < 2; min_samples_leaf < 1; min_impurity_decrease
 * negative or not finite — each message names the value and the allowed
 * range), NOMEM. *out is untouched on error. */
BARLOW_API barlow_status barlow_tree_fit(const barlow_matrix *features,
                                         const uint8_t *failures, const size_t *columns,
                                         size_t n_columns, const barlow_tree_options *opts,
                                         barlow_tree **out);

/* Frees the tree. NULL is allowed. */
BARLOW_API void barlow_tree_free(barlow_tree *tree);

/* ---- structure and statistics ------------------------------------------------ */

BARLOW_API size_t barlow_tree_node_count(const barlow_tree *tree); /* 0 for NULL */
BARLOW_API size_t barlow_tree_leaf_count(const barlow_tree *tree); /* 0 for NULL */
/* Number of columns of the matrix the tree was fitted on (what apply and
 * evaluate expect); 0 for NULL. */
BARLOW_API size_t barlow_tree_input_columns(const barlow_tree *tree);

/* Copies node `id` (0 .. node_count-1) into *out (out->version set by the
 * caller). Errors: INVALID_ARG (NULL, id out of range, unknown out->version);
 * *out is untouched on error. */
BARLOW_API barlow_status barlow_tree_get_node(const barlow_tree *tree, size_t id,
                                              barlow_tree_node *out);

/* Whole-tree statistics. Errors: INVALID_ARG (NULL, unknown out->version). */
BARLOW_API barlow_status barlow_tree_get_summary(const barlow_tree *tree,
                                                 barlow_tree_summary *out);

/* Writes the leaf ids ranked by importance (IV), highest first; equal IVs in
 * ascending id order (stable). `ids` holds barlow_tree_leaf_count() entries.
 * Errors: INVALID_ARG (NULL). */
BARLOW_API barlow_status barlow_tree_leaves_by_importance(const barlow_tree *tree,
                                                          size_t *ids);

/* ---- rules --------------------------------------------------------------------- */

/* Writes the ids of the leaves whose rule passes `opts` (NULL: all leaves),
 * best IV first (ties by id), to `leaves` (capacity barlow_tree_leaf_count())
 * and their number to *n_out. Errors: INVALID_ARG (NULL tree/leaves/n_out,
 * unknown options version, a bound outside 0..1 or NaN, naming it). */
BARLOW_API barlow_status barlow_tree_rules(const barlow_tree *tree,
                                           const barlow_rule_options *opts,
                                           size_t *leaves, size_t *n_out);

/* Writes the root-to-node path of node `id` as conditions, root first, to
 * `conds` (capacity BARLOW_TREE_MAX_DEPTH) and their number to *n_out (0 for
 * the root). Errors: INVALID_ARG (NULL, id out of range). */
BARLOW_API barlow_status barlow_tree_path(const barlow_tree *tree, size_t id,
                                          barlow_condition *conds, size_t *n_out);

/* The rule of node `id` as an English sentence (UTF-8, "≤" and ">"), e.g.
 * "When feature 1378 ≤ 0.0893 the error rate rises from 50.0% to 100.0%
 * (72 of 72 failures, 72 images)". Conditions are joined with "and";
 * "falls" when the node's ER is below the BER, "stays at" when equal; the
 * root reads "For all 1406 images the error rate is 20.2% (...)".
 * Thresholds are shown rounded (docs/tree.md); use barlow_tree_path() for
 * full precision. Release *out with barlow_buffer_free().
 * Errors: INVALID_ARG (NULL, id out of range), NOMEM. */
BARLOW_API barlow_status barlow_tree_rule_text(const barlow_tree *tree, size_t id,
                                               barlow_buffer *out);

/* As barlow_tree_rule_text(), with the words a person gave the features:
 * a feature f with names[f] set (f < n_names, not NULL, not empty) reads
 * "buckle (feature 1378)"; the others read "feature 1378". names may be
 * NULL (then n_names must be 0): the same text as barlow_tree_rule_text().
 * Errors: INVALID_ARG (NULL tree/out, id out of range, n_names > 0 with
 * NULL names), NOMEM. */
BARLOW_API barlow_status barlow_tree_rule_text_named(const barlow_tree *tree, size_t id,
                                                     const char *const *names,
                                                     size_t n_names, barlow_buffer *out);

/* ---- applying the tree ---------------------------------------------------------- */

/* The leaf of one row: `row` holds n_values >= barlow_tree_input_columns()
 * floats (only the split columns are read). Errors: INVALID_ARG (NULL,
 * n_values too small, NaN/inf in a split column, naming it). */
BARLOW_API barlow_status barlow_tree_apply_row(const barlow_tree *tree, const float *row,
                                               size_t n_values, size_t *leaf);

/* The leaf of every row of `features` (m × barlow_tree_input_columns()) into
 * `leaves` (m entries). Errors: INVALID_ARG (NULL, column count differs,
 * NaN/inf in a split column naming row and column); `leaves` untouched. */
BARLOW_API barlow_status barlow_tree_apply(const barlow_tree *tree,
                                           const barlow_matrix *features, size_t *leaves);

/* The training rows (indices into the fitted matrix, ascending) of node
 * `id` that `which` selects, into `rows` (capacity: the node's size) and
 * their number into *n_out. Errors: INVALID_ARG (NULL, id out of range,
 * `which` not a barlow_rows value). */
BARLOW_API barlow_status barlow_tree_node_rows(const barlow_tree *tree, size_t id,
                                               barlow_rows which, size_t *rows,
                                               size_t *n_out);

/* Draws min(k, count) distinct training rows of node `id` selected by
 * `which`, uniformly without replacement (partial Fisher–Yates over the
 * ascending row list driven by splitmix64(seed)), in draw order, into `rows`
 * (capacity k); *n_out gets the number drawn. The same seed gives the same
 * rows on every platform. Errors: as barlow_tree_node_rows. */
BARLOW_API barlow_status barlow_tree_sample_rows(const barlow_tree *tree, size_t id,
                                                 barlow_rows which, size_t k,
                                                 uint64_t seed, size_t *rows,
                                                 size_t *n_out);

/* ---- held-out evaluation ------------------------------------------------------- */

/* Applies the tree to other rows (e.g. a test split of the same group) with
 * their failure flags and computes every node's statistics there: size,
 * failures, ER, EC, IV and p-value against the held-out BER (summary: the
 * held-out BER, ALER, precision and recall with the tree's labelling of
 * failure leaves). The evaluation keeps no pointer to its inputs and stays
 * valid when the tree is freed. Empty nodes have ER 0, EC 0 and p-value 1.
 * Errors: INVALID_ARG (NULL, 0 rows, column count differs from the
 * tree's, a flag other than 0/1 naming its row, NaN/inf in a split column
 * naming row and column), NOMEM. *out untouched on error. */
BARLOW_API barlow_status barlow_tree_evaluate(const barlow_tree *tree,
                                              const barlow_matrix *features,
                                              const uint8_t *failures,
                                              barlow_tree_eval **out);

/* Frees an evaluation. NULL is allowed. */
BARLOW_API void barlow_tree_eval_free(barlow_tree_eval *eval);

/* Node `id` as seen on the held-out rows (structure fields as in the tree;
 * improvement NaN). Errors: as barlow_tree_get_node. */
BARLOW_API barlow_status barlow_tree_eval_get_node(const barlow_tree_eval *eval,
                                                   size_t id, barlow_tree_node *out);

/* Held-out summary. Errors: as barlow_tree_get_summary. */
BARLOW_API barlow_status barlow_tree_eval_get_summary(const barlow_tree_eval *eval,
                                                      barlow_tree_summary *out);

/* Leaves ranked by held-out IV (ties by id). Errors: INVALID_ARG (NULL). */
BARLOW_API barlow_status barlow_tree_eval_leaves_by_importance(const barlow_tree_eval *eval,
                                                               size_t *ids);

/* ---- export -------------------------------------------------------------------- */

/* The tree as one JSON object (schema in docs/formats.md, "Tree JSON"):
 * summary numbers, options, every node with all statistics, leaves by
 * importance, and the rules passing `rules` (NULL: all leaves) with their
 * conditions and sentences. With `held_out` (an evaluation of this tree, or
 * NULL) each node also gets a "held_out" object and the document a
 * "held_out" summary. Release *out with barlow_buffer_free().
 * Errors: INVALID_ARG (NULL tree/out, bad rule options, an evaluation of
 * another tree), NOMEM. */
BARLOW_API barlow_status barlow_tree_to_json(const barlow_tree *tree,
                                             const barlow_rule_options *rules,
                                             const barlow_tree_eval *held_out,
                                             barlow_buffer *out);

/* Writes barlow_tree_to_json()'s text (plus a newline) to `path`
 * atomically. Errors: as barlow_tree_to_json, and IO naming the path
 * (nothing is left behind). */
BARLOW_API barlow_status barlow_tree_save_json(const barlow_tree *tree,
                                               const barlow_rule_options *rules,
                                               const barlow_tree_eval *held_out,
                                               const char *path);

/* The tree as a Graphviz DOT digraph: one box per node with its split
 * ("feature 638 ≤ 0.232549"), size, failures, ER, EC and (leaves) IV;
 * edges labelled "≤"/">"; failure leaves filled. Thresholds with %.6g in
 * labels. Release with barlow_buffer_free(). Errors: INVALID_ARG, NOMEM. */
BARLOW_API barlow_status barlow_tree_to_dot(const barlow_tree *tree, barlow_buffer *out);

/* Options of barlow_tree_to_svg(). */
typedef struct barlow_svg_options {
    uint32_t version;         /* BARLOW_SVG_OPTIONS_VERSION */
    const char *const *names; /* default NULL: words for the features, as for
                                 barlow_tree_rule_text_named() */
    size_t n_names;           /* default 0: entries of names (names must not
                                 be NULL when n_names > 0) */
    const char *link_prefix;  /* default NULL: no links; else each leaf's box
                                 links to link_prefix + its id (e.g.
                                 "#label-3-d1-n" gives "#label-3-d1-n4") */
    int32_t highlight;        /* default -1: node outlined as the best: a node
                                 id (0..node count - 1), -1 the highest-IV
                                 leaf, -2 none */
    double max_width;         /* default 0: natural width; else (px) a
                                 drawing wider than this scales down (viewBox,
                                 CSS max-width:100%) but not below 84% of its
                                 natural width; finite, >= 0 */
} barlow_svg_options;

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_svg_options_init(barlow_svg_options *opts);

/* The tree as one self-contained SVG element (UTF-8, starts with "<svg"):
 * one box per node (<g class="node ..."> with its id, size, failures, ER,
 * EC, IV of a leaf, and an EC bar), sized to its text; fill from pale at
 * the BER to red at the tree's highest ER, grey where ER <= BER; edges as
 * wide as the child's share of the rows; above each child its condition
 * ("buckle (feature 13)" / "<= 0.0893", long names cut with "...") on a
 * box of the background. It carries its own <style> (selectors scoped to
 * the class "barlow-tree") whose colours are CSS custom properties with
 * fallbacks (--barlow-card, --barlow-fg, --barlow-line, --barlow-edge,
 * --barlow-accent): a page may set them, else it reads on light and dark
 * pages alike. Every text and attribute is XML-escaped; ill-formed UTF-8
 * in a name reads U+FFFD. opts: NULL for defaults. Release *out with
 * barlow_buffer_free().
 * Errors: INVALID_ARG (NULL tree/out, unknown options version, n_names > 0
 * with NULL names, highlight below -2 or not a node id, max_width negative
 * or not finite), NOMEM. *out is untouched on error.
 * Thread-safety: as every const function of a tree (see the top). */
BARLOW_API barlow_status barlow_tree_to_svg(const barlow_tree *tree,
                                            const barlow_svg_options *opts,
                                            barlow_buffer *out);

/* ---- serialization ----------------------------------------------------------------- */

/* The tree as bytes that barlow_tree_deserialize() turns back into the same
 * tree in another process or on another machine: a versioned little-endian
 * binary format (docs/formats.md, "Binary tree and analysis") holding the
 * options, the nodes and the training rows with their failure flags, about
 * 48 bytes per node plus 5 per training row. Release *out with
 * barlow_buffer_free(). Errors: INVALID_ARG (NULL), NOMEM. */
BARLOW_API barlow_status barlow_tree_serialize(const barlow_tree *tree, barlow_buffer *out);

/* A new tree from barlow_tree_serialize()'s bytes (free it with
 * barlow_tree_free()). Every accessor works on it as on the original, and
 * it serializes to the same bytes. The bytes are treated as hostile: every
 * count, child link, feature index, row and flag is checked against the
 * bytes present and against the others (node ids numbered in pre-order with
 * no cycle, children's sizes adding up to their parent's, the rows a
 * permutation ascending within each leaf, each node's failures those of its
 * rows, the options valid for barlow_tree_fit(), finite thresholds) before
 * anything is allocated for them; derived statistics are recomputed, never
 * read. The data is only read during the call. Errors: INVALID_ARG (NULL
 * data or out), FORMAT naming what is wrong and its byte offset (wrong
 * magic, an unknown format version, truncated or trailing bytes, any
 * inconsistency), NOMEM. *out is untouched on error. */
BARLOW_API barlow_status barlow_tree_deserialize(const void *data, size_t size,
                                                 barlow_tree **out);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_TREE_H */
