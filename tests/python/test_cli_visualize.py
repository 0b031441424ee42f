"""`barlow visualize` end to end on the tiny TorchScript test models of
<build>/tests/torch-models (tools/make_test_models.py): features extracted
with `barlow extract` first, then the panel, maps.npy, attacks.npy,
failures.png and the --json document; rankings checked against the .npz
(through its index: some images of meta.csv are skipped at extraction),
heatmaps against the feature values (a map's mean is the feature), attacks
against the model run by PyTorch; usage and error cases."""
import json
import shutil

import numpy as np
import pytest

from conftest import BUILD, run_cli

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

MODELS = BUILD / "tests" / "torch-models"
SIZE = ["--size", 32, "--resize", 36]  # tiny_cnn: 3x32x32 inputs, 16x16 maps, 16 features


@pytest.fixture(scope="module")
def models():
    if not (MODELS / "tiny_cnn.pt").exists():
        pytest.skip(f"the torch test models are not built ({MODELS})")
    return MODELS


@pytest.fixture(scope="module")
def vcli(cli, models, tmp_path_factory):
    """The CLI, skipping when libbarlow was built without libtorch."""
    d = tmp_path_factory.mktemp("probe")
    rc, _, err = run_cli(cli, "extract", "--model", models / "tiny_cnn.pt", "--metadata",
                         models / "meta.csv", "--images", models / "images", *SIZE,
                         "--out", d / "o.npz", check=False)
    if "built without libtorch" in err or "libbarlow-torch" in err:
        pytest.skip("libbarlow was built without libtorch")
    assert rc == 0, err
    return cli


def copy_dataset(models, dst):
    """meta.csv and its images in dst (rows 0-5 good, 6 truncated, 7 missing)."""
    shutil.copytree(models / "images", dst / "images")
    shutil.copy(models / "meta.csv", dst / "meta.csv")
    return ["--metadata", dst / "meta.csv", "--images", dst / "images"]


@pytest.fixture(scope="module")
def meta(vcli, models, tmp_path_factory):
    """meta.csv extracted with tiny_cnn: (dataset args, F.npz, loaded npz)."""
    d = tmp_path_factory.mktemp("meta")
    data = copy_dataset(models, d)
    run_cli(vcli, "extract", "--model", models / "tiny_cnn.pt", *data, *SIZE, "--quiet",
            "--out", d / "f.npz")
    z = dict(np.load(d / "f.npz"))
    assert list(z["index"]) == [0, 1, 2, 3, 4, 5]  # rows 6 and 7 skipped
    assert (z["status"][6:] != 0).all()
    return data, d / "f.npz", z


def visualize(cli, models, data, npz, out, *args, check=True, model="tiny_cnn.pt", size=SIZE):
    # one libtorch thread: tiny models, and no spinning OpenMP workers on a
    # busy machine
    return run_cli(cli, "visualize", "--model", models / model, "--features", npz, *data,
                   *size, "--threads", 1, "--out", out, *args, check=check)


def visualize_json(*a, **k):
    _, out, _ = visualize(*a, **k)
    return json.loads(out)


def expected_top(z, feature, k, rows=None):
    """(dataset row, value) of the k highest values, ties to the lower row,
    among the extracted rows (of `rows` when given)."""
    vals = {int(r): z["features"][i, feature] for i, r in enumerate(z["index"])}
    cand = [r for r in (vals if rows is None else rows) if r in vals]
    cand.sort(key=lambda r: (-vals[r], r))
    return [(r, vals[r]) for r in cand[:k]]


def tiny_cnn_feature(models, x, feature, model="tiny_cnn.pt"):
    m = torch.jit.load(str(models / model)).eval()
    with torch.no_grad():
        return m.forward_features(torch.from_numpy(x)).mean(dim=(2, 3))[:, feature].numpy()


NAMES = {0: "cat", 1: "dog", 2: "bird", 3: "cat", 4: "dog", 5: "bird"}  # meta.csv's rows


