"""The one runner: every engine that makes images from the plan (a shard job, the per-image
rule's job, the pool's workers) tries its images here, so that all agree on an image's row
and log line, on when a run stops, and on how a failure of the environment becomes one
line. The engines differ only in how images reach it: a plan file, a list of paths, chunks
sent to worker processes.
"""

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from .diagnose import OutputError
from .manifest import Row, input_stat, made_row, output_fingerprint
from .spec import ResizeSpec
from .transform import Attempt, try_resize


class Stop(Protocol):
    """Shared by everything working on one run (threads, or worker processes through a
    shared value): once set, no image starts."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...


@dataclass(frozen=True)
class Tried:
    """One image tried: its manifest row and log line; or ``fatal``, the line that ends the
    run (the environment's failure: full disk, read-only folder, out of memory; or a bug),
    which is not the image's fault and so never a failed row."""

    index: int
    row: Row | None
    line: str
    fatal: str | None = None

    def stops(self, skip: bool) -> bool:
        """Whether the run stops here: a fatal line, or a bad image in fail mode."""
        return self.fatal is not None or (
            self.row is not None and self.row.status != "ok" and not skip
        )


def log_line(src: str, dst: str, attempt: Attempt) -> str:
    """One line per image for its log: what was made, with Pillow's warnings attached."""
    if attempt.error:
        return f"error: {attempt.error}"
    line = f"{src} -> {dst} {attempt.size[0]}x{attempt.size[1]}"
    return line + "".join(f" (warning: {note})" for note in attempt.notes)


def try_image(
    index: int, rel: str, out: str, dirs: tuple[str, str] | None, spec: ResizeSpec
) -> Tried:
    """Try one image: ``rel`` and ``out`` relative to ``dirs`` (input_dir, output_dir), or
    paths as they are when ``dirs`` is None (the per-image rule's job)."""
    src, dst = (f"{dirs[0]}/{rel}", f"{dirs[1]}/{out}") if dirs else (rel, out)
    try:
        stat = input_stat(src)
        attempt = try_resize(src, dst, spec)
    except OutputError as exc:
        return Tried(index, None, "", str(exc))
    except MemoryError:
        return Tried(index, None, "", f"out of memory while resizing {src}")
    except Exception as exc:  # a bug of ours: one line, in every mode
        bug = f"{src}: unexpected {type(exc).__name__} ({exc}); please report this bug"
        return Tried(index, None, "", bug)
    row = made_row(rel, out, stat, output_fingerprint(spec, out), attempt)
    return Tried(index, row, log_line(src, dst, attempt))


def run_images(
    items: Iterable[tuple[int, str, str]],
    dirs: tuple[str, str] | None,
    spec: ResizeSpec,
    skip: bool,
    stop: Stop,
    threads: int = 1,
    busy: Callable[[int | None], None] | None = None,
) -> list[Tried]:
    """Try each (index, input, output) in turn, or on ``threads`` threads (Pillow releases
    the GIL while it decodes, resizes and encodes), until all are tried or ``stop`` is set:
    by any image here that stops the run (Tried.stops), or by another worker. Images
    already running finish; no other starts. ``busy(index)`` is called before an image,
    ``busy(None)`` after it (the pool names the image a dead worker was on)."""

    def one(item: tuple[int, str, str]) -> Tried | None:
        if stop.is_set():
            return None
        if busy:
            busy(item[0])
        tried = try_image(*item, dirs, spec)
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
