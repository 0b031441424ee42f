/*
 * The rendering unit of the visualizer (lib/render.h) and the public PNG
 * output of include/barlow/image.h (barlow_image_encode_png,
 * barlow_image_save_png).
 *
 * The font is Debian libstb-dev's stb_easy_font, included here: it is
 * static functions and tables only (v1.1), so nothing of it is visible
 * outside this file. Each glyph is asked for its quads (axis-aligned unit
 * segments in font units) and those are filled as rectangles, `scale`
 * pixels per unit.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/image.h"
#include "internal.h"
#include "render.h"

#if defined(__GNUC__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wunused-function"
#  pragma GCC diagnostic ignored "-Wsign-compare"
#  pragma GCC diagnostic ignored "-Wcast-qual"
#  pragma GCC diagnostic ignored "-Wcast-align"
#  pragma GCC diagnostic ignored "-Wchar-subscripts"
#endif
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif

/* stb_easy_font's line height in font units (its '\n' step). */
enum { BW_FONT_LINE = 12, BW_FONT_MAX_SCALE = 1024 };

/* ---- canvas -------------------------------------------------------------- */

barlow_status bw_canvas_new(bw_canvas *c, size_t w, size_t h, const uint8_t rgb[3],
                            const char *who)
{
    if (w && h > SIZE_MAX / 3 / w)
        return bw_error(BARLOW_E_NOMEM, "%s: a %zux%zu canvas is too large", who, w, h);
    size_t n = w * h;
    uint8_t *px = bw_malloc(n * 3, who);
    if (!px) return BARLOW_E_NOMEM;
    for (size_t i = 0; i < n; i++) memcpy(px + 3 * i, rgb, 3);
    c->px = px;
    c->w = w;
    c->h = h;
    return BARLOW_OK;
}

void bw_canvas_free(bw_canvas *c)
{
    if (!c) return;
    bw_free(c->px);
    c->px = NULL;
    c->w = c->h = 0;
}

/* The part [*lo, *hi) of [0, limit) that the span [x, x + len) covers.
 * Returns 0 when it is empty. */
static int clip_span(long x, size_t len, size_t limit, size_t *lo, size_t *hi)
{
    size_t skip = 0, start = 0;
    if (x < 0) {
        skip = (size_t)0 - (size_t)x; /* |x|, also for LONG_MIN */
        if (skip >= len) return 0;
    } else {
        start = (size_t)x;
    }
    if (start >= limit) return 0;
    size_t rest = len - skip;
    *lo = start;
    *hi = rest > limit - start ? limit : start + rest;
    return 1;
}

/* The distance d - x of canvas coordinate d from the origin x <= d. */
static size_t offset_from(size_t d, long x)
{
    return d - (size_t)x; /* modular: exact whenever d >= x */
}

/* x + n, saturating at LONG_MAX. */
static long add_long(long x, size_t n)
{
    size_t mag = (size_t)0 - (size_t)x; /* |x| when x < 0 */
    if (x >= 0) return n > (size_t)LONG_MAX - (size_t)x ? LONG_MAX : (long)((size_t)x + n);
    if (n < mag) return x + (long)n;
    return n - mag > (size_t)LONG_MAX ? LONG_MAX : (long)(n - mag);
}

void bw_canvas_fill(bw_canvas *c, long x, long y, size_t w, size_t h, const uint8_t rgb[3])
{
    size_t x0, x1, y0, y1;
    if (!c || !c->px || !rgb) return;
    if (!clip_span(x, w, c->w, &x0, &x1) || !clip_span(y, h, c->h, &y0, &y1)) return;
    size_t row_bytes = (x1 - x0) * 3;
    uint8_t *first = c->px + (y0 * c->w + x0) * 3;
    for (size_t i = 0; i < x1 - x0; i++) memcpy(first + 3 * i, rgb, 3);
    for (size_t yy = y0 + 1; yy < y1; yy++)
        memcpy(c->px + (yy * c->w + x0) * 3, first, row_bytes);
}

void bw_canvas_frame(bw_canvas *c, long x, long y, size_t w, size_t h, const uint8_t rgb[3])
{
    if (w == 0 || h == 0) return;
    bw_canvas_fill(c, x, y, w, 1, rgb);
    bw_canvas_fill(c, x, add_long(y, h - 1), w, 1, rgb);
    bw_canvas_fill(c, x, y, 1, h, rgb);
    bw_canvas_fill(c, add_long(x, w - 1), y, 1, h, rgb);
}

