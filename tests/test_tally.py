"""Every table of the sample snapshot, checked number by number, by domains and by volume."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from snapshot_factory import SAMPLE, without_weights, write_snapshot

from survey.report import tally
from survey.store.snapshot import Snapshot

# (key, count) rows, n, unresolved (same unit), unresolved domains — worked out by hand from SAMPLE.
EXPECTED: dict[tuple[str, str], tuple[list[tuple[str, int]], int, int, int]] = {
    ("types", "domains"): (
        [("A", 3), ("B", 2), ("C", 1), ("D", 1), ("E", 2), ("F", 1)], 10, 2, 2,
    ),
    ("types", "volume"): (
        [("A", 1500), ("B", 200), ("C", 100), ("D", 50), ("E", 70), ("F", 20)], 1940, 15, 2,
    ),
    ("dmarc_status", "domains"): ([("valid", 5), ("invalid", 3), ("absent", 3)], 11, 1, 1),
    ("dmarc_status", "volume"): ([("valid", 1605), ("invalid", 250), ("absent", 90)], 1945, 10, 1),
    ("spf_status", "domains"): (
        [("valid", 6), ("invalid", 1), ("multiple", 1), ("absent", 3)], 11, 1, 1,
    ),
    ("spf_status", "volume"): (
        [("valid", 1740), ("invalid", 0), ("multiple", 40), ("absent", 170)], 1950, 5, 1,
    ),
    ("policy_p", "domains"): (
        [("none", 1), ("quarantine", 1), ("reject", 4), ("invalid", 1), ("missing", 1)], 8, 1, 1,
    ),
    ("policy_p", "volume"): (
        [("none", 100), ("quarantine", 500), ("reject", 1005), ("invalid", 200), ("missing", 50)],
        1855, 10, 1,
    ),
    ("policy_sp", "domains"): (
        [("none", 1), ("quarantine", 0), ("reject", 1), ("invalid", 1), ("unset", 5)], 8, 1, 1,
    ),
    ("policy_sp", "volume"): (
        [("none", 0), ("quarantine", 0), ("reject", 500), ("invalid", 200), ("unset", 1155)],
        1855, 10, 1,
    ),
    ("policy_effective", "domains"): (
        [("none", 2), ("quarantine_pct", 1), ("quarantine", 0), ("reject_pct", 1), ("reject", 3),
         ("no_policy", 1)], 8, 1, 1,
    ),
    ("policy_effective", "volume"): (
        [("none", 300), ("quarantine_pct", 500), ("quarantine", 0), ("reject_pct", 5),
         ("reject", 1000), ("no_policy", 50)], 1855, 10, 1,
    ),
    ("report_types", "domains"): ([("A", 1), ("B", 3), ("C", 1), ("D", 2)], 7, 1, 1),
    ("report_types", "volume"): ([("A", 1000), ("B", 700), ("C", 5), ("D", 100)], 1805, 10, 1),
    ("rua_vendors", "domains"): (
        [("other", 2), ("self", 2), ("Agari", 1), ("dmarcian", 1)], 4, 1, 1,
    ),
    ("rua_vendors", "volume"): (
        [("Agari", 1000), ("self", 1000), ("dmarcian", 500), ("other", 200)], 1700, 10, 1,
    ),
    ("ruf_vendors", "domains"): ([("Agari", 1), ("Valimail", 1)], 2, 1, 1),
    ("ruf_vendors", "volume"): ([("Agari", 1000), ("Valimail", 5)], 1005, 10, 1),
    ("spf_all", "domains"): (
        [("-all", 2), ("~all", 2), ("?all", 1), ("+all", 1), ("redirect", 1), ("none", 0)], 7, 1, 1,
    ),
    ("spf_all", "volume"): (
        [("-all", 1000), ("~all", 700), ("?all", 10), ("+all", 30), ("redirect", 0), ("none", 0)],
        1740, 5, 1,
    ),
    ("rua_other", "domains"): ([("newvendor.io", 2), ("other.co.uk", 1)], 4, 1, 1),
    ("rua_other", "volume"): ([("newvendor.io", 200), ("other.co.uk", 0)], 1700, 10, 1),
    ("ruf_other", "domains"): ([], 2, 1, 1),
}  # fmt: skip

KNOWN = {"agari.com": "Agari", "dmarcian.com": "dmarcian", "valimail.com": "Valimail"}


def registrable(host: str) -> str:
    """A two-line stand-in for the public suffix list, enough for the sample's hosts."""
    labels = host.split(".")
    return ".".join(labels[-3:] if host.endswith(".co.uk") else labels[-2:])


def vendor_of(host: str, policy_org: str) -> str:
    org = registrable(host)
    return KNOWN.get(org) or ("self" if org == policy_org else "other")


NAMING = tally.HostNaming(vendor_of, registrable)


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    folder = write_snapshot(tmp_path_factory.mktemp("snaps"), "2026-01")
    return tally.read_frame(Snapshot.open(folder))


def tables(frame: pd.DataFrame, by: tally.By) -> dict[str, pd.DataFrame]:
    return tally.snapshot_tables(frame, by, naming=NAMING)


