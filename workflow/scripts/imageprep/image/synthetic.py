"""Deterministic photo-like test images: smooth gradients, hard-edged shapes and fine texture,
so codecs and resamplers work as hard as on real photos (pure noise would not compress
like a photo; flat colour would be unrealistically cheap).

The demo set (``demo_catalog``) is what the default config resizes on a fresh clone.
"""

import json
import os
import shutil
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageDraw, ImageFilter


def photo_like(width: int, height: int, seed: int, soften: bool = True) -> Image.Image:
    """An RGB image that looks like a photo to a codec; same (size, seed) -> same pixels.
    ``soften=False`` leaves out the slight blur of the shapes' edges, half the time (the
    demo set, whose first run should be quick)."""
    rng = np.random.default_rng(seed)
    # Smooth colour field: a coarse random grid upsampled with a smooth filter.
    coarse = rng.integers(30, 226, size=(4, 5, 3), dtype=np.uint8)
    im = Image.fromarray(coarse, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    # Hard edges: a few opaque and translucent shapes.
    draw = ImageDraw.Draw(im, "RGBA")
    for _ in range(int(rng.integers(6, 15))):
        cx, cy = rng.random() * width, rng.random() * height
        rx, ry = (0.05 + 0.3 * rng.random(2)) * (width, height)
        bbox = (cx - rx, cy - ry, cx + rx, cy + ry)
        colour = (*tuple(rng.integers(0, 256, size=3).tolist()), int(rng.integers(120, 256)))
        if rng.random() < 0.5:
            draw.ellipse(bbox, fill=colour)
        else:
            draw.rectangle(bbox, fill=colour)
    if soften:
        im = im.filter(ImageFilter.GaussianBlur(max(width, height) / 1500))
    # Texture: mid-frequency luminance variation plus fine grain, like foliage and sensor noise.
    mid = rng.normal(0.0, 14.0, size=(max(1, height // 16), max(1, width // 16))).astype(np.float32)
    mid_img = Image.fromarray(mid, "F").resize((width, height), Image.Resampling.BILINEAR)
    grain = rng.normal(0.0, 5.0, size=(height, width)).astype(np.float32)
    pixels = np.asarray(im, dtype=np.float32)
    pixels += (np.asarray(mid_img) + grain)[:, :, None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


@dataclass(frozen=True)
class DemoImage:
    """One image of the demo set: where it goes and what kind of file it is."""

    name: str  # path relative to the demo folder
    width: int  # upright (display) size
    height: int
    kind: str  # jpeg | jpeg-rotated | png-alpha | grey-jpeg | grey-png


DEMO_KINDS = ("jpeg", "png-alpha", "jpeg-rotated", "grey-jpeg", "jpeg", "grey-png")
# About 1 MP at most: larger sizes would make the demo's first run wait on generating them
# (a fresh clone's whole first run is meant to take under 5 s on 2 cores).
DEMO_SIZES = ((1024, 768), (1200, 900), (800, 600), (1280, 720), (900, 900), (960, 720))
SUFFIX = {"png-alpha": ".png", "grey-png": ".png"}


def demo_catalog(count: int = 48, seed: int = 0) -> list[DemoImage]:
    """Names, sizes and kinds of the demo set: a mix of formats, orientations and folders."""
    rng = np.random.default_rng(seed)
    images = []
    for i in range(count):
        kind = DEMO_KINDS[i % len(DEMO_KINDS)]
        width, height = DEMO_SIZES[int(rng.integers(len(DEMO_SIZES)))]
        if kind == "jpeg-rotated" or rng.random() < 0.25:
            width, height = height, width  # portrait
        folder = ("", "street/", "nature/")[i % 3]
        suffix = SUFFIX.get(kind, ".JPG" if i % 8 == 0 else ".jpg")
        images.append(DemoImage(f"{folder}img_{i:03d}{suffix}", width, height, kind))
    return images


def write_demo_image(item: DemoImage, dst: str | os.PathLike, seed: int) -> None:
    """Write one demo image; its pixels depend only on (seed, name, size)."""
    im = photo_like(item.width, item.height, zlib.crc32(f"{seed}:{item.name}".encode()), False)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if item.kind == "jpeg":
        im.save(dst, "JPEG", quality=92)
    elif item.kind == "jpeg-rotated":
        # Orientation 6 = "rotate 90° clockwise to display": the stored pixels are the
        # upright picture rotated 90° counter-clockwise, as a phone in portrait writes them.
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = 6
        im.transpose(Image.Transpose.ROTATE_90).save(dst, "JPEG", quality=92, exif=exif)
    elif item.kind == "grey-jpeg":
        im.convert("L").save(dst, "JPEG", quality=92)
    elif item.kind == "grey-png":
        im.convert("L").save(dst, "PNG", compress_level=1)  # fast to write, same pixels
    elif item.kind == "png-alpha":
        # A soft oval vignette as alpha: transparent corners, opaque centre.
        alpha = Image.new("L", im.size, 0)
        ImageDraw.Draw(alpha).ellipse((0, 0, im.width - 1, im.height - 1), fill=255)
        im.putalpha(alpha.filter(ImageFilter.GaussianBlur(min(im.size) / 20)))
        im.save(dst, "PNG", compress_level=1)
    else:
        raise ValueError(f"unknown demo kind {item.kind!r}")


def write_demo_set(items: list[DemoImage], paths: list[str], seed: int, workers: int = 1) -> None:
    """Write the demo set in parallel; each image depends only on its own item and seed."""
    if workers <= 1:
        for item, path in zip(items, paths, strict=True):
            write_demo_image(item, path, seed)
        return
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(write_demo_image, items, paths, [seed] * len(items)))


def _write_dataset_image(path: str, size: tuple[int, int], seed: int, index: int) -> None:
    im = photo_like(*size, zlib.crc32(f"{seed}:{index}".encode()))
    im.save(path, "JPEG", quality=90)


def generate_dataset(
    folder: str | os.PathLike, count: int, size: tuple[int, int], seed: int = 0, workers: int = 1
) -> list[Path]:
    """``count`` photo-like JPEGs of ``size`` in ``folder``, made in parallel and cached.

    A ``.params.json`` marker written last records what the folder holds; a folder whose
    marker matches is reused as it is, anything else is regenerated from scratch.
    """
    folder = Path(folder)
    params = {"count": count, "size": list(size), "seed": seed, "version": 1}
    marker = folder / ".params.json"
    paths = [folder / f"img_{i:05d}.jpg" for i in range(count)]
    cached = marker.exists() and json.loads(marker.read_text()) == params
    if cached and all(p.exists() for p in paths):
        return paths
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    args = ([str(p) for p in paths], repeat(tuple(size)), repeat(seed), range(count))
    if workers <= 1:
        for _ in map(_write_dataset_image, *args):
            pass
    else:
        with ProcessPoolExecutor(workers) as pool:
            for _ in pool.map(_write_dataset_image, *args, chunksize=8):
                pass
    marker.write_text(json.dumps(params))
    return paths
