/* barlow_analysis_run: the whole-dataset analysis (every class present ×
 * grouping: MI top-k, failure trees, best leaf, validity) and its JSON /
 * CSV export.
 * Groups are the unit of parallel work; each group is computed by one
 * worker from its own inputs, so results never depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#  include <sys/mman.h>
#endif

#include "analysis_internal.h"
#include "selector_check.h"
#include "tree_internal.h"

void barlow_analysis_options_init(barlow_analysis_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_ANALYSIS_OPTIONS_VERSION;
    opts->groupings = BARLOW_ANALYSIS_BY_BOTH;
    opts->k = 20;
    opts->tree = NULL;
    opts->depths = NULL;
    opts->n_depths = 0;
    opts->estimator = BARLOW_ESTIMATOR_KNN;
    opts->n_neighbors = 3;
    opts->seed = 0;
    opts->threads = 0;
    opts->rules = NULL;
    opts->delta = 0.1;
    opts->gamma = 0.2;
    opts->min_group_size = 2;
}

void bw_analysis_group_destroy(bw_agroup *g, size_t n_depths)
{
    bw_free(g->top);
    bw_free(g->top_scores);
    if (g->trees)
        for (size_t j = 0; j < n_depths; j++) barlow_tree_free(g->trees[j]);
    bw_free(g->trees);
    bw_free(g->res);
    bw_free(g->errmsg);
}

void barlow_analysis_free(barlow_analysis *a)
{
    if (!a) return;
    if (a->g)
        for (size_t i = 0; i < a->n_groups; i++) bw_analysis_group_destroy(&a->g[i], a->n_depths);
    bw_free(a->g);
    if (a->names)
        for (size_t c = 0; c < a->n_present; c++) bw_free(a->names[c]);
    bw_free(a->names);
    bw_free(a);
}

/* ---- option checks ---------------------------------------------------------------- */

static const char WHO[] = "barlow_analysis_run";

/* The depths list, an option of the analysis' own (each entry becomes a
 * tree's max_depth, so it takes the tree's range), into a; n_depths 0 when
 * there is none (the tree options' max_depth is then the one depth). */
static barlow_status set_depths(const barlow_analysis_options *o, barlow_analysis *a,
                                const char *who)
{
    if (o->n_depths > BARLOW_ANALYSIS_MAX_DEPTHS)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: n_depths=%zu (must be 0..%d)", who,
                        o->n_depths, (int)BARLOW_ANALYSIS_MAX_DEPTHS);
    if (o->n_depths > 0 && !o->depths)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: depths is NULL with n_depths=%zu", who,
                        o->n_depths);
    if (o->n_depths == 0 && o->depths)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: depths given with n_depths=0", who);
    for (size_t j = 0; j < o->n_depths; j++) {
        if (o->depths[j] < 1 || o->depths[j] > BARLOW_TREE_MAX_DEPTH)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: depths[%zu]=%d (a tree's max_depth must be 1..%d)", who, j,
                            (int)o->depths[j], (int)BARLOW_TREE_MAX_DEPTH);
        for (size_t i = 0; i < j; i++)
            if (o->depths[i] == o->depths[j])
                return bw_error(BARLOW_E_INVALID_ARG, "%s: depths[%zu]=%d repeats depths[%zu]",
                                who, j, (int)o->depths[j], i);
        a->depths[j] = o->depths[j];
    }
    a->n_depths = o->n_depths;
    return BARLOW_OK;
}

/* The groupings bit set: 1 label, 2 prediction or 3 both. */
static barlow_status check_groupings(uint32_t groupings, const char *who)
{
    if (groupings < 1 || groupings > 3)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: groupings=%u (must be 1 label, 2 prediction or 3 both)", who,
                        (unsigned)groupings);
    return BARLOW_OK;
}

/* The analysis checks its own fields; the selector's settings (estimator,
 * n_neighbors), the tree options and the rule options are checked by the
 * checks of the modules that own them. */
barlow_status bw_analysis_check_options(const barlow_analysis_options *opts, size_t d,
                                        barlow_analysis *a, const char *who)
{
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    if (opts) {
        char what[96];
        snprintf(what, sizeof what, "%s: barlow_analysis_options", who);
        barlow_status st = bw_check_options_version(opts->version,
                                                    BARLOW_ANALYSIS_OPTIONS_VERSION, what);
        if (st != BARLOW_OK) return st;
        o = *opts; /* version 1 has every field */
    }
    barlow_status st = check_groupings(o.groupings, who);
    if (st != BARLOW_OK) return st;
    if (o.k == 0 || o.k > d)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: k=%zu (must be 1..d=%zu)", who, o.k, d);
    if (!(o.delta >= 0.0 && o.delta <= 1.0))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: delta=%g (must be 0..1)", who, o.delta);
    if (!(o.gamma >= 0.0 && o.gamma <= 1.0))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: gamma=%g (must be 0..1)", who, o.gamma);
    if (o.min_group_size < 1)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: min_group_size=0 (must be >= 1)", who);

    barlow_selector_options so, so_checked;
    barlow_selector_options_init(&so);
    so.estimator = o.estimator;
    so.n_neighbors = o.n_neighbors;
    so.seed = o.seed;
    st = bw_selector_check_options(&so, &so_checked, who);
    if (st != BARLOW_OK) return st;
    st = set_depths(&o, a, who);
    if (st != BARLOW_OK) return st;
    barlow_tree_options to;
    st = bw_tree_check_options(o.tree, a->n_depths ? a->depths[0] : 0, &to, who);
    if (st != BARLOW_OK) return st;
    if (a->n_depths == 0) {
        a->depths[0] = to.max_depth;
        a->n_depths = 1;
    }
    barlow_rule_options ro;
    st = bw_tree_check_rule_options(o.rules, &ro, who);
    if (st != BARLOW_OK) return st;
    a->groupings = o.groupings;
    a->k = o.k;
    a->estimator = o.estimator;
    a->n_neighbors = o.n_neighbors;
    a->seed = o.seed;
    a->delta = o.delta;
    a->gamma = o.gamma;
    a->min_group_size = o.min_group_size;
    a->topts = to;
    a->ropts = ro;
    return BARLOW_OK;
}

/* ---- the per-group work --------------------------------------------------------------- */

