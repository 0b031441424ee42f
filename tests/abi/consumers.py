#!/usr/bin/python3
"""Consumer tests (TAP): install the current build with
`meson install --no-rebuild --destdir` into a scratch directory, then build
and run the tiny consumer of tests/consumers/ against it.

  consumers.py layout     the installed files: every public header, version.h,
                          the library and its SONAME/dev links, barlow.pc,
                          the CMake package files; nothing private; the
                          libtorch plugin in <libdir>/barlow-<soversion>/,
                          found by an installed libbarlow (and
                          BARLOW_TORCH_PLUGIN honoured); no libtorch NEEDED
  consumers.py pkgconfig  cc $(pkg-config --cflags --libs barlow)
  consumers.py cmake      find_package(barlow CONFIG) + barlow::barlow
  consumers.py meson      the source tree as a subproject, dependency('barlow')
                          served by meson.override_dependency (no install)

Each consumer must print barlow_version_string(). Environment (set by
tests/abi/meson.build): BARLOW_BUILD_ROOT, BARLOW_SOURCE_ROOT, BARLOW_MESON,
BARLOW_PREFIX, BARLOW_LIBDIR, BARLOW_INCLUDEDIR (absolute), BARLOW_VERSION,
BARLOW_SOVERSION. Scratch files live in <build>/abi-consumers/<mode>; they are
removed on success and kept for inspection on failure.
"""
import fcntl
import filecmp
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from abilib import (Tap, build_root, c_compiler, public_headers, run,  # noqa: E402
                    sanitize_flags, source_root)


def env_path(name):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"{name} is not set (run through meson test)")
    return v


def in_dest(dest, abspath):
    return Path(dest) / str(abspath).lstrip("/")


def install(tap, dest):
    """meson install --destdir dest of the current build (serialised between
    the tests of this suite by a lock file in the build directory)."""
    build = build_root()
    meson = shlex.split(os.environ.get("BARLOW_MESON", "meson"))
    lock = open(build / "abi-consumers" / ".install.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rc, out = run([*meson, "install", "-C", build, "--no-rebuild", "--quiet",
                       "--destdir", dest])
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    return tap.ok(rc == 0, "meson install --no-rebuild --destdir <scratch>", out)


def ldd_path(exe, env, soname):
    rc, out = run(["ldd", exe], env=env)
    m = re.search(rf"{re.escape(soname)} => (\S+)", out)
    return m.group(1) if m else f"(not found) {out}"


def run_consumer(tap, exe, env, version, soname, expect_under, how):
    where = ldd_path(exe, env, soname)
    tap.ok(str(Path(where).resolve()).startswith(str(Path(expect_under).resolve())),
           f"{how}: the consumer loads {soname} from {expect_under}",
           f"ldd: {where}")
    rc, out = run([exe], env=env)
    tap.ok(rc == 0 and out.strip() == version,
           f"{how}: the consumer runs and prints barlow_version_string() "
           f"= {version}", f"exit {rc}, output: {out}")


