"""The command the resize rules run (workflow/scripts/resize_jobs.py): a shard's images from
its plan file, into its rows (shard_job.py); or the per-image rule's images (per_image.py).
Both try their images through the one runner (runner.py), as the pool's workers do."""

import signal
import threading

from imageprep.folder.variants import CONTAINERS, from_json
from imageprep.run.per_image import run_image_rows, run_jobs
from imageprep.run.shard_job import run_shard


def stop_on_signals() -> threading.Event:
    """A job's stop: Ctrl-C (SIGINT, which a terminal sends to Snakemake and its jobs alike)
    or SIGTERM (scancel, Snakemake cancelling a job) lets the images in hand finish and
    starts no other, so that the job keeps what it made: no traceback, no lost work."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main(argv: list[str] | None = None, stop: threading.Event | None = None) -> int:
    """The command the Snakemake rules run (workflow/scripts/resize_jobs.py): a fresh interpreter
    imports only the transform and Pillow, so a job starts in tens of milliseconds. ``stop``:
    the entry script's, set by a signal that came while it imported (stop_on_signals)."""
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
    stop = stop or stop_on_signals()
    if variants[0].writer.per_shard and not args.plan:
        p.error(f"--container {args.container} needs --plan: it writes a shard's images whole")
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
