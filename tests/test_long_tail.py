"""The long tail of real-world files: every file Pillow can open (and many it cannot) gives
the right output or one clear line, the same in both paths, whatever the process opened
before, in any order, with any number of workers; never a traceback, never a hang."""

import os
import random
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from helpers import REPO, digests, job_lines, opened, run_pool, run_snakemake, write_config
from imagefactory import (
    ORIENTATION_INVERSE,
    long_tail_inputs,
    photo,
    quadrants,
    special_files,
)
from imageprep.folder.records import read_failed_tsv
from imageprep.folder.writers.files import resize_file
from imageprep.image.diagnose import ImageError
from imageprep.image.spec import ResizeSpec, output_format, output_relpath
from imageprep.run.scan import scan_images

FIT = ResizeSpec(mode="fit")
PLUGIN = REPO / "tests" / "faulty_plugin"  # sitecustomize: decoders that fail oddly
EXTENSIONS = [".jpg", ".png", ".tif", ".bmp", ".mpo", ".pfm", ".ico", ".tga", ".dds",
              ".eps", ".wmf", ".emf", ".h5"]  # fmt: skip
# Long-tail files no engine can make, and the reason every engine gives (a substring).
UNMAKEABLE = {
    "clipart.wmf": "WMF file: Pillow recognises the format but has no decoder for it here",
    "empty_0x0.wmf": "WMF file: Pillow recognises the format but has no decoder for it here",
    "data.h5": "HDF5 file: Pillow recognises the format but has no decoder for it here",
    "drawing.eps": "EPS needs Ghostscript, which is not installed",
    "odd_format.dds": "DDS variant Pillow cannot decode (Unimplemented pixel format",
    "zero_frame.emf": "file Pillow failed to decode (ZeroDivisionError: float division by zero)",
}


@pytest.fixture(scope="module")
def tail(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tail")
    long_tail_inputs(folder)
    return folder


def made(src: Path, out: Path, spec: ResizeSpec = FIT, fmt: str = "same") -> Image.Image:
    dst = out / output_relpath(src.name, fmt)
    resize_file(src, dst, spec)
    im = opened(dst)
    assert im.format == output_format(dst.name), dst  # bytes are what the name says
    return im


def with_plugin_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN), env.get("PYTHONPATH")]))
    return env


# Orientation and containers


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("compression", [None, "tiff_lzw"])
def test_tiff_orientation_is_applied_once(tmp_path, orientation, compression):
    stored = quadrants()  # upright 300×200, red top-left quarter
    inverse = ORIENTATION_INVERSE[orientation]
    stored = stored if inverse is None else stored.transpose(inverse)
    src = tmp_path / "card.tif"
    stored.save(src, compression=compression, tiffinfo={274: orientation})
    out = made(src, tmp_path / "out")
    assert out.size == (600, 400)
    assert out.getpixel((10, 10)) == (255, 0, 0) and out.getpixel((590, 390)) == (0, 0, 255)


def test_the_same_upright_picture_gives_the_same_output_in_every_container(tail, tmp_path):
    reference = made(tail / "upright_ref.png", tmp_path / "png", fmt="jpeg")
    for name in ("orient6_ref.jpg", "orient6_raw.tif", "orient6_lzw.tif", "orient6_deflate.tif"):
        out = made(tail / name, tmp_path / "out", fmt="jpeg")
        assert out.size == reference.size == (600, 300), name
        diff = np.abs(np.asarray(out, int) - np.asarray(reference, int))
        assert diff.mean() < 2, name  # the same picture (JPEG noise aside), not rotated
    g4 = made(tail / "orient6_g4.tif", tmp_path / "out")
    assert g4.size == (600, 300) and g4.getpixel((10, 10)) == 255 and g4.getpixel((590, 290)) == 0


def test_mpo_gives_the_jpeg_of_its_primary_image(tail, tmp_path):
    assert Image.open(tail / "camera_mpo.jpg").format == "MPO"
    named_jpg = made(tail / "camera_mpo.jpg", tmp_path / "a")
    assert output_relpath("stereo.mpo", "same") == "stereo.jpg"
    made(tail / "stereo.mpo", tmp_path / "b")
    assert getattr(named_jpg, "n_frames", 1) == 1 and named_jpg.size == (600, 450)
    a, b = tmp_path / "a" / "camera_mpo.jpg", tmp_path / "b" / "stereo.jpg"
    assert a.read_bytes() == b.read_bytes()


