"""Class names travel with the data (issue 11): `barlow extract` stores the
dataset's class names in the .npz as a numpy '<U' member `class_names`,
`barlow analyze --labels F.npz:labels` names the classes by them without
--class-names, and --class-names names the classes of IDX files."""
import json

import numpy as np
import pytest

from conftest import BUILD, run_cli

MODELS = BUILD / "tests" / "torch-models"


@pytest.fixture(scope="module")
def torch_cli(cli, tmp_path_factory):
    if not (MODELS / "tiny_cnn.pt").exists():
        pytest.skip("no torch test models in the build")
    d = tmp_path_factory.mktemp("probe")
    rc, _, err = run_cli(cli, "extract", "--model", MODELS / "tiny_cnn.pt", "--metadata",
                         MODELS / "meta.csv", "--images", MODELS / "images", "--size", 32,
                         "--resize", 32, "--out", d / "f.npz", check=False)
    if rc != 0 and "libtorch" in err:
        pytest.skip("libbarlow was built without libtorch")
    return cli


def test_extract_then_analyze_names_classes(torch_cli, tmp_path):
    out = tmp_path / "f.npz"
    run_cli(torch_cli, "extract", "--model", MODELS / "tiny_cnn.pt", "--metadata",
            MODELS / "meta.csv", "--images", MODELS / "images", "--size", 32, "--resize", 32,
            "--out", out)
    z = np.load(out)
    names = list(z["class_names"])
    assert z["class_names"].dtype.kind == "U"
    assert set(names) >= {"cat", "dog", "bird"}
    assert names == sorted(names)  # the CSV loader's ids: byte order
    run_cli(torch_cli, "analyze", "--features", out, "--labels", f"{out}:labels",
            "--predictions", f"{out}:predictions", "--k", 2, "--min-group-size", 1,
            "--out", tmp_path / "r.json", "--csv", tmp_path / "s.csv")
    res = json.loads((tmp_path / "r.json").read_text())
    got = {g["name"] for g in res["groups"]}
    assert got and got <= set(names) and {"cat", "dog", "bird"} & got
    # --class-names still overrides the stored names
    (tmp_path / "n.txt").write_text("".join(f"x{i}\n" for i in range(len(names))))
    run_cli(torch_cli, "analyze", "--features", out, "--labels", f"{out}:labels",
            "--predictions", f"{out}:predictions", "--k", 2, "--min-group-size", 1,
            "--class-names", tmp_path / "n.txt", "--out", tmp_path / "r2.json",
            "--csv", tmp_path / "s2.csv")
    res = json.loads((tmp_path / "r2.json").read_text())
    assert {g["name"] for g in res["groups"]} <= {f"x{i}" for i in range(len(names))}


def write_idx(tmp_path, n=6, side=32):
    rng = np.random.default_rng(0)
    pix = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
    lab = (np.arange(n) % 3).astype(np.uint8)
    (tmp_path / "img.idx").write_bytes(
        np.array([0x803, n, side, side], ">u4").tobytes() + pix.tobytes())
    (tmp_path / "lab.idx").write_bytes(np.array([0x801, n], ">u4").tobytes() + lab.tobytes())
    return lab


def test_extract_idx_with_class_names(torch_cli, tmp_path):
    lab = write_idx(tmp_path)
    names = ["T-shirt", "water jug", "café ☕"]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    out = tmp_path / "f.npz"
    run_cli(torch_cli, "extract", "--model", MODELS / "tiny_cnn.pt", "--idx",
            tmp_path / "img.idx", "--idx-labels", tmp_path / "lab.idx", "--size", 32,
            "--resize", 32, "--channels", 3, "--class-names", tmp_path / "names.txt",
            "--out", out)
    z = np.load(out)
    assert list(z["class_names"]) == names
    assert (z["labels"] == lab).all()
    # too few names for the labels: an error naming the file
    (tmp_path / "few.txt").write_text("a\nb\n")
    rc, _, err = run_cli(torch_cli, "extract", "--model", MODELS / "tiny_cnn.pt", "--idx",
                         tmp_path / "img.idx", "--idx-labels", tmp_path / "lab.idx",
                         "--size", 32, "--resize", 32, "--channels", 3, "--class-names",
                         tmp_path / "few.txt", "--out", tmp_path / "g.npz", check=False)
    assert rc != 0 and "few.txt" in err
    assert not (tmp_path / "g.npz").exists()


def test_numpy_written_names_are_read(cli, tmp_path):
    """A '<U' member written by numpy (not by libbarlow) names the classes;
    a numeric class_names member is refused."""
    names = np.array(["cat", "dög", "🐦 bird"])
    assert names.dtype.str == "<U6"
    feats = np.random.default_rng(1).standard_normal((12, 4)).astype(np.float32)
    labels = (np.arange(12) % 3).astype(np.int32)
    preds = ((np.arange(12) + (np.arange(12) % 2)) % 3).astype(np.int32)
    np.savez(tmp_path / "f.npz", features=feats, labels=labels, predictions=preds,
             class_names=names)
    f = tmp_path / "f.npz"
    run_cli(cli, "analyze", "--features", f, "--labels", f"{f}:labels", "--predictions",
            f"{f}:predictions", "--k", 2, "--min-group-size", 1, "--out",
            tmp_path / "r.json", "--csv", tmp_path / "s.csv")
    res = json.loads((tmp_path / "r.json").read_text())
    assert {g["name"] for g in res["groups"]} == set(names)
    np.savez(tmp_path / "bad.npz", features=feats, labels=labels, predictions=preds,
             class_names=np.arange(3))
    b = tmp_path / "bad.npz"
    rc, _, err = run_cli(cli, "analyze", "--features", b, "--labels", f"{b}:labels",
                         "--predictions", f"{b}:predictions", "--out", tmp_path / "b.json",
                         "--csv", tmp_path / "b.csv", check=False)
    assert rc != 0 and "class_names" in err
