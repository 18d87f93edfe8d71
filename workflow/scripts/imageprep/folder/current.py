"""The one "is this output done?" of every path (shard jobs, per-image jobs, the pool's
--resume, the main process's check before a run): per variant of an image, whether the row
kept for it still describes what this run would make, so that only what changed is redone.
What comes of it is the run's unit of work, a :class:`WorkItem`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from imageprep.folder.manifest import Row
from imageprep.folder.rows import InputStat, Stat, input_stat, output_fingerprint
from imageprep.folder.variants import Variant, named
from imageprep.image.geometry import decode_label, decode_request, filter_reason
from imageprep.image.transform import TRANSFORM_VERSION

KeptRow = tuple[Row, int] | None  # a kept row and when its file was written, or none


@dataclass
class WorkItem:
    """One input of a run: its output per variant and, per variant, its row if that output
    is current (None: to make). What every engine hands the runner."""

    index: int
    rel: str  # the input, relative to input_dir (or a path as it is)
    outs: list[str]
    current: list[Row | None]
    stat: Stat | None = None  # the input's, when it was assessed (a bucket's: listed)

    @property
    def todo(self) -> list[str | None]:
        """Each variant's output still to make: None where its row is current."""
        return [None if row else out for row, out in zip(self.current, self.outs, strict=True)]

    @property
    def done(self) -> bool:
        return None not in self.current

    @classmethod
    def anew(
        cls, index: int, rel: str, outs: Sequence[str], stat: Stat | None = None
    ) -> "WorkItem":
        """Every output to make (--force, or no rows kept)."""
        return cls(index, rel, list(outs), [None] * len(outs), stat)


def assess(
    index: int,
    rel: str,
    input_dir: str,
    found: Sequence[KeptRow],
    folders: Sequence[str],
    variants: Sequence[Variant],
    skip: bool,
    listed: Mapping[str, InputStat] | None = None,
) -> WorkItem:
    """What is left to make of input ``rel``, given the rows ``found`` kept for it per
    variant: the one place every path decides it (current_rows). ``listed``: the input
    folder is a bucket, whose listing gives each input's size and date."""
    outs = [v.output(rel) for v in variants]
    stat = input_stat(rel, listed) if listed is not None else input_stat(f"{input_dir}/{rel}")
    current = current_rows(outs, stat, found, folders, variants, skip)
    return WorkItem(index, rel, outs, current, stat)


def is_current(
    row: Row,
    stat: Stat,
    fingerprint: str,
    output: Path | None,
    skip: bool,
    written_ns: int,
) -> bool:
    """``row`` (its file written at ``written_ns``) still describes what this run would
    make: same input (size, mtime), fingerprint and transform version, and a made image's
    output there, its size, not written since (replaced behind our back: redone). A failed
    row is current in skip mode only (in fail mode it is tried again, so that the run
    stops at it). ``output`` None: not a file (a tar's member), which the caller checks."""
    if (row.input_bytes, row.input_mtime_ns, row.fingerprint, row.transform_version) != (
        stat.st_size,
        stat.st_mtime_ns,
        fingerprint,
        TRANSFORM_VERSION,
    ):
        return False
    if row.status != "ok":
        return skip
    if output is None:
        return True
    try:
        out = output.stat()
    except OSError:
        return False
    return out.st_size == row.output_bytes and out.st_mtime_ns <= written_ns


def current_rows(
    outs: Sequence[str],
    stat: Stat | None,
    found: Sequence[KeptRow],
    folders: Sequence[str],
    variants: Sequence[Variant],
    skip: bool,
) -> list[Row | None]:
    """Per variant of one image (its output ``outs[i]`` under ``folders[i]``), the kept row
    if it is current, else None (to make again). Besides is_current: the filters are
    applied again to the input size the rows keep (a filter change redoes only the images
    whose verdict changes, and those without decoding them twice), and with several
    variants, the image must be decoded as this run would decode it: adding or changing a
    larger sibling can change the draft scale the others were made from. An output its
    writer keeps in no file of its own (a tar's member) is checked by its sink (confirm)."""
    if stat is None:
        return [None] * len(variants)
    size = next(
        ((f[0].input_width, f[0].input_height) for f in found if f and f[0].input_width), None
    )
    decode = None  # without variants: the fingerprint says how an output was decoded
    if named(variants):  # variants: the decode served them all
        decode = "?"  # no input size kept: an image made since cannot be checked
        if size and (active := [v.spec for v in variants if not filter_reason(*size, v.spec)]):
            decode = decode_label(decode_request(*size, active), True)
    return [
        _current(variant, out, kept, folder, stat, size, decode, skip)
        for variant, out, kept, folder in zip(variants, outs, found, folders, strict=True)
    ]


def _current(
    variant: Variant,
    out: str,
    kept: KeptRow,
    folder: str,
    stat: Stat,
    size: tuple[int, int] | None,
    decode: str | None,
    skip: bool,
) -> Row | None:
    if kept is None:
        return None
    row, written = kept
    spec = variant.spec
    if row.status == "filtered" or (spec.filters and row.status == "ok"):
        if size is None:  # no input size kept: the filters cannot be checked
            return None
        reason = filter_reason(*size, spec)
        if row.status == "filtered":
            # a settings change re-judges it: its header again, no decode
            was = (row.output, row.input_bytes, row.input_mtime_ns, row.fingerprint)
            now = (out, stat.st_size, stat.st_mtime_ns, output_fingerprint(spec, out))
            same = was == now and row.transform_version == TRANSFORM_VERSION
            return row if same and reason == row.reason else None
        if reason:
            return None
    if row.status == "failed" and size and filter_reason(*size, spec):
        return None  # a filter now leaves it out: filtered, as a fresh run says
    if row.status == "ok" and (row.output != out or not variant.writer.holds(row)):
        return None  # made in another container (files, tars): not where this run looks
    fp = output_fingerprint(spec, out)
    if not is_current(row, stat, fp, variant.writer.output_file(folder, out), skip, written):
        return None
    if decode is not None and row.status == "ok" and row.decode and row.decode != decode:
        return None
    return row
