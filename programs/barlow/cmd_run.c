/* barlow run: the main job end to end. Extraction (robust features and,
 * with --predict, the inspected model's predictions) -> the whole-dataset
 * analysis (groups, MI, trees, rules) -> leaves per row -> visualizer
 * panels for the features on each group's best rules and the best leaves'
 * failure samples -> results.json and the HTML report, built in a staging
 * directory and swapped into place (run_dir.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "run.h"
#include "run_dir.h"
#include "run_state.h"

static const char usage_text[] =
    "usage: barlow run --model ROBUST.pt [--predict MODEL.pt]\n"
    "         (--metadata M.csv --images DIR | --folder DIR |\n"
    "          --idx IMAGES.idx[.gz] --idx-labels LABELS.idx[.gz])\n"
    "         [--size N --resize N --channels N] [--class-names FILE]\n"
    "         [--by label,prediction] [--k 20] [--depth 1,2] [--top 6]\n"
    "         [--attack-steps N | --no-attack] [--classes A,B,...]\n"
    "         [--feature-names F.json] [--threads N] [--seed 0]\n"
    "         [--sha256 HEX] [--predict-sha256 HEX] [--features F]\n"
    "         [--single-file]\n"
    "         [--force] [--quiet] --out DIR\n"
    "\n"
    "Runs the whole Barlow workflow and writes a report a person can read:\n"
    "  1. extract  ROBUST's penultimate features of every image (and, with\n"
    "              --predict, MODEL's predictions; else the metadata CSV's\n"
    "              prediction column)\n"
    "  2. analyze  per class and grouping (rows labelled / predicted as the\n"
    "              class): the k features with the highest mutual information\n"
    "              with failure (prediction != label), a failure tree per\n"
    "              depth, its rules, and the paper's Table 1\n"
    "  3. panels   for every feature on a group's best rule: its most\n"
    "              activating images, heatmaps and feature attacks; failure\n"
    "              samples of each best leaf\n"
    "  4. report   DIR/index.html (open it in a browser; works offline)\n"
    "DIR also holds results.json (everything the report shows), features.npz\n"
    "(as barlow extract writes it) and leaves.npz (per grouping and depth, each\n"
    "row's leaf in its group's tree, -1 for none: members <grouping>_depth<D>).\n"
    "Results whose inputs and options did not change are reused from the\n"
    "previous run in DIR (--force recomputes everything). DIR is built under a\n"
    "temporary name and swapped in at the end: an interrupted or failed run\n"
    "leaves the previous report as it was.\n"
    "\n"
    "  --model F          the robust model (TorchScript, docs/models.md)\n"
    "  --predict F        the inspected model, whose failures are explained\n"
    "  --metadata, --images, --folder, --idx, --idx-labels, --class-names,\n"
    "  --size, --resize, --channels\n"
    "                     the dataset and model input as for barlow extract\n"
    "  --by G             label, prediction or label,prediction (default)\n"
    "  --k K              features selected per group (20)\n"
    "  --depth D[,D...]   tree depths, each 1..3 (1,2)\n"
    "  --top K            images per panel row, 1..64 (6)\n"
    "  --attack-steps N   feature attack steps per panel (200)\n"
    "  --no-attack        panels without feature attacks\n"
    "  --classes A,B      report only these classes (names or ids); the\n"
    "                     analysis and Table 1 still cover every class\n"
    "  --feature-names F  a JSON file naming features ({\"13\": \"buckle\"},\n"
    "                     per class {\"Sandal\": {\"13\": \"strap\"}}), used in\n"
    "                     rules, the report and results.json\n"
    "  --threads N        worker threads, 0 = all cores (0)\n"
    "  --seed S           seed of the MI noise and the failure samples (0)\n"
    "  --sha256 HEX, --predict-sha256 HEX\n"
    "                     refuse a model whose SHA-256 differs\n"
    "  --features F       use these features (and their predictions) instead of\n"
    "                     extracting: barlow extract's F.npz, or the manifest of\n"
    "                     a sharded extraction (barlow merge), mapped; of the\n"
    "                     same dataset and ROBUST model (no --predict then)\n"
    "  --single-file      index.html holds every page and image (for mail)\n"
    "  --force            recompute everything\n"
    "  --quiet            no progress and no summary\n"
    "  --out DIR          the run directory (new, empty, or a previous run's)\n"
    "\n"
    "A progress bar per stage is drawn on stderr when it is a terminal (plain\n"
    "lines otherwise). Exit status: 0 success, 1 error, 2 bad usage.\n";

static int parse_args(int argc, char **argv, run_args *a, bool *help)
{
    const cli_opt opts[] = {
        {"model", true, &a->model, NULL},       {"predict", true, &a->predict, NULL},
        CLI_DATASET_OPTIONS(a->da),             {"by", true, &a->by, NULL},
        {"k", true, &a->k_t, NULL},             {"depth", true, &a->depth_t, NULL},
        {"top", true, &a->top_t, NULL},         {"attack-steps", true, &a->steps_t, NULL},
        {"classes", true, &a->classes_t, NULL}, {"feature-names", true, &a->names_t, NULL},
        {"threads", true, &a->threads_t, NULL}, {"seed", true, &a->seed_t, NULL},
        {"sha256", true, &a->sha, NULL},        {"predict-sha256", true, &a->psha, NULL},
        {"out", true, &a->out, NULL},           {"no-attack", false, NULL, &a->no_attack},
        {"single-file", false, NULL, &a->single_file},
        {"features", true, &a->features, NULL},
        {"force", false, NULL, &a->force},      {"quiet", false, NULL, &a->quiet},
    };
    return cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], usage_text, help);
}

/* "1,2" -> depths (each 1..3, no repeats). */
static int parse_depths(run_args *a)
{
    size_t *list = NULL, n = 0;
    int rc = cli_list_sizes("run", "depth", a->depth_t ? a->depth_t : "1,2", 1, 3, 3, true,
                            "depths", &list, &n);
    if (rc == CLI_ERROR) return cli_fail("run", BARLOW_E_NOMEM);
    for (size_t i = 0; i < n; i++) a->depths[i] = (int32_t)list[i];
    a->n_depths = n;
    free(list);
    return rc;
}

