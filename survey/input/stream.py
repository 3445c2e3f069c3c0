"""Read domain lists, normalise and validate the names, de-duplicate them, stream them in chunks.

Formats (each may be gzip-compressed; gzip is recognised by its magic bytes, not its suffix):

- plain text: one name per line; blank lines and `#` comments (whole-line or trailing) skipped;
- CSV with a header holding a `domain` column, optionally `weight` (else `messages`) and `rank`;
- headerless Tranco-style `rank,domain` CSV (first cell digits, second cell a name);
- Parquet (magic `PAR1`) with a `domain` column, optionally `weight`/`messages`/`rank`, read in
  record batches. A gzip-compressed Parquet file is first decompressed into the stream's temp dir.

Errors of the whole file raise `InputError` early, in `read_domains`: an empty file, binary
garbage (NUL bytes or more than 5 % undecodable/control bytes in the first 64 KiB), a CSV whose
first line is neither a header with `domain` nor a `rank,domain` row, a `.parquet` that is not
Parquet. Problems of one line are `Reject` values with a stable reason code (`REJECT_REASONS`):
a line that is not UTF-8 is rejected alone (`invalid_encoding`), a line over 4096 bytes too
(`line_too_long`, only its first 256 characters are kept as text). CSV cells are split per line
(quoted cells are honoured, a quoted newline inside a cell is not supported).

Normalisation: strip, lower case, U-labels → A-labels (UTS46 non-transitional mapping then
IDNA2008, `idna` package), remove one trailing dot. Validation (RFC 1035 §2.3.4, RFC 1123 §2.1):
at most 253 characters, labels of 1..63 letters/digits/hyphens not starting or ending with a
hyphen, at least two labels, not an IP address, last label not all digits (RFC 3696 §2).
Underscores are rejected (`invalid_character`): the survey reads mail domains, which are host
names, and `_dmarc.example.com` in a list is a mistake, not a domain to survey. ASCII names are
not run through IDNA: existing `xn--` labels and `ab--c` labels are kept as they are in DNS.

De-duplication and order: names come out in input order of their first occurrence, weights
summed (None only when every occurrence had none), the lowest rank kept. Up to `memory_limit`
distinct names are held in a dict; beyond that, all names are hash-partitioned (CRC-32) into
256 bucket files, each bucket is de-duplicated on its own, and the de-duplicated buckets (each
already in first-occurrence order) are merged back by sequence number. Memory therefore stays
at one bucket (~1/256 of the distinct names) plus the merge heads, and the output order is the
same on both paths, so the same input gives the same chunks every time (`--resume` relies on it).
"""

from __future__ import annotations

import csv
import gzip
import heapq
import ipaddress
import math
import re
import shutil
import weakref
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice
from pathlib import Path
from tempfile import mkdtemp
from types import TracebackType
from typing import IO, BinaryIO

import idna
import pyarrow as pa
import pyarrow.parquet as pq

from survey.errors import InputError

MAX_NAME = 253  # RFC 1035 §2.3.4, written without the trailing dot
MAX_LABEL = 63  # RFC 1035 §2.3.4
MAX_LINE_BYTES = 4096
REJECT_TEXT_CHARS = 256
KEPT_REJECTS = 10_000
SPILL_BUCKETS = 256
SNIFF_BYTES = 64 * 1024
PARQUET_BATCH = 65_536

