/* libFuzzer target over libbarlow's decode-from-memory entry point
 * (barlow_image_probe_memory, barlow_image_decode_memory) and, for inputs
 * that decode, the resize/crop preprocessing. Built and run by tests/fuzz/run
 * with clang -fsanitize=fuzzer,address,undefined; not part of the meson
 * build. Limits are lowered so that the fuzzer explores formats rather than
 * spending its time on legitimately huge images. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "barlow/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    barlow_image_format f;
    size_t w, h;
    (void)barlow_image_probe_memory(data, size, &f, &w, &h);

    barlow_image_options o;
    barlow_image_options_init(&o);
    o.max_side = 4096;
    o.max_pixels = (uint64_t)1 << 22;
    o.channels = size % 3; /* native, grey or RGB from the same input */
    barlow_image *img = NULL;
    if (barlow_image_decode_memory(data, size, &o, &img) != BARLOW_OK) return 0;

    barlow_image_preprocess_options p;
    barlow_image_preprocess_options_init(&p);
    p.resize = 1 + size % 40;
    p.crop = 1 + (size / 7) % 32;
    p.channels = (size & 1) ? 1 : 3;
    size_t c, ph, pw;
    if (barlow_image_preprocess_shape(img, &p, &c, &ph, &pw) == BARLOW_OK) {
        float *out = malloc(c * ph * pw * sizeof *out);
        if (out) {
            (void)barlow_image_preprocess(img, &p, out, c * ph * pw);
            free(out);
        }
    }
    barlow_image_free(img);
    return 0;
}
