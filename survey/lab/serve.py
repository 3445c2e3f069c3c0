"""A small authoritative DNS server for the lab zone, over UDP and TCP, on loopback only.

Answers as an authoritative server does (RFC 1034 §4.3.2): AA set, CNAME chains followed inside
the zone, wildcards synthesised (RFC 4592), NXDOMAIN for names that do not exist, NODATA (SOA in
the authority section, RFC 2308 §2.2) for names that exist — empty non-terminals included —
without the asked type. Over UDP a reply larger than 512 octets, or than the EDNS payload the
client offered (RFC 6891 §6.2.5), goes out empty with TC=1 so that the client retries over TCP.
"""

import ipaddress
import socket
import socketserver
import struct
import threading
from pathlib import Path
from types import TracebackType

from dnslib import EDNS0, QTYPE, RCODE, RR, DNSError, DNSHeader, DNSRecord

from survey.errors import LabError
from survey.lab.zonefile import Zone, load_zone

CLASSIC_UDP_LIMIT = 512
SERVER_UDP_PAYLOAD = 1232
MAX_CNAME_CHAIN = 8


class Authority:
    """Pure question → reply logic over a loaded zone."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    def reply(self, request: DNSRecord) -> DNSRecord:
        header = DNSHeader(id=request.header.id, qr=1, aa=1, rd=request.header.rd)
        reply = DNSRecord(header, q=request.q)
        if request.header.opcode != 0 or len(request.questions) != 1:
            reply.header.aa = 0
            reply.header.rcode = RCODE.NOTIMP if request.header.opcode else RCODE.FORMERR
            return reply
        rcode, answers, soa = self.answer(str(request.q.qname).lower(), request.q.qtype)
        reply.header.rcode = rcode
        for record in answers:
            reply.add_answer(record)
        if soa:
            ttl, rdata = self.zone.soa  # RFC 2308 §3: negative TTL capped by SOA minimum
            reply.add_auth(
                RR(self.zone.origin, QTYPE.SOA, ttl=min(ttl, rdata.times[4]), rdata=rdata)
            )
        if _payload(request) is not None:
            reply.add_ar(EDNS0(udp_len=SERVER_UDP_PAYLOAD))
        return reply

    def answer(self, qname: str, qtype: int) -> tuple[int, list[RR], bool]:
        """(rcode, answer records, whether the SOA goes in the authority section)."""
        answers: list[RR] = []
        name = qname
        for _ in range(MAX_CNAME_CHAIN):
            node = self._node(name)
            if node is None:
                return RCODE.NXDOMAIN, answers, True
            if qtype in node or (qtype == QTYPE.ANY and node):
                types = node if qtype == QTYPE.ANY else (qtype,)
                answers += [_rr(name, t, ttl, rd) for t in types for ttl, rd in node[t]]
                return RCODE.NOERROR, answers, False
            if QTYPE.CNAME not in node:
                return RCODE.NOERROR, answers, True
            ttl, target = node[QTYPE.CNAME][0]
            answers.append(_rr(name, QTYPE.CNAME, ttl, target))
            name = str(target.label).lower()
        return RCODE.NOERROR, answers, False

    def _node(self, name: str) -> dict | None:
        """The records at `name`, a wildcard's when `name` does not exist (RFC 4592 §3.3.1),
        {} for an existing name without records, None when the name does not exist."""
        records = self.zone.records
        if name in self.zone.names:
            return records.get(name, {})
        encloser = name
        while encloser not in self.zone.names:
            encloser = encloser.partition(".")[2] or "."
        wildcard = "*." + encloser if encloser != "." else "*."
        return records.get(wildcard)


def _rr(name: str, rtype: int, ttl: int, rdata: object) -> RR:
    return RR(name, rtype, ttl=ttl, rdata=rdata)


def _payload(request: DNSRecord) -> int | None:
    """The UDP payload size the client offered in its OPT record, None without one."""
    for record in request.ar:
        if record.rtype == QTYPE.OPT:
            return max(CLASSIC_UDP_LIMIT, record.rclass)
    return None


def truncated(reply: DNSRecord) -> DNSRecord:
    """The reply emptied and flagged TC (RFC 2181 §9), keeping the question and the OPT."""
    header = DNSHeader(
        id=reply.header.id,
        qr=1,
        aa=reply.header.aa,
        tc=1,
        rd=reply.header.rd,
        rcode=reply.header.rcode,
    )
    short = DNSRecord(header, q=reply.q)
    for record in reply.ar:
        if record.rtype == QTYPE.OPT:
            short.add_ar(record)
    return short


class _UDPHandler(socketserver.BaseRequestHandler):
    server: "_UDPServer"

    def handle(self) -> None:
        packet, sock = self.request
        try:
            request = DNSRecord.parse(packet)
        except (DNSError, struct.error, IndexError, ValueError):
            return  # not a DNS message: no answer, as a server under attack would do
        reply = self.server.authority.reply(request)
        wire = reply.pack()
        if len(wire) > (_payload(request) or CLASSIC_UDP_LIMIT):
            wire = truncated(reply).pack()
        sock.sendto(wire, self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: "_TCPServer"

    def handle(self) -> None:
        """RFC 7766 §8: several length-prefixed messages on one connection."""
        while True:
            prefix = self._read(2)
            packet = self._read(struct.unpack("!H", prefix)[0]) if prefix else b""
            if not packet:
                return
            try:
                request = DNSRecord.parse(packet)
            except (DNSError, struct.error, IndexError, ValueError):
                return
            wire = self.server.authority.reply(request).pack()
            self.request.sendall(struct.pack("!H", len(wire)) + wire)

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.request.recv(size - len(data))
            if not chunk:
                return b""
            data += chunk
        return data


class _UDPServer(socketserver.UDPServer):
    max_packet_size = 65535

    def __init__(self, address: tuple[str, int], family: int, authority: Authority) -> None:
        self.address_family = family
        self.authority = authority
        super().__init__(address, _UDPHandler)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], family: int, authority: Authority) -> None:
        self.address_family = family
        self.authority = authority
        super().__init__(address, _TCPHandler)


def loopback_family(host: str) -> int:
    """The address family of a loopback address; LabError for anything else."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise LabError(f"the lab serves on a loopback IP address only, not {host!r}") from exc
    if not address.is_loopback:
        raise LabError(f"the lab serves on loopback only, not on {host}")
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


