"""barlow.Tree and fit_tree (include/barlow/tree.h): a shallow failure tree.

The tree is scikit-learn's DecisionTreeClassifier(criterion="entropy",
max_depth=depth, class_weight={0: 1, 1: n_correct / n_failed}) on float32
features (docs/tree.md: same features, thresholds, node numbering and
counts; ties between columns go to the lowest index). Features are always
original column indices, also when the fit used `select`ed columns.
Nodes, summaries and rules come as dicts with the keys of the tree JSON
(docs/formats.md, "Tree JSON").
"""
import json
import math

import numpy as np

from . import _array
from ._ffi import ffi, lib, take_buffer
from ._handle import Handle, new_handle, set_fields, struct_dict
from .errors import check
from .matrix import as_matrix

CRITERIA = {"entropy": lib.BARLOW_CRITERION_ENTROPY, "gini": lib.BARLOW_CRITERION_GINI}
ROWS = {"all": lib.BARLOW_ROWS_ALL, "failures": lib.BARLOW_ROWS_FAILURES,
        "correct": lib.BARLOW_ROWS_CORRECT}
OPS = {lib.BARLOW_OP_LE: "<=", lib.BARLOW_OP_GT: ">"}


def _choice(table, value, what):
    if value not in table:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, table))}; got {value!r}")
    return table[value]


def tree_options(depth=1, criterion="entropy", class_weight="reference",
                 min_samples_split=2, min_samples_leaf=1, min_impurity_decrease=0.0):
    """A filled barlow_tree_options. class_weight: 'reference' (correct 1,
    failure n_correct/n_failed: the paper's), 'none' (or None: 1 and 1), or
    the two weights as {0: correct, 1: failure} or (correct, failure)."""
    o = ffi.new("barlow_tree_options *")
    lib.barlow_tree_options_init(o)
    if class_weight is None or class_weight == "none":
        o.class_weight = lib.BARLOW_CLASS_WEIGHT_NONE
    elif isinstance(class_weight, (dict, tuple, list)):
        o.class_weight = lib.BARLOW_CLASS_WEIGHT_GIVEN
        set_fields(o, "class_weight", weight_correct=class_weight[0],
                   weight_failure=class_weight[1])
    elif class_weight != "reference":
        raise ValueError("class_weight must be 'reference', 'none', {0: wc, 1: wf} or "
                         f"(wc, wf); got {class_weight!r}")
    o.criterion = _choice(CRITERIA, criterion, "criterion")
    set_fields(o, "tree options", max_depth=depth, min_samples_split=min_samples_split,
               min_samples_leaf=min_samples_leaf,
               min_impurity_decrease=min_impurity_decrease)
    return o


def rule_options(min_coverage=0.0, min_error_rate=0.0, max_p_value=1.0):
    o = ffi.new("barlow_rule_options *")
    lib.barlow_rule_options_init(o)
    set_fields(o, "rule options", min_coverage=min_coverage, min_error_rate=min_error_rate,
               max_p_value=max_p_value)
    return o


def _none_if(v, bad):
    return None if v == bad else v


def node_dict(s):
    """A barlow_tree_node as the tree JSON's node object."""
    d = struct_dict(s)
    for k in ("parent", "left", "right", "feature"):
        d[k] = _none_if(d[k], -1)
    for k in ("threshold", "improvement"):
        d[k] = None if math.isnan(d[k]) else d[k]
    d["is_leaf"], d["predicts_failure"] = bool(d["is_leaf"]), bool(d["predicts_failure"])
    return d


def _names_array(names):
    """(const char *[] or NULL, the char[] buffers it points to) of feature
    names: a list indexed by column or a {column: name} dict."""
    if isinstance(names, dict):
        size = max(names, default=-1) + 1
        names = [names.get(i) for i in range(size)]
    names = list(names or [])
    bufs = [ffi.new("char[]", str(n).encode()) if n else ffi.NULL for n in names]
    return (ffi.new("const char *[]", bufs) if bufs else ffi.NULL), bufs


class _Stats(Handle):
    """What a tree and a held-out evaluation share: nodes and summary."""

    _get_node = _get_summary = _leaves = None

    def node(self, i):
        n = ffi.new("barlow_tree_node *", {"version": lib.BARLOW_TREE_NODE_VERSION})
        check(self._get_node(self.ptr, i, n))
        return node_dict(n)

    @property
    def node_count(self):
        return lib.barlow_tree_node_count(self._tree_ptr())

    @property
    def nodes(self):
        """Every node, index = id (pre-order, root 0, left child first)."""
        return [self.node(i) for i in range(self.node_count)]

    def node_arrays(self):
        """The nodes column-wise: {key: numpy array} (None -> -1 or NaN)."""
        nodes = self.nodes
        fill = {"parent": -1, "left": -1, "right": -1, "feature": -1,
                "threshold": math.nan, "improvement": math.nan}
        return {k: np.array([fill[k] if n[k] is None and k in fill else n[k] for n in nodes])
                for k in nodes[0]}

    @property
    def summary(self):
        s = ffi.new("barlow_tree_summary *", {"version": lib.BARLOW_TREE_SUMMARY_VERSION})
        check(self._get_summary(self.ptr, s))
        return struct_dict(s)

    @property
    def leaves_by_importance(self):
        ids = np.empty(lib.barlow_tree_leaf_count(self._tree_ptr()), np.uintp)
        check(self._leaves(self.ptr, _array.ptr("size_t", ids)))
        return ids.astype(np.intp)


