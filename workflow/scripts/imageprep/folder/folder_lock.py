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

An output folder in a bucket has no flock: its lock is the object ``.imageprep/lock`` in the
bucket, made by a conditional put (``If-None-Match: *``: of two runs, exactly one makes
it) and removed when the run ends. A run killed with SIGKILL leaves it: the next run on
the same host, in the same PID namespace and boot (:func:`host_id`), sees that its process
is gone and takes it; from anywhere else (another host, a container sharing the host's
name, before a reboot), the message names the run that made it and says how to remove it.
"""

import atexit
import datetime
import fcntl
import os
import re
import socket
from pathlib import Path

from imageprep.folder.layout import LOCK, bucket_url
from imageprep.image.bucket import bucket_for
from imageprep.image.diagnose import SourceError

_HELD: dict[Path, int] = {}  # folders this process holds -> the lock's descriptor


class FolderInUse(Exception):
    """Another run holds the output folder; the message names it."""


def _path(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir, LOCK)


def _text(fd: int) -> str:
    return os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()


def _in_use(output_dir: str | os.PathLike, who: str, bucket: str = "") -> FolderInUse:
    who = who.split("\n", 1)[0]  # (its host id, the second line, says nothing to a person)
    gone = f" (if that run is gone, delete {bucket}/{LOCK})" if bucket else ""
    return FolderInUse(
        f"output_dir {os.fspath(output_dir)!r} is in use by {who or 'another run'}; two runs "
        f"must not write one folder: wait for it to end, or stop it{gone}"
    )


_PID_HOST = re.compile(r"\(pid (\d+) on (\S+), since ")
_HOST_ID = re.compile(r"^host-id (\S+)$", re.M)


def host_id() -> str:
    """Where a pid names one process: this kernel's boot and this PID namespace. A container
    that shares the host's name has a namespace of its own, and a reboot starts pids anew."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # not Linux: the host name alone
        return "-"
    return f"{boot}/{namespace}"


def _bucket_lock(url: str) -> tuple[str, str] | None:
    """The bucket folder's lock object: its text and ETag, None if there is none."""
    try:
        found = bucket_for(url).get_object(LOCK)
    except SourceError as exc:  # the bucket is missing, or cannot be reached: one line
        raise FolderInUse(f"output_dir: {exc}") from None
    return None if found is None else (found[0].decode("utf-8", "replace").strip(), found[1])


def _holder(text: str) -> str | None:
    """Who a lock's text names, None if that is a process of this host that is gone
    (killed without removing it). A lock that names this host from another PID namespace or
    boot is held: whether its process lives cannot be told from here."""
    found = _PID_HOST.search(text)
    ident = _HOST_ID.search(text)
    if ident and ident.group(1) != host_id():
        return text
    if found and found.group(2) == socket.gethostname():
        try:
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, another user's
    return text


def _bucket_holder(url: str) -> str | None:
    """Who holds the bucket folder's lock, None if nobody does."""
    lock = _bucket_lock(url)
    return None if lock is None else _holder(lock[0])


def _release(url: str, text: str) -> None:
    """Remove the lock at exit if it is still this run's."""
    try:
        lock = _bucket_lock(url)
        if lock is not None and lock[0] == text.strip():
            bucket_for(url).delete(LOCK)
    except Exception as exc:  # the run is over: say so, no traceback
        print(f"warning: could not remove {url}/{LOCK}: {exc}")


def _hold_bucket(url: str, text: str) -> None:
    """Make the bucket folder's lock object, or raise FolderInUse. Every step is a
    conditional put: the lock is made only where there is none, and a dead run's is
    replaced only as it was read (its ETag), so of two runs at most one holds it."""
    bucket = bucket_for(url)
    for _ in range(3):
        try:
            bucket.put(LOCK, text.encode(), create=True)
            break
        except FileExistsError:
            pass
        if (lock := _bucket_lock(url)) is None:
            continue  # removed since: make it again
        if (who := _holder(lock[0])) is not None:
            raise _in_use(url, who, url)
        try:  # left by a dead process of this host: taken over, if still as it was
            bucket.put(LOCK, text.encode(), if_match=lock[1])
            break
        except FileExistsError:
            continue  # another run changed it first: look again
    else:
        raise _in_use(url, "another run", url)
    atexit.register(_release, url, text)


def check_free(output_dir: str | os.PathLike) -> None:
    """Raise FolderInUse if another process holds ``output_dir``; takes nothing and writes
    nothing (a dry run, ``--lint``), so a folder in use is never written by a run that does
    not hold it."""
    if Path(output_dir).resolve() in _HELD:
        return
    if (url := bucket_url(output_dir)) and (who := _bucket_holder(url)) is not None:
        raise _in_use(url, who, url)
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
    text = f"{who} (pid {os.getpid()} on {socket.gethostname()}, since {since})\n"
    text += f"host-id {host_id()}\n"
    if url := bucket_url(output_dir):
        try:
            _hold_bucket(url, text)
        except Exception:
            os.close(fd)
            raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)
    _HELD[key] = fd
