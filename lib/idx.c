/*
 * IDX / IDX.gz datasets (MNIST, Fashion-MNIST, KMNIST, EMNIST): images held
 * in memory, labels as class ids. Compression is detected from the content
 * (zlib's gz* functions read plain files transparently). A header's sizes
 * never drive an allocation larger than the data actually present: the
 * data is read in growing chunks up to the claimed size, so a lying header
 * costs at most the file's real size.
 */
#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "barlow/loaders.h"
#include "dataset_internal.h"
#include "image_internal.h"
#include "internal.h"

enum { BW_IDX_UBYTE = 0x08 };

typedef struct bw_idx {
    size_t ndim;
    size_t dims[4];
    uint8_t *data; /* product(dims) bytes */
    size_t count;  /* product(dims) */
} bw_idx;

static const char *gz_reason(gzFile gz)
{
    int err = 0;
    const char *m = gzerror(gz, &err);
    if (err == Z_ERRNO) return strerror(errno);
    return m && *m ? m : "read error";
}

/* Reads exactly n bytes; returns the number read (< n at end of data) or
 * -1 on a read/decompression error. */
static long long gz_read_full(gzFile gz, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t chunk = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(gz, (char *)buf + got, (unsigned)chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

static barlow_status idx_read(const char *path, int want_kind, bw_idx *out, const char *who)
{
    const char *kind = want_kind == 1 ? "labels" : "images";
    int fd = -1;
    uint64_t fsize = 0;
    barlow_status ost = bw_open_input(path, who, BW_NO_LIMIT, &fd, &fsize);
    if (ost != BARLOW_OK) return ost;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return bw_error(BARLOW_E_NOMEM, "%s: cannot open %s: out of memory", who, path);
    }
    uint8_t magic[4];
    long long r = gz_read_full(gz, magic, 4);
    barlow_status st = BARLOW_OK;
    if (r < 0) {
        int err = 0;
        gzerror(gz, &err);
        st = bw_error(err == Z_ERRNO ? BARLOW_E_IO : BARLOW_E_FORMAT, "%s: cannot read %s: %s",
                      who, path, gz_reason(gz));
        goto fail;
    }
    if (r < 4) {
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: %s file of %lld bytes has no IDX header", who,
                      path, kind, r);
        goto fail;
    }
    if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > 4) {
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: not an IDX file (magic %02x%02x%02x%02x; "
                                       "expected 0000080%d)", who, path, magic[0], magic[1],
                      magic[2], magic[3], want_kind == 1 ? 1 : 3);
        goto fail;
    }
    if (magic[2] != BW_IDX_UBYTE) {
        static const struct { uint8_t code; const char *name; } types[] = {
            {0x09, "signed byte"}, {0x0B, "int16"}, {0x0C, "int32"}, {0x0D, "float32"},
            {0x0E, "float64"}};
        const char *tn = NULL;
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (types[i].code == magic[2]) tn = types[i].name;
        if (tn)
            st = bw_error(BARLOW_E_UNSUPPORTED, "%s: %s: IDX data type %s is not supported "
                                                "(unsigned byte only)", who, path, tn);
        else
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: unknown IDX data type 0x%02x", who, path,
                          magic[2]);
        goto fail;
    }
    size_t ndim = magic[3];
    int ok_dims = want_kind == 1 ? ndim == 1 : (ndim == 3 || ndim == 4);
    if (!ok_dims) {
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: %s IDX file with %zu dimensions (expected %s)",
                      who, path, kind, ndim, want_kind == 1 ? "1 (n)" : "3 (n, h, w) or 4 "
                                                                        "(n, h, w, c)");
        goto fail;
    }
    uint8_t hdr[16];
    r = gz_read_full(gz, hdr, 4 * ndim);
    if (r < 0 || (size_t)r < 4 * ndim) {
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: truncated IDX header (%zu dimensions)", who,
                      path, ndim);
        goto fail;
    }
    size_t count = 1;
    for (size_t d = 0; d < ndim; d++) {
        uint32_t v = (uint32_t)hdr[4 * d] << 24 | (uint32_t)hdr[4 * d + 1] << 16 |
                     (uint32_t)hdr[4 * d + 2] << 8 | hdr[4 * d + 3];
        out->dims[d] = v;
        if (v == 0) {
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: IDX dimension %zu is 0", who, path, d);
            goto fail;
        }
        count *= v; /* at most 4 × 32 bits: checked below against overflow */
    }
    if (ndim >= 3) {
        size_t h = out->dims[1], w = out->dims[2];
        size_t c = ndim == 4 ? out->dims[3] : 1;
        bw_image_limits lim;
        bw_image_limits_default(&lim);
        st = bw_image_check_limits(w, h, &lim, path, 0);
        if (st != BARLOW_OK) {
            bw_error_prefix(st, "%s", who);
            goto fail;
        }
        if (c != 1 && c != 3) {
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: IDX images with %zu channels (1 or 3)", who,
                          path, c);
            goto fail;
        }
        /* n*h*w*c overflow: h*w*c <= 3*2^28, so n <= SIZE_MAX / that */
        if (out->dims[0] > SIZE_MAX / (h * w * c)) {
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: header claims %zu images of %zux%zux%zu "
                                           "(size overflow)", who, path, out->dims[0], h, w, c);
            goto fail;
        }
        count = out->dims[0] * h * w * c;
    }
    /* Read the data in growing chunks, never beyond what is present nor past
     * the array limit (+1 byte, to tell "over the limit" from "truncated"). */
    uint64_t lim = barlow_limit_get(BARLOW_LIMIT_ARRAY_BYTES);
    size_t target = (uint64_t)count > lim ? (size_t)lim + 1 : count;
    size_t cap = target < ((size_t)1 << 20) ? target : ((size_t)1 << 20), got = 0;
    uint8_t *data = bw_malloc(cap, who);
    if (!data) {
        st = BARLOW_E_NOMEM;
        goto fail;
    }
    while (got < target) {
        if (got == cap) {
            size_t nc = cap * 2 < target ? cap * 2 : target;
            uint8_t *nd = bw_realloc(data, nc, who);
            if (!nd) {
                bw_free(data);
                st = bw_error(BARLOW_E_NOMEM, "%s: out of memory reading %s (%zu bytes)", who,
                              path, nc);
                goto fail;
            }
            data = nd;
            cap = nc;
        }
        size_t want = cap - got;
        r = gz_read_full(gz, data + got, want);
        if (r < 0) {
            bw_free(data);
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: corrupt data after %zu bytes: %s", who, path,
                          got, gz_reason(gz));
            goto fail;
        }
        got += (size_t)r;
        if ((size_t)r < want) break; /* end of data */
    }
    if (got > lim) {
        bw_free(data);
        st = bw_check_limit(BARLOW_LIMIT_ARRAY_BYTES, count, who, path, "the data is");
        goto fail;
    }
    if (got < count) {
        bw_free(data);
        if (ndim == 1)
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: truncated: the header says %zu labels but "
                                           "the file holds %zu", who, path, count, got);
        else
            st = bw_error(BARLOW_E_FORMAT, "%s: %s: truncated: the header says %zu images of "
                                           "%zux%zu (%zu bytes) but the file holds %zu bytes",
                          who, path, out->dims[0], out->dims[1], out->dims[2], count, got);
        goto fail;
    }
    uint8_t extra;
    r = gz_read_full(gz, &extra, 1);
    if (r != 0) {
        bw_free(data);
        st = r < 0 ? bw_error(BARLOW_E_FORMAT, "%s: %s: corrupt data at the end: %s", who, path,
                              gz_reason(gz))
                   : bw_error(BARLOW_E_FORMAT, "%s: %s: the file holds more data than its "
                                               "header's %zu %s (a lying header?)", who, path,
                              out->dims[0], kind);
        goto fail;
    }
    gzclose(gz);
    out->ndim = ndim;
    out->data = data;
    out->count = count;
    return BARLOW_OK;
