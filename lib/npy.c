/* .npy files: header parsing and writing, reading into barlow_array and
 * barlow_matrix (with dtype conversion and Fortran-order transposition in
 * one streaming pass), memory mapping, and the barlow_array accessors.
 * Format: numpy's NEP 1 (docs/formats.md). */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "npy.h"

/* Size of the scratch buffer of conversions (a multiple of every element size). */
#define BW_CHUNK (1u << 20)

static const char bw_npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- messages -------------------------------------------------------------- */

static barlow_status src_error(const bw_src *s, barlow_status st, const char *fmt, ...)
    BW_PRINTF(3, 4);
static barlow_status src_error(const bw_src *s, barlow_status st, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bw_error(st, "%s: %s: %s", s->who, s->path, msg);
}

/* Shortest of %.15g/%.17g that reads back as v (messages stay readable). */
static const char *fmt_double(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, cap, "%.17g", v);
    return buf;
}

void bw_npy_shape_str(const size_t *shape, size_t ndim, char *buf, size_t cap)
{
    if (ndim == 0) {
        snprintf(buf, cap, "scalar");
        return;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (size_t a = 0; a < ndim && len < cap; a++) {
        int w = snprintf(buf + len, cap - len, a ? "x%zu" : "%zu", shape[a]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* ---- header parsing -------------------------------------------------------- */

typedef struct hparse {
    const char *p, *end;
} hparse;

static void hp_ws(hparse *hp)
{
    while (hp->p < hp->end &&
           (*hp->p == ' ' || *hp->p == '\t' || *hp->p == '\n' || *hp->p == '\r'))
        hp->p++;
}

/* A quoted string (single or double quotes, no escapes) into buf. */
static int hp_string(hparse *hp, char *buf, size_t cap)
{
    if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"')) return -1;
    char q = *hp->p++;
    size_t n = 0;
    while (hp->p < hp->end && *hp->p != q) {
        if (*hp->p == '\\' || n + 1 >= cap) return -1;
        buf[n++] = *hp->p++;
    }
    if (hp->p >= hp->end) return -1;
    hp->p++;
    buf[n] = '\0';
    return 0;
}

static bool hp_word(hparse *hp, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(hp->end - hp->p) < n || memcmp(hp->p, w, n) != 0) return false;
    const char *after = hp->p + n;
    if (after < hp->end && (((*after | 32) >= 'a' && (*after | 32) <= 'z') ||
                            (*after >= '0' && *after <= '9') || *after == '_'))
        return false;
    hp->p = after;
    return true;
}

typedef enum { SHAPE_OK, SHAPE_SYNTAX, SHAPE_NDIM, SHAPE_BIG } shape_result;

/* A Python tuple of non-negative ints: (), (5,), (3, 4), (3L, 4L). */
static shape_result hp_shape(hparse *hp, size_t *shape, size_t *ndim)
{
    size_t n = 0;
    if (hp->p >= hp->end || *hp->p != '(') return SHAPE_SYNTAX;
    hp->p++;
    hp_ws(hp);
    bool need_comma_for_one = true;
    while (hp->p < hp->end && *hp->p != ')') {
        if (*hp->p < '0' || *hp->p > '9') return SHAPE_SYNTAX;
        size_t v = 0;
        while (hp->p < hp->end && *hp->p >= '0' && *hp->p <= '9') {
            unsigned dgt = (unsigned)(*hp->p - '0');
            if (v > (SIZE_MAX - dgt) / 10) return SHAPE_BIG;
            v = v * 10 + dgt;
            hp->p++;
        }
        if (hp->p < hp->end && (*hp->p == 'L' || *hp->p == 'l')) hp->p++; /* Python 2 */
        if (n == BW_NPY_MAX_NDIM) return SHAPE_NDIM;
        shape[n++] = v;
        hp_ws(hp);
        if (hp->p < hp->end && *hp->p == ',') {
            hp->p++;
            hp_ws(hp);
            if (n == 1) need_comma_for_one = false;
        } else if (hp->p < hp->end && *hp->p != ')') {
            return SHAPE_SYNTAX;
        }
    }
    if (hp->p >= hp->end) return SHAPE_SYNTAX;
    hp->p++;
    if (n == 1 && need_comma_for_one) return SHAPE_SYNTAX; /* "(5)" is an int */
    *ndim = n;
    return SHAPE_OK;
}

static barlow_status parse_descr(const bw_src *src, const char *d, bw_npy_header *h)
{
    barlow_dtype *dt = &h->dtype;
    h->str_chars = 0;
    if (src->allow_str && d[0] == '<' && d[1] == 'U' && d[2] >= '1' && d[2] <= '9') {
        size_t v = 0;
        const char *q = d + 2;
        for (; *q >= '0' && *q <= '9' && v <= BW_NPY_MAX_STR_CHARS; q++)
            v = v * 10 + (size_t)(*q - '0');
        if (*q == '\0' && v <= BW_NPY_MAX_STR_CHARS) {
            h->str_chars = v;
            *dt = BARLOW_DTYPE_UINT8; /* unused for strings */
            return BARLOW_OK;
        }
        return src_error(src, BARLOW_E_UNSUPPORTED,
                         "dtype '%s' is not supported (strings of at most %u characters)", d,
                         BW_NPY_MAX_STR_CHARS);
    }
    static const struct {
        const char *descr;
        barlow_dtype dtype;
    } known[] = {
        {"<f4", BARLOW_DTYPE_FLOAT32}, {"<f8", BARLOW_DTYPE_FLOAT64},
        {"<i4", BARLOW_DTYPE_INT32},   {"<i8", BARLOW_DTYPE_INT64},
        {"|b1", BARLOW_DTYPE_BOOL},    {"|u1", BARLOW_DTYPE_UINT8},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(d, known[i].descr) == 0) {
            *dt = known[i].dtype;
            return BARLOW_OK;
        }
    if (d[0] == '>' && d[1] && strchr("fiu", d[1]) && strlen(d) == 3 && d[2] != '1')
        return src_error(src, BARLOW_E_UNSUPPORTED,
                         "big-endian dtype '%s' is not supported (convert it with numpy: "
                         "a.astype(a.dtype.newbyteorder('<')))", d);
    return src_error(src, BARLOW_E_UNSUPPORTED,
                     "dtype '%s' is not supported (supported: '<f4' '<f8' '<i4' '<i8' "
                     "'|b1' '|u1')", d);
}

static barlow_status parse_dict(const bw_src *src, const char *text, size_t len,
                                bw_npy_header *h)
{
    hparse hp = {text, text + len};
    bool have_descr = false, have_fortran = false, have_shape = false;
    char descr[64] = "";
    hp_ws(&hp);
    if (hp.p >= hp.end || *hp.p != '{')
        return src_error(src, BARLOW_E_FORMAT, "header is not a Python dict (no '{')");
    hp.p++;
    for (;;) {
        hp_ws(&hp);
        if (hp.p < hp.end && *hp.p == '}') {
            hp.p++;
            break;
        }
        char key[32];
        size_t at = (size_t)(hp.p - text);
        if (hp_string(&hp, key, sizeof key) != 0)
            return src_error(src, BARLOW_E_FORMAT, "header: expected a quoted key at offset %zu",
                             at);
        hp_ws(&hp);
        if (hp.p >= hp.end || *hp.p != ':')
            return src_error(src, BARLOW_E_FORMAT, "header: expected ':' after '%s'", key);
        hp.p++;
        hp_ws(&hp);
        if (strcmp(key, "descr") == 0) {
            if (have_descr) return src_error(src, BARLOW_E_FORMAT, "header: 'descr' twice");
            if (hp.p < hp.end && *hp.p == '[')
                return src_error(src, BARLOW_E_UNSUPPORTED,
                                 "structured dtypes (a 'descr' list) are not supported");
            if (hp_string(&hp, descr, sizeof descr) != 0)
                return src_error(src, BARLOW_E_FORMAT, "header: 'descr' is not a short string");
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran)
                return src_error(src, BARLOW_E_FORMAT, "header: 'fortran_order' twice");
            if (hp_word(&hp, "True")) h->fortran = true;
            else if (hp_word(&hp, "False")) h->fortran = false;
            else
                return src_error(src, BARLOW_E_FORMAT,
                                 "header: 'fortran_order' is not True or False");
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape) return src_error(src, BARLOW_E_FORMAT, "header: 'shape' twice");
            switch (hp_shape(&hp, h->shape, &h->ndim)) {
            case SHAPE_OK: break;
            case SHAPE_SYNTAX:
                return src_error(src, BARLOW_E_FORMAT,
                                 "header: 'shape' is not a tuple of non-negative integers");
            case SHAPE_NDIM:
                return src_error(src, BARLOW_E_UNSUPPORTED,
                                 "header: more than %d dimensions", BW_NPY_MAX_NDIM);
            case SHAPE_BIG:
                return src_error(src, BARLOW_E_FORMAT, "header: a 'shape' entry overflows");
            }
            have_shape = true;
        } else {
            return src_error(src, BARLOW_E_FORMAT, "header: unexpected key '%s'", key);
        }
        hp_ws(&hp);
        if (hp.p < hp.end && *hp.p == ',') {
            hp.p++;
        } else if (!(hp.p < hp.end && *hp.p == '}')) {
            return src_error(src, BARLOW_E_FORMAT, "header: expected ',' or '}' after '%s'",
                             key);
        }
    }
    hp_ws(&hp);
    if (hp.p != hp.end)
        return src_error(src, BARLOW_E_FORMAT, "header: unexpected text after the dict");
    if (!have_descr || !have_fortran || !have_shape)
        return src_error(src, BARLOW_E_FORMAT, "header lacks '%s'",
                         !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return parse_descr(src, descr, h);
}

barlow_status bw_npy_read_header(bw_src *src, bw_npy_header *h)
{
    unsigned char pre[12];
    size_t got = 0;
    barlow_status st = src->read(src, pre, 8, &got);
    if (st) return st;
    if (got == 0) return src_error(src, BARLOW_E_FORMAT, "file is empty (not a .npy file)");
    if (memcmp(pre, bw_npy_magic, got < 6 ? got : 6) != 0)
        return src_error(src, BARLOW_E_FORMAT, "not a .npy file (bad magic)");
    if (got < 8)
        return src_error(src, BARLOW_E_FORMAT, "truncated: %zu bytes, no complete .npy prelude",
                         got);
    memset(h, 0, sizeof *h);
    h->major = pre[6];
    h->minor = pre[7];
    if ((h->major < 1 || h->major > 3) || h->minor != 0)
        return src_error(src, BARLOW_E_UNSUPPORTED,
                         ".npy format version %d.%d is not supported (1.0, 2.0, 3.0)",
                         h->major, h->minor);
    size_t lsize = h->major == 1 ? 2 : 4;
    st = src->read(src, pre + 8, lsize, &got);
    if (st) return st;
    if (got < lsize) return src_error(src, BARLOW_E_FORMAT, "truncated header length");
    uint64_t hlen = lsize == 2 ? bw_le16(pre + 8) : bw_le32(pre + 8);
    if (hlen > BW_NPY_MAX_HEADER)
        return src_error(src, BARLOW_E_FORMAT,
                         "header length %llu exceeds the limit of %u bytes",
                         (unsigned long long)hlen, BW_NPY_MAX_HEADER);
    h->data_offset = 8 + lsize + hlen;
    if (src->total != UINT64_MAX && src->total < h->data_offset)
        return src_error(src, BARLOW_E_FORMAT,
                         "truncated header: it says %llu bytes but the file has %llu",
                         (unsigned long long)hlen,
                         (unsigned long long)(src->total - 8 - lsize));
    char *text = bw_malloc((size_t)hlen + 1, src->who);
    if (!text) return BARLOW_E_NOMEM;
    st = src->read(src, text, (size_t)hlen, &got);
    if (!st && got < hlen)
        st = src_error(src, BARLOW_E_FORMAT, "truncated header (%zu of %llu bytes)", got,
                       (unsigned long long)hlen);
    if (!st) {
        text[hlen] = '\0';
        if (memchr(text, '\0', (size_t)hlen))
            st = src_error(src, BARLOW_E_FORMAT, "header contains a NUL byte");
        else
            st = parse_dict(src, text, (size_t)hlen, h);
    }
    bw_free(text);
    if (st) return st;

    size_t count = 1;
    for (size_t a = 0; a < h->ndim; a++) {
        if (h->shape[a] && count > SIZE_MAX / h->shape[a])
            return src_error(src, BARLOW_E_FORMAT, "header: the shape's size overflows");
        count *= h->shape[a];
    }
    size_t es = h->str_chars ? h->str_chars * 4 : barlow_dtype_size(h->dtype);
    if (count > (SIZE_MAX / es) || (uint64_t)count > UINT64_MAX / es)
        return src_error(src, BARLOW_E_FORMAT, "header: the shape's size in bytes overflows");
    h->count = count;
    h->data_bytes = (uint64_t)count * es;
    if (src->total != UINT64_MAX) {
        uint64_t have = src->total - h->data_offset;
        if (have != h->data_bytes) {
            char sh[160];
            bw_npy_shape_str(h->shape, h->ndim, sh, sizeof sh);
            if (have < h->data_bytes)
                return src_error(src, BARLOW_E_FORMAT,
                                 "header says %s %s but file has %llu bytes of data "
                                 "(%llu expected)", sh, barlow_dtype_name(h->dtype),
                                 (unsigned long long)have, (unsigned long long)h->data_bytes);
            return src_error(src, BARLOW_E_FORMAT,
                             "header says %s %s (%llu bytes of data) but file has %llu bytes "
                             "of data (%llu extra)", sh, barlow_dtype_name(h->dtype),
                             (unsigned long long)h->data_bytes, (unsigned long long)have,
                             (unsigned long long)(have - h->data_bytes));
        }
    }
    return BARLOW_OK;
}

/* ---- data ------------------------------------------------------------------ */

/* Reads exactly n bytes; a short read is a FORMAT error (truncated data). */
static barlow_status src_read_exact(bw_src *src, const bw_npy_header *h, void *buf, size_t n,
                                    uint64_t *done)
{
    size_t got = 0;
    barlow_status st = src->read(src, buf, n, &got);
    if (st) return st;
    *done += got;
    if (got < n) {
        char sh[160];
        bw_npy_shape_str(h->shape, h->ndim, sh, sizeof sh);
        return src_error(src, BARLOW_E_FORMAT,
                         "header says %s %s but file has %llu bytes of data (%llu expected)",
                         sh, barlow_dtype_name(h->dtype), (unsigned long long)*done,
                         (unsigned long long)h->data_bytes);
    }
    return BARLOW_OK;
}

static void swap_bytes(void *p, size_t n, size_t es)
{
    unsigned char *b = p;
    if (es == 1) return;
    for (size_t i = 0; i < n; i++, b += es)
        for (size_t k = 0; k < es / 2; k++) {
            unsigned char t = b[k];
            b[k] = b[es - 1 - k];
            b[es - 1 - k] = t;
        }
}

/* The C-order index of the element at file position k (Fortran order: axis
 * 0 varies fastest in the file). */
static size_t fortran_to_c(const bw_npy_header *h, size_t k)
{
    size_t c = 0, mult = 1;
    size_t idx[BW_NPY_MAX_NDIM];
    for (size_t a = 0; a < h->ndim; a++) {
        idx[a] = k % h->shape[a];
        k /= h->shape[a];
    }
    for (size_t a = h->ndim; a-- > 0;) {
        c += idx[a] * mult;
        mult *= h->shape[a];
    }
    return c;
}

/* Walks C-order destination offsets in Fortran (file) order. */
typedef struct fwalk {
    size_t ndim, shape[BW_NPY_MAX_NDIM], cstride[BW_NPY_MAX_NDIM], idx[BW_NPY_MAX_NDIM];
    size_t off;
} fwalk;

static void fwalk_init(fwalk *w, const bw_npy_header *h)
{
    memset(w, 0, sizeof *w);
    w->ndim = h->ndim;
    size_t s = 1;
    for (size_t a = h->ndim; a-- > 0;) {
        w->shape[a] = h->shape[a];
        w->cstride[a] = s;
        s *= h->shape[a];
    }
}

static inline size_t fwalk_next(fwalk *w)
{
    size_t cur = w->off;
    for (size_t a = 0; a < w->ndim; a++) {
        w->off += w->cstride[a];
        if (++w->idx[a] < w->shape[a]) break;
        w->off -= w->shape[a] * w->cstride[a];
        w->idx[a] = 0;
    }
    return cur;
}

static barlow_status bool_error(bw_src *src, const bw_npy_header *h, size_t k,
                                unsigned char v)
{
    size_t c = h->fortran ? fortran_to_c(h, k) : k;
    return src_error(src, BARLOW_E_FORMAT,
                     "bool element %zu (C order) is %u, not 0 or 1", c, (unsigned)v);
}

/* Reads the data into dst with the file's dtype, in C order. */
static barlow_status read_keep(bw_src *src, const bw_npy_header *h, void *dst)
{
    size_t es = barlow_dtype_size(h->dtype);
    uint64_t done = 0;
    barlow_status st;
    bool fortran = h->fortran && h->ndim > 1;
    if (!fortran) {
        st = src_read_exact(src, h, dst, (size_t)h->data_bytes, &done);
        if (st) return st;
        if (!BW_HOST_LITTLE) swap_bytes(dst, h->count, es);
        if (h->dtype == BARLOW_DTYPE_BOOL) {
            const unsigned char *b = dst;
            for (size_t k = 0; k < h->count; k++)
                if (b[k] > 1) return bool_error(src, h, k, b[k]);
        }
        return BARLOW_OK;
    }
    unsigned char *buf = bw_malloc(BW_CHUNK, src->who);
    if (!buf) return BARLOW_E_NOMEM;
    fwalk w;
    fwalk_init(&w, h);
    size_t per = BW_CHUNK / es;
    st = BARLOW_OK;
    for (size_t k0 = 0; k0 < h->count && !st; k0 += per) {
        size_t n = h->count - k0 < per ? h->count - k0 : per;
        st = src_read_exact(src, h, buf, n * es, &done);
        if (st) break;
        if (!BW_HOST_LITTLE) swap_bytes(buf, n, es);
        unsigned char *d = dst;
        for (size_t e = 0; e < n; e++) {
            if (h->dtype == BARLOW_DTYPE_BOOL && buf[e] > 1) {
                st = bool_error(src, h, k0 + e, buf[e]);
                break;
            }
            memcpy(d + fwalk_next(&w) * es, buf + e * es, es);
        }
    }
    bw_free(buf);
    return st;
}

/* Converts n elements (host order) to float32. Returns the index of the first
 * element that cannot be converted (a finite float64 beyond float32 range, a
 * bool other than 0/1) or n. */
static size_t decode_f32(barlow_dtype dt, const unsigned char *s, size_t n, float *d)
{
    switch (dt) {
    case BARLOW_DTYPE_FLOAT32: memcpy(d, s, n * sizeof(float)); return n;
    case BARLOW_DTYPE_FLOAT64:
        for (size_t e = 0; e < n; e++) {
            double v;
            memcpy(&v, s + 8 * e, 8);
            float f = (float)v;
            if (isinf(f) && !isinf(v)) return e;
            d[e] = f;
        }
        return n;
    case BARLOW_DTYPE_INT32:
        for (size_t e = 0; e < n; e++) {
            int32_t v;
            memcpy(&v, s + 4 * e, 4);
            d[e] = (float)v;
        }
        return n;
    case BARLOW_DTYPE_INT64:
        for (size_t e = 0; e < n; e++) {
            int64_t v;
            memcpy(&v, s + 8 * e, 8);
            d[e] = (float)v;
        }
        return n;
    case BARLOW_DTYPE_BOOL:
        for (size_t e = 0; e < n; e++) {
            if (s[e] > 1) return e;
            d[e] = (float)s[e];
        }
        return n;
    case BARLOW_DTYPE_UINT8:
        for (size_t e = 0; e < n; e++) d[e] = (float)s[e];
        return n;
    }
    return 0;
}

/* Reads the data into a rows×cols float32 buffer (C order). */
static barlow_status read_f32(bw_src *src, const bw_npy_header *h, float *dst, size_t cols)
{
    size_t es = barlow_dtype_size(h->dtype);
    uint64_t done = 0;
    bool fortran = h->fortran && h->ndim > 1;
    if (h->dtype == BARLOW_DTYPE_FLOAT32 && !fortran) {
        barlow_status st = src_read_exact(src, h, dst, (size_t)h->data_bytes, &done);
        if (!st && !BW_HOST_LITTLE) swap_bytes(dst, h->count, 4);
        return st;
    }
    size_t per = BW_CHUNK / 8;
    unsigned char *buf = bw_malloc(per * es, src->who);
    float *tmp = fortran ? bw_mallocn(per, sizeof(float), src->who) : NULL;
    if (!buf || (fortran && !tmp)) {
        bw_free(buf);
        bw_free(tmp);
        return BARLOW_E_NOMEM;
    }
    fwalk w;
    fwalk_init(&w, h);
    barlow_status st = BARLOW_OK;
    for (size_t k0 = 0; k0 < h->count && !st; k0 += per) {
        size_t n = h->count - k0 < per ? h->count - k0 : per;
        st = src_read_exact(src, h, buf, n * es, &done);
        if (st) break;
        if (!BW_HOST_LITTLE) swap_bytes(buf, n, es);
        float *d = fortran ? tmp : dst + k0;
        size_t bad = decode_f32(h->dtype, buf, n, d);
        if (bad < n) {
            size_t c = fortran ? fortran_to_c(h, k0 + bad) : k0 + bad;
            if (h->dtype == BARLOW_DTYPE_BOOL)
                st = src_error(src, BARLOW_E_FORMAT,
                               "row %zu, column %zu: bool value %u is not 0 or 1", c / cols,
                               c % cols, (unsigned)buf[bad]);
            else {
                double v;
                char num[40];
                memcpy(&v, buf + 8 * bad, 8);
                st = src_error(src, BARLOW_E_FORMAT,
                               "row %zu, column %zu: %s is beyond float32 range", c / cols,
                               c % cols, fmt_double(num, sizeof num, v));
            }
            break;
        }
        if (fortran)
            for (size_t e = 0; e < n; e++) dst[fwalk_next(&w)] = tmp[e];
    }
    bw_free(buf);
    bw_free(tmp);
    return st;
}

/* The data described by h, from src, into a new array / float32 matrix. */
static barlow_status load_array(bw_src *src, const bw_npy_header *h, barlow_array **out)
{
    barlow_array *a = bw_calloc(1, sizeof *a, src->who);
    if (!a) return BARLOW_E_NOMEM;
    a->dtype = h->dtype;
    a->ndim = h->ndim;
    memcpy(a->shape, h->shape, sizeof a->shape);
    a->size = h->count;
    a->data = bw_malloc((size_t)h->data_bytes, src->who);
    barlow_status st = a->data ? read_keep(src, h, a->data) : BARLOW_E_NOMEM;
    if (!st) st = src->finish(src);
    if (st) {
        barlow_array_free(a);
        return st;
    }
    *out = a;
    return BARLOW_OK;
}

static barlow_status load_matrix(bw_src *src, const bw_npy_header *h, barlow_matrix **out)
{
    char sh[160];
    bw_npy_shape_str(h->shape, h->ndim, sh, sizeof sh);
    if (h->ndim == 0)
        return src_error(src, BARLOW_E_UNSUPPORTED,
                         "a 0-d array (scalar) is not a matrix (use barlow_array_load_npy)");
    if (h->ndim > 2)
        return src_error(src, BARLOW_E_UNSUPPORTED,
                         "a %zu-d array (%s) is not a matrix (1-D or 2-D only)", h->ndim, sh);
    size_t rows = h->shape[0], cols = h->ndim == 2 ? h->shape[1] : 1;
    if (rows == 0 || cols == 0)
        return src_error(src, BARLOW_E_UNSUPPORTED,
                         "an empty array (%s) is not a matrix (needs >= 1 row and column)", sh);
    if (h->count > SIZE_MAX / sizeof(float))
        return src_error(src, BARLOW_E_FORMAT, "%s float32 overflows the address space", sh);
    float *data = bw_malloc(h->count * sizeof(float), src->who);
    if (!data) return BARLOW_E_NOMEM;
    barlow_status st = read_f32(src, h, data, cols);
    if (!st) st = src->finish(src);
    if (!st) st = bw_matrix_adopt(data, rows, cols, src->who, out);
    if (st) bw_free(data);
    return st;
}

barlow_status bw_npy_read(bw_src *src, bw_npy_as as, void *out)
{
    bw_npy_header h;
    barlow_status st = bw_npy_read_header(src, &h);
    if (st) return st;
    uint64_t bytes = as == BW_NPY_AS_ARRAY ? h.data_bytes : (uint64_t)h.count * sizeof(float);
    st = bw_check_limit(BARLOW_LIMIT_ARRAY_BYTES, bytes, src->who, src->path,
                        "reading the array into memory takes");
    if (st) return st;
    return as == BW_NPY_AS_ARRAY ? load_array(src, &h, out) : load_matrix(src, &h, out);
}

/* ---- files --------------------------------------------------------------- */

typedef struct file_src {
    bw_src base;
    FILE *fp;
} file_src;

static barlow_status file_read(bw_src *s, void *buf, size_t n, size_t *got)
{
    file_src *f = (file_src *)s;
    *got = n ? fread(buf, 1, n, f->fp) : 0;
    if (*got < n && ferror(f->fp))
        return bw_error(BARLOW_E_IO, "%s: cannot read %s: %s", s->who, s->path,
                        strerror(errno));
    return BARLOW_OK;
}

static barlow_status file_finish(bw_src *s)
{
    unsigned char b;
    size_t got;
    barlow_status st = file_read(s, &b, 1, &got);
    if (st) return st;
    if (got) return src_error(s, BARLOW_E_FORMAT, "unexpected bytes after the array's data");
    return BARLOW_OK;
}

static barlow_status file_open(file_src *f, const char *path, const char *who)
{
    memset(f, 0, sizeof *f);
    f->base.read = file_read;
    f->base.finish = file_finish;
    f->base.who = who;
    f->base.path = path;
    f->base.total = UINT64_MAX;
    /* Regular files only; the size is not capped here (a matrix may be
     * mapped): the array limit applies to what is read into memory. */
    return bw_fopen_input(path, who, BW_NO_LIMIT, &f->fp, &f->base.total);
}

/* The two .npy file loaders: the argument checks, then one read. */
static barlow_status load_npy_file(const char *path, bw_npy_as as, void *out, const char *who)
{
    bw_clear_error();
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    file_src f;
    barlow_status st = file_open(&f, path, who);
    if (st) return st;
    st = bw_npy_read(&f.base, as, out);
    fclose(f.fp);
    return st;
}

barlow_status barlow_array_load_npy(const char *path, barlow_array **out)
{
    return load_npy_file(path, BW_NPY_AS_ARRAY, out, "barlow_array_load_npy");
}

barlow_status barlow_matrix_load_npy(const char *path, barlow_matrix **out)
{
    return load_npy_file(path, BW_NPY_AS_MATRIX, out, "barlow_matrix_load_npy");
}

barlow_status barlow_matrix_map_npy(const char *path, barlow_matrix **out)
{
    static const char who[] = "barlow_matrix_map_npy";
    bw_clear_error();
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    file_src f;
    barlow_status st = file_open(&f, path, who);
    if (st) return st;
    bw_npy_header h;
    st = bw_npy_read_header(&f.base, &h);
    if (st) goto done;
    char sh[160];
    bw_npy_shape_str(h.shape, h.ndim, sh, sizeof sh);
    if (h.ndim < 1 || h.ndim > 2 || h.count == 0) {
        st = src_error(&f.base, BARLOW_E_UNSUPPORTED,
                       "only a non-empty 1-D or 2-D array can be mapped, not %s", sh);
    } else if (h.dtype != BARLOW_DTYPE_FLOAT32 || !BW_HOST_LITTLE) {
        st = src_error(&f.base, BARLOW_E_UNSUPPORTED,
                       "dtype %s cannot be mapped (only float32); use barlow_matrix_load_npy, "
                       "which converts", barlow_dtype_name(h.dtype));
    } else if (h.fortran && h.ndim == 2 && h.shape[0] > 1 && h.shape[1] > 1) {
        st = src_error(&f.base, BARLOW_E_UNSUPPORTED,
                       "a Fortran-order array cannot be mapped; use barlow_matrix_load_npy, "
                       "which transposes");
    } else if (h.data_offset % sizeof(float) != 0) {
        st = src_error(&f.base, BARLOW_E_UNSUPPORTED,
                       "the data starts at offset %llu, not a multiple of 4, and cannot be "
                       "mapped; use barlow_matrix_load_npy",
                       (unsigned long long)h.data_offset);
    } else if (f.base.total > SIZE_MAX) {
        st = src_error(&f.base, BARLOW_E_UNSUPPORTED, "file too large to map");
    }
    if (st) goto done;
    size_t len = (size_t)f.base.total;
    void *base = mmap(NULL, len, PROT_READ, MAP_SHARED, fileno(f.fp), 0);
    if (base == MAP_FAILED) {
        st = bw_error(BARLOW_E_IO, "%s: cannot map %s: %s", who, path, strerror(errno));
        goto done;
    }
    size_t cols = h.ndim == 2 ? h.shape[1] : 1;
    barlow_matrix *m = NULL;
    st = bw_matrix_new((float *)(void *)((unsigned char *)base + h.data_offset), h.shape[0],
                       cols, cols, BW_MATRIX_MAPPED, who, &m);
    if (st) {
        munmap(base, len);
        goto done;
    }
    m->map_base = base;
    m->map_len = len;
    *out = m;
done:
    fclose(f.fp);
    return st;
}

/* ---- writing ------------------------------------------------------------- */

size_t bw_npy_format_header(barlow_dtype dtype, bool fortran, size_t ndim,
                            const size_t *shape, char *buf)
{
    static const char *descr[] = {"<f4", "<f8", "<i4", "<i8", "|b1", "|u1"};
    return bw_npy_format_header_descr(descr[dtype], fortran, ndim, shape, buf);
}

size_t bw_npy_format_header_descr(const char *descr, bool fortran, size_t ndim,
                                  const size_t *shape, char *buf)
{
    char dict[BW_NPY_HEADER_CAP];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (",
                     descr, fortran ? "True" : "False");
    for (size_t a = 0; a < ndim; a++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, a ? ", %zu" : "%zu", shape[a]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    /* As numpy >= 1.23 does (so that files are byte-identical to np.save):
     * spaces for the first axis to grow to 21 digits, then padding and a
     * '\n' so that the data starts at a multiple of 64. */
    size_t len = (size_t)n;
    if (ndim > 0) {
        char digits[32];
        size_t nd = (size_t)snprintf(digits, sizeof digits, "%zu", shape[fortran ? ndim - 1 : 0]);
        size_t grow = nd < 21 ? 21 - nd : 0;
        memset(dict + len, ' ', grow);
        len += grow;
    }
    size_t pad = 64 - (10 + len + 1) % 64;
    size_t total = 10 + len + pad + 1;
    memcpy(buf, bw_npy_magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    bw_put16((unsigned char *)buf + 8, (uint16_t)(total - 10));
    memcpy(buf + 10, dict, len);
    memset(buf + 10 + len, ' ', pad);
    buf[total - 1] = '\n';
    return total;
}

barlow_status bw_npy_check_write(const char *who, barlow_dtype dtype, size_t ndim,
                                 const size_t *shape, const void *data, uint64_t *bytes)
{
    size_t es = barlow_dtype_size(dtype);
    if (es == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: dtype=%d is not a barlow_dtype", who,
                        (int)dtype);
    if (ndim > BW_NPY_MAX_NDIM)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: ndim=%zu (must be 0..%d)", who, ndim,
                        BW_NPY_MAX_NDIM);
    if (ndim > 0 && !shape) return bw_error(BARLOW_E_INVALID_ARG, "%s: shape is NULL", who);
    size_t count = 1;
    for (size_t a = 0; a < ndim; a++) {
        if (shape[a] && count > SIZE_MAX / es / shape[a])
            return bw_error(BARLOW_E_INVALID_ARG, "%s: the shape's size overflows", who);
        count *= shape[a];
    }
    if (count > 0 && !data) return bw_error(BARLOW_E_INVALID_ARG, "%s: data is NULL", who);
    *bytes = (uint64_t)count * es;
    return BARLOW_OK;
}

/* Writes n elements of size es, converting to little-endian when needed. */
static bool write_le(FILE *fp, const void *data, size_t n, size_t es)
{
    if (n == 0) return true; /* data may be NULL for an empty array */
    if (BW_HOST_LITTLE || es == 1) return fwrite(data, es, n, fp) == n;
    unsigned char buf[4096];
    const unsigned char *p = data;
    size_t per = sizeof buf / es;
    for (size_t k = 0; k < n; k += per) {
        size_t m = n - k < per ? n - k : per;
        memcpy(buf, p + k * es, m * es);
        swap_bytes(buf, m, es);
        if (fwrite(buf, es, m, fp) != m) return false;
    }
    return true;
}

barlow_status barlow_array_save_npy(barlow_dtype dtype, size_t ndim, const size_t *shape,
                                    const void *data, const char *path)
{
    static const char who[] = "barlow_array_save_npy";
    bw_clear_error();
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    uint64_t bytes;
    barlow_status st = bw_npy_check_write(who, dtype, ndim, shape, data, &bytes);
    if (st) return st;
    char hdr[BW_NPY_HEADER_CAP];
    size_t hlen = bw_npy_format_header(dtype, false, ndim, shape, hdr);
    bw_atomic_file af;
    st = bw_atomic_open(&af, path, who);
    if (st) return st;
    size_t es = barlow_dtype_size(dtype);
    if (fwrite(hdr, 1, hlen, af.fp) != hlen || !write_le(af.fp, data, (size_t)(bytes / es), es)) {
        int e = errno;
        bw_atomic_abort(&af);
        return bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, path, strerror(e));
    }
    return bw_atomic_commit(&af, who);
}

barlow_status barlow_matrix_save_npy(const barlow_matrix *m, const char *path)
{
    static const char who[] = "barlow_matrix_save_npy";
    bw_clear_error();
    if (!m) return bw_error(BARLOW_E_INVALID_ARG, "%s: matrix is NULL", who);
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    size_t shape[2] = {m->rows, m->cols};
    char hdr[BW_NPY_HEADER_CAP];
    size_t hlen = bw_npy_format_header(BARLOW_DTYPE_FLOAT32, false, 2, shape, hdr);
    bw_atomic_file af;
    barlow_status st = bw_atomic_open(&af, path, who);
    if (st) return st;
    bool ok = fwrite(hdr, 1, hlen, af.fp) == hlen;
    if (ok && m->stride == m->cols) {
        ok = write_le(af.fp, m->data, m->rows * m->cols, sizeof(float));
    } else {
        for (size_t i = 0; ok && i < m->rows; i++)
            ok = write_le(af.fp, m->data + i * m->stride, m->cols, sizeof(float));
    }
    if (!ok) {
        int e = errno;
        bw_atomic_abort(&af);
        return bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, path, strerror(e));
    }
    return bw_atomic_commit(&af, who);
}

/* ---- arrays ------------------------------------------------------------------ */

void barlow_array_free(barlow_array *a)
{
    if (!a) return;
    bw_free(a->data);
    bw_free(a);
}

barlow_dtype barlow_array_dtype(const barlow_array *a)
{
    return a ? a->dtype : BARLOW_DTYPE_FLOAT32;
}

size_t barlow_array_ndim(const barlow_array *a) { return a ? a->ndim : 0; }

size_t barlow_array_dim(const barlow_array *a, size_t axis)
{
    return (a && axis < a->ndim) ? a->shape[axis] : 0;
}

size_t barlow_array_size(const barlow_array *a) { return a ? a->size : 0; }

const void *barlow_array_data(const barlow_array *a) { return a ? a->data : NULL; }

barlow_status barlow_array_to_int32(const barlow_array *a, int32_t *out)
{
    static const char who[] = "barlow_array_to_int32";
    bw_clear_error();
    if (!a) return bw_error(BARLOW_E_INVALID_ARG, "%s: array is NULL", who);
    if (!out && a->size) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    /* Validate everything first: out is written only on success. */
    const unsigned char *p = a->data;
    for (size_t i = 0; i < a->size; i++) {
        double v;
        switch (a->dtype) {
        case BARLOW_DTYPE_FLOAT32: {
            float f;
            memcpy(&f, p + 4 * i, 4);
            v = f;
            break;
        }
        case BARLOW_DTYPE_FLOAT64: memcpy(&v, p + 8 * i, 8); break;
        case BARLOW_DTYPE_INT64: {
            int64_t x;
            memcpy(&x, p + 8 * i, 8);
            if (x < INT32_MIN || x > INT32_MAX)
                return bw_error(BARLOW_E_FORMAT, "%s: element %zu is %lld, outside int32 range",
                                who, i, (long long)x);
            continue;
        }
        default: continue; /* int32, bool, uint8 always fit */
        }
        if (!(v == floor(v)) || v < INT32_MIN || v > INT32_MAX) {
            char num[40];
            return bw_error(BARLOW_E_FORMAT, "%s: element %zu is %s, not an int32", who, i,
                            fmt_double(num, sizeof num, v));
        }
    }
    for (size_t i = 0; i < a->size; i++) {
        switch (a->dtype) {
        case BARLOW_DTYPE_FLOAT32: {
            float f;
            memcpy(&f, p + 4 * i, 4);
            out[i] = (int32_t)f;
            break;
        }
        case BARLOW_DTYPE_FLOAT64: {
            double d;
            memcpy(&d, p + 8 * i, 8);
            out[i] = (int32_t)d;
            break;
        }
        case BARLOW_DTYPE_INT32: memcpy(&out[i], p + 4 * i, 4); break;
        case BARLOW_DTYPE_INT64: {
            int64_t x;
            memcpy(&x, p + 8 * i, 8);
            out[i] = (int32_t)x;
            break;
        }
        case BARLOW_DTYPE_BOOL:
        case BARLOW_DTYPE_UINT8: out[i] = p[i]; break;
        }
    }
    return BARLOW_OK;
}

barlow_status barlow_array_to_float32(const barlow_array *a, float *out)
{
    static const char who[] = "barlow_array_to_float32";
    bw_clear_error();
    if (!a) return bw_error(BARLOW_E_INVALID_ARG, "%s: array is NULL", who);
    if (!out && a->size) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (a->dtype == BARLOW_DTYPE_FLOAT64) {
        const double *d = a->data;
        for (size_t i = 0; i < a->size; i++)
            if (isfinite(d[i]) && isinf((float)d[i])) {
                char num[40];
                return bw_error(BARLOW_E_FORMAT, "%s: element %zu is %s, beyond float32 range",
                                who, i, fmt_double(num, sizeof num, d[i]));
            }
    }
    if (a->size) decode_f32(a->dtype, a->data, a->size, out);
    return BARLOW_OK;
}

/* ---- '<U{n}' string arrays (internal: class names in an .npz) ------------- */

void bw_npy_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) bw_free(v[i]);
    bw_free(v);
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length, or 0 when it is
 * not valid (RFC 3629: shortest form, no surrogates, <= U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t k = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (k == 0 || k > n || bw_utf8_check((const char *)s, k) != k) return 0;
    uint32_t v = s[0] & (0x7Fu >> k);
    for (size_t i = 1; i < k; i++) v = (v << 6) | (s[i] & 0x3Fu);
    *cp = v;
    return k;
}

