"""barlow.Extractor: penultimate features (and logits) of a TorchScript model
(include/barlow/extractor.h, docs/extractor.md, the model contract in
docs/models.md).

    ex = barlow.Extractor("models/fmnist_robust.pt", input_size=28, resize=0,
                          channels=1)
    r = ex.extract(dataset)             # an Extraction
    r.features.numpy()                  # m x D float32, a view (no copy)
    r.index                             # the dataset row of each feature row
    r.save_npz("features.npz")          # as `barlow extract` writes it

    barlow.extract("robust.pt", dataset)  # one call; IDX datasets get their
                                          # image size, no resize, their channels

Threads and the GIL: cffi releases the GIL around every library call, so
other Python threads run while a model runs (the library's own workers
decode images meanwhile). An Extractor runs one call at a time: calls from
several threads on one Extractor wait for each other (libbarlow requires
exclusive use), and a call made from inside a progress callback of the same
Extractor raises :class:`barlow.errors.State`. Results (Extraction) are
immutable and may be read from any thread.

Ctrl-C during ``extract``/``predict`` stops the library within one batch and
raises KeyboardInterrupt; ``Progress.cancel()`` from another thread raises
:class:`barlow.errors.Cancelled` (see :mod:`barlow.progress`).

Trust: a TorchScript file is code (docs/models.md); load only models you
trust, and pin them with ``sha256=``.
"""
import collections
import os
import threading
from contextlib import contextmanager

import numpy as np

from . import _array, errors
from . import progress as _progress
from ._ffi import ffi, lib, path_bytes, string
from ._handle import Handle, new_handle, set_fields
from .errors import check
from .matrix import Matrix

__all__ = ["Extractor", "Extraction", "FailedRow", "extract", "has_torch"]

_OUTPUT_BITS = {"features": lib.BARLOW_EXTRACT_FEATURES, "logits": lib.BARLOW_EXTRACT_LOGITS}
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

FailedRow = collections.namedtuple("FailedRow", "row status status_name reason")
FailedRow.__doc__ = """A dataset row whose image was skipped: `status` (negative barlow_status,
e.g. BARLOW_E_IO), its name, and the library's reason naming the file."""


def has_torch():
    """True when the feature extractor works here (libbarlow built with
    libtorch and its plugin loads; the first call loads libtorch, ~1 s)."""
    return bool(lib.barlow_has_torch())


def _dataset_ptr(ds):
    if ds is None:
        raise TypeError("a barlow.Dataset is required")
    p = getattr(ds, "ptr", None)
    if p is None:
        p = getattr(ds, "_ptr", None)
    if p is None:
        raise TypeError(f"expected a barlow.Dataset, not {type(ds).__name__}")
    return p


def _dataset_keep(ds):
    k = getattr(ds, "_keep", None)
    return k() if callable(k) else _dataset_ptr(ds)


class _Exclusive:
    """One call at a time on a handle: other threads wait; the same thread
    (a progress callback calling back in) gets errors.State."""

    def __init__(self, what):
        self.what = what
        self._lock = threading.Lock()
        self._owner = None

    @contextmanager
    def __call__(self):
        me = threading.get_ident()
        if self._owner == me:
            raise errors.State(f"{self.what} is already running a call on this thread "
                               "(a progress callback must not call into the handle that "
                               "is running it)")
        with self._lock:
            self._owner = me
            try:
                yield
            finally:
                self._owner = None


def _triple(v, name):
    if np.ndim(v) == 0:
        v = (float(v),) * 3
    v = [float(x) for x in v]
    if len(v) == 1:
        v = v * 3
    if len(v) != 3:
        raise ValueError(f"{name} needs 1 or 3 values (one per channel), got {len(v)}")
    return v


