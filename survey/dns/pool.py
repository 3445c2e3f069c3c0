"""The asyncio DNS resolver pool: TXT questions in, one `TxtAnswer` each out.

Around the transport (`survey.dns.transport`: our own UDP/TCP sockets on the running loop, and
`survey.dns.wire`: the messages) the pool bounds the questions in flight, caps the query rate,
gives every try a deadline, retries what `Outcome.is_retryable` allows with a doubling backoff
(each retry goes to the next nameserver), and asks identical in-flight questions once. DNS
failures are outcomes, never exceptions; exceptions are raised only when the pool cannot be
set up.

Until 2026-11 the pool drove c-ares (pycares) instead of its own transport. On the 2-core
benchmark machine c-ares cost ~135 µs of CPU per question (bare aiodns: ~7,300 questions/s);
the transport here costs a fraction of that, and it has no answer cache to bound, no thread,
and no per-server failover hidden inside a try.
"""

import asyncio
import ipaddress
import math
import os
import re
import socket
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from survey.dns import wire
from survey.dns.outcome import TxtAnswer
from survey.dns.transport import Server, Transport
from survey.errors import InputError, ResolverError
from survey.schema.values import Outcome

__all__ = [
    "PoolCounts",
    "ResolverPool",
    "ResolverSettings",
    "TokenBucket",
    "create_event_loop_policy",
    "parse_nameserver",
    "read_txt",
    "run",
    "system_nameservers",
]

T = TypeVar("T")

DNS_PORT = 53
EVENT_LOOP_VARIABLE = "SURVEY_EVENT_LOOP"
RESOLV_CONF = Path("/etc/resolv.conf")

# -- settings ------------------------------------------------------------------------------

_HOST_PORT = re.compile(r"\[(?P<v6>[^\]]+)\](?::(?P<v6port>[^:]*))?|(?P<v4>[^:]+):(?P<port>[^:]*)")


def _split_host_port(text: str) -> tuple[str, str | None]:
    match = _HOST_PORT.fullmatch(text)
    if match is None:
        return text, None  # a bare address: IPv4, or IPv6 with its colons
    if match["v6"] is not None:
        return match["v6"], match["v6port"]
    return match["v4"], match["port"]


def _port(text: str | None, nameserver: str) -> int:
    if text is None:
        return DNS_PORT
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 65536:
        raise InputError(f"nameserver {nameserver!r}: port must be 1-65535, not {text!r}")
    return int(text)


def parse_nameserver(text: str) -> str:
    """Validate "HOST" or "HOST:PORT" (IPv6 as "[::1]:5353" or bare "::1"); HOST must be an
    IP address, not a hostname. Returns "IP:PORT" / "[IPv6]:PORT"."""
    host, port_text = _split_host_port(text.strip())
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise InputError(
            f"nameserver {text!r} is not an IP address (hostnames are not accepted)"
        ) from None
    if isinstance(address, ipaddress.IPv4Address) and text.strip().startswith("["):
        raise InputError(f"nameserver {text!r}: brackets are for IPv6 addresses only")
    port = _port(port_text, text)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ResolverError(message)


@dataclass(frozen=True, slots=True)
class ResolverSettings:
    """How the pool asks. `nameservers` are normalised by `parse_nameserver`; empty means
    the system resolver (/etc/resolv.conf)."""

    nameservers: tuple[str, ...] = ()  # empty: those of /etc/resolv.conf
    concurrency: int = 500  # questions in flight at once
    qps: float | None = None  # queries sent per second, None: no cap
    timeout: float = 2.0  # seconds per try
    tries: int = 3  # tries per question, the first included
    backoff: float = 0.2  # seconds before the first retry, doubled per retry

    def __post_init__(self) -> None:
        if isinstance(self.nameservers, str):
            raise InputError("nameservers must be a sequence of addresses, not one string")
        parsed = tuple(parse_nameserver(text) for text in self.nameservers)
        object.__setattr__(self, "nameservers", parsed)
        _require(
            _is_int(self.concurrency, 1), f"concurrency must be >= 1, not {self.concurrency!r}"
        )
        _require(_is_int(self.tries, 1), f"tries must be >= 1, not {self.tries!r}")
        _require(_is_positive(self.timeout), f"timeout must be > 0 seconds, not {self.timeout!r}")
        _require(self.qps is None or _is_positive(self.qps), f"qps must be > 0, not {self.qps!r}")
        _require(
            _is_positive(self.backoff) or self.backoff == 0,
            f"backoff must be >= 0 seconds, not {self.backoff!r}",
        )

    def backoff_before(self, attempt: int) -> float:
        """Seconds to wait before try number `attempt` (1-based): 0, backoff, 2*backoff, …"""
        return 0.0 if attempt <= 1 else self.backoff * 2 ** (attempt - 2)


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


