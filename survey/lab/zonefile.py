"""Master-file text for the lab zone (RFC 1035 §5): writing lines fast, and reading them back.

The generator builds the zone as plain strings (a million domains must take seconds, not
minutes); `load_zone` reads that text, or any simple zone of the same record types, into a dict
for the dnslib lab server. Every owner name is kept absolute and lower-cased, with its trailing
dot.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import AAAA, CNAME, MX, NS, QTYPE, RD, SOA, TXT, A

from survey.errors import LabError

#: One character-string holds at most 255 octets (RFC 1035 §3.3).
MAX_STRING = 255
DEFAULT_TTL = 3600
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[()]|[^\s"()]+')
_CLASSES = frozenset({"IN", "CH", "HS"})
_TXT_SAFE = re.compile(r"^[\x20-\x7e]*$")


def quote_strings(strings: Iterable[str]) -> str:
    """TXT RDATA text: each string quoted, longer ones cut into 255-octet character-strings."""
    parts: list[str] = []
    for text in strings:
        if '"' in text or "\\" in text or not _TXT_SAFE.match(text):
            raise LabError(f"TXT text needs escaping, which the lab does not write: {text!r}")
        starts = range(0, max(len(text), 1), MAX_STRING)
        parts.extend(f'"{text[i : i + MAX_STRING]}"' for i in starts)
    return " ".join(parts)


def txt_line(owner: str, strings: Iterable[str]) -> str:
    """One TXT record line; `owner` absolute without the trailing dot."""
    return f"{owner}. TXT {quote_strings(strings)}\n"


def header_lines(serial: int) -> str:
    """$TTL, SOA and NS of the root zone, with the name server's glue on 127.0.0.1."""
    return (
        f"$ORIGIN .\n$TTL {DEFAULT_TTL}\n"
        f". SOA ns.lab. hostmaster.lab. {serial} 7200 3600 1209600 300\n"
        ". NS ns.lab.\nns.lab. A 127.0.0.1\n"
    )


@dataclass(slots=True)
class Zone:
    """The records of a zone by owner name and type, plus every name that exists (RFC 4592 §2.2:
    empty non-terminals exist too)."""

    origin: str
    records: dict[str, dict[int, list[tuple[int, RD]]]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    def add(self, owner: str, rtype: int, ttl: int, rdata: RD) -> None:
        self.records.setdefault(owner, {}).setdefault(rtype, []).append((ttl, rdata))
        name = owner
        while name not in self.names:
            self.names.add(name)
            if name == self.origin:
                break
            name = _parent(name)

    @property
    def soa(self) -> tuple[int, RD]:
        return self.records[self.origin][QTYPE.SOA][0]


def load_zone(path: Path, origin: str = ".") -> Zone:
    """Read a zone file of SOA, NS, A, AAAA, MX, CNAME and TXT records (LabError otherwise)."""
    zone = Zone(origin=_absolute(origin, "."))
    try:
        with open(path, encoding="ascii") as lines:
            _read_entries(zone, _entries(lines))
    except (OSError, UnicodeDecodeError) as exc:
        raise LabError(f"cannot read zone {path}: {exc}") from exc
    if QTYPE.SOA not in zone.records.get(zone.origin, {}):
        raise LabError(f"zone {path} has no SOA at its origin {zone.origin}")
    return zone


def _read_entries(zone: Zone, entries: Iterator[tuple[int, list[str]]]) -> None:
    origin, ttl, owner = zone.origin, DEFAULT_TTL, zone.origin
    for number, tokens in entries:
        if tokens[0] == "$ORIGIN":
            origin = _absolute(tokens[1], origin)
        elif tokens[0] == "$TTL":
            ttl = int(tokens[1])
        else:
            owner, rtype, rttl, rdata = _record(tokens, origin, owner, ttl, number)
            zone.add(owner, rtype, rttl, rdata)


def _entries(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Tokens of each entry; a leading blank stands for the previous owner, `( )` spans lines."""
    pending: list[str] = []
    depth = 0
    for number, line in enumerate(lines, 1):
        tokens = []
        if not pending and line[:1] in (" ", "\t"):
            tokens.append("")
        for token in _TOKEN.findall(line):
            if token.startswith(";"):
                break
            if token in "()":
                depth += 1 if token == "(" else -1
            else:
                tokens.append(token)
        pending.extend(tokens)
        if depth == 0 and [t for t in pending if t]:
            yield number, pending
            pending = []


def _record(
    tokens: list[str], origin: str, previous: str, ttl: int, number: int
) -> tuple[str, int, int, RD]:
    owner = previous if tokens[0] == "" else _absolute(tokens[0], origin)
    rest = tokens[1:]
    while rest and (rest[0].isdigit() or rest[0].upper() in _CLASSES):
        if rest[0].isdigit():
            ttl = int(rest.pop(0))
        else:
            rest.pop(0)
    if not rest:
        raise LabError(f"zone line {number}: no record type")
    rtype, args = rest[0].upper(), rest[1:]
    try:
        return owner, getattr(QTYPE, rtype), ttl, _rdata(rtype, args, origin)
    except (AttributeError, IndexError, ValueError) as exc:
        raise LabError(f"zone line {number}: cannot read {rtype} record: {exc}") from exc


def _rdata(rtype: str, args: list[str], origin: str) -> RD:
    if rtype == "TXT":
        return TXT([_unquote(arg) for arg in args])
    if rtype == "A":
        return A(args[0])
    if rtype == "AAAA":
        return AAAA(args[0])
    if rtype in ("CNAME", "NS"):
        return (CNAME if rtype == "CNAME" else NS)(_absolute(args[0], origin))
    if rtype == "MX":
        return MX(_absolute(args[1], origin), int(args[0]))
    if rtype == "SOA":
        names = (_absolute(args[0], origin), _absolute(args[1], origin))
        return SOA(*names, tuple(int(value) for value in args[2:7]))
    raise ValueError(f"record type {rtype} is not supported by the lab loader")


def _unquote(token: str) -> bytes:
    text = token[1:-1] if token.startswith('"') else token
    if "\\" in text:
        text = re.sub(r"\\(\d{3}|.)", lambda m: _escape(m.group(1)), text)
    return text.encode("latin-1")


def _escape(sequence: str) -> str:
    return chr(int(sequence)) if sequence.isdigit() else sequence


def _absolute(name: str, origin: str) -> str:
    name = name.lower()
    if name == "@":
        return origin
    if name.endswith("."):
        return name
    return f"{name}." if origin == "." else f"{name}.{origin}"


def _parent(name: str) -> str:
    _, _, rest = name.partition(".")
    return rest or "."
