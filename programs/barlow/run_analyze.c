/* barlow run, stage 2: the whole-dataset analysis of the extracted rows
 * and each row's leaf in its group's tree, per grouping and depth. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"

/* The dataset of the extracted rows (analysis row i = dataset row
 * index[i]), with the same class names; the dataset itself when every
 * row was extracted. */
static int analysis_dataset(run_state *s)
{
    size_t n = barlow_dataset_size(s->ds), k = barlow_dataset_class_count(s->ds);
    if (s->m == n) {
        s->ads = s->ds;
        return CLI_OK;
    }
    const int32_t *lab = barlow_dataset_labels(s->ds), *pre = barlow_dataset_predictions(s->ds);
    int32_t *l = malloc(s->m * sizeof *l), *p = malloc(s->m * sizeof *p);
    const char **names = malloc(k * sizeof *names);
    int rc = CLI_ERROR;
    if (!l || !p || !names) {
        cli_set_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->m; i++) {
        l[i] = lab[s->index[i]];
        p[i] = pre[s->index[i]];
    }
    for (size_t c = 0; c < k; c++) names[c] = barlow_dataset_class_name(s->ds, (int32_t)c);
    if (barlow_dataset_create(s->m, l, p, names, k, &s->ads) != BARLOW_OK)
        rc = run_lib_error(NULL);
    else
        rc = CLI_OK;
done:
    free(l);
    free(p);
    free(names);
    return rc;
}

size_t run_group_index(const run_state *s, barlow_group_by by, int32_t class_id)
{
    size_t ng = barlow_analysis_group_count(s->an);
    for (size_t i = 0; i < ng; i++) {
        barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
        if (barlow_analysis_get_group(s->an, i, &g) == BARLOW_OK && g.grouping == by &&
            g.class_id == class_id)
            return i;
    }
    return SIZE_MAX;
}

/* leaves[(b * n_depths + j) * n + row] for grouping b (0 label, 1
 * prediction) and the j-th depth: the leaf of the dataset row in its
 * group's tree, -1 for rows without features or groups without a tree. */
static int compute_leaves(run_state *s)
{
    size_t n = barlow_dataset_size(s->ds), nd = barlow_analysis_depth_count(s->an);
    size_t k = barlow_dataset_class_count(s->ds), d = barlow_matrix_cols(s->X);
    s->leaves = malloc(2 * nd * n * sizeof *s->leaves);
    size_t *group_of = malloc(2 * k * sizeof *group_of);
    if (!s->leaves || !group_of) {
        free(group_of);
        cli_set_error("out of memory");
        return CLI_ERROR;
    }
    for (size_t i = 0; i < 2 * nd * n; i++) s->leaves[i] = -1;
    for (size_t b = 0; b < 2; b++)
        for (size_t c = 0; c < k; c++)
            group_of[b * k + c] = run_group_index(s, (barlow_group_by)b, (int32_t)c);
    const int32_t *lab = barlow_dataset_labels(s->ads), *pre = barlow_dataset_predictions(s->ads);
    int rc = CLI_OK;
    for (size_t b = 0; b < 2 && rc == CLI_OK; b++)
        for (size_t i = 0; i < s->m && rc == CLI_OK; i++) {
            size_t g = group_of[b * k + (size_t)(b == 0 ? lab[i] : pre[i])];
            for (size_t j = 0; g != SIZE_MAX && j < nd; j++) {
                const barlow_tree *t = barlow_analysis_group_tree(s->an, g, j);
                size_t leaf;
                if (!t) continue;
                if (barlow_tree_apply_row(t, barlow_matrix_row(s->X, i), d, &leaf) != BARLOW_OK) {
                    rc = run_lib_error(NULL);
                    break;
                }
                s->leaves[(b * nd + j) * n + s->index[i]] = (int32_t)leaf;
            }
        }
    free(group_of);
    return rc;
}

int run_analyze(run_state *s)
{
    if (analysis_dataset(s) != CLI_OK) return CLI_ERROR;
    const int32_t *lab = barlow_dataset_labels(s->ads), *pre = barlow_dataset_predictions(s->ads);
    s->n_failures = 0;
    for (size_t i = 0; i < s->m; i++) s->n_failures += lab[i] != pre[i];
    barlow_analysis_options ao;
    barlow_analysis_options_init(&ao);
    ao.groupings = s->a.groupings;
    size_t d = barlow_matrix_cols(s->X);
    ao.k = s->a.k < d ? s->a.k : d;
    ao.depths = s->a.depths;
    ao.n_depths = s->a.n_depths;
    ao.threads = s->a.threads;
    ao.seed = s->a.seed;
    if (barlow_analysis_run(s->X, s->ads, &ao, cli_progress_fn, &s->progress, &s->an) != BARLOW_OK)
        return run_lib_error("analyze");
    return compute_leaves(s);
}
