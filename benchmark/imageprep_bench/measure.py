"""What the benchmark measures of a run: wall time, CPU seconds and peak resident memory of
the whole process tree, the start-up floor of Snakemake, and the machine it ran on."""

import contextlib
import importlib.metadata
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from .engines import pyvips_available

SAMPLE_S = 0.1


class PeakRSS:
    """Peak resident memory of this process and all its descendants, sampled every 100 ms.

    Sampling is not free: listing the process tree every 20 ms took 8% of a core, taken
    from the workers on a 2-core machine (and from an idle core in a sequential run), which
    lowered every pool's measured speed-up by ~4%. At 100 ms it costs ~1.6%; peaks shorter
    than that are missed, and an image's resize lasts longer."""

    def __init__(self) -> None:
        self.peak = 0
        self.peak_child = 0  # the largest single descendant: a pool worker or a job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # exited between listing and reading
                    rss = proc.memory_info().rss
                    total += rss
                    if proc is not me:
                        self.peak_child = max(self.peak_child, rss)
            self.peak = max(self.peak, total)
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    """User + system time of this process and its waited-for children so far."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(
    fn: Callable[..., dict[str, Any]], *args: Any
) -> tuple[dict[str, Any], float, float, PeakRSS]:
    """Run fn(*args); return its info, wall seconds, CPU seconds and the peak RSS of the tree."""
    cpu0 = cpu_seconds()
    with PeakRSS() as rss:
        t0 = time.perf_counter()
        info = fn(*args)
        wall = time.perf_counter() - t0
    return info, wall, cpu_seconds() - cpu0, rss


def start_seconds(repeats: int = 3) -> float:
    """Median wall time of `snakemake --version`: starting Python and importing Snakemake, the
    floor under any Snakemake run however small, which no rule or profile can lower."""
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snakemake", "--version"], check=True,
                       capture_output=True)  # fmt: skip
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def machine_info() -> dict[str, str]:
    import PIL
    import snakemake

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        pass
    libvips = "not installed"
    if pyvips_available():  # asked in a child: libvips must not start threads here
        code = "import pyvips; print('.'.join(str(pyvips.version(i)) for i in range(3)))"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        libvips = proc.stdout.strip() or "unknown"
    return {
        "cpu_model": cpu,
        "cores": str(len(os.sched_getaffinity(0))),
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "snakemake": snakemake.__version__,
        "libvips": libvips,
        "resampler": resampler_label(),
        "executor_plugins": executor_plugins(),
    }


def resampler_label() -> str:
    """The transform's resampler as the figures were made with it: fast_image_resize's
    version and CPU extension level, or Pillow's (imageprep.image.resampler)."""
    from importlib.metadata import version

    from imageprep.image import resampler

    if resampler.NAME == "pillow":
        return "Pillow's"
    level = resampler.cpu_extensions()
    return f"fast_image_resize (cykooz-resizer {version('cykooz-resizer')}, {level})"


def executor_plugins() -> str:
    """The Snakemake executor plugins installed: Snakemake imports every one at each start,
    and the SLURM plugin imports pandas (~0.3 s), so they move Snakemake's timings."""
    prefix = "snakemake-executor-plugin-"
    found = sorted(
        f"{name.removeprefix(prefix)} {dist.version}"
        for dist in importlib.metadata.distributions()
        if (name := (dist.metadata["Name"] or "").lower()).startswith(prefix)
    )
    return ", ".join(found) or "none"


def input_spread(input_dir: Path, relpaths: list[str]) -> str:
    """The spread of the inputs' sizes, in megapixels (from the headers) and bytes: with
    uneven inputs, how the work is split matters (imageprep.pool.schedule)."""
    from PIL import Image

    pixels, sizes = [], []
    for rel in relpaths:
        path = input_dir / rel
        sizes.append(path.stat().st_size)
        with contextlib.suppress(OSError, ValueError), Image.open(path) as im:
            pixels.append(im.width * im.height / 1e6)
    if not sizes:
        return "no images"

    def spread(values: list[float], unit: str) -> str:
        low, high, mid = min(values), max(values), statistics.median(values)
        return f"{low:.2f}–{high:.2f} {unit} (median {mid:.2f})"

    text = f"{len(relpaths)} images"
    if pixels:
        text += ", " + spread(pixels, "MP")
    return text + ", " + spread([s / 1e6 for s in sizes], "MB")


def invocation(script: str, argv: list[str] | None) -> str:
    """How a study was run, for its report: ``python benchmark/SCRIPT ARGS``."""
    return f"python benchmark/{script} " + shlex.join(argv or sys.argv[1:])


def publish(text: str, out: Path | None) -> None:
    """A study's report: printed, and written to ``out`` if given."""
    print(text)
    if out:
        out.write_text(text)


@contextmanager
def resampler_named(name: str) -> Iterator[None]:
    """The transform with another resampler (resampler.NAME: "pillow" or
    "fast_image_resize"), for a study only, restored afterwards."""
    from imageprep.image import resampler

    shipped, resampler.NAME = resampler.NAME, name
    try:
        yield
    finally:
        resampler.NAME = shipped


SHIPPED = "shipped"  # the draft rule as shipped (geometry.DRAFT_GAPS), as a study's gap


@contextmanager
def draft_gaps(gap: str | float) -> Iterator[None]:
    """The transform with one gap at every draft scale (a number), or as shipped: the
    studies' lever (geometry.DRAFT_GAPS), restored afterwards."""
    import imageprep.image.geometry as geometry

    shipped = geometry.DRAFT_GAPS
    if gap != SHIPPED:
        geometry.DRAFT_GAPS = dict.fromkeys(shipped, float(gap))
    try:
        yield
    finally:
        geometry.DRAFT_GAPS = shipped


def gap_label(gap: str | float) -> str:
    if gap != SHIPPED:
        return f"gap {float(gap):g}"
    import imageprep.image.geometry as geometry

    rule = ", ".join(f"1/{s}: {g:g}" for s, g in sorted(geometry.DRAFT_GAPS.items()))
    return f"shipped gaps ({rule})"


def gap_arg(text: str) -> str | float:
    """A --gaps value: a number, or "shipped"."""
    return text if text == SHIPPED else float(text)
