"""The Python bindings (bindings/python/barlow) without libtorch: matrices
and zero copy, datasets and groups, the selector against scikit-learn's
mutual_info_classif, the tree against DecisionTreeClassifier, the analysis
against `barlow analyze`, errors, object lifetimes and memory, the library
lookup and pip installation.

Skipped when cffi is missing. The package is pointed at
<build>/lib/libbarlow.so."""
import gc
import json
import os
import pickle
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import BUILD, ROOT, run_cli

pytest.importorskip("cffi")
LIBRARY = BUILD / "lib" / "libbarlow.so"
if not LIBRARY.exists():
    pytest.fail(f"libbarlow is not built at {LIBRARY}", pytrace=False)
PKG = ROOT / "bindings" / "python"
os.environ["BARLOW_LIBRARY"] = str(LIBRARY)
sys.path.insert(0, str(PKG))
import barlow  # noqa: E402

from sklearn.feature_selection import mutual_info_classif  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402


def relu_data(n=400, d=24, seed=0, planted=5):
    """ReLU-like float32 features; failure mostly when column `planted` is
    large (planted % d), plus 8% noise (both classes have well over 8 members)."""
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(size=(n, d)), 0).astype(np.float32)
    y = ((X[:, planted % d] > 0.8) | (rng.random(n) < 0.08)).astype(np.uint8)
    return X, y


def sk_mi(X, y, **kw):
    return mutual_info_classif(X.astype(np.float64), y, discrete_features=False, **kw)


# ---- mutual information and top-k ---------------------------------------------------------


@pytest.mark.parametrize("n,d,seed,k", [(400, 24, 0, 3), (257, 9, 7, 3), (600, 12, 3, 5),
                                        (120, 30, 11, 1)])
def test_mutual_info_equals_sklearn(n, d, seed, k):
    X, y = relu_data(n, d, seed)
    ours = barlow.mutual_info(X, y, n_neighbors=k, seed=seed)
    ref = sk_mi(X, y, n_neighbors=k, random_state=seed)
    assert ours.dtype == np.float64 and ours.shape == (d,)
    # docs/selector.md: equal to the last bit when every class has >= 8 members
    np.testing.assert_array_equal(ours, ref)
    # float64 input is scored in place without rounding (score_f64): same numbers
    np.testing.assert_array_equal(barlow.mutual_info(X.astype(np.float64), y,
                                                     n_neighbors=k, seed=seed), ours)


def test_top_k_equals_sklearn_ranking():
    X, y = relu_data(500, 40, 2)
    ref = sk_mi(X, y, n_neighbors=3, random_state=0)
    want = np.argsort(-ref, kind="stable")[:10]
    np.testing.assert_array_equal(barlow.top_k(X, y, 10), want)
    top, scores = barlow.Selector().top_k(X, y, 10)
    np.testing.assert_array_equal(top, want)
    np.testing.assert_array_equal(scores, ref)
    assert top[0] == 5  # the planted column
    np.testing.assert_array_equal(barlow.rank(ref, 10), want)


def test_selector_estimators_and_threads():
    X, y = relu_data(300, 16, 4)
    np.testing.assert_allclose(barlow.Selector("mean").score(X, y), X.mean(axis=0),
                               rtol=1e-6)
    gain = barlow.Selector("split-gain").score(X, y)
    assert np.argmax(gain) == 5
    one = barlow.Selector(threads=1).score(X, y)
    np.testing.assert_array_equal(barlow.Selector(threads=2).score(X, y), one)
    with pytest.raises(ValueError, match="estimator must be one of"):
        barlow.Selector("magic")
    with pytest.raises(ValueError, match="n_neighbors=-1"):
        barlow.Selector(n_neighbors=-1)
    with pytest.raises(barlow.InvalidArgument, match="n_neighbors"):
        barlow.Selector(n_neighbors=0)


