/* barlow_tree: fitting the failure tree (scikit-learn's depth-first CART with
 * class weights), node statistics, rules, apply and held-out evaluation.
 * The split search itself lives in lib/split.c; export in lib/tree_export.c. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/matrix.h"
#include "split.h"
#include "tree_internal.h"

/* ---- options -------------------------------------------------------------- */

void barlow_tree_options_init(barlow_tree_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_TREE_OPTIONS_VERSION;
    opts->max_depth = 1;
    opts->criterion = BARLOW_CRITERION_ENTROPY;
    opts->class_weight = BARLOW_CLASS_WEIGHT_REFERENCE;
    opts->weight_correct = 1.0;
    opts->weight_failure = 1.0;
    opts->min_samples_split = 2;
    opts->min_samples_leaf = 1;
    opts->min_impurity_decrease = 0.0;
}

void barlow_rule_options_init(barlow_rule_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_RULE_OPTIONS_VERSION;
    opts->min_coverage = 0.0;
    opts->min_error_rate = 0.0;
    opts->max_p_value = 1.0;
}

barlow_status bw_tree_check_options(const barlow_tree_options *in, int32_t max_depth,
                                    barlow_tree_options *o, const char *who)
{
    barlow_tree_options_init(o);
    if (in) {
        char what[96];
        snprintf(what, sizeof what, "%s: barlow_tree_options", who);
        barlow_status st = bw_check_options_version(in->version, BARLOW_TREE_OPTIONS_VERSION,
                                                    what);
        if (st) return st;
        *o = *in; /* version 1 has every field */
        o->version = BARLOW_TREE_OPTIONS_VERSION;
    }
    if (max_depth > 0) o->max_depth = max_depth;
    if (o->max_depth < 1 || o->max_depth > BARLOW_TREE_MAX_DEPTH)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: max_depth=%d (must be 1..%d)", who,
                        (int)o->max_depth, (int)BARLOW_TREE_MAX_DEPTH);
    if (o->criterion != BARLOW_CRITERION_ENTROPY && o->criterion != BARLOW_CRITERION_GINI)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: criterion=%d (must be BARLOW_CRITERION_ENTROPY (0) or "
                        "BARLOW_CRITERION_GINI (1))", who, (int)o->criterion);
    if (o->class_weight != BARLOW_CLASS_WEIGHT_REFERENCE &&
        o->class_weight != BARLOW_CLASS_WEIGHT_NONE && o->class_weight != BARLOW_CLASS_WEIGHT_GIVEN)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: class_weight=%d (must be 0 = reference, 1 = none or 2 = given)",
                        who, (int)o->class_weight);
    if (o->class_weight == BARLOW_CLASS_WEIGHT_GIVEN) {
        if (!isfinite(o->weight_correct) || !(o->weight_correct > 0.0))
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: weight_correct=%g (must be finite and > 0)", who,
                            o->weight_correct);
        if (!isfinite(o->weight_failure) || !(o->weight_failure > 0.0))
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: weight_failure=%g (must be finite and > 0)", who,
                            o->weight_failure);
    }
    if (o->min_samples_split < 2)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: min_samples_split=%zu (must be >= 2)", who,
                        o->min_samples_split);
    if (o->min_samples_leaf < 1)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: min_samples_leaf=%zu (must be >= 1)", who,
                        o->min_samples_leaf);
    if (!isfinite(o->min_impurity_decrease) || o->min_impurity_decrease < 0.0)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: min_impurity_decrease=%g (must be finite and >= 0)", who,
                        o->min_impurity_decrease);
    return BARLOW_OK;
}

/* ---- statistics ------------------------------------------------------------- */

/* lgamma without its write to the global signgam (a data race when trees
 * are fitted on several threads, as the analysis does). */
static double log_gamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* P[X >= k] for X ~ Binomial(n, p): exact upper tail summed in a stable way.
 * The largest term is found in log space (lgamma) and the series is summed
 * with the term ratio; above the mean the upper tail is summed directly,
 * below it 1 − the lower tail. */
