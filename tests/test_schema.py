"""The one schema: closed value sets, problem codes, the column table, and what derives from it."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from survey.lab.compare import COMPARED, LOOKUPS
from survey.report.tally import REPORT_COLUMNS, TREND_COLUMNS
from survey.schema.codes import DkimCode, Dmarc9989Code, DmarcCode, ProblemCode, SpfCode
from survey.schema.columns import (
    ARROW_SCHEMA,
    COLUMNS,
    NAMES,
    ROW_NAMES,
    markdown_table,
    values_outside_schema,
)
from survey.schema.values import DomainType, Outcome, ProblemKind, Status
from survey.store.snapshot import SCHEMA
from survey.verdict.row import VERDICT_FIELDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_verdict_row_is_the_column_table_but_the_scan_stamp() -> None:
    assert VERDICT_FIELDS == ROW_NAMES
    assert [*ROW_NAMES, "scanned_at"] == sorted(NAMES, key=[*ROW_NAMES, "scanned_at"].index)


def test_parts_are_written_with_the_column_table_schema() -> None:
    assert SCHEMA.equals(ARROW_SCHEMA)
    assert [f.name for f in SCHEMA] == [c.name for c in COLUMNS]


@pytest.mark.parametrize(
    ("reader", "names"),
    [("report", REPORT_COLUMNS), ("trend", TREND_COLUMNS), ("lab", (*COMPARED, *LOOKUPS))],
)
def test_readers_name_only_schema_columns(reader: str, names: tuple[str, ...]) -> None:
    assert set(names) <= set(NAMES), reader


def test_the_readme_schema_table_is_the_column_table() -> None:
    assert markdown_table() in README


@pytest.mark.parametrize("code", [*DmarcCode, *Dmarc9989Code, *SpfCode, *DkimCode], ids=str)
def test_every_code_has_a_kind_a_meaning_and_a_readme_row(code: ProblemCode) -> None:
    assert code.kind in ProblemKind and code.meaning
    assert f"| `{code}` | {code.kind} | {code.meaning} |" in README


def test_codes_are_snake_case_and_lookups_by_value_work() -> None:
    for code in (*DmarcCode, *Dmarc9989Code, *SpfCode, *DkimCode):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert type(code)(str(code)) is code
    with pytest.raises(ValueError):
        DmarcCode("no_such_code")


def test_a_status_is_published_when_a_record_was() -> None:
    assert {s for s in Status if s.is_published} == {Status.VALID, Status.INVALID}
    assert {o for o in Outcome if o.is_answer} == {Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA}


def test_values_outside_the_schema_are_found_in_plain_and_list_columns() -> None:
    table = pa.table(
        {
            "type": pa.array(["A", "G", None]),
            "dmarc_errors": pa.array([["p_invalid"], ["p_invlaid"], []]),
            "domain": pa.array(["x", "y", "z"]),  # open: never checked
        }
    )
    assert values_outside_schema(table) == {"type": {"G"}, "dmarc_errors": {"p_invlaid"}}
    clean = table.set_column(0, "type", pa.array([str(DomainType.A), None, None]))
    assert values_outside_schema(clean.drop_columns(["dmarc_errors"])) == {}


@pytest.mark.parametrize(
    "codes", [DmarcCode, Dmarc9989Code, SpfCode, DkimCode], ids=lambda c: c.__name__
)
def test_the_readme_code_tables_are_the_code_definitions(codes: type[ProblemCode]) -> None:
    assert codes.markdown() in README
