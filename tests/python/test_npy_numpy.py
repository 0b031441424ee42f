"""libbarlow's .npy/.npz code against numpy (the reference): what numpy
writes, libbarlow reads identically; what libbarlow writes, numpy.load reads
identically. Drives the tests/npy_tool helper (built next to the tests)."""
import json
import subprocess
import zipfile

import numpy as np
import pytest

DTYPES = ["<f4", "<f8", "<i4", "<i8", "|b1", "|u1"]
NAMES = {"<f4": "float32", "<f8": "float64", "<i4": "int32", "<i8": "int64",
         "|b1": "bool", "|u1": "uint8"}
SHAPES = [(), (7,), (3, 5), (2, 3, 4)]


@pytest.fixture(scope="session")
def tool(build_dir):
    exe = build_dir / "tests" / "npy_tool"
    if not exe.exists():
        pytest.fail(f"the npy_tool helper is not built at {exe}")
    return exe


def run(tool, *args):
    return subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True)


def run_ok(tool, *args):
    p = run(tool, *args)
    assert p.returncode == 0, f"npy_tool {args} exited {p.returncode}: {p.stderr}"
    return p.stdout


def decode(out, dtype=None):
    """The JSON of `npy_tool dump` as a numpy array."""
    d = json.loads(out)
    vals = [float(v) if isinstance(v, str) else v for v in d["data"]]
    dt = np.dtype(dtype or {v: k for k, v in NAMES.items()}[d["dtype"]])
    return np.array(vals, dtype=dt).reshape(tuple(d["shape"])), d


def sample(descr, shape, seed=0):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if descr in ("<f4", "<f8"):
        a = (rng.standard_normal(n) * 1e3).astype(descr)
        if n >= 4:
            a[1], a[2], a[3] = np.nan, np.inf, -np.inf
    elif descr == "|b1":
        a = rng.integers(0, 2, n).astype(bool)
    elif descr == "|u1":
        a = rng.integers(0, 256, n).astype(np.uint8)
    else:
        info = np.iinfo(descr)
        a = rng.integers(info.min, info.max, n, dtype=descr, endpoint=True)
    return a.reshape(shape)


def c_order(a):
    return a.copy(order="C")  # np.ascontiguousarray would make 0-d arrays 1-d


def same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)  # NaN == NaN here


@pytest.mark.parametrize("descr", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)) or "0d")
@pytest.mark.parametrize("version", [None, (2, 0), (3, 0)], ids=["np.save", "v2", "v3"])
def test_numpy_writes_barlow_reads(tool, tmp_path, descr, shape, version):
    a = sample(descr, shape)
    p = tmp_path / "a.npy"
    if version is None:
        np.save(p, a)
    else:
        with open(p, "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    got, d = decode(run_ok(tool, "dump", p))
    assert d["dtype"] == NAMES[descr]
    same(got, a)


@pytest.mark.parametrize("descr", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4)], ids=["3x5", "2x3x4"])
def test_fortran_order_is_transposed(tool, tmp_path, descr, shape):
    a = np.asfortranarray(sample(descr, shape, seed=3))
    assert a.flags.f_contiguous and not a.flags.c_contiguous
    np.save(tmp_path / "f.npy", a)
    with open(tmp_path / "f.npy", "rb") as f:
        np.lib.format.read_magic(f)
        assert np.lib.format.read_array_header_1_0(f)[1] is True  # really Fortran
    got, _ = decode(run_ok(tool, "dump", tmp_path / "f.npy"))
    same(got, c_order(a))
    if len(shape) == 2:
        m, _ = decode(run_ok(tool, "matrix", tmp_path / "f.npy"), "<f4")
        same(m, c_order(a).astype(np.float32))


@pytest.mark.parametrize("descr", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)) or "0d")
def test_barlow_writes_numpy_reads_byte_identical(tool, tmp_path, descr, shape):
    a = sample(descr, shape, seed=1)
    np.save(tmp_path / "ref.npy", a)
    run_ok(tool, "copy", tmp_path / "ref.npy", tmp_path / "out.npy")
    same(np.load(tmp_path / "out.npy"), a)
    # the same header (version 1.0, 64-byte aligned data) as numpy's own
    assert (tmp_path / "out.npy").read_bytes() == (tmp_path / "ref.npy").read_bytes()


def test_fortran_copy_is_written_in_c_order(tool, tmp_path):
    a = np.asfortranarray(np.arange(12, dtype="<i8").reshape(3, 4))
    np.save(tmp_path / "f.npy", a)
    run_ok(tool, "copy", tmp_path / "f.npy", tmp_path / "c.npy")
    b = np.load(tmp_path / "c.npy")
    assert b.flags.c_contiguous
    same(b, c_order(a))


@pytest.mark.parametrize("descr", DTYPES)
def test_matrix_conversion_matches_astype(tool, tmp_path, descr):
    a = sample(descr, (6, 4), seed=2)
    np.save(tmp_path / "a.npy", a)
    m, d = decode(run_ok(tool, "matrix", tmp_path / "a.npy"), "<f4")
    assert d["shape"] == [6, 4]
    same(m, a.astype(np.float32))  # float64: round to nearest; ints exact
    run_ok(tool, "matrix-copy", tmp_path / "a.npy", tmp_path / "m.npy")
    same(np.load(tmp_path / "m.npy"), a.astype(np.float32))


