"""DMARC records judged by RFC 9989 (§4.7 tags, §4.8 grammar, §4.10.1 policy)."""

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.records.dmarc import parse_dmarc_record
from survey.records.dmarc9989 import (
    DMARC9989_CODES,
    DMARC9989_ERRORS,
    DMARC9989_WARNINGS,
    dmarc9989_of,
    parse_dmarc9989_record,
)
from survey.records.problem import Problem

ADDR = "mailto:dmarc-feedback@example.com"
NO: frozenset[str] = frozenset()


def codes(problems: Iterable[Problem]) -> set[str]:
    return {problem.code for problem in problems}


# (record, expected error codes, expected warning codes): exact sets
VALID = [
    (f"v=DMARC1; p=none; rua={ADDR}", NO, NO),
    ("v=DMARC1; p=reject; sp=quarantine; np=reject; psd=n; t=y", NO, NO),
    ("V = DMARC1; P=Reject; SP=NONE; NP=Quarantine; PSD=Y; T=N; adkim=S; aspf=r", NO, NO),
    ("v=DMARC1; psd=u; p=none;", NO, NO),
    (f"v=DMARC1; rua={ADDR}; p=none", NO, NO),  # only v must come first (§4.7 v)
    ("v=DMARC1; sp=reject; p=none", NO, NO),
    ("v=DMARC1", NO, {"p_missing"}),  # p is RECOMMENDED (§4.7 p)
    (f"v=DMARC1; rua={ADDR}", NO, {"p_missing"}),
    ("v=DMARC1; p=none; pct=50", NO, {"removed_tag"}),  # pct, rf, ri: removed, ignored
    ("v=DMARC1; p=none; pct=150; rf=iodef; ri=", NO, {"removed_tag"}),
    ("v=DMARC1; p=none; lang=en", NO, {"unknown_tag"}),
    (f"v=DMARC1; p=none; rua={ADDR}!10m", NO, {"obsolete_size"}),  # obs-dmarc-report-size
    (f"v=DMARC1; p=none; ruf={ADDR}!99999999999999999999999", NO, {"obsolete_size"}),
    ("v=DMARC1; p=none; rua=https://r.example.com/x", NO, {"report_uri_not_mailto"}),
    ("v=DMARC1; p=none; fo=0", NO, NO),
    ("v=DMARC1; p=none; fo=1:d:s", NO, NO),
    ("v=DMARC1; p=none; fo=d", NO, NO),
    ("v=DMARC1; p=none; fo=d:1:s", NO, NO),
    ("v=DMARC1; p=none; fo=S:D:0", NO, NO),
    ("v=DMARC1; p=none; x=\udcff", {"tag_syntax"}, {"non_utf8", "unknown_tag"}),
]

MISTAKES = [
    ("v=DMARC1; p=monitor", {"p_invalid"}, NO),
    ("v=DMARC1; p=", {"p_invalid"}, NO),
    ("v=DMARC1; p=none; sp=monitor", {"sp_invalid"}, NO),
    ("v=DMARC1; p=none; np=maybe", {"np_invalid"}, NO),
    ("v=DMARC1; p=none; psd=yes", {"psd_invalid"}, NO),
    ("v=DMARC1; p=none; t=1", {"t_invalid"}, NO),
    ("v=DMARC1; p=none; adkim=relaxed", {"adkim_invalid"}, NO),
    ("v=DMARC1; p=none; aspf=x", {"aspf_invalid"}, NO),
    ("v=DMARC1; p=none; fo=0:1", {"fo_invalid"}, NO),  # "0" and "1" are mutually exclusive
    ("v=DMARC1; p=none; fo=d:d", {"fo_invalid"}, NO),  # each at most once
    ("v=DMARC1; p=none; fo=2", {"fo_invalid"}, NO),
    ("v=DMARC1; p=none; fo=0 : d", {"fo_invalid"}, NO),  # dmarc-fo has no white space
    ("v=DMARC1; p=none; fo=", {"fo_invalid"}, NO),
    ("v=DMARC1; p=none; rua=dmarc@example.com", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com!10x", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; ruf=forensic@example.com", {"ruf_invalid"}, NO),
    ("v=DMARC1; p:reject", {"tag_syntax"}, {"p_missing"}),
    ("v=DMARC1; p=none; p=reject", {"duplicate_tag"}, NO),
    (
        "v=DMARC1; rua=dmarc@example.com; p=monitor; pct=150; t=x; p=none",
        {"rua_invalid", "p_invalid", "t_invalid", "duplicate_tag"},
        {"removed_tag"},
    ),
]

# Texts the walk discards (§4.10 step 2; §4.7 v): exactly one problem each.
DISCARDED = [
    ("v=spf1 include:_spf.google.com ~all", "spf_at_dmarc"),
    ("google-site-verification=abc123", "not_dmarc"),
    ("", "not_dmarc"),
    ("p=none; v=DMARC1", "v_not_first"),
    ("v=dmarc1; p=none", "v_invalid"),
    ("v=DMARC2; p=none", "v_invalid"),
    (" v=DMARC1; p=reject", "leading_whitespace"),  # §4.8: dmarc-record starts with "v"
]
#: Codes only the tree walk gives (tests/test_treewalk.py).
WALK_ONLY = {"multiple_records", "discarded_text", "walk_discarded"}


