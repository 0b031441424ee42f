/* why.c: the rule that explains the failures of one class.
 * usage: why features.npz CLASS
 * features.npz as barlow extract or barlow run writes it (features, labels,
 * predictions and class names of the extracted images). */
#include <barlow/barlow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 20

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: why features.npz CLASS\n");
        return 2;
    }
    char labels[4096], predictions[4096];
    snprintf(labels, sizeof labels, "%s:labels", argv[1]);
    snprintf(predictions, sizeof predictions, "%s:predictions", argv[1]);

    barlow_dataset *ds = NULL;
    barlow_group *g = NULL;
    barlow_matrix *all = NULL, *x = NULL;
    barlow_selector *sel = NULL;
    barlow_tree *tree = NULL;
    uint8_t *failures = NULL;
    size_t top[K], leaves[2]; /* depth 1: at most 2 leaves */
    barlow_buffer rule = {NULL, 0};
    int rc = 1;

    /* labels, predictions and class names; the features, one row per image */
    if (barlow_dataset_load_npy(labels, predictions, NULL, &ds) != BARLOW_OK ||
        barlow_matrix_load_npz(argv[1], "features", &all) != BARLOW_OK)
        goto out;
    /* the images labelled CLASS, their features, and which ones the model got wrong */
    if (barlow_group_create_by_name(ds, BARLOW_GROUP_BY_LABEL, argv[2], &g) != BARLOW_OK ||
        barlow_group_gather_rows(g, all, &x) != BARLOW_OK)
        goto out;
    failures = malloc(barlow_group_size(g));
    if (!failures || barlow_group_failures(g, failures) != BARLOW_OK) goto out;
    /* the K features with the highest mutual information with failure
     * (NULL options: scikit-learn's kNN estimator, seed 0, all cores) */
    if (barlow_selector_create(NULL, &sel) != BARLOW_OK ||
        barlow_selector_top_k(sel, x, failures, K, top, NULL) != BARLOW_OK)
        goto out;
    /* a depth-1 failure tree on them, and its most important leaf as a sentence */
    if (barlow_tree_fit(x, failures, top, K, NULL, &tree) != BARLOW_OK ||
        barlow_tree_leaves_by_importance(tree, leaves) != BARLOW_OK ||
        barlow_tree_rule_text(tree, leaves[0], &rule) != BARLOW_OK)
        goto out;
    printf("%s\n", (const char *)rule.data);
    rc = 0;
out:
    if (rc) fprintf(stderr, "why: %s\n", barlow_last_error());
    barlow_buffer_free(&rule);
    barlow_tree_free(tree);
    barlow_selector_free(sel);
    free(failures);
    barlow_matrix_free(x);
    barlow_matrix_free(all);
    barlow_group_free(g);
    barlow_dataset_free(ds);
    return rc;
}
