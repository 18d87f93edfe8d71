"""Project hygiene that CI must hold: lint, formatting, pinned packages agreeing, README set-up."""

import re
import subprocess
import sys

import pytest
import yaml

from helpers import REPO


def run(*cmd):
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_snakemake_lint_is_clean():
    proc = run(sys.executable, "-m", "snakemake", "--lint", "--cores", "1")
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr, (
        proc.stdout + proc.stderr
    )


@pytest.mark.parametrize(
    "cmd",
    [("snakefmt", "--check", "."), ("ruff", "check", "."), ("ruff", "format", "--check", ".")],
    ids=lambda c: " ".join(c),
)
def test_formatters_and_linters_are_clean(cmd):
    proc = run(sys.executable, "-m", *cmd)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def pip_pins(path):
    """name -> version from a requirements file, following -r includes."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins.update(pip_pins(path.parent / line[3:].strip()))
        elif line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = _pin(version)
    return pins


def _pin(version):
    """A version and its environment marker, if any, spaces normalised."""
    version, _, marker = version.partition(";")
    return (version.strip(), " ".join(marker.split()))


def conda_pins(path):
    pins = {}
    for dep in yaml.safe_load(path.read_text())["dependencies"]:
        for entry in dep["pip"] if isinstance(dep, dict) else [dep]:
            if entry == "pip":
                continue  # the installer itself, unpinned
            name, version = re.split(r"==?", entry, maxsplit=1)
            pins[name.strip().lower()] = _pin(version)
    return pins


def test_environment_yml_matches_requirements():
    conda = conda_pins(REPO / "environment.yml")
    conda.pop("python")
    assert conda == pip_pins(REPO / "requirements-test.txt")


@pytest.mark.parametrize("env", sorted((REPO / "workflow" / "envs").glob("*.yaml")), ids=str)
def test_rule_env_pins_match_requirements(env):
    rule_env = conda_pins(env)
    rule_env.pop("python")
    runtime = pip_pins(REPO / "requirements.txt")
    assert rule_env == {k: runtime[k] for k in rule_env}


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    command = re.search(r"^# README test command\n(.+)$", ci, re.M).group(1).strip()
    assert command in (REPO / "README.md").read_text()