# -- rate cap ------------------------------------------------------------------------------


@dataclass(slots=True)
class TokenBucket:
    """A token bucket for the qps cap. Pure: the caller passes the clock reading.

    `reserve(now)` takes one token and says how long to wait before spending it. Tokens may
    go negative (reservations of future slots), so concurrent callers each sleep once until
    their own slot: no polling, no busy waiting. At most `burst + rate * t` tokens are spent
    in any window of `t` seconds.
    """

    rate: float
    burst: float = 1.0
    _tokens: float = field(init=False, default=0.0)
    _stamp: float | None = field(init=False, default=None)

    def reserve(self, now: float) -> float:
        if self._stamp is None:
            self._stamp, self._tokens = now, self.burst
        elapsed = max(0.0, now - self._stamp)  # a clock that steps back refills nothing
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = max(now, self._stamp)
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


# -- the pool ------------------------------------------------------------------------------

# The receive buffer asked for each UDP socket: answers wait there while the loop is busy
# with Python work, and one too small drops UDP answers under load (the kernel caps it at
# net.core.rmem_max).
RECEIVE_BUFFER = 4 * 1024 * 1024
# While tries are in flight, every TICK seconds the try deadlines that have passed are swept.
TICK = 0.05

# How a reply becomes an outcome and texts; a module attribute so that a test can break it.
read_txt = wire.read_txt


def system_nameservers(path: Path = RESOLV_CONF) -> tuple[str, ...]:
    """The `nameserver` lines of resolv.conf (resolv.conf(5)), or 127.0.0.1 when there are
    none, as the C library's stub resolver does. Lines that are not an IP address are skipped."""
    found = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            address = fields[1].split("%", 1)[0]  # an IPv6 zone index is not ours to use
            try:
                found.append(parse_nameserver(address))
            except InputError:
                continue
    return tuple(found) or ("127.0.0.1:53",)


def _server(nameserver: str) -> Server:
    """ "IP:PORT" / "[IPv6]:PORT" (as `parse_nameserver` writes them) to a socket address."""
    host, port = _split_host_port(nameserver)
    address = ipaddress.ip_address(host)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return family, str(address), int(port or DNS_PORT)


@dataclass(slots=True)
class PoolCounts:
    """What a pool counted, in a form that crosses processes and adds up: the final outcome
    of each question, the outcome of every try, questions asked again over TCP, replies
    ignored as stray (late or forged)."""

    questions: Counter[Outcome] = field(default_factory=Counter)
    tries: Counter[Outcome] = field(default_factory=Counter)
    tcp: int = 0
    stray: int = 0

    def __add__(self, other: "PoolCounts") -> "PoolCounts":
        return PoolCounts(
            self.questions + other.questions,
            self.tries + other.tries,
            self.tcp + other.tcp,
            self.stray + other.stray,
        )


class _Question:
    """One distinct question in flight: the callers' futures and the tries made so far."""

    __slots__ = ("name", "server", "tail", "tries", "waiters", "wire")

    def __init__(self, name: str) -> None:
        self.name = name
        self.tries = 0
        self.server = -1
        self.wire = self.tail = b""
        self.waiters: list[asyncio.Future[TxtAnswer]] = []


