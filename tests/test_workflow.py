"""The real snakemake CLI on real image files in a temp folder: runs, reruns, bad config."""

import re
import shutil
import sys

import pytest
from PIL import Image

from helpers import OWN, REPO, digests, mtimes, opened, own, run_pool, run_snakemake, write_config
from imagefactory import photo
from imageprep.image.transform import TRANSFORM_VERSION

NAMES = ["a.jpg", "B.JPG", "nested/deeper/c.png", "with space ünï.jpeg"]


def planned_jobs(workdir, *args) -> dict[str, int]:
    """Jobs a dry run would execute, by rule (from Snakemake's own job table)."""
    out = run_snakemake(workdir, "--dry-run", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.fixture
def photos(workdir):
    for i, name in enumerate(NAMES):
        photo(workdir / "photos" / name, (400 + 10 * i, 300), seed=i)
    return workdir


PER_IMAGE = ("--config", "images_per_job=1")


def images_made(folder):
    return sorted(
        p.relative_to(folder).as_posix()
        for p in mtimes(folder)
        if ".imageprep" not in p.parts and p.name not in OWN
    )


def test_full_run_mirrors_folders_with_a_log_and_benchmark_per_shard(photos):
    run_snakemake(photos)
    for name in NAMES:
        assert Image.open(photos / "results" / name).size == (600, 600), name
    log = (own(photos, "logs") / "resize" / "shard-0000-of-0001.log").read_text()
    assert all(f"results/{name} 600x600" in log for name in NAMES)
    assert log.splitlines()[-1].startswith("shard 0000-of-0001: 4 images, 4 resized, 0 current")
    bench = own(photos, "benchmarks") / "resize" / "shard-0000-of-0001.tsv"
    assert bench.read_text().startswith("s\t")
    assert images_made(photos / "results") == sorted(NAMES)


def test_per_image_rule_mirrors_folders_with_logs_and_benchmarks(photos):
    run_snakemake(photos, *PER_IMAGE)
    for name in NAMES:
        out = photos / "results" / name
        assert Image.open(out).size == (600, 600), name
        assert (
            (own(photos, "logs") / "resize" / f"{name}.log").read_text().strip().endswith("600x600")
        )
        assert (own(photos, "benchmarks") / "resize" / f"{name}.tsv").read_text().startswith("s\t")
    assert images_made(photos / "results") == sorted(NAMES)


def test_per_image_rule_reruns_nothing_then_one_new_image_one_job(photos):
    run_snakemake(photos, *PER_IMAGE)
    before = mtimes(photos / "results")
    assert planned_jobs(photos, *PER_IMAGE) == {}
    run_snakemake(photos, *PER_IMAGE)
    assert mtimes(photos / "results") == before

    photo(photos / "photos" / "nested" / "new.jpg", seed=9)
    assert planned_jobs(photos, *PER_IMAGE) == {"resize": 1, "manifest": 1, "all": 1}
    run_snakemake(photos, *PER_IMAGE)
    after = mtimes(photos / "results")
    assert Image.open(photos / "results" / "nested" / "new.jpg").size == (600, 600)
    old = [p for p in before if ".imageprep" not in p.parts and p.name not in OWN]
    assert {p: after[p] for p in old} == {p: before[p] for p in old}  # no image rewritten


def test_per_image_rule_size_reruns_all_and_quality_only_lossy_outputs(photos):
    run_snakemake(photos, *PER_IMAGE)
    size = ("size=[224,160]", "mode=fill")
    jobs = planned_jobs(photos, *PER_IMAGE, *size)
    assert jobs == {"resize": len(NAMES), "manifest": 1, "all": 1}
    lossy = [n for n in NAMES if not n.endswith(".png")]
    jobs = planned_jobs(photos, *PER_IMAGE, "quality=70")
    assert jobs == {"resize": len(lossy), "manifest": 1, "all": 1}
    run_snakemake(photos, *PER_IMAGE, *size)
    for name in NAMES:
        assert Image.open(photos / "results" / name).size == (224, 160)


def test_format_option_changes_extensions(photos):
    run_snakemake(photos, "--config", "format=webp", "output_dir=webp")
    made = sorted(p for p in images_made(photos / "webp"))
    assert made == sorted(n.rsplit(".", 1)[0] + ".webp" for n in NAMES)
    assert all(Image.open(photos / "webp" / m).format == "WEBP" for m in made)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mode": "zoom"}, "mode: 'zoom' is not one of"),
        ({"size": [0, 600]}, "size[0]: 0 is less than the minimum of 1"),
        ({"quality": "high"}, "quality: 'high' is not of type 'integer'"),
        ({"sise": [1, 1]}, "'sise' was unexpected"),
        ({"input_dir": None}, "config: 'input_dir' is a required property"),
        ({"output_dir": "photos/out"}, "output_dir: 'photos/out' is inside input_dir"),
        ({"input_dir": "nowhere"}, "input_dir: 'nowhere' is not a folder"),
        ({"pad_color": "notacolor"}, "pad_color: unknown colour 'notacolor'"),
    ],
)
def test_bad_config_stops_before_any_job(photos, config, message):
    settings = {"input_dir": "photos", "output_dir": "results", **config}
    write_config(photos, **{k: v for k, v in settings.items() if v is not None})
    proc = run_snakemake(photos, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not (photos / "results").exists() and not (photos / "logs").exists()


def test_output_collision_is_refused_before_any_job(workdir):
    photo(workdir / "photos" / "a.jpg")
    photo(workdir / "photos" / "a.png", seed=1)
    proc = run_snakemake(workdir, "--config", "format=jpeg", check=False)
    assert proc.returncode != 0
    assert "photos/a.png: would write a.jpg, as a.jpg would too (format: jpeg)" in proc.stderr
    assert not (workdir / "results").exists()


def test_empty_input_dir_is_an_error(workdir):
    (workdir / "photos" / "readme.txt").write_text("no images here")
    proc = run_snakemake(workdir, check=False)
    assert proc.returncode != 0 and "input_dir: no files ending in" in proc.stderr


def test_shards_and_the_per_image_rule_give_the_same_bytes(photos):
    run_snakemake(photos, *PER_IMAGE, "output_dir=single")
    run_snakemake(photos, "--config", "images_per_job=2", "output_dir=sharded")
    single, sharded = photos / "single", photos / "sharded"
    for name in [*NAMES, *OWN]:
        assert (single / name).read_bytes() == (sharded / name).read_bytes(), name
    assert len(list((sharded / ".imageprep/benchmarks/resize").glob("shard-*.tsv"))) == 2


@pytest.mark.parametrize("images_per_job", [1, 2])
def test_moving_the_checkout_reruns_nothing_and_a_new_transform_version_reruns_all(
    photos, tmp_path_factory, images_per_job
):
    """The interpreter's and the checkout's paths are not in what Snakemake compares (params,
    command); the transform's version is."""
    config = ("--config", f"images_per_job={images_per_job}")
    run_snakemake(photos, *config)
    recorded = "".join(p.read_text() for p in (photos / ".snakemake" / "metadata").iterdir())
    assert str(REPO) not in recorded and sys.executable not in recorded
    moved = tmp_path_factory.mktemp("moved checkout")
    for part in ("Snakefile", "workflow", "profiles"):
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy2
        copy(REPO / part, moved / part)
    snakefile = ("--snakefile", str(moved / "Snakefile"))
    assert planned_jobs(photos, *snakefile, *config) == {}
    transform = moved / "workflow" / "scripts" / "imageprep" / "image" / "transform.py"
    text = transform.read_text()
    old = f"TRANSFORM_VERSION = {TRANSFORM_VERSION}\n"
    assert old in text
    transform.write_text(text.replace(old, "TRANSFORM_VERSION = 999\n"))
    bumped = planned_jobs(photos, *snakefile, *config)
    assert bumped and bumped == planned_jobs(photos, *snakefile, *config, "--forceall")


def test_the_pool_takes_the_same_config_overrides_as_snakemake(photos):
    """One command line, both paths: the same KEY=VALUE words, parsed, merged (nested keys
    too) and checked the same way."""
    words = ["size=[64,48]", "mode=fill", "format=png", "benchmark={repeats: 1}"]
    run_snakemake(photos, "--config", *words, "output_dir=smk")
    run_pool(photos, "--config", *words, "output_dir=pooled")
    made = digests(photos / "smk")
    assert made == digests(photos / "pooled") and len(made) == len(NAMES) + 2
    assert Image.open(photos / "pooled" / "a.png").size == (64, 48)
    line = "size[0]: 0 is less than the minimum of 1"
    pool = run_pool(photos, "--config", "size=[0,48]", check=False)
    assert pool.returncode == 2 and line in pool.stderr
    smk = run_snakemake(photos, "--config", "size=[0,48]", check=False)
    assert smk.returncode != 0 and line in smk.stdout + smk.stderr


def test_the_documented_colour_values_work_with_config_in_both_paths(photos):
    """The config reference's example for pad_color works as a --config word in both paths;
    a #rrggbb word (a YAML comment to snakemake's --config parser) gets one line from the
    pool naming it (snakemake's own parser stops it with a bare AssertionError first)."""
    words = ["mode=pad", "size=[64,64]", "pad_color=rgb(128,128,128)", "format=png"]
    run_snakemake(photos, "--config", *words, "output_dir=smk")
    run_pool(photos, "--config", *words, "output_dir=pooled")
    assert digests(photos / "smk") == digests(photos / "pooled")
    assert opened(photos / "pooled" / "a.png").getpixel((0, 0))[:3] == (128, 128, 128)
    pool = run_pool(photos, "--config", "pad_color=#808080", check=False)
    assert pool.returncode == 2 and "Traceback" not in pool.stderr
    assert "--config pad_color=#808080: a value starting with # is a YAML comment" in pool.stderr


def test_both_paths_end_with_the_same_closing_line(photos):
    """What was made, what was already complete, what failed, and where the manifest is:
    Snakemake's onsuccess handler says what the pool command says, for the same work."""
    smk = run_snakemake(photos, "--config", "output_dir=smk")
    pool = run_pool(photos, "--config", "output_dir=pooled")
    n = len(NAMES)
    assert f"{n} images resized into smk; manifest: smk/manifest.csv" in smk.stderr
    assert f"{n} images resized into pooled; manifest: pooled/manifest.csv" in pool.stderr
    (photos / "photos" / "a.jpg").touch()
    smk = run_snakemake(photos, "--config", "output_dir=smk")
    pool = run_pool(photos, "--config", "output_dir=pooled")
    for folder, proc in (("smk", smk), ("pooled", pool)):
        line = f"1 images resized into {folder}, {n - 1} already complete; manifest: "
        assert line + f"{folder}/manifest.csv" in proc.stderr
