"""SPF record recognition, parsing and selection (RFC 7208 §4.5, §4.6, §5, §6, §7)."""

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.records.problem import Problem
from survey.records.spf import (
    SPF_CODES,
    SPF_ERRORS,
    SPF_WARNINGS,
    Term,
    discover_spf,
    is_spf,
    parse_spf_record,
)

NO: frozenset[str] = frozenset()


def codes(problems: Iterable[Problem]) -> set[str]:
    return {problem.code for problem in problems}


# (record, expected error codes, expected warning codes): exact sets
RFC_EXAMPLES = [
    # RFC 7208 Appendix A
    ("v=spf1 +all", NO, {"plus_all"}),
    ("v=spf1 a -all", NO, NO),
    ("v=spf1 a:example.org -all", NO, NO),
    ("v=spf1 mx -all", NO, NO),
    ("v=spf1 mx:example.org -all", NO, NO),
    ("v=spf1 mx mx:example.org -all", NO, NO),
    ("v=spf1 mx/30 mx:example.org/30 -all", NO, NO),
    ("v=spf1 ptr -all", NO, {"ptr_mechanism"}),
    ("v=spf1 ip4:192.0.2.128/28 -all", NO, NO),
    ("v=spf1 +mx a:colo.example.com/28 -all", NO, NO),
    ("v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.123 a -all", NO, NO),
    ("v=spf1 include:example.com include:example.net -all", NO, NO),
    ("v=spf1 redirect=_spf.example.com", NO, NO),
    ("v=spf1 mx -all exp=explain._spf.%{d}", NO, NO),
    ("v=spf1 -exists:%{ir}.sbl.example.org", NO, {"no_all"}),  # Appendix A.4
    # §7.1 cites this one as wrong: "%(" is not a macro, and "%" is no macro-literal
    ("v=spf1 -exists:%(ir).sbl.example.org", {"macro_syntax"}, {"no_all"}),
    # §7.4 macro examples
    ("v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all", NO, NO),
    ("v=spf1 exists:%{lr-}.lp._spf.%{d2} -all", NO, NO),
    ("v=spf1 exists:%{ir}.%{v}.%{l1r-}.lp._spf.%{d2} -all", NO, NO),
    ("v=spf1 include:%{d2}.trusted-domains.example.net -all", NO, NO),
    ("v=spf1 exists:%{d} -all", NO, NO),  # domain-end may be a macro-expand
    ("v=spf1 exists:%{D4R+.}.%%.%_.%-.example.com ?all", NO, NO),
]

VALID = [
    ("V=SPF1 MX -ALL", NO, NO),  # ABNF strings are case-insensitive
    ("v=spf1  mx   -all  ", NO, NO),  # several spaces, trailing spaces
    ("v=spf1 ip6:2001:db8::/32 ip6:::ffff:192.0.2.1 ip6:2001:DB8::1/128 ~all", NO, NO),
    ("v=spf1 ip4:0.0.0.0/0 ip4:255.255.255.255/32 -all", NO, NO),
    ("v=spf1 a//64 a/24//64 mx:example.org/0//0 a:example.org//128 -all", NO, NO),
    ("v=spf1 a:example.com. a:xn--p1ai.xn--p1ai a:x.y2k -all", NO, NO),
    ("v=spf1 include:example.com -all exp=explain.example.com", NO, NO),
    ("v=spf1 ?all", NO, NO),
    ("v=spf1 -all foo=bar", NO, {"unknown_modifier"}),
    ("v=spf1 -all x.y-z_1=%{d}", NO, {"unknown_modifier"}),
    ("v=spf1 -all empty=", NO, {"unknown_modifier"}),
    ("v=spf1", NO, {"no_all"}),
    (
        "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(40)) + " -all",
        NO,
        {"record_over_512"},
    ),
]

