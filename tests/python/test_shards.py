"""Sharded feature stores (include/barlow/shards.h): `barlow extract --shard
i/N`, `barlow merge`, manifests read by analyze and visualize and by the
Python bindings — equal to one unsharded extraction bit for bit, mapped
rather than loaded, and refused with a clear message when incomplete,
overlapping, mismatched, damaged or hostile."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import BUILD, ROOT, run_cli

os.environ.setdefault("BARLOW_BUILD_DIR", str(BUILD))
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "bindings" / "python"))
barlow = pytest.importorskip("barlow")

MODELS = ROOT / "models"
FM = Path("/usr/share/datasets/fashion-mnist")
IMAGES, LABELS = FM / "t10k-images-idx3-ubyte.gz", FM / "t10k-labels-idx1-ubyte.gz"
MEMBERS = ("features", "logits", "index", "labels", "predictions", "status")


def idx_args():
    return ["--idx", IMAGES, "--idx-labels", LABELS, "--class-names",
            MODELS / "fmnist_classes.txt"]


def extract(cli, out, *extra, model="fmnist_robust.pt"):
    run_cli(cli, "extract", "--model", MODELS / model, "--predict",
            MODELS / "fmnist_standard.pt", *idx_args(), "--logits", "--batch", 64,
            "--threads", 1, "--quiet", *extra, "--out", out)


@pytest.fixture(scope="module")
def store(cli, tmp_path_factory):
    """One whole extraction of the Fashion-MNIST test split and the same in
    3 shards, merged."""
    if not barlow.has_torch() or not IMAGES.exists():
        pytest.skip("needs libtorch and dataset-fashion-mnist")
    d = tmp_path_factory.mktemp("store")
    extract(cli, d / "whole.npz")
    for i in range(3):
        extract(cli, d / f"s{i}.npz", "--shard", f"{i}/3")
    run_cli(cli, "merge", d / "s2.npz", d / "s0.npz", d / "s1.npz", "--out",
            d / "f.manifest.json")
    return d


def test_shard_values_refused(cli):
    for bad, why in [("0/0", "N is 0"), ("3/2", "i must be below N"), ("2/2", "below N"),
                     ("a/b", "of the form i/N"), ("1/", "of the form"), ("-1/2", "of the form"),
                     ("1/2/3", "of the form"), ("", "of the form")]:
        p = subprocess.run([str(cli), "extract", "--model", "m.pt", "--idx", "a", "--idx-labels",
                            "b", "--shard", bad, "--out", "x.npz"], capture_output=True, text=True)
        assert p.returncode == 2 and why in p.stderr, (bad, p.stderr)
    for bad in ["0/0", "3/2", "x"]:
        with pytest.raises(barlow.InvalidArgument):
            barlow.parse_shard(bad)
    assert barlow.parse_shard("3/8") == (3, 8)


def test_shard_ranges():
    # boundaries on multiples of the batch, every row once, no empty shard
    for n, count, align in [(10000, 3, 64), (10000, 7, 1), (100, 4, 32), (5, 5, 1)]:
        rs = [barlow.shard_range(n, i, count, align) for i in range(count)]
        assert rs[0][0] == 0 and rs[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(rs, rs[1:]))
        assert all(b > a and a % align == 0 for a, b in rs)
    with pytest.raises(barlow.InvalidArgument, match="at most 4 shards"):
        barlow.shard_range(100, 0, 5, 32)
    assert barlow.shard_range(2**63, 1, 2, 1) == (2**62, 2**63)


def test_shards_equal_whole(store):
    whole = np.load(store / "whole.npz")
    parts = [np.load(store / f"s{i}.npz") for i in range(3)]
    for k in MEMBERS:
        joined = np.concatenate([p[k] for p in parts])
        assert np.array_equal(joined, whole[k]), k
        assert np.array_equal(barlow.load_member(store / "f.manifest.json", k), whole[k]), k
    meta = json.loads(bytes(parts[1]["shard"]).decode())
    assert meta["format"] == "barlow-features-shard" and meta["index"] == 1
    assert meta["count"] == 3 and meta["begin"] % 64 == 0 and meta["dataset_rows"] == 10000
    assert len(meta["model_sha256"]) == 64 and len(meta["predict_sha256"]) == 64
    assert "batch=64" in meta["options"]


def test_manifest_format(store):
    m = json.loads((store / "f.manifest.json").read_text())
    assert m["format"] == "barlow-features-manifest" and m["format_version"] == 1
    assert [s["path"] for s in m["shards"]] == ["s0.npz", "s1.npz", "s2.npz"]
    assert m["extracted"] == 10000 and m["features"] == 128 and m["logits"] == 10
    assert [s["bytes"] for s in m["shards"]] == [(store / f"s{i}.npz").stat().st_size
                                                  for i in range(3)]


def test_analyze_manifest_bit_identical(cli, store):
    outs = []
    for f in ("whole.npz", "f.manifest.json"):
        out = store / f"analysis-{f}.json"
        run_cli(cli, "analyze", "--features", store / f, "--labels", f"{store / f}:labels",
                "--predictions", f"{store / f}:predictions", "--depth", "1,2", "--quiet",
                "--out", out)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_visualize_manifest_identical(cli, store):
    outs = []
    for f in ("whole.npz", "f.manifest.json"):
        out = store / f"vis-{f}"
        run_cli(cli, "visualize", "--model", MODELS / "fmnist_robust.pt", "--features",
                store / f, *idx_args(), "--feature", 7, "--rows", "label:Shirt", "--no-attack",
                "--quiet", "--out", out)
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outs[0] == outs[1] and "maps.npy" in outs[0]


def mapped_files():
    return {line.split(None, 5)[5] for line in Path("/proc/self/maps").read_text().splitlines()
            if len(line.split(None, 5)) == 6}


def test_manifest_matrix_mapped_not_loaded(store):
    X = barlow.Matrix.open_manifest(store / "f.manifest.json")
    assert X.shape == (10000, 128)
    maps = mapped_files()
    for i in range(3):  # every shard's features come from its file's pages
        assert str(store / f"s{i}.npz") in maps
    assert np.array_equal(X.numpy(), np.load(store / "whole.npz")["features"])
    assert X.numpy().flags.writeable is False
    ds = barlow.Dataset.from_npz(store / "f.manifest.json")
    assert ds.class_names[0] == "T-shirt/top" and ds.has_predictions
    a = barlow.analyze(X, ds, k=5, depths=(1,), by="label", progress=False)
    b = barlow.analyze(np.load(store / "whole.npz")["features"], ds, k=5, depths=(1,),
                       by="label", progress=False)
    assert a.to_json() == b.to_json()


def merge(cli, out, *shards):
    p = subprocess.run([str(cli), "merge", *map(str, shards), "--out", str(out)],
                       capture_output=True, text=True)
    return p.returncode, p.stderr


def test_merge_refuses(cli, store, tmp_path):
    s = [store / f"s{i}.npz" for i in range(3)]
    out = tmp_path / "m.json"
    cases = [((s[0], s[2]), "2 of 3 shards given; missing: shard 1"),
             ((s[0], s[0], s[1], s[2]), "are both shard 0 of 3"),
             ((s[0], store / "whole.npz"), "is not a shard"),
             ((s[0], IMAGES), "not a valid .npz"),
             ((s[0], tmp_path / "absent.npz"), "absent.npz")]
    for args, msg in cases:
        rc, err = merge(cli, out, *args)
        assert rc == 1 and msg in err, (args, err)
        assert not out.exists() and not list(tmp_path.glob("m.json.tmp-*"))


def test_merge_refuses_mismatched(cli, store, tmp_path):
    # another feature model for shard 1; another batch size (so other rows) for shard 2
    extract(cli, tmp_path / "s1-std.npz", "--shard", "1/3", model="fmnist_standard.pt")
    rc, err = merge(cli, tmp_path / "m.json", store / "s0.npz", tmp_path / "s1-std.npz",
                    store / "s2.npz")
    assert rc == 1 and "differ in model (SHA-256" in err, err
    run_cli(cli, "extract", "--model", MODELS / "fmnist_robust.pt", "--predict",
            MODELS / "fmnist_standard.pt", *idx_args(), "--logits", "--batch", 32, "--threads", 1,
            "--quiet", "--shard", "2/3", "--out", tmp_path / "s2-b32.npz")
    rc, err = merge(cli, tmp_path / "m.json", store / "s0.npz", store / "s1.npz",
                    tmp_path / "s2-b32.npz")
    assert rc == 1 and "differ in extractor options" in err and "batch=32" in err, err


def rewrite_meta(src, dst, **changes):
    """A copy of shard src with its metadata changed (numpy writes it)."""
    z = dict(np.load(src))
    meta = json.loads(bytes(z["shard"]).decode())
    meta.update(changes)
    z["shard"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(dst, **z)


def test_merge_refuses_overlap(cli, store, tmp_path):
    rewrite_meta(store / "s1.npz", tmp_path / "s1.npz", begin=3000)
    rc, err = merge(cli, tmp_path / "m.json", store / "s0.npz", tmp_path / "s1.npz",
                    store / "s2.npz")
    assert rc == 1 and "rows overlap" in err, err


def copy_store(store, d):
    for i in range(3):
        shutil.copy(store / f"s{i}.npz", d / f"s{i}.npz")
    shutil.copy(store / "f.manifest.json", d / "f.manifest.json")
    return d / "f.manifest.json"


def analyze_fails(cli, manifest, msg):
    p = subprocess.run([str(cli), "analyze", "--features", str(manifest), "--labels",
                        f"{manifest}:labels", "--predictions", f"{manifest}:predictions",
                        "--quiet", "--out", str(manifest.parent / "a.json")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and msg in p.stderr, p.stderr
    assert not (manifest.parent / "a.json").exists()


def test_damaged_stores_refused(cli, store, tmp_path):
    m = copy_store(store, tmp_path)
    with open(tmp_path / "s1.npz", "r+b") as f:  # truncated
        f.truncate(1000)
    analyze_fails(cli, m, "has 1000 bytes; the manifest says")
    shutil.copy(store / "s1.npz", tmp_path / "s1.npz")
    shutil.copy(store / "s2.npz", tmp_path / "s1.npz")  # replaced by another shard
    analyze_fails(cli, m, "s1.npz")
    shutil.copy(store / "s1.npz", tmp_path / "s1.npz")
    (tmp_path / "s2.npz").unlink()
    analyze_fails(cli, m, "s2.npz: No such file")
    (tmp_path / "s2.npz").mkfifo() if hasattr(Path, "mkfifo") else os.mkfifo(tmp_path / "s2.npz")
    analyze_fails(cli, m, "s2.npz")  # a FIFO is refused, never opened
    (tmp_path / "s2.npz").unlink()
    (tmp_path / "s2.npz").symlink_to("/dev/zero")
    analyze_fails(cli, m, "s2.npz")


def test_hostile_manifests(cli, store, tmp_path):
    base = json.loads((store / "f.manifest.json").read_text())
    for i in range(3):
        shutil.copy(store / f"s{i}.npz", tmp_path / f"s{i}.npz")
    m = tmp_path / "f.manifest.json"

    def case(doc, msg):
        m.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
        analyze_fails(cli, m, msg)
        with pytest.raises(barlow.Error, match=re.escape(msg.split(":")[0][:20])):
            barlow.Matrix.open_manifest(m)

    case(dict(base, format_version=99), "format_version 99")
    case(dict(base, extracted=9999), "add up to 10000")
    case(dict(base, features=64), "not the one the manifest lists")
    case(dict(base, shards=base["shards"][:2]), "the shards end at row")
    sh = [dict(x) for x in base["shards"]]
    sh[1]["begin"] = 3000
    case(dict(base, shards=sh), "shards[1] covers rows")
    sh = [dict(x) for x in base["shards"]]
    sh[0]["path"] = "../../../../../etc/passwd"
    case(dict(base, shards=sh), "passwd")
    sh[0]["path"] = 7
    case(dict(base, shards=sh), "shards[0].path is a number")
    raw = json.dumps(base).encode()
    case(raw[:-10], "line")                       # truncated JSON
    case(raw.replace(b'"s0.npz"', b'"s0\xff.npz"'), "UTF-8")
    case(raw + b" trailing", "after")


def png_folder(d, n, corrupt):
    """n 28x28 grey PNGs of the Fashion-MNIST test split in d/<class>/, the
    image `corrupt` (in file order) replaced by garbage."""
    from PIL import Image
    ds = barlow.Dataset.from_idx(IMAGES, LABELS)
    x = ds.labels
    import gzip
    raw = np.frombuffer(gzip.open(IMAGES).read()[16:16 + n * 784], np.uint8).reshape(n, 28, 28)
    paths = []
    for i in range(n):
        c = d / f"c{x[i]}"
        c.mkdir(parents=True, exist_ok=True)
        p = c / f"{i:04d}.png"
        Image.fromarray(raw[i]).save(p)
        paths.append(p)
    order = sorted(paths, key=lambda p: (p.parent.name, p.name))
    order[corrupt].write_bytes(b"not a png at all")
    return order[corrupt]


def test_failed_image_shifts_rows(cli, tmp_path):
    """A failed image in shard 0 moves every later row: shard 1 no longer
    lines up with the pages and is read instead of mapped; the values are
    the same either way."""
    if not barlow.has_torch():
        pytest.skip("needs libtorch")
    png_folder(tmp_path / "imgs", 96, corrupt=3)
    args = ["--model", MODELS / "fmnist_robust.pt", "--folder", tmp_path / "imgs", "--size", 28,
            "--resize", 0, "--channels", 1, "--batch", 8, "--threads", 1, "--quiet"]
    run_cli(cli, "extract", *args, "--out", tmp_path / "whole.npz")
    for i in range(2):
        run_cli(cli, "extract", *args, "--shard", f"{i}/2", "--out", tmp_path / f"p{i}.npz")
    run_cli(cli, "merge", tmp_path / "p0.npz", tmp_path / "p1.npz", "--out", tmp_path / "m.json")
    whole = np.load(tmp_path / "whole.npz")
    assert whole["features"].shape[0] == 95 and (whole["status"] != 0).sum() == 1
    X = barlow.Matrix.open_manifest(tmp_path / "m.json")
    assert np.array_equal(X.numpy(), whole["features"])
    maps = mapped_files()
    assert str(tmp_path / "p0.npz") in maps and str(tmp_path / "p1.npz") not in maps
    assert np.array_equal(barlow.load_member(tmp_path / "m.json", "status"), whole["status"])


def test_save_shard_checks_range(store):
    if not barlow.has_torch():
        pytest.skip("needs libtorch")
    ds = barlow.Dataset.from_idx(IMAGES, LABELS)
    ex = barlow.Extractor(MODELS / "fmnist_robust.pt", input_size=28, resize=0, channels=1,
                          batch_size=64, threads=1)
    r = ex.extract_range(ds, 64, 128)
    assert r.range == (64, 128) and list(r.index[:2]) == [64, 65] and r.count == 64
    with pytest.raises(barlow.InvalidArgument, match="shard 1 of 3"):
        r.save_shard(store / "bad.npz", 1, 3)
    assert not (store / "bad.npz").exists()
    whole = np.load(store / "whole.npz")["features"]
    assert np.array_equal(r.features.numpy(), whole[64:128])
    assert len(ex.model_sha256) == 64 and ex.batch_size == 64


def test_run_with_features(cli, store, tmp_path):
    """barlow run --features: a manifest gives the report of the unsharded
    features (timings aside), panels byte for byte; no extraction."""
    common = ["run", "--model", MODELS / "fmnist_robust.pt", *idx_args(), "--no-attack",
              "--classes", "Shirt", "--depth", "1", "--quiet"]
    res = {}
    for f in ("whole.npz", "f.manifest.json"):
        out = tmp_path / f"run-{f}"
        run_cli(cli, *common, "--features", store / f, "--out", out)
        doc = json.loads((out / "results.json").read_text())
        assert doc["inputs"]["features_file"] == str(store / f)
        assert not (out / "features.npz").exists()
        for st in doc["stages"]:
            st.pop("seconds")
        doc["inputs"].pop("features_file")
        res[f] = (doc, {p.name: p.read_bytes() for p in (out / "panels").iterdir()})
    assert res["whole.npz"] == res["f.manifest.json"]
    p = subprocess.run([str(cli), *map(str, common), "--features", str(store / "whole.npz"),
                        "--predict", str(MODELS / "fmnist_standard.pt"), "--out",
                        str(tmp_path / "x")], capture_output=True, text=True)
    assert p.returncode == 2 and "drop --predict" in p.stderr
    # features of another dataset: refused, nothing written
    png_folder(tmp_path / "imgs", 20, corrupt=0)
    p = subprocess.run([str(cli), "run", "--model", str(MODELS / "fmnist_robust.pt"), "--folder",
                        str(tmp_path / "imgs"), "--size", "28", "--resize", "0", "--channels",
                        "1", "--features", str(store / "f.manifest.json"), "--quiet", "--out",
                        str(tmp_path / "y")], capture_output=True, text=True)
    assert p.returncode == 1 and "give the dataset it was extracted from" in p.stderr, p.stderr
    assert not (tmp_path / "y").exists()