class _Try:
    """One try of a question on the wire. The transport ends it with the reply (`answered`)
    or a failure (`failed`); the pool's sweep ends it at its deadline. Whichever comes first
    decides the try; the others are ignored."""

    __slots__ = (
        "deadline",
        "done",
        "edns",
        "pool",
        "qid",
        "question",
        "question_wire",
        "server",
        "socket",
        "tail",
        "task",
    )

    def __init__(self, pool: "ResolverPool", question: _Question, deadline: float) -> None:
        self.pool = pool
        self.question = question
        self.question_wire = question.wire
        self.tail = question.tail
        self.server = question.server
        self.deadline = deadline
        self.done = False
        self.edns = True
        self.qid = -1
        self.socket: Any = None
        self.task: asyncio.Task[None] | None = None

    def answered(self, reply: bytes) -> None:
        if self.done:
            return
        self.done = True
        try:
            outcome, texts = read_txt(reply, self.question_wire)
        except wire.Malformed:
            outcome, texts = Outcome.ERROR, ()
        except Exception as exc:  # a bug: raise it to the callers rather than hang them
            self.pool._failed(self.question, exc)
            return
        self.pool._try_ended(self, outcome, texts)

    def failed(self, outcome: Outcome) -> None:
        if not self.done:
            self.done = True
            self.pool._try_ended(self, outcome, ())


