"""Config handling shared by the Snakefile and the Python engines: one schema, one set of
defaults, one set of checks, whichever way the workflow is started (standalone, as a
Snakemake module, the pool command, the benchmark)."""

import argparse
import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[4]  # imageprep/run/config.py in workflow/scripts
SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "false": False}
# Mappings whose entries override the run's settings: a key they leave out takes the run's
# value, not the schema's default (variants: {thumbs: {size: ...}} keeps the run's format).
OVERRIDES = {"variants"}


def load_schema() -> dict[str, Any]:
    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def coerce_numbers(config: dict[str, Any], schema: dict[str, Any] | None = None) -> None:
    """Turn integer-looking strings into ints, and true/false into booleans, where the
    schema wants them, in place.

    ``snakemake --config size=[224,224]`` parses list items as strings ('224'); without this
    the most natural command line would fail validation.
    """
    schema = load_schema() if schema is None else schema
    properties = schema.get("properties", {})
    for key, prop in properties.items():
        if key in config:
            config[key] = _coerce(config[key], prop)
    if isinstance(other := schema.get("additionalProperties"), dict):  # variants.<name>
        for key, value in config.items():
            if key not in properties:
                config[key] = _coerce(value, other)


def _coerce(value: Any, prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if kind == "integer" and isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    if kind == "boolean" and isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]  # --config jpeg_draft=false arrives as 'false'

    if kind == "array" and isinstance(value, list) and "items" in prop:
        return [_coerce(v, prop["items"]) for v in value]
    if kind == "object" and isinstance(value, dict):
        coerce_numbers(value, prop)
    return value


def config_errors(config: dict[str, Any], schema: dict[str, Any] | None = None) -> list[str]:
    """Every schema violation as one line that starts with the offending key."""
    schema = load_schema() if schema is None else schema
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        if error.validator == "additionalProperties":
            known = ", ".join(sorted(error.schema.get("properties", {})))
            lines.append(f"{where.lstrip('.') or 'config'}: {error.message}; known keys: {known}")
        elif error.validator == "required":
            lines.append(f"{where.lstrip('.') or 'config'}: {error.message}")
        else:
            lines.append(f"{where.lstrip('.')}: {error.message}")
    return lines


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; any problem is a ValueError of one line that names the
    file (and line and column), as Snakemake reports a bad config file."""
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValueError(f"{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: a config file must be a mapping of keys, not {type(data).__name__}"
        )
    return data


def fill_defaults(config: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Set every key the schema gives a default and ``config`` lacks, in nested objects too,
    in place: a module's parent passes only the keys it changes, and every other key must
    take the value a standalone run would use."""
    properties = schema.get("properties", {})
    for key, prop in properties.items():
        if key not in config and "default" in prop:
            config[key] = copy.deepcopy(prop["default"])
        if isinstance(config.get(key), dict) and key not in OVERRIDES:
            fill_defaults(config[key], prop)
    if isinstance(other := schema.get("additionalProperties"), dict):  # workloads.<name>
        for key, value in config.items():
            if key not in properties and isinstance(value, dict):
                fill_defaults(value, other)


def checked_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A checked copy of ``config`` with the schema's defaults filled in: numbers coerced,
    every violation one line naming its key (ValueError). The caller's mapping is untouched
    (a parent workflow's config, for a module)."""
    if not isinstance(config, Mapping):
        raise ValueError(
            f"Invalid config:\n  config: a mapping of keys is needed, not {type(config).__name__}"
        )
    schema = load_schema()
    config = copy.deepcopy(dict(config))
    coerce_numbers(config, schema)
    if errors := config_errors(config, schema):
        raise ValueError("Invalid config:\n  " + "\n  ".join(errors))
    fill_defaults(config, schema)
    return config


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A config file with ``overrides`` merged in as ``snakemake --config`` merges them
    (nested keys too), checked exactly as the Snakefile checks it, defaults filled."""
    config = read_yaml(path)
    if overrides:
        from snakemake.utils import update_config

        update_config(config, overrides)
    return checked_config(config)


def parse_overrides(entries: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` words parsed exactly as ``snakemake --config`` parses them (its own
    parser: numbers, booleans, YAML lists and mappings), so one command line works both
    ways. ValueError of one line when an entry is not KEY=VALUE."""
    from snakemake.cli import parse_config

    try:
        return parse_config(entries)
    except ValueError as exc:
        raise ValueError(f"--config: {exc}") from None
    except AssertionError:  # its parser reads a value starting with # as a YAML comment
        bad = next((e for e in entries if e.partition("=")[2].strip("'\"").startswith("#")), "")
        raise ValueError(
            f"--config {bad}: a value starting with # is a YAML comment to snakemake's "
            "--config parser; write the colour as rgb(r,g,b) or a name, or set it in the "
            "config file"
        ) from None


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """The config options every imageprep command takes, as snakemake does."""
    p.add_argument(
        "--configfile",
        default=str(DEFAULT_CONFIG),
        help="the config file (default: the workflow's config/config.yaml)",
    )
    p.add_argument(
        "--config",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config keys, exactly as snakemake --config does (size=[224,224] ...)",
    )
    p.add_argument("--output-dir", help="overrides output_dir of the config")


def config_from_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The checked config of a command's options (add_config_arguments, and --input-dir or
    --on-error where the command has them). ValueError of one line where it cannot be."""
    overrides = parse_overrides(args.config) if args.config else {}
    for key in ("input_dir", "output_dir", "on_error"):
        if getattr(args, key, None):
            overrides[key] = getattr(args, key)
    return load_config(args.configfile, overrides)
