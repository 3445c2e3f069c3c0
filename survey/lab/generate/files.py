"""Writing a lab: root.zone, domains.csv, expected.parquet, cases.parquet and lab.json."""

import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from survey.errors import LabError
from survey.lab.generate.dkim_cases import shared_lines as dkim_shared_lines
from survey.lab.generate.model import DmarcText, Plan, Published, mix
from survey.lab.generate.plan import MIN_PER_CASE, evolve, plan_lab
from survey.lab.generate.reports import Reports, VendorSite, load_vendor_sites
from survey.lab.generate.spf_trees import PROVIDERS
from survey.lab.generate.sub_cases import PSD_NAME, PSD_RECORD, extra_records
from survey.lab.generate.truth import EXPECTED_SCHEMA, expected_row, publish
from survey.lab.generate.truth9989 import expected_9989
from survey.lab.zonefile import header_lines, txt_line


@dataclass(frozen=True, slots=True)
class LabPaths:
    """The files of one generated lab."""

    out_dir: Path
    root_zone: Path
    domains_csv: Path
    expected_parquet: Path
    cases_parquet: Path
    lab_json: Path


def generate_lab(n_domains: int, out_dir: Path | str, seed: int = 1, epoch: int = 0) -> LabPaths:
    """Write the lab: root.zone, domains.csv, expected.parquet, cases.parquet and lab.json."""
    out = Path(out_dir)
    paths = LabPaths(
        out,
        out / "root.zone",
        out / "domains.csv",
        out / "expected.parquet",
        out / "cases.parquet",
        out / "lab.json",
    )
    plans = evolve(plan_lab(n_domains, seed), epoch, seed)
    sites = load_vendor_sites()
    reports = Reports(sites)
    published = [publish(plan, reports) for plan in plans]
    between = _names_between(published)
    records_at = {own.plan.name: own.dmarc for own in published if own.dmarc} | between
    existing = _with_descendants(published, between)
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_zone(paths.root_zone, published, between, sites, serial=epoch + 1)
        order = _rank_order(len(plans), seed)
        _write_domains(paths.domains_csv, plans, order, seed)
        rows = [
            expected_row(
                published[i],
                _org_of(published, i),
                expected_9989(
                    plans[i].name,
                    published[i].holds_records or plans[i].name in existing,
                    records_at,
                ),
            )
            for i in order
        ]
        pq.write_table(_columns(rows, EXPECTED_SCHEMA), paths.expected_parquet)
        pq.write_table(_cases_table([plans[i] for i in order], plans), paths.cases_parquet)
        paths.lab_json.write_text(_summary(plans, rows, n_domains, seed, epoch), encoding="utf-8")
    except OSError as exc:
        raise LabError(f"cannot write the lab into {out}: {exc}") from exc
    return paths


def _names_between(published: list[Published]) -> dict[str, tuple[DmarcText, ...]]:
    """The `_dmarc` records at names that are no lab domain: the PSD's, and those the sub
    cases put between a subdomain and its parent."""
    found: dict[str, tuple[DmarcText, ...]] = {PSD_NAME: (PSD_RECORD,)}
    for own in published:
        for name, texts in extra_records(own.plan):
            found.setdefault(name, texts)
    domains = {own.plan.name for own in published}
    if clash := sorted(domains & set(found)):
        raise LabError(f"a lab domain is also a name between: {clash[:3]}")
    return found


def _with_descendants(
    published: list[Published], between: dict[str, tuple[DmarcText, ...]]
) -> set[str]:
    """The names with a name below them in the zone: they exist (RFC 8020), even without a
    record of their own (an empty non-terminal, RFC 4592 §2.2)."""
    holders = [own.plan.name for own in published if own.plan.sub and own.holds_records]
    found: set[str] = set()
    for name in (*holders, *between):
        labels = name.split(".")
        found.update(".".join(labels[i:]) for i in range(1, len(labels)))
    return found


def _org_of(published: list[Published], index: int) -> Published | None:
    parent = published[index].plan.parent
    return None if parent is None else published[parent]


def _write_zone(
    path: Path,
    published: list[Published],
    between: dict[str, tuple[DmarcText, ...]],
    sites: tuple[VendorSite, ...],
    serial: int,
) -> None:
    with open(path, "w", encoding="ascii") as zone:
        zone.write(header_lines(serial))
        zone.writelines(
            txt_line(f"_dmarc.{name}", text.strings)
            for name, texts in between.items()
            for text in texts
        )
        hosts = sorted({host for site in sites for host in (site.rua_host, site.ruf_host)})
        # RFC 7489 §7.1: vendors accept reports for any domain, hence a wildcard.
        zone.writelines(txt_line(f"*._report._dmarc.{host}", ("v=DMARC1",)) for host in hosts)
        zone.writelines(dkim_shared_lines())
        zone.writelines(txt_line(name, (record.text,)) for name, record in PROVIDERS.items())
        authorizations: set[str] = set()
        chunk: list[str] = []
        for index, own in enumerate(published):
            chunk.extend(_domain_lines(own))
            _authorize(own.plan.name, own.dmarc, authorizations, chunk)
            org = _org_of(published, index)
            if org is not None:  # a fallback may ask with either name: authorize both
                _authorize(own.plan.name, org.dmarc, authorizations, chunk)
            if len(chunk) > 50_000:
                zone.writelines(chunk)
                chunk.clear()
        zone.writelines(chunk)


