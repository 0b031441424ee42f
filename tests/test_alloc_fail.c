/* Allocation failures of the operations that need no libtorch (CSV load,
 * image load and save, npy/npz write, MI selection, tree fit and export,
 * the analysis), swept by tests/alloc_sweep.h: every allocation failed once
 * and forever, each run OK with the unfailed result or NOMEM, no leak, no
 * leftover file. libjpeg-turbo's own allocations are not hooked. */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "tap.h"
#include "tmpdir.h"
#include "img_encode.h"
#include "alloc_sweep.h"

/* ---- the operations -------------------------------------------------------- */

/* Inputs made once, before the sweeps. */
static struct {
    const char *csv, *names, *png, *jpeg, *out; /* out: the output file */
    barlow_matrix *x;                   /* 48 x 6 */
    uint8_t fail[48];
    barlow_dataset *ds;
} in;

static barlow_dataset *csv_ds;
static barlow_status csv_run(void) { return barlow_dataset_load_csv(in.csv, NULL, &csv_ds); }
static barlow_status csv_names_run(void)
{
    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    o.class_names_path = in.names;
    o.image_root = "/data/images";
    return barlow_dataset_load_csv(in.csv, &o, &csv_ds);
}
static void csv_print(fp *f)
{
    size_t n = barlow_dataset_size(csv_ds);
    for (size_t c = 0; c < barlow_dataset_class_count(csv_ds); c++)
        fp_add(f, "%s;", barlow_dataset_class_name(csv_ds, (int32_t)c));
    for (size_t i = 0; i < n; i++)
        fp_add(f, "%s,%d,%d,%s;", barlow_dataset_filename(csv_ds, i),
               barlow_dataset_labels(csv_ds)[i], barlow_dataset_predictions(csv_ds)[i],
               barlow_dataset_extra_value(csv_ds, i, 0));
    barlow_buffer p = {NULL, 0};
    if (barlow_dataset_image_root(csv_ds) && !barlow_dataset_image_path(csv_ds, 1, &p))
        fp_add(f, "%s", (const char *)p.data);
    barlow_buffer_free(&p);
}
static void csv_release(void) { barlow_dataset_free(csv_ds); csv_ds = NULL; }

static barlow_image *img;
static barlow_status png_run(void) { return barlow_image_decode_file(in.png, NULL, &img); }
static barlow_status jpeg_run(void) { return barlow_image_decode_file(in.jpeg, NULL, &img); }
static void img_print(fp *f)
{
    fp_add(f, "%zux%zux%zu", barlow_image_width(img), barlow_image_height(img),
           barlow_image_channels(img));
    fp_bytes(f, barlow_image_data(img),
             barlow_image_width(img) * barlow_image_height(img) * barlow_image_channels(img));
}
static void img_release(void) { barlow_image_free(img); img = NULL; }

static barlow_status png_save_run(void)
{
    barlow_image *src = NULL;
    barlow_status st = barlow_image_decode_file(in.png, NULL, &src);
    if (!st) st = barlow_image_save_png(src, in.out);
    barlow_image_free(src);
    return st;
}
static void file_print(fp *f) { fp_file(f, in.out); }
static void no_release(void) {}

static barlow_status npz_run(void)
{
    barlow_npz_writer *w = NULL;
    size_t shape[2] = {barlow_matrix_rows(in.x), barlow_matrix_cols(in.x)}, n = 48;
    barlow_status st = barlow_npz_writer_open(in.out, &w);
    if (!st) st = barlow_npz_writer_add(w, "x", BARLOW_DTYPE_FLOAT32, 2, shape,
                                        barlow_matrix_data(in.x));
    if (!st) st = barlow_npz_writer_add(w, "fail.npy", BARLOW_DTYPE_UINT8, 1, &n, in.fail);
    if (!st) st = barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    return st;
}
static barlow_status npy_run(void) { return barlow_matrix_save_npy(in.x, in.out); }

static size_t sel_top[3];
static double sel_scores[6];
static barlow_status select_threads(size_t threads)
{
    barlow_selector_options o;
    barlow_selector_options_init(&o);
    o.threads = threads;
    barlow_selector *sel = NULL;
    barlow_status st = barlow_selector_create(&o, &sel);
    if (!st) st = barlow_selector_top_k(sel, in.x, in.fail, 3, sel_top, sel_scores);
    barlow_selector_free(sel);
    return st;
}
static barlow_status select_run(void) { return select_threads(1); }
static void select_print(fp *f)
{
    for (size_t i = 0; i < 3; i++) fp_add(f, "%zu,", sel_top[i]);
    for (size_t i = 0; i < 6; i++) fp_add(f, "%.17g,", sel_scores[i]);
}

static barlow_tree *tree;
static barlow_buffer tree_json, tree_svg;
static size_t tree_rules[64], tree_n_rules;
static barlow_status tree_run(void)
{
    barlow_tree_options o;
    barlow_tree_options_init(&o);
    o.max_depth = 3;
    barlow_status st = barlow_tree_fit(in.x, in.fail, NULL, 0, &o, &tree);
    if (!st) st = barlow_tree_rules(tree, NULL, tree_rules, &tree_n_rules);
    if (!st) st = barlow_tree_to_json(tree, NULL, NULL, &tree_json);
    if (!st) st = barlow_tree_to_svg(tree, NULL, &tree_svg);
    if (!st) st = barlow_tree_save_json(tree, NULL, NULL, in.out);
    return st;
}
static void tree_print(fp *f)
{
    for (size_t i = 0; i < tree_n_rules; i++) fp_add(f, "%zu,", tree_rules[i]);
    fp_add(f, "%s%s", tree_json.data ? (char *)tree_json.data : "-",
           tree_svg.data ? (char *)tree_svg.data : "-");
    fp_file(f, in.out);
}
static void tree_release(void)
{
    barlow_tree_free(tree);
    tree = NULL;
    barlow_buffer_free(&tree_json);
    barlow_buffer_free(&tree_svg);
    tree_n_rules = 0;
}

