#!/usr/bin/python3
"""Export test (TAP): the built libbarlow.so exports exactly the functions
that include/barlow/*.h declare with BARLOW_API, in both directions.

  - `nm -D --defined-only` of the library == the BARLOW_API declarations of
    the preprocessed public headers (a declared function the library does
    not define fails, so does an exported symbol no header declares);
  - every declaration in a public header carries BARLOW_API;
  - every exported symbol matches the version script (barlow_*) and carries
    its version node; nothing of stb, zlib, C++ or the internal bw_* leaks;
  - -fvisibility=hidden is in effect: in the library's C objects every global
    symbol other than barlow_* is already hidden before the version script;
  - the SONAME is libbarlow.so.<soversion>.

Usage (from tests/abi/meson.build):
  exports.py LIBRARY VERSION_H VERSION_SCRIPT SONAME
"""
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from abilib import (Tap, c_compiler, declarations, exported_symbols,  # noqa: E402
                    is_global_nm_type, preprocess, public_headers, run, stage_headers,
                    strip_comments, version_nodes)

LEAK_PATTERNS = [
    (r"^bw_", "internal bw_*"),
    (r"^stb", "stb"),
    (r"^_Z", "C++ (mangled)"),
    (r"^(deflate|inflate|crc32|adler32|compress|uncompress|gz|zlib|z_|_tr_)",
     "zlib"),
    (r"^(jpeg_|tj)", "libjpeg"),
    (r"^(torch|c10|at::|caffe2)", "libtorch"),
]


def glob_to_re(pattern):
    return "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"


def global_patterns(map_path):
    """The `global:` patterns of a version script."""
    text = strip_comments(Path(map_path).read_text())
    pats = []
    for m in re.finditer(r"global\s*:(.*?)(?:local\s*:|\})", text, flags=re.S):
        pats += [p.strip() for p in m.group(1).split(";") if p.strip()]
    return pats


def fmt(names, limit=60):
    names = sorted(names)
    more = f" ... (+{len(names) - limit})" if len(names) > limit else ""
    return " ".join(names[:limit]) + more


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    lib, version_h, map_path, soname = (Path(sys.argv[1]), Path(sys.argv[2]),
                                        Path(sys.argv[3]), sys.argv[4])
    tap = Tap()
    cc = c_compiler()

    # -- SONAME ---------------------------------------------------------------
    rc, out = run(["readelf", "-d", lib])
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    tap.ok(rc == 0 and m is not None and m.group(1) == soname,
           f"SONAME is {soname}", f"readelf -d: {m.group(1) if m else out}")

    # -- what the headers declare --------------------------------------------
    with tempfile.TemporaryDirectory(prefix="barlow-exports-") as tmp:
        inc = stage_headers(tmp, version_h)
        decls = []
        for h in public_headers():
            decls += declarations(preprocess(cc, inc, h))
    by_name = {}
    for d in decls:
        by_name.setdefault(d.name, d)
    declared = {d.name for d in by_name.values() if d.exported}
    tap.diag(f"{len(declared)} BARLOW_API declarations in "
             f"{len(public_headers())} public headers")
    tap.ok(len(declared) > 0, "the public headers declare BARLOW_API functions")
    unmarked = [d for d in by_name.values() if not d.exported]
    tap.ok(not unmarked, "every declaration in a public header carries BARLOW_API",
           "\n".join(f"{d.name}: {d.text}" for d in unmarked))

    pats = global_patterns(map_path)
    pat_res = [re.compile(glob_to_re(p)) for p in pats]
    off_pattern = [n for n in declared if not any(r.match(n) for r in pat_res)]
    tap.ok(pats and not off_pattern, "every declared name matches the version "
           f"script's global patterns ({' '.join(pats)})", fmt(off_pattern))

    # -- what the library exports --------------------------------------------
    syms = exported_symbols(lib)
    nodes = set(version_nodes(map_path))
    # the version-node definitions themselves appear as absolute symbols
    exported = {n: v for n, v in syms.items() if not (v[0] == "A" and n in nodes)
                and is_global_nm_type(v[0])}
    local = sorted(n for n, v in syms.items() if not is_global_nm_type(v[0]))
    tap.diag(f"{len(exported)} symbols exported by {lib.name}")
    if local:
        tap.diag(f"{len(local)} local (unbindable) symbols in .dynsym, ignored: "
                 + fmt(local, 10))

    extra = set(exported) - declared
    tap.ok(not extra, "every exported symbol is declared with BARLOW_API in a "
           "public header", "exported but not declared: " + fmt(extra))
    missing = declared - set(exported)
    tap.ok(not missing, "every BARLOW_API declaration is defined and exported "
           "by the library", "declared but not exported: " + fmt(missing))

    leaks = []
    for n in exported:
        for pat, what in LEAK_PATTERNS:
            if re.match(pat, n):
                leaks.append(f"{n} ({what})")
    tap.ok(not leaks, "no stb, zlib, C++, libtorch or bw_* symbol is exported",
           fmt(leaks))
    off_map = [n for n in exported if not any(r.match(n) for r in pat_res)]
    tap.ok(not off_map, "every exported symbol matches the version script "
           f"({' '.join(pats)})", fmt(off_map))
    unversioned = [f"{n}@{v[1] or '(none)'}" for n, v in exported.items()
                   if v[1] not in nodes]
    tap.ok(not unversioned, "every exported symbol carries a version node of "
           f"the version script ({' '.join(sorted(nodes))})", fmt(unversioned))
    data = [f"{n} ({v[0]})" for n, v in exported.items()
            if v[0] not in ("T", "W", "i")]
    declared_data = {d.name for d in by_name.values()
                     if d.exported and not d.is_function}
    data = [d for d in data if d.split()[0] not in declared_data]
    tap.ok(not data, "no undeclared data objects are exported", fmt(data))

    # -- -fvisibility=hidden ---------------------------------------------------
    objdir = Path(str(lib.resolve()) + ".p")
    objs = sorted(objdir.glob("*.c.o"))
    if not objs:
        tap.diag(f"no C objects under {objdir}: visibility check skipped")
    else:
        not_hidden, not_default = [], []
        for o in objs:
            rc, out = run(["readelf", "-W", "-s", o])
            for line in out.splitlines():
                f = line.split()
                # Num: Value Size Type Bind Vis Ndx Name
                if len(f) < 8 or f[4] not in ("GLOBAL", "WEAK") or f[6] == "UND":
                    continue
                name, vis = f[7], f[5]
                if name in declared:
                    if vis != "DEFAULT":
                        not_default.append(f"{name} in {o.name}")
                elif vis != "HIDDEN" and not name.startswith("barlow_"):
                    not_hidden.append(f"{name} ({vis}) in {o.name}")
        tap.ok(not not_hidden, f"-fvisibility=hidden: the {len(objs)} C objects "
               "of the library define no default-visibility global but barlow_*",
               fmt(not_hidden))
        tap.ok(not not_default, "BARLOW_API functions have default visibility "
               "in the objects", fmt(not_default))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