typedef struct bw_scratch {
    uint8_t *y;        /* max group size */
    double *scores;    /* d */
    float *buf;        /* the tree's columns of the group's rows, laid out as
                        * buf_rows × d floats (other columns unwritten) */
    size_t buf_rows;
    size_t buf_bytes;
} bw_scratch;

typedef struct bw_actx {
    barlow_analysis *a;
    const barlow_matrix *X;
    const int32_t *labels, *preds;
    const size_t *members[2]; /* row indices per grouping, grouped by class */
    const barlow_selector *sel; /* shared by the workers; its threads are each
                                   call's */
    size_t first;             /* the first group analysed (item i is group first + i) */
    bw_scratch *scratch;
    const char *who;
} bw_actx;

static int fail_group(bw_agroup *g, barlow_status st)
{
    g->err = st;
    const char *m = barlow_last_error();
    g->errmsg = bw_strdup(*m ? m : barlow_status_str(st), WHO);
    return (int)st;
}

static void scratch_release(bw_scratch *S)
{
#if defined(__linux__)
    if (S->buf) munmap(S->buf, S->buf_bytes);
#else
    bw_free(S->buf);
#endif
    S->buf = NULL;
    S->buf_rows = 0;
    S->buf_bytes = 0;
}

/* Makes room for n rows of d floats. On Linux the buffer is an anonymous
 * mapping advised for transparent huge pages: the tree's k columns are
 * scattered over every row, so each fill touches every page of the
 * buffer. */
static int scratch_reserve(bw_scratch *S, size_t n, size_t d)
{
    if (S->buf_rows >= n) return 0;
    scratch_release(S);
    size_t bytes = n * d * sizeof(float);
#if defined(__linux__)
    size_t huge = (size_t)2 << 20;
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = bw_alloc_injected_failure()
                  ? MAP_FAILED
                  : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return -1;
#  ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advisory: failure is harmless */
#  endif
#else
    void *p = bw_malloc(bytes, "barlow_analysis_run");
    if (!p) return -1;
#endif
    S->buf = p;
    S->buf_rows = n;
    S->buf_bytes = bytes;
    return 0;
}

/* Checks that every value of the members' rows is finite (naming the
 * dataset row and column of the first that is not). The selector does the
 * same check while it reads the rows; this one is for groups it does not
 * score. */
static barlow_status check_rows(const barlow_matrix *X, const size_t *rows, size_t n,
                                const char *who)
{
    size_t d = barlow_matrix_cols(X), stride = barlow_matrix_stride(X);
    const float *base = barlow_matrix_data(X);
    for (size_t r = 0; r < n; r++) {
        const float *x = base + rows[r] * stride;
        if (bw_f32_all_finite(x, d)) continue;
        for (size_t j = 0; j < d; j++)
            if (!isfinite(x[j]))
                return bw_error(BARLOW_E_INVALID_ARG,
                                "%s: features[%zu][%zu] (row %zu, column %zu) is %s (must be "
                                "finite)",
                                who, rows[r], j, rows[r], j,
                                isnan(x[j]) ? "NaN" : (x[j] > 0 ? "inf" : "-inf"));
    }
    return BARLOW_OK;
}

/* Copies columns cols[0..m) of the members' rows into buf (n rows of d
 * floats; the other columns are not written): what the tree reads. */
static void gather_columns(const barlow_matrix *X, const size_t *rows, size_t n,
                           const size_t *cols, size_t m, float *buf)
{
    size_t d = barlow_matrix_cols(X), stride = barlow_matrix_stride(X);
    const float *base = barlow_matrix_data(X);
    for (size_t r = 0; r < n; r++) {
        const float *x = base + rows[r] * stride;
        float *dst = buf + r * d;
        for (size_t j = 0; j < m; j++) dst[cols[j]] = x[cols[j]];
    }
}

barlow_status bw_analysis_fill_result(const barlow_analysis *a, bw_agroup *g, size_t j,
                                      const char *who)
{
    const barlow_tree *t = g->trees[j];
    barlow_analysis_result *res = &g->res[j];
    size_t nl = barlow_tree_leaf_count(t);
    size_t ids_small[64];
    size_t *ids = nl <= 64 ? ids_small : bw_mallocn(nl, sizeof *ids, who);
    if (!ids) return bw_error(BARLOW_E_NOMEM, "%s: out of memory", who);
    barlow_tree_summary s = {.version = BARLOW_TREE_SUMMARY_VERSION};
    barlow_tree_node nd_best = {.version = BARLOW_TREE_NODE_VERSION};
    size_t n_rules = 0;
    barlow_status st = barlow_tree_get_summary(t, &s);
    if (st == BARLOW_OK) st = barlow_tree_leaves_by_importance(t, ids);
    if (st == BARLOW_OK) st = barlow_tree_get_node(t, ids[0], &nd_best);
    if (st == BARLOW_OK) {
        res->depth = a->depths[j];
        res->aler = s.aler;
        res->best_leaf = (int32_t)ids[0];
        res->best_error_rate = nd_best.error_rate;
        res->best_error_coverage = nd_best.error_coverage;
        res->best_importance = nd_best.importance;
        /* a 1e-12 allowance so that e.g. ER 0.35 = BER 0.25 + 0.1 counts */
        res->valid = nd_best.error_rate - g->ber >= a->delta - 1e-12 &&
                     nd_best.error_coverage >= a->gamma - 1e-12;
        st = barlow_tree_rules(t, &a->ropts, ids, &n_rules);
    }
    if (st == BARLOW_OK) res->best_rule = n_rules > 0 ? (int32_t)ids[0] : -1;
    if (ids != ids_small) bw_free(ids);
    return st;
}

/* The top-k selection of an analysed group (barlow_selector_score_rows
 * reads the group's rows straight from the possibly mapped features,
 * checking that they are finite), or the finiteness check of the rows of
 * another non-empty group; *cols and *ncols: the columns the tree may
 * split on. */
static barlow_status select_columns(bw_actx *C, bw_agroup *g, bw_scratch *S, const size_t *rows,
                                    const char *gwho, const size_t **cols, size_t *ncols)
{
    barlow_analysis *a = C->a;
    if (g->status != BARLOW_ANALYSIS_ANALYSED) {
        *ncols = 1; /* a one-leaf tree: any column */
        return check_rows(C->X, rows, g->size, gwho);
    }
    barlow_status st = barlow_selector_score_rows(C->sel, C->X, rows, g->size, S->y, S->scores);
    if (st == BARLOW_OK) st = barlow_selector_rank(S->scores, a->d, a->k, g->top);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s", gwho);
    for (size_t t = 0; t < a->k; t++) g->top_scores[t] = S->scores[g->top[t]];
    g->n_top = a->k;
    *cols = g->top;
    *ncols = a->k;
    return BARLOW_OK;
}

