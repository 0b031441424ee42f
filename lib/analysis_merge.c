/* barlow_analysis_merge: joins the parts of a distributed analysis
 * (barlow_analysis_run_groups() results of one plan) into the analysis that
 * barlow_analysis_run() gives, as a deep copy. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_internal.h"
#include "tree_internal.h"

static const char WHO[] = "barlow_analysis_merge";

/* INVALID_ARG "barlow_analysis_merge: part p is not of part 0's plan: ...". */
static barlow_status differs(size_t p, const char *fmt, ...) BW_PRINTF(2, 3);
static barlow_status differs(size_t p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bw_error(BARLOW_E_INVALID_ARG, "%s: part %zu is not a part of part 0's plan: %s",
                    WHO, p, msg);
}

static int same_tree_options(const barlow_tree_options *x, const barlow_tree_options *y)
{
    return x->max_depth == y->max_depth && x->criterion == y->criterion &&
           x->class_weight == y->class_weight && x->weight_correct == y->weight_correct &&
           x->weight_failure == y->weight_failure &&
           x->min_samples_split == y->min_samples_split &&
           x->min_samples_leaf == y->min_samples_leaf &&
           x->min_impurity_decrease == y->min_impurity_decrease;
}

/* The sizes and options of part p against part 0's (a). */
static barlow_status same_options(const barlow_analysis *a, const barlow_analysis *b, size_t p)
{
    if (b->n_rows != a->n_rows) return differs(p, "rows %zu vs %zu", b->n_rows, a->n_rows);
    if (b->d != a->d) return differs(p, "columns %zu vs %zu", b->d, a->d);
    if (b->n_classes != a->n_classes)
        return differs(p, "classes %zu vs %zu", b->n_classes, a->n_classes);
    if (b->groupings != a->groupings)
        return differs(p, "groupings %u vs %u", (unsigned)b->groupings, (unsigned)a->groupings);
    if (b->k != a->k) return differs(p, "k %zu vs %zu", b->k, a->k);
    if (b->estimator != a->estimator || b->n_neighbors != a->n_neighbors)
        return differs(p, "estimator %d with n_neighbors %zu vs %d with %zu",
                       (int)b->estimator, b->n_neighbors, (int)a->estimator, a->n_neighbors);
    if (b->seed != a->seed)
        return differs(p, "seed %u vs %u", (unsigned)b->seed, (unsigned)a->seed);
    if (b->delta != a->delta || b->gamma != a->gamma)
        return differs(p, "delta %g, gamma %g vs %g, %g", b->delta, b->gamma, a->delta,
                       a->gamma);
    if (b->min_group_size != a->min_group_size)
        return differs(p, "min_group_size %zu vs %zu", b->min_group_size, a->min_group_size);
    if (!same_tree_options(&b->topts, &a->topts)) return differs(p, "the tree options");
    if (b->ropts.min_coverage != a->ropts.min_coverage ||
        b->ropts.min_error_rate != a->ropts.min_error_rate ||
        b->ropts.max_p_value != a->ropts.max_p_value)
        return differs(p, "the rule options");
    if (b->n_depths != a->n_depths ||
        memcmp(b->depths, a->depths, a->n_depths * sizeof *a->depths) != 0)
        return differs(p, "the depths");
    return BARLOW_OK;
}

/* The classes and the groups' identities and counts of part p. */
static barlow_status same_groups(const barlow_analysis *a, const barlow_analysis *b, size_t p)
{
    if (b->n_present != a->n_present)
        return differs(p, "%zu classes present vs %zu", b->n_present, a->n_present);
    for (size_t c = 0; c < a->n_present; c++)
        if (strcmp(b->names[c], a->names[c]) != 0)
            return differs(p, "class name \"%s\" vs \"%s\"", b->names[c], a->names[c]);
    if (b->n_groups != a->n_groups)
        return differs(p, "%zu groups vs %zu", b->n_groups, a->n_groups);
    for (size_t i = 0; i < a->n_groups; i++) {
        const bw_agroup *x = &b->g[i], *y = &a->g[i];
        if (x->by != y->by || x->cls != y->cls || x->size != y->size ||
            x->failures != y->failures)
            return differs(p, "group %zu is class %d of grouping %d with %zu rows and %zu "
                           "failures vs class %d of grouping %d with %zu and %zu", i,
                           (int)x->cls, (int)x->by, x->size, x->failures, (int)y->cls,
                           (int)y->by, y->size, y->failures);
    }
    return BARLOW_OK;
}

