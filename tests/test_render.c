/* White-box tests of lib/render.h (the visualizer's rendering unit: canvas,
 * blit, bitmap text, JET, heatmap overlay, colour bar, PNG encoding) and of
 * the public barlow_image_encode_png / barlow_image_save_png.
 *
 * The JET reference values are matplotlib's 'jet' segment data
 * (matplotlib/_cm.py _jet_data) evaluated by hand: python3-matplotlib is not
 * installed on the build machine, so they are hard-coded here. (matplotlib's
 * own cmap(v) goes through a 256-entry table and may differ by a level or
 * two; bw_jet evaluates the segments at v itself.)
 *
 * With BARLOW_RENDER_SAMPLE=path set, a sample canvas (text at scales 1-3,
 * a colour bar, a heatmap overlay) is also written to that path for a look. */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barlow/image.h"
#include "internal.h"
#include "render.h"
#include "tap.h"
#include "tmpdir.h"

static const uint8_t BLACK[3] = {0, 0, 0}, WHITE[3] = {255, 255, 255};

static int px_is(const bw_canvas *c, size_t x, size_t y, const uint8_t rgb[3])
{
    return memcmp(c->px + (y * c->w + x) * 3, rgb, 3) == 0;
}

/* ---- JET ----------------------------------------------------------------- */

static void test_jet(void)
{
    static const struct { float v; uint8_t rgb[3]; } ref[] = {
        {0.0f, {0, 0, 128}},      /* dark blue: blue starts at 0.5 */
        {0.11f, {0, 0, 255}},     /* blue reaches 1 */
        {0.25f, {0, 128, 255}},   /* green half way (0.125..0.375) */
        {0.375f, {21, 255, 226}}, /* green full, red rising, blue falling */
        {0.5f, {123, 255, 123}},  /* (0.5-0.35)/0.31 and (0.65-0.5)/0.31 */
        {0.66f, {255, 236, 0}},   /* red full, green falling from 0.64 */
        {0.75f, {255, 151, 0}},   /* green 1-(0.75-0.64)/0.27 */
        {0.89f, {255, 19, 0}},    /* red starts falling */
        {1.0f, {128, 0, 0}},      /* dark red */
    };
    for (size_t i = 0; i < sizeof ref / sizeof *ref; i++) {
        uint8_t rgb[3];
        bw_jet(ref[i].v, rgb);
        TAP_OK(memcmp(rgb, ref[i].rgb, 3) == 0, "jet(%g) = (%u,%u,%u), expected (%u,%u,%u)",
               (double)ref[i].v, rgb[0], rgb[1], rgb[2], ref[i].rgb[0], ref[i].rgb[1],
               ref[i].rgb[2]);
    }
    uint8_t a[3], b[3];
    bw_jet(-3.0f, a);
    bw_jet(0.0f, b);
    int ok = memcmp(a, b, 3) == 0;
    bw_jet(NAN, a);
    ok = ok && memcmp(a, b, 3) == 0;
    bw_jet(7.0f, a);
    bw_jet(1.0f, b);
    ok = ok && memcmp(a, b, 3) == 0;
    bw_jet(INFINITY, a);
    TAP_OK(ok && memcmp(a, b, 3) == 0, "jet clamps v to [0,1]; NaN counts as 0");
}

/* ---- heatmap overlay ----------------------------------------------------- */

static uint8_t blend_ref(uint8_t base, uint8_t jet, double k)
{
    return (uint8_t)floor(base * (1 - k) + jet * k + 0.5);
}