#: Reject reason codes (schema: append only) → meaning.
REJECT_REASONS: dict[str, str] = {
    "empty": "the domain cell is empty or missing",
    "line_too_long": f"the line is longer than {MAX_LINE_BYTES} bytes",
    "invalid_encoding": "the line is not valid UTF-8",
    "idna_error": "a non-ASCII name that UTS46/IDNA2008 cannot turn into A-labels",
    "ip_address": "an IPv4 or IPv6 address, not a domain name",
    "name_too_long": "longer than 253 characters without the trailing dot (RFC 1035 §2.3.4)",
    "empty_label": "an empty label: two dots in a row, a leading dot, or two trailing dots",
    "label_too_long": "a label longer than 63 characters (RFC 1035 §2.3.4)",
    "invalid_character": "a character other than letter, digit, hyphen (RFC 1123 §2.1), e.g. _",
    "invalid_hyphen": "a label starting or ending with a hyphen (RFC 1123 §2.1)",
    "single_label": "only one label (a TLD or a bare host name), not a mail domain",
    "numeric_tld": "the last label is all digits (RFC 3696 §2), e.g. 1.2.3",
    "bad_rank": "the rank is not an integer ≥ 1",
    "bad_weight": "the weight (or messages) is not an integer ≥ 0",
}

_LDH = re.compile(r"[a-z0-9-]+\Z")
# Fast path for the common case: LDH labels, last label starting with a letter (so no IP).
_HOST_NAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\Z"
)
_INTEGER = re.compile(r"\s*\+?(\d+)(?:\.0*)?\s*\Z")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_WEIGHT_COLUMNS = ("weight", "messages")


@dataclass(frozen=True, slots=True)
class InputDomain:
    """One de-duplicated input name (A-labels, lower case, no trailing dot)."""

    domain: str
    rank: int | None
    weight: int | None


