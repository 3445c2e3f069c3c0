"""Plain mail-flow tables: what an operator's own receiving logs say, one row per flow.

CSV (UTF-8, a header line; gzip-compressed or not) or Parquet, with the columns
`header_from`, `dkim_domains` and `dkim_results` (`;`-separated, one result per domain, in the
same order), `spf_domain`, `spf_result` and `messages`; optional `adkim`, `aspf` (`r`/`s`,
default `r`) and `disposition`. Results use the report vocabulary (RFC 8601 §2.7.1, §2.7.2).
Each row becomes a `Record` as a report's would, so both go through the same classification.

Streamed: a table of millions of rows is never held whole here. A table without the required
columns is refused (`bad_table`); a bad row is refused alone (`bad_count`,
`missing_header_from`, `bad_row`) with its line number.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from survey.flows.aggregate import MAX_COUNT, DkimAuth, Record, Refusal, SpfAuth, closed_value
from survey.schema.flow_values import (
    Alignment,
    Disposition,
    DkimResult,
    FlowReject,
    FlowWarning,
    SpfResult,
)

REQUIRED = ("header_from", "dkim_domains", "dkim_results", "spf_domain", "spf_result", "messages")
OPTIONAL = ("adkim", "aspf", "disposition")
_BATCH = 65_536


@dataclass(frozen=True, slots=True)
class TableRow:
    """One flow of a table, as a record, with the alignment modes the row states."""

    record: Record
    adkim: Alignment | None = None
    aspf: Alignment | None = None


def read_table(path: Path) -> Iterator[TableRow | Refusal]:
    """The rows of a flow table. A `Refusal` without a record number refuses the whole table
    (the caller drops what it had read of it); one with a number refuses that row."""
    try:
        with path.open("rb") as handle:
            parquet = handle.read(4) == b"PAR1"
        if parquet:
            yield from _parquet_rows(path)
        else:
            yield from _csv_rows(path)
    except (OSError, EOFError, csv.Error, pa.ArrowException) as exc:
        yield Refusal(FlowReject.BAD_TABLE, f"{type(exc).__name__}: {exc}"[:200])


def _missing(names: Sequence[str] | None) -> Refusal | None:
    absent = [name for name in REQUIRED if name not in (names or ())]
    if absent:
        return Refusal(FlowReject.BAD_TABLE, "missing column(s) " + ", ".join(absent))
    return None


def _csv_rows(path: Path) -> Iterator[TableRow | Refusal]:
    raw = path.open("rb")
    gzipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    binary = gzip.GzipFile(fileobj=raw) if gzipped else raw
    with raw, io.TextIOWrapper(binary, "utf-8", errors="surrogateescape", newline="") as text:
        reader = csv.DictReader(text)
        refusal = _missing(reader.fieldnames)
        if refusal is not None:
            yield refusal
            return
        for row in reader:
            yield read_row(row, reader.line_num)


def _parquet_rows(path: Path) -> Iterator[TableRow | Refusal]:
    table = pq.ParquetFile(path)
    refusal = _missing(table.schema_arrow.names)
    if refusal is not None:
        yield refusal
        return
    wanted = [n for n in (*REQUIRED, *OPTIONAL) if n in table.schema_arrow.names]
    line = 0
    for batch in table.iter_batches(batch_size=_BATCH, columns=wanted):
        for row in batch.to_pylist():
            line += 1
            # A Parquet null is an empty cell, not a missing one.
            yield read_row({k: "" if v is None else str(v) for k, v in row.items()}, line)


def read_row(row: Mapping[str | None, str | None], line: int) -> TableRow | Refusal:
    """One table row (cells as text) as a record, or the reason it is refused."""
    if None in row or any(row.get(name) is None for name in REQUIRED):
        return Refusal(FlowReject.BAD_ROW, "wrong number of cells", line)
    cells = {name: (row.get(name) or "").strip() for name in (*REQUIRED, *OPTIONAL)}
    if any(_not_utf8(value) for value in cells.values()):
        return Refusal(FlowReject.BAD_ROW, "not UTF-8", line)
    messages = cells["messages"]
    if not messages.isdigit() or not messages.isascii() or int(messages) > MAX_COUNT:
        return Refusal(FlowReject.BAD_COUNT, repr(messages[:40]), line)
    if not cells["header_from"]:
        return Refusal(FlowReject.MISSING_HEADER_FROM, "empty header_from", line)
    domains, results = _split(cells["dkim_domains"]), _split(cells["dkim_results"])
    if len(domains) != len(results):
        detail = f"{len(domains)} DKIM domains, {len(results)} results"
        return Refusal(FlowReject.BAD_ROW, detail, line)
    warnings: list[FlowWarning] = []
    dkim = tuple(
        DkimAuth(domain, None, closed_value(result, DkimResult, warnings))
        for domain, result in zip(domains, results, strict=True)
    )
    disposition = closed_value(cells["disposition"], Disposition, warnings)
    spf = _spf(cells, warnings)
    adkim = closed_value(cells["adkim"], Alignment, warnings)
    aspf = closed_value(cells["aspf"], Alignment, warnings)
    record = Record(
        index=line,
        count=int(messages),
        header_from=cells["header_from"],
        disposition=disposition,
        dkim=dkim,
        spf=spf,
        warnings=tuple(dict.fromkeys(warnings)),
    )
    return TableRow(record, adkim, aspf)


def _spf(cells: dict[str, str], warnings: list[FlowWarning]) -> tuple[SpfAuth, ...]:
    if not cells["spf_result"]:
        return ()
    result = closed_value(cells["spf_result"], SpfResult, warnings)
    return (SpfAuth(cells["spf_domain"], None, result),)


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _not_utf8(text: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in text)
