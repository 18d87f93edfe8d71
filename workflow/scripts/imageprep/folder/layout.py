"""Where an output folder keeps what: every file imageprep writes in an output folder besides
the outputs themselves, named here and nowhere else. Paths are relative to the folder: the
output_dir for what a run keeps once (lock, plans, logs), each variant's folder for what is
per variant (manifest, rows). docs/development.md, "Where things go", says what each holds.

An output folder in a bucket (``output_dir: s3://bucket/prefix``) keeps its outputs, its
manifest and its kept rows in the bucket, and everything else (what Snakemake declares and
compares: plan files, shard rows; logs) in its **local side**, a folder of the working
directory named after the bucket and prefix (:func:`local_side`): the rest of imageprep
sees that folder as the output folder, and the writers send what they keep to the bucket.
"""

import functools
import os
from pathlib import Path

from imageprep.image.bucket import SCHEME

# Beside the outputs, for a loader and for you.
MANIFEST_CSV = "manifest.csv"  # one row per image (manifest.py)
METADATA_CSV = "metadata.csv"  # Hugging Face imagefolder's (metadata.py)
FAILED_TSV = "failed.tsv"  # on_error: skip, the images skipped (records.py)

# Hidden: loaders that skip hidden folders (Hugging Face, glob.glob) never see these.
OWN = ".imageprep"
LOCK = f"{OWN}/lock"  # one run per folder (folder_lock.py)
PLANS = f"{OWN}/plans"  # a plan file per shard (run/shards.py)
SHARD_ROWS = f"{OWN}/shards"  # each shard job's declared rows
KEPT_ROWS = f"{OWN}/rows"  # the rows the next run compares against
REFUSED_ROWS = f"{OWN}/refused.csv"  # rows of inputs refused before any job
REFUSED_LIST = f"{OWN}/refused-inputs.tsv"  # the same inputs, as the error message lists them
IMAGES_LIST = f"{OWN}/images.tsv"  # the per-image rule: every image, for the manifest job
IMAGE_ROWS = f"{OWN}/images"  # the per-image rule with variants or filters: rows per image
RECORDS = OWN  # the per-image rule in skip mode: an outcome record per image (records.py)
LAST_RUN = f"{OWN}/last-run.json"  # the manifest job's counts, for the closing line
REPORTED = f"{OWN}/reported-manifest.csv"  # the manifest the last report saw
REPORTED_SAMPLE = f"{OWN}/reported-sample.tsv"  # the outputs on the last contact sheet
REPORTED_SHEET = f"{OWN}/reported-contact-sheet"  # that sheet, a JPEG (no suffix: no glob finds it)
LISTED = f"{OWN}/listed-manifest.csv"  # the last manifest written (stale.py)
STALE = f"{OWN}/stale.tsv"  # made earlier, listed no more (stale.py)
LOGS, BENCHMARKS, REPORTS = f"{OWN}/logs", f"{OWN}/benchmarks", f"{OWN}/reports"  # standalone
SPOOL = f"{OWN}/spool"  # a bucket folder's objects (tars) in hand, one file each
ROWS_AT_START = f"{OWN}/rows-at-start"  # with a default storage provider: KEPT_ROWS as a run began
BUCKET_SIDES = ".imageprep-buckets"  # local sides of output folders in buckets (cwd)


def local_side(url: str) -> str:
    """Where an output folder in a bucket keeps what is not in the bucket."""
    return os.path.normpath(f"{BUCKET_SIDES}/{url[len(SCHEME) :]}")


def output_folder(output_dir: str) -> str:
    """config's output_dir as the folder imageprep works in: normalised, or a bucket
    folder's local side."""
    if output_dir.startswith(SCHEME):
        return local_side(output_dir.rstrip("/"))
    return os.path.normpath(output_dir)


def shown(folder: str | os.PathLike) -> str:
    """A folder as the user names it: a local side's bucket URL, else the path."""
    return bucket_url(folder) or os.fspath(folder)


def bucket_url(folder: str | os.PathLike) -> str | None:
    """The bucket folder a local side stands for (s3://bucket/prefix), None for a local
    folder: found from the path itself, so every process (a job on a node) agrees."""
    return _bucket_url(os.fspath(folder))


@functools.lru_cache(maxsize=256)  # asked per image (writers' output_file): a few folders
def _bucket_url(folder: str) -> str | None:
    parts = Path(folder).parts
    if BUCKET_SIDES not in parts:
        return None
    rest = parts[parts.index(BUCKET_SIDES) + 1 :]
    return SCHEME + "/".join(rest) if rest else None
