/*
 * Internal: the image pipeline as the extractor (lib/extractor.c) uses it —
 * decode one dataset row (an image file or in-memory IDX pixels), convert
 * it to grey or RGB, resize the shorter side, centre crop, and write float32
 * C×H×W in [0,1] into a caller buffer. Not installed, not part of the ABI.
 *
 * The preprocessing is torchvision's
 *     Image.open(f).convert('RGB' | 'L')  → Resize(resize)  (PIL BILINEAR,
 *     antialiased) → CenterCrop(crop) → ToTensor()
 * reproduced bit for bit (docs/images.md: JPEG decode through the same
 * libjpeg-turbo and settings as PIL, PIL's fixed-point resampler, the same
 * rounding of sizes and crop offsets, value = (float)u8 / 255.0f).
 *
 * Thread safety: every function here is reentrant; bw_image_load_row may
 * run concurrently on one const dataset from several threads.
 */
#ifndef BW_IMAGE_INTERNAL_H
#define BW_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "barlow/common.h"
#include "barlow/image.h"

struct barlow_dataset; /* include/barlow/dataset.h */

/* Default limits, checked from the image header before any pixel memory is
 * allocated (same values as barlow_image_options_init()). */
enum {
    BW_IMAGE_DEFAULT_MAX_SIDE = 32768
};
#define BW_IMAGE_DEFAULT_MAX_PIXELS ((uint64_t)1 << 28)

/* The one set of image-size limits (barlow_image_options' max_side and
 * max_pixels, the extractor's max_image_side and max_image_pixels), checked
 * from the header before decoding: a side > max_side or width*height >
 * max_pixels is UNSUPPORTED. */
typedef struct bw_image_limits {
    size_t max_side;     /* 1..BW_MAX_LIMIT_SIDE */
    uint64_t max_pixels; /* 1..BW_MAX_LIMIT_PIXELS */
} bw_image_limits;

/* The defaults: 32768 a side, 2^28 pixels. */
void bw_image_limits_default(bw_image_limits *lim);

/* Checks the limits' ranges (the one checker for every options struct that
 * carries them); side_name and pixels_name are the caller's field names,
 * named with `who` in the INVALID_ARG message. */
barlow_status bw_image_limits_check(const bw_image_limits *lim, const char *side_name,
                                    const char *pixels_name, const char *who);

/* Preprocessing of one image into the model's input. */
typedef struct bw_preprocess {
    size_t resize;       /* shorter side resized to this (PIL BILINEAR with
                            antialiasing, like torchvision Resize(resize));
                            0 = no resize */
    size_t crop;         /* centre crop to crop×crop (torchvision CenterCrop:
                            zero padding when the image is smaller); 0 = no
                            crop (then the output size depends on the image:
                            bw_image_load_row requires crop > 0) */
    size_t channels;     /* 1 (PIL 'L' conversion) or 3 (RGB; grey is
                            repeated) */
    bw_image_limits lim; /* header limits, refused before decoding */
} bw_preprocess;

/* ImageNet defaults: resize 256, crop 224, 3 channels, default limits. */
void bw_preprocess_init(bw_preprocess *pp);

/* Validates pp (channels 1 or 3, crop <= 65536, resize <= 65536, limits >= 1).
 * INVALID_ARG with a message starting with `who` naming the field. */
barlow_status bw_preprocess_check(const bw_preprocess *pp, const char *who);

/* Floats written per image by bw_image_load_row: channels*crop*crop. */
size_t bw_preprocess_floats(const bw_preprocess *pp);

/* Where one image's pixels come from: a file, or memory. */
typedef struct bw_image_source {
    const char *path;        /* an image file (JPEG/PNG/BMP by magic bytes);
                                NULL when `pixels` is used */
    const uint8_t *pixels;   /* uint8 H×W×C, C = `channels` (1 or 3), rows
                                packed (IDX images); not copied */
    size_t width, height, channels;
} bw_image_source;

/* Decodes and preprocesses one image into chw_out (bw_preprocess_floats(pp)
 * floats, C×H×W, values in [0,1]). On failure chw_out is unspecified, the
 * status says what kind (IO: missing/unreadable file; FORMAT: corrupt,
 * truncated or not an image; UNSUPPORTED: over the size limits or an
 * unsupported variant; NOMEM; INVALID_ARG), and `reason` (when non-NULL and
 * reason_len > 0) receives a NUL-terminated message naming the file and the
 * problem (truncated to reason_len). The calling thread's barlow_last_error()
 * is set to the same message. Never prints, never aborts. */
barlow_status bw_image_load_source(const bw_image_source *src, const bw_preprocess *pp,
                                   float *chw_out, char *reason, size_t reason_len);

/* bw_image_load_source for row `row` of a dataset: its image file (the
 * dataset's image root joined with the row's file name, or the absolute
 * path) or its in-memory IDX pixels. A row without an image source →
 * STATE. A failure concerns this row only (the caller skips it and reports
 * `reason`); it never changes the dataset. pp->crop must be > 0. */
barlow_status bw_image_load_row(const struct barlow_dataset *ds, size_t row,
                                const bw_preprocess *pp, float *chw_out,
                                char *reason, size_t reason_len);

/* ---- shared by lib/image.c, lib/image_resize.c, lib/stb_impl.c,
 *      lib/loaders.c (not for the extractor) ------------------------------ */

/* A decoded image's pixels (bw_malloc'd, H×W×C packed; channels 1 or 3). */
typedef struct bw_pixels {
    uint8_t *data;
    size_t width, height, channels;
    int format; /* barlow_image_format */
    uint64_t reserved; /* decode memory budget held for data (bytes) */
} bw_pixels;

