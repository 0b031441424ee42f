/* Feature names (featnames.h): F.json read by the library's strict JSON
 * parser (lib/json.c, compiled into the program) into a tree of values,
 * then checked against the one shape accepted; the names per feature and
 * class; rule sentences through barlow_tree_rule_text_named(). */
#include "featnames.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "internal.h" /* bw_malloc, bw_free: the allocator of the report */
#include "json.h"
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
    for (size_t i = 0; fn->global && i < fn->d; i++) bw_free(fn->global[i]);
    for (size_t c = 0; c < fn->n_cls; c++) {
        for (size_t k = 0; k < fn->cls[c].n; k++) bw_free(fn->cls[c].e[k].name);
        bw_free(fn->cls[c].e);
    }
    bw_free(fn->global);
    bw_free(fn->cls);
    bw_free(fn);
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
    const char **merged = bw_mallocn(fn->d ? fn->d : 1, sizeof *merged, "feature names");
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
    barlow_buffer_free(&txt);
    bw_free(names);
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
static int read_text(const char *path, barlow_buffer *text)
{
    if (barlow_file_read(path, BARLOW_LIMIT_TEXT_BYTES, text) != BARLOW_OK) {
        cli_set_error("%s", barlow_last_error());
        return CLI_ERROR;
    }
    return CLI_OK;
}

/* ---- the shape of F.json ---------------------------------------------------- */

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

/* A key of F.json: its text (NUL-terminated; a \u0000 may end it early)
 * and its length. */
typedef struct fn_key {
    const char *s;
    size_t len;
} fn_key;

/* The feature a key names; cls: the class key around it, or NULL. */
static bool feature_key(const char *path, fn_key k, size_t d, const char *cls, size_t *f)
{
    char where[300] = "";
    if (cls) snprintf(where, sizeof where, " (in \"%s\")", cls);
    bool digits = k.len > 0 && strspn(k.s, "0123456789") == k.len;
    if (!digits || (k.len > 1 && k.s[0] == '0')) {
        cli_set_error("%s: \"%s\"%s is not a feature index: expected a column number without "
                      "sign or leading zeros, like \"13\"",
                      path, k.s, where);
        return false;
    }
    if (!parse_index(k.s, k.len, f) || *f >= d) {
        cli_set_error("%s: feature %s%s is out of range: the features have %zu columns%s", path,
                      k.s, where, d, d ? "" : " (none)");
        return false;
    }
    return true;
}

/* 1..200 bytes of UTF-8 without control characters. */
static bool check_name(const char *path, const char *s, size_t len, size_t f, const char *cls)
{
    char what[300];
    if (cls) snprintf(what, sizeof what, "the name of feature %zu for class '%s'", f, cls);
    else snprintf(what, sizeof what, "the name of feature %zu", f);
    if (len == 0) {
        cli_set_error("%s: %s is empty", path, what);
        return false;
    }
    if (len > FN_MAX_NAME) {
        cli_set_error("%s: %s is %zu bytes long, over the %d bytes a name may have", path, what,
                      len, FN_MAX_NAME);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F) {
            cli_set_error("%s: %s holds the control character U+%04X", path, what, c);
            return false;
        }
    }
    if (bw_utf8_check(s, len) != len) {
        cli_set_error("%s: %s is not valid UTF-8", path, what);
        return false;
    }
    return true;
}

/* The name of feature f (a key of F.json, cls: the class key around it or
 * NULL) from value v → a copy in *out. */
static bool load_name(const char *path, fn_key k, const bw_json *v, size_t d, const char *cls,
                      size_t *f, char **out)
{
    size_t len;
    const char *s = bw_json_string(v, &len);
    if (!s) {
        if (cls)
            cli_set_error("%s: the value of \"%s\" in \"%s\" is %s; expected a name (a string)",
                          path, k.s, cls, bw_json_describe(v));
        else
            cli_set_error("%s: the value of \"%s\" is %s; expected a name (a string) or an "
                          "object of names for one class",
                          path, k.s, bw_json_describe(v));
        return false;
    }
    if (!feature_key(path, k, d, cls, f) || !check_name(path, s, len, *f, cls)) return false;
    *out = bw_malloc(len + 1, "feature names");
    if (!*out) {
        cli_set_error("out of memory reading %s", path);
        return false;
    }
    memcpy(*out, s, len + 1);
    return true;
}

