"""Helpers the tests share: the real snakemake CLI and pool command run in a folder, a
config writer, checks on output folders, and a real S3 API server (moto) to read buckets from."""

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import yaml
from PIL import Image

from imageprep.folder.layout import LOCK

REPO = Path(__file__).resolve().parents[1]
OWN = ("manifest.csv", "metadata.csv")  # what every run writes beside its outputs


def run_snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    cores: str | None = "2",
) -> subprocess.CompletedProcess:
    """The real snakemake CLI on the repo's Snakefile, run in ``workdir`` (after ``prefix``,
    a command that runs it, such as ``unshare -U``); ``cores=None``: no --cores at all."""
    cmd = [*prefix, sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir), *(["--cores", cores] if cores else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env or os.environ)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def run_pool(
    workdir: Path, *args: str, check: bool = True, prefix: Sequence[str] = (), **kw
) -> subprocess.CompletedProcess:
    """The pool command (workflow/scripts/pool.py) on ``workdir``'s config, run in it."""
    cmd = [*prefix, sys.executable, str(REPO / "workflow" / "scripts" / "pool.py")]
    cmd += ["--configfile", str(workdir / "config" / "config.yaml"), "--workers", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=workdir, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"pool.py failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def run_clean(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """workflow/scripts/clean.py on ``workdir``'s config, run in it."""
    cmd = [sys.executable, str(REPO / "workflow" / "scripts" / "clean.py")]
    cmd += ["--configfile", str(workdir / "config" / "config.yaml"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def job_lines(stderr: str, prefix: str = "error: ") -> list[str]:
    """The lines starting with ``prefix`` that jobs wrote into Snakemake's stderr.

    Snakemake's logger writes a message and its newline in two writes, so a job's line (one
    write) can land between them, glued to the end of Snakemake's line (CI saw it once in
    ~50 runs): the job's line is cut out from where ``prefix`` starts."""
    return [line[line.index(prefix) :] for line in stderr.splitlines() if prefix in line]


def opened(path: Path) -> Image.Image:
    """The image at ``path``, decoded, its file closed (a bare Image.open leaves the file
    open until garbage collection, and pytest reports a ResourceWarning)."""
    with Image.open(path) as im:
        im.load()
    return im


def write_config(workdir: Path, **config) -> Path:
    path = workdir / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.relative_to(folder).as_posix().startswith(".imageprep/")
    }


def copy_checkout(dest: Path) -> Path:
    """What a fresh clone of the change under test holds: every file git tracks or would
    track, as the working tree has it (staged renames and new files included)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for rel in listed:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    return dest


def mtimes(folder) -> dict[Path, int]:
    """Every file's mtime under ``folder``, but output folders' locks: a run that holds a
    folder writes its name there, even when it has nothing else to do."""
    return {
        p: p.stat().st_mtime_ns
        for p in Path(folder).rglob("*")
        if p.is_file() and not p.as_posix().endswith("/" + LOCK)
    }


def own(workdir: Path, kind: str, output_dir: str = "results") -> Path:
    """Where a standalone run keeps its ``logs``, ``benchmarks`` or ``reports``: in its
    output folder."""
    return workdir / output_dir / ".imageprep" / kind


def tree(folder):
    return {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if ".snakemake" not in p.parts
    }


def assert_decodable(folder):
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".jpg", ".png", ".gif"):
            with Image.open(path) as im:
                im.load()  # raises on a truncated or corrupt file


def dates(folder: Path) -> dict[str, int]:
    """The outputs' mtimes under ``folder`` (not the workflow's own files)."""
    return {
        p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and ".imageprep" not in p.parts and p.name not in OWN
    }


def redone(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """The outputs written (or made) between two ``dates``."""
    return sorted(k for k in after if before.get(k) != after[k])


def browser() -> str:
    """Debian's chromium, headless (CI installs it and sets IMAGEPREP_REQUIRE_BROWSER)."""
    import pytest

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found and os.environ.get("IMAGEPREP_REQUIRE_BROWSER"):
        pytest.fail("chromium is required (IMAGEPREP_REQUIRE_BROWSER) but not installed")
    if not found:
        pytest.skip("no chromium here (CI installs it: apt-get install chromium)")
    return found


class S3Server:
    """A real S3 API server (moto in server mode, a process of its own on localhost): the
    environment a client needs to reach it, and the requests it has answered so far."""

    def __init__(self, port: int, log: Path) -> None:
        self.log = log
        self.env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "imageprep-test",
            "AWS_SECRET_ACCESS_KEY": "imageprep-test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def requests(self) -> list[str]:
        """Each request line the server logged ("GET /bucket?list-type=2 ..."), in order."""
        text = self.log.read_text(errors="replace")
        return [
            line.split('"')[1] for line in text.splitlines() if '" ' in line and "HTTP/" in line
        ]


@contextlib.contextmanager
def moto_server(folder: Path, **env: str) -> Iterator[S3Server]:
    """A moto server in a process of its own on a free port (``env``: its own settings, such
    as INITIAL_NO_AUTH_ACTION_COUNT=0 for IAM checks), stopped at the end."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = folder / f"moto-{port}.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield S3Server(port, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


# The AWS secret of the runs against the test server (moto takes any): no file they leave
# may hold it.
SECRET = f"secret-{os.urandom(8).hex()}"


def s3_client(env: dict[str, str]):
    import boto3  # the tests' own client, to set up and inspect buckets

    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")


def upload(env: dict[str, str], folder: Path, bucket: str, prefix: str = "raw") -> None:
    """Every file of ``folder`` into a new bucket, then each local file dated as its object
    (LastModified), so a run from either says the same in its manifest."""
    client = s3_client(env)
    client.create_bucket(Bucket=bucket)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        modified = client.head_object(Bucket=bucket, Key=key)["LastModified"].timestamp()
        os.utime(path, ns=(round(modified * 1e6) * 1000,) * 2)


def photos(folder: Path, count: int = 8) -> Path:
    from imagefactory import photo

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo(folder / f"sub/p{i:02d}.jpg" if i % 3 == 0 else folder / f"p{i:02d}.jpg", seed=i)
    return folder


SHARD_ONE = [f"q{i:02d}.jpg" for i in range(8, 12)]  # (photos()' names all hash to shard 0)


def storage_args(s3, prefix: str) -> list[str]:
    """Snakemake's default storage provider (snakemake-storage-plugin-s3) on the test
    server, under ``prefix``."""
    return [
        "--default-storage-provider", "s3",
        "--default-storage-prefix", prefix,
        "--storage-s3-endpoint-url", s3.env["AWS_ENDPOINT_URL"],
    ]  # fmt: skip


def add_photos(s3, bucket: str, folder: Path, names: list[str]) -> None:
    """More images in the bucket's input prefix (made in ``folder`` first)."""
    from imagefactory import photo

    name, _, prefix = bucket[len("s3://") :].partition("/")
    client = s3_client(s3.env)
    for i, rel in enumerate(names):
        photo(folder / rel, seed=50 + i)
        client.put_object(Bucket=name, Key=f"{prefix}/{rel}", Body=(folder / rel).read_bytes())


def bucket_digests(env: dict[str, str], url: str) -> dict[str, str]:
    """digests() of a bucket folder: its objects but its bookkeeping (.imageprep/)."""
    name, _, prefix = url[len("s3://") :].partition("/")
    client, found = s3_client(env), {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix) + 1 :] if prefix else obj["Key"]
            if not rel.startswith(".imageprep/"):
                body = client.get_object(Bucket=name, Key=obj["Key"])["Body"].read()
                found[rel] = hashlib.sha256(body).hexdigest()
    return dict(sorted(found.items()))
