"""Images in a bucket (input_dir: s3://bucket/prefix), against a real S3 API server: moto in
server mode, in a process of its own on localhost (conftest.s3), reached over HTTP by the
real client (obstore) in the real snakemake CLI and pool command; nothing is mocked."""

import shutil
import uuid

import boto3
import pytest

from helpers import SECRET, digests, moto_server, run_pool, run_snakemake, write_config
from imagefactory import photo


@pytest.mark.parametrize("container", ["files", "webdataset"])
def test_a_bucket_gives_the_bytes_of_the_same_images_in_a_folder(workdir, bucket, container):
    """Both paths: the outputs, tars and manifest made from the bucket equal those made from
    the same images (same bytes, same dates) in a local folder."""
    common = {"size": [96, 96], "container": container, "images_per_job": 4}
    write_config(workdir, input_dir="photos", output_dir="local", **common)
    run_snakemake(workdir)
    write_config(workdir, input_dir=bucket, output_dir="from-bucket", **common)
    run_snakemake(workdir)
    local = digests(workdir / "local")
    assert len(local) >= 2 and "manifest.csv" in local
    assert digests(workdir / "from-bucket") == local
    write_config(workdir, input_dir=bucket, output_dir="pool-bucket", **common)
    run_pool(workdir)
    assert digests(workdir / "pool-bucket") == local
    # credentials only ever come from the environment: in no log, manifest or report
    leaked = [p for p in workdir.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert not leaked, leaked


def test_a_rerun_from_a_bucket_reads_only_the_listing_and_redoes_only_what_changed(
    workdir, bucket, s3
):
    write_config(workdir, input_dir=bucket, output_dir="results", size=[64, 64])
    run_snakemake(workdir)
    made = digests(workdir / "results")
    dates = {p: p.stat().st_mtime_ns for p in (workdir / "results").glob("**/p*.jpg")}

    since = s3.requests()
    again = run_snakemake(workdir)
    assert "Nothing to be done" in again.stdout + again.stderr
    asked = s3.requests()[len(since) :]
    assert asked and all("list-type=2" in line for line in asked), asked  # one listing page

    client = boto3.client("s3", endpoint_url=s3.env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    name, prefix = bucket[len("s3://") :].split("/", 1)
    changed = workdir / "changed.jpg"
    photo(changed, seed=99)
    client.put_object(Bucket=name, Key=f"{prefix}/p01.jpg", Body=changed.read_bytes())
    client.delete_object(Bucket=name, Key=f"{prefix}/p02.jpg")
    since = s3.requests()
    run_snakemake(workdir)
    gets = [line for line in s3.requests()[len(since) :] if "GET /" in line and "list" not in line]
    assert len(gets) == 1 and "p01.jpg" in gets[0], gets  # that image alone
    now = digests(workdir / "results")
    assert now["p01.jpg"] != made["p01.jpg"]
    assert "p02.jpg" not in (workdir / "results" / "manifest.csv").read_text()
    untouched = {p: t for p, t in dates.items() if p.name not in ("p01.jpg", "p02.jpg")}
    assert untouched and all(p.stat().st_mtime_ns == t for p, t in untouched.items())

    write_config(workdir, input_dir=bucket, output_dir="results", size=[64, 64])
    pool = run_pool(workdir)  # the pool sees the same truth: nothing to make
    assert "0 images resized into results, 7 already complete" in pool.stderr, pool.stderr


def test_a_bucket_that_cannot_be_read_stops_the_run_in_one_line(workdir, s3, monkeypatch):
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    missing = f"s3://no-such-{uuid.uuid4().hex[:8]}/raw"
    write_config(workdir, input_dir=missing, output_dir="results")
    smk = run_snakemake(workdir, check=False)
    assert smk.returncode != 0 and "Traceback" not in smk.stderr
    assert f"input_dir: {missing}: the bucket does not exist" in smk.stderr
    pool = run_pool(workdir, check=False)
    assert pool.returncode == 2
    assert pool.stderr.strip() == f"error: input_dir: {missing}: the bucket does not exist"

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    pool = run_pool(workdir, check=False)
    assert pool.returncode == 2 and len(pool.stderr.strip().splitlines()) == 1
    assert "cannot reach http://127.0.0.1:9" in pool.stderr


def test_credentials_the_endpoint_does_not_know_stop_the_run_in_one_line(workdir, monkeypatch):
    """A server that checks keys (moto's IAM checks on): one line naming the bucket and the
    cause, in both paths, before any work."""
    with moto_server(workdir, INITIAL_NO_AUTH_ACTION_COUNT="0") as server:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        write_config(workdir, input_dir="s3://lab-images/raw", output_dir="results")
        pool = run_pool(workdir, check=False)
        said = "s3://lab-images/raw: the AWS access key is not known to the endpoint"
        assert pool.returncode == 2 and pool.stderr.strip() == f"error: input_dir: {said}"
        smk = run_snakemake(workdir, check=False)
        assert smk.returncode != 0 and said in smk.stderr and "Traceback" not in smk.stderr
    assert not (workdir / "results").exists()


def test_the_per_image_rule_refuses_a_bucket_in_one_line(workdir, bucket):
    write_config(workdir, input_dir=bucket, output_dir="results", images_per_job=1)
    smk = run_snakemake(workdir, check=False)
    assert smk.returncode != 0 and "Traceback" not in smk.stderr
    assert "input_dir: a bucket needs shard jobs (images_per_job other than 1)" in smk.stderr
    assert not (workdir / "results").exists()


def test_a_bad_object_is_named_by_its_url(workdir, bucket, s3):
    """An object that is not an image fails as a file would, named as the user wrote it."""
    client = boto3.client("s3", endpoint_url=s3.env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    name, prefix = bucket[len("s3://") :].split("/", 1)
    client.put_object(Bucket=name, Key=f"{prefix}/broken.jpg", Body=b"not a jpeg at all")
    write_config(workdir, input_dir=bucket, output_dir="results", on_error="skip")
    pool = run_pool(workdir)
    assert f"skipped: {bucket}/broken.jpg: " in pool.stderr
    failed = (workdir / "results" / "failed.tsv").read_text()
    assert f"{bucket}/broken.jpg" in failed
    shutil.rmtree(workdir / "results")
    run_snakemake(workdir)
    assert f"{bucket}/broken.jpg" in (workdir / "results" / "failed.tsv").read_text()
