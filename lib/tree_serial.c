/* barlow_tree_serialize / barlow_tree_deserialize: a fitted tree as
 * versioned little-endian bytes (docs/formats.md, "Binary tree and
 * analysis"), read back as hostile input; and the deep copy the analysis'
 * merge uses.
 *
 * Only what the fit decided is stored: the options, the input width, the
 * child links, split features, thresholds and improvements, every node's
 * size and failures, and the training rows and failure flags. Everything
 * else (parents, depths, row segments, weights, impurities, ER/EC/IV,
 * p-values, the ranking) is derived again by the code the fit uses, so a
 * copy is bit-identical and can never disagree with itself. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serial.h"
#include "split.h"
#include "tree_internal.h"

static const char TREE_MAGIC[8] = {'B', 'A', 'R', 'L', 'O', 'W', 'T', 'R'};
enum { TREE_FORMAT_VERSION = 1, NODE_BYTES = 48 };

/* ---- writing -------------------------------------------------------------------- */

void bw_tree_write_options(bw_sb *sb, const barlow_tree_options *o)
{
    bw_put_i32(sb, o->max_depth);
    bw_put_u32(sb, (uint32_t)o->criterion);
    bw_put_u32(sb, (uint32_t)o->class_weight);
    bw_put_f64(sb, o->weight_correct);
    bw_put_f64(sb, o->weight_failure);
    bw_put_u64(sb, o->min_samples_split);
    bw_put_u64(sb, o->min_samples_leaf);
    bw_put_f64(sb, o->min_impurity_decrease);
}

void bw_tree_write(bw_sb *sb, const barlow_tree *t)
{
    bw_sb_appendn(sb, TREE_MAGIC, sizeof TREE_MAGIC);
    bw_put_u32(sb, TREE_FORMAT_VERSION);
    bw_tree_write_options(sb, &t->opts);
    bw_put_u64(sb, t->input_cols);
    bw_put_u64(sb, t->s.size);
    bw_put_u64(sb, t->s.n_nodes);
    for (size_t i = 0; i < t->s.n_nodes; i++) {
        const bw_tnode *nd = &t->s.nodes[i];
        bw_put_i32(sb, nd->left);
        bw_put_i32(sb, nd->right);
        bw_put_i64(sb, nd->feature);
        bw_put_f64(sb, nd->threshold);
        bw_put_f64(sb, nd->improvement);
        bw_put_u64(sb, nd->size);
        bw_put_u64(sb, nd->failures);
    }
    for (size_t i = 0; i < t->s.size; i++) bw_put_u32(sb, t->rows[i]);
    bw_sb_appendn(sb, (const char *)t->fail, t->s.size);
}

barlow_status barlow_tree_serialize(const barlow_tree *tree, barlow_buffer *out)
{
    static const char who[] = "barlow_tree_serialize";
    bw_clear_error();
    if (!tree || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, tree ? "out" : "tree");
    bw_sb sb;
    bw_sb_init(&sb);
    bw_tree_write(&sb, tree);
    return bw_sb_finish(&sb, out, who);
}

/* ---- reading: options and nodes --------------------------------------------------- */

/* The options, checked by the fit's own rules (so that every fitted tree
 * reads back); the fit's message becomes the FORMAT message. */
