# Config validation and input discovery: everything here runs before any job starts, so a
# bad config or a clash between outputs stops the run with one message and no work done.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake_interface_executor_plugins.settings import DeploymentMethod
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from inputs import (  # noqa: E402
    ConfigError,
    auto_images_per_job,
    check_dirs,
    find_images,
    plan_outputs,
    shard_outputs,
)
from resize import ResizeSpec  # noqa: E402
from settings import coerce_numbers, config_errors  # noqa: E402
from synthetic import demo_manifest  # noqa: E402

coerce_numbers(config)  # --config size=[224,224] arrives as strings
if errors := config_errors(config):
    raise WorkflowError("Invalid config:\n  " + "\n  ".join(errors))
validate(config, "../schemas/config.schema.yaml")

DEMO_DIR = "resources/demo"
INPUT_DIR = os.path.normpath(config["input_dir"])
OUTPUT_DIR = os.path.normpath(config["output_dir"])
BENCHMARK_DIR = os.path.normpath(config["benchmark"]["out_dir"])
DEMO = demo_manifest(config["demo"]["count"], config["demo"]["seed"])


def escape_braces(path):
    """A literal path as a Snakemake pattern: braces in file names are not wildcards."""
    return path.replace("{", "{{").replace("}", "}}")


def discover_inputs():
    """Relative paths of the images to process: the demo manifest or a folder scan."""
    if Path(INPUT_DIR).resolve() == Path(DEMO_DIR).resolve():
        return sorted(item.name for item in DEMO)
    if not Path(INPUT_DIR).is_dir():
        raise ConfigError(
            f"input_dir: {INPUT_DIR!r} is not a folder (from {Path.cwd()})"
        )
    found = find_images(INPUT_DIR, config["extensions"])
    if not found:
        raise ConfigError(
            f"input_dir: no files ending in {', '.join(config['extensions'])} "
            f"under {INPUT_DIR!r}"
        )
    return found


try:
    SPEC = ResizeSpec.from_config(config)
    check_dirs(INPUT_DIR, OUTPUT_DIR)
    PLAN = plan_outputs(discover_inputs(), SPEC.format)
except (ConfigError, ValueError) as exc:
    raise WorkflowError(f"Invalid config: {exc}") from None

RESIZED = [escape_braces(f"{OUTPUT_DIR}/{out}") for out in PLAN]
IMAGES_PER_JOB = config["images_per_job"] or auto_images_per_job(len(PLAN))
SHARDS = shard_outputs(PLAN, IMAGES_PER_JOB) if IMAGES_PER_JOB > 1 else {}
# The interpreter that runs this Snakefile runs the jobs too (a venv needs no activation);
# with --sdm conda, the rule's own env provides `python`.
PYTHON = (
    "python"
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    else sys.executable
)
RESIZE_SCRIPT = str(Path(workflow.basedir) / "workflow" / "scripts" / "resize.py")


def resize_input(wildcards):
    """The input image of one output; unknown names are not ours to make."""
    try:
        return escape_braces(f"{INPUT_DIR}/{PLAN[wildcards.image]}")
    except KeyError:
        raise WorkflowError(
            f"{OUTPUT_DIR}/{wildcards.image} has no input image in {INPUT_DIR}"
        ) from None


wildcard_constraints:
    workload=r"[A-Za-z0-9_-]+",
