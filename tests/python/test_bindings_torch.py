"""The Python bindings' extractor, visualizer, progress/cancel and run() on
Fashion-MNIST with the shipped models (models/fmnist_*.pt), against the
barlow program.

Covered: predictions of the standard model and features of the robust one
(equal to `barlow extract --predict`'s .npz, member by member, also through
Extraction.save_npz); the tensor calls (run, feature_map, feature_gradient,
load_inputs) against the extraction; barlow.analyze -> a group's tree -> a
feature on its best rule -> a FeatureView whose _repr_png_ is a PNG, and the
leaf's failure panel; the visualizer outliving (and being freed before or
after) what it borrows; skipped images with reasons; errors; run() (the
CLI's `barlow run`) returning results.json; cancelling an extraction from a
second thread (Progress.cancel), from a progress callable (a true return,
KeyboardInterrupt, another exception), and by a real SIGINT — each followed
by an extraction that works.

Skipped when the library has no libtorch, or the models or the dataset are
absent. The package is pointed at <build>/lib/libbarlow.so."""
import gc
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import BUILD, ROOT, run_cli

LIBRARY = BUILD / "lib" / "libbarlow.so"
MODELS = ROOT / "models"
ROBUST, STANDARD = MODELS / "fmnist_robust.pt", MODELS / "fmnist_standard.pt"
CLASSES = MODELS / "fmnist_classes.txt"
FMNIST = Path("/usr/share/datasets/fashion-mnist")
IMAGES, LABELS = FMNIST / "t10k-images-idx3-ubyte.gz", FMNIST / "t10k-labels-idx1-ubyte.gz"
PNG = b"\x89PNG\r\n\x1a\n"
IDX = dict(input_size=28, resize=0, channels=1)  # `barlow extract --idx` defaults

for _p in (LIBRARY, ROBUST, STANDARD, CLASSES, IMAGES, LABELS):
    if not _p.exists():
        pytest.skip(f"{_p} is absent", allow_module_level=True)

os.environ["BARLOW_LIBRARY"] = str(LIBRARY)
sys.path.insert(0, str(ROOT / "bindings" / "python"))
barlow = pytest.importorskip("barlow")
from barlow import errors  # noqa: E402
from barlow.extractor import Extraction, Extractor, extract  # noqa: E402
from barlow.progress import Progress  # noqa: E402
from barlow.visualizer import FeatureView, Image, Visualizer  # noqa: E402
from barlow.workflow import run  # noqa: E402

if barlow.lib.barlow_has_torch() == 0:
    pytest.skip("libbarlow has no libtorch (or its plugin does not load)",
                allow_module_level=True)


# ---- shared state (module scope: the dataset, models and extraction) ---------------------


@pytest.fixture(scope="module")
def ds():
    return barlow.Dataset.from_idx(IMAGES, LABELS, class_names=CLASSES)


@pytest.fixture(scope="module")
def robust():
    return Extractor(ROBUST, **IDX)


@pytest.fixture(scope="module")
def predicted(ds):
    standard = Extractor(STANDARD, outputs=("logits",), **IDX)
    assert standard.num_classes == 10 and not ds.has_predictions
    return standard.predict(ds, progress=False)


@pytest.fixture(scope="module")
def extraction(ds, robust, predicted):
    return robust.extract(ds, progress=False)


