"""The resolver pool and its transport against tests/dnsstub.py on 127.0.0.1: every outcome
from a real packet exchange, TXT assembly, TCP fallback, EDNS fallback, retries and the
nameserver each goes to, the try deadline and late replies, forged replies, de-duplication
and its cancellation safety, the concurrency bound, sockets, no cache, no thread, and the qps
token bucket as a pure unit."""

import asyncio
import itertools
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dnslib import RR, DNSRecord

from survey.dns import pool as resolver
from survey.dns.outcome import TxtAnswer
from survey.dns.pool import (
    ResolverPool,
    ResolverSettings,
    TokenBucket,
    parse_nameserver,
    run,
    system_nameservers,
)
from survey.errors import InputError, ResolverError
from survey.schema.values import Outcome
from tests.dnsstub import DnsStub, Fault

pytestmark = pytest.mark.timeout(30)

BIG = [[bytes([ord("a") + i]) * 200] for i in range(8)]  # 8 RRs, about 1.7 kB on the wire
TXT = {
    "ok.test": [[b"hello"]],
    "split.test": [[b"v=spf1 ", b"include:_spf.example.net", b" -all"]],
    "two.test": [[b"first"], [b"second"]],
    "big.test": BIG,
    "target.test": [[b"v=DMARC1; p=reject"]],
    "binary.test": [[b"v=DMARC1; p=\xff\xfe; rua=mailto:d@\xe9xample.org"]],
}
CNAMES = {"alias.test": "target.test", "chain.test": "alias.test", "to-nodata.test": "nodata.test"}
CNAMES |= {"dangling.test": "missing.test", "loop-a.test": "loop-b.test"}
CNAMES |= {"loop-b.test": "loop-a.test"}


@pytest.fixture
def stub() -> Iterator[DnsStub]:
    with DnsStub(TXT, nodata=["nodata.test"], cnames=CNAMES) as server:
        yield server


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for `condition` (a server's or the pool's state), not for a length of time."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true"
        await asyncio.sleep(0.005)


def settings_for(stub: DnsStub, **overrides: object) -> ResolverSettings:
    values: dict = {"timeout": 0.3, "tries": 1, "backoff": 0.01} | overrides
    return ResolverSettings(nameservers=(stub.nameserver,), **values)


def ask(settings: ResolverSettings, *names: str) -> list[TxtAnswer]:
    async def main() -> list[TxtAnswer]:
        async with ResolverPool(settings) as pool:
            return list(await asyncio.gather(*(pool.txt(n) for n in names)))

    return run(main())


def ask_one(stub: DnsStub, name: str, **overrides: object) -> TxtAnswer:
    return ask(settings_for(stub, **overrides), name)[0]


# -- outcomes, each from a packet exchange ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fault", "outcome", "texts"),
    [
        ("ok.test", None, Outcome.OK, ("hello",)),
        ("nx.test", None, Outcome.NXDOMAIN, ()),
        ("nodata.test", None, Outcome.NODATA, ()),
        ("ok.test", Fault.SERVFAIL, Outcome.SERVFAIL, ()),
        ("ok.test", Fault.REFUSED, Outcome.REFUSED, ()),
        ("ok.test", Fault.DROP, Outcome.TIMEOUT, ()),
        ("ok.test", Fault.MALFORMED, Outcome.ERROR, ()),
        ("ok.test", Fault.NOTIMP, Outcome.ERROR, ()),
    ],
)
def test_outcome_of_a_reply(
    stub: DnsStub, name: str, fault: Fault | None, outcome: Outcome, texts: tuple[str, ...]
) -> None:
    if fault is not None:
        stub.fail(name, fault)
    answer = ask_one(stub, name)
    assert (answer.name, answer.outcome, answer.texts, answer.tries) == (name, outcome, texts, 1)
    assert stub.count(name, "udp") == 1


def test_a_name_that_cannot_go_on_the_wire_is_an_error(stub: DnsStub) -> None:
    answer = ask_one(stub, "x" * 64 + ".test")  # a label over 63 octets (RFC 1035 §2.3.4)
    assert answer.outcome is Outcome.ERROR
    assert stub.log == []


