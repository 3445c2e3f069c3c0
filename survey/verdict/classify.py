"""Pure classification: the lookup answers of one domain → one verdict row.

No I/O. `survey.scan` asks the questions and hands the answers over in a `DomainLookups`; the
rules for which questions are needed live beside the rules that use their answers
(`policy.needs_org_lookup`, `authorization.authorization_names`, `treewalk.walk_goes_on`), so
the two cannot drift apart. The RFC 7489 columns and the RFC 9989 ones (`treewalk`) are
judged side by side from the same answers.
"""

from __future__ import annotations

from typing import Any

from survey.schema.values import Dnssec
from survey.verdict.authorization import OrgOf, policy_domain, unauthorized

# Re-exported: scripts/bench_lib.py builds the benchmark's questions file with these, imported
# from here, where they were before authorization.py had them (without them the benchmark
# stops after its first scan).
from survey.verdict.authorization import authorization_name as authorization_name
from survey.verdict.authorization import external_hosts as external_hosts
from survey.verdict.dkim import NOT_ASKED, DkimVerdict
from survey.verdict.policy import DomainLookups, Policy, discover_policy
from survey.verdict.row import TYPE_OF, Verdict
from survey.verdict.spf import judged_spf
from survey.verdict.spf_eval import NO_EVALUATION, SpfEvaluation
from survey.verdict.treewalk import existence, own_step, walk_columns
from survey.verdict.vendors import VendorTable


def classify(
    lookups: DomainLookups,
    org_of: OrgOf,
    vendors: VendorTable,
    rank: int | None = None,
    weight: int | None = None,
    policy: Policy | None = None,
    dnssec: Dnssec | None = None,
    dkim: DkimVerdict = NOT_ASKED,
    spf_eval: SpfEvaluation = NO_EVALUATION,
) -> Verdict:
    """The verdict row; `policy` is `discover_policy(lookups)` when the caller has it already;
    `dnssec` as `survey.verdict.dnssec` judged it (None: not measured); `dkim` as
    `survey.verdict.dkim.judge_dkim` judged the domain's DKIM answers (default: not asked);
    `spf_eval` the SPF record's evaluation (`survey.scan.spf_tree`; none: not evaluated).

    Only the vendors and the §7.1 warnings are worked out per domain; the rest comes from the
    policy's and the SPF answer's columns, shared by every domain with the same answers."""
    policy = policy or discover_policy(lookups)
    spf, spf_columns, spf_lookup = judged_spf(lookups.spf)
    record = policy.record
    warnings = policy.warnings  # sorted and unique already
    rua_vendors: tuple[str, ...] = ()
    ruf_vendors: tuple[str, ...] = ()
    if record is not None:
        dom = policy_domain(lookups, policy)
        policy_org = org_of(dom)
        rua_vendors = _vendor_names(record.rua_hosts, policy_org, vendors)
        ruf_vendors = _vendor_names(record.ruf_hosts, policy_org, vendors)
        if lookups.report_auth:  # empty: not asked (checking switched off), so nothing to add
            auth = unauthorized(record, dom, policy_org, lookups.report_auth, org_of)
            if auth:
                warnings = tuple(sorted({*warnings, *auth}))
    report_kind, dmarc_lookup, org_lookup, record_count = policy.late_columns
    answers = (lookups.dmarc, *(lookups.walk or ()))
    own = own_step(policy.own_records) if policy.own_records else None
    walk = walk_columns(lookups.domain, answers, existence(lookups.spf), own)
    row: tuple[Any, ...] = (  # by position, in field order (keywords cost more than the rest)
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
        TYPE_OF[(policy.status, spf.status)],
        report_kind,
        dmarc_lookup,
        spf_lookup,
        org_lookup,
        record_count,
        spf.count,
        dnssec,
        *walk,  # dmarc9989_status … dmarc9989_warnings
        *dkim.columns,  # dkim_domainkey_lookup … dkim_warnings
        *spf_eval.columns,  # spf_lookups … spf_unasked_terms
    )
    return Verdict(*row)


def _vendor_names(hosts: tuple[str, ...], policy_org: str, vendors: VendorTable) -> tuple[str, ...]:
    """Sorted unique vendor names of the record's report `hosts`."""
    if not hosts:
        return ()
    if len(hosts) == 1:
        return (vendors.vendor_of(hosts[0], policy_org),)
    return tuple(sorted({vendors.vendor_of(h, policy_org) for h in hosts}))