def _as_input(x, ex):
    """x as a C-contiguous float32 N x C x H x W array (3-D: one image)."""
    a = np.asarray(x)
    single = a.ndim == 3
    if single:
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"the input must be N x C x H x W (or C x H x W); got shape {a.shape}")
    c, s = ex.channels, ex.input_size
    if a.shape[1:] != (c, s, s):
        raise ValueError(f"the input must be N x {c} x {s} x {s} for this model; got shape "
                         f"{a.shape}")
    if a.shape[0] == 0:
        raise ValueError("the input holds no image (N = 0)")
    if a.dtype != np.float32:
        if a.dtype.kind not in "fiub":
            raise TypeError(f"the input must be float32 values in [0,1]; got {a.dtype}")
        a = a.astype(np.float32)
    return np.ascontiguousarray(a), single


class Extractor(Handle):
    """A TorchScript model loaded for feature extraction.

    ``Extractor(model, *, input_size=224, resize=256, channels=3,
    normalize=None, mean=None, std=None, batch_size=32, threads=0,
    device="cpu", sha256=None, outputs=("features",), optimize=True,
    decode_threads=0, model_batch=0, tune_malloc=True, max_image_side=None,
    max_image_pixels=None)``

    * model: a path of a TorchScript file (``torch.jit.save``), or its bytes;
    * input_size: the model input H = W (images are centre-cropped to it);
      resize: the images' shorter side before the crop (0 = none, e.g.
      28x28 IDX images); channels: 1 (grey) or 3 (RGB);
    * normalize: None/False = the model normalises itself; True or
      "imagenet" = ImageNet's mean/std; a pair (mean, std); or give
      ``mean=``/``std=`` (1 or 3 values). Applied inside the differentiable
      path: (x - mean) / std;
    * batch_size: images per step (the unit of progress and cancel);
      threads: libtorch intra-op threads (0 = all cores); device: "cpu",
      "cuda", "cuda:N";
    * sha256: the model file's expected SHA-256 (64 hex digits): loading
      fails unless it matches, before libtorch parses a byte;
    * outputs: ("features",), ("features", "logits") or ("logits",);
    * optimize: run libtorch's frozen, optimised copy (results within
      ~1e-5 relative of the model as loaded).

    Raises the library's errors (``barlow.errors``): IOFailure (missing
    file), Format (not TorchScript, a checkpoint to convert, a broken
    contract, SHA-256 mismatch), Unsupported (no libtorch, a device not
    available), Backend (the model raised in the dry run), InvalidArgument.
    """

    _free = "barlow_extractor_free"

    def __init__(self, model, *, input_size=224, resize=256, channels=3, normalize=None,
                 mean=None, std=None, batch_size=32, threads=0, device="cpu", sha256=None,
                 outputs=("features",), optimize=True, decode_threads=0, model_batch=0,
                 tune_malloc=True, max_image_side=None, max_image_pixels=None):
        o = ffi.new("barlow_extractor_options *")
        lib.barlow_extractor_options_init(o)
        norm_mean, norm_std = mean, std
        if isinstance(normalize, str):
            if normalize.lower() != "imagenet":
                raise ValueError(f"normalize: unknown preset {normalize!r} (use 'imagenet', "
                                 "True, or a (mean, std) pair)")
            normalize = True
        elif isinstance(normalize, (tuple, list)) and len(normalize) == 2:
            norm_mean, norm_std = normalize
            normalize = True
        elif normalize not in (None, True, False):
            raise TypeError("normalize must be None, False, True, 'imagenet' or (mean, std)")
        if norm_mean is not None or norm_std is not None:
            if normalize is False:
                raise ValueError("mean/std given with normalize=False")
            normalize = True
        m = _triple(norm_mean if norm_mean is not None else _IMAGENET_MEAN, "mean")
        s = _triple(norm_std if norm_std is not None else _IMAGENET_STD, "std")
        for i in range(3):
            o.mean[i], o.std[i] = m[i], s[i]
        if isinstance(outputs, str):
            outputs = (outputs,)
        bits = 0
        for name in outputs:
            if name not in _OUTPUT_BITS:
                raise ValueError(f"outputs: unknown output {name!r} (use 'features' and/or "
                                 "'logits')")
            bits |= _OUTPUT_BITS[name]
        if not bits:
            raise ValueError("outputs: give 'features' and/or 'logits'")
        fields = dict(input_size=input_size, resize=resize, channels=channels,
                      normalize=1 if normalize else 0, batch_size=batch_size,
                      threads=threads, decode_threads=decode_threads, outputs=bits,
                      optimize=1 if optimize else 0, model_batch=model_batch,
                      tune_malloc=1 if tune_malloc else 0)
        if max_image_side is not None:
            fields["max_image_side"] = max_image_side
        if max_image_pixels is not None:
            fields["max_image_pixels"] = max_image_pixels
        set_fields(o, "Extractor", **fields)
        keep = []
        if device is not None:
            keep.append(ffi.new("char[]", str(device).encode()))
            o.device = keep[-1]
        if sha256 is not None:
            keep.append(ffi.new("char[]", str(sha256).encode()))
            o.sha256 = keep[-1]

        if isinstance(model, (bytes, bytearray, memoryview)):
            buf = ffi.from_buffer(model)
            ptr = new_handle("barlow_extractor", lib.barlow_extractor_create_from_memory,
                             buf, len(buf), o)
            self.model_path = None
        else:
            ptr = new_handle("barlow_extractor", lib.barlow_extractor_create_from_file,
                             path_bytes(model), o)
            self.model_path = os.fspath(model)
        super().__init__(ptr)
        self.outputs = tuple(n for n in ("features", "logits") if bits & _OUTPUT_BITS[n])
        self.batch_size = batch_size
        self.threads = threads
        self.device = device
        self._busy = _Exclusive("this Extractor")

    # ---- properties -----------------------------------------------------------

    @property
    def feature_dim(self):
        """D, the number of penultimate features."""
        return lib.barlow_extractor_feature_count(self.ptr)

    @property
    def num_classes(self):
        """K, the number of logits (0 when logits were not requested)."""
        return lib.barlow_extractor_class_count(self.ptr)

    @property
    def input_size(self):
        """The model input's H = W."""
        return lib.barlow_extractor_input_size(self.ptr)

    @property
    def channels(self):
        """The model input's channel count C."""
        return lib.barlow_extractor_input_channels(self.ptr)

    @property
    def input_shape(self):
        """(C, H, W) of one image of the model input."""
        s = self.input_size
        return (self.channels, s, s)

    @property
    def feature_map_size(self):
        """(h, w) of the last feature map at the input size."""
        return (lib.barlow_extractor_feature_map_height(self.ptr),
                lib.barlow_extractor_feature_map_width(self.ptr))

    @property
    def has_forward_features(self):
        """True when the module defines forward_features itself."""
        return bool(lib.barlow_extractor_has_forward_features(self.ptr))

    @property
    def is_optimized(self):
        """True when inference runs libtorch's frozen, optimised copy."""
        return bool(lib.barlow_extractor_is_optimized(self.ptr))

    def __repr__(self):
        if self.closed:
            return "<barlow.Extractor (closed)>"
        c, s = self.channels, self.input_size
        k = f", {self.num_classes} logits" if self.num_classes else ""
        name = f" {self.model_path!r}" if self.model_path else ""
        return f"<barlow.Extractor{name} {c}x{s}x{s} -> {self.feature_dim} features{k}>"

    # ---- whole datasets -----------------------------------------------------------

    def extract(self, dataset, progress=None):
        """Features (and logits, when requested) of every row of `dataset`,
        in row order, as an :class:`Extraction`. Images that cannot be read
        (or give NaN/inf) are skipped and listed in ``.failed``; only when
        every image fails is it an error. progress: see
        :mod:`barlow.progress` (counts images). Runs with the GIL released."""
        return self._whole(lib.barlow_extractor_extract, "extract", dataset, (), progress)

    def predict(self, dataset, progress=None):
        """Runs the model (created with outputs including "logits") over
        `dataset` and sets the dataset's predictions to the argmax of the
        logits, in place. Rows whose image failed get their label as
        prediction. Returns the :class:`Extraction` (features when
        requested, logits, argmax, failed rows). The dataset is unchanged on
        failure (including Ctrl-C and cancel)."""
        return self._whole(lib.barlow_extractor_predict, "predict", dataset, (), progress)

    def extract_range(self, dataset, begin, end, progress=None):
        """Features of dataset rows begin..end-1 only (one shard of a
        sharded extraction: :func:`barlow.shard_range`), as :meth:`extract`
        does for every row; the Extraction's index holds dataset rows."""
        return self._whole(lib.barlow_extractor_extract_range, "extract", dataset,
                           (begin, end), progress)

    def predict_range(self, dataset, begin, end, progress=None):
        """:meth:`predict` for dataset rows begin..end-1 only; the other
        rows keep their predictions (their labels when there were none)."""
        return self._whole(lib.barlow_extractor_predict_range, "predict", dataset,
                           (begin, end), progress)

    def _whole(self, fn, what, dataset, args, progress):
        """fn(ex, dataset, *args, progress, user, &out): one dataset call,
        exclusive, with progress and cancel; an Extraction or raises."""
        dsp = _dataset_ptr(dataset)
        out = ffi.new("barlow_extraction **")
        with self._busy(), _progress.call(progress, what, "img") as c:
            st = fn(self.ptr, dsp, *args, c.fn, c.user, out)
            res = Extraction(out[0], dataset, self) if st == 0 else None
            c.finish(st)
        return res

    @property
    def model_sha256(self):
        """The SHA-256 of the model's bytes (hex), computed at load."""
        return string(lib.barlow_extractor_model_sha256(self.ptr))

    def load_inputs(self, dataset, rows):
        """Rows of `dataset` decoded and preprocessed as extraction does:
        an N x C x H x W float32 array in [0,1]."""
        idx = np.ascontiguousarray(np.asarray(rows, dtype=np.int64).ravel(), dtype=np.uintp)
        if len(idx) == 0:
            raise ValueError("load_inputs: no rows given")
        out = np.empty((len(idx),) + self.input_shape, np.float32)
        check(lib.barlow_extractor_load_inputs(self.ptr, _dataset_ptr(dataset),
                                               _array.ptr("size_t", idx), len(idx),
                                               _array.ptr("float", out)))
        return out

    # ---- tensors ----------------------------------------------------------------

    def run(self, x, *, features=None, logits=None):
        """Runs the model on a float32 N x C x H x W batch in [0,1] (C x H x W:
        one image). Returns the features (N x D), the logits (N x K), or the
        pair (features, logits) when both are wanted. By default it returns
        what the extractor was created to compute (its ``outputs``). The
        values are the model's own, unchecked (see extractor.h)."""
        a, single = _as_input(x, self)
        if features is None:
            features = "features" in self.outputs
        if logits is None:
            logits = "logits" in self.outputs
        if not features and not logits:
            raise ValueError("run: ask for features and/or logits")
        n = a.shape[0]
        f = np.empty((n, self.feature_dim), np.float32) if features else None
        lg = np.empty((n, self.num_classes), np.float32) if logits else None
        with self._busy():
            check(lib.barlow_extractor_run(self.ptr, _array.ptr("float", a), n,
                                           _array.ptr("float", f), _array.ptr("float", lg)))
        if single:
            f = f[0] if f is not None else None
            lg = lg[0] if lg is not None else None
        if features and logits:
            return f, lg
        return f if features else lg

    __call__ = run

    def feature_map(self, x, channel):
        """Channel `channel` of the last feature map (before pooling) for a
        batch: N x h x w float32 (h x w: 1 image)."""
        a, single = _as_input(x, self)
        h, w = self.feature_map_size
        out = np.empty((a.shape[0], h, w), np.float32)
        with self._busy():
            check(lib.barlow_extractor_feature_map(self.ptr, _array.ptr("float", a),
                                                   a.shape[0], channel,
                                                   _array.ptr("float", out)))
        return out[0] if single else out

    def feature_gradient(self, x, feature):
        """(values, grad): penultimate feature `feature` of each image (N)
        and its gradient with respect to the input pixels (N x C x H x W),
        by autograd."""
        a, single = _as_input(x, self)
        n = a.shape[0]
        values = np.empty(n, np.float32)
        grad = np.empty_like(a)
        with self._busy():
            check(lib.barlow_extractor_feature_gradient(self.ptr, _array.ptr("float", a), n,
                                                        feature, _array.ptr("float", values),
                                                        _array.ptr("float", grad)))
        if single:
            return values[0], grad[0]
        return values, grad


