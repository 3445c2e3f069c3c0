"""The asyncio DNS resolver pool: TXT, A and MX questions in, one answer each out
(`survey.dns.outcome`: `TxtAnswer`, `AddressAnswer`, `MxAnswer`).

Around a transport (`survey.dns.base`: by default our own UDP/TCP sockets on the running loop,
`survey.dns.transport`, speaking `survey.dns.wire`) the pool bounds the questions in flight,
caps the query rate, gives every try a deadline, retries what `Outcome.is_retryable` allows
with a doubling, jittered backoff (each retry goes to the next nameserver), and asks identical
in-flight questions once (identical: the same name, type and `QueryFlags`). Every type goes
through the same slots, deadlines, retries and counts. DNS failures are outcomes, never
exceptions; exceptions are raised only when the pool cannot be set up, or for a bug.

A reply that echoes the question but cannot be read does not end its try: it is counted
(`malformed`) and the try waits on until its deadline, for the real reply may come next (a
cut or garbled datagram is as cheap to send as a forged one). A try that reaches its deadline
having had only such replies ends as `error`, which is what the question says when it is its
last try; it is retried as the timeout it amounts to (`retry_as`), so that
`Outcome.is_retryable` stays the one place that decides what is retried.
"""

import asyncio
import random
from collections import Counter, deque
from typing import Any

from survey.dns import wire
from survey.dns.base import DnsTransport, TransportFactory
from survey.dns.counts import PoolCounts
from survey.dns.outcome import AddressAnswer, MxAnswer, TxtAnswer
from survey.dns.settings import ResolverSettings, Server, server_address, system_nameservers
from survey.dns.timing import TokenBucket, jittered
from survey.dns.wire import QueryFlags, Reply
from survey.errors import ResolverError
from survey.schema.values import Outcome

__all__ = ["PoolCounts", "ResolverPool", "default_transport", "read_answer"]

# How a reply becomes a `Reply`; a module attribute so that a test can break it.
read_answer = wire.read_answer

Answer = TxtAnswer | AddressAnswer | MxAnswer
_KINDS: dict[int, type[Answer]] = {
    wire.TYPE_TXT: TxtAnswer,
    wire.TYPE_A: AddressAnswer,
    wire.TYPE_MX: MxAnswer,
}
_Key = tuple[str, int, QueryFlags]  # name, type, flags: what makes two questions one


def default_transport(settings: ResolverSettings) -> TransportFactory:
    """The transport factory `settings.client` names (imported only when chosen)."""
    if settings.client == "aiodns":
        from survey.dns.cares import CaresTransport

        return CaresTransport
    from survey.dns.transport import Transport

    return Transport


# -- the pool ------------------------------------------------------------------------------


class _Question:
    """One distinct question in flight: the callers' futures and the tries made so far."""

    __slots__ = ("flags", "key", "name", "qtype", "server", "tail", "tries", "waiters", "wire")

    def __init__(self, key: _Key) -> None:
        self.key = key
        self.name, self.qtype, self.flags = key
        self.tries = 0
        self.server = -1
        self.wire = self.tail = b""
        self.waiters: list[asyncio.Future[Any]] = []


