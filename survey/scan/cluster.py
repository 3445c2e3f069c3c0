"""Scanning on a Dask distributed cluster (`survey scan --cluster tcp://HOST:PORT`).

The parent reads the input, keeps the manifest and the progress, as for any runner; each chunk
becomes one Dask task, `scan_chunk`: a plain function that a worker runs in one of its threads,
with an event loop and a resolver pool of its own run to completion (never a coroutine on the
worker's own loop, which must stay free to talk to the scheduler). The task writes part N
itself, atomically, into the snapshot folder, which every worker must see at the same path (a
shared filesystem), and returns what the parent counts: the domains, their types, the pool's
counts.

- Bounded memory: `chunks_in_flight` tasks per worker thread are submitted at most, more as
  they finish; the input stays a stream.
- A worker that dies mid-chunk: the scheduler runs the task again elsewhere (its
  `allowed-failures` setting bounds how often); a rename is atomic, so the part is whole or
  absent, and a second run of the task rewrites the same part.
- A task that raises is retried (`TASK_RETRIES`: a full disk for a moment, a worker without
  the shared folder), then fails the scan.
- Stop (SIGINT/SIGTERM): the futures are cancelled. Dask cannot interrupt a running task: a
  chunk already being scanned finishes on its worker and its part may appear after the parent
  exits, whole; `--resume` scans whatever is missing.
- The scheduler out of reach at the start, gone mid-run, a worker that cannot write the
  snapshot folder or runs another version: one `ClusterError`, a manifest that is not
  `complete`, and `--resume` finishes the scan once the cluster is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from distributed import Client, KilledWorker, get_worker
from distributed.client import FutureCancelledError

from survey import __version__
from survey.dns.loop import run
from survey.dns.pool import PoolCounts, ResolverPool
from survey.dns.settings import system_nameservers
from survey.errors import ClusterError, SurveyError
from survey.input.stream import InputDomain
from survey.scan.jobs import Job, run_jobs
from survey.scan.runners import Chunks, OnChunk, RunnerOutcome, RunnerSetup, share
from survey.scan.scanner import DomainScanner, scan_part
from survey.scan.spf_tree import SpfCounts
from survey.scan.tuning import shared_tuning
from survey.store.snapshot import PARTS_DIR, SnapshotWriter
from survey.verdict import psl

__all__ = ["ChunkResult", "DaskRunner", "WorkerCheck", "check_worker", "scan_chunk"]

TASK_RETRIES = 2  # a task that raised runs again this often before the scan fails
WORKER_WAIT = 60.0  # seconds to wait for a first worker when the scheduler has none
CANCEL_WAIT = 5.0  # seconds for the scheduler to take a cancellation before we move on
CLOSE_WAIT = 10.0  # seconds for the client to close (it may be retrying a lost scheduler)
LOST = "scheduler-connection-lost"  # Dask's reason for futures cancelled with the connection


# -- the worker's side: plain functions the tasks call ----------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a task hands back: its part is on disk already."""

    domains: int
    types: Counter[str]
    counts: PoolCounts
    worker: str  # the Dask worker that wrote the part
    spf: SpfCounts = field(default_factory=SpfCounts)  # its SPF evaluations (shared per task)


def scan_chunk(setup: RunnerSetup, index: int, chunk: list[InputDomain]) -> ChunkResult:
    """A Dask task: chunk `index` scanned and written whole as part `index`."""
    with shared_tuning():
        _use_psl(setup.psl_path)
        types, counts, spf = run(_scan(setup, index, chunk))
    return ChunkResult(len(chunk), types, counts, _worker_address(), spf)


async def _scan(
    setup: RunnerSetup, index: int, chunk: list[InputDomain]
) -> tuple[Counter[str], PoolCounts, SpfCounts]:
    writer = SnapshotWriter(setup.folder)  # not entered: the parent holds the snapshot's lock
    async with ResolverPool(setup.settings) as pool:
        scanner = DomainScanner.standard(
            pool, setup.report_auth, setup.dkim, spf_eval=setup.spf_eval
        )
        types = await scan_part(scanner, writer, index, chunk, setup.settings.concurrency)
    return types, pool.counts(), scanner.spf_counts


class _Psl:
    """The suffix list a worker process has loaded (None: the bundled one, as at import)."""

    lock = threading.Lock()  # a worker runs tasks in several threads
    path: Path | None = None