def test_selector_score_rows_equals_sklearn_on_the_rows():
    X, y = relu_data(600, 20, 6)
    rows = np.random.default_rng(1).permutation(600)[:250]
    ref = sk_mi(X[rows], y[rows], n_neighbors=3, random_state=0)
    for threads in (1, 2):
        sel = barlow.Selector(threads=threads)
        got = sel.score_rows(X, rows, y[rows])
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(got, sel.score(X[rows], y[rows]))
    with pytest.raises(barlow.InvalidArgument, match=r"rows\[1\] = 600 is not a row"):
        barlow.Selector().score_rows(X, [3, 600], [0, 1])
    with pytest.raises(ValueError, match="no rows"):
        barlow.Selector().score_rows(X, [], [])


# ---- the tree against scikit-learn ---------------------------------------------------------


def sk_tree(X, y, depth, class_weight="reference"):
    nf = int(y.sum())
    cw = {0: 1, 1: (len(y) - nf) / nf} if class_weight == "reference" else class_weight
    return DecisionTreeClassifier(criterion="entropy", max_depth=depth, class_weight=cw,
                                  random_state=0).fit(X, y).tree_


def weighted_gain(x, y, thr, w1):
    """Class-weighted entropy decrease of splitting at x <= thr (float64)."""
    def h(mask):
        f = y[mask].sum() * w1
        c = (~y[mask].astype(bool)).sum() * 1.0
        p = np.array([c, f]) / (c + f)
        return (c + f), -sum(q * np.log2(q) for q in p if q > 0)
    left = x.astype(np.float64) <= thr
    (W, H), (WL, HL), (WR, HR) = h(np.ones_like(left)), h(left), h(~left)
    return H - WL / W * HL - WR / W * HR


def assert_same_tree(tree, T, X, y, columns=None, w1=1.0):
    """Same nodes, features, thresholds and counts, except the documented
    tie rule (docs/tree.md): where the features differ, both splits must
    have the same gain and ours the lower column; below, rows differ."""
    nodes, exact = tree.nodes, [0]
    cols = np.arange(X.shape[1]) if columns is None else np.asarray(columns)

    def walk(i, j, rows):
        a = nodes[i]
        assert a["size"] == T.n_node_samples[j] == len(rows)
        assert a["is_leaf"] == (T.children_left[j] == -1)
        if a["is_leaf"]:
            exact[0] += 1
            return
        f = cols[T.feature[j]]
        if a["feature"] != f:
            ours = weighted_gain(X[rows, a["feature"]], y[rows], a["threshold"], w1)
            theirs = weighted_gain(X[rows, f], y[rows], T.threshold[j], w1)
            assert ours == pytest.approx(theirs, rel=1e-9) and a["feature"] < f
            return
        assert a["threshold"] == T.threshold[j]  # float64, exactly
        exact[0] += 1
        left = X[rows, f].astype(np.float64) <= a["threshold"]
        walk(a["left"], T.children_left[j], rows[left])
        walk(a["right"], T.children_right[j], rows[~left])

    walk(0, 0, np.arange(len(y)))
    assert exact[0] >= 0.75 * len(nodes)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_tree_equals_sklearn(depth, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 8)).astype(np.float32)  # continuous: no ties
    y = ((X[:, 2] + 0.5 * X[:, 6] > 0.7) ^ (rng.random(300) < 0.1)).astype(np.uint8)
    tree = barlow.fit_tree(X, y, depth=depth)
    s = tree.summary
    assert s["weight_failure"] == (300 - y.sum()) / y.sum() and s["weight_correct"] == 1
    assert_same_tree(tree, sk_tree(X, y, depth), X, y, w1=s["weight_failure"])
    unweighted = barlow.fit_tree(X, y, depth=depth, class_weight="none")
    assert_same_tree(unweighted, sk_tree(X, y, depth, class_weight=None), X, y)
    given = barlow.fit_tree(X, y, depth=depth, class_weight={0: 1, 1: 1.7})
    assert_same_tree(given, sk_tree(X, y, depth, class_weight={0: 1, 1: 1.7}), X, y, w1=1.7)


