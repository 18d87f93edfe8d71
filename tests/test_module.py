"""imageprep as one stage of a user's own workflow: a parent Snakefile in a folder outside the
checkout imports it as a Snakemake module, twice, and the real snakemake CLI runs it."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, copy_checkout, digests, mtimes, run_snakemake, write_config
from imagefactory import photo

GUIDE = (REPO / "docs" / "module.md").read_text()
USE = GUIDE.split("## The example")[1]
# The parent workflow exactly as docs/module.md shows it: its Snakefile, then its config.yaml.
PARENT, CONFIG = re.findall(r"```\w*\n(.*?)```", USE, re.S)[:2]
LOCAL = '"vendor/imageprep-workflow/Snakefile"'
TRAIN, THUMBS = yaml.safe_load(CONFIG)["train"], yaml.safe_load(CONFIG)["thumbs"]
NAMES = ["a.jpg", "b.png", "nested/c.jpg", "d e.jpeg"]


def write_parent(folder: Path, snakefile: str = LOCAL, **instances) -> None:
    """The guide's parent workflow in ``folder``, importing imageprep from ``snakefile`` (a
    path string or gitfile(...)), with ``instances``' config (default: the guide's)."""
    instances = instances or yaml.safe_load(CONFIG)
    assert LOCAL in PARENT
    train = instances["train"]
    check = (
        "\n\n# The parent's config stays its own: imageprep fills its defaults in a copy.\n"
        f"assert config['train'] == {train!r}, config['train']\n"
    )
    (folder / "Snakefile").write_text(PARENT.replace(LOCAL, snakefile) + check)
    (folder / "config.yaml").write_text(yaml.safe_dump(instances))


def snakemake(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The real snakemake CLI on the parent's own Snakefile, run in its folder."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def jobs(folder: Path, *args: str) -> dict[str, int]:
    """Jobs a dry run would execute, by rule."""
    out = snakemake(folder, "--dry-run", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {line.split()[0]: int(line.split()[1]) for line in table.splitlines()[3:] if line}


@pytest.fixture
def parent(tmp_path: Path) -> Path:
    """A parent workflow outside the checkout, imageprep under vendor/imageprep-workflow."""
    folder = tmp_path / "parent"
    for i, name in enumerate(NAMES):
        photo(folder / "photos" / name, (500 + 20 * i, 320), seed=i)
    (folder / "vendor").mkdir()
    (folder / "vendor" / "imageprep-workflow").symlink_to(REPO)
    write_parent(folder)
    return folder


def standalone(tmp_path: Path, parent: Path, settings: dict, name: str) -> dict[str, str]:
    """Digests of a standalone run with the same settings, on the same photos."""
    run = tmp_path / f"standalone-{name}"
    shutil.copytree(parent / "photos", run / "photos")
    write_config(run, **{**settings, "output_dir": "out"})
    run_snakemake(run)
    return digests(run / "out")


def test_two_instances_and_a_downstream_rule_match_standalone_runs_and_rerun_exactly(
    parent, tmp_path
):
    snakemake(parent)
    assert (parent / "prepared" / "summary.txt").read_text().count("manifest.csv") == 2
    train, thumbs = digests(parent / "prepared" / "train"), digests(parent / "prepared" / "thumbs")
    assert sorted(train) == sorted(["manifest.csv", "metadata.csv", *NAMES])
    pngs = [name.rsplit(".", 1)[0] + ".png" for name in NAMES]
    assert sorted(thumbs) == sorted(["manifest.csv", "metadata.csv", *pngs])
    assert train == standalone(tmp_path, parent, TRAIN, "train")
    assert thumbs == standalone(tmp_path, parent, THUMBS, "thumbs")
    # Each instance's files are its own: logs and benchmarks under the module's name.
    for name in ("train", "thumbs"):
        assert (parent / "logs" / name / "resize" / "shard-0000-of-0001.log").is_file()
        assert (parent / "benchmarks" / name / "resize" / "shard-0000-of-0001.tsv").is_file()
    assert not (parent / "logs" / "resize").exists()

    assert jobs(parent) == {}
    before = mtimes(parent / "prepared")
    snakemake(parent)
    assert mtimes(parent / "prepared") == before

    write_parent(parent, train={**TRAIN, "size": [128, 128]}, thumbs=THUMBS)
    assert jobs(parent) == {"train_resize_shard": 1, "train_manifest": 1, "summary": 1, "all": 1}
    snakemake(parent)
    after = mtimes(parent / "prepared")
    changed = {p for p in after if after[p] != before.get(p)}
    assert {p for p in changed if "thumbs" in p.parts} == set()
    for name in NAMES:
        assert parent / "prepared" / "train" / name in changed

    # An output deleted behind the workflow's back is made again, alone. The parent has no
    # profile: this must hold with Snakemake's default settings (it compares checksums).
    (parent / "prepared" / "thumbs" / "b.png").unlink()
    assert jobs(parent) == {"thumbs_resize_shard": 1, "thumbs_manifest": 1, "summary": 1, "all": 1}
    snakemake(parent)
    assert digests(parent / "prepared" / "thumbs") == thumbs
    log = (parent / "logs" / "thumbs" / "resize" / "shard-0000-of-0001.log").read_text()
    assert "4 images, 1 resized, 3 current" in log


def test_per_image_rule_in_a_module(parent):
    """The literal one-job-per-image rule, imported: its wildcard output stays inside the
    instance's own folder."""
    train = {**TRAIN, "images_per_job": 1}
    write_parent(parent, train=train, thumbs=THUMBS)
    assert jobs(parent)["train_resize"] == len(NAMES)
    snakemake(parent)
    for name in NAMES:
        assert (parent / "logs" / "train" / "resize" / f"{name}.log").is_file()
    assert jobs(parent) == {}
    (parent / "prepared" / "train" / "nested" / "c.jpg").unlink()
    assert jobs(parent) == {"train_resize": 1, "train_manifest": 1, "summary": 1, "all": 1}


