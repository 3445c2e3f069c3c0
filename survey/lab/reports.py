"""The lab's mail flows: DMARC aggregate reports (and flow tables) for a generated lab, with
the truth about every record, written by the generator itself.

For the lab's domains that ask for aggregate reports (a `rua` in `expected.parquet`), the
messages of `domains.csv` are split into flows of known cases — signed by the domain itself,
by an email service (the suffixes of `data/signers.csv`), by an unknown third party, broken by
a forwarder, unsigned — and each flow is reported by one of several receivers, in RFC 7489 or
RFC 9990 form, as `.xml`, `.xml.gz`, a one-member `.zip` or a bundle zip of several members.
Domains without `rua` appear in a flow table (CSV and Parquet) instead, as an operator's own
logs would show them. Hostile and broken files sit beside them (`zz-hostile/`).

Every case states its expected classes (`expected_flows.parquet`) and every refused document
or record its reason (`expected_rejects.csv`), from the case definitions: nothing here runs the
survey's parser or classifier.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.parquet as pq

from survey.errors import LabError
from survey.lab import hostile
from survey.lab.flowcases import (
    CASES,
    TABLE_CASES,
    Domain,
    Flow,
    Services,
    disposition,
    flows_of,
    lab_domain,
    load_services,
)

BEGIN = 1_764_547_200  # 2025-12-01T00:00:00Z: every report covers that UTC day
DAY = 86_400
NAMESPACE_2 = "urn:ietf:params:xml:ns:dmarc-2.0"


@dataclass(frozen=True, slots=True)
class Reporter:
    """A receiver that sends reports: its name, the RFC it follows and how it packs them."""

    org: str
    rfc: str  # "rfc7489" or "rfc9990"
    packing: str  # "xml", "gz", "zip" (one member) or "bundle" (members of a shared zip)


REPORTERS = (
    Reporter("google.com", "rfc7489", "zip"),
    Reporter("yahoo.com", "rfc7489", "gz"),
    Reporter("outlook.com", "rfc7489", "xml"),
    Reporter("receiver.example", "rfc9990", "gz"),
    Reporter("mx.example.jp", "rfc9990", "bundle"),
)


# --- the XML ---------------------------------------------------------------------------------


def report_xml(reporter: Reporter, domain: Domain, flows: list[Flow], extra: str = "") -> bytes:
    """One aggregate report of `reporter` on `domain`, in its RFC's form."""
    rfc9990 = reporter.rfc == "rfc9990"
    root = f'<feedback xmlns="{NAMESPACE_2}">' if rfc9990 else _rfc7489_root(reporter)
    records = "".join(_record(reporter, domain, flow) for flow in flows)
    text = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{root}\n'
        f"{'' if reporter.org == 'yahoo.com' else '  <version>1.0</version>'}\n"
        f"{_metadata(reporter, domain)}{_policy(reporter, domain)}{records}{extra}</feedback>\n"
    )
    return text.encode()


def _rfc7489_root(reporter: Reporter) -> str:
    if reporter.org == "outlook.com":  # as Outlook.com sends it, xsi and xsd declared
        return ('<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">')  # fmt: skip
    return "<feedback>"


def report_id(reporter: Reporter, domain: Domain) -> str:
    return f"{reporter.org}-{domain.bits:08x}"


def _metadata(reporter: Reporter, domain: Domain) -> str:
    generator = "<generator>survey lab</generator>" if reporter.rfc == "rfc9990" else ""
    return (
        f"  <report_metadata><org_name>{reporter.org}</org_name>"
        f"<email>noreply-dmarc@{reporter.org}</email><report_id>{report_id(reporter, domain)}"
        f"</report_id><date_range><begin>{BEGIN}</begin><end>{BEGIN + DAY - 1}</end>"
        f"</date_range>{generator}</report_metadata>\n"
    )


