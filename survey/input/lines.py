"""The lines of a byte stream, and its CSV records, each bounded to `MAX_LINE_BYTES`.

A physical line is at most `MAX_LINE_BYTES` bytes: a longer one is cut and the rest of it is
skipped unread (`line_too_long`), so one huge line never has to fit in memory. A line that is
not UTF-8 is rejected alone (`invalid_encoding`).

CSV records are read by the `csv` module (RFC 4180: quoted cells may hold commas, doubled quotes
and newlines; CRLF and LF line ends), fed one physical line at a time, so a record is known by
the physical line where it starts. Blank lines and `#` comment lines between records are
skipped, as is a byte-order mark or leading white space before a record. A record keeps the
limit of a line: when its quoted cell is still open after `MAX_LINE_BYTES` bytes, or at the end
of the file, its first line is rejected (`unclosed_quote`) and the lines after it are read again
as records of their own, so a stray quote costs one line, never the rest of the file. A record
holding a byte sequence that is not UTF-8 is rejected whole (`invalid_encoding`), one the `csv`
module refuses (a carriage return inside an unquoted cell) too (`csv_syntax`).
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from typing import BinaryIO

from survey.input.rejects import MAX_LINE_BYTES, Reject

#: Characters of a too-long line kept as the text of its reject.
REJECT_TEXT_CHARS = 256

Line = tuple[int, bytes, bool]  # 1-based number, bytes, too long (cut)
Record = tuple[int, str, list[str]]  # number of its first line, its text (stripped), its cells


def physical_lines(stream: BinaryIO) -> Iterator[Line]:
    """Every line of `stream`; a too-long line is cut and its rest skipped."""
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


def too_long(line: Line) -> Reject:
    """The reject of a cut line: its head only."""
    number, raw, _ = line
    text = raw[:REJECT_TEXT_CHARS].decode("utf-8", errors="backslashreplace")
    return Reject(number, text, "line_too_long")


def shown(text: str) -> str:
    """Text decoded with surrogateescape, with its undecodable bytes written as `\\xNN`."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class _Unclosed(Exception):
    """The record being read has a quoted cell still open at the limit or at the end."""


class CsvRecords:
    """The records of a CSV stream, read by `csv.reader` from lines this object hands it.

    It remembers the lines of the record being read (at most `MAX_LINE_BYTES` bytes): where the
    record starts, its text, and the lines to read again when the record is given up.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._lines = physical_lines(stream)
        self._again: deque[Line] = deque()  # lines to read again, before the stream's next
        self._record: list[Line] = []  # the lines of the record being read
        self._texts: list[str] = []  # the same, decoded
        self._size = 0
        self._undecodable = False
        self._between: list[Reject] = []  # too-long lines met before the record

    def __iter__(self) -> Iterator[Record | Reject]:
        while True:
            try:
                for cells in csv.reader(self._feed()):
                    yield from self._flush()
                    yield self._done(cells)
                break
            except _Unclosed:
                yield from self._flush()
                yield self._give_up()
            except csv.Error:
                yield from self._flush()
                yield self._refused()
        yield from self._flush()

    def _next_line(self) -> Line | None:
        if self._again:
            return self._again.popleft()
        return next(self._lines, None)

    def _feed(self) -> Iterator[str]:
        """Decoded lines for `csv.reader`. It asks for a line inside a record only when a quoted
        cell is open at the end of the last one."""
        while (line := self._next_line()) is not None:
            _, raw, cut = line
            if self._record and (cut or self._size + len(raw) > MAX_LINE_BYTES):
                self._again.appendleft(line)
                raise _Unclosed
            if cut:
                self._between.append(too_long(line))
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "surrogateescape")
                self._undecodable = True
            if not self._record:
                text = text.removeprefix("\ufeff").lstrip()
                if not text or (text[0] == "#" and not self._undecodable):
                    continue
            self._record.append(line)
            self._texts.append(text)
            self._size += len(raw)
            yield text
        if self._record:
            raise _Unclosed

    def _flush(self) -> Iterator[Reject]:
        if self._between:
            yield from self._between
            self._between = []

    def _take(self) -> tuple[int, str, bool]:
        """The first line number, text and encoding error of the record read; forget it."""
        number = self._record[0][0]
        texts = self._texts
        text = texts[0].rstrip() if len(texts) == 1 else "".join(texts).rstrip()
        undecodable = self._undecodable
        self._record, self._texts, self._size, self._undecodable = [], [], 0, False
        return number, text, undecodable

    def _done(self, cells: list[str]) -> Record | Reject:
        number, text, undecodable = self._take()
        if undecodable:
            return Reject(number, shown(text), "invalid_encoding")
        return number, text, cells

    def _give_up(self) -> Reject:
        """Reject the first line of an unclosed record and read the others again."""
        self._again.extendleft(reversed(self._record[1:]))
        first = self._texts[0].rstrip()
        number, _, _ = self._take()
        return Reject(number, shown(first), "unclosed_quote")

    def _refused(self) -> Reject:
        number, text, _ = self._take()
        return Reject(number, shown(text), "csv_syntax")
