"""barlow.distributed: sharded extraction and analysis on a Dask cluster
(Debian's python3-distributed; docs/scale.md).

    from dask.distributed import Client
    import barlow, barlow.distributed as bd

    client = Client("scheduler:8786")          # or LocalCluster()
    ds = barlow.Dataset.from_csv("meta.csv", image_root="/data/imagenet")
    manifest = bd.extract(ds, "robust.pt", client, shards=64,
                          out_dir="/shared/features", predict="inspected.pt")
    result = bd.analyze(manifest, client, k=20, depths=(1, 2))
    result.save_json("analysis.json")         # == barlow.analyze on one machine

Extraction: one task per shard (:func:`barlow.shard_range` of the rows,
aligned to the batch size), each running the C extractor on a worker and
writing its shard with :meth:`Extraction.save_shard` — to a temporary name,
renamed when complete — so a task retried after its worker died neither
loses nor duplicates rows; then :func:`barlow.merge_shards` checks the
shards and writes the manifest. Analysis: the groups of the whole-dataset
analysis as tasks (``barlow.analyze(..., groups=range(a, b))``), each mapping the
shards (:meth:`Matrix.open_manifest`) and reading only its rows; the parts
are merged into one :class:`Analysis`, equal to ``barlow.analyze`` on one
machine bit for bit.

Datasets travel to the workers as the recipe they were made with (paths,
class names, predictions: see :class:`Dataset`), so the files must be at
the same paths there (a shared file system), as must the models and
out_dir. Progress: Dask's own (the dashboard, or
``distributed.progress(job.futures)``); cancelling the futures
(``job.cancel()``) stops the running shards within one batch (the library's
cancel) and leaves no partial shard.
"""
import glob
import os
import uuid

import numpy as np

from .analysis import Analysis, analyze as _analyze, count_groups
from .dataset import Dataset
from .errors import Cancelled
from .extractor import Extractor
from .matrix import Matrix
from .shards import load_member, merge_shards, shard_range

__all__ = ["extract", "extract_async", "analyze", "ShardedExtraction"]

# ---------------------------------------------------------------- workers

_CACHE = {}  # per worker process: extractors and mapped manifests


def _cached(key, make):
    v = _CACHE.get(key)
    if v is None:
        v = _CACHE[key] = make()
    return v


def _cancelled_check():
    """A progress callback that cancels the library call once Dask no
    longer wants the task that runs it (its future was cancelled or
    released); a no-op outside a Dask worker."""
    try:
        from distributed import get_worker
        worker = get_worker()
        key = worker.get_current_task()
    except (ImportError, ValueError, AttributeError):
        return False

    def check(done, total):
        ts = worker.state.tasks.get(key)
        return ts is None or ts.state not in ("executing", "long-running")
    return check


def _extractor(model, options, outputs):
    opts = dict(options, outputs=outputs)
    key = ("extractor", os.fspath(model), tuple(sorted((k, repr(v)) for k, v in opts.items())))
    return _cached(key, lambda: Extractor(model, **opts))


def _extract_shard(dataset, model, predict, index, count, path, options, logits):
    """One shard: predictions (when a classifier is given) and features of
    its rows, written to `path` atomically. Runs on a worker."""
    ex = _extractor(model, options, ("features", "logits") if logits else ("features",))
    begin, end = shard_range(len(dataset), index, count, ex.batch_size)
    cancel = _cancelled_check()
    psha = None
    if predict is not None:
        px = _extractor(predict, options, ("logits",))
        px.predict_range(dataset, begin, end, progress=cancel)
        psha = px.model_sha256
    r = ex.extract_range(dataset, begin, end, progress=cancel)
    r.save_shard(path, index, count, dataset=dataset, extractor=ex, predict_sha256=psha)
    return {"path": path, "index": index, "rows": (begin, end), "extracted": r.count,
            "failed": [(f.row, f.status_name, f.reason) for f in r.failed]}


def _analyze_part(manifest, labels, predictions, class_names, first, count, options):
    """Groups first..first+count-1 of the analysis of the manifest's
    features. Runs on a worker; maps the shards once per process."""
    st = os.stat(manifest)
    X = _cached(("manifest", os.path.realpath(manifest), st.st_mtime_ns, st.st_size),
                lambda: Matrix.open_manifest(manifest))
    return _analyze(X, labels, predictions, class_names=class_names,
                    groups=range(first, first + count),
                    progress=_cancelled_check() or False, **options)


# ---------------------------------------------------------------- extraction

