"""The resize: every engine (Snakemake jobs, the pool, the loop, the benchmark) calls
:func:`resize_variants`, so outputs are byte-identical whichever engine made them. It
returns bytes and knows no container: where they go is a writer's business
(imageprep.folder.writers; ``files.resize_file`` for one file in, one file out).

One image: open (regular files only) → identify (in a fixed order) → filter by the header's
size → decode once for all its variants (reduced by the JPEG draft as far as the largest
allows) → per variant: resize → orient → pad → convert to a storable mode → encode in
memory.
"""

import hashlib
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile

from imageprep.image import resampler
from imageprep.image.capture import collected_warnings
from imageprep.image.diagnose import ImageError, input_errors
from imageprep.image.geometry import decode_label, decode_request, filter_reason, target
from imageprep.image.opening import SWAPS_AXES, open_image, open_input, orientation
from imageprep.image.pixel_modes import colour, colour_family, to_storable, working_mode
from imageprep.image.spec import LOSSY, ResizeSpec, output_format

ICC_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# The version of what the transform writes: bump it whenever output bytes change (a new
# decode rule, mode mapping, encoder setting...). Snakemake re-runs every image when it
# changes; tests/test_golden.py fails when bytes change without a bump.
TRANSFORM_VERSION = 3
# A smaller variant's whole-factor shrink before Pillow's resampler (see _transform).
SHRINK_GAP = 2.0
# Formats libjpeg decodes, whose draft (DCT-domain downscale) we can use.
DRAFTABLE = {"JPEG", "MPO"}


Target = tuple["str | os.PathLike | None", ResizeSpec]  # an output's name (its extension: the
# format), or None: not now; and its spec


@dataclass
class Output:
    """One variant's output of an image: its size in pixels and bytes and SHA-256, or the
    reason a filter left it out."""

    size: tuple[int, int] | None = None
    filtered: str = ""
    nbytes: int = 0
    sha256: str = ""
    data: bytes | None = None  # the encoded output, for its writer (folder/writers/)


@dataclass
class Attempt:
    """What came of one image: an Output per target (None where none was asked), or the
    bad input's error; Pillow's notes; its upright size and how it was decoded (rows)."""

    outputs: list[Output | None] = field(default_factory=list)
    error: ImageError | None = None
    notes: list[str] = field(default_factory=list)
    input_size: tuple[int, int] | None = None
    decode: str = ""


def resize_variants(
    src: str | os.PathLike,
    targets: Sequence[Target],
    notes: list[str] | None = None,
    shared: bool = False,
    attempt: Attempt | None = None,
    fetch: Callable[[], bytes] | None = None,
) -> Attempt:
    """Make every output of one image in memory, decoding it once (at the scale the largest
    variant needs). ``targets``: (name, spec) per variant, all with the run's max_pixels and
    jpeg_draft; a name of None is not made, but its spec still counts for the decode, so an
    output's bytes never depend on which of its siblings were current. A variant whose
    filter leaves the image out gets ``filtered`` and no bytes. ``shared``: the outputs of
    config's ``variants:`` (a smaller sibling first shrinks by a whole factor), even when
    there is one. Raises :class:`ImageError` naming the file for anything wrong with
    the input (``attempt``, if given, keeps what was learnt before: the input's size and
    the filters' verdicts); Pillow's warnings about the input ("Corrupt EXIF data") go to
    ``notes``, never printed. Each made output's bytes are in its Output.data. ``fetch``:
    the input's bytes come from it (an object in a bucket), ``src`` only names it."""
    src = Path(src)
    attempt = attempt or Attempt()
    attempt.notes = notes if notes is not None else attempt.notes
    # Pillow's own guard stays on, at our limit: it refuses images over twice max_pixels
    # while opening them, and _check_pixels the rest before any pixel is decoded.
    Image.MAX_IMAGE_PIXELS = targets[0][1].max_pixels
    with collected_warnings() as caught:
        with input_errors(src):
            fh = io.BytesIO(fetch()) if fetch else open_input(src)
        with fh:
            with input_errors(src):
                im = open_image(fh, src.name)
            with im, input_errors(src, im.format):
                made = _transform(im, src, targets, attempt, shared)
    attempt.notes.extend(caught)
    for (dst, _), (output, data) in zip(targets, made, strict=True):
        if dst is not None and data is not None:
            output.data = data
            output.nbytes, output.sha256 = len(data), hashlib.sha256(data).hexdigest()
    attempt.outputs = [
        o if dst is not None else None for (dst, _), (o, _) in zip(targets, made, strict=True)
    ]
    return attempt


def choose_decode(
    upright: tuple[int, int], fmt: str | None, active: list[ResizeSpec], jpeg_draft: bool
) -> tuple[tuple[int, int] | None, str]:
    """The draft request (upright) of one decode for the variants not filtered, and its
    label for the rows: also what a row read back from disk says (rows.image_row)."""
    draftable = jpeg_draft and fmt in DRAFTABLE
    request = decode_request(*upright, active) if draftable and active else None
    return request, decode_label(request, draftable)


