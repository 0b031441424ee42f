/* barlow_analysis_serialize / barlow_analysis_deserialize: an analysis
 * (full or partial) as versioned little-endian bytes (docs/formats.md,
 * "Binary tree and analysis"), read back as hostile input.
 *
 * Stored: the sizes and options, the classes present (id, name), and per
 * group (in the plan's order, which gives its grouping and class) its size,
 * failures, status, selection and trees (barlow_tree_serialize()'s bytes).
 * Derived again, never read: each group's identity and BER, the results
 * (from the trees, by the code barlow_analysis_run uses) and the evaluation. */
#include <stdlib.h>
#include <string.h>

#include "analysis_internal.h"
#include "selector_check.h"
#include "serial.h"
#include "tree_internal.h"

static const char ANALYSIS_MAGIC[8] = {'B', 'A', 'R', 'L', 'O', 'W', 'A', 'N'};
enum { ANALYSIS_FORMAT_VERSION = 1 };

/* ---- writing -------------------------------------------------------------------- */

static void write_header(bw_sb *sb, const barlow_analysis *a)
{
    bw_sb_appendn(sb, ANALYSIS_MAGIC, sizeof ANALYSIS_MAGIC);
    bw_put_u32(sb, ANALYSIS_FORMAT_VERSION);
    bw_put_u64(sb, a->n_rows);
    bw_put_u64(sb, a->d);
    bw_put_u64(sb, a->n_classes);
    bw_put_u32(sb, a->groupings);
    bw_put_u64(sb, a->k);
    bw_put_u32(sb, (uint32_t)a->estimator);
    bw_put_u64(sb, a->n_neighbors);
    bw_put_u32(sb, a->seed);
    bw_put_f64(sb, a->delta);
    bw_put_f64(sb, a->gamma);
    bw_put_u64(sb, a->min_group_size);
    bw_tree_write_options(sb, &a->topts);
    bw_put_f64(sb, a->ropts.min_coverage);
    bw_put_f64(sb, a->ropts.min_error_rate);
    bw_put_f64(sb, a->ropts.max_p_value);
    bw_put_u32(sb, (uint32_t)a->n_depths);
    for (size_t j = 0; j < a->n_depths; j++) bw_put_i32(sb, a->depths[j]);
}

static void write_group(bw_sb *sb, const barlow_analysis *a, const bw_agroup *g)
{
    bw_put_u64(sb, g->size);
    bw_put_u64(sb, g->failures);
    bw_put_u32(sb, (uint32_t)g->status);
    bw_put_u64(sb, g->n_top);
    for (size_t t = 0; t < g->n_top; t++) {
        bw_put_u64(sb, g->top[t]);
        bw_put_f64(sb, g->top_scores[t]);
    }
    for (size_t j = 0; j < a->n_depths; j++) {
        if (!g->trees[j]) {
            bw_put_u64(sb, 0);
            continue;
        }
        size_t at = sb->len;
        bw_put_u64(sb, 0); /* the length, filled in below */
        bw_tree_write(sb, g->trees[j]);
        if (sb->failed) return;
        uint64_t len = sb->len - at - 8;
        for (size_t b = 0; b < 8; b++) sb->data[at + b] = (char)(uint8_t)(len >> (8 * b));
    }
}

barlow_status barlow_analysis_serialize(const barlow_analysis *a, barlow_buffer *out)
{
    static const char who[] = "barlow_analysis_serialize";
    bw_clear_error();
    if (!a || !out) return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, a ? "out" : "a");
    bw_sb sb;
    bw_sb_init(&sb);
    write_header(&sb, a);
    bw_put_u64(&sb, a->n_present);
    for (size_t c = 0; c < a->n_present; c++) {
        /* the class id: that of the groups with this index (every grouping
         * lists every present class) */
        bw_put_i32(&sb, a->g[c].cls);
        bw_put_str(&sb, a->names[c]);
    }
    bw_put_u64(&sb, a->n_groups);
    for (size_t i = 0; i < a->n_groups; i++) write_group(&sb, a, &a->g[i]);
    return bw_sb_finish(&sb, out, who);
}