barlow_status bw_tree_read_options(bw_rd *r, barlow_tree_options *o)
{
    size_t at = r->off;
    barlow_tree_options in;
    barlow_tree_options_init(&in);
    uint32_t crit = 0, cw = 0;
    uint64_t split = 0, leaf = 0;
    barlow_status st = bw_get_i32(r, &in.max_depth, "max_depth");
    if (st == BARLOW_OK) st = bw_get_u32(r, &crit, "criterion");
    if (st == BARLOW_OK) st = bw_get_u32(r, &cw, "class_weight");
    if (st == BARLOW_OK) st = bw_get_f64(r, &in.weight_correct, "weight_correct");
    if (st == BARLOW_OK) st = bw_get_f64(r, &in.weight_failure, "weight_failure");
    if (st == BARLOW_OK) st = bw_get_u64(r, &split, "min_samples_split");
    if (st == BARLOW_OK) st = bw_get_u64(r, &leaf, "min_samples_leaf");
    if (st == BARLOW_OK) st = bw_get_f64(r, &in.min_impurity_decrease, "min_impurity_decrease");
    if (st != BARLOW_OK) return st;
    if (crit > 1 || cw > 2 || split > SIZE_MAX || leaf > SIZE_MAX)
        return bw_rd_fail(r, at, "tree options: criterion=%u (0..1), class_weight=%u (0..2), "
                          "min_samples_split=%llu, min_samples_leaf=%llu", (unsigned)crit,
                          (unsigned)cw, (unsigned long long)split, (unsigned long long)leaf);
    in.criterion = (barlow_criterion)crit;
    in.class_weight = (barlow_class_weight)cw;
    in.min_samples_split = (size_t)split;
    in.min_samples_leaf = (size_t)leaf;
    if (bw_tree_check_options(&in, 0, o, r->who) != BARLOW_OK)
        return bw_rd_fail_last(r, at, "tree options");
    return BARLOW_OK;
}

/* One node's stored fields; leaves must look like the fit's leaves. */
static barlow_status read_node(bw_rd *r, size_t id, size_t input_cols, bw_tnode *nd)
{
    size_t at = r->off;
    uint64_t size = 0, fails = 0;
    barlow_status st = bw_get_i32(r, &nd->left, "a node's left child");
    if (st == BARLOW_OK) st = bw_get_i32(r, &nd->right, "a node's right child");
    if (st == BARLOW_OK) st = bw_get_i64(r, &nd->feature, "a node's feature");
    if (st == BARLOW_OK) st = bw_get_f64(r, &nd->threshold, "a node's threshold");
    if (st == BARLOW_OK) st = bw_get_f64(r, &nd->improvement, "a node's improvement");
    if (st == BARLOW_OK) st = bw_get_u64(r, &size, "a node's size");
    if (st == BARLOW_OK) st = bw_get_u64(r, &fails, "a node's failures");
    if (st != BARLOW_OK) return st;
    if (size > UINT32_MAX || fails > size)
        return bw_rd_fail(r, at, "node %zu: size %llu, failures %llu (failures <= size < 2^32)",
                          id, (unsigned long long)size, (unsigned long long)fails);
    nd->size = (size_t)size;
    nd->failures = (size_t)fails;
    nd->is_leaf = nd->left == -1;
    if (nd->is_leaf) {
        if (nd->right != -1 || nd->feature != -1 || !isnan(nd->threshold) ||
            nd->improvement != 0.0)
            return bw_rd_fail(r, at, "node %zu: a leaf (left -1) needs right -1, feature -1, "
                              "a NaN threshold and improvement 0", id);
        return BARLOW_OK;
    }
    if (nd->feature < 0 || (uint64_t)nd->feature >= (uint64_t)input_cols)
        return bw_rd_fail(r, at, "node %zu: feature %lld is not a column (0..%zu)", id,
                          (long long)nd->feature, input_cols - 1);
    if (!isfinite(nd->threshold) || !isfinite(nd->improvement))
        return bw_rd_fail(r, at, "node %zu: threshold %g and improvement %g must be finite",
                          id, nd->threshold, nd->improvement);
    return BARLOW_OK;
}

typedef struct link_item {
    int32_t parent, depth;
    int is_left;
} link_item;

/* Derives parent and depth from the child links, checking that they number
 * the nodes in pre-order, left child first, as the fit does (which also
 * rules out cycles, shared children and ids out of range), and that no
 * split lies below max_depth. `at` is the offset of node 0. */
