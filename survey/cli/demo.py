"""`survey demo`: the whole survey offline, from nothing, on loopback.

Generates a lab zone, serves it on 127.0.0.1 (dnslib), scans it into a snapshot, then does the
same for the lab's "next month" (some domains moved from none to reject, new vendors, fixed
mistakes), and writes the report of the later snapshot and the trend over both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from survey.dns.settings import ResolverSettings
from survey.lab.generate import generate_lab
from survey.lab.serve import LabServer
from survey.report.write import write_report, write_trend
from survey.scan.pipeline import Progress, ScanOptions, ScanSummary, run_scan


@dataclass(frozen=True, slots=True)
class DemoResult:
    snapshots: Path
    report: Path
    trend: Path
    summaries: tuple[ScanSummary, ...]


def month_labels(today: dt.date | None = None) -> tuple[str, str]:
    """Last month and this month, as snapshot labels."""
    today = today or dt.datetime.now(dt.UTC).date()
    first = today.replace(day=1)
    previous = first - dt.timedelta(days=1)
    return previous.strftime("%Y-%m"), first.strftime("%Y-%m")


def run_demo(
    out: Path,
    domains: int = 2000,
    lang: str = "en",
    say: Callable[[str], None] = print,
    progress: Progress | None = None,
) -> DemoResult:
    out = Path(out)
    snapshots = out / "snapshots"
    summaries = []
    for epoch, label in enumerate(month_labels()):
        lab = out / f"lab-{label}"
        generate_lab(domains, lab, seed=1, epoch=epoch)
        say(f"lab {label}: {domains} domains generated in {lab}")
        summaries.append(_scan_served_lab(lab, snapshots, label, progress))
        say(f"snapshot {label}: {summaries[-1].status}, {summaries[-1].manifest['rows']} rows")
    report = write_report(summaries[-1].folder, out / "report", lang=lang)
    trend = write_trend(snapshots, out / "trend", lang=lang)
    return DemoResult(snapshots, report, trend, tuple(summaries))


def _scan_served_lab(
    lab: Path, snapshots: Path, label: str, progress: Progress | None
) -> ScanSummary:
    with LabServer(lab / "root.zone", host="127.0.0.1", port=0) as server:
        settings = ResolverSettings(
            nameservers=(f"127.0.0.1:{server.port}",), concurrency=64, timeout=2.0, tries=3
        )
        options = ScanOptions(
            input_path=lab / "domains.csv",
            snapshots=snapshots,
            label=label,
            resolver=settings,
            chunk_size=1000,
        )
        return run_scan(options, progress)
