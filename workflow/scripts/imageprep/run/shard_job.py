"""One shard job (rule resize_shard; for a writer that writes a shard whole, also the pool's
unit of work): the variants of its members that are not current in the rows kept for them
are made through the one runner (an image is decoded once for all its variants), into each
variant's sink for the shard (folder/writers/), and every member gets a row in each
variant's rows. With container: webdataset the sink is the shard's tar, written only once
every member is done."""

import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from imageprep.folder.bucket_side import fetch_rows, remote
from imageprep.folder.current import WorkItem, assess
from imageprep.folder.manifest import ENCODING, Row, write_manifest
from imageprep.folder.rows import InputStat
from imageprep.folder.stale import withdraw
from imageprep.folder.variants import Variants
from imageprep.image.bucket import is_bucket
from imageprep.image.diagnose import OutputError, SourceError
from imageprep.run.plan_files import read_plan
from imageprep.run.runner import Stop, Tried, run_images
from imageprep.run.shards import (
    PreviousRows,
    fetch_previous,
    keep_rows,
    keep_shard_rows,
    kept_rows_path,
    shard_rows_path,
)


@dataclass
class ShardResult:
    """What one shard's run gives: each variant's rows (in member order), the tried images
    (their lines, their rows), the summary line, and whether it stopped early (a bad image
    in fail mode, a failure of the environment, or another worker's stop): then a writer
    that writes a shard whole wrote nothing, and its rows are empty."""

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

    def make(
        self,
        name: str,
        members: Sequence[tuple[str, str]],
        previous: Sequence[PreviousRows | None],
        threads: int,
        stop: Stop,
        busy: Callable[[int | None], None] | None = None,
        listed: Mapping[str, InputStat] | None = None,
    ) -> ShardResult:
        """Make what is not current of ``members`` ((input, plan key) each), against the
        rows ``previous`` keeps per variant (None: nothing is kept, all is made). ``listed``:
        the inputs' sizes and dates, from a bucket (its plan file records its listing)."""
        start = time.perf_counter()
        items = [
            assess(i, rel, self.dirs[0], [p.get(rel, key) if p else None for p in previous],
                   self.folders, self.variants, self.skip, listed)
            for i, (rel, key) in enumerate(members)
        ]  # fmt: skip
        sinks = [v.writer.open(f, name) for v, f in zip(self.variants, self.folders, strict=True)]
        untouched = [self._untouched(i, name, items, previous) for i in range(len(sinks))]
        for folder, same in zip(self.folders, untouched, strict=True):
            if not same:  # from now on the folder is not complete (stale.py)
                withdraw(folder)
        for i, sink in enumerate(sinks):  # a tar's members are checked in the tar
            if untouched[i]:
                continue
            for item, row in zip(items, sink.confirm([it.current[i] for it in items]), strict=True):
                item.current[i] = row
        rows: list[list[Row]] = [
            [item.current[i] for item in items if item.current[i] is not None]  # type: ignore[misc]
            for i in range(len(self.variants))
        ]
        todo = [item for item in items if not item.done]
        current = sum(map(len, rows))
        work = time.perf_counter()
        tried = run_images(todo, self.dirs[0], sinks, self.variants, self.skip, stop, threads, busy)
        work = time.perf_counter() - work
        tried.sort(key=lambda one: one.index)  # member order, whatever the threads did
        for one in (one for one in tried if one.rows):  # (a fatal line has none)
            for variant_rows, row in zip(rows, one.rows, strict=True):
                if row is not None:
                    variant_rows.append(row)
        counts = Counter(row.status for one in tried for row in one.rows if row is not None)
        many = f" (outputs of {len(self.variants)} variants)" if len(self.variants) > 1 else ""
        stopped = next((one for one in tried if one.stops(self.skip)), None)
        complete = stopped is None and len(tried) == len(todo)
        rows = [
            variant_rows if same else sink.close(variant_rows, complete)
            for sink, variant_rows, same in zip(sinks, rows, untouched, strict=True)
        ]
        summary = (
            f"shard {name}: {len(members)} images, {counts['ok']} resized, "
            f"{current} current, {counts['failed']} failed, {counts['filtered']} filtered, "
            f"{len(todo) - len(tried)} not started{many}; "
            f"resizing {work:.3f} s of {time.perf_counter() - start:.3f} s in the job "
            f"({threads} thread{'s' if threads != 1 else ''})"
        )
        return ShardResult(rows, tried, summary, stopped, complete)

    def _untouched(
        self, i: int, name: str, items: Sequence[WorkItem], previous: Sequence[PreviousRows | None]
    ) -> bool:
        """Whether variant ``i``'s tar in a bucket folder is left as it is, unread: every
        member current, and its kept rows name exactly these members in this very tar (the
        run's listing found the tar there, and not replaced since: plan_files). A local
        tar is always read (the pool's no-op run reads every tar); a bucket's would cost a
        request each."""
        writer, kept = self.variants[i].writer, previous[i]
        if not writer.per_shard or kept is None or remote(self.folders[i]) is None:
            return False
        rows = [item.current[i] for item in items]
        if any(row is None for row in rows):
            return False
        made = sorted(row.output for row in rows if row is not None and row.status == "ok")
        tar = writer.stored_in(name, "")
        held = sorted(r.output for r in kept.rows.values() if r.status == "ok" and r.tar == tar)
        return made == held and len(held) == sum(r.status == "ok" for r in kept.rows.values())

    def run(
        self, plan: str, manifests: Sequence[str], threads: int, log: TextIO, stop: Stop
    ) -> int:
        """The Snakemake job: its plan file's members, its declared rows per variant.
        ``stop`` set (Ctrl-C, SIGTERM): the images in hand finish, the rows of what was
        made are kept, and the job ends with 130, leaving the one line to Snakemake's."""
        members, stats = read_plan(plan)
        name = Path(plan).stem
        # where the rows are kept: beside the declared ones; a bucket folder's in its local
        # side (Snakemake may declare them in a default storage provider's local copies),
        # taken from the bucket where that is not here (a node without the working directory)
        here = [
            manifest if remote(folder) is None else shard_rows_path(folder, name)
            for folder, manifest in zip(self.folders, manifests, strict=True)
        ]
        for declared in here:
            fetch_rows(kept_rows_path(declared))
            fetch_previous(kept_rows_path(declared), [out for _, out in members])
        previous = [PreviousRows(declared) for declared in here]
        listed = stats if is_bucket(self.dirs[0]) else None
        result = self.make(name, members, previous, threads, stop, listed=listed)
        for one in result.tried:
            if one.rows:
                print(one.line, file=log)
        print(result.summary, file=log)
        if not result.complete:  # the next run keeps the images this job did make (none for
            # a writer that writes a shard whole: its old rows stay true)
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
        for manifest, declared, variant_rows in zip(manifests, here, result.rows, strict=True):
            write_manifest(manifest, variant_rows)
            keep_rows(manifest, made=bool(result.tried), kept=kept_rows_path(declared))
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
    except (OutputError, SourceError, OSError, ValueError) as exc:  # a log, a plan file, a bucket
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:  # the machine's limit: fail the job in one line, not a traceback
        print(f"error: out of memory in shard {Path(plan).stem}", file=sys.stderr)
        return 1
