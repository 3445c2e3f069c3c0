"""A domain list as chunks of checked, de-duplicated names: `read_domains` and `DomainStream`.

The stream ties the steps together: `formats.sniff` decides the layout (whole-file errors raise
`InputError` there, before anything is read), `readers.rows` yields the records,
`readers.parse_row` checks each, rejects go to the `RejectSink` (and `rejects.csv`), accepted
names to the `Deduplicator`. The whole input is read before the first chunk comes out, so the
counts are final by then, and the same input gives the same chunks every time.
"""

from __future__ import annotations

import shutil
import weakref
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from tempfile import mkdtemp
from types import TracebackType

import pyarrow as pa

from survey.errors import InputError
from survey.input.dedup import Deduplicator
from survey.input.formats import sniff
from survey.input.readers import InputDomain, Row, parse_row, rows
from survey.input.rejects import Reject, RejectSink, rejects_file

__all__ = ["DomainStream", "InputCounts", "InputDomain", "Reject", "read_domains"]


@dataclass(frozen=True, slots=True)
class InputCounts:
    """`lines`: records examined (non-blank, non-comment lines, CSV records, which may span
    lines, or Parquet rows; no header); `lines == accepted + rejected`; `duplicates`: accepted
    records merged into an earlier one."""

    lines: int
    accepted: int
    rejected: int
    duplicates: int

    @property
    def unique(self) -> int:
        """Distinct names the stream yields."""
        return self.accepted - self.duplicates


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
        self._dedup = Deduplicator(workdir, memory_limit)
        self._sink: RejectSink | None = None
        self._accepted = 0

    def prepare(self) -> None:
        """Read the whole input once (idempotent)."""
        if self._sink is not None:
            return
        try:
            with rejects_file(self.rejects_path) as out:
                sink = RejectSink(out)
                for row in rows(self.layout):
                    self._take(row, sink)
        except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
            raise InputError(f"{self.path}: cannot read the file: {exc}") from exc
        self._dedup.finish()
        self._sink = sink

    def _take(self, row: Row | Reject, sink: RejectSink) -> None:
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
