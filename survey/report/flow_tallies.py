"""Tally sets of flow snapshots: the flow report's tables, computed once and kept beside the
records parts as the DNS report keeps its own (`survey.report.tallies`: the same files, stamp,
checksums, lock and whole replacement).

    <flows>/<label>/tallies/stamp.json
    <flows>/<label>/tallies/<table>_<by>.parquet

The stamp names the flow schema, the snapshot's identity (status, `finished_at`, rows, each
records part's name, size and modification time) and, when the set holds the DNS join, the DNS
snapshot it was joined with (its label and identity). A report with `--dns` reuses a set only
when it was joined with that same DNS snapshot; a report without, and the trend, take any set
(the join's table left aside): no other table depends on the DNS snapshot.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from survey import __version__
from survey.errors import SnapshotError
from survey.report.engine import MEMORY_LIMIT
from survey.report.flow_engine import FlowEngine
from survey.report.flow_tables import Tables, flow_tables
from survey.report.tallies import STAMP, TALLIES, TOOL, check_parts, identity, load, part_files
from survey.report.tallies import store_in as store_tables
from survey.schema.flow_columns import FLOW_SCHEMA_VERSION
from survey.store.flows import FlowSnapshot, parts
from survey.store.snapshot import Snapshot

#: Of the flow tally set itself: bumped when its files change meaning (or TOP_SIGNERS changes).
FLOW_FORMAT = 1
JOINED = "flow_policy"


@dataclass(frozen=True, slots=True)
class FlowTallySet:
    """A flow snapshot's tables by unit, and whether they were read from its tally set."""

    tables: Tables
    reused: bool


def flow_identity(snapshot: FlowSnapshot) -> dict[str, Any]:
    """What the tables were computed from: cheap to take (one stat per part)."""
    manifest = snapshot.manifest
    files = [[p.name, (s := p.stat()).st_size, s.st_mtime_ns] for p in parts(snapshot.folder)]
    return {
        "status": snapshot.status,
        "finished_at": manifest.get("finished_at"),
        "rows": (manifest.get("accounting") or {}).get("rows"),
        "parts": files,
    }


def check_flow_parts(snapshot: FlowSnapshot) -> None:
    """A complete flow snapshot's records parts must hold what its manifest says."""
    files = parts(snapshot.folder)
    rows = sum(_part_rows(snapshot, p) for p in files)
    said_rows = (snapshot.manifest.get("accounting") or {}).get("rows")
    said_parts = snapshot.manifest.get("parts")
    if rows != said_rows or len(files) != said_parts:
        raise SnapshotError(
            f"flow snapshot {snapshot.label} does not match its manifest: its {len(files):,} "
            f"records parts hold {rows:,} rows, the manifest says {said_rows} rows in "
            f"{said_parts} parts (a part was removed, added or replaced); nothing was written"
        )


def _part_rows(snapshot: FlowSnapshot, part: Path) -> int:
    try:
        return int(pq.read_metadata(part).num_rows)
    except (OSError, pa.ArrowException) as exc:
        message = f"flow snapshot {snapshot.label}: part {part.name} cannot be read: {exc}"
        raise SnapshotError(message) from None


def _dns_stamp(dns: Snapshot | None) -> dict[str, Any] | None:
    return None if dns is None else {"label": dns.label, **identity(dns)}


def _stamp(snapshot: FlowSnapshot, dns: Snapshot | None) -> dict[str, Any]:
    return {
        "tool": TOOL,
        "tool_version": __version__,
        "schema_version": FLOW_SCHEMA_VERSION,
        "format": FLOW_FORMAT,
        "snapshot": flow_identity(snapshot),
        "options": {"dns": _dns_stamp(dns)},
    }


def _computed(snapshot: FlowSnapshot, dns: Snapshot | None, spill_under: Path | None) -> Tables:
    try:
        with FlowEngine(parts(snapshot.folder), spill_under) as engine:
            if dns is not None:
                engine.attach_dns(part_files(dns))
            return flow_tables(engine, None if dns is None else dns.label)
    except duckdb.OutOfMemoryException as exc:  # the parts are fine: say what ran short
        first = str(exc).strip().splitlines()[0]
        message = (
            f"flow snapshot {snapshot.label}: DuckDB ran out of its {MEMORY_LIMIT} memory "
            f"limit (is the temporary folder full?): {first}"
        )
        raise SnapshotError(message) from None
    except duckdb.Error as exc:  # a part damaged past its footer, or not a flow part
        first = str(exc).strip().splitlines()[0]
        message = f"flow snapshot {snapshot.label}: its parts cannot be read: {first}"
        raise SnapshotError(message) from None


def _without_join(tables: Tables) -> Tables:
    return {by: {k: t for k, t in named.items() if k != JOINED} for by, named in tables.items()}


def tally_flows(
    snapshot: FlowSnapshot, dns: Snapshot | None = None, *, spill_under: Path | None = None
) -> FlowTallySet:
    """The flow snapshot's tables (joined with the complete DNS snapshot `dns` when given):
    its stored set when current, else computed (and stored when the snapshot is complete)."""
    wanted = _stamp(snapshot, dns)
    folder = snapshot.folder / TALLIES
    if snapshot.is_complete:
        stored = load(folder, wanted, any_options=dns is None)
        if stored is not None:
            return FlowTallySet(_without_join(stored) if dns is None else stored, reused=True)
        check_flow_parts(snapshot)
        if (folder / STAMP).exists():
            why = "out of date" if dns is None else f"not joined with {dns.label} or out of date"
            print(f"note: tallies of {snapshot.label} are {why}: recomputed", file=sys.stderr)
    if dns is not None:
        check_parts(dns)
    tables = _computed(snapshot, dns, spill_under)
    if snapshot.is_complete:
        store_tables(snapshot.folder, snapshot.label, tables, wanted)
    return FlowTallySet(tables, reused=False)