@dataclass(frozen=True, slots=True)
class Reject:
    """An input line (or Parquet row), 1-based, that was not used, and why."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class InputCounts:
    """`lines`: records examined (non-blank, non-comment lines or Parquet rows, no header);
    `lines == accepted + rejected`; `duplicates`: accepted records merged into an earlier one."""

    lines: int
    accepted: int
    rejected: int
    duplicates: int

    @property
    def unique(self) -> int:
        """Distinct names the stream yields."""
        return self.accepted - self.duplicates


class InputFormat(StrEnum):
    """How the input file was read."""

    TEXT = "text"
    CSV = "csv"
    TRANCO = "tranco"
    PARQUET = "parquet"


# --- names -----------------------------------------------------------------------------------


def _a_label(label: str) -> str:
    """One label as an A-label; left as it is (non-ASCII) when IDNA2008 refuses it."""
    if label.isascii():
        return label
    try:
        return idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return label


def normalise(name: str) -> str:
    """Strip, lower-case, U-labels → A-labels (UTS46, non-transitional), drop one trailing dot.

    Never raises: a name IDNA cannot convert keeps its non-ASCII characters, which `validate`
    reports as `idna_error`.
    """
    text = name.strip().lower()
    if not text.isascii():
        try:
            text = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError):
            return text
        text = ".".join(_a_label(label) for label in text.split("."))
    return text[:-1] if text.endswith(".") else text


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


def _label_problem(label: str) -> str | None:
    """RFC 1035 §2.3.4 length and RFC 1123 §2.1 LDH syntax of one label."""
    if not label:
        return "empty_label"
    if len(label) > MAX_LABEL:
        return "label_too_long"
    if not _LDH.match(label):
        return "invalid_character"
    if label[0] == "-" or label[-1] == "-":
        return "invalid_hyphen"
    return None


def validate(name: str) -> str | None:
    """The reject reason of a normalised name, or None when it is a usable domain name."""
    if len(name) <= MAX_NAME and _HOST_NAME.match(name):
        return None
    if not name:
        return "empty"
    if not name.isascii():
        return "idna_error"
    if (":" in name or name[-1].isdigit()) and _is_ip_address(name):
        return "ip_address"
    if len(name) > MAX_NAME:
        return "name_too_long"
    labels = name.split(".")
    for label in labels:
        if reason := _label_problem(label):
            return reason
    if len(labels) < 2:
        return "single_label"
    return "numeric_tld" if labels[-1].isdigit() else None


# --- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """One record as read, before any check: cells are str (text, CSV) or Python values."""

    line: int
    text: str
    domain: object
    weight: object
    rank: object


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


def parse_row(row: _Row) -> InputDomain | Reject:
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


# --- format detection ------------------------------------------------------------------------


_Column = int | str | None
_Fields = tuple[_Column, _Column, _Column]  # (domain, weight, rank) columns


@dataclass(frozen=True, slots=True)
class Layout:
    """How to read a file: its format, the file to open (a decompressed copy for gzipped
    Parquet), whether it is gzipped, and the (domain, weight, rank) columns: indices for CSV,
    names for Parquet; `header` says the first data line is a header."""

    format: InputFormat
    source: Path
    gzipped: bool
    fields: _Fields = (0, None, None)
    header: bool = False


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as raw:
        return raw.read(2) == _GZIP_MAGIC


def _open_binary(path: Path, gzipped: bool) -> BinaryIO:
    return gzip.open(path, "rb") if gzipped else path.open("rb")  # type: ignore[return-value]


def _sample(path: Path, gzipped: bool) -> bytes:
    try:
        with _open_binary(path, gzipped) as stream:
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


def _split_csv(line: str) -> list[str]:
    cells = next(csv.reader([line])) if '"' in line else line.split(",")
    return [cell.strip() for cell in cells]


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
    names = [cell.lower() for cell in _split_csv(content)]
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


# --- reading ---------------------------------------------------------------------------------


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


def _text_row(number: int, text: str, layout: Layout) -> _Row | None:
    """The record of one decoded line, None for a blank or comment line."""
    if layout.format is InputFormat.TEXT:
        content = text.split("#", 1)[0].strip()
        return _Row(number, text.strip(), content, None, None) if content else None
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    cells = _split_csv(stripped)
    domain, weight, rank = (_cell(cells, index) for index in layout.fields)
    return _Row(number, stripped, domain, weight, rank)


def _text_rows(stream: BinaryIO, layout: Layout) -> Iterator[_Row | Reject]:
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


def _parquet_rows(layout: Layout) -> Iterator[_Row]:
    names = list(dict.fromkeys(field for field in layout.fields if isinstance(field, str)))
    number = 0
    with pq.ParquetFile(layout.source) as parquet:
        for batch in parquet.iter_batches(PARQUET_BATCH, columns=names):
            columns = {name: batch.column(name).to_pylist() for name in names}
            for index in range(batch.num_rows):
                number += 1
                yield _parquet_row(number, layout.fields, columns, index)


def _parquet_row(
    number: int, fields: _Fields, columns: dict[str, list[object]], index: int
) -> _Row:
    """Row `index` of a batch; `text` shows the used cells comma-separated, for rejects."""
    cells = [columns[f][index] if isinstance(f, str) else None for f in fields]
    shown = (cell for field, cell in zip(fields, cells, strict=True) if field is not None)
    text = ",".join("" if cell is None else str(cell) for cell in shown)
    return _Row(number, text, *cells)


def _escape_cell(text: str) -> str:
    """Defuse spreadsheet formulas (OWASP CSV injection): prefix a leading = + - @ with '."""
    return "'" + text if text.startswith(_FORMULA_START) else text


class _RejectSink:
    """Counts rejects, keeps the first `KEPT_REJECTS`, writes all to `out` (CSV) if given."""

    def __init__(self, out: IO[str] | None) -> None:
        self.kept: list[Reject] = []
        self.count = 0
        self._writer = None if out is None else csv.writer(out)
        if self._writer is not None:
            self._writer.writerow(["line", "text", "reason"])

    def add(self, reject: Reject) -> None:
        self.count += 1
        if len(self.kept) < KEPT_REJECTS:
            self.kept.append(reject)
        if self._writer is not None:
            self._writer.writerow([reject.line, _escape_cell(reject.text), reject.reason])


def _rejects_file(path: Path | None) -> AbstractContextManager[IO[str] | None]:
    return nullcontext() if path is None else path.open("w", encoding="utf-8", newline="")


