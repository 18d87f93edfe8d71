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
import functools
import hashlib
import heapq
import io
import os
import resource
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import astuple, dataclass, fields
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import TextIO

from PIL import Image

from .atomic import atomic_writer, write_atomically
from .records import write_failed_tsv
from .spec import ResizeSpec
from .transform import TRANSFORM_VERSION, Attempt

MANIFEST_CSV = "manifest.csv"
ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}  # names need not be UTF-8


@dataclass(frozen=True)
class Row:
    """One image. Paths are relative: ``input`` to input_dir, ``output`` to output_dir (the
    manifest's own folder). A failed image has a reason and no output columns."""

    input: str
    output: str
    status: str  # ok | failed
    reason: str = ""
    input_bytes: int | None = None
    input_mtime_ns: int | None = None
    output_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    sha256: str = ""
    fingerprint: str = ""  # output_fingerprint(): the settings that shape this output's bytes
    transform_version: int | None = None


COLUMNS = tuple(f.name for f in fields(Row))
# Rows from before "spec" was renamed "fingerprint" are read as they are: no image redone.
_HEADERS = (COLUMNS, tuple("spec" if c == "fingerprint" else c for c in COLUMNS))
_INTS = {"input_bytes", "input_mtime_ns", "output_bytes", "width", "height", "transform_version"}


def input_stat(path: str) -> os.stat_result | None:
    """An input's size and mtime for its row; None when it is gone or unreadable (the
    transform then gives the reason)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def output_fingerprint(spec: ResizeSpec, out: str) -> str:
    """A short, stable name for the settings that shape ``out``'s bytes
    (``spec.for_output``: quality is left out for a PNG). Asked for every image, so it is
    computed once per spec and extension."""
    return _fingerprint(spec, os.path.splitext(out)[1].lower())


@functools.lru_cache(maxsize=256)
def _fingerprint(spec: ResizeSpec, extension: str) -> str:
    return hashlib.sha256(spec.for_output(f"x{extension}").to_json().encode()).hexdigest()[:16]


def is_current(
    row: Row, stat: os.stat_result, fingerprint: str, output: Path, skip: bool, written_ns: int
) -> bool:
    """The one "is this image done?" of both paths: ``row`` (its file written at
    ``written_ns``) still describes what this run would make: same input (size, mtime),
    fingerprint and transform version, and a made image's output there, its size, not
    written since (replaced behind our back: redone). A failed row is current in skip mode
    only (in fail mode it is tried again, so that the run stops at it)."""
    if (row.input_bytes, row.input_mtime_ns, row.fingerprint, row.transform_version) != (
        stat.st_size,
        stat.st_mtime_ns,
        fingerprint,
        TRANSFORM_VERSION,
    ):
        return False
    if row.status != "ok":
        return skip
    try:
        out = output.stat()
    except OSError:
        return False
    return out.st_size == row.output_bytes and out.st_mtime_ns <= written_ns


def _parse(values: list[str]) -> Row:
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


def _csv_lines(rows: Iterable[Iterable[str]]) -> Iterator[str]:
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


def manifest_text(rows: Iterable[Row]) -> bytes:
    """A manifest of ``rows``, sorted by input path."""
    cells = map(_cells, sorted(rows, key=attrgetter("input")))
    return "".join(_csv_lines(chain([COLUMNS], cells))).encode(**ENCODING)


def write_manifest(path: str | os.PathLike, rows: Iterable[Row]) -> None:
    write_atomically(path, manifest_text(rows))


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
        counted = _merge(parts, extra, path, failures)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    if failed_tsv is not None:
        write_failed_tsv(failed_tsv, ((f"{input_dir}/{s}", r) for s, r in failures))
    return counted


Record = tuple[str, list[str], str]  # input, the row's cells, the row's text in its file


def _merge(
    parts: list[str | os.PathLike],
    extra: Iterable[Row],
    path: str | os.PathLike,
    failures: list[tuple[str, str]],
) -> int:
    """Copies each row's text as it is: a row is never parsed into numbers and written
    again (a million rows from 512 shards, 2 cores: 42 s that way, 3 s this way)."""
    sources = [_records(p) for p in parts]  # opened before anything is written
    extra_cells = sorted(map(_cells, extra))
    header, *lines = _csv_lines([COLUMNS, *extra_cells])
    sources.append([(c[0], c, text) for c, text in zip(extra_cells, lines, strict=True)])
    counted = 0
    with atomic_writer(path) as fh:
        fh.write(header.encode(**ENCODING))
        for key, cells, text in heapq.merge(*sources, key=_key):
            counted += 1
            if cells[2] != "ok":  # status
                failures.append((key, cells[3]))  # reason
            fh.write(text.encode(**ENCODING))
    return counted


def _key(record: Record) -> str:
    return record[0]


def _records(path: str | os.PathLike) -> Iterator[Record]:
    """A manifest file's rows with their text. The file is opened and its header checked
    now (as iter_manifest does)."""
    fh = open(path, newline="", **ENCODING)  # noqa: SIM115 - closed by _read_records
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
    return _read_records(fh, reader, lines, path)


def _read_records(
    fh: TextIO, reader: Iterator[list[str]], lines: list[str], path: str | os.PathLike
) -> Iterator[Record]:
    with fh:
        for cells in reader:
            if len(cells) != len(COLUMNS):
                raise ValueError(f"{path}: a row that is not a manifest row: {cells!r}")
            yield cells[0], cells, "".join(lines)
            lines.clear()


def refused_rows(refused: Mapping[str, tuple[str, str]]) -> list[Row]:
    """The rows of inputs refused before any work (plan.Plan.refused: input -> (output,
    reason)), as the workflow and the pool command both list them."""
    return [Row(rel, out, "failed", why) for rel, (out, why) in refused.items()]


def made_row(rel: str, out: str, stat: os.stat_result | None, fp: str, attempt: Attempt) -> Row:
    """The manifest row of an image just tried (``stat``: its input, taken before)."""
    size = (stat.st_size, stat.st_mtime_ns) if stat else (None, None)
    common = {"fingerprint": fp, "transform_version": TRANSFORM_VERSION}
    if attempt.error:
        return Row(rel, out, "failed", attempt.error.reason, *size, **common)
    width, height = attempt.size or (None, None)
    return Row(rel, out, "ok", "", *size, attempt.nbytes, width, height, attempt.sha256, **common)


def image_row(dirs: tuple[str, str], rel: str, out: str, spec: ResizeSpec, reason: str = "") -> Row:
    """The row of an image made (or failed, with ``reason``) earlier, read back from disk, where
    no row was kept (the per-image rule; outputs the pool finds without one)."""
    src, dst = Path(dirs[0], rel), Path(dirs[1], out)
    try:
        stat = src.stat()
        size = stat.st_size, stat.st_mtime_ns
    except OSError:
        size = None, None
    common = {"fingerprint": output_fingerprint(spec, out), "transform_version": TRANSFORM_VERSION}
    if reason:
        return Row(rel, out, "failed", reason, *size, **common)
    data = dst.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
    return Row(
        rel,
        out,
        "ok",
        "",
        *size,
        len(data),
        width,
        height,
        hashlib.sha256(data).hexdigest(),
        **common,
    )
