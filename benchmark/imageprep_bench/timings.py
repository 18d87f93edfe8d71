"""The companion benchmark: the same resize job run sequentially, with concurrent.futures
pools, by the pool command, through Snakemake and with libvips, at 1..N workers, side by side.

Outputs are checked before any time is trusted: an engine whose files differ from the
sequential loop's (byte for byte) is reported FAILED, not timed.

    python workflow/scripts/benchmark.py --workload seed
    python workflow/scripts/benchmark.py --input-dir /data/photos --max-workers 2 --repeats 1
"""

import argparse
import math
import os
import shlex
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from imageprep.folder.variants import from_config as variants_from_config
from imageprep.image.spec import ResizeSpec
from imageprep.image.synthetic import generate_dataset
from imageprep.pool.command import at_least
from imageprep.run.config import load_config
from imageprep.run.plan import plan_keys, plan_outputs
from imageprep.run.scan import find_images

from . import engines as eng
from .measure import start_seconds, timed
from .model import BenchPlan, Timing
from .report import write_reports
from .scale import dry_run_scale, rerun_scale, slurm_overhead_report
from .verify import checksums, differences, similarity


def make_task(plan: BenchPlan, engine: str) -> eng.Task:
    """A fresh, empty scratch folder for one run of one engine."""
    workdir = plan.scratch / engine
    if workdir.exists():
        shutil.rmtree(workdir)
    out = workdir / "out"
    out.mkdir(parents=True)
    variants = variants_from_config(plan.config)
    keys, _ = plan_keys(plan.relpaths, variants)
    images = [
        (str(plan.input_dir / rel), [f"{v.folder(str(out))}/{v.output(rel)}" for v in variants])
        for rel in keys.values()
    ]
    names = {f for f in plan.config if f in ResizeSpec.__dataclass_fields__}
    config = {k: plan.config[k] for k in names | {"extensions", "variants"} if k in plan.config}
    return eng.Task(plan.input_dir, out, images, variants, config, workdir, plan.options)


def dag_seconds(plan: BenchPlan, engine: str) -> float:
    """Wall time of a dry run on a cold folder: parsing, discovery and DAG building only."""
    task = make_task(plan, f"{engine}-dry-run")
    t0 = time.perf_counter()
    eng.run_snakemake(task, eng.SNAKEMAKE_VARIANTS[engine], max(plan.workers), "--dry-run")
    elapsed = time.perf_counter() - t0
    shutil.rmtree(task.workdir)
    return elapsed


SIMILARITY_SAMPLE = 2000  # images compared pixel by pixel at most (evenly spread)


@dataclass
class References:
    """What every run is checked against, made once before any timing."""

    ours: Path  # the sequential loop's outputs: every engine must match them byte for byte
    sums: dict[str, str]  # their checksums
    full_decode: Path  # ours without the JPEG draft: the quality reference (full LANCZOS)
    draft_quality: tuple[float, float, str]  # the draft's cost: worst SSIM, PSNR, image


def make_references(plan: BenchPlan) -> References:
    """Made with the process pool on every core (its bytes are the loop's: the sequential
    engine's own run is checked against them like every other), so that a workload of
    100,000 images does not spend most of its time on references."""
    ours = make_task(plan, "reference")
    eng.process_pool(ours, max(plan.workers))
    full = make_task(plan, "full-decode")
    eng.process_pool(full.without_draft(), max(plan.workers))
    return References(
        ours.output_dir, checksums(ours.output_dir), full.output_dir, draft_quality(plan)
    )


def draft_quality(plan: BenchPlan) -> tuple[float, float, str]:
    """What the JPEG draft costs, alone: our transform with and without it, both written
    lossless (PNG), so that the encoder's own loss does not blur the comparison."""
    lossless = replace(plan, config={**plan.config, "format": "png"})
    draft, full = make_task(lossless, "draft-png"), make_task(lossless, "full-decode-png")
    eng.process_pool(draft, max(plan.workers))
    eng.process_pool(full.without_draft(), max(plan.workers))
    made = sorted(checksums(draft.output_dir))
    sample = made[:: math.ceil(len(made) / SIMILARITY_SAMPLE)]  # every image up to 2000
    worst_ssim, worst_psnr, worst = similarity(full.output_dir, draft.output_dir, sample)
    inputs, _ = plan_outputs(plan.relpaths, "png")  # output name -> the input it came from
    return worst_ssim, worst_psnr, inputs.get(worst, worst)


