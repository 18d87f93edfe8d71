"""The benchmark's data: what it runs (BenchPlan) and what one run gave (Timing)."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageprep.image.spec import ResizeSpec

from .engines import Engine


@dataclass
class Timing:
    """One timed (or failed) run of one engine at one worker count."""

    workload: str
    engine: str
    workers: int
    repeat: int
    status: str  # ok | FAILED | reference (outputs compared by PSNR, not bytes)
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    child_rss_mb: float | None = None  # largest single worker/job process
    images: int = 0
    images_per_s: float | None = None
    speedup: float | None = None
    efficiency: float | None = None
    start_s: float | None = None  # snakemake engines: `snakemake --version`, the import floor
    dag_s: float | None = None  # snakemake engines: dry run, i.e. the time before the first job
    ssim: float | None = None  # against the full-decode reference (outside engines)
    ssim_image: str = ""  # the image with that (worst) SSIM
    psnr_db: float | None = None
    detail: str = ""


@dataclass
class BenchPlan:
    """What the benchmark runs: the images, the spec, the engines and the worker counts."""

    workload: str
    input_dir: Path
    relpaths: list[str]
    config: dict[str, Any]
    engines: dict[str, Engine]
    workers: list[int]
    repeats: int
    scratch: Path
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> ResizeSpec:
        return ResizeSpec.from_config(self.config)
