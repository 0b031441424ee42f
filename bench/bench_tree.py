#!/usr/bin/python3
"""One group, side by side with the reference stack (issue 3, benchmark 1):
n=1300, d=2048 ReLU-like float32 features, 25% failures; top-20 by mutual
information, then a failure tree of depth 1, 2 and 3.

    /usr/bin/python3 bench/bench_tree.py [--build build] [--n 1300] [--d 2048]
                                         [--k 20] [--repeats 3]

Reference (the paper's pipeline): mutual_info_classif(X, y, n_neighbors=3,
random_state=0) on all columns, argsort, then DecisionTreeClassifier(
criterion="entropy", max_depth=D, class_weight={0: 1, 1: n_correct/n_failed})
on the top-k columns. libbarlow: bench/bench_tree (barlow_selector_top_k on
one thread + barlow_tree_fit). Times are best of --repeats, wall seconds.
Also times both trees on all d columns, and checks that the root splits
agree (feature and threshold)."""
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
from sklearn.tree import DecisionTreeClassifier


def make_data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.25
    X = np.maximum(rng.standard_normal((n, d)) - 0.1, 0) * rng.uniform(0.2, 3.0, d)
    X[:, :16] += y[:, None] * rng.uniform(0.05, 0.8, 16)
    return X.astype(np.float32), y.astype(np.uint8)


def best_of(repeats, fn):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("BARLOW_BUILD_DIR", "build"))
    ap.add_argument("--n", type=int, default=1300)
    ap.add_argument("--d", type=int, default=2048)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    exe = Path(args.build) / "bench" / "bench_tree"
    if not exe.exists():
        sys.exit(f"bench_tree.py: {exe} is not built")
    X, y = make_data(args.n, args.d)
    nf = int(y.sum())
    cw = {0: 1, 1: (len(y) - nf) / nf}
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "X.npy", X)
        np.save(Path(tmp) / "y.npy", y)
        out = subprocess.run([str(exe), str(Path(tmp) / "X.npy"), str(Path(tmp) / "y.npy"),
                              str(args.k), str(args.repeats)],
                             check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)

    t_mi, mi = best_of(args.repeats, lambda: mutual_info_classif(
        X, y, n_neighbors=3, random_state=0))
    top = np.argsort(-mi, kind="stable")[:args.k]
    rows = []
    for dep in ours["depths"]:
        D = dep["depth"]
        t_tree, sk = best_of(args.repeats, lambda: DecisionTreeClassifier(
            criterion="entropy", max_depth=D, class_weight=cw).fit(X[:, top], y))
        t_all, _ = best_of(max(1, args.repeats - 1), lambda: DecisionTreeClassifier(
            criterion="entropy", max_depth=D, class_weight=cw).fit(X, y))
        root_f = int(top[sk.tree_.feature[0]]) if sk.tree_.node_count > 1 else -1
        same_root = (root_f == dep["root_feature"]
                     and sk.tree_.threshold[0] == dep["root_threshold"])
        same_top = sorted(top.tolist()) == sorted(ours["top"])
        rows.append({
            "depth": D,
            "reference_s": t_mi + t_tree, "libbarlow_s": dep["pipeline_s"],
            "ratio": (t_mi + t_tree) / dep["pipeline_s"],
            "reference_tree_topk_s": t_tree, "libbarlow_tree_topk_s": dep["tree_topk_s"],
            "reference_tree_all_s": t_all, "libbarlow_tree_all_s": dep["tree_all_s"],
            "tree_all_ratio": t_all / dep["tree_all_s"],
            "same_top_k": same_top, "same_root_split": bool(same_root),
        })
    report = {"n": args.n, "d": args.d, "k": args.k,
              "reference_mi_s": t_mi, "libbarlow_select_s": ours["select_s"],
              "load_average": os.getloadavg()[0], "depths": rows}
    print(json.dumps(report, indent=1))
    print(f"\nn={args.n} d={args.d} top-{args.k} (load average {os.getloadavg()[0]:.1f}):")
    print(f"  MI top-k: reference {t_mi:.3f} s, libbarlow {ours['select_s']:.3f} s")
    print("  depth  reference(s)  libbarlow(s)  ratio   tree on all d: ref(s)  ours(s)  ratio")
    for r in rows:
        print(f"  {r['depth']:5d}  {r['reference_s']:12.3f}  {r['libbarlow_s']:12.4f}  "
              f"{r['ratio']:5.0f}x   {r['reference_tree_all_s']:20.3f}  "
              f"{r['libbarlow_tree_all_s']:7.4f}  {r['tree_all_ratio']:5.0f}x"
              f"{'' if r['same_root_split'] and r['same_top_k'] else '  (results differ!)'}")
    return 0 if all(r["same_root_split"] and r["same_top_k"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
