"""The resolver pool and its transports.

Against tests/dnsstub.py on 127.0.0.1, with both DNS clients behind the seam (`survey`, our
own sockets and codec; `aiodns`, c-ares): every outcome from a real packet exchange, TXT
assembly, TCP fallback, EDNS fallback, de-duplication and its cancellation safety, the
concurrency bound, no cache, source ports that change. Our own transport only: forged,
stray and malformed replies, the FORMERR rule, sockets, no thread.

On a virtual clock with a transport built from a plain function (`survey.dns.fake`): what
the pool decides in time, at exact virtual times: retries, backoff and its jitter, the
nameserver each try goes to, deadlines and late replies, unreadable replies, the rate cap.
"""

import asyncio
import contextlib
import functools
import itertools
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dnslib import RCODE, RR, DNSRecord

from survey.dns import pool as resolver
from survey.dns.cares import CaresTransport
from survey.dns.fake import FakeTransport, Sent, fake_transport, reply, run_virtual
from survey.dns.loop import run
from survey.dns.outcome import TxtAnswer
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings, parse_nameserver, system_nameservers
from survey.dns.timing import JITTER, TokenBucket
from survey.dns.transport import RECEIVE_BUFFER, Transport
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
CARES_CACHES = (
    "c-ares keeps a query cache for answers with a TTL that pycares cannot switch off "
    "(survey/dns/cares.py)"
)


@pytest.fixture(params=["survey", "aiodns"])
def client(request: pytest.FixtureRequest) -> str:
    """Each DNS client behind the pool's seam."""
    return str(request.param)


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


def settings_for(stub: DnsStub, client: str = "survey", **overrides: object) -> ResolverSettings:
    values: dict = {"timeout": 0.3, "tries": 1, "backoff": 0.01} | overrides
    return ResolverSettings(nameservers=(stub.nameserver,), client=client, **values)


def ask(settings: ResolverSettings, *names: str, **pool_args: object) -> list[TxtAnswer]:
    async def main() -> list[TxtAnswer]:
        async with ResolverPool(settings, **pool_args) as pool:  # type: ignore[arg-type]
            return list(await asyncio.gather(*(pool.txt(n) for n in names)))

    return run(main())


def ask_one(stub: DnsStub, name: str, client: str = "survey", **overrides: object) -> TxtAnswer:
    return ask(settings_for(stub, client, **overrides), name)[0]


# -- outcomes, each from a packet exchange, through both clients ------------------------------


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
    stub: DnsStub,
    client: str,
    name: str,
    fault: Fault | None,
    outcome: Outcome,
    texts: tuple[str, ...],
) -> None:
    if fault is not None:
        stub.fail(name, fault)
    answer = ask_one(stub, name, client)
    assert (answer.name, answer.outcome, answer.texts, answer.tries) == (name, outcome, texts, 1)
    assert stub.count(name, "udp") == 1


def test_a_name_that_cannot_go_on_the_wire_is_an_error(stub: DnsStub, client: str) -> None:
    answer = ask_one(stub, "x" * 64 + ".test", client)  # a label over 63 octets (RFC 1035 §2.3.4)
    assert answer.outcome is Outcome.ERROR
    assert stub.log == []


def test_a_port_where_nothing_listens_is_never_an_answer(client: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ResolverSettings(
        nameservers=(f"127.0.0.1:{port}",), timeout=2.0, tries=2, client=client
    )
    (answer,) = ask(settings, "ok.test")
    # ICMP port unreachable ends the try at once (the pool's deadline would say timeout),
    # and is not retried.
    assert (answer.outcome, answer.tries) == (Outcome.ERROR, 1)


# -- TXT assembly ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "texts"),
    [
        ("split.test", ("v=spf1 include:_spf.example.net -all",)),  # RFC 7208 §3.3
        ("two.test", ("first", "second")),  # one text per RR
    ],
)
def test_character_strings_joined_per_record(
    stub: DnsStub, client: str, name: str, texts: tuple
) -> None:
    answer = ask_one(stub, name, client)
    assert answer.outcome is Outcome.OK
    assert sorted(answer.texts) == sorted(texts)


def test_non_utf8_bytes_survive(stub: DnsStub, client: str) -> None:
    (text,) = ask_one(stub, "binary.test", client).texts
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
def test_cname_followed(
    stub: DnsStub, client: str, name: str, outcome: Outcome, texts: tuple
) -> None:
    answer = ask_one(stub, name, client)
    assert (answer.outcome, answer.texts) == (outcome, texts)


