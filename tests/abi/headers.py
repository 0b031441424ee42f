#!/usr/bin/python3
"""Header tests (TAP).

  headers.py c LIBRARY VERSION_H
      every public header (and version.h) compiles first and on its own, then
      with barlow.h, as C99 and C11 with -pedantic -Werror -Wall -Wextra; a C
      program taking the address of every declared function links against
      the built library and runs (header and library versions agree).
  headers.py cxx LIBRARY VERSION_H
      the same as C++11 (-pedantic -Werror) with the system C++ compiler: a
      declaration missing extern "C" fails to link. Skipped (TAP "1..0 # SKIP") without one.
  headers.py conventions LIBRARY VERSION_H
      the rules that let cffi bind the headers mechanically: umbrella
      completeness, include hygiene, guards, BARLOW_ names, no varargs,
      static/inline code or bitfields, versioned options structs.

The headers are discovered: every include/barlow/*.h of the source tree,
staged together with the generated version.h as they are installed.
"""
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from abilib import (STD_HEADERS, Tap, c_compiler, cxx_compiler,  # noqa: E402
                    declarations, enumerators, preprocess, public_headers,
                    run, sanitize_flags, source_root, stage_headers,
                    strip_comments,
                    struct_bodies, summarize_link_errors, typedef_names)

C_FLAGS = ["-pedantic", "-Werror", "-Wall", "-Wextra", "-Wstrict-prototypes",
           "-Wundef", "-Wshadow"]
CXX_FLAGS = ["-std=c++11", "-pedantic", "-Werror", "-Wall", "-Wextra",
             "-Wundef", "-Wshadow"]


def link_all(tap, lang, comp, flags, tu, inc, lib, tmp, cc, headers):
    """Builds tu with the address of every function that any public header
    declares (also a header barlow.h forgets), links it against lib and
    runs it."""
    funcs = set()
    for h in headers:
        funcs |= {d.name for d in declarations(preprocess(cc, inc, h))
                  if d.is_function}
    funcs = sorted(funcs)
    tap.ok(len(funcs) > 0, f"the public headers declare functions ({len(funcs)})")
    syms = tmp / "symbols.inc"
    syms.write_text("".join(f"BARLOW_SYM({f})\n" for f in funcs))
    every = tmp / "every_header.h"
    every.write_text("".join(f"#include <barlow/{h}>\n" for h in headers))
    exe = tmp / "headertest"
    rc, out = run([*comp, *flags, *sanitize_flags(), "-I", inc,
                   f'-DBARLOW_HEADERTEST_HEADER="{every}"',
                   f'-DBARLOW_HEADERTEST_SYMBOLS="{syms}"', tu, "-o", exe, lib])
    if not tap.ok(rc == 0, f"a {lang} program taking the address of all "
                  f"{len(funcs)} declared functions links against {lib.name}",
                  summarize_link_errors(out)):
        return
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = str(lib.parent)
    rc, out = run([exe], env=env)
    tap.ok(rc == 0, f"the {lang} header test runs (header and library "
           "versions agree)", out)
    if rc == 0:
        tap.diag(out.strip())


def main():
    modes = ("c", "cxx", "conventions")
    if len(sys.argv) != 4 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    mode, lib, version_h = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    tap = Tap()
    src = source_root()
    cc = c_compiler()
    cxx = cxx_compiler()
    if mode == "cxx" and cxx is None:
        tap.skip_all("no C++ compiler (c++, g++, clang++; or set CXX)")
    headers = public_headers()
    tap.diag(f"public headers: {' '.join(headers)}")

    with tempfile.TemporaryDirectory(prefix="barlow-headers-") as tmp:
        tmp = Path(tmp)
        inc = stage_headers(tmp / "stage", version_h)
        if mode == "c":
            # each header first and on its own, twice, then the umbrella
            tu = src / "tests" / "headertest.c"
            for h in headers + ["version.h"]:
                for std in ("c99", "c11"):
                    rc, out = run([*cc, f"-std={std}", *C_FLAGS, "-I", inc,
                                   f"-DBARLOW_HEADERTEST_HEADER=<barlow/{h}>",
                                   "-c", tu, "-o", tmp / f"{h}.{std}.o"])
                    tap.ok(rc == 0, f"barlow/{h} compiles on its own as {std} "
                           "(-pedantic -Werror -Wall -Wextra)", out)
            link_all(tap, "C", cc, ["-std=c11", *C_FLAGS], tu, inc, lib, tmp, cc,
                     headers)
        elif mode == "cxx":
            tu = src / "tests" / "headertest.cpp"
            for h in headers:
                rc, out = run([*cxx, *CXX_FLAGS, "-I", inc,
                               f"-DBARLOW_HEADERTEST_HEADER=<barlow/{h}>",
                               "-c", tu, "-o", tmp / f"{h}.cxx.o"])
                tap.ok(rc == 0, f"barlow/{h} compiles as C++11 "
                       "(-pedantic -Werror -Wall -Wextra)", out)
            link_all(tap, "C++", cxx, CXX_FLAGS, tu, inc, lib, tmp, cc, headers)
        else:
            tap.ok("barlow.h" in headers, "include/barlow/barlow.h exists")
            check_conventions(tap, cc, inc, headers)
    return tap.done()


