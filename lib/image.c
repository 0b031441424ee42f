/*
 * barlow_image: format detection, header limits, decoding (JPEG through
 * libjpeg-turbo, PNG/BMP through the private stb_image of lib/stb_impl.c),
 * colour conversion, and the per-row loader used by the extractor.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "barlow/image.h"
#include "image_internal.h"
#include "internal.h"

struct barlow_image {
    size_t width, height, channels;
    barlow_image_format format;
    uint8_t *data;
};

enum { BW_MAX_OUT_SIDE = 65536 };
#define BW_MAX_LIMIT_SIDE ((size_t)INT32_MAX)
#define BW_MAX_LIMIT_PIXELS ((uint64_t)1 << 40)

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- format detection --------------------------------------------------- */

static int has_prefix(const uint8_t *d, size_t n, const char *magic, size_t m)
{
    return n >= m && memcmp(d, magic, m) == 0;
}

/* Returns a barlow_image_format, or 0 with an error set naming `name`. */
static barlow_status detect_format(const uint8_t *d, size_t n, const char *name, int *fmt)
{
    if (n == 0) return bw_error(BARLOW_E_FORMAT, "%s: empty file (0 bytes), not an image", name);
    if (has_prefix(d, n, "\xFF\xD8\xFF", 3)) {
        *fmt = BARLOW_IMAGE_FORMAT_JPEG;
        return BARLOW_OK;
    }
    if (has_prefix(d, n, "\x89PNG\r\n\x1A\n", 8)) {
        *fmt = BARLOW_IMAGE_FORMAT_PNG;
        return BARLOW_OK;
    }
    if (has_prefix(d, n, "BM", 2)) {
        *fmt = BARLOW_IMAGE_FORMAT_BMP;
        return BARLOW_OK;
    }
    const char *other = NULL;
    if (has_prefix(d, n, "GIF87a", 6) || has_prefix(d, n, "GIF89a", 6)) other = "GIF";
    else if (has_prefix(d, n, "II*\0", 4) || has_prefix(d, n, "MM\0*", 4)) other = "TIFF";
    else if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0) other = "WebP";
    else if (n >= 12 && memcmp(d + 4, "ftyp", 4) == 0) other = "HEIF/AVIF";
    else if (has_prefix(d, n, "\xFF\x0A", 2) || has_prefix(d, n, "\0\0\0\x0CJXL ", 8)) other = "JPEG XL";
    else if (has_prefix(d, n, "\0\0\0\x0CjP  ", 8)) other = "JPEG 2000";
    else if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7') other = "PNM";
    if (other)
        return bw_error(BARLOW_E_UNSUPPORTED,
                        "%s: %s images are not supported (JPEG, PNG and BMP are)", name, other);
    char hex[3 * 8 + 1] = {0};
    size_t k = n < 8 ? n : 8;
    for (size_t i = 0; i < k; i++) snprintf(hex + 3 * i, 4, "%02x ", d[i]);
    if (k) hex[3 * k - 1] = '\0';
    return bw_error(BARLOW_E_FORMAT,
                    "%s: not a JPEG, PNG or BMP image (first bytes %s)", name, hex);
}

static const char *format_name(int fmt)
{
    switch (fmt) {
    case BARLOW_IMAGE_FORMAT_JPEG: return "JPEG";
    case BARLOW_IMAGE_FORMAT_PNG: return "PNG";
    case BARLOW_IMAGE_FORMAT_BMP: return "BMP";
    default: return "image";
    }
}

barlow_status bw_image_check_limits(size_t w, size_t h, const bw_image_limits *lim,
                                  const char *name, int fmt)
{
    if (w == 0 || h == 0)
        return bw_error(BARLOW_E_FORMAT, "%s: %s header says %zux%zu pixels", name,
                        format_name(fmt), w, h);
    if (w > lim->max_side || h > lim->max_side)
        return bw_error(BARLOW_E_UNSUPPORTED,
                        "%s: %s of %zux%zu pixels exceeds the size limit of %zu pixels a "
                        "side (max_side); refused before decoding",
                        name, format_name(fmt), w, h, lim->max_side);
    if ((uint64_t)w * (uint64_t)h > lim->max_pixels)
        return bw_error(BARLOW_E_UNSUPPORTED,
                        "%s: %s of %zux%zu = %llu pixels exceeds the limit of %llu pixels "
                        "(max_pixels); refused before decoding",
                        name, format_name(fmt), w, h,
                        (unsigned long long)((uint64_t)w * h),
                        (unsigned long long)lim->max_pixels);
    return BARLOW_OK;
}

/* ---- colour conversion -------------------------------------------------- */

void bw_rgb_to_grey(const uint8_t *rgb, size_t n, uint8_t *grey)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rgb + 3 * i;
        grey[i] = (uint8_t)(((uint32_t)p[0] * 19595u + (uint32_t)p[1] * 38470u +
                             (uint32_t)p[2] * 7471u + 0x8000u) >> 16);
    }
}

static void grey_to_rgb(const uint8_t *grey, size_t n, uint8_t *rgb)
{
    /* Backwards, so that it may run in place (rgb == grey, 3n bytes). */
    for (size_t i = n; i-- > 0;) {
        uint8_t v = grey[i];
        rgb[3 * i] = v;
        rgb[3 * i + 1] = v;
        rgb[3 * i + 2] = v;
    }
}