/* The class a key names: a class name of the dataset, else a class id. */
static bool class_key(const char *path, fn_key k, const barlow_dataset *ds, int32_t *id)
{
    size_t v;
    if (ds && strlen(k.s) == k.len && barlow_dataset_class_id(ds, k.s, id) == BARLOW_OK)
        return true;
    if (parse_index(k.s, k.len, &v) && v < barlow_dataset_class_count(ds) && v <= INT32_MAX) {
        *id = (int32_t)v;
        return true;
    }
    cli_set_error("%s: class '%s' is not a class of the dataset", path, k.s);
    return false;
}

static int entry_cmp(const void *a, const void *b)
{
    const fn_entry *x = a, *y = b;
    return x->feature < y->feature ? -1 : x->feature > y->feature;
}

/* A new class in fn (no entries yet; room for n), or NULL when out of memory. */
static fn_class *add_class(feature_names *fn, int32_t id, const char *key, size_t n)
{
    if (fn->n_cls == fn->cap_cls) {
        size_t cap = fn->cap_cls ? fn->cap_cls * 2 : 4;
        fn_class *c = bw_reallocn(fn->cls, cap, sizeof *c, "feature names");
        if (!c) return NULL;
        fn->cls = c;
        fn->cap_cls = cap;
    }
    fn_class *c = &fn->cls[fn->n_cls];
    *c = (fn_class){id, fn->n_cls, key, bw_calloc(n, sizeof(fn_entry), "feature names"), 0};
    if (!c->e) return NULL;
    fn->n_cls++;
    return c;
}

/* The object `obj` of one class (key k): its names. */
static bool load_class(const char *path, fn_key k, const bw_json *obj,
                       const barlow_dataset *ds, feature_names *fn)
{
    int32_t id;
    size_t n = bw_json_length(obj);
    if (!class_key(path, k, ds, &id)) return false;
    if (n == 0) return true;
    fn_class *c = add_class(fn, id, k.s, n);
    if (!c) {
        cli_set_error("out of memory reading %s", path);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        fn_key e;
        const bw_json *v = bw_json_member(obj, i, &e.s, &e.len);
        size_t f;
        char *name;
        if (!load_name(path, e, v, fn->d, k.s, &f, &name)) return false;
        c->e[c->n++] = (fn_entry){f, name};
    }
    qsort(c->e, c->n, sizeof *c->e, entry_cmp);
    return true;
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

static bool load_names(const char *path, const bw_json *root, const barlow_dataset *ds,
                       feature_names *fn)
{
    if (!bw_json_is(root, BW_JSON_OBJECT)) {
        cli_set_error("%s: expected an object of feature names, like {\"13\": \"buckle\"}, "
                      "found %s",
                      path, bw_json_describe(root));
        return false;
    }
    for (size_t i = 0; i < bw_json_length(root); i++) {
        fn_key k;
        const bw_json *v = bw_json_member(root, i, &k.s, &k.len);
        size_t f;
        char *name;
        if (bw_json_is(v, BW_JSON_OBJECT)) {
            if (!load_class(path, k, v, ds, fn)) return false;
        } else {
            if (!load_name(path, k, v, fn->d, NULL, &f, &name)) return false;
            fn->global[f] = name; /* a key once (the parser checks): never a second */
        }
    }
    return sort_classes(path, fn);
}

int feature_names_load(const char *path, const barlow_dataset *ds, size_t n_features,
                       feature_names **out)
{
    barlow_buffer text = {NULL, 0};
    bw_json *root = NULL;
    feature_names *fn = NULL;
    int rc = CLI_ERROR;
    *out = NULL;
    if (read_text(path, &text) != CLI_OK) goto done;
    /* a syntax error: bw_error() (the CLI's, programs/barlow/cli.c) has set
     * the message "PATH: line L, column C: ..." */
    if (bw_json_parse(text.data, text.size, path, FN_MAX_DEPTH, &root) != BARLOW_OK) goto done;
    fn = bw_calloc(1, sizeof *fn, "feature names");
    if (fn) {
        fn->d = n_features;
        fn->global = bw_calloc(n_features ? n_features : 1, sizeof *fn->global,
                               "feature names");
    }
    if (!fn || !fn->global) {
        cli_set_error("out of memory reading %s", path);
        goto done;
    }
    if (!load_names(path, root, ds, fn)) goto done;
    *out = fn;
    fn = NULL;
    rc = CLI_OK;
done:
    feature_names_free(fn);
    bw_json_free(root);
    barlow_buffer_free(&text);
    return rc;
}
