/* bw_sb: the growable string used to build JSON, DOT and CSV text; the
 * UTF-8 validator. */
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
    char *p = realloc(sb->data, cap);
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

/* Length (1..4) of the well-formed UTF-8 sequence (RFC 3629) that starts
 * p[0..n), or 0 when p starts an ill-formed one: a stray continuation byte,
 * C0/C1 or F5..FF, a truncated sequence, an overlong form, a surrogate
 * (U+D800..U+DFFF) or a code point above U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return len;
}

size_t bw_utf8_check(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_seq(p + i, n - i);
        if (!len) return i;
        i += len;
    }
    return n;
}

void bw_sb_json_string(bw_sb *sb, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), i = 0, run = 0; /* p[run..i) is plain text */
    bw_sb_append(sb, "\"");
    while (i < n) {
        unsigned c = p[i];
        size_t len = c < 0x20 || c == '"' || c == '\\' || c == 0x7F ? 0 : utf8_seq(p + i, n - i);
        if (len) {
            i += len;
            continue;
        }
        bw_sb_appendn(sb, (const char *)p + run, i - run);
        switch (c) {
        case '"': bw_sb_append(sb, "\\\""); break;
        case '\\': bw_sb_append(sb, "\\\\"); break;
        case '\n': bw_sb_append(sb, "\\n"); break;
        case '\r': bw_sb_append(sb, "\\r"); break;
        case '\t': bw_sb_append(sb, "\\t"); break;
        default:
            if (c < 0x80) bw_sb_appendf(sb, "\\u%04x", c); /* control, DEL */
            else bw_sb_appendf(sb, "\\udc%02x", c); /* a byte of an ill-formed sequence */
        }
        run = ++i;
    }
    bw_sb_appendn(sb, (const char *)p + run, i - run);
    bw_sb_append(sb, "\"");
}

void bw_sb_json_double(bw_sb *sb, double v)
{
    if (!isfinite(v)) {
        bw_sb_append(sb, "null");
        return;
    }
    /* Shortest of %.15g/%.16g/%.17g that reads back to the same double. */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    bw_sb_append(sb, buf);
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
    free(sb->data);
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
        bw_atomic_abort(&af);
        bw_sb_free(sb);
        return bw_error(BARLOW_E_IO, "%s: cannot write %s", who, path);
    }
    bw_sb_free(sb);
    return bw_atomic_commit(&af, who);
}