/* PIL's Adobe-inverted CMYK → RGB (JpegImagePlugin "CMYK;I" + Convert.c
 * cmyk2rgb): with C = 255 - c_stored ..., nk = 255 - K,
 * R = nk - round(C * nk / 255) using MULDIV255. In place safe (3 of 4). */
static uint8_t muldiv255(unsigned a, unsigned b)
{
    unsigned t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static void cmyk_to_rgb(const uint8_t *cmyk, size_t n, uint8_t *rgb)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = cmyk + 4 * i;
        unsigned c = 255u - p[0], m = 255u - p[1], y = 255u - p[2], k = 255u - p[3];
        unsigned nk = 255u - k;
        uint8_t r = (uint8_t)(nk - muldiv255(c, nk));
        uint8_t g = (uint8_t)(nk - muldiv255(m, nk));
        uint8_t b = (uint8_t)(nk - muldiv255(y, nk));
        rgb[3 * i] = r;
        rgb[3 * i + 1] = g;
        rgb[3 * i + 2] = b;
    }
}

/* ---- JPEG (libjpeg-turbo) ----------------------------------------------- */

typedef struct bw_jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
} bw_jpeg_err;

static void bw_jpeg_error_exit(j_common_ptr cinfo)
{
    bw_jpeg_err *e = (bw_jpeg_err *)cinfo->err;
    cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void bw_jpeg_emit_message(j_common_ptr cinfo, int level)
{
    bw_jpeg_err *e = (bw_jpeg_err *)cinfo->err;
    /* Warnings are ignored like PIL does, except running out of data: PIL
     * reports a truncated file as an error, so do we. Trace messages
     * (level > 0) are never printed. */
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
        cinfo->err->num_warnings++;
    }
}

static void bw_jpeg_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print */
}

/* Decodes a JPEG (or reads only its header when header_only). The size
 * limits are checked by the caller (bw_image_decode_raw) from the header. */
static barlow_status jpeg_decode(const uint8_t *data, size_t size, const char *name,
                                 size_t want_channels, int header_only, bw_pixels *out)
{
    struct jpeg_decompress_struct cinfo;
    bw_jpeg_err jerr;
    uint8_t *volatile buf = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    memset(&jerr, 0, sizeof jerr);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = bw_jpeg_error_exit;
    jerr.pub.emit_message = bw_jpeg_emit_message;
    jerr.pub.output_message = bw_jpeg_output_message;
    if (setjmp(jerr.jump)) {
        int code = jerr.pub.msg_code;
        if (buf) bw_free(buf);
        jpeg_destroy_decompress(&cinfo);
        if (code == JERR_OUT_OF_MEMORY)
            return bw_error(BARLOW_E_NOMEM, "%s: out of memory decoding JPEG: %s", name,
                            jerr.msg);
        if (jerr.truncated)
            return bw_error(BARLOW_E_FORMAT, "%s: truncated JPEG data (%zu bytes): %s", name,
                            size, jerr.msg);
        return bw_error(BARLOW_E_FORMAT, "%s: corrupt JPEG data: %s", name, jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (jerr.truncated) {
        jpeg_destroy_decompress(&cinfo);
        return bw_error(BARLOW_E_FORMAT, "%s: truncated JPEG data (the header is incomplete)",
                        name);
    }
    size_t w = cinfo.image_width, h = cinfo.image_height;
    if (header_only) {
        out->width = w;
        out->height = h;
        out->format = BARLOW_IMAGE_FORMAT_JPEG;
        jpeg_destroy_decompress(&cinfo);
        return BARLOW_OK;
    }
    size_t native;
    int cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        native = 1;
        cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        native = 3;
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        native = 3;
        cmyk = 1;
        cinfo.out_color_space = JCS_CMYK;
        break;
    default:
        jpeg_destroy_decompress(&cinfo);
        return bw_error(BARLOW_E_UNSUPPORTED,
                        "%s: JPEG colour space %d with %d components is not supported",
                        name, (int)cinfo.jpeg_color_space, cinfo.num_components);
    }
    /* PIL's settings: libjpeg's defaults (ISLOW DCT, fancy upsampling, no
     * scaling, no quantisation). Set explicitly to be independent of any
     * future default change. */
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    cinfo.scale_num = 1;
    cinfo.scale_denom = 1;
    jpeg_start_decompress(&cinfo);
    size_t ow = cinfo.output_width, oh = cinfo.output_height;
    size_t comps = (size_t)cinfo.output_components;
    if (ow != w || oh != h || comps != (cmyk ? 4u : native)) {
        jpeg_destroy_decompress(&cinfo);
        return bw_error(BARLOW_E_INTERNAL, "%s: libjpeg output %zux%zux%zu differs from %zux%zux%zu",
                        name, ow, oh, comps, w, h, cmyk ? (size_t)4 : native);
    }
    size_t outc = want_channels ? want_channels : native;
    /* Enough room for the decoder's rows (comps per pixel) and for the
     * final layout (outc per pixel), converted in place. */
    size_t per_px = comps > outc ? comps : outc;
    buf = bw_mallocn(w * h, per_px, name);
    if (!buf) {
        jpeg_destroy_decompress(&cinfo);
        return BARLOW_E_NOMEM;
    }
    size_t stride = w * comps;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = (JSAMPROW)(buf + (size_t)cinfo.output_scanline * stride);
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (jerr.truncated) break;
    }
    if (jerr.truncated) {
        size_t got = cinfo.output_scanline;
        bw_free(buf);
        buf = NULL;
        jpeg_destroy_decompress(&cinfo);
        return bw_error(BARLOW_E_FORMAT,
                        "%s: truncated JPEG data (premature end of file after %zu bytes; "
                        "%zu of %zu rows decoded)", name, size, got, h);
    }
    /* Read up to the EOI marker: like PIL, a file that ends before it is
     * truncated, even when every row could be decoded. Bytes after EOI
     * are ignored. */
    if (!jerr.truncated) jpeg_finish_decompress(&cinfo);
    if (jerr.truncated) {
        bw_free(buf);
        buf = NULL;
        jpeg_destroy_decompress(&cinfo);
        return bw_error(BARLOW_E_FORMAT,
                        "%s: truncated JPEG data (premature end of file after %zu bytes, "
                        "before the end-of-image marker)", name, size);
    }
    jpeg_destroy_decompress(&cinfo);
    uint8_t *px = buf;
    size_t n = w * h;
    if (cmyk) {
        cmyk_to_rgb(px, n, px);
        if (outc == 1) bw_rgb_to_grey(px, n, px);
    } else if (native == 3 && outc == 1) {
        bw_rgb_to_grey(px, n, px);
    } else if (native == 1 && outc == 3) {
        grey_to_rgb(px, n, px);
    }
    if (per_px > outc) {
        uint8_t *shrunk = bw_realloc(px, n * outc, "barlow_image_load");
        if (shrunk) px = shrunk;
    }
    out->data = px;
    out->width = w;
    out->height = h;
    out->channels = outc;
    out->format = BARLOW_IMAGE_FORMAT_JPEG;
    return BARLOW_OK;
}

