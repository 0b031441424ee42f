/* barlow_selector: scores features against the failure indicator (kNN
 * mutual information as scikit-learn computes it, the tree's split gain, or
 * the mean activation) in parallel over blocks of columns. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rng.h"
#include "selector_check.h"
#include "selector_internal.h"
#include "split.h"

/* Columns handled per work item: the block is gathered from the row-major
 * input into a row-major tile of BW_SEL_BLOCK doubles per row (128 input
 * bytes per row for float32: two consecutive cache lines). 32 rather than
 * 64 so that the tile and its column-major copy (2 x 333 KB at n = 1300)
 * stay in a 512 KB L2 cache: the whole analysis ran ~8% faster. */
enum { BW_SEL_BLOCK = BW_KNN_BLOCK };

/* The noise of numpy.random.RandomState(seed).standard_normal((n, d)) for
 * one d, stored column-major (column j at data + j * rows) so that a
 * column's noise is read sequentially. Value (i, j) is element i*d + j of
 * the stream, for i < rows. Buffers are reference-counted: a score call
 * holds the one it uses; a buffer replaced by a larger one (or one for
 * another d) is freed when its last reader releases it. */
typedef struct bw_noise {
    double *data;
    size_t d, rows;
    size_t refs;            /* readers, plus 1 while it is the current one */
} bw_noise;

/* Working memory kept between score calls: the analysis scores thousands
 * of groups, and allocating ~1 MB each time made the kernel hand out (and
 * zero) fresh pages every time. Idle buffers wait here for the next call;
 * at most BW_SEL_POOL_SLOTS of them and BW_SEL_POOL_BYTES in all, the rest
 * are freed when a call ends. */
enum { BW_SEL_POOL_SLOTS = 64 };
#define BW_SEL_POOL_BYTES ((size_t)256 << 20)

typedef struct bw_scratch_buf {
    void *p;
    size_t bytes;
} bw_scratch_buf;

struct barlow_selector {
    barlow_selector_options opts;
    pthread_mutex_t mu;     /* guards cur, every bw_noise's refs and the pool */
    bw_noise *cur;          /* the current noise buffer, or NULL */
    bw_scratch_buf pool[BW_SEL_POOL_SLOTS]; /* idle working memory */
    size_t n_pool;          /* entries of pool in use */
    size_t pool_bytes;      /* their total size */
};

void barlow_selector_options_init(barlow_selector_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_SELECTOR_OPTIONS_VERSION;
    opts->estimator = BARLOW_ESTIMATOR_KNN;
    opts->n_neighbors = 3;
    opts->seed = 0;
    opts->threads = 0;
}

barlow_status bw_selector_check_options(const barlow_selector_options *in,
                                        barlow_selector_options *o, const char *who)
{
    barlow_selector_options_init(o);
    if (in) {
        char what[96];
        snprintf(what, sizeof what, "%s: barlow_selector_options", who);
        barlow_status st = bw_check_options_version(in->version, BARLOW_SELECTOR_OPTIONS_VERSION,
                                                    what);
        if (st != BARLOW_OK) return st;
        *o = *in; /* version 1 has every field */
        o->version = BARLOW_SELECTOR_OPTIONS_VERSION;
    }
    if (o->estimator != BARLOW_ESTIMATOR_KNN && o->estimator != BARLOW_ESTIMATOR_SPLIT_GAIN &&
        o->estimator != BARLOW_ESTIMATOR_MEAN)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: estimator=%d is not a barlow_estimator (0 knn, 1 split_gain, "
                        "2 mean)",
                        who, (int)o->estimator);
    if (o->n_neighbors < 1 || o->n_neighbors > BW_SELECTOR_MAX_NEIGHBORS)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: n_neighbors=%zu (must be 1..%d)", who,
                        o->n_neighbors, (int)BW_SELECTOR_MAX_NEIGHBORS);
    return BARLOW_OK;
}

barlow_status barlow_selector_create(const barlow_selector_options *opts,
                                     barlow_selector **out)
{
    static const char *who = "barlow_selector_create";
    bw_clear_error();
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_selector_options o;
    barlow_status st = bw_selector_check_options(opts, &o, who);
    if (st != BARLOW_OK) return st;
    barlow_selector *s = bw_calloc(1, sizeof *s, who);
    if (!s) return BARLOW_E_NOMEM;
    s->opts = o;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        bw_free(s);
        return bw_error(BARLOW_E_INTERNAL, "%s: cannot create a mutex", who);
    }
    *out = s;
    return BARLOW_OK;
}