def test_outputs_json_and_maps(vcli, models, meta, tmp_path):
    data, npz, z = meta
    out = tmp_path / "viz"
    doc = visualize_json(vcli, models, data, npz, out, "--feature", 3, "--top", 4,
                         "--attack-steps", 40, "--attack-eps", 2.0, "--json")
    assert doc["feature"] == 3 and doc["rows_considered"] == 6
    assert doc["panels"] == [str(out / "feature_3.png"), str(out / "failures.png")]
    assert sorted(p.name for p in out.iterdir()) == ["attacks.npy", "failures.png",
                                                     "feature_3.png", "maps.npy"]
    for p in doc["panels"]:
        with Image.open(p) as im:
            im.load()
            assert im.mode == "RGB" and im.width >= 420 and im.height > 100

    # the ranking: the .npz's features through its index, ties to the lower row
    top = doc["top"]
    assert [(t["row"], np.float32(t["value"])) for t in top] == expected_top(z, 3, 4)
    for a, b in zip(top, top[1:]):
        assert a["value"] > b["value"] or (a["value"] == b["value"] and a["row"] < b["row"])
    meta_rows = (data[1]).read_text().splitlines()[1:]
    for t in top:
        fname, pred, label = meta_rows[t["row"]].split(",")
        assert (t["label"], t["prediction"]) == (label, pred)
        assert z["status"][t["row"]] == 0 and (data[3] / fname).exists()

    # the raw maps: k x h x w, each map's mean is the feature's value
    maps = np.load(out / "maps.npy")
    assert maps.shape == (4, 16, 16) and maps.dtype == np.float32
    values = np.array([t["value"] for t in top])
    assert np.allclose(maps.mean(axis=(1, 2)), values, rtol=1e-4, atol=0)

    # the attacks: k x C x H x W in [0,1], within eps, and the feature rose;
    # attacked_value is the model's feature of the returned images
    att = np.load(out / "attacks.npy")
    assert att.shape == (4, 3, 32, 32) and att.dtype == np.float32
    assert att.min() >= 0 and att.max() <= 1
    dist = np.array([t["distance"] for t in top])
    after = np.array([t["attacked_value"] for t in top])
    assert (dist <= 2.0 + 1e-4).all() and (dist > 0).all()
    assert (after > values).all()
    assert np.allclose(tiny_cnn_feature(models, att, 3), after, rtol=1e-4, atol=1e-6)
    assert doc["attacks"] == str(out / "attacks.npy")
    assert doc["attack"]["steps"] == 40 and doc["attack"]["eps"] == 2.0
    # step keeps its scaled default: 1 * sqrt(3*32*32 / 150528)
    assert doc["attack"]["step"] == pytest.approx(np.sqrt(3 * 32 * 32 / 150528))


def test_skipped_rows_never_ranked(vcli, models, meta, tmp_path):
    """meta.csv's rows 6 (truncated) and 7 (missing file) have no features:
    with --top larger than the set, exactly the extracted rows come back."""
    data, npz, z = meta
    doc = visualize_json(vcli, models, data, npz, tmp_path / "v", "--feature", 5, "--top", 8,
                         "--no-attack", "--least", "--json")
    assert doc["rows_considered"] == 6
    assert sorted(t["row"] for t in doc["top"]) == [0, 1, 2, 3, 4, 5]
    assert [(t["row"], np.float32(t["value"])) for t in doc["top"]] == expected_top(z, 5, 8)
    vals = {int(r): z["features"][i, 5] for i, r in enumerate(z["index"])}
    assert [t["row"] for t in doc["least"]] == sorted(vals, key=lambda r: (vals[r], r))
    assert np.load(tmp_path / "v" / "maps.npy").shape == (6, 16, 16)