/* ---- PNG / BMP (stb_image) ---------------------------------------------- */


static uint32_t rd_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Dimensions from the IHDR chunk, read here (stb_image refuses large
 * images with a vague "unknown image type" before saying their size). */
static barlow_status png_header(const uint8_t *d, size_t n, const char *name, size_t *w,
                                size_t *h)
{
    if (n < 8 + 8 + 13)
        return bw_error(BARLOW_E_FORMAT, "%s: truncated PNG header (%zu bytes)", name, n);
    if (rd_be32(d + 8) != 13 || memcmp(d + 12, "IHDR", 4) != 0)
        return bw_error(BARLOW_E_FORMAT, "%s: corrupt PNG header: the first chunk is not a "
                                         "13-byte IHDR", name);
    uint32_t pw = rd_be32(d + 16), ph = rd_be32(d + 20);
    if (pw == 0 || ph == 0 || pw > 0x7FFFFFFFu || ph > 0x7FFFFFFFu)
        return bw_error(BARLOW_E_FORMAT, "%s: corrupt PNG header: %lux%lu pixels", name,
                        (unsigned long)pw, (unsigned long)ph);
    *w = pw;
    *h = ph;
    return BARLOW_OK;
}

static barlow_status bmp_header(const uint8_t *d, size_t n, const char *name, size_t *w,
                                size_t *h)
{
    if (n < 26)
        return bw_error(BARLOW_E_FORMAT, "%s: truncated BMP header (%zu bytes)", name, n);
    uint32_t hsize = rd_le32(d + 14);
    int64_t bmpw, bh;
    if (hsize == 12) {
        bmpw = (int64_t)(d[18] | d[19] << 8);
        bh = (int64_t)(d[20] | d[21] << 8);
    } else if (hsize >= 40 && hsize <= 124) {
        bmpw = (int32_t)rd_le32(d + 18);
        bh = (int32_t)rd_le32(d + 22);
    } else {
        return bw_error(BARLOW_E_FORMAT, "%s: corrupt BMP header: info header of %lu bytes",
                        name, (unsigned long)hsize);
    }
    if (bh < 0) bh = -bh;
    if (bmpw <= 0 || bh <= 0)
        return bw_error(BARLOW_E_FORMAT, "%s: corrupt BMP header: %lldx%lld pixels", name,
                        (long long)bmpw, (long long)bh);
    *w = (size_t)bmpw;
    *h = (size_t)bh;
    return BARLOW_OK;
}

/* stb_image reads zeros past the end of a BMP instead of failing; PIL
 * refuses a truncated file, and so do we: for the uncompressed layouts
 * (BI_RGB, BI_BITFIELDS) the pixel array must fit in the file. */
