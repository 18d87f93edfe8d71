"""The Hugging Face ``imagefolder`` metadata file: ``metadata.csv`` beside each variant's
``manifest.csv``, one row per made image, its ``file_name`` relative to the file's own
folder, so that ``datasets.load_dataset("imagefolder", data_dir=<folder>)`` loads the
outputs with their columns. Written from the manifest just written, as a stream (both the
workflow's manifest rule and the pool command call it), so it agrees with the manifest
byte for byte in either path."""

import csv
import os
from collections.abc import Iterator
from itertools import chain

from imageprep.folder.layout import METADATA_CSV  # noqa: F401 - imported from here too
from imageprep.folder.manifest import COLUMNS, ENCODING, csv_lines
from imageprep.image.atomic import atomic_writer

# file_name is imagefolder's own column (the image); the rest become the dataset's columns.
FIELDS = ("file_name", "input", "width", "height", "input_width", "input_height", "sha256")
_FROM = {"file_name": "output"}


def write_metadata(manifest: str | os.PathLike, path: str | os.PathLike) -> None:
    """The metadata file of the made images (status ok) of ``manifest``."""
    picks = [COLUMNS.index(_FROM.get(field, field)) for field in FIELDS]
    status = COLUMNS.index("status")

    def made(reader: Iterator[list[str]]) -> Iterator[list[str]]:
        for cells in reader:
            cells += [""] * (len(COLUMNS) - len(cells))  # a row of an earlier release
            if cells[status] == "ok":
                yield [cells[i] for i in picks]

    with open(manifest, newline="", **ENCODING) as fh, atomic_writer(path) as out:
        reader = csv.reader(fh)
        next(reader, None)
        for line in csv_lines(chain([FIELDS], made(reader))):
            out.write(line.encode(**ENCODING))
