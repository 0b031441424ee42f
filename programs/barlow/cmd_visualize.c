/* barlow visualize: what one feature of the robust model looks at. For a
 * set of dataset rows: the images with the highest values of the feature,
 * its heatmaps over them and feature attacks on them, as a PNG panel plus
 * the raw maps and attacked inputs as .npy, in one output directory
 * (include/barlow/visualizer.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char usage_text[] =
    "usage: barlow visualize --model MODEL.pt --features F.npz\n"
    "         (--metadata M.csv --images DIR | --folder DIR |\n"
    "          --idx IMAGES.idx[.gz] --idx-labels LABELS.idx[.gz])\n"
    "         [--size 224] [--resize 256] [--channels 3] [--class-names FILE]\n"
    "         --feature F [--rows all | label:CLASS | prediction:CLASS | ROWS.npy]\n"
    "         [--top 6] [--least] [--shared-scale | --per-image-scale]\n"
    "         [--attack-steps 1000 --attack-step S --attack-eps E | --no-attack]\n"
    "         [--seed 0] [--threads N] [--device cpu] [--sha256 HEX] [--quiet]\n"
    "         --out DIR [--json]\n"
    "\n"
    "Shows what feature F of MODEL looks at in a set of dataset rows: the\n"
    "images with the highest values of F, F's channel of the last feature map\n"
    "over them as heatmaps, and feature attacks (gradient ascent on each image\n"
    "raising F, within an L2 ball). Writes into DIR (made when missing):\n"
    "  feature_F.png  the panel: most activating images, heatmaps, attacks\n"
    "  maps.npy       K x h x w float32: F's raw feature maps of the top images\n"
    "                 (the mean of a map is the image's value of F)\n"
    "  attacks.npy    K x C x H x W float32 in [0,1]: the attacked inputs\n"
    "                 (not with --no-attack)\n"
    "  failures.png   failures (prediction != label) of the set with features,\n"
    "                 drawn at random (--seed); only when the set has some\n"
    "Tiles and arrays are in rank order: highest value first, ties to the\n"
    "lower dataset row.\n"
    "\n"
    "  --model F          the robust model given to barlow extract (TorchScript\n"
    "                     is code: load only models you trust; see --sha256)\n"
    "  --features F.npz   barlow extract's output: features (one row per\n"
    "                     extracted image), index (their dataset rows), labels,\n"
    "                     predictions (they replace the dataset's); or F.npy\n"
    "                     with one row per dataset row\n"
    "  --metadata F, --images DIR, --folder DIR, --idx F, --idx-labels F,\n"
    "  --class-names F, --size N, --resize N, --channels N\n"
    "                     the dataset and the model input as given to barlow\n"
    "                     extract, with its defaults (224, 256, 3; with --idx\n"
    "                     28, 0, 1)\n"
    "  --feature F        the feature (column of the features) to show\n"
    "  --rows R           the row set: all (default), label:CLASS or\n"
    "                     prediction:CLASS (a class name, or a class id), or a\n"
    "                     1-D integer array of dataset rows (ROWS.npy or\n"
    "                     F.npz:MEMBER); rows without features are left out\n"
    "  --top K            images per panel row, 1..64 (6)\n"
    "  --least            also show the K least activating images\n"
    "  --shared-scale     heatmaps coloured on one scale for the panel (default)\n"
    "  --per-image-scale  each heatmap to its own maximum\n"
    "  --attack-steps N   gradient steps of the attack, 0..1000000 (1000)\n"
    "  --attack-step S    L2 length of one step (> 0)\n"
    "  --attack-eps E     L2 radius of the ball around the image (>= 0)\n"
    "                     Defaults: the reference's values for 3x224x224 inputs,\n"
    "                     step 1 and eps 500, times s = sqrt(C*H*W / 150528) for\n"
    "                     MODEL's input (3x224x224: s = 1; 1x28x28: s = 0.0722).\n"
    "                     A value given is used as it is; the other keeps its\n"
    "                     scaled default\n"
    "  --no-attack        no feature attacks\n"
    "  --seed S           seed of the failure samples (0)\n"
    "  --threads N        libtorch threads, 0 = all cores (0)\n"
    "  --device D         cpu, cuda or cuda:N (cpu)\n"
    "  --sha256 HEX       refuse MODEL unless its SHA-256 is HEX\n"
    "  --quiet            no progress bar and no summary\n"
    "  --json             print {\"feature\", \"rows_considered\", \"panels\",\n"
    "                     \"top\": [{\"row\", \"value\", \"label\", \"prediction\",\n"
    "                     \"attacked_value\", \"distance\"}], ...} on stdout\n"
    "\n"
    "A progress bar for the attack (steps/s, ETA) is drawn on stderr when it is a\n"
    "terminal. A failed run leaves none of its files in DIR.\n"
    "Exit status: 0 success, 1 error, 2 bad usage.\n";

#define CMD "visualize"

/* A class name as JSON, null for none. */
static void json_class(const barlow_dataset *ds, int32_t id)
{
    const char *name = id >= 0 ? barlow_dataset_class_name(ds, id) : NULL;
    cli_json_string(name);
}