static void test_heatmap_bilinear(void)
{
    /* 2x2 map [[0, 1], [0.5, 0.25]] on a 4x4 grey base of 100, alpha 0.5.
     * Along each axis (4 from 2, align_corners=False) the source
     * coordinates are (x+0.5)/2-0.5 = -0.25 (→0), 0.25, 0.75, 1.25 (→1). */
    const float map[4] = {0, 1, 0.5f, 0.25f};
    uint8_t base[16], out[48];
    memset(base, 100, sizeof base);
    bw_heatmap_overlay(base, 4, 4, 1, map, 2, 2, 1.0f, 0.5, out);
    static const struct { size_t x, y; double a; } hand[] = {
        {0, 0, 0.0}, {3, 0, 1.0}, {0, 3, 0.5}, {3, 3, 0.25},
        /* ly=.25, lx=.25: top .75*0+.25*1=.25, bottom .75*.5+.25*.25=.4375 */
        {1, 1, 0.75 * 0.25 + 0.25 * 0.4375},   /* 0.296875 */
        /* lx=.75: top .75, bottom .25*.5+.75*.25=.3125; ly=.25 */
        {2, 1, 0.75 * 0.75 + 0.25 * 0.3125},   /* 0.640625 */
        {1, 2, 0.25 * 0.25 + 0.75 * 0.4375},   /* 0.390625 */
        {0, 1, 0.75 * 0.0 + 0.25 * 0.5},       /* 0.125: left column */
        {3, 2, 0.25 * 1.0 + 0.75 * 0.25},      /* 0.4375: right column */
    };
    for (size_t i = 0; i < sizeof hand / sizeof *hand; i++) {
        uint8_t jet[3];
        bw_jet((float)hand[i].a, jet);
        const uint8_t *o = out + (hand[i].y * 4 + hand[i].x) * 3;
        int ok = 1;
        for (int ch = 0; ch < 3; ch++) ok = ok && o[ch] == blend_ref(100, jet[ch], 0.5 * hand[i].a);
        TAP_OK(ok, "overlay (%zu,%zu): a=%g -> (%u,%u,%u)", hand[i].x, hand[i].y, hand[i].a, o[0],
               o[1], o[2]);
    }
    /* Fully by hand: a = 0.296875, jet = (0, 175, 255), k = 0.1484375,
     * 100*(1-k) = 85.15625 → (85, 85.16+25.98, 85.16+37.85). */
    const uint8_t *o = out + (1 * 4 + 1) * 3;
    TAP_OK(o[0] == 85 && o[1] == 111 && o[2] == 123, "overlay (1,1) = (85,111,123) by hand");
    o = out + 3 * 3; /* (3,0): a = 1, jet = (128,0,0): 100/2 + 128/2 */
    TAP_OK(o[0] == 114 && o[1] == 50 && o[2] == 50, "overlay (3,0) = (114,50,50) by hand");
    o = out; /* (0,0): a = 0 → the base exactly */
    TAP_OK(o[0] == 100 && o[1] == 100 && o[2] == 100, "overlay (0,0) = base");
}

static void test_heatmap_zero(void)
{
    enum { W = 7, H = 5 };
    uint8_t grey[W * H], rgb[W * H * 3], out[W * H * 3], want[W * H * 3];
    for (size_t i = 0; i < sizeof grey; i++) grey[i] = (uint8_t)(i * 37 + 11);
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 53 + 7);
    for (size_t i = 0; i < W * H; i++) memset(want + 3 * i, grey[i], 3);
    float zero[6] = {0}, ones[6] = {1, 1, 1, 1, 1, 1}, bad[6] = {-1, NAN, -INFINITY, 0, -0.0f, -5};

    bw_heatmap_overlay(grey, W, H, 1, zero, 2, 3, 1.0f, 0.7, out);
    TAP_OK(memcmp(out, want, sizeof out) == 0, "zero map on a grey base: the base repeated");
    bw_heatmap_overlay(rgb, W, H, 3, zero, 2, 3, 1.0f, 0.7, out);
    TAP_OK(memcmp(out, rgb, sizeof out) == 0, "zero map on an RGB base: the base exactly");
    bw_heatmap_overlay(rgb, W, H, 3, bad, 2, 3, 1.0f, 1.0, out);
    TAP_OK(memcmp(out, rgb, sizeof out) == 0, "negative and NaN map values count as 0");
    const float maxes[] = {0.0f, -1.0f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof maxes / sizeof *maxes; i++) {
        bw_heatmap_overlay(rgb, W, H, 3, ones, 2, 3, maxes[i], 0.7, out);
        TAP_OK(memcmp(out, rgb, sizeof out) == 0, "max=%g: the map counts as zero",
               (double)maxes[i]);
    }
    bw_heatmap_overlay(rgb, W, H, 3, ones, 2, 3, 1.0f, 0.0, out);
    TAP_OK(memcmp(out, rgb, sizeof out) == 0, "alpha 0: the base");
    bw_heatmap_overlay(rgb, W, H, 3, ones, 0, 3, 1.0f, 0.7, out);
    TAP_OK(memcmp(out, rgb, sizeof out) == 0, "an empty map: the base");
}

