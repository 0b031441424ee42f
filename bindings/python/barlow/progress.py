"""Progress reporting, Ctrl-C and cancellation of long library calls.

Every long call of the bindings (``Extractor.extract``/``predict``,
``Visualizer.attack``/``view``, ...) takes ``progress=``:

``None`` (default)
    a text progress bar on ``sys.stderr`` when it is a terminal or when
    running in a Jupyter kernel (``ipykernel`` imported); silent otherwise.
``True`` / ``False``
    always draw the bar / never draw anything.
a callable ``fn(done, total)``
    called on the calling thread after each unit of work (a batch of images,
    an attack step); ``done`` grows up to ``total``. Returning a true value
    cancels the call (:class:`barlow.errors.Cancelled`); raising from it
    cancels the call too, and the exception is re-raised from the call once
    the library has stopped.
a :class:`Progress`
    one of the above plus :meth:`Progress.cancel`, usable from any thread.

How a call stops:

* Ctrl-C (SIGINT). While the library runs, cffi has released the GIL and
  CPython only *records* the signal; its handler runs the next time the main
  thread executes Python code, which is inside the progress callback. The
  ``KeyboardInterrupt`` raised there is caught, the callback returns
  non-zero, the library stops at the end of the current batch (returning
  BARLOW_E_CANCELLED, leaving no partial output and no result), and the
  ``KeyboardInterrupt`` is re-raised as is from the call. The process stays
  usable: the handles are unchanged and the next call works. This is why
  every long call installs a callback, even when nothing is drawn.
* :meth:`Progress.cancel` from another thread: the callback sees the flag
  and returns non-zero; the call raises :class:`barlow.errors.Cancelled`.
* Any other exception raised by a progress callable: the call is cancelled
  the same way and that exception is re-raised.

Threads: cffi releases the GIL around every C call, so other Python threads
run while the library works (a GUI, a server, a thread calling
:meth:`Progress.cancel`). The callback itself always runs on the thread that
made the call (never on a library worker thread); only the main thread
receives KeyboardInterrupt, so Ctrl-C cancels calls made on the main thread.
A progress callable must not call non-const functions of the handle that is
running (e.g. the same Extractor); the bindings raise
:class:`barlow.errors.State` when it tries.
"""
import sys
import threading
import time

from ._ffi import ffi, lib
from . import errors

__all__ = ["Progress"]

_CANCELLED = lib.BARLOW_E_CANCELLED


