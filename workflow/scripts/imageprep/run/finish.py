"""Finishing an output folder, one way for both paths: once its manifest.csv is written
(rule manifest merges the shard jobs' rows, merge.py; the pool writes the rows it holds,
:func:`finish_pool_run`), its writer adds what goes with it (metadata.csv; another shard
count's tars removed), the rows of another shard count are dropped, and what the new
manifest no longer lists is noted as stale (stale.py)."""

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from imageprep.folder.bucket_side import publish
from imageprep.folder.manifest import MANIFEST_CSV, Row, write_manifest
from imageprep.folder.records import FAILED_TSV
from imageprep.folder.stale import settle, withdraw
from imageprep.folder.variants import Variant, Variants
from imageprep.image.diagnose import OutputError
from imageprep.run.shards import keep_shard_rows, remove_other_shards


def finish_folder(folder: str, variant: Variant, shards: Collection[str] | None) -> int:
    """After ``folder``'s manifest.csv is written: ``shards``, the run's shard names (None:
    the per-image rule's folder, kept in no shard count); returns how many files earlier
    manifests listed that this one does not."""
    if shards is not None:
        remove_other_shards(folder, shards)  # rows of another shard count are out of date
    variant.writer.finish_folder(folder, shards)
    stale = settle(folder)
    # a bucket folder's: what goes with the manifest first, the manifest last
    beside = [Path(path).name for path in variant.writer.folder_files(folder)]
    publish(folder, [*beside, FAILED_TSV, MANIFEST_CSV])
    return stale


def variant_shards(
    shards: Mapping[str, list[str]], keys: Mapping[str, str], variant: Variant
) -> dict[str, list[str]]:
    """The shards (of plan keys) as one variant's outputs."""
    return {name: [variant.output(keys[k]) for k in members] for name, members in shards.items()}


def finish_pool_run(
    output_dir: str,
    variants: Variants,
    shards: Mapping[str, list[str]],
    keys: Mapping[str, str],
    rows: Sequence[list[Row]],
    complete: bool = True,
    fresh: Sequence[Collection[str]] | None = None,
) -> int:
    """What a pool run made, where the next run of either path reads it: each variant's
    shards' rows, and when the run is ``complete`` its manifest.csv and the rest of
    :func:`finish_folder`; returns the stale count. A run that stops early (a bad image, a
    dead worker, Ctrl-C) keeps its rows only, best effort: it is failing already, and a
    full disk must not hide why; and it leaves no manifest, which a loader would take for
    the whole folder. ``fresh``: each variant's outputs made by this run (a bucket folder
    puts the rows of those shards only)."""
    stale = 0
    try:
        for i, (variant, variant_rows) in enumerate(zip(variants, rows, strict=True)):
            folder = variant.folder(output_dir)
            made = fresh[i] if fresh is not None else None
            keep_shard_rows(folder, variant_shards(shards, keys, variant), variant_rows, made)
            if not complete:
                withdraw(folder)
                continue
            write_manifest(Path(folder, MANIFEST_CSV), variant_rows)
            stale += finish_folder(folder, variant, shards)
    except (OutputError, OSError):
        if complete:
            raise
    return stale
