"""DMARC policy records (RFC 7489): parse one TXT text, and discover the record that applies.

Follows the ABNF of RFC 7489 §6.4, the tag semantics of §6.3 and policy discovery of §6.6.3.
Pure: text in, `DmarcRecord` out, every problem collected as a `Problem(code, context)`.
Report URIs are checked by `survey.records.reporturi` (RFC 3986, RFC 6068, RFC 5322).
"""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.records.reporturi import entries, split_uris, uri_facts
from survey.records.tagvalue import Tag, excerpt, first_tag, raw_byte_problem, split_tags
from survey.schema.codes import DmarcCode
from survey.schema.values import Policy, ProblemKind

DMARC_ERRORS = DmarcCode.table(ProblemKind.ERROR)
DMARC_WARNINGS = DmarcCode.table(ProblemKind.WARNING)
DMARC_CODES = DmarcCode.table()

_POLICIES = frozenset({"none", "quarantine", "reject"})
_ALIGNMENT = frozenset({"r", "s"})
#: The IANA "DMARC Report Format" registry (RFC 7489 §11.4): rf values MUST be listed there.
REGISTERED_REPORT_FORMATS = frozenset({"afrf"})
_UINT32_MAX = 2**32 - 1
_V_DMARC1_ANYWHERE = re.compile(r"v[ \t]*=[ \t]*dmarc1", re.IGNORECASE)
_FO = re.compile(r"[01ds](?:[ \t]*:[ \t]*[01ds])*", re.IGNORECASE)
_KEYWORD = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9]")  # RFC 5321 §4.1.2 Keyword (Ldh-str)
_PCT_VALUE = re.compile(r"[0-9]{1,3}")
_UINT32_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """One TXT text from a `_dmarc` name, parsed (RFC 7489 §6.3, §6.4).

    `is_dmarc` is False for texts that §6.6.3 step 3 discards; they carry exactly one of
    `not_dmarc`, `spf_at_dmarc`, `v_not_first`, `v_invalid` and no parsed tags.
    Tag fields hold the first occurrence; `p`, `sp`, `adkim`, `aspf` are lower-cased.
    The syntactically valid report URIs and their hosts are worked out once, when it is built
    (a scan needs them several times per domain: fallback, §7.1 names, vendors, report type).
    """

    text: str
    is_dmarc: bool
    p: str | None = None
    sp: str | None = None
    pct: int | None = None
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    adkim: str | None = None
    aspf: str | None = None
    fo: str | None = None
    rf: str | None = None
    ri: str | None = None
    tags: tuple[Tag, ...] = ()
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    #: The rua / ruf URIs that are syntactically valid (RFC 7489 §6.4 dmarc-uri).
    valid_rua: tuple[str, ...] = field(init=False, repr=False, compare=False)
    valid_ruf: tuple[str, ...] = field(init=False, repr=False, compare=False)
    #: The hosts those URIs send to (`report_uri_host`), each once, in record order.
    rua_hosts: tuple[str, ...] = field(init=False, repr=False, compare=False)
    ruf_hosts: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: the dataclass way of setting a derived field
        valid, hosts = _valid_uris(self.rua)
        set_field(self, "valid_rua", valid)
        set_field(self, "rua_hosts", hosts)
        valid, hosts = _valid_uris(self.ruf)
        set_field(self, "valid_ruf", valid)
        set_field(self, "ruf_hosts", hosts)

    def policy(self, from_organizational: bool) -> Policy | None:
        """The policy a receiver applies (RFC 7489 §6.6.3 step 6), or None for no DMARC.

        With a valid `p` (and `sp` absent or valid): `sp` for a record found at the
        organizational domain when it has one, else `p`. Otherwise a record with at least one
        valid rua URI acts as `p=none`, and any other record means no DMARC processing.
        """
        if not self.is_dmarc:
            return None
        if self.p in _POLICIES and (self.sp is None or self.sp in _POLICIES):
            return Policy(self.sp if from_organizational and self.sp is not None else self.p)
        return Policy.NONE if self.valid_rua else None