def test_output_bytes_follow_the_output_name_not_the_input_content(tmp_path):
    src = photo(tmp_path / "really_a_png.jpg", fmt="PNG")
    assert made(src, tmp_path / "out").format == "JPEG"
    assert output_relpath("icon.ico", "same") == "icon.png"
    assert output_relpath("scan.PPM", "same") == "scan.png"
    assert output_relpath("a.JPG", "same") == "a.JPG"


# Modes


def test_float_images_map_their_value_range(tail, tmp_path):
    unit = np.asarray(made(tail / "float32.tif", tmp_path / "a"), float)
    assert unit.min() < 1000 and unit.max() > 64000  # [0, 1] spans black..white
    pfm = np.asarray(made(tail / "image.pfm", tmp_path / "b"), float)
    assert np.array_equal(unit, pfm)  # the same values in another container
    hdr = np.asarray(made(tail / "float_hdr.tif", tmp_path / "c"), float)
    assert np.abs(hdr - unit).max() <= 8  # [-3, 250] stretched from its own min..max
    grey8 = made(tail / "float32.tif", tmp_path / "d", fmt="jpeg")
    assert grey8.mode == "L" and 60 < np.asarray(grey8).mean() < 200
    # Values inside [0, 1] keep their meaning: mid-greys stay mid-grey, not stretched.
    mid = Image.fromarray(np.linspace(0.25, 0.75, 64 * 48, dtype=np.float32).reshape(48, 64))
    mid.save(tmp_path / "mid.tif")
    levels = np.asarray(made(tmp_path / "mid.tif", tmp_path / "e", ResizeSpec(size=(64, 48))))
    assert levels.min() > 16000 and levels.max() < 49600


def test_integer_images_outside_16_bits_are_stretched(tmp_path):
    values = (np.arange(64 * 48, dtype=np.int32).reshape(48, 64) * 1000) - 500_000
    Image.fromarray(values, "I").save(tmp_path / "wide.tif")
    out = np.asarray(made(tmp_path / "wide.tif", tmp_path / "out", ResizeSpec(size=(64, 48))))
    assert out.min() < 500 and out.max() > 65000


def test_transparency_is_kept_or_flattened_onto_background(tail, tmp_path):
    onebit = made(tail / "onebit_trns.png", tmp_path / "a")
    assert onebit.mode == "LA" and onebit.getpixel((10, 10))[1] == 0
    assert onebit.getpixel((590, 390)) == (255, 255)
    flat = made(tail / "onebit_trns.png", tmp_path / "b", fmt="jpeg")
    assert flat.getpixel((10, 10)) > 250  # transparent black became white (background)
    wide = made(tail / "int16_trns.png", tmp_path / "c")
    assert wide.mode == "LA" and wide.getchannel("A").getextrema()[0] < 128
    bmp = made(tail / "rgba.bmp", tmp_path / "d")  # BMP carries no alpha: flattened
    assert bmp.mode == "RGB" and min(bmp.getpixel((10, 10))) > 250
    png = made(tail / "rgba.bmp", tmp_path / "e", fmt="png")
    assert png.mode == "RGBA" and png.getpixel((10, 10))[3] == 0


# Identification