static double binom_upper_tail(size_t k, size_t n, double p)
{
    if (k == 0) return 1.0;
    if (k > n) return 0.0;
    if (!(p > 0.0)) return 0.0;
    if (!(p < 1.0)) return 1.0;
    double q = 1.0 - p, lp = log(p), lq = log1p(-p);
    double dn = (double)n;
    if ((double)k > dn * p) {
        double dk = (double)k;
        double lt = log_gamma(dn + 1.0) - log_gamma(dk + 1.0) - log_gamma(dn - dk + 1.0) + dk * lp +
                    (dn - dk) * lq;
        double s = 1.0, r = 1.0;
        for (size_t i = k; i < n; i++) {
            r *= (double)(n - i) / (double)(i + 1) * (p / q);
            s += r;
            if (r < s * 1e-17) break;
        }
        double v = exp(lt + log(s));
        return v > 1.0 ? 1.0 : v;
    }
    /* lower tail P[X <= k-1], terms decrease away from k-1 */
    size_t j = k - 1;
    double dj = (double)j;
    double lt = log_gamma(dn + 1.0) - log_gamma(dj + 1.0) - log_gamma(dn - dj + 1.0) + dj * lp +
                (dn - dj) * lq;
    double s = 1.0, r = 1.0;
    for (size_t i = j; i > 0; i--) {
        r *= (double)i / (double)(n - i + 1) * (q / p);
        s += r;
        if (r < s * 1e-17) break;
    }
    double v = 1.0 - exp(lt + log(s));
    return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

static int cmp_rank(const bw_tnode *nodes, size_t a, size_t b)
{
    /* 1 when leaf a ranks after leaf b */
    double ia = nodes[a].iv, ib = nodes[b].iv;
    if (ia != ib) return ia < ib;
    return a > b;
}

/* Computes every derived number of s from the structure and the per-node
 * size/failures (and s->size, s->failures, s->w0, s->w1). */
barlow_status bw_tree_compute_stats(bw_tstats *s, const char *who)
{
    size_t F = s->failures, n = s->size;
    s->ber = n ? (double)F / (double)n : 0.0;
    s->n_leaves = 0;
    s->depth = 0;
    for (size_t i = 0; i < s->n_nodes; i++) {
        bw_tnode *nd = &s->nodes[i];
        size_t correct = nd->size - nd->failures;
        nd->wfail = (double)nd->failures * s->w1;
        nd->wsize = (double)correct * s->w0 + nd->wfail;
        nd->er = nd->size ? (double)nd->failures / (double)nd->size : 0.0;
        nd->ec = F ? (double)nd->failures / (double)F : 0.0;
        nd->iv = nd->er * nd->ec;
        nd->p = nd->size ? binom_upper_tail(nd->failures, nd->size, s->ber) : 1.0;
        nd->predicts_failure = nd->wfail > (double)correct * s->w0;
        if (nd->is_leaf) {
            s->n_leaves++;
            if (nd->depth > s->depth) s->depth = nd->depth;
        }
    }
    bw_free(s->rank);
    s->rank = bw_mallocn(s->n_leaves ? s->n_leaves : 1, sizeof *s->rank, who);
    if (!s->rank) return BARLOW_E_NOMEM;
    size_t m = 0;
    double aler = 0.0;
    size_t pf_fail = 0, pf_size = 0;
    for (size_t i = 0; i < s->n_nodes; i++) {
        const bw_tnode *nd = &s->nodes[i];
        if (!nd->is_leaf) continue;
        aler += nd->er * nd->ec;
        if (nd->predicts_failure) {
            pf_fail += nd->failures;
            pf_size += nd->size;
        }
        /* insertion into the ranking (few leaves) */
        size_t j = m++;
        while (j > 0 && cmp_rank(s->nodes, s->rank[j - 1], i)) {
            s->rank[j] = s->rank[j - 1];
            j--;
        }
        s->rank[j] = i;
    }
    s->aler = aler;
    s->precision = pf_size ? (double)pf_fail / (double)pf_size : 0.0;
    s->recall = F ? (double)pf_fail / (double)F : 0.0;
    return BARLOW_OK;
}

void bw_tree_class_weights(const barlow_tree_options *o, size_t n_fail, size_t n_correct,
                           double *w0, double *w1)
{
    switch (o->class_weight) {
    case BARLOW_CLASS_WEIGHT_REFERENCE:
        *w0 = 1.0;
        *w1 = (n_fail && n_correct) ? (double)n_correct / (double)n_fail : 1.0;
        break;
    case BARLOW_CLASS_WEIGHT_NONE:
        *w0 = *w1 = 1.0;
        break;
    default:
        *w0 = o->weight_correct;
        *w1 = o->weight_failure;
        break;
    }
}

/* ---- fitting ------------------------------------------------------------------ */

typedef struct fit_item {
    size_t start, end;
    int32_t depth, parent, is_left;
} fit_item;

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static const char *nonfinite_name(float v)
{
    return isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
}

/* Locates the first non-finite value in the candidate columns in row-major
 * order (row, then column index) and sets the error. */
static barlow_status report_nonfinite(const barlow_matrix *X, const size_t *cols, size_t m,
                                      const char *who)
{
    size_t n = barlow_matrix_rows(X);
    for (size_t i = 0; i < n; i++) {
        const float *r = barlow_matrix_row(X, i);
        for (size_t j = 0; j < m; j++)
            if (!isfinite(r[cols[j]]))
                return bw_error(BARLOW_E_INVALID_ARG,
                                "%s: features row %zu, column %zu is %s (features must be "
                                "finite)", who, i, cols[j], nonfinite_name(r[cols[j]]));
    }
    return bw_error(BARLOW_E_INTERNAL, "%s: non-finite value not found again", who);
}

static barlow_status check_flags(const uint8_t *f, size_t n, size_t *n_fail, const char *who)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i] > 1)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: failures[%zu] = %u (failure flags must be 0 or 1)", who, i,
                            (unsigned)f[i]);
        c += f[i];
    }
    *n_fail = c;
    return BARLOW_OK;
}

