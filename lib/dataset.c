/* barlow_dataset (labels, predictions, class names, sources, extra CSV
 * columns) and barlow_group (a subset of rows with its failure vector). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/dataset.h"
#include "barlow/shards.h"
#include "csv.h"
#include "dataset_internal.h"
#include "npy.h"
#include "shards_internal.h"
#include "internal.h"

/* Largest class count the library makes up names for (arrays without names). */
enum { BW_MAX_CLASSES = 1 << 24 };

/* ---- builder --------------------------------------------------------------- */

barlow_dataset *bw_dataset_new(size_t n_capacity, const char *who)
{
    barlow_dataset *ds = bw_calloc(1, sizeof *ds, who);
    if (!ds) return NULL;
    size_t cap = n_capacity ? n_capacity : 16;
    ds->labels = bw_mallocn(cap, sizeof *ds->labels, who);
    ds->predictions = bw_mallocn(cap, sizeof *ds->predictions, who);
    ds->sources = bw_calloc(cap, sizeof *ds->sources, who);
    if (!ds->labels || !ds->predictions || !ds->sources) {
        barlow_dataset_free(ds);
        return NULL;
    }
    ds->cap = cap;
    return ds;
}

/* ---- names of datasets made without names ----------------------------------- */

/* A dataset made from arrays without names has the classes 0..K-1 named by
 * their decimal ids (K = largest id + 1, up to 2^24). The names are made on
 * first use (barlow_dataset_class_name) and kept until the dataset is
 * freed, so the cost follows the names asked for, not K: one label of
 * 16 777 215 must not cost 16M strings. A const dataset may be read from
 * several threads at once (docs/threading.md): the table is guarded by a
 * mutex. Lookups by name parse the decimal id instead. */
typedef struct bw_numeric_name {
    int32_t id;
    char *name;          /* NULL = empty slot */
} bw_numeric_name;

struct bw_numeric_names {
    pthread_mutex_t mu;
    bw_numeric_name *slot; /* open addressing by id, cap a power of two */
    size_t cap, count;
};

static barlow_status numeric_names_init(barlow_dataset *ds, size_t n_classes, const char *who)
{
    struct bw_numeric_names *nn = bw_calloc(1, sizeof *nn, who);
    if (!nn) return BARLOW_E_NOMEM;
    if (pthread_mutex_init(&nn->mu, NULL) != 0) {
        bw_free(nn);
        return bw_error(BARLOW_E_NOMEM, "%s: cannot create a mutex", who);
    }
    ds->numeric = nn;
    ds->n_classes = n_classes;
    return BARLOW_OK;
}

static void numeric_names_free(struct bw_numeric_names *nn)
{
    if (!nn) return;
    for (size_t i = 0; i < nn->cap; i++) bw_free(nn->slot[i].name);
    bw_free(nn->slot);
    pthread_mutex_destroy(&nn->mu);
    bw_free(nn);
}

static size_t numeric_slot(const struct bw_numeric_names *nn, int32_t id)
{
    size_t mask = nn->cap - 1;
    size_t k = (size_t)(((uint64_t)(uint32_t)id * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
    while (nn->slot[k].name && nn->slot[k].id != id) k = (k + 1) & mask;
    return k;
}

/* Doubles the table (at least 16 slots). -1 when memory runs out. */
static int numeric_grow(struct bw_numeric_names *nn)
{
    size_t cap = nn->cap ? 2 * nn->cap : 16;
    bw_numeric_name *slot = bw_calloc(cap, sizeof *slot, "class names");
    if (!slot) return -1;
    bw_numeric_name *old = nn->slot;
    size_t old_cap = nn->cap;
    nn->slot = slot;
    nn->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].name) nn->slot[numeric_slot(nn, old[i].id)] = old[i];
    bw_free(old);
    return 0;
}

/* The name of class id (0 <= id < n_classes), made on first use; NULL when
 * memory runs out. The string never moves (the table holds pointers). */
static const char *numeric_name(const barlow_dataset *ds, int32_t id)
{
    struct bw_numeric_names *nn = ds->numeric;
    const char *name = NULL;
    pthread_mutex_lock(&nn->mu);
    if (nn->cap) name = nn->slot[numeric_slot(nn, id)].name;
    if (!name && (2 * (nn->count + 1) <= nn->cap || numeric_grow(nn) == 0)) {
        char num[16];
        int len = snprintf(num, sizeof num, "%" PRId32, id);
        char *copy = bw_malloc((size_t)len + 1, "class names");
        if (copy) {
            memcpy(copy, num, (size_t)len + 1);
            size_t k = numeric_slot(nn, id);
            nn->slot[k] = (bw_numeric_name){id, copy};
            nn->count++;
        }
        name = copy;
    }
    pthread_mutex_unlock(&nn->mu);
    return name;
}

/* The id a decimal name gives (no sign, no leading zero), or -1. */
static int32_t numeric_find(const barlow_dataset *ds, const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 10 || (name[0] == '0' && len > 1)) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    return v < ds->n_classes ? (int32_t)v : -1;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void hash_insert(int32_t *table, size_t cap, const char *name, int32_t id)
{
    size_t mask = cap - 1, k = (size_t)name_hash(name) & mask;
    while (table[k] != 0) k = (k + 1) & mask;
    table[k] = id + 1;
}

int32_t bw_dataset_find_class(const barlow_dataset *ds, const char *name)
{
    if (ds->numeric && name) return numeric_find(ds, name);
    if (!ds->hash_cap || !name) return -1;
    size_t mask = ds->hash_cap - 1, k = (size_t)name_hash(name) & mask;
    while (ds->class_hash[k] != 0) {
        int32_t id = ds->class_hash[k] - 1;
        if (strcmp(ds->class_names[id], name) == 0) return id;
        k = (k + 1) & mask;
    }
    return -1;
}

/* Rebuilds the name index with room for `need` names. Only the lowest id of
 * a repeated name is indexed. */
static barlow_status rebuild_hash(barlow_dataset *ds, size_t need, const char *who)
{
    size_t cap = 16;
    while (cap < 2 * need + 2) cap *= 2;
    int32_t *table = bw_calloc(cap, sizeof *table, who);
    if (!table) return BARLOW_E_NOMEM;
    int32_t *old = ds->class_hash;
    ds->class_hash = table;
    ds->hash_cap = cap;
    for (size_t i = 0; i < ds->n_classes; i++) {
        if (bw_dataset_find_class(ds, ds->class_names[i]) < 0)
            hash_insert(table, cap, ds->class_names[i], (int32_t)i);
    }
    bw_free(old);
    return BARLOW_OK;
}

