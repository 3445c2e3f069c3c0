"""Tallies of every complete snapshot side by side, ordered by label.

A trend table is long: one row per snapshot and category, with `label`, the category column,
`count`, `share`, and the per-point `n`, `unresolved`, `unresolved_domains` and `total` as columns
(they differ from point to point when the input lists differ). Its `attrs` hold `by` and
`trend=True`. The `domain_counts` table has one row per snapshot.

Each snapshot's tables come from its tally set (`survey.report.tallies`): read when current,
computed and stored when missing or stale; the trend tables are ones no report option changes,
so a set made by `survey report` with any options serves.

Snapshots that cannot be shown are skipped with a note in `Trend.notes` (never misread): a schema
version this survey does not read (refused by `Snapshot.open`), an unreadable manifest, a scan
still running or interrupted, parts that disagree with the manifest. A snapshot without message
volumes is left out of the volume tables, also with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from survey.errors import SnapshotError
from survey.report import tally
from survey.report.tallies import Options, Tables, tally_snapshot
from survey.report.tally import By
from survey.store.snapshot import Snapshot, list_snapshots

#: Trend table name → the snapshot table it follows.
TREND_TABLES: dict[str, Callable[[pd.DataFrame, By], pd.DataFrame]] = {
    "types": tally.types,
    "policy_effective": tally.policy_effective,
    "policy_effective_9989": tally.policy_effective_9989,
    "report_types": tally.report_types,
    "rua_vendors": lambda frame, by: tally.vendors(frame, "rua", by),
    "ruf_vendors": lambda frame, by: tally.vendors(frame, "ruf", by),
}
POINT_COLUMNS = ("n", "unresolved", "unresolved_domains", "total")


@dataclass(frozen=True, slots=True)
class Trend:
    """The shown snapshots' labels, the tables (`<name>_<by>` and `domain_counts`), the notes."""

    labels: tuple[str, ...]
    tables: dict[str, pd.DataFrame]
    notes: tuple[str, ...]


def open_complete(snapshots: Path | str) -> tuple[list[Snapshot], list[str]]:
    """The complete snapshots under `snapshots` ordered by label, and a note per one skipped."""
    shown: list[Snapshot] = []
    notes: list[str] = []
    for folder in list_snapshots(snapshots):
        try:
            snapshot = Snapshot.open(folder)
        except SnapshotError as exc:
            notes.append(f"skipped {folder.name}: {exc}")
            continue
        if snapshot.is_complete:
            shown.append(snapshot)
        else:
            notes.append(
                f"skipped {snapshot.label}: scan status is {snapshot.status!r}, "
                "only complete snapshots are shown"
            )
    return sorted(shown, key=lambda s: s.label), notes


def _point(table: pd.DataFrame, label: str) -> pd.DataFrame:
    point = table.copy()
    point.insert(0, "label", label)
    for column in POINT_COLUMNS:
        point[column] = table.attrs[column]
    return point


def _aligned(tables: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Stack per-snapshot tables; a category missing at one point counts 0 there. Categories
    keep their table order; open-ended ones (vendors) are ordered by the latest count."""
    key = tables[0][1].columns[0]
    keys = list(dict.fromkeys(k for _, table in reversed(tables) for k in table[key]))
    points = []
    for label, table in tables:
        filled = table.set_index(key).reindex(keys, fill_value=0).reset_index()
        filled.attrs = table.attrs
        points.append(_point(filled, label))
    return pd.concat(points, ignore_index=True)


Point = tuple[str, Tables]


def trend_table(points: Sequence[Point], name: str, by: By) -> pd.DataFrame:
    """Trend of table `name` over `(label, tables)` points (points without weights left out of
    volume trends)."""
    tables = [(label, tables[by][name]) for label, tables in points if by in tables]
    table = _aligned(tables) if tables else pd.DataFrame()
    table.attrs = {"by": by, "trend": True}
    return table


def domain_counts(points: Sequence[Point]) -> pd.DataFrame:
    """Per snapshot: domains, resolved, unresolved (type null), messages (null without weights),
    from the attrs of its type tables."""
    rows = []
    for label, tables in points:
        types = tables["domains"]["types"].attrs
        volume = tables.get("volume", {}).get("types")
        rows.append(
            {
                "label": label,
                "domains": int(types["total"]),
                "resolved": int(types["n"]),
                "unresolved": int(types["unresolved_domains"]),
                "messages": None if volume is None else int(volume.attrs["total"]),
            }
        )
    table = pd.DataFrame(rows, columns=["label", "domains", "resolved", "unresolved", "messages"])
    table["messages"] = table["messages"].astype("Int64")
    return table


def trend_tables(points: Sequence[Point]) -> dict[str, pd.DataFrame]:
    """Every trend table, named `<name>_<by>`, plus `domain_counts`."""
    tables = {
        f"{name}_{by}": trend_table(points, name, by) for by in tally.BY for name in TREND_TABLES
    }
    tables["domain_counts"] = domain_counts(points)
    return tables


def _volume_notes(points: Sequence[Point]) -> list[str]:
    return [
        f"{label}: no message volumes in the input; left out of the volume trends"
        for label, tables in points
        if "volume" not in tables
    ]


def _points(shown: Sequence[Snapshot], notes: list[str]) -> list[Point]:
    points = []
    for snapshot in shown:
        try:
            tallied = tally_snapshot(snapshot, Options(), any_options=True)
        except SnapshotError as exc:
            notes.append(f"skipped {snapshot.label}: {exc}")
            continue
        points.append((snapshot.label, tallied.tables))
    return points


def trend(snapshots: Path | str) -> Trend:
    """Every complete snapshot under `snapshots`, tallied (or its tallies read), side by side."""
    shown, notes = open_complete(snapshots)
    points = _points(shown, notes)
    if not points:
        raise SnapshotError(f"no complete snapshot under {snapshots}" + _joined(notes))
    notes += _volume_notes(points)
    return Trend(tuple(label for label, _ in points), trend_tables(points), tuple(notes))


def _joined(notes: Sequence[str]) -> str:
    return "".join(f"; {note}" for note in notes)
