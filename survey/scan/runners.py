"""The seam where chunks are scanned: a runner turns (index, chunk) pairs into parts.

The pipeline (`survey.scan.pipeline`) reads the input, keeps the manifest and the progress, and
hands the chunks still to do to one runner: `LocalRunner` scans them in this process,
`survey.scan.processes.ProcessRunner` in worker processes, `survey.scan.cluster.DaskRunner` on a
Dask cluster. Whatever the runner, part N is chunk N, written whole by whoever scanned it, so
`--resume` works the same way over all of them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from survey.dns.pool import PoolCounts, ResolverPool
from survey.dns.settings import ResolverSettings
from survey.input.stream import InputDomain
from survey.scan.jobs import Job, run_jobs
from survey.scan.scanner import DomainScanner, WalkCounts, scan_part
from survey.scan.spf_tree import SpfCounts
from survey.store.snapshot import SnapshotWriter
from survey.verdict.dkim import SelectorList

#: Called as each part is written: the chunk's domains, and their count by type.
OnChunk = Callable[[int, Counter[str]], None]
Chunks = Iterator[tuple[int, list[InputDomain]]]


@dataclass(frozen=True, slots=True)
class RunnerSetup:
    """What scanning a chunk needs (picklable: it crosses to worker processes)."""

    folder: Path  # the snapshot folder the parts go to
    settings: ResolverSettings  # the share of one scanning process
    report_auth: bool
    psl_path: Path | None
    chunks_in_flight: int
    dkim: SelectorList | None = None  # the DKIM selectors to probe; None: --no-dkim
    spf_eval: bool = True  # evaluate SPF records as a receiver (`--no-spf-eval`: not)


@dataclass(frozen=True, slots=True)
class RunnerOutcome:
    completed: bool  # False: stopped before every chunk was scanned
    counts: PoolCounts  # the DNS questions and tries of every process, summed
    walk: WalkCounts = field(default_factory=WalkCounts)  # the RFC 9989 tree walks, summed
    spf: SpfCounts = field(default_factory=SpfCounts)  # the SPF evaluations, summed


class ChunkRunner(Protocol):
    """Scans `chunks` into parts until they are exhausted or `stop` is set."""

    def check(self) -> None:
        """Raise a SurveyError now if the runner cannot run (a cluster out of reach): called
        before the input is read and the manifest written."""

    def describe(self) -> dict[str, Any]:
        """The runner as the manifest's run entry records it (`runner`), at any time."""

    async def run(
        self, chunks: Chunks, on_chunk: OnChunk, stop: asyncio.Event
    ) -> RunnerOutcome: ...


def share(settings: ResolverSettings, processes: int) -> ResolverSettings:
    """One process's part of the totals: concurrency and qps divided among `processes`."""
    qps = None if settings.qps is None else settings.qps / processes
    return replace(settings, concurrency=max(1, settings.concurrency // processes), qps=qps)


class LocalRunner:
    """Every chunk in this process, `chunks_in_flight` at a time, on one resolver pool."""

    def __init__(self, setup: RunnerSetup) -> None:
        self.setup = setup

    def check(self) -> None:
        pass  # this process can always scan

    def describe(self) -> dict[str, Any]:
        return {"kind": "local"}

    async def run(self, chunks: Chunks, on_chunk: OnChunk, stop: asyncio.Event) -> RunnerOutcome:
        setup = self.setup
        writer = SnapshotWriter(setup.folder)
        async with ResolverPool(setup.settings) as pool:
            scanner = DomainScanner.standard(
                pool, setup.report_auth, setup.dkim, spf_eval=setup.spf_eval
            )
            jobs = (self._job(scanner, writer, index, chunk, on_chunk) for index, chunk in chunks)
            completed = await run_jobs(jobs, setup.chunks_in_flight, stop)
        return RunnerOutcome(completed, pool.counts(), scanner.walk_counts, scanner.spf_counts)

    def _job(
        self,
        scanner: DomainScanner,
        writer: SnapshotWriter,
        index: int,
        chunk: list[InputDomain],
        on_chunk: OnChunk,
    ) -> Job:
        concurrency = self.setup.settings.concurrency

        async def job() -> None:
            on_chunk(len(chunk), await scan_part(scanner, writer, index, chunk, concurrency))

        return job