MISTAKES = [
    ("v=spf1 mx", NO, {"no_all"}),
    ("v=spf1 all", NO, {"plus_all"}),
    ("v=spf1 ~all -all", NO, {"terms_after_all"}),
    ("v=spf1 include:_spf.google.com ~all include:extra.example.com", NO, {"terms_after_all"}),
    ("v=spf1 -all redirect=_spf.example.com", NO, {"terms_after_all"}),
    ("v=spf1 redirect=_spf.example.com ~all", NO, {"terms_after_all"}),
    ("v=spf1 foo -all", {"unknown_term"}, NO),
    ("v=spf1 mx30 -all", {"unknown_term"}, NO),
    ("v=spf1 + -all", {"unknown_term"}, NO),
    ("v=spf1 -redirect=_spf.example.com", {"unknown_term"}, {"no_all"}),
    ("v=spf1 redirect:_spf.example.com", {"unknown_term"}, {"no_all"}),
    ("v=spf1 include=_spf.example.com -all", NO, {"unknown_modifier"}),  # ABNF: a modifier
    ("v=spf1 include -all", {"mechanism_syntax"}, NO),
    ("v=spf1 exists -all", {"mechanism_syntax"}, NO),
    ("v=spf1 include: -all", {"mechanism_syntax"}, NO),
    ("v=spf1 include.example.com -all", {"mechanism_syntax"}, NO),
    ("v=spf1 -all:example.com", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4:192.0.2.1/33 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4:192.0.2.0/024 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4:192.0.2.0/ -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4:192.0.2 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4:256.0.0.1 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4:192.0.2.01 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4:2001:db8::1 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip4 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip6:2001:db8::/129 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip6:192.0.2.1 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip6:fe80::1%eth0 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 ip6:2001:db8:::1 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 a:192.0.2.1 -all", {"mechanism_syntax"}, NO),  # toplabel is not numeric
    ("v=spf1 include:localhost -all", {"mechanism_syntax"}, NO),  # domain-end needs "."
    ("v=spf1 include:example.com.. -all", {"mechanism_syntax"}, NO),
    ("v=spf1 include:example.-com -all", {"mechanism_syntax"}, NO),
    ("v=spf1 a/33 a//129 mx/08 -all", {"mechanism_syntax"}, NO),
    ("v=spf1 a: -all", {"mechanism_syntax"}, NO),
    ("v=spf1 a:example.com/ -all", {"mechanism_syntax"}, NO),
    ("v=spf1 a:exa\x00mple.com -all", {"mechanism_syntax"}, NO),
    ("v=spf1 mx\t-all", {"mechanism_syntax"}, {"no_all"}),  # only SP separates terms
    ("v=spf1 redirect=", {"mechanism_syntax"}, NO),
    ("v=spf1 exists:%{c}.example.com -all", {"macro_syntax"}, NO),  # c, r, t: exp text only
    ("v=spf1 -all exp=%{t}.example.com", {"macro_syntax"}, NO),
    ("v=spf1 exists:%{x}.example.com -all", {"macro_syntax"}, NO),
    ("v=spf1 exists:%{d0}.example.com -all", {"macro_syntax"}, NO),  # §7.3 nonzero
    ("v=spf1 exists:%{d.example.com -all", {"macro_syntax"}, NO),
    ("v=spf1 exists:100%.example.com -all", {"macro_syntax"}, NO),
    ("v=spf1 -all foo=%{x}", {"macro_syntax"}, {"unknown_modifier"}),
    ("v=spf1 redirect=a.example.com redirect=b.example.com", {"duplicate_modifier"}, NO),
    ("v=spf1 -all exp=a.example.com EXP=b.example.com", {"duplicate_modifier"}, NO),
    ("v=spf1 include:exämple.com -all", {"non_ascii", "mechanism_syntax"}, NO),
    (
        "v=spf1 include:ex\udce4mple.com -all",
        {"non_ascii", "mechanism_syntax"},
        {"non_utf8"},
    ),
    (
        "v=spf1 +all ptr:example.com exists:%(i).x.example.com",
        {"macro_syntax"},
        {"plus_all", "ptr_mechanism", "terms_after_all"},
    ),
]


@pytest.mark.parametrize(("text", "errors", "warnings"), RFC_EXAMPLES + VALID + MISTAKES)
def test_problems(text: str, errors: set[str], warnings: set[str]) -> None:
    record = parse_spf_record(text)
    assert codes(record.errors) == errors
    assert codes(record.warnings) == warnings


def test_code_tables() -> None:
    assert set(SPF_ERRORS).isdisjoint(SPF_WARNINGS)
    assert SPF_CODES == SPF_ERRORS | SPF_WARNINGS
    assert all(meaning and "\n" not in meaning for meaning in SPF_CODES.values())


def test_every_code_is_exercised() -> None:
    rows = RFC_EXAMPLES + VALID + MISTAKES
    seen = {code for _, errors, warnings in rows for code in errors | warnings}
    assert seen | {"multiple_records"} == set(SPF_CODES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=spf1", True),
        ("v=spf1 -all", True),
        ("V=SPF1 -all", True),
        ("v=spf10 -all", False),
        ("v=spf1-all", False),
        (" v=spf1 -all", False),
        ("v=spf1\t-all", False),
        ("spf2.0/pra -all", False),
        ("v=DMARC1; p=none", False),
        ("", False),
    ],
)
def test_is_spf(text: str, expected: bool) -> None:
    assert is_spf(text) is expected


