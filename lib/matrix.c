/* barlow_matrix: an n×d float32 matrix that owns its memory, borrows the
 * caller's, or maps a .npy file (lib/npy.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "npy.h"

static barlow_status check_dims(const char *who, size_t rows, size_t cols, size_t stride)
{
    if (rows == 0 || cols == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: rows=%zu, cols=%zu (both must be >= 1)",
                        who, rows, cols);
    if (stride < cols)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: stride=%zu < cols=%zu", who, stride, cols);
    if (rows > (SIZE_MAX / sizeof(float)) / stride)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zu rows x stride %zu floats overflows",
                        who, rows, stride);
    return BARLOW_OK;
}

barlow_status bw_matrix_new(float *data, size_t rows, size_t cols, size_t stride,
                            bw_matrix_kind kind, const char *who, barlow_matrix **out)
{
    barlow_matrix *m = bw_calloc(1, sizeof *m, who);
    if (!m) return BARLOW_E_NOMEM;
    m->data = data;
    m->rows = rows;
    m->cols = cols;
    m->stride = stride;
    m->kind = kind;
    *out = m;
    return BARLOW_OK;
}

barlow_status bw_matrix_adopt(float *data, size_t rows, size_t cols, const char *who,
                              barlow_matrix **out)
{
    return bw_matrix_new(data, rows, cols, cols, BW_MATRIX_OWNED, who, out);
}

barlow_status barlow_matrix_create(size_t rows, size_t cols, barlow_matrix **out)
{
    static const char who[] = "barlow_matrix_create";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_status st = check_dims(who, rows, cols, cols);
    if (st) return st;
    float *data = bw_calloc(rows * cols, sizeof(float), who);
    if (!data) return BARLOW_E_NOMEM;
    st = bw_matrix_adopt(data, rows, cols, who, out);
    if (st) bw_free(data);
    return st;
}

barlow_status barlow_matrix_create_copy(const float *data, size_t rows, size_t cols,
                                        size_t stride, barlow_matrix **out)
{
    static const char who[] = "barlow_matrix_create_copy";
    bw_clear_error();
    if (!data) return bw_error(BARLOW_E_INVALID_ARG, "%s: data is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (stride == 0) stride = cols;
    barlow_status st = check_dims(who, rows, cols, stride);
    if (st) return st;
    float *copy = bw_mallocn(rows * cols, sizeof(float), who);
    if (!copy) return BARLOW_E_NOMEM;
    if (stride == cols) {
        memcpy(copy, data, rows * cols * sizeof(float));
    } else {
        for (size_t i = 0; i < rows; i++)
            memcpy(copy + i * cols, data + i * stride, cols * sizeof(float));
    }
    st = bw_matrix_adopt(copy, rows, cols, who, out);
    if (st) bw_free(copy);
    return st;
}

barlow_status barlow_matrix_wrap(float *data, size_t rows, size_t cols, size_t stride,
                                 barlow_matrix **out)
{
    static const char who[] = "barlow_matrix_wrap";
    bw_clear_error();
    if (!data) return bw_error(BARLOW_E_INVALID_ARG, "%s: data is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (stride == 0) stride = cols;
    barlow_status st = check_dims(who, rows, cols, stride);
    if (st) return st;
    return bw_matrix_new(data, rows, cols, stride, BW_MATRIX_BORROWED, who, out);
}

void barlow_matrix_free(barlow_matrix *m)
{
    if (!m) return;
    switch (m->kind) {
    case BW_MATRIX_OWNED: bw_free(m->data); break;
    case BW_MATRIX_BORROWED: break;
    case BW_MATRIX_MAPPED: munmap(m->map_base, m->map_len); break;
    }
    bw_free(m);
}

size_t barlow_matrix_rows(const barlow_matrix *m) { return m ? m->rows : 0; }
size_t barlow_matrix_cols(const barlow_matrix *m) { return m ? m->cols : 0; }
size_t barlow_matrix_stride(const barlow_matrix *m) { return m ? m->stride : 0; }
const float *barlow_matrix_data(const barlow_matrix *m) { return m ? m->data : NULL; }

float *barlow_matrix_data_mut(barlow_matrix *m)
{
    if (!m || m->kind == BW_MATRIX_MAPPED) return NULL;
    return m->data;
}

const float *barlow_matrix_row(const barlow_matrix *m, size_t i)
{
    if (!m || i >= m->rows) return NULL;
    return m->data + i * m->stride;
}

static const char *nonfinite_name(float v)
{
    if (isnan(v)) return "nan";
    return v > 0 ? "inf" : "-inf";
}

int bw_f32_all_finite(const float *x, size_t n)
{
    /* A float is not finite when its exponent bits are all ones: then
     * (bits & 0x7fffffff) + 0x00800000 carries into bit 31, which no finite
     * value's does. OR-ing those sums keeps the carry. */
    uint32_t acc = 0;
    size_t j = 0;
