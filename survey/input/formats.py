"""Which format a domain list is in, decided from its content: its `Layout`.

- plain text: one name per line; blank lines and `#` comments (whole-line or trailing) skipped;
- CSV with a header holding a `domain` column, optionally `weight` (else `messages`) and `rank`;
- headerless Tranco-style `rank,domain` CSV (first cell digits, second cell a name);
- Parquet (magic `PAR1`) with a `domain` column, optionally `weight`/`messages`/`rank`. A
  gzip-compressed Parquet file is first decompressed into the stream's temp dir.

Each may be gzip-compressed; gzip is recognised by its magic bytes, not its suffix. The text
formats are told apart by the first data line. A file that cannot be used at all raises
`InputError` here, before anything is read: an empty file, binary garbage (NUL bytes or more
than 5 % undecodable/control bytes in the first 64 KiB), a CSV whose first line is neither a
header with `domain` nor a `rank,domain` row, a `.parquet` that is not Parquet.
"""

from __future__ import annotations

import csv
import gzip
import shutil
import zlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from survey.errors import InputError

SNIFF_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_WEIGHT_COLUMNS = ("weight", "messages")


class InputFormat(StrEnum):
    """How the input file was read."""

    TEXT = "text"
    CSV = "csv"
    TRANCO = "tranco"
    PARQUET = "parquet"


Column = int | str | None
Fields = tuple[Column, Column, Column]  # (domain, weight, rank) columns


@dataclass(frozen=True, slots=True)
class Layout:
    """How to read a file: its format, the file to open (a decompressed copy for gzipped
    Parquet), whether it is gzipped, and the (domain, weight, rank) columns: indices for CSV,
    names for Parquet; `header` says the first data line is a header."""

    format: InputFormat
    source: Path
    gzipped: bool
    fields: Fields = (0, None, None)
    header: bool = False


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as raw:
        return raw.read(2) == _GZIP_MAGIC


def open_binary(path: Path, gzipped: bool) -> BinaryIO:
    """The file's bytes, decompressed when `gzipped`."""
    return gzip.open(path, "rb") if gzipped else path.open("rb")  # type: ignore[return-value]


def _sample(path: Path, gzipped: bool) -> bytes:
    try:
        with open_binary(path, gzipped) as stream:
            return stream.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: cannot read the file: {exc}") from exc


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes, or more than 5 % undecodable or control characters."""
    if b"\x00" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") + sum(ch < " " and ch not in "\t\r\n\f" for ch in text)
    return bad > max(1, len(text) // 20)


def _cells(line: str) -> list[str]:
    """The stripped cells of one CSV line (`line` holds no line break)."""
    return [cell.strip() for cell in next(csv.reader([line]), [])]


def _first_data_line(sample: bytes) -> str | None:
    text = sample.decode("utf-8", errors="replace").removeprefix("\ufeff")
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    return None


def _header_layout(path: Path, gzipped: bool, names: list[str]) -> Layout:
    weight = next((names.index(c) for c in _WEIGHT_COLUMNS if c in names), None)
    rank = names.index("rank") if "rank" in names else None
    fields = (names.index("domain"), weight, rank)
    return Layout(InputFormat.CSV, path, gzipped, fields, header=True)


def _text_layout(path: Path, gzipped: bool, first: str | None) -> Layout:
    """Plain text, CSV with header, or headerless Tranco, from the first data line."""
    content = "" if first is None else first.split("#", 1)[0].strip()
    names = [cell.lower() for cell in _cells(content)]
    if "domain" in names:
        return _header_layout(path, gzipped, names)
    if "," not in content:
        return Layout(InputFormat.TEXT, path, gzipped)
    if len(names) >= 2 and names[0].isdigit() and names[1] and not names[1].isdigit():
        return Layout(InputFormat.TRANCO, path, gzipped, (1, None, 0))
    raise InputError(
        f"{path}: a CSV needs a header with a `domain` column (optional `weight`/`messages`, "
        f"`rank`) or headerless `rank,domain` rows; its first line is {content[:80]!r}"
    )


def _parquet_layout(path: Path, gzipped: bool, workdir: Path) -> Layout:
    source = path
    try:
        if gzipped:
            source = workdir / "input.parquet"
            with gzip.open(path, "rb") as packed, source.open("wb") as plain:
                shutil.copyfileobj(packed, plain)
        names = pq.read_schema(source).names
    except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from exc
    by_lower = {name.lower(): name for name in reversed(names)}
    if "domain" not in by_lower:
        raise InputError(f"{path}: the Parquet file has no `domain` column (columns: {names})")
    weight = next((by_lower[c] for c in _WEIGHT_COLUMNS if c in by_lower), None)
    fields = (by_lower["domain"], weight, by_lower.get("rank"))
    return Layout(InputFormat.PARQUET, source, gzipped, fields)


def sniff(path: Path, workdir: Path) -> Layout:
    """Decide how to read `path` from its content (and its suffix); InputError if unusable."""
    gzipped = _is_gzip(path)
    sample = _sample(path, gzipped)
    if not sample.strip() and len(sample) < SNIFF_BYTES:
        raise InputError(f"{path}: the file is empty")
    if sample.startswith(_PARQUET_MAGIC):
        return _parquet_layout(path, gzipped, workdir)
    if set(path.suffixes) & _PARQUET_SUFFIXES:
        raise InputError(f"{path}: named like Parquet but has no Parquet magic bytes")
    if _looks_binary(sample):
        raise InputError(f"{path}: binary content, not a text, CSV or Parquet domain list")
    return _text_layout(path, gzipped, _first_data_line(sample))
