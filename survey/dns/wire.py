"""DNS messages on the wire (RFC 1035 §4): the queries the pool sends, the replies it reads.

Pure functions over bytes, no sockets (those are `survey.dns.transport`'s). A query is one question
(TXT, A or MX) with RD set and, by default, an EDNS OPT record offering a 1232-octet UDP payload
(RFC 6891; the DNS Flag Day 2020 value). `QueryFlags` add what a query asks of a validating
resolver: DO (RFC 3225) with AD (RFC 6840 §5.7), or CD (RFC 4035 §3.2.2). A reply is read only
as far as a verdict needs:

- `matches` says whether a datagram is a reply to our question at all (QR set, standard query,
  the same single question, compared case-insensitively per RFC 4343). Anything else, a late
  reply to an abandoned query or a forged one, is ignored by the caller and never read further.
- `read_answer` turns a reply into a `Reply`: the RCODE decides NXDOMAIN / SERVFAIL / REFUSED /
  error; for NOERROR the answer section is walked and the records of the asked type owned by
  the asked name, or by a name its CNAME chain leads to inside the answer (RFC 1034 §3.6.2),
  are its records, and the chain's last name is kept (`canonical`). NOERROR with none of them
  is NODATA (RFC 2308 §2.2). A NOERROR whose OPT record carries an extended RCODE (RFC 6891
  §6.1.3, e.g. BADVERS) is an error, never an empty answer. The header's AD bit is kept
  (`authenticated`, RFC 4035 §3.2.3): what it is worth depends on who set it (README, DNSSEC).
- A reply that cannot be read (shorter than a header, a count running past the end, a
  compression pointer that does not point backwards, an over-long name, an A record that is
  not 4 octets) raises `Malformed`, and nothing else: every reader checks a length before it
  indexes or unpacks. The pool does not end a try on it (`survey.dns.pool`).

Records as text: each TXT record's character-strings joined without separator (RFC 7208 §3.3)
and decoded as UTF-8 with `surrogateescape`, so that no byte is lost; an A record as a dotted
quad; an MX record as its exchange name. Names are lower-cased, without the trailing dot, in the
master-file form (RFC 1035 §5.1): `.`, `;`, `"`, `(`, `)`, `@`, `$` and `\\` escaped with a
backslash, octets outside 0x20-0x7E as `\\DDD` (the form c-ares writes, so both clients agree).
"""

import struct
from enum import IntFlag
from typing import NamedTuple

import idna

from survey.dns.rdata import MAX_LABEL, MAX_NAME, READERS, Malformed, hexadecimal, presentation
from survey.dns.rdata import read_name as _name
from survey.dns.rdata import skip_name as _skip_name
from survey.schema.values import Outcome

__all__ = [
    "EDNS_PAYLOAD",
    "FORMERR",
    "TYPE_A",
    "TYPE_MX",
    "TYPE_NAMES",
    "TYPE_TXT",
    "BadName",
    "Malformed",
    "QueryFlags",
    "Reply",
    "encode_name",
    "has_additional",
    "is_bare_formerr",
    "is_truncated",
    "matches",
    "qtype_of",
    "query",
    "query_tail",
    "question",
    "rcode",
    "read_answer",
    "read_txt",
]

TYPE_A = 1
TYPE_CNAME = 5
TYPE_MX = 15
TYPE_TXT = 16
TYPE_OPT = 41
TYPE_NAMES = {TYPE_A: "A", TYPE_MX: "MX", TYPE_TXT: "TXT"}  # the types the pool asks
CLASS_IN = 1
EDNS_PAYLOAD = 1232

_RD = 0x0100  # recursion desired
_QR = 0x8000
_OPCODE = 0x7800
_TC = 0x0200
_AD = 0x0020  # authentic data (RFC 4035 §3.2.3)
_CD = 0x0010  # checking disabled (RFC 4035 §3.2.2)
_RCODE = 0x000F
FORMERR = 1  # the RCODE of a server that could not read the query
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, TTL, RDLENGTH
_U16 = struct.Struct("!H")
_QUESTION_START = 12
# An OPT pseudo-RR: root owner, TYPE 41, CLASS = payload, TTL = ext-RCODE/version/DO = 0, no
# options (RFC 6891 §6.1.2); and the same with DO set, the TTL's bit 0x8000 (RFC 3225 §3).
_OPT = b"\x00" + struct.pack("!HHIH", TYPE_OPT, EDNS_PAYLOAD, 0, 0)
_OPT_DO = b"\x00" + struct.pack("!HHIH", TYPE_OPT, EDNS_PAYLOAD, 0x8000, 0)

_RCODE_OUTCOMES = {
    0: Outcome.NODATA,  # NOERROR: NODATA unless the answer section holds the TXT records
    2: Outcome.SERVFAIL,
    3: Outcome.NXDOMAIN,
    5: Outcome.REFUSED,
}  # FORMERR (1), NOTIMP (4) and the rest: error


