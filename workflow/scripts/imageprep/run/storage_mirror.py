"""The main process's bookkeeping in Snakemake's default storage (``--default-storage-provider``,
for a cluster whose nodes share no file system with it). Snakemake moves every file a rule
declares through that storage and compares the dates it finds there; but the main process
writes the plan files itself while it builds the DAG, and drops a shard's declared rows to
have the shard run again (plan_files.Prepared). This makes the same changes in the storage,
through the storage plugin's own objects, where Snakemake compares and a job on a node
takes its plan file:

- a plan file goes up when this run wrote it, or when the storage has none, or one of
  another date than the local copy's. After it goes up, the local copy takes the storage's
  date (as bucket_side.push_rows does for rows), so the next run compares a date with the
  date it copied, never two clocks;
- dropped rows are removed from the storage.

The storage is listed once (the plugin's inventory: a request per 1,000 objects with S3),
not asked once per shard; a plugin without an inventory is asked per plan file.
"""

import asyncio
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from imageprep.image.diagnose import OutputError

StorageObject = Any  # a storage plugin's StorageObject (snakemake_interface_storage_plugins)


def mirror(
    stored: Callable[[str], StorageObject],
    plans: Mapping[str, bool],
    forgotten: Iterable[str],
) -> None:
    """Put ``plans`` (plan file -> written by this run) and remove ``forgotten`` (declared
    rows) in the storage; ``stored`` gives the storage object Snakemake uses for a path.
    Runs in a thread of its own: Snakemake may call the input function that calls this from
    its own event loop. Raises OutputError (one line) when the storage refuses."""
    with ThreadPoolExecutor(1) as one:
        one.submit(asyncio.run, _mirror(stored, plans, list(forgotten))).result()


async def _mirror(
    stored: Callable[[str], StorageObject], plans: Mapping[str, bool], forgotten: list[str]
) -> None:
    objects = {path: stored(path) for path in plans}
    dates = await _storage_dates(list(objects.values()))
    for path, obj in objects.items():
        there = dates(obj)
        if plans[path] or there is None or int(there) != int(os.stat(path).st_mtime):
            await _store(obj, path)
    for path in forgotten:
        obj = stored(path)
        try:
            if await obj.managed_exists():
                await obj.managed_remove()
        except Exception as exc:  # the plugin's WorkflowError: its cause in one line
            raise OutputError(obj.print_query, _cause(exc)) from None


async def _storage_dates(objects: list[StorageObject]) -> Callable[[StorageObject], float | None]:
    """Each object's date in the storage (None: not there), from one inventory where the
    plugin lists a folder."""
    if not objects:
        return lambda obj: None
    from snakemake.io import IOCache  # the cache Snakemake's own inventory fills

    cache = IOCache(max_wait_time=0)
    first = objects[0]
    try:
        await first.inventory(cache)
    except Exception as exc:
        raise OutputError(first.print_query, _cause(exc)) from None
    parent = first.get_inventory_parent()
    if parent is not None and cache.exists_in_storage.get(parent):
        return lambda obj: (found := cache.mtime.get(obj.cache_key())) and found.storage()

    async def asked(obj: StorageObject) -> float | None:
        return await obj.managed_mtime() if await obj.managed_exists() else None

    found = {id(obj): await asked(obj) for obj in objects}
    return lambda obj: found[id(obj)]


async def _store(obj: StorageObject, path: str) -> None:
    obj.set_local_path(Path(path))
    try:
        await obj.managed_store()
        date = await obj.managed_mtime()
    except Exception as exc:
        raise OutputError(obj.print_query, _cause(exc)) from None
    os.utime(path, (int(date), int(date)))  # to the second: what a listing and a HEAD agree on


def _cause(exc: BaseException) -> str:
    """The innermost reason of a storage plugin's error (its WorkflowError holds the
    client's exception among its arguments)."""
    while (inner := next((a for a in exc.args if isinstance(a, BaseException)), None)) is not None:
        exc = inner
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
