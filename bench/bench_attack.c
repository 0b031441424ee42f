/* bench_attack: libbarlow's side of bench/bench_attack.py. Feature attacks
 * (gradient ascent on a feature within an L2 ball and [0,1]) on the first
 * N rows of a dataset, timed through barlow_visualizer_attack (the
 * library's own loop: loading the images, the forward before, the steps,
 * the forward after), and the bare barlow_extractor_feature_gradient on
 * the same inputs; optionally a whole barlow_visualizer_view (ranking,
 * maps, the attack, the rendered panel) on a row set. Writes the inputs
 * and the attacked images as .npy files for the Python side and prints
 * one JSON object.
 *
 *   bench_attack --model M.pt --size S --channels C --threads T
 *                (--csv CSV --images DIR [--resize R] | --idx IMAGES LABELS)
 *                [--n 6] [--feature J] [--steps 20] [--grad-steps 0]
 *                [--out DIR] [--view-label L --view-steps 1000 --view-png F]
 *                [--optimize 1]
 *
 * --feature -1 (default) picks the feature with the largest mean over the
 * N inputs. --view-label L times a view of the rows labelled L (features
 * of the whole dataset are extracted first, untimed). --optimize 0 runs
 * the module as loaded (no frozen copies, for inference or gradients).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <barlow/barlow.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_attack: %s: %s\n", what, barlow_last_error());
    return 1;
}

/* Times of the first and the last progress call: the loop's own rate. */
typedef struct {
    double first, last;
    size_t n_first, n_last;
} clock_marks;

static int mark(size_t done, size_t total, void *user)
{
    clock_marks *m = user;
    double t = now();
    if (done == 1) {
        m->first = t;
        m->n_first = done;
    }
    m->last = t;
    m->n_last = done;
    (void)total;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_attack --model M.pt --size S --channels C --threads T\n"
            "       (--csv CSV --images DIR [--resize R] | --idx IMAGES LABELS)\n"
            "       [--n 6] [--feature -1] [--steps 20] [--grad-steps 0] [--out DIR]\n"
            "       [--view-label L] [--view-steps 1000] [--view-png FILE] [--optimize 1]\n");
}