@pytest.mark.parametrize(("name", "by"), sorted(EXPECTED))
def test_table_numbers(frame: pd.DataFrame, name: str, by: tally.By) -> None:
    rows, n, unresolved, unresolved_domains = EXPECTED[(name, by)]
    table = tables(frame, by)[name]
    assert list(zip(table.iloc[:, 0], table["count"], strict=True)) == rows
    assert table.attrs["n"] == n
    assert table.attrs["unresolved"] == unresolved
    assert table.attrs["unresolved_domains"] == unresolved_domains
    assert table.attrs["by"] == by
    assert table["share"].tolist() == [count / n for _, count in rows]


def test_every_table_has_stable_columns(frame: pd.DataFrame) -> None:
    for by in tally.BY:
        for name, table in tables(frame, by).items():
            assert list(table.columns[-2:]) == ["count", "share"] or name.endswith("problems")
            assert {"n", "unresolved", "unresolved_domains", "total", "by"} <= set(table.attrs)


def test_unresolved_left_out_of_shares(frame: pd.DataFrame) -> None:
    table = tally.types(frame)
    assert table["count"].sum() == table.attrs["n"] == 10
    assert table.attrs["total"] == 12
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc[table["type"] == "A", "share"].item() == 0.3


def test_vendor_shares_may_sum_past_one(frame: pd.DataFrame) -> None:
    assert tally.vendors(frame, "rua")["share"].sum() == 1.5


PROBLEMS = {
    ("dmarc", "domains"): (
        [("multiple_records", "error", 1, "e.example"), ("p_invalid", "error", 1, "c.example"),
         ("rua_invalid", "error", 1, "l.example"), ("sp_invalid", "error", 1, "c.example"),
         ("unknown_tag", "warning", 2, "b.example")], 8,
    ),
    ("dmarc", "volume"): (
        [("p_invalid", "error", 200, "c.example"), ("sp_invalid", "error", 200, "c.example"),
         ("multiple_records", "error", 50, "e.example"), ("rua_invalid", "error", 0, "l.example"),
         ("unknown_tag", "warning", 500, "b.example")], 1855,
    ),
    ("spf", "domains"): (
        [("mechanism_syntax", "error", 1, "l.example"),
         ("multiple_records", "error", 1, "f.example"), ("plus_all", "warning", 1, "g.example")], 8,
    ),
    ("spf", "volume"): (
        [("multiple_records", "error", 40, "f.example"),
         ("mechanism_syntax", "error", 0, "l.example"),
         ("plus_all", "warning", 30, "g.example")], 1780,
    ),
}  # fmt: skip


@pytest.mark.parametrize(("record", "by"), sorted(PROBLEMS))
def test_problems_with_first_example(
    frame: pd.DataFrame, record: tally.RecordKind, by: tally.By
) -> None:
    rows, n = PROBLEMS[(record, by)]
    table = tally.problems(frame, record, by)
    columns = ["code", "kind", "count", "example_domain"]
    assert [tuple(r) for r in table[columns].itertuples(index=False)] == rows
    assert table.attrs["n"] == n
    by_domain = {row["domain"]: row for row in SAMPLE}
    for domain, text in zip(table["example_domain"], table["example_record"], strict=True):
        assert text == by_domain[domain][f"{record}_record"]


TOP = [
    # top, top_by, by, counts A-F, n, unresolved
    (3, "rank", "domains", [2, 1, 0, 0, 0, 0], 3, 0),
    (3, "rank", "volume", [1500, 200, 0, 0, 0, 0], 1700, 0),
    (9, "rank", "domains", [2, 2, 1, 1, 1, 1], 8, 1),  # g.example has no rank
    (4, "volume", "domains", [2, 1, 1, 0, 0, 0], 4, 0),
    (4, "volume", "volume", [1500, 200, 100, 0, 0, 0], 1800, 0),
    (12, "volume", "domains", [3, 2, 1, 1, 2, 1], 10, 2),
]


@pytest.mark.parametrize(("top", "top_by", "by", "counts", "n", "unresolved"), TOP)
def test_top_cut(
    frame: pd.DataFrame,
    top: int,
    top_by: tally.TopBy,
    by: tally.By,
    counts: list[int],
    n: int,
    unresolved: int,
) -> None:
    table = tally.snapshot_tables(frame, by, top=top, top_by=top_by)["types_top"]
    assert table["count"].tolist() == counts
    assert (table.attrs["n"], table.attrs["unresolved_domains"]) == (n, unresolved)
    assert (table.attrs["top"], table.attrs["top_by"]) == (top, top_by)


def test_top_by_volume_is_deterministic_on_ties(frame: pd.DataFrame) -> None:
    tied = frame.assign(weight=1)
    assert tally.top_domains(tied, 3, "volume")["domain"].tolist() == [
        "a.example",
        "b.example",
        "c.example",
    ]


def test_volume_needs_weights(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path, "no-weights", without_weights(SAMPLE))
    unweighted = tally.read_frame(Snapshot.open(folder))
    assert not tally.has_volume(unweighted)
    assert tally.types(unweighted)["count"].sum() == 10
    with pytest.raises(ValueError, match="no weights"):
        tally.types(unweighted, "volume")


def test_read_frame_projects_columns(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path, "cols")
    frame = tally.read_frame(Snapshot.open(folder), tally.TREND_COLUMNS)
    assert tuple(frame.columns) == tally.TREND_COLUMNS
