"""barlow.Dataset and barlow.Group (include/barlow/dataset.h, loaders.h).

A Dataset holds per row a label, a prediction (once known) and a source
file; class names with stable ids. A Group is a snapshot of some rows (label
== c, prediction == c, or given rows) with its failure vector: it copies what
it needs, so the dataset may be closed first.
"""
import os
import tempfile
import zipfile

import numpy as np

from . import _array, errors
from ._ffi import ffi, lib, path_bytes, string, take_buffer
from ._handle import Handle, new_handle
from .errors import check
from .matrix import Matrix, as_matrix

GROUP_BY = {"label": lib.BARLOW_GROUP_BY_LABEL, "prediction": lib.BARLOW_GROUP_BY_PREDICTION}
GROUP_BY_NAME = {v: k for k, v in GROUP_BY.items()}


def group_by(by):
    if by not in GROUP_BY:
        raise ValueError(f"by must be 'label' or 'prediction'; got {by!r}")
    return GROUP_BY[by]


def _cstrings(names):
    """(char *[] for the call, the buffers it points into)."""
    bufs = [ffi.new("char[]", str(n).encode()) for n in names]
    return ffi.new("const char *[]", bufs), bufs


def _names_file(class_names):
    """A class-names file for `class_names`: a path as is, or a temporary
    file written from a list (the caller removes it when temp is True)."""
    if isinstance(class_names, (str, bytes, os.PathLike)):
        return class_names, False
    fd, path = tempfile.mkstemp(prefix="barlow-names-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(f"{n}\n" for n in class_names))
    return path, True


def _remember(make):
    """A constructor that records how it was called (its recipe), so that
    the dataset pickles as the recipe, its class names and predictions, and
    is made again where it is unpickled (a Dask worker: barlow.distributed).
    Paths are kept as given: the files must be there too."""
    def wrapper(cls, *args, **kwargs):
        ds = make(cls, *args, **kwargs)
        args = tuple(os.fspath(a) if isinstance(a, os.PathLike) else a for a in args)
        ds._recipe = (make.__name__, args, kwargs)
        return ds
    wrapper.__name__, wrapper.__doc__ = make.__name__, make.__doc__
    return classmethod(wrapper)


def _rebuild(recipe, class_names, predictions):
    name, args, kwargs = recipe
    ds = getattr(Dataset, name)(*args, **kwargs)
    if class_names != ds.class_names:
        ds.set_class_names(class_names)
    if predictions is not None:
        ds.set_predictions(predictions)
    return ds


class Dataset(Handle):
    _free = "barlow_dataset_free"
    _recipe = None

    def __reduce__(self):
        if self._recipe is None:
            raise TypeError("this barlow.Dataset cannot be pickled: it was not made by one of "
                            "Dataset's from_* constructors")
        return (_rebuild, (self._recipe, self.class_names, self.predictions))

    # -- construction ---------------------------------------------------------

    @_remember
    def from_arrays(cls, labels, predictions=None, class_names=None, n_classes=0):
        """From class-id arrays (copied). class_names: a list fixing ids (id
        i = class_names[i]); without it the classes are named "0", "1", ...
        and n_classes (0 = max id + 1) fixes their number."""
        y = _array.as_int32(labels, "labels")
        p = None if predictions is None else _array.as_int32(predictions, "predictions")
        names, keep = (ffi.NULL, None) if class_names is None else _cstrings(class_names)
        if class_names is not None:
            n_classes = len(class_names)
        ptr = new_handle("barlow_dataset", lib.barlow_dataset_create, len(y),
                         _array.ptr("int32_t", y), _array.ptr("int32_t", p), names,
                         n_classes)
        return cls(ptr)

    @_remember
    def from_npy(cls, labels, predictions=None, class_names=None):
        """From .npy files or .npz members ("F.npz:labels") of class ids;
        class_names: a text file with one name per line (or None)."""
        args = [ffi.NULL if a is None else path_bytes(a)
                for a in (labels, predictions, class_names)]
        return cls(new_handle("barlow_dataset", lib.barlow_dataset_load_npy, *args))

    @_remember
    def from_npz(cls, path, class_names=None):
        """From an .npz written by `barlow extract` (members labels, and
        predictions and class_names when present), or from a manifest of
        shards (`barlow merge`: their members joined)."""
        path = os.fspath(path)
        if lib.barlow_manifest_probe(path_bytes(path)):
            try:
                return cls.from_npy(f"{path}:labels", f"{path}:predictions", class_names)
            except errors.InvalidArgument:  # shards without predictions
                return cls.from_npy(f"{path}:labels", None, class_names)
        with zipfile.ZipFile(path) as z:
            members = {n[:-4] if n.endswith(".npy") else n for n in z.namelist()}
        preds = f"{path}:predictions" if "predictions" in members else None
        return cls.from_npy(f"{path}:labels", preds, class_names)

    @_remember
    def from_csv(cls, path, image_root=None, class_names=None):
        """From a metadata CSV (columns Filenames, Labels, optional
        Predictions). class_names: a list or a file fixing the ids; without
        it the names found are numbered in byte order."""
        opts = ffi.new("barlow_dataset_csv_options *")
        lib.barlow_dataset_csv_options_init(opts)
        keep = []
        if isinstance(class_names, (str, bytes, os.PathLike)):
            keep.append(ffi.new("char[]", path_bytes(class_names)))
            opts.class_names_path = keep[-1]
        elif class_names is not None:
            arr, bufs = _cstrings(class_names)
            keep += [arr, bufs]
            opts.class_names, opts.n_class_names = arr, len(class_names)
        if image_root is not None:
            keep.append(ffi.new("char[]", path_bytes(image_root)))
            opts.image_root = keep[-1]
        return cls(new_handle("barlow_dataset", lib.barlow_dataset_load_csv,
                              path_bytes(path), opts))

    @_remember
    def from_folder(cls, root):
        """An image-folder dataset (root/<class>/<image>), like torchvision's
        ImageFolder; no predictions."""
        return cls(new_handle("barlow_dataset", lib.barlow_dataset_load_folder,
                              path_bytes(root)))

    @_remember
    def from_idx(cls, images, labels, class_names=None):
        """From IDX image and label files (MNIST family, optionally gzipped);
        class_names: a list or a file naming the classes."""
        ds = cls(new_handle("barlow_dataset", lib.barlow_dataset_load_idx,
                            path_bytes(images), path_bytes(labels)))
        if class_names is not None:
            ds.set_class_names(class_names)
        return ds

    # -- contents -------------------------------------------------------------

    @property
    def size(self):
        return lib.barlow_dataset_size(self.ptr)

    def __len__(self):
        return self.size

    @property
    def class_count(self):
        return lib.barlow_dataset_class_count(self.ptr)

    def class_name(self, class_id):
        name = lib.barlow_dataset_class_name(self.ptr, class_id)
        if name == ffi.NULL:
            raise IndexError(f"class id {class_id} is not in 0..{self.class_count - 1}")
        return string(name)

    @property
    def class_names(self):
        return [self.class_name(i) for i in range(self.class_count)]

    def class_id(self, name):
        out = ffi.new("int32_t *")
        check(lib.barlow_dataset_class_id(self.ptr, str(name).encode(), out))
        return out[0]

    def set_class_names(self, class_names):
        """Names the classes from a file (one name per line) or a list."""
        path, temp = _names_file(class_names)
        try:
            check(lib.barlow_dataset_set_class_names_file(self.ptr, path_bytes(path)))
        finally:
            if temp:
                os.unlink(path)

    @property
    def labels(self):
        """The labels: a read-only view of the dataset's memory."""
        return _array.view(lib.barlow_dataset_labels(self.ptr), (self.size,), np.int32,
                           self._keep())

    @property
    def has_predictions(self):
        return bool(lib.barlow_dataset_has_predictions(self.ptr))

    @property
    def predictions(self):
        """A copy of the predictions (the library replaces its array on
        set_predictions, so a view could dangle), or None."""
        p = lib.barlow_dataset_predictions(self.ptr)
        if p == ffi.NULL:
            return None
        return np.frombuffer(ffi.buffer(p, 4 * self.size), np.int32).copy()

    def set_predictions(self, predictions):
        p = _array.as_int32(predictions, "predictions")
        check(lib.barlow_dataset_set_predictions(self.ptr, _array.ptr("int32_t", p), len(p)))

    @property
    def failures(self):
        """prediction != label per row (bool), or None without predictions."""
        p = self.predictions
        return None if p is None else p != self.labels

    def filename(self, i):
        """Row i's source file as written in the CSV, or None."""
        return string(lib.barlow_dataset_filename(self.ptr, i))

    @property
    def image_root(self):
        return string(lib.barlow_dataset_image_root(self.ptr))

    def image_path(self, i):
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_dataset_image_path(self.ptr, i, buf))
        return take_buffer(buf).decode("utf-8", "surrogateescape")

    @property
    def extra_columns(self):
        """{column name: list of cell texts} of the CSV's other columns."""
        ptr, n = self.ptr, self.size
        cols = {}
        for j in range(lib.barlow_dataset_extra_column_count(ptr)):
            name = string(lib.barlow_dataset_extra_column_name(ptr, j))
            cols[name] = [string(lib.barlow_dataset_extra_value(ptr, i, j)) for i in range(n)]
        return cols

    def class_counts(self, by="label"):
        """(sizes, failures) per class id; failures is None without
        predictions."""
        k = self.class_count
        sizes = np.zeros(k, np.uintp)
        fails = np.zeros(k, np.uintp) if self.has_predictions else None
        check(lib.barlow_dataset_class_counts(self.ptr, group_by(by),
                                              _array.ptr("size_t", sizes),
                                              _array.ptr("size_t", fails)))
        return sizes, fails

    # -- groups ---------------------------------------------------------------

    def group(self, cls=None, by="label", *, indices=None):
        """The rows whose label (by='label') or prediction (by='prediction')
        is class `cls` (an id or a name), or the given row `indices`."""
        if indices is not None:
            idx = np.ascontiguousarray(indices, dtype=np.uintp)
            ptr = new_handle("barlow_group", lib.barlow_group_create_from_indices, self.ptr,
                             _array.ptr("size_t", idx) if len(idx) else ffi.NULL, len(idx))
            return Group(ptr, None, None, None)
        if cls is None:
            raise ValueError("give a class (id or name) or indices")
        b = group_by(by)
        if isinstance(cls, str):
            ptr = new_handle("barlow_group", lib.barlow_group_create_by_name, self.ptr, b,
                             cls.encode())
            cid = self.class_id(cls)
        else:
            cid = int(cls)
            ptr = new_handle("barlow_group", lib.barlow_group_create, self.ptr, b, cid)
        return Group(ptr, by, cid, self.class_name(cid))

    def __repr__(self):
        if self.closed:
            return "<barlow.Dataset (closed)>"
        preds = "" if self.has_predictions else ", no predictions"
        return f"<barlow.Dataset {self.size} rows, {self.class_count} classes{preds}>"