def _policy(reporter: Reporter, domain: Domain) -> str:
    adkim = "s" if domain.strict else "r"
    if reporter.rfc == "rfc9990":
        tail = f"<np>{domain.policy}</np><adkim>{adkim}</adkim><testing>n</testing>" \
            "<discovery_method>treewalk</discovery_method>"  # fmt: skip
    else:
        tail = f"<adkim>{adkim}</adkim><aspf>r</aspf><pct>100</pct><fo>0</fo>"
    return (
        f"  <policy_published><domain>{escape(domain.name)}</domain><p>{domain.policy}</p>"
        f"<sp>{domain.policy}</sp>{tail}</policy_published>\n"
    )


def _record(reporter: Reporter, domain: Domain, flow: Flow, count: str | None = None) -> str:
    rfc9990 = reporter.rfc == "rfc9990"
    evaluated = (
        f"<disposition>{disposition(flow, domain, reporter.rfc)}</disposition>"
        f"<dkim>{'pass' if flow.expect_dkim == 'self' else 'fail'}</dkim>"
        f"<spf>{'pass' if flow.expect_spf == 'aligned' else 'fail'}</spf>"
        + "".join(f"<reason><type>{r}</type></reason>" for r in flow.reasons)
    )
    dkim = "".join(
        f"<dkim><domain>{d}</domain>{_element('selector', s)}<result>{r}</result></dkim>"
        for d, s, r in flow.dkim
    )
    # RFC 9990 reporters leave out the optional scope (only mfrom exists there).
    spf = "".join(
        f"<spf><domain>{d}</domain>{_element('scope', None if rfc9990 else scope)}"
        f"<result>{r}</result></spf>"
        for d, scope, r in flow.spf
    )
    return (
        f"  <record><row><source_ip>198.51.100.7</source_ip><count>{count or flow.messages}"
        f"</count><policy_evaluated>{evaluated}</policy_evaluated></row><identifiers>"
        f"<header_from>{escape(flow.header_from)}</header_from></identifiers>"
        f"<auth_results>{dkim}{spf}</auth_results></record>\n"
    )


