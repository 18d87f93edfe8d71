"""The rows of one image, one per variant, whoever makes them: just tried (the runner),
refused before any work (the plan), or read back from disk where no row was kept (the
per-image rule, a pool worker that died). Columns: manifest.Row."""

import functools
import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from PIL import Image

from imageprep.folder.manifest import Row
from imageprep.folder.variants import Variant
from imageprep.image import resampler
from imageprep.image.geometry import filter_reason
from imageprep.image.opening import header
from imageprep.image.spec import ResizeSpec
from imageprep.image.transform import TRANSFORM_VERSION, Attempt, choose_decode


class InputStat(NamedTuple):
    """An input's size and date where no os.stat gives them: an object in a bucket, as its
    listing says (image/bucket.py)."""

    st_size: int
    st_mtime_ns: int


Stat = os.stat_result | InputStat


def input_stat(path: str, listed: Mapping[str, InputStat] | None = None) -> Stat | None:
    """An input's size and mtime for its row; None when it is gone or unreadable (the
    transform then gives the reason). ``listed``: a bucket's, by ``path``."""
    if listed is not None:
        return listed.get(path)
    try:
        return os.stat(path)
    except OSError:
        return None


def output_fingerprint(spec: ResizeSpec, out: str) -> str:
    """A short, stable name for the settings that shape ``out``'s bytes
    (``ResizeSpec.for_output``: quality is left out for a PNG, filters always), and the resampler
    that made them (resampler.NAME: a machine without fast_image_resize redoes them). Asked
    for every image, so it is computed once per spec and extension."""
    return _fingerprint(spec, os.path.splitext(out)[1].lower(), resampler.NAME)


@functools.lru_cache(maxsize=256)
def _fingerprint(spec: ResizeSpec, extension: str, made_by: str) -> str:
    settings = spec.for_output(f"x{extension}").to_json()
    return hashlib.sha256(f"{settings}\n{made_by}".encode()).hexdigest()[:16]


def refused_rows(refused: Mapping[str, tuple[str, str]], variant: Variant) -> list[Row]:
    """A variant's rows of the inputs refused before any work (plan.Plan.refused: input ->
    (key, reason)), as the workflow and the pool command both list them."""
    return [Row(rel, variant.output(rel), "failed", why) for rel, (_, why) in refused.items()]


def made_rows(
    rel: str,
    outs: Sequence[str | None],
    stat: Stat | None,
    variants: Sequence[Variant],
    attempt: Attempt,
) -> list[Row | None]:
    """The row of each variant of an image just tried (``stat``: its input, taken before);
    None where no output was asked for."""
    size = (stat.st_size, stat.st_mtime_ns) if stat else (None, None)
    width, height = attempt.input_size or (None, None)
    rows: list[Row | None] = []
    for i, (out, variant) in enumerate(zip(outs, variants, strict=True)):
        if out is None:
            rows.append(None)
            continue
        common = {
            "fingerprint": output_fingerprint(variant.spec, out),
            "transform_version": TRANSFORM_VERSION,
            "input_width": width,
            "input_height": height,
        }
        made = attempt.outputs[i] if attempt.outputs else None
        if made is not None and made.filtered:  # also when the decode then failed
            rows.append(Row(rel, out, "filtered", made.filtered, *size, **common))
        elif attempt.error or made is None:
            reason = attempt.error.reason if attempt.error else "not made"
            rows.append(Row(rel, out, "failed", reason, *size, **common))
        else:
            w, h = made.size or (None, None)
            made_row = Row(rel, out, "ok", "", *size, made.nbytes, w, h, made.sha256, **common)
            rows.append(replace(made_row, decode=attempt.decode))
    return rows


def image_row(
    dirs: tuple[str, str],
    rel: str,
    out: str,
    spec: ResizeSpec,
    reason: str = "",
    siblings: Sequence[ResizeSpec] = (),
) -> Row:
    """The row of an image made (or failed, with ``reason``) earlier, read back from disk,
    where no row was kept (the per-image rule; outputs the pool finds without one): the row
    the runner made. ``dirs``: input_dir and the variant's folder; ``siblings``: every
    variant's spec (the decode served them all), this one's alone by default."""
    src, dst = Path(dirs[0], rel), Path(dirs[1], out)
    try:
        stat = src.stat()
        size = stat.st_size, stat.st_mtime_ns
    except OSError:
        size = None, None
    common = {"fingerprint": output_fingerprint(spec, out), "transform_version": TRANSFORM_VERSION}
    found = header(src, spec.max_pixels)
    dims = {"input_width": found[0][0], "input_height": found[0][1]} if found else {}
    if reason:
        return Row(rel, out, "failed", reason, *size, **common, **dims)
    data = dst.read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        made = im.size
    digest = hashlib.sha256(data).hexdigest()
    row = Row(rel, out, "ok", "", *size, len(data), *made, digest, **common)
    if found is None:
        return row
    upright, fmt = found
    active = [s for s in siblings or [spec] if not filter_reason(*upright, s)]
    decode = choose_decode(upright, fmt, active, spec.jpeg_draft)[1]
    return replace(row, input_width=upright[0], input_height=upright[1], decode=decode)
