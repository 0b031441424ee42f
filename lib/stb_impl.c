/*
 * The private copy of stb_image (Debian libstb-dev 2.27): PNG and BMP only,
 * from memory only, every function static (STB_IMAGE_STATIC) so that nothing
 * of stb is visible outside this file — an application with its own stb
 * cannot clash with ours. JPEG goes through libjpeg-turbo (lib/image.c):
 * stb_image 2.27's JPEG decoder has known memory-safety bugs.
 *
 * The rest of the library reaches stb only through the bw_stbi_* wrappers
 * below (hidden like every bw_* symbol).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"
#include "internal.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ASSERT(x) ((void)0)
/* stb's memory is the library's (bw_malloc: counted, and failed by the
 * fault-injection hook like any other). A failed allocation is noted for
 * this thread: stb does not always record a reason for it (its zlib
 * decoder's first buffer), and a decode that ran out of memory must read
 * NOMEM, never a format error. */
static _Thread_local int bw_stb_oom;

static void *bw_stb_noted(void *p)
{
    if (!p) bw_stb_oom = 1;
    return p;
}

#define STBI_MALLOC(sz) bw_stb_noted(bw_malloc(sz, "stb_image"))
#define STBI_REALLOC(p, sz) bw_stb_noted(bw_realloc(p, sz, "stb_image"))
#define STBI_FREE(p) bw_free(p)

#include "stb_warnings.h"
#include <stb/stb_image.h>
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif

/* This thread's reason for a file refused before stb saw it, or "outofmem"
 * (NULL: ask stb). */
static _Thread_local const char *bw_png_refused;

int bw_stbi_info(const uint8_t *data, size_t size, int *w, int *h, int *comp)
{
    bw_png_refused = NULL;
    if (size > (size_t)INT32_MAX) return 0;
    return stbi_info_from_memory(data, (int)size, w, h, comp);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* stb 2.27 computes `idata + ioff` with idata still NULL when the first
 * IDAT chunk is empty (undefined behaviour, found by tests/fuzz). An empty
 * IDAT carries no data, so a PNG that has one is decoded from a copy
 * without its empty IDAT chunks (a truncated one included; every other
 * byte is kept as it is, damage and all, for stb to report). Returns that
 * copy (bw_malloc'd; *out_size set), or NULL when there is nothing to strip
 * or (*nomem set) when the copy cannot be allocated. */
static uint8_t *png_without_empty_idat(const uint8_t *data, size_t size, size_t *out_size,
                                       int *nomem)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size < 8 || memcmp(data, sig, 8) != 0) return NULL;
    uint8_t *copy = NULL;
    size_t o = 0, pos = 8, kept_from = 0; /* data[kept_from, pos) not yet copied */
    /* Walk the chunk headers as stb does: length, type, data, CRC. */
    while (pos + 8 <= size) {
        uint32_t len = be32(data + pos);
        size_t next = (size_t)len <= size - pos - 8 ? pos + 8 + (size_t)len : size;
        next = size - next >= 4 ? next + 4 : size; /* the CRC, if present */
        if (len == 0 && memcmp(data + pos + 4, "IDAT", 4) == 0) {
            if (!copy && !(copy = bw_malloc(size, "stb_image"))) {
                *nomem = 1;
                return NULL;
            }
            memcpy(copy + o, data + kept_from, pos - kept_from);
            o += pos - kept_from;
            kept_from = next; /* drop this chunk */
        }
        if (next >= size) break;
        pos = next;
    }
    if (!copy) return NULL;
    memcpy(copy + o, data + kept_from, size - kept_from);
    *out_size = o + (size - kept_from);
    return copy;
}

/* stb 2.27 grows its IDAT buffer to whatever length a chunk header claims
 * before reading the chunk, so a 100-byte file can make it allocate 2 GiB
 * (found by tests/fuzz). A chunk before IEND that claims more bytes than
 * the file has left cannot be decoded anyway: such files are refused here.
 * Returns 1 when the chunk list is sound up to IEND (or the end). */
static int png_lengths_fit(const uint8_t *data, size_t size)
{
    size_t pos = 8;
    while (pos + 8 <= size) {
        uint32_t len = be32(data + pos);
        if (memcmp(data + pos + 4, "IEND", 4) == 0) return 1;
        if ((size_t)len > size - pos - 8) return 0;
        pos += 8 + (size_t)len;
        pos = size - pos >= 4 ? pos + 4 : size;
    }
    return 1;
}

uint8_t *bw_stbi_load(const uint8_t *data, size_t size, int *w, int *h, int *comp,
                      int req_comp)
{
    bw_png_refused = NULL;
    if (size > (size_t)INT32_MAX) return NULL;
    if (size >= 8 && data[0] == 0x89 && !png_lengths_fit(data, size)) {
        bw_png_refused = "a PNG chunk is longer than the rest of the file (truncated or corrupt)";
        return NULL;
    }
    size_t stripped_size = 0;
    int nomem = 0;
    uint8_t *stripped = png_without_empty_idat(data, size, &stripped_size, &nomem);
    if (nomem) {
        bw_png_refused = "outofmem";
        return NULL;
    }
    bw_stb_oom = 0;
    uint8_t *px = stbi_load_from_memory(stripped ? stripped : data,
                                        (int)(stripped ? stripped_size : size), w, h, comp,
                                        req_comp);
    bw_free(stripped);
    if (!px && bw_stb_oom) bw_png_refused = "outofmem";
    return px;
}

void bw_stbi_free(void *pixels)
{
    stbi_image_free(pixels);
}

const char *bw_stbi_failure_reason(void)
{
    if (bw_png_refused) return bw_png_refused;
    const char *r = stbi_failure_reason();
    return r ? r : "unknown error";
}
