"""Every table computed both ways: the engine (DuckDB over the parts, survey.report.tables) and
the reference (pandas over the rows, survey.report.tally) agree value for value, dtype for dtype
and attr for attr, on the hand-checked sample, a hostile snapshot, one where nothing is
published, and a scanned lab with the project's own host naming."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from snapshot_factory import SAMPLE, hostile_rows, later_sample, write_snapshot
from test_tally import KNOWN, NAMING, registrable

from survey.dns.settings import ResolverSettings
from survey.lab.generate import generate_lab
from survey.lab.serve import LabServer
from survey.report import tally, trend
from survey.report.engine import Engine
from survey.report.tables import aggregate, snapshot_tables
from survey.report.tallies import Options, part_files, tally_snapshot
from survey.scan.pipeline import ScanOptions, run_scan
from survey.store.snapshot import Snapshot

LAB_DOMAINS = 3_000


@pytest.fixture(scope="module")
def lab_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """A small lab scanned through the dnslib lab server on loopback."""
    root = tmp_path_factory.mktemp("engine-lab")
    generate_lab(LAB_DOMAINS, root / "lab", seed=5)
    with LabServer(root / "lab" / "root.zone") as server:
        settings = ResolverSettings(nameservers=(f"127.0.0.1:{server.port}",), timeout=1.0)
        run_scan(ScanOptions(root / "lab" / "domains.csv", root / "snapshots", "lab", settings))
    return Snapshot.open(root / "snapshots" / "lab")


def vendor_first_self(host: str, policy_org: str) -> str:
    """A naming that keeps `HostNaming.host_vendor`'s promise (self before vendor)."""
    org = registrable(host)
    if org and org == registrable(policy_org):
        return "self"
    return KNOWN.get(org) or "other"


FAST_NAMING = tally.HostNaming(
    vendor_first_self, registrable, lambda host: KNOWN.get(registrable(host)), "test-fast"
)
SLOW_NAMING = tally.HostNaming(vendor_first_self, registrable)  # the same, asked per pair


def reference(
    snapshot: Snapshot, top: int | None, top_by: tally.TopBy | None, naming: tally.HostNaming
) -> dict[str, dict[str, pd.DataFrame]]:
    """The tables as `survey report` computed them before the engine (main's write_report)."""
    frame = tally.read_frame(snapshot)
    cut_by = top_by or ("rank" if frame["rank"].notna().any() else "volume")
    modes = tally.BY if tally.has_volume(frame) else ("domains",)
    return {by: tally.snapshot_tables(frame, by, top, cut_by, naming) for by in modes}


def engine_tables(
    snapshot: Snapshot, top: int | None, top_by: tally.TopBy | None, naming: tally.HostNaming
) -> dict[str, dict[str, pd.DataFrame]]:
    with Engine(part_files(snapshot)) as engine:
        return snapshot_tables(aggregate(engine, top, top_by, naming))


def assert_same(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)
    for by, tables in expected.items():
        assert list(got[by]) == list(tables), by
        for name, table in tables.items():
            pd.testing.assert_frame_equal(got[by][name], table, check_exact=True, obj=name)
            assert got[by][name].attrs == table.attrs, (by, name)


def snapshot_of(root: Path, label: str, rows, chunk_size: int = 7) -> Snapshot:
    return Snapshot.open(write_snapshot(root, label, rows, chunk_size=chunk_size))


def nothing_published() -> list[dict]:
    return [
        {**row, "dmarc_status": "absent", "spf_status": None, "rua_vendors": [], "ruf_hosts": None}
        for row in hostile_rows(60)
    ]


CASES = {
    "sample": (lambda: SAMPLE, NAMING, 3, None),
    "sample-volume-cut": (lambda: SAMPLE, NAMING, 4, "volume"),
    "hostile": (hostile_rows, NAMING, 40, None),
    "hostile-fast-naming": (hostile_rows, FAST_NAMING, 60, "volume"),
    "hostile-slow-naming": (hostile_rows, SLOW_NAMING, 1000, "rank"),
    "nothing-published": (nothing_published, NAMING, 5, None),
    "no-rows": (tuple, NAMING, 5, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_engine_equals_reference(case: str, tmp_path: Path) -> None:
    rows, naming, top, top_by = CASES[case]
    snapshot = snapshot_of(tmp_path, "s", rows())
    assert_same(
        engine_tables(snapshot, top, top_by, naming), reference(snapshot, top, top_by, naming)
    )


def test_hostile_snapshot_reaches_every_branch(tmp_path: Path) -> None:
    """The hostile case is worth comparing: values outside every table, empty names, codes."""
    tables = engine_tables(snapshot_of(tmp_path, "h", hostile_rows()), 5, None, NAMING)
    domains = tables["domains"]
    assert domains["types"].attrs["n"] < domains["types"]["count"].sum() + 200
    assert "" in set(domains["rua_other"]["report_domain"])
    assert "zz_new" in set(domains["dmarc_problems"]["code"])
    assert domains["spf_status"].set_index("spf_status").loc["multiple", "count"] > 0
    assert domains["types_top"].attrs["n"] <= 5


def test_lab_with_default_naming(lab_snapshot: Snapshot) -> None:
    pytest.importorskip("survey.verdict.vendors")
    from survey.report.write import default_naming

    naming = default_naming()
    assert naming.host_vendor is not None  # the engine's fast path, checked against vendor_of
    for top_by in ("rank", "volume"):
        got = engine_tables(lab_snapshot, 50, top_by, naming)
        assert_same(got, reference(lab_snapshot, 50, top_by, naming))
    assert len(got["domains"]["rua_other"]) > 0  # the lab names destinations of no vendor


def reference_domain_counts(frames: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """main's `trend.domain_counts`, over the rows."""
    rows = [
        {
            "label": label,
            "domains": len(frame),
            "resolved": int(frame["type"].notna().sum()),
            "unresolved": int(frame["type"].isna().sum()),
            "messages": int(frame["weight"].fillna(0).sum()) if tally.has_volume(frame) else None,
        }
        for label, frame in frames
    ]
    table = pd.DataFrame(rows, columns=["label", "domains", "resolved", "unresolved", "messages"])
    table["messages"] = table["messages"].astype("Int64")
    return table


def test_trend_equals_reference(tmp_path: Path) -> None:
    write_snapshot(tmp_path, "2026-01", SAMPLE)
    write_snapshot(tmp_path, "2026-02", later_sample())
    write_snapshot(tmp_path, "2026-03", hostile_rows(), chunk_size=9)
    snapshots = [Snapshot.open(tmp_path / label) for label in ("2026-01", "2026-02", "2026-03")]
    frames = [(s.label, tally.read_frame(s)) for s in snapshots]
    points = [
        (label, {by: tally.snapshot_tables(frame, by) for by in tally.BY})
        for label, frame in frames
    ]
    expected = trend.trend_tables(points)
    expected["domain_counts"] = reference_domain_counts(frames)
    got = trend.trend(tmp_path).tables
    assert list(got) == list(expected)
    for key, table in expected.items():
        pd.testing.assert_frame_equal(got[key], table, check_exact=True, obj=key)
        assert got[key].attrs == table.attrs


def test_stored_tables_read_back_identical(tmp_path: Path) -> None:
    snapshot = snapshot_of(tmp_path, "h", hostile_rows())
    options = Options(7, None, FAST_NAMING)
    computed = tally_snapshot(snapshot, options)
    stored = tally_snapshot(snapshot, options)
    assert (computed.reused, stored.reused) == (False, True)
    assert_same(stored.tables, computed.tables)
