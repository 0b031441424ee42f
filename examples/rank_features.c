/* rank_features — which features of a group tell the most about failure?
 *
 *   rank_features FEATURES.npy FAILURES.npy [K]
 *
 * FEATURES.npy: an n x d matrix (one row per image, e.g. the penultimate
 * layer of a robust model); FAILURES.npy: n flags, 1 where the model got the
 * image wrong. Prints the K (default 10) features with the highest mutual
 * information with failure, best first — the same numbers as scikit-learn's
 * mutual_info_classif(X, y, n_neighbors=3, random_state=0).
 *
 * Build: cc rank_features.c $(pkg-config --cflags --libs barlow)
 */
#include <stdio.h>
#include <stdlib.h>

#include <barlow/barlow.h>

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s FEATURES.npy FAILURES.npy [K]\n", argv[0]);
        return 2;
    }
    size_t k = argc == 4 ? (size_t)strtoul(argv[3], NULL, 10) : 10;

    barlow_matrix *features = NULL;
    barlow_array *flags = NULL;
    barlow_selector *selector = NULL;
    int32_t *flags32 = NULL;
    uint8_t *failures = NULL;
    size_t *top = NULL;
    double *scores = NULL;
    int rc = 1;

    /* 1. load the features (float32; float64 files are converted) */
    barlow_status st = barlow_matrix_load_npy(argv[1], &features);
    if (st != BARLOW_OK) goto fail;
    size_t n = barlow_matrix_rows(features), d = barlow_matrix_cols(features);

    /* 2. load the failure flags (bool, integer or float 0/1) */
    st = barlow_array_load_npy(argv[2], &flags);
    if (st != BARLOW_OK) goto fail;
    if (barlow_array_size(flags) != n) {
        fprintf(stderr, "%s has %zu flags but %s has %zu rows\n", argv[2],
                barlow_array_size(flags), argv[1], n);
        goto done;
    }
    flags32 = malloc(n * sizeof *flags32);
    failures = malloc(n);
    if (!flags32 || !failures) goto done;
    st = barlow_array_to_int32(flags, flags32);
    if (st != BARLOW_OK) goto fail;
    for (size_t i = 0; i < n; i++) failures[i] = (uint8_t)flags32[i];

    /* 3. rank: the default estimator is scikit-learn's kNN mutual
     * information (n_neighbors 3, seed 0), on all cores */
    barlow_selector_options opts;
    barlow_selector_options_init(&opts);
    st = barlow_selector_create(&opts, &selector);
    if (st != BARLOW_OK) goto fail;
    if (k > d) k = d;
    top = malloc(k * sizeof *top);
    scores = malloc(d * sizeof *scores);
    if (!top || !scores) goto done;
    st = barlow_selector_top_k(selector, features, failures, k, top, scores);
    if (st != BARLOW_OK) goto fail;

    /* 4. print */
    printf("%zu rows, %zu features; top %zu by mutual information with failure:\n", n, d, k);
    for (size_t r = 0; r < k; r++)
        printf("%3zu. feature %5zu  MI %.6f\n", r + 1, top[r], scores[top[r]]);
    rc = 0;
    goto done;

fail:
    fprintf(stderr, "rank_features: %s\n", barlow_last_error());
done:
    free(scores);
    free(top);
    free(failures);
    free(flags32);
    barlow_selector_free(selector);
    barlow_array_free(flags);
    barlow_matrix_free(features);
    return rc;
}
