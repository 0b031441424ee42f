"""libbarlow's image pipeline against PIL + torchvision (the reference's
preprocessing): JPEG decode, conversions, antialiased resize, centre crop and
ToTensor must agree bit for bit. libbarlow is reached through the helper
program tests/image_tool (built with the tests), which writes .npy files."""
import io
import random
import subprocess

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

torch = pytest.importorskip("torch")
T = pytest.importorskip("torchvision.transforms")


@pytest.fixture(scope="module")
def tool(build_dir):
    exe = build_dir / "tests" / "image_tool"
    if not exe.exists():
        pytest.fail(f"the helper {exe} is not built")
    return exe


@pytest.fixture(scope="module")
def sample_jpegs(shared_data):
    d = shared_data / "barlow-sample" / "images"
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if len(files) != 144:
        pytest.fail(f"expected the 144 sample JPEGs in {d}, found {len(files)}")
    return files


def run(tool, *args, check=True):
    p = subprocess.run([str(tool), *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"image_tool {' '.join(map(str, args))}: {p.stderr}")
    return p


def run_batch(tool, tmp_path, jobs):
    """Runs many image_tool commands in one process (starting the program
    loads libbarlow and its dependencies, which is slow); returns one
    "ok" / "error: ..." line per job."""
    jobfile = tmp_path / "jobs.txt"
    jobfile.write_text("".join("\t".join(map(str, j)) + "\n" for j in jobs))
    p = run(tool, "batch", jobfile)
    lines = p.stdout.splitlines()
    assert len(lines) == len(jobs), p.stdout + p.stderr
    return lines


def decode(tool, path, out, channels=0):
    run(tool, "decode", "-c", channels, path, out)
    a = np.load(out)
    assert a.dtype == np.uint8 and a.ndim == 3
    return a


def pil_array(im):
    a = np.asarray(im)
    return a[:, :, None] if a.ndim == 2 else a


def reference_tensor(im, resize, crop, channels):
    im = im.convert("L" if channels == 1 else "RGB")
    steps = []
    if resize:
        steps.append(T.Resize(resize))
    if crop:
        steps.append(T.CenterCrop(crop))
    steps.append(T.ToTensor())
    return T.Compose(steps)(im).numpy()


def preprocess(tool, paths, out, resize, crop, channels):
    run(tool, "preprocess", "-r", resize, "-s", crop, "-c", channels, out, *paths)
    a = np.load(out)
    assert a.dtype == np.float32 and a.ndim == 4
    return a


def assert_bit_identical(ours, ref, what):
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max()
    same = np.array_equal(ours.view(np.uint32), ref.astype(np.float32).view(np.uint32))
    assert same, f"{what}: max abs difference {diff}"


# ---- the sample's JPEGs -------------------------------------------------------

def test_sample_jpeg_decode_equals_pil(tool, sample_jpegs, tmp_path):
    jobs = [("decode", "-c", 0, f, tmp_path / f"{i}.npy") for i, f in enumerate(sample_jpegs)]
    jobs += [("decode", "-c", 1, f, tmp_path / f"g{i}.npy") for i, f in enumerate(sample_jpegs)]
    assert run_batch(tool, tmp_path, jobs) == ["ok"] * len(jobs)
    for i, f in enumerate(sample_jpegs):
        ours = np.load(tmp_path / f"{i}.npy")
        assert np.array_equal(ours, pil_array(Image.open(f).convert("RGB"))), \
            f"{f.name}: decode differs from PIL"
        ours = np.load(tmp_path / f"g{i}.npy")
        assert np.array_equal(ours, pil_array(Image.open(f).convert("L"))), \
            f"{f.name}: 'L' conversion differs from PIL"


@pytest.mark.parametrize("resize,crop,channels", [(256, 224, 3), (224, 224, 3), (0, 224, 3),
                                                  (256, 224, 1), (96, 80, 3)])
def test_sample_preprocess_equals_torchvision(tool, sample_jpegs, tmp_path, resize, crop,
                                              channels):
    ours = preprocess(tool, sample_jpegs, tmp_path / "p.npy", resize, crop, channels)
    ref = np.stack([reference_tensor(Image.open(f), resize, crop, channels)
                    for f in sample_jpegs])
    assert_bit_identical(ours, ref, f"Resize({resize}) CenterCrop({crop}) channels {channels}")


# ---- varied sizes, formats and colour types -----------------------------------

def mosaic(sample_jpegs, rng, w, h):
    """A w×h RGB image pasted together from sample images (natural content)."""
    big = Image.new("RGB", (448, 448))
    for k, f in enumerate(rng.sample(sample_jpegs, 4)):
        big.paste(Image.open(f).convert("RGB"), ((k % 2) * 224, (k // 2) * 224))
    if w > 448 or h > 448:
        big = big.resize((max(w, 448), max(h, 448)), Image.BICUBIC)
    x0 = rng.randint(0, big.width - w)
    y0 = rng.randint(0, big.height - h)
    return big.crop((x0, y0, x0 + w, y0 + h))


def test_resize_equals_pil_at_many_sizes(tool, sample_jpegs, tmp_path):
    """Down- and up-scaling by arbitrary factors, grey and RGB, bit for bit."""
    rng = random.Random(7)
    cases, jobs = [], []
    for t in range(40):
        im = mosaic(sample_jpegs, rng, rng.randint(1, 700), rng.randint(1, 700))
        if t % 4 == 0:
            im = im.convert("L")
        src = tmp_path / f"src{t}.png"
        im.save(src)
        ow = rng.choice([rng.randint(1, 40), rng.randint(1, 900)])
        oh = rng.choice([rng.randint(1, 40), rng.randint(1, 900)])
        cases.append((im, ow, oh))
        jobs.append(("resize", src, ow, oh, tmp_path / f"r{t}.npy"))
    assert run_batch(tool, tmp_path, jobs) == ["ok"] * len(jobs)
    for t, (im, ow, oh) in enumerate(cases):
        ours = np.load(tmp_path / f"r{t}.npy")
        ref = pil_array(im.resize((ow, oh), Image.BILINEAR))
        assert np.array_equal(ours, ref), f"{im.size} -> {(ow, oh)} ({im.mode}) differs"


SIZES = [(500, 375), (375, 500), (640, 480), (257, 256), (1000, 200), (200, 199), (150, 100),
         (223, 225), (31, 17)]
SETTINGS = [(256, 224, 3), (0, 224, 3), (256, 0, 3), (100, 90, 1)]


def test_preprocess_geometry_equals_torchvision(tool, sample_jpegs, tmp_path):
    """Shorter side to 256 (rounding of the long side), crop 224 (offset
    rounding, padding when smaller), on JPEG files PIL wrote."""
    jobs, cases = [], []
    for k, size in enumerate(SIZES):
        rng = random.Random(size[0] * 1000 + size[1])
        path = tmp_path / f"x{k}.jpg"
        mosaic(sample_jpegs, rng, *size).save(path, quality=90)
        for j, (resize, crop, ch) in enumerate(SETTINGS):
            out = tmp_path / f"p{k}_{j}.npy"
            jobs.append(("preprocess", "-r", resize, "-s", crop, "-c", ch, out, path))
            cases.append((size, path, resize, crop, ch, out))
    assert run_batch(tool, tmp_path, jobs) == ["ok"] * len(jobs)
    for size, path, resize, crop, ch, out in cases:
        ref = reference_tensor(Image.open(path), resize, crop, ch)[None]
        assert_bit_identical(np.load(out), ref, f"{size} Resize({resize}) CenterCrop({crop}) c{ch}")


def save_variant(im, path, kind):
    """Writes `im` in one of the formats / colour types PIL can produce."""
    if kind == "jpeg-grey":
        im.convert("L").save(path, "JPEG", quality=85)
    elif kind == "jpeg-cmyk":
        im.convert("CMYK").save(path, "JPEG", quality=90)
    elif kind == "jpeg-progressive":
        im.save(path, "JPEG", quality=80, progressive=True)
    elif kind == "jpeg-444":
        im.save(path, "JPEG", quality=95, subsampling=0)
    elif kind == "jpeg-422":
        im.save(path, "JPEG", quality=75, subsampling=1)
    elif kind == "png-rgb":
        im.save(path, "PNG")
    elif kind == "png-rgba":
        a = im.convert("RGBA")
        a.putalpha(im.convert("L"))
        a.save(path, "PNG")
    elif kind == "png-la":
        la = im.convert("LA")
        la.putalpha(Image.eval(im.convert("L"), lambda v: 255 - v))
        la.save(path, "PNG")
    elif kind == "png-palette":
        im.quantize(64).save(path, "PNG")
    elif kind == "png-palette-trns":
        p = im.quantize(16)
        p.info["transparency"] = 3
        p.save(path, "PNG", transparency=3)
    elif kind == "png-grey16":
        a = (np.asarray(im.convert("L")).astype(np.uint16) * 257 + 3).astype(np.uint16)
        Image.fromarray(a, mode="I;16").save(path, "PNG")
    elif kind == "png-1bit":
        im.convert("1").save(path, "PNG")
    elif kind == "bmp-rgb":
        im.save(path, "BMP")
    elif kind == "bmp-grey":
        im.convert("L").save(path, "BMP")
    elif kind == "bmp-palette":
        im.quantize(200).save(path, "BMP")
    else:
        raise ValueError(kind)


KINDS = ["jpeg-grey", "jpeg-cmyk", "jpeg-progressive", "jpeg-444", "jpeg-422", "png-rgb",
         "png-rgba", "png-la", "png-palette", "png-palette-trns", "png-1bit", "bmp-rgb",
         "bmp-grey", "bmp-palette"]


def test_formats_and_colour_types_equal_pil(tool, sample_jpegs, tmp_path):
    jobs = []
    for kind in KINDS:
        im = mosaic(sample_jpegs, random.Random(kind), 203, 157)
        path = tmp_path / f"{kind}.bin"  # no extension: detection is by magic bytes
        save_variant(im, path, kind)
        jobs += [("decode", "-c", 3, path, tmp_path / f"{kind}-rgb.npy"),
                 ("decode", "-c", 1, path, tmp_path / f"{kind}-l.npy"),
                 ("preprocess", "-r", 128, "-s", 112, "-c", 3, tmp_path / f"{kind}-p.npy", path)]
    assert run_batch(tool, tmp_path, jobs) == ["ok"] * len(jobs)
    for kind in KINDS:
        path = tmp_path / f"{kind}.bin"
        ours = np.load(tmp_path / f"{kind}-rgb.npy")
        assert np.array_equal(ours, pil_array(Image.open(path).convert("RGB"))), \
            f"{kind}: RGB decode differs from PIL"
        ours = np.load(tmp_path / f"{kind}-l.npy")
        assert np.array_equal(ours, pil_array(Image.open(path).convert("L"))), \
            f"{kind}: grey decode differs from PIL"
        assert_bit_identical(np.load(tmp_path / f"{kind}-p.npy"),
                             reference_tensor(Image.open(path), 128, 112, 3)[None], kind)


def test_16bit_png_keeps_high_byte(tool, tmp_path):
    """PIL reads 16-bit grey as mode I;16 and its 'L'/'RGB' conversions
    differ between versions; libbarlow keeps the high byte (v >> 8)."""
    a = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(a, mode="I;16").save(path)
    ours = decode(tool, path, tmp_path / "d.npy")
    assert ours.shape == (48, 64, 1)
    assert np.array_equal(ours[:, :, 0], (a >> 8).astype(np.uint8))


def test_truncated_sample_jpeg_refused_like_pil(tool, sample_jpegs, tmp_path):
    data = sample_jpegs[0].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError):
        Image.open(io.BytesIO(data[: len(data) // 2])).load()
    p = run(tool, "decode", cut, tmp_path / "d.npy", check=False)
    assert p.returncode == 1
    assert "truncated" in p.stderr and str(cut) in p.stderr
