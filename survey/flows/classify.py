"""Who signed a mail flow and whether it passes DMARC: pure functions of one record's results.

DKIM (RFC 7489 §3.1.1, §4.2): a signature is aligned when its `d=` has the organizational
domain of the header From (relaxed, the default) or is exactly the header From domain
(`adkim=s`). A flow is `self` when an aligned signature passed, `third_party` when signatures
passed but none aligned, `fail` when signatures were checked and none passed, `unsigned` when
there was none. A result `none` means "the message was not signed" (RFC 8601 §2.7.1), so such
entries count as no signature. Under `adkim=s` a passing signature of another name in the same
organization is not aligned, hence `third_party` (its service is then `self`).

SPF (RFC 7489 §3.1.2, §4.2): the MAIL FROM domain passed and aligns (same rules, `aspf`) →
`aligned`; passed without aligning → `unaligned`; no result or `none` → `none`; anything else →
`fail`. DMARC passes when DKIM is `self` or SPF is `aligned` (RFC 7489 §4.2).

Domains are compared as given: the caller normalises them (lower case, A-labels, no dot).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from survey.schema.flow_values import (
    Alignment,
    DkimClass,
    DkimResult,
    DmarcResult,
    SpfClass,
    SpfResult,
)
from survey.verdict.psl import organizational_domain


@dataclass(frozen=True, slots=True)
class Signature:
    """A DKIM result as classification needs it: the signing domain and the result."""

    domain: str
    result: DkimResult | None


@dataclass(frozen=True, slots=True)
class FlowVerdict:
    """The classes of one record, and the signing domain the DKIM class rests on."""

    dkim: DkimClass
    signer: str | None
    spf: SpfClass
    dmarc: DmarcResult


def aligned(domain: str, header_from: str, mode: Alignment | None) -> bool:
    """Identifier alignment (RFC 7489 §3.1): exact under strict, same organization otherwise."""
    if not domain or not header_from:
        return False
    if mode == Alignment.STRICT:
        return domain == header_from
    return organizational_domain(domain) == organizational_domain(header_from)


def dkim_class(
    header_from: str, signatures: Sequence[Signature], adkim: Alignment | None
) -> tuple[DkimClass, str | None]:
    """The DKIM class and its signer: the first aligned pass, else the first pass, else the
    first signature checked; None when unsigned."""
    signed = [s for s in signatures if s.result not in (None, DkimResult.NONE)]
    passed = [s for s in signed if s.result == DkimResult.PASS]
    for signature in passed:
        if aligned(signature.domain, header_from, adkim):
            return DkimClass.SELF, signature.domain
    if passed:
        return DkimClass.THIRD_PARTY, passed[0].domain
    if signed:
        return DkimClass.FAIL, signed[0].domain
    return DkimClass.UNSIGNED, None


def spf_class(
    header_from: str, domain: str | None, result: SpfResult | None, aspf: Alignment | None
) -> SpfClass:
    """The SPF class of the MAIL FROM result (None: no result was given)."""
    if result in (None, SpfResult.NONE):
        return SpfClass.NONE
    if result != SpfResult.PASS:
        return SpfClass.FAIL
    return SpfClass.ALIGNED if aligned(domain or "", header_from, aspf) else SpfClass.UNALIGNED


def classify(
    header_from: str,
    signatures: Sequence[Signature],
    spf: tuple[str | None, SpfResult | None],
    adkim: Alignment | None = None,
    aspf: Alignment | None = None,
) -> FlowVerdict:
    """DKIM, SPF and DMARC classes of one record."""
    dkim, signer = dkim_class(header_from, signatures, adkim)
    spf_verdict = spf_class(header_from, spf[0], spf[1], aspf)
    passes = dkim == DkimClass.SELF or spf_verdict == SpfClass.ALIGNED
    return FlowVerdict(dkim, signer, spf_verdict, DmarcResult.PASS if passes else DmarcResult.FAIL)