def _element(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{escape(value)}</{name}>"


# --- the files ---------------------------------------------------------------------------------

EXPECTED_COLUMNS = (
    "input_file", "input_member", "record", "format", "header_from", "messages", "disposition",
    "dkim", "dkim_service", "spf", "dmarc", "dkim_signer", "dkim_signer_org",
)  # fmt: skip
REJECT_COLUMNS = ("input_file", "input_member", "record", "reason")
HOSTILE = "zz-hostile"  # sorts after the reports, so their copies are the duplicates
FIXTURE = "hostile-fixture.example"  # the domain of the reports hidden among hostile files


@dataclass(frozen=True, slots=True)
class FlowLabPaths:
    """What `write_flow_lab` wrote: the input folder and the truth about it."""

    reports: Path
    expected_flows: Path
    expected_rejects: Path
    summary: Path


@dataclass(slots=True)
class _Truth:
    """The expected rows and rejects, as the files are written."""

    rows: list[tuple[object, ...]] = field(default_factory=list)
    rejects: list[tuple[object, ...]] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    documents: int = 0

    def report(
        self, file: str, member: str | None, reporter: Reporter, domain: Domain, flows: list[Flow]
    ) -> None:
        self.files.add(file)
        self.documents += 1
        for index, flow in enumerate(flows, 1):
            self.row(
                file, member, index, reporter.rfc, flow, disposition(flow, domain, reporter.rfc)
            )

    def row(
        self, file: str, member: str | None, index: int, fmt: str, flow: Flow, action: str | None
    ) -> None:
        self.files.add(file)
        self.rows.append(
            (file, member, index, fmt, flow.header_from, flow.messages, action, flow.expect_dkim,
             flow.expect_service, flow.expect_spf, "pass" if flow.passes else "fail",
             flow.expect_signer, flow.expect_signer_org)
        )  # fmt: skip

    def reject(self, file: str, member: str | None, record: int | None, reason: str) -> None:
        self.files.add(file)
        self.documents += record is None
        self.rejects.append((file, member, record, reason))


def _lab_domains(lab: Path, count: int) -> tuple[list[Domain], list[Domain]]:
    """The first `count` domains (by rank) that ask for reports, and as many that do not."""
    with (lab / "domains.csv").open(encoding="ascii") as lines:
        messages = {row["domain"]: int(row["messages"]) for row in csv.DictReader(lines)}
    expected = pq.read_table(
        lab / "expected.parquet",
        columns=["domain", "org_domain", "dmarc_effective_p", "rua_vendors"],
    )
    reported: list[Domain] = []
    unreported: list[Domain] = []
    for row in expected.to_pylist():
        policy = row["dmarc_effective_p"] or "none"
        domain = lab_domain(row["domain"], messages[row["domain"]], policy, row["org_domain"])
        wanted = reported if row["rua_vendors"] and row["dmarc_effective_p"] else unreported
        if len(wanted) < count:
            wanted.append(domain)
    return reported, unreported


def write_flow_lab(
    lab: Path | str, count: int = 150, out: Path | str | None = None
) -> FlowLabPaths:
    """Write reports for `count` reporting domains of the lab in `lab` (and a flow table of
    as many others, and the hostile files) into `out` (default `<lab>/reports`), with the
    expected flow rows, rejects and totals beside it."""
    lab = Path(lab)
    folder = Path(out) if out is not None else lab / "reports"
    paths = FlowLabPaths(folder, lab / "expected_flows.parquet", lab / "expected_rejects.csv",
                         lab / "flows.json")  # fmt: skip
    try:
        reported, unreported = _lab_domains(lab, count)
        (folder / HOSTILE).mkdir(parents=True, exist_ok=True)
        truth = _Truth()
        services = load_services()
        first = _write_reports(folder, reported, services, truth)
        _write_tables(folder, unreported, services, truth)
        _write_hostile(folder, first, services, truth)
        _write_truth(paths, truth)
    except (OSError, KeyError, pa.ArrowException) as exc:
        raise LabError(f"cannot write the flow lab into {folder}: {exc}") from exc
    return paths


def _assign(domain: Domain, flows: list[Flow]) -> dict[Reporter, list[Flow]]:
    """Each flow to one receiver (HELO-only results only to RFC 7489 ones, whose schema has
    the scope `helo`)."""
    rng = random.Random(domain.bits ^ 0x5EED)
    by: dict[Reporter, list[Flow]] = {}
    for flow in flows:
        pool = [r for r in REPORTERS if flow.case != "helo_only" or r.rfc == "rfc7489"]
        by.setdefault(rng.choice(pool), []).append(flow)
    return by


def _name(reporter: Reporter, domain: Domain) -> str:
    """The attachment name of RFC 9990 (transport by email): receiver!policy-domain!begin!end."""
    return f"{reporter.org}!{domain.name}!{BEGIN}!{BEGIN + DAY - 1}"


def _write_reports(
    folder: Path, domains: list[Domain], services: Services, truth: _Truth
) -> dict[str, str]:
    """Every report; returns the file of the first report of each packing (to copy)."""
    bundle: list[tuple[str, bytes, Reporter, Domain, list[Flow]]] = []
    first: dict[str, str] = {}
    for domain in domains:
        for reporter, flows in _assign(domain, flows_of(domain, CASES, services)).items():
            xml, stem = report_xml(reporter, domain, flows), _name(reporter, domain)
            if reporter.packing == "bundle":
                bundle.append((stem, xml, reporter, domain, flows))
                continue
            file = _write_packed(folder, stem, xml, reporter.packing)
            member = f"{stem}.xml" if reporter.packing == "zip" else None
            truth.report(file, member, reporter, domain, flows)
            first.setdefault(reporter.packing, file)
    _write_bundles(folder, bundle, truth)
    return first


def _write_packed(folder: Path, stem: str, xml: bytes, packing: str) -> str:
    if packing == "gz":
        name, data = f"{stem}.xml.gz", gzip.compress(xml, mtime=0)
    elif packing == "zip":
        name, data = f"{stem}.zip", _zip([(f"{stem}.xml", xml)])
    else:
        name, data = f"{stem}.xml", xml
    (folder / name).write_bytes(data)
    return name


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(
                zipfile.ZipInfo(name, (2025, 12, 2, 0, 0, 0)), data, zipfile.ZIP_DEFLATED
            )
    return sink.getvalue()


def _write_bundles(
    folder: Path, bundle: list[tuple[str, bytes, Reporter, Domain, list[Flow]]], truth: _Truth
) -> None:
    """Reports of one receiver zipped together, 20 a zip; every 5th member gzipped inside."""
    for start in range(0, len(bundle), 20):
        file = f"bundle-{start // 20:03d}.zip"
        members = []
        for offset, (stem, xml, reporter, domain, flows) in enumerate(bundle[start : start + 20]):
            gz = offset % 5 == 4
            name = f"{stem}.xml.gz" if gz else f"{stem}.xml"
            members.append((name, gzip.compress(xml, mtime=0) if gz else xml))
            truth.report(file, name, reporter, domain, flows)
        (folder / file).write_bytes(_zip(members))


# --- tables ------------------------------------------------------------------------------------

TABLE_HEADER = ("header_from", "dkim_domains", "dkim_results", "spf_domain", "spf_result",
                "messages", "adkim")  # fmt: skip


def _table_cells(domain: Domain, flow: Flow) -> list[object]:
    mfrom = [(d, r) for d, scope, r in flow.spf if scope != "helo"][:1]
    return [
        flow.header_from,
        ";".join(d for d, _, _ in flow.dkim),
        ";".join(r for _, _, r in flow.dkim),
        mfrom[0][0] if mfrom else "",
        mfrom[0][1] if mfrom else "",
        flow.messages,
        "s" if domain.strict else "r",
    ]


def _write_tables(folder: Path, domains: list[Domain], services: Services, truth: _Truth) -> None:
    """flows.csv (most domains, two bad rows) and flows.parquet (the rest)."""
    half = len(domains) * 3 // 4
    lines: list[list[object]] = [list(TABLE_HEADER)]
    for domain in domains[:half]:
        for flow in flows_of(domain, TABLE_CASES, services):
            lines.append(_table_cells(domain, flow))
            truth.row("flows.csv", None, len(lines), "flow_table", flow, None)
    lines.append(["bad-count.example", "", "", "", "", "many", "r"])
    truth.reject("flows.csv", None, len(lines), "bad_count")
    lines.append(["bad-row.example", "a.example;b.example", "pass", "", "", "3", "r"])
    truth.reject("flows.csv", None, len(lines), "bad_row")
    with (folder / "flows.csv").open("w", encoding="ascii", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(lines)
    truth.documents += 1
    rows = []
    for domain in domains[half:]:
        for flow in flows_of(domain, TABLE_CASES, services):
            rows.append(_table_cells(domain, flow))
            truth.row("flows.parquet", None, len(rows), "flow_table", flow, None)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(TABLE_HEADER)
    types = [pa.int64() if name == "messages" else pa.string() for name in TABLE_HEADER]
    table = pa.table(
        [pa.array(c, t) for c, t in zip(columns, types, strict=True)], names=list(TABLE_HEADER)
    )
    pq.write_table(table, folder / "flows.parquet")
    truth.documents += 1


# --- hostile files and the truth ---------------------------------------------------------------


def _write_hostile(
    folder: Path,
    first: dict[str, str],
    services: Services,
    truth: _Truth,
) -> None:
    """Each hostile or broken file, the reject it must end in, and what must survive it."""
    refused = {
        "billion_laughs.xml": (hostile.billion_laughs(), "xml_forbidden"),
        "external_entity.xml": (hostile.external_entity(), "xml_forbidden"),
        "gzip_bomb.xml.gz": (hostile.gzip_bomb(), "too_large"),
        "not_a_report.xml": (hostile.not_a_report(), "not_aggregate_report"),
        "report.pdf": (hostile.not_xml(), "unknown_format"),
        "truncated.xml.gz": (
            hostile.truncated_gzip(_fixture("c", services)[0]),
            "compression_error",
        ),
    }
    for name, (data, reason) in refused.items():
        (folder / HOSTILE / name).write_bytes(data)
        truth.reject(f"{HOSTILE}/{name}", None, None, reason)
    (folder / HOSTILE / "zip_bomb.zip").write_bytes(hostile.zip_bomb())
    truth.reject(f"{HOSTILE}/zip_bomb.zip", "bomb.xml", None, "too_large")
    _corrupt_member(folder, services, truth)
    _bad_counts(folder, services, truth)
    for packing in ("xml", "gz"):  # a report sent twice: the copy sorts after the original
        file = first[packing]
        copy = f"{HOSTILE}/copy-of-{file}"
        (folder / copy).write_bytes((folder / file).read_bytes())
        truth.reject(copy, None, None, "duplicate_report")


def _fixture(
    org: str, services: Services, bad: int = 0
) -> tuple[bytes, Reporter, Domain, list[Flow]]:
    """A report of FIXTURE by the receiver `fixture-<org>.example`, with `bad` bad counts."""
    reporter = Reporter(f"fixture-{org}.example", "rfc7489", "xml")
    domain = lab_domain(FIXTURE, 5_000, "reject")
    flows = flows_of(domain, CASES[:4], services)
    extra = "".join(_record(reporter, domain, flows[0], count) for count in ("-3", "12abc")[:bad])
    return report_xml(reporter, domain, flows, extra), reporter, domain, flows


def _corrupt_member(folder: Path, services: Services, truth: _Truth) -> None:
    """A zip whose first member is a good report and whose second is corrupt: one is read."""
    xml, reporter, domain, flows = _fixture("a", services)
    file = f"{HOSTILE}/corrupt_member.zip"
    (folder / file).write_bytes(hostile.corrupt_member_zip(("ok.xml", xml), ("broken.xml", xml)))
    truth.report(file, "ok.xml", reporter, domain, flows)
    truth.reject(file, "broken.xml", None, "compression_error")


def _bad_counts(folder: Path, services: Services, truth: _Truth) -> None:
    """A report whose last two records have a negative and a non-numeric count."""
    xml, reporter, domain, flows = _fixture("b", services, bad=2)
    file = f"{HOSTILE}/bad_count.xml"
    (folder / file).write_bytes(xml)
    truth.report(file, None, reporter, domain, flows)
    for offset in (1, 2):
        truth.reject(file, None, len(flows) + offset, "bad_count")


def _write_truth(paths: FlowLabPaths, truth: _Truth) -> None:
    columns = list(zip(*truth.rows, strict=True))
    types = {"record": pa.int64(), "messages": pa.int64()}
    table = pa.table(
        [
            pa.array(c, types.get(n, pa.string()))
            for n, c in zip(EXPECTED_COLUMNS, columns, strict=True)
        ],
        names=list(EXPECTED_COLUMNS),
    )
    pq.write_table(table, paths.expected_flows)
    with paths.expected_rejects.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REJECT_COLUMNS)
        writer.writerows(["" if v is None else v for v in row] for row in truth.rejects)
    record_rejects = sum(1 for row in truth.rejects if row[2] is not None)
    summary = {
        "files": len(truth.files),
        "documents": truth.documents,
        "rejected": len(truth.rejects) - record_rejects,
        "rows": len(truth.rows),
        "records_rejected": record_rejects,
        "messages": sum(int(row[5]) for row in truth.rows),  # type: ignore[call-overload]
        "rejects": dict(sorted(Counter(row[3] for row in truth.rejects).items())),
    }
    paths.summary.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
