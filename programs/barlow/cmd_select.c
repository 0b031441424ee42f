/* barlow select: scores every feature of a feature matrix against the
 * failure flags (mutual information by default) and prints the top k. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char select_usage[] =
    "usage: barlow select --features F.npy --failures Y.npy [--k 20]\n"
    "                     [--estimator knn|split-gain|mean] [--n-neighbors 3]\n"
    "                     [--seed 0] [--threads N] [--json]\n"
    "\n"
    "Scores each feature (column) of an n x d feature matrix by how much it\n"
    "tells about failure and prints the k best, best first (ties: lower index).\n"
    "\n"
    "  --features F.npy     n x d features (.npy, or F.npz / F.npz:member)\n"
    "  --failures Y.npy     n failure flags, 1 = failure, 0 = correct\n"
    "                       (bool, integer or float 0/1)\n"
    "  --k K                how many features to list (default 20, or d when\n"
    "                       d < 20); 1..d\n"
    "  --estimator E        knn (default): mutual information as scikit-learn's\n"
    "                       mutual_info_classif(n_neighbors=3, random_state=seed);\n"
    "                       split-gain: best single-split information gain of the\n"
    "                       failure tree; mean: mean activation\n"
    "  --n-neighbors K      neighbours of the knn estimator (default 3)\n"
    "  --seed S             seed of the knn tie-breaking noise (default 0)\n"
    "  --threads N          worker threads (default 0 = all cores)\n"
    "  --json               print {\"scores\": [d numbers], \"top\": [k indices]}\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 bad usage.\n";

int cmd_select(int argc, char **argv)
{
    const char *features = NULL, *failures = NULL, *k_text = NULL, *est_text = NULL,
               *nn_text = NULL, *seed_text = NULL, *threads_text = NULL;
    bool json = false, help = false;
    const cli_opt opts[] = {
        {"features", true, &features, NULL},
        {"failures", true, &failures, NULL},
        {"k", true, &k_text, NULL},
        {"estimator", true, &est_text, NULL},
        {"n-neighbors", true, &nn_text, NULL},
        {"seed", true, &seed_text, NULL},
        {"threads", true, &threads_text, NULL},
        {"json", false, NULL, &json},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], select_usage, &help);
    if (rc != CLI_OK || help) return rc;
    if (!features) return cli_usage_error("select", "--features is required");
    if (!failures) return cli_usage_error("select", "--failures is required");

    barlow_selector_options o;
    barlow_selector_options_init(&o);
    size_t k = 0;
    if (k_text && cli_size("k", k_text, 1, SIZE_MAX, &k) != 0) return CLI_USAGE;
    if (est_text && cli_estimator("select", est_text, &o.estimator) != CLI_OK) return CLI_USAGE;
    if ((nn_text && cli_size("n-neighbors", nn_text, 1, 1000000, &o.n_neighbors)) ||
        (seed_text && cli_u32("seed", seed_text, &o.seed)) ||
        (threads_text && cli_size("threads", threads_text, 0, 4096, &o.threads)))
        return CLI_USAGE;

    barlow_matrix *X = NULL;
    barlow_status st = cli_load_matrix(features, &X);
    if (st != BARLOW_OK) return cli_fail("select", st);
    size_t n = barlow_matrix_rows(X), d = barlow_matrix_cols(X);
    if (!k_text) k = d < 20 ? d : 20;

    uint8_t *y = NULL;
    st = cli_load_failures(failures, n, &y);
    if (st != BARLOW_OK) {
        barlow_matrix_free(X);
        return cli_fail("select", st);
    }
    barlow_selector *sel = NULL;
    double *scores = malloc(d * sizeof *scores);
    size_t *top = malloc((k ? k : 1) * sizeof *top);
    if (!scores || !top) {
        cli_set_error("out of memory (%zu features)", d);
        st = BARLOW_E_NOMEM;
    }
    if (st == BARLOW_OK) st = barlow_selector_create(&o, &sel);
    if (st == BARLOW_OK) st = barlow_selector_top_k(sel, X, y, k, top, scores);
    if (st != BARLOW_OK) {
        rc = cli_fail("select", st);
    } else if (json) {
        fputs("{\"scores\": [", stdout);
        for (size_t j = 0; j < d; j++) {
            if (j) fputs(", ", stdout);
            cli_json_double(scores[j]);
        }
        fputs("], \"top\": [", stdout);
        for (size_t t = 0; t < k; t++) printf(t ? ", %zu" : "%zu", top[t]);
        fputs("]}\n", stdout);
        rc = fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
    } else {
        printf("%4s  %8s  %s\n", "rank", "feature", "score");
        for (size_t t = 0; t < k; t++) printf("%4zu  %8zu  %.6g\n", t + 1, top[t], scores[top[t]]);
        rc = fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
    }
    barlow_selector_free(sel);
    free(scores);
    free(top);
    free(y);
    barlow_matrix_free(X);
    return rc;
}
