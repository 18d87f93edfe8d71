"""The pool command (workflow/scripts/pool.py): the same job as snakemake --cores N (same
config, same plan, same transform, same manifest.csv), run by a hand-written
concurrent.futures pool (imageprep/pool/workers.py). Like snakemake, it does only what is not
current in the output folder; docs/pool.md explains the options.

    python workflow/scripts/pool.py                       # config/config.yaml, all cores
    python workflow/scripts/pool.py --workers 2 --config on_error=skip
    python workflow/scripts/pool.py --force               # redo every image
"""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imageprep.folder.closing import closing_line
from imageprep.folder.current import WorkItem
from imageprep.folder.folder_lock import FolderInUse, hold
from imageprep.folder.layout import bucket_url
from imageprep.folder.manifest import Row
from imageprep.folder.records import FAILED_TSV, write_failed_tsv
from imageprep.folder.rows import refused_rows
from imageprep.folder.stale import withdraw
from imageprep.folder.variants import named
from imageprep.image.atomic import remove_stale_temps
from imageprep.image.diagnose import OutputError, SourceError
from imageprep.pool.resume import resumable
from imageprep.pool.shard_pool import run_shard_pool
from imageprep.pool.workers import Outcome, PoolError, run_pool
from imageprep.run.config import add_config_arguments, config_from_arguments
from imageprep.run.finish import finish_pool_run
from imageprep.run.plan import Plan
from imageprep.run.plan_files import recheck_outputs, take_bucket_rows
from imageprep.run.startup import StartupError, start


def write_demo_inputs(plan: Plan, config: dict[str, Any]) -> None:
    """The embedded demo set, where the plan reads it and a file is missing (Snakemake's
    rule demo_images makes the same files)."""
    if not plan.demo:
        return
    from imageprep.image.synthetic import demo_catalog, write_demo_set

    items = demo_catalog(config["demo"]["count"], config["demo"]["seed"])
    missing = [i for i in items if not Path(plan.input_dir, i.name).exists()]
    paths = [f"{plan.input_dir}/{i.name}" for i in missing]
    write_demo_set(missing, paths, config["demo"]["seed"])


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum``, else one line saying so."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_arguments(p)
    p.add_argument("--input-dir", help="overrides input_dir of the config")
    p.add_argument("--on-error", choices=["fail", "skip"], help="overrides on_error")
    p.add_argument("--workers", type=at_least(0), default=0, help="worker processes (0: all cores)")
    p.add_argument(
        "--chunksize", type=at_least(0), default=0, help="images per task (0: automatic)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="redo every image, even those whose outputs are complete and up to date "
        "(by default, as snakemake, only what is not current is done)",
    )
    p.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)  # the default now
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:  # the Snakefile's own start (imageprep.run.startup): config, plan, folder checks
        config = config_from_arguments(args)
        run = start(config, pool=True)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    plan, config, skip = run.plan, run.config, run.skip
    variants, keys = plan.variants, plan.outputs
    per_shard = variants[0].writer.per_shard  # a shard is written whole (a tar): the unit
    output_dir = plan.output_dir
    dirs = (plan.input_dir, output_dir)
    refused = plan.refusals()
    try:
        hold(output_dir, f"workflow/scripts/pool.py in {os.getcwd()}")  # until this run ends
    except (FolderInUse, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the lock file cannot be made
        print(f"error: {OutputError(exc.filename, exc.strerror)}", file=sys.stderr)
        return 1
    write_demo_inputs(plan, config)
    # The shards a Snakemake run of this config would make: the pool keeps its rows where
    # theirs are, so the next run of either path sees what this one did.
    shards = run.row_shards
    current: list[list[Row]] = [[] for _ in variants]
    todo: list[WorkItem] = []  # none for a per-shard writer: each shard finds its own
    resume = not args.force
    if resume:
        for folder in plan.folders():
            remove_stale_temps(folder)
        try:  # an output folder in a bucket: its rows, and its outputs listed once
            if bucket_url(output_dir):
                take_bucket_rows(plan)
                recheck_outputs(plan, {n: [(keys[k], k) for k in ks] for n, ks in shards.items()})
        except OutputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if not per_shard:
            current, todo = resumable(keys, dirs, variants, skip, shards, plan.stats)
    elif not per_shard:  # --force: every image, made anew
        listed = plan.stats or {}  # a bucket's sizes and dates
        todo = [
            WorkItem.anew(i, rel, plan.outs(rel), listed.get(rel))
            for i, rel in enumerate(keys.values())
        ]
    workers = args.workers or len(os.sched_getaffinity(0))
    outcome = Outcome()

    def fresh() -> list[set[str]]:
        """Each variant's outputs made by this run."""
        return [{row.output for row in outcome.variant_rows(i)} for i in range(len(variants))]

    def rows() -> list[list[Row]]:
        return [current[i] + outcome.variant_rows(i) for i in range(len(variants))]

    try:
        if todo and not per_shard:  # else each shard withdraws its folders itself
            for folder in plan.folders():
                withdraw(folder)  # the folder is changing (stale.py)
        if per_shard:  # shards are the work, as Snakemake's jobs
            members = {n: [(keys[k], k) for k in ks] for n, ks in shards.items()}
            run_shard_pool(members, dirs, variants, workers, config["on_error"], resume,
                           current, outcome, plan.stats)  # fmt: skip
        else:
            run_pool(todo, dirs, variants, workers, config["on_error"], args.chunksize, outcome)
    except (PoolError, OSError, OutputError, SourceError) as exc:  # (a bucket's, also)
        finish_pool_run(output_dir, variants, shards, keys, rows(), False, fresh())
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        finish_pool_run(output_dir, variants, shards, keys, rows(), False, fresh())
        print(
            "interrupted: finished outputs are kept; run again to do the rest",
            file=sys.stderr,
        )
        return 130
    resized = sum(any(r is not None and r.status == "ok" for r in rows) for rows in outcome.rows)
    made = [r + refused_rows(plan.refused, v) for r, v in zip(rows(), variants, strict=True)]
    failures = [
        [(f"{plan.input_dir}/{r.input}", r.reason) for r in rows if r.status == "failed"]
        for rows in made
    ]
    filtered = sum(r.status == "filtered" for variant_rows in made for r in variant_rows)
    try:
        if skip:  # each variant's own: a variant may filter what another fails
            for folder, variant_failures in zip(plan.folders(), failures, strict=True):
                write_failed_tsv(Path(folder) / FAILED_TSV, variant_failures)
        stale = finish_pool_run(output_dir, variants, shards, keys, made, fresh=fresh())
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if skip:
        for src, reason in sorted(outcome.failures + refused):
            print(f"skipped: {src}: {reason}", file=sys.stderr)
    complete = len({row.input for variant_rows in current for row in variant_rows})
    skipped = {src for variant_failures in failures for src, _ in variant_failures}
    counts = {"made": resized, "current": complete, "failed": len(skipped), "filtered": filtered}
    counts["stale"] = stale
    print(closing_line(output_dir, counts, named(variants)), file=sys.stderr)
    return 0