static void tree_destroy(barlow_tree *t)
{
    if (!t) return;
    bw_free(t->s.nodes);
    bw_free(t->s.rank);
    bw_free(t->rows);
    bw_free(t->fail);
    bw_free(t);
}

/* Gathers the candidate columns j0..j1-1 of every row into items
 * (block[(j - j0) * n + i] = pack(x[i][cols[j]], i)), rows read in order.
 * Returns non-zero when a value is not finite. */
static uint32_t gather_block(const barlow_matrix *X, const size_t *cols, size_t j0, size_t j1,
                             uint64_t *block)
{
    size_t n = barlow_matrix_rows(X);
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = barlow_matrix_row(X, i);
        for (size_t j = j0; j < j1; j++) {
            float v = r[cols[j]];
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
            block[(j - j0) * n + i] = bw_item_pack(v, (uint32_t)i);
        }
    }
    return bad;
}

barlow_status barlow_tree_fit(const barlow_matrix *features, const uint8_t *failures,
                              const size_t *columns, size_t n_columns,
                              const barlow_tree_options *opts, barlow_tree **out)
{
    static const char who[] = "barlow_tree_fit";
    bw_clear_error();
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    if (!failures) return bw_error(BARLOW_E_INVALID_ARG, "%s: failures is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_tree_options o;
    barlow_status st = bw_tree_check_options(opts, 0, &o, who);
    if (st) return st;
    size_t n = barlow_matrix_rows(features), d = barlow_matrix_cols(features);
    if (n == 0 || d == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: features has %zu rows and %zu columns "
                        "(both must be >= 1)", who, n, d);
    if (n > UINT32_MAX)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zu rows (at most %u)", who, n,
                        (unsigned)UINT32_MAX);
    if (columns && n_columns == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: columns given with n_columns=0", who);
    if (!columns && n_columns != 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: columns is NULL but n_columns=%zu", who,
                        n_columns);
    size_t n_fail = 0;
    st = check_flags(failures, n, &n_fail, who);
    if (st) return st;

    size_t m = columns ? n_columns : d;
    size_t *cols = bw_mallocn(m, sizeof *cols, who);
    if (!cols) return BARLOW_E_NOMEM;
    if (columns) {
        for (size_t j = 0; j < m; j++) {
            if (columns[j] >= d) {
                bw_free(cols);
                return bw_error(BARLOW_E_INVALID_ARG,
                                "%s: columns[%zu] = %zu is not a column (features has %zu)",
                                who, j, columns[j], d);
            }
            cols[j] = columns[j];
        }
        /* ascending original index: equal-gain ties go to the lowest index */
        qsort(cols, m, sizeof *cols, cmp_size);
        for (size_t j = 1; j < m; j++)
            if (cols[j] == cols[j - 1]) {
                size_t dup = cols[j];
                bw_free(cols);
                return bw_error(BARLOW_E_INVALID_ARG, "%s: column %zu is listed twice", who,
                                dup);
            }
    } else {
        for (size_t j = 0; j < m; j++) cols[j] = j;
    }

    /* Depth 1 needs one block of columns at a time; deeper trees keep every
     * column presorted and partition the sorted lists node by node. */
    int presorted = o.max_depth > 1;
    size_t block_cols = ((size_t)2 << 20) / (sizeof(uint64_t) * n); /* ~2 MiB of items */
    if (block_cols < 16) block_cols = 16;
    if (block_cols > 256) block_cols = 256;
    size_t item_cols = presorted ? m : (m < block_cols ? m : block_cols);
    if (item_cols > SIZE_MAX / sizeof(uint64_t) / n) {
        bw_free(cols);
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zu x %zu values overflow", who, n, m);
    }
    barlow_tree *t = NULL;
    uint64_t *items = bw_mallocn(n * item_cols, sizeof *items, who);
    uint64_t *tmp = bw_mallocn(n, sizeof *tmp, who);
    uint8_t *fail = bw_malloc(n, who), *left = bw_malloc(n, who);
    uint32_t *rows = bw_mallocn(n, sizeof *rows, who), *rtmp = bw_mallocn(n, sizeof *rtmp, who);
    double *log0 = bw_mallocn(n + 1, sizeof *log0, who);
    double *log1 = bw_mallocn(n + 1, sizeof *log1, who);
    fit_item *stack = bw_mallocn(2 * (size_t)BARLOW_TREE_MAX_DEPTH + 2, sizeof *stack, who);
    t = bw_calloc(1, sizeof *t, who);
    if (!items || !tmp || !fail || !left || !rows || !rtmp || !log0 || !log1 || !stack || !t) {
        st = BARLOW_E_NOMEM;
        goto done;
    }
    memcpy(fail, failures, n);
    for (size_t i = 0; i < n; i++) rows[i] = (uint32_t)i;

    t->opts = o;
    t->input_cols = d;
    t->s.size = n;
    t->s.failures = n_fail;
    size_t n_correct = n - n_fail;
    bw_tree_class_weights(&o, n_fail, n_correct, &t->s.w0, &t->s.w1);
    const double w0 = t->s.w0, w1 = t->s.w1;
    const double w_root = (double)n_correct * w0 + (double)n_fail * w1;
    const bw_criterion crit = o.criterion == BARLOW_CRITERION_GINI ? BW_CRITERION_GINI
                                                                   : BW_CRITERION_ENTROPY;
    const int root_leaf = (n < o.min_samples_split || n < 2 * o.min_samples_leaf ||
                                     n_fail == 0 || n_correct == 0);

    /* node storage: at most 2n-1 nodes and 2^(depth+1)-1 */
    size_t cap_nodes = ((size_t)1 << (o.max_depth + 1)) - 1;
    if (cap_nodes > 2 * n - 1) cap_nodes = 2 * n - 1;
    t->s.nodes = bw_calloc(cap_nodes, sizeof *t->s.nodes, who);
    if (!t->s.nodes) {
        st = BARLOW_E_NOMEM;
        goto done;
    }

    /* root: read every candidate column once (checking finiteness); when the
     * root can split, sort and scan them */
    bw_split_result root_best;
    memset(&root_best, 0, sizeof root_best);
    size_t root_col = 0;
    if (crit == BW_CRITERION_ENTROPY && !root_leaf) {
        bw_split_log_table(log0, n_correct, w0);
        bw_split_log_table(log1, n_fail, w1);
    }
    for (size_t j0 = 0; j0 < m; j0 += item_cols) {
        size_t j1 = j0 + item_cols < m ? j0 + item_cols : m;
        uint64_t *block = presorted ? items + j0 * n : items;
        if (gather_block(features, cols, j0, j1, block)) {
            st = report_nonfinite(features, cols, m, who);
            goto done;
        }
        if (root_leaf) continue;
        for (size_t j = j0; j < j1; j++) {
            uint64_t *col = block + (j - j0) * n;
            bw_sort_items(col, n, tmp);
            bw_split_result res;
            bw_split_best_items(col, fail, n, n_correct, n_fail, w0, w1, crit,
                                o.min_samples_leaf, crit == BW_CRITERION_ENTROPY ? log0 : NULL,
                                crit == BW_CRITERION_ENTROPY ? log1 : NULL, &res);
            if (res.found && (!root_best.found || res.proxy > root_best.proxy)) {
                root_best = res;
                root_col = j;
            }
        }
    }

    size_t top = 0;
    stack[top++] = (fit_item){0, n, 0, -1, 0};
    while (top > 0) {
        fit_item it = stack[--top];
        size_t id = t->s.n_nodes++;
        bw_tnode *nd = &t->s.nodes[id];
        nd->parent = it.parent;
        nd->left = nd->right = -1;
        nd->depth = it.depth;
        nd->feature = -1;
        nd->threshold = NAN;
        nd->start = it.start;
        nd->size = it.end - it.start;
        if (it.parent >= 0) {
            if (it.is_left) t->s.nodes[it.parent].left = (int32_t)id;
            else t->s.nodes[it.parent].right = (int32_t)id;
        }
        size_t nf = 0;
        for (size_t k = it.start; k < it.end; k++) nf += fail[rows[k]];
        nd->failures = nf;
        size_t nc = nd->size - nf;
        double wn = (double)nc * w0 + (double)nf * w1;
        nd->impurity = bw_impurity((double)nc * w0, (double)nf * w1, crit);

        int leaf = it.depth >= o.max_depth || nd->size < o.min_samples_split ||
                   nd->size < 2 * o.min_samples_leaf || nf == 0 || nc == 0;
        bw_split_result best;
        memset(&best, 0, sizeof best);
        size_t best_col = 0;
        if (!leaf && id == 0) {
            best = root_best;
            best_col = root_col;
        } else if (!leaf) {
            /* presorted: each column's segment [start, end) is sorted */
            const double *t0 = NULL, *t1 = NULL;
            if (crit == BW_CRITERION_ENTROPY) {
                bw_split_log_table(log0, nc, w0);
                bw_split_log_table(log1, nf, w1);
                t0 = log0;
                t1 = log1;
            }
            for (size_t j = 0; j < m; j++) {
                bw_split_result res;
                bw_split_best_items(items + j * n + it.start, fail, nd->size, nc, nf, w0, w1,
                                    crit, o.min_samples_leaf, t0, t1, &res);
                if (res.found && (!best.found || res.proxy > best.proxy)) {
                    best = res;
                    best_col = j;
                }
            }
        }
        if (!leaf) {
            if (!best.found) {
                leaf = 1;
            } else {
                double improvement = (wn / w_root) * best.gain;
                if (improvement + DBL_EPSILON < o.min_impurity_decrease) leaf = 1;
                else nd->improvement = improvement;
            }
        }
        nd->is_leaf = leaf;
        if (leaf) continue;

        nd->feature = (int64_t)cols[best_col];
        nd->threshold = best.threshold;
        /* which rows go left: x <= threshold, read from the matrix */
        size_t nl = 0, nr = 0;
        for (size_t k = it.start; k < it.end; k++) {
            uint32_t r = rows[k];
            float v = barlow_matrix_row(features, r)[cols[best_col]];
            left[r] = (double)v <= best.threshold;
            if (left[r]) rows[it.start + nl++] = r;
            else rtmp[nr++] = r;
        }
        if (nl != best.n_left) {
            st = bw_error(BARLOW_E_INTERNAL, "%s: partition gave %zu rows left, expected %zu",
                          who, nl, best.n_left);
            goto done;
        }
        memcpy(rows + it.start + nl, rtmp, nr * sizeof *rows);
        size_t mid = it.start + nl;
        /* keep every column's segment sorted for the children that may split */
        if (presorted && it.depth + 1 < o.max_depth) {
            for (size_t j = 0; j < m; j++) {
                uint64_t *seg = items + j * n + it.start;
                size_t a = 0, b = 0;
                for (size_t k = 0; k < nd->size; k++) {
                    uint64_t v = seg[k];
                    if (left[bw_item_row(v)]) seg[a++] = v;
                    else tmp[b++] = v;
                }
                memcpy(seg + a, tmp, b * sizeof *seg);
            }
        }
        stack[top++] = (fit_item){mid, it.end, it.depth + 1, (int32_t)id, 0};
        stack[top++] = (fit_item){it.start, mid, it.depth + 1, (int32_t)id, 1};
    }

    st = bw_tree_compute_stats(&t->s, who);
    if (st) goto done;
    t->rows = rows;
    t->fail = fail;
    rows = NULL;
    fail = NULL;
    *out = t;
    t = NULL;

done:
    bw_free(cols);
    bw_free(items);
    bw_free(tmp);
    bw_free(fail);
    bw_free(left);
    bw_free(rows);
    bw_free(rtmp);
    bw_free(log0);
    bw_free(log1);
    bw_free(stack);
    tree_destroy(t);
    return st;
}

void barlow_tree_free(barlow_tree *tree) { tree_destroy(tree); }

/* ---- accessors -------------------------------------------------------------------- */

size_t barlow_tree_node_count(const barlow_tree *tree) { return tree ? tree->s.n_nodes : 0; }
size_t barlow_tree_leaf_count(const barlow_tree *tree) { return tree ? tree->s.n_leaves : 0; }
size_t barlow_tree_input_columns(const barlow_tree *tree) { return tree ? tree->input_cols : 0; }

static barlow_status fill_node(const bw_tstats *s, size_t id, barlow_tree_node *out,
                               const char *who)
{
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (out->version == 0 || out->version > BARLOW_TREE_NODE_VERSION)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: barlow_tree_node version=%u is not known to this libbarlow "
                        "(1..%u); set out->version = BARLOW_TREE_NODE_VERSION", who,
                        (unsigned)out->version, (unsigned)BARLOW_TREE_NODE_VERSION);
    if (id >= s->n_nodes)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: node id %zu (the tree has %zu nodes)", who,
                        id, s->n_nodes);
    const bw_tnode *nd = &s->nodes[id];
    barlow_tree_node v;
    memset(&v, 0, sizeof v);
    v.version = out->version;
    v.id = (int32_t)id;
    v.parent = nd->parent;
    v.left = nd->left;
    v.right = nd->right;
    v.depth = nd->depth;
    v.is_leaf = nd->is_leaf;
    v.predicts_failure = nd->predicts_failure;
    v.feature = nd->feature;
    v.threshold = nd->threshold;
    v.size = nd->size;
    v.failures = nd->failures;
    v.weighted_size = nd->wsize;
    v.weighted_failures = nd->wfail;
    v.impurity = nd->impurity;
    v.improvement = nd->improvement;
    v.error_rate = nd->er;
    v.error_coverage = nd->ec;
    v.importance = nd->iv;
    v.p_value = nd->p;
    *out = v; /* version 1 is the whole struct */
    return BARLOW_OK;
}