#if defined(__SSE2__)
    const __m128i mag = _mm_set1_epi32(0x7fffffff), one_exp = _mm_set1_epi32(0x00800000);
    __m128i a0 = _mm_setzero_si128(), a1 = a0;
    for (; j + 8 <= n; j += 8) {
        __m128i u0 = _mm_loadu_si128((const __m128i *)(const void *)(x + j));
        __m128i u1 = _mm_loadu_si128((const __m128i *)(const void *)(x + j + 4));
        a0 = _mm_or_si128(a0, _mm_add_epi32(_mm_and_si128(u0, mag), one_exp));
        a1 = _mm_or_si128(a1, _mm_add_epi32(_mm_and_si128(u1, mag), one_exp));
    }
    if (_mm_movemask_ps(_mm_castsi128_ps(_mm_or_si128(a0, a1)))) return 0;
#endif
    for (; j < n; j++) {
        uint32_t bits;
        memcpy(&bits, &x[j], sizeof bits);
        acc |= (bits & 0x7fffffffu) + 0x00800000u;
    }
    return !(acc & 0x80000000u);
}

barlow_status barlow_matrix_check_finite(const barlow_matrix *m)
{
    static const char who[] = "barlow_matrix_check_finite";
    bw_clear_error();
    if (!m) return bw_error(BARLOW_E_INVALID_ARG, "%s: matrix is NULL", who);
    for (size_t i = 0; i < m->rows; i++) {
        const float *r = m->data + i * m->stride;
        if (bw_f32_all_finite(r, m->cols)) continue; /* locate only on a hit */
        for (size_t j = 0; j < m->cols; j++)
            if (!isfinite(r[j]))
                return bw_error(BARLOW_E_INVALID_ARG,
                                "%s: row %zu, column %zu is %s (features must be finite)",
                                who, i, j, nonfinite_name(r[j]));
    }
    return BARLOW_OK;
}

barlow_status barlow_matrix_gather_rows(const barlow_matrix *m, const size_t *row_idx,
                                        size_t n_rows, barlow_matrix **out)
{
    static const char who[] = "barlow_matrix_gather_rows";
    bw_clear_error();
    if (!m) return bw_error(BARLOW_E_INVALID_ARG, "%s: matrix is NULL", who);
    if (!row_idx) return bw_error(BARLOW_E_INVALID_ARG, "%s: row_idx is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    if (n_rows == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n_rows is 0", who);
    for (size_t k = 0; k < n_rows; k++)
        if (row_idx[k] >= m->rows)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: row_idx[%zu]=%zu is out of range (matrix has %zu rows)",
                            who, k, row_idx[k], m->rows);
    if (n_rows > SIZE_MAX / sizeof(float) / m->cols)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zu rows x %zu cols overflows",
                        who, n_rows, m->cols);
    float *data = bw_mallocn(n_rows * m->cols, sizeof(float), who);
    if (!data) return BARLOW_E_NOMEM;
    for (size_t k = 0; k < n_rows; k++)
        memcpy(data + k * m->cols, m->data + row_idx[k] * m->stride, m->cols * sizeof(float));
    barlow_status st = bw_matrix_adopt(data, n_rows, m->cols, who, out);
    if (st) bw_free(data);
    return st;
}
