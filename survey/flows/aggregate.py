"""DMARC aggregate reports: the XML of RFC 7489 Appendix C and of RFC 9990, read safely.

Pure: the bytes of one report in, a frozen `Report` (or the `Refusal` of the whole document)
out. The XML is untrusted mail content (RFC 9990, Security Considerations, "Report Contents as
an Attack"), so it is parsed by defusedxml with DTDs forbidden: a billion-laughs or external-
entity document is refused before any entity is declared, let alone expanded. The parse is
incremental (`iterparse`) and each `record` is dropped from the tree once read, so memory
follows the size of one record, not of the report; the caller bounds the size of the document
itself.

Both versions share their element names; RFC 9990 puts them in the namespace
`urn:ietf:params:xml:ns:dmarc-2.0` and adds `np`, `testing`, `discovery_method` and the
disposition `pass`. Elements are matched on their local name, so the reports seen in the wild
without a namespace, with the draft's `http://dmarc.org/dmarc-xml/0.1` or with stray xsi
attributes read the same. Values are stripped and lower-cased; a value outside its closed set is
kept as None with the warning `unknown_value`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from survey.schema.flow_values import (
    Alignment,
    DiscoveryMethod,
    Disposition,
    DkimResult,
    DmarcResult,
    FlowFormat,
    FlowReject,
    FlowWarning,
    OverrideReason,
    PolicyTesting,
    SpfResult,
    SpfScope,
)
from survey.schema.values import Policy

NAMESPACE_2 = "urn:ietf:params:xml:ns:dmarc-2.0"  # RFC 9990, IANA Considerations
#: Namespaces a report may carry: none (RFC 7489 as sent), the draft XSD's, RFC 9990's.
KNOWN_NAMESPACES = frozenset({"", "http://dmarc.org/dmarc-xml/0.1", NAMESPACE_2})
#: More messages than the world sends in a day: not a count, an error or an attack.
MAX_COUNT = 10**12
#: Report dates past this (2242) are not seconds since the epoch.
MAX_DATE = 2**33
_DIGITS = re.compile(r"[0-9]{1,13}")  # ASCII digits only: int() takes any script's


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a whole document (or one record) was not read: a reject reason and its context."""

    reason: FlowReject
    detail: str
    record: int | None = None


@dataclass(frozen=True, slots=True)
class Metadata:
    """`report_metadata`: who reported, and the period (seconds since the epoch)."""

    org_name: str | None = None
    email: str | None = None
    report_id: str | None = None
    begin: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class Published:
    """`policy_published` (RFC 7489 Appendix C; `np`, `testing`, `discovery_method`: RFC 9990)."""

    domain: str | None = None
    p: Policy | None = None
    sp: Policy | None = None
    np: Policy | None = None
    adkim: Alignment | None = None
    aspf: Alignment | None = None
    pct: int | None = None
    fo: str | None = None
    testing: PolicyTesting | None = None
    discovery_method: DiscoveryMethod | None = None


@dataclass(frozen=True, slots=True)
class DkimAuth:
    """One `auth_results/dkim`: the signing domain (`d=`), selector and result."""

    domain: str
    selector: str | None
    result: DkimResult | None


@dataclass(frozen=True, slots=True)
class SpfAuth:
    """One `auth_results/spf`: the domain checked, its scope and the result."""

    domain: str
    scope: SpfScope | None
    result: SpfResult | None


