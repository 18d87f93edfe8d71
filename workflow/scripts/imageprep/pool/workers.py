"""The hand-written parallel path ("the pool"): ``concurrent.futures.ProcessPoolExecutor``
over the plan's images, the largest first (schedule.py), each through the one transform.
The command around it is :mod:`imageprep.pool.command`.

What a bare ``pool.map`` does not: a bad image stops the run with one line naming it (or,
in skip mode, is a failed row); a worker that dies is reported with the image it was
resizing; Ctrl-C stops within one image per worker, without tracebacks; the rows of the
images made before a stop are kept. Outputs are written atomically by the transform, so an
interrupted run never leaves a partial image.
"""

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageprep.folder.current import WorkItem
from imageprep.folder.layout import bucket_url
from imageprep.folder.manifest import Row
from imageprep.folder.rows import image_row
from imageprep.folder.variants import Variants, specs
from imageprep.image.atomic import part_path
from imageprep.image.bucket import is_bucket
from imageprep.pool.schedule import input_sizes, make_chunks
from imageprep.run.runner import Tried, run_images
from imageprep.run.shards import written_at

IDLE, STOPPED = -1, -2  # worker slot values besides the index of the image in progress
# Test-only hook: a worker kills itself (SIGKILL) when it reaches the image of this name.
CRASH_HOOK = "IMAGEPREP_TEST_CRASH_ON"


class PoolError(Exception):
    """The run cannot go on; the message is the one line the user sees."""


@dataclass
class Outcome:
    done: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    rows: list[tuple[Row | None, ...]] = field(default_factory=list)  # per image: per variant

    def variant_rows(self, i: int) -> list[Row]:
        """Variant ``i``'s rows of the images tried."""
        return [rows[i] for rows in self.rows if rows[i] is not None]


# Worker state, set by init_worker in each worker process.
_slots: Any = None  # shared array: per worker, the index of the image in progress
_slot = -1
_stop: Any = None  # shared flag: the parent asks the workers to stop after this image


def process_context(dirs: tuple[str, str]) -> Any:
    """How workers start: forked (cheap, the default), but from a fresh server process when
    the inputs or outputs are in a bucket: the S3 client's runtime, started by the listing,
    does not survive a fork (a forked worker would hang on its first request)."""
    bucket = is_bucket(dirs[0]) or bucket_url(dirs[1]) is not None
    return mp.get_context("forkserver" if bucket else None)


def init_worker(slots: Any, counter: Any, stop: Any) -> None:
    """Ctrl-C is the parent's to handle (no traceback from every worker); a worker stopped
    by the pool (SIGTERM, after another one died) marks its slot so it is not blamed."""
    global _slots, _slot, _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    with counter.get_lock():
        _slot, counter.value = counter.value, counter.value + 1
    _slots, _stop = slots, stop


def _on_sigterm(signum: int, frame: object) -> None:
    _slots[_slot] = STOPPED
    os._exit(128 + signum)


class SharedStop:
    """runner.Stop over the flag all workers share."""

    def is_set(self) -> bool:
        return bool(_stop.value)

    def set(self) -> None:
        _stop.value = 1


def mark_slot(index: int) -> None:
    """Mark this worker's slot with the image (or shard) it is on, IDLE between them: the
    one a dead worker was on is named."""
    _slots[_slot] = index


def _busy(index: int | None) -> None:
    mark_slot(IDLE if index is None else index)
    if index is not None and _crash_on and Path(_names[index]).name == _crash_on:
        os.kill(os.getpid(), signal.SIGKILL)


_crash_on = os.environ.get(CRASH_HOOK)
_names: dict[int, str] = {}  # index -> input, of the chunk in progress (for the test hook)


def _resize_chunk(
    chunk: Sequence[WorkItem], dirs: tuple[str, str], variants: Variants, on_error: str
) -> list[Tried]:
    """Resize a few work items (relative to ``dirs``) in a worker, through the one runner.
    A bad image in fail mode, or a failure of the environment in any mode, stops every
    worker after its current image."""
    _names.clear()
    _names.update((item.index, item.rel) for item in chunk)
    sinks = [v.writer.open(v.folder(dirs[1])) for v in variants]
    skip = on_error == "skip"
    return run_images(chunk, dirs[0], sinks, variants, skip, SharedStop(), busy=_busy)


