/* Tests of barlow_visualizer (public API only) on the tiny TorchScript
 * models of tools/make_test_models.py ($BARLOW_TEST_MODELS): rankings and
 * ties through the extraction's index (two images of meta.csv fail), raw
 * maps against a hand computation (block_mean.pt), mean(map) = feature,
 * attacks (eps 0, the ball, [0,1], the feature rises, a separate forward,
 * cancel), failure samples, views and panels (PNG round trip), grey and RGB
 * inputs, bad input. Skipped (exit 77) without libtorch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <barlow/barlow.h>

#include "tap.h"

static const char *dir;

static const char *path_of(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int msg_has(const char *s) { return strstr(barlow_last_error(), s) != NULL; }

/* The extractor of a model at size x size (resize to the same), 1 thread. */
static barlow_extractor *extractor(const char *model, size_t size, size_t channels)
{
    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    o.input_size = size;
    o.resize = size;
    o.channels = channels;
    o.threads = 1;
    o.outputs = BARLOW_EXTRACT_FEATURES;
    barlow_extractor *ex = NULL;
    if (barlow_extractor_create_from_file(path_of(model), &o, &ex) != BARLOW_OK) {
        printf("# %s: %s\n", model, barlow_last_error());
        exit(1);
    }
    return ex;
}

static barlow_dataset *meta_dataset(const char *root)
{
    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.image_root = root;
    barlow_dataset *ds = NULL;
    if (barlow_dataset_load_csv(path_of("meta.csv"), &co, &ds) != BARLOW_OK) exit(1);
    return ds;
}

typedef struct fixture {
    barlow_extractor *ex;
    barlow_dataset *ds;
    barlow_extraction *r;
    barlow_visualizer *v;
} fixture;

static fixture setup(const char *model, const barlow_visualizer_options *vo)
{
    fixture f = {extractor(model, 32, 3), meta_dataset(path_of("images")), NULL, NULL};
    if (barlow_extractor_extract(f.ex, f.ds, NULL, NULL, &f.r) != BARLOW_OK) exit(1);
    if (barlow_visualizer_create(f.ex, f.ds, barlow_extraction_features(f.r),
                                 barlow_extraction_index(f.r), barlow_extraction_count(f.r), vo,
                                 &f.v) != BARLOW_OK) {
        printf("# visualizer: %s\n", barlow_last_error());
        exit(1);
    }
    return f;
}

static void teardown(fixture *f)
{
    barlow_visualizer_free(f->v);
    barlow_extraction_free(f->r);
    barlow_dataset_free(f->ds);
    barlow_extractor_free(f->ex);
}

