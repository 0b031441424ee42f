/* barlow tree: fit a failure tree on a group's features and print its
 * statistics and rules (text, JSON or Graphviz DOT). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char tree_usage[] =
    "usage: barlow tree --features F.npy --failures Y.npy [--depth 1]\n"
    "                   [--select K] [--estimator knn|split-gain|mean] [--seed S]\n"
    "                   [--threads N] [--columns I,J,...] [--criterion entropy|gini]\n"
    "                   [--class-weight reference|none|WC,WF]\n"
    "                   [--min-samples-split N] [--min-samples-leaf N]\n"
    "                   [--min-impurity-decrease X] [--min-coverage X]\n"
    "                   [--min-error-rate X] [--max-p-value X]\n"
    "                   [--eval-features F2.npy --eval-failures Y2.npy]\n"
    "                   [--json | --dot] [--out PATH]\n"
    "\n"
    "Fits a shallow decision tree that predicts failure (1) from the feature\n"
    "rows of one group (scikit-learn's DecisionTreeClassifier(criterion=\n"
    "\"entropy\", class_weight={0: 1, 1: n_correct/n_failed})) and prints the\n"
    "group's base error rate, the tree's ALER and the rules (root-to-leaf\n"
    "paths) best importance first. Features are reported by their column in F.\n"
    "\n"
    "  --features F.npy       n x d features (.npy, or .npz[:member])\n"
    "  --failures Y.npy       n failure flags (0/1, bool or integer)\n"
    "  --depth D              maximum depth, 1..16 (default 1)\n"
    "  --select K             fit only on the K features with the highest\n"
    "                         mutual information with failure\n"
    "  --estimator E          how --select scores features: knn (default,\n"
    "                         scikit-learn's mutual_info_classif), split-gain,\n"
    "                         mean\n"
    "  --seed S               knn noise seed (default 0), --threads N (0 = all)\n"
    "  --columns I,J,...      fit only on these columns (not with --select)\n"
    "  --criterion C          entropy (default) or gini\n"
    "  --class-weight W       reference (correct 1, failure n_correct/n_failed;\n"
    "                         default), none, or two weights WC,WF\n"
    "  --min-samples-split N  (default 2)   --min-samples-leaf N (default 1)\n"
    "  --min-impurity-decrease X  (default 0)\n"
    "  --min-coverage X, --min-error-rate X, --max-p-value X\n"
    "                         report only the rules that pass (0..1)\n"
    "  --eval-features F2.npy --eval-failures Y2.npy\n"
    "                         also evaluate the tree on held-out rows\n"
    "  --json                 print the tree as JSON (docs/formats.md, Tree JSON)\n"
    "  --dot                  print the tree as a Graphviz DOT digraph\n"
    "  --out PATH             write the JSON to PATH (atomically) instead\n"
    "\n"
    "Exit status: 0 success, 1 error, 2 bad usage.\n";

static const cli_choice criteria[] = {
    {"entropy", BARLOW_CRITERION_ENTROPY},
    {"gini", BARLOW_CRITERION_GINI},
};

static const cli_choice class_weights[] = {
    {"reference", BARLOW_CLASS_WEIGHT_REFERENCE},
    {"none", BARLOW_CLASS_WEIGHT_NONE},
};

/* --class-weight reference|none|WC,WF */
static int parse_class_weight(const char *text, barlow_tree_options *to)
{
    int v;
    if (cli_choice_find(class_weights, 2, text, &v)) {
        to->class_weight = (barlow_class_weight)v;
        return CLI_OK;
    }
    double w[2];
    size_t n = 0, len;
    const char *p = text, *item;
    bool ok = true;
    while (ok && cli_list_next(&p, ',', &item, &len)) {
        char buf[64];
        ok = n < 2 && len < sizeof buf;
        if (ok) {
            memcpy(buf, item, len);
            buf[len] = '\0';
            ok = cli_parse_double(buf, &w[n++]);
        }
    }
    if (!ok || n != 2)
        return cli_usage_error("tree", "--class-weight=%s (must be reference, none or WC,WF)",
                               text);
    to->class_weight = BARLOW_CLASS_WEIGHT_GIVEN;
    to->weight_correct = w[0];
    to->weight_failure = w[1];
    return CLI_OK;
}