void bw_canvas_blit(bw_canvas *c, long x, long y, const uint8_t *src, size_t sw, size_t sh,
                    size_t channels, size_t scale)
{
    if (!c || !c->px || !src || (channels != 1 && channels != 3) || scale == 0) return;
    size_t dw = sw > SIZE_MAX / scale ? SIZE_MAX : sw * scale;
    size_t dh = sh > SIZE_MAX / scale ? SIZE_MAX : sh * scale;
    size_t x0, x1, y0, y1;
    if (!clip_span(x, dw, c->w, &x0, &x1) || !clip_span(y, dh, c->h, &y0, &y1)) return;
    for (size_t dy = y0; dy < y1; dy++) {
        const uint8_t *srow = src + offset_from(dy, y) / scale * sw * channels;
        uint8_t *d = c->px + (dy * c->w + x0) * 3;
        for (size_t dx = x0; dx < x1; dx++, d += 3) {
            const uint8_t *s = srow + offset_from(dx, x) / scale * channels;
            if (channels == 3) {
                d[0] = s[0];
                d[1] = s[1];
                d[2] = s[2];
            } else {
                d[0] = d[1] = d[2] = s[0];
            }
        }
    }
}

/* ---- text ---------------------------------------------------------------- */

static int clamp_scale(int scale)
{
    return scale < 1 ? 1 : scale > BW_FONT_MAX_SCALE ? BW_FONT_MAX_SCALE : scale;
}

/* Bytes of the code point at s (s[0] != 0): its length when s starts a
 * well-formed UTF-8 sequence, else 1. Never reads past a NUL. */
static size_t utf8_len(const char *s)
{
    unsigned char b = (unsigned char)s[0];
    size_t n = b < 0x80 ? 1 : b < 0xC2 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF5 ? 4 : 0;
    if (n <= 1) return 1;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '\0') return 1;
    return bw_utf8_check(s, n) == n ? n : 1;
}

/* The glyph drawn for the n-byte code point at s: itself when printable
 * ASCII, else '?'. */
static unsigned char glyph_of(const char *s, size_t n)
{
    unsigned char b = (unsigned char)s[0];
    return n == 1 && b >= 0x20 && b <= 0x7E ? b : (unsigned char)'?';
}

static size_t glyph_advance(unsigned char g)
{
    return (size_t)(stb_easy_font_charinfo[g - 32].advance & 15);
}

size_t bw_text_width(const char *s, int scale)
{
    if (!s) return 0;
    size_t unit = (size_t)clamp_scale(scale), w = 0;
    while (*s) {
        size_t n = utf8_len(s);
        size_t a = glyph_advance(glyph_of(s, n)) * unit;
        w = a > SIZE_MAX - w ? SIZE_MAX : w + a;
        s += n;
    }
    return w;
}

size_t bw_text_height(int scale)
{
    return (size_t)BW_FONT_LINE * (size_t)clamp_scale(scale);
}

/* Fills glyph g's quads with its top-left corner at (x, y). */
static void draw_glyph(bw_canvas *c, long x, long y, unsigned char g, long unit,
                       const uint8_t rgb[3])
{
    /* Four vertices of four floats (x, y, z, colour) per quad; a glyph has
     * at most a few dozen. */
    float vbuf[64 * 16];
    char text[2] = {(char)g, '\0'};
    int quads = stb_easy_font_print(0.0f, 0.0f, text, NULL, vbuf, (int)sizeof vbuf);
    for (int q = 0; q < quads; q++) {
        const float *v = vbuf + 16 * q; /* vertex 0: top-left; vertex 2: bottom-right */
        long qx = (long)v[0], qy = (long)v[1];
        long qw = (long)v[8] - qx, qh = (long)v[9] - qy;
        bw_canvas_fill(c, x + qx * unit, y + qy * unit, (size_t)(qw * unit),
                       (size_t)(qh * unit), rgb);
    }
}

void bw_canvas_text(bw_canvas *c, long x, long y, const char *s, int scale, const uint8_t rgb[3])
{
    if (!c || !c->px || !s || !rgb) return;
    /* Far outside: nothing to draw (and no overflow in what follows). */
    if (x > LONG_MAX / 2 || y > LONG_MAX / 2 || x < LONG_MIN / 2 || y < LONG_MIN / 2) return;
    long unit = clamp_scale(scale), pen = x;
    while (*s && (pen < 0 || (size_t)pen < c->w)) {
        size_t n = utf8_len(s);
        unsigned char g = glyph_of(s, n);
        if (pen > -16 * unit) draw_glyph(c, pen, y, g, unit, rgb);
        pen += (long)glyph_advance(g) * unit;
        s += n;
    }
}

