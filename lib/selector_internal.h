/*
 * Internal: the pieces of the MI selector (lib/selector.c, lib/mi_knn.c,
 * lib/mi_knn_est.c) that they share with each other and with the white-box
 * tests. Other modules use the selector through include/barlow/selector.h
 * (and its option check, lib/selector_check.h). Not installed; bw_* names
 * are hidden.
 *
 * Thread safety: bw_knn_* functions are reentrant; a plan is read-only after
 * bw_knn_plan_init and may be shared by threads that use distinct scratch.
 */
#ifndef BW_SELECTOR_INTERNAL_H
#define BW_SELECTOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "barlow/matrix.h"
#include "barlow/selector.h"

/* ---- digamma and numpy-compatible sums (lib/mi_knn.c) -------------------- */

/* ψ(n) for an integer n >= 1, bit-identical to scipy.special.digamma(n):
 * -γ + Σ_{i<n} 1/i for n <= 10, the asymptotic series above. */
double bw_digamma_int(size_t n);

/* Σ a[i] in numpy's order for a contiguous float64 reduction (chunks of
 * 8192 elements added in order, each summed pairwise with 8 accumulators in
 * blocks of 128), so that bw_pairwise_sum(a, n) / n == numpy.mean(a) bit
 * for bit. */
double bw_pairwise_sum(const double *a, size_t n);
/* Its two builds (lib/mi_knn_est.c), identical bit for bit. */
double bw_pairwise_sum_base(const double *a, size_t n);
double bw_pairwise_sum_avx2(const double *a, size_t n);

/* ---- the kNN estimator on one column (lib/mi_knn.c) ---------------------- */

/* What Ross's estimator needs from the failure vector of a group; computed
 * once per group and shared by all its columns. */
typedef struct bw_knn_plan {
    size_t n;          /* rows */
    size_t n_kept;     /* rows whose class has >= 2 members */
    const uint8_t *y;  /* borrowed failure flags (0/1), n entries */
    int keep[2];       /* class c has >= 2 members */
    size_t kept[2];    /* members of class c that are kept (0 or its count) */
    size_t k[2];       /* neighbours per class: min(n_neighbors, count-1) */
    double base;       /* (ψ(N) + mean ψ(k)) − mean ψ(count), sklearn's order */
    double *psi;       /* ψ(m) for m = 0..n_kept (psi[0] unused) */
} bw_knn_plan;

/* Prepares a plan for failure flags y[0..n) (each 0 or 1, not checked) and
 * n_neighbors >= 1. Returns 0, or -1 when allocation fails. */
int bw_knn_plan_init(bw_knn_plan *plan, const uint8_t *y, size_t n, size_t n_neighbors);
void bw_knn_plan_free(bw_knn_plan *plan);

/* Bytes of scratch (8-byte aligned) that bw_knn_mi needs for n rows. */
size_t bw_knn_scratch_size(size_t n);

/* sklearn's _compute_mi_cd on one column that has already been scaled and
 * noised: x[i * stride] for i < n, in row order (finite). Returns the MI
 * estimate (>= 0; 0 when no class has two members). Never allocates. */
double bw_knn_mi(const bw_knn_plan *plan, const double *x, size_t stride, void *scratch);

/* The two builds of bw_knn_mi (lib/mi_knn_est.c): baseline x86-64, and
 * AVX2 + popcnt where the build has it (BW_HAVE_KNN_AVX2). They return the
 * same value bit for bit; bw_knn_mi calls the AVX2 one when the CPU
 * supports it. */
double bw_knn_mi_base(const bw_knn_plan *plan, const double *x, size_t stride, void *scratch);
double bw_knn_mi_avx2(const bw_knn_plan *plan, const double *x, size_t stride, void *scratch);

/* Columns per block of the selector's preprocessing (lib/selector.c). */
enum { BW_KNN_BLOCK = 32 };

/* scikit-learn's preprocessing of a block of nb (1..BW_KNN_BLOCK) columns
 * of a matrix with more than one column, held row-major in
 * tile[i * nb + t] (i < n, as float64): scale(with_mean=False) in place
 * (population std, the column sums in row order as numpy's axis-0
 * reduction, or `sums` when not NULL; a std below 10 eps counts as 1), then
 * cm[t * n + i] = tile[i * nb + t] + 1e-10 * max(1, mean|x_t|) * g_t[i]
 * with column t's noise at g0 + t * grows. Dispatched like bw_knn_mi;
 * both builds are bit-identical. */
void bw_knn_prepare_block(double *tile, size_t n, size_t nb, const double *sums,
                          const double *g0, size_t grows, double *cm);
void bw_knn_prepare_block_base(double *tile, size_t n, size_t nb, const double *sums,
                               const double *g0, size_t grows, double *cm);
void bw_knn_prepare_block_avx2(double *tile, size_t n, size_t nb, const double *sums,
                               const double *g0, size_t grows, double *cm);

/* Gathers columns j0..j0+nb-1 (nb <= BW_KNN_BLOCK) of rows rows[i] (NULL:
 * i) of a row-major float32 matrix (stride in elements) into tile[i * nb
 * + t] as float64, with their column sums in row order (sums[t], what
 * bw_knn_prepare_block takes). Returns 1 when every value read is finite,
 * else 0 (the caller locates the first that is not). Dispatched; both
 * builds are bit-identical. */
int bw_knn_gather_block(const float *X, size_t stride, const size_t *rows, size_t n, size_t j0,
                        size_t nb, double *tile, double *sums);
int bw_knn_gather_block_base(const float *X, size_t stride, const size_t *rows, size_t n,
                             size_t j0, size_t nb, double *tile, double *sums);
int bw_knn_gather_block_avx2(const float *X, size_t stride, const size_t *rows, size_t n,
                             size_t j0, size_t nb, double *tile, double *sums);

/* 1 when bw_knn_mi uses the AVX2 build (decided on first use from the
 * CPU). bw_knn_set_avx2(0) forces the baseline build, (1) the AVX2 one if
 * both the build and the CPU have it; returns the resulting choice. For
 * tests and benchmarks: not synchronised with concurrent estimates. */
int bw_knn_uses_avx2(void);
int bw_knn_set_avx2(int on);

#endif /* BW_SELECTOR_INTERNAL_H */