@pytest.mark.parametrize(
    ("udp_max_payload", "records"),
    [(512, BIG[:3]), (1232, BIG)],  # over 512 bytes; over the EDNS payload the pool offers
)
def test_truncated_answer_arrives_whole_over_tcp(
    client: str, udp_max_payload: int, records: list
) -> None:
    with DnsStub({"big.test": records}, udp_max_payload=udp_max_payload) as stub:
        answer = ask_one(stub, "big.test", client)
        assert answer.outcome is Outcome.OK
        assert sorted(answer.texts) == sorted(r[0].decode() for r in records)
        assert (stub.count("big.test", "udp"), stub.count("big.test", "tcp")) == (1, 1)


def test_queries_offer_edns(stub: DnsStub, client: str) -> None:
    ask_one(stub, "ok.test", client)
    assert [q.edns_payload for q in stub.log] == [1232]  # RFC 6891; DNS Flag Day 2020


def test_a_server_without_edns_is_asked_again_without_it(stub: DnsStub, client: str) -> None:
    stub.fail("ok.test", Fault.NO_EDNS)  # FORMERR, no OPT, the question echoed (RFC 6891 §7)
    answer = ask_one(stub, "ok.test", client)
    assert (answer.outcome, answer.texts, answer.tries) == (Outcome.OK, ("hello",), 1)
    assert [q.edns_payload for q in stub.log] == [1232, None]


# -- the pool on real sockets, through both clients ------------------------------------------


def test_identical_inflight_questions_are_asked_once(stub: DnsStub, client: str) -> None:
    settings = settings_for(stub, client)

    async def main() -> tuple[list[TxtAnswer], Counter[Outcome]]:
        async with ResolverPool(settings) as pool:
            answers = await asyncio.gather(*(pool.txt("ok.test") for _ in range(100)))
            return answers, pool.stats

    answers, stats = run(main())
    assert stub.count("ok.test") == 1
    assert set(answers) == {TxtAnswer("ok.test", Outcome.OK, ("hello",), 1)}
    assert stats == Counter({Outcome.OK: 1})


def test_a_finished_question_is_asked_again(stub: DnsStub, client: str) -> None:
    settings = settings_for(stub, client)

    async def main() -> Counter[Outcome]:
        async with ResolverPool(settings) as pool:
            await pool.txt("ok.test")
            await pool.txt("ok.test")
            await pool.txt("nx.test")
            return pool.stats

    assert run(main()) == Counter({Outcome.OK: 2, Outcome.NXDOMAIN: 1})
    assert stub.count("ok.test") == 2


@pytest.mark.parametrize(("concurrency", "bounded"), [(3, True), (50, False)])
def test_concurrency_bound(client: str, concurrency: int, bounded: bool) -> None:
    names = [f"n{i}.test" for i in range(12)]
    with DnsStub({n: [[b"x"]] for n in names}, delay=0.05) as stub:
        settings = settings_for(stub, client, concurrency=concurrency, timeout=2.0)
        answers = ask(settings, *names)
        assert {a.outcome for a in answers} == {Outcome.OK}
        assert stub.max_outstanding > 1  # the delayed answers did overlap
        assert (stub.max_outstanding <= 3) is bounded  # the unbounded run shows the stub sees it


def test_a_caller_giving_up_leaves_a_shared_question_to_the_others(client: str) -> None:
    # The scan cancels whole chunk tasks on SIGINT; a question shared with another chunk must
    # still be answered there.
    with DnsStub(TXT, delay=0.2) as stub:
        settings = settings_for(stub, client, timeout=2.0)

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


def test_closing_cancels_the_questions_in_flight(client: str) -> None:
    with DnsStub(TXT, delay=0.3) as stub:

        async def main() -> tuple[bool, TxtAnswer]:
            pool = ResolverPool(settings_for(stub, client, timeout=2.0))
            pending = pool.txt("ok.test")
            await until(lambda: stub.count("ok.test") >= 1)
            await pool.close()
            await until(lambda: stub.replies >= 1)  # the late reply meets a closed pool quietly
            await asyncio.sleep(0)  # one turn of the loop after it: nothing reads it, no error
            async with ResolverPool(settings_for(stub, client, timeout=2.0)) as fresh:
                return pending.cancelled(), await fresh.txt("two.test")

        cancelled, answer = run(main())
        assert cancelled
        assert answer.outcome is Outcome.OK


