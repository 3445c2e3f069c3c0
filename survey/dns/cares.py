"""c-ares through aiodns behind the pool's seam (`--dns-client aiodns`).

For a user who trusts c-ares more than the survey's own codec: the same questions, the same
outcomes and texts, the pool's own retries, deadlines, rate cap and nameserver rotation. Each
nameserver gets a channel of its own with one try and no search list, so that c-ares' tries
and server rotation stay out of the way: one pool try is one c-ares query to the server the
pool chose. Like the survey's own sockets (`survey.dns.transport`), a channel is replaced by
a fresh one (new source port) after `ROTATE_QUERIES` queries or `ROTATE_SECONDS`, and closed
once its queries have ended.

How a c-ares result maps (`pycares.DNSResult` from `DNSResolver.query_dns`, pycares ≥ 5):
- the answer section's records of the asked type (TXT, A, MX) owned by the asked name, or by
  a name its CNAME chain leads to inside the answer (RFC 1034 §3.6.2), and the chain's last
  name (`canonical`): TXT records' character-strings joined without separator (RFC 7208
  §3.3; pycares joins them), decoded as UTF-8 with `surrogateescape` (no byte lost); A
  records as c-ares writes the address; MX records as their exchange name, lower-cased,
  without the trailing dot; none of them: NODATA;
- ARES_ENOTFOUND: NXDOMAIN; ARES_ENODATA: NODATA; ARES_ESERVFAIL, ARES_EREFUSED,
  ARES_ETIMEOUT: SERVFAIL, REFUSED, TIMEOUT; ARES_EBADRESP (a reply c-ares could not read):
  `error` counted as malformed and retried as a timeout, as the pool does for ours; any other
  status: `error`.

What c-ares decides for itself and this transport cannot match (README "How a forged answer
is kept out"), measured in tests/test_resolver.py:
- a reply that echoes the question but cannot be read ends c-ares' query at once (EBADRESP):
  the try is lost (and retried), where ours waits on for the real reply within the same try;
- a FORMERR without the question ends it the same way (EBADRESP), and the retry asks with
  EDNS again: an old server that answers so is not usable through c-ares;
- the try's timeout is c-ares' own estimate (5 × the server's average latency, at least
  250 ms, at most 5 s; `timeout` is only its first value), bounded by the pool's deadline;
- truncated answers go over TCP inside c-ares, uncounted (`tcp_queries` stays 0); stray and
  forged datagrams are dropped inside c-ares, uncounted (`stray` stays 0);
- a NOERROR reply's extended RCODE (RFC 6891 §6.1.3) is not exposed by pycares;
- c-ares keeps a query cache (answers with a TTL, for at most 3,600 s) that pycares has no
  option to switch off: a name asked twice by one pool within its TTL is answered from the
  cache (a scan asks each name once per run);
- c-ares runs an event thread of its own per channel;
- pycares (5.2) can neither set DO, AD or CD in a query nor read the AD bit of a reply (the
  C library can; its binding does not expose it): `QueryFlags` are not sent, `dnssec` is
  False, and a scan through c-ares leaves the `dnssec` column null (not measured).
"""

import asyncio
import functools
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import aiodns
import pycares

from survey.dns import wire
from survey.dns.base import Attempt
from survey.dns.settings import ResolverSettings, Server
from survey.dns.transport import RECEIVE_BUFFER, ROTATE_QUERIES, ROTATE_SECONDS
from survey.schema.values import Outcome

__all__ = ["CaresTransport", "records_of", "texts_of"]

_STATUS = {
    pycares.errno.ARES_ENOTFOUND: Outcome.NXDOMAIN,
    pycares.errno.ARES_ENODATA: Outcome.NODATA,
    pycares.errno.ARES_ESERVFAIL: Outcome.SERVFAIL,
    pycares.errno.ARES_EREFUSED: Outcome.REFUSED,
    pycares.errno.ARES_ETIMEOUT: Outcome.TIMEOUT,
}
_CLASS_IN = 1
# c-ares' own default is EDNS on; flags replace the default, so EDNS is named again.
# NOCHECKRESP: a SERVFAIL/REFUSED reply is the server's answer to this try, not a reason for
# c-ares to try elsewhere (the pool retries).
_FLAGS = pycares.ARES_FLAG_EDNS | pycares.ARES_FLAG_NOCHECKRESP | pycares.ARES_FLAG_NOSEARCH


def _key(name: str) -> str:
    return name.rstrip(".").lower()


def _text(data: object) -> str | None:
    if isinstance(data, pycares.TXTRecordData):
        return data.data.decode("utf-8", "surrogateescape")
    return None


def _address(data: object) -> str | None:
    return data.addr if isinstance(data, pycares.ARecordData) else None


def _exchange(data: object) -> str | None:
    if isinstance(data, pycares.MXRecordData):
        return _key(data.exchange) or "."  # the root: a null MX (RFC 7505)
    return None


_READERS = {wire.TYPE_TXT: _text, wire.TYPE_A: _address, wire.TYPE_MX: _exchange}


