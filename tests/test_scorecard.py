"""The watch-list scorecard (survey/report/scorecard.py, scorecard_out.py): every cell judged into
a closed state, failures shown as unresolved and unscanned domains as not scanned, never absent;
the tables and the grid written; the command end to end."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from matplotlib.image import imread
from snapshot_factory import SAMPLE, write_snapshot

from survey.cli.main import main
from survey.errors import InputError
from survey.report.scorecard import (
    CellState,
    WatchEntry,
    dkim_cell,
    dmarc_cell,
    dnssec_cell,
    read_watchlist,
    score,
    spf_cell,
)
from survey.report.scorecard_out import make_scorecard

S = CellState


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["domain"]: row for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("row", "state", "text"),
    [
        ({"dmarc_status": "valid", "dmarc_effective_p": "reject"}, S.OK, "p=reject"),
        ({"dmarc_status": "valid", "dmarc_effective_p": "quarantine"}, S.OK, "p=quarantine"),
        ({"dmarc_status": "valid", "dmarc_effective_p": "none"}, S.WARN, "p=none"),
        ({"dmarc_status": "invalid", "dmarc_effective_p": "none"}, S.WARN, "invalid, p=none"),
        ({"dmarc_status": "invalid", "dmarc_effective_p": None}, S.WARN, "invalid"),
        ({"dmarc_status": "absent"}, S.BAD, "none"),
        ({"dmarc_status": "error"}, S.UNRESOLVED, "unresolved"),
        ({}, S.NOT_MEASURED, ""),
    ],
)
def test_dmarc_cells(row, state, text) -> None:
    assert (dmarc_cell(row).state, dmarc_cell(row).text) == (state, text)


@pytest.mark.parametrize(
    ("row", "state"),
    [
        ({"spf_status": "valid", "spf_all": "-all"}, S.OK),
        ({"spf_status": "valid", "spf_all": "~all"}, S.OK),
        ({"spf_status": "valid", "spf_all": "redirect"}, S.OK),
        ({"spf_status": "valid", "spf_all": "+all"}, S.WARN),
        ({"spf_status": "valid", "spf_all": "none"}, S.WARN),
        ({"spf_status": "invalid"}, S.WARN),
        ({"spf_status": "absent"}, S.BAD),
        ({"spf_status": "error"}, S.UNRESOLVED),
        ({"dkim_status": "found", "dkim_selectors": ["s1", "s2"]}, S.OK),
    ],
)
def test_spf_and_dkim_cells(row, state) -> None:
    cell = dkim_cell(row) if "dkim_status" in row else spf_cell(row)
    assert cell.state is state


@pytest.mark.parametrize(
    ("status", "state"),
    [("found", S.OK), ("none_found", S.WARN), ("absent", S.BAD), ("error", S.UNRESOLVED),
     (None, S.NOT_MEASURED)],
)  # fmt: skip
def test_dkim_states(status, state) -> None:
    assert dkim_cell({"dkim_status": status}).state is state


@pytest.mark.parametrize(
    ("value", "state"),
    [("secure", S.OK), ("insecure", S.BAD), ("bogus", S.WARN), ("error", S.UNRESOLVED),
     (None, S.NOT_MEASURED)],
)  # fmt: skip
def test_dnssec_states(value, state) -> None:
    assert dnssec_cell({"dnssec": value}).state is state


def test_a_domain_missing_from_the_snapshot_is_not_scanned_in_every_cell() -> None:
    (scored,) = score([WatchEntry("gone.example", "", "gone.example")], {})
    assert {cell.state for cell in scored.cells.values()} == {S.NOT_SCANNED}


def test_the_watchlist_is_read_normalised_and_bad_rows_are_named(tmp_path: Path) -> None:
    path = tmp_path / "watch.csv"
    path.write_text("\ufeffdomain,group,name\nA.Example.,Banks,Bank A\nb.example,,\n")
    assert read_watchlist(path) == [
        WatchEntry("a.example", "Banks", "Bank A"),
        WatchEntry("b.example", "", "b.example"),
    ]
    path.write_text("domain\nnot a domain\n")
    with pytest.raises(InputError, match="line 2"):
        read_watchlist(path)
    path.write_text("name\nx\n")
    with pytest.raises(InputError, match="domain column"):
        read_watchlist(path)


@pytest.fixture
def watched(tmp_path: Path) -> tuple[Path, Path]:
    snapshot = write_snapshot(tmp_path / "snaps", "2026-11", SAMPLE)
    watch = tmp_path / "watch.csv"
    watch.write_text(
        "domain,group,name\na.example,Banks,=Bank A\ni.example,Banks,\nh.example,Telecom,H\n"
        "missing.example,Government,Gov\n"
    )
    return watch, snapshot


def test_tables_and_grid_from_a_snapshot(watched, tmp_path: Path) -> None:
    watch, snapshot = watched
    out = tmp_path / "card"
    files = make_scorecard(watch, snapshot, out, "ja", ("png", "svg"))
    assert {f.name for f in files} == {"scorecard.csv", "scorecard.md", "scorecard.png",
                                       "scorecard.svg"}  # fmt: skip
    rows = read_csv(out / "scorecard.csv")
    assert rows["a.example"]["dmarc_state"] == "ok" and rows["a.example"]["name"] == "'=Bank A"
    assert rows["i.example"]["dmarc_state"] == "unresolved"  # a failed lookup, not absent
    assert rows["h.example"]["dmarc_state"] == "bad"
    assert rows["missing.example"]["spf_state"] == "not_scanned"
    assert rows["a.example"]["dkim_state"] == "not_measured"  # not asked (null dkim_status)
    assert imread(out / "scorecard.png").shape[:2] == (1080, 1920)


def test_the_dkim_cell_reads_the_snapshots_dkim_columns(tmp_path: Path) -> None:
    signed = {"dkim_status": "found", "dkim_selectors": ["selector1", "selector2"]}
    rows = [{**SAMPLE[0], **signed}, {**SAMPLE[1], "dkim_status": "absent"}]
    rows.append({**SAMPLE[2], "dkim_status": "error"})
    snapshot = write_snapshot(tmp_path / "snaps", "2026-12", rows)
    watch = tmp_path / "watch.csv"
    watch.write_text("domain\n" + "".join(f"{row['domain']}\n" for row in rows))
    make_scorecard(watch, snapshot, tmp_path / "card", "en", ("png",))
    got = read_csv(tmp_path / "card" / "scorecard.csv")
    states = [got[row["domain"]]["dkim_state"] for row in rows]
    assert states == ["ok", "bad", "unresolved"]  # a failed lookup is never "none"


def test_missing_domains_are_checked_on_the_spot_when_a_checker_is_given(watched, tmp_path) -> None:
    watch, snapshot = watched
    asked: list[list[str]] = []

    def check(names: list[str]) -> list[dict]:
        asked.append(names)
        return [
            {"domain": n, "dmarc_status": "valid", "dmarc_effective_p": "reject"} for n in names
        ]

    make_scorecard(watch, snapshot, tmp_path / "card", check=check)
    assert asked == [["missing.example"]]
    rows = read_csv(tmp_path / "card" / "scorecard.csv")
    assert rows["missing.example"]["dmarc_state"] == "ok"


def test_many_domains_are_split_into_pages(tmp_path: Path) -> None:
    snapshot = write_snapshot(tmp_path / "snaps", "2026-11", SAMPLE)
    watch = tmp_path / "watch.csv"
    watch.write_text("domain\n" + "".join(f"d{i}.example\n" for i in range(45)))
    files = make_scorecard(watch, snapshot, tmp_path / "card", formats=("png",))
    assert sorted(f.name for f in files if f.suffix == ".png") == [
        "scorecard-2.png", "scorecard-3.png", "scorecard.png"]  # fmt: skip


def test_the_command(watched, tmp_path: Path, monkeypatch, capsys) -> None:
    watch, snapshot = watched
    out = tmp_path / "cmd"
    monkeypatch.setattr(sys, "argv", ["survey", "scorecard", str(watch), str(snapshot),
                                      "--out", str(out), "--format", "png"])  # fmt: skip
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code in (0, None)
    assert (out / "scorecard.png").exists() and "scorecard written" in capsys.readouterr().out