# --- de-duplication --------------------------------------------------------------------------

_Entry = tuple[int, int | None, int | None]  # first sequence number, lowest rank, summed weight


def _merge(known: _Entry, rank: int | None, weight: int | None) -> _Entry:
    seq, known_rank, known_weight = known
    if rank is not None:
        known_rank = rank if known_rank is None else min(known_rank, rank)
    if weight is not None:
        known_weight = weight if known_weight is None else known_weight + weight
    return seq, known_rank, known_weight


def _optional(text: str) -> int | None:
    return int(text) if text else None


def _spill_line(seq: int, domain: str, rank: int | None, weight: int | None) -> str:
    return f"{seq}\t{domain}\t{'' if rank is None else rank}\t{'' if weight is None else weight}\n"


def _read_spill(path: Path) -> Iterator[tuple[int, str, int | None, int | None]]:
    with path.open(encoding="ascii") as lines:
        for line in lines:
            seq, domain, rank, weight = line.rstrip("\n").split("\t")
            yield int(seq), domain, _optional(rank), _optional(weight)


class _Deduplicator:
    """Merges repeated names; in memory up to `memory_limit` names, then via bucket files."""

    def __init__(self, workdir: Path, memory_limit: int) -> None:
        self._workdir = workdir
        self._memory_limit = memory_limit
        self._seen: dict[str, _Entry] = {}
        self._buckets: list[IO[str]] = []
        self._runs: list[Path] = []
        self._seq = 0
        self.duplicates = 0

    def add(self, item: InputDomain) -> None:
        self._seq += 1
        if self._buckets:
            self._bucket(item.domain).write(_spill_line(self._seq, *_fields(item)))
            return
        known = self._seen.get(item.domain)
        if known is None:
            self._seen[item.domain] = (self._seq, item.rank, item.weight)
            if len(self._seen) > self._memory_limit:
                self._spill()
        else:
            self._seen[item.domain] = _merge(known, item.rank, item.weight)
            self.duplicates += 1

    def _bucket(self, domain: str) -> IO[str]:
        return self._buckets[zlib.crc32(domain.encode("ascii")) % SPILL_BUCKETS]

    def _spill(self) -> None:
        paths = [self._workdir / f"bucket-{n:03d}.tsv" for n in range(SPILL_BUCKETS)]
        self._buckets = [path.open("w", encoding="ascii") for path in paths]
        for domain, (seq, rank, weight) in self._seen.items():
            self._bucket(domain).write(_spill_line(seq, domain, rank, weight))
        self._seen = {}

    def finish(self) -> None:
        """De-duplicate each bucket into a run file in first-occurrence order."""
        for bucket in self._buckets:
            empty = bucket.tell() == 0
            bucket.close()
            if empty:
                Path(bucket.name).unlink()
            else:
                self._runs.append(self._dedup_bucket(Path(bucket.name)))
        self._buckets = []

    def _dedup_bucket(self, path: Path) -> Path:
        seen: dict[str, _Entry] = {}
        for seq, domain, rank, weight in _read_spill(path):
            known = seen.get(domain)
            seen[domain] = (seq, rank, weight) if known is None else _merge(known, rank, weight)
            self.duplicates += known is not None
        run = path.with_suffix(".run")
        with run.open("w", encoding="ascii") as out:
            out.writelines(_spill_line(s, d, r, w) for d, (s, r, w) in seen.items())
        path.unlink()
        return run

    def entries(self) -> Iterator[InputDomain]:
        """All distinct names in order of first occurrence."""
        if not self._runs:
            for domain, (_seq, rank, weight) in self._seen.items():
                yield InputDomain(domain, rank, weight)
            return
        for _seq, domain, rank, weight in heapq.merge(*map(_read_spill, self._runs)):
            yield InputDomain(domain, rank, weight)