def _use_psl(path: Path | None) -> None:
    """Load the scan's suffix list once per worker process, not once per task."""
    with _Psl.lock:
        if path != _Psl.path:
            psl.load(path if path is not None else psl.DEFAULT_LIST)
            _Psl.path = path


def _worker_address() -> str:
    try:
        return str(get_worker().address)
    except ValueError:  # called outside a worker (a test, a threaded LocalCluster's caller)
        return "local"


@dataclass(frozen=True, slots=True)
class WorkerCheck:
    """A worker's answer to `check_worker`."""

    host: str
    version: str
    nameservers: tuple[str, ...]  # its system resolver, used when no --nameserver is given
    problem: str | None = None


def check_worker(folder: Path, psl_path: Path | None, psl_digest: str | None) -> WorkerCheck:
    """Run on every worker before a scan: can it write parts, and does it scan as we would?"""
    parts = folder / PARTS_DIR
    problem = None
    try:
        with tempfile.NamedTemporaryFile(dir=parts, prefix=".probe-"):
            pass
    except OSError as exc:
        problem = (
            f"cannot write into the snapshot folder {parts} ({exc.strerror or exc}): "
            "it must be on a filesystem every worker mounts at the same path"
        )
    if problem is None and psl_path is not None and _digest(psl_path) != psl_digest:
        problem = f"its public suffix list {psl_path} is missing or differs from ours"
    return WorkerCheck(socket.gethostname(), __version__, _system_resolvers(), problem)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _system_resolvers() -> tuple[str, ...]:
    try:
        return system_nameservers()
    except SurveyError:
        return ()


# -- the parent's side --------------------------------------------------------------------------


@dataclass(slots=True)
class _Seen:
    """What the parent learnt of the cluster during a run (for the manifest)."""

    threads: int = 0
    workers: set[str] = field(default_factory=set)  # those that wrote parts
    resolvers: dict[str, list[str]] = field(default_factory=dict)  # host → system resolvers
    counts: PoolCounts = field(default_factory=PoolCounts)
    spf: SpfCounts | None = None


