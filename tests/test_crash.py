"""Crash, stop and lock: `python -m survey scan` killed at random points loses nothing.

The kill points are query numbers seen by the fault proxy (seeded random), not timers: the test
process kills the scan from the proxy's `on_query` hook when the N-th query arrives.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from survey.dns.settings import ResolverSettings
from survey.errors import SnapshotError
from survey.lab.compare import COMPARED, differing, expected_rows, snapshot_rows
from survey.lab.faults import FaultPlan, FaultProxy
from survey.report.write import open_for_report
from survey.scan.pipeline import ScanOptions, run_scan
from survey.scan.retry import RetryOptions, run_retry

pytestmark = pytest.mark.knot

N = 1200
CHUNK = 100
WAIT = 120  # seconds a subprocess may take at most before the test fails (not a timing check)


@pytest.fixture(scope="module")
def crash_input(knot_lab, tmp_path_factory) -> Path:
    return knot_lab.first_domains(N, tmp_path_factory.mktemp("crash-input"))


@pytest.fixture(scope="module")
def baseline(knot_lab, crash_input, tmp_path_factory) -> dict[str, dict[str, object]]:
    """The uninterrupted scan of the same input."""
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    options = ScanOptions(
        crash_input, tmp_path_factory.mktemp("whole"), "whole", settings, chunk_size=CHUNK
    )
    return snapshot_rows(run_scan(options).folder)


def survey(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "survey", *args, "--quiet"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def scan_args(source: Path, snapshots: Path, nameserver: str, *extra: str) -> list[str]:
    return [
        "scan", str(source), "--label", "crash", "--snapshots", str(snapshots),
        "--nameserver", nameserver, "--timeout", "1", "--chunk-size", str(CHUNK), *extra,
    ]  # fmt: skip


def at_query(proxy: FaultProxy, number: int, act: Callable[[], None]) -> None:
    """Run `act` once, from the proxy's thread, when query `number` (absolute) arrives."""
    fired = threading.Event()

    def hook(seen: int) -> None:
        if seen >= number and not fired.is_set():
            fired.set()
            act()

    proxy.on_query = hook


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=WAIT)
    return process.returncode, stderr


def check_whole_parts(folder: Path) -> int:
    """Every part readable, no domain twice, manifest valid JSON; the rows found."""
    json.loads((folder / "manifest.json").read_text())
    domains: list[str] = []
    for part in sorted((folder / "domains").glob("part-*.parquet")):
        domains += pq.read_table(part, columns=["domain"])["domain"].to_pylist()
    assert len(domains) == len(set(domains))
    return len(domains)


def part_tables(folder: Path) -> list[object]:
    """The whole parts (a SIGKILL mid-write may leave a `.part-….tmp-PID` file: never read)."""
    files = sorted((folder / "domains").iterdir())
    assert all(f.name.startswith("part-") or ".tmp-" in f.name for f in files), files
    return [pq.read_table(p, columns=["domain"]) for p in files if p.name.startswith("part-")]


@pytest.mark.parametrize("workers", ["1", "2"], ids=["one-process", "two-workers"])
def test_sigkill_at_random_points_then_resume_equals_uninterrupted(
    knot_lab, crash_input, baseline, tmp_path, workers
) -> None:
    # With workers, the SIGKILL leaves orphans: they must stop by themselves (their parent is
    # gone), close the pipes `finish` waits on, and leave only whole parts.
    rng = random.Random(20261127)
    folder = tmp_path / "crash"
    kills = 0
    with FaultProxy(("127.0.0.1", knot_lab.port)) as proxy:
        for attempt in range(4):
            extra = ("--workers", workers, *(("--resume",) if attempt else ()))
            process = survey(*scan_args(crash_input, tmp_path, proxy.nameserver, *extra))
            at_query(proxy, proxy.queries + rng.randrange(10, 1200), process.kill)
            code, stderr = finish(process)
            if code == 0:
                break
            assert code == -signal.SIGKILL, stderr
            kills += 1
            assert json.loads((folder / "manifest.json").read_text())["status"] == "running"
            # One process dies with the domain that asked the fatal query unfinished. Orphaned
            # workers finish the chunks they hold before they notice (within a second) that
            # their parent is gone, so a kill near the end may leave every part written, with
            # the manifest still `running`: resume then only completes it.
            rows_written = check_whole_parts(folder)
            assert rows_written < N if workers == "1" else rows_written <= N
        else:
            proxy.on_query = None
            last = survey(*scan_args(crash_input, tmp_path, proxy.nameserver, "--resume"))
            code, stderr = finish(last)
            assert code == 0, stderr
    assert kills >= 2
    assert not list((folder / "domains").glob(".*tmp*"))
    rows = snapshot_rows(folder)
    assert rows.keys() == baseline.keys()
    for domain, got in rows.items():
        assert differing(got, baseline[domain], COMPARED) == {}, domain
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["accounting"]["balanced"]
    assert len(manifest["resumed_at"]) == kills