def run_pool(
    items: Sequence[WorkItem],
    dirs: tuple[str, str],
    variants: Variants,
    workers: int,
    on_error: str = "fail",
    chunksize: int = 0,
    outcome: Outcome | None = None,
) -> Outcome:
    """Make what is left of every work item (its index: its place in ``items``), relative
    to ``dirs`` (input_dir, output_dir), on ``workers`` processes, the largest images first,
    in chunks of about equal bytes (schedule.py; ``chunksize`` > 0: that many a chunk).

    Raises PoolError at the first bad image (on_error: fail) or when a worker dies, naming the
    image; KeyboardInterrupt after the workers have stopped. Finished outputs are kept, and
    so are their rows in ``outcome`` (pass one to keep them when the run stops early).
    """
    outcome = outcome or Outcome()
    started_ns = time.time_ns()
    delivered: set[int] = set()
    try:
        _run(items, dirs, variants, workers, on_error, chunksize, outcome, delivered)
    except BaseException:
        for item in items:
            if item.index not in delivered:
                _recover(item.rel, item.todo, dirs, variants, started_ns, outcome)
        raise
    return outcome


def _recover(
    rel: str,
    outs: Sequence[str | None],
    dirs: tuple[str, str],
    variants: Variants,
    started_ns: int,
    outcome: Outcome,
) -> None:
    """The workers have stopped. An output a worker finished after the run began to stop
    is on disk, but its row went down with the pool: read it back. A worker stopped while
    writing leaves a part file: nobody writes it any more."""
    rows: list[Row | None] = []
    siblings = specs(variants)
    for out, variant in zip(outs, variants, strict=True):
        folder = variant.folder(dirs[1])
        dst = f"{folder}/{out}"
        if out is not None:
            part_path(dst).unlink(missing_ok=True)
        # (a bucket's input is not read back for a row: the next run makes it again)
        made = out is not None and written_at(dst) >= started_ns and not is_bucket(dirs[0])
        row = (
            image_row((dirs[0], folder), rel, out, variant.spec, siblings=siblings)
            if made
            else None
        )
        rows.append(row)
    if any(row is not None for row in rows):
        outcome.rows.append(tuple(rows))
        outcome.done += 1


def _run(
    items: Sequence[WorkItem],
    dirs: tuple[str, str],
    variants: Variants,
    workers: int,
    on_error: str,
    chunksize: int,
    outcome: Outcome,
    delivered: set[int],
) -> None:
    srcs = [f"{dirs[0]}/{item.rel}" for item in items]
    listed = [item.stat for item in items] if is_bucket(dirs[0]) else None  # as listed
    sizes = [st.st_size if st else 0 for st in listed] if listed else input_sizes(srcs)
    chunks = [[items[i] for i in chunk] for chunk in make_chunks(sizes, workers, chunksize)]
    ctx = process_context(dirs)
    slots = ctx.Array("q", [IDLE] * workers, lock=False)
    stop = ctx.Value("b", 0, lock=False)
    initargs = (slots, ctx.Value("i", 0), stop)
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=init_worker, initargs=initargs
    ) as pool:
        futures = [pool.submit(_resize_chunk, chunk, dirs, variants, on_error) for chunk in chunks]
        try:
            for future in as_completed(futures):
                for tried in future.result():
                    if tried.fatal:
                        raise PoolError(f"{tried.fatal}; finished outputs are kept")
                    delivered.add(tried.index)
                    outcome.done += 1
                    outcome.rows.append(tried.rows)
                    if (failed := tried.failed) is None:
                        continue
                    outcome.failures.append((srcs[tried.index], failed.reason))
                    if on_error == "fail":
                        stop.value = 1
                        raise PoolError(f"{srcs[tried.index]}: {failed.reason}")
        except BrokenProcessPool:
            pool.shutdown(wait=True)  # the others are stopped (STOPPED) before we look
            crashed = [srcs[i] for i in slots if i >= 0]
            where = f"while resizing {', '.join(crashed)}" if crashed else "between images"
            raise PoolError(f"a worker process died {where}; finished outputs are kept") from None
        except BaseException:  # PoolError, Ctrl-C: let running images finish, start no more
            stop.value = 1
            for future in futures:
                future.cancel()
            raise
