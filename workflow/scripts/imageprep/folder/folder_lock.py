"""One run per output folder: the pool command and the workflow's main Snakemake process each
hold ``<output_dir>/.imageprep/lock`` while they write the folder, and a second run of either
path stops before it writes anything, with one line naming the run that holds it.

The lock is ``flock(2)`` on that file: the kernel releases it when the holder's last open
descriptor closes, so a run killed with SIGKILL (or a crashed node's process) leaves the
file but no lock, and the next run simply takes it. The file's text only says who held it
last; its presence means nothing. Snakemake's own lock (``.snakemake/locks``) covers one
working directory, not an output folder that runs from several directories, or the pool,
may share. On NFS, Linux maps flock to the server's byte-range locks (NFSv4: released when
the client's lease expires, about 90 s after a client dies).
"""

import datetime
import fcntl
import os
import socket
from pathlib import Path

from imageprep.folder.layout import LOCK

_HELD: dict[Path, int] = {}  # folders this process holds -> the lock's descriptor


class FolderInUse(Exception):
    """Another run holds the output folder; the message names it."""


def _path(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir, LOCK)


def _text(fd: int) -> str:
    return os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()


def _in_use(output_dir: str | os.PathLike, who: str) -> FolderInUse:
    return FolderInUse(
        f"output_dir {os.fspath(output_dir)!r} is in use by {who or 'another run'}; two runs "
        "must not write one folder: wait for it to end, or stop it"
    )


def check_free(output_dir: str | os.PathLike) -> None:
    """Raise FolderInUse if another process holds ``output_dir``; takes nothing and writes
    nothing (a dry run, ``--lint``), so a folder in use is never written by a run that does
    not hold it."""
    if Path(output_dir).resolve() in _HELD:
        return
    try:
        fd = os.open(_path(output_dir), os.O_RDONLY)
    except OSError:  # no lock file: nobody ever held it (or it cannot be read: nor can we)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _in_use(output_dir, _text(fd)) from None
    finally:
        os.close(fd)  # also releases the lock just taken


def hold(output_dir: str | os.PathLike, who: str) -> None:
    """Hold ``output_dir`` until this process ends (idempotent), or raise FolderInUse.

    ``who`` names this run for the message another run will print (the command); the pid,
    host and start time are added."""
    key = Path(output_dir).resolve()
    if key in _HELD:
        return
    path = _path(output_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = _text(fd)
        os.close(fd)
        raise _in_use(output_dir, text) from None
    since = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{who} (pid {os.getpid()} on {socket.gethostname()}, since {since})\n"
              .encode(), 0)  # fmt: skip
    _HELD[key] = fd