/* ---- reading: header and classes --------------------------------------------------- */

/* The sizes and options, checked as barlow_analysis_run checks them (its
 * message becomes the FORMAT message). */
static barlow_status read_header(bw_rd *r, barlow_analysis *a)
{
    uint32_t version = 0, estimator = 0, n_depths = 0;
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    barlow_tree_options to;
    barlow_rule_options ro;
    barlow_rule_options_init(&ro);
    barlow_status st = bw_get_header(r, ANALYSIS_MAGIC, ANALYSIS_FORMAT_VERSION, "analysis",
                                     &version);
    size_t opts_at = r->off;
    if (st == BARLOW_OK) st = bw_get_size(r, &a->n_rows, SIZE_MAX, "rows");
    if (st == BARLOW_OK) st = bw_get_size(r, &a->d, (size_t)INT64_MAX, "columns");
    if (st == BARLOW_OK) st = bw_get_size(r, &a->n_classes, (size_t)INT32_MAX + 1, "classes");
    if (st == BARLOW_OK) st = bw_get_u32(r, &o.groupings, "groupings");
    if (st == BARLOW_OK) st = bw_get_size(r, &o.k, SIZE_MAX, "k");
    if (st == BARLOW_OK) st = bw_get_u32(r, &estimator, "estimator");
    if (st == BARLOW_OK)
        st = bw_get_size(r, &o.n_neighbors, BW_SELECTOR_MAX_NEIGHBORS, "n_neighbors");
    if (st == BARLOW_OK) st = bw_get_u32(r, &o.seed, "seed");
    if (st == BARLOW_OK) st = bw_get_f64(r, &o.delta, "delta");
    if (st == BARLOW_OK) st = bw_get_f64(r, &o.gamma, "gamma");
    if (st == BARLOW_OK) st = bw_get_size(r, &o.min_group_size, SIZE_MAX, "min_group_size");
    if (st == BARLOW_OK) st = bw_tree_read_options(r, &to);
    if (st == BARLOW_OK) st = bw_get_f64(r, &ro.min_coverage, "min_coverage");
    if (st == BARLOW_OK) st = bw_get_f64(r, &ro.min_error_rate, "min_error_rate");
    if (st == BARLOW_OK) st = bw_get_f64(r, &ro.max_p_value, "max_p_value");
    size_t dep_at = r->off;
    if (st == BARLOW_OK) st = bw_get_u32(r, &n_depths, "the number of depths");
    if (st != BARLOW_OK) return st;
    if (n_depths < 1 || n_depths > BARLOW_ANALYSIS_MAX_DEPTHS)
        return bw_rd_fail(r, dep_at, "%u depths (must be 1..%d)", (unsigned)n_depths,
                          (int)BARLOW_ANALYSIS_MAX_DEPTHS);
    int32_t depths[BARLOW_ANALYSIS_MAX_DEPTHS];
    for (uint32_t j = 0; j < n_depths && st == BARLOW_OK; j++)
        st = bw_get_i32(r, &depths[j], "a depth");
    if (st != BARLOW_OK) return st;
    o.estimator = (barlow_estimator)estimator;
    o.tree = &to;
    o.rules = &ro;
    o.depths = depths;
    o.n_depths = n_depths;
    if (bw_analysis_check_options(&o, a->d, a, r->who) != BARLOW_OK)
        return bw_rd_fail_last(r, opts_at, "the options");
    return BARLOW_OK;
}

