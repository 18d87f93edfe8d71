# The parse-time step, in one place: find imageprep's own files, then imageprep.run.startup checks
# the config, scans the input folder and plans the run (reading only). The rule files
# declare rules from what it returns. docs/architecture.md, "What a parse does", says what
# a parse reads and writes, standalone and as a module of another workflow.
import hashlib
import os
import sys
import threading
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.sourcecache import LocalSourceFile
from snakemake_interface_executor_plugins.settings import DeploymentMethod

INSTANCE = "imageprep" if STANDALONE else __name__
SOURCE_FILES = "workflow/source-files.txt"  # what a remote checkout must provide


def imageprep_root():
    """This workflow's own checkout, found from this file, never from the working directory
    or a parent workflow's folder. A remote Snakefile (github(...), gitfile(...)) is read
    through Snakemake's source cache: the files the jobs run (SOURCE_FILES) are copied into
    .snakemake/imageprep/<hash of the source>/, rewritten only where they changed."""
    here = workflow.current_basedir  # workflow/rules of this checkout
    if isinstance(here, LocalSourceFile):
        return Path(here.get_path_or_uri(secret_free=True)).parents[1]
    source = here.join("../..")
    uri = source.get_path_or_uri(secret_free=True)
    root = Path(
        ".snakemake", "imageprep", hashlib.sha256(uri.encode()).hexdigest()[:16]
    )
    listing = workflow.sourcecache.open(source.join(SOURCE_FILES)).read().splitlines()
    for rel in (line for line in listing if line and not line.startswith("#")):
        with open(workflow.sourcecache.get_path(source.join(rel)), "rb") as fh:
            data = fh.read()
        local = root / rel
        if not local.is_file() or local.read_bytes() != data:
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(data)
    return root.absolute()


SCRIPTS = imageprep_root() / "workflow" / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))
# A parse writes nothing outside .snakemake/, so no __pycache__ in the checkout either (the
# jobs' own interpreters cache the package's bytecode when a run starts them).
WROTE_BYTECODE, sys.dont_write_bytecode = sys.dont_write_bytecode, True

import imageprep  # noqa: E402

if Path(imageprep.__file__).resolve().parent != (SCRIPTS / "imageprep").resolve():
    raise WorkflowError(
        f"{INSTANCE}: imageprep is already imported from {Path(imageprep.__file__).parent}, "
        f"not from {SCRIPTS}; one workflow can use one imageprep checkout"
    )

from imageprep.folder import layout  # noqa: E402
from imageprep.folder.closing import last_run_line  # noqa: E402
from imageprep.run.console import install as short_console  # noqa: E402
from imageprep.run.plan import DEMO_DIR  # noqa: E402
from imageprep.image.resampler import NAME as RESAMPLER  # noqa: E402
from imageprep.folder.run_report import report_files  # noqa: E402
from imageprep.run.shards import shard_rows_path  # noqa: E402
from imageprep.run.plan_files import plan_path  # noqa: E402
from imageprep.image.spec import WRITTEN  # noqa: E402
from imageprep.run.claims import first_claim  # noqa: E402
from imageprep.run.startup import StartupError, start  # noqa: E402
from imageprep.run.storage_mirror import Storage  # noqa: E402
from imageprep.image.synthetic import demo_catalog  # noqa: E402
from imageprep.image.transform import TRANSFORM_VERSION  # noqa: E402
from imageprep.folder.variants import (
    image_param,
    named,
    to_json as variants_json,
)  # noqa: E402

# --default-storage-provider (a cluster without a shared file system): Snakemake moves what
# the rules declare through it; the images stay in their buckets (docs/cluster.md).
STORAGE = workflow.storage_registry.default_storage_provider
# This instance's own path modifier (a module's, while it is parsed): how it declares a path.
PATHS = workflow.modifier.path_modifier
try:
    RUN = start(
        config,
        main_process=workflow.is_main_process,
        module_name=None if STANDALONE else INSTANCE,
        workflow_id=id(workflow),
        stored=STORAGE is not None,
    )
except StartupError as exc:
    raise WorkflowError(str(exc)) from None
