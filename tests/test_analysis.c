/* Tests of include/barlow/analysis.h (public API only): the whole-dataset
 * analysis against the selector and the tree run by hand, degenerate and
 * empty groups, thread-count invariance, progress and cancel, exports, and
 * every error path (status, message, untouched outputs). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <barlow/barlow.h>

#include "tap.h"

#define TAP_STATUS(expr, want, needle, ...)                                               \
    do {                                                                                  \
        barlow_status st_ = (expr);                                                       \
        const char *msg_ = barlow_last_error();                                           \
        TAP_OK(st_ == (want) && strstr(msg_, (needle)) != NULL, __VA_ARGS__);             \
        if (st_ != (want) || !strstr(msg_, (needle)))                                     \
            printf("#   status %d (want %d), message \"%s\" (want \"%s\")\n", (int)st_,   \
                   (int)(want), msg_, (needle));                                          \
    } while (0)

/* splitmix64 for reproducible synthetic data */
static uint64_t rng_state = 12345;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double uniform(void) { return (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0); }

enum { N = 600, D = 40, K = 5 };

/* Features: ReLU-like; labels cyclic; failures driven by column 7 (and a
 * little noise) for classes 0..2; class 3 never fails (label grouping);
 * class 4 is never predicted (every row labelled 4 is predicted 3, so it
 * always fails). */
static float X[N * D];
static int32_t labels[N], preds[N];
static const char *names[K] = {"tench", "goldfish, carassius", "say \"hi\"", "four", "five"};

static void make_data(void)
{
    for (size_t i = 0; i < (size_t)N * D; i++) {
        double v = uniform() * 2.0 - 0.6;
        X[i] = v > 0 ? (float)v : 0.0f;
    }
    for (int i = 0; i < N; i++) {
        labels[i] = i % K;
        int fail = X[(size_t)i * D + 7] > 0.8f || uniform() < 0.05;
        if (labels[i] == 3) fail = 0;
        if (labels[i] == 4) fail = 1;
        preds[i] = fail ? (labels[i] + 1) % K : labels[i];
        if (labels[i] == 4) preds[i] = 3;
        if (preds[i] == 4) preds[i] = 0; /* nothing is predicted 4 */
        if (labels[i] == 0 && preds[i] == 0 && fail) preds[i] = 1;
    }
}

static barlow_dataset *make_dataset(void)
{
    barlow_dataset *ds = NULL;
    if (barlow_dataset_create(N, labels, preds, names, K, &ds) != BARLOW_OK) return NULL;
    return ds;
}

static int count_cancel, wrong_thread;
static size_t last_done, last_total, calls;
static pthread_t caller;
static int on_progress(size_t done, size_t total, void *user)
{
    (void)user;
    calls++;
    if (!pthread_equal(pthread_self(), caller)) wrong_thread++;
    if (done < last_done) count_cancel = -1000; /* must not go back */
    last_done = done;
    last_total = total;
    return 0;
}
static int cancel_after_one(size_t done, size_t total, void *user)
{
    (void)total;
    int *n = user;
    (*n)++;
    return done >= 1;
}

/* Releases the text of json_of()/csv_of(): a barlow_buffer's data. */
static void text_free(char *s)
{
    barlow_buffer b = {s, 0};
    barlow_buffer_free(&b);
}

static char *json_of(const barlow_analysis *a)
{
    barlow_buffer b = {NULL, 0};
    if (barlow_analysis_to_json(a, &b) != BARLOW_OK) return NULL;
    return b.data;
}

/* The analysis of group i matches the selector and the tree run by hand on
 * the group's rows. */
static void check_against_manual(const barlow_analysis *a, const barlow_dataset *ds,
                                 const barlow_matrix *m, size_t i, size_t k)
{
    barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    TAP_OK(barlow_analysis_get_group(a, i, &g) == BARLOW_OK, "group %zu: get_group", i);
    barlow_group *grp = NULL;
    barlow_group_create(ds, g.grouping, g.class_id, &grp);
    size_t gs = barlow_group_size(grp), gf = 0;
    barlow_group_failure_count(grp, &gf);
    TAP_OK(g.size == gs && g.failures == gf, "group %zu: size %zu failures %zu as the dataset's",
           i, g.size, g.failures);
    TAP_OK(fabs(g.base_error_rate - (gs ? (double)gf / (double)gs : 0.0)) < 1e-15, "group %zu: BER", i);
    if (g.status != BARLOW_ANALYSIS_ANALYSED) {
        barlow_group_free(grp);
        return;
    }
    barlow_matrix *rows = NULL;
    barlow_group_gather_rows(grp, m, &rows);
    uint8_t *y = malloc(gs);
    barlow_group_failures(grp, y);
    barlow_selector *sel = NULL;
    barlow_selector_create(NULL, &sel);
    size_t top[64], got[64];
    double scores[D], got_scores[64];
    TAP_OK(barlow_selector_top_k(sel, rows, y, k, top, scores) == BARLOW_OK,
           "group %zu: selector by hand", i);
    TAP_OK(g.n_selected == k, "group %zu: %zu selected", i, g.n_selected);
    barlow_analysis_group_selection(a, i, got, got_scores);
    int same = 1;
    for (size_t t = 0; t < k; t++)
        same &= got[t] == top[t] && got_scores[t] == scores[top[t]];
    TAP_OK(same, "group %zu: the same top-%zu features and scores as barlow_selector_top_k", i,
           k);
    barlow_tree *t = NULL;
    barlow_tree_fit(rows, y, top, k, NULL, &t);
    barlow_buffer want = {NULL, 0}, have = {NULL, 0};
    barlow_tree_to_json(t, NULL, NULL, &want);
    barlow_tree_to_json(barlow_analysis_group_tree(a, i, 0), NULL, NULL, &have);
    TAP_OK(want.data && have.data && !strcmp(want.data, have.data),
           "group %zu: the same tree as barlow_tree_fit on the top-k columns", i);
    size_t leaves[64];
    barlow_tree_leaves_by_importance(t, leaves);
    barlow_tree_node nd = {.version = BARLOW_TREE_NODE_VERSION};
    barlow_tree_get_node(t, leaves[0], &nd);
    barlow_analysis_result r = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
    TAP_OK(barlow_analysis_get_result(a, i, 0, &r) == BARLOW_OK, "group %zu: get_result", i);
    TAP_OK(r.best_leaf == (int32_t)leaves[0] && r.best_error_rate == nd.error_rate &&
               r.best_error_coverage == nd.error_coverage && r.best_importance == nd.importance,
           "group %zu: best leaf %d is the tree's highest-IV leaf", i, (int)r.best_leaf);
    int valid = nd.error_rate >= g.base_error_rate + 0.1 - 1e-12 && nd.error_coverage >= 0.2 - 1e-12;
    TAP_OK(r.valid == valid, "group %zu: valid=%d follows ER >= BER + 0.1 and EC >= 0.2", i,
           (int)r.valid);
    barlow_buffer_free(&want);
    barlow_buffer_free(&have);
    barlow_tree_free(t);
    barlow_selector_free(sel);
    free(y);
    barlow_matrix_free(rows);
    barlow_group_free(grp);
}

static void test_defaults(void)
{
    barlow_analysis_options o;
    memset(&o, 0xff, sizeof o);
    barlow_analysis_options_init(&o);
    TAP_OK(o.version == BARLOW_ANALYSIS_OPTIONS_VERSION && o.groupings == BARLOW_ANALYSIS_BY_BOTH &&
               o.k == 20 && !o.tree && !o.depths && o.n_depths == 0 &&
               o.estimator == BARLOW_ESTIMATOR_KNN && o.n_neighbors == 3 && o.seed == 0 &&
               o.threads == 0 && !o.rules && o.delta == 0.1 && o.gamma == 0.2 &&
               o.min_group_size == 2,
           "options_init: documented defaults");
    barlow_analysis_options_init(NULL);
    TAP_OK(1, "options_init(NULL) is ignored");
}

