/*
 * Internal to the matrix/.npy/.npz module (lib/matrix.c, lib/npy.c,
 * lib/npz.c): the handle structs, the .npy header parser and writer, and a
 * byte-source abstraction so that a .npy file and an .npz member are read by
 * the same code (and an .npz member is inflated straight into the array's
 * buffer). Not installed; everything here is hidden.
 */
#ifndef BARLOW_NPY_H
#define BARLOW_NPY_H

#include <stdbool.h>
#include <stdint.h>

#include "barlow/matrix.h"
#include "internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#  define BW_HOST_LITTLE 0
#else
#  define BW_HOST_LITTLE 1
#endif

/* ---- handles ------------------------------------------------------------- */

typedef enum bw_matrix_kind {
    BW_MATRIX_OWNED = 0,    /* data is bw_malloc'd by the library */
    BW_MATRIX_BORROWED = 1, /* data belongs to the caller */
    BW_MATRIX_MAPPED = 2    /* data lies in a read-only file mapping */
} bw_matrix_kind;

struct barlow_matrix {
    float *data;
    size_t rows, cols, stride;
    bw_matrix_kind kind;
    void *map_base; /* BW_MATRIX_MAPPED: the mmap'd region */
    size_t map_len;
};

#define BW_NPY_MAX_NDIM 8

struct barlow_array {
    barlow_dtype dtype;
    size_t ndim;
    size_t shape[BW_NPY_MAX_NDIM];
    size_t size; /* elements */
    void *data;  /* C order, host byte order; bw_malloc'd (>= 1 byte) */
};

/* A new matrix handle over data of the given kind (map_base/map_len zero:
 * the caller sets them for a mapping). The one place that makes a
 * barlow_matrix. Error: NOMEM naming who (data is then left alone). */
barlow_status bw_matrix_new(float *data, size_t rows, size_t cols, size_t stride,
                            bw_matrix_kind kind, const char *who, barlow_matrix **out);

/* Wraps an owned bw_malloc'd buffer of rows*cols floats in a matrix (takes the
 * buffer on success only). Error: NOMEM naming who. */
barlow_status bw_matrix_adopt(float *data, size_t rows, size_t cols, const char *who,
                              barlow_matrix **out);

/* ---- .npy header --------------------------------------------------------- */

/* The largest header (the dict text) we accept. numpy writes < 200 bytes for
 * 8 dimensions and itself refuses more than 10000 by default. */
#define BW_NPY_MAX_HEADER 65536u

typedef struct bw_npy_header {
    barlow_dtype dtype;
    bool fortran;
    size_t ndim;
    size_t shape[BW_NPY_MAX_NDIM];
    size_t count;        /* elements (product of shape; 1 for 0-d) */
    uint64_t data_bytes; /* count * element size */
    uint64_t data_offset; /* bytes before the data (prelude + header) */
    int major, minor;
    size_t str_chars;    /* a '<U{n}' string array (only when the source allows
                          * it, bw_src.allow_str): n code points per element
                          * (dtype is then meaningless); 0 for numeric dtypes */
} bw_npy_header;

/* "1300x2048" (or "scalar" for 0-d) into buf. */
void bw_npy_shape_str(const size_t *shape, size_t ndim, char *buf, size_t cap);

/* ---- byte sources ---------------------------------------------------------- */

/* A sequential byte source: a file or an .npz member. read() fills buf with
 * up to n bytes and sets *got (< n only at the end of the source); a non-OK
 * status means a real error whose message is already set. finish() is called
 * after the data has been read and checks that nothing follows it (and, for
 * a zip member, its CRC). `total` is the source's size when known (a regular
 * file, a zip member), else UINT64_MAX. */
typedef struct bw_src bw_src;
struct bw_src {
    barlow_status (*read)(bw_src *s, void *buf, size_t n, size_t *got);
    barlow_status (*finish)(bw_src *s);
    uint64_t total;
    const char *who;  /* public function name for messages */
    const char *path; /* file (and member) for messages */
    bool allow_str;   /* accept a '<U{n}' descr (bw_npy_read_strings) */
};

/* Reads and validates the prelude and the header dict. Errors name who and
 * path: FORMAT (magic, version, syntax, truncated, sizes that disagree with
 * src->total, overflow), UNSUPPORTED (dtype, big-endian, ndim > 8). */
barlow_status bw_npy_read_header(bw_src *src, bw_npy_header *h);

/* What a load makes of the array: a barlow_array as stored, or a float32
 * barlow_matrix. */
typedef enum bw_npy_as { BW_NPY_AS_ARRAY, BW_NPY_AS_MATRIX } bw_npy_as;

/* Reads the header (bw_npy_read_header) and then the data from src into a
 * new array / float32 matrix, then calls src->finish(); out is a
 * barlow_array ** for BW_NPY_AS_ARRAY, a barlow_matrix ** otherwise. The one
 * path shared by the .npy and .npz loaders. */
