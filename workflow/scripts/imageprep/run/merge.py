"""Rule manifest: the run's ``manifest.csv`` (and ``failed.tsv`` in skip mode) from what the
resize jobs declared: the shards' rows, merged as a stream, or for the per-image rule a row
read back from each image. Run as a command (workflow/scripts/merge.py), not a
``run:`` block: Snakemake runs those in a process of their own that parses the workflow,
and so scans the input folder, again.
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

from imageprep.folder.layout import PLANS
from imageprep.folder.manifest import MANIFEST_CSV, Row, iter_manifest, merge_shard_rows
from imageprep.folder.records import FAILED_TSV
from imageprep.folder.variants import CONTAINERS, Variant, from_json
from imageprep.image.diagnose import OutputError
from imageprep.run.finish import finish_folder
from imageprep.run.per_image import keep_per_image_rows, per_image_rows
from imageprep.run.shards import (
    refused_rows_path,
    shard_rows_path,
)


def shard_rows_files(output_dir: str, folder: str) -> list[str]:
    """A variant's rows of the current shards: one file per plan file (the main Snakemake
    process keeps exactly the current shards' plan files). Listed here rather than passed
    on the command line, which has room for a few thousand paths only."""
    names = sorted(p.stem for p in Path(output_dir, PLANS).glob("*.csv"))
    return [shard_rows_path(folder, name) for name in names]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spec", required=True, help="a ResizeSpec, or [[variant, spec], ...], as JSON")
    p.add_argument("--dirs", nargs=2, required=True, metavar=("INPUT_DIR", "OUTPUT_DIR"))
    p.add_argument("--rule", choices=["shards", "per-image", "per-image-rows"], required=True)
    p.add_argument("--on-error", choices=["fail", "skip"], required=True)
    p.add_argument("--images", nargs="*", default=[], help="per-image rule: the images' plan")
    p.add_argument("--report", metavar="DIR", help="also each variant's report files, in DIR")
    p.add_argument("--container", choices=CONTAINERS, default="files")
    args = p.parse_args(argv)
    dirs = (args.dirs[0], args.dirs[1])
    variants = from_json(args.spec, args.container)
    per_image, skip = args.rule != "shards", args.on_error == "skip"
    try:
        made: list[list[Row]] = [[] for _ in variants]
        if per_image:
            made = per_image_rows(args.images[0], dirs, variants, skip, args.rule != "per-image")
        counts, stale = [], 0
        for variant, variant_rows in zip(variants, made, strict=True):
            count, variant_stale = merge_variant(dirs, variant, variant_rows, skip, per_image)
            counts.append(count)
            stale += variant_stale
        if args.report:
            from imageprep.folder.closing import record_counts
            from imageprep.folder.run_report import write_report

            reported = [
                write_report(variant.folder(dirs[1]), args.report, variant) for variant in variants
            ]
            record_counts(dirs[1], {**reported[0], "stale": stale})  # closing.py's
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
    dirs: tuple[str, str], variant: Variant, made: list[Row], skip: bool, per_image: bool
) -> tuple[Counter, int]:
    """One variant's manifest.csv (and failed.tsv in skip mode) from its shards' rows, or
    the per-image rule's rows, and the inputs refused up front, then the folder finished
    (finish.finish_folder); counts by status, and the stale count."""
    folder = variant.folder(dirs[1])
    extra = list(iter_manifest(refused_rows_path(folder)))
    shards = [] if per_image else shard_rows_files(dirs[1], folder)
    failed = f"{folder}/{FAILED_TSV}" if skip else None
    counts: Counter = Counter()
    manifest = f"{folder}/{MANIFEST_CSV}"
    merge_shard_rows(shards, extra + made, manifest, failed, dirs[0], counts)
    if made:
        keep_per_image_rows(folder, variant, made)
    names = [Path(part).stem for part in shards]
    return counts, finish_folder(folder, variant, names or None)
