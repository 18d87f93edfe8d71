"""snakemake --report after a resize run shows what was made, per variant: counts by status
with the reasons, a contact sheet and the inputs' sizes (imageprep.folder.run_report), rendered
by a real headless browser (Debian's chromium; CI installs it, IMAGEPREP_REQUIRE_BROWSER)."""

import json
import re
import subprocess

import pytest

from helpers import browser, opened, own, run_snakemake, tree, write_config
from imagefactory import photo

VARIANTS = {
    "train": {"size": [224, 224], "mode": "fill", "min_size": [320, 320]},
    "view": {"size": [600, 600], "mode": "fit"},
}


@pytest.fixture
def made(workdir):
    for i in range(5):
        photo(workdir / "photos" / f"p{i}.jpg", (640 + 40 * i, 480), seed=i)
    photo(workdir / "photos" / "small.png", (312, 200))
    write_config(workdir, input_dir="photos", output_dir="results", variants=VARIANTS)
    run_snakemake(workdir)
    return workdir


def report_data(workdir):
    """The report's own data: its categories and results (with their captions)."""
    run_snakemake(workdir, "--report", "report.html", cores=None)
    text = (workdir / "report.html").read_text()
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", text)[1])
    results = json.loads(re.search(r"var results = (\{.*?\});\n", text)[1])
    return categories, results


def status(workdir, variant):
    return (own(workdir, "reports") / f"{variant}/status.html").read_text()


def test_the_report_shows_each_variants_results(made):
    categories, results = report_data(made)
    assert sorted(categories["imageprep"]) == ["train", "view"]
    files = categories["imageprep"]["train"]
    assert [f.rsplit("/", 1)[1] for f in files] == [
        "contact-sheet.jpg",
        "input-sizes.svg",
        "status.html",
    ]
    assert "fixed sample" in results[files[0]]["caption"]
    train = status(made, "train")
    assert "<td>made</td><td>5</td>" in train and "<td>filtered</td><td>1</td>" in train
    assert "312×200 is below min_size 320×320" in train
    assert "<td>made</td><td>6</td>" in status(made, "view")
    sheet = opened(own(made, "reports") / "train/contact-sheet.jpg")
    assert sheet.size == (6 * 160, 160)  # five made outputs, one row
    assert "<svg" in (own(made, "reports") / "view/input-sizes.svg").read_text()
    # outside the output tree: a loader's recursive glob finds only the outputs
    assert sorted(p.name for p in (made / "results/train").rglob("*.jpg")) == [
        f"p{i}.jpg" for i in range(5)
    ]


def test_a_rerun_reports_what_it_made_and_what_was_current(made):
    photo(made / "photos" / "p0.jpg", (700, 500), seed=9)
    run_snakemake(made)
    train = status(made, "train")
    assert "<td>made</td><td>1</td>" in train and "<td>current</td><td>4</td>" in train


def test_a_run_with_nothing_to_do_writes_no_report(made):
    before = (own(made, "reports") / "train/status.html").stat().st_mtime_ns
    run_snakemake(made)
    assert (own(made, "reports") / "train/status.html").stat().st_mtime_ns == before


NAVIGATE = """<script>window.addEventListener("load", () => setTimeout(() => {
  const key = Object.keys(results).find(k => k.endsWith("reports/train/%s"));
  app.setView({content: "%s", contentPath: results[key].data_uri, resultPath: key});
}, 300));</script>"""


@pytest.mark.parametrize(("name", "view"), [("contact-sheet.jpg", "img"), ("status.html", "html")])
def test_the_report_renders_in_a_headless_browser(made, tmp_path, name, view):
    """Chromium opens the report, shows one of our results, and the DOM it renders holds
    it (a screenshot is kept beside, for a look)."""
    chromium = browser()
    report_data(made)
    page = (made / "report.html").read_text()
    at = page.rindex("</body>")
    opened_page = tmp_path / "view.html"
    opened_page.write_text(page[:at] + NAVIGATE % (name, view) + page[at:])
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--window-size=1400,1000", "--virtual-time-budget=5000"]  # fmt: skip
    url = opened_page.as_uri()
    shot = tmp_path / "shot.png"
    subprocess.run([*command, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    dom = subprocess.run(
        [*command, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    assert opened(shot).size == (1400, 1000)
    shown = {
        "img": r"<img[^>]+src=\"data:image/jpeg;",
        "html": r"<iframe[^>]+src=\"data:text/html;",
    }
    assert re.search(shown[view] + f'[^"]*filename={re.escape(name)}', dom)


def test_names_that_are_not_utf8_do_not_break_the_report(tmp_path):
    """Reasons name other files (a clash, a symlink's target), whose names need not be
    UTF-8: the report shows their bytes escaped."""
    from imageprep.folder.manifest import Row, write_manifest
    from imageprep.folder.run_report import write_report
    from imageprep.folder.variants import Variant
    from imageprep.image.spec import ResizeSpec

    name = b"caf\xe9.jpg".decode("utf-8", "surrogateescape")
    write_manifest(tmp_path / "manifest.csv", [Row(name, name, "failed", f"would write {name}")])
    write_report(str(tmp_path), str(tmp_path / "reports"), Variant("", ResizeSpec()))
    assert "caf\\udce9" in (tmp_path / "reports/outputs/status.html").read_text()


def test_each_output_folder_keeps_its_own_logs_benchmarks_and_report(workdir):
    """Two standalone runs into two folders write no common file outside them, and the
    report shows the folder of the config it is given, not the last run's."""
    for i in range(3):
        photo(workdir / "photos" / f"p{i}.jpg", (320, 240), seed=i)
    before = tree(workdir)
    run_snakemake(workdir)
    first = tree(workdir) - before
    run_snakemake(workdir, "--config", "output_dir=small", "size=[64,64]")
    second = tree(workdir) - before - first
    assert {p.split("/")[0] for p in first} == {"results"}, sorted(first)
    assert {p.split("/")[0] for p in second} == {"small"}, sorted(second)
    assert (workdir / "small/.imageprep/logs/manifest.log").is_file()
    for folder, config in (("results", ()), ("small", ("--config", "output_dir=small"))):
        run_snakemake(workdir, "--report", "report.html", *config, cores=None)
        results = json.loads(
            re.search(r"var results = (\{.*?\});\n", (workdir / "report.html").read_text())[1]
        )
        assert {key.split("/")[0] for key in results} == {folder}, sorted(results)
