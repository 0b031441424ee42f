/* Tiny image encoders for the image tests (tests/test_image.c,
 * tests/test_image_internal.c, tests/test_loaders.c): PNG of any colour type
 * with zlib, BMP by hand, JPEG with libjpeg. Test code only; every function
 * returns a malloc'd buffer (free()) or NULL. */
#ifndef BARLOW_TEST_IMG_ENCODE_H
#define BARLOW_TEST_IMG_ENCODE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <zlib.h>

static inline void enc_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void enc_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void enc_le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Appends a PNG chunk; returns the new length. */
static inline size_t png_chunk(uint8_t *out, size_t len, const char *type, const uint8_t *data,
                        size_t n)
{
    enc_be32(out + len, (uint32_t)n);
    memcpy(out + len + 4, type, 4);
    if (n) memcpy(out + len + 8, data, n);
    uLong crc = crc32(0L, (const Bytef *)(out + len + 4), (uInt)(n + 4));
    enc_be32(out + len + 8 + n, (uint32_t)crc);
    return len + 12 + n;
}

/* PNG with colour type ct (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA)
 * and bit depth 8 or 16; `samples` holds h rows of w*channels samples
 * (16-bit samples big-endian, 2 bytes each). pal: npal RGB triples; trns:
 * ntrns alpha values (palette) or NULL. header_w/h: the IHDR's claim (0 =
 * w/h); with no_idat the file stops after IHDR/PLTE (a header only). */
static inline uint8_t *png_encode_ex(size_t w, size_t h, int ct, int depth, const uint8_t *samples,
                              const uint8_t *pal, size_t npal, const uint8_t *trns,
                              size_t ntrns, uint32_t header_w, uint32_t header_h, int no_idat,
                              size_t *size)
{
    size_t ch = ct == 0 || ct == 3 ? 1 : ct == 2 ? 3 : ct == 4 ? 2 : 4;
    size_t bpr = w * ch * (size_t)(depth / 8);
    size_t rawlen = h * (bpr + 1);
    uint8_t *raw = malloc(rawlen + 1);
    uLongf zlen = compressBound((uLong)rawlen);
    uint8_t *z = malloc(zlen);
    uint8_t *out = malloc(zlen + 1024 + 3 * npal + ntrns);
    if (!raw || !z || !out) {
        free(raw);
        free(z);
        free(out);
        return NULL;
    }
    for (size_t y = 0; y < h; y++) {
        raw[y * (bpr + 1)] = 0; /* filter: none */
        memcpy(raw + y * (bpr + 1) + 1, samples + y * bpr, bpr);
    }
    compress2(z, &zlen, raw, (uLong)rawlen, 6);
    memcpy(out, "\x89PNG\r\n\x1A\n", 8);
    size_t len = 8;
    uint8_t ihdr[13];
    enc_be32(ihdr, header_w ? header_w : (uint32_t)w);
    enc_be32(ihdr + 4, header_h ? header_h : (uint32_t)h);
    ihdr[8] = (uint8_t)depth;
    ihdr[9] = (uint8_t)ct;
    ihdr[10] = ihdr[11] = ihdr[12] = 0;
    len = png_chunk(out, len, "IHDR", ihdr, 13);
    if (pal) len = png_chunk(out, len, "PLTE", pal, 3 * npal);
    if (trns) len = png_chunk(out, len, "tRNS", trns, ntrns);
    if (!no_idat) {
        len = png_chunk(out, len, "IDAT", z, zlen);
        len = png_chunk(out, len, "IEND", NULL, 0);
    }
    free(raw);
    free(z);
    *size = len;
    return out;
}

static inline uint8_t *png_encode(size_t w, size_t h, int ct, const uint8_t *samples, size_t *size)
{
    return png_encode_ex(w, h, ct, 8, samples, NULL, 0, NULL, 0, 0, 0, 0, size);
}

