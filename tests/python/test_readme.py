"""The README's promises, checked: its C program is examples/why.c, it
compiles against the build tree through pkg-config's uninstalled file with
an rpath (as the README says), and what the README quotes -- the demo's
summary and why's output -- is what the commands print today."""
import os
import re
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
MODELS = ROOT / "models"
FMNIST = "/usr/share/datasets/fashion-mnist"


def blocks(lang):
    return re.findall(r"```" + lang + r"\n(.*?)```", README, re.S)


def test_readme_program_is_examples_why_c():
    c = blocks("c")
    assert len(c) == 1, "the README shows one C program"
    assert c[0] == (ROOT / "examples" / "why.c").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def why(tmp_path_factory):
    """examples/why.c built as the README says."""
    pcdir = BUILD / "meson-uninstalled"
    if not (pcdir / "barlow-uninstalled.pc").exists():
        pytest.skip(f"no uninstalled pkg-config file in {pcdir}")
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcdir))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "barlow"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    exe = tmp_path_factory.mktemp("why") / "why"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    str(ROOT / "examples" / "why.c"), *flags,
                    f"-Wl,-rpath,{BUILD / 'lib'}"], check=True)
    return exe


@pytest.fixture(scope="module")
def demo_features(cli, tmp_path_factory):
    """features.npz of the demo's inputs, as barlow extract writes it."""
    if not (MODELS / "fmnist_robust.pt").exists() or not os.path.isdir(FMNIST):
        pytest.skip("the shipped models or Debian's Fashion-MNIST are absent")
    out = tmp_path_factory.mktemp("feat") / "features.npz"
    rc, _, err = run_cli(cli, "extract", "--model", MODELS / "fmnist_robust.pt", "--predict",
                         MODELS / "fmnist_standard.pt", "--idx",
                         f"{FMNIST}/t10k-images-idx3-ubyte.gz", "--idx-labels",
                         f"{FMNIST}/t10k-labels-idx1-ubyte.gz", "--class-names",
                         MODELS / "fmnist_classes.txt", "--quiet", "--out", out, check=False)
    if "without libtorch" in err:
        pytest.skip("libbarlow was built without libtorch")
    assert rc == 0, err
    return out


def test_why_prints_what_the_readme_quotes(why, demo_features):
    m = re.search(r"\./why barlow-demo/features\.npz (\w+)\n```\n\nwhich prints\n\n```\n(.*?)\n```",
                  README, re.S)
    assert m, "the README shows ./why on the demo's features and what it prints"
    p = subprocess.run([str(why), str(demo_features), m.group(1)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == m.group(2)


def test_why_error_is_what_the_readme_quotes(why, demo_features):
    m = re.search(r"`(why: barlow_group_create_by_name:\s+no class named '(\w+)' \(\d+ classes\))`",
                  README)
    assert m
    p = subprocess.run([str(why), str(demo_features), m.group(2)], capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stderr.strip() == " ".join(m.group(1).split())


def test_demo_summary_is_what_the_readme_quotes(cli, tmp_path):
    if not (MODELS / "fmnist_robust.pt").exists() or not os.path.isdir(FMNIST):
        pytest.skip("the shipped models or Debian's Fashion-MNIST are absent")
    # attacks do not change the analysis: --no-attack keeps this test short
    rc, out, err = run_cli(cli, "demo", "--no-attack", "--threads", 2, "--out",
                           tmp_path / "barlow-demo", check=False)
    if "without libtorch" in err:
        pytest.skip("libbarlow was built without libtorch")
    assert rc == 0, err
    m = re.search(r"```\n(Analysed 10000 images.*?)```", README, re.S)
    assert m, "the README quotes the demo's summary"
    lines = out.strip().splitlines()
    assert lines[-1] == f"Report: {tmp_path / 'barlow-demo'}/index.html"
    assert "\n".join(lines[:-1]) == m.group(1).strip()


def test_readme_python_runs_and_agrees_with_the_demo(tmp_path):
    """The README's Python lines, with `images`/`labels` the demo's files,
    give the Table 1 the README quotes for the demo."""
    pytest.importorskip("cffi")
    if not (MODELS / "fmnist_robust.pt").exists() or not os.path.isdir(FMNIST):
        pytest.skip("the shipped models or Debian's Fashion-MNIST are absent")
    code = blocks("python")
    assert len(code) == 1
    script = tmp_path / "readme.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'bindings' / 'python')!r})\n"
        f"images = {FMNIST + '/t10k-images-idx3-ubyte.gz'!r}\n"
        f"labels = {FMNIST + '/t10k-labels-idx1-ubyte.gz'!r}\n"
        + code[0] +
        "import barlow\n"
        "if not barlow.has_torch(): sys.exit(77)\n"
        "for e in result.evaluation:\n"
        "    print(e['grouping'], e['depth'], e['valid'], e['groups'])\n")
    env = dict(os.environ, BARLOW_LIBRARY=str(BUILD / "lib" / "libbarlow.so"))
    p = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True,
                       text=True)
    if p.returncode == 77 or "without libtorch" in p.stderr:
        pytest.skip("libbarlow was built without libtorch")
    assert p.returncode == 0, p.stderr
    quoted = re.findall(r"by (label|prediction)\s+at depth (\d): (\d+) of (\d+)", README)
    got = [tuple(line.split()) for line in p.stdout.splitlines()]
    assert sorted(got) == sorted(quoted)