static const size_t ALL[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/* The feature with the largest mean over the extracted rows (tiny_cnn's
 * ReLU leaves some features at 0 for these images). */
static size_t busy_feature(const barlow_extraction *r)
{
    const barlow_matrix *X = barlow_extraction_features(r);
    size_t best = 0, d = barlow_matrix_cols(X);
    double best_mean = -1.0;
    for (size_t j = 0; j < d; j++) {
        double s = 0.0;
        for (size_t i = 0; i < barlow_matrix_rows(X); i++) s += barlow_matrix_row(X, i)[j];
        if (s > best_mean) {
            best_mean = s;
            best = j;
        }
    }
    return best;
}

/* Rankings on hand-made features: ties go to the lower dataset row, rows
 * without features (6, 7: failed at extraction) are never ranked. */
static void test_rank(void)
{
    fixture f = setup("tiny_cnn.pt", NULL);
    size_t m = barlow_extraction_count(f.r), d = barlow_extractor_feature_count(f.ex);
    const size_t *index = barlow_extraction_index(f.r);
    TAP_OK(m == 6 && index[5] == 5, "6 of 8 rows extracted (rows 6, 7 fail)");
    float *X = calloc(m * d, sizeof *X);
    const float col2[6] = {0.5f, 2.0f, 0.5f, 3.0f, -1.0f, 2.0f};
    for (size_t i = 0; i < m; i++) X[i * d + 2] = col2[i];
    barlow_matrix *M = NULL;
    barlow_matrix_wrap(X, m, d, d, &M);
    /* the features in reverse row order, with the index saying so */
    size_t rev[6] = {5, 4, 3, 2, 1, 0};
    float *XR = calloc(m * d, sizeof *XR);
    for (size_t i = 0; i < m; i++) XR[i * d + 2] = col2[5 - i];
    barlow_matrix *MR = NULL;
    barlow_matrix_wrap(XR, m, d, d, &MR);
    barlow_visualizer *v = NULL, *vr = NULL;
    TAP_OK(barlow_visualizer_create(f.ex, f.ds, M, index, m, NULL, &v) == BARLOW_OK &&
               barlow_visualizer_create(f.ex, f.ds, MR, rev, m, NULL, &vr) == BARLOW_OK,
           "create over hand-made features");
    size_t rows[8], n = 0, considered = 0;
    float val[8];
    barlow_status st = barlow_visualizer_rank(v, 2, ALL, 8, 0, 4, rows, val, &n, &considered);
    TAP_OK(st == BARLOW_OK && n == 4 && considered == 6 && rows[0] == 3 && rows[1] == 1 &&
               rows[2] == 5 && rows[3] == 0 && val[0] == 3.0f,
           "top 4: 3, 1, 5 (tie with 1: lower row first), 0 (tie with 2)");
    size_t rows_r[8], nr = 0;
    barlow_visualizer_rank(vr, 2, ALL, 8, 0, 4, rows_r, NULL, &nr, NULL);
    TAP_OK(nr == 4 && !memcmp(rows, rows_r, 4 * sizeof *rows),
           "the same through a reversed index (features row i != dataset row i)");
    st = barlow_visualizer_rank(v, 2, ALL, 8, 1, 3, rows, val, &n, NULL);
    TAP_OK(st == BARLOW_OK && n == 3 && rows[0] == 4 && rows[1] == 0 && rows[2] == 2,
           "least 3: 4, 0, 2");
    st = barlow_visualizer_rank(v, 2, ALL, 8, 0, 64, rows, val, &n, NULL);
    TAP_OK(st == BARLOW_OK && n == 6, "k larger than the set: all 6 ranked rows");
    const size_t failed[2] = {6, 7};
    st = barlow_visualizer_rank(v, 2, failed, 2, 0, 4, rows, val, &n, NULL);
    TAP_OK(st == BARLOW_E_INVALID_ARG && msg_has("empty row set"),
           "only unextracted rows: empty row set (%s)", barlow_last_error());
    TAP_OK(barlow_visualizer_rank(v, 2, ALL, 0, 0, 4, rows, val, &n, NULL) == BARLOW_E_INVALID_ARG,
           "no rows: empty row set");
    TAP_OK(barlow_visualizer_rank(v, d, ALL, 8, 0, 4, rows, val, &n, NULL) ==
                   BARLOW_E_INVALID_ARG && msg_has("feature=16"),
           "feature >= d (%s)", barlow_last_error());
    TAP_OK(barlow_visualizer_rank(v, 2, ALL, 8, 0, 0, rows, val, &n, NULL) == BARLOW_E_INVALID_ARG,
           "k = 0");
    const size_t bad[2] = {1, 99}, dup[2] = {1, 1};
    TAP_OK(barlow_visualizer_rank(v, 2, bad, 2, 0, 2, rows, val, &n, NULL) == BARLOW_E_INVALID_ARG &&
               msg_has("rows[1] = 99"),
           "a row outside the dataset (%s)", barlow_last_error());
    TAP_OK(barlow_visualizer_rank(v, 2, dup, 2, 0, 2, rows, val, &n, NULL) == BARLOW_E_INVALID_ARG &&
               msg_has("repeated"),
           "a repeated row");
    barlow_visualizer_free(v);
    barlow_visualizer_free(vr);
    barlow_matrix_free(M);
    barlow_matrix_free(MR);
    free(X);
    free(XR);
    teardown(&f);
}

/* Creation errors: shapes, index, options. */
static void test_create_errors(void)
{
    fixture f = setup("tiny_cnn.pt", NULL);
    const barlow_matrix *X = barlow_extraction_features(f.r);
    const size_t *index = barlow_extraction_index(f.r);
    barlow_visualizer *v = (barlow_visualizer *)&dir, *sentinel = v;
    TAP_OK(barlow_visualizer_create(f.ex, f.ds, X, NULL, 0, NULL, &v) == BARLOW_E_INVALID_ARG &&
               msg_has("6 rows but the dataset has 8") && v == sentinel,
           "6 feature rows, 8 dataset rows, no index (%s)", barlow_last_error());
    TAP_OK(barlow_visualizer_create(f.ex, f.ds, X, index, 5, NULL, &v) == BARLOW_E_INVALID_ARG &&
               msg_has("the index has 5"),
           "index length != feature rows");
    size_t bad_index[6] = {0, 1, 2, 3, 4, 4};
    TAP_OK(barlow_visualizer_create(f.ex, f.ds, X, bad_index, 6, NULL, &v) ==
                   BARLOW_E_INVALID_ARG && msg_has("repeats"),
           "a repeated index entry");
    barlow_visualizer_options o;
    const struct { const char *field; int which; double value; } bad[] = {
        {"attack_eps", 0, NAN}, {"attack_eps", 0, -1.0}, {"attack_step", 1, 0.0},
        {"attack_step", 1, -2.0}, {"attack_step", 1, INFINITY}, {"heatmap_alpha", 2, 1.5},
        {"k", 3, 0}, {"k", 3, 65}, {"tile_size", 4, 8}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        barlow_visualizer_options_init(&o);
        if (bad[i].which == 0) o.attack_eps = bad[i].value;
        if (bad[i].which == 1) o.attack_step = bad[i].value;
        if (bad[i].which == 2) o.heatmap_alpha = bad[i].value;
        if (bad[i].which == 3) o.k = (size_t)bad[i].value;
        if (bad[i].which == 4) o.tile_size = (size_t)bad[i].value;
        TAP_OK(barlow_visualizer_create(f.ex, f.ds, X, index, 6, &o, &v) == BARLOW_E_INVALID_ARG &&
                   msg_has(bad[i].field) && v == sentinel,
               "bad %s=%g refused (%s)", bad[i].field, bad[i].value, barlow_last_error());
    }
    teardown(&f);
}

/* block_mean.pt: channel c of the map is the 4x4 block mean of
 * relu(x_c - 0.25); channel 3 is zero. */
static void test_maps_by_hand(void)
{
    fixture f = setup("block_mean.pt", NULL);
    size_t rows[2] = {0, 3}, S = 32, h = 8;
    TAP_OK(barlow_extractor_feature_map_height(f.ex) == h, "block_mean: 8x8 maps");
    float *x = malloc(2 * 3 * S * S * sizeof *x), maps[2 * 64];
    barlow_extractor_load_inputs(f.ex, f.ds, rows, 2, x);
    double worst = 0.0;
    for (size_t c = 0; c < 3; c++) {
        barlow_status st = barlow_visualizer_maps(f.v, c, rows, 2, maps);
        if (st != BARLOW_OK) worst = 1e9;
        for (size_t i = 0; i < 2 && st == BARLOW_OK; i++)
            for (size_t by = 0; by < h; by++)
                for (size_t bx = 0; bx < h; bx++) {
                    double s = 0.0;
                    for (size_t yy = 0; yy < 4; yy++)
                        for (size_t xx = 0; xx < 4; xx++) {
                            double p = x[(i * 3 + c) * S * S + (by * 4 + yy) * S + bx * 4 + xx];
                            s += p > 0.25 ? p - 0.25 : 0.0;
                        }
                    double dlt = fabs(s / 16.0 - maps[i * 64 + by * h + bx]);
                    if (dlt > worst) worst = dlt;
                }
    }
    TAP_OK(worst < 1e-6, "maps = 4x4 block means of relu(x - 0.25), by hand (max err %g)", worst);
    /* the all-zero channel renders as the plain image */
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.attack = 0;
    barlow_visualizer *v = NULL;
    barlow_visualizer_create(f.ex, f.ds, barlow_extraction_features(f.r),
                             barlow_extraction_index(f.r), 6, &o, &v);
    barlow_feature_view *fv = NULL;
    barlow_status st = barlow_visualizer_view(v, 3, ALL, 8, NULL, NULL, NULL, &fv);
    barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
    barlow_feature_view_tile(fv, BARLOW_VIEW_HEATMAP, 0, &t);
    const barlow_image *plain = barlow_feature_view_tile_image(fv, BARLOW_VIEW_TOP, 0);
    const barlow_image *heat = barlow_feature_view_tile_image(fv, BARLOW_VIEW_HEATMAP, 0);
    size_t bytes = barlow_image_width(plain) * barlow_image_height(plain) * 3;
    TAP_OK(st == BARLOW_OK && t.map_max == 0.0f && heat && plain &&
               !memcmp(barlow_image_data(plain), barlow_image_data(heat), bytes),
           "an all-zero map: max 0, the heatmap tile is the plain image (%s)", barlow_last_error());
    barlow_feature_view_free(fv);
    barlow_visualizer_free(v);
    free(x);
    teardown(&f);
}

/* On tiny_cnn: mean(map) = feature; shared vs per-image scale. */
static void test_maps_real(void)
{
    fixture f = setup("tiny_cnn.pt", NULL);
    size_t F = busy_feature(f.r);
    size_t h = barlow_extractor_feature_map_height(f.ex), w = barlow_extractor_feature_map_width(f.ex);
    size_t rows[6], n = 0;
    float val[6];
    barlow_visualizer_rank(f.v, F, ALL, 8, 0, 6, rows, val, &n, NULL);
    float *maps = malloc(n * h * w * sizeof *maps);
    barlow_status st = barlow_visualizer_maps(f.v, F, rows, n, maps);
    double worst = 0.0;
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < h * w; j++) s += maps[i * h * w + j];
        double rel = fabs(s / (double)(h * w) - val[i]) / (fabs(val[i]) + 1e-12);
        if (rel > worst) worst = rel;
    }
    TAP_OK(st == BARLOW_OK && n == 6 && worst < 1e-5,
           "mean of each raw map = the feature value (max rel err %g)", worst);
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.attack = 0;
    float maxes[2][6];
    for (int s = 0; s < 2; s++) {
        o.scale = s ? BARLOW_HEATMAP_PER_IMAGE : BARLOW_HEATMAP_SHARED;
        barlow_visualizer *v = NULL;
        barlow_feature_view *fv = NULL;
        barlow_visualizer_create(f.ex, f.ds, barlow_extraction_features(f.r),
                                 barlow_extraction_index(f.r), 6, &o, &v);
        barlow_visualizer_view(v, F, ALL, 8, NULL, NULL, NULL, &fv);
        for (size_t i = 0; i < 6; i++) {
            barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
            barlow_feature_view_tile(fv, BARLOW_VIEW_HEATMAP, i, &t);
            maxes[s][i] = t.map_max;
        }
        barlow_feature_view_free(fv);
        barlow_visualizer_free(v);
    }
    float shared = 0.0f;
    int per_ok = 1;
    for (size_t i = 0; i < 6; i++) {
        float mx = 0.0f;
        for (size_t j = 0; j < h * w; j++)
            if (maps[i * h * w + j] > mx) mx = maps[i * h * w + j];
        per_ok = per_ok && fabsf(maxes[1][i] - mx) <= 1e-6f * (mx + 1e-6f);
        if (mx > shared) shared = mx;
    }
    int shared_ok = 1;
    for (size_t i = 0; i < 6; i++) shared_ok = shared_ok && fabsf(maxes[0][i] - shared) <= 1e-6f;
    TAP_OK(shared_ok && per_ok, "shared scale: one max for all tiles; per image: each map's own");
    free(maps);
    teardown(&f);
}

