# Config validation and the plan (imageprep.plan, shared with the pool command): everything
# here runs before any job starts, so a bad config, an unwritable output folder or a clash
# between outputs stops the run with one message and no work done.
import os
import sys
import threading
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import contains_wildcard
from snakemake_interface_executor_plugins.settings import DeploymentMethod
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))

from imageprep.atomic import check_writable  # noqa: E402
from imageprep.config import coerce_numbers, config_errors  # noqa: E402
from imageprep.diagnose import OutputError  # noqa: E402
from imageprep.manifest import MANIFEST_CSV, manifest_text, refused_rows  # noqa: E402
from imageprep.plan import (
    DEMO_DIR,
    ConfigError,
    make_plan,
    refusal_message,
)  # noqa: E402
from imageprep.records import FAILED_TSV, read_record, record_path  # noqa: E402
from imageprep.shards import (  # noqa: E402
    images_per_job,
    manifest_path,
    plan_path,
    shard_outputs,
    write_if_changed,
    write_plan_files,
    write_plan_text,
)
from imageprep.spec import WRITTEN, ResizeSpec  # noqa: E402
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


PER_IMAGE = config["images_per_job"] == 1  # the literal per-image rule
try:
    SPEC = ResizeSpec.from_config(config)
    # A shard job's own Snakemake (on a cluster node) reads its plan file, not the folder.
    SCAN = workflow.is_main_process or PER_IMAGE
    PLAN = make_plan(config, refuse_name=snakemake_refusal, scan=SCAN)
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
if SKIP and PER_IMAGE and workflow.is_main_process:  # not in a job's own Snakemake
    forget_stale_records(PLAN.outputs)
FAILED_MANIFEST = f"{OUTPUT_DIR}/{FAILED_TSV}"
MANIFEST = f"{OUTPUT_DIR}/{MANIFEST_CSV}"


def declared(out):
    """What a resize job declares for one output: the image itself (on_error: fail) or
    its outcome record (on_error: skip), since a skipped image has no file to declare.
    """
    return record_path(OUTPUT_DIR, out) if SKIP else f"{OUTPUT_DIR}/{out}"


IMAGES_PER_JOB = images_per_job(config["images_per_job"], len(PLAN.outputs))
SHARDS = {} if PER_IMAGE else shard_outputs(PLAN.outputs, IMAGES_PER_JOB)
# What the manifest job reads besides the resize jobs' outputs (the inputs refused before
# any job, and for the per-image rule the list of images, whose outputs it reads back).
REFUSED_ROWS = f"{OUTPUT_DIR}/.imageprep/refused.csv"
ALL_IMAGES = f"{OUTPUT_DIR}/.imageprep/images.tsv"
# Small files that say what each job does (imageprep.shards), written by the main process.
if workflow.is_main_process:
    try:
        write_plan_files(
            INPUT_DIR,
            OUTPUT_DIR,
            {
                name: [(PLAN.outputs[out], out) for out in outs]
                for name, outs in SHARDS.items()
            },
            stats=not PLAN.demo,  # demo images are the shard jobs' declared inputs instead
        )
        write_if_changed(
            REFUSED_ROWS,
            manifest_text(refused_rows(INPUT_DIR, PLAN.refused)),
        )
        if PER_IMAGE:
            write_plan_text(
                ALL_IMAGES, [(rel, out) for out, rel in PLAN.outputs.items()]
            )
    except (OutputError, ConfigError) as exc:
        raise WorkflowError(str(exc)) from None
# What the resize jobs declare: one manifest per shard, or one output (or record) per image.
RESIZED = (
    [declared(out) for out in PLAN.outputs]
    if PER_IMAGE
    else [manifest_path(OUTPUT_DIR, name) for name in SHARDS]
)
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


# An output image's name: not hidden, with an extension imageprep writes (so not the
# workflow's own files: manifest.csv, failed.tsv, .imageprep/).
OUTPUT_NAME = r"[^.].*\.(?i:" + "|".join(ext[1:] for ext in WRITTEN) + ")"


def cancel_scheduler_timers():
    """Stop the scheduler's pending re-evaluation timers: the run is over."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def workload_folder(wildcards):
    """A benchmark workload's images: its own folder (input_dir), or generated ones."""
    workload = config["workloads"].get(wildcards.workload, {})
    return workload.get("input_dir", f"resources/datasets/{wildcards.workload}")


def shard_inputs(wildcards):
    """A shard job's plan file; for the generated demo set, its images too (they are made
    by rule demo_images, so Snakemake orders the jobs and tracks their dates)."""
    members = SHARDS.get(wildcards.shard, []) if PLAN.demo else []
    return {
        "plan": plan_path(OUTPUT_DIR, wildcards.shard),
        "images": [PLAN.source(out) for out in members],
    }


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
    shard=r"\d+-of-\d+",
