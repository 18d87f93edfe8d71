"""Output folders in a bucket (output_dir: s3://bucket/prefix), against the real S3 API server
of test_buckets.py (conftest.s3): the same bytes as a local folder, reruns that ask the bucket
for its listing only, outputs replaced behind the workflow's back made again, the lock."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from helpers import (
    REPO,
    SECRET,
    SHARD_ONE,
    add_photos,
    bucket_digests,
    digests,
    run_clean,
    run_pool,
    run_snakemake,
    s3_client,
    write_config,
)
from imageprep.folder.folder_lock import host_id

PUBLISHED = ("/out/manifest.csv HTTP/1.1", "/out/metadata.csv HTTP/1.1")


def asked_since(s3, since: int) -> list[str]:
    return [line.removeprefix("\x1b[33m") for line in s3.requests()[since:]]


def _split(url: str) -> tuple[str, str]:
    name, _, prefix = url[len("s3://") :].partition("/")
    return name, prefix


@pytest.mark.parametrize("container", ["files", "webdataset"])
def test_a_bucket_folder_holds_the_bytes_of_a_local_one(workdir, bucket, s3, container):
    """From a bucket or a folder, by Snakemake or the pool: the outputs, tars, manifest.csv
    and metadata.csv in the bucket are those a local output folder gets."""
    common = {"size": [96, 96], "container": container, "images_per_job": 4}
    write_config(workdir, input_dir="photos", output_dir="local", **common)
    run_snakemake(workdir)
    local = digests(workdir / "local")
    assert "manifest.csv" in local and len(local) >= 2

    name, _ = _split(bucket)
    runs = [
        (run_snakemake, bucket, f"s3://{name}/smk"),
        (run_pool, bucket, f"s3://{name}/pool"),
        (run_pool, "photos", f"s3://{name}/pool-local"),
    ]
    for run, source, url in runs:
        write_config(workdir, input_dir=source, output_dir=url, **common)
        run(workdir)
        assert bucket_digests(s3.env, url) == local, (run.__name__, url)
    leaked = [p for p in workdir.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert not leaked, leaked


@pytest.mark.parametrize("container", ["files", "webdataset"])
@pytest.mark.parametrize("run", [run_snakemake, run_pool])
def test_a_rerun_into_a_bucket_lists_it_once_and_redoes_what_was_replaced(
    workdir, bucket, s3, run, container
):
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    add_photos(s3, bucket, workdir / "more", SHARD_ONE)  # two shards (two tars), not one
    write_config(
        workdir, input_dir=bucket, output_dir=url, size=[64, 64], images_per_job=4,
        container=container,
    )  # fmt: skip
    run(workdir)
    made = bucket_digests(s3.env, url)
    assert "manifest.csv" in made
    assert container == "files" or len([out for out in made if out.endswith(".tar")]) == 2

    since = len(s3.requests())
    run(workdir)
    asked = s3.requests()[since:]
    lists = [line for line in asked if "list-type=2" in line]
    lock = [line for line in asked if "/.imageprep/lock" in line or "?delete" in line]
    assert len(lists) == 2, asked  # the input prefix and the output prefix, a page each
    assert len(lock) == 4, asked  # is it free, take it (a conditional put); still ours, go
    others = set(asked) - set(lists) - set(lock)
    if run is run_pool:  # the pool writes its manifest every run
        others = {line for line in others if not line.endswith(PUBLISHED)}
    assert not others, others

    time.sleep(1.1)  # dates are to the second: a later one than the rows'
    client = s3_client(s3.env)
    if container == "files":
        replaced, deleted = "p01.jpg", "p04.jpg"
    else:  # the first tar, the last
        replaced, deleted = (
            (tars := sorted(out for out in made if out.endswith(".tar")))[0],
            tars[-1],
        )
    client.put_object(Bucket=name, Key=f"out/{replaced}", Body=b"replaced behind its back")
    client.delete_object(Bucket=name, Key=f"out/{deleted}")
    since = len(s3.requests())
    run(workdir)
    puts = [line for line in asked_since(s3, since) if line.startswith("PUT /")]
    outputs = sorted(
        line.split()[1].split("/out/", 1)[1]
        for line in puts
        if "/out/" in line and "/.imageprep/" not in line and not line.endswith(PUBLISHED)
    )
    assert outputs == sorted({replaced, deleted}), puts  # those two alone
    read = [line for line in asked_since(s3, since) if line.startswith("GET /") and "/out/" in line]
    # the report's contact sheet is the last one (its sample is unchanged): no output read
    assert all("/.imageprep/" in line for line in read), read
    assert bucket_digests(s3.env, url) == made


def test_a_fresh_working_directory_takes_the_rows_the_bucket_keeps(workdir, bucket, s3):
    """One truth: a run from elsewhere (another machine, another clone) finds the bucket
    folder's rows in the bucket, and makes nothing that is there already."""
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64], images_per_job=4)
    run_snakemake(workdir)
    made = bucket_digests(s3.env, url)
    shutil.rmtree(workdir / ".imageprep-buckets")
    shutil.rmtree(workdir / ".snakemake")
    pool = run_pool(workdir)
    assert "0 images resized" in pool.stderr and "8 already complete" in pool.stderr, pool.stderr
    again = run_snakemake(workdir)
    assert "0 images resized" in again.stderr, again.stderr
    assert bucket_digests(s3.env, url) == made

    # and back and forth: two working directories that find nothing new leave the bucket's
    # rows as they are, so neither makes the other run its jobs again
    other = workdir / "other"
    shutil.copytree(workdir / "config", other / "config")
    first = run_snakemake(other)  # its jobs run (no rows of its own yet), and make nothing
    assert "0 images resized" in first.stderr, first.stderr
    for where in (workdir, other, workdir):
        proc = run_snakemake(where)
        assert "Nothing to be done" in proc.stdout + proc.stderr, (where, proc.stderr)


