"""The per-image rule (images_per_job: 1, one Snakemake job per image), where it differs
from the shard jobs, in one place: its jobs take a list of paths and declare each image
(on_error: skip, its outcome record, records.py), or with variants or filters, take names
and declare each image's rows; and rule manifest reads their rows back. What such a job
declares is startup.Startup.declared; its images still go through the one runner."""

import contextlib
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from imageprep.folder.current import WorkItem, assess
from imageprep.folder.manifest import Row, iter_manifest, write_manifest
from imageprep.folder.records import image_rows_path, read_record, record_path, write_record
from imageprep.folder.rows import image_row
from imageprep.folder.stale import withdraw
from imageprep.folder.variants import Variant, Variants
from imageprep.folder.writers import writer_for
from imageprep.image.bucket import is_bucket
from imageprep.image.diagnose import OutputError
from imageprep.run.plan_files import read_plan
from imageprep.run.runner import Tried, run_images
from imageprep.run.shards import PreviousRows, group_into_shards, keep_shard_rows


def run_jobs(
    srcs: Sequence[str],
    dsts: Sequence[str],
    logs: Sequence[str] | None,
    variants: Variants,
    records: Sequence[str] | None = None,
    stop: threading.Event | None = None,
    output_dir: str | None = None,
) -> int:
    """Resize each src to its dst (under ``output_dir``), one log per image (or stderr).

    Without ``records`` (on_error: fail) the first bad image ends the job with status 1. With
    them (on_error: skip) every image gets a record, ok or failed with the reason, and the
    job succeeds: the records, not the images, are then what the rule declares. A failure of
    the environment (full disk, read-only folder) ends the job with status 1 in both modes.
    """
    skip = bool(records)
    items = [
        WorkItem.anew(i, src, [dst]) for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True))
    ]
    if output_dir:
        withdraw(output_dir)  # the folder is changing (stale.py)
    sinks = [variants[0].writer.open("")]  # the paths as given
    tried = run_images(items, "", sinks, variants, skip, stop or threading.Event())

    def record(one: Tried) -> None:
        if records:
            write_record(records[one.index], srcs[one.index], one.rows[0].reason or None)

    return _finish(tried, logs, skip, record, len(items))


def _finish(
    tried: list[Tried],
    logs: Sequence[str] | None,
    skip: bool,
    record: Callable[[Tried], None],
    asked: int,
) -> int:
    """Each image's line to its log (or stderr; a failed image is said on stderr too), then
    ``record(image)``: 1 at a failure of the environment, or a bad image in fail mode; 130
    when the job was stopped before all ``asked`` images were tried (what was made stays)."""
    try:
        for one in tried:
            if one.fatal:
                print(f"error: {one.fatal}", file=sys.stderr)
                return 1
            failed = one.failed
            with open(logs[one.index], "w") if logs else contextlib.nullcontext(sys.stderr) as log:
                if logs or failed is None:
                    print(one.line, file=log)
            if failed is not None:
                print(f"skipped: {one.line[7:]}" if skip else one.line, file=sys.stderr)
                if not skip:
                    return 1
            record(one)
    except (OutputError, OSError) as exc:  # OSError: a log that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0 if len(tried) == asked else 130


def run_image_rows(
    names: Sequence[str],
    dirs: tuple[str, str],
    variants: Variants,
    declared: Sequence[str],
    logs: Sequence[str] | None,
    skip: bool,
    stop: threading.Event | None = None,
) -> int:
    """The per-image rule with variants or filters: each image's variants not current in
    the folder's rows are made (decoded once), and the image's rows, one per variant, are
    its declared file (a filtered image has no output to declare)."""
    folders = [v.folder(dirs[1]) for v in variants]
    for folder in folders:
        withdraw(folder)  # the folder is changing (stale.py)
    previous = [PreviousRows.anywhere(folder) for folder in folders]
    items: list[WorkItem] = []
    for index, rel in enumerate(names):
        key = variants[0].key(rel, variants[0].output(rel))  # the plan's key: shards are by it
        found = [p.get(rel, key) for p in previous]
        item = assess(index, rel, dirs[0], found, folders, variants, skip)
        if not item.done:
            items.append(item)
        else:  # every variant current (its rows file was lost): the rows again, no decode
            write_manifest(declared[index], item.current, sort=False)
    sinks = [v.writer.open(folder) for v, folder in zip(variants, folders, strict=True)]
    tried = run_images(items, dirs[0], sinks, variants, skip, stop or threading.Event())
    current = {item.index: item.current for item in items}

    def record(one: Tried) -> None:
        rows = [new or old for new, old in zip(one.rows, current[one.index], strict=True)]
        write_manifest(declared[one.index], rows, sort=False)

    return _finish(tried, logs, skip, record, len(items))


def per_image_rows(
    images: str, dirs: tuple[str, str], variants: Variants, skip: bool, declares_rows: bool
) -> list[list[Row]]:
    """Each variant's rows of the per-image rule's images: read from each image's declared
    rows (with variants or filters), else read back from its output (and in skip mode its
    record)."""
    made: list[list[Row]] = [[] for _ in variants]
    for rel, key in read_plan(images)[0]:
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


def keep_per_image_rows(folder: str, variant: Variant, made: list[Row]) -> None:
    """The rule's rows, where the folder's one bookkeeping keeps them: in automatic shards
    (startup.Startup.row_shards), as the pool keeps its own."""
    outs = {variant.key(row.input, row.output): row.output for row in made}
    groups = group_into_shards(outs, 1).items()
    keep_shard_rows(folder, {name: [outs[k] for k in keys] for name, keys in groups}, made)


def per_image_refusal(config: Mapping[str, Any]) -> str | None:
    """Why the per-image rule cannot run this config (it declares each image to Snakemake
    as a local file, and makes one image a job), or None."""
    container = config["container"]
    if writer_for(container).per_shard:
        return (
            f"container: {container} needs shard jobs (images_per_job other than 1): it "
            "writes a shard's images whole, which one job per image cannot"
        )
    for key in ("input_dir", "output_dir"):
        if is_bucket(config[key]):
            return (
                f"{key}: a bucket needs shard jobs (images_per_job other than 1): the "
                "per-image rule declares each image to Snakemake as a local file"
            )
    return None
