"""What a resize does (:class:`ResizeSpec`, built from config so every engine gets the same
one), and what each output is called and written as."""

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from PIL import Image, ImageColor

MODES = ("stretch", "fit", "fill", "pad")
RESAMPLE = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}
# Output format -> (Pillow format name, file extension).
FORMATS = {"jpeg": ("JPEG", ".jpg"), "png": ("PNG", ".png"), "webp": ("WEBP", ".webp")}
# Extensions imageprep writes -> Pillow format: an output's bytes are always the format its
# name says. With format: same, other inputs get a new extension (see output_relpath).
WRITTEN = {
    **dict.fromkeys((".jpg", ".jpeg", ".jpe", ".jfif"), "JPEG"),
    **{".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"},
    **{".bmp": "BMP", ".gif": "GIF"},
}
# format: same, for inputs whose format imageprep does not write: an MPO (a camera's JPEG
# with previews) becomes the JPEG of its primary image; ICO, PPM, TGA... become PNG.
SAME_FALLBACK = {".mpo": ".jpg"}
LOSSY = {"JPEG", "WEBP"}


@dataclass(frozen=True)
class ResizeSpec:
    """What the resize does; built from config so every engine gets the same spec."""

    size: tuple[int, int] = (600, 600)
    mode: str = "stretch"
    resample: str = "lanczos"
    format: str = "same"
    quality: int = 90
    pad_color: str = "black"
    background: str = "white"
    max_pixels: int = 89_478_485  # Pillow's own decompression-bomb threshold
    jpeg_draft: bool = True  # decode big JPEGs at reduced scale (see geometry.py)
    only_shrink: bool = False  # never enlarge an image, on either axis (geometry.py)
    # Filters (filters.py): an image they leave out is "filtered", not failed. 0: no limit.
    min_size: tuple[int, int] = (0, 0)
    max_aspect_ratio: float = 0
    max_area: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "min_size", tuple(int(v) for v in self.min_size))
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"size must be [width, height] > 0, got {list(self.size)}")
        if len(self.min_size) != 2 or min(self.min_size) < 0:
            raise ValueError(f"min_size must be [width, height] >= 0, got {list(self.min_size)}")
        if self.max_aspect_ratio < 0 or self.max_area < 0:
            raise ValueError("max_aspect_ratio and max_area must be >= 0 (0: no limit)")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.resample not in RESAMPLE:
            raise ValueError(f"resample must be one of {tuple(RESAMPLE)}, got {self.resample!r}")
        if self.format != "same" and self.format not in FORMATS:
            raise ValueError(
                f"format must be 'same' or one of {tuple(FORMATS)}, got {self.format!r}"
            )
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be 1..100, got {self.quality}")
        for key in ("pad_color", "background"):
            try:
                ImageColor.getrgb(getattr(self, key))
            except ValueError:
                raise ValueError(
                    f"{key}: unknown colour {getattr(self, key)!r} (a CSS colour name, "
                    "rgb(r,g,b) or #rrggbb)"
                ) from None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "ResizeSpec":
        """Pick the spec keys out of a (validated) workflow config; other keys are ignored."""
        return cls(**{f.name: config[f.name] for f in fields(cls) if f.name in config})

    def for_output(self, relpath: str) -> "ResizeSpec":
        """This spec with the settings that cannot change ``relpath``'s bytes set to defaults.

        The Snakemake rule passes this as its param, so changing ``quality`` re-runs only
        lossy outputs and ``pad_color`` only matters in pad mode.
        """
        changes: dict[str, Any] = {}
        if output_format(relpath) not in LOSSY:
            changes["quality"] = DEFAULT_SPEC.quality
        if self.mode != "pad":
            changes["pad_color"] = DEFAULT_SPEC.pad_color
        # Filters decide whether an output exists, not its bytes: the row's input size
        # says whether an image still passes them (current.py), with no image redone.
        changes.update({key: getattr(DEFAULT_SPEC, key) for key in FILTERS})
        return replace(self, **changes)

    @property
    def filters(self) -> bool:
        return any(getattr(self, key) != getattr(DEFAULT_SPEC, key) for key in FILTERS)

    def to_json(self) -> str:
        """The spec as JSON; keys added since the first release are left out at their
        defaults, so that an existing config's JSON (a param of the rules, the source
        of each output's fingerprint) is what it was, and nothing is redone."""
        data = asdict(self)
        for key in ADDED:
            if data[key] == asdict(DEFAULT_SPEC)[key]:
                del data[key]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ResizeSpec":
        return cls(**json.loads(text))


DEFAULT_SPEC = ResizeSpec()
FILTERS = ("min_size", "max_aspect_ratio", "max_area")
ADDED = ("only_shrink", *FILTERS)
# What a variant may set for itself (config's variants:); the rest is the run's.
VARIANT_KEYS = ("size", "mode", "resample", "format", "quality", "pad_color", "background",
                "only_shrink", *FILTERS)  # fmt: skip


def output_relpath(relpath: str, fmt: str) -> str:
    """Where an input's output goes, relative to output_dir: same path, new extension.

    ``format: same`` keeps the name when imageprep writes that format; an input of another
    format (``.mpo``, ``.ico``, ``.ppm``...) gets the extension of what it is written as.
    """
    stem, ext = os.path.splitext(relpath)
    if fmt != "same":
        return stem + FORMATS[fmt][1]
    if ext.lower() in WRITTEN:
        return relpath
    return stem + SAME_FALLBACK.get(ext.lower(), ".png")


def output_format(name: str) -> str:
    """The Pillow format an output named ``name`` is written in (from its extension)."""
    try:
        return WRITTEN[os.path.splitext(name)[1].lower()]
    except KeyError:
        raise ValueError(f"{name}: imageprep writes only {', '.join(WRITTEN)} files") from None
