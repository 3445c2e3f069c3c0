"""The one I/O seam of the DNS package: what a transport is to the resolver pool.

The pool (`survey.dns.pool`) keeps everything that is policy: slots, the rate cap, try
deadlines, retries and their backoff, the nameserver each try goes to. A transport only puts
one try of a question on the wire to the server it names and reports how it ended. Three
transports stand behind the seam:

- `survey.dns.transport.Transport`: the survey's own codec on its own UDP/TCP sockets (default);
- `survey.dns.cares.CaresTransport`: c-ares through aiodns (`--dns-client aiodns`);
- `survey.dns.fake.FakeTransport`: a plain function answers, for tests on a virtual clock.

A pool takes a `TransportFactory`, called once on the running loop when the pool opens.
"""

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from survey.dns.settings import ResolverSettings, Server
from survey.dns.wire import QueryFlags
from survey.schema.values import Outcome

__all__ = ["Attempt", "DnsTransport", "TransportFactory"]


class Attempt(Protocol):
    """One try of one question, as a transport sees it (the pool's `_Try`).

    The transport ends it once, with `answered(reply)` for a datagram that echoes the question
    or `ended(outcome)` for what it decided itself; or not at all, and the pool's deadline
    ends it (then `DnsTransport.forget`). `done` says it has ended, whoever ended it.
    """

    name: str  # the question's name, as asked
    question_wire: bytes  # the question section (`wire.question`): name, type, class
    flags: QueryFlags  # DO and AD, or CD, that every query of this try carries
    tail: bytes  # the query with EDNS (and `flags`) but its ID (`wire.query_tail`)
    server: int  # index into the transport's servers
    number: int  # the question's try number, 1-based
    qid: int  # the ID of the query on the wire, -1 before it is sent
    plain_qid: int  # the ID of a query without EDNS sent beside it, -1 when none
    edns: bool  # whether `qid`'s query carries OPT
    done: bool
    socket: Any  # the transport's handle for the socket the query went out on
    task: "asyncio.Task[None] | None"  # a TCP exchange in flight for it

    def answered(self, reply: bytes) -> bool:
        """A reply that echoes the question. False when it cannot be read: the try then
        waits on for another reply (the transport counts it as malformed)."""
        ...

    def ended(
        self,
        outcome: Outcome,
        records: tuple[str, ...] = (),
        retry_as: Outcome | None = None,
        canonical: str | None = None,
    ) -> None:
        """The transport's own verdict on the try (`records` and `canonical` as in
        `wire.Reply`); `retry_as` is the outcome whose `is_retryable` decides a retry when it
        differs from `outcome` (an unreadable reply is `error`, retried as the timeout it
        amounts to)."""
        ...


class DnsTransport(Protocol):
    """What the pool needs of a transport: send a try, give one up, close; three counts for
    the manifest (`survey.store.manifest.transport_counts`); and whether it puts the
    `QueryFlags` on the wire and reads the AD bit back (`dnssec`)."""

    stray: int  # datagrams that answered no pending try (late, forged)
    malformed: int  # replies that echoed a question but could not be read
    tcp_queries: int  # questions asked again over TCP
    dnssec: bool  # DO, AD and CD sent as asked, AD read from replies

    def send(self, attempt: Attempt) -> None: ...

    def forget(self, attempt: Attempt) -> None:
        """The pool gave `attempt` up (its deadline passed): a late reply is stray."""
        ...

    def close(self) -> None: ...


TransportFactory = Callable[
    [asyncio.AbstractEventLoop, tuple[Server, ...], ResolverSettings], DnsTransport
]
