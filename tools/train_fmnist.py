#!/usr/bin/python3
"""Trains libbarlow's shipped demo models on Fashion-MNIST, CPU only:

  fmnist_standard.pt  a standard small CNN (the model whose failures are
                      inspected)
  fmnist_robust.pt    an adversarially trained CNN (L-inf, eps = 0.1 on [0,1]
                      pixels; FGSM with random start, "fast adversarial
                      training", Wong, Rice & Kolter 2020), whose features
                      Barlow uses

Both are TorchScript files in libbarlow's model contract (docs/models.md):
forward_features(x) takes float32 N x 1 x 28 x 28 in [0,1] and returns the
last (post-ReLU) feature map N x 128 x 7 x 7; forward(x) returns N x 10
logits = fc(mean of forward_features(x) over dims 2,3). The normalisation
((x - 0.2860) / 0.3530) lives inside the model.

After training both are evaluated on the 10 000-image test split: clean
accuracy and accuracy under PGD-20 (L-inf, eps 0.1, step 2.5*eps/20, uniform
random start, clamped to [0,1]), computed on the saved-and-reloaded files.
Writes into --out: the two .pt files, fmnist_classes.txt and train_log.json.

Seeded and deterministic on one machine (the script re-executes itself with
PYTHONHASHSEED=0 so that the TorchScript files are byte-identical too);
bit-exactness across machines or torch versions is not promised.

Usage: tools/train_fmnist.py [--out models] [--seed 0] [--threads 2] ...
Runs with Debian's /usr/bin/python3 (python3-torch, numpy).
"""
import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fmnist_idx  # noqa: E402
from fmnist_idx import CLASSES  # noqa: E402

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-split pixel statistics


# ---------------------------------------------------------------- data

def load_split(root, split):
    x, y = fmnist_idx.load_split(split, root)
    x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)  # N x 1 x 28 x 28
    y = torch.from_numpy(y.astype(np.int64))
    return x, y


# ---------------------------------------------------------------- model

class FmnistCNN(nn.Module):
    """stem, conv3x3(c1->c2) BN ReLU (14x14), maxpool2 (14->7),
    conv3x3(c2->c3) BN ReLU [, conv1x1 or conv3x3(c3->c3) BN ReLU] (7x7); the feature
    map is N x c3 x 7 x 7 (post-ReLU); logits = fc(GAP(map)).
    stem "stride": conv5x5 stride 2 (1->c1) BN ReLU (28->14);
    stem "pool":   conv3x3 (1->c1) BN ReLU, maxpool2 (28->14)."""

    def __init__(self, stem: str = "stride", c1: int = 32, c2: int = 64, c3: int = 128,
                 extra: str = "none"):
        super().__init__()

        def block(i, o, k=3, s=1):
            return [nn.Conv2d(i, o, k, stride=s, padding=k // 2, bias=False), nn.BatchNorm2d(o),
                    nn.ReLU(inplace=True)]

        if stem == "stride":
            layers = block(1, c1, 5, 2)
        elif stem == "pool":
            layers = block(1, c1) + [nn.MaxPool2d(2)]
        else:
            raise ValueError(f"unknown stem {stem!r}")
        layers += block(c1, c2) + [nn.MaxPool2d(2)] + block(c2, c3)
        if extra == "1x1":
            layers += block(c3, c3, 1)
        elif extra == "3x3":
            layers += block(c3, c3)
        elif extra != "none":
            raise ValueError(f"unknown extra layer {extra!r}")
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c3, 10)
        self.register_buffer("mean", torch.tensor([MEAN]).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor([STD]).view(1, 1, 1, 1))

    @torch.jit.export
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


def describe(model):
    parts = []
    for m in model.features:
        if isinstance(m, nn.Conv2d):
            k, st = m.kernel_size[0], m.stride[0]
            parts.append(f"conv{k}x{k}{'/s' + str(st) if st > 1 else ''}({m.in_channels}->{m.out_channels})+BN+ReLU")
        elif isinstance(m, nn.MaxPool2d):
            parts.append("maxpool2")
    parts.append(f"GAP -> linear({model.fc.in_features}->10)")
    return ", ".join(parts)


# ---------------------------------------------------------------- attacks

