"""snapshot: atomic parts, the lock, labels, schema version checks, reading back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from survey.errors import SnapshotError
from survey.store.snapshot import (
    COLUMNS,
    SCHEMA_VERSION,
    Snapshot,
    SnapshotWriter,
    check_label,
    default_label,
    list_snapshots,
    rows_to_table,
)


@pytest.mark.parametrize("label", ["2026-11", "2026-11-01", "lab_1", "a.b"])
def test_good_labels(label: str) -> None:
    assert check_label(label) == label


@pytest.mark.parametrize("label", ["../../x", "a/b", "", ".hidden", "x..y", "a b", "x" * 65])
def test_bad_labels_are_refused(label: str) -> None:
    with pytest.raises(SnapshotError, match="invalid snapshot label"):
        check_label(label)


def test_default_label_is_year_month() -> None:
    assert len(default_label()) == 7 and default_label()[4] == "-"


def write_snapshot(root, label="s", version=SCHEMA_VERSION, status="complete"):
    with SnapshotWriter.create(root, label) as writer:
        writer.write_part(0, rows_to_table({"domain": ["a.example", "b.example"]}))
        writer.write_part(1, rows_to_table({"domain": ["c.example"]}))
        writer.write_manifest({"schema_version": version, "label": label, "status": status})
    return root / label


def test_round_trip_with_column_projection(tmp_path) -> None:
    folder = write_snapshot(tmp_path)
    snap = Snapshot.open(folder)
    assert snap.label == "s" and snap.is_complete
    assert snap.to_table().column_names == list(COLUMNS)
    assert sorted(snap.to_pandas(["domain"]).domain) == ["a.example", "b.example", "c.example"]
    assert list_snapshots(tmp_path) == [folder]


def test_unknown_column_is_refused(tmp_path) -> None:
    with pytest.raises(SnapshotError, match="unknown snapshot column"):
        Snapshot.open(write_snapshot(tmp_path)).to_table(["nope"])


@pytest.mark.parametrize("version", [0, 2, None, "1"])
def test_other_schema_versions_are_refused_not_misread(tmp_path, version) -> None:
    folder = write_snapshot(tmp_path, version=version)
    with pytest.raises(SnapshotError, match="schema version"):
        Snapshot.open(folder)


def test_missing_or_broken_manifest(tmp_path) -> None:
    with pytest.raises(SnapshotError, match="no manifest"):
        Snapshot.open(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="not valid JSON"):
        Snapshot.open(tmp_path)


def test_second_writer_on_same_label_is_refused(tmp_path) -> None:
    with SnapshotWriter.create(tmp_path, "busy"):
        with pytest.raises(SnapshotError, match="locked"):
            SnapshotWriter.create(tmp_path, "busy").__enter__()
        code = (
            "import sys; from survey.store.snapshot import SnapshotWriter\n"
            "try:\n    SnapshotWriter.create(sys.argv[1], 'busy').__enter__()\n"
            "except Exception as e:\n    print(e); sys.exit(3)\n"
        )
        other = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
        )
        assert other.returncode == 3 and "locked" in other.stdout
    with SnapshotWriter.create(tmp_path, "busy"):  # released on exit
        pass


def test_leftover_temporary_files_are_cleaned_and_never_read(tmp_path) -> None:
    folder = write_snapshot(tmp_path)
    junk = folder / "domains" / ".part-00002.parquet.tmp-999"
    junk.write_bytes(b"half a part")
    with SnapshotWriter.create(tmp_path, "s") as writer:
        assert writer.done_parts() == {0, 1}
    assert not junk.exists()


def test_manifest_is_replaced_whole(tmp_path) -> None:
    with SnapshotWriter.create(tmp_path, "m") as writer:
        writer.write_manifest({"schema_version": 1, "status": "running"})
        writer.write_manifest({"schema_version": 1, "status": "complete"})
    assert json.loads((tmp_path / "m" / "manifest.json").read_text())["status"] == "complete"
    assert [p.name for p in (tmp_path / "m").iterdir() if "tmp" in p.name] == []


_PANDAS_PROBE = """
import sys
from survey.store.snapshot import arrow_without_pandas, rows_to_table
{before}
arrow_without_pandas()
table = rows_to_table({{"domain": ["example.com", "example.net"], "dmarc_p": ["reject", None]}})
loaded = "pandas" in sys.modules
frame = table.to_pandas()
print(loaded, type(frame).__name__, list(frame["domain"]))
"""


def _probe(before: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PANDAS_PROBE.format(before=before)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_writing_parts_does_not_load_pandas_and_reading_still_can() -> None:
    # A scan worker converts lists to Arrow; pyarrow would load pandas (~50 MB) to do it.
    loaded, kind, *domains = _probe("")
    assert loaded == "False"
    assert kind == "DataFrame"  # to_pandas() imports pandas when it is asked for
    assert domains == ["['example.com',", "'example.net']"]


def test_a_process_that_has_pandas_keeps_it() -> None:
    loaded, kind, *_ = _probe("import pandas")
    assert (loaded, kind) == ("True", "DataFrame")
