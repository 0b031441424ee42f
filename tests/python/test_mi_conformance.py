"""Conformance of the kNN mutual-information selector with scikit-learn.

libbarlow's default estimator must give what
    sklearn.feature_selection.mutual_info_classif(X, y, n_neighbors=3,
                                                  random_state=seed)
gives for continuous X (float32 features are compared with scikit-learn run
on the same values widened to float64): values within 1e-6 and the same
top-20, except between candidates whose reference scores are within 1e-6.

Which reference: scikit-learn's k-th-neighbour search uses a KD-tree (exact
distances) for a class of the failure label with >= 8 members, but a
brute-force path that computes |x-y|^2 as x^2 - 2xy + y^2 for 2..7 members;
its rounding swamps the 1e-10 tie-breaking noise. libbarlow keeps exact
distances everywhere (docs/selector.md). So cases whose classes all have 1
or >= 8 members are compared with scikit-learn itself (and must agree bit
for bit), the others with `exact_reference` below: scikit-learn's own
preprocessing and Ross's estimator exactly as _compute_mi_cd computes it,
but with |x - y| distances.

The library is called through ctypes (float32 via a borrowed barlow_matrix,
float64 via barlow_selector_score_f64).
"""
import ctypes

import numpy as np
import pytest
from scipy.special import digamma
from sklearn.feature_selection import mutual_info_classif
from sklearn.feature_selection._mutual_info import _compute_mi_cd
from sklearn.preprocessing import scale

TOL = 1e-6
TOP = 20


class Options(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("estimator", ctypes.c_int),
                ("n_neighbors", ctypes.c_size_t), ("seed", ctypes.c_uint32),
                ("threads", ctypes.c_size_t)]


@pytest.fixture(scope="module")
def lib(build_dir):
    path = build_dir / "lib" / "libbarlow.so"
    if not path.exists():
        pytest.fail(f"libbarlow is not built at {path}")
    L = ctypes.CDLL(str(path))
    L.barlow_last_error.restype = ctypes.c_char_p
    L.barlow_selector_create.argtypes = [ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_void_p)]
    L.barlow_selector_free.argtypes = [ctypes.c_void_p]
    L.barlow_matrix_wrap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                     ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
    L.barlow_matrix_free.argtypes = [ctypes.c_void_p]
    L.barlow_selector_score.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_void_p]
    L.barlow_selector_score_f64.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                            ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p]
    return L


def barlow_mi(lib, X, y, seed=0, n_neighbors=3, threads=0):
    """Scores with libbarlow: float32 X through a borrowed matrix, float64
    X through the float64 entry point."""
    opts = Options(1, 0, n_neighbors, seed, threads)
    sel = ctypes.c_void_p()
    assert lib.barlow_selector_create(ctypes.byref(opts), ctypes.byref(sel)) == 0
    X = np.ascontiguousarray(X)
    yb = np.ascontiguousarray(y, dtype=np.uint8)
    out = np.full(X.shape[1], np.nan)
    try:
        if X.dtype == np.float32:
            m = ctypes.c_void_p()
            assert lib.barlow_matrix_wrap(X.ctypes.data, X.shape[0], X.shape[1], 0,
                                          ctypes.byref(m)) == 0
            st = lib.barlow_selector_score(sel, m, yb.ctypes.data, out.ctypes.data)
            lib.barlow_matrix_free(m)
        else:
            st = lib.barlow_selector_score_f64(sel, X.ctypes.data, X.shape[0], X.shape[1],
                                               yb.ctypes.data, out.ctypes.data)
    finally:
        lib.barlow_selector_free(sel)
    assert st == 0, lib.barlow_last_error().decode()
    return out


def sklearn_preprocess(X, seed):
    """_estimate_mi's preprocessing of continuous X (float64)."""
    X = scale(np.array(X, dtype=np.float64), with_mean=False, copy=False)
    means = np.maximum(1, np.mean(np.abs(X), axis=0))
    return X + 1e-10 * means * np.random.RandomState(seed).standard_normal(size=X.shape)


