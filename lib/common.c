/* Library-wide services: version, status text, thread-local errors, memory,
 * CPU count. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define BW_ERRBUF 1024

static _Thread_local char bw_errbuf[BW_ERRBUF];

const char *barlow_version_string(void) { return BARLOW_VERSION_STRING; }

uint32_t barlow_version_number(void) { return BARLOW_VERSION_NUMBER; }

const char *barlow_status_str(barlow_status status)
{
    switch (status) {
    case BARLOW_OK: return "ok";
    case BARLOW_E_INTERNAL: return "internal error";
    case BARLOW_E_INVALID_ARG: return "invalid argument";
    case BARLOW_E_NOMEM: return "out of memory";
    case BARLOW_E_IO: return "input/output error";
    case BARLOW_E_FORMAT: return "malformed data";
    case BARLOW_E_STATE: return "invalid state";
    case BARLOW_E_UNSUPPORTED: return "unsupported";
    case BARLOW_E_BACKEND: return "backend error";
    case BARLOW_E_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

size_t barlow_dtype_size(barlow_dtype dtype)
{
    switch (dtype) {
    case BARLOW_DTYPE_FLOAT32: return 4;
    case BARLOW_DTYPE_FLOAT64: return 8;
    case BARLOW_DTYPE_INT32: return 4;
    case BARLOW_DTYPE_INT64: return 8;
    case BARLOW_DTYPE_BOOL: return 1;
    case BARLOW_DTYPE_UINT8: return 1;
    }
    return 0;
}

const char *barlow_dtype_name(barlow_dtype dtype)
{
    switch (dtype) {
    case BARLOW_DTYPE_FLOAT32: return "float32";
    case BARLOW_DTYPE_FLOAT64: return "float64";
    case BARLOW_DTYPE_INT32: return "int32";
    case BARLOW_DTYPE_INT64: return "int64";
    case BARLOW_DTYPE_BOOL: return "bool";
    case BARLOW_DTYPE_UINT8: return "uint8";
    }
    return "unknown";
}

const char *barlow_last_error(void) { return bw_errbuf; }

void bw_clear_error(void) { bw_errbuf[0] = '\0'; }

/* Stores text[0..len) as this thread's message. Text longer than the buffer
 * (a path of a megabyte, say) keeps its head and its tail, where the reason
 * is, with "..." between; the cuts fall on UTF-8 character boundaries. */
static void bw_store_message(const char *text, size_t len)
{
    if (len < BW_ERRBUF) {
        memmove(bw_errbuf, text, len);
        bw_errbuf[len] = '\0';
        return;
    }
    size_t head = BW_ERRBUF / 4, tail = BW_ERRBUF - 1 - head - 3;
    while (head > 0 && ((unsigned char)text[head] & 0xC0) == 0x80) head--;
    const char *t = text + len - tail;
    while (((unsigned char)*t & 0xC0) == 0x80) t++, tail--;
    memmove(bw_errbuf, text, head);
    memcpy(bw_errbuf + head, "...", 3);
    memmove(bw_errbuf + head + 3, t, tail);
    bw_errbuf[head + 3 + tail] = '\0';
}

/* Formats the message, eliding the middle of an over-long result
 * (bw_store_message). */
static void bw_vset_message(const char *fmt, va_list ap)
{
    char small[BW_ERRBUF];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    size_t len = n > 0 ? (size_t)n : 0;
    /* plain malloc: an allocation failure here must not report itself */
    char *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf) { /* no memory for the long text: plain truncation */
        buf = small;
        len = sizeof small - 1;
    }
    vsnprintf(buf, len + 1, fmt, ap);
    bw_store_message(buf, len);
    if (buf != small) free(buf);
}

barlow_status bw_error(barlow_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bw_vset_message(fmt, ap);
    va_end(ap);
    return status;
}