static barlow_status link_nodes(const bw_rd *r, size_t at, bw_tstats *s, int32_t max_depth)
{
    link_item stack[2 * BARLOW_TREE_MAX_DEPTH + 2];
    size_t top = 0, next = 0;
    stack[top++] = (link_item){-1, 0, 0};
    while (top > 0) {
        link_item it = stack[--top];
        if (next >= s->n_nodes)
            return bw_rd_fail(r, at, "the child links reach more than the %zu nodes",
                              s->n_nodes);
        size_t id = next++;
        bw_tnode *nd = &s->nodes[id];
        if (it.parent >= 0) {
            const bw_tnode *p = &s->nodes[it.parent];
            int32_t link = it.is_left ? p->left : p->right;
            if (link != (int32_t)id)
                return bw_rd_fail(r, at + (size_t)it.parent * NODE_BYTES,
                                  "node %d: %s child %d (pre-order numbering, left child "
                                  "first, makes it %zu)", (int)it.parent,
                                  it.is_left ? "left" : "right", (int)link, id);
        }
        nd->parent = it.parent;
        nd->depth = it.depth;
        if (nd->is_leaf) continue;
        if (it.depth >= max_depth)
            return bw_rd_fail(r, at + id * NODE_BYTES,
                              "node %zu at depth %d splits but max_depth is %d", id,
                              (int)it.depth, (int)max_depth);
        stack[top++] = (link_item){(int32_t)id, it.depth + 1, 0};
        stack[top++] = (link_item){(int32_t)id, it.depth + 1, 1};
    }
    if (next != s->n_nodes)
        return bw_rd_fail(r, at, "%zu nodes but the child links reach only %zu", s->n_nodes,
                          next);
    return BARLOW_OK;
}

/* Children's sizes add up to their parent's (root: every row), so every
 * node's row segment [start, start + size) lies inside its parent's. */
static barlow_status check_sizes(const bw_rd *r, size_t at, bw_tstats *s)
{
    if (s->nodes[0].size != s->size)
        return bw_rd_fail(r, at, "the root has %zu rows but the tree %zu", s->nodes[0].size,
                          s->size);
    s->nodes[0].start = 0;
    for (size_t i = 0; i < s->n_nodes; i++) {
        bw_tnode *nd = &s->nodes[i];
        if (nd->size == 0)
            return bw_rd_fail(r, at + i * NODE_BYTES, "node %zu has no rows", i);
        if (nd->is_leaf) continue;
        bw_tnode *L = &s->nodes[nd->left], *R = &s->nodes[nd->right];
        if (L->size > nd->size || R->size != nd->size - L->size)
            return bw_rd_fail(r, at + i * NODE_BYTES,
                              "node %zu has %zu rows but its children %zu and %zu", i,
                              nd->size, L->size, R->size);
        L->start = nd->start;
        R->start = nd->start + L->size;
    }
    return BARLOW_OK;
}

/* ---- reading: rows ---------------------------------------------------------------- */

/* The rows are a permutation of 0..n-1, ascending within each leaf; the
 * flags are 0/1; every node's failures are the flags of its rows. */
