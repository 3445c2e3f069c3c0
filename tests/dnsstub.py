"""A small in-process DNS server for the resolver's unit tests, on 127.0.0.1 only.

It answers TXT, A and MX questions from tables the test fills in, like a recursive resolver
would: NXDOMAIN for unknown names, NODATA for names in `nodata` (or holding only other types),
CNAME chains followed inside the answer section. It plays a validating resolver for the names
in `secure` (AD set in the reply when the query set DO or AD, RFC 6840 §5.7) and in `bogus`
(SERVFAIL, unless the query set CD: then the data, AD clear; RFC 4035 §3.2.2). Faults can
be set per name (SERVFAIL, REFUSED, NOTIMP, a dropped query, a malformed reply), for every
query or for the next `times` ones. UDP answers larger than 512
bytes, or than the EDNS payload the query offered (capped at `udp_max_payload`), come back
with TC=1 so the client must ask again over TCP (RFC 1035 §4.2.1, RFC 6891 §6.2.5).

Answers carry TTL 0 unless `ttl` is given (a client that caches would then show it).
Every query is logged with its type and its DO, AD and CD bits.

Both sockets are bound in the constructor, so the server is ready before a test starts; each
query is handled in its own thread, so an answer `delay` holds one query without blocking
the others. Every query received is logged (name, transport, EDNS payload, source port) and
counted per (name, transport); `max_outstanding` is the
largest number of queries received and not yet answered at one time.
"""

import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dnslib import CNAME, EDNS0, MX, QTYPE, RCODE, RR, SOA, TXT, A, DNSError, DNSHeader, DNSRecord

LOOPBACK = "127.0.0.1"


class Fault(StrEnum):
    """What the stub does instead of answering."""

    SERVFAIL = "servfail"
    REFUSED = "refused"
    NOTIMP = "notimp"
    DROP = "drop"  # no reply at all: the client times out
    MALFORMED = "malformed"  # a reply whose answer section is cut short
    NO_EDNS = "no-edns"  # FORMERR without OPT to a query with EDNS, as an old server (RFC 6891 §7)
    NO_EDNS_BARE = "no-edns-bare"  # the same, and without the question either


@dataclass(frozen=True, slots=True)
class QueryLog:
    """One query as the stub received it."""

    name: str  # lower-cased, no trailing dot
    transport: str  # "udp" or "tcp"
    edns_payload: int | None  # the UDP payload size the client offered, None without EDNS
    client_port: int = 0  # the query's source port
    qtype: str = "TXT"
    do: bool = False  # DNSSEC OK, in the OPT record (RFC 3225)
    ad: bool = False  # AD in the query (RFC 6840 §5.7)
    cd: bool = False  # checking disabled (RFC 4035 §3.2.2)


def _key(name: str) -> str:
    return name.rstrip(".").lower()


