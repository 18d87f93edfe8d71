"""The shards' declared rows in Snakemake's default storage (``--default-storage-provider``,
for a cluster whose nodes share no file system with the main process). Snakemake moves
every file a rule declares through that storage and runs a shard again when its declared
rows are gone there; the main process decides which shards run again (a plan file that
changed, an output replaced behind the workflow's back, the pool between two runs), and
this makes the storage say so. From what both sides hold, not from what this run changed,
so that a run stopped half-way, the pool, or another working directory leave nothing for
the next run to miss:

- a shard's rows there go when its plan file changed (bucket_side.publish_plans), so it
  runs again whatever the dates say;
- else they stand while they are its kept rows (those its job compares against): the local
  side holds a copy of what the storage holds (the manifest job writes it), and where that
  copy is missing or differs, the storage's is fetched and compared; rows that differ go.

Each folder of the storage is listed once (the plugin's inventory: a request per 1,000
objects with S3); rows are fetched or removed only where the two sides disagree. (The plan
files are not the shard jobs' declared inputs here: Snakemake's scheduler asks the storage
about a waiting job's inputs each second; a job on a node takes its own from the bucket.)
"""

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
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


def mirror(
    storage: Storage, shards: Mapping[str, Sequence[tuple[str, str]]], fresh: Collection[str]
) -> None:
    """Make the storage's declared rows agree with the local side; ``shards``: each shard ->
    (declared rows, kept rows) per variant, paths of the local side; ``fresh``: the shards
    whose plan file changed. Runs in a thread of its own: Snakemake may call the input
    function that calls this from its event loop. Raises OutputError (one line) when the
    storage refuses or cannot be reached."""
    with ThreadPoolExecutor(1) as one:
        one.submit(asyncio.run, _Mirror(storage).run(shards, fresh)).result()


class _Mirror:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def run(
        self, shards: Mapping[str, Sequence[tuple[str, str]]], fresh: Collection[str]
    ) -> None:
        rows = {d: self.storage.object(d) for pairs in shards.values() for d, _ in pairs}
        dates = await self._dates(list(rows.values()))
        for name, pairs in shards.items():
            for declared, kept in pairs:
                there = rows[declared]
                if dates.get(there.cache_key()) is None:
                    continue  # no rows: Snakemake runs the shard anyway
                if name in fresh or not await self._stands(declared, kept):
                    await self._call(there, there.managed_remove())
                    self._removed(there)

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

    def _removed(self, obj: StorageObject) -> None:
        """Tell Snakemake's IOCache the object is gone."""
        if (cache := self.storage.cache) is None:
            return
        key = obj.cache_key()
        cache.exists_in_storage[key] = False
        cache.size.pop(key, None)
        cache.mtime.pop(key, None)

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