void bw_analysis_tree_options(const barlow_analysis *a, const bw_agroup *g, size_t j,
                              barlow_tree_options *to)
{
    size_t n = g->size;
    *to = a->topts;
    to->max_depth = a->depths[j];
    if (g->status != BARLOW_ANALYSIS_ANALYSED && to->min_samples_split <= n)
        to->min_samples_split = n + 1 > 2 ? n + 1 : 2; /* a one-leaf tree */
}

/* Fits group g's trees on the gathered columns in m and fills its results. */
static barlow_status fit_trees(const barlow_analysis *a, bw_agroup *g, const barlow_matrix *m,
                               const uint8_t *y, const size_t *cols, size_t ncols,
                               const char *gwho)
{
    for (size_t j = 0; j < a->n_depths; j++) {
        barlow_tree_options to;
        bw_analysis_tree_options(a, g, j, &to);
        barlow_status st = barlow_tree_fit(m, y, cols, ncols, &to, &g->trees[j]);
        if (st != BARLOW_OK) return bw_error_prefix(st, "%s", gwho);
        st = bw_analysis_fill_result(a, g, j, gwho);
        if (st != BARLOW_OK) return st;
    }
    return BARLOW_OK;
}

static int analyse_group(void *vctx, size_t i, size_t worker)
{
    bw_actx *C = vctx;
    barlow_analysis *a = C->a;
    bw_agroup *g = &a->g[C->first + i];
    bw_scratch *S = &C->scratch[worker];
    size_t n = g->size, d = a->d;
    if (n == 0) return 0; /* empty: nothing to fit */
    const size_t *rows = C->members[g->by] + g->off;
    char gwho[96];
    snprintf(gwho, sizeof gwho, "%s: %s group of class %d", C->who,
             g->by == BARLOW_GROUP_BY_LABEL ? "label" : "prediction", (int)g->cls);

    for (size_t r = 0; r < n; r++) S->y[r] = C->labels[rows[r]] != C->preds[rows[r]];

    /* The tree gets the selected columns of the group's rows, in a buffer
     * laid out like the features (n rows of d floats, only those columns
     * written), so that it reports the original column indices. */
    if (scratch_reserve(S, n, d) != 0)
        return fail_group(g, bw_error(BARLOW_E_NOMEM, "%s: out of memory (%zu x %zu floats)",
                                      gwho, n, d));
    size_t one_col = 0, ncols = 0;
    const size_t *cols = &one_col;
    barlow_status st = select_columns(C, g, S, rows, gwho, &cols, &ncols);
    if (st != BARLOW_OK) return fail_group(g, st);
    gather_columns(C->X, rows, n, cols, ncols, S->buf);

    barlow_matrix *m = NULL;
    st = barlow_matrix_wrap(S->buf, n, d, d, &m);
    if (st == BARLOW_OK) st = fit_trees(a, g, m, S->y, cols, ncols, gwho);
    barlow_matrix_free(m);
    return st == BARLOW_OK ? 0 : fail_group(g, st);
}

/* ---- the classes present ---------------------------------------------------------- */

/* The classes that occur as a label or a prediction of some row: a bitmap
 * of the K class ids and, per 64-bit word, the number of present classes in
 * the words before it, so that a class id maps to its index among the
 * present classes (ascending ids) in O(1). K/8 + K/16 bytes (3 MB for the
 * 2^24 ids a dataset without names allows) and O(rows + K/64) time: every
 * per-class allocation of the analysis is sized by the classes present,
 * never by the largest id. */
typedef struct bw_class_set {
    uint64_t *bits;   /* K bits */
    uint32_t *before; /* per word: present classes in the words before */
    int32_t *ids;     /* the present ids, ascending */
    size_t n;         /* present classes */
} bw_class_set;

static void class_set_free(bw_class_set *s)
{
    bw_free(s->bits);
    bw_free(s->before);
    bw_free(s->ids);
}

static void class_set_add(bw_class_set *s, int32_t c)
{
    s->bits[(size_t)c >> 6] |= UINT64_C(1) << ((unsigned)c & 63);
}

/* Index of present class c among the present classes. */
static size_t class_index(const bw_class_set *s, int32_t c)
{
    size_t w = (size_t)c >> 6;
    uint64_t below = s->bits[w] & ((UINT64_C(1) << ((unsigned)c & 63)) - 1);
    return s->before[w] + (size_t)__builtin_popcountll(below);
}

static barlow_status class_set_build(const int32_t *labels, const int32_t *preds, size_t n,
                                     size_t K, bw_class_set *s)
{
    size_t words = (K + 63) / 64;
    s->bits = bw_calloc(words, sizeof *s->bits, WHO);
    s->before = bw_mallocn(words, sizeof *s->before, WHO);
    if (!s->bits || !s->before) return BARLOW_E_NOMEM;
    for (size_t r = 0; r < n; r++) {
        class_set_add(s, labels[r]);
        class_set_add(s, preds[r]);
    }
    size_t m = 0;
    for (size_t w = 0; w < words; w++) {
        s->before[w] = (uint32_t)m;
        m += (size_t)__builtin_popcountll(s->bits[w]);
    }
    s->ids = bw_mallocn(m, sizeof *s->ids, WHO);
    if (!s->ids) return BARLOW_E_NOMEM;
    for (size_t w = 0; w < words; w++)
        for (uint64_t b = s->bits[w]; b; b &= b - 1)
            s->ids[s->n++] = (int32_t)(w * 64 + (size_t)__builtin_ctzll(b));
    return BARLOW_OK;
}

/* ---- the groups ----------------------------------------------------------------------- */

/* Row indices of every present class under one grouping (counting sort by
 * the class's index among the present ones, ascending rows within a
 * class); sizes[i] and offsets[i] per present class i. */
