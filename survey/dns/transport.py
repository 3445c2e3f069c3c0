"""Queries on the wire: UDP to the nameservers on the running loop's own sockets, TCP when an
answer is truncated. The only module that opens sockets to a nameserver.

Each nameserver gets `SOCKETS_PER_SERVER` connected UDP sockets (the kernel then hands us only
datagrams from that address and port, and each socket has its own random source port). A query
carries an ID drawn from the operating system's randomness and not in use on its socket; a
datagram is taken as the reply only when its ID is pending on that socket and it echoes the
question (`wire.matches`). Everything else (a late reply to a query already given up, a forged
one) is counted in `stray` and dropped, so the query it may have aimed at still waits for
its real reply or its deadline.

What the transport decides, and nothing more (the pool keeps deadlines, retries, the rate):
- TC=1 over UDP: the same question again over a new TCP connection (RFC 7766 §5), within
  the same try. A TCP connection that fails or closes early ends the try with `error`.
- FORMERR without an OPT record to a query with EDNS: asked again without EDNS, within the
  same try (RFC 6891 §7).
- ICMP port unreachable (ECONNREFUSED on a connected socket) cannot be tied to one query:
  every query pending on that socket ends with `error` (nothing listens there).
- A send the socket buffer cannot take now waits, in order, until the socket is writable.
"""

import asyncio
import os
import socket
from array import array
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from survey.dns import wire
from survey.schema.values import Outcome

__all__ = ["Attempt", "Server", "Transport"]

SOCKETS_PER_SERVER = 4
READ_BATCH = 256  # datagrams read per readiness callback, so one busy socket cannot starve the loop
_MAX_UDP = 65535

Server = tuple[int, str, int]  # address family, IP address, port


class Attempt(Protocol):
    """What the transport needs of one try (the pool's `_Try`)."""

    question_wire: bytes
    tail: bytes  # the query with EDNS but its ID (`wire.query_tail`)
    server: int  # index into the transport's servers
    qid: int
    edns: bool
    done: bool
    socket: "_UdpSocket | None"
    task: "asyncio.Task[None] | None"

    def answered(self, reply: bytes) -> None: ...

    def failed(self, outcome: Outcome) -> None: ...


class _Ids:
    """Query IDs from the OS's randomness (RFC 5452 §9.2), drawn 4,096 at a time."""

    def __init__(self) -> None:
        self._batch: list[int] = []

    def draw(self) -> int:
        if not self._batch:
            self._batch = array("H", os.urandom(8192)).tolist()
        return self._batch.pop()


class _UdpSocket:
    """One connected UDP socket to one nameserver, and the queries pending on it by ID."""

    def __init__(self, transport: "Transport", server: Server, receive_buffer: int) -> None:
        self.transport = transport
        self.loop = transport.loop
        family, host, port = server
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.setblocking(False)
            # Answers wait here while the loop does Python work; the kernel caps the size at
            # net.core.rmem_max, and a smaller buffer is no error.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            self.sock.connect((host, port))
        except OSError:
            self.sock.close()
            raise
        self.fd = self.sock.fileno()
        self.pending: dict[int, Attempt] = {}
        self._backlog: deque[tuple[Attempt, bytes]] = deque()
        self.loop.add_reader(self.fd, self._readable)

    def send(self, attempt: Attempt) -> None:
        pending = self.pending
        qid = self.transport.ids.draw()
        while qid in pending:
            qid = self.transport.ids.draw()
        attempt.qid = qid
        attempt.socket = self
        pending[qid] = attempt
        if attempt.edns:
            message = qid.to_bytes(2, "big") + attempt.tail
        else:
            message = wire.query(qid, attempt.question_wire, edns=False)
        if self._backlog:
            self._backlog.append((attempt, message))
            return
        try:
            self.sock.send(message)
        except (BlockingIOError, InterruptedError):
            self._backlog.append((attempt, message))
            self.loop.add_writer(self.fd, self._writable)
        except OSError:
            self.forget(attempt)
            attempt.failed(Outcome.ERROR)

    def forget(self, attempt: Attempt) -> None:
        if self.pending.get(attempt.qid) is attempt:
            del self.pending[attempt.qid]

    def _writable(self) -> None:
        backlog = self._backlog
        while backlog:
            attempt, message = backlog[0]
            if attempt.done:
                backlog.popleft()
                continue
            try:
                self.sock.send(message)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                backlog.popleft()
                self.forget(attempt)
                attempt.failed(Outcome.ERROR)
                continue
            backlog.popleft()
        self.loop.remove_writer(self.fd)

    def _readable(self) -> None:
        recv = self.sock.recv
        pending = self.pending
        matches = wire.matches
        for _ in range(READ_BATCH):
            try:
                reply = recv(_MAX_UDP)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ECONNREFUSED: port unreachable; or another error on the socket
                self._fail_all()
                return
            attempt = pending.get((reply[0] << 8) | reply[1]) if len(reply) >= 12 else None
            if attempt is None:
                self.transport.stray += 1
            elif matches(reply, attempt.question_wire):
                del pending[attempt.qid]
                self.transport.replied(attempt, reply)
            elif attempt.edns and wire.is_bare_formerr(reply):
                del pending[attempt.qid]  # an old server's FORMERR without the question
                self.transport.without_edns(attempt)
            else:
                self.transport.stray += 1

    def _fail_all(self) -> None:
        attempts = list(self.pending.values())
        self.pending.clear()
        for attempt in attempts:
            attempt.failed(Outcome.ERROR)

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        if self._backlog:
            self.loop.remove_writer(self.fd)
            self._backlog.clear()
        self.pending.clear()
        self.sock.close()