class QueryFlags(IntFlag):
    """What a query asks of a validating resolver besides its question."""

    NONE = 0
    # DO (RFC 3225 §3) and AD (RFC 6840 §5.7): "I understand DNSSEC, tell me whether you
    # validated the answer" (the AD bit of the reply). DO travels in the OPT record: a query
    # asked again without EDNS (RFC 6891 §7) keeps only AD.
    DNSSEC = 1
    # CD (RFC 4035 §3.2.2): the data even if it fails validation; what tells a bogus answer
    # (SERVFAIL, then data with CD) from a resolver that fails for another reason.
    CHECKING_DISABLED = 2


class Reply(NamedTuple):
    """What a reply says: the outcome, the records of the asked type at the asked name (after
    CNAMEs) as text, the last name of the CNAME chain followed in a NOERROR answer (None when
    none was), and the AD bit."""

    outcome: Outcome
    records: tuple[str, ...] = ()
    canonical: str | None = None
    authenticated: bool = False


class BadName(ValueError):
    """A name that cannot be put on the wire (an empty or over-long label, over 255 octets)."""


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
        if not 0 < len(raw) <= MAX_LABEL:
            raise BadName(f"{name!r}: a label must be 1-63 octets, not {len(raw)}")
        parts.append(bytes((len(raw),)) + raw)
    wire = b"".join(parts) + b"\x00"
    if len(wire) > MAX_NAME:
        raise BadName(f"{name!r}: {len(wire)} octets on the wire, more than 255")
    return wire


def question(name: str, qtype: int = TYPE_TXT) -> bytes:
    """The question section of a query for `name`, type `qtype`, class IN."""
    return encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def qtype_of(question_wire: bytes) -> int:
    """The QTYPE of a question section."""
    return (question_wire[-4] << 8) | question_wire[-3]


def query(
    qid: int, question_wire: bytes, edns: bool = True, flags: QueryFlags = QueryFlags.NONE
) -> bytes:
    """A whole query message: header (ID, RD, and AD or CD as `flags` say), the question, and
    the OPT record (DO as `flags` say) if `edns`."""
    return _U16.pack(qid) + query_tail(question_wire, edns, flags)


def query_tail(
    question_wire: bytes, edns: bool = True, flags: QueryFlags = QueryFlags.NONE
) -> bytes:
    """A query message but its first two octets (the ID): built once per question, each
    try puts its own ID in front."""
    bits = _RD
    opt = _OPT
    if flags:  # (an IntFlag `&` costs a microsecond: most questions skip them)
        if flags & QueryFlags.DNSSEC:
            bits |= _AD
            opt = _OPT_DO
        if flags & QueryFlags.CHECKING_DISABLED:
            bits |= _CD
    return _HEADER.pack(0, bits, 1, 0, 0, int(edns))[2:] + question_wire + (opt if edns else b"")


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


def read_answer(reply: bytes, question_wire: bytes) -> Reply:
    """What a reply that `matches` our question says (`Reply`).

    Every record of every section must be whole (RFC 1035 §4.1: the counts and the octets
    agree), or the reply is `Malformed` whatever its RCODE; octets after the last record are
    ignored. An OPT record's extended RCODE (RFC 6891 §6.1.3) makes the reply an error."""
    _, flags, _, ancount, nscount, arcount = _HEADER.unpack_from(_header(reply))
    qtype = qtype_of(question_wire)
    offset = _QUESTION_START + len(question_wire)
    aliases: dict[bytes, bytes] = {}
    found: list[tuple[bytes, int, int]] = []
    for _ in range(ancount):
        owner, offset = _name(reply, offset)
        rtype, rclass, start, offset = _fixed(reply, offset)
        if rclass != CLASS_IN:
            continue
        if rtype == qtype:
            found.append((owner, start, offset))
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
    authenticated = bool(flags & _AD)
    if extended:
        return Reply(Outcome.ERROR)
    if outcome is not Outcome.NODATA:
        return Reply(outcome, (), None, authenticated)
    asked = question_wire[:-4].lower()
    owners, last = _chain(asked, aliases)
    canonical = None if last == asked else presentation(last)
    read = READERS.get(qtype, hexadecimal)
    records = tuple(read(reply, start, end) for owner, start, end in found if owner in owners)
    return Reply(Outcome.OK if records else Outcome.NODATA, records, canonical, authenticated)


def read_txt(reply: bytes, question_wire: bytes) -> tuple[Outcome, tuple[str, ...]]:
    """The outcome of a reply to a TXT question and the texts at the name (`read_answer`)."""
    answer = read_answer(reply, question_wire)
    return answer.outcome, answer.records


def _chain(owner: bytes, aliases: dict[bytes, bytes]) -> tuple[set[bytes], bytes]:
    """The names the CNAME chain from `owner` goes through inside the answer (RFC 1034
    §3.6.2), and its last name; a loop ends at the name whose CNAME closes it."""
    owners = {owner}
    while owner in aliases and aliases[owner] not in owners:
        owner = aliases[owner]
        owners.add(owner)
    return owners, owner


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
