"""DNS messages on the wire (RFC 1035 §4): the queries the pool sends, the replies it reads.

Pure functions over bytes, no sockets (those are `survey.dns.transport`'s). A query is one question
with RD set and, by default, an EDNS OPT record offering a 1232-octet UDP payload (RFC 6891;
the DNS Flag Day 2020 value). A reply is read only as far as a verdict needs:

- `matches` says whether a datagram is a reply to our question at all (QR set, standard query,
  the same single question, compared case-insensitively per RFC 4343). Anything else, a late
  reply to an abandoned query or a forged one, is ignored by the caller and never read further.
- `read_txt` turns a reply into an outcome: the RCODE decides NXDOMAIN / SERVFAIL / REFUSED /
  error; for NOERROR the answer section is walked and the TXT records owned by the asked name,
  or by a name its CNAME chain leads to inside the answer (RFC 1034 §3.6.2), are its texts.
  NOERROR with none of them is NODATA (RFC 2308 §2.2). A NOERROR whose OPT record carries an
  extended RCODE (RFC 6891 §6.1.3, e.g. BADVERS) is an error, never an empty answer.
- A reply that cannot be read (shorter than a header, a count running past the end, a
  compression pointer that does not point backwards, an over-long name) raises `Malformed`,
  and nothing else: every reader checks a length before it indexes or unpacks. The pool does
  not end a try on it (`survey.dns.pool`).

Each TXT record's character-strings are joined without separator (RFC 7208 §3.3) and decoded
as UTF-8 with `surrogateescape`, so that no byte is lost.
"""

import struct

import idna

from survey.schema.values import Outcome

__all__ = [
    "EDNS_PAYLOAD",
    "FORMERR",
    "TYPE_TXT",
    "BadName",
    "Malformed",
    "encode_name",
    "has_additional",
    "is_bare_formerr",
    "is_truncated",
    "matches",
    "query",
    "query_tail",
    "question",
    "rcode",
    "read_txt",
]

TYPE_CNAME = 5
TYPE_TXT = 16
TYPE_OPT = 41
CLASS_IN = 1
EDNS_PAYLOAD = 1232

_RD = 0x0100  # recursion desired
_QR = 0x8000
_OPCODE = 0x7800
_TC = 0x0200
_RCODE = 0x000F
FORMERR = 1  # the RCODE of a server that could not read the query
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH
_U16 = struct.Struct("!H")
_QUESTION_START = 12
# An OPT pseudo-RR: root owner, TYPE 41, CLASS = payload, TTL = ext-RCODE/version/DO = 0, no
# options (RFC 6891 §6.1.2).
_OPT = b"\x00" + struct.pack("!HHIH", TYPE_OPT, EDNS_PAYLOAD, 0, 0)
_MAX_NAME = 255  # octets on the wire (RFC 1035 §2.3.4)
_MAX_LABEL = 63

_RCODE_OUTCOMES = {
    0: Outcome.NODATA,  # NOERROR: NODATA unless the answer section holds the TXT records
    2: Outcome.SERVFAIL,
    3: Outcome.NXDOMAIN,
    5: Outcome.REFUSED,
}  # FORMERR (1), NOTIMP (4) and the rest: error


class BadName(ValueError):
    """A name that cannot be put on the wire (an empty or over-long label, over 255 octets)."""


class Malformed(ValueError):
    """A reply to our question that cannot be read."""


