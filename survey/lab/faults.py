"""A fault-injecting DNS proxy for the tests: loopback UDP and TCP in front of the lab server.

`FaultProxy` listens on a loopback port and forwards each query to an upstream server (the Knot
lab server), unless its `FaultPlan` says otherwise: drop the query, delay it, answer SERVFAIL or
REFUSED (a share of queries, or always for a set of names), answer TC=1 over UDP and then close
the TCP connection the client opens for that name (RFC 7766 §5: "truncated, no TCP answer"),
answer with a malformed packet, send a cut copy of the real reply just before the real reply
(a reply that echoes the question but cannot be read, then the answer), or stay silent for a
window of query numbers (an outage) or answer SERVFAIL through one (a burst). Shares are drawn
from a seeded random generator; windows count queries, not seconds, so a test can say exactly
which queries an outage hits.

What the proxy did is counted per action (`counts`), and `on_query` lets a test act at the
N-th query (e.g. kill a scan there): a random point of a scan without timers.

Both the upstream and the listening address must be loopback addresses: the proxy can never
send a packet off this host.
"""

from __future__ import annotations

import asyncio
import random
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

from dnslib import EDNS0, QTYPE, RCODE, DNSError, DNSRecord

from survey.errors import LabError
from survey.lab.serve import loopback_family, truncated

START_TIMEOUT = 10.0
_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
MAX_UDP = 65535


class Action(StrEnum):
    """What the proxy does with one query (the keys of `FaultProxy.counts`)."""

    FORWARD = "forward"
    DROP = "drop"
    DELAY = "delay"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TRUNCATE = "truncate"
    MALFORMED = "malformed"
    OUTAGE = "outage"  # a query inside a DROP window (the server is down)
    BURST = "burst"  # a query inside a SERVFAIL window
    TCP_CLOSED = "tcp_closed"  # the TCP retry of a truncated answer, closed unanswered
    UNPARSABLE = "unparsable"  # not a DNS query: ignored
    CUT_FIRST = "cut_first"  # forwarded; the reply arrives cut short first, then whole


@dataclass(frozen=True, slots=True)
class Window:
    """Queries number `start` .. `start + length - 1` (0-based) get `action` (OUTAGE or BURST)."""

    start: int
    length: int
    action: Action = Action.OUTAGE

    def covers(self, number: int) -> bool:
        return self.start <= number < self.start + self.length


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which faults to inject. Shares are probabilities per UDP query; they add up (≤ 1)."""

    drop: float = 0.0
    delay: float = 0.0
    delay_seconds: float = 0.5
    servfail: float = 0.0
    refused: float = 0.0
    truncate: float = 0.0
    malformed: float = 0.0
    cut_first: float = 0.0
    servfail_names: frozenset[str] = frozenset()
    refused_names: frozenset[str] = frozenset()
    windows: tuple[Window, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        shares = [s for _, s in self.shares()]
        if any(not 0.0 <= s <= 1.0 for s in shares) or sum(shares) > 1.0 + 1e-9:
            raise LabError(f"fault shares must be in [0, 1] and add up to at most 1: {shares}")
        if self.delay_seconds < 0:
            raise LabError("delay_seconds must be >= 0")

    def shares(self) -> tuple[tuple[Action, float], ...]:
        return (
            (Action.DROP, self.drop),
            (Action.DELAY, self.delay),
            (Action.SERVFAIL, self.servfail),
            (Action.REFUSED, self.refused),
            (Action.TRUNCATE, self.truncate),
            (Action.MALFORMED, self.malformed),
            (Action.CUT_FIRST, self.cut_first),  # last: the earlier shares draw as before
        )


def _qname(request: DNSRecord) -> str:
    return str(request.q.qname).rstrip(".").lower()


def decide(plan: FaultPlan, number: int, qname: str, roll: float) -> Action:
    """Pure: the action for query `number` asking `qname`, `roll` uniform in [0, 1)."""
    if qname in plan.servfail_names:
        return Action.SERVFAIL
    if qname in plan.refused_names:
        return Action.REFUSED
    for window in plan.windows:
        if window.covers(number):
            return window.action
    bound = 0.0
    for action, share in plan.shares():
        bound += share
        if roll < bound:
            return action
    return Action.FORWARD


def error_reply(request: DNSRecord, rcode: int) -> bytes:
    """An answer with `rcode` and no records, echoing the question and the client's EDNS."""
    reply = request.reply(ra=1, aa=0)
    reply.header.rcode = rcode
    if any(rr.rtype == QTYPE.OPT for rr in request.ar):
        reply.add_ar(EDNS0(udp_len=1232))
    return reply.pack()