class ResolverPool:
    """Asks TXT questions of the nameservers. Use as `async with ResolverPool(s) as p`.

    `stats` counts the final outcome of each question actually asked (a question joined by
    identical in-flight callers counts once; its retries do not count again); `try_stats`
    counts the outcome of every try, retried ones included.

    The pool is driven by callbacks, not tasks: the transport's sockets are watched by the
    running loop, each reply ends its try in a callback, the `concurrency` slots are a counter
    with a FIFO queue of questions waiting for one, and a retry is a queue entry (after a
    backoff timer). Every try has the same timeout, so the try deadlines form a FIFO deque
    that one repeating timer sweeps. A question's first try goes to the nameservers in turn,
    each retry to the next one.
    """

    def __init__(self, settings: ResolverSettings | None = None) -> None:
        self.settings = settings or ResolverSettings()
        self.stats: Counter[Outcome] = Counter()
        self.try_stats: Counter[Outcome] = Counter()
        self.servers = tuple(
            _server(ns) for ns in (self.settings.nameservers or system_nameservers())
        )
        self._inflight: dict[str, _Question] = {}
        self._queue: deque[_Question] = deque()  # waiting for one of the slots
        self._active = 0  # slots taken: tries being paced or in flight
        self._pumping = False
        qps = self.settings.qps
        self._bucket = TokenBucket(qps) if qps is not None else None
        self._deadlines: deque[_Try] = deque()
        self._ticker: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: Transport | None = None
        self._turn = 0
        self._closed = False

    async def __aenter__(self) -> "ResolverPool":
        self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def transport(self) -> Transport | None:
        return self._transport

    def counts(self) -> PoolCounts:
        transport = self._transport
        return PoolCounts(
            Counter(self.stats),
            Counter(self.try_stats),
            transport.tcp_queries if transport else 0,
            transport.stray if transport else 0,
        )

    def txt(self, name: str) -> "asyncio.Future[TxtAnswer]":
        """The TXT records at `name`, or the outcome saying why there are none: await it.

        Each call gets a future of its own, so cancelling it gives up only that caller's
        wait; an identical question already in flight is asked once for all its callers.
        """
        loop = self._open()
        waiter: asyncio.Future[TxtAnswer] = loop.create_future()
        question = self._inflight.get(name)
        if question is None:
            question = self._inflight[name] = _Question(name)
            question.waiters.append(waiter)
            self._ask(question)
        else:
            question.waiters.append(waiter)
        return waiter

    async def close(self) -> None:
        """Cancel the questions still in flight and close the sockets."""
        self._closed = True
        questions = list(self._inflight.values())
        self._inflight.clear()
        self._queue.clear()
        for question in questions:
            for waiter in question.waiters:
                waiter.cancel()
        for attempt in self._deadlines:
            attempt.done = True
        if self._transport is not None:
            self._transport.close()
        self._deadlines.clear()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _open(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise ResolverError("the resolver pool is closed")
        if self._loop is None or self._transport is None:
            loop = asyncio.get_running_loop()
            try:
                self._transport = Transport(
                    loop, self.servers, RECEIVE_BUFFER, tcp_timeout=self.settings.timeout
                )
            except OSError as exc:
                raise ResolverError(f"cannot open a socket to the nameservers: {exc}") from exc
            self._loop = loop
        return self._loop

    def _ask(self, question: _Question) -> None:
        if self._closed:
            return
        if self._queue or self._pumping or self._active >= self.settings.concurrency:
            self._queue.append(question)
            self._pump()
        else:  # a free slot and nobody waiting for one: straight on
            self._active += 1
            self._start(question)

    def _pump(self) -> None:
        """Start waiting questions while slots are free. Not re-entered: a try that ends
        at once (a name that cannot go on the wire, a send error) ends up back here."""
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._queue and self._active < self.settings.concurrency:
                self._active += 1
                self._start(self._queue.popleft())
        finally:
            self._pumping = False

    def _start(self, question: _Question) -> None:
        question.tries += 1
        if self._bucket is not None and self._loop is not None:
            delay = self._bucket.reserve(self._loop.time())
            if delay > 0:
                self._loop.call_later(delay, self._send, question)
                return
        self._send(question)

    def _send(self, question: _Question) -> None:
        if self._closed or self._loop is None or self._transport is None:
            return
        if not question.wire:
            try:
                question.wire = wire.question(question.name)
                question.tail = wire.query_tail(question.wire)
            except wire.BadName:
                self._try_ended(_Try(self, question, 0.0), Outcome.ERROR, ())
                return
        servers = len(self.servers)
        if question.server < 0:
            question.server = self._turn
            self._turn = (self._turn + 1) % servers
        else:
            question.server = (question.server + 1) % servers
        attempt = _Try(self, question, self._loop.time() + self.settings.timeout)
        self._deadlines.append(attempt)
        self._transport.send(attempt)
        if self._ticker is None:
            self._ticker = self._loop.call_later(TICK, self._tick)

    def _try_ended(self, attempt: _Try, outcome: Outcome, texts: tuple[str, ...]) -> None:
        if self._closed:
            return
        question = attempt.question
        self._active -= 1
        self.try_stats[outcome] += 1
        # REFUSED is the nameserver's refusal (an ACL, say), not the domain's answer: with
        # another nameserver configured it is asked there, within the same tries.
        elsewhere = outcome is Outcome.REFUSED and len(self.servers) > 1
        if (outcome.is_retryable or elsewhere) and question.tries < self.settings.tries:
            delay = self.settings.backoff_before(question.tries + 1)
            if delay and self._loop is not None:
                self._loop.call_later(delay, self._ask, question)
            else:
                self._queue.append(question)
        else:
            self._finish(question, outcome, texts)
        self._pump()

    def _finish(self, question: _Question, outcome: Outcome, texts: tuple[str, ...]) -> None:
        del self._inflight[question.name]
        self.stats[outcome] += 1
        answer = TxtAnswer(name=question.name, outcome=outcome, texts=texts, tries=question.tries)
        for waiter in question.waiters:
            if not waiter.done():  # a caller that gave up has cancelled its own future
                waiter.set_result(answer)

    def _failed(self, question: _Question, exc: Exception) -> None:
        if self._closed:
            return
        self._active -= 1
        self._inflight.pop(question.name, None)
        for waiter in question.waiters:
            if not waiter.done():
                waiter.set_exception(exc)
        self._pump()

    def _tick(self) -> None:
        """The one repeating timer: end the tries whose deadline has passed."""
        self._ticker = None
        if self._closed or self._loop is None or self._transport is None:
            return
        now = self._loop.time()
        deadlines = self._deadlines
        while deadlines and (deadlines[0].done or deadlines[0].deadline <= now):
            attempt = deadlines.popleft()
            if not attempt.done:  # no reply in time; a late one is stray
                attempt.done = True
                self._transport.forget(attempt)
                self._try_ended(attempt, Outcome.TIMEOUT, ())
        if deadlines:
            self._ticker = self._loop.call_later(TICK, self._tick)


# -- event loop ----------------------------------------------------------------------------


def _uvloop() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def create_event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    """uvloop's policy when uvloop is installed, else asyncio's default."""
    uvloop = _uvloop()
    return uvloop.EventLoopPolicy() if uvloop else asyncio.DefaultEventLoopPolicy()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion on a fresh event loop: uvloop when installed, else asyncio;
    `SURVEY_EVENT_LOOP=asyncio` asks for asyncio's own (the benchmark compares the two)."""
    uvloop = None if os.environ.get(EVENT_LOOP_VARIABLE) == "asyncio" else _uvloop()
    factory = uvloop.new_event_loop if uvloop else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
