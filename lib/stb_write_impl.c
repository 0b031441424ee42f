/*
 * The private copy of stb_image_write (Debian libstb-dev, v1.16): PNG to
 * memory only, every function static (STB_IMAGE_WRITE_STATIC) so that
 * nothing of stb is visible outside this file — an application with its own
 * stb cannot clash with ours. Its deflate is replaced by zlib's compress2
 * (STBIW_ZLIB_COMPRESS): smaller files, faster, and the zlib the library
 * links anyway.
 *
 * The rest of the library reaches it only through bw_stbiw_png (render.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "render.h"

/* This thread's zlib error in the last bw_stbiw_png (0: none). */
static _Thread_local int bw_zlib_error;

/* stbiw's deflate hook: a zlib stream (what PNG's IDAT holds) of data, in
 * memory stbiw frees with STBIW_FREE (free). Returns NULL on failure. The
 * level is zlib's default (6, PIL's too) rather than stbiw's 8, which costs
 * time for a few per cent. */
static unsigned char *bw_zlib_compress(unsigned char *data, int data_len, int *out_len,
                                       int quality)
{
    (void)quality;
    uLong bound = compressBound((uLong)data_len);
    if (bound > (uLong)INT32_MAX) {
        bw_zlib_error = Z_BUF_ERROR;
        return NULL;
    }
    unsigned char *out = malloc(bound ? bound : 1);
    if (!out) {
        bw_zlib_error = Z_MEM_ERROR;
        return NULL;
    }
    uLongf len = bound;
    int z = compress2(out, &len, data, (uLong)data_len, Z_DEFAULT_COMPRESSION);
    if (z != Z_OK) {
        bw_zlib_error = z;
        free(out);
        return NULL;
    }
    *out_len = (int)len;
    return out;
}

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#define STBIW_ZLIB_COMPRESS bw_zlib_compress
#define STBIW_MALLOC(sz) malloc(sz)
#define STBIW_REALLOC(p, sz) realloc(p, sz)
#define STBIW_FREE(p) free(p)
#define STBIW_ASSERT(x) ((void)0)

#include "stb_warnings.h"
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif

uint8_t *bw_stbiw_png(const uint8_t *px, int w, int h, int channels, int *len, int *zerr)
{
    bw_zlib_error = 0;
    uint8_t *png = stbi_write_png_to_mem(px, w * channels, w, h, channels, len);
    *zerr = png ? 0 : bw_zlib_error;
    return png;
}