def resize_cli(pairs: list[tuple[Path, Path]], records: Path) -> subprocess.CompletedProcess:
    """The transform's command (what the rules run) on ``pairs``, in one fresh process, in
    skip mode (one record per image), so that every image is tried whatever came before."""
    cmd = [sys.executable, str(REPO / "workflow/scripts/resize_jobs.py"), "--spec", FIT.to_json()]
    cmd += ["--inputs", *(str(src) for src, _ in pairs)]
    cmd += ["--outputs", *(str(dst) for _, dst in pairs)]
    cmd += ["--records", *(str(records / f"{i}.tsv") for i in range(len(pairs)))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_identification_does_not_depend_on_what_was_opened_before(tail, tmp_path):
    misnamed = tmp_path / "icon_saved_as.png"  # its extension names another format
    misnamed.write_bytes((tail / "icon.ico").read_bytes())
    icons = [tail / "icon.ico", misnamed]
    alone = [(src, tmp_path / "alone" / f"{src.stem}.png") for src in icons]
    resize_cli(alone, tmp_path / "r1")
    # In a fresh process, opening a TGA first registers Pillow's TGA reader before its ICO
    # reader; a TGA reader accepts this icon's header (TGA has no magic number).
    after = [(src, tmp_path / "after" / f"{src.stem}.png") for src in icons]
    resize_cli([(tail / "picture.tga", tmp_path / "after" / "tga.png"), *after], tmp_path / "r2")
    for (_, first), (_, second) in zip(alone, after, strict=True):
        assert first.read_bytes() == second.read_bytes(), second.name
        assert Image.open(second).size == (600, 600)


def test_any_order_of_files_gives_the_same_bytes_and_reasons(tail, tmp_path):
    names = sorted(p.name for p in tail.iterdir())
    results = []
    for seed in range(3):
        order = random.Random(seed).sample(names, len(names))
        out = tmp_path / f"run{seed}"
        cmd = [
            sys.executable,
            str(REPO / "workflow/scripts/resize_jobs.py"),
            "--spec",
            FIT.to_json(),
        ]
        cmd += ["--inputs", *(str(tail / n) for n in order)]
        cmd += ["--outputs", *(str(out / output_relpath(n, "same")) for n in order)]
        cmd += ["--records", *(str(out / ".records" / n) for n in order)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        results.append(
            {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        )
    assert results[0] == results[1] == results[2]
    assert b"ok\t" in results[0][".records/icon.ico"]


# Reasons, special files, warnings


@pytest.mark.parametrize("name", sorted(UNMAKEABLE))
def test_files_pillow_cannot_decode_here_get_a_true_reason(tail, tmp_path, name):
    if name == "drawing.eps" and EpsImagePlugin.has_ghostscript():
        pytest.skip("Ghostscript is installed")
    with pytest.raises(ImageError) as info:
        resize_file(tail / name, tmp_path / "out.png", FIT)
    assert UNMAKEABLE[name] in info.value.reason
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.part"))


@pytest.mark.timeout(60)
def test_files_that_are_not_regular_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    (tmp_path / "null.jpg").symlink_to("/dev/null")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock.png"))
    expected = {
        "pipe.png": "a named pipe (FIFO), not a regular file",
        "null.jpg": "a character device, not a regular file",
        "sock.png": "a socket, not a regular file",
    }
    for name, reason in expected.items():
        with pytest.raises(ImageError, match=re.escape(reason)):
            resize_file(tmp_path / name, tmp_path / "out" / name, FIT)
    assert scan_images(tmp_path, [".png", ".jpg"]).refused == expected
    server.close()


def test_a_decoder_that_raises_anything_is_that_images_failure(tmp_path):
    (tmp_path / "exploding.png").write_bytes(b"FAULTY" + bytes(64))
    photo(tmp_path / "good.jpg")
    cmd = [sys.executable, str(REPO / "workflow/scripts/resize_jobs.py"), "--spec", FIT.to_json()]
    cmd += ["--inputs", str(tmp_path / "exploding.png"), str(tmp_path / "good.jpg")]
    cmd += ["--outputs", str(tmp_path / "o1.png"), str(tmp_path / "o2.jpg")]
    cmd += ["--records", str(tmp_path / "r1"), str(tmp_path / "r2")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=with_plugin_env())
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines() == [
        f"skipped: {tmp_path}/exploding.png: FAULTY file Pillow failed to decode "
        "(RuntimeError: decoder exploded)",
        f"{tmp_path}/good.jpg -> {tmp_path}/o2.jpg 600x450",
    ]
    assert not (tmp_path / "o1.png").exists() and (tmp_path / "o2.jpg").exists()


def test_pillow_warnings_go_to_the_images_log_line_not_stderr(tail, tmp_path):
    cmd = [sys.executable, str(REPO / "workflow/scripts/resize_jobs.py"), "--spec", FIT.to_json()]
    names = ["bad_exif.jpg", "bad_apng.png", "bad_exif.jpg"]  # a warning seen twice, too
    cmd += ["--inputs", *(str(tail / name) for name in names)]
    cmd += ["--outputs", *(str(tmp_path / f"{i}_{name}") for i, name in enumerate(names))]
    cmd += ["--logs", *(str(tmp_path / f"{i}.log") for i in range(3))]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert proc.stderr == ""
    assert "(warning: Corrupt EXIF data." in (tmp_path / "0.log").read_text()
    assert "(warning: Invalid APNG" in (tmp_path / "1.log").read_text()
    assert "(warning: Corrupt EXIF data." in (tmp_path / "2.log").read_text()


# Both paths, end to end


@pytest.mark.timeout(600)
def test_both_paths_any_workers_and_shards_agree_on_the_long_tail(workdir):
    photos = workdir / "photos"
    long_tail_inputs(photos)
    special = special_files(photos)
    (photos / "exploding.png").write_bytes(b"FAULTY" + bytes(64))
    write_config(workdir, input_dir="photos", output_dir="results", mode="fit",
                 on_error="skip", extensions=EXTENSIONS)  # fmt: skip
    env = with_plugin_env()
    procs = [
        run_snakemake(workdir, "--config", "images_per_job=1", env=env),
        run_snakemake(workdir, "--config", "images_per_job=4", "output_dir=sharded", env=env),
        run_pool(workdir, "--workers", "1", "--output-dir", "pool1", env=env),
        run_pool(workdir, "--workers", "2", "--output-dir", "pool2", env=env),
    ]
    for proc in procs:
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    outs = ["results", "sharded", "pool1", "pool2"]
    made_files = [digests(workdir / out) for out in outs]
    assert made_files[0] == made_files[1] == made_files[2] == made_files[3]
    failed = [read_failed_tsv(workdir / out / "failed.tsv") for out in outs]
    assert failed[0] == failed[1] == failed[2] == failed[3]
    reasons = dict(failed[0])
    expected = {
        **UNMAKEABLE,
        **{name: "not a regular file" for name, kind in special.items() if "fifo" in kind},
        **{name: "line break" for name in special if "\n" in name},
        "exploding.png": "RuntimeError: decoder exploded",
    }
    assert sorted(reasons) == sorted(f"photos/{name}" for name in expected)
    for name, reason in expected.items():
        assert reason in reasons[f"photos/{name}"], (name, reasons[f"photos/{name}"])
    for rel in made_files[0]:
        if rel not in ("failed.tsv", "manifest.csv", "metadata.csv"):
            assert Image.open(workdir / "results" / rel).format == output_format(rel), rel
    assert not list(workdir.rglob("*.part"))


@pytest.mark.timeout(300)
def test_fail_mode_refuses_fifos_and_line_breaks_before_any_work_in_both_paths(workdir):
    photo(workdir / "photos" / "good.jpg")
    special_files(workdir / "photos")
    smk = run_snakemake(workdir, check=False)
    pool = run_pool(workdir, check=False)
    for proc in (smk, pool):
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert "2 input(s) cannot be processed" in proc.stderr
        assert "photos/pipe.png: a named pipe (FIFO), not a regular file" in proc.stderr
        assert "photos/newline\nname.jpg: name contains a line break" in proc.stderr
    assert not (workdir / "results").exists()


@pytest.mark.timeout(300)
def test_fail_mode_decoder_exception_is_one_line_in_both_paths(workdir):
    photo(workdir / "photos" / "good.jpg")
    (workdir / "photos" / "exploding.png").write_bytes(b"FAULTY" + bytes(64))
    line = (
        "error: photos/exploding.png: FAULTY file Pillow failed to decode "
        "(RuntimeError: decoder exploded)"
    )
    env = with_plugin_env()
    smk = run_snakemake(workdir, "--config", "images_per_job=1", check=False, env=env)
    pool = run_pool(workdir, "--output-dir", "pooled", check=False, env=env)
    for proc in (smk, pool):
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert line in job_lines(proc.stderr), proc.stderr[-3000:]
    assert not (workdir / "results" / "exploding.png").exists()


def test_pool_names_file_line_and_column_of_invalid_yaml(workdir):
    (workdir / "config" / "config.yaml").write_text("input_dir: photos\nsize: [600, 600\n")
    proc = run_pool(workdir, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "config/config.yaml:3:1: invalid YAML: expected ',' or ']'" in lines[0]
