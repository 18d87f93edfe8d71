"""The one transform, on real image files: geometry, orientation, modes, formats, errors."""

import contextlib
import hashlib
import os
import pickle
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from helpers import opened
from imagefactory import bad_inputs, photo, quadrants, stored_with_orientation
from imageprep.folder.writers.files import resize_file
from imageprep.image.atomic import remove_stale_temps
from imageprep.image.diagnose import ImageError
from imageprep.image.spec import ResizeSpec, output_relpath
from imageprep.image.transform import resize_variants
from imageprep.run.resize_jobs import main as resize_main


def spec(**kw) -> ResizeSpec:
    return ResizeSpec(**{"size": (120, 80), **kw})


def test_stretch_gives_exact_size(tmp_path):
    src = photo(tmp_path / "a.jpg", (400, 100))
    assert resize_file(src, tmp_path / "out.jpg", spec()) == (120, 80)
    assert opened(tmp_path / "out.jpg").size == (120, 80)


@pytest.mark.parametrize(
    ("src_size", "expected"), [((400, 100), (120, 30)), ((100, 400), (20, 80))]
)
def test_fit_keeps_aspect_inside_box(tmp_path, src_size, expected):
    src = photo(tmp_path / "a.png", src_size)
    assert resize_file(src, tmp_path / "o.png", spec(mode="fit")) == expected


def test_fit_upscales_small_images(tmp_path):
    src = photo(tmp_path / "a.png", (30, 20))
    assert resize_file(src, tmp_path / "o.png", spec(mode="fit")) == (120, 80)


def test_fill_covers_box_and_crops_centre(tmp_path):
    # Wide card: left and right thirds red, centre blue; fill to a square keeps only blue.
    card = Image.new("RGB", (300, 100), (255, 0, 0))
    card.paste((0, 0, 255), (100, 0, 200, 100))
    card.save(tmp_path / "card.png")
    size = resize_file(tmp_path / "card.png", tmp_path / "o.png", spec(size=(50, 50), mode="fill"))
    out = Image.open(tmp_path / "o.png").convert("RGB")
    assert size == (50, 50)
    assert out.getpixel((0, 25))[2] > 200 and out.getpixel((49, 25))[2] > 200


def test_pad_centres_image_on_pad_colour(tmp_path):
    Image.new("RGB", (200, 100), (0, 0, 255)).save(tmp_path / "a.png")
    s = spec(size=(100, 100), mode="pad", pad_color="#00ff00")
    assert resize_file(tmp_path / "a.png", tmp_path / "o.png", s) == (100, 100)
    out = Image.open(tmp_path / "o.png")
    assert out.getpixel((50, 5)) == (0, 255, 0)  # padding above
    assert out.getpixel((50, 50)) == (0, 0, 255)  # image in the middle
    assert out.getpixel((50, 95)) == (0, 255, 0)  # padding below


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_comes_out_upright(tmp_path, orientation):
    src = stored_with_orientation(quadrants((300, 200)), orientation, tmp_path / "cam.jpg")
    size = resize_file(src, tmp_path / "o.jpg", spec(size=(150, 150), mode="fit"))
    out = Image.open(tmp_path / "o.jpg")
    assert size == out.size == (150, 100)
    red, blue = out.getpixel((30, 20)), out.getpixel((120, 80))
    assert red[0] > 200 and red[2] < 60, red
    assert blue[2] > 200 and blue[0] < 60, blue
    assert 0x0112 not in out.getexif()  # orientation applied, not left for viewers


def rgba_card() -> Image.Image:
    im = Image.new("RGBA", (100, 100), (255, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 50, 100))  # left half fully transparent
    return im


def test_alpha_kept_for_png(tmp_path):
    rgba_card().save(tmp_path / "a.png")
    resize_file(tmp_path / "a.png", tmp_path / "o.png", spec(size=(50, 50)))
    out = Image.open(tmp_path / "o.png")
    assert out.mode == "RGBA"
    assert out.getpixel((5, 25))[3] == 0 and out.getpixel((45, 25))[3] == 255


def test_alpha_flattened_onto_background_for_jpeg(tmp_path):
    rgba_card().save(tmp_path / "a.png")
    s = spec(size=(50, 50), format="jpeg", background="#00ff00")
    resize_file(tmp_path / "a.png", tmp_path / "o.jpg", s)
    out = Image.open(tmp_path / "o.jpg")
    assert out.mode == "RGB"
    r, g, b = out.getpixel((5, 25))
    assert g > 230 and r < 30, (r, g, b)  # transparent part became the background


def test_palette_with_transparency_keeps_alpha(tmp_path):
    rgba_card().convert("P").save(tmp_path / "a.png", transparency=0)
    assert Image.open(tmp_path / "a.png").mode == "P"
    resize_file(tmp_path / "a.png", tmp_path / "o.png", spec(size=(50, 50)))
    assert opened(tmp_path / "o.png").mode == "RGBA"