void bw_text_fit(const char *s, size_t max_px, int scale, char *buf, size_t bufsize)
{
    if (!buf || bufsize == 0) return;
    buf[0] = '\0';
    if (!s) return;
    size_t len = strlen(s);
    if (len < bufsize && bw_text_width(s, scale) <= max_px) {
        memcpy(buf, s, len + 1);
        return;
    }
    size_t dot = bw_text_width(".", scale), dots = 3;
    while (dots > 0 && (dots * dot > max_px || dots >= bufsize)) dots--;
    size_t used = 0;
    if (dots == 3) {
        size_t px_left = max_px - 3 * dot, bytes_left = bufsize - 4, w = 0;
        while (s[used]) {
            size_t n = utf8_len(s + used);
            size_t gw = glyph_advance(glyph_of(s + used, n)) * (size_t)clamp_scale(scale);
            if (n > bytes_left - used || gw > px_left - w) break;
            w += gw;
            used += n;
        }
        while (used > 0 && s[used - 1] == ' ') used--; /* "long ..." → "long..." */
        memcpy(buf, s, used);
    }
    memset(buf + used, '.', dots);
    buf[used + dots] = '\0';
}

/* ---- colour -------------------------------------------------------------- */

/* matplotlib's _jet_data (matplotlib/_cm.py): (x, value) breakpoints of
 * each channel, linear in between. */
typedef struct jet_point { double x, y; } jet_point;
static const jet_point jet_red[] = {{0, 0}, {0.35, 0}, {0.66, 1}, {0.89, 1}, {1, 0.5}};
static const jet_point jet_green[] = {{0, 0}, {0.125, 0}, {0.375, 1}, {0.64, 1}, {0.91, 0},
                                      {1, 0}};
static const jet_point jet_blue[] = {{0, 0.5}, {0.11, 1}, {0.34, 1}, {0.65, 0}, {1, 0}};

static uint8_t jet_channel(const jet_point *p, size_t n, double v)
{
    size_t i = 1;
    while (i < n - 1 && v > p[i].x) i++;
    double t = (v - p[i - 1].x) / (p[i].x - p[i - 1].x);
    double y = p[i - 1].y + t * (p[i].y - p[i - 1].y);
    return (uint8_t)floor(y * 255.0 + 0.5);
}

void bw_jet(float v, uint8_t rgb[3])
{
    double d = v > 0 ? (double)v : 0.0; /* NaN → 0 */
    if (d > 1) d = 1;
    rgb[0] = jet_channel(jet_red, sizeof jet_red / sizeof *jet_red, d);
    rgb[1] = jet_channel(jet_green, sizeof jet_green / sizeof *jet_green, d);
    rgb[2] = jet_channel(jet_blue, sizeof jet_blue / sizeof *jet_blue, d);
}

/* Source index pair and weight of output index i (of out_n) over in_n
 * samples, pixel centres aligned (align_corners=False), clamped. */
static void bilinear_coord(size_t i, size_t out_n, size_t in_n, size_t *i0, size_t *i1,
                           double *l1)
{
    double s = ((double)i + 0.5) * (double)in_n / (double)out_n - 0.5;
    if (!(s > 0)) s = 0;
    size_t k = (size_t)s;
    if (k > in_n - 1) k = in_n - 1;
    *i0 = k;
    *i1 = k < in_n - 1 ? k + 1 : k;
    *l1 = s - (double)k;
    if (*l1 > 1) *l1 = 1;
}

/* A map value normalised by max into [0, 1]; NaN and negatives → 0. */
static double map_norm(float v, double max)
{
    double t = v > 0 ? (double)v / max : 0.0;
    return t > 1 ? 1 : t;
}