def exact_mi_cd(c, d, n_neighbors):
    """_compute_mi_cd with exact |x - y| distances (brute force)."""
    n = len(c)
    radius, label_counts, k_all = np.empty(n), np.empty(n), np.empty(n)
    for label in np.unique(d):
        mask = d == label
        count = int(mask.sum())
        if count > 1:
            k = min(n_neighbors, count - 1)
            cm = c[mask]
            dist = np.abs(cm[None, :] - cm[:, None])
            np.fill_diagonal(dist, np.inf)
            radius[mask] = np.nextafter(np.sort(dist, axis=1)[:, k - 1], 0)
            k_all[mask] = k
        label_counts[mask] = count
    mask = label_counts > 1
    N = int(mask.sum())
    if N == 0:
        return 0.0  # scikit-learn raises here; libbarlow defines 0
    c, radius = c[mask], radius[mask]
    m_all = (np.abs(c[None, :] - c[:, None]) <= radius[:, None]).sum(axis=1)
    mi = (digamma(N) + np.mean(digamma(k_all[mask])) - np.mean(digamma(label_counts[mask]))
          - np.mean(digamma(m_all)))
    return max(0.0, mi)


def exact_reference(X, y, seed=0, n_neighbors=3, columns=None):
    Xn = sklearn_preprocess(X, seed)
    cols = range(X.shape[1]) if columns is None else columns
    return np.array([exact_mi_cd(Xn[:, j], y, n_neighbors) for j in cols])


def sklearn_uses_kd_tree(y, n_neighbors=3):
    """True when every class has 1 member or takes scikit-learn's KD-tree
    path (NearestNeighbors 'auto' picks brute force when k >= count // 2)."""
    for c in np.bincount(y, minlength=2):
        if c > 1 and min(n_neighbors, c - 1) >= c // 2:
            return False
    return True


def make_features(kind, n, d, rng):
    if kind == "relu":
        X = np.maximum(rng.standard_normal((n, d)), 0) * rng.uniform(0.5, 3, d)
    elif kind == "quantised":
        X = np.maximum(np.round(rng.standard_normal((n, d)) * 3), 0)
    elif kind == "gauss":
        X = rng.standard_normal((n, d)) + 5
    else:
        raise ValueError(kind)
    return X


def make_failures(rate, n, rng):
    if rate == "one":
        y = np.zeros(n, np.int64)
        y[rng.integers(n)] = 1
        return y
    y = (rng.random(n) < rate).astype(np.int64)
    if y.sum() == 0:
        y[0] = 1
    if y.sum() == n:
        y[0] = 0
    return y


def add_signal(X, y, rng):
    """Make a few columns informative so that the top of the ranking means
    something."""
    d = X.shape[1]
    for j in rng.choice(d, size=min(d, 5), replace=False):
        X[:, j] += y * rng.uniform(0.2, 2.0)
    return X


def check_against(ours, ref, what, exact):
    diff = np.abs(ours - ref)
    assert diff.max() <= TOL, f"{what}: max |diff| {diff.max():.3g} at column {diff.argmax()}"
    if exact:
        assert np.array_equal(ours, ref), \
            f"{what}: {np.sum(ours != ref)} of {len(ref)} columns differ in the last bits"
    k = min(TOP, len(ref))
    top_ours = np.argsort(-ours, kind="stable")[:k]
    top_ref = np.argsort(-ref, kind="stable")[:k]
    for r in range(k):
        if top_ours[r] != top_ref[r]:
            assert abs(ref[top_ours[r]] - ref[top_ref[r]]) < TOL, \
                f"{what}: rank {r}: feature {top_ours[r]} vs reference {top_ref[r]}"


