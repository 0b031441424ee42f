/* Cancellation at every progress point (white-box: bw_alloc_live,
 * lib/alloc.c). Each long operation that takes a barlow_progress_fn and
 * does not need libtorch is run with its callback returning non-zero on
 * the 1st, 2nd, ... call, until a run completes without being asked to
 * stop. Every cancelled run must return CANCELLED with a message, leave
 * the output pointer untouched, free everything it allocated and leave no
 * file behind; the run that is not cancelled must equal the uncancelled
 * run. The figures are TAP diagnostics (docs/reliability.md,
 * "Cancellation"). The extractor's and the visualizer's operations need
 * libtorch and are not run here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "tap.h"
#include "tmpdir.h"
#include "cancel_check.h"

static struct {
    barlow_matrix *x; /* 240 x 8 */
    barlow_dataset *ds;
} in;

static void make_inputs(void)
{
    static float x[240 * 8];
    int32_t labels[240], preds[240];
    uint64_t r = 3;
    for (size_t i = 0; i < 240; i++) {
        labels[i] = (int32_t)(i % 4);
        bool fail = i % 5 == 0 || i % 11 == 3;
        preds[i] = fail ? (int32_t)((i + 1) % 4) : labels[i];
        for (size_t j = 0; j < 8; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[i * 8 + j] = (float)(r >> 40) / 16777216.0f + (j == 1 && fail ? 0.5f : 0.0f);
        }
    }
    if (barlow_matrix_create_copy(x, 240, 8, 0, &in.x) ||
        barlow_dataset_create(240, labels, preds, NULL, 4, &in.ds))
        TAP_SKIP_ALL("cannot create the inputs");
    for (int32_t c = 0; c < 4; c++) barlow_dataset_class_name(in.ds, c); /* made on first use */
}

/* ---- the operations ------------------------------------------------------------- */

typedef struct op {
    const char *name;
    size_t threads, first, count; /* count 0: barlow_analysis_run */
} op;

static const op ops[] = {
    {"barlow_analysis_run, 1 thread", 1, 0, 0},
    {"barlow_analysis_run, 2 threads", 2, 0, 0},
    {"barlow_analysis_run_groups (groups 2..6), 1 thread", 1, 2, 5},
    {"barlow_analysis_run_groups (groups 2..6), 2 threads", 2, 2, 5},
};

static barlow_status run_op(const op *o, counter *c, barlow_analysis **out)
{
    barlow_analysis_options opts;
    barlow_analysis_options_init(&opts);
    opts.k = 3;
    opts.threads = o->threads;
    if (o->count == 0) return barlow_analysis_run(in.x, in.ds, &opts, on_progress, c, out);
    return barlow_analysis_run_groups(in.x, in.ds, &opts, o->first, o->count, on_progress, c, out);
}

/* The analysis' JSON (malloc'd by the test), to compare runs. */
static char *json_of(const barlow_analysis *a)
{
    barlow_buffer b = {NULL, 0};
    if (barlow_analysis_to_json(a, &b) != BARLOW_OK) return NULL;
    char *s = strdup(b.data);
    barlow_buffer_free(&b);
    return s;
}

/* One run that cancels on call k (if it comes). */
static void cancel_at(const op *o, size_t k, const char *want, tally *t)
{
    static char sentinel;
    barlow_analysis *out = (barlow_analysis *)&sentinel;
    counter c = {0, k, 0, 0};
    long live = bw_alloc_live();
    bw_clear_error();
    barlow_status st = run_op(o, &c, &out);
    bool cancelled = c.calls >= k;
    if (!cancelled) {
        char *got = st == BARLOW_OK ? json_of(out) : NULL;
        TAP_OK(st == BARLOW_OK && got && !strcmp(got, want),
               "%s: a run not cancelled (%zu calls, stop at %zu) equals the plain run", o->name,
               c.calls, k);
        free(got);
        if (st == BARLOW_OK) barlow_analysis_free(out);
        return;
    }
    bool said = cc_said_cancelled();
    bool touched = out != (barlow_analysis *)&sentinel;
    if (touched && st == BARLOW_OK) barlow_analysis_free(out);
    cc_judge(t, o->name, k, &c, st, said, touched, live);
}

static void check_op(const op *o)
{
    counter c = {0, 0, 0, 0};
    barlow_analysis *a = NULL;
    barlow_status st = run_op(o, &c, &a);
    char *want = st == BARLOW_OK ? json_of(a) : NULL;
    barlow_analysis_free(a);
    TAP_OK(st == BARLOW_OK && want && c.calls > 0, "%s: plain run, %zu progress calls (%d %s)",
           o->name, c.calls, st, barlow_last_error());
    if (!want) return;
    /* At most one call per item done (total); with 2 threads a call may
     * cover several items, so a run may end before call k: then it must
     * equal the plain run. Call total + 1 never comes. */
    tally t = {0};
    t.points = c.last_total;
    for (size_t k = 1; k <= t.points + 1; k++) cancel_at(o, k, want, &t);
    free(want);
    TAP_OK(t.cancels > 0 && t.clean == t.cancels,
           "%s: cancelled at each of up to %zu progress points (%zu reached): clean %zu/%zu; "
           "wrong status %zu, no message %zu, output touched %zu, leaks %zu, files left %zu",
           o->name, t.points, t.cancels, t.clean, t.cancels, t.wrong, t.no_msg, t.touched,
           t.leaks, t.files);
    printf("# | %s | %zu | %zu | %zu/%zu |\n", o->name, t.points, t.cancels, t.clean,
           t.cancels);
}

int main(void)
{
    bw_alloc_fail_set(0, 0); /* counting starts before the library allocates */
    tmp_dir_create("cancel");
    if (chdir(tmpdir) != 0) TAP_SKIP_ALL("cannot enter the scratch directory");
    make_inputs();
    printf("# | operation | progress points | reached | clean cancels |\n");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) check_op(&ops[i]);
    barlow_matrix_free(in.x);
    barlow_dataset_free(in.ds);
    TAP_OK(bw_alloc_live() == 0, "every block freed at the end (live %ld)", bw_alloc_live());
    if (chdir("/") != 0) printf("# cannot leave the scratch directory\n");
    tmp_dir_remove();
    return tap_done();
}