static size_t *bucket_rows(const int32_t *cls, size_t n, const bw_class_set *s, size_t *sizes,
                           size_t *offsets)
{
    size_t m = s->n;
    size_t *idx = bw_mallocn(n, sizeof *idx, WHO);
    size_t *pos = bw_mallocn(m, sizeof *pos, WHO);
    if (!idx || !pos) {
        bw_free(idx);
        bw_free(pos);
        return NULL;
    }
    for (size_t c = 0; c < m; c++) sizes[c] = 0;
    for (size_t r = 0; r < n; r++) sizes[class_index(s, cls[r])]++;
    size_t acc = 0;
    for (size_t c = 0; c < m; c++) {
        offsets[c] = acc;
        acc += sizes[c];
    }
    memcpy(pos, offsets, m * sizeof *pos);
    for (size_t r = 0; r < n; r++) idx[pos[class_index(s, cls[r])]++] = r;
    bw_free(pos);
    return idx;
}

barlow_analysis_status bw_analysis_plan_status(const barlow_analysis *a, size_t size,
                                               size_t failures)
{
    if (size == 0) return BARLOW_ANALYSIS_EMPTY;
    if (size < a->min_group_size) return BARLOW_ANALYSIS_TOO_SMALL;
    if (failures == 0) return BARLOW_ANALYSIS_NO_FAILURES;
    if (failures == size) return BARLOW_ANALYSIS_NO_CORRECT;
    return BARLOW_ANALYSIS_ANALYSED;
}

barlow_status bw_analysis_group_alloc(const barlow_analysis *a, bw_agroup *g, const char *who)
{
    g->trees = bw_calloc(a->n_depths, sizeof *g->trees, who);
    g->res = bw_calloc(a->n_depths, sizeof *g->res, who);
    if (!g->trees || !g->res) return BARLOW_E_NOMEM;
    for (size_t j = 0; j < a->n_depths; j++) {
        g->res[j].version = BARLOW_ANALYSIS_RESULT_VERSION;
        g->res[j].depth = a->depths[j];
        g->res[j].best_leaf = -1;
        g->res[j].best_rule = -1;
    }
    return BARLOW_OK;
}

/* Fills in group g (grouping, class and rows already set): failures, BER,
 * status (PENDING unless `analysed`), and room for its results. */
static barlow_status init_group(const barlow_analysis *a, bw_agroup *g, const size_t *rows,
                                const int32_t *labels, const int32_t *preds, int analysed)
{
    for (size_t r = 0; r < g->size; r++) g->failures += labels[rows[r]] != preds[rows[r]];
    g->ber = g->size ? (double)g->failures / (double)g->size : 0.0;
    g->status = analysed ? bw_analysis_plan_status(a, g->size, g->failures)
                         : BARLOW_ANALYSIS_PENDING;
    barlow_status st = bw_analysis_group_alloc(a, g, WHO);
    if (st != BARLOW_OK) return st;
    if (g->status == BARLOW_ANALYSIS_ANALYSED) {
        g->top = bw_mallocn(a->k, sizeof *g->top, WHO);
        g->top_scores = bw_mallocn(a->k, sizeof *g->top_scores, WHO);
        if (!g->top || !g->top_scores) return BARLOW_E_NOMEM;
    }
    return BARLOW_OK;
}

/* The number of groups: per requested grouping, one per present class. */
static size_t plan_size(uint32_t groupings, const bw_class_set *s)
{
    size_t ng = (groupings & BARLOW_ANALYSIS_BY_LABEL ? 1 : 0) +
                (groupings & BARLOW_ANALYSIS_BY_PREDICTION ? 1 : 0);
    return ng * s->n;
}

/* Makes the groups of the plan (a->n_groups of them, already counted):
 * per requested grouping, one per present class (ascending ids), with its
 * rows in members[b]; those outside [first, first + count) are PENDING.
 * *max_n: the largest group analysed (at least 1). */
static barlow_status make_groups(barlow_analysis *a, const int32_t *labels, const int32_t *preds,
                                 const bw_class_set *s, size_t first, size_t count,
                                 size_t *members[2], size_t *max_n)
{
    size_t m = s->n;
    a->g = bw_calloc(a->n_groups, sizeof *a->g, WHO);
    size_t *sizes = bw_mallocn(m, sizeof *sizes, WHO);
    size_t *offsets = bw_mallocn(m, sizeof *offsets, WHO);
    barlow_status st = a->g && sizes && offsets ? BARLOW_OK : BARLOW_E_NOMEM;
    size_t gi = 0;
    *max_n = 1;
    for (int b = 0; b < 2 && st == BARLOW_OK; b++) {
        if (!(a->groupings & (b == 0 ? BARLOW_ANALYSIS_BY_LABEL : BARLOW_ANALYSIS_BY_PREDICTION)))
            continue;
        members[b] = bucket_rows(b == 0 ? labels : preds, a->n_rows, s, sizes, offsets);
        if (!members[b]) st = BARLOW_E_NOMEM;
        for (size_t c = 0; c < m && st == BARLOW_OK; c++, gi++) {
            bw_agroup *g = &a->g[gi];
            int analysed = gi >= first && gi - first < count;
            g->by = b == 0 ? BARLOW_GROUP_BY_LABEL : BARLOW_GROUP_BY_PREDICTION;
            g->cls = s->ids[c];
            g->ci = c;
            g->off = offsets[c];
            g->size = sizes[c];
            if (analysed && g->size > *max_n) *max_n = g->size;
            st = init_group(a, g, members[b] + g->off, labels, preds, analysed);
        }
    }
    bw_free(sizes);
    bw_free(offsets);
    return st;
}

/* Copies the names of the present classes. */
static barlow_status copy_names(barlow_analysis *a, const barlow_dataset *ds,
                                const bw_class_set *s)
{
    a->names = bw_calloc(s->n, sizeof *a->names, WHO);
    if (!a->names) return BARLOW_E_NOMEM;
    a->n_present = s->n;
    for (size_t c = 0; c < s->n; c++) {
        const char *name = barlow_dataset_class_name(ds, s->ids[c]); /* NULL: no memory */
        a->names[c] = name ? bw_strdup(name, WHO) : NULL;
        if (!a->names[c])
            return bw_error(BARLOW_E_NOMEM, "%s: out of memory (name of class %d)", WHO,
                            (int)s->ids[c]);
    }
    return BARLOW_OK;
}

