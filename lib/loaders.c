/*
 * Image-folder datasets (root/<class>/<file>, ordered like torchvision's
 * ImageFolder), and the image side of any dataset: per-row image checks,
 * loading one row's image, the in-memory image shape. IDX files: lib/idx.c.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "barlow/loaders.h"
#include "dataset_internal.h"
#include "image_internal.h"
#include "internal.h"

enum { BW_FOLDER_MAX_DEPTH = 64 };

static int has_image_ext(const char *name)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".png", ".bmp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t m = strlen(exts[i]);
        if (n > m && strcasecmp(name + n - m, exts[i]) == 0) return 1;
    }
    return 0;
}

static char *join2(const char *a, const char *b, const char *who)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = bw_malloc(na + nb + 2, who);
    if (!s) return NULL;
    memcpy(s, a, na);
    size_t k = na;
    if (na && a[na - 1] != '/') s[k++] = '/';
    memcpy(s + k, b, nb + 1);
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A list of (directory, file name) pairs, the directory relative to root. */
typedef struct bw_file_entry {
    char *dir;  /* "cat" or "cat/sub" */
    char *name; /* "001.jpg" */
} bw_file_entry;

typedef struct bw_file_list {
    bw_file_entry *v;
    size_t n, cap;
} bw_file_list;

static void file_list_free(bw_file_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        bw_free(l->v[i].dir);
        bw_free(l->v[i].name);
    }
    bw_free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static barlow_status file_list_push(bw_file_list *l, const char *dir, const char *name,
                                    const char *who)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        bw_file_entry *v = bw_reallocn(l->v, cap, sizeof *v, who);
        if (!v) return bw_error(BARLOW_E_NOMEM, "%s: out of memory listing files", who);
        l->v = v;
        l->cap = cap;
    }
    char *d = bw_strdup(dir, who), *f = bw_strdup(name, who);
    if (!d || !f) {
        bw_free(d);
        bw_free(f);
        return BARLOW_E_NOMEM;
    }
    l->v[l->n].dir = d;
    l->v[l->n].name = f;
    l->n++;
    return BARLOW_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const bw_file_entry *x = a, *y = b;
    int c = strcmp(x->dir, y->dir);
    return c ? c : strcmp(x->name, y->name);
}

/* Lists the visible entries of directory `abs`; *names are bw_malloc'd. */
static barlow_status list_dir(const char *abs, const char *who, char ***names, size_t *count)
{
    DIR *dir = opendir(abs);
    if (!dir) return bw_error(BARLOW_E_IO, "%s: cannot open directory %s: %s", who, abs,
                              strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    barlow_status st = BARLOW_OK;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue; /* ., .., hidden */
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 32;
            char **nv = bw_reallocn(v, nc, sizeof *nv, who);
            if (!nv) {
                st = bw_error(BARLOW_E_NOMEM, "%s: out of memory listing %s", who, abs);
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n] = bw_strdup(e->d_name, who);
        if (!v[n]) {
            st = BARLOW_E_NOMEM;
            break;
        }
        n++;
    }
    if (st == BARLOW_OK && errno != 0)
        st = bw_error(BARLOW_E_IO, "%s: cannot read directory %s: %s", who, abs, strerror(errno));
    closedir(dir);
    if (st != BARLOW_OK) {
        for (size_t i = 0; i < n; i++) bw_free(v[i]);
        bw_free(v);
        return st;
    }
    if (n) qsort(v, n, sizeof *v, cmp_str);
    *names = v;
    *count = n;
    return BARLOW_OK;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) bw_free(v[i]);
    bw_free(v);
}

