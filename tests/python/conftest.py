"""Shared fixtures of the pytest suites: where the built library and the
barlow CLI are, the fixture data in ../shared, and a runner for the CLI."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BARLOW_BUILD_DIR", ROOT / "build"))
SHARED = Path(os.environ.get("BARLOW_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def build_dir():
    return BUILD


def build_option(name):
    """The value of a meson option of the build (None when unknown)."""
    try:
        opts = json.loads((BUILD / "meson-info" / "intro-buildoptions.json").read_text())
    except (OSError, ValueError):
        return None
    return next((o["value"] for o in opts if o.get("name") == name), None)


# The barlow program in a build tree (programs/meson.build, -Dprogram).
CLI = BUILD / "programs" / "barlow" / "barlow"


@pytest.fixture(scope="session")
def cli():
    if build_option("program") is False:
        pytest.skip(f"the barlow program is not built in {BUILD} (-Dprogram=false)")
    if not CLI.exists():
        pytest.fail(f"the barlow program is not built at {CLI}")
    return CLI


@pytest.fixture(scope="session")
def shared_data():
    d = SHARED / "data"
    if not d.is_dir():
        pytest.skip(f"{d} is absent (it is present in CI)")
    return d


def run_cli(exe, *args, check=True):
    """Runs the barlow CLI; returns (exit code, stdout, stderr)."""
    p = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"barlow {' '.join(map(str, args))} exited {p.returncode}: {p.stderr}")
    return p.returncode, p.stdout, p.stderr


def run_cli_json(exe, *args):
    _, out, _ = run_cli(exe, *args)
    return json.loads(out)
