/*
 * Sharded feature stores: one dataset's features extracted in N pieces
 * (on N machines, by any scheduler: a Slurm array, Kubernetes jobs, Dask, a
 * shell loop), checked and joined by a small manifest, and read back as one
 * n×d matrix without loading it.
 *
 *   1. barlow_shard_range() splits the dataset's rows into N contiguous
 *      ranges (boundaries on multiples of the extractor's batch size, so
 *      that the features equal a whole extraction's bit for bit).
 *   2. Each piece: barlow_extractor_extract_range() over its range, then
 *      barlow_extraction_save_shard() — an .npz like
 *      barlow_extraction_save_npz's (numpy reads it) whose features are
 *      stored uncompressed and aligned for mapping, with a member "shard"
 *      recording the range, the shard's place i of N, the model's SHA-256
 *      and the preprocessing options. Written to a temporary name and
 *      renamed: a shard file is complete or absent.
 *   3. barlow_shards_merge() checks that the shards are complete, disjoint
 *      and alike (same dataset size, model, options, feature and logit
 *      counts) and writes the manifest (JSON, docs/formats.md).
 *   4. barlow_matrix_open_manifest() gives the extracted rows of every
 *      shard, in dataset order, as one read-only matrix over the shard
 *      files' mappings; barlow_array_load_manifest() joins the other
 *      members (labels, predictions, index, logits, status).
 *
 * Thread safety: every function here may run concurrently with the others
 * on distinct outputs; the matrices and arrays they return are as thread
 * safe as any (barlow/matrix.h).
 */
#ifndef BARLOW_SHARDS_H
#define BARLOW_SHARDS_H

#include "common.h"
#include "dataset.h"
#include "extractor.h"
#include "matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    BARLOW_SHARD_OPTIONS_VERSION = 1,
    BARLOW_MANIFEST_FORMAT_VERSION = 1, /* the manifest's "format_version" */
    BARLOW_SHARD_FORMAT_VERSION = 1     /* a shard's "shard" member's */
};

/* The rows of shard `index` (0-based) of `count`: *begin..*end-1. The
 * dataset's n_rows are cut into ceil(n_rows / align) units of `align`
 * rows (the last may be shorter) and the units spread evenly over the
 * shards, so every boundary is a multiple of align and every shard has at
 * least one unit. align is the extractor's batch size (1 = no alignment).
 * Errors: INVALID_ARG (NULL begin/end; count 0; index >= count; align 0;
 * n_rows 0; count greater than the number of units, naming both). */
BARLOW_API barlow_status barlow_shard_range(size_t n_rows, size_t index, size_t count,
                                            size_t align, size_t *begin, size_t *end);

/* Parses "i/N" (decimal, 0 <= i < N, no spaces or signs) into *index and
 * *count. Errors: INVALID_ARG naming the text (NULL, not of that form,
 * N = 0, i >= N, a number out of range). */
BARLOW_API barlow_status barlow_shard_parse(const char *text, size_t *index, size_t *count);

/* Options of barlow_extraction_save_shard(). */
typedef struct barlow_shard_options {
    uint32_t version;     /* BARLOW_SHARD_OPTIONS_VERSION */
    size_t index, count;  /* this shard is `index` of `count` (0 of 1 default):
                             count >= 1 and at most the dataset's number of
                             batches, index 0..count-1 (barlow_shard_range's
                             checks) */
    /* The SHA-256 (64 hex digits) of the model that made the dataset's
     * predictions, recorded and compared between shards; NULL (default):
     * none recorded. Copied. */
    const char *predict_sha256;
} barlow_shard_options;

/* Fills *opts with the defaults. NULL is ignored. */
BARLOW_API void barlow_shard_options_init(barlow_shard_options *opts);

/* Writes the range extraction r (of dataset ds, by extractor ex, which
 * must have computed features) as shard opts->index of opts->count at
 * path, atomically (opts NULL: the defaults, shard 0 of 1, a whole
 * extraction). The extraction's range must be
 * barlow_shard_range(size of ds, index, count, ex's batch size).
 * Errors: INVALID_ARG (NULL r, ds, ex or path; unknown options version;
 * r has no features; r was not made from a dataset of ds's size; a range other than
 * the shard's, naming both; a malformed predict_sha256), IO (naming the
 * path; nothing is left behind), NOMEM. */
BARLOW_API barlow_status barlow_extraction_save_shard(const barlow_extraction *r,
                                                      const barlow_dataset *ds,
                                                      const barlow_extractor *ex,
                                                      const barlow_shard_options *opts,
                                                      const char *path);

/* Checks the n shard files and writes the manifest at path (atomically),
 * naming them relative to the manifest's directory when they lie under it
 * (so that a store can move as a whole), else by absolute path. Shards may
 * be given in any order. Errors: INVALID_ARG (NULL or n == 0; a file that
 * is not a shard, naming it; shards that disagree in count, dataset size,
 * model SHA-256, predictions' model, options, feature or logit count,
 * naming both files and the values; a shard given twice or two files with
 * the same place; shards missing, naming their places and rows), FORMAT
 * (a damaged shard), IO (naming the path; nothing is left behind), NOMEM. */
BARLOW_API barlow_status barlow_shards_merge(const char *const *paths, size_t n,
                                             const char *path);

/* Opens a manifest as one read-only (m total extracted rows) × d matrix
 * in dataset order. Each shard's features are mapped from its file (read
 * when first used, never copied as a whole); only the few pages where two
 * shards meet are copied. A shard after images that failed to extract may
 * not line up with the pages and is then read into memory instead (same
 * values). Every shard is checked against the manifest (size, metadata,
 * shape) when opened; the files must not change while the matrix is in use.
 * barlow_matrix_data_mut() of the result is NULL.
 * Errors: INVALID_ARG (NULL), IO (the manifest or a shard cannot be read,
 * naming it), FORMAT (the manifest is not valid JSON or not of this
 * format, naming the key; a shard that does not match its entry: size,
 * metadata, shape), UNSUPPORTED (a newer format_version), NOMEM. */
BARLOW_API barlow_status barlow_matrix_open_manifest(const char *path, barlow_matrix **out);

/* Reads member `name` ("labels", "predictions", "index", "logits",
 * "status", or another of the shards' members) of every shard of the
 * manifest and joins them along the first axis, in dataset order.
 * Errors: as barlow_matrix_open_manifest; INVALID_ARG (no such member in
 * a shard, naming it); FORMAT (members that differ in dtype or trailing
 * shape). */
BARLOW_API barlow_status barlow_array_load_manifest(const char *path, const char *name,
                                                    barlow_array **out);

/* 1 when path names a manifest (its first non-blank byte is '{' and it
 * holds "barlow-features-manifest" in its first 4 KiB), else 0 (also for a
 * file that cannot be read). Cheap; never sets an error. */
BARLOW_API int barlow_manifest_probe(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_SHARDS_H */
