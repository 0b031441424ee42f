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

#include "image_internal.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ASSERT(x) ((void)0)

#if defined(__GNUC__)
/* stb declares static functions it does not define without their formats
 * (GIF): the warning fires at the end of the file, so it stays off here. */
#  pragma GCC diagnostic ignored "-Wunused-function"
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wsign-compare"
#  pragma GCC diagnostic ignored "-Wmissing-prototypes"
#  pragma GCC diagnostic ignored "-Wshadow"
#  pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#  pragma GCC diagnostic ignored "-Wpedantic"
#  pragma GCC diagnostic ignored "-Wunused-parameter"
#  pragma GCC diagnostic ignored "-Wtype-limits"
#  pragma GCC diagnostic ignored "-Wstrict-prototypes"
#  pragma GCC diagnostic ignored "-Wcast-qual"
#  pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif

int bw_stbi_info(const uint8_t *data, size_t size, int *w, int *h, int *comp)
{
    if (size > (size_t)INT32_MAX) return 0;
    return stbi_info_from_memory(data, (int)size, w, h, comp);
}

uint8_t *bw_stbi_load(const uint8_t *data, size_t size, int *w, int *h, int *comp,
                      int req_comp)
{
    if (size > (size_t)INT32_MAX) return NULL;
    return stbi_load_from_memory(data, (int)size, w, h, comp, req_comp);
}

void bw_stbi_free(void *pixels)
{
    stbi_image_free(pixels);
}

const char *bw_stbi_failure_reason(void)
{
    const char *r = stbi_failure_reason();
    return r ? r : "unknown error";
}
