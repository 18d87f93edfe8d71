"""Interrupted and crashing runs, both paths: SIGKILL in the middle, a pool worker that dies,
Ctrl-C. Afterwards no visible output is partial, finished outputs are kept, and a rerun
(snakemake --rerun-incomplete; pool.py --resume) gives the bytes of an uninterrupted run."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from helpers import REPO, assert_decodable, digests, run_pool, run_snakemake
from imagefactory import photo
from imageprep.folder.manifest import iter_manifest
from imageprep.folder.writers.files import resize_file
from imageprep.image.spec import ResizeSpec

POOL = [sys.executable, str(REPO / "workflow" / "scripts" / "pool.py"), "--workers", "2"]
POOL += ["--configfile", "config/config.yaml"]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def many_photos(workdir, count, size=(1024, 768)):
    """``count`` images (a few distinct ones, copied: the run's length is what matters)."""
    seeds = [photo(workdir / "seeds" / f"{i}.jpg", size, seed=i) for i in range(4)]
    for i in range(count):
        shutil.copy(seeds[i % 4], workdir / "photos" / f"img_{i:03d}.jpg")
    shutil.rmtree(workdir / "seeds")
    return sorted((workdir / "photos").iterdir())


def uninterrupted(workdir, srcs):
    """What an uninterrupted run makes: the transform, image by image."""
    for src in srcs:
        resize_file(src, workdir / "reference" / src.name, ResizeSpec())
    return digests(workdir / "reference")


def images(folder):
    """The images of a run's output folder (its manifest has rows of its own making)."""
    return {k: v for k, v in digests(folder).items() if k not in ("manifest.csv", "metadata.csv")}


def start(cmd, workdir):
    """Start ``cmd`` in its own process group (like a shell job), logging to files."""
    log = open(workdir / "run.log", "w")  # noqa: SIM115 - closed by the caller's wait
    session = {"start_new_session": True, "preexec_fn": _as_in_a_terminal}
    return subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=log, **session)