static int cancel_at_3(size_t done, size_t total, void *user)
{
    (void)total;
    *(size_t *)user = done;
    return done >= 3;
}

static void test_attack(void)
{
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.attack_steps = 30;
    o.attack_scale_to_input = 0;
    o.attack_step = 0.5;
    o.attack_eps = 2.0;
    fixture f = setup("tiny_cnn.pt", &o);
    size_t F = busy_feature(f.r);
    size_t rows[3] = {0, 2, 5}, per = 3 * 32 * 32;
    float *x0 = malloc(3 * per * sizeof *x0), *xa = malloc(3 * per * sizeof *xa);
    float before[3], after[3], dist[3], check[3 * 16];
    barlow_extractor_load_inputs(f.ex, f.ds, rows, 3, x0);
    barlow_status st = barlow_visualizer_attack(f.v, F, rows, 3, NULL, NULL, xa, before, after, dist);
    int inside = 1, rose = 1;
    for (size_t i = 0; i < 3; i++) {
        double s = 0.0;
        for (size_t j = 0; j < per; j++) {
            float a = xa[i * per + j];
            inside = inside && a >= 0.0f && a <= 1.0f;
            s += ((double)a - x0[i * per + j]) * ((double)a - x0[i * per + j]);
        }
        inside = inside && sqrt(s) <= 2.0 + 1e-4 && fabs(sqrt(s) - dist[i]) < 1e-4;
        rose = rose && after[i] > before[i];
    }
    TAP_OK(st == BARLOW_OK && inside, "attacked images within eps = 2 (L2) and inside [0,1]");
    TAP_OK(rose, "the feature rises: %g -> %g, %g -> %g, %g -> %g", (double)before[0],
           (double)after[0], (double)before[1], (double)after[1], (double)before[2],
           (double)after[2]);
    barlow_extractor_run(f.ex, xa, 3, check, NULL);
    TAP_OK(fabsf(check[F] - after[0]) <= 1e-5f * (fabsf(after[0]) + 1.0f) &&
               fabsf(check[16 + F] - after[1]) <= 1e-5f * (fabsf(after[1]) + 1.0f),
           "a separate forward of the returned image gives the reported value");
    /* cancel mid-attack: CANCELLED, outputs untouched */
    float keep = xa[0] = -7.0f;
    size_t seen = 0;
    st = barlow_visualizer_attack(f.v, F, rows, 3, cancel_at_3, &seen, xa, NULL, NULL, NULL);
    TAP_OK(st == BARLOW_E_CANCELLED && seen == 3 && xa[0] == keep,
           "cancel after 3 steps: CANCELLED, nothing written (%s)", barlow_last_error());
    barlow_visualizer_free(f.v);
    o.attack_eps = 0.0;
    barlow_visualizer_create(f.ex, f.ds, barlow_extraction_features(f.r),
                             barlow_extraction_index(f.r), 6, &o, &f.v);
    st = barlow_visualizer_attack(f.v, F, rows, 3, NULL, NULL, xa, before, after, dist);
    TAP_OK(st == BARLOW_OK && !memcmp(xa, x0, 3 * per * sizeof *xa) && dist[0] == 0.0f &&
               after[0] == before[0],
           "eps = 0 returns the original images");
    double step = 0, eps = 0;
    barlow_visualizer_options_init(&o);
    barlow_visualizer *v = NULL;
    barlow_visualizer_create(f.ex, f.ds, barlow_extraction_features(f.r),
                             barlow_extraction_index(f.r), 6, &o, &v);
    barlow_visualizer_attack_budget(v, &step, &eps);
    double s = sqrt(3.0 * 32 * 32 / 150528.0);
    TAP_OK(fabs(step - s) < 1e-12 && fabs(eps - 500.0 * s) < 1e-9,
           "default budget scaled by sqrt(CHW/150528): step %g, eps %g", step, eps);
    barlow_visualizer_free(v);
    free(x0);
    free(xa);
    teardown(&f);
}

