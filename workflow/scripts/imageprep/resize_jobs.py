"""The jobs the Snakemake rules run: a shard's images from its plan file, into its manifest
(shards.py); or the per-image rule's list of images, one log line each, and in skip mode
one outcome record each (records.py). Both try their images through the one runner
(runner.py), as the pool's workers do."""

import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from .current import current_rows, left_to_make
from .diagnose import OutputError
from .manifest import ENCODING, Row, write_manifest
from .records import write_record
from .rows import input_stat
from .runner import Item, Tried, run_images
from .shards import PreviousRows, keep_rows, read_plan_file, record_rows
from .variants import Variants, from_json


def run_jobs(
    srcs: Sequence[str],
    dsts: Sequence[str],
    logs: Sequence[str] | None,
    variants: Variants,
    records: Sequence[str] | None = None,
) -> int:
    """Resize each src to its dst, one log per image (or stderr).

    Without ``records`` (on_error: fail) the first bad image ends the job with status 1. With
    them (on_error: skip) every image gets a record, ok or failed with the reason, and the
    job succeeds: the records, not the images, are then what the rule declares. A failure of
    the environment (full disk, read-only folder) ends the job with status 1 in both modes.
    """
    skip = bool(records)
    items = [(i, src, [dst]) for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True))]
    tried = run_images(items, None, variants, skip, threading.Event())

    def record(one: Tried) -> None:
        if records:
            write_record(records[one.index], srcs[one.index], one.rows[0].reason or None)

    return _finish(tried, logs, skip, record)


def _finish(
    tried: list[Tried], logs: Sequence[str] | None, skip: bool, record: Callable[[Tried], None]
) -> int:
    """Each image's line to its log (or stderr; a failed image is said on stderr too), then
    ``record(image)``: 1 at a failure of the environment, or a bad image in fail mode."""
    try:
        for one in tried:
            if one.fatal:
                print(f"error: {one.fatal}", file=sys.stderr)
                return 1
            failed = one.failed
            with open(logs[one.index], "w") if logs else contextlib.nullcontext(sys.stderr) as log:
                if logs or failed is None:
                    print(one.line, file=log)
            if failed is not None:
                print(f"skipped: {one.line[7:]}" if skip else one.line, file=sys.stderr)
                if not skip:
                    return 1
            record(one)
    except (OutputError, OSError) as exc:  # OSError: a log that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run_image_rows(
    names: Sequence[str],
    dirs: tuple[str, str],
    variants: Variants,
    declared: Sequence[str],
    logs: Sequence[str] | None,
    skip: bool,
) -> int:
    """The per-image rule with variants or filters: each image's variants not current in
    the folder's rows are made (decoded once), and the image's rows, one per variant, are
    its declared file (a filtered image has no output to declare)."""
    folders = [v.folder(dirs[1]) for v in variants]
    previous = [PreviousRows.anywhere(folder) for folder in folders]
    items: list[Item] = []
    kept: dict[int, list[Row | None]] = {}
    for index, rel in enumerate(names):
        outs = [v.output(rel) for v in variants]
        key = variants[0].key(rel, outs[0])  # the plan's key: shards are by it
        found = [p.get(rel, key) for p in previous]
        stat = input_stat(f"{dirs[0]}/{rel}")
        kept[index] = current_rows(outs, stat, found, folders, variants, skip)
        todo = left_to_make(kept[index], outs)
        if any(todo):
            items.append((index, rel, todo))
        else:  # every variant current (its rows file was lost): the rows again, no decode
            write_manifest(declared[index], kept[index], sort=False)
    tried = run_images(items, dirs, variants, skip, threading.Event())

    def record(one: Tried) -> None:
        rows = [new or old for new, old in zip(one.rows, kept[one.index], strict=True)]
        write_manifest(declared[one.index], rows, sort=False)

    return _finish(tried, logs, skip, record)


