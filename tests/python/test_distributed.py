"""barlow.distributed on a localhost LocalCluster of 2 worker processes
(loopback only): sharded extraction and analysis equal the single-process
results bit for bit; a worker killed mid-extraction leaves, after the
retry, a complete manifest with every row exactly once and no temporary
file; cancelling stops the shards."""
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import BUILD, ROOT

os.environ.setdefault("BARLOW_BUILD_DIR", str(BUILD))
sys.path.insert(0, str(ROOT / "bindings" / "python"))
barlow = pytest.importorskip("barlow")
distributed = pytest.importorskip("distributed")
import barlow.distributed as bd  # noqa: E402

MODELS = ROOT / "models"
FM = Path("/usr/share/datasets/fashion-mnist")
IMAGES, LABELS = FM / "t10k-images-idx3-ubyte.gz", FM / "t10k-labels-idx1-ubyte.gz"
OPTS = {"threads": 1, "batch_size": 64}


@pytest.fixture(scope="module")
def client():
    if not barlow.has_torch() or not IMAGES.exists():
        pytest.skip("needs libtorch and dataset-fashion-mnist")
    # the workers find the library as this process does
    env = {"BARLOW_BUILD_DIR": os.environ["BARLOW_BUILD_DIR"],
           "PYTHONPATH": str(ROOT / "bindings" / "python")}
    os.environ.update(env)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def dataset():
    return barlow.Dataset.from_idx(IMAGES, LABELS, class_names=MODELS / "fmnist_classes.txt")


@pytest.fixture(scope="module")
def single(dataset):
    """The single-process reference: predictions and features."""
    ds = barlow.Dataset.from_idx(IMAGES, LABELS, class_names=MODELS / "fmnist_classes.txt")
    px = barlow.Extractor(MODELS / "fmnist_standard.pt", input_size=28, resize=0, channels=1,
                          outputs=("logits",), **OPTS)
    px.predict(ds, progress=False)
    ex = barlow.Extractor(MODELS / "fmnist_robust.pt", input_size=28, resize=0, channels=1,
                          **OPTS)
    return ds, ex.extract(ds, progress=False)


def test_dataset_pickles_as_recipe(dataset):
    import pickle
    ds2 = pickle.loads(pickle.dumps(dataset))
    assert ds2.class_names == dataset.class_names and np.array_equal(ds2.labels, dataset.labels)
    arr = barlow.Dataset.from_arrays([0, 1, 1], [1, 1, 0])
    arr2 = pickle.loads(pickle.dumps(arr))
    assert list(arr2.predictions) == [1, 1, 0]


def test_extract_and_analyze_equal_single_process(client, dataset, single, tmp_path):
    ds, ref = single
    manifest = bd.extract(dataset, MODELS / "fmnist_robust.pt", client, shards=5,
                          out_dir=tmp_path, predict=MODELS / "fmnist_standard.pt", **OPTS)
    X = barlow.Matrix.open_manifest(manifest)
    assert np.array_equal(X.numpy(), ref.features.numpy())
    assert np.array_equal(barlow.load_member(manifest, "predictions"), ds.predictions)
    assert np.array_equal(barlow.load_member(manifest, "index"), np.arange(len(ds)))
    assert len(json.loads(Path(manifest).read_text())["shards"]) == 5
    a = bd.analyze(manifest, client, k=10, depths=(1, 2))
    b = barlow.analyze(ref.features, ds, k=10, depths=(1, 2), progress=False)
    assert a.to_json() == b.to_json()
    a3 = bd.analyze(manifest, client, k=10, depths=(1,), groups_per_task=3, by="label")
    b3 = barlow.analyze(ref.features, ds, k=10, depths=(1,), by="label", progress=False)
    assert a3.to_json() == b3.to_json()


def executing(client):
    return client.run(lambda dask_worker: (os.getpid(), len(dask_worker.state.executing)))


def test_killed_worker_retried(client, dataset, single, tmp_path):
    """SIGKILL of a worker while it runs a shard: Dask retries the shard
    (the nanny restarts the worker); the manifest is complete, each row once."""
    ds, ref = single
    job = bd.extract_async(dataset, MODELS / "fmnist_robust.pt", client, shards=8,
                           out_dir=tmp_path, predict=MODELS / "fmnist_standard.pt",
                           **dict(OPTS, batch_size=16))
    victim = None
    deadline = time.time() + 60
    while victim is None and time.time() < deadline:
        for pid, n in executing(client).values():
            if n:
                victim = pid
                break
        time.sleep(0.01)
    assert victim is not None, "no shard ever ran"
    os.kill(victim, signal.SIGKILL)
    manifest = job.result(timeout=240)
    idx = barlow.load_member(manifest, "index")
    assert np.array_equal(idx, np.arange(len(ds)))  # every row, exactly once
    assert np.array_equal(barlow.Matrix.open_manifest(manifest).numpy(), ref.features.numpy())
    assert not list(tmp_path.glob("*.tmp-*"))
    client.wait_for_workers(2, timeout=60)


def test_cancel_stops_shards(client, dataset, tmp_path):
    job = bd.extract_async(dataset, MODELS / "fmnist_robust.pt", client, shards=4,
                           out_dir=tmp_path, **dict(OPTS, batch_size=8))
    deadline = time.time() + 60
    while not any(n for _, n in executing(client).values()) and time.time() < deadline:
        time.sleep(0.01)
    job.cancel()
    t0 = time.time()
    while any(n for _, n in executing(client).values()) and time.time() - t0 < 30:
        time.sleep(0.05)
    assert not any(n for _, n in executing(client).values())
    # the library stopped the running shard within a batch: no shard the
    # cancel interrupted was written, and no temporary file stays behind
    time.sleep(0.5)
    assert not list(tmp_path.glob("*.tmp-*"))
    assert len(list(tmp_path.glob("shard-*.npz"))) < 4