/* ---- inputs ------------------------------------------------------------------ */

/* The dataset rows in a 1-D array of non-negative integers, as size_t.
 * Messages name it "WHAT PATH[:MEMBER]". */
static barlow_status rows_of_array(const barlow_array *a, const char *what, const char *path,
                                   const char *member, size_t **out, size_t *n_out)
{
    const char *colon = member ? ":" : "", *mem = member ? member : "";
    size_t n = barlow_array_size(a);
    barlow_dtype dt = barlow_array_dtype(a);
    barlow_status st = BARLOW_OK;
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows) {
        st = BARLOW_E_NOMEM;
    } else if (barlow_array_ndim(a) != 1) {
        cli_set_error("%s %s%s%s must be a 1-D array of dataset rows (it has %zu dimensions)",
                      what, path, colon, mem, barlow_array_ndim(a));
        st = BARLOW_E_INVALID_ARG;
    } else if (dt != BARLOW_DTYPE_INT64 && dt != BARLOW_DTYPE_INT32 && dt != BARLOW_DTYPE_UINT8) {
        cli_set_error("%s %s%s%s must hold integers (it holds %s)", what, path, colon, mem,
                      barlow_dtype_name(dt));
        st = BARLOW_E_INVALID_ARG;
    }
    const void *data = barlow_array_data(a);
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) {
        int64_t v = dt == BARLOW_DTYPE_INT64   ? ((const int64_t *)data)[i]
                    : dt == BARLOW_DTYPE_INT32 ? ((const int32_t *)data)[i]
                                               : ((const uint8_t *)data)[i];
        if (v < 0) {
            cli_set_error("%s %s%s%s: entry %zu is %lld (dataset rows are >= 0)", what, path,
                          colon, mem, i, (long long)v);
            st = BARLOW_E_INVALID_ARG;
        }
        rows[i] = (size_t)v;
    }
    if (st != BARLOW_OK) {
        free(rows);
        return st;
    }
    *out = rows;
    *n_out = n;
    return BARLOW_OK;
}

/* --rows ROWS.npy or F.npz:MEMBER: the dataset rows it lists. */
static barlow_status load_rows_array(const char *spec, size_t **out, size_t *n_out)
{
    barlow_array *a = NULL;
    barlow_status st = cli_load_array(spec, "--rows", &a);
    if (st == BARLOW_OK) st = rows_of_array(a, "--rows", spec, NULL, out, n_out);
    barlow_array_free(a);
    return st;
}

/* A class by name, else by decimal id. */
static barlow_status class_of(const barlow_dataset *ds, const char *spec, const char *text,
                              int32_t *id)
{
    if (cli_class_id(ds, text, id)) return BARLOW_OK;
    size_t nc = barlow_dataset_class_count(ds);
    cli_set_error("--rows %s: the dataset has no class named \"%s\" and it is not a class id "
                  "(0..%zu)", spec, text, nc ? nc - 1 : 0);
    return BARLOW_E_INVALID_ARG;
}

