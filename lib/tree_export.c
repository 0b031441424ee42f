/* Rules as sentences, JSON and Graphviz DOT export of a barlow_tree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tree_internal.h"

barlow_status bw_tree_check_rule_options(const barlow_rule_options *in,
                                         barlow_rule_options *o, const char *who)
{
    barlow_rule_options_init(o);
    if (!in) return BARLOW_OK;
    char what[96];
    snprintf(what, sizeof what, "%s: barlow_rule_options", who);
    barlow_status st = bw_check_options_version(in->version, BARLOW_RULE_OPTIONS_VERSION, what);
    if (st) return st;
    *o = *in;
    o->version = BARLOW_RULE_OPTIONS_VERSION;
    const struct {
        const char *name;
        double v;
    } b[3] = {{"min_coverage", o->min_coverage},
              {"min_error_rate", o->min_error_rate},
              {"max_p_value", o->max_p_value}};
    for (int i = 0; i < 3; i++)
        if (!(b[i].v >= 0.0 && b[i].v <= 1.0))
            return bw_error(BARLOW_E_INVALID_ARG, "%s: %s=%g (must be 0..1)", who, b[i].name,
                            b[i].v);
    return BARLOW_OK;
}

int bw_tree_rule_passes(const bw_tstats *s, size_t id, const barlow_rule_options *o)
{
    const bw_tnode *nd = &s->nodes[id];
    return nd->ec >= o->min_coverage && nd->er >= o->min_error_rate && nd->p <= o->max_p_value;
}

/* ---- sentences ---------------------------------------------------------------- */

/* A threshold for reading: 4 decimals (0.089335 -> 0.0893), or 3
 * significant digits when that would show less than 0.001. */
static void append_threshold(bw_sb *sb, double t)
{
    if (t == 0.0 || fabs(t) >= 1e-3) bw_sb_appendf(sb, "%.4f", t);
    else bw_sb_appendf(sb, "%.3g", t);
}

static void append_percent(bw_sb *sb, double v) { bw_sb_appendf(sb, "%.1f%%", 100.0 * v); }

static void append_feature(bw_sb *sb, int64_t f, const char *const *names, size_t n_names)
{
    const char *name = (uint64_t)f < n_names ? names[f] : NULL;
    if (name && *name) bw_sb_appendf(sb, "%s (feature %lld)", name, (long long)f);
    else bw_sb_appendf(sb, "feature %lld", (long long)f);
}

/* The path's conditions joined with "and", one per feature in the order
 * the features first appear: the tightest bounds the path sets on it
 * ("feature 26 > 0.7043", "0.2 < feature 26 ≤ 0.7043"), so that a
 * feature split twice reads once. */
static void append_conditions(bw_sb *sb, const bw_tnode *nodes, const size_t *path,
                              size_t depth, const char *const *names, size_t n_names)
{
    size_t parent = 0, written = 0;
    int64_t done[BARLOW_TREE_MAX_DEPTH];
    for (size_t k = 0; k < depth; parent = path[k++]) {
        int64_t f = nodes[parent].feature;
        bool seen = false;
        for (size_t j = 0; j < written; j++) seen = seen || done[j] == f;
        if (seen) continue;
        double lo = -INFINITY, hi = INFINITY;
        for (size_t j = k, q = parent; j < depth; q = path[j++]) {
            if (nodes[q].feature != f) continue;
            if (nodes[q].left == (int32_t)path[j]) hi = fmin(hi, nodes[q].threshold);
            else lo = fmax(lo, nodes[q].threshold);
        }
        if (written) bw_sb_append(sb, " and ");
        done[written++] = f;
        if (isfinite(lo) && isfinite(hi)) {
            append_threshold(sb, lo);
            bw_sb_append(sb, " < ");
        }
        append_feature(sb, f, names, n_names);
        bw_sb_append(sb, isfinite(hi) ? " \xe2\x89\xa4 " : " > ");
        append_threshold(sb, isfinite(hi) ? hi : lo);
    }
}

