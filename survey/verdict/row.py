"""The verdict row: one snapshot row per domain, and the type A–F of a pair of statuses.

The fields are the snapshot's columns (`survey.schema.columns.ROW_NAMES`, checked by a test).
"""

from __future__ import annotations

from dataclasses import dataclass

from survey.schema.codes import DkimCode, Dmarc9989Code, DmarcCode, SpfCode
from survey.schema.values import (
    DkimKeyType,
    DkimStatus,
    DmarcSource,
    Dnssec,
    DomainType,
    Outcome,
    Policy,
    ReportType,
    SpfAll,
    SpfResult,
    SpfResultReason,
    Status,
)


@dataclass(slots=True)
class Verdict:
    """One snapshot row (all schema columns but `scanned_at`, which the scan stamps).

    Not frozen: a scan builds one per domain, and a frozen dataclass sets each of its fields
    through `object.__setattr__` (more than the rest of classify costs). The sequences
    are tuples, shared between rows where they are equal: nothing is meant to change a row."""

    domain: str
    org_domain: str
    rank: int | None
    weight: int | None
    dmarc_status: Status
    dmarc_source: DmarcSource | None
    dmarc_record: str | None
    dmarc_p: str | None
    dmarc_sp: str | None
    dmarc_effective_p: Policy | None
    dmarc_pct: int | None
    dmarc_rua: tuple[str, ...]
    dmarc_ruf: tuple[str, ...]
    rua_hosts: tuple[str, ...]
    ruf_hosts: tuple[str, ...]
    rua_vendors: tuple[str, ...]
    ruf_vendors: tuple[str, ...]
    dmarc_errors: tuple[DmarcCode, ...]
    dmarc_warnings: tuple[DmarcCode, ...]
    spf_status: Status
    spf_record: str | None
    spf_all: SpfAll | None
    spf_errors: tuple[SpfCode, ...]
    spf_warnings: tuple[SpfCode, ...]
    type: DomainType | None
    report_type: ReportType | None
    dmarc_lookup: Outcome
    spf_lookup: Outcome
    dmarc_org_lookup: Outcome | None
    dmarc_record_count: int
    spf_record_count: int
    dnssec: Dnssec | None
    dmarc9989_status: Status
    dmarc9989_policy_domain: str | None
    dmarc9989_org_domain: str | None
    dmarc9989_effective_p: Policy | None
    dmarc9989_np: str | None
    dmarc9989_psd: str | None
    dmarc9989_t: str | None
    dmarc9989_errors: tuple[Dmarc9989Code, ...]
    dmarc9989_warnings: tuple[Dmarc9989Code, ...]
    dkim_domainkey_lookup: Outcome | None
    dkim_status: DkimStatus | None
    dkim_selectors: tuple[str, ...]
    dkim_key_types: tuple[DkimKeyType, ...]
    dkim_key_bits: tuple[int | None, ...]
    dkim_revoked: tuple[str, ...]
    dkim_providers: tuple[str, ...]
    dkim_errors: tuple[DkimCode, ...]
    dkim_warnings: tuple[DkimCode, ...]
    spf_lookups: int | None
    spf_void_lookups: int | None
    spf_result: SpfResult | None
    spf_result_reason: SpfResultReason | None
    spf_includes: tuple[str, ...] | None
    spf_unasked_terms: int | None


VERDICT_FIELDS: tuple[str, ...] = tuple(Verdict.__dataclass_fields__)

_TYPES = {
    (Status.VALID, True): DomainType.A,
    (Status.INVALID, True): DomainType.B,
    (Status.VALID, False): DomainType.C,
    (Status.INVALID, False): DomainType.D,
    (Status.ABSENT, True): DomainType.E,
    (Status.ABSENT, False): DomainType.F,
}


def domain_type(dmarc_status: Status, spf_status: Status) -> DomainType | None:
    """Type A–F; None when a lookup it needs failed: unresolved, never absent."""
    if Status.ERROR in (dmarc_status, spf_status):
        return None
    return _TYPES[(dmarc_status, spf_status.is_published)]


#: `domain_type` of every pair of statuses, looked up once per domain.
TYPE_OF = {(d, s): domain_type(d, s) for d in Status for s in Status}
