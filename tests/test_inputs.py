"""Input discovery, output planning and config checks (shared by Snakefile and engines)."""

import pytest

from imageprep.run.config import coerce_numbers, config_errors
from imageprep.run.plan import ConfigError, check_dirs, plan_outputs
from imageprep.run.scan import find_images
from imageprep.run.shards import auto_images_per_job, shard_outputs


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_find_images_recursive_case_insensitive_sorted(tmp_path):
    for name in ["b.JPG", "a.jpeg", "sub/deep/c.Png", "notes.txt", ".hidden.jpg", ".cache/x.jpg"]:
        touch(tmp_path / name)
    assert find_images(tmp_path, [".jpg", "jpeg", ".png"]) == ["a.jpeg", "b.JPG", "sub/deep/c.Png"]


def test_plan_outputs_changes_extension_and_leaves_out_every_input_of_a_collision():
    outputs, clashes = plan_outputs(["x/a.png", "b.JPG"], "jpeg")
    assert outputs == {"x/a.jpg": "x/a.png", "b.jpg": "b.JPG"} and clashes == {}
    outputs, clashes = plan_outputs(["a.jpg", "a.png", "a.tga", "b.png"], "same")
    assert outputs == {"a.jpg": "a.jpg", "b.png": "b.png"}
    assert clashes == {
        "a.png": ("a.png", "would write a.png, as a.tga would too (format: same); rename one"),
        "a.tga": ("a.png", "would write a.png, as a.png would too (format: same); rename one"),
    }


@pytest.mark.parametrize(
    ("inp", "out", "message"),
    [
        ("photos", "photos/out", "inside input_dir"),
        ("photos", "photos", "inside input_dir"),
        ("data/photos", "data", "contains input_dir"),
    ],
)
def test_check_dirs_refuses_overlap(tmp_path, monkeypatch, inp, out, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"output_dir: .*{message}"):
        check_dirs(inp, out)


def test_check_dirs_accepts_siblings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_dirs("data/photos", "results/photos")


def test_coerce_numbers_from_command_line_strings():
    config = {"size": ["224", "224"], "quality": "80", "mode": "fit", "demo": {"seed": "3"}}
    config |= {"jpeg_draft": "false", "format": "true"}  # format wants a name: left as it is
    coerce_numbers(config)
    assert config == {
        "size": [224, 224],
        "quality": 80,
        "mode": "fit",
        "demo": {"seed": 3},
        "jpeg_draft": False,
        "format": "true",
    }


def test_config_errors_name_the_key():
    errors = config_errors({"input_dir": "a", "output_dir": "b", "size": [0, 5], "sise": 1})
    assert any(e.startswith("size[0]: 0 is less than the minimum") for e in errors)
    assert any("'sise' was unexpected" in e for e in errors)
    assert config_errors({"output_dir": "b"}) == ["config: 'input_dir' is a required property"]
    assert config_errors({"input_dir": "a", "output_dir": "b"}) == []


def test_auto_images_per_job_depends_on_count_only():
    counts = (1, 48, 1000, 100_000, 1_000_000)
    assert [auto_images_per_job(n) for n in counts] == [16, 16, 63, 2000, 2000]


def test_shards_are_stable_when_an_image_is_added():
    plan = {f"img_{i:04d}.jpg": f"img_{i:04d}.jpg" for i in range(1000)}
    before = shard_outputs(plan, 62)
    assert len(before) == 16 and sum(map(len, before.values())) == 1000
    after = shard_outputs({**plan, "new.jpg": "new.jpg"}, 62)
    changed = [k for k in after if after[k] != before.get(k)]
    assert len(changed) == 1 and "new.jpg" in after[changed[0]]


def test_symlinked_folders_are_followed_each_real_folder_once(tmp_path):
    """As find -L: a linked folder's images are found under the link's path; a second link
    to the same folder, or a link back to an ancestor, adds nothing (no endless walk)."""
    photos, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    (photos / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    for path in (photos / "a.jpg", photos / "sub" / "b.jpg", elsewhere / "c.jpg"):
        path.write_bytes(b"x")
    (photos / "more").symlink_to(elsewhere)
    (photos / "same").symlink_to(elsewhere)  # sorts after "more": that one wins
    (photos / "sub" / "up").symlink_to(photos)
    assert find_images(photos, [".jpg"]) == ["a.jpg", "more/c.jpg", "sub/b.jpg"]