/* BMP, bottom-up. bpp 24 (BGR), 32 (BGRA, BI_RGB) or 8 (palette of npal
 * RGB triples in `pal`, `px` holds indices). px: h rows of w*3 RGB (24/32
 * bits: alpha 255) or w indices, top row first. header_w/h override the
 * header's dimensions (0 = real); header_only stops after the headers. */
static inline uint8_t *bmp_encode_ex(size_t w, size_t h, int bpp, const uint8_t *px,
                              const uint8_t *pal, size_t npal, int32_t header_w,
                              int32_t header_h, int header_only, size_t *size)
{
    size_t bpr = ((w * (size_t)bpp / 8) + 3) & ~(size_t)3;
    size_t palbytes = bpp == 8 ? 4 * npal : 0;
    size_t off = 14 + 40 + palbytes;
    size_t total = header_only ? off : off + bpr * h;
    uint8_t *out = calloc(1, off + bpr * h + 4);
    if (!out) return NULL;
    out[0] = 'B';
    out[1] = 'M';
    enc_le32(out + 2, (uint32_t)(off + bpr * h));
    enc_le32(out + 10, (uint32_t)off);
    enc_le32(out + 14, 40);
    enc_le32(out + 18, (uint32_t)(header_w ? header_w : (int32_t)w));
    enc_le32(out + 22, (uint32_t)(header_h ? header_h : (int32_t)h));
    enc_le16(out + 26, 1);
    enc_le16(out + 28, (uint32_t)bpp);
    enc_le32(out + 30, 0);
    enc_le32(out + 34, (uint32_t)(bpr * h));
    enc_le32(out + 46, bpp == 8 ? (uint32_t)npal : 0);
    for (size_t i = 0; i < npal && bpp == 8; i++) {
        out[54 + 4 * i] = pal[3 * i + 2];
        out[54 + 4 * i + 1] = pal[3 * i + 1];
        out[54 + 4 * i + 2] = pal[3 * i];
    }
    if (!header_only) {
        for (size_t y = 0; y < h; y++) {
            uint8_t *row = out + off + (h - 1 - y) * bpr;
            for (size_t x = 0; x < w; x++) {
                if (bpp == 8) {
                    row[x] = px[y * w + x];
                } else {
                    const uint8_t *p = px + (y * w + x) * 3;
                    uint8_t *q = row + x * (size_t)(bpp / 8);
                    q[0] = p[2];
                    q[1] = p[1];
                    q[2] = p[0];
                    if (bpp == 32) q[3] = 255;
                }
            }
        }
    }
    *size = total;
    return out;
}

static inline uint8_t *bmp_encode(size_t w, size_t h, const uint8_t *rgb, size_t *size)
{
    return bmp_encode_ex(w, h, 24, rgb, NULL, 0, 0, 0, 0, size);
}

/* JPEG (quality q) of w×h pixels with `comps` components: 1 grey, 3 RGB
 * (stored YCbCr), 4 CMYK (stored as given, with an Adobe marker). */
static inline uint8_t *jpeg_encode(size_t w, size_t h, int comps, const uint8_t *px, int q,
                            int progressive, size_t *size)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *mem = NULL;
    unsigned long memlen = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &memlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, q, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * (size_t)comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    uint8_t *out = malloc(memlen);
    if (out) memcpy(out, mem, memlen);
    free(mem);
    *size = memlen;
    return out;
}

/* Overwrites the first SOF marker's height and width (a lying header). */
static inline int jpeg_patch_sof(uint8_t *d, size_t n, uint16_t w, uint16_t h)
{
    for (size_t i = 2; i + 9 < n; i++) {
        if (d[i] == 0xFF && (d[i + 1] == 0xC0 || d[i + 1] == 0xC1 || d[i + 1] == 0xC2)) {
            d[i + 5] = (uint8_t)(h >> 8);
            d[i + 6] = (uint8_t)h;
            d[i + 7] = (uint8_t)(w >> 8);
            d[i + 8] = (uint8_t)w;
            return 1;
        }
    }
    return 0;
}

static inline int write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    size_t k = n ? fwrite(data, 1, n, fp) : 0;
    return fclose(fp) == 0 && k == n;
}

#endif
