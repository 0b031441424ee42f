"""`barlow extract` end to end, and parity with PyTorch on the sample's 144
real JPEGs: a seeded random-weight torchvision ResNet-18, converted by
tools/convert_checkpoint.py, gives the same penultimate features through
libbarlow (its JPEG decode, resize, crop and the frozen/optimised model) as
through PIL + torchvision transforms + the eager PyTorch module (≤ 1e-4
relative). Low resolution (resize 128, crop 112) keeps it fast on 2 cores.
Also: the shim's exception discipline (a grep), skipped images, errors."""
import csv
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

torch = pytest.importorskip("torch")
tvm = pytest.importorskip("torchvision.models")
T = pytest.importorskip("torchvision.transforms")
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "convert_checkpoint.py"
RESIZE, CROP = 128, 112


def test_shim_guard():
    """Every status-returning extern "C" function of the shim runs its body
    through the one bw_torch_guard helper, and the plugin's table holds
    exactly those functions; no other file includes libtorch."""
    src = (ROOT / "lib" / "torch" / "shim.cpp").read_text()
    extern = src[src.index('extern "C" {\n\nbarlow_status'):]
    funcs = re.findall(r"^barlow_status (bw_\w+)\(.*?\)\n\{\n(.*?)^\}", extern, re.S | re.M)
    declared = re.findall(r"^barlow_status (bw_\w+)\(", (ROOT / "lib" / "torch" / "shim.h")
                          .read_text(), re.M)
    assert sorted(f for f, _ in funcs) == sorted(declared) and len(declared) >= 5
    for name, body in funcs:
        assert body.lstrip().startswith("return bw_torch_guard(who, [&]() -> barlow_status {"), name
    # libbarlow reaches the shim only through the plugin's table: every
    # status-returning table slot is filled with one of the guarded functions
    # above, and the shim never calls libbarlow's bw_error directly
    hdr = (ROOT / "lib" / "torch" / "shim.h").read_text()
    table = hdr[hdr.index("typedef struct bw_torch_plugin {"):]
    table = table[:table.index("} bw_torch_plugin;")]
    slots = re.findall(r"barlow_status \(\*(\w+)\)\(", table)
    entry = src[src.index("barlow_torch_plugin_v1("):]
    filled = dict(re.findall(r"^\s*t\.(\w+) = (\w+);", entry, re.M))
    assert slots and all(filled.get(s) in dict(funcs) for s in slots), (slots, filled)
    assert sorted(filled[s] for s in slots) == sorted(declared)
    assert not re.search(r"\bbw_error\s*\(", src)
    # catch clauses only inside the helper and in the load/dry-run steps that
    # rethrow our own bw_fail (they never swallow into a status themselves)
    assert src.count("catch (...)") == 2  # the helper and the noexcept free()
    for path in list((ROOT / "lib").rglob("*.c")) + list((ROOT / "lib").rglob("*.h")):
        text = path.read_text(errors="replace")
        assert not re.search(r"#\s*include\s*[<\"](torch/(?!shim\.h)|ATen/|c10/)", text), path
    cpp = [p.name for p in (ROOT / "lib").rglob("*.cpp")]
    assert cpp == ["shim.cpp"]