@pytest.mark.parametrize(
    "client",
    ["survey", pytest.param("aiodns", marks=pytest.mark.xfail(strict=True, reason=CARES_CACHES))],
)
def test_no_answer_is_cached(client: str) -> None:
    # A monthly scan must see today's records: even with a long TTL, asking again asks again.
    with DnsStub(TXT, ttl=3600) as stub:

        async def main() -> list[TxtAnswer]:
            async with ResolverPool(settings_for(stub, client)) as pool:
                return [await pool.txt(n) for n in ("ok.test", "ok.test", "ok.test")]

        assert {a.outcome for a in run(main())} == {Outcome.OK}
        assert stub.count("ok.test") == 3


@pytest.mark.parametrize(
    ("queries", "seconds"),
    [(5, 3600.0), (10**9, 0.0)],  # a fresh port every 5 queries; every query (its time is up)
)
def test_source_ports_change_and_nothing_is_lost(client: str, queries: int, seconds: float) -> None:
    # RFC 5452 §9.2. Delayed answers: queries are still pending on a socket when it is
    # replaced, and must be answered there before it closes.
    names = [f"n{i}.test" for i in range(60)]
    factory = CaresTransport if client == "aiodns" else Transport
    rotating = functools.partial(factory, rotate_queries=queries, rotate_seconds=seconds)
    with DnsStub({n: [[n.encode()]] for n in names}, delay=0.05) as stub:
        settings = settings_for(stub, client, timeout=5.0, concurrency=20)

        async def main() -> tuple[list[TxtAnswer], int, int]:
            before = open_fds()
            async with ResolverPool(settings, transport=rotating) as pool:
                answers = await asyncio.gather(*(pool.txt(n) for n in names))
                opened = pool.transport.opened  # type: ignore[union-attr]
            return list(answers), opened, open_fds() - before

        answers, opened, left_open = run(main())
        assert [(a.outcome, a.texts) for a in answers] == [(Outcome.OK, (n,)) for n in names]
        assert stub.max_outstanding > 1  # replies were pending while sockets were replaced
        ports = {q.client_port for q in stub.log}
        least = len(names) // queries if queries < len(names) else len(names)
        # The kernel picks each new socket's port at random among ~28,000 and may pick one a
        # closed socket had: 60 sockets share a port about one run in 16 (the birthday bound).
        assert opened >= least and len(ports) >= least - 3
        if client == "survey":  # c-ares closes its sockets on a thread of its own, later
            assert left_open == 0


# -- our own transport: forged, stray, malformed and FORMERR ---------------------------------


def serve_once(
    script: Callable[[DNSRecord], list[bytes]], port_out: list[int], stop: threading.Event
) -> threading.Thread:
    """A UDP server on 127.0.0.1 that answers the first query with the datagrams `script`
    builds from it (dnslib), then takes any further query without answering until `stop`
    (a closed port would make the kernel answer with ICMP port unreachable)."""
    ready = threading.Event()

    def serve() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port_out.append(sock.getsockname()[1])
            ready.set()
            sock.settimeout(5)
            data, peer = sock.recvfrom(4096)
            for datagram in script(DNSRecord.parse(data)):
                sock.sendto(datagram, peer)
            sock.settimeout(0.05)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    sock.recvfrom(4096)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    return thread


def ask_scripted(script: Callable[[DNSRecord], list[bytes]]) -> tuple[TxtAnswer, Transport]:
    port: list[int] = []
    stop = threading.Event()
    server = serve_once(script, port, stop)

    async def main() -> tuple[TxtAnswer, Transport]:
        settings = ResolverSettings(nameservers=(f"127.0.0.1:{port[0]}",), timeout=2.0, tries=1)
        async with ResolverPool(settings) as pool:
            answer = await pool.txt("ok.test")
            assert isinstance(pool.transport, Transport)
            return answer, pool.transport

    try:
        answer, transport = run(main())
    finally:
        stop.set()
        server.join(5)
    return answer, transport


def real_reply(query: DNSRecord, text: str) -> bytes:
    answer = query.reply()
    answer.add_answer(*RR.fromZone(f'ok.test. 0 IN TXT "{text}"'))
    return answer.pack()


