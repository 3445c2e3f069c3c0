"""The pipeline: chunks of domains → questions → verdict rows → snapshot parts. Resumable.

Input chunk N becomes part N. The domain reader yields the same chunks for the same input every
time, so `--resume` skips the parts already on disk and scans the rest: no domain twice, none lost.
Several chunks are in flight at once so that the slow tail of one (timeouts being retried) does not
leave the resolver pool idle.

SIGINT and SIGTERM stop a run cleanly: chunks still being asked are discarded, a part already
being written is finished, and the manifest says `interrupted`. SIGKILL leaves the manifest at
`running` and every part whole; `--resume` continues either. The manifest accounts for every
input record (rows + rejects + merged duplicates) and keeps a history of the runs (`runs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import operator
import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from survey import __version__
from survey.dns.outcome import TxtAnswer
from survey.dns.pool import PoolCounts, ResolverPool, ResolverSettings, run
from survey.errors import InputError, SnapshotError, SurveyError
from survey.input.stream import DomainStream, InputDomain, read_domains
from survey.store.manifest import (
    end_run_entry,
    file_sha256,
    finish_manifest,
    input_counts,
    question_counts,
    record_failure,
    resolver_settings,
    start_run_entry,
    transport_counts,
)
from survey.store.snapshot import SCHEMA, SCHEMA_VERSION, SnapshotWriter, rows_to_table, utc_now
from survey.verdict import psl
from survey.verdict.authorization import OrgOf, authorization_names
from survey.verdict.classify import classify
from survey.verdict.policy import DomainLookups, discover_policy, needs_org_lookup
from survey.verdict.row import VERDICT_FIELDS, Verdict
from survey.verdict.vendors import VendorTable

# Measured (scripts/bench --sweep, 200k lab, 2 workers): 10,000-domain chunks scan as fast as
# 50,000 (14,100 vs 13,200 domains/s, one run each) and hold less: the process tree's peak
# 661 vs 901 MB. A run started with another size resumes only with that size (--chunk-size).
DEFAULT_CHUNK_SIZE = 10_000
ORG_CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class ScanOptions:
    input_path: Path
    snapshots: Path
    label: str
    resolver: ResolverSettings = field(default_factory=ResolverSettings)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunks_in_flight: int = 2
    resume: bool = False
    report_auth: bool = True
    psl_path: Path | None = None
    workers: int = 1  # processes scanning chunks (survey/workers.py); 1: this process alone

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or self.workers < 1:
            raise InputError(f"workers must be >= 1, not {self.workers!r}")


# Below this many questions in flight per worker, another process stops paying for itself.
MIN_CONCURRENCY_PER_WORKER = 50


def default_workers(concurrency: int, cpus: int | None = None) -> int:
    """One worker per CPU, but no more than keep MIN_CONCURRENCY_PER_WORKER questions each in
    flight (on the 2-CPU benchmark machine 2 workers scan ~1.5x faster than 1; see README)."""
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, min(cpus, concurrency // MIN_CONCURRENCY_PER_WORKER))


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """What the progress display is told after each chunk."""

    domains: int
    types: Counter[str]
    skipped: bool = False
    total: int | None = None  # set once, before the first chunk: the domains to scan in all


Progress = Callable[[ChunkDone], None]


@dataclass(frozen=True, slots=True)
class ScanSummary:
    folder: Path
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.manifest["status"])


class DomainScanner:
    """Asks the questions of DESIGN.md for one domain and classifies the answers."""

    def __init__(
        self, pool: ResolverPool, org_of: OrgOf, vendors: VendorTable, report_auth: bool
    ) -> None:
        self._pool = pool
        self._org_of = org_of
        self._vendors = vendors
        self._report_auth = report_auth
        self._org_cache: dict[str, TxtAnswer] = {}

    @classmethod
    def standard(cls, pool: ResolverPool, report_auth: bool) -> DomainScanner:
        """A scanner with the bundled (or `psl.load`ed) suffix list and the vendor table."""
        return cls(pool, psl.organizational_domain, VendorTable.load(), report_auth)

    async def scan(self, item: InputDomain) -> Verdict:
        domain = item.domain
        org = self._org_of(domain)
        pool = self._pool
        # Both questions are in flight before the first await (txt() returns a future).
        dmarc_future, spf_future = pool.txt(f"_dmarc.{domain}"), pool.txt(domain)
        dmarc, spf = await dmarc_future, await spf_future
        org_answer = None
        if needs_org_lookup(domain, org, dmarc):
            org_answer = await self._org_dmarc(org)
        lookups = DomainLookups(domain, org, dmarc, spf, org_answer)
        policy = discover_policy(lookups)  # once; report authorization does not change it
        if self._report_auth and policy.record is not None:
            names = authorization_names(lookups, self._org_of, policy)
            if names:
                # All in flight before the first await, as with gather, without its task
                # machinery per domain.
                futures = [pool.txt(name) for name in names]
                answers = {name: await future for name, future in zip(names, futures, strict=True)}
                lookups = DomainLookups(domain, org, dmarc, spf, org_answer, answers)
        return classify(lookups, self._org_of, self._vendors, item.rank, item.weight, policy)

    async def _org_dmarc(self, org: str) -> TxtAnswer:
        """`_dmarc.<org>` is shared by every subdomain of an organization: ask it once a run."""
        cached = self._org_cache.get(org)
        if cached is not None:
            return cached
        answer = await self._pool.txt(f"_dmarc.{org}")
        if answer.is_answer:  # failures are asked again next time
            if len(self._org_cache) >= ORG_CACHE_LIMIT:
                self._org_cache.clear()
            self._org_cache[org] = answer
        return answer


_GETTERS = tuple(operator.attrgetter(name) for name in VERDICT_FIELDS)
_SCANNED_AT = SCHEMA.field("scanned_at").type


def verdicts_to_table(verdicts: Iterable[Verdict], scanned_at: dt.datetime) -> pa.Table:
    """Verdicts to Arrow columns, one C-level pass per column; `scanned_at` is one value
    repeated (converting 50,000 equal timezone-aware datetimes one by one costs more than the
    rest of the table)."""
    rows = verdicts if isinstance(verdicts, list) else list(verdicts)
    columns: dict[str, Any] = {
        name: list(map(getter, rows)) for name, getter in zip(VERDICT_FIELDS, _GETTERS, strict=True)
    }
    columns["scanned_at"] = pa.repeat(pa.scalar(scanned_at, type=_SCANNED_AT), len(rows))
    return rows_to_table(columns)


async def scan_chunk(
    scanner: DomainScanner, chunk: Sequence[InputDomain], concurrency: int
) -> list[Verdict]:
    """Verdicts of `chunk` in input order, from a fixed set of workers pulling domains.

    One task per worker, not per domain: a 50,000-domain chunk would otherwise queue 50,000
    tasks (and their questions) at once. A domain asks at most two questions at a time, so
    concurrency/2 workers keep the pool's question bound busy."""
    verdicts: list[Verdict | None] = [None] * len(chunk)
    todo = iter(enumerate(chunk))

    async def worker() -> None:
        for position, item in todo:
            verdicts[position] = await scanner.scan(item)

    workers = max(1, min(len(chunk), concurrency // 2))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return verdicts  # type: ignore[return-value]  # every position was filled


async def scan_part(
    scanner: DomainScanner,
    writer: SnapshotWriter,
    index: int,
    chunk: Sequence[InputDomain],
    concurrency: int,
) -> Counter[str]:
    """Chunk `index` scanned and written whole as part `index` (in this process or in a
    worker); the count of its domains by type."""
    verdicts = await scan_chunk(scanner, chunk, concurrency)
    await write_part_whole(writer, index, verdicts_to_table(verdicts, dt.datetime.now(dt.UTC)))
    return Counter(v.type or "unresolved" for v in verdicts)


class Stopper:
    """SIGINT and SIGTERM set `event` while installed on the running loop, so that a signal
    arriving at any point (even while a part is written) stops the run between two steps."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._installed = False

    def __enter__(self) -> Stopper:
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:  # signals reach the main thread only (a library caller's thread
            loop = asyncio.get_running_loop()  # keeps its own handling)
            for sig in self.SIGNALS:
                loop.add_signal_handler(sig, self.event.set)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            loop = asyncio.get_running_loop()
            for sig in self.SIGNALS:
                loop.remove_signal_handler(sig)

    @property
    def stopped(self) -> bool:
        return self.event.is_set()


Job = Callable[[], Awaitable[None]]


async def run_jobs(jobs: Iterable[Job | None], limit: int, stop: asyncio.Event) -> bool:
    """Run `jobs` (None entries are skipped) at most `limit` at once; False when `stop` was set.

    A job still running when `stop` is set is cancelled: its part is discarded whole."""
    pending: set[asyncio.Future[Any]] = set()
    stopper = asyncio.ensure_future(stop.wait())
    try:
        for job in jobs:
            if job is None:
                continue
            while len(pending) >= limit and not stop.is_set():
                pending = await _wait_one(pending, stopper)
            if stop.is_set():
                break
            pending.add(asyncio.ensure_future(job()))
        while pending and not stop.is_set():
            pending = await _wait_one(pending, stopper)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        stopper.cancel()
    return not stop.is_set()


async def _wait_one(
    pending: set[asyncio.Future[Any]], stopper: asyncio.Future[Any]
) -> set[asyncio.Future[Any]]:
    """Wait until a job ends (raising its failure) or the stop flag is set; the rest."""
    finished, rest = await asyncio.wait({*pending, stopper}, return_when=asyncio.FIRST_COMPLETED)
    rest.discard(stopper)
    for task in finished - {stopper}:
        task.result()
    return rest


async def write_part_whole(writer: SnapshotWriter, index: int, table: pa.Table) -> None:
    """Write part `index` in a worker thread. Once begun, the write is finished even if the
    caller is cancelled (a signal): the part then exists whole; it never exists half."""
    loop = asyncio.get_running_loop()
    write = loop.run_in_executor(None, _write_part, writer, index, table)
    try:
        await asyncio.shield(write)
    except asyncio.CancelledError:
        with contextlib.suppress(SurveyError):
            await write
        raise


def _write_part(writer: SnapshotWriter, index: int, table: pa.Table) -> None:
    try:
        writer.write_part(index, table)
    except OSError as exc:
        raise SnapshotError(
            f"cannot write part {index} of {writer.folder}: {exc.strerror or exc}"
        ) from exc


class _Run:
    """One scan run over a prepared domain stream."""

    def __init__(
        self, options: ScanOptions, writer: SnapshotWriter, progress: Progress, stop: Stopper
    ) -> None:
        self.options = options
        self.writer = writer
        self.progress = progress
        self.stop = stop

    async def scan_all(
        self, chunks: Iterable[list[InputDomain]], done: set[int], pool: ResolverPool
    ) -> bool:
        """Scan every chunk not in `done`; False when stopped by a signal."""
        scanner = DomainScanner.standard(pool, self.options.report_auth)
        jobs = (self._job(scanner, index, chunk, done) for index, chunk in enumerate(chunks))
        return await run_jobs(jobs, self.options.chunks_in_flight, self.stop.event)

    def _job(
        self, scanner: DomainScanner, index: int, chunk: list[InputDomain], done: set[int]
    ) -> Job | None:
        if index in done:
            self.progress(ChunkDone(len(chunk), Counter(), skipped=True))
            return None
        return lambda: self._chunk(scanner, index, chunk)

    async def scan_in_processes(
        self, chunks: Iterable[list[InputDomain]], done: set[int]
    ) -> tuple[bool, PoolCounts]:
        """Scan every chunk not in `done` in `options.workers` processes; False when stopped."""
        from survey.scan.processes import (  # it imports this module
            WorkerSetup,
            scan_in_workers,
            share,
        )

        options = self.options
        setup = WorkerSetup(
            self.writer.folder,
            share(options.resolver, options.workers),
            options.report_auth,
            options.psl_path,
            options.chunks_in_flight,
        )
        outcome = await scan_in_workers(
            setup,
            options.workers,
            self._todo(chunks, done),
            lambda domains, types: self.progress(ChunkDone(domains, types)),
            self.stop.event,
        )
        return outcome.completed, outcome.counts

    def _todo(
        self, chunks: Iterable[list[InputDomain]], done: set[int]
    ) -> Iterator[tuple[int, list[InputDomain]]]:
        for index, chunk in enumerate(chunks):
            if index in done:
                self.progress(ChunkDone(len(chunk), Counter(), skipped=True))
            else:
                yield index, chunk

    async def _chunk(self, scanner: DomainScanner, index: int, chunk: list[InputDomain]) -> None:
        concurrency = self.options.resolver.concurrency
        types = await scan_part(scanner, self.writer, index, chunk, concurrency)
        self.progress(ChunkDone(len(chunk), types))


# The cyclic garbage collector's thresholds for a scan (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def system_memory_pool() -> Iterator[None]:
    """Arrow's buffers from the C library's malloc instead of its bundled jemalloc, which
    keeps freed pages for a while: the 200k lab's workers peaked at ~340 MB each with
    jemalloc, ~277 MB without (same speed). Restored on exit."""
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


@contextlib.contextmanager
def tuned_collector() -> Iterator[None]:
    """Keep the garbage collector from rescanning a growing heap of live verdicts.

    A chunk's answers and verdicts stay alive until its part is written, and every full
    collection walks all of them. Measured on the 200k lab (2 workers, 50,000-domain chunks):
    before the parsers stopped caching one-off records, 33 s with the default thresholds,
    17 s with the objects alive at the start frozen out of the collector's sight and these
    thresholds; after, ~11,600 → ~13,100 domains/s (two runs each). Reference counting
    still frees almost everything at once; full collections still run, only far less often,
    so cyclic garbage stays bounded (the benchmark's 5,000,000-line run shows RSS flat).
    Restored on exit: a notebook calling `run_scan` keeps its own settings afterwards."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def run_scan(options: ScanOptions, progress: Progress | None = None) -> ScanSummary:
    """Scan `options.input_path` into the snapshot `options.label`. Synchronous entry point.

    The input is checked (format) before anything is written, and read whole (counts final)
    before the first question; a fresh snapshot whose input turns out unusable is removed."""
    if options.psl_path is not None:
        psl.load(options.psl_path)
    writer = SnapshotWriter.create(options.snapshots, options.label)
    with (
        read_domains(
            options.input_path, chunk_size=options.chunk_size, rejects_to=writer.rejects_path
        ) as stream,
        writer,
    ):
        done = _prepare(options, writer)
        with _removed_on_failure(writer, fresh=not done and writer.existing_manifest() is None):
            _read_input(stream, options.input_path)
        if progress is not None:
            progress(ChunkDone(0, Counter(), total=stream.counts.unique))
        with tuned_collector(), system_memory_pool():
            return run(_scan(options, writer, stream, done, progress or (lambda _: None)))


@contextlib.contextmanager
def _removed_on_failure(writer: SnapshotWriter, fresh: bool) -> Iterator[None]:
    """A snapshot folder this run created is removed again when the input proves unusable."""
    try:
        yield
    except BaseException:
        if fresh:
            shutil.rmtree(writer.folder, ignore_errors=True)
        raise


def _read_input(stream: DomainStream, path: Path) -> None:
    stream.prepare()
    counts = stream.counts
    if counts.accepted == 0:
        reasons = Counter(r.reason for r in stream.rejects).most_common(3)
        shown = ", ".join(f"{reason} {n}" for reason, n in reasons) or "no domain lines"
        raise InputError(
            f"{path}: no domain to scan ({counts.lines} lines, {counts.rejected} rejected: {shown})"
        )


async def _scan(
    options: ScanOptions,
    writer: SnapshotWriter,
    stream: DomainStream,
    done: set[int],
    progress: Progress,
) -> ScanSummary:
    with Stopper() as stop:
        manifest = _start_manifest(options, writer, done)
        manifest["input"].update(input_counts(stream.counts))
        run_entry = start_run_entry("resume" if done else "scan", options.resolver)
        try:
            scan_run = _Run(options, writer, progress, stop)
            if options.workers > 1:
                completed, counts = await scan_run.scan_in_processes(stream, done)
            else:
                async with ResolverPool(options.resolver) as pool:
                    completed = await scan_run.scan_all(stream, done, pool)
                counts = pool.counts()
            run_entry["workers"] = options.workers
            run_entry["questions"] = question_counts(counts)
            run_entry["transport"] = transport_counts(counts)
        except BaseException as exc:
            record_failure(writer, manifest, run_entry, exc)
            raise
        manifest["runs"] = [*manifest.get("runs", []), end_run_entry(run_entry, completed)]
        manifest["elapsed_seconds"] = round(time.monotonic() - run_entry.pop("_started"), 3)
        return ScanSummary(writer.folder, finish_manifest(writer, manifest, completed))


def _prepare(options: ScanOptions, writer: SnapshotWriter) -> set[int]:
    """Check that the label may be written; on resume, return the parts already done."""
    existing = writer.existing_manifest()
    if existing is None:
        if writer.done_parts():
            raise SnapshotError(f"{writer.folder} holds parts but no manifest; remove it first")
        return set()
    if not options.resume:
        raise SnapshotError(
            f"snapshot {writer.folder} exists (status {existing.get('status')}); "
            "use --resume to continue it or another --label"
        )
    if existing.get("status") == "complete":
        raise SnapshotError(f"snapshot {writer.folder} is already complete; nothing to resume")
    _check_same_run(options, existing)
    return writer.done_parts()


def _check_same_run(options: ScanOptions, existing: dict[str, Any]) -> None:
    expected = {
        "input sha256": existing.get("input", {}).get("sha256"),
        "chunk size": existing.get("chunk_size"),
    }
    actual = {"input sha256": file_sha256(options.input_path), "chunk size": options.chunk_size}
    for key, value in expected.items():
        if value != actual[key]:
            raise SnapshotError(
                f"cannot resume: the {key} differs from the interrupted run "
                f"({value!r} then, {actual[key]!r} now)"
            )


def _start_manifest(options: ScanOptions, writer: SnapshotWriter, done: set[int]) -> dict[str, Any]:
    previous = writer.existing_manifest() or {}
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "label": options.label,
        "status": "running",
        "started_at": previous.get("started_at", utc_now()),
        "resumed_at": [*previous.get("resumed_at", []), utc_now()] if done or previous else [],
        "finished_at": None,
        "tool_version": __version__,
        "input": {
            "path": str(options.input_path),
            "sha256": file_sha256(options.input_path),
        },
        "chunk_size": options.chunk_size,
        "resolver": resolver_settings(options.resolver),
        "report_auth": options.report_auth,
        "psl_date": psl.psl_date(),
        "runs": previous.get("runs", []),
    }
    writer.write_manifest(manifest)
    return manifest