static barlow_status add_class(barlow_dataset *ds, const char *name, int32_t *id, bool dup,
                               const char *who)
{
    if (!name || !*name) return bw_error(BARLOW_E_INVALID_ARG, "%s: empty class name", who);
    int32_t found = bw_dataset_find_class(ds, name);
    if (found >= 0 && !dup) {
        *id = found;
        return BARLOW_OK;
    }
    if (ds->n_classes >= (size_t)INT32_MAX)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: too many classes", who);
    if (ds->n_classes + 1 > ds->class_cap) {
        size_t cap = ds->class_cap ? ds->class_cap * 2 : 16;
        char **p = bw_reallocn(ds->class_names, cap, sizeof *p, who);
        if (!p) return bw_error(BARLOW_E_NOMEM, "%s: out of memory", who);
        ds->class_names = p;
        ds->class_cap = cap;
    }
    if (2 * (ds->n_classes + 1) + 2 > ds->hash_cap) {
        barlow_status st = rebuild_hash(ds, 2 * (ds->n_classes + 1), who);
        if (st != BARLOW_OK) return st;
    }
    char *copy = bw_strdup(name, who);
    if (!copy) return BARLOW_E_NOMEM;
    int32_t nid = (int32_t)ds->n_classes;
    ds->class_names[ds->n_classes++] = copy;
    if (found < 0) hash_insert(ds->class_hash, ds->hash_cap, copy, nid);
    *id = nid;
    return BARLOW_OK;
}

barlow_status bw_dataset_add_class(barlow_dataset *ds, const char *name, int32_t *id,
                                   const char *who)
{
    return add_class(ds, name, id, false, who);
}

barlow_status bw_dataset_add_class_dup(barlow_dataset *ds, const char *name, int32_t *id,
                                       const char *who)
{
    return add_class(ds, name, id, true, who);
}

static barlow_status reserve_rows(barlow_dataset *ds, size_t need, const char *who)
{
    if (need <= ds->cap) return BARLOW_OK;
    size_t cap = ds->cap ? ds->cap : 16;
    while (cap < need) cap *= 2;
    int32_t *l = bw_reallocn(ds->labels, cap, sizeof *l, who);
    if (!l) return bw_error(BARLOW_E_NOMEM, "%s: out of memory (%zu rows)", who, cap);
    ds->labels = l;
    int32_t *p = bw_reallocn(ds->predictions, cap, sizeof *p, who);
    if (!p) return bw_error(BARLOW_E_NOMEM, "%s: out of memory (%zu rows)", who, cap);
    ds->predictions = p;
    char **s = bw_reallocn(ds->sources, cap, sizeof *s, who);
    if (!s) return bw_error(BARLOW_E_NOMEM, "%s: out of memory (%zu rows)", who, cap);
    memset(s + ds->cap, 0, (cap - ds->cap) * sizeof *s);
    ds->sources = s;
    ds->cap = cap;
    return BARLOW_OK;
}

barlow_status bw_dataset_append_row(barlow_dataset *ds, const char *source, int32_t label,
                                    int32_t prediction, const char *who)
{
    barlow_status st = reserve_rows(ds, ds->n + 1, who);
    if (st != BARLOW_OK) return st;
    char *src = NULL;
    if (source) {
        src = bw_strdup(source, who);
        if (!src) return BARLOW_E_NOMEM;
    }
    ds->labels[ds->n] = label;
    ds->predictions[ds->n] = prediction;
    ds->sources[ds->n] = src;
    ds->n++;
    return BARLOW_OK;
}

typedef struct name_id {
    const char *name;
    int32_t id;
} name_id;

static int cmp_name_id(const void *a, const void *b)
{
    const name_id *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return (x->id > y->id) - (x->id < y->id);
}

barlow_status bw_dataset_sort_classes(barlow_dataset *ds, const char *who)
{
    size_t k = ds->n_classes;
    if (k < 2) return BARLOW_OK;
    name_id *order = bw_mallocn(k, sizeof *order, who);
    int32_t *new_id = bw_mallocn(k, sizeof *new_id, who);
    char **names = bw_mallocn(ds->class_cap, sizeof *names, who);
    if (!order || !new_id || !names) {
        bw_free(order);
        bw_free(new_id);
        bw_free(names);
        return BARLOW_E_NOMEM;
    }
    for (size_t i = 0; i < k; i++) order[i] = (name_id){ds->class_names[i], (int32_t)i};
    qsort(order, k, sizeof *order, cmp_name_id);
    for (size_t i = 0; i < k; i++) {
        new_id[order[i].id] = (int32_t)i;
        names[i] = ds->class_names[order[i].id];
    }
    bw_free(ds->class_names);
    ds->class_names = names;
    /* rebuild the index in place (same capacity: cannot fail) */
    memset(ds->class_hash, 0, ds->hash_cap * sizeof *ds->class_hash);
    for (size_t i = 0; i < k; i++)
        if (bw_dataset_find_class(ds, names[i]) < 0)
            hash_insert(ds->class_hash, ds->hash_cap, names[i], (int32_t)i);
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->labels[i] >= 0 && (size_t)ds->labels[i] < k)
            ds->labels[i] = new_id[ds->labels[i]];
        if (ds->predictions[i] >= 0 && (size_t)ds->predictions[i] < k)
            ds->predictions[i] = new_id[ds->predictions[i]];
    }
    bw_free(order);
    bw_free(new_id);
    return BARLOW_OK;
}

barlow_status bw_dataset_set_image_root(barlow_dataset *ds, const char *root, const char *who)
{
    char *copy = NULL;
    if (root) {
        copy = bw_strdup(root, who);
        if (!copy) return BARLOW_E_NOMEM;
    }
    bw_free(ds->image_root);
    ds->image_root = copy;
    return BARLOW_OK;
}

barlow_status bw_dataset_finish(barlow_dataset *ds, const char *who)
{
    if (ds->n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: no rows", who);
    size_t with_pred = 0, first_without = SIZE_MAX;
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->labels[i] < 0 || (size_t)ds->labels[i] >= ds->n_classes)
            return bw_error(BARLOW_E_INTERNAL, "%s: row %zu: label %" PRId32
                            " is not a class id (0..%zu)", who, i, ds->labels[i],
                            ds->n_classes ? ds->n_classes - 1 : 0);
        if (ds->predictions[i] == BW_NO_PREDICTION) {
            if (first_without == SIZE_MAX) first_without = i;
            continue;
        }
        if (ds->predictions[i] < 0 || (size_t)ds->predictions[i] >= ds->n_classes)
            return bw_error(BARLOW_E_INTERNAL, "%s: row %zu: prediction %" PRId32
                            " is not a class id (0..%zu)", who, i, ds->predictions[i],
                            ds->n_classes ? ds->n_classes - 1 : 0);
        with_pred++;
    }
    if (with_pred != 0 && with_pred != ds->n)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: row %zu has no prediction but %zu other rows have one", who,
                        first_without, with_pred);
    ds->has_predictions = with_pred == ds->n;
    return BARLOW_OK;
}