static void test_heatmap_clamp(void)
{
    enum { W = 6, H = 4 };
    uint8_t base[W * H * 3], out[W * H * 3], want[W * H * 3];
    for (size_t i = 0; i < sizeof base; i++) base[i] = (uint8_t)(i * 29 + 3);
    float big[4] = {5, 7, 1e30f, INFINITY}, exact[4] = {2, 2, 2, 2};
    bw_heatmap_overlay(base, W, H, 3, big, 2, 2, 2.0f, 0.6, out);
    bw_heatmap_overlay(base, W, H, 3, exact, 2, 2, 2.0f, 0.6, want);
    TAP_OK(memcmp(out, want, sizeof out) == 0, "values above max (inf included) clamp to 1");
    uint8_t jet[3];
    bw_jet(1.0f, jet);
    int ok = 1;
    for (size_t i = 0; i < W * H * 3; i++)
        ok = ok && out[i] == blend_ref(base[i], jet[i % 3], 0.6);
    TAP_OK(ok, "a = 1 everywhere: base*(1-alpha) + jet(1)*alpha");
    bw_heatmap_overlay(base, W, H, 3, exact, 2, 2, 2.0f, 5.0, out);
    ok = 1;
    for (size_t i = 0; i < W * H; i++) ok = ok && memcmp(out + 3 * i, jet, 3) == 0;
    TAP_OK(ok, "alpha above 1 is taken as 1 (pure jet)");
}

/* ---- text ---------------------------------------------------------------- */

/* 1 when every pixel that differs from bg lies inside [x0,x1) x [y0,y1),
 * and *count gets how many differ. */
static int inked_inside(const bw_canvas *c, const uint8_t bg[3], size_t x0, size_t x1, size_t y0,
                        size_t y1, size_t *count)
{
    int inside = 1;
    *count = 0;
    for (size_t y = 0; y < c->h; y++)
        for (size_t x = 0; x < c->w; x++) {
            if (px_is(c, x, y, bg)) continue;
            ++*count;
            if (x < x0 || x >= x1 || y < y0 || y >= y1) inside = 0;
        }
    return inside;
}

static void test_text_metrics(void)
{
    /* stb_easy_font advances: A 6, b 6, space 6, 1 6, '.' 3, 5 6; line 12. */
    TAP_OK(bw_text_width("Ab 1.5", 1) == 33, "width(\"Ab 1.5\", 1) = 33 (%zu)",
           bw_text_width("Ab 1.5", 1));
    TAP_OK(bw_text_width("Ab 1.5", 2) == 66, "width(\"Ab 1.5\", 2) = 66");
    TAP_OK(bw_text_height(1) == 12 && bw_text_height(2) == 24 && bw_text_height(0) == 12,
           "height 12 at scale 1, 24 at 2 (scale < 1 taken as 1)");
    TAP_OK(bw_text_width("", 3) == 0 && bw_text_width(NULL, 1) == 0, "empty/NULL width 0");
    size_t q = bw_text_width("?", 1);
    TAP_OK(bw_text_width("\xc3\xa9\xe6\x97\xa5", 1) == 2 * q, "\"é日\" is two '?' wide");
    TAP_OK(bw_text_width("\xff", 1) == q && bw_text_width("\xe6\x97", 1) == 2 * q &&
               bw_text_width("\x01\x7f", 1) == 2 * q,
           "ill-formed bytes and controls are one '?' each");
}