def test_tree_on_selected_columns_reports_original_indices():
    X, y = relu_data(400, 30, 5)
    X += np.random.default_rng(9).normal(scale=1e-3, size=X.shape).astype(np.float32)
    cols = [29, 5, 17, 3]
    tree = barlow.fit_tree(X, y, depth=2, select=cols)
    assert_same_tree(tree, sk_tree(X[:, cols], y, 2), X, y, columns=cols,
                     w1=tree.summary["weight_failure"])
    assert tree.nodes[0]["feature"] == 5 and tree.input_columns == 30


def test_tree_api():
    X, y = relu_data(400, 12, 1)
    tree = barlow.fit_tree(X, y, depth=2)
    doc = tree.to_dict()
    assert doc["nodes"] == tree.nodes
    assert doc["node_count"] == tree.node_count and doc["leaf_count"] == tree.leaf_count
    leaves = tree.apply(X)
    for leaf in np.unique(leaves):
        np.testing.assert_array_equal(np.flatnonzero(leaves == leaf), tree.node_rows(leaf))
    assert tree.apply(X[3]) == leaves[3]
    rules = tree.rules()
    assert [r["leaf"] for r in rules] == tree.leaves_by_importance.tolist()
    assert rules == doc["rules"]
    best = rules[0]["leaf"]
    assert tree.rule_text(best) == rules[0]["text"]
    named = tree.rule_text(best, names={5: "buckle"})
    assert "buckle (feature 5)" in named
    assert all(r["error_coverage"] >= 0.3 for r in tree.rules(min_coverage=0.3))
    with pytest.raises(barlow.InvalidArgument, match="min_coverage"):
        tree.rules(min_coverage=2)
    held = tree.evaluate(X, y)  # held-out on the training rows: the same counts
    assert [n["size"] for n in held.nodes] == [n["size"] for n in tree.nodes]
    assert held.summary["aler"] == pytest.approx(tree.summary["aler"])
    assert "held_out" in tree.to_dict(held_out=held)
    assert tree.to_dot().startswith("digraph")
    svg = tree._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and svg.count("<rect") >= tree.node_count
    assert svg.count('<g class="node ') == tree.node_count
    if tree.node_count > 1:  # the library's drawing: names escaped, leaves linked
        named = tree.to_svg(names={tree.nodes[0]["feature"]: "<b>&"}, link_prefix="#x-",
                            highlight=-2)
        ET.fromstring(named)
        assert "&lt;b&gt;&amp; (feature" in named and " best" not in named
        assert named.count('<a href="#x-') == tree.leaf_count
    sample = tree.sample_rows(best, 5, "failures", seed=1)
    assert len(sample) == min(5, tree.node(best)["failures"])
    assert set(sample) <= set(tree.node_rows(best, "failures"))
    arrays = tree.node_arrays()
    assert arrays["feature"][0] == tree.nodes[0]["feature"] and arrays["feature"][-1] == -1


# ---- zero copy and numpy rules -----------------------------------------------------------


def test_wrap_is_zero_copy_and_sees_changes():
    X, y = relu_data(200, 6, 3)
    m = barlow.Matrix.wrap(X)
    assert np.shares_memory(m.numpy(), X) and np.shares_memory(np.asarray(m), X)
    before = barlow.mutual_info(m, y)
    X[:, 0] = y * 3.0 + X[:, 0] * 1e-3  # column 0 now tells failure
    after = barlow.mutual_info(m, y)
    assert after[0] > before[0] + 0.3
    np.testing.assert_array_equal(after, barlow.mutual_info(X.copy(), y))
    owned = barlow.Matrix.zeros(200, 6)
    owned.numpy()[:] = X  # a writable view of library memory
    np.testing.assert_array_equal(barlow.mutual_info(owned, y), after)
    copy = barlow.Matrix.from_array(X)
    assert not np.shares_memory(copy.numpy(), X)