class Group(Handle):
    """Rows of a dataset (a snapshot: it does not refer to the dataset)."""

    _free = "barlow_group_free"

    def __init__(self, ptr, by, class_id, class_name):
        super().__init__(ptr)
        self.by, self.class_id, self.class_name = by, class_id, class_name

    @property
    def size(self):
        return lib.barlow_group_size(self.ptr)

    def __len__(self):
        return self.size

    @property
    def indices(self):
        """Member rows of the dataset (a read-only view, dtype uintp)."""
        return _array.view(lib.barlow_group_indices(self.ptr), (self.size,), np.uintp,
                           self._keep())

    @property
    def dataset_size(self):
        return lib.barlow_group_dataset_size(self.ptr)

    @property
    def has_predictions(self):
        return bool(lib.barlow_group_has_predictions(self.ptr))

    @property
    def failures(self):
        """uint8 flags, 1 where the member's prediction != its label."""
        out = np.zeros(self.size, np.uint8)
        check(lib.barlow_group_failures(self.ptr, _array.ptr("uint8_t", out)
                                        if len(out) else ffi.NULL))
        return out

    @property
    def failure_count(self):
        out = ffi.new("size_t *")
        check(lib.barlow_group_failure_count(self.ptr, out))
        return out[0]

    @property
    def base_error_rate(self):
        out = ffi.new("double *")
        check(lib.barlow_group_base_error_rate(self.ptr, out))
        return out[0]

    def gather(self, features):
        """The members' rows of `features` (one row per dataset row: a Matrix
        or a float32 array, read in place) as a new owned Matrix."""
        m = as_matrix(features)
        return Matrix(new_handle("barlow_matrix", lib.barlow_group_gather_rows, self.ptr,
                                 m.ptr))

    def __repr__(self):
        if self.closed:
            return "<barlow.Group (closed)>"
        what = (f"{self.by} == {self.class_name!r}" if self.by else "given rows")
        return f"<barlow.Group {what}: {self.size} rows>"
