"""What a person sees while a scan runs: a progress bar with rate, ETA and types so far.

Shown only on a terminal; silent under `--quiet` or when stderr is not a TTY (cron, CI).
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from survey.scan.pipeline import ChunkDone, ScanSummary

TYPE_ORDER = ("A", "B", "C", "D", "E", "F", "unresolved")


class ScanDisplay:
    def __init__(self, enabled: bool = True) -> None:
        self._console = Console(stderr=True)
        self._enabled = enabled and sys.stderr.isatty()
        self._types: Counter[str] = Counter()
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> ScanDisplay:
        if self._enabled:
            self._progress = Progress(
                TextColumn("[bold]scan"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[types]}"),
                console=self._console,
            )
            self._progress.start()
            self._task = self._progress.add_task("scan", total=None, rate="", types="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, event: ChunkDone) -> None:
        self._types.update(event.types)
        if self._progress is None:
            return
        if event.total is not None:
            self.set_total(event.total)
        self._progress.advance(self._task, event.domains)
        task = self._progress.tasks[0]
        speed = task.speed or 0.0
        types = " ".join(f"{k}:{self._types[k]}" for k in TYPE_ORDER if self._types[k])
        self._progress.update(self._task, rate=f"{speed:,.0f}/s", types=types)

    def set_total(self, total: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def print_summary(self, summary: ScanSummary) -> None:
        print_summary(summary.manifest, Console())


def print_summary(manifest: dict[str, Any], console: Console) -> None:
    """The end-of-scan table: accounting, lookup outcomes, types."""
    table = Table(title=f"snapshot {manifest['label']}: {manifest['status']}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in manifest.get("input", {}).items():
        if isinstance(value, int):
            table.add_row(f"input {key}", f"{value:,}")
    table.add_row("rows", f"{manifest.get('rows', 0):,}")
    for question, counts in manifest.get("outcomes", {}).items():
        for outcome, n in sorted(counts.items()):
            if outcome != "null":
                table.add_row(f"{question} lookups {outcome}", f"{n:,}")
    types = manifest.get("types", {})
    for name in ("A", "B", "C", "D", "E", "F"):
        table.add_row(f"type {name}", f"{types.get(name, 0):,}")
    table.add_row("unresolved", f"{manifest.get('unresolved', 0):,}")
    if "elapsed_seconds" in manifest:
        table.add_row("seconds", f"{manifest['elapsed_seconds']:,.1f}")
    console.print(table)
