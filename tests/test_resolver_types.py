"""The resolver pool beyond plain TXT: A and MX questions, the CNAME chain's last name, and the
DNSSEC bits (DO, AD, CD), through both DNS clients against tests/dnsstub.py on 127.0.0.1, and
on the virtual clock (survey.dns.fake) for what the pool decides in time.

A and MX questions must get what TXT questions get: the same outcomes, retries, deadlines,
in-flight sharing and counts; and a TXT answer must be what it was, with `canonical` and
`authenticated` beside it."""

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from survey.dns.fake import fake_transport, reply, run_virtual
from survey.dns.loop import run
from survey.dns.outcome import AddressAnswer, MxAnswer, TxtAnswer
from survey.dns.pool import PoolCounts, ResolverPool
from survey.dns.settings import ResolverSettings
from survey.dns.wire import TYPE_A, TYPE_MX, QueryFlags
from survey.schema.values import Outcome
from tests.dnsstub import DnsStub, Fault

pytestmark = pytest.mark.timeout(30)

OK, NX, NODATA = Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA
TXT = {"ok.test": [[b"hello"]], "target.test": [[b"v=DMARC1; p=reject"]], "signed.test": [[b"s"]]}
TXT |= {"broken.test": [[b"v=spf1 -all"]], "mail.test": [[b"v=spf1 mx -all"]]}
CNAMES = {"alias.test": "target.test", "chain.test": "alias.test", "to-nodata.test": "nodata.test"}
CNAMES |= {"dangling.test": "missing.test", "loop-a.test": "loop-b.test"}
CNAMES |= {"loop-b.test": "loop-a.test", "www.test": "host.test", "mxalias.test": "mail.test"}
ADDRESSES = {"host.test": ["192.0.2.1", "192.0.2.2"], "mx1.mail.test": ["198.51.100.1"]}
MXS = {"mail.test": [(10, "mx1.mail.test"), (20, "MX2.Mail.Test")], "null.test": [(0, ".")]}
MXS |= {"many.test": [(i, f"mx{i}.many.test") for i in range(11)]}


@pytest.fixture(params=["survey", "aiodns"])
def client(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stub() -> Iterator[DnsStub]:
    with DnsStub(
        TXT,
        nodata=["nodata.test"],
        cnames=CNAMES,
        addresses=ADDRESSES,
        mx=MXS,
        secure=["signed.test"],
        bogus=["broken.test"],
    ) as server:
        yield server


def settings_for(stub: DnsStub, client: str, **overrides: object) -> ResolverSettings:
    # a generous timeout: a loaded machine must not turn an answer into a retry (tries = 1)
    values: dict = {"timeout": 2.0, "tries": 1, "backoff": 0.01} | overrides
    return ResolverSettings(nameservers=(stub.nameserver,), client=client, **values)


def ask(settings: ResolverSettings, kind: str, *names: str, flags=QueryFlags.NONE) -> list:
    async def main() -> list:
        async with ResolverPool(settings) as pool:
            if kind == "txt":
                return list(await asyncio.gather(*(pool.txt(n, flags) for n in names)))
            lookup = getattr(pool, kind)
            return list(await asyncio.gather(*(lookup(n) for n in names)))

    return run(main())


# -- CNAME targets kept --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "outcome", "texts", "canonical"),
    [
        ("ok.test", OK, ("hello",), None),  # no CNAME followed
        ("alias.test", OK, ("v=DMARC1; p=reject",), "target.test"),
        ("chain.test", OK, ("v=DMARC1; p=reject",), "target.test"),  # two deep
        ("to-nodata.test", NODATA, (), "nodata.test"),  # nodata at the target
        ("dangling.test", NX, (), None),  # NXDOMAIN keeps no chain (c-ares hands none over)
        ("loop-a.test", NODATA, (), "loop-b.test"),
    ],
)
def test_the_cname_target_is_kept(
    stub: DnsStub, client: str, name: str, outcome: Outcome, texts: tuple, canonical: str | None
) -> None:
    [answer] = ask(settings_for(stub, client), "txt", name)
    assert answer == TxtAnswer(name, outcome, texts, 1, canonical, False)


