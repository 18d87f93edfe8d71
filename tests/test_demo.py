"""The embedded default: a fresh checkout resizes its generated demo set with no user data."""

import hashlib
import subprocess
import sys

from PIL import Image

from helpers import copy_checkout
from imageprep.image.synthetic import demo_catalog, write_demo_set


def test_default_config_runs_on_fresh_checkout(tmp_path):
    repo = copy_checkout(tmp_path / "imageprep")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "all"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = demo_catalog()
    made = repo / "results" / "demo"
    outputs = sorted(p for p in made.rglob("[!.]*") if p.is_file() and ".imageprep" not in p.parts)
    for own in ("manifest.csv", "metadata.csv"):
        assert (made / own).exists()
        outputs.remove(made / own)
    assert len(outputs) == len(manifest) == 48
    assert {Image.open(p).size for p in outputs} == {(600, 600)}
    assert {p.suffix for p in outputs} == {".jpg", ".JPG", ".png"}
    assert {p.parent.name for p in outputs} == {"demo", "street", "nature"}
    # What the terminal shows is short, and ends by saying what was done; Snakemake's
    # job-by-job detail is in its log file.
    said = (proc.stdout + proc.stderr).splitlines()
    assert len(said) <= 40, "\n".join(said)
    assert "48 images resized into results/demo; manifest: results/demo/manifest.csv" in said
    assert not any(line.startswith("rule ") or "jobid:" in line for line in said)
    (log,) = (repo / ".snakemake" / "log").glob("*.snakemake.log")
    assert log.read_text().count("rule resize_shard:") == 4
    again = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "all"], cwd=repo,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    said = again.stderr.splitlines()
    at = said.index("Nothing to be done (all requested files are present and up to date).")
    assert said[at + 1] == (
        "0 images resized into results/demo, 48 already complete; "
        "manifest: results/demo/manifest.csv"
    )


def digests(folder):
    return {
        p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_demo_set_is_deterministic_and_mixed(tmp_path):
    items = demo_catalog(12, seed=0)
    assert {i.kind for i in items} == {"jpeg", "png-alpha", "jpeg-rotated", "grey-jpeg", "grey-png"}
    for name, workers in (("one", 1), ("two", 2)):
        write_demo_set(items, [tmp_path / name / i.name for i in items], seed=0, workers=workers)
    assert digests(tmp_path / "one") == digests(tmp_path / "two")
    modes = {Image.open(tmp_path / "one" / i.name).mode for i in items}
    assert modes == {"RGB", "RGBA", "L"}
    write_demo_set(items[:1], [tmp_path / "seed1.jpg"], seed=1)  # same image, other seed
    assert (tmp_path / "seed1.jpg").read_bytes() != (tmp_path / "one" / items[0].name).read_bytes()
