/*
 * barlow_dataset — the rows of an analysis: per row a label, a prediction
 * (once known), a source file name and the metadata CSV's extra cells; the
 * class names with stable int32 ids; and barlow_group, a subset of the rows
 * (label == c, prediction == c, or any index set) with its failure vector
 * (prediction != label), failure count and base error rate.
 *
 * Class ids. Every row's label and prediction is a class id in
 * [0, barlow_dataset_class_count()). Ids are stable:
 *  - when the caller gives a class-name list (arrays, a class-names file, or
 *    the CSV options), id i is the list's i-th name, so that ids equal a
 *    model's output indices (e.g. ImageNet's 1000 names);
 *  - otherwise the metadata CSV loader numbers the distinct names that occur
 *    in the Labels and Predictions columns in byte order (strcmp), so the
 *    same set of names always gets the same ids whatever the row order;
 *  - the array/.npy constructors without names name class i by its decimal
 *    text ("0", "1", ...).
 * A given name list may contain a name twice (ImageNet's has "crane" twice);
 * a lookup by name then gives the lowest id with that name.
 *
 * Rows with no predictions: a dataset made without predictions has
 * barlow_dataset_has_predictions() == 0 until barlow_dataset_set_predictions()
 * (e.g. with a model's argmax) fills them.
 *
 * Groups are snapshots: a group copies the labels and predictions of its
 * members when it is created and does not refer to the dataset afterwards
 * (the dataset may be freed first). Groups of 0 members are valid: size 0,
 * 0 failures and base error rate 0.0 (not an error).
 *
 * File formats (docs/formats.md, "Metadata CSV"): RFC 4180 CSV with a header
 * naming the columns Filenames and Labels, and optionally Predictions, in
 * any order; other columns are kept as text.
 *
 * Thread safety: const functions may run concurrently on one dataset or
 * group; barlow_dataset_set_predictions() needs exclusive access.
 */
#ifndef BARLOW_DATASET_H
#define BARLOW_DATASET_H

#include "common.h"
#include "matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_dataset barlow_dataset;
typedef struct barlow_group barlow_group;

/* Which column a class group selects on. */
typedef enum barlow_group_by {
    BARLOW_GROUP_BY_LABEL = 0,      /* rows whose label == c */
    BARLOW_GROUP_BY_PREDICTION = 1  /* rows whose prediction == c */
} barlow_group_by;

/* ---- construction -------------------------------------------------------- */

/* Creates a dataset of n rows from arrays (copied).
 *  labels:      n class ids, required.
 *  predictions: n class ids, or NULL (no predictions yet).
 *  class_names: n_classes names (copied), valid UTF-8 (RFC 3629), or
 *               NULL: then n_classes > 0 fixes the class count and names
 *               are "0", "1", ...; and
 *               n_classes == 0 means max(label, prediction) + 1 classes;
 *               without names the class count must be <= 16777216.
 * Every id must be in [0, n_classes). No source files, no image root.
 * Errors: INVALID_ARG (NULL out or labels, n == 0, class_names given with
 * n_classes == 0, a NULL, empty or not valid UTF-8 name naming its index
 * (and the byte offset of the bad sequence), an id that is negative or
 * >= n_classes naming the array, its index and value, more
 * than 16777216 classes without names), NOMEM. */
BARLOW_API barlow_status barlow_dataset_create(size_t n, const int32_t *labels,
                                               const int32_t *predictions,
                                               const char *const *class_names,
                                               size_t n_classes,
                                               barlow_dataset **out);

