"""WebDataset tar shards (container: webdataset): stable sample keys and byte-deterministic
tars, whose unchanged members a rewrite copies from the old tar (webdataset.py).

A WebDataset sample is the members sharing a key, ``<key>.<ext>``; the key ends at the first
dot of the name's last part, so a key holds no dot. Keys come from the input path (never
from the order images were made): ``%`` and ``.`` are percent-encoded, which keeps distinct
inputs distinct (``a.jpg`` and ``a.png`` are ``a%2Ejpg`` and ``a%2Epng``); the sample's
json keeps the input path as it is.
"""

import io
import json
import os
import re
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from imageprep.image.atomic import atomic_writer
from imageprep.image.spec import output_format

ENCODING = "utf-8"  # member names; names that are not UTF-8 keep their bytes (surrogates)
TAR_NAME = re.compile(r"^images-(\d{4,}-of-\d{4,})\.tar$")


def sample_key(rel: str) -> str:
    """The WebDataset key of input ``rel``: its path, ``%`` and ``.`` percent-encoded."""
    return rel.replace("%", "%25").replace(".", "%2E")


# One extension per format, so that a loader asks for one ("jpg"), even with format: same.
MEMBER_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif"}
MEMBER_EXTENSIONS |= {"BMP": "bmp", "GIF": "gif"}


def member_name(rel: str, out: str) -> str:
    """The image's member in its tar: ``<key>.<ext>``, the one extension of the format its
    output (``out``, its path as a file would be) is written in: what loaders decode by."""
    return f"{sample_key(rel)}.{MEMBER_EXTENSIONS[output_format(out)]}"


def json_name(member: str) -> str:
    """The sample's json member beside its image member."""
    return f"{member.rsplit('.', 1)[0]}.json"


def tar_name(shard: str) -> str:
    """The tar of one shard (shards.shard_name): ``images-0003-of-0016.tar``. The shard
    count in the name keeps the tars of another count apart until they are removed."""
    return f"images-{shard}.tar"


def stale_tars(names: Iterable[str], shards: Iterable[str]) -> list[str]:
    """Of a folder's ``names``, the tars of shards that are not ``shards`` (another shard
    count)."""
    keep = {tar_name(name) for name in shards}
    return [n for n in sorted(names) if TAR_NAME.match(n) and n not in keep]


def sample_json(row: Mapping[str, object]) -> bytes:
    """A sample's ``.json`` member: sorted keys, no spaces, so its bytes are stable; ASCII
    (``\\u`` escapes), so that a name that is not UTF-8 (its bytes kept as surrogates,
    ``\\udce9``) still gives a member every JSON reader decodes."""
    return json.dumps(row, sort_keys=True, separators=(",", ":")).encode("ascii")


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
    return read_tar(path, names)[0]


def read_tar(path: str | os.PathLike, names: Iterable[str]) -> tuple[dict[str, bytes], int]:
    """:func:`read_members`, and how many members the tar holds in all (-1 when it is not
    there or not whole): in one pass over it."""
    wanted, found = set(names), {}
    try:
        tar = tarfile.open(path, mode="r:", encoding=ENCODING, errors="surrogateescape")  # noqa: SIM115
    except (OSError, tarfile.TarError):  # none, or not a tar: its images are made again
        return found, -1
    count = 0
    with tar:
        try:
            for info in tar:
                count += 1
                if info.name in wanted and (member := tar.extractfile(info)) is not None:
                    found[info.name] = member.read()
        except (OSError, tarfile.TarError):  # a torn tail (not ours: ours are atomic)
            count = -1
    return found, count


def remove_stale_tars(folder: str | os.PathLike, shards: Iterable[str]) -> None:
    """Remove the tars in ``folder`` of another shard count (stale_tars)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for tar in stale_tars(names, shards):
        Path(folder, tar).unlink(missing_ok=True)