/* The row set of --rows (NULL: all). */
static barlow_status parse_rows(const barlow_dataset *ds, const char *spec, size_t **rows,
                                size_t *n)
{
    size_t nds = barlow_dataset_size(ds);
    if (!spec || !strcmp(spec, "all")) {
        *rows = malloc((nds ? nds : 1) * sizeof **rows);
        if (!*rows) return BARLOW_E_NOMEM;
        for (size_t i = 0; i < nds; i++) (*rows)[i] = i;
        *n = nds;
        return BARLOW_OK;
    }
    int by_label = !strncmp(spec, "label:", 6), by_pred = !strncmp(spec, "prediction:", 11);
    if (!by_label && !by_pred) return load_rows_array(spec, rows, n);
    int32_t id = 0;
    barlow_status st = class_of(ds, spec, spec + (by_label ? 6 : 11), &id);
    barlow_group *g = NULL;
    if (st == BARLOW_OK)
        st = barlow_group_create(ds, by_label ? BARLOW_GROUP_BY_LABEL : BARLOW_GROUP_BY_PREDICTION,
                                 id, &g);
    if (st != BARLOW_OK) return st;
    size_t m = barlow_group_size(g);
    *rows = malloc((m ? m : 1) * sizeof **rows);
    if (!*rows) {
        barlow_group_free(g);
        return BARLOW_E_NOMEM;
    }
    if (m) memcpy(*rows, barlow_group_indices(g), m * sizeof **rows);
    *n = m;
    barlow_group_free(g);
    return BARLOW_OK;
}

/* The features and, for an .npz, the extraction's index (dataset rows of
 * the feature rows; NULL for an .npy: one row per dataset row). */
static barlow_status load_features(const char *spec, barlow_matrix **X, size_t **index,
                                   size_t *n_index)
{
    char *path;
    const char *member;
    if (cli_split_spec(spec, &path, &member) != 0) return BARLOW_E_NOMEM;
    int npz = cli_is_extraction(path);
    barlow_status st = cli_load_matrix(spec, X);
    *index = NULL;
    *n_index = 0;
    if (st == BARLOW_OK && npz) {
        barlow_array *a = NULL;
        st = cli_load_member(path, "index", &a);
        if (st == BARLOW_OK) st = rows_of_array(a, "--features", path, "index", index, n_index);
        barlow_array_free(a);
    }
    free(path);
    return st;
}

/* Checks the .npz's labels against the dataset's (when it has them) and
 * gives the dataset the .npz's predictions (those barlow analyze used):
 * extracted rows get them, the others keep the dataset's predictions, or
 * their label when it had none. */
static barlow_status match_npz(const char *features, barlow_dataset *ds, const size_t *index,
                               size_t m)
{
    char *path;
    const char *member;
    if (cli_split_spec(features, &path, &member) != 0) return BARLOW_E_NOMEM;
    size_t n = barlow_dataset_size(ds);
    const int32_t *lab = barlow_dataset_labels(ds);
    barlow_status st = BARLOW_OK;
    for (size_t i = 0; i < m && st == BARLOW_OK; i++)
        if (index[i] >= n) {
            cli_set_error("--features %s: index[%zu] = %zu is not a row of the dataset (it has "
                          "%zu rows): were the features extracted from another dataset?",
                          path, i, index[i], n);
            st = BARLOW_E_INVALID_ARG;
        }
    barlow_array *a = NULL;
    int32_t *v = NULL;
    if (st == BARLOW_OK && cli_load_member(path, "labels", &a) == BARLOW_OK &&
        barlow_array_size(a) == m && (v = malloc((m ? m : 1) * sizeof *v)) &&
        barlow_array_to_int32(a, v) == BARLOW_OK) {
        for (size_t i = 0; i < m && st == BARLOW_OK; i++)
            if (v[i] != lab[index[i]]) {
                const char *fn = barlow_dataset_filename(ds, index[i]);
                cli_set_error("--features %s does not match the dataset: it gives dataset row "
                              "%zu%s%s%s label id %d, the dataset %d (%s); give the dataset "
                              "and --class-names as at extraction",
                              path, index[i], fn ? " (" : "", fn ? fn : "", fn ? ")" : "",
                              (int)v[i], (int)lab[index[i]],
                              barlow_dataset_class_name(ds, lab[index[i]]));
                st = BARLOW_E_INVALID_ARG;
            }
    }
    barlow_array_free(a);
    free(v);
    a = NULL;
    v = NULL;
    int32_t *pred = NULL;
    if (st == BARLOW_OK && cli_load_member(path, "predictions", &a) == BARLOW_OK &&
        barlow_array_size(a) == m && (v = malloc((m ? m : 1) * sizeof *v)) &&
        barlow_array_to_int32(a, v) == BARLOW_OK && (pred = malloc((n ? n : 1) * sizeof *pred))) {
        const int32_t *old = barlow_dataset_predictions(ds);
        memcpy(pred, old ? old : lab, n * sizeof *pred);
        for (size_t i = 0; i < m; i++) pred[index[i]] = v[i];
        st = barlow_dataset_set_predictions(ds, pred, n);
    }
    barlow_array_free(a);
    free(v);
    free(pred);
    free(path);
    return st;
}

