/* Cancellation at every progress point of the long operations that need
 * libtorch (white-box: bw_alloc_live, lib/alloc.c): the extractor's
 * barlow_extractor_extract, _extract_range, _predict, _predict_range and
 * the visualizer's barlow_visualizer_attack and _view, on the tiny models
 * of tools/make_test_models.py. As tests/test_cancel.c does for the
 * analysis: each operation runs once uncancelled (its progress calls
 * counted and its result fingerprinted), then with its callback returning
 * non-zero on the 1st, 2nd, ... call, up to one past the last. A cancelled
 * run must return CANCELLED with a message, leave *out untouched, the
 * caller's buffers untouched (filled with a pattern), the dataset's
 * predictions unchanged (predict), free every block it allocated and leave
 * no file; a run the callback did not stop must equal the uncancelled run.
 * The figures are TAP diagnostics (docs/reliability.md, "Cancellation").
 * Skipped without libtorch. */
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
#include "cancel_check.h"

#define PER (3 * 32 * 32)

static const size_t ALL[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static struct {
    barlow_extractor *ex2; /* batch 2: 4 progress points over 8 rows */
    barlow_extractor *ex1; /* batch 1, 2 decode workers: 8 points */
    barlow_dataset *ds;    /* meta.csv with 5 classes (as many as the logits) */
    int32_t preds0[8];     /* its predictions as loaded */
    barlow_extraction *r;
    barlow_visualizer *v;  /* 4 attack steps */
    barlow_visualizer *vv; /* k 3, least, 3 attack steps, logits */
    size_t feat;
} in;

/* ---- fingerprints (FNV-1a of the bytes, as text) ------------------------------ */

typedef struct fp {
    char s[4096];
    size_t len;
} fp;

static void fp_bytes(fp *f, const void *data, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)data)[i]) * 1099511628211ull;
    if (f->len + 40 < sizeof f->s)
        f->len += (size_t)snprintf(f->s + f->len, sizeof f->s - f->len, "[%zu %016llx]", n,
                                   (unsigned long long)h);
}

static void fp_extraction(fp *f, const barlow_extraction *r)
{
    size_t m = barlow_extraction_count(r);
    const barlow_matrix *F = barlow_extraction_features(r), *L = barlow_extraction_logits(r);
    if (F) fp_bytes(f, barlow_matrix_data(F), m * barlow_matrix_cols(F) * sizeof(float));
    if (L) fp_bytes(f, barlow_matrix_data(L), m * barlow_matrix_cols(L) * sizeof(float));
    fp_bytes(f, barlow_extraction_index(r), m * sizeof(size_t));
    size_t b = 0, e = 0;
    barlow_extraction_range(r, &b, &e);
    for (size_t i = b; i < e; i++) {
        int32_t s = barlow_extraction_row_status(r, i);
        fp_bytes(f, &s, sizeof s);
    }
}

/* ---- the operations ------------------------------------------------------------- */

/* What one run gives back: the result handle (kept until release) and the
 * caller buffers, filled with a pattern before the run. */
static barlow_extraction *res_ext;
static barlow_feature_view *res_view;
static float att_img[3 * PER], att_b[3], att_a[3], att_d[3];

#define PAT 0xA5
static int kept(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != PAT) return 0;
    return 1;
}

typedef struct op {
    const char *name;
    barlow_status (*run)(counter *c, int sentinel);
    void (*print)(fp *f);      /* fingerprint of an OK run */
    int (*untouched)(void);    /* outputs as before the run */
    void (*release)(void);
} op;

static void *const SENT = (void *)(uintptr_t)0x5e17e1;