def test_wrap_strided_rows_and_read_only():
    big = np.random.default_rng(0).random((50, 10), dtype=np.float32)
    part = big[:, 2:7]  # rows of 5 floats, 10 apart
    m = barlow.Matrix.wrap(part)
    assert m.shape == (50, 5) and m.stride == 10 and np.shares_memory(m.numpy(), big)
    np.testing.assert_array_equal(m.numpy(), part)
    ro = big.copy()
    ro.setflags(write=False)
    r = barlow.Matrix.wrap(ro)
    assert r.readonly and not r.numpy().flags.writeable
    np.testing.assert_array_equal(np.asarray(r), ro)
    assert np.asarray(r, dtype=np.float64).dtype == np.float64


def test_wrap_memory_mapped_npy(tmp_path):
    X, y = relu_data(100, 6)
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    m = barlow.Matrix.wrap(mm)
    assert m.readonly and np.shares_memory(m.numpy(), mm)
    mapped = barlow.Matrix.map_npy(tmp_path / "x.npy")
    assert mapped.readonly and not mapped.numpy().flags.writeable
    np.testing.assert_array_equal(barlow.mutual_info(m, y), barlow.mutual_info(mapped, y))
    np.testing.assert_array_equal(barlow.Matrix.from_npy(tmp_path / "x.npy").numpy(), X)
    mapped.save_npy(tmp_path / "y.npy")
    assert (tmp_path / "y.npy").read_bytes() == (tmp_path / "x.npy").read_bytes()


def test_bad_arrays_give_clear_errors():
    X = np.ones((4, 3), np.float32)
    with pytest.raises(TypeError, match="must be float32.*got float64.*copy=True"):
        barlow.Matrix.wrap(X.astype(np.float64))
    with pytest.raises(TypeError, match="float32"):
        barlow.fit_tree(X.astype(np.int64), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="not C-contiguous"):
        barlow.Matrix.wrap(np.asfortranarray(np.ones((4, 3), np.float32)))
    with pytest.raises(ValueError, match="2-D"):
        barlow.Matrix.wrap(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="empty"):
        barlow.Matrix.wrap(np.ones((0, 3), np.float32))
    with pytest.raises(TypeError, match="real numbers"):
        barlow.as_f32_2d(np.ones((2, 2), complex), copy=True)
    with pytest.raises(TypeError, match=">f4"):
        barlow.as_f32_2d(X.astype(">f4"))
    conv = barlow.as_f32_2d(X.astype(np.float64).T, copy=True)
    assert conv.dtype == np.float32 and conv.flags.c_contiguous
    assert barlow.as_f32_2d(X) is X
    with pytest.raises(ValueError, match=r"failures\[2\] = 2"):
        barlow.as_failures(np.array([0, 1, 2, 0]))
    with pytest.raises(TypeError, match="bool or integers"):
        barlow.as_failures(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="3 entries but the features have 4 rows"):
        barlow.mutual_info(X, [0, 1, 0])
    flags = np.array([True, False, True])
    assert np.shares_memory(barlow.as_failures(flags), flags)


# ---- datasets and groups ------------------------------------------------------------------


def test_dataset_from_arrays_and_groups():
    labels = np.array([0, 1, 2, 1, 0, 2, 1, 1])
    preds = np.array([0, 2, 2, 1, 1, 2, 0, 1])
    ds = barlow.Dataset.from_arrays(labels, preds, class_names=["cat", "dog", "emu"])
    assert ds.size == len(ds) == 8 and ds.class_names == ["cat", "dog", "emu"]
    np.testing.assert_array_equal(ds.labels, labels)
    assert not ds.labels.flags.writeable
    np.testing.assert_array_equal(ds.predictions, preds)
    g = ds.group("dog")
    assert g.class_id == 1 and g.by == "label"
    np.testing.assert_array_equal(g.indices, [1, 3, 6, 7])
    np.testing.assert_array_equal(g.failures, [1, 0, 1, 0])
    assert g.failure_count == 2 and g.base_error_rate == 0.5
    X = np.arange(16, dtype=np.float32).reshape(8, 2)
    np.testing.assert_array_equal(g.gather(X).numpy(), X[[1, 3, 6, 7]])
    assert len(ds.group(2, by="prediction")) == 3
    assert list(ds.group(indices=[7, 0]).indices) == [7, 0]
    sizes, fails = ds.class_counts()
    assert sizes.tolist() == [2, 4, 2] and fails.tolist() == [1, 2, 0]
    ds.set_predictions(labels)
    assert ds.failures.sum() == 0 and g.failure_count == 2  # the group is a snapshot


