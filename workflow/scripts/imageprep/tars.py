"""WebDataset tar shards (issue 20, work in progress on this branch): stable sample keys and
byte-deterministic tars, whose unchanged members a rewrite copies from the old tar.

A WebDataset sample is the members sharing a key, ``<key>.<ext>``; the key ends at the first
dot of the name's last part, so a key holds no dot. Keys come from the input path (never
from the order images were made): ``%`` and ``.`` are percent-encoded, which keeps distinct
inputs distinct (``a.jpg`` and ``a.png`` are ``a%2Ejpg`` and ``a%2Epng``); the sample's
json keeps the input path as it is.
"""

import io
import json
import os
import tarfile
from collections.abc import Iterable, Mapping

from .atomic import atomic_writer

ENCODING = "utf-8"  # member names; names that are not UTF-8 keep their bytes (surrogates)


def sample_key(rel: str) -> str:
    """The WebDataset key of input ``rel``: its path, ``%`` and ``.`` percent-encoded."""
    return rel.replace("%", "%25").replace(".", "%2E")


def sample_json(row: Mapping[str, object]) -> bytes:
    """A sample's ``.json`` member: sorted keys, no spaces, so its bytes are stable."""
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        ENCODING, "surrogateescape"
    )


def write_tar(path: str | os.PathLike, members: Iterable[tuple[str, bytes]]) -> None:
    """A tar of ``members`` (name, bytes), sorted by name, with fixed metadata (mtime 0,
    mode 0644, uid/gid 0, no user names), written atomically: the same members give the
    same bytes, whoever writes them."""
    with (
        atomic_writer(path) as fh,
        tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT, encoding=ENCODING,
                     errors="surrogateescape") as tar,
    ):  # fmt: skip
        for name, data in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))


def read_members(path: str | os.PathLike, names: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the named members of an existing tar (those it has): what a rewrite
    copies instead of making the images again. Empty when there is no tar."""
    wanted, found = set(names), {}
    try:
        tar = tarfile.open(path, mode="r:", encoding=ENCODING, errors="surrogateescape")  # noqa: SIM115
    except (FileNotFoundError, tarfile.ReadError):
        return found
    with tar:
        for info in tar:
            if info.name in wanted and (member := tar.extractfile(info)) is not None:
                found[info.name] = member.read()
    return found
