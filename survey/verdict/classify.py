"""Pure classification: the lookup outcomes of one domain → one verdict row.

No I/O. `survey.scan` asks the questions and hands the answers over in a `DomainLookups`; the
rules for which questions are needed (`needs_org_lookup`, `authorization_names`) live here too,
beside the rules that use their answers, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from survey.dns.outcome import TxtAnswer
from survey.records.dmarc import (
    DmarcDiscovery,
    DmarcRecord,
    discover,
    parse_dmarc_record,
    report_uri_host,
)
from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.records.spf import discover_spf, is_spf
from survey.schema.values import Outcome
from survey.verdict.vendors import VendorTable

OrgOf = Callable[[str], str]


@repeated_memo(maxsize=4096)
def _discover(texts: tuple[str, ...]) -> DmarcDiscovery:
    """§6.6.3 discovery over the texts at one name, computed once per distinct answer that
    comes back: a subdomain's asks for it when deciding on the fallback and again when
    classifying (values are frozen, so sharing them is safe)."""
    return discover(texts)


#: Problem codes classify adds itself (RFC 7489 §7.1 checks need DNS answers, not just text).
RUA_UNAUTHORIZED = "rua_unauthorized"
RUF_UNAUTHORIZED = "ruf_unauthorized"
REPORT_AUTH_UNRESOLVED = "report_auth_unresolved"
DISCARDED_TEXT = "discarded_text"
MULTIPLE_RECORDS = "multiple_records"


@dataclass(slots=True)
class DomainLookups:
    """Every answer classify needs for one domain. Not frozen: a scan builds one or two per
    domain, and a frozen dataclass sets each field through `object.__setattr__`."""

    domain: str
    org_domain: str
    dmarc: TxtAnswer  # TXT _dmarc.<domain>
    spf: TxtAnswer  # TXT <domain>
    org_dmarc: TxtAnswer | None = None  # TXT _dmarc.<org_domain>, when needs_org_lookup
    report_auth: Mapping[str, TxtAnswer] = field(default_factory=dict)  # name → answer


@dataclass(frozen=True, slots=True)
class Policy:
    """The outcome of RFC 7489 §6.6.3 policy discovery for one domain."""

    status: str  # valid / invalid / absent / error
    source: str | None  # domain / organizational
    record: DmarcRecord | None  # the record that applies
    texts: tuple[str, ...]  # the TXT texts at the name the verdict rests on
    lookup: Outcome  # outcome of _dmarc.<domain>
    org_lookup: Outcome | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    #: The verdict columns that depend on the policy alone, worked out once per Policy (domains
    #: with the same answers share one): `dmarc_status` … `ruf_hosts` in Verdict order, then
    #: (`report_type`, `dmarc_lookup`, `dmarc_org_lookup`, `dmarc_record_count`).
    columns: tuple[object, ...] = field(init=False, repr=False, compare=False)
    late_columns: tuple[str | None, str, str | None, int] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        record = self.record
        if record is None:
            text = "\n".join(self.texts) or None
            columns: tuple[object, ...] = (self.status, self.source, text, *_NO_RECORD_COLUMNS)
            kind = None
        else:
            columns = (
                self.status,
                self.source,
                record.text,
                record.p,
                record.sp,
                record.policy(self.policy_domain_is_org),  # dmarc_effective_p
                record.pct,
                record.rua,
                record.ruf,
                record.rua_hosts,
                record.ruf_hosts,
            )
            kind = _REPORT_TYPES[(bool(record.valid_rua), bool(record.valid_ruf))]
            if MULTIPLE_RECORDS in self.errors:  # not reached: one record applies
                kind = None
        org_lookup = str(self.org_lookup) if self.org_lookup else None
        object.__setattr__(self, "columns", columns)
        object.__setattr__(
            self, "late_columns", (kind, str(self.lookup), org_lookup, len(self.texts))
        )

    @property
    def policy_domain_is_org(self) -> bool:
        return self.source == "organizational"


#: dmarc_p … ruf_hosts when no record applies.
_NO_RECORD_COLUMNS = (None, None, None, None, (), (), (), ())


def needs_org_lookup(domain: str, org_domain: str, dmarc: TxtAnswer) -> bool:
    """§6.6.3 step 3: fall back to the organizational domain when the domain has no record.

    Not when the lookup failed (we do not know), nor when several records stopped discovery."""
    if domain == org_domain or not dmarc.is_answer:
        return False
    found = _discover(dmarc.texts)
    return found.record is None and not _has(found.errors, MULTIPLE_RECORDS)


#: Discovery depends on the answers' outcomes and texts alone, and most domains share theirs
#: (no record at all; the same error), so each distinct set that comes back is worked out once
#: (entries are frozen).
_POLICY_CACHE_SIZE = 8192


def discover_policy(lookups: DomainLookups) -> Policy:
    """RFC 7489 §6.6.3 policy discovery over the answers in `lookups`."""
    own, org = lookups.dmarc, lookups.org_dmarc
    if org is None or lookups.domain == lookups.org_domain:
        return _policies((own.outcome, own.texts, None, ()))
    return _policies((own.outcome, own.texts, org.outcome, org.texts))


@repeated_memo(maxsize=_POLICY_CACHE_SIZE)
def _policies(key: tuple[Outcome, tuple[str, ...], Outcome | None, tuple[str, ...]]) -> Policy:
    """`discover_policy` by (own outcome, own texts, org outcome, org texts); the org
    outcome is None when §6.6.3 does not fall back to the organizational domain."""
    own_outcome, own_texts, org_outcome, org_texts = key
    own = TxtAnswer("", own_outcome, own_texts)
    org = None if org_outcome is None else TxtAnswer("", org_outcome, org_texts)
    return _discover_policy(own, org)


def _discover_policy(own: TxtAnswer, org: TxtAnswer | None) -> Policy:
    """`org` is the organizational domain's answer when §6.6.3 falls back to it, else None."""
    if not own.is_answer:
        return _error_policy(own.outcome, None)
    found = _discover(own.texts)
    if found.record is not None or _has(found.errors, MULTIPLE_RECORDS):
        return _policy_from(found, "domain", own.texts, own.outcome, None, ())
    discarded = _discarded_codes(found)
    if org is None:
        return _no_record(own, discarded, None)
    if not org.is_answer:
        return _error_policy(own.outcome, org.outcome)
    org_found = _discover(org.texts)
    if org_found.record is None and not _has(org_found.errors, MULTIPLE_RECORDS):
        return _no_record(own, discarded, org.outcome)
    extra = tuple(DISCARDED_TEXT for _ in discarded)
    return _policy_from(org_found, "organizational", org.texts, own.outcome, org.outcome, extra)