static void test_failures(void)
{
    fixture f = setup("tiny_cnn.pt", NULL);
    size_t a[8], b[8], na = 0, nb = 0;
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.seed = 5;
    barlow_visualizer *v = NULL;
    barlow_visualizer_create(f.ex, f.ds, barlow_extraction_features(f.r),
                             barlow_extraction_index(f.r), 6, &o, &v);
    /* meta.csv: failures (prediction != label) are rows 1, 2, 4, 5, 7; row
     * 7 (missing.png) was not extracted */
    barlow_status st = barlow_visualizer_failure_samples(v, ALL, 8, 8, a, &na);
    TAP_OK(st == BARLOW_OK && na == 4 && a[0] == 1 && a[1] == 2 && a[2] == 4 && a[3] == 5,
           "fewer failures than k: all the extracted ones, in row order");
    barlow_visualizer_failure_samples(v, ALL, 8, 3, a, &na);
    barlow_visualizer_failure_samples(v, ALL, 8, 3, b, &nb);
    int distinct = na == 3 && a[0] != a[1] && a[0] != a[2] && a[1] != a[2];
    TAP_OK(na == 3 && nb == 3 && !memcmp(a, b, sizeof *a * 3) && distinct,
           "3 drawn without replacement, the same for the same seed (%zu %zu %zu)", a[0], a[1],
           a[2]);
    size_t c[3], nc = 0;
    TAP_OK(barlow_visualizer_confident_failures(v, ALL, 8, 3, c, NULL, &nc) == BARLOW_E_STATE &&
               msg_has("no logits"),
           "confident failures without logits: STATE");
    float L[6 * 2] = {0, 1, 0, 3, 0, 2, 0, 0, 5, 0, 1, 0};
    barlow_matrix *LM = NULL;
    barlow_matrix_wrap(L, 6, 2, 2, &LM);
    float conf[3];
    st = barlow_visualizer_set_logits(v, LM);
    if (st == BARLOW_OK) st = barlow_visualizer_confident_failures(v, ALL, 8, 3, c, conf, &nc);
    TAP_OK(st == BARLOW_OK && nc == 3 && c[0] == 4 && c[1] == 1 && c[2] == 2 && conf[0] > conf[1],
           "most confident failures: rows 4 (p=0.993), 1, 2 (%zu %zu %zu)", c[0], c[1], c[2]);
    barlow_image *panel = NULL;
    st = barlow_visualizer_failure_panel(v, ALL, 8, "feature 7 <= 0.1: error rate 50% -> 100%",
                                         &panel);
    TAP_OK(st == BARLOW_OK && panel && barlow_image_channels(panel) == 3,
           "failure panel (%s)", barlow_last_error());
    barlow_image_free(panel);
    const size_t good[2] = {0, 3};
    TAP_OK(barlow_visualizer_failure_panel(v, good, 2, NULL, &panel) == BARLOW_E_INVALID_ARG &&
               msg_has("no failures"),
           "a set without failures: INVALID_ARG");
    barlow_visualizer_set_logits(v, NULL);
    barlow_matrix_free(LM);
    barlow_visualizer_free(v);
    teardown(&f);
}