def test_forged_and_stray_replies_are_ignored() -> None:
    def forge(query: DNSRecord) -> list[bytes]:
        wrong_id = query.reply()
        wrong_id.header.id = (query.header.id + 1) % 65536
        wrong_id.add_answer(*RR.fromZone('ok.test. 0 IN TXT "forged"'))
        other = DNSRecord.question("other.test", "TXT").reply()
        other.header.id = query.header.id
        other.add_answer(*RR.fromZone('other.test. 0 IN TXT "forged"'))
        return [wrong_id.pack(), other.pack(), real_reply(query, "real")]

    answer, transport = ask_scripted(forge)
    assert (answer.outcome, answer.texts) == (Outcome.OK, ("real",))
    assert (transport.stray, transport.malformed) == (2, 0)


def test_a_cut_copy_before_the_real_reply_does_not_end_the_try() -> None:
    # The cut copy echoes the question and has our ID: it is counted, and the try waits on.
    def cut_first(query: DNSRecord) -> list[bytes]:
        real = real_reply(query, "real")
        return [real[:-3], real]

    answer, transport = ask_scripted(cut_first)
    assert (answer.outcome, answer.texts, answer.tries) == (Outcome.OK, ("real",), 1)
    assert (transport.malformed, transport.stray) == (1, 0)


def bare_formerr(query: DNSRecord) -> bytes:
    formerr = query.reply()
    formerr.header.rcode = RCODE.FORMERR
    formerr.questions = []
    formerr.ar = []
    return formerr.pack()


def test_a_forged_bare_formerr_cannot_switch_edns_off() -> None:
    # A FORMERR without the question needs only the ID to forge: it is no reply, and the
    # real reply to the EDNS query is still taken when it comes.
    def forge(query: DNSRecord) -> list[bytes]:
        assert any(rr.rtype == 41 for rr in query.ar)  # the query offered EDNS
        return [bare_formerr(query), real_reply(query, "with-edns")]

    answer, transport = ask_scripted(forge)
    assert (answer.outcome, answer.texts) == (Outcome.OK, ("with-edns",))
    assert transport.stray == 1


def test_an_old_server_sending_a_bare_formerr_still_answers(stub: DnsStub) -> None:
    # RFC 6891 §7: a server that cannot parse an OPT record may answer FORMERR without the
    # question; the question goes out without EDNS beside it, within the same try.
    stub.fail("ok.test", Fault.NO_EDNS_BARE)
    answer = ask_one(stub, "ok.test")
    assert (answer.outcome, answer.texts, answer.tries) == (Outcome.OK, ("hello",), 1)
    assert [q.edns_payload for q in stub.log] == [1232, None]


@pytest.mark.parametrize("fault", [Fault.NO_EDNS_BARE, Fault.MALFORMED])
def test_c_ares_ends_its_query_on_a_reply_it_cannot_read(stub: DnsStub, fault: Fault) -> None:
    # What cares.py states c-ares does on its own: EBADRESP at once, counted as malformed,
    # and the retry asks with EDNS again (an old server that drops the question is lost).
    stub.fail("ok.test", fault)

    async def main() -> tuple[TxtAnswer, int]:
        async with ResolverPool(settings_for(stub, "aiodns", tries=2, timeout=2.0)) as pool:
            return await pool.txt("ok.test"), pool.counts().malformed

    answer, malformed = run(main())
    assert (answer.outcome, answer.tries, malformed) == (Outcome.ERROR, 2, 2)
    assert [q.edns_payload for q in stub.log] == [1232, 1232]


def test_the_deadline_makes_a_late_reply_stray() -> None:
    with DnsStub(TXT, delay=0.4) as stub:  # every reply comes after the try's deadline
        settings = settings_for(stub, timeout=0.25, tries=2)

        async def main() -> tuple[TxtAnswer, int]:
            async with ResolverPool(settings) as pool:
                answer = await pool.txt("ok.test")
                transport = pool.transport
                assert transport is not None
                await until(lambda: transport.stray >= 2)  # both late replies arrive
                return answer, transport.stray

        answer, stray = run(main())
        assert (answer.outcome, answer.tries, stub.count("ok.test")) == (Outcome.TIMEOUT, 2, 2)
        assert stray == 2


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


def native_threads() -> int:
    """Threads of this process that Python did not start (a C resolver's event thread)."""
    return len(os.listdir("/proc/self/task")) - threading.active_count()


