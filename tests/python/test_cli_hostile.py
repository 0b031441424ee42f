"""The barlow program under hostile paths and files, as root in a container
would meet them: outputs that are devices, FIFOs or symbolic links are
refused and left as they are; inputs that are FIFOs or /dev/zero are refused
at once; limits are named and can be raised; a failed write to stdout is an
error; SIGINT during a write leaves no temporary; outputs are checked before
the work."""
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import BUILD, run_cli

MODELS = BUILD / "tests" / "torch-models"


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6)).astype(np.float32)
    labels = rng.integers(0, 3, 300).astype(np.int32)
    preds = labels.copy()
    preds[:90] = (preds[:90] + 1) % 3
    y = (labels != preds).astype(np.int32)
    paths = {k: tmp_path / f"{k}.npy" for k in ("X", "l", "p", "y")}
    for k, v in zip(("X", "l", "p", "y"), (X, labels, preds, y)):
        np.save(paths[k], v)
    np.savez(tmp_path / "f.npz", features=X, failures=y)
    (tmp_path / "m.csv").write_text("Filenames,Labels,Predictions\na.png,cat,dog\n"
                                    "b.png,dog,dog\n")
    return tmp_path, paths


def analyze_args(paths, out, *extra):
    return ("analyze", "--features", paths["X"], "--labels", paths["l"], "--predictions",
            paths["p"], "--k", "2", "--out", out, "--quiet", *extra)


def temporaries(d):
    return sorted(p.name for p in Path(d).iterdir() if ".tmp-" in p.name)


def test_output_that_is_not_a_regular_file_is_left_alone(cli, data):
    d, paths = data
    fifo = d / "out.fifo"
    os.mkfifo(fifo)
    target = d / "target.json"
    target.write_text("keep")
    link = d / "link.json"
    link.symlink_to(target)
    for out, what in ((fifo, "a FIFO"), (link, "a symbolic link"), (d, "a directory")):
        rc, _, err = run_cli(cli, *analyze_args(paths, out), check=False)
        assert rc == 1 and f"it is {what}" in err, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert link.is_symlink() and target.read_text() == "keep"
    if os.geteuid() == 0:  # as root, --out /dev/null must not replace the device
        dev = d / "null"
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        for out in (dev, "/dev/null"):
            rc, _, err = run_cli(cli, *analyze_args(paths, out), check=False)
            assert rc == 1 and "it is a character device" in err, err
        assert stat.S_ISCHR(os.lstat(dev).st_mode) and stat.S_ISCHR(os.lstat("/dev/null").st_mode)
    assert temporaries(d) == []


