"""Python bindings of libbarlow: find out why an image classifier fails.

    import barlow
    result = barlow.analyze(features, labels, predictions, k=20, depths=(1, 2))

docs/python.md is the guide; every function mirrors one of the C API in
include/barlow/*.h (cffi, ABI mode: no compiler needed).
"""
from ._ffi import ffi, lib, library_path
from .progress import Progress
from .analysis import Analysis, analyze, count_groups
from .dataset import Dataset, Group
from .errors import (Backend, Cancelled, Error, Format, Internal, InvalidArgument,
                     IOFailure, NoMemory, State, Unsupported, check)
from .matrix import Matrix, as_matrix
from .shards import is_manifest, load_member, merge_shards, parse_shard, shard_range
from ._array import as_f32_2d, as_failures
from .selector import Selector, mutual_info, rank, top_k
from .tree import Tree, TreeEval, fit_tree
from .extractor import Extraction, Extractor, FailedRow, extract
from .visualizer import FeatureView, Image, Visualizer, render_heatmap
from .workflow import RunFailed, RunResults, run

__version__ = ffi.string(lib.barlow_version_string()).decode()


def cpu_count():
    """Processors this process may run on (what threads=0 uses)."""
    return lib.barlow_cpu_count()


def has_torch():
    """True when the feature extractor works (libtorch plugin loads)."""
    return bool(lib.barlow_has_torch())


__all__ = ["Analysis", "Backend", "Cancelled", "Dataset", "Error", "Format", "Group",
           "IOFailure", "Internal", "InvalidArgument", "Matrix", "NoMemory", "Progress",
           "Selector", "State", "Tree", "TreeEval", "Unsupported", "analyze", "as_f32_2d",
           "as_failures", "as_matrix", "check", "count_groups", "cpu_count", "fit_tree",
           "has_torch", "library_path", "mutual_info", "rank", "top_k", "__version__",
           "Extraction", "Extractor", "FailedRow", "extract", "FeatureView", "Image",
           "Visualizer", "render_heatmap", "RunFailed", "RunResults", "run",
           "is_manifest", "load_member", "merge_shards", "parse_shard", "shard_range"]
