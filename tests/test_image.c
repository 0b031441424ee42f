/* Tests of include/barlow/image.h (public API only): decoding of each
 * format and colour type, conversions, header limits, corrupt / truncated /
 * empty / missing files, resize and crop geometry, preprocessing, options
 * and argument errors. Exactness against PIL/torchvision is checked by
 * tests/python/test_image_parity.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barlow/image.h"
#include "img_encode.h"
#include "tap.h"
#include "tmpdir.h"

#define SENTINEL ((barlow_image *)(uintptr_t)0x1234)

/* Decodes from memory with the given channel option; NULL on failure. */
static barlow_image *dec(const void *d, size_t n, size_t channels)
{
    barlow_image_options o;
    barlow_image_options_init(&o);
    o.channels = channels;
    barlow_image *img = NULL;
    if (barlow_image_decode_memory(d, n, &o, &img) != BARLOW_OK) return NULL;
    return img;
}

static uint8_t pil_l(uint8_t r, uint8_t g, uint8_t b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

static void test_options(void)
{
    barlow_image_options o;
    barlow_image_options_init(&o);
    TAP_OK(o.version == BARLOW_IMAGE_OPTIONS_VERSION && o.channels == 0 &&
               o.max_side == 32768 &&
               o.max_pixels == ((uint64_t)1 << 28),
           "image options defaults");
    barlow_image_preprocess_options p;
    barlow_image_preprocess_options_init(&p);
    TAP_OK(p.version == BARLOW_IMAGE_PREPROCESS_OPTIONS_VERSION && p.resize == 256 &&
               p.crop == 224 && p.channels == 3,
           "preprocess options defaults 256/224/3");
    barlow_image_options_init(NULL);
    barlow_image_preprocess_options_init(NULL);

    uint8_t px[3 * 4] = {0};
    size_t n;
    uint8_t *png = png_encode(2, 2, 2, px, &n);
    barlow_image *img = SENTINEL;
    o.version = 0;
    TAP_OK(barlow_image_decode_memory(png, n, &o, &img) == BARLOW_E_INVALID_ARG &&
               msg_has("barlow_image_decode_memory") && msg_has("version=0") && img == SENTINEL,
           "options version 0 -> INVALID_ARG, out untouched: %s", barlow_last_error());
    o.version = 99;
    TAP_OK(barlow_image_decode_memory(png, n, &o, &img) == BARLOW_E_INVALID_ARG &&
               msg_has("version=99") && img == SENTINEL,
           "options version 99 -> INVALID_ARG");
    barlow_image_options_init(&o);
    o.channels = 2;
    TAP_OK(barlow_image_decode_memory(png, n, &o, &img) == BARLOW_E_INVALID_ARG &&
               msg_has("channels=2") && msg_has("0, 1 or 3") && img == SENTINEL,
           "channels 2 -> INVALID_ARG naming the range: %s", barlow_last_error());
    barlow_image_options_init(&o);
    o.max_side = 0;
    TAP_OK(barlow_image_decode_memory(png, n, &o, &img) == BARLOW_E_INVALID_ARG &&
               msg_has("max_side=0") && img == SENTINEL,
           "max_side 0 -> INVALID_ARG");
    barlow_image_options_init(&o);
    o.max_pixels = 0;
    TAP_OK(barlow_image_decode_memory(png, n, &o, &img) == BARLOW_E_INVALID_ARG &&
               msg_has("max_pixels=0") && img == SENTINEL,
           "max_pixels 0 -> INVALID_ARG");
    TAP_OK(barlow_image_decode_memory(png, n, NULL, NULL) == BARLOW_E_INVALID_ARG &&
               msg_has("out is NULL"),
           "NULL out -> INVALID_ARG");
    TAP_OK(barlow_image_decode_memory(NULL, 5, NULL, &img) == BARLOW_E_INVALID_ARG &&
               msg_has("data is NULL") && img == SENTINEL,
           "NULL data -> INVALID_ARG");
    TAP_OK(barlow_image_decode_memory(png, n, NULL, &img) == BARLOW_OK && img != SENTINEL &&
               strcmp(barlow_last_error(), "") == 0,
           "NULL options = defaults; success clears the message");
    barlow_image_free(img);
    free(png);
}

static void test_create(void)
{
    barlow_image *img = SENTINEL;
    TAP_OK(barlow_image_create(3, 2, 3, &img) == BARLOW_OK && barlow_image_width(img) == 3 &&
               barlow_image_height(img) == 2 && barlow_image_channels(img) == 3 &&
               barlow_image_source_format(img) == BARLOW_IMAGE_FORMAT_NONE,
           "create 3x2x3");
    int zero = 1;
    for (size_t i = 0; i < 18; i++) zero &= barlow_image_data(img)[i] == 0;
    TAP_OK(zero && barlow_image_data_mut(img) == barlow_image_data(img), "created image is zeros");
    barlow_image_free(img);
    img = SENTINEL;
    TAP_OK(barlow_image_create(3, 2, 2, &img) == BARLOW_E_INVALID_ARG && msg_has("channels=2") &&
               img == SENTINEL,
           "create channels 2 -> INVALID_ARG");
    TAP_OK(barlow_image_create(0, 2, 1, &img) == BARLOW_E_INVALID_ARG && msg_has("0x2") &&
               img == SENTINEL,
           "create width 0 -> INVALID_ARG");
    TAP_OK(barlow_image_create(100000, 100000, 1, &img) == BARLOW_E_INVALID_ARG &&
               msg_has("100000x100000") && img == SENTINEL,
           "create 100000x100000 -> INVALID_ARG (limits)");
    TAP_OK(barlow_image_create(1, 1, 1, NULL) == BARLOW_E_INVALID_ARG, "create NULL out");
    TAP_OK(barlow_image_width(NULL) == 0 && barlow_image_height(NULL) == 0 &&
               barlow_image_channels(NULL) == 0 && barlow_image_data(NULL) == NULL &&
               barlow_image_data_mut(NULL) == NULL &&
               barlow_image_source_format(NULL) == BARLOW_IMAGE_FORMAT_NONE,
           "accessors accept NULL");
    /* free(NULL) leaves the message alone */
    barlow_image_create(0, 0, 1, &img);
    char before[256];
    snprintf(before, sizeof before, "%s", barlow_last_error());
    barlow_image_free(NULL);
    TAP_OK(strcmp(before, barlow_last_error()) == 0 && before[0] != '\0',
           "barlow_image_free(NULL) keeps the error message");
}

static void test_png(void)
{
    /* RGB 3x2, exact */
    uint8_t rgb[18];
    for (int i = 0; i < 18; i++) rgb[i] = (uint8_t)(i * 13 + 7);
    size_t n;
    uint8_t *d = png_encode(3, 2, 2, rgb, &n);
    barlow_image *img = dec(d, n, 0);
    TAP_OK(img && barlow_image_width(img) == 3 && barlow_image_height(img) == 2 &&
               barlow_image_channels(img) == 3 &&
               barlow_image_source_format(img) == BARLOW_IMAGE_FORMAT_PNG &&
               memcmp(barlow_image_data(img), rgb, 18) == 0,
           "PNG RGB decodes exactly");
    barlow_image_free(img);
    {
        /* An empty IDAT chunk first (legal, no data): decodes the same. It
         * used to reach stb's `NULL + 0` (UB found by tests/fuzz). */
        static const uint8_t empty_idat[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T',
                                               0x35, 0xaf, 0x06, 0x1e};
        uint8_t *e = malloc(n + 12);
        memcpy(e, d, 33); /* signature + IHDR chunk */
        memcpy(e + 33, empty_idat, 12);
        memcpy(e + 45, d + 33, n - 33);
        img = dec(e, n + 12, 0);
        TAP_OK(img && barlow_image_width(img) == 3 && memcmp(barlow_image_data(img), rgb, 18) == 0,
               "PNG with an empty first IDAT chunk decodes exactly");
        barlow_image_free(img);
        /* An IDAT claiming ~2 GiB in a tiny file: refused before stb would
         * allocate the claimed size (found by tests/fuzz). */
        memcpy(e, d, n);
        e[33] = 0x7f; /* the first IDAT's length: 0x7f...... */
        barlow_image_options io;
        barlow_image_options_init(&io);
        barlow_image *big = SENTINEL;
        barlow_status bst = barlow_image_decode_memory(e, n, &io, &big);
        TAP_OK(bst == BARLOW_E_FORMAT && strstr(barlow_last_error(), "longer than the rest") &&
                   big == SENTINEL,
               "PNG chunk longer than the file: FORMAT, nothing allocated (%s)",
               barlow_last_error());
        free(e);
    }
    img = dec(d, n, 1);
    int ok = img && barlow_image_channels(img) == 1;
    for (int i = 0; ok && i < 6; i++)
        ok = barlow_image_data(img)[i] == pil_l(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    TAP_OK(ok, "PNG RGB with channels=1 uses PIL's L formula");
    barlow_image_free(img);
    free(d);

    /* grey → 1 channel natively, 3 on request */
    uint8_t grey[6] = {0, 50, 100, 150, 200, 255};
    d = png_encode(3, 2, 0, grey, &n);
    img = dec(d, n, 0);
    TAP_OK(img && barlow_image_channels(img) == 1 && memcmp(barlow_image_data(img), grey, 6) == 0,
           "PNG grey decodes to 1 channel");
    barlow_image_free(img);
    img = dec(d, n, 3);
    ok = img && barlow_image_channels(img) == 3;
    for (int i = 0; ok && i < 6; i++)
        ok = barlow_image_data(img)[3 * i] == grey[i] && barlow_image_data(img)[3 * i + 1] == grey[i] &&
             barlow_image_data(img)[3 * i + 2] == grey[i];
    TAP_OK(ok, "PNG grey with channels=3 repeats the grey value");
    barlow_image_free(img);
    free(d);

    /* grey + alpha: alpha dropped */
    uint8_t ga[8] = {10, 0, 20, 255, 30, 128, 40, 7};
    d = png_encode(2, 2, 4, ga, &n);
    img = dec(d, n, 0);
    TAP_OK(img && barlow_image_channels(img) == 1 && barlow_image_data(img)[0] == 10 &&
               barlow_image_data(img)[1] == 20 && barlow_image_data(img)[2] == 30 &&
               barlow_image_data(img)[3] == 40,
           "PNG grey+alpha: 1 channel, alpha dropped");
    barlow_image_free(img);
    free(d);

    /* RGBA: alpha dropped, not composited (a transparent pixel keeps its colour) */
    uint8_t rgba[8] = {200, 100, 50, 0, 1, 2, 3, 255};
    d = png_encode(2, 1, 6, rgba, &n);
    img = dec(d, n, 0);
    const uint8_t *p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 3 && p[0] == 200 && p[1] == 100 && p[2] == 50 &&
               p[3] == 1 && p[4] == 2 && p[5] == 3,
           "PNG RGBA: alpha dropped, transparent pixel keeps (200,100,50)");
    barlow_image_free(img);
    free(d);

    /* palette with tRNS → RGB */
    uint8_t pal[9] = {255, 0, 0, 0, 255, 0, 10, 20, 30};
    uint8_t trns[3] = {0, 128, 255};
    uint8_t idx[4] = {0, 1, 2, 1};
    d = png_encode_ex(2, 2, 3, 8, idx, pal, 3, trns, 3, 0, 0, 0, &n);
    img = dec(d, n, 0);
    p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 3 && p[0] == 255 && p[1] == 0 && p[2] == 0 &&
               p[3] == 0 && p[4] == 255 && p[6] == 10 && p[7] == 20 && p[8] == 30 &&
               p[10] == 255,
           "PNG palette (+tRNS) -> RGB from the palette");
    barlow_image_free(img);
    free(d);

    /* 16-bit RGB keeps the high byte */
    uint8_t s16[12] = {0x12, 0x34, 0xAB, 0xCD, 0xFF, 0xFF, 0x00, 0xFF, 0x80, 0x00, 0x7F, 0xFF};
    d = png_encode_ex(2, 1, 2, 16, s16, NULL, 0, NULL, 0, 0, 0, 0, &n);
    img = dec(d, n, 0);
    p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && p[0] == 0x12 && p[1] == 0xAB && p[2] == 0xFF && p[3] == 0x00 && p[4] == 0x80 &&
               p[5] == 0x7F,
           "PNG 16-bit: high byte kept");
    barlow_image_free(img);
    free(d);
}

