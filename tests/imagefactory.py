"""Real image files for tests, made on the fly (tests never download data)."""

from pathlib import Path

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
