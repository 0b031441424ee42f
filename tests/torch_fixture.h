/* Shared by the white-box libtorch tests (test_bad_input_torch.c,
 * test_cancel_torch.c, test_alloc_fail_torch.c): the tiny TorchScript
 * models, images and metadata CSV that tools/make_test_models.py writes
 * into $BARLOW_TEST_MODELS (meson makes them before these tests run).
 * These programs hold libbarlow's objects, so the plugin is named by
 * BARLOW_TORCH_PLUGIN (tests/meson.build). Include after tap.h.
 *
 *   tf_start()               skips the program (TAP) without libtorch, its
 *                            plugin or the models
 *   tf_path("tiny_cnn.pt")   a path in the models directory
 *   tf_extractor(...)        an extractor on a model at size x size
 *   tf_busiest_feature(X)    the column with the largest sum over X's rows
 *   tf_meta(root, five)      meta.csv over the images in root (NULL: the
 *                            models directory's images/); five: with the
 *                            class list cat, dog, bird, fish, frog (as
 *                            many as tiny_cnn's 5 logits) */
#ifndef BARLOW_TEST_TORCH_FIXTURE_H
#define BARLOW_TEST_TORCH_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "barlow/barlow.h"

static const char *tf_dir;

static const char *tf_path(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tf_dir, name);
    return buf[k];
}

static void tf_start(void)
{
    tf_dir = getenv("BARLOW_TEST_MODELS");
    if (!tf_dir || !*tf_dir) TAP_SKIP_ALL("BARLOW_TEST_MODELS is not set");
    if (!barlow_has_torch()) TAP_SKIP_ALL("the libtorch plugin does not load");
    FILE *f = fopen(tf_path("tiny_cnn.pt"), "rb");
    if (!f) TAP_SKIP_ALL("the test models were not made (tools/make_test_models.py)");
    fclose(f);
}

/* tiny_cnn-like model at size x size (resize to the same), 1 libtorch
 * thread, batch_size images per step; exits on failure. */
static barlow_extractor *tf_extractor(const char *model, size_t size, size_t channels,
                                      uint32_t outputs, size_t batch_size)
{
    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    o.input_size = size;
    o.resize = size;
    o.channels = channels;
    o.threads = 1;
    o.decode_threads = 1;
    o.batch_size = batch_size;
    o.outputs = outputs;
    barlow_extractor *ex = NULL;
    if (barlow_extractor_create_from_file(tf_path(model), &o, &ex) != BARLOW_OK) {
        printf("# %s: %s\n", model, barlow_last_error());
        exit(1);
    }
    return ex;
}

/* meta.csv: rows 0-5 are images, 6 a truncated PNG, 7 a missing file;
 * failures (prediction != label) are rows 1, 2, 4, 5, 7. */
static barlow_dataset *tf_meta(const char *root, int five)
{
    static const char *const names[5] = {"cat", "dog", "bird", "fish", "frog"};
    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.image_root = root ? root : tf_path("images");
    if (five) {
        co.class_names = names;
        co.n_class_names = 5;
    }
    barlow_dataset *ds = NULL;
    if (barlow_dataset_load_csv(tf_path("meta.csv"), &co, &ds) != BARLOW_OK) {
        printf("# meta.csv: %s\n", barlow_last_error());
        exit(1);
    }
    return ds;
}

/* The busiest feature of an extraction: the column with the largest sum
 * over the rows (the lowest such column on ties). */
static size_t tf_busiest_feature(const barlow_matrix *X)
{
    size_t feat = 0;
    double best = -1.0;
    for (size_t j = 0; j < barlow_matrix_cols(X); j++) {
        double s = 0.0;
        for (size_t i = 0; i < barlow_matrix_rows(X); i++) s += barlow_matrix_row(X, i)[j];
        if (s > best) {
            best = s;
            feat = j;
        }
    }
    return feat;
}

#endif /* BARLOW_TEST_TORCH_FIXTURE_H */