def _domain_lines(own: Published) -> list[str]:
    name, spf = own.plan.name, own.spf
    address = f"A 192.0.2.{1 + mix(own.plan.bits, 61) % 250}\n"
    lines = [txt_line(name, (text,)) for text in spf.texts]
    if own.has_a:
        lines.append(f"{name}. {address}")
    lines += [txt_line(below, (r.text,)) for below, records in spf.names for r in records]
    lines += [f"{host}. {address}" for host in spf.a]
    for owner, exchanges in spf.mx:
        lines += [f"{owner}. MX {10 * (k + 1)} {host}.\n" for k, host in enumerate(exchanges)]
        lines += [f"{host}. {address}" for host in exchanges]
    holder = f"_dmarc.{name}"
    if own.cname:
        lines.append(f"{holder}. CNAME {own.cname}.\n")
        holder = own.cname
    lines.extend(txt_line(holder, text.strings) for text in own.dmarc)
    if own.dkim is not None:
        lines.extend(own.dkim.lines(name))
    return lines


def _authorize(
    policy_domain: str, texts: tuple[DmarcText, ...], done: set[str], lines: list[str]
) -> None:
    """RFC 7489 §7.1 records of third parties that accept this domain's reports."""
    for text in texts:
        for uri in text.rua + text.ruf:
            owner = f"{policy_domain}._report._dmarc.{uri.host}"
            if uri.vendor == "other" and uri.authorized and owner not in done:
                done.add(owner)
                lines.append(txt_line(owner, ("v=DMARC1",)))


def _rank_order(count: int, seed: int) -> list[int]:
    order = list(range(count))
    random.Random(f"{seed}/ranks").shuffle(order)
    return order


def _write_domains(path: Path, plans: list[Plan], order: list[int], seed: int) -> None:
    """domain,messages,rank: messages heavy-tailed (Zipf-like in rank, log-normal noise)."""
    rng = random.Random(f"{seed}/messages")
    with open(path, "w", encoding="ascii", newline="") as handle:
        handle.write("domain,messages,rank\n")
        handle.writelines(
            f"{plans[i].name},{max(1, int(2e7 / rank**1.1 * rng.lognormvariate(0, 1)))},{rank}\n"
            for rank, i in enumerate(order, 1)
        )


def _columns(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.table(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


def _cases_table(ranked: list[Plan], plans: list[Plan]) -> pa.Table:
    """Which cases made each domain: for tests and for reading a golden-scan difference."""
    schema = pa.schema([(name, pa.string()) for name in CASE_COLUMNS])
    rows = [
        (
            p.name,
            p.dmarc,
            p.report,
            p.spf,
            p.sub,
            None if p.parent is None else plans[p.parent].name,
            p.dkim,
        )
        for p in ranked
    ]
    return _columns(rows, schema)


CASE_COLUMNS = (
    "domain",
    "dmarc_case",
    "report_case",
    "spf_case",
    "sub_case",
    "parent",
    "dkim_case",
)


def _summary(plans: list[Plan], rows: list[tuple], n: int, seed: int, epoch: int) -> str:
    status_at, type_at, rfc9989_at, dkim_at = (
        EXPECTED_SCHEMA.names.index(name)
        for name in ("dmarc_status", "type", "dmarc9989_status", "dkim_status")
    )
    summary = {
        "seed": seed,
        "epoch": epoch,
        "n_domains": n,
        "min_per_case": MIN_PER_CASE,
        "cases": {
            "dmarc": _count(p.dmarc for p in plans),
            "report": _count(p.report for p in plans if p.report),
            "spf": _count(p.spf for p in plans),
            "sub": _count(p.sub for p in plans if p.sub),
            "dkim": _count(p.dkim for p in plans),
        },
        "expected": {
            "dmarc_status": _count(row[status_at] for row in rows),
            "type": _count(row[type_at] for row in rows),
            "dmarc9989_status": _count(row[rfc9989_at] for row in rows),
            "dkim_status": _count(row[dkim_at] for row in rows),
        },
    }
    return json.dumps(summary, indent=2, sort_keys=True) + "\n"


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))
