"""One source for config values: the schema defines every key, default and allowed value;
the shipped config, the spec and the config reference are checked against it, so a new key
or mode is one edit in the schema plus its docs and code."""

import re
from dataclasses import fields

import pytest
import yaml

from helpers import REPO
from imageprep.image.spec import FORMATS, MODES, RESAMPLE, VARIANT_KEYS, ResizeSpec
from imageprep.run.config import checked_config, load_schema

SCHEMA = load_schema()
PROPS = SCHEMA["properties"]


def schema_keys(schema: dict, prefix: str = "") -> dict[str, dict]:
    """Every documented key, nested ones as ``benchmark.workload``."""
    keys = {}
    for key, prop in schema.get("properties", {}).items():
        keys[prefix + key] = prop
        if prop.get("type") == "object" and "properties" in prop:
            keys |= schema_keys(prop, f"{prefix}{key}.")
    return keys


def test_the_shipped_config_holds_the_schemas_defaults():
    """A standalone run and a module given only input_dir and output_dir must agree on every
    other key: what config/config.yaml sets, it sets to the schema's default."""
    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    dirs = {key: shipped[key] for key in SCHEMA["required"]}
    assert checked_config(shipped) == checked_config(dirs)


def test_the_resize_spec_has_the_schemas_keys_defaults_and_values():
    for field in fields(ResizeSpec):
        default = PROPS[field.name]["default"]
        assert field.default == (tuple(default) if isinstance(default, list) else default), field
    assert list(MODES) == PROPS["mode"]["enum"]
    assert list(RESAMPLE) == PROPS["resample"]["enum"]
    assert ["same", *FORMATS] == PROPS["format"]["enum"]


def reference_rows() -> dict[str, str]:
    """The config reference's table (config/README.md): key cell -> the whole row."""
    text = (REPO / "config" / "README.md").read_text()
    table = text.split("| key | meaning | default | example |")[1].split("\n\n")[0]
    rows = {}
    for line in table.splitlines():
        if m := re.match(r"^\| (`[^|]+`) \|", line):
            for key in re.findall(r"`([^`]+)`", m[1]):
                rows[re.sub(r"<\w+>$", "", key).rstrip(".")] = line
    return rows


def test_the_config_reference_documents_every_key_and_no_other():
    rows = reference_rows()
    # An object with its own keys (benchmark, demo) is documented key by key.
    keys = {k for k, prop in schema_keys(SCHEMA).items() if "properties" not in prop}
    assert set(rows) == keys


def written(value) -> list[str]:
    """How the reference's default column writes a schema default: scalars verbatim,
    ``[600, 600]`` for a pair of numbers, each item for a list of names."""
    if isinstance(value, bool):
        return [f"`{str(value).lower()}`"]
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return [f"`[{', '.join(map(str, value))}]`"]
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):  # workloads: each named
        return [f"`{name}`" for name in value]
    return [f"`{value}`"]


@pytest.mark.parametrize(
    "key",
    [
        k
        for k, prop in schema_keys(SCHEMA).items()
        if "default" in prop and "properties" not in prop
    ],
)
def test_the_config_reference_gives_each_default_in_its_default_column(key):
    default = schema_keys(SCHEMA)[key]["default"]
    cell = reference_rows()[key].split(" | ")[2]  # key | meaning | default | example
    if key == "benchmark.engines":
        assert cell == "all" and set(default) == set(
            PROPS["benchmark"]["properties"]["engines"]["items"]["enum"]
        )
        return
    for text in written(default):
        assert text in cell, (key, cell)


def test_the_variants_example_of_the_reference_is_valid_and_lists_what_a_variant_may_set():
    text = (REPO / "config" / "README.md").read_text()
    example = re.search(r"## Variants\n\n```yaml\n(.*?)```", text, re.S)[1]
    config = checked_config(yaml.safe_load(example))
    assert sorted(config["variants"]) == ["eval", "thumbs", "train"]
    allowed = SCHEMA["properties"]["variants"]["additionalProperties"]["properties"]
    assert sorted(allowed) == sorted(VARIANT_KEYS)
    row = next(line for line in text.splitlines() if line.startswith("| `variants` |"))
    assert all(f"`{key}`" in row for key in VARIANT_KEYS)
