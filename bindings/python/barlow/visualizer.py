"""barlow.Visualizer: what a feature looks at (include/barlow/visualizer.h,
docs/visualizer.md), and barlow.Image, the library's 8-bit images.

    vis = barlow.Visualizer(robust_extractor, dataset, extraction, k=6,
                            attack_steps=200)
    fv = vis.view(1378, rows=group, caption="label: cat")
    fv                      # shows the panel in Jupyter (_repr_png_)
    fv.tiles("top")         # [{'row': 17, 'value': 3.2, 'label': 0, ...}, ...]
    fv.maps()               # k x h x w raw heatmaps (a numpy view)
    fv.save("feature_1378.png")
    vis.failure_panel(leaf_rows, "feature 1378 <= 0.089")

Rows are always dataset rows (an int sequence, a numpy array, a bool mask
over the dataset, or a barlow.Group); the features may have one row per
*extracted* image: give the Extraction itself (its index is used) or
``index=``.

Borrowing: the library's visualizer borrows the extractor, the dataset, the
features, the index and the logits. The Visualizer keeps references to all
of them (and frees its handle before any of them), so the objects may be
dropped or closed in any order. They must not change while it lives (a
numpy array given as features is read in place).

Threads: the visualizer runs the extractor; its calls hold the Visualizer
and the Extractor for their duration (calls from other threads wait; a
progress callback calling back in raises barlow.errors.State). cffi releases
the GIL during the calls, so other Python threads run meanwhile. Ctrl-C
during an attack (``attack``, ``view``) stops it within one step and raises
KeyboardInterrupt; see :mod:`barlow.progress`.
"""
import collections
import contextlib
import math

import numpy as np

from . import _array
from . import progress as _progress
from ._ffi import ffi, lib, path_bytes, take_buffer
from ._handle import Handle, new_handle, set_fields
from .errors import check
from .extractor import Extraction, Extractor, _dataset_keep, _dataset_ptr, _Exclusive
from .matrix import as_matrix

