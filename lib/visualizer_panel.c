/* Feature views and failure panels: tiles (upscaled inputs, heatmaps,
 * attacks), their captions and the panel layout, on lib/render.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"
#include "internal.h"
#include "render.h"
#include "visualizer_internal.h"

enum { N_ROWS = 4, MARGIN = 8, GAP = 8 };

static const uint8_t BG[3] = {255, 255, 255}, INK[3] = {20, 20, 20}, DIM[3] = {90, 90, 90};

struct barlow_feature_view {
    size_t feature, considered;
    size_t count[N_ROWS];
    barlow_view_tile *tiles[N_ROWS];
    barlow_image **img[N_ROWS];
    float *inputs;     /* count[TOP] x C x S x S, as loaded */
    char *caption;     /* NULL or the line under the title */
    float *maps;       /* count[TOP] x fh x fw */
    size_t fh, fw;
    float *attacks;    /* count[TOP] x C x S x S, or NULL */
    barlow_image *panel;
};

void barlow_feature_view_free(barlow_feature_view *fv)
{
    if (!fv) return;
    for (int r = 0; r < N_ROWS; r++) {
        for (size_t i = 0; fv->img[r] && i < fv->count[r]; i++) barlow_image_free(fv->img[r][i]);
        bw_free(fv->img[r]);
        bw_free(fv->tiles[r]);
    }
    bw_free(fv->inputs);
    bw_free(fv->caption);
    bw_free(fv->maps);
    bw_free(fv->attacks);
    barlow_image_free(fv->panel);
    bw_free(fv);
}

/* ---- tiles ----------------------------------------------------------------- */

/* The upscaling factor that brings an S-pixel input to at least tile_size. */
static size_t tile_scale(const barlow_visualizer *v)
{
    size_t f = (v->o.tile_size + v->S - 1) / v->S;
    return f ? f : 1;
}

/* A C x S x S [0,1] input as S x S x C bytes. */
static void input_to_u8(const float *chw, size_t C, size_t S, uint8_t *hwc)
{
    for (size_t c = 0; c < C; c++)
        for (size_t p = 0; p < S * S; p++) {
            float x = chw[c * S * S + p] * 255.0f + 0.5f;
            hwc[p * C + c] = (uint8_t)(x < 0.0f ? 0.0f : x > 255.0f ? 255.0f : x);
        }
}

/* An RGB tile of one input (upscaled), with the heatmap when map != NULL. */
static barlow_status make_tile(const barlow_visualizer *v, const float *input, const float *map,
                               float max, barlow_image **out, const char *who)
{
    size_t S = v->S, f = tile_scale(v), T = S * f;
    uint8_t *u8 = bw_mallocn(S * S, v->C, who);
    bw_canvas c = {0};
    barlow_status st = u8 ? bw_canvas_new(&c, T, T, BG, who) : BARLOW_E_NOMEM;
    if (st == BARLOW_OK) {
        input_to_u8(input, v->C, S, u8);
        bw_canvas_blit(&c, 0, 0, u8, S, S, v->C, f);
    }
    bw_free(u8);
    if (st == BARLOW_OK && map) {
        uint8_t *heat = bw_mallocn(T * T, 3, who);
        if (!heat) st = BARLOW_E_NOMEM;
        else {
            bw_heatmap_overlay(c.px, T, T, 3, map, v->fh, v->fw, max, v->o.heatmap_alpha, heat);
            bw_free(c.px);
            c.px = heat;
        }
    }
    if (st != BARLOW_OK) {
        bw_canvas_free(&c);
        return st;
    }
    bw_pixels px = {c.px, T, T, 3, BARLOW_IMAGE_FORMAT_NONE, 0};
    return bw_image_wrap(&px, who, out);
}

/* The largest value of a raw map (0 when none is positive). */
static float map_max(const float *m, size_t len)
{
    float mx = 0.0f;
    for (size_t i = 0; i < len; i++)
        if (m[i] > mx && isfinite(m[i])) mx = m[i];
    return mx;
}