@pytest.mark.parametrize(("text", "errors", "warnings"), VALID + MISTAKES)
def test_problems(text: str, errors: set[str], warnings: set[str]) -> None:
    record = parse_dmarc9989_record(text)
    assert record.is_dmarc
    assert (codes(record.errors), codes(record.warnings)) == (errors, warnings)
    assert dmarc9989_of(parse_dmarc_record(text)) == record


@pytest.mark.parametrize(("text", "code"), DISCARDED)
def test_discarded_texts_carry_exactly_one_problem(text: str, code: str) -> None:
    record = parse_dmarc9989_record(text)
    assert not record.is_dmarc
    assert [problem.code for problem in record.errors] == [code]
    assert record.policy(subdomain=False, exists=True) is None


def test_code_tables() -> None:
    assert set(DMARC9989_ERRORS).isdisjoint(DMARC9989_WARNINGS)
    assert DMARC9989_CODES == DMARC9989_ERRORS | DMARC9989_WARNINGS
    seen = {code for _, errors, warnings in VALID + MISTAKES for code in errors | warnings}
    seen |= {code for _, code in DISCARDED} | WALK_ONLY
    assert seen == set(DMARC9989_CODES)


def test_fields_are_the_first_occurrence_lower_cased() -> None:
    record = parse_dmarc9989_record("v=DMARC1; P=Reject; NP=Quarantine; PSD=Y; T=N; p=none")
    assert (record.p, record.np, record.psd, record.t, record.sp) == (
        "reject",
        "quarantine",
        "y",
        "n",
        None,
    )
    assert record.stops_walk and record.psd_flag == "y"
    assert parse_dmarc9989_record("v=DMARC1; psd=x").psd_flag == "u"


ORG, SUB, GONE = "own", "existing subdomain", "non-existent subdomain"


@pytest.mark.parametrize(
    ("text", "policies"),
    [
        ("v=DMARC1; p=reject", ("reject", "reject", "reject")),
        ("v=DMARC1; p=reject; sp=none", ("reject", "none", "none")),  # np absent: sp (§4.7 np)
        ("v=DMARC1; p=reject; sp=none; np=quarantine", ("reject", "none", "quarantine")),
        ("v=DMARC1; p=none; np=reject", ("none", "none", "reject")),
        ("v=DMARC1; p=reject; t=y", ("quarantine", "quarantine", "quarantine")),
        ("v=DMARC1; p=quarantine; t=y", ("none", "none", "none")),
        ("v=DMARC1; p=none; t=y", ("none", "none", "none")),
        ("v=DMARC1; p=reject; sp=quarantine; np=reject; t=Y", ("quarantine", "none", "quarantine")),
        ("v=DMARC1; p=reject; t=maybe", ("reject", "reject", "reject")),  # bad t counts as n
        ("v=DMARC1", ("none", "none", "none")),  # §4.7: as if it held p=none
        ("v=DMARC1; sp=reject", ("none", "reject", "reject")),
        ("v=DMARC1; p:reject", ("none", "none", "none")),  # the bad part ignored (§4.8)
        ("v=DMARC1; p=reject; pct=0", ("reject", "reject", "reject")),  # pct is gone
        (f"v=DMARC1; p=monitor; rua={ADDR}", ("none", "none", "none")),  # §4.10.1
        ("v=DMARC1; p=monitor", (None, None, None)),
        (f"v=DMARC1; p=reject; np=bogus; rua={ADDR}", ("none", "none", "none")),
        ("v=DMARC1; p=reject; sp=bogus", (None, None, None)),
        ("v=DMARC1; p=reject; sp=bogus; rua=dmarc@example.com", (None, None, None)),
        ("v=spf1 -all", (None, None, None)),
    ],
)
def test_policy(text: str, policies: tuple[str | None, ...]) -> None:
    record = parse_dmarc9989_record(text)
    got = (
        record.policy(subdomain=False, exists=True),
        record.policy(subdomain=True, exists=True),
        record.policy(subdomain=True, exists=False),
    )
    assert got == policies, dict(zip((ORG, SUB, GONE), got, strict=True))


FRAGMENTS = ["v=DMARC1", "v", "=", ";", " ", "p", "none", "np", "psd", "t", "y", "n", "u", ":"]
FRAGMENTS += ["rua", "mailto:", "@", "a.b", "!", "10m", ",", "%", "\x00", "\udcff", "fo", "0:d"]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(exclude_categories=())),
        st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
    )
)
def test_never_raises(text: str) -> None:
    record = parse_dmarc9989_record(text)
    # from the RFC 7489 parser's record of the text, the very same judgment
    assert dmarc9989_of(parse_dmarc_record(text)) == record
    assert codes(record.errors) <= set(DMARC9989_ERRORS)
    assert codes(record.warnings) <= set(DMARC9989_WARNINGS)
    for problem in record.errors + record.warnings:
        problem.context.encode("utf-8")
    for subdomain, exists in ((False, True), (True, True), (True, False)):
        record.policy(subdomain, exists)
