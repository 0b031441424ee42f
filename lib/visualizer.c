/* barlow_visualizer: rankings, raw heatmaps, feature attacks and failure
 * samples of one feature on a row set (include/barlow/visualizer.h). The
 * panels (tiles, captions, layout) are in lib/visualizer_panel.c, the
 * drawing primitives in lib/render.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/visualizer.h"
#include "internal.h"
#include "rng.h"
#include "visualizer_internal.h"

void barlow_visualizer_options_init(barlow_visualizer_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_VISUALIZER_OPTIONS_VERSION;
    opts->k = 6;
    opts->least = 0;
    opts->scale = BARLOW_HEATMAP_SHARED;
    opts->heatmap_alpha = 0.6;
    opts->attack = 1;
    opts->attack_steps = 1000;
    opts->attack_step = 1.0;
    opts->attack_eps = 500.0;
    opts->attack_scale_to_input = 1;
    opts->seed = 0;
    opts->tile_size = 112;
}

static barlow_status check_flag(const char *who, const char *name, int v)
{
    if (v == 0 || v == 1) return BARLOW_OK;
    return bw_error(BARLOW_E_INVALID_ARG, "%s: %s=%d (must be 0 or 1)", who, name, v);
}

static barlow_status check_options(const barlow_visualizer_options *o, const char *who)
{
    barlow_status st = bw_check_options_version(o->version, BARLOW_VISUALIZER_OPTIONS_VERSION,
                                                "barlow_visualizer_create: "
                                                "barlow_visualizer_options");
    if (st) return st;
    if (o->k < 1 || o->k > BARLOW_VISUALIZER_MAX_K)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: k=%zu (must be 1..%d)", who, o->k,
                        BARLOW_VISUALIZER_MAX_K);
    if ((st = check_flag(who, "least", o->least)) || (st = check_flag(who, "attack", o->attack)) ||
        (st = check_flag(who, "attack_scale_to_input", o->attack_scale_to_input)))
        return st;
    if (o->scale != BARLOW_HEATMAP_SHARED && o->scale != BARLOW_HEATMAP_PER_IMAGE)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: scale=%d (must be BARLOW_HEATMAP_SHARED or "
                                              "BARLOW_HEATMAP_PER_IMAGE)", who, (int)o->scale);
    if (!(o->heatmap_alpha >= 0.0 && o->heatmap_alpha <= 1.0))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: heatmap_alpha=%g (must be 0..1)", who,
                        o->heatmap_alpha);
    if (o->attack_steps > 1000000)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: attack_steps=%zu (must be 0..1000000)", who,
                        o->attack_steps);
    if (!(o->attack_step > 0.0) || !isfinite(o->attack_step))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: attack_step=%g (must be finite and > 0)",
                        who, o->attack_step);
    if (!(o->attack_eps >= 0.0) || !isfinite(o->attack_eps))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: attack_eps=%g (must be finite and >= 0)",
                        who, o->attack_eps);
    if (o->tile_size < 16 || o->tile_size > 1024)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: tile_size=%zu (must be 16..1024)", who,
                        o->tile_size);
    return BARLOW_OK;
}

/* The dataset-row → feature-row map; INVALID_ARG for a bad index. */
static barlow_status build_frow(barlow_visualizer *v, const size_t *index, const char *who)
{
    v->frow = bw_mallocn(v->n_ds ? v->n_ds : 1, sizeof *v->frow, who);
    if (!v->frow) return BARLOW_E_NOMEM;
    for (size_t r = 0; r < v->n_ds; r++) v->frow[r] = SIZE_MAX;
    for (size_t i = 0; i < v->m; i++) {
        size_t r = index ? index[i] : i;
        if (r >= v->n_ds)
            return bw_error(BARLOW_E_INVALID_ARG, "%s: index[%zu] = %zu is not a dataset row "
                                                  "(the dataset has %zu rows)", who, i, r, v->n_ds);
        if (v->frow[r] != SIZE_MAX)
            return bw_error(BARLOW_E_INVALID_ARG, "%s: index[%zu] = %zu repeats index[%zu]", who,
                            i, r, v->frow[r]);
        v->frow[r] = i;
    }
    return BARLOW_OK;
}