void barlow_dataset_free(barlow_dataset *ds)
{
    if (!ds) return;
    if (ds->sources)
        for (size_t i = 0; i < ds->n; i++) bw_free(ds->sources[i]);
    bw_free(ds->sources);
    for (size_t i = 0; ds->class_names && i < ds->n_classes; i++) bw_free(ds->class_names[i]);
    bw_free(ds->class_names);
    bw_free(ds->class_hash);
    numeric_names_free(ds->numeric);
    if (ds->extra_cells)
        for (size_t i = 0; i < ds->n * ds->n_extra; i++) bw_free(ds->extra_cells[i]);
    bw_free(ds->extra_cells);
    for (size_t j = 0; j < ds->n_extra; j++) bw_free(ds->extra_names[j]);
    bw_free(ds->extra_names);
    bw_free(ds->labels);
    bw_free(ds->predictions);
    bw_free(ds->image_root);
    bw_free(ds->pixels);
    bw_free(ds);
}

/* ---- class names are UTF-8 (docs/formats.md, "Text encoding") -------------- */

/* OK when name[0..n) is valid UTF-8, else `code` with "not valid UTF-8: byte
 * 0xXX at offset N (...)"; callers prefix where the name comes from
 * (bw_error_prefix). */
static barlow_status check_name_utf8(const char *name, size_t n, barlow_status code)
{
    size_t off = bw_utf8_check(name, n);
    if (off == n) return BARLOW_OK;
    return bw_error(code, "not valid UTF-8: byte 0x%02x at offset %zu (class names must be UTF-8)",
                    (unsigned)(unsigned char)name[off], off);
}

/* A caller's class_names array: INVALID_ARG naming the index of a NULL,
 * empty or non-UTF-8 name. */
static barlow_status check_name_list(const char *const *names, size_t n, const char *who)
{
    for (size_t c = 0; c < n; c++) {
        if (!names[c] || !names[c][0])
            return bw_error(BARLOW_E_INVALID_ARG, "%s: class_names[%zu] is %s", who, c,
                            names[c] ? "empty" : "NULL");
        barlow_status st = check_name_utf8(names[c], strlen(names[c]), BARLOW_E_INVALID_ARG);
        if (st != BARLOW_OK) return bw_error_prefix(st, "%s: class_names[%zu]", who, c);
    }
    return BARLOW_OK;
}

/* ---- from arrays ----------------------------------------------------------- */

static barlow_status check_ids(const int32_t *ids, size_t n, size_t n_classes,
                               const char *who, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= n_classes)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: %s[%zu] = %" PRId32 " is not a class id (0..%zu)", who,
                            what, i, ids[i], n_classes - 1);
    return BARLOW_OK;
}

/* Shared by barlow_dataset_create and barlow_dataset_load_npy. `lab_what`
 * and `pred_what` name the arrays in messages. */
static barlow_status create_from_arrays(size_t n, const int32_t *labels,
                                        const int32_t *predictions,
                                        const char *const *class_names, size_t n_classes,
                                        const char *who, const char *lab_what,
                                        const char *pred_what, barlow_dataset **out)
{
    if (!class_names && n_classes == 0) {
        int32_t mx = -1;
        for (int pass = 0; pass < 2; pass++) {
            const int32_t *ids = pass ? predictions : labels;
            if (!ids) continue;
            for (size_t i = 0; i < n; i++) {
                if (ids[i] < 0)
                    return bw_error(BARLOW_E_INVALID_ARG,
                                    "%s: %s[%zu] = %" PRId32 " is not a class id (must be >= 0)",
                                    who, pass ? pred_what : lab_what, i, ids[i]);
                if (ids[i] > mx) mx = ids[i];
            }
        }
        n_classes = (size_t)mx + 1;
    }
    if (n_classes > BW_MAX_CLASSES && !class_names)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: %zu classes without class names (at most %d; pass the names)",
                        who, n_classes, (int)BW_MAX_CLASSES);
    if (n_classes > (size_t)INT32_MAX)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: n_classes=%zu (at most %" PRId32 ")", who,
                        n_classes, INT32_MAX);
    barlow_status st = check_ids(labels, n, n_classes, who, lab_what);
    if (st == BARLOW_OK && predictions) st = check_ids(predictions, n, n_classes, who, pred_what);
    if (st == BARLOW_OK && class_names) st = check_name_list(class_names, n_classes, who);
    if (st != BARLOW_OK) return st;

    barlow_dataset *ds = bw_dataset_new(n, who);
    if (!ds) return BARLOW_E_NOMEM;
    int32_t id;
    if (!class_names) st = numeric_names_init(ds, n_classes, who); /* names made on use */
    for (size_t c = 0; class_names && c < n_classes && st == BARLOW_OK; c++)
        st = bw_dataset_add_class_dup(ds, class_names[c], &id, who);
    if (st != BARLOW_OK) {
        barlow_dataset_free(ds);
        return st;
    }
    memcpy(ds->labels, labels, n * sizeof *labels);
    if (predictions)
        memcpy(ds->predictions, predictions, n * sizeof *predictions);
    else
        for (size_t i = 0; i < n; i++) ds->predictions[i] = BW_NO_PREDICTION;
    ds->n = n;
    st = bw_dataset_finish(ds, who);
    if (st != BARLOW_OK) {
        barlow_dataset_free(ds);
        return st;
    }
    *out = ds;
    return BARLOW_OK;
}

