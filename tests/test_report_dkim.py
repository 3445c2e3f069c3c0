"""The DKIM tables of `survey report` (survey/report/dkim.py): out of core on DuckDB and over
pandas they agree, and they count what the lab's generator wrote (its cases, not its expected
columns alone)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from survey.lab.generate import generate_lab
from survey.report import dkim
from survey.report.charts import category_label, title_of
from survey.report.write import write_report, write_trend
from survey.store.snapshot import Snapshot
from tests.snapshot_factory import write_snapshot


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_lab(3000, tmp_path_factory.mktemp("dkim-lab"), seed=5).out_dir


def truth_rows(lab: Path) -> list[dict]:
    """The generator's expected rows, with the lab's message volumes."""
    weights = pd.read_csv(lab / "domains.csv").set_index("domain")["messages"]
    return [
        {**row, "weight": int(weights[row["domain"]])}
        for row in pq.read_table(lab / "expected.parquet").to_pylist()
    ]


@pytest.fixture(scope="module")
def truth_snapshot(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's expected rows as a snapshot, and a few rows of our own: unresolved, and
    not asked."""
    rows = truth_rows(lab)
    rows += [
        {"domain": "failed.test", "weight": 5, "type": "E", "dkim_status": "error"},
        {"domain": "unasked.test", "weight": 7, "type": "F", "dkim_status": None},
        {"domain": "both.test", "weight": 11, "type": None, "dkim_status": "found",
         "dkim_key_types": ["rsa"], "dkim_key_bits": [2048], "dkim_selectors": ["s1"]},
    ]  # fmt: skip
    return write_snapshot(tmp_path_factory.mktemp("snap"), "dkim", rows, chunk_size=700)


@pytest.fixture(scope="module")
def tables(truth_snapshot: Path) -> dkim.Tables:
    return dkim.snapshot_tables(Snapshot.open(truth_snapshot))


def counts(table: pd.DataFrame) -> dict[str, int]:
    return dict(zip(table.iloc[:, 0], table["count"], strict=True))


def test_duckdb_and_pandas_agree(truth_snapshot: Path, tables: dkim.Tables) -> None:
    frame = Snapshot.open(truth_snapshot).to_pandas(list(dkim.DKIM_COLUMNS))
    assert set(tables) == {"domains", "volume"}
    for by in ("domains", "volume"):
        reference = dkim.reference_tables(frame, by)
        assert list(reference) == list(tables[by]) == list(dkim.TABLE_NAMES)
        for name, table in tables[by].items():
            pd.testing.assert_frame_equal(table, reference[name], obj=f"{name} by {by}")
            assert table.attrs == reference[name].attrs, (name, by)


def test_the_tables_count_the_generators_cases(lab: Path, tables: dkim.Tables) -> None:
    cases = Counter(pq.read_table(lab / "cases.parquet")["dkim_case"].to_pylist())
    by_domains = tables["domains"]
    adoption = counts(by_domains["dkim_adoption"])
    assert adoption["absent"] == cases["absent"] + cases[None]  # None: a name that must not exist
    none_found = ("unlisted", "not_a_key", "wildcard")
    assert adoption["none_found"] == sum(cases[c] for c in none_found)
    assert (
        adoption["found"] == sum(cases.values()) - adoption["absent"] - adoption["none_found"] + 1
    )
    attrs = by_domains["dkim_adoption"].attrs
    assert (attrs["unresolved"], attrs["total"]) == (1, sum(cases.values()) + 3)
    states = counts(by_domains["dkim_key_states"])
    assert (states["revoked"], states["testing"]) == (cases["revoked"], cases["testing"])
    bits = counts(by_domains["dkim_rsa_bits"])
    assert (bits["512"], bits["4096"]) == (cases["rsa512"], cases["rsa4096"])
    assert counts(by_domains["dkim_key_types"])["ed25519"] == cases["ed25519_dual"]
    providers = counts(by_domains["dkim_providers"])
    assert providers["Microsoft 365"] == cases["m365"]
    assert providers["Mailchimp"] == cases["mailchimp"]
    assert providers["SendGrid"] == cases["sendgrid"]
    generic = ("rsa2048", "rsa1024_pkcs1", "rsa4096", "rsa512", "ed25519_dual", "revoked")
    generic += ("malformed", "wildcard_with_key", "multiple", "legacy_policy")
    assert providers["none"] == sum(cases[c] for c in generic) + 1  # both.test names none
    assert providers["Amazon SES"] == cases["amazonses"]
    assert providers["Google Workspace"] == cases["google"] + cases["testing"]
    problems = by_domains["dkim_problems"].set_index("code")
    assert problems.loc["wildcard_domainkey", "count"] == (
        cases["wildcard"] + cases["wildcard_with_key"]
    )
    assert problems.loc["rsa_under_1024", "kind"] == "error"
    assert problems.loc["rsa_under_1024", "count"] == cases["rsa512"]