finally:
    sys.dont_write_bytecode = WROTE_BYTECODE
# Checked, with the schema's defaults filled in; the caller's mapping is left as it was.
config = RUN.config
PLAN, SHARDS, VARIANTS = RUN.plan, RUN.shards, RUN.variants
PER_IMAGE, SKIP = RUN.per_image, RUN.skip
INPUT_DIR, OUTPUT_DIR = PLAN.input_dir, PLAN.output_dir  # normalised by the plan
# output_dir as the user wrote it: OUTPUT_DIR is a bucket folder's local side (layout.py)
OUTPUT_SHOWN = PLAN.output_name
RUN_STARTED = time.time()  # the closing line says what the manifest job did since
# A standalone run's terminal: progress, errors and the closing line; the job-by-job detail
# in Snakemake's log (imageprep.run.console). --verbose shows it all.
CONSOLE = None
if STANDALONE and workflow.is_main_process and not workflow.output_settings.verbose:
    CONSOLE = short_console(
        workflow.logger_manager.logger.handlers,
        lambda: run_summary(),
        f"interrupted: the images made so far in {OUTPUT_SHOWN} are kept and will not be made "
        "again; run the same command to do the rest",
    )
# One manifest.csv (and failed.tsv) per variant: output_dir's own without variants.
# local(): rule manifest writes them where it runs, in the main process's working directory
# (a bucket folder's local side), never in a default storage provider's storage; with a
# bucket folder it puts them in the bucket itself.
MANIFESTS, FAILED_MANIFESTS, METADATA_FILES, REFUSED_ROWS = (
    [local(path) for path in paths]
    for paths in (
        RUN.manifests,
        RUN.failed_manifests,
        RUN.metadata_files,
        RUN.refused_rows,
    )
)
RESIZED = RUN.resized
# What every job is told to make: the spec, or each variant's ([[name, spec], ...]).
SPEC_JSON = variants_json(VARIANTS)
# What changes outputs, and so re-runs every image: the spec, the transform's version
# (bumped whenever its output bytes change; tests/test_golden.py checks) and the resampler
# (fast_image_resize, or Pillow's where it is not installed: imageprep.image.resampler).
VERSION = f"{TRANSFORM_VERSION} {RESAMPLER}"
# snakemake --report: a run's results under the instance's name, a subcategory per variant.
REPORT_CATEGORY = "imageprep" if STANDALONE else INSTANCE
# Logs, benchmarks and snakemake --report's files of one run never meet another's: a
# standalone run keeps them in its output folder (two runs into two folders share none, and
# --report shows the folder of the config it is given); a module's go under its name.
LOGS, REPORTS, BENCHMARKS = (
    f"{OUTPUT_DIR}/{kept}" if STANDALONE else f"{Path(kept).name}/{INSTANCE}"
    for kept in (layout.LOGS, layout.REPORTS, layout.BENCHMARKS)
)
BENCHMARK_DIR = os.path.normpath(config["benchmark"]["out_dir"])
DEMO = demo_catalog(config["demo"]["count"], config["demo"]["seed"])
# One rule makes the demo images for every instance that reads them (two rules for one
# file would be ambiguous to Snakemake).
DEMO_KEY = f"{DEMO_DIR} {config['demo']['count']} {config['demo']['seed']}"
DEMO_RULE = STANDALONE or (PLAN.demo and first_claim(id(workflow), DEMO_KEY))
# The interpreter that runs this Snakefile runs the jobs too (a venv needs no activation);
# with --sdm conda, the rule's own env provides `python`. Both reach the rules' command
# through the environment, not through params or the command's text: Snakemake re-runs a
# job whose params or command changed, and moving the checkout, recreating the venv or
# switching --sdm conda changes no output. Every instance in one workflow uses the same
# checkout (checked above), so they agree on both.
os.environ.update(
    IMAGEPREP_PYTHON=(
        "python"
        if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
        else sys.executable
    ),
    IMAGEPREP_SCRIPTS=str(SCRIPTS),
)
# An output image's name: not hidden, with an extension imageprep writes (so not the
# workflow's own files: manifest.csv, failed.tsv, .imageprep/). With variants or filters the
# per-image rule's wildcard is the input's name (its rows are declared, not its images).
OUTPUT_NAME = r"[^.].*\.(?i:" + "|".join(ext[1:] for ext in WRITTEN) + ")"
IMAGE_NAME = r"[^.].*" if RUN.declares_rows else OUTPUT_NAME
# The most threads a job can ask for: Snakemake gives a local job at most --cores, and
# unlike workflow.cores this needs no --cores (snakemake --report has none).
ALL_CORES = os.cpu_count() or 1


