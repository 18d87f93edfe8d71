"""The pool for a writer that writes a shard whole (container: webdataset): the unit of work
is a shard, not an image. Each worker makes one shard at a time with the shard jobs' own
code (shard_job.Shard.make), so the tars are Snakemake's byte for byte; the workers'
start-up, stop flag and slots are workers.py's."""

from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from imageprep.folder.manifest import Row, read_manifest
from imageprep.folder.rows import InputStat
from imageprep.folder.variants import Variants
from imageprep.pool.workers import (
    IDLE,
    Outcome,
    PoolError,
    SharedStop,
    init_worker,
    mark_slot,
    process_context,
)
from imageprep.run.shard_job import Shard, ShardResult
from imageprep.run.shards import PreviousRows, kept_rows_path, shard_rows_path


def _make_shard(
    index: int,
    name: str,
    members: list[tuple[str, str]],
    dirs: tuple[str, str],
    variants: Variants,
    skip: bool,
    resume: bool,
    threads: int,
    listed: Mapping[str, InputStat] | None,
) -> ShardResult:
    """One shard in a worker, as a Snakemake shard job makes it (shard_job.py); with
    ``resume``, against the rows both paths keep, so current members are copied."""
    mark_slot(index)
    folders = [v.folder(dirs[1]) for v in variants]
    previous = [PreviousRows(shard_rows_path(f, name)) if resume else None for f in folders]
    shard = Shard(*dirs, variants, skip)
    result = shard.make(name, members, previous, threads, SharedStop(), listed=listed)
    mark_slot(IDLE)
    return result


def run_shard_pool(
    shards: Mapping[str, list[tuple[str, str]]],
    dirs: tuple[str, str],
    variants: Variants,
    workers: int,
    on_error: str,
    resume: bool,
    current: list[list[Row]],
    outcome: Outcome,
    listed: Mapping[str, InputStat] | None = None,
) -> None:
    """Each shard on one of ``workers`` processes (with threads of their own when there
    are fewer shards than workers). A shard's rows go to ``outcome`` (its images made) and
    ``current`` (its current ones) once it is written; a shard stopped early writes
    nothing. ``listed``: a bucket's sizes and dates. Raises as run_pool."""

    def of(members: list[tuple[str, str]]) -> dict[str, InputStat] | None:
        return None if listed is None else {rel: listed[rel] for rel, _ in members}

    names = list(shards)
    procs = max(1, min(workers, len(names)))
    threads = max(1, workers // max(1, len(names)))
    ctx = process_context(dirs)
    slots = ctx.Array("q", [IDLE] * procs, lock=False)
    stop = ctx.Value("b", 0, lock=False)
    initargs = (slots, ctx.Value("i", 0), stop)
    skip = on_error == "skip"
    with ProcessPoolExecutor(
        procs, mp_context=ctx, initializer=init_worker, initargs=initargs
    ) as pool:
        futures = {
            pool.submit(
                _make_shard, i, n, shards[n], dirs, variants, skip, resume, threads, of(shards[n])
            ): n
            for i, n in enumerate(names)
        }
        finished: set[str] = set()
        try:
            _collect(futures, pool, slots, names, dirs[0], current, outcome, finished, stop)
        except BaseException:
            stop.value = 1
            for future in futures:
                future.cancel()
            # a shard not finished was left as it was: so are its rows in the manifest
            for variant, variant_current in zip(variants, current, strict=True):
                folder = variant.folder(dirs[1])
                for name in (n for n in names if n not in finished):
                    old = read_manifest(kept_rows_path(shard_rows_path(folder, name)))
                    variant_current.extend(old.values())
            raise


def _collect(
    futures: Mapping[Any, str],
    pool: ProcessPoolExecutor,
    slots: Any,
    names: Sequence[str],
    input_dir: str,
    current: list[list[Row]],
    outcome: Outcome,
    finished: set[str],
    stop: Any,
) -> None:
    """Each shard's result as it comes: its rows, or the line that stops the run."""
    try:
        for future in as_completed(futures):
            result = future.result()
            if result.complete:
                _add_shard(result, input_dir, current, outcome)
                finished.add(futures[future])
            if (first := result.stopped) is not None:
                stop.value = 1
                if first.fatal:
                    raise PoolError(f"{first.fatal}; finished outputs are kept")
                raise PoolError(first.line.removeprefix("error: "))
    except BrokenProcessPool:
        pool.shutdown(wait=True)
        crashed = [f"shard {names[i]}" for i in slots if i >= 0]
        where = f"while making {', '.join(crashed)}" if crashed else "between shards"
        raise PoolError(f"a worker process died {where}; finished tars are kept") from None


def _add_shard(
    result: ShardResult, input_dir: str, current: list[list[Row]], outcome: Outcome
) -> None:
    """A finished shard's rows: those of the images it made (with their tar) to
    ``outcome``, the others to ``current``."""
    made = {row.input for one in result.tried for row in one.rows if row is not None}
    final = [{row.input: row for row in rows} for rows in result.rows]
    for variant_current, rows in zip(current, result.rows, strict=True):
        variant_current.extend(row for row in rows if row.input not in made)
    for one in result.tried:
        rel = next(row.input for row in one.rows if row is not None)
        outcome.done += 1
        rows = zip(final, one.rows, strict=True)
        outcome.rows.append(tuple(by.get(rel) if row else None for by, row in rows))
        if (failed := one.failed) is not None:
            outcome.failures.append((f"{input_dir}/{rel}", failed.reason))