void bw_analysis_evaluate(barlow_analysis *a)
{
    memset(a->eval, 0, sizeof a->eval);
    for (int b = 0; b < 2; b++)
        for (size_t j = 0; j < a->n_depths; j++) {
            barlow_analysis_evaluation *e = &a->eval[b][j];
            e->version = BARLOW_ANALYSIS_EVALUATION_VERSION;
            e->grouping = (barlow_group_by)b;
            e->depth = a->depths[j];
            for (size_t i = 0; i < a->n_groups; i++) {
                const bw_agroup *g = &a->g[i];
                if ((int)g->by != b || g->size == 0 || g->status == BARLOW_ANALYSIS_PENDING)
                    continue;
                e->groups++;
                e->valid += g->res[j].valid ? 1 : 0;
            }
            e->valid_fraction = e->groups ? (double)e->valid / (double)e->groups : 0.0;
        }
}

/* The selector the workers share: the analysis' estimator settings, and
 * the threads each group's scoring gets (the threads left over when there
 * are fewer groups than threads). */
static barlow_status make_selector(const barlow_analysis *a, size_t threads,
                                   barlow_selector **sel, const char *who)
{
    barlow_selector_options so;
    barlow_selector_options_init(&so);
    so.estimator = a->estimator;
    so.n_neighbors = a->n_neighbors;
    so.seed = a->seed;
    so.threads = threads;
    barlow_status st = barlow_selector_create(&so, sel);
    return st == BARLOW_OK ? st : bw_error_prefix(st, "%s", who);
}

/* Analyses groups [ctx->first, ctx->first + count) on the worker threads
 * (each with its scratch) and reports the first failure in group order, or
 * the cancellation. */
static barlow_status run_groups(bw_actx *ctx, size_t count, size_t threads, size_t max_n,
                                barlow_progress_fn progress, void *user_data)
{
    barlow_analysis *a = ctx->a;
    size_t T = bw_resolve_threads(threads, 0);
    size_t nt = bw_resolve_threads(T, count);
    size_t inner = T / (nt ? nt : 1);
    barlow_selector *sel = NULL;
    barlow_status st = make_selector(a, inner ? inner : 1, &sel, ctx->who);
    if (st != BARLOW_OK) return st;
    ctx->sel = sel;
    bw_scratch *scratch = bw_calloc(nt, sizeof *scratch, WHO);
    if (!scratch) st = BARLOW_E_NOMEM;
    for (size_t w = 0; w < nt && st == BARLOW_OK; w++) {
        scratch[w].y = bw_malloc(max_n, WHO);
        scratch[w].scores = bw_mallocn(a->d, sizeof(double), WHO);
        if (!scratch[w].y || !scratch[w].scores) st = BARLOW_E_NOMEM;
    }
    ctx->scratch = scratch;
    int rc = st == BARLOW_OK ? bw_parallel_for(count, nt, analyse_group, ctx, progress, user_data)
                             : 0;
    for (size_t i = ctx->first; rc != 0 && st == BARLOW_OK && i < ctx->first + count; i++)
        if (a->g[i].err != BARLOW_OK)
            st = bw_error(a->g[i].err, "%s", a->g[i].errmsg ? a->g[i].errmsg : ctx->who);
    if (rc != 0 && st == BARLOW_OK) {
        if (rc == BARLOW_E_CANCELLED)
            st = bw_error(BARLOW_E_CANCELLED, "%s: cancelled by the progress callback",
                          ctx->who);
        else
            st = bw_error(rc < 0 ? (barlow_status)rc : BARLOW_E_INTERNAL,
                          "%s: the worker threads failed", ctx->who);
    }
    for (size_t w = 0; scratch && w < nt; w++) {
        bw_free(scratch[w].y);
        bw_free(scratch[w].scores);
        scratch_release(&scratch[w]);
    }
    bw_free(scratch);
    barlow_selector_free(sel);
    ctx->sel = NULL;
    return st;
}

/* The checks of the arguments that need no plan. */
static barlow_status check_inputs(const barlow_matrix *features, const barlow_dataset *dataset,
                                  barlow_analysis **out, const char *who)
{
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    if (!dataset) return bw_error(BARLOW_E_INVALID_ARG, "%s: dataset is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    size_t n = barlow_dataset_size(dataset);
    if (barlow_matrix_rows(features) != n)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: features have %zu rows but the dataset has %zu rows", who,
                        barlow_matrix_rows(features), n);
    if (!barlow_dataset_has_predictions(dataset))
        return bw_error(BARLOW_E_STATE,
                        "%s: the dataset has no predictions (failures are prediction != "
                        "label)",
                        who);
    return BARLOW_OK;
}

/* The plan (class set, names, groups) and the analysis of groups [first,
 * first + count) of it (every group when `whole`): barlow_analysis_run and
 * barlow_analysis_run_groups. */
