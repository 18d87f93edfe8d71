"""Real image files for tests, made on the fly (tests never download data)."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from synthetic import photo_like

ORIENTATION_INVERSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # stored rotated 90° CCW; displayed after a 270° turn
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def photo(path: Path, size=(320, 240), fmt=None, seed=0, mode="RGB", **save) -> Path:
    """A photo-like image file of ``size`` in ``mode``; format from the suffix unless given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = photo_like(*size, seed)
    if mode != "RGB":
        im = im.convert(mode)
    im.save(path, fmt, **save)
    return path


def quadrants(size=(300, 200)) -> Image.Image:
    """Upright test card: red top-left quarter, the rest blue, so orientation is visible."""
    im = Image.new("RGB", size, (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, size[0] // 2, size[1] // 2))
    return im


def stored_with_orientation(upright: Image.Image, orientation: int, path: Path) -> Path:
    """Save ``upright`` as a camera would with EXIF ``orientation``: displaying it right
    (applying the orientation) gives ``upright`` back."""
    inverse = ORIENTATION_INVERSE[orientation]
    stored = upright if inverse is None else upright.transpose(inverse)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, "JPEG", quality=95, exif=exif)
    return path


def _with_png_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (CRC fixed), its data left as it was: what a
    decompression bomb looks like to a reader that checks the header first."""
    ihdr = bytearray(png[12:29])  # chunk type + 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    return png[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def _corrupt_idat(png: bytes) -> bytes:
    at = png.index(b"IDAT") + 12
    return png[:at] + bytes(b ^ 0xFF for b in png[at : at + 8]) + png[at + 8 :]


# Bad inputs: file name -> the reason every engine must give (a substring of it).
BAD_REASONS = {
    "truncated.jpg": "truncated JPEG",
    "zero.jpg": "empty file (0 bytes)",
    "notes.jpg": "not an image (text file)",
    "broken_chunk.png": "corrupt PNG",
    "bomb.png": "12,000×12,000 exceeds max_pixels=89,478,485",
    "phone.jpg": "HEIC file: a format Pillow cannot read",
    "dangling.jpg": "broken symlink (to ",
}


def bad_inputs(folder: Path) -> dict[str, str]:
    """Write every kind of bad input file into ``folder``; returns BAD_REASONS."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = io.BytesIO()
    photo_like(320, 240, 1).save(jpeg, "JPEG", quality=90)
    (folder / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("meeting notes, saved with the wrong extension\n")
    png = io.BytesIO()
    photo_like(64, 48, 2).save(png, "PNG")
    (folder / "broken_chunk.png").write_bytes(_corrupt_idat(png.getvalue()))
    (folder / "bomb.png").write_bytes(_with_png_size(png.getvalue(), 12_000, 12_000))
    (folder / "phone.jpg").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(200))
    (folder / "dangling.jpg").symlink_to(folder / "gone" / "missing.jpg")
    return dict(BAD_REASONS)


# Unusual but valid inputs, each of which every engine must turn into a correct output.
ODD_NAMES = [
    "animated.gif", "cmyk.jpg", "sixteen_bit.png", "palette_transparent.png",
    *(f"orientation_{n}.jpg" for n in range(1, 9)),
    "with space.jpg", "ünïcødé.jpg", "-leading dash.jpg", "hash#percent%.jpg", "braces{}.jpg",
    "linked_from_outside.jpg",
]  # fmt: skip


def odd_inputs(folder: Path, outside: Path) -> list[str]:
    """Write ODD_NAMES into ``folder``; the last is a symlink to a file in ``outside``."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = [photo_like(120, 90, s).convert("P") for s in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], loop=0)
    photo(folder / "cmyk.jpg", mode="CMYK")
    Image.fromarray(
        (np.arange(200 * 150, dtype=np.uint16).reshape(150, 200) * 2).astype(np.uint16)
    ).save(folder / "sixteen_bit.png")
    palette = photo_like(100, 80, 3).convert("P")
    palette.save(folder / "palette_transparent.png", transparency=0)
    for n in range(1, 9):
        stored_with_orientation(quadrants(), n, folder / f"orientation_{n}.jpg")
    for i, name in enumerate(ODD_NAMES[-6:-1]):
        photo(folder / name, (200, 150), seed=10 + i)
    target = photo(outside / "elsewhere.jpg", (200, 150), seed=20)
    (folder / ODD_NAMES[-1]).symlink_to(target)
    return list(ODD_NAMES)
