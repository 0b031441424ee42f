"""Writes a small seed corpus for tests/fuzz/fuzz_decode: tiny JPEG (baseline,
progressive, grey, CMYK), PNG (grey, grey+alpha, RGB, RGBA, palette with
transparency, 16-bit, 1-bit, interlaced) and BMP (24-bit, palette) files
made with PIL. Usage: make_seeds.py DIR"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.RandomState(0)
rgb = Image.fromarray(rng.randint(0, 256, (9, 13, 3), dtype=np.uint8), "RGB")
grey = rgb.convert("L")
seeds = {
    "base.jpg": (rgb, "JPEG", {"quality": 70}),
    "prog.jpg": (rgb, "JPEG", {"quality": 60, "progressive": True}),
    "grey.jpg": (grey, "JPEG", {}),
    "cmyk.jpg": (rgb.convert("CMYK"), "JPEG", {}),
    "s444.jpg": (rgb, "JPEG", {"subsampling": 0}),
    "grey.png": (grey, "PNG", {}),
    "la.png": (grey.convert("LA"), "PNG", {}),
    "rgb.png": (rgb, "PNG", {}),
    "rgba.png": (rgb.convert("RGBA"), "PNG", {}),
    "pal.png": (rgb.quantize(8), "PNG", {"transparency": 2}),
    "bit.png": (grey.convert("1"), "PNG", {}),
    "rgb.bmp": (rgb, "BMP", {}),
    "pal.bmp": (rgb.quantize(16), "BMP", {}),
}
for name, (im, fmt, kw) in seeds.items():
    im.save(out / name, fmt, **kw)
Image.fromarray((rng.randint(0, 65536, (5, 7))).astype(np.uint16), "I;16").save(out / "g16.png")