/* Adds every image file below root/rel (recursively) to `files`. */
static barlow_status walk(const char *root, const char *rel, int depth, bw_file_list *files,
                          const char *who)
{
    if (depth > BW_FOLDER_MAX_DEPTH)
        return bw_error(BARLOW_E_FORMAT, "%s: %s/%s: directories nested deeper than %d levels "
                                         "(a symbolic link loop?)", who, root, rel,
                        (int)BW_FOLDER_MAX_DEPTH);
    char *abs = join2(root, rel, who);
    if (!abs) return BARLOW_E_NOMEM;
    char **names = NULL;
    size_t n = 0;
    barlow_status st = list_dir(abs, who, &names, &n);
    if (st != BARLOW_OK) {
        bw_free(abs);
        return st;
    }
    for (size_t i = 0; i < n && st == BARLOW_OK; i++) {
        char *p = join2(abs, names[i], who);
        if (!p) {
            st = BARLOW_E_NOMEM;
            break;
        }
        struct stat sb;
        if (stat(p, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                char *sub = join2(rel, names[i], who);
                st = sub ? walk(root, sub, depth + 1, files, who) : BARLOW_E_NOMEM;
                bw_free(sub);
            } else if (S_ISREG(sb.st_mode) && has_image_ext(names[i])) {
                st = file_list_push(files, rel, names[i], who);
            }
        } else if (errno == ELOOP) {
            /* a loop of symbolic links: the kernel stops resolving it (at 40
             * links) before the depth limit is reached; named by its class
             * and entry (the path itself repeats the loop) */
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: in class '%.*s', '%s' leads into a loop of "
                                           "symbolic links (%s at depth %d)", who, root,
                          (int)strcspn(rel, "/"), rel, names[i], strerror(ELOOP), depth);
        } /* a dangling link is not an image file: ignored */
        bw_free(p);
    }
    free_names(names, n);
    bw_free(abs);
    return st;
}

barlow_status barlow_dataset_load_folder(const char *root, barlow_dataset **out)
{
    static const char who[] = "barlow_dataset_load_folder";
    bw_clear_error();
    if (!root) return bw_error(BARLOW_E_INVALID_ARG, "%s: root is NULL", who);
    if (!*root) return bw_error(BARLOW_E_INVALID_ARG, "%s: root is empty", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    struct stat sb;
    if (stat(root, &sb) != 0)
        return bw_error(BARLOW_E_IO, "%s: cannot open %s: %s", who, root, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return bw_error(BARLOW_E_IO, "%s: %s is not a directory", who, root);
    char **entries = NULL;
    size_t n_entries = 0;
    barlow_status st = list_dir(root, who, &entries, &n_entries);
    if (st != BARLOW_OK) return st;

    /* classes: the subdirectories, sorted */
    size_t n_classes = 0;
    for (size_t i = 0; i < n_entries; i++) {
        char *p = join2(root, entries[i], who);
        if (!p) {
            free_names(entries, n_entries);
            return BARLOW_E_NOMEM;
        }
        int is_dir = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
        bw_free(p);
        if (is_dir) entries[n_classes++] = entries[i];
        else bw_free(entries[i]);
    }
    if (n_classes == 0) {
        bw_free(entries);
        return bw_error(BARLOW_E_FORMAT, "%s: %s has no class subdirectories (expected "
                                         "%s/<class>/<image>)", who, root, root);
    }
    barlow_dataset *ds = bw_dataset_new(0, who);
    if (!ds) {
        free_names(entries, n_classes);
        return BARLOW_E_NOMEM;
    }
    bw_file_list files = {0};
    for (size_t c = 0; c < n_classes && st == BARLOW_OK; c++) {
        int32_t id;
        size_t len = strlen(entries[c]), bad = bw_utf8_check(entries[c], len);
        if (bad != len) {
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: class directory %zu: its name is not valid "
                                           "UTF-8: byte 0x%02x at offset %zu (class names must "
                                           "be UTF-8)", who, root, c,
                          (unsigned)(unsigned char)entries[c][bad], bad);
            break;
        }
        st = bw_dataset_add_class(ds, entries[c], &id, who);
        if (st != BARLOW_OK) break;
        file_list_free(&files);
        st = walk(root, entries[c], 1, &files, who);
        if (st != BARLOW_OK) break;
        if (files.n == 0) {
            st = bw_error(BARLOW_E_FORMAT, "%s: class '%s' (%s/%s) has no image files "
                                           "(.jpg .jpeg .png .bmp)", who, entries[c], root,
                          entries[c]);
            break;
        }
        qsort(files.v, files.n, sizeof *files.v, cmp_entry);
        for (size_t k = 0; k < files.n && st == BARLOW_OK; k++) {
            char *relpath = join2(files.v[k].dir, files.v[k].name, who);
            if (!relpath) {
                st = BARLOW_E_NOMEM;
                break;
            }
            st = bw_dataset_append_row(ds, relpath, id, BW_NO_PREDICTION, who);
            bw_free(relpath);
        }
    }
    file_list_free(&files);
    free_names(entries, n_classes);
    if (st == BARLOW_OK) st = bw_dataset_set_image_root(ds, root, who);
    if (st == BARLOW_OK) st = bw_dataset_finish(ds, who);
    if (st != BARLOW_OK) {
        barlow_dataset_free(ds);
        return st;
    }
    *out = ds;
    return BARLOW_OK;
}

/* ---- the image side of any dataset ---------------------------------------- */

barlow_status barlow_dataset_image_shape(const barlow_dataset *ds, size_t *height,
                                         size_t *width, size_t *channels)
{
    static const char who[] = "barlow_dataset_image_shape";
    bw_clear_error();
    if (!ds || !height || !width || !channels)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ds ? "ds" : !height ? "height" : !width ? "width" : "channels");
    if (!ds->pixels)
        return bw_error(BARLOW_E_STATE, "%s: the dataset's images are files, not in-memory "
                                        "images (their sizes vary)", who);
    *height = ds->img_h;
    *width = ds->img_w;
    *channels = ds->img_c;
    return BARLOW_OK;
}