static barlow_status bmp_check_size(const uint8_t *d, size_t n, const char *name)
{
    if (n < 34) return BARLOW_OK; /* stb has already rejected the header */
    uint32_t off = rd_le32(d + 10), hsize = rd_le32(d + 14);
    if (hsize < 40) return BARLOW_OK;
    int32_t w = (int32_t)rd_le32(d + 18), h = (int32_t)rd_le32(d + 22);
    unsigned bpp = (unsigned)d[28] | (unsigned)d[29] << 8;
    uint32_t comp = rd_le32(d + 30);
    if ((comp != 0 && comp != 3 && comp != 6) || w <= 0 || h == 0 || bpp == 0 || bpp > 32)
        return BARLOW_OK;
    uint64_t ah = h < 0 ? (uint64_t)(-(int64_t)h) : (uint64_t)h;
    uint64_t stride = (((uint64_t)w * bpp + 31) / 32) * 4;
    uint64_t need = (uint64_t)off + stride * ah;
    if ((uint64_t)n < need)
        return bw_error(BARLOW_E_FORMAT,
                        "%s: truncated BMP data: %zu bytes, but the header's %dx%d pixels at "
                        "%u bits need %llu", name, n, (int)w, (int)ah, bpp,
                        (unsigned long long)need);
    return BARLOW_OK;
}

/* Decodes a PNG or BMP (or reads only its header); limits as jpeg_decode. */
static barlow_status stb_decode(const uint8_t *data, size_t size, const char *name, int fmt,
                                size_t want_channels, int header_only, bw_pixels *out)
{
    size_t hw = 0, hh = 0;
    barlow_status st = fmt == BARLOW_IMAGE_FORMAT_PNG ? png_header(data, size, name, &hw, &hh)
                                                      : bmp_header(data, size, name, &hw, &hh);
    if (st != BARLOW_OK) return st;
    if (header_only) {
        out->width = hw;
        out->height = hh;
        out->format = fmt;
        return BARLOW_OK;
    }
    if (size > (size_t)INT32_MAX)
        return bw_error(BARLOW_E_UNSUPPORTED, "%s: %s file of %zu bytes is over 2 GiB", name,
                        format_name(fmt), size);
    int w = 0, h = 0, comp = 0;
    if (!bw_stbi_info(data, size, &w, &h, &comp))
        return bw_error(BARLOW_E_FORMAT, "%s: corrupt %s header: %s", name, format_name(fmt),
                        bw_stbi_failure_reason());
    if (w <= 0 || h <= 0 || (size_t)w != hw || (size_t)h != hh)
        return bw_error(BARLOW_E_FORMAT, "%s: %s header says %zux%zu pixels but the decoder "
                        "read %dx%d", name, format_name(fmt), hw, hh, w, h);
    if (fmt == BARLOW_IMAGE_FORMAT_BMP) {
        st = bmp_check_size(data, size, name);
        if (st != BARLOW_OK) return st;
    }
    size_t native = comp <= 2 ? 1 : 3;
    int w2 = 0, h2 = 0, comp2 = 0;
    uint8_t *px = bw_stbi_load(data, size, &w2, &h2, &comp2, (int)native);
    if (!px) {
        const char *why = bw_stbi_failure_reason();
        if (strcmp(why, "outofmem") == 0)
            return bw_error(BARLOW_E_NOMEM, "%s: out of memory decoding %s of %dx%d", name,
                            format_name(fmt), w, h);
        return bw_error(BARLOW_E_FORMAT, "%s: corrupt or truncated %s data: %s", name,
                        format_name(fmt), why);
    }
    if (w2 != w || h2 != h) {
        bw_stbi_free(px);
        return bw_error(BARLOW_E_FORMAT, "%s: %s header says %dx%d but the decoder found %dx%d",
                        name, format_name(fmt), w, h, w2, h2);
    }
    size_t n = (size_t)w * (size_t)h;
    size_t outc = want_channels ? want_channels : native;
    uint8_t *res = bw_mallocn(n, outc, name);
    if (!res) {
        bw_stbi_free(px);
        return BARLOW_E_NOMEM;
    }
    if (outc == native) memcpy(res, px, n * outc);
    else if (outc == 1) bw_rgb_to_grey(px, n, res);
    else grey_to_rgb(px, n, res);
    bw_stbi_free(px);
    out->data = res;
    out->width = (size_t)w;
    out->height = (size_t)h;
    out->channels = outc;
    out->format = fmt;
    return BARLOW_OK;
}

/* ---- internal entry points ---------------------------------------------- */

/* ---- the process-wide decode memory budget -------------------------------- */

static pthread_mutex_t budget_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_cond = PTHREAD_COND_INITIALIZER;
static uint64_t budget_used, budget_peak;

/* Peak memory of decoding a w×h image (bytes, an upper bound): the PNG/BMP
 * path holds stb_image's inflated rows and its image (f bytes a pixel in
 * the file's layout: up to 4 channels, 2 bytes for 16-bit PNG), then its
 * converted copy and ours; the JPEG path one buffer of up to 4 bytes a
 * pixel (CMYK) converted in place. */
static uint64_t decode_estimate(const uint8_t *d, size_t size, int fmt, size_t w, size_t h,
                                size_t want_channels)
{
    uint64_t n = (uint64_t)w * h, outc = want_channels ? want_channels : 3;
    if (fmt == BARLOW_IMAGE_FORMAT_JPEG) return n * (outc > 4 ? outc : 4) + (1u << 20);
    uint64_t f = 4;
    if (fmt == BARLOW_IMAGE_FORMAT_PNG && size > 25) {
        static const uint8_t chans[7] = {1, 0, 3, 4, 2, 0, 4}; /* by colour type */
        f = d[25] < 7 && chans[d[25]] ? chans[d[25]] : 4;
        if (d[24] == 16) f *= 2;
    }
    uint64_t a = 2 * f, b = f + 3, c = 3 + outc;
    uint64_t m = a > b ? a : b;
    return n * (m > c ? m : c) + (1u << 20);
}