def cut_copy(reply: bytes) -> bytes:
    """`reply` without its last 3 octets: the header and the question intact (the client takes
    it for its reply), its last record cut short. A reply with no record loses nothing."""
    end = 12
    while end < len(reply) and reply[end]:
        end += reply[end] + 1
    question_end = end + 5
    return reply[:-3] if len(reply) - 3 >= question_end and reply[6:12] != bytes(6) else reply


def malformed_reply(packet: bytes, rng: random.Random) -> bytes:
    """The query's ID, QR set, the query's own question (so that a client takes it as the
    reply), then garbage: counts that promise records that are not there."""
    end = 12
    while end < len(packet) and packet[end]:
        end += packet[end] + 1
    header = packet[:2] + b"\x81\x80" + struct.pack("!HHHH", 1, 5, 0, 0)
    return header + packet[12 : end + 5] + rng.randbytes(rng.randrange(0, 24))


class _Upstream(asyncio.DatagramProtocol):
    """One UDP socket to the upstream server; replies are routed back by rewritten IDs."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.proxy.upstream_reply(data)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.proxy.udp_query(data, addr)


@dataclass(slots=True)
class _Pending:
    """A forwarded UDP query awaiting its upstream reply."""

    client: tuple[str, int]
    query_id: bytes
    cut_first: bool = False


@dataclass(slots=True)
class _State:
    """Mutable state, touched only on the proxy's event loop thread."""

    number: int = 0
    next_id: int = 0
    pending: dict[int, _Pending] = field(default_factory=dict)
    truncated_names: set[str] = field(default_factory=set)