class LabServer:
    """The lab zone served over UDP and TCP on one loopback port (0: pick a free one)."""

    def __init__(self, zone_path: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.family = loopback_family(host)
        self.host = host
        self.requested_port = port
        self.zone_path = Path(zone_path)
        self.port = 0
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> "LabServer":
        if self._servers:
            raise LabError("the lab server is already running")
        authority = Authority(load_zone(self.zone_path))
        self._servers = self._bind(authority)
        self.port = int(self._servers[0].server_address[1])  # type: ignore[index]
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _bind(self, authority: Authority) -> list[socketserver.BaseServer]:
        """UDP and TCP on the same port; with port 0, retry when TCP finds the port taken."""
        for _ in range(20):
            try:
                udp = _UDPServer((self.host, self.requested_port), self.family, authority)
            except OSError as exc:
                raise LabError(
                    f"cannot listen on UDP {self.host}@{self.requested_port}: {exc}"
                ) from exc
            port = udp.server_address[1]
            try:
                return [udp, _TCPServer((self.host, port), self.family, authority)]
            except OSError as exc:
                udp.server_close()
                if self.requested_port:
                    raise LabError(f"cannot listen on TCP {self.host}@{port}: {exc}") from exc
        raise LabError(f"no free port on {self.host} for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join()
        self._servers, self._threads = [], []

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