barlow_status barlow_dataset_create(size_t n, const int32_t *labels,
                                    const int32_t *predictions,
                                    const char *const *class_names, size_t n_classes,
                                    barlow_dataset **out)
{
    static const char who[] = "barlow_dataset_create";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (!labels) return bw_error(BARLOW_E_INVALID_ARG, "%s: labels is NULL", who);
    if (n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n=0 (a dataset needs rows)", who);
    if (class_names && n_classes == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: class_names given with n_classes=0", who);
    return create_from_arrays(n, labels, predictions, class_names, n_classes, who, "labels",
                              "predictions", out);
}

/* ---- class-name files ------------------------------------------------------ */

/* Reads one name per line. *names points into *text (both bw_malloc'd). */
static barlow_status read_class_names(const char *path, const char *who, char **text,
                                      char ***names, size_t *count)
{
    char *data = NULL;
    size_t size = 0;
    barlow_status st = bw_read_file(path, who, BARLOW_LIMIT_TEXT_BYTES, &data, &size);
    if (st != BARLOW_OK) return st;
    char *p = data, *end = data + size;
    if (size >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3;
    size_t lines = 1;
    for (char *q = p; q < end; q++) lines += *q == '\n';
    char **v = bw_mallocn(lines, sizeof *v, who);
    if (!v) {
        bw_free(data);
        return BARLOW_E_NOMEM;
    }
    size_t k = 0, line = 0;
    while (p < end) {
        line++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        if (e > p && e[-1] == '\r') e--;
        *e = '\0';
        if (e == p) {
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: line %zu: empty class name", who, path, line);
            break;
        }
        if (memchr(p, '\0', (size_t)(e - p))) {
            st = bw_text_nul_error(who, path, line, "");
            break;
        }
        st = check_name_utf8(p, (size_t)(e - p), BARLOW_E_FORMAT);
        if (st != BARLOW_OK) {
            bw_error_prefix(st, "%s: %s: line %zu: class name", who, path, line);
            break;
        }
        v[k++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    if (st == BARLOW_OK && k == 0)
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: no class names (empty file)", who, path);
    if (st != BARLOW_OK) {
        bw_free(v);
        bw_free(data);
        return st;
    }
    *text = data;
    *names = v;
    *count = k;
    return BARLOW_OK;
}

/* ---- from .npy ------------------------------------------------------------- */

/* "file.npz:M" or "manifest.json:M" → a new string with the file's path
 * (*archive) and the member (*member, into path); plain paths → NULLs. */
static barlow_status split_member(const char *path, const char *who, char **archive,
                                  const char **member)
{
    const char *sep = strstr(path, ".npz:");
    size_t ext = 4;
    if (!sep && (sep = strstr(path, ".json:")) != NULL) ext = 5;
    *archive = NULL;
    *member = NULL;
    if (!sep) return BARLOW_OK;
    size_t len = (size_t)(sep - path) + ext;
    *archive = bw_malloc(len + 1, who);
    if (!*archive) return BARLOW_E_NOMEM;
    memcpy(*archive, path, len);
    (*archive)[len] = '\0';
    *member = sep + ext + 1;
    return BARLOW_OK;
}

/* Reads "file.npy", or member M of an archive given as "file.npz:M", or
 * of a manifest's shards given as "manifest.json:M" (joined). */
static barlow_status load_id_array(const char *path, const char *who, barlow_array **a)
{
    char *archive = NULL;
    const char *member = NULL;
    barlow_status st = split_member(path, who, &archive, &member);
    if (st) return st;
    if (!archive) return barlow_array_load_npy(path, a);
    st = barlow_manifest_probe(archive) ? barlow_array_load_manifest(archive, member, a)
                                     : barlow_array_load_npz(archive, member, a);
    bw_free(archive);
    return st;
}

/* The class names stored with the labels of archive (an .npz, or a
 * manifest: its first shard's), when it has them. */
static barlow_status stored_names(const char *archive, const char *who, char ***names,
                                  size_t *n_names)
{
    bw_manifest mf = {0};
    const char *file = archive;
    barlow_status st = BARLOW_OK;
    if (barlow_manifest_probe(archive)) {
        st = bw_manifest_read(archive, who, &mf);
        file = st ? NULL : mf.path[0];
    }
    if (!st) st = bw_npz_load_strings(file, "class_names", true, who, names, n_names);
    for (size_t c = 0; st == BARLOW_OK && c < *n_names; c++)
        if (!(*names)[c][0])
            st = bw_error(BARLOW_E_FORMAT, "%s: %s:class_names[%zu] is empty", who, file, c);
    if (st == BARLOW_OK && *names && *n_names == 0)
        st = bw_error(BARLOW_E_FORMAT, "%s: %s:class_names is empty", who, file);
    bw_manifest_free(&mf);
    return st;
}

static barlow_status load_ids(const char *path, const char *who, int32_t **ids, size_t *n)
{
    barlow_array *a = NULL;
    barlow_status st = load_id_array(path, who, &a);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
    size_t nd = barlow_array_ndim(a), m = barlow_array_size(a);
    if (nd != 1) {
        barlow_array_free(a);
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s: must be a 1-D array (it has %zu dimensions)",
                        who, path, nd);
    }
    if (m == 0) {
        barlow_array_free(a);
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s: has no elements", who, path);
    }
    int32_t *v = bw_mallocn(m, sizeof *v, who);
    if (!v) {
        barlow_array_free(a);
        return BARLOW_E_NOMEM;
    }
    st = barlow_array_to_int32(a, v);
    barlow_array_free(a);
    if (st != BARLOW_OK) {
        bw_free(v);
        return bw_error_prefix(st, "%s: %s", who, path);
    }
    *ids = v;
    *n = m;
    return BARLOW_OK;
}

barlow_status barlow_dataset_load_npy(const char *labels_path, const char *predictions_path,
                                      const char *class_names_path, barlow_dataset **out)
{
    static const char who[] = "barlow_dataset_load_npy";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (!labels_path) return bw_error(BARLOW_E_INVALID_ARG, "%s: labels_path is NULL", who);
    int32_t *labels = NULL, *preds = NULL;
    char *text = NULL;
    char **names = NULL;
    size_t n = 0, n_pred = 0, n_names = 0;
    barlow_status st = load_ids(labels_path, who, &labels, &n);
    if (st == BARLOW_OK && predictions_path) {
        st = load_ids(predictions_path, who, &preds, &n_pred);
        if (st == BARLOW_OK && n_pred != n)
            st = bw_error(BARLOW_E_INVALID_ARG,
                          "%s: %s has %zu predictions but %s has %zu labels", who,
                          predictions_path, n_pred, labels_path, n);
    }
    bool from_npz = false;
    char *archive = NULL;
    const char *member = NULL;
    if (st == BARLOW_OK && class_names_path) {
        st = read_class_names(class_names_path, who, &text, &names, &n_names);
    } else if (st == BARLOW_OK && (st = split_member(labels_path, who, &archive, &member)) ==
                                      BARLOW_OK && archive) {
        /* the names that barlow_extraction_save_npz stored with the labels */
        st = stored_names(archive, who, &names, &n_names);
        bw_free(archive);
        from_npz = true;
    }
    if (st == BARLOW_OK)
        st = create_from_arrays(n, labels, preds, (const char *const *)names, n_names, who,
                                labels_path, predictions_path ? predictions_path : "", out);
    bw_free(labels);
    bw_free(preds);
    if (from_npz) bw_npy_strings_free(names, n_names);
    else bw_free(names);
    bw_free(text);
    return st;
}

barlow_status barlow_dataset_set_class_names_file(barlow_dataset *ds, const char *path)
{
    static const char who[] = "barlow_dataset_set_class_names_file";
    bw_clear_error();
    if (!ds || !path)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ds ? "ds" : "path");
    char *text = NULL;
    char **names = NULL;
    size_t n_names = 0;
    barlow_status st = read_class_names(path, who, &text, &names, &n_names);
    if (st != BARLOW_OK) return st;
    if (n_names < ds->n_classes) {
        st = bw_error(BARLOW_E_INVALID_ARG,
                      "%s: %s names %zu classes but the dataset has %zu (ids 0..%zu)", who,
                      path, n_names, ds->n_classes, ds->n_classes - 1);
    }
    /* Build the new class table aside, then swap it in: on error the
     * dataset is unchanged. */
    barlow_dataset *tmp = st == BARLOW_OK ? bw_dataset_new(0, who) : NULL;
    if (st == BARLOW_OK && !tmp) st = BARLOW_E_NOMEM;
    int32_t id;
    for (size_t c = 0; st == BARLOW_OK && c < n_names; c++)
        st = bw_dataset_add_class_dup(tmp, names[c], &id, who);
    if (st == BARLOW_OK) {
#define BW_SWAP(T, f) do { T t_ = ds->f; ds->f = tmp->f; tmp->f = t_; } while (0)
        BW_SWAP(char **, class_names);
        BW_SWAP(size_t, n_classes);
        BW_SWAP(size_t, class_cap);
        BW_SWAP(int32_t *, class_hash);
        BW_SWAP(size_t, hash_cap);
        BW_SWAP(struct bw_numeric_names *, numeric);
#undef BW_SWAP
    }
    barlow_dataset_free(tmp); /* the old names (or the unused new ones) */
    bw_free(names);
    bw_free(text);
    return st;
}

/* ---- from the metadata CSV ------------------------------------------------- */

void barlow_dataset_csv_options_init(barlow_dataset_csv_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_DATASET_CSV_OPTIONS_VERSION;
}

enum { COL_FILE, COL_PRED, COL_LABEL, N_COLS };
static const char *const col_names[N_COLS] = {"Filenames", "Predictions", "Labels"};

typedef struct csv_load {
    const char *path;
    bw_csv_reader rd;
    char *data;
    barlow_dataset *ds;
    size_t col[N_COLS];     /* field index of each required column, SIZE_MAX = absent */
    size_t n_fields;        /* header's field count */
    size_t *extra_idx;      /* field index of each extra column */
    char **cells;           /* extra cells, grown row by row */
    size_t cells_cap;
    bool fixed_classes;     /* ids come from a given list */
} csv_load;

/* The header's name of field k for messages: NULL when unknown, longer
 * than 64 bytes or not valid UTF-8. */
static const char *csv_column_name(const csv_load *L, size_t k)
{
    const char *name = NULL;
    for (int c = 0; c < N_COLS; c++)
        if (L->col[c] == k) name = col_names[c];
    for (size_t j = 0; L->ds && j < L->ds->n_extra; j++)
        if (L->extra_idx[j] == k) name = L->ds->extra_names[j];
    size_t n = name ? strlen(name) : 0;
    return n <= 64 && bw_utf8_check(name, n) == n ? name : NULL;
}

/* FORMAT (bw_text_nul_error) when the record just read holds a NUL byte,
 * naming its line, row and column; row SIZE_MAX is the header. */
static barlow_status csv_check_nul(const csv_load *L, size_t row, const char *who)
{
    const bw_csv_reader *r = &L->rd;
    if (!r->nul_line) return BARLOW_OK;
    const char *name = row == SIZE_MAX ? NULL : csv_column_name(L, r->nul_field);
    char where[160];
    if (row == SIZE_MAX)
        snprintf(where, sizeof where, " (header, field %zu)", r->nul_field + 1);
    else if (name)
        snprintf(where, sizeof where, " (row %zu, column '%s')", row, name);
    else
        snprintf(where, sizeof where, " (row %zu, field %zu)", row, r->nul_field + 1);
    return bw_text_nul_error(who, L->path, r->nul_line, where);
}

static barlow_status csv_header(csv_load *L, const char *who)
{
    int got = 0;
    barlow_status st = bw_csv_next(&L->rd, &got, who, L->path);
    if (st == BARLOW_OK && got) st = csv_check_nul(L, SIZE_MAX, who);
    if (st != BARLOW_OK) return st;
    if (!got) return bw_error(BARLOW_E_FORMAT, "%s: %s: empty file (no header)", who, L->path);
    L->n_fields = L->rd.n_fields;
    for (int c = 0; c < N_COLS; c++) L->col[c] = SIZE_MAX;
    size_t n_extra = 0;
    for (size_t k = 0; k < L->n_fields; k++) {
        const char *h = bw_csv_field(&L->rd, k);
        int which = -1;
        for (int c = 0; c < N_COLS; c++)
            if (!strcmp(h, col_names[c])) which = c;
        if (which < 0) {
            n_extra++;
            continue;
        }
        if (L->col[which] != SIZE_MAX)
            return bw_error(BARLOW_E_FORMAT,
                            "%s: %s: line %zu: column '%s' appears twice (fields %zu and %zu)",
                            who, L->path, L->rd.line, h, L->col[which] + 1, k + 1);
        L->col[which] = k;
    }
    for (int c = 0; c < N_COLS; c++) {
        if (c == COL_PRED || L->col[c] != SIZE_MAX) continue;
        return bw_error(BARLOW_E_FORMAT,
                        "%s: %s: line %zu: no '%s' column in the header (need Filenames, "
                        "Labels and optionally Predictions)",
                        who, L->path, L->rd.line, col_names[c]);
    }
    barlow_dataset *ds = L->ds;
    if (n_extra) {
        L->extra_idx = bw_mallocn(n_extra, sizeof *L->extra_idx, who);
        ds->extra_names = bw_calloc(n_extra, sizeof *ds->extra_names, who);
        if (!L->extra_idx || !ds->extra_names) return BARLOW_E_NOMEM;
        for (size_t k = 0; k < L->n_fields; k++) {
            if (k == L->col[COL_FILE] || k == L->col[COL_PRED] || k == L->col[COL_LABEL])
                continue;
            ds->extra_names[ds->n_extra] = bw_strdup(bw_csv_field(&L->rd, k), who);
            if (!ds->extra_names[ds->n_extra]) return BARLOW_E_NOMEM;
            L->extra_idx[ds->n_extra++] = k;
        }
    }
    return BARLOW_OK;
}

static barlow_status csv_class(csv_load *L, const char *name, const char *column, size_t row,
                               int32_t *id, const char *who)
{
    if (!*name)
        return bw_error(BARLOW_E_FORMAT, "%s: %s: line %zu (row %zu): empty %s cell", who,
                        L->path, L->rd.line, row, column);
    barlow_status st = check_name_utf8(name, strlen(name), BARLOW_E_FORMAT);
    if (st != BARLOW_OK)
        return bw_error_prefix(st, "%s: %s: line %zu (row %zu): %s cell", who, L->path,
                               L->rd.line, row, column);
    if (L->fixed_classes) {
        *id = bw_dataset_find_class(L->ds, name);
        if (*id < 0)
            return bw_error(BARLOW_E_FORMAT,
                            "%s: %s: line %zu (row %zu): %s '%s' is not in the class-name list",
                            who, L->path, L->rd.line, row, column, name);
        return BARLOW_OK;
    }
    return bw_dataset_add_class(L->ds, name, id, who);
}

static barlow_status csv_rows(csv_load *L, const char *who)
{
    barlow_dataset *ds = L->ds;
    for (;;) {
        int got = 0;
        barlow_status st = bw_csv_next(&L->rd, &got, who, L->path);
        if (st != BARLOW_OK) return st;
        if (!got) break;
        size_t row = ds->n;
        st = csv_check_nul(L, row, who);
        if (st != BARLOW_OK) return st;
        if (L->rd.n_fields != L->n_fields)
            return bw_error(BARLOW_E_FORMAT,
                            "%s: %s: line %zu (row %zu): %zu fields, but the header has %zu",
                            who, L->path, L->rd.line, row, L->rd.n_fields, L->n_fields);
        const char *file = bw_csv_field(&L->rd, L->col[COL_FILE]);
        if (!*file)
            return bw_error(BARLOW_E_FORMAT, "%s: %s: line %zu (row %zu): empty Filenames cell",
                            who, L->path, L->rd.line, row);
        int32_t label, pred = BW_NO_PREDICTION;
        st = csv_class(L, bw_csv_field(&L->rd, L->col[COL_LABEL]), "Labels", row, &label, who);
        if (st == BARLOW_OK && L->col[COL_PRED] != SIZE_MAX)
            st = csv_class(L, bw_csv_field(&L->rd, L->col[COL_PRED]), "Predictions", row, &pred,
                           who);
        if (st == BARLOW_OK && ds->n_extra) { /* room for this row's cells, zeroed */
            size_t need = (row + 1) * ds->n_extra;
            if (need > L->cells_cap) {
                size_t cap = L->cells_cap ? L->cells_cap * 2 : 64 * ds->n_extra;
                while (cap < need) cap *= 2;
                char **p = bw_reallocn(L->cells, cap, sizeof *p, who);
                if (!p) return bw_error(BARLOW_E_NOMEM, "%s: out of memory", who);
                memset(p + L->cells_cap, 0, (cap - L->cells_cap) * sizeof *p);
                L->cells = p;
                L->cells_cap = cap;
            }
        }
        if (st == BARLOW_OK) st = bw_dataset_append_row(ds, file, label, pred, who);
        if (st != BARLOW_OK) return st;
        /* the row exists now: barlow_dataset_free() frees its cells (NULL ok) */
        for (size_t j = 0; j < ds->n_extra; j++) {
            char *cell = bw_strdup(bw_csv_field(&L->rd, L->extra_idx[j]), who);
            if (!cell) return BARLOW_E_NOMEM;
            L->cells[row * ds->n_extra + j] = cell;
        }
    }
    if (ds->n == 0)
        return bw_error(BARLOW_E_FORMAT, "%s: %s: no rows (the file has only a header)", who,
                        L->path);
    return BARLOW_OK;
}

barlow_status barlow_dataset_load_csv(const char *path, const barlow_dataset_csv_options *opts,
                                      barlow_dataset **out)
{
    static const char who[] = "barlow_dataset_load_csv";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    if (opts) {
        barlow_status vs = bw_check_options_version(
            opts->version, BARLOW_DATASET_CSV_OPTIONS_VERSION,
            "barlow_dataset_load_csv: barlow_dataset_csv_options");
        if (vs != BARLOW_OK) return vs;
        o = *opts; /* version 1 is the only layout so far */
    }
    if (o.class_names && o.class_names_path)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: both class_names and class_names_path are set (give one)", who);
    if (o.class_names && o.n_class_names == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: class_names given with n_class_names=0", who);
    if (!o.class_names && o.n_class_names != 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: n_class_names=%zu but class_names is NULL",
                        who, o.n_class_names);
    if (o.class_names) {
        barlow_status ls = check_name_list(o.class_names, o.n_class_names, who);
        if (ls != BARLOW_OK) return ls;
    }

    csv_load L;
    memset(&L, 0, sizeof L);
    L.path = path;
    char *names_text = NULL;
    char **file_names = NULL;
    size_t n_file_names = 0;
    barlow_status st = BARLOW_OK;
    if (o.class_names_path)
        st = read_class_names(o.class_names_path, who, &names_text, &file_names,
                              &n_file_names);
    size_t data_size = 0;
    if (st == BARLOW_OK) st = bw_read_file(path, who, BARLOW_LIMIT_TEXT_BYTES, &L.data, &data_size);
    if (st == BARLOW_OK) {
        L.ds = bw_dataset_new(0, who);
        if (!L.ds) st = BARLOW_E_NOMEM;
    }
    const char *const *list = o.class_names ? o.class_names : (const char *const *)file_names;
    size_t n_list = o.class_names ? o.n_class_names : n_file_names;
    L.fixed_classes = list != NULL;
    int32_t id;
    for (size_t c = 0; st == BARLOW_OK && c < n_list; c++)
        st = bw_dataset_add_class_dup(L.ds, list[c], &id, who);
    if (st == BARLOW_OK) {
        bw_csv_init(&L.rd, L.data, data_size);
        st = csv_header(&L, who);
    }
    if (st == BARLOW_OK) st = csv_rows(&L, who);
    if (L.ds) { /* hand the extra cells over (also on failure, so free() finds them) */
        if (L.ds->n_extra) {
            L.ds->extra_cells = L.cells;
            L.cells = NULL;
        }
    }
    if (st == BARLOW_OK && !L.fixed_classes) st = bw_dataset_sort_classes(L.ds, who);
    if (st == BARLOW_OK && o.image_root) st = bw_dataset_set_image_root(L.ds, o.image_root, who);
    if (st == BARLOW_OK) st = bw_dataset_finish(L.ds, who);
    bw_csv_free(&L.rd);
    bw_free(L.data);
    bw_free(L.extra_idx);
    bw_free(L.cells);
    bw_free(file_names);
    bw_free(names_text);
    if (st != BARLOW_OK) {
        barlow_dataset_free(L.ds);
        return st;
    }
    *out = L.ds;
    return BARLOW_OK;
}

/* ---- accessors ------------------------------------------------------------- */

size_t barlow_dataset_size(const barlow_dataset *ds) { return ds ? ds->n : 0; }

size_t barlow_dataset_class_count(const barlow_dataset *ds) { return ds ? ds->n_classes : 0; }

const char *barlow_dataset_class_name(const barlow_dataset *ds, int32_t id)
{
    if (!ds || id < 0 || (size_t)id >= ds->n_classes) return NULL;
    if (ds->numeric) return numeric_name(ds, id);
    return ds->class_names[id];
}

barlow_status barlow_dataset_class_id(const barlow_dataset *ds, const char *name, int32_t *out)
{
    static const char who[] = "barlow_dataset_class_id";
    bw_clear_error();
    if (!ds || !name || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ds ? "ds" : !name ? "name" : "out");
    int32_t id = bw_dataset_find_class(ds, name);
    if (id < 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: no class named '%s' (%zu classes)", who, name,
                        ds->n_classes);
    *out = id;
    return BARLOW_OK;
}

const int32_t *barlow_dataset_labels(const barlow_dataset *ds) { return ds ? ds->labels : NULL; }

const int32_t *barlow_dataset_predictions(const barlow_dataset *ds)
{
    return ds && ds->has_predictions ? ds->predictions : NULL;
}

int barlow_dataset_has_predictions(const barlow_dataset *ds)
{
    return ds && ds->has_predictions ? 1 : 0;
}

barlow_status barlow_dataset_set_predictions(barlow_dataset *ds, const int32_t *predictions,
                                             size_t n)
{
    static const char who[] = "barlow_dataset_set_predictions";
    bw_clear_error();
    if (!ds || !predictions)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ds ? "ds" : "predictions");
    if (n != ds->n)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: %zu predictions for a dataset of %zu rows", who, n, ds->n);
    barlow_status st = check_ids(predictions, n, ds->n_classes, who, "predictions");
    if (st != BARLOW_OK) return st;
    memcpy(ds->predictions, predictions, n * sizeof *predictions);
    ds->has_predictions = true;
    return BARLOW_OK;
}

const char *barlow_dataset_filename(const barlow_dataset *ds, size_t i)
{
    if (!ds || i >= ds->n || !ds->sources) return NULL;
    return ds->sources[i];
}

const char *barlow_dataset_image_root(const barlow_dataset *ds)
{
    return ds ? ds->image_root : NULL;
}

barlow_status bw_dataset_image_path(const barlow_dataset *ds, size_t i, char **out,
                                    const char *who)
{
    if (!ds || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ds ? "ds" : "out");
    if (i >= ds->n)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: row %zu out of range (%zu rows)", who, i,
                        ds->n);
    const char *f = ds->sources ? ds->sources[i] : NULL;
    if (!f) return bw_error(BARLOW_E_INVALID_ARG, "%s: row %zu has no source file", who, i);
    const char *root = ds->image_root;
    if (!root || !*root || f[0] == '/') {
        char *s = bw_strdup(f, who);
        if (!s) return BARLOW_E_NOMEM;
        *out = s;
        return BARLOW_OK;
    }
    size_t a = strlen(root), b = strlen(f);
    bool slash = root[a - 1] != '/';
    char *s = bw_malloc(a + slash + b + 1, who);
    if (!s) return BARLOW_E_NOMEM;
    memcpy(s, root, a);
    if (slash) s[a] = '/';
    memcpy(s + a + slash, f, b + 1);
    *out = s;
    return BARLOW_OK;
}

barlow_status barlow_dataset_image_path(const barlow_dataset *ds, size_t i, barlow_buffer *out)
{
    static const char who[] = "barlow_dataset_image_path";
    bw_clear_error();
    char *s = NULL;
    barlow_status st = bw_dataset_image_path(ds, i, out ? &s : NULL, who);
    if (st != BARLOW_OK) return st;
    out->data = s;
    out->size = strlen(s);
    return BARLOW_OK;
}

size_t barlow_dataset_extra_column_count(const barlow_dataset *ds)
{
    return ds ? ds->n_extra : 0;
}

const char *barlow_dataset_extra_column_name(const barlow_dataset *ds, size_t j)
{
    if (!ds || j >= ds->n_extra) return NULL;
    return ds->extra_names[j];
}

const char *barlow_dataset_extra_value(const barlow_dataset *ds, size_t i, size_t j)
{
    if (!ds || i >= ds->n || j >= ds->n_extra || !ds->extra_cells) return NULL;
    return ds->extra_cells[i * ds->n_extra + j];
}

static bool valid_by(barlow_group_by by)
{
    return by == BARLOW_GROUP_BY_LABEL || by == BARLOW_GROUP_BY_PREDICTION;
}

barlow_status barlow_dataset_class_counts(const barlow_dataset *ds, barlow_group_by by,
                                          size_t *sizes, size_t *failures)
{
    static const char who[] = "barlow_dataset_class_counts";
    bw_clear_error();
    if (!ds || !sizes)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ds ? "ds" : "sizes");
    if (!valid_by(by))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: by=%d (must be BARLOW_GROUP_BY_LABEL (0) or "
                        "BARLOW_GROUP_BY_PREDICTION (1))", who, (int)by);
    if (!ds->has_predictions && (by == BARLOW_GROUP_BY_PREDICTION || failures))
        return bw_error(BARLOW_E_STATE, "%s: the dataset has no predictions (needed %s)", who,
                        failures ? "for failures" : "to group by prediction");
    memset(sizes, 0, ds->n_classes * sizeof *sizes);
    if (failures) memset(failures, 0, ds->n_classes * sizeof *failures);
    const int32_t *key = by == BARLOW_GROUP_BY_LABEL ? ds->labels : ds->predictions;
    for (size_t i = 0; i < ds->n; i++) {
        sizes[key[i]]++;
        if (failures && ds->predictions[i] != ds->labels[i]) failures[key[i]]++;
    }
    return BARLOW_OK;
}

/* ---- groups ---------------------------------------------------------------- */

struct barlow_group {
    size_t n;          /* members */
    size_t *idx;       /* member rows */
    uint8_t *fail;     /* n failure flags, NULL without predictions */
    size_t n_fail;
    bool has_pred;
    size_t ds_n;       /* rows of the dataset */
};

/* Makes a group of the n rows idx (taken over). */
static barlow_status group_make(const barlow_dataset *ds, size_t *idx, size_t n,
                                const char *who, barlow_group **out)
{
    barlow_group *g = bw_calloc(1, sizeof *g, who);
    uint8_t *fail = NULL;
    if (g && ds->has_predictions) fail = bw_malloc(n ? n : 1, who);
    if (!g || (ds->has_predictions && !fail)) {
        bw_free(g);
        bw_free(idx);
        return BARLOW_E_NOMEM;
    }
    g->n = n;
    g->idx = idx;
    g->ds_n = ds->n;
    g->has_pred = ds->has_predictions;
    if (fail) {
        for (size_t k = 0; k < n; k++) {
            fail[k] = ds->predictions[idx[k]] != ds->labels[idx[k]];
            g->n_fail += fail[k];
        }
    }
    g->fail = fail;
    *out = g;
    return BARLOW_OK;
}

static barlow_status group_by_class(const barlow_dataset *ds, barlow_group_by by,
                                    int32_t class_id, const char *who, barlow_group **out)
{
    if (!valid_by(by))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: by=%d (must be BARLOW_GROUP_BY_LABEL (0) or "
                        "BARLOW_GROUP_BY_PREDICTION (1))", who, (int)by);
    if (class_id < 0 || (size_t)class_id >= ds->n_classes)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: class_id=%" PRId32 " out of range (0..%zu)",
                        who, class_id, ds->n_classes - 1);
    if (by == BARLOW_GROUP_BY_PREDICTION && !ds->has_predictions)
        return bw_error(BARLOW_E_STATE,
                        "%s: the dataset has no predictions to group by (set them first)", who);
    const int32_t *key = by == BARLOW_GROUP_BY_LABEL ? ds->labels : ds->predictions;
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++) n += key[i] == class_id;
    size_t *idx = bw_mallocn(n ? n : 1, sizeof *idx, who);
    if (!idx) return BARLOW_E_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < ds->n; i++)
        if (key[i] == class_id) idx[k++] = i;
    return group_make(ds, idx, n, who, out);
}

