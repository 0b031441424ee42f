"""`barlow groups`: groups of a metadata CSV with size, failures and base
error rate, checked against Python's csv module on the reference sample and
on synthetic files; usage errors exit 2, bad files exit 1 with the library's
message on stderr."""
import collections
import csv
import json
import subprocess

import pytest

from conftest import run_cli, run_cli_json


def reference_groups(path, by, class_names=None):
    """The expected groups computed independently with Python's csv module."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    key = "Labels" if by == "label" else "Predictions"
    size = collections.Counter(r[key] for r in rows)
    fail = collections.Counter(r[key] for r in rows if r["Predictions"] != r["Labels"])
    order = class_names if class_names is not None else sorted(size, key=lambda s: s.encode())
    return [{"name": n, "size": size[n], "failures": fail[n],
             "base_error_rate": fail[n] / size[n]} for n in order if size[n]]


def test_sample_label_group(cli, shared_data):
    meta = shared_data / "barlow-sample" / "metadata.csv"
    out = run_cli_json(cli, "groups", "--metadata", meta, "--by", "label", "--json")
    assert out == {"groups": [{"name": "water jug", "size": 144, "failures": 72,
                               "base_error_rate": 0.5}]}


def test_sample_prediction_groups(cli, shared_data):
    meta = shared_data / "barlow-sample" / "metadata.csv"
    out = run_cli_json(cli, "groups", "--metadata", meta, "--by", "prediction", "--json")
    groups = {g["name"]: g for g in out["groups"]}
    assert groups["water jug"] == {"name": "water jug", "size": 72, "failures": 0,
                                   "base_error_rate": 0.0}
    # names with commas survive the quoting
    assert groups["bucket, pail"]["size"] == 2
    assert out["groups"] == reference_groups(meta, "prediction")
    assert sum(g["size"] for g in out["groups"]) == 144


def test_sample_table(cli, shared_data):
    meta = shared_data / "barlow-sample" / "metadata.csv"
    _, text, _ = run_cli(cli, "groups", "--metadata", meta, "--by", "label")
    lines = text.strip().splitlines()
    assert lines[0].split()[0] == "label"
    assert lines[1].split() == ["water", "jug", "144", "72", "0.5000"]


def test_synthetic_quoting_and_class_names(cli, tmp_path):
    meta = tmp_path / "m.csv"
    meta.write_bytes(
        b"\xef\xbb\xbfPredictions,Labels,Filenames,Extra\r\n"
        b'"b, x","a ""q""",0.png,"multi\r\nline"\r\n'
        b'"a ""q""","a ""q""",1.png,\r\n'
        b'c,"b, x",2.png,z')
    out = run_cli_json(cli, "groups", "--metadata", meta, "--by", "label", "--json")
    assert out["groups"] == reference_groups(meta, "label")
    assert out["groups"][0] == {"name": 'a "q"', "size": 2, "failures": 1,
                                "base_error_rate": 0.5}
    # a class-name list fixes the order (ids) and may name absent classes
    names = tmp_path / "names.txt"
    names.write_text("c\nunused\nb, x\na \"q\"\n")
    out = run_cli_json(cli, "groups", "--metadata", meta, "--by", "prediction",
                       "--class-names", names, "--json")
    assert [g["name"] for g in out["groups"]] == ["c", "b, x", 'a "q"']
    assert out["groups"] == reference_groups(meta, "prediction", ["c", "unused", "b, x", 'a "q"'])


def test_help(cli):
    rc, out, _ = run_cli(cli, "groups", "--help")
    assert rc == 0 and "--metadata" in out and "--by" in out


@pytest.mark.parametrize("args, needle", [
    ([], "--metadata"),
    (["--metadata", "m.csv"], "--by"),
    (["--metadata", "m.csv", "--by", "colour"], "colour"),
    (["--metadata", "m.csv", "--by", "label", "--bogus"], "--bogus"),
    (["--metadata"], "needs a value"),
    (["--metadata", "m.csv", "--by", "label", "stray"], "stray"),
])
def test_usage_errors(cli, args, needle):
    rc, out, err = run_cli(cli, "groups", *args, check=False)
    assert rc == 2 and needle in err and out == ""


def test_missing_file(cli, tmp_path):
    rc, out, err = run_cli(cli, "groups", "--metadata", tmp_path / "nope.csv", "--by", "label",
                           "--json", check=False)
    assert rc == 1 and out == ""
    assert "barlow_dataset_load_csv" in err and "nope.csv" in err


