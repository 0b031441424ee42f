"""Dataset loaders against the reference readers: IDX(.gz) files (Debian's
dataset-fashion-mnist) against a numpy parser, and image folders against
torchvision's ImageFolder (class ids and file order). libbarlow is reached
through tests/image_tool."""
import gzip
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def tool(build_dir):
    exe = build_dir / "tests" / "image_tool"
    if not exe.exists():
        pytest.fail(f"the helper {exe} is not built")
    return exe


def run(tool, *args, check=True):
    p = subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"image_tool {' '.join(map(str, args))}: {p.stderr}")
    return p


def numpy_idx(path):
    """The usual numpy reading of an IDX(.gz) file."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    assert raw[0] == 0 and raw[1] == 0 and raw[2] == 8
    nd = raw[3]
    dims = np.frombuffer(raw, ">u4", count=nd, offset=4).astype(int)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


@pytest.mark.parametrize("split", ["t10k", "train"])
def test_fashion_mnist_matches_numpy(tool, tmp_path, split):
    images = FASHION / f"{split}-images-idx3-ubyte.gz"
    labels = FASHION / f"{split}-labels-idx1-ubyte.gz"
    if not images.exists() or not labels.exists():
        pytest.skip(f"{FASHION} is absent (Debian package dataset-fashion-mnist)")
    run(tool, "idx", images, labels, tmp_path / "pix.npy", tmp_path / "lab.npy")
    pix = np.load(tmp_path / "pix.npy")
    lab = np.load(tmp_path / "lab.npy")
    ref_pix = numpy_idx(images)
    ref_lab = numpy_idx(labels)
    assert pix.shape == ref_pix.shape + (1,)
    assert np.array_equal(pix[..., 0], ref_pix)
    assert lab.dtype == np.int32 and np.array_equal(lab, ref_lab.astype(np.int32))


def test_uncompressed_idx_equals_gz(tool, tmp_path):
    images = FASHION / "t10k-images-idx3-ubyte.gz"
    labels = FASHION / "t10k-labels-idx1-ubyte.gz"
    if not images.exists():
        pytest.skip(f"{FASHION} is absent")
    # the first 500 images, uncompressed and named without .gz
    raw_i = gzip.decompress(images.read_bytes())
    raw_l = gzip.decompress(labels.read_bytes())
    n = 500
    hi = bytearray(raw_i[:16])
    hi[4:8] = n.to_bytes(4, "big")
    hl = bytearray(raw_l[:8])
    hl[4:8] = n.to_bytes(4, "big")
    (tmp_path / "i.idx").write_bytes(bytes(hi) + raw_i[16:16 + n * 784])
    (tmp_path / "l.idx").write_bytes(bytes(hl) + raw_l[8:8 + n])
    run(tool, "idx", tmp_path / "i.idx", tmp_path / "l.idx", tmp_path / "p.npy", tmp_path / "l.npy")
    assert np.array_equal(np.load(tmp_path / "p.npy")[..., 0], numpy_idx(images)[:n])
    assert np.array_equal(np.load(tmp_path / "l.npy"), numpy_idx(labels)[:n])
    # a lying header (one image more than present) is refused, naming the file
    hi[4:8] = (n + 1).to_bytes(4, "big")
    (tmp_path / "lie.idx").write_bytes(bytes(hi) + raw_i[16:16 + n * 784])
    p = run(tool, "idx", tmp_path / "lie.idx", tmp_path / "l.idx", tmp_path / "p.npy",
            tmp_path / "l.npy", check=False)
    assert p.returncode == 1 and "truncated" in p.stderr and "lie.idx" in p.stderr


def test_image_folder_matches_torchvision(tool, tmp_path, shared_data):
    datasets = pytest.importorskip("torchvision.datasets")
    src = sorted((shared_data / "barlow-sample" / "images").glob("*.jpg"))
    if len(src) < 40:
        pytest.fail("the sample images are missing")
    root = tmp_path / "folder"
    # classes with names that sort differently by case/digits; nested dirs
    layout = {"Zebra": 7, "apple": 5, "b 2": 4, "b10": 6, "b2/nested": 5, "b2": 3,
              "b2/nested/deeper": 2, "b2/a b": 2}
    k = 0
    for d, count in layout.items():
        (root / d).mkdir(parents=True, exist_ok=True)
        for j in range(count):
            ext = [".jpg", ".JPEG", ".png", ".bmp"][j % 4]
            name = f"{(j * 7919) % 101}{ext}"
            os.symlink(src[k % len(src)], root / d / name)
            k += 1
    (root / "apple" / "notes.txt").write_text("not an image")
    p = run(tool, "folder", root)
    ours = [line.split("\t") for line in p.stdout.splitlines()]
    ref = datasets.ImageFolder(str(root))
    assert [c for c in ref.classes] == sorted({c for _, c, _ in ours})
    ref_rows = [(str(lbl), ref.classes[lbl], os.path.relpath(path, root))
                for path, lbl in ref.samples]
    assert [tuple(r) for r in ours] == ref_rows


def test_empty_folder_is_an_error(tool, tmp_path):
    (tmp_path / "empty").mkdir()
    p = run(tool, "folder", tmp_path / "empty", check=False)
    assert p.returncode == 1
    assert "no class subdirectories" in p.stderr and str(tmp_path / "empty") in p.stderr
