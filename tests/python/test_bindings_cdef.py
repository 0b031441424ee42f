"""The Python bindings' cdef (bindings/python/barlow/_cdef.h) is what
tools/gen_cdef.py makes from include/barlow/*.h, declares exactly the
functions that libbarlow.so exports, and parses with cffi; the package's
version follows meson.build."""
import re
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT

CDEF = ROOT / "bindings" / "python" / "barlow" / "_cdef.h"
GEN = ROOT / "tools" / "gen_cdef.py"


def declared_functions(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return set(re.findall(r"\b(barlow_\w+)\s*\(", text))


def exported_symbols():
    lib = BUILD / "lib" / "libbarlow.so"
    if not lib.exists():
        pytest.fail(f"libbarlow is not built at {lib}")
    out = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[-1].split("@")[0] for line in out.splitlines()
            if line.split() and line.split()[-1].startswith("barlow_")}


def test_cdef_is_up_to_date():
    p = subprocess.run([sys.executable, str(GEN), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, f"gen_cdef.py --check failed:\n{p.stdout}\n{p.stderr}"


def test_check_mode_reports_a_difference(tmp_path):
    stale = tmp_path / "_cdef.h"
    stale.write_text(CDEF.read_text().replace("barlow_cpu_count", "barlow_cpu_cnt"))
    p = subprocess.run([sys.executable, str(GEN), "--check", "--output", str(stale)],
                       capture_output=True, text=True)
    assert p.returncode == 1
    assert "-size_t barlow_cpu_cnt(void);" in p.stdout
    assert "+size_t barlow_cpu_count(void);" in p.stdout


def test_cdef_declares_exactly_the_exports():
    declared, exported = declared_functions(CDEF.read_text()), exported_symbols()
    assert len(exported) > 150
    assert not exported - declared, f"exported but not in the cdef: {sorted(exported - declared)}"
    assert not declared - exported, f"in the cdef but not exported: {sorted(declared - exported)}"


def test_cdef_has_no_preprocessor_or_export_macro():
    text = CDEF.read_text()
    assert "BARLOW_API" not in text and 'extern "C"' not in text
    directives = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert all(re.match(r"#define BARLOW_VERSION_\w+ \d+$", ln) for ln in directives)


def test_cdef_parses_with_cffi():
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef(CDEF.read_text())
    assert ffi.sizeof("barlow_tree_node") > 0
    lib = ffi.dlopen(str(BUILD / "lib" / "libbarlow.so"))
    assert lib.barlow_version_number() == lib.BARLOW_VERSION_NUMBER
    assert lib.BARLOW_E_CANCELLED == -9 and lib.BARLOW_TREE_MAX_DEPTH == 16


def test_package_version_follows_meson():
    meson = re.search(r"version\s*:\s*'([\d.]+)'", (ROOT / "meson.build").read_text()).group(1)
    pyproject = (ROOT / "bindings" / "python" / "pyproject.toml").read_text()
    assert re.search(r'^version = "([\d.]+)"', pyproject, flags=re.M).group(1) == meson


def test_struct_layouts_match_the_compiler(tmp_path):
    """cffi lays the structs out itself in ABI mode: every size and field
    offset must equal what the C compiler gives for the real headers."""
    cffi = pytest.importorskip("cffi")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    ffi = cffi.FFI()
    ffi.cdef(CDEF.read_text())
    structs = re.findall(r"typedef struct (\w+) \{", CDEF.read_text())
    assert "barlow_tree_node" in structs and "barlow_extractor_options" in structs
    lines, want = [], []
    for s in structs:
        lines.append(f'printf("%zu\\n", sizeof({s}));')
        want.append(ffi.sizeof(s))
        for name, field in ffi.typeof(s).fields:
            lines.append(f'printf("%zu\\n", offsetof({s}, {name}));')
            want.append(field.offset)
    src = tmp_path / "layout.c"
    src.write_text("#include <stddef.h>\n#include <stdio.h>\n#include <barlow/barlow.h>\n"
                   "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", str(ROOT / "include"), "-I",
                    str(BUILD / "include" / "barlow"), str(src), "-o", str(exe)], check=True)
    got = [int(v) for v in subprocess.run([str(exe)], capture_output=True, text=True,
                                          check=True).stdout.split()]
    assert got == want
