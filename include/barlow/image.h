/*
 * barlow_image — decoded 8-bit images and the model-input preprocessing.
 *
 * Formats (detected by magic bytes, never by file name): JPEG (baseline and
 * progressive, grey/YCbCr/RGB/CMYK/YCCK, decoded by libjpeg-turbo with the
 * same settings as PIL: ISLOW DCT, fancy upsampling), PNG (all bit depths,
 * grey, grey+alpha, palette, RGB, RGBA; 16-bit samples keep the high byte)
 * and BMP (uncompressed and RLE-less bitfield variants), both through a
 * private copy of stb_image. GIF, TIFF, WebP and others → UNSUPPORTED.
 *
 * A barlow_image holds width×height×channels uint8 samples, row-major,
 * channels interleaved (H×W×C), rows packed. channels is 1 (grey) or 3
 * (RGB). Decoding converts: grey(+alpha) → 1 channel (or 3 by repetition),
 * palette → RGB, RGBA → RGB with the alpha channel DROPPED (not composited:
 * transparent pixels keep their stored colour, like PIL's
 * Image.convert('RGB')), CMYK/YCCK → RGB with PIL's formula (Adobe-inverted
 * CMYK, R = 255 - C' - (C'·K' /255)-rounding, docs/images.md). RGB → grey
 * uses PIL's 'L' conversion L = (19595 R + 38470 G + 7471 B + 32768) >> 16.
 *
 * Size limits are checked against the dimensions in the file header BEFORE
 * any pixel memory is allocated, so a 100000×100000 header costs nothing.
 *
 * Preprocessing reproduces torchvision's Resize(r) → CenterCrop(s) →
 * ToTensor() on a PIL image bit for bit: PIL's antialiased BILINEAR
 * resampler (fixed point, separable, horizontal pass first), the same
 * rounding of the new size (shorter side = r, longer = floor(r·long/short))
 * and of the crop offset (round half to even), zero padding when the image
 * is smaller than the crop, value = (float)u8 / 255.0f (docs/images.md).
 *
 * Writing: PNG only (8-bit grey or RGB), through a private copy of
 * stb_image_write with zlib as its deflate, into memory or a file.
 *
 * Thread safety: all functions are reentrant; const functions may run
 * concurrently on one image; different images may be used concurrently.
 */
#ifndef BARLOW_IMAGE_H
#define BARLOW_IMAGE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_image barlow_image;

/* Container format of an encoded image. */
typedef enum barlow_image_format {
    BARLOW_IMAGE_FORMAT_NONE = 0, /* not decoded from a file (created) */
    BARLOW_IMAGE_FORMAT_JPEG = 1,
    BARLOW_IMAGE_FORMAT_PNG = 2,
    BARLOW_IMAGE_FORMAT_BMP = 3
} barlow_image_format;

/* Limits and defaults of barlow_image_options. */
enum {
    BARLOW_IMAGE_OPTIONS_VERSION = 1,
    BARLOW_IMAGE_DEFAULT_MAX_SIDE = 32768,      /* pixels per side */
    BARLOW_IMAGE_DEFAULT_MAX_PIXELS = 268435456 /* 2^28 = 16384×16384 */
};

/* Decoding options. */
typedef struct barlow_image_options {
    uint32_t version;    /* BARLOW_IMAGE_OPTIONS_VERSION */
    size_t channels;     /* 0 (default): 1 for grey sources, 3 for all
                            others; 1: grey ('L'); 3: RGB */
    size_t max_side;     /* wider or taller images are refused (from the
                            header, before decoding); default 32768;
                            1..2^31-1 */
    uint64_t max_pixels; /* width*height limit, default 2^28; 1..2^40 */
} barlow_image_options;

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_image_options_init(barlow_image_options *opts);

/* Creates a zero-filled image. width, height >= 1, channels 1 or 3, the
 * size limits of the default options apply. Errors: INVALID_ARG (NULL out,
 * zero size, bad channel count, over the limits), NOMEM. */
BARLOW_API barlow_status barlow_image_create(size_t width, size_t height,
                                             size_t channels, barlow_image **out);

/* Frees the image. NULL is allowed. */
BARLOW_API void barlow_image_free(barlow_image *img);

BARLOW_API size_t barlow_image_width(const barlow_image *img);    /* 0 for NULL */
BARLOW_API size_t barlow_image_height(const barlow_image *img);   /* 0 for NULL */
BARLOW_API size_t barlow_image_channels(const barlow_image *img); /* 0 for NULL */
/* Format the image was decoded from (NONE for created/derived images). */
BARLOW_API barlow_image_format barlow_image_source_format(const barlow_image *img);
/* The samples, H×W×C, width*channels bytes per row. NULL for NULL. */
BARLOW_API const uint8_t *barlow_image_data(const barlow_image *img);
BARLOW_API uint8_t *barlow_image_data_mut(barlow_image *img);

/* Reads the format and dimensions from an encoded image's header without
 * decoding pixels (width/height as stored; any of the out pointers may be
 * NULL). Errors: INVALID_ARG (NULL data with size > 0), FORMAT (empty, not
 * an image, corrupt or truncated header), UNSUPPORTED (a known but
 * unsupported format, e.g. GIF). */
