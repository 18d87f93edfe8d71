"""Bad inputs, in both paths (the real snakemake CLI and the pool command), in both on_error
modes: one clear line naming the file and the reason, or a correct output; never a partial
file; failed.tsv in skip mode; nothing written outside the output folders."""

import os
import shutil

import pytest
from PIL import Image

from helpers import OWN, assert_decodable, digests, own, run_pool, run_snakemake, tree, write_config
from imagefactory import ODD_NAMES, bad_inputs, odd_inputs, photo
from imageprep.folder.records import read_failed_tsv

GOOD = ["good_1.jpg", "sub/good_2.png"]


@pytest.fixture
def mixed(workdir):
    """photos/ with good images and one of each kind of bad file; returns the reasons."""
    for i, name in enumerate(GOOD):
        photo(workdir / "photos" / name, (300, 200), seed=i)
    return bad_inputs(workdir / "photos")


def test_snakemake_fail_mode_stops_with_one_line_naming_the_file(workdir):
    photo(workdir / "photos" / "good.jpg")
    bad_inputs(workdir / "bad")
    (workdir / "photos" / "truncated.jpg").write_bytes(
        (workdir / "bad" / "truncated.jpg").read_bytes()
    )
    proc = run_snakemake(workdir, "--config", "images_per_job=1", check=False)
    assert proc.returncode != 0
    assert "error: photos/truncated.jpg: truncated JPEG" in proc.stderr
    assert not (workdir / "results" / "truncated.jpg").exists()
    log = (own(workdir, "logs") / "resize" / "truncated.jpg.log").read_text()
    assert "photos/truncated.jpg: truncated JPEG" in log
    assert_decodable(workdir / "results")


@pytest.mark.parametrize("name", ["dangling.jpg", "a{b}.jpg", "loop.jpg"])
def test_snakemake_fail_mode_refuses_unplannable_inputs_before_any_job(workdir, name):
    photo(workdir / "photos" / "good.jpg")
    if name == "dangling.jpg":
        (workdir / "photos" / name).symlink_to(workdir / "nowhere.jpg")
        reason = "broken symlink (to "
    elif name == "loop.jpg":  # two links naming each other
        (workdir / "photos" / name).symlink_to("other.jpg")
        (workdir / "photos" / "other.jpg").symlink_to(name)
        reason = "symlink loop"
    else:  # refused by the per-image rule only, which declares each image to Snakemake
        photo(workdir / "photos" / name)
        reason = "which Snakemake reads as a wildcard"
    proc = run_snakemake(workdir, "--config", "images_per_job=1", check=False)
    assert proc.returncode != 0
    assert f"photos/{name}: " in proc.stderr and reason in proc.stderr
    assert not (workdir / "results").exists()


