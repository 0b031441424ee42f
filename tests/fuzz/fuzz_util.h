/* Helpers shared by the libFuzzer targets of tests/fuzz/ (fuzz_util.c):
 * a private scratch directory for targets whose entry point takes a path,
 * and the check that aborts (so that libFuzzer, and the gcc corpus replay
 * in tests/meson.build, report a broken invariant as a crash). */
#ifndef BARLOW_FUZZ_UTIL_H
#define BARLOW_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts when ok is 0. */
void fuzz_check(int ok);

/* Writes size bytes of data to the file `name` in this process's scratch
 * directory (made on first use, removed at exit) and puts its path into
 * path (cap bytes). Returns 0, or -1 when the file cannot be written. */
int fuzz_write(const char *name, const void *data, size_t size, char *path, size_t cap);

/* Little-endian unsigned integer of the n <= 8 bytes at p. */
uint64_t fuzz_le(const uint8_t *p, size_t n);

/* A failed call must leave a message and, when it has an out-pointer, leave
 * it NULL: checks st against that (st = BARLOW_OK passes). */
void fuzz_check_failure(int st, const void *out);

#endif