/* ---- the output directory --------------------------------------------------- */

typedef struct out_file {
    char *path;
    int write;       /* this run writes it */
    int existed;     /* it existed before */
    int written;
} out_file;

enum { OUT_PANEL, OUT_MAPS, OUT_ATTACKS, OUT_FAILURES, N_OUT };

/* Removes the files this run wrote that did not exist before it (the
 * directory, when this run made it, is removed by the caller). */
static void remove_outputs(const out_file *f)
{
    for (int i = 0; i < N_OUT; i++)
        if (f[i].written && !f[i].existed) unlink(f[i].path);
}

/* ---- the command ------------------------------------------------------------ */

/* The command line, parsed and checked. */
typedef struct vis_args {
    const char *model, *features, *feature_t, *rows, *sha, *device, *out, *step_t, *eps_t;
    cli_dataset_args da;
    size_t feature;
    double step, eps;
    bool least, quiet, json;
    barlow_extractor_options eo;
    barlow_visualizer_options vo;
} vis_args;

/* Parses and checks argv into *a; returns CLI_OK, or CLI_USAGE (message
 * printed), or CLI_OK with *help set. */
static int parse_args(int argc, char **argv, vis_args *a, bool *help)
{
    const char *top_t = NULL, *steps_t = NULL, *seed_t = NULL, *threads_t = NULL;
    bool no_attack = false, shared = false, per_image = false;
    memset(a, 0, sizeof *a);
    const cli_opt opts[] = {
        {"model", true, &a->model, NULL},          {"features", true, &a->features, NULL},
        CLI_DATASET_OPTIONS(a->da),                {"feature", true, &a->feature_t, NULL},
        {"rows", true, &a->rows, NULL},            {"top", true, &top_t, NULL},
        {"least", false, NULL, &a->least},         {"attack-steps", true, &steps_t, NULL},
        {"attack-step", true, &a->step_t, NULL},   {"attack-eps", true, &a->eps_t, NULL},
        {"no-attack", false, NULL, &no_attack},    {"shared-scale", false, NULL, &shared},
        {"per-image-scale", false, NULL, &per_image},
        {"seed", true, &seed_t, NULL},             {"threads", true, &threads_t, NULL},
        {"device", true, &a->device, NULL},        {"sha256", true, &a->sha, NULL},
        {"quiet", false, NULL, &a->quiet},         {"out", true, &a->out, NULL},
        {"json", false, NULL, &a->json},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], usage_text, help);
    if (rc != CLI_OK || *help) return rc;
    if (!a->model) return cli_usage_error(CMD, "--model is required");
    if (!a->features) return cli_usage_error(CMD, "--features is required");
    if (!a->feature_t) return cli_usage_error(CMD, "--feature is required");
    if (!a->out) return cli_usage_error(CMD, "--out is required");
    if (cli_check_dataset_args(CMD, &a->da) != CLI_OK) return CLI_USAGE;
    if (no_attack && (steps_t || a->step_t || a->eps_t))
        return cli_usage_error(CMD, "--no-attack excludes --attack-steps, --attack-step and "
                                    "--attack-eps");
    if (shared && per_image)
        return cli_usage_error(CMD, "--shared-scale and --per-image-scale exclude each other");
    if (!*a->out) return cli_usage_error(CMD, "--out is empty");
    if (cli_input_options(CMD, &a->da, &a->eo) != CLI_OK)
        return CLI_USAGE;
    barlow_visualizer_options_init(&a->vo);
    if (cli_size("feature", a->feature_t, 0, SIZE_MAX, &a->feature) ||
        (top_t && cli_size("top", top_t, 1, BARLOW_VISUALIZER_MAX_K, &a->vo.k)) ||
        (steps_t && cli_size("attack-steps", steps_t, 0, 1000000, &a->vo.attack_steps)) ||
        (seed_t && cli_u32("seed", seed_t, &a->vo.seed)) ||
        (threads_t && cli_size("threads", threads_t, 0, 1024, &a->eo.threads)) ||
        (a->step_t && cli_double("attack-step", a->step_t, &a->step)) ||
        (a->eps_t && cli_double("attack-eps", a->eps_t, &a->eps)))
        return CLI_USAGE;
    if (a->step_t && !(a->step > 0))
        return cli_usage_error(CMD, "--attack-step %s must be > 0", a->step_t);
    if (a->eps_t && !(a->eps >= 0))
        return cli_usage_error(CMD, "--attack-eps %s must be >= 0", a->eps_t);
    a->vo.least = a->least;
    a->vo.attack = !no_attack;
    a->vo.scale = per_image ? BARLOW_HEATMAP_PER_IMAGE : BARLOW_HEATMAP_SHARED;
    a->eo.device = a->device;
    a->eo.sha256 = a->sha;
    a->eo.outputs = BARLOW_EXTRACT_FEATURES;
    return CLI_OK;
}

