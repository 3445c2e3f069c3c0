"""The SPF evaluation's report tables (survey/report/spf_tables.py): out of core over a real scan
of the Knot lab they are the tables of the generator's truth, and the pandas reference agrees."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from survey.dns.settings import ResolverSettings
from survey.report.engine import Engine
from survey.report.spf_tables import (
    COLUMNS,
    engine_tables,
    frame_tables,
    load_senders,
    sender_of,
)
from survey.scan.pipeline import ScanOptions, run_scan
from survey.store.snapshot import PARTS_DIR

N = 5_000


@pytest.fixture(scope="module")
def scanned(knot_lab, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A scan of the lab's first N domains, and the generator's truth about them."""
    folder = tmp_path_factory.mktemp("spf-report")
    source = knot_lab.first_domains(N, folder)
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=2.0, concurrency=200)
    summary = run_scan(ScanOptions(source, folder / "snapshots", "spf", settings))
    assert summary.status == "complete"
    weights = pd.read_csv(knot_lab.domains_csv)[["domain", "messages"]]
    truth = pq.read_table(knot_lab.folder / "expected.parquet").to_pandas()
    truth = truth.merge(weights, on="domain").rename(columns={"messages": "weight"})
    cases = pq.read_table(knot_lab.folder / "cases.parquet").to_pandas()[["domain", "spf_case"]]
    domains = pd.read_csv(source, header=0).iloc[:, 0]
    truth = truth[truth.domain.isin(set(domains))].merge(cases, on="domain")
    return summary.folder, truth


def engine_of(folder: Path) -> Engine:
    return Engine(sorted((folder / PARTS_DIR).glob("part-*.parquet")))


def assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for by, tables in want.items():
        for name, table in tables.items():
            pd.testing.assert_frame_equal(got[by][name], table, check_dtype=False)
            assert got[by][name].attrs == table.attrs, (by, name)


@pytest.mark.knot
def test_the_tables_of_a_scan_are_those_of_the_generators_truth(scanned) -> None:
    folder, truth = scanned
    senders = load_senders()
    with engine_of(folder) as engine:
        got = engine_tables(engine, senders)
    want = frame_tables(truth[list(COLUMNS)], senders)
    assert_same(got, want)
    lookups = want["domains"]["spf_lookups"].set_index("lookups")["count"]
    over = truth.spf_case.isin(("lookups_over_10", "lookups_23")).sum()
    assert lookups[">10"] == over > 0  # the cases built over the limit, and no other
    results = want["domains"]["spf_results"].set_index("result")["count"]
    assert results["too_many_lookups"] == over
    assert results["include_loop"] == truth.spf_case.eq("include_loop").sum() > 0
    senders_table = want["domains"]["spf_senders"].set_index("sender")["count"]
    google = truth.spf_includes.map(lambda n: n is not None and "_spf.google.com" in list(n)).sum()
    assert senders_table["Google Workspace"] == google > 0


@pytest.mark.knot
def test_the_engine_agrees_with_the_reference_on_the_snapshot(scanned) -> None:
    folder, _ = scanned
    senders = load_senders()
    frame = pq.read_table(folder / PARTS_DIR, columns=list(COLUMNS)).to_pandas()
    with engine_of(folder) as engine:
        assert_same(engine_tables(engine, senders), frame_tables(frame, senders))


def test_unresolved_rows_are_out_of_the_base() -> None:
    frame = pd.DataFrame(
        {
            "spf_lookups": [3, 12, 1, None, None],
            "spf_result": ["ok", "permerror", "temperror", "permerror", None],
            "spf_result_reason": [None, "too_many_lookups", None, "multiple_records", None],
            "spf_includes": [["_spf.google.com"], ["sendgrid.net", "x.example"], ["a"], None, None],
            "weight": [10, 5, 7, None, 2],
        }
    )
    tables = frame_tables(frame, load_senders())
    lookups = tables["domains"]["spf_lookups"]
    assert lookups.set_index("lookups")["count"].to_dict() | {} == {
        **dict.fromkeys([str(n) for n in range(11)], 0), "3": 1, ">10": 1}  # fmt: skip
    assert lookups.attrs == {"by": "domains", "n": 2, "unresolved": 1,
                             "unresolved_domains": 1, "total": 5}  # fmt: skip
    results = tables["volume"]["spf_results"].set_index("result")["count"]
    assert (results["ok"], results["too_many_lookups"], results["multiple_records"]) == (10, 5, 0)
    senders = tables["domains"]["spf_senders"]
    assert list(senders.sender) == ["Google Workspace", "SendGrid"]
    assert list(senders.share) == [1 / 3, 1 / 3]


def test_a_sender_is_known_by_its_longest_suffix() -> None:
    senders = load_senders()
    assert sender_of("_netblocks3.google.com", senders) == "Google Workspace"
    assert sender_of("%{i}._spf.mta.salesforce.com", senders) == "Salesforce"
    assert sender_of("spf.protection.outlook.com.", senders) == "Microsoft 365"
    assert sender_of("example.com", senders) is None