def encode_name(name: str) -> bytes:
    """`name` ("example.com", one trailing dot allowed) as wire-format labels.

    ASCII labels go on the wire as they are; a label with other characters is IDNA 2008
    encoded to its A-label (as the input reader already does for whole domains)."""
    text = name[:-1] if name.endswith(".") else name
    if not text:
        return b"\x00"  # the root
    parts = []
    for label in text.split("."):
        if label.isascii():
            raw = label.encode("ascii")
        else:
            try:  # one label: alabel, not encode, which would split at U+3002 and kin
                raw = idna.alabel(label)
            except (idna.IDNAError, UnicodeError) as exc:
                raise BadName(f"{name!r}: label {label!r} is not IDNA: {exc}") from None
        if not 0 < len(raw) <= _MAX_LABEL:
            raise BadName(f"{name!r}: a label must be 1-63 octets, not {len(raw)}")
        parts.append(bytes((len(raw),)) + raw)
    wire = b"".join(parts) + b"\x00"
    if len(wire) > _MAX_NAME:
        raise BadName(f"{name!r}: {len(wire)} octets on the wire, more than 255")
    return wire


def question(name: str, qtype: int = TYPE_TXT) -> bytes:
    """The question section of a query for `name`, type `qtype`, class IN."""
    return encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def query(qid: int, question_wire: bytes, edns: bool = True) -> bytes:
    """A whole query message: header (ID, RD), the question, and the OPT record if `edns`."""
    return _U16.pack(qid) + query_tail(question_wire, edns)


def query_tail(question_wire: bytes, edns: bool = True) -> bytes:
    """A query message but its first two octets (the ID): built once per question, each
    try puts its own ID in front."""
    return _HEADER.pack(0, _RD, 1, 0, 0, int(edns))[2:] + question_wire + (_OPT if edns else b"")


def matches(reply: bytes, question_wire: bytes) -> bool:
    """True when `reply` (whose ID the caller has matched) answers `question_wire`: a
    response (QR), opcode QUERY, exactly that one question (RFC 4343: case-insensitive)."""
    if len(reply) < _QUESTION_START + len(question_wire):
        return False
    flags = (reply[2] << 8) | reply[3]
    if not flags & _QR or flags & _OPCODE or reply[4] or reply[5] != 1:
        return False
    echoed = reply[_QUESTION_START : _QUESTION_START + len(question_wire)]
    if echoed == question_wire:
        return True
    # The name compares case-insensitively, QTYPE and QCLASS octet for octet.
    return echoed[-4:] == question_wire[-4:] and echoed[:-4].lower() == question_wire[:-4].lower()


def is_bare_formerr(reply: bytes) -> bool:
    """A FORMERR response with no question: how some servers that do not know EDNS answer
    a query carrying OPT (RFC 6891 §7)."""
    return (
        len(reply) >= _QUESTION_START
        and bool(reply[2] & 0x80)
        and reply[3] & _RCODE == FORMERR
        and not (reply[4] or reply[5])
    )


def _header(reply: bytes) -> bytes:
    """The 12-octet header (RFC 1035 §4.1.1), or `Malformed` when the datagram is shorter."""
    if len(reply) < _QUESTION_START:
        raise Malformed(f"{len(reply)} octets: shorter than a DNS header")
    return reply


def is_truncated(reply: bytes) -> bool:
    """TC set: the answer did not fit and must be asked again over TCP (RFC 7766 §5)."""
    return bool(_header(reply)[2] & (_TC >> 8))


def rcode(reply: bytes) -> int:
    """The header's 4-bit RCODE."""
    return _header(reply)[3] & _RCODE


def has_additional(reply: bytes) -> bool:
    """True when the reply has records in its additional section (an OPT record, say)."""
    header = _header(reply)
    return bool(header[10] or header[11])


