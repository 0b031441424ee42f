/* libFuzzer target over the metadata CSV loader (barlow_dataset_load_csv,
 * lib/csv.c, lib/dataset.c). Each input is written to a scratch file and
 * loaded three ways: with default options, with a given class-name list
 * (its length and an image root taken from the input's size), and with the
 * same bytes as the class-names file. A loaded dataset is walked through
 * every accessor with its invariants checked (labels and predictions are
 * ids of named classes, names are UTF-8 and map back to their id, every
 * cell is there); a refusal must leave a message and no dataset. Built by
 * tests/fuzz/run csv; the corpus is tests/fuzz/csv/. */
#include <stdlib.h>
#include <string.h>

#include "barlow/dataset.h"
#include "fuzz_util.h"
#include "utf8.h"

static void walk_classes(const barlow_dataset *ds)
{
    size_t k = barlow_dataset_class_count(ds);
    for (size_t c = 0; c < k; c++) {
        const char *name = barlow_dataset_class_name(ds, (int32_t)c);
        int32_t id = -1;
        fuzz_check(name && name[0] && bw_utf8_check(name, strlen(name)) == strlen(name));
        fuzz_check(barlow_dataset_class_id(ds, name, &id) == BARLOW_OK && id == (int32_t)c);
    }
    fuzz_check(barlow_dataset_class_name(ds, (int32_t)k) == NULL);
}

static void walk_rows(const barlow_dataset *ds)
{
    size_t n = barlow_dataset_size(ds), k = barlow_dataset_class_count(ds);
    size_t extra = barlow_dataset_extra_column_count(ds);
    const int32_t *labels = barlow_dataset_labels(ds);
    const int32_t *pred = barlow_dataset_predictions(ds);
    fuzz_check(n > 0 && labels && (pred != NULL) == (barlow_dataset_has_predictions(ds) != 0));
    for (size_t j = 0; j < extra; j++) fuzz_check(barlow_dataset_extra_column_name(ds, j) != NULL);
    for (size_t i = 0; i < n; i++) {
        fuzz_check(labels[i] >= 0 && (size_t)labels[i] < k);
        fuzz_check(!pred || (pred[i] >= 0 && (size_t)pred[i] < k));
        const char *f = barlow_dataset_filename(ds, i);
        fuzz_check(f && f[0]);
        for (size_t j = 0; j < extra; j++) fuzz_check(barlow_dataset_extra_value(ds, i, j) != NULL);
        barlow_buffer p = {NULL, 0};
        fuzz_check(barlow_dataset_image_path(ds, i, &p) == BARLOW_OK && p.data &&
                   strstr(p.data, f) && strlen(p.data) == p.size);
        barlow_buffer_free(&p);
    }
}

static void load(const char *path, const barlow_dataset_csv_options *o)
{
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_csv(path, o, &ds);
    fuzz_check_failure(st, ds);
    if (st != BARLOW_OK) return;
    walk_classes(ds);
    walk_rows(ds);
    barlow_dataset_free(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"cat", "dog", "bird", "caf\xc3\xa9"};
    char path[512];
    if (fuzz_write("in.csv", data, size, path, sizeof path) != 0) return 0;
    load(path, NULL);

    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    o.n_class_names = 1 + size % 4;
    o.class_names = names;
    o.image_root = size & 1 ? "/images" : NULL;
    load(path, &o);

    barlow_dataset_csv_options_init(&o);
    o.class_names_path = path;
    load(path, &o);
    return 0;
}
