"""What a second and a third variant cost when they share one decode (config's variants:),
against each variant run alone: the sequential loop on one core, over a folder of real
photographs or a generated workload, the median of a few repeats. Every variant of the
combined run is checked against a full decode (SSIM on luma, worst image).

    python benchmark/variants_study.py --input-dir resources/photos
    python benchmark/variants_study.py --workload camera --out report.md

Target (issue 19): two variants in one run <= 1.25x the more expensive variant alone.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from imageprep.folder.writers.files import make_files, resize_file
from imageprep.image.spec import ResizeSpec, output_relpath
from imageprep.run.config import DEFAULT_CONFIG, load_config
from imageprep.run.scan import find_images

from .measure import invocation, machine_info, publish
from .timings import dataset
from .verify import pixels, ssim

VARIANTS = {
    "train (224 fill)": ResizeSpec(size=(224, 224), mode="fill"),
    "view (600 fit)": ResizeSpec(size=(600, 600), mode="fit"),
    "thumb (128 fit, png)": ResizeSpec(size=(128, 128), mode="fit", format="png"),
}
RUNS = [  # name, the variants made in one pass
    ("train alone", ["train (224 fill)"]),
    ("view alone", ["view (600 fit)"]),
    ("thumb alone", ["thumb (128 fit, png)"]),
    ("train + view, one pass", ["train (224 fill)", "view (600 fit)"]),
    ("train + view + thumb, one pass", list(VARIANTS)),
]


def made(out: Path, name: str, src: Path) -> Path:
    """Where the study writes variant ``name`` of ``src``."""
    return out / name.split()[0] / output_relpath(src.name, VARIANTS[name].format)


def one_pass(srcs: Sequence[Path], names: Sequence[str], out: Path) -> float:
    """Seconds to make the named variants of every image, one decode per image."""
    targets = [[(made(out, name, src), VARIANTS[name]) for name in names] for src in srcs]
    start = time.perf_counter()
    for src, image_targets in zip(srcs, targets, strict=True):  # alone: as without variants
        make_files(src, image_targets, shared=len(names) > 1)
    return time.perf_counter() - start


def worst_ssim(srcs: Sequence[Path], tmp: Path) -> dict[str, tuple[float, float]]:
    """Each variant of a three-variant pass, written lossless (PNG: the encoder's own loss
    would blur the comparison), against the same settings fully decoded, and against the
    variant made alone: the worst SSIM over the images, for each."""
    lossless = {name: replace(spec, format="png") for name, spec in VARIANTS.items()}
    worst = {name: [1.0, 1.0] for name in VARIANTS}
    for src in srcs:
        shared = [(tmp / f"{i}.png", spec) for i, spec in enumerate(lossless.values())]
        make_files(src, shared, shared=True)
        for (dst, spec), name in zip(shared, lossless, strict=True):
            made = pixels(dst, "L")
            for k, alone in enumerate((replace(spec, jpeg_draft=False), spec)):
                resize_file(src, tmp / "other.png", alone)
                worst[name][k] = min(worst[name][k], ssim(made, pixels(tmp / "other.png", "L")))
    return {name: (full, alone) for name, (full, alone) in worst.items()}


def study(
    srcs: Sequence[Path], repeats: int
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    times: dict[str, list[float]] = {name: [] for name, _ in RUNS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):  # interleaved, so drifts of a noisy machine hit all alike
            for name, names in RUNS:
                times[name].append(one_pass(srcs, names, Path(tmp)))
        return {k: statistics.median(v) for k, v in times.items()}, worst_ssim(srcs, Path(tmp))


def report(
    label: str, n: int, seconds: dict[str, float], worst: dict[str, float], command: str
) -> str:
    alone = {name: seconds[f"{name.split()[0]} alone"] for name in VARIANTS}
    machine = machine_info()
    two = ["train (224 fill)", "view (600 fit)"]
    lines = [
        f"# Variants in one pass: {label} ({n} images)",
        "",
        f"`{command}` on {machine['cpu_model']} ({machine['cores']} cores, Python "
        f"{machine['python']}, Pillow {machine['pillow']}), one core used: the sequential "
        "loop, the median of the repeats, the runs interleaved.",
        "",
        "| run | seconds | × the most expensive variant alone | × separate runs (sum) |",
        "|---|---:|---:|---:|",
    ]
    for name, names in RUNS:
        most = max(alone[v] for v in names)
        total = sum(alone[v] for v in names)
        lines.append(f"| {name} | {seconds[name]:.2f} | {seconds[name] / most:.2f} | "
                     f"{seconds[name] / total:.2f} |")  # fmt: skip
    ratio = seconds["train + view, one pass"] / max(alone[v] for v in two)
    lines += [
        "",
        f"Two variants in one pass: **{ratio:.2f}×** the more expensive alone (target ≤ 1.25; "
        f"as two runs: {sum(alone[v] for v in two) / max(alone[v] for v in two):.2f}×).",
        "",
        "Each variant of the three-variant pass, written lossless (PNG), worst SSIM (luma)"
        " over the images:",
        "",
        "| variant | against a full decode | against the variant made alone |",
        "|---|---:|---:|",
        *(f"| {name} | {full:.4f} | {alone:.4f} |" for name, (full, alone) in worst.items()),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input-dir", type=Path, help="a folder of images (e.g. real photos)")
    source.add_argument("--workload", help="a generated workload of config/config.yaml")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, help="also write the report here (Markdown)")
    args = p.parse_args(argv)
    if args.workload:
        folder = dataset(load_config(DEFAULT_CONFIG), args.workload, 1)
    else:
        folder = args.input_dir
    srcs = [folder / rel for rel in find_images(folder, [".jpg", ".jpeg", ".png"])]
    seconds, worst = study(srcs, args.repeats)
    command = invocation("variants_study.py", argv)
    text = report(args.workload or str(folder), len(srcs), seconds, worst, command)
    publish(text, args.out)
    return 0