def test_no_attack_and_eps_zero(vcli, models, meta, tmp_path):
    data, npz, z = meta
    doc = visualize_json(vcli, models, data, npz, tmp_path / "n", "--feature", 1, "--top", 3,
                         "--no-attack", "--json")
    assert not (tmp_path / "n" / "attacks.npy").exists()
    assert doc["attacks"] is None and doc["attack"] is None
    assert all(t["attacked_value"] is None and t["distance"] is None for t in doc["top"])

    # eps 0: nothing moves; the "attacked" images are the model's inputs
    doc0 = visualize_json(vcli, models, data, npz, tmp_path / "e0", "--feature", 1, "--top", 3,
                          "--attack-steps", 20, "--attack-eps", 0, "--json")
    x0 = np.load(tmp_path / "e0" / "attacks.npy")
    values = np.array([t["value"] for t in doc0["top"]])
    for t in doc0["top"]:
        assert t["distance"] == 0 and t["attacked_value"] == pytest.approx(t["value"], rel=1e-4)
    assert np.allclose(tiny_cnn_feature(models, x0, 1), values, rtol=1e-4)
    assert [t["row"] for t in doc0["top"]] == [t["row"] for t in doc["top"]]

    # a small ball: every distance is the L2 distance from those inputs, <= eps
    doc1 = visualize_json(vcli, models, data, npz, tmp_path / "e1", "--feature", 1, "--top", 3,
                          "--attack-steps", 20, "--attack-step", 0.05, "--attack-eps", 0.3,
                          "--json")
    x1 = np.load(tmp_path / "e1" / "attacks.npy")
    dist = np.array([t["distance"] for t in doc1["top"]])
    assert (dist <= 0.3 + 1e-4).all()
    assert np.allclose(np.sqrt(((x1 - x0) ** 2).sum(axis=(1, 2, 3))), dist, atol=1e-4)
    assert doc1["attack"] == {"steps": 20, "step": 0.05, "eps": 0.3}


def test_rows_by_class_and_by_file(vcli, models, meta, tmp_path):
    data, npz, z = meta
    common = ["--feature", 7, "--top", 3, "--no-attack", "--json"]
    # meta.csv's classes in byte order: bird 0, cat 1, dog 2
    by_name = visualize_json(vcli, models, data, npz, tmp_path / "a", "--rows", "label:dog",
                             *common)
    by_id = visualize_json(vcli, models, data, npz, tmp_path / "b", "--rows", "label:2", *common)
    assert by_name["top"] == by_id["top"] and by_name["rows_considered"] == 2
    labels = {r: lab for r, lab in zip(z["index"], z["labels"])}
    assert all(labels[t["row"]] == 2 and t["label"] == "dog" for t in by_name["top"])
    assert [t["row"] for t in by_name["top"]] == [r for r, _ in expected_top(z, 7, 3, [2, 5])]

    pred = visualize_json(vcli, models, data, npz, tmp_path / "c", "--rows", "prediction:cat",
                          *common)
    pred_id = visualize_json(vcli, models, data, npz, tmp_path / "d", "--rows", "prediction:1",
                             *common)
    assert pred["top"] == pred_id["top"]
    assert {t["row"] for t in pred["top"]} == {0, 3}  # row 6 predicts cat but was skipped

    np.save(tmp_path / "rows.npy", np.array([5, 1, 4, 7], dtype=np.int64))
    doc = visualize_json(vcli, models, data, npz, tmp_path / "e", "--rows",
                         tmp_path / "rows.npy", *common)
    assert doc["rows_considered"] == 3  # row 7 has no features
    assert [t["row"] for t in doc["top"]] == [r for r, _ in expected_top(z, 7, 3, [5, 1, 4])]
    np.savez(tmp_path / "sets.npz", leaf=np.array([5, 1, 4, 7], dtype=np.int32))
    doc2 = visualize_json(vcli, models, data, npz, tmp_path / "f", "--rows",
                          f"{tmp_path / 'sets.npz'}:leaf", *common)
    assert doc2["top"] == doc["top"]


def write_idx(path, magic, arr):
    with open(path, "wb") as f:
        f.write(magic.to_bytes(4, "big"))
        for dim in arr.shape:
            f.write(int(dim).to_bytes(4, "big"))
        f.write(arr.astype(np.uint8).tobytes())