class Transport:
    """The sockets of one resolver pool. `send(attempt)` puts a try on the wire to its server;
    the attempt hears back through `answered(reply)` or `failed(outcome)`, or not at all
    (the pool's deadline ends it and calls `forget`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        servers: Sequence[Server],
        receive_buffer: int,
        tcp_timeout: float,
        sockets_per_server: int = SOCKETS_PER_SERVER,
    ) -> None:
        self.loop = loop
        self.servers = tuple(servers)
        self.ids = _Ids()
        self.stray = 0  # datagrams that answered no pending query of ours
        self.tcp_queries = 0
        self._tcp_timeout = tcp_timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._sockets: list[list[_UdpSocket]] = []
        self._turn = [0] * len(self.servers)
        try:
            for server in self.servers:
                self._sockets.append(
                    [_UdpSocket(self, server, receive_buffer) for _ in range(sockets_per_server)]
                )
        except OSError:
            self.close()
            raise

    def send(self, attempt: Attempt) -> None:
        server = attempt.server
        sockets = self._sockets[server]
        turn = self._turn[server] = (self._turn[server] + 1) % len(sockets)
        sockets[turn].send(attempt)

    def forget(self, attempt: Attempt) -> None:
        """The pool gave `attempt` up: a late reply is stray, a TCP exchange is cancelled."""
        if attempt.socket is not None:
            attempt.socket.forget(attempt)
        if attempt.task is not None:
            attempt.task.cancel()

    def replied(self, attempt: Attempt, reply: bytes) -> None:
        """A UDP reply that matches `attempt`'s question."""
        if wire.is_truncated(reply):
            self._ask_over_tcp(attempt)
        elif attempt.edns and wire.rcode(reply) == wire.FORMERR and not wire.has_additional(reply):
            self.without_edns(attempt)
        else:
            attempt.answered(reply)

    def without_edns(self, attempt: Attempt) -> None:
        """A server that does not know EDNS answered FORMERR: ask it again without, within
        the same try (RFC 6891 §7)."""
        attempt.edns = False
        attempt.socket.send(attempt)  # type: ignore[union-attr]  # the reply came by one

    def _ask_over_tcp(self, attempt: Attempt) -> None:
        task = self.loop.create_task(self._tcp(attempt, self.servers[attempt.server]))
        attempt.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tcp(self, attempt: Attempt, server: Server) -> None:
        family, host, port = server
        qid = self.ids.draw()
        message = wire.query(qid, attempt.question_wire, attempt.edns)
        self.tcp_queries += 1
        writer = None
        try:
            async with asyncio.timeout(self._tcp_timeout):
                reader, writer = await asyncio.open_connection(host, port, family=family)
                writer.write(len(message).to_bytes(2, "big") + message)
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply = await reader.readexactly(size)
        except TimeoutError:
            outcome = Outcome.TIMEOUT
        except (OSError, asyncio.IncompleteReadError):
            outcome = Outcome.ERROR
        else:
            ours = int.from_bytes(reply[:2], "big") == qid
            if ours and wire.matches(reply, attempt.question_wire):
                if not attempt.done:
                    attempt.answered(reply)
                return
            outcome = Outcome.ERROR  # a TCP reply that answers something else: a broken server
        finally:
            if writer is not None:
                writer.close()
        if not attempt.done:
            attempt.failed(outcome)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for group in self._sockets:
            for udp in group:
                udp.close()
        self._sockets.clear()