def _as_in_a_terminal() -> None:
    """Ctrl-C reaches a command run in a terminal: a test suite started in the background
    (``cmd &`` without job control) has SIGINT ignored, and a child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_outputs(folder, count, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir() and sum(1 for p in folder.glob("img_*.jpg")) >= count:
            return
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.005)
    raise AssertionError(f"no {count} outputs in {timeout} s")


def temp_files(folder):
    return sorted(p.name for p in folder.rglob("*.part"))


def test_snakemake_killed_mid_run_then_rerun_incomplete_gives_the_same_bytes(workdir):
    srcs = many_photos(workdir, 40)
    cmd = [*SNAKEMAKE, "--directory", str(workdir), "--cores", "2"]
    proc = start([*cmd, "--config", "images_per_job=1"], workdir)
    wait_for_outputs(workdir / "results", 6, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    made = sorted((workdir / "results").glob("img_*.jpg"))
    assert 6 <= len(made) < 40
    assert_decodable(workdir / "results")  # whatever is visible is whole
    # A killed Snakemake leaves its lock behind: --unlock, then redo what was incomplete.
    run_snakemake(workdir, "--unlock")
    run_snakemake(workdir, "--rerun-incomplete", "--config", "images_per_job=1")
    assert images(workdir / "results") == uninterrupted(workdir, srcs)
    assert temp_files(workdir / "results") == []


def test_pool_killed_mid_run_then_resume_gives_the_same_bytes(workdir):
    srcs = many_photos(workdir, 60)
    proc = start([*POOL, "--chunksize", "2"], workdir)
    wait_for_outputs(workdir / "results", 6, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert_decodable(workdir / "results")
    kept = {p.name: p.stat().st_mtime_ns for p in (workdir / "results").glob("img_*.jpg")}
    assert 6 <= len(kept) < 60
    out = run_pool(workdir, "--resume")
    assert f"{len(kept)} already complete" in out.stderr
    assert images(workdir / "results") == uninterrupted(workdir, srcs)
    after = {name: (workdir / "results" / name).stat().st_mtime_ns for name in kept}
    assert after == kept  # finished outputs were kept, not redone
    assert temp_files(workdir / "results") == []


def test_resume_redoes_outputs_older_than_their_input(workdir):
    srcs = many_photos(workdir, 3)
    run_pool(workdir)
    os.utime(srcs[1], ns=(time.time_ns() + 10**9,) * 2)  # the input changed after the run
    (workdir / "results" / ".img_002.jpg.part").write_bytes(b"half an image")
    out = run_pool(workdir, "--resume")
    assert "1 images resized" in out.stderr and "2 already complete" in out.stderr
    assert temp_files(workdir / "results") == []


def test_pool_worker_that_dies_is_reported_with_its_image(workdir):
    srcs = many_photos(workdir, 30)
    env = {**os.environ, "IMAGEPREP_TEST_CRASH_ON": "img_017.jpg"}
    proc = run_pool(workdir, "--chunksize", "1", check=False, env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: a worker process died while resizing photos/img_017.jpg; finished outputs are kept"
    )
    assert "Traceback" not in proc.stderr
    assert not (workdir / "results" / "img_017.jpg").exists()
    assert_decodable(workdir / "results")
    reference = uninterrupted(workdir, srcs)
    made = images(workdir / "results")
    assert made and all(made[name] == reference[name] for name in made)
    # The run kept the rows it had, so that the next run knows those images by their rows,
    # and left no manifest.csv that a loader would take for the whole folder.
    kept = (workdir / "results" / ".imageprep" / "rows").glob("*.csv")
    assert sorted(row.output for rows in kept for row in iter_manifest(rows)) == sorted(made)
    assert not (workdir / "results" / "manifest.csv").exists()
    assert not (workdir / "results" / "metadata.csv").exists()


def test_ctrl_c_stops_the_pool_promptly_without_tracebacks(workdir):
    many_photos(workdir, 400)
    proc = start([*POOL, "--chunksize", "4"], workdir)
    wait_for_outputs(workdir / "results", 2, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    t0 = time.monotonic()
    proc.wait(timeout=30)
    assert time.monotonic() - t0 < 5
    log = (workdir / "run.log").read_text()
    assert proc.returncode == 130, log
    assert "Traceback" not in log and "KeyboardInterrupt" not in log
    assert log.strip().splitlines()[-1].startswith("interrupted: finished outputs are kept")
    made = list((workdir / "results").glob("img_*.jpg"))
    assert len(made) < 400 and temp_files(workdir / "results") == []
    assert_decodable(workdir / "results")
    assert not (workdir / "results" / "manifest.csv").exists()  # not complete: no manifest


def test_ctrl_c_stops_snakemake_in_one_line_and_the_rerun_keeps_what_was_made(workdir):
    """Ctrl-C reaches Snakemake and its jobs (one process group, as in a terminal): one
    line, no traceback; each job finishes the image in hand and keeps the rows of what it
    made, so the plain rerun makes only the rest, byte-identical to an uninterrupted run."""
    srcs = many_photos(workdir, 200, (2048, 1536))
    (workdir / "results").mkdir()  # an older run's manifest: it goes while the folder changes
    (workdir / "results" / "manifest.csv").write_text("input,output\n")
    proc = start([*SNAKEMAKE, "--cores", "2"], workdir)
    wait_for_outputs(workdir / "results", 6, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    proc.wait(timeout=60)
    log = (workdir / "run.log").read_text()
    assert proc.returncode != 0, log
    assert "Traceback" not in log and "KeyboardInterrupt" not in log and "Error in" not in log
    assert log.strip().splitlines()[-1] == (
        "interrupted: the images made so far in results are kept and will not be made "
        "again; run the same command to do the rest"
    )
    made = {p.name: p.stat().st_mtime_ns for p in (workdir / "results").glob("img_*.jpg")}
    assert 6 <= len(made) < 200
    assert not (workdir / "results" / "manifest.csv").exists()
    again = run_snakemake(workdir)
    assert f"{200 - len(made)} images resized into results, {len(made)} already complete" in (
        again.stderr
    )
    assert {name: (workdir / "results" / name).stat().st_mtime_ns for name in made} == made
    assert images(workdir / "results") == uninterrupted(workdir, srcs)


@pytest.mark.parametrize("size", [(1, 1)])
def test_all_outputs_are_images_even_tiny_ones(workdir, size):
    # Guard for assert_decodable itself: a truncated file must not pass it.
    photo(workdir / "results" / "ok.jpg", (64, 48))
    assert_decodable(workdir / "results")
    data = (workdir / "results" / "ok.jpg").read_bytes()
    (workdir / "results" / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError):
        assert_decodable(workdir / "results")
    assert Image.open(workdir / "results" / "ok.jpg").size == (64, 48)


def test_one_run_per_output_folder_whichever_path_holds_it(workdir):
    """A second run of either path on a folder in use stops before it writes anything, in
    one line naming the run that holds it; a dry run neither. The first run is unharmed."""
    # Full decodes and large outputs on one core; each first run is paused (SIGSTOP, as
    # Ctrl-Z) while the second tries, so that it still holds the folder however busy the
    # machine is, then resumed to finish.
    many_photos(workdir, 60, (2400, 1800))
    slow = ["jpeg_draft=false", "size=[2000,1500]", "quality=100"]
    pool = start([*POOL, "--workers", "1", "--config", *slow], workdir)
    wait_for_outputs(workdir / "results", 2, pool)
    os.killpg(pool.pid, signal.SIGSTOP)
    for args in (["--dry-run"], []):
        smk = run_snakemake(workdir, *args, "--config", *slow, check=False)
        said = smk.stdout + smk.stderr
        assert smk.returncode != 0 and "Traceback" not in said, (args, said[:1500])
        assert "output_dir 'results' is in use by workflow/scripts/pool.py in " in said
    assert not (workdir / "results" / ".imageprep" / "plans").exists()  # nothing planned
    assert pool.poll() is None, "the pool ended before the second run: no test"
    os.killpg(pool.pid, signal.SIGCONT)
    assert pool.wait(timeout=300) == 0
    pooled = images(workdir / "results")

    shutil.rmtree(workdir / "results")
    smk = start([*SNAKEMAKE, "--cores", "1", "--config", *slow], workdir)
    wait_for_outputs(workdir / "results", 2, smk)
    os.killpg(smk.pid, signal.SIGSTOP)
    second = run_pool(workdir, "--config", *slow, check=False)
    assert second.returncode == 1
    assert second.stderr.startswith("error: output_dir 'results' is in use by snakemake in ")
    assert len(second.stderr.strip().splitlines()) == 1
    assert smk.poll() is None, "snakemake ended before the second run: no test"
    os.killpg(smk.pid, signal.SIGCONT)
    assert smk.wait(timeout=300) == 0
    assert images(workdir / "results") == pooled


def test_a_run_killed_with_sigkill_leaves_no_lock_behind(workdir):
    """The lock is flock(2): the kernel drops it with the last descriptor of the killed
    run (and its workers), so the next run takes the folder at once."""
    many_photos(workdir, 300)
    pool = start(POOL, workdir)
    wait_for_outputs(workdir / "results", 2, pool)
    os.killpg(pool.pid, signal.SIGKILL)
    pool.wait(timeout=30)
    assert "pool.py" in (workdir / "results" / ".imageprep" / "lock").read_text()
    run_snakemake(workdir)
    assert "snakemake in" in (workdir / "results" / ".imageprep" / "lock").read_text()


def test_a_shard_job_sent_sigterm_keeps_the_rows_of_what_it_made(workdir):
    """As scancel stops a job on SLURM: the job finishes the image in hand, keeps the rows
    of what it made and exits 130 without a traceback; run again, it makes only the rest."""
    from imageprep.folder.variants import from_config, to_json
    from imageprep.run.config import load_config
    from imageprep.run.plan_files import write_plan_text
    from imageprep.run.shards import kept_rows_path

    many_photos(workdir, 120, (2048, 1536))
    names = sorted(p.name for p in (workdir / "photos").iterdir())
    plan = workdir / "plan.csv"
    write_plan_text(plan, [(name, name) for name in names])
    spec = to_json(from_config(load_config(workdir / "config" / "config.yaml")))
    rows = workdir / "results" / ".imageprep" / "shards" / "0000-of-0001.csv"
    job = [sys.executable, str(REPO / "workflow" / "scripts" / "resize_jobs.py"), "--spec", spec,
           "--plan", str(plan), "--rows", str(rows), "--dirs", "photos", "results"]  # fmt: skip
    proc = start(job, workdir)
    wait_for_outputs(workdir / "results", 3, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    assert (workdir / "run.log").read_text().strip().splitlines()[-1] == (
        "interrupted: the images made are kept"
    )
    made = sorted(p.name for p in (workdir / "results").glob("img_*.jpg"))
    kept = iter_manifest(kept_rows_path(rows))
    assert 3 <= len(made) < 120 and sorted(row.output for row in kept) == made
    assert not rows.exists()
    again = subprocess.run(job, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"120 images, {120 - len(made)} resized, {len(made)} current" in again.stderr
