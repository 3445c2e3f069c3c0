"""RFC 9989 §4.10 DNS Tree Walk: the names asked, the organizational domain, the policy.

The examples are the RFC's own (§4.10, §4.10.2, Appendix B.4), fed to the pure functions the
way the scanner feeds them: ask while `walk_goes_on` says so.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.dns.outcome import TxtAnswer
from survey.records.dmarc import parse_dmarc_record
from survey.schema.values import Outcome
from survey.verdict.treewalk import (
    MAX_QUERIES,
    Walk9989,
    existence,
    judge_walk,
    own_step,
    walk_goes_on,
    walk_names,
    walk_step,
)

Zone = dict[str, tuple[str, ...] | Outcome]


def walk(domain: str, zone: Zone, exists: bool | None = True) -> tuple[Walk9989, list[str]]:
    """The verdict and the names asked, answering from `zone` (name → texts, or an outcome;
    a name missing from it is NXDOMAIN)."""
    asked, answers = [], []
    for name in walk_names(domain):
        if answers and not walk_goes_on(answers[-1]):
            break
        asked.append(name)
        value = zone.get(name, Outcome.NXDOMAIN)
        if isinstance(value, Outcome):
            answers.append(TxtAnswer(f"_dmarc.{name}", value))
        else:
            answers.append(TxtAnswer(f"_dmarc.{name}", Outcome.OK, value))
    return judge_walk(domain, answers, exists), asked


def summary(verdict: Walk9989) -> tuple[object, ...]:
    return (verdict.status, verdict.policy_domain, verdict.org_domain, verdict.effective_p)


def test_names_of_the_rfc_example() -> None:
    """§4.10: eight queries for a.b.c.d.e.f.g.h.i.j.mail.example.com."""
    assert walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com") == (
        "a.b.c.d.e.f.g.h.i.j.mail.example.com",
        "g.h.i.j.mail.example.com",
        "h.i.j.mail.example.com",
        "i.j.mail.example.com",
        "j.mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
    )


@pytest.mark.parametrize(
    ("labels", "sizes"),
    [
        (2, [2, 1]),
        (3, [3, 2, 1]),
        (7, [7, 6, 5, 4, 3, 2, 1]),
        (8, [8, 7, 6, 5, 4, 3, 2, 1]),  # 8 labels: cut to 7, which is the parent
        (9, [9, 7, 6, 5, 4, 3, 2, 1]),  # the 8-label name is skipped
        (30, [30, 7, 6, 5, 4, 3, 2, 1]),
    ],
)
def test_names_are_cut_to_seven_labels(labels: int, sizes: list[int]) -> None:
    domain = ".".join(f"l{i}" for i in range(labels))
    assert [name.count(".") + 1 for name in walk_names(domain)] == sizes
    assert all(domain.endswith(name) for name in walk_names(domain))


@given(st.integers(min_value=2, max_value=127))
def test_never_more_than_eight_queries(labels: int) -> None:
    domain = ".".join("x" * labels)
    names = walk_names(domain)
    assert len(names) <= MAX_QUERIES and names[0] == domain and names[-1] == "x"


RECORD = "v=DMARC1; p=reject; sp=quarantine"


def test_simple_example_b_4_1() -> None:
    zone: Zone = {"example.com": (RECORD,), "signing.example.com": ("v=DMARC1; p=none",)}
    verdict, asked = walk("example.com", zone)
    assert asked == ["example.com", "com"]
    assert summary(verdict) == ("valid", "example.com", "example.com", "reject")
    verdict, asked = walk("signing.example.com", zone)
    assert asked == ["signing.example.com", "example.com", "com"]
    # its own record applies; the organizational domain has the fewest labels
    assert summary(verdict) == ("valid", "signing.example.com", "example.com", "none")


def test_deep_example_b_4_2() -> None:
    domain = "a.b.c.d.e.f.g.h.i.j.k.example.com"
    zone: Zone = {"example.com": (RECORD,), "signing.example.com": ("v=DMARC1; p=none",)}
    verdict, asked = walk(domain, zone)
    assert asked == list(walk_names(domain)) and len(asked) == 8
    assert asked[1] == "g.h.i.j.k.example.com"  # the intermediate names skipped
    assert summary(verdict) == ("valid", "example.com", "example.com", "quarantine")  # sp


def test_psd_example_b_4_3() -> None:
    zone: Zone = {
        "bank.example": ("v=DMARC1; p=reject; sp=quarantine; np=reject; psd=y",),
        "giant.bank.example": ("v=DMARC1; p=none",),
    }
    verdict, asked = walk("giant.bank.example", zone)
    assert asked == ["giant.bank.example", "bank.example"]  # psd=y stops the walk
    assert summary(verdict) == ("valid", "giant.bank.example", "giant.bank.example", "none")
    verdict, _ = walk("mail.giant.bank.example", zone)
    assert summary(verdict) == ("valid", "giant.bank.example", "giant.bank.example", "none")
    verdict, asked = walk("mail.mega.bank.example", zone)
    assert asked == ["mail.mega.bank.example", "mega.bank.example", "bank.example"]
    # the PSD's record applies: sp for an existing name, np for one that does not exist
    assert summary(verdict) == ("valid", "bank.example", "mega.bank.example", "quarantine")
    assert (verdict.psd, verdict.np) == ("y", "reject")
    verdict, _ = walk("mail.mega.bank.example", zone, exists=False)
    assert verdict.effective_p == "reject"


@pytest.mark.parametrize(
    ("zone", "org", "asked"),
    [
        (  # §4.10.2: records at mail.example.com and example.com → the fewest labels
            {"mail.example.com": ("v=DMARC1; p=none",), "example.com": (RECORD,)},
            "example.com",
            4,
        ),
        (  # psd=n at mail.example.com: that name, and the walk stops there
            {"mail.example.com": ("v=DMARC1; p=none; psd=n",), "example.com": (RECORD,)},
            "mail.example.com",
            2,
        ),
        ({"com": ("v=DMARC1; p=reject; psd=y",)}, "example.com", 4),  # one below the PSD
        ({"mail.example.com": ("v=DMARC1; p=none",)}, "mail.example.com", 4),
        ({}, "a.mail.example.com", 4),  # no record: the domain itself
    ],
)
def test_organizational_domain_examples_4_10_2(zone: Zone, org: str, asked: int) -> None:
    verdict, names = walk("a.mail.example.com", zone)
    assert verdict.org_domain == org and len(names) == asked


def test_policy_is_the_organizational_domains_not_the_nearest() -> None:
    """Records at mail.example.com and example.com: for a.mail.example.com the organizational
    domain is example.com, whose record applies (§4.10.1), with its sp."""
    zone: Zone = {"mail.example.com": ("v=DMARC1; p=none",), "example.com": (RECORD,)}
    verdict, _ = walk("a.mail.example.com", zone)
    assert summary(verdict) == ("valid", "example.com", "example.com", "quarantine")


def test_psd_record_applies_when_the_organizational_domain_has_none() -> None:
    zone: Zone = {"co.jp": ("v=DMARC1; p=reject; sp=none; np=reject; psd=y",)}
    verdict, asked = walk("shop.acme.co.jp", zone)
    assert asked == ["shop.acme.co.jp", "acme.co.jp", "co.jp"]
    assert summary(verdict) == ("valid", "co.jp", "acme.co.jp", "none")
    verdict, _ = walk("acme.co.jp", zone, exists=False)
    assert summary(verdict) == ("valid", "co.jp", "acme.co.jp", "reject")  # np


def test_own_record_with_psd_stops_the_walk_at_once() -> None:
    verdict, asked = walk("co.jp", {"co.jp": ("v=DMARC1; p=reject; psd=y",)})
    assert asked == ["co.jp"]
    assert summary(verdict) == ("valid", "co.jp", "co.jp", "reject")


def test_several_records_at_a_step_are_discarded_and_the_walk_goes_on() -> None:
    zone: Zone = {
        "mid.example.com": ("v=DMARC1; p=none; psd=n", "v=DMARC1; p=reject"),
        "example.com": (RECORD,),
    }
    verdict, asked = walk("x.mid.example.com", zone)
    assert asked == ["x.mid.example.com", "mid.example.com", "example.com", "com"]
    assert summary(verdict) == ("valid", "example.com", "example.com", "quarantine")
    assert verdict.warnings == ("walk_discarded",)


@pytest.mark.parametrize(
    ("own", "parent", "status", "errors", "warnings"),
    [
        (("v=DMARC1; p=none", "v=DMARC1; p=reject"), None, "invalid", ("multiple_records",), ()),
        (("v=DMARC1; p=none", "v=DMARC1"), RECORD, "valid", (), ("walk_discarded",)),
        (("google-site-verification=x",), None, "invalid", ("not_dmarc",), ()),
        (("v=spf1 -all",), RECORD, "valid", (), ("discarded_text",)),
        (("token=1", "v=DMARC1; p=none"), None, "valid", (), ("discarded_text",)),
        (("v=DMARC1; p=monitor",), RECORD, "invalid", ("p_invalid",), ()),  # own record applies
        ((), None, "absent", (), ()),
    ],
)
def test_what_the_domain_publishes_itself(own, parent, status, errors, warnings) -> None:
    zone: Zone = {"a.example.com": own} if own else {}
    if parent:
        zone["example.com"] = (parent,)
    verdict, _ = walk("a.example.com", zone)
    assert (verdict.status, verdict.errors, verdict.warnings) == (status, errors, warnings)
    if status == "absent" or errors in (("multiple_records",), ("not_dmarc",)):
        assert verdict.policy_domain is None and verdict.org_domain == "a.example.com"


def test_several_records_at_a_parent_warn_even_when_nothing_applies() -> None:
    verdict, _ = walk("a.example.com", {"example.com": ("v=DMARC1; p=none",) * 2})
    assert (verdict.status, verdict.warnings) == ("absent", ("walk_discarded",))


@pytest.mark.parametrize("outcome", [Outcome.TIMEOUT, Outcome.SERVFAIL, Outcome.REFUSED])
@pytest.mark.parametrize("where", ["a.example.com", "example.com", "com"])
def test_a_failed_lookup_makes_the_verdict_error_never_absent(outcome, where) -> None:
    verdict, asked = walk("a.example.com", {"example.com": (RECORD,), where: outcome})
    assert asked[-1] == where  # the walk stops at the failure
    assert verdict.status == "error" and verdict.columns[1:4] == (None, None, None)


def test_a_walk_cut_short_is_error() -> None:
    own = TxtAnswer("_dmarc.a.example.com", Outcome.NXDOMAIN)
    assert judge_walk("a.example.com", [own], True).status == "error"  # parents not asked
    assert judge_walk("a.example.com", [], True).status == "error"
    stop = TxtAnswer("_dmarc.a.example.com", Outcome.OK, ("v=DMARC1; p=none; psd=n",))
    assert judge_walk("a.example.com", [stop], True).status == "valid"  # it ends there


def test_non_existence_decides_np_and_an_unknown_one_is_error() -> None:
    zone: Zone = {"example.com": ("v=DMARC1; p=quarantine; np=reject",)}
    assert walk("gone.example.com", zone, exists=False)[0].effective_p == "reject"
    assert walk("gone.example.com", zone, exists=True)[0].effective_p == "quarantine"
    assert walk("gone.example.com", zone, exists=None)[0].status == "error"
    no_np: Zone = {"example.com": ("v=DMARC1; p=quarantine",)}
    assert walk("gone.example.com", no_np, exists=None)[0].effective_p == "quarantine"
    own: Zone = {"gone.example.com": ("v=DMARC1; p=none; np=reject",)}
    assert walk("gone.example.com", own, exists=None)[0].effective_p == "none"  # p: own record


def test_test_mode_downgrades_through_the_walk() -> None:
    zone: Zone = {"example.com": ("v=DMARC1; p=reject; sp=reject; t=y",)}
    verdict, _ = walk("a.example.com", zone)
    assert (verdict.effective_p, verdict.t) == ("quarantine", "y")


def test_nine_labels_skip_the_eighth_label_name() -> None:
    """The 8-label name is never asked: its psd=n record must not decide anything."""
    domain = "a.b.c.d.e.f.g.example.com"  # 9 labels
    eighth, seventh = "b.c.d.e.f.g.example.com", "c.d.e.f.g.example.com"
    zone: Zone = {eighth: ("v=DMARC1; p=reject; psd=n",), "example.com": (RECORD,)}
    verdict, asked = walk(domain, zone)
    assert eighth not in asked and asked[1] == seventh
    assert summary(verdict) == ("valid", "example.com", "example.com", "quarantine")
    # psd=y at the 7-label name: the organizational domain is the 8-label name, never asked,
    # so the PSD's record applies
    verdict, _ = walk(domain, {seventh: ("v=DMARC1; p=none; sp=reject; psd=y",)})
    assert summary(verdict) == ("valid", seventh, eighth, "reject")


def test_walk_goes_on() -> None:
    def answer(*texts: str, outcome: Outcome = Outcome.OK) -> TxtAnswer:
        return TxtAnswer("_dmarc.x", outcome, texts)

    assert walk_goes_on(answer(outcome=Outcome.NXDOMAIN))
    assert walk_goes_on(answer("v=DMARC1; p=none"))
    assert walk_goes_on(answer("v=DMARC1; p=none; psd=u"))
    assert walk_goes_on(answer("v=DMARC1; p=none; psd=bogus"))  # counts as u
    assert walk_goes_on(answer("v=DMARC1; psd=n", "v=DMARC1; psd=y"))  # discarded
    assert not walk_goes_on(answer("v=DMARC1; psd=n"))
    assert not walk_goes_on(answer("v=DMARC1; p=reject; PSD=Y", "token"))
    assert not walk_goes_on(answer(outcome=Outcome.TIMEOUT))


def test_existence() -> None:
    assert existence(TxtAnswer("d", Outcome.NXDOMAIN)) is False
    assert existence(TxtAnswer("d", Outcome.NODATA)) is True
    assert existence(TxtAnswer("d", Outcome.OK, ("v=spf1 -all",))) is True
    assert existence(TxtAnswer("d", Outcome.SERVFAIL)) is None


def test_domains_with_the_same_answers_share_a_verdict_but_not_its_names() -> None:
    """The verdict is worked out once per (answers, number of labels): its names are each
    domain's own."""
    psd = TxtAnswer("_dmarc.co.jp", Outcome.OK, ("v=DMARC1; p=reject; sp=none; psd=y",))
    nothing = TxtAnswer("_dmarc.x", Outcome.NXDOMAIN)
    for domain in ("shop.acme.co.jp", "mail.other.co.jp", "mail.other.co.jp"):
        verdict = judge_walk(domain, [nothing, nothing, psd], True)
        org = domain.split(".", 1)[1]
        assert (verdict.policy_domain, verdict.org_domain) == ("co.jp", org)
        assert verdict.columns[1:3] == ("co.jp", org)


