/* bench_tree — times one group's MI top-k + failure tree, and the tree alone.
 *
 *   bench_tree FEATURES.npy FAILURES.npy [K] [REPEATS]
 *
 * Prints one JSON object. For depth 1, 2, 3 (best of REPEATS, default 3,
 * wall seconds, one thread):
 *   select_s          barlow_selector_top_k (kNN MI, fresh selector, 1 thread)
 *   tree_topk_s[D]    barlow_tree_fit on the K selected columns
 *   tree_all_s[D]     barlow_tree_fit on all d columns
 *   pipeline_s[D]     select_s + tree_topk_s[D]
 * plus the root feature and threshold of each top-k tree, so that
 * bench/bench_tree.py can check them against scikit-learn. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <barlow/barlow.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_tree: %s: %s\n", what, barlow_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s FEATURES.npy FAILURES.npy [K] [REPEATS]\n", argv[0]);
        return 2;
    }
    size_t k = argc >= 4 ? (size_t)atoi(argv[3]) : 20;
    int repeats = argc >= 5 ? atoi(argv[4]) : 3;
    if (repeats < 1) repeats = 1;
    barlow_matrix *X = NULL;
    if (barlow_matrix_load_npy(argv[1], &X) != BARLOW_OK) return fail(argv[1]);
    size_t n = barlow_matrix_rows(X), d = barlow_matrix_cols(X);
    if (k < 1 || k > d) k = d < 20 ? d : 20;
    barlow_array *a = NULL;
    if (barlow_array_load_npy(argv[2], &a) != BARLOW_OK) return fail(argv[2]);
    if (barlow_array_size(a) != n) {
        fprintf(stderr, "bench_tree: %zu flags for %zu rows\n", barlow_array_size(a), n);
        return 1;
    }
    int32_t *f32 = malloc(n * sizeof *f32);
    uint8_t *y = malloc(n);
    size_t *top = malloc(k * sizeof *top);
    if (!f32 || !y || !top) return 1;
    if (barlow_array_to_int32(a, f32) != BARLOW_OK) return fail(argv[2]);
    for (size_t i = 0; i < n; i++) y[i] = (uint8_t)f32[i];
    barlow_array_free(a);

    barlow_selector_options so;
    barlow_selector_options_init(&so);
    so.threads = 1;
    double sel = 1e30;
    for (int r = 0; r < repeats; r++) {
        barlow_selector *s = NULL;
        if (barlow_selector_create(&so, &s) != BARLOW_OK) return fail("selector");
        double t0 = now();
        if (barlow_selector_top_k(s, X, y, k, top, NULL) != BARLOW_OK) return fail("top_k");
        double t1 = now();
        barlow_selector_free(s);
        if (t1 - t0 < sel) sel = t1 - t0;
    }

    double topk_s[3], all_s[3];
    long long root_feature[3];
    double root_threshold[3];
    size_t nodes[3];
    for (int depth = 1; depth <= 3; depth++) {
        barlow_tree_options o;
        barlow_tree_options_init(&o);
        o.max_depth = depth;
        double bt = 1e30, ba = 1e30;
        for (int r = 0; r < repeats; r++) {
            barlow_tree *t = NULL;
            double t0 = now();
            if (barlow_tree_fit(X, y, top, k, &o, &t) != BARLOW_OK) return fail("fit top-k");
            double t1 = now();
            if (t1 - t0 < bt) bt = t1 - t0;
            barlow_tree_node nd = {.version = BARLOW_TREE_NODE_VERSION};
            barlow_tree_get_node(t, 0, &nd);
            root_feature[depth - 1] = (long long)nd.feature;
            root_threshold[depth - 1] = nd.threshold;
            nodes[depth - 1] = barlow_tree_node_count(t);
            barlow_tree_free(t);
            t0 = now();
            if (barlow_tree_fit(X, y, NULL, 0, &o, &t) != BARLOW_OK) return fail("fit all");
            t1 = now();
            if (t1 - t0 < ba) ba = t1 - t0;
            barlow_tree_free(t);
        }
        topk_s[depth - 1] = bt;
        all_s[depth - 1] = ba;
    }
    printf("{\"n\": %zu, \"d\": %zu, \"k\": %zu, \"select_s\": %.9g, \"top\": [", n, d, k, sel);
    for (size_t i = 0; i < k; i++) printf(i ? ", %zu" : "%zu", top[i]);
    printf("], \"depths\": [");
    for (int i = 0; i < 3; i++)
        printf("%s{\"depth\": %d, \"tree_topk_s\": %.9g, \"tree_all_s\": %.9g, "
               "\"pipeline_s\": %.9g, \"nodes\": %zu, \"root_feature\": %lld, "
               "\"root_threshold\": %.17g}",
               i ? ", " : "", i + 1, topk_s[i], all_s[i], sel + topk_s[i], nodes[i],
               root_feature[i], root_threshold[i]);
    printf("]}\n");
    free(f32);
    free(y);
    free(top);
    barlow_matrix_free(X);
    return 0;
}
