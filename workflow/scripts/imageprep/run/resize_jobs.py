"""The jobs the Snakemake rules run: a shard's images from its plan file, into its rows
(shard_job.py); or the per-image rule's list of images, one log line each, and in skip mode
one outcome record each (records.py). Both try their images through the one runner
(runner.py), as the pool's workers do."""

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from imageprep.folder.current import current_rows, left_to_make
from imageprep.folder.manifest import Row, write_manifest
from imageprep.folder.records import write_record
from imageprep.folder.rows import input_stat
from imageprep.folder.stale import withdraw
from imageprep.folder.variants import CONTAINERS, Variants, from_json
from imageprep.image.diagnose import OutputError
from imageprep.run.runner import Item, Tried, run_images
from imageprep.run.shard_job import run_shard
from imageprep.run.shards import PreviousRows


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
    items = [(i, src, [dst]) for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True))]
    if output_dir:
        withdraw(output_dir)  # the folder is changing (stale.py)
    tried = run_images(items, None, variants, skip, stop or threading.Event())

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
    items: list[Item] = []
    kept: dict[int, list[Row | None]] = {}
    for index, rel in enumerate(names):
        outs = [v.output(rel) for v in variants]
        key = variants[0].key(rel, outs[0])  # the plan's key: shards are by it
        found = [p.get(rel, key) for p in previous]
        stat = input_stat(f"{dirs[0]}/{rel}")
        kept[index] = current_rows(outs, stat, found, folders, variants, skip)
        todo = left_to_make(kept[index], outs)
        if any(todo):
            items.append((index, rel, todo))
        else:  # every variant current (its rows file was lost): the rows again, no decode
            write_manifest(declared[index], kept[index], sort=False)
    tried = run_images(items, dirs, variants, skip, stop or threading.Event())

    def record(one: Tried) -> None:
        rows = [new or old for new, old in zip(one.rows, kept[one.index], strict=True)]
        write_manifest(declared[one.index], rows, sort=False)

    return _finish(tried, logs, skip, record, len(items))


def stop_on_signals() -> threading.Event:
    """A job's stop: Ctrl-C (SIGINT, which a terminal sends to Snakemake and its jobs alike)
    or SIGTERM (scancel, Snakemake cancelling a job) lets the images in hand finish and
    starts no other, so that the job keeps what it made: no traceback, no lost work."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main(argv: list[str] | None = None) -> int:
    """The command the Snakemake rules run (workflow/scripts/resize_jobs.py): a fresh interpreter
    imports only the transform and Pillow, so a job starts in tens of milliseconds."""
    import argparse

    p = argparse.ArgumentParser(description="Resize images with the imageprep transform.")
    p.add_argument("--spec", required=True, help="a ResizeSpec, or [[variant, spec], ...], as JSON")
    p.add_argument("--dirs", nargs=2, metavar=("INPUT_DIR", "OUTPUT_DIR"))
    p.add_argument("--on-error", choices=["fail", "skip"], default="fail")
    p.add_argument("--container", choices=CONTAINERS, default="files", help="files, or tars")
    shard = p.add_argument_group("a shard job (images_per_job other than 1)")
    shard.add_argument("--plan", help="the shard's plan file")
    shard.add_argument("--rows", nargs="+", help="the shard's rows in each variant's folder")
    shard.add_argument("--threads", type=int, default=1)
    shard.add_argument("--log", help="the job's log (default: stderr)")
    single = p.add_argument_group("a list of images (the per-image rule)")
    single.add_argument("--inputs", nargs="+")
    single.add_argument("--outputs", nargs="+")
    single.add_argument("--logs", nargs="+", help="one log file per image (default: stderr)")
    single.add_argument(
        "--records", nargs="*", help="on_error: skip: one outcome record per image (records.py)"
    )
    rows = p.add_argument_group("a list of images, with variants or filters (--dirs too)")
    rows.add_argument("--names", nargs="+", help="inputs, relative to INPUT_DIR")
    rows.add_argument("--image-rows", nargs="+", help="each image's rows, to write")
    args = p.parse_args(argv)
    variants = from_json(args.spec, args.container)
    skip = args.on_error == "skip"
    stop = stop_on_signals()
    if variants[0].tars and not args.plan:
        p.error("--container webdataset needs --plan: a tar holds a shard's images")
    if args.plan or args.names:
        if not args.dirs:
            p.error("--plan and --names need --dirs")
        dirs = (args.dirs[0], args.dirs[1])
    if args.plan:
        if not args.rows or len(args.rows) != len(variants):
            p.error("--plan needs --rows, one per variant")
        return run_shard(args.plan, args.rows, dirs, variants, skip, args.threads, args.log, stop)
    if args.names:
        if len(args.image_rows or ()) != len(args.names):
            p.error("--names and --image-rows need the same number of paths")
        return run_image_rows(args.names, dirs, variants, args.image_rows, args.logs, skip, stop)
    if not (args.inputs and args.outputs) or len(variants) != 1:
        p.error("give --plan, --names, or --inputs and --outputs (one variant)")
    for name in ("outputs", "logs", "records"):
        if getattr(args, name) and len(getattr(args, name)) != len(args.inputs):
            p.error(f"--inputs and --{name} need the same number of paths")
    output_dir = args.dirs[1] if args.dirs else None
    return run_jobs(args.inputs, args.outputs, args.logs, variants, args.records, stop, output_dir)
