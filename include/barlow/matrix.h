/*
 * barlow_matrix — an n×d float32 matrix (row-major), and .npy/.npz I/O.
 *
 * A matrix either owns its memory or borrows the caller's (zero copy), or
 * maps a .npy file read-only. Rows are `stride` floats apart (stride >= cols).
 *
 * barlow_array is an n-dimensional array of any supported dtype as read from
 * a .npy file or an .npz member (labels, predictions, logits...). Writing
 * goes through barlow_array_save_npy() or a barlow_npz_writer.
 *
 * File formats (docs/formats.md): .npy versions 1.0, 2.0 and 3.0,
 * little-endian float32/float64/int32/int64/bool/uint8, C order (Fortran
 * order is read and transposed into C order). .npz is a zip archive of .npy
 * members, stored or deflated (read), deflated (written). Files are written
 * to a temporary name and renamed, so a failed write leaves nothing behind.
 *
 * Thread safety: const functions may run concurrently on one matrix/array;
 * a barlow_npz_writer is used by one thread at a time.
 */
#ifndef BARLOW_MATRIX_H
#define BARLOW_MATRIX_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_matrix barlow_matrix;
typedef struct barlow_array barlow_array;
typedef struct barlow_npz_writer barlow_npz_writer;

/* ---- matrices ---------------------------------------------------------- */

/* Creates an owned rows×cols matrix filled with zeros. rows and cols must be
 * >= 1. Errors: INVALID_ARG (NULL out, zero size, rows*cols overflow), NOMEM. */
BARLOW_API barlow_status barlow_matrix_create(size_t rows, size_t cols,
                                              barlow_matrix **out);

/* Creates an owned copy of `rows` rows of `cols` floats, rows `stride` floats
 * apart (0 = cols). Errors: INVALID_ARG, NOMEM. */
BARLOW_API barlow_status barlow_matrix_create_copy(const float *data, size_t rows,
                                                   size_t cols, size_t stride,
                                                   barlow_matrix **out);

/* Wraps caller memory without copying. The caller keeps `data` alive and
 * unchanged in shape until barlow_matrix_free() of the returned matrix;
 * `data` is not freed by the library. stride 0 = cols.
 * Errors: INVALID_ARG (NULL data/out, zero size, stride < cols). */
BARLOW_API barlow_status barlow_matrix_wrap(float *data, size_t rows, size_t cols,
                                            size_t stride, barlow_matrix **out);

/* Frees the matrix (and its memory when owned, or its file mapping). NULL ok. */
BARLOW_API void barlow_matrix_free(barlow_matrix *m);

BARLOW_API size_t barlow_matrix_rows(const barlow_matrix *m);   /* 0 for NULL */
BARLOW_API size_t barlow_matrix_cols(const barlow_matrix *m);   /* 0 for NULL */
BARLOW_API size_t barlow_matrix_stride(const barlow_matrix *m); /* floats between rows */

/* Pointer to element (0,0); row i starts at data + i*stride. NULL for NULL. */
BARLOW_API const float *barlow_matrix_data(const barlow_matrix *m);

/* Writable pointer to element (0,0); NULL for NULL or for a read-only
 * (file-mapped) matrix. */
BARLOW_API float *barlow_matrix_data_mut(barlow_matrix *m);

/* Pointer to row i; NULL when m is NULL or i >= rows. */
BARLOW_API const float *barlow_matrix_row(const barlow_matrix *m, size_t i);

/* Checks that every element is finite. Error: INVALID_ARG naming the first
 * offending row and column and the value (NaN, inf, -inf). */
BARLOW_API barlow_status barlow_matrix_check_finite(const barlow_matrix *m);

/* Creates an owned matrix of the given rows of m (in the given order).
 * Errors: INVALID_ARG (NULL, n_rows 0, an index >= rows naming it), NOMEM. */
BARLOW_API barlow_status barlow_matrix_gather_rows(const barlow_matrix *m,
                                                   const size_t *row_idx,
                                                   size_t n_rows,
                                                   barlow_matrix **out);

/* Reads a 2-D (or 1-D, as n×1) numeric .npy file into an owned float32
 * matrix. float64 and integer dtypes are converted (float64 rounds to the
 * nearest float32; a finite value beyond float32 range is an error naming
 * its row and column; NaN and ±inf are kept); bool must be 0/1.
 * Errors: INVALID_ARG (NULL), IO (naming the path), FORMAT (bad magic,
 * truncated or lying header, size mismatch, bool not 0/1), UNSUPPORTED
 * (dtype, big-endian, version, 0-d, ndim > 2, no rows or columns), NOMEM. */
BARLOW_API barlow_status barlow_matrix_load_npy(const char *path, barlow_matrix **out);

/* Maps a 2-D (or 1-D, as n×1) little-endian float32 C-order .npy file
 * read-only without reading it into memory (for feature files larger than
 * RAM); the pages are read when first used. The file must not be changed or
 * truncated while mapped. barlow_matrix_data_mut() of the result is NULL.
 * Errors: as barlow_matrix_load_npy, and UNSUPPORTED for any other dtype or
 * order, a file that is not a regular file, or data not starting at a
 * multiple of 4 bytes (use load_npy, which converts). */
