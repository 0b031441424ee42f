"""`barlow tree`: the JSON schema of issue 3, the text form (rule sentences),
--select (MI top-K, original indices), DOT, held-out evaluation, --out, the
rule filters, and bad input (exit 2 for usage, 1 for errors, with messages)."""
import json
import math

import numpy as np
import pytest
from sklearn.feature_selection import mutual_info_classif
from sklearn.tree import DecisionTreeClassifier

from conftest import run_cli, run_cli_json


@pytest.fixture()
def group(tmp_path):
    """300 rows x 50 columns; failure depends on column 37 (and a bit on 12)."""
    rng = np.random.default_rng(5)
    X = np.maximum(rng.standard_normal((300, 50)), 0).astype(np.float32)
    score = X[:, 37] + 0.4 * X[:, 12] + 0.3 * rng.standard_normal(300)
    y = (score > np.quantile(score, 0.75)).astype(np.uint8)
    fx, fy = tmp_path / "X.npy", tmp_path / "y.npy"
    np.save(fx, X)
    np.save(fy, y.astype(bool))  # bool flags are accepted
    return X, y, fx, fy


def test_json_schema(cli, group):
    X, y, fx, fy = group
    doc = run_cli_json(cli, "tree", "--features", fx, "--failures", fy, "--depth", 2, "--json")
    for key in ("base_error_rate", "aler", "nodes", "leaves_by_importance", "rules"):
        assert key in doc
    assert doc["base_error_rate"] == y.sum() / len(y)
    assert doc["aler"] >= doc["base_error_rate"]
    nodes = doc["nodes"]
    assert [nd["id"] for nd in nodes] == list(range(len(nodes)))
    for nd in nodes:
        for key in ("id", "left", "right", "feature", "threshold", "size", "failures",
                    "error_rate", "error_coverage"):
            assert key in nd
        if nd["is_leaf"]:
            assert nd["feature"] is None and nd["left"] is None and nd["right"] is None
            assert nd["threshold"] is None
        else:
            assert isinstance(nd["feature"], int) and isinstance(nd["threshold"], float)
            assert nodes[nd["left"]]["size"] + nodes[nd["right"]]["size"] == nd["size"]
        assert nd["error_rate"] == nd["failures"] / nd["size"]
        assert nd["error_coverage"] == nd["failures"] / y.sum()
    # ER of the root is the BER (the paper's code showed ALER there)
    assert nodes[0]["error_rate"] == doc["base_error_rate"]
    leaves = [nd["id"] for nd in nodes if nd["is_leaf"]]
    assert sorted(doc["leaves_by_importance"]) == leaves
    ivs = [nodes[i]["importance"] for i in doc["leaves_by_importance"]]
    assert ivs == sorted(ivs, reverse=True)
    assert math.isclose(doc["aler"], sum(nodes[i]["error_rate"] * nodes[i]["error_coverage"]
                                         for i in leaves), rel_tol=1e-12)
    assert [r["leaf"] for r in doc["rules"]] == doc["leaves_by_importance"]
    for r in doc["rules"]:
        for key in ("leaf", "conditions", "error_rate", "error_coverage", "importance", "text"):
            assert key in r
        assert len(r["conditions"]) == nodes[r["leaf"]]["depth"]
        for c in r["conditions"]:
            assert c["op"] in ("<=", ">")
            assert isinstance(c["feature"], int)
        # the conditions select exactly the leaf's rows
        mask = np.ones(len(y), bool)
        for c in r["conditions"]:
            x = X[:, c["feature"]].astype(np.float64)
            mask &= (x <= c["threshold"]) if c["op"] == "<=" else (x > c["threshold"])
        assert mask.sum() == nodes[r["leaf"]]["size"]
        assert y[mask].sum() == nodes[r["leaf"]]["failures"]
        assert r["text"].startswith("When feature ")
        assert "<" not in r["text"]


