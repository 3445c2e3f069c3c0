"""Comparing a scanned snapshot with the lab's truth (expected.parquet), row by row."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from survey.snapshot import Snapshot

#: The verdict columns the lab states the truth of.
COMPARED = (
    "org_domain",
    "dmarc_status",
    "dmarc_source",
    "dmarc_p",
    "dmarc_sp",
    "dmarc_effective_p",
    "dmarc_pct",
    "dmarc_errors",
    "dmarc_warnings",
    "spf_status",
    "spf_all",
    "spf_errors",
    "spf_warnings",
    "type",
    "report_type",
    "rua_vendors",
    "ruf_vendors",
)
LOOKUPS = ("dmarc_lookup", "spf_lookup", "dmarc_org_lookup")
ANSWERS = frozenset({"ok", "nxdomain", "nodata"})


def cell(value: object) -> object:
    """A comparable cell: lists as tuples, missing as None, whole floats as int."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "__len__") and not isinstance(value, str):
        return tuple(value)  # type: ignore[arg-type]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def rows_by_domain(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    records = frame.to_dict("records")
    return {r["domain"]: {k: cell(v) for k, v in r.items()} for r in records}


def expected_rows(lab_folder: Path) -> dict[str, dict[str, object]]:
    return rows_by_domain(pq.read_table(lab_folder / "expected.parquet").to_pandas())


def snapshot_rows(folder: Path) -> dict[str, dict[str, object]]:
    frame = Snapshot.open(folder).to_pandas(["domain", *COMPARED, *LOOKUPS])
    assert frame.domain.is_unique, "a domain appears twice in the snapshot"
    return rows_by_domain(frame)


def differing(got: dict[str, object], want: dict[str, object], columns: tuple[str, ...]) -> dict:
    return {c: (got[c], want[c]) for c in columns if got[c] != want[c]}