barlow_status barlow_group_create(const barlow_dataset *ds, barlow_group_by by,
                                  int32_t class_id, barlow_group **out)
{
    static const char who[] = "barlow_group_create";
    bw_clear_error();
    if (!ds || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ds ? "ds" : "out");
    return group_by_class(ds, by, class_id, who, out);
}

barlow_status barlow_group_create_by_name(const barlow_dataset *ds, barlow_group_by by,
                                          const char *class_name, barlow_group **out)
{
    static const char who[] = "barlow_group_create_by_name";
    bw_clear_error();
    if (!ds || !class_name || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ds ? "ds" : !class_name ? "class_name" : "out");
    int32_t id = bw_dataset_find_class(ds, class_name);
    if (id < 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: no class named '%s' (%zu classes)", who,
                        class_name, ds->n_classes);
    return group_by_class(ds, by, id, who, out);
}

barlow_status barlow_group_create_from_indices(const barlow_dataset *ds, const size_t *indices,
                                               size_t n, barlow_group **out)
{
    static const char who[] = "barlow_group_create_from_indices";
    bw_clear_error();
    if (!ds || !out || (!indices && n > 0))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ds ? "ds" : !out ? "out" : "indices");
    uint8_t *seen = bw_calloc(ds->n, 1, who);
    size_t *idx = bw_mallocn(n ? n : 1, sizeof *idx, who);
    if (!seen || !idx) {
        bw_free(seen);
        bw_free(idx);
        return BARLOW_E_NOMEM;
    }
    barlow_status st = BARLOW_OK;
    for (size_t k = 0; k < n; k++) {
        size_t i = indices[k];
        if (i >= ds->n) {
            st = bw_error(BARLOW_E_INVALID_ARG,
                          "%s: indices[%zu] = %zu out of range (the dataset has %zu rows)", who,
                          k, i, ds->n);
            break;
        }
        if (seen[i]) {
            st = bw_error(BARLOW_E_INVALID_ARG, "%s: indices[%zu] = %zu repeats an earlier index",
                          who, k, i);
            break;
        }
        seen[i] = 1;
        idx[k] = i;
    }
    bw_free(seen);
    if (st != BARLOW_OK) {
        bw_free(idx);
        return st;
    }
    return group_make(ds, idx, n, who, out);
}

