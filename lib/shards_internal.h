/*
 * Internal to sharded feature stores (lib/shards.c) and the extraction
 * writer (lib/extractor.c). Not installed.
 */
#ifndef BW_SHARDS_INTERNAL_H
#define BW_SHARDS_INTERNAL_H

#include "barlow/extractor.h"
#include "internal.h"

/* A shard's features member starts its data at a file offset congruent,
 * modulo this, to the byte offset its rows will have in the concatenated
 * matrix (assuming no failed image before it), so that a manifest can map
 * it page by page (pages of 4 and 16 KiB). */
#define BW_SHARD_ALIGN 16384u

/* What makes an extraction file a shard: the metadata member "shard"
 * (meta_len bytes of JSON) and the features' alignment. */
typedef struct bw_shard_write {
    const char *meta;
    size_t meta_len;
    uint64_t align_rem;
} bw_shard_write;

/* INVALID_ARG (naming both sizes) unless ds has as many rows as the
 * dataset r was extracted from. */
barlow_status bw_extraction_check_dataset(const barlow_extraction *r,
                                          const barlow_dataset *ds, const char *who);

/* Writes the extraction's .npz (barlow_extraction_save_npz's members; with
 * sw, the features stored and aligned and the member "shard" added).
 * Errors: as barlow_extraction_save_npz, naming who. */
barlow_status bw_extraction_write(const barlow_extraction *r, const barlow_dataset *ds,
                                  const char *path, const bw_shard_write *sw, const char *who);

/* A shard's metadata (its member "shard"), or a manifest's entry for it. */
typedef struct bw_shard_meta {
    size_t index, count;        /* place i of N */
    size_t begin, end;          /* dataset rows begin..end-1 */
    size_t dataset_rows, extracted, features, logits;
    char model_sha256[65];      /* lowercase hex */
    char predict_sha256[65];    /* lowercase hex, "" = none */
    char options[512];          /* the extractor options that change values */
} bw_shard_meta;

/* The first field in which b differs from a among those a store's shards
 * must share (count, dataset rows, digests, options, feature and logit
 * counts), described into buf; false when they agree. */
bool bw_shard_meta_differs(const bw_shard_meta *a, const bw_shard_meta *b, char *buf,
                           size_t cap);

/* Reads and checks the member "shard" of the .npz at path. Errors naming
 * who and path: INVALID_ARG (not a shard), FORMAT, IO, NOMEM. */
barlow_status bw_shard_read_meta(const char *path, const char *who, bw_shard_meta *m);

/* Checks "format" (= format) and "format_version" (1..version) of a shard's
 * metadata or a manifest, and reads the fields both have: dataset_rows,
 * features, logits, model_sha256, predict_sha256, options. Errors naming
 * who and path: FORMAT (naming the key), UNSUPPORTED (a newer version). */
struct bw_json;
barlow_status bw_shard_read_common(const struct bw_json *root, const char *format,
                                   size_t version, bw_shard_meta *m, const char *who,
                                   const char *path);

/* A manifest, read and checked: the common fields in `all` (index, count,
 * begin, end unused), one entry per shard in place order with its path
 * resolved against the manifest's directory and its file size. */
typedef struct bw_manifest {
    bw_shard_meta all;
    size_t n;
    bw_shard_meta *shard;
    char **path;
    uint64_t *bytes;
} bw_manifest;

/* Reads and checks a manifest (not yet its shards). Errors naming who:
 * IO, FORMAT (naming the key), UNSUPPORTED (a newer format), NOMEM. */
barlow_status bw_manifest_read(const char *path, const char *who, bw_manifest *mf);
void bw_manifest_free(bw_manifest *mf);

/* Checks shard i's file against the manifest: its size, then its
 * metadata. Errors naming who and the file: IO, FORMAT, INVALID_ARG. */
barlow_status bw_manifest_check_shard(const bw_manifest *mf, size_t i, const char *who);

#endif /* BW_SHARDS_INTERNAL_H */