static void test_bmp(void)
{
    uint8_t rgb[3 * 5 * 3];
    for (int i = 0; i < 45; i++) rgb[i] = (uint8_t)(i * 5 + 1);
    size_t n;
    uint8_t *d = bmp_encode(5, 3, rgb, &n);
    barlow_image *img = dec(d, n, 0);
    TAP_OK(img && barlow_image_width(img) == 5 && barlow_image_height(img) == 3 &&
               barlow_image_source_format(img) == BARLOW_IMAGE_FORMAT_BMP &&
               memcmp(barlow_image_data(img), rgb, 45) == 0,
           "BMP 24-bit (padded rows, bottom-up) decodes exactly");
    barlow_image_free(img);
    free(d);
    d = bmp_encode_ex(5, 3, 32, rgb, NULL, 0, 0, 0, 0, &n);
    img = dec(d, n, 0);
    TAP_OK(img && barlow_image_channels(img) == 3 && memcmp(barlow_image_data(img), rgb, 45) == 0,
           "BMP 32-bit decodes exactly to RGB");
    barlow_image_free(img);
    free(d);
    uint8_t pal[6] = {9, 8, 7, 200, 150, 100};
    uint8_t idx[6] = {0, 1, 1, 0, 1, 0};
    d = bmp_encode_ex(3, 2, 8, idx, pal, 2, 0, 0, 0, &n);
    img = dec(d, n, 0);
    const uint8_t *p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 3 && p[0] == 9 && p[1] == 8 && p[2] == 7 &&
               p[3] == 200 && p[4] == 150 && p[5] == 100,
           "BMP 8-bit palette -> RGB");
    barlow_image_free(img);
    /* truncated pixel data */
    barlow_image *out = SENTINEL;
    TAP_OK(barlow_image_decode_memory(d, n - 4, NULL, &out) == BARLOW_E_FORMAT &&
               msg_has("truncated") && out == SENTINEL,
           "BMP with truncated pixel data -> FORMAT: %s", barlow_last_error());
    free(d);
}

