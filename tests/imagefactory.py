"""Real image files for tests, made on the fly (tests never download data)."""

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from imageprep.image.synthetic import photo_like

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


# Long-tail inputs: valid or plausible files from the far corners of what Pillow opens. Each
# note says what the file is and what a correct resizer does with it.
LONG_TAIL = {
    "orient6_raw.tif": "TIFF, uncompressed, stored 70×140 with Orientation=6: upright 140×70",
    "orient6_lzw.tif": "TIFF, LZW (libtiff path), Orientation=6: upright 140×70",
    "orient6_deflate.tif": "TIFF, Adobe deflate (libtiff path), Orientation=6: upright 140×70",
    "orient6_g4.tif": "TIFF, bilevel CCITT G4 (libtiff path), Orientation=6: upright 140×70",
    "orient6_ref.jpg": "JPEG, EXIF orientation 6, same upright 140×70 card as the TIFFs",
    "upright_ref.png": "the upright 140×70 card, no orientation tag: the reference",
    "camera_mpo.jpg": "two-frame MPO (stereo camera) named .jpg: resize the first frame",
    "stereo.mpo": "the same two-frame MPO with its own extension",
    "float32.tif": "mode F TIFF, values in [0, 1]: needs scaling ×255, not clipping",
    "float_hdr.tif": "mode F TIFF, values in [-3, 250]: needs a value-range mapping",
    "image.pfm": "PFM (float32, rows bottom-to-top), values in [0, 1]; Pillow says format PPM",
    "onebit_trns.png": "mode 1 PNG with tRNS (black transparent): keep the transparency",
    "int16_trns.png": "16-bit grey PNG (mode I;16) with tRNS 1000: keep the transparency",
    "rgba.bmp": "32-bit BITMAPV4 BMP with an alpha mask: opens RGBA, top-left quarter clear",
    "empty_0x0.wmf": "placeable WMF with an empty bounding box: opens as 0×0, cannot load",
    "icon.ico": "128×128 BMP-coded ICO: read as a bogus TGA once the TGA plugin is loaded",
    "picture.tga": "plain 24-bit TGA, 160×120: loading one first registers TGA before ICO",
    "odd_format.dds": "DDS with FourCC YUY2: Pillow raises NotImplementedError on open",
    "drawing.eps": "tiny valid EPS, 120×80: loading needs Ghostscript",
    "clipart.wmf": "placeable WMF, 120×80 at 72 dpi: a stub, no loader off Windows",
    "data.h5": "HDF5 signature only: a Pillow stub format with size 0×0, no loader",
    "zero_frame.emf": "EMF header with an empty frame: Pillow raises ZeroDivisionError on open",
    "bad_exif.jpg": "valid JPEG whose EXIF IFD is truncated: warns 'Corrupt EXIF data'",
    "bad_apng.png": "valid PNG with an acTL of 0 frames: warns 'Invalid APNG' on open",
}


def _pack_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bmp_rgba(im: Image.Image) -> bytes:
    """BMP with a BITMAPV4 header and an alpha mask: Pillow's own BMP writer stores RGBA with
    a 40-byte header, which readers (Pillow included) open as RGB, dropping the alpha."""
    pixels = im.tobytes("raw", "BGRA", 0, -1)  # bottom-up rows, 4 bytes a pixel
    info = struct.pack("<IiiHHIIiiII", 108, *im.size, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    info += struct.pack("<4I", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"BGRs" + bytes(48)
    return b"BM" + struct.pack("<IHHI", 14 + 108 + len(pixels), 0, 0, 14 + 108) + info + pixels


def _placeable_wmf(width: int, height: int, inch: int = 72) -> bytes:
    """A placeable (Aldus) WMF drawing one rectangle; bounding box width × height units."""
    head = struct.pack("<IHhhhhHI", 0x9AC6CDD7, 0, 0, 0, width, height, inch, 0)
    checksum = 0
    for (word,) in struct.iter_unpack("<H", head):
        checksum ^= word
    records = struct.pack("<IH4h", 7, 0x041B, height - 5, width - 5, 5, 5)  # META_RECTANGLE
    records += struct.pack("<IH", 3, 0)  # META_EOF
    words = (18 + len(records)) // 2
    meta = struct.pack("<HHHIHIH", 1, 9, 0x0300, words, 0, 7, 0)
    return head + struct.pack("<H", checksum) + meta + records


def _dds(fourcc: bytes, width: int = 64, height: int = 32) -> bytes:
    """A DDS header (magic + 124 bytes) declaring a FourCC pixel format, then raw bytes."""
    pixel_format = struct.pack("<II4s5I", 32, 0x4, fourcc, 0, 0, 0, 0, 0)  # DDPF_FOURCC
    header = struct.pack("<7I44x", 124, 0x1007, height, width, width * 2, 0, 0)
    return b"DDS " + header + pixel_format + struct.pack("<5I", 0x1000, 0, 0, 0, 0)


def truncated_exif() -> bytes:
    """EXIF whose IFD claims 5 entries but holds one: Pillow warns, the JPEG stays valid."""
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, 1, 0)  # Orientation = 1
    return b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 5) + entry


