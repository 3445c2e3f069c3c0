"""The asyncio DNS resolver pool: TXT questions in, one `TxtAnswer` each out.

The only module that touches the network (and the only one importing aiodns/pycares). One
c-ares channel serves every question; around it the pool bounds the questions in flight,
caps the query rate, retries what `Outcome.is_retryable` allows with a doubling backoff, and
asks identical in-flight questions once. DNS failures are outcomes, never exceptions;
exceptions are raised only when the pool cannot be set up.

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
- pycares joins the character-strings of one TXT RR with no separator (RFC 7208 §3.3) and
  returns CNAME records of the answer section beside the TXT ones.
"""

import asyncio
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiodns
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


class ResolverPool:
    """Asks TXT questions over one c-ares channel. Use as `async with ResolverPool(s) as p`.

    `stats` counts the final outcome of each question actually asked (a question joined by
    identical in-flight callers counts once; its retries do not count again).
    """

    def __init__(self, settings: ResolverSettings | None = None) -> None:
        self.settings = settings or ResolverSettings()
        self.stats: Counter[Outcome] = Counter()
        self._inflight: dict[str, asyncio.Task[TxtAnswer]] = {}
        self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        qps = self.settings.qps
        self._bucket = TokenBucket(qps) if qps is not None else None
        self._channel: aiodns.DNSResolver | None = None
        self._try_timeout = self.settings.timeout
        self._closed = False

    async def __aenter__(self) -> "ResolverPool":
        self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def txt(self, name: str) -> TxtAnswer:
        """The TXT records at `name`, or the outcome saying why there are none."""
        task = self._inflight.get(name)
        if task is None:
            task = asyncio.ensure_future(self._ask(name))
            self._inflight[name] = task
            task.add_done_callback(lambda done: self._forget(name, done))
        # shield: one caller giving up must not cancel the question for the others.
        return await asyncio.shield(task)

    async def close(self) -> None:
        """Cancel the questions still in flight and close the channel."""
        self._closed = True
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def _forget(self, name: str, done: asyncio.Task[TxtAnswer]) -> None:
        if self._inflight.get(name) is done:
            del self._inflight[name]

    async def _ask(self, name: str) -> TxtAnswer:
        """One question: up to `tries` tries while the outcome is retryable."""
        outcome, texts, attempt = Outcome.ERROR, (), 0
        for attempt in range(1, self.settings.tries + 1):
            delay = self.settings.backoff_before(attempt)
            if delay:
                await asyncio.sleep(delay)
            outcome, texts = await self._try(name)
            if not outcome.is_retryable:
                break
        self.stats[outcome] += 1
        return TxtAnswer(name=name, outcome=outcome, texts=texts, tries=attempt)

    async def _try(self, name: str) -> tuple[Outcome, tuple[str, ...]]:
        async with self._semaphore:
            await self._pace()
            try:
                query = self._open().query_dns(name, "TXT")
            except UnicodeError:  # pycares could not IDNA-encode the name
                return Outcome.ERROR, ()
            # The try's own bound (see the module docstring): a timer that cancels the
            # query's future; cheaper than asyncio.wait_for, which adds a future and
            # callbacks of its own to every query.
            timer = asyncio.get_running_loop().call_later(self._try_timeout, query.cancel)
            try:
                result = await query
            except aiodns.error.DNSError as exc:
                return outcome_of_errno(exc.args[0]), ()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # cancelled from outside (pool closed): not a timeout
                return Outcome.TIMEOUT, ()
            finally:
                timer.cancel()
        texts = txt_texts(result, name)
        # An answer holding only CNAMEs (or other types) has no TXT at the name: NODATA.
        return (Outcome.OK, texts) if texts else (Outcome.NODATA, ())

    async def _pace(self) -> None:
        if self._bucket is None:
            return
        delay = self._bucket.reserve(asyncio.get_running_loop().time())
        if delay > 0:
            await asyncio.sleep(delay)

    def _open(self) -> aiodns.DNSResolver:
        if self._closed:
            raise ResolverError("the resolver pool is closed")
        if self._channel is None:
            self._channel = _open_channel(self.settings)
            # c-ares tries each nameserver once per try; bound the whole try accordingly.
            self._try_timeout = self.settings.timeout * max(1, len(self._channel.nameservers))
        return self._channel


def channel_options(settings: ResolverSettings) -> dict[str, Any]:
    """The c-ares channel options the pool uses (scripts/bench_floor.py asks with the same)."""
    return {
        "flags": CHANNEL_FLAGS,
        "timeout": settings.timeout,
        "tries": 1,
        # Spread questions over several nameservers; with one it changes nothing.
        "rotate": len(settings.nameservers) > 1,
    }


def _open_channel(settings: ResolverSettings) -> aiodns.DNSResolver:
    """The one c-ares channel, bound to the running loop."""
    try:
        return aiodns.DNSResolver(
            nameservers=list(settings.nameservers) or None,
            loop=asyncio.get_running_loop(),
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
