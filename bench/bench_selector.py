#!/usr/bin/python3
"""Times scikit-learn's mutual_info_classif and libbarlow's selector side by
side on the same data and checks that they agree.

    /usr/bin/python3 bench/bench_selector.py [--build build] [--sizes 50,1300,13000]
                                             [--d 2048] [--subset 64]

For each n it writes n x d ReLU-like float32 features (about half exact
zeros, per-column scales, a few informative columns) with 25% failures to a
temporary .npy pair, runs bench/bench_selector on it (libbarlow single-
threaded and on all cores; best of 3) and times
mutual_info_classif(X, y, n_neighbors=3, random_state=0) on the same values
widened to float64 (scikit-learn is single-threaded here).

When sklearn would take too long (n*d above --full-limit, default
1300*2048), it is timed on --subset columns only: the matrix is
preprocessed exactly as mutual_info_classif does (the noise depends on the
full shape) and scikit-learn's own per-column _compute_mi_cd runs on the
subset; its time is extrapolated linearly to d columns and the output says
so. Agreement is checked on the columns scikit-learn computed.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_selection import mutual_info_classif
from sklearn.feature_selection._mutual_info import _compute_mi_cd
from sklearn.preprocessing import scale


def make_data(n, d, seed):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.25
    X = np.maximum(rng.standard_normal((n, d)) - 0.1, 0) * rng.uniform(0.2, 3.0, d)
    X[:, :16] += y[:, None] * rng.uniform(0.05, 0.8, 16)
    return X.astype(np.float32), y


def sklearn_subset(X64, y, cols):
    """mutual_info_classif's preprocessing on the full matrix, then its
    per-column estimator on `cols`; returns (scores, seconds for the
    columns)."""
    Xs = scale(X64, with_mean=False)
    means = np.maximum(1, np.mean(np.abs(Xs), axis=0))
    Xs = Xs + 1e-10 * means * np.random.RandomState(0).standard_normal(size=Xs.shape)
    t0 = time.perf_counter()
    out = np.array([max(0, _compute_mi_cd(Xs[:, j], y, 3)) for j in cols])
    return out, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.environ.get("BARLOW_BUILD_DIR", "build"))
    ap.add_argument("--sizes", default="50,1300,13000")
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--subset", type=int, default=64)
    ap.add_argument("--full-limit", type=int, default=1300 * 2048)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    exe = Path(args.build) / "bench" / "bench_selector"
    if not exe.exists():
        sys.exit(f"{exe} is not built (ninja -C {args.build} bench/bench_selector)")

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            d = args.d
            X, y = make_data(n, d, seed=n)
            fx, fy, fs = Path(tmp) / "X.npy", Path(tmp) / "y.npy", Path(tmp) / "s.npy"
            np.save(fx, X)
            np.save(fy, y)
            p = subprocess.run([str(exe), str(fx), str(fy), str(args.repeats), str(fs)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(p.stderr)
            b = json.loads(p.stdout)
            ours = np.load(fs)

            X64, yi = X.astype(np.float64), y.astype(np.int64)
            if n * d <= args.full_limit:
                t0 = time.perf_counter()
                ref = mutual_info_classif(X64, yi, n_neighbors=3, random_state=0)
                t_sk = time.perf_counter() - t0
                cols = np.arange(d)
                note = "full"
            else:
                cols = np.sort(np.random.default_rng(1).choice(d, args.subset, replace=False))
                ref, t_cols = sklearn_subset(X64, yi, cols)
                t_sk = t_cols * d / len(cols)
                note = f"extrapolated from {len(cols)} columns"
            diff = np.abs(ours[cols] - ref)
            top_ok = "-"
            if len(cols) == d:
                k = 20
                to = np.argsort(-ours, kind="stable")[:k]
                tr = np.argsort(-ref, kind="stable")[:k]
                top_ok = str(all(a == b_ or abs(ref[a] - ref[b_]) < 1e-6
                                 for a, b_ in zip(to, tr)))
            rows.append((n, d, t_sk, note, b, diff.max(), float(np.mean(diff == 0)), top_ok))
            print(f"n={n}: sklearn {t_sk:.3f} s ({note}); libbarlow 1 thread "
                  f"{b['warm_1t']:.4f} s (cold {b['cold_1t']:.4f} s), {b['threads']} threads "
                  f"{b['warm_all']:.4f} s; max |diff| {diff.max():.2g}", flush=True)

    print()
    print(f"{'n':>6} {'d':>5} {'sklearn s':>10} {'barlow 1t s':>12} {'x 1t':>8} "
          f"{'cold 1t s':>10} {'barlow all s':>13} {'x all':>8} {'us/col 1t':>9} "
          f"{'max|diff|':>9} {'bit-equal':>9} {'top20':>6}  sklearn timing")
    for n, d, t_sk, note, b, md, eq, top_ok in rows:
        print(f"{n:>6} {d:>5} {t_sk:>10.3f} {b['warm_1t']:>12.4f} {t_sk / b['warm_1t']:>8.0f} "
              f"{b['cold_1t']:>10.4f} {b['warm_all']:>13.4f} {t_sk / b['warm_all']:>8.0f} "
              f"{b['us_per_column_1t']:>9.1f} {md:>9.1g} {eq:>9.3f} {top_ok:>6}  {note}")
    print(f"\nthreads for 'all': {rows[0][4]['threads']}; load average at end "
          f"{os.getloadavg()[0]:.2f}")
    print("'x' = sklearn time / libbarlow time; '1t' times reuse the selector's cached "
          "noise (the per-group cost in an analysis), 'cold' includes drawing it.")


if __name__ == "__main__":
    main()
