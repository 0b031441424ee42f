"""barlow.analyze and barlow.Analysis (include/barlow/analysis.h): for every
class and grouping (label == c, prediction == c), the top-k features by
mutual information with failure, a failure tree per depth, and the paper's
automatic evaluation (the fraction of classes whose best leaf is valid:
ER >= BER + delta and EC >= gamma).

Groups, results and the evaluation come as dicts with the keys of the
analysis JSON (docs/formats.md, "Analysis JSON and CSV").

Distributed analysis: count_groups() gives the number of groups of the
plan, analyze(..., groups=range(first, stop)) computes those groups only
(the others are "pending"), Analysis.merge(parts) joins parts into the
whole analysis, and an Analysis (like a Tree) pickles through the
library's binary format, so that Dask or multiprocessing can ship it."""
import json
from html import escape

import numpy as np

from . import _array
from . import progress as _progress
from ._ffi import ffi, lib, path_bytes, take_buffer
from ._handle import Handle, new_handle, set_fields, struct_dict
from .dataset import GROUP_BY, GROUP_BY_NAME, Dataset
from .errors import check
from .matrix import as_matrix
from .selector import ESTIMATORS, _enum
from .tree import Tree, rule_options, tree_options

GROUPINGS = {"label": lib.BARLOW_ANALYSIS_BY_LABEL,
             "prediction": lib.BARLOW_ANALYSIS_BY_PREDICTION}
STATUS = {lib.BARLOW_ANALYSIS_ANALYSED: "analysed", lib.BARLOW_ANALYSIS_EMPTY: "empty",
          lib.BARLOW_ANALYSIS_NO_FAILURES: "no_failures",
          lib.BARLOW_ANALYSIS_NO_CORRECT: "no_correct",
          lib.BARLOW_ANALYSIS_TOO_SMALL: "too_small", lib.BARLOW_ANALYSIS_PENDING: "pending"}
NUMBERS = ("aler", "best_error_rate", "best_error_coverage", "best_importance")


def _groupings(by):
    by = (by,) if isinstance(by, str) else tuple(by)
    if not by or any(b not in GROUPINGS for b in by):
        raise ValueError(f"by must be 'label', 'prediction' or both; got {by!r}")
    return sum(GROUPINGS[b] for b in set(by))


def _dataset(labels, predictions, class_names):
    if isinstance(labels, Dataset):
        if predictions is not None or class_names is not None:
            raise ValueError("with a Dataset, its own predictions and class names are "
                             "used: set them on the dataset")
        return labels
    if predictions is None:
        raise ValueError("predictions are needed (failures are prediction != label)")
    return Dataset.from_arrays(labels, predictions, class_names)


def _group_range(groups):
    """(first, count) of a range of group indices (step 1); None: all."""
    if not isinstance(groups, range) or groups.step != 1:
        raise ValueError("groups must be a range of group indices with step 1, e.g. "
                         f"range(0, 10); got {groups!r}")
    if groups.start < 0 or len(groups) == 0:
        raise ValueError(f"groups must be a non-empty range from 0 up; got {groups!r}")
    return groups.start, len(groups)


def count_groups(labels, predictions=None, *, class_names=None, by=("label", "prediction")):
    """The number of groups analyze() makes for these labels and
    predictions (or a Dataset) and groupings `by`: classes present x
    groupings. No features are needed: a scheduler splits range(n) into
    the `groups` ranges of analyze() calls and merges the parts."""
    ds = _dataset(labels, predictions, class_names)
    o = ffi.new("barlow_analysis_options *")
    lib.barlow_analysis_options_init(o)
    o.groupings = _groupings(by)
    n = ffi.new("size_t *")
    check(lib.barlow_analysis_count_groups(ds.ptr, o, n))
    return n[0]