static void test_text_glyphs(void)
{
    bw_canvas c;
    if (bw_canvas_new(&c, 120, 60, WHITE, "t") != BARLOW_OK) return;
    int all_inside = 1, all_inked = 1;
    for (int ch = 0x20; ch <= 0x7E; ch++) {
        char s[2] = {(char)ch, 0};
        size_t n;
        bw_canvas_fill(&c, 0, 0, c.w, c.h, WHITE);
        bw_canvas_text(&c, 10, 7, s, 2, BLACK);
        if (!inked_inside(&c, WHITE, 10, 10 + bw_text_width(s, 2), 7, 7 + bw_text_height(2), &n))
            all_inside = 0, printf("# glyph '%c' outside its box\n", ch);
        if ((n == 0) != (ch == ' ')) all_inked = 0, printf("# glyph '%c': %zu pixels\n", ch, n);
    }
    TAP_OK(all_inside, "every printable glyph stays inside its width x height box (scale 2)");
    TAP_OK(all_inked, "every printable glyph but space sets pixels");

    size_t n;
    bw_canvas_fill(&c, 0, 0, c.w, c.h, WHITE);
    bw_canvas_text(&c, 3, 4, "Ab 1.5", 1, BLACK);
    TAP_OK(inked_inside(&c, WHITE, 3, 36, 4, 16, &n) && n > 40, "\"Ab 1.5\" inked inside 33x12");

    /* Scale 2 is scale 1 with every pixel doubled. */
    bw_canvas s1, s2;
    if (bw_canvas_new(&s1, 40, 12, WHITE, "t") == BARLOW_OK &&
        bw_canvas_new(&s2, 80, 24, WHITE, "t") == BARLOW_OK) {
        bw_canvas_text(&s1, 0, 0, "Ab 1.5", 1, BLACK);
        bw_canvas_text(&s2, 0, 0, "Ab 1.5", 2, BLACK);
        int ok = 1;
        for (size_t y = 0; y < 24; y++)
            for (size_t x = 0; x < 80; x++)
                ok = ok && memcmp(s2.px + (y * 80 + x) * 3, s1.px + (y / 2 * 40 + x / 2) * 3, 3) == 0;
        TAP_OK(ok, "scale 2 doubles every pixel of scale 1");
    }
    bw_canvas_free(&s1);
    bw_canvas_free(&s2);

    /* Non-ASCII: "é日" draws exactly what "??" draws. */
    bw_canvas d;
    if (bw_canvas_new(&d, c.w, c.h, WHITE, "t") == BARLOW_OK) {
        bw_canvas_fill(&c, 0, 0, c.w, c.h, WHITE);
        bw_canvas_text(&c, 5, 5, "\xc3\xa9\xe6\x97\xa5", 2, BLACK);
        bw_canvas_text(&d, 5, 5, "??", 2, BLACK);
        TAP_OK(memcmp(c.px, d.px, c.w * c.h * 3) == 0, "\"é日\" draws two '?' glyphs");
        /* Text at negative and far-off positions is clipped, no crash. */
        bw_canvas_text(&d, -7, -5, "clip me", 3, BLACK);
        bw_canvas_text(&d, LONG_MIN, LONG_MAX, "x", INT_MAX, BLACK);
        bw_canvas_text(&d, 100, 50, "past the edge", 2, BLACK);
        TAP_OK(1, "text clipped at negative offsets, far away and past the edges");
    }
    bw_canvas_free(&d);
    bw_canvas_free(&c);
}

static void test_text_fit(void)
{
    const char *s = "a very long class name";
    char buf[64];
    size_t full = bw_text_width(s, 1);
    bw_text_fit(s, full, 1, buf, sizeof buf);
    TAP_OK(strcmp(buf, s) == 0, "a string that fits is copied");
    size_t n = bw_text_width("a very lo", 1) + bw_text_width("...", 1); /* 51 + 9 */
    bw_text_fit(s, n, 1, buf, sizeof buf);
    TAP_OK(strcmp(buf, "a very lo...") == 0 && bw_text_width(buf, 1) <= n,
           "shortened to \"a very lo...\" in %zu px (%s)", n, buf);
    bw_text_fit(s, n + 5, 1, buf, sizeof buf);
    TAP_OK(strcmp(buf, "a very lo...") == 0, "one px short of the next glyph: same");
    bw_text_fit(s, bw_text_width("a very ...", 2), 2, buf, sizeof buf);
    TAP_OK(strcmp(buf, "a very...") == 0, "scale 2; a space before the dots is dropped (%s)",
           buf);
    bw_text_fit(s, 7, 1, buf, sizeof buf);
    TAP_OK(strcmp(buf, "..") == 0, "7 px: only two dots fit (%s)", buf);
    bw_text_fit(s, 0, 1, buf, sizeof buf);
    TAP_OK(buf[0] == '\0', "0 px: empty");
    bw_text_fit(s, 1000, 1, buf, 8);
    TAP_OK(strcmp(buf, "a ve...") == 0, "a buffer of 8 bytes: \"a ve...\" (%s)", buf);

    /* 日本語の名前 (3 bytes each, '?' wide): never cut inside a character. */
    const char *jp = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe5\x90\x8d\xe5\x89\x8d";
    size_t q = bw_text_width("?", 1), ok = 1;
    for (size_t px = 0; px <= 6 * q + 2; px++) {
        bw_text_fit(jp, px, 1, buf, sizeof buf);
        size_t len = strlen(buf), body = len;
        while (body > 0 && buf[body - 1] == '.') body--;
        if (bw_utf8_check(buf, len) != len || body % 3 != 0 || memcmp(buf, jp, body) != 0 ||
            bw_text_width(buf, 1) > px)
            ok = 0, printf("# %zu px: \"%s\"\n", px, buf);
    }
    TAP_OK(ok, "multi-byte names are cut between characters at every width");
    bw_text_fit(jp, 2 * q + bw_text_width("...", 1), 1, buf, sizeof buf);
    TAP_OK(strcmp(buf, "\xe6\x97\xa5\xe6\x9c\xac...") == 0, "\"日本...\" in two glyphs + dots");
    bw_text_fit(jp, 1000, 1, buf, 8);
    TAP_OK(strcmp(buf, "\xe6\x97\xa5...") == 0, "8-byte buffer: \"日...\", not a split character");
    bw_text_fit(jp, 1000, 1, buf, 6);
    TAP_OK(strcmp(buf, "...") == 0, "6-byte buffer: \"...\" only");
    bw_text_fit(jp, 1000, 1, buf, 1);
    TAP_OK(buf[0] == '\0', "1-byte buffer: empty");
}

