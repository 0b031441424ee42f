#!/usr/bin/python3
"""Self-test of the ABI checkers (TAP): runs headers.py and exports.py on a
tiny fake libbarlow made here, once well-formed (every check must pass) and
once broken in every way the checkers claim to catch (each of those checks
must fail, naming the culprit). Without this, a checker that silently
stopped checking would keep passing.

Usage (from tests/abi/meson.build): selftest.py
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from abilib import Tap, c_compiler, cxx_compiler, run, source_root  # noqa: E402

VERSION_H = """#ifndef BARLOW_VERSION_H
#define BARLOW_VERSION_H
#define BARLOW_VERSION_MAJOR 0
#define BARLOW_VERSION_MINOR 1
#define BARLOW_VERSION_PATCH 0
#define BARLOW_VERSION_STRING "0.1.0"
#define BARLOW_VERSION_NUMBER 100
#endif
"""

UMBRELLA = """/* fake umbrella */
#ifndef BARLOW_BARLOW_H
#define BARLOW_BARLOW_H
#include "common.h"
#endif
"""

GOOD_H = """/*
 * fake common.h for the checker self-test.
 *
 * Thread safety: everything is thread-safe.
 */
#ifndef BARLOW_COMMON_H
#define BARLOW_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include "version.h"
#define BARLOW_API __attribute__((visibility("default")))
#ifdef __cplusplus
extern "C" {
#endif
typedef enum barlow_mode { BARLOW_MODE_A = 0, BARLOW_MODE_B = 1 } barlow_mode;
enum { BARLOW_THING_OPTIONS_VERSION = 1 };
typedef struct barlow_thing_options {
    uint32_t version;
    size_t threads;
} barlow_thing_options;
BARLOW_API void barlow_thing_options_init(barlow_thing_options *opts);
BARLOW_API const char *barlow_version_string(void);
BARLOW_API uint32_t barlow_version_number(void);
BARLOW_API int barlow_a(barlow_mode m);
#ifdef __cplusplus
}
#endif
#endif
"""

GOOD_C = """#include "barlow/common.h"
void barlow_thing_options_init(barlow_thing_options *o) { if (o) { o->version = 1; o->threads = 0; } }
const char *barlow_version_string(void) { return "0.1.0"; }
uint32_t barlow_version_number(void) { return 100; }
int bw_helper(int x);
int bw_helper(int x) { return x + 1; }
int barlow_a(barlow_mode m) { return bw_helper((int)m); }
"""

# Broken: no extern "C", a declaration without BARLOW_API, a declared but
# undefined function, varargs, static inline, a bitfield, a foreign macro,
# typedef and enumerator, an options struct without version/constant/init,
# a non-standard include, no Thread safety line.
BAD_H = """/* fake common.h, broken on purpose */
#ifndef BARLOW_COMMON_H
#define BARLOW_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include "version.h"
#define BARLOW_API __attribute__((visibility("default")))
#define MAX_THINGS 3
typedef int thing_t;
enum { THING_MAX = 3 };
typedef struct barlow_widget_options { int threads; unsigned flag : 1; } barlow_widget_options;
BARLOW_API const char *barlow_version_string(void);
BARLOW_API uint32_t barlow_version_number(void);
BARLOW_API int barlow_a(int x);
BARLOW_API int barlow_missing(void);
BARLOW_API int barlow_logf(const char *fmt, ...);
int barlow_unmarked(void);
static inline int barlow_twice(int x) { return 2 * x; }
#endif
"""

BAD_C = """#include "barlow/common.h"
const char *barlow_version_string(void) { return "0.1.0"; }
uint32_t barlow_version_number(void) { return 100; }
int barlow_a(int x) { return x; }
int barlow_logf(const char *fmt, ...) { (void)fmt; return 0; }
int barlow_unmarked(void) { return 1; }
int barlow_extra(void);
int barlow_extra(void) { return 2; }
int bw_leak(void);
int bw_leak(void) { return 3; }
"""

MAP = "BARLOW_0 {\n  global:\n    barlow_*;\n  local:\n    *;\n};\n"


def make_tree(root, header, source, hidden, script, soname):
    """A fake source tree (include/barlow) and a built library; returns
    (library path, version.h path)."""
    inc = root / "include" / "barlow"
    inc.mkdir(parents=True)
    (inc / "barlow.h").write_text(UMBRELLA)
    (inc / "common.h").write_text(header)
    build_inc = root / "build" / "include" / "barlow"
    build_inc.mkdir(parents=True)
    (build_inc / "version.h").write_text(VERSION_H)
    (root / "barlow.map").write_text(MAP)
    src = root / "lib.c"
    src.write_text(source)
    libdir = root / "build" / "lib"
    lib = libdir / "libbarlow.so.0.1.0"
    objdir = libdir / "libbarlow.so.0.1.0.p"
    objdir.mkdir(parents=True)
    obj = objdir / "lib.c.o"
    cc = c_compiler()
    flags = ["-fvisibility=hidden"] if hidden else []
    rc, out = run([*cc, "-std=c11", "-fPIC", *flags, "-I", root / "include",
                   "-I", build_inc, "-c", src, "-o", obj])
    if rc != 0:
        raise RuntimeError(out)
    link = [f"-Wl,-soname,{soname}"]
    if script:
        link.append(f"-Wl,--version-script={root / 'barlow.map'}")
    rc, out = run([*cc, "-shared", *link, obj, "-o", lib])
    if rc != 0:
        raise RuntimeError(out)
    os.symlink(lib.name, libdir / soname)  # as meson lays it out
    return lib, build_inc / "version.h"


def run_checker(root, script, *args):
    env = dict(os.environ)
    env["BARLOW_SOURCE_ROOT"] = str(root)
    env["BARLOW_BUILD_ROOT"] = str(root / "build")
    # the checkers compile tests/headertest.c(pp) of the real source tree
    real = source_root()
    (root / "tests").mkdir(exist_ok=True)
    for name in ("headertest.c", "headertest.cpp"):
        dst = root / "tests" / name
        if not dst.exists():
            dst.write_text((real / "tests" / name).read_text())
    p = subprocess.run([sys.executable, str(HERE / script), *map(str, args)],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, env=env)
    failed = re.findall(r"^not ok \d+ - (.*)$", p.stdout, flags=re.M)
    passed = re.findall(r"^ok \d+ - (.*)$", p.stdout, flags=re.M)
    return p.returncode, passed, failed, p.stdout


def main():
    tap = Tap()
    cxx = cxx_compiler()
    with tempfile.TemporaryDirectory(prefix="barlow-abi-selftest-") as tmp:
        tmp = Path(tmp)
        good, bad = tmp / "good", tmp / "bad"
        glib, gver = make_tree(good, GOOD_H, GOOD_C, True, True, "libbarlow.so.0")
        blib, bver = make_tree(bad, BAD_H, BAD_C, False, False, "libbarlow.so.9")

        # -- a well-formed library passes everything ---------------------------
        runs = [("exports.py", glib, gver, good / "barlow.map", "libbarlow.so.0"),
                ("headers.py", "c", glib, gver),
                ("headers.py", "conventions", glib, gver)]
        if cxx:
            runs.append(("headers.py", "cxx", glib, gver))
        for script, *args in runs:
            rc, passed, failed, out = run_checker(good, script, *args)
            tap.ok(rc == 0 and passed and not failed,
                   f"{script}{' ' + args[0] if script == 'headers.py' else ''} "
                   f"passes on a well-formed fake library ({len(passed)} checks)", out)

        # -- a broken one fails each check, naming the culprit ------------------
        rc, _, failed, out = run_checker(bad, "exports.py", blib, bver,
                                         bad / "barlow.map", "libbarlow.so.0")
        expect = {
            "SONAME is": "libbarlow.so.9",
            "every declaration in a public header carries BARLOW_API": "barlow_unmarked",
            "every exported symbol is declared": "barlow_extra",
            "every BARLOW_API declaration is defined": "barlow_missing",
            "no stb, zlib": "bw_leak",
            "every exported symbol matches the version script": "bw_leak",
            "every exported symbol carries a version node": "barlow_a@(none)",
            "-fvisibility=hidden": "bw_leak",
        }
        tap.ok(rc != 0, "exports.py fails on the broken fake library")
        for check, culprit in expect.items():
            hit = any(f.startswith(check) for f in failed)
            named = culprit in out
            tap.ok(hit and named, f"exports.py: '{check}…' fails and names "
                   f"{culprit}", out)

        rc, _, failed, out = run_checker(bad, "headers.py", "conventions", blib, bver)
        expect = {
            "barlow/common.h includes only": "zlib.h",
            "barlow/common.h defines only BARLOW_* macros": "MAX_THINGS",
            "barlow/common.h: the top comment": "",
            "no variadic functions": "barlow_logf",
            "no static or inline code": "barlow_twice",
            "no bitfields": "flag",
            "every public typedef": "thing_t",
            "every enumerator": "THING_MAX",
            "options structs": "barlow_widget_options_init",
        }
        tap.ok(rc != 0, "headers.py conventions fails on the broken headers")
        for check, culprit in expect.items():
            hit = any(f.startswith(check) for f in failed)
            tap.ok(hit and culprit in out, f"headers.py conventions: '{check}…' "
                   f"fails{' and names ' + culprit if culprit else ''}", out)

        rc, _, failed, out = run_checker(bad, "headers.py", "c", blib, bver)
        tap.ok(rc != 0 and any("links against" in f for f in failed)
               and "barlow_missing" in out,
               "headers.py c: the link of all declared functions fails on "
               "barlow_missing", out)
        if cxx:
            rc, _, failed, out = run_checker(bad, "headers.py", "cxx", blib, bver)
            tap.ok(rc != 0 and any("links against" in f for f in failed)
                   and re.search(r"barlow_a\(int\)", out) is not None,
                   "headers.py cxx: without extern \"C\" the C++ link fails on "
                   "mangled names", out)
        else:
            tap.diag("no C++ compiler: the extern \"C\" self-test is skipped")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