static void print_text(const barlow_tree *tree, const barlow_tree_eval *ev,
                       const size_t *rules, size_t n_rules)
{
    barlow_tree_summary s = {.version = BARLOW_TREE_SUMMARY_VERSION};
    barlow_tree_get_summary(tree, &s);
    printf("%zu images, %zu failures: base error rate %.1f%%, ALER %.1f%% (%+.1f points), "
           "precision %.4f, recall %.4f\n",
           s.size, s.failures, 100.0 * s.base_error_rate, 100.0 * s.aler,
           100.0 * s.aler_gain, s.precision, s.recall);
    if (ev) {
        barlow_tree_summary h = {.version = BARLOW_TREE_SUMMARY_VERSION};
        barlow_tree_eval_get_summary(ev, &h);
        printf("held out: %zu images, %zu failures: base error rate %.1f%%, ALER %.1f%% "
               "(%+.1f points)\n",
               h.size, h.failures, 100.0 * h.base_error_rate, 100.0 * h.aler,
               100.0 * h.aler_gain);
    }
    printf("%zu rule%s, best importance first:\n", n_rules, n_rules == 1 ? "" : "s");
    for (size_t i = 0; i < n_rules; i++) {
        barlow_tree_node nd = {.version = BARLOW_TREE_NODE_VERSION};
        barlow_tree_get_node(tree, rules[i], &nd);
        barlow_buffer text = {NULL, 0};
        if (barlow_tree_rule_text(tree, rules[i], &text) != BARLOW_OK) continue;
        printf("  leaf %zu  IV %.4f  p %.3g  %s\n", rules[i], nd.importance, nd.p_value,
               (const char *)text.data);
        barlow_buffer_free(&text);
        if (ev) {
            barlow_tree_node h = {.version = BARLOW_TREE_NODE_VERSION};
            barlow_tree_eval_get_node(ev, rules[i], &h);
            printf("      held out: %zu images, %zu failures, ER %.1f%%, EC %.1f%%, IV %.4f, "
                   "p %.3g\n",
                   h.size, h.failures, 100.0 * h.error_rate, 100.0 * h.error_coverage,
                   h.importance, h.p_value);
        }
    }
}

