"""One group of input files read into flow rows, rejects and their accounting.

Every document (a file, or a zip member) ends as parsed or rejected; every record as a row or a
rejected record: `documents = parsed + rejected`, `records = rows + records_rejected`. A report
seen before (same organization, report ID, policy domain and period) is a `duplicate_report`:
mail systems re-send reports under the same file name (RFC 9990, transport by email), and
operators' folders hold copies; counting one twice would double its messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from survey.flows.aggregate import Refusal, Report, parse_report
from survey.flows.archive import Document, Kind, Limits, Refused, open_documents
from survey.flows.rows import Context, RowBuilder
from survey.flows.signers import SignerTable
from survey.flows.tables import read_table
from survey.schema.flow_columns import REJECT_ARROW_SCHEMA
from survey.schema.flow_values import FlowFormat, FlowReject

ReportKey = tuple[str | None, str, str | None, int | None, int | None]
COUNTS = (
    "files",
    "documents",
    "parsed",
    "rejected",
    "records",
    "rows",
    "records_rejected",
    "messages",
)


def report_key(report: Report) -> ReportKey | None:
    """What identifies a report (None: it has no report_id, so it cannot be matched)."""
    meta = report.metadata
    if meta.report_id is None:
        return None
    return (meta.org_name, meta.report_id, report.published.domain, meta.begin, meta.end)


@dataclass(slots=True)
class GroupReader:
    """Reads input files into rows and rejects; `seen` carries report keys across groups."""

    signers: SignerTable
    limits: Limits
    seen: set[ReportKey] = field(default_factory=set)

    def read(self, files: Iterable[Path]) -> GroupResult:
        result = GroupResult(RowBuilder(self.signers))
        for path in files:
            result.counts["files"] += 1
            for opened in open_documents(path, self.limits):
                result.counts["documents"] += 1
                self._document(opened, result)
        return result

    def _document(self, opened: Document | Refused, result: GroupResult) -> None:
        if isinstance(opened, Refused):
            result.refuse(opened.file, opened.member, Refusal(opened.reason, opened.detail))
        elif opened.kind == Kind.TABLE:
            self._table(opened, result)
        else:
            self._report(opened, result)

    def _report(self, document: Document, result: GroupResult) -> None:
        report = parse_report(document.data)
        if isinstance(report, Refusal):
            result.refuse(document.file, document.member, report)
            return
        key = report_key(report)
        if key is not None and key in self.seen:
            duplicate = Refusal(FlowReject.DUPLICATE_REPORT, f"report_id {key[1]!r} of {key[0]!r}")
            result.refuse(document.file, document.member, duplicate)
            return
        if key is not None:
            self.seen.add(key)
        context = Context(
            document.file,
            document.member,
            report.format,
            report.metadata,
            report.published,
            report.warnings,
        )
        for record in report.records:
            result.rows.add(context, record)
        for refusal in report.refused:
            result.refuse(document.file, document.member, refusal)
        result.parsed(len(report.records), sum(r.count for r in report.records))

    def _table(self, document: Document, result: GroupResult) -> None:
        assert document.path is not None  # a table document always names its file
        context = Context(document.file, None, FlowFormat.FLOW_TABLE)
        start, refused, rows, messages = len(result.rows), [], 0, 0
        for item in read_table(document.path):
            if isinstance(item, Refusal) and item.record is None:
                result.rows.rollback(start)
                result.refuse(document.file, None, item)
                return
            if isinstance(item, Refusal):
                refused.append(item)
                continue
            result.rows.add(context, item.record, item.adkim, item.aspf)
            rows, messages = rows + 1, messages + item.record.count
        for refusal in refused:
            result.refuse(document.file, None, refusal)
        result.parsed(rows, messages)


@dataclass(slots=True)
class GroupResult:
    """The rows, rejects and counts of one group."""

    rows: RowBuilder
    rejects: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    def refuse(self, file: str, member: str | None, refusal: Refusal) -> None:
        """A refused document, or a refused record (`refusal.record` set)."""
        if refusal.record is None:
            self.counts["rejected"] += 1
        else:
            self.counts["records"] += 1
            self.counts["records_rejected"] += 1
        self.rejects.append(
            {
                "input_file": file,
                "input_member": member,
                "record": refusal.record,
                "reason": str(refusal.reason),
                "detail": refusal.detail,
            }
        )

    def parsed(self, rows: int, messages: int) -> None:
        self.counts["parsed"] += 1
        self.counts["records"] += rows
        self.counts["rows"] += rows
        self.counts["messages"] += messages

    def rejects_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rejects, schema=REJECT_ARROW_SCHEMA)
