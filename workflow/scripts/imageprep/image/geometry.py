"""Where each output's pixels come from, from the image's size alone (no pixel decoded): its
size and source crop box per variant (mode, only_shrink), the filters that leave an image
out, and how few pixels one decode may produce for all the variants of an image (the
JPEG draft). The rerun check (current.py) calls the same functions on a row's input size.
"""

from collections.abc import Iterable

from imageprep.image.spec import ResizeSpec

# The JPEG draft (libjpeg's DCT-domain downscale) decodes at 1/scale when at least
# DRAFT_GAPS[scale] decoded pixels per output pixel remain for the final filter: its scaled
# IDCT's artefacts survive a short final reduction, more at 1/4 than at 1/2. The draft study
# (draft_study.py) over every mode at 600, 224 and 128 on 40 real photographs, `camera`,
# `seed` and odd JPEGs, against Pillow's resampler on every pixel decoded, found every case
# >= 0.99 SSIM at 1/2 from a reduction of 1.25 on, and at 1/4 from 3 on (at 1/4 below 3,
# 0.965 on sand ripples); 1/8 keeps only each block's average and is never used.
# docs/performance.md, section 9.
DRAFT_GAPS = {4: 3.0, 2: 1.25}

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


def draft_scale(width: int, height: int, out_size: Size, box: Box, resample: str) -> int:
    """The largest draft scale (4, 2, else 1) that still leaves DRAFT_GAPS[scale] decoded
    pixels per output pixel on both axes; 1 for a nearest-neighbour output (every pixel)."""
    if resample == "nearest":
        return 1
    for scale, gap in sorted(DRAFT_GAPS.items(), reverse=True):
        # libjpeg's reduced size rounds up; the box scales with it (transform.py)
        fx, fy = -(-width // scale) / width, -(-height // scale) / height
        left_x = (box[2] - box[0]) * fx / out_size[0]
        left_y = (box[3] - box[1]) * fy / out_size[1]
        if min(left_x, left_y) >= gap:
            return scale
    return 1


def decode_request(width: int, height: int, specs: Iterable[ResizeSpec]) -> Size | None:
    """The draft size one decode asks libjpeg for, so that every variant (not filtered)
    gets the pixels it needs: the smallest of the scales each allows; None for a full
    decode. Pillow's draft picks the scale s from ``width // request``: asking for
    ``width // s`` gets exactly s. An upright size gives an upright request (the rule
    treats both axes alike)."""
    scale = min((draft_scale(width, height, *target(width, height, s), s.resample) for s in specs),
                default=1)  # fmt: skip
    if scale == 1:
        return None
    return width // scale, height // scale


def decode_label(request: Size | None, draftable: bool) -> str:
    """How an image was decoded, as its rows say: "" (not a JPEG, or the draft is off: a
    full decode whatever the variants), "full", or the draft size asked for."""
    if not draftable:
        return ""
    return "full" if request is None else f"{request[0]}x{request[1]}"
