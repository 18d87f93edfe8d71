"""Similarity measures used to hold quality while speeding up (JPEG draft, other engines)."""

import numpy as np
import pytest
from PIL import Image

from imagefactory import photo
from imageprep.folder.writers.files import resize_file
from imageprep.image.spec import ResizeSpec
from imageprep_bench import verify


def test_psnr_and_ssim_of_identical_and_different_images():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(64, 80)).astype(np.float64)
    assert verify.psnr(a, a) == float("inf")
    assert verify.ssim(a, a) == pytest.approx(1.0)
    assert verify.psnr(a, np.clip(a + 1, 0, 255)) == pytest.approx(48.13, abs=0.2)
    noisy = np.clip(a + rng.normal(0, 40, a.shape), 0, 255)
    assert 0 < verify.ssim(a, noisy) < 0.9


@pytest.mark.parametrize("mode", ["stretch", "fit", "fill", "pad"])
@pytest.mark.parametrize("orientation", [1, 6])
def test_jpeg_draft_holds_quality_against_full_decode(tmp_path, mode, orientation):
    src = tmp_path / "big.jpg"
    im = photo(tmp_path / "upright.png", (2400, 1800))
    stored = Image.open(im)
    if orientation == 6:
        stored = stored.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(src, "JPEG", quality=92, exif=exif)
    fast, full = tmp_path / "fast.jpg", tmp_path / "full.jpg"
    spec = ResizeSpec(size=(300, 200), mode=mode)
    size = resize_file(src, fast, spec)
    assert resize_file(src, full, ResizeSpec(size=(300, 200), mode=mode, jpeg_draft=False)) == size
    assert fast.read_bytes() != full.read_bytes()  # the draft path really was taken
    a, b = verify.pixels(fast, "L"), verify.pixels(full, "L")
    assert verify.ssim(a, b) >= 0.99
    assert verify.psnr(verify.pixels(fast, "RGB"), verify.pixels(full, "RGB")) >= 35
