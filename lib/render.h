/*
 * Internal: the rendering unit of the visualizer (lib/visualizer.c) — an
 * RGB canvas with rectangles, image tiles, a built-in bitmap font, the JET
 * colour map, heatmap overlays, a colour bar, and PNG encoding. Not
 * installed, not part of the ABI (the public PNG functions are in
 * include/barlow/image.h and implemented in lib/render.c).
 *
 * Coordinates: x to the right, y downwards, (0, 0) the top-left pixel. Every
 * drawing call is clipped to the canvas, so x and y may be negative and
 * shapes may reach past the edges; nothing is ever written outside px.
 *
 * The font is stb_easy_font (Debian libstb-dev, compiled into lib/render.c,
 * all static): its quads rasterised as filled rectangles, each font unit
 * `scale` pixels. Glyphs are printable ASCII (0x20..0x7E); every other UTF-8
 * code point — and every byte that does not start a well-formed sequence —
 * draws as one '?'. A multi-byte sequence is never split.
 *
 * PNG goes through stb_image_write (lib/stb_write_impl.c, STATIC) with
 * zlib's compress2 as its deflate.
 *
 * Thread safety: every function is reentrant; different canvases may be
 * drawn on concurrently, one canvas by one thread at a time.
 */
#ifndef BW_RENDER_H
#define BW_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "barlow/common.h"

/* An RGB canvas: w*h*3 bytes, rows packed. */
typedef struct bw_canvas {
    uint8_t *px;
    size_t w, h;
} bw_canvas;

/* Allocates a w x h canvas filled with one colour. On failure (NOMEM,
 * message naming who; also when w*h*3 overflows) *c is untouched. */
barlow_status bw_canvas_new(bw_canvas *c, size_t w, size_t h, const uint8_t rgb[3],
                            const char *who);
/* Frees the pixels and zeroes *c. NULL c or NULL px allowed. */
void bw_canvas_free(bw_canvas *c);

/* Fills a w x h rectangle at (x, y), clipped to the canvas (x, y may be
 * negative). */
void bw_canvas_fill(bw_canvas *c, long x, long y, size_t w, size_t h, const uint8_t rgb[3]);
/* Draws the 1-px outline of the w x h rectangle at (x, y) (inside it),
 * clipped. */
void bw_canvas_frame(bw_canvas *c, long x, long y, size_t w, size_t h, const uint8_t rgb[3]);
/* Copies a packed sw x sh image with 1 (grey, shown grey) or 3 channels at
 * (x, y), each source pixel repeated scale x scale times (nearest
 * upscaling); clipped. Other channel counts and scale 0 draw nothing. */
void bw_canvas_blit(bw_canvas *c, long x, long y, const uint8_t *src, size_t sw, size_t sh,
                    size_t channels, size_t scale);

/* Text with the built-in font (see the top comment). scale < 1 is taken as
 * 1. A glyph's pixels lie inside [x, x + bw_text_width) x [y, y +
 * bw_text_height) of its string. */
size_t bw_text_width(const char *s, int scale); /* pixels; 0 for NULL */
size_t bw_text_height(int scale);               /* line height in pixels */
void bw_canvas_text(bw_canvas *c, long x, long y, const char *s, int scale, const uint8_t rgb[3]);
/* Copies s into buf (bufsize bytes, always NUL-terminated when bufsize >
 * 0): s itself when it is at most max_px wide and fits, else its longest
 * prefix (cut between UTF-8 sequences) followed by "..." that does; when
 * not even "..." fits, as many dots as fit (possibly none). */
void bw_text_fit(const char *s, size_t max_px, int scale, char *buf, size_t bufsize);

/* The JET colour map, matplotlib's 'jet' segment data (dark blue (0,0,128)
 * at 0, blue, cyan, yellow, red, dark red (128,0,0) at 1) evaluated at v,
 * not through a 256-entry table, each component rounded to the nearest
 * integer. v is clamped to [0,1]; NaN counts as 0. */
void bw_jet(float v, uint8_t rgb[3]);

/* Heatmap overlay. base: w x h pixels with base_c (1 or 3) channels; map:
 * mh x mw floats. Each map value is clamped at 0 (NaN → 0) and divided by
 * max (max <= 0, NaN or inf: the map counts as all zero), clamped to [0,1]
 * → a; the map is resized to w x h bilinearly with pixel centres
 * (align_corners=False: sample at ((x+0.5)*mw/w - 0.5), clamped at the
 * edges, like torch interpolate bilinear without antialias); then
 * out = base*(1 - alpha*a) + jet(a)*alpha*a per channel (jet(a) the bytes of
 * bw_jet), rounded. alpha is clamped to [0,1] (NaN → 0). A zero map gives
 * exactly the base (grey repeated to RGB). out: w x h x 3 bytes. An empty
 * map (mh or mw 0) counts as zero; base_c other than 1 or 3 writes nothing. */
void bw_heatmap_overlay(const uint8_t *base, size_t w, size_t h, size_t base_c,
                        const float *map, size_t mh, size_t mw, float max, double alpha,
                        uint8_t *out);

/* A horizontal colour bar: the JET gradient from 0 (left column) to 1
 * (right column) in the w x h box at (x, y), with "0" under its left end
 * and max (printf "%.3g") under its right end (right-aligned with the
 * box), in text_rgb, one font unit below the box. Height taken in all:
 * h + bw_colorbar_label_height(scale). */
void bw_canvas_colorbar(bw_canvas *c, long x, long y, size_t w, size_t h, float max, int scale,
                        const uint8_t text_rgb[3]);
size_t bw_colorbar_label_height(int scale);

/* PNG (8-bit grey or RGB, zlib deflate) of packed pixels (channels 1 or
 * 3, w and h >= 1) into out->data (bw_malloc'd; free with bw_free() or
 * barlow_buffer_free) and out->size. Errors (messages naming who; *out
 * untouched): INVALID_ARG (NULL, zero size, channels), UNSUPPORTED (over
 * the encoder's 2^31-byte limit), NOMEM, INTERNAL (zlib failed). */
barlow_status bw_png_encode(const uint8_t *px, size_t w, size_t h, size_t channels,
                            barlow_buffer *out, const char *who);

/* lib/stb_write_impl.c: stbi_write_png_to_mem with zlib. Returns the PNG
 * (bw_malloc'd) and *len, or NULL with *zerr set: 0 (out of memory in stb) or
 * zlib's error code. The caller checks the int limits. */
uint8_t *bw_stbiw_png(const uint8_t *px, int w, int h, int channels, int *len, int *zerr);

#endif /* BW_RENDER_H */
