/* bw_sb: the growable string used to build JSON, DOT and CSV text; the
 * UTF-8 validator. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void bw_sb_init(bw_sb *sb)
{
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = false;
}

static bool bw_sb_reserve(bw_sb *sb, size_t extra)
{
    if (sb->failed) return false;
    if (sb->len + extra + 1 <= sb->cap) return true;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1) cap *= 2;
    char *p = bw_realloc(sb->data, cap, "text builder");
    if (!p) {
        sb->failed = true;
        return false;
    }
    sb->data = p;
    sb->cap = cap;
    return true;
}

void bw_sb_appendn(bw_sb *sb, const char *s, size_t n)
{
    if (!bw_sb_reserve(sb, n)) return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void bw_sb_append(bw_sb *sb, const char *s) { bw_sb_appendn(sb, s, strlen(s)); }

void bw_sb_appendf(bw_sb *sb, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && bw_sb_reserve(sb, (size_t)n)) {
        vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap2);
        sb->len += (size_t)n;
    } else if (n < 0) {
        sb->failed = true;
    }
    va_end(ap2);
}

static void sb_emit(void *ctx, const char *bytes, size_t n) { bw_sb_appendn(ctx, bytes, n); }

void bw_sb_json_string(bw_sb *sb, const char *s)
{
    bw_sb_append(sb, "\"");
    bw_json_escape(s, sb_emit, sb);
    bw_sb_append(sb, "\"");
}

void bw_sb_json_double(bw_sb *sb, double v)
{
    char buf[40];
    bw_sb_append(sb, bw_json_number(v, buf, sizeof buf));
}

void bw_sb_json_key(bw_sb *sb, const char *key)
{
    bw_sb_json_string(sb, key);
    bw_sb_append(sb, ":");
}

void bw_sb_json_kv_double(bw_sb *sb, const char *key, double v)
{
    bw_sb_json_key(sb, key);
    bw_sb_json_double(sb, v);
}

void bw_sb_json_kv_size(bw_sb *sb, const char *key, size_t v)
{
    bw_sb_json_key(sb, key);
    bw_sb_appendf(sb, "%zu", v);
}

void bw_sb_json_kv_id(bw_sb *sb, const char *key, int64_t v)
{
    bw_sb_json_key(sb, key);
    if (v < 0) bw_sb_append(sb, "null");
    else bw_sb_appendf(sb, "%lld", (long long)v);
}

void bw_sb_json_kv_string(bw_sb *sb, const char *key, const char *v)
{
    bw_sb_json_key(sb, key);
    bw_sb_json_string(sb, v);
}

void bw_sb_free(bw_sb *sb)
{
    bw_free(sb->data);
    bw_sb_init(sb);
}

barlow_status bw_sb_finish(bw_sb *sb, barlow_buffer *buf, const char *who)
{
    if (sb->failed || !bw_sb_reserve(sb, 0)) {
        bw_sb_free(sb);
        return bw_error(BARLOW_E_NOMEM, "%s: out of memory building text", who);
    }
    buf->data = sb->data;
    buf->size = sb->len;
    bw_sb_init(sb);
    return BARLOW_OK;
}

barlow_status bw_sb_save(bw_sb *sb, const char *path, const char *who)
{
    if (sb->failed) {
        bw_sb_free(sb);
        return bw_error(BARLOW_E_NOMEM, "%s: out of memory building text", who);
    }
    bw_atomic_file af;
    barlow_status st = bw_atomic_open(&af, path, who);
    if (st != BARLOW_OK) {
        bw_sb_free(sb);
        return st;
    }
    if (sb->len && fwrite(sb->data, 1, sb->len, af.fp) != sb->len) {
        int e = errno;
        bw_atomic_abort(&af);
        bw_sb_free(sb);
        return bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, path, strerror(e));
    }
    bw_sb_free(sb);
    return bw_atomic_commit(&af, who);
}