class DnsStub:
    """A resolver-style TXT, A and MX server on 127.0.0.1, UDP and TCP on one free port."""

    def __init__(
        self,
        txt: Mapping[str, Sequence[Sequence[bytes]]] | None = None,
        nodata: Iterable[str] = (),
        cnames: Mapping[str, str] | None = None,
        *,
        addresses: Mapping[str, Sequence[str]] | None = None,
        mx: Mapping[str, Sequence[tuple[int, str]]] | None = None,
        secure: Iterable[str] = (),
        bogus: Iterable[str] = (),
        udp_max_payload: int = 1232,
        delay: float = 0.0,
        ttl: int = 0,
    ) -> None:
        self.txt = {_key(k): [list(rr) for rr in v] for k, v in (txt or {}).items()}
        self.nodata = {_key(n) for n in nodata}
        self.cnames = {_key(k): _key(v) for k, v in (cnames or {}).items()}
        self.addresses = {_key(k): list(v) for k, v in (addresses or {}).items()}
        self.mx = {_key(k): list(v) for k, v in (mx or {}).items()}
        self.secure = {_key(n) for n in secure}
        self.bogus = {_key(n) for n in bogus}
        self.udp_max_payload = udp_max_payload
        self.delay = delay
        # TTL 0 (the default): no client may cache; a positive TTL would let one.
        self.ttl = ttl
        self.log: list[QueryLog] = []
        self.max_outstanding = 0
        self.replies = 0  # reply messages sent, UDP and TCP
        self._outstanding = 0
        self._faults: dict[str, tuple[Fault, int | None]] = {}
        self._lock = threading.Lock()
        self._udp, self._tcp = _bind_pair(self)
        self.port: int = self._udp.server_address[1]
        self._threads = [
            threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
            for s in (self._udp, self._tcp)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def nameserver(self) -> str:
        """The "HOST:PORT" string a resolver is configured with."""
        return f"{LOOPBACK}:{self.port}"

    def fail(self, name: str, fault: Fault, times: int | None = None) -> None:
        """Answer `name` with `fault` for the next `times` queries (None: for every query)."""
        with self._lock:
            self._faults[_key(name)] = (fault, times)

    def count(self, name: str, transport: str | None = None) -> int:
        """How many queries for `name` arrived (over `transport`, or over both)."""
        counts = Counter((q.name, q.transport) for q in self.log)
        transports = (transport,) if transport else ("udp", "tcp")
        return sum(counts[(_key(name), t)] for t in transports)

    def close(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "DnsStub":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- answering ------------------------------------------------------------------------

    def respond(self, wire: bytes, transport: str, client_port: int = 0) -> bytes | None:
        """The reply to one query message, or None to send nothing."""
        try:
            query = DNSRecord.parse(wire)
        except DNSError:
            return None
        name = _key(str(query.q.qname))
        payload = _edns_payload(query)
        with self._lock:
            self.log.append(_logged(query, name, transport, payload, client_port))
            self._outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self._outstanding)
            fault = self._take_fault(name)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._reply(query, name, fault, transport, payload)
        finally:
            with self._lock:
                self._outstanding -= 1

    def sent(self) -> None:
        with self._lock:
            self.replies += 1

    def _take_fault(self, name: str) -> Fault | None:
        if name not in self._faults:
            return None
        fault, times = self._faults[name]
        if times is not None:
            if times <= 1:
                del self._faults[name]
            else:
                self._faults[name] = (fault, times - 1)
        return fault

    def _reply(
        self, query: DNSRecord, name: str, fault: Fault | None, transport: str, payload: int | None
    ) -> bytes | None:
        if fault is Fault.DROP:
            return None
        if fault in (Fault.NO_EDNS, Fault.NO_EDNS_BARE) and payload is not None:
            reply = query.reply()
            reply.ar = []
            reply.header.rcode = RCODE.FORMERR
            if fault is Fault.NO_EDNS_BARE:
                reply.questions = []
            return reply.pack()
        reply = query.reply()
        reply.header.ad = 0  # dnslib copies the query's bits; AD is the server's to set
        if payload is not None:
            reply.add_ar(EDNS0(udp_len=self.udp_max_payload))
        if fault in (Fault.SERVFAIL, Fault.REFUSED, Fault.NOTIMP):
            reply.header.rcode = getattr(RCODE, fault.name)
            return reply.pack()
        if name in self.bogus and not query.header.cd:
            reply.header.rcode = RCODE.SERVFAIL  # what a validating resolver says of bogus data
            return reply.pack()
        # RFC 6840 §5.7, §5.8: AD only for validated data, and only to a query with DO or AD
        wants_ad = bool(query.header.ad) or _dnssec_ok(query)
        reply.header.ad = int(name in self.secure and wants_ad)
        self._fill(reply, name, query.q.qtype)
        wire = reply.pack()
        if fault is Fault.MALFORMED:
            return wire[:-3]
        if transport == "udp" and len(wire) > self._udp_limit(payload):
            return _truncated(query, payload is not None, self.udp_max_payload)
        return wire

    def _fill(self, reply: DNSRecord, name: str, qtype: int = QTYPE.TXT) -> None:
        """The answer section for `name`, following CNAMEs, and the rcode (RFC 2308 §2)."""
        seen = {name}
        while name in self.cnames:
            target = self.cnames[name]
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target), ttl=self.ttl))
            if target in seen:
                return
            seen.add(target)
            name = target
        records = self._records(name, qtype)
        for rtype, rdata in records:
            reply.add_answer(RR(name, rtype, rdata=rdata, ttl=self.ttl))
        if records:
            return
        if not any(name in table for table in (self.txt, self.nodata, self.addresses, self.mx)):
            reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(_soa(name, self.ttl))

    def _records(self, name: str, qtype: int) -> list[tuple[int, object]]:
        if qtype == QTYPE.A:
            return [(QTYPE.A, A(address)) for address in self.addresses.get(name, [])]
        if qtype == QTYPE.MX:
            return [(QTYPE.MX, MX(host, pref)) for pref, host in self.mx.get(name, [])]
        return [(QTYPE.TXT, TXT(list(strings))) for strings in self.txt.get(name, [])]

    def _udp_limit(self, payload: int | None) -> int:
        if payload is None:
            return 512
        return max(512, min(payload, self.udp_max_payload))