def test_a_bucket_folder_in_use_is_refused_in_one_line(workdir, bucket, s3):
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    holder = "workflow/scripts/pool.py in /elsewhere (pid 4242 on node-17, since 2026-12-06)"
    s3_client(s3.env).put_object(Bucket=name, Key="out/.imageprep/lock", Body=holder.encode())
    write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64])
    for run in (run_pool, run_snakemake):
        proc = run(workdir, check=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert f"output_dir '{url}' is in use by {holder}" in proc.stderr, proc.stderr
        assert f"delete {url}/.imageprep/lock" in proc.stderr
    assert bucket_digests(s3.env, url) == {}
    s3_client(s3.env).delete_object(Bucket=name, Key="out/.imageprep/lock")
    run_pool(workdir)
    assert "manifest.csv" in bucket_digests(s3.env, url)
    assert run_snakemake(workdir).returncode == 0  # the lock went with the pool


def test_overlapping_prefixes_are_refused(workdir, bucket):
    write_config(workdir, input_dir=bucket, output_dir=f"{bucket}/out")
    proc = run_pool(workdir, check=False)
    assert proc.returncode == 2 and "overlap" in proc.stderr, proc.stderr


def test_clean_removes_what_a_bucket_folder_no_longer_lists(workdir, bucket, s3):
    """An input deleted: its output stays in the bucket, the closing line counts it, and
    clean.py lists it by its URL, then removes that object and nothing else."""
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64], images_per_job=4)
    run_snakemake(workdir)
    s3_client(s3.env).delete_object(Bucket=name, Key="raw/p02.jpg")
    again = run_snakemake(workdir)
    assert "1 files made by earlier runs are no longer listed" in again.stderr, again.stderr
    before = bucket_digests(s3.env, url)
    assert "p02.jpg" in before

    listed = run_clean(workdir)
    assert listed.stdout.splitlines() == [f"{url}/p02.jpg"], listed
    assert bucket_digests(s3.env, url) == before  # shown, not removed
    removed = run_clean(workdir, "--yes")
    assert "removed 1 files" in removed.stderr, removed.stderr
    assert bucket_digests(s3.env, url) == {k: v for k, v in before.items() if k != "p02.jpg"}
    assert "nothing to remove" in run_clean(workdir).stderr


