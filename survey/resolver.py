"""The asyncio DNS resolver pool: TXT questions in, one `TxtAnswer` each out.

The only module that touches the network (and the only one importing pycares). A c-ares
channel serves every question; around it the pool bounds the questions in flight, caps the
query rate, retries what `Outcome.is_retryable` allows with a doubling backoff, and asks
identical in-flight questions once. DNS failures are outcomes, never exceptions; exceptions
are raised only when the pool cannot be set up.

c-ares behaviour this module relies on (pycares 5.2 bundles c-ares 1.34, checked against
tests/dnsstub.py):
- c-ares sends EDNS (payload 1232) only while the flags are left at their default; passing
  `flags` replaces the default, so ARES_FLAG_EDNS is passed explicitly (RFC 6891).
- A UDP reply with TC=1 is asked again over TCP by c-ares itself (RFC 7766 §5) as long as
  ARES_FLAG_IGNTC is not set; the TXT answer arrives whole.
- `tries=1`: c-ares asks each nameserver once; the pool's own loop does the retries.
- The timeout passed to c-ares is only its *initial* per-try timeout: after three answers
  from a server, c-ares 1.34 uses 5 x the server's average latency, clamped to
  [250 ms, 5 s]. The pool therefore bounds each try itself with `ResolverSettings.timeout`.
- c-ares caches answers for their TTL (at most an hour) and pycares 5 cannot cap that
  cache: the pool hands new tries to a fresh channel every `RECYCLE_AFTER` tries.
- Given a `sock_state_cb`, c-ares runs no thread of its own: the loop watches its sockets
  and calls `process_fd`, and every callback runs on the loop's thread. (Without one,
  pycares 5 starts an event thread and every answer would cross threads.) Channels are
  destroyed in pycares' shutdown thread, which is why a channel is closed only once
  nothing is in flight on it.
- pycares joins the character-strings of one TXT RR with no separator (RFC 7208 §3.3) and
  returns CNAME records of the answer section beside the TXT ones.
"""

import asyncio
import ipaddress
import math
import re
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pycares
from pycares import errno as ares

from survey.errors import InputError, ResolverError
from survey.outcome import Outcome, TxtAnswer

__all__ = [
    "ResolverPool",
    "ResolverSettings",
    "TokenBucket",
    "channel_options",
    "create_event_loop_policy",
    "outcome_of_errno",
    "parse_nameserver",
    "run",
    "txt_texts",
]

T = TypeVar("T")

DNS_PORT = 53
# EDNS on (c-ares' default, lost once `flags` is given). Deliberately not set: IGNTC (would
# keep truncated answers), USEVC (TCP for everything), NOCHECKRESP (would hand SERVFAIL and
# REFUSED replies back as answers instead of trying the next nameserver), PRIMARY.
CHANNEL_FLAGS = pycares.ARES_FLAG_EDNS

# -- outcomes ------------------------------------------------------------------------------

# Every c-ares status a failed query can end with. The five that are DNS answers map to
# their outcome (RFC 1035 §4.1.1 RCODEs, RFC 2308 NODATA); all the others are `error`.
_DNS_OUTCOMES: dict[int, Outcome] = {
    ares.ARES_ENOTFOUND: Outcome.NXDOMAIN,
    ares.ARES_ENODATA: Outcome.NODATA,
    ares.ARES_ESERVFAIL: Outcome.SERVFAIL,
    ares.ARES_EREFUSED: Outcome.REFUSED,
    ares.ARES_ETIMEOUT: Outcome.TIMEOUT,
}
_ERROR_STATUSES = frozenset(
    {
        ares.ARES_EFORMERR,  # the server answered FORMERR
        ares.ARES_ENOTIMP,  # the server answered NOTIMP
        ares.ARES_EBADRESP,  # malformed reply
        ares.ARES_ECONNREFUSED,  # nothing listens at the nameserver (ICMP port unreachable)
        ares.ARES_EBADNAME,  # the name cannot be put on the wire (e.g. a label over 63 octets)
        ares.ARES_EBADQUERY,
        ares.ARES_EBADFAMILY,
        ares.ARES_EOF,
        ares.ARES_EFILE,
        ares.ARES_ENOMEM,
        ares.ARES_EDESTRUCTION,  # the channel was destroyed under the query
        ares.ARES_ECANCELLED,  # the channel was closed under the query
        ares.ARES_EBADSTR,
        ares.ARES_EBADFLAGS,
        ares.ARES_ENONAME,
        ares.ARES_EBADHINTS,
        ares.ARES_ENOTINITIALIZED,
        ares.ARES_ELOADIPHLPAPI,
        ares.ARES_EADDRGETNETWORKPARAMS,
        ares.ARES_ESERVICE,
    }
)
OUTCOME_BY_STATUS: dict[int, Outcome] = {
    **dict.fromkeys(_ERROR_STATUSES, Outcome.ERROR),
    **_DNS_OUTCOMES,
}


