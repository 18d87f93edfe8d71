"""The resampler (imageprep.image.resampler): fast_image_resize where installed, Pillow's as the
fallback. Its pixels agree with Pillow's for every mode and filter, alpha is resized
premultiplied (no dark fringe), the fallback can be forced and a folder made by one is
redone by the other, and pools started by every method give the same bytes."""

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import digests, run_snakemake, write_config
from imagefactory import photo
from imageprep.folder.manifest import read_manifest
from imageprep.folder.writers.files import resize_file
from imageprep.image import resampler
from imageprep.image.spec import RESAMPLE, ResizeSpec
from imageprep.image.synthetic import photo_like

needs_fir = pytest.mark.skipif(
    resampler.NAME == "pillow", reason="cykooz-resizer is not installed (no wheel here)"
)
BOX = (10.3, 7.6, 600.2, 470.9)  # fractional, as fill's centred crops are


def with_alpha(im: Image.Image) -> Image.Image:
    """``im`` with an opaque rectangle, a half-transparent band and transparent elsewhere."""
    alpha = np.zeros((im.height, im.width), np.uint8)
    alpha[100:380, 150:500] = 255
    alpha[200:250, :] = 128
    im = im.copy()
    im.putalpha(Image.fromarray(alpha))
    return im


def images() -> dict[str, Image.Image]:
    """Every working mode the transform resizes (pixel_modes.working_mode)."""
    base = photo_like(640, 480, seed=3)
    grey = base.convert("L")
    return {
        "L": grey,
        "LA": with_alpha(base.convert("LA")),
        "RGB": base,
        "RGBA": with_alpha(base.convert("RGBA")),
        "CMYK": base.convert("CMYK"),
        "I": Image.fromarray(np.asarray(grey, dtype=np.int32) * 257),  # 16-bit levels
    }


def premultiplied(im: Image.Image) -> np.ndarray:
    """Colour weighted by alpha, in 0..255 (what a viewer composites), for every mode."""
    a = np.asarray(im, dtype=np.float64)
    if im.mode == "I":
        return a[..., None] / 257
    if a.ndim == 2:
        return a[..., None]
    if im.mode in ("LA", "RGBA"):
        return np.concatenate([a[..., :-1] * a[..., -1:] / 255, a[..., -1:]], axis=-1)
    return a


@needs_fir
@pytest.mark.parametrize("resample", sorted(RESAMPLE))
@pytest.mark.parametrize("mode", sorted(images()))
def test_each_mode_and_filter_agrees_with_pillows_resampler(mode, resample):
    """The config's filter names map to the same filters: on a smooth photo, fast_image_resize
    and Pillow differ by well under a level on average (both round; their passes keep
    different precision, which moves clipped overshoot at hard edges by a few levels)."""
    im = images()[mode]
    made = resampler.resize(im, (224, 160), resample, BOX, None)
    pillow = im.resize((224, 160), RESAMPLE[resample], box=BOX)
    assert (made.mode, made.size) == (pillow.mode, pillow.size)
    diff = np.abs(premultiplied(made) - premultiplied(pillow))
    assert diff.mean() < 0.35, f"{mode} {resample}: mean difference {diff.mean():.3f}"
    assert np.percentile(diff, 99) <= 3


@needs_fir
@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparent_edges_keep_their_colour(mode):
    """A bright shape on a transparent black background: its soft edge keeps the shape's
    colour, as Pillow's (premultiplied) result does. Resizing the channels as they are
    would mix in the black of the transparent pixels: a dark fringe."""
    im = Image.new(mode, (300, 300), (0, 0, 0, 0) if mode == "RGBA" else (0, 0))
    im.paste((250, 200, 40, 255) if mode == "RGBA" else (230, 255), (100, 100, 200, 200))
    # bilinear: no ringing, so any colour error at the edge is the fringe's
    made = np.asarray(resampler.resize(im, (97, 97), "bilinear", (0, 0, 300, 300), None))
    pillow = np.asarray(im.resize((97, 97), Image.Resampling.BILINEAR))
    alpha = made[..., -1:].astype(float) / 255
    edge = (alpha[..., 0] > 0) & (alpha[..., 0] < 1)
    assert edge.sum() >= 40  # the soft edge is there
    shape = np.array((250, 200, 40) if mode == "RGBA" else (230,))
    # Compared as composited (colour × alpha): a faint pixel's own colour is 8-bit noise.
    ours = np.abs((made[..., :-1] - shape) * alpha)[edge].max()
    theirs = np.abs((pillow[..., :-1] - shape) * alpha)[edge].max()
    assert ours <= 2, "edge pixels darkened by transparent black"
    assert theirs <= 2  # Pillow's reference result, the same way