/* Creates a dataset from .npy files (any integer dtype, or floats holding
 * integers, read with barlow_array_load_npy and barlow_array_to_int32).
 * Either array path may also name a member of an .npz archive as
 * "archive.npz:member" (e.g. "features.npz:labels", the layout that
 * barlow_extraction_save_npz writes), read with barlow_array_load_npz.
 *  labels_path:      a 1-D array of n class ids, required.
 *  predictions_path: a 1-D array of n class ids, or NULL.
 *  class_names_path: a UTF-8 text file, one class name per line (LF or
 *                    CRLF, optional BOM, optional final newline; id i is
 *                    line i+1), or NULL: then, when labels_path names an
 *                    .npz member ("F.npz:labels") and F.npz has a member
 *                    `class_names` (a 1-D '<U' string array, as
 *                    barlow_extraction_save_npz writes and numpy writes
 *                    for a list of str), class i is named by its i-th
 *                    entry; otherwise names as in barlow_dataset_create.
 *                    A given file always wins over the stored names.
 * Errors: INVALID_ARG (NULL out/labels_path; an array that is not 1-D, of
 * length 0, of lengths that differ, or an id out of range, naming the file,
 * index and value), IO (a file cannot be read, naming it), FORMAT (bad .npy;
 * a non-integer value; in the class-names file an empty line, a NUL byte
 * or a name that is not valid UTF-8, naming the line (and the byte offset);
 * docs/formats.md, "Text encoding"; a stored `class_names` member that is
 * not a 1-D '<U' array (UNSUPPORTED), holds an empty name or a NUL
 * (FORMAT), or names fewer classes than the ids use (INVALID_ARG)),
 * UNSUPPORTED (dtype), NOMEM. */
BARLOW_API barlow_status barlow_dataset_load_npy(const char *labels_path,
                                                 const char *predictions_path,
                                                 const char *class_names_path,
                                                 barlow_dataset **out);

enum { BARLOW_DATASET_CSV_OPTIONS_VERSION = 1 };

/* Options of barlow_dataset_load_csv(). */
typedef struct barlow_dataset_csv_options {
    uint32_t version;               /* BARLOW_DATASET_CSV_OPTIONS_VERSION */
    /* Class-name list fixing the ids (id i = class_names[i]); NULL (default)
     * numbers the names found in the file in byte order. The strings are
     * copied; the caller keeps ownership. */
    const char *const *class_names;
    size_t n_class_names;           /* entries of class_names: >= 1 when
                                       class_names is set, 0 (default) when
                                       it is NULL */
    /* Or the same list read from a text file, one name per line; NULL by
     * default. Setting both class_names and class_names_path is an error. */
    const char *class_names_path;
    /* Directory that the Filenames are relative to (copied); NULL (default)
     * = none: filenames are used as written. */
    const char *image_root;
} barlow_dataset_csv_options;

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_dataset_csv_options_init(barlow_dataset_csv_options *opts);

/* Reads a metadata CSV (RFC 4180: fields quoted with "...", "" for a quote
 * inside quotes, commas and newlines inside quotes, LF or CRLF line ends,
 * optional UTF-8 BOM, optional final newline; empty lines are skipped).
 * The header must name the columns "Filenames" and "Labels" (exact,
 * case-sensitive), and may name "Predictions"; columns may come in any
 * order. Without a Predictions column the dataset has no predictions.
 * Every other column is kept (barlow_dataset_extra_*). Label and prediction
 * cells are class names, mapped to ids as described at the top.
 * opts: NULL for defaults.
 * Class names (Labels and Predictions cells, the class-name list) must be
 * valid UTF-8 (RFC 3629); file names and extra cells are kept as bytes;
 * a NUL byte anywhere in the CSV or the class-names file is an error
 * (docs/formats.md, "Text encoding").
 * Errors: INVALID_ARG (NULL path/out, bad options version, both class_names
 * and class_names_path, a NULL, empty or not valid UTF-8 name in
 * class_names naming its index), IO (naming the file), FORMAT (naming the
 * file and the line/row:
 * empty file, header only ("no rows"), a missing or repeated required
 * column (naming it), unbalanced quotes (naming the line the quoted field
 * starts on), text after a closing quote, a row whose field count differs
 * from the header's, an empty Filenames/Labels/Predictions cell, a label
 * or prediction not in the given class-name list (naming the row and the
 * name), a NUL byte (naming the line, row and column), a Labels or
 * Predictions cell that is not valid UTF-8 (naming the row, the column and
 * the byte offset); in the class-names file an empty line, a NUL byte or a
 * name that is not valid UTF-8 (naming the line)), NOMEM. */
BARLOW_API barlow_status barlow_dataset_load_csv(const char *path,
                                                 const barlow_dataset_csv_options *opts,
                                                 barlow_dataset **out);