static barlow_status check_shapes(const barlow_extractor *ex, const barlow_dataset *ds,
                                  const barlow_matrix *X, const size_t *index, size_t n_index,
                                  const char *who)
{
    size_t m = barlow_matrix_rows(X), d = barlow_matrix_cols(X);
    size_t D = barlow_extractor_feature_count(ex), n = barlow_dataset_size(ds);
    if (d != D)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the features have %zu columns but the model "
                                              "has %zu features", who, d, D);
    if (index && m != n_index)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the features have %zu rows but the index has "
                                              "%zu entries", who, m, n_index);
    if (!index && m != n)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the features have %zu rows but the dataset "
                                              "has %zu rows (give the extraction's index)", who,
                        m, n);
    return BARLOW_OK;
}

barlow_status barlow_visualizer_create(barlow_extractor *ex, const barlow_dataset *ds,
                                       const barlow_matrix *features, const size_t *index,
                                       size_t n_index, const barlow_visualizer_options *opts,
                                       barlow_visualizer **out)
{
    static const char who[] = "barlow_visualizer_create";
    bw_clear_error();
    if (!ex || !ds || !features || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ex ? "ex" : !ds ? "ds" : !features ? "features" : "out");
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    if (opts) o = *opts;
    barlow_status st = check_options(&o, who);
    if (st == BARLOW_OK) st = check_shapes(ex, ds, features, index, n_index, who);
    if (st != BARLOW_OK) return st;
    barlow_visualizer *v = bw_calloc(1, sizeof *v, who);
    if (!v) return BARLOW_E_NOMEM;
    v->ex = ex;
    v->ds = ds;
    v->X = features;
    v->o = o;
    v->m = barlow_matrix_rows(features);
    v->d = barlow_matrix_cols(features);
    v->n_ds = barlow_dataset_size(ds);
    v->C = barlow_extractor_input_channels(ex);
    v->S = barlow_extractor_input_size(ex);
    v->fh = barlow_extractor_feature_map_height(ex);
    v->fw = barlow_extractor_feature_map_width(ex);
    double s = o.attack_scale_to_input ? sqrt((double)(v->C * v->S * v->S) / 150528.0) : 1.0;
    v->step = o.attack_step * s;
    v->eps = o.attack_eps * s;
    st = build_frow(v, index, who);
    if (st != BARLOW_OK) {
        barlow_visualizer_free(v);
        return st;
    }
    *out = v;
    return BARLOW_OK;
}

void barlow_visualizer_free(barlow_visualizer *v)
{
    if (!v) return;
    bw_free(v->frow);
    bw_free(v);
}

barlow_status barlow_visualizer_set_logits(barlow_visualizer *v, const barlow_matrix *logits)
{
    static const char who[] = "barlow_visualizer_set_logits";
    bw_clear_error();
    if (!v) return bw_error(BARLOW_E_INVALID_ARG, "%s: v is NULL", who);
    if (logits && barlow_matrix_rows(logits) != v->m)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the logits have %zu rows but the features "
                                              "have %zu", who, barlow_matrix_rows(logits), v->m);
    if (logits && barlow_matrix_cols(logits) < 2)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the logits have %zu columns (need >= 2)", who,
                        barlow_matrix_cols(logits));
    v->logits = logits;
    return BARLOW_OK;
}

void barlow_visualizer_attack_budget(const barlow_visualizer *v, double *step, double *eps)
{
    if (step) *step = v ? v->step : 0.0;
    if (eps) *eps = v ? v->eps : 0.0;
}

/* ---- row sets ------------------------------------------------------------- */

barlow_status bw_vis_check_rows(const barlow_visualizer *v, const size_t *rows, size_t n,
                                const char *who)
{
    if (n > 0 && !rows) return bw_error(BARLOW_E_INVALID_ARG, "%s: rows is NULL", who);
    uint8_t *seen = bw_calloc(v->n_ds / 8 + 1, 1, who);
    if (!seen) return BARLOW_E_NOMEM;
    barlow_status st = BARLOW_OK;
    for (size_t i = 0; i < n && st == BARLOW_OK; i++) {
        size_t r = rows[i];
        if (r >= v->n_ds)
            st = bw_error(BARLOW_E_INVALID_ARG, "%s: rows[%zu] = %zu is not a dataset row (the "
                                                "dataset has %zu rows)", who, i, r, v->n_ds);
        else if (seen[r / 8] & (1u << (r % 8)))
            st = bw_error(BARLOW_E_INVALID_ARG, "%s: rows[%zu] = %zu is repeated", who, i, r);
        else
            seen[r / 8] |= (uint8_t)(1u << (r % 8));
    }
    bw_free(seen);
    return st;
}