def test_nothing_else_changes_for_an_answer_without_cname(stub: DnsStub, client: str) -> None:
    [answer] = ask(settings_for(stub, client), "txt", "ok.test")
    assert answer == TxtAnswer("ok.test", OK, ("hello",), 1)
    assert [(q.qtype, q.do, q.ad, q.cd) for q in stub.log] == [("TXT", False, False, False)]


# -- A and MX ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("host.test", AddressAnswer("host.test", OK, ("192.0.2.1", "192.0.2.2"))),
        ("www.test", AddressAnswer("www.test", OK, ("192.0.2.1", "192.0.2.2"), 1, "host.test")),
        ("ok.test", AddressAnswer("ok.test", NODATA)),  # TXT only
        ("nx.test", AddressAnswer("nx.test", NX)),
    ],
)
def test_address_questions(stub: DnsStub, client: str, name: str, expected: AddressAnswer) -> None:
    assert ask(settings_for(stub, client), "address", name) == [expected]
    assert [q.qtype for q in stub.log] == ["A"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mail.test", MxAnswer("mail.test", OK, ("mx1.mail.test", "mx2.mail.test"))),
        ("mxalias.test", MxAnswer("mxalias.test", OK, ("mx1.mail.test", "mx2.mail.test"), 1,
                                  "mail.test")),
        ("null.test", MxAnswer("null.test", OK, (".",))),  # RFC 7505
        ("host.test", MxAnswer("host.test", NODATA)),
        ("nx.test", MxAnswer("nx.test", NX)),
    ],
)  # fmt: skip
def test_mx_questions(stub: DnsStub, client: str, name: str, expected: MxAnswer) -> None:
    assert ask(settings_for(stub, client), "mx", name) == [expected]
    assert [q.qtype for q in stub.log] == ["MX"]


@pytest.mark.parametrize("kind", ["address", "mx"])
@pytest.mark.parametrize(
    ("fault", "outcome"),
    [(Fault.SERVFAIL, Outcome.SERVFAIL), (Fault.DROP, Outcome.TIMEOUT), (Fault.REFUSED, None)],
)
def test_a_and_mx_failures_are_outcomes_and_retried_as_txt_ones(
    stub: DnsStub, client: str, kind: str, fault: Fault, outcome: Outcome | None
) -> None:
    name = "mail.test"
    stub.fail(name, fault)
    [answer] = ask(settings_for(stub, client, tries=2, timeout=0.3), kind, name)
    retried = outcome is not None  # REFUSED is final with one nameserver
    assert (answer.outcome, answer.tries) == ((outcome or Outcome.REFUSED), 1 + retried)
    assert stub.count(name) == 1 + retried


def test_types_are_separate_questions_each_shared_in_flight(stub: DnsStub, client: str) -> None:
    async def main() -> PoolCounts:
        async with ResolverPool(settings_for(stub, client)) as pool:
            futures = [f(n) for f in (pool.txt, pool.address, pool.mx) for n in ["mail.test"] * 20]
            await asyncio.gather(*futures)
            return pool.counts()

    counts = run(main())
    assert sorted(q.qtype for q in stub.log) == ["A", "MX", "TXT"]
    assert counts.types == Counter({"TXT": 1, "A": 1, "MX": 1})
    assert counts.questions == Counter({OK: 2, NODATA: 1})


# -- DNSSEC bits ---------------------------------------------------------------------------


def test_the_pool_says_whether_its_client_speaks_dnssec(stub: DnsStub, client: str) -> None:
    async def main() -> bool:
        async with ResolverPool(settings_for(stub, client)) as pool:
            return pool.dnssec

    assert run(main()) is (client == "survey")


@pytest.mark.parametrize(
    ("flags", "bits"),
    [
        (QueryFlags.DNSSEC, (True, True, False)),
        (QueryFlags.CHECKING_DISABLED, (False, False, True)),
    ],
)
def test_query_flags_reach_the_server(stub: DnsStub, flags: QueryFlags, bits: tuple) -> None:
    ask(settings_for(stub, "survey"), "txt", "ok.test", flags=flags)
    assert [(q.do, q.ad, q.cd) for q in stub.log] == [bits]


