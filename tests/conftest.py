"""Fixtures: a run folder, an unprivileged prefix, a real SLURM cluster."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import REPO, write_config


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


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
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