def pgd(model, x, y, eps, steps, alpha, gen):
    """L-inf PGD with a uniform random start, clamped to [0,1]. model in the
    mode the caller chose; returns the adversarial images (detached)."""
    delta = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
    xa = (x + delta).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        loss = F.cross_entropy(model(xa), y)
        g, = torch.autograd.grad(loss, xa)
        with torch.no_grad():
            xa = xa + alpha * g.sign()
            xa = torch.min(torch.max(xa, x - eps), x + eps).clamp(0, 1)
    return xa.detach()


def accuracy(model, x, y, bs=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            correct += (model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return 100.0 * correct / len(x)


def pgd_accuracy(model, x, y, eps, steps, alpha, seed, bs=250):
    """Accuracy under L-inf PGD (uniform random start, clamped to [0,1]). An
    image counts as broken as soon as any iterate (the start included) is
    misclassified; only the images not yet broken are attacked further, so
    the number is at most plain last-iterate PGD's, and cheaper."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    correct = 0
    for i in range(0, len(x), bs):
        x0, y0 = x[i:i + bs], y[i:i + bs]
        xa = (x0 + (torch.rand(x0.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
        alive = torch.arange(len(x0))
        for step in range(steps + 1):
            xs = xa[alive].requires_grad_(True)
            out = model(xs)
            ok = out.argmax(1) == y0[alive]
            if step == steps or not bool(ok.any()):
                break
            g, = torch.autograd.grad(F.cross_entropy(out, y0[alive], reduction="sum"), xs)
            with torch.no_grad():
                xn = xs + alpha * g.sign()
                xb = x0[alive]
                xn = torch.min(torch.max(xn, xb - eps), xb + eps).clamp(0, 1)
            alive = alive[ok]
            xa[alive] = xn[ok]
        correct += int(ok.sum().item())
    return 100.0 * correct / len(x)


# ---------------------------------------------------------------- training

def train(name, model, xtr, ytr, xval, yval, epochs, args, adversarial):
    cl = torch.channels_last
    model = model.to(memory_format=cl)
    gen = torch.Generator().manual_seed(args.seed + (1 if adversarial else 0))
    steps_per_epoch = (len(xtr) + args.batch - 1) // args.batch
    lr = args.lr_robust if adversarial else args.lr_standard
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=args.wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch,
                                                pct_start=0.25)
    eps = args.eps
    flips = bool(args.flip_robust if adversarial else args.flip_standard)
    mode = "fgsm-rs"  # switches to "pgd" after catastrophic overfitting
    history = []
    best = None  # (val PGD acc, epoch, state_dict) for the robust model
    t0 = time.time()
    step = 0
    for epoch in range(1, epochs + 1):
        te = time.time()
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        tot_loss, tot_correct, n = 0.0, 0, 0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = xtr[idx], ytr[idx]
            if flips:
                flip = torch.rand(len(xb), generator=gen) < 0.5  # horizontal flips
                xb = torch.where(flip.view(-1, 1, 1, 1), xb.flip(3), xb)
            if adversarial:
                # eps ramps up linearly over the first --eps-ramp epochs
                e = eps * min(1.0, (step + 1) / max(1, args.eps_ramp * steps_per_epoch))
                if mode == "fgsm-rs":
                    delta = (torch.rand(xb.shape, generator=gen) * 2 - 1) * e
                    xa = (xb + delta).clamp(0, 1).requires_grad_(True)
                    g, = torch.autograd.grad(F.cross_entropy(model(xa.contiguous(memory_format=cl)), yb), xa)
                    xa = (xa.detach() + args.alpha_factor * e * g.sign())
                    xb = torch.min(torch.max(xa, xb - e), xb + e).clamp(0, 1)
                else:
                    xb = pgd(model, xb, yb, e, args.fallback_pgd_steps, 2.5 * e / args.fallback_pgd_steps, gen)
            out = model(xb.contiguous(memory_format=cl))
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            tot_loss += loss.item() * len(yb)
            tot_correct += (out.argmax(1) == yb).sum().item()
            n += len(yb)
        train_time = time.time() - te
        rec = {"epoch": epoch, "loss": tot_loss / n, "train_acc": 100.0 * tot_correct / n,
               "val_acc": accuracy(model, xval, yval), "mode": mode if adversarial else "standard",
               "lr_end": sched.get_last_lr()[0]}
        if adversarial:
            rec["val_pgd10_acc"] = pgd_accuracy(model, xval, yval, eps, 10, 2.5 * eps / 10, args.seed)
        rec["epoch_s"] = time.time() - te
        rec["train_s"] = train_time
        history.append(rec)
        msg = (f"[{name}] epoch {epoch}/{epochs} loss {rec['loss']:.4f} train {rec['train_acc']:.2f}% "
               f"val {rec['val_acc']:.2f}%")
        if adversarial:
            msg += f" val-PGD10 {rec['val_pgd10_acc']:.2f}% ({mode})"
        msg += f"  {rec['epoch_s']:.1f}s (elapsed {time.time() - t0:.0f}s)"
        print(msg, flush=True)
        if adversarial:
            pa = rec["val_pgd10_acc"]
            if best is not None and pa < best[0] - args.collapse_drop and mode == "fgsm-rs":
                print(f"[{name}] catastrophic overfitting suspected (val PGD {pa:.2f}% vs best "
                      f"{best[0]:.2f}%): restoring epoch {best[1]} and switching to "
                      f"PGD-{args.fallback_pgd_steps} training", flush=True)
                model.load_state_dict(best[2])
                mode = "pgd"
                rec["collapsed"] = True
            elif best is None or pa >= best[0]:
                best = (pa, epoch, {k: v.clone() for k, v in model.state_dict().items()})
    chosen = epochs
    if adversarial and best is not None and history[-1]["val_pgd10_acc"] < best[0] - args.collapse_drop:
        print(f"[{name}] final epoch's val PGD {history[-1]['val_pgd10_acc']:.2f}% is far below the best "
              f"({best[0]:.2f}% at epoch {best[1]}): exporting epoch {best[1]}", flush=True)
        model.load_state_dict(best[2])
        chosen = best[1]
    elapsed = time.time() - t0
    model = model.to(memory_format=torch.contiguous_format).eval()
    return model, history, elapsed, chosen


def export(model, path):
    model = model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    sm = torch.jit.script(model)
    torch.jit.save(sm, str(path))
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models", help="output directory (default: models)")
    ap.add_argument("--data", default=os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist"),
                    help="directory with the Fashion-MNIST IDX .gz files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs-standard", type=int, default=10)
    ap.add_argument("--epochs-robust", type=int, default=10)
    ap.add_argument("--eps", type=float, default=0.1, help="L-inf radius on [0,1] pixels (default 0.1)")
    ap.add_argument("--alpha-factor", type=float, default=1.25,
                    help="FGSM-RS step as a multiple of eps (Wong et al.: 1.25)")
    ap.add_argument("--eps-ramp", type=float, default=2.0, help="epochs over which eps ramps up linearly")
    ap.add_argument("--collapse-drop", type=float, default=15.0,
                    help="val PGD-10 drop (points) taken as catastrophic overfitting")
    ap.add_argument("--fallback-pgd-steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr-standard", type=float, default=3e-3)
    ap.add_argument("--lr-robust", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--stem-standard", choices=["stride", "pool"], default="stride")
    ap.add_argument("--stem-robust", choices=["stride", "pool"], default="stride")
    ap.add_argument("--extra-standard", choices=["none", "1x1", "3x3"], default="1x1",
                    help="an extra 128->128 conv (+BN+ReLU) at 7x7 in the standard model")
    ap.add_argument("--extra-robust", choices=["none", "1x1", "3x3"], default="1x1")
    ap.add_argument("--flip-standard", type=int, choices=[0, 1], default=0,
                    help="random horizontal flips when training the standard model")
    ap.add_argument("--flip-robust", type=int, choices=[0, 1], default=0)
    ap.add_argument("--val", type=int, default=1000, help="training images held out for monitoring")
    ap.add_argument("--pgd-n", type=int, default=10000, help="test images attacked with PGD-20")
    ap.add_argument("--only", choices=["standard", "robust"], help="train only one model (for trials)")
    args = ap.parse_args()

    # TorchScript writes a module's constants in set order, which depends on
    # Python's string hashing: fix it so that the same weights give the same
    # file bytes (and sha256) from run to run.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable] + sys.argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except TypeError:
        torch.use_deterministic_algorithms(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()

    xall, yall = load_split(args.data, "train")
    xte, yte = load_split(args.data, "test")
    perm = torch.randperm(len(xall), generator=torch.Generator().manual_seed(args.seed))
    val_idx, tr_idx = perm[:args.val], perm[args.val:]
    xtr, ytr, xval, yval = xall[tr_idx], yall[tr_idx], xall[val_idx], yall[val_idx]
    print(f"torch {torch.__version__}, {args.threads} threads; train {len(xtr)}, held out {len(xval)}, "
          f"test {len(xte)}; eps {args.eps} (L-inf, [0,1] pixels)", flush=True)

    log = {"seed": args.seed, "command": " ".join([sys.argv[0]] + sys.argv[1:]),
           "args": vars(args), "torch": torch.__version__, "numpy": np.__version__,
           "python": platform.python_version(), "pythonhashseed": os.environ.get("PYTHONHASHSEED"), "machine": platform.machine(),
           "threads": args.threads, "cpu_count": os.cpu_count(),
           "threat_model": {"norm": "Linf", "eps": args.eps, "pixel_range": [0, 1]},
           "models": {}}
    specs = [("standard", False), ("robust", True)]
    if args.only:
        specs = [s for s in specs if s[0] == args.only]
    train_total = 0.0
    for name, adv in specs:
        torch.manual_seed(args.seed + (100 if adv else 0))
        model = FmnistCNN(stem=args.stem_robust if adv else args.stem_standard,
                          extra=args.extra_robust if adv else args.extra_standard)
        epochs = args.epochs_robust if adv else args.epochs_standard
        print(f"[{name}] {describe(model)}; {sum(p.numel() for p in model.parameters())} parameters; "
              f"{epochs} epochs" + (f", FGSM-RS eps {args.eps} alpha {args.alpha_factor}*eps" if adv else ""),
              flush=True)
        model, hist, secs, chosen = train(name, model, xtr, ytr, xval, yval, epochs, args, adv)
        train_total += secs
        path = out / f"fmnist_{name}.pt"
        sha = export(model, path)
        print(f"[{name}] trained in {secs:.1f}s; wrote {path} ({path.stat().st_size} bytes, sha256 {sha})",
              flush=True)
        log["models"][name] = {"file": path.name, "architecture": describe(model),
                               "feature_map": [model.fc.in_features, 7, 7],
                               "parameters": sum(p.numel() for p in model.parameters()),
                               "epochs": epochs, "exported_epoch": chosen,
                               "adversarial_training": ({"method": "FGSM-RS", "eps": args.eps,
                                                         "alpha": args.alpha_factor * args.eps,
                                                         "eps_ramp_epochs": args.eps_ramp}
                                                        if adv else None),
                               "train_seconds": round(secs, 1), "history": hist,
                               "bytes": path.stat().st_size, "sha256": sha}

    # evaluation of the saved files
    t_eval = time.time()
    steps, alpha = 20, 2.5 * args.eps / 20
    for name in log["models"]:
        m = torch.jit.load(str(out / f"fmnist_{name}.pt")).eval()
        te = time.time()
        acc = accuracy(m, xte, yte)
        pacc = pgd_accuracy(m, xte[:args.pgd_n], yte[:args.pgd_n], args.eps, steps, alpha, args.seed + 7)
        log["models"][name].update({"test_acc": acc, "test_pgd20_acc": pacc, "pgd_n": min(args.pgd_n, len(xte)),
                                    "eval_seconds": round(time.time() - te, 1)})
        print(f"[{name}] test clean {acc:.2f}%  PGD-20 (eps {args.eps}, step {alpha:.4f}, random start, "
              f"n={min(args.pgd_n, len(xte))}) {pacc:.2f}%  ({time.time() - te:.0f}s)", flush=True)
    log["pgd_eval"] = {"steps": steps, "step_size": alpha, "eps": args.eps, "random_start": True,
                       "clamp": [0, 1], "seed": args.seed + 7, "model_mode": "eval",
                       "success": "an image counts as broken if any iterate is misclassified"}
    log["train_seconds_total"] = round(train_total, 1)
    log["eval_seconds"] = round(time.time() - t_eval, 1)
    log["wall_seconds_total"] = round(time.time() - t_start, 1)
    (out / "fmnist_classes.txt").write_text("".join(c + "\n" for c in CLASSES))
    (out / "train_log.json").write_text(json.dumps(log, indent=1) + "\n")

    print("\nmodel      clean   PGD-20   train time")
    for name, r in log["models"].items():
        print(f"{name:9s} {r['test_acc']:6.2f}%  {r['test_pgd20_acc']:6.2f}%  {r['train_seconds']:7.1f}s")
    print(f"total training {train_total:.1f}s; evaluation {log['eval_seconds']:.1f}s; "
          f"wall {log['wall_seconds_total']:.1f}s")
    for name, r in log["models"].items():
        print(f"sha256 {r['sha256']}  {r['file']}")


if __name__ == "__main__":
    main()
