"""The one per-image transform: every engine (Snakemake rule, loop, pools, benchmark) calls
:func:`resize_image`, so outputs are byte-identical whichever engine ran them.

Run as ``python resize.py --spec JSON --inputs SRC... --outputs DST... [--logs LOG...]``
(what the Snakemake rules do), or import :func:`resize_image`.
"""

import contextlib
import hashlib
import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, ImageColor, UnidentifiedImageError

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
# Image modes each output format can store as they are; others are converted.
STORABLE = {
    "JPEG": {"L", "RGB", "CMYK"},
    "PNG": {"L", "LA", "RGB", "RGBA", "I;16"},
    "WEBP": {"RGB", "RGBA"},
    "TIFF": {"L", "LA", "RGB", "RGBA", "CMYK", "I;16"},
    "BMP": {"L", "RGB", "RGBA"},
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
# JPEG decode-time downscale keeps >= DRAFT_GAP decoded pixels per output pixel, so the final
# filter still reduces what libjpeg decoded; 1.25 keeps SSIM >= 0.99 against a full decode at
# ~3.5x the speed on 12-MP photos (docs/performance.md has the measurements).
DRAFT_GAP = 1.25


class ImageError(Exception):
    """A bad input image: the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason


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
    """Where an input's output goes, relative to output_dir: same path, new extension."""
    if fmt == "same":
        return relpath
    return os.path.splitext(relpath)[0] + FORMATS[fmt][1]


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
        return im.convert("L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return im.convert("I") if mode != "I" else im
    if mode in ("L", "RGB") and "transparency" in im.info:
        return im.convert(mode + "A" if mode == "L" else "RGBA")
    if mode in ("RGBa", "La"):
        return im.convert(mode.upper())
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return im
    return im.convert("RGB")  # YCbCr, LAB, HSV, ...


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


# An output is written to ".NAME.part" next to it, then renamed into place. One output has
# one writer at a time, so the name needs no pid: a part file left by a killed writer is
# simply overwritten when that output is written again.
PART_SUFFIX = ".part"
_PART_NAME = re.compile(r"^\..+\.part$")
NAME_MAX = 255


def part_path(dst: str | os.PathLike) -> Path:
    """Where ``dst`` is written before its rename (a hashed name if NAME.part is too long)."""
    dst = Path(dst)
    name = f".{dst.name}{PART_SUFFIX}"
    if len(name.encode()) > NAME_MAX:
        name = f".{hashlib.sha1(dst.name.encode()).hexdigest()}{PART_SUFFIX}"
    return dst.parent / name


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete part files left under ``folder`` by writers that were killed; they are never
    outputs (and never inputs: discovery skips hidden files). Returns how many."""
    stale = [p for p in Path(folder).rglob(f".*{PART_SUFFIX}") if _PART_NAME.match(p.name)]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def write_atomically(dst: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Write through ``write`` to the part file, then rename: no reader ever sees half a file."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(dst)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _save_atomically(im: Image.Image, dst: Path, fmt: str, **params: Any) -> None:
    write_atomically(dst, lambda fh: im.save(fh, format=fmt, **params))


def resize_image(
    src: str | os.PathLike, dst: str | os.PathLike, spec: ResizeSpec
) -> tuple[int, int]:
    """Resize one image file to ``dst`` as ``spec`` says; returns the output (width, height).

    Raises :class:`ImageError` naming the file for anything wrong with the input; nothing is
    written to ``dst`` then.
    """
    src, dst = Path(src), Path(dst)
    # Pillow's own guard stays on, at our limit: it refuses images over twice max_pixels
    # while opening them, and _check_pixels the rest before any pixel is decoded.
    Image.MAX_IMAGE_PIXELS = spec.max_pixels
    with warnings.catch_warnings(), _input_errors(src):
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(src)
    with im:
        return _resize_open(im, src, dst, spec)


@contextlib.contextmanager
def _input_errors(src: Path, fmt: str | None = None) -> Iterator[None]:
    """Turn what Pillow and the OS raise for a bad input into an ImageError naming it, with
    the reason a person would give ("truncated JPEG", "not an image (text)")."""
    try:
        yield
    except UnidentifiedImageError:
        raise ImageError(src, _unidentified_reason(src)) from None
    except Image.DecompressionBombError as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels[1]):,} pixels" if pixels else "image"
        raise ImageError(
            src, f"{size} exceeds max_pixels={Image.MAX_IMAGE_PIXELS:,} (decompression bomb?)"
        ) from None
    except FileNotFoundError as exc:
        if src.is_symlink():
            raise ImageError(src, f"broken symlink (to {os.readlink(src)})") from None
        raise ImageError(src, exc.strerror or str(exc)) from None
    except (PermissionError, IsADirectoryError) as exc:
        raise ImageError(src, exc.strerror or str(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        kind = fmt or _sniff_format(src)
        if "truncated" in str(exc).lower() or isinstance(exc, EOFError):
            raise ImageError(src, f"truncated {kind} ({exc})") from None
        raise ImageError(src, f"corrupt {kind} ({exc})") from None


# Formats people meet in photo folders that Pillow cannot decode: (magic test, name).
_UNREADABLE_FORMATS = (
    (lambda head: head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1"), "HEIC"),
    (lambda head: head.startswith(b"\xff\x0a") or head[4:8] == b"JXL ", "JPEG XL"),
    (lambda head: head.startswith(b"%PDF"), "PDF"),
    (lambda head: b"<svg" in head, "SVG"),
)


# Leading bytes of the formats Pillow reads most, to name a file it failed to open.
_MAGIC = {b"\xff\xd8": "JPEG", b"\x89PNG": "PNG", b"GIF8": "GIF", b"II*\x00": "TIFF",
          b"MM\x00*": "TIFF", b"BM": "BMP", b"RIFF": "WEBP"}  # fmt: skip


def _sniff_format(src: Path) -> str:
    with contextlib.suppress(OSError), open(src, "rb") as fh:
        head = fh.read(4)
        return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), "image")
    return "image"


def _unidentified_reason(src: Path) -> str:
    """Why Pillow could not even identify ``src``: empty, text, a known unsupported format."""
    with open(src, "rb") as fh:
        head = fh.read(512)
    if not head:
        return "empty file (0 bytes)"
    for test, name in _UNREADABLE_FORMATS:
        if test(head):
            return f"{name} file: a format Pillow cannot read"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "not an image (text file)"
    return "not an image Pillow can read"


def _check_pixels(im: Image.Image, src: Path, max_pixels: int) -> None:
    if im.width * im.height > max_pixels:
        raise ImageError(src, f"{im.width:,}×{im.height:,} exceeds max_pixels={max_pixels:,}")


def _resize_open(im: Image.Image, src: Path, dst: Path, spec: ResizeSpec) -> tuple[int, int]:
    _check_pixels(im, src, spec.max_pixels)
    in_format = im.format or "PNG"
    out_format = in_format if spec.format == "same" else FORMATS[spec.format][0]
    if out_format not in STORABLE:
        out_format = "PNG"  # e.g. PPM/ICO inputs with format: same keep their name, PNG bytes
    with _input_errors(src, im.format):
        orientation = im.getexif().get(EXIF_ORIENTATION_TAG, 1)
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
    if spec.jpeg_draft and im.format == "JPEG" and spec.resample != "nearest":
        box = _draft(im, out_size, box)
    with _input_errors(src, im.format):
        im.load()
    icc = im.info.get("icc_profile")

    in_family = _colour_family(im.mode)
    work = _working_mode(im)
    resized = work.resize(out_size, RESAMPLE[spec.resample], box=box)
    if transpose is not None:
        resized = resized.transpose(transpose)
    if spec.mode == "pad":
        resized = _pad(resized, spec)
    out = _to_storable(resized, out_format, spec.background)
    out.info = {}  # metadata is not carried implicitly: only what we pass below

    params: dict[str, Any] = {}
    if out_format in LOSSY:
        params["quality"] = spec.quality
    if icc and out_format in ICC_FORMATS and _colour_family(out.mode) == in_family:
        params["icc_profile"] = icc
    _save_atomically(out, dst, out_format, **params)
    return out.size


def _pad(im: Image.Image, spec: ResizeSpec) -> Image.Image:
    canvas = Image.new(im.mode, spec.size, _colour(spec.pad_color, im.mode))
    canvas.paste(im, ((spec.size[0] - im.width) // 2, (spec.size[1] - im.height) // 2))
    return canvas


def try_resize(
    src: str | os.PathLike, dst: str | os.PathLike, spec: ResizeSpec
) -> tuple[tuple[int, int] | None, ImageError | None]:
    """:func:`resize_image`, with a bad input returned rather than raised. Its old output,
    made from an earlier version of the input, is removed: it no longer matches the input."""
    try:
        return resize_image(src, dst, spec), None
    except ImageError as exc:
        Path(dst).unlink(missing_ok=True)
        return None, exc


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
    job succeeds: the records, not the images, are then what the rule declares.
    """
    from failures import write_record

    for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True)):
        with open(logs[i], "w") if logs else contextlib.nullcontext(sys.stderr) as log:
            size, error = try_resize(src, dst, spec)
            if error:
                print(f"error: {error}", file=log)
                if records:
                    print(f"skipped: {error}", file=sys.stderr)
                    write_record(records[i], src, error.reason)
                    continue
                if logs:
                    print(f"error: {error}", file=sys.stderr)
                return 1
            print(f"{src} -> {dst} {size[0]}x{size[1]}", file=log)
            if records:
                write_record(records[i], src, None)
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
