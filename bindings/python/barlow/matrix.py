"""barlow.Matrix: an n×d float32 matrix of libbarlow (include/barlow/matrix.h).

A Matrix owns its memory (``Matrix.zeros``, ``Matrix.from_array``, ``from_npy``,
``load_npz``, ``gather_rows``), borrows a numpy array without copying
(``Matrix.wrap``: the Matrix keeps the array alive), or maps a .npy file
read-only (``map_npy``), or maps the shards of a manifest as one matrix
(``open_manifest``). ``numpy()`` / ``np.asarray(m)`` give a view of the
matrix's memory, never a copy.
"""
import numpy as np

from . import _array
from ._ffi import ffi, lib, path_bytes
from ._handle import Handle, new_handle
from .errors import check


class Matrix(Handle):
    _free = "barlow_matrix_free"

    def __init__(self, ptr, keep=None, borrowed=False, readonly=None):
        super().__init__(ptr, keep, borrowed)
        if readonly is None:
            readonly = borrowed or lib.barlow_matrix_data_mut(self._ptr) == ffi.NULL
        self.readonly = readonly

    # -- construction ---------------------------------------------------------

    @classmethod
    def wrap(cls, array, copy=False):
        """Borrows a float32 2-D array without copying (barlow_matrix_wrap).

        The library reads the array's memory in place, so changes to the
        array are seen by later calls; the Matrix holds a reference to the
        array. Read-only arrays are accepted (the library only reads them;
        the Matrix is then read-only too). Arrays whose rows are contiguous
        but spaced (``x[:, :k]``) are wrapped with a stride. Other dtypes or
        layouts raise TypeError/ValueError unless copy=True.
        """
        a = _array.as_f32_2d(array, copy=copy, name="array", row_stride=True)
        rows, cols = a.shape
        stride = a.strides[0] // 4 if rows > 1 else cols
        ptr = new_handle("barlow_matrix", lib.barlow_matrix_wrap, _array.ptr("float", a),
                         rows, cols, stride)
        return cls(ptr, keep=a, readonly=not a.flags.writeable)

    @classmethod
    def from_array(cls, array):
        """An owned copy of a 2-D array (converted to float32)."""
        a = _array.as_f32_2d(array, copy=True, name="array", row_stride=True)
        stride = a.strides[0] // 4 if a.shape[0] > 1 else a.shape[1]
        return cls(new_handle("barlow_matrix", lib.barlow_matrix_create_copy,
                              _array.ptr("float", a), a.shape[0], a.shape[1], stride))

    @classmethod
    def zeros(cls, rows, cols):
        return cls(new_handle("barlow_matrix", lib.barlow_matrix_create, rows, cols))

    @classmethod
    def from_npy(cls, path):
        """Reads a .npy file (numeric dtypes converted to float32)."""
        return cls(new_handle("barlow_matrix", lib.barlow_matrix_load_npy, path_bytes(path)))

    @classmethod
    def map_npy(cls, path):
        """Maps a float32 C-order .npy file read-only (pages read on use).
        The file must not change while mapped."""
        return cls(new_handle("barlow_matrix", lib.barlow_matrix_map_npy, path_bytes(path)))

    @classmethod
    def open_manifest(cls, path):
        """The features of a sharded store (a manifest of `barlow merge` or
        :func:`barlow.merge_shards`) as one read-only matrix, in dataset
        order, over the shard files' mappings (barlow/shards.h): nothing is
        read until used. The files must not change while it is open."""
        return cls(new_handle("barlow_matrix", lib.barlow_matrix_open_manifest,
                              path_bytes(path)))

    @classmethod
    def load_npz(cls, path, name="features"):
        """Reads member `name` of an .npz archive."""
        return cls(new_handle("barlow_matrix", lib.barlow_matrix_load_npz, path_bytes(path),
                              name.encode()))

    # -- shape and data -------------------------------------------------------

    @property
    def rows(self):
        return lib.barlow_matrix_rows(self.ptr)

    @property
    def cols(self):
        return lib.barlow_matrix_cols(self.ptr)

    @property
    def stride(self):
        """Floats between the starts of consecutive rows (>= cols)."""
        return lib.barlow_matrix_stride(self.ptr)

    @property
    def shape(self):
        return (self.rows, self.cols)

    def __len__(self):
        return self.rows

    def numpy(self):
        """A view of the matrix's memory (no copy; read-only for a mapped or
        read-only matrix). The view keeps the memory alive, also after
        close()."""
        return _array.view(lib.barlow_matrix_data(self.ptr), self.shape, np.float32,
                           self._keep(), strides=(4 * self.stride, 4),
                           readonly=self.readonly)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            if copy is False:
                raise ValueError(f"converting to {dtype} needs a copy")
            return a.astype(dtype)
        return a.copy() if copy else a

    def check_finite(self):
        """Raises InvalidArgument naming the first NaN/inf (row, column)."""
        check(lib.barlow_matrix_check_finite(self.ptr))

    def gather_rows(self, rows):
        """An owned matrix of the given rows, in that order."""
        idx = np.ascontiguousarray(rows, dtype=np.uintp)
        return Matrix(new_handle("barlow_matrix", lib.barlow_matrix_gather_rows, self.ptr,
                                 _array.ptr("size_t", idx), len(idx)))

    def save_npy(self, path):
        """Writes a float32 .npy (the bytes np.save writes), atomically."""
        check(lib.barlow_matrix_save_npy(self.ptr, path_bytes(path)))

    save = save_npy

    def __repr__(self):
        if self.closed:
            return "<barlow.Matrix (closed)>"
        kind = "read-only " if self.readonly else ""
        return f"<barlow.Matrix {kind}{self.rows}x{self.cols} float32>"


def as_matrix(x, copy=False, name="features"):
    """A Matrix for `x`: a Matrix as is, an array wrapped without copying
    (see _array.as_f32_2d for what is accepted and what copy=True does)."""
    if isinstance(x, Matrix):
        return x
    return Matrix.wrap(_array.as_f32_2d(x, copy=copy, name=name, row_stride=True))
