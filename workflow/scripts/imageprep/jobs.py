"""The job runner the Snakemake rules call: a shard's images from its plan file, into its
manifest (shards.py); or the per-image rule's list of images, one log line each, and in
skip mode one outcome record each (records.py)."""

import contextlib
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TextIO

from .diagnose import OutputError
from .manifest import (
    ENCODING,
    Row,
    input_stat,
    is_current,
    made_row,
    output_fingerprint,
    write_manifest,
)
from .records import write_record
from .shards import PreviousRows, keep_rows, kept_rows_path, read_plan_file
from .spec import ResizeSpec
from .transform import Attempt, try_resize


def log_line(src: str, dst: str, attempt: Attempt) -> str:
    """One line per image for its log: what was made, with Pillow's warnings attached."""
    if attempt.error:
        return f"error: {attempt.error}"
    line = f"{src} -> {dst} {attempt.size[0]}x{attempt.size[1]}"
    return line + "".join(f" (warning: {note})" for note in attempt.notes)


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
    src = ""
    try:
        for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True)):
            with (
                open(logs[i], "w", **ENCODING)
                if logs
                else contextlib.nullcontext(sys.stderr) as log
            ):
                attempt = try_resize(src, dst, spec)
                if logs or not attempt.error:
                    print(log_line(src, dst, attempt), file=log)
                if attempt.error and records:
                    print(f"skipped: {attempt.error}", file=sys.stderr)
                elif attempt.error:
                    print(f"error: {attempt.error}", file=sys.stderr)
                    return 1
                if records:
                    write_record(records[i], src, attempt.error and attempt.error.reason)
    except (OutputError, OSError) as exc:  # OSError: a log that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:  # the machine's limit: fail the job in one line, not a traceback
        print(f"error: out of memory while resizing {src}", file=sys.stderr)
        return 1
    return 0


class Shard:
    """One shard job: the members of its plan file not current in an earlier run's rows
    are resized, on ``threads`` threads (Pillow releases the GIL while it decodes, resizes
    and encodes); every member gets a row in the shard's manifest."""

    def __init__(self, input_dir: str, output_dir: str, spec: ResizeSpec, skip: bool) -> None:
        self.input_dir, self.output_dir, self.spec, self.skip = input_dir, output_dir, spec, skip
        self.stop = threading.Event()  # a bad image (on_error: fail) or a failure: start no more
        self.made: list[tuple[int, Row, str]] = []  # (index in the job's list, row, log line)

    def resize(self, item: tuple[int, str, str, os.stat_result | None, str]) -> None:
        index, rel, out, stat, spec = item
        if self.stop.is_set():
            return
        src, dst = f"{self.input_dir}/{rel}", f"{self.output_dir}/{out}"
        try:
            attempt = try_resize(src, dst, self.spec)
        except BaseException:  # the environment's failure (full disk), out of memory
            self.stop.set()
            raise
        if attempt.error and not self.skip:
            self.stop.set()
        self.made.append(
            (index, made_row(rel, out, stat, spec, attempt), log_line(src, dst, attempt))
        )

    def run(self, plan: str, manifest: str, threads: int, log: TextIO) -> int:
        start = time.perf_counter()
        previous = PreviousRows(manifest)
        rows: list[Row] = []
        todo = []
        for rel, out in read_plan_file(plan):
            stat, spec = input_stat(f"{self.input_dir}/{rel}"), output_fingerprint(self.spec, out)
            found = previous.get(rel, out)
            dst = Path(self.output_dir, out)
            if stat and found and is_current(found[0], stat, spec, dst, self.skip, found[1]):
                rows.append(found[0])
            else:
                todo.append((len(todo), rel, out, stat, spec))
        kept = len(rows)
        work = time.perf_counter()
        try:
            if threads > 1 and len(todo) > 1:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(self.resize, todo))
            else:
                for item in todo:
                    self.resize(item)
        except BaseException:  # keep what was made, for the next run; then fail the job
            made = [row for _, row, _ in self.made if row.status == "ok"]
            write_manifest(kept_rows_path(manifest), rows + made)
            raise
        work = time.perf_counter() - work
        failed = []
        for _, row, line in sorted(self.made, key=lambda made: made[0]):
            rows.append(row)
            print(line, file=log)
            if row.status != "ok":
                failed.append(line)
        tried = len(rows) - kept
        print(
            f"shard {Path(plan).stem}: {kept + len(todo)} images, {tried - len(failed)} resized, "
            f"{kept} current, {len(failed)} failed, {len(todo) - tried} not started; "
            f"resizing {work:.3f} s of {time.perf_counter() - start:.3f} s in the job "
            f"({threads} thread{'s' if threads != 1 else ''})",
            file=log,
        )
        if failed and not self.skip:
            ok = [row for row in rows if row.status == "ok"]
            write_manifest(kept_rows_path(manifest), ok)  # the next run keeps these images
            print(failed[0], file=sys.stderr)
            return 1
        write_manifest(manifest, rows)
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
    """The command the Snakemake rules run (workflow/scripts/resize.py): a fresh interpreter
    imports only the transform and Pillow, so a job starts in tens of milliseconds."""
    import argparse

    p = argparse.ArgumentParser(description="Resize images with the imageprep transform.")
    p.add_argument("--spec", required=True, help="ResizeSpec as JSON")
    shard = p.add_argument_group("a shard job (images_per_job other than 1)")
    shard.add_argument("--plan", help="the shard's plan file")
    shard.add_argument("--manifest", help="the shard's manifest, to write")
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
        if not (args.manifest and args.dirs):
            p.error("--plan needs --manifest and --dirs")
        skip = args.on_error == "skip"
        return run_shard(args.plan, args.manifest, args.dirs, spec, skip, args.threads, args.log)
    if not (args.inputs and args.outputs):
        p.error("give --plan, or --inputs and --outputs")
    for name in ("outputs", "logs", "records"):
        if getattr(args, name) and len(getattr(args, name)) != len(args.inputs):
            p.error(f"--inputs and --{name} need the same number of paths")
    return run_jobs(args.inputs, args.outputs, args.logs, spec, args.records)