/* Writes code point cp as UTF-8 at out (up to 4 bytes); returns the length,
 * or 0 for a surrogate or a value above U+10FFFF (nothing written). */
static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    size_t k = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t i = k - 1; i > 0; i--, cp >>= 6) out[i] = (char)(0x80 | (cp & 0x3F));
    out[0] = (char)(lead[k] | cp);
    return k;
}

barlow_status bw_npy_encode_strings(const char *const *strs, size_t n, const char *who,
                                    size_t *width, unsigned char **data, uint64_t *bytes)
{
    size_t w = 1;
    for (size_t i = 0; i < n; i++) {
        if (!strs[i]) return bw_error(BARLOW_E_INVALID_ARG, "%s: string %zu is NULL", who, i);
        size_t len = strlen(strs[i]);
        if (bw_utf8_check(strs[i], len) != len)
            return bw_error(BARLOW_E_INVALID_ARG, "%s: string %zu is not valid UTF-8", who, i);
        size_t cps = 0;
        for (size_t k = 0; k < len; k++) cps += ((unsigned char)strs[i][k] & 0xC0) != 0x80;
        if (cps > w) w = cps;
    }
    if (w > BW_NPY_MAX_STR_CHARS)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: a string of %zu characters (at most %u)",
                        who, w, BW_NPY_MAX_STR_CHARS);
    if (n > SIZE_MAX / 4 / w) return bw_error(BARLOW_E_INVALID_ARG, "%s: too many strings", who);
    unsigned char *d = bw_calloc(n ? n * w * 4 : 1, 1, who);
    if (!d) return BARLOW_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)strs[i];
        size_t len = strlen(strs[i]), k = 0, c = 0;
        while (k < len) {
            uint32_t cp = 0;
            size_t step = utf8_decode(s + k, len - k, &cp);
            if (step == 0) { /* cannot happen: checked above */
                bw_free(d);
                return bw_error(BARLOW_E_INTERNAL, "%s: string %zu: bad UTF-8", who, i);
            }
            bw_put32(d + (i * w + c++) * 4, cp);
            k += step;
        }
    }
    *width = w;
    *data = d;
    *bytes = (uint64_t)n * w * 4;
    return BARLOW_OK;
}

