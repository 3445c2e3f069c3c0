"""Reading domain lists: formats, gzip, normalisation, rejects, de-duplication, chunking."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from survey.errors import InputError
from survey.input.stream import (
    REJECT_REASONS,
    InputCounts,
    InputDomain,
    InputFormat,
    Reject,
    normalise,
    read_domains,
    validate,
)


def _write(tmp_path: Path, name: str, content: bytes, gz: bool = False) -> Path:
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def _parquet_bytes(tmp_path: Path, columns: dict[str, list[object]]) -> bytes:
    scratch = tmp_path / "scratch.parquet"
    pq.write_table(pa.table(columns), scratch, row_group_size=2)
    return scratch.read_bytes()


def _all(path: Path, **options: object) -> list[InputDomain]:
    with read_domains(path, **options) as stream:  # type: ignore[arg-type]
        return [item for chunk in stream for item in chunk]


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised", "reason"),
    [
        ("Example.COM", "example.com", None),
        ("  example.com.  ", "example.com", None),  # one trailing dot removed
        ("example.com..", "example.com.", "empty_label"),  # only one
        ("Bücher.de", "xn--bcher-kva.de", None),  # U-label → A-label
        ("ＥＸＡＭＰＬＥ．ｃｏｍ", "example.com", None),  # UTS46 maps fullwidth forms and dots
        ("faß.de", "xn--fa-hia.de", None),  # non-transitional: ß kept (IDNA2008)
        ("例え.テスト", "xn--r8jz45g.xn--zckzah", None),
        ("xn--bcher-kva.de", "xn--bcher-kva.de", None),  # A-labels pass as they are
        ("r3--sn-abc.googlevideo.com", "r3--sn-abc.googlevideo.com", None),  # ASCII: no IDNA
        ("a\u200d.com", "a\u200d.com", "idna_error"),  # ZWJ outside its CONTEXTJ rule
        ("", "", "empty"),
        ("com", "com", "single_label"),
        ("localhost", "localhost", "single_label"),
        ("a..com", "a..com", "empty_label"),
        (".example.com", ".example.com", "empty_label"),
        ("a" * 64 + ".com", "a" * 64 + ".com", "label_too_long"),
        ("a" * 63 + ".com", "a" * 63 + ".com", None),
        (".".join(["a" * 63] * 4), ".".join(["a" * 63] * 4), "name_too_long"),  # 255
        (".".join(["a" * 63] * 3 + ["a" * 61]), ".".join(["a" * 63] * 3 + ["a" * 61]), None),
        ("_dmarc.example.com", "_dmarc.example.com", "invalid_character"),  # underscore refused
        ("exa mple.com", "exa mple.com", "invalid_character"),
        ("*.example.com", "*.example.com", "invalid_character"),
        ("example.com,5", "example.com,5", "invalid_character"),
        ("-example.com", "-example.com", "invalid_hyphen"),
        ("example-.com", "example-.com", "invalid_hyphen"),
        ("192.0.2.1", "192.0.2.1", "ip_address"),
        ("2001:db8::1", "2001:db8::1", "ip_address"),
        ("[2001:DB8::1]", "[2001:db8::1]", "ip_address"),
        ("1.2.3", "1.2.3", "numeric_tld"),
        ("999.1.1.1", "999.1.1.1", "numeric_tld"),
        ("1.example.com", "1.example.com", None),
    ],
)
def test_normalise_and_validate(text: str, normalised: str, reason: str | None) -> None:
    assert normalise(text) == normalised
    assert validate(normalised) == reason


def test_every_reason_is_documented() -> None:
    assert all(REJECT_REASONS[code] for code in REJECT_REASONS)
    assert {"line_too_long", "bad_rank", "bad_weight", "invalid_encoding"} <= REJECT_REASONS.keys()


# --- formats ---------------------------------------------------------------------------------

TEXT = b"# a list\nExample.COM\n\nwww.example.org.  # trailing comment\n  b\xc3\xbccher.de\n"
TEXT_EXPECTED = [
    InputDomain("example.com", None, None),
    InputDomain("www.example.org", None, None),
    InputDomain("xn--bcher-kva.de", None, None),
]
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
    path = _write(tmp_path, name, content, gz)
    with read_domains(path) as stream:
        assert stream.layout.format is kind
        assert stream.layout.gzipped is gz
        items = [item for chunk in stream for item in chunk]
    assert items == (expected or [InputDomain("example.com", None, 4)])


def test_gzip_is_recognised_by_magic_not_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path, "list.txt", gzip.compress(TEXT))
    assert _all(path) == TEXT_EXPECTED
    plain_named_gz = _write(tmp_path, "plain.txt.gz", TEXT)
    assert _all(plain_named_gz) == TEXT_EXPECTED


def test_weight_column_wins_over_messages(tmp_path: Path) -> None:
    path = _write(tmp_path, "l.csv", b"messages,domain,weight\n1,example.com,7\n")
    assert _all(path) == [InputDomain("example.com", None, 7)]


@pytest.mark.parametrize("gz", [False, True])
def test_parquet(tmp_path: Path, gz: bool) -> None:
    columns: dict[str, list[object]] = {
        "Domain": ["Example.com", None, "bad_name.com", "example.org", "example.com", "x.net"],
        "messages": [1.0, 2.0, 3.0, float("nan"), 5.0, -1.0],
        "rank": [4, 3, 2, 1, None, 6],
    }
    path = _write(tmp_path, "list.parquet", _parquet_bytes(tmp_path, columns), gz)
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


# --- whole-file errors -----------------------------------------------------------------------


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
    path = _write(tmp_path, name, content)
    with pytest.raises(InputError, match=message):
        _all(path)


@pytest.mark.parametrize("gz", [False, True])
def test_empty_gzip_and_parquet_without_domain(tmp_path: Path, gz: bool) -> None:
    with pytest.raises(InputError, match="empty"):
        read_domains(_write(tmp_path, "e.txt", b"", gz=True))
    no_domain = _parquet_bytes(tmp_path, {"host": ["example.com"]})
    with pytest.raises(InputError, match="domain"):
        read_domains(_write(tmp_path, "n.parquet", no_domain, gz))


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_domains(tmp_path / "absent.txt")
    with pytest.raises(InputError):
        read_domains(_write(tmp_path, "l.txt", TEXT), chunk_size=0)


# --- rejects ---------------------------------------------------------------------------------

REJECTING = (
    b"example.com\n"  # 1
    b"=cmd|' /C calc'!A0\n"  # 2
    b"-lead.example\n"  # 3
    b"caf\xe9.example\n"  # 4: Latin-1, not UTF-8
    + b"a"
    * 10_000  # 5: a very long line, no crash
    + b"\n192.0.2.7\n"  # 6
    b"com\n"  # 7
    b"ok.example\n"  # 8
)


@pytest.mark.parametrize("gz", [False, True])
def test_rejects_carry_line_numbers_and_go_to_csv(tmp_path: Path, gz: bool) -> None:
    path = _write(tmp_path, "l.txt", REJECTING, gz)
    out = tmp_path / "rejects.csv"
    with read_domains(path, rejects_to=out) as stream:
        items = [item.domain for chunk in stream for item in chunk]
        rejects = stream.rejects
        assert stream.counts == InputCounts(lines=8, accepted=2, rejected=6, duplicates=0)
    assert items == ["example.com", "ok.example"]
    assert [(r.line, r.reason) for r in rejects] == [
        (2, "invalid_character"),
        (3, "invalid_hyphen"),
        (4, "invalid_encoding"),
        (5, "line_too_long"),
        (6, "ip_address"),
        (7, "single_label"),
    ]
    assert rejects[2].text == "caf\\xe9.example"
    assert rejects[3].text == "a" * 256  # only the head of a too-long line is kept
    with out.open(encoding="utf-8", newline="") as saved:
        rows = list(csv.reader(saved))
    assert rows[0] == ["line", "text", "reason"]
    assert rows[1] == ["2", "'=cmd|' /C calc'!A0", "invalid_character"]  # formula defused
    assert rows[2] == ["3", "'-lead.example", "invalid_hyphen"]
    assert len(rows) == 7


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
    path = _write(tmp_path, "l.csv", b"domain,weight,rank\n" + row + b"\nfine.example,2.0,1\n")
    with read_domains(path) as stream:
        items = [item for chunk in stream for item in chunk]
        assert stream.rejects == (Reject(2, row.decode(), reason),)
    assert items == [InputDomain("fine.example", 1, 2)]


def test_tranco_rank_zero_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.csv", b"0,zero.example\n1,one.example\n")
    with read_domains(path) as stream:
        assert [i.domain for c in stream for i in c] == ["one.example"]
        assert stream.rejects == (Reject(1, "0,zero.example", "bad_rank"),)


# --- de-duplication, chunks, determinism -----------------------------------------------------

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


@pytest.mark.parametrize("memory_limit", [1, 2, 1_000])  # 1 and 2 take the bucket-file path
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 50_000])
def test_dedup_across_chunks(tmp_path: Path, memory_limit: int, chunk_size: int) -> None:
    path = _write(tmp_path, "d.csv", DUPLICATES)
    with read_domains(path, chunk_size=chunk_size, memory_limit=memory_limit) as stream:
        chunks = list(stream)
        assert stream.counts == InputCounts(lines=7, accepted=7, rejected=0, duplicates=3)
        assert stream.counts.unique == 4
    assert all(len(chunk) <= chunk_size for chunk in chunks)
    assert [item for chunk in chunks for item in chunk] == DEDUPLICATED


def test_same_input_gives_same_chunks(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", DUPLICATES, gz=True)
    with read_domains(path, chunk_size=3, memory_limit=2) as stream:
        first, again = list(stream), list(stream)  # iterating again replays the same chunks
    with read_domains(path, chunk_size=3, memory_limit=2) as other:
        assert list(other) == first == again


def test_counts_are_final_before_the_first_chunk(tmp_path: Path) -> None:
    with read_domains(_write(tmp_path, "d.csv", DUPLICATES)) as stream:
        assert stream.counts.lines == 0
        stream.prepare()
        assert stream.counts == InputCounts(lines=7, accepted=7, rejected=0, duplicates=3)


def _big_list(count: int) -> bytes:
    """`count` Tranco rows where every third row repeats the name of the row before."""
    rows = [f"{n + 1},n{n - 1 if n % 3 == 2 else n}.example\n" for n in range(count)]
    return "".join(rows).encode("ascii")


def test_spilling_to_buckets_on_200k_lines(tmp_path: Path) -> None:
    """200k lines through the bounded-memory path (20k names held in memory at most)."""
    path = _write(tmp_path, "big.csv", _big_list(200_000), gz=True)
    with read_domains(path, chunk_size=30_000, memory_limit=20_000) as stream:
        chunks = list(stream)
        counts = stream.counts
    assert [len(chunk) for chunk in chunks] == [30_000] * 4 + [13_334]
    assert counts == InputCounts(lines=200_000, accepted=200_000, rejected=0, duplicates=66_666)
    expected = (InputDomain(f"n{n}.example", n + 1, None) for n in range(200_000) if n % 3 != 2)
    assert [item for chunk in chunks for item in chunk] == list(expected)


def test_temp_files_are_removed_on_close(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    path = _write(tmp_path, "d.csv", DUPLICATES)
    with read_domains(path, memory_limit=1, tmp_dir=scratch) as stream:
        list(stream)
        assert any(scratch.iterdir())
    assert not any(scratch.iterdir())
