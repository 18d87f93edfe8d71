"""How much the JPEG draft (decode at reduced scale) saves, and what it costs in quality.

Every case is resized twice, with the draft at each gap and with every pixel decoded, and
compared by SSIM (luma) and PSNR. On generated images (the default) or on a folder of
real photographs, in every mode at 600 and 224:

    python workflow/scripts/draft_study.py
    python workflow/scripts/draft_study.py --input-dir PHOTOS --gaps 1.25 2 --workers 2

For a folder it prints, per gap, the worst case (image named), how many cases fall below
SSIM 0.99, the worst SSIM by the reduction left after the draft (why cases lose), and the
single-core time over the folder against libvips' thumbnail. The shipped gap is
imageprep.geometry.DRAFT_GAP; docs/performance.md quotes this output.
"""

import argparse
import itertools
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

import imageprep.geometry as geometry
from imageprep.spec import MODES, ResizeSpec
from imageprep.synthetic import photo_like
from imageprep.transform import resize_image

from .verify import pixels, psnr, ssim

CASES = [((4000, 3000), (600, 600)), ((4000, 3000), (224, 224)), ((2400, 1800), (300, 200))]
CASES += [((1600, 1200), (600, 600)), ((4000, 3000), (1000, 750))]
SIZES = (600, 224)
BUCKETS = (1.25, 1.5, 1.75, 2.0, 3.0, 4.0)  # reduction left after the draft (lower bounds)


def best_time(src: Path, dst: Path, spec: ResizeSpec, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resize_image(src, dst, spec)
        times.append(time.perf_counter() - t0)
    return min(times)


def left_after_draft(src: Path, spec: ResizeSpec) -> float:
    """Source pixels per output pixel that the draft leaves for the final filter (the
    transform's geometry, without orientation: the study's photos are upright)."""
    with Image.open(src) as im:
        width, height = im.size
        out_size, box = geometry.target(width, height, spec)
        if (request := geometry.decode_request(width, height, [spec])) is not None:
            im.draft(im.mode, request)
        fx, fy = im.width / width, im.height / height
        return min((box[2] - box[0]) * fx / out_size[0], (box[3] - box[1]) * fy / out_size[1])


def one_case(args: tuple[str, int, str, Sequence[float]]) -> list[tuple[float, float, float]]:
    """(SSIM, PSNR, reduction left) of one (image, size, mode) at each gap."""
    src, size, mode, gaps = args
    spec = ResizeSpec(size=(size, size), mode=mode, format="png")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        full, fast = Path(tmp) / "full.png", Path(tmp) / "fast.png"
        resize_image(src, full, ResizeSpec(size=(size, size), mode=mode, jpeg_draft=False))
        ref_l, ref_rgb = pixels(full, "L"), pixels(full, "RGB")
        for gap in gaps:
            geometry.DRAFT_GAP = gap
            resize_image(src, fast, spec)
            left = left_after_draft(Path(src), spec)
            results.append(
                (ssim(pixels(fast, "L"), ref_l), psnr(pixels(fast, "RGB"), ref_rgb), left)
            )
    return results


def folder_time(photos: list[str], gap: float | None, spec: ResizeSpec) -> float:
    """Seconds to resize every photo on one core (gap None: libvips' thumbnail)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for i, src in enumerate(photos):
            dst = Path(tmp) / f"{i}.jpg"
            if gap is None:
                from .engines import vips_resize

                vips_resize(src, str(dst), spec)
            else:
                geometry.DRAFT_GAP = gap
                resize_image(src, dst, spec)
        return time.perf_counter() - t0


def study_folder(folder: Path, gaps: Sequence[float], workers: int) -> None:
    photos = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    cases = list(itertools.product(photos, SIZES, MODES))
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(one_case, [(*case, tuple(gaps)) for case in cases]))
    print(f"{len(photos)} JPEGs in {folder}, {len(cases)} cases (sizes {SIZES}, modes {MODES})")
    print("\n| gap | worst SSIM (case) | cases < 0.99 | worst PSNR dB |")
    print("|---:|---|---:|---:|")
    for g, gap in enumerate(gaps):
        worst = min(range(len(cases)), key=lambda i: results[i][g][0])
        src, size, mode = cases[worst]
        below = sum(r[g][0] < 0.99 for r in results)
        print(
            f"| {gap} | {results[worst][g][0]:.4f} ({Path(src).name}, {mode} {size}) "
            f"| {below} | {min(r[g][1] for r in results):.1f} |"
        )
    print("\nWorst SSIM by the reduction the draft leaves for the final filter:")
    print("| reduction left | cases | worst SSIM |\n|---|---:|---:|")
    every = [r for rows in results for r in rows]
    for low, high in itertools.pairwise((*BUCKETS, float("inf"))):
        bucket = [s for s, _, left in every if low <= left < high]
        if bucket:
            print(f"| {low}–{high} | {len(bucket)} | {min(bucket):.4f} |")
    spec = ResizeSpec()
    print("\nOne core, every photo, stretch 600×600 (seconds):")
    print("| " + " | ".join(f"gap {g}" for g in gaps) + " | full decode | libvips thumbnail |")
    print("|" + "---:|" * (len(gaps) + 2))
    times = [folder_time(photos, gap, spec) for gap in gaps]
    times.append(folder_time(photos, 1e9, spec))  # a gap no draft satisfies: full decode
    try:
        times.append(folder_time(photos, None, spec))
    except ImportError:
        times.append(float("nan"))
    print("| " + " | ".join(f"{t:.2f}" for t in times) + " |")


def study_generated(gaps: Sequence[float], repeats: int) -> None:
    print("| source → output | full decode | " + " | ".join(f"gap {g}" for g in gaps) + " |")
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
                geometry.DRAFT_GAP = gap
                fast = folder / "fast.jpg"
                t = best_time(src, fast, ResizeSpec(size=size), repeats)
                ssim_value = ssim(pixels(fast, "L"), ref_l)
                psnr_value = psnr(pixels(fast, "RGB"), ref_rgb)
                cells.append(f"{t * 1000:.0f} ms, SSIM {ssim_value:.4f}, {psnr_value:.1f} dB")
            print(f"| {sw}×{sh} → {size[0]}×{size[1]} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gaps", type=float, nargs="+", default=[1.25, geometry.DRAFT_GAP])
    p.add_argument("--input-dir", type=Path, help="a folder of JPEG photographs to study")
    p.add_argument("--workers", type=int, default=1, help="processes for the SSIM cases")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (generated images)")
    args = p.parse_args(argv)
    shipped = geometry.DRAFT_GAP
    try:
        if args.input_dir:
            study_folder(args.input_dir, args.gaps, args.workers)
        else:
            study_generated(args.gaps, args.repeats)
    finally:
        geometry.DRAFT_GAP = shipped
