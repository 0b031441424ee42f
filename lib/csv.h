/*
 * Internal: an RFC 4180 CSV record reader over a text buffer in memory.
 * Not installed; not part of the ABI.
 *
 *  - fields are separated by ',' and records end with LF, CRLF or a lone CR;
 *  - a field that starts with '"' is quoted: it ends at the next lone '"';
 *    "" inside it stands for one '"'; commas, CR and LF inside it are data;
 *    after the closing quote only ',' or a line end may follow (else FORMAT);
 *  - a '"' inside an unquoted field is kept as data (as Python's csv does);
 *  - a UTF-8 BOM at the very start is skipped; the final line end is
 *    optional; empty lines (no character at all) are skipped;
 *  - end of input inside a quoted field is FORMAT naming the line the field
 *    started on;
 *  - NUL bytes are data to the reader, which notes the first one of each
 *    record (nul_line, nul_field); the caller refuses that record with
 *    bw_text_nul_error(), so that a NUL never silently cuts a field.
 *
 * Messages start with "<who>: <path>: " so that the public caller is named.
 */
#ifndef BW_CSV_H
#define BW_CSV_H

#include <stddef.h>

#include "barlow/common.h"

typedef struct bw_csv_reader {
    const char *data;  /* the text (not owned) */
    size_t size, pos;  /* bytes in data, read position */
    size_t next_line;  /* 1-based line number at pos */
    size_t line;       /* line number where the current record starts */
    size_t nul_line;   /* line of the record's first NUL byte, 0 = none */
    size_t nul_field;  /* field index holding it (when nul_line != 0) */
    char *buf;         /* unescaped fields of the current record, each NUL-terminated */
    size_t buf_len, buf_cap;
    size_t *offsets;   /* start of field k in buf */
    size_t n_fields, fields_cap;
} bw_csv_reader;

/* Starts reading `size` bytes of `data` (skipping a UTF-8 BOM). */
void bw_csv_init(bw_csv_reader *r, const char *data, size_t size);

/* Reads the next record. *got = 1 with the fields available through
 * bw_csv_field() (until the next call), or *got = 0 at the end of input.
 * Errors: FORMAT (unbalanced quote, text after a closing quote; a NUL byte
 * there in bw_text_nul_error's words), NOMEM. */
barlow_status bw_csv_next(bw_csv_reader *r, int *got, const char *who, const char *path);

/* Field k (< r->n_fields) of the current record, NUL-terminated. Read only
 * records with nul_line == 0: a field holding a NUL byte would be cut there. */
const char *bw_csv_field(const bw_csv_reader *r, size_t k);

/* Frees the reader's buffers (not the data). */
void bw_csv_free(bw_csv_reader *r);

/* The one rule for NUL bytes in a text file (metadata CSV, class-names
 * file): returns FORMAT with the message "<who>: <path>: line <line><where>:
 * NUL byte (text files must not contain NUL bytes: binary data, or UTF-16
 * text?)". `where` is "" or e.g. " (row 2, column 'Labels')". */
barlow_status bw_text_nul_error(const char *who, const char *path, size_t line,
                                const char *where);

#endif /* BW_CSV_H */
