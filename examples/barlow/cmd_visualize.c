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

/* A JSON string literal; bytes that are not valid UTF-8 become U+FFFD. */
static void json_string(const char *s)
{
    putchar('"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar((int)c);
            p++;
        } else if (c < 0x20) {
            printf("\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            putchar((int)c);
            p++;
        } else {
            size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
            size_t k = 1;
            while (len && k < len && (p[k] & 0xC0) == 0x80) k++;
            /* overlong 3/4-byte forms and surrogates are not checked: names
             * come from the library, which validated class names */
            if (len && k == len) {
                fwrite(p, 1, len, stdout);
                p += len;
            } else {
                fputs("\\ufffd", stdout);
                p++;
            }
        }
    }
    putchar('"');
}

/* A class name as JSON, null for none. */
static void json_class(const barlow_dataset *ds, int32_t id)
{
    const char *name = id >= 0 ? barlow_dataset_class_name(ds, id) : NULL;
    if (name) json_string(name);
    else fputs("null", stdout);
}

/* dir + "/" + name, a new string. */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", dir, name);
    return s;
}

/* ---- inputs ------------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* A 1-D integer array of non-negative values from F.npy or F.npz:member (an
 * .npz needs the member) as size_t. `what` names it in messages. */
static barlow_status load_rows_array(const char *spec, const char *what, size_t **out,
                                     size_t *n_out)
{
    char *path;
    const char *member;
    if (cli_split_spec(spec, &path, &member) != 0) return BARLOW_E_NOMEM;
    barlow_array *a = NULL;
    barlow_status st;
    if (member) {
        st = barlow_array_load_npz(path, member, &a);
    } else if (ends_with(path, ".npz")) {
        cli_set_error("%s %s is an .npz archive: name the member as %s:MEMBER", what, spec, spec);
        st = BARLOW_E_INVALID_ARG;
    } else {
        st = barlow_array_load_npy(path, &a);
    }
    free(path);
    if (st != BARLOW_OK) return st;
    size_t n = barlow_array_size(a);
    barlow_dtype dt = barlow_array_dtype(a);
    size_t *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows) {
        st = BARLOW_E_NOMEM;
    } else if (barlow_array_ndim(a) != 1) {
        cli_set_error("%s %s must be a 1-D array of dataset rows (it has %zu dimensions)", what,
                      spec, barlow_array_ndim(a));
        st = BARLOW_E_INVALID_ARG;
    } else if (dt != BARLOW_DTYPE_INT64 && dt != BARLOW_DTYPE_INT32 && dt != BARLOW_DTYPE_UINT8) {
        cli_set_error("%s %s must hold integers (it holds %s)", what, spec, barlow_dtype_name(dt));
        st = BARLOW_E_INVALID_ARG;
    }
    const void *data = barlow_array_data(a);
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) {
        int64_t v = dt == BARLOW_DTYPE_INT64   ? ((const int64_t *)data)[i]
                    : dt == BARLOW_DTYPE_INT32 ? ((const int32_t *)data)[i]
                                               : ((const uint8_t *)data)[i];
        if (v < 0) {
            cli_set_error("%s %s: entry %zu is %lld (dataset rows are >= 0)", what, spec, i,
                          (long long)v);
            st = BARLOW_E_INVALID_ARG;
        }
        rows[i] = (size_t)v;
    }
    barlow_array_free(a);
    if (st != BARLOW_OK) {
        free(rows);
        return st;
    }
    *out = rows;
    *n_out = n;
    return BARLOW_OK;
}