class FaultProxy:
    """The proxy, on its own event loop in a daemon thread. Use as a context manager."""

    def __init__(
        self,
        upstream: tuple[str, int],
        plan: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record_names: bool = False,
    ) -> None:
        loopback_family(upstream[0])  # LabError unless loopback
        self.family = loopback_family(host)
        self.upstream = upstream
        self.plan = plan or FaultPlan()
        self.host = host
        self.port = port
        self.on_query: Callable[[int], None] | None = None
        #: Every name asked, in order, when `record_names` (for tests that check what was asked).
        self.names: list[str] | None = [] if record_names else None
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._rng = random.Random(self.plan.seed)
        self._state = _State()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._up: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def nameserver(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def counts(self) -> dict[str, int]:
        """How many queries got each `Action` (by its value)."""
        with self._lock:
            return {str(action): n for action, n in self._counts.items()}

    @property
    def queries(self) -> int:
        """Queries received so far (UDP and TCP, parsable ones)."""
        return self._state.number

    def _count(self, action: Action) -> None:
        with self._lock:
            self._counts[action] += 1

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._thread is not None:
            raise LabError("the fault proxy is already running")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        try:
            self._call(self._open())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            self._call(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop, self._thread = None, None

    def _call(self, coro: object) -> object:
        assert self._loop is not None
        future: Any = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return future.result(START_TIMEOUT)

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        self._up, _ = await loop.create_datagram_endpoint(
            lambda: _Upstream(self), remote_addr=self.upstream
        )
        for _ in range(20):
            try:
                await self._bind(loop)
                return
            except OSError as exc:
                if self.port:
                    raise LabError(f"cannot listen on {self.host}@{self.port}: {exc}") from exc
        raise LabError(f"no free port on {self.host} for both UDP and TCP")

    async def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Front(self), local_addr=(self.host, self.port), family=self.family
        )
        port = udp.get_extra_info("sockname")[1]
        try:
            self._tcp = await asyncio.start_server(self._tcp_client, self.host, port)
        except OSError:
            udp.close()
            raise
        self._udp, self.port = udp, port

    async def _close(self) -> None:
        for transport in (self._udp, self._up):
            if transport is not None:
                transport.close()
        if self._tcp is not None:
            self._tcp.close()
            for writer in list(self._clients):
                writer.close()
            await self._tcp.wait_closed()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- queries -------------------------------------------------------------------------------

    def _number(self, qname: str) -> int:
        if self.names is not None:
            self.names.append(qname)
        number = self._state.number
        self._state.number += 1
        if self.on_query is not None:
            self.on_query(number)
        return number

    def udp_query(self, packet: bytes, client: tuple[str, int]) -> None:
        try:
            request = DNSRecord.parse(packet)
            qname = _qname(request)
        except (DNSError, struct.error, IndexError, ValueError, AttributeError):
            self._count(Action.UNPARSABLE)
            return
        action = decide(self.plan, self._number(qname), qname, self._rng.random())
        self._count(action)
        self._act(action, request, packet, client, qname)

    def _act(
        self, action: Action, request: DNSRecord, packet: bytes, client: tuple[str, int], qname: str
    ) -> None:
        assert self._udp is not None and self._loop is not None
        if action is Action.FORWARD:
            self._forward(packet, client)
        elif action is Action.DELAY:
            self._loop.call_later(self.plan.delay_seconds, self._forward, packet, client)
        elif action in (Action.SERVFAIL, Action.BURST):
            self._udp.sendto(error_reply(request, RCODE.SERVFAIL), client)
        elif action is Action.REFUSED:
            self._udp.sendto(error_reply(request, RCODE.REFUSED), client)
        elif action is Action.TRUNCATE:
            self._state.truncated_names.add(qname)
            self._udp.sendto(truncated(request.reply()).pack(), client)
        elif action is Action.MALFORMED:
            self._udp.sendto(malformed_reply(packet, self._rng), client)
        elif action is Action.CUT_FIRST:
            self._forward(packet, client, cut_first=True)
        # DROP, OUTAGE: no answer at all

    def _forward(self, packet: bytes, client: tuple[str, int], cut_first: bool = False) -> None:
        state = self._state
        proxy_id = state.next_id
        state.next_id = (state.next_id + 1) % 65536
        state.pending[proxy_id] = _Pending(client, packet[:2], cut_first)
        if self._up is not None:
            self._up.sendto(struct.pack("!H", proxy_id) + packet[2:])

    def upstream_reply(self, data: bytes) -> None:
        if len(data) < 2 or self._udp is None:
            return
        pending = self._state.pending.pop(struct.unpack("!H", data[:2])[0], None)
        if pending is not None:
            reply = pending.query_id + data[2:]
            if pending.cut_first:
                self._udp.sendto(cut_copy(reply), pending.client)
            self._udp.sendto(reply, pending.client)

    # -- TCP -----------------------------------------------------------------------------------

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: _Stream | None = None
        self._clients.add(writer)
        try:
            while packet := await _read_message(reader):
                reply = await self._tcp_answer(packet, upstream)
                if reply is None:
                    return  # close unanswered
                wire, upstream = reply
                writer.write(struct.pack("!H", len(wire)) + wire)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._clients.discard(writer)
            writer.close()
            if upstream is not None:
                upstream[1].close()

    async def _tcp_answer(
        self, packet: bytes, upstream: _Stream | None
    ) -> tuple[bytes, _Stream | None] | None:
        """Over TCP only names-based faults, windows and truncated names apply."""
        try:
            request = DNSRecord.parse(packet)
            qname = _qname(request)
        except (DNSError, struct.error, IndexError, ValueError, AttributeError):
            self._count(Action.UNPARSABLE)
            return None
        action = decide(self.plan, self._number(qname), qname, 1.0)
        if qname in self._state.truncated_names:
            self._state.truncated_names.discard(qname)
            action = Action.TCP_CLOSED
        self._count(action)
        if action in (Action.OUTAGE, Action.TCP_CLOSED):
            return None
        if action is not Action.FORWARD:
            rcode = RCODE.REFUSED if action is Action.REFUSED else RCODE.SERVFAIL
            return error_reply(request, rcode), upstream
        upstream = upstream or await self._connect()
        upstream[1].write(struct.pack("!H", len(packet)) + packet)
        wire = await _read_message(upstream[0])
        return (wire, upstream) if wire else None

    async def _connect(self) -> _Stream:
        return await asyncio.open_connection(*self.upstream)


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    """One length-prefixed DNS message (RFC 1035 §4.2.2); b"" at end of stream."""
    try:
        prefix = await reader.readexactly(2)
        return await reader.readexactly(struct.unpack("!H", prefix)[0])
    except asyncio.IncompleteReadError:
        return b""
