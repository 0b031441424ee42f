#!/usr/bin/python3
"""Makes the tiny TorchScript models (and reference tensors) that libbarlow's
extractor tests use, into OUTDIR:

  tiny_cnn.pt        3-channel CNN with forward_features (N×16×h×w) and
                     forward (N×5 logits)
  tiny_resnet.pt     ResNet-style children conv1 … layer4 without
                     forward_features; forward → N×7 logits
  grey_cnn.pt        1-channel CNN for 28×28 inputs (Fashion-MNIST-like)
  bad_rank.pt        forward_features returns N×D (2-D)
  bad_logits.pt      forward returns N×K×1 (3-D)
  tuple_out.pt       forward_features returns a tuple
  no_contract.pt     no forward_features and no ResNet children
  raises.pt          forward_features raises RuntimeError
  nan_bright.pt      tiny_cnn-like; features NaN for images whose first
                     input value is > 0.5 (finite on the mid-grey dry run)
  nan_all.pt         the same, NaN for every image
  inf_logits.pt      finite features; logits +inf for those images
  raises_bright.pt   tiny_cnn-like; forward_features (and so forward) raise
                     RuntimeError when an image of the batch has a first
                     input value > 0.5 (never on the mid-grey dry run)
  logits_raise_bright.pt  finite features always; forward raises for such
                     a batch (features computed, logits fail)
  block_mean.pt      a feature map that is a known function of the input:
                     channel c is relu(x_c - 0.25) averaged over 4x4
                     blocks, plus channel 3 = 0 everywhere (for the
                     visualizer's heatmap tests); forward → 2 logits
  tiny_cnn_state.pth torch.save(state_dict) of tiny_cnn (not TorchScript),
  tiny_cnn_state_legacy.pth  and the same in the legacy pickle format
  x.npy              4×3×32×32 float32 inputs in [0,1] (seeded)
  x_grey.npy         4×1×28×28 float32 inputs
  <model>_features.npy / <model>_logits.npy / <model>_fmap.npy
                     PyTorch eager outputs for x (x_grey for grey_cnn):
                     GAP features, logits, and the full last feature map
  <model>_norm_features.npy
                     tiny_cnn's features when x is normalised with
                     ImageNet's mean/std before the model
  tiny_cnn_grad3.npy gradient of feature 3 (summed over the batch) w.r.t. x
  tiny_cnn.sha256    hashlib's SHA-256 of tiny_cnn.pt (hex)
  images/            small PNG/JPEG files (RGB and grey, one truncated) and
  meta.csv           a metadata CSV over them (one row names a missing file)

Usage: make_test_models.py OUTDIR [STAMP]   (STAMP: a file touched at the end,
for meson's custom_target)
Seeded: the same files every run (weights from torch.manual_seed).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyCNN(nn.Module):
    def __init__(self, in_ch=3, classes=5):
        super().__init__()
        self.c1 = nn.Conv2d(in_ch, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, classes)

    @torch.jit.export
    def forward_features(self, x):
        x = F.relu(self.bn(self.c1(x)))
        return F.relu(self.c2(x))

    def forward(self, x):
        f = self.forward_features(x)
        return self.fc(f.mean(dim=(2, 3)))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class TinyResNet(nn.Module):
    """The children names of torchvision's ResNet, tiny sizes."""

    def __init__(self, classes=7):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 12, 2)
        self.layer3 = Block(12, 16, 1)
        self.layer4 = Block(16, 24, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(24, classes)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class BadRank(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    @torch.jit.export
    def forward_features(self, x):
        return self.c(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.forward_features(x)


class BadLogits(TinyCNN):
    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3))).unsqueeze(2)


class TupleOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    @torch.jit.export
    def forward_features(self, x):
        y = self.c(x)
        return y, y

    def forward(self, x):
        return self.c(x).mean(dim=(2, 3))


class NoContract(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.body(x).mean(dim=(2, 3))


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    @torch.jit.export
    def forward_features(self, x):
        if x.size(0) > 0:
            raise RuntimeError("boom from the model")
        return self.c(x)

    def forward(self, x):
        return self.c(x).mean(dim=(2, 3))


class NanWhenBright(TinyCNN):
    """tiny_cnn whose features are NaN for the images whose first input
    value (channel 0, pixel 0,0) is above 0.5 (never for the extractor's
    mid-grey dry run); with all=True NaN for every image."""

    def __init__(self, every=False):
        super().__init__()
        self.every = every

    @torch.jit.export
    def forward_features(self, x):
        f = F.relu(self.c2(F.relu(self.bn(self.c1(x)))))
        bad = torch.ones_like(x[:, 0, 0, 0]) > 0 if self.every else x[:, 0, 0, 0] > 0.5
        scale = torch.where(bad, torch.full_like(bad, float("nan"), dtype=f.dtype),
                            torch.ones_like(bad, dtype=f.dtype))
        return f * scale.view(-1, 1, 1, 1)

    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


class InfLogits(TinyCNN):
    """Finite features; logits +inf for images whose first input value is
    above 0.5."""

    def forward(self, x):
        l = self.fc(self.forward_features(x).mean(dim=(2, 3)))
        bad = (x[:, 0, 0, 0] > 0.5).view(-1, 1)
        return torch.where(bad, torch.full_like(l, float("inf")), l)


class RaisesWhenBright(TinyCNN):
    """tiny_cnn whose forward_features raises when an image of the batch
    has a first input value above 0.5 (the mid-grey dry run passes), so
    that a multi-piece call fails after earlier pieces succeeded."""

    @torch.jit.export
    def forward_features(self, x):
        if bool((x[:, 0, 0, 0] > 0.5).any()):
            raise RuntimeError("bright image")
        x = F.relu(self.bn(self.c1(x)))
        return F.relu(self.c2(x))

    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


class LogitsRaiseWhenBright(TinyCNN):
    """Finite features always; forward raises for a batch with an image
    whose first input value is above 0.5 (features computed, logits
    fail)."""

    def forward(self, x):
        if bool((x[:, 0, 0, 0] > 0.5).any()):
            raise RuntimeError("bright image in forward")
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


class BlockMean(nn.Module):
    """forward_features(x) = [avg_pool4(relu(x_c - 0.25)) for c] + [zeros]:
    N x (C+1) x H/4 x W/4; its features are those maps' means."""

    def __init__(self, in_ch=3):
        super().__init__()
        self.fc = nn.Linear(in_ch + 1, 2)

    @torch.jit.export
    def forward_features(self, x):
        m = F.avg_pool2d(F.relu(x - 0.25), 4)
        return torch.cat([m, torch.zeros_like(m[:, :1])], dim=1)

    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


def randomize_bn(m):
    """Non-trivial running stats so that eval() matters."""
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.1, 0.1)
    return m