static barlow_status analyze_range(const barlow_matrix *features, const barlow_dataset *dataset,
                                   const barlow_analysis_options *opts, size_t first,
                                   size_t count, int whole, barlow_progress_fn progress,
                                   void *user_data, barlow_analysis **out, const char *who)
{
    bw_clear_error();
    barlow_status st = check_inputs(features, dataset, out, who);
    if (st != BARLOW_OK) return st;
    if (!whole && count == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: count=0 (must be >= 1)", who);
    barlow_analysis *a = bw_calloc(1, sizeof *a, WHO);
    if (!a) return BARLOW_E_NOMEM;
    a->n_rows = barlow_dataset_size(dataset);
    a->d = barlow_matrix_cols(features);
    const int32_t *labels = barlow_dataset_labels(dataset);
    const int32_t *preds = barlow_dataset_predictions(dataset);
    size_t *members[2] = {NULL, NULL};
    bw_class_set present = {NULL, NULL, NULL, 0};
    size_t max_n = 1;
    a->n_classes = barlow_dataset_class_count(dataset);
    st = bw_analysis_check_options(opts, a->d, a, who);
    if (st == BARLOW_OK) st = class_set_build(labels, preds, a->n_rows, a->n_classes, &present);
    if (st == BARLOW_OK) st = copy_names(a, dataset, &present);
    if (st == BARLOW_OK) {
        a->n_groups = plan_size(a->groupings, &present);
        if (whole) count = a->n_groups;
        if (first > a->n_groups || count > a->n_groups - first)
            st = bw_error(BARLOW_E_INVALID_ARG,
                          "%s: first=%zu + count=%zu is beyond the %zu groups of the plan", who,
                          first, count, a->n_groups);
    }
    if (st == BARLOW_OK)
        st = make_groups(a, labels, preds, &present, first, count, members, &max_n);
    bw_actx ctx = {.a = a, .X = features, .labels = labels, .preds = preds,
                   .members = {members[0], members[1]}, .first = first, .who = who};
    if (st == BARLOW_OK)
        st = run_groups(&ctx, count, opts ? opts->threads : 0, max_n, progress, user_data);
    if (st == BARLOW_OK) bw_analysis_evaluate(a);
    bw_free(members[0]);
    bw_free(members[1]);
    class_set_free(&present);
    if (st == BARLOW_OK) *out = a;
    else barlow_analysis_free(a);
    return st;
}

barlow_status barlow_analysis_run(const barlow_matrix *features, const barlow_dataset *dataset,
                             const barlow_analysis_options *opts, barlow_progress_fn progress,
                             void *user_data, barlow_analysis **out)
{
    return analyze_range(features, dataset, opts, 0, 0, 1, progress, user_data, out, WHO);
}

barlow_status barlow_analysis_run_groups(const barlow_matrix *features, const barlow_dataset *dataset,
                                    const barlow_analysis_options *opts, size_t first,
                                    size_t count, barlow_progress_fn progress, void *user_data,
                                    barlow_analysis **out)
{
    return analyze_range(features, dataset, opts, first, count, 0, progress, user_data, out,
                         "barlow_analysis_run_groups");
}

barlow_status barlow_analysis_count_groups(const barlow_dataset *dataset,
                                           const barlow_analysis_options *opts,
                                           size_t *n_groups)
{
    static const char who[] = "barlow_analysis_count_groups";
    bw_clear_error();
    if (!dataset || !n_groups)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        dataset ? "n_groups" : "dataset");
    uint32_t groupings = BARLOW_ANALYSIS_BY_BOTH;
    if (opts) {
        barlow_status st = bw_check_options_version(
            opts->version, BARLOW_ANALYSIS_OPTIONS_VERSION,
            "barlow_analysis_count_groups: barlow_analysis_options");
        if (st != BARLOW_OK) return st;
        groupings = opts->groupings;
    }
    barlow_status gst = check_groupings(groupings, who);
    if (gst != BARLOW_OK) return gst;
    if (!barlow_dataset_has_predictions(dataset))
        return bw_error(BARLOW_E_STATE, "%s: the dataset has no predictions", who);
    bw_class_set present = {NULL, NULL, NULL, 0};
    barlow_status st = class_set_build(barlow_dataset_labels(dataset),
                                       barlow_dataset_predictions(dataset),
                                       barlow_dataset_size(dataset),
                                       barlow_dataset_class_count(dataset), &present);
    if (st == BARLOW_OK) *n_groups = plan_size(groupings, &present);
    class_set_free(&present);
    return st;
}

/* ---- accessors ------------------------------------------------------------------ */

size_t barlow_analysis_group_count(const barlow_analysis *a) { return a ? a->n_groups : 0; }
size_t barlow_analysis_depth_count(const barlow_analysis *a) { return a ? a->n_depths : 0; }

int32_t barlow_analysis_depth(const barlow_analysis *a, size_t j)
{
    return a && j < a->n_depths ? a->depths[j] : 0;
}

barlow_status barlow_analysis_get_group(const barlow_analysis *a, size_t i,
                                        barlow_analysis_group *out)
{
    static const char who[] = "barlow_analysis_get_group";
    bw_clear_error();
    if (!a || !out) return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, a ? "out" : "a");
    if (i >= a->n_groups)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: group %zu out of range (%zu groups)", who, i,
                        a->n_groups);
    barlow_status st = bw_check_options_version(out->version, BARLOW_ANALYSIS_GROUP_VERSION,
                                                "barlow_analysis_get_group: "
                                                "barlow_analysis_group");
    if (st != BARLOW_OK) return st;
    const bw_agroup *g = &a->g[i];
    barlow_analysis_group r = {.version = out->version};
    r.grouping = g->by;
    r.class_id = g->cls;
    r.class_name = a->names[g->ci];
    r.size = g->size;
    r.failures = g->failures;
    r.base_error_rate = g->ber;
    r.status = g->status;
    r.n_selected = g->n_top;
    *out = r;
    return BARLOW_OK;
}

barlow_status barlow_analysis_group_selection(const barlow_analysis *a, size_t i,
                                              size_t *features, double *scores)
{
    static const char who[] = "barlow_analysis_group_selection";
    bw_clear_error();
    if (!a) return bw_error(BARLOW_E_INVALID_ARG, "%s: a is NULL", who);
    if (i >= a->n_groups)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: group %zu out of range (%zu groups)", who, i,
                        a->n_groups);
    const bw_agroup *g = &a->g[i];
    if (features && g->n_top) memcpy(features, g->top, g->n_top * sizeof *features);
    if (scores && g->n_top) memcpy(scores, g->top_scores, g->n_top * sizeof *scores);
    return BARLOW_OK;
}

const barlow_tree *barlow_analysis_group_tree(const barlow_analysis *a, size_t i, size_t j)
{
    if (!a || i >= a->n_groups || j >= a->n_depths) return NULL;
    return a->g[i].trees[j];
}

barlow_status barlow_analysis_get_result(const barlow_analysis *a, size_t i, size_t j,
                                         barlow_analysis_result *out)
{
    static const char who[] = "barlow_analysis_get_result";
    bw_clear_error();
    if (!a || !out) return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, a ? "out" : "a");
    if (i >= a->n_groups)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: group %zu out of range (%zu groups)", who, i,
                        a->n_groups);
    if (j >= a->n_depths)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: depth index %zu out of range (%zu depths)",
                        who, j, a->n_depths);
    barlow_status st = bw_check_options_version(out->version, BARLOW_ANALYSIS_RESULT_VERSION,
                                                "barlow_analysis_get_result: "
                                                "barlow_analysis_result");
    if (st != BARLOW_OK) return st;
    barlow_analysis_result r = a->g[i].res[j];
    r.version = out->version;
    *out = r;
    return BARLOW_OK;
}