class DaskRunner:
    """The chunks as tasks on the Dask cluster whose scheduler is at `address`.

    `--concurrency` and `--qps` are totals, shared among the worker threads seen at the start
    (each runs one chunk at a time on a pool of its own)."""

    def __init__(self, setup: RunnerSetup, address: str) -> None:
        self.setup = setup
        self.address = address
        self.seen = _Seen()

    def check(self) -> None:
        """Reach the scheduler and check every worker, before the input is read."""
        run(self._check_only())

    async def _check_only(self) -> None:
        async with self._client() as client:
            await self._check_workers(client)

    def describe(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": "dask",
            "cluster": self.address,
            "threads": self.seen.threads,
            "workers": sorted(self.seen.workers),
        }
        if not self.setup.settings.nameservers:
            entry["system_nameservers"] = dict(sorted(self.seen.resolvers.items()))
        return entry

    async def run(self, chunks: Chunks, on_chunk: OnChunk, stop: asyncio.Event) -> RunnerOutcome:
        async with self._client() as client:
            await self._check_workers(client)
            threads = self.seen.threads
            setup = replace(self.setup, settings=share(self.setup.settings, threads))
            token = uuid.uuid4().hex[:8]  # task keys unique to this run
            jobs = (self._job(client, setup, token, i, chunk, on_chunk) for i, chunk in chunks)
            try:
                completed = await run_jobs(jobs, self.setup.chunks_in_flight * threads, stop)
            except OSError as exc:  # the comm to the scheduler broke outside a future
                raise ClusterError(f"{self._lost()}: {exc}") from None
        spf = self.seen.spf or SpfCounts(enabled=self.setup.spf_eval)
        return RunnerOutcome(completed, self.seen.counts, spf=spf)

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[Client]:
        with _dask_quiet():
            try:
                client = await Client(
                    self.address, asynchronous=True, set_as_default=False, name="survey-scan"
                )
            except OSError as exc:  # refused, timed out (`distributed.comm.timeouts.connect`)
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {self.address}: {exc}"
                ) from None
            try:
                yield client
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), CLOSE_WAIT)

    async def _check_workers(self, client: Client) -> None:
        """Wait for a worker, then ask every worker whether it can scan; count the threads."""
        try:
            # typed by its synchronous face; an asynchronous client's returns a coroutine
            await client.wait_for_workers(1, timeout=WORKER_WAIT)  # type: ignore[func-returns-value,misc]
            checks = await self._run_checks(client)
            threads = await client.nthreads()
        except TimeoutError:
            raise ClusterError(
                f"the Dask scheduler at {self.address} has no worker (waited {WORKER_WAIT:.0f} s):"
                f" start `dask worker {self.address}` where the scan should run"
            ) from None
        except OSError as exc:
            raise ClusterError(f"the Dask scheduler at {self.address} went away: {exc}") from None
        _refuse_unfit(checks)
        self.seen.threads = max(1, sum(threads.values()))
        for check in checks.values():
            self.seen.resolvers[check.host] = list(check.nameservers)

    async def _run_checks(self, client: Client) -> dict[str, WorkerCheck]:
        psl_path = self.setup.psl_path
        digest = _digest(psl_path) if psl_path else None
        try:
            checks = await client.run(check_worker, self.setup.folder, psl_path, digest)
        except OSError:
            raise
        except Exception as exc:  # e.g. a worker without the survey installed cannot unpickle
            raise ClusterError(
                f"a Dask worker of {self.address} cannot run the survey ({type(exc).__name__}: "
                f"{exc}): install dmarc-survey {__version__} on every worker"
            ) from None
        return dict(checks)

    def _job(
        self,
        client: Client,
        setup: RunnerSetup,
        token: str,
        index: int,
        chunk: list[InputDomain],
        on_chunk: OnChunk,
    ) -> Job:
        async def job() -> None:
            key = f"survey-part-{index:05d}-{token}"
            future = client.submit(scan_chunk, setup, index, chunk, key=key, retries=TASK_RETRIES)
            try:
                result: ChunkResult = await future
            except asyncio.CancelledError:  # the scan stops: the task need not run
                await _cancel(client, future)
                raise
            except Exception as exc:
                raise self._failure(exc, index) from None
            self.seen.workers.add(result.worker)
            self.seen.counts = self.seen.counts + result.counts
            self.seen.spf = result.spf if self.seen.spf is None else self.seen.spf + result.spf
            on_chunk(result.domains, result.types)

        return job

    def _failure(self, exc: Exception, index: int) -> SurveyError:
        """A task's failure as one line that says what to do."""
        if isinstance(exc, FutureCancelledError) and exc.reason == LOST:
            return ClusterError(self._lost())
        if isinstance(exc, KilledWorker):
            return ClusterError(
                f"part {index}: the Dask workers scanning it died more often than the "
                "scheduler allows (distributed.scheduler.allowed-failures); continue with --resume"
            )
        why = str(exc) if isinstance(exc, SurveyError) else f"{type(exc).__name__}: {exc}"
        return ClusterError(f"part {index} failed on the Dask cluster {self.address}: {why}")

    def _lost(self) -> str:
        return (
            f"lost the Dask scheduler at {self.address} during the scan; "
            "continue it with --resume once the cluster is back"
        )


async def _cancel(client: Client, future: Any) -> None:
    """Tell the scheduler a task is no longer wanted (a lost scheduler cannot be told)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.cancel([future], reason="scan stopped"), CANCEL_WAIT)


def _refuse_unfit(checks: dict[str, WorkerCheck]) -> None:
    """Every worker must be able to write the parts and scan as this process would."""
    problems = []
    for address, check in sorted(checks.items()):
        if check.version != __version__:
            problems.append(
                f"worker {address} runs dmarc-survey {check.version}, this scan {__version__}"
            )
        elif check.problem:
            problems.append(f"worker {address} ({check.host}): {check.problem}")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ClusterError(problems[0] + more)


@contextlib.contextmanager
def _dask_quiet() -> Iterator[None]:
    """Dask logs a lost connection with tracebacks on stderr; the survey says it once, in one
    line. Its loggers are silenced in this process while the client lives, then restored."""
    names = [
        name
        for name in ("distributed", *logging.root.manager.loggerDict)
        if name.startswith(("distributed", "tornado"))
    ]
    loggers = [logging.getLogger(name) for name in dict.fromkeys(names)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
