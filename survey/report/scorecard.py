"""A watch-list scorecard: DMARC (its effective policy under RFC 7489 and under RFC 9989), SPF,
DKIM and DNSSEC of each named domain, as a talk's table.

The watch list is a CSV with a `domain` column and, optionally, `group` and `name` (the name
shown). Each domain's row comes from a snapshot (or from a check made on the spot, handed in
by the caller); every cell is judged into a closed set of states, so that a failed lookup is
shown as unresolved and a domain that was never scanned as not scanned, never as absent:

- ok ✔: in place: DMARC p=quarantine/reject, SPF ending -all/~all/redirect, DKIM keys found,
  DNSSEC secure;
- warn !: published with a weakness: DMARC p=none or invalid, SPF ?all/+all/no all or
  invalid, DKIM: none of the listed selectors answers, DNSSEC bogus;
- bad ✘: absent (the DNS said so; DNSSEC: unsigned);
- unresolved ?: a lookup the cell needs failed;
- not scanned –: the domain is not in the snapshot;
- not measured n/a: the snapshot has no such column (an older schema).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from survey.errors import InputError
from survey.input.names import normalise, validate
from survey.schema.values import DkimStatus, Policy, SpfAll, Status
from survey.store.snapshot import COLUMNS as SNAPSHOT_COLUMNS
from survey.store.snapshot import Snapshot


class CellState(StrEnum):
    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    UNRESOLVED = "unresolved"
    NOT_SCANNED = "not_scanned"
    NOT_MEASURED = "not_measured"


MARKS = {
    CellState.OK: "✔",
    CellState.WARN: "!",
    CellState.BAD: "✘",
    CellState.UNRESOLVED: "?",
    CellState.NOT_SCANNED: "–",
    CellState.NOT_MEASURED: "n/a",
}
#: Okabe–Ito colours (distinguishable with the common colour-vision deficiencies).
COLOURS = {
    CellState.OK: "#009E73",
    CellState.WARN: "#E69F00",
    CellState.BAD: "#D55E00",
    CellState.UNRESOLVED: "#999999",
    CellState.NOT_SCANNED: "#DDDDDD",
    CellState.NOT_MEASURED: "#F2F2F2",
}
CHECKS = ("dmarc", "dmarc9989", "spf", "dkim", "dnssec")
#: The snapshot columns the scorecard reads (those of a newer schema may be missing).
COLUMNS = (
    "domain",
    "dmarc_status",
    "dmarc_effective_p",
    "dmarc9989_status",
    "dmarc9989_effective_p",
    "dmarc9989_t",
    "spf_status",
    "spf_all",
    "dkim_status",
    "dkim_selectors",
    "dnssec",
)


@dataclass(frozen=True, slots=True)
class WatchEntry:
    domain: str
    group: str
    name: str


@dataclass(frozen=True, slots=True)
class Cell:
    state: CellState
    text: str  # what the cell says beside its mark: a policy, an `all`, a key count…

    @property
    def mark(self) -> str:
        return MARKS[self.state]


@dataclass(frozen=True, slots=True)
class ScoredDomain:
    entry: WatchEntry
    cells: Mapping[str, Cell]  # check → cell, in CHECKS order


def read_watchlist(path: Path) -> list[WatchEntry]:
    """The watch list's entries in file order; a row whose domain is unusable is an error
    naming its line (a watch list is short and hand-made: better to fix it than skip it)."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as lines:
            rows = list(csv.DictReader(lines))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read the watch list {path}: {exc}") from exc
    if not rows or "domain" not in rows[0]:
        raise InputError(f"watch list {path}: needs a header with a domain column")
    entries = []
    for line, row in enumerate(rows, start=2):
        domain = normalise(row.get("domain") or "")
        if reason := validate(domain):
            raise InputError(f"watch list {path}, line {line}: {row.get('domain')!r}: {reason}")
        name = (row.get("name") or "").strip() or domain
        entries.append(WatchEntry(domain, (row.get("group") or "").strip(), name))
    return entries