/* ---- canvas, blit -------------------------------------------------------- */

/* The canvas a blit should give, pixel by pixel (no clipping logic). */
static void blit_ref(uint8_t *ref, size_t cw, size_t ch, long x, long y, const uint8_t *src,
                     size_t sw, size_t sh, size_t channels, size_t scale)
{
    for (long yy = 0; yy < (long)ch; yy++)
        for (long xx = 0; xx < (long)cw; xx++) {
            long sx = xx - x, sy = yy - y;
            if (sx < 0 || sy < 0 || sx >= (long)(sw * scale) || sy >= (long)(sh * scale)) continue;
            const uint8_t *s = src + ((size_t)(sy / (long)scale) * sw + (size_t)(sx / (long)scale)) * channels;
            uint8_t *d = ref + ((size_t)yy * cw + (size_t)xx) * 3;
            for (int k = 0; k < 3; k++) d[k] = s[channels == 3 ? k : 0];
        }
}

static void test_blit(void)
{
    const uint8_t rgb[2 * 3 * 3] = {10, 20, 30, 40, 50, 60, 70, 80, 90,
                                    15, 25, 35, 45, 55, 65, 75, 85, 95}; /* 3 wide, 2 high */
    const uint8_t grey[6] = {1, 2, 3, 4, 5, 6};
    const uint8_t bg[3] = {200, 100, 50};
    static const long offs[][2] = {{1, 1}, {0, 0}, {-2, -4}, {-8, 0}, {8, 8}, {9, -1}, {3, 9},
                                   {-9, -6}, {10, 0}, {LONG_MIN, 0}, {0, LONG_MAX}};
    bw_canvas c;
    if (bw_canvas_new(&c, 10, 10, bg, "t") != BARLOW_OK) return;
    uint8_t ref[300], blank[300];
    memcpy(blank, c.px, sizeof blank);
    int ok = 1;
    for (size_t i = 0; i < sizeof offs / sizeof *offs; i++)
        for (size_t channels = 1; channels <= 3; channels += 2) {
            const uint8_t *src = channels == 3 ? rgb : grey;
            memcpy(c.px, blank, sizeof blank);
            memcpy(ref, blank, sizeof blank);
            bw_canvas_blit(&c, offs[i][0], offs[i][1], src, 3, 2, channels, 3);
            if (offs[i][0] > -100 && offs[i][1] < 100)
                blit_ref(ref, 10, 10, offs[i][0], offs[i][1], src, 3, 2, channels, 3);
            if (memcmp(c.px, ref, sizeof ref) != 0)
                ok = 0, printf("# blit at (%ld,%ld), %zu channels differs\n", offs[i][0],
                               offs[i][1], channels);
        }
    TAP_OK(ok, "blit scale 3 (nearest), grey and RGB, clipped at negative offsets and past "
               "the edges");
    memcpy(c.px, blank, sizeof blank);
    bw_canvas_blit(&c, 1, 1, rgb, 3, 2, 3, 3);
    TAP_OK(px_is(&c, 1, 1, rgb) && px_is(&c, 3, 3, rgb) && px_is(&c, 4, 1, rgb + 3) &&
               px_is(&c, 9, 6, rgb + 15) && px_is(&c, 9, 7, bg) && px_is(&c, 0, 0, bg),
           "blit at (1,1): 3x3 blocks of each source pixel");
    bw_canvas_blit(&c, 0, 0, rgb, 3, 2, 2, 1);
    bw_canvas_blit(&c, 0, 0, rgb, 3, 2, 3, 0);
    TAP_OK(px_is(&c, 0, 0, bg), "2 channels or scale 0 draw nothing");

    /* fill and frame, clipped */
    memcpy(c.px, blank, sizeof blank);
    bw_canvas_fill(&c, -3, 8, 5, 100, WHITE);
    size_t n;
    TAP_OK(inked_inside(&c, bg, 0, 2, 8, 10, &n) && n == 4, "fill clipped to the canvas");
    memcpy(c.px, blank, sizeof blank);
    bw_canvas_frame(&c, 2, 3, 4, 5, BLACK);
    TAP_OK(inked_inside(&c, bg, 2, 6, 3, 8, &n) && n == 14 && px_is(&c, 2, 3, BLACK) &&
               px_is(&c, 5, 7, BLACK) && px_is(&c, 3, 4, bg),
           "frame: a 1-px outline of 4x5 (14 pixels)");
    bw_canvas_frame(&c, -1, -1, 12, 12, BLACK);
    TAP_OK(px_is(&c, 0, 0, bg) && px_is(&c, 9, 9, bg), "a frame just outside draws nothing");
    bw_canvas_free(&c);
    bw_canvas_free(&c);
    TAP_OK(c.px == NULL, "bw_canvas_free twice is harmless");
    TAP_OK(bw_canvas_new(&c, SIZE_MAX / 2, 3, bg, "who_x") == BARLOW_E_NOMEM && msg_has("who_x"),
           "an impossible canvas: NOMEM naming who");
}

