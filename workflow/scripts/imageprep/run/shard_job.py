"""One shard job (rule resize_shard; with tars, also the pool's unit of work): the variants of
its members that are not current in the rows kept for them are made through the one runner
(an image is decoded once for all its variants), and every member gets a row in each
variant's rows. With container: webdataset the outputs are each variant's tar of the shard
(tar_shard.py), written only once every member is done."""

import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from imageprep.folder.current import current_rows, left_to_make
from imageprep.folder.manifest import ENCODING, Row, write_manifest
from imageprep.folder.rows import input_stat
from imageprep.folder.stale import withdraw
from imageprep.folder.variants import Variants
from imageprep.image.diagnose import OutputError
from imageprep.run.runner import Item, Stop, Tried, run_images
from imageprep.run.shards import PreviousRows, keep_rows, keep_shard_rows, read_plan_file
from imageprep.run.tar_shard import Entry, copy_current, write_tars


@dataclass
class ShardResult:
    """What one shard's run gives: each variant's rows (in member order), the tried images
    (their lines, their rows), the summary line, and whether it stopped early (a bad image
    in fail mode, a failure of the environment, or another worker's stop): then no tar was
    written."""

    rows: list[list[Row]]
    tried: list[Tried]
    summary: str
    stopped: Tried | None = None
    complete: bool = True


class Shard:
    """The shard jobs of one run: its folders, variants and on_error."""

    def __init__(self, input_dir: str, output_dir: str, variants: Variants, skip: bool) -> None:
        self.dirs, self.variants, self.skip = (input_dir, output_dir), variants, skip
        self.folders = [v.folder(output_dir) for v in variants]
        self.tars = variants[0].tars

    def make(
        self,
        name: str,
        members: Sequence[tuple[str, str]],
        previous: Sequence[PreviousRows | None],
        threads: int,
        stop: Stop,
        busy: Callable[[int | None], None] | None = None,
    ) -> ShardResult:
        """Make what is not current of ``members`` ((input, plan key) each), against the
        rows ``previous`` keeps per variant (None: nothing is kept, all is made)."""
        start = time.perf_counter()
        for folder in self.folders:  # from now on the folder is not complete (stale.py)
            withdraw(folder)
        entries: list[Entry] = []
        folders: Sequence[str | None] = [None] * len(self.folders) if self.tars else self.folders
        for rel, key in members:
            outs = [v.output(rel) for v in self.variants]
            found = [kept.get(rel, key) if kept else None for kept in previous]
            stat = input_stat(f"{self.dirs[0]}/{rel}")
            current = current_rows(outs, stat, found, folders, self.variants, self.skip)
            entries.append((rel, outs, current))
        copied = copy_current(entries, self.folders) if self.tars else []
        rows: list[list[Row]] = [[] for _ in self.variants]
        todo: list[Item] = []
        for rel, outs, current in entries:
            for kept_rows, row in zip(rows, current, strict=True):
                if row is not None:
                    kept_rows.append(row)
            if None in current:
                todo.append((len(todo), rel, left_to_make(current, outs)))
        kept = sum(map(len, rows))
        work = time.perf_counter()
        tried = run_images(todo, self.dirs, self.variants, self.skip, stop, threads, busy)
        work = time.perf_counter() - work
        tried.sort(key=lambda one: one.index)
        for one in tried:
            for variant_rows, row in zip(rows, one.rows, strict=True):
                if row is not None:
                    variant_rows.append(row)
        counts = Counter(row.status for one in tried for row in one.rows if row is not None)
        many = f" (outputs of {len(self.variants)} variants)" if len(self.variants) > 1 else ""
        stopped = next((one for one in tried if one.stops(self.skip)), None)
        complete = stopped is None and len(tried) == len(todo)
        if self.tars and complete:
            rows = write_tars(name, self.folders, self.variants, rows, tried, copied)
        summary = (
            f"shard {name}: {len(members)} images, {counts['ok']} resized, "
            f"{kept} current, {counts['failed']} failed, {counts['filtered']} filtered, "
            f"{len(todo) - len(tried)} not started{many}; "
            f"resizing {work:.3f} s of {time.perf_counter() - start:.3f} s in the job "
            f"({threads} thread{'s' if threads != 1 else ''})"
        )
        return ShardResult(rows, tried, summary, stopped, complete)

    def run(
        self, plan: str, manifests: Sequence[str], threads: int, log: TextIO, stop: Stop
    ) -> int:
        """The Snakemake job: its plan file's members, its declared rows per variant.
        ``stop`` set (Ctrl-C, SIGTERM): the images in hand finish, the rows of what was
        made are kept, and the job ends with 130, leaving the one line to Snakemake's."""
        members = read_plan_file(plan)
        previous = [PreviousRows(manifest) for manifest in manifests]
        result = self.make(Path(plan).stem, members, previous, threads, stop)
        for one in result.tried:
            if one.rows:
                print(one.line, file=log)
        print(result.summary, file=log)
        if not result.complete:
            if not self.tars:  # the next run keeps the images this job did make (a tar
                # is written whole or not at all: its old rows stay true)
                for folder, manifest, variant_rows, variant in zip(
                    self.folders, manifests, result.rows, self.variants, strict=True
                ):
                    outs = [variant.output(rel) for rel, _ in members]
                    ok = [row for row in variant_rows if row.status != "failed"]
                    keep_shard_rows(folder, {Path(manifest).stem: outs}, ok)
            if (first := result.stopped) is None:
                print("interrupted: the images made are kept", file=log)
                return 130
            print(f"error: {first.fatal}" if first.fatal else first.line, file=sys.stderr)
            return 1
        for manifest, variant_rows in zip(manifests, result.rows, strict=True):
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
    stop: Stop | None = None,
) -> int:
    """Run one shard job (see :class:`Shard`); 1 when an image fails in fail mode, or the
    environment fails (full disk, read-only folder), with one line on stderr; 130 when
    ``stop`` was set before every image was done."""
    shard = Shard(*dirs, variants, skip)
    try:
        # Names need not be UTF-8: the log keeps their bytes, as manifest.csv does.
        with open(log, "w", **ENCODING) if log else contextlib.nullcontext(sys.stderr) as out:
            return shard.run(plan, manifests, threads, out, stop or threading.Event())
    except (OutputError, OSError, ValueError) as exc:  # a log or plan file that cannot be used
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:  # the machine's limit: fail the job in one line, not a traceback
        print(f"error: out of memory in shard {Path(plan).stem}", file=sys.stderr)
        return 1