def test_a_port_where_nothing_listens_is_never_an_answer() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ResolverSettings(nameservers=(f"127.0.0.1:{port}",), timeout=2.0, tries=2)
    began = time.monotonic()
    (answer,) = ask(settings, "ok.test")
    # ICMP port unreachable ends the try at once (no waiting for the deadline), not retried.
    assert (answer.outcome, answer.tries) == (Outcome.ERROR, 1)
    assert time.monotonic() - began < settings.timeout


# -- TXT assembly ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "texts"),
    [
        ("split.test", ("v=spf1 include:_spf.example.net -all",)),  # RFC 7208 §3.3
        ("two.test", ("first", "second")),  # one text per RR
    ],
)
def test_character_strings_joined_per_record(stub: DnsStub, name: str, texts: tuple) -> None:
    answer = ask_one(stub, name)
    assert answer.outcome is Outcome.OK
    assert sorted(answer.texts) == sorted(texts)


def test_non_utf8_bytes_survive(stub: DnsStub) -> None:
    (text,) = ask_one(stub, "binary.test").texts
    assert text.encode("utf-8", "surrogateescape") == TXT["binary.test"][0][0]


@pytest.mark.parametrize(
    ("name", "outcome", "texts"),
    [
        ("alias.test", Outcome.OK, ("v=DMARC1; p=reject",)),
        ("chain.test", Outcome.OK, ("v=DMARC1; p=reject",)),  # two CNAMEs deep
        ("to-nodata.test", Outcome.NODATA, ()),  # the answer holds only the CNAME
        ("dangling.test", Outcome.NXDOMAIN, ()),
        ("loop-a.test", Outcome.NODATA, ()),
    ],
)
def test_cname_followed(stub: DnsStub, name: str, outcome: Outcome, texts: tuple) -> None:
    answer = ask_one(stub, name)
    assert (answer.outcome, answer.texts) == (outcome, texts)


@pytest.mark.parametrize(
    ("udp_max_payload", "records"),
    [(512, BIG[:3]), (1232, BIG)],  # over 512 bytes; over the EDNS payload the pool offers
)
def test_truncated_answer_arrives_whole_over_tcp(udp_max_payload: int, records: list) -> None:
    with DnsStub({"big.test": records}, udp_max_payload=udp_max_payload) as stub:
        answer = ask_one(stub, "big.test")
        assert answer.outcome is Outcome.OK
        assert sorted(answer.texts) == sorted(r[0].decode() for r in records)
        assert (stub.count("big.test", "udp"), stub.count("big.test", "tcp")) == (1, 1)


def test_queries_offer_edns(stub: DnsStub) -> None:
    ask_one(stub, "ok.test")
    assert [q.edns_payload for q in stub.log] == [1232]  # RFC 6891; DNS Flag Day 2020


@pytest.mark.parametrize("fault", [Fault.NO_EDNS, Fault.NO_EDNS_BARE])
def test_a_server_without_edns_is_asked_again_without_it(stub: DnsStub, fault: Fault) -> None:
    stub.fail("ok.test", fault)  # FORMERR, no OPT, to a query with EDNS (RFC 6891 §7)
    answer = ask_one(stub, "ok.test")
    assert (answer.outcome, answer.texts, answer.tries) == (Outcome.OK, ("hello",), 1)
    assert [q.edns_payload for q in stub.log] == [1232, None]


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "tries", "outcome", "queries"),
    [(2, 3, Outcome.OK, 3), (3, 3, Outcome.SERVFAIL, 3), (1, 1, Outcome.SERVFAIL, 1)],
)
def test_servfail_is_retried_within_tries(
    stub: DnsStub, failures: int, tries: int, outcome: Outcome, queries: int
) -> None:
    stub.fail("ok.test", Fault.SERVFAIL, times=failures)
    answer = ask_one(stub, "ok.test", tries=tries)
    assert (answer.outcome, answer.tries) == (outcome, queries)
    assert stub.count("ok.test") == queries


@pytest.mark.parametrize(
    ("name", "fault", "outcome"),
    [
        ("nx.test", None, Outcome.NXDOMAIN),
        ("nodata.test", None, Outcome.NODATA),
        ("ok.test", Fault.REFUSED, Outcome.REFUSED),
        ("ok.test", Fault.MALFORMED, Outcome.ERROR),
    ],
)
def test_definite_outcomes_are_not_retried(
    stub: DnsStub, name: str, fault: Fault | None, outcome: Outcome
) -> None:
    if fault is not None:
        stub.fail(name, fault)
    answer = ask_one(stub, name, tries=3)
    assert (answer.outcome, answer.tries, stub.count(name)) == (outcome, 1, 1)