def run_summary():
    """The closing line of a run (imageprep.folder.closing), the pool command's words. With
    a default storage provider the jobs' logs may be elsewhere: the manifest job counts
    what they made from their rows (imageprep.run.merge.made_elsewhere)."""
    logs = f"{LOGS}/resize" if STORAGE is None else None
    return last_run_line(OUTPUT_DIR, RUN_STARTED, named(VARIANTS), logs)


def prepared():
    """Write what Snakemake compares dates against (plan files, refused inputs): once, when
    it first asks for a job's input, so only when it builds a DAG (imageprep.run.startup);
    with a default storage provider, in its storage too (imageprep.run.storage_mirror).
    """
    try:
        RUN.prepare(
            dry_run=workflow.dryrun,
            default_storage=(
                None
                if STORAGE is None
                else Storage(declared_in_storage, workflow.iocache)
            ),
        )
    except StartupError as exc:
        raise WorkflowError(str(exc)) from None


def declared_in_storage(path):
    """The storage object Snakemake moves a declared path through."""
    return PATHS.modify(path).flags["storage_object"]


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
    by rule demo_images, so Snakemake orders the jobs and tracks their dates). With a
    default storage provider, none: Snakemake's scheduler asks the storage about a waiting
    job's inputs each second, and a local input would keep the job off the nodes; the main
    process drops a shard's rows there when its plan file changes, and a job's own
    Snakemake on a node takes its plan file from the bucket (imageprep.run.storage_mirror).
    """
    prepared()
    if STORAGE is not None:
        if not workflow.is_main_process:  # a job's own, on a node
            try:
                RUN.take_plan(wildcards.shard)
            except StartupError as exc:
                raise WorkflowError(str(exc)) from None
        return {}
    members = SHARDS.get(wildcards.shard, []) if PLAN.demo else []
    return {
        "plan": plan_path(OUTPUT_DIR, wildcards.shard),
        "images": [PLAN.source(out) for out in members],
    }


def image_spec(wildcards):
    """What shapes one image's outputs (a param: a change re-runs the image's job)."""
    return image_param(VARIANTS, PLAN.outputs.get(wildcards.image, wildcards.image))


def resize_input(wildcards):
    """The input image of one output; unknown names are not ours to make."""
    prepared()
    try:
        return PLAN.source(wildcards.image)
    except KeyError:
        raise WorkflowError(
            f"{PLAN.target(wildcards.image)} has no input image in {INPUT_DIR}"
        ) from None


def rows_root(wildcards, input):
    """Where the manifest job finds the shards' rows, before their declared path: "" (where
    declared), or a default storage provider's local copies (.snakemake/storage/...)."""
    if STORAGE is None or not input.parts:
        return ""
    here, declared = str(input.parts[0]), os.path.normpath(RESIZED[0])
    if not here.endswith(declared):
        raise WorkflowError(
            f"{INSTANCE}: the storage's copy {here} is not of {declared}"
        )
    return here[: -len(declared)]


def manifest_inputs(wildcards):
    """The manifest job's inputs: the resize jobs' outputs, the inputs refused before any
    job, and for the per-image rule the list of images, whose outputs it reads back."""
    prepared()
    return {
        "refused": REFUSED_ROWS,
        "images": RUN.all_images if PER_IMAGE else [],
        "parts": RESIZED,
    }


wildcard_constraints:
    workload=r"[A-Za-z0-9_-]+",
    shard=r"\d+-of-\d+",