@pytest.mark.parametrize(
    ("text", "all_"),
    [
        ("v=spf1 mx -all", "-all"),
        ("v=spf1 mx ~all", "~all"),
        ("v=spf1 mx ?all", "?all"),
        ("v=spf1 mx +all", "+all"),
        ("v=spf1 mx all", "+all"),
        ("v=spf1 ~all -all", "~all"),  # the first all decides
        ("v=spf1 -all redirect=_spf.example.com", "-all"),
        ("v=spf1 redirect=_spf.example.com", "redirect"),
        ("v=spf1 mx", "none"),
        ("v=spf2.0/pra mx -all", None),  # not an SPF record
    ],
)
def test_all(text: str, all_: str | None) -> None:
    assert parse_spf_record(text).all == all_


def test_terms_and_modifiers() -> None:
    record = parse_spf_record(
        "v=spf1 +mx a:colo.example.com/28 mx/30 ip6:2001:db8::/32 -all "
        "redirect=_spf.example.com exp=explain.%{d} Foo=bar"
    )
    assert record.terms == (
        Term("mechanism", "+", "mx", None),
        Term("mechanism", "", "a", "colo.example.com/28"),
        Term("mechanism", "", "mx", "/30"),
        Term("mechanism", "", "ip6", "2001:db8::/32"),
        Term("mechanism", "-", "all", None),
        Term("modifier", "", "redirect", "_spf.example.com"),
        Term("modifier", "", "exp", "explain.%{d}"),
        Term("modifier", "", "foo", "bar"),
    )
    assert (record.redirect, record.exp) == ("_spf.example.com", "explain.%{d}")


def test_not_spf_text() -> None:
    record = parse_spf_record("google-site-verification=x")
    assert (record.terms, record.all, [p.code for p in record.errors]) == (
        (),
        None,
        ["unknown_term"],
    )


def test_problem_contexts_name_the_term() -> None:
    record = parse_spf_record("v=spf1 ip4:192.0.2.1/33 -exists:%(ir).x.example -all a")
    assert [str(problem) for problem in record.errors + record.warnings] == [
        "mechanism_syntax ('ip4:192.0.2.1/33': bad CIDR length /33 (0-32))",
        "macro_syntax ('-exists:%(ir).x.example': bad macro '%(ir).' at offset 0)",
        "terms_after_all (1 after '-all', first 'a')",
    ]


SPF = "v=spf1 -all"


@pytest.mark.parametrize(
    ("texts", "status", "applies", "errors"),
    [
        ([], "absent", None, NO),
        (["google-site-verification=x", "v=spf10 -all", "spf2.0/pra -all"], "absent", None, NO),
        ([SPF], "valid", 0, NO),
        (["google-site-verification=x", SPF], "valid", 0, NO),  # other texts are ignored
        (["v=spf1 +all"], "valid", 0, NO),  # warnings only
        (["v=spf1 foo -all"], "invalid", 0, NO),
        ([SPF, "v=spf1 ~all"], "invalid", None, {"multiple_records"}),  # §4.5 permerror
        ([SPF, SPF, "other"], "invalid", None, {"multiple_records"}),
    ],
)
def test_discover_spf(texts: list[str], status: str, applies: int | None, errors: set[str]) -> None:
    found = discover_spf(texts)
    assert found.status == status
    assert found.record is (None if applies is None else found.records[applies])
    assert codes(found.errors) == errors
    assert all(is_spf(record.text) for record in found.records)


FRAGMENTS = ["v=spf1", " ", "  ", "-", "~", "+", "?", "all", "a", "mx", "ip4:", "ip6:", ":"]
FRAGMENTS += ["include", "exists", "ptr", "redirect=", "exp=", "%{", "}", "%", "d", "ir", "0"]
FRAGMENTS += ["1", "/", "//", "24", ".", "com", "example", "192.0.2.1", "::1", "\x00", "\udcff"]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(st.characters(exclude_categories=())),
        st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
        st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(
            lambda parts: "v=spf1 " + "".join(parts)
        ),
    )
)
def test_never_raises(text: str) -> None:
    record = parse_spf_record(text)
    assert codes(record.errors) <= set(SPF_ERRORS)
    assert codes(record.warnings) <= set(SPF_WARNINGS)
    for problem in record.errors + record.warnings:
        problem.context.encode("utf-8")  # contexts stay storable, whatever the text held
    discover_spf([text, text])
