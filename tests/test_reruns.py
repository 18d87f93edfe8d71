"""Reruns of the shard layer (imageprep.run.shards): Snakemake tracks shards, the jobs track
images, and a rerun redoes exactly the images that changed. "Redone" is read from the
outputs' dates (a redone image is rewritten) and from the shard jobs' log lines."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from helpers import REPO, dates, digests, own, redone, run_pool, run_snakemake
from imagefactory import photo, truncated_exif
from imageprep.folder.manifest import COLUMNS, iter_manifest
from imageprep.image.synthetic import photo_like

N = 12  # images; with images_per_job=3 they make 4 shards


@pytest.fixture
def photos(workdir):
    for i in range(N):
        suffix = ".png" if i % 4 == 0 else ".jpg"
        photo(workdir / "photos" / f"sub{i % 3}" / f"img_{i:02d}{suffix}", (160, 120), seed=i)
    return workdir


def resized_in_logs(workdir):
    """Images resized, by the shard jobs' own count (their log's last line)."""
    total = 0
    for log in (own(workdir, "logs") / "resize").glob("shard-*.log"):
        total += int(re.search(r"(\d+) resized", log.read_text().splitlines()[-1])[1])
    return total


def run(workdir, *config):
    shutil.rmtree(own(workdir, "logs"), ignore_errors=True)  # logs of jobs that did not run go too
    return run_snakemake(workdir, "--config", "images_per_job=3", *config)


def planned(workdir, *config):
    out = run_snakemake(workdir, "--dry-run", "--config", "images_per_job=3", *config).stdout
    return (
        {}
        if "Nothing to be done" in out
        else dict(
            (m[1], int(m[2]))
            for m in re.finditer(
                r"^(\w+)\s+(\d+)$", out.split("Job stats:")[1].split("total")[0], re.M
            )
        )
    )


def test_shards_declare_one_manifest_each_and_the_manifest_lists_every_image(photos):
    run(photos)
    shards = sorted((photos / "results" / ".imageprep" / "shards").iterdir())
    assert [p.name for p in shards] == [f"{i:04d}-of-0004.csv" for i in range(4)]
    rows = list(iter_manifest(photos / "results" / "manifest.csv"))
    assert len(rows) == N and [r.input for r in rows] == sorted(r.input for r in rows)
    assert {r.status for r in rows} == {"ok"} and all(r.width == r.height == 600 for r in rows)
    for row in rows:
        assert row.output_bytes == (photos / "results" / row.output).stat().st_size
    header = (photos / "results" / "manifest.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)
    assert resized_in_logs(photos) == N


def test_nothing_changed_nothing_runs(photos):
    run(photos)
    before = dates(photos / "results")
    assert planned(photos) == {}
    run(photos)
    assert dates(photos / "results") == before


@pytest.mark.parametrize("change", ["add", "modify", "delete output", "replace output"])
def test_one_change_redoes_exactly_that_image(photos, change):
    run(photos)
    before = dates(photos / "results")
    target = "sub2/img_05.jpg"
    if change == "add":
        target = "sub1/new.jpg"
        photo(photos / "photos" / target, (150, 100), seed=99)
    elif change == "modify":
        photo(photos / "photos" / target, (150, 100), seed=99)
    elif change == "delete output":
        (photos / "results" / target).unlink()
    else:  # behind the workflow's back, same name and size: only its date tells
        out = photos / "results" / target
        out.write_bytes(out.read_bytes()[::-1])
    jobs = planned(photos)
    assert jobs == {"resize_shard": 1, "manifest": 1, "all": 1}, jobs
    run(photos)
    assert redone(before, dates(photos / "results")) == [target]
    assert resized_in_logs(photos) == 1
    assert planned(photos) == {}


def test_size_redoes_all_quality_only_lossy(photos):
    run(photos)
    before = dates(photos / "results")
    run(photos, "quality=70")
    after = dates(photos / "results")
    assert redone(before, after) == sorted(k for k in before if k.endswith(".jpg"))
    run(photos, "quality=70", "size=[64,48]", "mode=fill")
    assert redone(after, dates(photos / "results")) == sorted(before)


def test_a_new_shard_count_redoes_only_new_images(photos):
    """Going from 4 to 8 shards moves images between shards: the jobs find their rows in the
    manifests of the old count, so only the added images are resized."""
    run(photos)
    before = dates(photos / "results")
    for i in range(N, 2 * N):
        photo(photos / "photos" / f"late_{i}.jpg", (100, 80), seed=i)
    run(photos)
    shards = sorted(p.name for p in (photos / "results" / ".imageprep" / "shards").iterdir())
    assert shards and all(name.endswith("-of-0008.csv") for name in shards)  # 4's removed
    assert redone(before, dates(photos / "results")) == [f"late_{i}.jpg" for i in range(N, 2 * N)]
    assert resized_in_logs(photos) == N


def test_a_bad_image_in_fail_mode_keeps_the_good_ones_for_the_next_run(photos):
    (photos / "photos" / "sub0" / "broken.jpg").write_bytes(b"not a jpeg")
    proc = run_snakemake(photos, "--config", "images_per_job=3", check=False)
    assert proc.returncode != 0 and "broken.jpg: not an image" in proc.stderr
    made = dates(photos / "results")
    (photos / "photos" / "sub0" / "broken.jpg").unlink()
    run(photos)
    assert not set(redone(made, dates(photos / "results"))) & set(made)  # none made again
    assert len(list(iter_manifest(photos / "results" / "manifest.csv"))) == N


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_pool_and_workflow_write_identical_manifests(photos, on_error):
    if on_error == "skip":
        (photos / "photos" / "sub2" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    config = [f"on_error={on_error}"]
    run_snakemake(photos, "--config", "images_per_job=3", *config)
    run_snakemake(photos, "--config", "images_per_job=1", "output_dir=single", *config)
    run_pool(photos, "--output-dir", "pooled", "--on-error", on_error)
    made = [digests(photos / out) for out in ("results", "single", "pooled")]
    assert made[0] == made[1] == made[2]
    rows = list(iter_manifest(photos / "results" / "manifest.csv"))
    assert ("failed" in {r.status for r in rows}) == (on_error == "skip")


def test_the_pool_keeps_current_rows_and_redoes_a_changed_image_unless_forced(photos):
    """As snakemake: by default only what is not current is done (--resume, the old flag,
    is still taken); --force redoes every image, as the benchmark times it."""
    run_pool(photos)
    before = dates(photos / "results")
    photo(photos / "photos" / "sub2" / "img_05.jpg", (150, 100), seed=99)
    proc = run_pool(photos)
    assert f"1 images resized into results, {N - 1} already complete" in proc.stderr
    assert redone(before, dates(photos / "results")) == ["sub2/img_05.jpg"]
    assert "0 images resized into results" in run_pool(photos, "--resume").stderr
    before = dates(photos / "results")
    proc = run_pool(photos, "--force")
    assert f"{N} images resized into results" in proc.stderr
    assert len(redone(before, dates(photos / "results"))) == N


def test_a_shard_job_reads_its_plan_file_not_the_input_folder(photos):
    """The job command on its own, as a cluster node runs it: its images come from the
    plan file, so other files in the folder (here a FIFO a scan would refuse) are no
    concern of it."""
    run(photos)
    plan = photos / "results" / ".imageprep" / "plans" / "0000-of-0004.csv"
    manifest = photos / "results" / ".imageprep" / "shards" / "0000-of-0004.csv"
    os.mkfifo(photos / "photos" / "sub0" / "pipe.jpg")  # a scan would refuse it
    members = [line.split("\t")[0] for line in plan.read_text().splitlines()]
    for rel in members:
        (photos / "results" / rel).unlink()
    spec = '{"size": [600, 600]}'
    proc = subprocess.run(
        [sys.executable, str(REPO / "workflow" / "scripts" / "resize_jobs.py"), "--spec", spec,
         "--plan", str(plan), "--rows", str(manifest), "--dirs", "photos", "results"],
        cwd=photos, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{len(members)} resized, 0 current" in proc.stderr
    assert all((photos / "results" / rel).exists() for rel in members)


def test_threads_in_a_shard_job_give_the_same_bytes_and_each_image_its_own_warnings(photos):
    """Two threads per job: Pillow's warnings are collected per thread (imageprep.image.capture),
    so each image's log line carries its own, and only its own."""
    for i in range(4):
        bad = photo_like(160, 120, 40 + i)
        bad.save(photos / "photos" / f"warns_{i}.jpg", quality=90, exif=truncated_exif())
    run_snakemake(photos, "--config", "images_per_job=8", "output_dir=one")
    run_snakemake(photos, "--config", "images_per_job=8", "threads_per_job=2", "output_dir=two")
    assert digests(photos / "one") == digests(photos / "two")
    logs = own(photos, "logs", output_dir="two") / "resize"
    lines = "".join(p.read_text() for p in logs.glob("shard-*.log"))
    assert "(2 threads)" in lines
    for line in lines.splitlines():
        if "->" in line:
            assert ("warns_" in line) == ("(warning: Corrupt EXIF data." in line), line


