/* Internal layout of barlow_tree / barlow_tree_eval shared by lib/tree.c and
 * lib/tree_export.c. Not installed. */
#ifndef BW_TREE_INTERNAL_H
#define BW_TREE_INTERNAL_H

#include "barlow/tree.h"
#include "internal.h"

typedef struct bw_tnode {
    int32_t parent, left, right, depth, is_leaf, predicts_failure;
    int64_t feature;     /* original column; -1 for leaves */
    double threshold;    /* NaN for leaves */
    size_t start;        /* first row of the node in the tree's `rows` array */
    size_t size, failures;
    double wsize, wfail, impurity, improvement;
    double er, ec, iv, p;
} bw_tnode;

/* Statistics shared by a tree and an evaluation. */
typedef struct bw_tstats {
    size_t n_nodes, n_leaves;
    int32_t depth;
    bw_tnode *nodes;
    size_t *rank;        /* leaves by IV, best first (n_leaves) */
    size_t size, failures;
    double ber, aler, precision, recall;
    double w0, w1;       /* class weights (correct, failure) */
} bw_tstats;

struct barlow_tree {
    bw_tstats s;
    barlow_tree_options opts; /* effective options (current version) */
    size_t input_cols;
    uint32_t *rows;           /* training rows grouped by node, ascending in each */
    uint8_t *fail;            /* training failure flags (by row) */
};

struct barlow_tree_eval {
    bw_tstats s;
    size_t input_cols;
};

/* The tree module's option checks, used by its own functions and by the
 * modules whose options carry tree or rule options (the analysis): one
 * owner for the ranges and their messages. Each checks `in` (NULL: the
 * defaults) and writes the effective options, with the current version, to
 * *out; INVALID_ARG naming who, the field, its value and the allowed range
 * (or "<who>: barlow_tree_options ..." for an unknown version).
 * bw_tree_check_options (tree.c): the checks of barlow_tree_fit; max_depth
 * > 0 replaces in->max_depth before the checks (the analysis fits one tree
 * per entry of its own depth list), 0 keeps it.
 * bw_tree_check_rule_options (tree_export.c): the checks of
 * barlow_tree_rules and the exports (each threshold 0..1). */
barlow_status bw_tree_check_options(const barlow_tree_options *in, int32_t max_depth,
                                    barlow_tree_options *out, const char *who);
barlow_status bw_tree_check_rule_options(const barlow_rule_options *in,
                                         barlow_rule_options *out, const char *who);

/* In tree.c: the class weights a fit uses for its counts, and every
 * derived number of s (wsize, wfail, ER, EC, IV, p-value, predicts_failure,
 * leaves, depth, rank, ALER, precision, recall) from the structure, the
 * per-node size/failures and s->size, s->failures, s->w0, s->w1. */
void bw_tree_class_weights(const barlow_tree_options *o, size_t n_fail, size_t n_correct,
                           double *w0, double *w1);
barlow_status bw_tree_compute_stats(bw_tstats *s, const char *who);

/* In tree_serial.c: the tree's binary form (docs/formats.md) appended to sb,
 * and read back from r (positioned at the magic; advanced past the tree;
 * FORMAT naming who and the byte offset for anything wrong), for the
 * analysis' format, which embeds it. A deep copy (NOMEM naming who). */
void bw_tree_write(bw_sb *sb, const barlow_tree *t);
struct bw_rd;
barlow_status bw_tree_read(struct bw_rd *r, barlow_tree **out);
/* The options part of that format (56 bytes), checked as barlow_tree_fit
 * checks them. */
void bw_tree_write_options(bw_sb *sb, const barlow_tree_options *o);
barlow_status bw_tree_read_options(struct bw_rd *r, barlow_tree_options *o);
barlow_status bw_tree_clone(const barlow_tree *t, barlow_tree **out, const char *who);

/* JSON/DOT/text helpers in tree_export.c */
/* The rule of node id as a sentence; names[f] (f < n_names, non-empty)
 * names feature f ("buckle (feature 13)"), names may be NULL. */
void bw_tree_rule_sentence(bw_sb *sb, const barlow_tree *t, size_t id,
                           const char *const *names, size_t n_names);
int bw_tree_rule_passes(const bw_tstats *s, size_t id, const barlow_rule_options *o);

#endif