/* The classes present: ids ascending below the class count, and names. */
static barlow_status read_classes(bw_rd *r, barlow_analysis *a, int32_t **ids)
{
    size_t n = 0;
    barlow_status st = bw_get_size(r, &n, SIZE_MAX, "the number of classes present");
    if (st == BARLOW_OK) st = bw_rd_need(r, n, 8, "classes present");
    if (st != BARLOW_OK) return st;
    a->names = bw_calloc(n, sizeof *a->names, r->who);
    *ids = bw_mallocn(n, sizeof **ids, r->who);
    if (!a->names || !*ids) return BARLOW_E_NOMEM;
    a->n_present = n;
    for (size_t c = 0; c < n && st == BARLOW_OK; c++) {
        size_t at = r->off;
        st = bw_get_i32(r, &(*ids)[c], "a class id");
        if (st != BARLOW_OK) break;
        int32_t id = (*ids)[c];
        if (id < 0 || (size_t)id >= a->n_classes || (c > 0 && id <= (*ids)[c - 1]))
            return bw_rd_fail(r, at, "class id %d (ids must be ascending, 0..%zu)", (int)id,
                              a->n_classes - 1);
        st = bw_get_str(r, SIZE_MAX, &a->names[c], "a class name");
    }
    return st;
}

/* ---- reading: groups ---------------------------------------------------------------- */

/* "label/<name>" or "prediction/<name>": how messages name a group. */
static const char *group_name(const barlow_analysis *a, const bw_agroup *g, char *buf,
                              size_t size)
{
    snprintf(buf, size, "%s/%s", g->by == BARLOW_GROUP_BY_LABEL ? "label" : "prediction",
             a->names[g->ci]);
    return buf;
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return (a > b) - (a < b);
}

/* Size, failures, status and selection of group g (identity set). */
static barlow_status read_group_head(bw_rd *r, barlow_analysis *a, bw_agroup *g)
{
    char gbuf[96];
    const char *gn = group_name(a, g, gbuf, sizeof gbuf);
    size_t at = r->off;
    uint32_t status = 0;
    char what[4][160];
    static const char *const field[4] = {"size", "failures", "status", "selection size"};
    for (int f = 0; f < 4; f++)
        snprintf(what[f], sizeof what[f], "the %s of group %s", field[f], gn);
    barlow_status st = bw_get_size(r, &g->size, a->n_rows, what[0]);
    if (st == BARLOW_OK) st = bw_get_size(r, &g->failures, g->size, what[1]);
    if (st == BARLOW_OK) st = bw_get_u32(r, &status, what[2]);
    if (st == BARLOW_OK) st = bw_get_size(r, &g->n_top, a->d, what[3]);
    if (st != BARLOW_OK) return st;
    g->ber = g->size ? (double)g->failures / (double)g->size : 0.0;
    barlow_analysis_status plan = bw_analysis_plan_status(a, g->size, g->failures);
    if (status != BARLOW_ANALYSIS_PENDING && status != (uint32_t)plan)
        return bw_rd_fail(r, at, "group %s: status %u, but %zu rows with %zu "
                          "failures give %d (or %d, pending)", gn, (unsigned)status,
                          g->size, g->failures, (int)plan, (int)BARLOW_ANALYSIS_PENDING);
    g->status = (barlow_analysis_status)status;
    size_t want = g->status == BARLOW_ANALYSIS_ANALYSED ? a->k : 0;
    if (g->n_top != want)
        return bw_rd_fail(r, at, "group %s selects %zu features (its status needs %zu)",
                          gn, g->n_top, want);
    if (g->n_top == 0) return BARLOW_OK;
    st = bw_rd_need(r, g->n_top, 16, "selected features");
    if (st != BARLOW_OK) return st;
    g->top = bw_mallocn(g->n_top, sizeof *g->top, r->who);
    g->top_scores = bw_mallocn(g->n_top, sizeof *g->top_scores, r->who);
    if (!g->top || !g->top_scores) return BARLOW_E_NOMEM;
    for (size_t t = 0; t < g->n_top && st == BARLOW_OK; t++) {
        st = bw_get_size(r, &g->top[t], a->d - 1, "a selected feature");
        if (st == BARLOW_OK) st = bw_get_finite(r, &g->top_scores[t], "a selection score");
    }
    return st;
}

