"""Distributed analysis from Python (include/barlow/analysis.h, "distributed
analysis"): count_groups, analyze(..., groups=range) computing part of the
groups, Analysis.merge joining parts into the whole analysis, and pickling
of Analysis and Tree through the library's binary format (what Dask and
multiprocessing use to ship results), with corrupted bytes refused."""
import os
import pickle
import sys

import numpy as np
import pytest

from conftest import BUILD, ROOT

pytest.importorskip("cffi")
LIBRARY = BUILD / "lib" / "libbarlow.so"
if not LIBRARY.exists():
    pytest.fail(f"libbarlow is not built at {LIBRARY}", pytrace=False)
os.environ["BARLOW_LIBRARY"] = str(LIBRARY)
sys.path.insert(0, str(ROOT / "bindings" / "python"))
import barlow  # noqa: E402

NAMES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n, d = 500, 30
    X = np.maximum(rng.normal(size=(n, d)), 0).astype(np.float32)
    labels = (np.arange(n) % 5).astype(np.int32)
    fail = (X[:, 4] > 0.9) | (rng.random(n) < 0.05)
    preds = np.where(fail, (labels + 1) % 5, labels).astype(np.int32)
    return X, labels, preds


KW = dict(class_names=NAMES, k=4, depths=(1, 2), progress=False, threads=2)


@pytest.fixture(scope="module")
def full(data):
    return barlow.analyze(*data, **KW)


def test_count_groups(data, full):
    X, labels, preds = data
    assert barlow.count_groups(labels, preds) == full.group_count == 10
    assert barlow.count_groups(labels, preds, by="label") == 5
    ds = barlow.Dataset.from_arrays(labels, preds, NAMES)
    assert barlow.count_groups(ds, by=("prediction",)) == 5


def test_parts_merged_equal_the_whole(data, full):
    n = barlow.count_groups(data[1], data[2])
    cuts = [0, 3, 4, 9, n]
    parts = [barlow.analyze(*data, **KW, groups=range(a, b)) for a, b in zip(cuts, cuts[1:])]
    for p, (a, b) in zip(parts, zip(cuts, cuts[1:])):
        groups = p.groups
        assert [g["status"] == "pending" for g in groups] == [not a <= i < b
                                                              for i in range(n)]
        for i in range(a, b):  # each computed group equals the whole analysis' group
            want = full.group(i)
            assert set(groups[i]) == set(want)
            for key, value in want.items():
                assert np.array_equal(groups[i][key], value) if key.startswith("selec") \
                    else groups[i][key] == value, key
            assert p.tree(i).to_json() == full.tree(i).to_json()
        pending = groups[a - 1] if a else groups[b]
        assert pending["results"][0]["best_leaf"] is None
        assert pending["selected_features"].size == 0
        assert p.tree(pending["index"]) is None
        doc = p.to_dict()  # well-formed JSON with the pending groups listed
        assert sum(g["status"] == "pending" for g in doc["groups"]) == n - (b - a)
        assert sum(e["groups"] for e in p.evaluation) <= 2 * (b - a)
        assert ",pending," in p.to_csv() or b - a == n
    merged = barlow.Analysis.merge(reversed(parts))
    for p in parts:
        p.close()
    assert merged.to_json() == full.to_json()
    assert merged.to_csv() == full.to_csv()
    assert merged.evaluation == full.evaluation


def test_merge_errors(data):
    a = barlow.analyze(*data, **KW, groups=range(0, 4))
    b = barlow.analyze(*data, **KW, groups=range(3, 10))
    with pytest.raises(barlow.InvalidArgument, match="group label/Dress is analysed in parts 0 "
                                                     "and 1"):
        barlow.Analysis.merge([a, b])
    with pytest.raises(barlow.InvalidArgument, match="label/Coat is analysed in no part"):
        barlow.Analysis.merge([a])
    with pytest.raises(ValueError):
        barlow.Analysis.merge([])
    with pytest.raises(ValueError, match="range"):
        barlow.analyze(*data, **KW, groups=(0, 3))
    with pytest.raises(barlow.InvalidArgument, match="first=8 \\+ count=4 is beyond the 10"):
        barlow.analyze(*data, **KW, groups=range(8, 12))


def test_pickle_round_trip(data, full):
    X = data[0]
    copy = pickle.loads(pickle.dumps(full))
    assert isinstance(copy, barlow.Analysis)
    assert copy.to_json() == full.to_json() and copy.to_csv() == full.to_csv()
    assert copy.to_bytes() == full.to_bytes()
    part = barlow.analyze(*data, **KW, groups=range(2, 7))
    part_copy = pickle.loads(pickle.dumps(part))
    assert part_copy.to_json() == part.to_json()
    t = full.tree(("label", "Coat"), depth=2)
    t.names = {4: "collar"}
    t2 = pickle.loads(pickle.dumps(t))
    assert isinstance(t2, barlow.Tree) and t2.names == {4: "collar"}
    assert t2.to_json() == t.to_json() and t2.to_svg() == t.to_svg()
    rows = np.flatnonzero(data[1] == 4)
    assert np.array_equal(t2.apply(X[rows]), t.apply(X[rows]))
    for node in range(t.node_count):
        assert np.array_equal(t2.node_rows(node), t.node_rows(node))
        assert np.array_equal(t2.sample_rows(node, 3, seed=1), t.sample_rows(node, 3, seed=1))
    assert t2.rules() == t.rules()
    fitted = barlow.fit_tree(X, data[1] != data[2], depth=2)
    assert pickle.loads(pickle.dumps(fitted)).to_json() == fitted.to_json()


def test_corrupted_pickle_raises_format(full):
    blob = pickle.dumps(full)
    raw = full.to_bytes()
    bad = bytearray(raw)
    bad[40] ^= 0xFF  # k
    evil = blob.replace(raw, bytes(bad))
    assert evil != blob
    with pytest.raises(barlow.Format, match="barlow_analysis_deserialize: byte"):
        pickle.loads(evil)
    with pytest.raises(barlow.Format, match="left"):
        barlow.Analysis.from_bytes(raw[:-1])
    t = full.tree(0)
    traw = t.to_bytes()
    with pytest.raises(barlow.Format, match="not a serialized tree"):
        barlow.Tree.from_bytes(b"X" + traw[1:])
    with pytest.raises(barlow.Format):
        barlow.Tree.from_bytes(traw[:50])
