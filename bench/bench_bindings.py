#!/usr/bin/python3
"""What the Python bindings cost, one run side by side:

  1. barlow.Selector scoring n x d float32 features already in memory (one
     thread: threads=1; a selector reused, which keeps the tie-breaking
     noise it drew, and a fresh one, which draws it) against scikit-learn's
     mutual_info_classif(X, y, n_neighbors=3, random_state=0) on the same
     values (scikit-learn widens them to float64; it is single-threaded);
     and the bare library call through cffi with everything prepared (the
     difference is what the bindings add). Scores are checked equal.
  2. the overhead of a trivial call through the bindings
     (lib.barlow_version_number through cffi: returns a constant) and of
     wrapping a numpy array without a copy (barlow.Matrix.wrap + free).

    /usr/bin/python3 bench/bench_bindings.py [--build build] [--n 1300] [--d 2048]
                                             [--repeats 9]
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_selection import mutual_info_classif

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_tree import best_of  # noqa: E402  (one timing helper for the benches)


def per_call(fn, n=200000):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("BARLOW_BUILD_DIR", "build"))
    ap.add_argument("--n", type=int, default=1300)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=9)
    a = ap.parse_args()
    os.environ.setdefault("BARLOW_LIBRARY", str(Path(a.build).resolve() / "lib" / "libbarlow.so"))
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    import barlow

    from bench_selector import make_data  # the data of the selector benchmark
    X, y = make_data(a.n, a.d, 0)
    X, y = np.ascontiguousarray(X, np.float32), y.astype(np.uint8)
    print(f"libbarlow {barlow.__version__} ({barlow.library_path}), n={a.n} d={a.d}, "
          f"best of {a.repeats}")
    def cold():  # a fresh selector draws the tie-breaking noise, as every sklearn call does
        with barlow.Selector(n_neighbors=3, seed=0, threads=1) as fresh:
            return fresh.score(X, y)
    t_cold, _ = best_of(a.repeats, cold)
    sel = barlow.Selector(n_neighbors=3, seed=0, threads=1)
    t_py, ours = best_of(a.repeats, lambda: sel.score(X, y))
    t_sk, ref = best_of(1, lambda: mutual_info_classif(X, y, n_neighbors=3, random_state=0))
    same = np.array_equal(ours, ref)
    maxdiff = float(np.max(np.abs(ours - ref)))
    print(f"sklearn mutual_info_classif:          {t_sk * 1e3:9.2f} ms")
    print(f"Selector.score from Python, 1 thread, a selector reused (noise kept):")
    print(f"                                      {t_py * 1e3:9.2f} ms  ratio {t_sk / t_py:6.1f}x "
          f"(scores {'bit-identical' if same else f'max |diff| {maxdiff:.3g}'})")
    print(f"  the same with a fresh selector (draws the noise):")
    print(f"                                      {t_cold * 1e3:9.2f} ms  ratio {t_sk / t_cold:6.1f}x")

    # the same library call with everything prepared: what the bindings add
    from barlow import _array
    m = barlow.Matrix.wrap(X)
    scores = np.empty(a.d, np.float64)
    yp, sp = _array.ptr("uint8_t", y), _array.ptr("double", scores)
    t_raw, _ = best_of(a.repeats, lambda: barlow.lib.barlow_selector_score(sel.ptr, m.ptr, yp, sp))
    print(f"the bare C call through cffi:         {t_raw * 1e3:9.2f} ms "
          f"(ratio sklearn / C: {t_sk / t_raw:.1f}x)")
    print(f"bindings' share of Selector.score:    {(t_py - t_raw) * 1e6:9.1f} us")

    t_trivial = per_call(barlow.lib.barlow_version_number)
    t_wrap = per_call(lambda: barlow.Matrix.wrap(X).close(), 20000)
    print(f"trivial call (barlow_version_number): {t_trivial * 1e9:9.0f} ns")
    print(f"Matrix.wrap(X) + close, no copy:      {t_wrap * 1e6:9.2f} us")

if __name__ == "__main__":
    main()
