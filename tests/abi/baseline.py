"""The ABI baseline (docs/abi.md, "The baseline"): the committed abidw dump
of the release, abi/libbarlow.so.<soversion>.abi, against the built library.

    baseline.py check  LIB VERSION_H   TAP test: abidiff baseline LIB, must exit 0
    baseline.py update LIB VERSION_H   rewrites the baseline from LIB

`check` fails on any non-zero abidiff exit: an incompatible change (bit 8),
any other ABI change (bit 4) — a new function or a field appended to a
versioned struct included — or an error. A change the ABI policy allows is
made on purpose: run `ninja -C build abi-update` and commit the new dump
with the change. The dump keeps the public types only (the staged headers),
without source locations, so that editing a comment does not churn it.
"""
import re
import shutil
import sys
import tempfile
from pathlib import Path

from abilib import Tap, run, source_root, stage_headers


def abi_path(lib):
    """abi/<SONAME>.abi of the source tree, from the library's SONAME."""
    rc, out = run(["readelf", "-d", lib])
    soname = None
    for line in out.splitlines():
        if "(SONAME)" in line and "[" in line:
            soname = line.split("[", 1)[1].split("]", 1)[0]
    if rc != 0 or not soname:
        sys.exit(f"baseline.py: no SONAME in {lib}:\n{out}")
    return source_root() / "abi" / f"{soname}.abi", soname


def dump(lib, inc, out):
    """abidw of lib restricted to the public headers under inc/barlow."""
    return run(["abidw", "--headers-dir", Path(inc) / "barlow", "--drop-private-types",
                "--no-show-locs", "--no-corpus-path", "--no-comp-dir-path",
                "--out-file", out, lib])


def has_debug_info(lib):
    rc, out = run(["readelf", "-S", "-W", lib])
    return rc == 0 and ".debug_info" in out


def check(lib, version_h):
    tap = Tap()
    if not shutil.which("abidiff") or not shutil.which("abidw"):
        tap.skip_all("abidiff/abidw not installed (Debian package abigail-tools)")
    if not has_debug_info(lib):
        tap.skip_all("the library has no debug info: abidiff could compare symbols only "
                     "(build with -g, e.g. the default buildtype debugoptimized)")
    base, soname = abi_path(lib)
    if not tap.ok(base.is_file(), f"the baseline {base.name} exists",
                  f"no {base} for SONAME {soname}: a new SONAME needs a new baseline "
                  "(ninja -C build abi-update)"):
        return tap.done()
    with tempfile.TemporaryDirectory(prefix="barlow-abi-") as tmp:
        inc = stage_headers(tmp, version_h)
        rc, out = run(["abidiff", "--headers-dir2", Path(inc) / "barlow",
                       "--drop-private-types", base, lib])
        what = []
        if rc & 1:
            what.append("abidiff failed")
        if rc & 8:
            what.append("an INCOMPATIBLE change")
        if rc & 4:
            what.append("an ABI change")
        tap.ok(rc == 0, f"abidiff {base.name} {Path(lib).name} exits 0 (no ABI change)",
               f"abidiff exit {rc} ({', '.join(what) or 'unknown'}).\n"
               "If the change is intended and the policy in docs/abi.md allows it, "
               "update the baseline (ninja -C build abi-update) in the same commit.\n"
               + out)
        if rc == 0:
            tap.diag(out or "no difference")
        # The gate is live: the same baseline without one function must
        # make abidiff report it as added (exit bit 4).
        text = base.read_text()
        m = re.search(r"<elf-symbol name='(barlow_\w+)'", text)
        if tap.ok(m is not None, "the baseline lists barlow_* symbols"):
            name = m.group(1)
            cut = re.sub(r"\s*<elf-symbol name='%s'[^>]*/>" % name, "", text)
            cut = re.sub(r"\s*<function-decl name='%s'.*?</function-decl>" % name, "", cut,
                         flags=re.S)
            less = Path(tmp) / "less.abi"
            less.write_text(cut)
            rc2, out2 = run(["abidiff", "--headers-dir2", Path(inc) / "barlow",
                             "--drop-private-types", less, lib])
            tap.ok(rc2 & 4 and name in out2,
                   f"abidiff flags {name} as added when the baseline lacks it (exit {rc2})",
                   out2)
    return tap.done()


def update(lib, version_h):
    base, _ = abi_path(lib)
    base.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="barlow-abi-") as tmp:
        inc = stage_headers(tmp, version_h)
        rc, out = dump(lib, inc, Path(tmp) / "new.abi")
        if rc != 0:
            sys.exit(f"abidw failed:\n{out}")
        shutil.copyfile(Path(tmp) / "new.abi", base)
    print(f"wrote {base}")
    return 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("check", "update"):
        sys.exit(__doc__)
    mode, lib, version_h = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    return check(lib, version_h) if mode == "check" else update(lib, version_h)


if __name__ == "__main__":
    sys.exit(main())
