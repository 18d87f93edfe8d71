"""How much the JPEG draft (decode at reduced scale) saves, and what it costs in quality.

Every case is resized by the transform as shipped (its resampler) with the draft at each
gap, and compared by SSIM (luma) and PSNR with the reference: Pillow's resampler on every
pixel decoded. On generated images (the default), or on a folder of JPEGs (``--input-dir``,
``--workload`` or ``--odd``: a generated corpus of odd JPEGs), in every mode at 600, 224 and
128:

    python benchmark/draft_study.py
    python benchmark/draft_study.py --input-dir PHOTOS --gaps 1.25 2 shipped --workers 2
    python benchmark/draft_study.py --workload camera --gaps 1.25 2 shipped --workers 2

For a folder it prints, per gap, the worst case (image named), how many cases fall below
SSIM 0.99, the worst SSIM by the draft's scale and the reduction left after it (why cases
lose), and the single-core time over the folder against libvips' thumbnail. The shipped
rule is imageprep.image.geometry.DRAFT_GAPS (a gap per scale), given as "shipped"; a number is
one gap at every scale. docs/performance.md quotes this output.
"""

import argparse
import itertools
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from PIL import Image

import imageprep.image.geometry as geometry
from imageprep.folder.writers.files import resize_file
from imageprep.image import resampler
from imageprep.image.spec import MODES, ResizeSpec
from imageprep.image.synthetic import photo_like
from imageprep.run.config import DEFAULT_CONFIG, load_config

from .measure import SHIPPED, draft_gaps, gap_arg, gap_label, resampler_named
from .timings import dataset
from .verify import pixels, psnr, ssim

CASES = [((4000, 3000), (600, 600)), ((4000, 3000), (224, 224)), ((2400, 1800), (300, 200))]
CASES += [((1600, 1200), (600, 600)), ((4000, 3000), (1000, 750))]
SIZES = (600, 224, 128)
BUCKETS = (1.25, 1.5, 1.75, 2.0, 3.0, 4.0)  # reduction left after the draft (lower bounds)


