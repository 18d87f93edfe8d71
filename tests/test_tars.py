"""WebDataset tars (work in progress): keys, deterministic bytes, read back by the real
webdataset library."""

import hashlib

import webdataset as wds

from imagefactory import photo
from imageprep.tars import read_members, sample_json, sample_key, write_tar


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
        members += [
            (f"{key}.jpg", data),
            (
                f"{key}.json",
                sample_json({"input": name, "sha256": hashlib.sha256(data).hexdigest()}),
            ),
        ]
    write_tar(tmp_path / "one.tar", members)
    write_tar(tmp_path / "two.tar", reversed(members))
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    samples = list(wds.WebDataset(str(tmp_path / "one.tar"), shardshuffle=False).decode("pil"))
    assert [s["json"]["input"] for s in samples] == ["a.jpg", "b.jpg"]
    assert all(s["jpg"].size == (64, 48) for s in samples)
    assert read_members(tmp_path / "one.tar", [f"{sample_key('b.jpg')}.jpg"]) == {
        f"{sample_key('b.jpg')}.jpg": images["b.jpg"]
    }