def _bucket_snippet(title: str = "**From a bucket**") -> str:
    """config/README.md's snippet under ``title`` that loads from a bucket."""
    text = (REPO / "config" / "README.md").read_text()
    section = text.split(title, 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.S)[0]


def test_the_documented_loaders_read_tars_from_the_bucket(workdir, bucket, s3, capsys, tmp_path):
    """The snippet of config/README.md (WebDataset, through signed URLs) and its Hugging
    Face line read the tars a run put in the bucket: every image, as made."""
    name, _ = _split(bucket)
    url = f"s3://{name}/prepared"
    write_config(
        workdir, input_dir=bucket, output_dir=url, size=[64, 64], images_per_job=4,
        container="webdataset", format="jpeg",
    )  # fmt: skip
    run_snakemake(workdir)
    scope: dict = {}
    exec(_bucket_snippet().replace('"lab-images"', f'"{name}"'), scope)  # as a user runs it
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 8 and "(64, 64) p01.jpg" in printed and "(64, 64) sub/p00.jpg" in printed

    from datasets import load_dataset

    ds = load_dataset(
        "webdataset", data_files={"train": scope["shards"]}, split="train",
        cache_dir=str(tmp_path / "hf"),
    )  # fmt: skip
    assert sorted(row["json"]["input"] for row in ds) == sorted(
        line.split(" ", 2)[2] for line in printed
    )
    assert all(row["jpg"].size == (64, 64) for row in ds)


def test_the_documented_loader_reads_a_folder_of_files_from_the_bucket(
    workdir, bucket, s3, tmp_path, monkeypatch
):
    """config/README.md's "Files from a bucket": the dataset imagefolder gives of the same
    folder made locally, its columns and their types, its images as made."""
    from datasets import load_dataset

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))  # (from_csv caches)
    name, _ = _split(bucket)
    common = {"input_dir": bucket, "size": [64, 48], "images_per_job": 4}
    write_config(workdir, output_dir="local", **common)
    run_snakemake(workdir)
    write_config(workdir, output_dir=f"s3://{name}/prepared", **common)
    run_snakemake(workdir)
    scope: dict = {}
    exec(_bucket_snippet("**Files from a bucket**").replace('"lab-images"', f'"{name}"'), scope)
    ds = scope["ds"]
    local = load_dataset("imagefolder", data_dir=str(workdir / "local"), split="train")
    assert ds.features == local.features and len(ds) == len(local) == 8
    for got, want in zip(ds, local, strict=True):
        assert got["image"].tobytes() == want["image"].tobytes()
        assert {k: v for k, v in got.items() if k != "image"} == {
            k: v for k, v in want.items() if k != "image"
        }