/* One run's state: its outputs and what it loaded and made. */
typedef struct vis_run {
    vis_args a;
    char *dir;
    int made_dir;
    out_file of[N_OUT];
    barlow_dataset *ds;
    barlow_matrix *X;
    size_t *index, n_index, *rows, n_rows;
    size_t *with, n_with, n_fail; /* the rows of the set that have features */
    const char *rows_name;
    barlow_extractor *ex;
    barlow_visualizer *v;
    barlow_feature_view *fv;
    barlow_image *fail_img;
    cli_progress ps;
} vis_run;

/* The output directory (made when missing) and the paths of the files this
 * run may write. Returns CLI_OK, or CLI_ERROR with *st set (st OK: the
 * message is printed already). */
static int prepare_dir(vis_run *r, barlow_status *st)
{
    r->dir = strdup(r->a.out);
    if (!r->dir) return *st = BARLOW_E_NOMEM, CLI_ERROR;
    for (size_t l = strlen(r->dir); l > 1 && r->dir[l - 1] == '/'; l--) r->dir[l - 1] = '\0';
    char name[64];
    snprintf(name, sizeof name, "feature_%zu.png", r->a.feature);
    const char *names[N_OUT] = {name, "maps.npy", "attacks.npy", "failures.png"};
    for (int i = 0; i < N_OUT; i++) {
        bool write = i != OUT_ATTACKS || r->a.vo.attack;
        r->of[i] = (out_file){cli_path_join(r->dir, names[i]), write, 0, 0};
        if (!r->of[i].path) return *st = BARLOW_E_NOMEM, CLI_ERROR;
    }
    struct stat sb;
    if (stat(r->dir, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return CLI_OK;
        cli_set_error("--out %s exists and is not a directory", r->a.out);
        return *st = BARLOW_E_IO, CLI_ERROR;
    }
    if (errno != ENOENT) {
        cli_set_error("--out %s: %s", r->a.out, strerror(errno));
        return *st = BARLOW_E_IO, CLI_ERROR;
    }
    if (barlow_output_check(r->dir) != BARLOW_OK) { /* the parent exists and is writable */
        fprintf(stderr, "barlow %s: --out: %s\n", CMD, barlow_last_error());
        return CLI_ERROR;
    }
    if (mkdir(r->dir, 0777) != 0) {
        cli_set_error("--out: cannot make the directory %s: %s", r->dir, strerror(errno));
        return *st = BARLOW_E_IO, CLI_ERROR;
    }
    r->made_dir = 1;
    return CLI_OK;
}

/* Checked before any work: every file this run may write can be written
 * and is none of the inputs. CLI_OK or CLI_ERROR (message printed). */
static int check_outputs(vis_run *r)
{
    cli_file outs[N_OUT];
    size_t n_outs = 0;
    for (int i = 0; i < N_OUT; i++)
        if (r->of[i].write) outs[n_outs++] = (cli_file){"out", r->of[i].path};
    const cli_dataset_args *da = &r->a.da;
    const cli_file ins[] = {{"model", r->a.model},      {"features", r->a.features},
                            {"metadata", da->metadata}, {"class-names", da->class_names},
                            {"idx", da->idx},           {"idx-labels", da->idx_labels},
                            {"rows", r->a.rows}};
    if (cli_check_outputs(CMD, outs, n_outs, ins, sizeof ins / sizeof ins[0]) != CLI_OK)
        return CLI_ERROR;
    struct stat sb;
    for (int i = 0; i < N_OUT; i++) r->of[i].existed = lstat(r->of[i].path, &sb) == 0;
    return CLI_OK;
}

/* r->with: the rows of the set that have features; n_fail: their failures. */
static barlow_status rows_with_features(vis_run *r)
{
    size_t nds = barlow_dataset_size(r->ds), m = r->index ? r->n_index : barlow_matrix_rows(r->X);
    uint8_t *has = calloc(nds ? nds : 1, 1);
    r->with = malloc((r->n_rows ? r->n_rows : 1) * sizeof *r->with);
    if (!has || !r->with) {
        free(has);
        return BARLOW_E_NOMEM;
    }
    for (size_t i = 0; i < m; i++) {
        size_t row = r->index ? r->index[i] : i;
        if (row < nds) has[row] = 1;
    }
    const int32_t *lab = barlow_dataset_labels(r->ds), *pred = barlow_dataset_predictions(r->ds);
    barlow_status st = BARLOW_OK;
    for (size_t i = 0; i < r->n_rows && st == BARLOW_OK; i++) {
        size_t row = r->rows[i];
        if (row >= nds) {
            cli_set_error("--rows %s: entry %zu is %zu, not a dataset row (the dataset has %zu)",
                          r->a.rows, i, row, nds);
            st = BARLOW_E_INVALID_ARG;
        } else if (has[row]) {
            r->with[r->n_with++] = row;
            r->n_fail += pred && pred[row] != lab[row];
        }
    }
    free(has);
    if (st == BARLOW_OK && r->n_with == 0) {
        cli_set_error("--rows %s: none of its %zu rows has features (no image of the set was "
                      "extracted)", r->rows_name, r->n_rows);
        st = BARLOW_E_INVALID_ARG;
    }
    return st;
}

/* The dataset, the features and their index, the rows of the set. */
static barlow_status load_inputs(vis_run *r)
{
    barlow_status st = cli_load_dataset(&r->a.da, &r->ds);
    if (st == BARLOW_OK) st = load_features(r->a.features, &r->X, &r->index, &r->n_index);
    if (st != BARLOW_OK) return st;
    size_t d = barlow_matrix_cols(r->X);
    if (r->a.feature >= d) {
        cli_set_error("--feature %zu: the features in %s have %zu columns (features 0..%zu)",
                      r->a.feature, r->a.features, d, d ? d - 1 : 0);
        return BARLOW_E_INVALID_ARG;
    }
    if (r->index && (st = match_npz(r->a.features, r->ds, r->index, r->n_index)) != BARLOW_OK)
        return st;
    if ((st = parse_rows(r->ds, r->a.rows, &r->rows, &r->n_rows)) != BARLOW_OK) return st;
    return rows_with_features(r);
}

/* The model, the visualizer, the view and the failure panel. */
static barlow_status compute(vis_run *r)
{
    vis_args *a = &r->a;
    barlow_status st = barlow_extractor_create_from_file(a->model, &a->eo, &r->ex);
    if (st != BARLOW_OK) return st;
    if (a->step_t || a->eps_t) { /* the one not given keeps its scaled default */
        size_t side = barlow_extractor_input_size(r->ex);
        double s = sqrt((double)(barlow_extractor_input_channels(r->ex) * side * side) /
                        150528.0);
        a->vo.attack_scale_to_input = 0;
        a->vo.attack_step = a->step_t ? a->step : 1.0 * s;
        a->vo.attack_eps = a->eps_t ? a->eps : 500.0 * s;
    }
    st = barlow_visualizer_create(r->ex, r->ds, r->X, r->index, r->n_index, &a->vo, &r->v);
    if (st != BARLOW_OK) return st;
    char caption[512];
    snprintf(caption, sizeof caption, "rows: %s", r->rows_name);
    cli_progress_start(&r->ps, "attack", "steps", a->quiet);
    r->ps.from_first = true; /* the view loads the images and computes the maps first */
    st = barlow_visualizer_view(r->v, a->feature, r->rows, r->n_rows, caption,
                                a->vo.attack ? cli_progress_fn : NULL, &r->ps, &r->fv);
    cli_progress_end(&r->ps);
    if (st == BARLOW_OK && r->n_fail) {
        snprintf(caption, sizeof caption, "feature %zu, rows: %s", a->feature, r->rows_name);
        st = barlow_visualizer_failure_panel(r->v, r->with, r->n_with, caption, &r->fail_img);
    }
    r->of[OUT_FAILURES].write = r->fail_img != NULL;
    return st;
}

/* The files; the caller removes what this run wrote when one fails. */
static barlow_status write_outputs(vis_run *r)
{
    out_file *of = r->of;
    size_t k = barlow_feature_view_count(r->fv, BARLOW_VIEW_TOP), mh = 0, mw = 0;
    size_t C = barlow_extractor_input_channels(r->ex), S = barlow_extractor_input_size(r->ex);
    const float *maps = barlow_feature_view_maps(r->fv, &mh, &mw);
    const float *attacks = barlow_feature_view_attacks(r->fv);
    const size_t maps_shape[3] = {k, mh, mw}, att_shape[4] = {k, C, S, S};
    barlow_status st = barlow_image_save_png(barlow_feature_view_panel(r->fv), of[OUT_PANEL].path);
    of[OUT_PANEL].written = st == BARLOW_OK;
    if (st == BARLOW_OK) {
        st = barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 3, maps_shape, maps, of[OUT_MAPS].path);
        of[OUT_MAPS].written = st == BARLOW_OK;
    }
    if (st == BARLOW_OK && attacks) {
        st = barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 4, att_shape, attacks, of[OUT_ATTACKS].path);
        of[OUT_ATTACKS].written = st == BARLOW_OK;
    }
    if (st == BARLOW_OK && r->fail_img) {
        st = barlow_image_save_png(r->fail_img, of[OUT_FAILURES].path);
        of[OUT_FAILURES].written = st == BARLOW_OK;
    }
    return st;
}

