"""Finding the input files and opening them: plain XML, gzip, zip (every member), tables.

Reports arrive as mail attachments, so every byte is untrusted (RFC 9990, Security
Considerations: "the archive decompressor and XML parser are at risk to resource exhaustion
attacks (zip bomb or XML bomb)"). Decompression is bounded three ways (`Limits`): the bytes of
one document once decompressed, the ratio of decompressed to compressed bytes (a bomb compresses
~1000:1, reports measured 2-50:1; the ratio is checked past a floor, so that small documents never
trip it), and the members of one zip. A document past a limit, a truncated gzip or a corrupt
member is refused with its reason and the reading goes on: one bad member costs only itself.

A document is a report (XML, decompressed into memory, at most `Limits.document_bytes`) or a
flow table (CSV, gzip CSV or Parquet, streamed from disk by `survey.flows.tables`). The kind is
found from the content, not the file name: mail clients rename attachments.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, Protocol

from survey.errors import InputError
from survey.schema.flow_values import FlowReject

MIB = 1 << 20
_CHUNK = 1 << 16
_GZIP = b"\x1f\x8b"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_PARQUET = b"PAR1"
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class _Stream(Protocol):
    """A decompressing reader: a GzipFile or a zip member."""

    def read(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one input may cost (README, "Mail flows")."""

    document_bytes: int = 64 * MIB  # one report once decompressed (~100,000 records)
    ratio: int = 200  # decompressed ÷ compressed bytes of a gzip file or zip member …
    ratio_floor: int = 1 * MIB  # … checked once a document is past this size
    members: int = 10_000  # members of one zip

    def exceeded(self, produced: int, compressed: int | None) -> str | None:
        """Why `produced` decompressed bytes (from `compressed`) are too many; None if not."""
        if produced > self.document_bytes:
            return f"over {self.document_bytes:,} bytes decompressed"
        if compressed is not None and produced > max(self.ratio_floor, self.ratio * compressed):
            return f"over {self.ratio}x its {compressed:,} compressed bytes"
        return None


class Kind(StrEnum):
    """What a document holds."""

    REPORT = "report"
    TABLE = "table"


@dataclass(frozen=True, slots=True)
class Document:
    """A report (its XML bytes) or a table (its file on disk) to read."""

    file: str
    member: str | None
    kind: Kind
    data: bytes = b""
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """A document that could not be opened, and why."""

    file: str
    member: str | None
    reason: FlowReject
    detail: str


Opened = Document | Refused


def list_inputs(paths: Iterable[Path]) -> list[Path]:
    """Every file named, or found under a folder named (hidden ones skipped), sorted and
    without repeats: the same inputs give the same list, the unit of `--resume`."""
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            found.update(_walk(path))
        else:
            raise InputError(f"input not found: {path}")
    return sorted(found)


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (Path(root) / f for f in files if not f.startswith("."))


