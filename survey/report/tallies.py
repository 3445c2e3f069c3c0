"""Tally sets: a snapshot's tables, computed once and kept beside its parts.

    <snapshot>/tallies/stamp.json           what the set was computed from, and each table's attrs
    <snapshot>/tallies/<table>_<by>.parquet  one file per table

The stamp names the tool and schema versions, the snapshot's identity (the manifest's status,
`finished_at` and `rows`; each part's name, size and modification time) and the options that
change tables (`top`, `top_by`, the host naming's key). A set is reused only when all of these
match and every file has the checksum its stamp gives; otherwise it is recomputed and replaced
whole: written into a folder of its own, then swapped in by rename, under the snapshot's lock (a
scan writing the snapshot holds it). Tallies are kept for complete snapshots only; an incomplete
one (`--allow-incomplete`) is tallied in memory every time.

Before computing, the parts are checked against the manifest (part count and rows): a
snapshot whose parts disagree is refused with one error line, and nothing is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from survey import __version__
from survey.errors import SnapshotError
from survey.report.engine import Engine
from survey.report.tables import aggregate, snapshot_tables
from survey.report.tally import By, HostNaming, TopBy
from survey.schema.columns import SCHEMA_VERSION
from survey.store.snapshot import LOCK, PARTS_DIR, Snapshot, write_atomically

TALLIES = "tallies"
STAMP = "stamp.json"
FORMAT = 1  # of the tally set itself: bumped when its files change meaning
TOOL = "dmarc-survey"

Tables = dict[By, dict[str, pd.DataFrame]]


@dataclass(frozen=True, slots=True)
class Options:
    """What changes a snapshot's tables besides its rows. `naming=None`: no `other` tables."""

    top: int | None = None
    top_by: TopBy | None = None
    naming: HostNaming | None = None

    def stamp(self) -> dict[str, Any]:
        key = None if self.naming is None else (self.naming.key or f"unkeyed:{id(self.naming)}")
        return {"top": self.top, "top_by": self.top_by, "naming": key}


@dataclass(frozen=True, slots=True)
class TallySet:
    """A snapshot's tables by unit (`domains`, and `volume` when it has weights)."""

    tables: Tables
    reused: bool

    @property
    def rows(self) -> int:
        return int(self.tables["domains"]["types"].attrs["total"])


def part_files(snapshot: Snapshot) -> list[Path]:
    return sorted((snapshot.folder / PARTS_DIR).glob("part-*.parquet"))


def identity(snapshot: Snapshot) -> dict[str, Any]:
    """What the tables were computed from: cheap to take (one stat per part)."""
    manifest = snapshot.manifest
    parts = [[p.name, (s := p.stat()).st_size, s.st_mtime_ns] for p in part_files(snapshot)]
    return {
        "status": snapshot.status,
        "finished_at": manifest.get("finished_at"),
        "rows": manifest.get("rows"),
        "parts": parts,
    }


def check_parts(snapshot: Snapshot) -> None:
    """A complete snapshot's parts must hold what its manifest says (count and rows)."""
    parts = part_files(snapshot)
    rows = sum(_part_rows(snapshot, p) for p in parts)
    said_rows, said_parts = snapshot.manifest.get("rows"), snapshot.manifest.get("parts")
    if rows != said_rows or (said_parts is not None and len(parts) != said_parts):
        said = f"{said_rows:,} rows" if isinstance(said_rows, int) else "no row count"
        if said_parts is not None:
            said += f" in {said_parts:,} parts"
        raise SnapshotError(
            f"snapshot {snapshot.label} does not match its manifest: its {len(parts):,} part "
            f"files hold {rows:,} rows, the manifest says {said} (a part was removed, added or "
            "replaced after the scan); nothing was written"
        )


def _part_rows(snapshot: Snapshot, part: Path) -> int:
    try:
        return int(pq.read_metadata(part).num_rows)
    except (OSError, pa.ArrowException) as exc:
        message = f"snapshot {snapshot.label}: part {part.name} cannot be read: {exc}"
        raise SnapshotError(message) from None


def _computed(snapshot: Snapshot, options: Options, spill_under: Path | None) -> Tables:
    try:
        with Engine(part_files(snapshot), spill_under) as engine:
            return snapshot_tables(aggregate(engine, options.top, options.top_by, options.naming))
    except duckdb.Error as exc:  # a part damaged past its footer, or not a snapshot part
        first = str(exc).strip().splitlines()[0]
        message = f"snapshot {snapshot.label}: its parts cannot be read: {first}"
        raise SnapshotError(message) from None


def _stamp(snapshot: Snapshot, options: Options) -> dict[str, Any]:
    return {
        "tool": TOOL,
        "tool_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "format": FORMAT,
        "snapshot": identity(snapshot),
        "options": options.stamp(),
    }