/* Frees the dataset. NULL is allowed. Groups made from it stay valid. */
BARLOW_API void barlow_dataset_free(barlow_dataset *ds);

/* ---- accessors ------------------------------------------------------------ */

/* Number of rows (0 for NULL). */
BARLOW_API size_t barlow_dataset_size(const barlow_dataset *ds);

/* Number of classes (0 for NULL). */
BARLOW_API size_t barlow_dataset_class_count(const barlow_dataset *ds);

/* Name of class `id` (owned by the dataset, valid until it is freed); NULL
 * when ds is NULL or id is out of range. The decimal names of a dataset
 * made without names are made on first use (so that one large id does not
 * cost a string per smaller id); for such a dataset NULL also means that
 * memory ran out. Safe to call from several threads on one dataset. */
BARLOW_API const char *barlow_dataset_class_name(const barlow_dataset *ds, int32_t id);

/* Looks up a class by exact name (the lowest id when names repeat).
 * Errors: INVALID_ARG (NULL argument; unknown name, naming it). */
BARLOW_API barlow_status barlow_dataset_class_id(const barlow_dataset *ds,
                                                 const char *name, int32_t *out);

/* The n labels (owned by the dataset; valid until it is freed). NULL for NULL. */
BARLOW_API const int32_t *barlow_dataset_labels(const barlow_dataset *ds);

/* The n predictions (owned by the dataset; valid until it is freed or its
 * predictions are set again), or NULL when it has none. */
BARLOW_API const int32_t *barlow_dataset_predictions(const barlow_dataset *ds);

/* 1 when the dataset has predictions, 0 otherwise (and for NULL). */
BARLOW_API int barlow_dataset_has_predictions(const barlow_dataset *ds);

/* Sets (or replaces) the predictions: n class ids, copied. Groups made
 * earlier keep their old snapshot. Errors: INVALID_ARG (NULL argument,
 * n != barlow_dataset_size() naming both, an id out of range naming its
 * index and value; the dataset is unchanged), NOMEM. */
BARLOW_API barlow_status barlow_dataset_set_predictions(barlow_dataset *ds,
                                                        const int32_t *predictions,
                                                        size_t n);

/* Names the classes by a class-names file (the format of
 * barlow_dataset_load_npy's class_names_path): class i gets line i+1's
 * name; ids, rows and predictions are unchanged, and the class count
 * becomes the number of names. This is how a dataset whose files carry no
 * names (IDX: "0" ... "K-1") gets them; the file must name every class
 * the dataset has (at least barlow_dataset_class_count() lines). Groups
 * made earlier are unaffected (they hold ids). Needs exclusive access, as
 * barlow_dataset_set_predictions; pointers from barlow_dataset_class_name
 * are invalidated.
 * Errors: INVALID_ARG (NULL argument; fewer names than classes, naming
 * both counts), IO, FORMAT (as for class_names_path, naming the line),
 * NOMEM; on error the dataset is unchanged. */
BARLOW_API barlow_status barlow_dataset_set_class_names_file(barlow_dataset *ds,
                                                             const char *path);

/* Source file name of row i as written in the CSV (owned by the dataset),
 * or NULL when the row has none (arrays, in-memory images) or i >= size. */
BARLOW_API const char *barlow_dataset_filename(const barlow_dataset *ds, size_t i);

/* The image root directory (owned by the dataset), or NULL when none. */
BARLOW_API const char *barlow_dataset_image_root(const barlow_dataset *ds);

/* The path to open for row i: the filename joined to the image root with
 * '/' (unless there is no root or the filename is absolute), as text in
 * *out (NUL-terminated; out->size excludes the NUL); release it with
 * barlow_buffer_free(). Errors: INVALID_ARG (NULL argument, i >= size
 * naming i, a row with no source file naming i), NOMEM. *out is untouched
 * on error. */
BARLOW_API barlow_status barlow_dataset_image_path(const barlow_dataset *ds, size_t i,
                                                   barlow_buffer *out);

/* Number of kept extra CSV columns (0 when none or ds is NULL). */
BARLOW_API size_t barlow_dataset_extra_column_count(const barlow_dataset *ds);

/* Header name of extra column j (owned by the dataset); NULL if out of range. */
BARLOW_API const char *barlow_dataset_extra_column_name(const barlow_dataset *ds,
                                                        size_t j);

