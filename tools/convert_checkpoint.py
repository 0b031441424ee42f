#!/usr/bin/python3
"""Converts common PyTorch checkpoints into libbarlow's model contract
(docs/models.md): a TorchScript file whose

  forward_features(x) -> the last feature map N×D×h×w
  forward(x)          -> logits N×K

take x = float32 N×3×H×W in [0,1], with the normalisation inside the model.

Sources:
  --torchvision STATE   a torchvision ResNet state dict (resnet18/34/50/101/
                        152, wide_resnet50_2, ...; --arch names it), ImageNet
                        normalisation (or --mean/--std)
  --robustness CKPT     a MadryLab `robustness` ImageNet checkpoint: a dict
                        whose 'model' (or 'state_dict') holds
                        module.model.* (the ResNet), module.normalizer.*
                        (new_mean/new_std: kept inside the model) and
                        module.attacker.* (a copy, dropped)
  --module FILE.py:NAME a plain nn.Module: NAME() in FILE.py returns it (with
                        its weights loaded, or add --state STATE); it must
                        have forward_features, or ResNet-style children
                        conv1 … layer4 and fc

Checkpoints are read with torch.load(weights_only=True) — tensors and plain
containers only, no arbitrary pickled objects — unless --allow-pickle is
given (only for files you trust: unpickling runs code).

The output is checked against the source module on random inputs before it
is written; its SHA-256 is printed for libbarlow's sha256 option.

Example (the paper's robust ResNet-50, L2 eps 3.0):
  tools/convert_checkpoint.py --robustness imagenet_l2_3_0.pt --arch resnet50 \\
      --out robust_resnet50.pt
"""
import argparse
import hashlib
import importlib.util
import sys

import torch
import torch.nn as nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET_CHILDREN = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


class ConversionError(Exception):
    pass


class ContractModel(nn.Module):
    """Wraps a network: normalisation, then its features (forward_features
    or the ResNet children), global average pool and its classifier."""

    def __init__(self, net, mean, std, resnet):
        super().__init__()
        self.net = net
        c = len(mean)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, c, 1, 1))
        self.resnet = resnet

    def _features(self, x):
        if self.resnet:
            n = self.net
            x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
            return n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return self.net.forward_features(x)

    @torch.jit.export
    def forward_features(self, x):
        return self._features((x - self.mean) / self.std)

    def forward(self, x):
        if self.resnet:
            f = self.forward_features(x)
            return self.net.fc(torch.flatten(f.mean(dim=(2, 3)), 1))
        return self.net((x - self.mean) / self.std)


class _ResNetContract(ContractModel):
    """ContractModel specialised (for TorchScript) to ResNet children."""

    @torch.jit.export
    def forward_features(self, x):
        n = self.net
        x = (x - self.mean) / self.std
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))

    def forward(self, x):
        f = self.forward_features(x)
        return self.net.fc(torch.flatten(f.mean(dim=(2, 3)), 1))


class _FeaturesContract(ContractModel):
    """ContractModel for a network with its own forward_features."""

    @torch.jit.export
    def forward_features(self, x):
        return self.net.forward_features((x - self.mean) / self.std)

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def is_resnet_style(net):
    names = {n for n, _ in net.named_children()}
    return all(c in names for c in RESNET_CHILDREN) and "fc" in names