static barlow_status fill_summary(const bw_tstats *s, barlow_tree_summary *out,
                                  const char *who)
{
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (out->version == 0 || out->version > BARLOW_TREE_SUMMARY_VERSION)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: barlow_tree_summary version=%u is not known to this libbarlow "
                        "(1..%u); set out->version = BARLOW_TREE_SUMMARY_VERSION", who,
                        (unsigned)out->version, (unsigned)BARLOW_TREE_SUMMARY_VERSION);
    barlow_tree_summary v;
    memset(&v, 0, sizeof v);
    v.version = out->version;
    v.depth = s->depth;
    v.node_count = s->n_nodes;
    v.leaf_count = s->n_leaves;
    v.size = s->size;
    v.failures = s->failures;
    v.base_error_rate = s->ber;
    v.aler = s->aler;
    v.aler_gain = s->aler - s->ber;
    v.precision = s->precision;
    v.recall = s->recall;
    v.weight_correct = s->w0;
    v.weight_failure = s->w1;
    *out = v;
    return BARLOW_OK;
}

barlow_status barlow_tree_get_node(const barlow_tree *tree, size_t id, barlow_tree_node *out)
{
    static const char who[] = "barlow_tree_get_node";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    return fill_node(&tree->s, id, out, who);
}

barlow_status barlow_tree_get_summary(const barlow_tree *tree, barlow_tree_summary *out)
{
    static const char who[] = "barlow_tree_get_summary";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    return fill_summary(&tree->s, out, who);
}