def test_idx_grey_ties_and_scaled_budget(vcli, models, tmp_path):
    """An IDX dataset (28x28 grey defaults) whose rows 6..11 repeat rows
    0..5: equal values rank by the lower row; the attack budget is the
    reference's scaled by sqrt(1*28*28 / 150528)."""
    gen = np.random.default_rng(3)
    img = gen.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    img = np.concatenate([img, img])
    lab = np.array([0, 1, 2, 0, 1, 2] * 2, dtype=np.uint8)
    write_idx(tmp_path / "img.idx", 0x00000803, img)
    write_idx(tmp_path / "lab.idx", 0x00000801, lab)
    data = ["--idx", tmp_path / "img.idx", "--idx-labels", tmp_path / "lab.idx"]
    run_cli(vcli, "extract", "--model", models / "grey_cnn.pt", *data, "--quiet",
            "--out", tmp_path / "f.npz")
    z = dict(np.load(tmp_path / "f.npz"))
    doc = visualize_json(vcli, models, data, tmp_path / "f.npz", tmp_path / "v",
                         "--feature", 2, "--top", 6, "--attack-steps", 5, "--json",
                         model="grey_cnn.pt", size=[])
    top = doc["top"]
    vals = z["features"][:, 2]
    order = sorted(range(12), key=lambda r: (-vals[r], r))[:6]
    assert [t["row"] for t in top] == order
    ties = [(a["row"], b["row"]) for a, b in zip(top, top[1:]) if a["value"] == b["value"]]
    assert ties and all(a < b for a, b in ties)
    assert all(t["prediction"] is None for t in top)  # IDX: no predictions
    assert doc["panels"] == [str(tmp_path / "v" / "feature_2.png")]  # so no failures.png
    s = np.sqrt(28 * 28 / 150528)
    assert doc["attack"]["step"] == pytest.approx(s)
    assert doc["attack"]["eps"] == pytest.approx(500 * s)
    assert np.load(tmp_path / "v" / "attacks.npy").shape == (6, 1, 28, 28)
    assert np.load(tmp_path / "v" / "maps.npy").shape == (6, 14, 14)
    rc, _, err = visualize(vcli, models, data, tmp_path / "f.npz", tmp_path / "w",
                           "--feature", 2, "--rows", "prediction:1", check=False,
                           model="grey_cnn.pt", size=[])
    assert rc == 1 and "predictions" in err and not (tmp_path / "w").exists()