static int check_args(run_args *a)
{
    int rc;
    if (!a->model) return cli_usage_error("run", "--model is required");
    if (!a->out) return cli_usage_error("run", "--out is required");
    if (cli_check_dataset_args("run", &a->da) != CLI_OK) return CLI_USAGE;
    if (a->psha && !a->predict) return cli_usage_error("run", "--predict-sha256 needs --predict");
    if (a->features && a->predict)
        return cli_usage_error("run", "--features brings its predictions: drop --predict");
    if (!a->predict && !a->da.metadata && !a->features)
        return cli_usage_error("run", "give --predict MODEL.pt (the model whose failures are "
                                      "explained), or a --metadata CSV with a prediction column");
    if (a->no_attack && a->steps_t)
        return cli_usage_error("run", "--no-attack and --attack-steps exclude each other");
    a->groupings = BARLOW_ANALYSIS_BY_BOTH;
    if (a->by && cli_groupings("run", a->by, &a->groupings) != CLI_OK) return CLI_USAGE;
    a->k = 20;
    a->top = 6;
    a->attack_steps = a->no_attack ? 0 : 200;
    if ((a->k_t && cli_size("k", a->k_t, 1, 100000, &a->k)) ||
        (a->top_t && cli_size("top", a->top_t, 1, BARLOW_VISUALIZER_MAX_K, &a->top)) ||
        (a->steps_t && cli_size("attack-steps", a->steps_t, 1, 1000000, &a->attack_steps)) ||
        (a->threads_t && cli_size("threads", a->threads_t, 0, 4096, &a->threads)) ||
        (a->seed_t && cli_u32("seed", a->seed_t, &a->seed)))
        return CLI_USAGE;
    if ((rc = parse_depths(a)) != CLI_OK) return rc;
    return cli_input_options("run", &a->da, &a->eo);
}

/* Stage bookkeeping: a plain line when stderr is not a terminal. */
static void stage_begin(run_state *s, const char *name, const char *unit)
{
    s->stages[s->n_stages] = (run_stage){.name = name};
    s->stage_t0 = cli_now();
    cli_progress_start(&s->progress, name, unit, s->a.quiet);
    if (!s->a.quiet && !s->progress.tty) fprintf(stderr, "barlow run: %s ...\n", name);
}

static void stage_end(run_state *s, bool reused)
{
    cli_progress_end(&s->progress);
    run_stage *st = &s->stages[s->n_stages++];
    st->seconds = cli_now() - s->stage_t0;
    st->reused = reused;
}

static void print_summary(const run_state *s)
{
    if (s->a.quiet) return;
    for (size_t i = 0; i < s->n_stages; i++)
        fprintf(stderr, "barlow run: %-8s %7.1f s%s\n", s->stages[i].name, s->stages[i].seconds,
                s->stages[i].reused ? " (reused)" : "");
    size_t ng = barlow_analysis_group_count(s->an);
    printf("Analysed %zu images (%zu failures of the inspected model) in %zu groups; %zu "
           "panels.\n",
           s->m, s->n_failures, ng, s->n_panels);
    for (size_t j = 0; j < barlow_analysis_depth_count(s->an); j++)
        for (int b = 0; b < 2; b++) {
            barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
            if (barlow_analysis_get_evaluation(s->an, (barlow_group_by)b, j, &e) != BARLOW_OK)
                continue;
            printf("  by %-10s at depth %d: %zu of %zu classes have a valid best leaf\n",
                   cli_grouping_name((barlow_group_by)b), (int)e.depth, e.valid, e.groups);
        }
    printf("Report: %s/index.html\n", s->dir.final);
}

int cmd_run(int argc, char **argv)
{
    run_state s;
    run_state_init(&s);
    bool help = false;
    int rc = parse_args(argc, argv, &s.a, &help);
    if (rc != CLI_OK || help) return rc;
    if ((rc = check_args(&s.a)) != CLI_OK) return rc;
    if (run_dir_open(&s.dir, s.a.out, s.a.force) != CLI_OK) return cli_fail("run", BARLOW_E_IO);

    stage_begin(&s, "extract", "img");
    bool reused = false;
    rc = run_extract(&s, &reused);
    stage_end(&s, reused);
    if (rc == CLI_OK) {
        stage_begin(&s, "analyze", "groups");
        rc = run_analyze(&s);
        stage_end(&s, false);
    }
    if (rc == CLI_OK) {
        stage_begin(&s, "panels", "panels");
        rc = run_panels(&s, &reused);
        stage_end(&s, reused);
    }
    if (rc == CLI_OK) {
        stage_begin(&s, "report", "files");
        rc = run_write(&s);
        stage_end(&s, false);
    }
    if (rc == CLI_OK && run_dir_commit(&s.dir) != CLI_OK) rc = CLI_ERROR;
    if (rc == CLI_OK) print_summary(&s);
    else if (rc != CLI_USAGE) rc = cli_fail("run", BARLOW_E_IO);
    run_state_free(&s);
    return rc;
}
