#!/usr/bin/python3
"""Feature extraction, image files → penultimate features, one run side by
side: libbarlow (bench/bench_extract, the C driver) vs PyTorch eager (PIL
decode + torchvision Resize/CenterCrop/ToTensor in a DataLoader with
workers, then the eager module), same model weights, same thread count,
same batch size.

  1. torchvision ResNet-50 (seeded random weights, converted by
     tools/convert_checkpoint.py) at resize 256 / crop 224 on the sample's
     JPEGs repeated to >= 500 images (--quick: 96);
  2. a small CNN at 28×28 on Fashion-MNIST images (the first 2000 of the
     IDX test set written as PNG files: --quick 500).

Prints images/s of each, the ratio, the model-only throughput of both and,
for ResNet-50, the % of the FP32 peak bound: 8.2 GFLOP per image at 224
against the multiply-add peak of the cores used, measured by bench/fma_peak
on this machine (or given with --peak-gflops; the issue's AVX-512 machine:
454 GFLOP/s on 2 cores → ≈ 55 images/s).

libbarlow runs with its default tune_malloc (glibc malloc's mmap/trim
thresholds raised); PyTorch eager runs first as shipped and then, in the
same process, with the same malloc settings (--no-tune-malloc: libbarlow
without them and PyTorch only as shipped). The ratios against both are
printed.

libbarlow decodes and hands over --batch images per step and runs the network
on pieces of --model-batch (default 0: its automatic choice, 4 at 224x224 on
the CPU, the whole batch for 28x28).

  bench/bench_extract.py [--build build] [--threads 2] [--batch 32]
                         [--model-batch 0] [--no-tune-malloc] [--quick]
                         [--only resnet50|cnn]
"""
import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BARLOW_SHARED", ROOT.parent / "shared"))
RESNET50_GFLOP = 8.2


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.c3 = nn.Conv2d(64, 128, 3, padding=1)
        self.fc = nn.Linear(128, 10)

    @torch.jit.export
    def forward_features(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return F.relu(self.c3(x))

    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


class Files(torch.utils.data.Dataset):
    def __init__(self, paths, tf, mode):
        self.paths, self.tf, self.mode = paths, tf, mode

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        from PIL import Image
        with Image.open(self.paths[i]) as im:
            return self.tf(im.convert(self.mode))


def pytorch_eager(paths, tf, mode, features, batch, threads, workers):
    """PyTorch end to end and model-only (images/s)."""
    torch.set_num_threads(threads)
    dl = torch.utils.data.DataLoader(Files(paths, tf, mode), batch_size=batch,
                                     num_workers=workers)
    out = []
    x = next(iter(torch.utils.data.DataLoader(Files(paths[:batch], tf, mode),
                                              batch_size=batch)))
    with torch.no_grad():
        features(x)  # warm-up, as libbarlow's driver does
    t0 = time.perf_counter()
    with torch.no_grad():
        for x in dl:
            out.append(features(x).mean(dim=(2, 3)))
    e2e = len(paths) / (time.perf_counter() - t0)
    done, t0 = 0, time.perf_counter()
    with torch.no_grad():
        while done < len(paths):
            k = min(batch, len(paths) - done)
            features(x[:k]).mean(dim=(2, 3))
            done += k
    model = len(paths) / (time.perf_counter() - t0)
    return e2e, model, torch.cat(out).numpy()


def tune_malloc():
    """The malloc settings libbarlow's extractor applies by default (its
    tune_malloc option), applied to this process too so that PyTorch runs
    under the same allocator behaviour: glibc's mmap threshold 256 MiB, trim
    threshold 1 GiB (DataLoader workers inherit them)."""
    import ctypes
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 << 20)
    libc.mallopt(m_trim_threshold, 1 << 30)


