"""The records of a domain list, one format at a time, and the checks of one record.

`rows(layout)` yields every record of a text, CSV or Tranco file, or of a Parquet file,
as a `Row` of raw cells, or as a `Reject` when the record cannot even be read: a line that is
not UTF-8 is rejected alone (`invalid_encoding`), a line over `MAX_LINE_BYTES` too
(`line_too_long`, only its first 256 characters are kept as text, and the rest of the line is
skipped unread). CSV cells are split per line (quoted cells are honoured, a quoted newline
inside a cell is not supported). `parse_row` then normalises and validates the name and checks
the rank and the weight.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow.parquet as pq

from survey.input.formats import Fields, InputFormat, Layout, open_binary, split_csv
from survey.input.names import normalise, validate
from survey.input.rejects import MAX_LINE_BYTES, Reject

REJECT_TEXT_CHARS = 256
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


def _physical_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes, bool]]:
    """(1-based number, bytes, too_long); a too-long line is cut and its rest skipped, so a
    single huge line never has to fit in memory."""
    number = 0
    while line := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield number, line, False
            continue
        rest = line
        while rest and not rest.endswith(b"\n"):
            rest = stream.readline(MAX_LINE_BYTES)
        yield number, line, True


def _cell(cells: list[str], index: int | str | None) -> str | None:
    return cells[index] if isinstance(index, int) and index < len(cells) else None


def _text_row(number: int, text: str, layout: Layout) -> Row | None:
    """The record of one decoded line, None for a blank or comment line."""
    if layout.format is InputFormat.TEXT:
        content = text.split("#", 1)[0].strip()
        return Row(number, text.strip(), content, None, None) if content else None
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    cells = split_csv(stripped)
    domain, weight, rank = (_cell(cells, index) for index in layout.fields)
    return Row(number, stripped, domain, weight, rank)


def _text_rows(stream: BinaryIO, layout: Layout) -> Iterator[Row | Reject]:
    header_pending = layout.header
    for number, raw, too_long in _physical_lines(stream):
        if too_long:
            text = raw[:REJECT_TEXT_CHARS].decode("utf-8", errors="backslashreplace")
            yield Reject(number, text, "line_too_long")
            continue
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="backslashreplace").strip()
            yield Reject(number, text, "invalid_encoding")
            continue
        row = _text_row(number, text, layout)
        if row is not None and header_pending:
            header_pending = False
        elif row is not None:
            yield row


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
        yield from _text_rows(stream, layout)