static barlow_status extract_all(counter *c, int s)
{
    res_ext = s ? SENT : NULL;
    return barlow_extractor_extract(in.ex2, in.ds, on_progress, c, &res_ext);
}
static barlow_status extract_b1(counter *c, int s)
{
    res_ext = s ? SENT : NULL;
    return barlow_extractor_extract(in.ex1, in.ds, on_progress, c, &res_ext);
}
static barlow_status extract_range(counter *c, int s)
{
    res_ext = s ? SENT : NULL;
    return barlow_extractor_extract_range(in.ex2, in.ds, 2, 8, on_progress, c, &res_ext);
}
/* predict starts from the predictions as loaded */
static barlow_status predict_all(counter *c, int s)
{
    res_ext = s ? SENT : NULL;
    return barlow_extractor_predict(in.ex2, in.ds, on_progress, c, &res_ext);
}
static barlow_status predict_range(counter *c, int s)
{
    res_ext = s ? SENT : NULL;
    return barlow_extractor_predict_range(in.ex2, in.ds, 0, 6, on_progress, c, &res_ext);
}
static void ext_print(fp *f) { fp_extraction(f, res_ext); }
static void pred_print(fp *f)
{
    fp_extraction(f, res_ext);
    fp_bytes(f, barlow_dataset_predictions(in.ds), sizeof in.preds0);
}
static int ext_untouched(void) { return res_ext == SENT; }
static int pred_untouched(void)
{
    return res_ext == SENT && !memcmp(barlow_dataset_predictions(in.ds), in.preds0,
                                      sizeof in.preds0);
}
static void ext_release(void)
{
    if (res_ext != SENT) barlow_extraction_free(res_ext);
    res_ext = NULL;
    barlow_dataset_set_predictions(in.ds, in.preds0, 8); /* as loaded, for the next run */
}

static barlow_status attack(counter *c, int s)
{
    (void)s;
    const size_t rows[3] = {0, 3, 5};
    memset(att_img, PAT, sizeof att_img);
    memset(att_b, PAT, sizeof att_b);
    memset(att_a, PAT, sizeof att_a);
    memset(att_d, PAT, sizeof att_d);
    return barlow_visualizer_attack(in.v, in.feat, rows, 3, on_progress, c, att_img, att_b,
                                    att_a, att_d);
}
static void attack_print(fp *f)
{
    fp_bytes(f, att_img, sizeof att_img);
    fp_bytes(f, att_b, sizeof att_b);
    fp_bytes(f, att_a, sizeof att_a);
    fp_bytes(f, att_d, sizeof att_d);
}
static int attack_untouched(void)
{
    return kept(att_img, sizeof att_img) && kept(att_b, sizeof att_b) &&
           kept(att_a, sizeof att_a) && kept(att_d, sizeof att_d);
}
static void no_release(void) {}

static barlow_status view(counter *c, int s)
{
    res_view = s ? SENT : NULL;
    return barlow_visualizer_view(in.vv, in.feat, ALL, 8, "cancel", on_progress, c, &res_view);
}
static void view_print(fp *f)
{
    const barlow_image *p = barlow_feature_view_panel(res_view);
    fp_bytes(f, barlow_image_data(p), barlow_image_width(p) * barlow_image_height(p) * 3);
    fp_bytes(f, barlow_feature_view_attacks(res_view), 3 * PER * sizeof(float));
}
static int view_untouched(void) { return res_view == SENT; }
static void view_release(void)
{
    if (res_view != SENT) barlow_feature_view_free(res_view);
    res_view = NULL;
}

static const op ops[] = {
    {"`barlow_extractor_extract` (8 rows, batch 2)", extract_all, ext_print, ext_untouched,
     ext_release},
    {"`barlow_extractor_extract` (batch 1, 2 decode workers)", extract_b1, ext_print,
     ext_untouched, ext_release},
    {"`barlow_extractor_extract_range` (rows 2..7, batch 2)", extract_range, ext_print,
     ext_untouched, ext_release},
    {"`barlow_extractor_predict` (batch 2)", predict_all, pred_print, pred_untouched,
     ext_release},
    {"`barlow_extractor_predict_range` (rows 0..5, batch 2)", predict_range, pred_print,
     pred_untouched, ext_release},
    {"`barlow_visualizer_attack` (3 images, 4 steps)", attack, attack_print, attack_untouched,
     no_release},
    {"`barlow_visualizer_view` (k 3, least, 3 attack steps)", view, view_print, view_untouched,
     view_release},
};

/* ---- the sweep ---------------------------------------------------------------- */

static void cancel_at(const op *o, size_t k, const char *want, tally *t)
{
    counter c = {0, k, 0, 0};
    long live = bw_alloc_live();
    bw_clear_error();
    barlow_status st = o->run(&c, 1);
    if (c.calls < k) { /* not asked to stop: the plain run's result */
        fp got = {{0}, 0};
        if (st == BARLOW_OK) o->print(&got);
        TAP_OK(st == BARLOW_OK && !strcmp(got.s, want),
               "%s: a run not cancelled (%zu calls, stop at %zu) equals the plain run", o->name,
               c.calls, k);
        o->release();
        return;
    }
    bool said = cc_said_cancelled();
    bool touched = !o->untouched();
    o->release();
    cc_judge(t, o->name, k, &c, st, said, touched, live);
}

