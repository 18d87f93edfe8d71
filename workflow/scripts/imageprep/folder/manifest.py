"""The manifest: one row per image, saying what was made from what (``manifest.csv`` in
output_dir, merged from one file per shard job; the pool writes the same file).

A row is what a rerun needs to tell whether an image is current (its input's size and
mtime, the spec's fingerprint, the transform's version, the output's size) and what a data
loader needs (output path, size in pixels, SHA-256). CSV, because every loader reads it
as it is (pandas, DuckDB, Hugging Face ``datasets``, Spark) and the csv module quotes any
file name. Columns: config/README.md, "manifest.csv".
"""

import contextlib
import csv
import heapq
import io
import os
import resource
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import TextIO

from imageprep.folder.layout import MANIFEST_CSV  # noqa: F401 - imported from here too
from imageprep.folder.records import write_failed_tsv
from imageprep.image.atomic import atomic_writer, write_atomically

ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}  # names need not be UTF-8


@dataclass(frozen=True)
class Row:
    """One image. Paths are relative: ``input`` to input_dir, ``output`` to output_dir (the
    manifest's own folder). A failed image has a reason and no output columns."""

    input: str
    output: str
    status: str  # ok | failed | filtered
    reason: str = ""
    input_bytes: int | None = None
    input_mtime_ns: int | None = None
    output_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    sha256: str = ""
    fingerprint: str = ""  # output_fingerprint(): the settings that shape this output's bytes
    transform_version: int | None = None
    input_width: int | None = None  # upright, as the filters and the variants see it
    input_height: int | None = None
    decode: str = ""  # how the image was decoded for its variants (geometry.decode_label)
    tar: str = ""  # container: webdataset: the tar holding it (output is its member there)


COLUMNS = tuple(f.name for f in fields(Row))
# Files of earlier releases are read as they are (their rows padded), so no image is redone:
# before tars (15 columns), before the input's size and decode were kept (12), and before
# "spec" was renamed "fingerprint".
_OLD = COLUMNS[:12]
_WIDTHS = (len(_OLD), 15)
_HEADERS = (
    COLUMNS,
    COLUMNS[:15],
    _OLD,
    tuple("spec" if c == "fingerprint" else c for c in _OLD),
)
_INTS = {
    *("input_bytes", "input_mtime_ns", "output_bytes", "width", "height"),
    *("transform_version", "input_width", "input_height"),
}


def _parse(values: list[str]) -> Row:
    if len(values) in _WIDTHS:
        values = values + [""] * (len(COLUMNS) - len(values))
    cells = dict(zip(COLUMNS, values, strict=True))
    return Row(**{k: (int(v) if v else None) if k in _INTS else v for k, v in cells.items()})


def iter_manifest(path: str | os.PathLike) -> Iterator[Row]:
    """The rows of a manifest file, in file order. The file is opened (and its header
    checked) now, so that a missing or foreign file is reported before any output is
    written; the rows are read as they are asked for."""
    fh = open(path, newline="", **ENCODING)  # noqa: SIM115 - closed by _rows
    reader = csv.reader(fh)
    header = next(reader, None)
    if tuple(header or ()) not in _HEADERS:
        fh.close()
        raise ValueError(f"{path}: not an imageprep manifest (header {header!r})")
    return _rows(fh, reader, path)


def _rows(fh: TextIO, reader: Iterator[list[str]], path: str | os.PathLike) -> Iterator[Row]:
    with fh:
        for values in reader:
            try:
                yield _parse(values)
            except (TypeError, ValueError):
                raise ValueError(f"{path}: a row that is not a manifest row: {values!r}") from None


def read_manifest(path: str | os.PathLike) -> dict[str, Row]:
    """Rows by input path; empty if the file is missing or not a manifest (a rerun then
    redoes those images, which is always safe)."""
    try:
        return {row.input: row for row in iter_manifest(path)}
    except (OSError, ValueError, TypeError):
        return {}