static barlow_status check_rows(const bw_rd *r, size_t rows_at, const barlow_tree *t)
{
    size_t n = t->s.size;
    size_t flags_at = rows_at + 4 * n;
    uint8_t *seen = bw_calloc(n, 1, r->who);
    if (!seen) return BARLOW_E_NOMEM;
    barlow_status st = BARLOW_OK;
    for (size_t k = 0; k < n && st == BARLOW_OK; k++) {
        uint32_t row = t->rows[k];
        if (row >= n || seen[row])
            st = bw_rd_fail(r, rows_at + 4 * k, "row %u %s (the rows must be a permutation "
                            "of 0..%zu)", (unsigned)row, row >= n ? "is out of range"
                                                                  : "is listed twice", n - 1);
        else seen[row] = 1;
    }
    bw_free(seen);
    for (size_t k = 0; k < n && st == BARLOW_OK; k++)
        if (t->fail[k] > 1)
            st = bw_rd_fail(r, flags_at + k, "failure flag of row %zu is %u (must be 0 or 1)",
                            k, (unsigned)t->fail[k]);
    for (size_t i = 0; i < t->s.n_nodes && st == BARLOW_OK; i++) {
        const bw_tnode *nd = &t->s.nodes[i];
        size_t f = 0;
        for (size_t k = nd->start; k < nd->start + nd->size; k++) {
            f += t->fail[t->rows[k]];
            if (nd->is_leaf && k > nd->start && t->rows[k] <= t->rows[k - 1]) {
                st = bw_rd_fail(r, rows_at + 4 * k, "the rows of leaf %zu are not ascending",
                                i);
                break;
            }
        }
        if (st == BARLOW_OK && f != nd->failures)
            st = bw_rd_fail(r, rows_at, "node %zu says %zu failures but its rows have %zu", i,
                            nd->failures, f);
    }
    return st;
}

/* The numbers the fit derives: weights, impurities, then every statistic. */
static barlow_status derive_stats(barlow_tree *t, const char *who)
{
    bw_tstats *s = &t->s;
    s->failures = s->nodes[0].failures;
    bw_tree_class_weights(&t->opts, s->failures, s->size - s->failures, &s->w0, &s->w1);
    bw_criterion crit = t->opts.criterion == BARLOW_CRITERION_GINI ? BW_CRITERION_GINI
                                                                   : BW_CRITERION_ENTROPY;
    for (size_t i = 0; i < s->n_nodes; i++) {
        bw_tnode *nd = &s->nodes[i];
        nd->impurity = bw_impurity((double)(nd->size - nd->failures) * s->w0,
                                   (double)nd->failures * s->w1, crit);
    }
    return bw_tree_compute_stats(s, who);
}

/* The counts after the options: input columns, rows and nodes, each
 * bounded by the others and by the bytes that must follow. */
static barlow_status read_counts(bw_rd *r, const barlow_tree_options *o, size_t *cols,
                                 size_t *n, size_t *n_nodes)
{
    size_t cols_at = r->off;
    barlow_status st = bw_get_size(r, cols, (size_t)INT64_MAX, "input_columns");
    if (st == BARLOW_OK) st = bw_get_size(r, n, UINT32_MAX, "rows");
    size_t at = r->off;
    if (st == BARLOW_OK) st = bw_get_size(r, n_nodes, SIZE_MAX, "node_count");
    if (st != BARLOW_OK) return st;
    if (*cols == 0 || *n == 0)
        return bw_rd_fail(r, cols_at, "input_columns=%zu, rows=%zu (both must be >= 1)",
                          *cols, *n);
    size_t cap = ((size_t)1 << (o->max_depth + 1)) - 1;
    if (cap > 2 * *n - 1) cap = 2 * *n - 1;
    if (*n_nodes < 1 || *n_nodes > cap)
        return bw_rd_fail(r, at, "node_count=%zu (must be 1..%zu for %zu rows and max_depth "
                          "%d)", *n_nodes, cap, *n, (int)o->max_depth);
    st = bw_rd_need(r, *n_nodes, NODE_BYTES, "nodes");
    if (st == BARLOW_OK && bw_rd_left(r) - *n_nodes * NODE_BYTES < *n * 5)
        st = bw_rd_fail(r, r->off, "%zu nodes and %zu rows need %zu bytes but %zu are left",
                        *n_nodes, *n, *n_nodes * NODE_BYTES + *n * 5, bw_rd_left(r));
    return st;
}