barlow_status bw_npy_read(bw_src *src, bw_npy_as as, void *out);

/* The largest '<U{n}' width accepted (code points per element). */
#define BW_NPY_MAX_STR_CHARS 65536u

/* Reads a 1-D '<U{n}' array (numpy's array of str: UTF-32LE code points,
 * NUL-padded) from src into n bw_malloc'd UTF-8 strings (*out, free with
 * bw_npy_strings_free), then calls src->finish(). Sets src->allow_str.
 * Errors name who and path: UNSUPPORTED (not a '<U' array, not 1-D),
 * FORMAT (a code point that is not a Unicode scalar value, a NUL inside
 * an element; and those of bw_npy_read_header), NOMEM. */
barlow_status bw_npy_read_strings(bw_src *src, char ***out, size_t *n);
void bw_npy_strings_free(char **v, size_t n);

/* The '<U{n}' encoding of n UTF-8 strings: *width = the most code points of
 * one string (at least 1), *data = n * width UTF-32LE code points (bw_malloc'd,
 * NUL-padded). Errors: INVALID_ARG naming who (a NULL string or one that is
 * not valid UTF-8, naming its index; width over BW_NPY_MAX_STR_CHARS), NOMEM. */
barlow_status bw_npy_encode_strings(const char *const *strs, size_t n, const char *who,
                                    size_t *width, unsigned char **data, uint64_t *bytes);

/* Adds member `name` to an .npz writer: a 1-D '<U{width}' array of the n
 * UTF-8 strings (as numpy writes np.array(list_of_str)); lib/npz.c.
 * Errors: as barlow_npz_writer_add, and bw_npy_encode_strings'. */
barlow_status bw_npz_writer_add_strings(barlow_npz_writer *w, const char *name,
                                        const char *const *strs, size_t n, const char *who);

/* Reads member `name` of an .npz as bw_npy_read_strings does. When
 * `optional` and the archive has no such member: OK with *out NULL and *n
 * 0 (no message). Errors: as barlow_array_load_npz, bw_npy_read_strings. */
barlow_status bw_npz_load_strings(const char *path, const char *name, bool optional,
                                  const char *who, char ***out, size_t *n);

/* Formats a version 1.0 header (magic ... '\n') for the array into buf
 * (cap >= BW_NPY_HEADER_CAP); returns its length, a multiple of 64. */
#define BW_NPY_HEADER_CAP 512
size_t bw_npy_format_header(barlow_dtype dtype, bool fortran, size_t ndim,
                            const size_t *shape, char *buf);
/* The same with a descr string ("<f4", "<U12"; at most 32 bytes). */
size_t bw_npy_format_header_descr(const char *descr, bool fortran, size_t ndim,
                                  const size_t *shape, char *buf);

/* Checks the arguments of a write (dtype known, ndim <= 8, shape given when
 * ndim > 0, data given when the array is not empty, no overflow) and sets
 * *bytes to the size of the data. Errors: INVALID_ARG naming who. */
barlow_status bw_npy_check_write(const char *who, barlow_dtype dtype, size_t ndim,
                                 const size_t *shape, const void *data, uint64_t *bytes);

/* Adds member `name` as barlow_npz_writer_add does, but stored (not
 * deflated) and laid out so that its array data starts at a file offset
 * equal to align_rem modulo align_mod (1..32768): a reader can then map it
 * (lib/shards.c). Errors: as barlow_npz_writer_add, naming who. */
barlow_status bw_npz_writer_add_aligned(barlow_npz_writer *w, const char *name,
                                        barlow_dtype dtype, size_t ndim, const size_t *shape,
                                        const void *data, uint64_t align_mod,
                                        uint64_t align_rem, const char *who);

/* Finds member `name` of the archive open as fp (fsize bytes; path for
 * messages) and gives the file offset and size of its bytes (the .npy
 * header and data). Errors naming who and path: INVALID_ARG (no such
 * member, listing them), UNSUPPORTED (the member is compressed, encrypted
 * or of another method), FORMAT, IO, NOMEM. */
barlow_status bw_npz_stored_member(FILE *fp, uint64_t fsize, const char *path, const char *name,
                                   const char *who, uint64_t *off, uint64_t *size);

/* ZIP64 records are written for sizes and offsets >= this (lib/npz.c).
 * 0xffffffff; white-box tests lower it to exercise ZIP64 on small files. */
extern uint64_t bw_npz_zip64_limit;

/* Little-endian helpers. */
static inline uint16_t bw_le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t bw_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t bw_le64(const unsigned char *p)
{
    return (uint64_t)bw_le32(p) | ((uint64_t)bw_le32(p + 4) << 32);
}
static inline void bw_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void bw_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void bw_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

#endif /* BARLOW_NPY_H */