def score(
    entries: Sequence[WatchEntry], rows: Mapping[str, Mapping[str, Any]]
) -> list[ScoredDomain]:
    """Every entry's cells from its row (`rows`: domain → snapshot row; absent: not scanned)."""
    scored = []
    for entry in entries:
        row = rows.get(entry.domain)
        if row is None:
            cells = {check: Cell(CellState.NOT_SCANNED, "") for check in CHECKS}
        else:
            cells = {check: JUDGES[check](row) for check in CHECKS}
        scored.append(ScoredDomain(entry, cells))
    return scored


def _status_cell(status: Any) -> Cell | None:
    """The cell every record check shares: absent, unresolved, not measured; else None."""
    if status is None:
        return Cell(CellState.NOT_MEASURED, "")
    if status == Status.ERROR:
        return Cell(CellState.UNRESOLVED, "unresolved")
    if status == Status.ABSENT:
        return Cell(CellState.BAD, "none")
    return None


def dmarc_cell(row: Mapping[str, Any], prefix: str = "dmarc") -> Cell:
    """The effective policy under RFC 7489 (`prefix` dmarc) or RFC 9989 (dmarc9989, where
    t=y, test mode, is said beside the policy it applies)."""
    status = row.get(f"{prefix}_status")
    if (shared := _status_cell(status)) is not None:
        return shared
    policy = row.get(f"{prefix}_effective_p")
    testing = " (t=y)" if row.get(f"{prefix}_t") == "y" else ""
    if status == Status.INVALID:
        return Cell(CellState.WARN, f"invalid, p={policy}{testing}" if policy else "invalid")
    if policy in (Policy.QUARANTINE, Policy.REJECT):
        return Cell(CellState.OK, f"p={policy}{testing}")
    return Cell(CellState.WARN, f"p={policy or 'none'}{testing}")


def dmarc9989_cell(row: Mapping[str, Any]) -> Cell:
    return dmarc_cell(row, "dmarc9989")


def spf_cell(row: Mapping[str, Any]) -> Cell:
    status = row.get("spf_status")
    if (shared := _status_cell(status)) is not None:
        return shared
    ending = row.get("spf_all")
    if status == Status.INVALID:
        return Cell(CellState.WARN, "invalid")
    if ending in (SpfAll.FAIL, SpfAll.SOFTFAIL, SpfAll.REDIRECT):
        return Cell(CellState.OK, str(ending))
    return Cell(CellState.WARN, str(ending or "no all"))


def dkim_cell(row: Mapping[str, Any]) -> Cell:
    status = row.get("dkim_status")
    if status is None:
        return Cell(CellState.NOT_MEASURED, "")
    if status == DkimStatus.FOUND:
        selectors = row.get("dkim_selectors") or ()
        return Cell(CellState.OK, f"{len(selectors)} key(s)")
    if status == DkimStatus.NONE_FOUND:
        return Cell(CellState.WARN, "no listed selector")
    if status == DkimStatus.ABSENT:
        return Cell(CellState.BAD, "none")
    return Cell(CellState.UNRESOLVED, "unresolved")


_DNSSEC = {
    "secure": Cell(CellState.OK, "secure"),
    "insecure": Cell(CellState.BAD, "unsigned"),
    "bogus": Cell(CellState.WARN, "bogus"),
    "error": Cell(CellState.UNRESOLVED, "unresolved"),
}


def dnssec_cell(row: Mapping[str, Any]) -> Cell:
    value = row.get("dnssec")
    return _DNSSEC.get(str(value), Cell(CellState.NOT_MEASURED, "")) if value else _DNSSEC_NA


_DNSSEC_NA = Cell(CellState.NOT_MEASURED, "")
JUDGES = {
    "dmarc": dmarc_cell,
    "dmarc9989": dmarc9989_cell,
    "spf": spf_cell,
    "dkim": dkim_cell,
    "dnssec": dnssec_cell,
}


def snapshot_rows(snapshot: Snapshot, domains: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The watch-list domains' rows, reading only the scorecard's columns of this schema."""
    import pyarrow.dataset as ds

    columns = [c for c in COLUMNS if c in SNAPSHOT_COLUMNS]
    wanted = ds.field("domain").isin(list(dict.fromkeys(domains)))
    table = snapshot.dataset().to_table(columns=columns, filter=wanted)
    return {row["domain"]: row for row in table.to_pylist()}