def _check_pixels(im: Image.Image, src: Path, max_pixels: int) -> None:
    if im.width == 0 or im.height == 0:
        if isinstance(im, ImageFile.StubImageFile):
            im.load()  # a format without a decoder here (HDF5, WMF): that is the reason
        raise ImageError(src, f"image has no pixels ({im.width}×{im.height})")
    if im.width * im.height > max_pixels:
        raise ImageError(src, f"{im.width:,}×{im.height:,} exceeds max_pixels={max_pixels:,}")


def _transform(
    im: Image.Image, src: Path, targets: Sequence[Target], attempt: Attempt, shared: bool
) -> list[tuple[Output, bytes | None]]:
    """Filter, decode once (reduced where the draft allows), then per output asked for:
    resize, orient, pad, encode."""
    first = targets[0][1]
    _check_pixels(im, src, first.max_pixels)
    turn = orientation(im)
    transpose, swap = ORIENTATION_TRANSPOSE.get(turn), turn in SWAPS_AXES
    upright = (im.height, im.width) if swap else im.size
    attempt.input_size = upright
    made = [(Output(filtered=filter_reason(*upright, spec)), spec) for _, spec in targets]
    attempt.outputs = [output for output, _ in made]  # the verdicts, should the decode fail
    active = [spec for output, spec in made if not output.filtered]
    request, attempt.decode = choose_decode(upright, im.format, active, first.jpeg_draft)
    asked = [
        dst is not None and not o.filtered for (dst, _), (o, _) in zip(targets, made, strict=True)
    ]
    if not any(asked):
        return [(output, None) for output, _ in made]  # nothing to decode
    # Geometry in upright coordinates, mapped back to the stored orientation: we resize
    # first and transpose the small result, which is cheaper than rotating the original.
    stored = im.size
    if request is not None:
        im.draft(im.mode, (request[1], request[0]) if swap else request)
    im.load()
    fx, fy = im.width / stored[0], im.height / stored[1]
    work = working_mode(im)
    # Decoded for the largest, a smaller sibling first shrinks by a whole factor (a box
    # average, as the draft would have) while SHRINK_GAP pixels per output pixel remain,
    # with Pillow's resampler (the fallback): two variants cost 1.30x the larger alone on
    # 12-MP photos without it, 1.1x with it (docs/performance.md, section 6).
    # fast_image_resize convolves the whole decode (resampler.resize).
    gap = SHRINK_GAP if shared else None
    results: list[tuple[Output, bytes | None]] = []
    for (dst, spec), (output, _) in zip(targets, made, strict=True):
        if dst is None or output.filtered:
            results.append((output, None))
            continue
        out_size, box = target(*upright, spec)
        if swap:
            out_size, box = (out_size[1], out_size[0]), (box[1], box[0], box[3], box[2])
        # All crops are centred, so flips leave the box unchanged.
        box = (box[0] * fx, box[1] * fy, min(im.width, box[2] * fx), min(im.height, box[3] * fy))
        resized = resampler.resize(work, out_size, spec.resample, box, gap)
        if transpose is not None:
            resized = resized.transpose(transpose)
        if spec.mode == "pad":
            resized = _pad(resized, spec)
        out_format = output_format(os.fspath(dst))
        out = to_storable(resized, out_format, spec.background)
        out.info = {}  # metadata is not carried implicitly: only what _encode passes
        output.size = out.size
        results.append((output, _encode(out, im, out_format, spec)))
    return results


def _encode(out: Image.Image, im: Image.Image, out_format: str, spec: ResizeSpec) -> bytes:
    """The output file's bytes, made in memory: encoding is the image's business, writing
    them the environment's (write_atomically)."""
    params: dict[str, Any] = {}
    if out_format in LOSSY:
        params["quality"] = spec.quality
    icc = im.info.get("icc_profile")
    if icc and out_format in ICC_FORMATS and colour_family(out.mode) == colour_family(im.mode):
        params["icc_profile"] = icc
    buffer = io.BytesIO()
    out.save(buffer, format=out_format, **params)
    return buffer.getvalue()


def _pad(im: Image.Image, spec: ResizeSpec) -> Image.Image:
    canvas = Image.new(im.mode, spec.size, colour(spec.pad_color, im.mode))
    canvas.paste(im, ((spec.size[0] - im.width) // 2, (spec.size[1] - im.height) // 2))
    return canvas


def try_variants(
    src: str | os.PathLike,
    targets: Sequence[Target],
    shared: bool = False,
    fetch: Callable[[], bytes] | None = None,
) -> Attempt:
    """:func:`resize_variants`, with a bad input returned rather than raised: the variants
    whose filter had already left the image out stay filtered, the others fail."""
    attempt = Attempt()
    try:
        resize_variants(src, targets, shared=shared, attempt=attempt, fetch=fetch)
    except ImageError as exc:
        attempt.error = exc
        attempt.outputs = [
            o if o is not None and o.filtered else None
            for o in attempt.outputs or [None] * len(targets)
        ]
    return attempt