def check_conventions(tap, cc, inc, headers):
    src = source_root() / "include" / "barlow"
    raw = {h: (src / h).read_text() for h in headers}
    umbrella = raw.get("barlow.h", "")
    included = set(re.findall(r'#\s*include\s*["<](?:barlow/)?([\w.]+)[">]',
                              umbrella))
    missing = [h for h in headers if h != "barlow.h" and h not in included]
    tap.ok(not missing, "barlow.h includes every public header",
           "not included: " + " ".join(missing))

    for h in headers:
        text = raw[h]
        code = strip_comments(text)
        bad = []
        for m in re.finditer(r'#\s*include\s*([<"])([^">]+)[">]', code):
            name = m.group(2)
            sibling = name.removeprefix("barlow/")
            if sibling in headers or sibling == "version.h":
                continue
            if m.group(1) == "<" and name in STD_HEADERS:
                continue
            bad.append(name)
        tap.ok(not bad, f"barlow/{h} includes only public barlow headers and "
               "standard C headers", "includes: " + " ".join(bad))
        guard = re.search(r"#\s*ifndef\s+(\w+)\s*\n\s*#\s*define\s+(\w+)", code)
        tap.ok(guard is not None and guard.group(1) == guard.group(2)
               and guard.group(1).startswith("BARLOW_"),
               f"barlow/{h} has a BARLOW_* include guard")
        macros = [m for m in re.findall(r"#\s*define\s+(\w+)", code)
                  if not m.startswith("BARLOW_")]
        tap.ok(not macros, f"barlow/{h} defines only BARLOW_* macros",
               " ".join(macros))
        if h != "barlow.h":
            head = text.split("*/", 1)[0]
            tap.ok("Thread safety:" in head, f"barlow/{h}: the top comment "
                   "ends with a 'Thread safety:' line")

    pp = preprocess(cc, inc, "barlow.h")
    flat = " ".join(pp.split())
    decls = declarations(pp)
    tap.ok("..." not in flat, "no variadic functions or macros in the API",
           "\n".join(d.text for d in decls if "..." in d.text))
    tap.ok(not re.search(r"\b(static|inline|__inline__)\b", flat),
           "no static or inline code in the public headers",
           "\n".join(re.findall(r"[^;{}]*\b(?:static|inline)\b[^;{}]*", flat)))
    fields_bad = []
    for name, body in struct_bodies(pp):
        for member in body.split(";"):
            if re.search(r"\w\s*:\s*\w+\s*$", member.strip()):
                fields_bad.append(f"struct {name}: {member.strip()}")
    tap.ok(not fields_bad, "no bitfields in public structs", "\n".join(fields_bad))

    bad_names = [d.name for d in decls if not d.name.startswith("barlow_")]
    tap.ok(not bad_names, "every declared function/object is named barlow_*",
           " ".join(bad_names))
    bad_types = [t for t in typedef_names(pp) if not t.startswith("barlow_")]
    tap.ok(not bad_types, "every public typedef is named barlow_*",
           " ".join(bad_types))
    enums = enumerators(pp)
    bad_enums = [e for e in enums if not e.startswith("BARLOW_")]
    tap.ok(not bad_enums, "every enumerator is named BARLOW_*", " ".join(bad_enums))

    # options structs: version first, a VERSION constant and an _init()
    names = {d.name for d in decls}
    problems = []
    for name, body in struct_bodies(pp):
        m = re.fullmatch(r"barlow_(\w+)_options", name)
        if not m:
            continue
        x = m.group(1)
        first = " ".join(body.split(";", 1)[0].split())
        if first != "uint32_t version":
            problems.append(f"struct {name}: first member is '{first}', "
                            "not 'uint32_t version'")
        const = f"BARLOW_{x.upper()}_OPTIONS_VERSION"
        if const not in enums:
            problems.append(f"struct {name}: no enum constant {const}")
        if f"barlow_{x}_options_init" not in names:
            problems.append(f"struct {name}: no barlow_{x}_options_init()")
    n_opts = sum(1 for n, _ in struct_bodies(pp) if n.endswith("_options"))
    tap.ok(not problems, f"options structs ({n_opts}) begin with uint32_t "
           "version and have a _OPTIONS_VERSION constant and _options_init()",
           "\n".join(problems))


if __name__ == "__main__":
    sys.exit(main())