def _policy_from(
    found: DmarcDiscovery,
    source: str,
    texts: tuple[str, ...],
    lookup: Outcome,
    org_lookup: Outcome | None,
    extra_warnings: tuple[str, ...],
) -> Policy:
    record = found.record
    if record is None:  # several records: discovery stops, only that code counts
        errors: tuple[str, ...] = (MULTIPLE_RECORDS,)
        warnings = _codes(found.warnings)
    else:
        errors = _codes((*found.errors, *record.errors))
        warnings = _codes((*found.warnings, *record.warnings))
    warnings = tuple(sorted({*warnings, *extra_warnings}))
    status = "valid" if record is not None and not errors else "invalid"
    return Policy(status, source, record, texts, lookup, org_lookup, errors, warnings)


def _no_record(own: TxtAnswer, discarded: tuple[str, ...], org_lookup: Outcome | None) -> Policy:
    """No record applies: text that was published at `_dmarc` is a mistake, else absent."""
    if discarded:
        return Policy("invalid", "domain", None, own.texts, own.outcome, org_lookup, discarded, ())
    return Policy("absent", None, None, own.texts, own.outcome, org_lookup, (), ())


def _error_policy(lookup: Outcome, org_lookup: Outcome | None) -> Policy:
    return Policy("error", None, None, (), lookup, org_lookup, (), ())


