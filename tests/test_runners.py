"""The runner seam (survey/scan/runners.py): a runner turns (index, chunk) pairs into parts, the
same parts whichever runner scans them; the pipeline picks one by its options."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from survey.dns.loop import run
from survey.dns.settings import ResolverSettings
from survey.input.stream import InputDomain
from survey.lab.compare import COMPARED, differing, expected_rows, rows_by_domain
from survey.scan.pipeline import ScanOptions, runner_for
from survey.scan.processes import ProcessRunner
from survey.scan.runners import ChunkRunner, LocalRunner, RunnerSetup
from survey.store.snapshot import PARTS_DIR, part_name
from survey.verdict.dkim import SelectorList

pytestmark = pytest.mark.knot

#: The scan's default DKIM selectors: the lab's truth is stated for them.
DEFAULT_DKIM = SelectorList.load("default")


def lab_chunks(knot_lab, n: int, size: int) -> list[tuple[int, list[InputDomain]]]:
    rows = knot_lab.domains_csv.read_text().splitlines()[1 : n + 1]
    domains = [InputDomain(row.split(",")[0], None, None) for row in rows]
    return [(i // size, domains[i : i + size]) for i in range(0, n, size)]


def setup_for(knot_lab, folder: Path) -> RunnerSetup:
    (folder / PARTS_DIR).mkdir(parents=True)
    settings = ResolverSettings(nameservers=(knot_lab.nameserver,), timeout=1.0)
    return RunnerSetup(folder, settings, True, None, chunks_in_flight=2, dkim=DEFAULT_DKIM)


@pytest.mark.parametrize("make", [LocalRunner, lambda setup: ProcessRunner(setup, 2)])
def test_each_runner_writes_part_n_from_chunk_n_with_the_lab_truth(
    make, knot_lab, tmp_path: Path
) -> None:
    runner: ChunkRunner = make(setup_for(knot_lab, tmp_path))
    chunks = lab_chunks(knot_lab, 600, 200)
    reported: list[tuple[int, Counter[str]]] = []
    outcome = run(
        runner.run(iter(chunks), lambda n, types: reported.append((n, types)), asyncio.Event())
    )
    assert outcome.completed
    assert sorted(n for n, _ in reported) == [200, 200, 200]
    assert sum(sum(types.values()) for _, types in reported) == 600
    assert sum(outcome.counts.questions.values()) >= 1200  # two questions a domain at least
    truth = expected_rows(knot_lab.folder)
    for index, chunk in chunks:
        part = pq.read_table(tmp_path / PARTS_DIR / part_name(index)).to_pandas()
        assert list(part.domain) == [item.domain for item in chunk]
        rows = rows_by_domain(part)
        assert [d for d, row in rows.items() if differing(row, truth[d], COMPARED)] == []


def test_a_stopped_runner_says_it_did_not_complete(knot_lab, tmp_path: Path) -> None:
    runner = LocalRunner(setup_for(knot_lab, tmp_path))
    stop = asyncio.Event()
    chunks = lab_chunks(knot_lab, 400, 100)

    def first_only(n: int, types: Counter[str]) -> None:
        stop.set()

    outcome = run(runner.run(iter(chunks), first_only, stop))
    assert not outcome.completed
    assert len(list((tmp_path / PARTS_DIR).glob("part-*.parquet"))) < len(chunks)


@pytest.mark.parametrize(("workers", "kind"), [(1, LocalRunner), (2, ProcessRunner)])
def test_the_pipeline_picks_the_runner_by_workers(workers: int, kind: type, tmp_path) -> None:
    options = ScanOptions(tmp_path / "in.txt", tmp_path, "x", workers=workers)
    assert isinstance(runner_for(options, tmp_path), kind)