int main(int argc, char **argv)
{
    const char *model = NULL, *csv = NULL, *images = NULL, *idx_img = NULL, *idx_lab = NULL;
    const char *out = NULL, *view_png = NULL;
    size_t size = 224, channels = 3, threads = 2, resize = 0, n = 6, steps = 20;
    size_t grad_steps = 0, view_steps = 1000;
    long feature = -1, view_label = -1;
    int optimize = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--size")) size = (size_t)atol(v);
        else if (!strcmp(a, "--channels")) channels = (size_t)atol(v);
        else if (!strcmp(a, "--threads")) threads = (size_t)atol(v);
        else if (!strcmp(a, "--resize")) resize = (size_t)atol(v);
        else if (!strcmp(a, "--csv")) csv = v;
        else if (!strcmp(a, "--images")) images = v;
        else if (!strcmp(a, "--idx") && i + 2 < argc) {
            idx_img = v;
            idx_lab = argv[++i + 1];
        } else if (!strcmp(a, "--n")) n = (size_t)atol(v);
        else if (!strcmp(a, "--feature")) feature = atol(v);
        else if (!strcmp(a, "--steps")) steps = (size_t)atol(v);
        else if (!strcmp(a, "--grad-steps")) grad_steps = (size_t)atol(v);
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--view-label")) view_label = atol(v);
        else if (!strcmp(a, "--view-steps")) view_steps = (size_t)atol(v);
        else if (!strcmp(a, "--view-png")) view_png = v;
        else if (!strcmp(a, "--optimize")) optimize = atoi(v);
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (!model || (!csv && !idx_img) || n == 0) {
        usage();
        return 2;
    }

    barlow_dataset *ds = NULL;
    if (csv) {
        barlow_dataset_csv_options co;
        barlow_dataset_csv_options_init(&co);
        co.image_root = images;
        if (barlow_dataset_load_csv(csv, &co, &ds) != BARLOW_OK) return fail(csv);
    } else if (barlow_dataset_load_idx(idx_img, idx_lab, &ds) != BARLOW_OK) {
        return fail(idx_img);
    }
    if (barlow_dataset_size(ds) < n) {
        fprintf(stderr, "bench_attack: the dataset has fewer than %zu rows\n", n);
        return 1;
    }

    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    o.input_size = size;
    o.resize = resize;
    o.channels = channels;
    o.threads = threads;
    o.optimize = optimize;
    double t0 = now();
    barlow_extractor *ex = NULL;
    if (barlow_extractor_create_from_file(model, &o, &ex) != BARLOW_OK) return fail(model);
    double t_load = now() - t0;
    size_t per = channels * size * size, D = barlow_extractor_feature_count(ex);

    size_t *rows = malloc(n * sizeof *rows);
    float *x0 = malloc(n * per * sizeof *x0), *g = malloc(n * per * sizeof *g);
    float *xa = malloc(n * per * sizeof *xa), *f = malloc(n * D * sizeof *f);
    float *before = malloc(n * sizeof *before), *after = malloc(n * sizeof *after);
    float *dist = malloc(n * sizeof *dist), *gv = malloc(n * sizeof *gv);
    if (!rows || !x0 || !g || !xa || !f || !before || !after || !dist || !gv) return 1;
    for (size_t i = 0; i < n; i++) rows[i] = i;
    if (barlow_extractor_load_inputs(ex, ds, rows, n, x0) != BARLOW_OK) return fail("load");

    /* the feature: given, or the largest mean over the inputs */
    if (barlow_extractor_run(ex, x0, n, f, NULL) != BARLOW_OK) return fail("run");
    if (feature < 0) {
        double best = -INFINITY;
        for (size_t j = 0; j < D; j++) {
            double s = 0;
            for (size_t i = 0; i < n; i++) s += f[i * D + j];
            if (s > best) {
                best = s;
                feature = (long)j;
            }
        }
    }
    if ((size_t)feature >= D) {
        fprintf(stderr, "bench_attack: feature %ld >= %zu\n", feature, D);
        return 2;
    }

    /* features of the rows for the visualizer (only these rows: index) */
    barlow_matrix *feats = NULL;
    if (barlow_matrix_wrap(f, n, D, 0, &feats) != BARLOW_OK) return fail("wrap");
    barlow_visualizer_options vo;
    barlow_visualizer_options_init(&vo);
    vo.attack_steps = steps;
    barlow_visualizer *vis = NULL;
    if (barlow_visualizer_create(ex, ds, feats, rows, n, &vo, &vis) != BARLOW_OK)
        return fail("visualizer");
    double step, eps;
    barlow_visualizer_attack_budget(vis, &step, &eps);

    /* warm-up: one gradient (libtorch's first autograd calls are slower) */
    if (barlow_extractor_feature_gradient(ex, x0, n, (size_t)feature, gv, g) != BARLOW_OK)
        return fail("gradient");

    /* the headline: barlow_visualizer_attack, the whole call */
    clock_marks cm = {0};
    t0 = now();
    if (barlow_visualizer_attack(vis, (size_t)feature, rows, n, mark, &cm, xa, before, after,
                                 dist) != BARLOW_OK)
        return fail("attack");
    double t_attack = now() - t0;
    double loop_sps = cm.n_last > cm.n_first && cm.last > cm.first
                          ? (double)(cm.n_last - cm.n_first) / (cm.last - cm.first)
                          : 0.0;

    /* the bare gradient on the same inputs */
    double t_grad = 0;
    if (grad_steps) {
        t0 = now();
        for (size_t s = 0; s < grad_steps; s++)
            if (barlow_extractor_feature_gradient(ex, x0, n, (size_t)feature, gv, g) !=
                BARLOW_OK)
                return fail("gradient");
        t_grad = now() - t0;
    }

    if (out) {
        char path[4096];
        size_t shape[4] = {n, channels, size, size};
        snprintf(path, sizeof path, "%s/x0.npy", out);
        if (barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 4, shape, x0, path) != BARLOW_OK)
            return fail(path);
        snprintf(path, sizeof path, "%s/attacked.npy", out);
        if (barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 4, shape, xa, path) != BARLOW_OK)
            return fail(path);
    }

    printf("{\"n\": %zu, \"feature\": %ld, \"feature_dim\": %zu, \"optimized\": %d, "
           "\"load_s\": %.3f, \"step\": %.9g, \"eps\": %.9g, \"steps\": %zu, "
           "\"attack_s\": %.4f, \"attack_sps\": %.3f, \"loop_sps\": %.3f, "
           "\"grad_steps\": %zu, \"grad_sps\": %.3f, \"before\": [",
           n, feature, D, barlow_extractor_is_optimized(ex), t_load, step, eps, steps, t_attack,
           (double)steps / t_attack, loop_sps, grad_steps,
           grad_steps ? (double)grad_steps / t_grad : 0.0);
    for (size_t i = 0; i < n; i++) printf("%s%.9g", i ? ", " : "", before[i]);
    printf("], \"after\": [");
    for (size_t i = 0; i < n; i++) printf("%s%.9g", i ? ", " : "", after[i]);
    printf("], \"distance\": [");
    for (size_t i = 0; i < n; i++) printf("%s%.9g", i ? ", " : "", dist[i]);
    printf("]");
    barlow_visualizer_free(vis);
    barlow_matrix_free(feats);

    /* a whole view on the rows labelled view_label (attack_steps view_steps) */
    if (view_label >= 0) {
        barlow_extraction *r = NULL;
        if (barlow_extractor_extract(ex, ds, NULL, NULL, &r) != BARLOW_OK) return fail("extract");
        size_t m = barlow_dataset_size(ds), nv = 0;
        const int32_t *lab = barlow_dataset_labels(ds);
        size_t *vrows = malloc(m * sizeof *vrows);
        if (!vrows) return 1;
        for (size_t i = 0; i < m; i++)
            if (lab[i] == (int32_t)view_label) vrows[nv++] = i;
        vo.attack_steps = view_steps;
        barlow_feature_view *fv = NULL;
        t0 = now();
        if (barlow_visualizer_create(ex, ds, barlow_extraction_features(r),
                                     barlow_extraction_index(r), barlow_extraction_count(r), &vo,
                                     &vis) != BARLOW_OK)
            return fail("visualizer (view)");
        if (barlow_visualizer_view(vis, (size_t)feature, vrows, nv, NULL, NULL, NULL, &fv) !=
            BARLOW_OK)
            return fail("view");
        if (view_png && barlow_image_save_png(barlow_feature_view_panel(fv), view_png) !=
                            BARLOW_OK)
            return fail(view_png);
        double t_view = now() - t0;
        printf(", \"view_rows\": %zu, \"view_steps\": %zu, \"view_s\": %.3f", nv, view_steps,
               t_view);
        barlow_feature_view_free(fv);
        barlow_visualizer_free(vis);
        barlow_extraction_free(r);
        free(vrows);
    }
    printf("}\n");
    free(rows);
    free(x0);
    free(g);
    free(xa);
    free(f);
    free(before);
    free(after);
    free(dist);
    free(gv);
    barlow_extractor_free(ex);
    barlow_dataset_free(ds);
    return 0;
}