def test_an_output_bucket_that_does_not_exist_stops_the_run_in_one_line(workdir, bucket):
    url = f"s3://no-such-{uuid.uuid4().hex[:8]}/out"
    write_config(workdir, input_dir=bucket, output_dir=url)
    for run in (run_pool, run_snakemake):
        proc = run(workdir, check=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
        said = [line for line in proc.stderr.splitlines() if "the bucket does not exist" in line]
        assert len(said) == 1 and url in said[0], proc.stderr
    assert not (workdir / ".imageprep-buckets").exists() or not list(
        (workdir / ".imageprep-buckets").rglob("*.csv")
    )


def test_an_upload_that_fails_half_way_leaves_no_object_and_no_part(bucket, s3):
    """What the tar upload relies on: a put in parts whose source fails is aborted by the
    client, so neither a half-object nor an unfinished multipart upload is left."""
    from imageprep.image.bucket import bucket_for
    from imageprep.image.diagnose import OutputError

    name, _ = _split(bucket)

    def parts():
        for _ in range(3):
            yield bytes(6 * 1024 * 1024)  # over the 10 MiB part size in all
        raise OSError("the spool's disk failed half-way")

    with pytest.raises(OutputError, match=f"cannot write s3://{name}/out/big.tar: "):
        bucket_for(f"s3://{name}/out").put("big.tar", parts())  # type: ignore[arg-type]
    client = s3_client(s3.env)
    assert any("?uploads" in line for line in s3.requests()), "no upload in parts was begun"
    assert client.list_multipart_uploads(Bucket=name).get("Uploads", []) == []
    assert "big.tar" not in bucket_digests(s3.env, f"s3://{name}/out")


@pytest.mark.parametrize("ident", ["", "this"])  # a lock of an earlier release, or of now
def test_a_lock_left_by_a_dead_run_of_this_host_is_taken_over(workdir, bucket, s3, ident):
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    # a pid above Linux's largest (2**22): no such process
    gone = f"pool.py in /x (pid {2**22 + 17} on {socket.gethostname()}, since 2026-12-06)\n"
    gone += f"host-id {host_id()}\n" if ident else ""
    s3_client(s3.env).put_object(Bucket=name, Key="out/.imageprep/lock", Body=gone.encode())
    write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64])
    run_pool(workdir)
    assert "manifest.csv" in bucket_digests(s3.env, url)
    keys = s3_client(s3.env).list_objects_v2(Bucket=name, Prefix="out/.imageprep/lock")
    assert keys.get("KeyCount", 0) == 0  # taken over, then given back at the end


def test_a_lock_of_this_host_name_from_another_pid_namespace_is_held(workdir, bucket, s3):
    """A container that shares the host's name has pids of its own: its run's lock is not
    taken over, whatever this machine's pid of that number does."""
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    holder = f"pool.py in /x (pid {2**22 + 17} on {socket.gethostname()}, since 2026-12-06)"
    other = host_id().rsplit("/", 1)[0] + "/1"  # this boot, another PID namespace
    body = f"{holder}\nhost-id {other}\n".encode()
    s3_client(s3.env).put_object(Bucket=name, Key="out/.imageprep/lock", Body=body)
    write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64])
    proc = run_pool(workdir, check=False)
    assert proc.returncode != 0 and f"is in use by {holder};" in proc.stderr, proc.stderr
    assert "host-id" not in proc.stderr
    assert bucket_digests(s3.env, url) == {}


@pytest.mark.parametrize("container", ["files", "webdataset"])
def test_a_new_shard_count_in_a_bucket_folder_checks_every_output(workdir, bucket, s3, container):
    """images_per_job changed: the rows of the old shard count, which the jobs read until
    the folder is finished, are checked against the listing too, and go from the bucket
    (with the old count's tars, which no closing line then counts as stale)."""
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    add_photos(s3, bucket, workdir / "more", SHARD_ONE)
    common = {"input_dir": bucket, "output_dir": url, "size": [64, 64], "container": container}
    write_config(workdir, images_per_job=4, **common)
    run_pool(workdir)
    made = bucket_digests(s3.env, url)
    time.sleep(1.1)  # dates are to the second
    if container == "files":
        s3_client(s3.env).delete_object(Bucket=name, Key="out/p04.jpg")
    write_config(workdir, images_per_job=2, **common)
    said = run_pool(workdir).stderr
    assert ("1 images resized" if container == "files" else "0 images resized") in said, said
    assert "no longer listed" not in said, said
    now = bucket_digests(s3.env, url)
    if container == "files":
        assert now == made
    else:
        tars = [out for out in now if out.endswith(".tar")]
        assert len(tars) >= 2 and all(tar.endswith("-of-0008.tar") for tar in tars), now
    listed = s3_client(s3.env).list_objects_v2(Bucket=name, Prefix="out/.imageprep/rows/")
    rows = sorted(obj["Key"].rsplit("/", 1)[1] for obj in listed.get("Contents", []))
    assert rows and all(row.endswith("-of-0008.csv") for row in rows), rows


