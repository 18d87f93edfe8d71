"""The outputs load as a Hugging Face dataset: each variant folder's metadata.csv is what
``datasets.load_dataset("imagefolder", data_dir=...)`` reads (the real library, offline),
written alike by the workflow and the pool command."""

import csv

import pytest

from helpers import digests, opened, run_pool, run_snakemake, write_config
from imagefactory import photo


@pytest.fixture
def folder(workdir):
    photo(workdir / "photos" / "a.jpg", (400, 300), seed=1)
    photo(workdir / "photos" / "sub" / "b.PNG", (300, 400), seed=2)
    photo(workdir / "photos" / "small.png", (100, 80), seed=3)
    (workdir / "photos" / "broken.jpg").write_bytes(b"not an image")
    return workdir


def load(data_dir, cache):
    from datasets import load_dataset

    return load_dataset("imagefolder", data_dir=str(data_dir), split="train", cache_dir=str(cache))


def test_each_variant_folder_loads_as_an_imagefolder_dataset(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # a local folder: nothing to download
    variants = {
        "train": {"size": [64, 64], "mode": "fill", "min_size": [200, 200]},
        "view": {"format": "png"},
    }
    write_config(
        folder, input_dir="photos", output_dir="results", on_error="skip", variants=variants
    )
    run_snakemake(folder)
    run_pool(folder, "--output-dir", "pooled")
    for variant, made in (("train", 2), ("view", 3)):  # small.png filtered in train; broken failed
        assert digests(folder / "results" / variant) == digests(folder / "pooled" / variant)
        ds = load(folder / "results" / variant, tmp_path / f"cache-{variant}")
        assert ds.num_rows == made
        assert ds.column_names == [
            "image",
            "input",
            "width",
            "height",
            "input_width",
            "input_height",
            "sha256",
        ]
        for row in ds:
            assert row["image"].size == (row["width"], row["height"])
        assert sorted(ds["input"]) == sorted(["a.jpg", "sub/b.PNG", "small.png"][:made])


def test_the_metadata_lists_only_made_images_with_file_names_relative_to_it(folder):
    write_config(folder, input_dir="photos", output_dir="results", on_error="skip")
    run_snakemake(folder)
    with open(folder / "results" / "metadata.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["file_name"] for row in rows] == ["a.jpg", "small.png", "sub/b.PNG"]
    for row in rows:
        assert opened(folder / "results" / row["file_name"]).size == (
            int(row["width"]),
            int(row["height"]),
        )
