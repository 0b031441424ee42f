/* libFuzzer target over the IDX loader (lib/idx.c, barlow_dataset_load_idx:
 * plain and gzip IDX image and label files). An input is split in two: its
 * first 4 bytes (little-endian) give the length of the image file, the
 * image bytes follow and the rest is the label file; both are written to
 * scratch files and loaded. Invariants: a dataset has n > 0 rows, labels
 * below its class count, images of 1 or 3 channels whose pixels decode;
 * a refusal leaves a message and no dataset. Built by tests/fuzz/run idx;
 * the corpus is tests/fuzz/idx/. */
#include "barlow/dataset.h"
#include "barlow/image.h"
#include "barlow/loaders.h"
#include "fuzz_util.h"

static void walk(const barlow_dataset *ds)
{
    size_t n = barlow_dataset_size(ds), k = barlow_dataset_class_count(ds), h, w, c;
    const int32_t *labels = barlow_dataset_labels(ds);
    fuzz_check(n > 0 && labels && !barlow_dataset_has_predictions(ds));
    for (size_t i = 0; i < n; i++) fuzz_check(labels[i] >= 0 && (size_t)labels[i] < k);
    fuzz_check(barlow_dataset_image_shape(ds, &h, &w, &c) == BARLOW_OK);
    fuzz_check(h > 0 && w > 0 && (c == 1 || c == 3));
    size_t last[2] = {0, n - 1};
    for (size_t j = 0; j < 2; j++) {
        barlow_image *img = NULL;
        fuzz_check(barlow_dataset_load_image(ds, last[j], NULL, &img) == BARLOW_OK);
        fuzz_check(barlow_image_width(img) == w && barlow_image_height(img) == h);
        barlow_image_free(img);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    size_t split = (size_t)fuzz_le(data, 4);
    if (split > size - 4) split = size - 4;
    char images[512], labels[512];
    if (fuzz_write("images.idx", data + 4, split, images, sizeof images) != 0 ||
        fuzz_write("labels.idx", data + 4 + split, size - 4 - split, labels, sizeof labels) != 0)
        return 0;
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_idx(images, labels, &ds);
    fuzz_check_failure(st, ds);
    if (st == BARLOW_OK) walk(ds);
    barlow_dataset_free(ds);
    return 0;
}
