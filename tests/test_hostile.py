"""Hostile and broken records: the parsers never raise, and raw text never drives a reader.

Property-based (hypothesis): random bytes as they come off the wire (decoded with
surrogateescape, as the resolver does), and real records mutated; plus the named monsters of the
issue (64 KiB, NUL and control bytes, thousands of tags, repeated separators, enormous pct, odd
URI schemes). Every result is a verdict whose problems are stable codes of the code tables.
Escaping is checked through the real writers: rejects.csv, the report's CSV and report.md, and
`survey check`'s text.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snapshot_factory import SAMPLE, write_snapshot

from survey.dns.outcome import TxtAnswer
from survey.input.stream import read_domains
from survey.records.dmarc import DMARC_CODES, discover, parse_dmarc_record, report_uri_host
from survey.records.spf import SPF_CODES, discover_spf, parse_spf_record
from survey.report.write import write_report
from survey.scan.check import render_text
from survey.schema.codes import DmarcCode
from survey.schema.values import Outcome
from survey.verdict.classify import classify
from survey.verdict.policy import DomainLookups
from survey.verdict.psl import organizational_domain
from survey.verdict.vendors import VendorTable

CLASSIFY_CODES = {
    DmarcCode.DISCARDED_TEXT,
    DmarcCode.MULTIPLE_RECORDS,
    DmarcCode.REPORT_AUTH_UNRESOLVED,
    DmarcCode.RUA_UNAUTHORIZED,
    DmarcCode.RUF_UNAUTHORIZED,
}
DMARC_KNOWN = set(DMARC_CODES) | CLASSIFY_CODES
SPF_KNOWN = set(SPF_CODES)
VENDORS = VendorTable.load()

SEEDS_DMARC = (
    "v=DMARC1; p=reject; rua=mailto:a@rua.agari.com; ruf=mailto:f@b.example; pct=50",
    "v=DMARC1; p=none; sp=quarantine; adkim=s; aspf=r; fo=1; rf=afrf; ri=86400",
    "v=DMARC1;p=quarentena",
    "v=spf1 -all",
)
SEEDS_SPF = (
    "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.google.com ~all",
    "v=spf1 a mx exists:%{i}.%{h}._spf.example redirect=_spf.example",
    "v=spf1 -all exp=explain._spf.%{d}",
)
FRAGMENTS = (";", "=", " ", "\t", ",", "!", "\x00", "\x1b[31m", "\udcff", "%{", "}", "/",
             ":", "v=DMARC1", "v=spf1", "p=", "pct=", "rua=", "mailto:", "ip4:", "all")  # fmt: skip

wire_text = st.binary(max_size=600).map(lambda b: b.decode("utf-8", "surrogateescape"))
any_text = st.text(max_size=400) | wire_text


MAX_MUTANT = 70_000


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[str, ...]) -> str:
    """A real record with fragments inserted, slices deleted or repeated."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(text)))
        choice = draw(st.integers(0, 2))
        if choice == 0:
            text = text[:at] + draw(st.sampled_from(FRAGMENTS) | any_text) + text[at:]
        elif choice == 1:
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            text = text[:at] + text[at:] * draw(st.integers(2, 30))
        text = text[:MAX_MUTANT]  # repeats compound: keep each example about a TXT's size
    return text


MONSTERS = (
    "v=DMARC1; p=reject; rua=mailto:" + "a" * 65_536 + "@x.example",
    "v=spf1 " + "a" * 65_536,
    "v=DMARC1; p=none; " + "; ".join(f"t{i}={i}" for i in range(5000)),
    "v=spf1 " + " ".join(f"ip4:10.0.{i % 256}.{i // 256}" for i in range(5000)) + " -all",
    "v=DMARC1" + ";" * 20_000 + "p=reject",
    "v=spf1" + " " * 20_000 + "-all",
    "v=DMARC1; p=reject; pct=" + "9" * 5000,
    "v=DMARC1; p=reject; pct=-" + "1" * 400,
    "v=DMARC1; p=reject; rua=javascript:alert(1),file:///etc/passwd,data:text/html;base64,PHNj",
    "v=DMARC1; p=reject; rua=mailto:,mailto:@,mailto:a@[::1],http://[::1]:99999/x,ftp:",
    "v=DMARC1\x00; p=reject\x00",
    "v=DMARC1; p=\x1b]0;owned\x07reject",
    "v=spf1 include:\udcff\udcfe.example -all",
    "\udcff" * 1000,
    "",
)


