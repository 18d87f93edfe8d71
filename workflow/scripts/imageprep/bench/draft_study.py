"""How much the JPEG draft (decode at reduced scale) saves, and what it costs in quality.

For a few source/output sizes it times the transform with the draft at several gaps and
with a full decode, and compares each against the full decode by SSIM (luma) and PSNR:

    python workflow/scripts/study_draft.py

The shipped gap is imageprep.transform.DRAFT_GAP; docs/performance.md quotes this output.
"""

import argparse
import tempfile
import time
from pathlib import Path

import imageprep.transform as transform
from imageprep.spec import ResizeSpec
from imageprep.synthetic import photo_like
from imageprep.transform import resize_image

from .verify import pixels, psnr, ssim

CASES = [((4000, 3000), (600, 600)), ((4000, 3000), (224, 224)), ((2400, 1800), (300, 200))]
CASES += [((1600, 1200), (600, 600)), ((4000, 3000), (1000, 750))]


def best_time(src: Path, dst: Path, spec: ResizeSpec, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resize_image(src, dst, spec)
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gaps", type=float, nargs="+", default=[1.0, transform.DRAFT_GAP, 2.0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    shipped = transform.DRAFT_GAP
    print("| source → output | full decode | " + " | ".join(f"gap {g}" for g in args.gaps) + " |")
    print("|---|---:|" + "---:|" * len(args.gaps))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for (sw, sh), size in CASES:
            src = folder / f"{sw}x{sh}.jpg"
            if not src.exists():
                photo_like(sw, sh, seed=3).save(src, "JPEG", quality=92)
            full = folder / "full.jpg"
            t_full = best_time(src, full, ResizeSpec(size=size, jpeg_draft=False), args.repeats)
            ref_l, ref_rgb = pixels(full, "L"), pixels(full, "RGB")
            cells = [f"{t_full * 1000:.0f} ms"]
            for gap in args.gaps:
                transform.DRAFT_GAP = gap
                fast = folder / "fast.jpg"
                t = best_time(src, fast, ResizeSpec(size=size), args.repeats)
                ssim_value = ssim(pixels(fast, "L"), ref_l)
                psnr_value = psnr(pixels(fast, "RGB"), ref_rgb)
                cells.append(f"{t * 1000:.0f} ms, SSIM {ssim_value:.4f}, {psnr_value:.1f} dB")
            transform.DRAFT_GAP = shipped
            print(f"| {sw}×{sh} → {size[0]}×{size[1]} | " + " | ".join(cells) + " |")
