"""Tally sets kept beside a snapshot: written once and reused; recomputed and replaced whole
when missing or stale, never mixed; refused when the parts disagree with the manifest; never
written for an incomplete or locked snapshot, and nothing else ever written into a snapshot."""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path

import pytest
from snapshot_factory import SAMPLE, later_sample, write_snapshot
from test_engine import FAST_NAMING, assert_same
from test_tally import NAMING

from survey.cli.main import main
from survey.errors import SnapshotError
from survey.report import engine as engine_module
from survey.report import tallies
from survey.report.tallies import STAMP, TALLIES, Options, tally_snapshot
from survey.schema.columns import SCHEMA_VERSION
from survey.store.snapshot import LOCK, MANIFEST, PARTS_DIR, Snapshot

OPTIONS = Options(3, None, FAST_NAMING)


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    return Snapshot.open(write_snapshot(tmp_path, "2026-01", SAMPLE))


def stamp_of(snapshot: Snapshot) -> dict:
    return json.loads((snapshot.folder / TALLIES / STAMP).read_text())


def forbid_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the rows were read again")

    monkeypatch.setattr(tallies, "Engine", refuse)


def test_set_is_stored_with_its_stamp(snapshot: Snapshot) -> None:
    tally_snapshot(snapshot, OPTIONS)
    stamp = stamp_of(snapshot)
    assert (stamp["tool"], stamp["schema_version"]) == ("dmarc-survey", SCHEMA_VERSION)
    assert stamp["snapshot"]["rows"] == len(SAMPLE)
    assert [p[0] for p in stamp["snapshot"]["parts"]] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert stamp["options"] == {"top": 3, "top_by": None, "naming": "test-fast"}
    files = sorted(p.name for p in (snapshot.folder / TALLIES).iterdir())
    assert len(files) == 1 + 2 * 18 and "types_top_volume.parquet" in files


