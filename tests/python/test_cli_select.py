"""`barlow select`: JSON output, the three estimators against their
references (scikit-learn's mutual_info_classif, a depth-1 scikit-learn
tree's information gain, numpy's mean), options, and bad input."""
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_selection import mutual_info_classif
from sklearn.tree import DecisionTreeClassifier

from conftest import build_option, run_cli, run_cli_json


def relu_problem(n=400, d=30, seed=0, rate=0.25):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.standard_normal((n, d)), 0).astype(np.float32)
    y = rng.random(n) < rate
    for j, w in ((4, 0.9), (11, 0.3)):
        if j < d:
            X[:, j] += y.astype(np.float32) * np.float32(w)
    return X, y


def save(tmp_path, X, y, yname="y.npy"):
    fx, fy = tmp_path / "X.npy", tmp_path / yname
    np.save(fx, X)
    np.save(fy, y)
    return fx, fy


def test_help(cli):
    rc, out, _ = run_cli(cli, "select", "--help")
    assert rc == 0
    for word in ("--features", "--failures", "--estimator", "split-gain", "--seed", "--threads"):
        assert word in out


def test_json_matches_sklearn(cli, tmp_path):
    X, y = relu_problem()
    fx, fy = save(tmp_path, X, y)
    res = run_cli_json(cli, "select", "--features", fx, "--failures", fy, "--k", 7, "--json")
    ref = mutual_info_classif(X.astype(np.float64), y.astype(int), n_neighbors=3,
                              random_state=0)
    scores = np.array(res["scores"])
    assert scores.shape == (30,)
    assert np.array_equal(scores, ref)  # printed with round-trip precision
    assert res["top"] == np.argsort(-ref, kind="stable")[:7].tolist()
    assert res["top"][0] == 4


def test_default_k_and_table(cli, tmp_path):
    X, y = relu_problem(d=30)
    fx, fy = save(tmp_path, X, y)
    res = run_cli_json(cli, "select", "--features", fx, "--failures", fy, "--json")
    assert len(res["top"]) == 20
    X8 = np.ascontiguousarray(X[:, :8])
    fx8 = tmp_path / "X8.npy"
    np.save(fx8, X8)
    res = run_cli_json(cli, "select", "--features", fx8, "--failures", fy, "--json")
    assert len(res["top"]) == 8, "d < 20: every feature is listed"
    _, out, _ = run_cli(cli, "select", "--features", fx, "--failures", fy, "--k", 3)
    lines = out.strip().splitlines()
    assert len(lines) == 4 and lines[1].split()[:2] == ["1", "4"]


def test_seed_threads_and_npz(cli, tmp_path):
    X, y = relu_problem(seed=3)
    fx, fy = save(tmp_path, X, y)
    a = run_cli_json(cli, "select", "--features", fx, "--failures", fy, "--seed", 1234,
                     "--threads", 1, "--json")
    b = run_cli_json(cli, "select", "--features", fx, "--failures", fy, "--seed", 1234,
                     "--threads", 2, "--json")
    assert a == b
    ref = mutual_info_classif(X.astype(np.float64), y.astype(int), n_neighbors=3,
                              random_state=1234)
    assert np.array_equal(np.array(a["scores"]), ref)
    c = run_cli_json(cli, "select", "--features", fx, "--failures", fy, "--n-neighbors", 5,
                     "--json")
    ref5 = mutual_info_classif(X.astype(np.float64), y.astype(int), n_neighbors=5,
                               random_state=0)
    assert np.array_equal(np.array(c["scores"]), ref5)
    fz = tmp_path / "F.npz"
    np.savez_compressed(fz, features=X)
    z = run_cli_json(cli, "select", "--features", fz, "--failures", fy, "--seed", 1234,
                     "--json")
    assert z == a


def tree_gain(x, y):
    """Information gain (bits) of scikit-learn's best depth-1 split with the
    class weights of the failure tree."""
    nf = int(y.sum())
    nc = len(y) - nf
    if nf == 0 or nc == 0:
        return 0.0
    t = DecisionTreeClassifier(criterion="entropy", max_depth=1,
                               class_weight={0: 1, 1: nc / nf}, random_state=0)
    t.fit(x.reshape(-1, 1), y)
    tr = t.tree_
    if tr.node_count == 1:
        return 0.0
    w = tr.weighted_n_node_samples
    imp = tr.impurity
    l, r = tr.children_left[0], tr.children_right[0]
    return imp[0] - (w[l] * imp[l] + w[r] * imp[r]) / (w[l] + w[r])


def test_split_gain_matches_sklearn_tree(cli, tmp_path):
    X, y = relu_problem(n=300, d=12, seed=4)
    X[:, 7] = np.round(X[:, 7] * 2)  # quantised: ties
    fx, fy = save(tmp_path, X, y)
    res = run_cli_json(cli, "select", "--features", fx, "--failures", fy,
                       "--estimator", "split-gain", "--k", 3, "--json")
    ref = np.array([tree_gain(X[:, j], y.astype(int)) for j in range(X.shape[1])])
    assert np.allclose(res["scores"], ref, rtol=0, atol=1e-12), (res["scores"], ref)
    assert res["top"][0] == 4