static void check_op(const op *o, size_t *all_points, size_t *all_clean)
{
    counter c = {0, 0, 0, 0};
    barlow_status st = o->run(&c, 0);
    fp want = {{0}, 0};
    if (st == BARLOW_OK) o->print(&want);
    o->release();
    TAP_OK(st == BARLOW_OK && c.calls > 0, "%s: plain run, %zu progress calls (%s)", o->name,
           c.calls, barlow_last_error());
    if (st != BARLOW_OK) return;
    tally t = {0};
    t.points = c.calls;
    for (size_t k = 1; k <= t.points + 1; k++) cancel_at(o, k, want.s, &t);
    TAP_OK(t.cancels == t.points && t.clean == t.cancels,
           "%s: cancelled at each of its %zu progress points: clean %zu/%zu; wrong status "
           "%zu, no message %zu, output touched %zu, leaks %zu, files left %zu",
           o->name, t.points, t.clean, t.cancels, t.wrong, t.no_msg, t.touched, t.leaks,
           t.files);
    printf("# | %s | %zu | %zu/%zu |\n", o->name, t.points, t.clean, t.cancels);
    *all_points += t.points;
    *all_clean += t.clean;
}

int main(void)
{
    bw_alloc_fail_set(0, 0); /* counting starts before the library allocates */
    tf_start();
    tmp_dir_create("cancel-torch");
    uint32_t both = BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS;
    in.ex2 = tf_extractor("tiny_cnn.pt", 32, 3, both, 2);
    {
        barlow_extractor_options o;
        barlow_extractor_options_init(&o);
        o.input_size = o.resize = 32;
        o.threads = 1;
        o.decode_threads = 2;
        o.batch_size = 1;
        o.outputs = both;
        if (barlow_extractor_create_from_file(tf_path("tiny_cnn.pt"), &o, &in.ex1)) exit(1);
    }
    in.ds = tf_meta(NULL, 1);
    for (int32_t c = 0; c < 5; c++) barlow_dataset_class_name(in.ds, c); /* made on first use */
    memcpy(in.preds0, barlow_dataset_predictions(in.ds), sizeof in.preds0);
    if (barlow_extractor_extract(in.ex2, in.ds, NULL, NULL, &in.r)) exit(1);
    const barlow_matrix *X = barlow_extraction_features(in.r);
    in.feat = tf_busiest_feature(X);
    barlow_visualizer_options vo;
    barlow_visualizer_options_init(&vo);
    vo.attack_steps = 4;
    if (barlow_visualizer_create(in.ex2, in.ds, X, barlow_extraction_index(in.r),
                                 barlow_extraction_count(in.r), &vo, &in.v))
        exit(1);
    vo.attack_steps = 3;
    vo.k = 3;
    vo.least = 1;
    if (barlow_visualizer_create(in.ex2, in.ds, X, barlow_extraction_index(in.r),
                                 barlow_extraction_count(in.r), &vo, &in.vv) ||
        barlow_visualizer_set_logits(in.vv, barlow_extraction_logits(in.r)))
        exit(1);
    if (chdir(tmpdir) != 0) TAP_SKIP_ALL("cannot enter the scratch directory");

    {
        /* predict changes the predictions (else "unchanged" would prove nothing) */
        barlow_status st = barlow_extractor_predict(in.ex2, in.ds, NULL, NULL, NULL);
        TAP_OK(st == BARLOW_OK && memcmp(barlow_dataset_predictions(in.ds), in.preds0,
                                         sizeof in.preds0) != 0,
               "an uncancelled predict changes the dataset's predictions (%s)",
               barlow_last_error());
        barlow_dataset_set_predictions(in.ds, in.preds0, 8);
    }
    printf("# | operation | progress points | clean cancels |\n");
    size_t points = 0, clean = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) check_op(&ops[i], &points, &clean);
    printf("# %zu operations, %zu cancel points, %zu clean\n", sizeof ops / sizeof ops[0],
           points, clean);
    barlow_visualizer_free(in.v);
    barlow_visualizer_free(in.vv);
    barlow_extraction_free(in.r);
    barlow_dataset_free(in.ds);
    barlow_extractor_free(in.ex1);
    barlow_extractor_free(in.ex2);
    TAP_OK(bw_alloc_live() == 0, "every block freed at the end (live %ld)", bw_alloc_live());
    if (chdir("/") != 0) printf("# cannot leave the scratch directory\n");
    tmp_dir_remove();
    return tap_done();
}