def test_current_set_is_reused_without_reading_rows(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tally_snapshot(snapshot, OPTIONS)
    forbid_engine(monkeypatch)
    again = tally_snapshot(snapshot, OPTIONS)
    assert again.reused and not first.reused
    assert_same(again.tables, first.tables)


def test_trend_takes_a_set_made_with_any_options(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    tally_snapshot(snapshot, OPTIONS)
    forbid_engine(monkeypatch)
    assert tally_snapshot(snapshot, Options(), any_options=True).reused


@pytest.mark.parametrize(
    "options",
    [Options(5, None, FAST_NAMING), Options(3, "volume", FAST_NAMING), Options(3, None, NAMING)],
    ids=["top", "top_by", "naming-without-key"],
)
def test_other_options_recompute(snapshot: Snapshot, options: Options) -> None:
    tally_snapshot(snapshot, options)  # a naming without a key is never reused: not even now
    tally_snapshot(snapshot, OPTIONS)
    assert not tally_snapshot(snapshot, options).reused
    assert stamp_of(snapshot)["options"]["top"] == options.top


def rewrite_part(snapshot: Snapshot, rows) -> None:
    """A part replaced in place (as `--retry-unresolved` does), with new content."""
    write_snapshot(snapshot.folder.parent, "other", rows)
    source = snapshot.folder.parent / "other" / PARTS_DIR / "part-00000.parquet"
    os.replace(source, snapshot.folder / PARTS_DIR / "part-00000.parquet")


def test_changed_part_makes_the_set_stale(
    snapshot: Snapshot, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tally_snapshot(snapshot, OPTIONS).tables["domains"]["types"]
    rewrite_part(snapshot, later_sample())  # d.example moved from C to A
    after = tally_snapshot(snapshot, OPTIONS)
    assert not after.reused
    assert "tallies of 2026-01 are out of date: recomputed" in capsys.readouterr().err
    counts = after.tables["domains"]["types"].set_index("type")["count"]
    assert counts["A"] == before.set_index("type")["count"]["A"] + 1


def test_damaged_table_is_never_used(snapshot: Snapshot) -> None:
    tally_snapshot(snapshot, OPTIONS)
    path = snapshot.folder / TALLIES / "types_domains.parquet"
    path.write_bytes(path.read_bytes()[:-10])
    assert not tally_snapshot(snapshot, OPTIONS).reused
    assert tally_snapshot(snapshot, OPTIONS).reused  # replaced whole by a good set


def test_write_cut_short_keeps_the_old_set(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    tally_snapshot(snapshot, OPTIONS)
    old_stamp = stamp_of(snapshot)
    written = []

    def fail_third(folder: Path, name: str, by: str, table) -> dict:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(name)
        return real(folder, name, by, table)

    real = tallies._write_table
    monkeypatch.setattr(tallies, "_write_table", fail_third)
    tally_snapshot(snapshot, Options(4, None, FAST_NAMING))  # tables still returned
    assert stamp_of(snapshot) == old_stamp
    monkeypatch.undo()
    forbid_engine(monkeypatch)
    assert tally_snapshot(snapshot, OPTIONS).reused  # the old set, whole
    monkeypatch.undo()
    tally_snapshot(snapshot, Options(4, None, FAST_NAMING))
    assert not list(snapshot.folder.glob(".tallies-*"))  # leftovers removed by the next write


def test_parts_disagreeing_with_manifest_are_refused(snapshot: Snapshot) -> None:
    (snapshot.folder / PARTS_DIR / "part-00001.parquet").unlink()
    with pytest.raises(SnapshotError, match=r"does not match its manifest: its 2 part files hold"):
        tally_snapshot(snapshot, OPTIONS)
    assert not (snapshot.folder / TALLIES).exists()


def test_manifest_part_count_is_checked(snapshot: Snapshot) -> None:
    manifest = json.loads((snapshot.folder / MANIFEST).read_text())
    (snapshot.folder / MANIFEST).write_text(json.dumps({**manifest, "parts": 4}))
    with pytest.raises(SnapshotError, match="the manifest says 12 rows in 4 parts"):
        tally_snapshot(Snapshot.open(snapshot.folder), OPTIONS)


def test_cli_refuses_a_damaged_snapshot_in_one_line(
    snapshot: Snapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    (snapshot.folder / PARTS_DIR / "part-00002.parquet").unlink()
    out = tmp_path / "report"
    monkeypatch.setattr(sys, "argv", ["survey", "report", str(snapshot.folder), "--out", str(out)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(lines) == 1 and lines[0].startswith("survey: error: snapshot 2026-01 does not")
    assert not out.exists() and not (snapshot.folder / TALLIES).exists()


def test_incomplete_snapshot_is_tallied_but_not_stored(tmp_path: Path) -> None:
    snapshot = Snapshot.open(write_snapshot(tmp_path, "2026-02", SAMPLE, status="interrupted"))
    assert tally_snapshot(snapshot, OPTIONS).rows == len(SAMPLE)
    assert not (snapshot.folder / TALLIES).exists()


def test_snapshot_locked_by_a_scan_is_not_written(
    snapshot: Snapshot, capsys: pytest.CaptureFixture[str]
) -> None:
    fd = os.open(snapshot.folder / LOCK, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert tally_snapshot(snapshot, OPTIONS).rows == len(SAMPLE)
    finally:
        os.close(fd)
    assert "tallies of 2026-01 not stored" in capsys.readouterr().err
    assert not (snapshot.folder / TALLIES).exists()


def test_nothing_else_is_written_into_the_snapshot(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spills = tmp_path / "spills"
    spills.mkdir()
    # small: DuckDB may spill (16 MB: since the combinations read the RFC 9989 columns and the
    # names they compare, 10 MB is too little to hold two Parquet readers at all)
    monkeypatch.setattr(engine_module, "MEMORY_LIMIT", "16MB")
    before = {p.relative_to(snapshot.folder) for p in snapshot.folder.rglob("*")}
    tally_snapshot(snapshot, OPTIONS, spill_under=spills)
    after = {p.relative_to(snapshot.folder) for p in snapshot.folder.rglob("*")}
    assert {p.parts[0] for p in after - before} == {TALLIES}
    assert not list(spills.iterdir())  # the engine's spill folder is removed after use


@pytest.mark.parametrize("damage", ["footer", "pages"])
def test_unreadable_part_is_one_error(snapshot: Snapshot, tmp_path: Path, damage: str) -> None:
    part = snapshot.folder / PARTS_DIR / "part-00001.parquet"
    data = bytearray(part.read_bytes())
    if damage == "footer":
        data = data[: len(data) // 2]
    else:  # the footer (row count) intact, the column data garbled
        data[4 : len(data) // 2] = bytes(len(data) // 2 - 4)
    part.write_bytes(bytes(data))
    spills = tmp_path / "spills"
    spills.mkdir()
    with pytest.raises(SnapshotError, match=r"snapshot 2026-01: (part part-00001|its parts)"):
        tally_snapshot(snapshot, OPTIONS, spill_under=spills)
    assert not (snapshot.folder / TALLIES).exists()
    assert not list(spills.iterdir())