/* Checks that tree t fits group g at depth index j: its rows and failures,
 * the analysis' columns, the options barlow_analysis_run fits it with, and its
 * split features among the group's selection (sorted in `sel`). */
static barlow_status check_tree(const bw_rd *r, size_t at, const barlow_analysis *a,
                                const bw_agroup *g, size_t j, const barlow_tree *t,
                                const size_t *sel)
{
    char gbuf[96];
    const char *gn = group_name(a, g, gbuf, sizeof gbuf);
    barlow_tree_options want;
    bw_analysis_tree_options(a, g, j, &want);
    const barlow_tree_options *o = &t->opts;
    if (t->s.size != g->size || t->s.failures != g->failures || t->input_cols != a->d)
        return bw_rd_fail(r, at, "tree of group %s: %zu rows, %zu failures, %zu "
                          "columns (the group: %zu, %zu, %zu)", gn, t->s.size,
                          t->s.failures, t->input_cols, g->size, g->failures, a->d);
    if (o->max_depth != want.max_depth || o->criterion != want.criterion ||
        o->class_weight != want.class_weight || o->weight_correct != want.weight_correct ||
        o->weight_failure != want.weight_failure ||
        o->min_samples_split != want.min_samples_split ||
        o->min_samples_leaf != want.min_samples_leaf ||
        o->min_impurity_decrease != want.min_impurity_decrease)
        return bw_rd_fail(r, at, "tree of group %s at depth %d: not fitted with "
                          "the analysis' tree options", gn, (int)a->depths[j]);
    for (size_t i = 0; i < t->s.n_nodes; i++) {
        const bw_tnode *nd = &t->s.nodes[i];
        size_t f = (size_t)nd->feature;
        if (!nd->is_leaf && (!sel || !bsearch(&f, sel, g->n_top, sizeof f, cmp_size)))
            return bw_rd_fail(r, at, "tree of group %s splits node %zu on "
                              "feature %zu, which the group did not select", gn, i,
                              f);
    }
    return BARLOW_OK;
}

/* Group g's trees (present exactly when it has rows and is not pending),
 * each checked against g, and the results they give. */
static barlow_status read_group_trees(bw_rd *r, barlow_analysis *a, bw_agroup *g)
{
    char gbuf[96];
    const char *gn = group_name(a, g, gbuf, sizeof gbuf);
    size_t *sel = NULL;
    barlow_status st = BARLOW_OK;
    if (g->n_top) {
        sel = bw_mallocn(g->n_top, sizeof *sel, r->who);
        if (!sel) return BARLOW_E_NOMEM;
        memcpy(sel, g->top, g->n_top * sizeof *sel);
        qsort(sel, g->n_top, sizeof *sel, cmp_size);
        for (size_t t = 1; t < g->n_top && st == BARLOW_OK; t++)
            if (sel[t] == sel[t - 1])
                st = bw_rd_fail(r, r->off, "group %s selects feature %zu twice",
                                gn, sel[t]);
    }
    int has = g->size > 0 && g->status != BARLOW_ANALYSIS_PENDING;
    for (size_t j = 0; j < a->n_depths && st == BARLOW_OK; j++) {
        size_t at = r->off, len = 0;
        st = bw_get_size(r, &len, SIZE_MAX, "a tree's length");
        if (st == BARLOW_OK && len > bw_rd_left(r))
            st = bw_rd_fail(r, at, "a tree of %zu bytes but %zu are left (truncated?)", len,
                            bw_rd_left(r));
        if (st == BARLOW_OK && (len > 0) != has)
            st = bw_rd_fail(r, at, "group %s (status %d, %zu rows) %s a tree",
                            gn, (int)g->status, g->size, has ? "lacks" : "has");
        if (st != BARLOW_OK || !has) continue;
        bw_rd sub = {r->p + r->off, len, 0, r->base + r->off, r->who};
        st = bw_tree_read(&sub, &g->trees[j]);
        if (st == BARLOW_OK && bw_rd_left(&sub) > 0)
            st = bw_rd_fail(&sub, sub.off, "trailing bytes after the end of the tree (%zu)",
                            bw_rd_left(&sub));
        if (st == BARLOW_OK) st = check_tree(r, r->off, a, g, j, g->trees[j], sel);
        if (st == BARLOW_OK) st = bw_analysis_fill_result(a, g, j, r->who);
        r->off += len;
    }
    bw_free(sel);
    return st;
}

