"""What the pool command's --resume keeps of an earlier run of either path: every output whose
row is still current (current.current_rows, the test a shard job makes), read where both
paths keep them (each variant's shards' rows, else its manifest.csv), and, where a killed
run left no row, every output newer than its input. A run that stops early keeps the rows
it has (run/finish.py)."""

import os
from collections.abc import Mapping
from pathlib import Path

from imageprep.folder.current import KeptRow, WorkItem, assess
from imageprep.folder.layout import bucket_url
from imageprep.folder.manifest import MANIFEST_CSV, Row, read_manifest
from imageprep.folder.rows import InputStat, image_row
from imageprep.folder.variants import Variants, specs
from imageprep.image.geometry import filter_reason
from imageprep.run.shards import PreviousRows, shard_rows_path, written_at


def is_complete(src: str, dst: str | os.PathLike) -> bool:
    """An output that --resume keeps although no manifest row describes it (a run killed
    before writing its manifest): present and newer than its input (outputs appear by
    rename, so a present one is whole)."""
    try:
        return os.stat(dst).st_mtime_ns >= os.stat(src).st_mtime_ns
    except FileNotFoundError:
        return False


class _EarlierRows:
    """One variant's rows of an earlier run: its shards' rows, else (a folder the pool made
    before it kept shard rows) its manifest.csv."""

    def __init__(self, folder: str, shards: Mapping[str, list[str]]) -> None:
        self.previous = {name: PreviousRows(shard_rows_path(folder, name)) for name in shards}
        merged = Path(folder, MANIFEST_CSV)
        self.older, self.older_written = {}, 0
        if bucket_url(folder) is None:  # (a bucket folder's were always kept in shards)
            self.older, self.older_written = read_manifest(merged), written_at(merged)

    def get(self, shard: str, rel: str, key: str) -> KeptRow:
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
    listed: Mapping[str, InputStat] | None = None,
) -> tuple[list[list[Row]], list[WorkItem]]:
    """Each variant's rows still current, and the work items with outputs left to make
    (``keys``: the plan's key -> input; ``listed``: a bucket's sizes and dates)."""
    shard_of = {key: name for name, members in shards.items() for key in members}
    folders = [v.folder(dirs[1]) for v in variants]
    earlier = [_EarlierRows(folder, shards) for folder in folders]
    current: list[list[Row]] = [[] for _ in variants]
    todo: list[WorkItem] = []
    all_specs = specs(variants)
    for key, rel in keys.items():
        found = [k.get(shard_of[key], rel, key) for k in earlier]
        item = assess(len(todo), rel, dirs[0], found, folders, variants, skip, listed)
        for i, (variant, folder) in enumerate(zip(variants, folders, strict=True)):
            if item.current[i] is not None or found[i] is not None or listed is not None:
                continue  # (a bucket's objects have no file date to compare)
            out = item.outs[i]
            file = variant.writer.output_file(folder, out)
            if file is not None and is_complete(f"{dirs[0]}/{rel}", file):
                row = image_row((dirs[0], folder), rel, out, variant.spec, siblings=all_specs)
                width, height = row.input_width, row.input_height
                if not (width and height and filter_reason(width, height, variant.spec)):
                    item.current[i] = row  # (one a filter now leaves out is redone: filtered)
        for variant_rows, row in zip(current, item.current, strict=True):
            if row is not None:
                variant_rows.append(row)
        if not item.done:
            todo.append(item)
    return current, todo
