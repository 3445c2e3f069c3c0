"""The truth of a lab domain: what its records are, and the RFC 7489 verdict on them, worked out
from what the generator wrote (never by the survey's parsers). The RFC 9989 columns come from
`truth9989`, the DKIM ones from `dkim_cases`, appended to the same row."""

from dataclasses import dataclass

import pyarrow as pa

from survey.lab.generate.dkim_cases import DKIM_CASES
from survey.lab.generate.dmarc_cases import DMARC_CASES
from survey.lab.generate.model import DmarcText, Plan, Published, mix
from survey.lab.generate.reports import REPORT_CASES, Reports
from survey.lab.generate.spf_cases import SPF_CASES
from survey.lab.generate.spf_trees import PROVIDERS, Zone, evaluate


def publish(plan: Plan, reports: Reports) -> Published:
    """The records a plan puts in the zone, each with the truth about it."""
    rua, ruf = REPORT_CASES[plan.report][1](reports, plan) if plan.report else ((), ())
    texts = DMARC_CASES[plan.dmarc][2](plan, rua, ruf)
    cname = f"{plan.name.replace('.', '-')}.policy.ondmarc.com" if plan.dmarc == "cname" else None
    spf = SPF_CASES[plan.spf][1](plan)
    has_a = not spf.texts and plan.sub != "nonexistent" and mix(plan.bits, 60) % 10 < 4
    dkim = DKIM_CASES[plan.dkim][1](plan)
    return Published(plan, texts, cname, spf, has_a, dkim)


@dataclass(frozen=True, slots=True)
class DmarcVerdict:
    status: str
    source: str | None
    record: DmarcText | None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def dmarc_verdict(own: Published, org: Published | None) -> DmarcVerdict:
    """Policy discovery (RFC 7489 §6.6.3) over what the generator wrote, per the spec's verdict
    semantics. `org` is the organizational domain's publication, None when d is its own org."""
    found = [text for text in own.dmarc if text.is_dmarc]
    discarded = tuple(text for text in own.dmarc if not text.is_dmarc)
    if len(found) > 1:  # several records stop discovery: no fallback, no policy
        return DmarcVerdict("invalid", "domain", None, ("multiple_records",))
    if found:
        return _applied(found[0], "domain", discarded)
    if org is not None and org.dmarc:
        return _organizational(org.dmarc, discarded)
    if discarded:  # only non-DMARC text and no organizational record: a mistake at _dmarc
        codes = tuple(sorted({code for text in discarded for code in text.errors}))
        return DmarcVerdict("invalid", "domain", None, codes)
    return DmarcVerdict("absent", None, None)


def _organizational(texts: tuple[DmarcText, ...], discarded: tuple) -> DmarcVerdict:
    """The fallback finds texts at the organizational domain: its one record applies; several
    end discovery; only non-DMARC text is the organization's mistake (issue 12), invalid as
    it is for the organization itself. The domain's own discarded text is a warning."""
    found = [text for text in texts if text.is_dmarc]
    if len(found) == 1:
        return _applied(found[0], "organizational", discarded)
    warnings = ("discarded_text",) if discarded else ()
    if found:
        return DmarcVerdict("invalid", "organizational", None, ("multiple_records",), warnings)
    codes = tuple(sorted({code for text in texts for code in text.errors}))
    return DmarcVerdict("invalid", "organizational", None, codes, warnings)


def _applied(record: DmarcText, source: str, discarded: tuple[DmarcText, ...]) -> DmarcVerdict:
    warnings = set(record.warnings)
    if discarded:
        warnings.add("discarded_text")
    if any(not uri.authorized for uri in record.rua):
        warnings.add("rua_unauthorized")
    if any(not uri.authorized for uri in record.ruf):
        warnings.add("ruf_unauthorized")
    status = "invalid" if record.errors else "valid"
    return DmarcVerdict(
        status, source, record, tuple(sorted(set(record.errors))), tuple(sorted(warnings))
    )


