"""Output bytes are versioned. Snakemake re-runs every image when TRANSFORM_VERSION changes
(it is a param of the resize rules), so a change to the transform that changes bytes must
bump it; this test fails when the bytes of a fixed set of generated images change while
the version stays the same.

When it fails after an intended change: bump TRANSFORM_VERSION in
workflow/scripts/imageprep/transform.py and add the new digest below (the failure message
prints it). A Pillow upgrade changes bytes too: the digest is kept per Pillow version.
"""

import hashlib

import numpy as np
import PIL
from PIL import Image

from imagefactory import photo, quadrants, stored_with_orientation
from imageprep.spec import MODES, ResizeSpec, output_relpath
from imageprep.transform import TRANSFORM_VERSION, resize_image

GOLDEN = {
    (2, "13.0.0"): "c3bce096ac3b1c735654233f233991040d1fe0c8fe394f02c45a03253e78b4df",
}


def golden_inputs(folder):
    """A fixed set covering the transform's paths: the JPEG draft, EXIF orientation,
    alpha, greyscale, CMYK, 16-bit and float images."""
    photo(folder / "camera.jpg", (2400, 1800), seed=1, quality=90)
    photo(folder / "small.jpg", (320, 240), seed=2)
    photo(folder / "grey.jpg", (640, 480), seed=3, mode="L")
    photo(folder / "cmyk.jpg", (640, 480), seed=4, mode="CMYK")
    photo(folder / "alpha.png", (400, 300), seed=5, mode="RGBA")
    stored_with_orientation(quadrants((300, 200)), 6, folder / "rotated.jpg")
    ramp = (np.arange(200 * 150, dtype=np.uint32).reshape(150, 200) * 2).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "sixteen.png")
    Image.fromarray(np.linspace(0, 1, 200 * 150, dtype=np.float32).reshape(150, 200)).save(
        folder / "float.tif"
    )
    return sorted(p.name for p in folder.iterdir())


def test_output_bytes_change_only_with_the_transform_version(tmp_path):
    names = golden_inputs(tmp_path / "in")
    digest = hashlib.sha256()
    for mode in MODES:
        for fmt in ("same", "png", "webp"):
            spec = ResizeSpec(size=(224, 160), mode=mode, format=fmt)
            for name in names:
                dst = tmp_path / "out" / mode / fmt / output_relpath(name, fmt)
                resize_image(tmp_path / "in" / name, dst, spec)
                digest.update(f"{mode}/{fmt}/{dst.name}\n".encode() + dst.read_bytes())
    key = (TRANSFORM_VERSION, PIL.__version__)
    assert GOLDEN.get(key) == digest.hexdigest(), (
        f"output bytes for {key} are {digest.hexdigest()}; if this change of bytes is "
        "intended, bump TRANSFORM_VERSION and record the digest in GOLDEN"
    )
