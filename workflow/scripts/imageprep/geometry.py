"""Where each output's pixels come from, from the image's size alone (no pixel decoded): its
size and source crop box per variant (mode, only_shrink), the filters that leave an image
out, and how few pixels one decode may produce for all the variants of an image (the
JPEG draft). The rerun check (current.py) calls the same functions on a row's input size.
"""

import math
from collections.abc import Iterable

from .spec import ResizeSpec

# JPEG decode-time downscale keeps >= DRAFT_GAP decoded pixels per output pixel, so the final
# filter still does a real reduction after libjpeg's DCT scaling. On 40 real photographs in
# every mode at 600 and 224, a gap of 2 keeps SSIM >= 0.99 against a full decode on every
# case; below 2 the DCT-scaled decode's artefacts survive the short final reduction
# (worst 0.965 at 1.25). docs/performance.md has the study (draft_study.py --input-dir).
DRAFT_GAP = 2.0

Box = tuple[float, float, float, float]
Size = tuple[int, int]


def target(width: int, height: int, spec: ResizeSpec) -> tuple[Size, Box]:
    """Output size and source crop box of an upright ``width`` × ``height`` image.

    ``only_shrink``: no axis is enlarged. stretch: each axis is the target's or the
    image's, whichever is smaller; fit and pad: scaled by at most 1 (pad then pads the
    smaller image to the box); fill: scaled by at most 1 and centre-cropped to the box,
    so an image smaller than the box on an axis keeps its own size on that axis.
    """
    tw, th = spec.size
    box = (0.0, 0.0, float(width), float(height))
    if spec.mode == "stretch":
        if spec.only_shrink:
            return (min(tw, width), min(th, height)), box
        return (tw, th), box
    if spec.mode in ("fit", "pad"):
        scale = min(tw / width, th / height)
        if spec.only_shrink:
            scale = min(scale, 1.0)
        return (max(1, round(width * scale)), max(1, round(height * scale))), box
    # fill: cover the target, then centre-crop in the source so we resample only once
    scale = max(tw / width, th / height)
    if spec.only_shrink and scale > 1:
        cw, ch = min(width, tw), min(height, th)
        left, top = (width - cw) / 2, (height - ch) / 2
        return (cw, ch), (left, top, left + cw, top + ch)
    cw, ch = min(width, tw / scale), min(height, th / scale)  # min(): float rounding
    left, top = (width - cw) / 2, (height - ch) / 2
    return (tw, th), (left, top, left + cw, top + ch)


def filter_reason(width: int, height: int, spec: ResizeSpec) -> str:
    """Why the variant leaves an upright ``width`` × ``height`` image out ("" if it does
    not): min_size, max_aspect_ratio, max_area, from the header's size alone."""
    min_w, min_h = spec.min_size
    if width < min_w or height < min_h:
        return f"{width}×{height} is below min_size {min_w}×{min_h}"
    ratio = max(width, height) / min(width, height)
    if spec.max_aspect_ratio and ratio > spec.max_aspect_ratio:
        return (
            f"aspect ratio {ratio:.2f} ({width}×{height}) is above "
            f"max_aspect_ratio {spec.max_aspect_ratio:g}"
        )
    if spec.max_area and width * height > spec.max_area:
        return f"{width}×{height} = {width * height:,} pixels is above max_area {spec.max_area:,}"
    return ""


def wanted(width: int, height: int, out_size: Size, box: Box, resample: str) -> Size:
    """The decoded size one output needs: DRAFT_GAP source pixels per output pixel, never
    the draft's 1/8 scale (it keeps DC terms only); a nearest-neighbour output, every pixel."""
    if resample == "nearest":
        return width, height
    scale_x = (box[2] - box[0]) / out_size[0]  # source pixels per output pixel
    scale_y = (box[3] - box[1]) / out_size[1]
    return (
        max(math.ceil(width / scale_x * DRAFT_GAP), width // 8 + 1),
        max(math.ceil(height / scale_y * DRAFT_GAP), height // 8 + 1),
    )


def decode_request(width: int, height: int, specs: Iterable[ResizeSpec]) -> Size | None:
    """The draft size one decode asks libjpeg for, so that every variant (not filtered)
    gets the pixels it needs: the largest of what each wants; None for a full decode.
    An upright size gives an upright request (the formula treats both axes alike)."""
    need = [0, 0]
    for spec in specs:
        size, box = target(width, height, spec)
        want = wanted(width, height, size, box, spec.resample)
        need = [max(need[0], want[0]), max(need[1], want[1])]
    if need[0] >= width or need[1] >= height:
        return None
    return need[0], need[1]


def decode_label(request: Size | None, draftable: bool) -> str:
    """How an image was decoded, as its rows say: "" (not a JPEG, or the draft is off: a
    full decode whatever the variants), "full", or the draft size asked for."""
    if not draftable:
        return ""
    return "full" if request is None else f"{request[0]}x{request[1]}"
