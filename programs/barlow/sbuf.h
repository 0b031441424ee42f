/* A growable byte string for the CLI's text outputs (results.json, the HTML
 * report). Appends never fail loudly: on out-of-memory the buffer is marked
 * failed, later appends do nothing, and sbuf_failed() tells the writer at
 * the end (one check instead of one per append). The memory comes from
 * bw_realloc (lib/alloc.c); a `data` taken out of an sbuf is released with
 * bw_free (or sbuf_free). */
#ifndef BARLOW_CLI_SBUF_H
#define BARLOW_CLI_SBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sbuf {
    char *data; /* NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    bool failed;
} sbuf;

#define SBUF_INIT {NULL, 0, 0, false}

void sbuf_free(sbuf *b);
/* Empties the buffer, keeping its memory (and clearing `failed`). */
void sbuf_reset(sbuf *b);
bool sbuf_failed(const sbuf *b);
void sbuf_add(sbuf *b, const char *s, size_t n);
void sbuf_puts(sbuf *b, const char *s);
void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap);

/* s as the text of an HTML element or a quoted attribute value: & < > " '
 * escaped; bytes that are not valid UTF-8 become U+FFFD. */
void sbuf_html(sbuf *b, const char *s);
/* s as a JSON string literal with its quotes; invalid UTF-8 bytes become
 * \udcXX (as the library's JSON writer does), "</" is written "<\/" so the
 * text may sit in an HTML <script> block. NULL gives null. */
void sbuf_json_str(sbuf *b, const char *s);
/* A JSON number with round-trip precision; null when not finite. */
void sbuf_json_double(sbuf *b, double v);
/* Standard base64 (RFC 4648, with padding) of n bytes. */
void sbuf_base64(sbuf *b, const void *data, size_t n);

#endif