def test_same_tree_as_sklearn_through_cli(cli, group):
    X, y, fx, fy = group
    doc = run_cli_json(cli, "tree", "--features", fx, "--failures", fy, "--depth", 1, "--json")
    nf = int(y.sum())
    sk = DecisionTreeClassifier(criterion="entropy", max_depth=1,
                                class_weight={0: 1, 1: (len(y) - nf) / nf}).fit(X, y)
    assert doc["nodes"][0]["feature"] == sk.tree_.feature[0] == 37
    assert doc["nodes"][0]["threshold"] == sk.tree_.threshold[0]
    assert [nd["size"] for nd in doc["nodes"]] == list(sk.tree_.n_node_samples)


def test_text_output_has_rule_sentences(cli, group):
    X, y, fx, fy = group
    _, out, _ = run_cli(cli, "tree", "--features", fx, "--failures", fy)
    assert "base error rate 25.0%" in out
    assert "When feature 37 \u2264 " in out or "When feature 37 > " in out
    assert "the error rate rises from 25.0% to" in out
    assert f"of {int(y.sum())} failures" in out


def test_select_reports_original_indices(cli, group):
    X, y, fx, fy = group
    doc = run_cli_json(cli, "tree", "--features", fx, "--failures", fy, "--depth", 2,
                       "--select", 5, "--json")
    mi = mutual_info_classif(X, y, n_neighbors=3, random_state=0)
    top5 = set(np.argsort(-mi, kind="stable")[:5].tolist())
    used = {nd["feature"] for nd in doc["nodes"] if not nd["is_leaf"]}
    assert 37 in top5 and used <= top5 and 37 in used
    # the same tree as scikit-learn fitted on the selected columns
    cols = sorted(top5)
    nf = int(y.sum())
    sk = DecisionTreeClassifier(criterion="entropy", max_depth=2,
                                class_weight={0: 1, 1: (len(y) - nf) / nf},
                                random_state=0).fit(X[:, cols], y)
    assert len(doc["nodes"]) == sk.tree_.node_count
    for i, nd in enumerate(doc["nodes"]):
        if not nd["is_leaf"]:
            assert nd["feature"] == cols[sk.tree_.feature[i]]
            assert nd["threshold"] == sk.tree_.threshold[i]


def test_select_with_split_gain(cli, group):
    X, y, fx, fy = group
    doc = run_cli_json(cli, "tree", "--features", fx, "--failures", fy, "--select", 3,
                       "--estimator", "split-gain", "--json")
    assert doc["nodes"][0]["feature"] == 37


def test_dot(cli, group):
    _, _, fx, fy = group
    _, out, _ = run_cli(cli, "tree", "--features", fx, "--failures", fy, "--depth", 2, "--dot")
    assert out.startswith("digraph barlow_tree {")
    assert "n0 -> n1" in out and "feature 37" in out and out.rstrip().endswith("}")


def test_held_out_evaluation(cli, group, tmp_path):
    X, y, fx, fy = group
    rng = np.random.default_rng(9)
    X2 = np.maximum(rng.standard_normal((120, 50)), 0).astype(np.float32)
    y2 = (X2[:, 37] > 0.9).astype(np.int64)
    np.save(tmp_path / "X2.npy", X2)
    np.save(tmp_path / "y2.npy", y2)
    doc = run_cli_json(cli, "tree", "--features", fx, "--failures", fy, "--depth", 1,
                       "--eval-features", tmp_path / "X2.npy",
                       "--eval-failures", tmp_path / "y2.npy", "--json")
    ho = doc["held_out"]
    assert ho["size"] == 120 and ho["failures"] == int(y2.sum())
    root = doc["nodes"][0]
    left = X2[:, root["feature"]].astype(np.float64) <= root["threshold"]
    leaf = doc["nodes"][root["left"]]["held_out"]
    assert leaf["size"] == int(left.sum())
    assert leaf["failures"] == int(y2[left].sum())
    assert leaf["error_coverage"] == y2[left].sum() / y2.sum()
    assert "held_out" in doc["rules"][0]
    _, out, _ = run_cli(cli, "tree", "--features", fx, "--failures", fy,
                        "--eval-features", tmp_path / "X2.npy",
                        "--eval-failures", tmp_path / "y2.npy")
    assert "held out: 120 images" in out