def test_la_to_webp_keeps_alpha(tmp_path):
    rgba_card().convert("LA").save(tmp_path / "a.png")
    resize_file(tmp_path / "a.png", tmp_path / "o.webp", spec(size=(50, 50), format="webp"))
    out = Image.open(tmp_path / "o.webp")
    assert out.mode == "RGBA" and out.getpixel((5, 25))[3] == 0


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_greyscale_stays_greyscale(tmp_path, ext):
    src = photo(tmp_path / f"g.{ext}", mode="L")
    resize_file(src, tmp_path / f"o.{ext}", spec())
    assert opened(tmp_path / f"o.{ext}").mode == "L"


def test_one_bit_becomes_smooth_greyscale(tmp_path):
    src = photo(tmp_path / "b.png", mode="1")
    resize_file(src, tmp_path / "o.png", spec(size=(33, 21)))
    out = Image.open(tmp_path / "o.png")
    assert out.mode == "L" and len(out.getcolors()) > 2


def test_cmyk_kept_in_jpeg_converted_for_png(tmp_path):
    src = photo(tmp_path / "c.jpg", mode="CMYK")
    resize_file(src, tmp_path / "o.jpg", spec())
    resize_file(src, tmp_path / "o.png", spec(format="png"))
    assert opened(tmp_path / "o.jpg").mode == "CMYK"
    assert opened(tmp_path / "o.png").mode == "RGB"


def test_sixteen_bit_png(tmp_path):
    Image.new("I;16", (64, 64), 40000).save(tmp_path / "d.png")
    resize_file(tmp_path / "d.png", tmp_path / "o.png", spec(size=(32, 32)))
    resize_file(tmp_path / "d.png", tmp_path / "o.jpg", spec(size=(32, 32), format="jpeg"))
    png, jpg = Image.open(tmp_path / "o.png"), Image.open(tmp_path / "o.jpg")
    assert png.mode.startswith("I") and png.getpixel((16, 16)) == 40000
    assert jpg.mode == "L" and abs(jpg.getpixel((16, 16)) - 40000 / 257) <= 2


