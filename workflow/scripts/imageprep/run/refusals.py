"""What the Snakemake path cannot take, each as the one line its run stops with (the pool
command takes both): names the per-image rule cannot declare, and folders a default
storage provider's jobs cannot reach. The per-image rule's own limits are
per_image.per_image_refusal."""

from collections.abc import Mapping
from typing import Any

from imageprep.image.bucket import is_bucket


def snakemake_refusal(rel: str, out: str) -> str | None:
    """Names the per-image rule cannot declare (shards and the pool command take them):
    "{name}" reads as a wildcard and has no escape; a name that is not valid UTF-8 breaks
    Snakemake's metadata."""
    if "{" in rel or "{" in out:
        from snakemake.io import contains_wildcard

        if contains_wildcard(rel) or contains_wildcard(out):
            return (
                "name contains {...}, which Snakemake reads as a wildcard; rename the file "
                "(images_per_job other than 1, or workflow/scripts/pool.py, take it as it is)"
            )
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "name is not valid UTF-8, which Snakemake cannot track; rename the file "
            "(images_per_job other than 1, or workflow/scripts/pool.py, take it as it is)"
        )
    return None


def storage_refusal(config: Mapping[str, Any]) -> str | None:
    """What a default storage provider cannot take: its jobs may run where nothing of the
    working directory is, so the images must be in buckets, which the jobs read and write
    themselves (Snakemake's storage moves only the bookkeeping the rules declare). (The
    per-image rule, which would declare each image, takes no bucket: per_image_refusal.)"""
    for key in ("input_dir", "output_dir"):
        if not is_bucket(config[key]):
            return (
                f"{key}: {config[key]!r} is a local folder; with a default storage provider "
                "(--default-storage-provider) the jobs may run where it is not: give input_dir "
                "and output_dir as buckets (s3://bucket/prefix)"
            )
    return None
