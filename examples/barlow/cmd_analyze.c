/* barlow analyze: the whole-dataset analysis (every class × grouping: MI
 * top-k, failure tree, rules, the paper's automatic evaluation) written as
 * one JSON document and an optional CSV summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char analyze_usage[] =
    "usage: barlow analyze --features F.npy|F.npz[:member] --labels L.npy|L.npz:member\n"
    "                      --predictions P.npy|P.npz:member [--class-names N.txt]\n"
    "                      [--by label,prediction] [--k 20] [--depth 1[,2,3...]]\n"
    "                      [--threads N] [--seed 0] [--estimator knn|split-gain|mean]\n"
    "                      [--delta 0.1] [--gamma 0.2] [--min-group-size 2]\n"
    "                      [--min-coverage X] [--min-error-rate X] [--max-p-value X]\n"
    "                      --out results.json [--csv summary.csv] [--quiet]\n"
    "\n"
    "For every class and each grouping (rows whose label is the class, rows\n"
    "whose prediction is the class), selects the k features with the highest\n"
    "mutual information with failure (prediction != label), fits a failure\n"
    "tree on them (one per depth) and records node statistics and rules. Then\n"
    "reports, per grouping and depth, the fraction of classes whose highest-IV\n"
    "leaf is valid: ER >= BER + delta and EC >= gamma (docs/analysis.md).\n"
    "\n"
    "  --features F           n x d float32 features; a .npy is memory-mapped\n"
    "                         (never read whole), .npz[:member] is loaded\n"
    "                         (member \"features\" by default). Do not change a\n"
    "                         mapped .npy while the analysis runs: truncating it\n"
    "                         kills the program with SIGBUS (docs/limits.md)\n"
    "  --labels L             n class ids (.npy, or an .npz member such as\n"
    "                         features.npz:labels from barlow extract)\n"
    "  --predictions P        n class ids (.npy or .npz:member)\n"
    "  --class-names N.txt    one class name per line (id i = line i+1); without\n"
    "                         it, --labels F.npz:labels uses the names barlow\n"
    "                         extract stored in F.npz (member class_names)\n"
    "  --by G                 label, prediction or label,prediction (default)\n"
    "  --k K                  features selected per group (default 20)\n"
    "  --depth D[,D2...]      tree depth(s), each 1..16 (default 1); one tree per\n"
    "                         depth on the same selected features\n"
    "  --threads N            worker threads (default 0 = all cores)\n"
    "  --seed S               knn noise seed (default 0)\n"
    "  --estimator E          knn (default: scikit-learn's mutual_info_classif),\n"
    "                         split-gain or mean\n"
    "  --delta X, --gamma X   validity thresholds (defaults 0.1 and 0.2)\n"
    "  --min-group-size N     smaller groups get a one-leaf tree (default 2)\n"
    "  --min-coverage X, --min-error-rate X, --max-p-value X\n"
    "                         rule filter for the JSON's rules and the CSV's\n"
    "                         best rule (0..1)\n"
    "  --out PATH             the JSON document (written atomically)\n"
    "  --csv PATH             a CSV summary, one row per group and depth\n"
    "  --quiet                no progress bar and no summary\n"
    "\n"
    "A progress bar is drawn on stderr when it is a terminal. Exit status:\n"
    "0 success, 1 error, 2 bad usage.\n";

typedef struct progress_state {
    int last_permille;
    struct timespec t0;
} progress_state;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static int draw_progress(size_t done, size_t total, void *user)
{
    progress_state *p = user;
    int permille = total ? (int)(1000.0 * (double)done / (double)total) : 1000;
    if (permille == p->last_permille && done != total) return 0;
    p->last_permille = permille;
    enum { WIDTH = 40 };
    int fill = permille * WIDTH / 1000;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\ranalyze [%s] %zu/%zu groups %5.1fs", bar, done, total,
            seconds_since(&p->t0));
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

/* Parses "1,2,3" into at most BARLOW_ANALYSIS_MAX_DEPTHS ints in 1..16. */
static int parse_depths(const char *text, int32_t *out, size_t *n_out)
{
    size_t n = 0;
    const char *p = text;
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[16];
        if (len == 0 || len >= sizeof buf || n == BARLOW_ANALYSIS_MAX_DEPTHS) {
            fprintf(stderr, "barlow: --depth=%s is not a list of depths 1..%d\n", text,
                    (int)BARLOW_TREE_MAX_DEPTH);
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        size_t v;
        if (cli_size("depth", buf, 1, BARLOW_TREE_MAX_DEPTH, &v) != 0) return -1;
        out[n++] = (int32_t)v;
        if (!comma) break;
        p = comma + 1;
    }
    *n_out = n;
    return 0;
}