static void bw_noise_release_locked(bw_noise *nz)
{
    if (nz && --nz->refs == 0) {
        bw_free(nz->data);
        bw_free(nz);
    }
}

void barlow_selector_free(barlow_selector *sel)
{
    if (!sel) return;
    bw_noise_release_locked(sel->cur); /* no reader can be left: exclusive */
    for (size_t i = 0; i < sel->n_pool; i++) bw_free(sel->pool[i].p);
    pthread_mutex_destroy(&sel->mu);
    bw_free(sel);
}

/* Draws the stream for rows [0, rows) of an n×d draw into a column-major
 * buffer with `rows` rows, copying rows [0, old->rows) from `old` when it
 * has the same d (the stream is then continued from a generator advanced
 * past them). */
static bw_noise *bw_noise_make(uint32_t seed, size_t d, size_t rows, const bw_noise *old,
                               const char *who)
{
    bw_noise *nz = bw_malloc(sizeof *nz, who);
    double *data = nz ? bw_mallocn(rows, d * sizeof(double), who) : NULL;
    double *row = data ? bw_mallocn(d, sizeof *row, who) : NULL;
    bw_rng *rng = row ? bw_malloc(sizeof *rng, who) : NULL;
    if (!rng) {
        bw_free(row);
        bw_free(data);
        bw_free(nz);
        return NULL;
    }
    bw_rng_seed(rng, seed);
    size_t start = 0;
    if (old && old->d == d && old->rows <= rows) {
        start = old->rows;
        for (size_t j = 0; j < d; j++)
            memcpy(data + j * rows, old->data + j * old->rows, start * sizeof *data);
        /* advance the generator past start*d values */
        for (size_t i = 0; i < start; i++) bw_rng_fill_gauss(rng, row, d);
    }
    /* transpose through the cache in strips of 8 rows */
    enum { STRIP = 8 };
    double *strip = bw_mallocn((size_t)STRIP * d, sizeof *strip, who);
    if (!strip) {
        bw_free(rng);
        bw_free(row);
        bw_free(data);
        bw_free(nz);
        return NULL;
    }
    for (size_t i0 = start; i0 < rows; i0 += STRIP) {
        size_t h = rows - i0 < STRIP ? rows - i0 : STRIP;
        bw_rng_fill_gauss(rng, strip, h * d);
        for (size_t j = 0; j < d; j++)
            for (size_t t = 0; t < h; t++) data[j * rows + i0 + t] = strip[t * d + j];
    }
    bw_free(strip);
    bw_free(rng);
    bw_free(row);
    nz->data = data;
    nz->d = d;
    nz->rows = rows;
    nz->refs = 1;
    return nz;
}

/* Returns a buffer holding the noise of an n×d draw (at least n rows),
 * with a reference the caller releases with bw_noise_release(); NULL after
 * setting a NOMEM message. */
static bw_noise *bw_noise_acquire(const barlow_selector *csel, size_t n, size_t d,
                                  const char *who)
{
    barlow_selector *sel = (barlow_selector *)csel; /* the cache is mutable */
    pthread_mutex_lock(&sel->mu);
    bw_noise *cur = sel->cur;
    if (!cur || cur->d != d || cur->rows < n) {
        /* for the same d (groups of an analysis) keep 25% headroom so that
         * slowly growing group sizes do not redraw every time */
        size_t rows = n;
        if (cur && cur->d == d && n <= SIZE_MAX / 2) rows = n + n / 4;
        if (rows > n && d > SIZE_MAX / sizeof(double) / rows) rows = n;
        bw_noise *nz = bw_noise_make(sel->opts.seed, d, rows, cur, who);
        if (!nz) {
            pthread_mutex_unlock(&sel->mu);
            return NULL;
        }
        bw_noise_release_locked(cur);
        sel->cur = cur = nz;
    }
    cur->refs++;
    pthread_mutex_unlock(&sel->mu);
    return cur;
}

static void bw_noise_release(const barlow_selector *csel, bw_noise *nz)
{
    barlow_selector *sel = (barlow_selector *)csel;
    pthread_mutex_lock(&sel->mu);
    bw_noise_release_locked(nz);
    pthread_mutex_unlock(&sel->mu);
}

/* ---- the block loop -------------------------------------------------------- */

