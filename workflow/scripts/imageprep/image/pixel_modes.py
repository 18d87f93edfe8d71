"""Pixel modes: bring any mode Pillow decodes to one that resizes correctly, and the result
to one the output format stores (config/README.md's table says what each gives)."""

from PIL import Image, ImageColor

# Image modes each output format can store as they are; others are converted.
STORABLE = {
    "JPEG": {"L", "RGB", "CMYK"},
    "PNG": {"L", "LA", "RGB", "RGBA", "I;16"},
    "WEBP": {"RGB", "RGBA"},
    "TIFF": {"L", "LA", "RGB", "RGBA", "CMYK", "I;16"},
    "BMP": {"L", "RGB"},  # Pillow writes RGBA BMPs that readers (Pillow too) open as RGB
    "GIF": {"L", "RGB", "RGBA"},
}


def working_mode(im: Image.Image) -> Image.Image:
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


def to_storable(im: Image.Image, fmt: str, background: str) -> Image.Image:
    """Convert the resized image to a mode the output format stores, flattening alpha if needed."""
    storable = STORABLE[fmt]
    if im.mode in storable:
        return im
    if im.mode == "I":
        if "I;16" in storable:
            return im.convert("I;16")
        return to_storable(im.point(lambda v: v / 257).convert("L"), fmt, background)
    base = "L" if im.mode in ("L", "LA") and "L" in storable else "RGB"
    if im.mode in ("RGBA", "LA"):
        if base + "A" in storable:
            return im.convert(base + "A")
        canvas = Image.new(base, im.size, colour(background, base))
        canvas.paste(im.convert(base), mask=im.getchannel("A"))
        return canvas
    return im.convert(base)  # L into a format without greyscale, CMYK without CMYK


def colour(name: str, mode: str) -> float | tuple[int, ...]:
    """A CSS colour name as a pixel value of ``mode`` (Pillow's getcolor knows no CMYK)."""
    if mode == "I":
        return ImageColor.getcolor(name, "L") * 257  # 8-bit grey into the 16-bit range
    return Image.new("RGB", (1, 1), ImageColor.getrgb(name)).convert(mode).getpixel((0, 0))


def colour_family(mode: str) -> str:
    return {"L": "grey", "LA": "grey", "I": "grey", "I;16": "grey", "CMYK": "cmyk"}.get(mode, "rgb")