def _valid_uris(uris: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The syntactically valid `uris`, and the hosts they send to (each once, in order)."""
    if not uris:
        return (), ()
    valid: list[str] = []
    hosts: list[str] = []
    for uri in uris:
        problem, host = _uri_facts(uri)
        if problem is None:
            valid.append(uri)
            if host and host not in hosts:
                hosts.append(host)
    return tuple(valid), tuple(hosts)


@dataclass(frozen=True, slots=True)
class DmarcDiscovery:
    """What the TXT texts at one `_dmarc` name amount to (RFC 7489 §6.6.3 steps 3-5)."""

    records: tuple[DmarcRecord, ...]  # every text, parsed
    record: DmarcRecord | None  # the one DMARC record that applies, if exactly one
    errors: tuple[Problem, ...]  # discovery-level: multiple_records
    warnings: tuple[Problem, ...]  # discovery-level: discarded_text
    published: bool  # any TXT text at all


def discover(texts: Sequence[str]) -> DmarcDiscovery:
    """Parse every text and pick the applying record (RFC 7489 §6.6.3 steps 3-5).

    Non-DMARC texts are discarded (a `discarded_text` warning when a DMARC record stands
    beside them); several DMARC records end discovery with `multiple_records` alone.
    """
    records = tuple(parse_dmarc_record(text) for text in texts)
    dmarc = [record for record in records if record.is_dmarc]
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    if len(dmarc) > 1:
        errors = (Problem(DmarcCode.MULTIPLE_RECORDS, f"{len(dmarc)} DMARC records"),)
    elif dmarc:
        warnings = tuple(
            Problem(DmarcCode.DISCARDED_TEXT, f"{record.errors[0].code}: '{excerpt(record.text)}'")
            for record in records
            if not record.is_dmarc
        )
    only = dmarc[0] if len(dmarc) == 1 else None
    return DmarcDiscovery(records, only, errors, warnings, published=bool(texts))


# Records repeat across domains (`v=spf1 -all`, the big providers' includes, `v=DMARC1; p=none`):
# the result is frozen and never depends on anything but the text, so parse each text once
# (once it has come back: most DMARC texts name their own domain in rua, and are met once).
@repeated_memo(maxsize=4096)
def parse_dmarc_record(text: str) -> DmarcRecord:
    """Parse one TXT text from a `_dmarc` name; never raises (RFC 7489 §6.3, §6.4)."""
    discard = discard_reason(text)
    if discard is not None:
        return DmarcRecord(text=text, is_dmarc=False, errors=(discard,))
    tags, lexer_problems = split_tags(text)
    firsts = _first_occurrences(tags)
    first = {name: tag.value for name, tag in firsts.items()}
    errors = [*lexer_problems, *_order_problems(tags)]
    warnings = [found for found in [raw_byte_problem(text)] if found is not None]
    for found in _tag_problems(firsts.values()):
        (warnings if found.code in DMARC_WARNINGS else errors).append(found)
    return DmarcRecord(
        text=text,
        is_dmarc=True,
        p=_lower(first.get("p")),
        sp=_lower(first.get("sp")),
        pct=_pct_value(first.get("pct")),
        rua=split_uris(first.get("rua")),
        ruf=split_uris(first.get("ruf")),
        adkim=_lower(first.get("adkim")),
        aspf=_lower(first.get("aspf")),
        fo=first.get("fo"),
        rf=first.get("rf"),
        ri=first.get("ri"),
        tags=tags,
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


def discard_reason(text: str) -> Problem | None:
    """Why the text is no DMARC record and is discarded, or None (RFC 7489 §6.6.3 step 3 and
    RFC 9989 §4.10 step 2 alike: it must start with `v=DMARC1`).

    The ABNF of both (RFC 7489 §6.4, RFC 9989 §4.8) starts the record with `"v"`: text with
    white space before it does not start with "v=" and is discarded (`leading_whitespace`),
    even though a tag-list (RFC 6376 §3.2) would allow the white space."""
    if text.lstrip(" \t").lower().startswith("v=spf1"):
        return Problem(DmarcCode.SPF_AT_DMARC, f"'{excerpt(text)}'")
    first = first_tag(text)
    if first is not None and first.name == "v":
        if first.value != "DMARC1":  # %x44 %x4d %x41 %x52 %x43 %x31: case-sensitive
            return Problem(DmarcCode.V_INVALID, f"v={excerpt(first.value)}")
        if text[0] != "v" and text[0] != "V":
            return Problem(DmarcCode.LEADING_WHITESPACE, f"'{excerpt(text)}'")
        return None
    if _V_DMARC1_ANYWHERE.search(text):
        return Problem(DmarcCode.V_NOT_FIRST, f"'{excerpt(text)}'")
    return Problem(DmarcCode.NOT_DMARC, f"'{excerpt(text)}'")


def _first_occurrences(tags: tuple[Tag, ...]) -> dict[str, Tag]:
    """Each tag name once, its first occurrence, in record order (the lexer reports the
    duplicates)."""
    firsts: dict[str, Tag] = {}
    for tag in tags:
        firsts.setdefault(tag.name, tag)
    return firsts


def _tag_problems(tags: Iterable[Tag]) -> list[Problem]:
    """Each tag's value checked (§6.3, §6.4); unknown tags are ignored by receivers (§6.3)."""
    problems = []
    for tag in tags:
        check = _TAG_CHECKS.get(tag.name)
        if check is None:
            problems.append(Problem(DmarcCode.UNKNOWN_TAG, f"tag {tag.raw_name!r}"))
        else:
            problems.extend(check(tag))
    return problems


def _order_problems(tags: tuple[Tag, ...]) -> list[Problem]:
    """`p` is required (§6.3) and comes right after `v` (§6.4 dmarc-record order)."""
    names = [tag.name for tag in tags]
    if "p" not in names:
        return [Problem(DmarcCode.P_MISSING, "no p tag")]
    where = names.index("p")
    if where != 1:
        return [
            Problem(
                DmarcCode.P_NOT_SECOND, f"p is tag {where + 1}, after {tags[where - 1].raw_name!r}"
            )
        ]
    return []


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _pct_value(value: str | None) -> int | None:
    """pct as an int when it is `1*3DIGIT` (§6.4) in 0..100 (§6.3), else None."""
    if value is None or not _PCT_VALUE.fullmatch(value):
        return None
    number = int(value)
    return number if number <= 100 else None


def report_uri_problem(uri: str) -> str | None:
    """Why `uri` is not a valid `dmarc-uri` (RFC 7489 §6.4), or None when it is valid."""
    return _uri_facts(uri)[0]


def report_uri_host(uri: str) -> str | None:
    """The host a report URI sends to: the mailto domain, or the http(s) host; lower-cased,
    without a trailing dot. None when the URI is invalid or has no such host."""
    return _uri_facts(uri)[1]


def _uri_facts(uri: str) -> tuple[str | None, str | None]:
    """(why `uri` is not a valid dmarc-uri of RFC 7489 §6.4 or None, the host it sends to or
    None). §6.4: the numeric portion of a `!size` "MUST fit within an unsigned 64-bit
    integer"."""
    facts = uri_facts(uri)
    if facts.oversize:
        return "size does not fit an unsigned 64-bit integer", None
    return facts.problem, facts.host


def _uri_list_problems(tag: Tag) -> list[Problem]:
    """rua/ruf: every entry a valid dmarc-uri; other schemes than mailto are a warning."""
    problems = []
    for entry in entries(tag.value):
        reason = report_uri_problem(entry) if entry else "empty entry"
        if reason is not None:
            problems.append(Problem(f"{tag.name}_invalid", f"'{excerpt(entry)}': {reason}"))
        elif not entry.lower().startswith("mailto:"):
            problems.append(
                Problem(DmarcCode.REPORT_URI_NOT_MAILTO, f"{tag.name}: '{excerpt(entry)}'")
            )
    return problems


def _check(code: str, is_valid: Callable[[str], bool]) -> Callable[[Tag], list[Problem]]:
    """A tag check that reports `code` with the offending value when `is_valid` fails."""

    def check(tag: Tag) -> list[Problem]:
        if is_valid(tag.value):
            return []
        return [Problem(code, f"{tag.raw_name}={excerpt(tag.value)}")]

    return check


def _is_uint32(value: str) -> bool:
    """`ri` (§6.3): 1*DIGIT (§6.4: at least one digit, so `ri=` is invalid) holding an
    unsigned 32-bit value, leading zeros allowed."""
    if not _UINT32_DIGITS.fullmatch(value):
        return False
    digits = value.lstrip("0")
    return len(digits) <= 10 and int(digits or "0") <= _UINT32_MAX


def _is_rf(value: str) -> bool:
    """`Keyword *(*WSP ":" Keyword)` (§6.4) of registered formats (§6.3 rf: MUST be listed)."""
    keywords = value.split(":")
    firsts, last = [word.rstrip(" \t") for word in keywords[:-1]], keywords[-1]
    return all(
        _KEYWORD.fullmatch(word) and word.lower() in REGISTERED_REPORT_FORMATS
        for word in [*firsts, last]
    )


_TAG_CHECKS: dict[str, Callable[[Tag], list[Problem]]] = {
    "v": lambda tag: [],  # checked by _discard_reason
    "p": _check(DmarcCode.P_INVALID, lambda value: value.lower() in _POLICIES),
    "sp": _check(DmarcCode.SP_INVALID, lambda value: value.lower() in _POLICIES),
    "pct": _check(DmarcCode.PCT_INVALID, lambda value: _pct_value(value) is not None),
    "adkim": _check(DmarcCode.ADKIM_INVALID, lambda value: value.lower() in _ALIGNMENT),
    "aspf": _check(DmarcCode.ASPF_INVALID, lambda value: value.lower() in _ALIGNMENT),
    "fo": _check(DmarcCode.FO_INVALID, lambda value: _FO.fullmatch(value) is not None),
    "rf": _check(DmarcCode.RF_INVALID, _is_rf),
    "ri": _check(DmarcCode.RI_INVALID, _is_uint32),
    "rua": _uri_list_problems,
    "ruf": _uri_list_problems,
}