async def steady_native_threads() -> int:
    """The fewest native threads over a few looks: a Python thread that is just ending (a stub
    handler's) leaves threading's list a moment before the kernel's, and counts as native in
    that moment; an event thread stays."""
    seen = []
    for _ in range(5):
        seen.append(native_threads())
        await asyncio.sleep(0.01)
    return min(seen)


def test_no_event_thread(stub: DnsStub) -> None:
    names = [f"n{i}.test" for i in range(20)]
    for name in names:
        stub.fail(name, Fault.DROP)  # the stub's threads end at once; the queries stay open

    async def main() -> tuple[int, int]:
        before = await steady_native_threads()
        async with ResolverPool(settings_for(stub, timeout=0.5)) as pool:
            pending = asyncio.gather(*(pool.txt(n) for n in names))
            await until(lambda: all(stub.count(n) >= 1 for n in names))  # all in flight
            during = await steady_native_threads()
            await pending
        return before, during

    before, during = run(main())
    assert during <= before  # none started (a leftover of an earlier test may end meanwhile)
    assert stub.count("n0.test") == 1


def test_sockets_get_the_larger_receive_buffer(stub: DnsStub) -> None:
    stub.fail("ok.test", Fault.DROP)

    async def main() -> int:
        async with ResolverPool(settings_for(stub)) as pool:
            pending = pool.txt("ok.test")
            await until(lambda: stub.count("ok.test") >= 1)
            assert isinstance(pool.transport, Transport)
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
    assert run(main()) >= min(RECEIVE_BUFFER, rmem_max)


def test_a_bug_reading_a_reply_reaches_the_caller(
    monkeypatch: pytest.MonkeyPatch, stub: DnsStub
) -> None:
    def broken(reply: bytes, question: bytes) -> tuple[Outcome, tuple[str, ...]]:
        raise LookupError("bug")

    monkeypatch.setattr(resolver, "read_answer", broken)
    with pytest.raises(LookupError, match="bug"):
        ask_one(stub, "ok.test")


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


# -- the pool's decisions in time: a fake transport on a virtual clock ---------------------


class Draws(random.Random):
    """A random source whose draws are given: 0.5 makes the jitter factor exactly 1."""

    def __init__(self, *values: float) -> None:
        super().__init__()
        self.values = itertools.cycle(values or (0.5,))

    def random(self) -> float:
        return next(self.values)


NAMESERVERS = ("127.0.0.1:53", "127.0.0.2:53", "127.0.0.3:53")


def virtual(
    answer: Callable[[str, int, int], object],
    *names: str,
    rng: random.Random | None = None,
    **overrides: object,
) -> tuple[list[TxtAnswer], list[float], FakeTransport, ResolverPool]:
    """Ask `names` of a pool on a fake transport and a virtual clock: the answers, the virtual
    time each one came at, the transport (what was sent, when) and the pool (its counts)."""
    values: dict = {"nameservers": NAMESERVERS[:1], "timeout": 2.0, "tries": 3} | overrides
    settings = ResolverSettings(**values)

    async def main() -> tuple[list[TxtAnswer], list[float], FakeTransport, ResolverPool]:
        loop = asyncio.get_running_loop()
        times: list[float] = [0.0] * len(names)

        async def one(i: int, name: str) -> TxtAnswer:
            answer_ = await pool.txt(name)
            times[i] = loop.time()
            return answer_

        pool = ResolverPool(settings, fake_transport(answer), rng or Draws())  # type: ignore[arg-type]
        async with pool:
            answers = await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))
            assert isinstance(pool.transport, FakeTransport)
            return list(answers), times, pool.transport, pool

    return run_virtual(main())


def ok(name: str, *_: object) -> bytes:
    return reply(name, "hello")


@pytest.mark.parametrize(
    ("failures", "tries", "outcome", "sends"),
    [
        (2, 3, Outcome.OK, [0.0, 0.2, 0.6]),  # backoff 0.2, doubled: 0.2 then 0.4 after it
        (3, 3, Outcome.SERVFAIL, [0.0, 0.2, 0.6]),
        (1, 1, Outcome.SERVFAIL, [0.0]),
    ],
)
def test_servfail_is_retried_within_tries_after_the_backoff(
    failures: int, tries: int, outcome: Outcome, sends: list[float]
) -> None:
    def answer(name: str, server: int, number: int) -> object:
        return Outcome.SERVFAIL if number <= failures else ok(name)

    (got,), (ended,), transport, pool = virtual(answer, "ok.test", tries=tries, backoff=0.2)
    assert (got.outcome, got.tries) == (outcome, len(sends))
    assert [s.time for s in transport.sent] == pytest.approx(sends, abs=1e-9)
    assert ended == pytest.approx(sends[-1], abs=1e-9)
    assert pool.try_stats[Outcome.SERVFAIL] == min(failures, tries)