def analyze(features, labels, predictions=None, *, class_names=None,
            by=("label", "prediction"), k=20, depths=(1,), threads=0, seed=0, delta=0.1,
            gamma=0.2, progress=None, estimator="knn", n_neighbors=3, min_group_size=2,
            criterion="entropy", class_weight="reference", min_samples_split=2,
            min_samples_leaf=1, min_impurity_decrease=0.0, min_coverage=0.0,
            min_error_rate=0.0, max_p_value=1.0, groups=None):
    """Runs the whole-dataset analysis; returns an Analysis.

    features: n x d (a Matrix or float32 array, read in place). labels and
    predictions: n class ids (class_names optional), or labels may be a
    Dataset that has predictions. by: 'label', 'prediction' or both. k:
    features selected per group. depths: a depth or a list (one tree each).
    progress: as for every long call (barlow.progress: None draws a bar on
    a terminal or in Jupyter, False is silent, a callable(done, total)
    counts groups and cancels by returning true, a barlow.Progress can
    cancel from another thread; Ctrl-C cancels and raises
    KeyboardInterrupt). The tree keywords are fit_tree's; min_coverage,
    min_error_rate and max_p_value filter the rules (as Tree.rules).
    groups: None for every group, or a range of group indices (step 1,
    within range(count_groups(...))) to compute only those: a part of a
    distributed analysis, whose other groups are "pending" (no selection,
    no tree, left out of the evaluation) and which Analysis.merge() joins
    with the other parts. Only the rows of those groups are read from
    `features`. Each computed group equals the whole analysis' bit for bit.
    Results never depend on threads.
    """
    m = as_matrix(features)
    ds = _dataset(labels, predictions, class_names)
    span = None if groups is None else _group_range(groups)
    dep = np.atleast_1d(np.asarray(depths, dtype=np.int32))
    if len(dep) == 0:
        raise ValueError("depths is empty: give at least one tree depth")
    topts = tree_options(int(dep[0]), criterion, class_weight, min_samples_split,
                         min_samples_leaf, min_impurity_decrease)
    o = ffi.new("barlow_analysis_options *")
    lib.barlow_analysis_options_init(o)
    ropts = rule_options(min_coverage, min_error_rate, max_p_value)
    o.groupings, o.tree, o.rules = _groupings(by), topts, ropts
    o.estimator = _enum(ESTIMATORS, estimator, "estimator")
    o.depths, o.n_depths = _array.ptr("int32_t", dep), len(dep)
    set_fields(o, "analysis options", k=k, n_neighbors=n_neighbors, seed=seed,
               threads=threads, delta=delta, gamma=gamma, min_group_size=min_group_size)
    out = ffi.new("barlow_analysis **")
    with _progress.call(progress, "analyze", "groups") as c:
        if span is None:
            st = lib.barlow_analysis_run(m.ptr, ds.ptr, o, c.fn, c.user, out)
        else:
            st = lib.barlow_analysis_run_groups(m.ptr, ds.ptr, o, span[0], span[1], c.fn, c.user,
                                           out)
        res = Analysis(out[0]) if st == 0 else None
        c.finish(st)
    return res


def _analysis_from_bytes(data):
    return Analysis.from_bytes(data)


