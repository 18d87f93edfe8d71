"""The ways of running the same resize job that the benchmark compares.

Every engine except the outside references (``pyvips``, the article's loop) calls
:func:`imageprep.image.transform.resize_variants` with the same variants on the same images
(one decode per image for all its variants), so their outputs must be byte-identical.
"""

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from imageprep.folder.variants import Variants, named, specs
from imageprep.folder.writers.files import make_files
from imageprep.image.spec import ResizeSpec
from imageprep.pool.schedule import input_sizes, largest_first, make_chunks
from imageprep.run.config import REPO

POOL_COMMAND = REPO / "workflow" / "scripts" / "pool.py"


Image_ = tuple[str, list[str]]  # an input and its output per variant, absolute


@dataclass
class Task:
    """One benchmark job: make every image's outputs (one per variant) under ``output_dir``."""

    input_dir: Path
    output_dir: Path
    images: list[Image_]
    variants: Variants
    config: dict[str, Any]  # workflow config for the command engines (spec keys etc.)
    workdir: Path  # scratch folder the command engines run in (their config, their state)
    options: dict[str, Any] = field(default_factory=dict)  # e.g. chunksize

    @property
    def spec(self) -> ResizeSpec:
        """The first variant's spec (the only one without variants:)."""
        return self.variants[0].spec

    @property
    def pairs(self) -> list[tuple[str, str, ResizeSpec]]:
        """(input, output, spec) of every output: what an engine without a shared decode
        (libvips, the article's loop) makes one by one."""
        return [
            (src, dsts[i], v.spec) for i, v in enumerate(self.variants) for src, dsts in self.images
        ]

    @property
    def specs(self) -> list[ResizeSpec]:
        return specs(self.variants)

    @property
    def shared(self) -> bool:
        """Config's variants: made as the workflow makes them (resize_variants' shared)."""
        return named(self.variants)

    def without_draft(self) -> "Task":
        """This task with every pixel decoded (jpeg_draft off): the quality reference."""
        full = tuple(replace(v, spec=replace(v.spec, jpeg_draft=False)) for v in self.variants)
        return replace(self, variants=full)


def make_image(src: str, dsts: list[str], specs: list[ResizeSpec], shared: bool = False) -> None:
    """One image's outputs through the one transform, decoded once (``shared``: the
    config's variants, as the workflow makes them)."""
    make_files(src, list(zip(dsts, specs, strict=True)), shared=shared)


def sequential(task: Task, workers: int) -> dict[str, Any]:
    """The article's "standard approach": a plain for-loop on one core."""
    for src, dsts in task.images:
        make_image(src, dsts, task.specs, task.shared)
    return {}


def chunks_of(task: Task, workers: int) -> list[list[Image_]]:
    """The pool's chunks (imageprep.pool.schedule): largest images first, about equal bytes a
    chunk, or benchmark.chunksize images a chunk when set."""
    sizes = input_sizes([src for src, _ in task.images])
    chunksize = int(task.options.get("chunksize") or 0)
    return [[task.images[i] for i in chunk] for chunk in make_chunks(sizes, workers, chunksize)]


def resize_chunk(images: list[Image_], specs: list[ResizeSpec], shared: bool) -> None:
    for src, dsts in images:
        make_image(src, dsts, specs, shared)


def process_pool(task: Task, workers: int) -> dict[str, Any]:
    """The article's three-line change, ``ProcessPoolExecutor.map``, over the pool command's
    chunks: largest images first, so few uneven images still end together."""
    chunks = chunks_of(task, workers)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(resize_chunk, chunks, repeat(task.specs), repeat(task.shared)):
            pass
    return {"chunks": len(chunks)}


def article_resize(src: str, dst: str, spec: ResizeSpec) -> None:
    """The original article's per-image code, as written there: open, resize, save."""
    Image.open(src).resize(tuple(spec.size)).save(dst)


def article_loop(task: Task, workers: int) -> dict[str, Any]:
    """The article's own loop, kept as a baseline: Pillow defaults, no draft, no quality
    (one run per variant: the article has no shared decode)."""
    for src, dst, spec in task.pairs:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        article_resize(src, dst, spec)
    return {}


def thread_pool(task: Task, workers: int) -> dict[str, Any]:
    """Threads: Pillow releases the GIL while decoding, resampling and encoding. No chunks
    (nothing crosses a process boundary), but the same largest-first order."""
    order = largest_first(input_sizes([src for src, _ in task.images]))
    srcs, dsts = zip(*(task.images[i] for i in order), strict=True)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(make_image, srcs, dsts, repeat(task.specs), repeat(task.shared)):
            pass
    return {}


def write_run_config(task: Task, **extra: Any) -> Path:
    """The run's own config/config.yaml in the task's workdir: same spec, our folders."""
    config = {**task.config, "input_dir": str(task.input_dir), "output_dir": str(task.output_dir)}
    path = task.workdir / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**config, **extra}, sort_keys=True))
    return path