def test_a_dropped_query_times_out_after_exactly_its_tries() -> None:
    # 3 tries of 2 s, with 0.2 s and 0.4 s of backoff between them: over at 6.6 s exactly.
    (got,), (ended,), transport, _ = virtual(lambda *_: None, "ok.test", backoff=0.2)
    assert (got.outcome, got.tries) == (Outcome.TIMEOUT, 3)
    assert [s.time for s in transport.sent] == pytest.approx([0.0, 2.2, 4.6], abs=1e-9)
    assert ended == pytest.approx(6.6, abs=1e-9)


@pytest.mark.parametrize(
    ("event", "outcome"),
    [
        (Outcome.NXDOMAIN, Outcome.NXDOMAIN),
        (Outcome.NODATA, Outcome.NODATA),
        (Outcome.REFUSED, Outcome.REFUSED),  # the only nameserver refused: final
        (Outcome.ERROR, Outcome.ERROR),  # a transport failure (port unreachable)
    ],
)
def test_definite_outcomes_are_not_retried(event: Outcome, outcome: Outcome) -> None:
    (got,), (ended,), transport, _ = virtual(lambda *_: event, "ok.test")
    assert (got.outcome, got.tries, len(transport.sent), ended) == (outcome, 1, 1, 0.0)


def test_first_tries_take_the_nameservers_in_turn_and_a_retry_the_next() -> None:
    names = [f"n{i}.test" for i in range(6)]

    def answer(name: str, server: int, number: int) -> object:
        return Outcome.SERVFAIL if name == "n1.test" and number == 1 else ok(name)

    answers, _, transport, _ = virtual(answer, *names, nameservers=NAMESERVERS)
    first = [(s.name, s.server) for s in transport.sent if s.number == 1]
    assert first == [(n, i % 3) for i, n in enumerate(names)]
    assert [(s.name, s.server) for s in transport.sent if s.number == 2] == [("n1.test", 2)]
    assert {a.outcome for a in answers} == {Outcome.OK}


@pytest.mark.parametrize("event", [Outcome.SERVFAIL, Outcome.REFUSED, None])
def test_a_failing_nameserver_is_skipped_on_the_next_try(event: Outcome | None) -> None:
    # REFUSED is a nameserver's refusal, not the domain's answer: with another nameserver it
    # is asked there.
    names = [f"n{i}.test" for i in range(10)]

    def answer(name: str, server: int, number: int) -> object:
        return event if server == 0 else ok(name)

    answers, _, transport, _ = virtual(answer, *names, nameservers=NAMESERVERS[:2], tries=2)
    assert {a.outcome for a in answers} == {Outcome.OK}
    assert sorted(a.tries for a in answers) == [1] * 5 + [2] * 5
    assert sum(s.server == 0 for s in transport.sent) == 5


def test_a_reply_after_the_deadline_is_stray() -> None:
    def late(name: str, *_: object) -> object:
        return (2.5, ok(name))  # half a second after the 2 s deadline

    (got,), (ended,), transport, pool = virtual(late, "ok.test", tries=2, backoff=0.2)
    assert (got.outcome, got.tries) == (Outcome.TIMEOUT, 2)
    assert ended == pytest.approx(4.2, abs=1e-9)
    assert transport.stray == 1  # the second try's late reply came after the pool closed
    assert pool.stats == Counter({Outcome.TIMEOUT: 1})


def test_a_reply_just_before_the_deadline_is_taken() -> None:
    (got,), (ended,), _, _ = virtual(lambda name, *_: (1.999, ok(name)), "ok.test")
    assert (got.outcome, got.tries) == (Outcome.OK, 1)
    assert ended == pytest.approx(1.999, abs=1e-9)


def cut(name: str) -> bytes:
    return ok(name)[:-3]  # echoes the question; its TXT record runs past the end