@pytest.mark.parametrize("text, needle", [
    ("", "empty file"),
    ("Filenames,Predictions,Labels\n", "no rows"),
    ("Filenames,Predictions\na.png,x\n", "'Labels'"),
    ('Filenames,Predictions,Labels\na.png,"x,y\n', "unbalanced quotes"),
    ("Filenames,Predictions,Labels\na.png,x,y\nb.png,x\n", "line 3"),
])
def test_bad_csv(cli, tmp_path, text, needle):
    meta = tmp_path / "bad.csv"
    meta.write_text(text)
    rc, out, err = run_cli(cli, "groups", "--metadata", meta, "--by", "label", "--json",
                           check=False)
    assert rc == 1 and out == ""
    assert err.startswith("barlow groups: barlow_dataset_load_csv") and needle in err


def test_name_not_in_class_list(cli, tmp_path):
    meta = tmp_path / "m.csv"
    meta.write_text("Filenames,Predictions,Labels\na.png,cat,dog\n")
    names = tmp_path / "names.txt"
    names.write_text("dog\n")
    rc, out, err = run_cli(cli, "groups", "--metadata", meta, "--by", "label",
                           "--class-names", names, check=False)
    assert rc == 1 and out == "" and "'cat'" in err and "row 0" in err


def test_no_predictions_column(cli, tmp_path):
    meta = tmp_path / "m.csv"
    meta.write_text("Filenames,Labels\na.png,cat\n")
    rc, out, err = run_cli(cli, "groups", "--metadata", meta, "--by", "label", check=False)
    assert rc == 1 and out == "" and "no predictions" in err


def test_json_is_valid_for_odd_names(cli, tmp_path):
    meta = tmp_path / "m.csv"
    meta.write_text('Filenames,Predictions,Labels\na.png,"back\\slash\ttab","back\\slash\ttab"\n')
    out = run_cli_json(cli, "groups", "--metadata", meta, "--by", "label", "--json")
    assert out["groups"] == [{"name": "back\\slash\ttab", "size": 1, "failures": 0,
                              "base_error_rate": 0.0}]
    json.dumps(out)


def test_nul_byte_in_a_cell_is_refused(cli, tmp_path):
    # "cat\0A" and "cat\0B" used to be cut at the NUL and merged into "cat"
    meta = tmp_path / "m.csv"
    meta.write_bytes(b"Filenames,Predictions,Labels\na.png,cat\0A,cat\0A\nb.png,cat\0B,cat\0B\n")
    rc, out, err = run_cli(cli, "groups", "--metadata", meta, "--by", "label", "--json",
                           check=False)
    assert rc == 1 and out == ""
    assert "m.csv: line 2 (row 0, column 'Predictions'): NUL byte" in err


def test_nul_byte_in_the_class_names_file_is_refused(cli, tmp_path):
    meta = tmp_path / "m.csv"
    meta.write_text("Filenames,Predictions,Labels\na.png,cat,dog\n")
    names = tmp_path / "names.txt"
    names.write_bytes(b"cat\ndo\0g\n")
    rc, out, err = run_cli(cli, "groups", "--metadata", meta, "--by", "label",
                           "--class-names", names, check=False)
    assert rc == 1 and out == "" and "names.txt: line 2: NUL byte" in err


@pytest.mark.parametrize("label, offset", [
    (b"cat\xff\xfe", "byte 0xff at offset 3"),
    (b"\xc0\xaf", "byte 0xc0 at offset 0"),           # overlong "/"
    (b"x\xed\xa0\x80", "byte 0xed at offset 1"),       # a surrogate
])
def test_non_utf8_class_name_is_refused(cli, tmp_path, label, offset):
    # such a name used to go raw into the JSON, which json.load could not read
    meta = tmp_path / "m.csv"
    meta.write_bytes(b"Filenames,Predictions,Labels\na.png,dog,dog\nb.png,dog," + label + b"\n")
    p = subprocess.run([str(cli), "groups", "--metadata", str(meta), "--by", "label", "--json"],
                       capture_output=True)
    err = p.stderr.decode()
    assert p.returncode == 1 and p.stdout == b""
    assert "line 3 (row 1): Labels cell: not valid UTF-8" in err and offset in err


def test_non_utf8_file_names_and_extra_cells_are_kept(cli, tmp_path):
    # file names and extra columns are bytes (Linux file names need not be
    # UTF-8); the JSON (class names only) stays valid UTF-8 JSON
    meta = tmp_path / "m.csv"
    meta.write_bytes(b"Filenames,Predictions,Labels,Note\n"
                     b"\xff\xfe.png,caf\xc3\xa9,caf\xc3\xa9,\xc0\xaf\n"
                     b"b.png,\xf0\x9f\x90\x9f,caf\xc3\xa9,ok\n")
    p = subprocess.run([str(cli), "groups", "--metadata", str(meta), "--by", "prediction",
                        "--json"], capture_output=True)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.decode("utf-8"))
    assert out["groups"] == [
        {"name": "caf\u00e9", "size": 1, "failures": 0, "base_error_rate": 0.0},
        {"name": "\U0001f41f", "size": 1, "failures": 1, "base_error_rate": 1.0}]