barlow_status barlow_dataset_load_image(const barlow_dataset *ds, size_t i,
                                        const barlow_image_options *opts, barlow_image **out)
{
    static const char who[] = "barlow_dataset_load_image";
    bw_clear_error();
    if (!ds || !out) return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                                     !ds ? "ds" : "out");
    if (i >= ds->n)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: row %zu >= %zu rows", who, i, ds->n);
    size_t channels = 0;
    bw_image_limits lim;
    barlow_status st = bw_image_read_options(opts, who, &channels, &lim);
    if (st != BARLOW_OK) return st;
    if (ds->pixels) {
        st = bw_image_check_limits(ds->img_w, ds->img_h, &lim, "<in-memory image>", 0);
        if (st != BARLOW_OK) return bw_error_prefix(st, "%s: row %zu", who, i);
        size_t n = ds->img_w * ds->img_h, c = ds->img_c;
        return bw_image_from_pixels(ds->pixels + i * n * c, ds->img_w, ds->img_h, c,
                                    channels ? channels : c, who, out);
    }
    if (!ds->sources || !ds->sources[i])
        return bw_error(BARLOW_E_STATE, "%s: row %zu has no image (no file name, no in-memory "
                                        "pixels)", who, i);
    char *path = NULL;
    st = bw_dataset_image_path(ds, i, &path, who);
    if (st != BARLOW_OK) return st;
    st = barlow_image_decode_file(path, opts, out);
    bw_free(path);
    if (st != BARLOW_OK) return bw_error_prefix(st, "%s: row %zu", who, i);
    return BARLOW_OK;
}

