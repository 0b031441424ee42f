"""Loads libbarlow with cffi in ABI mode (``ffi.dlopen``; docs/python.md
says why) and exposes ``ffi`` and ``lib``.

The library is looked for, in order (the first that loads and has the
cdef's major version wins):

1. ``$BARLOW_LIBRARY``: the path of a libbarlow.so. When set, only it is
   tried: an explicit choice is never silently replaced by another library.
2. ``$BARLOW_BUILD_DIR/lib/libbarlow.so``: a build tree named explicitly.
3. The system: ``ctypes.util.find_library("barlow")`` (the loader's cache),
   then ``$(pkg-config --variable=libdir barlow)/libbarlow.so.1``.
4. The source tree's build: ``<repo>/build/lib/libbarlow.so`` when this
   package lives at ``<repo>/bindings/python/barlow``.

The ImportError raised when none fits lists every place tried and why.
"""
import ctypes.util
import os
import shutil
import subprocess
from pathlib import Path

import cffi

SOVERSION = 1
_HERE = Path(__file__).resolve().parent

ffi = cffi.FFI()
ffi.cdef((_HERE / "_cdef.h").read_text())


def _pkgconfig_libdir():
    exe = shutil.which("pkg-config")
    if exe is None:
        return None
    try:
        p = subprocess.run([exe, "--variable=libdir", "barlow"], capture_output=True,
                           text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() else None


def candidates():
    """[(what, path or soname)] in lookup order."""
    env = os.environ.get("BARLOW_LIBRARY")
    if env:
        return [("$BARLOW_LIBRARY", env)]
    out = []
    build = os.environ.get("BARLOW_BUILD_DIR")
    if build:
        out.append(("$BARLOW_BUILD_DIR", str(Path(build) / "lib" / "libbarlow.so")))
    found = ctypes.util.find_library("barlow")
    out.append(("ctypes.util.find_library('barlow')", found))
    libdir = _pkgconfig_libdir()
    out.append(("pkg-config --variable=libdir barlow",
                libdir and str(Path(libdir) / f"libbarlow.so.{SOVERSION}")))
    repo = _HERE.parents[2]
    if (repo / "include" / "barlow" / "common.h").exists():
        out.append(("the source tree's build", str(repo / "build" / "lib" / "libbarlow.so")))
    return out


def _try(path):
    """(lib, None) or (None, why not)."""
    if path is None:
        return None, "not found"
    if os.sep in path and not os.path.exists(path):
        return None, "no such file"
    try:
        lib = ffi.dlopen(path)
    except OSError as e:
        return None, str(e)
    have = lib.barlow_version_number()
    if have // 10000 != lib.BARLOW_VERSION_MAJOR:
        found = ffi.string(lib.barlow_version_string()).decode()
        return None, (f"version {found}, but these bindings need "
                      f"{lib.BARLOW_VERSION_MAJOR}.x")
    return lib, None


def load():
    tried = []
    for what, path in candidates():
        lib, why = _try(path)
        if lib is not None:
            return lib, path
        tried.append(f"  {what}: {path}: {why}" if path else f"  {what}: nothing found")
    raise ImportError("barlow: cannot load libbarlow; tried, in order:\n" + "\n".join(tried)
                      + "\nSet BARLOW_LIBRARY to the path of libbarlow.so, or "
                        "BARLOW_BUILD_DIR to a meson build directory (docs/python.md).")


lib, library_path = load()


def string(ptr):
    """A library-owned C string as str (None for NULL)."""
    return None if ptr == ffi.NULL else ffi.string(ptr).decode("utf-8", "replace")


def take_buffer(buf):
    """The bytes of a barlow_buffer, which is then freed."""
    try:
        return ffi.unpack(ffi.cast("char *", buf.data), buf.size) if buf.data else b""
    finally:
        lib.barlow_buffer_free(buf)


def path_bytes(path):
    return os.fsencode(os.fspath(path))
