"""A watch list followed over months: each named domain's DMARC policy (and the other checks)
snapshot by snapshot, and which domains moved, e.g. to `p=reject`.

`survey trend SNAPSHOTS --watchlist W.csv` writes, beside the trend, `watchlist/`:
`watchlist_trend.csv` (a row per domain and snapshot, every scorecard check's state and word),
`watchlist_moves.csv` / `.md` (per domain: the DMARC policy in the first and the last snapshot
where it was seen, and the first snapshot at which it reached `p=reject`), and a grid of the
DMARC cells over time (`watchlist_dmarc.png`/`.svg`). A month in which a domain was not in the
snapshot says not scanned; a failed lookup says unresolved: neither is a move.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from survey.report import charts
from survey.report.charts import Lang
from survey.report.scorecard import (
    CHECKS,
    COLOURS,
    CellState,
    ScoredDomain,
    WatchEntry,
    read_watchlist,
    score,
    snapshot_rows,
)
from survey.report.write import check_lang, md_escape
from survey.schema.values import Policy, Status
from survey.store.snapshot import Snapshot

#: label → the watch list scored against that snapshot.
History = dict[str, list[ScoredDomain]]
MAX_COLUMNS = 24  # months on one grid: two years of monthly snapshots


@dataclass(frozen=True, slots=True)
class Move:
    entry: WatchEntry
    first: str | None  # the effective policy in the first snapshot that had an answer
    last: str | None  # … and in the last
    reject_at: str | None  # the first snapshot at which it applied p=reject after not doing so


def history(snapshots: Sequence[Snapshot], entries: Sequence[WatchEntry]) -> tuple[History, dict]:
    """The watch list scored against every snapshot (in label order), and the raw rows."""
    domains = [e.domain for e in entries]
    rows = {s.label: snapshot_rows(s, domains) for s in snapshots}
    return {label: score(entries, found) for label, found in rows.items()}, rows


def moves(entries: Sequence[WatchEntry], rows: Mapping[str, Mapping[str, Any]]) -> list[Move]:
    """Where each domain's effective DMARC policy started and ended, and when it reached reject.
    Months without an answer (not scanned, unresolved) are left out: they are not a policy."""
    found = []
    for entry in entries:
        policies = [
            (label, _policy(by_domain.get(entry.domain))) for label, by_domain in rows.items()
        ]
        seen = [(label, policy) for label, policy in policies if policy is not _UNKNOWN]
        found.append(
            Move(
                entry,
                seen[0][1] if seen else None,
                seen[-1][1] if seen else None,
                _reached_reject(seen),
            )
        )
    return found


_UNKNOWN = object()


def _policy(row: Mapping[str, Any] | None) -> Any:
    """The effective policy of a row ("none" when no DMARC policy applies); unknown when the
    domain was not scanned or its lookup failed."""
    if row is None or row.get("dmarc_status") in (None, Status.ERROR):
        return _UNKNOWN
    return str(row.get("dmarc_effective_p") or "none")


def _reached_reject(seen: Sequence[tuple[str, Any]]) -> str | None:
    for (_, before), (label, now) in itertools.pairwise(seen):
        if now == Policy.REJECT and before != Policy.REJECT:
            return label
    return None


def write_watch_trend(
    snapshots: Sequence[Snapshot],
    watchlist: Path,
    out: Path,
    lang: Lang = "en",
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """The watch list over `snapshots` into `out` (see the module docstring); the files."""
    entries = read_watchlist(watchlist)
    scored, rows = history(snapshots, entries)
    out.mkdir(parents=True, exist_ok=True)
    files = [_write_history(scored, out / "watchlist_trend.csv")]
    files += _write_moves(moves(entries, rows), out)
    figure = _grid(scored, entries, lang)
    files += charts.save(figure, out / "watchlist_dmarc", formats)
    return files


def _write_history(scored: History, path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["label", "domain", *(f"{c}_{p}" for c in CHECKS for p in ("state", "text"))]
        )
        for label, items in scored.items():
            for item in items:
                cells = [v for c in CHECKS for v in (item.cells[c].state, item.cells[c].text)]
                writer.writerow([label, item.entry.domain, *cells])
    return path


def _write_moves(found: Sequence[Move], out: Path) -> list[Path]:
    csv_path, md_path = out / "watchlist_moves.csv", out / "watchlist_moves.md"
    header = ["domain", "group", "name", "first_policy", "last_policy", "reject_at"]
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for move in found:
            e = move.entry
            writer.writerow([e.domain, e.group, e.name, move.first, move.last, move.reject_at])
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for move in found:
        e = move.entry
        cells = (e.domain, e.group, e.name, move.first, move.last, move.reject_at)
        lines.append("| " + " | ".join(md_escape(c if c is not None else "") for c in cells) + " |")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [csv_path, md_path]


TITLE = {"en": "Watch list: DMARC over time", "ja": "ウォッチリスト: DMARC の推移"}


def _grid(scored: History, entries: Sequence[WatchEntry], lang: Lang) -> Figure:
    """Domains down, snapshots across (the last MAX_COLUMNS), each cell the DMARC state."""
    labels = list(scored)[-MAX_COLUMNS:]
    with matplotlib.rc_context(charts.chart_rc(lang)):
        figure = charts.new_figure()
        subtitle = f"{labels[0]} – {labels[-1]} · n = {len(entries)}" if labels else ""
        charts.header(figure, TITLE[lang], subtitle)
        axes = figure.add_axes((0.03, 0.06, 0.94, 0.74))
        axes.set_xlim(0, 1)
        axes.set_ylim(len(entries) + 0.6, -0.3)
        axes.axis("off")
        _cells(axes, scored, labels, entries)
    return figure


def _cells(
    axes: Axes, scored: History, labels: Sequence[str], entries: Sequence[WatchEntry]
) -> None:
    size = max(9.0, min(18.0, 380 / max(len(entries), 1)))
    left, width = 0.3, 0.7 / max(len(labels), 1)
    for column, label in enumerate(labels):
        axes.text(left + column * width + 0.005, 0.05, label, fontsize=size, va="center")
    for row, entry in enumerate(entries, start=1):
        axes.text(0.0, row, entry.name[:36], fontsize=size, va="center")
        for column, label in enumerate(labels):
            cell = scored[label][row - 1].cells["dmarc"]
            x = left + column * width
            box = Rectangle((x + 0.002, row - 0.42), width - 0.004, 0.84, color=COLOURS[cell.state])
            axes.add_patch(box)
            shown = "" if cell.state is CellState.NOT_SCANNED else cell.text.replace("p=", "")
            colour = "white" if cell.state in _DARK else charts.INK
            text = f"{cell.mark} {shown}"[:14]
            axes.text(x + 0.006, row, text, fontsize=size * 0.8, va="center", color=colour)


_DARK = frozenset({CellState.OK, CellState.BAD})


def watch_trend(
    snapshots_folder: Path,
    watchlist: Path,
    out: Path,
    lang: str = "en",
    formats: Sequence[str] = ("png", "svg"),
) -> list[Path]:
    """The watch list over every complete snapshot under `snapshots_folder`."""
    from survey.report.trend import open_complete

    snapshots, _ = open_complete(snapshots_folder)
    return write_watch_trend(snapshots, watchlist, out, check_lang(lang), formats)
