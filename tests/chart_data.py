"""A snapshot built to break chart layouts: 22 report vendors (some with long names), 40-character
report domains, 12-digit message counts, every problem code, and example records with everything
a TXT record can hold (very long text, line breaks, `$`, control and format characters, private
use and astral characters, Japanese)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from snapshot_factory import write_snapshot

from survey.report import tally, trend
from survey.schema.codes import DmarcCode, SpfCode
from survey.schema.values import ProblemKind
from survey.store.snapshot import Snapshot

ROWS = 66
VENDORS = [
    "Enterprise Mail Authentication Reporting Services International Holdings",
    "Red Sift OnDMARC",
    "Dollar$ign$ Reports",
    *(f"Vendor {i:02d} with a rather long commercial name GmbH & Co. KG" for i in range(3, 12)),
    *(f"Vendor{i:02d}" for i in range(12, 22)),
]
# 40 characters each, none a vendor's: the `other` destinations.
REPORT_DOMAINS = [f"dmarc-reports-{i:02d}.long-destination.example" for i in range(30)]
RECORDS = [
    "v=DMARC1; p=monitor; " + "rua=mailto:dmarc-reports@example.com," * 12,
    "v=DMARC1; p=none\nv=DMARC1; p=reject\tsp=none",
    "v=DMARC1; p=$reject$; rua=mailto:$a$@example.com; x=$\\frac{1}{2}$",
    "v=DMARC1;\x00\x1b[31m p=none;\x7f\x85 rua=mailto:a@b.example",
    "v=DMARC1; p=quarentena; note=\u202egnirts desrever\u202c \u200b\ufeff",
    "v=DMARC1; p=none; \ue000\U0001f600\U0001d54f 𠮷 ﷽ e\u0301",
    "v=DMARC1; p=none; rua=mailto:レポート@例え.jp; コメント=日本語の長いテキストです",
    "=cmd|' /C calc'!A0 <b>`x`</b> v=DMARC1; p=reject; rua=<bad>",
]
LABELS = [f"2025-{month:02d}" for month in range(1, 13)]
LABELS += ["2026-01-isp-senders", "2026-02-isp-sender-domains-of-one-day"]
TYPES = "ABCDEF"


def _codes(kind: type[DmarcCode] | type[SpfCode], problem: ProblemKind) -> list[str]:
    return [str(code) for code in kind if code.kind is problem]


DMARC_ERRORS, DMARC_WARNINGS = (_codes(DmarcCode, k) for k in ProblemKind)
SPF_ERRORS, SPF_WARNINGS = (_codes(SpfCode, k) for k in ProblemKind)


def _dmarc(i: int, kind: str | None) -> dict[str, Any]:
    if kind is None:
        return {"dmarc_status": "error"}
    status = {"A": "valid", "C": "valid", "B": "invalid", "D": "invalid"}.get(kind, "absent")
    if status == "absent":
        return {"dmarc_status": status}
    policy = ("none", "quarantine", "reject", "monitor")[i % 4]
    return {
        "dmarc_status": status,
        "dmarc_p": policy,
        "dmarc_sp": ("reject", None, "quarentena")[i % 3],
        "dmarc_effective_p": policy if policy != "monitor" else None,
        "dmarc_pct": (None, 50, 100)[i % 3],
        "dmarc_record": RECORDS[i % len(RECORDS)],
        "report_type": "ABCD"[i % 4],
        "dmarc_errors": [DMARC_ERRORS[i % 19], DMARC_ERRORS[(i + 7) % 19]]
        if status == "invalid"
        else [],
        "dmarc_warnings": [DMARC_WARNINGS[i % len(DMARC_WARNINGS)]],
    }


def _reports(i: int) -> dict[str, Any]:
    vendors = [VENDORS[i % 22], VENDORS[(i * 5 + 3) % 22]]
    vendors += ["self"] * (i % 3 == 0) + ["other"] * (i % 4 == 0)
    host = REPORT_DOMAINS[i % len(REPORT_DOMAINS)]
    return {
        "rua_hosts": [host, f"rua.vendor{i % 22}.example"],
        "rua_vendors": vendors,
        "ruf_hosts": [REPORT_DOMAINS[(i + 3) % len(REPORT_DOMAINS)]],
        "ruf_vendors": [VENDORS[(i * 3) % 22], "other"],
    }


def _spf(i: int, kind: str | None) -> dict[str, Any]:
    if kind is None:
        return {"spf_status": "error"}
    if kind in "CDF":
        return {"spf_status": "absent"}
    invalid = kind == "B"
    return {
        "spf_status": "invalid" if invalid else "valid",
        "spf_all": None if invalid else ("-all", "~all", "?all", "+all", "redirect", "none")[i % 6],
        "spf_record": "v=spf1 " + "ip4:192.0.2.1 " * 30 + "$x$ ~all\nv=spf1 -all",
        "spf_errors": [SPF_ERRORS[i % 6], SPF_ERRORS[(i + 1) % 6]] if invalid else [],
        "spf_warnings": [SPF_WARNINGS[i % len(SPF_WARNINGS)]],
    }


def row(i: int) -> dict[str, Any]:
    kind = None if i % 11 == 10 else TYPES[i % 6]
    domain = f"domain-{i:02d}.example"
    fields: dict[str, Any] = {
        "domain": domain,
        "org_domain": domain,
        "rank": i + 1,
        "weight": 10_000_000_000 + i * 123_456_789,  # n by volume: 12 digits
        "type": kind,
        **_dmarc(i, kind),
        **_spf(i, kind),
    }
    if fields["dmarc_status"] in ("valid", "invalid"):
        fields.update(_reports(i))
    return fields


def _vendor_of(host: str, policy_org: str) -> str:
    return "other" if host in REPORT_DOMAINS else "Vendor"


NAMING = tally.HostNaming(_vendor_of, lambda host: host)


def write_hostile(root: Path, label: str = "2026-02-isp-sender-domains-of-one-day") -> Path:
    """The snapshot, written through the real writer; returns its folder."""
    return write_snapshot(root, label, [row(i) for i in range(ROWS)])


def inflated(table: pd.DataFrame, factor: int = 10**10) -> pd.DataFrame:
    """`table` as if every domain were `factor` domains: 12-digit counts by domains too."""
    bigger = table.copy()
    bigger["count"] = bigger["count"].astype("int64") * factor
    bigger.attrs = dict(table.attrs)
    for key in ("n", "unresolved", "unresolved_domains", "total"):
        bigger.attrs[key] = int(table.attrs[key]) * factor
    return bigger


def hostile_tables(folder: Path) -> dict[str, dict[str, pd.DataFrame]]:
    """Every table of the snapshot (`by` → name → table), by-domains counts inflated."""
    frame = tally.read_frame(Snapshot.open(folder))
    tables = {by: tally.snapshot_tables(frame, by, 5, "rank", NAMING) for by in tally.BY}
    tables["domains"] = {name: inflated(t) for name, t in tables["domains"].items()}
    return tables


def hostile_trend(tables: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The trend tables of 14 snapshots (long labels among them) of these tables."""
    points = [(label, tables) for label in LABELS]
    return trend.trend_tables(points)  # type: ignore[arg-type]