_TYPES = {
    ("valid", True): "A",
    ("invalid", True): "B",
    ("valid", False): "C",
    ("invalid", False): "D",
    ("absent", True): "E",
    ("absent", False): "F",
}
EXPECTED_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("domain", "org_domain", "dmarc_status", "dmarc_source")]
    + [(name, pa.string()) for name in ("dmarc_p", "dmarc_sp", "dmarc_effective_p")]
    + [("dmarc_pct", pa.int16())]
    + [(name, pa.list_(pa.string())) for name in ("dmarc_errors", "dmarc_warnings")]
    + [("spf_status", pa.string()), ("spf_all", pa.string())]
    + [(name, pa.list_(pa.string())) for name in ("spf_errors", "spf_warnings")]
    + [("type", pa.string()), ("report_type", pa.string())]
    + [(name, pa.list_(pa.string())) for name in ("rua_vendors", "ruf_vendors")]
    + [("dnssec", pa.string())]
    + [(f"dmarc9989_{name}", pa.string()) for name in ("status", "policy_domain", "org_domain")]
    + [(f"dmarc9989_{name}", pa.string()) for name in ("effective_p", "np", "psd", "t")]
    + [(f"dmarc9989_{name}", pa.list_(pa.string())) for name in ("errors", "warnings")]
    + [(f"dkim_{name}", pa.string()) for name in ("domainkey_lookup", "status")]
    + [(f"dkim_{name}", pa.list_(pa.string())) for name in ("selectors", "key_types")]
    + [("dkim_key_bits", pa.list_(pa.int32()))]
    + [(f"dkim_{name}", pa.list_(pa.string())) for name in ("revoked", "providers")]
    + [(f"dkim_{name}", pa.list_(pa.string())) for name in ("errors", "warnings")]
    + [("spf_lookups", pa.int16()), ("spf_void_lookups", pa.int16())]
    + [("spf_result", pa.string()), ("spf_result_reason", pa.string())]
    + [("spf_includes", pa.list_(pa.string())), ("spf_unasked_terms", pa.int16())]
)
_PROVIDERS = {name: (record,) for name, record in PROVIDERS.items()}
# Nothing in this zone is signed, and an authoritative server validates nothing: every answer
# comes without the AD bit. The DNSSEC lab (survey/lab/dnssec.py) states its own.
UNSIGNED = "insecure"


def expected_row(own: Published, org: Published | None, rfc9989: tuple) -> tuple:
    """One row of expected.parquet, in EXPECTED_SCHEMA's column order; `rfc9989` is the
    domain's `truth9989.expected_9989`."""
    verdict = dmarc_verdict(own, org)
    record, spf = verdict.record, own.spf
    dmarc_part: tuple = (None,) * 4 + ([], [])
    if record is not None:
        effective = record.policy(verdict.source == "organizational")
        dmarc_part = (record.p, record.sp, effective, record.pct)
        dmarc_part += (
            sorted({u.vendor for u in record.rua}),
            sorted({u.vendor for u in record.ruf}),
        )
    report_type = None if record is None else "DCBA"[bool(record.rua) * 2 + bool(record.ruf)]
    return (
        own.plan.name,
        own.plan.org,
        verdict.status,
        verdict.source,
        *dmarc_part[:4],
        list(verdict.errors),
        list(verdict.warnings),
        spf.status,
        spf.all,
        list(spf.errors),
        list(spf.warnings),
        _TYPES[verdict.status, spf.status != "absent"],
        report_type,
        *dmarc_part[4:],
        UNSIGNED,
        *rfc9989,
        *(own.dkim.expected() if own.dkim is not None else _NO_DKIM),
        *spf_evaluation(own),
    )


_NO_DKIM: tuple = ("nxdomain", "absent", [], [], [], [], [], [], [])


def spf_evaluation(own: Published) -> tuple:
    """The `spf_*` evaluation columns, by the generator's own walk over what it wrote for the
    domain (its record, the names below it, its A and MX records) and the providers' trees."""
    spf = own.spf
    if not spf.records:
        return evaluate(own.plan.name, Zone({}))
    txt = {**_PROVIDERS, own.plan.name: spf.records, **dict(spf.names)}
    mx = {owner: len(exchanges) for owner, exchanges in spf.mx}
    return evaluate(own.plan.name, Zone(txt, frozenset(spf.a), mx))