static barlow_view_tile tile_info(const barlow_visualizer *v, size_t row, size_t feature)
{
    const int32_t *pred = barlow_dataset_predictions(v->ds);
    barlow_view_tile t = {BARLOW_VIEW_TILE_VERSION, row, bw_vis_value(v, row, feature),
                          barlow_dataset_labels(v->ds)[row], pred ? pred[row] : -1,
                          NAN, NAN, NAN};
    return t;
}

/* ---- the view ---------------------------------------------------------------- */

static barlow_status alloc_row(barlow_feature_view *fv, int r, size_t n, const char *who)
{
    fv->count[r] = n;
    fv->tiles[r] = bw_calloc(n, sizeof *fv->tiles[r], who);
    fv->img[r] = bw_calloc(n, sizeof *fv->img[r], who);
    return fv->tiles[r] && fv->img[r] ? BARLOW_OK : BARLOW_E_NOMEM;
}

/* A row of plain tiles (TOP or LEAST) for the ranked rows. */
static barlow_status plain_row(barlow_visualizer *v, barlow_feature_view *fv, int r,
                               const size_t *rows, size_t n, const float *x, const char *who)
{
    size_t per = v->C * v->S * v->S;
    barlow_status st = alloc_row(fv, r, n, who);
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) {
        fv->tiles[r][i] = tile_info(v, rows[i], fv->feature);
        st = make_tile(v, x + i * per, NULL, 0.0f, &fv->img[r][i], who);
    }
    return st;
}

/* The heatmap row: raw maps kept, tiles scaled shared or per image. */
static barlow_status heatmap_row(barlow_visualizer *v, barlow_feature_view *fv,
                                 const size_t *rows, size_t n, const float *x, const char *who)
{
    size_t per = v->C * v->S * v->S, hw = v->fh * v->fw;
    fv->fh = v->fh;
    fv->fw = v->fw;
    fv->maps = bw_mallocn(n, hw * sizeof *fv->maps, who);
    barlow_status st = fv->maps ? alloc_row(fv, BARLOW_VIEW_HEATMAP, n, who) : BARLOW_E_NOMEM;
    if (st == BARLOW_OK) st = barlow_extractor_feature_map(v->ex, x, n, fv->feature, fv->maps);
    float shared = 0.0f;
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) {
        float mx = map_max(fv->maps + i * hw, hw);
        if (mx > shared) shared = mx;
    }
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) {
        const float *m = fv->maps + i * hw;
        float mx = v->o.scale == BARLOW_HEATMAP_SHARED ? shared : map_max(m, hw);
        fv->tiles[BARLOW_VIEW_HEATMAP][i] = tile_info(v, rows[i], fv->feature);
        fv->tiles[BARLOW_VIEW_HEATMAP][i].map_max = mx;
        st = make_tile(v, x + i * per, m, mx, &fv->img[BARLOW_VIEW_HEATMAP][i], who);
    }
    return st;
}

static barlow_status attack_row(barlow_visualizer *v, barlow_feature_view *fv,
                                const size_t *rows, size_t n, const float *x,
                                barlow_progress_fn progress, void *user, const char *who)
{
    size_t per = v->C * v->S * v->S;
    float *after = bw_mallocn(n, sizeof *after, who), *dist = bw_mallocn(n, sizeof *dist, who);
    fv->attacks = bw_mallocn(n, per * sizeof *fv->attacks, who);
    barlow_status st = after && dist && fv->attacks ? alloc_row(fv, BARLOW_VIEW_ATTACK, n, who)
                                                    : BARLOW_E_NOMEM;
    if (st == BARLOW_OK)
        st = bw_vis_attack(v, fv->feature, x, n, progress, user, fv->attacks, NULL, after, dist,
                           who);
    for (size_t i = 0; st == BARLOW_OK && i < n; i++) {
        barlow_view_tile *t = &fv->tiles[BARLOW_VIEW_ATTACK][i];
        *t = tile_info(v, rows[i], fv->feature);
        t->attacked_value = after[i];
        t->distance = dist[i];
        st = make_tile(v, fv->attacks + i * per, NULL, 0.0f, &fv->img[BARLOW_VIEW_ATTACK][i],
                       who);
    }
    bw_free(after);
    bw_free(dist);
    return st;
}

