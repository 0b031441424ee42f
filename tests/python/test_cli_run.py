"""`barlow run` end to end on a small generated image dataset and the tiny
robust TorchScript model of <build>/tests/torch-models (tiny_cnn.pt, 3x32x32
inputs, 16 features; tools/make_test_models.py).

The dataset (made once per module): 90 PNG images 32x32 in 3 classes, one of
them named like an HTML injection and one with quotes and an ampersand, a
third of each class bright; the bright images of the first class (and half of
those of the second) are mispredicted in the metadata CSV, so the failure
trees have something to find. One more row names a corrupt PNG: extraction
skips it.

Covered: the run directory's files, results.json, features.npz against
`barlow extract`, leaves.npz against the trees, HTML escaping and link
integrity, reuse of the extraction and panels (and --force, a touched CSV),
--single-file, --classes, --feature-names, bad inputs and outputs (the
previous DIR is left byte-identical, no staging directory remains), SIGINT
during a run, and `barlow demo`'s usage and its missing-models error."""
import base64
import csv
import gzip
import hashlib
import html
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
import types
from pathlib import Path

import numpy as np
import pytest

from conftest import BUILD, run_cli

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

MODELS = BUILD / "tests" / "torch-models"
XSS = "<img src=x onerror=alert(1)>"
QUOTED = "a \"quoted\" & 'odd' name"
PLAIN = "plain"
CLASSES = [XSS, QUOTED, PLAIN]  # the CSV loader's ids are in byte order: 0, 1, 2
N_IMAGES = 90
CORRUPT_ROW = 40  # the dataset row of the corrupt PNG
# one libtorch thread (a busy 2-core machine), a few attack steps, 3 images a row
FAST = ["--size", 32, "--resize", 0, "--threads", 1, "--attack-steps", 3, "--top", 3]
RUN_FILES = {"index.html", "report.css", "results.json", "features.npz", "leaves.npz",
             "feature-names-template.json", ".barlow-run"}


# ---- the dataset and the runs ------------------------------------------------------------


