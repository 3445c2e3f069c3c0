"""Small snapshots with known contents, written through the real SnapshotWriter.

`SAMPLE` has twelve domains chosen so that every table has a known, hand-checked answer (see the
expected values in tests/test_tally.py). `later_sample()` is the same list a month on.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from survey.store.snapshot import COLUMNS, SCHEMA_VERSION, SnapshotWriter, rows_to_table

Row = Mapping[str, Any]

_DEFAULTS: dict[str, Any] = {
    "dmarc_rua": [],
    "dmarc_ruf": [],
    "rua_hosts": [],
    "ruf_hosts": [],
    "rua_vendors": [],
    "ruf_vendors": [],
    "dmarc_errors": [],
    "dmarc_warnings": [],
    "spf_errors": [],
    "spf_warnings": [],
}


def _row(domain: str, rank: int | None, weight: int | None, **fields: Any) -> dict[str, Any]:
    return {
        **_DEFAULTS,
        "domain": domain,
        "org_domain": domain,
        "rank": rank,
        "weight": weight,
        **fields,
    }


def _valid_dmarc(p: str, **fields: Any) -> dict[str, Any]:
    return {"dmarc_status": "valid", "dmarc_p": p, "dmarc_effective_p": p, **fields}


SAMPLE: tuple[dict[str, Any], ...] = (
    _row(
        "a.example",
        1,
        1000,
        type="A",
        report_type="A",
        **_valid_dmarc("reject", dmarc_record="v=DMARC1; p=reject; rua=mailto:d@rua.agari.com"),
        rua_hosts=["rua.agari.com", "a.example"],
        rua_vendors=["Agari", "self"],
        ruf_hosts=["ruf.agari.com"],
        ruf_vendors=["Agari"],
        spf_status="valid",
        spf_all="-all",
        spf_record="v=spf1 -all",
    ),
    _row(
        "b.example",
        2,
        500,
        type="A",
        report_type="B",
        **_valid_dmarc("quarantine", dmarc_sp="reject", dmarc_pct=50),
        dmarc_record="v=DMARC1; p=quarantine; sp=reject; pct=50; x=1",
        rua_hosts=["dmarcian.com"],
        rua_vendors=["dmarcian"],
        dmarc_warnings=["unknown_tag"],
        spf_status="valid",
        spf_all="~all",
        spf_record="v=spf1 mx ~all",
    ),
    _row(
        "c.example",
        3,
        200,
        type="B",
        report_type="B",
        dmarc_status="invalid",
        dmarc_p="monitor",
        dmarc_sp="quarentena",
        dmarc_effective_p="none",
        dmarc_record="v=DMARC1; p=monitor; sp=quarentena; rua=mailto:r@rua.newvendor.io",
        rua_hosts=["rua.newvendor.io"],
        rua_vendors=["other"],
        dmarc_errors=["p_invalid", "sp_invalid"],
        spf_status="valid",
        spf_all="~all",
        spf_record="v=spf1 a ~all",
    ),
    _row(
        "d.example",
        4,
        100,
        type="C",
        report_type="D",
        **_valid_dmarc("none", dmarc_pct=20),
        dmarc_record="v=DMARC1; p=none; pct=20",
        spf_status="absent",
    ),
    _row(
        "e.example",
        5,
        50,
        type="D",
        dmarc_status="invalid",
        dmarc_record="v=DMARC1; p=none\nv=DMARC1; p=reject",
        dmarc_errors=["multiple_records"],
        spf_status="absent",
    ),
    _row(
        "f.example",
        6,
        40,
        type="E",
        dmarc_status="absent",
        spf_status="invalid",
        spf_errors=["multiple_records"],
        spf_record="v=spf1 -all\nv=spf1 ~all",
    ),
    _row(
        "g.example",
        None,
        30,
        type="E",
        dmarc_status="absent",
        spf_status="valid",
        spf_all="+all",
        spf_warnings=["plus_all"],
        spf_record="v=spf1 +all",
    ),
    _row("h.example", 8, 20, type="F", dmarc_status="absent", spf_status="absent"),
    _row(
        "i.example",
        9,
        10,
        dmarc_status="error",
        spf_status="valid",
        spf_all="?all",
        spf_record="v=spf1 ?all",
    ),
    _row(
        "j.example",
        10,
        5,
        report_type="C",
        **_valid_dmarc("reject", dmarc_pct=10),
        dmarc_record="v=DMARC1; p=reject; pct=10",
        ruf_hosts=["valimail.com"],
        ruf_vendors=["Valimail"],
        spf_status="error",
    ),
    _row(
        "k.example",
        11,
        None,
        type="A",
        report_type="B",
        **_valid_dmarc("reject", dmarc_sp="none", dmarc_pct=100),
        dmarc_record="v=DMARC1; p=reject; sp=none; pct=100; y=2",
        rua_hosts=["k.example", "reports.newvendor.io", "x.other.co.uk"],
        rua_vendors=["other", "self"],
        dmarc_warnings=["unknown_tag"],
        spf_status="valid",
        spf_all="redirect",
        spf_record="v=spf1 redirect=_spf.k.example",
    ),
    _row(
        "l.example",
        7,
        0,
        type="B",
        report_type="D",
        dmarc_status="invalid",
        dmarc_p="reject",
        dmarc_effective_p="reject",
        dmarc_errors=["rua_invalid"],
        dmarc_record="=cmd|' /C calc'!A0 <b>`x`</b> v=DMARC1; p=reject; rua=<bad>",
        spf_status="invalid",
        spf_all="-all",
        spf_errors=["mechanism_syntax"],
        spf_record="v=spf1 ip4:300.1.1.1 -all",
    ),
)


def later_sample() -> tuple[dict[str, Any], ...]:
    """A month on: d.example fixed its SPF and moved to reject (C → A), h.example left the list."""
    rows = [dict(row) for row in SAMPLE if row["domain"] != "h.example"]
    for row in rows:
        if row["domain"] == "d.example":
            row.update(type="A", spf_status="valid", spf_all="-all", spf_record="v=spf1 -all")
            row.update(dmarc_p="reject", dmarc_effective_p="reject", dmarc_pct=None)
    return tuple(rows)


def without_weights(rows: Sequence[Row]) -> tuple[dict[str, Any], ...]:
    return tuple({**row, "weight": None} for row in rows)


def manifest(
    label: str, rows: int, status: str = "complete", version: int = SCHEMA_VERSION
) -> dict:
    return {
        "schema_version": version,
        "label": label,
        "status": status,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00" if status == "complete" else None,
        "tool_version": "0.1.0",
        "input": {
            "path": "domains.csv",
            "sha256": "0" * 64,
            "format": "csv",
            "lines": rows,
            "accepted": rows,
            "rejected": 0,
            "duplicates": 0,
        },
        "resolver": {"nameservers": ["127.0.0.1:5353"], "timeout": 2.0, "tries": 3},
        "psl_date": "2026-01-01",
        "chunk_size": 5,
        "rows": rows,
        "outcomes": {"dmarc": {"ok": rows}, "spf": {"ok": rows}},
        "unresolved": 0,
    }


def write_snapshot(
    root: Path,
    label: str,
    rows: Sequence[Row] = SAMPLE,
    status: str = "complete",
    version: int = SCHEMA_VERSION,
    chunk_size: int = 5,
) -> Path:
    """Write `rows` as a snapshot `root/label` in parts of `chunk_size`; returns its folder."""
    with SnapshotWriter.create(root, label) as writer:
        for index, start in enumerate(range(0, len(rows), chunk_size)):
            chunk = rows[start : start + chunk_size]
            columns = {name: [row.get(name) for row in chunk] for name in COLUMNS}
            writer.write_part(index, rows_to_table(columns))
        writer.write_manifest(manifest(label, len(rows), status, version))
        return writer.folder


# -- a hostile snapshot: every value a column can hold, in many combinations ------------------

_HOSTILE_POOLS: dict[str, tuple[Any, ...]] = {
    "weight": (None, 0, 1, 7, 1000, 10**12),
    "rank": (None, 1, 2, 2, 50, 10**9),
    "type": (None, "A", "B", "C", "D", "E", "F", "Z"),
    "dmarc_status": (None, "valid", "invalid", "absent", "error", "bogus"),
    "dmarc_p": (None, "none", "quarantine", "reject", "monitor", "", "REJECT"),
    "dmarc_sp": (None, "none", "reject", "quarentena"),
    "dmarc_effective_p": (None, "none", "quarantine", "reject", "no_policy", "reject_pct", "x"),
    "dmarc_pct": (None, 0, 1, 99, 100, -1, 200),
    "report_type": (None, "A", "B", "C", "D", "E"),
    "spf_status": (None, "valid", "invalid", "absent", "error", "multiple"),
    "spf_all": (None, "-all", "~all", "?all", "+all", "redirect", "none", "all"),
    "dmarc_record": (None, "v=DMARC1; p=none", "=cmd|' /C calc'!A0", "v=DMARC1;\np=reject", "é"),
    "spf_record": (None, "v=spf1 -all", "v=spf1 -all\nv=spf1 ~all", "+x"),
}
_HOSTILE_LISTS: dict[str, tuple[Any, ...]] = {
    "rua_vendors": (None, [], [None], ["self"], ["Agari", "self"], ["other", "other"], ["Zeta"]),
    "ruf_vendors": (None, [], ["Valimail"], ["other"], ["self", None]),
    "dmarc_errors": (None, [], [None], ["p_invalid"], ["p_invalid", "p_invalid"], ["zz_new"]),
    "dmarc_warnings": (None, [], ["unknown_tag"], ["unknown_tag", "non_utf8"]),
    "spf_errors": (None, [], ["multiple_records"], ["mechanism_syntax", "multiple_records"]),
    "spf_warnings": (None, [], ["plus_all"], ["no_all", None]),
}
_HOSTILE_HOSTS = (
    "rua.agari.com", "Rua.Agari.COM", "x.other.co.uk", "reports.newvendor.io", "newvendor.io",
    "valimail.com", "", "{org}", "dmarc.{org}", "deep.sub.{org}",
)  # fmt: skip
_HOSTILE_NAMES = ("a.example", "b.example", "xn--bcher-kva.example", "z.example", "sub.a.example")


def _hostile_hosts(pick: Any, org: str | None) -> list[str] | None:
    shape = pick((None, [], 1, 2, 3))
    if not isinstance(shape, int):
        return shape
    return [pick(_HOSTILE_HOSTS).format(org=org or "orphan.example") for _ in range(shape)]


def _registrable(domain: str | None) -> str | None:
    if domain is None:
        return None
    return ".".join(domain.split(".")[-3 if domain.endswith(".co.uk") else -2 :])


def hostile_rows(count: int = 500, seed: int = 11) -> tuple[dict[str, Any], ...]:
    """`count` rows drawn from every value a column can hold: nulls, empty and null lists,
    null list items, duplicate codes and domains, values outside every closed set, weights of 0
    and of 10**12. Report hosts are never null, and `org_domain` is what a scan writes (an
    organizational domain, or null): the reference tables call the host naming on each."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        domain = rng.choice((*_HOSTILE_NAMES, None, f"d{index}.example", f"d{index}.co.uk"))
        org = rng.choice((None, "a.example", "z.example", _registrable(domain)))
        row = {name: rng.choice(pool) for name, pool in _HOSTILE_POOLS.items()}
        row |= {name: rng.choice(pool) for name, pool in _HOSTILE_LISTS.items()}
        row |= {"domain": domain, "org_domain": org}
        row |= {kind: _hostile_hosts(rng.choice, org) for kind in ("rua_hosts", "ruf_hosts")}
        rows.append(row)
    return tuple(rows)