def test_dataset_files(tmp_path):
    np.savez(tmp_path / "f.npz", labels=np.array([1, 0, 1]), predictions=np.array([1, 1, 0]),
             class_names=np.array(["ant", "bee"]))
    ds = barlow.Dataset.from_npz(tmp_path / "f.npz")
    assert ds.class_names == ["ant", "bee"] and ds.predictions.tolist() == [1, 1, 0]
    np.savez(tmp_path / "g.npz", labels=np.array([1, 0, 1]))
    assert not barlow.Dataset.from_npz(tmp_path / "g.npz").has_predictions
    (tmp_path / "m.csv").write_text("Filenames,Labels,Predictions,Note\n"
                                    "a.png,cat,dog,x\nb.png,dog,dog,\"y, z\"\n")
    ds = barlow.Dataset.from_csv(tmp_path / "m.csv", image_root="/img")
    assert ds.class_names == ["cat", "dog"] and ds.image_path(0) == "/img/a.png"
    assert ds.filename(1) == "b.png" and ds.extra_columns == {"Note": ["x", "y, z"]}
    ds = barlow.Dataset.from_csv(tmp_path / "m.csv", class_names=["dog", "cat", "eel"])
    assert ds.labels.tolist() == [1, 0] and ds.class_count == 3
    with pytest.raises(barlow.State):
        barlow.Dataset.from_arrays([0, 1]).group(0, by="prediction")


def test_dataset_image_loaders(tmp_path):
    import struct
    (tmp_path / "img.idx").write_bytes(struct.pack(">IIII", 0x803, 3, 2, 2) + bytes(12))
    (tmp_path / "lab.idx").write_bytes(struct.pack(">II", 0x801, 3) + bytes([2, 0, 1]))
    ds = barlow.Dataset.from_idx(tmp_path / "img.idx", tmp_path / "lab.idx",
                                 class_names=["zero", "one", "two", "three"])
    assert ds.class_names == ["zero", "one", "two", "three"] and ds.labels.tolist() == [2, 0, 1]
    for name in ("cat/a.png", "cat/b.jpg", "dog/c.png"):
        (tmp_path / "f" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "f" / name).write_bytes(b"")
    ds = barlow.Dataset.from_folder(tmp_path / "f")
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 1]
    assert ds.image_path(2) == str(tmp_path / "f" / "dog" / "c.png")
    with pytest.raises(barlow.IOFailure):
        barlow.Dataset.from_folder(tmp_path / "nothing")


# ---- errors ---------------------------------------------------------------------------------


def test_errors_carry_status_and_message(tmp_path):
    with pytest.raises(barlow.IOFailure) as e:
        barlow.Matrix.from_npy(tmp_path / "missing.npy")
    err = e.value
    assert isinstance(err, OSError) and isinstance(err, barlow.Error)
    assert err.status == -4 and err.status_name == "BARLOW_E_IO"
    assert err.status_text == "input/output error"
    assert err.message.startswith("barlow_matrix_load_npy: cannot open")
    assert "missing.npy" in str(err)
    X, y = relu_data(50, 3)
    with pytest.raises(ValueError, match=r"max_depth=0 \(must be 1\.\.16\)") as e:
        barlow.fit_tree(X, y, depth=0)
    assert type(e.value) is barlow.InvalidArgument and e.value.status == -2
    X[7, 1] = np.nan
    with pytest.raises(barlow.InvalidArgument, match="row 7, column 1"):
        barlow.mutual_info(X, y)
    (tmp_path / "bad.npy").write_bytes(b"not an npy file at all")
    with pytest.raises(barlow.Format) as e:
        barlow.Matrix.from_npy(tmp_path / "bad.npy")
    assert isinstance(e.value, ValueError)
    np.save(tmp_path / "f64.npy", np.ones((2, 2)))
    with pytest.raises(NotImplementedError):
        barlow.Matrix.map_npy(tmp_path / "f64.npy")
    with pytest.raises(RuntimeError, match="no predictions"):
        barlow.Dataset.from_arrays([0, 1]).group(indices=[0]).failure_count
    with pytest.raises(ValueError, match="min_samples_leaf=-1"):
        barlow.fit_tree(X, y, min_samples_leaf=-1)
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is barlow.IOFailure and copy.message == err.message
    assert barlow.check(0) is None


