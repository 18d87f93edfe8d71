"""container: webdataset: tar shards read back by the real webdataset library, the same bytes
from Snakemake and the pool command, and reruns that rewrite only the tar an input change
concerns, copying its other members."""

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import pytest
import webdataset as wds
from PIL import Image

from helpers import (
    REPO,
    dates,
    digests,
    job_lines,
    own,
    redone,
    run_pool,
    run_snakemake,
    write_config,
)
from imagefactory import photo
from imageprep.folder.manifest import iter_manifest
from imageprep.folder.writers.tar_files import (
    read_members,
    sample_json,
    sample_key,
    tar_name,
    write_tar,
)
from imageprep.run.shards import shard_name, shard_of

OWN_CSV = "manifest.csv"
# format: jpeg: the inputs mix JPEG and PNG, and tars of one image type are what Hugging
# Face's loader reads (format: same over mixed inputs is refused: see the test below)
TARS = {"container": "webdataset", "size": [64, 64], "mode": "fit", "format": "jpeg"}
NAMES = ["a.jpg", "a.png", "my.holiday 1.jpg", "100%.jpg", "sub/dir.x/c.jpeg"]


def test_keys_hold_no_dot_and_keep_inputs_apart():
    names = ["a.jpg", "a.png", "a%2Ejpg", "sub.dir/x.y.z.jpg", "café 1.jpeg"]
    keys = [sample_key(n) for n in names]
    assert len(set(keys)) == len(names)
    assert all("." not in key for key in keys)


def test_a_tar_is_byte_deterministic_and_reads_back_as_samples(tmp_path):
    images = {
        n: photo(tmp_path / n, (64, 48), seed=i).read_bytes()
        for i, n in enumerate(["b.jpg", "a.jpg"])
    }
    members = []
    for name, data in images.items():
        key = sample_key(name)
        digest = hashlib.sha256(data).hexdigest()
        members += [
            (f"{key}.jpg", data),
            (f"{key}.json", sample_json({"input": name, "x": digest})),
        ]
    write_tar(tmp_path / "one.tar", members)
    write_tar(tmp_path / "two.tar", reversed(members))
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    samples = list(wds.WebDataset(str(tmp_path / "one.tar"), shardshuffle=False).decode("pil"))
    assert [s["json"]["input"] for s in samples] == ["a.jpg", "b.jpg"]
    assert all(s["jpg"].size == (64, 48) for s in samples)
    member = f"{sample_key('b.jpg')}.jpg"
    assert read_members(tmp_path / "one.tar", [member]) == {member: images["b.jpg"]}


