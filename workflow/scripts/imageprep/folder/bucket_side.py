"""An output folder in a bucket, seen from its local side (layout.local_side): what goes up
to the bucket, what comes down, and what the bucket says is there.

The bucket holds the truth of the folder: its outputs (the writers put them), its
``manifest.csv`` and ``metadata.csv`` (put once the folder is complete, removed when a run
starts changing it) and each shard's **kept rows** (``.imageprep/rows/``), put after the
shard's outputs. A kept rows object's last-modified date, the endpoint's own clock, is the
time its outputs are compared against: the local copy is given that date, so the checks
that compare a file's mtime with its rows' (current.is_current, plan_files) work
unchanged, and an output replaced after it is noticed. A run that finds rows in the bucket
that its local side does not have (another machine, another working directory, the pool)
takes them (:func:`take_rows`): whichever run touched the folder last, the next sees it.
"""

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from imageprep.folder.layout import (
    KEPT_ROWS,
    PLANS,
    ROWS_AT_START,
    SHARD_ROWS,
    SPOOL,
    bucket_url,
)
from imageprep.folder.manifest import MANIFEST_CSV
from imageprep.folder.metadata import METADATA_CSV
from imageprep.image.atomic import write_atomically
from imageprep.image.bucket import Bucket, bucket_for
from imageprep.image.diagnose import OutputError, SourceError

Listed = dict[str, tuple[int, int]]  # object under the folder -> (size, last-modified ns)
SECOND = 1_000_000_000


def _second(ns: int) -> int:
    """A date to the whole second: what every S3 API gives in a HEAD (a listing may give
    milliseconds), so that dates from both compare."""
    return ns // SECOND * SECOND


def remote(folder: str | os.PathLike) -> Bucket | None:
    """The bucket folder behind a local side, None for a local folder."""
    url = bucket_url(folder)
    return bucket_for(url) if url else None


@functools.lru_cache(maxsize=16)
def _listing(url: str) -> Listed:
    try:
        return {rel: (size, _second(mtime)) for rel, size, mtime in bucket_for(url).objects()}
    except SourceError as exc:
        raise OutputError(url, str(exc).removeprefix(f"{url}: ")) from None


def listing(folder: str | os.PathLike, fresh: bool = False) -> Listed:
    """Every object of the folder's bucket prefix, listed once per process (``fresh``: again,
    after this process wrote to it), a request per 1,000 objects."""
    url = bucket_url(folder)
    assert url, folder
    if fresh:
        _listing.cache_clear()
    return _listing(url)


def listed_under(folder: str | os.PathLike, sub: str, fresh: bool = False) -> Listed:
    """The folder's objects under ``sub`` (its plans, its kept rows), relative to it: from
    the run's one listing of the folder, or ``fresh``, listed now (that prefix alone)."""
    if fresh:  # (uncached)
        return _listing.__wrapped__(f"{bucket_url(folder)}/{sub}")
    prefix = f"{sub}/"
    return {k[len(prefix) :]: v for k, v in listing(folder).items() if k.startswith(prefix)}


def outputs_listed(folder: str | os.PathLike) -> dict[str, int]:
    """The folder's own objects (not its bookkeeping, hidden) -> last-modified ns: what the
    plan files' check of a local folder takes from a scandir."""
    return {
        rel: mtime
        for rel, (_, mtime) in listing(folder).items()
        if not any(part.startswith(".") for part in rel.split("/"))
    }


def publish(folder: str | os.PathLike, names: Iterable[str]) -> None:
    """Put the folder's files ``names`` (manifest.csv and what goes with it) in the bucket,
    those that exist locally."""
    if (bucket := remote(folder)) is None:
        return
    for name in names:
        if Path(folder, name).is_file():
            bucket.put(name, Path(folder, name))


def withdraw(folder: str | os.PathLike) -> None:
    """The bucket's manifest.csv and metadata.csv go while a run changes the folder."""
    if (bucket := remote(folder)) is not None:
        for name in (MANIFEST_CSV, METADATA_CSV):
            bucket.delete(name)


@contextlib.contextmanager
def spooled(folder: str | os.PathLike, name: str) -> Iterator[Path]:
    """A local file for one object of the folder (a tar) while it is read or written: in
    the local side's spool, one file per object in hand, removed at the end of the block.
    Reading: the object is fetched into it (a missing object: no file)."""
    spool = Path(folder, SPOOL)
    spool.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(name).name}.", dir=spool)
    os.close(fd)
    path = Path(tmp)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def fetch(folder: str | os.PathLike, name: str, into: Path) -> bool:
    """Fetch object ``name`` of the folder into file ``into``; False when there is none."""
    bucket = remote(folder)
    assert bucket is not None
    try:
        bucket.get_file(name, into)
    except FileNotFoundError:
        into.unlink(missing_ok=True)
        return False
    return True


def push_rows(kept: Path) -> None:
    """Put a shard's kept rows in the bucket, after its outputs, and date the local copy as
    the bucket does (the endpoint's clock: outputs are compared with it)."""
    folder = kept.parent.parent.parent
    if (bucket := remote(folder)) is None:
        return
    _put_dated(bucket, f"{KEPT_ROWS}/{kept.name}", kept)