def mode_layout(tap, dest, p):
    inc = in_dest(dest, p["includedir"]) / "barlow"
    libdir = in_dest(dest, p["libdir"])
    src_inc = source_root() / "include" / "barlow"
    headers = public_headers()
    installed = sorted(x.name for x in inc.glob("*")) if inc.is_dir() else []
    want = sorted(headers + ["version.h"])
    tap.ok(installed == want, f"<includedir>/barlow holds exactly the public "
           f"headers and version.h ({len(want)} files)",
           f"installed: {installed}\nexpected: {want}")
    differ = [h for h in headers
              if (inc / h).exists() and not filecmp.cmp(inc / h, src_inc / h,
                                                        shallow=False)]
    tap.ok(not differ, "installed headers are identical to include/barlow/",
           " ".join(differ))
    vh = build_root() / "include" / "barlow" / "version.h"
    tap.ok((inc / "version.h").exists() and vh.exists()
           and filecmp.cmp(inc / "version.h", vh, shallow=False),
           "the installed version.h is the generated one")

    v, so = p["version"], p["soversion"]
    real = libdir / f"libbarlow.so.{v}"
    tap.ok(real.is_file() and not real.is_symlink(),
           f"<libdir>/libbarlow.so.{v} is installed")
    for link, target in ((f"libbarlow.so.{so}", real.name),
                         ("libbarlow.so", None)):
        f = libdir / link
        ok = f.is_symlink() and f.resolve() == real.resolve()
        tap.ok(ok, f"<libdir>/{link} is a link to libbarlow.so.{v}",
               f"{f}: {os.readlink(f) if f.is_symlink() else 'missing or not a link'}")
    pc = libdir / "pkgconfig" / "barlow.pc"
    tap.ok(pc.is_file(), "<libdir>/pkgconfig/barlow.pc is installed")
    cm = libdir / "cmake" / "barlow"
    for name in ("barlowConfig.cmake", "barlowConfigVersion.cmake"):
        tap.ok((cm / name).is_file(), f"<libdir>/cmake/barlow/{name} is installed")
    if (cm / "barlowConfig.cmake").is_file():
        text = (cm / "barlowConfig.cmake").read_text()
        tap.ok("@" not in re.sub(r"#.*", "", text),
               "barlowConfig.cmake has no unexpanded @VAR@",
               "\n".join(l for l in text.splitlines() if "@" in l))
    if pc.is_file():
        text = pc.read_text()
        tap.ok(re.search(r"^Version:\s*" + re.escape(v) + r"\s*$", text, re.M)
               is not None, f"barlow.pc says Version: {v}", text)
        tap.ok(not re.search(r"build-|/work/|meson-private", text),
               "barlow.pc does not point into the build or source tree", text)
    layout_torch_plugin(tap, dest, p, libdir, real)


# Prints barlow_has_torch(), the libbarlow-torch.so mapped into the process
# (from /proc/self/maps, "-" when none) and, when there is no libtorch, the
# status (UNSUPPORTED or its number) and message of
# barlow_extractor_create_from_memory.
PLUGIN_PROBE = r"""#include <stdio.h>
#include <string.h>
#include <barlow/barlow.h>
int main(void)
{
    int has = barlow_has_torch();
    char line[4096], where[4096] = "-";
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *p = strchr(line, '/');
        if (p && strstr(p, "libbarlow-torch.so")) {
            p[strcspn(p, "\n")] = 0;
            snprintf(where, sizeof where, "%s", p);
        }
    }
    if (f) fclose(f);
    printf("%d\n%s\n", has, where);
    if (!has) {
        static const char model[] = "not a model";
        barlow_extractor *ex = NULL;
        barlow_status st = barlow_extractor_create_from_memory(model, sizeof model, NULL, &ex);
        if (st == BARLOW_E_UNSUPPORTED)
            printf("UNSUPPORTED\n%s\n", barlow_last_error());
        else
            printf("status %d\n%s\n", (int)st, barlow_last_error());
        barlow_extractor_free(ex);
    }
    return 0;
}
"""