barlow_status barlow_tree_leaves_by_importance(const barlow_tree *tree, size_t *ids)
{
    static const char who[] = "barlow_tree_leaves_by_importance";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!ids) return bw_error(BARLOW_E_INVALID_ARG, "%s: ids is NULL", who);
    memcpy(ids, tree->s.rank, tree->s.n_leaves * sizeof *ids);
    return BARLOW_OK;
}

/* ---- rules -------------------------------------------------------------------------- */

barlow_status barlow_tree_rules(const barlow_tree *tree, const barlow_rule_options *opts,
                                size_t *leaves, size_t *n_out)
{
    static const char who[] = "barlow_tree_rules";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!leaves) return bw_error(BARLOW_E_INVALID_ARG, "%s: leaves is NULL", who);
    if (!n_out) return bw_error(BARLOW_E_INVALID_ARG, "%s: n_out is NULL", who);
    barlow_rule_options o;
    barlow_status st = bw_tree_check_rule_options(opts, &o, who);
    if (st) return st;
    size_t k = 0;
    for (size_t i = 0; i < tree->s.n_leaves; i++) {
        size_t id = tree->s.rank[i];
        if (bw_tree_rule_passes(&tree->s, id, &o)) leaves[k++] = id;
    }
    *n_out = k;
    return BARLOW_OK;
}

