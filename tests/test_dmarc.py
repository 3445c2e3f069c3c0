"""DMARC record parsing and policy discovery (RFC 7489 §6.3, §6.4, §6.6.3)."""

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.records.dmarc import (
    DMARC_CODES,
    DMARC_ERRORS,
    DMARC_WARNINGS,
    discover,
    parse_dmarc_record,
    report_uri_host,
)
from survey.records.problem import Problem

ADDR = "mailto:dmarc-feedback@example.com"
NO: frozenset[str] = frozenset()


def codes(problems: Iterable[Problem]) -> set[str]:
    return {problem.code for problem in problems}


# (record, expected error codes, expected warning codes): exact sets
VALID = [
    # RFC 7489 Appendix B.2 records
    (f"v=DMARC1; p=none; rua={ADDR}", NO, NO),
    (f"v=DMARC1; p=none; rua={ADDR}; ruf=mailto:auth-reports@thirdparty.example.net", NO, NO),
    (
        f"v=DMARC1; p=quarantine; rua={ADDR},mailto:tld-test@thirdparty.example.net!10m; pct=25",
        NO,
        NO,
    ),
    ("v=DMARC1; p=reject", NO, NO),
    ("v=DMARC1; p=reject;", NO, NO),
    ("v=DMARC1;p=reject;sp=none;adkim=s;aspf=r;fo=1;rf=afrf;ri=3600;pct=100", NO, NO),
    # ABNF strings are case-insensitive (RFC 5234 §2.3), tag names too; WSP around = and ;
    ("V = DMARC1 ; P = Reject ; SP=NONE; adkim=S; aspf=R; fo=0:1:D:s; rf=AFRF; pct=050;", NO, NO),
    ("v=DMARC1; p=none; fo=0 : 1 :d", NO, NO),
    ("v=DMARC1; p=none; rf=afrf :afrf", NO, NO),
    ("v=DMARC1; p=none; pct=0", NO, NO),
    ("v=DMARC1; p=none; ri=4294967295", NO, NO),
    ("v=DMARC1; p=none; ri=000004294967295", NO, NO),
    (f"v=DMARC1; p=none; rua={ADDR}!10M , mailto:b@example.net!5,mailto:c@example.org!1t", NO, NO),
    (f"v=DMARC1; p=none; rua={ADDR}!18446744073709551615k", NO, NO),  # the largest that fits
    (f"v=DMARC1; p=none; rua={ADDR}!00000000000000000000000018446744073709551615", NO, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com?subject=DMARC%20report", NO, NO),
    ("v=DMARC1; p=none; rua=mailto:%22john%20doe%22@example.com", NO, NO),
    ("v=DMARC1; p=none; rua=MAILTO:a@example.com", NO, NO),
    ("v=DMARC1; p=none; rua=https://reports.example.com/dmarc", NO, {"report_uri_not_mailto"}),
    ("v=DMARC1; p=none; ruf=https://r.example.com!50k", NO, {"report_uri_not_mailto"}),
    ("v=DMARC1; p=none; np=reject; psd=n; t=y", NO, {"unknown_tag"}),  # DMARCbis tags
    ("v=DMARC1; p=none; " + "; ".join(f"x{i}=y" for i in range(3000)), NO, {"unknown_tag"}),
]

MISTAKES = [
    ("v=DMARC1", {"p_missing"}, NO),  # the v tag only
    ("v=DMARC1;", {"p_missing"}, NO),
    (f"v=DMARC1; rua={ADDR}", {"p_missing"}, NO),
    ("v=DMARC1; p=monitor", {"p_invalid"}, NO),
    ("v=DMARC1; p=quarentena", {"p_invalid"}, NO),
    ("v=DMARC1; p=", {"p_invalid"}, NO),
    ("v=DMARC1; p=none\x00", {"p_invalid", "tag_syntax"}, NO),
    ("v=DMARC1; p:reject", {"tag_syntax", "p_missing"}, NO),  # ":" separator
    ("v=DMARC1; p reject", {"tag_syntax", "p_missing"}, NO),
    ("v=DMARC1; p=reject; pct:100", {"tag_syntax"}, NO),
    ("v=DMARC1;; p=none", {"tag_syntax"}, NO),
    ("v=DMARC1; p=none;;", {"tag_syntax"}, NO),
    ("v=DMARC1; p=none; 1x=y", {"tag_syntax"}, NO),
    (f"v=DMARC1; rua={ADDR}; p=none", {"p_not_second"}, NO),  # p after rua
    ("v=DMARC1; p=none; p=reject", {"duplicate_tag"}, NO),
    ("v=DMARC1; p=none; pct=150", {"pct_invalid"}, NO),
    ("v=DMARC1; p=none; pct=-1", {"pct_invalid"}, NO),
    ("v=DMARC1; p=none; pct=1.5", {"pct_invalid"}, NO),
    ("v=DMARC1; p=none; pct=0050", {"pct_invalid"}, NO),  # 1*3DIGIT
    ("v=DMARC1; p=none; pct=" + "9" * 5000, {"pct_invalid"}, NO),
    ("v=DMARC1; p=none; sp=monitor", {"sp_invalid"}, NO),
    ("v=DMARC1; p=none; adkim=relaxed", {"adkim_invalid"}, NO),
    ("v=DMARC1; p=none; aspf=x", {"aspf_invalid"}, NO),
    ("v=DMARC1; p=none; fo=2", {"fo_invalid"}, NO),
    ("v=DMARC1; p=none; fo=1,d", {"fo_invalid"}, NO),
    ("v=DMARC1; p=none; fo=", {"fo_invalid"}, NO),
    ("v=DMARC1; p=none; rf=iodef", {"rf_invalid"}, NO),  # not in the IANA registry
    ("v=DMARC1; p=none; rf=afrf: afrf", {"rf_invalid"}, NO),  # ABNF: no WSP after ":"
    ("v=DMARC1; p=none; rf=afrf,iodef", {"rf_invalid"}, NO),
    ("v=DMARC1; p=none; ri=-1", {"ri_invalid"}, NO),
    ("v=DMARC1; p=none; ri=1h", {"ri_invalid"}, NO),
    ("v=DMARC1; p=none; ri=4294967296", {"ri_invalid"}, NO),
    ("v=DMARC1; p=none; ri=" + "9" * 5000, {"ri_invalid"}, NO),
    ("v=DMARC1; p=none; ri=", {"ri_invalid"}, NO),  # §6.4 ri: 1*DIGIT
    ("v=DMARC1; p=none; ri= ", {"ri_invalid"}, NO),
    ("v=DMARC1; p=none; rua=dmarc@example.com", {"rua_invalid"}, NO),  # no mailto:
    ("v=DMARC1; p=none; rua=mailto:example.com", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com.", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a b@example.com", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com!10x", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com!", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com!10m!5", {"rua_invalid"}, NO),
    # §6.4: the numeric portion of a size MUST fit an unsigned 64-bit integer
    ("v=DMARC1; p=none; rua=mailto:a@example.com!18446744073709551616", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; ruf=mailto:a@example.com!99999999999999999999m", {"ruf_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com!" + "9" * 5000, {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=mailto:a@example.com,", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=", {"rua_invalid"}, NO),
    (f"v=DMARC1; p=none; rua={ADDR} {ADDR}", {"rua_invalid"}, NO),  # space, not comma
    ("v=DMARC1; p=none; rua=mailto:%FF@example.com", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; rua=https://bad host/", {"rua_invalid"}, NO),
    ("v=DMARC1; p=none; ruf=forensic@example.com", {"ruf_invalid"}, NO),
    (
        "v=DMARC1; p=none; rua=mailto:r\udce9@example.com",
        {"tag_syntax", "rua_invalid"},
        {"non_utf8"},
    ),
    ("v=DMARC1; p=none; x=\udcff", {"tag_syntax"}, {"non_utf8", "unknown_tag"}),
    (
        "v=DMARC1; rua=dmarc@example.com; p=monitor; pct=150; p=none",
        {"rua_invalid", "p_not_second", "p_invalid", "pct_invalid", "duplicate_tag"},
        NO,
    ),
]

# Texts §6.6.3 step 3 discards: exactly one problem each.
DISCARDED = [
    ("v=spf1 include:_spf.google.com ~all", "spf_at_dmarc"),  # SPF text at _dmarc
    ("V=SPF1 -all", "spf_at_dmarc"),
    ("google-site-verification=abc123", "not_dmarc"),
    ("", "not_dmarc"),
    ("\x00\udcff", "not_dmarc"),
    ("p=reject", "not_dmarc"),
    ("v:DMARC1; p=reject", "not_dmarc"),
    ("p=none; v=DMARC1", "v_not_first"),
    ("p=none; v = dmarc1", "v_not_first"),
    ("v=dmarc1; p=none", "v_invalid"),  # the value is case-sensitive
    ("v=DMARC2; p=none", "v_invalid"),
    ("v=DMARC1 p=none", "v_invalid"),  # missing separator
    ("v=DMARC1, p=none", "v_invalid"),
    ("v=DMARC1\udcff; p=none", "v_invalid"),
    ("v=; p=none", "v_invalid"),
    # §6.4: the record starts with "v"; §6.6.3: texts not starting with "v=" are discarded
    (" v=DMARC1; p=reject", "leading_whitespace"),
    ("\tv=DMARC1; p=none", "leading_whitespace"),
    ("\r\nv=DMARC1; p=none", "leading_whitespace"),
    ("  v=spf1 -all", "spf_at_dmarc"),
    (" v=dmarc1; p=none", "v_invalid"),
]

CLASSIFY_ONLY = {"rua_unauthorized", "ruf_unauthorized", "report_auth_unresolved"}
DISCOVERY_ONLY = {"multiple_records", "discarded_text"}


@pytest.mark.parametrize(("text", "errors", "warnings"), VALID + MISTAKES)
def test_problems(text: str, errors: set[str], warnings: set[str]) -> None:
    record = parse_dmarc_record(text)
    assert record.is_dmarc
    assert codes(record.errors) == errors
    assert codes(record.warnings) == warnings


@pytest.mark.parametrize(("text", "code"), DISCARDED)
def test_discarded_texts_carry_exactly_one_problem(text: str, code: str) -> None:
    record = parse_dmarc_record(text)
    assert not record.is_dmarc
    assert [problem.code for problem in record.errors] == [code]
    assert record.warnings == ()
    assert (record.p, record.pct, record.rua, record.policy(False)) == (None, None, (), None)


def test_code_tables() -> None:
    assert set(DMARC_ERRORS).isdisjoint(DMARC_WARNINGS)
    assert DMARC_CODES == DMARC_ERRORS | DMARC_WARNINGS
    assert all(meaning and "\n" not in meaning for meaning in DMARC_CODES.values())
    assert CLASSIFY_ONLY.issubset(DMARC_WARNINGS)


def test_every_code_is_exercised() -> None:
    seen = {code for _, errors, warnings in VALID + MISTAKES for code in errors | warnings}
    seen |= {code for _, code in DISCARDED} | DISCOVERY_ONLY
    assert seen == set(DMARC_CODES) - CLASSIFY_ONLY


def test_fields() -> None:
    record = parse_dmarc_record(
        "v=DMARC1; p=Reject; sp=NONE; pct=050; adkim=S; aspf=r; fo=0:D; rf=afrf; ri=3600; "
        f"rua={ADDR}!10m , https://r.example.net/x; ruf=bad; p=none"
    )
    assert (record.p, record.sp, record.pct, record.adkim, record.aspf) == (
        "reject",
        "none",
        50,
        "s",
        "r",
    )
    assert (record.fo, record.rf, record.ri) == ("0:D", "afrf", "3600")
    assert record.rua == (f"{ADDR}!10m", "https://r.example.net/x")
    assert record.valid_rua == record.rua
    assert (record.ruf, record.valid_ruf) == (("bad",), ())
    assert [tag.name for tag in record.tags][:3] == ["v", "p", "sp"]


def test_report_hosts_are_worked_out_once_with_the_record() -> None:
    record = parse_dmarc_record(
        "v=DMARC1; p=none; rua=mailto:a@Rua.Agari.COM,bad,mailto:b@rua.agari.com,"
        " https://r.example.net/x!10m, mailto:%61@example.org; ruf=mailto:x@; ri=1"
    )
    assert record.valid_rua == (
        "mailto:a@Rua.Agari.COM",
        "mailto:b@rua.agari.com",
        "https://r.example.net/x!10m",
        "mailto:%61@example.org",
    )
    assert record.rua_hosts == ("rua.agari.com", "r.example.net", "example.org")
    assert record.rua_hosts == tuple(dict.fromkeys(map(report_uri_host, record.valid_rua)))
    assert (record.valid_ruf, record.ruf_hosts) == ((), ())
    not_dmarc = parse_dmarc_record("v=spf1 -all")
    assert (not_dmarc.valid_rua, not_dmarc.rua_hosts) == ((), ())


@pytest.mark.parametrize(("text", "pct"), [("pct=25", 25), ("pct=150", None), ("pct=x", None)])
def test_pct_field(text: str, pct: int | None) -> None:
    assert parse_dmarc_record(f"v=DMARC1; p=none; {text}").pct == pct


@pytest.mark.parametrize(
    ("text", "at_domain", "at_organizational"),
    [
        ("v=DMARC1; p=reject", "reject", "reject"),
        ("v=DMARC1; P=Quarantine", "quarantine", "quarantine"),
        ("v=DMARC1; p=reject; sp=none", "reject", "none"),
        ("v=DMARC1; p=none; sp=reject; pct=150", "none", "reject"),
        (f"v=DMARC1; p=monitor; rua={ADDR}", "none", "none"),  # §6.6.3 step 6.1
        ("v=DMARC1; p=monitor", None, None),  # §6.6.3 step 6.2
        (f"v=DMARC1; p=reject; sp=bogus; rua={ADDR}", "none", "none"),
        ("v=DMARC1; p=reject; sp=bogus", None, None),
        (f"v=DMARC1; rua={ADDR}", "none", "none"),
        ("v=DMARC1", None, None),
        ("v=DMARC1; p=monitor; rua=dmarc@example.com", None, None),
        (f"v=DMARC1; p=monitor; rua=dmarc@example.com, {ADDR}", "none", "none"),
        (f"v=DMARC1; rua={ADDR}; p=reject", "reject", "reject"),  # order is not validity
        ("v=spf1 -all", None, None),
        ("v=dmarc1; p=reject", None, None),
    ],
)
def test_policy(text: str, at_domain: str | None, at_organizational: str | None) -> None:
    record = parse_dmarc_record(text)
    assert record.policy(from_organizational=False) == at_domain
    assert record.policy(from_organizational=True) == at_organizational


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("mailto:dmarc@Example.COM", "example.com"),
        ("mailto:a@example.com!10m", "example.com"),
        ("mailto:a@example.com?subject=x", "example.com"),
        ("mailto:%22a%40b%22@example.org", "example.org"),
        ("mailto:a@example.com%2Cb@example.net", "example.com"),
        ("https://Reports.Example.NET./dmarc", "reports.example.net"),
        ("http://user@host.example:8080/x", "host.example"),
        ("ftp://host.example/", None),
        ("https:no-authority", None),
        ("dmarc@example.com", None),
        ("mailto:", None),
        ("mailto:a@example.com!bad", None),
        ("", None),
    ],
)
def test_report_uri_host(uri: str, host: str | None) -> None:
    assert report_uri_host(uri) == host


DMARC = "v=DMARC1; p=none"


@pytest.mark.parametrize(
    ("texts", "applies", "errors", "warnings", "published"),
    [
        ([], None, NO, NO, False),
        ([DMARC], 0, NO, NO, True),
        ([DMARC, "google-site-verification=x"], 0, NO, {"discarded_text"}, True),
        (["v=spf1 -all", "v=DMARC1; p=monitor"], 1, NO, {"discarded_text"}, True),
        ([DMARC, "v=dmarc1; p=reject"], 0, NO, {"discarded_text"}, True),  # two records?
        ([DMARC, "v=DMARC1; p=reject"], None, {"multiple_records"}, NO, True),
        ([DMARC, DMARC, "v=spf1 -all"], None, {"multiple_records"}, NO, True),
        (["v=spf1 -all"], None, NO, NO, True),  # only discarded text: no record
        ([""], None, NO, NO, True),
    ],
)
def test_discover(
    texts: list[str], applies: int | None, errors: set[str], warnings: set[str], published: bool
) -> None:
    found = discover(texts)
    assert len(found.records) == len(texts)
    assert found.record is (None if applies is None else found.records[applies])
    assert (codes(found.errors), codes(found.warnings)) == (errors, warnings)
    assert found.published is published


def test_discarded_text_context_names_the_reason() -> None:
    found = discover([DMARC, "v=spf1 -all"])
    assert found.warnings == (Problem("discarded_text", "spf_at_dmarc: 'v=spf1 -all'"),)


def test_problem_contexts_name_the_tag() -> None:
    record = parse_dmarc_record("v=DMARC1; p=monitor; rua=dmarc@example.com; zz=1")
    assert [str(problem) for problem in record.errors + record.warnings] == [
        "p_invalid (p=monitor)",
        "rua_invalid ('dmarc@example.com': not a URI: no scheme)",
        "unknown_tag (tag 'zz')",
    ]


FRAGMENTS = ["v=DMARC1", "v", "=", ";", " ", "p", "none", "rua", "mailto:", "@", "a.b", "!", "10m"]
FRAGMENTS += [",", "%", "%2", "\x00", "\udcff", "é", "pct", "999", "ri", "fo", "0:d", "rf", ":"]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(exclude_categories=())),
        st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
    )
)
def test_never_raises(text: str) -> None:
    record = parse_dmarc_record(text)
    assert all(problem.code in DMARC_CODES for problem in record.errors + record.warnings)
    assert set(codes(record.errors)) <= set(DMARC_ERRORS)
    for problem in record.errors + record.warnings:
        problem.context.encode("utf-8")  # contexts stay storable, whatever the text held
    for uri in record.rua:
        report_uri_host(uri)
    discover([text, text])
