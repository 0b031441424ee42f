/* The strict JSON parser (json.h): a recursive descent over text checked
 * to be UTF-8 first, into values whose strings and number texts live in
 * one block the size of the input and whose arrays and objects are blocks
 * of exactly their elements. */
#include "json.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* bw_error */
#include "utf8.h"

typedef struct jmember jmember;

struct bw_json {
    bw_json_type type;
    size_t n; /* STRING, NUMBER: bytes of s; ARRAY, OBJECT: elements or members */
    union {
        const char *s;             /* STRING: decoded; NUMBER: the text (in the pool) */
        bw_json *items;            /* ARRAY */
        jmember *members;          /* OBJECT, in file order */
    } u;
    double num; /* NUMBER */
};

struct jmember {
    const char *key; /* in the pool */
    size_t key_len;
    size_t pos; /* offset of the key's quote in the text */
    bw_json value;
};

/* What bw_json_parse returns: the root first, so that a bw_json * of the
 * root is one of the document. */
typedef struct jdoc {
    bw_json root;
    char *pool;
} jdoc;

typedef struct jparser {
    const char *path;
    const char *text;  /* the input; positions are offsets into it */
    const char *start; /* where lines and columns count from (after a BOM) */
    const char *p, *end;
    char *pool; /* strings and number texts: at most len + 1 bytes in all */
    size_t used;
    size_t max_depth;
    locale_t c_locale; /* for strtod_l, made at the first number */
    barlow_status status;
} jparser;

/* ---- freeing ------------------------------------------------------------- */

/* The arrays and objects inside v (strings live in the pool). */
static void release(bw_json *v)
{
    if (v->type == BW_JSON_ARRAY) {
        for (size_t i = 0; i < v->n; i++) release(&v->u.items[i]);
        bw_free(v->u.items);
    } else if (v->type == BW_JSON_OBJECT) {
        for (size_t i = 0; i < v->n; i++) release(&v->u.members[i].value);
        bw_free(v->u.members);
    }
    v->type = BW_JSON_NULL;
    v->n = 0;
}

void bw_json_free(bw_json *root)
{
    if (!root) return;
    jdoc *doc = (jdoc *)root;
    release(&doc->root);
    bw_free(doc->pool);
    bw_free(doc);
}

/* ---- errors -------------------------------------------------------------- */

/* "PATH: line L, column C: MESSAGE" (FORMAT) for the byte at `at`. Returns
 * false, for `return jerror_at(...)`. */
static bool jerror_at(jparser *jp, const char *at, const char *fmt, ...) BW_PRINTF(3, 4);
static bool jerror_at(jparser *jp, const char *at, const char *fmt, ...)
{
    char msg[600];
    size_t line = 1, col = 1;
    for (const char *q = jp->start; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)*q & 0xC0) != 0x80) {
            col++;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jp->status = bw_error(BARLOW_E_FORMAT, "%s: line %zu, column %zu: %s", jp->path, line, col,
                          msg);
    return false;
}

