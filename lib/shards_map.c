/* A manifest read back (barlow/shards.h): checked against its shards, its
 * features as one matrix over the shard files' mappings, its other members
 * joined. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barlow/shards.h"
#include "json.h"
#include "npy.h"
#include "shards_internal.h"

/* ---- the manifest file --------------------------------------------------------- */

void bw_manifest_free(bw_manifest *mf)
{
    for (size_t i = 0; mf->path && i < mf->n; i++) bw_free(mf->path[i]);
    bw_free(mf->path);
    bw_free(mf->shard);
    bw_free(mf->bytes);
    memset(mf, 0, sizeof *mf);
}

static barlow_status mf_bad(const char *who, const char *path, size_t i, const char *key,
                            const bw_json *v, const char *want)
{
    return bw_error(BARLOW_E_FORMAT, "%s: %s: shards[%zu].%s is %s; expected %s", who, path, i,
                    key, bw_json_describe(v), want);
}

/* shards[i].path resolved against the manifest's directory (dir, dlen). */
static barlow_status entry_path(const bw_json *e, const char *dir, size_t dlen, size_t i,
                                const char *who, const char *path, char **out)
{
    const bw_json *v = bw_json_get(e, "path");
    size_t len = 0;
    const char *s = bw_json_string(v, &len);
    if (!s || len == 0 || strlen(s) != len)
        return mf_bad(who, path, i, "path", v, "a file name");
    bool abs = s[0] == '/' || dlen == 0;
    size_t n = (abs ? 0 : dlen + 1) + len + 1;
    char *p = bw_malloc(n, who);
    if (!p) return BARLOW_E_NOMEM;
    if (abs) memcpy(p, s, len + 1);
    else snprintf(p, n, "%.*s/%s", (int)dlen, dir, s);
    *out = p;
    return BARLOW_OK;
}

static barlow_status read_entry(const bw_json *e, bw_manifest *mf, size_t i, const char *dir,
                                size_t dlen, const char *who, const char *path)
{
    static const char *const keys[] = {"index", "begin", "end", "extracted", "bytes"};
    bw_shard_meta *m = &mf->shard[i];
    size_t vals[5];
    if (!bw_json_is(e, BW_JSON_OBJECT))
        return bw_error(BARLOW_E_FORMAT, "%s: %s: shards[%zu] is %s; expected an object", who,
                        path, i, bw_json_describe(e));
    for (size_t k = 0; k < 5; k++) {
        const bw_json *v = bw_json_get(e, keys[k]);
        if (!bw_json_size_t(v, &vals[k]))
            return mf_bad(who, path, i, keys[k], v, "a non-negative integer");
    }
    *m = mf->all;
    m->index = vals[0];
    m->begin = vals[1];
    m->end = vals[2];
    m->extracted = vals[3];
    m->count = mf->n;
    mf->bytes[i] = vals[4];
    if (m->index != i)
        return bw_error(BARLOW_E_FORMAT, "%s: %s: shards[%zu] has index %zu", who, path, i,
                        m->index);
    size_t at = i ? mf->shard[i - 1].end : 0;
    if (m->begin != at || m->end <= m->begin || m->end > mf->all.dataset_rows ||
        m->extracted > m->end - m->begin)
        return bw_error(BARLOW_E_FORMAT,
                        "%s: %s: shards[%zu] covers rows %zu..%zu with %zu extracted; expected "
                        "a non-empty range from row %zu within the dataset's %zu", who, path, i,
                        m->begin, m->end, m->extracted, at, mf->all.dataset_rows);
    return entry_path(e, dir, dlen, i, who, path, &mf->path[i]);
}

static barlow_status read_shards(const bw_json *root, bw_manifest *mf, const char *who,
                                 const char *path)
{
    const bw_json *arr = bw_json_get(root, "shards");
    size_t n = bw_json_length(arr);
    if (!bw_json_is(arr, BW_JSON_ARRAY) || n == 0)
        return bw_error(BARLOW_E_FORMAT, "%s: %s: \"shards\" is %s; expected a non-empty array",
                        who, path, bw_json_describe(arr));
    mf->shard = bw_calloc(n, sizeof *mf->shard, who);
    mf->path = bw_calloc(n, sizeof *mf->path, who);
    mf->bytes = bw_calloc(n, sizeof *mf->bytes, who);
    if (!mf->shard || !mf->path || !mf->bytes) return BARLOW_E_NOMEM;
    mf->n = n;
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 0;
    barlow_status st = BARLOW_OK;
    size_t total = 0;
    for (size_t i = 0; i < n && !st; i++) {
        st = read_entry(bw_json_element(arr, i), mf, i, path, dlen, who, path);
        if (!st) total += mf->shard[i].extracted;
    }
    if (!st && mf->shard[n - 1].end != mf->all.dataset_rows)
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: the shards end at row %zu of the dataset's %zu",
                      who, path, mf->shard[n - 1].end, mf->all.dataset_rows);
    if (!st && total != mf->all.extracted)
        st = bw_error(BARLOW_E_FORMAT,
                      "%s: %s: \"extracted\" is %zu but the shards' add up to %zu", who, path,
                      mf->all.extracted, total);
    if (!st && total == 0)
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: no extracted rows", who, path);
    return st;
}

