/*
 * libbarlow — common definitions: export macro, version, status codes,
 * errors, memory, progress callbacks and thread counts.
 *
 * Conventions used by every header of the library (docs/conventions.md):
 *
 *  - Every fallible function returns a barlow_status (BARLOW_OK = 0, errors
 *    negative). On entry it clears this thread's error message; on failure it
 *    sets a message naming the function and the offending value (file, row,
 *    column), readable with barlow_last_error().
 *  - Out-parameters are written only on success. A failed call leaks nothing
 *    and leaves no partial file behind.
 *  - A path argument that is NULL or empty ("") is INVALID_ARG in every
 *    function that takes one.
 *  - *_free() functions accept NULL and never touch the error message.
 *  - Options are structs that begin with `uint32_t version`, filled with
 *    defaults by the matching *_options_init(). A NULL options pointer means
 *    "all defaults". Out-of-range values are rejected, never clamped.
 *  - Memory the library allocates for the caller (text, PNG bytes, file
 *    contents, paths) comes in a barlow_buffer and is released with
 *    barlow_buffer_free(); a handle is released with its own *_free().
 *  - No function aborts, exits or prints.
 *
 * Thread safety: functions taking `const barlow_x *` may run concurrently on
 * one handle; functions taking `barlow_x *` need exclusive access. Everything
 * in this header is thread-safe.
 */
#ifndef BARLOW_COMMON_H
#define BARLOW_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

#if defined(_WIN32) && defined(BARLOW_BUILDING)
#  define BARLOW_API __declspec(dllexport)
#elif defined(_WIN32)
#  define BARLOW_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define BARLOW_API __attribute__((visibility("default")))
#else
#  define BARLOW_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. Append only; values are never renumbered. */
typedef enum barlow_status {
    BARLOW_OK = 0,
    BARLOW_E_INTERNAL = -1,    /* a bug in libbarlow */
    BARLOW_E_INVALID_ARG = -2, /* NULL where not allowed, value out of range */
    BARLOW_E_NOMEM = -3,       /* allocation failed */
    BARLOW_E_IO = -4,          /* open/read/write/rename failed */
    BARLOW_E_FORMAT = -5,      /* malformed or lying file contents */
    BARLOW_E_STATE = -6,       /* call not valid in the object's state */
    BARLOW_E_UNSUPPORTED = -7, /* valid but unsupported (dtype, version) */
    BARLOW_E_BACKEND = -8,     /* libtorch or another backend failed */
    BARLOW_E_CANCELLED = -9    /* a progress callback asked to stop */
} barlow_status;

/* Element types of arrays read from or written to .npy/.npz files. */
typedef enum barlow_dtype {
    BARLOW_DTYPE_FLOAT32 = 0,
    BARLOW_DTYPE_FLOAT64 = 1,
    BARLOW_DTYPE_INT32 = 2,
    BARLOW_DTYPE_INT64 = 3,
    BARLOW_DTYPE_BOOL = 4,
    BARLOW_DTYPE_UINT8 = 5
} barlow_dtype;

/* Size in bytes of one element of `dtype`; 0 for an unknown value. */
BARLOW_API size_t barlow_dtype_size(barlow_dtype dtype);

/* Static name of `dtype` ("float32", "int64", ...; "unknown" otherwise). */
BARLOW_API const char *barlow_dtype_name(barlow_dtype dtype);

/* The library's version as "MAJOR.MINOR.PATCH" (static storage). Compare it
 * with BARLOW_VERSION_STRING to detect a header/library mismatch. */
BARLOW_API const char *barlow_version_string(void);

/* The run-time twin of BARLOW_VERSION_NUMBER. */
BARLOW_API uint32_t barlow_version_number(void);

/* Static English text for a status code ("invalid argument", ...); never NULL. */
BARLOW_API const char *barlow_status_str(barlow_status status);

/* This thread's message for the last failed call: never NULL, "" when the
 * last fallible call on this thread succeeded. The pointer stays valid until
 * the next fallible libbarlow call on this thread. */
BARLOW_API const char *barlow_last_error(void);

/* A variable-size byte buffer returned by the library (JSON text, PNG bytes). */
typedef struct barlow_buffer {
    void *data;  /* owned by the buffer; NUL-terminated when it holds text */
    size_t size; /* bytes, not counting the terminating NUL of text */
} barlow_buffer;

/* Frees buf->data and sets buf to {NULL, 0}. NULL is allowed. */
BARLOW_API void barlow_buffer_free(barlow_buffer *buf);

/* Progress callback of long operations: `done` of `total` units finished.
 * Called only on the thread that made the library call. A non-zero return
 * cancels: the operation stops, returns BARLOW_E_CANCELLED and leaves no
 * partial output. */
