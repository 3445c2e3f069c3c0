"""Formats: text, CSV, Tranco, Parquet told apart by content, gzip by magic, bad files refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from input_files import TEXT, TEXT_EXPECTED, parquet_bytes, read_all, write

from survey.errors import InputError
from survey.input.formats import InputFormat
from survey.input.stream import InputDomain, read_domains

CSV = b'Domain,Messages,Rank\r\nexample.com,10,2\r\n"example.org","3",1\r\nexample.net,,\r\n'


CSV_EXPECTED = [
    InputDomain("example.com", 2, 10),
    InputDomain("example.org", 1, 3),
    InputDomain("example.net", None, None),
]


TRANCO = b"1,google.com\n2,youtube.com\n3,Facebook.COM\n"


TRANCO_EXPECTED = [
    InputDomain("google.com", 1, None),
    InputDomain("youtube.com", 2, None),
    InputDomain("facebook.com", 3, None),
]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("name", "content", "kind", "expected"),
    [
        ("list.txt", TEXT, InputFormat.TEXT, TEXT_EXPECTED),
        ("list", TEXT, InputFormat.TEXT, TEXT_EXPECTED),
        ("list.csv", CSV, InputFormat.CSV, CSV_EXPECTED),
        ("list.txt", CSV, InputFormat.CSV, CSV_EXPECTED),  # content decides, not the suffix
        ("top-1m.csv", TRANCO, InputFormat.TRANCO, TRANCO_EXPECTED),
        ("one-column.csv", b"domain\nexample.com\n", InputFormat.CSV, TEXT_EXPECTED[:1]),
        ("bom.csv", b"\xef\xbb\xbfdomain,weight\nexample.com,4\n", InputFormat.CSV, None),
    ],
)
def test_text_formats(
    tmp_path: Path,
    name: str,
    content: bytes,
    kind: InputFormat,
    expected: list[InputDomain] | None,
    gz: bool,
) -> None:
    path = write(tmp_path, name, content, gz)
    with read_domains(path) as stream:
        assert stream.layout.format is kind
        assert stream.layout.gzipped is gz
        items = [item for chunk in stream for item in chunk]
    assert items == (expected or [InputDomain("example.com", None, 4)])


def test_gzip_is_recognised_by_magic_not_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "list.txt", gzip.compress(TEXT))
    assert read_all(path) == TEXT_EXPECTED
    plain_named_gz = write(tmp_path, "plain.txt.gz", TEXT)
    assert read_all(plain_named_gz) == TEXT_EXPECTED


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"\n  \n\t\n", "empty"),
        ("nodomain.csv", b"name,count\nexample.com,3\n", "domain"),
        ("reversed.csv", b"example.com,1\n", "domain"),
        ("garbage.bin", bytes(range(256)) * 8, "binary"),
        ("garbage2.txt", b"\xff\xfe\x81\x90\xc3" * 20 + b"\n", "binary"),
        ("fake.parquet", b"example.com\n", "Parquet"),
        ("truncated.txt", gzip.compress(b"example.com\n" * 1000)[:-30], "cannot read"),
    ],
)
def test_unusable_files_raise(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(InputError, match=message):
        read_all(path)


@pytest.mark.parametrize("gz", [False, True])
def test_empty_gzip_and_parquet_without_domain(tmp_path: Path, gz: bool) -> None:
    with pytest.raises(InputError, match="empty"):
        read_domains(write(tmp_path, "e.txt", b"", gz=True))
    no_domain = parquet_bytes(tmp_path, {"host": ["example.com"]})
    with pytest.raises(InputError, match="domain"):
        read_domains(write(tmp_path, "n.parquet", no_domain, gz))