@dataclass(frozen=True, slots=True)
class Record:
    """One `record`: a row of messages sharing source, identifiers and results."""

    index: int
    count: int
    header_from: str
    source_ip: str | None = None
    disposition: Disposition | None = None
    reported_dkim: DmarcResult | None = None
    reported_spf: DmarcResult | None = None
    reasons: tuple[OverrideReason, ...] = ()
    envelope_from: str | None = None
    envelope_to: str | None = None
    dkim: tuple[DkimAuth, ...] = ()
    spf: tuple[SpfAuth, ...] = ()
    warnings: tuple[FlowWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """A parsed report: its metadata, policy, records, and the records refused (bad count…)."""

    format: FlowFormat
    metadata: Metadata
    published: Published
    records: tuple[Record, ...]
    refused: tuple[Refusal, ...] = ()
    warnings: tuple[FlowWarning, ...] = ()

    @property
    def record_count(self) -> int:
        """Records seen: read or refused."""
        return len(self.records) + len(self.refused)


def parse_report(data: bytes) -> Report | Refusal:
    """Read one aggregate report. Never raises on bad input: a document that cannot be read is
    a `Refusal` (xml_forbidden, xml_error, not_aggregate_report)."""
    reader = _Reader()
    try:
        for event, element in safe_xml.iterparse(
            io.BytesIO(data), events=("start", "end"), forbid_dtd=True
        ):
            refusal = reader.feed(event, element)
            if refusal is not None:
                return refusal
    except DefusedXmlException as exc:
        return Refusal(FlowReject.XML_FORBIDDEN, type(exc).__name__)
    except (ParseError, LookupError) as exc:  # LookupError: an encoding Python does not know
        return Refusal(FlowReject.XML_ERROR, str(exc))
    return reader.report()


class _Reader:
    """Turns iterparse events into a report; each child of the root is read at its end."""

    def __init__(self) -> None:
        self.depth = 0
        self.root: Element | None = None
        self.namespace = ""
        self.metadata = Metadata()
        self.published = Published()
        self.records: list[Record] = []
        self.refused: list[Refusal] = []
        self.warnings: list[FlowWarning] = []
        self.seen = 0

    def feed(self, event: str, element: Element) -> Refusal | None:
        if event == "start":
            self.depth += 1
            return self._start(element) if self.depth == 1 else None
        self.depth -= 1
        if self.depth == 1 and self.root is not None:
            self._child(element)
            self.root.clear()  # the record is read: let it go
        return None

    def _start(self, root: Element) -> Refusal | None:
        self.namespace, name = split_tag(root.tag)
        if name != "feedback":
            return Refusal(FlowReject.NOT_AGGREGATE_REPORT, f"root element <{name}>")
        if self.namespace not in KNOWN_NAMESPACES:
            self.warnings.append(FlowWarning.UNKNOWN_NAMESPACE)
        self.root = root
        return None

    def _child(self, element: Element) -> None:
        name = split_tag(element.tag)[1]
        if name == "report_metadata":
            self.metadata = _metadata(element, self.warnings)
        elif name == "policy_published":
            self.published = _published(element, self.warnings)
        elif name == "record":
            self.seen += 1
            read = read_record(element, self.seen)
            if isinstance(read, Refusal):
                self.refused.append(read)
            else:
                self.records.append(read)

    def report(self) -> Report | Refusal:
        if self.root is None:  # iterparse saw no element: expat has already refused that
            return Refusal(FlowReject.XML_ERROR, "no root element")
        version = FlowFormat.RFC9990 if self.namespace == NAMESPACE_2 else FlowFormat.RFC7489
        return Report(
            version,
            self.metadata,
            self.published,
            tuple(self.records),
            tuple(self.refused),
            tuple(dict.fromkeys(self.warnings)),
        )


def split_tag(tag: str) -> tuple[str, str]:
    """`{namespace}name` → (namespace, name)."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _children(parent: Element | None, name: str) -> Iterator[Element]:
    if parent is not None:
        yield from (child for child in parent if split_tag(child.tag)[1] == name)


def _child_of(parent: Element | None, name: str) -> Element | None:
    return next(_children(parent, name), None)


def _text(parent: Element | None, name: str) -> str | None:
    """The stripped text of the first child `name`; None when absent or empty."""
    child = _child_of(parent, name)
    text = (child.text or "").strip() if child is not None else ""
    return text or None


E = TypeVar("E", bound=StrEnum)


def closed_value(text: str | None, values: type[E], warnings: list[FlowWarning]) -> E | None:
    """`text` as a member of `values` (case-insensitive), or None (warning when it held one)."""
    if not text:
        return None
    try:
        return values(text.lower())
    except ValueError:
        warnings.append(FlowWarning.UNKNOWN_VALUE)
        return None


def _integer(text: str | None) -> int | None:
    return int(text) if text is not None and _DIGITS.fullmatch(text) else None


def _metadata(element: Element, warnings: list[FlowWarning]) -> Metadata:
    dates = _child_of(element, "date_range")
    begin, end = _integer(_text(dates, "begin")), _integer(_text(dates, "end"))
    if begin is None or end is None or max(begin, end) > MAX_DATE:
        warnings.append(FlowWarning.BAD_DATE_RANGE)
        begin = end = None
    return Metadata(
        _text(element, "org_name"), _text(element, "email"), _text(element, "report_id"), begin, end
    )


def _published(element: Element, warnings: list[FlowWarning]) -> Published:
    pct = _integer(_text(element, "pct"))
    discovery = _text(element, "discovery_method")
    return Published(
        domain=_text(element, "domain"),
        p=closed_value(_text(element, "p"), Policy, warnings),
        sp=closed_value(_text(element, "sp"), Policy, warnings),
        np=closed_value(_text(element, "np"), Policy, warnings),
        adkim=closed_value(_text(element, "adkim"), Alignment, warnings),
        aspf=closed_value(_text(element, "aspf"), Alignment, warnings),
        pct=pct if pct is not None and pct <= 100 else None,
        fo=_text(element, "fo"),
        testing=closed_value(_text(element, "testing"), PolicyTesting, warnings),
        discovery_method=closed_value(discovery, DiscoveryMethod, warnings),
    )


def read_record(element: Element, index: int) -> Record | Refusal:
    """One `record` element; refused when its count or header_from is unusable."""
    row = _child_of(element, "row")
    identifiers = _child_of(element, "identifiers")
    count_text = _text(row, "count")
    count = _integer(count_text)
    if count is None or count > MAX_COUNT:
        return Refusal(FlowReject.BAD_COUNT, repr((count_text or "")[:40]), index)
    header_from = _text(identifiers, "header_from")
    if header_from is None:
        return Refusal(FlowReject.MISSING_HEADER_FROM, "no identifiers/header_from", index)
    warnings: list[FlowWarning] = []
    evaluated = _child_of(row, "policy_evaluated")
    auth = _child_of(element, "auth_results")
    return Record(
        index=index,
        count=count,
        header_from=header_from,
        source_ip=_text(row, "source_ip"),
        disposition=closed_value(_text(evaluated, "disposition"), Disposition, warnings),
        reported_dkim=closed_value(_text(evaluated, "dkim"), DmarcResult, warnings),
        reported_spf=closed_value(_text(evaluated, "spf"), DmarcResult, warnings),
        reasons=_reasons(evaluated, warnings),
        envelope_from=_text(identifiers, "envelope_from"),
        envelope_to=_text(identifiers, "envelope_to"),
        dkim=_dkim_results(auth, warnings),
        spf=_spf_results(auth, warnings),
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _reasons(evaluated: Element | None, warnings: list[FlowWarning]) -> tuple[OverrideReason, ...]:
    types = (_text(reason, "type") for reason in _children(evaluated, "reason"))
    found = (closed_value(text, OverrideReason, warnings) for text in types)
    return tuple(reason for reason in found if reason is not None)


def _dkim_results(auth: Element | None, warnings: list[FlowWarning]) -> tuple[DkimAuth, ...]:
    results = []
    for dkim in _children(auth, "dkim"):
        domain = _text(dkim, "domain")
        if domain is None:
            warnings.append(FlowWarning.DKIM_WITHOUT_DOMAIN)
            continue
        result = closed_value(_text(dkim, "result"), DkimResult, warnings)
        results.append(DkimAuth(domain, _text(dkim, "selector"), result))
    return tuple(results)


def _spf_results(auth: Element | None, warnings: list[FlowWarning]) -> tuple[SpfAuth, ...]:
    return tuple(
        SpfAuth(
            _text(spf, "domain") or "",
            closed_value(_text(spf, "scope"), SpfScope, warnings),
            closed_value(_text(spf, "result"), SpfResult, warnings),
        )
        for spf in _children(auth, "spf")
    )


def mail_from_result(results: tuple[SpfAuth, ...]) -> tuple[SpfAuth | None, bool]:
    """The SPF result DMARC uses, and whether only HELO results were given.

    DMARC uses the MAIL FROM identity only (RFC 9990, the `spf` element; RFC 7489 §3.1.2): the
    first result of scope mfrom, else the first without a scope; HELO results are not used."""
    for wanted in (SpfScope.MFROM, None):
        for result in results:
            if result.scope == wanted:
                return result, False
    return None, bool(results)