FRAGMENTS = ["v=DMARC1", "; ", ";", "p=", "sp=", "np=", "psd=", "t=", "rua=", "ruf=", "fo="]
FRAGMENTS += ["none", "reject", "monitor", "y", "n", "u", "x", "d:s", "0:1", "pct=5", "lang=en"]
FRAGMENTS += ["mailto:a@example.com", "mailto:b@example.net", "https://r.example.org/x", ","]
FRAGMENTS += ["bad@example.com", "!10m", "!99999999999999999999999", " ", "=", "\udcff", "token"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join), max_size=3))
def test_a_domains_own_step_is_the_step_of_its_texts(texts: list[str]) -> None:
    """own_step judges the RFC 7489 parser's records, and shares the result between records
    that differ only in their report URIs: it must equal the step of the texts themselves."""
    records = [parse_dmarc_record(text) for text in texts]
    assert own_step(records) == walk_step(tuple(texts))
    assert own_step(records).signature == walk_step(tuple(texts)).signature


def test_records_that_differ_only_in_their_uris_share_a_step_only_when_judged_alike() -> None:
    texts = [
        "v=DMARC1; p=monitor; rua=bad@example.com",
        "v=DMARC1; p=monitor; rua=bad@example.com,mailto:a@example.com",  # now a valid one
        "v=DMARC1; p=monitor; rua=mailto:b@example.org",
        "v=DMARC1; p=none; rua=https://r.example.org/x",
        "v=DMARC1; p=none; rua=mailto:c@example.org",
        "v=DMARC1; p=none; ruf=mailto:c@example.org!10m",
        "v=DMARC1; p=none; ruf=mailto:c@example.org!99999999999999999999999",
        "v=DMARC1; p=none; ruf=mailto:c@example.org",
        "v=DMARC1; P=None; rua=mailto:d@example.org",
    ]
    for text in texts:
        assert own_step([parse_dmarc_record(text)]).signature == walk_step((text,)).signature, text
