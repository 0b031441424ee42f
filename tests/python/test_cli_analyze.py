"""`barlow analyze`: the whole-dataset analysis from .npy/.npz files, checked
against the reference pipeline (scikit-learn's mutual_info_classif +
DecisionTreeClassifier on the top-k columns, the paper's code) on synthetic
data with a planted failure mode; the JSON and CSV outputs; the progress bar
(only on a terminal); bad input (exit 1 with the library's message, nothing
written) and bad usage (exit 2)."""
import csv
import io
import json
import os
import pty
import subprocess

import numpy as np
import pytest

from conftest import run_cli

N_CLASSES = 4
N_PER = 150
D = 48
K = 6


def make_data(tmp_path, seed=0):
    """ReLU-like features; class c fails mostly when feature 3 + 5c is large
    (plus 5% noise). Class 3 never fails. Failures are predicted as
    (label + 1) % 4, except class 2's, which go to 0, so the prediction group
    of class 3 holds only correct rows (a one-leaf tree)."""
    rng = np.random.default_rng(seed)
    n = N_CLASSES * N_PER
    X = np.maximum(rng.normal(size=(n, D)), 0).astype(np.float32)
    labels = np.repeat(np.arange(N_CLASSES), N_PER).astype(np.int64)
    rng.shuffle(labels)
    key = X[np.arange(n), 3 + 5 * labels]
    fail = (key > 0.9) | (rng.random(n) < 0.05)
    fail[labels == 3] = False
    preds = np.where(fail, (labels + 1) % N_CLASSES, labels)
    preds[(labels == 2) & fail] = 0
    paths = {"X": tmp_path / "X.npy", "L": tmp_path / "L.npy", "P": tmp_path / "P.npy",
             "names": tmp_path / "names.txt"}
    np.save(paths["X"], X)
    np.save(paths["L"], labels)
    np.save(paths["P"], preds)
    paths["names"].write_text("tench\ngoldfish, carassius\nsay \"hi\"\nfour\n")
    return X, labels, preds, paths


def analyze(cli, paths, *extra, check=True):
    out = paths["X"].parent / "r.json"
    args = ["analyze", "--features", paths["X"], "--labels", paths["L"],
            "--predictions", paths["P"], "--out", out, *extra]
    rc, so, se = run_cli(cli, *args, check=check)
    return rc, so, se, out


def reference_group(X, y, k, depth):
    """The paper's pipeline on one group (what bench/bench_analyze.py times)."""
    from sklearn.feature_selection import mutual_info_classif
    from sklearn.tree import DecisionTreeClassifier
    mi = mutual_info_classif(X, y, random_state=0)
    top = np.argsort(-mi, kind="stable")[:k]
    n_fail = int(y.sum())
    clf = DecisionTreeClassifier(criterion="entropy", max_depth=depth,
                                 class_weight={0: 1, 1: (len(y) - n_fail) / n_fail})
    clf.fit(X[:, top], y)
    return mi, top, clf.tree_


def test_matches_reference_pipeline(cli, tmp_path):
    X, labels, preds, paths = make_data(tmp_path)
    csv_path = tmp_path / "s.csv"
    _, so, se, out = analyze(cli, paths, "--class-names", paths["names"], "--k", K,
                             "--csv", csv_path, "--threads", 2)
    assert se == ""  # no progress bar: stderr is not a terminal
    assert "Analysed 600 rows x 48 features: 8 groups" in so
    doc = json.loads(out.read_text())
    assert doc["format"] == "barlow-analysis"
    assert doc["options"]["k"] == K and doc["options"]["depths"] == [1]
    groups = doc["groups"]
    assert [(g["grouping"], g["class"]) for g in groups] == \
        [("label", c) for c in range(4)] + [("prediction", c) for c in range(4)]
    checked = 0
    for g in groups:
        rows = (labels if g["grouping"] == "label" else preds) == g["class"]
        y = (labels[rows] != preds[rows]).astype(int)
        assert g["size"] == int(rows.sum()) and g["failures"] == int(y.sum())
        assert g["name"] == ["tench", "goldfish, carassius", 'say "hi"', "four"][g["class"]]
        if g["status"] != "analysed":
            assert g["selected_features"] == []
            assert g["results"][0]["tree"]["leaf_count"] == 1
            continue
        mi, top, ref = reference_group(X[rows], y, K, 1)
        assert g["selected_features"] == [int(t) for t in top]
        np.testing.assert_allclose(g["selection_scores"], mi[top], rtol=0, atol=1e-6)
        tree = g["results"][0]["tree"]
        root = tree["nodes"][0]
        # same split feature (original index) and threshold as scikit-learn
        assert root["feature"] == int(top[ref.feature[0]])
        assert root["threshold"] == pytest.approx(ref.threshold[0], abs=1e-6)
        assert [n["size"] for n in tree["nodes"]] == [int(v) for v in ref.n_node_samples]
        # the planted failure mode: the label grouping's root splits on 3 + 5c
        if g["grouping"] == "label":
            assert root["feature"] == 3 + 5 * g["class"]
        checked += 1
    assert checked >= 5
    # the automatic evaluation agrees with the per-group flags
    for e in doc["evaluation"]:
        mine = [g for g in groups if g["grouping"] == e["grouping"] and g["size"] > 0]
        assert e["groups"] == len(mine)
        assert e["valid"] == sum(g["results"][0]["valid"] for g in mine)
    # validity recomputed from the best leaf
    for g in groups:
        r = g["results"][0]
        if r["tree"] is None:
            continue
        leaf = r["tree"]["nodes"][r["best_leaf"]]
        assert r["best_leaf"] == r["tree"]["leaves_by_importance"][0]
        assert r["valid"] == (leaf["error_rate"] >= g["base_error_rate"] + 0.1 - 1e-12
                              and leaf["error_coverage"] >= 0.2 - 1e-12)
    # the CSV: one row per group, RFC 4180 quoting
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(groups)
    assert rows[1]["name"] == "goldfish, carassius" and rows[2]["name"] == 'say "hi"'
    for row, g in zip(rows, groups):
        assert (row["grouping"], int(row["class"]), int(row["size"]), int(row["failures"])) == \
            (g["grouping"], g["class"], g["size"], g["failures"])
        assert row["valid"] == ("true" if g["results"][0]["valid"] else "false")
        if g["status"] == "analysed":
            assert row["best_rule"].startswith("When feature ")