BARLOW_API barlow_status barlow_matrix_map_npy(const char *path, barlow_matrix **out);

/* Reads member `name` (with or without the ".npy" suffix) of an .npz file as
 * barlow_matrix_load_npy does. Stored and deflated members; the member is
 * inflated straight into the matrix and its CRC-32 checked. Errors: as
 * load_npy; INVALID_ARG when the archive has no such member (the message
 * lists the members); FORMAT (not a zip, corrupt deflate data, CRC
 * mismatch); UNSUPPORTED (other compression methods, encryption). */
BARLOW_API barlow_status barlow_matrix_load_npz(const char *path, const char *name,
                                                barlow_matrix **out);

/* Writes m as a 2-D float32 .npy (version 1.0 header, the same bytes as
 * numpy's np.save) to path, atomically. A strided matrix is written packed.
 * Errors: INVALID_ARG, IO (naming the path; nothing left behind). */
BARLOW_API barlow_status barlow_matrix_save_npy(const barlow_matrix *m, const char *path);

/* ---- n-dimensional arrays ---------------------------------------------- */

/* Reads a .npy file of any supported dtype and 0..8 dimensions, C or Fortran
 * order (Fortran is converted to C order), keeping its dtype. Empty arrays
 * are allowed. Free with barlow_array_free(). Errors: as
 * barlow_matrix_load_npy, UNSUPPORTED only for the dtype, the version or
 * more than 8 dimensions. */
BARLOW_API barlow_status barlow_array_load_npy(const char *path, barlow_array **out);

/* Reads member `name` of an .npz file. Errors: as barlow_matrix_load_npz. */
BARLOW_API barlow_status barlow_array_load_npz(const char *path, const char *name,
                                               barlow_array **out);

BARLOW_API void barlow_array_free(barlow_array *a); /* NULL ok */
/* The element type (BARLOW_DTYPE_FLOAT32 for NULL). */
BARLOW_API barlow_dtype barlow_array_dtype(const barlow_array *a);
/* Number of dimensions (0 for a 0-d array and for NULL). */
BARLOW_API size_t barlow_array_ndim(const barlow_array *a);
/* Extent of dimension `axis`; 0 when axis >= ndim or a is NULL. */
BARLOW_API size_t barlow_array_dim(const barlow_array *a, size_t axis);
/* Number of elements (product of the dims; 1 for a 0-d array; 0 for NULL). */
BARLOW_API size_t barlow_array_size(const barlow_array *a);
/* The elements, C order, host byte order; owned by the array. NULL for NULL. */
BARLOW_API const void *barlow_array_data(const barlow_array *a);

/* Copies the elements converted to int32 into out (barlow_array_size(a)
 * elements). Errors: INVALID_ARG (NULL), FORMAT naming the index of the
 * first value that is not an integer in int32 range (floats with a fraction,
 * NaN, overflow). */
BARLOW_API barlow_status barlow_array_to_int32(const barlow_array *a, int32_t *out);

/* Copies the elements converted to float32 into out. Errors: INVALID_ARG,
 * FORMAT (a finite float64 beyond float32 range, naming its index). */
BARLOW_API barlow_status barlow_array_to_float32(const barlow_array *a, float *out);

/* Writes one array as a .npy file (version 1.0 header) at path, atomically.
 * shape has ndim (0..8) entries (may be NULL when ndim is 0); data holds
 * the product of shape elements of dtype in C order (may be NULL when that
 * product is 0). Errors: INVALID_ARG (NULL path, unknown dtype, ndim > 8,
 * size overflow), IO (naming the path; nothing left behind). */
BARLOW_API barlow_status barlow_array_save_npy(barlow_dtype dtype, size_t ndim,
                                               const size_t *shape, const void *data,
                                               const char *path);

/* ---- .npz writer --------------------------------------------------------- */

/* Starts an .npz archive at path: members are deflated into a temporary
 * file next to it, which barlow_npz_writer_commit() renames to path.
 * Errors: INVALID_ARG, IO (the directory is missing or not writable). */
BARLOW_API barlow_status barlow_npz_writer_open(const char *path, barlow_npz_writer **out);

/* Adds member `name` (".npy" is appended when missing) holding an array
 * (arguments as barlow_array_save_npy), deflated. ZIP64 records are written when
 * sizes or offsets need them. A failed add leaves the archive as it was
 * before the call. Errors: INVALID_ARG (NULL, empty name, bad dtype,
 * duplicate name), STATE (already committed), IO, NOMEM. */
BARLOW_API barlow_status barlow_npz_writer_add(barlow_npz_writer *w, const char *name,
                                               barlow_dtype dtype, size_t ndim,
                                               const size_t *shape, const void *data);

/* Writes the zip directory, closes and renames the archive into place. The
 * writer must still be freed. Errors: STATE (already committed), IO. */
BARLOW_API barlow_status barlow_npz_writer_commit(barlow_npz_writer *w);

/* Frees the writer; an uncommitted archive's temporary file is removed. */
BARLOW_API void barlow_npz_writer_free(barlow_npz_writer *w);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_MATRIX_H */