@needs_fir
def test_a_16_bit_image_keeps_its_levels():
    ramp = np.tile(np.arange(0, 65536, 64, dtype=np.int32), (40, 1))  # 1024 wide, 0..65472
    made = resampler.resize(Image.fromarray(ramp), (256, 10), "lanczos", (0, 0, 1024, 40), None)
    assert made.mode == "I"
    row = np.asarray(made)[5]
    assert np.all(np.diff(row) > 0) and row[0] < 300 and row[-1] > 65200  # 16 bits, in order


def _resize_one(args: tuple[str, str]) -> bytes:
    src, dst = args
    resize_file(src, dst, ResizeSpec(size=(224, 224), mode="fill"))
    return Path(dst).read_bytes()


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_pools_give_the_same_bytes_with_every_start_method(tmp_path, method):
    """The pool command and the benchmark's pools fork on Linux (spawn on macOS, forkserver
    from Python 3.14): a resizer made in the parent before the fork must still work in the
    children, and give the parent's bytes."""
    srcs = [photo(tmp_path / f"{i}.jpg", (1600, 1200), seed=i) for i in range(4)]
    expected = [_resize_one((str(s), str(tmp_path / f"parent-{s.name}"))) for s in srcs]
    jobs = [(str(s), str(tmp_path / f"{method}-{s.name}")) for s in srcs]
    with ProcessPoolExecutor(2, mp_context=mp.get_context(method)) as pool:
        assert list(pool.map(_resize_one, jobs)) == expected


@needs_fir
def test_the_fallback_is_forced_and_each_resampler_redoes_the_others_folder(workdir):
    """IMAGEPREP_RESAMPLER=pillow: Pillow's resampler, as on a machine without the package.
    Its outputs are Pillow's bytes; a run with fast_image_resize afterwards redoes every
    image (the resampler is in the fingerprint), then finds nothing to do."""
    for i in range(3):
        photo(workdir / "photos" / f"img{i}.jpg", (800, 600), seed=i)
    write_config(workdir, input_dir="photos", output_dir="results", size=[200, 150])
    fallback = {**os.environ, "IMAGEPREP_RESAMPLER": "pillow"}
    run_snakemake(workdir, env=fallback)
    made = digests(workdir / "results")
    rows = read_manifest(workdir / "results" / "manifest.csv")
    expected = {}
    for i in range(3):
        dst = workdir / "expected" / f"img{i}.jpg"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(resampler, "NAME", "pillow")
            resize_file(workdir / "photos" / f"img{i}.jpg", dst, ResizeSpec(size=(200, 150)))
        expected[f"img{i}.jpg"] = dst.read_bytes()
        assert (workdir / "results" / f"img{i}.jpg").read_bytes() == expected[f"img{i}.jpg"]

    again = run_snakemake(workdir)  # this machine's fast_image_resize
    assert "Nothing to be done" not in again.stderr
    for i in range(3):
        assert (workdir / "results" / f"img{i}.jpg").read_bytes() != expected[f"img{i}.jpg"]
    now = read_manifest(workdir / "results" / "manifest.csv")
    assert all(now[k].fingerprint != rows[k].fingerprint for k in rows)
    assert digests(workdir / "results") != made
    assert "Nothing to be done" in run_snakemake(workdir).stderr
