"""container: webdataset: each variant's outputs of a shard are members of one tar
(tar_files.py), written once, atomically, when every member is done. An image whose row is
current keeps its member, copied from the tar its row names (checked against the row's
SHA-256, so a tar replaced behind our back is not trusted). Both the Snakemake shard job and
the pool make a shard through the same code, so their tars are the same bytes."""

import contextlib
import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from imageprep.folder.bucket_side import fetch, listing, outputs_listed, remote, spooled
from imageprep.folder.manifest import Row
from imageprep.folder.writers.tar_files import (
    json_name,
    member_name,
    read_tar,
    remove_stale_tars,
    sample_json,
    stale_tars,
    tar_name,
    write_tar,
)
from imageprep.image.diagnose import SourceError


def sample(row: Row) -> bytes:
    """A sample's json member: what a loader needs beside the image, nothing that differs
    between two copies of the same input (its mtime)."""
    return sample_json(
        {
            "input": row.input,
            "width": row.width,
            "height": row.height,
            "input_width": row.input_width,
            "input_height": row.input_height,
            "sha256": row.sha256,
        }
    )


class TarSink:
    """One variant's tar of one shard: the members still current, copied from the tars
    their rows name (``held``: how many members each of those holds, -1: not whole), and
    the members made by this run."""

    def __init__(self, folder: str, shard: str) -> None:
        self.folder, self.tar = folder, tar_name(shard)
        self.copied: dict[str, bytes] = {}
        self.held: dict[str, int] = {}
        self.made: dict[str, bytes] = {}

    def where(self, out: str) -> str:
        return out

    def confirm(self, current: Sequence[Row | None]) -> list[Row | None]:
        wanted: dict[str, list[Row]] = {}
        for row in current:
            if row is not None and row.status == "ok" and row.tar:  # no tar: made as a file
                wanted.setdefault(row.tar, []).append(row)
        for tar, rows in sorted(wanted.items()):
            members, self.held[tar] = _read(self.folder, tar, [r.output for r in rows])
            for row in rows:
                data = members.get(row.output)
                if data is not None and hashlib.sha256(data).hexdigest() == row.sha256:
                    self.copied[row.output] = data
        return [
            None if row is not None and row.status == "ok" and row.output not in self.copied
            else row
            for row in current
        ]  # fmt: skip

    def put(self, out: str, data: bytes) -> None:
        self.made[out] = data  # threads of one job each put their own members

    def discard(self, out: str) -> None:
        """Nothing to remove: a tar is rewritten whole, without the members not made."""

    def close(self, rows: list[Row], complete: bool) -> list[Row]:
        """Write the tar: its made and copied members, each with its json. A tar that would
        hold exactly what it holds is not rewritten; one with nothing to hold is removed."""
        if not complete:
            return []
        ok = [row for row in rows if row.status == "ok"]
        # nothing made, every member copied from this very tar, which holds nothing else
        unchanged = not self.made and all(row.tar == self.tar for row in ok)
        if not ok:
            _remove(self.folder, self.tar)
        elif not (unchanged and self.held.get(self.tar) == 2 * len(ok)):
            members = []
            for row in ok:
                data = self.made.get(row.output) or self.copied[row.output]
                members += [(row.output, data), (json_name(row.output), sample(row))]
            _write(self.folder, self.tar, members)
        return [replace(r, tar=self.tar) if r.status == "ok" else r for r in rows]


# A tar of a bucket folder passes through the local side's spool: fetched whole to be read,
# written whole and then put (in parts when large; an upload that fails is aborted).


def _read(folder: str, tar: str, names: list[str]) -> tuple[dict[str, bytes], int]:
    if remote(folder) is None:
        return read_tar(Path(folder, tar), names)
    with spooled(folder, tar) as path:
        return read_tar(path, names) if fetch(folder, tar, path) else ({}, -1)


def _write(folder: str, tar: str, members: list[tuple[str, bytes]]) -> None:
    if (bucket := remote(folder)) is None:
        write_tar(Path(folder, tar), members)
        return
    with spooled(folder, tar) as path:
        write_tar(path, members)
        bucket.put(tar, path)


def _remove(folder: str, tar: str) -> None:
    if (bucket := remote(folder)) is None:
        Path(folder, tar).unlink(missing_ok=True)
    else:
        bucket.delete(tar)


class WebDataset:
    name = "webdataset"
    per_shard = True
    unique_names = True  # a member's key is its input path (tar_files.sample_key)

    def output(self, rel: str, out: str) -> str:
        return member_name(rel, out)

    def stored_in(self, shard: str, out: str) -> str:
        return tar_name(shard)

    def holds(self, row: Row) -> bool:
        return bool(row.tar)

    def output_file(self, folder: str, out: str) -> Path | None:
        return None  # a member: TarSink.confirm reads it from its tar (a bucket's too)

    def open(self, folder: str, shard: str = "") -> TarSink:
        return TarSink(folder, shard)

    def folder_files(self, folder: str) -> list[str]:
        return []  # Hugging Face reads the tars as they are (its "webdataset" loader)

    def finish_folder(self, folder: str, shards: Collection[str] | None) -> None:
        if shards is None:  # every shard's tar is written: another count's are not ours
            return
        if (bucket := remote(folder)) is None:
            remove_stale_tars(folder, shards)
        elif gone := stale_tars(outputs_listed(folder), shards):
            for tar in gone:
                bucket.delete(tar)
            listing(folder, fresh=True)  # what is there now, for the stale count

    def refuse(self, outputs: Iterable[str]) -> str | None:
        """Samples that mix image types (format: same over JPEGs and PNGs): Hugging Face's
        webdataset loader, which the docs show, stops on them ("files in the archive don't
        share the same prefix or the same types")."""
        types = sorted({out.rsplit(".", 1)[1] for out in outputs})
        if len(types) < 2:
            return None
        return (
            f"'same' would put {' and '.join(types)} images in one set of tars, which "
            "Hugging Face's webdataset loader cannot read; with container: webdataset, set "
            "it to jpeg, png or webp"
        )

    def read(self, folder: str, outputs: Sequence[tuple[str, str]]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for tar in sorted({tar for _, tar in outputs if tar}):  # each tar read once
            with contextlib.suppress(SourceError):  # unreadable: the report shows fewer
                found |= _read(folder, tar, [out for out, t in outputs if t == tar])[0]
        return found


WEBDATASET = WebDataset()