def _discarded_codes(found: DmarcDiscovery) -> tuple[str, ...]:
    return _codes(p for rec in found.records if not rec.is_dmarc for p in rec.errors)


def _codes(problems: Iterable[Problem]) -> tuple[str, ...]:
    return tuple(sorted({p.code for p in problems}))


def _has(problems: Iterable[Problem], code: str) -> bool:
    return any(p.code == code for p in problems)


@dataclass(frozen=True, slots=True)
class ReportUris:
    """The syntactically valid report URIs of the applied record, with host and vendor each."""

    uris: tuple[str, ...]
    hosts: tuple[str, ...]
    vendors: tuple[str, ...]  # sorted unique


def report_uris(
    uris: Iterable[str], policy_domain: str, org_of: OrgOf, vendors: VendorTable
) -> ReportUris:
    """`uris` are the record's syntactically valid URIs; a valid URI of a scheme without a
    host (rare) counts for the report type but names no vendor."""
    valid = tuple(uris)
    hosts = tuple(dict.fromkeys(h for h in map(report_uri_host, valid) if h))
    names = sorted({vendors.vendor_of(h, org_of(policy_domain)) for h in hosts})
    return ReportUris(valid, hosts, tuple(names))


def policy_domain(lookups: DomainLookups, policy: Policy) -> str:
    return lookups.org_domain if policy.policy_domain_is_org else lookups.domain


def external_hosts(hosts: Iterable[str], policy_dom: str, org_of: OrgOf) -> tuple[str, ...]:
    """Report hosts outside the policy domain's organization (RFC 7489 §7.1)."""
    own_org = org_of(policy_dom)
    return tuple(h for h in hosts if org_of(h) != own_org)


def authorization_name(policy_dom: str, host: str) -> str:
    """RFC 7489 §7.1: the destination authorizes reports with TXT `<d>._report._dmarc.<host>`."""
    return f"{policy_dom}._report._dmarc.{host}"


def authorization_names(
    lookups: DomainLookups, org_of: OrgOf, policy: Policy | None = None
) -> tuple[str, ...]:
    """The §7.1 names to ask for this domain, once its policy answers are in."""
    policy = policy or discover_policy(lookups)
    record = policy.record
    if record is None or not (record.rua_hosts or record.ruf_hosts):
        return ()
    dom = policy_domain(lookups, policy)
    hosts = dict.fromkeys((*record.rua_hosts, *record.ruf_hosts))
    return tuple(authorization_name(dom, h) for h in external_hosts(hosts, dom, org_of))


def authorization_warnings(
    kind_code: str, hosts: Iterable[str], policy_dom: str, lookups: DomainLookups, org_of: OrgOf
) -> set[str]:
    """Warning codes for external destinations without a valid §7.1 authorization record."""
    found: set[str] = set()
    for host in external_hosts(hosts, policy_dom, org_of):
        answer = lookups.report_auth.get(authorization_name(policy_dom, host))
        if (code := _authorization_code(answer, kind_code)) is not None:
            found.add(code)
    return found


def _unauthorized(
    record: DmarcRecord,
    policy_dom: str,
    policy_org: str,
    report_auth: Mapping[str, TxtAnswer],
    org_of: OrgOf,
) -> set[str]:
    """`authorization_warnings` of the record's rua and ruf hosts at once, with the policy
    domain's organization (`policy_org`) worked out by the caller."""
    found: set[str] = set()
    for code, hosts in ((RUA_UNAUTHORIZED, record.rua_hosts), (RUF_UNAUTHORIZED, record.ruf_hosts)):
        for host in hosts:
            if org_of(host) == policy_org:
                continue  # not external (§7.1)
            answer = report_auth.get(authorization_name(policy_dom, host))
            if (warning := _authorization_code(answer, code)) is not None:
                found.add(warning)
    return found


