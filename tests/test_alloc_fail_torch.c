/* Allocation failures in the visualizer's panels (white-box:
 * bw_alloc_fail_set, lib/alloc.c), as tests/test_alloc_fail.c does for the
 * rest of the library: each operation is run with its 1st, 2nd, ...
 * library allocation failing, once (only the Nth) and forever (the Nth and
 * every later one), until it completes without reaching N. Every run must
 * return OK or NOMEM (NOMEM with a message), give on OK the result of the
 * unfailed run, free every block it allocated and leave in its output
 * directory the complete file or nothing. Only libbarlow's own allocations
 * are hooked: libtorch's (tensors, the model) and libjpeg-turbo's are not,
 * so a failure inside the forward pass is not simulated here (see
 * tests/python/test_oom.py for libtorch under an address-space limit).
 * The figures per operation are TAP diagnostics (docs/reliability.md,
 * "Allocation failures"). Skipped without libtorch. */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "tap.h"
#include "tmpdir.h"
#include "torch_fixture.h"
#include "alloc_sweep.h"

static const size_t ALL[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/* ---- a result's fingerprint ------------------------------------------------- */

static void fp_image(fp *f, const barlow_image *im)
{
    fp_add(f, "%zux%zux%zu", barlow_image_width(im), barlow_image_height(im),
           barlow_image_channels(im));
    fp_bytes(f, barlow_image_data(im),
             barlow_image_width(im) * barlow_image_height(im) * barlow_image_channels(im));
}

/* ---- inputs and operations ------------------------------------------------------ */

static struct {
    barlow_extractor *ex;
    barlow_dataset *ds;
    barlow_extraction *r;
    barlow_visualizer *v; /* k 3, least, 2 attack steps, logits */
    size_t feat;
    char out[600];        /* the output file */
} in;

static barlow_feature_view *fv;
static barlow_status view_run(void)
{
    return barlow_visualizer_view(in.v, in.feat, ALL, 8, "rows: all of meta.csv", NULL, NULL,
                                  &fv);
}
static void view_print(fp *f)
{
    static const barlow_view_row rows[4] = {BARLOW_VIEW_TOP, BARLOW_VIEW_LEAST,
                                            BARLOW_VIEW_HEATMAP, BARLOW_VIEW_ATTACK};
    for (int r = 0; r < 4; r++)
        for (size_t i = 0; i < barlow_feature_view_count(fv, rows[r]); i++) {
            barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
            barlow_feature_view_tile(fv, rows[r], i, &t);
            fp_add(f, "%zu,%a,%a,%a,%a;", t.row, (double)t.value, (double)t.attacked_value,
                   (double)t.distance, (double)t.map_max);
            fp_image(f, barlow_feature_view_tile_image(fv, rows[r], i));
        }
    size_t h = 0, w = 0, k = barlow_feature_view_count(fv, BARLOW_VIEW_TOP);
    const float *maps = barlow_feature_view_maps(fv, &h, &w);
    fp_bytes(f, maps, k * h * w * sizeof *maps);
    fp_bytes(f, barlow_feature_view_inputs(fv), k * 3 * 32 * 32 * sizeof(float));
    fp_bytes(f, barlow_feature_view_attacks(fv), k * 3 * 32 * 32 * sizeof(float));
    fp_image(f, barlow_feature_view_panel(fv));
}
static void view_release(void)
{
    barlow_feature_view_free(fv);
    fv = NULL;
}

static barlow_status view_save_run(void)
{
    barlow_status st = view_run();
    if (st == BARLOW_OK) st = barlow_image_save_png(barlow_feature_view_panel(fv), in.out);
    return st;
}
static void file_print(fp *f) { fp_file(f, in.out); }

static barlow_image *panel;
static barlow_status failure_panel_run(void)
{
    return barlow_visualizer_failure_panel(in.v, ALL, 8, "feature 7 <= 0.1: 50% -> 100%",
                                           &panel);
}
static void panel_print(fp *f) { fp_image(f, panel); }
static void panel_release(void)
{
    barlow_image_free(panel);
    panel = NULL;
}

/* The pieces: a new visualizer, rank, maps, attack, samples. */
static size_t pc_rows[6], pc_n, pc_samples[6], pc_ns;
static float pc_vals[6], pc_maps[6 * 256], pc_img[2 * 3 * 32 * 32], pc_after[2], pc_dist[2];
static barlow_status pieces_run(void)
{
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.attack_steps = 2;
    barlow_visualizer *v = NULL;
    barlow_status st = barlow_visualizer_create(in.ex, in.ds, barlow_extraction_features(in.r),
                                                barlow_extraction_index(in.r),
                                                barlow_extraction_count(in.r), &o, &v);
    if (!st) st = barlow_visualizer_rank(v, in.feat, ALL, 8, 0, 6, pc_rows, pc_vals, &pc_n, NULL);
    if (!st) st = barlow_visualizer_maps(v, in.feat, pc_rows, pc_n, pc_maps);
    if (!st)
        st = barlow_visualizer_attack(v, in.feat, pc_rows, 2, NULL, NULL, pc_img, NULL, pc_after,
                                      pc_dist);
    if (!st) st = barlow_visualizer_failure_samples(v, ALL, 8, 3, pc_samples, &pc_ns);
    barlow_visualizer_free(v);
    return st;
}
static void pieces_print(fp *f)
{
    fp_bytes(f, pc_rows, pc_n * sizeof *pc_rows);
    fp_bytes(f, pc_vals, pc_n * sizeof *pc_vals);
    fp_bytes(f, pc_maps, pc_n * 256 * sizeof *pc_maps);
    fp_bytes(f, pc_img, sizeof pc_img);
    fp_bytes(f, pc_after, sizeof pc_after);
    fp_bytes(f, pc_dist, sizeof pc_dist);
    fp_bytes(f, pc_samples, pc_ns * sizeof *pc_samples);
}
static void no_release(void) {}

static barlow_extraction *ext;
static barlow_status extract_run(void)
{
    return barlow_extractor_extract(in.ex, in.ds, NULL, NULL, &ext);
}
static void extract_print(fp *f)
{
    size_t m = barlow_extraction_count(ext);
    fp_bytes(f, barlow_matrix_data(barlow_extraction_features(ext)), m * 16 * sizeof(float));
    fp_bytes(f, barlow_extraction_index(ext), m * sizeof(size_t));
    for (size_t i = 0; i < 8; i++)
        fp_add(f, "%d %s,", (int)barlow_extraction_row_status(ext, i),
               barlow_extraction_row_reason(ext, i) ? barlow_extraction_row_reason(ext, i) : "");
}
static void extract_release(void)
{
    barlow_extraction_free(ext);
    ext = NULL;
}

static const op ops[] = {
    {"`barlow_visualizer_view` (k 3, least, 2 attack steps)", view_run, view_print,
     view_release, false},
    {"`barlow_visualizer_view` + `barlow_image_save_png` of its panel", view_save_run,
     file_print, view_release, true},
    {"`barlow_visualizer_failure_panel` (samples + most confident)", failure_panel_run,
     panel_print, panel_release, false},
    {"visualizer create, rank, maps, attack (2 steps), failure samples", pieces_run,
     pieces_print, no_release, false},
    {"`barlow_extractor_extract` (8 rows, batch 4, 1 decode worker)", extract_run,
     extract_print, extract_release, false},
};

int main(void)
{
    bw_alloc_fail_set(0, 0); /* counting starts before the library allocates */
    tf_start();
    tmp_dir_create("alloc-fail-torch");
    snprintf(in.out, sizeof in.out, "%s", tmp_path("panel.png"));
    in.ex = tf_extractor("tiny_cnn.pt", 32, 3, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS,
                         4);
    in.ds = tf_meta(NULL, 1);
    /* the dataset makes its class names on first use and keeps them: now */
    for (int32_t c = 0; c < 5; c++) barlow_dataset_class_name(in.ds, c);
    if (barlow_extractor_extract(in.ex, in.ds, NULL, NULL, &in.r)) exit(1);
    const barlow_matrix *X = barlow_extraction_features(in.r);
    in.feat = tf_busiest_feature(X);
    barlow_visualizer_options vo;
    barlow_visualizer_options_init(&vo);
    vo.k = 3;
    vo.least = 1;
    vo.attack_steps = 2;
    if (barlow_visualizer_create(in.ex, in.ds, X, barlow_extraction_index(in.r),
                                 barlow_extraction_count(in.r), &vo, &in.v) ||
        barlow_visualizer_set_logits(in.v, barlow_extraction_logits(in.r)))
        exit(1);
    as_out = in.out;
    as_dir = tmpdir;
    as_keep = NULL;
    as_header();
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) as_check(&ops[i]);
    barlow_visualizer_free(in.v);
    barlow_extraction_free(in.r);
    barlow_dataset_free(in.ds);
    barlow_extractor_free(in.ex);
    TAP_OK(bw_alloc_live() == 0, "every block freed at the end (live %ld)", bw_alloc_live());
    tmp_dir_remove();
    return tap_done();
}
