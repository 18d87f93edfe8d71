"""What the pool command's --resume keeps of an earlier run of either path: every image whose
row is still current (manifest.is_current, the test a shard job makes), read where both
paths keep them (the shards' rows, else manifest.csv), and, where a killed run left no
row, every output newer than its input. A run that stops early keeps the rows it has."""

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .diagnose import OutputError
from .manifest import (
    MANIFEST_CSV,
    Row,
    image_row,
    input_stat,
    is_current,
    output_fingerprint,
    read_manifest,
    write_manifest,
)
from .shards import PreviousRows, record_rows, remove_other_shards, shard_rows_path, written_at
from .spec import ResizeSpec


def is_complete(src: str, dst: str) -> bool:
    """An output that --resume keeps although no manifest row describes it (a run killed
    before writing its manifest): present and newer than its input (outputs appear by
    rename, so a present one is whole)."""
    try:
        return os.stat(dst).st_mtime_ns >= os.stat(src).st_mtime_ns
    except FileNotFoundError:
        return False


def resumable(
    names: Sequence[tuple[str, str]],
    dirs: tuple[str, str],
    spec: ResizeSpec,
    skip: bool,
    shards: Mapping[str, list[str]],
) -> tuple[list[Row], list[tuple[str, str]]]:
    """The rows of images still current, and the (input, output) names left to do."""
    shard_of = {out: name for name, outputs in shards.items() for out in outputs}
    previous = {name: PreviousRows(shard_rows_path(dirs[1], name)) for name in shards}
    merged = Path(dirs[1], MANIFEST_CSV)  # a folder the pool made before it kept shard rows
    older, older_written = read_manifest(merged), written_at(merged)
    kept, todo = [], []
    for rel, out in names:
        src, dst = f"{dirs[0]}/{rel}", Path(dirs[1], out)
        found = previous[shard_of[out]].get(rel, out)
        if found is None and rel in older:
            found = older[rel], older_written
        stat, fp = input_stat(src), output_fingerprint(spec, out)
        if stat and found and is_current(found[0], stat, fp, dst, skip, found[1]):
            kept.append(found[0])
        elif found is None and is_complete(src, str(dst)):
            kept.append(image_row(dirs, rel, out, spec))
        else:
            todo.append((rel, out))
    return kept, todo


def record_run(output_dir: str, shards: Mapping[str, list[str]], rows: list[Row]) -> None:
    """What a pool run made, where the next run of either path reads it: the shards' rows
    and manifest.csv. Called at the end of a run and when it stops early (a bad image, a
    dead worker, Ctrl-C); then best effort: the run is failing already, and a full disk
    must not hide why."""
    record_rows(output_dir, shards, rows)
    remove_other_shards(output_dir, shards)  # rows of another shard count are out of date
    write_manifest(Path(output_dir, MANIFEST_CSV), rows)


def record_partial_run(output_dir: str, shards: Mapping[str, list[str]], rows: list[Row]) -> None:
    with contextlib.suppress(OutputError, OSError):
        record_run(output_dir, shards, rows)
