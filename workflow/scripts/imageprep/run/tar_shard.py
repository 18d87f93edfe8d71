"""A shard's tars (container: webdataset), the part of a shard job that differs from files:
an image whose row is current keeps its member, copied from the tar its row names (checked
against the row's SHA-256, so a tar replaced behind our back is not trusted); the others are
made in memory; then each variant's tar is written once, atomically, members sorted (tars.py).
Both the Snakemake shard job and the pool command run this (shard_job.py), so their tars are
the same bytes."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from imageprep.folder.manifest import Row
from imageprep.folder.tars import json_name, read_tar, sample_json, write_tar
from imageprep.folder.variants import Variants
from imageprep.run.runner import Tried

Entry = tuple[str, list[str], list[Row | None]]  # input, its outputs, its current rows


@dataclass
class Copied:
    """One variant's members still current, by name, and how many members each tar they
    were read from holds (-1: not whole)."""

    members: dict[str, bytes] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)


def copy_current(entries: Sequence[Entry], folders: Sequence[str]) -> list[Copied]:
    """Per variant, the bytes of the members still current (read from the tars their rows
    name, each tar once); a current row whose member is missing or differs is set to None
    in ``entries``, so that the image is made again."""
    copied: list[Copied] = []
    for i, folder in enumerate(folders):
        wanted: dict[str, list[Row]] = {}
        for _, _, current in entries:
            row = current[i]
            if row is not None and row.status == "ok":
                wanted.setdefault(row.tar, []).append(row)
        found = Copied()
        for tar, rows in sorted(wanted.items()):
            if not tar:  # made as a file (the other container): not in any tar
                continue
            members, found.held[tar] = read_tar(Path(folder, tar), [r.output for r in rows])
            for row in rows:
                data = members.get(row.output)
                if data is not None and hashlib.sha256(data).hexdigest() == row.sha256:
                    found.members[row.output] = data
        for _, _, current in entries:
            row = current[i]
            if row is not None and row.status == "ok" and row.output not in found.members:
                current[i] = None
        copied.append(found)
    return copied


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


def write_tars(
    name: str,
    folders: Sequence[str],
    variants: Variants,
    rows: list[list[Row]],
    tried: Sequence[Tried],
    copied: Sequence[Copied],
) -> list[list[Row]]:
    """Each variant's tar of shard ``name``: its made images (from ``tried``) and its
    current ones (``copied``), each with its json; the rows, with the tar they are in. A
    tar that would hold exactly what it holds is not rewritten; one with nothing to hold
    is removed."""
    result = []
    for i, (folder, variant, variant_rows) in enumerate(zip(folders, variants, rows, strict=True)):
        made = {
            one.rows[i].output: data  # type: ignore[union-attr]
            for one in tried
            if one.data and (data := one.data[i]) is not None
        }
        tar = variant.tar(name)
        ok = [row for row in variant_rows if row.status == "ok"]
        path = Path(folder, tar)
        # nothing made, every member copied from this very tar, which holds nothing else
        unchanged = not made and all(row.tar == tar for row in ok)
        if not ok:
            path.unlink(missing_ok=True)
        elif not (unchanged and copied[i].held.get(tar) == 2 * len(ok)):
            members = []
            for row in ok:
                data = made.get(row.output) or copied[i].members[row.output]
                members.append((row.output, data))
                members.append((json_name(row.output), sample(row)))
            write_tar(path, members)
        result.append([replace(r, tar=tar) if r.status == "ok" else r for r in variant_rows])
    return result
