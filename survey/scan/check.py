"""`survey check`: one domain's records, verdicts and problems, for a person (or as JSON).

It runs exactly the scan's code path (DomainScanner) so that what a person checks by hand is what
the survey counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from survey.dns.loop import run
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings
from survey.errors import InputError
from survey.input.names import normalise, validate
from survey.input.stream import InputDomain
from survey.records.dmarc import DMARC_CODES
from survey.records.dmarc9989 import DMARC9989_CODES
from survey.records.spf import SPF_CODES
from survey.scan.scanner import DomainScanner
from survey.scan.spf_tree import PoolResolver, SpfNode, SpfTrees
from survey.schema.codes import DkimCode
from survey.verdict.dkim import SelectorList

DKIM_CODES = DkimCode.table()

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def terminal_safe(text: str) -> str:
    """Escape control characters (ESC sequences could drive the terminal) and raw bytes."""
    encoded = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return encoded.translate(_CONTROL)


def check_domains(
    names: list[str], settings: ResolverSettings, dkim_selectors: str | None = "extended"
) -> list[dict[str, Any]]:
    """Each domain's verdict row as a dict; DKIM with the selector list `dkim_selectors`
    (None: not asked)."""
    dkim = SelectorList.load(dkim_selectors) if dkim_selectors is not None else None
    domains = []
    for name in names:
        domain = normalise(name)
        reason = validate(domain)
        if reason:
            raise InputError(f"{name!r} is not a domain name we can check: {reason}")
        domains.append(domain)
    return run(_check_all(domains, settings, dkim))


async def _check_all(
    domains: list[str], settings: ResolverSettings, dkim: SelectorList | None
) -> list[dict[str, Any]]:
    async with ResolverPool(settings) as pool:
        scanner = DomainScanner.standard(pool, report_auth=True, dkim=dkim)
        trees = scanner.spf_trees = SpfTrees(PoolResolver(pool), trace=True)  # the scan's, traced
        verdicts = await asyncio.gather(
            *(scanner.scan(InputDomain(d, None, None)) for d in domains)
        )
    found = [asdict(v) for v in verdicts]
    for result in found:
        tree = trees.traces.get(result["domain"])
        result["spf_tree"] = None if tree is None else asdict(tree)
    return found


def render_text(result: dict[str, Any]) -> str:
    """A readable block for one domain."""
    lines = [f"{result['domain']}  (organizational domain {result['org_domain']})"]
    kinds = _shown(result["type"]), _shown(result["report_type"])
    lines.append(f"  type {kinds[0]}   report type {kinds[1]}")
    lines.append(
        f"  DMARC (RFC 7489) {result['dmarc_status']}"
        f" (lookup {result['dmarc_lookup']}, source {result['dmarc_source']})"
    )
    for text in result["dmarc_record"].split("\n") if result["dmarc_record"] else ():
        lines.append(f"    record: {terminal_safe(text)}")
    shown = {k: _shown(result[f"dmarc_{k}"]) for k in ("p", "sp", "pct", "effective_p")}
    lines.append(
        f"    policy p={shown['p']} sp={shown['sp']} pct={shown['pct']}"
        f" -> a receiver applies: {shown['effective_p']}"
    )
    for kind in ("rua", "ruf"):
        if result[f"dmarc_{kind}"]:
            lines.append(
                f"    {kind}: {', '.join(terminal_safe(u) for u in result[f'dmarc_{kind}'])}"
                f"  vendors: {', '.join(result[f'{kind}_vendors'])}"
            )
    lines += _problems(result, "dmarc", DMARC_CODES)
    lines += _rfc9989_lines(result)
    lines.append(f"  SPF {result['spf_status']} (lookup {result['spf_lookup']})")
    for text in result["spf_record"].split("\n") if result["spf_record"] else ():
        lines.append(f"    record: {terminal_safe(text)}")
    if result["spf_all"]:
        lines.append(f"    all: {result['spf_all']}")
    lines += _problems(result, "spf", SPF_CODES)
    lines += _evaluation_lines(result)
    lines.append(f"  DNSSEC {_DNSSEC.get(result.get('dnssec'), result.get('dnssec'))}")
    lines += _dkim_lines(result)
    return "\n".join(lines)


def _dkim_lines(result: dict[str, Any]) -> list[str]:
    """The DKIM verdict and every selector found, with its key."""
    status = result.get("dkim_status")
    if status is None:
        return ["  DKIM not asked"]
    lines = [f"  DKIM {status} (lookup of _domainkey {_shown(result['dkim_domainkey_lookup'])})"]
    revoked = set(result["dkim_revoked"])
    columns = (result[f"dkim_{name}"] for name in ("selectors", "key_types", "key_bits"))
    keys = zip(*columns, strict=True)
    for selector, key_type, bits in keys:
        key = "revoked (empty p)" if selector in revoked else f"{key_type} {_shown(bits)} bits"
        lines.append(f"    selector {terminal_safe(selector)}: {key}")
    if result["dkim_providers"]:
        lines.append(f"    providers: {', '.join(result['dkim_providers'])}")
    return lines + _problems(result, "dkim", DKIM_CODES)


_DNSSEC = {
    None: "not measured (this DNS client cannot read the AD bit)",
    "secure": "secure (the resolver validated the answer: AD set)",
    "insecure": "insecure (answered without the AD bit: not signed, or not validated)",
    "bogus": "bogus (SERVFAIL; the data is there with CD set: its validation fails)",
    "error": "error (unresolved)",
}


def _evaluation_lines(result: dict[str, Any]) -> list[str]:
    """The SPF record as a receiver evaluates it: the result, the counts, and the tree of its
    DNS-querying terms, each with the lookups (and void lookups) it accounts for."""
    if result.get("spf_result") is None:
        return []
    reason = result.get("spf_result_reason")
    line = f"    evaluation: {result['spf_result']}" + (f" ({reason})" if reason else "")
    if result.get("spf_lookups") is not None:
        line += (
            f", {result['spf_lookups']} lookups (limit 10),"
            f" {result['spf_void_lookups']} void (limit 2)"
        )
        if result.get("spf_unasked_terms"):
            line += f", {result['spf_unasked_terms']} counted, not asked"
    lines = [line]
    tree = result.get("spf_tree")
    for child in (tree or {}).get("children", ()):
        lines += _tree_lines(SpfNode(**child) if isinstance(child, dict) else child, 3)
    return lines


def _tree_lines(node: SpfNode | dict[str, Any], depth: int) -> list[str]:
    if isinstance(node, dict):
        node = SpfNode(**node)
    term = node.term if not node.name else f"{node.term}:{node.name}"
    if node.term == "redirect":
        term = f"redirect={node.name}"
    counts = f"{node.lookups} lookup{'s' if node.lookups != 1 else ''}"
    if node.voids:
        counts += f", {node.voids} void"
    note = f"  — {node.note}" if node.note else ""
    lines = [f"{'  ' * depth}{terminal_safe(term)}  [{counts}]{terminal_safe(note)}"]
    for child in node.children:
        lines += _tree_lines(child, depth + 1)
    return lines


def _rfc9989_lines(result: dict[str, Any]) -> list[str]:
    """The RFC 9989 verdict: where the DNS Tree Walk found the policy, and what applies."""
    shown = {k: _shown(result[f"dmarc9989_{k}"]) for k in ("np", "psd", "t", "effective_p")}
    lines = [
        f"  DMARC (RFC 9989) {result['dmarc9989_status']}"
        f" (policy domain {_shown(result['dmarc9989_policy_domain'])},"
        f" organizational domain {_shown(result['dmarc9989_org_domain'])})",
        f"    policy np={shown['np']} psd={shown['psd']} t={shown['t']}"
        f" -> a receiver applies: {shown['effective_p']}",
    ]
    return lines + _problems(result, "dmarc9989", DMARC9989_CODES)


def _shown(value: object) -> str:
    return "-" if value is None else terminal_safe(str(value))


def _problems(result: dict[str, Any], prefix: str, table: Mapping[str, str]) -> list[str]:
    lines = []
    for severity in ("errors", "warnings"):
        for code in result[f"{prefix}_{severity}"]:
            lines.append(f"    {severity[:-1]}: {code} — {table.get(code, '')}")
    return lines