void barlow_group_free(barlow_group *g)
{
    if (!g) return;
    bw_free(g->idx);
    bw_free(g->fail);
    bw_free(g);
}

size_t barlow_group_size(const barlow_group *g) { return g ? g->n : 0; }

const size_t *barlow_group_indices(const barlow_group *g) { return g ? g->idx : NULL; }

size_t barlow_group_dataset_size(const barlow_group *g) { return g ? g->ds_n : 0; }

int barlow_group_has_predictions(const barlow_group *g) { return g && g->has_pred ? 1 : 0; }

static barlow_status group_check(const barlow_group *g, const void *out, const char *who)
{
    if (!g || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !g ? "g" : "out");
    if (!g->has_pred)
        return bw_error(BARLOW_E_STATE,
                        "%s: the group has no predictions (its dataset had none when the "
                        "group was made)", who);
    return BARLOW_OK;
}

barlow_status barlow_group_failures(const barlow_group *g, uint8_t *out)
{
    static const char who[] = "barlow_group_failures";
    bw_clear_error();
    if (!g) return bw_error(BARLOW_E_INVALID_ARG, "%s: g is NULL", who);
    if (!out && g->n > 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL (the group has %zu members)", who,
                        g->n);
    barlow_status st = group_check(g, g, who);
    if (st != BARLOW_OK) return st;
    if (g->n) memcpy(out, g->fail, g->n);
    return BARLOW_OK;
}

