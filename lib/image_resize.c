/*
 * PIL-compatible antialiased bilinear resampling, torchvision's Resize /
 * CenterCrop geometry, and ToTensor — the model-input preprocessing.
 *
 * The resampler follows the algorithm of Pillow's libImaging/Resample.c
 * (9.x), re-derived here so that uint8 results are identical:
 *  - separable, horizontal pass first (into a uint8 intermediate holding
 *    only the rows the vertical pass reads), then vertical; a pass is
 *    skipped when its dimension does not change;
 *  - for each output position xx: scale = in/out, filterscale =
 *    max(scale, 1), support = 1 * filterscale, center = (xx + 0.5) * scale,
 *    taps from (int)(center - support + 0.5) to (int)(center + support +
 *    0.5) clipped to the image, weight w(x) = tri((x - center + 0.5) /
 *    filterscale) with tri(t) = max(0, 1 - |t|), normalised to sum 1 in
 *    double;
 *  - weights are converted to fixed point with 22 fractional bits,
 *    rounding half away from zero; each output is
 *    clamp((2^21 + sum(pixel * weight)) >> 22, 0, 255) in 32-bit integers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"
#include "internal.h"

enum { BW_PRECISION_BITS = 32 - 8 - 2 };

typedef struct bw_coeffs {
    int ksize;
    int *bounds;  /* 2 per output: first tap, number of taps */
    int32_t *kk;  /* ksize per output */
} bw_coeffs;

/* The two passes are the hot loops of the image pipeline: let GCC
 * vectorise them fully whatever the build type (results are integers, so
 * they do not depend on it). */
#if defined(__GNUC__) && !defined(__clang__)
#  define BW_HOT __attribute__((optimize("O3")))
#else
#  define BW_HOT
#endif

static double tri_filter(double x)
{
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

static void coeffs_free(bw_coeffs *c)
{
    bw_free(c->bounds);
    bw_free(c->kk);
    c->bounds = NULL;
    c->kk = NULL;
}

/* Coefficients of output positions [first, first + count) of a resize of
 * in_size to out_size (Pillow's precompute_coeffs + normalize_coeffs_8bpc
 * for those positions only; each position's taps depend on it alone). */
static barlow_status coeffs_compute(int in_size, int out_size, int first, int count,
                                    bw_coeffs *c, const char *who)
{
    const double support_1 = 1.0; /* bilinear */
    double scale = (double)(float)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = support_1 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    double *w = bw_mallocn((size_t)ksize, sizeof *w, who);
    c->ksize = ksize;
    c->bounds = bw_mallocn((size_t)count * 2, sizeof *c->bounds, who);
    c->kk = bw_mallocn((size_t)count, (size_t)ksize * sizeof *c->kk, who);
    if (!w || !c->bounds || !c->kk) {
        bw_free(w);
        coeffs_free(c);
        return BARLOW_E_NOMEM;
    }
    double ss = 1.0 / filterscale;
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        double center = (xx + 0.5) * scale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        int x;
        for (x = 0; x < xmax; x++) {
            double v = tri_filter((x + xmin - center + 0.5) * ss);
            w[x] = v;
            ww += v;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) w[x] /= ww;
        for (; x < ksize; x++) w[x] = 0.0;
        int32_t *k = c->kk + (size_t)i * ksize;
        for (x = 0; x < ksize; x++) {
            double f = w[x] * (1 << BW_PRECISION_BITS);
            k[x] = (int32_t)(w[x] < 0 ? -0.5 + f : 0.5 + f);
        }
        c->bounds[2 * i] = xmin;
        c->bounds[2 * i + 1] = xmax;
    }
    bw_free(w);
    return BARLOW_OK;
}

static inline uint8_t clip8(int32_t v)
{
    v >>= BW_PRECISION_BITS; /* arithmetic shift, as Pillow */
    if (v < 0) return 0;
    if (v > 255) return 255;
    return (uint8_t)v;
}

/* Horizontal pass: `rows` rows of src (`stride` bytes apart, nc channels)
 * into dst (ow pixels per row, packed), one output pixel per coefficient. */
