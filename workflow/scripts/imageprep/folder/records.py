"""The failure manifest of ``on_error: skip``: ``failed.tsv`` next to the outputs, one row per
image that was skipped, whichever engine ran. Snakemake builds it from one small record per
image (the skip-mode rule's declared output, so a skipped image is not re-run on every
invocation); the pool writes it directly. Format: config/README.md, "failed.tsv".
"""

import os
from collections.abc import Iterable
from pathlib import Path

from imageprep.folder.layout import FAILED_TSV, IMAGE_ROWS, RECORDS  # noqa: F401 - FAILED_TSV too
from imageprep.image.atomic import write_atomically

HEADER = ("path", "reason")


def record_path(output_dir: str, out_relpath: str) -> str:
    """Where skip mode keeps the record of one output (relative to output_dir)."""
    return f"{output_dir}/{RECORDS}/{out_relpath}.tsv"


def image_rows_path(output_dir: str, key: str) -> str:
    """What a per-image job declares with variants or filters, where an image has several
    outputs, or none: the image's rows (manifest.csv's format, one per variant)."""
    return f"{output_dir}/{IMAGE_ROWS}/{key}.csv"


def tsv_cell(text: str) -> str:
    """A TSV cell: file names may hold tabs, newlines and backslashes."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def tsv_uncell(text: str) -> str:
    out, chars = [], iter(text)
    for ch in chars:
        if ch == "\\":
            ch = {"t": "\t", "n": "\n", "\\": "\\"}[next(chars)]
        out.append(ch)
    return "".join(out)


def _bytes(text: str) -> bytes:
    """UTF-8, keeping file names that are not valid UTF-8 byte for byte (as the OS gave
    them to Python: surrogate escapes), as Python's own os.fsencode does."""
    return text.encode("utf-8", "surrogateescape")


def _text(path: str | os.PathLike) -> str:
    return Path(path).read_bytes().decode("utf-8", "surrogateescape")


def write_record(path: str | os.PathLike, src: str, reason: str | None) -> None:
    """One image's outcome: ``ok`` or ``failed`` with the reason."""
    status = "failed" if reason else "ok"
    write_atomically(path, _bytes(f"{status}\t{tsv_cell(src)}\t{tsv_cell(reason or '')}\n"))


def read_record(path: str | os.PathLike) -> tuple[str, str, str]:
    """(status, source path, reason) of a record written by :func:`write_record`."""
    status, src, reason = _text(path).rstrip("\n").split("\t")
    return status, tsv_uncell(src), tsv_uncell(reason)


def write_failed_tsv(path: str | os.PathLike, failures: Iterable[tuple[str, str]]) -> None:
    """The manifest: a header, then (path, reason) rows sorted by path; header only if none."""
    rows = sorted(set(failures))
    lines = ["\t".join(HEADER)] + [f"{tsv_cell(src)}\t{tsv_cell(reason)}" for src, reason in rows]
    write_atomically(path, _bytes("\n".join(lines) + "\n"))


def read_failed_tsv(path: str | os.PathLike) -> list[tuple[str, str]]:
    lines = _text(path).splitlines()
    if tuple(lines[0].split("\t")) != HEADER:
        raise ValueError(f"{path}: not a failure manifest (header {lines[0]!r})")
    return [tuple(map(tsv_uncell, line.split("\t"))) for line in lines[1:]]  # type: ignore[misc]
