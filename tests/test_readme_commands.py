"""Every command the README shows works after the README's install alone: in a venv made
from requirements.txt only (CI builds it: IMAGEPREP_MAIN_PYTHON), on a fresh copy of the
checkout, `snakemake --report` included and rendered by a headless browser."""

import os
import re
import shlex
import subprocess

import pytest

from helpers import REPO, browser, copy_checkout
from imagefactory import photo

INSTALL = "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && "


@pytest.fixture(scope="module")
def main_python():
    """The python of a venv made from requirements.txt alone."""
    python = os.environ.get("IMAGEPREP_MAIN_PYTHON")
    if python:
        return python
    if os.environ.get("IMAGEPREP_REQUIRE_MAIN_VENV"):
        pytest.fail("IMAGEPREP_REQUIRE_MAIN_VENV is set but IMAGEPREP_MAIN_PYTHON is not")
    pytest.skip("no venv from requirements.txt alone (.ci/run makes one: IMAGEPREP_MAIN_PYTHON)")


def readme_commands() -> list[str]:
    """The README's shell lines, but the test suite's own (the second set-up command)."""
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#") and "pytest" not in line]


def as_run(line: str, python: str, photos: str, scratch: str) -> list[str]:
    """A README line as this test runs it: the venv's python, the photos folder for the
    example's /data/photos, and the benchmark on the `tiny` workload, once (the README's
    own takes minutes)."""
    line = line.removeprefix(INSTALL)
    line = line.replace(".venv/bin/snakemake", f"{python} -m snakemake")
    line = line.replace(".venv/bin/python", python).replace("/data/photos", photos)
    if "benchmark.py" in line:
        line = re.sub(r"--workload \S+", "--workload tiny", line)
        line = re.sub(r"--repeats \d+", "--repeats 1", line)
        line = line.replace("snakemake-per-image", "")
        line = re.sub(r"--out-dir \S+", f"--out-dir {scratch}", line)
    return shlex.split(line)


def test_the_readme_lists_the_commands_it_documents():
    commands = readme_commands()
    assert commands[0].startswith(INSTALL)
    assert any("pool.py --force" in c for c in commands)
    assert any("--config input_dir=/data/photos" in c for c in commands)


def test_every_readme_command_runs_after_the_readmes_install(tmp_path, main_python):
    repo = copy_checkout(tmp_path / "imageprep")
    photos = tmp_path / "photos"
    for i in range(3):
        photo(photos / f"img_{i}.jpg", (800, 600), seed=i)
    for line in readme_commands():
        command = as_run(line, main_python, str(photos), str(tmp_path / "bench"))
        proc = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{line}\n{proc.stderr[-3000:]}"
    assert len(list((repo / "results" / "photos").glob("*.jpg"))) == 3
    assert (repo / "results" / "demo" / "manifest.csv").exists()

    # `snakemake --report report.html`, as the README says, then opened in a browser
    report = [main_python, "-m", "snakemake", "--report", "report.html"]
    proc = subprocess.run(report, cwd=repo, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chromium = browser()
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", (repo / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert "imageprep" in dom and "<body" in dom