def _tree_from_bytes(data, names=None):
    t = Tree.from_bytes(data)
    t.names = names
    return t


class Tree(_Stats):
    _free = "barlow_tree_free"
    _get_node = lib.barlow_tree_get_node
    _get_summary = lib.barlow_tree_get_summary
    _leaves = lib.barlow_tree_leaves_by_importance
    names = None  # words for the features that to_svg()/_repr_svg_ use by default

    def _tree_ptr(self):
        return self.ptr

    @classmethod
    def fit(cls, features, failures, *, depth=1, select=None, criterion="entropy",
            class_weight="reference", min_samples_split=2, min_samples_leaf=1,
            min_impurity_decrease=0.0):
        """Fits a tree on `features` (a Matrix or float32 array, read in place)
        and `failures` (0/1 flags). select: the candidate column indices
        (None = all). The other keywords are barlow_tree_options' fields
        (see tree_options); the defaults are the library's."""
        m = as_matrix(features)
        y = _array.as_failures(failures, m.rows)
        opts = tree_options(depth, criterion, class_weight, min_samples_split,
                            min_samples_leaf, min_impurity_decrease)
        cols = None if select is None else np.ascontiguousarray(select, dtype=np.uintp)
        ptr = new_handle("barlow_tree", lib.barlow_tree_fit, m.ptr, _array.ptr("uint8_t", y),
                         _array.ptr("size_t", cols), 0 if cols is None else len(cols), opts)
        return cls(ptr)

    # -- bytes and pickling -----------------------------------------------------

    def to_bytes(self):
        """The tree in the library's versioned binary format (docs/formats.md,
        "Binary tree and analysis"): options, nodes, training rows and
        their failure flags."""
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_tree_serialize(self.ptr, buf))
        return take_buffer(buf)

    @classmethod
    def from_bytes(cls, data):
        """A Tree from to_bytes()'s bytes (also of a tree of an analysis; the
        new tree owns its memory). The bytes are checked as hostile input:
        barlow.Format names what is wrong and its byte offset."""
        data = bytes(data)
        ptr = new_handle("barlow_tree", lib.barlow_tree_deserialize,
                         ffi.from_buffer("char[]", data), len(data))
        return cls(ptr)

    def __reduce__(self):  # pickles through to_bytes (the `names` attribute too)
        return (_tree_from_bytes, (self.to_bytes(), self.names))

    @property
    def leaf_count(self):
        return lib.barlow_tree_leaf_count(self.ptr)

    @property
    def input_columns(self):
        """Columns of the matrix the tree was fitted on (apply expects them)."""
        return lib.barlow_tree_input_columns(self.ptr)

    @property
    def depth(self):
        return self.summary["depth"]

    # -- rules ----------------------------------------------------------------

    def path(self, node):
        """The conditions from the root to `node`: [{"feature", "op",
        "threshold"}], root first ("op" is "<=" or ">")."""
        conds = ffi.new("barlow_condition[]", lib.BARLOW_TREE_MAX_DEPTH)
        n = ffi.new("size_t *")
        check(lib.barlow_tree_path(self.ptr, node, conds, n))
        return [{"feature": c.feature, "op": OPS[c.op], "threshold": c.threshold}
                for c in conds[0:n[0]]]

    def rule_text(self, node, names=None):
        """The rule of `node` as a sentence. names: words for the features
        (a list indexed by column, or a {column: name} dict); a feature with
        a name reads "buckle (feature 1378)"."""
        arr, bufs = _names_array(names)
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_tree_rule_text_named(self.ptr, node, arr, len(bufs), buf))
        return take_buffer(buf).decode("utf-8")

    def rules(self, min_coverage=0.0, min_error_rate=0.0, max_p_value=1.0, names=None):
        """The leaves passing the filter, best importance first, as the tree
        JSON's rule objects: leaf, conditions, size, failures, error_rate,
        error_coverage, importance, p_value, text."""
        leaves = np.empty(self.leaf_count, np.uintp)
        n = ffi.new("size_t *")
        check(lib.barlow_tree_rules(self.ptr, rule_options(min_coverage, min_error_rate,
                                                           max_p_value),
                                    _array.ptr("size_t", leaves), n))
        out = []
        for leaf in leaves[:n[0]].tolist():
            node = self.node(leaf)
            stats = {k: node[k] for k in ("size", "failures", "error_rate", "error_coverage",
                                          "importance", "p_value")}
            out.append({"leaf": leaf, "conditions": self.path(leaf), **stats,
                        "text": self.rule_text(leaf, names)})
        return out

    # -- applying -------------------------------------------------------------

    def apply(self, features):
        """The leaf id of each row of `features` (m x input_columns), or of
        one row given as a 1-D array."""
        x = np.asarray(features)
        if x.ndim == 1:
            row = _array.as_f32_2d(x[None, :], name="row")[0]
            leaf = ffi.new("size_t *")
            check(lib.barlow_tree_apply_row(self.ptr, _array.ptr("float", row), len(row),
                                            leaf))
            return leaf[0]
        m = as_matrix(features)
        leaves = np.empty(m.rows, np.uintp)
        check(lib.barlow_tree_apply(self.ptr, m.ptr, _array.ptr("size_t", leaves)))
        return leaves.astype(np.intp)

    def node_rows(self, node, which="all"):
        """The training rows of `node` ('all', 'failures' or 'correct')."""
        rows = np.empty(self.node(node)["size"], np.uintp)
        n = ffi.new("size_t *")
        check(lib.barlow_tree_node_rows(self.ptr, node, _choice(ROWS, which, "which"),
                                        _array.ptr("size_t", rows), n))
        return rows[:n[0]].astype(np.intp)

    def sample_rows(self, node, k, which="all", seed=0):
        """Up to k distinct training rows of `node`, drawn uniformly (seeded)."""
        rows = np.empty(k, np.uintp)
        n = ffi.new("size_t *")
        check(lib.barlow_tree_sample_rows(self.ptr, node, _choice(ROWS, which, "which"), k,
                                          seed, _array.ptr("size_t", rows), n))
        return rows[:n[0]].astype(np.intp)

    def evaluate(self, features, failures):
        """The tree's statistics on held-out rows (a TreeEval)."""
        m = as_matrix(features)
        y = _array.as_failures(failures, m.rows)
        ptr = new_handle("barlow_tree_eval", lib.barlow_tree_evaluate, self.ptr, m.ptr,
                         _array.ptr("uint8_t", y))
        return TreeEval(ptr, self)

    # -- export ---------------------------------------------------------------

    def to_json(self, min_coverage=0.0, min_error_rate=0.0, max_p_value=1.0,
                held_out=None):
        """The tree JSON text (docs/formats.md), rules filtered as in rules()."""
        buf = ffi.new("barlow_buffer *")
        ev = ffi.NULL if held_out is None else held_out.ptr
        check(lib.barlow_tree_to_json(self.ptr, rule_options(min_coverage, min_error_rate,
                                                             max_p_value), ev, buf))
        return take_buffer(buf).decode("utf-8")

    def to_dict(self, **kw):
        """to_json() parsed (keyword arguments as to_json)."""
        return json.loads(self.to_json(**kw))

    def to_dot(self):
        """A Graphviz DOT digraph of the tree."""
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_tree_to_dot(self.ptr, buf))
        return take_buffer(buf).decode("utf-8")

    def to_svg(self, names=None, link_prefix=None, highlight=-1, max_width=0.0):
        """The tree drawn as one self-contained SVG element (the drawing of
        the HTML report). names: words for the features, as for rule_text()
        (default: the `names` attribute). link_prefix: each leaf's box links
        to link_prefix + its id. highlight: the node outlined as the best
        (-1 the highest-IV leaf, -2 none). max_width: 0 for the natural
        width, else a wider drawing scales down (not below 84%)."""
        o = ffi.new("barlow_svg_options *")
        lib.barlow_svg_options_init(o)
        arr, bufs = _names_array(self.names if names is None else names)
        o.names, o.n_names = arr, len(bufs)
        prefix = ffi.new("char[]", link_prefix.encode()) if link_prefix else ffi.NULL
        o.link_prefix = prefix
        o.highlight = highlight
        o.max_width = max_width
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_tree_to_svg(self.ptr, o, buf))
        return take_buffer(buf).decode("utf-8")

    def _repr_svg_(self):
        return None if self.closed else self.to_svg()

    def __repr__(self):
        if self.closed:
            return "<barlow.Tree (closed)>"
        s = self.summary
        return (f"<barlow.Tree depth {s['depth']}, {s['leaf_count']} leaves, "
                f"{s['size']} rows, BER {s['base_error_rate']:.3f}, ALER {s['aler']:.3f}>")


class TreeEval(_Stats):
    """A tree's node statistics on held-out rows (it keeps no pointer to its
    inputs; it keeps the tree object for the node count)."""

    _free = "barlow_tree_eval_free"
    _get_node = lib.barlow_tree_eval_get_node
    _get_summary = lib.barlow_tree_eval_get_summary
    _leaves = lib.barlow_tree_eval_leaves_by_importance

    def __init__(self, ptr, tree):
        super().__init__(ptr)
        self._tree = tree._keep()

    def _tree_ptr(self):
        return self._tree[0]


fit_tree = Tree.fit
