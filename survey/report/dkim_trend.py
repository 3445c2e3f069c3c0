"""`survey trend` for DKIM: the found share and the providers over the snapshots (issue 13).

The DKIM tables of each shown snapshot (`survey.report.dkim`, computed out of core) side by side
as `survey.report.trend` lays out its own: `dkim_adoption_<by>` (found / none_found / absent)
and `dkim_providers_<by>`. Snapshots whose scan asked no DKIM (`--no-dkim`, or made before
DKIM was measured) are left out of these two, and said so in the notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from survey.report import dkim, tally
from survey.report.trend import open_complete, trend_table

TRENDED = ("dkim_adoption", "dkim_providers")


def dkim_trend_tables(
    snapshots: Path | str, labels: Iterable[str]
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The DKIM trend tables over the complete snapshots of `labels`, and a note per snapshot
    without DKIM verdicts."""
    wanted = set(labels)
    points, notes = [], []
    for snapshot in open_complete(snapshots)[0]:
        if snapshot.label not in wanted:
            continue
        tables = dkim.snapshot_tables(snapshot)
        if tables:
            points.append((snapshot.label, tables))
        else:
            notes.append(f"{snapshot.label}: no DKIM verdicts; left out of the DKIM trends")
    if not points:
        return {}, notes
    found = {f"{name}_{by}": trend_table(points, name, by) for by in tally.BY for name in TRENDED}
    return found, notes
