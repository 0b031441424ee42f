#!/usr/bin/python3
"""Sharded extraction and analysis on Dask against the single-process CLI,
in one run (issue 14; docs/scale.md):

  1. `barlow extract` of the Fashion-MNIST training split (60 000 images)
     through the shipped robust model with the standard model's predictions,
     in one process (threads = all cores);
  2. barlow.distributed.extract of the same on a localhost LocalCluster of
     1 worker process (threads = all cores) and of 2 worker processes (1
     thread each), shards = 4 per worker thread;
  3. `barlow analyze` of the extraction (label and prediction groupings,
     k = 20, depths 1 and 2) against barlow.distributed.analyze of the
     manifest on the same clusters.

Prints images/s and groups/s and the ratios to the single process; checks
that every distributed result equals the single-process one (features bit
for bit, the analysis JSON byte for byte).

    /usr/bin/python3 bench/bench_distributed.py [--build build] [--n 60000]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FM = Path("/usr/share/datasets/fashion-mnist")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--split", default="train", choices=["train", "t10k"])
    a = ap.parse_args()
    os.environ["BARLOW_BUILD_DIR"] = str(Path(a.build).resolve())
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    import barlow
    import barlow.distributed as bd
    from distributed import Client, LocalCluster

    images, labels = FM / f"{a.split}-images-idx3-ubyte.gz", FM / f"{a.split}-labels-idx1-ubyte.gz"
    models = ROOT / "models"
    cores = barlow.cpu_count()
    tmp = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    cli = Path(a.build) / "programs" / "barlow" / "barlow"
    try:
        t0 = time.perf_counter()
        subprocess.run([str(cli), "extract", "--model", str(models / "fmnist_robust.pt"),
                        "--predict", str(models / "fmnist_standard.pt"), "--idx", str(images),
                        "--idx-labels", str(labels), "--class-names",
                        str(models / "fmnist_classes.txt"), "--quiet", "--out",
                        str(tmp / "whole.npz")], check=True)
        t_cli = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([str(cli), "analyze", "--features", str(tmp / "whole.npz"), "--labels",
                        f"{tmp / 'whole.npz'}:labels", "--predictions",
                        f"{tmp / 'whole.npz'}:predictions", "--depth", "1,2", "--quiet",
                        "--out", str(tmp / "whole.json")], check=True)
        t_cli_an = time.perf_counter() - t0
        n = int(np.load(tmp / "whole.npz")["index"].shape[0])
        whole = np.load(tmp / "whole.npz")["features"]
        ref = json.loads((tmp / "whole.json").read_text())
        groups = len(ref["groups"])
        print(f"{n} images, {groups} groups, {cores} cores")
        print(f"{'':34s} {'extract img/s':>14s} {'ratio':>6s} {'analyze groups/s':>17s} "
              f"{'ratio':>6s}  equal")
        print(f"{'barlow CLI, 1 process':34s} {n / t_cli:14.0f} {1.0:6.2f} "
              f"{groups / t_cli_an:17.2f} {1.0:6.2f}")
        ds = barlow.Dataset.from_idx(images, labels, class_names=models / "fmnist_classes.txt")
        for workers, threads in ((1, cores), (2, max(1, cores // 2))):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                client.run(lambda: None)  # workers up
                out = tmp / f"w{workers}"
                t0 = time.perf_counter()
                manifest = bd.extract(ds, models / "fmnist_robust.pt", client,
                                      shards=4 * workers, out_dir=out,
                                      predict=models / "fmnist_standard.pt", threads=threads)
                t_ex = time.perf_counter() - t0
                X = barlow.Matrix.open_manifest(manifest)
                same_x = np.array_equal(X.numpy(), whole)
                t0 = time.perf_counter()
                an = bd.analyze(manifest, client, depths=(1, 2), threads=threads)
                t_an = time.perf_counter() - t0
                doc = json.loads(an.to_json())
                same_a = doc == ref
                print(f"{f'Dask, {workers} worker(s) x {threads} thread(s)':34s} "
                      f"{n / t_ex:14.0f} {t_cli / t_ex:6.2f} {groups / t_an:17.2f} "
                      f"{t_cli_an / t_an:6.2f}  features {same_x}, analysis {same_a}")
                if not (same_x and same_a):
                    return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
