"""Several variants in one pass (config's variants:), only_shrink and the filters, through the
real snakemake CLI and pool command: each image decoded once for all its variants, the
same bytes and manifests in every engine, reruns exact per variant, a filtered image never
a failure."""

import csv

import pytest
from PIL import ImageFile

from helpers import (
    dates,
    digests,
    job_lines,
    opened,
    own,
    redone,
    run_pool,
    run_snakemake,
    write_config,
)
from imagefactory import photo, stored_with_orientation
from imageprep.folder.writers.files import make_files, resize_file
from imageprep.image.spec import MODES, ResizeSpec
from imageprep_bench import verify

VARIANTS = {
    "train": {"size": [224, 224], "mode": "fill", "min_size": [320, 320]},
    "view": {"size": [600, 600], "mode": "fit", "format": "png", "max_aspect_ratio": 3},
}
SMALL = "312×200 is below min_size 320×320"
WIDE = "aspect ratio 4.00 (1600×400) is above max_aspect_ratio 3"


@pytest.fixture
def photos(workdir):
    """JPEGs a draft can reduce (one rotated by EXIF), a small PNG and a wide JPEG."""
    folder = workdir / "photos"
    (folder / "sub").mkdir()
    photo(folder / "big.jpg", (2400, 1800), seed=1, quality=92)
    stored_with_orientation(opened(photo(folder / "r.png", (1600, 1200), seed=2)), 6,
                            folder / "sub" / "turned.jpg")  # fmt: skip
    (folder / "r.png").unlink()
    photo(folder / "small.png", (312, 200), seed=3)
    photo(folder / "wide.jpg", (1600, 400), seed=4)
    photo(folder / "sub" / "mid.png", (500, 400), seed=5)
    write_config(workdir, input_dir="photos", output_dir="results", variants=VARIANTS)
    return workdir


def rows(path):
    with open(path, newline="") as fh:
        return {row["input"]: row for row in csv.DictReader(fh)}


def test_every_engine_writes_the_same_variants(photos):
    run_snakemake(photos)
    run_snakemake(photos, "--config", "output_dir=per_image", "images_per_job=1")
    run_pool(photos, "--output-dir", "pool")
    run_pool(photos, "--output-dir", "pool1", "--workers", "1")
    for variant in VARIANTS:
        made = digests(photos / "results" / variant)
        assert "manifest.csv" in made and ("big.jpg" in made or "big.png" in made)
        for other in ("per_image", "pool", "pool1"):
            assert digests(photos / other / variant) == made, (other, variant)
    assert sorted(p.name for p in (photos / "results").iterdir()) == [".imageprep", "train", "view"]

    train, view = (
        rows(photos / "results/train/manifest.csv"),
        rows(photos / "results/view/manifest.csv"),
    )
    assert (train["small.png"]["status"], train["small.png"]["reason"]) == ("filtered", SMALL)
    assert (view["wide.jpg"]["status"], view["wide.jpg"]["reason"]) == ("filtered", WIDE)
    assert not (photos / "results/train/small.png").exists()
    assert not (photos / "results/view/wide.png").exists()
    assert (train["sub/turned.jpg"]["input_width"], train["sub/turned.jpg"]["input_height"]) == (
        "1600",
        "1200",
    )
    assert opened(photos / "results/view/sub/turned.png").size == (600, 450)
    assert opened(photos / "results/train/big.jpg").size == (224, 224)
    assert view["small.png"]["status"] == train["wide.jpg"]["status"] == "ok"
    # one decode for both: the draft scale the larger variant needs
    assert train["big.jpg"]["decode"] == view["big.jpg"]["decode"] == "1200x900"


def test_one_decode_serves_every_variant(tmp_path, monkeypatch):
    src = photo(tmp_path / "a.jpg", (4000, 3000), quality=92)
    decodes = []
    load = ImageFile.ImageFile.load

    def counting(self):
        if self.tile:  # pixels still to decode
            decodes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    specs = [ResizeSpec(size=(224, 224), mode="fill"), ResizeSpec(size=(600, 600), mode="fit")]
    dsts = [tmp_path / "t.jpg", tmp_path / "v.png"]
    attempt = make_files(src, list(zip(dsts, specs, strict=True)))
    assert [o.size for o in attempt.outputs] == [(224, 224), (600, 450)]
    assert decodes == [(2000, 1500)]  # one decode, at the scale 600x450 needs
    decodes.clear()
    resize_file(src, tmp_path / "alone.jpg", specs[0])
    assert decodes == [(1000, 750)]  # alone, 224 fill needs a quarter


