"""The workflow's parse-time step: everything the Snakefile does before any rule runs, in one
place, for a standalone run and for each instance imported as a Snakemake module.

:func:`start` runs while Snakemake parses the workflow (also for ``--lint``,
``--list-rules`` and ``--report``), so it only reads: it checks the config, scans the input
folder, plans the outputs and refuses what cannot work, each failure one line before any job.
One exception: when refused inputs stop the run and are more than its message names, their
whole list is written to .imageprep/refused-inputs.tsv, which the message points to
(plan.Plan.refusal_message).
What a run must write before Snakemake compares dates (the plan files, the list of refused
inputs) is :meth:`Startup.prepare`, called from the rules' input functions, i.e. only
when Snakemake builds a DAG (a run, a dry run, a report). docs/architecture.md, "What a
parse does", lists both.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageprep.folder.bucket_side import mark_start, publish_plans
from imageprep.folder.folder_lock import FolderInUse, check_free, hold
from imageprep.folder.layout import IMAGES_LIST
from imageprep.folder.manifest import MANIFEST_CSV, Row, manifest_text
from imageprep.folder.records import FAILED_TSV, image_rows_path, read_record, record_path
from imageprep.folder.rows import output_fingerprint, refused_rows
from imageprep.folder.variants import Variant, Variants, named
from imageprep.image.atomic import writable_problem
from imageprep.image.diagnose import OutputError
from imageprep.image.transform import TRANSFORM_VERSION
from imageprep.run.claims import claim_output_dir
from imageprep.run.config import checked_config
from imageprep.run.per_image import per_image_refusal
from imageprep.run.plan import ConfigError, Plan, make_plan
from imageprep.run.plan_files import (
    take_bucket_rows,
    take_plan,
    write_if_changed,
    write_plan_files,
    write_plan_text,
)
from imageprep.run.refusals import snakemake_refusal, storage_refusal
from imageprep.run.shards import (
    PreviousRows,
    group_into_shards,
    kept_rows_path,
    refused_rows_path,
    shard_rows_path,
)
from imageprep.run.storage_mirror import Storage, mirror


class StartupError(Exception):
    """Why a run cannot start: one line (or a short list), no traceback. ``status``: the
    pool's exit status (2: the config; 1: the folder, or inputs refused in fail mode)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Startup:
    """What the rules of one instance need, computed once at parse time."""

    config: dict[str, Any]
    plan: Plan
    shards: dict[str, list[str]]  # shard name -> outputs; {} for the per-image rule
    main_process: bool  # False in a job's own Snakemake (on a cluster node)
    _prepared: bool = field(default=False, repr=False)

    @property
    def per_image(self) -> bool:
        return self.config["images_per_job"] == 1

    @property
    def skip(self) -> bool:
        return self.config["on_error"] == "skip"

    @property
    def variants(self) -> Variants:
        return self.plan.variants

    @property
    def output_dir(self) -> str:
        return self.plan.output_dir

    @property
    def manifests(self) -> list[str]:
        """Each variant's manifest.csv (output_dir's own without variants)."""
        return [f"{folder}/{MANIFEST_CSV}" for folder in self.plan.folders()]

    @property
    def metadata_files(self) -> list[str]:
        """What each variant's writer adds beside manifest.csv (files: Hugging Face
        imagefolder's metadata.csv; tars: nothing, Hugging Face reads them as they are)."""
        pairs = zip(self.variants, self.plan.folders(), strict=True)
        return [path for variant, folder in pairs for path in variant.writer.folder_files(folder)]

    @property
    def failed_manifests(self) -> list[str]:
        return [f"{folder}/{FAILED_TSV}" for folder in self.plan.folders()]

    @property
    def refused_rows(self) -> list[str]:
        """The inputs refused before any job, as each variant's manifest rows (read by rule
        manifest)."""
        return [refused_rows_path(folder) for folder in self.plan.folders()]

    @property
    def declares_rows(self) -> bool:
        """Whether a per-image job declares the image's rows (with variants or filters: an
        image has several outputs, or none), rather than the image or its record."""
        return self.per_image and (named(self.variants) or self.variants[0].spec.filters)

    @property
    def all_images(self) -> str:
        """The per-image rule's list of images, whose outputs rule manifest reads back."""
        return f"{self.output_dir}/{IMAGES_LIST}"

    def declared(self, out: str) -> str:
        """What a per-image job declares: the image (on_error: fail) or its outcome record
        (on_error: skip), since a skipped image has no file to declare; with variants or
        filters, the image's rows (records.image_rows_path)."""
        if self.declares_rows:
            return image_rows_path(self.output_dir, out)
        return record_path(self.output_dir, out) if self.skip else f"{self.output_dir}/{out}"

    @property
    def resized(self) -> list[str]:
        """What the resize jobs declare: each variant's rows per shard, or one file per
        image."""
        if self.per_image:
            return [self.declared(out) for out in self.plan.outputs]
        return [shard_rows_path(f, name) for name in self.shards for f in self.plan.folders()]

    @property
    def row_shards(self) -> dict[str, list[str]]:
        """The shards whose rows a run keeps, the same for both paths: the shard jobs', or
        with the per-image rule (which Snakemake tracks image by image) automatic ones."""
        if self.per_image:
            return group_into_shards(self.plan.outputs, self.config["images_per_job"])
        return self.shards

    def shard_rows(self, name: str) -> list[str]:
        """What one shard job declares: its rows in each variant's folder."""
        return [shard_rows_path(folder, name) for folder in self.plan.folders()]

    def prepare(self, dry_run: bool = False, default_storage: Storage | None = None) -> None:
        """Write what Snakemake compares before it decides which jobs to run, once per run
        and only in the main process: each shard's plan file (rewritten only when its
        content changed; its declared rows removed when an output it made is gone),
        the refused inputs' rows, the per-image rule's list of images; for the per-image
        rule, forget the declared file of an image that is not current (deleted, written
        by the pool with other settings, replaced behind the workflow's back; not in a dry
        run, which removes nothing). ``default_storage``: a default storage provider's, made to
        agree with the local side (storage_mirror.py). Raises StartupError (one line) on a
        write failure.
        """
        if self._prepared or not self.main_process:
            return
        self._prepared = True
        plan, out_dir = self.plan, self.output_dir
        try:
            hold(out_dir, f"snakemake in {os.getcwd()}")  # until this Snakemake ends
            take_bucket_rows(plan)  # an output folder in a bucket: its kept rows
            write_plan_files(
                plan,
                {
                    name: [(plan.outputs[out], out) for out in outs]
                    for name, outs in self.shards.items()
                },
                stats=not plan.demo,  # demo images are the shard jobs' declared inputs
            )
            if default_storage is not None:
                self._mirror(default_storage)
            for variant, path in zip(self.variants, self.refused_rows, strict=True):
                write_if_changed(path, manifest_text(refused_rows(plan.refused, variant)))
            if self.per_image:
                write_plan_text(self.all_images, [(r, o) for o, r in plan.outputs.items()])
                if self.skip and not self.declares_rows:
                    _forget_stale_records(out_dir, plan.outputs)
                if not dry_run:
                    self._forget_what_is_not_current()
        except (OutputError, ConfigError, FolderInUse) as exc:
            raise StartupError(str(exc)) from None
        except OSError as exc:  # the lock file cannot be made
            raise StartupError(str(OutputError(exc.filename, exc.strerror))) from None

    def _mirror(self, storage: Storage) -> None:
        """With a default storage provider: the plan files in the bucket, for the jobs on
        nodes (publish_plans); the storage's declared rows made to agree with the local
        side (storage_mirror.py); the kept rows as the run begins marked (the manifest job
        counts what the jobs made against them)."""
        folders = self.plan.folders()
        fresh = publish_plans(self.output_dir, self.shards)
        pairs = {
            name: [(declared, str(kept_rows_path(declared))) for declared in self.shard_rows(name)]
            for name in self.shards
        }
        mirror(storage, pairs, fresh)
        for folder in folders:
            mark_start(folder)

    def take_plan(self, name: str) -> None:
        """A shard job's own Snakemake with a default storage provider (on a node): its plan
        file from the bucket, before Snakemake looks for it. Raises StartupError."""
        try:
            take_plan(self.output_dir, name)
        except OutputError as exc:
            raise StartupError(str(exc)) from None

    def _forget_what_is_not_current(self) -> None:
        """The per-image rule and the folder's one bookkeeping: Snakemake tracks each image
        itself, so an image with a variant whose row (in the shards' rows, which the pool
        and the manifest job keep) says it was made with other settings, or whose output
        was written after its row, loses its declared file (the image, its record or its
        rows), and Snakemake makes it again."""
        plan, folders = self.plan, self.plan.folders()
        for name, keys in group_into_shards(plan.outputs, 1).items():
            previous = [PreviousRows(shard_rows_path(folder, name)) for folder in folders]
            for key in keys:
                rel = plan.outputs[key]
                for variant, kept, folder in zip(self.variants, previous, folders, strict=True):
                    if self._not_current(variant, kept.get(rel, key), folder):
                        Path(self.declared(key)).unlink(missing_ok=True)
                        break

    def _not_current(self, variant: Variant, found: tuple[Row, int] | None, folder: str) -> bool:
        if found is None or found[0].status != "ok":
            return False  # Snakemake (the declared file's date) or the job decides
        row, written = found
        try:
            changed = os.stat(f"{folder}/{row.output}").st_mtime_ns > written
        except OSError:  # gone: Snakemake sees that itself when the image is declared
            return self.declares_rows
        current = (output_fingerprint(variant.spec, row.output), TRANSFORM_VERSION)
        return changed or (row.fingerprint, row.transform_version) != current