def _fields(item: InputDomain) -> tuple[str, int | None, int | None]:
    return item.domain, item.rank, item.weight


# --- the stream ------------------------------------------------------------------------------


class DomainStream:
    """The chunks of a domain list. The whole input is read, checked and de-duplicated before
    the first chunk comes out (`prepare()`), so `counts` is final from then on. Iterating again
    yields the same chunks. Close it (or use `with`) to remove its temp files."""

    def __init__(
        self,
        path: Path,
        chunk_size: int,
        rejects_to: Path | None,
        memory_limit: int,
        tmp: Path | None,
    ) -> None:
        self.path = path
        self.chunk_size = chunk_size
        self.rejects_path = rejects_to
        workdir = Path(mkdtemp(prefix="survey-domains-", dir=tmp))
        # Removed on close(), or silently when the stream is garbage-collected or at exit.
        self._cleanup = weakref.finalize(self, shutil.rmtree, workdir, ignore_errors=True)
        try:
            self.layout = sniff(path, workdir)
        except BaseException:
            self._cleanup()
            raise
        self._dedup = _Deduplicator(workdir, memory_limit)
        self._sink: _RejectSink | None = None
        self._accepted = 0

    def prepare(self) -> None:
        """Read the whole input once (idempotent)."""
        if self._sink is not None:
            return
        try:
            with _rejects_file(self.rejects_path) as out:
                sink = _RejectSink(out)
                for row in self._rows():
                    self._take(row, sink)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            raise InputError(f"{self.path}: cannot read the file: {exc}") from exc
        self._dedup.finish()
        self._sink = sink

    def _rows(self) -> Iterator[_Row | Reject]:
        if self.layout.format is InputFormat.PARQUET:
            yield from _parquet_rows(self.layout)
            return
        with _open_binary(self.layout.source, self.layout.gzipped) as stream:
            yield from _text_rows(stream, self.layout)

    def _take(self, row: _Row | Reject, sink: _RejectSink) -> None:
        result = row if isinstance(row, Reject) else parse_row(row)
        if isinstance(result, Reject):
            sink.add(result)
        else:
            self._accepted += 1
            self._dedup.add(result)

    def __iter__(self) -> Iterator[list[InputDomain]]:
        self.prepare()
        entries = self._dedup.entries()
        while chunk := list(islice(entries, self.chunk_size)):
            yield chunk

    @property
    def counts(self) -> InputCounts:
        """Counts so far; final once `prepare()` ran (it runs before the first chunk)."""
        rejected = self._sink.count if self._sink is not None else 0
        lines = self._accepted + rejected
        return InputCounts(lines, self._accepted, rejected, self._dedup.duplicates)

    @property
    def rejects(self) -> tuple[Reject, ...]:
        """The first `KEPT_REJECTS` rejects; all of them go to `rejects_to` when given."""
        return tuple(self._sink.kept) if self._sink is not None else ()

    def close(self) -> None:
        """Remove the temp files (bucket and run files, a decompressed Parquet copy)."""
        self._cleanup()

    def __enter__(self) -> DomainStream:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_domains(
    path: Path | str,
    chunk_size: int = 50_000,
    *,
    rejects_to: Path | str | None = None,
    memory_limit: int = 500_000,
    tmp_dir: Path | str | None = None,
) -> DomainStream:
    """Open a domain list (format detected here; InputError if the file is unusable).

    `rejects_to`: a CSV file (`line,text,reason`) receiving every reject; `memory_limit`:
    distinct names held in memory before spilling to bucket files under `tmp_dir`.
    """
    if chunk_size < 1 or memory_limit < 1:
        raise InputError("chunk_size and memory_limit must be at least 1")
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{source}: no such file")
    rejects = None if rejects_to is None else Path(rejects_to)
    tmp = None if tmp_dir is None else Path(tmp_dir)
    return DomainStream(source, chunk_size, rejects, memory_limit, tmp)
