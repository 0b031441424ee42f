/* Concurrency: 8 threads, each with its own handles (selector, tree,
 * analysis) over one shared const matrix and dataset, give results
 * identical to one thread; and handles the headers call safe to share (a
 * selector, a fitted tree, an analysis, a matrix, a dataset) used by 8
 * threads at once give the same results too. Run under ThreadSanitizer by
 * scripts/sanitize --thread (docs/reliability.md). Public API only. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <barlow/barlow.h>

#include "tap.h"

enum { N = 400, D = 24, K = 4, T = 8, TOP = 5 };

static float X[N * D];
static int32_t labels[N], preds[N];
static uint8_t fails[N];

static void make_data(void)
{
    uint64_t s = 99;
    for (size_t i = 0; i < (size_t)N * D; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        X[i] = (float)((s >> 40) & 0xffff) / 65536.0f;
    }
    for (int i = 0; i < N; i++) {
        labels[i] = i % K;
        int fail = X[(size_t)i * D + 3] > 0.7f || (i % 17) == 0;
        preds[i] = fail ? (labels[i] + 1) % K : labels[i];
        fails[i] = (uint8_t)fail;
    }
}

/* What one thread computes, from scratch or with shared handles. */
typedef struct result {
    double scores[D];
    size_t top[TOP];
    size_t leaves[N];
    barlow_buffer tree_json, analysis_json;
    barlow_status st;
} result;

typedef struct shared {
    const barlow_matrix *X;
    const barlow_dataset *ds;
    const barlow_selector *sel;  /* NULL: each thread makes its own */
    const barlow_tree *tree;     /* NULL: each thread fits its own */
    const barlow_analysis *an;   /* NULL: each thread analyses */
} shared;

typedef struct job {
    const shared *sh;
    result r;
} job;

static barlow_status own_selector(barlow_selector **out)
{
    barlow_selector_options o;
    barlow_selector_options_init(&o);
    o.threads = 1;
    return barlow_selector_create(&o, out);
}

static barlow_status fit(const barlow_matrix *features, const size_t *cols, barlow_tree **out)
{
    barlow_tree_options o;
    barlow_tree_options_init(&o);
    o.max_depth = 2;
    return barlow_tree_fit(features, fails, cols, TOP, &o, out);
}

static barlow_status analyse(const shared *sh, barlow_analysis **out)
{
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = TOP;
    o.threads = 1;
    return barlow_analysis_run(sh->X, sh->ds, &o, NULL, NULL, out);
}

static void *work(void *arg)
{
    job *j = arg;
    const shared *sh = j->sh;
    barlow_selector *sel = NULL;
    barlow_tree *tree = NULL;
    barlow_analysis *an = NULL;
    barlow_status st = sh->sel ? BARLOW_OK : own_selector(&sel);
    if (!st) st = barlow_selector_top_k(sh->sel ? sh->sel : sel, sh->X, fails, TOP, j->r.top,
                                        j->r.scores);
    if (!st && !sh->tree) st = fit(sh->X, j->r.top, &tree);
    const barlow_tree *t = sh->tree ? sh->tree : tree;
    if (!st) st = barlow_tree_apply(t, sh->X, j->r.leaves);
    if (!st) st = barlow_tree_to_json(t, NULL, NULL, &j->r.tree_json);
    if (!st && !sh->an) st = analyse(sh, &an);
    if (!st) st = barlow_analysis_to_json(sh->an ? sh->an : an, &j->r.analysis_json);
    j->r.st = st;
    barlow_analysis_free(an);
    barlow_tree_free(tree);
    barlow_selector_free(sel);
    return NULL;
}

static int same(const result *a, const result *b)
{
    return a->st == BARLOW_OK && b->st == BARLOW_OK &&
           !memcmp(a->scores, b->scores, sizeof a->scores) &&
           !memcmp(a->top, b->top, sizeof a->top) &&
           !memcmp(a->leaves, b->leaves, sizeof a->leaves) &&
           a->tree_json.size == b->tree_json.size &&
           !memcmp(a->tree_json.data, b->tree_json.data, a->tree_json.size) &&
           a->analysis_json.size == b->analysis_json.size &&
           !memcmp(a->analysis_json.data, b->analysis_json.data, a->analysis_json.size);
}

static void release(result *r)
{
    barlow_buffer_free(&r->tree_json);
    barlow_buffer_free(&r->analysis_json);
}

/* Runs work() on T threads at once with `sh`; counts those equal to ref. */
static size_t run_threads(const shared *sh, const result *ref)
{
    job jobs[T];
    pthread_t th[T];
    size_t ok = 0, started = 0;
    memset(jobs, 0, sizeof jobs);
    for (size_t i = 0; i < T; i++) {
        jobs[i].sh = sh;
        if (pthread_create(&th[i], NULL, work, &jobs[i]) == 0) started++;
        else break;
    }
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    for (size_t i = 0; i < started; i++) {
        ok += same(&jobs[i].r, ref);
        release(&jobs[i].r);
    }
    return ok;
}

int main(void)
{
    make_data();
    barlow_matrix *Xm = NULL;
    barlow_dataset *ds = NULL;
    barlow_selector *sel = NULL;
    barlow_tree *tree = NULL;
    barlow_analysis *an = NULL;
    int ok = barlow_matrix_wrap(X, N, D, 0, &Xm) == BARLOW_OK &&
             barlow_dataset_create(N, labels, preds, NULL, K, &ds) == BARLOW_OK;
    TAP_OK(ok, "inputs");
    shared own = {Xm, ds, NULL, NULL, NULL};
    job ref;
    memset(&ref, 0, sizeof ref);
    ref.sh = &own;
    work(&ref); /* one thread: the reference */
    TAP_OK(ref.r.st == BARLOW_OK, "one thread: selection, tree, analysis (%s)",
           barlow_last_error());

    size_t n = run_threads(&own, &ref.r);
    TAP_OK(n == T, "%d threads, each with its own selector, tree and analysis: %zu of %d "
                   "identical to one thread", T, n, T);

    ok = own_selector(&sel) == BARLOW_OK && fit(Xm, ref.r.top, &tree) == BARLOW_OK &&
         analyse(&own, &an) == BARLOW_OK;
    TAP_OK(ok, "shared handles made");
    shared sh = {Xm, ds, sel, tree, an};
    n = run_threads(&sh, &ref.r);
    TAP_OK(n == T, "%d threads sharing one selector, tree, analysis, matrix and dataset: %zu "
                   "of %d identical to one thread", T, n, T);
    n = run_threads(&sh, &ref.r); /* the selector's cache is filled now */
    TAP_OK(n == T, "again, with the selector's noise cached: %zu of %d identical", n, T);

    release(&ref.r);
    barlow_analysis_free(an);
    barlow_tree_free(tree);
    barlow_selector_free(sel);
    barlow_dataset_free(ds);
    barlow_matrix_free(Xm);
    return tap_done();
}
