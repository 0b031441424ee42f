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

static const size_t ALL[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/* ---- a result's fingerprint ------------------------------------------------- */

typedef struct fp {
    char *s;
    size_t len, cap;
} fp;

static void fp_add(fp *f, const char *fmt, ...) BW_PRINTF(2, 3);
static void fp_add(fp *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (f->len + (size_t)n + 1 > f->cap) {
        f->cap = 2 * (f->len + (size_t)n + 1);
        f->s = realloc(f->s, f->cap); /* the test's memory: not counted */
        if (!f->s) abort();
    }
    va_start(ap, fmt);
    vsnprintf(f->s + f->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    f->len += (size_t)n;
}

static void fp_bytes(fp *f, const void *data, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)data)[i]) * 1099511628211ull;
    fp_add(f, "[%zu bytes %016llx]", n, (unsigned long long)h);
}

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

typedef struct op {
    const char *name;
    barlow_status (*run)(void);
    void (*print)(fp *f);
    void (*release)(void);
    bool writes; /* run() writes in.out */
} op;

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
static void file_print(fp *f)
{
    FILE *in_f = fopen(in.out, "rb");
    if (!in_f) {
        fp_add(f, "[no file]");
        return;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, in_f);
    fclose(in_f);
    fp_bytes(f, buf, n);
}

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

/* ---- the sweep (as tests/test_alloc_fail.c) ---------------------------------------- */

typedef struct figures {
    long sites, tolerated, wrong, leaks, leftovers, bad_result;
} figures;

static int leftover_files(bool complete)
{
    DIR *d = opendir(tmpdir);
    if (!d) return 1;
    int bad = 0;
    const char *base = strrchr(in.out, '/') + 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."))) continue;
        if (strcmp(e->d_name, base) != 0 || !complete) bad++;
    }
    closedir(d);
    return bad;
}

static long run_once(const op *o, long n, bool forever, barlow_status *st, fp *out,
                     figures *fg)
{
    remove(in.out);
    long live = bw_alloc_live();
    bw_alloc_fail_set(n, forever);
    bw_clear_error();
    *st = o->run();
    long count = bw_alloc_count();
    bw_alloc_fail_set(0, 0);
    bool message = barlow_last_error()[0] != '\0';
    if (*st == BARLOW_OK) o->print(out);
    o->release();
    bool wrong = (*st != BARLOW_OK && *st != BARLOW_E_NOMEM) || (*st != BARLOW_OK && !message);
    bool leak = bw_alloc_live() != live;
    bool left = o->writes && leftover_files(*st == BARLOW_OK);
    fg->wrong += wrong;
    fg->leaks += leak;
    fg->leftovers += left;
    if ((wrong || leak || left) && getenv("ALLOC_FAIL_VERBOSE"))
        printf("# %s n=%ld forever=%d: status %d, leak %d, left %d (%s)\n", o->name, n,
               forever, *st, leak, left, barlow_last_error());
    return count;
}

static void sweep(const op *o, bool forever, const char *want)
{
    figures fg = {0};
    long n = 1;
    for (;; n++) {
        barlow_status st;
        fp got = {0};
        long count = run_once(o, n, forever, &st, &got, &fg);
        if (st == BARLOW_OK && (!got.s || strcmp(got.s, want) != 0)) {
            fg.bad_result++;
            if (getenv("ALLOC_FAIL_VERBOSE"))
                printf("# %s n=%ld forever=%d: OK, a wrong result: %s\n#   want %s\n", o->name,
                       n, forever, got.s ? got.s : "-", want);
        }
        if (st == BARLOW_OK && count >= n) fg.tolerated++;
        free(got.s);
        if (count < n || n > 100000) break;
    }
    fg.sites = n - 1;
    bool clean = fg.wrong == 0 && fg.leaks == 0 && fg.leftovers == 0 && fg.bad_result == 0 &&
                 n <= 100000;
    TAP_OK(clean,
           "%s, fail-%s: %ld allocation sites; wrong status %ld, leaks %ld, leftover files "
           "%ld, wrong results %ld",
           o->name, forever ? "forever" : "once", fg.sites, fg.wrong, fg.leaks, fg.leftovers,
           fg.bad_result);
    printf("# | %s | fail-%s | %ld | 0 | %ld | %ld | %ld | %ld | %ld |\n", o->name,
           forever ? "forever" : "once", fg.sites, fg.leaks, fg.wrong, fg.leftovers,
           fg.bad_result, fg.tolerated);
}

static void check_op(const op *o)
{
    barlow_status st;
    fp want = {0};
    figures fg = {0};
    run_once(o, 0, false, &st, &want, &fg);
    TAP_OK(st == BARLOW_OK && fg.leaks == 0 && fg.leftovers == 0, "%s: unfailed run (%d %s)",
           o->name, st, barlow_last_error());
    if (st == BARLOW_OK) {
        sweep(o, false, want.s);
        sweep(o, true, want.s);
    }
    free(want.s);
}

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
    double best = -1.0;
    for (size_t j = 0; j < barlow_matrix_cols(X); j++) {
        double s = 0.0;
        for (size_t i = 0; i < barlow_matrix_rows(X); i++) s += barlow_matrix_row(X, i)[j];
        if (s > best) {
            best = s;
            in.feat = j;
        }
    }
    barlow_visualizer_options vo;
    barlow_visualizer_options_init(&vo);
    vo.k = 3;
    vo.least = 1;
    vo.attack_steps = 2;
    if (barlow_visualizer_create(in.ex, in.ds, X, barlow_extraction_index(in.r),
                                 barlow_extraction_count(in.r), &vo, &in.v) ||
        barlow_visualizer_set_logits(in.v, barlow_extraction_logits(in.r)))
        exit(1);
    printf("# | operation | mode | allocation sites | crashes | leaks | wrong status | "
           "leftover files | wrong results | OK despite a failure |\n");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) check_op(&ops[i]);
    barlow_visualizer_free(in.v);
    barlow_extraction_free(in.r);
    barlow_dataset_free(in.ds);
    barlow_extractor_free(in.ex);
    TAP_OK(bw_alloc_live() == 0, "every block freed at the end (live %ld)", bw_alloc_live());
    tmp_dir_remove();
    return tap_done();
}