def outcome_of_errno(status: int) -> Outcome:
    """The outcome of a query c-ares ended with `status`; unknown statuses are `error`."""
    return OUTCOME_BY_STATUS.get(status, Outcome.ERROR)


# -- TXT answers ---------------------------------------------------------------------------


def _owner(name: str | bytes) -> str:
    # DNS names compare case-insensitively (RFC 4343 §3); pycares gives bytes for non-ASCII.
    text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
    return text.rstrip(".").lower()


def _asked(name: str) -> str:
    # pycares puts U-labels on the wire as IDNA A-labels, and answers carry the A-labels.
    return _owner(pycares.utils.parse_name(name))


def txt_texts(result: pycares.DNSResult, name: str) -> tuple[str, ...]:
    """The TXT texts at `name` in an answer section, following its CNAME chain.

    Only TXT records owned by `name` or a name its CNAMEs lead to count (RFC 1034 §3.6.2);
    each text is the record's character-strings joined without separator (RFC 7208 §3.3;
    pycares joins them), decoded as UTF-8 with `surrogateescape` so that no byte is lost.
    """
    aliases = {
        _owner(rr.name): _owner(rr.data.cname)
        for rr in result.answer
        if isinstance(rr.data, pycares.CNAMERecordData)
    }
    owners = {_asked(name)}
    owner = _asked(name)
    while owner in aliases and aliases[owner] not in owners:
        owner = aliases[owner]
        owners.add(owner)
    return tuple(
        rr.data.data.decode("utf-8", "surrogateescape")
        for rr in result.answer
        if isinstance(rr.data, pycares.TXTRecordData) and _owner(rr.name) in owners
    )


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
    IP address, not a hostname. Returns the c-ares form "IP:PORT" / "[IPv6]:PORT"."""
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

    nameservers: tuple[str, ...] = ()
    concurrency: int = 500  # questions in flight at once
    qps: float | None = None  # queries sent per second, None: no cap
    timeout: float = 2.0  # seconds per try (per nameserver)
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

# Tries a channel is given before new ones go to a fresh channel. c-ares caches answers by
# their TTL (up to an hour) and pycares cannot cap that cache, so over a long run recycling
# the channel is what bounds it; a retired channel closes once its last query has ended.
RECYCLE_AFTER = 30_000
# The receive buffer asked for each c-ares socket: answers wait there while the loop is busy
# with Python work, and one too small drops UDP answers under load (the kernel caps it at
# net.core.rmem_max).
RECEIVE_BUFFER = 4 * 1024 * 1024
# While queries are in flight, every TICK seconds c-ares' own timers run (its per-try timeout,
# moving on to the next nameserver) and the pool's try deadlines are swept.
TICK = 0.05


class _Channel:
    """One c-ares channel driven by the running loop's own sockets (sock_state_cb, so no
    event thread). `sent` counts the tries given to it, `inflight` those not yet ended."""

    def __init__(self, settings: ResolverSettings, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sent = self.inflight = 0
        self.retired = self.closed = False
        self._readers: set[int] = set()
        self._writers: set[int] = set()
        self.cares = _open_channel(settings, self._sock_state)

    def _sock_state(self, fd: int, readable: bool, writable: bool) -> None:
        if self.closed:  # c-ares closing its sockets from pycares' shutdown thread
            return
        if readable != (fd in self._readers):
            if readable:
                self.loop.add_reader(fd, self.cares.process_fd, fd, pycares.ARES_SOCKET_BAD)
                self._readers.add(fd)
            else:
                self.loop.remove_reader(fd)
                self._readers.discard(fd)
        if writable != (fd in self._writers):
            if writable:
                self.loop.add_writer(fd, self.cares.process_fd, pycares.ARES_SOCKET_BAD, fd)
                self._writers.add(fd)
            else:
                self.loop.remove_writer(fd)
                self._writers.discard(fd)

    def tick(self) -> None:
        """Let c-ares act on its timers; its callbacks run from here."""
        if self.inflight and not self.closed:
            self.cares.process_fd(pycares.ARES_SOCKET_BAD, pycares.ARES_SOCKET_BAD)

    def ended(self) -> None:
        """One query ended in c-ares; a retired channel closes after its last one."""
        self.inflight -= 1
        if self.retired and self.inflight == 0:
            self.loop.call_soon(self.close)  # not from inside c-ares' own processing

    def retire(self) -> None:
        self.retired = True
        if self.inflight == 0:
            self.close()

    def cancel(self) -> None:
        """End every query now, on this thread: their callbacks see ARES_ECANCELLED."""
        if not self.closed:
            self.cares.cancel()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for fd in self._readers:
            self.loop.remove_reader(fd)
        for fd in self._writers:
            self.loop.remove_writer(fd)
        # pycares destroys the channel in its shutdown thread; nothing is in flight by now.
        self.cares.close()


class _Question:
    """One distinct question in flight: the callers' futures and the tries made so far."""

    __slots__ = ("name", "tries", "waiters")

    def __init__(self, name: str) -> None:
        self.name = name
        self.tries = 0
        self.waiters: list[asyncio.Future[TxtAnswer]] = []


