/* barlow_selector: numpy's random stream, scipy's digamma and numpy's
 * pairwise sums bit for bit; scikit-learn's mutual_info_classif values on a
 * small input; estimator invariants; thread-count independence and
 * concurrent use of one selector; degenerate groups; every error path.
 *
 * Reference values were printed by numpy 1.24 / scipy 1.10 / scikit-learn
 * 1.2.1 (Debian 12), e.g.
 *   numpy.random.RandomState(0).standard_normal(5)[i].hex()
 *   scipy.special.digamma(1300.0).hex()
 *   sklearn.feature_selection.mutual_info_classif(X, y, n_neighbors=3,
 *       random_state=0)  with X, y built by small_problem() below. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "rng.h"
#include "selector_internal.h"
#include "tap.h"

static int has(const char *needle) { return strstr(barlow_last_error(), needle) != NULL; }

/* ---- references ----------------------------------------------------------- */

static void test_rng(void)
{
    bw_rng r;
    bw_rng_seed(&r, 0);
    TAP_OK(bw_rng_u32(&r) == 2357136044U, "MT19937 seed 0: first output");

    static const double d7[] = {0x1.388f0a7465c98p-4, 0x1.8f5184146a0a7p-1,
                                0x1.c0ee597d36686p-2};
    bw_rng_seed(&r, 7);
    int ok = 1;
    for (int i = 0; i < 3; i++) ok &= bw_rng_double(&r) == d7[i];
    TAP_OK(ok, "RandomState(7).random_sample(3) bit for bit");

    static const double g0[] = {0x1.c398ef3e5cfa5p+0, 0x1.99c2cfacc8953p-2,
                                0x1.f51d25222c9abp-1, 0x1.1ed5969e3314ep+1,
                                0x1.de1847cb13ddap+0};
    bw_rng_seed(&r, 0);
    ok = 1;
    for (int i = 0; i < 5; i++) ok &= bw_rng_gauss(&r) == g0[i];
    TAP_OK(ok, "RandomState(0).standard_normal(5) bit for bit (cached second value)");

    static const double gmax[] = {0x1.4bfc38c486d8ap-1, 0x1.56b192e507eeep-1,
                                  -0x1.149e836f192fdp+0};
    bw_rng_seed(&r, 4294967295U);
    double got[3];
    bw_rng_fill_gauss(&r, got, 3);
    TAP_OK(!memcmp(got, gmax, sizeof got), "RandomState(2**32-1).standard_normal(3)");

    double *big = malloc(100001 * sizeof *big);
    bw_rng_seed(&r, 12345);
    bw_rng_fill_gauss(&r, big, 100001);
    TAP_OK(big[99999] == 0x1.e88012adef57bp-3 && big[100000] == -0x1.b92ce69c6a353p+0,
           "RandomState(12345): values 99999 and 100000 (many twists)");
    free(big);
}

static void test_digamma_and_sums(void)
{
    static const struct {
        size_t n;
        double psi;
    } ref[] = {{1, -0x1.2788cfc6fb619p-1},  {2, 0x1.b0ee6072093cep-2},
               {3, 0x1.d8773039049e7p-1},   {10, 0x1.20396dc85cc95p+1},
               {11, 0x1.2d063a9529963p+1},  {12, 0x1.38a9234f5821dp+1},
               {100, 0x1.26690d4274476p+2}, {1300, 0x1.cadcefae4faa1p+2},
               {12345, 0x1.2d788d7a1ea03p+3}, {1000000, 0x1.ba18a88c907d0p+3}};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++)
        TAP_OK(bw_digamma_int(ref[i].n) == ref[i].psi, "digamma(%zu) == scipy's, bit for bit",
               ref[i].n);

    double a[1000];
    a[0] = 1e16;
    for (int i = 1; i < 1000; i++) a[i] = 1.0;
    double seq = 0;
    for (int i = 0; i < 16; i++) seq += a[i];
    TAP_OK(bw_pairwise_sum(a, 16) == 0x1.1c37937e08007p+53 && seq != bw_pairwise_sum(a, 16),
           "pairwise sum of 16 == numpy's (differs from a running sum)");
    TAP_OK(bw_pairwise_sum(a, 1000) == 0x1.1c37937e081edp+53,
           "pairwise sum of 1000 (recursive halves) == numpy's");
    for (int i = 0; i < 1000; i++) a[i] = (double)i * 0.1 + 1e12;
    TAP_OK(bw_pairwise_sum(a, 1000) == 0x1.c6bf5263a18f0p+49, "pairwise sum of 1e12 + 0.1 i");
    TAP_OK(bw_pairwise_sum(a, 3) == (a[0] + a[1]) + a[2], "short sums run left to right");
    double *big = malloc(20000 * sizeof *big);
    for (size_t i = 0; i < 20000; i++)
        big[i] = (double)((i * 7919) % 10007) / 7.0 - 700.0 + (double)i * 1e-3;
    TAP_OK(bw_pairwise_sum(big, 20000) == 0x1.e2d1524924926p+18,
           "20000 values: numpy's chunks of 8192, each pairwise (whole-array pairwise "
           "gives ...925p+18)");
    free(big);
}

/* 60 rows x 5 columns: 48 correct, 12 failures; quantised, ReLU-like. */
enum { SP_N = 60, SP_D = 5 };
static void small_problem(float *X, uint8_t *y)
{
    for (int i = 0; i < SP_N; i++) {
        y[i] = (i * 7) % 5 == 0;
        for (int j = 0; j < SP_D; j++) {
            int v = (i * 37 + j * 11) % 17 - 8;
            X[i * SP_D + j] = (float)((v > 0 ? v : 0) / 4.0 + (j % 2) * y[i] * (j / 4.0));
        }
        X[i * SP_D] = (float)(y[i] * 2 + ((i * 13) % 7) / 8.0);
    }
}

