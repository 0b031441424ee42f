/* libFuzzer target over the MI selector (lib/selector.c, lib/mi_knn*.c) and
 * the failure tree (lib/split.c, lib/tree*.c). An input is a header of 3
 * bytes (rows n = 1 + b0 % 64, columns d = 1 + b1 % 8; b2: tree depth
 * 1..3, estimator, criterion, class weights, value encoding) and then, per
 * row, a failure flag byte and d values: one signed byte / 4 each, or (b2
 * bit 7) a raw little-endian float32 each, non-finite ones read as 0.
 * Missing bytes read 0. Invariants (abort when broken):
 *  - scores are finite (>= 0 for knn and split gain); top-k is them sorted;
 *  - walking the exported nodes (feature, threshold, children) with each
 *    training row reaches the leaf barlow_tree_apply gives, and each leaf's
 *    size and failures are the rows that reach it;
 *  - barlow_tree_serialize -> deserialize -> serialize gives the same bytes.
 * Built by tests/fuzz/run mi_tree; the corpus is tests/fuzz/mi_tree/. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/selector.h"
#include "barlow/tree.h"
#include "fuzz_util.h"

enum { MAX_N = 64, MAX_D = 8 };

typedef struct input {
    size_t n, d;
    uint8_t mode;
    float x[MAX_N * MAX_D];
    uint8_t fail[MAX_N];
} input;

static float value(const uint8_t *p, size_t left, int raw)
{
    uint8_t b[4] = {0};
    memcpy(b, p, left < 4 ? left : 4);
    if (!raw) return left ? (float)(int8_t)b[0] / 4.0f : 0.0f;
    uint32_t u = (uint32_t)fuzz_le(b, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    return isfinite(f) ? f : 0.0f;
}

static void decode(const uint8_t *data, size_t size, input *in)
{
    uint8_t h[3] = {0};
    memcpy(h, data, size < 3 ? size : 3);
    in->n = 1 + h[0] % MAX_N;
    in->d = 1 + h[1] % MAX_D;
    in->mode = h[2];
    size_t at = 3, w = (h[2] & 0x80) ? 4 : 1;
    for (size_t i = 0; i < in->n; i++) {
        in->fail[i] = at < size ? data[at] & 1 : 0;
        at++;
        for (size_t j = 0; j < in->d; j++, at += w)
            in->x[i * in->d + j] = value(data + (at < size ? at : size), at < size ? size - at : 0,
                                         w == 4);
    }
}

static void check_selector(const input *in, const barlow_matrix *m, size_t *top, size_t *k)
{
    barlow_selector_options so;
    barlow_selector_options_init(&so);
    so.estimator = (barlow_estimator)((in->mode >> 2) % 3);
    so.n_neighbors = 1 + in->mode % 5;
    so.threads = 1;
    barlow_selector *sel = NULL;
    fuzz_check(barlow_selector_create(&so, &sel) == BARLOW_OK);
    double s[MAX_D];
    *k = 1 + in->mode % in->d;
    fuzz_check(barlow_selector_top_k(sel, m, in->fail, *k, top, s) == BARLOW_OK);
    for (size_t j = 0; j < in->d; j++)
        fuzz_check(isfinite(s[j]) && (so.estimator == BARLOW_ESTIMATOR_MEAN || s[j] >= 0));
    for (size_t i = 0; i + 1 < *k; i++)
        fuzz_check(s[top[i]] > s[top[i + 1]] || (s[top[i]] == s[top[i + 1]] && top[i] < top[i + 1]));
    barlow_selector_free(sel);
}

static barlow_tree_node node(const barlow_tree *t, size_t id)
{
    barlow_tree_node nd;
    nd.version = BARLOW_TREE_NODE_VERSION;
    fuzz_check(barlow_tree_get_node(t, id, &nd) == BARLOW_OK);
    return nd;
}

/* The leaf a row reaches following the exported splits. */
static size_t walk(const barlow_tree *t, const float *row)
{
    barlow_tree_node nd = node(t, 0);
    for (int steps = 0; !nd.is_leaf; steps++) {
        fuzz_check(steps < BARLOW_TREE_MAX_DEPTH && nd.feature >= 0 && isfinite(nd.threshold));
        double x = row[nd.feature];
        nd = node(t, (size_t)(x <= nd.threshold ? nd.left : nd.right));
    }
    return (size_t)nd.id;
}

static void check_leaves(const input *in, const barlow_tree *t, const barlow_matrix *m)
{
    size_t cnt = barlow_tree_node_count(t), leaves[MAX_N];
    size_t size[2 * MAX_N] = {0}, fails[2 * MAX_N] = {0};
    fuzz_check(cnt > 0 && cnt < 2 * MAX_N);
    fuzz_check(barlow_tree_apply(t, m, leaves) == BARLOW_OK);
    for (size_t i = 0; i < in->n; i++) {
        size_t leaf = walk(t, in->x + i * in->d);
        fuzz_check(leaf == leaves[i]);
        size[leaf]++;
        fails[leaf] += in->fail[i];
    }
    for (size_t id = 0; id < cnt; id++) {
        barlow_tree_node nd = node(t, id);
        fuzz_check(!nd.is_leaf || (nd.size == size[id] && nd.failures == fails[id]));
    }
}

static void check_serial(const barlow_tree *t)
{
    barlow_buffer a = {0}, b = {0};
    barlow_tree *back = NULL;
    fuzz_check(barlow_tree_serialize(t, &a) == BARLOW_OK);
    fuzz_check(barlow_tree_deserialize(a.data, a.size, &back) == BARLOW_OK);
    fuzz_check(barlow_tree_serialize(back, &b) == BARLOW_OK);
    fuzz_check(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
    /* any shorter prefix is refused */
    barlow_tree *cut = NULL;
    fuzz_check(barlow_tree_deserialize(a.data, a.size / 2, &cut) == BARLOW_E_FORMAT && !cut);
    barlow_tree_free(back);
    barlow_buffer_free(&a);
    barlow_buffer_free(&b);
}

static void check_tree(const input *in, const barlow_matrix *m, const size_t *top, size_t k)
{
    barlow_tree_options o;
    barlow_tree_options_init(&o);
    o.max_depth = 1 + (in->mode >> 4) % 3;
    o.criterion = (in->mode & 0x40) ? BARLOW_CRITERION_GINI : BARLOW_CRITERION_ENTROPY;
    o.class_weight = (in->mode & 0x02) ? BARLOW_CLASS_WEIGHT_NONE : BARLOW_CLASS_WEIGHT_REFERENCE;
    barlow_tree *t = NULL;
    int subset = in->mode & 0x01;
    fuzz_check(barlow_tree_fit(m, in->fail, subset ? top : NULL, subset ? k : 0, &o, &t) ==
               BARLOW_OK);
    check_leaves(in, t, m);
    check_serial(t);
    barlow_tree_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static input in;
    decode(data, size, &in);
    barlow_matrix *m = NULL;
    fuzz_check(barlow_matrix_wrap(in.x, in.n, in.d, 0, &m) == BARLOW_OK);
    size_t top[MAX_D], k;
    check_selector(&in, m, top, &k);
    check_tree(&in, m, top, k);
    barlow_matrix_free(m);
    return 0;
}