class ShardedExtraction:
    """A sharded extraction in flight: ``futures`` (one per shard, for
    ``distributed.progress`` or the dashboard), ``cancel()``, and
    ``result()``: waits, checks the shards, writes the manifest and returns
    its path."""

    def __init__(self, client, futures, paths, manifest, out_dir):
        self.client, self.futures, self.paths = client, futures, paths
        self.manifest, self.out_dir = manifest, out_dir
        self.shards = None

    def cancel(self):
        self.client.cancel(self.futures)

    def result(self, timeout=None):
        self.shards = self.client.gather(self.futures) if timeout is None else \
            [f.result(timeout=timeout) for f in self.futures]
        # Temporaries of attempts whose worker died (a finished attempt
        # renamed its own): nothing else writes these names now.
        for p in self.paths:
            for tmp in glob.glob(glob.escape(p) + ".tmp-*"):
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
        return merge_shards(self.paths, self.manifest)


def extract_async(dataset, model, client, shards=None, out_dir="features", *, predict=None,
                  logits=False, manifest=None, **options):
    """Starts a sharded extraction; returns a :class:`ShardedExtraction`.

    dataset: a :class:`Dataset` made by a ``from_*`` constructor (it is
    rebuilt on the workers from its files). model, predict: paths of the
    feature model and (optional) the classifier whose argmax becomes the
    predictions. shards: the number of shards (default: 4 per worker
    thread). out_dir: where the shards and the manifest go
    (``shard-IIIII-of-NNNNN.npz``, ``features.manifest.json``; manifest=
    another path). options: :class:`Extractor`'s (input_size, resize,
    channels, batch_size, threads ...); for an IDX dataset input_size,
    resize and channels default to its images' (as ``barlow extract
    --idx``)."""
    from .extractor import _dataset_input_defaults
    for k, v in _dataset_input_defaults(dataset).items():
        options.setdefault(k, v)
    n = len(dataset)
    if shards is None:
        threads = sum(client.nthreads().values()) or 1
        shards = 4 * threads
    batch = options.get("batch_size", 32)
    shards = max(1, min(int(shards), -(-n // batch)))
    shard_range(n, 0, shards, batch)  # checks the count before any task runs
    os.makedirs(out_dir, exist_ok=True)
    model = os.path.abspath(os.fspath(model))
    predict = None if predict is None else os.path.abspath(os.fspath(predict))
    run = uuid.uuid4().hex[:12]
    paths = [os.path.abspath(os.path.join(out_dir, f"shard-{i:05d}-of-{shards:05d}.npz"))
             for i in range(shards)]
    futures = [client.submit(_extract_shard, dataset, model, predict, i, shards, paths[i],
                             options, logits, key=f"barlow-shard-{i}-of-{shards}-{run}")
               for i in range(shards)]
    manifest = manifest or os.path.join(out_dir, "features.manifest.json")
    return ShardedExtraction(client, futures, paths, manifest, out_dir)


def extract(dataset, model, client, shards=None, out_dir="features", **kwargs):
    """Runs :func:`extract_async` to the end; returns the manifest's path."""
    return extract_async(dataset, model, client, shards, out_dir, **kwargs).result()


# ---------------------------------------------------------------- analysis

def analyze(manifest, client, labels=None, predictions=None, *, class_names=None,
            groups_per_task=1, **options):
    """The whole-dataset analysis of a manifest's features on the cluster;
    returns an :class:`Analysis` equal to ``barlow.analyze(
    Matrix.open_manifest(manifest), labels, predictions, ...)``.

    labels, predictions: n class ids (default: the shards' labels and
    predictions members); class_names: default the shards'. options:
    :func:`barlow.analyze`'s (by, k, depths, seed, estimator ...;
    threads applies per task). groups_per_task: groups computed by one
    task."""
    manifest = os.path.abspath(os.fspath(manifest))
    if labels is None or class_names is None:
        ds = Dataset.from_npz(manifest)
        labels = ds.labels.copy() if labels is None else labels
        class_names = ds.class_names if class_names is None else class_names
        if predictions is None:
            predictions = ds.predictions
    if predictions is None:
        predictions = load_member(manifest, "predictions")
    labels = np.ascontiguousarray(labels, np.int32)
    predictions = np.ascontiguousarray(predictions, np.int32)
    options.pop("progress", None)
    total = count_groups(labels, predictions, class_names=class_names,
                         by=options.get("by", ("label", "prediction")))
    per = max(1, int(groups_per_task))
    lab, pred = client.scatter([labels, predictions], broadcast=True)
    futures = [client.submit(_analyze_part, manifest, lab, pred, class_names, first,
                             min(per, total - first), options, pure=False)
               for first in range(0, total, per)]
    try:
        parts = client.gather(futures)
    except Cancelled:
        client.cancel(futures)
        raise
    return Analysis.merge(parts)
