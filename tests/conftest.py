import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def run_snakemake(
    workdir: Path, *args: str, check: bool = True, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess:
    """The real snakemake CLI on the repo's Snakefile, run in ``workdir`` (after ``prefix``,
    a command that runs it, such as ``unshare -U``)."""
    cmd = [*prefix, sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=os.environ)
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


def write_config(workdir: Path, **config) -> Path:
    path = workdir / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


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
