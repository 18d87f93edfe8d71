"""The manifest and the plan files as files: any name survives the round trip, merges keep
the order, and a run's manifest lists every image once."""

import pytest

from imageprep.folder import manifest as mf
from imageprep.folder.manifest import Row, iter_manifest, merge_shard_rows, write_manifest
from imageprep.folder.records import read_failed_tsv
from imageprep.run.plan_files import read_plan, write_plan_text
from imageprep.run.shards import shard_outputs

ODD = [
    "plain.jpg",
    'comma, and "quotes".jpg',
    "tab\there.jpg",
    "carriage\rreturn.jpg",
    "form\x0cfeed\x1cgroup\u2028line.jpg",
    "back\\slash.jpg",
    "latin1-\udce9.jpg",  # a name that is not valid UTF-8, as os.fsdecode gives it
    "ünïcødé/deeper.png",
]


def row(name, status="ok"):
    if status == "ok":
        return Row(name, name, "ok", "", 10, 20, 30, 4, 3, "ab" * 32, "f" * 16, 2)
    return Row(name, name, "failed", f"bad: {name}", 10, 20, None, None, None, "", "f" * 16, 2)


def test_any_name_survives_the_manifest(tmp_path):
    rows = [row(name, "failed" if i % 3 == 0 else "ok") for i, name in enumerate(ODD)]
    write_manifest(tmp_path / "m.csv", rows)
    assert list(iter_manifest(tmp_path / "m.csv")) == sorted(rows, key=lambda r: r.input)
    assert (tmp_path / "m.csv").read_bytes().startswith(b"input,output,status,")


def test_any_name_survives_the_plan_file(tmp_path):
    pairs = [(name, name + ".out") for name in ODD]
    write_plan_text(tmp_path / "plan.tsv", pairs)
    assert read_plan(tmp_path / "plan.tsv")[0] == pairs


@pytest.mark.parametrize("max_open", [2, 256])
def test_merge_keeps_order_in_rounds_and_lists_failures(tmp_path, monkeypatch, max_open):
    monkeypatch.setattr(mf, "MAX_OPEN", max_open)
    names = [f"img_{i:03d}.jpg" for i in range(40)]
    shards = shard_outputs(names, 5)
    parts = []
    for shard, members in shards.items():
        rows = [row(n, "failed" if n.endswith("7.jpg") else "ok") for n in members]
        write_manifest(tmp_path / f"{shard}.csv", rows)
        parts.append(tmp_path / f"{shard}.csv")
    refused = [Row("a{b}.jpg", "a{b}.jpg", "failed", "wildcard")]
    count = merge_shard_rows(parts, refused, tmp_path / "all.csv", tmp_path / "failed.tsv", "in")
    merged = [r.input for r in iter_manifest(tmp_path / "all.csv")]
    assert count == 41 and merged == sorted([*names, "a{b}.jpg"])
    failed = [src for src, _ in read_failed_tsv(tmp_path / "failed.tsv")]
    assert failed == sorted(["in/a{b}.jpg", *(f"in/{n}" for n in names if n.endswith("7.jpg"))])
    assert not list(tmp_path.glob(".*merging"))  # the rounds' files are gone


@pytest.mark.parametrize("max_open", [2, 256])
def test_merge_copies_rows_byte_for_byte(tmp_path, monkeypatch, max_open):
    # The merge copies each row's text without parsing it: names that span lines in the CSV
    # (a quoted carriage return) must come out as one manifest written whole would have them.
    monkeypatch.setattr(mf, "MAX_OPEN", max_open)
    rows = [row(f"{i}-{name}", "failed" if i % 3 else "ok") for i, name in enumerate(ODD * 3)]
    parts = []
    for shard, members in shard_outputs([r.input for r in rows], 4).items():
        write_manifest(tmp_path / f"{shard}.csv", [r for r in rows if r.input in members])
        parts.append(tmp_path / f"{shard}.csv")
    refused = [Row("0-zzz.jpg", "0-zzz.jpg", "failed", 'a "FIFO",\nreally')]
    merge_shard_rows(parts, refused, tmp_path / "all.csv")
    write_manifest(tmp_path / "whole.csv", [*rows, *refused])
    assert (tmp_path / "all.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_a_foreign_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "m.csv").write_text("path,reason\n")
    with pytest.raises(ValueError, match="not an imageprep manifest"):
        iter_manifest(tmp_path / "m.csv")
