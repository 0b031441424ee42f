#!/usr/bin/python3
"""Feature attacks, steps per second, one run side by side: libbarlow
(bench/bench_attack, the C driver, timing barlow_visualizer_attack) vs
PyTorch eager doing the same steps, same model weights, same inputs, same
thread count, batch 6.

The step (docs/visualizer.md): g = d feature_j / d x (feature j = the global
average pool of channel j of the last feature map, the model as loaded, eval
mode); per image x += step * g / ||g||_2 (skipped when the norm is 0), then
onto the L2 ball ||x - x0|| <= eps, then into [0,1]; step 1 and eps 500
scaled by sqrt(C*H*W / 150528). PyTorch computes the norms in float64 and
rounds the scale factors to float32, as libbarlow's loop does, so that the
two differ only by their gradients.

  1. torchvision ResNet-50 (seeded random weights, converted by
     tools/convert_checkpoint.py) at 224x224 on the first 6 sample JPEGs
     (resize 256, crop 224): 20 steps (--quick: 4);
  2. the small CNN of bench_extract.py at 28x28 on the first 6 Fashion-MNIST
     test images (the IDX file): 1000 steps (--quick: 200);
  3. a whole feature view of the small CNN (6 tiles, 1000 attack steps, the
     1000 test images of class 0): `barlow visualize` from process start to
     exit when the CLI has the command, and the library calls alone
     (barlow_visualizer_create + barlow_visualizer_view + the panel PNG).

The feature is the one with the largest mean over the 6 inputs. libbarlow's
figure is the whole barlow_visualizer_attack call (loading the 6 images,
the forward before, the steps, the forward after); its loop alone and the
bare barlow_extractor_feature_gradient are printed too. PyTorch times its
loop only, after one warm-up gradient (as the driver does), in a fresh
process each time: once as shipped and once with libbarlow's malloc
settings (the extractor's tune_malloc: mallopt in that process); the ratio
is against the faster of the two. --repeats R runs every measurement R
times (interleaved) and keeps each side's best. Both sides' attacked images
are compared, and their features after the attack (each side's own forward
of its own result).

  bench/bench_attack.py [--build build] [--threads 2] [--repeats 1] [--quick]
                        [--only resnet50|cnn] [--steps-resnet 20]
                        [--steps-cnn 1000] [--no-view]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BARLOW_SHARED", ROOT.parent / "shared"))
FMNIST = Path("/usr/share/datasets/fashion-mnist")


def make_model(kind):
    """The eager module (seeded weights, eval mode) with forward_features."""
    sys.path.insert(0, str(ROOT / "tools"))
    sys.path.insert(0, str(ROOT / "bench"))
    torch.manual_seed(0)
    if kind == "resnet50":
        import torchvision.models as tvm
        import convert_checkpoint as cc
        return cc.wrap(tvm.resnet50(weights=None).eval()).eval()
    from bench_extract import SmallCNN
    return SmallCNN().eval()


def tune_malloc():
    """libbarlow's extractor default (tune_malloc): glibc's mmap threshold
    256 MiB, trim threshold 1 GiB, for this process."""
    import ctypes
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 1 << 30)    # M_TRIM_THRESHOLD


def pytorch_attack(features, x0, j, steps, step, eps):
    """The attack in eager PyTorch; returns (x, steps/s of the loop)."""
    n = x0.shape[0]

    def grad(x):
        x = x.detach().requires_grad_(True)
        v = features(x).mean(dim=(2, 3))[:, j]
        return torch.autograd.grad(v.sum(), x)[0]

    grad(x0)  # warm-up, as the C driver does
    x = x0.clone()
    t0 = time.perf_counter()
    for _ in range(steps):
        g = grad(x)
        with torch.no_grad():
            # norms in float64 and the scale factors rounded to float32, as
            # libbarlow's loop does (the updates themselves in float32)
            gn = g.double().flatten(1).pow(2).sum(dim=1).sqrt().view(n, 1, 1, 1)
            ok = (gn > 0) & torch.isfinite(gn)
            x = torch.where(ok, x + (step / gn).float() * g, x)
            d = x - x0
            dn = d.double().flatten(1).pow(2).sum(dim=1).sqrt().view(n, 1, 1, 1)
            x = torch.where(dn > eps, x0 + (eps / dn).float() * d, x)
            x = x.clamp(0.0, 1.0)
    return x, steps / (time.perf_counter() - t0)


def worker(a):
    """--worker KIND X0.npy FEATURE STEPS STEP EPS THREADS TUNE OUT.npy: one
    PyTorch attack in this (fresh) process; prints JSON."""
    kind, x0p, j, steps, step, eps, threads, tune, outp = a
    if tune == "1":
        tune_malloc()
    torch.set_num_threads(int(threads))
    m = make_model(kind)
    x0 = torch.from_numpy(np.load(x0p))
    j, steps = int(j), int(steps)
    x, sps = pytorch_attack(m.forward_features, x0, j, steps, float(step), float(eps))
    with torch.no_grad():
        before = m.forward_features(x0).mean(dim=(2, 3))[:, j]
        after = m.forward_features(x).mean(dim=(2, 3))[:, j]
    np.save(outp, x.numpy())
    print(json.dumps({"sps": sps, "before": before.tolist(), "after": after.tolist()}))


def run_json(cmd, what):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{what} failed: {p.stderr}")
    return json.loads(p.stdout)


def fmt(v, digits=5):
    return "[" + ", ".join(f"{x:.{digits}f}" for x in v) + "]"


def side_by_side(args, title, kind, driver_cmd, out, steps):
    """Runs libbarlow's driver and PyTorch (as shipped, tuned malloc)
    args.repeats times, interleaved; prints and returns the comparison."""
    lbs, pts, ptt = [], [], []
    for r in range(args.repeats):
        lbs.append(run_json(driver_cmd, "bench_attack"))
        lb = lbs[-1]
        for tune, acc in (("0", pts), ("1", ptt)):
            acc.append(run_json([sys.executable, __file__, "--worker", kind, out / "x0.npy",
                                 lb["feature"], steps, repr(lb["step"]), repr(lb["eps"]),
                                 args.threads, tune, out / f"pt{tune}.npy"], "PyTorch"))
    lb = max(lbs, key=lambda d: d["attack_sps"])
    loop = max(d["loop_sps"] for d in lbs)
    grad = max(d["grad_sps"] for d in lbs)
    pt_ship = max(d["sps"] for d in pts)
    pt_tune = max(d["sps"] for d in ptt)
    pt = max(pt_ship, pt_tune)
    x0 = np.load(out / "x0.npy")
    xa = np.load(out / "attacked.npy")
    xp = np.load(out / "pt1.npy")
    after_pt, before_pt = np.array(ptt[-1]["after"]), np.array(ptt[-1]["before"])
    after_lb, before_lb = np.array(lb["after"]), np.array(lb["before"])
    dx = float(np.abs(xp - xa).max())
    moved = np.linalg.norm((xa - x0).reshape(len(x0), -1), axis=1)
    dmov = float(np.max(np.linalg.norm((xp - xa).reshape(len(x0), -1), axis=1)
                        / np.maximum(moved, 1e-12)))
    rel = float(np.max(np.abs(after_lb - after_pt) / np.maximum(np.abs(after_pt), 1e-12)))
    relb = float(np.max(np.abs(before_lb - before_pt) / np.maximum(np.abs(before_pt), 1e-12)))
    best = f" (best of {args.repeats})" if args.repeats > 1 else ""
    print(f"\n{title}: {lb['n']} images, feature {lb['feature']}, {steps} steps (step "
          f"{lb['step']:.4g}, eps {lb['eps']:.4g}), {args.threads} threads{best}")
    print(f"  libbarlow  barlow_visualizer_attack {lb['attack_sps']:8.2f} steps/s (the whole "
          f"call; its loop alone {loop:.2f}; bare feature_gradient {grad:.2f})")
    print(f"  PyTorch    eager loop               {pt_ship:8.2f} steps/s as shipped, "
          f"{pt_tune:.2f} with libbarlow's malloc settings")
    print(f"  ratio {lb['attack_sps'] / pt:.2f}x (whole call against the faster PyTorch), "
          f"loop {loop / pt:.2f}x; against PyTorch as shipped {lb['attack_sps'] / pt_ship:.2f}x")
    print(f"  feature before: libbarlow {fmt(before_lb)}")
    print(f"                  PyTorch   {fmt(before_pt)}   (max rel. diff {relb:.1e})")
    print(f"  feature after:  libbarlow {fmt(after_lb)}")
    print(f"                  PyTorch   {fmt(after_pt)}   (max rel. diff {rel:.1e})")
    print(f"  attacked images: L2 difference / L2 distance moved {dmov:.1e} (worst image), "
          f"max |pixel difference| {dx:.1e}; distances moved (libbarlow) "
          f"{fmt(lb['distance'], 3)}")
    return dict(title=title, steps=steps, feature=lb["feature"], lb=lb["attack_sps"], loop=loop, grad=grad,
                pt_ship=pt_ship, pt_tune=pt_tune, pt=pt, rel=rel, dmov=dmov)


def has_visualize(cli):
    if not cli.exists():
        return False
    p = subprocess.run([str(cli), "visualize", "--help"], capture_output=True, text=True)
    return p.returncode == 0


def view(args, build, driver, tmp, img, lab, feature):
    """A whole feature view of the small CNN: 6 tiles, 1000 attack steps, on
    the test images of class 0: the library calls in the C driver (features
    extracted beforehand) and `barlow visualize` from process start to exit.
    Returns (CLI seconds or None, library seconds)."""
    lb = run_json([driver, "--model", tmp / "cnn.pt", "--size", 28, "--channels", 1,
                   "--threads", args.threads, "--idx", img, lab, "--n", args.n,
                   "--steps", 1, "--feature", feature, "--view-label", 0,
                   "--view-steps", 1000, "--view-png", tmp / "view.png"], "bench_attack")
    print(f"\nwhole feature view, small CNN, 6 tiles, 1000 attack steps, feature {feature}, the "
          f"{lb['view_rows']} test images of class 0, {args.threads} threads (goal < 15 s):")
    print(f"  library calls (barlow_visualizer_create + _view + panel PNG): {lb['view_s']:.2f} s")
    cli = build / "programs" / "barlow" / "barlow"
    if not has_visualize(cli):
        print(f"  `barlow visualize`: {cli} has no visualize command (not built); the library "
              f"calls above stand for it")
        return None, lb["view_s"]
    feats = tmp / "cnn_features.npz"
    subprocess.run([str(cli), "extract", "--model", str(tmp / "cnn.pt"), "--idx", str(img),
                    "--idx-labels", str(lab), "--threads", str(args.threads), "--quiet",
                    "--out", str(feats)], check=True, capture_output=True)
    cmd = [str(cli), "visualize", "--model", str(tmp / "cnn.pt"), "--features", str(feats),
           "--idx", str(img), "--idx-labels", str(lab), "--feature", str(feature),
           "--rows", "label:0", "--top", "6", "--attack-steps", "1000",
           "--threads", str(args.threads), "--quiet", "--out", str(tmp / "vis")]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        print(f"  `barlow visualize` failed: {p.stderr.strip()}")
        return None, lb["view_s"]
    print(f"  `barlow visualize` (process start to exit): {wall:.2f} s wall\n"
          f"    {' '.join(cmd)}")
    return wall, lb["view_s"]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=6, help="images per batch (6)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs of each measurement, interleaved; the best is kept (1)")
    ap.add_argument("--steps-resnet", type=int, default=None, help="20 (--quick: 4)")
    ap.add_argument("--steps-cnn", type=int, default=None, help="1000 (--quick: 200)")
    ap.add_argument("--no-view", action="store_true", help="skip the whole-view timing")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["resnet50", "cnn"])
    args = ap.parse_args()
    steps_rn = args.steps_resnet or (4 if args.quick else 20)
    steps_cnn = args.steps_cnn or (200 if args.quick else 1000)
    build = Path(args.build)
    driver = build / "bench" / "bench_attack"
    if not driver.exists():
        sys.exit(f"{driver} is not built (ninja -C {build} bench/bench_attack)")

    tmp = Path(tempfile.mkdtemp(prefix="barlow-bench-attack-"))
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {args.threads} threads, "
          f"work dir {tmp}")
    results, vis = [], None

    if args.only in (None, "resnet50"):
        torch.jit.save(torch.jit.script(make_model("resnet50")), tmp / "rn50.pt")
        imgs = SHARED / "data" / "barlow-sample" / "images"
        files = sorted(p.name for p in imgs.iterdir() if p.suffix.lower() == ".jpg")[:args.n]
        with open(tmp / "rn50.csv", "w") as f:
            f.write("Filenames,Labels\n" + "".join(f"{n},x\n" for n in files))
        out = tmp / "rn50"
        out.mkdir()
        cmd = [driver, "--model", tmp / "rn50.pt", "--size", 224, "--resize", 256,
               "--channels", 3, "--threads", args.threads, "--csv", tmp / "rn50.csv",
               "--images", imgs, "--n", args.n, "--steps", steps_rn,
               "--grad-steps", max(2, steps_rn // 2), "--out", out]
        results.append(side_by_side(args, "ResNet-50 224x224 (sample JPEGs)", "resnet50", cmd,
                                    out, steps_rn))

    if args.only in (None, "cnn"):
        img, lab = FMNIST / "t10k-images-idx3-ubyte.gz", FMNIST / "t10k-labels-idx1-ubyte.gz"
        if not img.exists():
            print(f"\nsmall CNN: {img} is absent (Debian dataset-fashion-mnist); skipped")
        else:
            torch.jit.save(torch.jit.script(make_model("cnn")), tmp / "cnn.pt")
            out = tmp / "cnn"
            out.mkdir()
            cmd = [driver, "--model", tmp / "cnn.pt", "--size", 28, "--channels", 1,
                   "--threads", args.threads, "--idx", img, lab, "--n", args.n,
                   "--steps", steps_cnn, "--grad-steps", steps_cnn // 2, "--out", out]
            r = side_by_side(args, "small CNN 28x28 (Fashion-MNIST test images)", "cnn", cmd,
                             out, steps_cnn)
            results.append(r)
            if not args.no_view:
                vis = view(args, build, driver, tmp, img, lab, r["feature"])

    print("\n| model | steps | libbarlow steps/s (barlow_visualizer_attack) | its loop | "
          "PyTorch eager steps/s (as shipped / tuned malloc) | ratio | features after, "
          "max rel. diff | attacked images, L2 diff / L2 moved |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['title']} | {r['steps']} | {r['lb']:.2f} | {r['loop']:.2f} | "
              f"{r['pt_ship']:.2f} / {r['pt_tune']:.2f} | **{r['lb'] / r['pt']:.2f}x** | "
              f"{r['rel']:.1e} | {r['dmov']:.1e} |")
    if vis:
        cli_s, lib_s = vis
        print(f"\nwhole view, small CNN, 6 tiles x 1000 steps: `barlow visualize` "
              f"{'%.2f s' % cli_s if cli_s is not None else '(not built)'}, library calls "
              f"{lib_s:.2f} s (goal < 15 s)")


if __name__ == "__main__":
    main()