static int near(int a, int b, int tol)
{
    return a - b <= tol && b - a <= tol;
}

static void test_jpeg(void)
{
    /* flat colour blocks survive JPEG closely */
    uint8_t rgb[16 * 16 * 3];
    for (int i = 0; i < 256; i++) {
        rgb[3 * i] = 200;
        rgb[3 * i + 1] = 40;
        rgb[3 * i + 2] = 90;
    }
    size_t n;
    uint8_t *d = jpeg_encode(16, 16, 3, rgb, 95, 0, &n);
    barlow_image *img = dec(d, n, 0);
    const uint8_t *p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 3 && barlow_image_width(img) == 16 &&
               barlow_image_source_format(img) == BARLOW_IMAGE_FORMAT_JPEG &&
               near(p[0], 200, 3) && near(p[1], 40, 3) && near(p[2], 90, 3),
           "JPEG RGB (YCbCr) decodes");
    barlow_image_free(img);
    img = dec(d, n, 1);
    p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 1 && near(p[0], pil_l(200, 40, 90), 3),
           "JPEG RGB with channels=1 -> grey");
    barlow_image_free(img);
    barlow_image_format f = BARLOW_IMAGE_FORMAT_NONE;
    size_t w = 0, h = 0;
    TAP_OK(barlow_image_probe_memory(d, n, &f, &w, &h) == BARLOW_OK &&
               f == BARLOW_IMAGE_FORMAT_JPEG && w == 16 && h == 16,
           "probe JPEG");
    free(d);

    d = jpeg_encode(16, 16, 3, rgb, 95, 1, &n);
    img = dec(d, n, 0);
    p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && near(p[0], 200, 3) && near(p[1], 40, 3), "progressive JPEG decodes");
    barlow_image_free(img);
    free(d);

    uint8_t grey[24 * 8];
    for (int i = 0; i < 24 * 8; i++) grey[i] = 77;
    d = jpeg_encode(24, 8, 1, grey, 95, 0, &n);
    img = dec(d, n, 0);
    p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 1 && barlow_image_width(img) == 24 &&
               barlow_image_height(img) == 8 && near(p[0], 77, 1),
           "grey JPEG decodes to 1 channel");
    barlow_image_free(img);
    img = dec(d, n, 3);
    p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 3 && p[0] == p[1] && p[1] == p[2],
           "grey JPEG with channels=3 repeats grey");
    barlow_image_free(img);
    free(d);

    /* CMYK (Adobe, inverted like Photoshop): stored 255 = no ink. Left half
     * stored (0,255,255,255) = full cyan → (0,255,255); right half all 255
     * = white. */
    uint8_t cmyk[16 * 16 * 4];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            uint8_t *q = cmyk + 4 * (y * 16 + x);
            q[0] = x < 8 ? 0 : 255;
            q[1] = q[2] = q[3] = 255;
        }
    d = jpeg_encode(16, 16, 4, cmyk, 95, 0, &n);
    img = dec(d, n, 0);
    p = img ? barlow_image_data(img) : NULL;
    TAP_OK(img && barlow_image_channels(img) == 3 && near(p[0], 0, 4) && near(p[1], 255, 4) &&
               near(p[2], 255, 4) && near(p[3 * 15], 255, 4) && near(p[3 * 15 + 1], 255, 4),
           "CMYK JPEG -> RGB (cyan, white)");
    barlow_image_free(img);
    free(d);
}

