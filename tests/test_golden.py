"""Output bytes are versioned. Snakemake re-runs every image when TRANSFORM_VERSION changes
(it is a param of the resize rules), so a change to the transform that changes bytes must
bump it; this test fails when the bytes of a fixed set of generated images change while
the version stays the same.

When it fails after an intended change: bump TRANSFORM_VERSION in
workflow/scripts/imageprep/image/transform.py and add the new digest below (the failure message
prints it). A Pillow or cykooz-resizer upgrade changes bytes too: the digest is kept per
Pillow version and resampler (fast_image_resize at its version, or Pillow's own, the
fallback where the package has no wheel), and fast_image_resize's must not depend on the
CPU extension level it runs at.
"""

import hashlib
from importlib.metadata import version

import numpy as np
import PIL
import pytest
from PIL import Image

from imagefactory import photo, quadrants, stored_with_orientation
from imageprep.folder.writers.files import resize_file
from imageprep.image import resampler
from imageprep.image.spec import MODES, ResizeSpec, output_relpath
from imageprep.image.transform import TRANSFORM_VERSION

GOLDEN = {
    (
        3,
        "13.0.0",
        "fast_image_resize 4.0.1",
    ): "a66a252ceef7ca6c6ce1e0005674a3f504778d3752546911bebb0c5995e56cc7",
    (3, "13.0.0", "pillow"): "7187c985bfd3c41db8b14268d00f452287af44dcf6387d6f8132a7d05abb30a2",
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


def golden_digest(folder):
    """One SHA-256 over every output of the golden inputs, in every mode and format."""
    names = golden_inputs(folder / "in")
    digest = hashlib.sha256()
    for mode in MODES:
        for fmt in ("same", "png", "webp"):
            spec = ResizeSpec(size=(224, 160), mode=mode, format=fmt)
            for name in names:
                dst = folder / "out" / mode / fmt / output_relpath(name, fmt)
                resize_file(folder / "in" / name, dst, spec)
                digest.update(f"{mode}/{fmt}/{dst.name}\n".encode() + dst.read_bytes())
    return digest.hexdigest()


def resampler_key(name):
    if name == "pillow":
        return name
    return f"{name} {version('cykooz-resizer')}"


@pytest.fixture(params=["fast_image_resize", "pillow"])
def made_by(request, monkeypatch):
    """Each resampler in turn (the fallback forced, as IMAGEPREP_RESAMPLER=pillow does)."""
    if request.param != "pillow" and resampler.NAME == "pillow":
        pytest.skip("cykooz-resizer is not installed here (no wheel for this platform)")
    monkeypatch.setattr(resampler, "NAME", request.param)
    return request.param


def test_output_bytes_change_only_with_the_transform_version(tmp_path, made_by):
    key = (TRANSFORM_VERSION, PIL.__version__, resampler_key(made_by))
    digest = golden_digest(tmp_path)
    assert GOLDEN.get(key) == digest, (
        f"output bytes for {key} are {digest}; if this change of bytes is "
        "intended, bump TRANSFORM_VERSION and record the digest in GOLDEN"
    )


def test_same_bytes_at_every_cpu_extension_level(tmp_path):
    """fast_image_resize picks its SIMD code at run time (none, SSE4.1, AVX2, NEON): a
    machine without AVX2 must write what this one does. Each level this CPU has is forced."""
    if resampler.NAME == "pillow":
        pytest.skip("cykooz-resizer is not installed here (no wheel for this platform)")
    made = {}
    for level in resampler.LEVELS:
        with resampler.forced_cpu_extensions(level) as got:
            if got == level:
                made[level] = golden_digest(tmp_path / level)
    expected = GOLDEN[(TRANSFORM_VERSION, PIL.__version__, resampler_key("fast_image_resize"))]
    assert len(made) >= 2, f"only {sorted(made)} could be forced on this CPU"
    assert made == dict.fromkeys(made, expected)