float bw_vis_value(const barlow_visualizer *v, size_t row, size_t feature)
{
    return barlow_matrix_row(v->X, v->frow[row])[feature];
}

/* 1 when (a, ra) ranks before (b, rb): higher (least: lower) value first,
 * then the lower row. */
static int ranks_before(float a, size_t ra, float b, size_t rb, int least)
{
    if (a != b) return least ? a < b : a > b;
    return ra < rb;
}

/* Offers (x, r) to the best-first list val/row of *got <= k entries: it is
 * inserted in order when it ranks before the last one or the list has room. */
static void topk_offer(float *val, size_t *row, size_t *got, size_t k, float x, size_t r,
                       int least)
{
    if (*got == k && !ranks_before(x, r, val[k - 1], row[k - 1], least)) return;
    size_t j = *got < k ? (*got)++ : k - 1;
    while (j > 0 && ranks_before(x, r, val[j - 1], row[j - 1], least)) {
        val[j] = val[j - 1];
        row[j] = row[j - 1];
        j--;
    }
    val[j] = x;
    row[j] = r;
}

barlow_status barlow_visualizer_rank(const barlow_visualizer *v, size_t feature,
                                     const size_t *rows, size_t n, int least, size_t k,
                                     size_t *out_rows, float *out_values, size_t *n_out,
                                     size_t *n_considered)
{
    static const char who[] = "barlow_visualizer_rank";
    bw_clear_error();
    if (!v || !out_rows || !n_out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !v ? "v" : !out_rows ? "out_rows" : "n_out");
    if (feature >= v->d)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: feature=%zu (the features have %zu: 0..%zu)",
                        who, feature, v->d, v->d - 1);
    if (k == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: k is 0", who);
    barlow_status st = bw_vis_check_rows(v, rows, n, who);
    if (st != BARLOW_OK) return st;
    size_t got = 0, considered = 0;
    float *val = bw_mallocn(k, sizeof *val, who);
    size_t *row = bw_mallocn(k, sizeof *row, who);
    if (!val || !row) {
        bw_free(val);
        bw_free(row);
        return BARLOW_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        if (v->frow[r] == SIZE_MAX) continue;
        float x = bw_vis_value(v, r, feature);
        if (!isfinite(x)) continue;
        considered++;
        topk_offer(val, row, &got, k, x, r, least);
    }
    if (considered == 0) st = bw_error(BARLOW_E_INVALID_ARG, "%s: empty row set (none of its %zu "
                                                             "rows has features)", who, n);
    if (st == BARLOW_OK) {
        memcpy(out_rows, row, got * sizeof *row);
        if (out_values) memcpy(out_values, val, got * sizeof *val);
        *n_out = got;
        if (n_considered) *n_considered = considered;
    }
    bw_free(val);
    bw_free(row);
    return st;
}

/* ---- failure samples -------------------------------------------------------- */

/* 1 when dataset row r is an extracted failure. */
static int is_failure(const barlow_visualizer *v, const int32_t *lab, const int32_t *pred,
                      size_t r)
{
    return lab[r] != pred[r] && v->frow[r] != SIZE_MAX;
}

size_t bw_vis_failure_count(const barlow_visualizer *v, const size_t *rows, size_t n)
{
    const int32_t *lab = barlow_dataset_labels(v->ds), *pred = barlow_dataset_predictions(v->ds);
    size_t c = 0;
    for (size_t i = 0; pred && i < n; i++) c += (size_t)is_failure(v, lab, pred, rows[i]);
    return c;
}

/* The failures of rows[0..n) that were extracted (a row whose image failed
 * at extraction has nothing to show), in row-set order (bw_malloc'd, *count
 * of them). */