def best_time(src: Path, dst: Path, spec: ResizeSpec, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resize_file(src, dst, spec)
        times.append(time.perf_counter() - t0)
    return min(times)


def left_after_draft(src: Path, spec: ResizeSpec) -> tuple[int, float]:
    """The draft's scale (1, 2, 4) and the source pixels per output pixel it leaves for the
    final filter (the transform's geometry, upright as stored: orientation swaps both
    axes of the image and of the output alike)."""
    with Image.open(src) as im:
        width, height = im.size
        out_size, box = geometry.target(width, height, spec)
        if (request := geometry.decode_request(width, height, [spec])) is not None:
            im.draft(im.mode, request)
        fx, fy = im.width / width, im.height / height
        left = min((box[2] - box[0]) * fx / out_size[0], (box[3] - box[1]) * fy / out_size[1])
        return round(width / im.width), left


def one_case(args: tuple[str, int, str, Sequence[float]]) -> list[tuple[float, float, int, float]]:
    """(SSIM, PSNR, draft scale, reduction left) of one (image, size, mode) at each gap; the
    last entry is the shipped resampler on every pixel decoded (no draft)."""
    src, size, mode, gaps = args
    spec = ResizeSpec(size=(size, size), mode=mode, format="png")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        full, fast = Path(tmp) / "full.png", Path(tmp) / "fast.png"
        with resampler_named("pillow"):
            resize_file(src, full, replace(spec, jpeg_draft=False))
        ref_l, ref_rgb = pixels(full, "L"), pixels(full, "RGB")
        for gap in (*gaps, None):
            with draft_gaps(gap or SHIPPED):
                resize_file(src, fast, spec if gap else replace(spec, jpeg_draft=False))
                scale, left = left_after_draft(Path(src), spec) if gap else (1, 0.0)
            quality = ssim(pixels(fast, "L"), ref_l), psnr(pixels(fast, "RGB"), ref_rgb)
            results.append((*quality, scale, left))
    return results


FULL = 1e9  # as a gap: no draft at all


def folder_time(photos: list[str], gap: str | float | None, spec: ResizeSpec) -> float:
    """Seconds to resize every photo on one core (gap None: libvips' thumbnail)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for i, src in enumerate(photos):
            dst = Path(tmp) / f"{i}.jpg"
            if gap is None:
                from .engines import vips_resize

                vips_resize(src, str(dst), spec)
            else:
                with draft_gaps(gap):
                    resize_file(src, dst, spec if gap != FULL else replace(spec, jpeg_draft=False))
        return time.perf_counter() - t0


def study_folder(
    folder: Path, gaps: Sequence[str | float], workers: int, timing: bool = True, limit: int = 0
) -> None:
    photos = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    photos = photos[: limit or None]
    cases = list(itertools.product(photos, SIZES, MODES))
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(one_case, [(*case, tuple(gaps)) for case in cases], chunksize=4))
    print(f"{len(photos)} JPEGs in {folder}, {len(cases)} cases (sizes {SIZES}, modes {MODES})")
    print(f"Resampler: {resampler.NAME}; reference: Pillow's, every pixel decoded.")
    print("\n| gap | worst SSIM (case) | cases < 0.99 | worst PSNR dB |")
    print("|---:|---|---:|---:|")
    for g, gap in enumerate((*gaps, None)):
        worst = min(range(len(cases)), key=lambda i: results[i][g][0])
        src, size, mode = cases[worst]
        below = sum(r[g][0] < 0.99 for r in results)
        label = gap_label(gap) if gap else "no draft"
        case = f"{results[worst][g][0]:.4f} ({Path(src).name}, {mode} {size})"
        print(f"| {label} | {case} | {below} | {min(r[g][1] for r in results):.1f} |")
    print("\nWorst SSIM by the draft's scale and the reduction it leaves for the final filter:")
    print("| scale | reduction left | cases | worst SSIM | cases < 0.99 |")
    print("|---:|---|---:|---:|---:|")
    every = [r for rows in results for r in rows[: len(gaps)]]
    for scale in sorted({r[2] for r in every}):
        for low, high in itertools.pairwise((*BUCKETS, float("inf"))):
            bucket = [s for s, _, sc, left in every if sc == scale and low <= left < high]
            if bucket:
                below = sum(s < 0.99 for s in bucket)
                print(f"| 1/{scale} | {low}–{high} | {len(bucket)} | {min(bucket):.4f} | {below} |")
    if not timing:
        return
    spec = ResizeSpec()
    print("\nOne core, every photo, stretch 600×600 (seconds):")
    print("| " + " | ".join(gap_label(g) for g in gaps) + " | full decode | libvips thumbnail |")
    print("|" + "---:|" * (len(gaps) + 2))
    times = [folder_time(photos, gap, spec) for gap in gaps]
    times.append(folder_time(photos, FULL, spec))
    try:
        times.append(folder_time(photos, None, spec))
    except ImportError:
        times.append(float("nan"))
    print("| " + " | ".join(f"{t:.2f}" for t in times) + " |")


def odd_jpegs(folder: Path) -> Path:
    """JPEGs unlike camera photos, where the draft's scaled IDCT might lose more: greyscale,
    CMYK, 4:4:4 and 4:2:0 chroma, progressive, EXIF-rotated, low quality, very wide and
    tall, odd sizes, a sharp synthetic pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    base = photo_like(3000, 2000, seed=11, soften=False)
    base.convert("L").save(folder / "grey.jpg", quality=90)
    base.convert("CMYK").save(folder / "cmyk.jpg", quality=90)
    base.save(folder / "chroma444.jpg", quality=95, subsampling=0)
    base.save(folder / "progressive.jpg", quality=90, progressive=True)
    base.save(folder / "quality40.jpg", quality=40)
    exif = Image.Exif()
    exif[0x0112] = 6
    base.save(folder / "rotated.jpg", quality=90, exif=exif)
    photo_like(8000, 600, seed=12).save(folder / "wide.jpg", quality=90)
    photo_like(700, 5000, seed=13).save(folder / "tall.jpg", quality=90)
    photo_like(4001, 2999, seed=14).save(folder / "odd-size.jpg", quality=90)
    check = Image.new("L", (64, 64))
    check.putdata([255 * ((x // 3 + y // 3) % 2) for y in range(64) for x in range(64)])
    check.resize((2400, 2400), Image.Resampling.NEAREST).save(folder / "pattern.jpg", quality=92)
    return folder


def study_generated(gaps: Sequence[str | float], repeats: int) -> None:
    print("| source → output | full decode | " + " | ".join(map(gap_label, gaps)) + " |")
    print("|---|---:|" + "---:|" * len(gaps))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for (sw, sh), size in CASES:
            src = folder / f"{sw}x{sh}.jpg"
            if not src.exists():
                photo_like(sw, sh, seed=3).save(src, "JPEG", quality=92)
            full = folder / "full.jpg"
            t_full = best_time(src, full, ResizeSpec(size=size, jpeg_draft=False), repeats)
            ref_l, ref_rgb = pixels(full, "L"), pixels(full, "RGB")
            cells = [f"{t_full * 1000:.0f} ms"]
            for gap in gaps:
                fast = folder / "fast.jpg"
                with draft_gaps(gap):
                    t = best_time(src, fast, ResizeSpec(size=size), repeats)
                ssim_value = ssim(pixels(fast, "L"), ref_l)
                psnr_value = psnr(pixels(fast, "RGB"), ref_rgb)
                cells.append(f"{t * 1000:.0f} ms, SSIM {ssim_value:.4f}, {psnr_value:.1f} dB")
            print(f"| {sw}×{sh} → {size[0]}×{size[1]} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--gaps",
        type=gap_arg,
        nargs="+",
        default=[1.25, 2.0, SHIPPED],
        help='numbers (one gap at every draft scale) or "shipped" (geometry.DRAFT_GAPS)',
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--input-dir", type=Path, help="a folder of JPEG photographs to study")
    source.add_argument("--workload", help="a benchmark workload's images (config/config.yaml)")
    source.add_argument("--odd", action="store_true", help="a generated corpus of odd JPEGs")
    p.add_argument("--no-timing", action="store_true", help="quality only (for a folder)")
    p.add_argument("--limit", type=int, default=0, help="at most this many images of a folder")
    p.add_argument("--workers", type=int, default=1, help="processes for the SSIM cases")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (generated images)")
    args = p.parse_args(argv)
    if args.odd:
        with tempfile.TemporaryDirectory() as tmp:
            study_folder(odd_jpegs(Path(tmp)), args.gaps, args.workers, not args.no_timing)
    elif args.input_dir or args.workload:
        folder = args.input_dir or dataset(load_config(DEFAULT_CONFIG), args.workload, 1)
        study_folder(folder, args.gaps, args.workers, not args.no_timing, args.limit)
    else:
        study_generated(args.gaps, args.repeats)