static barlow_selector *make_sel(barlow_estimator est, size_t nn, uint32_t seed, size_t threads)
{
    barlow_selector_options o;
    barlow_selector_options_init(&o);
    o.estimator = est;
    o.n_neighbors = nn;
    o.seed = seed;
    o.threads = threads;
    barlow_selector *s = NULL;
    if (barlow_selector_create(&o, &s) != BARLOW_OK) return NULL;
    return s;
}

static void test_sklearn_values(void)
{
    float X[SP_N * SP_D];
    uint8_t y[SP_N];
    small_problem(X, y);
    barlow_matrix *m = NULL;
    barlow_matrix_wrap(X, SP_N, SP_D, 0, &m);
    static const double ref0[SP_D] = {0x1.0488ee72622e7p-1, 0x1.48a7d2ea85d78p-3, 0x0.0p+0,
                                      0x1.ef2a827422e78p-3, 0x1.491bb72941880p-6};
    static const double ref42[SP_D] = {0x1.0488ee72622e7p-1, 0x1.0d757115b9dc8p-3, 0x0.0p+0,
                                       0x1.b677d07f512e0p-3, 0x0.0p+0};
    static const double ref_k5[SP_D] = {0x1.0488ee72622eap-1, 0x1.9e3624dd17268p-3, 0x0.0p+0,
                                        0x1.33cfa1f864bb0p-3, 0x0.0p+0};
    struct {
        uint32_t seed;
        size_t nn;
        const double *ref;
    } cases[] = {{0, 3, ref0}, {42, 3, ref42}, {0, 5, ref_k5}};
    for (int c = 0; c < 3; c++) {
        barlow_selector *s = make_sel(BARLOW_ESTIMATOR_KNN, cases[c].nn, cases[c].seed, 1);
        double sc[SP_D];
        barlow_status st = barlow_selector_score(s, m, y, sc);
        TAP_OK(st == BARLOW_OK && !memcmp(sc, cases[c].ref, sizeof sc),
               "mutual_info_classif(n_neighbors=%zu, random_state=%u) bit for bit", cases[c].nn,
               (unsigned)cases[c].seed);
        barlow_selector_free(s);
    }

    /* degenerate failure vectors, as scikit-learn computes them */
    barlow_selector *s = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 0);
    uint8_t yc[SP_N];
    double sc[SP_D];
    for (int v = 0; v < 2; v++) {
        memset(yc, v, sizeof yc);
        barlow_status st = barlow_selector_score(s, m, yc, sc);
        int ok = st == BARLOW_OK;
        for (int j = 0; j < SP_D; j++) ok &= sc[j] == 0x1.c000000000000p-51;
        TAP_OK(ok, "all rows %s: sklearn's rounding residue 0x1.cp-51 in every column",
               v ? "failures" : "correct");
    }
    memset(yc, 0, sizeof yc);
    yc[17] = 1;
    barlow_status st = barlow_selector_score(s, m, yc, sc);
    int ok = st == BARLOW_OK;
    for (int j = 0; j < SP_D; j++) ok &= sc[j] == 0.0;
    TAP_OK(ok, "a single failure is left out (sklearn: 0 in every column)");

    /* no class with two members: defined as 0 (scikit-learn raises) */
    double two[2 * 3] = {0.5, 1, 2, 0.25, 3, 4};
    uint8_t y2[2] = {0, 1};
    double s2[3] = {-1, -1, -1};
    st = barlow_selector_score_f64(s, two, 2, 3, y2, s2);
    TAP_OK(st == BARLOW_OK && s2[0] == 0 && s2[1] == 0 && s2[2] == 0,
           "2 rows, one per class: every score 0");
    double s1[3] = {-1, -1, -1};
    st = barlow_selector_score_f64(s, two, 1, 3, y2, s1);
    TAP_OK(st == BARLOW_OK && s1[0] == 0 && s1[2] == 0, "1 row: every score 0");
    barlow_selector_free(s);
    barlow_matrix_free(m);
}

/* ---- invariants ------------------------------------------------------------ */

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525U + 1013904223U;
    return *s >> 8;
}

/* n x d ReLU-like float32 features (~half exact zeros, some quantised
 * columns), ~25% failures, column 5 informative. */
static void random_problem(float *X, uint8_t *y, size_t n, size_t d, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) y[i] = lcg(&seed) % 4 == 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double u = (double)lcg(&seed) / 16777216.0 * 2.0 - 1.0;
            double v = u > 0 ? u * 3.0 : 0.0;
            if (j % 7 == 3) v = floor(v * 2.0);
            if (j == 5) v += y[i];
            X[i * d + j] = (float)v;
        }
}

typedef struct conc_arg {
    const barlow_selector *sel;
    const barlow_matrix *m;
    const uint8_t *y;
    double *out;
    barlow_status st;
} conc_arg;

static void *conc_main(void *p)
{
    conc_arg *a = p;
    a->st = barlow_selector_score(a->sel, a->m, a->y, a->out);
    return NULL;
}