BW_HOT static void pass_horizontal(const uint8_t *src, size_t stride, size_t nc, size_t rows,
                                   uint8_t *dst, size_t ow, const bw_coeffs *c)
{
    const int32_t half = 1 << (BW_PRECISION_BITS - 1);
    for (size_t yy = 0; yy < rows; yy++) {
        const uint8_t *in = src + yy * stride;
        uint8_t *o = dst + yy * ow * nc;
        for (size_t xx = 0; xx < ow; xx++) {
            int xmin = c->bounds[2 * xx], xmax = c->bounds[2 * xx + 1];
            const int32_t *k = c->kk + xx * (size_t)c->ksize;
            const uint8_t *p = in + (size_t)xmin * nc;
            if (nc == 1) {
                int32_t s0 = half;
                for (int x = 0; x < xmax; x++) s0 += p[x] * k[x];
                o[xx] = clip8(s0);
            } else if (nc == 3) {
                int32_t s0 = half, s1 = half, s2 = half;
                for (int x = 0; x < xmax; x++) {
                    s0 += p[3 * x] * k[x];
                    s1 += p[3 * x + 1] * k[x];
                    s2 += p[3 * x + 2] * k[x];
                }
                o[3 * xx] = clip8(s0);
                o[3 * xx + 1] = clip8(s1);
                o[3 * xx + 2] = clip8(s2);
            } else {
                for (size_t ch = 0; ch < nc; ch++) {
                    int32_t s = half;
                    for (int x = 0; x < xmax; x++) s += p[nc * (size_t)x + ch] * k[x];
                    o[nc * xx + ch] = clip8(s);
                }
            }
        }
    }
}

/* Vertical pass: output row yy reads source rows bounds[2yy] - shift + y
 * of src (`stride` bytes apart, `rowlen` bytes used) into dst (rowlen
 * bytes per row, packed). */
BW_HOT static void pass_vertical(const uint8_t *src, size_t stride, size_t rowlen,
                                 uint8_t *dst, size_t oh, const bw_coeffs *c, int shift,
                                 int32_t *restrict acc)
{
    const int32_t half = 1 << (BW_PRECISION_BITS - 1);
    for (size_t yy = 0; yy < oh; yy++) {
        int ymin = c->bounds[2 * yy] - shift, ymax = c->bounds[2 * yy + 1];
        const int32_t *k = c->kk + yy * (size_t)c->ksize;
        for (size_t i = 0; i < rowlen; i++) acc[i] = half;
        for (int y = 0; y < ymax; y++) {
            const uint8_t *restrict row = src + (size_t)(ymin + y) * stride;
            int32_t ky = k[y];
            for (size_t i = 0; i < rowlen; i++) acc[i] += row[i] * ky;
        }
        uint8_t *restrict o = dst + yy * rowlen;
        for (size_t i = 0; i < rowlen; i++) o[i] = clip8(acc[i]);
    }
}

/* The window [x0, x0+cw) × [y0, y0+ch) of the resize of src (w×h×nc) to
 * ow×oh, into dst (cw×ch×nc packed). Equal to resizing fully and cropping. */
static barlow_status resample_window(const uint8_t *src, size_t w, size_t h, size_t nc,
                                     size_t ow, size_t oh, size_t x0, size_t y0, size_t cw,
                                     size_t ch, uint8_t *dst, const char *who)
{
    int need_h = ow != w, need_v = oh != h;
    bw_coeffs chz = {0}, cv = {0};
    uint8_t *tmp = NULL;
    int32_t *acc = NULL;
    barlow_status st = BARLOW_OK;
    if (need_h) st = coeffs_compute((int)w, (int)ow, (int)x0, (int)cw, &chz, who);
    if (st == BARLOW_OK && need_v) st = coeffs_compute((int)h, (int)oh, (int)y0, (int)ch, &cv, who);
    if (st != BARLOW_OK) goto done;
    if (!need_h && !need_v) {
        for (size_t y = 0; y < ch; y++)
            memcpy(dst + y * cw * nc, src + ((y0 + y) * w + x0) * nc, cw * nc);
        goto done;
    }
    if (!need_v) {
        pass_horizontal(src + y0 * w * nc, w * nc, nc, ch, dst, cw, &chz);
        goto done;
    }
    acc = bw_mallocn(cw * nc, sizeof *acc, who);
    if (!acc) {
        st = BARLOW_E_NOMEM;
        goto done;
    }
    if (!need_h) {
        pass_vertical(src + x0 * nc, w * nc, cw * nc, dst, ch, &cv, 0, acc);
        goto done;
    }
    /* Only the source rows the vertical pass reads go through the
     * horizontal pass (as Pillow does; the values do not depend on it). */
    size_t first = (size_t)cv.bounds[0];
    size_t last = (size_t)cv.bounds[2 * ch - 2] + (size_t)cv.bounds[2 * ch - 1];
    tmp = bw_mallocn((last - first) * cw, nc, who);
    if (!tmp) {
        st = BARLOW_E_NOMEM;
        goto done;
    }
    pass_horizontal(src + first * w * nc, w * nc, nc, last - first, tmp, cw, &chz);
    pass_vertical(tmp, cw * nc, cw * nc, dst, ch, &cv, (int)first, acc);
done:
    bw_free(tmp);
    bw_free(acc);
    coeffs_free(&chz);
    coeffs_free(&cv);
    return st;
}

barlow_status bw_resample_bilinear(const uint8_t *src, size_t w, size_t h, size_t nc,
                                   uint8_t *dst, size_t ow, size_t oh, const char *who)
{
    return resample_window(src, w, h, nc, ow, oh, 0, 0, ow, oh, dst, who);
}