int cmd_tree(int argc, char **argv)
{
    const char *features = NULL, *failures = NULL, *depth_t = NULL, *select_t = NULL,
               *estimator_t = NULL, *seed_t = NULL, *threads_t = NULL, *columns_t = NULL,
               *criterion_t = NULL, *cw_t = NULL, *mss_t = NULL, *msl_t = NULL,
               *mid_t = NULL, *evf_t = NULL, *evy_t = NULL, *out_t = NULL;
    cli_rule_args ra = {0};
    bool json = false, dot = false, help = false;
    const cli_opt opts[] = {
        {"features", true, &features, NULL},
        {"failures", true, &failures, NULL},
        {"depth", true, &depth_t, NULL},
        {"select", true, &select_t, NULL},
        {"estimator", true, &estimator_t, NULL},
        {"seed", true, &seed_t, NULL},
        {"threads", true, &threads_t, NULL},
        {"columns", true, &columns_t, NULL},
        {"criterion", true, &criterion_t, NULL},
        {"class-weight", true, &cw_t, NULL},
        {"min-samples-split", true, &mss_t, NULL},
        {"min-samples-leaf", true, &msl_t, NULL},
        {"min-impurity-decrease", true, &mid_t, NULL},
        CLI_RULE_OPTIONS(ra),
        {"eval-features", true, &evf_t, NULL},
        {"eval-failures", true, &evy_t, NULL},
        {"out", true, &out_t, NULL},
        {"json", false, NULL, &json},
        {"dot", false, NULL, &dot},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], tree_usage, &help);
    if (rc != CLI_OK || help) return rc;
    if (!features) return cli_usage_error("tree", "--features is required");
    if (!failures) return cli_usage_error("tree", "--failures is required");
    if (json && dot) return cli_usage_error("tree", "--json and --dot exclude each other");
    if (out_t && dot) return cli_usage_error("tree", "--out writes JSON; it excludes --dot");
    if ((evf_t == NULL) != (evy_t == NULL))
        return cli_usage_error("tree", "--eval-features and --eval-failures go together");
    if (select_t && columns_t)
        return cli_usage_error("tree", "--select and --columns exclude each other");
    if ((estimator_t || seed_t || threads_t) && !select_t)
        return cli_usage_error("tree", "--estimator, --seed and --threads need --select");

    barlow_tree_options to;
    barlow_tree_options_init(&to);
    barlow_rule_options ro;
    if (cli_rule_options(&ra, &ro) != CLI_OK) return CLI_USAGE;
    size_t v;
    int crit;
    if (depth_t) {
        if (cli_size("depth", depth_t, 1, BARLOW_TREE_MAX_DEPTH, &v) != 0) return CLI_USAGE;
        to.max_depth = (int32_t)v;
    }
    if (criterion_t) {
        if (cli_enum("tree", "criterion", criterion_t, criteria, 2, &crit) != CLI_OK)
            return CLI_USAGE;
        to.criterion = (barlow_criterion)crit;
    }
    if (cw_t && parse_class_weight(cw_t, &to) != CLI_OK) return CLI_USAGE;
    if ((mss_t && cli_size("min-samples-split", mss_t, 0, SIZE_MAX, &to.min_samples_split)) ||
        (msl_t && cli_size("min-samples-leaf", msl_t, 0, SIZE_MAX, &to.min_samples_leaf)) ||
        (mid_t && cli_double("min-impurity-decrease", mid_t, &to.min_impurity_decrease)))
        return CLI_USAGE;

    barlow_selector_options so;
    barlow_selector_options_init(&so);
    size_t k = 0;
    if (select_t) {
        if (cli_size("select", select_t, 1, SIZE_MAX, &k) != 0) return CLI_USAGE;
        if (estimator_t && cli_estimator("tree", estimator_t, &so.estimator) != CLI_OK)
            return CLI_USAGE;
        if ((seed_t && cli_u32("seed", seed_t, &so.seed)) ||
            (threads_t && cli_size("threads", threads_t, 0, 4096, &so.threads)))
            return CLI_USAGE;
    }
    size_t *cols = NULL, n_cols = 0;
    if (columns_t && (rc = cli_list_sizes("tree", "columns", columns_t, 0, SIZE_MAX, SIZE_MAX,
                                          false, "column indices", &cols, &n_cols)) != CLI_OK)
        return rc == CLI_USAGE ? rc : cli_fail("tree", BARLOW_E_NOMEM);

    barlow_matrix *X = NULL, *EX = NULL;
    uint8_t *y = NULL, *ey = NULL;
    barlow_selector *sel = NULL;
    barlow_tree *tree = NULL;
    barlow_tree_eval *ev = NULL;
    size_t *rules = NULL;
    barlow_buffer buf = {NULL, 0};
    const cli_file outs[] = {{"out", out_t}};
    const cli_file ins[] = {{"features", features}, {"failures", failures},
                            {"eval-features", evf_t}, {"eval-failures", evy_t}};
    if (cli_check_outputs("tree", outs, 1, ins, 4) != CLI_OK) {
        free(cols);
        return CLI_ERROR;
    }
    barlow_status st = cli_load_matrix(features, &X);
    if (st == BARLOW_OK) st = cli_load_failures(failures, barlow_matrix_rows(X), &y);
    if (st == BARLOW_OK && select_t) {
        size_t d = barlow_matrix_cols(X);
        if (k > d) {
            cli_set_error("--select=%zu but the features have only %zu columns", k, d);
            st = BARLOW_E_INVALID_ARG;
        } else {
            cols = malloc(k * sizeof *cols);
            n_cols = k;
            if (!cols) {
                cli_set_error("out of memory");
                st = BARLOW_E_NOMEM;
            }
            if (st == BARLOW_OK) st = barlow_selector_create(&so, &sel);
            if (st == BARLOW_OK) st = barlow_selector_top_k(sel, X, y, k, cols, NULL);
        }
    }
    if (st == BARLOW_OK) st = barlow_tree_fit(X, y, cols, n_cols, &to, &tree);
    if (st == BARLOW_OK && evf_t) {
        st = cli_load_matrix(evf_t, &EX);
        if (st == BARLOW_OK) st = cli_load_failures(evy_t, barlow_matrix_rows(EX), &ey);
        if (st == BARLOW_OK) st = barlow_tree_evaluate(tree, EX, ey, &ev);
    }
    size_t n_rules = 0;
    if (st == BARLOW_OK) {
        rules = malloc((barlow_tree_leaf_count(tree) + 1) * sizeof *rules);
        if (!rules) {
            cli_set_error("out of memory");
            st = BARLOW_E_NOMEM;
        } else {
            st = barlow_tree_rules(tree, &ro, rules, &n_rules);
        }
    }
    if (st == BARLOW_OK) {
        if (out_t) {
            st = barlow_tree_save_json(tree, &ro, ev, out_t);
            if (st == BARLOW_OK && !json) print_text(tree, ev, rules, n_rules);
            if (st == BARLOW_OK && json) {
                st = barlow_tree_to_json(tree, &ro, ev, &buf);
                if (st == BARLOW_OK) printf("%s\n", (const char *)buf.data);
            }
        } else if (json) {
            st = barlow_tree_to_json(tree, &ro, ev, &buf);
            if (st == BARLOW_OK) printf("%s\n", (const char *)buf.data);
        } else if (dot) {
            st = barlow_tree_to_dot(tree, &buf);
            if (st == BARLOW_OK) fputs((const char *)buf.data, stdout);
        } else {
            print_text(tree, ev, rules, n_rules);
        }
    }
    barlow_buffer_free(&buf);
    free(rules);
    barlow_tree_eval_free(ev);
    barlow_tree_free(tree);
    barlow_selector_free(sel);
    free(ey);
    free(y);
    free(cols);
    barlow_matrix_free(EX);
    barlow_matrix_free(X);
    if (st != BARLOW_OK) return cli_fail("tree", st);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}
