"""The resize: every engine (Snakemake jobs, the pool, the loop, the benchmark) calls
:func:`resize_image`, so outputs are byte-identical whichever engine made them.

One image: open (regular files only) → identify (in a fixed order) → decode (reduced by the
JPEG draft where it allows) → orient → resize → pad → convert to a storable mode → encode
in memory → write atomically.
"""

import contextlib
import functools
import hashlib
import importlib
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from .atomic import write_atomically
from .capture import collected_warnings
from .diagnose import ImageError, OutputError, input_errors, not_a_file_reason, path_reason
from .pixel_modes import colour, colour_family, to_storable, working_mode
from .spec import LOSSY, RESAMPLE, WRITTEN, ResizeSpec, output_format

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
# The version of what the transform writes: bump it whenever output bytes change (a new
# decode rule, mode mapping, encoder setting...). Snakemake re-runs every image when it
# changes; tests/test_golden.py fails when bytes change without a bump.
TRANSFORM_VERSION = 2
# Formats whose orientation tag Pillow applies itself while loading (TiffImagePlugin).
SELF_ORIENTING = {"TIFF"}
# Formats libjpeg decodes, whose draft (DCT-domain downscale) we can use.
DRAFTABLE = {"JPEG", "MPO"}
# JPEG decode-time downscale keeps >= DRAFT_GAP decoded pixels per output pixel, so the final
# filter still does a real reduction after libjpeg's DCT scaling. On 40 real photographs in
# every mode at 600 and 224, a gap of 2 keeps SSIM >= 0.99 against a full decode on every
# case; below 2 the DCT-scaled decode's artefacts survive the short final reduction
# (worst 0.965 at 1.25). docs/performance.md has the study (draft_study.py --input-dir).
DRAFT_GAP = 2.0


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


# The Pillow plugin of each format imageprep writes (spec.WRITTEN): for those extensions, the
# common case, open_image imports one plugin, as Image.open does, and tries it first.
_PLUGINS = {
    "JPEG": "Jpeg",
    "PNG": "Png",
    "GIF": "Gif",
    "BMP": "Bmp",
    "TIFF": "Tiff",
    "WEBP": "WebP",
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
    first = WRITTEN.get(ext)
    if first:
        importlib.import_module(f"PIL.{_PLUGINS[first]}ImagePlugin")
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
    return _resize(src, dst, spec, notes)[0]


def _resize(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    spec: ResizeSpec,
    notes: list[str] | None = None,
) -> tuple[tuple[int, int], bytes]:
    """:func:`resize_image`, returning the written bytes too (their size and digest go
    in the manifest)."""
    src, dst = Path(src), Path(dst)
    out_format = output_format(dst.name)
    # Pillow's own guard stays on, at our limit: it refuses images over twice max_pixels
    # while opening them, and _check_pixels the rest before any pixel is decoded.
    Image.MAX_IMAGE_PIXELS = spec.max_pixels
    with collected_warnings() as caught:
        with input_errors(src):
            fh = open_input(src)
        with fh:
            with input_errors(src):
                im = open_image(fh, src.name)
            with im, input_errors(src, im.format):
                out = _transform(im, src, spec, out_format)
                data = _encode(out, im, out_format, spec)
    if notes is not None:
        notes.extend(caught)
    write_atomically(dst, data)
    return out.size, data


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
    orientation = (
        1 if im.format in SELF_ORIENTING else im.getexif().get(ExifTags.Base.Orientation, 1)
    )
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

    work = working_mode(im)
    resized = work.resize(out_size, RESAMPLE[spec.resample], box=box)
    if transpose is not None:
        resized = resized.transpose(transpose)
    if spec.mode == "pad":
        resized = _pad(resized, spec)
    out = to_storable(resized, out_format, spec.background)
    out.info = {}  # metadata is not carried implicitly: only what _encode passes
    return out


def _encode(out: Image.Image, im: Image.Image, out_format: str, spec: ResizeSpec) -> bytes:
    """The output file's bytes, made in memory: encoding is the image's business, writing
    them the environment's (write_atomically)."""
    params: dict[str, Any] = {}
    if out_format in LOSSY:
        params["quality"] = spec.quality
    icc = im.info.get("icc_profile")
    if icc and out_format in ICC_FORMATS and colour_family(out.mode) == colour_family(im.mode):
        params["icc_profile"] = icc
    buffer = io.BytesIO()
    out.save(buffer, format=out_format, **params)
    return buffer.getvalue()


def _pad(im: Image.Image, spec: ResizeSpec) -> Image.Image:
    canvas = Image.new(im.mode, spec.size, colour(spec.pad_color, im.mode))
    canvas.paste(im, ((spec.size[0] - im.width) // 2, (spec.size[1] - im.height) // 2))
    return canvas


@dataclass
class Attempt:
    """What came of one image: its output size, or the bad input's error; Pillow's notes."""

    size: tuple[int, int] | None = None
    error: ImageError | None = None
    notes: list[str] = field(default_factory=list)
    nbytes: int = 0  # the output file's size and SHA-256 (for the manifest)
    sha256: str = ""


def try_resize(src: str | os.PathLike, dst: str | os.PathLike, spec: ResizeSpec) -> Attempt:
    """:func:`resize_image`, with a bad input returned rather than raised. Its old output,
    made from an earlier version of the input, is removed: it no longer matches the input.
    OutputError (the environment's failure) is raised: it is never one image's fault."""
    attempt = Attempt()
    try:
        attempt.size, data = _resize(src, dst, spec, attempt.notes)
        attempt.nbytes, attempt.sha256 = len(data), hashlib.sha256(data).hexdigest()
    except ImageError as exc:
        attempt.error = exc
        try:
            Path(dst).unlink(missing_ok=True)
        except OSError as unlink_error:
            raise OutputError(dst, unlink_error.strerror or str(unlink_error)) from None
    return attempt