def _forget_stale_records(output_dir: str, outputs: Mapping[str, str]) -> None:
    """A record that says "ok" for an image that is gone (deleted by the user) is dropped,
    so that the image is made again."""
    for out in outputs:
        record = record_path(output_dir, out)
        gone = os.path.exists(record) and not os.path.exists(f"{output_dir}/{out}")
        if gone and read_record(record)[0] == "ok":
            os.unlink(record)


def start(
    config: Mapping[str, Any],
    *,
    main_process: bool = True,
    module_name: str | None = None,
    workflow_id: int = 0,
    pool: bool = False,
    stored: bool = False,
) -> Startup:
    """The one start of a run, the Snakefile's parse and the pool command's (``pool``): check
    a copy of ``config`` (defaults filled), scan and plan, and refuse what cannot work.

    ``main_process``: False in a job's own Snakemake on a cluster node, where a shard job
    needs only its plan file: no scan, no probe of the output folder. ``module_name``: the
    instance's name in another workflow, in every message. ``stored``: Snakemake moves
    what the rules declare through a default storage provider. Raises StartupError.
    """
    invalid = f"Invalid config of module {module_name}" if module_name else "Invalid config"
    if module_name and not config:
        raise StartupError(
            f"{invalid}: none given; pass this instance's keys (at least input_dir and "
            "output_dir) with config: in the module statement",
            status=2,
        )
    try:
        config = checked_config(config)
    except ValueError as exc:
        raise StartupError(str(exc).replace("Invalid config", invalid, 1), status=2) from None
    # Only Snakemake's per-image rule declares each image: only it cannot write a shard
    # whole (tars), read a bucket, nor take names Snakemake cannot declare (the pool keeps
    # its rows in automatic shards).
    per_image = config["images_per_job"] == 1 and not pool
    if per_image and (why := per_image_refusal(config)):
        raise StartupError(f"{invalid}: {why}", status=2)
    if stored and (why := storage_refusal(config)):
        raise StartupError(f"{invalid}: {why}", status=2)
    try:
        # A shard job's own Snakemake (on a cluster node) reads its plan file, not the folder.
        refuse = snakemake_refusal if per_image else None
        plan = make_plan(config, refuse_name=refuse, scan=main_process or per_image)
    except (ConfigError, ValueError) as exc:
        raise StartupError(str(exc) if pool else f"{invalid}: {exc}", status=2) from None
    if main_process:
        if not pool:
            instance = module_name or "the main workflow"
            if overlap := claim_output_dir(workflow_id, plan.output_dir, instance):
                raise StartupError(overlap)
        if problem := writable_problem(plan.output_dir):
            raise StartupError(f"cannot write {plan.output_dir}: {problem}")
        try:  # a folder in use is neither planned into nor written (a dry run included)
            check_free(plan.output_dir)
        except FolderInUse as exc:
            raise StartupError(str(exc)) from None
    if plan.refused and config["on_error"] != "skip":
        raise StartupError(plan.refusal_message())
    shards = {} if per_image else group_into_shards(plan.outputs, config["images_per_job"])
    return Startup(config, plan, shards, main_process)
