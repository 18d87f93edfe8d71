"""What the pool command's --resume keeps of an earlier run of either path: every output whose
row is still current (current.current_rows, the test a shard job makes), read where both
paths keep them (each variant's shards' rows, else its manifest.csv), and, where a killed
run left no row, every output newer than its input. A run that stops early keeps the rows
it has."""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from imageprep.folder.current import Found, current_rows, left_to_make
from imageprep.folder.manifest import MANIFEST_CSV, Row, read_manifest, write_manifest
from imageprep.folder.metadata import METADATA_CSV, write_metadata
from imageprep.folder.rows import image_row, input_stat
from imageprep.folder.stale import settle, withdraw
from imageprep.folder.tars import remove_stale_tars
from imageprep.folder.variants import Variant, Variants, specs
from imageprep.image.diagnose import OutputError
from imageprep.image.geometry import filter_reason
from imageprep.run.shards import (
    PreviousRows,
    keep_shard_rows,
    remove_other_shards,
    shard_rows_path,
    written_at,
)

Image = tuple[str, Sequence[str | None]]  # an input and its output per variant (None: current)


def is_complete(src: str, dst: str) -> bool:
    """An output that --resume keeps although no manifest row describes it (a run killed
    before writing its manifest): present and newer than its input (outputs appear by
    rename, so a present one is whole)."""
    try:
        return os.stat(dst).st_mtime_ns >= os.stat(src).st_mtime_ns
    except FileNotFoundError:
        return False


class _Kept:
    """One variant's rows of an earlier run: its shards' rows, else (a folder the pool made
    before it kept shard rows) its manifest.csv."""

    def __init__(self, folder: str, shards: Mapping[str, list[str]]) -> None:
        self.previous = {name: PreviousRows(shard_rows_path(folder, name)) for name in shards}
        merged = Path(folder, MANIFEST_CSV)
        self.older, self.older_written = read_manifest(merged), written_at(merged)

    def get(self, shard: str, rel: str, key: str) -> Found:
        found = self.previous[shard].get(rel, key)
        if found is None and rel in self.older:
            found = self.older[rel], self.older_written
        return found


def resumable(
    keys: Mapping[str, str],
    dirs: tuple[str, str],
    variants: Variants,
    skip: bool,
    shards: Mapping[str, list[str]],
) -> tuple[list[list[Row]], list[Image]]:
    """Each variant's rows still current, and the images with outputs left to make
    (``keys``: the plan's key -> input)."""
    shard_of = {key: name for name, members in shards.items() for key in members}
    folders = [v.folder(dirs[1]) for v in variants]
    kept_rows = [_Kept(folder, shards) for folder in folders]
    kept: list[list[Row]] = [[] for _ in variants]
    todo: list[Image] = []
    all_specs = specs(variants)
    for key, rel in keys.items():
        src, outs = f"{dirs[0]}/{rel}", [v.output(rel) for v in variants]
        found = [k.get(shard_of[key], rel, key) for k in kept_rows]
        current = current_rows(outs, input_stat(src), found, folders, variants, skip)
        for i, (variant, folder) in enumerate(zip(variants, folders, strict=True)):
            if current[i] is None and found[i] is None and is_complete(src, f"{folder}/{outs[i]}"):
                row = image_row((dirs[0], folder), rel, outs[i], variant.spec, siblings=all_specs)
                width, height = row.input_width, row.input_height
                if not (width and height and filter_reason(width, height, variant.spec)):
                    current[i] = row  # (one a filter now leaves out is redone: filtered)
        for variant_rows, row in zip(kept, current, strict=True):
            if row is not None:
                variant_rows.append(row)
        if None in current:
            todo.append((rel, left_to_make(current, outs)))
    return kept, todo


def variant_shards(
    shards: Mapping[str, list[str]], keys: Mapping[str, str], variant: Variant
) -> dict[str, list[str]]:
    """The shards (of plan keys) as one variant's outputs."""
    return {name: [variant.output(keys[k]) for k in members] for name, members in shards.items()}


def finish_pool_run(
    output_dir: str,
    variants: Variants,
    shards: Mapping[str, list[str]],
    keys: Mapping[str, str],
    rows: Sequence[list[Row]],
    complete: bool = True,
) -> int:
    """What a pool run made, where the next run of either path reads it: each variant's
    shards' rows, and when the run is ``complete`` its manifest.csv (metadata.csv for
    files); returns how many files earlier manifests listed that this one does not
    (stale.py). A run that stops early (a bad image, a dead worker, Ctrl-C) keeps its rows
    only, best effort: it is failing already, and a full disk must not hide why; and it
    leaves no manifest, which a loader would take for the whole folder."""
    stale = 0
    try:
        for variant, variant_rows in zip(variants, rows, strict=True):
            folder = variant.folder(output_dir)
            keep_shard_rows(folder, variant_shards(shards, keys, variant), variant_rows)
            if not complete:
                withdraw(folder)
                continue
            remove_other_shards(folder, shards)  # rows of another shard count are out of date
            write_manifest(Path(folder, MANIFEST_CSV), variant_rows)
            if not variant.tars:
                write_metadata(Path(folder, MANIFEST_CSV), Path(folder, METADATA_CSV))
            else:  # every shard's tar is written: another count's are not ours
                remove_stale_tars(folder, shards)
            stale += settle(folder)
    except (OutputError, OSError):
        if complete:
            raise
    return stale