static uint8_t blend(uint8_t base, uint8_t jet, double k)
{
    double v = floor((double)base * (1.0 - k) + (double)jet * k + 0.5);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void bw_heatmap_overlay(const uint8_t *base, size_t w, size_t h, size_t base_c,
                        const float *map, size_t mh, size_t mw, float max, double alpha,
                        uint8_t *out)
{
    if (!base || !out || (base_c != 1 && base_c != 3)) return;
    int zero = !map || mh == 0 || mw == 0 || !(max > 0) || isinf(max);
    double al = alpha > 0 ? (alpha < 1 ? alpha : 1) : 0; /* NaN → 0 */
    for (size_t y = 0; y < h; y++) {
        size_t y0 = 0, y1 = 0, x0, x1;
        double ly = 0, lx;
        if (!zero) bilinear_coord(y, h, mh, &y0, &y1, &ly);
        for (size_t x = 0; x < w; x++) {
            const uint8_t *b = base + (y * w + x) * base_c;
            uint8_t *o = out + (y * w + x) * 3;
            double a = 0;
            if (!zero) {
                bilinear_coord(x, w, mw, &x0, &x1, &lx);
                const float *r0 = map + y0 * mw, *r1 = map + y1 * mw;
                double top = (1 - lx) * map_norm(r0[x0], max) + lx * map_norm(r0[x1], max);
                double bot = (1 - lx) * map_norm(r1[x0], max) + lx * map_norm(r1[x1], max);
                a = (1 - ly) * top + ly * bot;
            }
            uint8_t jet[3];
            bw_jet((float)a, jet);
            double k = al * a;
            for (int ch = 0; ch < 3; ch++) o[ch] = blend(b[base_c == 3 ? ch : 0], jet[ch], k);
        }
    }
}

size_t bw_colorbar_label_height(int scale)
{
    return (size_t)clamp_scale(scale) + bw_text_height(scale);
}

void bw_canvas_colorbar(bw_canvas *c, long x, long y, size_t w, size_t h, float max, int scale,
                        const uint8_t text_rgb[3])
{
    size_t x0, x1;
    if (!c || !c->px || w == 0) return;
    if (clip_span(x, w, c->w, &x0, &x1)) {
        for (size_t dx = x0; dx < x1; dx++) {
            size_t i = offset_from(dx, x);
            uint8_t rgb[3];
            bw_jet(w > 1 ? (float)((double)i / (double)(w - 1)) : 0.0f, rgb);
            bw_canvas_fill(c, (long)dx, y, 1, h, rgb);
        }
    }
    char label[32];
    snprintf(label, sizeof label, "%.3g", (double)max);
    long ly = add_long(y, h + (size_t)clamp_scale(scale));
    size_t lw = bw_text_width(label, scale);
    long lx = lw <= w ? add_long(x, w - lw) : x;
    bw_canvas_text(c, x, ly, "0", scale, text_rgb);
    bw_canvas_text(c, lx, ly, label, scale, text_rgb);
}

/* ---- PNG ----------------------------------------------------------------- */

barlow_status bw_png_encode(const uint8_t *px, size_t w, size_t h, size_t channels,
                            barlow_buffer *out, const char *who)
{
    if (!px || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !px ? "pixels" : "out");
    if (w == 0 || h == 0 || (channels != 1 && channels != 3))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zux%zu pixels with %zu channels (need "
                        "sizes >= 1 and 1 or 3 channels)", who, w, h, channels);
    /* stb_image_write counts in int: the filtered rows (w*c+1)*h and the
     * deflate bound plus the PNG chunks must stay below INT_MAX. */
    const size_t limit = (size_t)INT_MAX - ((size_t)1 << 24);
    if (w > (limit - 1) / channels || h > limit / (w * channels + 1))
        return bw_error(BARLOW_E_UNSUPPORTED, "%s: a %zux%zu image with %zu channels is too "
                        "large for the PNG encoder (about 2^31 bytes at most)", who, w, h,
                        channels);
    int len = 0, zerr = 0;
    uint8_t *png = bw_stbiw_png(px, (int)w, (int)h, (int)channels, &len, &zerr);
    if (!png) {
        if (zerr == 0 || zerr == -4 /* Z_MEM_ERROR */)
            return bw_error(BARLOW_E_NOMEM, "%s: out of memory encoding a %zux%zu PNG", who, w,
                            h);
        return bw_error(BARLOW_E_INTERNAL, "%s: zlib failed (error %d) encoding a %zux%zu PNG",
                        who, zerr, w, h);
    }
    out->data = png;
    out->size = (size_t)len;
    return BARLOW_OK;
}

barlow_status barlow_image_encode_png(const barlow_image *img, barlow_buffer *out)
{
    static const char who[] = "barlow_image_encode_png";
    bw_clear_error();
    if (!img || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !img ? "img" : "out");
    return bw_png_encode(barlow_image_data(img), barlow_image_width(img),
                         barlow_image_height(img), barlow_image_channels(img), out, who);
}

barlow_status barlow_image_save_png(const barlow_image *img, const char *path)
{
    static const char who[] = "barlow_image_save_png";
    bw_clear_error();
    if (!img) return bw_error(BARLOW_E_INVALID_ARG, "%s: img is NULL", who);
    if (!path || !*path)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s output path", who,
                        path ? "empty" : "NULL");
    barlow_buffer png = {NULL, 0};
    barlow_status st = bw_png_encode(barlow_image_data(img), barlow_image_width(img),
                                     barlow_image_height(img), barlow_image_channels(img), &png,
                                     who);
    if (st != BARLOW_OK) return st;
    bw_atomic_file af;
    st = bw_atomic_open(&af, path, who);
    if (st == BARLOW_OK) {
        if (fwrite(png.data, 1, png.size, af.fp) != png.size) {
            int e = errno;
            bw_atomic_abort(&af);
            st = bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, path, strerror(e));
        } else {
            st = bw_atomic_commit(&af, who);
        }
    }
    bw_free(png.data);
    return st;
}