barlow_status bw_manifest_read(const char *path, const char *who, bw_manifest *mf)
{
    memset(mf, 0, sizeof *mf);
    char *text = NULL;
    size_t len = 0;
    barlow_status st = bw_read_file(path, who, BARLOW_LIMIT_TEXT_BYTES, &text, &len);
    if (st) return st;
    bw_json *root = NULL;
    st = bw_json_parse(text, len, path, 8, &root);
    bw_free(text);
    if (st) return bw_error_prefix(st, "%s", who);
    st = bw_shard_read_common(root, "barlow-features-manifest", BARLOW_MANIFEST_FORMAT_VERSION,
                              &mf->all, who, path);
    if (!st && !bw_json_size_t(bw_json_get(root, "extracted"), &mf->all.extracted))
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: \"extracted\" is %s; expected a non-negative "
                                       "integer", who, path,
                      bw_json_describe(bw_json_get(root, "extracted")));
    if (!st) st = read_shards(root, mf, who, path);
    bw_json_free(root);
    if (st) bw_manifest_free(mf);
    return st;
}

barlow_status bw_manifest_check_shard(const bw_manifest *mf, size_t i, const char *who)
{
    const char *p = mf->path[i];
    struct stat sb;
    if (stat(p, &sb) != 0)
        return bw_error(BARLOW_E_IO, "%s: shard %zu of the manifest, %s: %s", who, i, p,
                        strerror(errno));
    if ((uint64_t)sb.st_size != mf->bytes[i])
        return bw_error(BARLOW_E_FORMAT,
                        "%s: shard %zu, %s, has %llu bytes; the manifest says %llu (was it "
                        "replaced or truncated?)", who, i, p, (unsigned long long)sb.st_size,
                        (unsigned long long)mf->bytes[i]);
    bw_shard_meta m;
    barlow_status st = bw_shard_read_meta(p, who, &m);
    if (st) return st;
    const bw_shard_meta *e = &mf->shard[i];
    char diff[1200];
    if (m.index != e->index || m.begin != e->begin || m.end != e->end ||
        m.extracted != e->extracted || bw_shard_meta_differs(e, &m, diff, sizeof diff))
        return bw_error(BARLOW_E_FORMAT,
                        "%s: shard %zu, %s, is not the one the manifest lists (it is shard %zu "
                        "of %zu, rows %zu..%zu, %zu extracted, model %.12s...)", who, i, p,
                        m.index, m.count, m.begin, m.end, m.extracted, m.model_sha256);
    return BARLOW_OK;
}

/* ---- the features, mapped ------------------------------------------------------ */

/* A byte source over [off, off+size) of an open file (for the stored
 * member's .npy header). */
typedef struct range_src {
    bw_src base;
    int fd;
    uint64_t off, pos;
} range_src;

static barlow_status range_read(bw_src *s, void *buf, size_t n, size_t *got)
{
    range_src *r = (range_src *)s;
    uint64_t left = s->total - r->pos;
    size_t want = n < left ? n : (size_t)left, done = 0;
    while (done < want) {
        ssize_t k = pread(r->fd, (char *)buf + done, want - done, (off_t)(r->off + r->pos));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return bw_error(BARLOW_E_IO, "%s: cannot read %s: %s", s->who, s->path,
                                   strerror(errno));
        if (k == 0) return bw_error(BARLOW_E_FORMAT, "%s: %s is truncated", s->who, s->path);
        done += (size_t)k;
        r->pos += (uint64_t)k;
    }
    *got = done;
    return BARLOW_OK;
}

static barlow_status range_finish(bw_src *s)
{
    (void)s;
    return BARLOW_OK;
}

/* The file offset of shard i's features data, checked: a stored float32
 * C-order (extracted × features) member. */
