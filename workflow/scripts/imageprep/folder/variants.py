"""Variants: the outputs one run makes of each image (config's ``variants:``), each with its
own settings, its own tree ``<output_dir>/<name>/`` and its own ``manifest.csv``. Without
``variants:`` there is one unnamed variant whose tree is output_dir itself, as before
variants existed. Every engine gets the same tuple of variants (:func:`from_config`) and
hands it whole to the transform, which decodes each image once for all of them."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imageprep.folder.writers import CONTAINERS, Writer, writer_for
from imageprep.image.spec import FILTERS, ResizeSpec, output_relpath

__all__ = ["CONTAINERS", "Variant", "Variants"]


@dataclass(frozen=True)
class Variant:
    name: str  # "" without variants: (the tree is output_dir itself)
    spec: ResizeSpec
    container: str = "files"  # how its outputs are kept: its writer (folder/writers/)

    def folder(self, output_dir: str) -> str:
        """This variant's tree: its outputs, manifest.csv, failed.tsv and bookkeeping."""
        return f"{output_dir}/{self.name}" if self.name else output_dir

    @property
    def writer(self) -> Writer:
        return writer_for(self.container)

    def output(self, rel: str) -> str:
        """The output of input ``rel``, as its writer names it: its path relative to this
        variant's folder, or in a tar its member's name (``<key>.<ext>``)."""
        return self.writer.output(rel, output_relpath(rel, self.spec.format))

    def key(self, rel: str, out: str) -> str:
        """The plan's key of the image (plan.plan_keys): its output without variants, its
        input with them."""
        return rel if self.name else out


Variants = tuple[Variant, ...]
DEFAULT_VARIANTS: Variants = (Variant("", ResizeSpec()),)


def named(variants: Sequence[Variant]) -> bool:
    """Whether the run has config's ``variants:`` (even one): its outputs go in named
    folders, and are made as variants (transform.resize_variants' ``shared``)."""
    return bool(variants[0].name)


def specs(variants: Sequence[Variant]) -> list[ResizeSpec]:
    return [v.spec for v in variants]


def from_config(config: Mapping[str, Any]) -> Variants:
    """The run's variants, sorted by name: each is the config's settings with its own
    overrides (the schema allows spec.VARIANT_KEYS); one unnamed variant without them."""
    container = config.get("container", "files")
    if not config.get("variants"):
        return (Variant("", ResizeSpec.from_config(config), container),)
    return tuple(
        Variant(name, ResizeSpec.from_config({**config, **overrides}), container)
        for name, overrides in sorted(config["variants"].items())
    )


def to_json(variants: Sequence[Variant]) -> str:
    """The jobs' --spec: one spec's JSON as before variants (so an existing config's rules
    keep their params), else a list of [name, spec]."""
    if not named(variants):
        return variants[0].spec.to_json()
    return json.dumps([[v.name, json.loads(v.spec.to_json())] for v in variants])


def from_json(text: str, container: str = "files") -> Variants:
    """The jobs' --spec back (the container comes apart: --container)."""
    data = json.loads(text)
    if isinstance(data, dict):
        return (Variant("", ResizeSpec(**data), container),)
    return tuple(Variant(name, ResizeSpec(**spec), container) for name, spec in data)


def image_param(variants: Sequence[Variant], rel: str) -> str:
    """What decides the outputs of input ``rel`` in every variant (the per-image rule's
    param, so a change re-runs the image's job, which redoes only the variants that
    changed): each spec as its output sees it (quality only for lossy formats), filters
    included. Without variants: the spec's JSON as before (no rerun after an upgrade)."""
    specs = [(v.name, _as_seen(v, rel)) for v in variants]
    if not named(variants):
        return specs[0][1].to_json()
    return json.dumps([[name, json.loads(spec.to_json())] for name, spec in specs])


def _as_seen(variant: Variant, rel: str) -> ResizeSpec:
    spec = variant.spec
    return replace(spec.for_output(variant.output(rel)), **{k: getattr(spec, k) for k in FILTERS})
