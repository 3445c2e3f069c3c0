"""How the resolver pool asks: its settings, the nameservers given or read from resolv.conf.

Pure values, no sockets: the CLI and the manifest take these without importing the network
stack. `ResolverSettings` is recorded whole in every manifest (`dataclasses.asdict`), so a
field added here is recorded without more ado.
"""

import ipaddress
import math
import re
import socket
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from survey.errors import InputError, ResolverError

__all__ = [
    "CLIENTS",
    "DNS_PORT",
    "RESOLV_CONF",
    "DnsClient",
    "ResolverSettings",
    "Server",
    "parse_nameserver",
    "server_address",
    "system_nameservers",
]

DNS_PORT = 53
RESOLV_CONF = Path("/etc/resolv.conf")


class DnsClient(StrEnum):
    """The DNS clients behind the pool's transport seam (`--dns-client`; an interface: values
    are only ever appended)."""

    SURVEY = "survey"  # the survey's own codec and sockets (survey.dns.transport)
    AIODNS = "aiodns"  # c-ares through aiodns (survey.dns.cares)


CLIENTS = tuple(client.value for client in DnsClient)

Server = tuple[int, str, int]  # address family, IP address, port

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


def server_address(nameserver: str) -> Server:
    """ "IP:PORT" / "[IPv6]:PORT" (as `parse_nameserver` writes them) to a socket address."""
    host, port = _split_host_port(nameserver)
    address = ipaddress.ip_address(host)
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return family, str(address), int(port or DNS_PORT)


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
    backoff: float = 0.2  # seconds before the first retry, doubled per retry (± jitter)
    client: str = "survey"  # the DNS client behind the pool: one of CLIENTS

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
        _require(self.client in CLIENTS, f"client must be one of {CLIENTS}, not {self.client!r}")

    def backoff_before(self, attempt: int) -> float:
        """Seconds to wait before try number `attempt` (1-based), before jitter: 0, backoff,
        2*backoff, …"""
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