def test_rule_filters(cli, group):
    _, _, fx, fy = group
    full = run_cli_json(cli, "tree", "--features", fx, "--failures", fy, "--depth", 2, "--json")
    doc = run_cli_json(cli, "tree", "--features", fx, "--failures", fy, "--depth", 2,
                       "--max-p-value", "0.01", "--min-coverage", "0.1", "--json")
    kept = [r["leaf"] for r in doc["rules"]]
    expect = [i for i in full["leaves_by_importance"]
              if full["nodes"][i]["p_value"] <= 0.01 and full["nodes"][i]["error_coverage"] >= 0.1]
    assert kept == expect and 0 < len(kept) < len(full["rules"])
    assert doc["rule_filter"]["max_p_value"] == 0.01


def test_out_writes_json_atomically(cli, group, tmp_path):
    _, _, fx, fy = group
    path = tmp_path / "tree.json"
    run_cli(cli, "tree", "--features", fx, "--failures", fy, "--out", path)
    assert json.loads(path.read_text())["nodes"][0]["feature"] == 37
    missing = tmp_path / "nope" / "tree.json"
    rc, _, err = run_cli(cli, "tree", "--features", fx, "--failures", fy, "--out", missing,
                         check=False)
    assert rc == 1 and "nope" in err
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("args,code,needle", [
    (("--depth", "0"), 2, "depth"),
    (("--depth", "17"), 2, "depth"),
    (("--criterion", "log"), 2, "criterion"),
    (("--estimator", "knn"), 2, "--select"),
    (("--select", "3", "--estimator", "magic"), 2, "estimator"),
    (("--select", "51"), 1, "51"),
    (("--columns", "3,50"), 1, "50"),
    (("--columns", "3,3"), 1, "column 3 is listed twice"),
    (("--columns", "3,,4"), 2, "columns"),
    (("--class-weight", "1,0"), 1, "weight_failure=0"),
    (("--min-samples-leaf", "0"), 1, "min_samples_leaf=0"),
    (("--json", "--dot"), 2, "exclude"),
    (("--eval-features", "x.npy"), 2, "go together"),
])
def test_bad_usage_and_values(cli, group, args, code, needle):
    _, _, fx, fy = group
    rc, _, err = run_cli(cli, "tree", "--features", fx, "--failures", fy, *args, check=False)
    assert rc == code, err
    assert needle in err


def test_bad_inputs(cli, tmp_path):
    X = np.ones((10, 3), np.float32)
    X[7, 2] = np.nan
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", np.array([0, 1] * 5, np.uint8))
    rc, _, err = run_cli(cli, "tree", "--features", tmp_path / "X.npy",
                         "--failures", tmp_path / "y.npy", check=False)
    assert rc == 1 and "row 7, column 2 is NaN" in err
    np.save(tmp_path / "y9.npy", np.zeros(9, np.uint8))
    rc, _, err = run_cli(cli, "tree", "--features", tmp_path / "X.npy",
                         "--failures", tmp_path / "y9.npy", check=False)
    assert rc == 1 and "9" in err and "10" in err
    np.save(tmp_path / "y2.npy", np.array([0, 2] * 5, np.int64))
    rc, _, err = run_cli(cli, "tree", "--features", tmp_path / "X.npy",
                         "--failures", tmp_path / "y2.npy", check=False)
    assert rc == 1 and "must be 0 or 1" in err
    rc, _, err = run_cli(cli, "tree", "--failures", tmp_path / "y.npy", check=False)
    assert rc == 2 and "--features" in err


def test_group_without_failures(cli, tmp_path):
    np.save(tmp_path / "X.npy", np.arange(20, dtype=np.float32).reshape(10, 2))
    np.save(tmp_path / "y.npy", np.zeros(10, np.uint8))
    doc = run_cli_json(cli, "tree", "--features", tmp_path / "X.npy",
                       "--failures", tmp_path / "y.npy", "--depth", 3, "--json")
    assert len(doc["nodes"]) == 1
    assert doc["base_error_rate"] == 0 and doc["aler"] == 0
    assert doc["nodes"][0]["error_coverage"] == 0 and doc["precision"] == 0
    assert doc["rules"][0]["text"].startswith("For all 10 images the error rate is 0.0%")
