"""Fixtures: a run folder, an unprivileged prefix, a real SLURM cluster."""

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from helpers import REPO, SECRET, moto_server, photos, s3_client, upload, write_config


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A run folder with config/config.yaml reading photos/ into results/."""
    write_config(tmp_path, input_dir="photos", output_dir="results")
    (tmp_path / "photos").mkdir()
    return tmp_path


@pytest.fixture(scope="session")
def unprivileged() -> list[str]:
    """A command prefix under which ``chmod 000`` really hides a file. Root reads every file,
    but not inside a user namespace of its own (``unshare -U``), where it loses that power."""
    if os.geteuid() != 0:
        return []
    if subprocess.run(["unshare", "-U", "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root, and `unshare -U` (to drop root's file access) fails here")
    return ["unshare", "-U"]


CLUSTER = REPO / "tests" / "cluster"


def _slurm_answers(env: dict[str, str]) -> bool:
    probe = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                           env=env, timeout=30)  # fmt: skip
    return probe.returncode == 0 and probe.stdout.strip() in ("idle", "mix", "alloc")


def _no_cluster(reason: str) -> None:
    """Skip the SLURM tests, or fail them where a cluster is promised (CI sets
    IMAGEPREP_REQUIRE_SLURM=1 after tests/cluster/up.sh)."""
    if os.environ.get("IMAGEPREP_REQUIRE_SLURM") == "1":
        pytest.fail(f"IMAGEPREP_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm():
    """Environment for commands that talk to a real SLURM cluster: the one .ci/run started
    (SLURM_CONF and PATH point at it), or a private one started here with
    tests/cluster/up.sh when this machine can (root, Debian's slurm packages installed)."""
    if shutil.which("sbatch") is None:
        _no_cluster("sbatch is not on the PATH (tests/cluster/install.sh installs SLURM)")
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        _no_cluster("snakemake-executor-plugin-slurm is missing (requirements-cluster.txt)")
    env = dict(os.environ)
    if env.get("SLURM_CONF") and _slurm_answers(env):
        yield env
        return
    if os.geteuid() != 0 or shutil.which("slurmctld") is None:
        _no_cluster("no SLURM cluster answers, and this machine cannot start one (needs root)")
    # Not under pytest's tmp folder: that is private to root, and munged runs as munge.
    state = Path(tempfile.mkdtemp(prefix="imageprep-slurm-"))
    up = subprocess.run([str(CLUSTER / "up.sh"), str(state)], capture_output=True, text=True)
    if up.returncode != 0:
        subprocess.run([str(CLUSTER / "down.sh"), str(state)], capture_output=True)
        _no_cluster(f"tests/cluster/up.sh failed:\n{up.stderr[-2000:]}")
    env["SLURM_CONF"] = str(state / "slurm.conf")
    env["PATH"] = f"{state / 'bin'}:{env['PATH']}"
    try:
        yield env
    finally:
        subprocess.run([str(CLUSTER / "down.sh"), str(state), "--purge"], capture_output=True)


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def storage(bucket, s3) -> str:
    """Snakemake's storage (--default-storage-prefix): a prefix in a bucket of its own."""
    name = bucket[len("s3://") :].split("/", 1)[0] + "-work"
    s3_client(s3.env).create_bucket(Bucket=name)
    return f"s3://{name}/run"


@pytest.fixture
def bucket(workdir, s3, monkeypatch):
    """A new bucket holding the photos of ``workdir/photos`` under raw/: its URL. The runs
    reach the test server through the AWS environment, with their own secret."""
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    name = f"imgs-{uuid.uuid4().hex[:12]}"
    upload(s3.env, photos(workdir / "photos"), name)
    return f"s3://{name}/raw"