barlow_status bw_error_prefix(barlow_status status, const char *fmt, ...)
{
    /* prefix and old message are each shorter than the buffer, so their
     * join fits here; bw_store_message elides it if it is too long */
    char old[BW_ERRBUF], text[2 * BW_ERRBUF + 2];
    size_t m = strlen(bw_errbuf);
    memcpy(old, bw_errbuf, m + 1);
    va_list ap;
    va_start(ap, fmt);
    bw_vset_message(fmt, ap); /* the prefix alone, elided if long */
    va_end(ap);
    size_t pl = strlen(bw_errbuf);
    memcpy(text, bw_errbuf, pl);
    memcpy(text + pl, ": ", 2);
    memcpy(text + pl + 2, old, m);
    bw_store_message(text, pl + 2 + m);
    return status;
}

barlow_status bw_check_options_version(uint32_t version, uint32_t max, const char *what)
{
    if (version == 0 || version > max)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: version=%u is not known to this libbarlow (1..%u); "
                        "fill the struct with its _options_init()",
                        what, (unsigned)version, (unsigned)max);
    return BARLOW_OK;
}

void barlow_buffer_free(barlow_buffer *buf)
{
    if (!buf) return;
    bw_free(buf->data);
    buf->data = NULL;
    buf->size = 0;
}

size_t barlow_cpu_count(void)
{
#ifdef CPU_COUNT
    /* The processors this process may run on (its affinity mask), which is
     * what "available" means under taskset, cgroups' cpusets or containers. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int c = CPU_COUNT(&set);
        if (c > 0) return (size_t)c;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

size_t bw_resolve_threads(size_t threads, size_t max_useful)
{
    size_t t = threads ? threads : barlow_cpu_count();
    if (max_useful && t > max_useful) t = max_useful;
    return t ? t : 1;
}

/* ---- resource limits ------------------------------------------------------ */

static _Atomic uint64_t bw_limits[BW_LIMIT_COUNT] = {
    [BARLOW_LIMIT_TEXT_BYTES] = (uint64_t)1 << 30,
    [BARLOW_LIMIT_IMAGE_BYTES] = (uint64_t)256 << 20,
    [BARLOW_LIMIT_MODEL_BYTES] = (uint64_t)8 << 30,
    [BARLOW_LIMIT_ARRAY_BYTES] = (uint64_t)16 << 30,
    [BARLOW_LIMIT_DECODE_BYTES] = (uint64_t)4 << 30,
};

static const char *const bw_limit_names[BW_LIMIT_COUNT] = {
    [BARLOW_LIMIT_TEXT_BYTES] = "BARLOW_LIMIT_TEXT_BYTES",
    [BARLOW_LIMIT_IMAGE_BYTES] = "BARLOW_LIMIT_IMAGE_BYTES",
    [BARLOW_LIMIT_MODEL_BYTES] = "BARLOW_LIMIT_MODEL_BYTES",
    [BARLOW_LIMIT_ARRAY_BYTES] = "BARLOW_LIMIT_ARRAY_BYTES",
    [BARLOW_LIMIT_DECODE_BYTES] = "BARLOW_LIMIT_DECODE_BYTES",
};

uint64_t barlow_limit_get(barlow_limit which)
{
    if ((unsigned)which >= BW_LIMIT_COUNT) return 0;
    return atomic_load(&bw_limits[which]);
}

barlow_status barlow_limit_set(barlow_limit which, uint64_t value)
{
    bw_clear_error();
    if ((unsigned)which >= BW_LIMIT_COUNT)
        return bw_error(BARLOW_E_INVALID_ARG, "barlow_limit_set: unknown limit %d (0..%d)",
                        (int)which, BW_LIMIT_COUNT - 1);
    if (value == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "barlow_limit_set: %s=0 (must be >= 1)",
                        bw_limit_names[which]);
    atomic_store(&bw_limits[which], value);
    return BARLOW_OK;
}

const char *bw_limit_name(barlow_limit which)
{
    return (unsigned)which < BW_LIMIT_COUNT ? bw_limit_names[which] : "no limit";
}