/* A map's mean is the feature: a mismatch means other input options or
 * another model than at extraction (a warning, not an error). */
static void warn_mismatch(const vis_run *r)
{
    size_t mh = 0, mw = 0, k = barlow_feature_view_count(r->fv, BARLOW_VIEW_TOP);
    const float *maps = barlow_feature_view_maps(r->fv, &mh, &mw);
    barlow_view_tile t0 = {.version = BARLOW_VIEW_TILE_VERSION};
    barlow_feature_view_tile(r->fv, BARLOW_VIEW_TOP, 0, &t0);
    double tol = 1e-3 * fmax(fabs((double)t0.value), 1e-6);
    for (size_t i = 0; i < k && mh * mw > 0; i++) {
        barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
        barlow_feature_view_tile(r->fv, BARLOW_VIEW_TOP, i, &t);
        double mean = 0;
        for (size_t j = 0; j < mh * mw; j++) mean += maps[i * mh * mw + j];
        mean /= (double)(mh * mw);
        if (fabs(mean - (double)t.value) > tol) {
            fprintf(stderr,
                    "barlow %s: warning: row %zu's feature %zu is %.6g now but %.6g in %s: "
                    "were the features extracted with another model or other --size, "
                    "--resize, --channels?\n",
                    CMD, t.row, r->a.feature, mean, (double)t.value, r->a.features);
            return;
        }
    }
}

