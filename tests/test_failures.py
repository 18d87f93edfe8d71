"""The failure manifest and its per-image records: any file name survives the round trip."""

import pytest

from imageprep.records import (
    merge_records,
    read_failed_tsv,
    read_record,
    write_failed_tsv,
    write_record,
)

NAMES = ["plain.jpg", "tab\there.jpg", "new\nline.jpg", "back\\slash.jpg", "ünï cødé.jpg"]


def test_records_round_trip_any_name(tmp_path):
    for i, name in enumerate(NAMES):
        write_record(tmp_path / f"{i}.tsv", name, None if i % 2 else f"reason for\t{name}")
        status, src, reason = read_record(tmp_path / f"{i}.tsv")
        assert src == name and status == ("ok" if i % 2 else "failed")
        assert reason == ("" if i % 2 else f"reason for\t{name}")


def test_merge_keeps_only_failures_sorted_with_known_ones(tmp_path):
    records = []
    for i, name in enumerate(NAMES):
        records.append(tmp_path / f"{i}.tsv")
        write_record(records[-1], name, "bad" if name != "plain.jpg" else None)
    merge_records(records, [("a{b}.jpg", "wildcard")], str(tmp_path / "failed.tsv"))
    rows = read_failed_tsv(tmp_path / "failed.tsv")
    assert rows == sorted([(n, "bad") for n in NAMES[1:]] + [("a{b}.jpg", "wildcard")])
    lines = (tmp_path / "failed.tsv").read_text().splitlines()
    assert lines[0] == "path\treason" and len(lines) == len(NAMES) + 1  # one line per row


def test_empty_manifest_has_the_header_and_a_foreign_file_is_refused(tmp_path):
    write_failed_tsv(tmp_path / "failed.tsv", [])
    assert (tmp_path / "failed.tsv").read_text() == "path\treason\n"
    assert read_failed_tsv(tmp_path / "failed.tsv") == []
    (tmp_path / "other.tsv").write_text("name\tsize\n")
    with pytest.raises(ValueError, match="not a failure manifest"):
        read_failed_tsv(tmp_path / "other.tsv")