def libbarlow(driver, model, csv_path, image_dir, size, resize, channels, batch, threads):
    cmd = [str(driver), str(model), str(csv_path), str(image_dir), str(size), str(resize),
           str(channels), str(batch), str(threads), "0", "1", str(args.model_batch),
           "0" if args.no_tune_malloc else "1"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_extract failed: {p.stderr}")
    print(f"  libbarlow: {p.stdout.strip()}", flush=True)
    return json.loads(p.stdout)


def write_csv(path, names):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Filenames", "Labels"])
        for n in names:
            w.writerow([n, "x"])


def report(title, lb, pt_e2e, pt_model, bound=None, tuned=None):
    print(f"\n{title}: {lb['images']} images, batch {args.batch} (libbarlow model batch "
          f"{args.model_batch or 'auto'}), {args.threads} threads")
    print(f"  libbarlow  end to end {lb['e2e_ips']:8.1f} img/s   model only "
          f"{lb['model_ips']:8.1f} img/s   (e2e = {100 * lb['e2e_ips'] / lb['model_ips']:.0f}% "
          f"of model-only; optimised module: {bool(lb['optimized'])}; model-only before / "
          f"after the end-to-end run {lb['model_ips_before']:.1f} / "
          f"{lb['model_ips_after']:.1f})")
    print(f"  PyTorch    end to end {pt_e2e:8.1f} img/s   model only {pt_model:8.1f} img/s"
          f"   (as shipped: glibc malloc's default thresholds)")
    print(f"  ratio end to end {lb['e2e_ips'] / pt_e2e:.2f}x, model only "
          f"{lb['model_ips'] / pt_model:.2f}x")
    if tuned:
        te, tm = tuned
        print(f"  PyTorch    end to end {te:8.1f} img/s   model only {tm:8.1f} img/s"
              f"   (given libbarlow's malloc thresholds, mallopt in this process)")
        print(f"  ratio end to end {lb['e2e_ips'] / te:.2f}x, model only "
              f"{lb['model_ips'] / tm:.2f}x (against the tuned PyTorch)")
    if bound:
        print(f"  FP32 peak bound {bound:.1f} img/s: libbarlow e2e "
              f"{100 * lb['e2e_ips'] / bound:.0f}%, model {100 * lb['model_ips'] / bound:.0f}%;"
              f" PyTorch e2e {100 * pt_e2e / bound:.0f}%")


def main():
    global args
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers (2)")
    ap.add_argument("--model-batch", type=int, default=0,
                    help="libbarlow's images per forward call (0 = automatic: 4 at 224x224)")
    ap.add_argument("--no-tune-malloc", action="store_true",
                    help="leave glibc malloc's thresholds alone on both sides")
    ap.add_argument("--peak-gflops", type=float, default=None,
                    help="FP32 peak of the cores used; default: measured by bench/fma_peak")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["resnet50", "cnn"])
    args = ap.parse_args()
    driver = Path(args.build) / "bench" / "bench_extract"
    if not driver.exists():
        sys.exit(f"{driver} is not built (ninja -C {args.build} bench/bench_extract)")
    if args.peak_gflops is None:
        peak = Path(args.build) / "bench" / "fma_peak"
        if not peak.exists():
            sys.exit(f"{peak} is not built (ninja -C {args.build} bench/fma_peak)")
        p = json.loads(subprocess.run([str(peak), str(args.threads)], capture_output=True,
                                      text=True, check=True).stdout)
        args.peak_gflops = p["gflops"]
        print(f"FP32 peak of {args.threads} cores ({p['isa']}): {p['gflops']:.0f} GFLOP/s "
              f"(bench/fma_peak) -> ResNet-50 bound {p['gflops'] / RESNET50_GFLOP:.1f} img/s")
    import torchvision.models as tvm
    import torchvision.transforms as T
    sys.path.insert(0, str(ROOT / "tools"))
    import convert_checkpoint as cc

    tmp = Path(tempfile.mkdtemp(prefix="barlow-bench-"))
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, work dir {tmp}")

    if args.only in (None, "resnet50"):
        torch.manual_seed(0)
        net = tvm.resnet50(weights=None).eval()
        model = cc.wrap(net)
        torch.jit.save(torch.jit.script(model), tmp / "rn50.pt")
        imgs = SHARED / "data" / "barlow-sample" / "images"
        files = sorted(p.name for p in imgs.iterdir() if p.suffix.lower() == ".jpg")
        n = 96 if args.quick else 576
        names = [files[i % len(files)] for i in range(n)]
        write_csv(tmp / "rn50.csv", names)
        lb = libbarlow(driver, tmp / "rn50.pt", tmp / "rn50.csv", imgs, 224, 256, 3,
                       args.batch, args.threads)
        tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        feats = lambda x: nn.Sequential(*list(net.children())[:-2])(x)  # noqa: E731
        pe, pm, _ = pytorch_eager([imgs / f for f in names], tf, "RGB", feats, args.batch,
                                  args.threads, args.workers)
        tuned = None
        if not args.no_tune_malloc:
            # the same again with libbarlow's malloc settings in this process
            # (they cannot be undone: everything after this runs tuned)
            tune_malloc()
            te, tm, _ = pytorch_eager([imgs / f for f in names], tf, "RGB", feats, args.batch,
                                      args.threads, args.workers)
            tuned = (te, tm)
        report("ResNet-50 224x224 (sample JPEGs)", lb, pe, pm,
               bound=args.peak_gflops / RESNET50_GFLOP, tuned=tuned)

    if args.only in (None, "cnn"):
        from PIL import Image
        idx = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
        if not idx.exists():
            print(f"\nsmall CNN: {idx} is absent (Debian dataset-fashion-mnist); skipped")
            return
        with gzip.open(idx) as f:
            raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        n = 500 if args.quick else 2000
        d = tmp / "fmnist"
        d.mkdir()
        names = []
        for i in range(n):
            Image.fromarray(raw[i], "L").save(d / f"{i}.png")
            names.append(f"{i}.png")
        write_csv(tmp / "cnn.csv", names)
        torch.manual_seed(0)
        cnn = SmallCNN().eval()
        torch.jit.save(torch.jit.script(cnn), tmp / "cnn.pt")
        lb = libbarlow(driver, tmp / "cnn.pt", tmp / "cnn.csv", d, 28, 0, 1, args.batch,
                       args.threads)
        if not args.no_tune_malloc:
            tune_malloc()  # as after the ResNet-50 part (idempotent)
        pe, pm, _ = pytorch_eager([d / f for f in names], T.ToTensor(), "L",
                                  cnn.forward_features, args.batch, args.threads, args.workers)
        report("small CNN 28x28 (Fashion-MNIST, PNG files; PyTorch with libbarlow's malloc "
               "thresholds)" if not args.no_tune_malloc else
               "small CNN 28x28 (Fashion-MNIST, PNG files)", lb, pe, pm)


if __name__ == "__main__":
    main()