/* A class by name, else by decimal id. */
static barlow_status class_of(const barlow_dataset *ds, const char *spec, const char *text,
                              int32_t *id)
{
    if (barlow_dataset_class_id(ds, text, id) == BARLOW_OK) return BARLOW_OK;
    size_t nc = barlow_dataset_class_count(ds);
    char *end = NULL;
    errno = 0;
    unsigned long long v = *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    if (end && !*end && !errno && v < nc) {
        *id = (int32_t)v;
        return BARLOW_OK;
    }
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
    if (!by_label && !by_pred) return load_rows_array(spec, "--rows", rows, n);
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
    int npz = ends_with(path, ".npz");
    barlow_status st = cli_load_matrix(spec, X);
    *index = NULL;
    *n_index = 0;
    if (st == BARLOW_OK && npz) {
        char *ispec = malloc(strlen(path) + 7);
        if (!ispec) st = BARLOW_E_NOMEM;
        else {
            sprintf(ispec, "%s:index", path);
            st = load_rows_array(ispec, "--features", index, n_index);
            free(ispec);
        }
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
    if (st == BARLOW_OK && barlow_array_load_npz(path, "labels", &a) == BARLOW_OK &&
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
    if (st == BARLOW_OK && barlow_array_load_npz(path, "predictions", &a) == BARLOW_OK &&
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

/* The attack's progress: timed from its first step (the view loads the
 * images and computes the maps before it). */
static int attack_progress(size_t done, size_t total, void *user)
{
    cli_progress *p = user;
    if (!p->drawn) {
        p->start = cli_now();
        p->base = done;
    }
    return cli_progress_fn(done, total, user);
}

/* ---- the command ------------------------------------------------------------ */

int cmd_visualize(int argc, char **argv)
{
    const char *model = NULL, *features_t = NULL, *metadata = NULL, *images = NULL,
               *folder = NULL, *idx = NULL, *idx_labels = NULL, *class_names = NULL,
               *size_s = NULL, *resize_t = NULL, *channels_t = NULL, *feature_t = NULL,
               *rows_t = NULL, *top_t = NULL, *steps_t = NULL, *step_t = NULL, *eps_t = NULL,
               *seed_t = NULL, *threads_t = NULL, *device = NULL, *sha = NULL, *out_t = NULL;
    bool least = false, no_attack = false, shared = false, per_image = false, quiet = false,
         json = false, help = false;
    const cli_opt opts[] = {
        {"model", true, &model, NULL},          {"features", true, &features_t, NULL},
        {"metadata", true, &metadata, NULL},    {"images", true, &images, NULL},
        {"folder", true, &folder, NULL},        {"idx", true, &idx, NULL},
        {"idx-labels", true, &idx_labels, NULL}, {"class-names", true, &class_names, NULL},
        {"size", true, &size_s, NULL},         {"resize", true, &resize_t, NULL},
        {"channels", true, &channels_t, NULL},  {"feature", true, &feature_t, NULL},
        {"rows", true, &rows_t, NULL},          {"top", true, &top_t, NULL},
        {"least", false, NULL, &least},         {"attack-steps", true, &steps_t, NULL},
        {"attack-step", true, &step_t, NULL},   {"attack-eps", true, &eps_t, NULL},
        {"no-attack", false, NULL, &no_attack}, {"shared-scale", false, NULL, &shared},
        {"per-image-scale", false, NULL, &per_image},
        {"seed", true, &seed_t, NULL},          {"threads", true, &threads_t, NULL},
        {"device", true, &device, NULL},        {"sha256", true, &sha, NULL},
        {"quiet", false, NULL, &quiet},         {"out", true, &out_t, NULL},
        {"json", false, NULL, &json},
    };
    int rc = cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], usage_text, &help);
    if (rc != CLI_OK || help) return rc;
    if (!model) return cli_usage_error(CMD, "--model is required");
    if (!features_t) return cli_usage_error(CMD, "--features is required");
    if (!feature_t) return cli_usage_error(CMD, "--feature is required");
    if (!out_t) return cli_usage_error(CMD, "--out is required");
    const cli_dataset_args da = {metadata, images, folder, idx, idx_labels, class_names};
    if (cli_check_dataset_args(CMD, &da) != CLI_OK) return CLI_USAGE;
    if (no_attack && (steps_t || step_t || eps_t))
        return cli_usage_error(CMD, "--no-attack excludes --attack-steps, --attack-step and "
                                    "--attack-eps");
    if (shared && per_image)
        return cli_usage_error(CMD, "--shared-scale and --per-image-scale exclude each other");
    if (!*out_t) return cli_usage_error(CMD, "--out is empty");

    barlow_extractor_options eo;
    if (cli_input_options(CMD, &da, size_s, resize_t, channels_t, &eo) != CLI_OK)
        return CLI_USAGE;
    barlow_visualizer_options vo;
    barlow_visualizer_options_init(&vo);
    size_t feature = 0;
    double step = 0, eps = 0;
    if (cli_size("feature", feature_t, 0, SIZE_MAX, &feature) ||
        (top_t && cli_size("top", top_t, 1, BARLOW_VISUALIZER_MAX_K, &vo.k)) ||
        (steps_t && cli_size("attack-steps", steps_t, 0, 1000000, &vo.attack_steps)) ||
        (seed_t && cli_u32("seed", seed_t, &vo.seed)) ||
        (threads_t && cli_size("threads", threads_t, 0, 1024, &eo.threads)) ||
        (step_t && cli_double("attack-step", step_t, &step)) ||
        (eps_t && cli_double("attack-eps", eps_t, &eps)))
        return CLI_USAGE;
    if (step_t && !(step > 0))
        return cli_usage_error(CMD, "--attack-step %s must be > 0", step_t);
    if (eps_t && !(eps >= 0))
        return cli_usage_error(CMD, "--attack-eps %s must be >= 0", eps_t);
    vo.least = least;
    vo.attack = !no_attack;
    vo.scale = per_image ? BARLOW_HEATMAP_PER_IMAGE : BARLOW_HEATMAP_SHARED;
    eo.device = device;
    eo.sha256 = sha;
    eo.outputs = BARLOW_EXTRACT_FEATURES;

    /* the output directory: DIR without trailing slashes */
    char *dir = strdup(out_t);
    if (!dir) return cli_fail(CMD, BARLOW_E_NOMEM);
    for (size_t l = strlen(dir); l > 1 && dir[l - 1] == '/'; l--) dir[l - 1] = '\0';
    char name[64];
    snprintf(name, sizeof name, "feature_%zu.png", feature);
    out_file of[N_OUT] = {{join(dir, name), 1, 0, 0},
                          {join(dir, "maps.npy"), 1, 0, 0},
                          {join(dir, "attacks.npy"), vo.attack, 0, 0},
                          {join(dir, "failures.png"), 1, 0, 0}};
    int made_dir = 0;
    barlow_dataset *ds = NULL;
    barlow_matrix *X = NULL;
    size_t *index = NULL, n_index = 0, *rows = NULL, n_rows = 0, *with = NULL;
    barlow_extractor *ex = NULL;
    barlow_visualizer *v = NULL;
    barlow_feature_view *fv = NULL;
    barlow_image *fail_img = NULL;
    barlow_status st = BARLOW_OK;
    cli_progress ps;
    cli_progress_start(&ps, "attack", "steps", quiet);
    for (int i = 0; i < N_OUT; i++)
        if (!of[i].path) {
            st = BARLOW_E_NOMEM;
            goto fail;
        }

    /* checked before any work: DIR is a directory (made now when missing)
     * and every file this run may write can be written */
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) {
            cli_set_error("--out %s exists and is not a directory", out_t);
            st = BARLOW_E_IO;
            goto fail;
        }
    } else if (errno == ENOENT) {
        if (barlow_output_check(dir) != BARLOW_OK) { /* the parent exists and is writable */
            fprintf(stderr, "barlow %s: --out: %s\n", CMD, barlow_last_error());
            rc = CLI_ERROR;
            goto cleanup;
        }
        if (mkdir(dir, 0777) != 0) {
            cli_set_error("--out: cannot make the directory %s: %s", dir, strerror(errno));
            st = BARLOW_E_IO;
            goto fail;
        }
        made_dir = 1;
    } else {
        cli_set_error("--out %s: %s", out_t, strerror(errno));
        st = BARLOW_E_IO;
        goto fail;
    }
    {
        cli_file outs[N_OUT];
        size_t n_outs = 0;
        for (int i = 0; i < N_OUT; i++)
            if (of[i].write) outs[n_outs++] = (cli_file){"out", of[i].path};
        const cli_file ins[] = {{"model", model},       {"features", features_t},
                                {"metadata", metadata}, {"class-names", class_names},
                                {"idx", idx},           {"idx-labels", idx_labels},
                                {"rows", rows_t}};
        if (cli_check_outputs(CMD, outs, n_outs, ins, sizeof ins / sizeof ins[0]) != CLI_OK) {
            rc = CLI_ERROR;
            goto cleanup;
        }
        for (int i = 0; i < N_OUT; i++) of[i].existed = lstat(of[i].path, &sb) == 0;
    }

    /* the dataset, the features and their rows, the model */
    if ((st = cli_load_dataset(&da, &ds)) != BARLOW_OK) goto fail;
    if ((st = load_features(features_t, &X, &index, &n_index)) != BARLOW_OK) goto fail;
    size_t d = barlow_matrix_cols(X), nds = barlow_dataset_size(ds);
    if (feature >= d) {
        cli_set_error("--feature %zu: the features in %s have %zu columns (features 0..%zu)",
                      feature, features_t, d, d ? d - 1 : 0);
        st = BARLOW_E_INVALID_ARG;
        goto fail;
    }
    if (index && (st = match_npz(features_t, ds, index, n_index)) != BARLOW_OK) goto fail;
    if ((st = parse_rows(ds, rows_t, &rows, &n_rows)) != BARLOW_OK) goto fail;
    /* the rows of the set that have features (checked against the dataset) */
    uint8_t *has = calloc(nds ? nds : 1, 1);
    with = malloc((n_rows ? n_rows : 1) * sizeof *with);
    if (!has || !with) {
        free(has);
        st = BARLOW_E_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < (index ? n_index : barlow_matrix_rows(X)); i++)
        if ((index ? index[i] : i) < nds) has[index ? index[i] : i] = 1;
    size_t n_with = 0, n_fail = 0;
    const int32_t *lab = barlow_dataset_labels(ds), *pred = barlow_dataset_predictions(ds);
    for (size_t i = 0; i < n_rows; i++) {
        if (rows[i] >= nds) {
            cli_set_error("--rows %s: entry %zu is %zu, not a dataset row (the dataset has %zu)",
                          rows_t, i, rows[i], nds);
            st = BARLOW_E_INVALID_ARG;
            break;
        }
        if (!has[rows[i]]) continue;
        with[n_with++] = rows[i];
        n_fail += pred && pred[rows[i]] != lab[rows[i]];
    }
    free(has);
    if (st != BARLOW_OK) goto fail;
    const char *rows_name = rows_t ? rows_t : "all";
    if (n_with == 0) {
        cli_set_error("--rows %s: none of its %zu rows has features (no image of the set was "
                      "extracted)", rows_name, n_rows);
        st = BARLOW_E_INVALID_ARG;
        goto fail;
    }
    if ((st = barlow_extractor_create_from_file(model, &eo, &ex)) != BARLOW_OK) goto fail;
    if (step_t || eps_t) { /* the one not given keeps its scaled default */
        double s = sqrt((double)(barlow_extractor_input_channels(ex) *
                                 barlow_extractor_input_size(ex) *
                                 barlow_extractor_input_size(ex)) / 150528.0);
        vo.attack_scale_to_input = 0;
        vo.attack_step = step_t ? step : 1.0 * s;
        vo.attack_eps = eps_t ? eps : 500.0 * s;
    }
    if ((st = barlow_visualizer_create(ex, ds, X, index, n_index, &vo, &v)) != BARLOW_OK)
        goto fail;

    /* the work: the view (ranking, maps, attacks, panel), the failures */
    cli_progress_start(&ps, "attack", "steps", quiet);
    char view_caption[512];
    snprintf(view_caption, sizeof view_caption, "rows: %s", rows_name);
    st = barlow_visualizer_view(v, feature, rows, n_rows, view_caption,
                                vo.attack ? attack_progress : NULL, &ps, &fv);
    cli_progress_end(&ps);
    if (st != BARLOW_OK) goto fail;
    if (n_fail) {
        char caption[512];
        snprintf(caption, sizeof caption, "feature %zu, rows: %s", feature, rows_name);
        if ((st = barlow_visualizer_failure_panel(v, with, n_with, caption, &fail_img)) !=
            BARLOW_OK)
            goto fail;
    }
    of[OUT_FAILURES].write = fail_img != NULL;

    /* the files; a failed write removes what this run wrote */
    size_t k = barlow_feature_view_count(fv, BARLOW_VIEW_TOP), mh = 0, mw = 0;
    size_t C = barlow_extractor_input_channels(ex), S = barlow_extractor_input_size(ex);
    const float *maps = barlow_feature_view_maps(fv, &mh, &mw);
    const float *attacks = barlow_feature_view_attacks(fv);
    const size_t maps_shape[3] = {k, mh, mw}, att_shape[4] = {k, C, S, S};
    if ((st = barlow_image_save_png(barlow_feature_view_panel(fv), of[OUT_PANEL].path)) ==
        BARLOW_OK)
        of[OUT_PANEL].written = 1;
    if (st == BARLOW_OK &&
        (st = barlow_npy_save(of[OUT_MAPS].path, BARLOW_DTYPE_FLOAT32, 3, maps_shape, maps)) ==
            BARLOW_OK)
        of[OUT_MAPS].written = 1;
    if (st == BARLOW_OK && attacks &&
        (st = barlow_npy_save(of[OUT_ATTACKS].path, BARLOW_DTYPE_FLOAT32, 4, att_shape,
                              attacks)) == BARLOW_OK)
        of[OUT_ATTACKS].written = 1;
    if (st == BARLOW_OK && fail_img &&
        (st = barlow_image_save_png(fail_img, of[OUT_FAILURES].path)) == BARLOW_OK)
        of[OUT_FAILURES].written = 1;
    if (st != BARLOW_OK) goto fail;

    /* a map's mean is the feature: a mismatch means other input options or
     * another model than at extraction */
    for (size_t i = 0; i < k && mh * mw > 0; i++) {
        barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
        barlow_feature_view_tile(fv, BARLOW_VIEW_TOP, i, &t);
        double mean = 0;
        for (size_t j = 0; j < mh * mw; j++) mean += maps[i * mh * mw + j];
        mean /= (double)(mh * mw);
        barlow_view_tile t0 = {.version = BARLOW_VIEW_TILE_VERSION};
        barlow_feature_view_tile(fv, BARLOW_VIEW_TOP, 0, &t0);
        double tol = 1e-3 * fmax(fabs((double)t0.value), 1e-6);
        if (fabs(mean - (double)t.value) > tol) {
            fprintf(stderr,
                    "barlow %s: warning: row %zu's feature %zu is %.6g now but %.6g in %s: "
                    "were the features extracted with another model or other --size, "
                    "--resize, --channels?\n",
                    CMD, t.row, feature, mean, (double)t.value, features_t);
            break;
        }
    }

    double astep = 0, aeps = 0;
    barlow_visualizer_attack_budget(v, &astep, &aeps);
    size_t considered = barlow_feature_view_rows_considered(fv);
    if (json) {
        printf("{\"feature\": %zu, \"rows\": ", feature);
        json_string(rows_name);
        printf(", \"rows_considered\": %zu, \"panels\": [", considered);
        json_string(of[OUT_PANEL].path);
        if (of[OUT_FAILURES].written) {
            fputs(", ", stdout);
            json_string(of[OUT_FAILURES].path);
        }
        fputs("], \"maps\": ", stdout);
        json_string(of[OUT_MAPS].path);
        fputs(", \"attacks\": ", stdout);
        if (of[OUT_ATTACKS].written) json_string(of[OUT_ATTACKS].path);
        else fputs("null", stdout);
        fputs(", \"attack\": ", stdout);
        if (vo.attack) {
            printf("{\"steps\": %zu, \"step\": ", vo.attack_steps);
            cli_json_double(astep);
            fputs(", \"eps\": ", stdout);
            cli_json_double(aeps);
            fputs("}", stdout);
        } else {
            fputs("null", stdout);
        }
        for (int r = 0; r < 2; r++) {
            barlow_view_row which = r ? BARLOW_VIEW_LEAST : BARLOW_VIEW_TOP;
            if (r && !least) break;
            printf(", \"%s\": [", r ? "least" : "top");
            size_t cnt = barlow_feature_view_count(fv, which);
            for (size_t i = 0; i < cnt; i++) {
                barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
                barlow_view_tile a = {.version = BARLOW_VIEW_TILE_VERSION};
                barlow_feature_view_tile(fv, which, i, &t);
                a.attacked_value = a.distance = NAN;
                if (!r && vo.attack) barlow_feature_view_tile(fv, BARLOW_VIEW_ATTACK, i, &a);
                printf("%s{\"row\": %zu, \"value\": ", i ? ", " : "", t.row);
                cli_json_double((double)t.value);
                fputs(", \"label\": ", stdout);
                json_class(ds, t.label);
                fputs(", \"prediction\": ", stdout);
                json_class(ds, t.prediction);
                if (!r) {
                    fputs(", \"attacked_value\": ", stdout);
                    cli_json_double((double)a.attacked_value);
                    fputs(", \"distance\": ", stdout);
                    cli_json_double((double)a.distance);
                }
                fputs("}", stdout);
            }
            fputs("]", stdout);
        }
        fputs("}\n", stdout);
    } else if (!quiet) {
        barlow_view_tile first = {.version = BARLOW_VIEW_TILE_VERSION};
        barlow_view_tile last = {.version = BARLOW_VIEW_TILE_VERSION};
        barlow_feature_view_tile(fv, BARLOW_VIEW_TOP, 0, &first);
        barlow_feature_view_tile(fv, BARLOW_VIEW_TOP, k - 1, &last);
        fprintf(stderr,
                "barlow %s: feature %zu on rows %s: %zu of %zu rows have features; top %zu "
                "from %.4g (row %zu) to %.4g (row %zu)\n",
                CMD, feature, rows_name, considered, n_rows, k, (double)first.value, first.row,
                (double)last.value, last.row);
        if (vo.attack) {
            double gain = 0;
            for (size_t i = 0; i < k; i++) {
                barlow_view_tile a = {.version = BARLOW_VIEW_TILE_VERSION};
                barlow_feature_view_tile(fv, BARLOW_VIEW_ATTACK, i, &a);
                gain += (double)(a.attacked_value - a.value);
            }
            fprintf(stderr, "  attack: %zu steps of L2 %.4g within %.4g; the feature rose by "
                            "%.4g on average\n",
                    vo.attack_steps, astep, aeps, gain / (double)k);
        }
        fprintf(stderr, "  wrote");
        for (int i = 0; i < N_OUT; i++)
            if (of[i].written) fprintf(stderr, " %s", of[i].path);
        fputc('\n', stderr);
    }
    rc = CLI_OK;
    goto cleanup;

fail:
    cli_progress_end(&ps);
    rc = cli_fail(CMD, st);
    remove_outputs(of);
cleanup:
    if (rc != CLI_OK && made_dir) rmdir(dir);
    barlow_image_free(fail_img);
    barlow_feature_view_free(fv);
    barlow_visualizer_free(v);
    barlow_extractor_free(ex);
    barlow_matrix_free(X);
    barlow_dataset_free(ds);
    free(index);
    free(rows);
    free(with);
    for (int i = 0; i < N_OUT; i++) free(of[i].path);
    free(dir);
    return rc;
}