def run_once(plan: BenchPlan, engine: str, workers: int, repeat: int, refs: References) -> Timing:
    """One timed run in a fresh scratch folder, then its outputs checked against the loop's."""
    task = make_task(plan, engine)
    row = Timing(plan.workload, engine, workers, repeat, "ok", images=len(plan.relpaths))
    try:
        info, wall, cpu, peak = timed(plan.engines[engine], task, workers)
    except Exception as exc:  # an engine that crashes is reported, not fatal
        row.status, row.detail = "FAILED", f"{type(exc).__name__}: {exc}"[:300]
        return row
    row.detail = "; ".join(f"{k}={v}" for k, v in info.items())
    if engine in eng.OUTSIDE_REFERENCE:
        row.status = "reference"
    elif diff := differences(refs.sums, checksums(task.output_dir)):
        row.status, row.detail = "FAILED", f"outputs differ from sequential: {diff}"
        return row
    if engine == "sequential":
        row.ssim, row.psnr_db, row.ssim_image = refs.draft_quality
    elif engine in eng.OUTSIDE_REFERENCE:
        row.ssim, row.psnr_db, worst = similarity(refs.full_decode, task.output_dir, refs.sums)
        row.ssim_image = plan_outputs(plan.relpaths, plan.spec.format)[0].get(worst, worst)
    row.wall_s, row.cpu_s, row.peak_rss_mb = wall, cpu, peak.peak / 2**20
    row.child_rss_mb = peak.peak_child / 2**20 or None
    row.images_per_s = row.images / wall
    return row


def run_benchmark(plan: BenchPlan, progress: bool = True) -> list[Timing]:
    """Every engine x worker count x repeat; outputs verified before timings are kept."""
    refs = make_references(plan)
    runs = [
        (engine, workers)
        for engine in plan.engines
        for workers in ([1] if engine in eng.SINGLE_WORKER else plan.workers)
    ]
    dag = {e: dag_seconds(plan, e) for e in plan.engines if e in eng.SNAKEMAKE_VARIANTS}
    start = start_seconds() if dag else None
    rows: list[Timing] = []
    failed: set[tuple[str, int]] = set()
    bar = tqdm(total=len(runs) * plan.repeats, disable=not progress, unit="run", file=sys.stderr)
    # Repeats are the outer loop so that slow drifts of a noisy machine hit every engine.
    for repeat in range(1, plan.repeats + 1):
        for engine, workers in runs:
            bar.set_description(f"{engine} N={workers} repeat {repeat}/{plan.repeats}")
            if (engine, workers) not in failed:  # a failed engine is not run again
                row = run_once(plan, engine, workers, repeat, refs)
                row.dag_s = dag.get(engine)
                row.start_s = start if engine in dag else None
                if row.status == "FAILED":
                    failed.add((engine, workers))
                rows.append(row)
            bar.update()
    bar.close()
    seq = [r.wall_s for r in rows if r.engine == "sequential" and r.wall_s]
    if seq:
        base = statistics.median(seq)
        for r in rows:
            if r.wall_s:
                r.speedup = base / r.wall_s
                r.efficiency = r.speedup / r.workers
    if not plan.options.get("keep_scratch"):
        shutil.rmtree(plan.scratch, ignore_errors=True)
    return rows


def run_and_report(plan: BenchPlan, out_dir: Path, command: str, progress: bool) -> list[Timing]:
    """The benchmark, then its reports in out_dir (the command line and the rule share it)."""
    rows = run_benchmark(plan, progress=progress)
    write_reports(rows, plan, out_dir, command)
    return rows


def dataset(config: dict[str, Any], workload: str, workers: int) -> Path:
    """The named workload's images: its folder (``input_dir``: your own images, e.g. real
    photographs), or its generated images (cached under resources/datasets/)."""
    try:
        w = config["workloads"][workload]
    except KeyError:
        known = ", ".join(config["workloads"])
        raise SystemExit(f"error: unknown workload {workload!r}; known: {known}") from None
    if "input_dir" in w:
        if not Path(w["input_dir"]).is_dir():
            raise SystemExit(f"error: workload {workload!r}: {w['input_dir']!r} is not a folder")
        return Path(w["input_dir"]).resolve()
    folder = Path("resources") / "datasets" / workload
    generate_dataset(folder, w["count"], tuple(w["size"]), w.get("seed", 0), workers)
    return folder.resolve()