/* owner[i]: the one part that analysed group i. */
static barlow_status find_owners(const barlow_analysis *const *parts, size_t n_parts,
                                 size_t *owner)
{
    const barlow_analysis *a = parts[0];
    for (size_t i = 0; i < a->n_groups; i++) {
        size_t found = n_parts;
        for (size_t p = 0; p < n_parts; p++) {
            if (parts[p]->g[i].status == BARLOW_ANALYSIS_PENDING) continue;
            if (found < n_parts)
                return bw_error(BARLOW_E_INVALID_ARG,
                                "%s: group %s/%s is analysed in parts %zu and %zu", WHO,
                                a->g[i].by == BARLOW_GROUP_BY_LABEL ? "label" : "prediction",
                                a->names[a->g[i].ci], found, p);
            found = p;
        }
        if (found == n_parts)
            return bw_error(BARLOW_E_INVALID_ARG, "%s: group %s/%s is analysed in no part", WHO,
                            a->g[i].by == BARLOW_GROUP_BY_LABEL ? "label" : "prediction",
                            a->names[a->g[i].ci]);
        owner[i] = found;
    }
    return BARLOW_OK;
}

/* A deep copy of group src of analysis a into dst (zeroed). */
static barlow_status copy_group(const barlow_analysis *a, bw_agroup *dst, const bw_agroup *src)
{
    *dst = *src;
    dst->top = NULL;
    dst->top_scores = NULL;
    dst->trees = NULL;
    dst->res = NULL;
    dst->err = BARLOW_OK;
    dst->errmsg = NULL;
    dst->off = 0;
    barlow_status st = bw_analysis_group_alloc(a, dst, WHO);
    if (st == BARLOW_OK && src->n_top) {
        dst->top = bw_mallocn(src->n_top, sizeof *dst->top, WHO);
        dst->top_scores = bw_mallocn(src->n_top, sizeof *dst->top_scores, WHO);
        if (!dst->top || !dst->top_scores) st = BARLOW_E_NOMEM;
        else {
            memcpy(dst->top, src->top, src->n_top * sizeof *dst->top);
            memcpy(dst->top_scores, src->top_scores, src->n_top * sizeof *dst->top_scores);
        }
    }
    if (st == BARLOW_OK) memcpy(dst->res, src->res, a->n_depths * sizeof *dst->res);
    for (size_t j = 0; j < a->n_depths && st == BARLOW_OK; j++)
        if (src->trees[j]) st = bw_tree_clone(src->trees[j], &dst->trees[j], WHO);
    return st;
}

/* The merged analysis: part 0's plan, each group from its owner. */
static barlow_status build(const barlow_analysis *const *parts, const size_t *owner,
                           barlow_analysis **out)
{
    const barlow_analysis *p0 = parts[0];
    barlow_analysis *a = bw_calloc(1, sizeof *a, WHO);
    if (!a) return BARLOW_E_NOMEM;
    *a = *p0;
    a->names = bw_calloc(p0->n_present, sizeof *a->names, WHO);
    a->g = bw_calloc(p0->n_groups, sizeof *a->g, WHO);
    barlow_status st = a->names && a->g ? BARLOW_OK : BARLOW_E_NOMEM;
    if (!a->names) a->n_present = 0;
    if (!a->g) a->n_groups = 0;
    for (size_t c = 0; c < a->n_present && st == BARLOW_OK; c++) {
        a->names[c] = bw_strdup(p0->names[c], WHO);
        if (!a->names[c]) st = BARLOW_E_NOMEM;
    }
    for (size_t i = 0; i < a->n_groups && st == BARLOW_OK; i++)
        st = copy_group(a, &a->g[i], &parts[owner[i]]->g[i]);
    if (st == BARLOW_OK) {
        bw_analysis_evaluate(a);
        *out = a;
    } else {
        barlow_analysis_free(a);
    }
    return st;
}

barlow_status barlow_analysis_merge(const barlow_analysis *const *parts, size_t n_parts,
                                    barlow_analysis **out)
{
    bw_clear_error();
    if (!parts || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", WHO, parts ? "out" : "parts");
    if (n_parts == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n_parts=0 (must be >= 1)", WHO);
    for (size_t p = 0; p < n_parts; p++)
        if (!parts[p]) return bw_error(BARLOW_E_INVALID_ARG, "%s: parts[%zu] is NULL", WHO, p);
    barlow_status st = BARLOW_OK;
    for (size_t p = 1; p < n_parts && st == BARLOW_OK; p++) {
        st = same_options(parts[0], parts[p], p);
        if (st == BARLOW_OK) st = same_groups(parts[0], parts[p], p);
    }
    if (st != BARLOW_OK) return st;
    size_t *owner = bw_mallocn(parts[0]->n_groups, sizeof *owner, WHO);
    if (!owner) return BARLOW_E_NOMEM;
    st = find_owners(parts, n_parts, owner);
    if (st == BARLOW_OK) st = build(parts, owner, out);
    bw_free(owner);
    return st;
}
