"""Flow tables (CSV, gzip CSV, Parquet): rows as records, bad rows refused alone, a broken
table refused whole with nothing of it kept."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from survey.flows.aggregate import Refusal
from survey.flows.archive import Limits
from survey.flows.group import GroupReader
from survey.flows.signers import SignerTable
from survey.flows.tables import TableRow, read_table
from survey.schema.flow_values import Alignment, DkimResult, FlowReject, FlowWarning, SpfResult

HEADER = "header_from,dkim_domains,dkim_results,spf_domain,spf_result,messages"


def rows(tmp_path: Path, text: str, name: str = "t.csv") -> list[TableRow | Refusal]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return list(read_table(path))


def test_a_csv_row_becomes_a_record(tmp_path: Path) -> None:
    line = "Example.com,example.com; sendgrid.net ,fail;PASS,bounce.x.net,softfail,12,s"
    text = f"{HEADER},adkim\n{line}\n"
    (row,) = rows(tmp_path, text)
    assert isinstance(row, TableRow)
    record = row.record
    assert (record.index, record.count, record.header_from) == (2, 12, "Example.com")
    assert [(d.domain, d.result) for d in record.dkim] == [
        ("example.com", DkimResult.FAIL),
        ("sendgrid.net", DkimResult.PASS),
    ]
    assert [(s.domain, s.result) for s in record.spf] == [("bounce.x.net", SpfResult.SOFTFAIL)]
    assert row.adkim == Alignment.STRICT and row.aspf is None


def test_empty_cells_mean_no_signature_and_no_spf(tmp_path: Path) -> None:
    (row,) = rows(tmp_path, f"{HEADER}\nexample.com,,,,,3\n")
    assert isinstance(row, TableRow) and row.record.dkim == () and row.record.spf == ()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("example.com,,,,,many", FlowReject.BAD_COUNT),
        ("example.com,,,,,-1", FlowReject.BAD_COUNT),
        ("example.com,,,,,", FlowReject.BAD_COUNT),
        (",,,,,3", FlowReject.MISSING_HEADER_FROM),
        ("example.com,a.example;b.example,pass,,,3", FlowReject.BAD_ROW),
        ("example.com,,,,", FlowReject.BAD_ROW),
        ("example.com,,,,,3,extra", FlowReject.BAD_ROW),
    ],
)
def test_bad_rows_are_refused_alone(tmp_path: Path, line: str, reason: FlowReject) -> None:
    found = rows(tmp_path, f"{HEADER}\nok.example,,,,,1\n{line}\nok.example,,,,,2\n")
    assert [type(r).__name__ for r in found] == ["TableRow", "Refusal", "TableRow"]
    refusal = found[1]
    assert isinstance(refusal, Refusal) and (refusal.reason, refusal.record) == (reason, 3)


def test_unknown_results_are_kept_as_null_with_a_warning(tmp_path: Path) -> None:
    (row,) = rows(tmp_path, f"{HEADER}\nexample.com,example.com,passed,,,1\n")
    assert isinstance(row, TableRow)
    assert row.record.dkim[0].result is None
    assert row.record.warnings == (FlowWarning.UNKNOWN_VALUE,)


def test_gzip_csv_and_parquet(tmp_path: Path) -> None:
    (tmp_path / "t.csv.gz").write_bytes(gzip.compress(f"{HEADER}\nexample.com,,,,,4\n".encode()))
    assert [r.record.count for r in read_table(tmp_path / "t.csv.gz")] == [4]  # type: ignore[union-attr]
    table = pa.table(
        {
            "header_from": ["example.com", "example.org"],
            "dkim_domains": ["example.com", None],
            "dkim_results": ["pass", None],
            "spf_domain": [None, "example.org"],
            "spf_result": [None, "pass"],
            "messages": pa.array([5, 6], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    found = list(read_table(tmp_path / "t.parquet"))
    assert [(r.record.index, r.record.count) for r in found] == [(1, 5), (2, 6)]  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["domain,messages\nexample.com,3\n", ""])
def test_a_table_without_the_columns_is_refused_whole(tmp_path: Path, text: str) -> None:
    (refusal,) = rows(tmp_path, text)
    assert isinstance(refusal, Refusal) and refusal.reason == FlowReject.BAD_TABLE
    assert refusal.record is None


def test_a_table_that_breaks_half_way_keeps_nothing(tmp_path: Path) -> None:
    body = "".join(f"example{i}.com,,,,,1\n" for i in range(5000))
    packed = gzip.compress(f"{HEADER}\n{body}".encode())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) * 2 // 3])
    (tmp_path / "ok.csv").write_text(f"{HEADER}\nexample.net,,,,,7\n")
    reader = GroupReader(SignerTable.load(), Limits())
    result = reader.read([tmp_path / "cut.csv.gz", tmp_path / "ok.csv"])
    assert result.rows.table()["header_from"].to_pylist() == ["example.net"]
    assert [r["reason"] for r in result.rejects] == ["bad_table"]
    counts = result.counts
    assert (counts["documents"], counts["parsed"], counts["rejected"]) == (2, 1, 1)
    assert (counts["records"], counts["rows"], counts["messages"]) == (1, 1, 7)