void bw_tree_rule_sentence(bw_sb *sb, const barlow_tree *t, size_t id,
                           const char *const *names, size_t n_names)
{
    const bw_tstats *s = &t->s;
    const bw_tnode *nodes = s->nodes, *nd = &nodes[id];
    size_t path[BARLOW_TREE_MAX_DEPTH + 1];
    size_t depth = (size_t)nd->depth, cur = id;
    for (size_t k = depth; k > 0; k--) {
        path[k - 1] = cur;
        cur = (size_t)nodes[cur].parent;
    }
    if (depth == 0) {
        bw_sb_appendf(sb, "For all %zu image%s the error rate is ", nd->size,
                      nd->size == 1 ? "" : "s");
        append_percent(sb, nd->er);
    } else {
        bw_sb_append(sb, "When ");
        append_conditions(sb, nodes, path, depth, names, n_names);
        /* compare ER with BER exactly: failures*n vs size*F */
        double lhs = (double)nd->failures * (double)s->size;
        double rhs = (double)nd->size * (double)s->failures;
        if (lhs == rhs) {
            bw_sb_append(sb, " the error rate stays at ");
            append_percent(sb, nd->er);
        } else {
            bw_sb_append(sb, lhs > rhs ? " the error rate rises from " : " the error rate falls from ");
            append_percent(sb, s->ber);
            bw_sb_append(sb, " to ");
            append_percent(sb, nd->er);
        }
    }
    bw_sb_appendf(sb, " (%zu of %zu failure%s, %zu image%s)", nd->failures, s->failures,
                  s->failures == 1 ? "" : "s", nd->size, nd->size == 1 ? "" : "s");
}

static barlow_status rule_text(const char *who, const barlow_tree *tree, size_t id,
                               const char *const *names, size_t n_names, barlow_buffer *out)
{
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (n_names && !names)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: names is NULL with n_names = %zu", who,
                        n_names);
    if (id >= tree->s.n_nodes)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: node id %zu (the tree has %zu nodes)", who,
                        id, tree->s.n_nodes);
    bw_sb sb;
    bw_sb_init(&sb);
    bw_tree_rule_sentence(&sb, tree, id, names, n_names);
    return bw_sb_finish(&sb, out, who);
}

barlow_status barlow_tree_rule_text(const barlow_tree *tree, size_t id, barlow_buffer *out)
{
    return rule_text("barlow_tree_rule_text", tree, id, NULL, 0, out);
}

barlow_status barlow_tree_rule_text_named(const barlow_tree *tree, size_t id,
                                          const char *const *names, size_t n_names,
                                          barlow_buffer *out)
{
    return rule_text("barlow_tree_rule_text_named", tree, id, names, n_names, out);
}

/* ---- JSON ------------------------------------------------------------------------ */

static void json_summary_fields(bw_sb *sb, const bw_tstats *s)
{
    bw_sb_json_kv_size(sb, "size", s->size);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "failures", s->failures);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "base_error_rate", s->ber);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "aler", s->aler);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "aler_gain", s->aler - s->ber);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "precision", s->precision);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "recall", s->recall);
}

/* "error_rate", "error_coverage", "importance", "p_value" of a node */
static void json_rate_fields(bw_sb *sb, const bw_tnode *nd)
{
    bw_sb_json_kv_double(sb, "error_rate", nd->er);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "error_coverage", nd->ec);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "importance", nd->iv);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "p_value", nd->p);
}

/* "size", "failures" and the rates: a rule's stats, here or held out */
static void json_leaf_fields(bw_sb *sb, const bw_tnode *nd)
{
    bw_sb_json_kv_size(sb, "size", nd->size);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "failures", nd->failures);
    bw_sb_append(sb, ",");
    json_rate_fields(sb, nd);
}