typedef int (*barlow_progress_fn)(size_t done, size_t total, void *user_data);

/* Number of processors available to this process (>= 1). Every `threads`
 * option of the library takes 0 to mean this many. Results never depend on
 * the thread count. */
BARLOW_API size_t barlow_cpu_count(void);

/* ---- resource limits ----------------------------------------------------- */

/* Process-wide caps on what the library reads or holds for one input, so that
 * a hostile or mistaken file (a symlink to /dev/zero, a 20 GB "CSV", a small
 * PNG that decodes to 16384x16384 pixels) fails with a message instead of
 * exhausting memory. Every value is in bytes; docs/limits.md has the table.
 * A limit that is hit gives an error naming the file, its size, the limit and
 * the name below. */
typedef enum barlow_limit {
    /* Size of a metadata CSV or class-name file (read whole). 1 GiB. */
    BARLOW_LIMIT_TEXT_BYTES = 0,
    /* Size of one encoded image file (read whole before decoding). 256 MiB. */
    BARLOW_LIMIT_IMAGE_BYTES = 1,
    /* Size of a TorchScript model file (read whole). 8 GiB. */
    BARLOW_LIMIT_MODEL_BYTES = 2,
    /* Bytes of one array read into memory from .npy, an .npz member or IDX
     * (after decompression; a memory-mapped matrix is not counted). 16 GiB. */
    BARLOW_LIMIT_ARRAY_BYTES = 3,
    /* Estimated pixel memory of all image decodes in flight in the process at
     * once (every thread together). A decode that would pass it waits for
     * others to finish; an image that alone needs more is refused. 4 GiB. */
    BARLOW_LIMIT_DECODE_BYTES = 4
} barlow_limit;

/* The current value of `which`; 0 for an unknown limit. Thread-safe. */
BARLOW_API uint64_t barlow_limit_get(barlow_limit which);

/* Sets `which` for the whole process (new reads and decodes see it; those in
 * flight keep the value they started with). value >= 1. Thread-safe.
 * Errors: INVALID_ARG (unknown limit, value 0). */
BARLOW_API barlow_status barlow_limit_set(barlow_limit which, uint64_t value);

/* Reads the whole of a regular file, as every reader of the library does:
 * the path is checked before it is opened (a directory, device, FIFO or
 * socket is refused without being opened, so nothing waits and no device
 * acts), symbolic links are followed, and the size must be within the limit
 * `which` (never more is read, even from a file that grows meanwhile).
 * out->data receives the bytes plus a terminating NUL (out->size excludes
 * it); release it with barlow_buffer_free(). For a program's own inputs
 * (e.g. a JSON file of its own) under the same rules. Thread-safe.
 * Errors: INVALID_ARG (NULL or empty path, NULL out, an unknown limit), IO
 * (missing, unreadable, or not a regular file, naming the path and what it
 * is), UNSUPPORTED (over the limit, naming the file, its size, the limit and
 * its name), NOMEM. *out is untouched on error. */
BARLOW_API barlow_status barlow_file_read(const char *path, barlow_limit which,
                                          barlow_buffer *out);

/* ---- output files ------------------------------------------------------- */

/* Every file the library writes goes through one layer (docs/limits.md,
 * "Output files"): the data goes to a temporary file in the target's
 * directory, which is flushed to disk and renamed onto the path only when
 * complete, so a reader sees the old file or the new one, never a part. An
 * existing target must be a regular file (its permission bits, and as root
 * its owner, are kept); a symbolic link, directory, device, FIFO or socket at
 * the path is refused, never replaced or written through. On any error the
 * temporary is removed and the target is untouched. */

/* Checks, without writing anything, that `path` could be written: it is
 * absent or a regular file (not a symbolic link), and its directory exists
 * and is writable. For programs that check every output before a long run.
 * Errors: INVALID_ARG (NULL or empty path), IO (naming the path and the
 * reason: a directory, device, FIFO, socket or symbolic link; a missing or
 * unwritable directory). Thread-safe. */
BARLOW_API barlow_status barlow_output_check(const char *path);

/* Removes every temporary file that the library's writers have created in
 * this process and not yet renamed into place or removed; a writer whose
 * temporary was removed fails with BARLOW_E_CANCELLED when it next commits.
 * Returns how many were removed. For a program's SIGINT/SIGTERM handling: it
 * takes a lock, so it is NOT async-signal-safe; call it from a thread that
 * receives the signal with sigwait() (as the barlow program does), not from a
 * signal handler. Thread-safe. */
BARLOW_API size_t barlow_output_remove_temporaries(void);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_COMMON_H */