@pytest.fixture(scope="module")
def cli_npz(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "features.npz"
    run_cli(cli, "extract", "--model", ROBUST, "--predict", STANDARD,
            "--idx", IMAGES, "--idx-labels", LABELS, "--class-names", CLASSES, "--out", out)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


# ---- extraction ------------------------------------------------------------------------


def test_extractor_properties(robust):
    assert robust.feature_dim == 128 and robust.num_classes == 0
    assert robust.input_size == 28 and robust.channels == 1
    assert robust.input_shape == (1, 28, 28) and robust.feature_map_size == (7, 7)
    assert robust.has_forward_features and robust.outputs == ("features",)
    assert "128 features" in repr(robust)


def test_predict_and_extract_equal_the_cli(ds, predicted, extraction, cli_npz, tmp_path):
    assert ds.has_predictions
    np.testing.assert_array_equal(ds.predictions, cli_npz["predictions"])
    np.testing.assert_array_equal(predicted.argmax, cli_npz["predictions"])
    assert predicted.features is None and predicted.logits.shape == (10000, 10)
    assert float((ds.predictions == ds.labels).mean()) == pytest.approx(0.9206)

    r = extraction
    assert isinstance(r, Extraction) and r.count == r.dataset_size == 10000
    assert r.failed == [] and r.failed_count == 0 and not r.status.any()
    f = r.features.numpy()
    assert f.shape == (10000, 128) and f.dtype == np.float32 and not f.flags.writeable
    np.testing.assert_array_equal(f, cli_npz["features"])
    np.testing.assert_array_equal(r.index, cli_npz["index"])
    assert r.logits is None and r.argmax is None

    r.save_npz(tmp_path / "py.npz")
    with np.load(tmp_path / "py.npz") as z:
        assert sorted(z.files) == sorted(cli_npz)
        for k in z.files:
            np.testing.assert_array_equal(z[k], cli_npz[k], err_msg=k)
    assert list(cli_npz["class_names"]) == ds.class_names


def test_one_call_extract_uses_the_idx_defaults(ds, extraction):
    sub = barlow.Dataset.from_idx(IMAGES, LABELS)
    r = extract(ROBUST, sub, progress=False, batch_size=500)
    assert r.extractor.input_shape == (1, 28, 28)
    np.testing.assert_array_equal(r.features.numpy(), extraction.features.numpy())


def test_tensor_calls_agree_with_the_extraction(robust, ds, extraction):
    rows = [0, 5, 9999]
    x = robust.load_inputs(ds, rows)
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    f = robust.run(x)
    np.testing.assert_allclose(f, extraction.features.numpy()[rows], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(robust.run(x[0]), f[0], rtol=1e-6)  # one C x H x W image
    maps = robust.feature_map(x, 17)
    assert maps.shape == (3, 7, 7)
    np.testing.assert_allclose(maps.mean(axis=(1, 2)), f[:, 17], rtol=1e-4, atol=1e-6)
    values, grad = robust.feature_gradient(x, 17)
    assert grad.shape == x.shape and np.isfinite(grad).all() and np.abs(grad).sum() > 0
    np.testing.assert_allclose(values, f[:, 17], rtol=1e-3, atol=1e-5)
    with pytest.raises(ValueError, match="N x 1 x 28 x 28"):
        robust.run(np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(errors.State):  # logits were not requested
        robust.run(x, logits=True)


def test_skipped_images_are_reported(robust, tmp_path):
    from PIL import Image as PILImage
    (tmp_path / "img").mkdir()
    rng = np.random.default_rng(0)
    lines = ["Filenames,Labels"]
    for i in range(4):
        name = f"im{i}.png"
        if i != 2:  # row 2's file is missing
            PILImage.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(
                tmp_path / "img" / name)
        lines.append(f"{name},{'ab'[i % 2]}")
    (tmp_path / "meta.csv").write_text("\n".join(lines) + "\n")
    small = barlow.Dataset.from_csv(tmp_path / "meta.csv", tmp_path / "img")
    r = robust.extract(small, progress=False)
    assert r.count == 3 and r.failed_count == 1 and list(r.index) == [0, 1, 3]
    (fr,) = r.failed
    assert fr.row == 2 and fr.status == errors.IOFailure.status
    assert fr.status_name == "BARLOW_E_IO" and "im2.png" in fr.reason
    assert list(r.status) == [0, 0, errors.IOFailure.status, 0]
    # the visualizer maps feature rows through the index
    vis = Visualizer(robust, small, r, k=2, attack=False)
    rk = vis.rank(3, rows=[0, 1, 2, 3])
    assert rk.considered == 3 and 2 not in set(rk.rows)


def test_extractor_errors(tmp_path):
    with pytest.raises(errors.IOFailure, match="nonexistent.pt"):
        Extractor(tmp_path / "nonexistent.pt")
    with pytest.raises(errors.Format, match="SHA-256|sha256"):
        Extractor(ROBUST, sha256="0" * 64, **IDX)
    with pytest.raises(errors.InvalidArgument, match="channels"):
        Extractor(ROBUST, input_size=28, resize=0, channels=2)
    with pytest.raises(ValueError, match="batch_size"):
        Extractor(ROBUST, batch_size=-1, **IDX)
    ok = Extractor(ROBUST.read_bytes(), sha256="6564118dc6825982a0a1b3e020fc0ede70418e15fdd"
                   "18e968c43f0e0108c7ae4", **IDX)  # from memory, pinned
    assert ok.feature_dim == 128


# ---- analysis -> tree -> panel ----------------------------------------------------------


def test_analysis_tree_and_panels(ds, robust, extraction, tmp_path):
    feats = extraction.features
    an = barlow.analyze(feats, ds, k=10, depths=(1,), progress=False)
    g = next(g for g in an.groups if g["grouping"] == "label" and g["status"] == "analysed"
             and g["results"][0]["best_leaf"] is not None and g["failures"] >= 4)
    tree = an.tree(g["index"])
    leaf = g["results"][0]["best_leaf"]
    (cond,) = tree.path(leaf)
    feature = cond["feature"]
    rows = ds.group(g["class"], "label").indices
    F = feats.numpy()
    leaf_rows = rows[tree.apply(F[rows]) == leaf]
    assert len(leaf_rows) == tree.node(leaf)["size"]

    vis = Visualizer(robust, ds, extraction, k=4, attack_steps=5, logits=None)
    step, eps = vis.attack_budget
    assert step == pytest.approx(np.sqrt(784 / 150528)) and eps == pytest.approx(500 * step)
    calls = []
    fv = vis.view(feature, rows, caption=f"label: {g['name']}",
                  progress=lambda d, t: calls.append((d, t)))
    assert isinstance(fv, FeatureView) and fv.feature == feature
    assert calls and calls[-1] == (5, 5)
    assert fv.rows_considered == len(rows) and fv.count("top") == 4
    png = fv._repr_png_()
    assert png.startswith(PNG)
    top = fv.tiles("top")
    values = [t["value"] for t in top]
    assert values == sorted(values, reverse=True)
    assert {t["row"] for t in top} <= set(rows.tolist())
    assert all(t["label_name"] == g["name"] for t in top)
    exp = vis.rank(feature, rows, k=4)
    assert [t["row"] for t in top] == list(exp.rows)
    np.testing.assert_allclose(fv.maps().mean(axis=(1, 2)), values, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(fv.inputs(), robust.load_inputs(ds, exp.rows))
    att = fv.attacks()
    assert att.shape == (4, 1, 28, 28) and 0 <= att.min() <= att.max() <= 1
    assert all(t["attacked_value"] is not None for t in fv.tiles("attack"))
    panel = fv.panel
    assert isinstance(panel, Image) and panel.channels == 3
    assert panel.numpy().shape == (panel.height, panel.width, 3)
    fv.save(tmp_path / "panel.png")
    from PIL import Image as PILImage
    with PILImage.open(tmp_path / "panel.png") as im:
        assert im.size == (panel.width, panel.height)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), panel.numpy())
    assert fv.tile_image("heatmap", 0)._repr_png_().startswith(PNG)

    fp = vis.failure_panel(leaf_rows, tree.rule_text(leaf))
    assert isinstance(fp, Image) and fp._repr_png_().startswith(PNG)
    samples = vis.failure_samples(leaf_rows)
    assert len(samples) == min(4, int((ds.failures[leaf_rows]).sum()))
    a = vis.attack(feature, exp.rows[:2], progress=False)
    assert a.images.shape == (2, 1, 28, 28) and (a.after >= a.before - 1e-4).all()


def test_visualizer_keeps_what_it_borrows(ds):
    ex = Extractor(ROBUST, **IDX)
    feats = np.array(extract(ex, ds, progress=False).features.numpy()[:500])  # an owned copy
    sub_index = np.arange(500)
    vis = Visualizer(ex, ds, feats, index=sub_index, k=3, attack=False)
    fv = vis.view(0, np.arange(1000))
    assert fv.rows_considered == 500
    del ex, feats, sub_index
    ds_ref = vis.dataset
    gc.collect()
    vis.extractor.close()  # the Python object's reference only
    fv2 = vis.view(1, None)
    assert fv2.panel.width > 0 and fv2.rows_considered == 500
    panel = fv2.panel
    del vis, fv2
    gc.collect()
    assert panel._repr_png_().startswith(PNG)  # the panel keeps its view (and more) alive
    assert fv.maps().shape == (3, 7, 7) and ds_ref.size == 10000


# ---- run() --------------------------------------------------------------------------------


def test_run_is_barlow_run(tmp_path):
    out = tmp_path / "run"
    res = run(model=ROBUST, predict=STANDARD, idx=IMAGES, idx_labels=LABELS,
              class_names=CLASSES, out=out, k=5, depth=1, top=3, attack_steps=5,
              classes=["Shirt"], quiet=True)
    assert res["format"] == "barlow-run"
    assert res.report == out / "index.html" and res.report.exists()
    assert (out / "features.npz").exists()
    with pytest.raises(errors.InvalidArgument, match="--depth"):
        run(model=ROBUST, predict=STANDARD, idx=IMAGES, idx_labels=LABELS, out=out, depth=7,
            quiet=True)
    with pytest.raises(errors.IOFailure, match="missing.pt") as e:
        run(model=tmp_path / "missing.pt", predict=STANDARD, idx=IMAGES, idx_labels=LABELS,
            out=tmp_path / "run2", quiet=True)
    assert e.value.returncode == 1
    assert res.report.exists()  # the failed runs left the previous one alone


# ---- progress, cancel, Ctrl-C --------------------------------------------------------------


def _works_again(robust, ds, extraction):
    r = robust.extract(ds, progress=False)
    np.testing.assert_array_equal(r.features.numpy(), extraction.features.numpy())


def test_progress_callable_sees_every_batch(robust, ds):
    seen = []
    p = Progress(lambda d, t: seen.append((d, t)))
    robust.extract(ds, progress=p)
    assert seen[-1] == (10000, 10000) and len(seen) == -(-10000 // 32)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert p.calls == len(seen) and p.done == 10000


def test_cancel_from_another_thread(robust, ds, extraction):
    first = threading.Event()

    def slow(done, total):
        first.set()
        time.sleep(0.002)  # >= 0.6 s over the 313 batches: time for the cancel

    p = Progress(slow)
    t = threading.Thread(target=lambda: (first.wait(10), p.cancel()))
    t.start()
    with pytest.raises(errors.Cancelled, match="cancel"):
        robust.extract(ds, progress=p)
    t.join()
    assert p.done < 10000 and not p.cancel_requested  # used up by the call it stopped
    _works_again(robust, ds, extraction)


def test_progress_callable_cancels(robust, ds, extraction):
    calls = []

    def stop_at_3(done, total):
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        robust.extract(ds, progress=stop_at_3)
    assert len(calls) == 3  # no callback after the cancel
    with pytest.raises(errors.Cancelled):
        robust.extract(ds, progress=lambda d, t: d >= 64)  # a true return cancels

    class Oops(Exception):
        pass

    def oops(d, t):
        raise Oops("from the callback")
    with pytest.raises(Oops, match="from the callback"):
        robust.extract(ds, progress=oops)
    # calling back into the running extractor is refused, not a crash
    with pytest.raises(errors.State, match="already running"):
        robust.extract(ds, progress=lambda d, t: robust.run(np.zeros((1, 1, 28, 28),
                                                                    np.float32)))
    _works_again(robust, ds, extraction)


def test_sigint_during_extraction(robust, ds, extraction):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    started, running = threading.Event(), threading.Event()
    calls = []

    def slow(done, total):
        calls.append(done)
        started.set()
        time.sleep(0.002)

    def interrupt():
        if started.wait(10) and running.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    running.set()
    t = threading.Thread(target=interrupt)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            try:
                robust.extract(ds, progress=slow)
            finally:
                running.clear()
    finally:
        t.join()
    assert calls[-1] < 10000  # stopped early, within a batch of the signal
    _works_again(robust, ds, extraction)