static barlow_analysis *an;
static barlow_buffer an_json;
static barlow_status analyze_threads(size_t threads)
{
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 3;
    o.threads = threads;
    int32_t depths[2] = {1, 2};
    o.depths = depths;
    o.n_depths = 2;
    barlow_status st = barlow_analysis_run(in.x, in.ds, &o, NULL, NULL, &an);
    if (!st) st = barlow_analysis_to_json(an, &an_json);
    return st;
}
static barlow_status analyze_run(void) { return analyze_threads(1); }
/* Two workers: a failed allocation of the thread start runs the groups
 * serially, with the same results. */
static barlow_status analyze2_run(void) { return analyze_threads(2); }
static void analyze_print(fp *f) { fp_add(f, "%s", an_json.data ? (char *)an_json.data : "-"); }
static void analyze_release(void)
{
    barlow_analysis_free(an);
    an = NULL;
    barlow_buffer_free(&an_json);
}

static const op ops[] = {
    {"CSV load", csv_run, csv_print, csv_release, false},
    {"CSV load, class-names file", csv_names_run, csv_print, csv_release, false},
    {"PNG load", png_run, img_print, img_release, false},
    {"JPEG load", jpeg_run, img_print, img_release, false},
    {"PNG save", png_save_run, file_print, no_release, true},
    {"npz write", npz_run, file_print, no_release, true},
    {"npy save", npy_run, file_print, no_release, true},
    {"MI select", select_run, select_print, no_release, false},
    {"tree fit + export", tree_run, tree_print, tree_release, true},
    {"analysis", analyze_run, analyze_print, analyze_release, false},
    {"analysis, 2 threads", analyze2_run, analyze_print, analyze_release, false},
};

/* ---- inputs ---------------------------------------------------------------- */

static void put_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) TAP_SKIP_ALL("cannot write inputs");
}

static void make_inputs(void)
{
    static const char csv[] =
        "Filenames,Labels,Predictions,Note\n"
        "a.png,cat,cat,x\n\"b,1.png\",dog,cat,\"y \"\"q\"\"\"\n"
        "c.png,bird,bird,z\nd.png,dog,dog,\ne.png,cat,bird,w\nf.png,bird,dog,v\n";
    mkdir(tmp_path("inputs"), 0700);
    in.csv = strdup(tmp_path("inputs/m.csv"));
    in.names = strdup(tmp_path("inputs/classes.txt"));
    in.png = strdup(tmp_path("inputs/a.png"));
    in.jpeg = strdup(tmp_path("inputs/a.jpg"));
    in.out = strdup(tmp_path("out.bin"));
    put_file(in.csv, csv, sizeof csv - 1);
    put_file(in.names, "bird\ncat\ndog\nfish\n", strlen("bird\ncat\ndog\nfish\n"));
    uint8_t px[12 * 10 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37 + i / 7);
    size_t n = 0;
    uint8_t *png = png_encode(12, 10, 2, px, &n);
    put_file(in.png, png, n);
    free(png);
    uint8_t *jpg = jpeg_encode(12, 10, 3, px, 90, 0, &n);
    put_file(in.jpeg, jpg, n);
    free(jpg);
}

static void make_data(void)
{
    float x[48 * 6];
    int32_t labels[48], preds[48];
    uint64_t r = 7;
    for (size_t i = 0; i < 48; i++) {
        labels[i] = (int32_t)(i % 3);
        preds[i] = (i % 5 == 0) ? (int32_t)((i + 1) % 3) : labels[i];
        in.fail[i] = labels[i] != preds[i];
        for (size_t j = 0; j < 6; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[i * 6 + j] = (float)(r >> 40) / 16777216.0f + (j == 2 ? 0.5f * in.fail[i] : 0.0f);
        }
    }
    if (barlow_matrix_create_copy(x, 48, 6, 0, &in.x) ||
        barlow_dataset_create(48, labels, preds, NULL, 3, &in.ds))
        TAP_SKIP_ALL("cannot create the inputs");
    /* the dataset makes its class names ("0", "1", ...) on first use and
     * keeps them: make them now, not in the first analysis */
    for (int32_t c = 0; c < 3; c++) barlow_dataset_class_name(in.ds, c);
}

int main(void)
{
    bw_alloc_fail_set(0, 0); /* counting starts before the library allocates */
    tmp_dir_create("alloc-fail");
    make_inputs();
    make_data();
    as_out = in.out;
    as_dir = tmpdir;
    as_keep = "inputs";
    as_header();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) as_check(&ops[i]);
    barlow_matrix_free(in.x);
    barlow_dataset_free(in.ds);
    free((char *)in.csv);
    free((char *)in.names);
    free((char *)in.png);
    free((char *)in.jpeg);
    free((char *)in.out);
    TAP_OK(bw_alloc_live() == 0, "every block freed at the end (live %ld)", bw_alloc_live());
    tmp_dir_remove();
    return tap_done();
}
