"""Readers: the records of each format, and the checks of a record's name, rank and weight."""

from __future__ import annotations

from pathlib import Path

import pytest
from input_files import parquet_bytes, read_all, write

from survey.input.formats import InputFormat
from survey.input.stream import InputCounts, InputDomain, Reject, read_domains


def test_weight_column_wins_over_messages(tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", b"messages,domain,weight\n1,example.com,7\n")
    assert read_all(path) == [InputDomain("example.com", None, 7)]


@pytest.mark.parametrize("gz", [False, True])
def test_parquet(tmp_path: Path, gz: bool) -> None:
    columns: dict[str, list[object]] = {
        "Domain": ["Example.com", None, "bad_name.com", "example.org", "example.com", "x.net"],
        "messages": [1.0, 2.0, 3.0, float("nan"), 5.0, -1.0],
        "rank": [4, 3, 2, 1, None, 6],
    }
    path = write(tmp_path, "list.parquet", parquet_bytes(tmp_path, columns), gz)
    with read_domains(path, chunk_size=1) as stream:
        assert stream.layout.format is InputFormat.PARQUET
        chunks = list(stream)
        assert stream.counts == InputCounts(lines=6, accepted=3, rejected=3, duplicates=1)
        assert stream.rejects == (
            Reject(2, ",2.0,3", "empty"),
            Reject(3, "bad_name.com,3.0,2", "invalid_character"),
            Reject(6, "x.net,-1.0,6", "bad_weight"),
        )
    assert chunks == [
        [InputDomain("example.com", 4, 6)],
        [InputDomain("example.org", 1, None)],
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (b"example.com,abc,1", "bad_weight"),
        (b"example.com,-3,1", "bad_weight"),
        (b"example.com,1.5,1", "bad_weight"),
        (b"example.com,3,0", "bad_rank"),
        (b"example.com,3,x", "bad_rank"),
        (b"bad..name,3,1", "empty_label"),
        (b",3,1", "empty"),
    ],
)
def test_csv_cell_rejects(tmp_path: Path, row: bytes, reason: str) -> None:
    path = write(tmp_path, "l.csv", b"domain,weight,rank\n" + row + b"\nfine.example,2.0,1\n")
    with read_domains(path) as stream:
        items = [item for chunk in stream for item in chunk]
        assert stream.rejects == (Reject(2, row.decode(), reason),)
    assert items == [InputDomain("fine.example", 1, 2)]


def test_tranco_rank_zero_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", b"0,zero.example\n1,one.example\n")
    with read_domains(path) as stream:
        assert [i.domain for c in stream for i in c] == ["one.example"]
        assert stream.rejects == (Reject(1, "0,zero.example", "bad_rank"),)