BARLOW_API barlow_status barlow_image_probe_memory(const void *data, size_t size,
                                                   barlow_image_format *format,
                                                   size_t *width, size_t *height);

/* Decodes an encoded image held in memory (the caller keeps ownership of
 * data). Free the result with barlow_image_free(). Errors: INVALID_ARG
 * (NULL, bad options), FORMAT (empty, unknown magic, corrupt or truncated
 * data; the message quotes the decoder), UNSUPPORTED (GIF/TIFF/WebP...,
 * dimensions over the limits — the message gives the header's size and the
 * limit), NOMEM. */
BARLOW_API barlow_status barlow_image_decode_memory(const void *data, size_t size,
                                                    const barlow_image_options *opts,
                                                    barlow_image **out);

/* Reads and decodes an image file. Errors: as barlow_image_decode_memory,
 * with every message naming the path, and IO when the file cannot be
 * opened or read (missing, a directory, no permission). */
BARLOW_API barlow_status barlow_image_decode_file(const char *path,
                                                  const barlow_image_options *opts,
                                                  barlow_image **out);

/* Converts to 1 (PIL 'L' formula) or 3 (repetition) channels; a copy when
 * the count already matches. Errors: INVALID_ARG (NULL, channels), NOMEM. */
BARLOW_API barlow_status barlow_image_convert(const barlow_image *img, size_t channels,
                                              barlow_image **out);

/* Resizes to width×height with PIL's antialiased BILINEAR filter (Image.
 * resize(..., Image.BILINEAR) bit for bit); a copy when the size is
 * unchanged. width, height 1..65536. Errors: INVALID_ARG, NOMEM. */
BARLOW_API barlow_status barlow_image_resize(const barlow_image *img, size_t width,
                                             size_t height, barlow_image **out);

/* ---- preprocessing into model input ------------------------------------- */

enum { BARLOW_IMAGE_PREPROCESS_OPTIONS_VERSION = 1 };

typedef struct barlow_image_preprocess_options {
    uint32_t version; /* BARLOW_IMAGE_PREPROCESS_OPTIONS_VERSION */
    size_t resize;    /* shorter side → resize (0 = no resize); default 256;
                         0..65536 */
    size_t crop;      /* centre crop crop×crop (0 = no crop); default 224;
                         0..65536 */
    size_t channels;  /* output channels 1 or 3; default 3 */
} barlow_image_preprocess_options;

/* Fills *opts with the defaults (256, 224, 3). NULL is ignored. */
BARLOW_API void barlow_image_preprocess_options_init(barlow_image_preprocess_options *opts);

/* The output shape of barlow_image_preprocess for this image: channels ×
 * height × width (crop×crop when crop > 0). Errors: INVALID_ARG (NULL,
 * options out of range), UNSUPPORTED (the resized image, before cropping,
 * would have a side over 65536 or more than 2^28 pixels — a very elongated
 * image — naming both sizes). */
BARLOW_API barlow_status barlow_image_preprocess_shape(const barlow_image *img,
                                                       const barlow_image_preprocess_options *opts,
                                                       size_t *channels, size_t *height,
                                                       size_t *width);

/* Resize + centre crop + channel conversion + ToTensor: writes float32
 * C×H×W values in [0,1] (u8 / 255.0f) into out, which holds out_len floats
 * (at least the product of barlow_image_preprocess_shape's three values).
 * Errors: INVALID_ARG (NULL, options, out_len too small — naming both
 * sizes; out untouched), UNSUPPORTED (as barlow_image_preprocess_shape),
 * NOMEM. */
BARLOW_API barlow_status barlow_image_preprocess(const barlow_image *img,
                                                 const barlow_image_preprocess_options *opts,
                                                 float *out, size_t out_len);

/* ---- writing PNG -------------------------------------------------------- */

/* Encodes img as a PNG (8-bit grey for 1 channel, 8-bit RGB for 3; zlib
 * deflate, default level) into *out: out->data holds out->size bytes, owned
 * by the caller (free with barlow_buffer_free()). The image is unchanged.
 * Errors: INVALID_ARG (NULL img or out), UNSUPPORTED (an image of more than
 * about 2^31 bytes of pixels, over the encoder's limit), NOMEM; *out is
 * untouched on failure. */
BARLOW_API barlow_status barlow_image_encode_png(const barlow_image *img, barlow_buffer *out);

/* Writes img as a PNG file at path (as barlow_image_encode_png) through the
 * library's one file writer: a temporary file beside path renamed onto it,
 * so readers never see a partial file; an existing regular file is
 * replaced and keeps its mode, anything else (directory, FIFO, device,
 * symbolic link) is refused. Nothing is left behind on failure. Errors:
 * INVALID_ARG (NULL img, NULL or empty path), IO (naming the path: missing
 * or unwritable directory, not a regular file, write failure), UNSUPPORTED
 * (as barlow_image_encode_png), NOMEM, CANCELLED (the temporary was removed
 * by barlow_output_remove_temporaries() meanwhile). */
BARLOW_API barlow_status barlow_image_save_png(const barlow_image *img, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_IMAGE_H */