PARENT = """configfile: "config.yaml"


module train:
    snakefile:
        "vendor/imageprep-workflow/Snakefile"
    config:
        config["train"]


use rule * from train as train_*


rule all:
    default_target: True
    input:
        rules.train_all.input,
        "counted.txt",


rule count:
    input:
        rules.train_manifest.output.manifest,
    output:
        "counted.txt",
    shell:
        "wc -l < {input} > {output}"
"""


def test_a_module_instance_writes_into_a_bucket(workdir, bucket, s3):
    """Imported by another workflow: the instance's outputs and manifest land in the bucket,
    and the parent's own rule reads the manifest the instance declares (its local side)."""
    name, _ = _split(bucket)
    url = f"s3://{name}/train"
    settings = {"input_dir": bucket, "size": [64, 64], "images_per_job": 4}
    parent = workdir / "parent"
    (parent / "vendor").mkdir(parents=True)
    (parent / "vendor" / "imageprep-workflow").symlink_to(REPO)
    (parent / "Snakefile").write_text(PARENT)
    (parent / "config.yaml").write_text(yaml.safe_dump({"train": {**settings, "output_dir": url}}))
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2"]
    proc = subprocess.run(cmd, cwd=parent, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (parent / "counted.txt").read_text().strip() == "9"  # a header, 8 images
    write_config(workdir, **{**settings, "output_dir": "local"})
    run_snakemake(workdir)
    assert bucket_digests(s3.env, url) == digests(workdir / "local")
    again = subprocess.run(cmd, cwd=parent, capture_output=True, text=True, timeout=600)
    assert "Nothing to be done" in again.stdout + again.stderr, again.stderr


@pytest.mark.parametrize("recount", [False, True])
def test_a_shard_job_needs_only_its_plan_file_and_the_bucket(workdir, bucket, s3, recount):
    """A job on a node that does not share the working directory: given its plan file (its
    declared input) and the bucket, it takes its rows from the bucket and makes nothing
    that is current there; also just after the shard count changed (``recount``), from
    the rows of the count that held its images."""
    name, _ = _split(bucket)
    url = f"s3://{name}/out"
    write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64], images_per_job=4)
    run_snakemake(workdir)
    if recount:
        write_config(workdir, input_dir=bucket, output_dir=url, size=[64, 64], images_per_job=2)
    shown = run_snakemake(workdir, "--dry-run", "--printshellcmds", "--forcerun", "resize_shard")
    lines = (shown.stdout + shown.stderr).splitlines()
    command = next(line for line in lines if "resize_jobs.py" in line)
    command = command.split("Shell command:", 1)[-1].strip()  # as Snakemake would run it
    plan = re.search(r"--plan (\S+)", command).group(1)
    node = workdir / "node"
    (node / plan).parent.mkdir(parents=True)
    shutil.copy(workdir / plan, node / plan)
    for declared in ("--rows", "--log"):  # their folders, as Snakemake makes them for a job
        (node / re.search(rf"{declared} (\S+)", command).group(1)).parent.mkdir(parents=True)
    made = bucket_digests(s3.env, url)
    since = len(s3.requests())
    env = {**os.environ, "IMAGEPREP_PYTHON": sys.executable,
           "IMAGEPREP_SCRIPTS": str(REPO / "workflow" / "scripts")}  # fmt: skip
    job = subprocess.run(command, shell=True, cwd=node, env=env, capture_output=True, text=True)
    assert job.returncode == 0, job.stderr
    log = re.search(r"--log (\S+)", command).group(1)
    assert ", 0 resized, " in (node / log).read_text(), (node / log).read_text()
    puts = [line for line in asked_since(s3, since) if line.startswith("PUT /")]
    assert not [line for line in puts if line.endswith(".jpg HTTP/1.1")], puts
    outputs = {out: sha for out, sha in made.items() if out.endswith(".jpg")}
    assert bucket_digests(s3.env, url) == outputs  # (a job withdraws the manifest, as ever)
