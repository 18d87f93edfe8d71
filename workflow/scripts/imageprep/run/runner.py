"""The one runner: every engine that makes images from the plan (a shard job, the per-image
rule's job, the pool's workers) tries its work items here, so that all agree on an image's
row and log line, on when a run stops, and on how a failure of the environment becomes one
line. The engines differ only in how items reach it (a plan file, a list of paths, chunks
sent to worker processes); where the outputs go is the sinks' business (folder/writers/).
"""

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from imageprep.folder.current import WorkItem
from imageprep.folder.manifest import Row
from imageprep.folder.rows import input_stat, made_rows
from imageprep.folder.variants import Variants, named
from imageprep.folder.writers import Sink
from imageprep.image.bucket import bucket_for, is_bucket
from imageprep.image.diagnose import ImageError, OutputError, SourceError
from imageprep.image.transform import Attempt, try_variants


class Stop(Protocol):
    """Shared by everything working on one run (threads, or worker processes through a
    shared value): once set, no image starts."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...


@dataclass(frozen=True)
class Tried:
    """One image tried: its manifest row per variant (None where none was asked) and its
    log line; or ``fatal``, the line that ends the run (the environment's failure: full
    disk, read-only folder, out of memory; or a bug), which is not the image's fault and
    so never a failed row."""

    index: int
    rows: tuple[Row | None, ...]
    line: str
    fatal: str | None = None

    @property
    def failed(self) -> Row | None:
        """A failed row (a bad input fails every variant); a filtered one is not failed."""
        return next((r for r in self.rows if r is not None and r.status == "failed"), None)

    def stops(self, skip: bool) -> bool:
        """Whether the run stops here: a fatal line, or a bad image in fail mode."""
        return self.fatal is not None or (self.failed is not None and not skip)


def log_line(src: str, dsts: Sequence[str | None], attempt: Attempt) -> str:
    """One line per image for its log: what was made (or filtered), with Pillow's warnings
    attached."""
    if attempt.error:
        return f"error: {attempt.error}"
    parts = []
    for dst, made in zip(dsts, attempt.outputs, strict=True):
        if dst is None or made is None:
            continue
        if made.filtered:
            parts.append(f"{dst} filtered ({made.filtered})")
        else:
            parts.append(f"{dst} {made.size[0]}x{made.size[1]}")
    line = f"{src} -> {', '.join(parts)}"
    return line + "".join(f" (warning: {note})" for note in attempt.notes)


def try_image(item: WorkItem, input_dir: str, sinks: Sequence[Sink], variants: Variants) -> Tried:
    """Try one work item: its input relative to ``input_dir`` ("": as it is; a bucket: its
    object, with the size and date it was listed with), each output still to make given to
    its variant's sink (an output not made: discarded there)."""
    src = f"{input_dir}/{item.rel}" if input_dir else item.rel
    outs = item.todo
    try:
        fetch = None
        if is_bucket(input_dir):
            stat, fetch = item.stat, partial(bucket_for(input_dir).get, item.rel)
        else:
            stat = input_stat(src)
        targets = [(out, v.spec) for out, v in zip(outs, variants, strict=True)]
        attempt = try_variants(src, targets, shared=named(variants), fetch=fetch)
        if attempt.error and fetch:  # named as the user wrote it (a Path drops a slash)
            attempt.error = ImageError(src, attempt.error.reason)
        for sink, out, made in zip(sinks, outs, attempt.outputs, strict=True):
            if out is not None and made is not None and made.data is not None:
                sink.put(out, made.data)
                made.data = None
            elif out is not None:
                sink.discard(out)
    except (OutputError, SourceError) as exc:
        return Tried(item.index, (), "", str(exc))
    except MemoryError:
        return Tried(item.index, (), "", f"out of memory while resizing {src}")
    except Exception as exc:  # a bug of ours: one line, in every mode
        bug = f"{src}: unexpected {type(exc).__name__} ({exc}); please report this bug"
        return Tried(item.index, (), "", bug)
    rows = made_rows(item.rel, outs, stat, variants, attempt)
    where = [
        None if out is None else sink.where(out) for sink, out in zip(sinks, outs, strict=True)
    ]
    return Tried(item.index, tuple(rows), log_line(src, where, attempt))


def run_images(
    items: Iterable[WorkItem],
    input_dir: str,
    sinks: Sequence[Sink],
    variants: Variants,
    skip: bool,
    stop: Stop,
    threads: int = 1,
    busy: Callable[[int | None], None] | None = None,
) -> list[Tried]:
    """Try each work item in turn, or on ``threads`` threads (Pillow releases
    the GIL while it decodes, resizes and encodes), until all are tried or ``stop`` is set:
    by any image here that stops the run (Tried.stops), or by another worker. Images
    already running finish; no other starts. ``busy(index)`` is called before an image,
    ``busy(None)`` after it (the pool names the image a dead worker was on)."""

    def one(item: WorkItem) -> Tried | None:
        if stop.is_set():
            return None
        if busy:
            busy(item.index)
        tried = try_image(item, input_dir, sinks, variants)
        if busy:
            busy(None)
        if tried.stops(skip):
            stop.set()
        return tried

    items = list(items)
    if threads > 1 and len(items) > 1:
        with ThreadPoolExecutor(threads) as pool:
            done = list(pool.map(one, items))
    else:
        done = []
        for item in items:
            if (tried := one(item)) is None:
                break
            done.append(tried)
    return [tried for tried in done if tried is not None]