barlow_status barlow_tree_path(const barlow_tree *tree, size_t id, barlow_condition *conds,
                               size_t *n_out)
{
    static const char who[] = "barlow_tree_path";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!conds) return bw_error(BARLOW_E_INVALID_ARG, "%s: conds is NULL", who);
    if (!n_out) return bw_error(BARLOW_E_INVALID_ARG, "%s: n_out is NULL", who);
    if (id >= tree->s.n_nodes)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: node id %zu (the tree has %zu nodes)", who,
                        id, tree->s.n_nodes);
    const bw_tnode *nodes = tree->s.nodes;
    size_t depth = (size_t)nodes[id].depth;
    size_t cur = id;
    for (size_t k = depth; k > 0; k--) {
        size_t par = (size_t)nodes[cur].parent;
        conds[k - 1].feature = nodes[par].feature;
        conds[k - 1].op = nodes[par].left == (int32_t)cur ? BARLOW_OP_LE : BARLOW_OP_GT;
        conds[k - 1].threshold = nodes[par].threshold;
        cur = par;
    }
    *n_out = depth;
    return BARLOW_OK;
}

/* ---- apply ---------------------------------------------------------------------------- */

static size_t descend(const bw_tstats *s, const float *row)
{
    size_t cur = 0;
    while (!s->nodes[cur].is_leaf) {
        const bw_tnode *nd = &s->nodes[cur];
        cur = (size_t)((double)row[nd->feature] <= nd->threshold ? nd->left : nd->right);
    }
    return cur;
}

/* Checks the split columns of a row; returns the offending column or -1. */
static int64_t row_bad_column(const bw_tstats *s, const float *row)
{
    size_t cur = 0;
    while (!s->nodes[cur].is_leaf) {
        const bw_tnode *nd = &s->nodes[cur];
        float v = row[nd->feature];
        if (!isfinite(v)) return nd->feature;
        cur = (size_t)((double)v <= nd->threshold ? nd->left : nd->right);
    }
    return -1;
}