def test_replacing_a_file_keeps_its_mode(cli, data):
    d, paths = data
    out = d / "secret.json"
    out.write_text("old")
    out.chmod(0o600)
    run_cli(cli, *analyze_args(paths, out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["groups"]


def test_inputs_that_are_not_regular_files_are_refused_at_once(cli, data):
    d, paths = data
    fifo = d / "in.fifo"
    os.mkfifo(fifo)
    zero = d / "zero.csv"
    zero.symlink_to("/dev/zero")
    cases = [
        (("groups", "--by", "label", "--metadata", fifo), "it is a FIFO"),
        (("groups", "--by", "label", "--metadata", "/dev/zero"), "it is a character device"),
        (("groups", "--by", "label", "--metadata", zero), "it is a character device"),
        (("groups", "--by", "label", "--metadata", d / "m.csv", "--class-names", fifo),
         "it is a FIFO"),
        (("select", "--features", fifo, "--failures", paths["y"]), "it is a FIFO"),
        (("select", "--features", paths["X"], "--failures", "/dev/zero"), "character device"),
        (("analyze", "--features", fifo, "--labels", paths["l"], "--predictions", paths["p"],
          "--out", d / "o.json"), "it is a FIFO"),
    ]
    for args, needle in cases:
        t0 = time.monotonic()
        p = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True,
                           timeout=20)
        assert p.returncode == 1 and needle in p.stderr, (args, p.stderr)
        assert time.monotonic() - t0 < 10
    assert not (d / "o.json").exists()


def test_limits_are_named_and_can_be_changed(cli, data):
    d, paths = data
    rc, _, err = run_cli(cli, "groups", "--by", "label", "--metadata", d / "m.csv", "--limit",
                         "text=10", check=False)
    assert rc == 1 and "over the limit of 10 bytes (BARLOW_LIMIT_TEXT_BYTES" in err, err
    run_cli(cli, "groups", "--by", "label", "--metadata", d / "m.csv", "--limit=text=1K")
    rc, _, err = run_cli(cli, *analyze_args(paths, d / "o.json", "--limit", "array=2000"),
                         check=False)
    assert rc == 0, err  # the .npy features (7200 bytes) are mapped
    rc, _, err = run_cli(cli, "select", "--features", paths["X"], "--failures", paths["y"],
                         "--limit", "array=1000", check=False)
    assert rc == 1 and "BARLOW_LIMIT_ARRAY_BYTES" in err, err
    for bad in ("text", "text=", "text=0", "bogus=1", "text=1T", "text=-1"):
        rc, _, err = run_cli(cli, "groups", "--by", "label", "--metadata", d / "m.csv",
                             "--limit", bad, check=False)
        assert rc == 2 and "--limit" in err, (bad, err)
    _, out, _ = run_cli(cli, "groups", "--help")
    assert "--limit NAME=SIZE" in out


@pytest.mark.parametrize("cmd", ["select", "tree", "groups", "analyze"])
def test_failed_write_to_stdout_is_an_error(cli, data, cmd):
    d, paths = data
    args = {
        "select": ("select", "--features", paths["X"], "--failures", paths["y"]),
        "tree": ("tree", "--features", paths["X"], "--failures", paths["y"]),
        "groups": ("groups", "--by", "label", "--metadata", d / "m.csv"),
        "analyze": analyze_args(paths, d / "o.json")[:-1],  # not --quiet: it prints
    }[cmd]
    with open("/dev/full", "w") as full:
        p = subprocess.run([str(cli), *map(str, args)], stdout=full, stderr=subprocess.PIPE,
                           text=True)
    assert p.returncode == 1, (cmd, p.returncode)
    assert "writing to standard output failed" in p.stderr, p.stderr


def test_outputs_are_checked_first_and_never_overwrite_inputs(cli, data):
    d, paths = data
    rc, _, err = run_cli(cli, *analyze_args(paths, d / "o.json", "--csv", d), check=False)
    assert rc == 1 and "--csv" in err and "it is a directory" in err, err
    assert not (d / "o.json").exists()
    rc, _, err = run_cli(cli, *analyze_args(paths, d / "o.json", "--csv", d / "." / "o.json"),
                         check=False)
    assert rc == 1 and "--out and --csv name the same file" in err, err
    rc, _, err = run_cli(cli, *analyze_args(paths, paths["l"]), check=False)
    assert rc == 1 and "would overwrite the input --labels" in err, err
    rc, _, err = run_cli(cli, "tree", "--features", paths["X"], "--failures", paths["y"],
                         "--out", paths["X"], check=False)
    assert rc == 1 and "would overwrite the input --features" in err, err
    # extract checks --out before it loads anything (here the model does not exist)
    rc, _, err = run_cli(cli, "extract", "--model", d / "missing.pt", "--metadata", d / "m.csv",
                         "--images", d, "--out", d / "nodir" / "f.npz", check=False)
    assert rc == 1 and "--out" in err and "nodir" in err and "missing.pt" not in err, err
    rc, _, err = run_cli(cli, "extract", "--model", d / "missing.pt", "--metadata", d / "m.csv",
                         "--images", d, "--out", d / "m.csv", check=False)
    assert rc == 1 and "would overwrite the input --metadata" in err, err
    assert (d / "m.csv").read_text().startswith("Filenames")


def test_small_usage_fixes(cli, data):
    d, paths = data
    rc, _, err = run_cli(cli, "select", "--features", paths["X"], "--failures", paths["y"],
                         "--k", "0", check=False)
    assert rc == 2 and "--k=0 is not an integer >= 1" in err, err
    _, out, _ = run_cli(cli, "select", "--features", paths["X"], "--failures",
                        f"{d / 'f.npz'}:failures", "--json")
    ref = json.loads(run_cli(cli, "select", "--features", paths["X"], "--failures",
                             paths["y"], "--json")[1])
    assert json.loads(out) == ref
    rc, _, err = run_cli(cli, "select", "--features", paths["X"], "--failures", d / "f.npz",
                         check=False)
    assert rc == 1 and "name the member" in err, err
    long = "d/" * 60000
    rc, _, err = run_cli(cli, "groups", "--by", "label", "--metadata", long, check=False)
    assert rc == 1 and len(err) < 1100 and err.rstrip().endswith("File name too long"), err[-200:]
    _, out, _ = run_cli(cli, "analyze", "--help")
    assert "SIGBUS" in out


def interrupt_during_fsync(cli, args, cwd):
    """Runs the CLI under strace with every fsync delayed 3 s (the temporary
    is then complete but not renamed), sends SIGINT to it while it waits, and
    returns its exit status and the temporaries seen during the wait."""
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync",
                          "-e", "inject=fsync:delay_enter=3000000", str(cli), *map(str, args)],
                         cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen, deadline = [], time.monotonic() + 60
    while not seen and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.05)
        seen = temporaries(cwd)
    child = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout
    for pid in child.split():
        os.kill(int(pid), signal.SIGINT)
    p.communicate(timeout=60)
    return seen


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_sigint_during_a_write_removes_the_temporary(cli, data):
    d, paths = data
    seen = interrupt_during_fsync(cli, analyze_args(paths, d / "o.json"), d)
    assert seen, "the temporary never appeared"
    assert temporaries(d) == [] and not (d / "o.json").exists()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_sigint_during_the_npz_write_of_extract(cli, tmp_path):
    if not (MODELS / "tiny_cnn.pt").exists():
        pytest.skip("the torch test models are not built")
    seen = interrupt_during_fsync(
        cli, ("extract", "--model", MODELS / "tiny_cnn.pt", "--metadata", MODELS / "meta.csv",
              "--images", MODELS / "images", "--size", "32", "--resize", "0", "--quiet",
              "--out", tmp_path / "f.npz"), tmp_path)
    assert seen, "the temporary never appeared"
    assert temporaries(tmp_path) == [] and not (tmp_path / "f.npz").exists()


def test_extract_skips_images_that_are_not_regular_files(cli, tmp_path):
    if not (MODELS / "tiny_cnn.pt").exists():
        pytest.skip("the torch test models are not built")
    imgs = tmp_path / "imgs"
    shutil.copytree(MODELS / "images", imgs)
    (imgs / "img0.png").unlink()
    (imgs / "img0.png").symlink_to("/dev/zero")
    os.mkfifo(imgs / "fifo.png")
    meta = tmp_path / "m.csv"
    meta.write_text((MODELS / "meta.csv").read_text() + "fifo.png,cat,cat\n")
    p = subprocess.run([str(cli), "extract", "--model", str(MODELS / "tiny_cnn.pt"),
                        "--metadata", str(meta), "--images", str(imgs), "--size", "32",
                        "--resize", "0", "--quiet", "--out", str(tmp_path / "f.npz")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "img0.png: it is a character device" in p.stderr
    assert "fifo.png: it is a FIFO" in p.stderr
    status = np.load(tmp_path / "f.npz")["status"]
    assert status[0] != 0 and status[-1] != 0