void bw_resize_shorter_size(size_t w, size_t h, size_t r, size_t *ow, size_t *oh)
{
    if (r == 0 || w == 0 || h == 0) {
        *ow = w;
        *oh = h;
        return;
    }
    /* torchvision: new_long = int(r * long / short) with a true (double)
     * division, correctly rounded like Python's int / int. */
    if (w <= h) {
        *ow = r;
        *oh = (size_t)((double)r * (double)h / (double)w);
    } else {
        *oh = r;
        *ow = (size_t)((double)r * (double)w / (double)h);
    }
}

barlow_status bw_resize_check(size_t w, size_t h, size_t r, size_t rw, size_t rh,
                              const char *who)
{
    if (rw == 0 || rh == 0 || rw > BW_RESIZE_MAX_SIDE || rh > BW_RESIZE_MAX_SIDE ||
        (uint64_t)rw * rh > BW_RESIZE_MAX_PIXELS)
        return bw_error(BARLOW_E_UNSUPPORTED,
                        "%s: resizing %zux%zu to shorter side %zu gives %zux%zu (sides must be "
                        "1..%d and at most %llu pixels)", who, w, h, r, rw, rh,
                        (int)BW_RESIZE_MAX_SIDE, (unsigned long long)BW_RESIZE_MAX_PIXELS);
    return BARLOW_OK;
}

void bw_preprocess_out_size(size_t w, size_t h, size_t resize, size_t crop, size_t *out_w,
                            size_t *out_h)
{
    if (crop) {
        *out_w = crop;
        *out_h = crop;
        return;
    }
    bw_resize_shorter_size(w, h, resize, out_w, out_h);
}

/* torchvision CenterCrop along one axis: `pad` output positions of zeros
 * before the image, the image read from `off`, `len` positions copied. */
static void crop_axis(size_t size, size_t crop, size_t *pad, size_t *off, size_t *len)
{
    if (crop > size) {
        *pad = (crop - size) / 2;
        *off = 0;
        *len = size;
        return;
    }
    size_t d = size - crop, q = d / 2;
    /* int(round(d / 2.0)) with Python's round half to even */
    if (d % 2 == 1 && q % 2 == 1) q++;
    *pad = 0;
    *off = q;
    *len = crop;
}

barlow_status bw_preprocess_pixels(const uint8_t *px, size_t w, size_t h, size_t c,
                                   size_t resize, size_t crop, size_t out_channels,
                                   float *out, const char *who)
{
    uint8_t *grey = NULL, *resized = NULL;
    const uint8_t *src = px;
    size_t sc = c;
    if (out_channels == 1 && c == 3) {
        grey = bw_mallocn(w, h, who);
        if (!grey) return BARLOW_E_NOMEM;
        bw_rgb_to_grey(px, w * h, grey);
        src = grey;
        sc = 1;
    }
    size_t rw, rh;
    bw_resize_shorter_size(w, h, resize, &rw, &rh);
    barlow_status vst = bw_resize_check(w, h, resize, rw, rh, who);
    if (vst != BARLOW_OK) {
        bw_free(grey);
        return vst;
    }
    size_t ow = crop ? crop : rw, oh = crop ? crop : rh;
    size_t padx, offx, lenx, pady, offy, leny;
    crop_axis(rw, ow, &padx, &offx, &lenx);
    crop_axis(rh, oh, &pady, &offy, &leny);
    size_t sw = rw; /* row length (pixels) of `src` */
    if (rw != w || rh != h) {
        /* resize only the window that the crop keeps */
        resized = bw_mallocn(lenx * leny, sc, who);
        barlow_status st = resized ? resample_window(src, w, h, sc, rw, rh, offx, offy, lenx,
                                                     leny, resized, who)
                                   : BARLOW_E_NOMEM;
        if (st != BARLOW_OK) {
            bw_free(resized);
            bw_free(grey);
            return st;
        }
        src = resized;
        sw = lenx;
        offx = offy = 0;
    }
    float lut[256];
    for (int i = 0; i < 256; i++) lut[i] = (float)i / 255.0f;
    size_t plane = ow * oh;
    if (lenx != ow || leny != oh) memset(out, 0, out_channels * plane * sizeof *out);
    for (size_t oc = 0; oc < out_channels; oc++) {
        size_t ic = sc == 1 ? 0 : oc;
        float *o = out + oc * plane;
        for (size_t y = 0; y < leny; y++) {
            const uint8_t *row = src + ((offy + y) * sw + offx) * sc + ic;
            float *orow = o + (pady + y) * ow + padx;
            for (size_t x = 0; x < lenx; x++) orow[x] = lut[row[x * sc]];
        }
    }
    bw_free(resized);
    bw_free(grey);
    return BARLOW_OK;
}
