"""DomainScanner: the questions one domain asks, against an in-process DNS stub on loopback.

What the stub counts is what went over the wire: the RFC 9989 tree walk asks each shared
`_dmarc.<name>` once per run, however many domains share it and however many are in flight.
"""

from __future__ import annotations

import asyncio

import pytest

from survey.dns.loop import run
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings
from survey.input.stream import InputDomain
from survey.scan.scanner import DomainScanner, scan_chunk
from survey.verdict.row import Verdict
from tests.dnsstub import DnsStub, Fault

PSD = b"v=DMARC1; p=reject; sp=none; np=reject; psd=y"
ACME = b"v=DMARC1; p=quarantine; sp=reject; rua=mailto:d@acme.com"
JP = [f"shop{i}.co.jp" for i in range(40)]
COM = [f"site{i}.com" for i in range(40)]


def zone() -> dict[str, list[list[bytes]]]:
    return {
        "_dmarc.co.jp": [[PSD]],
        "_dmarc.acme.com": [[ACME]],
        "_dmarc.mail.acme.com": [[b"v=DMARC1; p=none"]],
        "acme.com": [[b"v=spf1 -all"]],
        "mail.acme.com": [[b"v=spf1 -all"]],
        **{name: [[b"v=spf1 -all"]] for name in JP[:20] + COM},
    }


def scan(
    stub: DnsStub, domains: list[str], tries: int = 2, concurrency: int = 200
) -> tuple[list[Verdict], DomainScanner]:
    # A generous timeout: a try timed out on a busy machine would be a second query counted.
    timeout = 5.0 if tries > 1 else 0.3
    settings = ResolverSettings(nameservers=(stub.nameserver,), timeout=timeout, tries=tries)

    async def go() -> tuple[list[Verdict], DomainScanner]:
        async with ResolverPool(settings) as pool:
            scanner = DomainScanner.standard(pool, report_auth=False)
            items = [InputDomain(d, None, None) for d in domains]
            return await scan_chunk(scanner, items, concurrency), scanner

    return run(go())


def by_domain(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.domain: v for v in verdicts}


def test_shared_parent_names_are_asked_once_per_run() -> None:
    deep = ["x.mail.acme.com", "y.mail.acme.com", "mail.acme.com", "ghost.acme.com"]
    with DnsStub(zone(), nodata=["co.jp", "jp", "com"]) as stub:
        verdicts, scanner = scan(stub, JP + COM + deep)
    assert len(verdicts) == 84
    assert stub.count("_dmarc.co.jp") == 1 and stub.count("_dmarc.com") == 1
    # asked for its own domain and as a walk step of two others, all in flight at once
    assert stub.count("_dmarc.acme.com") == 1 and stub.count("_dmarc.mail.acme.com") == 1
    assert stub.count("_dmarc.jp") == 0  # psd=y at co.jp ends every walk under it
    counts = scanner.walk_counts
    # one step for each .co.jp and .com name, then 3, 3, 2 and 2 for the deep ones
    assert counts.steps == 40 + 40 + 3 + 3 + 2 + 2
    # co.jp, com, acme.com and mail.acme.com: the walk asked each once
    assert counts.asked == {"ok": 3, "nxdomain": 1}
    assert counts.manifest_entry() == {
        "steps": 90,
        "questions": {"nxdomain": 1, "ok": 3},
        "from_shared_answers": 86,
    }


def test_the_walk_verdicts() -> None:
    with DnsStub(zone(), nodata=["co.jp", "jp", "com"]) as stub:
        verdicts, _ = scan(stub, [JP[0], JP[30], "x.mail.acme.com", "ghost.acme.com"])
    found = by_domain(verdicts)
    existing, gone = found[JP[0]], found[JP[30]]  # JP[30] has no record at all: NXDOMAIN
    assert (existing.dmarc9989_policy_domain, existing.dmarc9989_org_domain) == ("co.jp", JP[0])
    assert (existing.dmarc9989_effective_p, gone.dmarc9989_effective_p) == ("none", "reject")
    assert existing.dmarc_status == "absent"  # RFC 7489 knows no PSD record
    deep = found["x.mail.acme.com"]
    assert (deep.dmarc9989_policy_domain, deep.dmarc9989_org_domain) == ("acme.com", "acme.com")
    assert deep.dmarc9989_effective_p == "reject"  # the organizational domain's sp
    ghost = found["ghost.acme.com"]
    assert (ghost.dmarc9989_status, ghost.dmarc9989_effective_p) == ("valid", "reject")
    assert (ghost.dmarc_source, ghost.dmarc_effective_p) == ("organizational", "reject")


@pytest.mark.parametrize("fault", [Fault.SERVFAIL, Fault.DROP])
def test_a_failed_walk_step_is_error_and_asked_again(fault: Fault) -> None:
    with DnsStub(zone(), nodata=["co.jp", "jp", "com"]) as stub:
        stub.fail("_dmarc.com", fault)
        verdicts, scanner = scan(stub, COM[:3], tries=1, concurrency=2)  # one after another
        for v in verdicts:
            assert v.dmarc9989_status == "error" and v.dmarc9989_org_domain is None
            assert v.dmarc_status == "absent" and v.type == "E"  # RFC 7489 needs no walk
        assert stub.count("_dmarc.com") == 3  # a failure is not kept for the run
        failed = "servfail" if fault is Fault.SERVFAIL else "timeout"
        assert scanner.walk_counts.asked == {failed: 3}


def test_no_walk_question_is_asked_after_a_psd_record_at_the_domain() -> None:
    with DnsStub({"_dmarc.co.jp": [[PSD]]}, nodata=["co.jp"]) as stub:
        verdicts, scanner = scan(stub, ["co.jp"])
    assert stub.count("_dmarc.jp") == 0 and scanner.walk_counts.steps == 0
    assert (verdicts[0].dmarc9989_policy_domain, verdicts[0].dmarc9989_org_domain) == (
        "co.jp",
        "co.jp",
    )


def test_scans_in_one_event_loop_share_nothing_but_the_pool() -> None:
    """Two scanners of one run each keep their own shared answers (one per process)."""

    async def go(stub: DnsStub) -> None:
        settings = ResolverSettings(nameservers=(stub.nameserver,), timeout=5.0)
        async with ResolverPool(settings) as pool:
            first = DomainScanner.standard(pool, report_auth=False)
            second = DomainScanner.standard(pool, report_auth=False)
            await first.scan(InputDomain(COM[0], None, None))
            await asyncio.gather(*(second.scan(InputDomain(d, None, None)) for d in COM[1:4]))

    with DnsStub(zone(), nodata=["com"]) as stub:
        run(go(stub))
    assert stub.count("_dmarc.com") == 2
