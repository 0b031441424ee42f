/* The allocator every module of libbarlow goes through (bw_malloc and
 * friends, stb's and zlib's hooks), and its test-only fault injection:
 * bw_alloc_fail_set makes the Nth allocation fail, once or from then on,
 * and counts allocations minus frees (tests/test_alloc_fail.c). Compiled
 * into the library and, for lib/json.c and the report, into the barlow
 * program (programs/barlow). */
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Nonzero once bw_alloc_fail_set was called: the one load on the fast path. */
static atomic_int bw_hook_on;
static atomic_long bw_fail_at;    /* 1-based allocation to fail; 0: none */
static atomic_int bw_fail_forever; /* fail bw_fail_at and every later one */
static atomic_long bw_alloc_seq;  /* allocations since bw_alloc_fail_set */
static atomic_long bw_live;       /* allocations minus frees */
static atomic_llong bw_live_bytes; /* their usable bytes (malloc_usable_size) */

void bw_alloc_fail_set(long n, int forever)
{
    atomic_store(&bw_fail_at, n > 0 ? n : 0);
    atomic_store(&bw_fail_forever, forever != 0);
    atomic_store(&bw_alloc_seq, 0);
    atomic_store(&bw_hook_on, 1);
}

long bw_alloc_count(void) { return atomic_load(&bw_alloc_seq); }

long bw_alloc_live(void) { return atomic_load(&bw_live); }

long long bw_alloc_live_bytes(void) { return atomic_load(&bw_live_bytes); }

/* The slow path of an allocation while the hook is on: counts it and says
 * whether it is to fail. */
static bool bw_hook_fails(void)
{
    long k = atomic_fetch_add(&bw_alloc_seq, 1) + 1;
    long at = atomic_load(&bw_fail_at);
    if (at == 0) return false;
    return k == at || (k > at && atomic_load(&bw_fail_forever));
}

/* Whether this allocation is to fail (the hook on and its turn come). */
static inline bool bw_injected_failure(void)
{
    return atomic_load_explicit(&bw_hook_on, memory_order_relaxed) && bw_hook_fails();
}

/* Counts a new block (p non-NULL) while the hook is on; returns p. */
static inline void *bw_track(void *p)
{
    if (p && atomic_load_explicit(&bw_hook_on, memory_order_relaxed)) {
        atomic_fetch_add(&bw_live, 1);
        atomic_fetch_add(&bw_live_bytes, (long long)malloc_usable_size(p));
    }
    return p;
}

bool bw_alloc_injected_failure(void) { return bw_injected_failure(); }

void *bw_malloc(size_t size, const char *who)
{
    void *p = bw_injected_failure() ? NULL : bw_track(malloc(size ? size : 1));
    if (!p) bw_error(BARLOW_E_NOMEM, "%s: out of memory allocating %zu bytes", who, size);
    return p;
}

void *bw_mallocn(size_t n, size_t size, const char *who)
{
    if (size && n > SIZE_MAX / size) {
        bw_error(BARLOW_E_NOMEM, "%s: %zu x %zu bytes overflows", who, n, size);
        return NULL;
    }
    return bw_malloc(n * size, who);
}

void *bw_calloc(size_t n, size_t size, const char *who)
{
    void *p = bw_injected_failure() ? NULL : bw_track(calloc(n ? n : 1, size ? size : 1));
    if (!p) bw_error(BARLOW_E_NOMEM, "%s: out of memory allocating %zu x %zu bytes",
                     who, n, size);
    return p;
}

void *bw_realloc(void *ptr, size_t size, const char *who)
{
    if (!ptr) return bw_malloc(size, who);
    if (bw_injected_failure()) {
        bw_error(BARLOW_E_NOMEM, "%s: out of memory allocating %zu bytes", who, size);
        return NULL;
    }
    int on = atomic_load_explicit(&bw_hook_on, memory_order_relaxed);
    long long old = on ? (long long)malloc_usable_size(ptr) : 0;
    void *p = realloc(ptr, size ? size : 1);
    if (p && on) atomic_fetch_add(&bw_live_bytes, (long long)malloc_usable_size(p) - old);
    if (!p) bw_error(BARLOW_E_NOMEM, "%s: out of memory allocating %zu bytes", who, size);
    return p;
}

void *bw_reallocn(void *ptr, size_t n, size_t size, const char *who)
{
    if (size && n > SIZE_MAX / size) {
        bw_error(BARLOW_E_NOMEM, "%s: %zu x %zu bytes overflows", who, n, size);
        return NULL;
    }
    return bw_realloc(ptr, n * size, who);
}

char *bw_strdup(const char *s, const char *who)
{
    return bw_strndup(s, strlen(s), who);
}

char *bw_strndup(const char *s, size_t n, const char *who)
{
    size_t len = strnlen(s, n);
    char *p = bw_malloc(len + 1, who);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void bw_free(void *ptr)
{
    if (ptr && atomic_load_explicit(&bw_hook_on, memory_order_relaxed)) {
        atomic_fetch_sub(&bw_live, 1);
        atomic_fetch_sub(&bw_live_bytes, (long long)malloc_usable_size(ptr));
    }
    free(ptr);
}

void *bw_zalloc(void *opaque, unsigned items, unsigned size)
{
    (void)opaque;
    return bw_mallocn(items, size, "zlib");
}

void bw_zfree(void *opaque, void *ptr)
{
    (void)opaque;
    bw_free(ptr);
}
