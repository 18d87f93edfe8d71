"""Per-core speed against libvips (issues 21, 26): where one image's time goes, and what each
lever buys at what quality. One core, no pool: libvips' ``thumbnail`` (concurrency 1, no
cache, as the benchmark's ``pyvips`` engine) against the transform with the JPEG draft's gap
at each value asked for, with each resampler: the shipped one (fast_image_resize, at every
CPU extension level asked for), Pillow's (the fallback), and, as a prototype only, libvips'
lanczos3 on the same decoded pixels; and the decode alone (what no resampler can save).
Quality: the worst SSIM (luma) over the images against Pillow's resampler on the fully
decoded image, both written lossless.

    python benchmark/speed_study.py --input-dir resources/photos --mode stretch --size 600
    python benchmark/speed_study.py --workload camera --out report.md
"""

import argparse
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from PIL import Image

import imageprep.image.geometry as geometry
from imageprep.folder.writers.files import resize_file
from imageprep.image import resampler
from imageprep.image.opening import open_image
from imageprep.image.spec import ResizeSpec
from imageprep.run.config import DEFAULT_CONFIG, load_config
from imageprep.run.scan import find_images

from .engines import vips_resize
from .measure import (
    SHIPPED,
    draft_gaps,
    gap_arg,
    gap_label,
    invocation,
    machine_info,
    publish,
    resampler_named,
)
from .timings import dataset
from .verify import pixels, ssim

BANDS = {"L": 1, "RGB": 3}


@contextmanager
def vips_resampler():
    """The prototype: Pillow's LANCZOS resize of an 8-bit L or RGB image done by libvips'
    lanczos3 instead (the crop box rounded to whole pixels); anything else as it was."""
    import pyvips

    pyvips.concurrency_set(1)
    pyvips.cache_set_max(0)
    pillow = Image.Image.resize

    def resize(self, size, resample=None, box=None, reducing_gap=None):  # type: ignore[no-untyped-def]
        if self.mode not in BANDS or resample != Image.Resampling.LANCZOS:
            return pillow(self, size, resample, box, reducing_gap)
        im = self
        if box is not None:
            left, top = round(box[0]), round(box[1])
            right = min(self.width, max(left + 1, round(box[2])))
            bottom = min(self.height, max(top + 1, round(box[3])))
            if (left, top, right, bottom) != (0, 0, self.width, self.height):
                im = self.crop((left, top, right, bottom))
        data = pyvips.Image.new_from_memory(im.tobytes(), *im.size, BANDS[im.mode], "uchar")
        out = data.resize(size[0] / im.width, vscale=size[1] / im.height, kernel="lanczos3")
        return Image.frombytes(im.mode, (out.width, out.height), out.write_to_memory())

    with resampler_named("pillow"):  # the transform's Pillow path, whose resize we replace
        Image.Image.resize = resize  # type: ignore[method-assign]
        try:
            yield
        finally:
            Image.Image.resize = pillow  # type: ignore[method-assign]


def resamplers(levels: Sequence[str]) -> list[tuple[str, Callable]]:
    """(label, context) per resampler to time: the shipped one at each CPU level asked for
    (those this CPU lacks are left out), Pillow's, libvips' prototype."""
    runs: list[tuple[str, Callable]] = []
    if resampler.NAME == "fast_image_resize":
        best_level = resampler.cpu_extensions()
        for level in levels or [best_level]:
            with resampler.forced_cpu_extensions(level) as got:
                if got == level:
                    label = "fast_image_resize" + ("" if level == best_level else f" ({level})")
                    runs.append((label, lambda level=level: resampler.forced_cpu_extensions(level)))
    runs.append(("Pillow", lambda: resampler_named("pillow")))
    runs.append(("libvips prototype", vips_resampler))
    return runs


def decode_only(src: Path, spec: ResizeSpec) -> None:
    """Open and decode as the transform would (the draft its gap allows), nothing else."""
    with open(src, "rb") as fh, open_image(fh, src.name) as im:
        width, height = im.size
        if (request := geometry.decode_request(width, height, [spec])) is not None:
            im.draft(im.mode, request)
        im.load()