/* Cell text of row i in extra column j (owned by the dataset; "" for an
 * empty cell); NULL if out of range. */
BARLOW_API const char *barlow_dataset_extra_value(const barlow_dataset *ds, size_t i,
                                                  size_t j);

/* Per-class counts over all rows in one pass: sizes[c] = rows whose label
 * (or prediction) is c; failures[c] = those of them with prediction !=
 * label. Both arrays have barlow_dataset_class_count() entries; failures may
 * be NULL. Errors: INVALID_ARG (NULL ds/sizes, bad `by`), STATE (by
 * prediction, or failures requested, without predictions). */
BARLOW_API barlow_status barlow_dataset_class_counts(const barlow_dataset *ds,
                                                     barlow_group_by by, size_t *sizes,
                                                     size_t *failures);

/* ---- groups --------------------------------------------------------------- */

/* Creates the group of rows whose label (or prediction) is class_id, in
 * ascending row order. A class with no such rows gives an empty group.
 * Errors: INVALID_ARG (NULL ds/out, bad `by`, class_id out of range naming
 * it), STATE (by prediction without predictions), NOMEM. */
BARLOW_API barlow_status barlow_group_create(const barlow_dataset *ds, barlow_group_by by,
                                             int32_t class_id, barlow_group **out);

/* As barlow_group_create with the class given by name.
 * Errors: as barlow_group_create; INVALID_ARG for an unknown name (naming it). */
BARLOW_API barlow_status barlow_group_create_by_name(const barlow_dataset *ds,
                                                     barlow_group_by by,
                                                     const char *class_name,
                                                     barlow_group **out);

/* Creates a group of the given rows, in the given order (copied). n may be
 * 0 (indices may then be NULL). Errors: INVALID_ARG (NULL ds/out, NULL
 * indices with n > 0, an index >= size or a repeated index, naming its
 * position and value), NOMEM. */
BARLOW_API barlow_status barlow_group_create_from_indices(const barlow_dataset *ds,
                                                          const size_t *indices, size_t n,
                                                          barlow_group **out);

/* Frees the group. NULL is allowed. */
BARLOW_API void barlow_group_free(barlow_group *g);

/* Number of member rows (0 for NULL). */
BARLOW_API size_t barlow_group_size(const barlow_group *g);

/* Member row indices into the dataset (owned by the group; size entries).
 * NULL for NULL; may be NULL for an empty group. */
BARLOW_API const size_t *barlow_group_indices(const barlow_group *g);

/* Number of rows of the dataset the group was made from (0 for NULL). */
BARLOW_API size_t barlow_group_dataset_size(const barlow_group *g);

/* 1 when the group knows its members' predictions (the dataset had them
 * when the group was made), 0 otherwise and for NULL. */
BARLOW_API int barlow_group_has_predictions(const barlow_group *g);

/* Writes the failure vector: out[k] = 1 when member k's prediction differs
 * from its label, else 0 (barlow_group_size() entries; out may be NULL for
 * an empty group). Errors: INVALID_ARG (NULL g, NULL out with size > 0),
 * STATE (no predictions). */
BARLOW_API barlow_status barlow_group_failures(const barlow_group *g, uint8_t *out);

/* Number of failures (prediction != label) among the members; 0 for an
 * empty group. Errors: INVALID_ARG (NULL), STATE (no predictions). */
BARLOW_API barlow_status barlow_group_failure_count(const barlow_group *g, size_t *out);

/* Base error rate = failures / size; 0.0 for an empty group.
 * Errors: INVALID_ARG (NULL), STATE (no predictions). */
BARLOW_API barlow_status barlow_group_base_error_rate(const barlow_group *g, double *out);

/* Gathers the members' rows of a feature matrix (one row per dataset row)
 * into a new owned size×cols matrix, in member order.
 * Errors: INVALID_ARG (NULL argument, features with rows != the dataset's
 * size naming both, an empty group), NOMEM. */
BARLOW_API barlow_status barlow_group_gather_rows(const barlow_group *g,
                                                  const barlow_matrix *features,
                                                  barlow_matrix **out);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_DATASET_H */
