/* The parts of the kNN mutual-information estimator shared by every column
 * of a group: scipy's digamma at integers, numpy's summation order, the
 * plan (class counts, k per class, the constant terms) and the run-time
 * choice between the two builds of the per-column estimator
 * (lib/mi_knn_est.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "selector_internal.h"

/* ---- digamma at integers (scipy's cephes psi, bit for bit) --------------- */

#define BW_EULER 0.577215664901532860606512090082402431

double bw_digamma_int(size_t n)
{
    if (n == 0) return -INFINITY;
    if (n <= 10) {
        double y = 0.0;
        for (size_t i = 1; i < n; i++) y += 1.0 / (double)i;
        return y - BW_EULER;
    }
    static const double A[] = {
        8.33333333333333333333E-2, -2.10927960927960927961E-2,
        7.57575757575757575758E-3, -4.16666666666666666667E-3,
        3.96825396825396825397E-3, -8.33333333333333333333E-3,
        8.33333333333333333333E-2};
    double x = (double)n;
    double y = 0.0;
    if (x < 1.0e17) {
        double z = 1.0 / (x * x);
        double p = A[0];
        for (int i = 1; i < 7; i++) p = p * z + A[i];
        y = z * p;
    }
    return log(x) - (0.5 / x) - y;
}

/* ---- plan ----------------------------------------------------------------- */

int bw_knn_plan_init(bw_knn_plan *p, const uint8_t *y, size_t n, size_t n_neighbors)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->y = y;
    size_t count[2] = {0, 0};
    for (size_t i = 0; i < n; i++) count[y[i] & 1]++;
    for (int c = 0; c < 2; c++) {
        p->keep[c] = count[c] > 1;
        p->k[c] = p->keep[c] ? (count[c] - 1 < n_neighbors ? count[c] - 1 : n_neighbors) : 0;
    }
    for (int c = 0; c < 2; c++) p->kept[c] = p->keep[c] ? count[c] : 0;
    p->n_kept = p->kept[0] + p->kept[1];
    size_t N = p->n_kept;
    p->psi = bw_mallocn(N + 1, sizeof *p->psi, "barlow_selector");
    double *tmp = bw_calloc(N, sizeof *tmp, "barlow_selector"); /* zeroed: keeps -Wmaybe-uninitialized quiet */
    if (!p->psi || !tmp) {
        bw_free(p->psi);
        bw_free(tmp);
        p->psi = NULL;
        return -1;
    }
    p->psi[0] = -INFINITY;
    for (size_t m = 1; m <= N; m++) p->psi[m] = bw_digamma_int(m);
    if (N > 0) {
        /* mean ψ(k) and mean ψ(label count) over the kept rows, row order */
        size_t j = 0;
        for (size_t i = 0; i < n; i++)
            if (p->keep[y[i]]) tmp[j++] = bw_digamma_int(p->k[y[i]]);
        double mean_k = bw_pairwise_sum(tmp, N) / (double)N;
        j = 0;
        for (size_t i = 0; i < n; i++)
            if (p->keep[y[i]]) tmp[j++] = p->psi[count[y[i]]];
        double mean_count = bw_pairwise_sum(tmp, N) / (double)N;
        p->base = (p->psi[N] + mean_k) - mean_count;
    }
    bw_free(tmp);
    return 0;
}

void bw_knn_plan_free(bw_knn_plan *p)
{
    if (!p) return;
    bw_free(p->psi);
    p->psi = NULL;
}

/* ---- run-time choice of the estimator build ----------------------------- */

/* -1 until the first call decides; then 1 when the AVX2 build is used. */
static int bw_knn_avx2 = -1;

static int bw_knn_cpu_has_avx2(void)
{
#if defined(BW_HAVE_KNN_AVX2) && defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#else
    return 0;
#endif
}

int bw_knn_uses_avx2(void)
{
    int v = __atomic_load_n(&bw_knn_avx2, __ATOMIC_RELAXED);
    if (v < 0) {
        v = bw_knn_cpu_has_avx2();
        __atomic_store_n(&bw_knn_avx2, v, __ATOMIC_RELAXED);
    }
    return v;
}

int bw_knn_set_avx2(int on)
{
    int v = on && bw_knn_cpu_has_avx2();
    __atomic_store_n(&bw_knn_avx2, v, __ATOMIC_RELAXED);
    return v;
}

double bw_knn_mi(const bw_knn_plan *plan, const double *x, size_t stride, void *scratch)
{
#if defined(BW_HAVE_KNN_AVX2)
    if (bw_knn_uses_avx2()) return bw_knn_mi_avx2(plan, x, stride, scratch);
#endif
    return bw_knn_mi_base(plan, x, stride, scratch);
}

void bw_knn_prepare_block(double *tile, size_t n, size_t nb, const double *sums,
                          const double *g0, size_t grows, double *cm)
{
#if defined(BW_HAVE_KNN_AVX2)
    if (bw_knn_uses_avx2()) {
        bw_knn_prepare_block_avx2(tile, n, nb, sums, g0, grows, cm);
        return;
    }
#endif
    bw_knn_prepare_block_base(tile, n, nb, sums, g0, grows, cm);
}

int bw_knn_gather_block(const float *X, size_t stride, const size_t *rows, size_t n, size_t j0,
                        size_t nb, double *tile, double *sums)
{
#if defined(BW_HAVE_KNN_AVX2)
    if (bw_knn_uses_avx2()) return bw_knn_gather_block_avx2(X, stride, rows, n, j0, nb, tile, sums);
#endif
    return bw_knn_gather_block_base(X, stride, rows, n, j0, nb, tile, sums);
}

double bw_pairwise_sum(const double *a, size_t n)
{
#if defined(BW_HAVE_KNN_AVX2)
    if (bw_knn_uses_avx2()) return bw_pairwise_sum_avx2(a, n);
#endif
    return bw_pairwise_sum_base(a, n);
}