def open_documents(path: Path, limits: Limits) -> Iterator[Opened]:
    """The documents of one input file: one, or one per zip member. Never raises on bad
    content; an unreadable file is refused too."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            size = os.fstat(handle.fileno()).st_size
            if head.startswith(_ZIP):
                yield from _zip_documents(handle, name, limits)
                return
            yield _single(handle, head, size, name, limits)
    except OSError as exc:
        yield Refused(name, None, FlowReject.UNREADABLE, exc.strerror or str(exc))


def _single(handle: BinaryIO, head: bytes, size: int, name: str, limits: Limits) -> Opened:
    if head.startswith(_PARQUET):
        return Document(name, None, Kind.TABLE, path=Path(name))
    if head.startswith(_GZIP):
        return _gzip_document(handle, size, name, None, limits)
    kind = sniff(head + handle.read(4096 - len(head)))
    if kind is None:
        return Refused(name, None, FlowReject.UNKNOWN_FORMAT, "not XML, gzip, zip, CSV, Parquet")
    if kind == Kind.TABLE:
        return Document(name, None, Kind.TABLE, path=Path(name))
    if size > limits.document_bytes:
        return Refused(name, None, FlowReject.TOO_LARGE, f"{size:,} bytes")
    handle.seek(0)
    return Document(name, None, Kind.REPORT, handle.read())


def sniff(sample: bytes) -> Kind | None:
    """A report when the text starts with `<`, a table when it is other text, else None."""
    for bom in _BOMS:
        if sample.startswith(bom):
            return Kind.REPORT if bom != _BOMS[0] else sniff(sample[len(bom) :])
    text = sample.lstrip()
    if text.startswith(b"<"):
        return Kind.REPORT
    if not text or b"\x00" in sample:
        return None
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # only a character cut by the sample's end is forgiven
            return None
    return Kind.TABLE


def _gzip_document(
    handle: BinaryIO, size: int, name: str, member: str | None, limits: Limits
) -> Opened:
    """A gzip stream at the start of `handle`: a report (decompressed within the limits) or,
    as a file of its own, a gzip-compressed table."""
    handle.seek(0)
    try:
        with gzip.GzipFile(fileobj=handle) as stream:
            head = stream.read(4096)
    except (OSError, EOFError, zlib.error) as exc:
        return Refused(name, member, FlowReject.COMPRESSION_ERROR, _why(exc))
    if head.startswith((_GZIP, *_ZIP)):
        return Refused(name, member, FlowReject.NESTED_ARCHIVE, "an archive inside a gzip")
    kind = sniff(head)
    if kind == Kind.TABLE and member is None:
        return Document(name, None, Kind.TABLE, path=Path(name))
    if kind != Kind.REPORT:
        return Refused(name, member, FlowReject.UNKNOWN_FORMAT, "not XML once decompressed")
    handle.seek(0)
    return _read_bounded(lambda: gzip.GzipFile(fileobj=handle), size, name, member, limits)


def _read_bounded(
    opener: Callable[[], _Stream],
    compressed: int | None,
    name: str,
    member: str | None,
    limits: Limits,
) -> Opened:
    """Decompress a whole report, stopping as soon as a limit is passed."""
    data = bytearray()
    try:
        with contextlib.closing(opener()) as stream:
            while chunk := stream.read(_CHUNK):
                data += chunk
                if (why := limits.exceeded(len(data), compressed)) is not None:
                    return Refused(name, member, FlowReject.TOO_LARGE, why)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, RuntimeError) as exc:
        return Refused(name, member, FlowReject.COMPRESSION_ERROR, _why(exc))
    except NotImplementedError as exc:  # a compression method zipfile does not know
        return Refused(name, member, FlowReject.COMPRESSION_ERROR, _why(exc))
    return Document(name, member, Kind.REPORT, bytes(data))


def _zip_documents(handle: BinaryIO, name: str, limits: Limits) -> Iterator[Opened]:
    """Every member of a zip, each a report; member names are only ever labels."""
    handle.seek(0)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        yield Refused(name, None, FlowReject.COMPRESSION_ERROR, _why(exc))
        return
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > limits.members:
            detail = f"{len(members):,} members (limit {limits.members:,})"
            yield Refused(name, None, FlowReject.TOO_MANY_MEMBERS, detail)
        elif not members:
            yield Refused(name, None, FlowReject.NOT_AGGREGATE_REPORT, "an empty zip")
        else:
            yield from (_member(archive, info, name, limits) for info in members)


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: Limits) -> Opened:
    """One zip member: a report, or a gzip-compressed report (decompressed once more, within
    the same limits); never a table, never an archive."""
    member = info.filename
    opened = _read_bounded(lambda: archive.open(info), info.compress_size, name, member, limits)
    if isinstance(opened, Refused):
        return opened
    if opened.data.startswith(_ZIP):
        return Refused(name, member, FlowReject.NESTED_ARCHIVE, "a zip inside a zip")
    if opened.data.startswith(_GZIP):
        return _gzip_document(io.BytesIO(opened.data), len(opened.data), name, member, limits)
    if sniff(opened.data[:4096]) != Kind.REPORT:
        return Refused(name, member, FlowReject.UNKNOWN_FORMAT, "not XML")
    return opened


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