def _bad_apng(png: bytes) -> bytes:
    """``png`` with an acTL chunk declaring 0 frames inserted after IHDR (invalid APNG)."""
    return png[:33] + _pack_chunk(b"acTL", struct.pack(">II", 0, 0)) + png[33:]


def long_tail_inputs(folder: Path) -> dict[str, str]:
    """Write the LONG_TAIL files into ``folder``; returns LONG_TAIL. Everything is made here
    (Pillow where it can write the format, struct/zlib where it cannot), nothing downloaded."""
    folder.mkdir(parents=True, exist_ok=True)
    upright = quadrants((140, 70))
    stored = upright.transpose(ORIENTATION_INVERSE[6])  # portrait 70×140 raster
    for name, compression in [
        ("raw", None),
        ("lzw", "tiff_lzw"),
        ("deflate", "tiff_adobe_deflate"),
    ]:
        stored.save(folder / f"orient6_{name}.tif", compression=compression, tiffinfo={274: 6})
    bilevel = Image.new("1", upright.size, 0)
    bilevel.paste(1, (0, 0, 70, 35))  # white top-left quarter where the card is red
    bilevel.transpose(ORIENTATION_INVERSE[6]).save(
        folder / "orient6_g4.tif", compression="group4", tiffinfo={274: 6}
    )
    stored_with_orientation(upright, 6, folder / "orient6_ref.jpg")
    upright.save(folder / "upright_ref.png")

    left, right = photo_like(160, 120, 30), photo_like(160, 120, 31)
    for name in ("camera_mpo.jpg", "stereo.mpo"):
        left.save(folder / name, "MPO", save_all=True, append_images=[right], quality=90)

    grey = np.asarray(photo_like(200, 150, 32).convert("L"), dtype=np.float32)
    unit = (grey - grey.min()) / (grey.max() - grey.min())  # spans exactly [0, 1]
    Image.fromarray(unit, "F").save(folder / "float32.tif")
    Image.fromarray(unit * 253 - 3, "F").save(folder / "float_hdr.tif")
    Image.fromarray(unit, "F").save(folder / "image.pfm")  # Pillow writes PFM itself

    onebit = Image.new("1", (120, 80), 1)
    onebit.paste(0, (0, 0, 60, 40))
    onebit.save(folder / "onebit_trns.png", transparency=0)
    ramp = (np.arange(150 * 200, dtype=np.uint32).reshape(150, 200) * 2).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "int16_trns.png", transparency=1000)
    rgba = photo_like(120, 80, 33).convert("RGBA")
    rgba.paste((0, 0, 0, 0), (0, 0, 60, 40))
    (folder / "rgba.bmp").write_bytes(_bmp_rgba(rgba))

    (folder / "empty_0x0.wmf").write_bytes(_placeable_wmf(0, 0))
    # 128×128 32-bit BMP-coded icon: its 65,576-byte entry puts 0x01 where TGA's header has
    # its bit depth, so a TGA reader tried first accepts it (TGA has no magic to check).
    icon = photo_like(128, 128, 34).convert("RGBA")
    icon.save(folder / "icon.ico", sizes=[(128, 128)], bitmap_format="bmp")
    photo_like(160, 120, 35).save(folder / "picture.tga")
    (folder / "odd_format.dds").write_bytes(_dds(b"YUY2") + bytes(64 * 32 * 2))
    (folder / "drawing.eps").write_text(
        "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 120 80\n%%EndComments\n"
        "newpath 10 10 moveto 110 70 lineto 2 setlinewidth stroke\nshowpage\n%%EOF\n"
    )
    (folder / "clipart.wmf").write_bytes(_placeable_wmf(120, 80))
    (folder / "data.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(88))
    emf = struct.pack("<II", 1, 88) + bytes(32) + b" EMF" + bytes(48)  # all-zero bounds
    (folder / "zero_frame.emf").write_bytes(emf)

    photo_like(160, 120, 36).save(folder / "bad_exif.jpg", quality=90, exif=truncated_exif())
    png = io.BytesIO()
    photo_like(120, 90, 37).save(png, "PNG")
    (folder / "bad_apng.png").write_bytes(_bad_apng(png.getvalue()))
    return dict(LONG_TAIL)


def special_files(folder: Path) -> dict[str, str]:
    """Directory entries that are not plain files or have hostile names; tests that want them
    call this (long_tail_inputs does not, so a plain listing never blocks on a FIFO)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "pipe.png")
    photo(folder / "newline\nname.jpg", (120, 90), seed=38)
    return {
        "pipe.png": "fifo (named pipe): opening it blocks until a writer appears",
        "newline\nname.jpg": "valid 120×90 JPEG with a newline in its name",
    }