def test_dropped_query_times_out_after_exactly_tries(stub: DnsStub) -> None:
    stub.fail("ok.test", Fault.DROP)
    answer = ask_one(stub, "ok.test", tries=3, timeout=0.2)
    assert (answer.outcome, answer.tries) == (Outcome.TIMEOUT, 3)
    assert stub.count("ok.test") == 3


@pytest.mark.parametrize("fault", [Fault.SERVFAIL, Fault.REFUSED, Fault.DROP])
def test_a_failing_nameserver_is_skipped_on_the_next_try(fault: Fault) -> None:
    # First tries take the nameservers in turn; a retry goes to the next one. REFUSED is a
    # nameserver's refusal, not the domain's answer: with another nameserver it is asked there.
    names = [f"n{i}.test" for i in range(10)]
    table = {n: [[b"x"]] for n in names}
    with DnsStub(table) as good, DnsStub(table) as bad:
        for name in names:
            bad.fail(name, fault)
        settings = ResolverSettings(
            nameservers=(bad.nameserver, good.nameserver), timeout=0.3, tries=2, backoff=0.01
        )
        answers = ask(settings, *names)
        assert {a.outcome for a in answers} == {Outcome.OK}
        assert len(good.log) == len(names)
        assert sorted(a.tries for a in answers) == [1] * 5 + [2] * 5
        assert len(bad.log) == 5


def test_refused_by_the_only_nameserver_is_final(stub: DnsStub) -> None:
    stub.fail("ok.test", Fault.REFUSED)
    answer = ask_one(stub, "ok.test", tries=3)
    assert (answer.outcome, answer.tries, stub.count("ok.test")) == (Outcome.REFUSED, 1, 1)


def test_first_tries_take_the_nameservers_in_turn() -> None:
    names = [f"n{i}.test" for i in range(10)]
    table = {n: [[b"x"]] for n in names}
    with DnsStub(table) as one, DnsStub(table) as two:
        settings = ResolverSettings(nameservers=(one.nameserver, two.nameserver), timeout=1.0)
        answers = ask(settings, *names)
        assert {(a.outcome, a.tries) for a in answers} == {(Outcome.OK, 1)}
        assert (len(one.log), len(two.log)) == (5, 5)


# -- the pool --------------------------------------------------------------------------------


def test_identical_inflight_questions_are_asked_once(stub: DnsStub) -> None:
    settings = settings_for(stub)

    async def main() -> tuple[list[TxtAnswer], Counter[Outcome]]:
        async with ResolverPool(settings) as pool:
            answers = await asyncio.gather(*(pool.txt("ok.test") for _ in range(100)))
            return answers, pool.stats

    answers, stats = run(main())
    assert stub.count("ok.test") == 1
    assert set(answers) == {TxtAnswer("ok.test", Outcome.OK, ("hello",), 1)}
    assert stats == Counter({Outcome.OK: 1})


def test_a_finished_question_is_asked_again(stub: DnsStub) -> None:
    settings = settings_for(stub)

    async def main() -> Counter[Outcome]:
        async with ResolverPool(settings) as pool:
            await pool.txt("ok.test")
            await pool.txt("ok.test")
            await pool.txt("nx.test")
            return pool.stats

    assert run(main()) == Counter({Outcome.OK: 2, Outcome.NXDOMAIN: 1})
    assert stub.count("ok.test") == 2


@pytest.mark.parametrize(("concurrency", "bounded"), [(3, True), (50, False)])
def test_concurrency_bound(concurrency: int, bounded: bool) -> None:
    names = [f"n{i}.test" for i in range(12)]
    with DnsStub({n: [[b"x"]] for n in names}, delay=0.05) as stub:
        settings = settings_for(stub, concurrency=concurrency, timeout=2.0)
        answers = ask(settings, *names)
        assert {a.outcome for a in answers} == {Outcome.OK}
        assert stub.max_outstanding > 1  # the delayed answers did overlap
        assert (stub.max_outstanding <= 3) is bounded  # the unbounded run shows the stub sees it