def _default_bar_wanted(stream):
    if "ipykernel" in sys.modules:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _fmt_time(seconds):
    seconds = int(seconds + 0.5)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Progress display and cancellation for one library call at a time.

    ``Progress(callback=None, bar=None, label=None, unit="", stream=None)``:

    * ``callback``: a callable ``fn(done, total)`` (then no bar is drawn
      unless ``bar=True``);
    * ``bar``: ``None`` = draw when ``stream`` is a terminal or in a Jupyter
      kernel, ``True`` = always, ``False`` = never;
    * ``label``: the bar's prefix (the call names it when not given);
    * ``stream``: where the bar goes (``sys.stderr`` at draw time).

    Pass it as ``progress=`` to a long call. :meth:`cancel` may be called
    from any thread, before or during the call: the running call (or, when
    none is running, the next one) stops at its next progress step and
    raises :class:`barlow.errors.Cancelled`; the request is used up by the
    call it cancels. One Progress may serve many calls, one after another.
    """

    def __init__(self, callback=None, *, bar=None, label=None, unit="", stream=None):
        if callback is not None and not callable(callback):
            raise TypeError("Progress: callback must be callable(done, total)")
        self.callback = callback
        self.bar = bar
        self.label = label
        self.unit = unit
        self.stream = stream
        self._cancel = threading.Event()
        self._reset()

    # ---- public ------------------------------------------------------------

    def cancel(self):
        """Asks the running call (or the next one) to stop. Thread-safe; the
        call raises :class:`barlow.errors.Cancelled` once the library has
        stopped (within one batch)."""
        self._cancel.set()

    @property
    def cancel_requested(self):
        """True while a cancel() has not been used up by a call."""
        return self._cancel.is_set()

    @property
    def done(self):
        """Units done at the last callback of the current or last call."""
        return self._done

    @property
    def total(self):
        """The total of the current or last call (None before its first
        callback)."""
        return self._total

    @property
    def calls(self):
        """How many times the library called back in the current or last
        call."""
        return self._calls

    # ---- used by the bindings -------------------------------------------------

    def _reset(self):
        self._done = 0
        self._total = None
        self._calls = 0
        self._exc = None
        self._cancelled_by_flag = False
        self._drawn = False
        self._last_draw = 0.0
        self._last_drawn = None
        self._width = 0
        self._start = None
        self._cb = None
        self._active = False

    def _begin(self, label, unit):
        if self._active:
            raise errors.State("barlow.Progress: this Progress is already in use by a "
                               "running call; use one per call")
        self._reset()
        self._active = True
        self._label = self.label or label or ""
        self._unit = self.unit or unit or ""
        stream = self.stream if self.stream is not None else sys.stderr
        self._stream = stream
        if self.bar is None:
            self._draw = self.callback is None and _default_bar_wanted(stream)
        else:
            self._draw = bool(self.bar)
        self._start = time.monotonic()
        self._cb = ffi.callback("int(size_t, size_t, void *)", self._on_progress,
                                onerror=self._on_error)
        return self._cb

    def _on_progress(self, done, total, _user):
        # Runs on the calling thread with the GIL held. A KeyboardInterrupt
        # (pending SIGINT) may be raised at any bytecode here: _on_error
        # records it and cancels.
        if self._exc is not None:
            return 1
        self._calls += 1
        self._done, self._total = done, total
        if self._cancel.is_set():
            self._cancelled_by_flag = True
            return 1
        if self.callback is not None and self.callback(done, total):
            self._cancelled_by_flag = True  # a true return value cancels
            if self._draw:
                self._render(done, total, final=True)
            return 1
        if self._draw:
            self._render(done, total)
        if self._cancel.is_set():
            self._cancelled_by_flag = True
            return 1
        return 0

    def _on_error(self, exc_type, exc_value, tb):
        if self._exc is None:
            if exc_value is None:
                exc_value = exc_type()
            self._exc = exc_value.with_traceback(tb)
        return 1

    def _render(self, done, total, final=False):
        now = time.monotonic()
        if final and self._drawn and self._last_drawn == (done, total):
            return
        if not final and done < total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self._last_drawn = (done, total)
        width = 30
        frac = (done / total) if total else 1.0
        filled = min(width, int(frac * width))
        elapsed = max(now - self._start, 1e-9)
        rate = done / elapsed
        text = f"{self._label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if done and elapsed > 0.05:
            unit = f" {self._unit}/s" if self._unit else "/s"
            text += f"  {rate:.1f}{unit}"
            if done < total and rate > 0:
                text += f"  ETA {_fmt_time((total - done) / rate)}"
        text = text.lstrip()
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        try:
            self._stream.write("\r" + text + pad)
            self._stream.flush()
        except (OSError, ValueError, AttributeError):
            self._draw = False
            return
        self._drawn = True

    def _finish(self, status):
        """Ends the call: the bar's last line, the callback released, and
        the exception to raise (or None). Uses up a cancel request that
        stopped the call."""
        self._active = False
        self._cb = None
        if self._drawn:
            try:
                if status == 0 and self._total is not None:
                    self._render(self._done, self._total, final=True)
                self._stream.write("\n")
                self._stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        exc, self._exc = self._exc, None
        if exc is not None:
            # The library stopped because of it (or finished before noticing
            # a late Ctrl-C): the caller's exception wins either way.
            return exc
        if status == _CANCELLED:
            self._cancel.clear()
            msg = ffi.string(lib.barlow_last_error()).decode("utf-8", "replace")
            how = ("cancelled by barlow.Progress.cancel() or the progress callable"
                   if self._cancelled_by_flag else None)
            return errors.Cancelled(f"{msg} ({how})" if how and msg else (msg or how or
                                                                          "cancelled"))
        if status != 0:
            return errors.error(status)
        return None


class _Call:
    """``with _Call(progress, label, unit) as c: check(c.finish(f(c.fn, c.user)))``.

    Makes the cffi callback for one library call and keeps it alive until
    the call returned; :meth:`finish` turns the status (and any exception the
    callback caught) into the exception to raise."""

    def __init__(self, progress, label, unit=""):
        if isinstance(progress, Progress):
            self.p = progress
        elif progress is None or progress is True or progress is False:
            self.p = Progress(bar=None if progress is None else progress)
        elif callable(progress):
            self.p = Progress(progress)
        else:
            raise TypeError("progress must be None, True, False, a callable(done, total) "
                            f"or a barlow.Progress, not {type(progress).__name__}")
        self.label, self.unit = label, unit
        self.fn = None
        self.user = ffi.NULL
        self._finished = False

    def __enter__(self):
        self.fn = self.p._begin(self.label, self.unit)
        return self

    def finish(self, status):
        """Raises what the call's outcome calls for; returns when it
        succeeded (status 0 and no exception in the callback)."""
        self._finished = True
        exc = self.p._finish(status)
        if exc is not None:
            raise exc

    def __exit__(self, et, ev, tb):
        if not self._finished:
            # an exception before/around the C call: release the Progress
            self.p._finish(0 if et is None else -1)
        self.fn = None
        return False


def call(progress, label, unit=""):
    """The context manager the bindings use around one long library call."""
    return _Call(progress, label, unit)