def test_matrix_of_1d_is_n_by_1(tool, tmp_path):
    a = np.arange(5, dtype="<i4")
    np.save(tmp_path / "a.npy", a)
    m, _ = decode(run_ok(tool, "matrix", tmp_path / "a.npy"), "<f4")
    same(m, a.astype(np.float32).reshape(5, 1))


def test_float64_beyond_float32_range_names_row_and_column(tool, tmp_path):
    a = np.zeros((3, 4))
    a[2, 1] = 1e39
    np.save(tmp_path / "a.npy", a)
    p = run(tool, "matrix", tmp_path / "a.npy")
    assert p.returncode == 1
    assert "row 2, column 1: 1e+39 is beyond float32 range" in p.stderr


def test_map_float32(tool, tmp_path):
    a = sample("<f4", (9, 7), seed=4)
    np.save(tmp_path / "a.npy", a)
    m, _ = decode(run_ok(tool, "map", tmp_path / "a.npy"), "<f4")
    same(m, a)
    np.save(tmp_path / "d.npy", a.astype(np.float64))
    p = run(tool, "map", tmp_path / "d.npy")
    assert p.returncode == 1 and "barlow_matrix_load_npy" in p.stderr


ARRAYS = {
    "features": sample("<f4", (10, 6), seed=5),
    "labels": sample("<i8", (10,), seed=6),
    "failures": sample("|b1", (10,), seed=7),
    "logits": np.asfortranarray(sample("<f8", (10, 3), seed=8)),
    "ids": sample("<i4", (2, 5), seed=9),
    "pix": sample("|u1", (2, 2, 3), seed=10),
    "t": np.array(1.5),
}


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["savez", "compressed"])
def test_numpy_npz_barlow_reads(tool, tmp_path, save):
    p = tmp_path / "a.npz"
    save(p, **ARRAYS)
    for name, a in ARRAYS.items():
        for key in (name, name + ".npy"):
            got, _ = decode(run_ok(tool, "dump-npz", p, key))
            same(got, c_order(a))
    m, _ = decode(run_ok(tool, "matrix-npz", p, "logits"), "<f4")
    same(m, c_order(ARRAYS["logits"]).astype(np.float32))


def test_npz_missing_member_lists_members(tool, tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros(2), y=np.ones(3))
    p = run(tool, "dump-npz", tmp_path / "a.npz", "z")
    assert p.returncode == 1
    assert "no member 'z' (members: 'x', 'y')" in p.stderr


@pytest.mark.parametrize("mode", ["npz-copy", "npz-copy64"])
@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["savez", "compressed"])
def test_barlow_npz_numpy_reads(tool, tmp_path, save, mode):
    src, out = tmp_path / "src.npz", tmp_path / "out.npz"
    save(src, **ARRAYS)
    run_ok(tool, mode, src, out, *ARRAYS)
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None  # every CRC checks out
        infos = z.infolist()
        assert [i.filename for i in infos] == [n + ".npy" for n in ARRAYS]
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
    with np.load(out) as d:
        assert sorted(d.files) == sorted(ARRAYS)
        for name, a in ARRAYS.items():
            same(d[name], c_order(a))
    # and libbarlow reads its own archive back
    got, _ = decode(run_ok(tool, "dump-npz", out, "features"))
    same(got, ARRAYS["features"])


def test_npz_copy_is_deterministic(tool, tmp_path):
    np.savez(tmp_path / "s.npz", **ARRAYS)
    run_ok(tool, "npz-copy", tmp_path / "s.npz", tmp_path / "a.npz", *ARRAYS)
    run_ok(tool, "npz-copy", tmp_path / "s.npz", tmp_path / "b.npz", *ARRAYS)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_numpy_file_errors(tool, tmp_path):
    a = sample("<f4", (1300, 2048 // 64), seed=11)
    np.save(tmp_path / "a.npy", a)
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:128 + 4])
    p = run(tool, "matrix", tmp_path / "cut.npy")
    assert p.returncode == 1
    assert "header says 1300x32 float32 but file has 4 bytes of data" in p.stderr
    np.save(tmp_path / "be.npy", a.astype(">f4"))
    p = run(tool, "dump", tmp_path / "be.npy")
    assert p.returncode == 1 and "big-endian dtype '>f4'" in p.stderr
    np.save(tmp_path / "c.npy", np.zeros(3, np.complex64))
    p = run(tool, "dump", tmp_path / "c.npy")
    assert p.returncode == 1 and "'<c8' is not supported" in p.stderr
    np.savez_compressed(tmp_path / "z.npz", a=a)
    z = bytearray((tmp_path / "z.npz").read_bytes())
    z[len(z) // 2] ^= 0xFF  # inside the deflate stream
    (tmp_path / "bad.npz").write_bytes(bytes(z))
    p = run(tool, "dump-npz", tmp_path / "bad.npz", "a")
    assert p.returncode == 1
    assert "deflate" in p.stderr or "CRC-32" in p.stderr


def test_write_into_missing_directory_leaves_nothing(tool, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    np.savez(tmp_path / "a.npz", a=np.zeros(3))
    before = sorted(tmp_path.iterdir())
    p = run(tool, "copy", tmp_path / "a.npy", tmp_path / "missing" / "b.npy")
    assert p.returncode == 1 and "missing/b.npy" in p.stderr
    p = run(tool, "npz-copy", tmp_path / "a.npz", tmp_path / "missing" / "b.npz", "a")
    assert p.returncode == 1 and "missing/b.npz" in p.stderr
    assert sorted(tmp_path.iterdir()) == before
