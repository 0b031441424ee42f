"""tools/convert_checkpoint.py on checkpoints fabricated here with random
weights in the layouts of torchvision ResNets, MadryLab `robustness`
ImageNet checkpoints and a plain module: the converted TorchScript follows
libbarlow's model contract and computes what the source module computes."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
tvm = pytest.importorskip("torchvision.models")

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "convert_checkpoint.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("convert_checkpoint", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_tool(*args, check=True):
    p = subprocess.run(["/usr/bin/python3", str(TOOL), *map(str, args)],
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"convert_checkpoint {args}: {p.stderr}")
    return p


def seeded_resnet18(seed=0):
    torch.manual_seed(seed)
    net = tvm.resnet18(weights=None)
    for m in net.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


def expected(net, x, mean, std):
    xn = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        y = net.maxpool(net.relu(net.bn1(net.conv1(xn))))
        fmap = net.layer4(net.layer3(net.layer2(net.layer1(y))))
        return fmap, net(xn)


def assert_same(path, net, mean, std, size=64):
    m = torch.jit.load(str(path))
    torch.manual_seed(3)
    x = torch.rand(3, 3, size, size)
    fmap, logits = expected(net, x, mean, std)
    with torch.no_grad():
        f2, l2 = m.forward_features(x), m(x)
    assert f2.shape == fmap.shape and f2.dim() == 4
    assert torch.allclose(f2, fmap, rtol=1e-5, atol=1e-5)
    assert torch.allclose(l2, logits, rtol=1e-5, atol=1e-5)


IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def test_torchvision_state_dict(tmp_path):
    net = seeded_resnet18()
    torch.save(net.state_dict(), tmp_path / "r18.pth")
    p = run_tool("--torchvision", tmp_path / "r18.pth", "--arch", "resnet18", "--size", "64",
                 "--out", tmp_path / "r18.pt")
    assert "sha256 " in p.stdout
    assert_same(tmp_path / "r18.pt", net, *IMAGENET)


def test_torchvision_dataparallel_prefix(tmp_path):
    net = seeded_resnet18(1)
    torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}},
               tmp_path / "dp.pth")
    run_tool("--torchvision", tmp_path / "dp.pth", "--arch", "resnet18", "--size", "64",
             "--out", tmp_path / "dp.pt")
    assert_same(tmp_path / "dp.pt", net, *IMAGENET)


def robustness_checkpoint(net, mean, std):
    sd = {}
    for k, v in net.state_dict().items():
        sd["module.model." + k] = v
        sd["module.attacker.model." + k] = v.clone()
    for prefix in ("module.normalizer.", "module.attacker.normalize."):
        sd[prefix + "new_mean"] = torch.tensor(mean).view(3, 1, 1)
        sd[prefix + "new_std"] = torch.tensor(std).view(3, 1, 1)
    return {"model": sd, "epoch": 90, "optimizer": {"state": {}, "param_groups": []}}


def test_robustness_checkpoint(tmp_path):
    net = seeded_resnet18(2)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)  # read from the checkpoint, not ImageNet's
    torch.save(robustness_checkpoint(net, mean, std), tmp_path / "robust.ckpt")
    run_tool("--robustness", tmp_path / "robust.ckpt", "--arch", "resnet18", "--size", "64",
             "--out", tmp_path / "robust.pt")
    assert_same(tmp_path / "robust.pt", net, mean, std)
    # the normalisation is inside: the converted model holds the buffers
    m = torch.jit.load(str(tmp_path / "robust.pt"))
    assert torch.allclose(m.mean.reshape(-1), torch.tensor(mean))


def test_robustness_without_normalizer_is_refused(tmp_path):
    net = seeded_resnet18()
    ck = robustness_checkpoint(net, *IMAGENET)
    ck["model"] = {k: v for k, v in ck["model"].items() if "normalizer" not in k}
    torch.save(ck, tmp_path / "bad.ckpt")
    p = run_tool("--robustness", tmp_path / "bad.ckpt", "--arch", "resnet18", "--out",
                 tmp_path / "bad.pt", check=False)
    assert p.returncode == 1 and "new_mean" in p.stderr
    assert not (tmp_path / "bad.pt").exists()


def test_wrong_architecture_is_refused(tmp_path):
    torch.save(seeded_resnet18().state_dict(), tmp_path / "r18.pth")
    p = run_tool("--torchvision", tmp_path / "r18.pth", "--arch", "resnet50", "--out",
                 tmp_path / "x.pt", check=False)
    assert p.returncode == 1 and "do not fit" in p.stderr and "missing" in p.stderr


def test_pickled_objects_need_allow_pickle(tmp_path):
    import collections
    net = seeded_resnet18()
    # an arbitrary class instance inside the checkpoint: refused by default
    torch.save({"model": robustness_checkpoint(net, *IMAGENET)["model"],
                "args": argparse_like()}, tmp_path / "pickled.ckpt")
    p = run_tool("--robustness", tmp_path / "pickled.ckpt", "--arch", "resnet18", "--out",
                 tmp_path / "p.pt", check=False)
    assert p.returncode == 1 and "--allow-pickle" in p.stderr
    assert collections  # noqa


class argparse_like:  # noqa: N801 - stands in for a pickled argparse.Namespace
    pass


PLAIN = '''
import torch, torch.nn as nn, torch.nn.functional as F
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.c1 = nn.Conv2d(3, 6, 3, padding=1)
        self.c2 = nn.Conv2d(6, 10, 3, stride=2)
        self.fc = nn.Linear(10, 4)
    def forward_features(self, x):
        return F.relu(self.c2(F.relu(self.c1(x))))
    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))
def make():
    return Net().eval()
'''


def test_plain_module(tmp_path):
    (tmp_path / "plain.py").write_text(PLAIN)
    run_tool("--module", f"{tmp_path / 'plain.py'}:make", "--size", "32", "--out",
             tmp_path / "plain.pt")
    spec = importlib.util.spec_from_file_location("plain", tmp_path / "plain.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.make()
    m = torch.jit.load(str(tmp_path / "plain.pt"))
    x = torch.rand(2, 3, 32, 32)
    mean, std = IMAGENET
    xn = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(m.forward_features(x), net.forward_features(xn), atol=1e-6)
        assert torch.allclose(m(x), net(xn), atol=1e-6)


def test_module_without_contract_is_refused():
    tool = load_tool()
    with pytest.raises(tool.ConversionError, match="forward_features"):
        tool.wrap(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3)))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
