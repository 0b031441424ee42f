"""The base of every object that holds a libbarlow handle.

A handle the object owns is wrapped with ``ffi.gc(ptr, lib.barlow_x_free)``,
so it is freed when the last reference to that cdata goes. Everything that
points into the handle's memory (numpy views, trees borrowed from an
analysis) holds ``obj._keep()`` — the cdata and what the handle borrows —
not the Python object, so ``close()`` (which drops only the object's own
reference) can never leave a view dangling: the memory goes when the last
user goes, immediately in CPython when there is none.
"""
from ._ffi import ffi, lib
from .errors import check


def new_handle(ctype, fn, *args):
    """Calls fn(*args, &out) and returns out (raises on failure)."""
    out = ffi.new(f"{ctype} **")
    check(fn(*args, out))
    return out[0]


class Handle:
    """Owns (or borrows) one library handle. Subclasses set `_free`, the name
    of the library's free function."""

    _free = None

    def __init__(self, ptr, keep=None, borrowed=False):
        if ptr == ffi.NULL:
            raise ValueError(f"{type(self).__name__}: NULL handle")
        self._ptr = ptr if borrowed else ffi.gc(ptr, getattr(lib, self._free))
        self._keep_alive = keep  # what the handle borrows (an array, an owner)

    @property
    def ptr(self):
        if self._ptr is None:
            raise ValueError(f"this {type(self).__name__} is closed")
        return self._ptr

    @property
    def closed(self):
        return self._ptr is None

    def _keep(self):
        """What a view of this handle's memory must hold on to."""
        return (self.ptr, self._keep_alive)

    def close(self):
        """Releases this object's reference to the handle (idempotent). The
        handle is freed now unless numpy views or objects made from it still
        use its memory; then it is freed with the last of them."""
        self._ptr = None
        self._keep_alive = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def set_fields(struct, what, **values):
    """Sets option fields, turning cffi's OverflowError (a negative number
    for a size_t, say) into a ValueError naming the option."""
    for name, value in values.items():
        try:
            setattr(struct, name, value)
        except (OverflowError, TypeError) as e:
            raise ValueError(f"{what}: {name}={value!r} is not allowed ({e})") from None


def struct_dict(s, skip=("version",)):
    """The fields of a cffi struct as a dict (C strings decoded)."""
    t = ffi.typeof(s)
    out = {}
    for name, field in (t.item if t.kind == "pointer" else t).fields:
        if name in skip:
            continue
        v = getattr(s, name)
        if field.type.kind == "pointer" and field.type.item.cname == "char":
            v = None if v == ffi.NULL else ffi.string(v).decode("utf-8", "replace")
        out[name] = v
    return out
