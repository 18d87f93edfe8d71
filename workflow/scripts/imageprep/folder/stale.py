"""A folder's manifest.csv is there only when it describes the whole folder, and what it stops
listing is remembered, so that it can be removed.

- A run's first work withdraws the manifest (and metadata.csv): while a run is changing
  outputs, and after one that stopped early (Ctrl-C, a bad image), a loader finds no
  manifest to take for the whole dataset. The next complete run writes them again.
- Each manifest written is also kept as ``.imageprep/listed-manifest.csv`` (a hard link).
  When the next one is written, the outputs the kept one listed and the new one does not
  (a deleted input, an old ``format``, the other container) are added to ``stale.tsv``:
  imageprep made them and nothing lists them. workflow/scripts/clean.py shows, then
  removes, those still there; never a file that imageprep did not list as made.
"""

import csv
import os
from collections.abc import Iterable
from pathlib import Path

from imageprep.folder import bucket_side
from imageprep.folder.layout import LISTED, STALE
from imageprep.folder.manifest import ENCODING, MANIFEST_CSV
from imageprep.folder.metadata import METADATA_CSV
from imageprep.folder.records import tsv_cell, tsv_uncell
from imageprep.image.atomic import link_atomically, write_atomically


def withdraw(folder: str | os.PathLike) -> None:
    """Remove the folder's manifest.csv and metadata.csv (the rows stay in LISTED and the
    shards' rows); no-op where there are none, so jobs may race."""
    for name in (MANIFEST_CSV, METADATA_CSV):
        Path(folder, name).unlink(missing_ok=True)
    bucket_side.withdraw(folder)  # a bucket folder's, there too


def listed(path: str | os.PathLike) -> set[str]:
    """The files a manifest says were made: each output, or with tars each tar. Three
    columns read, no Row built: a million rows take about a second."""
    with open(path, newline="", **ENCODING) as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        out, status = header.index("output"), header.index("status")
        tar = header.index("tar") if "tar" in header else out  # no tars in earlier releases
        return {r[tar] or r[out] for r in reader if r[status] == "ok" and r[out]}


def settle(folder: str | os.PathLike) -> int:
    """Once the new manifest.csv is written: remember what the last one listed and this one
    does not, and keep this one. Returns how many files stale.tsv names that are still
    there."""
    manifest, kept = Path(folder, MANIFEST_CSV), Path(folder, LISTED)
    now = listed(manifest)
    if kept.exists():
        add_stale(folder, listed(kept) - now)
    link_atomically(manifest, kept)
    return len(stale_files(folder, now))


def add_stale(folder: str | os.PathLike, names: Iterable[str]) -> None:
    names = set(names)
    known = set(read_stale(folder))
    if not names <= known:
        _write_stale(folder, sorted(known | names))


def read_stale(folder: str | os.PathLike) -> list[str]:
    try:
        text = Path(folder, STALE).read_bytes().decode(**ENCODING)
    except FileNotFoundError:
        return []
    return [tsv_uncell(line) for line in text.split("\n")[:-1]]


def _write_stale(folder: str | os.PathLike, names: Iterable[str]) -> None:
    text = "".join(f"{tsv_cell(n)}\n" for n in names)
    write_atomically(Path(folder, STALE), text.encode(**ENCODING))


def stale_files(folder: str | os.PathLike, current: set[str] | None = None) -> list[str]:
    """What stale.tsv names that is still a file in ``folder`` and that the current
    manifest.csv (``current``: its listing, if already read) does not list (a later run may
    have made it again)."""
    names = read_stale(folder)
    if not names:
        return []
    if current is None:
        manifest = Path(folder, MANIFEST_CSV)
        current = listed(manifest) if manifest.exists() else set()
    sizes = present_sizes(folder)
    return [
        n
        for n in names
        if n not in current and (n in sizes if sizes is not None else _is_file(folder, n))
    ]


def manifest_listing(folder: str | os.PathLike) -> set[str] | None:
    """What the folder's manifest.csv lists as made (:func:`listed`), None when it has none
    (a run stopped early). A bucket folder's is the one in the bucket (the local side's may
    be another working directory's)."""
    if bucket_side.remote(folder) is None:
        manifest = Path(folder, MANIFEST_CSV)
        return listed(manifest) if manifest.exists() else None
    with bucket_side.spooled(folder, MANIFEST_CSV) as path:
        return listed(path) if bucket_side.fetch(folder, MANIFEST_CSV, path) else None


def present_sizes(folder: str | os.PathLike) -> dict[str, int] | None:
    """A bucket folder's objects and their sizes, from its listing; None for a local folder,
    whose files are asked one by one."""
    if bucket_side.remote(folder) is None:
        return None
    return {name: size for name, (size, _) in bucket_side.listing(folder).items()}


def _is_file(folder: str | os.PathLike, name: str) -> bool:
    return Path(folder, name).is_file()


def remove_stale(folder: str | os.PathLike, names: Iterable[str]) -> None:
    """Remove ``names`` (from :func:`stale_files`) and the folders they leave empty; forget
    them in stale.tsv."""
    if (bucket := bucket_side.remote(folder)) is not None:
        gone = set(names)
        for name in sorted(gone):
            bucket.delete(name)
        _write_stale(folder, [n for n in read_stale(folder) if n not in gone])
        return
    root = Path(folder).resolve()
    for name in names:
        path = Path(folder, name)
        path.unlink()
        parent = path.parent.resolve()
        while parent != root and root in parent.parents:
            try:
                parent.rmdir()
            except OSError:  # not empty
                break
            parent = parent.parent
    _write_stale(folder, [n for n in read_stale(folder) if Path(folder, n).is_file()])