def read_txt(reply: bytes, question_wire: bytes) -> tuple[Outcome, tuple[str, ...]]:
    """The outcome of a reply that `matches` our TXT question, and the texts at the name.

    Every record of every section must be whole (RFC 1035 §4.1: the counts and the octets
    agree), or the reply is `Malformed` whatever its RCODE; octets after the last record are
    ignored. An OPT record's extended RCODE (RFC 6891 §6.1.3) makes the reply an error."""
    _, flags, _, ancount, nscount, arcount = _HEADER.unpack_from(_header(reply))
    offset = _QUESTION_START + len(question_wire)
    aliases: dict[bytes, bytes] = {}
    found: list[tuple[bytes, bytes]] = []
    for _ in range(ancount):
        owner, offset = _name(reply, offset)
        rtype, rclass, start, offset = _fixed(reply, offset)
        if rclass != CLASS_IN:
            continue
        if rtype == TYPE_TXT:
            found.append((owner, reply[start:offset]))
        elif rtype == TYPE_CNAME:
            target, end = _name(reply, start)
            if end != offset:
                raise Malformed("CNAME RDATA longer than its name")
            aliases[owner] = target
    for _ in range(nscount):
        offset = _fixed(reply, _skip_name(reply, offset))[3]
    extended = 0
    for _ in range(arcount):
        rtype, _, start, offset = _fixed(reply, _skip_name(reply, offset))
        if rtype == TYPE_OPT:
            extended |= reply[start - 6]  # the TTL's first octet (TTL, RDLENGTH, then RDATA)
    outcome = _RCODE_OUTCOMES.get(flags & _RCODE, Outcome.ERROR)
    if extended:
        return Outcome.ERROR, ()
    if outcome is not Outcome.NODATA:
        return outcome, ()
    if found:
        owner = question_wire[:-4].lower()
        owners = {owner}
        while owner in aliases and aliases[owner] not in owners:
            owner = aliases[owner]
            owners.add(owner)
        texts = tuple(_text(rdata) for name, rdata in found if name in owners)
        if texts:
            return Outcome.OK, texts
    return Outcome.NODATA, ()


def _fixed(reply: bytes, offset: int) -> tuple[int, int, int, int]:
    """A record's fields after its owner name: type, class, RDATA start, RDATA end."""
    start = offset + _RR_FIXED.size
    if start > len(reply):
        raise Malformed("a record runs past the end of the reply")
    rtype, rclass, _, rdlength = _RR_FIXED.unpack_from(reply, offset)
    end = start + rdlength
    if end > len(reply):
        raise Malformed("a record's RDATA runs past the end of the reply")
    return rtype, rclass, start, end


def _skip_name(reply: bytes, offset: int) -> int:
    """Where the name at `offset` ends, for a name that is not read (authority, additional):
    its labels must lie inside the reply and a pointer must point backwards."""
    limit = len(reply)
    while offset < limit:
        length = reply[offset]
        if length >= 0xC0:
            if offset + 1 >= limit or (((length & 0x3F) << 8) | reply[offset + 1]) >= offset:
                raise Malformed("a compression pointer that does not point backwards")
            return offset + 2
        if length > _MAX_LABEL:
            raise Malformed(f"label type {length >> 6:#x} is not a plain label")
        offset += length + 1
        if length == 0:
            return offset
    raise Malformed("a name runs past the end of the reply")


def _name(reply: bytes, offset: int) -> tuple[bytes, int]:
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
        if length > _MAX_LABEL:
            raise Malformed(f"label type {length >> 6:#x} is not a plain label")
        if length == 0:
            key = b"".join(labels).lower() + b"\x00"
            return key, (offset + 1 if end < 0 else end)
        size += length + 1
        if size > _MAX_NAME:
            raise Malformed("a name longer than 255 octets")
        labels.append(reply[offset : offset + length + 1])
        offset += length + 1


def _text(rdata: bytes) -> str:
    """A TXT RDATA's character-strings joined (RFC 7208 §3.3); each is a length octet and
    that many octets, and together they fill the RDATA exactly (RFC 1035 §3.3.14)."""
    strings = []
    offset = 0
    while offset < len(rdata):
        end = offset + 1 + rdata[offset]
        if end > len(rdata):
            raise Malformed("a TXT character-string runs past its RDATA")
        strings.append(rdata[offset + 1 : end])
        offset = end
    return b"".join(strings).decode("utf-8", "surrogateescape")