static void json_stats_fields(bw_sb *sb, const bw_tnode *nd)
{
    bw_sb_json_kv_size(sb, "size", nd->size);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "failures", nd->failures);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "weighted_size", nd->wsize);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "weighted_failures", nd->wfail);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "impurity", nd->impurity);
    bw_sb_append(sb, ",");
    json_rate_fields(sb, nd);
    bw_sb_append(sb, ",");
    bw_sb_json_key(sb, "predicts_failure");
    bw_sb_append(sb, nd->predicts_failure ? "true" : "false");
}

static int same_structure(const bw_tstats *a, const bw_tstats *b)
{
    if (a->n_nodes != b->n_nodes) return 0;
    for (size_t i = 0; i < a->n_nodes; i++) {
        const bw_tnode *x = &a->nodes[i], *y = &b->nodes[i];
        if (x->left != y->left || x->right != y->right || x->feature != y->feature) return 0;
        if (!x->is_leaf && x->threshold != y->threshold) return 0;
    }
    return 1;
}

static const char *criterion_name(barlow_criterion c)
{
    return c == BARLOW_CRITERION_GINI ? "gini" : "entropy";
}

static const char *class_weight_name(barlow_class_weight c)
{
    switch (c) {
    case BARLOW_CLASS_WEIGHT_NONE: return "none";
    case BARLOW_CLASS_WEIGHT_GIVEN: return "given";
    default: return "reference";
    }
}