def best(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def worst_ssim(srcs: Sequence[Path], spec: ResizeSpec, tmp: Path, reference: dict) -> tuple:
    """The worst SSIM over the images, the transform as it now stands (draft, resampler)
    against ``reference`` (Pillow's resampler, every pixel decoded), both lossless."""
    worst, where = 1.0, ""
    for src in srcs:
        resize_file(src, tmp / "made.png", replace(spec, format="png"))
        value = ssim(reference[src], pixels(tmp / "made.png", "L"))
        if value < worst:
            worst, where = value, src.name
    return worst, where


def study(
    srcs: Sequence[Path],
    spec: ResizeSpec,
    gaps: Sequence[str | float],
    repeats: int,
    levels: Sequence[str] = (),
) -> list:
    """(run, libvips' time / its time, seconds, worst SSIM, worst image) per run."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        reference = {}
        with resampler_named("pillow"):  # Pillow's resampler, every pixel decoded
            for src in srcs:
                resize_file(src, tmp / "ref.png", replace(spec, format="png", jpeg_draft=False))
                reference[src] = pixels(tmp / "ref.png", "L")
        vips = best(lambda: [vips_resize(str(s), str(tmp / "v.jpg"), spec) for s in srcs], repeats)
        rows.append(("libvips thumbnail", vips, math.nan, "", math.nan))
        for gap in gaps:
            with draft_gaps(gap):
                decode = best(lambda: [decode_only(s, spec) for s in srcs], repeats)
                rows.append((f"decode alone, {gap_label(gap)}", decode, math.nan, "", math.nan))
                for label, context in resamplers(levels):
                    with context():
                        seconds = best(
                            lambda: [resize_file(s, tmp / "o.jpg", spec) for s in srcs], repeats
                        )
                        worst, where = worst_ssim(srcs, spec, tmp, reference)
                    name = f"transform, {gap_label(gap)}, {label}"
                    rows.append((name, seconds, worst, where, seconds / decode))
    return [(row[0], vips / row[1], *row[1:]) for row in rows]


def report(label: str, n: int, spec: ResizeSpec, rows: list, command: str) -> str:
    m = machine_info()
    lines = [
        f"# Per-core speed against libvips: {label}, {n} images → "
        f"{spec.size[0]}×{spec.size[1]} {spec.mode}",
        "",
        f"`{command}` on {m['cpu_model']} ({m['cores']} cores, Python {m['python']}, Pillow "
        f"{m['pillow']}, libvips {m.get('libvips', '?')}, resampler {m['resampler']}), one "
        "core, best of the repeats. Quality: worst SSIM "
        "(luma) against Pillow's resampler on the fully decoded image, both lossless.",
        "",
        "| run | seconds | libvips' time / this | time / decode alone | worst SSIM |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, ratio, seconds, worst, where, over_decode in rows:
        quality = "" if math.isnan(worst) else f"{worst:.4f}" + (f" (`{where}`)" if where else "")
        floor = "" if math.isnan(over_decode) else f"{over_decode:.2f}×"
        lines.append(f"| {name} | {seconds:.2f} | {ratio:.2f}× | {floor} | {quality} |")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input-dir", type=Path)
    source.add_argument("--workload")
    p.add_argument("--size", type=int, default=600)
    p.add_argument("--mode", default="stretch")
    p.add_argument(
        "--gaps",
        type=gap_arg,
        nargs="+",
        default=[SHIPPED, 2.0, 1.25],
        help='draft gaps to time: numbers (one gap at every scale) or "shipped"',
    )
    p.add_argument("--limit", type=int, default=0, help="at most this many images")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--levels",
        nargs="*",
        default=[],
        help="fast_image_resize's CPU extension levels to time (none sse4_1 avx2 neon; "
        "default: the best this CPU has)",
    )
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    folder = args.input_dir or dataset(load_config(DEFAULT_CONFIG), args.workload, 1)
    srcs = [folder / r for r in find_images(folder, [".jpg", ".jpeg"])][: args.limit or None]
    spec = ResizeSpec(size=(args.size, args.size), mode=args.mode)
    rows = study(srcs, spec, args.gaps, args.repeats, args.levels)
    command = invocation("speed_study.py", argv)
    text = report(args.workload or str(folder), len(srcs), spec, rows, command)
    publish(text, args.out)
    return 0
