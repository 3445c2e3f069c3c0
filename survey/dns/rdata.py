"""Reading what a DNS message holds (RFC 1035 §3.3, §4.1.4): names, compressed or not, and
the record data the pool reads (TXT, A, MX), as text. Pure; `survey.dns.wire` reads messages
with these.

Every reader checks a length before it indexes: a reply that cannot be read raises
`Malformed`, and nothing else.
"""

import socket
from collections.abc import Callable

__all__ = [
    "MAX_LABEL",
    "MAX_NAME",
    "READERS",
    "Malformed",
    "hexadecimal",
    "presentation",
    "read_name",
    "skip_name",
]

MAX_NAME = 255  # octets on the wire (RFC 1035 §2.3.4)
MAX_LABEL = 63


class Malformed(ValueError):
    """A reply to our question that cannot be read."""


def skip_name(reply: bytes, offset: int) -> int:
    """Where the name at `offset` ends, for a name that is not read (authority, additional):
    its labels must lie inside the reply and a pointer must point backwards."""
    limit = len(reply)
    while offset < limit:
        length = reply[offset]
        if length >= 0xC0:
            if offset + 1 >= limit or (((length & 0x3F) << 8) | reply[offset + 1]) >= offset:
                raise Malformed("a compression pointer that does not point backwards")
            return offset + 2
        if length > MAX_LABEL:
            raise Malformed(f"label type {length >> 6:#x} is not a plain label")
        offset += length + 1
        if length == 0:
            return offset
    raise Malformed("a name runs past the end of the reply")


def read_name(reply: bytes, offset: int) -> tuple[bytes, int]:
    """The name at `offset` as lower-cased wire labels (a comparison key), and where it ends.

    Compression pointers must point strictly backwards (RFC 1035 §4.1.4 "a prior occurrence"),
    which also rules out loops."""
    labels: list[bytes] = []
    size = 1
    end = -1
    limit = len(reply)
    while True:
        if offset >= limit:
            raise Malformed("a name runs past the end of the reply")
        length = reply[offset]
        if length >= 0xC0:
            if offset + 1 >= limit:
                raise Malformed("a compression pointer runs past the end of the reply")
            target = ((length & 0x3F) << 8) | reply[offset + 1]
            if target >= offset:
                raise Malformed("a compression pointer that does not point backwards")
            if end < 0:
                end = offset + 2
            offset = target
            continue
        if length > MAX_LABEL:
            raise Malformed(f"label type {length >> 6:#x} is not a plain label")
        if length == 0:
            key = b"".join(labels).lower() + b"\x00"
            return key, (offset + 1 if end < 0 else end)
        size += length + 1
        if size > MAX_NAME:
            raise Malformed("a name longer than 255 octets")
        labels.append(reply[offset : offset + length + 1])
        offset += length + 1


def _text(reply: bytes, start: int, end: int) -> str:
    """A TXT RDATA's character-strings joined (RFC 7208 §3.3); each is a length octet and
    that many octets, and together they fill the RDATA exactly (RFC 1035 §3.3.14)."""
    rdata = reply[start:end]
    strings = []
    offset = 0
    while offset < len(rdata):
        stop = offset + 1 + rdata[offset]
        if stop > len(rdata):
            raise Malformed("a TXT character-string runs past its RDATA")
        strings.append(rdata[offset + 1 : stop])
        offset = stop
    return b"".join(strings).decode("utf-8", "surrogateescape")


def _address(reply: bytes, start: int, end: int) -> str:
    """An A RDATA: 4 octets (RFC 1035 §3.4.1), as a dotted quad."""
    if end - start != 4:
        raise Malformed(f"an A record of {end - start} octets")
    return socket.inet_ntoa(reply[start:end])


def _exchange(reply: bytes, start: int, end: int) -> str:
    """An MX RDATA's exchange name (RFC 1035 §3.3.9; the preference is not kept: what SPF
    counts and asks is the names, RFC 7208 §5.4). The name may be compressed."""
    if end - start < 3:
        raise Malformed("an MX record shorter than a preference and a name")
    name, stop = read_name(reply, start + 2)
    if stop != end:
        raise Malformed("MX RDATA longer than its name")
    return presentation(name)


def hexadecimal(reply: bytes, start: int, end: int) -> str:
    """The RDATA of a type read no further, in hex (RFC 3597 §5 without its prefix)."""
    return reply[start:end].hex()


READERS: dict[int, Callable[[bytes, int, int], str]] = {
    16: _text,  # TXT
    1: _address,  # A
    15: _exchange,  # MX
}
_RESERVED = frozenset(b'.;"()@$\\')


def presentation(key: bytes) -> str:
    """Wire labels (as `read_name` returns them) as a name in master-file form (RFC 1035 §5.1),
    without the trailing dot; the root is `.`."""
    labels = []
    offset = 0
    while key[offset]:
        length = key[offset]
        labels.append("".join(map(_character, key[offset + 1 : offset + 1 + length])))
        offset += length + 1
    return ".".join(labels) or "."


def _character(octet: int) -> str:
    if octet in _RESERVED:
        return "\\" + chr(octet)
    if 0x20 <= octet <= 0x7E:
        return chr(octet)
    return f"\\{octet:03d}"
