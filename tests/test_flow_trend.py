"""Flow tally sets (stored, reused, recomputed when stale or damaged, refused when the parts
disagree with the manifest) and `survey trend` over flow snapshots, alone and beside DNS
snapshots; the values against the lab generator's rows."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from snapshot_factory import SAMPLE, write_snapshot

from survey.cli.main import main
from survey.errors import SnapshotError
from survey.flows.pipeline import FlowOptions, run_flows
from survey.lab.generate import generate_lab
from survey.lab.reports import FlowLabPaths, write_flow_lab
from survey.report import flow_tallies
from survey.report.flow_tallies import tally_flows
from survey.report.flow_trend import flow_trend, split_kinds
from survey.report.flow_write import write_any_trends, write_flow_report
from survey.report.tallies import STAMP, TALLIES
from survey.schema.flow_columns import FLOW_SCHEMA_VERSION
from survey.store.flows import RECORDS_DIR, FlowSnapshot, parts
from survey.store.snapshot import MANIFEST

TABLE_FILES = ("flows.csv", "flows.parquet")
DKIM = ["self", "third_party", "fail", "unsigned"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> FlowLabPaths:
    folder = tmp_path_factory.mktemp("flow-trend-lab")
    generate_lab(800, folder, seed=5)
    return write_flow_lab(folder, 30)


@pytest.fixture(scope="module")
def root(lab: FlowLabPaths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two complete flow snapshots (November: the flow tables only; December: everything),
    an interrupted one, and a DNS snapshot beside them."""
    root = tmp_path_factory.mktemp("flow-snapshots")
    tables = tuple(lab.reports / name for name in TABLE_FILES)
    run_flows(FlowOptions(tables, root, "2025-11"))
    run_flows(FlowOptions((lab.reports,), root, "2025-12", files_per_part=25))
    run_flows(FlowOptions(tables, root, "2026-01"))
    manifest = root / "2026-01" / MANIFEST
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "status": "interrupted"}))
    write_snapshot(root, "dns-2025-12", SAMPLE)
    return root


@pytest.fixture(scope="module")
def truth(lab: FlowLabPaths) -> pd.DataFrame:
    return pq.read_table(lab.expected_flows).to_pandas()


@pytest.fixture
def snapshot(root: Path, tmp_path: Path) -> FlowSnapshot:
    """A copy of the November flow snapshot, without tallies, to change at will."""
    shutil.copytree(root / "2025-11", tmp_path / "2025-11", ignore=shutil.ignore_patterns(TALLIES))
    return FlowSnapshot.open(tmp_path / "2025-11")


def stamp_of(snapshot: FlowSnapshot) -> dict:
    return json.loads((snapshot.folder / TALLIES / STAMP).read_text())


def forbid_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the rows were read again")

    monkeypatch.setattr(flow_tallies, "FlowEngine", refuse)


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for by in a:
        assert a[by].keys() == b[by].keys()
        for name in a[by]:
            pd.testing.assert_frame_equal(a[by][name], b[by][name], check_dtype=False)
            assert a[by][name].attrs == b[by][name].attrs, (by, name)


def test_set_is_stored_with_its_stamp(snapshot: FlowSnapshot) -> None:
    tally_flows(snapshot)
    stamp = stamp_of(snapshot)
    assert stamp["schema_version"] == FLOW_SCHEMA_VERSION and stamp["options"] == {"dns": None}
    assert stamp["snapshot"]["rows"] == snapshot.manifest["accounting"]["rows"]
    assert [p[0] for p in stamp["snapshot"]["parts"]] == [p.name for p in parts(snapshot.folder)]
    files = sorted(p.name for p in (snapshot.folder / TALLIES).iterdir())
    assert len(files) == 1 + 12 and "flow_signers_volume.parquet" in files


