"""Domain-list files for the input tests: written plain or gzipped, and read back whole."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from survey.input.stream import InputDomain, read_domains


def write(tmp_path: Path, name: str, content: bytes, gz: bool = False) -> Path:
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def parquet_bytes(tmp_path: Path, columns: dict[str, list[object]]) -> bytes:
    scratch = tmp_path / "scratch.parquet"
    pq.write_table(pa.table(columns), scratch, row_group_size=2)
    return scratch.read_bytes()


def read_all(path: Path, **options: object) -> list[InputDomain]:
    with read_domains(path, **options) as stream:  # type: ignore[arg-type]
        return [item for chunk in stream for item in chunk]


TEXT = b"# a list\nExample.COM\n\nwww.example.org.  # trailing comment\n  b\xc3\xbccher.de\n"


TEXT_EXPECTED = [
    InputDomain("example.com", None, None),
    InputDomain("www.example.org", None, None),
    InputDomain("xn--bcher-kva.de", None, None),
]


DUPLICATES = (
    b"domain,weight,rank\n"
    b"a.example,1,5\n"
    b"b.example,2,\n"
    b"A.example.,10,3\n"  # same as line 2 after normalisation
    b"c.example,,9\n"
    b"d.example,4,4\n"
    b"b.example,,1\n"
    b"a.example,100,7\n"
)


DEDUPLICATED = [
    InputDomain("a.example", 3, 111),
    InputDomain("b.example", 1, 2),
    InputDomain("c.example", 9, None),
    InputDomain("d.example", 4, 4),
]
