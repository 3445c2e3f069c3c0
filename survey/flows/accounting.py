"""The flow manifest's figures, read back from the parts on disk (exact across resumes): the
input accounting each part carries, messages by class, and the rejects by reason."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from survey.flows.group import COUNTS
from survey.store.flows import RECORDS_DIR, REJECTS_DIR, group_of, parts
from survey.store.snapshot import write_atomically

#: Columns whose messages the manifest sums by value.
BY_MESSAGES = ("format", "dkim", "spf", "dmarc", "disposition")


def tally(folder: Path) -> dict[str, Any]:
    """Counts for the manifest; `balanced` when every document and record is accounted for."""
    totals: Counter[str] = Counter()
    for path in parts(folder, RECORDS_DIR):
        totals.update(group_of(path)["counts"])
    counts = {name: int(totals[name]) for name in COUNTS}
    counts["balanced"] = (
        counts["documents"] == counts["parsed"] + counts["rejected"]
        and counts["records"] == counts["rows"] + counts["records_rejected"]
    )
    return {"accounting": counts, "messages_by": messages_by(folder), "rejects": rejects_by(folder)}


def messages_by(folder: Path) -> dict[str, dict[str, int]]:
    """Messages summed per value of each BY_MESSAGES column (`null` for nulls)."""
    sums: dict[str, Counter[str]] = {name: Counter() for name in BY_MESSAGES}
    for path in parts(folder, RECORDS_DIR):
        table = pq.read_table(path, columns=[*BY_MESSAGES, "messages"])
        for name in BY_MESSAGES:
            keyed = table.set_column(
                table.schema.get_field_index(name), name, pc.fill_null(table[name], "null")
            )
            for row in keyed.group_by(name).aggregate([("messages", "sum")]).to_pylist():
                sums[name][row[name]] += int(row["messages_sum"] or 0)
    return {name: dict(sorted(sums[name].items())) for name in BY_MESSAGES}


def rejects_by(folder: Path) -> dict[str, int]:
    reasons: Counter[str] = Counter()
    for path in parts(folder, REJECTS_DIR):
        reasons.update(pq.read_table(path, columns=["reason"])["reason"].to_pylist())
    return dict(sorted(reasons.items()))


def write_rejects_csv(folder: Path, target: Path) -> None:
    """All reject parts, in group order, as one CSV (atomically)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["input_file", "input_member", "record", "reason", "detail"])
    for path in parts(folder, REJECTS_DIR):
        for row in pq.read_table(path).to_pylist():
            writer.writerow(["" if v is None else _cell(v) for v in row.values()])
    write_atomically(target, text.getvalue().encode("utf-8", "surrogateescape"))


def _cell(value: object) -> str:
    """A cell that a spreadsheet will not run as a formula (file names come from mail)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
