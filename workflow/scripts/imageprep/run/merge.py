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
from imageprep.folder.metadata import METADATA_CSV, write_metadata
from imageprep.folder.records import FAILED_TSV, image_rows_path, read_record, record_path
from imageprep.folder.rows import image_row
from imageprep.folder.stale import settle
from imageprep.folder.tars import remove_stale_tars
from imageprep.folder.variants import CONTAINERS, Variant, Variants, from_json
from imageprep.image.diagnose import OutputError
from imageprep.run.shards import (
    group_into_shards,
    keep_shard_rows,
    read_plan_file,
    refused_rows_path,
    remove_other_shards,
    shard_rows_path,
)


def per_image_rows(
    images: str, dirs: tuple[str, str], variants: Variants, skip: bool, declares_rows: bool
) -> list[list[Row]]:
    """Each variant's rows of the per-image rule's images: read from each image's declared
    rows (with variants or filters), else read back from its output (and in skip mode its
    record)."""
    made: list[list[Row]] = [[] for _ in variants]
    for rel, key in read_plan_file(images):
        if declares_rows:
            rows = list(iter_manifest(image_rows_path(dirs[1], key)))
            if len(rows) != len(variants):
                raise ValueError(f"{image_rows_path(dirs[1], key)}: not one row per variant")
        else:
            reason = read_record(record_path(dirs[1], key))[2] if skip else ""
            rows = [image_row(dirs, rel, key, variants[0].spec, reason)]
        for variant_rows, row in zip(made, rows, strict=True):
            variant_rows.append(row)
    return made


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
            counts.append(merge_variant(dirs, variant, variant_rows, skip, per_image))
            stale += settle(variant.folder(dirs[1]))  # what it no longer lists (stale.py)
        if args.report:
            from imageprep.folder.closing import record_counts
            from imageprep.folder.run_report import write_report

            reported = [
                write_report(variant.folder(dirs[1]), args.report, variant.name, variant.spec)
                for variant in variants
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
) -> Counter:
    """One variant's manifest.csv (and failed.tsv in skip mode) from its shards' rows, or
    the per-image rule's rows, and the inputs refused up front; counts by status."""
    folder = variant.folder(dirs[1])
    extra = list(iter_manifest(refused_rows_path(folder)))
    shards = [] if per_image else shard_rows_files(dirs[1], folder)
    failed = f"{folder}/{FAILED_TSV}" if skip else None
    counts: Counter = Counter()
    manifest = f"{folder}/{MANIFEST_CSV}"
    merge_shard_rows(shards, extra + made, manifest, failed, dirs[0], counts)
    if not variant.tars:
        write_metadata(manifest, f"{folder}/{METADATA_CSV}")
    if made:  # the per-image rule's rows, where the folder's one bookkeeping keeps them
        outs = {variant.key(row.input, row.output): row.output for row in made}
        groups = group_into_shards(outs, 1).items()
        keep_shard_rows(folder, {name: [outs[k] for k in keys] for name, keys in groups}, made)
    if shards:
        names = [Path(part).stem for part in shards]
        remove_other_shards(folder, names)
        if variant.tars:  # another shard count's tars
            remove_stale_tars(folder, names)
    return counts