def test_an_unreadable_reply_before_the_real_one_does_not_end_the_try() -> None:
    def answer(name: str, *_: object) -> object:
        return [(0.01, cut(name)), (0.02, ok(name))]

    (got,), (ended,), transport, pool = virtual(answer, "ok.test")
    assert (got.outcome, got.texts, got.tries) == (Outcome.OK, ("hello",), 1)
    assert ended == pytest.approx(0.02, abs=1e-9)
    assert (transport.malformed, pool.counts().malformed) == (1, 1)


def test_a_try_with_only_unreadable_replies_is_an_error_that_is_retried() -> None:
    def answer(name: str, server: int, number: int) -> object:
        return (0.01, cut(name)) if number == 1 else ok(name)

    (got,), _, transport, pool = virtual(answer, "ok.test", backoff=0.2)
    assert (got.outcome, got.tries) == (Outcome.OK, 2)
    assert [s.time for s in transport.sent] == pytest.approx([0.0, 2.2], abs=1e-9)
    assert pool.try_stats == Counter({Outcome.ERROR: 1, Outcome.OK: 1})
    assert transport.malformed == 1


def test_only_unreadable_replies_on_every_try_end_as_error() -> None:
    (got,), (ended,), transport, pool = virtual(lambda name, *_: cut(name), "ok.test", tries=2)
    assert (got.outcome, got.tries) == (Outcome.ERROR, 2)
    assert ended == pytest.approx(2.0 + 0.2 + 2.0, abs=1e-9)
    assert transport.malformed == 2 and pool.stats == Counter({Outcome.ERROR: 1})


def test_the_qps_cap_spaces_sends_exactly() -> None:
    names = [f"n{i}.test" for i in range(6)]
    answers, _, transport, _ = virtual(ok, *names, qps=10.0)
    assert [s.time for s in transport.sent] == pytest.approx([i / 10 for i in range(6)], abs=1e-9)
    assert {a.outcome for a in answers} == {Outcome.OK}


def test_the_concurrency_bound_on_the_virtual_clock() -> None:
    names = [f"n{i}.test" for i in range(7)]
    _, times, transport, _ = virtual(lambda name, *_: (1.0, ok(name)), *names, concurrency=3)
    assert [s.time for s in transport.sent] == [0, 0, 0, 1, 1, 1, 2]
    assert times == [1, 1, 1, 2, 2, 2, 3]


def retry_delays(rng: random.Random, questions: int = 50) -> list[float]:
    """When each question's second try went out (its first failed at once at time 0)."""
    names = [f"n{i}.test" for i in range(questions)]
    answer = lambda name, server, number: Outcome.SERVFAIL if number == 1 else ok(name)  # noqa: E731
    _, _, transport, _ = virtual(answer, *names, rng=rng, backoff=0.2)
    return [s.time for s in transport.sent if s.number == 2]


def test_backoff_jitter_is_bounded_and_spreads_the_retries() -> None:
    delays = retry_delays(random.Random(7))
    low, high = 0.2 * (1 - JITTER), 0.2 * (1 + JITTER)
    assert all(low <= d < high for d in delays)
    assert max(delays) - min(delays) > 0.1  # not all in the same instant
    extremes = retry_delays(Draws(0.0, 0.9999999))  # the smallest and largest factors
    assert extremes == pytest.approx([low] * 25 + [high] * 25, abs=1e-6)


def test_backoff_jitter_is_deterministic_under_a_seed() -> None:
    assert retry_delays(random.Random(7)) == retry_delays(random.Random(7))
    assert retry_delays(random.Random(7)) != retry_delays(random.Random(8))


def test_the_virtual_clock_jumps_to_the_next_timer() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        seen = [loop.time()]
        await asyncio.sleep(3600)
        seen.append(loop.time())
        loop.call_later(0.25, lambda: seen.append(loop.time()))
        await asyncio.sleep(1)
        return seen

    began = time.monotonic()
    assert run_virtual(main()) == [0.0, 3600.0, 3600.25]
    assert time.monotonic() - began < 60  # an hour of virtual time did not pass for real


def test_the_fake_transport_logs_each_try() -> None:
    _, _, transport, _ = virtual(lambda *_: Outcome.SERVFAIL, "a.test", tries=2, backoff=0.5)
    assert transport.sent == [Sent(0.0, "a.test", 0, 1), Sent(0.5, "a.test", 0, 2)]


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