barlow_status bw_tree_read(bw_rd *r, barlow_tree **out)
{
    uint32_t version;
    barlow_tree_options o;
    size_t cols = 0, n = 0, n_nodes = 0;
    barlow_status st = bw_get_header(r, TREE_MAGIC, TREE_FORMAT_VERSION, "tree", &version);
    if (st == BARLOW_OK) st = bw_tree_read_options(r, &o);
    if (st == BARLOW_OK) st = read_counts(r, &o, &cols, &n, &n_nodes);
    if (st != BARLOW_OK) return st;
    barlow_tree *t = bw_calloc(1, sizeof *t, r->who);
    if (t) t->s.nodes = bw_calloc(n_nodes, sizeof *t->s.nodes, r->who);
    if (t && t->s.nodes) t->rows = bw_mallocn(n, sizeof *t->rows, r->who);
    if (t && t->rows) t->fail = bw_malloc(n, r->who);
    if (!t || !t->fail) {
        barlow_tree_free(t);
        return BARLOW_E_NOMEM;
    }
    t->opts = o;
    t->input_cols = cols;
    t->s.size = n;
    t->s.n_nodes = n_nodes;
    size_t nodes_at = r->off;
    for (size_t i = 0; i < n_nodes && st == BARLOW_OK; i++)
        st = read_node(r, i, cols, &t->s.nodes[i]);
    if (st == BARLOW_OK) st = link_nodes(r, nodes_at, &t->s, o.max_depth);
    if (st == BARLOW_OK) st = check_sizes(r, nodes_at, &t->s);
    size_t rows_at = r->off;
    if (st == BARLOW_OK) { /* the bytes are there: read_counts checked them */
        const uint8_t *p = r->p + r->off;
        for (size_t k = 0; k < n; k++, p += 4)
            t->rows[k] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24;
        memcpy(t->fail, p, n);
        r->off += 5 * n;
        st = check_rows(r, rows_at, t);
    }
    if (st == BARLOW_OK) st = derive_stats(t, r->who);
    if (st != BARLOW_OK) {
        barlow_tree_free(t);
        return st;
    }
    *out = t;
    return BARLOW_OK;
}

barlow_status barlow_tree_deserialize(const void *data, size_t size, barlow_tree **out)
{
    static const char who[] = "barlow_tree_deserialize";
    bw_clear_error();
    if (!data || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, data ? "out" : "data");
    bw_rd r = {data, size, 0, 0, who};
    barlow_tree *t = NULL;
    barlow_status st = bw_tree_read(&r, &t);
    if (st == BARLOW_OK && bw_rd_left(&r) > 0) {
        st = bw_rd_fail(&r, r.off, "trailing bytes after the end of the tree (%zu)",
                        bw_rd_left(&r));
        barlow_tree_free(t);
    }
    if (st == BARLOW_OK) *out = t;
    return st;
}

/* ---- copying ---------------------------------------------------------------------- */

barlow_status bw_tree_clone(const barlow_tree *t, barlow_tree **out, const char *who)
{
    size_t n = t->s.size;
    barlow_tree *c = bw_calloc(1, sizeof *c, who);
    if (c) {
        *c = *t;
        c->s.nodes = NULL;
        c->s.rank = NULL;
        c->rows = NULL;
        c->fail = NULL;
        c->s.nodes = bw_mallocn(t->s.n_nodes, sizeof *c->s.nodes, who);
        c->s.rank = bw_mallocn(t->s.n_leaves ? t->s.n_leaves : 1, sizeof *c->s.rank, who);
        c->rows = bw_mallocn(n, sizeof *c->rows, who);
        c->fail = bw_malloc(n, who);
    }
    if (!c || !c->s.nodes || !c->s.rank || !c->rows || !c->fail) {
        barlow_tree_free(c);
        return BARLOW_E_NOMEM;
    }
    memcpy(c->s.nodes, t->s.nodes, t->s.n_nodes * sizeof *c->s.nodes);
    memcpy(c->s.rank, t->s.rank, t->s.n_leaves * sizeof *c->s.rank);
    memcpy(c->rows, t->rows, n * sizeof *c->rows);
    memcpy(c->fail, t->fail, n);
    *out = c;
    return BARLOW_OK;
}