def test_pool_fail_mode_stops_with_one_line_naming_the_file(workdir):
    photo(workdir / "photos" / "good.jpg")
    bad_inputs(workdir / "bad")
    (workdir / "photos" / "zero.jpg").write_bytes(b"")
    proc = run_pool(workdir, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "error: photos/zero.jpg: empty file (0 bytes)"
    assert "Traceback" not in proc.stderr
    assert not (workdir / "results" / "zero.jpg").exists()
    assert_decodable(workdir / "results")


@pytest.mark.parametrize("images_per_job", [1, 3])
def test_skip_mode_both_paths_list_every_bad_file_and_agree(mixed, workdir, images_per_job):
    reasons = mixed
    run_snakemake(workdir, "--config", "on_error=skip", f"images_per_job={images_per_job}")
    proc = run_pool(workdir, "--output-dir", "pooled", "--on-error", "skip")
    for out in ("results", "pooled"):
        rows = dict(read_failed_tsv(workdir / out / "failed.tsv"))
        assert sorted(rows) == sorted(f"photos/{name}" for name in reasons), out
        for name, reason in reasons.items():
            assert reason in rows[f"photos/{name}"], (out, name, rows[f"photos/{name}"])
        assert sorted(digests(workdir / out)) == sorted(
            [*GOOD, "failed.tsv", "manifest.csv", "metadata.csv"]
        ), out
        assert_decodable(workdir / out)
    assert digests(workdir / "results") == digests(workdir / "pooled")
    assert "2 images resized" in proc.stderr and "7 skipped (failed.tsv)" in proc.stderr
    # Skipped images are not retried on every run; a deleted output is made again.
    skip = ("--config", "on_error=skip", f"images_per_job={images_per_job}")
    assert "Nothing to be done" in run_snakemake(workdir, *skip, "--dry-run").stdout
    (workdir / "results" / "good_1.jpg").unlink()
    run_snakemake(workdir, *skip)
    assert digests(workdir / "results") == digests(workdir / "pooled")


def test_a_bad_file_that_is_fixed_is_made_and_leaves_the_manifest(mixed, workdir):
    run_snakemake(workdir, "--config", "on_error=skip")
    photo(workdir / "photos" / "zero.jpg", seed=5)  # the user replaces the broken file
    run_snakemake(workdir, "--config", "on_error=skip")
    rows = dict(read_failed_tsv(workdir / "results" / "failed.tsv"))
    assert "photos/zero.jpg" not in rows and len(rows) == len(mixed) - 1
    assert Image.open(workdir / "results" / "zero.jpg").size == (600, 600)


def test_odd_but_valid_inputs_give_identical_outputs_in_both_paths(workdir):
    names = odd_inputs(workdir / "photos", workdir / "outside")
    run_snakemake(workdir)
    run_pool(workdir, "--output-dir", "pooled")
    made = digests(workdir / "results")
    assert sorted(made) == sorted([*ODD_NAMES, *OWN]) == sorted([*names, *OWN])
    assert made == digests(workdir / "pooled")
    for name in names:
        assert Image.open(workdir / "results" / name).size == (600, 600), name


def test_wildcard_like_name_is_made_by_shards_and_the_pool_and_refused_per_image(workdir):
    photo(workdir / "photos" / "good.jpg")
    photo(workdir / "photos" / "a{b}.jpg", seed=3)
    run_snakemake(workdir, "--config", "on_error=skip", "images_per_job=1")
    rows = read_failed_tsv(workdir / "results" / "failed.tsv")
    assert [src for src, _ in rows] == ["photos/a{b}.jpg"] and "wildcard" in rows[0][1]
    run_snakemake(workdir, "--config", "output_dir=sharded")
    run_pool(workdir, "--output-dir", "pooled")
    assert Image.open(workdir / "pooled" / "a{b}.jpg").size == (600, 600)
    assert digests(workdir / "sharded") == digests(workdir / "pooled")


def test_nothing_is_written_outside_the_output_folders(mixed, workdir):
    before = tree(workdir)
    run_snakemake(workdir, "--config", "on_error=skip")
    run_pool(workdir, "--output-dir", "pooled", "--on-error", "skip")
    added = tree(workdir) - before
    assert added and all(p.split("/")[0] in {"results", "pooled"} for p in added), sorted(added)
    assert not [p for p in added if p.endswith((".part", ".tmp"))]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"sise": [1, 1]}, "'sise' was unexpected"),
        ({"input_dir": "nowhere"}, "input_dir: 'nowhere' is not a folder"),
        ({"output_dir": "photos"}, "output_dir: 'photos' is inside input_dir"),
        ({"output_dir": "photos/out"}, "output_dir: 'photos/out' is inside input_dir"),
        ({"on_error": "ignore"}, "on_error: 'ignore' is not one of ['fail', 'skip']"),
    ],
)
def test_pool_refuses_bad_config_before_any_work(workdir, config, message):
    photo(workdir / "photos" / "a.jpg")
    write_config(workdir, **{"input_dir": "photos", "output_dir": "results", **config})
    proc = run_pool(workdir, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (workdir / "results").exists() and not (workdir / "photos" / "out").exists()


def test_pool_reports_no_images_and_collisions(workdir):
    (workdir / "photos" / "readme.txt").write_text("no images")
    proc = run_pool(workdir, check=False)
    assert proc.returncode == 2 and "input_dir: no files ending in" in proc.stderr
    photo(workdir / "photos" / "a.jpg")
    photo(workdir / "photos" / "a.png")
    proc = run_pool(workdir, check=False)
    assert proc.returncode == 0
    write_config(workdir, input_dir="photos", output_dir="results", format="jpeg")
    proc = run_pool(workdir, check=False)
    assert proc.returncode == 1
    assert "photos/a.jpg: would write a.jpg, as a.png would too (format: jpeg)" in proc.stderr


def test_inputs_that_would_write_one_output_in_both_paths_and_both_modes(workdir):
    """Skip mode: every input of a collision is a failed row naming the others, and every
    other image is made, identically in both paths. Fail mode: both stop before any work
    with a short message (count, the first few, where the whole list is)."""
    photo(workdir / "photos" / "good.jpg")
    for i in range(4):
        photo(workdir / "photos" / f"c{i}.jpg", seed=i)
        photo(workdir / "photos" / f"c{i}.png", seed=10 + i)
    config = ["format=jpeg", "on_error=skip"]
    run_snakemake(workdir, "--config", *config)
    run_pool(workdir, "--config", *config, "output_dir=pooled")
    assert digests(workdir / "results") == digests(workdir / "pooled")
    assert sorted(digests(workdir / "results")) == [
        "failed.tsv",
        "good.jpg",
        "manifest.csv",
        "metadata.csv",
    ]
    failed = dict(read_failed_tsv(workdir / "results" / "failed.tsv"))
    assert len(failed) == 8
    assert (
        failed["photos/c2.png"]
        == "would write c2.jpg, as c2.jpg would too (format: jpeg); rename one"
    )

    shutil.rmtree(workdir / "results")
    smk = run_snakemake(workdir, "--config", "format=jpeg", check=False)
    pool = run_pool(workdir, "--config", "format=jpeg", check=False)
    listed = "all 8 in results/.imageprep/refused-inputs.tsv"
    for said in (smk.stdout + smk.stderr, pool.stderr):
        assert "8 input(s) cannot be processed" in said and listed in said, said[-3000:]
        assert "Traceback" not in said and max(map(len, said.splitlines())) <= 300
    assert smk.returncode != 0 and pool.returncode == 1
    assert len(read_failed_tsv(workdir / "results" / ".imageprep" / "refused-inputs.tsv")) == 8
    assert [p.name for p in (workdir / "results").iterdir()] == [".imageprep"]  # no outputs


def test_unreadable_file_in_both_paths(workdir, unprivileged):
    photo(workdir / "photos" / "good.jpg")
    locked = photo(workdir / "photos" / "locked.jpg", seed=1)
    locked.chmod(0)
    proc = run_snakemake(workdir, check=False, prefix=unprivileged)
    assert proc.returncode != 0
    assert "error: photos/locked.jpg: Permission denied" in proc.stderr
    proc = run_pool(workdir, "--on-error", "skip", "--output-dir", "pooled", prefix=unprivileged)
    assert read_failed_tsv(workdir / "pooled" / "failed.tsv") == [
        ("photos/locked.jpg", "Permission denied")
    ]
    assert Image.open(workdir / "pooled" / "good.jpg").size == (600, 600)


def test_pool_fail_mode_stops_soon_after_the_bad_image(workdir):
    # PNGs (no draft: each takes a while, however fast the resampler)
    seed = photo(workdir / "seed.png", (1600, 1200))
    for i in range(1, 60):
        (workdir / "photos" / f"img_{i:03d}.png").write_bytes(seed.read_bytes())
    # The largest file, so the first image of the first task (the pool goes largest first).
    (workdir / "photos" / "img_000.png").write_text("not a photo\n" * 1_000_000)
    proc = run_pool(workdir, "--chunksize", "30", check=False)
    assert proc.returncode == 1 and "img_000.png: not an image (text file)" in proc.stderr
    # Every worker stops after its current image: the other worker does not finish its
    # task of 29 images (it would without the shared stop flag).
    assert len(list((workdir / "results").glob("*.png"))) < 15
    proc = run_pool(workdir, "--chunksize", "-1", check=False)
    assert proc.returncode == 2 and "must be 0 or more" in proc.stderr


def test_a_name_that_is_not_utf8_is_made_by_shards_and_the_pool_and_refused_per_image(
    workdir,
):
    """Old camera folders and zip extracts hold Latin-1 names; Python sees them with
    surrogate escapes. Shards and the pool make them; the per-image rule, which declares
    each image to Snakemake, cannot track them and says so."""
    photo(workdir / "photos" / "good.jpg")
    latin1 = os.fsdecode(b"caf\xe9.jpg")
    photo(workdir / "photos" / latin1, seed=4)
    pool = run_pool(workdir, "--output-dir", "pooled", "--on-error", "skip")
    assert "Traceback" not in pool.stderr
    assert Image.open(workdir / "pooled" / latin1).size == (600, 600)
    assert read_failed_tsv(workdir / "pooled" / "failed.tsv") == []
    smk = run_snakemake(workdir, "--config", "on_error=skip")
    assert "Traceback" not in smk.stderr
    assert read_failed_tsv(workdir / "results" / "failed.tsv") == []
    assert digests(workdir / "results") == digests(workdir / "pooled")
    smk = run_snakemake(workdir, "--config", "on_error=skip", "images_per_job=1", "output_dir=one")
    assert "Traceback" not in smk.stderr
    rows = read_failed_tsv(workdir / "one" / "failed.tsv")
    assert rows == [(f"photos/{latin1}", rows[0][1])] and "not valid UTF-8" in rows[0][1]
    assert (workdir / "one" / "good.jpg").exists()


ODD_BUT_VALID = [
    "odd #hash %pct {brace}.png",
    "-leading dash.jpg",
    "  two spaces .jpg",
    "{x}/in a {braced} folder.jpg",
    os.fsdecode(b"caf\xe9 \xff.jpg"),
]


def test_every_name_the_pool_takes_the_shard_path_takes(workdir):
    """Names Snakemake could not declare are fine in shards: Snakemake never sees them."""
    for i, name in enumerate(ODD_BUT_VALID):
        photo(workdir / "photos" / name, seed=i)
    run_snakemake(workdir)
    run_pool(workdir, "--output-dir", "pooled")
    made = digests(workdir / "results")
    assert sorted(made) == sorted([*ODD_BUT_VALID, *OWN])
    assert made == digests(workdir / "pooled")  # manifest.csv too, byte for byte
    log = (own(workdir, "logs") / "resize" / "shard-0000-of-0001.log").read_bytes()
    assert b"caf\xe9 \xff.jpg" in log


def test_an_unreadable_subfolder_stops_both_paths_in_one_line(workdir, unprivileged):
    photo(workdir / "photos" / "good.jpg")
    photo(workdir / "photos" / "sub" / "hidden.jpg")
    (workdir / "photos" / "sub").chmod(0)
    try:
        line = "input_dir: cannot list 'photos/sub': Permission denied"
        pool = run_pool(workdir, check=False, prefix=unprivileged)
        assert pool.returncode == 2 and pool.stderr.strip() == f"error: {line}", pool.stderr
        smk = run_snakemake(workdir, check=False, prefix=unprivileged)
        assert smk.returncode != 0 and line in smk.stderr and "Traceback" not in smk.stderr
    finally:
        (workdir / "photos" / "sub").chmod(0o755)


def test_symlink_loops_are_listed_in_skip_mode_by_both_paths(workdir):
    photo(workdir / "photos" / "good.jpg")
    (workdir / "photos" / "a.jpg").symlink_to("b.jpg")
    (workdir / "photos" / "b.jpg").symlink_to("a.jpg")
    (workdir / "photos" / "sub").mkdir()
    (workdir / "photos" / "sub" / "self").symlink_to("self")  # a looping name, no extension
    smk = run_snakemake(workdir, "--config", "on_error=skip")
    pool = run_pool(workdir, "--output-dir", "pooled", "--on-error", "skip")
    for proc, out in ((smk, "results"), (pool, "pooled")):
        assert "Traceback" not in proc.stderr
        assert read_failed_tsv(workdir / out / "failed.tsv") == [
            ("photos/a.jpg", "symlink loop"),
            ("photos/b.jpg", "symlink loop"),
        ]
        assert (workdir / out / "good.jpg").exists()