static void test_files(void)
{
    uint8_t rgb[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    size_t n;
    uint8_t *d = png_encode(2, 2, 2, rgb, &n);
    /* the extension does not matter: a PNG named .jpg */
    const char *path = tmp_path("really_a_png.jpg");
    write_file(path, d, n);
    barlow_image *img = NULL;
    TAP_OK(barlow_image_decode_file(path, NULL, &img) == BARLOW_OK &&
               barlow_image_source_format(img) == BARLOW_IMAGE_FORMAT_PNG &&
               memcmp(barlow_image_data(img), rgb, 12) == 0,
           "format detected by magic bytes, not the extension");
    barlow_image_free(img);

    barlow_image *out = SENTINEL;
    const char *missing = tmp_path("missing.png");
    TAP_OK(barlow_image_decode_file(missing, NULL, &out) == BARLOW_E_IO && msg_has(missing) &&
               msg_has("barlow_image_decode_file") && out == SENTINEL,
           "missing file -> IO naming it: %s", barlow_last_error());
    TAP_OK(barlow_image_decode_file(tmpdir, NULL, &out) == BARLOW_E_IO && msg_has(tmpdir) &&
               out == SENTINEL,
           "a directory -> IO: %s", barlow_last_error());
    const char *empty = tmp_path("empty.jpg");
    write_file(empty, "", 0);
    TAP_OK(barlow_image_decode_file(empty, NULL, &out) == BARLOW_E_FORMAT && msg_has(empty) &&
               msg_has("empty") && out == SENTINEL,
           "zero-byte file -> FORMAT naming it: %s", barlow_last_error());
    const char *text = tmp_path("notes.png");
    write_file(text, "hello, world\n", 13);
    TAP_OK(barlow_image_decode_file(text, NULL, &out) == BARLOW_E_FORMAT && msg_has(text) &&
               msg_has("not a JPEG, PNG or BMP") && out == SENTINEL,
           "text file -> FORMAT: %s", barlow_last_error());
    const char *gif = tmp_path("a.gif");
    write_file(gif, "GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14);
    TAP_OK(barlow_image_decode_file(gif, NULL, &out) == BARLOW_E_UNSUPPORTED && msg_has(gif) &&
               msg_has("GIF") && out == SENTINEL,
           "GIF -> UNSUPPORTED: %s", barlow_last_error());
    TAP_OK(barlow_image_decode_file(NULL, NULL, &out) == BARLOW_E_INVALID_ARG && out == SENTINEL,
           "NULL path -> INVALID_ARG");
    TAP_OK(barlow_image_decode_file(path, NULL, NULL) == BARLOW_E_INVALID_ARG, "NULL out");

    /* truncated files, named in the message */
    uint8_t big[64 * 64 * 3];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)((i * 7919) >> 3);
    uint8_t *j = jpeg_encode(64, 64, 3, big, 90, 0, &n);
    const char *tj = tmp_path("trunc.jpg");
    write_file(tj, j, n / 2);
    TAP_OK(barlow_image_decode_file(tj, NULL, &out) == BARLOW_E_FORMAT && msg_has(tj) &&
               msg_has("truncated") && out == SENTINEL,
           "truncated JPEG -> FORMAT 'truncated': %s", barlow_last_error());
    /* a JPEG missing only its EOI marker is truncated too (PIL refuses it) */
    TAP_OK(barlow_image_decode_memory(j, n - 2, NULL, &out) == BARLOW_E_FORMAT &&
               msg_has("truncated") && out == SENTINEL,
           "JPEG without its EOI marker -> FORMAT 'truncated': %s", barlow_last_error());
    /* bytes after EOI are ignored */
    uint8_t *jt = malloc(n + 5);
    memcpy(jt, j, n);
    memcpy(jt + n, "trail", 5);
    TAP_OK(barlow_image_decode_memory(jt, n + 5, NULL, &img) == BARLOW_OK,
           "JPEG with bytes after EOI decodes");
    barlow_image_free(img);
    free(jt);
    /* corrupt: garbage right after SOI */
    uint8_t junk[64];
    memcpy(junk, "\xFF\xD8\xFF", 3);
    for (int i = 3; i < 64; i++) junk[i] = (uint8_t)(i * 37);
    TAP_OK(barlow_image_decode_memory(junk, sizeof junk, NULL, &out) == BARLOW_E_FORMAT &&
               msg_has("<memory>") && msg_has("JPEG") && out == SENTINEL,
           "corrupt JPEG -> FORMAT with libjpeg's reason: %s", barlow_last_error());
    free(j);
    uint8_t *pn = png_encode(64, 64, 2, big, &n);
    const char *tp = tmp_path("trunc.png");
    write_file(tp, pn, n / 2);
    TAP_OK(barlow_image_decode_file(tp, NULL, &out) == BARLOW_E_FORMAT && msg_has(tp) &&
               out == SENTINEL,
           "truncated PNG -> FORMAT: %s", barlow_last_error());
    /* every truncation of a small PNG/JPEG fails cleanly or decodes */
    int clean = 1;
    for (size_t k = 0; k < n; k += 97) {
        barlow_status st = barlow_image_decode_memory(pn, k, NULL, &img);
        if (st == BARLOW_OK) barlow_image_free(img);
        else if (st != BARLOW_E_FORMAT) clean = 0;
    }
    TAP_OK(clean, "PNG truncated at every 97th byte: FORMAT or OK, never a crash");
    free(pn);
    free(d);
}

static void test_limits(void)
{
    size_t n;
    barlow_image *out = SENTINEL;
    uint8_t px[4] = {0};
    /* PNG IHDR claiming 100000×100000, no data */
    uint8_t *d = png_encode_ex(1, 1, 2, 8, px, NULL, 0, NULL, 0, 100000, 100000, 1, &n);
    const char *p = tmp_path("huge.png");
    write_file(p, d, n);
    TAP_OK(barlow_image_decode_file(p, NULL, &out) == BARLOW_E_UNSUPPORTED && msg_has(p) &&
               msg_has("100000x100000") && msg_has("32768") && out == SENTINEL,
           "PNG header 100000x100000 refused before decoding: %s", barlow_last_error());
    barlow_image_format f;
    size_t w = 0, h = 0;
    TAP_OK(barlow_image_probe_memory(d, n, &f, &w, &h) == BARLOW_OK && w == 100000 &&
               h == 100000 && f == BARLOW_IMAGE_FORMAT_PNG,
           "probe reports the header's 100000x100000");
    free(d);
    /* BMP header claiming 100000×100000 */
    d = bmp_encode_ex(1, 1, 24, px, NULL, 0, 100000, 100000, 1, &n);
    p = tmp_path("huge.bmp");
    write_file(p, d, n);
    TAP_OK(barlow_image_decode_file(p, NULL, &out) == BARLOW_E_UNSUPPORTED && msg_has(p) &&
               msg_has("100000x100000") && out == SENTINEL,
           "BMP header 100000x100000 refused: %s", barlow_last_error());
    free(d);
    /* JPEG SOF claiming 65000×65000 (the format's maximum is 65535) */
    uint8_t rgb[8 * 8 * 3] = {0};
    d = jpeg_encode(8, 8, 3, rgb, 90, 0, &n);
    jpeg_patch_sof(d, n, 65000, 65000);
    p = tmp_path("huge.jpg");
    write_file(p, d, n);
    TAP_OK(barlow_image_decode_file(p, NULL, &out) == BARLOW_E_UNSUPPORTED && msg_has(p) &&
               msg_has("65000x65000") && out == SENTINEL,
           "JPEG SOF 65000x65000 refused: %s", barlow_last_error());
    /* 30000×30000 is within the side limit but over 2^28 pixels */
    jpeg_patch_sof(d, n, 30000, 30000);
    TAP_OK(barlow_image_decode_memory(d, n, NULL, &out) == BARLOW_E_UNSUPPORTED &&
               msg_has("max_pixels") && msg_has("900000000") && out == SENTINEL,
           "JPEG 30000x30000 over max_pixels: %s", barlow_last_error());
    free(d);

    /* custom limits on a real 20×5 PNG */
    uint8_t img20[20 * 5 * 3] = {0};
    d = png_encode(20, 5, 2, img20, &n);
    size_t n2 = 0;
    uint8_t *d2;
    barlow_image_options o;
    barlow_image_options_init(&o);
    o.max_side = 19;
    TAP_OK(barlow_image_decode_memory(d, n, &o, &out) == BARLOW_E_UNSUPPORTED &&
               msg_has("20x5") && msg_has("19 pixels a side") && out == SENTINEL,
           "max_side 19 refuses 20x5 (too wide): %s", barlow_last_error());
    d2 = png_encode(5, 20, 2, img20, &n2);
    TAP_OK(barlow_image_decode_memory(d2, n2, &o, &out) == BARLOW_E_UNSUPPORTED && out == SENTINEL,
           "max_side 19 refuses 5x20 (too tall)");
    free(d2);
    barlow_image_options_init(&o);
    o.max_pixels = 99;
    TAP_OK(barlow_image_decode_memory(d, n, &o, &out) == BARLOW_E_UNSUPPORTED &&
               msg_has("100 pixels") && out == SENTINEL,
           "max_pixels 99 refuses 100 pixels: %s", barlow_last_error());
    o.max_pixels = 100;
    TAP_OK(barlow_image_decode_memory(d, n, &o, &out) == BARLOW_OK, "max_pixels 100 accepts");
    barlow_image_free(out);
    free(d);
}

static barlow_image *gradient(size_t w, size_t h, size_t c)
{
    barlow_image *img = NULL;
    barlow_image_create(w, h, c, &img);
    uint8_t *p = barlow_image_data_mut(img);
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (size_t k = 0; k < c; k++) p[(y * w + x) * c + k] = (uint8_t)(10 * x + 50 * y + k);
    return img;
}

static void test_resize_crop(void)
{
    /* 2×1 [0, 255] → 1×1: PIL gives 128 (weights 1/2 each, +half, >>22) */
    barlow_image *img = NULL, *r = NULL;
    barlow_image_create(2, 1, 1, &img);
    barlow_image_data_mut(img)[1] = 255;
    TAP_OK(barlow_image_resize(img, 1, 1, &r) == BARLOW_OK && barlow_image_data(r)[0] == 128,
           "resize [0,255] to 1 pixel = 128 (PIL rounding)");
    barlow_image_free(r);
    barlow_image_free(img);

    /* constant images stay constant at any size */
    img = gradient(37, 23, 3);
    memset(barlow_image_data_mut(img), 173, 37 * 23 * 3);
    int ok = 1;
    size_t sizes[][2] = {{5, 3}, {100, 71}, {37, 9}, {1, 1}, {200, 23}};
    for (size_t s = 0; s < 5 && ok; s++) {
        ok = barlow_image_resize(img, sizes[s][0], sizes[s][1], &r) == BARLOW_OK &&
             barlow_image_width(r) == sizes[s][0] && barlow_image_height(r) == sizes[s][1];
        for (size_t i = 0; ok && i < sizes[s][0] * sizes[s][1] * 3; i++)
            ok = barlow_image_data(r)[i] == 173;
        barlow_image_free(r);
    }
    TAP_OK(ok, "resizing a constant image keeps it constant (up and down)");
    barlow_image *sentinel = SENTINEL;
    TAP_OK(barlow_image_resize(img, 0, 5, &sentinel) == BARLOW_E_INVALID_ARG &&
               msg_has("0x5") && sentinel == SENTINEL,
           "resize to width 0 -> INVALID_ARG");
    TAP_OK(barlow_image_resize(NULL, 5, 5, &sentinel) == BARLOW_E_INVALID_ARG &&
               sentinel == SENTINEL,
           "resize NULL image -> INVALID_ARG");
    barlow_image_free(img);

    /* shapes: 500×375 → resize 256 = 341×256, crop 224 */
    img = gradient(500, 375, 3);
    barlow_image_preprocess_options o;
    barlow_image_preprocess_options_init(&o);
    size_t c = 0, h = 0, w = 0;
    TAP_OK(barlow_image_preprocess_shape(img, &o, &c, &h, &w) == BARLOW_OK && c == 3 && h == 224 &&
               w == 224,
           "shape 500x375 with 256/224 -> 3x224x224");
    o.crop = 0;
    TAP_OK(barlow_image_preprocess_shape(img, &o, &c, &h, &w) == BARLOW_OK && h == 256 && w == 341,
           "shape 500x375 resize 256 no crop -> 256x341 (floor(256*500/375))");
    o.resize = 0;
    o.channels = 1;
    TAP_OK(barlow_image_preprocess_shape(img, &o, &c, &h, &w) == BARLOW_OK && c == 1 && h == 375 &&
               w == 500,
           "no resize, no crop -> the image's size");
    barlow_image_free(img);
    img = gradient(375, 500, 3);
    barlow_image_preprocess_options_init(&o);
    o.crop = 0;
    TAP_OK(barlow_image_preprocess_shape(img, &o, &c, &h, &w) == BARLOW_OK && h == 341 && w == 256,
           "portrait 375x500 -> 341x256");
    barlow_image_free(img);

    /* centre crop offsets: int(round((size - crop) / 2)) with round half to even */
    size_t cases[][3] = {{3, 2, 0}, {5, 2, 2}, {7, 2, 2}, {6, 2, 2}, {9, 2, 4}, {4, 2, 1}};
    ok = 1;
    for (size_t k = 0; k < 6; k++) {
        size_t sz = cases[k][0], cr = cases[k][1], off = cases[k][2];
        img = gradient(sz, sz, 1);
        barlow_image_preprocess_options_init(&o);
        o.resize = 0;
        o.crop = cr;
        o.channels = 1;
        float out[4];
        ok &= barlow_image_preprocess(img, &o, out, 4) == BARLOW_OK &&
              out[0] == (float)(10 * off + 50 * off) / 255.0f;
        if (!ok) printf("# crop %zu of %zu: got %g\n", cr, sz, out[0] * 255);
        barlow_image_free(img);
    }
    TAP_OK(ok, "crop offsets round half to even like torchvision");

    /* padding when the image is smaller than the crop: 3 wide × 2 high, crop 4 */
    img = gradient(3, 2, 1);
    barlow_image_preprocess_options_init(&o);
    o.resize = 0;
    o.crop = 4;
    o.channels = 3;
    float out[3 * 16];
    for (int i = 0; i < 48; i++) out[i] = -1;
    ok = barlow_image_preprocess(img, &o, out, 48) == BARLOW_OK;
    /* x: pad (4-3)//2 = 0 left; y: pad (4-2)//2 = 1 top */
    for (int ch = 0; ok && ch < 3; ch++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 4; x++) {
                float v = out[ch * 16 + y * 4 + x];
                float want = (y >= 1 && y <= 2 && x <= 2)
                                 ? (float)(10 * x + 50 * (y - 1)) / 255.0f
                                 : 0.0f;
                if (v != want) ok = 0;
            }
    TAP_OK(ok, "crop larger than the image pads with zeros like torchvision");
    barlow_image_free(img);

    /* channels: RGB → 1 uses PIL's L; grey → 3 repeats */
    img = gradient(4, 4, 3);
    barlow_image_preprocess_options_init(&o);
    o.resize = 0;
    o.crop = 4;
    o.channels = 1;
    ok = barlow_image_preprocess(img, &o, out, 16) == BARLOW_OK;
    const uint8_t *p = barlow_image_data(img);
    for (int i = 0; ok && i < 16; i++)
        ok = out[i] == (float)pil_l(p[3 * i], p[3 * i + 1], p[3 * i + 2]) / 255.0f;
    TAP_OK(ok, "preprocess RGB with channels=1: PIL L values / 255");
    o.channels = 3;
    ok = barlow_image_preprocess(img, &o, out, 48) == BARLOW_OK;
    for (int ch = 0; ok && ch < 3; ch++)
        for (int i = 0; ok && i < 16; i++) ok = out[ch * 16 + i] == (float)p[3 * i + ch] / 255.0f;
    TAP_OK(ok, "preprocess is C x H x W with u8/255");
    barlow_image_free(img);

    /* errors: out untouched */
    img = gradient(8, 8, 3);
    barlow_image_preprocess_options_init(&o);
    o.resize = 0;
    o.crop = 4;
    for (int i = 0; i < 48; i++) out[i] = -7;
    TAP_OK(barlow_image_preprocess(img, &o, out, 47) == BARLOW_E_INVALID_ARG &&
               msg_has("out_len=47") && msg_has("48") && out[0] == -7 && out[47] == -7,
           "out_len too small -> INVALID_ARG, out untouched: %s", barlow_last_error());
    o.resize = 70000;
    TAP_OK(barlow_image_preprocess(img, &o, out, 48) == BARLOW_E_INVALID_ARG &&
               msg_has("resize=70000") && msg_has("0..65536") && out[0] == -7,
           "resize 70000 -> INVALID_ARG");
    o.resize = 0;
    o.crop = 70000;
    TAP_OK(barlow_image_preprocess(img, &o, out, 48) == BARLOW_E_INVALID_ARG &&
               msg_has("crop=70000"),
           "crop 70000 -> INVALID_ARG");
    o.crop = 4;
    o.channels = 2;
    TAP_OK(barlow_image_preprocess(img, &o, out, 48) == BARLOW_E_INVALID_ARG &&
               msg_has("channels=2") && out[0] == -7,
           "channels 2 -> INVALID_ARG");
    o.channels = 3;
    o.version = 0;
    TAP_OK(barlow_image_preprocess(img, &o, out, 48) == BARLOW_E_INVALID_ARG &&
               msg_has("version=0") && out[0] == -7,
           "preprocess options version 0 -> INVALID_ARG");
    TAP_OK(barlow_image_preprocess(NULL, NULL, out, 48) == BARLOW_E_INVALID_ARG &&
               barlow_image_preprocess(img, NULL, NULL, 48) == BARLOW_E_INVALID_ARG,
           "preprocess NULL image/out -> INVALID_ARG");
    size_t cc = 99, hh = 99, ww = 99;
    o.version = BARLOW_IMAGE_PREPROCESS_OPTIONS_VERSION;
    o.resize = 70000;
    TAP_OK(barlow_image_preprocess_shape(img, &o, &cc, &hh, &ww) == BARLOW_E_INVALID_ARG &&
               cc == 99 && hh == 99 && ww == 99,
           "preprocess_shape with bad options: outputs untouched");
    TAP_OK(barlow_image_preprocess_shape(img, NULL, NULL, &hh, &ww) == BARLOW_E_INVALID_ARG,
           "preprocess_shape NULL output -> INVALID_ARG");
    barlow_image_free(img);

    /* an elongated image whose upscaled resize would be enormous */
    img = gradient(1, 30000, 1);
    barlow_image_preprocess_options_init(&o);
    cc = hh = ww = 99;
    TAP_OK(barlow_image_preprocess_shape(img, &o, &cc, &hh, &ww) == BARLOW_E_UNSUPPORTED &&
               msg_has("1x30000") && msg_has("256x7680000") && cc == 99,
           "1x30000 resized to 256 -> UNSUPPORTED naming the sizes: %s", barlow_last_error());
    out[0] = -7;
    TAP_OK(barlow_image_preprocess(img, &o, out, 48) == BARLOW_E_UNSUPPORTED && out[0] == -7,
           "preprocess of it -> UNSUPPORTED, out untouched");
    barlow_image_free(img);

    /* convert */
    img = gradient(3, 3, 3);
    barlow_image *g = NULL, *back = NULL;
    TAP_OK(barlow_image_convert(img, 1, &g) == BARLOW_OK && barlow_image_channels(g) == 1 &&
               barlow_image_data(g)[4] == pil_l(barlow_image_data(img)[12],
                                                barlow_image_data(img)[13],
                                                barlow_image_data(img)[14]),
           "convert RGB -> grey");
    TAP_OK(barlow_image_convert(g, 3, &back) == BARLOW_OK && barlow_image_channels(back) == 3 &&
               barlow_image_data(back)[12] == barlow_image_data(g)[4] &&
               barlow_image_data(back)[14] == barlow_image_data(g)[4],
           "convert grey -> RGB");
    sentinel = SENTINEL;
    TAP_OK(barlow_image_convert(img, 4, &sentinel) == BARLOW_E_INVALID_ARG && sentinel == SENTINEL,
           "convert to 4 channels -> INVALID_ARG");
    barlow_image_free(back);
    barlow_image_free(g);
    barlow_image_free(img);
}

static void test_probe_errors(void)
{
    barlow_image_format f = (barlow_image_format)77;
    size_t w = 5, h = 5;
    TAP_OK(barlow_image_probe_memory("", 0, &f, &w, &h) == BARLOW_E_FORMAT && msg_has("empty") &&
               f == 77 && w == 5,
           "probe empty -> FORMAT, outputs untouched");
    TAP_OK(barlow_image_probe_memory("\x89PNG\r\n\x1A\n", 8, &f, &w, &h) == BARLOW_E_FORMAT &&
               msg_has("PNG") && f == 77,
           "probe PNG signature only -> FORMAT: %s", barlow_last_error());
    TAP_OK(barlow_image_probe_memory("\xFF\xD8\xFF", 3, &f, &w, &h) == BARLOW_E_FORMAT && f == 77,
           "probe JPEG SOI only -> FORMAT: %s", barlow_last_error());
    TAP_OK(barlow_image_probe_memory(NULL, 3, &f, &w, &h) == BARLOW_E_INVALID_ARG,
           "probe NULL data -> INVALID_ARG");
}

int main(void)
{
    tmp_dir_create("image");
    test_options();
    test_create();
    test_png();
    test_bmp();
    test_jpeg();
    test_files();
    test_limits();
    test_resize_crop();
    test_probe_errors();
    tmp_dir_remove();
    return tap_done();
}
