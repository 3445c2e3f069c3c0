"""Opening inputs: plain, gzip and zip reports, tables, folders; limits on what a hostile file
may cost; a broken member costs only itself."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from survey.errors import InputError
from survey.flows.archive import MIB, Document, Kind, Limits, Refused, list_inputs, open_documents
from survey.lab import hostile
from survey.schema.flow_values import FlowReject

REPORT = b"<feedback><record><row><count>1</count></row></record></feedback>"


def zipped(members: list[tuple[str, bytes]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return sink.getvalue()


def opened(tmp_path: Path, data: bytes, limits: Limits | None = None, name: str = "in"):
    path = tmp_path / name
    path.write_bytes(data)
    return list(open_documents(path, limits or Limits()))


def reasons(items: list[Document | Refused]) -> list[str | None]:
    return [item.reason if isinstance(item, Refused) else None for item in items]


def test_plain_gzip_and_zip_reports_are_documents(tmp_path: Path) -> None:
    for data in (REPORT, gzip.compress(REPORT), b"\xef\xbb\xbf  \n" + REPORT):
        (document,) = opened(tmp_path, data)
        assert isinstance(document, Document) and document.kind == Kind.REPORT
        assert document.data.endswith(REPORT)
    items = opened(tmp_path, zipped([("a.xml", REPORT), ("b.xml.gz", gzip.compress(REPORT))]))
    assert [(i.member, i.data) for i in items if isinstance(i, Document)] == [
        ("a.xml", REPORT),
        ("b.xml.gz", REPORT),
    ]


def test_tables_are_found_by_content(tmp_path: Path) -> None:
    for data in (b"header_from,messages\nexample.com,1\n", gzip.compress(b"header_from\nx\n")):
        (document,) = opened(tmp_path, data, name="report.xml")  # the name says nothing
        assert isinstance(document, Document) and document.kind == Kind.TABLE
        assert document.path == tmp_path / "report.xml"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (hostile.not_xml(), FlowReject.UNKNOWN_FORMAT),
        (bytes(range(256)) * 4, FlowReject.UNKNOWN_FORMAT),
        (hostile.truncated_gzip(REPORT * 100), FlowReject.COMPRESSION_ERROR),
        (b"\x1f\x8b\x08\x00garbage", FlowReject.COMPRESSION_ERROR),
        (gzip.compress(gzip.compress(REPORT)), FlowReject.NESTED_ARCHIVE),
        (gzip.compress(zipped([("a.xml", REPORT)])), FlowReject.NESTED_ARCHIVE),
        (gzip.compress(b"\x00\x01\x02binary"), FlowReject.UNKNOWN_FORMAT),
        (b"PK\x03\x04 not really a zip", FlowReject.COMPRESSION_ERROR),
        (zipped([]), FlowReject.NOT_AGGREGATE_REPORT),
    ],
)
def test_files_refused_with_their_reason(tmp_path: Path, data: bytes, reason: FlowReject) -> None:
    assert reasons(opened(tmp_path, data)) == [reason]


def test_the_gzip_and_zip_bombs_stop_at_the_ratio(tmp_path: Path) -> None:
    for data in (hostile.gzip_bomb(4 * MIB), hostile.zip_bomb(4 * MIB)):
        (refused,) = opened(tmp_path, data)
        assert isinstance(refused, Refused) and refused.reason == FlowReject.TOO_LARGE
        assert "compressed bytes" in refused.detail


def test_the_size_limit_holds_for_plain_compressed_and_member(tmp_path: Path) -> None:
    limits = Limits(document_bytes=1000, ratio=10**6)
    big = b"<feedback>" + b" " * 2000 + b"</feedback>"
    for data in (big, gzip.compress(big), zipped([("a.xml", big)])):
        (refused,) = opened(tmp_path, data, limits)
        assert isinstance(refused, Refused) and refused.reason == FlowReject.TOO_LARGE
    assert reasons(opened(tmp_path, REPORT, limits)) == [None]


def test_small_documents_never_trip_the_ratio(tmp_path: Path) -> None:
    # 200 KB of one repeated record compresses far beyond 200:1, but stays under the floor.
    data = b"<feedback>" + REPORT[10:-11] * 3000 + b"</feedback>"
    assert len(data) / len(gzip.compress(data)) > 200
    assert reasons(opened(tmp_path, gzip.compress(data))) == [None]


def test_too_many_members(tmp_path: Path) -> None:
    data = zipped([(f"{i}.xml", REPORT) for i in range(6)])
    (refused,) = opened(tmp_path, data, Limits(members=5))
    assert isinstance(refused, Refused) and refused.reason == FlowReject.TOO_MANY_MEMBERS
    assert len(opened(tmp_path, data, Limits(members=6))) == 6


def test_a_corrupt_member_costs_only_itself(tmp_path: Path) -> None:
    data = hostile.corrupt_member_zip(("ok.xml", REPORT * 10), ("bad.xml", REPORT * 10))
    items = opened(tmp_path, data)
    assert reasons(items) == [None, FlowReject.COMPRESSION_ERROR]
    assert items[1].member == "bad.xml"


def test_bad_members_next_to_good_ones(tmp_path: Path) -> None:
    members = [
        ("a.xml", REPORT),
        ("inner.zip", zipped([("x.xml", REPORT)])),
        ("notes.txt", b"hello"),
        ("b.xml.gz", hostile.truncated_gzip(REPORT * 50)),
        ("folder/c.xml", REPORT),
    ]
    items = opened(tmp_path, zipped(members))
    assert reasons(items) == [
        None,
        FlowReject.NESTED_ARCHIVE,
        FlowReject.UNKNOWN_FORMAT,
        FlowReject.COMPRESSION_ERROR,
        None,
    ]


def test_member_names_are_labels_never_paths(tmp_path: Path) -> None:
    items = opened(tmp_path, zipped([("../../etc/evil.xml", REPORT)]))
    assert items[0].member == "../../etc/evil.xml"
    assert not (tmp_path.parent.parent / "etc" / "evil.xml").exists()


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    assert reasons(list(open_documents(tmp_path / "gone.xml", Limits()))) == [FlowReject.UNREADABLE]


def test_inputs_are_listed_sorted_without_hidden_files_or_repeats(tmp_path: Path) -> None:
    for name in ("b/2.xml", "b/1.xml", "a.xml.gz", ".hidden.xml", "b/.git/x", "c/d/e.zip"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(REPORT)
    found = list_inputs([tmp_path, tmp_path / "a.xml.gz"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.xml.gz",
        "b/1.xml",
        "b/2.xml",
        "c/d/e.zip",
    ]
    with pytest.raises(InputError, match="not found"):
        list_inputs([tmp_path / "nope"])