barlow_status barlow_tree_apply_row(const barlow_tree *tree, const float *row,
                                    size_t n_values, size_t *leaf)
{
    static const char who[] = "barlow_tree_apply_row";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!row) return bw_error(BARLOW_E_INVALID_ARG, "%s: row is NULL", who);
    if (!leaf) return bw_error(BARLOW_E_INVALID_ARG, "%s: leaf is NULL", who);
    if (n_values < tree->input_cols)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: the row has %zu values but the tree was fitted on %zu columns",
                        who, n_values, tree->input_cols);
    int64_t bad = row_bad_column(&tree->s, row);
    if (bad >= 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: column %lld is %s (features must be finite)",
                        who, (long long)bad, nonfinite_name(row[bad]));
    *leaf = descend(&tree->s, row);
    return BARLOW_OK;
}

static barlow_status check_apply_matrix(const barlow_tree *tree, const barlow_matrix *X,
                                        const char *who)
{
    size_t m = barlow_matrix_rows(X), c = barlow_matrix_cols(X);
    if (m == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: features has 0 rows", who);
    if (c != tree->input_cols)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: features has %zu columns but the tree was fitted on %zu", who, c,
                        tree->input_cols);
    for (size_t i = 0; i < m; i++) {
        const float *r = barlow_matrix_row(X, i);
        int64_t bad = row_bad_column(&tree->s, r);
        if (bad >= 0)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: features row %zu, column %lld is %s (features must be finite)",
                            who, i, (long long)bad, nonfinite_name(r[bad]));
    }
    return BARLOW_OK;
}

barlow_status barlow_tree_apply(const barlow_tree *tree, const barlow_matrix *features,
                                size_t *leaves)
{
    static const char who[] = "barlow_tree_apply";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    if (!leaves) return bw_error(BARLOW_E_INVALID_ARG, "%s: leaves is NULL", who);
    barlow_status st = check_apply_matrix(tree, features, who);
    if (st) return st;
    size_t m = barlow_matrix_rows(features);
    for (size_t i = 0; i < m; i++) leaves[i] = descend(&tree->s, barlow_matrix_row(features, i));
    return BARLOW_OK;
}

static barlow_status check_rows_args(const barlow_tree *tree, size_t id, barlow_rows which,
                                     const void *rows, const size_t *n_out, const char *who)
{
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!rows) return bw_error(BARLOW_E_INVALID_ARG, "%s: rows is NULL", who);
    if (!n_out) return bw_error(BARLOW_E_INVALID_ARG, "%s: n_out is NULL", who);
    if (id >= tree->s.n_nodes)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: node id %zu (the tree has %zu nodes)", who,
                        id, tree->s.n_nodes);
    if (which != BARLOW_ROWS_ALL && which != BARLOW_ROWS_FAILURES && which != BARLOW_ROWS_CORRECT)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: which=%d (must be BARLOW_ROWS_ALL, _FAILURES or _CORRECT)", who,
                        (int)which);
    return BARLOW_OK;
}

