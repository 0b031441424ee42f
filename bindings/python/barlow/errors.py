"""Exceptions for libbarlow's status codes (docs/errors.md).

Every failed library call raises a subclass of :class:`Error` that also
subclasses the matching builtin, so ``except ValueError`` works as well as
``except barlow.InvalidArgument``:

=====================  ==========  ==========================================
status                 class       also a
=====================  ==========  ==========================================
BARLOW_E_INTERNAL      Internal    RuntimeError
BARLOW_E_INVALID_ARG   InvalidArgument  ValueError
BARLOW_E_NOMEM         NoMemory    MemoryError
BARLOW_E_IO            IOFailure   OSError
BARLOW_E_FORMAT        Format      ValueError
BARLOW_E_STATE         State       RuntimeError
BARLOW_E_UNSUPPORTED   Unsupported NotImplementedError (valid input this build
                                   does not handle: a dtype, an image format,
                                   the extractor without libtorch, a limit)
BARLOW_E_BACKEND       Backend     RuntimeError
BARLOW_E_CANCELLED     Cancelled   (Error only: a progress callback asked to
                                   stop. Not a KeyboardInterrupt, which would
                                   stop test runners and REPL loops; a
                                   KeyboardInterrupt raised inside a callback
                                   cancels the call and is re-raised as is.)
=====================  ==========  ==========================================
"""
from ._ffi import ffi, lib


class Error(Exception):
    """A libbarlow call failed: ``status`` (negative int), ``status_name``
    ("BARLOW_E_IO"), ``status_text`` ("input/output error") and ``message``
    (the library's message naming the function and the offending value)."""

    status = None

    def __init__(self, message, status=None):
        if status is not None:
            self.status = status
        self.message = message
        self.status_name = _NAMES.get(self.status, f"status {self.status}")
        self.status_text = ffi.string(lib.barlow_status_str(self.status or 0)).decode()
        super().__init__(message or self.status_text)

    def __reduce__(self):  # picklable (multiprocessing) despite the extra args
        if type(self) is Error:
            return (Error, (self.message, self.status))
        return (type(self), (self.message,))


class Internal(Error, RuntimeError):
    status = lib.BARLOW_E_INTERNAL


class InvalidArgument(Error, ValueError):
    status = lib.BARLOW_E_INVALID_ARG


class NoMemory(Error, MemoryError):
    status = lib.BARLOW_E_NOMEM


class IOFailure(Error, OSError):
    status = lib.BARLOW_E_IO


class Format(Error, ValueError):
    status = lib.BARLOW_E_FORMAT


class State(Error, RuntimeError):
    status = lib.BARLOW_E_STATE


class Unsupported(Error, NotImplementedError):
    status = lib.BARLOW_E_UNSUPPORTED


class Backend(Error, RuntimeError):
    status = lib.BARLOW_E_BACKEND


class Cancelled(Error):
    status = lib.BARLOW_E_CANCELLED


_CLASSES = {c.status: c for c in (Internal, InvalidArgument, NoMemory, IOFailure, Format,
                                  State, Unsupported, Backend, Cancelled)}
_NAMES = {getattr(lib, n): n for n in dir(lib) if n.startswith("BARLOW_E_")}
_NAMES[0] = "BARLOW_OK"


def error(status, message=None):
    """The exception for `status` with this thread's last message."""
    if message is None:
        message = ffi.string(lib.barlow_last_error()).decode("utf-8", "replace")
    cls = _CLASSES.get(status, Error)
    return cls(message, status) if cls is Error else cls(message)


def check(status):
    """Raises the matching Error when `status` is not BARLOW_OK (0)."""
    if status != 0:
        raise error(status)