static void test_invariants(void)
{
    enum { N = 500, D = 70 }; /* D is not a multiple of the block size */
    float *X = malloc(sizeof(float) * N * D);
    double *X64 = malloc(sizeof(double) * N * D);
    uint8_t y[N];
    random_problem(X, y, N, D, 11);
    for (size_t i = 0; i < (size_t)N * D; i++) X64[i] = X[i];
    barlow_matrix *m = NULL;
    barlow_matrix_wrap(X, N, D, 0, &m);

    double ref[D], other[D];
    barlow_selector *s1 = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 1);
    TAP_OK(barlow_selector_score(s1, m, y, ref) == BARLOW_OK, "score 500x70 single-threaded");
    int ok = 1, best = 1;
    for (int j = 0; j < D; j++) {
        ok &= ref[j] >= 0 && isfinite(ref[j]);
        if (j != 5) best &= ref[5] > ref[j];
    }
    TAP_OK(ok, "scores are finite and >= 0");
    TAP_OK(best, "the informative column scores highest (%g)", ref[5]);

    size_t tcounts[] = {2, 3, 8, 0};
    for (size_t t = 0; t < 4; t++) {
        barlow_selector *s = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, tcounts[t]);
        memset(other, 0, sizeof other);
        barlow_status st = barlow_selector_score(s, m, y, other);
        TAP_OK(st == BARLOW_OK && !memcmp(ref, other, sizeof ref),
               "threads=%zu gives bit-identical scores", tcounts[t]);
        barlow_selector_free(s);
    }

    memset(other, 0, sizeof other);
    TAP_OK(barlow_selector_score_f64(s1, X64, N, D, y, other) == BARLOW_OK &&
               !memcmp(ref, other, sizeof ref),
           "float64 entry point on the widened values gives the same scores");

    /* scaling a column by a power of two changes nothing (unit variance) */
    float *X2 = malloc(sizeof(float) * N * D);
    memcpy(X2, X, sizeof(float) * N * D);
    for (int i = 0; i < N; i++) X2[i * D + 9] *= 8.0f;
    barlow_matrix *m2 = NULL;
    barlow_matrix_wrap(X2, N, D, 0, &m2);
    memset(other, 0, sizeof other);
    barlow_selector_score(s1, m2, y, other);
    TAP_OK(other[9] == ref[9], "a column scaled by 8 keeps its score exactly");

    /* a different seed moves the noise, and so (slightly) the scores */
    barlow_selector *s7 = make_sel(BARLOW_ESTIMATOR_KNN, 3, 7, 0);
    barlow_selector_score(s7, m, y, other);
    TAP_OK(memcmp(ref, other, sizeof ref) != 0 && fabs(other[5] - ref[5]) < 0.05,
           "seed 7 changes the scores a little (%g vs %g)", other[5], ref[5]);
    barlow_selector_free(s7);

    /* a borrowed matrix with a stride, and a row subset scored in place,
     * equal the gathered copy */
    size_t rows[N / 2];
    for (size_t i = 0; i < N / 2; i++) rows[i] = (i * 7) % N;
    barlow_matrix *g = NULL;
    barlow_matrix_gather_rows(m, rows, N / 2, &g);
    uint8_t yg[N / 2];
    for (size_t i = 0; i < N / 2; i++) yg[i] = y[rows[i]];
    double a[D], b[D];
    barlow_selector_score(s1, g, yg, a);
    barlow_status st = barlow_selector_score_rows(s1, m, rows, N / 2, yg, b);
    TAP_OK(st == BARLOW_OK && !memcmp(a, b, sizeof a),
           "barlow_selector_score_rows on a row subset == scoring the gathered rows");
    barlow_matrix *sub = NULL;
    barlow_matrix_wrap(X + 10, N, 20, D, &sub); /* columns 10..29, stride D */
    double c20[20];
    barlow_selector *s1b = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 2);
    barlow_selector_score(s1b, sub, y, c20);
    double *X20 = malloc(sizeof(double) * N * 20);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 20; j++) X20[i * 20 + j] = X[i * D + 10 + j];
    double c20b[20];
    barlow_selector_score_f64(s1b, X20, N, 20, y, c20b);
    TAP_OK(!memcmp(c20, c20b, sizeof c20), "strided view == contiguous copy");
    free(X20);
    barlow_selector_free(s1b);
    barlow_matrix_free(sub);
    barlow_matrix_free(g);

    /* one selector reused across shapes (the noise cache grows with n and
     * is redrawn for another d) == a fresh selector per call */
    {
        barlow_selector *reuse = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 0);
        size_t shapes[][2] = {{100, D}, {N, D}, {300, 20}, {N, D}, {60, D}, {N, 33}};
        int same = 1;
        for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++) {
            barlow_matrix *v = NULL;
            barlow_matrix_wrap(X, shapes[q][0], shapes[q][1], D, &v);
            double r1[D], r2[D];
            barlow_selector *fresh1 = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 1);
            same &= barlow_selector_score(reuse, v, y, r1) == BARLOW_OK;
            same &= barlow_selector_score(fresh1, v, y, r2) == BARLOW_OK;
            same &= !memcmp(r1, r2, shapes[q][1] * sizeof *r1);
            barlow_selector_free(fresh1);
            barlow_matrix_free(v);
        }
        TAP_OK(same, "a selector reused across n and d == fresh selectors");
        barlow_selector_free(reuse);
    }

    /* concurrent calls on one selector: the noise cache grows under a lock
     * while the other call reads its prefix */
    barlow_selector *sc = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 2);
    double o1[D], o2[D], o3[20];
    conc_arg args[3] = {{sc, m, y, o1, -99}, {sc, m, y, o2, -99}, {sc, m, y, o3, -99}};
    barlow_matrix *small = NULL;
    barlow_matrix_wrap(X, 40, 20, D, &small);
    args[2].m = small;
    pthread_t th[3];
    for (int t = 0; t < 3; t++) pthread_create(&th[t], NULL, conc_main, &args[t]);
    for (int t = 0; t < 3; t++) pthread_join(th[t], NULL);
    double o3ref[20];
    barlow_selector *fresh = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 1);
    barlow_selector_score(fresh, small, y, o3ref);
    TAP_OK(args[0].st == BARLOW_OK && args[1].st == BARLOW_OK && args[2].st == BARLOW_OK &&
               !memcmp(o1, ref, sizeof ref) && !memcmp(o2, ref, sizeof ref) &&
               !memcmp(o3, o3ref, sizeof o3),
           "three concurrent score calls on one selector agree with serial ones");
    barlow_selector_free(fresh);
    barlow_selector_free(sc);
    barlow_matrix_free(small);

    /* split gain: a perfectly separating column gains 1 bit (class weights
     * balance the root), the others less; no failures: all 0 */
    barlow_selector *sg = make_sel(BARLOW_ESTIMATOR_SPLIT_GAIN, 3, 0, 0);
    float *Xs = malloc(sizeof(float) * N * 3);
    for (int i = 0; i < N; i++) {
        Xs[i * 3] = X[i * D];
        Xs[i * 3 + 1] = y[i] ? 2.0f : 1.0f;
        Xs[i * 3 + 2] = X[i * D + 5];
    }
    barlow_matrix *ms = NULL;
    barlow_matrix_wrap(Xs, N, 3, 0, &ms);
    double gs[3];
    st = barlow_selector_score(sg, ms, y, gs);
    TAP_OK(st == BARLOW_OK && fabs(gs[1] - 1.0) < 1e-12 && gs[0] < 0.1 && gs[2] > gs[0] &&
               gs[2] < 1.0,
           "split gain: separating column 1 bit (%.17g), noise %g, informative %g", gs[1],
           gs[0], gs[2]);
    uint8_t y0[N];
    memset(y0, 0, sizeof y0);
    st = barlow_selector_score(sg, ms, y0, gs);
    TAP_OK(st == BARLOW_OK && gs[0] == 0 && gs[1] == 0 && gs[2] == 0,
           "split gain without failures: 0");
    barlow_selector_free(sg);

    /* mean */
    barlow_selector *sm = make_sel(BARLOW_ESTIMATOR_MEAN, 3, 0, 3);
    st = barlow_selector_score(sm, ms, y0, gs);
    double mean1 = 0;
    for (int i = 0; i < N; i++) mean1 += Xs[i * 3 + 1];
    mean1 /= N;
    TAP_OK(st == BARLOW_OK && gs[1] == mean1, "mean estimator: the column mean (%g)", gs[1]);
    barlow_selector_free(sm);
    free(Xs);
    barlow_matrix_free(ms);

    barlow_selector_free(s1);
    barlow_matrix_free(m2);
    free(X2);
    barlow_matrix_free(m);
    free(X);
    free(X64);
}

