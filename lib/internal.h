/*
 * Internal helpers shared by every module of libbarlow. Not installed; not
 * part of the ABI. Everything here has hidden visibility (the library is
 * built with -fvisibility=hidden), and internal names start with `bw_`.
 */
#ifndef BARLOW_INTERNAL_H
#define BARLOW_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "barlow/common.h"
#include "utf8.h" /* bw_utf8_check, the one UTF-8 validator */

#if defined(__GNUC__)
#  define BW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define BW_PRINTF(a, b)
#endif

/* ---- errors (lib/common.c) ---------------------------------------------- */

/* Clears this thread's message; every public fallible function calls it
 * first. */
void bw_clear_error(void);

/* Sets this thread's message (printf-style) and returns `status`, so that
 * `return bw_error(BARLOW_E_INVALID_ARG, "barlow_x: k=%zu > d=%zu", k, d);`
 * reads naturally. Messages should start with the public function's name. */
barlow_status bw_error(barlow_status status, const char *fmt, ...) BW_PRINTF(2, 3);

/* Prepends "prefix: " to the current message (for context added by callers
 * up the stack, e.g. the CLI adding a file name). Returns `status`. */
barlow_status bw_error_prefix(barlow_status status, const char *fmt, ...) BW_PRINTF(2, 3);

/* Checks an options struct's version: 0 or > max → INVALID_ARG naming the
 * struct. `what` is e.g. "barlow_selector_create: barlow_selector_options". */
barlow_status bw_check_options_version(uint32_t version, uint32_t max,
                                       const char *what);

/* ---- memory (lib/alloc.c) ------------------------------------------------ */

/* malloc/calloc/realloc/strdup that set a NOMEM message naming `who` on
 * failure; every allocation of the library goes through them (stb's and
 * zlib's too), and every block is freed with bw_free. Sizes of 0 allocate
 * 1 byte. bw_mallocn and bw_reallocn check n*size for overflow.
 * bw_realloc(NULL, ...) is bw_malloc; on failure the old block is kept.
 * bw_strndup copies at most n bytes of s (less at a NUL). */
void *bw_malloc(size_t size, const char *who);
void *bw_mallocn(size_t n, size_t size, const char *who);
void *bw_calloc(size_t n, size_t size, const char *who);
void *bw_realloc(void *ptr, size_t size, const char *who);
void *bw_reallocn(void *ptr, size_t n, size_t size, const char *who);
char *bw_strdup(const char *s, const char *who);
char *bw_strndup(const char *s, size_t n, const char *who);
void bw_free(void *ptr);
/* zlib's z_stream.zalloc/zfree (alloc_func, free_func), through the above. */
void *bw_zalloc(void *opaque, unsigned items, unsigned size);
void bw_zfree(void *opaque, void *ptr);

/* Fault injection, for tests only (never exported; off until first called,
 * when the allocation path costs one relaxed atomic load). From this call
 * on, allocations are numbered 1, 2, ...: the nth fails (n > 0; 0: none),
 * and with `forever` every later one too. The first call also starts
 * counting live blocks, so make it before the library allocates anything.
 * bw_alloc_count: allocations attempted since the last bw_alloc_fail_set;
 * bw_alloc_live: blocks allocated minus blocks freed since the first;
 * bw_alloc_live_bytes: their usable bytes (malloc_usable_size). */
void bw_alloc_fail_set(long n, int forever);
/* For an allocation not made by malloc (an anonymous mmap): counts it as
 * one and says whether the hook fails it (then act as if mmap failed). */
bool bw_alloc_injected_failure(void);
long bw_alloc_count(void);
long bw_alloc_live(void);
long long bw_alloc_live_bytes(void);

/* ---- threads ------------------------------------------------------------- */

/* Resolves a `threads` option: 0 → barlow_cpu_count(), else itself, and
 * never more than `max_useful` (when max_useful > 0). */
size_t bw_resolve_threads(size_t threads, size_t max_useful);

