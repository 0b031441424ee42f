"""Sharded feature stores (include/barlow/shards.h, docs/scale.md).

One dataset's features extracted in N pieces, by any scheduler, then joined
by a small manifest and read back as one matrix without loading it:

    begin, end = barlow.shard_range(len(ds), i, n, ex.batch_size)
    ex.extract_range(ds, begin, end).save_shard(f"shard-{i}.npz", i, n)
    ...                                      # every i of n, anywhere
    barlow.merge_shards(paths, "features.manifest.json")
    X = barlow.Matrix.open_manifest("features.manifest.json")   # mapped
    labels = barlow.load_member("features.manifest.json", "labels")

:mod:`barlow.distributed` runs the same on a Dask cluster.
"""
import os

import numpy as np

from ._ffi import ffi, lib, path_bytes
from ._handle import new_handle
from .errors import check

__all__ = ["shard_range", "parse_shard", "merge_shards", "is_manifest", "load_member"]

_DTYPES = {lib.BARLOW_DTYPE_FLOAT32: np.float32, lib.BARLOW_DTYPE_FLOAT64: np.float64,
           lib.BARLOW_DTYPE_INT32: np.int32, lib.BARLOW_DTYPE_INT64: np.int64,
           lib.BARLOW_DTYPE_BOOL: np.bool_, lib.BARLOW_DTYPE_UINT8: np.uint8}


def shard_range(n_rows, index, count, align=1):
    """(begin, end): the rows of shard `index` (0-based) of `count` —
    contiguous, every boundary a multiple of `align` (the extractor's batch
    size: then the features equal a whole extraction's bit for bit)."""
    b, e = ffi.new("size_t *"), ffi.new("size_t *")
    check(lib.barlow_shard_range(n_rows, index, count, align, b, e))
    return (b[0], e[0])


def parse_shard(text):
    """"i/N" → (i, N); raises InvalidArgument for 0/0, 3/2, "x" ..."""
    i, n = ffi.new("size_t *"), ffi.new("size_t *")
    check(lib.barlow_shard_parse(text.encode(), i, n))
    return (i[0], n[0])


def merge_shards(paths, out):
    """Checks the shard files (complete, disjoint, same model and options)
    and writes the manifest `out` (atomically); returns out."""
    keep = [ffi.new("char[]", path_bytes(p)) for p in paths]
    arr = ffi.new("char *[]", keep)
    check(lib.barlow_shards_merge(ffi.cast("const char *const *", arr), len(keep),
                                  path_bytes(out)))
    return os.fspath(out)


def is_manifest(path):
    """True when `path` is a manifest (cheap; never raises)."""
    return bool(lib.barlow_manifest_probe(path_bytes(path)))


def load_member(path, name):
    """Member `name` of an extraction file — an .npz, or a manifest (the
    shards' members joined in dataset order) — as a new numpy array."""
    fn = lib.barlow_array_load_manifest if is_manifest(path) else lib.barlow_array_load_npz
    a = new_handle("barlow_array", fn, path_bytes(path), name.encode())
    try:
        shape = tuple(lib.barlow_array_dim(a, k) for k in range(lib.barlow_array_ndim(a)))
        dtype = np.dtype(_DTYPES[lib.barlow_array_dtype(a)])
        n = lib.barlow_array_size(a)
        buf = ffi.buffer(lib.barlow_array_data(a), n * dtype.itemsize) if n else b""
        return np.frombuffer(buf, dtype).copy().reshape(shape)
    finally:
        lib.barlow_array_free(a)