barlow_status barlow_analysis_get_evaluation(const barlow_analysis *a, barlow_group_by grouping,
                                             size_t j, barlow_analysis_evaluation *out)
{
    static const char who[] = "barlow_analysis_get_evaluation";
    bw_clear_error();
    if (!a || !out) return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, a ? "out" : "a");
    if (grouping != BARLOW_GROUP_BY_LABEL && grouping != BARLOW_GROUP_BY_PREDICTION)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: grouping=%d (must be 0 label or 1 prediction)",
                        who, (int)grouping);
    uint32_t bit = grouping == BARLOW_GROUP_BY_LABEL ? BARLOW_ANALYSIS_BY_LABEL
                                                     : BARLOW_ANALYSIS_BY_PREDICTION;
    if (!(a->groupings & bit))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the %s grouping was not analysed", who,
                        grouping == BARLOW_GROUP_BY_LABEL ? "label" : "prediction");
    if (j >= a->n_depths)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: depth index %zu out of range (%zu depths)",
                        who, j, a->n_depths);
    barlow_status st = bw_check_options_version(out->version,
                                                BARLOW_ANALYSIS_EVALUATION_VERSION,
                                                "barlow_analysis_get_evaluation: "
                                                "barlow_analysis_evaluation");
    if (st != BARLOW_OK) return st;
    barlow_analysis_evaluation r = a->eval[grouping][j];
    r.version = out->version;
    *out = r;
    return BARLOW_OK;
}

/* ---- export ------------------------------------------------------------------------ */

static const char *grouping_name(barlow_group_by b)
{
    return b == BARLOW_GROUP_BY_LABEL ? "label" : "prediction";
}

static const char *status_name(barlow_analysis_status s)
{
    switch (s) {
    case BARLOW_ANALYSIS_ANALYSED: return "analysed";
    case BARLOW_ANALYSIS_EMPTY: return "empty";
    case BARLOW_ANALYSIS_NO_FAILURES: return "no_failures";
    case BARLOW_ANALYSIS_NO_CORRECT: return "no_correct";
    case BARLOW_ANALYSIS_TOO_SMALL: return "too_small";
    case BARLOW_ANALYSIS_PENDING: return "pending";
    }
    return "unknown";
}

static const char *estimator_name(barlow_estimator e)
{
    switch (e) {
    case BARLOW_ESTIMATOR_KNN: return "knn";
    case BARLOW_ESTIMATOR_SPLIT_GAIN: return "split_gain";
    case BARLOW_ESTIMATOR_MEAN: return "mean";
    }
    return "unknown";
}

static barlow_status build_json(const barlow_analysis *a, bw_sb *sb, const char *who)
{
    bw_sb_append(sb, "{");
    bw_sb_json_kv_string(sb, "format", "barlow-analysis");
    bw_sb_append(sb, ",\"format_version\":1,");
    bw_sb_json_kv_size(sb, "rows", a->n_rows);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "columns", a->d);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "classes", a->n_classes);
    bw_sb_append(sb, ",\"options\":{\"groupings\":[");
    int first = 1;
    for (int b = 0; b < 2; b++)
        if (a->groupings & (b == 0 ? BARLOW_ANALYSIS_BY_LABEL : BARLOW_ANALYSIS_BY_PREDICTION)) {
            if (!first) bw_sb_append(sb, ",");
            bw_sb_json_string(sb, grouping_name((barlow_group_by)b));
            first = 0;
        }
    bw_sb_append(sb, "],");
    bw_sb_json_kv_size(sb, "k", a->k);
    bw_sb_append(sb, ",\"depths\":[");
    for (size_t j = 0; j < a->n_depths; j++)
        bw_sb_appendf(sb, "%s%d", j ? "," : "", (int)a->depths[j]);
    bw_sb_append(sb, "],");
    bw_sb_json_kv_string(sb, "estimator", estimator_name(a->estimator));
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "n_neighbors", a->n_neighbors);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "seed", a->seed);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "delta", a->delta);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "gamma", a->gamma);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_size(sb, "min_group_size", a->min_group_size);
    bw_sb_append(sb, ",\"rules\":{");
    bw_sb_json_kv_double(sb, "min_coverage", a->ropts.min_coverage);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "min_error_rate", a->ropts.min_error_rate);
    bw_sb_append(sb, ",");
    bw_sb_json_kv_double(sb, "max_p_value", a->ropts.max_p_value);
    bw_sb_append(sb, "}},\"evaluation\":[");
    first = 1;
    for (int b = 0; b < 2; b++) {
        if (!(a->groupings & (b == 0 ? BARLOW_ANALYSIS_BY_LABEL : BARLOW_ANALYSIS_BY_PREDICTION)))
            continue;
        for (size_t j = 0; j < a->n_depths; j++) {
            const barlow_analysis_evaluation *e = &a->eval[b][j];
            if (!first) bw_sb_append(sb, ",");
            first = 0;
            bw_sb_append(sb, "{");
            bw_sb_json_kv_string(sb, "grouping", grouping_name((barlow_group_by)b));
            bw_sb_appendf(sb, ",\"depth\":%d,", (int)e->depth);
            bw_sb_json_kv_size(sb, "groups", e->groups);
            bw_sb_append(sb, ",");
            bw_sb_json_kv_size(sb, "valid", e->valid);
            bw_sb_append(sb, ",");
            bw_sb_json_kv_double(sb, "valid_fraction", e->valid_fraction);
            bw_sb_append(sb, "}");
        }
    }
    bw_sb_append(sb, "],\"groups\":[");
    for (size_t i = 0; i < a->n_groups; i++) {
        const bw_agroup *g = &a->g[i];
        if (i) bw_sb_append(sb, ",");
        bw_sb_append(sb, "{");
        bw_sb_json_kv_string(sb, "grouping", grouping_name(g->by));
        bw_sb_appendf(sb, ",\"class\":%d,", (int)g->cls);
        bw_sb_json_kv_string(sb, "name", a->names[g->ci]);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_size(sb, "size", g->size);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_size(sb, "failures", g->failures);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_double(sb, "base_error_rate", g->ber);
        bw_sb_append(sb, ",");
        bw_sb_json_kv_string(sb, "status", status_name(g->status));
        bw_sb_append(sb, ",\"selected_features\":[");
        for (size_t t = 0; t < g->n_top; t++) bw_sb_appendf(sb, "%s%zu", t ? "," : "", g->top[t]);
        bw_sb_append(sb, "],\"selection_scores\":[");
        for (size_t t = 0; t < g->n_top; t++) {
            if (t) bw_sb_append(sb, ",");
            bw_sb_json_double(sb, g->top_scores[t]);
        }
        bw_sb_append(sb, "],\"results\":[");
        for (size_t j = 0; j < a->n_depths; j++) {
            const barlow_analysis_result *r = &g->res[j];
            if (j) bw_sb_append(sb, ",");
            bw_sb_appendf(sb, "{\"depth\":%d,", (int)r->depth);
            if (!g->trees[j]) {
                bw_sb_append(sb, "\"aler\":null,\"best_leaf\":null,\"best_error_rate\":null,"
                                 "\"best_error_coverage\":null,\"best_importance\":null,"
                                 "\"valid\":false,\"best_rule\":null,\"tree\":null}");
                continue;
            }
            bw_sb_json_kv_double(sb, "aler", r->aler);
            bw_sb_appendf(sb, ",\"best_leaf\":%d,", (int)r->best_leaf);
            bw_sb_json_kv_double(sb, "best_error_rate", r->best_error_rate);
            bw_sb_append(sb, ",");
            bw_sb_json_kv_double(sb, "best_error_coverage", r->best_error_coverage);
            bw_sb_append(sb, ",");
            bw_sb_json_kv_double(sb, "best_importance", r->best_importance);
            bw_sb_appendf(sb, ",\"valid\":%s,", r->valid ? "true" : "false");
            if (r->best_rule >= 0) bw_sb_appendf(sb, "\"best_rule\":%d,", (int)r->best_rule);
            else bw_sb_append(sb, "\"best_rule\":null,");
            bw_sb_append(sb, "\"tree\":");
            barlow_buffer tb = {NULL, 0};
            barlow_status st = barlow_tree_to_json(g->trees[j], &a->ropts, NULL, &tb);
            if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
            bw_sb_appendn(sb, tb.data, tb.size);
            barlow_buffer_free(&tb);
            bw_sb_append(sb, "}");
        }
        bw_sb_append(sb, "]}");
    }
    bw_sb_append(sb, "]}");
    return BARLOW_OK;
}