/* Runs fn(ctx, i, worker) for every i in [0, n) on `threads` workers (the
 * calling thread is worker 0). Items are handed out dynamically, so fn must
 * write only to per-item outputs for results to be independent of the thread
 * count. `worker` is in [0, threads) and may index per-worker scratch.
 * fn returns 0 to continue; a non-zero return stops the handing out of new
 * items and is returned (the first one by item order wins). If `progress` is
 * given, it is called on the calling thread only, as items complete; its
 * non-zero return stops the loop and bw_parallel_for returns
 * BARLOW_E_CANCELLED. Returns 0 on success, or BARLOW_E_NOMEM/INTERNAL when
 * threads cannot be started (then it falls back to running serially). */
typedef int (*bw_item_fn)(void *ctx, size_t i, size_t worker);
int bw_parallel_for(size_t n, size_t threads, bw_item_fn fn, void *ctx,
                    barlow_progress_fn progress, void *progress_user);

/* ---- files --------------------------------------------------------------- */

/* 1 when every one of x[0..n) is finite (no NaN or ±inf), else 0: a
 * branch-free SSE2 scan of the bits (lib/matrix.c). The one finiteness
 * test of float32 features; callers locate the offending value themselves
 * (only after a 0, so that the usual case stays one pass). */
int bw_f32_all_finite(const float *x, size_t n);

/* ---- limits (lib/common.c) and the file layer (lib/fileio.c) ------------- */

enum { BW_LIMIT_COUNT = 5 };
/* For bw_open_input on a file that is mapped or streamed, not read whole. */
#define BW_NO_LIMIT ((barlow_limit)-1)

/* "BARLOW_LIMIT_TEXT_BYTES", ...; "no limit" for BW_NO_LIMIT. */
const char *bw_limit_name(barlow_limit which);

/* UNSUPPORTED "who: name: <what> <bytes> bytes, over the limit of ... (NAME;
 * ...)" when bytes exceeds the limit, else OK. BW_NO_LIMIT never fails. */
barlow_status bw_check_limit(barlow_limit limit, uint64_t bytes, const char *who,
                             const char *name, const char *what);

/* Opens an input file: a regular file only (stat before open, so a device
 * is never opened and a FIFO never waited on; symbolic links are followed),
 * at most `limit` bytes (BW_NO_LIMIT: any size). *fd is O_CLOEXEC; *size is
 * its size. Errors: INVALID_ARG (NULL/empty path), IO naming who, the path
 * and what it is, UNSUPPORTED (over the limit, naming it). */
barlow_status bw_open_input(const char *path, const char *who, barlow_limit limit, int *fd,
                            uint64_t *size);
/* As bw_open_input, as a FILE opened "rb". */
barlow_status bw_fopen_input(const char *path, const char *who, barlow_limit limit, FILE **fp,
                             uint64_t *size);
/* Reads a whole input file (bw_open_input's checks; never more than the
 * limit even if it grows) into a bw_malloc'd buffer, NUL-terminated; *size
 * excludes the NUL. The one reader of every file read whole. */
barlow_status bw_read_file(const char *path, const char *who, barlow_limit limit, char **data,
                           size_t *size);

/* Atomic file output, the one writer of every output file: bw_atomic_open
 * checks the target (absent or a regular file; directory usable) and
 * creates "<path>.tmp-XXXXXX" beside it with the target's mode (a new
 * file's when absent), registered so that barlow_output_remove_temporaries
 * can remove it; bw_atomic_commit flushes, fsyncs, closes and renames it
 * onto path (CANCELLED when it was removed meanwhile); bw_atomic_abort
 * closes and removes it. After commit or abort nothing is left behind but
 * the complete file. Errors name `who` and path. */