/* barlow_selector_score_rows == barlow_selector_score on the gathered rows,
 * bit for bit: every estimator, several thread counts, repeated and
 * shuffled rows, a strided matrix, one selector reused across group sizes
 * (its working memory is then recycled) and shared by threads. */
typedef struct rows_arg {
    const barlow_selector *sel;
    const barlow_matrix *m;
    const size_t *rows;
    size_t n;
    const uint8_t *y;
    double *out;
    barlow_status st;
} rows_arg;

static void *rows_main(void *p)
{
    rows_arg *a = p;
    for (int rep = 0; rep < 5 && a->st == BARLOW_OK; rep++)
        a->st = barlow_selector_score_rows(a->sel, a->m, a->rows, a->n, a->y, a->out);
    return NULL;
}

static void test_score_rows(void)
{
    enum { N = 400, D = 45, STRIDE = 50 };
    float *X = malloc(sizeof(float) * N * STRIDE);
    uint8_t yall[N];
    random_problem(X, yall, N, STRIDE, 5);
    barlow_matrix *m = NULL;
    barlow_matrix_wrap(X, N, D, STRIDE, &m); /* columns 0..44 of 50 */
    /* groups: a shuffled subset, one with repeats, a small one, all rows */
    size_t sizes[4] = {150, 90, 12, N};
    size_t *rows[4];
    uint8_t *ys[4];
    for (int g = 0; g < 4; g++) {
        rows[g] = malloc(sizes[g] * sizeof *rows[g]);
        ys[g] = malloc(sizes[g]);
        for (size_t i = 0; i < sizes[g]; i++) {
            rows[g][i] = g == 3 ? i : g == 1 ? (i * 3) % 40 : (i * 37 + (size_t)g * 11) % N;
            ys[g][i] = yall[rows[g][i]];
        }
        ys[g][0] = 1; /* both classes in every group */
        ys[g][1] = 0;
    }
    barlow_estimator ests[3] = {BARLOW_ESTIMATOR_KNN, BARLOW_ESTIMATOR_SPLIT_GAIN,
                                BARLOW_ESTIMATOR_MEAN};
    size_t threads[3] = {1, 3, 0};
    for (int e = 0; e < 3; e++) {
        double ref[4][D];
        barlow_selector *one = make_sel(ests[e], 3, 0, 1);
        for (int g = 0; g < 4; g++) {
            barlow_matrix *gm = NULL;
            barlow_matrix_gather_rows(m, rows[g], sizes[g], &gm);
            barlow_selector_score(one, gm, ys[g], ref[g]);
            barlow_matrix_free(gm);
        }
        barlow_selector_free(one);
        for (int t = 0; t < 3; t++) {
            barlow_selector *s = make_sel(ests[e], 3, 0, threads[t]);
            int same = 1;
            /* growing, shrinking and growing again: buffers are reused */
            int order[7] = {2, 0, 3, 1, 2, 3, 0};
            for (int q = 0; q < 7; q++) {
                int g = order[q];
                double got[D];
                memset(got, 0, sizeof got);
                same &= barlow_selector_score_rows(s, m, rows[g], sizes[g], ys[g], got) ==
                        BARLOW_OK;
                same &= !memcmp(got, ref[g], sizeof got);
            }
            TAP_OK(same, "score_rows (estimator %d, threads=%zu) == score of the gathered rows, "
                         "bit for bit, across group sizes", (int)ests[e], threads[t]);
            barlow_selector_free(s);
        }
        /* concurrent calls on one selector, groups of different sizes */
        barlow_selector *sc = make_sel(ests[e], 3, 0, 2);
        double out[4][D];
        rows_arg args[4];
        pthread_t th[4];
        for (int g = 0; g < 4; g++) {
            args[g] = (rows_arg){sc, m, rows[g], sizes[g], ys[g], out[g], BARLOW_OK};
            pthread_create(&th[g], NULL, rows_main, &args[g]);
        }
        int same = 1;
        for (int g = 0; g < 4; g++) {
            pthread_join(th[g], NULL);
            same &= args[g].st == BARLOW_OK && !memcmp(out[g], ref[g], sizeof out[g]);
        }
        TAP_OK(same, "score_rows: 4 threads sharing one selector (estimator %d) == serial",
               (int)ests[e]);
        barlow_selector_free(sc);
    }

    /* errors: the message names the problem; scores untouched */
    barlow_selector *s = make_sel(BARLOW_ESTIMATOR_KNN, 3, 0, 0);
    double sc[D];
    for (int j = 0; j < D; j++) sc[j] = -7;
    int untouched = 1;
    size_t r3[3] = {4, 9, 2};
    uint8_t y3[3] = {0, 1, 0};
    TAP_OK(barlow_selector_score_rows(NULL, m, r3, 3, y3, sc) == BARLOW_E_INVALID_ARG &&
               has("barlow_selector_score_rows") && has("selector"),
           "score_rows: NULL selector");
    TAP_OK(barlow_selector_score_rows(s, NULL, r3, 3, y3, sc) == BARLOW_E_INVALID_ARG &&
               has("features"),
           "score_rows: NULL features");
    TAP_OK(barlow_selector_score_rows(s, m, NULL, 3, y3, sc) == BARLOW_E_INVALID_ARG &&
               has("rows is NULL"),
           "score_rows: NULL rows");
    TAP_OK(barlow_selector_score_rows(s, m, r3, 0, y3, sc) == BARLOW_E_INVALID_ARG &&
               has("n_rows is 0"),
           "score_rows: n_rows = 0");
    TAP_OK(barlow_selector_score_rows(s, m, r3, 3, NULL, sc) == BARLOW_E_INVALID_ARG &&
               has("failures"),
           "score_rows: NULL failures");
    TAP_OK(barlow_selector_score_rows(s, m, r3, 3, y3, NULL) == BARLOW_E_INVALID_ARG &&
               has("scores"),
           "score_rows: NULL scores");
    size_t rbad[3] = {4, N, 2};
    TAP_OK(barlow_selector_score_rows(s, m, rbad, 3, y3, sc) == BARLOW_E_INVALID_ARG &&
               has("rows[1] = 400") && has("400 rows"),
           "score_rows: a row index past the matrix, naming it (%s)", barlow_last_error());
    uint8_t ybad[3] = {0, 3, 1};
    TAP_OK(barlow_selector_score_rows(s, m, r3, 3, ybad, sc) == BARLOW_E_INVALID_ARG &&
               has("failures[1] = 3"),
           "score_rows: a bad failure flag, naming its index");
    X[9 * STRIDE + 30] = NAN;
    TAP_OK(barlow_selector_score_rows(s, m, r3, 3, y3, sc) == BARLOW_E_INVALID_ARG &&
               has("features[9][30] (row 9, column 30) is NaN"),
           "score_rows: NaN named by its row of the matrix (%s)", barlow_last_error());
    X[9 * STRIDE + 30] = 0;
    for (int j = 0; j < D; j++) untouched &= sc[j] == -7;
    TAP_OK(untouched, "score_rows: scores untouched by every failed call");
    TAP_OK(barlow_selector_score_rows(s, m, r3, 3, y3, sc) == BARLOW_OK &&
               barlow_last_error()[0] == 0,
           "score_rows: a good call clears the message");
    barlow_selector_free(s);
    for (int g = 0; g < 4; g++) {
        free(rows[g]);
        free(ys[g]);
    }
    barlow_matrix_free(m);
    free(X);
}