def csv_lines(rows: Iterable[Iterable[str]]) -> Iterator[str]:
    """Each row of cells as its CSV text (RFC 4180: CRLF line ends; a name with \\r or \\n
    is quoted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for cells in rows:
        writer.writerow(cells)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _cells(row: Row) -> list[str]:
    return ["" if v is None else str(v) for v in astuple(row)]


def manifest_text(rows: Iterable[Row], sort: bool = True) -> bytes:
    """A manifest of ``rows``, sorted by input path (or in their order)."""
    cells = map(_cells, sorted(rows, key=attrgetter("input")) if sort else rows)
    return "".join(csv_lines(chain([COLUMNS], cells))).encode(**ENCODING)


def write_manifest(path: str | os.PathLike, rows: Iterable[Row], sort: bool = True) -> None:
    write_atomically(path, manifest_text(rows, sort))


MAX_OPEN = 1024  # manifests merged at once at most (a million images make 512 shards)


def _files_at_once() -> int:
    """How many manifests one round of a merge opens: MAX_OPEN, or what the open-file limit
    leaves (64 kept for the rest) after its soft value is raised to the hard one (often
    1024 and far more). A round is a whole pass over the rows, so fewer rounds is faster."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN
    return max(2, min(MAX_OPEN, soft - 64))


def merge_shard_rows(
    parts: Iterable[str | os.PathLike],
    extra: Iterable[Row],
    path: str | os.PathLike,
    failed_tsv: str | os.PathLike | None = None,
    input_dir: str = "",
    counts: Counter | None = None,
) -> int:
    """One manifest from per-shard rows (each sorted by input) and ``extra`` rows
    (inputs refused before any job): a streaming merge, so a million rows never sit in
    memory; more parts than _files_at_once() are merged in rounds. With ``failed_tsv`` the failed
    rows also go there, named under ``input_dir``. Returns the number of rows."""
    parts, temps, at_once = list(parts), [], _files_at_once()
    try:
        while len(parts) > at_once:
            merged_round = []
            for start in range(0, len(parts), at_once):
                temp = Path(path).with_name(f".{Path(path).name}.{len(temps)}.merging")
                temps.append(temp)
                _merge(parts[start : start + at_once], [], temp, [])
                merged_round.append(temp)
            parts = merged_round
        failures: list[tuple[str, str]] = []
        counted = _merge(parts, extra, path, failures, counts)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    if failed_tsv is not None:
        write_failed_tsv(failed_tsv, ((f"{input_dir}/{s}", r) for s, r in failures))
    return counted


RowLine = tuple[str, list[str], str]  # input, the row's cells, the row's text in its file


def _merge(
    parts: list[str | os.PathLike],
    extra: Iterable[Row],
    path: str | os.PathLike,
    failures: list[tuple[str, str]],
    counts: Counter | None = None,
) -> int:
    """Copies each row's text as it is: a row is never parsed into numbers and written
    again (a million rows from 512 shards, 2 cores: 42 s that way, 3 s this way)."""
    sources = [_row_lines(p) for p in parts]  # opened before anything is written
    extra_cells = sorted(map(_cells, extra))
    header, *lines = csv_lines([COLUMNS, *extra_cells])
    sources.append([(c[0], c, text) for c, text in zip(extra_cells, lines, strict=True)])
    counted = 0
    with atomic_writer(path) as fh:
        fh.write(header.encode(**ENCODING))
        for key, cells, text in heapq.merge(*sources, key=_key):
            counted += 1
            if counts is not None:
                counts[cells[2]] += 1  # status
            if cells[2] == "failed":
                failures.append((key, cells[3]))  # reason
            fh.write(text.encode(**ENCODING))
    return counted


def _key(line: RowLine) -> str:
    return line[0]


def _row_lines(path: str | os.PathLike) -> Iterator[RowLine]:
    """A manifest file's rows with their text. The file is opened and its header checked
    now (as iter_manifest does)."""
    fh = open(path, newline="", **ENCODING)  # noqa: SIM115 - closed by _read_row_lines
    lines: list[str] = []  # the file's lines that make up the row being read

    def reading() -> Iterator[str]:
        for line in fh:
            lines.append(line)
            yield line

    reader = csv.reader(reading())
    header = next(reader, None)
    if tuple(header or ()) not in _HEADERS:
        fh.close()
        raise ValueError(f"{path}: not an imageprep manifest (header {header!r})")
    lines.clear()
    return _read_row_lines(fh, reader, lines, path)


def _read_row_lines(
    fh: TextIO, reader: Iterator[list[str]], lines: list[str], path: str | os.PathLike
) -> Iterator[RowLine]:
    with fh:
        for cells in reader:
            if len(cells) in _WIDTHS:  # an earlier release's row: padded, written anew
                cells = cells + [""] * (len(COLUMNS) - len(cells))
                lines[:] = list(csv_lines([cells]))
            if len(cells) != len(COLUMNS):
                raise ValueError(f"{path}: a row that is not a manifest row: {cells!r}")
            yield cells[0], cells, "".join(lines)
            lines.clear()