def tally_snapshot(
    snapshot: Snapshot,
    options: Options,
    *,
    any_options: bool = False,
    spill_under: Path | None = None,
) -> TallySet:
    """The snapshot's tables: its stored set when current, else computed (and stored when the
    snapshot is complete). `any_options`: a set made with other options will do (the trend
    reads only tables that no option changes)."""
    wanted = _stamp(snapshot, options)
    folder = snapshot.folder / TALLIES
    if snapshot.is_complete:
        stored = load(folder, wanted, any_options)
        if stored is not None:
            return TallySet(stored, reused=True)
        check_parts(snapshot)
        if (folder / STAMP).exists():
            print(f"note: tallies of {snapshot.label} are out of date: recomputed", file=sys.stderr)
    tables = _computed(snapshot, options, spill_under)
    if snapshot.is_complete:
        store(snapshot, tables, wanted)
    return TallySet(tables, reused=False)


def _matches(stamp: Mapping[str, Any], wanted: Mapping[str, Any], any_options: bool) -> bool:
    keys = [k for k in wanted if k != "options" or not any_options]
    naming = stamp.get("options", {}).get("naming")
    if not any_options and naming is not None and str(naming).startswith("unkeyed:"):
        return False  # a host naming without a key cannot be told from another
    return all(stamp.get(k) == wanted[k] for k in keys)


def load(folder: Path, wanted: Mapping[str, Any], any_options: bool = False) -> Tables | None:
    """The stored set in `folder` if its stamp matches `wanted` and every file is whole."""
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or not _matches(stamp, wanted, any_options):
        return None
    try:
        return _read_tables(folder, stamp["tables"])
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException):
        return None  # a file gone or changed since the stamp: recomputed, never mixed


def _read_tables(folder: Path, entries: Mapping[str, Any]) -> Tables:
    tables: Tables = {}
    for entry in entries.values():
        payload = (folder / entry["file"]).read_bytes()
        if hashlib.sha256(payload).hexdigest() != entry["sha256"]:
            raise ValueError(f"{entry['file']} changed")
        table = pq.read_table(pa.BufferReader(payload)).to_pandas()
        table.attrs = dict(entry["attrs"])
        tables.setdefault(entry["by"], {})[entry["name"]] = table
    return tables


def store(snapshot: Snapshot, tables: Tables, stamp: dict[str, Any]) -> bool:
    """Write the set beside the snapshot's parts, replacing the old one whole; False (with a
    note) when it cannot: the snapshot is locked by a scan, or not writable."""
    return store_in(snapshot.folder, snapshot.label, tables, stamp)


def store_in(folder: Path, label: str, tables: Tables, stamp: dict[str, Any]) -> bool:
    """`store` for any snapshot folder with the store's lock (a flow snapshot too)."""
    try:
        with _locked(folder):
            _swap_in(folder, _write_set(folder, tables, stamp))
        return True
    except (OSError, BlockingIOError) as exc:
        print(f"note: tallies of {label} not stored: {exc}", file=sys.stderr)
        return False


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The snapshot's own lock (a running scan holds it), taken without waiting."""
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_set(folder: Path, tables: Tables, stamp: dict[str, Any]) -> Path:
    for leftover in folder.glob(f".{TALLIES}-*"):  # a write or swap cut short
        shutil.rmtree(leftover, ignore_errors=True)
    fresh = folder / f".{TALLIES}-new-{os.getpid()}"
    fresh.mkdir()
    entries = {}
    for by, named in tables.items():
        for name, table in named.items():
            entries[f"{name}_{by}"] = _write_table(fresh, name, by, table)
    text = json.dumps({**stamp, "tables": entries}, indent=2, default=str) + "\n"
    write_atomically(fresh / STAMP, text.encode())  # last: a set without a stamp is no set
    return fresh


def _write_table(folder: Path, name: str, by: By, table: pd.DataFrame) -> dict[str, Any]:
    stem = f"{name}_{by}"
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink, compression="zstd")
    payload = sink.getvalue().to_pybytes()
    write_atomically(folder / f"{stem}.parquet", payload)
    attrs = {str(k): v for k, v in table.attrs.items()}
    return {
        "file": f"{stem}.parquet",
        "name": name,
        "by": by,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "attrs": attrs,
    }


def _swap_in(folder: Path, fresh: Path) -> None:
    """`fresh` becomes `tallies`; the old set is moved aside first (a crash between the two
    renames leaves no set, which is recomputed), then removed."""
    current, old = folder / TALLIES, folder / f".{TALLIES}-old-{os.getpid()}"
    if current.exists():
        os.replace(current, old)
    os.replace(fresh, current)
    shutil.rmtree(old, ignore_errors=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
