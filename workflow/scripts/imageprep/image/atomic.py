"""Atomic writes for every file imageprep makes (images, records, failed.tsv): a reader, a
killed writer or a full disk never leaves half a file under an output's name.

An output is written to ".NAME.part" next to it, then renamed into place. One output has one
writer at a time, so the name needs no pid: a part file left by a killed writer is simply
overwritten when that output is written again.
"""

import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from imageprep.image.diagnose import OutputError

PART_SUFFIX = ".part"
_PART_NAME = re.compile(r"^\..+\.part$")
NAME_MAX = 255


def part_path(dst: str | os.PathLike) -> Path:
    """Where ``dst`` is written before its rename (a hashed name if NAME.part is too long)."""
    dst = Path(dst)
    name = f".{dst.name}{PART_SUFFIX}"
    if len(os.fsencode(name)) > NAME_MAX:  # fsencode: names need not be valid UTF-8
        name = f".{hashlib.sha1(os.fsencode(dst.name)).hexdigest()}{PART_SUFFIX}"
    return dst.parent / name


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete part files left under ``folder`` by writers that were killed; they are never
    outputs (and never inputs: discovery skips hidden files). Returns how many."""
    stale = [p for p in Path(folder).rglob(f".*{PART_SUFFIX}") if _PART_NAME.match(p.name)]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def write_atomically(dst: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to the part file, then rename it to ``dst`` (see :func:`atomic_writer`)."""
    with atomic_writer(dst) as fh:
        fh.write(data)


def link_atomically(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """``dst`` becomes a hard link to ``src`` (a copy where links fail), in one rename: a
    file kept as it was when written, whatever later happens to ``src`` (Snakemake deletes
    a job's outputs before it runs the job again)."""
    dst = Path(dst)
    tmp = part_path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        tmp.write_bytes(Path(src).read_bytes())
    os.replace(tmp, dst)


@contextlib.contextmanager
def atomic_writer(dst: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file that appears under ``dst`` only when the block ends without error;
    for outputs too large to hold in memory (the merged manifest of a million images).

    Any OSError here is the environment's (full disk, read-only or unwritable folder), never
    the input's: it is raised as OutputError naming ``dst``, and no part file is left.
    """
    dst = Path(dst)
    tmp = part_path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            yield fh
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(dst, exc.strerror or str(exc)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def writable_problem(folder: str | os.PathLike) -> str | None:
    """Why nothing can be written where ``folder`` is (or would be made), or None: a
    read-only file system or a folder without write permission is the run's problem, not
    any image's. Writes nothing (the workflow asks while Snakemake parses, for --lint too)."""
    existing = Path(folder).absolute()
    while not existing.is_dir() and existing != existing.parent:
        existing = existing.parent
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return os.strerror(errno.EROFS)
    if not os.access(existing, os.W_OK | os.X_OK):
        return os.strerror(errno.EACCES)
    return None


def check_writable(folder: str | os.PathLike) -> None:
    """Fail before any work if nothing can be written where ``folder`` is: OutputError."""
    if problem := writable_problem(folder):
        raise OutputError(folder, problem)