static void test_top_k(void)
{
    /* mean estimator: scores are the column values; columns 1 and 3 tie */
    float X[2 * 5] = {1, 5, 2, 5, 0, 1, 5, 2, 5, 0};
    uint8_t y[2] = {0, 1};
    barlow_matrix *m = NULL;
    barlow_matrix_wrap(X, 2, 5, 0, &m);
    barlow_selector *s = make_sel(BARLOW_ESTIMATOR_MEAN, 3, 0, 0);
    size_t top[5];
    double sc[5];
    barlow_status st = barlow_selector_top_k(s, m, y, 5, top, sc);
    TAP_OK(st == BARLOW_OK && top[0] == 1 && top[1] == 3 && top[2] == 2 && top[3] == 0 &&
               top[4] == 4 && sc[1] == 5.0,
           "top_k: best first, ties by lower index");
    size_t top2[2] = {99, 99};
    st = barlow_selector_top_k(s, m, y, 2, top2, NULL);
    TAP_OK(st == BARLOW_OK && top2[0] == 1 && top2[1] == 3, "top_k with k=2 and no scores");

    double r[4] = {0.5, NAN, 2.0, 0.5};
    size_t rt[4];
    st = barlow_selector_rank(r, 4, 4, rt);
    TAP_OK(st == BARLOW_OK && rt[0] == 2 && rt[1] == 0 && rt[2] == 3 && rt[3] == 1,
           "rank: NaN last, ties by index");
    barlow_selector_free(s);
    barlow_matrix_free(m);
}