/* The "top" or "least" list of the JSON document. */
static void print_json_tiles(const vis_run *r, barlow_view_row which)
{
    int top = which == BARLOW_VIEW_TOP;
    printf(", \"%s\": [", top ? "top" : "least");
    size_t cnt = barlow_feature_view_count(r->fv, which);
    for (size_t i = 0; i < cnt; i++) {
        barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
        barlow_view_tile a = {.version = BARLOW_VIEW_TILE_VERSION};
        barlow_feature_view_tile(r->fv, which, i, &t);
        a.attacked_value = a.distance = NAN;
        if (top && r->a.vo.attack) barlow_feature_view_tile(r->fv, BARLOW_VIEW_ATTACK, i, &a);
        printf("%s{\"row\": %zu, \"value\": ", i ? ", " : "", t.row);
        cli_json_double((double)t.value);
        fputs(", \"label\": ", stdout);
        json_class(r->ds, t.label);
        fputs(", \"prediction\": ", stdout);
        json_class(r->ds, t.prediction);
        if (top) {
            fputs(", \"attacked_value\": ", stdout);
            cli_json_double((double)a.attacked_value);
            fputs(", \"distance\": ", stdout);
            cli_json_double((double)a.distance);
        }
        fputs("}", stdout);
    }
    fputs("]", stdout);
}