def test_current_set_is_reused_without_reading_rows(
    snapshot: FlowSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tally_flows(snapshot)
    forbid_engine(monkeypatch)
    again = tally_flows(snapshot)
    assert again.reused and not first.reused
    same(again.tables, first.tables)


def test_touched_part_makes_the_set_stale(
    snapshot: FlowSnapshot, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tally_flows(snapshot)
    part = parts(snapshot.folder)[0]
    os.utime(part, ns=(part.stat().st_atime_ns, part.stat().st_mtime_ns + 1_000_000_000))
    again = tally_flows(snapshot)
    assert not again.reused
    assert "tallies of 2025-11 are out of date: recomputed" in capsys.readouterr().err
    same(again.tables, first.tables)
    assert tally_flows(snapshot).reused


def test_damaged_table_is_never_used(snapshot: FlowSnapshot) -> None:
    tally_flows(snapshot)
    path = snapshot.folder / TALLIES / "flow_dkim_volume.parquet"
    path.write_bytes(path.read_bytes()[:-10])
    assert not tally_flows(snapshot).reused
    assert tally_flows(snapshot).reused


def test_parts_that_disagree_with_the_manifest_are_refused(
    lab: FlowLabPaths, tmp_path: Path
) -> None:
    run_flows(FlowOptions((lab.reports,), tmp_path, "cut", files_per_part=25))
    snapshot = FlowSnapshot.open(tmp_path / "cut")
    parts(snapshot.folder)[1].unlink()
    with pytest.raises(SnapshotError, match="does not match its manifest"):
        tally_flows(snapshot)
    assert not (snapshot.folder / TALLIES).exists()


def test_incomplete_snapshot_is_refused_or_tallied_in_memory(root: Path, tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="has status 'interrupted'"):
        write_flow_report(root / "2026-01", tmp_path / "r")
    write_flow_report(root / "2026-01", tmp_path / "r", allow_incomplete=True, formats=["png"])
    assert (tmp_path / "r" / "report.md").is_file()
    assert not (root / "2026-01" / TALLIES).exists()


# --- the trend ---------------------------------------------------------------------------------


def test_folders_are_told_apart(root: Path) -> None:
    flows, others = split_kinds(root)
    assert [f.name for f in flows] == ["2025-11", "2025-12", "2026-01"]
    assert [f.name for f in others] == ["dns-2025-12"]


@pytest.fixture(scope="module")
def trend(root: Path):  # type: ignore[no-untyped-def]
    return flow_trend(split_kinds(root)[0], root)


def test_trend_shows_complete_flow_snapshots_in_label_order(trend) -> None:
    assert trend.labels == ("2025-11", "2025-12")
    assert any("skipped 2026-01: flow run status is 'interrupted'" in n for n in trend.notes)


@pytest.mark.parametrize("by", ["volume", "domains"])
def test_dkim_over_time_is_the_generators(trend, truth: pd.DataFrame, by: str) -> None:
    table = trend.tables[f"flow_dkim_{by}"]
    points = {"2025-11": truth[truth["input_file"].isin(TABLE_FILES)], "2025-12": truth}
    for label, rows in points.items():
        point = table[table["label"] == label]
        grouped = rows.groupby("dkim")
        counts = grouped["messages"].sum() if by == "volume" else grouped["header_from"].nunique()
        n = rows["messages"].sum() if by == "volume" else rows["header_from"].nunique()
        assert point["dkim"].tolist() == DKIM
        assert point["count"].tolist() == [int(counts.get(k, 0)) for k in DKIM]
        assert point["share"].tolist() == [int(counts.get(k, 0)) / n for k in DKIM]
        assert set(point["n"]) == {n}
    assert table.attrs == {"by": by, "trend": True}


def test_flow_counts_per_snapshot(trend, truth: pd.DataFrame) -> None:
    counts = trend.tables["flow_counts"].set_index("label")
    november = truth[truth["input_file"].isin(TABLE_FILES)]
    assert counts.loc["2025-11", "messages"] == november["messages"].sum()
    assert counts.loc["2025-12", "messages"] == truth["messages"].sum()
    assert counts.loc["2025-12", "from_domains"] == truth["header_from"].nunique()
    assert pd.isna(counts.loc["2025-11", "period_begin"])  # flow tables have no report period
    assert counts.loc["2025-12", "period_begin"] == "2025-12-01T00:00:00+00:00"


def test_trend_reads_the_stored_sets(trend, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_engine(monkeypatch)  # the trend above stored both sets: none is computed again
    again = flow_trend(split_kinds(root)[0], root)
    assert again.labels == trend.labels


def test_a_folder_of_both_kinds_gets_both_trends(root: Path, tmp_path: Path) -> None:
    written = write_any_trends(root, tmp_path, formats=["png"])
    assert written == [tmp_path / "report.md", tmp_path / "flows" / "report.md"]
    dns, flows = (path.read_text(encoding="utf-8") for path in written)
    assert dns.startswith("# DMARC and SPF survey: trend dns-2025-12 – dns-2025-12")
    assert flows.startswith("# Mail flows: trend 2025-11 – 2025-12")
    assert (tmp_path / "flows" / "charts" / "flow_dkim_volume.png").is_file()
    assert (tmp_path / "flows" / "charts" / "flow_counts.png").is_file()


def test_a_folder_of_flow_snapshots_gets_the_flow_trend_in_place(
    root: Path, tmp_path: Path
) -> None:
    only = tmp_path / "flows"
    for label in ("2025-11", "2025-12"):
        shutil.copytree(root / label, only / label)
    written = write_any_trends(only, tmp_path / "out", lang="ja", formats=["png"])
    assert written == [tmp_path / "out" / "report.md"]
    text = written[0].read_text(encoding="utf-8")
    assert text.startswith("# メールフロー: 推移 2025-11 – 2025-12")
    assert len(list((tmp_path / "out" / "charts").glob("*.png"))) == 1 + 10


def test_no_complete_flow_snapshot_is_an_error(root: Path) -> None:
    with pytest.raises(SnapshotError, match="no complete flow snapshot"):
        flow_trend([root / "2026-01"], root)


def test_records_parts_are_where_the_store_says(root: Path) -> None:
    assert parts(root / "2025-12")[0].parent.name == RECORDS_DIR


def test_memory_running_short_is_said_as_such(
    snapshot: FlowSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def short(*args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    monkeypatch.setattr(flow_tallies, "FlowEngine", short)
    with pytest.raises(SnapshotError, match="DuckDB ran out of its 1GB memory limit"):
        tally_flows(snapshot)


def test_a_damaged_part_is_one_error(snapshot: FlowSnapshot) -> None:
    part = parts(snapshot.folder)[0]
    data = part.read_bytes()
    part.write_bytes(data[:8] + b"\0" * (len(data) - 16) + data[-8:])  # footer kept, pages gone
    with pytest.raises(SnapshotError, match="cannot be read"):
        tally_flows(snapshot)
    assert not (snapshot.folder / TALLIES).exists()


def test_cli_trend_of_a_folder_of_both_kinds(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    argv = ["survey", "trend", str(root), "--out", str(tmp_path), "--format", "png"]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 0
    said = capsys.readouterr()
    assert said.out.splitlines() == [
        f"trend written: {tmp_path / 'report.md'}",
        f"trend written: {tmp_path / 'flows' / 'report.md'}",
    ]
    assert "skipped 2026-01: flow run status is 'interrupted'" in said.err
