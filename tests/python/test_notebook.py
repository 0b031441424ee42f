"""docs/notebooks/barlow.ipynb runs from a checkout: executed by nbconvert
(the kernel's working directory is the notebook's directory, so its
relative paths ../../models and ../../bindings/python resolve) against the
library of BUILD, writing the executed copy to a temporary directory (the
committed notebook is left alone). nbconvert exits non-zero when a cell
raises; the executed notebook must also hold no error output, the failure
tree as SVG and the visualizer panel as PNG.

Skipped when nbconvert, nbformat or ipykernel is missing (scripts/setup
installs them), when libbarlow has no libtorch, or when the shipped models
or the Fashion-MNIST test split are absent."""
import base64
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUILD, ROOT

NOTEBOOK = ROOT / "docs" / "notebooks" / "barlow.ipynb"
LIBRARY = BUILD / "lib" / "libbarlow.so"
MODELS = ROOT / "models"
FMNIST = Path("/usr/share/datasets/fashion-mnist")
NEEDED = (NOTEBOOK, LIBRARY, MODELS / "fmnist_robust.pt", MODELS / "fmnist_standard.pt",
          MODELS / "fmnist_classes.txt", FMNIST / "t10k-images-idx3-ubyte.gz",
          FMNIST / "t10k-labels-idx1-ubyte.gz")
PNG = b"\x89PNG\r\n\x1a\n"

for _mod in ("nbconvert", "nbformat", "ipykernel"):
    if importlib.util.find_spec(_mod) is None:
        pytest.skip(f"{_mod} is not installed (jupyter-nbconvert, python3-nbformat, "
                    "python3-ipykernel)", allow_module_level=True)
for _p in NEEDED:
    if not _p.exists():
        pytest.skip(f"{_p} is absent", allow_module_level=True)


def _env():
    env = dict(os.environ)
    env.update(BARLOW_BUILD_DIR=str(BUILD), BARLOW_LIBRARY=str(LIBRARY),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    return env


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    env = _env()
    probe = subprocess.run(
        [sys.executable, "-c", "import barlow; print(int(barlow.has_torch()))"],
        env={**env, "PYTHONPATH": str(ROOT / "bindings" / "python")},
        capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"import barlow failed: {probe.stderr}")
    if probe.stdout.strip() != "1":
        pytest.skip("libbarlow has no libtorch (or its plugin does not load)")

    committed = NOTEBOOK.read_bytes()
    out = tmp_path_factory.mktemp("notebook")
    # Run from elsewhere than the notebook's directory: nbconvert starts the
    # kernel in the notebook's directory, which the relative paths rely on.
    p = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                        "--output-dir", str(out), "--ExecutePreprocessor.timeout=300",
                        str(NOTEBOOK)],
                       cwd=out, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"nbconvert exited {p.returncode}:\n{p.stderr[-4000:]}"
    path = out / NOTEBOOK.name
    assert path.exists(), f"nbconvert wrote no {path}: {p.stderr[-2000:]}"
    assert NOTEBOOK.read_bytes() == committed, "the committed notebook was modified"
    return json.loads(path.read_text(encoding="utf-8"))


def _outputs(nb):
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]


def test_every_cell_ran_without_error(executed):
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert code and all(c["execution_count"] for c in code)
    errors = [o for o in _outputs(executed) if o["output_type"] == "error"]
    assert not errors, "; ".join(f"{e['ename']}: {e['evalue']}" for e in errors)
    stderr = "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                     for o in _outputs(executed)
                     if o["output_type"] == "stream" and o["name"] == "stderr")
    assert "Traceback" not in stderr


def _data(nb, mime):
    out = []
    for o in _outputs(nb):
        if o["output_type"] in ("display_data", "execute_result") and mime in o["data"]:
            v = o["data"][mime]
            out.append("".join(v) if isinstance(v, list) else v)
    return out


def test_tree_svg_and_panel_png(executed):
    svgs = _data(executed, "image/svg+xml")
    assert len(svgs) == 1 and svgs[0].lstrip().startswith("<svg")
    assert "failures" in svgs[0] and "feature" in svgs[0]
    pngs = _data(executed, "image/png")
    assert len(pngs) == 1
    png = base64.b64decode(pngs[0])
    assert png.startswith(PNG) and len(png) > 10_000
    html = _data(executed, "text/html")
    assert len(html) == 1 and "barlow analysis" in html[0]


def test_numpy_features_match_scikit_learn(executed):
    text = "".join("".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                   for o in _outputs(executed) if o["output_type"] == "stream")
    assert "identical to scikit-learn: True" in text
    assert "When feature" in text and "the error rate rises" in text


def test_committed_notebook_has_outputs_and_is_small():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert _data(nb, "image/png") and _data(nb, "image/svg+xml")
    assert not [o for o in _outputs(nb) if o["output_type"] == "error"]
    assert NOTEBOOK.stat().st_size < 1_500_000