static void print_json(const vis_run *r)
{
    const out_file *of = r->of;
    double astep = 0, aeps = 0;
    barlow_visualizer_attack_budget(r->v, &astep, &aeps);
    printf("{\"feature\": %zu, \"rows\": ", r->a.feature);
    cli_json_string(r->rows_name);
    printf(", \"rows_considered\": %zu, \"panels\": [",
           barlow_feature_view_rows_considered(r->fv));
    cli_json_string(of[OUT_PANEL].path);
    if (of[OUT_FAILURES].written) {
        fputs(", ", stdout);
        cli_json_string(of[OUT_FAILURES].path);
    }
    fputs("], \"maps\": ", stdout);
    cli_json_string(of[OUT_MAPS].path);
    fputs(", \"attacks\": ", stdout);
    if (of[OUT_ATTACKS].written) cli_json_string(of[OUT_ATTACKS].path);
    else fputs("null", stdout);
    fputs(", \"attack\": ", stdout);
    if (r->a.vo.attack) {
        printf("{\"steps\": %zu, \"step\": ", r->a.vo.attack_steps);
        cli_json_double(astep);
        fputs(", \"eps\": ", stdout);
        cli_json_double(aeps);
        fputs("}", stdout);
    } else {
        fputs("null", stdout);
    }
    print_json_tiles(r, BARLOW_VIEW_TOP);
    if (r->a.least) print_json_tiles(r, BARLOW_VIEW_LEAST);
    fputs("}\n", stdout);
}

/* The human summary on stderr. */
static void print_summary(const vis_run *r)
{
    size_t k = barlow_feature_view_count(r->fv, BARLOW_VIEW_TOP);
    barlow_view_tile first = {.version = BARLOW_VIEW_TILE_VERSION};
    barlow_view_tile last = {.version = BARLOW_VIEW_TILE_VERSION};
    barlow_feature_view_tile(r->fv, BARLOW_VIEW_TOP, 0, &first);
    barlow_feature_view_tile(r->fv, BARLOW_VIEW_TOP, k - 1, &last);
    fprintf(stderr,
            "barlow %s: feature %zu on rows %s: %zu of %zu rows have features; top %zu "
            "from %.4g (row %zu) to %.4g (row %zu)\n",
            CMD, r->a.feature, r->rows_name, barlow_feature_view_rows_considered(r->fv),
            r->n_rows, k, (double)first.value, first.row, (double)last.value, last.row);
    if (r->a.vo.attack) {
        double astep = 0, aeps = 0, gain = 0;
        barlow_visualizer_attack_budget(r->v, &astep, &aeps);
        for (size_t i = 0; i < k; i++) {
            barlow_view_tile a = {.version = BARLOW_VIEW_TILE_VERSION};
            barlow_feature_view_tile(r->fv, BARLOW_VIEW_ATTACK, i, &a);
            gain += (double)(a.attacked_value - a.value);
        }
        fprintf(stderr, "  attack: %zu steps of L2 %.4g within %.4g; the feature rose by "
                        "%.4g on average\n",
                r->a.vo.attack_steps, astep, aeps, gain / (double)k);
    }
    fprintf(stderr, "  wrote");
    for (int i = 0; i < N_OUT; i++)
        if (r->of[i].written) fprintf(stderr, " %s", r->of[i].path);
    fputc('\n', stderr);
}

static void run_free(vis_run *r)
{
    barlow_image_free(r->fail_img);
    barlow_feature_view_free(r->fv);
    barlow_visualizer_free(r->v);
    barlow_extractor_free(r->ex);
    barlow_matrix_free(r->X);
    barlow_dataset_free(r->ds);
    free(r->index);
    free(r->rows);
    free(r->with);
    for (int i = 0; i < N_OUT; i++) free(r->of[i].path);
    free(r->dir);
}

int cmd_visualize(int argc, char **argv)
{
    vis_run r;
    memset(&r, 0, sizeof r);
    bool help = false;
    int rc = parse_args(argc, argv, &r.a, &help);
    if (rc != CLI_OK || help) return rc;
    r.rows_name = r.a.rows ? r.a.rows : "all";
    cli_progress_start(&r.ps, "attack", "steps", r.a.quiet);
    barlow_status st = BARLOW_OK;
    rc = prepare_dir(&r, &st);
    if (rc == CLI_OK) rc = check_outputs(&r);
    if (rc == CLI_OK) {
        st = load_inputs(&r);
        if (st == BARLOW_OK) st = compute(&r);
        if (st == BARLOW_OK) st = write_outputs(&r);
        rc = st == BARLOW_OK ? CLI_OK : CLI_ERROR;
    }
    if (rc == CLI_OK) {
        warn_mismatch(&r);
        if (r.a.json) print_json(&r);
        else if (!r.a.quiet) print_summary(&r);
    } else if (st != BARLOW_OK) {
        cli_progress_end(&r.ps);
        cli_fail(CMD, st);
        remove_outputs(r.of);
    }
    if (rc != CLI_OK && r.made_dir) rmdir(r.dir);
    run_free(&r);
    return rc;
}