def test_the_job_log_has_one_line_per_image_for_all_its_variants(photos):
    run_snakemake(photos, "--config", "images_per_job=0")
    log = (own(photos, "logs") / "resize/shard-0000-of-0001.log").read_text()
    lines = [line for line in log.splitlines() if line.startswith("photos/")]
    assert len(lines) == 5
    big = next(line for line in lines if line.startswith("photos/big.jpg"))
    assert big == "photos/big.jpg -> results/train/big.jpg 224x224, results/view/big.png 600x450"
    assert "results/train/small.png filtered (312×200 is below min_size 320×320)" in log
    assert "5 images, 8 resized, 0 current, 0 failed, 2 filtered" in log


@pytest.mark.parametrize("images_per_job", ["0", "1"])
def test_a_variant_redone_alone_keeps_the_bytes_of_a_fresh_run(photos, images_per_job):
    """A change to one variant redoes only its outputs; the others are not touched; and
    every output is what a fresh run of the new config writes."""
    config = ["--config", f"images_per_job={images_per_job}"]
    run_snakemake(photos, *config)
    before = dates(photos / "results")
    changed = {**VARIANTS, "train": {**VARIANTS["train"], "quality": 70}}
    write_config(photos, input_dir="photos", output_dir="results", variants=changed)
    run_snakemake(photos, *config)
    after = dates(photos / "results")
    assert redone(before, after) == ["train/big.jpg", "train/sub/turned.jpg", "train/wide.jpg"]

    # a smaller variant: the decode stays as the largest needs, only the new one is made
    added = {**changed, "tiny": {"size": [64, 64]}}
    write_config(photos, input_dir="photos", output_dir="results", variants=added)
    run_snakemake(photos, *config)
    assert redone(after, dates(photos / "results")) == sorted(
        f"tiny/{name}"
        for name in ("big.jpg", "small.png", "sub/mid.png", "sub/turned.jpg", "wide.jpg")
    )
    # removed: the others stay as they are; the removed variant's folder is left alone
    after = dates(photos / "results")
    write_config(photos, input_dir="photos", output_dir="results", variants=changed)
    run_snakemake(photos, *config)
    assert redone(after, dates(photos / "results")) == []
    assert (photos / "results/tiny/manifest.csv").exists()

    # a larger variant changes how the JPEGs are decoded: their siblings are redone too
    larger = {**changed, "huge": {"size": [2000, 2000], "mode": "fit", "format": "png"}}
    write_config(photos, input_dir="photos", output_dir="results", variants=larger)
    run_snakemake(photos, *config)
    write_config(photos, input_dir="photos", output_dir="fresh", variants=larger)
    run_snakemake(photos, *config)
    for variant in larger:
        assert digests(photos / "results" / variant) == digests(photos / "fresh" / variant)


@pytest.mark.parametrize("images_per_job", ["0", "1"])
def test_a_deleted_variant_output_is_made_again_alone(photos, images_per_job):
    config = ["--config", f"images_per_job={images_per_job}"]
    run_snakemake(photos, *config)
    (photos / "results/view/big.png").unlink()
    before = dates(photos / "results")
    run_snakemake(photos, *config)
    assert redone(before, dates(photos / "results")) == ["view/big.png"]


def test_a_lost_rows_file_of_the_per_image_rule_redoes_nothing(photos):
    run_snakemake(photos, "--config", "images_per_job=1")
    declared = photos / "results/.imageprep/images/big.jpg.csv"
    kept = declared.read_bytes()
    declared.unlink()
    before = dates(photos / "results")
    run_snakemake(photos, "--config", "images_per_job=1")
    assert redone(before, dates(photos / "results")) == []
    assert declared.read_bytes() == kept


def test_a_filter_change_redoes_only_the_images_whose_verdict_changes(photos):
    run_snakemake(photos)
    before = dates(photos / "results")
    relaxed = {**VARIANTS, "train": {**VARIANTS["train"], "min_size": [0, 0]}}
    write_config(photos, input_dir="photos", output_dir="results", variants=relaxed)
    run_snakemake(photos)
    assert redone(before, dates(photos / "results")) == ["train/small.png"]
    assert rows(photos / "results/train/manifest.csv")["small.png"]["status"] == "ok"
    write_config(photos, input_dir="photos", output_dir="results", variants=VARIANTS)
    run_snakemake(photos)
    assert not (photos / "results/train/small.png").exists()
    assert rows(photos / "results/train/manifest.csv")["small.png"]["reason"] == SMALL