static barlow_status features_offset(const bw_manifest *mf, size_t i, FILE *fp, uint64_t fsize,
                                     const char *who, uint64_t *data_off)
{
    const char *p = mf->path[i];
    uint64_t off = 0, size = 0;
    barlow_status st = bw_npz_stored_member(fp, fsize, p, "features", who, &off, &size);
    if (st) return st;
    char name[4200];
    snprintf(name, sizeof name, "%s:features.npy", p);
    range_src r = {{range_read, range_finish, size, who, name, false}, fileno(fp), off, 0};
    bw_npy_header h;
    st = bw_npy_read_header(&r.base, &h);
    if (st) return st;
    const bw_shard_meta *e = &mf->shard[i];
    if (h.dtype != BARLOW_DTYPE_FLOAT32 || h.ndim != 2 || h.fortran || h.str_chars ||
        h.shape[0] != e->extracted || h.shape[1] != e->features || h.data_offset % 4 != 0)
        return bw_error(BARLOW_E_FORMAT,
                        "%s: %s is not a C-order float32 %zu x %zu array", who, name,
                        e->extracted, e->features);
    *data_off = off + h.data_offset;
    return BARLOW_OK;
}

/* Reads len bytes at file offset off into dst. */
static barlow_status pread_all(int fd, void *dst, size_t len, uint64_t off, const char *who,
                               const char *path)
{
    for (size_t done = 0; done < len;) {
        ssize_t k = pread(fd, (char *)dst + done, len - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return bw_error(k < 0 ? BARLOW_E_IO : BARLOW_E_FORMAT, "%s: cannot read %s: %s",
                            who, path, k < 0 ? strerror(errno) : "the file is truncated");
        done += (size_t)k;
    }
    return BARLOW_OK;
}

/* Places len bytes of the file at src into the region at dst: the pages
 * wholly inside mapped from the file when the offsets agree modulo the
 * page size, the rest read. *mapped counts the bytes mapped. */
static barlow_status place_shard(unsigned char *dst, size_t len, int fd, uint64_t src,
                                 size_t page, const char *who, const char *path, size_t *mapped)
{
    uintptr_t a = (uintptr_t)dst;
    uintptr_t lo = (a + page - 1) / page * page, hi = (a + len) / page * page;
    bool congruent = (a % page) == (size_t)(src % page);
    if (!congruent || hi <= lo) return pread_all(fd, dst, len, src, who, path);
    size_t head = lo - a, mid = hi - lo, tail = a + len - hi;
    barlow_status st = pread_all(fd, dst, head, src, who, path);
    if (!st && mmap((void *)lo, mid, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
                    (off_t)(src + head)) == MAP_FAILED)
        st = bw_error(BARLOW_E_IO, "%s: cannot map %s: %s", who, path, strerror(errno));
    if (!st) st = pread_all(fd, (void *)hi, tail, src + head + mid, who, path);
    if (!st) *mapped += mid;
    return st;
}

/* Checks shard i and places its features at dst. */
static barlow_status load_shard(const bw_manifest *mf, size_t i, unsigned char *dst,
                                size_t page, const char *who, size_t *mapped)
{
    barlow_status st = bw_manifest_check_shard(mf, i, who);
    if (st) return st;
    FILE *fp = NULL;
    uint64_t fsize = 0;
    st = bw_fopen_input(mf->path[i], who, BW_NO_LIMIT, &fp, &fsize);
    if (st) return st;
    uint64_t off = 0;
    st = features_offset(mf, i, fp, fsize, who, &off);
    size_t len = mf->shard[i].extracted * mf->all.features * sizeof(float);
    if (!st && (off > fsize || fsize - off < len))
        st = bw_error(BARLOW_E_FORMAT, "%s: %s: the features run past the end of the file", who,
                      mf->path[i]);
    if (!st && len) st = place_shard(dst, len, fileno(fp), off, page, who, mf->path[i], mapped);
    fclose(fp);
    return st;
}

barlow_status barlow_matrix_open_manifest(const char *path, barlow_matrix **out)
{
    static const char who[] = "barlow_matrix_open_manifest";
    bw_clear_error();
    if (!path || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !path ? "path" : "out");
    bw_manifest mf;
    barlow_status st = bw_manifest_read(path, who, &mf);
    if (st) return st;
    size_t rows = mf.all.extracted, d = mf.all.features;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (rows > SIZE_MAX / sizeof(float) / d - page) {
        bw_manifest_free(&mf);
        return bw_error(BARLOW_E_FORMAT, "%s: %s: %zu x %zu features overflow", who, path, rows,
                        d);
    }
    size_t len = (rows * d * sizeof(float) + page - 1) / page * page;
    unsigned char *base = bw_alloc_injected_failure()
                              ? MAP_FAILED
                              : mmap(NULL, len, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        bw_manifest_free(&mf);
        return bw_error(BARLOW_E_NOMEM, "%s: cannot reserve %zu bytes of address space: %s",
                        who, len, strerror(errno));
    }
    size_t at = 0, mapped = 0;
    for (size_t i = 0; i < mf.n && !st; i++) {
        st = load_shard(&mf, i, base + at, page, who, &mapped);
        at += mf.shard[i].extracted * d * sizeof(float);
    }
    if (!st && mprotect(base, len, PROT_READ) != 0)
        st = bw_error(BARLOW_E_IO, "%s: mprotect: %s", who, strerror(errno));
    barlow_matrix *m = NULL;
    if (!st) st = bw_matrix_new((float *)(void *)base, rows, d, d, BW_MATRIX_MAPPED, who, &m);
    bw_manifest_free(&mf);
    if (st) {
        munmap(base, len);
        return st;
    }
    m->map_base = base;
    m->map_len = len;
    *out = m;
    return BARLOW_OK;
}

/* ---- the other members, joined ---------------------------------------------------- */

/* Appends array a to the joined buffer (first: set the dtype and shape). */
static barlow_status join_one(barlow_array *j, const barlow_array *a, bool first,
                              const char *who, const char *path, const char *name)
{
    size_t nd = barlow_array_ndim(a);
    if (first) {
        j->dtype = barlow_array_dtype(a);
        j->ndim = nd;
        for (size_t k = 0; k < nd; k++) j->shape[k] = barlow_array_dim(a, k);
        j->shape[0] = 0;
    }
    bool same = nd >= 1 && nd == j->ndim && barlow_array_dtype(a) == j->dtype;
    for (size_t k = 1; same && k < nd; k++) same = barlow_array_dim(a, k) == j->shape[k];
    if (!same)
        return bw_error(BARLOW_E_FORMAT,
                        "%s: %s:%s differs in dtype or shape from the first shard's", who, path,
                        name);
    size_t el = barlow_dtype_size(j->dtype), n = barlow_array_size(a), add = n * el;
    size_t have = j->size * el;
    unsigned char *d = bw_realloc(j->data, have + add + 1, who);
    if (!d) return bw_error(BARLOW_E_NOMEM, "%s: out of memory", who);
    j->data = d;
    memcpy(d + have, barlow_array_data(a), add);
    j->size += n;
    j->shape[0] += barlow_array_dim(a, 0);
    return BARLOW_OK;
}

barlow_status barlow_array_load_manifest(const char *path, const char *name, barlow_array **out)
{
    static const char who[] = "barlow_array_load_manifest";
    bw_clear_error();
    if (!path || !name || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !path ? "path" : !name ? "name" : "out");
    bw_manifest mf;
    barlow_status st = bw_manifest_read(path, who, &mf);
    if (st) return st;
    barlow_array *j = bw_calloc(1, sizeof *j, who);
    if (!j) st = BARLOW_E_NOMEM;
    for (size_t i = 0; i < mf.n && !st; i++) {
        barlow_array *a = NULL;
        st = bw_manifest_check_shard(&mf, i, who);
        if (!st) {
            st = barlow_array_load_npz(mf.path[i], name, &a);
            if (st) bw_error_prefix(st, "%s", who);
        }
        if (!st) st = join_one(j, a, i == 0, who, mf.path[i], name);
        barlow_array_free(a);
    }
    bw_manifest_free(&mf);
    if (!st && !j->data) {
        j->data = bw_malloc(1, who);
        if (!j->data) st = bw_error(BARLOW_E_NOMEM, "%s: out of memory", who);
    }
    if (st) {
        barlow_array_free(j);
        return st;
    }
    *out = j;
    return BARLOW_OK;
}

int barlow_manifest_probe(const char *path)
{
    if (!path) return 0;
    char saved[1024]; /* this probe leaves the caller's message alone */
    snprintf(saved, sizeof saved, "%s", barlow_last_error());
    FILE *fp = NULL;
    uint64_t size = 0;
    barlow_status st = bw_fopen_input(path, "barlow_manifest_probe", BW_NO_LIMIT, &fp, &size);
    char buf[4097];
    size_t n = st ? 0 : fread(buf, 1, sizeof buf - 1, fp);
    if (fp) fclose(fp);
    if (saved[0]) bw_error(BARLOW_OK, "%s", saved);
    else bw_clear_error();
    size_t k = 0;
    while (k < n && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\n' || buf[k] == '\r')) k++;
    return k < n && buf[k] == '{' && memmem(buf, n, "barlow-features-manifest", 24) != NULL;
}
