"""DNSSEC of a domain (issue 15 points 1 and 5): the rules (survey/verdict/dnssec.py), and the
scanner asking the domain's own TXT question with DO and AD and, after a SERVFAIL, once more
with CD, through both clients against tests/dnsstub.py playing a validating resolver.

A bogus domain's CD answer is evidence, never its SPF answer; a failure is `error`, never
`insecure`; a client that cannot read the AD bit measures nothing (null)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from survey.dns.loop import run
from survey.dns.outcome import TxtAnswer
from survey.dns.pool import PoolCounts, ResolverPool
from survey.dns.settings import ResolverSettings
from survey.input.stream import InputDomain
from survey.scan.check import render_text
from survey.scan.scanner import DomainScanner
from survey.schema.values import Dnssec, Outcome
from survey.verdict.dnssec import dnssec_state, needs_unchecked
from survey.verdict.row import Verdict
from tests.dnsstub import DnsStub, Fault

pytestmark = pytest.mark.timeout(30)

SPF = [[b"v=spf1 -all"]]
DMARC = [[b"v=DMARC1; p=reject"]]


def answer(outcome: Outcome, authenticated: bool = False) -> TxtAnswer:
    texts = ("v=spf1 -all",) if outcome is Outcome.OK else ()
    return TxtAnswer("example.com", outcome, texts, 1, None, authenticated)


# -- the rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "unchecked", "state"),
    [
        (answer(Outcome.OK, True), None, Dnssec.SECURE),
        (answer(Outcome.NODATA, True), None, Dnssec.SECURE),
        (answer(Outcome.NXDOMAIN, True), None, Dnssec.SECURE),  # an authenticated denial
        (answer(Outcome.OK), None, Dnssec.INSECURE),
        (answer(Outcome.NXDOMAIN), None, Dnssec.INSECURE),
        (answer(Outcome.SERVFAIL), answer(Outcome.OK), Dnssec.BOGUS),
        (answer(Outcome.SERVFAIL), answer(Outcome.NXDOMAIN), Dnssec.BOGUS),
        (answer(Outcome.SERVFAIL), answer(Outcome.SERVFAIL), Dnssec.ERROR),
        (answer(Outcome.SERVFAIL), answer(Outcome.TIMEOUT), Dnssec.ERROR),
        (answer(Outcome.SERVFAIL), None, Dnssec.ERROR),
        (answer(Outcome.TIMEOUT), None, Dnssec.ERROR),
        (answer(Outcome.REFUSED), None, Dnssec.ERROR),
        (answer(Outcome.ERROR), None, Dnssec.ERROR),
    ],
)
def test_dnssec_state(first: TxtAnswer, unchecked: TxtAnswer | None, state: Dnssec) -> None:
    assert dnssec_state(first, unchecked) is state


@pytest.mark.parametrize("outcome", list(Outcome))
def test_only_a_servfail_is_asked_again_with_cd(outcome: Outcome) -> None:
    assert needs_unchecked(answer(outcome)) is (outcome is Outcome.SERVFAIL)


# -- the scanner, against a stub playing a validating resolver ----------------------------


@pytest.fixture
def stub() -> Iterator[DnsStub]:
    names = ("signed.test", "plain.test", "broken.test", "failing.test", "silent.test")
    texts = {name: SPF for name in names} | {f"_dmarc.{name}": DMARC for name in names}
    secure = ["signed.test", "_dmarc.signed.test", "gone.test"]
    with DnsStub(texts, secure=secure, bogus=["broken.test", "_dmarc.broken.test"]) as server:
        server.fail("failing.test", Fault.SERVFAIL)  # every query, CD ones too
        server.fail("silent.test", Fault.DROP)
        yield server


def scan(stub: DnsStub, client: str, *domains: str) -> tuple[list[Verdict], PoolCounts]:
    settings = ResolverSettings(nameservers=(stub.nameserver,), client=client, timeout=1.0,
                                tries=2, backoff=0.01)  # fmt: skip

    async def main() -> tuple[list[Verdict], PoolCounts]:
        async with ResolverPool(settings) as pool:
            scanner = DomainScanner.standard(pool, report_auth=False)
            verdicts = [await scanner.scan(InputDomain(d, None, None)) for d in domains]
            return verdicts, pool.counts()

    return run(main())


def asked(stub: DnsStub, name: str) -> list[tuple[bool, bool, bool]]:
    return [(q.do, q.ad, q.cd) for q in stub.log if q.name == name]


@pytest.mark.parametrize(
    ("domain", "state", "spf_lookup", "spf_status"),
    [
        ("signed.test", Dnssec.SECURE, Outcome.OK, "valid"),
        ("gone.test", Dnssec.SECURE, Outcome.NXDOMAIN, "absent"),
        ("plain.test", Dnssec.INSECURE, Outcome.OK, "valid"),
    ],
)
def test_answered_domains(
    stub: DnsStub, domain: str, state: Dnssec, spf_lookup: Outcome, spf_status: str
) -> None:
    [verdict], counts = scan(stub, "survey", domain)
    assert (verdict.dnssec, verdict.spf_lookup, verdict.spf_status) == (
        state, spf_lookup, spf_status)  # fmt: skip
    assert asked(stub, domain) == [(True, True, False)]  # DO and AD; no other question
    assert asked(stub, f"_dmarc.{domain}") == [(False, False, False)]
    assert counts.checking_disabled == 0


def test_a_bogus_domain_is_unresolved_and_its_cd_answer_is_not_its_spf(stub: DnsStub) -> None:
    [verdict], counts = scan(stub, "survey", "broken.test")
    assert verdict.dnssec is Dnssec.BOGUS
    # a receiver behind a validating resolver gets SERVFAIL: so does the survey
    assert (verdict.spf_lookup, verdict.spf_status, verdict.spf_record) == (
        Outcome.SERVFAIL, "error", None)  # fmt: skip
    assert (verdict.dmarc_status, verdict.type) == ("error", None)
    # the pool's two tries with DO and AD, then one question with CD
    assert asked(stub, "broken.test") == [(True, True, False)] * 2 + [(False, False, True)]
    assert counts.checking_disabled == 1


@pytest.mark.parametrize(
    ("domain", "cd_questions", "cd_queries"),
    # SERVFAIL with CD too: the CD question has the pool's tries, as any question; a timeout
    # asks nothing more
    [("failing.test", 1, 2), ("silent.test", 0, 0)],
)
def test_a_failure_is_error_never_insecure(
    stub: DnsStub, domain: str, cd_questions: int, cd_queries: int
) -> None:
    [verdict], counts = scan(stub, "survey", domain)
    assert (verdict.dnssec, verdict.type, verdict.spf_status) == (Dnssec.ERROR, None, "error")
    assert counts.checking_disabled == cd_questions
    assert sum(cd for _, _, cd in asked(stub, domain)) == cd_queries


def test_through_c_ares_dnssec_is_not_measured(stub: DnsStub) -> None:
    verdicts, counts = scan(stub, "aiodns", "signed.test", "broken.test", "plain.test")
    assert [v.dnssec for v in verdicts] == [None, None, None]
    assert [v.spf_status for v in verdicts] == ["valid", "error", "valid"]
    assert counts.checking_disabled == 0 and not any(q.cd or q.ad for q in stub.log)


def test_survey_check_says_it(stub: DnsStub) -> None:
    from dataclasses import asdict

    verdicts, _ = scan(stub, "survey", "signed.test", "broken.test")
    assert "DNSSEC secure" in render_text(asdict(verdicts[0]))
    assert "DNSSEC bogus" in render_text(asdict(verdicts[1]))
    assert "DNSSEC not measured" in render_text({**asdict(verdicts[0]), "dnssec": None})
