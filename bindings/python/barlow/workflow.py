"""barlow.run: the whole workflow, by running the command-line program's
``barlow run`` (docs/run.md) in a subprocess.

    res = barlow.run(model="models/fmnist_robust.pt",
                     predict="models/fmnist_standard.pt",
                     idx="t10k-images-idx3-ubyte.gz",
                     idx_labels="t10k-labels-idx1-ubyte.gz",
                     class_names="models/fmnist_classes.txt", out="run/")
    res["format"]           # 'barlow-run': the parsed DIR/results.json
    res.report              # Path of DIR/index.html (open it in a browser)

It is exactly ``barlow run`` (the same files, reuse of a previous run in
DIR, --force, the report), not a reimplementation: the bindings' objects
(Extractor, analyze, Visualizer) give the same pieces in-process.

The program is looked for: ``$BARLOW_CLI``; next to the loaded libbarlow
(``<build>/programs/barlow/barlow`` of a build tree, ``<prefix>/bin/barlow`` of an
install); ``barlow`` on PATH.

Ctrl-C while it runs is passed to the program, which removes its staging
directory (the previous report in DIR stays as it was), then
KeyboardInterrupt is raised. Failures raise a :mod:`barlow.errors` class
(InvalidArgument for usage errors (exit 2), else the class the message
points at: IOFailure, Format, Unsupported, Backend, or RunFailed), carrying
the program's message, ``returncode`` and ``stderr``.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from . import _ffi, errors

__all__ = ["run", "RunResults", "RunFailed", "find_cli"]


class RunResults(dict):
    """results.json of a ``barlow run`` as a dict, plus ``directory`` (the
    run directory), ``report`` (its index.html) and ``stdout`` (the
    program's summary)."""

    directory = None
    report = None
    stdout = ""

    def __repr__(self):
        return (f"<barlow.RunResults {self.get('format')} in {str(self.directory)!r}: "
                f"{len(self.get('groups', []))} groups; report {str(self.report)!r}>")


def find_cli():
    """The path of the barlow program (see the module's docstring); raises
    errors.Unsupported when none is found."""
    tried = []
    env = os.environ.get("BARLOW_CLI")
    if env:
        if os.access(env, os.X_OK) and os.path.isfile(env):
            return env
        raise errors.Unsupported(f"barlow.run: $BARLOW_CLI={env} is not an executable file")
    libpath = getattr(_ffi, "library_path", None)
    if libpath and os.sep in libpath:
        d = Path(os.path.realpath(libpath)).parent
        for cand in (d.parent / "programs" / "barlow" / "barlow", d.parent / "bin" / "barlow",
                     d.parent.parent / "bin" / "barlow"):
            tried.append(str(cand))
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
    exe = shutil.which("barlow")
    if exe:
        return exe
    tried.append("barlow on PATH")
    raise errors.Unsupported("barlow.run: the barlow program was not found (tried "
                             + ", ".join(tried) + "); set BARLOW_CLI to its path")


def _join(v, what):
    if isinstance(v, (str, int)):
        return str(v)
    items = [str(x) for x in v]
    if not items:
        raise ValueError(f"barlow.run: {what} is empty")
    return ",".join(items)


def _error_class(returncode, message):
    if returncode == 2:
        return errors.InvalidArgument
    m = message.lower()
    if "cannot open" in m or "cannot read" in m or "no such file" in m or \
            "permission denied" in m or "not a regular file" in m or "cannot write" in m:
        return errors.IOFailure
    if "sha-256" in m or "sha256" in m or "not a torchscript" in m or "malformed" in m or \
            "checkpoint" in m or "not a zip" in m or "truncated" in m:
        return errors.Format
    if "without libtorch" in m or "plugin" in m or "not available" in m or \
            "unsupported" in m:
        return errors.Unsupported
    if "libtorch" in m or "the model raised" in m or "non-finite" in m:
        return errors.Backend
    return RunFailed


class RunFailed(errors.Error):
    """barlow run failed with a message that names no library status."""

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message
        self.status = None
        self.status_name = None
        self.status_text = "barlow run failed"

    def __reduce__(self):
        return (RunFailed, (self.message,))


_STAGE = re.compile(r"^barlow run: \w+ \.\.\.$|^barlow run: \w+\s+[\d.]+ s( \(reused\))?$")


def _make_error(returncode, stderr):
    """The exception for a failed run: the program's message is its last
    'barlow run: ...' line that is not a stage line (the first one for a
    usage error, which is followed by the usage text)."""
    lines = [ln.rstrip() for ln in stderr.splitlines()]
    msgs = [ln for ln in lines if ln.startswith("barlow") and not _STAGE.match(ln)]
    if msgs:
        msg = msgs[0] if returncode == 2 else msgs[-1]
    else:
        rest = [ln for ln in lines if ln.strip()]
        msg = rest[-1] if rest else f"barlow run exited with status {returncode}"
    cls = _error_class(returncode, msg)
    e = cls(msg)
    e.returncode = returncode
    e.stderr = stderr
    return e


def _pump(stream, sink, buf):
    """Copies the child's lines to `sink` (None: only keeps them)."""
    for line in iter(stream.readline, ""):
        buf.append(line)
        if sink is not None:
            try:
                sink.write(line)
                sink.flush()
            except (OSError, ValueError):
                pass
    stream.close()


def run(*, model, predict=None, metadata=None, images=None, folder=None, idx=None,
        idx_labels=None, class_names=None, out, by=("label", "prediction"), k=20,
        depth=(1, 2), top=6, attack_steps=200, attack=True, classes=None,
        feature_names=None, threads=0, seed=0, size=None, resize=None, channels=None,
        sha256=None, predict_sha256=None, single_file=False, force=False, quiet=False,
        cli=None, extra_args=()):
    """Runs ``barlow run`` and returns its results.json as a :class:`RunResults`
    dict (``.report``: the path of index.html).

    model: the robust TorchScript model; predict: the inspected model (else
    the metadata CSV's prediction column); the dataset: ``metadata`` +
    ``images``, ``folder``, or ``idx`` + ``idx_labels``; class_names: a
    file or a list of names; out: the run directory (new, empty, or a
    previous run's: unchanged results are reused unless force=True).
    by: "label", "prediction" or both; k features per group; depth: an int
    or depths (each 1..3); top: images per panel row; attack_steps (attack
    =False: panels without attacks); classes: names or ids to report;
    feature_names: a JSON file or a dict naming features; size/resize/
    channels: the model input (defaults as the program's: 224/256/3, IDX
    28/0/1); sha256/predict_sha256: pin the models; single_file: one
    self-contained index.html; quiet: no progress and no summary (else the
    program's stage lines go to sys.stderr and its summary to sys.stdout,
    as they come). cli: the program's path (default: find_cli()).
    """
    exe = os.fspath(cli) if cli is not None else find_cli()
    temps = []
    args = [exe, "run", "--model", os.fspath(model), "--out", os.fspath(out)]

    def opt(flag, value):
        if value is not None:
            args.extend([flag, os.fspath(value) if isinstance(value, os.PathLike)
                         else str(value)])

    try:
        opt("--predict", predict)
        opt("--metadata", metadata)
        opt("--images", images)
        opt("--folder", folder)
        opt("--idx", idx)
        opt("--idx-labels", idx_labels)
        if class_names is not None and not isinstance(class_names, (str, bytes, os.PathLike)):
            fd, p = tempfile.mkstemp(prefix="barlow-names-", suffix=".txt")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write("".join(f"{n}\n" for n in class_names))
            temps.append(p)
            class_names = p
        opt("--class-names", class_names)
        opt("--size", size)
        opt("--resize", resize)
        opt("--channels", channels)
        opt("--by", _join(by, "by"))
        opt("--k", k)
        opt("--depth", _join(depth, "depth"))
        opt("--top", top)
        if attack:
            opt("--attack-steps", attack_steps)
        else:
            args.append("--no-attack")
        if classes is not None:
            opt("--classes", _join(classes, "classes"))
        if feature_names is not None and isinstance(feature_names, dict):
            fd, p = tempfile.mkstemp(prefix="barlow-feature-names-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({str(k_): v for k_, v in feature_names.items()}, f)
            temps.append(p)
            feature_names = p
        opt("--feature-names", feature_names)
        opt("--threads", threads)
        opt("--seed", seed)
        opt("--sha256", sha256)
        opt("--predict-sha256", predict_sha256)
        if single_file:
            args.append("--single-file")
        if force:
            args.append("--force")
        if quiet:
            args.append("--quiet")
        args.extend(str(a) for a in extra_args)

        out_buf, err_buf = [], []
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, encoding="utf-8",
                             errors="replace")
        pumps = [threading.Thread(target=_pump, args=(p.stdout, None if quiet else sys.stdout,
                                                      out_buf), daemon=True),
                 threading.Thread(target=_pump, args=(p.stderr, None if quiet else sys.stderr,
                                                      err_buf), daemon=True)]
        for t in pumps:
            t.start()
        try:
            rc = p.wait()
        except KeyboardInterrupt:
            # the program removes its staging directory on SIGINT, then dies
            # of it; the previous report in DIR is left as it was
            try:
                p.send_signal(signal.SIGINT)
                p.wait(timeout=30)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                p.kill()
                p.wait()
            raise
        for t in pumps:
            t.join()
    finally:
        for t in temps:
            try:
                os.unlink(t)
            except OSError:
                pass

    stderr = "".join(err_buf)
    if rc == -signal.SIGINT:
        raise KeyboardInterrupt("barlow run was interrupted (SIGINT)")
    if rc != 0:
        raise _make_error(rc, stderr)
    directory = Path(out)
    with open(directory / "results.json", encoding="utf-8") as f:
        res = RunResults(json.load(f))
    res.directory = directory
    res.report = directory / "index.html"
    res.stdout = "".join(out_buf)
    return res
