"""Flow rows: a report record (or a table row) with its document's context, classified, as the
columns of `survey.schema.flow_columns`. Built column by column, one document at a time; a
document refused half-way (a table that breaks) is rolled back to where it started."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from survey.flows.aggregate import Metadata, Published, Record, mail_from_result
from survey.flows.classify import FlowVerdict, Signature, classify
from survey.flows.signers import SignerTable
from survey.schema.flow_columns import FLOW_ARROW_SCHEMA, FLOW_NAMES
from survey.schema.flow_values import Alignment, DkimClass, FlowFormat, FlowWarning
from survey.verdict.psl import normalise, organizational_domain

_MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Context:
    """What every row of one document shares."""

    file: str
    member: str | None
    format: FlowFormat
    metadata: Metadata = field(default_factory=Metadata)
    published: Published = field(default_factory=Published)
    warnings: tuple[FlowWarning, ...] = ()


def domain(name: str | None) -> str | None:
    """A domain as the survey stores it: `survey.verdict.psl`'s normal form (lower case,
    A-labels, no trailing dot), the form organizational domains are computed in."""
    return None if name is None else normalise(name)


class RowBuilder:
    """Columns of flow rows, appended record by record."""

    def __init__(self, signers: SignerTable) -> None:
        self.signers = signers
        self.columns: dict[str, list[Any]] = {name: [] for name in FLOW_NAMES}

    def __len__(self) -> int:
        return len(self.columns["messages"])

    def rollback(self, length: int) -> None:
        """Forget the rows appended after the first `length`."""
        for values in self.columns.values():
            del values[length:]

    def add(
        self,
        context: Context,
        record: Record,
        adkim: Alignment | None = None,
        aspf: Alignment | None = None,
    ) -> None:
        """Append one classified row; alignment modes default to the report's policy."""
        row = _source(context) | _record(record) | self._auth(context, record, adkim, aspf)
        for name, values in self.columns.items():
            values.append(row[name])

    def table(self) -> pa.Table:
        arrays = [pa.array(self.columns[f.name], type=f.type) for f in FLOW_ARROW_SCHEMA]
        return pa.Table.from_arrays(arrays, schema=FLOW_ARROW_SCHEMA)

    def _auth(
        self,
        context: Context,
        record: Record,
        adkim: Alignment | None,
        aspf: Alignment | None,
    ) -> dict[str, Any]:
        header_from = domain(record.header_from) or ""
        header_org = organizational_domain(header_from)
        dkim_domains = [domain(d.domain) or "" for d in record.dkim]
        spf, helo_only = mail_from_result(record.spf)
        spf_domain = None if spf is None else domain(spf.domain)
        verdict = classify(
            header_from,
            [Signature(d, s.result) for d, s in zip(dkim_domains, record.dkim, strict=True)],
            (spf_domain, None if spf is None else spf.result),
            adkim or context.published.adkim,
            aspf or context.published.aspf,
        )
        warnings = [*context.warnings, *record.warnings]
        if helo_only:
            warnings.append(FlowWarning.SPF_HELO_ONLY)
        return {
            "header_from": header_from,
            "header_from_org": header_org,
            "envelope_from": domain(record.envelope_from),
            "envelope_to": domain(record.envelope_to),
            "dkim_domains": dkim_domains,
            "dkim_selectors": [d.selector for d in record.dkim],
            "dkim_results": [d.result for d in record.dkim],
            "spf_domain": spf_domain,
            "spf_scope": None if spf is None else spf.scope,
            "spf_result": None if spf is None else spf.result,
            "warnings": list(dict.fromkeys(warnings)),
        } | self._classes(verdict, header_org)

    def _classes(self, verdict: FlowVerdict, header_org: str) -> dict[str, Any]:
        signer = verdict.signer
        service = None
        if signer is not None and verdict.dkim in (DkimClass.SELF, DkimClass.THIRD_PARTY):
            service = self.signers.service_of(signer, header_org)
        return {
            "dkim": verdict.dkim,
            "dkim_signer": signer,
            "dkim_signer_org": None if signer is None else organizational_domain(signer),
            "dkim_service": service,
            "spf": verdict.spf,
            "dmarc": verdict.dmarc,
        }


def _source(context: Context) -> dict[str, Any]:
    metadata, published = context.metadata, context.published
    return {
        "input_file": context.file,
        "input_member": context.member,
        "format": context.format,
        "report_org": metadata.org_name,
        "report_id": metadata.report_id,
        "report_begin": None if metadata.begin is None else metadata.begin * _MICROS,
        "report_end": None if metadata.end is None else metadata.end * _MICROS,
        "policy_domain": domain(published.domain),
        "policy_p": published.p,
        "policy_sp": published.sp,
        "policy_np": published.np,
        "policy_adkim": published.adkim,
        "policy_aspf": published.aspf,
        "policy_pct": published.pct,
        "policy_fo": published.fo,
        "policy_testing": published.testing,
        "discovery_method": published.discovery_method,
    }


def _record(record: Record) -> dict[str, Any]:
    return {
        "record": record.index,
        "source_ip": record.source_ip,
        "messages": record.count,
        "disposition": record.disposition,
        "reported_dkim": record.reported_dkim,
        "reported_spf": record.reported_spf,
        "override_reasons": list(record.reasons),
    }
