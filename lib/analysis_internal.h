/* Internal layout of barlow_analysis shared by lib/analysis.c (running,
 * accessors, export) and lib/analysis_parts.c (merge, serialization). Not
 * installed. */
#ifndef BW_ANALYSIS_INTERNAL_H
#define BW_ANALYSIS_INTERNAL_H

#include "barlow/analysis.h"
#include "internal.h"

typedef struct bw_agroup {
    barlow_group_by by;
    int32_t cls;
    size_t ci;                  /* index among the present classes (names) */
    size_t off;                 /* first member in the grouping's index array
                                   (while running only) */
    size_t size, failures;
    double ber;
    barlow_analysis_status status;
    size_t n_top;               /* k for analysed groups, else 0 */
    size_t *top;                /* selected columns, best first */
    double *top_scores;
    barlow_tree **trees;        /* n_depths (NULL entries for an empty or
                                   pending group) */
    barlow_analysis_result *res;
    barlow_status err;          /* worker failure and its message */
    char *errmsg;
} bw_agroup;

struct barlow_analysis {
    size_t n_rows, d;
    uint32_t groupings;
    size_t k;
    barlow_estimator estimator;
    size_t n_neighbors;
    uint32_t seed;
    double delta, gamma;
    size_t min_group_size;
    barlow_tree_options topts;  /* effective tree options (max_depth per tree) */
    barlow_rule_options ropts;
    int32_t depths[BARLOW_ANALYSIS_MAX_DEPTHS];
    size_t n_depths;
    size_t n_classes;           /* the dataset's class count */
    size_t n_present;           /* classes that occur as a label or a prediction */
    char **names;               /* n_present names, ascending class ids */
    size_t n_groups;
    bw_agroup *g;
    barlow_analysis_evaluation eval[2][BARLOW_ANALYSIS_MAX_DEPTHS];
};

/* Checks opts (NULL: defaults) for features of d columns as barlow_analysis_run
 * does and stores the effective options in a (groupings, k, estimator,
 * n_neighbors, seed, delta, gamma, min_group_size, topts, ropts, depths).
 * INVALID_ARG naming who. */
barlow_status bw_analysis_check_options(const barlow_analysis_options *opts, size_t d,
                                        barlow_analysis *a, const char *who);

/* What barlow_analysis_run does with a group of `size` rows and `failures`
 * failures (every status but PENDING). */
barlow_analysis_status bw_analysis_plan_status(const barlow_analysis *a, size_t size,
                                               size_t failures);

/* Gives g its results array (n_depths entries: depth set, best leaf and
 * rule -1, numbers 0) and its NULL trees array. NOMEM naming who. */
barlow_status bw_analysis_group_alloc(const barlow_analysis *a, bw_agroup *g, const char *who);

/* The options of group g's tree at the j-th depth: the analysis' tree
 * options at that depth, made to give one leaf when g is not ANALYSED. */
void bw_analysis_tree_options(const barlow_analysis *a, const bw_agroup *g, size_t j,
                              barlow_tree_options *to);

/* g->res[j] from g->trees[j] (not NULL): ALER, best leaf, validity, best
 * passing rule. */
barlow_status bw_analysis_fill_result(const barlow_analysis *a, bw_agroup *g, size_t j,
                                      const char *who);

/* Per grouping and depth, the valid fraction of the non-empty groups that
 * were analysed (pending groups are left out). */
void bw_analysis_evaluate(barlow_analysis *a);

/* Frees what group g owns (not g itself). */
void bw_analysis_group_destroy(bw_agroup *g, size_t n_depths);

#endif
