"""Queries on the wire: UDP to the nameservers on the running loop's own sockets, TCP when an
answer is truncated. The survey's own transport behind the pool's seam (`survey.dns.base`),
and the only module that opens sockets to a nameserver for it.

How a forged or stray datagram is kept out (RFC 5452):
- Each nameserver gets `SOCKETS_PER_SERVER` connected UDP sockets: the kernel hands us only
  datagrams from that address and port. Each has a random source port, and is replaced by a
  fresh one (a new random port) once it has carried `ROTATE_QUERIES` queries or lived
  `ROTATE_SECONDS` (RFC 5452 §9.2: unpredictable ports; a port learnt by a side channel such
  as an ICMP-rate-limit scan, which takes seconds, is dead before it is of use). A replaced
  socket sends nothing more and closes once its pending queries have ended.
- A query carries an ID drawn from the operating system's randomness and not in use on its
  socket; a datagram is taken as the reply only when its ID is pending on that socket and it
  echoes the question (`wire.matches`). Everything else (a late reply to a query given up, a
  forged one) is counted in `stray` and dropped: the query it may have aimed at still waits
  for its real reply or its deadline.
- A datagram that echoes the question but cannot be read is counted in `malformed` and the
  try waits on (the pool decides what its deadline then means).

What the transport decides, and nothing more (the pool keeps deadlines, retries, the rate):
- TC=1 over UDP: the same question again over a new TCP connection (RFC 7766 §5), within
  the same try. A TCP connection that fails or closes early ends the try with `error`.
- EDNS: a FORMERR without an OPT record that echoes the question says the server does not
  know EDNS: the question goes again without EDNS, within the same try (RFC 6891 §7). A
  FORMERR without the question (how some old servers answer a query they could not parse)
  cannot be told from a forgery, which needs only the ID: it is not a reply and ends nothing.
  It makes the transport ask the same question without EDNS beside the EDNS query, once per
  try, and the first reply that echoes the question wins. An old server thus still answers
  at once, and a forged bare FORMERR cannot switch EDNS off: the real EDNS reply is still
  taken when it comes. A query without EDNS keeps the try's AD or CD bit; DO, which lives
  in the OPT record, goes with it (RFC 3225 §3).
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

from survey.dns import wire
from survey.dns.base import Attempt
from survey.dns.settings import ResolverSettings, Server
from survey.schema.values import Outcome

__all__ = ["RECEIVE_BUFFER", "Attempt", "Server", "Transport"]

SOCKETS_PER_SERVER = 4
ROTATE_QUERIES = 100  # queries a UDP socket carries before a fresh port replaces it
ROTATE_SECONDS = 1.0  # or seconds it is used for, whichever comes first
READ_BATCH = 256  # datagrams read per readiness callback, so one busy socket cannot starve the loop
# The receive buffer asked for each UDP socket: answers wait there while the loop is busy
# with Python work, and one too small drops UDP answers under load (the kernel caps it at
# net.core.rmem_max).
RECEIVE_BUFFER = 4 * 1024 * 1024
_MAX_UDP = 65535


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
            self.sock.connect((host, port))  # binds a fresh random source port
        except OSError:
            self.sock.close()
            raise
        self.fd = self.sock.fileno()
        self.pending: dict[int, Attempt] = {}
        self.sent = 0
        self.opened = self.loop.time()
        self.retiring = self.closed = False
        self._backlog: deque[tuple[Attempt, bytes]] = deque()
        self.loop.add_reader(self.fd, self._readable)

    def worn(self, now: float, queries: int, seconds: float) -> bool:
        return self.sent >= queries or now - self.opened >= seconds

    def send(self, attempt: Attempt) -> None:
        """`attempt`'s query, with EDNS or not as `attempt.edns` says."""
        self._put(attempt, plain=False)

    def send_plain(self, attempt: Attempt) -> None:
        """The same question without EDNS, beside the query already pending."""
        self._put(attempt, plain=True)

    def _put(self, attempt: Attempt, plain: bool) -> None:
        pending = self.pending
        qid = self.transport.ids.draw()
        while qid in pending:
            qid = self.transport.ids.draw()
        if plain:
            attempt.plain_qid = qid
        else:
            attempt.qid = qid
        attempt.socket = self
        pending[qid] = attempt
        self.sent += 1
        if attempt.edns and not plain:
            message = qid.to_bytes(2, "big") + attempt.tail
        else:
            message = wire.query(qid, attempt.question_wire, False, attempt.flags)
        if self._backlog:
            self._backlog.append((attempt, message))
            return
        try:
            self.sock.send(message)
        except (BlockingIOError, InterruptedError):
            self._backlog.append((attempt, message))
            self.loop.add_writer(self.fd, self._writable)
        except OSError:
            self.release(attempt)
            attempt.ended(Outcome.ERROR)

    def release(self, attempt: Attempt) -> None:
        """Forget `attempt`'s IDs on this socket (a later datagram with them is stray)."""
        pending = self.pending
        for qid in (attempt.qid, attempt.plain_qid):
            if pending.get(qid) is attempt:
                del pending[qid]
        self.settle()

    def retire(self) -> None:
        """Replaced by a fresh socket: send nothing more, close once nothing is pending."""
        self.retiring = True
        self.settle()

    def settle(self) -> None:
        if self.retiring and not self.closed and not self.pending and not self._backlog:
            self.transport.retired(self)
            self.close()

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
                self.release(attempt)
                attempt.ended(Outcome.ERROR)
                continue
            backlog.popleft()
        self.loop.remove_writer(self.fd)
        self.settle()

    def _readable(self) -> None:
        recv = self.sock.recv
        for _ in range(READ_BATCH):
            if self.closed:
                return
            try:
                reply = recv(_MAX_UDP)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ECONNREFUSED: port unreachable; or another error on the socket
                self._fail_all()
                return
            self._datagram(reply)

    def _datagram(self, reply: bytes) -> None:
        qid = (reply[0] << 8) | reply[1] if len(reply) >= 12 else -1
        attempt = self.pending.get(qid)
        transport = self.transport
        if attempt is None or attempt.done:
            transport.stray += 1
            if attempt is not None:
                self.release(attempt)
        elif wire.matches(reply, attempt.question_wire):
            transport.replied(self, attempt, qid, reply)
        elif qid == attempt.qid and attempt.edns and wire.is_bare_formerr(reply):
            transport.stray += 1  # not a reply: see the module docstring
            if attempt.plain_qid < 0:
                self.send_plain(attempt)
        else:
            transport.stray += 1

    def _fail_all(self) -> None:
        attempts = list(self.pending.values())
        self.pending.clear()
        for attempt in attempts:
            attempt.ended(Outcome.ERROR)
        self.settle()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.fd)
        if self._backlog:
            self.loop.remove_writer(self.fd)
            self._backlog.clear()
        self.pending.clear()
        self.sock.close()


