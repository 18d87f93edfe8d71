"""Rule manifest: the run's ``manifest.csv`` (and ``failed.tsv`` in skip mode) from what the
resize jobs declared: the shards' rows, merged as a stream, or for the per-image rule a row
read back from each image. Run as a command (workflow/scripts/merge.py), not a
``run:`` block: Snakemake runs those in a process of their own that parses the workflow,
and so scans the input folder, again.
"""

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from imageprep.folder.bucket_side import pull_rows, remote
from imageprep.folder.layout import KEPT_ROWS, PLANS, ROWS_AT_START
from imageprep.folder.manifest import (
    MANIFEST_CSV,
    Row,
    iter_manifest,
    merge_shard_rows,
    read_manifest,
)
from imageprep.folder.records import FAILED_TSV
from imageprep.folder.variants import CONTAINERS, Variant, from_json
from imageprep.image.atomic import write_atomically
from imageprep.image.diagnose import OutputError
from imageprep.run.finish import finish_folder
from imageprep.run.per_image import keep_per_image_rows, per_image_rows
from imageprep.run.shards import (
    refused_rows_path,
    shard_rows_path,
)


def shard_rows_files(output_dir: str, folder: str, root: str = "") -> list[str]:
    """A variant's rows of the current shards: one file per plan file (the main Snakemake
    process keeps exactly the current shards' plan files), under ``root`` (a default
    storage provider's local copies). Listed here rather than passed on the command line,
    which has room for a few thousand paths only."""
    names = sorted(p.stem for p in Path(output_dir, PLANS).glob("*.csv"))
    return [root + shard_rows_path(folder, name) for name in names]


def made_elsewhere(folder: str) -> int:
    """A bucket folder's run with a default storage provider, whose shard jobs may have run
    where its local side is not: the rows they kept come down from the bucket
    (bucket_side.pull_rows), and the images they made are the rows, made, that are not as
    the run began (bucket_side.mark_start). (Their logs may be on the nodes alone.)"""
    pull_rows(folder, fresh=True)
    start = Path(folder, ROWS_AT_START)
    changed = [
        path
        for path in Path(folder, KEPT_ROWS).glob("*.csv")
        if not ((start / path.name).exists() and os.path.samefile(path, start / path.name))
    ]  # (one not replaced since made nothing)
    if not changed:
        return 0
    before: dict[str, Row] = {}  # by input, whatever shard count held it
    for old in start.glob("*.csv"):
        before.update(read_manifest(old))
    rows = (row for path in changed for row in read_manifest(path).values())
    return sum(row.status == "ok" and before.get(row.input) != row for row in rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spec", required=True, help="a ResizeSpec, or [[variant, spec], ...], as JSON")
    p.add_argument("--dirs", nargs=2, required=True, metavar=("INPUT_DIR", "OUTPUT_DIR"))
    p.add_argument("--rule", choices=["shards", "per-image", "per-image-rows"], required=True)
    p.add_argument("--on-error", choices=["fail", "skip"], required=True)
    p.add_argument("--images", nargs="*", default=[], help="per-image rule: the images' plan")
    p.add_argument("--report", metavar="DIR", help="also each variant's report files, in DIR")
    p.add_argument("--container", choices=CONTAINERS, default="files")
    p.add_argument(
        "--rows-root", default="", help="where the shards' rows are, before their declared path"
    )
    args = p.parse_args(argv)
    dirs = (args.dirs[0], args.dirs[1])
    variants = from_json(args.spec, args.container)
    per_image, skip = args.rule != "shards", args.on_error == "skip"
    try:
        # the shard jobs ran where this folder's local side is not (a default storage
        # provider): what they made, before their rows come down
        elsewhere = [
            made_elsewhere(variant.folder(dirs[1]))
            for variant in variants
            if args.rows_root and remote(variant.folder(dirs[1])) is not None
        ]
        made: list[list[Row]] = [[] for _ in variants]
        if per_image:
            made = per_image_rows(args.images[0], dirs, variants, skip, args.rule != "per-image")
        counts, stale = [], 0
        for variant, variant_rows in zip(variants, made, strict=True):
            count, variant_stale = merge_variant(
                dirs, variant, variant_rows, skip, per_image, args.rows_root
            )
            counts.append(count)
            stale += variant_stale
        if args.report:
            from imageprep.folder.closing import record_counts
            from imageprep.folder.run_report import write_report

            reported = [
                write_report(variant.folder(dirs[1]), args.report, variant) for variant in variants
            ]
            counts_now = {**reported[0], "stale": stale}
            if elsewhere:  # (the report counts what changed since the last report here)
                done = counts_now.get("made", 0) + counts_now.get("current", 0)
                counts_now.update(made=elsewhere[0], current=done - elsewhere[0])
            record_counts(dirs[1], counts_now)  # closing.py's
    except OutputError as exc:  # the environment's: cannot write
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # a part that cannot be read: a broken run folder
        print(f"error: cannot merge the manifest: {exc}", file=sys.stderr)
        return 1
    for variant, count in zip(variants, counts, strict=True):
        folder = variant.folder(dirs[1])
        summary = ", ".join(f"{n} {status}" for status, n in sorted(count.items()))
        print(f"{folder}/{MANIFEST_CSV}: {sum(count.values())} images ({summary})", file=sys.stderr)
    return 0


def merge_variant(
    dirs: tuple[str, str],
    variant: Variant,
    made: list[Row],
    skip: bool,
    per_image: bool,
    rows_root: str = "",
) -> tuple[Counter, int]:
    """One variant's manifest.csv (and failed.tsv in skip mode) from its shards' rows, or
    the per-image rule's rows, and the inputs refused up front, then the folder finished
    (finish.finish_folder); counts by status, and the stale count. ``rows_root``: the
    shards' rows are under a default storage provider's local copies."""
    folder = variant.folder(dirs[1])
    extra = list(iter_manifest(refused_rows_path(folder)))
    shards = [] if per_image else shard_rows_files(dirs[1], folder, rows_root)
    failed = f"{folder}/{FAILED_TSV}" if skip else None
    counts: Counter = Counter()
    manifest = f"{folder}/{MANIFEST_CSV}"
    merge_shard_rows(shards, extra + made, manifest, failed, dirs[0], counts)
    if rows_root:  # what the storage holds, here too: the next run compares (storage_mirror)
        for part in shards:
            write_atomically(part[len(rows_root) :], Path(part).read_bytes())
    if made:
        keep_per_image_rows(folder, variant, made)
    names = [Path(part).stem for part in shards]
    return counts, finish_folder(folder, variant, names or None)
