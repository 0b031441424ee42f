/* bench_selector — times barlow_selector_score on one feature file.
 *
 *   bench_selector FEATURES.npy FAILURES.npy [REPEATS] [SCORES_OUT.npy]
 *
 * Prints one JSON object with the best-of-REPEATS (default 3) wall times in
 * seconds of the kNN estimator:
 *   cold_1t   a fresh selector, one thread (includes drawing the noise)
 *   warm_1t   the same selector again, one thread (noise cached: the cost
 *             per group in a whole-dataset analysis)
 *   warm_all  all cores (barlow_cpu_count()), noise cached
 * and writes the scores to SCORES_OUT.npy (float64) when given.
 * bench/bench_selector.py runs it next to scikit-learn. */
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
    fprintf(stderr, "bench_selector: %s: %s\n", what, barlow_last_error());
    return 1;
}

static barlow_selector *make(size_t threads)
{
    barlow_selector_options o;
    barlow_selector_options_init(&o);
    o.threads = threads;
    barlow_selector *s = NULL;
    return barlow_selector_create(&o, &s) == BARLOW_OK ? s : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s FEATURES.npy FAILURES.npy [REPEATS] [SCORES_OUT.npy]\n",
                argv[0]);
        return 2;
    }
    int repeats = argc >= 4 ? atoi(argv[3]) : 3;
    if (repeats < 1) repeats = 1;
    barlow_matrix *X = NULL;
    if (barlow_matrix_load_npy(argv[1], &X) != BARLOW_OK) return fail(argv[1]);
    size_t n = barlow_matrix_rows(X), d = barlow_matrix_cols(X);
    barlow_array *a = NULL;
    if (barlow_array_load_npy(argv[2], &a) != BARLOW_OK) return fail(argv[2]);
    if (barlow_array_size(a) != n) {
        fprintf(stderr, "bench_selector: %zu flags for %zu rows\n", barlow_array_size(a), n);
        return 1;
    }
    int32_t *f32 = malloc(n * sizeof *f32);
    uint8_t *y = malloc(n);
    double *scores = malloc(d * sizeof *scores);
    if (!f32 || !y || !scores) return 1;
    if (barlow_array_to_int32(a, f32) != BARLOW_OK) return fail(argv[2]);
    for (size_t i = 0; i < n; i++) y[i] = (uint8_t)f32[i];

    double cold = 1e30, warm1 = 1e30, warm_all = 1e30;
    for (int r = 0; r < repeats; r++) {
        barlow_selector *s1 = make(1);
        if (!s1) return fail("create");
        double t0 = now();
        if (barlow_selector_score(s1, X, y, scores) != BARLOW_OK) return fail("score");
        double t1 = now();
        if (barlow_selector_score(s1, X, y, scores) != BARLOW_OK) return fail("score");
        double t2 = now();
        barlow_selector_free(s1);
        if (t1 - t0 < cold) cold = t1 - t0;
        if (t2 - t1 < warm1) warm1 = t2 - t1;
    }
    barlow_selector *sa = make(0);
    if (!sa) return fail("create");
    if (barlow_selector_score(sa, X, y, scores) != BARLOW_OK) return fail("score");
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
        if (barlow_selector_score(sa, X, y, scores) != BARLOW_OK) return fail("score");
        double t = now() - t0;
        if (t < warm_all) warm_all = t;
    }
    barlow_selector_free(sa);
    if (argc == 5) {
        size_t shape[1] = {d};
        if (barlow_array_save_npy(BARLOW_DTYPE_FLOAT64, 1, shape, scores, argv[4]) != BARLOW_OK)
            return fail(argv[4]);
    }
    printf("{\"n\": %zu, \"d\": %zu, \"threads\": %zu, \"cold_1t\": %.6f, \"warm_1t\": %.6f, "
           "\"warm_all\": %.6f, \"us_per_column_1t\": %.3f}\n",
           n, d, barlow_cpu_count(), cold, warm1, warm_all, warm1 * 1e6 / (double)d);
    free(f32);
    free(y);
    free(scores);
    barlow_array_free(a);
    barlow_matrix_free(X);
    return 0;
}
