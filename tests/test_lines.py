"""Lines and CSV records: RFC 4180 quoting through the csv module, line numbers, bounded records."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from input_files import write

from survey.input.lines import CsvRecords, Record, physical_lines
from survey.input.rejects import MAX_LINE_BYTES, Reject
from survey.input.stream import InputDomain, read_domains


def records(data: bytes) -> list[Record | Reject]:
    return list(CsvRecords(io.BytesIO(data)))


def test_physical_lines_cut_a_long_line_and_skip_its_rest() -> None:
    data = b"a\n" + b"x" * (3 * MAX_LINE_BYTES) + b"\nb"
    lines = list(physical_lines(io.BytesIO(data)))
    assert [(number, cut) for number, _, cut in lines] == [(1, False), (2, True), (3, False)]
    assert len(lines[1][1]) == MAX_LINE_BYTES + 1
    assert lines[2][1] == b"b"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # quoted newline: one record, numbered by the line where it starts
        (b'a,"b\nc",d\ne,f\n', [(1, 'a,"b\nc",d', ["a", "b\nc", "d"]), (3, "e,f", ["e", "f"])]),
        (b'a,"b, c",d\n', [(1, 'a,"b, c",d', ["a", "b, c", "d"])]),  # quoted comma
        (b'"say ""hi""",x\n', [(1, '"say ""hi""",x', ['say "hi"', "x"])]),  # doubled quotes
        (b'a,b\r\n"c\r\nd",e\r\n', [(1, "a,b", ["a", "b"]), (2, '"c\r\nd",e', ["c\r\nd", "e"])]),
        (b'\xef\xbb\xbf"domain",rank\n', [(1, '"domain",rank', ["domain", "rank"])]),  # BOM
        (b'a,""\n', [(1, 'a,""', ["a", ""])]),  # an empty quoted cell
        (b'a,b"c\n', [(1, 'a,b"c', ["a", 'b"c'])]),  # a quote inside a cell is a character
        (b"a,b", [(1, "a,b", ["a", "b"])]),  # no final line break
        (b'\n  \n# "comment\n  "x",y\n', [(4, '"x",y', ["x", "y"])]),  # skipped between records
        (
            b'"a\n\n# not a comment\n",b\n',
            [(1, '"a\n\n# not a comment\n",b', ["a\n\n# not a comment\n", "b"])],
        ),
    ],
)
def test_records(data: bytes, expected: list[Record]) -> None:
    assert records(data) == expected


def test_unclosed_quote_costs_its_line_only() -> None:
    assert records(b'1,a.example\n2,"b.example\n3,c.example\n') == [
        (1, "1,a.example", ["1", "a.example"]),
        Reject(2, '2,"b.example', "unclosed_quote"),
        (3, "3,c.example", ["3", "c.example"]),
    ]


def test_unclosed_quote_is_bounded() -> None:
    """A stray quote before megabytes without one: the record is given up at the limit, having
    read no more than the limit and one line, and every later line is read as its own record."""
    stream = io.BytesIO(
        b'0,"stray\n' + b"".join(b"%d,n%d.example\n" % (n, n) for n in range(1, 100_000))
    )
    reader = iter(CsvRecords(stream))
    assert next(reader) == Reject(1, '0,"stray', "unclosed_quote")
    assert stream.tell() <= MAX_LINE_BYTES + 64
    rest = list(reader)
    assert len(rest) == 99_999
    assert rest[-1] == (100_000, "99999,n99999.example", ["99999", "n99999.example"])


def test_record_over_the_limit_is_given_up() -> None:
    """A quoted cell of many lines, closed only beyond the limit: its first line is rejected
    and the lines after it are read as records (the closing quote then opens one)."""
    data = b'a,"x\n' + b"x\n" * MAX_LINE_BYTES + b'",b\nc,d\n'
    result = records(data)
    assert result[0] == Reject(1, 'a,"x', "unclosed_quote")
    assert result[1 : MAX_LINE_BYTES + 1] == [(n, "x", ["x"]) for n in range(2, MAX_LINE_BYTES + 2)]
    assert result[MAX_LINE_BYTES + 1 :] == [
        Reject(MAX_LINE_BYTES + 2, '",b', "unclosed_quote"),
        (MAX_LINE_BYTES + 3, "c,d", ["c", "d"]),
    ]


def test_non_utf8_record_is_rejected_whole() -> None:
    assert records(b'a,"caf\xe9\nb",c\nd,e\n') == [
        Reject(1, 'a,"caf\\xe9\nb",c', "invalid_encoding"),
        (3, "d,e", ["d", "e"]),
    ]


def test_carriage_return_in_an_unquoted_cell() -> None:
    assert records(b"a,b\rc\nd,e\n") == [Reject(1, "a,b\rc", "csv_syntax"), (2, "d,e", ["d", "e"])]


def test_too_long_lines_keep_their_order() -> None:
    result = records(b"a,b\n" + b"y" * (MAX_LINE_BYTES + 10) + b"\nc,d\n")
    assert result == [
        (1, "a,b", ["a", "b"]),
        Reject(2, "y" * 256, "line_too_long"),
        (3, "c,d", ["c", "d"]),
    ]


# --- through the stream ------------------------------------------------------------------------

QUOTED = (
    b"domain,note,messages\r\n"
    b'x.example,"two\r\nlines, with ""quotes""",3\r\n'  # 2-3
    b'"y.example","a, b",4\r\n'  # 4
    b'"bad""name.example",,5\r\n'  # 5
    b'z.example,"unclosed,6\r\n'  # 6
    b"w.example,,7\r\n"  # 7
)


@pytest.mark.parametrize("gz", [False, True])
def test_quoted_csv_through_the_stream(tmp_path: Path, gz: bool) -> None:
    with read_domains(write(tmp_path, "q.csv", QUOTED, gz)) as stream:
        items = [item for chunk in stream for item in chunk]
        rejects = stream.rejects
    assert items == [
        InputDomain("x.example", None, 3),
        InputDomain("y.example", None, 4),
        InputDomain("w.example", None, 7),
    ]
    assert rejects == (
        Reject(5, '"bad""name.example",,5', "invalid_character"),
        Reject(6, 'z.example,"unclosed,6', "unclosed_quote"),
    )