static void build_json(bw_sb *sb, const barlow_tree *t, const barlow_rule_options *ro,
                       const barlow_tree_eval *ho)
{
    const bw_tstats *s = &t->s;
    bw_sb_append(sb, "{");
    json_summary_fields(sb, s);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "node_count", s->n_nodes);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "leaf_count", s->n_leaves);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "depth", (size_t)s->depth);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "input_columns", t->input_cols);
    bw_sb_append(sb, ",");

    bw_sb_json_key(sb, "options");
    bw_sb_append(sb, "{");
    bw_sb_json_kv_size(sb, "max_depth", (size_t)t->opts.max_depth);
    bw_sb_append(sb, ",");
    bw_sb_json_key(sb, "criterion");
    bw_sb_json_string(sb, criterion_name(t->opts.criterion));
    bw_sb_append(sb, ",");
    bw_sb_json_key(sb, "class_weight");
    bw_sb_json_string(sb, class_weight_name(t->opts.class_weight));
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "weight_correct", s->w0);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "weight_failure", s->w1);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "min_samples_split", t->opts.min_samples_split);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "min_samples_leaf", t->opts.min_samples_leaf);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "min_impurity_decrease", t->opts.min_impurity_decrease);
    bw_sb_append(sb, "},");

    bw_sb_json_key(sb, "nodes");
    bw_sb_append(sb, "[");
    for (size_t i = 0; i < s->n_nodes; i++) {
        const bw_tnode *nd = &s->nodes[i];
        if (i) bw_sb_append(sb, ",");
        bw_sb_append(sb, "{");
        bw_sb_json_kv_size(sb, "id", i);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_id(sb, "parent", nd->parent);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_id(sb, "left", nd->left);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_id(sb, "right", nd->right);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_size(sb, "depth", (size_t)nd->depth);
        bw_sb_append(sb, ",");
        bw_sb_json_key(sb, "is_leaf");
        bw_sb_append(sb, nd->is_leaf ? "true" : "false");
        bw_sb_append(sb, ",");
        bw_sb_json_kv_id(sb, "feature", nd->feature);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_double(sb, "threshold", nd->is_leaf ? NAN : nd->threshold);
        bw_sb_append(sb, ",");
        json_stats_fields(sb, nd);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_double(sb, "improvement", nd->improvement);
        if (ho) {
            bw_sb_append(sb, ",");
            bw_sb_json_key(sb, "held_out");
            bw_sb_append(sb, "{");
            json_stats_fields(sb, &ho->s.nodes[i]);
            bw_sb_append(sb, "}");
        }
        bw_sb_append(sb, "}");
    }
    bw_sb_append(sb, "],");

    bw_sb_json_key(sb, "leaves_by_importance");
    bw_sb_append(sb, "[");
    for (size_t i = 0; i < s->n_leaves; i++) bw_sb_appendf(sb, i ? ",%zu" : "%zu", s->rank[i]);
    bw_sb_append(sb, "],");

    bw_sb_json_key(sb, "rule_filter");
    bw_sb_append(sb, "{");
    bw_sb_json_kv_double(sb, "min_coverage", ro->min_coverage);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "min_error_rate", ro->min_error_rate);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "max_p_value", ro->max_p_value);
    bw_sb_append(sb, "},");

    bw_sb_json_key(sb, "rules");
    bw_sb_append(sb, "[");
    int first = 1;
    for (size_t r = 0; r < s->n_leaves; r++) {
        size_t id = s->rank[r];
        if (!bw_tree_rule_passes(s, id, ro)) continue;
        const bw_tnode *nd = &s->nodes[id];
        if (!first) bw_sb_append(sb, ",");
        first = 0;
        bw_sb_append(sb, "{");
        bw_sb_json_kv_size(sb, "leaf", id);
        bw_sb_append(sb, ",");
        bw_sb_json_key(sb, "conditions");
        bw_sb_append(sb, "[");
        size_t path[BARLOW_TREE_MAX_DEPTH + 1];
        size_t depth = (size_t)nd->depth, cur = id;
        for (size_t k = depth; k > 0; k--) {
            path[k - 1] = cur;
            cur = (size_t)s->nodes[cur].parent;
        }
        size_t parent = 0;
        for (size_t k = 0; k < depth; k++) {
            const bw_tnode *p = &s->nodes[parent];
            if (k) bw_sb_append(sb, ",");
            bw_sb_append(sb, "{");
            bw_sb_json_kv_id(sb, "feature", p->feature);
            bw_sb_append(sb, ",");
            bw_sb_json_key(sb, "op");
            bw_sb_json_string(sb, p->left == (int32_t)path[k] ? "<=" : ">");
            bw_sb_append(sb, ",");
            bw_sb_json_kv_double(sb, "threshold", p->threshold);
            bw_sb_append(sb, "}");
            parent = path[k];
        }
        bw_sb_append(sb, "],");
        json_leaf_fields(sb, nd);
        bw_sb_append(sb, ",");
        bw_sb_json_key(sb, "text");
        bw_sb sent;
        bw_sb_init(&sent);
        bw_tree_rule_sentence(&sent, t, id, NULL, 0);
        if (sent.failed) sb->failed = true;
        else bw_sb_json_string(sb, sent.data ? sent.data : "");
        bw_sb_free(&sent);
        if (ho) {
            const bw_tnode *h = &ho->s.nodes[id];
            bw_sb_append(sb, ",");
            bw_sb_json_key(sb, "held_out");
            bw_sb_append(sb, "{");
            json_leaf_fields(sb, h);
            bw_sb_append(sb, "}");
        }
        bw_sb_append(sb, "}");
    }
    bw_sb_append(sb, "]");

    if (ho) {
        bw_sb_append(sb, ",");
        bw_sb_json_key(sb, "held_out");
        bw_sb_append(sb, "{");
        json_summary_fields(sb, &ho->s);
        bw_sb_append(sb, ",");
        bw_sb_json_key(sb, "leaves_by_importance");
        bw_sb_append(sb, "[");
        for (size_t i = 0; i < ho->s.n_leaves; i++)
            bw_sb_appendf(sb, i ? ",%zu" : "%zu", ho->s.rank[i]);
        bw_sb_append(sb, "]}");
    }
    bw_sb_append(sb, "}");
}