def layout_torch_plugin(tap, dest, p, libdir, real):
    """libbarlow links no libtorch; with libtorch, the plugin is installed in
    <libdir>/barlow-<soversion>/ and an installed libbarlow finds it there
    (and honours BARLOW_TORCH_PLUGIN)."""
    have = os.environ.get("BARLOW_HAVE_TORCH") == "1"
    rc, out = run(["readelf", "-d", real])
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", out)
    bad = [n for n in needed if re.match(r"lib(torch|c10|stdc\+\+)", n)]
    tap.ok(rc == 0 and needed and not bad, "libbarlow.so does not link libtorch or "
           "libstdc++ (the libtorch plugin is dlopened on first use)",
           f"NEEDED: {needed}")
    plugdir = libdir / f"barlow-{p['soversion']}"
    plugin = plugdir / "libbarlow-torch.so"
    if have:
        tap.ok(plugin.is_file(), f"<libdir>/barlow-{p['soversion']}/libbarlow-torch.so "
               "is installed")
    else:
        tap.ok(not plugdir.exists(), "no plugin directory is installed without libtorch",
               str(plugdir))
    scratch = Path(dest).parent
    (scratch / "probe.c").write_text(PLUGIN_PROBE)
    exe = scratch / "probe"
    rc, out = run([*c_compiler(), "-std=c11", *sanitize_flags(), scratch / "probe.c",
                   "-o", exe, f"-I{in_dest(dest, p['includedir'])}", f"-L{libdir}",
                   "-lbarlow"])
    if not tap.ok(rc == 0, "the plugin probe builds against the installed library", out):
        return
    env = dict(os.environ)
    env.pop("BARLOW_TORCH_PLUGIN", None)
    env["LD_LIBRARY_PATH"] = str(libdir)
    rc, out = run([exe], env=env)
    lines = out.splitlines()
    if have:
        tap.ok(rc == 0 and lines[:1] == ["1"] and len(lines) > 1
               and Path(lines[1]).resolve() == plugin.resolve(),
               "an installed libbarlow finds its installed plugin: barlow_has_torch() "
               "prints 1 and the plugin mapped is <libdir>/barlow-<soversion>/libbarlow-torch.so",
               f"exit {rc}, output: {out}")
    else:
        tap.ok(rc == 0 and lines[:3] == ["0", "-", "UNSUPPORTED"]
               and "built without libtorch" in out,
               "without libtorch, barlow_has_torch() prints 0 and create says "
               "\"built without libtorch\"", f"exit {rc}, output: {out}")
    missing = "/nonexistent/libbarlow-torch.so"
    env["BARLOW_TORCH_PLUGIN"] = missing
    rc, out = run([exe], env=env)
    lines = out.splitlines()
    if have:
        tap.ok(rc == 0 and lines[:2] == ["0", "-"] and len(lines) > 3
               and lines[2] == "UNSUPPORTED" and missing in lines[3]
               and "BARLOW_TORCH_PLUGIN" in lines[3],
               "BARLOW_TORCH_PLUGIN=/nonexistent/...: barlow_has_torch() prints 0, no "
               "plugin is mapped, create fails with UNSUPPORTED naming that path",
               f"exit {rc}, output: {out}")
    else:
        tap.ok(rc == 0 and lines[:3] == ["0", "-", "UNSUPPORTED"]
               and "built without libtorch" in out,
               "without libtorch, BARLOW_TORCH_PLUGIN changes nothing",
               f"exit {rc}, output: {out}")


def mode_pkgconfig(tap, dest, p, scratch):
    libdir = in_dest(dest, p["libdir"])
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.pathsep.join(
        [str(libdir / "pkgconfig"), env.get("PKG_CONFIG_PATH", "")]).rstrip(os.pathsep)
    env["PKG_CONFIG_SYSROOT_DIR"] = str(dest)
    rc, out = run(["pkg-config", "--modversion", "barlow"], env=env)
    tap.ok(rc == 0 and out.strip() == p["version"],
           f"pkg-config --modversion barlow = {p['version']}", out)
    rc, flags = run(["pkg-config", "--cflags", "--libs", "barlow"], env=env)
    tap.ok(rc == 0, "pkg-config --cflags --libs barlow", flags)
    words = shlex.split(flags)
    inc = in_dest(dest, p["includedir"])
    tap.ok(f"-I{inc}" in words or str(inc) == "/usr/include",
           "the cflags name <includedir> (so <barlow/barlow.h> resolves)", flags)
    tap.ok("-lbarlow" in words and f"-L{libdir}" in words,
           "the libs are -L<libdir> -lbarlow", flags)
    rc, static = run(["pkg-config", "--libs", "--static", "barlow"], env=env)
    sw = shlex.split(static)
    miss = [w for w in ("-lz", "-pthread") if w not in sw]
    tap.ok(rc == 0 and not miss, "pkg-config --static adds the private "
           "dependencies (zlib, threads)", f"missing {miss}: {static}")

    (scratch / "main.c").write_text(
        (source_root() / "tests" / "consumers" / "main.c").read_text())
    exe = scratch / "consumer"
    rc, out = run([*c_compiler(), "-std=c11", "-Wall", "-Wextra", "-pedantic",
                   "-Werror", *sanitize_flags(), scratch / "main.c", "-o", exe,
                   *words], env=env)
    if not tap.ok(rc == 0, "cc main.c $(pkg-config --cflags --libs barlow)", out):
        return
    env["LD_LIBRARY_PATH"] = str(libdir)  # not meson test's build/lib
    run_consumer(tap, exe, env, p["version"], f"libbarlow.so.{p['soversion']}",
                 libdir, "pkg-config")