def _put_dated(bucket: Bucket, rel: str, path: Path) -> None:
    """Put ``path`` as object ``rel``, and date the local file as the bucket dates it."""
    bucket.put(rel, path)
    found = bucket.head(rel)
    if found is not None:
        os.utime(path, ns=(_second(found[1]),) * 2)


def publish_plans(folder: str | os.PathLike, names: Iterable[str]) -> set[str]:
    """With a default storage provider: the plan files of shards ``names`` in the bucket
    (``.imageprep/plans/``), where a job on a node without the working directory takes its
    own (plan_files.take_plan), and those of other shards removed there. A plan file goes
    up where the bucket's is not of its size and date, nor of its content (another working
    directory put the same), and is then dated as the bucket dates it, so the next run
    compares a date with the date it copied. Returns the shards whose plan file went up."""
    bucket = remote(folder)
    assert bucket is not None
    there = listed_under(folder, PLANS)
    names = list(names)
    put = set()
    for name in names:
        path, rel = Path(folder, PLANS, f"{name}.csv"), f"{PLANS}/{name}.csv"
        st, found = path.stat(), there.get(f"{name}.csv")
        if found == (st.st_size, _second(st.st_mtime_ns)):
            continue
        if found is not None and found[0] == st.st_size and bucket.get(rel) == path.read_bytes():
            os.utime(path, ns=(found[1],) * 2)
            continue
        _put_dated(bucket, rel, path)
        put.add(name)
    for gone in set(there) - {f"{name}.csv" for name in names}:
        bucket.delete(f"{PLANS}/{gone}")
    return put


def fetch_rows(kept: Path) -> None:
    """A shard's kept rows from the bucket, where the local side has none: a job on a node
    that does not share the working directory needs only its plan file and the bucket."""
    if not kept.exists() and (bucket := remote(kept.parent.parent.parent)) is not None:
        _take_rows(bucket, kept)  # (none there: nothing kept, all is made)


def _take_rows(bucket: Bucket, kept: Path) -> bool:
    """The bucket's copy of a shard's kept rows, as the local one, dated as the bucket
    dates it; False when the bucket has none. A read that fails is the run's failure."""
    try:
        found = bucket.get_object(f"{KEPT_ROWS}/{kept.name}")
    except SourceError as exc:  # denied, unreachable: the run cannot know what is kept
        raise OutputError(f"{bucket.url}/{KEPT_ROWS}/{kept.name}", str(exc)) from None
    if found is None:
        return False
    write_atomically(kept, found[0])
    os.utime(kept, ns=(_second(found[2]),) * 2)
    return True


def pull_rows(folder: str | os.PathLike, fresh: bool = False) -> list[str]:
    """Make the local side's kept rows those in the bucket: take each the bucket has in
    another version (size or date), drop each it has not. Returns the names of the shards
    whose rows changed so. ``fresh``: list the rows again (others wrote them since the
    run's one listing of the folder), and nothing else of the folder."""
    found = listed_under(folder, KEPT_ROWS, fresh)
    there = {
        name: stat for name, stat in found.items() if "/" not in name and name.endswith(".csv")
    }
    here = _local_rows(Path(folder, KEPT_ROWS))
    bucket = remote(folder)
    assert bucket is not None
    changed = [name for name, stat in there.items() if here.get(name) != stat]
    changed = [name for name in changed if _take_rows(bucket, Path(folder, KEPT_ROWS, name))]
    for name in set(here) - set(there):
        Path(folder, KEPT_ROWS, name).unlink(missing_ok=True)
        changed.append(name)
    return changed


def take_rows(folder: str | os.PathLike) -> None:
    """At a run's start: the bucket's kept rows (pull_rows); a shard whose rows changed so
    loses its declared rows, and Snakemake runs it again (its job then finds what is
    current, and makes nothing it need not)."""
    shutil.rmtree(Path(folder, SPOOL), ignore_errors=True)  # a killed run's tars in hand
    for name in pull_rows(folder):
        Path(folder, SHARD_ROWS, name).unlink(missing_ok=True)


def mark_start(folder: str | os.PathLike) -> None:
    """The kept rows as this run begins, hard links (a file each, whatever their count) in
    ROWS_AT_START: with a default storage provider the shard jobs may run where the local
    side is not, and what they made is then what changed since (merge.made_elsewhere)."""
    start = Path(folder, ROWS_AT_START)
    shutil.rmtree(start, ignore_errors=True)
    start.mkdir(parents=True)
    for path in Path(folder, KEPT_ROWS).glob("*.csv"):
        try:
            os.link(path, start / path.name)  # the rows are replaced, never changed in place
        except OSError:
            shutil.copy2(path, start / path.name)


def _local_rows(folder: Path) -> Mapping[str, tuple[int, int]]:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return {}
    found = {}
    for entry in entries:
        if entry.name.endswith(".csv") and entry.is_file():
            st = entry.stat()
            found[entry.name] = (st.st_size, st.st_mtime_ns)
    return found
