"""RFC 7489 §7.1: external report destinations must authorize the reports they receive.

Pure: which `<policy-domain>._report._dmarc.<host>` names to ask for a domain, and the warning
each answer gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from survey.dns.outcome import TxtAnswer
from survey.records.dmarc import DmarcRecord, parse_dmarc_record
from survey.schema.codes import DmarcCode
from survey.verdict.policy import DomainLookups, Policy, discover_policy

OrgOf = Callable[[str], str]


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


def unauthorized(
    record: DmarcRecord,
    policy_dom: str,
    policy_org: str,
    report_auth: Mapping[str, TxtAnswer],
    org_of: OrgOf,
) -> set[DmarcCode]:
    """Warning codes for the record's external rua and ruf destinations without a valid
    authorization record, with the policy domain's organization (`policy_org`) worked out by
    the caller."""
    found: set[DmarcCode] = set()
    for code, hosts in _destinations(record):
        for host in hosts:
            if org_of(host) == policy_org:
                continue  # not external (§7.1)
            answer = report_auth.get(authorization_name(policy_dom, host))
            if (warning := _authorization_code(answer, code)) is not None:
                found.add(warning)
    return found


def _destinations(record: DmarcRecord) -> tuple[tuple[DmarcCode, tuple[str, ...]], ...]:
    return (
        (DmarcCode.RUA_UNAUTHORIZED, record.rua_hosts),
        (DmarcCode.RUF_UNAUTHORIZED, record.ruf_hosts),
    )


def _authorization_code(answer: TxtAnswer | None, kind_code: DmarcCode) -> DmarcCode | None:
    """The warning one §7.1 authorization answer gives: None when it was not asked (checking
    switched off) or authorizes; unresolved when the lookup failed; else `kind_code`."""
    if answer is None:
        return None
    if not answer.is_answer:
        return DmarcCode.REPORT_AUTH_UNRESOLVED
    if not any(_authorizes(text) for text in answer.texts):
        return kind_code
    return None


def _authorizes(text: str) -> bool:
    """§7.1: the record at the authorization name must be a DMARC record (`v=DMARC1`)."""
    return parse_dmarc_record(text).is_dmarc
