"""The trend over two complete snapshots; others skipped with a note, never misread."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from snapshot_factory import SAMPLE, later_sample, without_weights, write_snapshot

from survey.errors import SnapshotError
from survey.report.trend import Trend, trend


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("snapshots")
    write_snapshot(root, "2026-02", later_sample())  # written first: order comes from labels
    write_snapshot(root, "2026-01", SAMPLE)
    write_snapshot(root, "2026-03", later_sample(), status="running")
    write_snapshot(root, "2026-04", later_sample(), status="interrupted")
    write_snapshot(root, "2025-12", SAMPLE, version=2)
    (root / "not-a-snapshot").mkdir()
    return root


@pytest.fixture(scope="module")
def result(snapshots: Path) -> Trend:
    return trend(snapshots)


def points(table: pd.DataFrame, key: str) -> dict[tuple[str, str], tuple[int, float]]:
    return {
        (row.label, getattr(row, key)): (row.count, row.share)
        for row in table.rename(columns={table.columns[1]: key}).itertuples()
    }


def test_only_complete_snapshots_in_label_order(result: Trend) -> None:
    assert result.labels == ("2026-01", "2026-02")


def test_skipped_snapshots_are_noted(result: Trend) -> None:
    notes = "\n".join(result.notes)
    assert "skipped 2025-12" in notes and "schema version 2" in notes
    assert "skipped 2026-03: scan status is 'running'" in notes
    assert "skipped 2026-04: scan status is 'interrupted'" in notes
    assert "not-a-snapshot" not in notes


TYPES = [
    # by, label, counts A-F, n, unresolved (same unit)
    ("domains", "2026-01", [3, 2, 1, 1, 2, 1], 10, 2),
    ("domains", "2026-02", [4, 2, 0, 1, 2, 0], 9, 2),
    ("volume", "2026-01", [1500, 200, 100, 50, 70, 20], 1940, 15),
    ("volume", "2026-02", [1600, 200, 0, 50, 70, 0], 1920, 15),
]


@pytest.mark.parametrize(("by", "label", "counts", "n", "unresolved"), TYPES)
def test_types_over_time(
    result: Trend, by: str, label: str, counts: list[int], n: int, unresolved: int
) -> None:
    table = result.tables[f"types_{by}"]
    point = table[table["label"] == label]
    assert point["type"].tolist() == list("ABCDEF")
    assert point["count"].tolist() == counts
    assert point["share"].tolist() == [c / n for c in counts]
    assert set(point["n"]) == {n}
    assert set(point["unresolved"]) == {unresolved}
    assert table.attrs == {"by": by, "trend": True}


def test_policy_over_time(result: Trend) -> None:
    got = points(result.tables["policy_effective_domains"], "policy")
    assert got[("2026-01", "none")] == (2, 2 / 8)
    assert got[("2026-02", "none")] == (1, 1 / 8)
    assert got[("2026-02", "reject")] == (4, 4 / 8)


def test_vendors_over_time_fill_missing_with_zero(tmp_path: Path) -> None:
    later = [dict(row) for row in later_sample()]
    for row in later:
        if row["domain"] == "b.example":
            row.update(rua_vendors=["EasyDMARC"], rua_hosts=["easydmarc.com"])
    write_snapshot(tmp_path, "2026-01", SAMPLE)
    write_snapshot(tmp_path, "2026-02", later)
    got = points(trend(tmp_path).tables["rua_vendors_domains"], "vendor")
    assert got[("2026-01", "EasyDMARC")] == (0, 0.0)
    assert got[("2026-02", "EasyDMARC")] == (1, 0.25)
    assert got[("2026-02", "dmarcian")] == (0, 0.0)
    assert got[("2026-01", "dmarcian")] == (1, 0.25)


def test_domain_counts(result: Trend) -> None:
    table = result.tables["domain_counts"]
    assert table.to_dict("list") == {
        "label": ["2026-01", "2026-02"],
        "domains": [12, 11],
        "resolved": [10, 9],
        "unresolved": [2, 2],
        "messages": [1955, 1935],
    }


def test_snapshot_without_weights_left_out_of_volume(tmp_path: Path) -> None:
    write_snapshot(tmp_path, "2026-01", without_weights(SAMPLE))
    write_snapshot(tmp_path, "2026-02", later_sample())
    result = trend(tmp_path)
    assert set(result.tables["types_volume"]["label"]) == {"2026-02"}
    assert set(result.tables["types_domains"]["label"]) == {"2026-01", "2026-02"}
    assert any("2026-01: no message volumes" in note for note in result.notes)


def test_no_complete_snapshot_is_refused(tmp_path: Path) -> None:
    write_snapshot(tmp_path, "2026-01", SAMPLE, status="running")
    with pytest.raises(SnapshotError, match="no complete snapshot"):
        trend(tmp_path)
