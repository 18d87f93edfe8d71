"""The last line of a run, the same in both paths: how many images were made and how many
were current, failed (skip mode) or filtered, and where the manifest is. The manifest job
keeps its counts beside the folder's bookkeeping, so that Snakemake's onsuccess handler
can say the same line as the pool command."""

import json
import os
from collections.abc import Mapping

LAST_RUN = ".imageprep/last-run.json"  # the counts of the last manifest job, in output_dir


def closing_line(output_dir: str, counts: Mapping[str, int], variants: bool = False) -> str:
    """``counts``: made, current, failed, filtered (images, or rows of the first variant)."""
    parts = [f"{counts.get('made', 0)} images resized into {output_dir}"]
    if counts.get("current"):
        parts.append(f"{counts['current']} already complete")
    if counts.get("failed"):
        parts.append(f"{counts['failed']} skipped (failed.tsv)")
    if counts.get("filtered"):
        parts.append(f"{counts['filtered']} filtered")
    where = "in each variant's folder" if variants else f"{output_dir}/manifest.csv"
    return ", ".join(parts) + f"; manifest: {where}"


def record_counts(output_dir: str, counts: Mapping[str, int]) -> None:
    path = os.path.join(output_dir, LAST_RUN)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(dict(counts), fh, sort_keys=True)


def last_run_line(output_dir: str, started: float, variants: bool = False) -> str:
    """Snakemake's closing line: the manifest job's counts if it ran in this run (written
    after ``started``), else every image already complete."""
    path = os.path.join(output_dir, LAST_RUN)
    try:
        with open(path) as fh:
            counts = json.load(fh)
        fresh = os.stat(path).st_mtime >= started
    except (OSError, ValueError):
        return f"nothing made; manifest: {output_dir}/manifest.csv"
    if not fresh:  # nothing ran: what was made then is current now
        counts = {**counts, "current": counts.get("made", 0) + counts.get("current", 0)}
        counts["made"] = 0
    return closing_line(output_dir, counts, variants)
