"""The one per-image transform: every engine (Snakemake rule, loop, pools, benchmark) calls
:func:`resize_image`, so outputs are byte-identical whichever engine ran them.

Run as ``python resize.py --spec JSON --inputs SRC... --outputs DST... [--logs LOG...]``
(what the Snakemake rules do), or import :func:`resize_image`.
"""

import contextlib
import functools
import importlib
import io
import json
import math
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, ImageColor, ImageFile, UnidentifiedImageError

from atomic import write_atomically
from diagnose import ImageError, OutputError, input_errors, not_a_file_reason, path_reason

MODES = ("stretch", "fit", "fill", "pad")
RESAMPLE = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}
# Output format -> (Pillow format name, file extension).
FORMATS = {"jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png"), "webp": ("WEBP", ".webp")}
# Extensions imageprep writes -> Pillow format: an output's bytes are always the format its
# name says. With format: same, other inputs get a new extension (see output_relpath).
WRITTEN = {
    **dict.fromkeys((".jpg", ".jpeg", ".jpe", ".jfif"), "JPEG"),
    **{".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"},
    **{".bmp": "BMP", ".gif": "GIF"},
}
# format: same, for inputs whose format imageprep does not write: an MPO (a camera's JPEG
# with previews) becomes the JPEG of its primary image; ICO, PPM, TGA... become PNG.
SAME_FALLBACK = {".mpo": ".jpg"}
# Image modes each output format can store as they are; others are converted.
STORABLE = {
    "JPEG": {"L", "RGB", "CMYK"},
    "PNG": {"L", "LA", "RGB", "RGBA", "I;16"},
    "WEBP": {"RGB", "RGBA"},
    "TIFF": {"L", "LA", "RGB", "RGBA", "CMYK", "I;16"},
    "BMP": {"L", "RGB"},  # Pillow writes RGBA BMPs that readers (Pillow too) open as RGB
    "GIF": {"L", "RGB", "RGBA"},
}
LOSSY = {"JPEG", "WEBP"}
ICC_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
# EXIF orientations that swap width and height (transpose, rotate 90/270, transverse).
SWAPS_AXES = {5, 6, 7, 8}
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
EXIF_ORIENTATION_TAG = 0x0112
# Formats whose orientation tag Pillow applies itself while loading (TiffImagePlugin).
SELF_ORIENTING = {"TIFF"}
# Formats libjpeg decodes, whose draft (DCT-domain downscale) we can use.
DRAFTABLE = {"JPEG", "MPO"}
# JPEG decode-time downscale keeps >= DRAFT_GAP decoded pixels per output pixel, so the final
# filter still reduces what libjpeg decoded; 1.25 keeps SSIM >= 0.99 against a full decode at
# ~3.5x the speed on 12-MP photos (docs/performance.md has the measurements).
DRAFT_GAP = 1.25


@dataclass(frozen=True)
class ResizeSpec:
    """What the resize does; built from config so every engine gets the same spec."""

    size: tuple[int, int] = (600, 600)
    mode: str = "stretch"
    resample: str = "lanczos"
    format: str = "same"
    quality: int = 90
    pad_color: str = "black"
    background: str = "white"
    max_pixels: int = 89_478_485  # Pillow's own decompression-bomb threshold
    jpeg_draft: bool = True  # decode big JPEGs at reduced scale (see _draft)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"size must be [width, height] > 0, got {list(self.size)}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.resample not in RESAMPLE:
            raise ValueError(f"resample must be one of {tuple(RESAMPLE)}, got {self.resample!r}")
        if self.format != "same" and self.format not in FORMATS:
            raise ValueError(
                f"format must be 'same' or one of {tuple(FORMATS)}, got {self.format!r}"
            )
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be 1..100, got {self.quality}")
        for key in ("pad_color", "background"):
            ImageColor.getrgb(getattr(self, key))  # raises ValueError on an unknown colour

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ResizeSpec":
        """Pick the spec keys out of a (validated) workflow config; other keys are ignored."""
        return cls(**{f.name: config[f.name] for f in fields(cls) if f.name in config})

    def for_output(self, relpath: str) -> "ResizeSpec":
        """This spec with the settings that cannot change ``relpath``'s bytes set to defaults.

        The Snakemake rule passes this as its param, so changing ``quality`` re-runs only
        lossy outputs and ``pad_color`` only matters in pad mode.
        """
        changes: dict[str, Any] = {}
        fmt = Image.registered_extensions().get(os.path.splitext(relpath)[1].lower())
        if fmt not in LOSSY:
            changes["quality"] = DEFAULT_SPEC.quality
        if self.mode != "pad":
            changes["pad_color"] = DEFAULT_SPEC.pad_color
        return replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ResizeSpec":
        return cls(**json.loads(text))


