"""What input_dir holds: the images a run may take (a folder, walked once; a bucket's prefix,
listed once) and the names no job can take. The plan (plan.py) is made from it."""

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from imageprep.folder.rows import InputStat
from imageprep.image.bucket import bucket_for
from imageprep.image.diagnose import SourceError, path_reason


class ConfigError(ValueError):
    """A config value that cannot work; the message starts with the key."""


@dataclass
class Scan:
    """What discovery found: every matching name, and those no job can take."""

    images: list[str] = field(default_factory=list)  # relative to input_dir, POSIX, sorted
    refused: dict[str, str] = field(default_factory=dict)  # image -> reason, before any job
    stats: dict[str, InputStat] | None = None  # a bucket's: image -> its size and date


def suffixes(extensions: Iterable[str]) -> tuple[str, ...]:
    """Config's extensions as the lower-case suffixes a name must end in (".jpg")."""
    return tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)


def scan_bucket(input_dir: str, extensions: Iterable[str]) -> Scan:
    """The objects under a bucket's prefix (image/bucket.py), listed once: their sizes and
    dates stand for a file's stat from here on (plan files, rows), so nothing else is asked
    of the bucket until a job reads its own images."""
    try:
        objects = bucket_for(input_dir).list(suffixes(extensions))
        stats = {rel: InputStat(size, mtime_ns) for rel, size, mtime_ns in objects}
    except SourceError as exc:
        raise ConfigError(f"input_dir: {exc}") from None
    refused = {rel: LINE_BREAK_REASON for rel in stats if "\n" in rel or "\r" in rel}
    return Scan(sorted(stats), refused, stats)


LINE_BREAK_REASON = "name contains a line break, which Snakemake cannot track; rename the file"


def scan_images(input_dir: str | os.PathLike, extensions: Iterable[str]) -> Scan:
    """Image paths under ``input_dir`` (see :func:`find_images`), and the ones refused up front
    by both paths alike: dangling symlinks and symlink loops, FIFOs, devices and sockets
    (reading them would fail or block), and names with a line break.

    Symlinked folders are followed, as ``find -L`` does, each real folder once: under the
    first of its paths in sorted order (a link back to an ancestor adds nothing). The file
    type comes from the directory listing (no stat per image); only symlinks and entries
    that are not regular files cost a stat.
    """
    wanted = suffixes(extensions)
    found = Scan()
    root = Path(input_dir)
    seen: set[tuple[int, int] | None] = set()
    folders = [(root, "")]  # depth first, in sorted order: which path a folder gets is fixed
    while folders:
        folder, prefix = folders.pop()
        if (identity := _identity(folder)) in seen and identity is not None:
            continue  # a second link to a folder already read, or back to an ancestor
        seen.add(identity)
        try:
            listing = os.scandir(folder)
        except OSError as exc:  # an unreadable folder hides its images: say so, do not guess
            raise ConfigError(
                f"input_dir: cannot list {str(folder)!r}: {exc.strerror or exc}"
            ) from None
        below = []  # subfolders, sorted below; files stream (a million in one folder)
        with listing as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                rel = prefix + entry.name
                if _is_dir(entry):
                    below.append((entry.name, Path(entry.path), rel + "/"))
                    continue
                if not entry.name.lower().endswith(wanted):
                    continue
                found.images.append(rel)
                reason = None if _is_file(entry) else path_reason(entry.path)
                if "\n" in rel or "\r" in rel:
                    reason = LINE_BREAK_REASON
                if reason:
                    found.refused[rel] = reason
        for _, path, rel in sorted(below, reverse=True):  # popped in sorted order
            folders.append((path, rel))
    found.images.sort()
    return found


def _is_dir(entry: os.DirEntry) -> bool:
    """A folder, or a symlink to one; False for a symlink loop (listed as a file)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _identity(folder: Path) -> tuple[int, int] | None:
    """A real folder, whatever path leads to it (None if it cannot be read: listing it
    then says why)."""
    try:
        stat = folder.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def find_images(input_dir: str | os.PathLike, extensions: Iterable[str]) -> list[str]:
    """Image paths under ``input_dir``, relative to it, POSIX-style, sorted.

    Extensions match case-insensitively; hidden files and folders (``.name``) are skipped,
    which also keeps the ``.NAME.part`` files of an interrupted run out.
    """
    return scan_images(input_dir, extensions).images