static barlow_status compose_view(barlow_visualizer *v, barlow_feature_view *fv,
                                  const char *who);

/* The ranked rows of one end (least or not); *x their loaded inputs. */
static barlow_status ranked(barlow_visualizer *v, size_t feature, const size_t *rows, size_t n,
                            int least, size_t *out, size_t *k, size_t *considered, float **x,
                            const char *who)
{
    barlow_status st = barlow_visualizer_rank(v, feature, rows, n, least, v->o.k, out, NULL, k,
                                              considered);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
    return bw_vis_load(v, out, *k, x, who);
}

barlow_status barlow_visualizer_view(barlow_visualizer *v, size_t feature, const size_t *rows,
                                     size_t n, const char *caption, barlow_progress_fn progress,
                                     void *user_data, barlow_feature_view **out)
{
    static const char who[] = "barlow_visualizer_view";
    bw_clear_error();
    if (!v || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !v ? "v" : "out");
    barlow_feature_view *fv = bw_calloc(1, sizeof *fv, who);
    size_t top[BARLOW_VISUALIZER_MAX_K], low[BARLOW_VISUALIZER_MAX_K], kt = 0, kl = 0;
    float *xt = NULL, *xl = NULL;
    barlow_status st = fv ? BARLOW_OK : BARLOW_E_NOMEM;
    if (st == BARLOW_OK) {
        fv->feature = feature;
        if (caption && !(fv->caption = bw_strdup(caption, who))) st = BARLOW_E_NOMEM;
    }
    if (st == BARLOW_OK) st = ranked(v, feature, rows, n, 0, top, &kt, &fv->considered, &xt, who);
    if (st == BARLOW_OK && v->o.least) st = ranked(v, feature, rows, n, 1, low, &kl, NULL, &xl, who);
    if (st == BARLOW_OK) st = plain_row(v, fv, BARLOW_VIEW_TOP, top, kt, xt, who);
    if (st == BARLOW_OK && v->o.least) st = plain_row(v, fv, BARLOW_VIEW_LEAST, low, kl, xl, who);
    if (st == BARLOW_OK) st = heatmap_row(v, fv, top, kt, xt, who);
    if (st == BARLOW_OK && v->o.attack)
        st = attack_row(v, fv, top, kt, xt, progress, user_data, who);
    if (st == BARLOW_OK) st = compose_view(v, fv, who);
    if (fv) fv->inputs = xt; /* kept for the caller (freed with the view) */
    bw_free(xl);
    if (st != BARLOW_OK) {
        barlow_feature_view_free(fv); /* frees xt with it (xt is NULL without fv) */
        return st;
    }
    *out = fv;
    return BARLOW_OK;
}

/* ---- accessors ----------------------------------------------------------------- */

size_t barlow_feature_view_feature(const barlow_feature_view *fv) { return fv ? fv->feature : 0; }

size_t barlow_feature_view_rows_considered(const barlow_feature_view *fv)
{
    return fv ? fv->considered : 0;
}

size_t barlow_feature_view_count(const barlow_feature_view *fv, barlow_view_row which)
{
    if (!fv || (unsigned)which >= N_ROWS) return 0;
    return fv->count[which];
}

barlow_status barlow_feature_view_tile(const barlow_feature_view *fv, barlow_view_row which,
                                       size_t i, barlow_view_tile *out)
{
    static const char who[] = "barlow_feature_view_tile";
    bw_clear_error();
    if (!fv || !out) return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !fv ? "fv" : "out");
    if (out->version != BARLOW_VIEW_TILE_VERSION)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: out->version=%u (must be %d)", who,
                        (unsigned)out->version, BARLOW_VIEW_TILE_VERSION);
    size_t n = barlow_feature_view_count(fv, which);
    if (i >= n)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: tile %zu of a row with %zu tiles", who, i, n);
    *out = fv->tiles[which][i];
    return BARLOW_OK;
}

const barlow_image *barlow_feature_view_tile_image(const barlow_feature_view *fv,
                                                   barlow_view_row which, size_t i)
{
    return i < barlow_feature_view_count(fv, which) ? fv->img[which][i] : NULL;
}

