"""DMARC report URIs (`rua`, `ruf`): what one entry is, and where it sends reports.

Shared by both record grammars: RFC 7489 §6.4 `dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g"
/ "t" ] ]`, whose size "MUST fit within an unsigned 64-bit integer", and RFC 9989 §4.8, where the
`!size` suffix is obsolete syntax (`obs-dmarc-report-size`) that reporters ignore. The URI is
checked against RFC 3986 (URI), RFC 6068 (mailto) and RFC 5322 (addr-spec). Pure.
"""

import functools
import re
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

from survey.records.tagvalue import excerpt

_SIZE = re.compile(r"([0-9]+)[kmgt]?", re.IGNORECASE)  # "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]
_UINT64_MAX = 2**64 - 1

# RFC 3986 §3 URI, ASCII only. "," and "!" never reach here: both RFCs make them be
# percent-encoded, so the rua/ruf value is split on them first.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_IP_LITERAL = rf"\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\]"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_AUTHORITY = (
    rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?"
    rf"(?P<host>{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*)?"
)
_HIER_PART = (
    rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*"  # "//" authority path-abempty
    rf"|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"  # path-absolute
    rf"|{_PCHAR}+(?:/{_PCHAR}*)*"  # path-rootless
    r"|)"  # path-empty
)
_QUERY = rf"(?:{_PCHAR}|[/?])*"
_URI = re.compile(
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):(?P<hier>{_HIER_PART})(?:\?{_QUERY})?(?:#{_QUERY})?"
)
# RFC 6068 §2 `to = addr-spec *("," addr-spec)`, after percent-decoding; RFC 5322 §3.2.3/§3.4.1
# dot-atom-text and quoted-string. The domain must be a dot-atom: a report needs a domain.
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_QUOTED = r'"(?:[ \t\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e\t])*"'
_ADDR_SPEC = rf"(?:{_DOT_ATOM}|{_QUOTED})@{_DOT_ATOM}"
_MAILTO_TO = re.compile(rf"(?:{_DOT_ATOM}|{_QUOTED})@(?P<domain>{_DOT_ATOM})(?:,{_ADDR_SPEC})*")
# The common report URI, `mailto:local@domain` of plain dot-atoms (no %, !size, ?query): every
# text it matches is a valid dmarc-uri by _URI and _MAILTO_TO alike, sending to `domain`.
_PLAIN_MAILTO = re.compile(
    r"(?i:mailto):[A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*)"
)


class UriFacts(NamedTuple):
    """What one report URI entry is. `problem`: why it is not a URI with an optional `!size`
    of the right syntax (None: it is one); `host`: where it sends (None: invalid, or a scheme
    without a host we know); `sized`: it carries a `!size` suffix; `oversize`: that size's
    number does not fit an unsigned 64-bit integer (RFC 7489 §6.4 only)."""

    problem: str | None
    host: str | None
    sized: bool = False
    oversize: bool = False


# A record's URIs are looked at twice while it is parsed (its problems, then its valid URIs and
# hosts), and by both RFCs' parsers: match each text once. Small: the results are tuples of
# strings, soon untracked.
@functools.lru_cache(maxsize=1024)
def uri_facts(uri: str) -> UriFacts:
    """The facts of one rua/ruf entry as written (already split on commas)."""
    plain = _PLAIN_MAILTO.fullmatch(uri)
    if plain is not None:
        return UriFacts(None, plain[1].lower())
    address, bang, size = uri.partition("!")
    sized = _SIZE.fullmatch(size) if bang else None
    if bang and sized is None:
        return UriFacts(f"bad size '!{excerpt(size)}'", None)
    match = _URI.fullmatch(address)
    if match is None:
        return UriFacts("not a URI (RFC 3986)" if ":" in address else "not a URI: no scheme", None)
    scheme = match["scheme"].lower()
    if scheme == "mailto":
        host = _mailto_domain(match["hier"])
        if host is None:
            return UriFacts("mailto without a valid address (RFC 6068)", None)
    elif scheme in ("http", "https"):
        host = match["host"]
    else:
        host = None
    host = (host.lower().rstrip(".") or None) if host else None
    return UriFacts(None, host, bool(bang), sized is not None and _over_uint64(sized[1]))


def _over_uint64(digits: str) -> bool:
    """Leading zeros aside, more than 20 digits never fit; int() of 20 digits is cheap."""
    digits = digits.lstrip("0")
    return len(digits) > 20 or int(digits or "0") > _UINT64_MAX


def _mailto_domain(hier_part: str) -> str | None:
    """The domain of the first addr-spec of a mailto URI's `to` (RFC 6068 §2), or None."""
    if "%" in hier_part:
        raw = unquote_to_bytes(hier_part)
        if not raw.isascii():
            return None
        address = raw.decode("ascii")
    else:  # nothing to decode (the URI pattern admits ASCII only)
        address = hier_part
    match = _MAILTO_TO.fullmatch(address)
    return None if match is None else match["domain"]


def split_uris(value: str | None) -> tuple[str, ...]:
    """`dmarc-uri *(*WSP "," *WSP dmarc-uri)`, as written; empty entries left out."""
    if value is None:
        return ()
    return tuple(part for part in (item.strip(" \t\r\n") for item in value.split(",")) if part)


def entries(value: str) -> list[str]:
    """Every entry of a rua/ruf value, empty ones included (they are mistakes to report)."""
    return [item.strip(" \t\r\n") for item in value.split(",")]