def test_mean_estimator(cli, tmp_path):
    X, y = relu_problem(n=250, d=9, seed=5)
    fx, fy = save(tmp_path, X, y)
    res = run_cli_json(cli, "select", "--features", fx, "--failures", fy,
                       "--estimator", "mean", "--k", 9, "--json")
    ref = X.astype(np.float64).mean(axis=0)
    assert np.allclose(res["scores"], ref, rtol=1e-14, atol=0)
    assert res["top"] == np.argsort(-np.array(res["scores"]), kind="stable").tolist()


def test_failures_as_int_and_float(cli, tmp_path):
    X, y = relu_problem(seed=6)
    fx, fy = save(tmp_path, X, y)
    base = run_cli_json(cli, "select", "--features", fx, "--failures", fy, "--json")
    for dt in (np.int64, np.float64, np.uint8):
        fyi = tmp_path / f"y_{np.dtype(dt).name}.npy"
        np.save(fyi, y.astype(dt))
        assert run_cli_json(cli, "select", "--features", fx, "--failures", fyi,
                            "--json") == base


@pytest.mark.parametrize("args,needle", [
    ((), "--features"),
    (("--features", "X.npy"), "--failures"),
    (("--features", "X.npy", "--failures", "y.npy", "--estimator", "tree"), "estimator"),
    (("--features", "X.npy", "--failures", "y.npy", "--k", "0"), "--k"),
    (("--features", "X.npy", "--failures", "y.npy", "--k", "-3"), "--k"),
    (("--features", "X.npy", "--failures", "y.npy", "--seed", "4294967296"), "--seed"),
    (("--features", "X.npy", "--failures", "y.npy", "--n-neighbors", "0"), "--n-neighbors"),
    (("--features", "X.npy", "--failures", "y.npy", "--bogus"), "bogus"),
])
def test_bad_usage_exits_2(cli, tmp_path, args, needle):
    X, y = relu_problem(n=20, d=3)
    save(tmp_path, X, y)
    args = [str(tmp_path / a) if a.endswith(".npy") else a for a in args]
    rc, out, err = run_cli(cli, "select", *args, check=False)
    assert rc == 2 and out == "" and needle in err, (rc, err)


def test_errors_exit_1(cli, tmp_path):
    X, y = relu_problem(n=20, d=3)
    fx, fy = save(tmp_path, X, y)

    def fails(*args, needles=()):
        rc, out, err = run_cli(cli, "select", *args, check=False)
        assert rc == 1 and out == "", (rc, out, err)
        for n in needles:
            assert n in err, err
        return err

    fails("--features", fx, "--failures", fy, "--k", 4, needles=("k=4", "d=3"))
    fails("--features", tmp_path / "missing.npy", "--failures", fy, needles=("missing.npy",))
    Xbad = X.copy()
    Xbad[13, 2] = np.nan
    np.save(tmp_path / "Xnan.npy", Xbad)
    fails("--features", tmp_path / "Xnan.npy", "--failures", fy,
          needles=("row 13", "column 2", "NaN"))
    Xbad[13, 2] = -np.inf
    np.save(tmp_path / "Xinf.npy", Xbad)
    fails("--features", tmp_path / "Xinf.npy", "--failures", fy, needles=("row 13", "-inf"))
    np.save(tmp_path / "short.npy", y[:-1])
    fails("--features", fx, "--failures", tmp_path / "short.npy", needles=("19", "20"))
    y2 = y.astype(np.int64)
    y2[5] = 2
    np.save(tmp_path / "two.npy", y2)
    fails("--features", fx, "--failures", tmp_path / "two.npy", needles=("5", "0 or 1"))
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY junk")
    fails("--features", tmp_path / "junk.npy", "--failures", fy, needles=("junk.npy",))


def test_example_rank_features(build_dir):
    """examples/rank_features.c on its fixture prints scikit-learn's top 5."""
    if build_option("examples") is False:
        pytest.skip(f"the examples are not built in {build_dir} (-Dexamples=false)")
    exe = build_dir / "examples" / "rank_features"
    data = Path(__file__).resolve().parents[1] / "data"
    fx, fy = data / "rank_features_X.npy", data / "rank_features_y.npy"
    rc, out, err = run_cli(exe, fx, fy, 5, check=False)
    assert rc == 0, err
    got = [int(line.split()[2]) for line in out.strip().splitlines()[1:]]
    X, y = np.load(fx).astype(np.float64), np.load(fy).astype(int)
    ref = mutual_info_classif(X, y, n_neighbors=3, random_state=0)
    assert got == np.argsort(-ref, kind="stable")[:5].tolist()
    rc, out, err = run_cli(exe, fx, data / "absent.npy", check=False)
    assert rc == 1 and "absent.npy" in err
