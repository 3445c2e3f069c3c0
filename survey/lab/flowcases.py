"""The lab's mail-flow cases: what a flow of messages is signed and checked with, and what a
correct reading of it finds (DKIM, service, SPF, DMARC), stated by each case itself.

A domain's messages (`domains.csv`) are split over the cases by weight, exactly; the signing
services come from `data/signers.csv`, signing as each service documents it. Nothing here runs
the survey's classifier: the expected classes are part of each case's definition.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict

from survey import DATA_DIR


@dataclass(frozen=True, slots=True)
class Flow:
    """A flow of messages and the truth about it."""

    case: str
    header_from: str
    messages: int
    dkim: tuple[tuple[str, str | None, str], ...]  # (d=, selector, result)
    spf: tuple[tuple[str, str | None, str], ...]  # (domain, scope, result)
    expect_dkim: str
    expect_service: str | None
    expect_spf: str
    reasons: tuple[str, ...] = ()
    #: The `d=` the DKIM class rests on (first aligned pass, else first pass, else first
    #: signature; None when unsigned) and its organizational domain.
    expect_signer: str | None = None
    expect_signer_org: str | None = None

    @property
    def passes(self) -> bool:
        return self.expect_dkim == "self" or self.expect_spf == "aligned"


@dataclass(frozen=True, slots=True)
class Domain:
    """A lab domain as the reports see it."""

    name: str
    messages: int
    policy: str  # the policy a receiver applies (effective p)
    strict: bool  # adkim=s published
    bits: int
    org: str = ""  # its organizational domain (the lab's truth); "" when it is its own

    @property
    def organization(self) -> str:
        return self.org or self.name


def load_services(path: Path = DATA_DIR / "signers.csv") -> Services:
    """(service, suffix) of the signer table: the lab signs as those services do."""
    with path.open(encoding="utf-8", newline="") as lines:
        return [(row["service"], row["suffix"]) for row in csv.DictReader(lines)]


def _signer(service_suffix: str, domain: str) -> str:
    """A d= as the service writes it for a customer (Google: a gappssmtp.com subdomain)."""
    if service_suffix == "gappssmtp.com":
        return f"{domain.replace('.', '-')}.20230601.gappssmtp.com"
    if service_suffix == "onmicrosoft.com":
        return f"{domain.split('.')[0]}.onmicrosoft.com"
    return service_suffix


# --- the cases: what is signed and checked, and what a correct reading finds ---------------


class Signed(TypedDict):
    expect_signer: str
    expect_signer_org: str


def _signed(signer: str, domain: Domain | None = None, org: str = "") -> Signed:
    """The expected signer fields: `signer` and its organization (the domain's own, for a
    signature by the author's domain or one of its subdomains; else `org`)."""
    return {"expect_signer": signer, "expect_signer_org": domain.organization if domain else org}


Services = list[tuple[str, str]]
Case = Callable[[Domain, random.Random, Services], Flow]


def _self(d: Domain, rng: random.Random, services: Services) -> Flow:
    dkim, spf = ((d.name, "s1", "pass"),), ((d.name, "mfrom", "pass"),)
    return Flow("self", d.name, 0, dkim, spf, "self", "self", "aligned", **_signed(d.name, d))


def _self_subdomain(d: Domain, rng: random.Random, services: Services) -> Flow:
    # d=mail.<domain>: aligned under relaxed (same organization), not under adkim=s
    # (RFC 7489 §3.1.1); the signer is the author's own organization either way.
    dkim, spf = ((f"mail.{d.name}", "k1", "pass"),), ((f"bounce.{d.name}", "mfrom", "fail"),)
    expect = "third_party" if d.strict else "self"
    signer = _signed(f"mail.{d.name}", d)
    return Flow("self_subdomain", d.name, 0, dkim, spf, expect, "self", "fail", **signer)


def _service(d: Domain, rng: random.Random, services: Services) -> Flow:
    name, suffix = rng.choice(services)
    dkim = ((_signer(suffix, d.name), "s", "pass"),)
    spf = ((f"bounces.{suffix}", "mfrom", "pass"),)
    signer = _signed(dkim[0][0], org=suffix)
    return Flow("service", d.name, 0, dkim, spf, "third_party", name, "unaligned", **signer)


def _service_spf_aligned(d: Domain, rng: random.Random, services: Services) -> Flow:
    name, suffix = rng.choice(services)
    dkim, spf = ((_signer(suffix, d.name), "s", "pass"),), ((f"em123.{d.name}", "mfrom", "pass"),)
    signer = _signed(dkim[0][0], org=suffix)
    return Flow(
        "service_spf_aligned", d.name, 0, dkim, spf, "third_party", name, "aligned", **signer
    )


def _unknown_signer(d: Domain, rng: random.Random, services: Services) -> Flow:
    org = f"{rng.choice(('postsafe', 'inboxwatch', 'mxshield'))}-esp.net"
    signer = f"mailer.{org}"
    dkim = ((signer, "x", "pass"), (d.name, "s1", "fail"))
    spf = ((signer, "mfrom", "softfail"),)
    expect = _signed(signer, org=org)  # the first passing signature, not the failed own one
    return Flow("unknown_signer", d.name, 0, dkim, spf, "third_party", "other", "fail", **expect)


def _forwarded(d: Domain, rng: random.Random, services: Services) -> Flow:
    dkim, spf = ((d.name, "s1", "fail"),), ((d.name, "mfrom", "fail"),)
    signer = _signed(d.name, d)  # none passed: the first signature
    return Flow("forwarded", d.name, 0, dkim, spf, "fail", None, "fail", ("forwarded",), **signer)


def _temperror(d: Domain, rng: random.Random, services: Services) -> Flow:
    dkim, spf = ((d.name, "s1", "temperror"),), ((d.name, "mfrom", "temperror"),)
    return Flow("temperror", d.name, 0, dkim, spf, "fail", None, "fail", **_signed(d.name, d))


def _unsigned_spoof(d: Domain, rng: random.Random, services: Services) -> Flow:
    spf = ((d.name, "mfrom", "fail"),)
    return Flow("unsigned_spoof", d.name, 0, (), spf, "unsigned", None, "fail")


def _unsigned_spf_aligned(d: Domain, rng: random.Random, services: Services) -> Flow:
    # A DKIM result `none`: not signed (RFC 8601 §2.7.1).
    dkim, spf = ((d.name, None, "none"),), ((d.name, "mfrom", "pass"),)
    return Flow("unsigned_spf_aligned", d.name, 0, dkim, spf, "unsigned", None, "aligned")


def _helo_only(d: Domain, rng: random.Random, services: Services) -> Flow:
    # Only a HELO result: DMARC uses MAIL FROM, so SPF counts as none.
    dkim, spf = ((d.name, "s1", "pass"),), ((f"mx.{d.name}", "helo", "pass"),)
    return Flow("helo_only", d.name, 0, dkim, spf, "self", "self", "none", **_signed(d.name, d))


def _no_spf(d: Domain, rng: random.Random, services: Services) -> Flow:
    dkim = ((d.name, "s1", "pass"),)
    return Flow("no_spf", d.name, 0, dkim, (), "self", "self", "none", **_signed(d.name, d))


#: (case, weight in messages). Every reported domain gets each case once its volume allows.
CASES: tuple[tuple[Case, int], ...] = (
    (_self, 40), (_self_subdomain, 6), (_service, 14), (_service_spf_aligned, 8),
    (_unknown_signer, 5), (_forwarded, 5), (_temperror, 2), (_unsigned_spoof, 8),
    (_unsigned_spf_aligned, 6), (_helo_only, 3), (_no_spf, 3),
)  # fmt: skip
#: Cases a table can state (no selectors, no scopes: HELO-only cannot be written).
TABLE_CASES = tuple((case, w) for case, w in CASES if case is not _helo_only)


def split(total: int, weights: list[int]) -> list[int]:
    """`total` in parts proportional to `weights`, summing to `total` exactly."""
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    parts[0] += total - sum(parts)
    return parts


def flows_of(domain: Domain, cases: tuple[tuple[Case, int], ...], services: list) -> list[Flow]:
    """The domain's messages as flows of each case (cases with no message left out)."""
    rng = random.Random(domain.bits)
    counts = split(domain.messages, [w for _, w in cases])
    flows = []
    for (case, _), count in zip(cases, counts, strict=True):
        if count > 0:
            flows.append(replace(case(domain, rng, services), messages=count))
    return flows


def disposition(flow: Flow, domain: Domain, rfc: str) -> str:
    """What the receiver did: the policy for mail failing DMARC (RFC 7489 §6.6.4), none or
    RFC 9990's `pass` for mail passing it."""
    if flow.passes:
        return "pass" if rfc == "rfc9990" else "none"
    return domain.policy


def lab_domain(name: str, messages: int, policy: str, org: str = "") -> Domain:
    """A lab domain with its own stable bits (and adkim=s for one in five)."""
    bits = int.from_bytes(name.encode()[-8:].rjust(8, b"\0"), "big") ^ len(name) * 0x9E3779B1
    own = "" if org == name else org
    return Domain(name, messages, policy, strict=bits % 5 == 0, bits=bits & 0xFFFFFFFF, org=own)