class Extraction(Handle):
    """The result of :meth:`Extractor.extract` or :meth:`Extractor.predict`.

    * ``features`` / ``logits``: :class:`barlow.Matrix` (m x D, m x K),
      read-only, sharing the result's memory (``.numpy()`` is a view), or
      None when not computed; ``features_array`` / ``logits_array`` are the
      numpy views;
    * ``index``: int64 array of the dataset row of each of the m rows;
    * ``argmax``: int32 array (m) of the logits' argmax, or None;
    * ``failed``: list of :class:`FailedRow` (row, status, status_name,
      reason) of the skipped images; ``status``: int32 array (n) per
      dataset row (0 or the failure's status), as in the .npz;
    * ``save_npz(path, dataset=None)``: the file ``barlow extract`` writes.

    Views keep the result alive; the result is immutable (thread-safe).
    """

    _free = "barlow_extraction_free"

    def __init__(self, ptr, dataset=None, extractor=None):
        super().__init__(ptr)
        self._dataset = dataset
        self.extractor = extractor

    @property
    def dataset_size(self):
        """n, the dataset rows the extraction covered."""
        return lib.barlow_extraction_dataset_size(self.ptr)

    @property
    def count(self):
        """m, the images extracted."""
        return lib.barlow_extraction_count(self.ptr)

    def __len__(self):
        return self.count

    @property
    def failed_count(self):
        return lib.barlow_extraction_failed_count(self.ptr)

    def _matrix(self, m):
        if m == ffi.NULL:
            return None
        return Matrix(m, keep=self._keep(), borrowed=True, readonly=True)

    @property
    def features(self):
        """m x D features as a read-only Matrix view, or None."""
        return self._matrix(lib.barlow_extraction_features(self.ptr))

    @property
    def logits(self):
        """m x K logits as a read-only Matrix view, or None."""
        return self._matrix(lib.barlow_extraction_logits(self.ptr))

    @property
    def features_array(self):
        m = self.features
        return None if m is None else m.numpy()

    @property
    def logits_array(self):
        m = self.logits
        return None if m is None else m.numpy()

    @property
    def argmax(self):
        p = lib.barlow_extraction_argmax(self.ptr)
        if p == ffi.NULL:
            return None
        return _array.view(p, (self.count,), np.int32, self._keep())

    @property
    def index(self):
        """The dataset row of each extracted row (ascending), int64 view."""
        p = lib.barlow_extraction_index(self.ptr)
        return _array.view(p, (self.count,), np.intp, self._keep())

    def _failed_rows(self):
        begin = self.range[0]
        mask = np.ones(self.dataset_size, bool)
        mask[self.index - begin] = False
        return begin + np.flatnonzero(mask)

    @property
    def failed(self):
        """The skipped rows, in row order, as FailedRow tuples."""
        out = []
        for r in self._failed_rows():
            st = lib.barlow_extraction_row_status(self.ptr, int(r))
            out.append(FailedRow(int(r), st, errors._NAMES.get(st, str(st)),
                                 string(lib.barlow_extraction_row_reason(self.ptr, int(r)))))
        return out

    @property
    def status(self):
        """int32 array (n, the rows covered): 0 per extracted row, else its
        failure status."""
        s = np.zeros(self.dataset_size, np.int32)
        begin = self.range[0]
        for r in self._failed_rows():
            s[r - begin] = lib.barlow_extraction_row_status(self.ptr, int(r))
        return s

    def row_status(self, row):
        return lib.barlow_extraction_row_status(self.ptr, row)

    def row_reason(self, row):
        return string(lib.barlow_extraction_row_reason(self.ptr, row))

    def save_npz(self, path, dataset=None):
        """Writes the .npz of `barlow extract` (features, logits, index,
        labels, predictions, status, class_names) atomically. dataset:
        the one extracted from (default: the one given to extract)."""
        ds = dataset if dataset is not None else self._dataset
        check(lib.barlow_extraction_save_npz(self.ptr, _dataset_ptr(ds), path_bytes(path)))

    @property
    def range(self):
        """(begin, end): the dataset rows covered, begin..end-1."""
        b, e = ffi.new("size_t *"), ffi.new("size_t *")
        lib.barlow_extraction_range(self.ptr, b, e)
        return (b[0], e[0])

    def save_shard(self, path, index, count, *, dataset=None, extractor=None,
                   predict_sha256=None):
        """Writes this range extraction as shard `index` of `count`
        (barlow_extraction_save_shard: the .npz of save_npz with the
        features stored for mapping and the shard's metadata), atomically.
        extractor: the one that extracted it (default: that of
        extract_range); predict_sha256: the SHA-256 of the model that made
        the dataset's predictions, recorded and compared by merge."""
        ds = dataset if dataset is not None else self._dataset
        ex = extractor if extractor is not None else self.extractor
        if ex is None:
            raise ValueError("save_shard: give the extractor that made this extraction")
        o = ffi.new("barlow_shard_options *")
        lib.barlow_shard_options_init(o)
        o.index = index
        o.count = count
        sha = ffi.new("char[]", predict_sha256.encode()) if predict_sha256 else ffi.NULL
        o.predict_sha256 = sha
        check(lib.barlow_extraction_save_shard(self.ptr, _dataset_ptr(ds), ex.ptr, o,
                                               path_bytes(path)))

    def __repr__(self):
        if self.closed:
            return "<barlow.Extraction (closed)>"
        what = []
        if lib.barlow_extraction_features(self.ptr) != ffi.NULL:
            what.append("features")
        if lib.barlow_extraction_logits(self.ptr) != ffi.NULL:
            what.append("logits")
        return (f"<barlow.Extraction {self.count} of {self.dataset_size} rows "
                f"({'+'.join(what)}), {self.failed_count} failed>")