def mode_cmake(tap, dest, p, scratch):
    cmake = shutil.which("cmake")
    libdir = in_dest(dest, p["libdir"])
    src = scratch / "src"
    shutil.copytree(source_root() / "tests" / "consumers" / "cmake", src)
    shutil.copy2(source_root() / "tests" / "consumers" / "main.c", src / "main.c")
    bdir = scratch / "build"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    env = dict(os.environ)
    env["CC"] = shlex.join(c_compiler())
    rc, out = run([cmake, "-S", src, "-B", bdir, *gen,
                   f"-DCMAKE_PREFIX_PATH={in_dest(dest, p['prefix'])}",
                   "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF",
                   f"-DCMAKE_C_FLAGS={' '.join(sanitize_flags())}",
                   "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF"], env=env)
    if not tap.ok(rc == 0, "cmake configure: find_package(barlow 1.0 CONFIG "
                  "REQUIRED) finds the installed package (and refuses 99)", out):
        return
    m = re.search(r"barlow (\S+) found at (\S+)", out)
    tap.ok(m is not None and m.group(1) == p["version"]
           and Path(m.group(2)).resolve() == (libdir / "cmake" / "barlow").resolve(),
           "barlow_VERSION and barlow_DIR name the installed package",
           m.group(0) if m else out)
    rc, out = run([cmake, "--build", bdir, "--parallel", "2"], env=env)
    if not tap.ok(rc == 0, "cmake --build: consumer links barlow::barlow", out):
        return
    env["LD_LIBRARY_PATH"] = str(libdir)  # not meson test's build/lib
    run_consumer(tap, bdir / "consumer", env, p["version"],
                 f"libbarlow.so.{p['soversion']}", libdir, "cmake")


def mode_meson(tap, p, scratch):
    meson = shlex.split(os.environ.get("BARLOW_MESON", "meson"))
    src = scratch / "src"
    shutil.copytree(source_root() / "tests" / "consumers" / "meson", src)
    shutil.copy2(source_root() / "tests" / "consumers" / "main.c", src / "main.c")
    (src / "subprojects").mkdir()
    # A link to the source tree; the consumer's build directory lies outside
    # it, so configuring the subproject never recurses into our own build.
    os.symlink(source_root(), src / "subprojects" / "barlow")
    bdir = scratch / "build"
    # no PKG_CONFIG_* (nothing installed may serve the dependency) and no
    # LD_LIBRARY_PATH (meson test points it at our build/lib): the consumer
    # must find the subproject's library through its build RUNPATH
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PKG_CONFIG") and k != "LD_LIBRARY_PATH"}
    env["CC"] = shlex.join(c_compiler())
    rc, out = run([*meson, "setup", "--force-fallback-for=barlow", bdir, src],
                  env=env)
    if not tap.ok(rc == 0, "meson setup of a consumer with subprojects/barlow "
                  "(--force-fallback-for=barlow)", out):
        return
    tap.ok(re.search(r"Dependency barlow found: YES \S+ \(overridden\)", out)
           is not None, "dependency('barlow') is served by "
           "meson.override_dependency", out)
    rc, out = run([*meson, "compile", "-C", bdir, "-j", "2"], env=env)
    if not tap.ok(rc == 0, "meson compile: the consumer and the subproject "
                  "library build", out):
        return
    sub = bdir / "subprojects" / "barlow"
    run_consumer(tap, bdir / "consumer", env, p["version"],
                 f"libbarlow.so.{p['soversion']}", sub, "meson subproject")


def main():
    modes = ("layout", "pkgconfig", "cmake", "meson")
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    mode = sys.argv[1]
    tap = Tap()
    p = {k: env_path(f"BARLOW_{k.upper()}") for k in
         ("prefix", "libdir", "includedir", "version", "soversion")}
    if mode == "cmake" and shutil.which("cmake") is None:
        tap.skip_all("cmake is not installed (apt install cmake)")
    if mode == "pkgconfig" and shutil.which("pkg-config") is None:
        tap.skip_all("pkg-config is not installed (apt install pkg-config)")
    top = build_root() / "abi-consumers"
    top.mkdir(exist_ok=True)
    scratch = top / mode
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    if mode == "meson":
        mode_meson(tap, p, scratch)
    else:
        dest = scratch / "dest"
        if install(tap, dest):
            {"layout": lambda: mode_layout(tap, dest, p),
             "pkgconfig": lambda: mode_pkgconfig(tap, dest, p, scratch),
             "cmake": lambda: mode_cmake(tap, dest, p, scratch)}[mode]()
    rc = tap.done()
    if rc == 0:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"# scratch files kept in {scratch}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