static void test_colorbar(void)
{
    bw_canvas c;
    if (bw_canvas_new(&c, 120, 40, WHITE, "t") != BARLOW_OK) return;
    bw_canvas_colorbar(&c, 10, 5, 101, 8, 2.5f, 1, BLACK);
    int ok = 1;
    for (size_t i = 0; i < 101; i++) {
        uint8_t rgb[3];
        bw_jet((float)i / 100.0f, rgb);
        ok = ok && px_is(&c, 10 + i, 5, rgb) && px_is(&c, 10 + i, 12, rgb);
    }
    TAP_OK(ok && px_is(&c, 9, 5, WHITE) && px_is(&c, 111, 5, WHITE) && px_is(&c, 10, 13, WHITE),
           "colour bar: jet(i/(w-1)) in every column of the box");
    /* The labels: one font unit below the box, "0" from its left end,
     * "2.5" ending at its right end, nothing else. */
    size_t n, lw = bw_text_width("2.5", 1), ly = 5 + 8 + 1;
    bw_canvas_fill(&c, 10, 5, 101, 8, WHITE);
    int inside = inked_inside(&c, WHITE, 10, 111, ly, ly + 12, &n);
    size_t total = n;
    bw_canvas_fill(&c, 111 - (long)lw, 0, lw, 40, WHITE);
    int zero = inked_inside(&c, WHITE, 10, 10 + bw_text_width("0", 1), ly, ly + 12, &n) &&
               n > 0 && n < total;
    bw_canvas_fill(&c, 10, 0, bw_text_width("0", 1), 40, WHITE);
    inked_inside(&c, WHITE, 0, 0, 0, 0, &n);
    TAP_OK(inside && zero && n == 0,
           "labels under the bar: \"0\" at the left end, \"2.5\" right-aligned");
    bw_canvas_free(&c);
}

/* ---- PNG ----------------------------------------------------------------- */

