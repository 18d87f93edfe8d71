"""The jobs the Snakemake rules run: a shard's images from its plan file, into its manifest
(shards.py); or the per-image rule's list of images, one log line each, and in skip mode
one outcome record each (records.py). Both try their images through the one runner
(runner.py), as the pool's workers do."""

import contextlib
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .diagnose import OutputError
from .manifest import ENCODING, Row, input_stat, is_current, output_fingerprint, write_manifest
from .records import write_record
from .runner import run_images
from .shards import PreviousRows, keep_rows, read_plan_file, record_rows
from .spec import ResizeSpec


def run_jobs(
    srcs: Sequence[str],
    dsts: Sequence[str],
    logs: Sequence[str] | None,
    spec: ResizeSpec,
    records: Sequence[str] | None = None,
) -> int:
    """Resize each src to its dst, one log per image (or stderr).

    Without ``records`` (on_error: fail) the first bad image ends the job with status 1. With
    them (on_error: skip) every image gets a record, ok or failed with the reason, and the
    job succeeds: the records, not the images, are then what the rule declares. A failure of
    the environment (full disk, read-only folder) ends the job with status 1 in both modes.
    """
    skip = bool(records)
    items = [(i, src, dst) for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True))]
    tried = run_images(items, None, spec, skip, threading.Event())
    try:
        for one in tried:
            if one.fatal:
                print(f"error: {one.fatal}", file=sys.stderr)
                return 1
            row = one.row
            with open(logs[one.index], "w") if logs else contextlib.nullcontext(sys.stderr) as log:
                if logs or row.status == "ok":
                    print(one.line, file=log)
            if row.status != "ok":
                print(f"skipped: {one.line[7:]}" if skip else one.line, file=sys.stderr)
                if not skip:
                    return 1
            if records:
                write_record(records[one.index], srcs[one.index], row.reason or None)
    except (OutputError, OSError) as exc:  # OSError: a log that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


class Shard:
    """One shard job: the members of its plan file not current in the rows kept for them
    are resized (runner.run_images, on ``threads`` threads); every member gets a row in the
    shard's rows."""

    def __init__(self, input_dir: str, output_dir: str, spec: ResizeSpec, skip: bool) -> None:
        self.dirs, self.spec, self.skip = (input_dir, output_dir), spec, skip

    def run(self, plan: str, manifest: str, threads: int, log: TextIO) -> int:
        start = time.perf_counter()
        previous = PreviousRows(manifest)
        rows: list[Row] = []
        todo = []
        members = []
        for rel, out in read_plan_file(plan):
            members.append(out)
            stat = input_stat(f"{self.dirs[0]}/{rel}")
            fp, found = output_fingerprint(self.spec, out), previous.get(rel, out)
            dst = Path(self.dirs[1], out)
            if stat and found and is_current(found[0], stat, fp, dst, self.skip, found[1]):
                rows.append(found[0])
            else:
                todo.append((len(todo), rel, out))
        kept = len(rows)
        work = time.perf_counter()
        tried = run_images(todo, self.dirs, self.spec, self.skip, threading.Event(), threads)
        work = time.perf_counter() - work
        tried.sort(key=lambda one: one.index)
        made = [one.row for one in tried if one.row is not None]
        stopped = [one for one in tried if one.stops(self.skip)]
        for one in tried:
            if one.row is not None:
                print(one.line, file=log)
        failed = sum(row.status != "ok" for row in made)
        print(
            f"shard {Path(plan).stem}: {kept + len(todo)} images, {len(made) - failed} resized, "
            f"{kept} current, {failed} failed, {len(todo) - len(made)} not started; "
            f"resizing {work:.3f} s of {time.perf_counter() - start:.3f} s in the job "
            f"({threads} thread{'s' if threads != 1 else ''})",
            file=log,
        )
        if stopped:  # the next run keeps the images this job did make
            ok = [row for row in rows + made if row.status == "ok"]
            record_rows(self.dirs[1], {Path(manifest).stem: members}, ok)
            first = stopped[0]
            print(f"error: {first.fatal}" if first.fatal else first.line, file=sys.stderr)
            return 1
        write_manifest(manifest, rows + made)
        keep_rows(manifest)
        return 0


def run_shard(
    plan: str,
    manifest: str,
    dirs: tuple[str, str],
    spec: ResizeSpec,
    skip: bool,
    threads: int = 1,
    log: str | None = None,
) -> int:
    """Run one shard job (see :class:`Shard`); 1 when an image fails in fail mode, or the
    environment fails (full disk, read-only folder), with one line on stderr."""
    shard = Shard(*dirs, spec, skip)
    try:
        # Names need not be UTF-8: the log keeps their bytes, as manifest.csv does.
        with open(log, "w", **ENCODING) if log else contextlib.nullcontext(sys.stderr) as out:
            return shard.run(plan, manifest, threads, out)
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
    p.add_argument("--spec", required=True, help="ResizeSpec as JSON")
    shard = p.add_argument_group("a shard job (images_per_job other than 1)")
    shard.add_argument("--plan", help="the shard's plan file")
    shard.add_argument("--rows", help="the shard's rows, to write (its declared output)")
    shard.add_argument("--dirs", nargs=2, metavar=("INPUT_DIR", "OUTPUT_DIR"))
    shard.add_argument("--threads", type=int, default=1)
    shard.add_argument("--on-error", choices=["fail", "skip"], default="fail")
    shard.add_argument("--log", help="the job's log (default: stderr)")
    single = p.add_argument_group("a list of images (the per-image rule)")
    single.add_argument("--inputs", nargs="+")
    single.add_argument("--outputs", nargs="+")
    single.add_argument("--logs", nargs="+", help="one log file per image (default: stderr)")
    single.add_argument(
        "--records", nargs="*", help="on_error: skip: one outcome record per image (records.py)"
    )
    args = p.parse_args(argv)
    spec = ResizeSpec.from_json(args.spec)
    if args.plan:
        if not (args.rows and args.dirs):
            p.error("--plan needs --rows and --dirs")
        skip = args.on_error == "skip"
        return run_shard(args.plan, args.rows, args.dirs, spec, skip, args.threads, args.log)
    if not (args.inputs and args.outputs):
        p.error("give --plan, or --inputs and --outputs")
    for name in ("outputs", "logs", "records"):
        if getattr(args, name) and len(getattr(args, name)) != len(args.inputs):
            p.error(f"--inputs and --{name} need the same number of paths")
    return run_jobs(args.inputs, args.outputs, args.logs, spec, args.records)