def records_of(
    result: pycares.DNSResult, name: str, qtype: int
) -> tuple[tuple[str, ...], str | None]:
    """The records of type `qtype` at `name` in `result`'s answer section, CNAMEs followed
    inside it, and the chain's last name (None when no CNAME was followed)."""
    read = _READERS[qtype]
    aliases: dict[str, str] = {}
    found: list[tuple[str, str]] = []
    for record in result.answer:
        if record.record_class != _CLASS_IN:
            continue
        text = read(record.data)
        if text is not None:
            found.append((_key(record.name), text))
        elif isinstance(record.data, pycares.CNAMERecordData):
            aliases[_key(record.name)] = _key(record.data.cname)
    owner = asked = _key(name)
    owners = {owner}
    while owner in aliases and aliases[owner] not in owners:
        owner = aliases[owner]
        owners.add(owner)
    records = tuple(text for at, text in found if at in owners)
    return records, (None if owner == asked else owner)


def texts_of(result: pycares.DNSResult, name: str) -> tuple[str, ...]:
    """The TXT texts at `name` in `result`'s answer section, CNAMEs followed inside it."""
    return records_of(result, name, wire.TYPE_TXT)[0]


def _wire_name(question_wire: bytes) -> str:
    """The dotted name of a question section (A-labels, as `wire.encode_name` wrote it)."""
    labels = []
    offset = 0
    while question_wire[offset]:
        length = question_wire[offset]
        labels.append(question_wire[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += length + 1
    return ".".join(labels) or "."


@dataclass(slots=True)
class _Channel:
    """One c-ares channel to one nameserver, and the queries it has not yet called back."""

    resolver: aiodns.DNSResolver
    opened: float
    sent: int = 0
    outstanding: int = 0
    retiring: bool = False


class CaresTransport:
    """`survey.dns.base.DnsTransport` on c-ares (aiodns), one channel per nameserver."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        servers: Sequence[Server],
        settings: ResolverSettings,
        *,
        rotate_queries: int = ROTATE_QUERIES,
        rotate_seconds: float = ROTATE_SECONDS,
    ) -> None:
        self.loop = loop
        self.servers = tuple(servers)
        self.stray = self.malformed = self.tcp_queries = 0
        self.dnssec = False  # pycares can neither send DO/AD/CD nor read AD (module docstring)
        self.opened = 0  # channels opened so far, replacements included
        self._timeout = settings.timeout
        self._rotate = (rotate_queries, rotate_seconds)
        self._channels = [self._channel(server) for server in self.servers]
        self._retired: dict[int, _Channel] = {}

    def _channel(self, server: Server) -> _Channel:
        family, host, port = server
        address = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        try:
            resolver = aiodns.DNSResolver(
                nameservers=[address],
                loop=self.loop,
                flags=_FLAGS,
                timeout=self._timeout,
                tries=1,
                socket_receive_buffer_size=RECEIVE_BUFFER,
            )
        except pycares.AresError as exc:
            raise OSError(f"c-ares: {exc}") from exc
        self.opened += 1
        return _Channel(resolver, self.loop.time())

    def send(self, attempt: Attempt) -> None:
        channel = self._current(attempt.server)
        channel.sent += 1
        channel.outstanding += 1
        name = _wire_name(attempt.question_wire)
        qtype = wire.qtype_of(attempt.question_wire)
        future = channel.resolver.query_dns(name, wire.TYPE_NAMES[qtype])
        future.add_done_callback(functools.partial(self._done, attempt, channel, name, qtype))

    def _current(self, server: int) -> _Channel:
        channel = self._channels[server]
        queries, seconds = self._rotate
        if channel.sent >= queries or self.loop.time() - channel.opened >= seconds:
            try:
                fresh = self._channel(self.servers[server])
            except OSError:
                channel.opened, channel.sent = self.loop.time(), 0
                return channel
            self._channels[server] = fresh
            channel.retiring = True
            self._retired[id(channel)] = channel
            self._settle(channel)
            channel = fresh
        return channel

    def _done(
        self,
        attempt: Attempt,
        channel: _Channel,
        name: str,
        qtype: int,
        future: "asyncio.Future[object]",
    ) -> None:
        channel.outstanding -= 1
        self._settle(channel)
        if future.cancelled():
            return
        error = future.exception()
        if attempt.done:
            return
        if error is None:
            result = future.result()
            records, canonical = records_of(result, name, qtype)  # type: ignore[arg-type]
            outcome = Outcome.OK if records else Outcome.NODATA
            attempt.ended(outcome, records, canonical=canonical)
            return
        status = error.args[0] if error.args else None
        if status == pycares.errno.ARES_EBADRESP:
            self.malformed += 1
            attempt.ended(Outcome.ERROR, (), retry_as=Outcome.TIMEOUT)
        else:
            attempt.ended(_STATUS.get(status, Outcome.ERROR))

    def _settle(self, channel: _Channel) -> None:
        if channel.retiring and channel.outstanding == 0:
            self._retired.pop(id(channel), None)
            _close_now(channel.resolver)

    def forget(self, attempt: Attempt) -> None:
        """c-ares cannot cancel one query: its callback finds the try ended and is ignored."""

    def close(self) -> None:
        for channel in [*self._channels, *self._retired.values()]:
            _close_now(channel.resolver)
        self._channels.clear()
        self._retired.clear()


def _close_now(resolver: aiodns.DNSResolver) -> None:
    """`DNSResolver.close()` is a coroutine that never suspends (aiodns 4: cancel the queries,
    release the channel); run it here, for the pool closes its transport synchronously."""
    closing = resolver.close()
    try:
        closing.send(None)
    except StopIteration:
        return
    closing.close()