static int same_image(const barlow_image *img, const uint8_t *px, size_t w, size_t h, size_t c)
{
    return img && barlow_image_width(img) == w && barlow_image_height(img) == h &&
           barlow_image_channels(img) == c && memcmp(barlow_image_data(img), px, w * h * c) == 0;
}

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_png_memory(void)
{
    enum { W = 37, H = 23 };
    barlow_image *rgb = NULL, *grey = NULL, *back = NULL;
    if (barlow_image_create(W, H, 3, &rgb) != BARLOW_OK ||
        barlow_image_create(W, H, 1, &grey) != BARLOW_OK)
        return;
    uint8_t *p = barlow_image_data_mut(rgb), *g = barlow_image_data_mut(grey);
    for (size_t i = 0; i < W * H * 3; i++) p[i] = (uint8_t)((i * 2654435761u) >> 11);
    for (size_t i = 0; i < W * H; i++) g[i] = (uint8_t)(i % 7 == 0 ? i * 31 : i / 4);
    barlow_buffer buf = {NULL, 0};
    barlow_status st = barlow_image_encode_png(rgb, &buf);
    const uint8_t *b = buf.data;
    TAP_OK(st == BARLOW_OK && buf.size > 33 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 &&
               b[24] == 8 && b[25] == 2 && *barlow_last_error() == '\0',
           "RGB encodes as an 8-bit RGB PNG (%zu bytes)", buf.size);
    st = barlow_image_decode_memory(buf.data, buf.size, NULL, &back);
    TAP_OK(st == BARLOW_OK && same_image(back, p, W, H, 3), "37x23 RGB round trip: same bytes");
    barlow_image_free(back);
    back = NULL;
    barlow_buffer_free(&buf);
    st = barlow_image_encode_png(grey, &buf);
    b = buf.data;
    TAP_OK(st == BARLOW_OK && b[24] == 8 && b[25] == 0, "grey encodes as an 8-bit grey PNG");
    st = barlow_image_decode_memory(buf.data, buf.size, NULL, &back);
    TAP_OK(st == BARLOW_OK && same_image(back, g, W, H, 1), "37x23 grey round trip: same bytes");
    barlow_image_free(back);
    barlow_buffer_free(&buf);

    barlow_buffer keep = {(void *)"x", 1};
    st = barlow_image_encode_png(NULL, &keep);
    TAP_OK(st == BARLOW_E_INVALID_ARG && msg_has("barlow_image_encode_png: img is NULL") &&
               keep.size == 1, "NULL img: INVALID_ARG, out untouched");
    st = barlow_image_encode_png(rgb, NULL);
    TAP_OK(st == BARLOW_E_INVALID_ARG && msg_has("out is NULL"), "NULL out: INVALID_ARG");
    uint8_t dummy[3] = {0};
    st = bw_png_encode(dummy, (size_t)INT_MAX, 2, 3, &keep, "who_y");
    TAP_OK(st == BARLOW_E_UNSUPPORTED && msg_has("who_y") && keep.size == 1,
           "over the encoder's int limit: UNSUPPORTED before touching pixels (%s)",
           barlow_last_error());
    st = bw_png_encode(dummy, 1, 1, 4, &keep, "who_z");
    TAP_OK(st == BARLOW_E_INVALID_ARG && msg_has("who_z"), "4 channels: INVALID_ARG");
    barlow_image_free(rgb);
    barlow_image_free(grey);
}

static void test_png_files(void)
{
    barlow_image *img = NULL, *back = NULL;
    if (barlow_image_create(37, 23, 3, &img) != BARLOW_OK) return;
    uint8_t *p = barlow_image_data_mut(img);
    for (size_t i = 0; i < 37 * 23 * 3; i++) p[i] = (uint8_t)(i * 7);
    const char *path = tmp_path("out.png");
    barlow_status st = barlow_image_save_png(img, path);
    TAP_OK(st == BARLOW_OK, "save_png (%s)", barlow_last_error());
    st = barlow_image_decode_file(path, NULL, &back);
    TAP_OK(st == BARLOW_OK && same_image(back, p, 37, 23, 3), "the saved file decodes to the image");
    barlow_image_free(back);

    chmod(path, 0640);
    st = barlow_image_save_png(img, path);
    struct stat sb;
    TAP_OK(st == BARLOW_OK && stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640 &&
               dir_entries(tmpdir) == 1,
           "saving over a file replaces it and keeps its mode, no temporary left");

    const char *missing = tmp_path("no-such-dir/x.png");
    st = barlow_image_save_png(img, missing);
    TAP_OK(st == BARLOW_E_IO && msg_has("barlow_image_save_png") && msg_has("no-such-dir/x.png") &&
               dir_entries(tmpdir) == 1,
           "a missing directory: IO naming the path, nothing left (%s)", barlow_last_error());
    const char *fifo = tmp_path("out.fifo");
    if (mkfifo(fifo, 0600) == 0) {
        st = barlow_image_save_png(img, fifo);
        TAP_OK(st == BARLOW_E_IO && msg_has("FIFO") && lstat(fifo, &sb) == 0 &&
                   S_ISFIFO(sb.st_mode) && dir_entries(tmpdir) == 2,
               "saving over a FIFO is refused, the FIFO stays, nothing left (%s)",
               barlow_last_error());
        unlink(fifo);
    }
    st = barlow_image_save_png(NULL, path);
    TAP_OK(st == BARLOW_E_INVALID_ARG && msg_has("img is NULL"), "NULL img: INVALID_ARG");
    st = barlow_image_save_png(img, "");
    TAP_OK(st == BARLOW_E_INVALID_ARG && msg_has("empty output path"), "empty path: INVALID_ARG");
    st = barlow_image_save_png(img, NULL);
    TAP_OK(st == BARLOW_E_INVALID_ARG && msg_has("NULL output path"), "NULL path: INVALID_ARG");
    barlow_image_free(img);
}