class Transport:
    """The survey's own transport (`survey.dns.base.DnsTransport`): the sockets of one
    resolver pool. `send(attempt)` puts a try on the wire to its server; the attempt hears
    back through `answered(reply)` or `ended(outcome)`, or not at all (the pool's deadline
    ends it and calls `forget`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        servers: Sequence[Server],
        settings: ResolverSettings,
        *,
        receive_buffer: int = RECEIVE_BUFFER,
        sockets_per_server: int = SOCKETS_PER_SERVER,
        rotate_queries: int = ROTATE_QUERIES,
        rotate_seconds: float = ROTATE_SECONDS,
    ) -> None:
        self.loop = loop
        self.servers = tuple(servers)
        self.ids = _Ids()
        self.stray = 0  # datagrams that answered no pending query of ours
        self.malformed = 0  # replies that echoed a question but could not be read
        self.tcp_queries = 0
        self.dnssec = True  # QueryFlags go on the wire, the AD bit is read (wire.read_answer)
        self.opened = 0  # UDP sockets opened so far, replacements included
        self._receive_buffer = receive_buffer
        self._rotate = (rotate_queries, rotate_seconds)
        self._tcp_timeout = settings.timeout
        self._tasks: set[asyncio.Task[None]] = set()
        self._sockets: list[list[_UdpSocket]] = []
        self._retiring: set[_UdpSocket] = set()
        self._turn = [0] * len(self.servers)
        try:
            for server in self.servers:
                self._sockets.append([self._socket(server) for _ in range(sockets_per_server)])
        except OSError:
            self.close()
            raise

    def _socket(self, server: Server) -> _UdpSocket:
        udp = _UdpSocket(self, server, self._receive_buffer)
        self.opened += 1
        return udp

    def send(self, attempt: Attempt) -> None:
        server = attempt.server
        sockets = self._sockets[server]
        turn = self._turn[server] = (self._turn[server] + 1) % len(sockets)
        udp = sockets[turn]
        if udp.worn(self.loop.time(), *self._rotate):
            udp = self._replace(server, turn)
        udp.send(attempt)

    def _replace(self, server: int, turn: int) -> _UdpSocket:
        old = self._sockets[server][turn]
        try:
            fresh = self._socket(self.servers[server])
        except OSError:  # out of descriptors, say: keep the old port a while longer
            old.opened, old.sent = self.loop.time(), 0
            return old
        self._sockets[server][turn] = fresh
        self._retiring.add(old)
        old.retire()
        return fresh

    def retired(self, udp: _UdpSocket) -> None:
        self._retiring.discard(udp)

    def forget(self, attempt: Attempt) -> None:
        """The pool gave `attempt` up: a late reply is stray, a TCP exchange is cancelled."""
        if attempt.socket is not None:
            attempt.socket.release(attempt)
        if attempt.task is not None:
            attempt.task.cancel()

    def replied(self, udp: _UdpSocket, attempt: Attempt, qid: int, reply: bytes) -> None:
        """A UDP datagram with `attempt`'s ID `qid` that echoes its question."""
        with_edns = qid == attempt.qid and attempt.edns
        if wire.is_truncated(reply):
            udp.release(attempt)
            attempt.edns = with_edns  # over TCP as the query that drew the TC bit
            self._ask_over_tcp(attempt)
        elif with_edns and wire.rcode(reply) == wire.FORMERR and not wire.has_additional(reply):
            # RFC 6891 §7: a server that does not know EDNS; it echoed our question.
            udp.release(attempt)
            attempt.edns = False
            attempt.plain_qid = -1
            self.send(attempt)
        elif attempt.answered(reply):
            udp.release(attempt)
        else:
            self.malformed += 1  # the try waits on; its IDs stay pending

    def _ask_over_tcp(self, attempt: Attempt) -> None:
        task = self.loop.create_task(self._tcp(attempt, self.servers[attempt.server]))
        attempt.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tcp(self, attempt: Attempt, server: Server) -> None:
        family, host, port = server
        qid = self.ids.draw()
        message = wire.query(qid, attempt.question_wire, attempt.edns, attempt.flags)
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
            ours = len(reply) >= 2 and int.from_bytes(reply[:2], "big") == qid
            if ours and wire.matches(reply, attempt.question_wire):
                if not attempt.done and not attempt.answered(reply):
                    self.malformed += 1  # nothing more comes on this connection: the deadline
                return
            outcome = Outcome.ERROR  # a TCP reply that answers something else: a broken server
        finally:
            if writer is not None:
                writer.close()
        attempt.ended(outcome)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for group in self._sockets:
            for udp in group:
                udp.close()
        for udp in list(self._retiring):
            udp.close()
        self._retiring.clear()
        self._sockets.clear()
