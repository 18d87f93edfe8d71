"""The main process's bookkeeping in Snakemake's default storage (``--default-storage-provider``,
for a cluster whose nodes share no file system with it). Snakemake moves every file a rule
declares through that storage and compares the dates it finds there; but the main process
writes the plan files itself while it builds the DAG, and decides which shards run again
by dropping their declared rows. This makes the storage agree with the local side, from
what both hold (not from what this run changed, so a run that stops half-way, or the pool,
leaves nothing for the next run to miss), through the storage plugin's own objects:

- a plan file the storage lacks, or holds with other content, goes up, and its shard's
  declared rows there go (so the shard runs again, even when both are dated the same
  second). One of the same content but another date (another working directory put it)
  stays: the local copy takes the storage's date, so the next run compares a date with
  the date it copied, never two clocks.
- a shard's declared rows in the storage stand while they are its kept rows (those the
  jobs compare against): the local side holds a copy of what the storage holds (the
  manifest job writes it), and where that copy is missing or differs, the storage's is
  fetched and compared; rows that differ go, and Snakemake runs the shard again.

Each folder of the storage is listed once (the plugin's inventory: a request per 1,000
objects with S3); a file is fetched, put or removed only where the two disagree.
"""

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from imageprep.image.atomic import write_atomically
from imageprep.image.diagnose import OutputError

StorageObject = Any  # a storage plugin's StorageObject (snakemake_interface_storage_plugins)
T = TypeVar("T")


@dataclass
class Storage:
    """Snakemake's default storage as the main process reaches it: the storage object of a
    declared path (the instance's own path modifier makes it), and Snakemake's IOCache,
    told what this changes (it may have listed the storage already: a module's parent)."""

    object: Callable[[str], StorageObject]
    cache: Any = None


def mirror(storage: Storage, shards: Mapping[str, Sequence[tuple[str, str]]]) -> None:
    """Make the storage agree with the local side; ``shards``: each shard's plan file ->
    (declared rows, kept rows) per variant, all paths of the local side. Runs in a thread of
    its own: Snakemake may call the input function that calls this from its event loop.
    Raises OutputError (one line) when the storage refuses or cannot be reached."""
    with ThreadPoolExecutor(1) as one:
        one.submit(asyncio.run, _Mirror(storage).run(shards)).result()


class _Mirror:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def run(self, shards: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        plans = {path: self.storage.object(path) for path in shards}
        rows = {d: self.storage.object(d) for pairs in shards.values() for d, _ in pairs}
        plan_dates = await self._dates(list(plans.values()))
        row_dates = await self._dates(list(rows.values()))
        for path, obj in plans.items():
            fresh = await self._plan(path, obj, plan_dates.get(obj.cache_key()))
            for declared, kept in shards[path]:
                there = rows[declared]
                if row_dates.get(there.cache_key()) is None:
                    continue  # no rows: Snakemake runs the shard anyway
                if fresh or not await self._stands(declared, kept):
                    await self._call(there, there.managed_remove())
                    self._seen(there, None)

    async def _plan(self, path: str, obj: StorageObject, there: float | None) -> bool:
        """Whether the plan file went up (the storage lacked it, or held other content)."""
        local = Path(path)
        if there is not None:
            if int(there) == int(local.stat().st_mtime):
                return False
            if await self._fetch(path) == local.read_bytes():
                os.utime(local, (int(there), int(there)))
                return False
        store = self.storage.object(path)
        Path(store.local_path()).unlink(missing_ok=True)  # a stale local copy of Snakemake's
        store.set_local_path(local)
        await self._call(store, store.managed_store())
        date = await self._call(store, store.managed_mtime())
        os.utime(local, (int(date), int(date)))  # to the second: a listing and a HEAD agree
        self._seen(obj, date)
        return True

    async def _stands(self, declared: str, kept: str) -> bool:
        """Whether the storage's declared rows are the kept rows: by the local side's copy,
        or else by fetching them (and then keeping that copy)."""
        try:
            rows = Path(kept).read_bytes()
        except OSError:
            return False
        try:
            if Path(declared).read_bytes() == rows:
                return True
        except OSError:
            pass
        if await self._fetch(declared) != rows:
            return False
        write_atomically(declared, rows)
        return True

    async def _fetch(self, path: str) -> bytes | None:
        obj = self.storage.object(path)
        fd, tmp = tempfile.mkstemp(prefix="imageprep-storage-")
        os.close(fd)
        obj.set_local_path(Path(tmp))
        try:
            await self._call(obj, obj.managed_retrieve())
            return Path(tmp).read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)

    async def _dates(self, objects: list[StorageObject]) -> dict[str, float]:
        """Each object's date in the storage by its cache key (none: not there): one
        inventory per folder where the plugin lists folders, else a request each."""
        from snakemake.io import IOCache  # the cache Snakemake's own inventory fills

        folders: dict[str, list[StorageObject]] = {}
        for obj in objects:
            folders.setdefault(os.path.dirname(obj.query), []).append(obj)
        found: dict[str, float] = {}
        for members in folders.values():
            cache = IOCache(max_wait_time=0)  # (a plugin lists once per cache: one each)
            await self._call(members[0], members[0].inventory(cache))
            parent = members[0].get_inventory_parent()
            listed = parent is not None and cache.exists_in_storage.get(parent)
            for obj in members:
                key = obj.cache_key()
                if listed:
                    if key in cache.mtime:
                        found[key] = cache.mtime[key].storage()
                elif await self._call(obj, obj.managed_exists()):
                    found[key] = await self._call(obj, obj.managed_mtime())
        return found

    def _seen(self, obj: StorageObject, date: float | None) -> None:
        """Tell Snakemake's IOCache what changed (``date`` None: removed)."""
        if (cache := self.storage.cache) is None:
            return
        from snakemake_interface_storage_plugins.io import Mtime

        key = obj.cache_key()
        cache.exists_in_storage[key] = date is not None
        cache.size.pop(key, None)
        if date is None:
            cache.mtime.pop(key, None)
        else:
            cache.mtime[key] = Mtime(storage=date)

    @staticmethod
    async def _call(obj: StorageObject, step: Awaitable[T]) -> T:
        try:
            return await step
        except Exception as exc:  # the plugin's WorkflowError, the client's: one line
            raise OutputError(obj.print_query, _cause(exc)) from None


def _cause(exc: BaseException) -> str:
    """The innermost reason of a storage plugin's error (its WorkflowError holds the
    client's exception among its arguments)."""
    while (inner := next((a for a in exc.args if isinstance(a, BaseException)), None)) is not None:
        exc = inner
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