const float *barlow_feature_view_maps(const barlow_feature_view *fv, size_t *h, size_t *w)
{
    if (h) *h = fv ? fv->fh : 0;
    if (w) *w = fv ? fv->fw : 0;
    return fv ? fv->maps : NULL;
}

const float *barlow_feature_view_inputs(const barlow_feature_view *fv)
{
    return fv ? fv->inputs : NULL;
}

const float *barlow_feature_view_attacks(const barlow_feature_view *fv)
{
    return fv ? fv->attacks : NULL;
}

const barlow_image *barlow_feature_view_panel(const barlow_feature_view *fv)
{
    return fv ? fv->panel : NULL;
}

/* ---- layout -------------------------------------------------------------------- */

/* "label -> prediction" by class name ("?" for a missing one). */
static void label_text(const barlow_visualizer *v, const barlow_view_tile *t, char *buf,
                       size_t n)
{
    const char *l = barlow_dataset_class_name(v->ds, t->label);
    const char *p = t->prediction >= 0 ? barlow_dataset_class_name(v->ds, t->prediction) : NULL;
    if (p) snprintf(buf, n, "%s -> %s", l ? l : "?", p);
    else snprintf(buf, n, "%s", l ? l : "?");
}

/* The two caption lines of a tile. */
static void captions(const barlow_visualizer *v, int r, const barlow_view_tile *t, char *a,
                     char *b, size_t n)
{
    char lab[512];
    label_text(v, t, lab, sizeof lab);
    if (r == BARLOW_VIEW_ATTACK) {
        snprintf(a, n, "%.3g -> %.3g", (double)t->value, (double)t->attacked_value);
        snprintf(b, n, "moved L2 %.3g", (double)t->distance);
    } else if (r == BARLOW_VIEW_HEATMAP) {
        snprintf(a, n, "row %zu", t->row);
        snprintf(b, n, "map max %.3g", (double)t->map_max);
    } else {
        snprintf(a, n, "%.3g  (row %zu)", (double)t->value, t->row);
        snprintf(b, n, "%s", lab);
    }
}

static const char *const ROW_TITLES[N_ROWS] = {
    "most activating", "least activating", "heatmap (feature map, red = high)",
    "feature attack (value before -> after)"};

enum { BAR_H = 8 }; /* the colour bar's height */

/* Height of a panel row's title line: the heatmap row's holds the colour
 * bar and its labels. */
static size_t header_height(int r)
{
    size_t lh = bw_text_height(1), bar = BAR_H + bw_colorbar_label_height(1);
    return (r == BARLOW_VIEW_HEATMAP && bar > lh ? bar : lh) + 2;
}

/* Height of one panel row: its title, tiles and two caption lines. */
static size_t row_height(int r, size_t T)
{
    return header_height(r) + T + 2 + 2 * bw_text_height(1) + GAP;
}

/* Draws panel row r at y; returns the y after it. */
static size_t draw_row(const barlow_visualizer *v, const barlow_feature_view *fv, bw_canvas *c,
                       int r, size_t y, size_t T)
{
    size_t lh = bw_text_height(1);
    bw_canvas_text(c, MARGIN, (long)y, ROW_TITLES[r], 1, INK);
    if (r == BARLOW_VIEW_HEATMAP && fv->count[r]) {
        int shared = v->o.scale == BARLOW_HEATMAP_SHARED;
        size_t x = MARGIN + bw_text_width(ROW_TITLES[r], 1) + 12;
        const char *note = shared ? "shared scale" : "each tile to its own max";
        bw_canvas_text(c, (long)x, (long)y, note, 1, DIM);
        x += bw_text_width(note, 1) + 8;
        if (shared)
            bw_canvas_colorbar(c, (long)x, (long)y + 1, 100, BAR_H, fv->tiles[r][0].map_max, 1,
                               DIM);
    }
    size_t top = y;
    y += header_height(r);
    for (size_t i = 0; i < fv->count[r]; i++) {
        size_t x = MARGIN + i * (T + GAP);
        const barlow_image *im = fv->img[r][i];
        bw_canvas_blit(c, (long)x, (long)y, barlow_image_data(im), T, T, 3, 1);
        char a[512], b[512], fa[256], fb[256];
        captions(v, r, &fv->tiles[r][i], a, b, sizeof a);
        bw_text_fit(a, T, 1, fa, sizeof fa);
        bw_text_fit(b, T, 1, fb, sizeof fb);
        bw_canvas_text(c, (long)x, (long)(y + T + 2), fa, 1, INK);
        bw_canvas_text(c, (long)x, (long)(y + T + 2 + lh), fb, 1, DIM);
    }
    return top + row_height(r, T);
}