def test_usage_and_errors(vcli, models, meta, tmp_path):
    data, npz, z = meta
    d = z["features"].shape[1]
    rc, out, _ = run_cli(vcli, "visualize", "--help")
    assert rc == 0 and "150528" in out and "--no-attack" in out
    rc, _, err = visualize(vcli, models, data, npz, tmp_path / "o", "--feature", d, check=False)
    assert rc == 1 and f"--feature {d}" in err and f"have {d} columns" in err
    assert not (tmp_path / "o").exists()
    for bad in (["--top", 0], ["--top", 65], ["--no-attack", "--attack-eps", 1],
                ["--attack-step", 0], ["--attack-eps", -1],
                ["--shared-scale", "--per-image-scale"], ["--channels", 2]):
        rc, _, err = visualize(vcli, models, data, npz, tmp_path / "o", "--feature", 0, *bad,
                               check=False)
        assert rc == 2, (bad, err)
    rc, _, err = run_cli(vcli, "visualize", "--model", models / "tiny_cnn.pt", "--features",
                         npz, "--feature", 0, "--out", tmp_path / "o", check=False)
    assert rc == 2 and "exactly one of" in err
    assert not (tmp_path / "o").exists()

    rc, _, err = visualize(vcli, models, data, npz, tmp_path / "o", "--feature", 0, "--rows",
                           "label:zebra", check=False)
    assert rc == 1 and "zebra" in err and not (tmp_path / "o").exists()
    np.save(tmp_path / "neg.npy", np.array([1, -3]))
    rc, _, err = visualize(vcli, models, data, npz, tmp_path / "o", "--feature", 0, "--rows",
                           tmp_path / "neg.npy", check=False)
    assert rc == 1 and "-3" in err
    np.save(tmp_path / "none.npy", np.array([6, 7]))
    rc, _, err = visualize(vcli, models, data, npz, tmp_path / "o", "--feature", 0, "--rows",
                           tmp_path / "none.npy", check=False)
    assert rc == 1 and "none of its 2 rows has features" in err

    # --out names a regular file: refused before any work, nothing written
    (tmp_path / "afile").write_text("keep me\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, _, err = visualize(vcli, models, data, npz, tmp_path / "afile", "--feature", 0,
                           check=False)
    assert rc == 1 and "not a directory" in err
    assert (tmp_path / "afile").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # a missing parent: not made
    rc, _, err = visualize(vcli, models, data, npz, tmp_path / "no" / "such", "--feature", 0,
                           check=False)
    assert rc == 1 and str(tmp_path / "no") in err and not (tmp_path / "no").exists()
    # an output path that cannot be written (a directory where maps.npy
    # goes): refused before any work, the panel is not written
    (tmp_path / "busy" / "maps.npy").mkdir(parents=True)
    rc, _, err = visualize(vcli, models, data, npz, tmp_path / "busy", "--feature", 0,
                           check=False)
    assert rc == 1 and "maps.npy" in err
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["maps.npy"]
    # the features of another dataset (other class ids): refused
    (tmp_path / "names.txt").write_text("dog\ncat\nbird\n")
    rc, _, err = visualize(vcli, models, data + ["--class-names", tmp_path / "names.txt"], npz,
                           tmp_path / "o", "--feature", 0, check=False)
    assert rc == 1 and "does not match the dataset" in err and not (tmp_path / "o").exists()


def test_unwritable_directory(vcli, models, meta, tmp_path):
    import os
    if os.geteuid() == 0:
        pytest.skip("root writes into a 0500 directory")
    data, npz, _ = meta
    (tmp_path / "ro").mkdir(mode=0o500)
    try:
        rc, _, err = visualize(vcli, models, data, npz, tmp_path / "ro", "--feature", 0,
                               check=False)
        assert rc == 1 and "ro" in err and list((tmp_path / "ro").iterdir()) == []
        rc, _, err = visualize(vcli, models, data, npz, tmp_path / "ro" / "sub", "--feature", 0,
                               check=False)
        assert rc == 1 and not (tmp_path / "ro" / "sub").exists()
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_image_deleted_after_extraction(vcli, models, tmp_path):
    """A top-ranked image deleted since extraction: exit 1 naming the file,
    no panel or array left behind (the directory this run made is gone; an
    existing one stays, empty)."""
    data = copy_dataset(models, tmp_path)
    run_cli(vcli, "extract", "--model", models / "tiny_cnn.pt", *data, *SIZE, "--quiet",
            "--out", tmp_path / "f.npz")
    z = dict(np.load(tmp_path / "f.npz"))
    row, _ = expected_top(z, 9, 1)[0]
    name = (tmp_path / "meta.csv").read_text().splitlines()[1 + row].split(",")[0]
    (tmp_path / "images" / name).unlink()
    rc, _, err = visualize(vcli, models, data, tmp_path / "f.npz", tmp_path / "v",
                           "--feature", 9, "--top", 2, "--attack-steps", 5, check=False)
    assert rc == 1 and name in err, err
    assert not (tmp_path / "v").exists()
    (tmp_path / "w").mkdir()
    rc, _, err = visualize(vcli, models, data, tmp_path / "f.npz", tmp_path / "w",
                           "--feature", 9, "--top", 2, "--attack-steps", 5, check=False)
    assert rc == 1 and name in err
    assert list((tmp_path / "w").iterdir()) == []