__all__ = ["Visualizer", "FeatureView", "Image", "Ranking", "Attack", "render_heatmap"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_SCALES = {"shared": lib.BARLOW_HEATMAP_SHARED, "per_image": lib.BARLOW_HEATMAP_PER_IMAGE,
           "per-image": lib.BARLOW_HEATMAP_PER_IMAGE}
_ROWS = {"top": lib.BARLOW_VIEW_TOP, "least": lib.BARLOW_VIEW_LEAST,
         "heatmap": lib.BARLOW_VIEW_HEATMAP, "attack": lib.BARLOW_VIEW_ATTACK}

Ranking = collections.namedtuple("Ranking", "rows values considered")
Ranking.__doc__ = """Visualizer.rank's result: dataset rows best first, their feature values,
and how many rows of the set had features."""
Attack = collections.namedtuple("Attack", "images before after distance")
Attack.__doc__ = """Visualizer.attack's result: attacked inputs (n x C x H x W in [0,1]), the
feature before and after, and the L2 distance moved (each n floats)."""


def _gc_keeping(ptr, free, keep):
    """ffi.gc(ptr) whose destructor holds `keep`: what a handle borrows is
    released only after the handle itself was freed, whatever the order in
    which Python drops the objects."""
    def destructor(p, _keep=keep):
        free(p)
    return ffi.gc(ptr, destructor)


# ---- images -----------------------------------------------------------------------


class Image(Handle):
    """A barlow_image: height x width x channels uint8 (channels 1 or 3).

    ``numpy()`` is a view of the pixels (read-only for images owned by a
    FeatureView), ``png()`` / ``_repr_png_()`` the PNG bytes (Jupyter shows
    the image), ``save_png(path)`` writes a file atomically."""

    _free = "barlow_image_free"

    def __init__(self, ptr, keep=None, borrowed=False):
        super().__init__(ptr, keep, borrowed)
        self.readonly = borrowed

    @classmethod
    def open(cls, path, channels=0):
        """Decodes a JPEG, PNG or BMP file (channels: 0 = as stored (grey
        or RGB), 1, or 3)."""
        o = ffi.new("barlow_image_options *")
        lib.barlow_image_options_init(o)
        set_fields(o, "Image.open", channels=channels)
        return cls(new_handle("barlow_image", lib.barlow_image_decode_file, path_bytes(path), o))

    @classmethod
    def from_numpy(cls, array):
        """A copy of an H x W (grey) or H x W x C (C = 1 or 3) uint8 array."""
        a = np.asarray(array)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3 or a.shape[2] not in (1, 3):
            raise ValueError(f"an image is H x W, H x W x 1 or H x W x 3; got shape {a.shape}")
        if a.dtype != np.uint8:
            raise TypeError(f"image pixels must be uint8; got {a.dtype}")
        img = cls(new_handle("barlow_image", lib.barlow_image_create, a.shape[1], a.shape[0],
                             a.shape[2]))
        img.numpy()[...] = a
        return img

    @property
    def width(self):
        return lib.barlow_image_width(self.ptr)

    @property
    def height(self):
        return lib.barlow_image_height(self.ptr)

    @property
    def channels(self):
        return lib.barlow_image_channels(self.ptr)

    @property
    def shape(self):
        """(height, width, channels), numpy's order."""
        return (self.height, self.width, self.channels)

    @property
    def size(self):
        """(width, height), PIL's order."""
        return (self.width, self.height)

    def numpy(self):
        """A view H x W x C uint8 of the pixels (no copy; it keeps the image
        alive)."""
        p = lib.barlow_image_data(self.ptr)
        return _array.view(p, self.shape, np.uint8, self._keep(), readonly=self.readonly)

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def png(self):
        """The image encoded as PNG (bytes)."""
        buf = ffi.new("barlow_buffer *")
        check(lib.barlow_image_encode_png(self.ptr, buf))
        return take_buffer(buf)

    def _repr_png_(self):
        return self.png()

    def save_png(self, path):
        """Writes a PNG file atomically (a temporary file renamed onto path)."""
        check(lib.barlow_image_save_png(self.ptr, path_bytes(path)))

    save = save_png

    def to_pil(self):
        """A PIL.Image copy (needs Pillow)."""
        from PIL import Image as PILImage
        a = self.numpy()
        return PILImage.fromarray(a[:, :, 0] if a.shape[2] == 1 else a.copy())

    def __repr__(self):
        if self.closed:
            return "<barlow.Image (closed)>"
        return f"<barlow.Image {self.width}x{self.height}x{self.channels}>"


def render_heatmap(image, heatmap, max=None, alpha=0.6):
    """Renders an h x w map over `image` (an Image or a uint8 H x W [x C]
    array): clamped at 0, divided by `max` (default: the map's maximum),
    resized bilinearly, JET-coloured and blended with opacity alpha x
    activation. Returns a new RGB Image."""
    img = image if isinstance(image, Image) else Image.from_numpy(image)
    m = np.ascontiguousarray(heatmap, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"the map must be h x w; got shape {m.shape}")
    if max is None:
        max = float(m.max()) if m.size else 0.0
    out = ffi.new("barlow_image **")
    check(lib.barlow_visualizer_render_heatmap(img.ptr, _array.ptr("float", m), m.shape[0],
                                               m.shape[1], max, alpha, out))
    return Image(out[0])


# ---- the visualizer -------------------------------------------------------------------


class Visualizer(Handle):
    """What a feature looks at, on dataset rows.

    ``Visualizer(extractor, dataset, features, index=None, *, k=6,
    least=False, scale="shared", heatmap_alpha=0.6, attack=True,
    attack_steps=1000, attack_step=None, attack_eps=None,
    attack_scale_to_input=None, seed=0, tile_size=112, logits=None)``

    * extractor: the robust model's :class:`Extractor` (its input size,
      channels and preprocessing load the images);
    * dataset: the :class:`Dataset` the features come from;
    * features: an :class:`Extraction` (its features and index are used),
      a :class:`Matrix` or a float32 m x D array (read in place);
    * index: the dataset row of each feature row (None: one feature row per
      dataset row, or the Extraction's index);
    * attack_step / attack_eps: the attack's L2 step and radius; None keeps
      the library's defaults (1.0 and 500.0 for a 3x224x224 input, scaled
      by sqrt(C*H*W / 150528) to the model's input). When either is given
      the values are used as they are, unless attack_scale_to_input=True;
    * logits: the *inspected* model's logits (one row per feature row) for
      the most-confident-failures row of failure panels (see set_logits).
    """

    _free = "barlow_visualizer_free"

    def __init__(self, extractor, dataset, features, index=None, *, k=6, least=False,
                 scale="shared", heatmap_alpha=0.6, attack=True, attack_steps=1000,
                 attack_step=None, attack_eps=None, attack_scale_to_input=None, seed=0,
                 tile_size=112, logits=None):
        if not isinstance(extractor, Extractor):
            raise TypeError(f"extractor must be a barlow.Extractor, not "
                            f"{type(extractor).__name__}")
        if isinstance(features, Extraction):
            if index is None:
                index = features.index
            mat = features.features
            if mat is None:
                raise ValueError("the Extraction holds no features (outputs=('logits',))")
        else:
            mat = as_matrix(features)
        if scale not in _SCALES:
            raise ValueError(f"scale must be 'shared' or 'per_image'; got {scale!r}")
        o = ffi.new("barlow_visualizer_options *")
        lib.barlow_visualizer_options_init(o)
        fields = dict(k=k, least=1 if least else 0, scale=_SCALES[scale],
                      heatmap_alpha=heatmap_alpha, attack=1 if attack else 0,
                      attack_steps=attack_steps, seed=seed, tile_size=tile_size)
        if attack_step is not None:
            fields["attack_step"] = attack_step
        if attack_eps is not None:
            fields["attack_eps"] = attack_eps
        if attack_scale_to_input is None:
            attack_scale_to_input = attack_step is None and attack_eps is None
        fields["attack_scale_to_input"] = 1 if attack_scale_to_input else 0
        set_fields(o, "Visualizer", **fields)

        if index is not None:
            idx = np.asarray(index)
            if idx.ndim != 1:
                raise ValueError(f"index must be 1-D; got shape {idx.shape}")
            if idx.dtype.kind not in "iu":
                raise TypeError(f"index must hold integer dataset rows; got {idx.dtype}")
            if idx.dtype.kind == "i" and len(idx) and idx.min() < 0:
                raise ValueError(f"index holds a negative row ({idx.min()})")
            idx = np.ascontiguousarray(idx).astype(np.uintp, copy=False)
            idx_ptr, n_idx = _array.ptr("size_t", idx), len(idx)
        else:
            idx, idx_ptr, n_idx = None, ffi.NULL, 0

        exp = extractor.ptr
        dsp = _dataset_ptr(dataset)
        # everything the library borrows, held until after the handle is freed
        borrowed = [extractor._keep(), _dataset_keep(dataset), mat._keep(), idx]
        out = ffi.new("barlow_visualizer **")
        with extractor._busy():
            check(lib.barlow_visualizer_create(exp, dsp, mat.ptr, idx_ptr, n_idx, o, out))
        super().__init__(_gc_keeping(out[0], lib.barlow_visualizer_free, borrowed),
                         keep=borrowed, borrowed=True)
        self.extractor = extractor
        self.dataset = dataset
        self.features = mat
        self.index = idx
        self.k = k
        self._logits = None
        self._busy = _Exclusive("this Visualizer")
        self._n = lib.barlow_dataset_size(dsp)
        self._input_shape = extractor.input_shape
        self._map_size = extractor.feature_map_size
        if logits is not None:
            self.set_logits(logits)

    # ---- helpers ---------------------------------------------------------------

    def _rows(self, rows, name="rows"):
        """rows as a C-contiguous size_t array of dataset rows."""
        if rows is None:
            return np.arange(self._n, dtype=np.uintp)
        if hasattr(rows, "indices") and not isinstance(rows, np.ndarray):
            rows = rows.indices  # a barlow.Group
        r = np.asarray(rows)
        if r.ndim == 0:
            r = r.reshape(1)
        if r.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {r.shape}")
        if r.dtype == np.bool_:
            if len(r) != self._n:
                raise ValueError(f"{name}: a bool mask needs one entry per dataset row "
                                 f"({self._n}); got {len(r)}")
            return np.flatnonzero(r).astype(np.uintp)
        if len(r) == 0:
            return np.zeros(0, np.uintp)
        if r.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integer dataset rows; got {r.dtype}")
        if r.dtype.kind == "i" and r.min() < 0:
            raise ValueError(f"{name} holds a negative row ({r.min()})")
        return np.ascontiguousarray(r).astype(np.uintp, copy=False)

    def _exclusive(self):
        """Holds the Visualizer and its Extractor (it runs the model)."""
        stack = contextlib.ExitStack()
        stack.enter_context(self._busy())
        try:
            stack.enter_context(self.extractor._busy())
        except BaseException:
            stack.close()
            raise
        return stack

    # ---- the pieces --------------------------------------------------------------

    @property
    def attack_budget(self):
        """(step, eps) of the attack for this model's input, after scaling."""
        s, e = ffi.new("double *"), ffi.new("double *")
        lib.barlow_visualizer_attack_budget(self.ptr, s, e)
        return s[0], e[0]

    def set_logits(self, logits):
        """The inspected model's logits (m x K, one row per feature row;
        a Matrix, an Extraction's logits, or a float32 array read in place),
        or None to forget them. Enables confident_failures and the second
        row of failure panels."""
        if logits is None:
            with self._busy():
                check(lib.barlow_visualizer_set_logits(self.ptr, ffi.NULL))
            self._logits = None
            return
        if isinstance(logits, Extraction):
            logits = logits.logits
        m = as_matrix(logits, name="logits")
        with self._busy():
            check(lib.barlow_visualizer_set_logits(self.ptr, m.ptr))
            # held by the handle's destructor too (the same list)
            self._keep_alive.append(m._keep())
            self._logits = m

    def rank(self, feature, rows=None, *, least=False, k=None):
        """The k rows of `rows` (default: all) with the highest (least=True:
        lowest) values of `feature`, best first; rows without features are
        skipped. Returns Ranking(rows, values, considered)."""
        k = self.k if k is None else k
        r = self._rows(rows)
        out_rows = np.zeros(max(k, 1), np.uintp)
        out_vals = np.zeros(max(k, 1), np.float32)
        n_out, n_cons = ffi.new("size_t *"), ffi.new("size_t *")
        with self._busy():
            check(lib.barlow_visualizer_rank(self.ptr, feature,
                                             _array.ptr("size_t", r) if len(r) else ffi.NULL,
                                             len(r), 1 if least else 0, k,
                                             _array.ptr("size_t", out_rows),
                                             _array.ptr("float", out_vals), n_out, n_cons))
        n = n_out[0]
        return Ranking(out_rows[:n].astype(np.int64), out_vals[:n].copy(), n_cons[0])

    def maps(self, feature, rows):
        """Raw heatmaps: channel `feature` of the last feature map for the
        given dataset rows, n x h x w float32."""
        r = self._rows(rows)
        if len(r) == 0:
            raise ValueError("maps: no rows given")
        h, w = self._map_size
        out = np.empty((len(r), h, w), np.float32)
        with self._exclusive():
            check(lib.barlow_visualizer_maps(self.ptr, feature, _array.ptr("size_t", r),
                                             len(r), _array.ptr("float", out)))
        return out

    def attack(self, feature, rows, progress=None):
        """Feature attack on the given dataset rows (all at once): gradient
        ascent on `feature` within the L2 budget (attack_budget) and [0,1].
        Returns Attack(images, before, after, distance). progress counts
        steps; Ctrl-C stops within one step (KeyboardInterrupt)."""
        r = self._rows(rows)
        if len(r) == 0:
            raise ValueError("attack: no rows given")
        n = len(r)
        images = np.empty((n,) + tuple(self._input_shape), np.float32)
        before = np.empty(n, np.float32)
        after = np.empty(n, np.float32)
        dist = np.empty(n, np.float32)
        with self._exclusive(), _progress.call(progress, "attack", "step") as c:
            st = lib.barlow_visualizer_attack(self.ptr, feature, _array.ptr("size_t", r), n,
                                              c.fn, c.user, _array.ptr("float", images),
                                              _array.ptr("float", before),
                                              _array.ptr("float", after),
                                              _array.ptr("float", dist))
            c.finish(st)
        return Attack(images, before, after, dist)

    def failure_samples(self, rows=None, k=None):
        """Up to k failures (prediction != label) of `rows`, drawn without
        replacement with the seed (all of them, in row order, when there are
        k or fewer). The dataset needs predictions."""
        k = self.k if k is None else k
        r = self._rows(rows)
        out = np.zeros(max(k, 1), np.uintp)
        n_out = ffi.new("size_t *")
        with self._busy():
            check(lib.barlow_visualizer_failure_samples(
                self.ptr, _array.ptr("size_t", r) if len(r) else ffi.NULL, len(r), k,
                _array.ptr("size_t", out), n_out))
        return out[:n_out[0]].astype(np.int64)

    def confident_failures(self, rows=None, k=None):
        """(rows, confidences): up to k failures of `rows` the inspected
        model was most sure about (needs set_logits)."""
        k = self.k if k is None else k
        r = self._rows(rows)
        out = np.zeros(max(k, 1), np.uintp)
        conf = np.zeros(max(k, 1), np.float32)
        n_out = ffi.new("size_t *")
        with self._busy():
            check(lib.barlow_visualizer_confident_failures(
                self.ptr, _array.ptr("size_t", r) if len(r) else ffi.NULL, len(r), k,
                _array.ptr("size_t", out), _array.ptr("float", conf), n_out))
        n = n_out[0]
        return out[:n].astype(np.int64), conf[:n].copy()

    # ---- panels --------------------------------------------------------------------

    def view(self, feature, rows=None, caption=None, progress=None):
        """Everything about `feature` on `rows` (default: every row): ranked
        tiles, raw maps, attacks (unless attack=False) and the captioned
        panel, as a :class:`FeatureView`. caption: a line under the title
        saying which rows these are (e.g. "label: cat"). progress counts the
        attack's steps."""
        r = self._rows(rows)
        cap = ffi.NULL if caption is None else ffi.new("char[]", str(caption).encode())
        out = ffi.new("barlow_feature_view **")
        with self._exclusive(), _progress.call(progress, f"feature {feature}", "step") as c:
            st = lib.barlow_visualizer_view(self.ptr, feature,
                                            _array.ptr("size_t", r) if len(r) else ffi.NULL,
                                            len(r), cap, c.fn, c.user, out)
            fv = FeatureView(out[0], self) if st == 0 else None
            c.finish(st)
        return fv

    def failure_panel(self, rows=None, caption=None):
        """A panel of k seeded failure samples of `rows` (and, with logits,
        the k most confident failures), titled `caption` (e.g. a leaf's
        rule): a new :class:`Image`."""
        r = self._rows(rows)
        cap = ffi.NULL if caption is None else ffi.new("char[]", str(caption).encode())
        out = ffi.new("barlow_image **")
        with self._exclusive():
            check(lib.barlow_visualizer_failure_panel(
                self.ptr, _array.ptr("size_t", r) if len(r) else ffi.NULL, len(r), cap, out))
        return Image(out[0])

    def __repr__(self):
        if self.closed:
            return "<barlow.Visualizer (closed)>"
        return (f"<barlow.Visualizer {self.features.rows} feature rows x "
                f"{self.features.cols}, k={self.k}>")


class FeatureView(Handle):
    """One feature on one row set (Visualizer.view).

    * ``panel``: the captioned panel (:class:`Image`); ``_repr_png_`` shows
      it in Jupyter, ``save(path)`` writes it as PNG;
    * ``tiles(which)``: facts of the tiles of a panel row ("top", "least",
      "heatmap", "attack") as dicts; ``tiles()``: all rows;
      ``tile_image(which, i)``: a rendered tile;
    * ``maps()``, ``inputs()``, ``attacks()``: numpy views (k x h x w,
      k x C x H x W, k x C x H x W or None) of the TOP tiles.
    """

    _free = "barlow_feature_view_free"

    def __init__(self, ptr, visualizer):
        keep = visualizer._keep()
        super().__init__(_gc_keeping(ptr, lib.barlow_feature_view_free, keep), keep=keep,
                         borrowed=True)
        self._dataset = visualizer.dataset
        self._input_shape = tuple(visualizer._input_shape)

    @property
    def feature(self):
        return lib.barlow_feature_view_feature(self.ptr)

    @property
    def rows_considered(self):
        """Rows of the set that had features (were ranked)."""
        return lib.barlow_feature_view_rows_considered(self.ptr)

    def count(self, which="top"):
        return lib.barlow_feature_view_count(self.ptr, _which(which))

    def _class_name(self, cid):
        try:
            return self._dataset.class_name(cid)
        except Exception:
            return None

    def tile(self, which, i):
        """Tile i of a panel row as a dict: row, value, label, label_name,
        prediction, prediction_name (None without predictions),
        attacked_value and distance (attack tiles), map_max (heatmap
        tiles)."""
        w = _which(which)
        t = ffi.new("barlow_view_tile *")
        t.version = lib.BARLOW_VIEW_TILE_VERSION
        check(lib.barlow_feature_view_tile(self.ptr, w, i, t))

        def num(x):
            return None if math.isnan(x) else float(x)
        pred = t.prediction if t.prediction >= 0 else None
        d = {"row": t.row, "value": float(t.value), "label": t.label,
             "label_name": self._class_name(t.label), "prediction": pred,
             "prediction_name": None if pred is None else self._class_name(pred)}
        if w == lib.BARLOW_VIEW_ATTACK:
            d["attacked_value"] = num(t.attacked_value)
            d["distance"] = num(t.distance)
        if w == lib.BARLOW_VIEW_HEATMAP:
            d["map_max"] = num(t.map_max)
        return d

    def tiles(self, which=None):
        """The tiles of one panel row (a list of dicts), or, without
        `which`, {row name: tiles} for every non-empty row."""
        if which is None:
            return {name: self.tiles(name) for name in _ROWS if self.count(name)}
        return [self.tile(which, i) for i in range(self.count(which))]

    def tile_image(self, which, i):
        """The rendered tile i of a panel row (an RGB Image owned by the
        view)."""
        if not 0 <= i < self.count(which):
            raise IndexError(f"tile {i} of row {which!r}: the row has {self.count(which)}")
        p = lib.barlow_feature_view_tile_image(self.ptr, _which(which), i)
        return Image(p, keep=self._keep(), borrowed=True)

    @property
    def panel(self):
        """The whole captioned panel (an RGB Image owned by the view)."""
        return Image(lib.barlow_feature_view_panel(self.ptr), keep=self._keep(), borrowed=True)

    def maps(self):
        """Raw maps of the TOP tiles: k x h x w float32 (a read-only view)."""
        h, w = ffi.new("size_t *"), ffi.new("size_t *")
        p = lib.barlow_feature_view_maps(self.ptr, h, w)
        return _array.view(p, (self.count("top"), h[0], w[0]), np.float32, self._keep())

    def inputs(self):
        """Model inputs of the TOP tiles: k x C x H x W float32 in [0,1]."""
        p = lib.barlow_feature_view_inputs(self.ptr)
        return _array.view(p, (self.count("top"),) + self._input_shape, np.float32,
                           self._keep())

    def attacks(self):
        """Attacked inputs of the TOP tiles (k x C x H x W), or None without
        attacks."""
        p = lib.barlow_feature_view_attacks(self.ptr)
        if p == ffi.NULL:
            return None
        return _array.view(p, (self.count("top"),) + self._input_shape, np.float32,
                           self._keep())

    def png(self):
        return self.panel.png()

    def _repr_png_(self):
        return self.png()

    def save(self, path):
        """Writes the panel as a PNG file (atomically)."""
        self.panel.save_png(path)

    save_png = save

    def __repr__(self):
        if self.closed:
            return "<barlow.FeatureView (closed)>"
        return (f"<barlow.FeatureView feature {self.feature}: {self.count('top')} tiles of "
                f"{self.rows_considered} rows>")


def _which(which):
    if isinstance(which, str):
        if which not in _ROWS:
            raise ValueError(f"panel row must be one of {', '.join(_ROWS)}; got {which!r}")
        return _ROWS[which]
    return int(which)
