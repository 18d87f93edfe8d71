"""Failures of the environment are not the image's: a full disk or a read-only output folder
fails the run in both paths and both on_error modes, with one line naming the output and
the cause; finished outputs stay whole, no part file is left, nothing is listed as skipped.

The folders are small tmpfs mounts (as root, as CI runs); elsewhere the tests skip."""

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from helpers import job_lines, run_pool, run_snakemake, write_config
from imagefactory import photo


def _mount(target: Path, options: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")


@pytest.fixture
def mounts():
    """Mount small tmpfs folders; every one is unmounted at the end."""
    made: list[Path] = []

    def mount(target: Path, options: str) -> Path:
        _mount(target, options)
        made.append(target)
        return target

    yield mount
    for target in reversed(made):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@pytest.fixture
def photos(workdir):
    for i in range(8):
        photo(workdir / "photos" / f"img_{i}.jpg", (640, 480), seed=i)
    return workdir


def assert_whole(folder: Path) -> None:
    """Every image left in ``folder`` decodes, and no part file is left."""
    assert not [p for p in folder.rglob("*") if p.name.endswith(".part")]
    for path in folder.glob("*.jpg"):
        with Image.open(path) as im:
            im.load()


def one_error_line(stderr: str) -> str:
    lines = job_lines(stderr)
    assert "Traceback" not in stderr, stderr[-3000:]
    assert len(lines) >= 1, stderr[-3000:]
    return lines[0]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_full_disk_fails_the_run_in_both_paths(photos, mounts, on_error):
    # About three 600×600 JPEG outputs fit: the rest meet a full disk.
    full = mounts(photos / "full", "size=160k")
    write_config(photos, input_dir="photos", output_dir=str(full), on_error=on_error)
    pool = run_pool(photos, check=False)
    line = one_error_line(pool.stderr)
    assert pool.returncode == 1
    assert line.startswith(f"error: cannot write {full}/img_") and "No space left on device" in line
    assert "skipped" not in pool.stderr and "images resized" not in pool.stderr
    assert_whole(full)

    subprocess.run(["sh", "-c", f"rm -rf {full}/* {full}/.imageprep"], check=True)
    smk = run_snakemake(photos, "--config", "images_per_job=1", check=False)
    assert smk.returncode != 0
    assert f"error: cannot write {full}/" in smk.stderr and "No space left on device" in smk.stderr
    assert "Traceback" not in smk.stderr
    assert_whole(full)

    for shards in ("images_per_job=4", "images_per_job=4 threads_per_job=2"):  # shard jobs
        subprocess.run(["sh", "-c", f"rm -rf {full}/* {full}/.imageprep"], check=True)
        smk = run_snakemake(photos, "--config", *shards.split(), check=False)
        assert smk.returncode != 0
        line = one_error_line(smk.stderr)
        assert line.startswith(f"error: cannot write {full}/"), smk.stderr[-3000:]
        assert "No space left on device" in line
        assert_whole(full)


@pytest.mark.timeout(300)
def test_read_only_output_folder_fails_before_any_work_in_both_paths(photos, mounts):
    read_only = mounts(photos / "ro", "ro,size=64k")
    for on_error in ("fail", "skip"):
        write_config(photos, input_dir="photos", output_dir=str(read_only), on_error=on_error)
        pool = run_pool(photos, check=False)
        assert pool.returncode == 1
        assert pool.stderr.strip() == f"error: cannot write {read_only}: Read-only file system"
        smk = run_snakemake(photos, check=False)
        assert smk.returncode != 0 and "Traceback" not in smk.stderr
        assert f"cannot write {read_only}: Read-only file system" in smk.stderr


def test_failed_tsv_that_cannot_be_written_fails_the_pool_run(photos):
    """The images are written, failed.tsv cannot be (a folder holds its name): the run fails
    naming failed.tsv, not an image. (Snakemake removes a declared output before its job
    runs, so there the folder is simply replaced.)"""
    (photos / "photos" / "zero.jpg").write_bytes(b"")
    write_config(photos, input_dir="photos", output_dir="results", on_error="skip")
    (photos / "results" / "failed.tsv").mkdir(parents=True)
    pool = run_pool(photos, check=False)
    assert pool.returncode == 1
    assert one_error_line(pool.stderr) == "error: cannot write results/failed.tsv: Is a directory"
    assert len(list((photos / "results").glob("*.jpg"))) == 8
    assert_whole(photos / "results")
