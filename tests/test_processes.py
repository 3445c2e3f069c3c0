"""Scanning in several processes (survey/scan/processes.py): the same verdicts as one process, the
totals shared out, and a worker's failure failing the run instead of hanging it."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from survey.dns.loop import run
from survey.dns.settings import ResolverSettings
from survey.errors import SurveyError
from survey.input.stream import InputDomain
from survey.lab.compare import COMPARED, differing, expected_rows, snapshot_rows
from survey.scan.pipeline import ScanOptions, default_workers, run_scan
from survey.scan.processes import ProcessRunner
from survey.scan.runners import RunnerSetup, share
from survey.store.snapshot import read_manifest


@pytest.mark.parametrize(
    ("concurrency", "cpus", "workers"),
    [(500, 2, 2), (500, 16, 10), (100, 2, 2), (99, 2, 1), (10, 8, 1), (5000, 64, 64)],
)
def test_default_workers_one_per_cpu_with_enough_in_flight(
    concurrency: int, cpus: int, workers: int
) -> None:
    assert default_workers(concurrency, cpus) == workers


def test_workers_share_the_totals() -> None:
    settings = ResolverSettings(nameservers=("127.0.0.1:53",), concurrency=501, qps=300.0)
    part = share(settings, 3)
    assert (part.concurrency, part.qps) == (167, 100.0)
    assert share(ResolverSettings(concurrency=2), 4).concurrency == 1
    assert share(ResolverSettings(), 2).qps is None


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(SurveyError, match="workers"):
        ScanOptions(tmp_path / "in.txt", tmp_path, "x", workers=0)


@pytest.mark.knot
def test_two_workers_give_the_lab_truth(knot_lab, tmp_path: Path) -> None:
    source = knot_lab.first_domains(2000, tmp_path)
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    options = ScanOptions(source, tmp_path / "snaps", "w2", settings, chunk_size=250, workers=2)
    chunks: list[int] = []
    summary = run_scan(options, lambda done: chunks.append(done.domains) if done.domains else None)
    assert summary.status == "complete" and summary.manifest["accounting"]["balanced"]
    assert summary.manifest["rows"] == 2000
    assert sorted(chunks) == [250] * 8  # every part reported to the parent's progress once
    assert len(list((summary.folder / "domains").glob("part-*.parquet"))) == 8
    truth = expected_rows(knot_lab.folder)
    rows = snapshot_rows(summary.folder)
    assert len(rows) == 2000
    wrong = {d: diff for d, got in rows.items() if (diff := differing(got, truth[d], COMPARED))}
    assert wrong == {}
    run_entry = read_manifest(summary.folder)["runs"][-1]
    assert run_entry["workers"] == 2
    questions = sum(run_entry["questions"].values())
    assert sum(run_entry["transport"]["tries"].values()) >= questions > 2000


def test_a_failing_worker_fails_the_run(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("parts cannot go under a file\n")
    settings = ResolverSettings(nameservers=("127.0.0.1:9",), timeout=0.2, tries=1)
    setup = RunnerSetup(not_a_folder, settings, False, None, chunks_in_flight=1)
    chunks = [(i, [InputDomain(f"d{i}-{j}.test", None, None) for j in range(3)]) for i in range(4)]
    written: Counter[str] = Counter()

    async def main() -> None:
        await ProcessRunner(setup, 2).run(
            iter(chunks), lambda n, types: written.update(types), asyncio.Event()
        )

    with pytest.raises(SurveyError, match="scan worker"):
        run(main())
    assert not written
