"""The report's RFC 9989 tables (issue 12 point 4): the effective policy under RFC 9989 beside
RFC 7489's, the domains whose verdict or policy differs by reason, the use of np/psd/t.

Hand-made rows with a known reason each; then a lab scanned through Knot, whose tables (the
engine's, over the snapshot's parts) must equal the same tables of the generator's truth
(expected.parquet, computed by the generator independently of the parsers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from snapshot_factory import _row, write_snapshot
from test_engine import assert_same, engine_tables, reference
from test_tally import NAMING

from survey.dns.settings import ResolverSettings
from survey.report import tally
from survey.report.engine import Engine
from survey.report.tables import aggregate, snapshot_tables
from survey.report.tallies import part_files
from survey.scan.pipeline import ScanOptions, run_scan
from survey.store.snapshot import Snapshot

RFC9989_COLUMNS = ("status", "policy_domain", "org_domain", "effective_p", "np", "psd", "t")
RFC9989_COLUMNS += ("errors", "warnings")
NEW_TABLES = ("policy_effective_9989", "rfc_differences", "rfc9989_tags")


def _both(status: str, p: str | None, **fields: Any) -> dict[str, Any]:
    """The same verdict under both RFCs."""
    return {
        "dmarc_status": status,
        "dmarc_effective_p": p,
        "dmarc9989_status": status,
        "dmarc9989_effective_p": p,
        **fields,
    }


def _own(domain: str, rank: int, weight: int, **fields: Any) -> dict[str, Any]:
    """A row whose RFC 9989 policy and organizational domain are the domain itself (unless
    `fields` say otherwise)."""
    walk = {"dmarc9989_policy_domain": domain, "dmarc9989_org_domain": domain}
    return _row(domain, rank, weight, **{**walk, **fields})


ROWS = (
    # agree: no reason
    _own("same.example", 1, 10, **_both("valid", "reject")),
    _own("none.example", 2, 10, **_both("absent", None), dmarc9989_policy_domain=None),
    # pct=50 under RFC 7489 (a sample), gone under RFC 9989
    _own("pct.example", 3, 20, **_both("valid", "reject", dmarc_pct=50)),
    # t=y: reject applied as quarantine
    _own(
        "t.example",
        4,
        30,
        **{**_both("valid", "reject"), "dmarc9989_t": "y", "dmarc9989_effective_p": "quarantine"},
    ),
    # a PSD's record applies where RFC 7489 found none
    _own(
        "shop.co.example",
        5,
        40,
        **{
            **_both("absent", None),
            "dmarc9989_status": "valid",
            "dmarc9989_effective_p": "reject",
            "dmarc9989_psd": "y",
            "dmarc9989_np": "reject",
            "dmarc9989_policy_domain": "co.example",
        },
    ),
    # no p: invalid under RFC 7489, p=none under RFC 9989
    _own(
        "nop.example",
        6,
        50,
        dmarc_status="invalid",
        dmarc_errors=["p_missing"],
        dmarc9989_status="valid",
        dmarc9989_effective_p="none",
        dmarc9989_warnings=["p_missing"],
    ),
    # a record at an intermediate name: the walk's organizational domain is not the PSL's
    _own(
        "a.b.walk.example",
        7,
        60,
        **{
            **_both("absent", None),
            "org_domain": "walk.example",
            "dmarc9989_status": "valid",
            "dmarc9989_effective_p": "quarantine",
            "dmarc9989_psd": "n",
            "dmarc9989_policy_domain": "b.walk.example",
            "dmarc9989_org_domain": "b.walk.example",
        },
    ),
    # ri= removed: invalid under RFC 7489, valid under RFC 9989, the same policy
    _own("ri.example", 8, 70, **{**_both("valid", "none"), "dmarc_status": "invalid"}),
    # the walk failed: unresolved for the RFC 9989 tables, and for the comparison
    _own("fail.example", 9, 80, **{**_both("absent", None), "dmarc9989_status": "error"}),
)

EXPECTED_REASONS = {
    "psd_policy": 1,
    "missing_p": 1,
    "pct_t": 2,
    "tree_walk_org": 1,
    "other": 1,
}


def _counts(table: pd.DataFrame) -> dict[str, int]:
    key = table.columns[0]
    return dict(zip(table[key], table["count"].astype(int), strict=True))


def test_reasons_of_hand_made_rows(tmp_path: Path) -> None:
    snapshot = Snapshot.open(write_snapshot(tmp_path, "s", ROWS, chunk_size=4))
    got = engine_tables(snapshot, None, None, NAMING)
    assert_same(got, reference(snapshot, None, None, NAMING))  # engine == pandas reference
    domains = got["domains"]
    differences = domains["rfc_differences"]
    assert _counts(differences) == EXPECTED_REASONS
    assert differences.attrs["n"] == 8  # resolved under both: all but fail.example
    assert differences.attrs["unresolved"] == 1
    by_volume = _counts(got["volume"]["rfc_differences"])
    assert by_volume["pct_t"] == 20 + 30 and by_volume["psd_policy"] == 40
    effective = _counts(domains["policy_effective_9989"])
    # RFC 9989 applies a policy to every published row; t=y made one reject a quarantine
    assert effective == {"none": 2, "quarantine": 2, "reject": 3, "no_policy": 0}
    seventy = _counts(domains["policy_effective"])
    assert seventy["reject_pct"] == 1 and seventy["reject"] == 2
    tags = _counts(domains["rfc9989_tags"])
    assert tags == {"np": 1, "psd=y": 1, "psd=n": 1, "psd=u": 0, "t=y": 1, "t=n": 0}
    assert domains["rfc9989_tags"].attrs["n"] == 7


def test_parts_without_the_rfc9989_columns_read_as_nulls(tmp_path: Path) -> None:
    """A snapshot scanned before the columns were appended: the engine reads them as nulls,
    as the pandas reader does, so its report (and a trend through it) still works."""
    snapshot = Snapshot.open(write_snapshot(tmp_path, "old", ROWS, chunk_size=4))
    for part in part_files(snapshot):
        table = pq.read_table(part)
        pq.write_table(table.drop_columns(["dmarc9989_" + c for c in RFC9989_COLUMNS]), part)
    with Engine(part_files(snapshot)) as engine:
        got = snapshot_tables(aggregate(engine, None, None, None))
    assert got["domains"]["rfc_differences"].attrs["n"] == 0
    assert got["domains"]["policy_effective_9989"]["count"].sum() == 0
    assert got["domains"]["types"].attrs["total"] == len(ROWS)


#: Enough of the Knot lab to hold every RFC 9989 case of the generator (its cases repeat
#: through the list).
LAB_SHARE = 4_000


@pytest.fixture(scope="module")
def lab(knot_lab, tmp_path_factory: pytest.TempPathFactory) -> tuple[Snapshot, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("rfc-report")
    csv = knot_lab.first_domains(LAB_SHARE, folder)
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    run_scan(ScanOptions(csv, folder / "snapshots", "lab", settings))
    domains = set(pd.read_csv(csv)["domain"])
    truth = pd.read_parquet(knot_lab.expected)
    truth = truth[truth["domain"].isin(domains)].reset_index(drop=True)
    return Snapshot.open(folder / "snapshots" / "lab"), truth


def test_lab_tables_equal_the_generators_truth(lab: tuple[Snapshot, pd.DataFrame]) -> None:
    snapshot, truth = lab
    with Engine(part_files(snapshot)) as engine:
        got = snapshot_tables(aggregate(engine, None, None, None))
    assert len(truth) == got["domains"]["types"].attrs["total"] == LAB_SHARE
    frame = truth[[c for c in tally.REPORT_COLUMNS if c in truth.columns]]
    modes = tally.BY if tally.has_volume(frame) else ("domains",)
    for by in modes:
        for name in NEW_TABLES:
            expected = tally.TABLES[name](frame, by)
            assert _counts(got[by][name]) == _counts(expected), (by, name)
            assert got[by][name].attrs == expected.attrs, (by, name)
    domains = {name: _counts(got["domains"][name]) for name in NEW_TABLES}
    # the lab holds each reason, each tag and each policy (not a vacuous comparison)
    assert all(domains["rfc_differences"][key] > 0 for key in tally.DIFFERENCE_KEYS)
    assert all(domains["rfc9989_tags"][key] > 0 for key in ("np", "psd=y", "psd=n", "t=y"))
    assert all(domains["policy_effective_9989"][key] > 0 for key in ("none", "reject"))


def test_scorecard_shows_the_rfc9989_policy_beside_rfc7489s() -> None:
    from survey.report.scorecard import CHECKS, CellState, WatchEntry, score

    assert CHECKS[:2] == ("dmarc", "dmarc9989")
    rows = {
        "shop.co.example": ROWS[4],  # no record of its own: RFC 9989 finds the PSD's
        "t.example": ROWS[3],
        "fail.example": ROWS[8],
    }
    entries = [WatchEntry(domain, "", domain) for domain in rows]
    cells = {item.entry.domain: item.cells for item in score(entries, rows)}
    shop, testing, failed = cells["shop.co.example"], cells["t.example"], cells["fail.example"]
    assert (shop["dmarc"].state, shop["dmarc9989"].state) == (CellState.BAD, CellState.OK)
    assert shop["dmarc9989"].text == "p=reject"
    assert (testing["dmarc"].text, testing["dmarc9989"].text) == ("p=reject", "p=quarantine (t=y)")
    assert failed["dmarc9989"].state is CellState.UNRESOLVED
    assert failed["dmarc"].state is CellState.BAD


def test_report_and_trend_show_the_rfc9989_tables(tmp_path: Path) -> None:
    from survey.report.write import write_report, write_trend

    snapshots = tmp_path / "snapshots"
    write_snapshot(snapshots, "2026-05", ROWS, chunk_size=4)
    write_snapshot(snapshots, "2026-06", ROWS[:6], chunk_size=4)
    for lang, words in (("en", "RFC 9989 §4.10.1"), ("ja", "PSD のポリシー")):
        md = write_report(snapshots / "2026-06", tmp_path / f"r-{lang}", lang, naming=NAMING)
        text = md.read_text(encoding="utf-8")
        assert words in text
        for name in NEW_TABLES:
            assert (md.parent / "charts" / f"{name}_domains.png").is_file()
    trend = write_trend(snapshots, tmp_path / "trend", "en")
    assert (trend.parent / "tables" / "policy_effective_9989_domains.csv").is_file()
    shares = pd.read_csv(trend.parent / "tables" / "policy_effective_9989_domains.csv")
    reject = shares[shares["policy"] == "reject"].set_index("label")["count"]
    assert reject.to_dict() == {"2026-05": 3, "2026-06": 3}