class _Try:
    """One try of a question on the wire (`survey.dns.base.Attempt`). The transport ends it
    with a readable reply (`answered`) or its own verdict (`ended`); the pool's deadline ends
    it otherwise. Whichever comes first decides the try; the others are ignored."""

    __slots__ = (
        "deadline",
        "done",
        "edns",
        "flags",
        "malformed",
        "name",
        "number",
        "plain_qid",
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
        self.name = question.name
        self.number = question.tries
        self.question_wire = question.wire
        self.flags = question.flags
        self.tail = question.tail
        self.server = question.server
        self.deadline = deadline
        self.done = False
        self.edns = True
        self.qid = self.plain_qid = -1
        self.malformed = 0  # replies that echoed the question but could not be read
        self.socket: Any = None
        self.task: asyncio.Task[None] | None = None

    def answered(self, reply: bytes) -> bool:
        if self.done:
            return True
        try:
            read = read_answer(reply, self.question_wire)
        except wire.Malformed:
            self.malformed += 1  # not the end of the try: the real reply may come next
            return False
        except Exception as exc:  # a bug: raise it to the callers rather than hang them
            self.done = True
            self.pool._failed(self.question, exc)
            return True
        self.done = True
        self.pool._try_ended(self, read)
        return True

    def ended(
        self,
        outcome: Outcome,
        records: tuple[str, ...] = (),
        retry_as: Outcome | None = None,
        canonical: str | None = None,
    ) -> None:
        if not self.done:
            self.done = True
            self.pool._try_ended(self, Reply(outcome, records, canonical), retry_as)

    def expired(self) -> None:
        """The deadline passed: a timeout, or `error` if only unreadable replies came."""
        if self.malformed:
            self.ended(Outcome.ERROR, (), retry_as=Outcome.TIMEOUT)
        else:
            self.ended(Outcome.TIMEOUT)


class ResolverPool:
    """Asks TXT, A and MX questions of the nameservers. Use as `async with ResolverPool(s) as p`.

    `transport` is the factory of the I/O seam (default: the one `settings.client` names);
    `rng` draws the backoff jitter (a seeded one makes a test's retry times exact).

    `stats` counts the final outcome of each question actually asked (a question joined by
    identical in-flight callers counts once; its retries do not count again), `type_stats`
    the same questions by type; `try_stats` counts the outcome of every try, retried ones
    included.

    The pool is driven by callbacks, not tasks: each reply ends its try in a callback, the
    `concurrency` slots are a counter with a FIFO queue of questions waiting for one, and a
    retry is a queue entry (after a backoff timer). Every try has the same timeout, so the try
    deadlines form a FIFO deque, and one timer set at the deadline of its oldest live try
    sweeps it. A question's first try goes to the nameservers in turn, each retry to the next.
    """

    def __init__(
        self,
        settings: ResolverSettings | None = None,
        transport: TransportFactory | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or ResolverSettings()
        self.stats: Counter[Outcome] = Counter()
        self.try_stats: Counter[Outcome] = Counter()
        self.type_stats: Counter[str] = Counter()
        self.checking_disabled = 0  # questions asked with CD
        self.servers: tuple[Server, ...] = tuple(
            server_address(ns) for ns in (self.settings.nameservers or system_nameservers())
        )
        self._factory = transport or default_transport(self.settings)
        self._rng = rng or random.Random()
        self._inflight: dict[_Key, _Question] = {}
        self._queue: deque[_Question] = deque()  # waiting for one of the slots
        self._active = 0  # slots taken: tries being paced or in flight
        self._pumping = False
        qps = self.settings.qps
        self._bucket = TokenBucket(qps) if qps is not None else None
        self._deadlines: deque[_Try] = deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: DnsTransport | None = None
        self._turn = 0
        self._closed = False

    async def __aenter__(self) -> "ResolverPool":
        self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def transport(self) -> DnsTransport | None:
        return self._transport

    @property
    def dnssec(self) -> bool:
        """Whether the client puts `QueryFlags` on the wire and reads the AD bit back (our
        own does; c-ares through pycares cannot). Opens the pool: ask it on the loop."""
        self._open()
        return bool(self._transport and self._transport.dnssec)

    def counts(self) -> PoolCounts:
        transport = self._transport
        return PoolCounts(
            Counter(self.stats),
            Counter(self.try_stats),
            transport.tcp_queries if transport else 0,
            transport.stray if transport else 0,
            transport.malformed if transport else 0,
            Counter(self.type_stats),
            self.checking_disabled,
        )

    def txt(self, name: str, flags: QueryFlags = QueryFlags.NONE) -> "asyncio.Future[TxtAnswer]":
        """The TXT records at `name`, or the outcome saying why there are none: await it.

        Each call gets a future of its own, so cancelling it gives up only that caller's
        wait; an identical question already in flight is asked once for all its callers.
        `flags` ask a validating resolver for the AD bit (`QueryFlags.DNSSEC`) or for data
        it could not validate (`QueryFlags.CHECKING_DISABLED`).
        """
        return self._lookup((name, wire.TYPE_TXT, flags))

    def address(self, name: str) -> "asyncio.Future[AddressAnswer]":
        """The A records at `name` (as `txt` does for TXT)."""
        return self._lookup((name, wire.TYPE_A, QueryFlags.NONE))

    def mx(self, name: str) -> "asyncio.Future[MxAnswer]":
        """The MX records at `name` (as `txt` does for TXT)."""
        return self._lookup((name, wire.TYPE_MX, QueryFlags.NONE))

    def _lookup(self, key: _Key) -> "asyncio.Future[Any]":
        loop = self._open()
        waiter: asyncio.Future[Any] = loop.create_future()
        question = self._inflight.get(key)
        if question is None:
            question = self._inflight[key] = _Question(key)
            question.waiters.append(waiter)
            self._ask(question)
        else:
            question.waiters.append(waiter)
        return waiter

    async def close(self) -> None:
        """Cancel the questions still in flight and close the transport."""
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
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    def _open(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise ResolverError("the resolver pool is closed")
        if self._loop is None or self._transport is None:
            loop = asyncio.get_running_loop()
            try:
                self._transport = self._factory(loop, self.servers, self.settings)
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
                question.wire = wire.question(question.name, question.qtype)
                question.tail = wire.query_tail(question.wire, True, question.flags)
            except wire.BadName:
                self._try_ended(_Try(self, question, 0.0), Reply(Outcome.ERROR))
                return
        servers = len(self.servers)
        if question.server < 0:
            question.server = self._turn
            self._turn = (self._turn + 1) % servers
        else:
            question.server = (question.server + 1) % servers
        attempt = _Try(self, question, self._loop.time() + self.settings.timeout)
        self._deadlines.append(attempt)
        if self._sweeper is None:
            self._sweeper = self._loop.call_at(attempt.deadline, self._sweep)
        self._transport.send(attempt)

    def _try_ended(self, attempt: _Try, reply: Reply, retry_as: Outcome | None = None) -> None:
        if self._closed:
            return
        question = attempt.question
        outcome = reply.outcome
        self._active -= 1
        self.try_stats[outcome] += 1
        # REFUSED is the nameserver's refusal (an ACL, say), not the domain's answer: with
        # another nameserver configured it is asked there, within the same tries.
        elsewhere = outcome is Outcome.REFUSED and len(self.servers) > 1
        retryable = (retry_as or outcome).is_retryable or elsewhere
        if retryable and question.tries < self.settings.tries:
            self._retry(question)
        else:
            self._finish(question, reply)
        self._pump()

    def _retry(self, question: _Question) -> None:
        delay = self.settings.backoff_before(question.tries + 1)
        if delay and self._loop is not None:
            self._loop.call_later(jittered(delay, self._rng.random()), self._ask, question)
        else:
            self._queue.append(question)

    def _finish(self, question: _Question, reply: Reply) -> None:
        del self._inflight[question.key]
        self.stats[reply.outcome] += 1
        self.type_stats[wire.TYPE_NAMES[question.qtype]] += 1
        # (`flags and`: an IntFlag `&` costs a microsecond; most questions have no flags)
        if question.flags and question.flags & QueryFlags.CHECKING_DISABLED:
            self.checking_disabled += 1
        outcome, records, canonical, authenticated = reply
        kind = _KINDS[question.qtype]
        answer = kind(question.name, outcome, records, question.tries, canonical, authenticated)
        for waiter in question.waiters:
            if not waiter.done():  # a caller that gave up has cancelled its own future
                waiter.set_result(answer)

    def _failed(self, question: _Question, exc: Exception) -> None:
        if self._closed:
            return
        self._active -= 1
        self._inflight.pop(question.key, None)
        for waiter in question.waiters:
            if not waiter.done():
                waiter.set_exception(exc)
        self._pump()

    def _sweep(self) -> None:
        """The one deadline timer: end the tries whose deadline has passed, then wait for
        the oldest one still live (tries end mostly long before; the FIFO keeps it cheap)."""
        if self._closed or self._loop is None or self._transport is None:
            self._sweeper = None
            return
        now = self._loop.time()
        deadlines = self._deadlines
        # `_sweeper` stays set while sweeping: a retry sent from here sets no timer of its own.
        while deadlines and (deadlines[0].done or deadlines[0].deadline <= now):
            attempt = deadlines.popleft()
            if not attempt.done:  # no readable reply in time; a late one is stray
                self._transport.forget(attempt)
                attempt.expired()
        live = deadlines[0].deadline if deadlines else None
        self._sweeper = None if live is None else self._loop.call_at(live, self._sweep)