def test_threads_and_npz_give_identical_results(cli, tmp_path):
    X, labels, preds, paths = make_data(tmp_path, seed=1)
    outs = []
    for t in (1, 2, 3):
        _, _, _, out = analyze(cli, paths, "--k", 4, "--threads", t, "--depth", "1,2")
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    np.savez_compressed(tmp_path / "F.npz", features=X)
    paths2 = dict(paths, X=tmp_path / "F.npz")
    _, _, _, out = analyze(cli, paths2, "--k", 4, "--threads", 2, "--depth", "1,2")
    assert out.read_bytes() == outs[0]
    # float64 features cannot be mapped: read and converted, same results
    np.save(tmp_path / "X64.npy", X.astype(np.float64))
    _, _, _, out = analyze(cli, dict(paths, X=tmp_path / "X64.npy"), "--k", 4, "--depth", "1,2")
    assert out.read_bytes() == outs[0]
    doc = json.loads(outs[0])
    assert doc["options"]["depths"] == [1, 2]
    assert all(len(g["results"]) == 2 for g in doc["groups"])
    assert [e["depth"] for e in doc["evaluation"]] == [1, 2, 1, 2]


def test_one_grouping_and_empty_group(cli, tmp_path):
    X, labels, preds, paths = make_data(tmp_path)
    preds = preds.copy()
    preds[preds == 1] = 0  # class 1 is never predicted
    np.save(paths["P"], preds)
    _, so, _, out = analyze(cli, paths, "--by", "prediction", "--k", 3)
    doc = json.loads(out.read_text())
    assert {g["grouping"] for g in doc["groups"]} == {"prediction"}
    empty = doc["groups"][1]
    assert empty["size"] == 0 and empty["status"] == "empty"
    assert empty["results"][0]["tree"] is None and empty["results"][0]["valid"] is False
    assert doc["evaluation"][0]["groups"] == 3  # the empty group is not counted
    assert "By prediction, depth 1:" in so and "By label" not in so


def test_sparse_class_ids(cli, tmp_path):
    """One class id of 1 000 000 (labels without names): the work and the
    output follow the 4 classes present, not the 1 000 001 ids (it used to
    take 1.1 GB and write a 654 MB JSON); results equal the dense ids'."""
    X, labels, preds, paths = make_data(tmp_path)
    _, _, _, out = analyze(cli, paths, "--k", 4, "--quiet")
    dense = json.loads(out.read_text())
    big = 1_000_000
    np.save(paths["L"], np.where(labels == 3, big, labels))
    np.save(paths["P"], np.where(preds == 3, big, preds))
    _, _, _, out = analyze(cli, paths, "--k", 4, "--quiet", "--csv", tmp_path / "s.csv")
    assert out.stat().st_size < 100_000
    with open(out, "rb") as f:
        doc = json.load(f)
    assert doc["classes"] == big + 1
    assert [(g["grouping"], g["class"], g["name"]) for g in doc["groups"]] == [
        (b, c, str(c)) for b in ("label", "prediction") for c in (0, 1, 2, big)]
    strip = lambda g: {k: v for k, v in g.items() if k not in ("class", "name")}
    assert [strip(g) for g in doc["groups"]] == [strip(g) for g in dense["groups"]]
    assert doc["evaluation"] == dense["evaluation"]
    rows = (tmp_path / "s.csv").read_text().splitlines()
    assert len(rows) == 1 + 8 and rows[4].startswith(f"label,{big},{big},1,")