class Shard:
    """One shard job: the variants of its plan file's members that are not current in
    the rows kept for them are made (runner.run_images, on ``threads`` threads; an image is
    decoded once for all its variants); every member gets a row in each variant's rows."""

    def __init__(self, input_dir: str, output_dir: str, variants: Variants, skip: bool) -> None:
        self.dirs, self.variants, self.skip = (input_dir, output_dir), variants, skip
        self.folders = [v.folder(output_dir) for v in variants]

    def run(self, plan: str, manifests: Sequence[str], threads: int, log: TextIO) -> int:
        start = time.perf_counter()
        previous = [PreviousRows(manifest) for manifest in manifests]
        rows: list[list[Row]] = [[] for _ in self.variants]
        todo: list[Item] = []
        members = read_plan_file(plan)
        for rel, key in members:
            outs = [v.output(rel) for v in self.variants]
            found = [kept.get(rel, key) for kept in previous]
            stat = input_stat(f"{self.dirs[0]}/{rel}")
            current = current_rows(outs, stat, found, self.folders, self.variants, self.skip)
            for kept_rows, row in zip(rows, current, strict=True):
                if row is not None:
                    kept_rows.append(row)
            if None in current:
                todo.append((len(todo), rel, left_to_make(current, outs)))
        kept = sum(map(len, rows))
        work = time.perf_counter()
        tried = run_images(todo, self.dirs, self.variants, self.skip, threading.Event(), threads)
        work = time.perf_counter() - work
        tried.sort(key=lambda one: one.index)
        made = [row for one in tried for row in one.rows if row is not None]
        for one in tried:
            for variant_rows, row in zip(rows, one.rows, strict=True):
                if row is not None:
                    variant_rows.append(row)
            if one.rows:
                print(one.line, file=log)
        counts = Counter(row.status for row in made)
        many = f" (outputs of {len(self.variants)} variants)" if len(self.variants) > 1 else ""
        print(
            f"shard {Path(plan).stem}: {len(members)} images, {counts['ok']} resized, "
            f"{kept} current, {counts['failed']} failed, {counts['filtered']} filtered, "
            f"{len(todo) - len(tried)} not started{many}; "
            f"resizing {work:.3f} s of {time.perf_counter() - start:.3f} s in the job "
            f"({threads} thread{'s' if threads != 1 else ''})",
            file=log,
        )
        if stopped := [one for one in tried if one.stops(self.skip)]:
            # the next run keeps the images this job did make
            for folder, manifest, variant_rows, variant in zip(
                self.folders, manifests, rows, self.variants, strict=True
            ):
                outs = [variant.output(rel) for rel, _ in members]
                ok = [row for row in variant_rows if row.status != "failed"]
                record_rows(folder, {Path(manifest).stem: outs}, ok)
            first = stopped[0]
            print(f"error: {first.fatal}" if first.fatal else first.line, file=sys.stderr)
            return 1
        for manifest, variant_rows in zip(manifests, rows, strict=True):
            write_manifest(manifest, variant_rows)
            keep_rows(manifest)
        return 0


def run_shard(
    plan: str,
    manifests: Sequence[str],
    dirs: tuple[str, str],
    variants: Variants,
    skip: bool,
    threads: int = 1,
    log: str | None = None,
) -> int:
    """Run one shard job (see :class:`Shard`); 1 when an image fails in fail mode, or the
    environment fails (full disk, read-only folder), with one line on stderr."""
    shard = Shard(*dirs, variants, skip)
    try:
        # Names need not be UTF-8: the log keeps their bytes, as manifest.csv does.
        with open(log, "w", **ENCODING) if log else contextlib.nullcontext(sys.stderr) as out:
            return shard.run(plan, manifests, threads, out)
    except (OutputError, OSError, ValueError) as exc:  # a log or plan file that cannot be used
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:  # the machine's limit: fail the job in one line, not a traceback
        print(f"error: out of memory in shard {Path(plan).stem}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """The command the Snakemake rules run (workflow/scripts/resize_jobs.py): a fresh interpreter
    imports only the transform and Pillow, so a job starts in tens of milliseconds."""
    import argparse

    p = argparse.ArgumentParser(description="Resize images with the imageprep transform.")
    p.add_argument("--spec", required=True, help="a ResizeSpec, or [[variant, spec], ...], as JSON")
    p.add_argument("--dirs", nargs=2, metavar=("INPUT_DIR", "OUTPUT_DIR"))
    p.add_argument("--on-error", choices=["fail", "skip"], default="fail")
    shard = p.add_argument_group("a shard job (images_per_job other than 1)")
    shard.add_argument("--plan", help="the shard's plan file")
    shard.add_argument("--rows", nargs="+", help="the shard's rows in each variant's folder")
    shard.add_argument("--threads", type=int, default=1)
    shard.add_argument("--log", help="the job's log (default: stderr)")
    single = p.add_argument_group("a list of images (the per-image rule)")
    single.add_argument("--inputs", nargs="+")
    single.add_argument("--outputs", nargs="+")
    single.add_argument("--logs", nargs="+", help="one log file per image (default: stderr)")
    single.add_argument(
        "--records", nargs="*", help="on_error: skip: one outcome record per image (records.py)"
    )
    rows = p.add_argument_group("a list of images, with variants or filters (--dirs too)")
    rows.add_argument("--names", nargs="+", help="inputs, relative to INPUT_DIR")
    rows.add_argument("--image-rows", nargs="+", help="each image's rows, to write")
    args = p.parse_args(argv)
    variants = from_json(args.spec)
    skip = args.on_error == "skip"
    if args.plan or args.names:
        if not args.dirs:
            p.error("--plan and --names need --dirs")
        dirs = (args.dirs[0], args.dirs[1])
    if args.plan:
        if not args.rows or len(args.rows) != len(variants):
            p.error("--plan needs --rows, one per variant")
        return run_shard(args.plan, args.rows, dirs, variants, skip, args.threads, args.log)
    if args.names:
        if len(args.image_rows or ()) != len(args.names):
            p.error("--names and --image-rows need the same number of paths")
        return run_image_rows(args.names, dirs, variants, args.image_rows, args.logs, skip)
    if not (args.inputs and args.outputs) or len(variants) != 1:
        p.error("give --plan, --names, or --inputs and --outputs (one variant)")
    for name in ("outputs", "logs", "records"):
        if getattr(args, name) and len(getattr(args, name)) != len(args.inputs):
            p.error(f"--inputs and --{name} need the same number of paths")
    return run_jobs(args.inputs, args.outputs, args.logs, variants, args.records)
