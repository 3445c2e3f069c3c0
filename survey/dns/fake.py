"""A transport built from a plain function, and an event loop on a virtual clock.

For tests of what the pool decides (retries, the nameserver each try goes to, deadlines,
backoff, the rate cap) without sockets and without waiting: `fake_transport(answer)` is a
`TransportFactory` whose replies come from `answer(name, server, try_number)`, and
`run_virtual(coro)` runs `coro` on a loop whose clock jumps to the next timer whenever nothing
is ready, so that a test asserts exact times (a 2 s timeout ends at 2.0, not "at least 2 s").

What `answer` returns, for the try it is asked about:
- reply bytes (`reply(...)` builds them): delivered at once, with the try's ID put in;
- an `Outcome`: the reply a server gives for it (NXDOMAIN, NODATA, SERVFAIL, REFUSED, …);
  `Outcome.TIMEOUT` is no reply, `Outcome.ERROR` a transport failure (port unreachable);
- None: no reply at all;
- `(delay, one of the above)`, or a list of them: each delivered `delay` seconds after the
  send.

Delivered replies go the way a real transport's go: a datagram that does not echo the
question is `stray`, one that echoes it but cannot be read is `malformed` (the try waits on),
one that comes after the try ended is `stray`.
"""

import asyncio
import selectors
import struct
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from survey.dns import wire
from survey.dns.base import Attempt, TransportFactory
from survey.dns.settings import ResolverSettings, Server
from survey.schema.values import Outcome

__all__ = [
    "Answer",
    "FakeTransport",
    "Sent",
    "VirtualClockLoop",
    "fake_transport",
    "reply",
    "run_virtual",
]

T = TypeVar("T")
Event = bytes | Outcome | None
Script = Event | tuple[float, Event] | Sequence[tuple[float, Event]]
Answer = Callable[[str, int, int], Script]

_RCODES = {
    Outcome.NODATA: 0,
    Outcome.SERVFAIL: 2,
    Outcome.NXDOMAIN: 3,
    Outcome.REFUSED: 5,
}
_TXT_RR = struct.Struct("!HHHIH")  # pointer to the question's name, type, class, TTL, RDLENGTH


def reply(
    name: str,
    *texts: bytes | str,
    rcode: int = 0,
    qid: int = 0,
    qtype: int = wire.TYPE_TXT,
    authenticated: bool = False,
) -> bytes:
    """A reply to the question for `name` of type `qtype` (TXT by default), echoing it: one
    TXT record per text (a text over 255 octets is split into character-strings), with
    `rcode`, and the AD bit if `authenticated`."""
    question = wire.question(name, qtype)
    flags = 0x8180 | rcode | (0x0020 if authenticated else 0)
    header = struct.pack("!HHHHHH", qid, flags, 1, len(texts), 0, 0)
    records = []
    for text in texts:
        raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        rdata = b"".join(bytes((len(chunk),)) + chunk for chunk in chunks)
        fixed = _TXT_RR.pack(0xC00C, wire.TYPE_TXT, 1, 0, len(rdata))
        records.append(fixed + rdata)
    return header + question + b"".join(records)


@dataclass(frozen=True, slots=True)
class Sent:
    """One try as the fake transport saw it go out."""

    time: float
    name: str
    server: int
    number: int


class FakeTransport:
    """`survey.dns.base.DnsTransport` answered by a plain function, on the running loop."""

    def __init__(self, answer: Answer, loop: asyncio.AbstractEventLoop) -> None:
        self.answer = answer
        self.loop = loop
        self.sent: list[Sent] = []
        self.stray = self.malformed = self.tcp_queries = 0
        self.dnssec = True  # its replies are read by wire.read_answer, AD bit included
        self._handles: set[asyncio.TimerHandle] = set()
        self._next_id = 0

    def send(self, attempt: Attempt) -> None:
        self._next_id = (self._next_id + 1) % 65536
        attempt.qid = self._next_id
        self.sent.append(Sent(self.loop.time(), attempt.name, attempt.server, attempt.number))
        for delay, event in _events(self.answer(attempt.name, attempt.server, attempt.number)):
            handle = self.loop.call_later(delay, self._deliver, attempt, event)
            self._handles.add(handle)

    def forget(self, attempt: Attempt) -> None:
        """Nothing to do: a reply scheduled for a try already ended is stray on delivery."""

    def close(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()

    def _deliver(self, attempt: Attempt, event: Event) -> None:
        if event is None or event is Outcome.TIMEOUT:
            return
        if event is Outcome.ERROR:
            attempt.ended(Outcome.ERROR)
            return
        if isinstance(event, Outcome):
            event = reply(
                attempt.name, rcode=_RCODES[event], qtype=wire.qtype_of(attempt.question_wire)
            )
        datagram = attempt.qid.to_bytes(2, "big") + event[2:]
        if attempt.done or not wire.matches(datagram, attempt.question_wire):
            self.stray += 1
        elif not attempt.answered(datagram):
            self.malformed += 1


def _events(script: Script) -> list[tuple[float, Event]]:
    if isinstance(script, list):
        return list(script)
    if isinstance(script, tuple):
        return [script]
    return [(0.0, script)]  # type: ignore[list-item]


def fake_transport(answer: Answer) -> TransportFactory:
    """A transport factory for `ResolverPool(settings, transport=...)`."""

    def factory(
        loop: asyncio.AbstractEventLoop, servers: tuple[Server, ...], settings: ResolverSettings
    ) -> FakeTransport:
        return FakeTransport(answer, loop)

    return factory


class _VirtualSelector(selectors.DefaultSelector):
    """Polls the real descriptors without blocking; a wait for a timer moves the clock."""

    def __init__(self, clock: "VirtualClockLoop") -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[Any]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # no timer at all: only a real descriptor can wake the loop
            return super().select(None)
        self.clock.advance(timeout)
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` is virtual: it starts at 0 and jumps to the next timer
    whenever no callback is ready, so timers fire in order without any real waiting."""

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(selector=_VirtualSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion on a fresh `VirtualClockLoop`."""
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(coro)
