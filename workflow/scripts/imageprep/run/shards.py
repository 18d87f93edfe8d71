"""Shards: what Snakemake tracks when images_per_job is not 1. Its per-output bookkeeping
grows faster than the number of outputs, so one job per shard declares one output (the
shard's rows), and the workflow tracks the images itself.

The main Snakemake process writes one small plan file per shard (its members, with their
inputs' sizes and mtimes), rewriting it only when that content changes: Snakemake then
re-runs exactly the shards whose plan file is newer than their manifest. A job reads its
plan file and nothing else of the input tree (on a cluster node too), and inside it an image
whose manifest row is still current is not redone (current.is_current). Folders, both
under output_dir: ``.imageprep/plans/`` and ``.imageprep/shards/``.
"""

import math
import os
import re
import zlib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from imageprep.folder.bucket_side import fetch_rows, listed_under, listing, push_rows, remote
from imageprep.folder.layout import KEPT_ROWS, REFUSED_ROWS, SHARD_ROWS
from imageprep.folder.manifest import Row, manifest_text, read_manifest
from imageprep.image.atomic import link_atomically, write_atomically

SHARD_NAME = re.compile(r"^(\d{4,})-of-(\d{4,})$")
MAX_IMAGES_PER_JOB = 2000


def auto_images_per_job(n_images: int) -> int:
    """Images per shard when config says 0 (automatic): about n/16 (16 shards: each job's
    ~0.13 s of start-up and bookkeeping stays small on 2 cores, and 16 cores still get a
    shard each), at least 16 and at most 2000 (a million images make 512 jobs, and 16
    cores get 32 each). It depends on the image count only, never on --cores, so that a
    rerun with other cores re-runs nothing. Measured: docs/performance.md, section 3.
    """
    return max(16, min(MAX_IMAGES_PER_JOB, math.ceil(n_images / 16)))


def images_per_job(configured: int, n_images: int) -> int:
    """Images per shard: config's ``images_per_job``, or when it is 0 the automatic size."""
    return configured or auto_images_per_job(n_images)


def group_into_shards(outputs: Iterable[str], configured: int) -> dict[str, list[str]]:
    """The shards whose rows a run keeps, the same for both paths: config's
    ``images_per_job`` (0: automatic); with the per-image rule (1), which Snakemake tracks
    image by image, the pool keeps its rows in automatic shards."""
    outputs = list(outputs)
    return shard_outputs(
        outputs, images_per_job(0 if configured == 1 else configured, len(outputs))
    )


def shard_count(n_images: int, images_per_job: int) -> int:
    """A power of two: adding images moves no image to another shard until it doubles."""
    return max(1, 2 ** round(math.log2(max(1.0, n_images / images_per_job))))


def shard_of(out: str, count: int) -> int:
    return zlib.crc32(out.encode("utf-8", "surrogateescape")) % count


def shard_name(index: int, count: int) -> str:
    return f"{index:04d}-of-{count:04d}"


def shard_outputs(outputs: Iterable[str], images_per_job: int) -> dict[str, list[str]]:
    """Outputs grouped into shards of about ``images_per_job`` by a hash of their path, so a
    shard's members stay the same when other images come or go."""
    outputs = sorted(outputs)
    count = shard_count(len(outputs), images_per_job)
    shards: dict[int, list[str]] = {}
    for out in outputs:
        shards.setdefault(shard_of(out, count), []).append(out)
    return {shard_name(i, count): shards[i] for i in sorted(shards)}


def refused_rows_path(folder: str) -> str:
    """The rows of the inputs refused before any job, in a variant's folder."""
    return f"{folder}/{REFUSED_ROWS}"


def shard_rows_path(output_dir: str, name: str) -> str:
    return f"{output_dir}/{SHARD_ROWS}/{name}.csv"


class PreviousRows:
    """The rows kept for a shard's members (kept_rows_path), whoever wrote them (a shard
    job or the pool command): its own, else those of the shard that held the image when
    the shard count was another power of two. So the work stays proportional to what
    changed, wherever shard boundaries fall. Each row comes with the time its file was
    written (current.is_current compares outputs against it)."""

    def __init__(self, manifest: str | os.PathLike) -> None:
        kept = kept_rows_path(manifest)
        self.folder = kept.parent
        self.rows = read_manifest(kept)
        self.written = written_at(kept)
        own = SHARD_NAME.match(kept.stem)
        self.counts = sorted(
            {int(m[2]) for p in _listing(self.folder) if (m := SHARD_NAME.match(p[:-4]))}
            - ({int(own[2])} if own else set())
        )
        self.loaded: dict[str, tuple[dict[str, Row], int]] = {}

    @classmethod
    def anywhere(cls, folder: str) -> "PreviousRows":
        """The rows kept in a folder for any shard count (a per-image job: no shard)."""
        return cls(shard_rows_path(folder, "none"))

    def get(self, rel: str, key: str) -> tuple[Row, int] | None:
        """The row of input ``rel`` (its plan key ``key``) and when it was written, or
        None."""
        if (row := self.rows.get(rel)) is not None:
            return row, self.written
        for count in self.counts:
            name = shard_name(shard_of(key, count), count)
            if name not in self.loaded:
                path = self.folder / f"{name}.csv"
                self.loaded[name] = read_manifest(path), written_at(path)
            rows, written = self.loaded[name]
            if (row := rows.get(rel)) is not None:
                return row, written
        return None


