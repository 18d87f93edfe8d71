"""A default storage provider (``--default-storage-provider s3``, snakemake-storage-plugin-s3)
for what the rules declare, as on a cluster whose nodes share no file system: the plan files,
rows and logs go through Snakemake's storage, the images stay in their buckets. Against the
real S3 API server of conftest.s3; the cluster itself is in test_slurm.py."""

import re
import shutil

import pytest

from helpers import (
    SHARD_ONE,
    add_photos,
    bucket_digests,
    digests,
    run_pool,
    run_snakemake,
    s3_client,
    storage_args,
    write_config,
)


def stored(s3, prefix: str) -> list[str]:
    """The objects under Snakemake's storage prefix, relative to it."""
    return [key.split("/", 1)[1] for key in bucket_keys(s3, prefix)]


def bucket_keys(s3, url: str) -> list[str]:
    name, _, key = url[len("s3://") :].partition("/")
    found = s3_client(s3.env).list_objects_v2(Bucket=name, Prefix=key).get("Contents", [])
    return sorted(obj["Key"] for obj in found)


def jobs_run(proc) -> int:
    """The shard jobs a run ran, from Snakemake's table of jobs."""
    found = re.search(r"^resize_shard\s+(\d+)$", proc.stdout + proc.stderr, re.M)
    return int(found[1]) if found else 0


@pytest.mark.parametrize("container", ["files", "webdataset"])
def test_a_storage_provider_run_gives_the_local_bytes_and_reruns_exactly(
    workdir, bucket, s3, storage, container
):
    """Same bytes as a run into a local folder; the storage holds bookkeeping only; a no-op
    rerun runs nothing; an output deleted behind the workflow's back, or a new image, re-runs
    its shard alone."""
    add_photos(s3, bucket, workdir / "more", SHARD_ONE)  # two shards
    common = {"size": [64, 64], "images_per_job": 4, "container": container}
    write_config(workdir, input_dir=bucket, output_dir="local", **common)
    run_snakemake(workdir)
    local = digests(workdir / "local")

    name = bucket[len("s3://") :].split("/", 1)[0]
    url = f"s3://{name}/out"
    write_config(workdir, input_dir=bucket, output_dir=url, **common)
    args = storage_args(s3, storage)
    first = run_snakemake(workdir, *args, "--printshellcmds")
    assert bucket_digests(s3.env, url) == local
    assert f"12 images resized into {url};" in first.stderr, first.stderr  # the closing line
    side = f".imageprep-buckets/{name}/out/.imageprep"
    kept = stored(s3, storage)
    rows = [key for key in kept if key.startswith(f"{side}/shards/")]
    assert len(rows) == 2 and jobs_run(first) == 2, (kept, first.stderr[-3000:])
    # in the storage: the shards' rows, logs and benchmarks; never an image, nor a plan
    # file (local() to Snakemake, whose scheduler asks a waiting job's inputs each second;
    # a job on a node takes its own from the bucket, beside the kept rows)
    assert not [key for key in kept if key.endswith((".jpg", ".tar")) or "/plans/" in key]
    plans = [key.split("/.imageprep/plans/")[1] for key in bucket_keys(s3, url)
             if "/.imageprep/plans/" in key]  # fmt: skip
    assert plans == [key.split("/shards/")[1] for key in rows], plans

    since = len(s3.requests())
    again = run_snakemake(workdir, *args)
    assert "Nothing to be done" in again.stdout + again.stderr, again.stderr[-3000:]
    asked = [line.removeprefix("\x1b[33m") for line in s3.requests()[since:]]
    work = [line for line in asked if f" /{name}-work" in line]
    # the storage is listed and asked, never written nor read: the plan files agree
    assert work and all(line.startswith(("HEAD ", "GET /" + name + "-work?")) for line in work), (
        work
    )

    client = s3_client(s3.env)
    gone = "p04.jpg" if container == "files" else sorted(local)[0]  # (a tar's name first)
    client.delete_object(Bucket=name, Key=f"out/{gone}")
    redo = run_snakemake(workdir, *args)
    assert jobs_run(redo) == 1, redo.stderr[-3000:]
    if container == "files":
        assert f"1 images resized into {url}, 11 already complete" in redo.stderr, redo.stderr
    assert bucket_digests(s3.env, url) == local

    add_photos(s3, bucket, workdir / "later", ["q08-new.jpg"])
    later = run_snakemake(workdir, *args)
    assert jobs_run(later) == 1, later.stderr[-3000:]
    manifest = client.get_object(Bucket=name, Key="out/manifest.csv")["Body"].read()
    assert b"q08-new" in manifest and len(manifest.splitlines()) == 1 + 12 + 1


def test_a_fresh_working_directory_with_the_storage_makes_nothing(workdir, bucket, s3, storage):
    """Another machine's main process: it has neither the local side nor .snakemake/, and
    takes what the buckets keep."""
    name = bucket[len("s3://") :].split("/", 1)[0]
    url = f"s3://{name}/out"
    write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64], images_per_job=4)
    args = storage_args(s3, storage)
    run_snakemake(workdir, *args)
    made = bucket_digests(s3.env, url)
    shutil.rmtree(workdir / ".imageprep-buckets")
    shutil.rmtree(workdir / ".snakemake")
    fresh = run_snakemake(workdir, *args)  # its manifest.csv: local; no shard job
    assert jobs_run(fresh) == 0 and "0 images resized" in fresh.stderr, fresh.stderr[-3000:]
    assert bucket_digests(s3.env, url) == made

    # two working directories on one storage prefix, back and forth: neither makes the
    # other run its jobs again (a plan file of the same content keeps the storage's date)
    other = workdir / "other"
    shutil.copytree(workdir / "config", other / "config")
    assert jobs_run(run_snakemake(other, *args)) == 0
    for where in (workdir, other, workdir):
        proc = run_snakemake(where, *args)
        assert "Nothing to be done" in proc.stdout + proc.stderr, (where, proc.stderr[-3000:])


def test_the_pool_between_two_storage_runs_is_seen(workdir, bucket, s3, storage):
    """One truth: the pool rewrites the bucket folder with other settings from the same
    working directory; the next Snakemake run, with the first settings, makes them again."""
    name = bucket[len("s3://") :].split("/", 1)[0]
    url = f"s3://{name}/out"
    common = {"input_dir": bucket, "output_dir": url, "images_per_job": 4}
    args = storage_args(s3, storage)
    write_config(workdir, size=[64, 64], **common)
    run_snakemake(workdir, *args)
    made = bucket_digests(s3.env, url)
    write_config(workdir, size=[32, 32], **common)
    run_pool(workdir)
    assert bucket_digests(s3.env, url) != made
    write_config(workdir, size=[64, 64], **common)
    again = run_snakemake(workdir, *args)
    assert jobs_run(again) >= 1, again.stderr[-3000:]
    assert bucket_digests(s3.env, url) == made


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"input_dir": "photos"}, "input_dir: 'photos' is a local folder; with a default storage"),
        ({"images_per_job": 1}, "input_dir: a bucket needs shard jobs"),
    ],
)
def test_what_a_storage_provider_cannot_reach_is_refused_in_one_line(
    workdir, bucket, s3, storage, settings, said
):
    name = bucket[len("s3://") :].split("/", 1)[0]
    write_config(workdir, **{"input_dir": bucket, "output_dir": f"s3://{name}/out", **settings})
    proc = run_snakemake(workdir, *storage_args(s3, storage), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert said in proc.stderr, proc.stderr[-3000:]
    assert bucket_digests(s3.env, f"s3://{name}/out") == {}
