"""Input records that are not used: the reason codes, the `Reject` value, and `rejects.csv`.

A problem of one record never fails the file: the record becomes a `Reject` with its 1-based
line number (the physical line where it starts; the row number for Parquet), its text, and a
stable reason code of `REJECT_REASONS`. Reason codes are schema: append only, each documented
in the README's table of rejected input lines.
"""

from __future__ import annotations

import csv
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: Bytes a record may take, its line ending included; a longer one is rejected, so that one
#: record never has to fit in memory.
MAX_LINE_BYTES = 4096
#: Rejects kept in memory (`DomainStream.rejects`); all of them go to the rejects file.
KEPT_REJECTS = 10_000

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
    "unclosed_quote": (
        f"a quoted CSV cell still open after {MAX_LINE_BYTES} bytes or at the end of the file; "
        "the lines after this one are read again as records"
    ),
    "csv_syntax": "the csv module cannot read the record (a carriage return in an unquoted cell)",
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Reject:
    """An input line (or Parquet row), 1-based, that was not used, and why."""

    line: int
    text: str
    reason: str


def _escape_cell(text: str) -> str:
    """Defuse spreadsheet formulas (OWASP CSV injection): prefix a leading = + - @ with '."""
    return "'" + text if text.startswith(_FORMULA_START) else text


class RejectSink:
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


def rejects_file(path: Path | None) -> AbstractContextManager[IO[str] | None]:
    """The rejects CSV opened for writing, or nothing to write to when `path` is None."""
    return nullcontext() if path is None else path.open("w", encoding="utf-8", newline="")