@pytest.mark.parametrize("engine", ["snakemake", "per-image", "pool"])
def test_a_filtered_image_is_not_a_failure(workdir, engine):
    """In fail mode, without variants: the run goes on; no output; not in failed.tsv; the
    summary counts it apart."""
    photo(workdir / "photos" / "small.png", (312, 200))
    photo(workdir / "photos" / "ok.jpg", (400, 400))
    write_config(workdir, input_dir="photos", output_dir="results", min_size=[320, 320])
    if engine == "pool":
        proc = run_pool(workdir)
        assert "1 images resized into results, 1 filtered" in proc.stderr
    else:
        per_image = ["--config", "images_per_job=1"] if engine == "per-image" else []
        proc = run_snakemake(workdir, *per_image)
        assert job_lines(proc.stderr) == []
        assert "(1 filtered, 1 ok)" in (own(workdir, "logs") / "manifest.log").read_text()
    made = rows(workdir / "results/manifest.csv")
    assert (made["small.png"]["status"], made["small.png"]["reason"]) == ("filtered", SMALL)
    assert not (workdir / "results/small.png").exists() and (workdir / "results/ok.jpg").exists()
    write_config(
        workdir, input_dir="photos", output_dir="skip", min_size=[320, 320], on_error="skip"
    )
    if engine == "pool":
        run_pool(workdir)
    else:
        run_snakemake(workdir, *per_image)
    assert (workdir / "skip/failed.tsv").read_text() == "path\treason\n"


