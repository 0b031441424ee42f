/* A strict JSON parser (RFC 8259) into a tree of values, for the files the
 * library and the command-line program read (a manifest, --feature-names).
 * Internal: not installed, not part of the ABI. Like lib/utf8.c it needs no
 * other part of the library but bw_error(), so that the command-line
 * program compiles this file too (programs/barlow/meson.build; its
 * bw_error() is in programs/barlow/cli.c): one parser for both.
 *
 * What is accepted: UTF-8 text holding one value, white space around it.
 * One byte order mark (EF BB BF) at the very start is skipped (RFC 8259
 * 8.1 allows a parser to ignore it; editors on Windows write one); one
 * anywhere else is an error. Refused, with BARLOW_E_FORMAT and the message
 * "<path>: line L, column C: expected ..., found ..." (columns count
 * characters from 1; lines and columns start after the byte order mark):
 * empty input, bytes that are not UTF-8, a NUL byte, a control character
 * in a string, a leading zero, a lone surrogate escape, anything after the
 * value, a key twice in one object (naming the key and where it is again),
 * more than max_depth nested arrays and objects, a number over 1024
 * characters or beyond the range of a double (an underflow reads as the
 * nearest double, as strtod rounds it).
 *
 * Cost: time linear in the input (plus n log n per object for the duplicate
 * check); memory in proportion to it, never quadratic: the strings and
 * number texts live in one block of the input's size, and each array or
 * object is one block of exactly its elements (32 bytes each, 56 for a
 * member) once parsed, grown by doubling while parsed. The worst inputs
 * (like 16 MB of "[0,0,0,0,0],") peak at about 25 times their size.
 *
 * Accessors take NULL and values of the wrong type (false or NULL then, no
 * error set), so that a caller chains them and names the offending key in
 * its own message:
 *     size_t rows;
 *     if (!bw_json_size_t(bw_json_get(root, "rows"), &rows))
 *         return bw_error(BARLOW_E_FORMAT, "%s: \"rows\" is %s; expected ...", path,
 *                         bw_json_describe(bw_json_get(root, "rows")));
 */
#ifndef BARLOW_JSON_H
#define BARLOW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "barlow/common.h"

/* The nesting limit when bw_json_parse is given 0, and the most it takes. */
enum { BW_JSON_MAX_DEPTH = 64, BW_JSON_DEPTH_CAP = 256, BW_JSON_MAX_NUMBER = 1024 };

typedef enum bw_json_type {
    BW_JSON_NULL,
    BW_JSON_FALSE,
    BW_JSON_TRUE,
    BW_JSON_NUMBER,
    BW_JSON_STRING,
    BW_JSON_ARRAY,
    BW_JSON_OBJECT
} bw_json_type;

typedef struct bw_json bw_json;

/* Parses text[0..len) (NUL bytes are refused, so text need not end with
 * one; a NULL text is empty); path names it in messages (NULL: "JSON
 * text"). max_depth: how many
 * arrays and objects may nest (the top-level one counts 1); 0 means
 * BW_JSON_MAX_DEPTH, more than BW_JSON_DEPTH_CAP is taken as that. Returns
 * BARLOW_OK with *out the root (free it with bw_json_free; the tree holds
 * copies of every string and number, so text may be freed at once), else
 * FORMAT (see above) or NOMEM with a message, and *out NULL. */
barlow_status bw_json_parse(const char *text, size_t len, const char *path, size_t max_depth,
                            bw_json **out);

/* Frees a tree bw_json_parse returned (its root; NULL is allowed). */
void bw_json_free(bw_json *root);

/* The type of v (BW_JSON_NULL for a NULL v). */
bw_json_type bw_json_type_of(const bw_json *v);

/* true when v is not NULL and of type t. */
bool bw_json_is(const bw_json *v, bw_json_type t);

/* For messages: "null", "false", "true", "a number", "a string", "an array",
 * "an object"; bw_json_describe(NULL) is "missing". */
const char *bw_json_type_name(bw_json_type t);
const char *bw_json_describe(const bw_json *v);

/* Elements of an array or members of an object; 0 for any other value. */
size_t bw_json_length(const bw_json *v);

/* Element i of an array; NULL when v is not an array or i >= its length. */
const bw_json *bw_json_element(const bw_json *v, size_t i);

/* Member i of an object in file order: its value, and its key in *key
 * (NUL-terminated, UTF-8; \u0000 may put a NUL inside, *key_len tells) and
 * *key_len (either may be NULL). NULL when v is not an object or i is out
 * of range. */
const bw_json *bw_json_member(const bw_json *v, size_t i, const char **key, size_t *key_len);

/* The value of member `key` (NUL-terminated) of an object, else NULL (v not
 * an object, or no such key). A linear search: for a few keys; walk a large
 * object with bw_json_member. */
const bw_json *bw_json_get(const bw_json *v, const char *key);

/* A string's bytes (UTF-8, NUL-terminated; *len, if len is not NULL, counts
 * them, a \u0000 inside included); NULL when v is not a string. */
const char *bw_json_string(const bw_json *v, size_t *len);

/* A number's exact text in the file ("-0.50e+3"); NULL when not a number. */
const char *bw_json_number_text(const bw_json *v, size_t *len);

/* A number written as a non-negative integer (digits only: no sign,
 * fraction or exponent) that fits size_t, read from its text (exact, never
 * through a double) → *out and true; else false and *out unchanged. */
bool bw_json_size_t(const bw_json *v, size_t *out);

/* A number written as an integer (an optional '-', digits) within int64_t,
 * read from its text → *out and true; else false, *out unchanged. */
bool bw_json_int64(const bw_json *v, int64_t *out);

/* Any number → its nearest double (always finite) and true; else false. */
bool bw_json_double(const bw_json *v, double *out);

/* true or false → *out and true; else false. */
bool bw_json_bool(const bw_json *v, bool *out);

#endif