@pytest.mark.parametrize("workers", ["1", "2"], ids=["one-process", "two-workers"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_cleanly(sig, knot_lab, crash_input, tmp_path, workers) -> None:
    folder = tmp_path / "crash"
    with FaultProxy(("127.0.0.1", knot_lab.port)) as proxy:
        process = survey(*scan_args(crash_input, tmp_path, proxy.nameserver, "--workers", workers))
        at_query(proxy, random.Random(sig).randrange(200, 1500), lambda: process.send_signal(sig))
        code, stderr = finish(process)
    assert code == 3, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert manifest["runs"][-1]["status"] == "interrupted"
    assert check_whole_parts(folder) == manifest["rows"] < N
    assert not list((folder / "domains").glob(".*tmp*"))
    with pytest.raises(SnapshotError, match="interrupted"):
        open_for_report(folder)
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    resumed = run_scan(
        ScanOptions(crash_input, tmp_path, "crash", settings, chunk_size=CHUNK, resume=True)
    )
    assert resumed.status == "complete" and resumed.manifest["rows"] == N


def test_second_scan_on_the_same_label_is_refused(knot_lab, crash_input, tmp_path) -> None:
    first_query, release = threading.Event(), threading.Event()

    def hold(number: int) -> None:  # the first scan waits, holding its lock, until released
        if number == 0:
            first_query.set()
            release.wait(WAIT)

    with FaultProxy(("127.0.0.1", knot_lab.port)) as proxy:
        proxy.on_query = hold
        args = scan_args(crash_input, tmp_path, proxy.nameserver, "--concurrency", "20")
        process = survey(*[a if a != "1" else "30" for a in args])  # --timeout 30: it waits
        try:
            assert first_query.wait(WAIT)
            manifest_then = (tmp_path / "crash" / "manifest.json").read_text()
            settings = ResolverSettings(nameservers=(knot_lab.nameserver,))
            with pytest.raises(SnapshotError, match="locked"):
                run_scan(ScanOptions(crash_input, tmp_path, "crash", settings, resume=True))
            assert (tmp_path / "crash" / "manifest.json").read_text() == manifest_then
        finally:
            release.set()
        code, stderr = finish(process)
    assert code == 0, stderr
    assert check_whole_parts(tmp_path / "crash") == N


def test_sigkill_during_retry_leaves_a_valid_snapshot(knot_lab, crash_input, tmp_path) -> None:
    truth = expected_rows(knot_lab.folder)
    domains = [line.split(",")[0] for line in crash_input.read_text().splitlines()[1:]]
    plan = FaultPlan(servfail_names=frozenset(f"_dmarc.{d}" for d in domains[::4]))
    with FaultProxy(("127.0.0.1", knot_lab.port), plan) as faulty:
        settings = ResolverSettings(nameservers=(faulty.nameserver,), timeout=1.0, backoff=0.01)
        scanned = run_scan(ScanOptions(crash_input, tmp_path, "crash", settings, chunk_size=50))
    unresolved = scanned.manifest["unresolved"]
    assert unresolved >= len(domains) // 4
    layout = part_tables(scanned.folder)
    with FaultProxy(("127.0.0.1", knot_lab.port)) as clean:
        process = survey("scan", "--retry-unresolved", str(scanned.folder), "--nameserver",
                         clean.nameserver, "--timeout", "1")  # fmt: skip
        at_query(clean, random.Random(7).randrange(20, 300), process.kill)
        code, _ = finish(process)
    assert code == -signal.SIGKILL
    assert part_tables(scanned.folder) == layout  # every part whole, same rows in the same order
    manifest = json.loads((scanned.folder / "manifest.json").read_text())
    assert manifest["status"] == "retrying"
    with pytest.raises(SnapshotError):
        open_for_report(scanned.folder)
    retried = run_retry(
        RetryOptions(scanned.folder, ResolverSettings(nameservers=(knot_lab.nameserver,)))
    )
    assert retried.status == "complete" and retried.manifest["unresolved"] == 0
    for domain, got in snapshot_rows(scanned.folder).items():
        assert differing(got, truth[domain], COMPARED) == {}, domain
