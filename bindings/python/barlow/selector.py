"""barlow.Selector, mutual_info and top_k (include/barlow/selector.h).

The default estimator is scikit-learn's ``mutual_info_classif(X, y,
n_neighbors=3, random_state=seed)`` for continuous X, equal to the last bit
where every class of the failure flags has 1 or >= 8 members
(docs/selector.md has the one deviation, classes of 2-7 members).
"""
import numpy as np

from . import _array
from ._ffi import ffi, lib
from ._handle import Handle, new_handle, set_fields
from .errors import check
from .matrix import Matrix, as_matrix

ESTIMATORS = {"knn": lib.BARLOW_ESTIMATOR_KNN, "split_gain": lib.BARLOW_ESTIMATOR_SPLIT_GAIN,
              "mean": lib.BARLOW_ESTIMATOR_MEAN}


def _enum(table, value, what):
    key = value.replace("-", "_") if isinstance(value, str) else value
    if key not in table:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, table))}; got {value!r}")
    return table[key]


def _f64_input(x):
    """A float64 C-contiguous 2-D array scored as is (score_f64), or None."""
    return (isinstance(x, np.ndarray) and x.dtype == np.float64 and x.ndim == 2
            and x.flags.c_contiguous and x.size > 0)


class Selector(Handle):
    """Scores features against failure flags. estimator: 'knn' (mutual
    information, the default), 'split_gain' (the tree's own criterion) or
    'mean' (mean activation); n_neighbors and seed are the knn settings;
    threads: 0 = all cores (results never depend on it). The knn estimator
    keeps the noise it draws for later calls of the same shape."""

    _free = "barlow_selector_free"

    def __init__(self, estimator="knn", *, n_neighbors=3, seed=0, threads=0):
        opts = ffi.new("barlow_selector_options *")
        lib.barlow_selector_options_init(opts)
        opts.estimator = _enum(ESTIMATORS, estimator, "estimator")
        set_fields(opts, "selector options", n_neighbors=n_neighbors, seed=seed,
                   threads=threads)
        super().__init__(new_handle("barlow_selector", lib.barlow_selector_create, opts))

    def _prepare(self, features, failures):
        if _f64_input(features):
            return features, _array.as_failures(failures, len(features))
        m = as_matrix(features)
        return m, _array.as_failures(failures, m.rows)

    def score(self, features, failures):
        """d scores (float64), one per column. features: a Matrix, a float32
        array (read in place) or a float64 C-ordered array (read in place,
        scored without rounding to float32)."""
        x, y = self._prepare(features, failures)
        d = x.cols if isinstance(x, Matrix) else x.shape[1]
        scores = np.empty(d, np.float64)
        sp, yp = _array.ptr("double", scores), _array.ptr("uint8_t", y)
        if isinstance(x, Matrix):
            check(lib.barlow_selector_score(self.ptr, x.ptr, yp, sp))
        else:
            check(lib.barlow_selector_score_f64(self.ptr, _array.ptr("double", x),
                                                x.shape[0], d, yp, sp))
        return scores

    def score_rows(self, features, rows, failures):
        """d scores of the given rows of `features` (a Matrix or a float32
        array, read in place; rows in any order, repeats allowed) against
        `failures` (one flag per entry of rows): bit for bit
        score(features[rows], failures), without making that copy."""
        m = as_matrix(features)
        idx = np.ascontiguousarray(np.asarray(rows, dtype=np.int64).ravel(), dtype=np.uintp)
        if len(idx) == 0:
            raise ValueError("score_rows: no rows given")
        y = _array.as_failures(failures, len(idx))
        scores = np.empty(m.cols, np.float64)
        check(lib.barlow_selector_score_rows(self.ptr, m.ptr, _array.ptr("size_t", idx), len(idx),
                                             _array.ptr("uint8_t", y),
                                             _array.ptr("double", scores)))
        return scores

    def top_k(self, features, failures, k):
        """(indices of the k best columns, best first, ties by lower index;
        all d scores)."""
        if _f64_input(features):
            scores = self.score(features, failures)
            return rank(scores, k), scores
        m, y = self._prepare(features, failures)
        top = np.empty(k, np.uintp)
        scores = np.empty(m.cols, np.float64)
        check(lib.barlow_selector_top_k(self.ptr, m.ptr, _array.ptr("uint8_t", y), k,
                                        _array.ptr("size_t", top),
                                        _array.ptr("double", scores)))
        return top.astype(np.intp), scores

    def __repr__(self):
        return "<barlow.Selector (closed)>" if self.closed else "<barlow.Selector>"


def rank(scores, k):
    """Indices of the k largest scores, best first (ties: lower index; NaN
    last)."""
    s = np.ascontiguousarray(scores, dtype=np.float64)
    top = np.empty(k, np.uintp)
    check(lib.barlow_selector_rank(_array.ptr("double", s), len(s), k,
                                   _array.ptr("size_t", top)))
    return top.astype(np.intp)


def mutual_info(features, failures, *, n_neighbors=3, seed=0, threads=0):
    """Mutual information (nats) of each column with the failure flags:
    sklearn's mutual_info_classif(X, failures, discrete_features=False,
    n_neighbors=n_neighbors, random_state=seed) on X widened to float64."""
    with Selector("knn", n_neighbors=n_neighbors, seed=seed, threads=threads) as sel:
        return sel.score(features, failures)


def top_k(features, failures, k, *, estimator="knn", n_neighbors=3, seed=0, threads=0):
    """Indices of the k columns that tell most about failure, best first."""
    with Selector(estimator, n_neighbors=n_neighbors, seed=seed, threads=threads) as sel:
        return sel.top_k(features, failures, k)[0]