@pytest.fixture
def photos(workdir):
    for i, name in enumerate(NAMES):
        fmt = "PNG" if name.endswith(".png") else "JPEG"
        photo(workdir / "photos" / name, (160 + 8 * i, 120), fmt=fmt, seed=i)
    for i in range(27):  # enough for several tars at images_per_job 8
        photo(workdir / "photos" / "many" / f"img_{i:02d}.jpg", (96 + i, 80), seed=10 + i)
    photo(workdir / "photos" / "small.jpg", (40, 30), seed=99)  # filtered by min_size
    (workdir / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    return workdir


def manifest(folder):
    with open(folder / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def samples(folder):
    """Every sample of every tar in ``folder``, by the real webdataset library."""
    shards = sorted(str(p) for p in folder.glob("images-*.tar"))
    dataset = wds.WebDataset(shards, shardshuffle=False).decode("pil")
    return {s["json"]["input"]: (s, s["__url__"], s["__key__"]) for s in dataset}


def check_tars(folder):
    """One sample per made image, where its row says, with the right size and json."""
    rows = manifest(folder)
    made = [row for row in rows if row["status"] == "ok"]
    found = samples(folder)
    assert sorted(found) == sorted(row["input"] for row in made)
    for row in made:
        sample, url, key = found[row["input"]]
        ext = row["output"].rsplit(".", 1)[1]
        image = sample[ext]
        assert image.size == (int(row["width"]), int(row["height"]))
        assert os.path.basename(url) == row["tar"]
        assert f"{key}.{ext}" == row["output"]
        assert "." not in key.rsplit("/", 1)[-1]
        assert sample["json"] == {
            "input": row["input"],
            "width": int(row["width"]),
            "height": int(row["height"]),
            "input_width": int(row["input_width"]),
            "input_height": int(row["input_height"]),
            "sha256": row["sha256"],
        }
        data = read_members(folder / row["tar"], [row["output"]])[row["output"]]
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
    return rows


def test_snakemake_and_the_pool_write_the_same_tars_which_webdataset_reads(photos):
    write_config(
        photos, input_dir="photos", output_dir="results", on_error="skip", images_per_job=8,
        min_size=[48, 48], **TARS,
    )  # fmt: skip
    run_snakemake(photos)
    run_pool(photos, "--output-dir", "pooled")
    results, pooled = photos / "results", photos / "pooled"
    names = sorted(p.name for p in results.iterdir())
    tars = [f"images-{i:04d}-of-0004.tar" for i in range(4)]
    assert names == [".imageprep", "failed.tsv", *tars, OWN_CSV]
    assert digests(results) == digests(pooled)  # tars, manifest.csv and failed.tsv
    rows = {row["input"]: row for row in check_tars(results)}
    assert rows["broken.jpg"]["status"] == "failed" and not rows["broken.jpg"]["tar"]
    assert rows["small.jpg"]["status"] == "filtered" and not rows["small.jpg"]["tar"]
    assert rows["a.jpg"]["output"] == "a%2Ejpg.jpg" and rows["a.png"]["output"] == "a%2Epng.jpg"
    assert rows["my.holiday 1.jpg"]["output"] == "my%2Eholiday 1%2Ejpg.jpg"
    assert rows["100%.jpg"]["output"] == "100%25%2Ejpg.jpg"
    assert rows["sub/dir.x/c.jpeg"]["output"] == "sub/dir%2Ex/c%2Ejpeg.jpg"  # one per format
    # byte-deterministic: sorted members, fixed metadata, whatever the order of work
    with tarfile.open(next(results.glob("*.tar"))) as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    assert {(i.mtime, i.mode, i.uid, i.gid, i.uname) for i in infos} == {(0, 0o644, 0, 0, "")}
    run_pool(photos, "--output-dir", "pooled-1", "--workers", "1")
    assert digests(pooled) == digests(photos / "pooled-1")


def test_a_changed_input_rewrites_only_its_tar_and_resizes_only_it(photos):
    write_config(photos, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    (photos / "photos" / "broken.jpg").unlink()
    run_snakemake(photos)
    results = photos / "results"
    before, rows = dates(results), {r["input"]: r for r in manifest(results)}
    members = {t.name: read_members(t, _names(t)) for t in results.glob("*.tar")}
    proc = run_snakemake(photos)
    assert "Nothing to be done" in proc.stderr and dates(results) == before  # no tar touched
    changed = rows["many/img_05.jpg"]
    photo(photos / "photos" / "many" / "img_05.jpg", (150, 100), seed=1234)
    run_snakemake(photos)
    assert redone(before, dates(results)) == [changed["tar"]]
    log = (own(photos, "logs") / "resize" / f"shard-{changed['tar'][7:-4]}.log").read_text()
    count = len([r for r in rows.values() if r["tar"] == changed["tar"]])
    assert f"{count} images, 1 resized, {count - 1} current" in log
    assert re.findall(r"^\S+ -> ", log, re.M) == ["photos/many/img_05.jpg -> "]
    new = read_members(results / changed["tar"], _names(results / changed["tar"]))
    old = members[changed["tar"]]
    assert {k for k in new if new[k] != old[k]} == {changed["output"], _json(changed["output"])}
    assert samples(results)["many/img_05.jpg"][0]["jpg"].size == (64, 43)
    check_tars(results)
    # removing an image drops its sample and rewrites its tar only
    before = dates(results)
    gone = rows["many/img_07.jpg"]
    (photos / "photos" / "many" / "img_07.jpg").unlink()
    run_snakemake(photos)
    assert redone(before, dates(results)) == [gone["tar"]]
    assert "many/img_07.jpg" not in samples(results)
    check_tars(results)
    # adding one: its tar only, the new image alone resized
    before = dates(results)
    photo(photos / "photos" / "many" / "new.jpg", (130, 90), seed=4242)
    run_snakemake(photos)
    (row,) = [r for r in check_tars(results) if r["input"] == "many/new.jpg"]
    assert redone(before, dates(results)) == [row["tar"]]
    log = (own(photos, "logs") / "resize" / f"shard-{row['tar'][7:-4]}.log").read_text()
    assert re.search(r" 1 resized, \d+ current", log)


def _names(tar):
    with tarfile.open(tar) as fh:
        return fh.getnames()


def _json(member):
    return member.rsplit(".", 1)[0] + ".json"


def test_a_tar_deleted_or_replaced_behind_the_workflows_back_is_made_again(photos):
    write_config(photos, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    (photos / "photos" / "broken.jpg").unlink()
    run_snakemake(photos)
    results = photos / "results"
    reference = digests(results)
    tars = sorted(results.glob("*.tar"))
    tars[0].unlink()
    run_snakemake(photos)
    assert digests(results) == reference
    # a tar of the same name with other bytes: its members are not trusted, but made again
    data = {name: b"x" for name in _names(tars[1])}
    write_tar(tars[1], data.items())
    os.utime(tars[1], ns=(0, 0))  # older than its rows: only the contents tell
    proc = run_snakemake(photos, "--forcerun", "resize_shard")
    assert digests(results) == reference, proc.stderr


def test_variants_each_get_their_tars_and_a_change_of_one_keeps_the_others(photos):
    (photos / "photos" / "broken.jpg").unlink()
    variants = {"train": {"size": [32, 32], "mode": "fill"}, "view": {"format": "png"}}
    config = dict(TARS, variants=variants, images_per_job=8)
    write_config(photos, input_dir="photos", output_dir="results", **config)
    run_snakemake(photos)
    run_pool(photos, "--output-dir", "pooled")
    for name in variants:
        assert digests(photos / "results" / name) == digests(photos / "pooled" / name)
        rows = check_tars(photos / "results" / name)
        assert all(r["output"].endswith(".png") for r in rows if name == "view")
    before = dates(photos / "results")
    variants["train"]["size"] = [40, 40]
    write_config(photos, input_dir="photos", output_dir="results", **config)
    run_snakemake(photos)
    assert {p.split("/")[0] for p in redone(before, dates(photos / "results"))} == {"train"}
    train = samples(photos / "results" / "train")
    assert {(s.get("jpg") or s["png"]).size for s, _, _ in train.values()} == {(40, 40)}


def test_format_same_over_mixed_inputs_is_refused_with_tars_in_one_line(photos):
    """Tars mixing JPEG and PNG samples stop Hugging Face's webdataset loader (or lose the
    images of the type its first samples lack): refused before any work, in both paths,
    saying what to change."""
    config = {**TARS, "format": "same"}
    write_config(photos, input_dir="photos", output_dir="results", **config)
    line = (
        "format: 'same' would put jpg and png images in one set of tars, which Hugging "
        "Face's webdataset loader cannot read; with container: webdataset, set it to jpeg, "
        "png or webp"
    )
    smk = run_snakemake(photos, check=False)
    assert smk.returncode != 0 and line in smk.stderr and "Traceback" not in smk.stderr
    pool = run_pool(photos, check=False)
    assert pool.returncode == 2 and pool.stderr.strip() == f"error: {line}"
    assert not (photos / "results").exists()
    (photos / "photos" / "a.png").unlink()  # one type of input: format: same is fine
    (photos / "photos" / "broken.jpg").unlink()
    run_snakemake(photos)
    assert {p.suffix for p in (photos / "results").glob("*.tar")} == {".tar"}


def test_the_per_image_rule_is_refused_with_tars_in_one_line(workdir):
    photo(workdir / "photos" / "a.jpg")
    write_config(workdir, input_dir="photos", output_dir="results", images_per_job=1, **TARS)
    proc = run_snakemake(workdir, check=False)
    assert proc.returncode != 0
    assert "container: webdataset needs shard jobs (images_per_job other than 1)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (workdir / "results").exists() or not list((workdir / "results").glob("*.tar"))


def test_the_pool_resumes_tars_by_copying_current_members(photos):
    (photos / "photos" / "broken.jpg").unlink()
    write_config(photos, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    run_pool(photos)
    results = photos / "results"
    before, reference = dates(results), digests(results)
    proc = run_pool(photos, "--resume")
    assert dates(results) == before and digests(results) == reference
    assert "0 images resized into results, 33 already complete" in proc.stderr
    photo(photos / "photos" / "a.jpg", (150, 100), seed=4321)
    proc = run_pool(photos, "--resume")
    assert "1 images resized into results, 32 already complete" in proc.stderr
    tar = next(r["tar"] for r in manifest(results) if r["input"] == "a.jpg")
    assert redone(before, dates(results)) == [tar]
    # then Snakemake sees what the pool left: every shard current, no tar touched
    before, reference = dates(results), digests(results)
    run_snakemake(photos)
    assert dates(results) == before and digests(results) == reference
    logs = [p.read_text() for p in sorted((own(photos, "logs") / "resize").glob("*.log"))]
    assert len(logs) == 4 and all(" 0 resized" in log for log in logs)
    assert not job_lines("".join(logs))


def _snippet():
    """The loading snippets of config/README.md, "WebDataset shards"."""
    text = (REPO / "config" / "README.md").read_text()
    section = text.split("## WebDataset shards", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.S)[:2]


def test_the_documented_snippet_loads_the_tars(photos, monkeypatch, capsys):
    (photos / "photos" / "broken.jpg").unlink()
    write_config(photos, input_dir="photos", output_dir="results/demo", **TARS)
    run_snakemake(photos)
    monkeypatch.chdir(photos)
    loading, pytorch = _snippet()
    scope: dict = {}
    exec(loading, scope)  # the documented snippet, as a user runs it
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 33 and "(64, 48) a.jpg" in printed
    try:
        import torch  # noqa: F401
    except ImportError:
        return  # CI does not install torch (gigabytes of CUDA wheels on PyPI)
    exec(pytorch, scope)
    batches = list(scope["loader"])
    assert sum(len(batch[1]) for batch in batches) == 33


def test_hugging_face_reads_the_tars(photos, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    from datasets import load_dataset

    (photos / "photos" / "broken.jpg").unlink()
    write_config(photos, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    run_snakemake(photos)
    shards = sorted(str(p) for p in (photos / "results").glob("*.tar"))
    ds = load_dataset(
        "webdataset", data_files={"train": shards}, split="train", cache_dir=str(tmp_path / "c")
    )
    jpgs = [row for row in ds if row["jpg"] is not None]
    assert len(ds) == len(jpgs) == 33  # a.png's image too, as a JPEG
    for row in jpgs:
        assert isinstance(row["jpg"], Image.Image)
        assert row["jpg"].size == (row["json"]["width"], row["json"]["height"])


def test_a_bad_image_in_fail_mode_stops_its_job_in_one_line_and_leaves_its_tar_whole(photos):
    write_config(photos, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    bad = photos / "photos" / "broken.jpg"
    bad.unlink()
    run_snakemake(photos)
    results = photos / "results"
    before, reference = dates(results), digests(results)
    bad.write_bytes(b"not a jpeg")
    # and an image of its shard changed: the job stops before its tar is written
    rows = manifest(results)
    tar = tar_name(shard_name(shard_of("broken.jpg", 4), 4))
    neighbour = next(r["input"] for r in rows if r["tar"] == tar)
    photo(photos / "photos" / neighbour, (150, 100), seed=777)
    proc = run_snakemake(photos, check=False)
    assert proc.returncode != 0
    (line,) = {line for line in job_lines(proc.stderr) if "broken.jpg" in line}
    assert line.startswith("error: photos/broken.jpg: ")
    assert "Traceback" not in proc.stderr
    assert dates(results) == before  # its shard's tar was not written: the old one stands
    assert {k: v for k, v in digests(results).items() if k.endswith(".tar")} == {
        k: v for k, v in reference.items() if k.endswith(".tar")
    }
    bad.unlink()
    run_snakemake(photos)
    assert redone(before, dates(results)) == [tar]
    check_tars(results)


def test_a_new_shard_count_copies_members_from_the_old_tars_then_removes_them(photos):
    (photos / "photos" / "broken.jpg").unlink()
    write_config(photos, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    run_snakemake(photos)
    results = photos / "results"
    assert len(list(results.glob("*-of-0004.tar"))) == 4
    for i in range(30):  # 63 images: 8 shards
        photo(photos / "photos" / "more" / f"m_{i:02d}.jpg", (90, 70), seed=500 + i)
    run_snakemake(photos)
    assert sorted(p.name for p in results.glob("*.tar")) == [
        f"images-{i:04d}-of-0008.tar" for i in range(8)
    ]
    logs = [p.read_text() for p in (own(photos, "logs") / "resize").glob("shard-*-of-0008.log")]
    resized = sum(int(re.search(r"(\d+) resized", log)[1]) for log in logs)
    assert resized == 30  # the 33 earlier images were copied from the tars of 4
    rows = check_tars(results)
    assert len(rows) == 63 and all(r["tar"].endswith("-of-0008.tar") for r in rows)


def test_the_report_shows_outputs_from_the_tars(photos):
    (photos / "photos" / "broken.jpg").unlink()
    write_config(photos, input_dir="photos", output_dir="results", **TARS)
    run_snakemake(photos)
    sheet = Image.open(own(photos, "reports") / "outputs" / "contact-sheet.jpg").convert("L")
    cell = sheet.crop((0, 0, 160, 160))  # the first thumbnail, not a blank cell
    assert cell.getextrema()[0] < 200


def test_a_killed_run_leaves_only_whole_tars_and_a_rerun_finishes_them(workdir):
    seeds = [photo(workdir / "seeds" / f"{i}.jpg", (1024, 768), seed=i) for i in range(4)]
    for i in range(64):
        shutil.copy(seeds[i % 4], workdir / "photos" / f"img_{i:03d}.jpg")
    write_config(workdir, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", "2"]
    with open(workdir / "run.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 120
        results = workdir / "results"
        while not list(results.glob("images-*.tar")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    tars = sorted(results.glob("images-*.tar"))
    assert 1 <= len(tars) < 8
    for tar in tars:  # whatever is visible is whole: every member there, as its json says
        names = _names(tar)
        members = read_members(tar, names)
        for name in names:
            if name.endswith(".jpg"):
                digest = json.loads(members[_json(name)])["sha256"]
                assert hashlib.sha256(members[name]).hexdigest() == digest
    run_snakemake(workdir, "--unlock")
    run_snakemake(workdir, "--rerun-incomplete")
    run_pool(workdir, "--output-dir", "fresh")
    assert digests(results) == digests(workdir / "fresh")
    assert not list(results.rglob("*.part"))


def test_a_pool_run_stopped_by_a_bad_image_keeps_the_rows_of_the_tars_it_left(photos):
    (photos / "photos" / "broken.jpg").unlink()
    write_config(photos, input_dir="photos", output_dir="results", images_per_job=8, **TARS)
    run_pool(photos)
    results = photos / "results"
    reference = {k: v for k, v in digests(results).items() if k.endswith(".tar")}
    (photos / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    proc = run_pool(photos, check=False)
    assert proc.returncode == 1 and "broken.jpg" in proc.stderr.splitlines()[-1]
    assert {k: v for k, v in digests(results).items() if k.endswith(".tar")} == reference
    assert not (results / "manifest.csv").exists()  # stopped early: no manifest to trust
    kept = [row for rows in (results / ".imageprep" / "rows").glob("*.csv")
            for row in iter_manifest(rows) if row.status == "ok"]  # fmt: skip
    assert len(kept) == 33  # every sample still has its row, and no more
    (photos / "photos" / "broken.jpg").unlink()
    assert "0 images resized into results, 33 already complete" in run_pool(photos).stderr
    assert {k: v for k, v in digests(results).items() if k.endswith(".tar")} == reference
    assert len(check_tars(results)) == 33


def test_a_name_that_is_not_utf8_gives_a_sample_every_reader_decodes(workdir):
    name = os.fsdecode(b"caf\xe9.jpg")  # its byte kept as a surrogate, as os.listdir does
    photo(workdir / "photos" / name, (80, 60))
    photo(workdir / "photos" / "plain.jpg", (80, 60), seed=1)
    write_config(workdir, input_dir="photos", output_dir="results", **TARS)
    run_snakemake(workdir)
    found = samples(workdir / "results")  # decodes every json (the loader stops otherwise)
    assert sorted(found) == sorted([name, "plain.jpg"])
    assert found[name][0]["jpg"].size == (64, 48)
