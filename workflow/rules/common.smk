# Config validation and the plan (imageprep.plan, shared with the pool command): everything
# here runs before any job starts, so a bad config, an unwritable output folder or a clash
# between outputs stops the run with one message and no work done.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import contains_wildcard
from snakemake_interface_executor_plugins.settings import DeploymentMethod
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from imageprep.atomic import check_writable  # noqa: E402
from imageprep.config import coerce_numbers, config_errors  # noqa: E402
from imageprep.diagnose import OutputError  # noqa: E402
from imageprep.plan import (  # noqa: E402
    DEMO_DIR,
    ConfigError,
    auto_images_per_job,
    make_plan,
    refusal_message,
    shard_outputs,
)
from imageprep.records import (  # noqa: E402
    FAILED_TSV,
    merge_records,
    read_record,
    record_path,
)
from imageprep.spec import ResizeSpec  # noqa: E402
from imageprep.synthetic import demo_manifest  # noqa: E402
from imageprep.transform import TRANSFORM_VERSION  # noqa: E402

coerce_numbers(config)  # --config size=[224,224] arrives as strings
if errors := config_errors(config):
    raise WorkflowError("Invalid config:\n  " + "\n  ".join(errors))
validate(config, "../schemas/config.schema.yaml")

BENCHMARK_DIR = os.path.normpath(config["benchmark"]["out_dir"])
DEMO = demo_manifest(config["demo"]["count"], config["demo"]["seed"])


def snakemake_refusal(rel, out):
    """Names Snakemake cannot take (the pool command takes them): "{name}" reads as a
    wildcard and has no escape; a name that is not valid UTF-8 breaks its metadata."""
    if contains_wildcard(rel) or contains_wildcard(out):
        return (
            "name contains {...}, which Snakemake reads as a wildcard; "
            "rename the file (workflow/scripts/pool.py takes it as it is)"
        )
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "name is not valid UTF-8, which Snakemake cannot track; "
            "rename the file (workflow/scripts/pool.py takes it as it is)"
        )
    return None


def forget_stale_records(plan):
    """Skip mode: a record that says "ok" for an image that is gone (deleted by the user)
    is dropped, so that the image is made again."""
    for out in plan:
        record = record_path(OUTPUT_DIR, out)
        if os.path.exists(record) and not os.path.exists(f"{OUTPUT_DIR}/{out}"):
            if read_record(record)[0] == "ok":
                os.unlink(record)


try:
    SPEC = ResizeSpec.from_config(config)
    PLAN = make_plan(config, refuse_name=snakemake_refusal)
except (ConfigError, ValueError) as exc:
    raise WorkflowError(f"Invalid config: {exc}") from None
INPUT_DIR, OUTPUT_DIR = PLAN.input_dir, PLAN.output_dir  # normalised by the plan

if workflow.is_main_process:  # once per run, not in every job's own Snakemake
    try:
        check_writable(OUTPUT_DIR)
    except OutputError as exc:
        raise WorkflowError(str(exc)) from None
SKIP = config["on_error"] == "skip"
if PLAN.refused and not SKIP:
    raise WorkflowError(refusal_message(PLAN.refused.values()))
if SKIP and workflow.is_main_process:  # not in the jobs' own Snakemake (cluster nodes)
    forget_stale_records(PLAN.outputs)
FAILED_MANIFEST = f"{OUTPUT_DIR}/{FAILED_TSV}"


def declared(out):
    """What a resize job declares for one output: the image itself (on_error: fail) or
    its outcome record (on_error: skip), since a skipped image has no file to declare.
    """
    return record_path(OUTPUT_DIR, out) if SKIP else f"{OUTPUT_DIR}/{out}"


RESIZED = [declared(out) for out in PLAN.outputs]
IMAGES_PER_JOB = config["images_per_job"] or auto_images_per_job(len(PLAN.outputs))
SHARDS = shard_outputs(PLAN.outputs, IMAGES_PER_JOB) if IMAGES_PER_JOB > 1 else {}
# The interpreter that runs this Snakefile runs the jobs too (a venv needs no activation);
# with --sdm conda, the rule's own env provides `python`. Both paths reach the rules'
# command through the environment, not through params or the command's text: Snakemake
# re-runs a job whose params or command changed, and moving the checkout, recreating the
# venv or switching --sdm conda changes no output.
os.environ.update(
    IMAGEPREP_PYTHON=(
        "python"
        if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
        else sys.executable
    ),
    IMAGEPREP_SCRIPTS=str(Path(workflow.basedir) / "workflow" / "scripts"),
)
# What does change outputs, and so re-runs every image: the spec, and the transform's
# version (bumped whenever its output bytes change; tests/test_golden.py checks).
VERSION = str(TRANSFORM_VERSION)


def workload_folder(wildcards):
    """A benchmark workload's images: its own folder (input_dir), or generated ones."""
    workload = config["workloads"].get(wildcards.workload, {})
    return workload.get("input_dir", f"resources/datasets/{wildcards.workload}")


def resize_input(wildcards):
    """The input image of one output; unknown names are not ours to make."""
    try:
        return PLAN.source(wildcards.image)
    except KeyError:
        raise WorkflowError(
            f"{PLAN.target(wildcards.image)} has no input image in {INPUT_DIR}"
        ) from None


wildcard_constraints:
    workload=r"[A-Za-z0-9_-]+",