/* Returns px->reserved to the process-wide decode budget
 * (BARLOW_LIMIT_DECODE_BYTES) and sets it to 0: call it when the pixels are
 * freed, or handed to a caller outside the library. */
void bw_pixels_release_budget(bw_pixels *px);

/* The decode budget's bytes in use now and the most ever in use at once
 * (for tests; either pointer may be NULL). */
void bw_decode_budget_stats(uint64_t *used, uint64_t *peak);

/* Decodes an encoded image in memory. want_channels: 0 = native (1 for grey
 * sources, 3 otherwise), 1 or 3. The decode first takes its estimated peak
 * memory from the process-wide decode budget (waiting while other threads'
 * decodes hold it; UNSUPPORTED when the image alone needs more than the
 * whole budget) and keeps out->reserved of it for the pixels: release it
 * with bw_pixels_release_budget. `name` (a path or "<memory>") starts every
 * message, e.g. "x.jpg: truncated JPEG data"; callers prefix their function
 * name. On failure *out is untouched. */
barlow_status bw_image_decode_raw(const uint8_t *data, size_t size, const char *name,
                                  size_t want_channels, const bw_image_limits *lim,
                                  bw_pixels *out);

/* Format and header dimensions (messages start with `name`). */
barlow_status bw_image_probe_raw(const uint8_t *data, size_t size, const char *name,
                                 int *format, size_t *width, size_t *height);

/* PIL's RGB → 'L': (19595 R + 38470 G + 7471 B + 0x8000) >> 16, n pixels. */
void bw_rgb_to_grey(const uint8_t *rgb, size_t n, uint8_t *grey);

/* PIL's antialiased BILINEAR resample (Image.resize) of a w×h×c (c = 1..4)
 * packed uint8 image into dst (ow×oh×c). Returns NOMEM (naming `who`) when
 * scratch memory fails. Sizes must be >= 1. */
barlow_status bw_resample_bilinear(const uint8_t *src, size_t w, size_t h, size_t c,
                                   uint8_t *dst, size_t ow, size_t oh, const char *who);

/* torchvision Resize(r) output size: the shorter side becomes r, the longer
 * floor(r * long / short); r = 0 keeps the size. */
void bw_resize_shorter_size(size_t w, size_t h, size_t r, size_t *ow, size_t *oh);

/* The whole preprocessing of packed uint8 pixels (c = 1 or 3) into float
 * C×H×W: out_channels 1 converts RGB with bw_rgb_to_grey first; 3 repeats
 * grey. crop 0 = no crop. `out` holds out_channels * out_h * out_w floats
 * (see bw_preprocess_out_size). Errors: NOMEM naming `who`. */
barlow_status bw_preprocess_pixels(const uint8_t *px, size_t w, size_t h, size_t c,
                                   size_t resize, size_t crop, size_t out_channels,
                                   float *out, const char *who);
/* The resized image of the preprocessing may have at most this many pixels
 * a side / in all: UNSUPPORTED otherwise (a very elongated image whose
 * shorter side is scaled up). */
enum { BW_RESIZE_MAX_SIDE = 65536 };
#define BW_RESIZE_MAX_PIXELS ((uint64_t)1 << 28)
barlow_status bw_resize_check(size_t w, size_t h, size_t r, size_t rw, size_t rh,
                              const char *who);
void bw_preprocess_out_size(size_t w, size_t h, size_t resize, size_t crop,
                            size_t *out_w, size_t *out_h);

/* Width/height against the limits: FORMAT for 0, UNSUPPORTED over a limit
 * (message "name: FORMAT of WxH pixels exceeds ..."); fmt is a
 * barlow_image_format (0 for in-memory pixels). */
barlow_status bw_image_check_limits(size_t w, size_t h, const bw_image_limits *lim,
                                    const char *name, int fmt);

/* Validates barlow_image_options (NULL = defaults) into channels + limits;
 * INVALID_ARG messages start with `who`. */
barlow_status bw_image_read_options(const barlow_image_options *opts, const char *who,
                                    size_t *channels, bw_image_limits *lim);

/* Sets *out to a barlow_image that takes ownership of px->data. On failure
 * (NOMEM, message starting with `who`) px->data is freed and *out is left
 * untouched, so callers can `return bw_image_wrap(&px, who, out);`. */
barlow_status bw_image_wrap(const bw_pixels *px, const char *who, barlow_image **out);

/* A new barlow_image with a copy of the w×h pixels at src (c channels, 1 or
 * 3), converted to out_c channels (1 or 3: PIL's 'L' formula, or grey
 * repeated). Errors: NOMEM (message starting with `who`). */
barlow_status bw_image_from_pixels(const uint8_t *src, size_t w, size_t h, size_t c,
                                   size_t out_c, const char *who, barlow_image **out);

/* Copies this thread's barlow_last_error() into reason (when non-NULL and
 * reason_len > 0) and returns st. */
barlow_status bw_image_fill_reason(barlow_status st, char *reason, size_t reason_len);

/* stb_image wrappers (lib/stb_impl.c). */
int bw_stbi_info(const uint8_t *data, size_t size, int *w, int *h, int *comp);
uint8_t *bw_stbi_load(const uint8_t *data, size_t size, int *w, int *h, int *comp,
                      int req_comp);
void bw_stbi_free(void *pixels);
const char *bw_stbi_failure_reason(void);

#endif /* BW_IMAGE_INTERNAL_H */