/* A view and its panel; the PNG decodes to the same pixels. */
static void test_view_png(void)
{
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.attack_steps = 5;
    o.least = 1;
    o.k = 4;
    fixture f = setup("tiny_cnn.pt", &o);
    size_t F = busy_feature(f.r);
    barlow_feature_view *fv = NULL;
    barlow_status st = barlow_visualizer_view(f.v, F, ALL, 8, "rows: all of meta.csv", NULL, NULL, &fv);
    TAP_OK(st == BARLOW_OK && barlow_feature_view_count(fv, BARLOW_VIEW_TOP) == 4 &&
               barlow_feature_view_count(fv, BARLOW_VIEW_LEAST) == 4 &&
               barlow_feature_view_count(fv, BARLOW_VIEW_HEATMAP) == 4 &&
               barlow_feature_view_count(fv, BARLOW_VIEW_ATTACK) == 4 &&
               barlow_feature_view_rows_considered(fv) == 6,
           "view: 4 tiles in each of the 4 rows, 6 rows considered (%s)", barlow_last_error());
    const barlow_image *tile = barlow_feature_view_tile_image(fv, BARLOW_VIEW_TOP, 0);
    TAP_OK(tile && barlow_image_width(tile) == 128 && barlow_image_height(tile) == 128,
           "a 32-pixel input is upscaled x4 to a 128-pixel tile (>= 112)");
    barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
    barlow_feature_view_tile(fv, BARLOW_VIEW_ATTACK, 1, &t);
    TAP_OK(isfinite(t.attacked_value) && isfinite(t.distance) && t.row < 6,
           "attack tile facts: %g -> %g, moved %g", (double)t.value, (double)t.attacked_value,
           (double)t.distance);
    const barlow_image *panel = barlow_feature_view_panel(fv);
    char png[1024];
    snprintf(png, sizeof png, "%s/view-test.png", dir);
    barlow_image *back = NULL;
    st = barlow_image_save_png(panel, png);
    if (st == BARLOW_OK) st = barlow_image_decode_file(png, NULL, &back);
    size_t bytes = barlow_image_width(panel) * barlow_image_height(panel) * 3;
    TAP_OK(st == BARLOW_OK && barlow_image_width(back) == barlow_image_width(panel) &&
               !memcmp(barlow_image_data(back), barlow_image_data(panel), bytes),
           "the panel's PNG decodes to the same pixels");
    if (getenv("BARLOW_KEEP_PANEL")) printf("# panel kept at %s\n", png);
    else unlink(png);
    barlow_image_free(back);
    barlow_feature_view_free(fv);
    teardown(&f);
}