def test_flags_stay_over_tcp_and_ad_without_edns() -> None:
    big = {"big.test": [[bytes([97 + i]) * 200] for i in range(8)], "old.test": [[b"x"]]}
    with DnsStub(big, secure=["big.test", "old.test"]) as stub:
        stub.fail("old.test", Fault.NO_EDNS)
        answers = ask(settings_for(stub, "survey"), "txt", "big.test", "old.test",
                      flags=QueryFlags.DNSSEC)  # fmt: skip
        assert [a.authenticated for a in answers] == [True, True]
        sent = {(q.name, q.transport, q.do, q.ad) for q in stub.log}
    assert ("big.test", "tcp", True, True) in sent  # the TC retry keeps DO and AD
    assert ("old.test", "udp", False, True) in sent  # without EDNS: AD alone (RFC 6840 §5.7)


@pytest.mark.parametrize(
    ("name", "flags", "outcome", "authenticated"),
    [
        ("signed.test", QueryFlags.DNSSEC, OK, True),
        ("signed.test", QueryFlags.NONE, OK, False),  # not asked for: not given (RFC 6840 §5.8)
        ("ok.test", QueryFlags.DNSSEC, OK, False),
        ("broken.test", QueryFlags.DNSSEC, Outcome.SERVFAIL, False),
        ("broken.test", QueryFlags.CHECKING_DISABLED, OK, False),
    ],
)
def test_the_ad_bit_is_read(
    stub: DnsStub, name: str, flags: QueryFlags, outcome: Outcome, authenticated: bool
) -> None:
    [answer] = ask(settings_for(stub, "survey"), "txt", name, flags=flags)
    assert (answer.outcome, answer.authenticated) == (outcome, authenticated)


def test_c_ares_asks_plainly_and_reads_no_ad(stub: DnsStub) -> None:
    [answer] = ask(settings_for(stub, "aiodns"), "txt", "signed.test", flags=QueryFlags.DNSSEC)
    assert (answer.outcome, answer.authenticated) == (OK, False)
    assert [(q.ad, q.cd) for q in stub.log] == [(False, False)]


def test_flags_make_separate_questions_counted_as_such(stub: DnsStub) -> None:
    async def main() -> PoolCounts:
        async with ResolverPool(settings_for(stub, "survey")) as pool:
            await asyncio.gather(
                pool.txt("broken.test"),
                pool.txt("broken.test", QueryFlags.DNSSEC),
                pool.txt("broken.test", QueryFlags.CHECKING_DISABLED),
            )
            return pool.counts()

    counts = run(main())
    assert stub.count("broken.test") == 3
    assert (counts.types, counts.checking_disabled) == (Counter({"TXT": 3}), 1)


# -- on the virtual clock ------------------------------------------------------------------


def virtual_ask(script, kind: str, name: str, tries: int = 3):
    settings = ResolverSettings(nameservers=("127.0.0.1:53",), timeout=2.0, tries=tries,
                                backoff=0.2)  # fmt: skip

    async def main():
        loop = asyncio.get_running_loop()
        async with ResolverPool(settings, transport=fake_transport(script)) as pool:
            answer = await getattr(pool, kind)(name)
            return answer, loop.time(), pool.counts()

    return run_virtual(main())


@pytest.mark.parametrize("kind", ["address", "mx"])
def test_a_and_mx_time_out_after_exactly_their_tries(kind: str) -> None:
    answer, ended, counts = virtual_ask(lambda *_: None, kind, "slow.test")
    assert (answer.outcome, answer.tries) == (Outcome.TIMEOUT, 3)
    # three 2 s deadlines and two backoffs (0.2 s, 0.4 s) within ±50 % jitter
    assert 6.0 + 0.1 + 0.2 <= ended <= 6.0 + 0.3 + 0.6
    assert counts.tries == Counter({Outcome.TIMEOUT: 3})


@pytest.mark.parametrize(("kind", "qtype"), [("address", TYPE_A), ("mx", TYPE_MX)])
def test_a_and_mx_servfail_then_answer(kind: str, qtype: int) -> None:
    def script(name: str, server: int, number: int):
        return Outcome.SERVFAIL if number == 1 else reply(name, rcode=3, qtype=qtype)

    answer, _, counts = virtual_ask(script, kind, "gone.test")
    assert (answer.outcome, answer.tries) == (NX, 2)
    assert counts.questions == Counter({NX: 1})
    assert counts.types == Counter({"A" if qtype == TYPE_A else "MX": 1})