static void test_run(barlow_matrix *m, barlow_dataset *ds)
{
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 5;
    o.threads = 1;
    barlow_analysis *a = NULL;
    caller = pthread_self();
    calls = 0;
    wrong_thread = 0;
    {
        barlow_analysis *p = NULL;
        barlow_analysis_options o3 = o;
        o3.threads = 3;
        barlow_status st3 = barlow_analysis_run(m, ds, &o3, on_progress, NULL, &p);
        size_t n_calls = calls;
        TAP_OK(st3 == BARLOW_OK && n_calls > 0 && wrong_thread == 0,
               "progress with 3 threads: called %zu times, only on the calling thread", n_calls);
        barlow_analysis_free(p);
    }
    calls = 0;
    last_done = 0;
    last_done = 0;
    TAP_OK(barlow_analysis_run(m, ds, &o, on_progress, NULL, &a) == BARLOW_OK && a,
           "analyze: succeeds");
    if (!a) return;
    TAP_OK(barlow_analysis_group_count(a) == 2 * K, "analyze: %zu groups = 2 groupings x %d classes",
           barlow_analysis_group_count(a), K);
    TAP_OK(calls > 0 && last_done == 2 * K && last_total == 2 * K && count_cancel == 0,
           "progress: called %zu times, ends at %zu/%zu, never goes back", calls, last_done,
           last_total);
    TAP_OK(barlow_analysis_depth_count(a) == 1 && barlow_analysis_depth(a, 0) == 1 &&
               barlow_analysis_depth(a, 1) == 0 && barlow_analysis_depth(NULL, 0) == 0,
           "one depth (1) by default");
    /* order: label grouping, then prediction; class ids ascending */
    int order = 1;
    for (size_t i = 0; i < 2 * K; i++) {
        barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
        barlow_analysis_get_group(a, i, &g);
        order &= g.grouping == (i < K ? BARLOW_GROUP_BY_LABEL : BARLOW_GROUP_BY_PREDICTION) &&
                 g.class_id == (int32_t)(i % K) && !strcmp(g.class_name, names[i % K]);
    }
    TAP_OK(order, "groups ordered by grouping then class id, with class names");
    for (size_t i = 0; i < 2 * K; i++) check_against_manual(a, ds, m, i, 5);

    /* degenerate and empty groups */
    barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_result r = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
    barlow_analysis_get_group(a, 3, &g);
    barlow_analysis_get_result(a, 3, 0, &r);
    const barlow_tree *t3 = barlow_analysis_group_tree(a, 3, 0);
    TAP_OK(g.status == BARLOW_ANALYSIS_NO_FAILURES && g.failures == 0 && g.n_selected == 0 && t3 &&
               barlow_tree_leaf_count(t3) == 1 && r.best_leaf == 0 &&
               r.best_error_coverage == 0.0 && r.best_error_rate == 0.0 && r.valid == 0,
           "label 3 (no failures): one-leaf tree, EC 0, not valid, no selection");
    barlow_analysis_get_group(a, 4, &g);
    barlow_analysis_get_result(a, 4, 0, &r);
    TAP_OK(g.status == BARLOW_ANALYSIS_NO_CORRECT && g.failures == g.size &&
               barlow_tree_leaf_count(barlow_analysis_group_tree(a, 4, 0)) == 1 &&
               r.best_error_rate == 1.0 && r.best_error_coverage == 1.0 && r.valid == 0,
           "label 4 (all failures): one-leaf tree, ER 1 = BER, not valid");
    barlow_analysis_get_group(a, K + 4, &g);
    barlow_analysis_get_result(a, K + 4, 0, &r);
    TAP_OK(g.status == BARLOW_ANALYSIS_EMPTY && g.size == 0 && g.base_error_rate == 0.0 &&
               !barlow_analysis_group_tree(a, K + 4, 0) && r.best_leaf == -1 && r.valid == 0 &&
               r.best_rule == -1,
           "prediction 4 (never predicted): listed with size 0, no tree");
    TAP_OK(!barlow_analysis_group_tree(a, 2 * K, 0) && !barlow_analysis_group_tree(a, 0, 1) &&
               !barlow_analysis_group_tree(NULL, 0, 0),
           "group_tree: NULL out of range");

    /* the evaluation */
    for (int b = 0; b < 2; b++) {
        barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
        TAP_OK(barlow_analysis_get_evaluation(a, (barlow_group_by)b, 0, &e) == BARLOW_OK,
               "evaluation %d: ok", b);
        size_t groups = 0, valid = 0;
        for (size_t i = (size_t)b * K; i < (size_t)(b + 1) * K; i++) {
            barlow_analysis_get_group(a, i, &g);
            barlow_analysis_get_result(a, i, 0, &r);
            if (g.size == 0) continue;
            groups++;
            valid += r.valid ? 1 : 0;
        }
        TAP_OK(e.groups == groups && e.valid == valid && e.depth == 1 &&
                   e.valid_fraction == (double)valid / (double)groups && e.grouping == (barlow_group_by)b,
               "evaluation %s: %zu of %zu non-empty groups valid", b ? "prediction" : "label",
               e.valid, e.groups);
        if (b == 0) TAP_OK(valid >= 2, "label: the planted failure mode is found (%zu valid)", valid);
    }

    /* thread-count invariance */
    char *j1 = json_of(a);
    int same = j1 != NULL;
    for (size_t th = 2; th <= 4; th++) {
        barlow_analysis *b = NULL;
        o.threads = th;
        barlow_analysis_run(m, ds, &o, NULL, NULL, &b);
        char *j2 = b ? json_of(b) : NULL;
        same &= j2 && !strcmp(j1, j2);
        text_free(j2);
        barlow_analysis_free(b);
    }
    TAP_OK(same, "threads 1..4 give byte-identical JSON");

    /* exports */
    TAP_OK(j1 && strstr(j1, "\"format\":\"barlow-analysis\"") &&
               strstr(j1, "\"name\":\"say \\\"hi\\\"\"") && strstr(j1, "\"status\":\"empty\"") &&
               strstr(j1, "\"tree\":null") && strstr(j1, "\"evaluation\":[") &&
               strstr(j1, "\"rules\":["),
           "to_json: format tag, escaped names, empty groups, evaluation, rules");
    barlow_buffer csv = {NULL, 0};
    TAP_OK(barlow_analysis_to_csv(a, &csv) == BARLOW_OK, "to_csv: ok");
    size_t lines = 0;
    for (size_t i = 0; i < csv.size; i++) lines += ((char *)csv.data)[i] == '\n';
    TAP_OK(lines == 2 * K + 1 &&
               !strncmp(csv.data, "grouping,class,name,depth,size,failures,base_error_rate,", 56),
           "to_csv: header + one line per group (%zu lines)", lines);
    TAP_OK(strstr(csv.data, "label,1,\"goldfish, carassius\",1,") &&
               strstr(csv.data, "label,2,\"say \"\"hi\"\"\",1,") &&
               strstr(csv.data, "prediction,4,five,1,0,0,0,,,,,,false,empty,\n"),
           "to_csv: RFC 4180 quoting of commas and quotes; empty group row");
    barlow_buffer_free(&csv);

    char dir[] = "/tmp/barlow-analysis-XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL, "temporary directory");
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/out.json", dir);
    TAP_OK(barlow_analysis_save_json(a, path) == BARLOW_OK, "save_json: ok");
    FILE *fp = fopen(path, "rb");
    char *buf = malloc(strlen(j1) + 16);
    size_t got = fp ? fread(buf, 1, strlen(j1) + 16, fp) : 0;
    if (fp) fclose(fp);
    TAP_OK(got == strlen(j1) + 1 && !memcmp(buf, j1, strlen(j1)) && buf[got - 1] == '\n',
           "save_json: the to_json text plus a newline");
    free(buf);
    snprintf(bad, sizeof bad, "%s/missing/out.json", dir);
    TAP_STATUS(barlow_analysis_save_json(a, bad), BARLOW_E_IO, "missing/out.json",
               "save_json into a missing directory: IO naming the path");
    TAP_OK(access(bad, F_OK) != 0, "save_json: nothing written");
    snprintf(bad, sizeof bad, "%s/missing/out.csv", dir);
    TAP_STATUS(barlow_analysis_save_csv(a, bad), BARLOW_E_IO, "missing/out.csv",
               "save_csv into a missing directory: IO naming the path");
    snprintf(path, sizeof path, "%s/out.csv", dir);
    TAP_OK(barlow_analysis_save_csv(a, path) == BARLOW_OK && access(path, F_OK) == 0,
           "save_csv: ok");
    unlink(path);
    snprintf(path, sizeof path, "%s/out.json", dir);
    unlink(path);
    rmdir(dir);

    /* accessor errors leave outputs untouched */
    barlow_analysis_group g0;
    memset(&g0, 0x5a, sizeof g0);
    g0.version = BARLOW_ANALYSIS_GROUP_VERSION;
    barlow_analysis_group g1 = g0;
    TAP_STATUS(barlow_analysis_get_group(a, 2 * K, &g1), BARLOW_E_INVALID_ARG, "group 10",
               "get_group: index out of range");
    TAP_OK(!memcmp(&g0, &g1, sizeof g0), "get_group: out untouched");
    g1.version = 99;
    TAP_STATUS(barlow_analysis_get_group(a, 0, &g1), BARLOW_E_INVALID_ARG, "barlow_analysis_group",
               "get_group: unknown version");
    TAP_STATUS(barlow_analysis_get_group(NULL, 0, &g1), BARLOW_E_INVALID_ARG, "barlow_analysis_get_group",
               "get_group: NULL analysis");
    barlow_analysis_result r1;
    memset(&r1, 0x5a, sizeof r1);
    r1.version = BARLOW_ANALYSIS_RESULT_VERSION;
    barlow_analysis_result r2 = r1;
    TAP_STATUS(barlow_analysis_get_result(a, 0, 1, &r2), BARLOW_E_INVALID_ARG, "depth index 1",
               "get_result: depth index out of range");
    TAP_STATUS(barlow_analysis_get_result(a, 99, 0, &r2), BARLOW_E_INVALID_ARG, "group 99",
               "get_result: group out of range");
    TAP_OK(!memcmp(&r1, &r2, sizeof r1), "get_result: out untouched");
    barlow_analysis_evaluation e1 = {.version = 0};
    TAP_STATUS(barlow_analysis_get_evaluation(a, BARLOW_GROUP_BY_LABEL, 0, &e1),
               BARLOW_E_INVALID_ARG, "barlow_analysis_evaluation", "get_evaluation: version 0");
    e1.version = BARLOW_ANALYSIS_EVALUATION_VERSION;
    TAP_STATUS(barlow_analysis_get_evaluation(a, (barlow_group_by)7, 0, &e1), BARLOW_E_INVALID_ARG,
               "grouping=7", "get_evaluation: bad grouping");
    TAP_STATUS(barlow_analysis_group_selection(a, 2 * K, NULL, NULL), BARLOW_E_INVALID_ARG,
               "out of range", "group_selection: index out of range");
    TAP_STATUS(barlow_analysis_to_json(NULL, &csv), BARLOW_E_INVALID_ARG, "barlow_analysis_to_json",
               "to_json: NULL");
    TAP_STATUS(barlow_analysis_to_csv(a, NULL), BARLOW_E_INVALID_ARG, "barlow_analysis_to_csv",
               "to_csv: NULL out");
    TAP_STATUS(barlow_analysis_save_json(a, NULL), BARLOW_E_INVALID_ARG, "path is NULL",
               "save_json: NULL path");
    text_free(j1);
    barlow_analysis_free(a);
}