/* Grey 28x28 inputs (odd feature-map size), and an image deleted after
 * extraction. */
static void test_grey_and_missing(void)
{
    barlow_extractor *ex = extractor("grey_cnn.pt", 28, 1);
    char root[] = "/tmp/barlow-test-vis-XXXXXX";
    if (!mkdtemp(root)) exit(1);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp %s/* %s/", path_of("images"), root);
    if (system(cmd) != 0) exit(1);
    barlow_dataset *ds = meta_dataset(root);
    barlow_extraction *r = NULL;
    barlow_extractor_extract(ex, ds, NULL, NULL, &r);
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.attack_steps = 3;
    barlow_visualizer *v = NULL;
    barlow_feature_view *fv = NULL;
    barlow_visualizer_create(ex, ds, barlow_extraction_features(r), barlow_extraction_index(r),
                             barlow_extraction_count(r), &o, &v);
    barlow_status st = barlow_visualizer_view(v, 1, ALL, 8, NULL, NULL, NULL, &fv);
    const barlow_image *tile = barlow_feature_view_tile_image(fv, BARLOW_VIEW_HEATMAP, 0);
    size_t mh = 0, mw = 0;
    barlow_feature_view_maps(fv, &mh, &mw);
    TAP_OK(st == BARLOW_OK && tile && barlow_image_width(tile) == 112 && mh == 14 && mw == 14,
           "grey 28x28: 112-pixel tiles over 14x14 maps (%s)", barlow_last_error());
    barlow_feature_view_free(fv);
    size_t top[6], n = 0;
    barlow_visualizer_rank(v, 1, ALL, 8, 0, 6, top, NULL, &n, NULL);
    snprintf(cmd, sizeof cmd, "%s/%s", root, barlow_dataset_filename(ds, top[0]));
    unlink(cmd);
    fv = NULL;
    st = barlow_visualizer_view(v, 1, ALL, 8, NULL, NULL, NULL, &fv);
    TAP_OK(st == BARLOW_E_IO && msg_has(barlow_dataset_filename(ds, top[0])) && fv == NULL,
           "an image deleted since extraction: IO naming it (%s)", barlow_last_error());
    float map[196];
    st = barlow_visualizer_maps(v, 1, top, 1, map);
    TAP_OK(st == BARLOW_E_IO && msg_has("No such file"), "maps of it: the same error");
    barlow_visualizer_free(v);
    barlow_extraction_free(r);
    barlow_dataset_free(ds);
    barlow_extractor_free(ex);
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) printf("# could not remove %s\n", root);
}

int main(void)
{
    if (!barlow_has_torch()) TAP_SKIP_ALL("libbarlow was built without libtorch");
    dir = getenv("BARLOW_TEST_MODELS");
    if (!dir) TAP_SKIP_ALL("BARLOW_TEST_MODELS is not set");
    test_rank();
    test_create_errors();
    test_maps_by_hand();
    test_maps_real();
    test_attack();
    test_failures();
    test_view_png();
    test_grey_and_missing();
    return tap_done();
}