fail:
    gzclose(gz);
    return st;
}

barlow_status barlow_dataset_load_idx(const char *images_path, const char *labels_path,
                                      barlow_dataset **out)
{
    static const char who[] = "barlow_dataset_load_idx";
    bw_clear_error();
    if (!images_path || !labels_path || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !images_path ? "images_path" : !labels_path ? "labels_path" : "out");
    bw_idx im = {0}, lb = {0};
    barlow_status st = idx_read(images_path, 3, &im, who);
    if (st != BARLOW_OK) return st;
    st = idx_read(labels_path, 1, &lb, who);
    if (st != BARLOW_OK) {
        bw_free(im.data);
        return st;
    }
    size_t n = im.dims[0];
    if (lb.dims[0] != n) {
        bw_free(im.data);
        bw_free(lb.data);
        return bw_error(BARLOW_E_FORMAT, "%s: %s has %zu images but %s has %zu labels", who,
                        images_path, n, labels_path, lb.dims[0]);
    }
    int max_label = 0;
    for (size_t i = 0; i < n; i++)
        if (lb.data[i] > max_label) max_label = lb.data[i];
    barlow_dataset *ds = bw_dataset_new(n, who);
    if (!ds) {
        bw_free(im.data);
        bw_free(lb.data);
        return BARLOW_E_NOMEM;
    }
    for (int c = 0; c <= max_label && st == BARLOW_OK; c++) {
        char name[8];
        int32_t id;
        snprintf(name, sizeof name, "%d", c);
        st = bw_dataset_add_class(ds, name, &id, who);
    }
    for (size_t i = 0; i < n && st == BARLOW_OK; i++)
        st = bw_dataset_append_row(ds, NULL, lb.data[i], BW_NO_PREDICTION, who);
    bw_free(lb.data);
    if (st == BARLOW_OK) {
        ds->pixels = im.data;
        im.data = NULL;
        ds->img_h = im.dims[1];
        ds->img_w = im.dims[2];
        ds->img_c = im.ndim == 4 ? im.dims[3] : 1;
        st = bw_dataset_finish(ds, who);
    }
    bw_free(im.data);
    if (st != BARLOW_OK) {
        barlow_dataset_free(ds);
        return st;
    }
    *out = ds;
    return BARLOW_OK;
}