class _Try:
    """One try of a question: c-ares calls it with the reply, the pool's sweep ends it at
    its deadline. Whichever comes first decides the try; the other is ignored."""

    __slots__ = ("channel", "deadline", "done", "pool", "question")

    def __init__(self, pool: "ResolverPool", question: _Question, channel: _Channel) -> None:
        self.pool = pool
        self.question = question
        self.channel = channel
        self.deadline = 0.0
        self.done = False

    def __call__(self, result: pycares.DNSResult | None, status: int | None) -> None:
        self.channel.ended()
        if self.done:
            return
        self.done = True
        try:
            outcome, texts = _outcome_of_reply(result, status, self.question.name)
        except Exception as exc:  # a bug: cffi would print and swallow it, and callers hang
            self.pool._failed(self.question, exc)
            return
        self.pool._try_ended(self, outcome, texts)


def _outcome_of_reply(
    result: pycares.DNSResult | None, status: int | None, name: str
) -> tuple[Outcome, tuple[str, ...]]:
    if status is not None or result is None:
        return outcome_of_errno(ares.ARES_EBADRESP if status is None else status), ()
    texts = txt_texts(result, name)
    # An answer holding only CNAMEs (or other types) has no TXT at the name: NODATA.
    return (Outcome.OK, texts) if texts else (Outcome.NODATA, ())


