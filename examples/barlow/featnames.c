/* Feature names (featnames.h): F.json read through a small strict JSON
 * parser (RFC 8259) into a tree of values, then checked against the one
 * shape accepted; the names per feature and class; rule sentences through
 * barlow_tree_rule_text_named(). */
#include "featnames.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "utf8.h"

enum { FN_MAX_DEPTH = 32, FN_MAX_NAME = 200 };

/* ---- the names ------------------------------------------------------------- */

typedef struct fn_entry {
    size_t feature;
    char *name;
} fn_entry;

/* The names of one class (an object in F.json), ascending feature. */
typedef struct fn_class {
    int32_t id;
    size_t order;    /* while loading: its place in the file */
    const char *key; /* while loading: the key that named it */
    fn_entry *e;
    size_t n;
} fn_class;

struct feature_names {
    size_t d;       /* feature count */
    char **global;  /* d entries: the name for every class, or NULL */
    fn_class *cls;  /* classes with names, ascending id */
    size_t n_cls, cap_cls;
};

void feature_names_free(feature_names *fn)
{
    if (!fn) return;
    for (size_t i = 0; fn->global && i < fn->d; i++) free(fn->global[i]);
    for (size_t c = 0; c < fn->n_cls; c++) {
        for (size_t k = 0; k < fn->cls[c].n; k++) free(fn->cls[c].e[k].name);
        free(fn->cls[c].e);
    }
    free(fn->global);
    free(fn->cls);
    free(fn);
}

static const fn_class *find_class(const feature_names *fn, int32_t id)
{
    size_t lo = 0, hi = fn->n_cls;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fn->cls[mid].id == id) return &fn->cls[mid];
        if (fn->cls[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static const char *class_lookup(const fn_class *c, size_t feature)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->e[mid].feature == feature) return c->e[mid].name;
        if (c->e[mid].feature < feature) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *feature_names_get(const feature_names *fn, int32_t class_id, size_t feature)
{
    if (!fn || feature >= fn->d) return NULL;
    const fn_class *c = find_class(fn, class_id);
    const char *s = c ? class_lookup(c, feature) : NULL;
    return s ? s : fn->global[feature];
}

void feature_label(const feature_names *fn, int32_t class_id, size_t feature, sbuf *out)
{
    const char *s = feature_names_get(fn, class_id, feature);
    if (s) sbuf_printf(out, "%s (feature %zu)", s, feature);
    else sbuf_printf(out, "feature %zu", feature);
}

int feature_names_for_class(const feature_names *fn, int32_t class_id, const char ***out,
                            size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!fn) return CLI_OK;
    const char **merged = malloc((fn->d ? fn->d : 1) * sizeof *merged);
    if (!merged) return CLI_ERROR;
    if (fn->d) memcpy(merged, fn->global, fn->d * sizeof *merged);
    const fn_class *c = find_class(fn, class_id);
    if (c) /* the class's names over the names for every class */
        for (size_t k = 0; k < c->n; k++) merged[c->e[k].feature] = c->e[k].name;
    *out = merged;
    *n_out = fn->d;
    return CLI_OK;
}

void rule_sentence(const barlow_tree *tree, size_t id, const feature_names *fn,
                   int32_t class_id, sbuf *out)
{
    barlow_buffer txt = {NULL, 0};
    const char **names = NULL;
    size_t n = 0;
    if (feature_names_for_class(fn, class_id, &names, &n) != CLI_OK ||
        barlow_tree_rule_text_named(tree, id, names, n, &txt) != BARLOW_OK)
        out->failed = true;
    else sbuf_add(out, txt.data, txt.size);
    barlow_buffer_dispose(&txt);
    free(names);
}

void feature_names_template(const feature_names *fn, const size_t *features, size_t n,
                            sbuf *out)
{
    size_t prev = 0, written = 0;
    sbuf_puts(out, "{");
    for (size_t i = 0; i < n; i++) {
        size_t f = features[i];
        if (written && f <= prev) continue; /* not ascending: a key once */
        const char *name = feature_names_get(fn, -1, f);
        sbuf_printf(out, "%s\"%zu\": ", written ? ", " : "", f);
        sbuf_json_str(out, name ? name : "");
        prev = f;
        written++;
    }
    sbuf_puts(out, "}");
}

/* ---- reading the file ----------------------------------------------------- */

/* The whole of a regular file within the TEXT_BYTES limit, read by the
 * library's one reader (barlow_file_read: devices, FIFOs and directories
 * are refused before they are opened). */
