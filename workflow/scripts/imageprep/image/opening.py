"""Opening an input: only regular files, and identified the same way in every process (the
format its name says first, then every other in one fixed order)."""

import contextlib
import functools
import importlib
import os
from pathlib import Path
from typing import BinaryIO

from PIL import ExifTags, Image, UnidentifiedImageError

from imageprep.image.diagnose import ImageError, not_a_file_reason, path_reason
from imageprep.image.spec import WRITTEN


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


# EXIF orientations that swap width and height (transpose, rotate 90/270, transverse).
SWAPS_AXES = {5, 6, 7, 8}
# Formats whose orientation tag Pillow applies itself while loading (TiffImagePlugin).
SELF_ORIENTING = {"TIFF"}


def orientation(im: Image.Image) -> int:
    """The EXIF orientation still to apply: TIFF's is applied by Pillow itself while
    loading (and its size is upright already); every other format's is ours. Read from
    the header alone: a PNG's eXIf chunk may follow the pixels, and Pillow would decode
    them all to find it (getexif), so its chunks are skipped over instead."""
    if im.format in SELF_ORIENTING:
        return 1
    if im.format == "PNG" and "exif" not in im.info:
        data = _png_exif(im.fp)
        if data is None:
            return 1
        exif = Image.Exif()
        exif.load(b"Exif\x00\x00" + data)
        return exif.get(ExifTags.Base.Orientation, 1)
    return im.getexif().get(ExifTags.Base.Orientation, 1)


def _png_exif(fh: BinaryIO) -> bytes | None:
    """The data of a PNG's eXIf chunk, found by reading chunk headers only (the pixel
    data is seeked over); the file's position is left as it was."""
    at = fh.tell()
    try:
        fh.seek(8)
        while head := fh.read(8):
            if len(head) < 8:
                return None
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind == b"eXIf":
                return fh.read(length)
            if kind == b"IEND":
                return None
            fh.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
        return None
    finally:
        fh.seek(at)


def header(src: str | os.PathLike, max_pixels: int) -> tuple[tuple[int, int], str | None] | None:
    """An image's size as it is displayed, and its format, from its header alone, as the
    transform sees them (None where the transform would refuse the image before it knows
    its size: unreadable, no pixels, more than ``max_pixels``)."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with open_input(Path(src)) as fh, open_image(fh, Path(src).name) as im:
            if im.width * im.height == 0 or im.width * im.height > max_pixels:
                return None
            size = (im.height, im.width) if orientation(im) in SWAPS_AXES else im.size
            return size, im.format
    except Exception:  # a row without the input's size is still a row
        return None