static barlow_status json_prepare(const barlow_tree *tree, const barlow_rule_options *rules,
                                  const barlow_tree_eval *held_out, barlow_rule_options *ro,
                                  const char *who)
{
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    barlow_status st = bw_tree_check_rule_options(rules, ro, who);
    if (st) return st;
    if (held_out && (held_out->input_cols != tree->input_cols ||
                     !same_structure(&tree->s, &held_out->s)))
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: held_out is an evaluation of a different tree", who);
    return BARLOW_OK;
}

barlow_status barlow_tree_to_json(const barlow_tree *tree, const barlow_rule_options *rules,
                                  const barlow_tree_eval *held_out, barlow_buffer *out)
{
    static const char who[] = "barlow_tree_to_json";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_rule_options ro;
    barlow_status st = json_prepare(tree, rules, held_out, &ro, who);
    if (st) return st;
    bw_sb sb;
    bw_sb_init(&sb);
    build_json(&sb, tree, &ro, held_out);
    return bw_sb_finish(&sb, out, who);
}

barlow_status barlow_tree_save_json(const barlow_tree *tree, const barlow_rule_options *rules,
                                    const barlow_tree_eval *held_out, const char *path)
{
    static const char who[] = "barlow_tree_save_json";
    bw_clear_error();
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    barlow_rule_options ro;
    barlow_status st = json_prepare(tree, rules, held_out, &ro, who);
    if (st) return st;
    bw_sb sb;
    bw_sb_init(&sb);
    build_json(&sb, tree, &ro, held_out);
    bw_sb_append(&sb, "\n");
    return bw_sb_save(&sb, path, who);
}

/* ---- DOT -------------------------------------------------------------------------- */

barlow_status barlow_tree_to_dot(const barlow_tree *tree, barlow_buffer *out)
{
    static const char who[] = "barlow_tree_to_dot";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    const bw_tstats *s = &tree->s;
    bw_sb sb;
    bw_sb_init(&sb);
    bw_sb_append(&sb, "digraph barlow_tree {\n"
                      "  node [shape=box, style=\"rounded,filled\", fillcolor=white, "
                      "fontname=\"Helvetica\"];\n"
                      "  edge [fontname=\"Helvetica\"];\n");
    bw_sb_appendf(&sb, "  label=\"%zu images, %zu failures, BER %.4f, ALER %.4f\";\n", s->size,
                  s->failures, s->ber, s->aler);
    for (size_t i = 0; i < s->n_nodes; i++) {
        const bw_tnode *nd = &s->nodes[i];
        bw_sb_appendf(&sb, "  n%zu [label=\"", i);
        if (!nd->is_leaf)
            bw_sb_appendf(&sb, "feature %lld \xe2\x89\xa4 %.6g\\n", (long long)nd->feature,
                          nd->threshold);
        else
            bw_sb_appendf(&sb, "leaf %zu\\n", i);
        bw_sb_appendf(&sb, "size %zu, failures %zu\\nER %.4f, EC %.4f", nd->size, nd->failures,
                      nd->er, nd->ec);
        if (nd->is_leaf) bw_sb_appendf(&sb, "\\nIV %.4f, p %.3g", nd->iv, nd->p);
        bw_sb_append(&sb, "\"");
        if (nd->is_leaf && nd->predicts_failure) bw_sb_append(&sb, ", fillcolor=\"#f4a6a6\"");
        bw_sb_append(&sb, "];\n");
    }
    for (size_t i = 0; i < s->n_nodes; i++) {
        const bw_tnode *nd = &s->nodes[i];
        if (nd->is_leaf) continue;
        bw_sb_appendf(&sb, "  n%zu -> n%d [label=\"\xe2\x89\xa4\"];\n", i, (int)nd->left);
        bw_sb_appendf(&sb, "  n%zu -> n%d [label=\">\"];\n", i, (int)nd->right);
    }
    bw_sb_append(&sb, "}\n");
    return bw_sb_finish(&sb, out, who);
}
