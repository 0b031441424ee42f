/* The little-endian binary encoding of barlow_tree_serialize() and
 * barlow_analysis_serialize() (docs/formats.md, "Binary tree and analysis"):
 * writers that append to a bw_sb, and a bounds-checked reader whose every
 * failure is BARLOW_E_FORMAT naming the function, the byte offset and what
 * was being read. Not installed. */
#ifndef BW_SERIAL_H
#define BW_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* ---- writing (appends; a failed allocation sets sb->failed) ---------------- */

void bw_put_u32(bw_sb *sb, uint32_t v);
void bw_put_i32(bw_sb *sb, int32_t v);
void bw_put_u64(bw_sb *sb, uint64_t v);
void bw_put_i64(bw_sb *sb, int64_t v);
void bw_put_f64(bw_sb *sb, double v);   /* the IEEE 754 bits */
void bw_put_str(bw_sb *sb, const char *s); /* u32 length, then the bytes (no NUL) */

/* ---- reading ------------------------------------------------------------------ */

typedef struct bw_rd {
    const uint8_t *p;   /* the bytes */
    size_t size;        /* how many */
    size_t off;         /* the next byte to read */
    size_t base;        /* offset of p[0] in the outermost blob (for messages) */
    const char *who;    /* the public function, first word of every message */
} bw_rd;

/* Bytes left to read. */
size_t bw_rd_left(const bw_rd *r);

/* Sets BARLOW_E_FORMAT "who: byte <base+at>: <message>" and returns it. */
barlow_status bw_rd_fail(const bw_rd *r, size_t at, const char *fmt, ...) BW_PRINTF(3, 4);

/* The same with this thread's current message (say, of an option check
 * run with who as its function name, which is dropped) after "<what>: ". */
barlow_status bw_rd_fail_last(const bw_rd *r, size_t at, const char *what);

/* Each reads one value at the current offset and advances past it; FORMAT
 * ("<what> needs N bytes, M left") when the bytes are not there. */
barlow_status bw_get_u32(bw_rd *r, uint32_t *v, const char *what);
barlow_status bw_get_i32(bw_rd *r, int32_t *v, const char *what);
barlow_status bw_get_u64(bw_rd *r, uint64_t *v, const char *what);
barlow_status bw_get_i64(bw_rd *r, int64_t *v, const char *what);
barlow_status bw_get_f64(bw_rd *r, double *v, const char *what);
/* A u64 that must be <= max (and fit a size_t); FORMAT naming both. */
barlow_status bw_get_size(bw_rd *r, size_t *v, size_t max, const char *what);
/* A finite f64 (FORMAT for NaN or ±inf). */
barlow_status bw_get_finite(bw_rd *r, double *v, const char *what);

/* FORMAT unless `count` items of at least `item_bytes` bytes each can still
 * follow (checked before anything is allocated for them). */
barlow_status bw_rd_need(const bw_rd *r, size_t count, size_t item_bytes, const char *what);

/* A string written by bw_put_str: its length checked against the bytes
 * left and `max_len`, no NUL inside; *out is bw_malloc'd and NUL-terminated. */
barlow_status bw_get_str(bw_rd *r, size_t max_len, char **out, const char *what);

/* Reads the 8-byte magic and the u32 format version; FORMAT when the magic
 * differs (naming `kind`) or the version is not 1..max_version. */
barlow_status bw_get_header(bw_rd *r, const char magic[8], uint32_t max_version,
                            const char *kind, uint32_t *version);

#endif