static int row_selected(const barlow_tree *t, uint32_t r, barlow_rows which)
{
    if (which == BARLOW_ROWS_ALL) return 1;
    return (which == BARLOW_ROWS_FAILURES) == (t->fail[r] != 0);
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

barlow_status barlow_tree_node_rows(const barlow_tree *tree, size_t id, barlow_rows which,
                                    size_t *rows, size_t *n_out)
{
    static const char who[] = "barlow_tree_node_rows";
    bw_clear_error();
    barlow_status st = check_rows_args(tree, id, which, rows, n_out, who);
    if (st) return st;
    const bw_tnode *nd = &tree->s.nodes[id];
    size_t k = 0;
    for (size_t i = nd->start; i < nd->start + nd->size; i++)
        if (row_selected(tree, tree->rows[i], which)) rows[k++] = tree->rows[i];
    /* a leaf's rows are stored ascending; an inner node's are its left
     * child's, then its right child's */
    if (nd->left >= 0) qsort(rows, k, sizeof *rows, size_cmp);
    *n_out = k;
    return BARLOW_OK;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform integer in [0, bound) without modulo bias (rejection). */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = splitmix64(state);
    while (r >= limit);
    return r % bound;
}

barlow_status barlow_tree_sample_rows(const barlow_tree *tree, size_t id, barlow_rows which,
                                      size_t k, uint64_t seed, size_t *rows, size_t *n_out)
{
    static const char who[] = "barlow_tree_sample_rows";
    bw_clear_error();
    barlow_status st = check_rows_args(tree, id, which, rows, n_out, who);
    if (st) return st;
    const bw_tnode *nd = &tree->s.nodes[id];
    size_t *pool = bw_mallocn(nd->size ? nd->size : 1, sizeof *pool, who);
    if (!pool) return BARLOW_E_NOMEM;
    size_t cnt = 0;
    for (size_t i = nd->start; i < nd->start + nd->size; i++)
        if (row_selected(tree, tree->rows[i], which)) pool[cnt++] = tree->rows[i];
    size_t take = k < cnt ? k : cnt;
    uint64_t state = seed;
    for (size_t i = 0; i < take; i++) {
        size_t j = i + (size_t)uniform_below(&state, (uint64_t)(cnt - i));
        size_t tmpv = pool[i];
        pool[i] = pool[j];
        pool[j] = tmpv;
        rows[i] = pool[i];
    }
    bw_free(pool);
    *n_out = take;
    return BARLOW_OK;
}

/* ---- held-out evaluation ------------------------------------------------------------ */

static void eval_destroy(barlow_tree_eval *e)
{
    if (!e) return;
    bw_free(e->s.nodes);
    bw_free(e->s.rank);
    bw_free(e);
}

barlow_status barlow_tree_evaluate(const barlow_tree *tree, const barlow_matrix *features,
                                   const uint8_t *failures, barlow_tree_eval **out)
{
    static const char who[] = "barlow_tree_evaluate";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    if (!failures) return bw_error(BARLOW_E_INVALID_ARG, "%s: failures is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_status st = check_apply_matrix(tree, features, who);
    if (st) return st;
    size_t m = barlow_matrix_rows(features), nf = 0;
    st = check_flags(failures, m, &nf, who);
    if (st) return st;

    barlow_tree_eval *e = bw_calloc(1, sizeof *e, who);
    if (!e) return BARLOW_E_NOMEM;
    e->s.nodes = bw_mallocn(tree->s.n_nodes, sizeof *e->s.nodes, who);
    if (!e->s.nodes) {
        eval_destroy(e);
        return BARLOW_E_NOMEM;
    }
    e->input_cols = tree->input_cols;
    e->s.n_nodes = tree->s.n_nodes;
    e->s.w0 = tree->s.w0;
    e->s.w1 = tree->s.w1;
    e->s.size = m;
    e->s.failures = nf;
    for (size_t i = 0; i < e->s.n_nodes; i++) {
        e->s.nodes[i] = tree->s.nodes[i];
        e->s.nodes[i].size = e->s.nodes[i].failures = 0;
        e->s.nodes[i].start = 0;
        e->s.nodes[i].improvement = NAN;
    }
    for (size_t r = 0; r < m; r++) {
        const float *row = barlow_matrix_row(features, r);
        size_t cur = 0;
        for (;;) {
            bw_tnode *nd = &e->s.nodes[cur];
            nd->size++;
            nd->failures += failures[r];
            if (nd->is_leaf) break;
            cur = (size_t)((double)row[nd->feature] <= nd->threshold ? nd->left : nd->right);
        }
    }
    bw_criterion crit = tree->opts.criterion == BARLOW_CRITERION_GINI ? BW_CRITERION_GINI
                                                                      : BW_CRITERION_ENTROPY;
    for (size_t i = 0; i < e->s.n_nodes; i++) {
        bw_tnode *nd = &e->s.nodes[i];
        nd->impurity = bw_impurity((double)(nd->size - nd->failures) * e->s.w0,
                                   (double)nd->failures * e->s.w1, crit);
    }
    st = bw_tree_compute_stats(&e->s, who);
    if (st) {
        eval_destroy(e);
        return st;
    }
    *out = e;
    return BARLOW_OK;
}

void barlow_tree_eval_free(barlow_tree_eval *eval) { eval_destroy(eval); }

barlow_status barlow_tree_eval_get_node(const barlow_tree_eval *eval, size_t id,
                                        barlow_tree_node *out)
{
    static const char who[] = "barlow_tree_eval_get_node";
    bw_clear_error();
    if (!eval) return bw_error(BARLOW_E_INVALID_ARG, "%s: eval is NULL", who);
    return fill_node(&eval->s, id, out, who);
}

barlow_status barlow_tree_eval_get_summary(const barlow_tree_eval *eval,
                                           barlow_tree_summary *out)
{
    static const char who[] = "barlow_tree_eval_get_summary";
    bw_clear_error();
    if (!eval) return bw_error(BARLOW_E_INVALID_ARG, "%s: eval is NULL", who);
    return fill_summary(&eval->s, out, who);
}

barlow_status barlow_tree_eval_leaves_by_importance(const barlow_tree_eval *eval, size_t *ids)
{
    static const char who[] = "barlow_tree_eval_leaves_by_importance";
    bw_clear_error();
    if (!eval) return bw_error(BARLOW_E_INVALID_ARG, "%s: eval is NULL", who);
    if (!ids) return bw_error(BARLOW_E_INVALID_ARG, "%s: ids is NULL", who);
    memcpy(ids, eval->s.rank, eval->s.n_leaves * sizeof *ids);
    return BARLOW_OK;
}