typedef struct bw_atomic_file {
    FILE *fp;
    int fd;                             /* under fp (fp's own fileno is -1) */
    char *tmp_path;
    char *path;
    struct bw_atomic_file *prev, *next; /* the registry (lib/fileio.c) */
    bool removed;                       /* temporary gone (renamed or removed) */
} bw_atomic_file;
barlow_status bw_atomic_open(bw_atomic_file *af, const char *path, const char *who);
barlow_status bw_atomic_commit(bw_atomic_file *af, const char *who);
void bw_atomic_abort(bw_atomic_file *af);

/* I/O fault injection, for tests only (never exported; off until first
 * called, when each operation below costs one relaxed atomic load). af->fp
 * is a stdio stream over af->fd (fopencookie) whose writes, seeks and close
 * go through the layer, so that every write(2) of every writer passes the
 * hook, whether it comes from fwrite, fflush, fseeko or fclose. From
 * bw_io_fail_set on, the write-side operations are numbered 1, 2, ...:
 * creating the temporary (mkostemp), each write(2), the fsync, the close
 * and the rename. The nth fails (n > 0; 0: none): a write as `how` says,
 * any other operation with EIO (a failed close still closes the fd).
 * BW_IO_SHORT writes half of the bytes asked for (a short write) and fails
 * the write that follows with ENOSPC. bw_io_count: operations of kind op
 * since the last bw_io_fail_set (BW_IO_OPS: all of them). */
typedef enum bw_io_op {
    BW_IO_CREATE, BW_IO_WRITE, BW_IO_FSYNC, BW_IO_CLOSE, BW_IO_RENAME, BW_IO_OPS
} bw_io_op;
typedef enum bw_io_fault { BW_IO_EIO, BW_IO_ENOSPC, BW_IO_SHORT } bw_io_fault;
void bw_io_fail_set(long n, bw_io_fault how);
long bw_io_count(bw_io_op op);

/* ---- text building (JSON, DOT, CSV) -------------------------------------- */

/* A growable NUL-terminated string. On allocation failure it sets `failed`
 * and further appends do nothing; check bw_sb_finish(). */
typedef struct bw_sb {
    char *data;
    size_t len, cap;
    bool failed;
} bw_sb;
void bw_sb_init(bw_sb *sb);
void bw_sb_append(bw_sb *sb, const char *s);
void bw_sb_appendn(bw_sb *sb, const char *s, size_t n);
void bw_sb_appendf(bw_sb *sb, const char *fmt, ...) BW_PRINTF(2, 3);
/* A JSON string literal, always valid JSON text whatever the bytes: ", \,
 * controls and DEL escaped; well-formed UTF-8 passed through; each byte XX
 * of an ill-formed sequence written as \udcXX (Python's "surrogateescape":
 * json.loads(...).encode("utf-8", "surrogateescape") gives the bytes back). */
void bw_sb_json_string(bw_sb *sb, const char *s);
/* A JSON number with round-trip precision (%.17g trimmed); NaN/inf → null. */
void bw_sb_json_double(bw_sb *sb, double v);
/* JSON object members: `"key":` and `"key":value` for a double (as
 * bw_sb_json_double), a size, an id (negative → null) and a string. */
void bw_sb_json_key(bw_sb *sb, const char *key);
void bw_sb_json_kv_double(bw_sb *sb, const char *key, double v);
void bw_sb_json_kv_size(bw_sb *sb, const char *key, size_t v);
void bw_sb_json_kv_id(bw_sb *sb, const char *key, int64_t v);
void bw_sb_json_kv_string(bw_sb *sb, const char *key, const char *v);
void bw_sb_free(bw_sb *sb);
/* Moves the text into *buf (buf->size = length). Returns NOMEM (message
 * naming who) if an append failed; the builder is freed either way. */
barlow_status bw_sb_finish(bw_sb *sb, barlow_buffer *buf, const char *who);
/* Writes the text to path atomically (bw_atomic_*): NOMEM if an append
 * failed, IO naming the path; nothing is left behind on failure. The
 * builder is freed either way. */
barlow_status bw_sb_save(bw_sb *sb, const char *path, const char *who);

#endif /* BARLOW_INTERNAL_H */