static int read_text(const char *path, char **text, size_t *len)
{
    barlow_buffer buf = {NULL, 0};
    if (barlow_file_read(path, BARLOW_LIMIT_TEXT_BYTES, &buf) != BARLOW_OK) {
        cli_set_error("%s", barlow_last_error());
        return CLI_ERROR;
    }
    *text = buf.data;
    *len = buf.size;
    return CLI_OK;
}

/* ---- JSON (RFC 8259) -------------------------------------------------------- */

typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } jtype;

typedef struct jmember jmember;

/* A parsed value. Arrays keep no elements and objects deeper than the
 * shape of F.json keep no members (they are only checked): nothing there
 * is ever accepted, and so a hostile file costs little memory. */
typedef struct jval {
    jtype type;
    char *s;    /* J_STRING: the text, NUL-terminated */
    size_t len; /* its bytes (\u0000 may put a NUL inside) */
    jmember *m; /* J_OBJECT: the members in file order */
    size_t n, cap;
} jval;

struct jmember {
    char *key;
    size_t klen;
    size_t pos; /* offset of the key in the file */
    jval v;
};

typedef struct jparser {
    const char *path;
    const char *text, *p, *end;
} jparser;

static void jval_free(jval *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->m[i].key);
        jval_free(&v->m[i].v);
    }
    free(v->m);
    free(v->s);
    memset(v, 0, sizeof *v);
}

/* "PATH: line L, column C: MESSAGE" for the byte at `at` (columns count
 * characters, from 1). Returns false, for `return jerror(...)`. */