/* ---- a sample for the eye ------------------------------------------------ */

static barlow_status render_sample(const char *path)
{
    enum { W = 480, H = 300, T = 112 };
    static const uint8_t bg[3] = {250, 250, 250}, ink[3] = {20, 20, 20}, red[3] = {200, 30, 30};
    bw_canvas c;
    barlow_status st = bw_canvas_new(&c, W, H, bg, "sample");
    if (st != BARLOW_OK) return st;
    bw_canvas_text(&c, 8, 6, "Feature 1378 (scale 3)", 3, ink);
    bw_canvas_text(&c, 8, 46, "scale 2: error 50% -> 100%", 2, ink);
    bw_canvas_text(&c, 8, 74, "scale 1: The quick brown fox jumps over the lazy dog 0123456789 "
                              "caf\xc3\xa9 \xe6\x97\xa5", 1, red);
    bw_canvas_text(&c, 330, 46, "wW mM [x] {y}", 2, ink);
    uint8_t photo[T * T], out[T * T * 3];
    float map[8 * 8];
    for (size_t y = 0; y < T; y++)
        for (size_t x = 0; x < T; x++) /* a smooth grey "photo" with stripes */
            photo[y * T + x] = (uint8_t)(110 + 60 * sin((double)x / 9) * cos((double)y / 13) +
                                         (((x + y) / 16) % 2) * 30);
    for (size_t y = 0; y < 8; y++)
        for (size_t x = 0; x < 8; x++) map[y * 8 + x] = (float)(x + y) / 14.0f * 3.0f;
    bw_canvas_blit(&c, 8, 96, photo, T, T, 1, 1);
    bw_canvas_frame(&c, 7, 95, T + 2, T + 2, ink);
    bw_heatmap_overlay(photo, T, T, 1, map, 8, 8, 3.0f, 0.5, out);
    bw_canvas_blit(&c, 136, 96, out, T, T, 3, 1);
    bw_canvas_frame(&c, 135, 95, T + 2, T + 2, ink);
    uint8_t crop[32 * 32];
    for (size_t y = 0; y < 32; y++) memcpy(crop + 32 * y, photo + (40 + y) * T + 40, 32);
    bw_canvas_blit(&c, 264, 96, crop, 32, 32, 1, 3); /* nearest x3 */
    bw_canvas_blit(&c, 392, 96, out, T, T, 3, 1);     /* clipped at the right edge */
    char fit[64];
    bw_text_fit("a very long class name that does not fit", T, 1, fit, sizeof fit);
    bw_canvas_text(&c, 136, 212, fit, 1, ink);
    bw_canvas_colorbar(&c, 136, 236, 300, 14, 3.0f, 2, ink);
    barlow_image *img = NULL;
    st = barlow_image_create(W, H, 3, &img);
    if (st == BARLOW_OK) {
        memcpy(barlow_image_data_mut(img), c.px, (size_t)W * H * 3);
        st = barlow_image_save_png(img, path);
    }
    barlow_image_free(img);
    bw_canvas_free(&c);
    return st;
}

int main(void)
{
    tmp_dir_create("render");
    test_jet();
    test_heatmap_bilinear();
    test_heatmap_zero();
    test_heatmap_clamp();
    test_text_metrics();
    test_text_glyphs();
    test_text_fit();
    test_blit();
    test_colorbar();
    test_png_memory();
    test_png_files();
    const char *sample = getenv("BARLOW_RENDER_SAMPLE");
    TAP_OK(render_sample(sample && *sample ? sample : tmp_path("sample.png")) == BARLOW_OK,
           "sample canvas rendered and saved (%s)", barlow_last_error());
    tmp_dir_remove();
    return tap_done();
}