def _authorization_code(answer: TxtAnswer | None, kind_code: str) -> str | None:
    """The warning one §7.1 authorization answer gives: None when it was not asked (checking
    switched off) or authorizes; unresolved when the lookup failed; else `kind_code`."""
    if answer is None:
        return None
    if not answer.is_answer:
        return REPORT_AUTH_UNRESOLVED
    if not any(_authorizes(text) for text in answer.texts):
        return kind_code
    return None


def _authorizes(text: str) -> bool:
    """§7.1: the record at the authorization name must be a DMARC record (`v=DMARC1`)."""
    return parse_dmarc_record(text).is_dmarc


@dataclass(slots=True)
class Verdict:
    """One snapshot row (all schema columns but `scanned_at`, which the scan stamps).

    Not frozen: a scan builds one per domain, and a frozen dataclass sets each of its 31 fields
    through `object.__setattr__` (3.4 µs a row, more than the rest of classify). The sequences
    are tuples, shared between rows where they are equal: nothing is meant to change a row."""

    domain: str
    org_domain: str
    rank: int | None
    weight: int | None
    dmarc_status: str
    dmarc_source: str | None
    dmarc_record: str | None
    dmarc_p: str | None
    dmarc_sp: str | None
    dmarc_effective_p: str | None
    dmarc_pct: int | None
    dmarc_rua: tuple[str, ...]
    dmarc_ruf: tuple[str, ...]
    rua_hosts: tuple[str, ...]
    ruf_hosts: tuple[str, ...]
    rua_vendors: tuple[str, ...]
    ruf_vendors: tuple[str, ...]
    dmarc_errors: tuple[str, ...]
    dmarc_warnings: tuple[str, ...]
    spf_status: str
    spf_record: str | None
    spf_all: str | None
    spf_errors: tuple[str, ...]
    spf_warnings: tuple[str, ...]
    type: str | None
    report_type: str | None
    dmarc_lookup: str
    spf_lookup: str
    dmarc_org_lookup: str | None
    dmarc_record_count: int
    spf_record_count: int


VERDICT_FIELDS: tuple[str, ...] = tuple(Verdict.__dataclass_fields__)

_TYPES = {
    ("valid", True): "A",
    ("invalid", True): "B",
    ("valid", False): "C",
    ("invalid", False): "D",
    ("absent", True): "E",
    ("absent", False): "F",
}


def domain_type(dmarc_status: str, spf_status: str) -> str | None:
    """Type A–F (DESIGN.md); None when a lookup it needs failed: unresolved, never absent."""
    if "error" in (dmarc_status, spf_status):
        return None
    return _TYPES[(dmarc_status, spf_status in ("valid", "invalid"))]


_STATUSES = ("valid", "invalid", "absent", "error")
#: `domain_type` of every pair of statuses, looked up once per domain.
_TYPE_OF = {(d, s): domain_type(d, s) for d in _STATUSES for s in _STATUSES}

_REPORT_TYPES = {(True, True): "A", (True, False): "B", (False, True): "C", (False, False): "D"}


def report_type(record: DmarcRecord | None, rua: ReportUris, ruf: ReportUris) -> str | None:
    """A rua and ruf, B rua only, C ruf only, D neither; None when no record applies."""
    if record is None:
        return None
    return _REPORT_TYPES[(bool(rua.uris), bool(ruf.uris))]


@dataclass(frozen=True, slots=True)
class SpfVerdict:
    status: str
    record: str | None
    all: str | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    count: int


def judge_spf(answer: TxtAnswer) -> SpfVerdict:
    return _judged_spf(answer)[0]


#: The SPF columns depend on the answer's outcome and its SPF texts alone (§4.5: the others
#: are ignored; they are mostly verification tokens, one of a kind), and domains share a few
#: records (`v=spf1 -all`, the big providers' includes): judged once per distinct pair that
#: comes back.
_SPF_CACHE_SIZE = 8192