@pytest.fixture(scope="module")
def torch_cli(cli, tmp_path_factory):
    """The CLI, skipping when libbarlow was built without libtorch."""
    d = tmp_path_factory.mktemp("probe")
    (d / "m.csv").write_text("Filenames,Labels\nx.png,a\n")
    rc, _, err = run_cli(cli, "extract", "--model", d / "missing.pt", "--metadata",
                         d / "m.csv", "--images", d, "--out", d / "o.npz", check=False)
    if "built without libtorch" in err:
        pytest.skip("libbarlow was built without libtorch")
    return cli


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    """A seeded random-weight ResNet-18, its state dict converted by the tool."""
    d = tmp_path_factory.mktemp("r18")
    torch.manual_seed(2021)
    net = tvm.resnet18(weights=None)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    net.eval()
    torch.save(net.state_dict(), d / "r18.pth")
    p = subprocess.run(["/usr/bin/python3", str(TOOL), "--torchvision", d / "r18.pth", "--arch",
                        "resnet18", "--size", str(CROP), "--out", d / "r18.pt"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    sha = re.search(r"sha256 ([0-9a-f]{64})", p.stdout).group(1)
    return net, d / "r18.pt", sha


@pytest.fixture(scope="module")
def sample(shared_data):
    d = shared_data / "barlow-sample"
    with open(d / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 144
    return d, rows


def reference(net, d, rows):
    """PIL decode + torchvision Resize/CenterCrop/ToTensor + the eager module."""
    tf = T.Compose([T.Resize(RESIZE), T.CenterCrop(CROP), T.ToTensor()])
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = torch.stack([tf(Image.open(d / "images" / r["Filenames"]).convert("RGB")) for r in rows])
    feats, logits = [], []
    with torch.no_grad():
        for i in range(0, len(x), 32):
            xn = (x[i:i + 32] - mean) / std
            y = net.maxpool(net.relu(net.bn1(net.conv1(xn))))
            fmap = net.layer4(net.layer3(net.layer2(net.layer1(y))))
            feats.append(fmap.mean(dim=(2, 3)))
            logits.append(net(xn))
    return torch.cat(feats).numpy(), torch.cat(logits).numpy()


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def test_sample_parity_and_predict(torch_cli, resnet18, sample, tmp_path):
    net, model, sha = resnet18
    d, rows = sample
    ref_f, ref_l = reference(net, d, rows)

    # class ids that cover the model's 1000 outputs: the CSV's names first
    names = sorted({r["Labels"] for r in rows} | {r["Predictions"] for r in rows})
    names += [f"class_{i}" for i in range(1000 - len(names))]
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")

    out = tmp_path / "f.npz"
    _, _, err = run_cli(torch_cli, "extract", "--model", model, "--sha256", sha,
                        "--metadata", d / "metadata.csv", "--images", d / "images",
                        "--class-names", tmp_path / "names.txt",
                        "--predict", model, "--predict-sha256", sha,
                        "--size", CROP, "--resize", RESIZE, "--batch", 32, "--threads", 2,
                        "--logits", "--out", out)
    z = np.load(out)
    assert set(z.files) == {"features", "logits", "index", "labels", "predictions", "status",
                            "class_names"}
    assert list(z["class_names"]) == names  # the --class-names list, in id order
    assert z["features"].shape == (144, 512) and z["features"].dtype == np.float32
    assert rel(z["features"], ref_f) <= 1e-4, rel(z["features"], ref_f)
    assert rel(z["logits"], ref_l) <= 1e-4
    assert (z["index"] == np.arange(144)).all() and (z["status"] == 0).all()
    label_ids = [names.index(r["Labels"]) for r in rows]
    assert (z["labels"] == label_ids).all()
    # predictions = argmax of the inspected model's logits (PyTorch's)
    agree = (z["predictions"] == ref_l.argmax(1)).mean()
    assert agree == 1.0, agree
    assert "144 of 144 images" in err


def test_skipped_images_and_exit_status(torch_cli, resnet18, sample, tmp_path):
    _, model, _ = resnet18
    d, rows = sample
    (tmp_path / "broken.jpg").write_bytes((d / "images" / rows[0]["Filenames"])
                                          .read_bytes()[:300])
    (tmp_path / "good.jpg").write_bytes((d / "images" / rows[1]["Filenames"]).read_bytes())
    (tmp_path / "m.csv").write_text("Filenames,Predictions,Labels\n"
                                    "good.jpg,a,a\nbroken.jpg,a,b\nnothere.jpg,b,b\n")
    out = tmp_path / "o.npz"
    rc, _, err = run_cli(torch_cli, "extract", "--model", model, "--metadata", tmp_path / "m.csv",
                         "--images", tmp_path, "--size", 64, "--resize", 72, "--out", out)
    assert rc == 0
    assert "skipped 2 of 3 images" in err and "row 1" in err and "row 2" in err
    assert "nothere.jpg" in err
    z = np.load(out)
    assert z["features"].shape == (1, 512) and list(z["index"]) == [0]
    assert list(z["status"][1:] != 0) == [True, True] and z["status"][0] == 0
    assert list(z["predictions"]) == [0] and list(z["labels"]) == [0]

    # nothing extractable: exit 1, no file
    (tmp_path / "bad.csv").write_text("Filenames,Labels\nbroken.jpg,a\nnothere.jpg,b\n")
    rc, _, err = run_cli(torch_cli, "extract", "--model", model, "--metadata",
                         tmp_path / "bad.csv", "--images", tmp_path, "--size", 64,
                         "--out", tmp_path / "none.npz", check=False)
    assert rc == 1 and "every image failed" in err
    assert not (tmp_path / "none.npz").exists()


def test_cli_errors(torch_cli, resnet18, sample, tmp_path):
    _, model, sha = resnet18
    d, _ = sample
    base = ["--metadata", d / "metadata.csv", "--images", d / "images", "--out", tmp_path / "o.npz"]
    rc, _, err = run_cli(torch_cli, "extract", "--model", tmp_path / "nope.pt", *base, check=False)
    assert rc == 1 and "nope.pt" in err
    bad_sha = ("0" if sha[0] != "0" else "1") + sha[1:]
    rc, _, err = run_cli(torch_cli, "extract", "--model", model, "--sha256", bad_sha, *base,
                         check=False)
    assert rc == 1 and "SHA-256 mismatch" in err
    rc, _, err = run_cli(torch_cli, "extract", "--model", model, "--device", "cuda", *base,
                         check=False)
    assert rc == 1 and "not available" in err
    rc, _, err = run_cli(torch_cli, "extract", "--model", model, "--out", tmp_path / "o.npz",
                         check=False)
    assert rc == 2 and "exactly one of" in err
    rc, _, err = run_cli(torch_cli, "extract", "--model", model, "--metadata",
                         d / "metadata.csv", "--out", tmp_path / "o.npz", check=False)
    assert rc == 2 and "--images" in err
    assert not (tmp_path / "o.npz").exists()


class GreyCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = torch.nn.Linear(16, 10)

    @torch.jit.export
    def forward_features(self, x):
        return torch.relu(self.c2(torch.relu(self.c1(x))))

    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


def test_idx_fashion_mnist(torch_cli, tmp_path):
    """--idx/--idx-labels on (gzipped) IDX files cut from Debian's
    Fashion-MNIST: 28×28 grey, no resize; features equal PyTorch's on
    pixels / 255."""
    import gzip
    src = Path("/usr/share/datasets/fashion-mnist")
    if not (src / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian dataset-fashion-mnist is not installed")
    n = 300
    with gzip.open(src / "t10k-images-idx3-ubyte.gz") as f:
        head, pix = f.read(16), f.read(n * 784)
    with gzip.open(src / "t10k-labels-idx1-ubyte.gz") as f:
        lhead, lab = f.read(8), f.read(n)
    with gzip.open(tmp_path / "img.idx.gz", "wb") as f:
        f.write(head[:4] + n.to_bytes(4, "big") + head[8:] + pix)
    (tmp_path / "lab.idx").write_bytes(lhead[:4] + n.to_bytes(4, "big") + lab)
    torch.manual_seed(11)
    net = GreyCNN().eval()
    torch.jit.save(torch.jit.script(net), str(tmp_path / "grey.pt"))
    run_cli(torch_cli, "extract", "--model", tmp_path / "grey.pt", "--idx",
            tmp_path / "img.idx.gz", "--idx-labels", tmp_path / "lab.idx", "--batch", 64,
            "--out", tmp_path / "f.npz")
    z = np.load(tmp_path / "f.npz")
    x = torch.from_numpy(np.frombuffer(pix, np.uint8).reshape(n, 1, 28, 28).astype(np.float32)
                         / np.float32(255))
    with torch.no_grad():
        ref = net.forward_features(x).mean(dim=(2, 3)).numpy()
    assert z["features"].shape == (n, 16)
    assert rel(z["features"], ref) <= 1e-5
    assert (z["labels"] == np.frombuffer(lab, np.uint8)).all()
    assert "predictions" not in z.files
    # the network run on pieces of 7 (and 1 decoding worker, overlapped)
    # gives the same features; a bad value is a usage error
    run_cli(torch_cli, "extract", "--model", tmp_path / "grey.pt", "--idx",
            tmp_path / "img.idx.gz", "--idx-labels", tmp_path / "lab.idx", "--batch", 64,
            "--model-batch", 7, "--decode-threads", 1, "--threads", 1, "--quiet",
            "--no-tune-malloc",
            "--out", tmp_path / "f7.npz")
    assert rel(np.load(tmp_path / "f7.npz")["features"], ref) <= 1e-5
    rc, _, err = run_cli(torch_cli, "extract", "--model", tmp_path / "grey.pt", "--idx",
                         tmp_path / "img.idx.gz", "--idx-labels", tmp_path / "lab.idx",
                         "--model-batch", "x", "--out", tmp_path / "bad.npz", check=False)
    assert rc == 2 and "model-batch" in err
    assert not (tmp_path / "bad.npz").exists()


def test_image_folder(torch_cli, resnet18, tmp_path):
    """--folder root/<class>/<image>: classes in sorted order, files sorted;
    RGB and grey PNGs; features equal PyTorch's on PIL + torchvision."""
    net, model, _ = resnet18
    gen = np.random.default_rng(5)
    files = []
    for cls in ("zebra", "ant"):
        (tmp_path / "root" / cls).mkdir(parents=True)
        for i in range(3):
            mode = "L" if i == 1 else "RGB"
            shape = (50 + i, 61) if mode == "L" else (50 + i, 61, 3)
            p = tmp_path / "root" / cls / f"{i}.png"
            Image.fromarray(gen.integers(0, 256, shape, dtype=np.uint8), mode).save(p)
            files.append((cls, p))
    run_cli(torch_cli, "extract", "--model", model, "--folder", tmp_path / "root",
            "--size", 48, "--resize", 56, "--out", tmp_path / "f.npz")
    z = np.load(tmp_path / "f.npz")
    ordered = sorted(files, key=lambda t: (t[0], t[1].name))
    tf = T.Compose([T.Resize(56), T.CenterCrop(48), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([tf(Image.open(p).convert("RGB")) for _, p in ordered])
    with torch.no_grad():
        y = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        ref = net.layer4(net.layer3(net.layer2(net.layer1(y)))).mean(dim=(2, 3)).numpy()
    assert rel(z["features"], ref) <= 1e-4
    assert list(z["labels"]) == [0, 0, 0, 1, 1, 1]  # "ant" < "zebra"


class NanWhenBright(torch.nn.Module):
    """forward_features = a conv's map, times NaN for the images whose mean
    is above 0.5 (every image with every=True); the extractor's mid-grey
    dry run (mean 0.5) stays finite."""

    def __init__(self, every: bool = False):
        super().__init__()
        self.c = torch.nn.Conv2d(3, 6, 3, padding=1)
        self.fc = torch.nn.Linear(6, 4)
        self.every = every

    @torch.jit.export
    def forward_features(self, x):
        f = torch.relu(self.c(x))
        if self.every:
            return f * float("nan")
        bad = (x.mean(dim=(1, 2, 3)) > 0.5).view(-1, 1, 1, 1)
        return torch.where(bad, f * float("nan"), f)

    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


def write_grey_images(d, levels):
    """One 40×40 RGB PNG per level (0..255) and a metadata CSV over them."""
    rows = []
    for i, v in enumerate(levels):
        Image.fromarray(np.full((40, 40, 3), v, np.uint8), "RGB").save(d / f"img{i}_{v}.png")
        rows.append(f"img{i}_{v}.png,a,a")
    (d / "m.csv").write_text("Filenames,Predictions,Labels\n" + "\n".join(rows) + "\n")
    return d / "m.csv"


def test_nonfinite_features(torch_cli, tmp_path):
    """A model that gives NaN: its rows are skipped like unreadable images
    (status BACKEND, the file named), never written; when every row is NaN
    the extraction fails (exit 1, nothing written)."""
    torch.manual_seed(3)
    torch.jit.save(torch.jit.script(NanWhenBright().eval()), str(tmp_path / "some.pt"))
    torch.jit.save(torch.jit.script(NanWhenBright(every=True).eval()), str(tmp_path / "all.pt"))
    meta = write_grey_images(tmp_path, [10, 250, 40])
    common = ["--metadata", meta, "--images", tmp_path, "--size", 32, "--resize", 32]

    out = tmp_path / "some.npz"
    rc, _, err = run_cli(torch_cli, "extract", "--model", tmp_path / "some.pt", *common,
                         "--logits", "--out", out, check=False)
    assert rc == 0, err
    assert "skipped 1 of 3 images" in err and "row 1" in err
    assert "img1_250.png: the model produced NaN/inf features" in err
    z = np.load(out)
    assert z["features"].shape == (2, 6) and np.isfinite(z["features"]).all()
    assert z["logits"].shape == (2, 4) and np.isfinite(z["logits"]).all()
    assert list(z["index"]) == [0, 2]
    assert list(z["status"]) == [0, -8, 0]  # BARLOW_E_BACKEND

    out = tmp_path / "all.npz"
    rc, _, err = run_cli(torch_cli, "extract", "--model", tmp_path / "all.pt", *common,
                         "--out", out, check=False)
    assert rc == 1
    assert "the model produces non-finite outputs" in err and "(3 of 3 rows)" in err
    assert "img0_10.png" in err
    assert not out.exists()


def run_extract_model(cli, model, tmp_path):
    """barlow extract with `model` on a one-image dataset, under a timeout
    (a model path that blocks must fail the test, not hang it)."""
    meta = write_grey_images(tmp_path, [128])
    p = subprocess.run([str(cli), "extract", "--model", str(model), "--metadata", str(meta),
                        "--images", str(tmp_path), "--size", "32", "--resize", "32", "--out",
                        str(tmp_path / "o.npz")], capture_output=True, text=True, timeout=120)
    assert not (tmp_path / "o.npz").exists()
    return p.returncode, p.stderr


def test_model_file_errors(torch_cli, tmp_path):
    """Model paths that are not TorchScript files each get a message that
    starts with the function's name and names the file."""
    import os
    who = "barlow_extractor_create_from_file: "
    (tmp_path / "empty.pt").write_bytes(b"")
    rc, err = run_extract_model(torch_cli, tmp_path / "empty.pt", tmp_path)
    assert rc == 1 and who + f"model file {tmp_path / 'empty.pt'} is empty (0 bytes)" in err

    (tmp_path / "adir").mkdir()
    rc, err = run_extract_model(torch_cli, tmp_path / "adir", tmp_path)
    assert rc == 1 and who + f"cannot read {tmp_path / 'adir'}: it is a directory" in err

    os.mkfifo(tmp_path / "fifo")
    rc, err = run_extract_model(torch_cli, tmp_path / "fifo", tmp_path)
    assert rc == 1 and who + f"cannot read {tmp_path / 'fifo'}: it is a FIFO" in err

    rc, err = run_extract_model(torch_cli, tmp_path / "missing.pt", tmp_path)
    assert rc == 1 and who + f"cannot open {tmp_path / 'missing.pt'}: No such file" in err

    net = NanWhenBright()
    torch.save(net.state_dict(), tmp_path / "state.pth")
    rc, err = run_extract_model(torch_cli, tmp_path / "state.pth", tmp_path)
    assert rc == 1 and who + f"{tmp_path / 'state.pth'}: this is a PyTorch checkpoint" in err
    assert "not a TorchScript model" in err and "tools/convert_checkpoint.py" in err
    torch.save(net, tmp_path / "whole.pth")  # a pickled module: a checkpoint too
    rc, err = run_extract_model(torch_cli, tmp_path / "whole.pth", tmp_path)
    assert rc == 1 and "whole.pth: this is a PyTorch checkpoint" in err

    torch.jit.save(torch.jit.script(net), str(tmp_path / "good.pt"))
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[:len(data) // 2])
    rc, err = run_extract_model(torch_cli, tmp_path / "trunc.pt", tmp_path)
    assert rc == 1 and who + f"{tmp_path / 'trunc.pt'}: " in err
    assert "damaged or truncated" in err
    (tmp_path / "garbage.pt").write_bytes(b"not a model at all\n" * 50)
    rc, err = run_extract_model(torch_cli, tmp_path / "garbage.pt", tmp_path)
    assert rc == 1 and who + f"{tmp_path / 'garbage.pt'}: not a TorchScript model" in err
