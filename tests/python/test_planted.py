"""Smoke test of the planted-slice benchmark (issue 13): the generator
tools/plant_fmnist.py (the cue is where the ground truth says, the fractions
are right, the IDX files read back, with barlow.Dataset.from_idx too) and
bench/planted's scoring functions, plus one tiny plant end to end
(`bench/planted --quick`-sized: 1 epoch on a few thousand images)."""
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FASHION = Path(os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist"))
BUILD = Path(os.environ.get("BARLOW_BUILD_DIR", ROOT / "build"))

sys.path.insert(0, str(ROOT / "tools"))
import plant_fmnist as pf  # noqa: E402

needs_data = pytest.mark.skipif(not (FASHION / "t10k-images-idx3-ubyte.gz").exists(),
                                reason=f"{FASHION} is absent (Debian's dataset-fashion-mnist)")


def _bench():
    loader = importlib.machinery.SourceFileLoader("planted_bench", str(ROOT / "bench" / "planted"))
    spec = importlib.util.spec_from_loader("planted_bench", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_plant_table():
    assert sum(1 for k, c, _ in pf.PLANTS.values() if k == "cue") >= 6
    assert sum(1 for k, c, _ in pf.PLANTS.values() if k == "rare") >= 1
    cue = [(c, p["cue"]) for k, c, p in pf.PLANTS.values() if k == "cue"]
    assert len({c for c, _ in cue}) >= 6 and len({k for _, k in cue}) >= 4
    for name in pf.PLANTS:
        s = pf.plant_spec(name)
        assert 0 <= s["class"] < 10 and s["params"]["p_test"] == 0.5


def test_cues_change_pixels():
    x = np.full((3, 28, 28), 40, np.uint8)
    for name, (kind, _, p) in pf.PLANTS.items():
        y = (pf.apply_cue if kind == "cue" else pf.apply_transform)(x, p)
        assert y.shape == x.shape and y.dtype == np.uint8
        if kind == "cue":
            assert (y != x).any(), name


@needs_data
@pytest.mark.parametrize("name", ["sandal_patch", "boot_vflip"])
def test_generator(tmp_path, name):
    pl = pf.make_plant(name, seed=3, n_train=4000, n_test=1000)
    again = pf.make_plant(name, seed=3, n_train=4000, n_test=1000)
    s, cls, kind = pl["spec"], pl["spec"]["class"], pl["spec"]["kind"]
    for split in ("train", "test"):
        a, b = pl[split], again[split]
        assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["cue"], b["cue"])  # seeded
        x0, y0 = pf.load(split)
        orig = x0[a["index"]]
        assert np.array_equal(a["y"], y0[a["index"]])
        changed = (a["x"] != orig).reshape(len(orig), -1).any(1)
        assert np.array_equal(changed, a["cue"]), "the cue is exactly where the truth says"
        own = a["y"] == cls
        frac = a["cue"][own].mean()
        want = s["params"]["p_train"] if split == "train" else 0.5
        assert abs(frac - want) <= 1.0 / own.sum() + 1e-9
        assert not a["cue"][~own].any()
    te = pl["test"]
    own = te["y"] == cls
    if kind == "cue":
        assert np.array_equal(te["slice"], own & ~te["cue"])
        assert not pl["train"]["slice"].any()
    else:
        assert np.array_equal(te["slice"], own & te["cue"])
    if s["params"].get("corner") == "tl":
        assert (te["x"][te["cue"]][:, :s["params"]["size"], :s["params"]["size"]] == 255).all()

    paths = pf.write_plant(pl, tmp_path / name)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        assert np.array_equal(pf.read_idx(paths[f"{split}_images"]), pl[split]["x"])
        assert np.array_equal(pf.read_idx(paths[f"{split}_labels"]), pl[split]["y"])
    t = np.load(paths["truth"])
    assert np.array_equal(t["test_cue"], te["cue"]) and np.array_equal(t["test_slice"], te["slice"])
    assert json.loads(str(t["plant"]))["name"] == name

    pytest.importorskip("cffi")
    if not any(BUILD.glob("lib/libbarlow.so*")) and "BARLOW_LIBRARY" not in os.environ:
        pytest.skip("libbarlow is not built")
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    os.environ.setdefault("BARLOW_BUILD_DIR", str(BUILD))
    import barlow
    ds = barlow.Dataset.from_idx(str(paths["test_images"]), str(paths["test_labels"]),
                                 class_names=str(paths["classes"]))
    assert ds.size == 1000 and np.array_equal(ds.labels, te["y"])
    assert ds.class_names[cls] == pf.CLASSES[cls]


def test_scoring():
    b = _bench()
    assert b.auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert b.auc([1, 2, 3, 4], [1, 1, 0, 0]) == 0.0
    assert b.auc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5
    assert b.cue_auc([1, 2, 3, 4], [1, 1, 0, 0]) == 1.0
    rng = np.random.default_rng(0)
    s, c = rng.normal(size=300), rng.random(300) < 0.4
    from sklearn.metrics import roc_auc_score
    assert abs(b.auc(s, c) - roc_auc_score(c, s)) < 1e-12
    leaf = np.array([1, 1, 1, 0, 0, 0], bool)
    sl = np.array([1, 1, 0, 1, 0, 0], bool)
    fail = np.array([1, 0, 1, 1, 0, 0], bool)
    r = b.leaf_scores(leaf, sl, fail)
    assert r["leaf_size"] == 3 and r["precision"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx(1 / 2)  # slice failures: rows 0 and 3
    rl = b.random_leaf(3, sl, fail, 2000, 0)
    assert rl["precision"] == pytest.approx(0.5, abs=0.03)
    t = b.plant_took(np.array([5, 5, 5, 5, 1]), np.array([1, 1, 5, 5, 1]),
                     np.array([1, 1, 0, 0, 0], bool), 5)
    assert t["error_in_slice"] == 1.0 and t["error_outside_slice"] == 0.0 and t["took"]


@needs_data
def test_quick_bench(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("cffi")
    if not any(BUILD.glob("lib/libbarlow.so*")) and "BARLOW_LIBRARY" not in os.environ:
        pytest.skip("libbarlow is not built")
    if not (ROOT / "models" / "fmnist_robust.pt").exists():
        pytest.skip("models/fmnist_robust.pt is absent")
    b = _bench()
    assert b.main(["--quick", "--out", str(tmp_path), "--draws", "20", "--no-report"]) == 0
    doc = json.loads((tmp_path / "planted.json").read_text())
    (r,) = doc["plants"]
    assert r["plant"]["name"] == "sandal_patch"
    assert set(r["methods"]) == {"robust", "standard", "mean", "random"}
    assert 0 <= r["took"]["error_outside_slice"] <= 1
    for m, mr in r["methods"].items():
        assert set(mr["depths"]) == {"1", "2"}
        for d, x in mr["depths"].items():
            assert x["leaf_size"] > 0
            assert 0 <= x["precision"] <= 1 and 0 <= x["recall"] <= 1
            if m != "random":
                assert 0.5 <= x["cue_auc"] <= 1
                assert x["recovered"] == (x["precision"] >= 0.8 and x["cue_auc"] >= 0.8)
    assert (tmp_path / "sandal_patch" / "inspected.pt").exists()
    assert (tmp_path / "sandal_patch" / "analysis_robust.json").exists()
    assert "robust@1" in doc["totals"]["all"]["methods"]
    md = b.markdown(doc)
    assert "`sandal_patch`" in md and "robust@2" in md
    other = json.loads(json.dumps(doc))
    other["seed"] = 1
    if other["totals"]["took"]["methods"]:
        other["totals"]["took"]["methods"]["robust@1"]["recovered"] = 0
    s = b.seed_summary([doc, other])
    assert "seeds 0, 1" in s and "`sandal_patch`" in s
    took = doc["totals"]["took"]["methods"]
    if took:  # the one plant took in this tiny run
        rec = took["robust@1"]
        assert f"| robust@1 | {rec['recovered']}/{rec['of']}, 0/{rec['of']} |" in s
