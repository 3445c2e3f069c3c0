"""Flow snapshots side by side, ordered by label: the trend tables of `survey.report.trend` (one
row per snapshot and category, with each point's `n`, left-out amounts and total) over the flow
tables no option changes, and `flow_counts` (one row per snapshot: messages, From domains,
the reports' period).

Each snapshot's tables come from its tally set (`survey.report.flow_tallies`), computed and
stored when missing. A flow snapshot that cannot be shown (a run not complete, parts that
disagree with the manifest, an unreadable part) is skipped with a note, never misread. Folders
that are not flow snapshots (DNS snapshots) are no part of a flow trend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from survey.errors import SnapshotError
from survey.report.flow_tallies import tally_flows
from survey.report.tally import BY
from survey.report.trend import Point, Trend, trend_table
from survey.schema.flow_columns import FLOW_SCHEMA_VERSION
from survey.store.flows import FlowSnapshot
from survey.store.snapshot import list_snapshots, read_manifest

#: The flow tables a trend follows, by both units.
FLOW_TREND_TABLES = ("flow_dkim", "flow_spf", "flow_dmarc", "flow_disposition", "flow_services")
COUNT_COLUMNS = ["label", "messages", "from_domains", "period_begin", "period_end"]


def is_flow_folder(folder: Path) -> bool:
    """True when `folder` holds a flow snapshot's manifest (by its schema version)."""
    try:
        return read_manifest(folder).get("schema_version") == FLOW_SCHEMA_VERSION
    except SnapshotError:
        return False


def split_kinds(snapshots: Path | str) -> tuple[list[Path], list[Path]]:
    """The snapshot folders under `snapshots`: flow snapshots, and all others (DNS ones)."""
    folders = list_snapshots(snapshots)
    flows = [f for f in folders if is_flow_folder(f)]
    return flows, [f for f in folders if f not in flows]


def open_complete_flows(folders: Sequence[Path]) -> tuple[list[FlowSnapshot], list[str]]:
    shown: list[FlowSnapshot] = []
    notes: list[str] = []
    for folder in folders:
        snapshot = FlowSnapshot.open(folder)
        if snapshot.is_complete:
            shown.append(snapshot)
        else:
            notes.append(
                f"skipped {snapshot.label}: flow run status is {snapshot.status!r}, "
                "only complete flow snapshots are shown"
            )
    return sorted(shown, key=lambda s: s.label), notes


def _points(shown: Sequence[FlowSnapshot], notes: list[str]) -> list[Point]:
    points: list[Point] = []
    for snapshot in shown:
        try:
            tallied = tally_flows(snapshot)
        except SnapshotError as exc:
            notes.append(f"skipped {snapshot.label}: {exc}")
            continue
        points.append((snapshot.label, tallied.tables))
    return points


def flow_counts(points: Sequence[Point]) -> pd.DataFrame:
    """Per flow snapshot: messages, distinct From domains, the reports' period."""
    rows = []
    for label, tables in points:
        volume, domains = tables["volume"]["flow_dkim"].attrs, tables["domains"]["flow_dkim"].attrs
        rows.append(
            {
                "label": label,
                "messages": int(volume["total"]),
                "from_domains": int(domains["total"]),
                "period_begin": volume.get("period_begin"),
                "period_end": volume.get("period_end"),
            }
        )
    return pd.DataFrame(rows, columns=COUNT_COLUMNS)


def flow_trend_tables(points: Sequence[Point]) -> dict[str, pd.DataFrame]:
    """Every flow trend table, named `<name>_<by>` (`volume` first), plus `flow_counts`."""
    tables = {
        f"{name}_{by}": trend_table(points, name, by)
        for by in reversed(BY)
        for name in FLOW_TREND_TABLES
    }
    tables["flow_counts"] = flow_counts(points)
    return tables


def flow_trend(folders: Sequence[Path], where: Path | str) -> Trend:
    """The complete flow snapshots among `folders` (found under `where`), side by side."""
    shown, notes = open_complete_flows(folders)
    points = _points(shown, notes)
    if not points:
        joined = "".join(f"; {note}" for note in notes)
        raise SnapshotError(f"no complete flow snapshot under {where}{joined}")
    return Trend(tuple(label for label, _ in points), flow_trend_tables(points), tuple(notes))