barlow_status barlow_group_failure_count(const barlow_group *g, size_t *out)
{
    bw_clear_error();
    barlow_status st = group_check(g, out, "barlow_group_failure_count");
    if (st != BARLOW_OK) return st;
    *out = g->n_fail;
    return BARLOW_OK;
}

barlow_status barlow_group_base_error_rate(const barlow_group *g, double *out)
{
    bw_clear_error();
    barlow_status st = group_check(g, out, "barlow_group_base_error_rate");
    if (st != BARLOW_OK) return st;
    *out = g->n ? (double)g->n_fail / (double)g->n : 0.0;
    return BARLOW_OK;
}

barlow_status barlow_group_gather_rows(const barlow_group *g, const barlow_matrix *features,
                                       barlow_matrix **out)
{
    static const char who[] = "barlow_group_gather_rows";
    bw_clear_error();
    if (!g || !features || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !g ? "g" : !features ? "features" : "out");
    size_t rows = barlow_matrix_rows(features);
    if (rows != g->ds_n)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: the features have %zu rows but the dataset has %zu", who, rows,
                        g->ds_n);
    if (g->n == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the group is empty (no rows to gather)", who);
    barlow_matrix *m = NULL;
    barlow_status st = barlow_matrix_gather_rows(features, g->idx, g->n, &m);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
    *out = m;
    return BARLOW_OK;
}
