"""Shared helpers of the ABI tests (tests/abi/*.py): a TAP writer, the
staged public headers (laid out as they are installed), and a parser of the
declarations those headers make.

Nothing here hard-codes the list of headers or functions: the headers are
every include/barlow/*.h of the source tree, and the declarations are read
from the preprocessed headers, so new modules are covered as they land.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The marker BARLOW_API expands to on ELF platforms with GCC or Clang
# (include/barlow/common.h). Preprocessing keeps conditionals honest; the
# marker tells an exported declaration from one that forgot BARLOW_API.
API_MARKER = '__attribute__((visibility("default")))'

# Standard C headers a public header may include (besides its siblings).
STD_HEADERS = {"stddef.h", "stdint.h", "stdbool.h", "stdio.h", "limits.h",
               "float.h", "inttypes.h"}


class Tap:
    """Minimal TAP producer (meson protocol: 'tap')."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=""):
        self.n += 1
        if not cond:
            self.failed += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {name}")
        if not cond:
            # the details go to stderr too: meson --print-errorlogs shows it
            print(f"not ok {self.n} - {name}", file=sys.stderr)
            for line in str(detail).rstrip().splitlines():
                print(f"#   {line}")
                print(f"    {line}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        return cond

    def diag(self, text):
        for line in str(text).rstrip().splitlines():
            print(f"# {line}")
        sys.stdout.flush()

    def skip_all(self, reason):
        # meson's TAP protocol counts "1..0 # SKIP" as skipped only with exit
        # status 0 (77 or any other non-zero status is an error there).
        print(f"1..0 # SKIP {reason}")
        sys.exit(0)

    def done(self):
        print(f"1..{self.n}")
        return 1 if self.failed else 0


def source_root():
    return Path(os.environ.get("BARLOW_SOURCE_ROOT",
                               Path(__file__).resolve().parents[2]))


def build_root():
    root = os.environ.get("BARLOW_BUILD_ROOT")
    if not root:
        sys.exit("BARLOW_BUILD_ROOT is not set (run through meson test)")
    return Path(root)


def public_headers(src=None):
    """Every public header of the source tree, sorted, barlow.h first."""
    d = (src or source_root()) / "include" / "barlow"
    hs = sorted(p.name for p in d.glob("*.h"))
    if "barlow.h" in hs:
        hs.remove("barlow.h")
        hs.insert(0, "barlow.h")
    return hs


def c_compiler():
    """The C compiler meson uses (BARLOW_ABI_CC), else $CC, else cc."""
    cmd = os.environ.get("BARLOW_ABI_CC") or os.environ.get("CC") or "cc"
    return shlex.split(cmd)


def sanitize_flags():
    """-fsanitize=... when the library was built with meson's b_sanitize
    (BARLOW_ABI_SANITIZE): programs linking it must carry the runtime."""
    v = os.environ.get("BARLOW_ABI_SANITIZE", "none")
    return [] if v in ("", "none") else [f"-fsanitize={v}"]


def cxx_compiler():
    """A C++ compiler for the C++ header test, or None."""
    if os.environ.get("CXX"):
        return shlex.split(os.environ["CXX"])
    for name in ("c++", "g++", "clang++"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def stage_headers(dest, version_h):
    """Copies the public headers and the generated version.h into
    dest/include/barlow (the installed layout); returns dest/include."""
    inc = Path(dest) / "include"
    out = inc / "barlow"
    out.mkdir(parents=True, exist_ok=True)
    src = source_root() / "include" / "barlow"
    for h in public_headers():
        shutil.copy2(src / h, out / h)
    shutil.copy2(version_h, out / "version.h")
    return inc


def run(cmd, **kw):
    """Runs cmd; returns (returncode, combined output)."""
    p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, **kw)
    return p.returncode, p.stdout


def summarize_link_errors(out, limit=40):
    """Condenses a linker's 'undefined reference' flood into one list."""
    names = sorted(set(re.findall(r"undefined reference to [`']([^'`]+)'", out)))
    if not names:
        return out
    shown = " ".join(names[:limit])
    more = f" ... (+{len(names) - limit})" if len(names) > limit else ""
    return f"undefined references ({len(names)}): {shown}{more}"


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def preprocess(cc, include_dir, header, extra=()):
    """Preprocesses <barlow/header> as C11 and returns the text that comes
    from the public headers only (system headers dropped)."""
    with tempfile.TemporaryDirectory() as tmp:
        tu = Path(tmp) / "pp.c"
        tu.write_text(f"#include <barlow/{header}>\n")
        rc, out = run([*cc, "-std=c11", "-E", "-I", include_dir, *extra, tu])
    if rc != 0:
        raise RuntimeError(f"preprocessing barlow/{header} failed:\n{out}")
    keep, mine = [], False
    bdir = str(Path(include_dir) / "barlow") + os.sep
    for line in out.splitlines():
        m = re.match(r'#\s*\d+\s+"([^"]*)"', line)
        if m:
            mine = m.group(1).startswith(bdir)
            continue
        if mine:
            keep.append(line)
    return "\n".join(keep)


def _flatten_braces(text):
    """Replaces the contents of every top-level {...} with nothing, so that
    struct/enum bodies do not split declarations."""
    out, depth = [], 0
    for ch in text:
        if ch == "{":
            if depth == 0:
                out.append("{")
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append("}")
        elif depth == 0:
            out.append(ch)
    return "".join(out)


class Decl:
    def __init__(self, name, text, exported, is_function):
        self.name = name
        self.text = text
        self.exported = exported
        self.is_function = is_function

    def __repr__(self):
        return self.text


def declarations(pp_text):
    """Top-level declarations (functions and objects, not typedefs) of the
    preprocessed public headers."""
    decls = []
    for stmt in _flatten_braces(pp_text).split(";"):
        s = " ".join(stmt.split())
        if not s or s.startswith("typedef") or s.endswith("}"):
            continue
        if re.match(r"(_Static_assert|static_assert)\b", s):
            continue
        # "struct barlow_x;" or "enum ... {}" forward declarations
        if re.fullmatch(r"(struct|union|enum)\s+\w+(\s*\{\})?", s):
            continue
        exported = API_MARKER in s
        body = s.replace(API_MARKER, " ").strip()
        body = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", body)
        m = re.search(r"([A-Za-z_]\w*)\s*\(", body)
        if m:
            # a function pointer object "T (*name)(...)" is not a function
            fp = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(", body)
            if fp:
                decls.append(Decl(fp.group(1), s, exported, False))
            else:
                decls.append(Decl(m.group(1), s, exported, True))
            continue
        m = re.search(r"([A-Za-z_]\w*)\s*(\[[^\]]*\])*\s*$", body)
        if m:
            decls.append(Decl(m.group(1), s, exported, False))
    return decls


def struct_bodies(pp_text):
    """(name, body) of every struct/union definition in the text."""
    res = []
    for m in re.finditer(r"\b(struct|union)\s+(\w*)\s*\{", pp_text):
        depth, i = 1, m.end()
        while i < len(pp_text) and depth:
            if pp_text[i] == "{":
                depth += 1
            elif pp_text[i] == "}":
                depth -= 1
            i += 1
        name = m.group(2)
        if not name:  # typedef struct { ... } barlow_x;
            t = re.match(r"\s*(\w+)\s*;", pp_text[i:])
            name = t.group(1) if t else ""
        res.append((name, pp_text[m.end():i - 1]))
    return res


def enumerators(pp_text):
    names = []
    for m in re.finditer(r"\benum\s+\w*\s*\{([^}]*)\}", pp_text):
        for item in m.group(1).split(","):
            item = item.strip()
            if item:
                names.append(re.match(r"[A-Za-z_]\w*", item).group(0))
    return names


def typedef_names(pp_text):
    flat = _flatten_braces(pp_text)
    names = []
    for stmt in flat.split(";"):
        s = " ".join(stmt.split())
        if not s.startswith("typedef"):
            continue
        fp = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)", s)
        if fp:
            names.append(fp.group(1))
            continue
        m = re.search(r"([A-Za-z_]\w*)\s*(\[[^\]]*\])*\s*$", s)
        if m:
            names.append(m.group(1))
    return names


def version_nodes(map_path):
    """Version node names defined by a linker version script."""
    text = strip_comments(Path(map_path).read_text())
    return re.findall(r"([A-Za-z_][\w.]*)\s*\{", text)


def is_global_nm_type(letter):
    """nm's type letters: upper case = global binding; 'u' unique global,
    'v'/'w' weak, 'i' indirect function. Other lower-case letters are local
    symbols, which ld sometimes leaves in .dynsym but which no other object
    can bind to."""
    return letter.isupper() or letter in "uvwi"


def exported_symbols(lib):
    """{name: (type letter, version)} of the defined dynamic symbols
    (local ones included; filter with is_global_nm_type)."""
    rc, out = run(["nm", "-D", "--defined-only", "--with-symbol-versions", lib])
    if rc != 0:
        raise RuntimeError(f"nm -D {lib} failed:\n{out}")
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        typ, full = parts[-2], parts[-1]
        name, _, ver = full.partition("@")
        syms[name] = (typ, ver.lstrip("@"))
    return syms
