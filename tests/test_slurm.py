"""The workflow on a real SLURM cluster: slurmctld, slurmd and munged started on this machine
by tests/cluster/up.sh, jobs submitted by snakemake-executor-plugin-slurm with
profiles/slurm. Skipped with the reason when no cluster can be had (see conftest.slurm);
CI brings one up and requires these tests to run."""

import re

import pytest
from PIL import Image

from helpers import (
    REPO,
    SECRET,
    bucket_digests,
    digests,
    own,
    run_snakemake,
    storage_args,
    write_config,
)
from imagefactory import bad_inputs, photo
from imageprep.folder.records import read_failed_tsv

NAMES = ["a.jpg", "b.png", "nested/c.jpg", "with space ü.jpeg", "e.jpg", "f.jpg"]
# The profile as shipped, checking job status sooner (the run is seconds, not hours), and a
# hard stop: a Snakemake waiting on a cluster ignores SIGTERM.
ON_SLURM = (
    "--profile",
    str(REPO / "profiles" / "slurm"),
    "--slurm-init-seconds-before-status-checks",
    "1",
)
TIMEOUT = ["timeout", "-s", "INT", "-k", "30", "240"]


def on_slurm(workdir, slurm, *args, check=True):
    return run_snakemake(workdir, *ON_SLURM, *args, check=check, prefix=TIMEOUT, env=slurm)


def submissions(proc) -> set[str]:
    """SLURM job ids Snakemake submitted (from its own log: no accounting database here)."""
    return set(re.findall(r"has been submitted with SLURM jobid (\d+)", proc.stderr))


@pytest.fixture
def photos(workdir):
    for i, name in enumerate(NAMES):
        photo(workdir / "photos" / name, (400 + 10 * i, 300), seed=i)
    return workdir


@pytest.mark.parametrize(
    ("images_per_job", "expected_submissions"),
    [(1, 1), (3, 2)],  # 6 per-image jobs in one batch (resize=50); 2 shards of 3
)
def test_slurm_run_gives_the_local_bytes_in_few_submissions(
    photos, slurm, images_per_job, expected_submissions
):
    proc = on_slurm(photos, slurm, "--config", f"images_per_job={images_per_job}")
    assert len(submissions(proc)) == expected_submissions, proc.stderr[-3000:]
    logs = own(photos, "logs") / "resize"
    for name in NAMES:  # the logs the jobs on the cluster wrote
        if images_per_job == 1:
            assert (logs / f"{name}.log").read_text().endswith(f"-> results/{name} 600x600\n")
        else:
            shard_logs = "".join(p.read_text() for p in logs.glob("shard-*.log"))
            assert f"-> results/{name} 600x600\n" in shard_logs, shard_logs
    run_snakemake(photos, "--config", f"images_per_job={images_per_job}", "output_dir=local")
    assert sorted(digests(photos / "results")) == sorted([*NAMES, "manifest.csv", "metadata.csv"])
    assert digests(photos / "results") == digests(photos / "local")  # manifests too


def test_group_components_sets_the_batch_size(photos, slurm):
    proc = on_slurm(photos, slurm, "--group-components", "resize=4", "--config", "images_per_job=1")
    assert len(submissions(proc)) == 2  # 6 images, 4 per submission
    assert Image.open(photos / "results" / "a.jpg").size == (600, 600)


def test_a_bad_image_on_slurm_fails_the_run_naming_it(workdir, slurm):
    photo(workdir / "photos" / "good.jpg")
    bad_inputs(workdir / "bad")
    (workdir / "photos" / "truncated.jpg").write_bytes(
        (workdir / "bad" / "truncated.jpg").read_bytes()
    )
    proc = on_slurm(workdir, slurm, "--config", "images_per_job=1", check=False)
    assert proc.returncode != 0
    assert "error: photos/truncated.jpg: truncated JPEG" in proc.stderr
    assert not (workdir / "results" / "truncated.jpg").exists()


def test_a_bad_image_on_slurm_is_skipped_with_on_error_skip(workdir, slurm):
    photo(workdir / "photos" / "good.jpg")
    (workdir / "photos" / "zero.jpg").write_bytes(b"")
    on_slurm(workdir, slurm, "--config", "on_error=skip")
    assert read_failed_tsv(workdir / "results" / "failed.tsv") == [
        ("photos/zero.jpg", "empty file (0 bytes)")
    ]
    assert Image.open(workdir / "results" / "good.jpg").size == (600, 600)
    assert not (workdir / "results" / "zero.jpg").exists()


def test_a_run_between_buckets_on_slurm_gives_the_local_bytes(workdir, slurm, bucket, s3):
    """The cluster's jobs read their images from the bucket and put their outputs there;
    the shared working directory carries only plan files, rows and logs."""
    name = bucket[len("s3://") :].split("/", 1)[0]
    url = f"s3://{name}/prepared"
    write_config(workdir, input_dir=bucket, output_dir=url, images_per_job=4)
    env = {**slurm, **s3.env, "AWS_SECRET_ACCESS_KEY": SECRET}  # jobs inherit it (sbatch)
    proc = on_slurm(workdir, env)
    assert submissions(proc), proc.stderr[-3000:]
    assert not list((workdir / ".imageprep-buckets").rglob("p*.jpg"))  # images: bucket only
    write_config(workdir, input_dir="photos", output_dir="local", images_per_job=4)
    run_snakemake(workdir)
    assert bucket_digests(s3.env, url) == digests(workdir / "local")


def test_a_run_without_a_shared_file_system_on_slurm_gives_the_local_bytes(
    workdir, slurm, bucket, s3, storage
):
    """--shared-fs-usage without input-output (Snakemake's setting for nodes that share no
    file system): each job's own Snakemake takes its plan file from the bucket and stores
    its rows in the default storage provider's storage; the images stay in their buckets."""
    name = bucket[len("s3://") :].split("/", 1)[0]
    url = f"s3://{name}/prepared"
    write_config(workdir, input_dir=bucket, output_dir=url, images_per_job=4)
    env = {**slurm, **s3.env, "AWS_SECRET_ACCESS_KEY": SECRET}
    shared = ["persistence", "software-deployment", "sources", "source-cache"]
    proc = on_slurm(
        workdir, env, *storage_args(s3, storage), "--shared-fs-usage", *shared,
        "--slurm-keep-successful-logs",
    )  # fmt: skip
    assert submissions(proc), proc.stderr[-3000:]
    jobs = "".join(p.read_text() for p in (workdir / ".snakemake").rglob("slurm_logs/**/*.log"))
    # the job's own Snakemake took its plan file from the bucket and stored its rows
    taken = [line for line in s3.requests() if f"/{name}/prepared/.imageprep/plans/" in line]
    gets = [line for line in taken if line.startswith("GET ")]  # (its batch step and job step)
    assert 1 <= len(gets) <= 2 * len(submissions(proc)), taken
    assert re.search(r"Storing in storage: s3://\S+/\.imageprep/shards/", jobs), jobs[-3000:]
    write_config(workdir, input_dir="photos", output_dir="local", images_per_job=4)
    run_snakemake(workdir)
    assert bucket_digests(s3.env, url) == digests(workdir / "local")