typedef struct bw_score_ctx {
    const barlow_selector *sel;
    const float *X32;
    const double *X64;
    size_t stride, d, n;
    const size_t *rows;
    const uint8_t *y;
    const bw_noise *noise; /* knn */
    const bw_knn_plan *plan;
    double w_failure;      /* split gain class weight */
    void **scratch;        /* per worker */
    size_t tile_cols;      /* min(d, BW_SEL_BLOCK): columns a tile holds */
    size_t tile_bytes;     /* offset of the estimator scratch in a worker's */
    double *scores;
    /* first non-finite value per block: row, column (SIZE_MAX = none) */
    size_t *bad_row, *bad_col;
    double *bad_val;
} bw_score_ctx;

/* The same for a single column (d == 1): numpy reduces a contiguous column
 * with pairwise summation. tmp holds n doubles. Returns c. */
static double bw_scale_column(double *x, size_t n, double *tmp)
{
    double mean = bw_pairwise_sum(x, n) / (double)n;
    for (size_t i = 0; i < n; i++) {
        double e = x[i] - mean;
        tmp[i] = e * e;
    }
    double sd = sqrt(bw_pairwise_sum(tmp, n) / (double)n);
    if (sd < 10 * DBL_EPSILON) sd = 1.0;
    for (size_t i = 0; i < n; i++) {
        x[i] /= sd;
        tmp[i] = fabs(x[i]);
    }
    double m = bw_pairwise_sum(tmp, n) / (double)n;
    return 1e-10 * (m > 1.0 ? m : 1.0);
}

static int bw_score_block(void *vctx, size_t b, size_t worker)
{
    bw_score_ctx *C = vctx;
    size_t n = C->n, d = C->d;
    size_t j0 = b * BW_SEL_BLOCK;
    size_t nb = d - j0 < BW_SEL_BLOCK ? d - j0 : BW_SEL_BLOCK;
    double *tile = C->scratch[worker]; /* n rows of nb doubles */
    double *cm = tile + C->tile_cols * n; /* the same block column-major */
    double *col = cm;                     /* or: one column, n doubles */
    void *est_scratch = (char *)C->scratch[worker] + C->tile_bytes;

    /* gather the block row-major, widening, and check it is finite (for
     * float64 input x*0 stays 0 unless x is not finite); float32 input
     * also gets its column sums on the way */
    double chk[BW_SEL_BLOCK] = {0}, sums[BW_SEL_BLOCK];
    int bad = 0;
    if (C->X32) {
        bad = !bw_knn_gather_block(C->X32, C->stride, C->rows, n, j0, nb, tile, sums);
    } else {
        for (size_t i = 0; i < n; i++) {
            const double *src = C->X64 + (C->rows ? C->rows[i] : i) * C->stride + j0;
            double *dst = tile + i * nb;
            for (size_t t = 0; t < nb; t++) dst[t] = src[t];
            for (size_t t = 0; t < nb; t++) chk[t] += dst[t] * 0.0;
        }
    }
    for (size_t t = 0; t < nb; t++) bad |= chk[t] != 0.0;
    if (bad) {
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < nb; t++)
                if (!isfinite(tile[i * nb + t])) {
                    C->bad_row[b] = C->rows ? C->rows[i] : i;
                    C->bad_col[b] = j0 + t;
                    C->bad_val[b] = tile[i * nb + t];
                    return 0;
                }
    }

    switch (C->sel->opts.estimator) {
    case BARLOW_ESTIMATOR_KNN: {
        const double *g0 = C->noise->data + j0 * C->noise->rows;
        if (d == 1) {
            /* numpy's pairwise order for a single column */
            double c = bw_scale_column(tile, n, col);
            for (size_t i = 0; i < n; i++) col[i] = tile[i] + c * g0[i];
        } else {
            bw_knn_prepare_block(tile, n, nb, C->X32 ? sums : NULL, g0, C->noise->rows, cm);
        }
        for (size_t t = 0; t < nb; t++)
            C->scores[j0 + t] = bw_knn_mi(C->plan, cm + t * n, 1, est_scratch);
        break;
    }
    case BARLOW_ESTIMATOR_SPLIT_GAIN:
        for (size_t t = 0; t < nb; t++) {
            double score = 0.0;
            if (C->w_failure > 0) {
                float *xf = (float *)col;
                for (size_t i = 0; i < n; i++) xf[i] = (float)tile[i * nb + t];
                bw_split_result res;
                if (bw_split_best(xf, C->y, n, 1.0, C->w_failure, BW_CRITERION_ENTROPY, 1,
                                  est_scratch, &res) == 0 && res.found)
                    score = res.gain > 0 ? res.gain : 0.0;
            }
            C->scores[j0 + t] = score;
        }
        break;
    case BARLOW_ESTIMATOR_MEAN: {
        double sum[BW_SEL_BLOCK] = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < nb; t++) sum[t] += tile[i * nb + t];
        for (size_t t = 0; t < nb; t++) C->scores[j0 + t] = sum[t] / (double)n;
        break;
    }
    }
    return 0;
}