def _dataset_input_defaults(dataset):
    """For datasets holding their images in memory (IDX, arrays): the
    image's size, no resize, its channels — what `barlow extract --idx`
    uses. {} for datasets of image files."""
    fn = getattr(lib, "barlow_dataset_image_shape", None)
    if fn is None:
        return {}
    h, w, c = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
    if fn(_dataset_ptr(dataset), h, w, c) != 0:
        return {}
    return {"input_size": max(h[0], w[0]), "resize": 0, "channels": c[0]}


def extract(model, dataset, *, progress=None, **options):
    """One call: loads `model` (a path, bytes, or an :class:`Extractor`)
    and extracts every row of `dataset`; returns the :class:`Extraction`.

    options are :class:`Extractor`'s. For a dataset whose images are in
    memory (IDX), input_size, resize and channels default to the images'
    size, 0 and their channel count (as ``barlow extract --idx``); for
    image files, to 224, 256 and 3."""
    if isinstance(model, Extractor):
        if options:
            raise TypeError("extract: options apply only when `model` is a path or bytes")
        return model.extract(dataset, progress=progress)
    for k, v in _dataset_input_defaults(dataset).items():
        options.setdefault(k, v)
    ex = Extractor(model, **options)
    return ex.extract(dataset, progress=progress)