@pytest.mark.parametrize("config", [None, [1, 2]], ids=["none", "a list"])
def test_a_module_without_a_mapping_of_keys_is_refused_in_one_line(parent, config):
    """Never the working directory's config/config.yaml (here: the parent's own, with keys
    imageprep does not know)."""
    (parent / "config").mkdir()
    (parent / "config" / "config.yaml").write_text("samples: x\n")
    write_parent(parent, train=config, thumbs=THUMBS)
    said = snakemake(parent, "--dry-run", check=False)
    said = said.stdout + said.stderr
    assert "Invalid config of module train" in said and "Traceback" not in said
    assert "samples" not in said


def test_two_instances_may_read_the_demo_set(parent):
    """One rule makes the generated demo images for both (two would be ambiguous)."""
    demo = {"input_dir": "resources/demo", "demo": {"count": 6, "seed": 0}}
    write_parent(parent, train={**TRAIN, **demo}, thumbs={**THUMBS, **demo})
    snakemake(parent)
    assert len(list((parent / "prepared" / "train").glob("**/*.[jJpP]*[gG]"))) == 6
    assert len(list((parent / "prepared" / "thumbs").glob("**/*.png"))) == 6


def test_module_config_is_checked_by_the_schema_in_one_line(parent):
    bad = {**TRAIN, "size": [0, 224]}
    write_parent(parent, train=bad, thumbs=THUMBS)
    proc = snakemake(parent, "--dry-run", check=False)
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "Invalid config of module train:\n  size[0]: 0 is less than the minimum of 1" in said
    assert "Traceback" not in said
    assert not (parent / "prepared").exists()


def test_two_instances_may_not_share_an_output_folder(parent):
    clash = {**THUMBS, "output_dir": "prepared/train/thumbs"}
    write_parent(parent, train=TRAIN, thumbs=clash)
    proc = snakemake(parent, "--dry-run", check=False)
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "output_dir: 'prepared/train/thumbs' of thumbs overlaps" in said
    assert "give each imageprep instance its own output folder" in said


def test_a_remote_snakefile_runs_from_snakemakes_source_cache(parent, tmp_path):
    """gitfile(...) reads the workflow through Snakemake's source cache, as github(...) does
    (no network here): every file the jobs need must come from there, not from a checkout.
    The repository's work tree is removed after the commit, so only the tag is readable."""
    repo = tmp_path / "repo"
    copy_checkout(repo / "imageprep")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "v1"], ["tag", "v1"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    shutil.rmtree(repo / "imageprep")  # only git's objects are left

    source = f'gitfile({str(repo)!r}, path="imageprep/Snakefile", tag="v1")'
    write_parent(parent, source)
    snakemake(parent)
    copies = list((parent / ".snakemake" / "imageprep").glob("*/workflow/scripts/resize_jobs.py"))
    assert len(copies) == 1
    local = tmp_path / "local"
    shutil.copytree(parent, local, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    shutil.rmtree(local / "prepared")
    write_parent(local)
    snakemake(local)
    for name in ("train", "thumbs"):
        assert digests(parent / "prepared" / name) == digests(local / "prepared" / name)
    assert jobs(parent) == {}


def test_source_files_list_everything_a_job_runs():
    listed = {
        line
        for line in (REPO / "workflow" / "source-files.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    scripts = REPO / "workflow" / "scripts"
    on_disk = {
        p.relative_to(REPO).as_posix()
        for p in scripts.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    on_disk |= {"workflow/schemas/config.schema.yaml", "config/config.yaml"}
    assert listed == on_disk


def test_lint_and_list_rules_on_a_fresh_clone_write_nothing_outside_snakemake(tmp_path):
    clone = copy_checkout(tmp_path / "clone")

    def files() -> set[str]:
        return {
            os.path.relpath(os.path.join(root, name), clone)
            for root, dirs, names in os.walk(clone)
            for name in names
            if not root.startswith(str(clone / ".snakemake")) and ".git" not in Path(root).parts
        }

    before = files()
    # Python would cache the package's bytecode in the checkout unless told not to.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for args in (["--lint"], ["--list-rules"]):
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", *args],
            cwd=clone,
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert files() == before
    # The report command as Snakemake documents it, after a run: no --cores.
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=clone, check=True)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--report", "report.html"],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and (clone / "report.html").is_file(), proc.stderr[-3000:]
