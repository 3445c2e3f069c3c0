"""Does a scanned snapshot reproduce the lab's truth (expected.parquet)? Row by row.

Used by the end-to-end tests, the fault and crash tests, `scripts/soak` and `scripts/bench`, so
that "the verdicts are exact" means one thing everywhere.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from survey.errors import LabError
from survey.store.snapshot import Snapshot

#: The verdict columns the lab states the truth of.
COMPARED = (
    "org_domain",
    "dmarc_status",
    "dmarc_source",
    "dmarc_p",
    "dmarc_sp",
    "dmarc_effective_p",
    "dmarc_pct",
    "dmarc_errors",
    "dmarc_warnings",
    "spf_status",
    "spf_all",
    "spf_errors",
    "spf_warnings",
    "type",
    "report_type",
    "rua_vendors",
    "ruf_vendors",
    "dnssec",
    "dmarc9989_status",
    "dmarc9989_policy_domain",
    "dmarc9989_org_domain",
    "dmarc9989_effective_p",
    "dmarc9989_np",
    "dmarc9989_psd",
    "dmarc9989_t",
    "dmarc9989_errors",
    "dmarc9989_warnings",
    "dkim_domainkey_lookup",
    "dkim_status",
    "dkim_selectors",
    "dkim_key_types",
    "dkim_key_bits",
    "dkim_revoked",
    "dkim_providers",
    "dkim_errors",
    "dkim_warnings",
    "spf_lookups",
    "spf_void_lookups",
    "spf_result",
    "spf_result_reason",
    "spf_includes",
    "spf_unasked_terms",
)
#: What a scan through c-ares cannot measure (null in its snapshot): survey/dns/cares.py.
NOT_MEASURED_BY_AIODNS = ("dnssec",)
LOOKUPS = ("dmarc_lookup", "spf_lookup", "dmarc_org_lookup")
ANSWERS = frozenset({"ok", "nxdomain", "nodata"})


def cell(value: object) -> object:
    """A comparable cell: lists as tuples (of cells: a list of ints with nulls comes out of
    pandas as floats with NaN), missing as None, whole floats as int."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "__len__") and not isinstance(value, str):
        return tuple(cell(item) for item in value)  # type: ignore[attr-defined]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def rows_by_domain(frame: pd.DataFrame) -> dict[str, dict[str, object]]:
    records = frame.to_dict("records")
    return {str(r["domain"]): {str(k): cell(v) for k, v in r.items()} for r in records}


def expected_rows(lab_folder: Path) -> dict[str, dict[str, object]]:
    return rows_by_domain(pq.read_table(lab_folder / "expected.parquet").to_pandas())


def snapshot_rows(folder: Path) -> dict[str, dict[str, object]]:
    frame = Snapshot.open(folder).to_pandas(["domain", *COMPARED, *LOOKUPS])
    if not frame.domain.is_unique:
        raise LabError(f"a domain appears twice in the snapshot {folder}")
    return rows_by_domain(frame)


def differing(got: dict[str, object], want: dict[str, object], columns: tuple[str, ...]) -> dict:
    return {c: (got[c], want[c]) for c in columns if got[c] != want[c]}


def column_differences(
    snapshot_folder: Path, lab_folder: Path, columns: tuple[str, ...] = COMPARED
) -> dict[str, list[tuple[str, object, object]]]:
    """Per compared column (of `columns`), the (domain, scanned, expected) triples that differ;
    a domain scanned but not expected (or the reverse) is listed under `domain`."""
    got, want = snapshot_rows(snapshot_folder), expected_rows(lab_folder)
    found: dict[str, list[tuple[str, object, object]]] = {}
    for domain in sorted(got.keys() ^ want.keys()):
        found.setdefault("domain", []).append((domain, domain in got, domain in want))
    for domain in sorted(got.keys() & want.keys()):
        for column, (a, b) in differing(got[domain], want[domain], columns).items():
            found.setdefault(column, []).append((domain, a, b))
    return found
