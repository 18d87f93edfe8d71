"""The dry run at scale (``benchmark.py --dry-run-scale N``): how long ``snakemake -n`` takes
(parse, discovery, DAG) and how much memory it needs over N images, as shipped."""

import shutil
from pathlib import Path
from typing import Any

from imageprep.shards import auto_images_per_job
from imageprep.spec import ResizeSpec

from .engines import SNAKEMAKE_VARIANTS, Task, run_snakemake
from .measure import timed
from .report import TARGETS


def empty_images(n_images: int) -> Path:
    """n empty .jpg files, 1000 a folder like a real large collection (made once, cached)."""
    folder = Path("resources") / "datasets" / f"dry-run-{n_images}"
    if not (folder / ".complete").exists():
        for i in range(n_images):
            path = folder / f"{i // 1000:03d}" / f"img_{i:06d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        (folder / ".complete").touch()
    return folder


def dry_run_scale(n_images: int, config: dict[str, Any], out_dir: Path) -> str:
    """Time ``snakemake -n`` (parse, discovery, DAG) on n empty image files, as shipped."""
    folder = empty_images(n_images)
    scratch = out_dir / "scratch-dry-run"
    shutil.rmtree(scratch, ignore_errors=True)
    out = scratch / "out"
    keys = set(ResizeSpec.__dataclass_fields__) | {"extensions", "images_per_job"}
    task = Task(
        folder.resolve(),
        out.resolve(),
        [],
        ResizeSpec(),
        {k: config[k] for k in keys if k in config},
        scratch.resolve(),
    )
    variant = SNAKEMAKE_VARIANTS["snakemake"]
    _, wall, _, rss = timed(lambda: run_snakemake(task, variant, 2, "--dry-run") or {})
    shutil.rmtree(scratch, ignore_errors=True)
    per_job = config["images_per_job"] or auto_images_per_job(n_images)
    targets = f"{TARGETS['dry_run_wall'].limit}, {TARGETS['dry_run_rss'].limit}"
    report = (
        f"# Dry run at scale\n\n- `snakemake -n` over {n_images:,} images "
        f"(empty files, {per_job} image(s) per job, {variant.describe()}): "
        f"{wall:.1f} s wall, {rss.peak_child / 2**20:.0f} MB peak RSS of the snakemake process "
        f"(targets: {targets})\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dry-run-scale.md").write_text(report)
    return report