def build_plan(
    config: dict[str, Any], workload: str, input_dir: Path, scratch: Path, **overrides: Any
) -> BenchPlan:
    bench = {**config["benchmark"], **{k: v for k, v in overrides.items() if v is not None}}
    cores = len(os.sched_getaffinity(0))
    max_workers = bench["max_workers"] or cores
    names = [e for e in bench["engines"] if eng.available(e)]
    relpaths = find_images(input_dir, config["extensions"])
    if not relpaths:
        raise SystemExit(f"error: no images under {input_dir}")
    options = {"chunksize": bench["chunksize"], "keep_scratch": bench.get("keep_scratch")}
    return BenchPlan(
        workload=workload,
        input_dir=input_dir.resolve(),
        relpaths=relpaths,
        config=config,
        engines={name: eng.ENGINES[name] for name in names},
        workers=sorted(set(bench.get("workers") or range(1, max_workers + 1))),
        repeats=bench["repeats"],
        scratch=scratch.resolve(),
        options=options,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--configfile", default="config/config.yaml", help="workflow config (spec)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--workload", help="named workload from config (default: benchmark.workload)")
    src.add_argument("--input-dir", type=Path, help="benchmark on an existing folder of images")
    p.add_argument("--engines", nargs="+", choices=list(eng.ENGINES), help="engines to run")
    p.add_argument(
        "--workers", type=at_least(1), nargs="+", metavar="N", help="worker counts, e.g. 1 2 4 8 16"
    )
    p.add_argument("--max-workers", type=int, help="sweep N = 1..this (default: all cores)")
    p.add_argument("--repeats", type=int, help="timed repeats per engine and N")
    p.add_argument("--chunksize", type=int, help="pool chunksize (process-pool, pool-command)")
    p.add_argument("--out-dir", type=Path, help="default: <benchmark.out_dir>/<workload>")
    p.add_argument("--keep-scratch", action="store_true", help="keep each engine's outputs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--dry-run-scale",
        type=int,
        metavar="N",
        help="instead: time `snakemake -n` on N empty image files (DAG size and memory)",
    )
    p.add_argument(
        "--rerun-scale",
        type=int,
        metavar="N",
        help="instead: run the workflow on N tiny images, then time each kind of rerun",
    )
    p.add_argument(
        "--slurm-overhead",
        type=int,
        nargs="+",
        metavar="N",
        help="instead: each SLURM shard job's own overhead, on N tiny images (needs a cluster)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = load_config(args.configfile)
    if args.dry_run_scale or args.rerun_scale or args.slurm_overhead:
        out_dir = args.out_dir or Path(config["benchmark"]["out_dir"])
        if args.slurm_overhead:
            print(slurm_overhead_report(args.slurm_overhead, config, out_dir))
        if args.dry_run_scale:
            print(dry_run_scale(args.dry_run_scale, config, out_dir))
        if args.rerun_scale:
            print(rerun_scale(args.rerun_scale, config, out_dir))
        return 0
    workload = args.workload or ("folder" if args.input_dir else config["benchmark"]["workload"])
    if resize_to := config["workloads"].get(workload, {}).get("resize_to"):
        config = {**config, "size": resize_to}
    cores = len(os.sched_getaffinity(0))
    input_dir = args.input_dir or dataset(config, workload, cores)
    out_dir = args.out_dir or Path(config["benchmark"]["out_dir"]) / workload
    plan = build_plan(
        config,
        workload,
        input_dir,
        out_dir / "scratch",
        engines=args.engines,
        max_workers=args.max_workers,
        workers=args.workers,
        repeats=args.repeats,
        chunksize=args.chunksize,
        keep_scratch=args.keep_scratch or None,
    )
    command = "python workflow/scripts/benchmark.py " + shlex.join(argv or sys.argv[1:])
    rows = run_and_report(plan, out_dir, command.strip(), progress=not args.no_progress)
    print((out_dir / "summary.md").read_text())
    return 1 if any(r.status == "FAILED" for r in rows) else 0