def test_icc_profile_carried_over(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = photo(tmp_path / "a.jpg", icc_profile=icc)
    resize_file(src, tmp_path / "o.jpg", spec())
    resize_file(src, tmp_path / "o.webp", spec(format="webp"))
    assert opened(tmp_path / "o.jpg").info.get("icc_profile") == icc
    assert opened(tmp_path / "o.webp").info.get("icc_profile") == icc


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    resize_file(tmp_path / "a.gif", tmp_path / "o.gif", spec(size=(20, 20)))
    with Image.open(tmp_path / "o.gif") as out:
        assert getattr(out, "n_frames", 1) == 1
        assert out.convert("RGB").getpixel((10, 10))[0] > 200


@pytest.mark.parametrize("fmt", ["same", "jpeg", "png", "webp"])
def test_same_input_same_bytes(tmp_path, fmt):
    src = photo(tmp_path / "a.jpg", (500, 300))
    digests = set()
    for i in range(2):
        dst = tmp_path / output_relpath(f"o{i}.jpg", fmt)
        resize_file(src, dst, spec(format=fmt, mode="fill"))
        digests.add(hashlib.sha256(dst.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_no_temporary_files_left(tmp_path):
    src = photo(tmp_path / "in" / "a.jpg")
    resize_file(src, tmp_path / "out" / "deep" / "a.jpg", spec())
    assert [p.name for p in (tmp_path / "out" / "deep").iterdir()] == ["a.jpg"]


def test_bad_input_names_file_and_leaves_no_output(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a picture")
    with pytest.raises(ImageError, match=r"notes\.jpg: not an image"):
        resize_file(bad, tmp_path / "out" / "notes.jpg", spec())
    assert not (tmp_path / "out").exists()


def test_max_pixels_refuses_large_image(tmp_path):
    src = photo(tmp_path / "big.png", (200, 100))
    with pytest.raises(ImageError, match=r"big.png: 200×100 exceeds max_pixels=10,000"):
        resize_file(src, tmp_path / "o.png", spec(max_pixels=10_000))
    # Over twice the limit, Pillow's own guard (kept on, at our limit) refuses it at open.
    with pytest.raises(ImageError, match=r"big.png: 20,000 pixels exceeds max_pixels=5,000 \("):
        resize_file(src, tmp_path / "o.png", spec(max_pixels=5_000))
    assert not (tmp_path / "o.png").exists()


def test_every_bad_input_gets_its_reason_and_no_output(tmp_path):
    for name, reason in bad_inputs(tmp_path / "in").items():
        with pytest.raises(ImageError) as info:
            resize_file(tmp_path / "in" / name, tmp_path / "out" / name, spec())
        assert str(info.value).startswith(f"{tmp_path / 'in' / name}: {reason}"), info.value
    assert not (tmp_path / "out").exists()


def test_part_file_of_a_killed_writer_is_replaced_but_not_a_neighbours(tmp_path):
    src = photo(tmp_path / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".a.jpg.part").write_bytes(b"half")  # what a killed writer leaves
    (out / ".a.jpg.x.jpg.part").write_bytes(b"another output's")
    resize_file(src, out / "a.jpg", spec())
    assert sorted(p.name for p in out.iterdir()) == [".a.jpg.x.jpg.part", "a.jpg"]
    assert remove_stale_temps(tmp_path) == 1 and sorted(os.listdir(out)) == ["a.jpg"]


def test_names_at_the_length_limit_still_write_atomically(tmp_path):
    name = "ü" * 125 + ".jpg"  # 254 bytes: the longest name most filesystems allow
    out = tmp_path / "out" / name
    resize_file(photo(tmp_path / "a.jpg"), out, spec())
    assert opened(out).size == (120, 80) and os.listdir(out.parent) == [name]


@pytest.mark.parametrize(
    "bad",
    [{"size": (0, 5)}, {"mode": "zoom"}, {"resample": "cubic"}, {"format": "gif"}, {"quality": 0}],
)
def test_spec_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        ResizeSpec(**bad)


def test_spec_round_trips_and_pickles():
    s = spec(mode="pad", pad_color="#123456")
    assert ResizeSpec.from_json(s.to_json()) == s
    assert pickle.loads(pickle.dumps((resize_variants, s))) == (resize_variants, s)


def test_spec_for_output_drops_settings_that_cannot_matter():
    s = spec(quality=50, pad_color="red")
    assert s.for_output("a.png").quality == 90 and s.for_output("a.JPG").quality == 50
    assert s.for_output("a.jpg").pad_color == "black"
    assert spec(mode="pad", pad_color="red").for_output("a.jpg").pad_color == "red"


def test_output_relpath():
    assert output_relpath("x/a.JPG", "same") == "x/a.JPG"
    assert output_relpath("x/a.b.png", "jpeg") == "x/a.b.jpg"
    assert output_relpath("a.jpg", "webp") == "a.webp"


@settings(max_examples=60, deadline=None)
@given(
    src=st.tuples(st.integers(1, 90), st.integers(1, 90)),
    box=st.tuples(st.integers(1, 90), st.integers(1, 90)),
    mode=st.sampled_from(["stretch", "fit", "fill", "pad"]),
    img_mode=st.sampled_from(["RGB", "L", "RGBA"]),
)
def test_property_output_size(tmp_path_factory, src, box, mode, img_mode):
    folder = tmp_path_factory.mktemp("prop")
    Image.new(img_mode, src, 128).save(folder / "a.png")
    w, h = resize_file(folder / "a.png", folder / "o.png", ResizeSpec(size=box, mode=mode))
    assert opened(folder / "o.png").size == (w, h)
    assert opened(folder / "o.png").mode == img_mode
    if mode == "fit":
        assert w <= box[0] and h <= box[1] and (w == box[0] or h == box[1])
        # aspect kept to within the rounding of one pixel, unless a side was raised to 1 px
        scale = min(box[0] / src[0], box[1] / src[1])
        if min(src) * scale >= 1:
            assert abs(w / h - src[0] / src[1]) <= src[0] / src[1] * (1 / w + 1 / h) + 1e-9
    else:
        assert (w, h) == box


def test_command_line_entry_point_logs_each_image(tmp_path):
    srcs = [photo(tmp_path / f"in{i}.jpg", seed=i) for i in range(2)]
    bad = tmp_path / "bad.jpg"
    bad.write_text("no")
    outs = [tmp_path / f"out{i}.jpg" for i in range(3)]
    logs = [tmp_path / f"{i}.log" for i in range(3)]
    args = ["--spec", spec().to_json(), "--inputs", *map(str, [*srcs, bad])]
    code = resize_main([*args, "--outputs", *map(str, outs), "--logs", *map(str, logs)])
    assert code == 1
    assert logs[0].read_text().endswith("120x80\n") and outs[1].exists()
    assert "bad.jpg: not an image" in logs[2].read_text() and not outs[2].exists()
    with pytest.raises(SystemExit):
        resize_main([*args, "--outputs", str(outs[0])])  # counts differ


def test_readers_never_see_a_partial_output(tmp_path):
    """Watch the output path while a slow (large PNG) encode runs: whenever the file exists,
    it has its final size, because it appears by rename."""
    src = photo(tmp_path / "a.png", (400, 300))
    dst = tmp_path / "out.png"
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            with contextlib.suppress(FileNotFoundError):
                seen.add(dst.stat().st_size)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        resize_file(src, dst, spec(size=(3000, 2200), format="png"))
    finally:
        done.set()
        watcher.join()
    assert seen <= {dst.stat().st_size} and dst.stat().st_size > 1_000_000