class Analysis(Handle):
    """The result of analyze(): groups, trees and the evaluation."""

    _free = "barlow_analysis_free"

    # -- parts, bytes, pickling -------------------------------------------------

    @classmethod
    def merge(cls, parts):
        """Joins the parts of one plan (analyze(..., groups=...) results, in
        any order, e.g. unpickled from other processes) into the Analysis
        that analyze() gives for every group: each group must be computed
        by exactly one part (InvalidArgument names a group computed twice
        or never, or what differs between parts of different plans). The
        result owns its memory: the parts may be closed afterwards."""
        parts = list(parts)
        if not parts or not all(isinstance(p, Analysis) for p in parts):
            raise ValueError("merge needs a non-empty list of barlow.Analysis parts")
        arr = ffi.new("barlow_analysis *[]", [p.ptr for p in parts])
        ptr = new_handle("barlow_analysis", lib.barlow_analysis_merge,
                         ffi.cast("const barlow_analysis *const *", arr), len(parts))
        return cls(ptr)

    def to_bytes(self):
        """The analysis in the library's versioned binary format
        (docs/formats.md, "Binary tree and analysis")."""
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_analysis_serialize(self.ptr, buf))
        return take_buffer(buf)

    @classmethod
    def from_bytes(cls, data):
        """An Analysis from to_bytes()'s bytes; the bytes are checked as
        hostile input (barlow.Format names what is wrong and where)."""
        data = bytes(data)
        ptr = new_handle("barlow_analysis", lib.barlow_analysis_deserialize,
                         ffi.from_buffer("char[]", data), len(data))
        return cls(ptr)

    def __reduce__(self):
        return (_analysis_from_bytes, (self.to_bytes(),))

    @property
    def group_count(self):
        return lib.barlow_analysis_group_count(self.ptr)

    def __len__(self):
        return self.group_count

    @property
    def depths(self):
        a = self.ptr
        return [lib.barlow_analysis_depth(a, j) for j in range(lib.barlow_analysis_depth_count(a))]

    def group(self, i):
        """Group i: grouping, class, name, size, failures, base_error_rate,
        status, selected_features, selection_scores, results (one per
        depth: depth, aler, best_leaf, best_error_rate, best_error_coverage,
        best_importance, valid, best_rule)."""
        g = ffi.new("barlow_analysis_group *", {"version": lib.BARLOW_ANALYSIS_GROUP_VERSION})
        check(lib.barlow_analysis_get_group(self.ptr, i, g))
        d = struct_dict(g)
        n = d.pop("n_selected")
        feats, scores = np.zeros(n, np.uintp), np.zeros(n, np.float64)
        check(lib.barlow_analysis_group_selection(self.ptr, i, _array.ptr("size_t", feats),
                                                  _array.ptr("double", scores)))
        out = {"index": i, "grouping": GROUP_BY_NAME[d["grouping"]], "class": d["class_id"],
               "name": d["class_name"], "size": d["size"], "failures": d["failures"],
               "base_error_rate": d["base_error_rate"], "status": STATUS[d["status"]],
               "selected_features": feats.astype(np.intp), "selection_scores": scores}
        out["results"] = [self._result(i, j, out["status"]) for j in range(len(self.depths))]
        return out

    def _result(self, i, j, status):
        r = ffi.new("barlow_analysis_result *", {"version": lib.BARLOW_ANALYSIS_RESULT_VERSION})
        check(lib.barlow_analysis_get_result(self.ptr, i, j, r))
        d = struct_dict(r)
        d["valid"] = bool(d["valid"])
        for k in ("best_leaf", "best_rule"):
            d[k] = None if d[k] < 0 else d[k]
        if status in ("empty", "pending"):  # as the JSON: no tree, no numbers
            d.update(dict.fromkeys(NUMBERS))
        return d

    @property
    def groups(self):
        return [self.group(i) for i in range(self.group_count)]

    def group_index(self, grouping, cls):
        """The index of the group of class `cls` (id or name) in `grouping`."""
        for i in range(self.group_count):
            g = ffi.new("barlow_analysis_group *",
                        {"version": lib.BARLOW_ANALYSIS_GROUP_VERSION})
            check(lib.barlow_analysis_get_group(self.ptr, i, g))
            name = ffi.string(g.class_name).decode("utf-8", "replace")
            if g.grouping == GROUP_BY[grouping] and cls in (g.class_id, name):
                return i
        raise KeyError(f"no {grouping} group of class {cls!r}")

    def tree(self, group, depth=None):
        """The tree of `group` (an index, or a (grouping, class) pair) at
        `depth` (default: the first depth analysed); None for an empty or
        pending group. The Tree keeps this analysis' memory alive."""
        i = self.group_index(*group) if isinstance(group, tuple) else group
        depths = self.depths
        if depth is not None and depth not in depths:
            raise ValueError(f"depth {depth} was not analysed (depths: {depths})")
        j = 0 if depth is None else depths.index(depth)
        if not 0 <= i < self.group_count:
            raise IndexError(f"group {i} is not in 0..{self.group_count - 1}")
        t = lib.barlow_analysis_group_tree(self.ptr, i, j)
        return None if t == ffi.NULL else Tree(t, keep=self._keep(), borrowed=True)

    @property
    def evaluation(self):
        """Per grouping and depth: groups (non-empty), valid, valid_fraction."""
        out = []
        for name, by in GROUP_BY.items():
            for j, depth in enumerate(self.depths):
                e = ffi.new("barlow_analysis_evaluation *",
                            {"version": lib.BARLOW_ANALYSIS_EVALUATION_VERSION})
                if lib.barlow_analysis_get_evaluation(self.ptr, by, j, e) == 0:
                    out.append({**struct_dict(e), "grouping": name})
        return out

    # -- export ---------------------------------------------------------------

    def to_json(self):
        """The analysis JSON text (docs/formats.md)."""
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_analysis_to_json(self.ptr, buf))
        return take_buffer(buf).decode("utf-8")

    def to_dict(self):
        return json.loads(self.to_json())

    def to_csv(self):
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_analysis_to_csv(self.ptr, buf))
        return take_buffer(buf).decode("utf-8")

    def save_json(self, path):
        check(lib.barlow_analysis_save_json(self.ptr, path_bytes(path)))

    def save_csv(self, path):
        check(lib.barlow_analysis_save_csv(self.ptr, path_bytes(path)))

    def records(self):
        """One flat dict per group and depth (the CSV's rows)."""
        rows = []
        for g in self.groups:
            base = {k: v for k, v in g.items()
                    if k not in ("results", "selected_features", "selection_scores")}
            rows += [{**base, **r} for r in g["results"]]
        return rows

    def to_dataframe(self):
        """records() as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Analysis.to_dataframe needs pandas; records() gives the "
                              "same rows as dicts") from None
        return pd.DataFrame(self.records())

    def _repr_html_(self):
        return None if self.closed else _html(self)

    def __repr__(self):
        if self.closed:
            return "<barlow.Analysis (closed)>"
        ev = ", ".join(f"{e['grouping']} depth {e['depth']}: {e['valid']}/{e['groups']} valid"
                       for e in self.evaluation)
        return f"<barlow.Analysis {self.group_count} groups; {ev}>"


def _cell(v):
    """(text, alignment) of a table cell."""
    if isinstance(v, bool):
        return ("yes" if v else "no"), "center"
    if isinstance(v, float):
        return f"{v:.3f}", "right"
    if isinstance(v, int):
        return str(v), "right"
    return escape("" if v is None else str(v)), "left"


def _table(head, rows):
    css = "padding:2px 8px;border-bottom:1px solid rgba(128,128,128,.4);text-align:"
    th = "".join(f'<th style="{css}center">{escape(h)}</th>' for h in head)
    trs = []
    for row, mark in rows:
        bg = ' style="background:rgba(46,160,67,.18)"' if mark else ""
        tds = "".join(f'<td style="{css}{align}">{text}</td>'
                      for text, align in map(_cell, row))
        trs.append(f"<tr{bg}>{tds}</tr>")
    return ('<table style="border-collapse:collapse;color:inherit;background:transparent">'
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(trs)}</tbody></table>")


def _html(a, top=20):
    """Overview: the evaluation, then the groups with the most important
    best leaf. Colours inherit the notebook theme (light or dark); valid
    rows are tinted with a translucent green."""
    ev = [((e["grouping"], e["depth"], e["groups"], e["valid"], e["valid_fraction"]), False)
          for e in a.evaluation]
    rows = [r for r in a.records() if r["best_importance"] is not None]
    rows.sort(key=lambda r: -r["best_importance"])
    head = ("grouping", "class", "name", "depth", "size", "failures", "BER", "ALER",
            "best leaf", "ER", "EC", "IV", "valid", "status")
    keys = ("grouping", "class", "name", "depth", "size", "failures", "base_error_rate",
            "aler", "best_leaf", "best_error_rate", "best_error_coverage", "best_importance",
            "valid", "status")
    body = [(tuple(r[k] for k in keys), r["valid"]) for r in rows[:top]]
    return (f"<div><b>barlow analysis</b>: {a.group_count} groups, depths {a.depths}"
            + _table(("grouping", "depth", "groups", "valid", "valid fraction"), ev)
            + f"<p>Top {min(top, len(rows))} of {len(rows)} trees by the importance "
              "(ER·EC) of their best leaf:</p>" + _table(head, body) + "</div>")
