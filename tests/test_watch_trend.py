"""A watch list over months (survey/report/watch_trend.py): the policy in the first and last
snapshot with an answer, when a domain reached p=reject, and not-scanned or unresolved months
never counted as a policy."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from matplotlib.image import imread
from snapshot_factory import SAMPLE, write_snapshot

from survey.cli.main import main
from survey.report.scorecard import WatchEntry
from survey.report.watch_trend import moves, watch_trend


def month(rows: dict[str, dict]) -> dict[str, dict]:
    return {d: {"domain": d, **r} for d, r in rows.items()}


ENTRIES = [WatchEntry(d, "", d) for d in ("up.example", "flat.example", "gap.example")]
VALID = "valid"


def test_moves_over_months() -> None:
    rows = {
        "2026-09": month({
            "up.example": {"dmarc_status": VALID, "dmarc_effective_p": "none"},
            "flat.example": {"dmarc_status": VALID, "dmarc_effective_p": "reject"},
            "gap.example": {"dmarc_status": "absent"},
        }),
        "2026-10": month({
            "up.example": {"dmarc_status": VALID, "dmarc_effective_p": "quarantine"},
            "flat.example": {"dmarc_status": VALID, "dmarc_effective_p": "reject"},
            "gap.example": {"dmarc_status": "error"},  # unresolved: not a policy
        }),
        "2026-11": month({
            "up.example": {"dmarc_status": VALID, "dmarc_effective_p": "reject"},
            "flat.example": {"dmarc_status": VALID, "dmarc_effective_p": "reject"},
        }),  # gap.example not scanned this month
    }  # fmt: skip
    up, flat, gap = moves(ENTRIES, rows)
    assert (up.first, up.last, up.reject_at) == ("none", "reject", "2026-11")
    assert (flat.first, flat.last, flat.reject_at) == ("reject", "reject", None)
    assert (gap.first, gap.last, gap.reject_at) == ("none", "none", None)


@pytest.fixture
def snapshots(tmp_path: Path) -> Path:
    root = tmp_path / "snaps"
    later = [dict(row) for row in SAMPLE]
    for row in later:
        if row["domain"] == "b.example":
            row.update(dmarc_p="reject", dmarc_effective_p="reject")
    write_snapshot(root, "2026-10", SAMPLE)
    write_snapshot(root, "2026-11", later)
    return root


def test_files_over_two_snapshots(snapshots: Path, tmp_path: Path) -> None:
    watch = tmp_path / "watch.csv"
    watch.write_text("domain,group,name\nb.example,Banks,Bank B\nmissing.example,,\n")
    files = watch_trend(snapshots, watch, tmp_path / "out", "ja", ("png",))
    names = {f.name for f in files}
    assert names == {"watchlist_trend.csv", "watchlist_moves.csv", "watchlist_moves.md",
                     "watchlist_dmarc.png"}  # fmt: skip
    with (tmp_path / "out" / "watchlist_moves.csv").open(encoding="utf-8", newline="") as handle:
        found = {row["domain"]: row for row in csv.DictReader(handle)}
    assert found["b.example"]["reject_at"] == "2026-11"
    assert found["b.example"]["first_policy"] == "quarantine"
    assert found["missing.example"]["first_policy"] == ""  # never scanned: no policy at all
    with (tmp_path / "out" / "watchlist_trend.csv").open(encoding="utf-8", newline="") as handle:
        history = list(csv.DictReader(handle))
    assert len(history) == 4 and {r["label"] for r in history} == {"2026-10", "2026-11"}
    assert imread(tmp_path / "out" / "watchlist_dmarc.png").shape[:2] == (1080, 1920)


def test_trend_takes_a_watchlist(snapshots: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    watch = tmp_path / "watch.csv"
    watch.write_text("domain\na.example\n")
    out = tmp_path / "trend"
    monkeypatch.setattr(sys, "argv", ["survey", "trend", str(snapshots), "--out", str(out),
                                      "--format", "png", "--watchlist", str(watch)])  # fmt: skip
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code in (0, None)
    assert (out / "watchlist" / "watchlist_moves.csv").exists()
