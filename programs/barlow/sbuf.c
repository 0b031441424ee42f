/* A growable byte string for the CLI's text outputs (sbuf.h). Its memory
 * comes from the allocator of lib/alloc.c (bw_realloc, bw_free), compiled
 * into the program, so that tests can fail its allocations and count its
 * blocks (tests/test_report.c). */
#include "sbuf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* bw_realloc, bw_free */
#include "utf8.h"

void sbuf_free(sbuf *b)
{
    bw_free(b->data);
    *b = (sbuf)SBUF_INIT;
}

void sbuf_reset(sbuf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data) b->data[0] = '\0';
}

bool sbuf_failed(const sbuf *b) { return b->failed; }

static bool sbuf_reserve(sbuf *b, size_t extra)
{
    if (b->failed) return false;
    if (extra < b->cap - b->len) return true;
    if (extra > SIZE_MAX / 2 - b->len) goto fail;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra) cap *= 2;
    char *p = bw_realloc(b->data, cap, "sbuf");
    if (!p) goto fail;
    b->data = p;
    b->cap = cap;
    return true;
fail:
    b->failed = true;
    return false;
}

void sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (!sbuf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbuf_puts(sbuf *b, const char *s) { sbuf_add(b, s, strlen(s)); }

void sbuf_vprintf(sbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (!sbuf_reserve(b, (size_t)n)) return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sbuf_html(sbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), i = 0;
    while (i < n) {
        size_t len = bw_utf8_seq(p + i, n - i);
        const char *rep = NULL;
        switch (len ? p[i] : 0) {
        case 0: rep = "\xEF\xBF\xBD"; len = 1; break; /* U+FFFD */
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) sbuf_puts(b, rep);
        else sbuf_add(b, (const char *)p + i, len);
        i += len;
    }
}

static void emit(void *ctx, const char *bytes, size_t n)
{
    sbuf *b = ctx;
    /* "</" could end an HTML <script> block holding the JSON */
    for (size_t i = 0; i < n; i++) {
        if (bytes[i] == '/' && i > 0 && bytes[i - 1] == '<') {
            sbuf_add(b, bytes, i);
            sbuf_puts(b, "\\");
            bytes += i;
            n -= i;
            i = 0;
        }
    }
    sbuf_add(b, bytes, n);
}

void sbuf_json_str(sbuf *b, const char *s)
{
    if (!s) {
        sbuf_puts(b, "null");
        return;
    }
    sbuf_puts(b, "\"");
    bw_json_escape(s, emit, b);
    sbuf_puts(b, "\"");
}

void sbuf_json_double(sbuf *b, double v)
{
    char buf[40];
    sbuf_puts(b, bw_json_number(v, buf, sizeof buf));
}

void sbuf_base64(sbuf *b, const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    if (n > SIZE_MAX / 2 || !sbuf_reserve(b, (n + 2) / 3 * 4)) return;
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}