static barlow_status budget_take(uint64_t bytes, const char *name, size_t w, size_t h)
{
    uint64_t max = barlow_limit_get(BARLOW_LIMIT_DECODE_BYTES);
    if (bytes > max)
        return bw_error(BARLOW_E_UNSUPPORTED,
                        "%s: decoding its %zux%zu pixels needs about %llu bytes, over the "
                        "decode memory limit of %llu bytes (BARLOW_LIMIT_DECODE_BYTES; "
                        "docs/limits.md says how to raise it)",
                        name, w, h, (unsigned long long)bytes, (unsigned long long)max);
    pthread_mutex_lock(&budget_lock);
    while (budget_used > 0 && budget_used + bytes > max)
        pthread_cond_wait(&budget_cond, &budget_lock);
    budget_used += bytes;
    if (budget_used > budget_peak) budget_peak = budget_used;
    pthread_mutex_unlock(&budget_lock);
    return BARLOW_OK;
}

static void budget_give(uint64_t bytes)
{
    if (!bytes) return;
    pthread_mutex_lock(&budget_lock);
    budget_used -= bytes;
    pthread_cond_broadcast(&budget_cond);
    pthread_mutex_unlock(&budget_lock);
}

void bw_decode_budget_stats(uint64_t *used, uint64_t *peak)
{
    pthread_mutex_lock(&budget_lock);
    if (used) *used = budget_used;
    if (peak) *peak = budget_peak;
    pthread_mutex_unlock(&budget_lock);
}

void bw_pixels_release_budget(bw_pixels *px)
{
    budget_give(px->reserved);
    px->reserved = 0;
}

barlow_status bw_image_decode_raw(const uint8_t *data, size_t size, const char *name,
                                  size_t want_channels, const bw_image_limits *lim,
                                  bw_pixels *out)
{
    int fmt = 0;
    size_t w = 0, h = 0;
    barlow_status st = bw_image_probe_raw(data, size, name, &fmt, &w, &h);
    if (st == BARLOW_OK) st = bw_image_check_limits(w, h, lim, name, fmt);
    if (st != BARLOW_OK) return st;
    uint64_t est = decode_estimate(data, size, fmt, w, h, want_channels);
    if ((st = budget_take(est, name, w, h)) != BARLOW_OK) return st;
    bw_pixels px = {0};
    if (fmt == BARLOW_IMAGE_FORMAT_JPEG)
        st = jpeg_decode(data, size, name, want_channels, 0, &px);
    else
        st = stb_decode(data, size, name, fmt, want_channels, 0, &px);
    if (st != BARLOW_OK) {
        budget_give(est);
        return st;
    }
    /* Keep only what the pixels hold. */
    px.reserved = (uint64_t)px.width * px.height * px.channels;
    if (px.reserved > est) px.reserved = est;
    budget_give(est - px.reserved);
    *out = px;
    return BARLOW_OK;
}

barlow_status bw_image_probe_raw(const uint8_t *data, size_t size, const char *name,
                                 int *format, size_t *width, size_t *height)
{
    int fmt = 0;
    barlow_status st = detect_format(data, size, name, &fmt);
    if (st != BARLOW_OK) return st;
    bw_pixels px = {0};
    if (fmt == BARLOW_IMAGE_FORMAT_JPEG)
        st = jpeg_decode(data, size, name, 0, 1, &px);
    else
        st = stb_decode(data, size, name, fmt, 0, 1, &px);
    if (st != BARLOW_OK) return st;
    *format = fmt;
    *width = px.width;
    *height = px.height;
    return BARLOW_OK;
}

/* ---- public API ---------------------------------------------------------- */

void barlow_image_options_init(barlow_image_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_IMAGE_OPTIONS_VERSION;
    opts->channels = 0;
    opts->max_side = BARLOW_IMAGE_DEFAULT_MAX_SIDE;
    opts->max_pixels = BARLOW_IMAGE_DEFAULT_MAX_PIXELS;
}

void bw_image_limits_default(bw_image_limits *lim)
{
    lim->max_side = BW_IMAGE_DEFAULT_MAX_SIDE;
    lim->max_pixels = BW_IMAGE_DEFAULT_MAX_PIXELS;
}

barlow_status bw_image_limits_check(const bw_image_limits *lim, const char *side_name,
                                    const char *pixels_name, const char *who)
{
    if (lim->max_side < 1 || lim->max_side > BW_MAX_LIMIT_SIDE)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s=%zu (must be 1..%zu)", who, side_name,
                        lim->max_side, BW_MAX_LIMIT_SIDE);
    if (lim->max_pixels < 1 || lim->max_pixels > BW_MAX_LIMIT_PIXELS)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s=%llu (must be 1..%llu)", who,
                        pixels_name, (unsigned long long)lim->max_pixels,
                        (unsigned long long)BW_MAX_LIMIT_PIXELS);
    return BARLOW_OK;
}

