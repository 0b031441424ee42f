"""libtorch out of memory, through an address-space limit (RLIMIT_AS) in a
child process: every limit gives a status — NOMEM when the plugin cannot
even start (libtorch's start-up would otherwise end the process with
std::terminate) or when the model's allocations fail — and no crash, no
partial file (docs/reliability.md, "Out of memory in libtorch")."""
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import BUILD, ROOT, build_option

MODELS = ROOT / "models"
FM = Path("/usr/share/datasets/fashion-mnist")
IMAGES, LABELS = FM / "t10k-images-idx3-ubyte.gz", FM / "t10k-labels-idx1-ubyte.gz"

CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
import barlow
limit = int(sys.argv[2]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    ds = barlow.Dataset.from_idx(sys.argv[3], sys.argv[4])
    r = barlow.extract(sys.argv[5], ds, batch_size=8192, threads=1, progress=False)
    r.save_npz(sys.argv[6])
    print("OK", r.count)
except barlow.Error as e:
    print(type(e).__name__, str(e)[:300])
"""


def vm_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize"):
            return int(line.split()[1]) // 1024
    return 0


@pytest.mark.parametrize("extra", [100, 400, 650, 750, 900, 1400])
def test_address_space_limits(tmp_path, extra):
    if not IMAGES.exists():
        pytest.skip("needs dataset-fashion-mnist")
    if build_option("torch") == "disabled":
        pytest.skip("libbarlow was built without libtorch (-Dtorch=disabled)")
    env = dict(os.environ, BARLOW_BUILD_DIR=str(BUILD))
    # the limit: the child's own start-up (about this process's size before
    # libbarlow) plus `extra` MiB for libtorch and the run
    limit = 120 + extra
    out = tmp_path / "f.npz"
    p = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "bindings" / "python"),
                        str(limit), str(IMAGES), str(LABELS), str(MODELS / "fmnist_robust.pt"),
                        str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, (limit, p.returncode, p.stderr[-2000:])  # no crash, no abort
    word = p.stdout.split()[0]
    assert word in ("OK", "NoMemory"), (limit, p.stdout, p.stderr[-500:])
    if word == "NoMemory":
        assert ("not loaded" in p.stdout or "allocate memory" in p.stdout or
                "out of memory" in p.stdout), p.stdout
        assert not out.exists()
    else:
        assert np.load(out)["features"].shape == (10000, 128)
    assert not list(tmp_path.glob("*.tmp-*"))
