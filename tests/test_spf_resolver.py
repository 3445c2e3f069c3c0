"""The resolver pool as the SPF evaluation's resolver (`survey.scan.spf_tree.PoolResolver`):
A, MX and TXT questions through both DNS clients, against tests/dnsstub.py and against the
Knot lab. The rules are tests/test_spf_tree.py's; here the answers come over real sockets."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator

import pytest

from survey.dns.loop import run
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings
from survey.scan.spf_tree import PoolResolver, SpfEvaluation, SpfTrees
from survey.schema.values import Outcome, SpfResult, SpfResultReason
from tests.dnsstub import DnsStub, Fault

OK, NX, NODATA = Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA
R = SpfResultReason
TXT = {
    "spf.test": [[b"v=spf1 a mx include:inc.test -all"]],
    "inc.test": [[b"v=spf1 ip4:192.0.2.0/24 -all"]],
    "void.test": [[b"v=spf1 a:n1.test mx:n2.test a:n3.test -all"]],
    "manymx.test": [[b"v=spf1 mx -all"]],
    "down.test": [[b"v=spf1 a:failing.test -all"]],
}
ADDRESSES = {"spf.test": ["192.0.2.1"], "failing.test": ["192.0.2.9"]}
MXS = {
    "spf.test": [(10, "mx1.spf.test"), (20, "mx2.spf.test")],
    "manymx.test": [(i, f"mx{i}.manymx.test") for i in range(11)],
}


@pytest.fixture(params=["survey", "aiodns"])
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stub() -> Iterator[DnsStub]:
    with DnsStub(TXT, addresses=ADDRESSES, mx=MXS) as server:
        server.fail("failing.test", Fault.SERVFAIL)
        yield server


def settings(nameserver: str, client: str) -> ResolverSettings:
    return ResolverSettings(nameservers=(nameserver,), client=client, timeout=2.0, tries=2,
                            backoff=0.01)  # fmt: skip


def evaluate(nameserver: str, client: str, domain: str) -> SpfEvaluation:
    async def main() -> SpfEvaluation:
        async with ResolverPool(settings(nameserver, client)) as pool:
            resolver = PoolResolver(pool)
            return await SpfTrees(resolver).evaluate(domain, await resolver.txt(domain))

    return run(main())


@pytest.mark.parametrize(
    ("domain", "lookups", "voids", "result", "reason"),
    [
        ("spf.test", 3, 0, SpfResult.OK, None),
        ("void.test", 3, 3, SpfResult.PERMERROR, R.TOO_MANY_VOID_LOOKUPS),
        ("manymx.test", 1, 0, SpfResult.PERMERROR, R.TOO_MANY_MX),  # 11 records (§4.6.4)
        ("down.test", 1, 0, SpfResult.TEMPERROR, None),  # SERVFAIL, retried, never void
    ],
)
def test_spf_trees_on_the_pool(
    stub: DnsStub, client: str, domain: str, lookups: int, voids: int, result, reason
) -> None:
    found = evaluate(stub.nameserver, client, domain)
    assert (found.lookups, found.voids, found.result, found.reason) == (
        lookups, voids, result, reason)  # fmt: skip


def test_the_questions_of_an_evaluation_by_type(stub: DnsStub) -> None:
    evaluate(stub.nameserver, "survey", "spf.test")
    asked = sorted((q.qtype, q.name) for q in stub.log)
    assert asked == [("A", "spf.test"), ("MX", "spf.test"), ("TXT", "inc.test"),
                     ("TXT", "spf.test")]  # fmt: skip


def test_a_failed_a_lookup_is_retried_as_txt_is(stub: DnsStub) -> None:
    evaluate(stub.nameserver, "survey", "down.test")
    assert stub.count("failing.test") == 2  # tries = 2: SERVFAIL is retryable


# -- against Knot --------------------------------------------------------------------------


def lab_names(zone_text: str) -> tuple[list[str], list[str]]:
    """From the zone the generator wrote: names with an A record, and names with TXT only."""
    with_a = re.findall(r"^(\S+)\. A ", zone_text, re.MULTILINE)
    txt = set(re.findall(r"^([a-z0-9.-]+)\. TXT ", zone_text, re.MULTILINE))
    return sorted(with_a)[:40], sorted(txt - set(with_a))[:40]


@pytest.mark.knot
def test_address_and_mx_answers_from_knot(knot_lab, client: str) -> None:
    with_a, txt_only = lab_names((knot_lab.folder / "root.zone").read_text())
    missing = [f"nowhere-{i}.invalid" for i in range(5)]
    assert with_a and txt_only

    async def main() -> tuple[list, list]:
        async with ResolverPool(settings(knot_lab.nameserver, client)) as pool:
            resolver = PoolResolver(pool)
            names = [*with_a, *txt_only, *missing]
            addresses = await asyncio.gather(*(resolver.address(n) for n in names))
            exchanges = await asyncio.gather(*(resolver.mx(n) for n in names))
            return addresses, exchanges

    addresses, exchanges = run(main())
    expected = [OK] * len(with_a) + [NODATA] * len(txt_only) + [NX] * len(missing)
    assert addresses == expected
    # MX records where the generator wrote them (for records with `mx`), else none
    zone_text = (knot_lab.folder / "root.zone").read_text()
    published = Counter(re.findall(r"^(\S+)\. MX ", zone_text, re.MULTILINE))
    present = [(OK, published[n]) if published[n] else (NODATA, 0) for n in [*with_a, *txt_only]]
    assert exchanges == present + [(NX, 0)] * len(missing)
    assert any(outcome is OK for outcome, _ in present)