barlow_status bw_image_read_options(const barlow_image_options *opts, const char *who,
                                        size_t *channels, bw_image_limits *lim)
{
    barlow_image_options o;
    barlow_image_options_init(&o);
    if (opts) {
        char what[96];
        snprintf(what, sizeof what, "%s: barlow_image_options", who);
        barlow_status st = bw_check_options_version(opts->version, BARLOW_IMAGE_OPTIONS_VERSION,
                                                    what);
        if (st != BARLOW_OK) return st;
        o = *opts;
    }
    if (o.channels != 0 && o.channels != 1 && o.channels != 3)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: channels=%zu (must be 0, 1 or 3)", who,
                        o.channels);
    bw_image_limits l = {o.max_side, o.max_pixels};
    barlow_status st = bw_image_limits_check(&l, "max_side", "max_pixels", who);
    if (st != BARLOW_OK) return st;
    *channels = o.channels;
    *lim = l;
    return BARLOW_OK;
}

barlow_status bw_image_wrap(const bw_pixels *px, const char *who, barlow_image **out)
{
    barlow_image *img = bw_calloc(1, sizeof *img, who);
    if (!img) {
        bw_free(px->data);
        return BARLOW_E_NOMEM;
    }
    img->width = px->width;
    img->height = px->height;
    img->channels = px->channels;
    img->format = (barlow_image_format)px->format;
    img->data = px->data;
    *out = img;
    return BARLOW_OK;
}

barlow_status barlow_image_create(size_t width, size_t height, size_t channels,
                                  barlow_image **out)
{
    static const char who[] = "barlow_image_create";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (channels != 1 && channels != 3)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: channels=%zu (must be 1 or 3)", who, channels);
    if (width < 1 || height < 1 || width > BARLOW_IMAGE_DEFAULT_MAX_SIDE ||
        height > BARLOW_IMAGE_DEFAULT_MAX_SIDE ||
        (uint64_t)width * height > BARLOW_IMAGE_DEFAULT_MAX_PIXELS)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: %zux%zu (width and height must be 1..%d and width*height <= %d)",
                        who, width, height, (int)BARLOW_IMAGE_DEFAULT_MAX_SIDE,
                        (int)BARLOW_IMAGE_DEFAULT_MAX_PIXELS);
    bw_pixels px = {0};
    px.data = bw_calloc(width * height, channels, who);
    if (!px.data) return BARLOW_E_NOMEM;
    px.width = width;
    px.height = height;
    px.channels = channels;
    px.format = BARLOW_IMAGE_FORMAT_NONE;
    return bw_image_wrap(&px, who, out);
}

void barlow_image_free(barlow_image *img)
{
    if (!img) return;
    bw_free(img->data);
    bw_free(img);
}

size_t barlow_image_width(const barlow_image *img) { return img ? img->width : 0; }
size_t barlow_image_height(const barlow_image *img) { return img ? img->height : 0; }
size_t barlow_image_channels(const barlow_image *img) { return img ? img->channels : 0; }
barlow_image_format barlow_image_source_format(const barlow_image *img)
{
    return img ? img->format : BARLOW_IMAGE_FORMAT_NONE;
}
const uint8_t *barlow_image_data(const barlow_image *img) { return img ? img->data : NULL; }
uint8_t *barlow_image_data_mut(barlow_image *img) { return img ? img->data : NULL; }

