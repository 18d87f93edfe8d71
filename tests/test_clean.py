"""What a folder holds that its manifest no longer lists: a deleted input, an old format, the
other container. Both paths remember what they stop listing (imageprep.folder.stale), the closing
line says so, and workflow/scripts/clean.py shows it, then removes it, and nothing else."""

import pytest

from helpers import run_clean, run_pool, run_snakemake
from imagefactory import photo


def files(folder):
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and ".imageprep" not in p.parts
    )


@pytest.fixture
def photos(workdir):
    for i in range(4):
        photo(workdir / "photos" / "sub" / f"img_{i}.jpg", (320, 240), seed=i)
    return workdir


@pytest.mark.parametrize("path", ["snakemake", "pool"])
def test_what_the_manifest_stops_listing_is_shown_then_removed(photos, path):
    def run(*config):
        if path == "pool":
            return run_pool(photos, *(["--config", *config] if config else []))
        return run_snakemake(photos, *(["--config", *config] if config else []))

    run()
    (photos / "photos" / "sub" / "img_3.jpg").unlink()  # a deleted input
    said = run().stderr
    assert "1 files made by earlier runs are no longer listed" in said
    said = run("format=png").stderr  # an old format
    assert "4 files made by earlier runs are no longer listed" in said
    (photos / "results" / "mine.jpg").write_bytes(b"a file imageprep did not make")
    results = photos / "results"
    stale = ["sub/img_0.jpg", "sub/img_1.jpg", "sub/img_2.jpg", "sub/img_3.jpg"]
    made = ["sub/img_0.png", "sub/img_1.png", "sub/img_2.png"]
    assert files(results) == sorted(["manifest.csv", "metadata.csv", "mine.jpg", *stale, *made])

    shown = run_clean(photos, "--config", "format=png")
    assert shown.stdout.splitlines() == [f"results/{name}" for name in stale]
    assert "4 files (" in shown.stderr and "run again with --yes" in shown.stderr
    assert len(files(results)) == 10  # a dry run removes nothing
    removed = run_clean(photos, "--config", "format=png", "--yes")
    assert removed.stderr.startswith("removed 4 files")
    assert files(results) == sorted(["manifest.csv", "metadata.csv", "mine.jpg", *made])
    assert "nothing to remove" in run_clean(photos, "--config", "format=png").stderr
    said = run("format=png").stderr
    assert "no longer listed" not in said and "3 already complete" in said


def test_a_container_switch_leaves_the_other_containers_files_to_clean(photos):
    run_snakemake(photos)
    said = run_snakemake(photos, "--config", "container=webdataset", "format=jpeg").stderr
    assert "4 files made by earlier runs are no longer listed" in said
    run_clean(photos, "--config", "container=webdataset", "format=jpeg", "--yes")
    left = files(photos / "results")
    assert left == ["images-0000-of-0001.tar", "manifest.csv"], left
    said = run_snakemake(photos).stderr  # back to files: the tar is the stale one now
    assert "1 files made by earlier runs are no longer listed" in said
    run_clean(photos, "--yes")
    assert not (photos / "results" / "images-0000-of-0001.tar").exists()
    assert len(files(photos / "results")) == 6


def test_clean_waits_for_a_folder_a_stopped_run_left_unfinished(photos):
    run_snakemake(photos)
    (photos / "photos" / "sub" / "img_3.jpg").unlink()
    run_snakemake(photos)
    (photos / "results" / "manifest.csv").unlink()  # as a run stopped early leaves it
    proc = run_clean(photos, "--yes", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "error: results/manifest.csv is missing (a run stopped early): run the workflow "
        "again to finish the folder, then clean it"
    )
    assert (photos / "results" / "sub" / "img_3.jpg").exists()