def test_progress_bar_only_on_a_terminal(cli, tmp_path):
    _, _, _, paths = make_data(tmp_path)
    master, slave = pty.openpty()
    p = subprocess.run([str(cli), "analyze", "--features", paths["X"], "--labels", paths["L"],
                        "--predictions", paths["P"], "--k", "3",
                        "--out", tmp_path / "r.json"],
                       stdout=subprocess.PIPE, stderr=slave, timeout=120)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert p.returncode == 0
    # the one progress bar of every command (cli.c): done/total, rate, ETA
    assert b"analyze [" in err and b"] 8/8 " in err and b" groups/s  ETA " in err


def expect_error(cli, paths, needle, *extra, code=1):
    rc, so, se, out = analyze(cli, paths, *extra, check=False)
    assert rc == code, se
    assert needle in se, se
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if ".tmp-" in p.name] == []
    return se


def test_bad_input(cli, tmp_path):
    X, labels, preds, paths = make_data(tmp_path)
    # output in a missing directory: clear IO error before any work
    rc, _, se = run_cli(cli, "analyze", "--features", paths["X"], "--labels", paths["L"],
                        "--predictions", paths["P"], "--out", tmp_path / "no" / "r.json",
                        check=False)
    assert rc == 1 and "directory" in se and "No such file or directory" in se
    rc, _, se = run_cli(cli, "analyze", "--features", paths["X"], "--labels", paths["L"],
                        "--predictions", paths["P"], "--out", tmp_path / "r.json",
                        "--csv", tmp_path / "no" / "s.csv", check=False)
    assert rc == 1 and "no/s.csv" in se and not (tmp_path / "r.json").exists()
    # labels and predictions of different lengths
    np.save(tmp_path / "P_short.npy", preds[:-1])
    expect_error(cli, dict(paths, P=tmp_path / "P_short.npy"), "P_short.npy")
    # class ids beyond the class-name list
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    expect_error(cli, paths, "3", "--class-names", tmp_path / "three.txt")
    # feature rows != dataset size
    np.save(tmp_path / "X_short.npy", X[:-2])
    expect_error(cli, dict(paths, X=tmp_path / "X_short.npy"),
                 "features have 598 rows but the dataset has 600 rows")
    # k > d
    expect_error(cli, paths, "k=49 (must be 1..d=48)", "--k", 49)
    # NaN: named by row and column
    Xn = X.copy()
    Xn[17, 30] = np.nan
    np.save(tmp_path / "X_nan.npy", Xn)
    se = expect_error(cli, dict(paths, X=tmp_path / "X_nan.npy"), "(row 17, column 30) is NaN")
    assert "barlow_analysis_run" in se
    # a missing features file
    expect_error(cli, dict(paths, X=tmp_path / "nope.npy"), "nope.npy")


def test_bad_usage(cli, tmp_path):
    _, _, _, paths = make_data(tmp_path)
    expect_error(cli, paths, "1..16", "--depth", 0, code=2)
    expect_error(cli, paths, "1..16", "--depth", "1,17", code=2)
    expect_error(cli, paths, "--k=0", "--k", 0, code=2)
    expect_error(cli, paths, "--by=colour", "--by", "colour", code=2)
    expect_error(cli, paths, "--estimator=foo", "--estimator", "foo", code=2)
    rc, _, se = run_cli(cli, "analyze", "--features", paths["X"], check=False)
    assert rc == 2 and "--labels is required" in se
    rc, so, _ = run_cli(cli, "analyze", "--help")
    assert rc == 0 and "usage: barlow analyze" in so


def test_class_names_must_be_utf8(cli, tmp_path):
    X, labels, preds, paths = make_data(tmp_path)
    # multi-byte names reach the JSON and the CSV intact
    paths["names"].write_bytes("caf\u00e9\n\u65e5\u672c\n\U0001f41f\nfour\n".encode())
    _, _, _, out = analyze(cli, paths, "--k", 3, "--class-names", paths["names"], "--quiet",
                           "--csv", tmp_path / "s.csv")
    with open(out, "rb") as f:
        doc = json.load(f)
    assert [g["name"] for g in doc["groups"][:4]] == ["caf\u00e9", "\u65e5\u672c", "\U0001f41f",
                                                      "four"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_bytes().decode("utf-8"))))
    assert rows[2]["name"] == "\U0001f41f"
    out.unlink()
    # a name that is not UTF-8 used to go raw into the JSON (json.load failed)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"tench\ngold\xfffish\nc\nd\n")
    se = expect_error(cli, paths, "bad.txt: line 2: class name: not valid UTF-8", "--class-names",
                      bad)
    assert "byte 0xff at offset 4" in se
    bad.write_bytes(b"tench\ngold\0fish\nc\nd\n")
    expect_error(cli, paths, "bad.txt: line 2: NUL byte", "--class-names", bad)
