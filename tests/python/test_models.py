"""The shipped demo models in models/ (made by tools/train_fmnist.py): they
exist, are small, are the files models/README.md pins by SHA-256, follow
libbarlow's model contract (docs/models.md), and reproduce the test-split
accuracies the README states; the robust one is clearly more robust."""
import sys
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fmnist_idx import CLASSES, read_idx  # noqa: E402

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
README = MODELS / "README.md"
FASHION = Path("/usr/share/datasets/fashion-mnist")
NAMES = ("standard", "robust")


def model_path(name):
    return MODELS / f"fmnist_{name}.pt"


@pytest.fixture(scope="module")
def readme():
    if not README.exists():
        pytest.fail(f"{README} is missing")
    text = README.read_text(encoding="utf-8")
    sha, acc = {}, {}
    for line in text.splitlines():
        m = re.search(r"fmnist_(standard|robust)\.pt\b.*?\b([0-9a-f]{64})\b", line)
        if m:
            sha.setdefault(m.group(1), m.group(2))
        # the results table: | `fmnist_NAME.pt` ... | CLEAN % | PGD % |
        m = re.match(r"\s*\|[^|]*fmnist_(standard|robust)\.pt[^|]*\|\s*([0-9.]+)\s*%\s*\|\s*([0-9.]+)\s*%", line)
        if m:
            acc[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    for name in NAMES:
        assert name in sha, f"models/README.md states no sha256 for fmnist_{name}.pt"
        assert name in acc, f"models/README.md has no results row for fmnist_{name}.pt"
    return {"sha256": sha, "acc": acc}


@pytest.fixture(scope="module")
def models():
    out = {}
    for name in NAMES:
        p = model_path(name)
        assert p.exists(), f"{p} is missing"
        out[name] = torch.jit.load(str(p)).eval()
    return out


@pytest.fixture(scope="module")
def test_split():
    if not FASHION.is_dir():
        pytest.skip(f"{FASHION} is absent (Debian package dataset-fashion-mnist)")
    x = read_idx(FASHION / "t10k-images-idx3-ubyte.gz")
    y = read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


def test_files_exist_and_are_small():
    sizes = [model_path(n).stat().st_size for n in NAMES]
    assert all(s > 0 for s in sizes)
    assert sum(sizes) < 20 * 1024 * 1024, sizes


@pytest.mark.parametrize("name", NAMES)
def test_sha256_matches_readme(readme, name):
    digest = hashlib.sha256(model_path(name).read_bytes()).hexdigest()
    assert digest == readme["sha256"][name], \
        f"fmnist_{name}.pt has sha256 {digest}; models/README.md says {readme['sha256'][name]}"


@pytest.mark.parametrize("name", NAMES)
def test_contract(models, name):
    m = models[name]
    torch.manual_seed(0)
    for x in (torch.rand(5, 1, 28, 28), torch.full((2, 1, 28, 28), 0.5)):  # random, mid-grey dry run
        with torch.no_grad():
            f = m.forward_features(x)
            logits = m(x)
        assert f.dtype == torch.float32 and f.dim() == 4, f.shape
        n, d, h, w = f.shape
        assert n == len(x) and 64 <= d <= 512 and h >= 4 and w >= 4, f.shape
        assert torch.isfinite(f).all() and (f >= 0).all()  # post-ReLU map
        assert logits.shape == (len(x), 10)
        assert torch.isfinite(logits).all()


def accuracy(m, x, y, bs=1000):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            correct += (m(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return 100.0 * correct / len(x)


@pytest.mark.parametrize("name", NAMES)
def test_accuracy_reproduces_readme(models, readme, test_split, name):
    x, y = test_split
    acc = accuracy(models[name], x, y)
    stated = readme["acc"][name][0]
    assert abs(acc - stated) <= 0.05, f"fmnist_{name}.pt: test accuracy {acc:.2f}%, README says {stated:.2f}%"


def pgd_accuracy(m, x, y, eps=0.1, steps=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    alpha = 2.5 * eps / steps
    xa = (x + (torch.rand(x.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        g, = torch.autograd.grad(torch.nn.functional.cross_entropy(m(xa), y), xa)
        with torch.no_grad():
            xa = torch.min(torch.max(xa + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
    with torch.no_grad():
        return 100.0 * (m(xa).argmax(1) == y).float().mean().item()


def test_robust_model_is_robust(models, readme, test_split):
    """PGD-10 at eps 0.1 on 200 test images: the standard model is broken,
    the robust one is not (a cheap check of the README's PGD-20 column)."""
    x, y = test_split[0][:200], test_split[1][:200]
    std = pgd_accuracy(models["standard"], x, y)
    rob = pgd_accuracy(models["robust"], x, y)
    assert std < 20, std
    assert rob > std + 30, (std, rob)
    assert rob > readme["acc"]["robust"][1] - 10, (rob, readme["acc"]["robust"])


def test_class_names_file():
    p = MODELS / "fmnist_classes.txt"
    lines = p.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 10
    assert lines == CLASSES
