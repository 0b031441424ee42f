"""Fashion-MNIST as Debian's dataset-fashion-mnist ships it: the class names
in id order and the gzip'd IDX files, read into numpy without torch. Shared
by tools/train_fmnist.py, tools/plant_fmnist.py and the tests."""
import gzip
import os
from pathlib import Path

import numpy as np

DATA = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    """An unsigned-byte IDX file (.gz) as a uint8 array of its dimensions."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    if (magic >> 8) != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(split, data=DATA):
    """(images N x 28 x 28, labels N) uint8 of the 'train' or 'test' split."""
    prefix = "train" if split == "train" else "t10k"
    return (read_idx(Path(data) / f"{prefix}-images-idx3-ubyte.gz"),
            read_idx(Path(data) / f"{prefix}-labels-idx1-ubyte.gz"))
