/* barlow analyze: the whole-dataset analysis (every class × grouping: MI
 * top-k, failure tree, rules, the paper's automatic evaluation) written as
 * one JSON document and an optional CSV summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* A plain .npy is mapped (never read whole); anything else (F.npz[:member],
 * a manifest) as cli_load_matrix loads it. */
static barlow_status load_features(const char *spec, barlow_matrix **out)
{
    char *path;
    const char *member;
    if (cli_split_spec(spec, &path, &member) != 0) return BARLOW_E_NOMEM;
    bool npy = !member && !cli_is_extraction(path);
    free(path);
    if (!npy) return cli_load_matrix(spec, out);
    barlow_status st = barlow_matrix_map_npy(spec, out);
    /* float64 or Fortran-order features cannot be mapped: read and convert */
    if (st == BARLOW_E_UNSUPPORTED) st = barlow_matrix_load_npy(spec, out);
    return st;
}

int cmd_analyze(int argc, char **argv)
{
    const char *features_t = NULL, *labels_t = NULL, *preds_t = NULL, *names_t = NULL,
               *by_t = NULL, *k_t = NULL, *depth_t = NULL, *threads_t = NULL, *seed_t = NULL,
               *est_t = NULL, *delta_t = NULL, *gamma_t = NULL, *mgs_t = NULL, *out_t = NULL,
               *csv_t = NULL;
    cli_rule_args ra = {0};
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
        CLI_RULE_OPTIONS(ra),
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
    if (cli_rule_options(&ra, &ro) != CLI_OK) return CLI_USAGE;
    int32_t depths[BARLOW_ANALYSIS_MAX_DEPTHS];
    if (by_t && cli_groupings("analyze", by_t, &ao.groupings) != CLI_OK) return CLI_USAGE;
    if (k_t && cli_size("k", k_t, 1, SIZE_MAX, &ao.k) != 0) return CLI_USAGE;
    if (depth_t) {
        size_t *list = NULL, n = 0;
        rc = cli_list_sizes("analyze", "depth", depth_t, 1, BARLOW_TREE_MAX_DEPTH,
                            BARLOW_ANALYSIS_MAX_DEPTHS, false, "depths", &list, &n);
        if (rc != CLI_OK) return rc == CLI_USAGE ? rc : cli_fail("analyze", BARLOW_E_NOMEM);
        for (size_t i = 0; i < n; i++) depths[i] = (int32_t)list[i];
        free(list);
        ao.depths = depths;
        ao.n_depths = n;
    }
    if ((threads_t && cli_size("threads", threads_t, 0, 4096, &ao.threads)) ||
        (seed_t && cli_u32("seed", seed_t, &ao.seed)))
        return CLI_USAGE;
    if (est_t && cli_estimator("analyze", est_t, &ao.estimator) != CLI_OK) return CLI_USAGE;
    if ((delta_t && cli_double("delta", delta_t, &ao.delta)) ||
        (gamma_t && cli_double("gamma", gamma_t, &ao.gamma)) ||
        (mgs_t && cli_size("min-group-size", mgs_t, 1, SIZE_MAX, &ao.min_group_size)))
        return CLI_USAGE;
    ao.rules = &ro;

    const cli_file outs[] = {{"out", out_t}, {"csv", csv_t}};
    const cli_file ins[] = {{"features", features_t}, {"labels", labels_t},
                            {"predictions", preds_t}, {"class-names", names_t}};
    if (cli_check_outputs("analyze", outs, 2, ins, 4) != CLI_OK) return CLI_ERROR;

    cli_progress ps;
    cli_progress_start(&ps, "analyze", "groups", quiet);
    barlow_matrix *X = NULL;
    barlow_dataset *ds = NULL;
    barlow_analysis *an = NULL;
    barlow_status st = load_features(features_t, &X);
    if (st == BARLOW_OK) st = barlow_dataset_load_npy(labels_t, preds_t, names_t, &ds);
    if (st == BARLOW_OK) st = barlow_analysis_run(X, ds, &ao, cli_progress_fn, &ps, &an);
    cli_progress_end(&ps);
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
                       cli_grouping_name((barlow_group_by)b), (int)e.depth, e.valid, e.groups,
                       100.0 * e.valid_fraction, ao.delta, ao.gamma);
            }
        printf(" Wall time %.2f s. Results in %s%s%s.\n", cli_now() - ps.start, out_t,
               csv_t ? " and " : "", csv_t ? csv_t : "");
    }
    barlow_analysis_free(an);
    barlow_dataset_free(ds);
    barlow_matrix_free(X);
    return CLI_OK;
}
