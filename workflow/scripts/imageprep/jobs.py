"""The job runner the Snakemake rules call: resize a list of images, one log line each, and
in skip mode one outcome record each (records.py)."""

import contextlib
import sys
from collections.abc import Sequence

from .diagnose import OutputError
from .records import write_record
from .spec import ResizeSpec
from .transform import Attempt, try_resize


def log_line(src: str, dst: str, attempt: Attempt) -> str:
    """One line per image for its log: what was made, with Pillow's warnings attached."""
    if attempt.error:
        return f"error: {attempt.error}"
    line = f"{src} -> {dst} {attempt.size[0]}x{attempt.size[1]}"
    return line + "".join(f" (warning: {note})" for note in attempt.notes)


def run_jobs(
    srcs: Sequence[str],
    dsts: Sequence[str],
    logs: Sequence[str] | None,
    spec: ResizeSpec,
    records: Sequence[str] | None = None,
) -> int:
    """Resize each src to its dst, one log per image (or stderr).

    Without ``records`` (on_error: fail) the first bad image ends the job with status 1. With
    them (on_error: skip) every image gets a record, ok or failed with the reason, and the
    job succeeds: the records, not the images, are then what the rule declares. A failure of
    the environment (full disk, read-only folder) ends the job with status 1 in both modes.
    """
    src = ""
    try:
        for i, (src, dst) in enumerate(zip(srcs, dsts, strict=True)):
            with open(logs[i], "w") if logs else contextlib.nullcontext(sys.stderr) as log:
                attempt = try_resize(src, dst, spec)
                if logs or not attempt.error:
                    print(log_line(src, dst, attempt), file=log)
                if attempt.error and records:
                    print(f"skipped: {attempt.error}", file=sys.stderr)
                elif attempt.error:
                    print(f"error: {attempt.error}", file=sys.stderr)
                    return 1
                if records:
                    write_record(records[i], src, attempt.error and attempt.error.reason)
    except (OutputError, OSError) as exc:  # OSError: a log that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:  # the machine's limit: fail the job in one line, not a traceback
        print(f"error: out of memory while resizing {src}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command the Snakemake rules run (workflow/scripts/resize.py): a fresh interpreter
    imports only the transform and Pillow, so a job starts in tens of milliseconds."""
    import argparse

    p = argparse.ArgumentParser(description="Resize images with the imageprep transform.")
    p.add_argument("--spec", required=True, help="ResizeSpec as JSON")
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--outputs", nargs="+", required=True)
    p.add_argument("--logs", nargs="+", help="one log file per image (default: stderr)")
    p.add_argument(
        "--records", nargs="*", help="on_error: skip: one outcome record per image (records.py)"
    )
    args = p.parse_args(argv)
    for name in ("outputs", "logs", "records"):
        if getattr(args, name) and len(getattr(args, name)) != len(args.inputs):
            p.error(f"--inputs and --{name} need the same number of paths")
    spec = ResizeSpec.from_json(args.spec)
    return run_jobs(args.inputs, args.outputs, args.logs, spec, args.records)