class Dataset:
    def __init__(self, root):
        self.root = root
        self.images = root / "img"
        self.csv = root / "meta.csv"
        self.rows = []  # (file, prediction, label) per dataset row

    def args(self, csv_path=None):
        return ["--metadata", csv_path or self.csv, "--images", self.images]

    def label_ids(self):
        return np.array([CLASSES.index(r[2]) for r in self.rows])

    def prediction_ids(self):
        return np.array([CLASSES.index(r[1]) for r in self.rows])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    ds = Dataset(tmp_path_factory.mktemp("data"))
    ds.images.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(N_IMAGES):
        c = i % 3
        bright = (i // 3) % 3 == 0
        x = np.zeros((32, 32, 3), np.float32)
        x[..., c] = 0.55
        if c == 0:
            x[8:24, 8:24, :] += 0.2  # a square
        elif c == 1:
            x[:, ::4, :] += 0.25  # vertical stripes
        else:
            x[::4, :, :] += 0.25  # horizontal stripes
        x *= 1.6 if bright else 0.6
        x += rng.normal(0, 0.04, x.shape)
        name = f"im{i:03d}.png"
        Image.fromarray((np.clip(x, 0, 1) * 255).astype(np.uint8)).save(ds.images / name)
        wrong = bright and (c == 0 or (c == 1 and i % 2))
        rows.append((name, CLASSES[(c + 1) % 3] if wrong else CLASSES[c], CLASSES[c]))
    (ds.images / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a PNG after all")
    rows.insert(CORRUPT_ROW, ("corrupt.png", XSS, XSS))
    with open(ds.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Filenames", "Predictions", "Labels"])
        w.writerows(rows)
    ds.rows = rows
    return ds


def run_barlow(cli, dataset, out, *extra, check=True, csv_path=None, model="tiny_cnn.pt"):
    model_path = model if isinstance(model, Path) else MODELS / model
    return run_cli(cli, "run", "--model", model_path, *dataset.args(csv_path), *FAST, *extra,
                   "--out", out, check=check)


@pytest.fixture(scope="module")
def base(cli, dataset, tmp_path_factory):
    """The full run with default options, into <tmp>/runs/report."""
    if not (MODELS / "tiny_cnn.pt").exists():
        pytest.skip(f"the torch test models are not built ({MODELS})")
    b = types.SimpleNamespace()
    b.dir = tmp_path_factory.mktemp("runs") / "report"
    t0 = time.monotonic()
    b.rc, b.out, b.err = run_barlow(cli, dataset, b.dir, check=False)
    b.seconds = time.monotonic() - t0
    if "built without libtorch" in b.err or "libbarlow-torch" in b.err:
        pytest.skip("libbarlow was built without libtorch")
    assert b.rc == 0, b.err
    b.results = json.loads((b.dir / "results.json").read_text(encoding="utf-8"))
    return b


def results(d):
    return json.loads((Path(d) / "results.json").read_text(encoding="utf-8"))


def staging_dirs(out):
    out = Path(out)
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.tmp-"))


def tree_digest(d):
    """Every entry under d (hidden ones too, symbolic links not followed):
    relative path -> kind and content hash / link target / mode."""
    d = Path(d)
    got = {}
    for root, dirs, files in os.walk(d, followlinks=False):
        for name in dirs + files:
            p = Path(root) / name
            st = os.lstat(p)
            rel = str(p.relative_to(d))
            if stat.S_ISLNK(st.st_mode):
                got[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                got[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                got[rel] = ("file", stat.S_IMODE(st.st_mode),
                            hashlib.sha256(p.read_bytes()).hexdigest())
    return got


def copy_run(base, dst):
    shutil.copytree(base.dir, dst, symlinks=True)
    return dst


def stage(doc, name):
    return next(s for s in doc["stages"] if s["name"] == name)


def html_files(d):
    return sorted(Path(d).rglob("*.html"))


def png_ok(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.load()
        assert im.width > 10 and im.height > 10
    return True


def analysis_trees(doc):
    """{(grouping, class id, depth): tree} of the embedded analysis."""
    trees = {}
    for g in doc["analysis"]["groups"]:
        for res in g.get("results", []):
            if res.get("tree"):
                trees[(g["grouping"], g["class"], res["depth"])] = res["tree"]
    return trees


# ---- 1. the full run ---------------------------------------------------------------------


def test_full_run_directory_and_results(base, dataset):
    d, doc = base.dir, base.results
    names = {p.name for p in d.iterdir()}
    assert RUN_FILES <= names, names
    assert staging_dirs(d) == []
    assert base.out.strip().splitlines()[-1] == f"Report: {d}/index.html"

    # results.json: the format, the inputs against the CSV (the corrupt row not extracted)
    assert doc["format"] == "barlow-run" and doc["format_version"] == 1
    inp = doc["inputs"]
    labels, preds = dataset.label_ids(), dataset.prediction_ids()
    extracted = np.array([i != CORRUPT_ROW for i in range(len(dataset.rows))])
    assert inp["rows"] == len(dataset.rows) == N_IMAGES + 1
    assert inp["extracted"] == N_IMAGES
    assert inp["failures"] == int(((labels != preds) & extracted).sum()) == 15
    assert inp["features"] == 16 and inp["predict"] is None
    assert [s["name"] for s in doc["stages"]][:3] == ["extract", "analyze", "panels"]
    assert not any(s["reused"] for s in doc["stages"])
    assert doc["options"]["classes"] is None and doc["options"]["top"] == 3
    assert doc["options"]["attack_steps"] == 3

    # the analysis, whole, with its evaluation (Table 1)
    an = doc["analysis"]
    assert an["rows"] == N_IMAGES and an["classes"] == 3
    assert len(an["groups"]) == 6
    ev = {(e["grouping"], e["depth"]) for e in an["evaluation"]}
    assert ev == {(g, dd) for g in ("label", "prediction") for dd in (1, 2)}
    assert {g["name"] for g in an["groups"]} == set(CLASSES)

    # the groups shown: every group, a page each, rules as sentences, panels as PNGs
    pages = {p.name for p in (d / "groups").iterdir()}
    assert pages == {Path(g["page"]).name for g in doc["groups"]}
    assert len(doc["groups"]) == 6
    panels = samples = 0
    for g in doc["groups"]:
        assert g["class_name"] == CLASSES[g["class_id"]]
        assert g["page"] == f"groups/{g['grouping']}-{g['class_id']}.html"
        assert (d / g["page"]).is_file()
        assert [x["depth"] for x in g["depths"]] == [1, 2]
        for dep in g["depths"]:
            rule = dep["rule"]
            assert isinstance(rule, str) and re.match(r"^(When|For) .*error rate.*\.?", rule), rule
            assert len(rule.split()) >= 8 and "\n" not in rule, rule
            for f in dep["features"]:
                assert f"feature {f['feature']}" in rule, (rule, f)
                assert f["name"] is None
                if f["panel"] is not None:
                    assert f["panel"].startswith("panels/") and png_ok(d / f["panel"])
                    assert f["rows_considered"] > 0 and f["map_max"] >= 0
                    panels += 1
            if dep["samples"] is not None:
                assert dep["samples"].startswith("samples/") and png_ok(d / dep["samples"])
                samples += 1
    # the trees found the bright failures: rules with features, panels and samples
    assert panels >= 2 and samples >= 2
    on_disk = {f"panels/{p.name}" for p in (d / "panels").iterdir()}
    listed = {f["panel"] for g in doc["groups"] for dep in g["depths"] for f in dep["features"]
              if f["panel"]}
    assert on_disk == listed
    # the feature-names template names the features on the rules
    tmpl = json.loads((d / "feature-names-template.json").read_text())
    assert {int(k) for k in tmpl} == {int(Path(p).stem.split("-f")[-1]) for p in listed}
    keys = (d / ".barlow-run").read_text().splitlines()
    assert keys[0] == "barlow-run 1"
    assert {k.split(" ", 1)[0] for k in keys[1:]} == {"extract", "panels"}


def test_report_links_resolve(base):
    """Every relative href/src of every page names an existing file, and
    every #fragment an id of its page."""
    d = base.dir
    ids = {}
    for page in html_files(d):
        text = page.read_text(encoding="utf-8")
        ids[page] = set(re.findall(r'\bid="([^"]+)"', text))
    checked = 0
    for page in html_files(d):
        text = page.read_text(encoding="utf-8")
        assert text.lstrip().lower().startswith("<!doctype html>")
        for url in re.findall(r'\b(?:href|src)="([^"]*)"', text):
            url = html.unescape(url)
            if re.match(r"^[a-z]+:", url):
                assert url.startswith("data:image/png;base64,"), url  # nothing external
                continue
            path, _, frag = url.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.is_file(), (page, url)
            assert d.resolve() in target.parents  # inside the run directory
            if frag:
                assert frag in ids[target], (page, url)
            checked += 1
    assert checked > 20


# ---- 2. features.npz is barlow extract's ---------------------------------------------------


def test_features_npz_equals_barlow_extract(base, cli, dataset, tmp_path):
    ref = tmp_path / "f.npz"
    run_cli(cli, "extract", "--model", MODELS / "tiny_cnn.pt", *dataset.args(), "--size", 32,
            "--resize", 0, "--threads", 1, "--quiet", "--out", ref)
    a, b = np.load(ref), np.load(base.dir / "features.npz")
    assert sorted(a.files) == sorted(b.files)
    assert {"features", "index", "labels", "predictions", "status", "class_names"} <= set(a.files)
    for k in a.files:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert np.array_equal(a[k], b[k]), k
    assert b["features"].shape == (N_IMAGES, 16)
    assert CORRUPT_ROW not in set(b["index"].tolist())
    assert b["status"][CORRUPT_ROW] != 0 and (np.delete(b["status"], CORRUPT_ROW) == 0).all()
    assert list(b["class_names"]) == CLASSES


# ---- 3. leaves.npz against the trees -----------------------------------------------------


def test_leaves_match_the_trees(base, dataset):
    z = np.load(base.dir / "leaves.npz")
    members = ["label_depth1", "label_depth2", "prediction_depth1", "prediction_depth2"]
    assert sorted(z.files) == members
    n = len(dataset.rows)
    trees = analysis_trees(base.results)
    ids = {"label": dataset.label_ids(), "prediction": dataset.prediction_ids()}
    for m in members:
        grouping, depth = m.split("_depth")
        depth = int(depth)
        leaves = z[m]
        assert leaves.dtype == np.int32 and leaves.shape == (n,), m
        assert list(np.flatnonzero(leaves == -1)) == [CORRUPT_ROW], m
        for c in range(3):
            rows = np.flatnonzero((ids[grouping] == c) & (np.arange(n) != CORRUPT_ROW))
            tree = trees[(grouping, c, depth)]
            nodes = {nd["id"]: nd for nd in tree["nodes"]}
            got = dict(zip(*np.unique(leaves[rows], return_counts=True)))
            for leaf, count in got.items():
                assert nodes[int(leaf)]["is_leaf"], (m, c, leaf)
                assert nodes[int(leaf)]["size"] == count, (m, c, leaf)
            expect = {i: nd["size"] for i, nd in nodes.items() if nd["is_leaf"] and nd["size"]}
            assert {int(k): int(v) for k, v in got.items()} == expect, (m, c)
            assert tree["size"] == len(rows)


# ---- 4. hostile class names --------------------------------------------------------------


def test_hostile_class_names_are_escaped(base):
    d = base.dir
    pages = html_files(d)
    assert len(pages) == 7
    escaped_seen = 0
    for p in pages:
        text = p.read_text(encoding="utf-8")
        assert XSS not in text, p
        assert QUOTED not in text, p  # the '&' and the quotes are escaped
        assert "<img src=x" not in text.lower(), p
        if "&lt;img src=x onerror=alert(1)&gt;" in text:
            escaped_seen += 1
    assert escaped_seen >= 3  # the overview and both pages of class 0
    for page in ("index.html", "groups/label-0.html", "groups/prediction-0.html"):
        assert XSS in html.unescape((d / page).read_text(encoding="utf-8")), page
    for page in ("index.html", "groups/label-1.html", "groups/prediction-1.html"):
        assert QUOTED in html.unescape((d / page).read_text(encoding="utf-8")), page
    # results.json holds them as they are
    assert {g["class_name"] for g in base.results["groups"]} == set(CLASSES)


# ---- 5. reuse ------------------------------------------------------------------------------


def test_reuse_force_and_a_touched_csv(base, cli, dataset, tmp_path):
    d = copy_run(base, tmp_path / "reuse")
    old_features = (d / "features.npz").read_bytes()

    t0 = time.monotonic()
    run_barlow(cli, dataset, d, "--depth", "1")
    t_reused = time.monotonic() - t0
    doc = results(d)
    assert stage(doc, "extract")["reused"] and stage(doc, "panels")["reused"], doc["stages"]
    assert not stage(doc, "analyze")["reused"]
    # the panels took a fraction of the first run's (they were carried over)
    assert stage(doc, "panels")["seconds"] < 0.5 * stage(base.results, "panels")["seconds"]
    assert t_reused < base.seconds + 5
    assert (d / "features.npz").read_bytes() == old_features
    assert sorted(np.load(d / "leaves.npz").files) == ["label_depth1", "prediction_depth1"]
    assert all([x["depth"] for x in g["depths"]] == [1] for g in doc["groups"])
    for g in doc["groups"]:
        for f in g["depths"][0]["features"]:
            assert png_ok(d / f["panel"])
    assert staging_dirs(d) == []

    run_barlow(cli, dataset, d, "--depth", "1", "--force")
    doc = results(d)
    assert not any(s["reused"] for s in doc["stages"]), doc["stages"]
    assert staging_dirs(d) == []

    st = os.stat(dataset.csv)
    try:
        os.utime(dataset.csv, ns=(st.st_atime_ns, st.st_mtime_ns + 7_000_000_000))
        run_barlow(cli, dataset, d, "--depth", "1")
        doc = results(d)
        assert not stage(doc, "extract")["reused"] and not stage(doc, "panels")["reused"]
    finally:
        os.utime(dataset.csv, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert staging_dirs(d) == []


def test_reuse_never_carries_stale_failure_samples(base, cli, dataset, tmp_path):
    """--k changes the trees; a best leaf with the same id but other rows
    must get a new samples image (here label-1 depth 2 leaf 3: 5 images with
    --k 2, 6 with --k 1)."""
    prev = tmp_path / "prev"
    run_barlow(cli, dataset, prev, "--k", "2", "--quiet")
    shutil.copytree(prev, tmp_path / "reused", symlinks=True)
    run_barlow(cli, dataset, tmp_path / "reused", "--k", "1", "--quiet")
    run_barlow(cli, dataset, tmp_path / "fresh", "--k", "1", "--quiet")
    doc, old = results(tmp_path / "reused"), results(prev)
    assert stage(doc, "extract")["reused"]
    files = {dep["samples"] for g in doc["groups"] for dep in g["depths"] if dep["samples"]}
    old_files = {dep["samples"] for g in old["groups"] for dep in g["depths"] if dep["samples"]}
    assert files & old_files  # the test's premise: some names are the same
    for f in sorted(files):
        assert (tmp_path / "reused" / f).read_bytes() == (tmp_path / "fresh" / f).read_bytes(), f


def test_rerun_keeps_the_directory_mode(base, cli, dataset, tmp_path):
    """As replacing a file keeps its mode (test_cli_hostile.py), replacing a
    run directory keeps the directory's."""
    d = copy_run(base, tmp_path / "private")
    d.chmod(0o700)
    run_barlow(cli, dataset, d, "--quiet")
    assert stage(results(d), "extract")["reused"]
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


# ---- 6. --single-file ---------------------------------------------------------------------


def test_single_file(base, cli, dataset, tmp_path):
    # over a previous multi-page run: its pages must not survive
    d = copy_run(base, tmp_path / "single")
    _, out, _ = run_barlow(cli, dataset, d, "--single-file", "--quiet")
    assert out == ""  # --quiet: no summary
    assert [p.relative_to(d) for p in html_files(d)] == [Path("index.html")]
    assert not (d / "groups").exists() and not (d / "report.css").exists()
    text = (d / "index.html").read_text(encoding="utf-8")
    assert 'src="panels/' not in text and 'src="samples/' not in text
    assert "report.css" not in text
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    doc = results(d)
    files = {f["panel"] for g in doc["groups"] for dep in g["depths"] for f in dep["features"]
             if f["panel"]} | {dep["samples"] for g in doc["groups"] for dep in g["depths"]
                                if dep["samples"]}
    assert files and len(uris) >= len(files)
    for u in uris:
        with Image.open(io.BytesIO(base64.b64decode(u))) as im:
            assert im.format == "PNG"
            im.load()
    assert XSS not in text and QUOTED not in text
    assert XSS in html.unescape(text) and QUOTED in html.unescape(text)
    assert staging_dirs(d) == []


# ---- 7. --classes ------------------------------------------------------------------------


def test_classes_restrict_the_report(base, cli, dataset, tmp_path):
    d = copy_run(base, tmp_path / "classes")
    run_barlow(cli, dataset, d, "--classes", XSS)
    doc = results(d)
    assert doc["options"]["classes"] == [0]
    assert sorted((g["grouping"], g["class_id"]) for g in doc["groups"]) == [("label", 0),
                                                                            ("prediction", 0)]
    assert {p.name for p in (d / "groups").iterdir()} == {"label-0.html", "prediction-0.html"}
    assert len(doc["analysis"]["groups"]) == 6  # the analysis still has every group
    assert len(doc["analysis"]["evaluation"]) == 4
    assert all("-0-" in p.name for p in (d / "panels").iterdir())
    index = (d / "index.html").read_text(encoding="utf-8")
    assert "groups/label-1.html" not in index and "groups/label-0.html" in index

    # by id as well, and an unknown class is named and changes nothing
    new = tmp_path / "nope"
    rc, _, err = run_barlow(cli, dataset, new, "--classes", "2,no such class", check=False)
    assert rc == 1 and "'no such class'" in err and "--classes" in err, err
    assert not new.exists() and staging_dirs(new) == []


# ---- 8. --feature-names ------------------------------------------------------------------


def test_feature_names(base, cli, dataset, tmp_path):
    g0 = next(g for g in base.results["groups"]
              if g["grouping"] == "label" and g["class_id"] == 0)
    f = g0["depths"][0]["features"][0]["feature"]
    per_class = "<b>bright</b> & square"
    names = tmp_path / "names.json"
    names.write_text(json.dumps({str(f): "bright blob", XSS: {str(f): per_class}}))
    d = copy_run(base, tmp_path / "named")
    run_barlow(cli, dataset, d, "--feature-names", names)
    doc = results(d)
    seen = 0
    for g in doc["groups"]:
        want = per_class if g["class_id"] == 0 else "bright blob"
        for dep in g["depths"]:
            for x in dep["features"]:
                if x["feature"] == f:
                    assert x["name"] == want
                    assert f"{want} (feature {f})" in dep["rule"], dep["rule"]
                    seen += 1
                else:
                    assert x["name"] is None
    assert seen >= 1
    page = (d / g0["page"]).read_text(encoding="utf-8")
    assert per_class not in page and "<b>bright</b>" not in page
    assert f"{per_class} (feature {f})" in html.unescape(page)
    tmpl = json.loads((d / "feature-names-template.json").read_text())
    assert tmpl[str(f)] == "bright blob"

    bad = tmp_path / "bad names.json"
    bad.write_text('{\n  "0": "a",\n  "1": "b"\n  "2": "c"\n}\n')
    new = tmp_path / "badnames"
    rc, _, err = run_barlow(cli, dataset, new, "--feature-names", bad, check=False)
    assert rc == 1 and str(bad) in err and "line 4" in err, err
    assert not new.exists() and staging_dirs(new) == []


# ---- 9. bad inputs and outputs ---------------------------------------------------------


def one_class_csv(dataset, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Filenames", "Predictions", "Labels"])
        for name, _, _ in dataset.rows:
            w.writerow([name, PLAIN, PLAIN])
    return path


def no_prediction_csv(dataset, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Filenames", "Labels"])
        for name, _, label in dataset.rows:
            w.writerow([name, label])
    return path


BAD_INPUTS = {
    # id: (kwargs of run_barlow from tmp_path, what stderr must hold, exit code)
    "missing-model": (lambda ds, t: {"model": t / "missing.pt"}, ["missing.pt"], 1),
    "corrupt-model": (lambda ds, t: {"model": MODELS / "corrupt.pt"},
                      ["corrupt.pt", "TorchScript"], 1),
    "missing-csv": (lambda ds, t: {"csv_path": t / "absent.csv"}, ["absent.csv"], 1),
    "one-class": (lambda ds, t: {"csv_path": one_class_csv(ds, t / "one.csv")},
                  ["1 class", "'plain'", "at least two"], 1),
    "no-prediction-column": (
        lambda ds, t: {"csv_path": no_prediction_csv(ds, t / "nopred.csv")},
        ["nopred.csv", "prediction", "--predict"], 2),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_change_nothing(base, cli, dataset, tmp_path, case):
    make, needles, code = BAD_INPUTS[case]
    kwargs = make(dataset, tmp_path)
    # into a new DIR: not created (the model cases load libtorch first: one
    # run each, into the previous run, keeps the file's time down)
    if "model" not in case:
        new = tmp_path / "new"
        rc, out, err = run_barlow(cli, dataset, new, check=False, **kwargs)
        assert rc == code, (rc, err)
        for n in needles:
            assert n in err, (n, err)
        assert "Report:" not in out
        assert not new.exists() and staging_dirs(new) == []
    # into a previous run: left byte-identical
    prev = copy_run(base, tmp_path / "prev")
    before = tree_digest(prev)
    rc, out, err = run_barlow(cli, dataset, prev, check=False, **kwargs)
    assert rc == code, (rc, err)
    for n in needles:
        assert n in err, (n, err)
    assert "Report:" not in out
    assert tree_digest(prev) == before
    assert staging_dirs(prev) == []


def test_bad_outputs_are_left_alone(base, cli, dataset, tmp_path):
    # a regular file
    f = tmp_path / "file"
    f.write_text("keep")
    rc, _, err = run_barlow(cli, dataset, f, check=False)
    assert rc == 1 and str(f) in err and "not a directory" in err, err
    assert f.read_text() == "keep" and staging_dirs(f) == []

    # a symbolic link to a previous run
    target = copy_run(base, tmp_path / "target")
    before = tree_digest(target)
    link = tmp_path / "link"
    link.symlink_to(target)
    rc, _, err = run_barlow(cli, dataset, link, check=False)
    assert rc == 1 and str(link) in err and "symbolic link" in err, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert tree_digest(target) == before and staging_dirs(link) == []

    # a directory with other files and no .barlow-run (trailing slash too)
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "notes.txt").write_text("mine")
    (other / "sub" / "x.bin").write_bytes(b"\0\1")
    before = tree_digest(other)
    for out in (other, f"{other}/"):
        rc, _, err = run_barlow(cli, dataset, out, check=False)
        assert rc == 1 and str(other) in err and ".barlow-run" in err, err
        assert tree_digest(other) == before and staging_dirs(other) == []

    # under a regular file: the parent cannot hold the staging directory
    rc, _, err = run_barlow(cli, dataset, "/etc/passwd/x", check=False)
    assert rc == 1 and "/etc/passwd/x" in err, err
    rc, _, err = run_barlow(cli, dataset, f / "x", check=False)
    assert rc == 1 and str(f / "x") in err, err
    assert f.read_text() == "keep"

    # a parent that is not writable (root writes anyway)
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            rc, _, err = run_barlow(cli, dataset, ro / "report", check=False)
            assert rc == 1 and str(ro / "report") in err, err
            assert list(ro.iterdir()) == []
        finally:
            ro.chmod(0o755)


def test_out_dot(base, cli, dataset, tmp_path):
    """--out . (the working directory, empty): either the report is made
    there, or it is refused before any work."""
    e = tmp_path / "here"
    e.mkdir()
    p = subprocess.run([str(cli), "run", "--model", str(MODELS / "tiny_cnn.pt"),
                        *map(str, dataset.args()), *map(str, FAST), "--out", "."],
                       capture_output=True, text=True, cwd=e, timeout=120)
    assert [x.name for x in tmp_path.iterdir()] == ["here"]
    if p.returncode == 0:
        assert (e / "index.html").is_file() and (e / ".barlow-run").is_file()
    else:
        assert "--out" in p.stderr and "barlow run: extract" not in p.stderr, p.stderr
        assert list(e.iterdir()) == []


# ---- 10. SIGINT during a run -------------------------------------------------------------


@pytest.mark.parametrize("previous", [True, False], ids=["previous-run", "new-dir"])
def test_interrupted_run_keeps_the_previous_report(base, cli, dataset, tmp_path, previous):
    d = copy_run(base, tmp_path / "report") if previous else tmp_path / "report"
    before = tree_digest(d) if previous else None
    args = [str(cli), "run", "--model", str(MODELS / "tiny_cnn.pt"),
            *map(str, dataset.args()), "--size", "32", "--resize", "0", "--threads", "1",
            "--top", "3", "--attack-steps", "2000", "--out", str(d)]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            seen = staging_dirs(d)
            if seen and (d.parent / seen[0] / "panels").exists():
                break  # in the panels stage (2000 attack steps a panel: seconds)
            time.sleep(0.02)
        assert p.poll() is None and seen, "the run ended before it could be interrupted"
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGINT or p.returncode not in (0, None), p.returncode
    assert "Report:" not in out
    if previous:
        assert tree_digest(d) == before
    else:
        assert not d.exists()
    assert staging_dirs(d) == []


# ---- 11. barlow demo ---------------------------------------------------------------------


def fmnist_data(tmp_path):
    """A --data DIR for barlow demo: Debian's Fashion-MNIST test split when
    installed (symbolic links), else a valid two-image IDX pair."""
    data = tmp_path / "fmnist"
    data.mkdir()
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        src = Path("/usr/share/datasets/fashion-mnist") / f
        if src.exists():
            (data / f).symlink_to(src)
        else:
            blob = (np.array([0x803, 2, 28, 28], ">u4").tobytes() + bytes(2 * 784)
                    if "images" in f else np.array([0x801, 2], ">u4").tobytes() + b"\0\1")
            (data / f).write_bytes(gzip.compress(blob))
    return data


def test_demo_usage_and_missing_models(cli, tmp_path):
    rc, out, _ = run_cli(cli, "demo", "--help")
    assert rc == 0 and out.startswith("usage: barlow demo") and "--models DIR" in out
    data = fmnist_data(tmp_path)
    out_dir = tmp_path / "demo"
    p = subprocess.run([str(cli), "demo", "--models", "/nonexistent", "--data", str(data),
                        "--out", str(out_dir), "--quiet"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert p.returncode == 1, p.stderr
    assert "/nonexistent" in p.stderr, p.stderr
    assert not out_dir.exists() and staging_dirs(out_dir) == []
    assert sorted(x.name for x in tmp_path.iterdir()) == ["fmnist"]


def test_demo_names_the_missing_models(cli, tmp_path):
    data = fmnist_data(tmp_path)
    p = subprocess.run([str(cli), "demo", "--models", str(tmp_path), "--data", str(data),
                        "--out", str(tmp_path / "demo"), "--quiet"], capture_output=True,
                       text=True, cwd=tmp_path, timeout=120)
    assert p.returncode == 1
    assert p.stderr.startswith("barlow demo: ") and "fmnist_robust.pt" in p.stderr, p.stderr
