"""What a run made, for ``snakemake --report``: per variant, the counts by status (made since
the last report, current, failed, filtered) with the reasons, a contact sheet of a fixed
sample of outputs, and the inputs' sizes against the target size. Made by rule manifest
from the manifest it has just written (one streaming pass, no image decoded but the
sample's), so a run with nothing to do does none of it; the rule marks the files with
Snakemake's ``report()``."""

import csv
import html
import zlib
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from imageprep.folder.layout import REPORTED, REPORTED_SAMPLE, REPORTED_SHEET
from imageprep.folder.manifest import COLUMNS, ENCODING
from imageprep.folder.variants import Variant
from imageprep.folder.writers import Writer
from imageprep.image.atomic import link_atomically, write_atomically
from imageprep.image.spec import ResizeSpec

FILES = ("status.html", "contact-sheet.jpg", "input-sizes.svg")
# What the last report saw of a variant's manifest (made vs current), in its folder.
SAMPLE = 36  # outputs on the contact sheet
CELL = 160  # its thumbnails' box, in pixels
REASONS = 20  # reasons listed, the most frequent first


def report_files(reports: str, variant: str) -> list[str]:
    """A variant's report files (status, contact sheet, input sizes) under ``reports``
    (standalone, the hidden output_dir/.imageprep/reports, which Hugging Face's loaders
    and glob.glob skip; a module's reports/NAME)."""
    return [f"{reports}/{variant or 'outputs'}/{name}" for name in FILES]


def _rows(path: str) -> Iterator[list[str]]:
    """A manifest's rows as cells (padded to today's columns: a manifest of an earlier
    release has 12), none if the file is not there (no earlier report)."""
    try:
        fh = open(path, newline="", **ENCODING)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with fh:
        reader = csv.reader(fh)
        next(reader, None)
        for cells in reader:
            yield cells + [""] * (len(COLUMNS) - len(cells))


_INPUT, _OUTPUT, _STATUS, _REASON = (
    COLUMNS.index(c) for c in ("input", "output", "status", "reason")
)
_WIDTH, _HEIGHT = COLUMNS.index("input_width"), COLUMNS.index("input_height")
_TAR, _SHA256 = COLUMNS.index("tar"), COLUMNS.index("sha256")


class Summary:
    """One pass over a manifest, beside the one the last report saw (both sorted by
    input): a row that changed since is "made", one that did not "current"."""

    def __init__(self, manifest: str, previous: str) -> None:
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()
        self.widths, self.heights = array("l"), array("l")
        # (hash of the input, output, its tar, its SHA-256)
        self.sample: list[tuple[int, str, str, str]] = []
        before = _rows(previous)
        old = next(before, None)
        for row in _rows(manifest):
            while old is not None and old[_INPUT] < row[_INPUT]:
                old = next(before, None)
            self._add(row, old == row)

    def _add(self, row: list[str], same: bool) -> None:
        status = row[_STATUS]
        if status == "ok":
            self.counts["current" if same else "made"] += 1
            key = zlib.crc32(row[_INPUT].encode(**ENCODING))
            self.sample.append((key, row[_OUTPUT], row[_TAR], row[_SHA256]))
            if len(self.sample) > 4 * SAMPLE:  # keep the SAMPLE smallest hashes, in bounds
                self.sample = sorted(self.sample)[:SAMPLE]
        else:
            self.counts[status] += 1
            self.reasons[(status, row[_REASON])] += 1
        if row[_WIDTH] and row[_HEIGHT]:
            self.widths.append(int(row[_WIDTH]))
            self.heights.append(int(row[_HEIGHT]))


def write_report(folder: str, reports: str, variant: Variant) -> Counter:
    """The report files of one variant from the manifest in its ``folder``, under
    ``reports``; returns its counts (made, current, failed, filtered)."""
    name, spec = variant.name, variant.spec
    manifest = f"{folder}/manifest.csv"
    previous = Path(folder, REPORTED)
    summary = Summary(manifest, str(previous))
    status, sheet, sizes = report_files(reports, name)
    # names need not be UTF-8 (kept as surrogates): shown with their bytes escaped
    write_atomically(status, _status_html(summary, name).encode("utf-8", "backslashreplace"))
    sheet_bytes, seen = _contact_sheet(folder, summary, variant.writer)
    write_atomically(sheet, sheet_bytes)
    link_atomically(sheet, Path(folder, REPORTED_SHEET))
    if seen:  # every thumbnail drawn: the next report may show this sheet again
        write_atomically(Path(folder, REPORTED_SAMPLE), seen)
    else:
        Path(folder, REPORTED_SAMPLE).unlink(missing_ok=True)
    write_atomically(sizes, _sizes_svg(summary, spec))
    link_atomically(manifest, previous)
    return summary.counts


