"""container: files (the default): each output is a file in its variant's folder, written
atomically as soon as it is made, and a complete folder has Hugging Face's metadata.csv."""

import contextlib
import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from imageprep.folder.bucket_side import remote
from imageprep.folder.layout import METADATA_CSV, bucket_url
from imageprep.folder.manifest import MANIFEST_CSV, Row
from imageprep.folder.metadata import write_metadata
from imageprep.image.atomic import write_atomically
from imageprep.image.diagnose import ImageError, OutputError, SourceError
from imageprep.image.spec import ResizeSpec
from imageprep.image.transform import Attempt, Target, resize_variants


class FileSink:
    """Outputs written as files under ``folder`` ("": the paths as given), or, for the local
    side of a bucket folder, put as objects in the bucket, each whole."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.bucket = remote(folder) if folder else None

    def where(self, out: str) -> str:
        if self.bucket is not None:
            return f"{self.bucket.url}/{out}"
        return f"{self.folder}/{out}" if self.folder else out

    def confirm(self, current: Sequence[Row | None]) -> list[Row | None]:
        # current.is_current has checked each file already; a bucket's, the run's listing
        # (plan_files.recheck_outputs) before its rows were read
        return list(current)

    def put(self, out: str, data: bytes) -> None:
        if self.bucket is not None:
            self.bucket.put(out, data)
        else:
            write_atomically(self.where(out), data)

    def discard(self, out: str) -> None:
        """An old output made from an earlier version of the input no longer matches it."""
        if self.bucket is not None:
            self.bucket.delete(out)
            return
        try:
            Path(self.where(out)).unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(self.where(out), exc.strerror or str(exc)) from None

    def close(self, rows: list[Row], complete: bool) -> list[Row]:
        return rows  # every file is on disk already, a stopped shard's too


class Files:
    name = "files"
    per_shard = False
    unique_names = False

    def output(self, rel: str, out: str) -> str:
        return out

    def stored_in(self, shard: str, out: str) -> str:
        return out

    def holds(self, row: Row) -> bool:
        return not row.tar

    def output_file(self, folder: str, out: str) -> Path | None:
        return None if bucket_url(folder) else Path(folder, out)  # a bucket's: listed

    def open(self, folder: str, shard: str = "") -> FileSink:
        return FileSink(folder)

    def folder_files(self, folder: str) -> list[str]:
        return [f"{folder}/{METADATA_CSV}"]

    def finish_folder(self, folder: str, shards: Collection[str] | None) -> None:
        write_metadata(f"{folder}/{MANIFEST_CSV}", f"{folder}/{METADATA_CSV}")

    def refuse(self, outputs: Iterable[str]) -> str | None:
        return None

    def read(self, folder: str, outputs: Sequence[tuple[str, str]]) -> dict[str, bytes]:
        found = {}
        bucket = remote(folder)
        for out, _ in outputs:
            with contextlib.suppress(OSError, SourceError):  # gone since the manifest
                found[out] = bucket.get(out) if bucket else Path(folder, out).read_bytes()
        return found


FILES = Files()


def make_files(
    src: str | os.PathLike,
    targets: Sequence[Target],
    shared: bool = False,
    notes: list[str] | None = None,
) -> Attempt:
    """One image's outputs as files (``targets``: (path, spec) per output), through the one
    transform, each written atomically: what the benchmark's engines and the studies make.
    Raises as transform.resize_variants (then nothing is written), and OutputError."""
    attempt = resize_variants(src, targets, notes, shared=shared)
    for (dst, _), made in zip(targets, attempt.outputs, strict=True):
        if dst is not None and made is not None and made.data is not None:
            write_atomically(dst, made.data)
            made.data = None
    return attempt


def resize_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    spec: ResizeSpec,
    notes: list[str] | None = None,
) -> tuple[int, int]:
    """Resize one image file to ``dst`` as ``spec`` says (the format ``dst``'s extension
    names); returns the output (width, height). Raises ImageError naming the file for
    anything wrong with the input (nothing is written then), OutputError when ``dst``
    cannot be written."""
    made = make_files(src, [(dst, spec)], notes=notes).outputs[0]
    if made is None or made.size is None:
        raise ImageError(Path(src), made.filtered if made else "not made")
    return made.size
