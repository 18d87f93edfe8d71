"""The one per-image transform: every engine (Snakemake rule, loop, pools, benchmark) calls
:func:`resize_image`, so outputs are byte-identical whichever engine ran them.

Run as ``python resize.py --spec JSON --inputs SRC... --outputs DST... [--logs LOG...]``
(what the Snakemake rules do), or import :func:`resize_image`.
"""

import contextlib
import json
import math
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

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


def _save_atomically(im: Image.Image, dst: Path, fmt: str, **params: Any) -> None:
    """Write next to dst, then rename, so no reader ever sees a half-written image."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            im.save(fh, format=fmt, **params)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def resize_image(
    src: str | os.PathLike, dst: str | os.PathLike, spec: ResizeSpec
) -> tuple[int, int]:
    """Resize one image file to ``dst`` as ``spec`` says; returns the output (width, height).

    Raises :class:`ImageError` naming the file for anything wrong with the input; nothing is
    written to ``dst`` then.
    """
    src, dst = Path(src), Path(dst)
    with _input_errors(src):
        im = Image.open(src)
    with im:
        return _resize_open(im, src, dst, spec)


@contextlib.contextmanager
def _input_errors(src: Path) -> Iterator[None]:
    """Turn what Pillow and the OS raise for a bad input into an ImageError naming it."""
    try:
        yield
    except UnidentifiedImageError:
        raise ImageError(src, "not an image Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(src, str(exc)) from None
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise ImageError(src, exc.strerror or str(exc)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(src, f"cannot decode ({exc})") from None


def _resize_open(im: Image.Image, src: Path, dst: Path, spec: ResizeSpec) -> tuple[int, int]:
    if im.width * im.height > spec.max_pixels:
        raise ImageError(
            src, f"{im.width}x{im.height} pixels exceeds max_pixels={spec.max_pixels:,}"
        )
    in_format = im.format or "PNG"
    out_format = in_format if spec.format == "same" else FORMATS[spec.format][0]
    if out_format not in STORABLE:
        out_format = "PNG"  # e.g. PPM/ICO inputs with format: same keep their name, PNG bytes
    with _input_errors(src):
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
    with _input_errors(src):
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


def run_jobs(
    srcs: Sequence[str], dsts: Sequence[str], logs: Sequence[str] | None, spec: ResizeSpec
) -> int:
    """Resize each src to its dst, one log per image (or stderr); 1 at the first bad image."""
    for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True)):
        with open(logs[i], "w") if logs else contextlib.nullcontext(sys.stderr) as log:
            try:
                width, height = resize_image(src, dst, spec)
            except ImageError as exc:
                print(f"error: {exc}", file=log)
                if logs:
                    print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"{src} -> {dst} {width}x{height}", file=log)
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
    args = p.parse_args(argv)
    if len(args.inputs) != len(args.outputs) or (args.logs and len(args.logs) != len(args.inputs)):
        p.error("--inputs, --outputs and --logs need the same number of paths")
    return run_jobs(args.inputs, args.outputs, args.logs, ResizeSpec.from_json(args.spec))


if __name__ == "__main__":
    sys.exit(main())
