"""Writes the committed seed corpora of the fuzz targets tests/fuzz/fuzz_csv,
_npy, _npz, _idx, _mi_tree and _escape (valid and near-valid inputs) into
tests/fuzz/<target>/. Deterministic: rerun after changing it and commit the
output. Usage: make_corpus.py [TESTS_FUZZ_DIR] (default: next to this file)"""
import gzip
import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
rng = np.random.RandomState(0)


def put(target, name, data):
    d = root / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def npy(a, fortran=False):
    b = io.BytesIO()
    np.save(b, np.asfortranarray(a) if fortran else a)
    return b.getvalue()


def npz(members, compress):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, a in members.items():
            z.writestr(name + ".npy", npy(a))
    return b.getvalue()


def csv_corpus():
    put("csv", "basic.csv", "Filenames,Labels,Predictions\na.png,cat,dog\nb.png,dog,dog\n")
    put("csv", "extra.csv", "\ufeffLabels,Filenames,split\r\ncat,x/1.jpg,train\r\nbird,/abs/2.jpg,test\r\n")
    put("csv", "quoted.csv", 'Filenames,Labels\n"a,b.png","cat"\n"multi\nline.png",dog\n"q""uote.png",bird\n')
    put("csv", "utf8.csv", "Filenames,Labels\nx.png,caf\u00e9\ny.png,\u732b\n\nz.png,cat")
    put("csv", "names.csv", "cat\ndog\nbird\n")
    put("csv", "bad-quote.csv", 'Filenames,Labels\n"a.png,cat\n')
    put("csv", "bad-count.csv", "Filenames,Labels\na.png,cat,extra\n")
    put("csv", "bad-utf8.csv", b"Filenames,Labels\na.png,\xff\xfe\n")
    put("csv", "header-only.csv", "Filenames,Labels,Predictions\n")
    put("csv", "nul.csv", b"Filenames,Labels\na.png,c\x00at\n")


def npy_corpus():
    x = rng.rand(3, 4).astype(np.float32)
    put("npy", "f32.npy", npy(x))
    put("npy", "f64.npy", npy(x.astype(np.float64)))
    put("npy", "fortran.npy", npy(x, fortran=True))
    put("npy", "i64-1d.npy", npy(np.arange(5, dtype=np.int64)))
    put("npy", "i32-3d.npy", npy(np.arange(24, dtype=np.int32).reshape(2, 3, 4)))
    put("npy", "u8.npy", npy(np.arange(6, dtype=np.uint8).reshape(2, 3)))
    put("npy", "bool.npy", npy(np.array([[True, False], [False, True]])))
    put("npy", "empty.npy", npy(np.zeros((0, 3), np.float32)))
    put("npy", "scalar.npy", npy(np.float32(1.5)))
    put("npy", "big-endian.npy", npy(x.astype(">f4")))
    put("npy", "truncated.npy", npy(x)[:-5])
    put("npy", "v2.npy", npy(x).replace(b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", 1))


def manifest(shards, **kw):
    m = {"format": "barlow-features-manifest", "format_version": 1, "dataset_rows": 6,
         "extracted": 6, "features": 4, "logits": 0, "model_sha256": "ab" * 32,
         "predict_sha256": None, "options": "input_size=28 resize=0 channels=1",
         "shards": shards}
    m.update(kw)
    return json.dumps(m)


def npz_corpus():
    x = rng.rand(6, 4).astype(np.float32)
    y = np.arange(6, dtype=np.int64) % 3
    put("npz", "stored.npz", npz({"features": x, "labels": y}, False))
    put("npz", "deflated.npz", npz({"features": x, "labels": y}, True))
    put("npz", "labels-only.npz", npz({"labels": y.astype(np.int32)}, True))
    bad_crc = bytearray(npz({"features": x}, False))
    bad_crc[bad_crc.find(b"\x93NUMPY") + 60] ^= 1
    put("npz", "bad-crc.npz", bytes(bad_crc))
    put("npz", "truncated.npz", npz({"features": x}, True)[:-30])
    one = [{"path": "in.npz", "index": 0, "begin": 0, "end": 6, "extracted": 6, "bytes": 100}]
    two = [{"path": "in.npz", "index": 0, "begin": 0, "end": 3, "extracted": 3, "bytes": 100},
           {"path": "/nonexistent/s1.npz", "index": 1, "begin": 3, "end": 6, "extracted": 3,
            "bytes": 100}]
    put("npz", "manifest-one.json", manifest(one))
    put("npz", "manifest-two.json", manifest(two))
    put("npz", "manifest-gap.json", manifest([dict(two[0]), dict(two[1], begin=4)]))
    put("npz", "manifest-newer.json", manifest(one, format_version=2))
    put("npz", "manifest-sum.json", manifest(one, extracted=5))


def idx_pair(images, labels, gz=False):
    im = struct.pack(">I", 0x803 if images.ndim == 3 else 0x804) + \
        b"".join(struct.pack(">I", s) for s in images.shape) + images.tobytes()
    lb = struct.pack(">II", 0x801, len(labels)) + labels.tobytes()
    if gz:
        im, lb = gzip.compress(im, mtime=0), gzip.compress(lb, mtime=0)
    return struct.pack("<I", len(im)) + im + lb


def idx_corpus():
    g = rng.randint(0, 256, (3, 4, 5)).astype(np.uint8)
    c = rng.randint(0, 256, (2, 3, 3, 3)).astype(np.uint8)
    y = np.array([0, 2, 1], np.uint8)
    put("idx", "grey", idx_pair(g, y))
    put("idx", "grey-gz", idx_pair(g, y, gz=True))
    put("idx", "rgb", idx_pair(c, y[:2]))
    put("idx", "count-differs", idx_pair(g, y[:2]))
    put("idx", "truncated", idx_pair(g, y)[:-4])


def mi_tree_corpus():
    for k, (n, d, mode) in enumerate([(16, 2, 0x00), (40, 4, 0x25), (63, 8, 0x3a),
                                      (24, 3, 0x51), (12, 2, 0x17)]):
        x = rng.randint(-20, 20, (n, d)).astype(np.int8)
        fail = ((x[:, 0] > 3) ^ (rng.rand(n) < 0.1)).astype(np.uint8)
        rows = b"".join(bytes([f]) + r.tobytes() for f, r in zip(fail, x))
        put("mi_tree", f"bytes-{k}", bytes([n - 1, d - 1, mode]) + rows)
    x = np.array([[1.0, 1.0000001], [1.0000001, 3e38], [-0.0, 1e-45], [0.5, 0.5]], np.float32)
    rows = b"".join(bytes([i & 1]) + r.astype("<f4").tobytes() for i, r in enumerate(x))
    put("mi_tree", "float-edges", bytes([3, 1, 0x80 | 0x30]) + rows)
    put("mi_tree", "one-row", bytes([0, 0, 0, 1, 5]))


def escape_corpus():
    put("escape", "plain", b"\x00buckle\x00strap\x00wheel\x00sky")
    put("escape", "markup", b"\x01<script>&amp;\x00a\"b'c\x00</svg>\x00x&y\x00#p-\"><")
    put("escape", "utf8", "\u0002caf\u00e9\u0000\u732b\u0000\U0001F600".encode())
    put("escape", "bad-utf8", b"\x03\xff\xfe\x00\xc3\x28\x00\xed\xa0\x80\x00\x01\x02\t\n")
    put("escape", "long", b"\x80" + b"w" * 300 + b"\x00" + "\u00e9".encode() * 100)


csv_corpus()
npy_corpus()
npz_corpus()
idx_corpus()
mi_tree_corpus()
escape_corpus()