def test_a_caller_giving_up_leaves_a_shared_question_to_the_others() -> None:
    # scan.py cancels whole chunk tasks on SIGINT; a question shared with another chunk must
    # still be answered there.
    with DnsStub(TXT, delay=0.2) as stub:
        settings = settings_for(stub, timeout=2.0)

        async def chunk(pool: ResolverPool, *names: str) -> list[TxtAnswer]:
            return list(await asyncio.gather(*(pool.txt(n) for n in names)))

        async def main() -> tuple[list[TxtAnswer], bool, Counter[Outcome]]:
            async with ResolverPool(settings) as pool:
                stopped = asyncio.create_task(chunk(pool, "ok.test", "two.test"))
                kept = asyncio.create_task(chunk(pool, "ok.test"))
                alone = asyncio.create_task(chunk(pool, "ok.test"))
                await until(lambda: stub.count("ok.test") >= 1 and stub.count("two.test") >= 1)
                stopped.cancel()
                alone.cancel()
                answers = await kept
                # two.test, given up by its only caller, still ends
                await until(lambda: sum(pool.stats.values()) >= 2)
                return answers, stopped.cancelled() and alone.cancelled(), pool.stats

        answers, cancelled, stats = run(main())
        assert answers == [TxtAnswer("ok.test", Outcome.OK, ("hello",), 1)]
        assert cancelled
        assert stub.count("ok.test") == 1
        assert stats == Counter({Outcome.OK: 2})


def test_closing_cancels_the_questions_in_flight() -> None:
    with DnsStub(TXT, delay=0.3) as stub:

        async def main() -> tuple[bool, TxtAnswer]:
            pool = ResolverPool(settings_for(stub, timeout=2.0))
            pending = pool.txt("ok.test")
            await until(lambda: stub.count("ok.test") >= 1)
            await pool.close()
            await until(lambda: stub.replies >= 1)  # the late reply meets a closed pool quietly
            await asyncio.sleep(0)  # one turn of the loop after it: nothing reads it, no error
            async with ResolverPool(settings_for(stub, timeout=2.0)) as fresh:
                return pending.cancelled(), await fresh.txt("two.test")

        cancelled, answer = run(main())
        assert cancelled
        assert answer.outcome is Outcome.OK


def test_the_deadline_ends_a_try_and_its_late_reply_is_stray() -> None:
    with DnsStub(TXT, delay=0.4) as stub:  # every reply comes after the try's deadline
        settings = settings_for(stub, timeout=0.25, tries=2)

        async def main() -> tuple[TxtAnswer, float, Counter[Outcome], int]:
            async with ResolverPool(settings) as pool:
                began = time.monotonic()
                answer = await pool.txt("ok.test")
                elapsed = time.monotonic() - began
                transport = pool.transport
                assert transport is not None
                # Both late replies arrive, to a pool that gave up.
                await until(lambda: transport.stray >= 2)
                return answer, elapsed, pool.stats, transport.stray

        answer, elapsed, stats, stray = run(main())
        assert (answer.outcome, answer.tries, stub.count("ok.test")) == (Outcome.TIMEOUT, 2, 2)
        assert 2 * 0.25 <= elapsed < 2 * 0.25 + settings.backoff + 2 * resolver.TICK + 0.15
        assert stats == Counter({Outcome.TIMEOUT: 1})
        assert stray == 2


def test_no_answer_is_cached() -> None:
    # A monthly scan must see today's records: even with a long TTL, asking again asks again.
    with DnsStub(TXT, ttl=3600) as stub:

        async def main() -> list[TxtAnswer]:
            async with ResolverPool(settings_for(stub)) as pool:
                return [await pool.txt(n) for n in ("ok.test", "ok.test", "ok.test")]

        assert {a.outcome for a in run(main())} == {Outcome.OK}
        assert stub.count("ok.test") == 3


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_closing_the_pool_closes_its_sockets(stub: DnsStub) -> None:
    async def main() -> tuple[int, int, int]:
        before = open_fds()
        async with ResolverPool(settings_for(stub)) as pool:
            await asyncio.gather(*(pool.txt(f"n{i}.test") for i in range(40)))
            during = open_fds()
        return before, during, open_fds()

    before, during, after = run(main())
    assert during > before  # the sockets were open while asking
    assert after == before