/* The groups in the plan's order; sizes add up to the rows per grouping,
 * and both groupings count the same failures. */
static barlow_status read_groups(bw_rd *r, barlow_analysis *a, const int32_t *ids)
{
    size_t at = r->off, n = 0, m = a->n_present;
    size_t per_grouping = a->groupings == BARLOW_ANALYSIS_BY_BOTH ? 2 : 1;
    barlow_status st = bw_get_size(r, &n, SIZE_MAX, "the number of groups");
    if (st == BARLOW_OK && (m == 0 ? n != 0 : n / m != per_grouping || n % m != 0))
        st = bw_rd_fail(r, at, "%zu groups (the plan has %zu classes x %zu groupings)", n, m,
                        per_grouping);
    if (st == BARLOW_OK) st = bw_rd_need(r, n, 28 + 8 * a->n_depths, "groups");
    if (st != BARLOW_OK) return st;
    a->g = bw_calloc(n, sizeof *a->g, r->who);
    if (!a->g) return BARLOW_E_NOMEM;
    a->n_groups = n;
    size_t rows[2] = {0, 0}, fails[2] = {0, 0};
    for (size_t i = 0; i < n && st == BARLOW_OK; i++) {
        bw_agroup *g = &a->g[i];
        size_t b = i / m;
        g->by = (a->groupings == BARLOW_ANALYSIS_BY_PREDICTION || b == 1)
                    ? BARLOW_GROUP_BY_PREDICTION : BARLOW_GROUP_BY_LABEL;
        g->ci = i % m;
        g->cls = ids[g->ci];
        st = bw_analysis_group_alloc(a, g, r->who);
        if (st == BARLOW_OK) st = read_group_head(r, a, g);
        if (st == BARLOW_OK) st = read_group_trees(r, a, g);
        if (st == BARLOW_OK && g->size > a->n_rows - rows[b])
            st = bw_rd_fail(r, r->off, "the groups hold more than the %zu rows", a->n_rows);
        rows[b] += g->size;
        fails[b] += g->failures;
    }
    for (size_t b = 0; b < per_grouping && st == BARLOW_OK; b++)
        if (rows[b] != a->n_rows || fails[b] != fails[0])
            st = bw_rd_fail(r, at, "the groups of grouping %zu hold %zu rows and %zu failures "
                            "(must be the %zu rows, and the same failures in each grouping)",
                            b, rows[b], fails[b], a->n_rows);
    return st;
}

barlow_status barlow_analysis_deserialize(const void *data, size_t size, barlow_analysis **out)
{
    static const char who[] = "barlow_analysis_deserialize";
    bw_clear_error();
    if (!data || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, data ? "out" : "data");
    bw_rd r = {data, size, 0, 0, who};
    int32_t *ids = NULL;
    barlow_analysis *a = bw_calloc(1, sizeof *a, who);
    if (!a) return BARLOW_E_NOMEM;
    barlow_status st = read_header(&r, a);
    if (st == BARLOW_OK) st = read_classes(&r, a, &ids);
    if (st == BARLOW_OK) st = read_groups(&r, a, ids);
    if (st == BARLOW_OK && bw_rd_left(&r) > 0)
        st = bw_rd_fail(&r, r.off, "trailing bytes after the end of the analysis (%zu)",
                        bw_rd_left(&r));
    bw_free(ids);
    if (st != BARLOW_OK) {
        barlow_analysis_free(a);
        return st;
    }
    bw_analysis_evaluate(a);
    *out = a;
    return BARLOW_OK;
}