#: A judged SPF answer: the verdict, its columns `spf_status` … `spf_warnings` in Verdict
#: order, and `spf_lookup`.
_SpfColumns = tuple[SpfVerdict, tuple[object, ...], str]


def _judged_spf(answer: TxtAnswer) -> _SpfColumns:
    """The verdict of one answer at the domain, with its columns."""
    texts = answer.texts
    if texts and not all(map(is_spf, texts)):
        texts = tuple(filter(is_spf, texts))
    return _spf_verdicts((answer.outcome, texts))


@repeated_memo(maxsize=_SPF_CACHE_SIZE)
def _spf_verdicts(key: tuple[Outcome, tuple[str, ...]]) -> _SpfColumns:
    outcome, spf_texts = key
    spf = _judge_spf(TxtAnswer("", outcome, spf_texts))
    return spf, (spf.status, spf.record, spf.all, spf.errors, spf.warnings), str(outcome)


def _judge_spf(answer: TxtAnswer) -> SpfVerdict:
    if not answer.is_answer:
        return SpfVerdict("error", None, None, (), (), 0)
    found = discover_spf(answer.texts)
    record = found.record
    problems_e = (*found.errors, *(record.errors if record else ()))
    problems_w = (*found.warnings, *(record.warnings if record else ()))
    text = record.text if record else ("\n".join(r.text for r in found.records) or None)
    return SpfVerdict(
        found.status,
        text,
        record.all if record else None,
        _codes(problems_e),
        _codes(problems_w),
        len(found.records),
    )


def classify(
    lookups: DomainLookups,
    org_of: OrgOf,
    vendors: VendorTable,
    rank: int | None = None,
    weight: int | None = None,
    policy: Policy | None = None,
) -> Verdict:
    """The verdict row; `policy` is `discover_policy(lookups)` when the caller has it already.

    Only the vendors and the §7.1 warnings are worked out per domain; the rest comes from the
    policy's and the SPF answer's columns, shared by every domain with the same answers."""
    policy = policy or discover_policy(lookups)
    spf, spf_columns, spf_lookup = _judged_spf(lookups.spf)
    record = policy.record
    warnings = policy.warnings  # sorted and unique already
    if record is None:
        rua_vendors = ruf_vendors = ()
    else:
        dom = policy_domain(lookups, policy)
        policy_org = org_of(dom)
        rua_vendors = _vendor_names(record.rua_hosts, policy_org, vendors)
        ruf_vendors = _vendor_names(record.ruf_hosts, policy_org, vendors)
        if lookups.report_auth:  # empty: not asked (checking switched off), so nothing to add
            auth = _unauthorized(record, dom, policy_org, lookups.report_auth, org_of)
            if auth:
                warnings = tuple(sorted({*warnings, *auth}))
    report_kind, dmarc_lookup, org_lookup, record_count = policy.late_columns
    return Verdict(  # by position, in field order (keywords cost more than the rest here)
        lookups.domain,
        lookups.org_domain,
        rank,
        weight,
        *policy.columns,  # dmarc_status … ruf_hosts
        rua_vendors,
        ruf_vendors,
        policy.errors,
        warnings,
        *spf_columns,  # spf_status … spf_warnings
        _TYPE_OF[(policy.status, spf.status)],
        report_kind,
        dmarc_lookup,
        spf_lookup,
        org_lookup,
        record_count,
        spf.count,
    )


def _vendor_names(hosts: tuple[str, ...], policy_org: str, vendors: VendorTable) -> tuple[str, ...]:
    """Sorted unique vendor names of `hosts` (`report_uris`, from the record's hosts)."""
    if not hosts:
        return ()
    if len(hosts) == 1:
        return (vendors.vendor_of(hosts[0], policy_org),)
    return tuple(sorted({vendors.vendor_of(h, policy_org) for h in hosts}))