def forging_server(port_out: list[int], ready: threading.Event) -> None:
    """Answers one query with three datagrams: the wrong ID, the right ID for another
    question, then the real reply (built by dnslib from the query)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port_out.append(sock.getsockname()[1])
        ready.set()
        sock.settimeout(5)
        data, peer = sock.recvfrom(4096)
        query = DNSRecord.parse(data)
        wrong_id = query.reply()
        wrong_id.header.id = (query.header.id + 1) % 65536
        wrong_id.add_answer(*RR.fromZone('ok.test. 0 IN TXT "forged"'))
        other = DNSRecord.question("other.test", "TXT").reply()
        other.header.id = query.header.id
        other.add_answer(*RR.fromZone('other.test. 0 IN TXT "forged"'))
        real = query.reply()
        real.add_answer(*RR.fromZone('ok.test. 0 IN TXT "real"'))
        for reply in (wrong_id, other, real):
            sock.sendto(reply.pack(), peer)


def test_forged_and_stray_replies_are_ignored() -> None:
    port: list[int] = []
    ready = threading.Event()
    server = threading.Thread(target=forging_server, args=(port, ready), daemon=True)
    server.start()
    ready.wait(5)

    async def main() -> tuple[TxtAnswer, int]:
        settings = ResolverSettings(nameservers=(f"127.0.0.1:{port[0]}",), timeout=2.0)
        async with ResolverPool(settings) as pool:
            answer = await pool.txt("ok.test")
            assert pool.transport is not None
            return answer, pool.transport.stray

    answer, stray = run(main())
    server.join(5)
    assert (answer.outcome, answer.texts) == (Outcome.OK, ("real",))
    assert stray == 2


def native_threads() -> int:
    """Threads of this process that Python did not start (a C resolver's event thread)."""
    return len(os.listdir("/proc/self/task")) - threading.active_count()


def test_no_event_thread(stub: DnsStub) -> None:
    names = [f"n{i}.test" for i in range(20)]
    for name in names:
        stub.fail(name, Fault.DROP)  # the stub's threads end at once; the queries stay open

    async def main() -> tuple[int, int]:
        before = native_threads()
        async with ResolverPool(settings_for(stub, timeout=0.5)) as pool:
            pending = asyncio.gather(*(pool.txt(n) for n in names))
            await until(lambda: all(stub.count(n) >= 1 for n in names))  # all in flight
            during = native_threads()
            await pending
        return before, during

    before, during = run(main())
    assert during == before
    assert stub.count("n0.test") == 1


def test_sockets_get_the_larger_receive_buffer(stub: DnsStub) -> None:
    stub.fail("ok.test", Fault.DROP)

    async def main() -> int:
        async with ResolverPool(settings_for(stub)) as pool:
            pending = pool.txt("ok.test")
            await until(lambda: stub.count("ok.test") >= 1)
            assert pool.transport is not None
            sizes = {
                udp.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
                for group in pool.transport._sockets
                for udp in group
            }
            (size,) = sizes
            await pending
            return size

    with open("/proc/sys/net/core/rmem_max") as limit:
        rmem_max = int(limit.read())
    assert run(main()) >= min(resolver.RECEIVE_BUFFER, rmem_max)


def test_a_bug_reading_a_reply_reaches_the_caller(
    monkeypatch: pytest.MonkeyPatch, stub: DnsStub
) -> None:
    def broken(reply: bytes, question: bytes) -> tuple[Outcome, tuple[str, ...]]:
        raise LookupError("bug")

    monkeypatch.setattr(resolver, "read_txt", broken)
    with pytest.raises(LookupError, match="bug"):
        ask_one(stub, "ok.test")


def test_qps_cap_still_answers(stub: DnsStub) -> None:
    answers = ask(settings_for(stub, qps=500.0), "ok.test", "two.test", "nx.test")
    assert [a.outcome for a in answers] == [Outcome.OK, Outcome.OK, Outcome.NXDOMAIN]


def test_closed_pool_refuses_questions() -> None:
    async def main() -> None:
        pool = ResolverPool(ResolverSettings(nameservers=("127.0.0.1:9",)))
        await pool.close()
        await pool.txt("ok.test")

    with pytest.raises(ResolverError, match="closed"):
        run(main())


def test_run_uses_uvloop() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert run(loop_module()).startswith("uvloop")


# -- the qps token bucket, with a fake clock -------------------------------------------------


def send_times(bucket: TokenBucket, arrivals: list[float]) -> list[float]:
    return [now + bucket.reserve(now) for now in arrivals]


def test_bucket_spaces_a_burst_of_reservations() -> None:
    times = send_times(TokenBucket(rate=5.0), [0.0] * 10)
    assert times == pytest.approx([i * 0.2 for i in range(10)])


@pytest.mark.parametrize(("rate", "burst"), [(5.0, 1.0), (100.0, 10.0), (0.5, 1.0)])
def test_bucket_never_exceeds_rate_plus_burst(rate: float, burst: float) -> None:
    arrivals = sorted((i * 7919 % 1000) / 100 for i in range(500))  # 500 arrivals in 10 s
    times = send_times(TokenBucket(rate=rate, burst=burst), arrivals)
    assert times == sorted(times)
    for start in itertools.islice(times, 0, None, 25):
        in_window = sum(start <= t < start + 1.0 for t in times)
        assert in_window <= rate + burst


def test_bucket_refill_is_capped_at_burst() -> None:
    bucket = TokenBucket(rate=5.0, burst=2.0)
    assert send_times(bucket, [0.0]) == [0.0]
    assert send_times(bucket, [100.0] * 4) == pytest.approx([100.0, 100.0, 100.2, 100.4])


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1", "127.0.0.1:53"),
        ("127.0.0.1:5353", "127.0.0.1:5353"),
        (" 127.0.0.1:53 ", "127.0.0.1:53"),
        ("::1", "[::1]:53"),
        ("[::1]", "[::1]:53"),
        ("[::1]:5353", "[::1]:5353"),
        ("2001:DB8::1", "[2001:db8::1]:53"),
    ],
)
def test_parse_nameserver(text: str, parsed: str) -> None:
    assert parse_nameserver(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "localhost",
        "dns.google:53",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:5x",
        "127.0.0.1:５３",  # non-ASCII digits
        "[127.0.0.1]:53",
        "[::1]:",
        "::1:53:",
        "256.0.0.1",
    ],
)
def test_parse_nameserver_rejects(text: str) -> None:
    with pytest.raises(InputError, match="nameserver"):
        parse_nameserver(text)


