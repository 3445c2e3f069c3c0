"""End to end: `survey scan` against a real Knot DNS serving the generated lab zone.

The lab knows the truth of every domain it wrote (expected.parquet); the scan must reproduce it
exactly, over real sockets, with truncation to TCP, CNAMEs and split TXT strings on the way.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from survey.dns.settings import ResolverSettings
from survey.lab.compare import (
    COMPARED,
    NOT_MEASURED_BY_AIODNS,
    column_differences,
    expected_rows,
    snapshot_rows,
)
from survey.scan.pipeline import ScanOptions, run_scan
from survey.schema.columns import ARROW_SCHEMA, values_outside_schema
from survey.store.snapshot import Snapshot

pytestmark = pytest.mark.knot


def settings(nameserver: str, **kwargs: object) -> ResolverSettings:
    values: dict[str, object] = {"nameservers": (nameserver,), "timeout": 1.0, "tries": 3}
    values.update(kwargs)
    return ResolverSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lab_scan(knot_lab, tmp_path_factory):
    snapshots = tmp_path_factory.mktemp("snapshots")
    options = ScanOptions(
        input_path=knot_lab.domains_csv,
        snapshots=snapshots,
        label="lab",
        resolver=settings(knot_lab.nameserver, concurrency=300),
        chunk_size=4_000,
    )
    summary = run_scan(options)
    return summary, Snapshot.open(summary.folder)


def test_scan_reproduces_every_expected_verdict(knot_lab, lab_scan) -> None:
    summary, snapshot = lab_scan
    assert summary.status == "complete"
    assert snapshot.manifest["rows"] == len(expected_rows(knot_lab.folder)) >= 20_000
    differences = column_differences(snapshot.folder, knot_lab.folder)
    shown = {column: rows[:5] for column, rows in differences.items()}
    assert not differences, f"verdicts differ from the lab's truth: {shown}"


@pytest.fixture(scope="module")
def lab_scan_aiodns(knot_lab, tmp_path_factory):
    """The same scan with c-ares behind the pool (`--dns-client aiodns`)."""
    snapshots = tmp_path_factory.mktemp("snapshots-aiodns")
    options = ScanOptions(
        input_path=knot_lab.domains_csv,
        snapshots=snapshots,
        label="lab-aiodns",
        resolver=settings(knot_lab.nameserver, concurrency=300, client="aiodns"),
        chunk_size=4_000,
    )
    summary = run_scan(options)
    return summary, Snapshot.open(summary.folder)


def test_scan_with_aiodns_reproduces_every_expected_verdict(knot_lab, lab_scan_aiodns) -> None:
    summary, snapshot = lab_scan_aiodns
    assert summary.status == "complete"
    assert snapshot.manifest["resolver"]["client"] == "aiodns"
    assert snapshot.manifest["rows"] == len(expected_rows(knot_lab.folder))
    measured = tuple(c for c in COMPARED if c not in NOT_MEASURED_BY_AIODNS)
    differences = column_differences(snapshot.folder, knot_lab.folder, measured)
    shown = {column: rows[:5] for column, rows in differences.items()}
    assert not differences, f"verdicts differ from the lab's truth: {shown}"
    assert snapshot.to_table(["dnssec"]).column("dnssec").null_count == snapshot.manifest["rows"]


def test_manifest_accounts_for_every_domain(knot_lab, lab_scan) -> None:
    _, snapshot = lab_scan
    manifest = snapshot.manifest
    lines = len(knot_lab.domains_csv.read_text().splitlines()) - 1  # header
    assert manifest["schema_version"] == 1 and manifest["status"] == "complete"
    assert manifest["input"]["lines"] == lines
    assert manifest["rows"] == manifest["input"]["accepted"] == lines
    assert manifest["unresolved"] == 0
    assert sum(manifest["outcomes"]["dmarc"].values()) == manifest["rows"]
    assert set(manifest["outcomes"]["dmarc"]) <= {"ok", "nxdomain", "nodata"}
    assert manifest["psl_date"]


def test_snapshot_has_schema_columns_and_raw_evidence(lab_scan) -> None:
    _, snapshot = lab_scan
    table = snapshot.to_table()
    for column in ("domain", "dmarc_record", "spf_record", "scanned_at", "dmarc_lookup"):
        assert column in table.column_names
    frame = snapshot.to_pandas(["dmarc_status", "dmarc_record", "spf_record", "spf_status"])
    has_record = frame[frame.dmarc_status.isin(["valid", "invalid"])]
    assert has_record.dmarc_record.notna().all()
    long_spf = frame.spf_record.dropna().str.len().max()
    assert long_spf > 1232  # only arrives whole over TCP: Knot truncates UDP at 1232 bytes


def test_every_closed_column_holds_only_schema_values(lab_scan) -> None:
    _, snapshot = lab_scan
    table = snapshot.to_table()
    assert table.schema.equals(ARROW_SCHEMA)
    assert values_outside_schema(table) == {}
    for name in ("type", "dmarc_errors", "spf_warnings"):  # the lab exercises these sets
        assert table.column(name).null_count < table.num_rows


def test_the_rfc9989_cases_are_scanned(lab_scan) -> None:
    """The walk met what the lab holds for it (and the verdicts equal the truth, above): the
    PSD record at _dmarc.co.jp, psd=n, records at names in between, names of 9 and more labels,
    several records at one step, np for names that do not exist, t=y, records without p."""
    _, snapshot = lab_scan
    frame = snapshot.to_pandas()
    assert (frame.dmarc9989_policy_domain == "co.jp").sum() > 50
    assert {"y", "n"} <= set(frame.dmarc9989_psd.dropna()) and "y" in set(frame.dmarc9989_t)
    moved = frame[frame.dmarc9989_org_domain.notna()]
    assert (moved.dmarc9989_org_domain != moved.org_domain).sum() > 50
    assert (frame.domain.str.count(r"\.") >= 8).sum() >= 10
    warnings = {w for ws in frame.dmarc9989_warnings for w in ws}
    assert {"walk_discarded", "p_missing", "removed_tag", "obsolete_size"} <= warnings
    gone = frame[(frame.spf_lookup == "nxdomain") & frame.dmarc9989_np.notna()]
    assert (gone.dmarc9989_effective_p == gone.dmarc9989_np).all() and len(gone) > 10
    assert set(frame.dmarc9989_status) == {"valid", "invalid", "absent"}


def test_each_shared_name_is_asked_once(knot_lab, lab_scan) -> None:
    """One process, a cache far from full: the walk asked each name above a domain at most
    once, and most of its steps were answered from the names already asked."""
    summary, snapshot = lab_scan
    walk = summary.manifest["runs"][-1]["tree_walk"]
    domains = snapshot.to_pandas(["domain"]).domain
    above = {".".join(d.split(".")[-n:]) for d in domains for n in range(1, d.count(".") + 1)}
    asked = sum(walk["questions"].values())
    assert set(walk["questions"]) <= {"ok", "nxdomain", "nodata"}
    assert asked <= len(above) and walk["from_shared_answers"] == walk["steps"] - asked
    assert walk["steps"] >= len(domains) and asked < walk["steps"] / 5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dead_nameserver_gives_unresolved_never_absent(knot_lab, tmp_path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    options = ScanOptions(
        input_path=knot_lab.first_domains(60, tmp_path),
        snapshots=tmp_path / "snaps",
        label="dead",
        resolver=settings(dead, timeout=0.2, tries=2),
    )
    summary = run_scan(options)
    frame = Snapshot.open(summary.folder).to_pandas()
    assert len(frame) == 60 and summary.manifest["unresolved"] == 60
    assert set(frame.dmarc_lookup) <= {"timeout", "error", "refused"}
    assert frame["type"].isna().all()
    assert not frame.dmarc_status.eq("absent").any()
    assert not frame.spf_status.eq("absent").any()


def test_resume_scans_only_missing_parts(knot_lab, tmp_path) -> None:
    source = knot_lab.first_domains(900, tmp_path)
    common = {
        "input_path": source,
        "snapshots": tmp_path / "snaps",
        "resolver": settings(knot_lab.nameserver),
        "chunk_size": 100,
    }
    whole = run_scan(ScanOptions(label="whole", **common))
    cut = run_scan(ScanOptions(label="cut", **common))
    parts = sorted((cut.folder / "domains").glob("part-*.parquet"))
    for part in parts[3:6]:
        part.unlink()
    manifest = json.loads((cut.folder / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (cut.folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="--resume"):
        run_scan(ScanOptions(label="cut", **common))
    resumed = run_scan(ScanOptions(label="cut", resume=True, **common))
    assert resumed.status == "complete"
    a, b = snapshot_rows(whole.folder), snapshot_rows(resumed.folder)
    assert len(b) == 900 and a == b


def test_cli_scan_and_check(knot_lab, tmp_path) -> None:
    source = knot_lab.first_domains(200, tmp_path)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(
        [sys.executable, "-m", "survey", "scan", str(source), "--label", "cli",
         "--snapshots", str(tmp_path / "s"), "--nameserver", knot_lab.nameserver,
         "--timeout", "1", "--quiet"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert Snapshot.open(tmp_path / "s" / "cli").is_complete
    domain = source.read_text().splitlines()[1].split(",")[0]
    check = subprocess.run(
        [sys.executable, "-m", "survey", "check", domain, "--json",
         "--nameserver", knot_lab.nameserver],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    result = json.loads(check.stdout)
    assert result["domain"] == domain and result["dmarc_lookup"] in {"ok", "nxdomain", "nodata"}
