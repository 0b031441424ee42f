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

#include "internal.h"
#include "render.h"

/* This thread's zlib error in the last bw_stbiw_png (0: none). */
static _Thread_local int bw_zlib_error;
/* The stream bw_zlib_compress last returned on this thread until stbiw
 * frees it: stb_image_write 1.16 leaks it when its output buffer cannot be
 * allocated (stbi_write_png_to_mem: `if (!out) return 0;`), and
 * bw_stbiw_png frees it then (found by tests/test_alloc_fail.c). */
static _Thread_local unsigned char *bw_zlib_out;

/* STBIW_FREE: bw_free, forgetting bw_zlib_out when it is the block. */
static void bw_stbiw_free(void *p)
{
    if (p && p == bw_zlib_out) bw_zlib_out = NULL;
    bw_free(p);
}

/* zlib's compress2, with the library's allocator (bw_zalloc): a zlib
 * stream of data[0..len) into out[0..*out_len) (in: its capacity). */
static int bw_compress(unsigned char *out, uLongf *out_len, const unsigned char *data,
                       uLong len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    z.zalloc = bw_zalloc;
    z.zfree = bw_zfree;
    int r = deflateInit(&z, Z_DEFAULT_COMPRESSION);
    if (r != Z_OK) return r;
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)*out_len;
    r = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? Z_OK : r == Z_OK ? Z_BUF_ERROR : r;
}

/* stbiw's deflate hook: a zlib stream (what PNG's IDAT holds) of data, in
 * memory stbiw frees with STBIW_FREE (bw_stbiw_free). Returns NULL on failure. The
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
    unsigned char *out = bw_malloc(bound, "stb_image_write");
    if (!out) {
        bw_zlib_error = Z_MEM_ERROR;
        return NULL;
    }
    uLongf len = bound;
    int z = bw_compress(out, &len, data, (uLong)data_len);
    if (z != Z_OK) {
        bw_zlib_error = z;
        bw_free(out);
        return NULL;
    }
    *out_len = (int)len;
    bw_zlib_out = out;
    return out;
}

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#define STBIW_ZLIB_COMPRESS bw_zlib_compress
#define STBIW_MALLOC(sz) bw_malloc(sz, "stb_image_write")
#define STBIW_REALLOC(p, sz) bw_realloc(p, sz, "stb_image_write")
#define STBIW_FREE(p) bw_stbiw_free(p)
#define STBIW_ASSERT(x) ((void)0)

#include "stb_warnings.h"
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif

uint8_t *bw_stbiw_png(const uint8_t *px, int w, int h, int channels, int *len, int *zerr)
{
    bw_zlib_error = 0;
    bw_zlib_out = NULL;
    uint8_t *png = stbi_write_png_to_mem(px, w * channels, w, h, channels, len);
    bw_free(bw_zlib_out); /* stbiw's leak on a failed allocation; NULL otherwise */
    bw_zlib_out = NULL;
    *zerr = png ? 0 : bw_zlib_error;
    return png;
}