barlow_status barlow_image_probe_memory(const void *data, size_t size,
                                        barlow_image_format *format, size_t *width,
                                        size_t *height)
{
    static const char who[] = "barlow_image_probe_memory";
    bw_clear_error();
    if (!data && size > 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: data is NULL", who);
    int fmt = 0;
    size_t w = 0, h = 0;
    barlow_status st = bw_image_probe_raw(data, size, "<memory>", &fmt, &w, &h);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
    if (format) *format = (barlow_image_format)fmt;
    if (width) *width = w;
    if (height) *height = h;
    return BARLOW_OK;
}

static barlow_status decode_common(const uint8_t *data, size_t size, const char *name,
                                   const barlow_image_options *opts, const char *who,
                                   barlow_image **out)
{
    size_t channels = 0;
    bw_image_limits lim;
    barlow_status st = bw_image_read_options(opts, who, &channels, &lim);
    if (st != BARLOW_OK) return st;
    bw_pixels px = {0};
    st = bw_image_decode_raw(data, size, name, channels, &lim, &px);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
    bw_pixels_release_budget(&px); /* the image is the caller's from here */
    return bw_image_wrap(&px, who, out);
}

barlow_status barlow_image_decode_memory(const void *data, size_t size,
                                         const barlow_image_options *opts, barlow_image **out)
{
    static const char who[] = "barlow_image_decode_memory";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (!data && size > 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: data is NULL", who);
    return decode_common(data, size, "<memory>", opts, who, out);
}

barlow_status barlow_image_decode_file(const char *path, const barlow_image_options *opts,
                                       barlow_image **out)
{
    static const char who[] = "barlow_image_decode_file";
    bw_clear_error();
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    size_t channels = 0;
    bw_image_limits lim;
    barlow_status st = bw_image_read_options(opts, who, &channels, &lim);
    if (st != BARLOW_OK) return st;
    char *data = NULL;
    size_t size = 0;
    st = bw_read_file(path, who, BARLOW_LIMIT_IMAGE_BYTES, &data, &size);
    if (st != BARLOW_OK) return st;
    st = decode_common((const uint8_t *)data, size, path, opts, who, out);
    bw_free(data);
    return st;
}

barlow_status barlow_image_convert(const barlow_image *img, size_t channels, barlow_image **out)
{
    static const char who[] = "barlow_image_convert";
    bw_clear_error();
    if (!img) return bw_error(BARLOW_E_INVALID_ARG, "%s: img is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (channels != 1 && channels != 3)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: channels=%zu (must be 1 or 3)", who, channels);
    return bw_image_from_pixels(img->data, img->width, img->height, img->channels, channels,
                                who, out);
}

barlow_status bw_image_from_pixels(const uint8_t *src, size_t w, size_t h, size_t c,
                                   size_t out_c, const char *who, barlow_image **out)
{
    size_t n = w * h;
    bw_pixels px = {0};
    px.data = bw_mallocn(n, out_c, who);
    if (!px.data) return BARLOW_E_NOMEM;
    if (out_c == c) memcpy(px.data, src, n * c);
    else if (out_c == 1) bw_rgb_to_grey(src, n, px.data);
    else grey_to_rgb(src, n, px.data);
    px.width = w;
    px.height = h;
    px.channels = out_c;
    px.format = BARLOW_IMAGE_FORMAT_NONE;
    return bw_image_wrap(&px, who, out);
}

barlow_status barlow_image_resize(const barlow_image *img, size_t width, size_t height,
                                  barlow_image **out)
{
    static const char who[] = "barlow_image_resize";
    bw_clear_error();
    if (!img) return bw_error(BARLOW_E_INVALID_ARG, "%s: img is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (width < 1 || width > BW_MAX_OUT_SIDE || height < 1 || height > BW_MAX_OUT_SIDE)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zux%zu (width and height must be 1..%d)",
                        who, width, height, (int)BW_MAX_OUT_SIDE);
    bw_pixels px = {0};
    px.data = bw_mallocn(width * height, img->channels, who);
    if (!px.data) return BARLOW_E_NOMEM;
    barlow_status st = bw_resample_bilinear(img->data, img->width, img->height, img->channels,
                                            px.data, width, height, who);
    if (st != BARLOW_OK) {
        bw_free(px.data);
        return st;
    }
    px.width = width;
    px.height = height;
    px.channels = img->channels;
    px.format = BARLOW_IMAGE_FORMAT_NONE;
    return bw_image_wrap(&px, who, out);
}

/* ---- preprocessing (public) ---------------------------------------------- */

void barlow_image_preprocess_options_init(barlow_image_preprocess_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_IMAGE_PREPROCESS_OPTIONS_VERSION;
    opts->resize = 256;
    opts->crop = 224;
    opts->channels = 3;
}

/* The output geometry shared by the public preprocessing options and the
 * internal bw_preprocess. */
static barlow_status check_geometry(size_t resize, size_t crop, size_t channels,
                                    const char *who)
{
    if (resize > BW_MAX_OUT_SIDE)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: resize=%zu (must be 0..%d)", who, resize,
                        (int)BW_MAX_OUT_SIDE);
    if (crop > BW_MAX_OUT_SIDE)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: crop=%zu (must be 0..%d)", who, crop,
                        (int)BW_MAX_OUT_SIDE);
    if (channels != 1 && channels != 3)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: channels=%zu (must be 1 or 3)", who,
                        channels);
    return BARLOW_OK;
}

static barlow_status read_pp_options(const barlow_image_preprocess_options *opts,
                                     const char *who, barlow_image_preprocess_options *o)
{
    barlow_image_preprocess_options_init(o);
    if (opts) {
        char what[96];
        snprintf(what, sizeof what, "%s: barlow_image_preprocess_options", who);
        barlow_status st = bw_check_options_version(
            opts->version, BARLOW_IMAGE_PREPROCESS_OPTIONS_VERSION, what);
        if (st != BARLOW_OK) return st;
        *o = *opts;
    }
    return check_geometry(o->resize, o->crop, o->channels, who);
}

static barlow_status pp_shape(const barlow_image *img, const barlow_image_preprocess_options *o,
                              const char *who, size_t *w, size_t *h)
{
    size_t rw, rh;
    bw_resize_shorter_size(img->width, img->height, o->resize, &rw, &rh);
    barlow_status st = bw_resize_check(img->width, img->height, o->resize, rw, rh, who);
    if (st != BARLOW_OK) return st;
    bw_preprocess_out_size(img->width, img->height, o->resize, o->crop, w, h);
    return BARLOW_OK;
}

barlow_status barlow_image_preprocess_shape(const barlow_image *img,
                                            const barlow_image_preprocess_options *opts,
                                            size_t *channels, size_t *height, size_t *width)
{
    static const char who[] = "barlow_image_preprocess_shape";
    bw_clear_error();
    if (!img) return bw_error(BARLOW_E_INVALID_ARG, "%s: img is NULL", who);
    if (!channels || !height || !width)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !channels ? "channels" : !height ? "height" : "width");
    barlow_image_preprocess_options o;
    barlow_status st = read_pp_options(opts, who, &o);
    if (st != BARLOW_OK) return st;
    size_t w, h;
    st = pp_shape(img, &o, who, &w, &h);
    if (st != BARLOW_OK) return st;
    *channels = o.channels;
    *height = h;
    *width = w;
    return BARLOW_OK;
}