DEFAULT_SPEC = ResizeSpec()


def output_relpath(relpath: str, fmt: str) -> str:
    """Where an input's output goes, relative to output_dir: same path, new extension.

    ``format: same`` keeps the name when imageprep writes that format; an input of another
    format (``.mpo``, ``.ico``, ``.ppm``...) gets the extension of what it is written as.
    """
    stem, ext = os.path.splitext(relpath)
    if fmt != "same":
        return stem + FORMATS[fmt][1]
    if ext.lower() in WRITTEN:
        return relpath
    return stem + SAME_FALLBACK.get(ext.lower(), ".png")


def output_format(name: str) -> str:
    """The Pillow format an output named ``name`` is written in (from its extension)."""
    try:
        return WRITTEN[os.path.splitext(name)[1].lower()]
    except KeyError:
        raise ValueError(f"{name}: imageprep writes only {', '.join(WRITTEN)} files") from None


def open_input(src: Path) -> BinaryIO:
    """Open ``src`` for reading, refusing what is not a regular file (after symlinks): a
    FIFO or a device would block or never end. O_NONBLOCK makes the open itself safe, and
    the check is on the opened file, so nothing can swap it in between."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ImageError(src, path_reason(src) or exc.strerror or str(exc)) from None
    reason = not_a_file_reason(os.fstat(fd).st_mode)
    if reason:
        os.close(fd)
        raise ImageError(src, reason)
    return os.fdopen(fd, "rb")


# Extensions of the formats most folders hold -> (Pillow plugin, format): the common case
# imports one plugin, as Image.open does, and tries that format first.
_USUAL = {
    **dict.fromkeys((".jpg", ".jpeg", ".jpe", ".jfif"), ("Jpeg", "JPEG")),
    **{".png": ("Png", "PNG"), ".gif": ("Gif", "GIF"), ".bmp": ("Bmp", "BMP")},
    **{".tif": ("Tiff", "TIFF"), ".tiff": ("Tiff", "TIFF"), ".webp": ("WebP", "WEBP")},
}
# Pillow's own first guesses when a name says nothing (Image.preinit), tried before the rest.
_FIRST_PLUGINS = ("PIL.BmpImagePlugin", "PIL.GifImagePlugin", "PIL.JpegImagePlugin",
                  "PIL.PpmImagePlugin", "PIL.PngImagePlugin")  # fmt: skip


def open_image(fh: BinaryIO, name: str) -> Image.Image:
    """Identify and open an image the same way in every process: the format its extension
    names first, then every other format in one fixed order.

    Image.open alone tries formats in the order their plugins were imported, which depends
    on what the process opened before (after a .tga, a valid .ico is read as a bad TGA).
    """
    ext = os.path.splitext(name)[1].lower()
    if ext in _USUAL:
        plugin, first = _USUAL[ext]
        importlib.import_module(f"PIL.{plugin}ImagePlugin")
    else:
        Image.init()
        first = Image.registered_extensions().get(ext)
        first = first if first in Image.OPEN else None  # .mpo: opened by the JPEG plugin
    if first:
        with contextlib.suppress(UnidentifiedImageError):
            return Image.open(fh, formats=[first])
    return Image.open(fh, formats=_other_formats(first))


@functools.cache
def _other_formats(first: str | None) -> tuple[str, ...]:
    Image.init()

    def rank(fmt: str) -> tuple[bool, int, str, str]:
        module = Image.OPEN[fmt][0].__module__
        usual = module in _FIRST_PLUGINS
        return not usual, _FIRST_PLUGINS.index(module) if usual else 0, module, fmt

    return tuple(fmt for fmt in sorted(Image.OPEN, key=rank) if fmt != first)


def _geometry(
    width: int, height: int, spec: ResizeSpec
) -> tuple[tuple[int, int], tuple[float, float, float, float]]:
    """Resized size and source crop box, both in the upright (display) orientation."""
    tw, th = spec.size
    box = (0.0, 0.0, float(width), float(height))
    if spec.mode == "stretch":
        return (tw, th), box
    if spec.mode in ("fit", "pad"):
        scale = min(tw / width, th / height)
        return (max(1, round(width * scale)), max(1, round(height * scale))), box
    # fill: cover the target, then centre-crop in the source so we resample only once
    scale = max(tw / width, th / height)
    cw, ch = min(width, tw / scale), min(height, th / scale)  # min(): float rounding
    left, top = (width - cw) / 2, (height - ch) / 2
    return (tw, th), (left, top, left + cw, top + ch)


def _draft(
    im: Image.Image, out_size: tuple[int, int], box: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale (DCT scaling) while that still leaves at
    least DRAFT_GAP source pixels per output pixel, and return the crop box in the reduced
    image. Decoding fewer pixels is the largest single saving for big JPEGs."""
    width, height = im.size
    scale_x = (box[2] - box[0]) / out_size[0]  # source pixels per output pixel
    scale_y = (box[3] - box[1]) / out_size[1]
    wanted = (
        max(math.ceil(width / scale_x * DRAFT_GAP), width // 8 + 1),  # + 1: never 1/8 scale,
        max(math.ceil(height / scale_y * DRAFT_GAP), height // 8 + 1),  # it keeps DC terms only
    )
    if wanted[0] >= width or wanted[1] >= height:
        return box
    im.draft(im.mode, wanted)
    fx, fy = im.width / width, im.height / height
    return (box[0] * fx, box[1] * fy, min(im.width, box[2] * fx), min(im.height, box[3] * fy))


def _working_mode(im: Image.Image) -> Image.Image:
    """Bring exotic modes to one that resizes correctly (palette and 1-bit cannot be filtered)."""
    mode = im.mode
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    if mode == "1":
        return im.convert("LA" if "transparency" in im.info else "L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        levels = _levels16(im)
        if "transparency" not in im.info:
            return levels
        # Pillow has no 16-bit grey with alpha: keep the transparency, in 8 bits.
        grey = levels.point(lambda v: v / 257).convert("L")
        return Image.merge("LA", (grey, _transparent_value_mask(im)))
    if mode in ("L", "RGB") and "transparency" in im.info:
        return im.convert(mode + "A" if mode == "L" else "RGBA")
    if mode in ("RGBa", "La"):
        return im.convert(mode.upper())
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return im
    return im.convert("RGB")  # YCbCr, LAB, HSV, ...


def _levels16(im: Image.Image) -> Image.Image:
    """A 16-bit or wider grey image as mode I holding 0..65535 (black..white).

    16-bit images are that already. Integer images whose values fit 0..65535 are read as
    16-bit levels; others are stretched from their own min..max. Float images (PFM, float
    TIFF) map 0.0..1.0 to black..white when every value lies in [0, 1], else their own
    finite min..max; NaN becomes black, +inf white. A constant image outside those
    ranges is black. (config/README.md documents this for users.)
    """
    if im.mode != "F":
        im = im if im.mode == "I" else im.convert("I")
        low, high = im.getextrema()
        if low >= 0 and high <= 65535:
            return im
        scale = 65535 / (high - low) if high > low else 0
        return im.point(lambda v: (v - low) * scale)
    import numpy as np  # only for float images: resize jobs start without numpy

    values = np.asarray(im, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    values = np.nan_to_num(values, nan=low, posinf=high, neginf=low)
    scale = 65535 / (high - low) if high > low else 0
    levels = np.clip(np.rint((values - low) * scale), 0, 65535).astype(np.int32)
    return Image.fromarray(levels, "I")


def _transparent_value_mask(im: Image.Image) -> Image.Image:
    """Alpha (L) for an image whose tRNS names one transparent grey value: Pillow's own
    conversion compares 8-bit clipped values, so it misses 16-bit ones."""
    import numpy as np  # only for 16-bit images with a transparent value

    opaque = np.asarray(im) != im.info["transparency"]
    return Image.fromarray((opaque * 255).astype(np.uint8), "L")


def _to_storable(im: Image.Image, fmt: str, background: str) -> Image.Image:
    """Convert the resized image to a mode the output format stores, flattening alpha if needed."""
    storable = STORABLE[fmt]
    if im.mode in storable:
        return im
    if im.mode == "I":
        if "I;16" in storable:
            return im.convert("I;16")
        return _to_storable(im.point(lambda v: v / 257).convert("L"), fmt, background)
    base = "L" if im.mode in ("L", "LA") and "L" in storable else "RGB"
    if im.mode in ("RGBA", "LA"):
        if base + "A" in storable:
            return im.convert(base + "A")
        canvas = Image.new(base, im.size, _colour(background, base))
        canvas.paste(im.convert(base), mask=im.getchannel("A"))
        return canvas
    return im.convert(base)  # L into a format without greyscale, CMYK without CMYK


def _colour(name: str, mode: str) -> float | tuple[int, ...]:
    """A CSS colour name as a pixel value of ``mode`` (Pillow's getcolor knows no CMYK)."""
    if mode == "I":
        return ImageColor.getcolor(name, "L") * 257  # 8-bit grey into the 16-bit range
    return Image.new("RGB", (1, 1), ImageColor.getrgb(name)).convert(mode).getpixel((0, 0))


def _colour_family(mode: str) -> str:
    return {"L": "grey", "LA": "grey", "I": "grey", "I;16": "grey", "CMYK": "cmyk"}.get(mode, "rgb")


def resize_image(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    spec: ResizeSpec,
    notes: list[str] | None = None,
) -> tuple[int, int]:
    """Resize one image file to ``dst`` as ``spec`` says; returns the output (width, height).

    The output format is the one ``dst``'s extension names. Raises :class:`ImageError` naming
    the file for anything wrong with the input (nothing is written to ``dst`` then), and
    :class:`OutputError` when ``dst`` cannot be written. Pillow's warnings about the input
    ("Corrupt EXIF data") are appended to ``notes`` if given, never printed.
    """
    src, dst = Path(src), Path(dst)
    out_format = output_format(dst.name)
    # Pillow's own guard stays on, at our limit: it refuses images over twice max_pixels
    # while opening them, and _check_pixels the rest before any pixel is decoded.
    Image.MAX_IMAGE_PIXELS = spec.max_pixels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # PYTHONWARNINGS=error must not fail an image
        with input_errors(src):
            fh = open_input(src)
        with fh:
            with input_errors(src):
                im = open_image(fh, src.name)
            with im, input_errors(src, im.format):
                out = _transform(im, src, spec, out_format)
                data = _encode(out, im, out_format, spec)
    if notes is not None:
        notes.extend(
            dict.fromkeys(
                " ".join(str(w.message).split())
                for w in caught
                if issubclass(w.category, UserWarning)
            )
        )
    write_atomically(dst, data)
    return out.size


def _check_pixels(im: Image.Image, src: Path, max_pixels: int) -> None:
    if im.width == 0 or im.height == 0:
        if isinstance(im, ImageFile.StubImageFile):
            im.load()  # a format without a decoder here (HDF5, WMF): that is the reason
        raise ImageError(src, f"image has no pixels ({im.width}×{im.height})")
    if im.width * im.height > max_pixels:
        raise ImageError(src, f"{im.width:,}×{im.height:,} exceeds max_pixels={max_pixels:,}")


def _transform(im: Image.Image, src: Path, spec: ResizeSpec, out_format: str) -> Image.Image:
    """Decode (reduced where the draft allows), orient, resize, pad: the output's pixels."""
    _check_pixels(im, src, spec.max_pixels)
    # TIFF orientation is applied by Pillow itself while loading (and im.size is already
    # upright); every other format's EXIF orientation is ours to apply.
    orientation = 1 if im.format in SELF_ORIENTING else im.getexif().get(EXIF_ORIENTATION_TAG, 1)
    transpose = ORIENTATION_TRANSPOSE.get(orientation)

    # Geometry in upright coordinates, mapped back to the stored orientation: we resize
    # first and transpose the small result, which is cheaper than rotating the original.
    swap = orientation in SWAPS_AXES
    upright = (im.height, im.width) if swap else im.size
    out_size, box = _geometry(*upright, spec)
    if swap:
        out_size = (out_size[1], out_size[0])
        box = (box[1], box[0], box[3], box[2])
    # All crops are centred, so flips leave the box unchanged.
    if spec.jpeg_draft and im.format in DRAFTABLE and spec.resample != "nearest":
        box = _draft(im, out_size, box)
    im.load()

    work = _working_mode(im)
    resized = work.resize(out_size, RESAMPLE[spec.resample], box=box)
    if transpose is not None:
        resized = resized.transpose(transpose)
    if spec.mode == "pad":
        resized = _pad(resized, spec)
    out = _to_storable(resized, out_format, spec.background)
    out.info = {}  # metadata is not carried implicitly: only what _encode passes
    return out


def _encode(out: Image.Image, im: Image.Image, out_format: str, spec: ResizeSpec) -> bytes:
    """The output file's bytes, made in memory: encoding is the image's business, writing
    them the environment's (write_atomically)."""
    params: dict[str, Any] = {}
    if out_format in LOSSY:
        params["quality"] = spec.quality
    icc = im.info.get("icc_profile")
    if icc and out_format in ICC_FORMATS and _colour_family(out.mode) == _colour_family(im.mode):
        params["icc_profile"] = icc
    buffer = io.BytesIO()
    out.save(buffer, format=out_format, **params)
    return buffer.getvalue()


def _pad(im: Image.Image, spec: ResizeSpec) -> Image.Image:
    canvas = Image.new(im.mode, spec.size, _colour(spec.pad_color, im.mode))
    canvas.paste(im, ((spec.size[0] - im.width) // 2, (spec.size[1] - im.height) // 2))
    return canvas


@dataclass
class Attempt:
    """What came of one image: its output size, or the bad input's error; Pillow's notes."""

    size: tuple[int, int] | None = None
    error: ImageError | None = None
    notes: list[str] = field(default_factory=list)


def try_resize(src: str | os.PathLike, dst: str | os.PathLike, spec: ResizeSpec) -> Attempt:
    """:func:`resize_image`, with a bad input returned rather than raised. Its old output,
    made from an earlier version of the input, is removed: it no longer matches the input.
    OutputError (the environment's failure) is raised: it is never one image's fault."""
    attempt = Attempt()
    try:
        attempt.size = resize_image(src, dst, spec, attempt.notes)
    except ImageError as exc:
        attempt.error = exc
        try:
            Path(dst).unlink(missing_ok=True)
        except OSError as unlink_error:
            raise OutputError(dst, unlink_error.strerror or str(unlink_error)) from None
    return attempt


def log_line(src: str, dst: str, attempt: Attempt) -> str:
    """One line per image for its log: what was made, with Pillow's warnings attached."""
    if attempt.error:
        return f"error: {attempt.error}"
    line = f"{src} -> {dst} {attempt.size[0]}x{attempt.size[1]}"
    return line + "".join(f" (warning: {note})" for note in attempt.notes)


def run_jobs(
    srcs: Sequence[str],
    dsts: Sequence[str],
    logs: Sequence[str] | None,
    spec: ResizeSpec,
    records: Sequence[str] | None = None,
) -> int:
    """Resize each src to its dst, one log per image (or stderr).

    Without ``records`` (on_error: fail) the first bad image ends the job with status 1. With
    them (on_error: skip) every image gets a record, ok or failed with the reason, and the
    job succeeds: the records, not the images, are then what the rule declares. A failure of
    the environment (full disk, read-only folder) ends the job with status 1 in both modes.
    """
    from failures import write_record

    try:
        for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True)):
            with open(logs[i], "w") if logs else contextlib.nullcontext(sys.stderr) as log:
                attempt = try_resize(src, dst, spec)
                if logs or not attempt.error:
                    print(log_line(src, dst, attempt), file=log)
                if attempt.error and records:
                    print(f"skipped: {attempt.error}", file=sys.stderr)
                elif attempt.error:
                    print(f"error: {attempt.error}", file=sys.stderr)
                    return 1
                if records:
                    write_record(records[i], src, attempt.error and attempt.error.reason)
    except (OutputError, OSError) as exc:  # OSError: a log that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """The lean entry point the Snakemake rules call: a fresh interpreter imports only this
    module and Pillow, so a job starts in tens of milliseconds."""
    import argparse

    p = argparse.ArgumentParser(description="Resize images with the imageprep transform.")
    p.add_argument("--spec", required=True, help="ResizeSpec as JSON")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--outputs", nargs="+", required=True)
    p.add_argument("--logs", nargs="+", help="one log file per image (default: stderr)")
    p.add_argument(
        "--records", nargs="*", help="on_error: skip: one outcome record per image (failures.py)"
    )
    args = p.parse_args(argv)
    for name in ("outputs", "logs", "records"):
        if getattr(args, name) and len(getattr(args, name)) != len(args.inputs):
            p.error(f"--inputs and --{name} need the same number of paths")
    spec = ResizeSpec.from_json(args.spec)
    return run_jobs(args.inputs, args.outputs, args.logs, spec, args.records)


if __name__ == "__main__":
    sys.exit(main())
