"""The resize step's pixels: fast_image_resize's SIMD convolution (the ``cykooz-resizer``
binding) wherever it is installed, else Pillow's own resampler.

Why: after the JPEG draft, Pillow's LANCZOS was a third of the transform's time; the same
filter in fast_image_resize is 5-10x faster and gives the same bytes at every CPU
extension level (docs/architecture.md, "The resampler"). It has no wheel for Linux
aarch64, so there the transform falls back to Pillow. Which resampler a process uses
(:data:`NAME`) is part of every output's fingerprint (rows.py) and of the rules'
version param, so a folder never mixes the two silently: a rerun on the other kind of
machine redoes its images. ``IMAGEPREP_RESAMPLER=pillow`` forces the fallback.
"""

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image

from imageprep.image.spec import RESAMPLE

Box = tuple[float, float, float, float]

# config's resample -> fast_image_resize's filter (None: its nearest neighbour). Pillow's
# BICUBIC is the Catmull-Rom cubic (a = -0.5); both libraries' lanczos is lanczos3.
FIR_FILTERS = {
    "lanczos": "lanczos3",
    "bicubic": "catmull_rom",
    "bilinear": "bilinear",
    "box": "box",
    "nearest": None,
}
# Working modes (pixel_modes.working_mode) -> fast_image_resize pixel type; every mode the
# transform resizes is here, so Pillow's resampler runs only where the package is missing.
# I holds 16-bit levels (0..65535), resized as unsigned 16-bit.
PIXEL_TYPES = {"L": "U8", "LA": "U8x2", "RGB": "U8x3", "RGBA": "U8x4", "CMYK": "U8x4", "I": "U16"}
ALPHA = {"LA", "RGBA"}  # resized premultiplied, as Pillow does: no dark fringe
LEVELS = ("none", "sse4_1", "avx2", "neon")  # the CPU extension levels it may use


def _wanted() -> bool:
    if os.environ.get("IMAGEPREP_RESAMPLER", "") == "pillow":
        return False
    return importlib.util.find_spec("cykooz_resizer") is not None


# "fast_image_resize" or "pillow": this process's resampler, known without importing it
# (the main Snakemake process asks for it to name the version, and never resizes).
NAME = "fast_image_resize" if _wanted() else "pillow"
_resizer: Any = None


def _fir() -> Any:
    global _resizer
    if _resizer is None:
        import cykooz_resizer

        _resizer = cykooz_resizer.Resizer()
    return _resizer


def resize(
    im: Image.Image, size: tuple[int, int], resample: str, box: Box, reducing_gap: float | None
) -> Image.Image:
    """``im``'s ``box`` (fractional source pixels) resized to ``size`` with config's filter
    ``resample``. ``reducing_gap`` (a smaller variant's whole-factor shrink) matters to
    Pillow's resampler only: fast_image_resize convolves the whole decode fast enough."""
    if NAME == "pillow" or im.mode not in PIXEL_TYPES:
        return im.resize(size, RESAMPLE[resample], box=box, reducing_gap=reducing_gap)
    import cykooz_resizer as fir

    name = FIR_FILTERS[resample]
    options = fir.ResizeOptions(
        resize_alg=fir.ResizeAlg.convolution(fir.FilterType[name])
        if name
        else fir.ResizeAlg.nearest(),
        crop_box=fir.CropBox(box[0], box[1], box[2] - box[0], box[3] - box[1]),
        use_alpha=im.mode in ALPHA,
    )
    if im.mode in ("L", "RGB", "RGBA", "CMYK"):  # Pillow's own buffers, no copy
        out = Image.new(im.mode, size)
        _fir().resize_pil(im, out, options)
        return out
    raw = im.convert("I;16") if im.mode == "I" else im
    pixel_type = fir.PixelType[PIXEL_TYPES[im.mode]]
    src = fir.ImageData(im.width, im.height, pixel_type, raw.tobytes())
    dst = fir.ImageData(size[0], size[1], pixel_type)
    _fir().resize(src, dst, options)
    out = Image.frombytes(raw.mode, size, dst.get_buffer())
    return out.convert("I") if im.mode == "I" else out


def cpu_extensions() -> str:
    """The CPU extension level fast_image_resize uses now (the best this CPU has, unless
    set): "none", "sse4_1", "avx2" or "neon"; "" with Pillow's resampler."""
    return _fir().cpu_extensions.name if NAME != "pillow" else ""


@contextmanager
def forced_cpu_extensions(level: str) -> Iterator[str]:
    """Resize at ``level`` (tests and the speed study: the bytes must not depend on it);
    yields the level in force, which stays the CPU's best if this CPU lacks ``level``."""
    import cykooz_resizer as fir

    resizer = _fir()
    was = resizer.cpu_extensions
    resizer.cpu_extensions = fir.CpuExtensions[level]
    try:
        yield resizer.cpu_extensions.name
    finally:
        resizer.cpu_extensions = was