barlow_status barlow_dataset_check_images(const barlow_dataset *ds,
                                          const barlow_image_options *opts, int32_t *row_status,
                                          size_t *n_bad, barlow_buffer *report)
{
    static const char who[] = "barlow_dataset_check_images";
    bw_clear_error();
    if (!ds) return bw_error(BARLOW_E_INVALID_ARG, "%s: ds is NULL", who);
    size_t channels = 0;
    bw_image_limits lim;
    barlow_status st = bw_image_read_options(opts, who, &channels, &lim);
    if (st != BARLOW_OK) return st;
    int32_t *status = bw_calloc(ds->n ? ds->n : 1, sizeof *status, who);
    if (!status) return BARLOW_E_NOMEM;
    bw_sb sb;
    bw_sb_init(&sb);
    bw_sb_append(&sb, "");
    size_t bad = 0;
    for (size_t i = 0; i < ds->n; i++) {
        barlow_status rs = BARLOW_OK;
        if (ds->pixels) {
            rs = bw_image_check_limits(ds->img_w, ds->img_h, &lim, "<in-memory image>", 0);
        } else if (!ds->sources || !ds->sources[i]) {
            rs = bw_error(BARLOW_E_STATE, "no image file name");
        } else {
            char *path = NULL;
            rs = bw_dataset_image_path(ds, i, &path, who);
            char *data = NULL;
            size_t size = 0;
            if (rs == BARLOW_OK) rs = bw_read_file(path, "image", BARLOW_LIMIT_IMAGE_BYTES, &data, &size);
            if (rs == BARLOW_OK) {
                int fmt = 0;
                size_t w = 0, h = 0;
                rs = bw_image_probe_raw((const uint8_t *)data, size, path, &fmt, &w, &h);
                if (rs == BARLOW_OK) rs = bw_image_check_limits(w, h, &lim, path, fmt);
            }
            bw_free(data);
            bw_free(path);
        }
        if (rs == BARLOW_E_NOMEM) {
            bw_free(status);
            bw_sb_free(&sb);
            return bw_error(BARLOW_E_NOMEM, "%s: out of memory at row %zu", who, i);
        }
        status[i] = (int32_t)rs;
        if (rs != BARLOW_OK) {
            bad++;
            const char *m = barlow_last_error();
            if (strncmp(m, "image: ", 7) == 0) m += 7;
            bw_sb_appendf(&sb, "row %zu: %s\n", i, m);
        }
    }
    bw_clear_error();
    barlow_buffer buf = {0};
    if (report) {
        st = bw_sb_finish(&sb, &buf, who);
        if (st != BARLOW_OK) {
            bw_free(status);
            return st;
        }
    } else {
        bw_sb_free(&sb);
    }
    if (row_status) memcpy(row_status, status, ds->n * sizeof *status);
    bw_free(status);
    if (n_bad) *n_bad = bad;
    if (report) *report = buf;
    return BARLOW_OK;
}

/* ---- the extractor's row loader (lib/image_internal.h) -------------------- */

barlow_status bw_image_load_row(const struct barlow_dataset *ds, size_t row,
                                const bw_preprocess *pp, float *chw_out, char *reason,
                                size_t reason_len)
{
    if (reason && reason_len > 0) reason[0] = '\0';
    if (!ds || !chw_out)
        return bw_image_fill_reason(bw_error(BARLOW_E_INVALID_ARG, "bw_image_load_row: NULL dataset "
                                                          "or output"), reason, reason_len);
    if (row >= ds->n)
        return bw_image_fill_reason(bw_error(BARLOW_E_INVALID_ARG, "bw_image_load_row: row %zu >= %zu "
                                                          "rows", row, ds->n),
                           reason, reason_len);
    bw_image_source src = {0};
    if (ds->pixels) {
        size_t per = ds->img_h * ds->img_w * ds->img_c;
        src.pixels = ds->pixels + row * per;
        src.width = ds->img_w;
        src.height = ds->img_h;
        src.channels = ds->img_c;
        barlow_status st = bw_image_load_source(&src, pp, chw_out, reason, reason_len);
        if (st != BARLOW_OK && reason && reason_len > 0) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "row %zu: %s", row, reason);
            snprintf(reason, reason_len, "%s", tmp);
        }
        return st;
    }
    if (!ds->sources || !ds->sources[row])
        return bw_image_fill_reason(bw_error(BARLOW_E_STATE, "row %zu has no image (no file name and "
                                                    "no in-memory pixels)", row),
                           reason, reason_len);
    char *path = NULL;
    barlow_status st = bw_dataset_image_path(ds, row, &path, "barlow_dataset_image_path");
    if (st != BARLOW_OK) return bw_image_fill_reason(st, reason, reason_len);
    src.path = path;
    st = bw_image_load_source(&src, pp, chw_out, reason, reason_len);
    bw_free(path);
    return st;
}