static barlow_status failures_of(const barlow_visualizer *v, const size_t *rows, size_t n,
                                 size_t **out, size_t *count, const char *who)
{
    const int32_t *lab = barlow_dataset_labels(v->ds), *pred = barlow_dataset_predictions(v->ds);
    if (!pred)
        return bw_error(BARLOW_E_STATE, "%s: the dataset has no predictions (failures are "
                                        "prediction != label)", who);
    size_t *f = bw_mallocn(n ? n : 1, sizeof *f, who);
    if (!f) return BARLOW_E_NOMEM;
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (is_failure(v, lab, pred, rows[i])) f[c++] = rows[i];
    *out = f;
    *count = c;
    return BARLOW_OK;
}

static barlow_status sample_args(const barlow_visualizer *v, const size_t *rows, size_t n,
                                 size_t k, const size_t *out, const size_t *n_out,
                                 const char *who)
{
    if (!v || !out || !n_out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !v ? "v" : !out ? "out" : "n_out");
    if (k == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: k is 0", who);
    return bw_vis_check_rows(v, rows, n, who);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

barlow_status barlow_visualizer_failure_samples(const barlow_visualizer *v, const size_t *rows,
                                                size_t n, size_t k, size_t *out, size_t *n_out)
{
    static const char who[] = "barlow_visualizer_failure_samples";
    bw_clear_error();
    barlow_status st = sample_args(v, rows, n, k, out, n_out, who);
    size_t *f = NULL, c = 0;
    if (st == BARLOW_OK) st = failures_of(v, rows, n, &f, &c, who);
    if (st != BARLOW_OK) return st;
    if (c <= k) {
        qsort(f, c, sizeof *f, cmp_size); /* all of them, in row order */
    } else {
        bw_rng rng;
        bw_rng_seed(&rng, v->o.seed);
        for (size_t i = 0; i < k; i++) { /* a partial Fisher-Yates shuffle */
            size_t j = i + (size_t)(bw_rng_double(&rng) * (double)(c - i));
            if (j >= c) j = c - 1;
            size_t t = f[i];
            f[i] = f[j];
            f[j] = t;
        }
        c = k;
    }
    memcpy(out, f, c * sizeof *f);
    *n_out = c;
    bw_free(f);
    return BARLOW_OK;
}

/* The largest softmax probability of logits row `lr`. */
static float confidence(const barlow_matrix *logits, size_t lr)
{
    const float *z = barlow_matrix_row(logits, lr);
    size_t K = barlow_matrix_cols(logits);
    double mx = z[0], sum = 0.0;
    for (size_t j = 1; j < K; j++)
        if (z[j] > mx) mx = z[j];
    for (size_t j = 0; j < K; j++) sum += exp((double)z[j] - mx);
    return (float)(1.0 / sum);
}

barlow_status barlow_visualizer_confident_failures(const barlow_visualizer *v,
                                                   const size_t *rows, size_t n, size_t k,
                                                   size_t *out, float *out_conf, size_t *n_out)
{
    static const char who[] = "barlow_visualizer_confident_failures";
    bw_clear_error();
    barlow_status st = sample_args(v, rows, n, k, out, n_out, who);
    if (st == BARLOW_OK && !v->logits)
        st = bw_error(BARLOW_E_STATE, "%s: no logits were given (barlow_visualizer_set_logits)",
                      who);
    size_t *f = NULL, c = 0;
    if (st == BARLOW_OK) st = failures_of(v, rows, n, &f, &c, who);
    if (st != BARLOW_OK) return st;
    size_t got = 0;
    if (k > c) k = c ? c : 1;
    float *conf = bw_mallocn(k, sizeof *conf, who);
    size_t *best = bw_mallocn(k, sizeof *best, who);
    if (!conf || !best) {
        bw_free(conf);
        bw_free(best);
        bw_free(f);
        return BARLOW_E_NOMEM;
    }
    for (size_t i = 0; i < c; i++) {
        if (v->frow[f[i]] == SIZE_MAX) continue;
        float p = confidence(v->logits, v->frow[f[i]]);
        if (p == p) topk_offer(conf, best, &got, k, p, f[i], 0);
    }
    bw_free(f);
    memcpy(out, best, got * sizeof *best);
    if (out_conf) memcpy(out_conf, conf, got * sizeof *conf);
    *n_out = got;
    bw_free(conf);
    bw_free(best);
    return BARLOW_OK;
}

/* ---- maps and attacks --------------------------------------------------------- */

barlow_status bw_vis_load(barlow_visualizer *v, const size_t *rows, size_t n, float **out,
                          const char *who)
{
    size_t per = v->C * v->S * v->S;
    float *x = bw_mallocn(n, per * sizeof *x, who);
    if (!x) return BARLOW_E_NOMEM;
    barlow_status st = barlow_extractor_load_inputs(v->ex, v->ds, rows, n, x);
    if (st != BARLOW_OK) {
        bw_free(x);
        return bw_error_prefix(st, "%s", who);
    }
    *out = x;
    return BARLOW_OK;
}

/* Common checks of _maps and _attack. */
static barlow_status piece_args(const barlow_visualizer *v, size_t feature, const size_t *rows,
                                size_t n, const void *out, const char *out_name,
                                const char *who)
{
    if (!v || !rows || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !v ? "v" : !rows ? "rows" : out_name);
    if (n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n is 0", who);
    if (feature >= v->d)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: feature=%zu (the features have %zu: 0..%zu)",
                        who, feature, v->d, v->d - 1);
    return bw_vis_check_rows(v, rows, n, who);
}

barlow_status barlow_visualizer_maps(barlow_visualizer *v, size_t feature, const size_t *rows,
                                     size_t n, float *maps)
{
    static const char who[] = "barlow_visualizer_maps";
    bw_clear_error();
    barlow_status st = piece_args(v, feature, rows, n, maps, "maps", who);
    float *x = NULL;
    if (st == BARLOW_OK) st = bw_vis_load(v, rows, n, &x, who);
    if (st == BARLOW_OK) st = barlow_extractor_feature_map(v->ex, x, n, feature, maps);
    bw_free(x);
    return st;
}

/* The feature of n inputs by a plain forward (the optimised model). */
static barlow_status feature_of(barlow_visualizer *v, const float *x, size_t n, size_t feature,
                                float *out, const char *who)
{
    float *f = bw_mallocn(n, v->d * sizeof *f, who);
    if (!f) return BARLOW_E_NOMEM;
    barlow_status st = barlow_extractor_run(v->ex, x, n, f, NULL);
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) out[i] = f[i * v->d + feature];
    bw_free(f);
    return st;
}

static float clamp01(double v) { return v < 0.0 ? 0.0f : v > 1.0 ? 1.0f : (float)v; }

/* The step of attack_step for one image when float arithmetic would
 * overflow (step >= 1e30, or step/|g| >= 1e30 for a tiny gradient: any
 * finite step is allowed), in double: d = g/|g| (in [-1, 1]), y = x + step d,
 * onto the eps ball around x0, into [0,1]. For step >= 1e30, x - x0 (at
 * most sqrt(per) long: both lie in [0,1]) vanishes beside step d, so y - x0
 * is taken as step d: x0 + eps d when step > eps, else x + step d. */
static void attack_step_wide(float *xi, const float *oi, const float *gi, size_t per, double gn,
                             double step, double eps)
{
    if (step >= 1e30) {
        for (size_t j = 0; j < per; j++) {
            double d = (double)gi[j] / gn;
            xi[j] = step > eps ? clamp01(oi[j] + eps * d) : clamp01(xi[j] + step * d);
        }
        return;
    }
    double dn = 0.0;
    for (size_t j = 0; j < per; j++) {
        double y = xi[j] + step * ((double)gi[j] / gn) - oi[j];
        dn += y * y;
    }
    dn = sqrt(dn);
    double s = dn > eps ? eps / dn : 1.0;
    for (size_t j = 0; j < per; j++)
        xi[j] = clamp01(oi[j] + s * (xi[j] + step * ((double)gi[j] / gn) - oi[j]));
}

/* One step on every image: x += step g/|g| (a zero or non-finite gradient
 * leaves x), then onto the eps ball around x0, then into [0,1]. */
static void attack_step(float *x, const float *x0, const float *g, size_t n, size_t per,
                        double step, double eps)
{
    for (size_t i = 0; i < n; i++) {
        float *xi = x + i * per;
        const float *gi = g + i * per, *oi = x0 + i * per;
        double gn = 0.0;
        for (size_t j = 0; j < per; j++) gn += (double)gi[j] * gi[j];
        gn = sqrt(gn);
        if (gn > 0.0 && isfinite(gn) && !(step < 1e30 && step / gn < 1e30)) {
            attack_step_wide(xi, oi, gi, per, gn, step, eps);
            continue;
        }
        if (gn > 0.0 && isfinite(gn)) {
            float s = (float)(step / gn);
            for (size_t j = 0; j < per; j++) xi[j] += s * gi[j];
        }
        double dn = 0.0;
        for (size_t j = 0; j < per; j++) dn += (double)(xi[j] - oi[j]) * (xi[j] - oi[j]);
        dn = sqrt(dn);
        if (dn > eps) {
            float s = dn > 0.0 ? (float)(eps / dn) : 0.0f;
            for (size_t j = 0; j < per; j++) xi[j] = oi[j] + s * (xi[j] - oi[j]);
        }
        for (size_t j = 0; j < per; j++) xi[j] = xi[j] < 0.0f ? 0.0f : xi[j] > 1.0f ? 1.0f : xi[j];
    }
}

static void distances(const float *x, const float *x0, size_t n, size_t per, float *out)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < per; j++) {
            double dlt = (double)x[i * per + j] - x0[i * per + j];
            s += dlt * dlt;
        }
        out[i] = (float)sqrt(s);
    }
}