def _status_html(summary: Summary, name: str) -> str:
    counts = summary.counts
    order = ("made", "current", "failed", "filtered")
    rows = "".join(f"<tr><td>{k}</td><td>{counts[k]:,}</td></tr>" for k in order)
    reasons = "".join(
        f"<tr><td>{s}</td><td>{html.escape(r)}</td><td>{n:,}</td></tr>"
        for (s, r), n in summary.reasons.most_common(REASONS)
    )
    more = len(summary.reasons) - REASONS
    title = f"Variant {html.escape(name)}" if name else "Outputs"
    return (
        f"<!doctype html><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>"
        f"<h2>{title}: {sum(counts.values()):,} images</h2>"
        f"<table><tr><th>status</th><th>images</th></tr>{rows}</table>"
        "<h3>Reasons</h3>"
        f"<table><tr><th>status</th><th>reason</th><th>images</th></tr>{reasons}</table>"
        + (f"<p>… and {more:,} other reasons (manifest.csv has them all)</p>" if more > 0 else "")
    )


def _contact_sheet(folder: str, summary: Summary, writer: Writer) -> tuple[bytes, bytes]:
    """Up to SAMPLE outputs, chosen by a hash of their input's name (the same sample on
    every run), as CELL-pixel thumbnails on a grid; the last sheet again when its sample
    is unchanged (a bucket folder's outputs cost a request each, a tar a whole tar).
    Returns the sheet and what names its sample (empty when a thumbnail is missing: an
    output that could not be read now, which the next report tries again)."""
    import io

    sample = sorted(summary.sample)[:SAMPLE]
    seen = "".join(f"{out}\t{tar}\t{sha}\n" for _, out, tar, sha in sample).encode(**ENCODING)
    kept, last = Path(folder, REPORTED_SHEET), Path(folder, REPORTED_SAMPLE)
    try:  # the same outputs (same bytes) as the last sheet: that sheet, none of them read
        if last.read_bytes() == seen:
            return kept.read_bytes(), seen
    except OSError:
        pass
    chosen = [(out, tar) for _, out, tar, _ in sample]
    found = writer.read(folder, chosen)
    columns = 6
    rows = max(1, -(-len(chosen) // columns))
    sheet = Image.new("RGB", (columns * CELL, rows * CELL), "white")
    drawn = 0
    for i, (out, _) in enumerate(chosen):
        try:
            with Image.open(io.BytesIO(found[out])) as im:
                im.thumbnail((CELL - 8, CELL - 8))
                thumb = im.convert("RGB")
        except (OSError, KeyError, Image.DecompressionBombError):
            continue  # gone since the manifest was written, or too large: a blank cell
        x, y = (i % columns) * CELL, (i // columns) * CELL
        sheet.paste(thumb, (x + (CELL - thumb.width) // 2, y + (CELL - thumb.height) // 2))
        drawn += 1
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=85)
    return buffer.getvalue(), seen if drawn == len(chosen) else b""


def _sizes_svg(summary: Summary, spec: ResizeSpec) -> bytes:
    """The inputs' widths and heights (a 2-D histogram) with the target box and min_size."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    if summary.widths:
        ax.hexbin(summary.widths, summary.heights, gridsize=40, mincnt=1, cmap="viridis")
    target = f"{spec.size[0]}×{spec.size[1]}"
    ax.axvline(spec.size[0], color="red", linestyle="--", label=f"target {target}")
    ax.axhline(spec.size[1], color="red", linestyle="--")
    if any(spec.min_size):
        ax.axvline(spec.min_size[0], color="orange", label="min_size")
        ax.axhline(spec.min_size[1], color="orange")
    ax.set_xlabel("input width (px)")
    ax.set_ylabel("input height (px)")
    ax.set_title(f"{len(summary.widths):,} input sizes, {spec.mode} to {target}")
    ax.legend(loc="upper left")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()