CASES = [
    # n, d, kind, failure rate
    (5, 16, "relu", 0.4),
    (5, 1, "gauss", 0.4),
    (50, 1, "relu", 0.25),
    (50, 16, "relu", "one"),
    (50, 16, "quantised", 0.25),
    (50, 16, "relu", 0.99),
    (50, 2048, "relu", 0.25),
    (1300, 1, "relu", 0.25),
    (1300, 16, "relu", 0.25),
    (1300, 16, "quantised", 0.05),
    (1300, 16, "gauss", 0.5),
    (1300, 16, "relu", 0.99),
    (1300, 16, "relu", "one"),
    (1300, 16, "relu", 3 / 1300),
    (9000, 3, "relu", 0.25),  # n > 8192: numpy sums in chunks of 8192
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n,d,kind,rate", CASES)
def test_knn_matches_reference(lib, n, d, kind, rate, dtype):
    rng = np.random.default_rng([n, d, len(kind), int(1000 * (0 if rate == "one" else rate))])
    X = make_features(kind, n, d, rng)
    y = make_failures(rate, n, rng)
    X = add_signal(X, y, rng).astype(dtype)
    seed = int(rng.integers(0, 2**32))
    ours = barlow_mi(lib, X, y, seed=seed)
    X64 = X.astype(np.float64)
    what = f"n={n} d={d} {kind} failures={int(y.sum())} {dtype} seed={seed}"
    if sklearn_uses_kd_tree(y) and np.bincount(y, minlength=2).max() > 1:
        ref = mutual_info_classif(X64, y, n_neighbors=3, random_state=seed)
        check_against(ours, ref, what + " vs sklearn", exact=True)
    else:
        ref = exact_reference(X64, y, seed)
        check_against(ours, ref, what + " vs exact-distance reference", exact=False)


def test_small_class_deviation_is_real(lib):
    """Where a class has 2..7 members scikit-learn's brute-force distances
    differ from exact ones; libbarlow follows the exact reference."""
    rng = np.random.default_rng(5)
    n, d = 300, 64
    X = np.maximum(rng.standard_normal((n, d)), 0).astype(np.float32)
    y = np.zeros(n, np.int64)
    y[rng.choice(n, 4, replace=False)] = 1
    ours = barlow_mi(lib, X, y)
    exact = exact_reference(X.astype(np.float64), y)
    check_against(ours, exact, "4 failures vs exact reference", exact=False)
    sk = mutual_info_classif(X.astype(np.float64), y, n_neighbors=3, random_state=0)
    assert np.abs(ours - exact).max() < np.abs(sk - exact).max(), \
        "the exact reference should be closer to libbarlow than scikit-learn is"


def test_large_shape_column_subset(lib):
    """n=1300, d=2048 (the benchmark shape): every column scored by
    libbarlow; 24 of them recomputed by scikit-learn's own _compute_mi_cd on
    the matrix preprocessed exactly as mutual_info_classif does (the noise
    depends on d, so a column subset cannot be passed to it directly)."""
    rng = np.random.default_rng(1300)
    n, d = 1300, 2048
    X = np.maximum(rng.standard_normal((n, d)), 0).astype(np.float32)
    y = (rng.random(n) < 0.25).astype(np.int64)
    X[:, 77] += y * np.float32(0.7)
    ours = barlow_mi(lib, X, y, seed=0)
    Xn = sklearn_preprocess(X.astype(np.float64), 0)
    cols = sorted(set(rng.choice(d, 23, replace=False).tolist()) | {77})
    ref = np.array([max(0, _compute_mi_cd(Xn[:, j], y, 3)) for j in cols])
    assert np.array_equal(ours[cols], ref), np.abs(ours[cols] - ref).max()
    assert np.argmax(ours) == 77


@pytest.mark.parametrize("n_neighbors", [1, 5])
def test_other_neighbour_counts(lib, n_neighbors):
    rng = np.random.default_rng(n_neighbors)
    X = np.maximum(rng.standard_normal((400, 12)), 0)
    y = (rng.random(400) < 0.3).astype(np.int64)
    X = add_signal(X, y, rng)
    ours = barlow_mi(lib, X, y, seed=3, n_neighbors=n_neighbors)
    ref = mutual_info_classif(X, y, n_neighbors=n_neighbors, random_state=3)
    check_against(ours, ref, f"n_neighbors={n_neighbors}", exact=True)


def test_thread_counts_agree(lib):
    rng = np.random.default_rng(9)
    X = np.maximum(rng.standard_normal((700, 300)), 0).astype(np.float32)
    y = (rng.random(700) < 0.25).astype(np.int64)
    one = barlow_mi(lib, X, y, threads=1)
    for t in (2, 5, 0):
        assert np.array_equal(one, barlow_mi(lib, X, y, threads=t)), f"threads={t}"