static barlow_status compose_view(barlow_visualizer *v, barlow_feature_view *fv,
                                  const char *who)
{
    size_t T = v->S * tile_scale(v), k = fv->count[BARLOW_VIEW_TOP];
    char title[160];
    snprintf(title, sizeof title, "feature %zu (%zu rows ranked)", fv->feature, fv->considered);
    size_t width = 2 * MARGIN + k * (T + GAP) - GAP, tw = 2 * MARGIN + bw_text_width(title, 2);
    if (width < tw) width = tw;
    if (width < 420) width = 420; /* room for the heatmap row's title and colour bar */
    size_t cap_h = fv->caption ? bw_text_height(1) + 2 : 0;
    size_t height = MARGIN + bw_text_height(2) + cap_h + GAP + MARGIN;
    for (int r = 0; r < N_ROWS; r++)
        if (fv->count[r]) height += row_height(r, T);
    bw_canvas c = {0};
    barlow_status st = bw_canvas_new(&c, width, height, BG, who);
    if (st != BARLOW_OK) return st;
    bw_canvas_text(&c, MARGIN, MARGIN, title, 2, INK);
    if (fv->caption) {
        char fit[512];
        bw_text_fit(fv->caption, width - 2 * MARGIN, 1, fit, sizeof fit);
        bw_canvas_text(&c, MARGIN, (long)(MARGIN + bw_text_height(2) + 2), fit, 1, DIM);
    }
    size_t y = MARGIN + bw_text_height(2) + cap_h + GAP;
    for (int r = 0; r < N_ROWS; r++)
        if (fv->count[r]) y = draw_row(v, fv, &c, r, y, T);
    bw_pixels px = {c.px, width, height, 3, BARLOW_IMAGE_FORMAT_NONE, 0};
    return bw_image_wrap(&px, who, &fv->panel);
}

/* ---- heatmaps on caller images --------------------------------------------------- */

