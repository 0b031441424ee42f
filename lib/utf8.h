/* UTF-8 checks and JSON text (string escaping, numbers), free of any other part of the
 * library so that the command-line program compiles this file too (one
 * implementation of the rules for both). */
#ifndef BARLOW_UTF8_H
#define BARLOW_UTF8_H

#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence (RFC 3629) that starts
 * p[0..n), or 0 when p starts an ill-formed one: a stray continuation byte,
 * C0/C1 or F5..FF, a truncated sequence, an overlong form, a surrogate
 * (U+D800..U+DFFF) or a code point above U+10FFFF. n must be >= 1. */
size_t bw_utf8_seq(const unsigned char *p, size_t n);

/* Length of the longest well-formed UTF-8 prefix of s[0..n) (n when all of
 * it is well formed). */
size_t bw_utf8_check(const char *s, size_t n);

/* Writes the NUL-terminated s (NULL: "") as the body of a JSON string,
 * without the quotes, through emit(ctx, bytes, n): '"', '\\' and control
 * characters escaped, a byte of an ill-formed UTF-8 sequence as \udcXX (the
 * lone-surrogate escape Python's "surrogateescape" reads back). */
void bw_json_escape(const char *s, void (*emit)(void *ctx, const char *bytes, size_t n),
                    void *ctx);

/* A JSON number with round-trip precision (the shortest of %.15g, %.16g,
 * %.17g that reads back to v) into buf (at least 32 bytes); "null" when v
 * is not finite. Returns buf. */
char *bw_json_number(double v, char *buf, size_t size);

#endif
