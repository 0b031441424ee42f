/*
 * Dataset loaders for images: image folders (root/<class>/<file>), IDX and
 * IDX.gz files (the MNIST family, images held in memory), and the image
 * side of any dataset — checking that its image files exist and have a
 * readable header, and loading one row's image.
 *
 * The metadata-CSV loader is barlow_dataset_load_csv() (dataset.h); its
 * `image_root` option associates the image directory. Rows that name
 * missing or unreadable files do not make loading fail: they are found by
 * barlow_dataset_check_images() (per-row status and reasons) and skipped,
 * with their reason, by the extractor.
 *
 * Thread safety: the loaders are reentrant; barlow_dataset_check_images(),
 * barlow_dataset_load_image() and barlow_dataset_image_shape() take a const
 * dataset and may run concurrently on one dataset.
 */
#ifndef BARLOW_LOADERS_H
#define BARLOW_LOADERS_H

#include "common.h"
#include "dataset.h"
#include "image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads an image-folder dataset like torchvision's ImageFolder: every
 * subdirectory of root is a class (ids in byte order of the names, strcmp,
 * which equals Python's sorted()), and every image file below it, at any
 * depth, a row labelled with that class. Files are ordered like
 * torchvision's make_dataset: by directory path, then by file name.
 * Image files are recognised by extension, case-insensitively: .jpg .jpeg
 * .png .bmp (other files are ignored; the decoder itself detects formats
 * by magic bytes). Names starting with '.' are ignored (hidden files,
 * .ipynb_checkpoints). Symbolic links are followed. Rows store the path
 * relative to root ("cat/001.jpg") and root is the dataset's image root;
 * the dataset has no predictions.
 * Errors: INVALID_ARG (NULL or empty root, NULL out), IO (root missing,
 * not a directory, unreadable, naming it), FORMAT (no class subdirectory;
 * a class with no image files, naming it — as torchvision; directories
 * nested deeper than 64 levels; a loop of symbolic links, naming its class
 * and entry), NOMEM. */
BARLOW_API barlow_status barlow_dataset_load_folder(const char *root, barlow_dataset **out);

/* Loads an IDX image file (magic 0x00000803: n×h×w uint8, or 0x00000804:
 * n×h×w×c with c 1 or 3) and an IDX label file (magic 0x00000801: n uint8),
 * each plain or gzip-compressed (detected by content, not by name). The
 * images are kept in memory (n·h·w·c bytes); classes are named "0" … "K-1"
 * with K = the largest label + 1 (IDX files carry no names: name them
 * with barlow_dataset_set_class_names_file). The dataset has no
 * predictions and no file names.
 * Errors: INVALID_ARG (NULL argument), IO (naming the file), FORMAT (bad
 * magic, a data type other than unsigned byte, wrong dimension count, zero
 * sizes, image/label counts that differ, a header whose sizes disagree with
 * the data — truncated or with trailing bytes, naming both sizes — corrupt
 * gzip data), UNSUPPORTED (other IDX data types; images over 32768 pixels a
 * side or 2^28 pixels), NOMEM. */
BARLOW_API barlow_status barlow_dataset_load_idx(const char *images_path,
                                                 const char *labels_path,
                                                 barlow_dataset **out);

/* The shape of a dataset's in-memory images (IDX): height, width, channels.
 * Errors: INVALID_ARG (NULL), STATE (the dataset's images are files). */
BARLOW_API barlow_status barlow_dataset_image_shape(const barlow_dataset *ds, size_t *height,
                                                    size_t *width, size_t *channels);

/* Decodes row i's image: its file (barlow_dataset_image_path) through
 * barlow_image_decode_file with opts (NULL = defaults), or a copy of its
 * in-memory pixels (opts.channels converts; limits apply).
 * Errors: INVALID_ARG (NULL, i out of range), STATE (the row has no image),
 * and those of barlow_image_decode_file, naming the row and the path. */
BARLOW_API barlow_status barlow_dataset_load_image(const barlow_dataset *ds, size_t i,
                                                   const barlow_image_options *opts,
                                                   barlow_image **out);

/* Checks every row's image without decoding pixels: the file exists, can
 * be read, is a JPEG/PNG/BMP by its magic bytes, has a valid header and
 * dimensions within opts' limits (NULL = defaults). In-memory images always
 * pass. Results:
 *   row_status: NULL, or barlow_dataset_size(ds) entries: BARLOW_OK or the
 *               status of that row's problem (IO, FORMAT, UNSUPPORTED, ...);
 *   n_bad:      NULL, or the number of rows that failed;
 *   report:     NULL, or a text buffer (free with barlow_buffer_free())
 *               with one line per failed row, "row I: reason\n" (empty
 *               text when all pass).
 * A failing row is not an error of this call: it returns BARLOW_OK.
 * Errors: INVALID_ARG (NULL ds, bad options), NOMEM. */
BARLOW_API barlow_status barlow_dataset_check_images(const barlow_dataset *ds,
                                                     const barlow_image_options *opts,
                                                     int32_t *row_status, size_t *n_bad,
                                                     barlow_buffer *report);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_LOADERS_H */
