"""What the pool command's --resume keeps of an earlier run: every image whose manifest row
is still current (the test a shard job makes), and, where a killed run left no row, every
output newer than its input. A run that stops early writes the rows it has."""

import contextlib
import os
from collections.abc import Sequence
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
    names: Sequence[tuple[str, str]], dirs: tuple[str, str], spec: ResizeSpec, skip: bool
) -> tuple[list[Row], list[tuple[str, str]]]:
    """The rows of images still current, and the (input, output) names left to do."""
    previous = read_manifest(Path(dirs[1], MANIFEST_CSV))
    kept, todo = [], []
    for rel, out in names:
        src, dst = f"{dirs[0]}/{rel}", Path(dirs[1], out)
        stat, row = input_stat(src), previous.get(rel)
        fp = output_fingerprint(spec, out)
        if stat and row and is_current(row, stat, fp, dst, skip):
            kept.append(row)
        elif row is None and is_complete(src, str(dst)):
            kept.append(image_row(dirs, rel, out, spec))
        else:
            todo.append((rel, out))
    return kept, todo


def keep_partial_manifest(output_dir: str, rows: list[Row]) -> None:
    """A run that stops early still records what it made, so that --resume knows those
    images by their rows (spec and all), not only by their dates. Best effort: the run is
    failing already, and a full disk must not hide why."""
    with contextlib.suppress(OutputError):
        write_manifest(Path(output_dir, MANIFEST_CSV), rows)
