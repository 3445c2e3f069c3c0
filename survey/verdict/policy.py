"""RFC 7489 §6.6.3 policy discovery over one domain's answers: which DMARC record applies.

Pure. The answers come in a `DomainLookups`; the rule for when the organizational domain must be
asked (`needs_org_lookup`) lives beside the rule that uses its answer, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from survey.dns.outcome import TxtAnswer
from survey.records.dmarc import DmarcDiscovery, DmarcRecord, discover
from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.schema.codes import DmarcCode
from survey.schema.values import DmarcSource, Outcome, ReportType, Status


@repeated_memo(maxsize=4096)
def _discover(texts: tuple[str, ...]) -> DmarcDiscovery:
    """§6.6.3 discovery over the texts at one name, computed once per distinct answer that
    comes back: a subdomain's asks for it when deciding on the fallback and again when
    classifying (values are frozen, so sharing them is safe)."""
    return discover(texts)


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
    #: TXT _dmarc.<name> for the RFC 9989 tree walk's names after the domain's own
    #: (`treewalk.walk_names(domain)[1:]`), as far as the walk went; None: not asked
    walk: tuple[TxtAnswer, ...] | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """The outcome of RFC 7489 §6.6.3 policy discovery for one domain."""

    status: Status
    source: DmarcSource | None
    record: DmarcRecord | None  # the record that applies
    texts: tuple[str, ...]  # the TXT texts at the name the verdict rests on
    lookup: Outcome  # outcome of _dmarc.<domain>
    org_lookup: Outcome | None
    errors: tuple[DmarcCode, ...]
    warnings: tuple[DmarcCode, ...]
    #: Every text at `_dmarc.<domain>`, parsed: the RFC 9989 judgment reads them again
    own_records: tuple[DmarcRecord, ...] = field(default=(), repr=False, compare=False)
    #: The verdict columns that depend on the policy alone, worked out once per Policy (domains
    #: with the same answers share one): `dmarc_status` … `ruf_hosts` in Verdict order, then
    #: (`report_type`, `dmarc_lookup`, `dmarc_org_lookup`, `dmarc_record_count`).
    columns: tuple[object, ...] = field(init=False, repr=False, compare=False)
    late_columns: tuple[ReportType | None, Outcome, Outcome | None, int] = field(
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
            kind = REPORT_TYPE_OF[(bool(record.valid_rua), bool(record.valid_ruf))]
            if DmarcCode.MULTIPLE_RECORDS in self.errors:  # not reached: one record applies
                kind = None
        object.__setattr__(self, "columns", columns)
        object.__setattr__(
            self, "late_columns", (kind, self.lookup, self.org_lookup, len(self.texts))
        )

    @property
    def policy_domain_is_org(self) -> bool:
        return self.source is DmarcSource.ORGANIZATIONAL


#: `report_type` by (a valid rua, a valid ruf).
REPORT_TYPE_OF = {
    (True, True): ReportType.A,
    (True, False): ReportType.B,
    (False, True): ReportType.C,
    (False, False): ReportType.D,
}
#: dmarc_p … ruf_hosts when no record applies.
_NO_RECORD_COLUMNS = (None, None, None, None, (), (), (), ())


def needs_org_lookup(domain: str, org_domain: str, dmarc: TxtAnswer) -> bool:
    """§6.6.3 step 3: fall back to the organizational domain when the domain has no record.

    Not when the lookup failed (we do not know), nor when several records stopped discovery."""
    if domain == org_domain or not dmarc.is_answer:
        return False
    found = _discover(dmarc.texts)
    return found.record is None and not _has(found.errors, DmarcCode.MULTIPLE_RECORDS)


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
    mine = found.records
    if found.record is not None or _has(found.errors, DmarcCode.MULTIPLE_RECORDS):
        return _policy_from(found, DmarcSource.DOMAIN, own.texts, own.outcome, None, (), mine)
    discarded = _discarded_codes(found)
    if org is None:
        return _no_record(own, discarded, None, mine)
    if not org.is_answer:
        return _error_policy(own.outcome, org.outcome)
    org_found = _discover(org.texts)
    extra = (DmarcCode.DISCARDED_TEXT,) if discarded else ()
    if org_found.record is None and not _has(org_found.errors, DmarcCode.MULTIPLE_RECORDS):
        org_discarded = _discarded_codes(org_found)
        if not org_discarded:
            return _no_record(own, discarded, org.outcome, mine)
        # Only non-DMARC text at the organization's _dmarc: the organization's mistake, reached
        # by §6.6.3 as an invalid record of it would be, and invalid as it is for itself.
        return Policy(
            Status.INVALID,
            DmarcSource.ORGANIZATIONAL,
            None,
            org.texts,
            own.outcome,
            org.outcome,
            org_discarded,
            extra,
            mine,
        )
    return _policy_from(
        org_found, DmarcSource.ORGANIZATIONAL, org.texts, own.outcome, org.outcome, extra, mine
    )


def _policy_from(
    found: DmarcDiscovery,
    source: DmarcSource,
    texts: tuple[str, ...],
    lookup: Outcome,
    org_lookup: Outcome | None,
    extra_warnings: tuple[DmarcCode, ...],
    own_records: tuple[DmarcRecord, ...],
) -> Policy:
    record = found.record
    if record is None:  # several records: discovery stops, only that code counts
        errors: tuple[DmarcCode, ...] = (DmarcCode.MULTIPLE_RECORDS,)
        warnings = _codes(found.warnings)
    else:
        errors = _codes((*found.errors, *record.errors))
        warnings = _codes((*found.warnings, *record.warnings))
    warnings = tuple(sorted({*warnings, *extra_warnings}))
    status = Status.VALID if record is not None and not errors else Status.INVALID
    return Policy(status, source, record, texts, lookup, org_lookup, errors, warnings, own_records)


def _no_record(
    own: TxtAnswer,
    discarded: tuple[DmarcCode, ...],
    org_lookup: Outcome | None,
    own_records: tuple[DmarcRecord, ...],
) -> Policy:
    """No record applies: text that was published at `_dmarc` is a mistake, else absent."""
    if discarded:
        return Policy(
            Status.INVALID,
            DmarcSource.DOMAIN,
            None,
            own.texts,
            own.outcome,
            org_lookup,
            discarded,
            (),
            own_records,
        )
    return Policy(
        Status.ABSENT, None, None, own.texts, own.outcome, org_lookup, (), (), own_records
    )


def _error_policy(lookup: Outcome, org_lookup: Outcome | None) -> Policy:
    return Policy(Status.ERROR, None, None, (), lookup, org_lookup, (), ())


def _discarded_codes(found: DmarcDiscovery) -> tuple[DmarcCode, ...]:
    return _codes(p for rec in found.records if not rec.is_dmarc for p in rec.errors)


def _codes(problems: Iterable[Problem]) -> tuple[DmarcCode, ...]:
    """Sorted unique codes; a code the schema does not know is a bug and raises here."""
    return tuple(sorted({DmarcCode(p.code) for p in problems}))


def _has(problems: Iterable[Problem], code: str) -> bool:
    return any(p.code == code for p in problems)