def written_at(path: str | os.PathLike) -> int:
    """When the file was last written (mtime in ns), 0 if it is not there."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _listing(folder: Path) -> list[str]:
    try:
        return [n for n in os.listdir(folder) if n.endswith(".csv")]
    except OSError:
        return []


def kept_rows_path(manifest: str | os.PathLike) -> Path:
    """Where a shard job keeps its rows for the next run: Snakemake deletes a job's declared
    output before it runs the job again (and after it fails), so the rows the job compares
    against live beside it, a hard link to the manifest (or, after a bad image stopped the
    job, the rows of the images it did make)."""
    path = Path(manifest)
    return path.parent.parent / Path(KEPT_ROWS).name / path.name


def fetch_previous(kept: Path, keys: Iterable[str]) -> None:
    """A bucket folder's shard job on a node without the folder's local side, whose shard
    the bucket keeps no rows for (the shard count just changed): the rows of the other
    counts that held its members (``keys``), which PreviousRows reads, come from the bucket,
    so that the job remakes nothing current. (Where the local side is, take_rows brought
    them at the run's start.)"""
    folder = kept.parent.parent.parent
    if remote(folder) is None or kept.exists() or _listing(kept.parent):
        return
    own = SHARD_NAME.match(kept.stem)
    listed = set(listed_under(folder, KEPT_ROWS, fresh=True))
    counts = {int(m[2]) for rel in listed if (m := SHARD_NAME.match(rel[:-4]))}
    keys = list(keys)
    for count in counts - ({int(own[2])} if own else set()):
        for name in sorted({shard_name(shard_of(key, count), count) for key in keys}):
            if f"{name}.csv" in listed:
                fetch_rows(kept.parent / f"{name}.csv")


def keep_rows(manifest: str | os.PathLike, made: bool = True, kept: Path | None = None) -> None:
    """Link the finished manifest as the shard's kept rows (a copy where links fail); a
    bucket folder's are a copy, put in the bucket (bucket_side.push_rows dates it), unless
    the job ``made`` nothing and the rows are those kept: then they keep their date, and
    another working directory finds nothing new to take. ``kept``: where (default: beside
    the manifest, kept_rows_path)."""
    kept = kept or kept_rows_path(manifest)
    if remote(kept) is None:
        link_atomically(manifest, kept)
        return
    text = Path(manifest).read_bytes()
    if made or not _holds(kept, text):
        write_atomically(kept, text)
        push_rows(kept)


def remove_other_shards(output_dir: str, names: Iterable[str]) -> None:
    """Once every current shard's rows are made, those of an earlier shard count are
    no longer needed."""
    keep = {f"{name}.csv" for name in names}
    for folder in (SHARD_ROWS, KEPT_ROWS):
        for name in _listing(Path(output_dir, folder)):
            if name not in keep and SHARD_NAME.match(name[:-4]):
                Path(output_dir, folder, name).unlink(missing_ok=True)
    if (bucket := remote(output_dir)) is not None:  # and their copies in the bucket
        for rel in listing(output_dir):
            folder, _, name = rel.rpartition("/")
            if folder == KEPT_ROWS and name not in keep and SHARD_NAME.match(name[:-4]):
                bucket.delete(rel)


def keep_shard_rows(
    output_dir: str,
    shards: Mapping[str, list[str]],
    rows: Iterable[Row],
    fresh: Collection[str] | None = None,
) -> None:
    """The one place a run keeps what it made, whichever path: each shard's rows where a
    shard job reads them (kept_rows_path), so that the next run of either path sees what
    is in the folder; also what a stopped shard job or pool run did make. A shard whose
    rows now differ from its declared rows loses that file: Snakemake runs the shard
    again, and its job redoes exactly the members that are not current for its settings.
    A bucket folder's go to the bucket too, those of a shard whose rows changed or that
    has an output made by this run (``fresh``; None: every shard may have)."""
    by_output = {row.output: row for row in rows}
    bucket = remote(output_dir) is not None
    for name, outputs in shards.items():
        members = [by_output[out] for out in outputs if out in by_output]
        if not members:
            continue
        manifest = Path(shard_rows_path(output_dir, name))
        text = manifest_text(members)
        kept = kept_rows_path(manifest)
        untouched = fresh is not None and not any(out in fresh for out in outputs)
        if bucket and untouched and _holds(kept, text):
            continue  # nothing made, nothing changed: no request
        same = _holds(manifest, text)
        write_atomically(kept, text)  # newer than the outputs just made
        if bucket:
            push_rows(kept)
        if not same:
            manifest.unlink(missing_ok=True)


def _holds(path: Path, text: bytes) -> bool:
    try:
        return path.read_bytes() == text
    except OSError:
        return False
