"""failed.tsv and the per-image rule's records: any file name survives the round trip."""

import pytest

from imageprep.folder.manifest import Row, merge_shard_rows, write_manifest
from imageprep.folder.records import read_failed_tsv, read_record, write_failed_tsv, write_record

NAMES = ["plain.jpg", "tab\there.jpg", "new\nline.jpg", "back\\slash.jpg", "ünï cødé.jpg"]


def test_records_round_trip_any_name(tmp_path):
    for i, name in enumerate(NAMES):
        write_record(tmp_path / f"{i}.tsv", name, None if i % 2 else f"reason for\t{name}")
        status, src, reason = read_record(tmp_path / f"{i}.tsv")
        assert src == name and status == ("ok" if i % 2 else "failed")
        assert reason == ("" if i % 2 else f"reason for\t{name}")


def test_merge_keeps_only_failures_sorted_with_known_ones(tmp_path):
    """failed.tsv as the manifest merge writes it: the failed rows of the jobs' manifests,
    plus the inputs refused before any job."""
    parts = []
    for i, name in enumerate(NAMES):
        parts.append(tmp_path / f"{i}.csv")
        status = "ok" if name == "plain.jpg" else "failed"
        write_manifest(parts[-1], [Row(name, name, status, "bad" if status == "failed" else "")])
    known = [Row("a{b}.jpg", "a{b}.jpg", "failed", "wildcard")]
    merge_shard_rows(parts, known, tmp_path / "manifest.csv", tmp_path / "failed.tsv", "in")
    rows = read_failed_tsv(tmp_path / "failed.tsv")
    expected = [(f"in/{n}", "bad") for n in NAMES[1:]] + [("in/a{b}.jpg", "wildcard")]
    assert rows == sorted(expected)
    lines = (tmp_path / "failed.tsv").read_text().splitlines()
    assert lines[0] == "path\treason" and len(lines) == len(NAMES) + 1  # one line per row


def test_empty_manifest_has_the_header_and_a_foreign_file_is_refused(tmp_path):
    write_failed_tsv(tmp_path / "failed.tsv", [])
    assert (tmp_path / "failed.tsv").read_text() == "path\treason\n"
    assert read_failed_tsv(tmp_path / "failed.tsv") == []
    (tmp_path / "other.tsv").write_text("name\tsize\n")
    with pytest.raises(ValueError, match="not a failure manifest"):
        read_failed_tsv(tmp_path / "other.tsv")