def save(m, path):
    m.eval()
    torch.jit.save(torch.jit.script(m), path)


def write_images(out):
    """A few small images and a metadata CSV: rows 0-5 are good (row 4 is
    grey), row 6 is a truncated PNG, row 7 names a file that does not exist."""
    from PIL import Image
    d = os.path.join(out, "images")
    os.makedirs(d, exist_ok=True)
    gen = np.random.default_rng(7)
    rows = []
    for i in range(6):
        h, w = 36 + 2 * i, 40 + 3 * i
        if i == 4:
            img = Image.fromarray(gen.integers(0, 256, (h, w), dtype=np.uint8), "L")
        else:
            img = Image.fromarray(gen.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
        name = f"img{i}." + ("jpg" if i % 2 else "png")
        img.save(os.path.join(d, name), quality=90) if i % 2 else img.save(os.path.join(d, name))
        rows.append((name, ["cat", "dog", "bird"][i % 3], ["cat", "dog", "bird"][(i * 2) % 3]))
    good = open(os.path.join(d, "img0.png"), "rb").read()
    with open(os.path.join(d, "truncated.png"), "wb") as f:
        f.write(good[: len(good) // 2])
    rows.append(("truncated.png", "cat", "cat"))
    rows.append(("missing.png", "dog", "cat"))
    with open(os.path.join(out, "meta.csv"), "w") as f:
        f.write("Filenames,Predictions,Labels\n")
        for name, pred, label in rows:
            f.write(f"{name},{pred},{label}\n")
    with open(os.path.join(out, "bad.csv"), "w") as f:
        f.write("Filenames,Predictions,Labels\n")
        f.write("truncated.png,cat,cat\nmissing.png,dog,cat\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    gen = np.random.default_rng(42)
    x = gen.random((4, 3, 32, 32), dtype=np.float32)
    xg = gen.random((4, 1, 28, 28), dtype=np.float32)
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "x_grey.npy"), xg)

    models = {
        "tiny_cnn": randomize_bn(TinyCNN()),
        "tiny_resnet": randomize_bn(TinyResNet()),
        "grey_cnn": randomize_bn(TinyCNN(in_ch=1, classes=10)),
    }
    for name, m in models.items():
        m.eval()
        save(m, os.path.join(out, name + ".pt"))
        inp = torch.from_numpy(xg if name == "grey_cnn" else x)
        with torch.no_grad():
            fmap = m.features(inp) if name == "tiny_resnet" else m.forward_features(inp)
            np.save(os.path.join(out, name + "_fmap.npy"), fmap.numpy())
            np.save(os.path.join(out, name + "_features.npy"), fmap.mean(dim=(2, 3)).numpy())
            np.save(os.path.join(out, name + "_logits.npy"), m(inp).numpy())

    m = models["tiny_cnn"]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        f = m.forward_features((torch.from_numpy(x) - mean) / std).mean(dim=(2, 3))
    np.save(os.path.join(out, "tiny_cnn_norm_features.npy"), f.numpy())
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    m.forward_features(xt).mean(dim=(2, 3))[:, 3].sum().backward()
    np.save(os.path.join(out, "tiny_cnn_grad3.npy"), xt.grad.numpy())

    import hashlib
    with open(os.path.join(out, "tiny_cnn.sha256"), "w") as f:
        f.write(hashlib.sha256(open(os.path.join(out, "tiny_cnn.pt"), "rb").read()).hexdigest())
    write_images(out)

    for name, mod in [("bad_rank", BadRank()), ("bad_logits", BadLogits()),
                      ("tuple_out", TupleOut()), ("no_contract", NoContract()),
                      ("raises", Raises()), ("nan_bright", NanWhenBright()),
                      ("nan_all", NanWhenBright(every=True)), ("inf_logits", InfLogits()),
                      ("block_mean", BlockMean()),
                      # made last: they draw their weights after the others'
                      ("raises_bright", RaisesWhenBright()),
                      ("logits_raise_bright", LogitsRaiseWhenBright())]:
        save(mod, os.path.join(out, name + ".pt"))
    # torch.save checkpoints (not TorchScript): zip and legacy pickle format
    torch.save(m.state_dict(), os.path.join(out, "tiny_cnn_state.pth"))
    torch.save(m.state_dict(), os.path.join(out, "tiny_cnn_state_legacy.pth"),
               _use_new_zipfile_serialization=False)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write("ok\n")


if __name__ == "__main__":
    main()