/* ---- working memory ---------------------------------------------------------- */

/* Gives the call nt buffers of at least `bytes` each in bufs[]: idle ones
 * from the pool when they are large enough (a smaller idle buffer is freed,
 * so that the pool follows the group sizes), new ones otherwise. Returns
 * NOMEM (with the message) when an allocation fails; the buffers given so
 * far are in bufs[] (the rest NULL) for bw_scratch_release. */
static barlow_status bw_scratch_acquire(const barlow_selector *csel, size_t nt, size_t bytes,
                                        bw_scratch_buf *bufs, const char *who)
{
    barlow_selector *sel = (barlow_selector *)csel; /* the pool is mutable */
    void *small[BW_SEL_POOL_SLOTS];
    size_t n_small = 0, got = 0;
    pthread_mutex_lock(&sel->mu);
    while (got < nt && sel->n_pool > 0) {
        bw_scratch_buf b = sel->pool[--sel->n_pool];
        sel->pool_bytes -= b.bytes;
        if (b.bytes >= bytes) bufs[got++] = b;
        else small[n_small++] = b.p;
    }
    pthread_mutex_unlock(&sel->mu);
    for (size_t i = 0; i < n_small; i++) bw_free(small[i]);
    for (; got < nt; got++) {
        bufs[got].p = bw_malloc(bytes, who);
        bufs[got].bytes = bytes;
        if (!bufs[got].p) return BARLOW_E_NOMEM;
    }
    return BARLOW_OK;
}

/* Puts the call's buffers back in the pool while it has room; frees the
 * others. */
static void bw_scratch_release(const barlow_selector *csel, bw_scratch_buf *bufs, size_t nt)
{
    barlow_selector *sel = (barlow_selector *)csel;
    size_t k = 0;
    pthread_mutex_lock(&sel->mu);
    for (; k < nt && bufs[k].p; k++) {
        if (sel->n_pool == BW_SEL_POOL_SLOTS || bufs[k].bytes > BW_SEL_POOL_BYTES - sel->pool_bytes)
            break;
        sel->pool[sel->n_pool++] = bufs[k];
        sel->pool_bytes += bufs[k].bytes;
    }
    pthread_mutex_unlock(&sel->mu);
    for (; k < nt; k++) bw_free(bufs[k].p);
}

/* ---- scoring ------------------------------------------------------------------- */

/* Scores the d columns of the rows `rows[0..n)` (NULL: rows 0..n-1) of a
 * row-major matrix (exactly one of X32/X64 non-NULL, `stride` in elements;
 * the row indices already checked), as for the matrix made of those rows in
 * that order (the noise is drawn for the local row numbers 0..n-1), on the
 * selector's threads. y: n flags, validated here. Messages start with who. */