class ResolverPool:
    """Asks TXT questions over a c-ares channel. Use as `async with ResolverPool(s) as p`.

    `stats` counts the final outcome of each question actually asked (a question joined by
    identical in-flight callers counts once; its retries do not count again).

    The pool is driven by callbacks, not tasks: c-ares' sockets are watched by the running
    loop, each reply ends its try in a callback, the `concurrency` slots are a counter with a
    FIFO queue of questions waiting for one, and a retry is a queue entry (after a backoff
    timer). Every try shares one timeout, so the try deadlines form a FIFO deque that one
    repeating timer sweeps. After `RECYCLE_AFTER` tries the next go to a fresh channel.
    """

    def __init__(self, settings: ResolverSettings | None = None) -> None:
        self.settings = settings or ResolverSettings()
        self.stats: Counter[Outcome] = Counter()
        self._inflight: dict[str, _Question] = {}
        self._queue: deque[_Question] = deque()  # waiting for one of the slots
        self._active = 0  # slots taken: tries being paced or in flight
        self._pumping = False
        qps = self.settings.qps
        self._bucket = TokenBucket(qps) if qps is not None else None
        self._deadlines: deque[_Try] = deque()
        self._ticker: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channel: _Channel | None = None
        self._retired: list[_Channel] = []
        self._recycle_after = RECYCLE_AFTER
        self._try_timeout = self.settings.timeout
        self._closed = False

    async def __aenter__(self) -> "ResolverPool":
        self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

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
        """Cancel the questions still in flight and close the channel."""
        self._closed = True
        questions = list(self._inflight.values())
        self._inflight.clear()
        self._queue.clear()
        for question in questions:
            for waiter in question.waiters:
                waiter.cancel()
        channels = [*self._retired, *([self._channel] if self._channel else [])]
        for channel in channels:
            channel.cancel()
            channel.close()
        self._retired.clear()
        self._deadlines.clear()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _open(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise ResolverError("the resolver pool is closed")
        if self._loop is None or self._channel is None:
            self._loop = asyncio.get_running_loop()
            self._channel = _Channel(self.settings, self._loop)
            # c-ares tries each nameserver once per try; bound the whole try accordingly.
            servers = len(self._channel.cares.servers)
            self._try_timeout = self.settings.timeout * max(1, servers)
        return self._loop

    def _ask(self, question: _Question) -> None:
        if not self._closed:
            self._queue.append(question)
            self._pump()

    def _pump(self) -> None:
        """Start waiting questions while slots are free. Not re-entered: a reply that
        c-ares delivers during `query` (an error, a cached answer) ends up back here."""
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
        if self._closed or self._loop is None:
            return
        channel = self._fresh_channel()
        attempt = _Try(self, question, channel)
        attempt.deadline = self._loop.time() + self._try_timeout
        self._deadlines.append(attempt)
        channel.sent += 1
        channel.inflight += 1
        try:
            channel.cares.query(question.name, pycares.QUERY_TYPE_TXT, callback=attempt)
        except pycares.AresError as exc:  # refused at once (e.g. a label over 63 octets)
            if not attempt.done:  # c-ares usually called back before pycares raised
                attempt(None, exc.args[0])
        except UnicodeError:  # pycares could not IDNA-encode the name
            attempt(None, ares.ARES_EBADNAME)
        if self._ticker is None:
            self._ticker = self._loop.call_later(TICK, self._tick)

    def _fresh_channel(self) -> _Channel:
        channel = self._channel
        assert channel is not None and self._loop is not None
        if channel.sent < self._recycle_after:
            return channel
        channel.retire()
        if not channel.closed:
            self._retired.append(channel)
        self._channel = _Channel(self.settings, self._loop)
        return self._channel

    def _try_ended(self, attempt: _Try, outcome: Outcome, texts: tuple[str, ...]) -> None:
        if self._closed:
            return
        question = attempt.question
        self._active -= 1
        if outcome.is_retryable and question.tries < self.settings.tries:
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
        """The one repeating timer: c-ares' timers, then the try deadlines that passed."""
        self._ticker = None
        if self._closed or self._loop is None or self._channel is None:
            return
        for channel in (*self._retired, self._channel):
            channel.tick()
        now = self._loop.time()
        deadlines = self._deadlines
        while deadlines and deadlines[0].deadline <= now:
            attempt = deadlines.popleft()
            if not attempt.done:  # c-ares has not answered in time; a late reply is ignored
                attempt.done = True
                self._try_ended(attempt, Outcome.TIMEOUT, ())
        self._retired = [channel for channel in self._retired if not channel.closed]
        if deadlines or self._retired or self._channel.inflight:
            self._ticker = self._loop.call_later(TICK, self._tick)


def channel_options(settings: ResolverSettings) -> dict[str, Any]:
    """The c-ares channel options the pool uses (scripts/bench_floor.py asks with the same;
    the pool adds its socket state callback and `RECEIVE_BUFFER`)."""
    return {
        "flags": CHANNEL_FLAGS,
        "timeout": settings.timeout,
        "tries": 1,
        # Spread questions over several nameservers; with one it changes nothing.
        "rotate": len(settings.nameservers) > 1,
    }


def _open_channel(settings: ResolverSettings, sock_state_cb: Any) -> pycares.Channel:
    """A c-ares channel whose sockets `sock_state_cb` hands to the running loop."""
    try:
        return pycares.Channel(
            servers=list(settings.nameservers) or None,
            sock_state_cb=sock_state_cb,
            socket_receive_buffer_size=RECEIVE_BUFFER,
            **channel_options(settings),
        )
    except (pycares.AresError, ValueError) as exc:
        raise ResolverError(f"cannot set up the DNS channel: {exc}") from exc


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
    """Run `coro` to completion on a fresh event loop: uvloop when installed, else asyncio."""
    uvloop = _uvloop()
    factory = uvloop.new_event_loop if uvloop else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