/* ---- errors ----------------------------------------------------------------- */

static void test_errors(void)
{
    barlow_selector *s = (barlow_selector *)0x1;
    barlow_selector_options o;
    barlow_selector_options_init(&o);
    barlow_selector_options_init(NULL);
    TAP_OK(o.version == BARLOW_SELECTOR_OPTIONS_VERSION && o.estimator == BARLOW_ESTIMATOR_KNN &&
               o.n_neighbors == 3 && o.seed == 0 && o.threads == 0,
           "options_init defaults");

    TAP_OK(barlow_selector_create(NULL, NULL) == BARLOW_E_INVALID_ARG &&
               has("barlow_selector_create") && has("out"),
           "create: NULL out");
    o.version = 0;
    TAP_OK(barlow_selector_create(&o, &s) == BARLOW_E_INVALID_ARG &&
               has("barlow_selector_options") && s == (barlow_selector *)0x1,
           "create: version 0 rejected, out untouched");
    o.version = 99;
    TAP_OK(barlow_selector_create(&o, &s) == BARLOW_E_INVALID_ARG && has("version=99"),
           "create: unknown version rejected");
    barlow_selector_options_init(&o);
    o.estimator = (barlow_estimator)9;
    TAP_OK(barlow_selector_create(&o, &s) == BARLOW_E_INVALID_ARG && has("estimator=9") &&
               s == (barlow_selector *)0x1,
           "create: unknown estimator rejected");
    barlow_selector_options_init(&o);
    o.n_neighbors = 0;
    TAP_OK(barlow_selector_create(&o, &s) == BARLOW_E_INVALID_ARG && has("n_neighbors=0") &&
               has("1.."),
           "create: n_neighbors=0 rejected with the range");
    TAP_OK(barlow_selector_create(NULL, &s) == BARLOW_OK && s && barlow_last_error()[0] == 0,
           "create with NULL options (defaults)");

    float X[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint8_t y[4] = {0, 1, 0, 1};
    barlow_matrix *m = NULL;
    barlow_matrix_wrap(X, 4, 3, 0, &m);
    double sc[3] = {-7, -7, -7};
    size_t top[3] = {77, 77, 77};
#define UNTOUCHED (sc[0] == -7 && sc[1] == -7 && sc[2] == -7)
#define TOP_UNTOUCHED (top[0] == 77 && top[1] == 77 && top[2] == 77)
    TAP_OK(barlow_selector_score(NULL, m, y, sc) == BARLOW_E_INVALID_ARG &&
               has("barlow_selector_score") && has("selector") && UNTOUCHED,
           "score: NULL selector");
    TAP_OK(barlow_selector_score(s, NULL, y, sc) == BARLOW_E_INVALID_ARG && has("features") &&
               UNTOUCHED,
           "score: NULL features");
    TAP_OK(barlow_selector_score(s, m, NULL, sc) == BARLOW_E_INVALID_ARG && has("failures"),
           "score: NULL failures");
    TAP_OK(barlow_selector_score(s, m, y, NULL) == BARLOW_E_INVALID_ARG && has("scores"),
           "score: NULL scores");
    uint8_t ybad[4] = {0, 1, 2, 0};
    TAP_OK(barlow_selector_score(s, m, ybad, sc) == BARLOW_E_INVALID_ARG &&
               has("failures[2] = 2") && has("0 or 1") && UNTOUCHED,
           "score: a failure flag of 2 is rejected naming its index");

    const float specials[3] = {NAN, INFINITY, -INFINITY};
    const char *names[3] = {"NaN", "inf", "-inf"};
    for (int k = 0; k < 3; k++) {
        X[2 * 3 + 1] = specials[k]; /* row 2, column 1 */
        X[3 * 3 + 0] = specials[(k + 1) % 3]; /* a later row */
        TAP_OK(barlow_selector_score(s, m, y, sc) == BARLOW_E_INVALID_ARG && has("row 2") &&
                   has("column 1") && has(names[k]) && UNTOUCHED,
               "score: %s at row 2, column 1 is named (%s)", names[k], barlow_last_error());
        X[2 * 3 + 1] = 8;
        X[3 * 3 + 0] = 10;
    }
    double Xd[6] = {1, 2, 3, 4, 5, NAN};
    TAP_OK(barlow_selector_score_f64(s, Xd, 3, 2, y, sc) == BARLOW_E_INVALID_ARG &&
               has("barlow_selector_score_f64") && has("row 2") && has("column 1"),
           "score_f64: NaN named");
    TAP_OK(barlow_selector_score_f64(s, Xd, 0, 2, y, sc) == BARLOW_E_INVALID_ARG &&
               has("0x2") && UNTOUCHED,
           "score_f64: n = 0 rejected");
    TAP_OK(barlow_selector_score_f64(s, Xd, 3, 0, y, sc) == BARLOW_E_INVALID_ARG &&
               has("3x0") && UNTOUCHED,
           "score_f64: d = 0 rejected");
    TAP_OK(barlow_selector_score_f64(s, NULL, 3, 2, y, sc) == BARLOW_E_INVALID_ARG &&
               has("features"),
           "score_f64: NULL features");
    TAP_OK(barlow_selector_score_f64(s, Xd, SIZE_MAX / 2, 4, y, sc) == BARLOW_E_INVALID_ARG,
           "score_f64: n*d overflow rejected (%s)", barlow_last_error());

    TAP_OK(barlow_selector_top_k(s, m, y, 0, top, sc) == BARLOW_E_INVALID_ARG && has("k=0") &&
               TOP_UNTOUCHED && UNTOUCHED,
           "top_k: k = 0 rejected");
    TAP_OK(barlow_selector_top_k(s, m, y, 4, top, sc) == BARLOW_E_INVALID_ARG && has("k=4") &&
               has("d=3") && TOP_UNTOUCHED && UNTOUCHED,
           "top_k: k > d rejected naming both");
    TAP_OK(barlow_selector_top_k(s, m, y, 2, NULL, sc) == BARLOW_E_INVALID_ARG && has("top"),
           "top_k: NULL top");
    TAP_OK(barlow_selector_top_k(s, NULL, y, 2, top, sc) == BARLOW_E_INVALID_ARG &&
               has("features") && TOP_UNTOUCHED,
           "top_k: NULL features");
    TAP_OK(barlow_selector_top_k(s, m, ybad, 2, top, sc) == BARLOW_E_INVALID_ARG &&
               has("barlow_selector_top_k") && TOP_UNTOUCHED && UNTOUCHED,
           "top_k: a bad failure flag leaves outputs untouched");
    TAP_OK(barlow_selector_top_k(NULL, m, y, 2, top, sc) == BARLOW_E_INVALID_ARG &&
               TOP_UNTOUCHED,
           "top_k: NULL selector");
    TAP_OK(barlow_selector_rank(NULL, 3, 1, top) == BARLOW_E_INVALID_ARG &&
               has("barlow_selector_rank"),
           "rank: NULL scores");
    TAP_OK(barlow_selector_rank(sc, 0, 1, top) == BARLOW_E_INVALID_ARG && has("d=0"),
           "rank: d = 0");
    TAP_OK(barlow_selector_rank(sc, 3, 4, top) == BARLOW_E_INVALID_ARG && TOP_UNTOUCHED,
           "rank: k > d");
    TAP_OK(barlow_selector_rank(sc, 3, 1, NULL) == BARLOW_E_INVALID_ARG, "rank: NULL top");

    TAP_OK(barlow_selector_score(s, m, y, sc) == BARLOW_OK && barlow_last_error()[0] == 0,
           "a good call clears the message");
    bw_error(BARLOW_E_IO, "keep me");
    barlow_selector_free(NULL);
    barlow_selector_free(s);
    TAP_OK(strcmp(barlow_last_error(), "keep me") == 0, "free never touches the message");
    barlow_matrix_free(m);
}

/* ---- the two estimator builds ---------------------------------------------- */

/* The baseline and AVX2 builds of the per-column estimator return the same
 * value bit for bit, on columns shaped like the pipeline's (scaled values
 * plus 1e-10 noise, half of them exact zeros before the noise), on exact
 * ties (long runs of equal values: the second sort pass) and on continuous
 * values, for small and large n, k = 1..20, and every failure rate. */
static void test_estimator_builds(void)
{
    if (!bw_knn_set_avx2(1)) {
        TAP_OK(!bw_knn_uses_avx2(), "no AVX2 build or CPU: the baseline build is used");
        return;
    }
    static const size_t ns[] = {2, 3, 5, 17, 64, 65, 100, 333, 1300, 3000};
    static const size_t ks[] = {1, 3, 5, 20};
    size_t nmax = 3000;
    double *x = malloc(nmax * sizeof *x);
    uint8_t *y = malloc(nmax);
    void *scr = malloc(bw_knn_scratch_size(nmax));
    uint32_t seed = 12345;
    size_t cases = 0, same = 0;
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++)
            for (int shape = 0; shape < 4; shape++)
                for (int rate = 0; rate < 3; rate++) {
                    size_t n = ns[a];
                    for (size_t i = 0; i < n; i++) {
                        uint32_t u = lcg(&seed);
                        y[i] = rate == 0 ? u % 2 : rate == 1 ? u % 5 == 0 : u % 50 == 0;
                        double g = ((double)lcg(&seed) / 16777216.0 - 0.5) * 1e-10;
                        double z = (double)lcg(&seed) / 16777216.0;
                        switch (shape) {
                        case 0: x[i] = (z < 0.5 ? 0.0 : z * 3.0 + y[i]) + g; break; /* ReLU */
                        case 1: x[i] = floor(z * 4.0); break;            /* exact ties */
                        case 2: x[i] = z - 0.5 + 0.3 * y[i]; break;      /* continuous */
                        default: x[i] = (z < 0.9 ? -1.0 : z) + g; break; /* one big run */
                        }
                    }
                    bw_knn_plan plan;
                    if (bw_knn_plan_init(&plan, y, n, ks[b]) != 0) continue;
                    double vb = bw_knn_mi_base(&plan, x, 1, scr);
                    double va = bw_knn_mi_avx2(&plan, x, 1, scr);
                    bw_knn_plan_free(&plan);
                    cases++;
                    same += memcmp(&va, &vb, sizeof va) == 0;
                }
    TAP_OK(cases == 480 && same == cases,
           "AVX2 and baseline estimator builds agree bit for bit (%zu of %zu columns)", same,
           cases);
    /* the block preprocessing: full blocks and a partial one, odd n, a
     * constant column (std below 10 eps), ReLU-like and negative values */
    static const size_t pn[] = {1, 3, 7, 1300};
    static const size_t pnb[] = {BW_KNN_BLOCK, 7};
    size_t pcases = 0, psame = 0;
    for (size_t a = 0; a < sizeof pn / sizeof *pn; a++)
        for (size_t b = 0; b < sizeof pnb / sizeof *pnb; b++) {
            size_t n = pn[a], nb = pnb[b], grows = n + 5;
            double *t1 = malloc(n * nb * sizeof *t1), *t2 = malloc(n * nb * sizeof *t2);
            double *g = malloc(grows * nb * sizeof *g);
            double *c1 = malloc(n * nb * sizeof *c1), *c2 = malloc(n * nb * sizeof *c2);
            for (size_t i = 0; i < n * nb; i++) {
                double z = (double)lcg(&seed) / 16777216.0;
                size_t t = i % nb;
                t1[i] = t == 2 ? 5.0 : t % 3 == 0 ? (z < 0.5 ? 0.0 : z * 7.0) : z * 100.0 - 60.0;
            }
            for (size_t i = 0; i < grows * nb; i++)
                g[i] = (double)lcg(&seed) / 16777216.0 * 6.0 - 3.0;
            memcpy(t2, t1, n * nb * sizeof *t1);
            bw_knn_prepare_block_base(t1, n, nb, NULL, g, grows, c1);
            bw_knn_prepare_block_avx2(t2, n, nb, NULL, g, grows, c2);
            pcases++;
            psame += !memcmp(t1, t2, n * nb * sizeof *t1) && !memcmp(c1, c2, n * nb * sizeof *c1);
            free(t1);
            free(t2);
            free(g);
            free(c1);
            free(c2);
        }
    TAP_OK(psame == pcases && pcases == 8,
           "AVX2 and baseline block preprocessing agree bit for bit (%zu of %zu blocks)", psame,
           pcases);
    /* the block gather: full and partial blocks, a row subset, a NaN and
     * an infinity found */
    {
        size_t R = 300, D = 70, sub[100];
        float *X = malloc(R * D * sizeof *X);
        for (size_t i = 0; i < R * D; i++) X[i] = (float)((double)lcg(&seed) / 16777216.0 - 0.4);
        for (size_t i = 0; i < 100; i++) sub[i] = (i * 37) % R;
        double *t1 = malloc(R * BW_KNN_BLOCK * sizeof *t1), *t2 = malloc(R * BW_KNN_BLOCK * sizeof *t2);
        double s1[BW_KNN_BLOCK], s2[BW_KNN_BLOCK];
        size_t gok = 0, gtotal = 0;
        for (int bad = 0; bad < 3; bad++) {
            if (bad == 1) X[37 * D + 40] = NAN;
            if (bad == 2) X[74 * D + 3] = -INFINITY;
            for (size_t j0 = 0; j0 < D; j0 += BW_KNN_BLOCK)
                for (int use_sub = 0; use_sub < 2; use_sub++) {
                    size_t nb = D - j0 < BW_KNN_BLOCK ? D - j0 : BW_KNN_BLOCK;
                    size_t n = use_sub ? 100 : R;
                    const size_t *rws = use_sub ? sub : NULL;
                    int f1 = bw_knn_gather_block_base(X, D, rws, n, j0, nb, t1, s1);
                    int f2 = bw_knn_gather_block_avx2(X, D, rws, n, j0, nb, t2, s2);
                    int want = !(bad >= 1 && j0 == 32) && !(bad == 2 && j0 == 0);
                    gtotal++;
                    gok += f1 == want && f2 == want &&
                           (!want || (!memcmp(t1, t2, n * nb * sizeof *t1) &&
                                      !memcmp(s1, s2, nb * sizeof *s1)));
                }
        }
        TAP_OK(gok == gtotal, "AVX2 and baseline block gathers agree (values, sums, finiteness: "
               "%zu of %zu)", gok, gtotal);
        free(X);
        free(t1);
        free(t2);
    }
    /* numpy's pairwise sum: every length up to 300 (all block shapes) and
     * two beyond numpy's 8192-element buffer */
    {
        size_t len = 20000, ok = 0, total = 0;
        double *a = malloc(len * sizeof *a);
        for (size_t i = 0; i < len; i++)
            a[i] = ((double)lcg(&seed) / 16777216.0 - 0.3) * (i % 13 == 0 ? 1e8 : 1.0);
        for (size_t m = 0; m <= 300; m++, total++) {
            double b1 = bw_pairwise_sum_base(a, m), b2 = bw_pairwise_sum_avx2(a, m);
            ok += !memcmp(&b1, &b2, sizeof b1);
        }
        for (size_t m = 8193; m <= len; m += len - 8193, total++) {
            double b1 = bw_pairwise_sum_base(a, m), b2 = bw_pairwise_sum_avx2(a, m);
            ok += !memcmp(&b1, &b2, sizeof b1);
        }
        TAP_OK(ok == total, "AVX2 and baseline pairwise sums agree bit for bit (%zu of %zu)", ok,
               total);
        free(a);
    }
    TAP_OK(bw_knn_set_avx2(0) == 0 && !bw_knn_uses_avx2(), "the baseline build can be forced");
    bw_knn_set_avx2(1);
    free(x);
    free(y);
    free(scr);
}

int main(void)
{
    test_rng();
    test_digamma_and_sums();
    test_sklearn_values();
    test_invariants();
    test_score_rows();
    test_estimator_builds();
    test_top_k();
    test_errors();
    return tap_done();
}