barlow_status barlow_image_preprocess(const barlow_image *img,
                                      const barlow_image_preprocess_options *opts, float *out,
                                      size_t out_len)
{
    static const char who[] = "barlow_image_preprocess";
    bw_clear_error();
    if (!img) return bw_error(BARLOW_E_INVALID_ARG, "%s: img is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_image_preprocess_options o;
    barlow_status st = read_pp_options(opts, who, &o);
    if (st != BARLOW_OK) return st;
    size_t w, h;
    st = pp_shape(img, &o, who, &w, &h);
    if (st != BARLOW_OK) return st;
    size_t need = o.channels * w * h;
    if (out_len < need)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: out_len=%zu floats but the output is %zux%zux%zu = %zu floats", who,
                        out_len, o.channels, h, w, need);
    return bw_preprocess_pixels(img->data, img->width, img->height, img->channels, o.resize,
                                o.crop, o.channels, out, who);
}

/* ---- the extractor's row loader ------------------------------------------ */

void bw_preprocess_init(bw_preprocess *pp)
{
    if (!pp) return;
    memset(pp, 0, sizeof *pp);
    pp->resize = 256;
    pp->crop = 224;
    pp->channels = 3;
    bw_image_limits_default(&pp->lim);
}

barlow_status bw_preprocess_check(const bw_preprocess *pp, const char *who)
{
    if (!pp) return bw_error(BARLOW_E_INVALID_ARG, "%s: preprocessing options are NULL", who);
    barlow_status st = check_geometry(pp->resize, pp->crop, pp->channels, who);
    if (st != BARLOW_OK) return st;
    return bw_image_limits_check(&pp->lim, "max_side", "max_pixels", who);
}

size_t bw_preprocess_floats(const bw_preprocess *pp)
{
    return pp ? pp->channels * pp->crop * pp->crop : 0;
}

barlow_status bw_image_fill_reason(barlow_status st, char *reason, size_t reason_len)
{
    if (reason && reason_len > 0)
        snprintf(reason, reason_len, "%s", st != BARLOW_OK ? barlow_last_error() : "");
    return st;
}

barlow_status bw_image_load_source(const bw_image_source *src, const bw_preprocess *pp,
                                   float *chw_out, char *reason, size_t reason_len)
{
    static const char who[] = "image";
    barlow_status st = BARLOW_OK;
    if (reason && reason_len > 0) reason[0] = '\0';
    if (!src || !chw_out) {
        st = bw_error(BARLOW_E_INVALID_ARG, "bw_image_load_source: NULL source or output");
        return bw_image_fill_reason(st, reason, reason_len);
    }
    st = bw_preprocess_check(pp, "bw_image_load_source");
    if (st != BARLOW_OK) return bw_image_fill_reason(st, reason, reason_len);
    if (pp->crop == 0) {
        st = bw_error(BARLOW_E_INVALID_ARG, "bw_image_load_source: crop=0 (a fixed output "
                                            "size is needed)");
        return bw_image_fill_reason(st, reason, reason_len);
    }
    if (src->path) {
        char *data = NULL;
        size_t size = 0;
        st = bw_read_file(src->path, who, BARLOW_LIMIT_IMAGE_BYTES, &data, &size);
        if (st != BARLOW_OK) {
            /* bw_read_file's message is "image: cannot open PATH: why";
             * drop the "image: " for a reason that starts with the path. */
            const char *m = barlow_last_error();
            if (strncmp(m, "image: ", 7) == 0) {
                char tmp[1024];
                snprintf(tmp, sizeof tmp, "%s", m + 7);
                bw_error(st, "%s", tmp);
            }
            return bw_image_fill_reason(st, reason, reason_len);
        }
        bw_pixels px = {0};
        /* Decode grey sources as grey even for 3 output channels: resizing
         * one channel and repeating it equals PIL's convert('RGB') first. */
        st = bw_image_decode_raw((const uint8_t *)data, size, src->path,
                                 pp->channels == 1 ? 1 : 0, &pp->lim, &px);
        bw_free(data);
        if (st != BARLOW_OK) return bw_image_fill_reason(st, reason, reason_len);
        st = bw_preprocess_pixels(px.data, px.width, px.height, px.channels, pp->resize,
                                  pp->crop, pp->channels, chw_out, src->path);
        bw_free(px.data);
        bw_pixels_release_budget(&px);
        return bw_image_fill_reason(st, reason, reason_len);
    }
    if (!src->pixels || (src->channels != 1 && src->channels != 3) || src->width == 0 ||
        src->height == 0) {
        st = bw_error(BARLOW_E_INVALID_ARG, "bw_image_load_source: the source has no file "
                                            "and no valid pixels (%zux%zux%zu)",
                      src->width, src->height, src->channels);
        return bw_image_fill_reason(st, reason, reason_len);
    }
    st = bw_image_check_limits(src->width, src->height, &pp->lim, "<in-memory image>", 0);
    if (st != BARLOW_OK) return bw_image_fill_reason(st, reason, reason_len);
    st = bw_preprocess_pixels(src->pixels, src->width, src->height, src->channels, pp->resize,
                              pp->crop, pp->channels, chw_out, "<in-memory image>");
    return bw_image_fill_reason(st, reason, reason_len);
}

