"""Tallies of every complete snapshot side by side, ordered by label.

A trend table is long: one row per snapshot and category, with `label`, the category column,
`count`, `share`, and the per-point `n`, `unresolved`, `unresolved_domains` and `total` as columns
(they differ from point to point when the input lists differ). Its `attrs` hold `by` and
`trend=True`. The `domain_counts` table has one row per snapshot.

Snapshots that cannot be shown are skipped with a note in `Trend.notes` (never misread): a schema
version this survey does not read (refused by `Snapshot.open`), an unreadable manifest, a scan
still running or interrupted. A snapshot without message volumes is left out of the volume tables,
also with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from survey.errors import SnapshotError
from survey.report import tally
from survey.report.tally import By
from survey.store.snapshot import Snapshot, list_snapshots

#: Trend table name → the snapshot table it follows.
TREND_TABLES: dict[str, Callable[[pd.DataFrame, By], pd.DataFrame]] = {
    "types": tally.types,
    "policy_effective": tally.policy_effective,
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


def trend_table(
    frames: Sequence[tuple[str, pd.DataFrame]],
    name: str,
    by: By,
) -> pd.DataFrame:
    """Trend of table `name` over `(label, frame)` points (frames without weights left out of
    volume trends)."""
    follow = TREND_TABLES[name]
    tables = [
        (label, follow(f, by)) for label, f in frames if by == "domains" or tally.has_volume(f)
    ]
    table = _aligned(tables) if tables else pd.DataFrame()
    table.attrs = {"by": by, "trend": True}
    return table


def domain_counts(frames: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Per snapshot: domains, resolved, unresolved (type null), messages (null without weights)."""
    rows = [
        {
            "label": label,
            "domains": len(frame),
            "resolved": int(frame["type"].notna().sum()),
            "unresolved": int(frame["type"].isna().sum()),
            "messages": int(frame["weight"].fillna(0).sum()) if tally.has_volume(frame) else None,
        }
        for label, frame in frames
    ]
    table = pd.DataFrame(rows, columns=["label", "domains", "resolved", "unresolved", "messages"])
    table["messages"] = table["messages"].astype("Int64")
    return table


def trend_tables(frames: Sequence[tuple[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Every trend table, named `<name>_<by>`, plus `domain_counts`."""
    tables = {
        f"{name}_{by}": trend_table(frames, name, by) for by in tally.BY for name in TREND_TABLES
    }
    tables["domain_counts"] = domain_counts(frames)
    return tables


def _volume_notes(frames: Sequence[tuple[str, pd.DataFrame]]) -> list[str]:
    return [
        f"{label}: no message volumes in the input; left out of the volume trends"
        for label, frame in frames
        if not tally.has_volume(frame)
    ]


def trend(snapshots: Path | str) -> Trend:
    """Read every complete snapshot under `snapshots` and tabulate the trend."""
    shown, notes = open_complete(snapshots)
    if not shown:
        raise SnapshotError(f"no complete snapshot under {snapshots}" + _joined(notes))
    frames = [(s.label, tally.read_frame(s, tally.TREND_COLUMNS)) for s in shown]
    notes += _volume_notes(frames)
    return Trend(tuple(label for label, _ in frames), trend_tables(frames), tuple(notes))


def _joined(notes: Sequence[str]) -> str:
    return "".join(f"; {note}" for note in notes)
