/* RFC 4180 CSV record reader (see csv.h for the accepted dialect). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "internal.h"

void bw_csv_init(bw_csv_reader *r, const char *data, size_t size)
{
    memset(r, 0, sizeof *r);
    r->data = data;
    r->size = size;
    r->next_line = 1;
    if (size >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
        (unsigned char)data[2] == 0xBF)
        r->pos = 3;
}

void bw_csv_free(bw_csv_reader *r)
{
    bw_free(r->buf);
    bw_free(r->offsets);
    r->buf = NULL;
    r->offsets = NULL;
    r->buf_len = r->buf_cap = r->n_fields = r->fields_cap = 0;
}

const char *bw_csv_field(const bw_csv_reader *r, size_t k)
{
    return r->buf + r->offsets[k];
}

barlow_status bw_text_nul_error(const char *who, const char *path, size_t line,
                                const char *where)
{
    return bw_error(BARLOW_E_FORMAT,
                    "%s: %s: line %zu%s: NUL byte (text files must not contain NUL bytes: "
                    "binary data, or UTF-16 text?)",
                    who, path, line, where);
}

/* Notes the record's first NUL byte (in the field being read, on the
 * current line). */
static void note_nul(bw_csv_reader *r)
{
    if (r->nul_line) return;
    r->nul_line = r->next_line;
    r->nul_field = r->n_fields - 1;
}

static int buf_put(bw_csv_reader *r, char c)
{
    if (r->buf_len + 1 > r->buf_cap) {
        size_t cap = r->buf_cap ? r->buf_cap * 2 : 256;
        char *p = bw_realloc(r->buf, cap, "csv reader");
        if (!p) return -1;
        r->buf = p;
        r->buf_cap = cap;
    }
    r->buf[r->buf_len++] = c;
    return 0;
}

static int field_start(bw_csv_reader *r)
{
    if (r->n_fields + 1 > r->fields_cap) {
        size_t cap = r->fields_cap ? r->fields_cap * 2 : 16;
        size_t *p = bw_reallocn(r->offsets, cap, sizeof *p, "csv reader");
        if (!p) return -1;
        r->offsets = p;
        r->fields_cap = cap;
    }
    r->offsets[r->n_fields++] = r->buf_len;
    return 0;
}

/* Consumes a line end at pos (LF, CRLF or CR) if there is one; returns 1 if
 * it did. */
static int eat_line_end(bw_csv_reader *r)
{
    if (r->pos >= r->size) return 0;
    char c = r->data[r->pos];
    if (c == '\n') {
        r->pos++;
    } else if (c == '\r') {
        r->pos++;
        if (r->pos < r->size && r->data[r->pos] == '\n') r->pos++;
    } else {
        return 0;
    }
    r->next_line++;
    return 1;
}

barlow_status bw_csv_next(bw_csv_reader *r, int *got, const char *who, const char *path)
{
    *got = 0;
    /* skip empty lines */
    while (r->pos < r->size && eat_line_end(r)) {
    }
    if (r->pos >= r->size) return BARLOW_OK;

    r->line = r->next_line;
    r->nul_line = 0;
    r->buf_len = 0;
    r->n_fields = 0;
    const char *d = r->data;
    for (;;) { /* one field per iteration */
        if (field_start(r) != 0) goto nomem;
        if (r->pos < r->size && d[r->pos] == '"') {
            size_t start_line = r->next_line;
            r->pos++;
            for (;;) {
                if (r->pos >= r->size)
                    return bw_error(BARLOW_E_FORMAT,
                                    "%s: %s: line %zu: unbalanced quotes (the quoted field "
                                    "that starts on this line never ends)",
                                    who, path, start_line);
                char c = d[r->pos++];
                if (c == '"') {
                    if (r->pos < r->size && d[r->pos] == '"') {
                        r->pos++;
                        if (buf_put(r, '"') != 0) goto nomem;
                        continue;
                    }
                    break;
                }
                if (c == '\n' || (c == '\r' && !(r->pos < r->size && d[r->pos] == '\n')))
                    r->next_line++;
                else if (c == '\0')
                    note_nul(r);
                if (buf_put(r, c) != 0) goto nomem;
            }
            if (r->pos < r->size && d[r->pos] == '\0') {
                char where[64];
                snprintf(where, sizeof where, " (after the closing quote of field %zu)",
                         r->n_fields);
                return bw_text_nul_error(who, path, r->next_line, where);
            }
            if (r->pos < r->size && d[r->pos] != ',' && d[r->pos] != '\n' && d[r->pos] != '\r')
                return bw_error(BARLOW_E_FORMAT,
                                "%s: %s: line %zu: unexpected text after the closing quote "
                                "of field %zu",
                                who, path, r->next_line, r->n_fields);
        } else {
            while (r->pos < r->size && d[r->pos] != ',' && d[r->pos] != '\n' &&
                   d[r->pos] != '\r') {
                if (d[r->pos] == '\0') note_nul(r);
                if (buf_put(r, d[r->pos++]) != 0) goto nomem;
            }
        }
        if (buf_put(r, '\0') != 0) goto nomem;
        if (r->pos < r->size && d[r->pos] == ',') {
            r->pos++;
            continue;
        }
        eat_line_end(r);
        break;
    }
    *got = 1;
    return BARLOW_OK;
nomem:
    return bw_error(BARLOW_E_NOMEM, "%s: %s: out of memory reading line %zu", who, path,
                    r->line);
}