def test_fail_mode_after_skip_mode_stops_at_the_known_bad_image(photos):
    """A failed row is current only in skip mode: switching to fail mode must stop the run
    at the bad image, in both paths, not pass it over as done."""
    (photos / "photos" / "sub0" / "broken.jpg").write_bytes(b"not a jpeg")
    run(photos, "on_error=skip")
    proc = run_snakemake(photos, "--config", "images_per_job=3", "on_error=fail", check=False)
    assert proc.returncode != 0 and "broken.jpg: not an image" in proc.stderr
    proc = run_pool(photos, "--resume", check=False)
    assert proc.returncode == 1 and "broken.jpg: not an image" in proc.stderr


def sizes(folder):
    """Each output's size in pixels."""
    return {
        p.relative_to(folder).as_posix(): Image.open(p).size
        for p in folder.rglob("img_*")
        if ".imageprep" not in p.parts
    }


def test_whichever_path_wrote_last_the_next_run_of_either_sees_the_truth(photos):
    """Snakemake at 64x64, the pool at the config's 600x600 on the same folder, Snakemake
    at 64x64 again: it redoes every image (they are not what its settings make), then
    nothing; the pool's --resume likewise, the other way round."""
    small = ("--config", "images_per_job=3", "size=[64,64]")
    run_snakemake(photos, *small)
    run_pool(photos, "--config", "images_per_job=3")
    assert set(sizes(photos / "results").values()) == {(600, 600)}
    assert planned(photos, "size=[64,64]") == {"resize_shard": 4, "manifest": 1, "all": 1}
    shutil.rmtree(own(photos, "logs"))
    run_snakemake(photos, *small)
    assert set(sizes(photos / "results").values()) == {(64, 64)}
    assert resized_in_logs(photos) == N
    assert planned(photos, "size=[64,64]") == {}
    digests_small = digests(photos / "results")

    proc = run_pool(photos, "--resume", "--config", "images_per_job=3")  # 600x600
    assert f"{N} images resized into results" in proc.stderr
    assert set(sizes(photos / "results").values()) == {(600, 600)}
    proc = run_pool(photos, "--resume", *small)
    assert f"{N} images resized" in proc.stderr
    assert digests(photos / "results") == digests_small  # manifest.csv too
    proc = run_pool(photos, "--resume", *small)
    assert f"0 images resized into results, {N} already complete" in proc.stderr
    # The pool's rows are Snakemake's truth too: its shards run again (their declared
    # manifests went when the pool's rows changed) and find every image current.
    shutil.rmtree(own(photos, "logs"))
    run_snakemake(photos, *small)
    assert resized_in_logs(photos) == 0
    assert digests(photos / "results") == digests_small
    assert planned(photos, "size=[64,64]") == {}