def test_cancel_from_progress():
    X, y = relu_data(200, 8)
    labels = np.arange(200) % 4
    preds = np.where(y == 1, (labels + 1) % 4, labels)
    seen = []
    with pytest.raises(barlow.Cancelled) as e:
        barlow.analyze(X, labels, preds, k=3, threads=1,
                       progress=lambda done, total: seen.append((done, total)) or True)
    assert e.value.status == -9 and seen and seen[0][1] == 8
    assert barlow.analyze(X, labels, preds, k=3, progress=False).group_count == 8


# ---- lifetimes and memory -------------------------------------------------------------------


def test_objects_freed_in_any_order():
    X, y = relu_data(100, 5)
    labels = np.arange(100) % 2
    ds = barlow.Dataset.from_arrays(labels, np.where(y == 1, 1 - labels, labels))
    g = ds.group(1)
    labels_view = ds.labels
    del ds  # the group is a snapshot, the view keeps the dataset's memory
    gc.collect()
    assert g.size == 50 and labels_view.tolist() == labels.tolist()
    view = barlow.Matrix.wrap(X.copy()).numpy()  # the Matrix itself is gone at once
    gc.collect()
    np.testing.assert_array_equal(view, X)
    m = barlow.Matrix.zeros(3, 4)
    v = m.numpy()
    m.close()
    m.close()  # idempotent
    v[:] = 7  # the view keeps the memory: no use after free
    assert v.sum() == 84
    with pytest.raises(ValueError, match="closed"):
        m.rows
    a = barlow.analyze(X, ds_arrays(labels, y)[0], ds_arrays(labels, y)[1], k=2)
    t = a.tree(0)
    doc = a.to_dict()
    a.close()
    del a
    gc.collect()
    assert t.nodes == doc["groups"][0]["results"][0]["tree"]["nodes"]
    with barlow.fit_tree(X, y) as tree:
        ev = tree.evaluate(X, y)
    del tree
    gc.collect()
    assert ev.summary["size"] == 100 and len(ev.nodes) == 3


def ds_arrays(labels, y):
    return labels, np.where(y == 1, 1 - labels, labels)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_memory_growth():
    X, y = relu_data(60, 4)
    grown = []
    for rounds in (2000, 10000):
        gc.collect()
        before = rss_bytes()
        for _ in range(rounds):
            m = barlow.Matrix.wrap(X)
            t = barlow.fit_tree(m, y, depth=2)
            t.nodes
            m.numpy()
        del m, t
        gc.collect()
        grown.append(rss_bytes() - before)
    # a leak of even the smallest handle (~100 bytes x 10000) would show up
    assert grown[1] < 4 << 20, f"RSS grew by {grown[1]} bytes over 10000 rounds"


# ---- the analysis against `barlow analyze` --------------------------------------------------


def a_json_equals_file(X, labels, preds, path):
    a = barlow.analyze(X, labels, preds, k=5, depths=(1, 2), progress=False)
    a.save_json(path.with_suffix(".py.json"))
    text = path.read_text()
    return a.to_json() + "\n" == text == path.with_suffix(".py.json").read_text()


