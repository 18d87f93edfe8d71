"""Rule manifest: the run's ``manifest.csv`` (and ``failed.tsv`` in skip mode) from what the
resize jobs declared: the shards' rows, merged as a stream, or for the per-image rule a row
read back from each image. Run as a command (workflow/scripts/merge.py), not a
``run:`` block: Snakemake runs those in a process of their own that parses the workflow,
and so scans the input folder, again.
"""

import argparse
import sys
from pathlib import Path

from .diagnose import OutputError
from .manifest import Row, image_row, iter_manifest, merge_shard_rows
from .records import read_record, record_path
from .shards import (
    PLANS,
    read_plan_file,
    record_rows,
    remove_other_shards,
    run_shards,
    shard_rows_path,
)
from .spec import ResizeSpec


def per_image_rows(images: str, dirs: tuple[str, str], spec: ResizeSpec, skip: bool):
    """Rows of the per-image rule's images, read back from disk (in skip mode, from each
    image's record too)."""
    for rel, out in read_plan_file(images):
        reason = read_record(record_path(dirs[1], out))[2] if skip else ""
        yield image_row(dirs, rel, out, spec, reason)


def shard_rows_files(output_dir: str) -> list[str]:
    """The current shards' rows: one file per plan file (the main Snakemake process keeps
    exactly the current shards' plan files). Listed here rather than passed on the command
    line, which has room for a few thousand paths only."""
    names = sorted(p.stem for p in Path(output_dir, PLANS).glob("*.csv"))
    return [shard_rows_path(output_dir, name) for name in names]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spec", required=True, help="ResizeSpec as JSON")
    p.add_argument("--dirs", nargs=2, required=True, metavar=("INPUT_DIR", "OUTPUT_DIR"))
    p.add_argument("--rule", choices=["shards", "per-image"], required=True, help="what ran")
    p.add_argument("--on-error", choices=["fail", "skip"], required=True)
    p.add_argument("--refused", required=True, help="rows of the inputs refused up front")
    p.add_argument("--images", nargs="*", default=[], help="per-image rule: the images' plan")
    p.add_argument("--manifest", required=True)
    p.add_argument("--failed", nargs="*", default=[], help="on_error: skip: failed.tsv")
    args = p.parse_args(argv)
    dirs = (args.dirs[0], args.dirs[1])
    per_image, skip = args.rule == "per-image", args.on_error == "skip"
    try:
        extra = list(iter_manifest(args.refused))
        made: list[Row] = []
        if per_image:
            spec = ResizeSpec.from_json(args.spec)
            made = list(per_image_rows(args.images[0], dirs, spec, skip))
        shards = [] if per_image else shard_rows_files(dirs[1])
        failed = args.failed[0] if skip else None
        count = merge_shard_rows(shards, extra + made, args.manifest, failed, dirs[0])
        if made:  # the per-image rule's rows, where the folder's one bookkeeping keeps them
            record_rows(dirs[1], run_shards([row.output for row in made], 1), made)
    except OutputError as exc:  # the environment's: cannot write
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # a part that cannot be read: a broken run folder
        print(f"error: cannot merge the manifest: {exc}", file=sys.stderr)
        return 1
    if shards:
        remove_other_shards(dirs[1], [Path(part).stem for part in shards])
    print(f"{args.manifest}: {count} images", file=sys.stderr)
    return 0