static barlow_status bw_score(const barlow_selector *sel, const float *X32, const double *X64,
                              size_t stride, size_t d, const size_t *rows, size_t n,
                              const uint8_t *y, double *scores, const char *who)
{
    if (!sel) return bw_error(BARLOW_E_INVALID_ARG, "%s: selector is NULL", who);
    if (!y) return bw_error(BARLOW_E_INVALID_ARG, "%s: failures is NULL", who);
    if (!scores) return bw_error(BARLOW_E_INVALID_ARG, "%s: scores is NULL", who);
    if (!X32 && !X64) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    if (n == 0 || d == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: features are %zux%zu (need at least 1x1)",
                        who, n, d);
    if (n > (size_t)INT32_MAX)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zu rows (at most %d)", who, n,
                        (int)INT32_MAX);
    if (n > SIZE_MAX / d)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zux%zu features overflow", who, n, d);
    size_t n_fail = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: failures[%zu] = %u (failure flags must be 0 or 1)", who, i,
                            (unsigned)y[i]);
        n_fail += y[i];
    }

    const barlow_selector_options *o = &sel->opts;
    barlow_status st = BARLOW_OK;
    bw_knn_plan plan;
    int have_plan = 0;
    bw_noise *noise = NULL;
    size_t n_blocks = (d + BW_SEL_BLOCK - 1) / BW_SEL_BLOCK;
    size_t nt = bw_resolve_threads(o->threads, n_blocks);
    size_t est_bytes = 0;
    if (o->estimator == BARLOW_ESTIMATOR_KNN) est_bytes = bw_knn_scratch_size(n);
    else if (o->estimator == BARLOW_ESTIMATOR_SPLIT_GAIN) est_bytes = bw_split_scratch_size(n);
    size_t tile_cols = d < BW_SEL_BLOCK ? d : BW_SEL_BLOCK;
    size_t tile_bytes = 2 * tile_cols * n * sizeof(double); /* tile + cm */
    size_t per_worker = tile_bytes + est_bytes + 64;
    bw_scratch_buf *bufs = bw_calloc(nt, sizeof *bufs, who);
    void **scratch = bw_calloc(nt, sizeof *scratch, who);
    size_t *bad_row = bw_mallocn(n_blocks, sizeof *bad_row, who);
    size_t *bad_col = bw_mallocn(n_blocks, sizeof *bad_col, who);
    double *bad_val = bw_mallocn(n_blocks, sizeof *bad_val, who);
    double *tmp_scores = bw_mallocn(d, sizeof *tmp_scores, who);
    if (!bufs || !scratch || !bad_row || !bad_col || !bad_val || !tmp_scores) {
        st = BARLOW_E_NOMEM;
        goto done;
    }
    st = bw_scratch_acquire(sel, nt, per_worker, bufs, who);
    if (st != BARLOW_OK) goto done;
    for (size_t t = 0; t < nt; t++) scratch[t] = bufs[t].p;
    for (size_t b = 0; b < n_blocks; b++) bad_row[b] = bad_col[b] = SIZE_MAX;
    if (o->estimator == BARLOW_ESTIMATOR_KNN) {
        if (bw_knn_plan_init(&plan, y, n, o->n_neighbors) != 0) {
            st = bw_error(BARLOW_E_NOMEM, "%s: out of memory", who);
            goto done;
        }
        have_plan = 1;
        noise = bw_noise_acquire(sel, n, d, who);
        if (!noise) {
            st = BARLOW_E_NOMEM;
            goto done;
        }
    }

    bw_score_ctx ctx = {
        .sel = sel, .X32 = X32, .X64 = X64, .stride = stride, .d = d, .n = n,
        .rows = rows, .y = y, .noise = noise, .plan = have_plan ? &plan : NULL,
        .w_failure = (n_fail > 0 && n_fail < n) ? (double)(n - n_fail) / (double)n_fail : 0.0,
        .scratch = scratch, .tile_cols = tile_cols, .tile_bytes = tile_bytes,
        .scores = tmp_scores, .bad_row = bad_row, .bad_col = bad_col, .bad_val = bad_val};
    int rc = bw_parallel_for(n_blocks, nt, bw_score_block, &ctx, NULL, NULL);
    if (rc != 0) {
        st = bw_error(rc < 0 ? (barlow_status)rc : BARLOW_E_INTERNAL,
                      "%s: the worker threads failed", who);
        goto done;
    }
    /* the first non-finite value in row-major order */
    size_t br = SIZE_MAX, bc = SIZE_MAX;
    double bv = 0;
    for (size_t b = 0; b < n_blocks; b++)
        if (bad_row[b] < br || (bad_row[b] == br && bad_col[b] < bc)) {
            br = bad_row[b];
            bc = bad_col[b];
            bv = bad_val[b];
        }
    if (br != SIZE_MAX) {
        st = bw_error(BARLOW_E_INVALID_ARG,
                      "%s: features[%zu][%zu] (row %zu, column %zu) is %s (must be finite)",
                      who, br, bc, br, bc, isnan(bv) ? "NaN" : (bv > 0 ? "inf" : "-inf"));
        goto done;
    }
    memcpy(scores, tmp_scores, d * sizeof *scores);

done:
    if (have_plan) bw_knn_plan_free(&plan);
    if (noise) bw_noise_release(sel, noise);
    if (bufs) bw_scratch_release(sel, bufs, nt);
    bw_free(bufs);
    bw_free(scratch);
    bw_free(bad_row);
    bw_free(bad_col);
    bw_free(bad_val);
    bw_free(tmp_scores);
    return st;
}

/* ---- public entry points ---------------------------------------------------- */