barlow_status barlow_visualizer_render_heatmap(const barlow_image *img, const float *map,
                                               size_t h, size_t w, float max, double alpha,
                                               barlow_image **out)
{
    static const char who[] = "barlow_visualizer_render_heatmap";
    bw_clear_error();
    if (!img || !map || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !img ? "img" : !map ? "map" : "out");
    if (h == 0 || w == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the map is %zux%zu", who, h, w);
    if (!(alpha >= 0.0 && alpha <= 1.0))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: alpha=%g (must be 0..1)", who, alpha);
    size_t W = barlow_image_width(img), H = barlow_image_height(img);
    uint8_t *rgb = bw_mallocn(W * H, 3, who);
    if (!rgb) return BARLOW_E_NOMEM;
    bw_heatmap_overlay(barlow_image_data(img), W, H, barlow_image_channels(img), map, h, w, max,
                       alpha, rgb);
    bw_pixels px = {rgb, W, H, 3, BARLOW_IMAGE_FORMAT_NONE, 0};
    return bw_image_wrap(&px, who, out);
}

/* ---- failure panels -------------------------------------------------------------- */

/* Draws a titled row of tiles for dataset rows[0..n) at *y and moves *y
 * below it; conf (may be NULL) adds "p=..." captions. */
static barlow_status failure_row(barlow_visualizer *v, bw_canvas *c, size_t *y,
                                 const char *title, const size_t *rows, size_t n,
                                 const float *conf, const char *who)
{
    size_t T = v->S * tile_scale(v), lh = bw_text_height(1), per = v->C * v->S * v->S;
    float *x = NULL;
    barlow_status st = bw_vis_load(v, rows, n, &x, who);
    if (st != BARLOW_OK) return st;
    bw_canvas_text(c, MARGIN, (long)*y, title, 1, INK);
    *y += lh + 2;
    uint8_t *u8 = bw_mallocn(v->S * v->S, v->C, who);
    for (size_t i = 0; u8 && i < n; i++) {
        size_t x0 = MARGIN + i * (T + GAP);
        input_to_u8(x + i * per, v->C, v->S, u8);
        bw_canvas_blit(c, (long)x0, (long)*y, u8, v->S, v->S, v->C, tile_scale(v));
        const barlow_view_tile t = {BARLOW_VIEW_TILE_VERSION, rows[i], 0.0f,
                                    barlow_dataset_labels(v->ds)[rows[i]],
                                    barlow_dataset_predictions(v->ds)[rows[i]], NAN, NAN, NAN};
        char a[512], b[64], fa[256];
        label_text(v, &t, a, sizeof a);
        bw_text_fit(a, T, 1, fa, sizeof fa);
        if (conf) snprintf(b, sizeof b, "p=%.3f  row %zu", (double)conf[i], rows[i]);
        else snprintf(b, sizeof b, "row %zu", rows[i]);
        bw_canvas_text(c, (long)x0, (long)(*y + T + 2), fa, 1, INK);
        bw_canvas_text(c, (long)x0, (long)(*y + T + 2 + lh), b, 1, DIM);
    }
    if (!u8) st = BARLOW_E_NOMEM;
    bw_free(u8);
    bw_free(x);
    *y += T + 2 + 2 * lh + GAP;
    return st;
}

barlow_status barlow_visualizer_failure_panel(barlow_visualizer *v, const size_t *rows, size_t n,
                                              const char *caption, barlow_image **out)
{
    static const char who[] = "barlow_visualizer_failure_panel";
    bw_clear_error();
    if (!v || !out) return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !v ? "v" : "out");
    size_t k = v->o.k, ns = 0, nc = 0, sample[BARLOW_VISUALIZER_MAX_K], conf_rows[BARLOW_VISUALIZER_MAX_K];
    float conf[BARLOW_VISUALIZER_MAX_K];
    barlow_status st = barlow_visualizer_failure_samples(v, rows, n, k, sample, &ns);
    if (st == BARLOW_OK && ns == 0)
        st = bw_error(BARLOW_E_INVALID_ARG, "%s: the row set has no failures", who);
    if (st == BARLOW_OK && v->logits)
        st = barlow_visualizer_confident_failures(v, rows, n, k, conf_rows, conf, &nc);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
    size_t T = v->S * tile_scale(v), lh = bw_text_height(1);
    size_t width = 2 * MARGIN + k * (T + GAP) - GAP, n_rows = nc ? 2 : 1;
    if (width < 420) width = 420;
    size_t height = MARGIN + (caption ? bw_text_height(2) + GAP : 0) +
                    n_rows * (lh + 2 + T + 2 + 2 * lh + GAP) + MARGIN;
    bw_canvas c = {0};
    if ((st = bw_canvas_new(&c, width, height, BG, who)) != BARLOW_OK) return st;
    size_t y = MARGIN;
    if (caption) {
        char fit[512];
        bw_text_fit(caption, width - 2 * MARGIN, 2, fit, sizeof fit);
        bw_canvas_text(&c, MARGIN, MARGIN, fit, 2, INK);
        y += bw_text_height(2) + GAP;
    }
    char title[160];
    size_t all = bw_vis_failure_count(v, rows, n);
    if (all <= k)
        snprintf(title, sizeof title, "failures: all %zu", ns);
    else
        snprintf(title, sizeof title, "failures: %zu of %zu drawn at random (seed %u)", ns, all,
                 (unsigned)v->o.seed);
    st = failure_row(v, &c, &y, title, sample, ns, NULL, who);
    if (st == BARLOW_OK && nc)
        st = failure_row(v, &c, &y, "failures the inspected model was most confident about",
                         conf_rows, nc, conf, who);
    if (st != BARLOW_OK) {
        bw_canvas_free(&c);
        return st;
    }
    bw_pixels px = {c.px, width, height, 3, BARLOW_IMAGE_FORMAT_NONE, 0};
    return bw_image_wrap(&px, who, out);
}