def test_an_unknown_variant_key_names_the_variant(workdir):
    photo(workdir / "photos" / "a.jpg")
    write_config(
        workdir, input_dir="photos", output_dir="results", variants={"thumbs": {"sise": [1, 1]}}
    )
    proc = run_snakemake(workdir, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert (
        "variants.thumbs: Additional properties are not allowed ('sise' was unexpected)"
        in proc.stderr
    )


BOX = (300, 200)
ONLY_SHRINK = {  # input size -> mode -> output size, with only_shrink (box 300x200)
    (200, 100): {"stretch": (200, 100), "fit": (200, 100), "fill": (200, 100), "pad": (300, 200)},
    (600, 100): {"stretch": (300, 100), "fit": (300, 50), "fill": (300, 100), "pad": (300, 200)},
    (100, 400): {"stretch": (100, 200), "fit": (50, 200), "fill": (100, 200), "pad": (300, 200)},
}


@pytest.mark.parametrize("size", list(ONLY_SHRINK))
@pytest.mark.parametrize("mode", MODES)
def test_only_shrink_never_enlarges(tmp_path, size, mode):
    src = photo(tmp_path / "a.png", size)
    dst = tmp_path / "o.png"
    assert (
        resize_file(src, dst, ResizeSpec(size=BOX, mode=mode, only_shrink=True))
        == ONLY_SHRINK[size][mode]
    )
    out = opened(dst)
    if mode == "pad":  # the image at its own size (fit, at most 1), centred on the box
        fit = ONLY_SHRINK[size]["fit"]
        left, top = (BOX[0] - fit[0]) // 2, (BOX[1] - fit[1]) // 2
        assert out.getpixel((0, 0)) == out.getpixel((BOX[0] - 1, BOX[1] - 1)) == (0, 0, 0)
        assert out.crop((left, top, left + fit[0], top + fit[1])).getbbox() is not None
    if mode in ("stretch", "fit") and ONLY_SHRINK[size][mode] == size:
        assert out.tobytes() == opened(src).tobytes()  # untouched pixels
    if size == (200, 100) and mode != "pad":  # smaller on both axes: enlarged without it
        assert resize_file(src, dst, ResizeSpec(size=BOX, mode=mode)) > size


def test_only_shrink_through_the_workflow(workdir):
    photo(workdir / "photos" / "small.jpg", (200, 100))
    photo(workdir / "photos" / "big.jpg", (900, 600))
    write_config(
        workdir, input_dir="photos", output_dir="results", size=[300, 200], only_shrink=True
    )
    run_snakemake(workdir)
    assert opened(workdir / "results/small.jpg").size == (200, 100)
    assert opened(workdir / "results/big.jpg").size == (300, 200)


@pytest.mark.parametrize("orientation", [1, 6])
def test_every_variant_holds_quality_against_a_full_decode(tmp_path, orientation):
    """Decoded once at the scale the largest needs, every variant keeps SSIM >= 0.99
    against the same settings with every pixel decoded."""
    upright = opened(photo(tmp_path / "u.png", (4000, 3000), seed=7))
    src = stored_with_orientation(upright, orientation, tmp_path / "big.jpg")
    specs = [ResizeSpec(size=(s, s), mode=m) for s in (224, 600) for m in MODES]
    dsts = [tmp_path / f"v{i}.png" for i in range(len(specs))]
    make_files(src, list(zip(dsts, specs, strict=True)), shared=True)
    for dst, spec in zip(dsts, specs, strict=True):
        full = tmp_path / "full.png"
        resize_file(src, full, ResizeSpec(size=spec.size, mode=spec.mode, jpeg_draft=False))
        score = verify.ssim(verify.pixels(dst, "L"), verify.pixels(full, "L"))
        assert score >= 0.99, (spec.size, spec.mode, score)
        assert opened(dst).size == opened(full).size


def test_a_folder_made_before_variants_is_not_redone(workdir):
    """Rows of an earlier release (12 columns, no input size or decode) are read as they
    are: an upgrade redoes no image, and the rows get the new columns as they are rewritten."""
    for i in range(4):
        photo(workdir / "photos" / f"p{i}.jpg", (400, 300), seed=i)
    run_snakemake(workdir)
    for path in (workdir / "results").rglob("*.csv"):
        if path.read_text().startswith("input,output,status"):
            old = [",".join(line.split(",")[:12]) for line in path.read_text().splitlines()]
            path.write_text("\r\n".join(old) + "\r\n")
    header = (workdir / "results/manifest.csv").read_text().splitlines()[0]
    assert len(header.split(",")) == 12
    before = dates(workdir / "results")
    run_snakemake(workdir, "--forcerun", "manifest")
    assert redone(before, dates(workdir / "results")) == []
    header = (workdir / "results/manifest.csv").read_text().splitlines()[0]
    assert header.split(",")[-4:] == ["input_width", "input_height", "decode", "tar"]


def test_reruns_equal_a_fresh_run_when_formats_and_the_variant_set_change(photos):
    """A filtered row follows its output's new name; going from two variants to one
    redoes the decode it no longer shares."""
    run_snakemake(photos)
    steps = [
        {**VARIANTS, "train": {**VARIANTS["train"], "format": "png"}},
        {"train": VARIANTS["train"]},
    ]
    for i, variants in enumerate(steps):
        write_config(photos, input_dir="photos", output_dir="results", variants=variants)
        run_snakemake(photos)
        write_config(photos, input_dir="photos", output_dir=f"fresh{i}", variants=variants)
        run_snakemake(photos)
        for variant in variants:  # (outputs of the old format stay, as without variants)
            fresh = digests(photos / f"fresh{i}" / variant)
            made = digests(photos / "results" / variant)
            assert {k: made.get(k) for k in fresh} == fresh


def test_a_bad_image_a_variant_filters_is_filtered_there_and_failed_elsewhere(workdir):
    photo(workdir / "photos" / "ok.jpg", (400, 300))
    (workdir / "photos" / "cut.jpg").write_bytes(
        photo(workdir / "x.jpg", (400, 300)).read_bytes()[:3000]
    )
    variants = {"a": {"size": [64, 64]}, "b": {"size": [64, 64], "min_size": [1000, 1000]}}
    write_config(
        workdir, input_dir="photos", output_dir="results", on_error="skip", variants=variants
    )
    run_snakemake(workdir)
    run_pool(workdir, "--output-dir", "pooled")
    for variant in variants:
        assert digests(workdir / "results" / variant) == digests(workdir / "pooled" / variant)
    assert rows(workdir / "results/a/manifest.csv")["cut.jpg"]["status"] == "failed"
    assert rows(workdir / "results/b/manifest.csv")["cut.jpg"]["status"] == "filtered"
    assert "cut.jpg" not in (workdir / "results/b/failed.tsv").read_text()
    assert "cut.jpg" in (workdir / "results/a/failed.tsv").read_text()


def test_a_filter_change_with_the_per_image_rule_and_no_variants_redoes_only_its_verdicts(workdir):
    for i in range(32):  # two automatic shards of rows
        photo(workdir / "photos" / f"p{i:02d}.jpg", (200 + 10 * i, 150), seed=i)
    config = {"input_dir": "photos", "output_dir": "results", "format": "png", "images_per_job": 1}
    write_config(workdir, **config, min_size=[250, 0])
    run_snakemake(workdir)
    before = dates(workdir / "results")
    write_config(workdir, **config, min_size=[300, 0])
    run_snakemake(workdir)
    assert redone(before, dates(workdir / "results")) == []  # 5 more filtered, nothing made
    assert (
        sum(r["status"] == "filtered" for r in rows(workdir / "results/manifest.csv").values())
        == 10
    )


def test_a_png_a_filter_leaves_out_is_not_decoded(tmp_path, monkeypatch):
    src = photo(tmp_path / "a.png", (300, 200))
    decodes = []
    load = ImageFile.ImageFile.load

    def counting(self):
        if self.tile:
            decodes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    attempt = make_files(src, [(tmp_path / "o.png", ResizeSpec(min_size=(400, 400)))])
    assert attempt.outputs[0].filtered and decodes == []