barlow_status barlow_selector_score(const barlow_selector *sel, const barlow_matrix *features,
                                    const uint8_t *failures, double *scores)
{
    static const char *who = "barlow_selector_score";
    bw_clear_error();
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    return bw_score(sel, barlow_matrix_data(features), NULL, barlow_matrix_stride(features),
                    barlow_matrix_cols(features), NULL, barlow_matrix_rows(features), failures,
                    scores, who);
}

barlow_status barlow_selector_score_rows(const barlow_selector *sel,
                                         const barlow_matrix *features, const size_t *rows,
                                         size_t n_rows, const uint8_t *failures,
                                         double *scores)
{
    static const char *who = "barlow_selector_score_rows";
    bw_clear_error();
    if (!sel) return bw_error(BARLOW_E_INVALID_ARG, "%s: selector is NULL", who);
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    if (!rows) return bw_error(BARLOW_E_INVALID_ARG, "%s: rows is NULL", who);
    if (n_rows == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n_rows is 0", who);
    size_t m = barlow_matrix_rows(features);
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i] >= m)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: rows[%zu] = %zu is not a row (features has %zu rows)", who, i,
                            rows[i], m);
    return bw_score(sel, barlow_matrix_data(features), NULL, barlow_matrix_stride(features),
                    barlow_matrix_cols(features), rows, n_rows, failures, scores, who);
}

barlow_status barlow_selector_score_f64(const barlow_selector *sel, const double *features,
                                        size_t n, size_t d, const uint8_t *failures,
                                        double *scores)
{
    static const char *who = "barlow_selector_score_f64";
    bw_clear_error();
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    return bw_score(sel, NULL, features, d, d, NULL, n, failures, scores, who);
}

typedef struct bw_ranked {
    double score;
    size_t index;
} bw_ranked;

static int bw_ranked_cmp(const void *a, const void *b)
{
    const bw_ranked *x = a, *y = b;
    int xn = isnan(x->score), yn = isnan(y->score);
    if (xn != yn) return xn - yn; /* NaN last */
    if (!xn && x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static barlow_status bw_rank(const double *scores, size_t d, size_t k, size_t *top,
                             const char *who)
{
    bw_ranked *r = bw_mallocn(d, sizeof *r, who);
    if (!r) return BARLOW_E_NOMEM;
    for (size_t j = 0; j < d; j++) r[j] = (bw_ranked){scores[j], j};
    qsort(r, d, sizeof *r, bw_ranked_cmp);
    for (size_t t = 0; t < k; t++) top[t] = r[t].index;
    bw_free(r);
    return BARLOW_OK;
}

barlow_status barlow_selector_rank(const double *scores, size_t d, size_t k, size_t *top)
{
    static const char *who = "barlow_selector_rank";
    bw_clear_error();
    if (!scores) return bw_error(BARLOW_E_INVALID_ARG, "%s: scores is NULL", who);
    if (!top) return bw_error(BARLOW_E_INVALID_ARG, "%s: top is NULL", who);
    if (d == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: d=0 (need at least 1 score)", who);
    if (k == 0 || k > d)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: k=%zu (must be 1..d=%zu)", who, k, d);
    return bw_rank(scores, d, k, top, who);
}

barlow_status barlow_selector_top_k(const barlow_selector *sel, const barlow_matrix *features,
                                    const uint8_t *failures, size_t k, size_t *top,
                                    double *scores)
{
    static const char *who = "barlow_selector_top_k";
    bw_clear_error();
    if (!features) return bw_error(BARLOW_E_INVALID_ARG, "%s: features is NULL", who);
    if (!top) return bw_error(BARLOW_E_INVALID_ARG, "%s: top is NULL", who);
    size_t d = barlow_matrix_cols(features);
    if (k == 0 || k > d)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: k=%zu (must be 1..d=%zu)", who, k, d);
    double *all = bw_mallocn(d, sizeof *all, who);
    if (!all) return BARLOW_E_NOMEM;
    size_t *idx = bw_mallocn(k, sizeof *idx, who);
    if (!idx) {
        bw_free(all);
        return BARLOW_E_NOMEM;
    }
    barlow_status st = bw_score(sel, barlow_matrix_data(features), NULL,
                                barlow_matrix_stride(features), d, NULL,
                                barlow_matrix_rows(features), failures, all, who);
    if (st == BARLOW_OK) st = bw_rank(all, d, k, idx, who);
    if (st == BARLOW_OK) {
        memcpy(top, idx, k * sizeof *top);
        if (scores) memcpy(scores, all, d * sizeof *scores);
    }
    bw_free(all);
    bw_free(idx);
    return st;
}
