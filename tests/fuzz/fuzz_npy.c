/* libFuzzer target over the .npy reader (lib/npy.c, lib/matrix.c): each
 * input is written to a scratch file and read by barlow_array_load_npy,
 * barlow_matrix_load_npy and barlow_matrix_map_npy. Invariants: an array's
 * element count is the product of its dims and converts (or is refused)
 * without reading past it; a matrix has rows and columns, and the mapped
 * and the loaded matrix of a float32 file hold the same bits; a refusal
 * leaves a message and no result. Built by tests/fuzz/run npy; the corpus
 * is tests/fuzz/npy/. */
#include <stdlib.h>
#include <string.h>

#include "barlow/matrix.h"
#include "fuzz_util.h"

static void walk_array(const barlow_array *a)
{
    size_t n = barlow_array_size(a), prod = 1, nd = barlow_array_ndim(a);
    fuzz_check(nd <= 8 && barlow_array_dim(a, nd) == 0);
    for (size_t k = 0; k < nd; k++) prod *= barlow_array_dim(a, k);
    fuzz_check(prod == n && (n == 0 || barlow_array_data(a) != NULL));
    if (n == 0 || n > (1u << 20)) return;
    int32_t *i32 = malloc(n * sizeof *i32);
    float *f32 = malloc(n * sizeof *f32);
    if (i32) (void)barlow_array_to_int32(a, i32);
    if (f32) (void)barlow_array_to_float32(a, f32);
    free(i32);
    free(f32);
}

static void check_same(const barlow_matrix *a, const barlow_matrix *b)
{
    size_t r = barlow_matrix_rows(a), c = barlow_matrix_cols(a);
    fuzz_check(r == barlow_matrix_rows(b) && c == barlow_matrix_cols(b));
    for (size_t i = 0; i < r; i++)
        fuzz_check(memcmp(barlow_matrix_row(a, i), barlow_matrix_row(b, i), c * sizeof(float)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (fuzz_write("in.npy", data, size, path, sizeof path) != 0) return 0;
    barlow_array *a = NULL;
    barlow_status st = barlow_array_load_npy(path, &a);
    fuzz_check_failure(st, a);
    if (st == BARLOW_OK) walk_array(a);

    barlow_matrix *m = NULL, *mapped = NULL;
    st = barlow_matrix_load_npy(path, &m);
    fuzz_check_failure(st, m);
    fuzz_check(st != BARLOW_OK || (barlow_matrix_rows(m) > 0 && barlow_matrix_cols(m) > 0));
    barlow_status ms = barlow_matrix_map_npy(path, &mapped);
    fuzz_check_failure(ms, mapped);
    if (ms == BARLOW_OK) {
        /* a mappable file is a float32 matrix that load_npy reads too */
        fuzz_check(st == BARLOW_OK && a && barlow_array_dtype(a) == BARLOW_DTYPE_FLOAT32);
        fuzz_check(barlow_matrix_data_mut(mapped) == NULL);
        check_same(m, mapped);
    }
    barlow_matrix_free(mapped);
    barlow_matrix_free(m);
    barlow_array_free(a);
    return 0;
}