/* An RFC 4180 field: quoted (with "" for ") when it holds a comma, a quote,
 * CR or LF, or begins or ends with a space. */
static void csv_field(bw_sb *sb, const char *s)
{
    size_t n = strlen(s);
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') quote = 1;
    if (!quote) {
        bw_sb_append(sb, s);
        return;
    }
    bw_sb_append(sb, "\"");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') bw_sb_append(sb, "\"\"");
        else bw_sb_appendn(sb, s + i, 1);
    }
    bw_sb_append(sb, "\"");
}

static barlow_status build_csv(const barlow_analysis *a, bw_sb *sb, const char *who)
{
    bw_sb_append(sb, "grouping,class,name,depth,size,failures,base_error_rate,aler,best_leaf,"
                     "best_error_rate,best_error_coverage,best_importance,valid,status,"
                     "best_rule\n");
    for (size_t i = 0; i < a->n_groups; i++) {
        const bw_agroup *g = &a->g[i];
        for (size_t j = 0; j < a->n_depths; j++) {
            const barlow_analysis_result *r = &g->res[j];
            bw_sb_appendf(sb, "%s,%d,", grouping_name(g->by), (int)g->cls);
            csv_field(sb, a->names[g->ci]);
            bw_sb_appendf(sb, ",%d,%zu,%zu,", (int)r->depth, g->size, g->failures);
            bw_sb_json_double(sb, g->ber);
            bw_sb_append(sb, ",");
            if (!g->trees[j]) {
                bw_sb_appendf(sb, ",,,,,false,%s,\n", status_name(g->status));
                continue;
            }
            bw_sb_json_double(sb, r->aler);
            bw_sb_appendf(sb, ",%d,", (int)r->best_leaf);
            bw_sb_json_double(sb, r->best_error_rate);
            bw_sb_append(sb, ",");
            bw_sb_json_double(sb, r->best_error_coverage);
            bw_sb_append(sb, ",");
            bw_sb_json_double(sb, r->best_importance);
            bw_sb_appendf(sb, ",%s,%s,", r->valid ? "true" : "false", status_name(g->status));
            if (r->best_rule >= 0) {
                barlow_buffer tb = {NULL, 0};
                barlow_status st = barlow_tree_rule_text(g->trees[j], (size_t)r->best_rule, &tb);
                if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
                csv_field(sb, tb.data);
                barlow_buffer_free(&tb);
            }
            bw_sb_append(sb, "\n");
        }
    }
    return BARLOW_OK;
}

/* The four exports: build the JSON or CSV text, then return it in *out
 * (to_file 0) or write it to path atomically (to_file 1). */
typedef barlow_status (*bw_analysis_builder)(const barlow_analysis *, bw_sb *, const char *);

static barlow_status export_text(const barlow_analysis *a, bw_analysis_builder build,
                                 int to_file, int trailing_newline, barlow_buffer *out,
                                 const char *path, const char *who)
{
    bw_clear_error();
    if (!a || (to_file ? !path : !out))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !a ? "a" : to_file ? "path" : "out");
    bw_sb sb;
    bw_sb_init(&sb);
    barlow_status st = build(a, &sb, who);
    if (st != BARLOW_OK) {
        bw_sb_free(&sb);
        return st;
    }
    if (!to_file) return bw_sb_finish(&sb, out, who);
    if (trailing_newline) bw_sb_append(&sb, "\n");
    return bw_sb_save(&sb, path, who);
}

barlow_status barlow_analysis_to_json(const barlow_analysis *a, barlow_buffer *out)
{
    return export_text(a, build_json, 0, 0, out, NULL, "barlow_analysis_to_json");
}

barlow_status barlow_analysis_to_csv(const barlow_analysis *a, barlow_buffer *out)
{
    return export_text(a, build_csv, 0, 0, out, NULL, "barlow_analysis_to_csv");
}

barlow_status barlow_analysis_save_json(const barlow_analysis *a, const char *path)
{
    return export_text(a, build_json, 1, 1, NULL, path, "barlow_analysis_save_json");
}

barlow_status barlow_analysis_save_csv(const barlow_analysis *a, const char *path)
{
    return export_text(a, build_csv, 1, 0, NULL, path, "barlow_analysis_save_csv");
}