static void test_options(barlow_matrix *m, barlow_dataset *ds)
{
    /* one grouping, several depths, a rule filter, min_group_size */
    int32_t depths[] = {2, 1, 3};
    barlow_rule_options ro;
    barlow_rule_options_init(&ro);
    ro.min_coverage = 0.999;
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.groupings = BARLOW_ANALYSIS_BY_PREDICTION;
    o.k = 3;
    o.depths = depths;
    o.n_depths = 3;
    o.rules = &ro;
    o.threads = 2;
    barlow_analysis *a = NULL;
    TAP_OK(barlow_analysis_run(m, ds, &o, NULL, NULL, &a) == BARLOW_OK, "prediction grouping, depths 2,1,3");
    if (!a) return;
    TAP_OK(barlow_analysis_group_count(a) == K && barlow_analysis_depth_count(a) == 3 &&
               barlow_analysis_depth(a, 0) == 2 && barlow_analysis_depth(a, 2) == 3,
           "%d groups, 3 depths in the given order", K);
    barlow_tree_summary s = {.version = BARLOW_TREE_SUMMARY_VERSION};
    int depth_ok = 1;
    for (size_t j = 0; j < 3; j++) {
        barlow_tree_get_summary(barlow_analysis_group_tree(a, 1, j), &s);
        depth_ok &= s.depth <= depths[j];
        barlow_analysis_result r = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
        barlow_analysis_get_result(a, 1, j, &r);
        depth_ok &= r.depth == depths[j];
    }
    barlow_tree_get_summary(barlow_analysis_group_tree(a, 1, 2), &s);
    TAP_OK(depth_ok && s.depth >= 2, "one tree per depth, each within its max_depth (deepest %d)",
           (int)s.depth);
    barlow_analysis_result r = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
    barlow_analysis_get_result(a, 1, 1, &r);
    barlow_tree_node nd = {.version = BARLOW_TREE_NODE_VERSION};
    int rule_ok = 1;
    if (r.best_rule >= 0) {
        barlow_tree_get_node(barlow_analysis_group_tree(a, 1, 1), (size_t)r.best_rule, &nd);
        rule_ok = nd.error_coverage >= 0.999;
    }
    TAP_OK(rule_ok && r.best_rule == -1, "rule filter min_coverage 0.999: no depth-1 leaf passes");
    barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
    TAP_STATUS(barlow_analysis_get_evaluation(a, BARLOW_GROUP_BY_LABEL, 0, &e),
               BARLOW_E_INVALID_ARG, "label grouping was not analysed",
               "get_evaluation: a grouping that was not analysed");
    barlow_analysis_free(a);

    /* min_group_size larger than every group: one-leaf trees, no selection */
    barlow_analysis_options_init(&o);
    o.groupings = BARLOW_ANALYSIS_BY_LABEL;
    o.min_group_size = N;
    o.k = 2;
    TAP_OK(barlow_analysis_run(m, ds, &o, NULL, NULL, &a) == BARLOW_OK, "min_group_size=%d", N);
    barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_get_group(a, 0, &g);
    TAP_OK(g.status == BARLOW_ANALYSIS_TOO_SMALL && g.n_selected == 0 &&
               barlow_tree_leaf_count(barlow_analysis_group_tree(a, 0, 0)) == 1,
           "groups below min_group_size: status too_small, one-leaf tree");
    barlow_analysis_free(a);
}

static void test_progress_cancel(barlow_matrix *m, barlow_dataset *ds)
{
    barlow_analysis *a = (barlow_analysis *)(uintptr_t)0x1234;
    int n = 0;
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 2;
    o.threads = 1;
    TAP_STATUS(barlow_analysis_run(m, ds, &o, cancel_after_one, &n, &a), BARLOW_E_CANCELLED,
               "cancelled", "progress returning non-zero cancels");
    TAP_OK(a == (barlow_analysis *)(uintptr_t)0x1234 && n >= 1, "cancel: out untouched");
}