static bool jerror_at(const jparser *jp, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool jerror_at(const jparser *jp, const char *at, const char *fmt, ...)
{
    char msg[600];
    size_t line = 1, col = 1;
    for (const char *q = jp->text; q < at; q++) {
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
    cli_set_error("%s: line %zu, column %zu: %s", jp->path, line, col, msg);
    return false;
}

/* "expected WHAT, found X" at the parser's position. */
static bool expect(const jparser *jp, const char *what)
{
    const unsigned char *p = (const unsigned char *)jp->p;
    char found[48];
    if (jp->p >= jp->end)
        snprintf(found, sizeof found, "the end of the file");
    else if (*p < 0x20 || *p == 0x7F)
        snprintf(found, sizeof found, "the control character U+%04X", *p);
    else if (*p < 0x80)
        snprintf(found, sizeof found, "'%c'", *p);
    else /* the text is valid UTF-8 (checked first) */
        snprintf(found, sizeof found, "'%.*s'", (int)bw_utf8_seq(p, (size_t)(jp->end - jp->p)),
                 jp->p);
    return jerror_at(jp, jp->p, "expected %s, found %s", what, found);
}

static bool oom(const jparser *jp)
{
    cli_set_error("out of memory reading %s", jp->path);
    return false;
}

static void skip_ws(jparser *jp)
{
    while (jp->p < jp->end &&
           (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static bool at(const jparser *jp, char c) { return jp->p < jp->end && *jp->p == c; }

static bool parse_value(jparser *jp, int depth, jval *out);

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

/* A string at jp->p (the opening quote) → a new NUL-terminated *out. */
static bool parse_string(jparser *jp, char **out, size_t *len)
{
    const char *q = jp->p + 1;
    while (q < jp->end && *q != '"') q += *q == '\\' && q + 1 < jp->end ? 2 : 1;
    char *s = malloc((size_t)(q - jp->p)), *o = s; /* escapes only shrink */
    if (!s) return oom(jp);
    *out = s;
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
    *len = (size_t)(o - s);
    return true;
}

static bool parse_number(jparser *jp)
{
    if (at(jp, '-')) jp->p++;
    if (at(jp, '0')) {
        jp->p++;
    } else {
        if (jp->p >= jp->end || *jp->p < '1' || *jp->p > '9') return expect(jp, "a digit");
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') jp->p++;
    }
    if (at(jp, '.')) {
        jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
            return expect(jp, "a digit after the decimal point");
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') jp->p++;
    }
    if (at(jp, 'e') || at(jp, 'E')) {
        jp->p++;
        if (at(jp, '+') || at(jp, '-')) jp->p++;
        if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
            return expect(jp, "a digit in the exponent");
        while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9') jp->p++;
    }
    return true;
}

static bool parse_literal(jparser *jp, const char *word, jtype type, jval *out)
{
    size_t n = strlen(word);
    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
        return jerror_at(jp, jp->p, "expected %s", word);
    jp->p += n;
    out->type = type;
    return true;
}

static int member_cmp(const void *a, const void *b)
{
    const jmember *x = *(const jmember *const *)a, *y = *(const jmember *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    if (x->klen != y->klen) return x->klen < y->klen ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Every key of the object once: sorted by key, the earliest repeat (in file
 * order) is reported. */
static bool check_duplicates(jparser *jp, const jval *obj)
{
    if (obj->n < 2) return true;
    const jmember **s = malloc(obj->n * sizeof *s);
    if (!s) return oom(jp);
    for (size_t i = 0; i < obj->n; i++) s[i] = &obj->m[i];
    qsort(s, obj->n, sizeof *s, member_cmp);
    const jmember *dup = NULL;
    for (size_t i = 1; i < obj->n; i++)
        if (s[i]->klen == s[i - 1]->klen && !memcmp(s[i]->key, s[i - 1]->key, s[i]->klen) &&
            (!dup || s[i]->pos < dup->pos))
            dup = s[i];
    free(s);
    if (!dup) return true;
    return jerror_at(jp, jp->text + dup->pos,
                     "expected each key once in an object, found \"%s\" again", dup->key);
}

static jmember *add_member(jparser *jp, jval *obj)
{
    if (obj->n == obj->cap) {
        size_t cap = obj->cap ? obj->cap * 2 : 8;
        jmember *m = realloc(obj->m, cap * sizeof *m);
        if (!m) {
            oom(jp);
            return NULL;
        }
        obj->m = m;
        obj->cap = cap;
    }
    jmember *m = &obj->m[obj->n++];
    memset(m, 0, sizeof *m);
    return m;
}

/* An object at jp->p ('{'), at nesting depth `depth` (the top level is 1).
 * Only the top level and the objects in it keep their members. */
static bool parse_object(jparser *jp, int depth, jval *out)
{
    if (depth > FN_MAX_DEPTH)
        return jerror_at(jp, jp->p, "expected at most %d levels of nested objects and arrays",
                         FN_MAX_DEPTH);
    out->type = J_OBJECT;
    jp->p++;
    skip_ws(jp);
    if (at(jp, '}')) {
        jp->p++;
        return true;
    }
    for (;;) {
        skip_ws(jp);
        if (!at(jp, '"')) return expect(jp, out->n ? "a key (a string) after ','"
                                                   : "a key (a string) or '}'");
        jmember *m = add_member(jp, out);
        if (!m) return false;
        m->pos = (size_t)(jp->p - jp->text);
        if (!parse_string(jp, &m->key, &m->klen)) return false;
        skip_ws(jp);
        if (!at(jp, ':')) return expect(jp, "':' after the key");
        jp->p++;
        if (!parse_value(jp, depth, &m->v)) return false;
        skip_ws(jp);
        if (at(jp, '}')) break;
        if (!at(jp, ',')) return expect(jp, "',' or '}' after a member of an object");
        jp->p++;
    }
    jp->p++;
    if (!check_duplicates(jp, out)) return false;
    if (depth > 2) { /* not a shape F.json accepts: keep only the type */
        jval_free(out);
        out->type = J_OBJECT;
    }
    return true;
}

static bool parse_array(jparser *jp, int depth, jval *out)
{
    if (depth > FN_MAX_DEPTH)
        return jerror_at(jp, jp->p, "expected at most %d levels of nested objects and arrays",
                         FN_MAX_DEPTH);
    out->type = J_ARRAY;
    jp->p++;
    skip_ws(jp);
    if (at(jp, ']')) {
        jp->p++;
        return true;
    }
    for (;;) {
        jval elem = {J_NULL, NULL, 0, NULL, 0, 0};
        bool ok = parse_value(jp, depth, &elem);
        jval_free(&elem);
        if (!ok) return false;
        skip_ws(jp);
        if (at(jp, ']')) break;
        if (!at(jp, ',')) return expect(jp, "',' or ']' after an element of an array");
        jp->p++;
    }
    jp->p++;
    return true;
}

/* A value at jp->p (after white space) inside containers `depth` deep. */
static bool parse_value(jparser *jp, int depth, jval *out)
{
    skip_ws(jp);
    char c = jp->p < jp->end ? *jp->p : '\0';
    switch (c) {
    case '{': return parse_object(jp, depth + 1, out);
    case '[': return parse_array(jp, depth + 1, out);
    case '"':
        out->type = J_STRING;
        return parse_string(jp, &out->s, &out->len);
    case 't': return parse_literal(jp, "true", J_TRUE, out);
    case 'f': return parse_literal(jp, "false", J_FALSE, out);
    case 'n': return parse_literal(jp, "null", J_NULL, out);
    default: break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        out->type = J_NUMBER;
        return parse_number(jp);
    }
    return expect(jp, "a value (an object, array, string, number, true, false or null)");
}

/* The whole text: UTF-8 without NUL bytes (an optional byte order mark is
 * skipped), one value, nothing after it but white space. */
static bool parse_text(jparser *jp, jval *root)
{
    size_t len = (size_t)(jp->end - jp->text);
    size_t ok = bw_utf8_check(jp->text, len);
    const char *nul = memchr(jp->text, '\0', len);
    if (nul && (size_t)(nul - jp->text) < ok)
        return jerror_at(jp, nul, "expected text, found a NUL byte");
    if (ok < len)
        return jerror_at(jp, jp->text + ok, "expected UTF-8 text, found the byte 0x%02X, which "
                                            "is not valid UTF-8 here",
                         (unsigned char)jp->text[ok]);
    if (len >= 3 && !memcmp(jp->p, "\xEF\xBB\xBF", 3)) jp->p += 3;
    if (!parse_value(jp, 0, root)) return false;
    skip_ws(jp);
    if (jp->p < jp->end) return expect(jp, "the end of the file after the JSON value");
    return true;
}

/* ---- the shape of F.json ---------------------------------------------------- */

static const char *type_name(jtype t)
{
    switch (t) {
    case J_NULL: return "null";
    case J_FALSE: return "false";
    case J_TRUE: return "true";
    case J_NUMBER: return "a number";
    case J_STRING: return "a string";
    case J_ARRAY: return "an array";
    default: return "an object";
    }
}

/* A canonical decimal (no sign, no leading zero but "0") that fits size_t. */
static bool parse_index(const char *s, size_t len, size_t *out)
{
    size_t v = 0;
    if (len == 0 || (len > 1 && s[0] == '0')) return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (v > (SIZE_MAX - (size_t)(s[i] - '0')) / 10) return false;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* The feature a key names; cls: the class key around it, or NULL. */
static bool feature_key(const char *path, const jmember *m, size_t d, const char *cls,
                        size_t *f)
{
    char where[300] = "";
    if (cls) snprintf(where, sizeof where, " (in \"%s\")", cls);
    bool digits = m->klen > 0 && strspn(m->key, "0123456789") == m->klen;
    if (!digits || (m->klen > 1 && m->key[0] == '0')) {
        cli_set_error("%s: \"%s\"%s is not a feature index: expected a column number without "
                      "sign or leading zeros, like \"13\"",
                      path, m->key, where);
        return false;
    }
    if (!parse_index(m->key, m->klen, f) || *f >= d) {
        cli_set_error("%s: feature %s%s is out of range: the features have %zu columns%s", path,
                      m->key, where, d, d ? "" : " (none)");
        return false;
    }
    return true;
}

/* 1..200 bytes of UTF-8 without control characters. */
static bool check_name(const char *path, const jval *v, size_t f, const char *cls)
{
    char what[300];
    if (cls) snprintf(what, sizeof what, "the name of feature %zu for class '%s'", f, cls);
    else snprintf(what, sizeof what, "the name of feature %zu", f);
    if (v->len == 0) {
        cli_set_error("%s: %s is empty", path, what);
        return false;
    }
    if (v->len > FN_MAX_NAME) {
        cli_set_error("%s: %s is %zu bytes long, over the %d bytes a name may have", path, what,
                      v->len, FN_MAX_NAME);
        return false;
    }
    for (size_t i = 0; i < v->len; i++) {
        unsigned char c = (unsigned char)v->s[i];
        if (c < 0x20 || c == 0x7F) {
            cli_set_error("%s: %s holds the control character U+%04X", path, what, c);
            return false;
        }
    }
    if (bw_utf8_check(v->s, v->len) != v->len) {
        cli_set_error("%s: %s is not valid UTF-8", path, what);
        return false;
    }
    return true;
}

/* The class a key names: a class name of the dataset, else a class id. */
static bool class_key(const char *path, const jmember *m, const barlow_dataset *ds,
                      int32_t *id)
{
    size_t v;
    if (ds && strlen(m->key) == m->klen && barlow_dataset_class_id(ds, m->key, id) == BARLOW_OK)
        return true;
    if (parse_index(m->key, m->klen, &v) && v < barlow_dataset_class_count(ds) &&
        v <= INT32_MAX) {
        *id = (int32_t)v;
        return true;
    }
    cli_set_error("%s: class '%s' is not a class of the dataset", path, m->key);
    return false;
}

static int entry_cmp(const void *a, const void *b)
{
    const fn_entry *x = a, *y = b;
    return x->feature < y->feature ? -1 : x->feature > y->feature;
}

/* The object of one class: its names, stolen from the parsed text. */
static bool load_class(const char *path, jmember *m, const barlow_dataset *ds,
                       feature_names *fn)
{
    int32_t id;
    if (!class_key(path, m, ds, &id)) return false;
    if (m->v.n == 0) return true;
    if (fn->n_cls == fn->cap_cls) {
        size_t cap = fn->cap_cls ? fn->cap_cls * 2 : 4;
        fn_class *c = realloc(fn->cls, cap * sizeof *c);
        if (!c) goto nomem;
        fn->cls = c;
        fn->cap_cls = cap;
    }
    fn_class *c = &fn->cls[fn->n_cls];
    *c = (fn_class){id, fn->n_cls, m->key, calloc(m->v.n, sizeof(fn_entry)), 0};
    if (!c->e) goto nomem;
    fn->n_cls++;
    for (size_t k = 0; k < m->v.n; k++) {
        jmember *e = &m->v.m[k];
        size_t f;
        if (e->v.type != J_STRING) {
            cli_set_error("%s: the value of \"%s\" in \"%s\" is %s; expected a name (a string)",
                          path, e->key, m->key, type_name(e->v.type));
            return false;
        }
        if (!feature_key(path, e, fn->d, m->key, &f) || !check_name(path, &e->v, f, m->key))
            return false;
        c->e[c->n++] = (fn_entry){f, e->v.s};
        e->v.s = NULL;
    }
    qsort(c->e, c->n, sizeof *c->e, entry_cmp);
    return true;
nomem:
    cli_set_error("out of memory reading %s", path);
    return false;
}

static int class_cmp(const void *a, const void *b)
{
    const fn_class *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Classes in id order; two keys naming one class ("Sandal" and "5") are
 * refused rather than merged. */
static bool sort_classes(const char *path, feature_names *fn)
{
    if (fn->n_cls > 1) qsort(fn->cls, fn->n_cls, sizeof *fn->cls, class_cmp);
    for (size_t c = 1; c < fn->n_cls; c++) {
        if (fn->cls[c].id == fn->cls[c - 1].id) {
            cli_set_error("%s: \"%s\" and \"%s\" name the same class; give its names in one "
                          "object",
                          path, fn->cls[c - 1].key, fn->cls[c].key);
            return false;
        }
    }
    for (size_t c = 0; c < fn->n_cls; c++) fn->cls[c].key = NULL;
    return true;
}

static bool load_names(const char *path, jval *root, const barlow_dataset *ds,
                       feature_names *fn)
{
    if (root->type != J_OBJECT) {
        cli_set_error("%s: expected an object of feature names, like {\"13\": \"buckle\"}, "
                      "found %s",
                      path, type_name(root->type));
        return false;
    }
    for (size_t i = 0; i < root->n; i++) {
        jmember *m = &root->m[i];
        size_t f;
        if (m->v.type == J_OBJECT) {
            if (!load_class(path, m, ds, fn)) return false;
        } else if (m->v.type != J_STRING) {
            cli_set_error("%s: the value of \"%s\" is %s; expected a name (a string) or an "
                          "object of names for one class",
                          path, m->key, type_name(m->v.type));
            return false;
        } else if (!feature_key(path, m, fn->d, NULL, &f) || !check_name(path, &m->v, f, NULL)) {
            return false;
        } else {
            fn->global[f] = m->v.s;
            m->v.s = NULL;
        }
    }
    return sort_classes(path, fn);
}

int feature_names_load(const char *path, const barlow_dataset *ds, size_t n_features,
                       feature_names **out)
{
    char *text = NULL;
    size_t len = 0;
    jval root = {J_NULL, NULL, 0, NULL, 0, 0};
    feature_names *fn = NULL;
    int rc = CLI_ERROR;
    *out = NULL;
    if (read_text(path, &text, &len) != CLI_OK) goto done;
    jparser jp = {path, text, text, text + len};
    if (!parse_text(&jp, &root)) goto done;
    fn = calloc(1, sizeof *fn);
    if (fn) {
        fn->d = n_features;
        fn->global = calloc(n_features ? n_features : 1, sizeof *fn->global);
    }
    if (!fn || !fn->global) {
        cli_set_error("out of memory reading %s", path);
        goto done;
    }
    if (!load_names(path, &root, ds, fn)) goto done;
    *out = fn;
    fn = NULL;
    rc = CLI_OK;
done:
    feature_names_free(fn);
    jval_free(&root);
    barlow_free(text);
    return rc;
}
