"""What the pool's schedule (imageprep.pool.schedule) gains over fixed chunks in name order, on a
folder: the same ProcessPoolExecutor.map over the same images, both ways, alternating.

    python benchmark/schedule_study.py resources/photos --workers 2 --runs 5
"""

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

from imageprep.image.spec import ResizeSpec
from imageprep.pool.schedule import input_sizes, make_chunks
from imageprep.run.scan import find_images

from .engines import resize_chunk

EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"]


def wall(srcs: list[str], chunks: list[list[int]], workers: int) -> float:
    spec = ResizeSpec()
    with tempfile.TemporaryDirectory() as out:
        work = [[(srcs[i], f"{out}/{i}.jpg") for i in chunk] for chunk in chunks]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(resize_chunk, work, repeat(spec)))
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    srcs = [str(args.folder / rel) for rel in find_images(args.folder, EXTENSIONS)]
    n, step = len(srcs), max(1, len(srcs) // (args.workers * 8))
    sizes = input_sizes(srcs)
    ways = {
        "name order, images/(workers × 8) a chunk": [
            list(range(i, min(i + step, n))) for i in range(0, n, step)
        ],
        "largest first, images/(workers × 8) a chunk": make_chunks(sizes, args.workers, step),
        "largest first, one image a chunk": make_chunks(sizes, args.workers, 1),
        "largest first, 1/(workers × 8) of the bytes or images a chunk (the pool's)": (
            make_chunks(sizes, args.workers)
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.runs):
        for name, chunks in ways.items():
            times[name].append(wall(srcs, chunks, args.workers))
    print(f"{n} images in {args.folder}, {args.workers} workers, {args.runs} alternating runs\n")
    print("| schedule | chunks | median wall s | runs |\n|---|---:|---:|---|")
    for name, chunks in ways.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {name} | {len(chunks)} | {statistics.median(times[name]):.2f} | {runs} |")