def check_dmarc(text: str) -> None:
    record = parse_dmarc_record(text)
    assert record.text == text  # the raw evidence kept whole
    assert {p.code for p in (*record.errors, *record.warnings)} <= DMARC_KNOWN
    if not record.is_dmarc:
        assert record.errors  # a discarded text always says why
    found = discover([text, text[: len(text) // 2]])
    assert {p.code for p in (*found.errors, *found.warnings)} <= DMARC_KNOWN


def check_spf(text: str) -> None:
    record = parse_spf_record(text)
    assert {p.code for p in (*record.errors, *record.warnings)} <= SPF_KNOWN
    found = discover_spf([text])
    assert found.status in ("valid", "invalid", "absent")
    assert {p.code for p in (*found.errors, *found.warnings)} <= SPF_KNOWN


def check_verdict(dmarc_texts: tuple[str, ...], spf_texts: tuple[str, ...]) -> None:
    domain = "sub.hostile.example"
    lookups = DomainLookups(
        domain,
        organizational_domain(domain),
        TxtAnswer(f"_dmarc.{domain}", Outcome.OK, dmarc_texts),
        TxtAnswer(domain, Outcome.OK, spf_texts),
        TxtAnswer("_dmarc.hostile.example", Outcome.NXDOMAIN),
    )
    verdict = classify(lookups, organizational_domain, VENDORS)
    assert verdict.type in {"A", "B", "C", "D", "E", "F"}  # answered: never unresolved
    assert verdict.dmarc_status in ("valid", "invalid", "absent")
    assert set(verdict.dmarc_errors) | set(verdict.dmarc_warnings) <= DMARC_KNOWN
    assert set(verdict.spf_errors) | set(verdict.spf_warnings) <= SPF_KNOWN
    if verdict.dmarc_status == "invalid":
        assert verdict.dmarc_errors


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(any_text | mutated(SEEDS_DMARC))
def test_dmarc_parser_never_raises(text: str) -> None:
    check_dmarc(text)


@FAST
@given(any_text | mutated(SEEDS_SPF))
def test_spf_parser_never_raises(text: str) -> None:
    check_spf(text)


@FAST
@given(
    st.lists(any_text | mutated(SEEDS_DMARC), max_size=3).map(tuple),
    st.lists(any_text | mutated(SEEDS_SPF), max_size=3).map(tuple),
)
def test_classify_never_raises_and_speaks_in_codes(
    dmarc: tuple[str, ...], spf: tuple[str, ...]
) -> None:
    check_verdict(dmarc, spf)


@pytest.mark.parametrize("text", MONSTERS, ids=range(len(MONSTERS)))
def test_monster_records(text: str) -> None:
    check_dmarc(text)
    check_spf(text)
    check_verdict((text,), (text,))


# -- escaping through the real writers --------------------------------------------------------

FORMULAS = ('=HYPERLINK("http://evil.example")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)")
MARKUP = ("<script>alert(1)</script>", "[x](javascript:alert(1))", "a|b|c", "`x`", "\x1b[2J")


def csv_cells(folder: Path) -> list[str]:
    cells: list[str] = []
    for path in folder.rglob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            cells += [cell for row in csv.reader(handle) for cell in row]
    return cells


def test_rejects_csv_defuses_formulas(tmp_path: Path) -> None:
    source = tmp_path / "domains.txt"
    source.write_text("\n".join(["good.example", *FORMULAS, *MARKUP]) + "\n")
    with read_domains(source, rejects_to=tmp_path / "rejects.csv") as stream:
        list(stream)
    cells = csv_cells(tmp_path)
    assert len(cells) > len(FORMULAS)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]


def reachable_hosts(candidates: tuple[str, ...]) -> list[str]:
    """The hostile hosts the real parser lets through from a rua URI (others never reach a
    snapshot)."""
    hosts = (report_uri_host(f"mailto:d@{c}") for c in candidates)
    return [h for h in hosts if h]


HOSTILE_HOSTS = (
    "=cmd.example", "+cmd.example", "-2+3.example", "@sum.example", "x`y`.example",
    "a*b*.example", "_x_.example", "x<b>.example", "a|b.example", "[x](y).example",
)  # fmt: skip


def test_report_csv_and_markdown_are_escaped(tmp_path: Path) -> None:
    hostile = reachable_hosts(HOSTILE_HOSTS)
    assert {"=cmd.example", "+cmd.example", "-2+3.example"} <= set(hostile)
    rows = [
        {**row, "rua_hosts": [*row["rua_hosts"], *hostile], "rua_vendors": ["other"]}
        if row.get("dmarc_status") == "valid"
        else row
        for row in SAMPLE
    ]
    folder = write_snapshot(tmp_path / "snaps", "hostile", rows)
    out = write_report(folder, tmp_path / "report", formats=("svg",), top=5)
    markdown = Path(out).read_text(encoding="utf-8")
    assert "<b>" not in markdown and "`y`" not in markdown and "*b*" not in markdown
    cells = csv_cells(tmp_path / "report")
    assert any("cmd.example" in c for c in cells)  # the hostile names did reach the tables
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]


def test_check_output_has_no_terminal_escapes() -> None:
    domain = "evil.example"
    record = "v=DMARC1; p=reject; rua=mailto:a@\x1b[31mred.example\x1b]0;title\x07; x=\x00\x7f"
    lookups = DomainLookups(
        domain,
        domain,
        TxtAnswer(f"_dmarc.{domain}", Outcome.OK, (record, "\udcff\x9b2J")),
        TxtAnswer(domain, Outcome.OK, ("v=spf1 \x1b[2J -all",)),
    )
    from dataclasses import asdict

    text = render_text(asdict(classify(lookups, organizational_domain, VENDORS)))
    assert not any((ord(c) < 32 and c != "\n") or 127 <= ord(c) < 160 for c in text), text
    assert "\udcff" not in text