barlow_status bw_npy_read_strings(bw_src *src, char ***out, size_t *n)
{
    src->allow_str = true;
    bw_npy_header h;
    barlow_status st = bw_npy_read_header(src, &h);
    if (st) return st;
    if (!h.str_chars)
        return src_error(src, BARLOW_E_UNSUPPORTED,
                         "dtype %s is not a string array ('<U')", barlow_dtype_name(h.dtype));
    if (h.ndim != 1)
        return src_error(src, BARLOW_E_UNSUPPORTED, "a string array must be 1-D (it has %zu "
                         "dimensions)", h.ndim);
    st = bw_check_limit(BARLOW_LIMIT_ARRAY_BYTES, h.data_bytes, src->who, src->path,
                        "reading the array into memory takes");
    if (st) return st;
    size_t count = h.count, w = h.str_chars;
    unsigned char *raw = bw_malloc(h.data_bytes ? (size_t)h.data_bytes : 1, src->who);
    char **v = bw_calloc(count ? count : 1, sizeof *v, src->who);
    uint64_t done = 0;
    if (!raw || !v) st = BARLOW_E_NOMEM;
    if (!st) st = src_read_exact(src, &h, raw, (size_t)h.data_bytes, &done);
    for (size_t i = 0; i < count && !st; i++) {
        const unsigned char *e = raw + i * w * 4;
        size_t len = 0;
        while (len < w && bw_le32(e + len * 4) != 0) len++;
        for (size_t k = len; k < w && !st; k++)
            if (bw_le32(e + k * 4) != 0)
                st = src_error(src, BARLOW_E_FORMAT, "string %zu contains a NUL character", i);
        char *s = st ? NULL : bw_malloc(len * 4 + 1, src->who);
        if (!st && !s) st = BARLOW_E_NOMEM;
        size_t o = 0;
        for (size_t k = 0; k < len && !st; k++) {
            uint32_t cp = bw_le32(e + k * 4);
            size_t step = utf8_encode(cp, s + o);
            if (step == 0)
                st = src_error(src, BARLOW_E_FORMAT,
                               "string %zu: code point 0x%lx is not a Unicode scalar value", i,
                               (unsigned long)cp);
            o += step;
        }
        if (s) s[o] = '\0';
        v[i] = s;
    }
    bw_free(raw);
    if (!st) st = src->finish(src);
    if (st) {
        bw_npy_strings_free(v, count);
        return st;
    }
    *out = v;
    *n = count;
    return BARLOW_OK;
}
