"""The records of a domain list, one format at a time, and the checks of one record.

`rows(layout)` yields every record of the file in file order: a `Row` of its raw cells, or a
`Reject` when the record cannot even be read (too long, not UTF-8, an unclosed quote: see
`survey.input.lines`). Text files are read a line at a time, CSV and Tranco files through the
`csv` module, Parquet files in record batches. `parse_row` then normalises and validates the
name and checks the rank (an integer ≥ 1) and the weight (an integer ≥ 0); empty cells are None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow.parquet as pq

from survey.input.formats import Column, Fields, InputFormat, Layout, open_binary
from survey.input.lines import CsvRecords, physical_lines, too_long
from survey.input.names import normalise, validate
from survey.input.rejects import Reject

PARQUET_BATCH = 65_536

_INTEGER = re.compile(r"\s*\+?(\d+)(?:\.0*)?\s*\Z")


@dataclass(frozen=True, slots=True)
class InputDomain:
    """One de-duplicated input name (A-labels, lower case, no trailing dot)."""

    domain: str
    rank: int | None
    weight: int | None


@dataclass(frozen=True, slots=True)
class Row:
    """One record as read, before any check: cells are str (text, CSV) or Python values."""

    line: int
    text: str
    domain: object
    weight: object
    rank: object


# --- checks ----------------------------------------------------------------------------------


def _number(cell: object, minimum: int) -> int | None:
    """An integer cell; None when empty. Raises ValueError for anything else or below minimum."""
    if cell is None or cell == "" or (isinstance(cell, float) and math.isnan(cell)):
        return None
    if isinstance(cell, bool):
        raise ValueError(cell)
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    if isinstance(cell, int):
        value = cell
    elif match := _INTEGER.match(str(cell)):
        value = int(match.group(1))
    else:
        raise ValueError(cell)
    if value < minimum:
        raise ValueError(cell)
    return value


def parse_row(row: Row) -> InputDomain | Reject:
    """Normalise and check one record's name, rank and weight."""
    domain = "" if row.domain is None else normalise(str(row.domain))
    if reason := validate(domain):
        return Reject(row.line, row.text, reason)
    try:
        rank = _number(row.rank, 1)
    except ValueError:
        return Reject(row.line, row.text, "bad_rank")
    try:
        weight = _number(row.weight, 0)
    except ValueError:
        return Reject(row.line, row.text, "bad_weight")
    return InputDomain(domain, rank, weight)


# --- text, CSV, Tranco -----------------------------------------------------------------------


def _text_rows(stream: BinaryIO) -> Iterator[Row | Reject]:
    """One name a line; blank lines and `#` comments (whole-line or trailing) skipped."""
    for line in physical_lines(stream):
        number, raw, cut = line
        if cut:
            yield too_long(line)
            continue
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="backslashreplace").strip()
            yield Reject(number, text, "invalid_encoding")
            continue
        if content := text.split("#", 1)[0].strip():
            yield Row(number, text.strip(), content, None, None)


def _cell(cells: list[str], index: Column) -> str | None:
    return cells[index].strip() if isinstance(index, int) and index < len(cells) else None


def _csv_rows(stream: BinaryIO, layout: Layout) -> Iterator[Row | Reject]:
    """The records of a CSV (the header, if any, skipped) with the layout's cells."""
    header_pending = layout.header
    domain, weight, rank = layout.fields
    for record in CsvRecords(stream):
        if isinstance(record, Reject):
            yield record
        elif header_pending:
            header_pending = False
        else:
            number, text, cells = record
            yield Row(number, text, _cell(cells, domain), _cell(cells, weight), _cell(cells, rank))


# --- Parquet ---------------------------------------------------------------------------------


def _parquet_rows(layout: Layout) -> Iterator[Row]:
    names = list(dict.fromkeys(field for field in layout.fields if isinstance(field, str)))
    number = 0
    with pq.ParquetFile(layout.source) as parquet:
        for batch in parquet.iter_batches(PARQUET_BATCH, columns=names):
            columns = {name: batch.column(name).to_pylist() for name in names}
            for index in range(batch.num_rows):
                number += 1
                yield _parquet_row(number, layout.fields, columns, index)


def _parquet_row(number: int, fields: Fields, columns: dict[str, list[object]], index: int) -> Row:
    """Row `index` of a batch; `text` shows the used cells comma-separated, for rejects."""
    cells = [columns[f][index] if isinstance(f, str) else None for f in fields]
    shown = (cell for field, cell in zip(fields, cells, strict=True) if field is not None)
    text = ",".join("" if cell is None else str(cell) for cell in shown)
    return Row(number, text, *cells)


def rows(layout: Layout) -> Iterator[Row | Reject]:
    """Every record of the file, in file order."""
    if layout.format is InputFormat.PARQUET:
        yield from _parquet_rows(layout)
        return
    with open_binary(layout.source, layout.gzipped) as stream:
        if layout.format is InputFormat.TEXT:
            yield from _text_rows(stream)
        else:
            yield from _csv_rows(stream, layout)
