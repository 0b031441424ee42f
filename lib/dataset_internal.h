/*
 * Internal: the layout of barlow_dataset and a small builder for the modules
 * that make datasets (lib/dataset.c: arrays, .npy, metadata CSV; the image
 * loaders: image folders root/<class>/<file>, IDX files with in-memory
 * images). Not installed; not part of the ABI.
 *
 * Typical use by a loader ("who" is the public function's name, used in
 * NOMEM/FORMAT messages):
 *
 *     barlow_dataset *ds = bw_dataset_new(n_guess, who);
 *     if (!ds) return BARLOW_E_NOMEM;
 *     int32_t c;
 *     st = bw_dataset_add_class(ds, "cat", &c, who);          // id of "cat"
 *     st = bw_dataset_append_row(ds, "cat/1.png", c, BW_NO_PREDICTION, who);
 *     ...
 *     st = bw_dataset_set_image_root(ds, root, who);           // optional
 *     st = bw_dataset_finish(ds, who);                          // validates
 *     if (st != BARLOW_OK) { barlow_dataset_free(ds); return st; }
 *     *out = ds;
 *
 * Rules the builder keeps: class names are non-empty and unique (a loader
 * that must allow repeated names, like a caller's class list, uses
 * bw_dataset_add_class_dup); a row's label is a valid class id at finish;
 * predictions are either given for every row or for none (BW_NO_PREDICTION).
 */
#ifndef BW_DATASET_INTERNAL_H
#define BW_DATASET_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "barlow/dataset.h"

/* The prediction of a row whose prediction is not known. */
enum { BW_NO_PREDICTION = -1 };

struct barlow_dataset {
    size_t n, cap;           /* rows, allocated rows */
    int32_t *labels;         /* n class ids */
    int32_t *predictions;    /* n class ids (valid only when has_predictions) */
    bool has_predictions;
    char **sources;          /* n source paths (NULL entries = none), or NULL */

    char **class_names;      /* n_classes owned names */
    size_t n_classes, class_cap;
    int32_t *class_hash;     /* open addressing: class id + 1, 0 = empty slot */
    size_t hash_cap;         /* power of two, > 2 * n_classes */
    struct bw_numeric_names *numeric; /* arrays without names: the names are the
                                       * decimal ids, made on first use (dataset.c);
                                       * class_names and class_hash are then NULL */

    char *image_root;        /* NULL = none */

    size_t n_extra;          /* extra CSV columns */
    char **extra_names;      /* n_extra header names */
    char **extra_cells;      /* n * n_extra cells, row-major; each owned */

    /* In-memory images (IDX loader): n images of h×w×c uint8, row-major,
     * pixel (i, y, x, ch) at pixels[((i*h + y)*w + x)*c + ch]. Owned
     * (free()); NULL when the rows are image files. */
    uint8_t *pixels;
    size_t img_h, img_w, img_c;
};

/* A new empty dataset with room for n_capacity rows (0 is fine). NULL and a
 * NOMEM message naming `who` when memory runs out. Free with
 * barlow_dataset_free(). */
barlow_dataset *bw_dataset_new(size_t n_capacity, const char *who);

/* Id of class `name`, adding it (copied) with the next id when it is new.
 * Errors: INVALID_ARG (NULL or empty name), NOMEM. */
barlow_status bw_dataset_add_class(barlow_dataset *ds, const char *name, int32_t *id,
                                   const char *who);

/* Adds `name` with the next id even when the name is already present (a
 * caller-given list with repeats); lookups give the lowest id. */
barlow_status bw_dataset_add_class_dup(barlow_dataset *ds, const char *name, int32_t *id,
                                       const char *who);

/* Id of class `name`, or -1 when there is none (lowest id on repeats). */
int32_t bw_dataset_find_class(const barlow_dataset *ds, const char *name);

/* Appends a row. source: a path (copied) or NULL; prediction may be
 * BW_NO_PREDICTION. Errors: NOMEM. */
barlow_status bw_dataset_append_row(barlow_dataset *ds, const char *source, int32_t label,
                                    int32_t prediction, const char *who);

/* Renumbers the classes so that ids follow the names in byte order (strcmp),
 * updating every row. Errors: NOMEM (the dataset is unchanged). */
barlow_status bw_dataset_sort_classes(barlow_dataset *ds, const char *who);

/* Sets the image root (copied; NULL clears it). Errors: NOMEM. */
barlow_status bw_dataset_set_image_root(barlow_dataset *ds, const char *root,
                                        const char *who);

/* Validates the built dataset: n >= 1 (INVALID_ARG "no rows"), every label
 * and prediction in [0, n_classes) (INTERNAL otherwise: a loader bug),
 * predictions for all rows or none (INVALID_ARG naming the first row that
 * lacks one). Sets has_predictions. */
barlow_status bw_dataset_finish(barlow_dataset *ds, const char *who);

/* barlow_dataset_image_path's path of row i as a new string (bw_free), with
 * `who` naming the caller in errors; does not clear the error message. */
barlow_status bw_dataset_image_path(const barlow_dataset *ds, size_t i, char **out,
                                    const char *who);

#endif /* BW_DATASET_INTERNAL_H */
