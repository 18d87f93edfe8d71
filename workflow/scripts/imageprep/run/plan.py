"""The plan: which images a run processes, where each output goes, which inputs are refused
before any work, and how outputs are grouped into shards. The Snakefile and the pool both
call :func:`make_plan`, so both see exactly the same job list."""

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageprep.folder.layout import REFUSED_LIST, output_folder, shown
from imageprep.folder.records import write_failed_tsv
from imageprep.folder.rows import InputStat
from imageprep.folder.variants import DEFAULT_VARIANTS, Variants, named
from imageprep.folder.variants import from_config as variants_from_config
from imageprep.image.bucket import is_bucket
from imageprep.image.diagnose import OutputError
from imageprep.image.spec import output_relpath
from imageprep.run.scan import ConfigError, Scan, scan_bucket, scan_images

DEMO_DIR = "resources/demo"  # the embedded demo set's folder (generated on first use)


def plan_keys(
    relpaths: Iterable[str], variants: Variants
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Key -> input, and the inputs left out (input -> (key, reason)). An image's key names
    it in the plan, the shards and the per-image rule: its output without variants (as
    before they existed), its input path with them (each variant's output is derived from
    it). An input that would share an output with another in any variant is left out;
    where the writer names outputs by their whole input path (a tar's member, its key:
    tar_files.sample_key), the key is the input path and no two inputs share one."""
    if variants[0].writer.unique_names:
        return {rel: rel for rel in relpaths}, {}
    if not named(variants):
        return plan_outputs(relpaths, variants[0].spec.format)
    relpaths = list(relpaths)
    refused: dict[str, tuple[str, str]] = {}
    for fmt in sorted({v.spec.format for v in variants}):
        for rel, (_, why) in plan_outputs(relpaths, fmt)[1].items():
            refused.setdefault(rel, (rel, why))
    return {rel: rel for rel in relpaths if rel not in refused}, refused


def plan_outputs(
    relpaths: Iterable[str], fmt: str
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Output -> input (relative to output_dir and input_dir), and the inputs left out:
    input -> (output, reason). Several inputs that would write one output (``a.jpg`` and
    ``a.png`` with ``format: jpeg``; ``photo.tga`` and ``photo.png`` with ``format: same``)
    are all left out, each with a reason naming the others: no run picks one by chance."""
    outputs: dict[str, str] = {}
    shared: dict[str, list[str]] = {}  # output -> its inputs, where there are several
    for rel in relpaths:
        out = output_relpath(rel, fmt)
        if out in outputs:
            shared.setdefault(out, [outputs[out]]).append(rel)
        else:
            outputs[out] = rel
    clashes = {}
    for out, rels in shared.items():
        del outputs[out]
        for rel in rels:
            others = ", ".join(other for other in rels if other != rel)
            why = f"would write {out}, as {others} would too (format: {fmt}); rename one"
            clashes[rel] = (out, why)
    return outputs, clashes


SHOWN = 5  # refusals named in the message that stops a run; the rest go to a file


@dataclass
class Plan:
    """One run's work: key -> input (plan_keys: without variants, the key is the output
    relative to output_dir), and the inputs refused before any work, input -> (its key,
    the reason); the variants each image is made into."""

    input_dir: str
    output_dir: str
    outputs: dict[str, str]
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    demo: bool = False  # input_dir is the generated demo set (its files may not exist yet)
    variants: Variants = DEFAULT_VARIANTS
    stats: dict[str, InputStat] | None = None  # input_dir is a bucket: its listing

    def refusals(self) -> list[tuple[str, str]]:
        """(input path, reason) of every refused input, sorted."""
        return sorted((f"{self.input_dir}/{rel}", why) for rel, (_, why) in self.refused.items())

    def refusal_message(self) -> str:
        """What stops a run in fail mode when inputs are refused: how many, the first few
        (one line each), and where the whole list was written (failed.tsv's format), so
        that a folder with thousands never gives a message of thousands of lines."""
        rows = self.refusals()
        lines = [
            f"{len(rows)} input(s) cannot be processed (on_error: skip would process the "
            "others and list these in failed.tsv):",
            *(f"  {src}: {why}" for src, why in rows[:SHOWN]),
        ]
        if len(rows) > SHOWN:
            path = f"{self.output_dir}/{REFUSED_LIST}"
            try:
                write_failed_tsv(path, rows)
                lines.append(f"  ... and {len(rows) - SHOWN} more: all {len(rows)} in {path}")
            except OutputError as exc:
                lines.append(f"  ... and {len(rows) - SHOWN} more (no list: {exc})")
        return "\n".join(lines)

    def source(self, out: str) -> str:
        return f"{self.input_dir}/{self.outputs[out]}"

    def target(self, out: str) -> str:
        return f"{self.output_dir}/{out}"

    def pairs(self) -> list[tuple[str, str]]:
        """(input path, output path) of every image to make, in output order."""
        return [(self.source(out), self.target(out)) for out in self.outputs]

    def outs(self, rel: str) -> list[str]:
        """Input ``rel``'s output in each variant, relative to the variant's folder."""
        return [v.output(rel) for v in self.variants]

    def folders(self) -> list[str]:
        """Each variant's folder: its outputs, manifest.csv and rows."""
        return [v.folder(self.output_dir) for v in self.variants]

    @property
    def output_name(self) -> str:
        """output_dir as the user names it: a bucket folder's URL, not its local side."""
        return shown(self.output_dir)


def is_demo(input_dir: str | os.PathLike) -> bool:
    return Path(input_dir).resolve() == Path(DEMO_DIR).resolve()


def make_plan(
    config: Mapping[str, Any],
    refuse_name: Callable[[str, str], str | None] | None = None,
    scan: bool = True,
) -> Plan:
    """The plan for a validated config. ``refuse_name(input, output)`` (relative paths) may
    refuse names one path cannot take: Snakemake cannot declare ``{word}``. ``scan=False``:
    the folders only, no images (a shard job on a cluster node reads its own plan file).

    Raises ConfigError (one line, naming the key) when the folders or names cannot work.
    """
    bucket = is_bucket(config["input_dir"])
    input_dir = config["input_dir"].rstrip("/") if bucket else os.path.normpath(config["input_dir"])
    output_url = config["output_dir"].rstrip("/")
    output_dir = output_folder(output_url)  # a bucket's: its local side
    demo = not bucket and is_demo(input_dir)
    variants = variants_from_config(config)
    if (bucket or is_bucket(output_url)) and config.get("s3_endpoint_url"):
        os.environ["AWS_ENDPOINT_URL"] = config["s3_endpoint_url"]  # (jobs inherit it)
    if not scan:
        return Plan(input_dir, output_dir, {}, {}, demo, variants)
    if is_bucket(output_url) or bucket:
        check_urls(input_dir, output_url)
    else:
        check_dirs(input_dir, output_dir)
    if bucket:
        found = scan_bucket(input_dir, config["extensions"])
        if not found.images:
            raise ConfigError(
                f"input_dir: no objects ending in {', '.join(config['extensions'])} "
                f"under {input_dir!r}"
            )
    elif demo:
        from imageprep.image.synthetic import demo_catalog

        items = demo_catalog(config["demo"]["count"], config["demo"]["seed"])
        found = Scan(sorted(item.name for item in items))
    elif not Path(input_dir).is_dir():
        raise ConfigError(f"input_dir: {input_dir!r} is not a folder (from {Path.cwd()})")
    else:
        found = scan_images(input_dir, config["extensions"])
        if not found.images:
            raise ConfigError(
                f"input_dir: no files ending in {', '.join(config['extensions'])} "
                f"under {input_dir!r}"
            )
    outputs, refused = plan_keys(found.images, variants)
    for out, rel in list(outputs.items()):
        reason = found.refused.get(rel) or (refuse_name and refuse_name(rel, out))
        if reason:
            refused[rel] = (out, reason)
            del outputs[out]
    for variant in variants:
        if why := variant.writer.refuse(variant.output(rel) for rel in outputs.values()):
            key = f"variants.{variant.name}.format" if variant.name else "format"
            raise ConfigError(f"{key}: {why}")
    return Plan(input_dir, output_dir, outputs, refused, demo, variants, found.stats)


def check_urls(input_dir: str, output_url: str) -> None:
    """check_dirs for a bucket: neither prefix holds the other."""
    if not (is_bucket(input_dir) and is_bucket(output_url)):
        return
    src, dst = f"{input_dir}/", f"{output_url}/"
    if dst.startswith(src) or src.startswith(dst):
        raise ConfigError(
            f"output_dir: {output_url!r} and input_dir {input_dir!r} overlap; outputs would be "
            "read back as inputs, or inputs overwritten. Choose prefixes apart."
        )


def check_dirs(input_dir: str | os.PathLike, output_dir: str | os.PathLike) -> None:
    """Refuse an output_dir inside (or equal to) input_dir, and the reverse: outputs would be
    read back as inputs, or inputs overwritten."""
    src, dst = Path(input_dir).resolve(), Path(output_dir).resolve()
    if dst == src or src in dst.parents:
        raise ConfigError(
            f"output_dir: {output_dir!r} is inside input_dir {input_dir!r}; outputs would be "
            "picked up as inputs on the next run. Choose a folder outside input_dir."
        )
    if dst in src.parents:
        raise ConfigError(
            f"output_dir: {output_dir!r} contains input_dir {input_dir!r}; outputs could "
            "overwrite inputs. Choose a folder that does not contain input_dir."
        )