def test_the_dmarc_spf_dkim_table_splits_every_type(lab: Path, tables: dkim.Tables) -> None:
    expected = pq.read_table(lab / "expected.parquet", columns=["type", "dkim_status"])
    pairs = Counter(f"{t}/{s}" for t, s in zip(*expected.to_pydict().values(), strict=True))
    pairs["F/found"] += 0  # the three rows of our own: error, not asked, unresolved type
    table = tables["domains"]["dkim_by_type"]
    assert counts(table) == {key: pairs.get(key, 0) for key in dkim.BY_TYPE_KEYS}
    assert table.attrs["unresolved_domains"] == 2  # failed.test (DKIM), both.test (type)
    assert table["share"].sum() == pytest.approx(1.0)


def test_a_snapshot_without_dkim_has_no_dkim_tables(tmp_path: Path) -> None:
    folder = write_snapshot(tmp_path, "old")  # the sample: no DKIM column set
    assert dkim.snapshot_tables(Snapshot.open(folder)) == {}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_report_shows_the_dkim_tables(truth_snapshot: Path, tmp_path: Path, lang: str) -> None:
    report = write_report(truth_snapshot, tmp_path / lang, lang=lang, formats=("svg",))
    text = report.read_text(encoding="utf-8")
    for name in dkim.TABLE_NAMES:
        assert f"## {title_of(name, {}, lang)}" in text
        for by in ("domains", "volume"):
            assert (tmp_path / lang / "tables" / f"{name}_{by}.csv").is_file()
            assert (tmp_path / lang / "charts" / f"{name}_{by}.svg").is_file()
    adoption = pd.read_csv(tmp_path / lang / "tables" / "dkim_adoption_domains.csv")
    assert list(adoption["dkim_status"]) == ["found", "none_found", "absent"]
    assert category_label("dkim_by_type", "A/found", lang).startswith("A · ")


def test_the_trend_follows_the_found_share_and_the_providers(lab: Path, tmp_path: Path) -> None:
    later = generate_lab(3000, tmp_path / "later-lab", seed=5, epoch=3).out_dir
    root = tmp_path / "snapshots"
    write_snapshot(root, "2026-01", truth_rows(lab), chunk_size=1000)
    write_snapshot(root, "2026-04", truth_rows(later), chunk_size=1000)
    unasked = [
        {k: v for k, v in row.items() if not k.startswith("dkim_")} for row in truth_rows(later)
    ]
    write_snapshot(root, "2026-05", unasked, chunk_size=1000)  # left out, with a note
    write_trend(root, tmp_path / "trend", formats=("svg",))
    found = pd.read_csv(tmp_path / "trend" / "tables" / "dkim_adoption_domains.csv")
    shares = found[found["dkim_status"] == "found"].set_index("label")["share"]
    assert list(shares.index) == ["2026-01", "2026-04"]
    assert shares["2026-04"] > shares["2026-01"]  # the lab's new adopters, month after month
    providers = pd.read_csv(tmp_path / "trend" / "tables" / "dkim_providers_domains.csv")
    assert {"Microsoft 365", "Google Workspace"} <= set(providers["provider"])
    text = (tmp_path / "trend" / "report.md").read_text(encoding="utf-8")
    assert "2026-05: no DKIM verdicts" in text
