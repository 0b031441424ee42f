/* The little-endian binary encoding shared by the tree and analysis
 * serializers (lib/serial.h). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "serial.h"

/* ---- writing ------------------------------------------------------------------ */

static void put_le(bw_sb *sb, uint64_t v, size_t n)
{
    char b[8];
    for (size_t i = 0; i < n; i++) b[i] = (char)(uint8_t)(v >> (8 * i));
    bw_sb_appendn(sb, b, n);
}

void bw_put_u32(bw_sb *sb, uint32_t v) { put_le(sb, v, 4); }
void bw_put_i32(bw_sb *sb, int32_t v) { put_le(sb, (uint32_t)v, 4); }
void bw_put_u64(bw_sb *sb, uint64_t v) { put_le(sb, v, 8); }
void bw_put_i64(bw_sb *sb, int64_t v) { put_le(sb, (uint64_t)v, 8); }

void bw_put_f64(bw_sb *sb, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_le(sb, bits, 8);
}

void bw_put_str(bw_sb *sb, const char *s)
{
    size_t n = strlen(s);
    bw_put_u32(sb, (uint32_t)n);
    bw_sb_appendn(sb, s, n);
}

/* ---- reading ------------------------------------------------------------------ */

size_t bw_rd_left(const bw_rd *r) { return r->size - r->off; }

barlow_status bw_rd_fail(const bw_rd *r, size_t at, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bw_error(BARLOW_E_FORMAT, "%s: byte %zu: %s", r->who, r->base + at, msg);
}

barlow_status bw_rd_fail_last(const bw_rd *r, size_t at, const char *what)
{
    char msg[320];
    const char *m = barlow_last_error();
    size_t wl = strlen(r->who);
    if (strncmp(m, r->who, wl) == 0 && m[wl] == ':' && m[wl + 1] == ' ') m += wl + 2;
    snprintf(msg, sizeof msg, "%s", m);
    return bw_rd_fail(r, at, "%s: %s", what, msg);
}

static barlow_status get_le(bw_rd *r, size_t n, uint64_t *v, const char *what)
{
    if (bw_rd_left(r) < n)
        return bw_rd_fail(r, r->off, "%s needs %zu bytes but %zu are left (truncated?)", what,
                          n, bw_rd_left(r));
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += n;
    *v = x;
    return BARLOW_OK;
}

barlow_status bw_get_u32(bw_rd *r, uint32_t *v, const char *what)
{
    uint64_t x = 0;
    barlow_status st = get_le(r, 4, &x, what);
    if (st == BARLOW_OK) *v = (uint32_t)x;
    return st;
}

barlow_status bw_get_i32(bw_rd *r, int32_t *v, const char *what)
{
    uint64_t x = 0;
    barlow_status st = get_le(r, 4, &x, what);
    if (st == BARLOW_OK) {
        uint32_t u = (uint32_t)x;
        memcpy(v, &u, sizeof *v);
    }
    return st;
}

barlow_status bw_get_u64(bw_rd *r, uint64_t *v, const char *what)
{
    return get_le(r, 8, v, what);
}

barlow_status bw_get_i64(bw_rd *r, int64_t *v, const char *what)
{
    uint64_t x = 0;
    barlow_status st = get_le(r, 8, &x, what);
    if (st == BARLOW_OK) memcpy(v, &x, sizeof *v);
    return st;
}

barlow_status bw_get_f64(bw_rd *r, double *v, const char *what)
{
    uint64_t x = 0;
    barlow_status st = get_le(r, 8, &x, what);
    if (st == BARLOW_OK) memcpy(v, &x, sizeof *v);
    return st;
}

barlow_status bw_get_size(bw_rd *r, size_t *v, size_t max, const char *what)
{
    size_t at = r->off;
    uint64_t x = 0;
    barlow_status st = get_le(r, 8, &x, what);
    if (st != BARLOW_OK) return st;
    if (x > (uint64_t)max)
        return bw_rd_fail(r, at, "%s is %llu (must be at most %zu)", what, (unsigned long long)x,
                          max);
    *v = (size_t)x;
    return BARLOW_OK;
}

barlow_status bw_get_finite(bw_rd *r, double *v, const char *what)
{
    size_t at = r->off;
    double x = 0.0;
    barlow_status st = bw_get_f64(r, &x, what);
    if (st != BARLOW_OK) return st;
    if (!isfinite(x))
        return bw_rd_fail(r, at, "%s is %s (must be finite)", what,
                          isnan(x) ? "NaN" : (x > 0 ? "inf" : "-inf"));
    *v = x;
    return BARLOW_OK;
}

barlow_status bw_rd_need(const bw_rd *r, size_t count, size_t item_bytes, const char *what)
{
    size_t left = bw_rd_left(r);
    if (item_bytes > 0 && count > left / item_bytes)
        return bw_rd_fail(r, r->off,
                          "%zu %s need at least %zu bytes each but only %zu bytes are left",
                          count, what, item_bytes, left);
    return BARLOW_OK;
}

barlow_status bw_get_str(bw_rd *r, size_t max_len, char **out, const char *what)
{
    size_t at = r->off;
    uint32_t n;
    barlow_status st = bw_get_u32(r, &n, what);
    if (st != BARLOW_OK) return st;
    if (n > max_len)
        return bw_rd_fail(r, at, "%s is %u bytes long (at most %zu)", what, (unsigned)n,
                          max_len);
    if (n > bw_rd_left(r))
        return bw_rd_fail(r, at, "%s is %u bytes long but %zu bytes are left", what,
                          (unsigned)n, bw_rd_left(r));
    if (memchr(r->p + r->off, 0, n))
        return bw_rd_fail(r, r->off, "%s holds a NUL byte", what);
    char *s = bw_malloc((size_t)n + 1, r->who);
    if (!s) return BARLOW_E_NOMEM;
    memcpy(s, r->p + r->off, n);
    s[n] = '\0';
    r->off += n;
    *out = s;
    return BARLOW_OK;
}

barlow_status bw_get_header(bw_rd *r, const char magic[8], uint32_t max_version,
                            const char *kind, uint32_t *version)
{
    if (bw_rd_left(r) < 8 || memcmp(r->p + r->off, magic, 8) != 0)
        return bw_rd_fail(r, r->off, "not a serialized %s (the first 8 bytes must be "
                          "\"%.8s\")", kind, magic);
    r->off += 8;
    size_t at = r->off;
    barlow_status st = bw_get_u32(r, version, "the format version");
    if (st != BARLOW_OK) return st;
    if (*version < 1 || *version > max_version)
        return bw_rd_fail(r, at,
                          "%s format version %u is not known to this libbarlow (1..%u)", kind,
                          (unsigned)*version, (unsigned)max_version);
    return BARLOW_OK;
}
