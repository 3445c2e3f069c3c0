"""verdicts_to_table: scan's verdicts as the Arrow columns of a snapshot part (no DNS)."""

from __future__ import annotations

import datetime as dt

from survey.dns.outcome import TxtAnswer
from survey.scan.scanner import verdicts_to_table
from survey.schema.values import Outcome
from survey.store.snapshot import SCHEMA
from survey.verdict import psl
from survey.verdict.classify import classify
from survey.verdict.policy import DomainLookups
from survey.verdict.row import VERDICT_FIELDS
from survey.verdict.vendors import VendorTable

AT = dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC)


def verdict(domain: str, dmarc: tuple[str, ...], spf: tuple[str, ...], rank: int | None):
    org = psl.organizational_domain(domain)
    lookups = DomainLookups(
        domain,
        org,
        TxtAnswer(f"_dmarc.{domain}", Outcome.OK if dmarc else Outcome.NXDOMAIN, dmarc),
        TxtAnswer(domain, Outcome.OK if spf else Outcome.NODATA, spf),
    )
    return classify(lookups, psl.organizational_domain, VendorTable.load(), rank, None)


def test_one_row_per_verdict_with_every_column() -> None:
    verdicts = [
        verdict("example.com", ("v=DMARC1; p=reject; rua=mailto:a@rua.agari.com",), (), 1),
        verdict("example.org", (), ("v=spf1 -all", "v=spf1 ~all"), None),
    ]
    table = verdicts_to_table(verdicts, AT)
    assert table.schema == SCHEMA
    rows = table.to_pylist()
    for row, v in zip(rows, verdicts, strict=True):
        for name in VERDICT_FIELDS:
            value = getattr(v, name)
            assert row[name] == (list(value) if isinstance(value, tuple) else value), name
    assert [row["scanned_at"] for row in rows] == [AT, AT]
    assert rows[0]["rua_vendors"] == ["Agari"] and rows[1]["spf_errors"] == ["multiple_records"]


def test_no_verdicts_no_rows() -> None:
    table = verdicts_to_table(iter(()), AT)
    assert table.num_rows == 0 and table.schema == SCHEMA