def wrap(net, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """The contract module around `net` (eval mode)."""
    net = net.eval()
    if hasattr(net, "forward_features") and callable(net.forward_features):
        m = _FeaturesContract(net, mean, std, False)
    elif is_resnet_style(net):
        m = _ResNetContract(net, mean, std, True)
    else:
        raise ConversionError(
            "the module has no forward_features method and is not ResNet-style (children "
            + ", ".join(RESNET_CHILDREN) + ", fc); add a forward_features(x) that returns "
            "the last feature map N×D×h×w")
    return m.eval()


def to_torchscript(model, size=224, channels=3):
    """Scripts the wrapper (tracing both methods when scripting fails)."""
    try:
        return torch.jit.script(model)
    except Exception as e:  # noqa: BLE001 - fall back to tracing any failure
        x = torch.rand(2, channels, size, size)
        try:
            return torch.jit.trace_module(model, {"forward": x, "forward_features": x})
        except Exception as e2:
            raise ConversionError(f"cannot script ({e}) nor trace ({e2}) the module") from e2


def load_checkpoint(path, allow_pickle=False):
    try:
        return torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except Exception as e:
        if allow_pickle:
            raise ConversionError(f"{path}: cannot read the checkpoint: {e}") from e
        raise ConversionError(
            f"{path}: not loadable as tensors and plain containers ({e}); if you trust the "
            "file, add --allow-pickle") from e


def build_arch(arch):
    import torchvision.models as tvm
    if not hasattr(tvm, arch):
        raise ConversionError(f"unknown torchvision architecture '{arch}'")
    return getattr(tvm, arch)(weights=None)


def load_into(net, state, source):
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        msg = str(e).strip().splitlines()
        raise ConversionError(f"{source}: the weights do not fit the architecture "
                              f"(missing or misshapen): {msg[-1].strip() if msg else e}") from e
    if result.missing_keys or result.unexpected_keys:
        raise ConversionError(
            f"{source}: the weights do not fit the architecture: missing "
            f"{result.missing_keys[:5]}{' …' if len(result.missing_keys) > 5 else ''}, "
            f"unexpected {result.unexpected_keys[:5]}"
            f"{' …' if len(result.unexpected_keys) > 5 else ''}")
    return net


def from_torchvision(path, arch, mean=IMAGENET_MEAN, std=IMAGENET_STD, allow_pickle=False):
    state = load_checkpoint(path, allow_pickle)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConversionError(f"{path}: expected a state dict, found {type(state).__name__}")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    net = load_into(build_arch(arch), state, path)
    return net, wrap(net, mean, std)


def from_robustness(path, arch, allow_pickle=False):
    ckpt = load_checkpoint(path, allow_pickle)
    if not isinstance(ckpt, dict):
        raise ConversionError(f"{path}: expected a dict, found {type(ckpt).__name__}")
    sd = ckpt.get("model", ckpt.get("state_dict"))
    if not isinstance(sd, dict):
        raise ConversionError(f"{path}: no 'model' (or 'state_dict') entry; keys: "
                              f"{sorted(ckpt)[:10]}")
    model, mean, std = {}, None, None
    for k, v in sd.items():
        key = k[len("module."):] if k.startswith("module.") else k
        if key.startswith("model."):
            model[key[len("model."):]] = v
        elif key == "normalizer.new_mean":
            mean = v
        elif key == "normalizer.new_std":
            std = v
        elif key.startswith("attacker.") or key.startswith("normalizer."):
            continue
        else:
            raise ConversionError(f"{path}: unexpected key '{k}' (a robustness checkpoint has "
                                  "module.model.*, module.normalizer.*, module.attacker.*)")
    if not model:
        raise ConversionError(f"{path}: no module.model.* weights")
    if mean is None or std is None:
        raise ConversionError(f"{path}: no module.normalizer.new_mean/new_std buffers")
    mean = tuple(float(v) for v in mean.reshape(-1))
    std = tuple(float(v) for v in std.reshape(-1))
    net = load_into(build_arch(arch), model, path)
    return net, wrap(net, mean, std)


def from_module(spec, state_path=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                allow_pickle=False):
    if ":" not in spec:
        raise ConversionError(f"--module wants FILE.py:NAME, got '{spec}'")
    file, name = spec.rsplit(":", 1)
    sp = importlib.util.spec_from_file_location("barlow_user_module", file)
    mod = importlib.util.module_from_spec(sp)
    sp.loader.exec_module(mod)
    net = getattr(mod, name)()
    if state_path:
        load_into(net, load_checkpoint(state_path, allow_pickle), state_path)
    return net, wrap(net, mean, std)


def reference_outputs(net, mean, std, x):
    """What the source module computes on normalised x: (features, logits)."""
    c = x.shape[1]
    xn = (x - torch.tensor(mean).view(1, c, 1, 1)) / torch.tensor(std).view(1, c, 1, 1)
    with torch.no_grad():
        if hasattr(net, "forward_features"):
            fmap = net.forward_features(xn)
        else:
            y = net.maxpool(net.relu(net.bn1(net.conv1(xn))))
            fmap = net.layer4(net.layer3(net.layer2(net.layer1(y))))
        return fmap, net(xn)


def check(scripted, net, mean, std, size, channels=3):
    torch.manual_seed(0)
    x = torch.rand(2, channels, size, size)
    fmap, logits = reference_outputs(net.eval(), mean, std, x)
    with torch.no_grad():
        f2, l2 = scripted.forward_features(x), scripted(x)
    if f2.dim() != 4:
        raise ConversionError(f"forward_features gives shape {tuple(f2.shape)}, not N×D×h×w")
    df = (f2 - fmap).abs().max().item() / max(fmap.abs().max().item(), 1e-12)
    dl = (l2 - logits).abs().max().item() / max(logits.abs().max().item(), 1e-12)
    if df > 1e-5 or dl > 1e-5:
        raise ConversionError(f"converted model differs from the source (features {df:.3g}, "
                              f"logits {dl:.3g} relative)")
    return df, dl


def convert(args):
    mean = tuple(args.mean) if args.mean else IMAGENET_MEAN
    std = tuple(args.std) if args.std else IMAGENET_STD
    if args.torchvision:
        net, model = from_torchvision(args.torchvision, args.arch, mean, std, args.allow_pickle)
    elif args.robustness:
        net, model = from_robustness(args.robustness, args.arch, args.allow_pickle)
        mean, std = tuple(model.mean.reshape(-1).tolist()), tuple(model.std.reshape(-1).tolist())
    else:
        net, model = from_module(args.module, args.state, mean, std, args.allow_pickle)
    scripted = to_torchscript(model, args.size, len(mean))
    df, dl = check(scripted, net, mean, std, args.size, len(mean))
    torch.jit.save(scripted, args.out)
    digest = hashlib.sha256(open(args.out, "rb").read()).hexdigest()
    return digest, df, dl


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--torchvision", metavar="STATE", help="torchvision ResNet state dict")
    src.add_argument("--robustness", metavar="CKPT", help="MadryLab robustness checkpoint")
    src.add_argument("--module", metavar="FILE.py:NAME", help="a plain nn.Module factory")
    p.add_argument("--state", help="state dict loaded into --module's network")
    p.add_argument("--arch", default="resnet50", help="torchvision architecture (resnet50)")
    p.add_argument("--mean", type=float, nargs="+", help="normalisation mean (ImageNet's)")
    p.add_argument("--std", type=float, nargs="+", help="normalisation std (ImageNet's)")
    p.add_argument("--size", type=int, default=224, help="input size of the check (224)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="unpickle arbitrary objects (trusted files only)")
    p.add_argument("--out", required=True, help="output TorchScript file")
    args = p.parse_args(argv)
    if (args.mean is None) != (args.std is None) or (args.mean and len(args.mean) != len(args.std)):
        p.error("--mean and --std go together, with the same number of values")
    try:
        digest, df, dl = convert(args)
    except ConversionError as e:
        print(f"convert_checkpoint: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} (checked against the source: features {df:.2g}, logits {dl:.2g} "
          f"relative)\nsha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