def _edns_payload(query: DNSRecord) -> int | None:
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return int(rr.rclass)
    return None


def _dnssec_ok(query: DNSRecord) -> bool:
    """The DO bit: 0x8000 of the OPT record's TTL (RFC 3225 §3)."""
    return any(rr.rtype == QTYPE.OPT and rr.ttl & 0x8000 for rr in query.ar)


def _logged(
    query: DNSRecord, name: str, transport: str, payload: int | None, port: int
) -> QueryLog:
    qtype = QTYPE.get(query.q.qtype)
    header = query.header
    do, ad, cd = _dnssec_ok(query), bool(header.ad), bool(header.cd)
    return QueryLog(name, transport, payload, port, str(qtype), do, ad, cd)


def _soa(name: str, ttl: int) -> RR:
    # Negative answers carry the SOA (RFC 2308 §3), and are cached for min(TTL, minimum).
    rdata = SOA("ns.stub.", "hostmaster.stub.", (1, 60, 60, 60, ttl))
    return RR(name, QTYPE.SOA, rdata=rdata, ttl=ttl)


def _truncated(query: DNSRecord, edns: bool, payload: int) -> bytes:
    # dnslib's DNSRecord.truncate() drops the question, and a client discards a reply whose
    # question does not match its query; keep the question, set TC, no records.
    header = DNSHeader(id=query.header.id, bitmap=query.header.bitmap, qr=1, aa=1, ra=1, tc=1)
    reply = DNSRecord(header, q=query.q)
    if edns:
        reply.add_ar(EDNS0(udp_len=payload))
    return reply.pack()


# -- sockets ----------------------------------------------------------------------------


class _UdpHandler(socketserver.BaseRequestHandler):
    server: "_UdpServer"

    def handle(self) -> None:
        wire, sock = self.request
        stub = self.server.stub
        reply = stub.respond(wire, "udp", self.client_address[1])
        if reply is not None:
            sock.sendto(reply, self.client_address)
            stub.sent()


class _TcpHandler(socketserver.BaseRequestHandler):
    server: "_TcpServer"

    def handle(self) -> None:
        # RFC 1035 §4.2.2: each message is preceded by its two-byte length; a client may send
        # several queries on one connection.
        while (header := _read_exactly(self.request, 2)) is not None:
            wire = _read_exactly(self.request, int.from_bytes(header, "big"))
            if wire is None:
                return
            reply = self.server.stub.respond(wire, "tcp")
            if reply is not None:
                self.request.sendall(len(reply).to_bytes(2, "big") + reply)
                self.server.stub.sent()


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = b""
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    stub: DnsStub


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    stub: DnsStub


def _bind_pair(stub: DnsStub) -> tuple[_UdpServer, _TcpServer]:
    """A UDP and a TCP server on the same free loopback port (retried if TCP's is taken)."""
    for _ in range(20):
        udp = _UdpServer((LOOPBACK, 0), _UdpHandler)
        try:
            tcp = _TcpServer((LOOPBACK, udp.server_address[1]), _TcpHandler)
        except OSError:
            udp.server_close()
            continue
        udp.stub = tcp.stub = stub
        return udp, tcp
    raise OSError("no free port for both UDP and TCP on 127.0.0.1")