static void test_errors(barlow_matrix *m, barlow_dataset *ds)
{
    barlow_analysis *sentinel = (barlow_analysis *)(uintptr_t)0x1234, *a = sentinel;
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 2;
    TAP_STATUS(barlow_analysis_run(NULL, ds, &o, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "barlow_analysis_run: features is NULL", "NULL features");
    TAP_STATUS(barlow_analysis_run(m, NULL, &o, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "dataset is NULL", "NULL dataset");
    TAP_STATUS(barlow_analysis_run(m, ds, &o, NULL, NULL, NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "NULL out");

    barlow_matrix *short_m = NULL;
    barlow_matrix_wrap(X, N - 1, D, D, &short_m);
    TAP_STATUS(barlow_analysis_run(short_m, ds, &o, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "features have 599 rows but the dataset has 600 rows", "features rows != dataset size");
    barlow_matrix_free(short_m);

    barlow_dataset *nopred = NULL;
    barlow_dataset_create(N, labels, NULL, names, K, &nopred);
    TAP_STATUS(barlow_analysis_run(m, nopred, &o, NULL, NULL, &a), BARLOW_E_STATE, "no predictions",
               "dataset without predictions: STATE");
    barlow_dataset_free(nopred);

    barlow_analysis_options b = o;
    b.version = 0;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "barlow_analysis_options", "options version 0");
    b.version = 2;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "barlow_analysis_options", "options version 2");
    b = o;
    b.groupings = 0;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "groupings=0",
               "groupings 0");
    b.groupings = 4;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "groupings=4",
               "groupings 4");
    b = o;
    b.k = 0;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "k=0 (must be 1..d=40)",
               "k = 0");
    b.k = D + 1;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "k=41 (must be 1..d=40)", "k > d");
    int32_t d0[] = {0}, d17[] = {17}, drep[] = {1, 2, 1};
    b = o;
    b.depths = d0;
    b.n_depths = 1;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "depths[0]=0 (a tree's max_depth must be 1..16)", "depth 0");
    b.depths = d17;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "depths[0]=17 (a tree's max_depth must be 1..16)", "depth 17");
    b.depths = drep;
    b.n_depths = 3;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "depths[2]=1 repeats depths[0]", "repeated depth");
    b.depths = NULL;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "depths is NULL with n_depths=3", "NULL depths with n_depths");
    b.depths = drep;
    b.n_depths = 17;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "n_depths=17",
               "more than 16 depths");
    barlow_tree_options to;
    barlow_tree_options_init(&to);
    to.max_depth = 0;
    b = o;
    b.tree = &to;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "1..16",
               "tree max_depth 0: the tree's message with the range");
    TAP_OK(!strncmp(barlow_last_error(), "barlow_analysis_run: ", 16),
           "tree option errors start with barlow_analysis_run");
    to.max_depth = 17;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "max_depth=17",
               "tree max_depth 17");
    barlow_tree_options_init(&to);
    to.version = 9;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "barlow_tree_options", "tree options version 9");
    barlow_tree_options_init(&to);
    to.min_samples_leaf = 0;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "min_samples_leaf", "tree min_samples_leaf 0");
    barlow_rule_options ro;
    barlow_rule_options_init(&ro);
    ro.min_coverage = 2.0;
    b = o;
    b.rules = &ro;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "min_coverage",
               "rule min_coverage 2");
    b = o;
    b.delta = -0.1;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "delta=-0.1 (must be 0..1)", "delta < 0");
    b.delta = NAN;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "delta=nan",
               "delta NaN");
    b = o;
    b.gamma = 1.5;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "gamma=1.5 (must be 0..1)", "gamma > 1");
    b = o;
    b.min_group_size = 0;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "min_group_size=0", "min_group_size 0");
    b = o;
    b.estimator = (barlow_estimator)9;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG, "estimator=9",
               "estimator out of range");
    b = o;
    b.n_neighbors = 0;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "barlow_analysis_run: n_neighbors=0 (must be 1..1000000)",
               "n_neighbors 0: the selector's check and message");
    b.n_neighbors = 1000001;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "n_neighbors=1000001 (must be 1..1000000)", "n_neighbors above the range");
    b = o;
    barlow_rule_options_init(&ro);
    ro.max_p_value = -0.5;
    b.rules = &ro;
    TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "barlow_analysis_run: max_p_value=-0.5 (must be 0..1)",
               "rule max_p_value: the tree's check and message");
    {
        /* a depth list overrides the tree options' max_depth, which is then
         * not checked (not used) */
        barlow_tree_options t0;
        barlow_tree_options_init(&t0);
        t0.max_depth = 0;
        int32_t d2[] = {2};
        b = o;
        b.tree = &t0;
        b.depths = d2;
        b.n_depths = 1;
        barlow_analysis *ok = NULL;
        TAP_OK(barlow_analysis_run(m, ds, &b, NULL, NULL, &ok) == BARLOW_OK &&
                   barlow_analysis_depth(ok, 0) == 2,
               "depths given: tree->max_depth 0 is overridden, not rejected (%s)",
               barlow_last_error());
        barlow_analysis_free(ok);
        t0.min_samples_leaf = 0;
        TAP_STATUS(barlow_analysis_run(m, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
                   "min_samples_leaf=0 (must be >= 1)",
                   "depths given: the other tree options are still checked");
    }

    /* NaN in a row of an analysed group: named by row and column */
    static float Y[N * D];
    memcpy(Y, X, sizeof Y);
    Y[(size_t)123 * D + 17] = NAN; /* row 123: label 3 (no failures), prediction 3 */
    Y[(size_t)126 * D + 9] = INFINITY; /* row 126: label 1 */
    barlow_matrix *bad = NULL;
    barlow_matrix_wrap(Y, N, D, D, &bad);
    TAP_STATUS(barlow_analysis_run(bad, ds, &o, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "row 126, column 9", "inf in features: names row and column");
    TAP_OK(strstr(barlow_last_error(), "barlow_analysis_run: label group of class 1") != NULL,
           "non-finite message names the function and the group: %s", barlow_last_error());
    b = o;
    for (size_t th = 1; th <= 3; th++) {
        b.threads = th;
        TAP_STATUS(barlow_analysis_run(bad, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
                   "label group of class 1: barlow_selector_score_rows: features[126][9] (row "
                   "126, column 9) is inf",
                   "the first bad group in group order is reported (%zu threads)", th);
    }
    Y[(size_t)126 * D + 9] = 0.5f;
    /* row 123 is in label group 3, which has no failures (no selection):
     * its rows are still checked */
    TAP_STATUS(barlow_analysis_run(bad, ds, &o, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "label group of class 3: features[123][17] (row 123, column 17) is NaN",
               "NaN in a row of a group without failures: names the group, row and column");
    b = o;
    b.groupings = BARLOW_ANALYSIS_BY_PREDICTION;
    TAP_STATUS(barlow_analysis_run(bad, ds, &b, NULL, NULL, &a), BARLOW_E_INVALID_ARG,
               "prediction group of class 3: barlow_selector_score_rows: features[123][17] "
               "(row 123, column 17) is NaN",
               "NaN found by the selector of an analysed group");
    barlow_matrix_free(bad);
    TAP_OK(a == sentinel, "out untouched by every failed call");
}

/* A memory-mapped .npy gives the same analysis as the in-memory matrix. */
static void test_mapped(barlow_matrix *m, barlow_dataset *ds)
{
    char dir[] = "/tmp/barlow-analysis-XXXXXX";
    if (!mkdtemp(dir)) {
        TAP_OK(0, "mkdtemp");
        return;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/X.npy", dir);
    barlow_matrix *mm = NULL;
    TAP_OK(barlow_matrix_save_npy(m, path) == BARLOW_OK &&
               barlow_matrix_map_npy(path, &mm) == BARLOW_OK,
           "features saved and mapped");
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 4;
    barlow_analysis *a = NULL, *b = NULL;
    barlow_analysis_run(m, ds, &o, NULL, NULL, &a);
    barlow_analysis_run(mm, ds, &o, NULL, NULL, &b);
    char *ja = a ? json_of(a) : NULL, *jb = b ? json_of(b) : NULL;
    TAP_OK(ja && jb && !strcmp(ja, jb), "mapped .npy: the same JSON as the in-memory matrix");
    text_free(ja);
    text_free(jb);
    barlow_analysis_free(a);
    barlow_analysis_free(b);
    barlow_matrix_free(mm);
    unlink(path);
    rmdir(dir);
}

/* ---- sparse class ids: the work follows the classes present, not the largest id ---- */

static const int32_t SPARSE1M[K] = {0, 7, 4096, 500000, 1000000};
static const int32_t SPARSE16M[K] = {0, 3, 65535, 1000001, 16777215};
enum { PRED_ONLY = 9999999 }; /* predicted for a few rows, never a label */

/* group ia of a and group ib of b agree in everything but the class id and
 * name: size, failures, BER, status, selection, results and trees. */
static int same_group(const barlow_analysis *a, size_t ia, const barlow_analysis *b, size_t ib)
{
    barlow_analysis_group ga = {.version = BARLOW_ANALYSIS_GROUP_VERSION}, gb = ga;
    if (barlow_analysis_get_group(a, ia, &ga) != BARLOW_OK ||
        barlow_analysis_get_group(b, ib, &gb) != BARLOW_OK)
        return 0;
    int same = ga.grouping == gb.grouping && ga.size == gb.size && ga.failures == gb.failures &&
               ga.base_error_rate == gb.base_error_rate && ga.status == gb.status &&
               ga.n_selected == gb.n_selected;
    size_t fa[D], fb[D];
    double sa[D], sb[D];
    barlow_analysis_group_selection(a, ia, fa, sa);
    barlow_analysis_group_selection(b, ib, fb, sb);
    for (size_t t = 0; same && t < ga.n_selected; t++) same = fa[t] == fb[t] && sa[t] == sb[t];
    for (size_t j = 0; same && j < barlow_analysis_depth_count(a); j++) {
        barlow_analysis_result ra = {.version = BARLOW_ANALYSIS_RESULT_VERSION}, rb = ra;
        barlow_analysis_get_result(a, ia, j, &ra);
        barlow_analysis_get_result(b, ib, j, &rb);
        same = !memcmp(&ra, &rb, sizeof ra);
        const barlow_tree *ta = barlow_analysis_group_tree(a, ia, j);
        const barlow_tree *tb = barlow_analysis_group_tree(b, ib, j);
        if (!ta || !tb) {
            same &= !ta && !tb;
            continue;
        }
        barlow_buffer ja = {NULL, 0}, jb = {NULL, 0};
        barlow_tree_to_json(ta, NULL, NULL, &ja);
        barlow_tree_to_json(tb, NULL, NULL, &jb);
        same &= ja.data && jb.data && !strcmp(ja.data, jb.data);
        barlow_buffer_free(&ja);
        barlow_buffer_free(&jb);
    }
    return same;
}

/* The data set's labels and predictions with class c renamed map[c]. */
static barlow_dataset *relabelled(const int32_t *map, int pred_only, barlow_status *st)
{
    static int32_t lab[N], pred[N];
    for (int i = 0; i < N; i++) {
        lab[i] = map[labels[i]];
        pred[i] = map[preds[i]];
    }
    if (pred_only) /* the first three failures of class 0 are predicted PRED_ONLY */
        for (int i = 0, left = 3; i < N && left > 0; i++)
            if (labels[i] == 0 && preds[i] != 0) {
                pred[i] = PRED_ONLY;
                left--;
            }
    barlow_dataset *ds = NULL;
    *st = barlow_dataset_create(N, lab, pred, NULL, 0, &ds);
    return ds;
}

/* One label of 1 000 000 among 600 rows: the analysis lists the 5 classes
 * present (not 1 000 001) and gives, class for class, the results of the
 * same data with the dense ids 0..4. */
static void test_sparse_ids(barlow_matrix *m)
{
    static const int32_t DENSE[K] = {0, 1, 2, 3, 4};
    int32_t depths[] = {1, 2};
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 5;
    o.depths = depths;
    o.n_depths = 2;
    o.threads = 2;
    barlow_status st1, st2;
    barlow_dataset *dense = relabelled(DENSE, 0, &st1), *sparse = relabelled(SPARSE1M, 0, &st2);
    TAP_OK(st1 == BARLOW_OK && st2 == BARLOW_OK && barlow_dataset_class_count(sparse) == 1000001,
           "sparse ids: dataset without names, %zu classes", barlow_dataset_class_count(sparse));
    barlow_analysis *a = NULL, *b = NULL;
    TAP_OK(barlow_analysis_run(m, dense, &o, NULL, NULL, &a) == BARLOW_OK &&
               barlow_analysis_run(m, sparse, &o, NULL, NULL, &b) == BARLOW_OK,
           "sparse ids: both analyses succeed");
    if (!a || !b) goto out;
    TAP_OK(barlow_analysis_group_count(b) == 2 * K,
           "sparse ids: %zu groups = 2 groupings x %d classes present",
           barlow_analysis_group_count(b), K);
    int same = barlow_analysis_group_count(a) == 2 * K, ids = 1;
    for (size_t i = 0; same && i < 2 * K; i++) {
        barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
        barlow_analysis_get_group(b, i, &g);
        char want[16];
        snprintf(want, sizeof want, "%d", (int)SPARSE1M[i % K]);
        ids &= g.class_id == SPARSE1M[i % K] && !strcmp(g.class_name, want);
        same &= same_group(a, i, b, i);
    }
    TAP_OK(ids, "sparse ids: groups in ascending class id, named by their decimal ids");
    TAP_OK(same, "sparse ids: sizes, selections, trees and results equal the dense relabelling");
    for (int bb = 0; bb < 2; bb++)
        for (size_t j = 0; j < 2; j++) {
            barlow_analysis_evaluation ea = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
            barlow_analysis_evaluation eb = ea;
            barlow_analysis_get_evaluation(a, (barlow_group_by)bb, j, &ea);
            barlow_analysis_get_evaluation(b, (barlow_group_by)bb, j, &eb);
            same &= !memcmp(&ea, &eb, sizeof ea);
        }
    TAP_OK(same, "sparse ids: the same evaluation");
    char *js = json_of(b);
    barlow_buffer csv = {NULL, 0};
    barlow_analysis_to_csv(b, &csv);
    TAP_OK(js && strlen(js) < 100000 && strstr(js, "\"classes\":1000001,") &&
               strstr(js, "\"class\":1000000,\"name\":\"1000000\"") && csv.data &&
               csv.size < 10000,
           "sparse ids: JSON of %zu bytes (< 100 KB), CSV of %zu bytes", js ? strlen(js) : 0,
           csv.size);
    text_free(js);
    barlow_buffer_free(&csv);
out:
    barlow_analysis_free(a);
    barlow_analysis_free(b);
    barlow_dataset_free(dense);
    barlow_dataset_free(sparse);
}

/* The largest id a dataset without names allows (16 777 215), and a class
 * that is predicted but never a label: it gets an empty label group and
 * its prediction group, so both groupings list the same classes. */
static void test_max_id(barlow_matrix *m)
{
    barlow_status st;
    barlow_dataset *ds = relabelled(SPARSE16M, 1, &st);
    TAP_OK(st == BARLOW_OK && barlow_dataset_class_count(ds) == 16777216,
           "id 16777215: dataset without names, %zu classes", barlow_dataset_class_count(ds));
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 3;
    barlow_analysis *a = NULL;
    TAP_OK(ds && barlow_analysis_run(m, ds, &o, NULL, NULL, &a) == BARLOW_OK, "id 16777215: analyze");
    if (!a) {
        barlow_dataset_free(ds);
        return;
    }
    size_t ng = barlow_analysis_group_count(a);
    TAP_OK(ng == 2 * (K + 1), "id 16777215: %zu groups = 2 x (%d labels + 1 predicted only)", ng,
           K);
    int order = 1;
    barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    for (size_t i = 0; i < ng; i++) {
        barlow_analysis_get_group(a, i, &g);
        size_t c = i % (K + 1);
        int32_t want = c < 4 ? SPARSE16M[c] : c == 4 ? PRED_ONLY : SPARSE16M[4];
        order &= g.class_id == want && g.grouping == (i <= K ? BARLOW_GROUP_BY_LABEL
                                                              : BARLOW_GROUP_BY_PREDICTION);
    }
    TAP_OK(order, "id 16777215: both groupings list the same classes, ascending");
    barlow_analysis_group gl = g, gp = g;
    barlow_analysis_get_group(a, 4, &gl);
    barlow_analysis_get_group(a, K + 1 + 4, &gp);
    TAP_OK(gl.class_id == PRED_ONLY && gl.size == 0 && gl.status == BARLOW_ANALYSIS_EMPTY &&
               gp.class_id == PRED_ONLY && gp.size == 3 && gp.failures == 3 &&
               !strcmp(gp.class_name, "9999999"),
           "predicted-only class: empty label group, prediction group of its 3 rows");
    barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
    barlow_analysis_get_evaluation(a, BARLOW_GROUP_BY_LABEL, 0, &e);
    TAP_OK(e.groups == K, "id 16777215: the label evaluation counts the %d non-empty groups",
           K);
    char *js = json_of(a);
    TAP_OK(js && strlen(js) < 100000 && strstr(js, "\"class\":16777215,\"name\":\"16777215\""),
           "id 16777215: JSON of %zu bytes (< 100 KB)", js ? strlen(js) : 0);
    text_free(js);
    /* the dataset's made-up names: on demand, stable, found by name */
    const char *n1 = barlow_dataset_class_name(ds, 16777214);
    int32_t id = -1, id0 = -1;
    TAP_OK(n1 && !strcmp(n1, "16777214") && barlow_dataset_class_name(ds, 16777214) == n1 &&
               !barlow_dataset_class_name(ds, 16777216) &&
               barlow_dataset_class_id(ds, "16777215", &id) == BARLOW_OK && id == 16777215 &&
               barlow_dataset_class_id(ds, "0", &id0) == BARLOW_OK && id0 == 0 &&
               barlow_dataset_class_id(ds, "007", &id) != BARLOW_OK &&
               barlow_dataset_class_id(ds, "16777216", &id) != BARLOW_OK,
           "names of a dataset without names: decimal ids, stable pointers, found by name");
    barlow_analysis_free(a);
    barlow_dataset_free(ds);
}

/* Made-up names asked for from several threads at once (a const dataset):
 * each id gets one stable string. */
typedef struct name_job {
    const barlow_dataset *ds;
    int32_t first;
    const char *got[2000];
    int ok;
} name_job;

static void *ask_names(void *p)
{
    name_job *j = p;
    j->ok = 1;
    for (int32_t i = 0; i < 2000; i++) {
        char want[16];
        snprintf(want, sizeof want, "%d", (int)(j->first + i));
        j->got[i] = barlow_dataset_class_name(j->ds, j->first + i);
        j->ok &= j->got[i] && !strcmp(j->got[i], want);
    }
    return NULL;
}

static void test_names_threads(void)
{
    int32_t lab[2] = {0, 16777215};
    barlow_dataset *ds = NULL;
    barlow_dataset_create(2, lab, lab, NULL, 0, &ds);
    static name_job jobs[4];
    pthread_t th[4];
    int ok = ds != NULL;
    for (int t = 0; ok && t < 4; t++) {
        jobs[t] = (name_job){.ds = ds, .first = 1000 + 1000 * (t % 2)};
        ok &= pthread_create(&th[t], NULL, ask_names, &jobs[t]) == 0;
    }
    for (int t = 0; ok && t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; ok && t < 4; t++) {
        ok &= jobs[t].ok;
        for (int i = 0; i < 2000; i++)
            ok &= jobs[t].got[i] == barlow_dataset_class_name(ds, jobs[t].first + i);
    }
    TAP_OK(ok, "names of a dataset without names from 4 threads: right text, one pointer per id");
    barlow_dataset_free(ds);
}

/* ---- distributed analysis: parts, merge, serialization ------------------------- */

static char *csv_of(const barlow_analysis *a)
{
    barlow_buffer b = {NULL, 0};
    if (barlow_analysis_to_csv(a, &b) != BARLOW_OK) return NULL;
    return b.data;
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* Group i of part p is pending and otherwise the full analysis' group. */
static int pending_ok(const barlow_analysis *full, const barlow_analysis *p, size_t i)
{
    barlow_analysis_group gf = {.version = BARLOW_ANALYSIS_GROUP_VERSION}, gp = gf;
    if (barlow_analysis_get_group(full, i, &gf) != BARLOW_OK ||
        barlow_analysis_get_group(p, i, &gp) != BARLOW_OK)
        return 0;
    int ok = gp.status == BARLOW_ANALYSIS_PENDING && gp.n_selected == 0 &&
             gp.grouping == gf.grouping && gp.class_id == gf.class_id &&
             !strcmp(gp.class_name, gf.class_name) && gp.size == gf.size &&
             gp.failures == gf.failures && gp.base_error_rate == gf.base_error_rate;
    for (size_t j = 0; ok && j < barlow_analysis_depth_count(p); j++) {
        barlow_analysis_result r = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
        ok = barlow_analysis_get_result(p, i, j, &r) == BARLOW_OK &&
             !barlow_analysis_group_tree(p, i, j) && r.best_leaf == -1 && r.best_rule == -1 &&
             r.aler == 0 && r.best_error_rate == 0 && r.best_error_coverage == 0 &&
             r.best_importance == 0 && r.valid == 0 && r.depth == barlow_analysis_depth(p, j);
    }
    return ok;
}

/* The evaluation of a part counts its analysed non-empty groups only. */
static int part_evaluation_ok(const barlow_analysis *p)
{
    int ok = 1;
    for (int b = 0; b < 2; b++)
        for (size_t j = 0; j < barlow_analysis_depth_count(p); j++) {
            barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
            ok &= barlow_analysis_get_evaluation(p, (barlow_group_by)b, j, &e) == BARLOW_OK;
            size_t groups = 0, valid = 0;
            for (size_t i = 0; i < barlow_analysis_group_count(p); i++) {
                barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
                barlow_analysis_result r = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
                barlow_analysis_get_group(p, i, &g);
                barlow_analysis_get_result(p, i, j, &r);
                if ((int)g.grouping != b || g.size == 0 || g.status == BARLOW_ANALYSIS_PENDING)
                    continue;
                groups++;
                valid += r.valid != 0;
            }
            ok &= e.groups == groups && e.valid == valid;
        }
    return ok;
}

static void parts_options(barlow_analysis_options *o)
{
    static const int32_t depths[] = {1, 2};
    barlow_analysis_options_init(o);
    o->k = 5;
    o->depths = depths;
    o->n_depths = 2;
    o->threads = 2;
}

static void test_count_groups(barlow_matrix *m, barlow_dataset *ds)
{
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    size_t n = 0;
    barlow_status st = barlow_analysis_count_groups(ds, NULL, &n);
    TAP_OK(st == BARLOW_OK && n == 2 * K,
           "count_groups: %zu groups by default (2 groupings x %d classes)", n, K);
    o.groupings = BARLOW_ANALYSIS_BY_PREDICTION;
    st = barlow_analysis_count_groups(ds, &o, &n);
    TAP_OK(st == BARLOW_OK && n == K, "count_groups: %zu groups for the prediction grouping", n);
    o.groupings = 4;
    n = 77;
    TAP_STATUS(barlow_analysis_count_groups(ds, &o, &n), BARLOW_E_INVALID_ARG, "groupings=4",
               "count_groups: groupings 4");
    o.groupings = 1;
    o.version = 9;
    TAP_STATUS(barlow_analysis_count_groups(ds, &o, &n), BARLOW_E_INVALID_ARG,
               "barlow_analysis_count_groups: barlow_analysis_options", "count_groups: version");
    TAP_STATUS(barlow_analysis_count_groups(NULL, NULL, &n), BARLOW_E_INVALID_ARG,
               "dataset is NULL", "count_groups: NULL dataset");
    TAP_STATUS(barlow_analysis_count_groups(ds, NULL, NULL), BARLOW_E_INVALID_ARG,
               "n_groups is NULL", "count_groups: NULL n_groups");
    barlow_dataset *nopred = NULL;
    barlow_dataset_create(N, labels, NULL, names, K, &nopred);
    TAP_STATUS(barlow_analysis_count_groups(nopred, NULL, &n), BARLOW_E_STATE, "no predictions",
               "count_groups: no predictions");
    barlow_dataset_free(nopred);
    TAP_OK(n == 77, "count_groups: n_groups untouched by every failed call");
    (void)m;
}

/* Every contiguous range of groups: the analysed groups equal the full
 * analysis' bit for bit, the others are pending; exports stay well-formed. */
static void test_ranges(barlow_matrix *m, barlow_dataset *ds, const barlow_analysis *full)
{
    barlow_analysis_options o;
    parts_options(&o);
    size_t G = barlow_analysis_group_count(full), runs = 0, bad_first = 0, bad_count = 0;
    int ok = 1, exports = 1, eval = 1;
    for (size_t first = 0; first < G; first++)
        for (size_t count = 1; first + count <= G; count++) {
            barlow_analysis *p = NULL;
            int this_ok = barlow_analysis_run_groups(m, ds, &o, first, count, NULL, NULL, &p) ==
                              BARLOW_OK && barlow_analysis_group_count(p) == G;
            for (size_t i = 0; this_ok && i < G; i++)
                this_ok = i >= first && i < first + count ? same_group(full, i, p, i)
                                                          : pending_ok(full, p, i);
            eval &= p && part_evaluation_ok(p);
            char *js = p ? json_of(p) : NULL, *csv = p ? csv_of(p) : NULL;
            exports &= count_str(js, "\"status\":\"pending\"") == G - count &&
                       count_str(csv, ",pending,") == 2 * (G - count) &&
                       count_str(csv, "\n") == 1 + 2 * G;
            text_free(js);
            text_free(csv);
            barlow_analysis_free(p);
            if (!this_ok && ok) {
                bad_first = first;
                bad_count = count;
            }
            ok &= this_ok;
            runs++;
        }
    TAP_OK(ok, "analyze_groups: over all %zu ranges, each analysed group has the full "
           "analysis' selection, scores, trees and results; the others are pending "
           "(first failure at %zu+%zu)", runs, bad_first, bad_count);
    TAP_OK(eval, "analyze_groups: the evaluation counts the analysed groups only");
    TAP_OK(exports, "analyze_groups: JSON and CSV list pending groups with status pending");
}

/* Merging parts gives the full analysis, byte for byte, also after the
 * parts are freed and in any order. */
static void test_merge(barlow_matrix *m, barlow_dataset *ds, const barlow_analysis *full)
{
    barlow_analysis_options o;
    parts_options(&o);
    size_t G = barlow_analysis_group_count(full);
    char *want_js = json_of(full), *want_csv = csv_of(full);
    int ok = 1;
    size_t merges = 0;
    for (size_t c1 = 1; c1 < G; c1++)
        for (size_t c2 = c1; c2 < G; c2++) {
            size_t cuts[4] = {0, c1, c2, G};
            barlow_analysis *parts[3] = {NULL, NULL, NULL}, *mg = NULL;
            size_t np = 0;
            for (size_t k = 0; k < 3; k++)
                if (cuts[k + 1] > cuts[k])
                    barlow_analysis_run_groups(m, ds, &o, cuts[k], cuts[k + 1] - cuts[k], NULL, NULL,
                                          &parts[np++]);
            /* the last part first */
            barlow_analysis *tmp = parts[0];
            parts[0] = parts[np - 1];
            parts[np - 1] = tmp;
            barlow_status st = barlow_analysis_merge((const barlow_analysis *const *)parts, np,
                                                     &mg);
            for (size_t k = 0; k < np; k++) barlow_analysis_free(parts[k]);
            char *js = mg ? json_of(mg) : NULL, *csv = mg ? csv_of(mg) : NULL;
            ok &= st == BARLOW_OK && js && csv && !strcmp(js, want_js) && !strcmp(csv, want_csv);
            text_free(js);
            text_free(csv);
            barlow_analysis_free(mg);
            merges++;
        }
    TAP_OK(ok, "merge: %zu splits into 2 or 3 parts (last part first, parts freed before use) "
           "give the full analysis' JSON and CSV byte for byte", merges);
    barlow_analysis *one = NULL;
    TAP_OK(barlow_analysis_merge(&full, 1, &one) == BARLOW_OK && one, "merge: one full part");
    char *js = one ? json_of(one) : NULL;
    TAP_OK(js && !strcmp(js, want_js), "merge: a copy of one full analysis is equal");
    text_free(js);
    barlow_analysis_free(one);
    text_free(want_js);
    text_free(want_csv);
}

static void test_merge_errors(barlow_matrix *m, barlow_dataset *ds)
{
    barlow_analysis_options o;
    parts_options(&o);
    barlow_analysis *p[4] = {NULL, NULL, NULL, NULL};
    barlow_analysis_run_groups(m, ds, &o, 0, 4, NULL, NULL, &p[0]);
    barlow_analysis_run_groups(m, ds, &o, 4, 6, NULL, NULL, &p[1]);
    barlow_analysis_run_groups(m, ds, &o, 3, 2, NULL, NULL, &p[2]);
    o.k = 4;
    barlow_analysis_run_groups(m, ds, &o, 4, 6, NULL, NULL, &p[3]);
    barlow_analysis *sentinel = (barlow_analysis *)&rng_state, *out = sentinel;
    const barlow_analysis *ov[3] = {p[0], p[1], p[2]};
    TAP_STATUS(barlow_analysis_merge(ov, 3, &out), BARLOW_E_INVALID_ARG,
               "group label/four is analysed in parts 0 and 2", "merge: a group in two parts");
    const barlow_analysis *gap[1] = {p[0]};
    TAP_STATUS(barlow_analysis_merge(gap, 1, &out), BARLOW_E_INVALID_ARG,
               "group label/five is analysed in no part", "merge: a group in no part");
    const barlow_analysis *diff[2] = {p[0], p[3]};
    TAP_STATUS(barlow_analysis_merge(diff, 2, &out), BARLOW_E_INVALID_ARG,
               "part 1 is not a part of part 0's plan: k 4 vs 5", "merge: parts of another k");
    barlow_dataset *other = NULL;
    int32_t lab2[N];
    for (int i = 0; i < N; i++) lab2[i] = labels[i] == 1 && i % 7 == 0 ? 2 : labels[i];
    barlow_dataset_create(N, lab2, preds, names, K, &other);
    barlow_analysis *q = NULL;
    o.k = 5;
    barlow_analysis_run_groups(m, other, &o, 4, 6, NULL, NULL, &q);
    const barlow_analysis *dd[2] = {p[0], q};
    TAP_STATUS(barlow_analysis_merge(dd, 2, &out), BARLOW_E_INVALID_ARG, "group 1 is class 1",
               "merge: parts of another dataset name the group that differs");
    const barlow_analysis *withnull[2] = {p[0], NULL};
    TAP_STATUS(barlow_analysis_merge(withnull, 2, &out), BARLOW_E_INVALID_ARG,
               "parts[1] is NULL", "merge: a NULL part");
    TAP_STATUS(barlow_analysis_merge(ov, 0, &out), BARLOW_E_INVALID_ARG, "n_parts=0",
               "merge: no parts");
    TAP_STATUS(barlow_analysis_merge(NULL, 1, &out), BARLOW_E_INVALID_ARG, "parts is NULL",
               "merge: NULL parts");
    TAP_STATUS(barlow_analysis_merge(ov, 1, NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "merge: NULL out");
    TAP_STATUS(barlow_analysis_run_groups(m, ds, &o, 3, 0, NULL, NULL, &out), BARLOW_E_INVALID_ARG,
               "barlow_analysis_run_groups: count=0", "analyze_groups: count 0");
    TAP_STATUS(barlow_analysis_run_groups(m, ds, &o, 7, 4, NULL, NULL, &out), BARLOW_E_INVALID_ARG,
               "first=7 + count=4 is beyond the 10 groups of the plan",
               "analyze_groups: a range beyond the plan");
    TAP_STATUS(barlow_analysis_run_groups(m, ds, &o, SIZE_MAX, 2, NULL, NULL, &out),
               BARLOW_E_INVALID_ARG, "is beyond the 10 groups", "analyze_groups: first overflows");
    o.k = 0;
    TAP_STATUS(barlow_analysis_run_groups(m, ds, &o, 0, 1, NULL, NULL, &out), BARLOW_E_INVALID_ARG,
               "barlow_analysis_run_groups: k=0", "analyze_groups: option errors name the function");
    TAP_OK(out == sentinel, "merge / analyze_groups: out untouched by every failed call");
    for (int k = 0; k < 4; k++) barlow_analysis_free(p[k]);
    barlow_analysis_free(q);
    barlow_dataset_free(other);
}

/* A part reads only its own rows: one page per row, every other row's page
 * unreadable (a read would crash the test). NaN in other rows is fine. */
static void test_own_rows(void)
{
    enum { NR = 120, KC = 4 };
    size_t page = (size_t)sysconf(_SC_PAGESIZE), d = page / sizeof(float);
    float *x = mmap(NULL, NR * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x == MAP_FAILED) {
        TAP_OK(0, "mmap");
        return;
    }
    static int32_t lab[NR], pred[NR];
    static float keep1[NR];
    for (size_t i = 0; i < NR; i++) {
        lab[i] = (int32_t)(i * KC / NR); /* sorted by label */
        for (size_t j = 0; j < d; j++) {
            double v = uniform() * 2.0 - 0.6;
            x[i * d + j] = v > 0 ? (float)v : 0.0f;
        }
        keep1[i] = x[i * d + 1];
        int fail = x[i * d + 5] > 0.7f;
        pred[i] = fail ? (lab[i] + 1) % KC : lab[i];
    }
    barlow_dataset *ds = NULL;
    barlow_matrix *m = NULL;
    barlow_dataset_create(NR, lab, pred, NULL, 0, &ds);
    barlow_matrix_wrap(x, NR, d, d, &m);
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 3;
    barlow_analysis *full = NULL;
    barlow_analysis_run(m, ds, &o, NULL, NULL, &full);
    size_t G = barlow_analysis_group_count(full);
    int ok = full != NULL && G == 2 * KC;
    for (size_t first = 0; ok && first < G; first++) {
        size_t count = first == 2 ? 3 : 1;
        barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
        for (size_t r = 0; r < NR; r++) {
            int used = 0;
            for (size_t i = first; i < first + count && i < G; i++) {
                barlow_analysis_get_group(full, i, &g);
                used |= (g.grouping == BARLOW_GROUP_BY_LABEL ? lab[r] : pred[r]) == g.class_id;
            }
            if (!used) {
                x[r * d + 1] = NAN;
                mprotect((char *)x + r * page, page, PROT_NONE);
            }
        }
        barlow_analysis *p = NULL;
        if (first + count > G) count = G - first;
        barlow_status st = barlow_analysis_run_groups(m, ds, &o, first, count, NULL, NULL, &p);
        mprotect(x, NR * page, PROT_READ | PROT_WRITE);
        for (size_t r = 0; r < NR; r++) x[r * d + 1] = keep1[r];
        ok = st == BARLOW_OK;
        for (size_t i = first; ok && i < first + count; i++) ok = same_group(full, i, p, i);
        barlow_analysis_free(p);
    }
    TAP_OK(ok, "analyze_groups reads only the rows of its groups (the others unreadable, with "
           "NaN) and gives the full analysis' groups");
    barlow_analysis_free(full);
    barlow_matrix_free(m);
    barlow_dataset_free(ds);
    munmap(x, NR * page);
}

/* The trees of two analyses answer alike: JSON, SVG, rules, rows, samples
 * and apply on the features. */
static int trees_answer_alike(const barlow_analysis *a, const barlow_analysis *b,
                              const barlow_matrix *m)
{
    int ok = barlow_analysis_group_count(a) == barlow_analysis_group_count(b);
    size_t *la = malloc(N * sizeof *la), *lb = malloc(N * sizeof *lb), na = 0, nb = 0;
    for (size_t i = 0; ok && i < barlow_analysis_group_count(a); i++)
        for (size_t j = 0; ok && j < barlow_analysis_depth_count(a); j++) {
            const barlow_tree *ta = barlow_analysis_group_tree(a, i, j);
            const barlow_tree *tb = barlow_analysis_group_tree(b, i, j);
            if (!ta || !tb) {
                ok = !ta && !tb;
                continue;
            }
            barlow_buffer x = {NULL, 0}, y = {NULL, 0};
            ok = barlow_tree_to_svg(ta, NULL, &x) == BARLOW_OK &&
                 barlow_tree_to_svg(tb, NULL, &y) == BARLOW_OK && !strcmp(x.data, y.data);
            barlow_buffer_free(&x);
            barlow_buffer_free(&y);
            size_t ra[64], rb[64], nra = 0, nrb = 0;
            ok &= barlow_tree_rules(ta, NULL, ra, &nra) == BARLOW_OK &&
                  barlow_tree_rules(tb, NULL, rb, &nrb) == BARLOW_OK && nra == nrb &&
                  !memcmp(ra, rb, nra * sizeof *ra);
            for (size_t id = 0; ok && id < barlow_tree_node_count(ta); id++) {
                ok = barlow_tree_node_rows(ta, id, BARLOW_ROWS_FAILURES, la, &na) == BARLOW_OK &&
                     barlow_tree_node_rows(tb, id, BARLOW_ROWS_FAILURES, lb, &nb) == BARLOW_OK &&
                     na == nb && !memcmp(la, lb, na * sizeof *la);
                ok &= barlow_tree_sample_rows(ta, id, BARLOW_ROWS_ALL, 5, 3, la, &na) ==
                          BARLOW_OK &&
                      barlow_tree_sample_rows(tb, id, BARLOW_ROWS_ALL, 5, 3, lb, &nb) ==
                          BARLOW_OK && na == nb && !memcmp(la, lb, na * sizeof *la);
            }
            ok &= barlow_tree_apply(ta, m, la) == BARLOW_OK &&
                  barlow_tree_apply(tb, m, lb) == BARLOW_OK && !memcmp(la, lb, N * sizeof *la);
        }
    free(la);
    free(lb);
    return ok;
}

/* deserialize(serialize(a)) serializes to the same bytes, exports the same
 * JSON and CSV and has trees that answer alike. */
static int round_trip(const barlow_analysis *a, const barlow_matrix *m, barlow_analysis **copy)
{
    barlow_buffer b = {NULL, 0}, b2 = {NULL, 0};
    barlow_analysis *c = NULL;
    int ok = barlow_analysis_serialize(a, &b) == BARLOW_OK &&
             barlow_analysis_deserialize(b.data, b.size, &c) == BARLOW_OK &&
             barlow_analysis_serialize(c, &b2) == BARLOW_OK && b.size == b2.size &&
             !memcmp(b.data, b2.data, b.size);
    char *j1 = json_of(a), *j2 = c ? json_of(c) : NULL, *c1 = csv_of(a), *c2 = c ? csv_of(c) : NULL;
    ok &= j1 && j2 && c1 && c2 && !strcmp(j1, j2) && !strcmp(c1, c2) &&
          trees_answer_alike(a, c, m);
    text_free(j1);
    text_free(j2);
    text_free(c1);
    text_free(c2);
    barlow_buffer_free(&b);
    barlow_buffer_free(&b2);
    if (copy) *copy = c;
    else barlow_analysis_free(c);
    return ok;
}

static void test_serialize(barlow_matrix *m, barlow_dataset *ds, const barlow_analysis *full)
{
    barlow_analysis_options o;
    parts_options(&o);
    TAP_OK(round_trip(full, m, NULL), "serialize: a full analysis round-trips (bytes, JSON, CSV, "
           "and every tree's SVG, rules, rows, samples and apply)");
    barlow_analysis *p1 = NULL, *p2 = NULL, *c1 = NULL, *c2 = NULL, *mg = NULL;
    barlow_analysis_run_groups(m, ds, &o, 0, 3, NULL, NULL, &p1);
    barlow_analysis_run_groups(m, ds, &o, 3, 7, NULL, NULL, &p2);
    TAP_OK(p1 && p2 && round_trip(p1, m, &c1) && round_trip(p2, m, &c2),
           "serialize: partial analyses round-trip");
    barlow_analysis_free(p1);
    barlow_analysis_free(p2);
    const barlow_analysis *parts[2] = {c2, c1};
    char *want = json_of(full), *got = NULL;
    TAP_OK(barlow_analysis_merge(parts, 2, &mg) == BARLOW_OK && (got = json_of(mg)) &&
               !strcmp(want, got),
           "serialize: the deserialized parts merge into the full analysis");
    text_free(want);
    text_free(got);
    barlow_analysis_free(mg);
    barlow_analysis_free(c1);
    barlow_analysis_free(c2);
    barlow_buffer b = {NULL, 0};
    barlow_analysis *sentinel = (barlow_analysis *)&rng_state, *out = sentinel;
    TAP_STATUS(barlow_analysis_serialize(NULL, &b), BARLOW_E_INVALID_ARG, "a is NULL",
               "serialize: NULL analysis");
    TAP_STATUS(barlow_analysis_serialize(full, NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "serialize: NULL out");
    TAP_STATUS(barlow_analysis_deserialize(NULL, 4, &out), BARLOW_E_INVALID_ARG, "data is NULL",
               "deserialize: NULL data");
    TAP_STATUS(barlow_analysis_deserialize(&b, 4, NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "deserialize: NULL out");
    TAP_OK(out == sentinel && !b.data, "serialize / deserialize: outputs untouched on error");
}

/* ---- hostile bytes: a small analysis ---- */

enum { SN = 48, SD = 6, SK = 3 };
/* Offsets in the binary analysis format with 2 depths (docs/formats.md). */
enum { A_CLASSES = 28, A_K = 40, A_EST = 48, A_DELTA = 64, A_NDEPTHS = 164, A_DEPTHS = 168,
       A_PRESENT = 176 };

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void expect_format(const uint8_t *blob, size_t size, const char *needle, const char *name)
{
    barlow_analysis *sentinel = (barlow_analysis *)&rng_state, *out = sentinel;
    barlow_status st = barlow_analysis_deserialize(blob, size, &out);
    const char *msg = barlow_last_error();
    TAP_OK(st == BARLOW_E_FORMAT && out == sentinel && strstr(msg, needle) &&
               !strncmp(msg, "barlow_analysis_deserialize: byte ", 34),
           "deserialize: %s (%s)", name, msg);
}

static void hostile_edits(const uint8_t *b, size_t size)
{
    static const char *const snames[SK] = {"a", "bb", "ccc"};
    size_t groups_at = A_PRESENT + 8;
    for (int c = 0; c < SK; c++) groups_at += 8 + strlen(snames[c]);
    size_t g0 = groups_at + 8, g1 = g0 + 44; /* group 0 is pending, group 1 analysed */
    uint8_t *m = malloc(size + 1);
#define EDIT(stmt, needle, name)                \
    do {                                        \
        memcpy(m, b, size);                     \
        stmt;                                   \
        expect_format(m, size, needle, name);   \
    } while (0)
    EDIT(m[3] = 'x', "not a serialized analysis", "wrong magic");
    EDIT(put_le(m + 8, 7, 4), "analysis format version 7", "a future format version");
    EDIT(put_le(m + A_K, SD + 1, 8), "the options: k=7 (must be 1..d=6)", "k > d");
    EDIT(put_le(m + A_EST, 9, 4), "estimator=9", "an unknown estimator");
    EDIT(put_le(m + A_DELTA, 0x7ff8000000000000ull, 8), "delta=nan", "a NaN delta");
    EDIT(put_le(m + A_NDEPTHS, 0, 4), "0 depths", "no depths");
    EDIT(put_le(m + A_NDEPTHS, 1000, 4), "1000 depths", "too many depths");
    EDIT(put_le(m + A_DEPTHS + 4, 2, 4), "repeats depths[0]", "a repeated depth");
    EDIT(put_le(m + A_CLASSES, 2, 8), "class id 2", "a class id beyond the class count");
    EDIT(put_le(m + A_PRESENT, (uint64_t)1 << 40, 8), "bytes are left",
         "a lying count of classes");
    EDIT(put_le(m + A_PRESENT + 12, 1u << 30, 4), "bytes long but", "a lying name length");
    EDIT(m[A_PRESENT + 16] = 0, "holds a NUL byte", "a NUL in a name");
    EDIT(put_le(m + groups_at, 7, 8), "7 groups (the plan has 3 classes x 2 groupings)",
         "a group count off the plan");
    EDIT(put_le(m + g0 + 16, BARLOW_ANALYSIS_NO_FAILURES, 4), "status 2",
         "a status the counts do not give");
    EDIT(put_le(m + g0 + 16, 99, 4), "status 99", "an unknown status");
    EDIT(put_le(m + g0, SN + 1, 8), "must be at most 48", "a group larger than the rows");
    EDIT(put_le(m + g0 + 8, 15, 8), "byte", "a group's failures changed");
    EDIT(put_le(m + g1 + 20, 1, 8), "selects 1 features", "a selection of the wrong size");
    EDIT(put_le(m + g1 + 28, SD, 8), "a selected feature is 6", "a selected column out of range");
    EDIT(memcpy(m + g1 + 44, m + g1 + 28, 8), "selects feature", "a column selected twice");
    EDIT(put_le(m + g1 + 36, 0xfff0000000000000ull, 8), "a selection score is -inf",
         "an infinite score");
    memcpy(m, b, size);
    m[size] = 1;
    expect_format(m, size + 1, "trailing bytes after the end of the analysis (1)",
                  "a trailing byte");
#undef EDIT
    free(m);
}

static void fuzz_analysis(const uint8_t *blob, size_t size, const barlow_matrix *x)
{
    uint8_t *mut = malloc(size);
    int fine = 1, accepted = 0, rejected = 0;
    uint64_t s = 4242;
    for (int k = 0; k < 400; k++) {
        memcpy(mut, blob, size);
        for (int f = 0; f < 1 + k % 3; f++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(s >> 33) % size;
            mut[at] = k % 2 ? (uint8_t)(s >> 17) : (uint8_t)(mut[at] ^ (1u << (k % 8)));
        }
        barlow_analysis *a = NULL;
        barlow_status st = barlow_analysis_deserialize(mut, size, &a);
        if (st != BARLOW_OK) {
            fine &= st == BARLOW_E_FORMAT && !a;
            rejected++;
            continue;
        }
        accepted++;
        barlow_buffer b = {NULL, 0};
        fine &= barlow_analysis_serialize(a, &b) == BARLOW_OK && b.size == size &&
                !memcmp(b.data, mut, size);
        barlow_buffer_free(&b);
        char *js = json_of(a), *csv = csv_of(a);
        fine &= js && csv;
        text_free(js);
        text_free(csv);
        size_t leaves[SN];
        for (size_t i = 0; i < barlow_analysis_group_count(a); i++)
            for (size_t j = 0; j < barlow_analysis_depth_count(a); j++) {
                const barlow_tree *t = barlow_analysis_group_tree(a, i, j);
                if (t) fine &= barlow_tree_apply(t, x, leaves) == BARLOW_OK;
            }
        barlow_analysis *mg = NULL;
        fine &= barlow_analysis_merge((const barlow_analysis *const *)&a, 1, &mg) == BARLOW_OK ||
                barlow_analysis_merge((const barlow_analysis *const *)&a, 1, &mg) ==
                    BARLOW_E_INVALID_ARG;
        barlow_analysis_free(mg);
        barlow_analysis_free(a);
    }
    free(mut);
    TAP_OK(fine, "400 seeded random byte changes: %d rejected with FORMAT, %d accepted and "
           "usable (same bytes again, JSON, CSV, apply, merge)", rejected, accepted);
}

static void test_hostile(void)
{
    static float sx[SN * SD];
    static int32_t sl[SN], sp[SN];
    static const char *const snames[SK] = {"a", "bb", "ccc"};
    for (size_t i = 0; i < SN; i++) {
        for (size_t j = 0; j < SD; j++) sx[i * SD + j] = (float)uniform();
        sl[i] = (int32_t)(i % SK);
        sp[i] = sx[i * SD + 2] > 0.6f ? (sl[i] + 1) % SK : sl[i];
    }
    barlow_matrix *x = NULL;
    barlow_dataset *ds = NULL;
    barlow_matrix_wrap(sx, SN, SD, SD, &x);
    barlow_dataset_create(SN, sl, sp, snames, SK, &ds);
    static const int32_t depths[] = {2, 1};
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 2;
    o.depths = depths;
    o.n_depths = 2;
    barlow_analysis *a = NULL;
    barlow_buffer b = {NULL, 0};
    barlow_status st = barlow_analysis_run_groups(x, ds, &o, 1, 4, NULL, NULL, &a);
    if (st == BARLOW_OK) st = barlow_analysis_serialize(a, &b);
    TAP_OK(st == BARLOW_OK, "small partial analysis: %zu bytes serialized", b.size);
    int all = st == BARLOW_OK;
    size_t first_bad = 0;
    for (size_t len = 0; all && len < b.size; len++) {
        barlow_analysis *out = (barlow_analysis *)&rng_state;
        all = barlow_analysis_deserialize(b.data, len, &out) == BARLOW_E_FORMAT &&
              out == (barlow_analysis *)&rng_state &&
              strstr(barlow_last_error(), ": byte ") != NULL;
        if (!all) first_bad = len;
    }
    TAP_OK(all, "each of the %zu truncations is refused with FORMAT (first failure: %zu)",
           b.size, first_bad);
    if (st == BARLOW_OK) {
        hostile_edits(b.data, b.size);
        fuzz_analysis(b.data, b.size, x);
    }
    barlow_buffer_free(&b);
    barlow_analysis_free(a);
    barlow_dataset_free(ds);
    barlow_matrix_free(x);
}

static void test_distributed(barlow_matrix *m, barlow_dataset *ds)
{
    barlow_analysis_options o;
    parts_options(&o);
    barlow_analysis *full = NULL;
    TAP_OK(barlow_analysis_run(m, ds, &o, NULL, NULL, &full) == BARLOW_OK, "distributed: the full "
           "analysis");
    if (!full) return;
    test_count_groups(m, ds);
    test_ranges(m, ds, full);
    test_merge(m, ds, full);
    test_merge_errors(m, ds);
    test_own_rows();
    test_serialize(m, ds, full);
    test_hostile();
    barlow_analysis_free(full);
}

int main(void)
{
    make_data();
    barlow_matrix *m = NULL;
    barlow_matrix_wrap(X, N, D, D, &m);
    barlow_dataset *ds = make_dataset();
    if (!m || !ds) {
        TAP_OK(0, "test data: %s", barlow_last_error());
        return tap_done();
    }
    test_defaults();
    test_run(m, ds);
    test_options(m, ds);
    test_progress_cancel(m, ds);
    test_errors(m, ds);
    test_mapped(m, ds);
    test_sparse_ids(m);
    test_max_id(m);
    test_names_threads();
    test_distributed(m, ds);
    barlow_analysis_free(NULL);
    TAP_OK(1, "analysis_free(NULL) is a no-op");
    barlow_dataset_free(ds);
    barlow_matrix_free(m);
    return tap_done();
}