barlow_status bw_vis_attack(barlow_visualizer *v, size_t feature, const float *x0, size_t n,
                            barlow_progress_fn progress, void *user_data, float *images,
                            float *before, float *after, float *distance, const char *who)
{
    size_t per = v->C * v->S * v->S, steps = v->o.attack_steps;
    float *x = bw_mallocn(n, per * sizeof *x, who), *g = bw_mallocn(n, per * sizeof *g, who);
    float *vb = bw_mallocn(n, sizeof *vb, who), *va = bw_mallocn(n, sizeof *va, who);
    barlow_status st = x && g && vb && va ? BARLOW_OK : BARLOW_E_NOMEM;
    if (st == BARLOW_OK) {
        memcpy(x, x0, n * per * sizeof *x);
        st = feature_of(v, x0, n, feature, vb, who);
    }
    for (size_t s = 0; st == BARLOW_OK && s < steps; s++) {
        st = barlow_extractor_feature_gradient(v->ex, x, n, feature, NULL, g);
        if (st != BARLOW_OK) break;
        attack_step(x, x0, g, n, per, v->step, v->eps);
        if (progress && progress(s + 1, steps, user_data) != 0)
            st = bw_error(BARLOW_E_CANCELLED, "%s: cancelled after %zu of %zu steps", who, s + 1,
                          steps);
    }
    if (st == BARLOW_OK) st = feature_of(v, x, n, feature, va, who);
    if (st == BARLOW_OK) {
        memcpy(images, x, n * per * sizeof *x);
        if (before) memcpy(before, vb, n * sizeof *vb);
        if (after) memcpy(after, va, n * sizeof *va);
        if (distance) distances(x, x0, n, per, distance);
    }
    bw_free(x);
    bw_free(g);
    bw_free(vb);
    bw_free(va);
    return st;
}

barlow_status barlow_visualizer_attack(barlow_visualizer *v, size_t feature, const size_t *rows,
                                       size_t n, barlow_progress_fn progress, void *user_data,
                                       float *images, float *before, float *after,
                                       float *distance)
{
    static const char who[] = "barlow_visualizer_attack";
    bw_clear_error();
    barlow_status st = piece_args(v, feature, rows, n, images, "images", who);
    float *x0 = NULL;
    if (st == BARLOW_OK) st = bw_vis_load(v, rows, n, &x0, who);
    if (st == BARLOW_OK)
        st = bw_vis_attack(v, feature, x0, n, progress, user_data, images, before, after,
                           distance, who);
    bw_free(x0);
    return st;
}
