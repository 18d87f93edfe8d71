"""The last line of a run, the same in both paths: how many images were made and how many
were current, failed (skip mode) or filtered, and where the manifest is. The manifest job
keeps its counts beside the folder's bookkeeping, so that Snakemake's onsuccess handler
can say the same line as the pool command."""

import json
import os
import re
from collections.abc import Mapping

from imageprep.folder.layout import LAST_RUN, shown

# A shard job's summary line in its log (shard_job.Shard.make writes it).
SHARD_SUMMARY = re.compile(r"^shard \S+: \d+ images, (\d+) resized, ", re.MULTILINE)


def closing_line(output_dir: str, counts: Mapping[str, int], variants: bool = False) -> str:
    """``counts``: made, current, failed, filtered (images, or rows of the first variant),
    and stale: files earlier manifests listed that this one does not (stale.py)."""
    output_dir = shown(output_dir)  # a bucket folder: its URL
    parts = [f"{counts.get('made', 0)} images resized into {output_dir}"]
    if counts.get("current"):
        parts.append(f"{counts['current']} already complete")
    if counts.get("failed"):
        parts.append(f"{counts['failed']} skipped (failed.tsv)")
    if counts.get("filtered"):
        parts.append(f"{counts['filtered']} filtered")
    where = "in each variant's folder" if variants else f"{output_dir}/manifest.csv"
    line = ", ".join(parts) + f"; manifest: {where}"
    if counts.get("stale"):  # stale.py
        line += (
            f"; {counts['stale']} files made by earlier runs are no longer listed "
            "(workflow/scripts/clean.py removes them)"
        )
    return line


def record_counts(output_dir: str, counts: Mapping[str, int]) -> None:
    path = os.path.join(output_dir, LAST_RUN)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(dict(counts), fh, sort_keys=True)


def _recorded(output_dir: str) -> tuple[dict[str, int], float] | None:
    """The last manifest job's counts and when they were written, or None."""
    path = os.path.join(output_dir, LAST_RUN)
    try:
        with open(path) as fh:
            return json.load(fh), os.stat(path).st_mtime
    except (OSError, ValueError):
        return None


def last_run_line(
    output_dir: str, started: float, variants: bool = False, logs: str | None = None
) -> str:
    """Snakemake's closing line: the manifest job's counts if it ran in this run (written
    after ``started``), else every image already complete. ``logs``: the folder of the
    resize jobs' logs; the images made are those the jobs of this run say they resized
    (a run after Ctrl-C finds the images made before it current), the rest current."""
    if (recorded := _recorded(output_dir)) is None:
        return f"nothing made; manifest: {shown(output_dir)}/manifest.csv"
    counts, written = recorded
    done = counts.get("made", 0) + counts.get("current", 0)
    if written < started:  # nothing ran: what was made then is current now
        made: int | None = 0
    else:
        made = made_in_logs(logs, started) if logs else None
    if made is not None:
        counts = {**counts, "made": min(made, done), "current": done - min(made, done)}
    return closing_line(output_dir, counts, variants)


def made_in_logs(logs: str, started: float) -> int | None:
    """Images resized by the resize jobs whose logs were written since ``started``: a shard
    job's last lines say how many ("shard NAME: N images, K resized, ..."); a per-image
    job's log is its image's line. None where there are no such logs."""
    made, seen = 0, False
    try:
        entries = list(os.scandir(logs))
    except OSError:
        return None
    for entry in entries:
        if not entry.name.endswith(".log") or entry.stat().st_mtime < started:
            continue
        seen = True
        with open(entry.path, "rb") as fh:
            text = fh.read().decode("utf-8", "surrogateescape")
        if match := SHARD_SUMMARY.search(text):
            made += int(match[1])
        elif " -> " in text and "filtered (" not in text:  # a per-image job made its image
            made += 1
    return made if seen else None


def forget_stale(output_dir: str) -> None:
    """After the clean command: the last run's line no longer counts what it removed."""
    if (recorded := _recorded(output_dir)) is not None:
        record_counts(output_dir, {**recorded[0], "stale": 0})