def test_the_pool_sees_what_snakemake_did_and_an_output_replaced_behind_its_back(photos):
    run(photos)
    out = photos / "results" / "sub1" / "img_04.png"
    out.write_bytes(out.read_bytes())  # same bytes, written later: not known to be the same
    proc = run_pool(photos, "--resume", "--config", "images_per_job=3")
    assert f"1 images resized into results, {N - 1} already complete" in proc.stderr
    assert planned(photos) == {}


def test_the_per_image_rule_sees_what_the_pool_did(photos):
    """The per-image rule tracks each image with Snakemake, and reads the folder's one
    bookkeeping too: an image the pool made with other settings, or an output replaced
    behind the workflow's back, is made again; nothing else is."""
    per_image = ("--config", "images_per_job=1", "size=[64,64]")
    run_snakemake(photos, *per_image)
    first = digests(photos / "results")
    run_pool(photos, "--config", "images_per_job=1")  # the config's 600x600
    assert set(sizes(photos / "results").values()) == {(600, 600)}
    run_snakemake(photos, *per_image)
    assert digests(photos / "results") == first
    before = dates(photos / "results")
    out = photos / "results" / "sub0" / "img_03.jpg"
    out.write_bytes(out.read_bytes())  # the same bytes, written after its row
    run_snakemake(photos, *per_image)
    assert redone(before, dates(photos / "results")) == ["sub0/img_03.jpg"]
    out = run_snakemake(photos, "--dry-run", *per_image).stdout
    assert "Nothing to be done" in out