def test_settings_normalise_nameservers() -> None:
    settings = ResolverSettings(nameservers=("127.0.0.1", "::1"))
    assert settings.nameservers == ("127.0.0.1:53", "[::1]:53")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
        ({"tries": 0}, "tries"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"qps": 0}, "qps"),
        ({"qps": -1.0}, "qps"),
        ({"backoff": -0.1}, "backoff"),
    ],
)
def test_settings_rejected(overrides: dict, message: str) -> None:
    with pytest.raises(ResolverError, match=message):
        ResolverSettings(**overrides)


def test_settings_reject_a_bad_nameserver() -> None:
    with pytest.raises(InputError, match="not an IP address"):
        ResolverSettings(nameservers=("resolver.example",))
    with pytest.raises(InputError, match="sequence"):
        ResolverSettings(nameservers="127.0.0.1")  # type: ignore[arg-type]


def test_backoff_doubles() -> None:
    settings = ResolverSettings(backoff=0.2)
    assert [settings.backoff_before(n) for n in (1, 2, 3, 4)] == [0.0, 0.2, 0.4, 0.8]


def test_system_nameservers_read_resolv_conf(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "# comment\nsearch example.com\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\n"
        "nameserver not-an-address\nnameserver ::1\noptions edns0\n"
    )
    assert system_nameservers(conf) == ("127.0.0.53:53", "[fe80::1]:53", "[::1]:53")


@pytest.mark.parametrize("text", ["", "search example.com\n", None])
def test_system_nameservers_default_to_loopback(tmp_path: Path, text: str | None) -> None:
    conf = tmp_path / "resolv.conf"
    if text is not None:
        conf.write_text(text)
    assert system_nameservers(conf) == ("127.0.0.1:53",)
