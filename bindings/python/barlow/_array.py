"""numpy <-> library conversions shared by every module.

Rules (docs/python.md, "numpy and zero copy"): features cross into the
library without a copy when they are float32, 2-D, non-empty and C-ordered
(or, for Matrix.wrap, rows of contiguous floats any multiple of 4 bytes
apart). Anything else is refused with a message saying what is accepted,
unless the caller asks for a conversion with ``copy=True``; no hidden copy
of a large array is ever made.
"""
import numpy as np

from ._ffi import ffi

F32 = np.dtype(np.float32)
_REAL_KINDS = "fiub"  # float, int, uint, bool


def _layout_ok(x, row_stride):
    if not x.flags.aligned:
        return False
    if x.flags.c_contiguous:
        return True
    return (row_stride and x.strides[1] == 4 and x.strides[0] >= 4 * x.shape[1]
            and x.strides[0] % 4 == 0)


def as_f32_2d(x, copy=False, name="features", row_stride=False):
    """`x` as a float32 2-D non-empty array the library can read in place.

    float32 C-contiguous arrays pass through untouched. Other real dtypes
    raise TypeError and non-contiguous arrays ValueError, unless copy=True
    (then a converted C-contiguous copy is returned). Lists and tuples are
    converted (they cannot be shared anyway). row_stride=True also passes
    arrays whose rows are contiguous but spaced (x[:, :k] of a float32
    C-ordered array), which barlow_matrix_wrap reads with a stride.
    """
    if isinstance(x, (list, tuple)):
        x = np.array(x, dtype=F32)
    elif not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows x columns); got {x.ndim}-D "
                         f"with shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); it needs at least one row "
                         "and one column")
    if x.dtype != F32:
        if x.dtype.kind not in _REAL_KINDS:
            raise TypeError(f"{name} must be real numbers (float32, or another float, "
                            f"integer or bool dtype with copy=True); got {x.dtype}")
        if not copy:
            raise TypeError(f"{name} must be float32 (native byte order); got {x.dtype}. "
                            "Pass copy=True to convert (float, integer and bool dtypes "
                            "are accepted then), or x.astype(np.float32)")
        return np.ascontiguousarray(x, dtype=F32)
    if not _layout_ok(x, row_stride):
        if not copy:
            raise ValueError(f"{name} is not C-contiguous (strides {x.strides} for shape "
                             f"{x.shape}: a transposed or column-sliced view?); pass "
                             "copy=True or np.ascontiguousarray(x)")
        return np.ascontiguousarray(x)
    return x


def as_failures(y, n=None, name="failures"):
    """`y` as a C-contiguous uint8 array of 0/1 flags (1 = failure).

    bool arrays are reinterpreted without a copy; uint8 passes through (the
    library rejects flags other than 0/1 with the index); other integer
    dtypes are checked for 0/1 and narrowed. n: the expected length.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one flag per row); got shape {y.shape}")
    if len(y) == 0:
        raise ValueError(f"{name} is empty")
    if n is not None and len(y) != n:
        raise ValueError(f"{name} has {len(y)} entries but the features have {n} rows")
    y = np.ascontiguousarray(y)
    if y.dtype == np.bool_:
        return y.view(np.uint8)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must be bool or integers 0/1; got {y.dtype}")
    if y.dtype != np.uint8:
        bad = np.flatnonzero((y != 0) & (y != 1))
        if len(bad):
            raise ValueError(f"{name}[{bad[0]}] = {y[bad[0]]} (flags must be 0 or 1)")
        y = y.astype(np.uint8)
    return y


def as_int32(x, name):
    """A 1-D C-contiguous int32 array of class ids (converted when needed:
    ids arrays are small and the library copies them anyway)."""
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {x.shape}")
    if x.dtype.kind not in "iu":
        if x.dtype.kind != "f" or not np.all(np.mod(x, 1) == 0):
            raise TypeError(f"{name} must hold integer class ids; got {x.dtype}")
    if x.dtype != np.int32:
        info = np.iinfo(np.int32)
        if len(x) and (x.min() < info.min or x.max() > info.max):
            raise ValueError(f"{name} holds ids outside int32")
        x = x.astype(np.int32)
    return np.ascontiguousarray(x)


def ptr(ctype, a):
    """A `ctype *` pointing at a C-contiguous array's first element (the
    caller keeps `a` alive across the call)."""
    return ffi.cast(ctype + " *", a.ctypes.data) if a is not None else ffi.NULL


class _Interface:
    """An object exposing library memory through __array_interface__; the
    ndarray made from it keeps it — and through it the owner — alive."""

    __slots__ = ("__array_interface__", "_keep")

    def __init__(self, address, shape, strides, typestr, readonly, keep):
        self.__array_interface__ = {"data": (address, readonly), "shape": shape,
                                    "strides": strides, "typestr": typestr, "version": 3}
        self._keep = keep


def view(cptr, shape, dtype, keep, strides=None, readonly=True):
    """A numpy view of library memory at `cptr` (no copy). `keep` is held by
    the view for as long as it (or any view derived from it) lives."""
    dtype = np.dtype(dtype)
    if cptr == ffi.NULL or 0 in shape:
        return np.empty(shape, dtype)
    address = int(ffi.cast("uintptr_t", cptr))
    return np.asarray(_Interface(address, tuple(shape), strides, dtype.str, readonly, keep))