/* The code point of the well-formed UTF-8 sequence at p. */
static unsigned code_point(const unsigned char *p)
{
    if (p[0] < 0x80) return p[0];
    if (p[0] < 0xE0) return (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
    if (p[0] < 0xF0) return (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
    return (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
}

/* "expected WHAT, found X" at the parser's position. */
static bool expect(jparser *jp, const char *what)
{
    const unsigned char *p = (const unsigned char *)jp->p;
    char found[48];
    if (jp->p >= jp->end)
        snprintf(found, sizeof found, "the end of the file");
    else if (*p < 0x20 || *p == 0x7F)
        snprintf(found, sizeof found, "the control character U+%04X", *p);
    else if (*p < 0x80)
        snprintf(found, sizeof found, "'%c'", *p);
    else /* the text is valid UTF-8 (checked first); U+FEFF or U+00A0 show as nothing */
        snprintf(found, sizeof found, "'%.*s' (U+%04X)",
                 (int)bw_utf8_seq(p, (size_t)(jp->end - jp->p)), jp->p, code_point(p));
    return jerror_at(jp, jp->p, "expected %s, found %s", what, found);
}

static bool oom(jparser *jp)
{
    jp->status = bw_error(BARLOW_E_NOMEM, "out of memory reading %s", jp->path);
    return false;
}

/* ---- lexing -------------------------------------------------------------- */

static void skip_ws(jparser *jp)
{
    while (jp->p < jp->end &&
           (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static bool at(const jparser *jp, char c) { return jp->p < jp->end && *jp->p == c; }

static bool at_digit(const jparser *jp)
{
    return jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9';
}

static void skip_digits(jparser *jp)
{
    while (at_digit(jp)) jp->p++;
}

/* Four hex digits after "\u" at p (p + 6 <= end checked by the caller). */
static bool hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (d == 16) return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

static char *put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* A \uXXXX escape at jp->p (a surrogate pair takes two) → UTF-8 at *o. */
static bool parse_u_escape(jparser *jp, char **o)
{
    unsigned cp, lo;
    const char *start = jp->p;
    if (jp->end - jp->p < 6 || !hex4(jp->p + 2, &cp))
        return jerror_at(jp, start, "expected four hex digits after \\u");
    jp->p += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return jerror_at(jp, start, "expected a high surrogate \\uD800..\\uDBFF before the low "
                                    "surrogate \\u%04X, found it alone", cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (jp->end - jp->p < 6 || jp->p[0] != '\\' || jp->p[1] != 'u' ||
            !hex4(jp->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return jerror_at(jp, start, "expected a low surrogate \\uDC00..\\uDFFF after the "
                                        "high surrogate \\u%04X, found it alone", cp);
        jp->p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    *o = put_utf8(*o, cp);
    return true;
}

/* One escape at jp->p (the backslash) → its bytes at *o. */
static bool parse_escape(jparser *jp, char **o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *c = jp->p + 1 < jp->end && jp->p[1] ? strchr(from, jp->p[1]) : NULL;
    if (jp->p + 1 < jp->end && jp->p[1] == 'u') return parse_u_escape(jp, o);
    if (!c) {
        jp->p++;
        return expect(jp, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX) after '\\'");
    }
    *(*o)++ = to[c - from];
    jp->p += 2;
    return true;
}

/* A string at jp->p (the opening quote) → *out (in the pool, NUL-terminated)
 * and *len. Its bytes and the NUL take less room than its text with the
 * quotes, so the pool never overflows. */
static bool parse_string(jparser *jp, const char **out, size_t *len)
{
    char *s = jp->pool + jp->used, *o = s;
    jp->p++;
    for (;;) {
        unsigned char c = jp->p < jp->end ? (unsigned char)*jp->p : 0;
        if (jp->p >= jp->end || c < 0x20)
            return expect(jp, "'\"' to end the string (a control character in a string is "
                              "written as an escape, like \\n)");
        if (c == '"') break;
        if (c == '\\') {
            if (!parse_escape(jp, &o)) return false;
        } else {
            *o++ = (char)c;
            jp->p++;
        }
    }
    jp->p++;
    *o = '\0';
    *out = s;
    *len = (size_t)(o - s);
    jp->used += *len + 1;
    return true;
}

/* ---- numbers ------------------------------------------------------------- */

/* The grammar of a number from jp->p: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(jparser *jp)
{
    if (at(jp, '-')) jp->p++;
    if (at(jp, '0')) {
        jp->p++;
    } else {
        if (!at_digit(jp)) return expect(jp, "a digit");
        skip_digits(jp);
    }
    if (at(jp, '.')) {
        jp->p++;
        if (!at_digit(jp)) return expect(jp, "a digit after the decimal point");
        skip_digits(jp);
    }
    if (at(jp, 'e') || at(jp, 'E')) {
        jp->p++;
        if (at(jp, '+') || at(jp, '-')) jp->p++;
        if (!at_digit(jp)) return expect(jp, "a digit in the exponent");
        skip_digits(jp);
    }
    return true;
}

/* A number at jp->p: its text copied to the pool (the byte after a number
 * is never part of a string or number, so text and NUL fit) and its value
 * read in the C locale whatever the program's LC_NUMERIC. */
static bool parse_number(jparser *jp, bw_json *out)
{
    const char *start = jp->p;
    if (!scan_number(jp)) return false;
    size_t n = (size_t)(jp->p - start);
    if (n > BW_JSON_MAX_NUMBER)
        return jerror_at(jp, start, "expected a number of at most %d characters, found one of "
                                    "%zu", BW_JSON_MAX_NUMBER, n);
    if (!jp->c_locale) jp->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!jp->c_locale) return oom(jp);
    char *s = jp->pool + jp->used;
    memcpy(s, start, n);
    s[n] = '\0';
    double v = strtod_l(s, NULL, jp->c_locale);
    if (!isfinite(v))
        return jerror_at(jp, start, "expected a number within the range of a double (below "
                                    "1.8e308 in magnitude), found %.40s%s", s,
                         n > 40 ? "..." : "");
    jp->used += n + 1;
    *out = (bw_json){BW_JSON_NUMBER, n, {.s = s}, v};
    return true;
}

/* ---- values -------------------------------------------------------------- */

static bool parse_value(jparser *jp, size_t depth, bw_json *out);

static bool parse_literal(jparser *jp, const char *word, bw_json_type type, bw_json *out)
{
    size_t n = strlen(word);
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
        return jerror_at(jp, jp->p, "expected %s", word);
    jp->p += n;
    out->type = type;
    return true;
}

/* Room for one more of n elements of `size` bytes in *buf (capacity *cap,
 * doubled when full: 1, 2, 4, ...; starting at 1, the many containers of
 * one or two elements a hostile file may hold take no more than they need,
 * and leave no holes when shrunk). */
static bool grow(jparser *jp, void **buf, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return true;
    size_t c = *cap ? *cap * 2 : 1;
    if (c > SIZE_MAX / size) return oom(jp);
    void *b = bw_realloc(*buf, c * size, jp->path);
    if (!b) return oom(jp);
    *buf = b;
    *cap = c;
    return true;
}

/* The elements or members of a finished container, down to exactly n. */
static void *shrink(void *buf, size_t n, size_t size)
{
    if (n == 0) {
        bw_free(buf);
        return NULL;
    }
    void *b = bw_realloc(buf, n * size, "JSON parser");
    return b ? b : buf;
}

/* An opening bracket at depth `depth` (the top level is 1). */
static bool enter(jparser *jp, size_t depth)
{
    if (depth > jp->max_depth)
        return jerror_at(jp, jp->p, "expected at most %zu levels of nested objects and arrays",
                         jp->max_depth);
    jp->p++;
    skip_ws(jp);
    return true;
}

/* An array at jp->p ('['). */
static bool parse_array(jparser *jp, size_t depth, bw_json *out)
{
    bw_json *items = NULL;
    size_t n = 0, cap = 0;
    bool ok = enter(jp, depth);
    while (ok && !(n == 0 && at(jp, ']'))) {
        bw_json v;
        ok = parse_value(jp, depth, &v);
        if (ok && !grow(jp, (void **)&items, &cap, n, sizeof *items)) {
            release(&v);
            ok = false;
        }
        if (!ok) break;
        items[n++] = v;
        skip_ws(jp);
        if (at(jp, ']')) break;
        if (!at(jp, ',')) {
            ok = expect(jp, "',' or ']' after an element of an array");
            break;
        }
        jp->p++;
    }
    if (ok) {
        jp->p++;
        *out = (bw_json){BW_JSON_ARRAY, n, {.items = shrink(items, n, sizeof *items)}, 0};
    } else {
        bw_json partial = {BW_JSON_ARRAY, n, {.items = items}, 0};
        release(&partial);
    }
    return ok;
}

static int member_cmp(const void *a, const void *b)
{
    const jmember *x = *(const jmember *const *)a;
    const jmember *y = *(const jmember *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->key_len != y->key_len) return x->key_len < y->key_len ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The key for a message: its first 60 bytes at most (cut at a character),
 * JSON-escaped, "..." after a cut; buf holds at least KEY_QUOTED bytes. */
enum { KEY_SHOWN = 60, KEY_QUOTED = 6 * KEY_SHOWN + 4 };
static void quote_key(const char *key, size_t len, char *buf, size_t size);

/* Every key of an object once: sorted by key, the earliest repeat (in file
 * order) is reported, at its position. */
static bool check_duplicates(jparser *jp, const jmember *m, size_t n)
{
    if (n < 2) return true;
    const jmember **s = bw_mallocn(n, sizeof *s, jp->path);
    if (!s) return oom(jp);
    for (size_t i = 0; i < n; i++) s[i] = &m[i];
    qsort(s, n, sizeof *s, member_cmp);
    const jmember *dup = NULL;
    for (size_t i = 1; i < n; i++)
        if (s[i]->key_len == s[i - 1]->key_len &&
            !memcmp(s[i]->key, s[i - 1]->key, s[i]->key_len) && (!dup || s[i]->pos < dup->pos))
            dup = s[i];
    bw_free(s);
    if (!dup) return true;
    char key[KEY_QUOTED];
    quote_key(dup->key, dup->key_len, key, sizeof key);
    return jerror_at(jp, jp->text + dup->pos,
                     "expected each key once in an object, found \"%s\" again", key);
}

/* One member "key": value at jp->p → *m. */
static bool parse_member(jparser *jp, size_t depth, bool first, jmember *m)
{
    skip_ws(jp);
    if (!at(jp, '"'))
        return expect(jp, first ? "a key (a string) or '}'" : "a key (a string) after ','");
    m->pos = (size_t)(jp->p - jp->text);
    if (!parse_string(jp, &m->key, &m->key_len)) return false;
    skip_ws(jp);
    if (!at(jp, ':')) return expect(jp, "':' after the key");
    jp->p++;
    return parse_value(jp, depth, &m->value);
}

/* An object at jp->p ('{'). */
static bool parse_object(jparser *jp, size_t depth, bw_json *out)
{
    jmember *members = NULL;
    size_t n = 0, cap = 0;
    bool ok = enter(jp, depth);
    while (ok && !(n == 0 && at(jp, '}'))) {
        jmember m;
        ok = parse_member(jp, depth, n == 0, &m);
        if (ok && !grow(jp, (void **)&members, &cap, n, sizeof *members)) {
            release(&m.value);
            ok = false;
        }
        if (!ok) break;
        members[n++] = m;
        skip_ws(jp);
        if (at(jp, '}')) break;
        if (!at(jp, ',')) {
            ok = expect(jp, "',' or '}' after a member of an object");
            break;
        }
        jp->p++;
    }
    ok = ok && check_duplicates(jp, members, n);
    if (ok) {
        jp->p++;
        *out = (bw_json){BW_JSON_OBJECT, n, {.members = shrink(members, n, sizeof *members)}, 0};
    } else {
        bw_json partial = {BW_JSON_OBJECT, n, {.members = members}, 0};
        release(&partial);
    }
    return ok;
}

/* A value at jp->p (after white space) inside `depth` containers. On
 * failure *out holds nothing to free. */
static bool parse_value(jparser *jp, size_t depth, bw_json *out)
{
    *out = (bw_json){BW_JSON_NULL, 0, {NULL}, 0};
    skip_ws(jp);
    char c = jp->p < jp->end ? *jp->p : '\0';
    switch (c) {
    case '{': return parse_object(jp, depth + 1, out);
    case '[': return parse_array(jp, depth + 1, out);
    case '"':
        out->type = BW_JSON_STRING;
        return parse_string(jp, &out->u.s, &out->n);
    case 't': return parse_literal(jp, "true", BW_JSON_TRUE, out);
    case 'f': return parse_literal(jp, "false", BW_JSON_FALSE, out);
    case 'n': return parse_literal(jp, "null", BW_JSON_NULL, out);
    default: break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(jp, out);
    return expect(jp, "a value (an object, array, string, number, true, false or null)");
}

/* The whole text: UTF-8 without NUL bytes (one byte order mark at the
 * start is skipped), one value, nothing after it but white space. */
static bool parse_text(jparser *jp, bw_json *root)
{
    size_t len = (size_t)(jp->end - jp->text);
    size_t ok = bw_utf8_check(jp->text, len);
    const char *nul = len ? memchr(jp->text, '\0', len) : NULL;
    if (len >= 3 && !memcmp(jp->text, "\xEF\xBB\xBF", 3)) jp->p = jp->start = jp->text + 3;
    if (nul && (size_t)(nul - jp->text) < ok)
        return jerror_at(jp, nul, "expected text, found a NUL byte");
    if (ok < len)
        return jerror_at(jp, jp->text + ok, "expected UTF-8 text, found the byte 0x%02X, which "
                                            "is not valid UTF-8 here",
                         (unsigned char)jp->text[ok]);
    if (!parse_value(jp, 0, root)) return false;
    skip_ws(jp);
    if (jp->p < jp->end) {
        release(root);
        return expect(jp, "the end of the file after the JSON value");
    }
    return true;
}

barlow_status bw_json_parse(const char *text, size_t len, const char *path, size_t max_depth,
                            bw_json **out)
{
    if (!text) {
        text = "";
        len = 0;
    }
    if (max_depth == 0) max_depth = BW_JSON_MAX_DEPTH;
    if (max_depth > BW_JSON_DEPTH_CAP) max_depth = BW_JSON_DEPTH_CAP;
    jparser jp = {path ? path : "JSON text", text, text, text, text + len, NULL, 0, max_depth,
                  (locale_t)0, BARLOW_OK};
    jdoc *doc = NULL;
    *out = NULL;
    if (len < SIZE_MAX) jp.pool = bw_malloc(len + 1, jp.path);
    if (jp.pool) doc = bw_calloc(1, sizeof *doc, jp.path);
    if (!doc) oom(&jp);
    else if (parse_text(&jp, &doc->root)) {
        doc->pool = jp.pool;
        *out = &doc->root;
        jp.pool = NULL;
        doc = NULL;
    }
    if (jp.c_locale) freelocale(jp.c_locale);
    bw_free(jp.pool);
    bw_free(doc);
    return jp.status;
}

/* ---- accessors ----------------------------------------------------------- */

bw_json_type bw_json_type_of(const bw_json *v) { return v ? v->type : BW_JSON_NULL; }

bool bw_json_is(const bw_json *v, bw_json_type t) { return v && v->type == t; }

const char *bw_json_type_name(bw_json_type t)
{
    switch (t) {
    case BW_JSON_NULL: return "null";
    case BW_JSON_FALSE: return "false";
    case BW_JSON_TRUE: return "true";
    case BW_JSON_NUMBER: return "a number";
    case BW_JSON_STRING: return "a string";
    case BW_JSON_ARRAY: return "an array";
    case BW_JSON_OBJECT: return "an object";
    }
    return "an unknown value";
}

const char *bw_json_describe(const bw_json *v)
{
    return v ? bw_json_type_name(v->type) : "missing";
}

size_t bw_json_length(const bw_json *v)
{
    return v && (v->type == BW_JSON_ARRAY || v->type == BW_JSON_OBJECT) ? v->n : 0;
}

const bw_json *bw_json_element(const bw_json *v, size_t i)
{
    return v && v->type == BW_JSON_ARRAY && i < v->n ? &v->u.items[i] : NULL;
}

const bw_json *bw_json_member(const bw_json *v, size_t i, const char **key, size_t *key_len)
{
    if (!v || v->type != BW_JSON_OBJECT || i >= v->n) return NULL;
    if (key) *key = v->u.members[i].key;
    if (key_len) *key_len = v->u.members[i].key_len;
    return &v->u.members[i].value;
}

const bw_json *bw_json_get(const bw_json *v, const char *key)
{
    if (!v || v->type != BW_JSON_OBJECT || !key) return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < v->n; i++) {
        const jmember *m = &v->u.members[i];
        if (m->key_len == len && !memcmp(m->key, key, len)) return &m->value;
    }
    return NULL;
}

const char *bw_json_string(const bw_json *v, size_t *len)
{
    if (!v || v->type != BW_JSON_STRING) return NULL;
    if (len) *len = v->n;
    return v->u.s;
}

const char *bw_json_number_text(const bw_json *v, size_t *len)
{
    if (!v || v->type != BW_JSON_NUMBER) return NULL;
    if (len) *len = v->n;
    return v->u.s;
}

/* The magnitude of an integer's digits s[0..n), at most max → *out. */
static bool digits_value(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false; /* a fraction or an exponent */
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool bw_json_size_t(const bw_json *v, size_t *out)
{
    uint64_t x;
    if (!v || v->type != BW_JSON_NUMBER || v->u.s[0] == '-' ||
        !digits_value(v->u.s, v->n, SIZE_MAX, &x))
        return false;
    *out = (size_t)x;
    return true;
}

bool bw_json_int64(const bw_json *v, int64_t *out)
{
    uint64_t x;
    if (!v || v->type != BW_JSON_NUMBER) return false;
    bool neg = v->u.s[0] == '-';
    uint64_t max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (!digits_value(v->u.s + neg, v->n - neg, max, &x)) return false;
    *out = neg ? (x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x) : (int64_t)x;
    return true;
}

bool bw_json_double(const bw_json *v, double *out)
{
    if (!v || v->type != BW_JSON_NUMBER) return false;
    *out = v->num;
    return true;
}

bool bw_json_bool(const bw_json *v, bool *out)
{
    if (!v || (v->type != BW_JSON_TRUE && v->type != BW_JSON_FALSE)) return false;
    *out = v->type == BW_JSON_TRUE;
    return true;
}

/* ---- messages ------------------------------------------------------------ */

typedef struct keybuf {
    char *buf;
    size_t len;
} keybuf;

static void key_emit(void *ctx, const char *bytes, size_t n)
{
    keybuf *k = ctx;
    memcpy(k->buf + k->len, bytes, n);
    k->len += n;
}

/* Every byte escapes to at most 6 ("\u001f"), so the head fits. */
static void quote_key(const char *key, size_t len, char *buf, size_t size)
{
    char head[KEY_SHOWN + 1];
    size_t n = len < KEY_SHOWN ? len : KEY_SHOWN;
    while (n > 0 && n < len && ((unsigned char)key[n] & 0xC0) == 0x80) n--;
    memcpy(head, key, n);
    head[n] = '\0'; /* a \u0000 inside ends the key shown there */
    keybuf k = {buf, 0};
    if (size < KEY_QUOTED) return;
    bw_json_escape(head, key_emit, &k);
    if (n < len) {
        memcpy(buf + k.len, "...", 3);
        k.len += 3;
    }
    buf[k.len] = '\0';
}