def test_analyze_equals_cli(cli, tmp_path):
    rng = np.random.default_rng(0)
    n, d = 480, 32
    X = np.maximum(rng.normal(size=(n, d)), 0).astype(np.float32)
    labels = np.repeat(np.arange(4), n // 4)
    fail = (X[np.arange(n), 3 + 5 * labels] > 0.9) | (rng.random(n) < 0.05)
    fail[labels == 3] = False
    preds = np.where(fail, (labels + 1) % 4, labels)
    for name, a in (("X", X), ("L", labels), ("P", preds)):
        np.save(tmp_path / f"{name}.npy", a)
    out = tmp_path / "r.json"
    run_cli(cli, "analyze", "--features", tmp_path / "X.npy", "--labels", tmp_path / "L.npy",
            "--predictions", tmp_path / "P.npy", "--k", 5, "--depth", "1,2", "--out", out,
            "--quiet")
    want = json.loads(out.read_text())
    assert a_json_equals_file(X, labels, preds, out)
    ticks = []
    a = barlow.analyze(X, labels, preds, k=5, depths=(1, 2),
                       progress=lambda done, total: ticks.append(done) and False)
    assert a.to_dict() == want
    assert ticks[-1] == a.group_count == 8
    for g, w in zip(a.groups, want["groups"]):
        assert g["selected_features"].tolist() == w["selected_features"]
        assert g["selection_scores"].tolist() == w["selection_scores"]
        for r, wr in zip(g["results"], w["results"]):
            assert r == {k: v for k, v in wr.items() if k != "tree"}
            tree = a.tree(g["index"], r["depth"])
            assert (tree is None) == (wr["tree"] is None)
            if tree is not None:
                assert tree.nodes == wr["tree"]["nodes"]
    assert a.evaluation == want["evaluation"]
    ds = barlow.Dataset.from_arrays(labels, preds)
    again = barlow.analyze(X, ds, k=5, depths=(1, 2), threads=1, progress=False)
    assert again.to_json() == a.to_json()
    assert a.tree(("prediction", 2), 2).nodes == a.tree(a.group_index("prediction", "2"), 2).nodes
    html = a._repr_html_()
    assert html.count("<table") == 2 and "valid fraction" in html
    assert len(a.records()) == 16 and a.to_csv().count("\n") == 17
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            a.to_dataframe()
    else:
        assert len(a.to_dataframe()) == 16


# ---- lookup and installation ----------------------------------------------------------------


def python(code, **env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("BARLOW_")}
    e.update(PYTHONPATH=str(PKG), **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e)


def test_library_lookup():
    p = python("import barlow; print(barlow.library_path)", BARLOW_BUILD_DIR=str(BUILD))
    assert p.returncode == 0 and p.stdout.strip() == str(LIBRARY)
    p = python("import barlow", BARLOW_LIBRARY="/nonexistent/libbarlow.so")
    assert p.returncode != 0
    assert "$BARLOW_LIBRARY: /nonexistent/libbarlow.so: no such file" in p.stderr
    p = python("import barlow", BARLOW_BUILD_DIR="/nonexistent")
    if p.returncode != 0:  # no system library: every place is listed
        for place in ("$BARLOW_BUILD_DIR", "find_library", "pkg-config",
                      "the source tree's build"):
            assert place in p.stderr
    assert barlow.__version__ == barlow.ffi.string(barlow.lib.barlow_version_string()).decode()


def test_pip_install_offline(tmp_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip("pip is not installed for this interpreter")
    src = tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                            "__pycache__"))
    site = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-index", "--no-deps", "--target", str(site), str(src)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (site / "barlow" / "_cdef.h").exists()
    e = {**os.environ, "PYTHONPATH": str(site), "BARLOW_LIBRARY": str(LIBRARY)}
    p = subprocess.run([sys.executable, "-c", "import barlow; print(barlow.__file__)"],
                       capture_output=True, text=True, env=e, cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.startswith(str(site)), p.stderr