/* The directory of `path` exists and is writable (checked before the long
 * run so that a typo does not cost the whole analysis). */
/* The JSON, then the CSV; when the CSV cannot be written, a JSON that this
 * run created is removed again, so that an error leaves no half result. */
static barlow_status save_results(const barlow_analysis *an, const char *json, const char *csv)
{
    struct stat sb;
    bool json_existed = stat(json, &sb) == 0;
    barlow_status st = barlow_analysis_save_json(an, json);
    if (st != BARLOW_OK || !csv) return st;
    st = barlow_analysis_save_csv(an, csv);
    if (st != BARLOW_OK && !json_existed) unlink(json);
    return st;
}

static barlow_status load_features(const char *spec, barlow_matrix **out)
{
    size_t n = strlen(spec);
    if (strstr(spec, ".npz:") || (n >= 4 && !strcmp(spec + n - 4, ".npz")) ||
        strstr(spec, ".json:") || barlow_manifest_probe(spec))
        return cli_load_matrix(spec, out);
    barlow_status st = barlow_matrix_map_npy(spec, out);
    /* float64 or Fortran-order features cannot be mapped: read and convert */
    if (st == BARLOW_E_UNSUPPORTED) st = barlow_matrix_load_npy(spec, out);
    return st;
}

int cmd_analyze(int argc, char **argv)
{
    const char *features_t = NULL, *labels_t = NULL, *preds_t = NULL, *names_t = NULL,
               *by_t = NULL, *k_t = NULL, *depth_t = NULL, *threads_t = NULL, *seed_t = NULL,
               *est_t = NULL, *delta_t = NULL, *gamma_t = NULL, *mgs_t = NULL,
               *mincov_t = NULL, *miner_t = NULL, *maxp_t = NULL, *out_t = NULL,
               *csv_t = NULL;
    bool quiet = false, help = false;
    const cli_opt opts[] = {
        {"features", true, &features_t, NULL},
        {"labels", true, &labels_t, NULL},
        {"predictions", true, &preds_t, NULL},
        {"class-names", true, &names_t, NULL},
        {"by", true, &by_t, NULL},
        {"k", true, &k_t, NULL},
        {"depth", true, &depth_t, NULL},
        {"threads", true, &threads_t, NULL},
        {"seed", true, &seed_t, NULL},
        {"estimator", true, &est_t, NULL},
        {"delta", true, &delta_t, NULL},
        {"gamma", true, &gamma_t, NULL},
        {"min-group-size", true, &mgs_t, NULL},
        {"min-coverage", true, &mincov_t, NULL},
        {"min-error-rate", true, &miner_t, NULL},
        {"max-p-value", true, &maxp_t, NULL},
        {"out", true, &out_t, NULL},
        {"csv", true, &csv_t, NULL},
        {"quiet", false, NULL, &quiet},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], analyze_usage, &help);
    if (rc != CLI_OK || help) return rc;
    if (!features_t) return cli_usage_error("analyze", "--features is required");
    if (!labels_t) return cli_usage_error("analyze", "--labels is required");
    if (!preds_t) return cli_usage_error("analyze", "--predictions is required");
    if (!out_t) return cli_usage_error("analyze", "--out is required");

    barlow_analysis_options ao;
    barlow_analysis_options_init(&ao);
    barlow_rule_options ro;
    barlow_rule_options_init(&ro);
    int32_t depths[BARLOW_ANALYSIS_MAX_DEPTHS];
    size_t n_depths = 0;
    if (by_t) {
        if (!strcmp(by_t, "label")) ao.groupings = BARLOW_ANALYSIS_BY_LABEL;
        else if (!strcmp(by_t, "prediction")) ao.groupings = BARLOW_ANALYSIS_BY_PREDICTION;
        else if (!strcmp(by_t, "label,prediction") || !strcmp(by_t, "prediction,label") ||
                 !strcmp(by_t, "both"))
            ao.groupings = BARLOW_ANALYSIS_BY_BOTH;
        else
            return cli_usage_error("analyze",
                                   "--by=%s (must be label, prediction or label,prediction)",
                                   by_t);
    }
    if (k_t && cli_size("k", k_t, 1, SIZE_MAX, &ao.k) != 0) return CLI_USAGE;
    if (depth_t) {
        if (parse_depths(depth_t, depths, &n_depths) != 0) return CLI_USAGE;
        ao.depths = depths;
        ao.n_depths = n_depths;
    }
    if (threads_t && cli_size("threads", threads_t, 0, 4096, &ao.threads) != 0) return CLI_USAGE;
    if (seed_t && cli_u32("seed", seed_t, &ao.seed) != 0) return CLI_USAGE;
    if (est_t) {
        if (!strcmp(est_t, "knn")) ao.estimator = BARLOW_ESTIMATOR_KNN;
        else if (!strcmp(est_t, "split-gain")) ao.estimator = BARLOW_ESTIMATOR_SPLIT_GAIN;
        else if (!strcmp(est_t, "mean")) ao.estimator = BARLOW_ESTIMATOR_MEAN;
        else
            return cli_usage_error("analyze", "--estimator=%s (must be knn, split-gain or mean)",
                                   est_t);
    }
    if (delta_t && cli_double("delta", delta_t, &ao.delta) != 0) return CLI_USAGE;
    if (gamma_t && cli_double("gamma", gamma_t, &ao.gamma) != 0) return CLI_USAGE;
    if (mgs_t && cli_size("min-group-size", mgs_t, 1, SIZE_MAX, &ao.min_group_size) != 0)
        return CLI_USAGE;
    if (mincov_t && cli_double("min-coverage", mincov_t, &ro.min_coverage) != 0) return CLI_USAGE;
    if (miner_t && cli_double("min-error-rate", miner_t, &ro.min_error_rate) != 0)
        return CLI_USAGE;
    if (maxp_t && cli_double("max-p-value", maxp_t, &ro.max_p_value) != 0) return CLI_USAGE;
    ao.rules = &ro;

    const cli_file outs[] = {{"out", out_t}, {"csv", csv_t}};
    const cli_file ins[] = {{"features", features_t}, {"labels", labels_t},
                            {"predictions", preds_t}, {"class-names", names_t}};
    if (cli_check_outputs("analyze", outs, 2, ins, 4) != CLI_OK) return CLI_ERROR;

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    barlow_matrix *X = NULL;
    barlow_dataset *ds = NULL;
    barlow_analysis *an = NULL;
    barlow_status st = load_features(features_t, &X);
    if (st == BARLOW_OK) st = barlow_dataset_load_npy(labels_t, preds_t, names_t, &ds);
    if (st == BARLOW_OK) {
        progress_state ps = {.last_permille = -1, .t0 = t0};
        bool bar = !quiet && isatty(STDERR_FILENO);
        st = barlow_analysis_run(X, ds, &ao, bar ? draw_progress : NULL, &ps, &an);
    }
    if (st == BARLOW_OK) st = save_results(an, out_t, csv_t);
    if (st != BARLOW_OK) {
        rc = cli_fail("analyze", st);
        barlow_analysis_free(an);
        barlow_dataset_free(ds);
        barlow_matrix_free(X);
        return rc;
    }

    if (!quiet) {
        size_t ng = barlow_analysis_group_count(an), analysed = 0, empty = 0;
        for (size_t i = 0; i < ng; i++) {
            barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
            barlow_analysis_get_group(an, i, &g);
            if (g.status == BARLOW_ANALYSIS_ANALYSED) analysed++;
            if (g.status == BARLOW_ANALYSIS_EMPTY) empty++;
        }
        printf("Analysed %zu rows x %zu features: %zu groups (%zu with top-%zu selection and "
               "trees, %zu empty, %zu with a one-leaf tree).",
               barlow_matrix_rows(X), barlow_matrix_cols(X), ng, analysed, ao.k, empty,
               ng - analysed - empty);
        for (int b = 0; b < 2; b++)
            for (size_t j = 0; j < barlow_analysis_depth_count(an); j++) {
                barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
                if (barlow_analysis_get_evaluation(an, (barlow_group_by)b, j, &e) != BARLOW_OK)
                    continue;
                printf(" By %s, depth %d: %zu of %zu classes (%.1f%%) have a valid best leaf "
                       "(ER >= BER + %g, EC >= %g).",
                       b == 0 ? "label" : "prediction", (int)e.depth, e.valid, e.groups,
                       100.0 * e.valid_fraction, ao.delta, ao.gamma);
            }
        printf(" Wall time %.2f s. Results in %s%s%s.\n", seconds_since(&t0), out_t,
               csv_t ? " and " : "", csv_t ? csv_t : "");
    }
    barlow_analysis_free(an);
    barlow_dataset_free(ds);
    barlow_matrix_free(X);
    return CLI_OK;
}