def run_command(name: str, command: list[str], cwd: Path | None = None) -> None:
    """Run a command to its end; a failure raises with the end of its stderr."""
    proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def pool_command(task: Task, workers: int) -> dict[str, Any]:
    """The shipped pool command (workflow/scripts/pool.py) as a user runs it, in a process of
    its own: its start, config check and plan are timed with the resizing."""
    chunksize = task.options.get("chunksize")
    command = [
        sys.executable, str(POOL_COMMAND),
        "--configfile", str(write_run_config(task)),
        "--workers", str(workers),
        "--output-dir", str(task.output_dir),
        "--force",  # every image made, as the other engines do
        *(["--chunksize", str(chunksize)] if chunksize else []),
    ]  # fmt: skip
    run_command("pool.py", command, cwd=task.workdir)
    return {"chunks": len(chunks_of(task, workers))}


@dataclass(frozen=True)
class SnakemakeVariant:
    """How the `snakemake` engines run the workflow: as shipped, per image, or bare."""

    images_per_job: int | None  # None: as configured (automatic by default)
    workflow_profile: bool  # profiles/default (the shipped runtime settings) or none
    profile: str | None = None  # a profile under profiles/ on top, e.g. "slurm"

    def args(self) -> list[str]:
        args = [] if self.workflow_profile else ["--workflow-profile", "none"]
        return args + (["--profile", str(REPO / "profiles" / self.profile)] if self.profile else [])

    def describe(self) -> str:
        profile = "profiles/default" if self.workflow_profile else "no profile (defaults)"
        if self.profile:
            profile += f" + profiles/{self.profile}"
        per_job = {None: "images_per_job as configured", 1: "one job per image"}.get(
            self.images_per_job, f"images_per_job={self.images_per_job}"
        )
        return f"{profile}, {per_job}"


SNAKEMAKE_VARIANTS = {
    "snakemake": SnakemakeVariant(None, True),
    "snakemake-per-image": SnakemakeVariant(1, True),
    "snakemake-defaults": SnakemakeVariant(1, False),
    "snakemake-slurm": SnakemakeVariant(None, True, "slurm"),
}


def snakemake_command(
    task: Task, variant: SnakemakeVariant, workers: int, *extra: str
) -> list[str]:
    return [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(task.workdir),
        "--cores", str(workers),
        "--quiet", "all",
        *variant.args(),
        *extra,
    ]  # fmt: skip


def run_snakemake(task: Task, variant: SnakemakeVariant, workers: int, *extra: str) -> None:
    per_job = {} if variant.images_per_job is None else {"images_per_job": variant.images_per_job}
    write_run_config(task, **per_job)
    run_command("snakemake", snakemake_command(task, variant, workers, *extra))


def snakemake_engine(name: str) -> "Engine":
    """The real workflow, cold: ``snakemake --cores N`` on a fresh scratch folder."""
    variant = SNAKEMAKE_VARIANTS[name]

    def engine(task: Task, workers: int) -> dict[str, Any]:
        run_snakemake(task, variant, workers)
        return {"settings": variant.describe()}

    engine.__doc__ = f"snakemake --cores N: {variant.describe()}"
    return engine


def slurm_available() -> bool:
    """Whether jobs can be submitted to SLURM from here: sbatch on the PATH, the plugin
    installed, and a controller that answers."""
    if shutil.which("sbatch") is None:
        return False
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return False
    try:
        probe = subprocess.run(["sinfo", "-h"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def available(engine: str) -> bool:
    """Engines that need something optional run only where it is there."""
    return {"pyvips": pyvips_available, "snakemake-slurm": slurm_available}.get(
        engine, lambda: True
    )()


def pyvips_available() -> bool:
    """Whether pyvips is installed, found without importing it (see pyvips_engine)."""
    return importlib.util.find_spec("pyvips") is not None


def vips_resize(src: str, dst: str, spec: ResizeSpec) -> None:
    """libvips' thumbnail with the nearest equivalent settings (an outside reference)."""
    import pyvips

    pyvips.concurrency_set(1)  # one core per worker, like every other engine
    pyvips.cache_set_max(0)  # no operation cache: each image is decoded, as for the others
    width, height = spec.size
    crop = {"fill": "centre"}.get(spec.mode, "none")
    size = "force" if spec.mode == "stretch" else "both"
    image = pyvips.Image.thumbnail(src, width, height=height, size=size, crop=crop)
    if spec.mode == "pad":
        image = image.gravity("centre", width, height, extend="black")
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    suffix = Path(dst).suffix.lower()
    if suffix in (".jpg", ".jpeg", ".webp"):
        image.write_to_file(dst, Q=spec.quality)
    else:
        image.write_to_file(dst)


def pyvips_engine(task: Task, workers: int) -> dict[str, Any]:
    """libvips, one process per worker, each single-threaded, like the other engines.

    libvips runs only in pool workers, never in this process: forking a process in which
    libvips has started its threads deadlocks the child.
    """
    srcs, dsts, specs = zip(*task.pairs, strict=True)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(vips_resize, srcs, dsts, specs, chunksize=4):
            pass
    return {}


Engine = Callable[[Task, int], dict[str, Any]]
ENGINES: dict[str, Engine] = {
    "sequential": sequential,
    "process-pool": process_pool,
    "pool-command": pool_command,
    "thread-pool": thread_pool,
    **{name: snakemake_engine(name) for name in SNAKEMAKE_VARIANTS},
    "pyvips": pyvips_engine,
    "article-loop": article_loop,
}
# Outside references run another library, so their outputs are compared by PSNR; every
# other engine's bytes must equal the sequential loop's.
OUTSIDE_REFERENCE = {"pyvips", "article-loop"}
SINGLE_WORKER = {"sequential", "article-loop"}
