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
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from survey import __version__
from survey.dns.loop import run
from survey.dns.settings import ResolverSettings
from survey.errors import InputError, SnapshotError
from survey.input.stream import DomainStream, InputDomain, read_domains
from survey.scan.accounting import (
    end_run_entry,
    input_counts,
    question_counts,
    record_failure,
    resolver_settings,
    start_run_entry,
    transport_counts,
)
from survey.scan.jobs import Stopper
from survey.scan.processes import ProcessRunner
from survey.scan.runners import ChunkRunner, LocalRunner, RunnerOutcome, RunnerSetup
from survey.scan.tuning import system_memory_pool, tuned_collector
from survey.store.manifest import file_sha256, finish_manifest
from survey.store.snapshot import SCHEMA_VERSION, SnapshotWriter, utc_now
from survey.verdict import psl
from survey.verdict.dkim import SelectorList

# Domains per chunk (= per part, per resume step): the size `scripts/bench --sweep` found to
# hold the least for the same speed (README, Benchmark). A run resumes only with its own size.
DEFAULT_CHUNK_SIZE = 10_000


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
    spf_eval: bool = True  # evaluate SPF records as a receiver does (issue 17)
    psl_path: Path | None = None
    workers: int = 1  # processes scanning chunks (survey/workers.py); 1: this process alone
    cluster: str | None = None  # a Dask scheduler's address: the chunks run on its workers
    dkim_selectors: str | None = "default"  # `default`, `extended` or a CSV file; None: no DKIM

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or self.workers < 1:
            raise InputError(f"workers must be >= 1, not {self.workers!r}")
        if self.cluster is not None:
            object.__setattr__(self, "cluster", cluster_address(self.cluster))
            if self.workers > 1:
                raise InputError(
                    "--workers is for a scan on this machine; on a cluster the `dask worker` "
                    "processes scan (drop --workers or --cluster)"
                )


_CLUSTER = re.compile(r"(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})")


def cluster_address(text: str) -> str:
    """A Dask scheduler's address, `tcp://HOST:PORT` (or tls://); a bare HOST:PORT is tcp."""
    found = _CLUSTER.fullmatch(text.strip())
    if found is None or not 0 < int(found.group(3)) < 65536:
        raise InputError(f"--cluster takes a Dask scheduler's tcp://HOST:PORT, not {text!r}")
    scheme, host, port = found.groups()
    return f"{scheme or 'tcp'}://{host}:{int(port)}"


# Below this many questions in flight per worker, another process stops paying for itself.
MIN_CONCURRENCY_PER_WORKER = 50


def default_workers(concurrency: int, cpus: int | None = None) -> int:
    """One worker per CPU, but no more than keep MIN_CONCURRENCY_PER_WORKER questions each in
    flight (the README's sweep measures workers 1, 2 and 3)."""
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


class _Run:
    """One scan run over a prepared domain stream: the chunks not yet done go to the runner."""

    def __init__(self, options: ScanOptions, writer: SnapshotWriter, progress: Progress) -> None:
        self.options = options
        self.writer = writer
        self.progress = progress

    async def scan(
        self,
        runner: ChunkRunner,
        chunks: Iterable[list[InputDomain]],
        done: set[int],
        stop: asyncio.Event,
    ) -> RunnerOutcome:
        """Scan every chunk not in `done`; `completed` is False when stopped by a signal."""
        return await runner.run(self._todo(chunks, done), self._chunk_done, stop)

    def _todo(
        self, chunks: Iterable[list[InputDomain]], done: set[int]
    ) -> Iterator[tuple[int, list[InputDomain]]]:
        for index, chunk in enumerate(chunks):
            if index in done:
                self.progress(ChunkDone(len(chunk), Counter(), skipped=True))
            else:
                yield index, chunk

    def _chunk_done(self, domains: int, types: Counter[str]) -> None:
        self.progress(ChunkDone(domains, types))


def runner_for(options: ScanOptions, folder: Path) -> ChunkRunner:
    """The runner `options` ask for: a Dask cluster's workers when `cluster` is set, worker
    processes when `workers` > 1, else this process."""
    setup = RunnerSetup(
        folder,
        options.resolver,
        options.report_auth,
        options.psl_path,
        options.chunks_in_flight,
        dkim_list(options),
        options.spf_eval,
    )
    if options.cluster is not None:
        try:  # Dask is an extra, and a heavy import a scan on one machine does without
            from survey.scan.cluster import DaskRunner
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] not in ("dask", "distributed"):
                raise
            raise InputError(
                f"--cluster needs Dask ({exc.msg}): pip install 'dmarc-survey[cluster]'"
            ) from None
        return DaskRunner(setup, options.cluster)
    if options.workers > 1:
        return ProcessRunner(setup, options.workers)
    return LocalRunner(setup)


def dkim_list(options: ScanOptions) -> SelectorList | None:
    """The DKIM selectors `options` ask for (None: `--no-dkim`); a file is read here, so that
    an unusable one fails before anything is written."""
    if options.dkim_selectors is None:
        return None
    return SelectorList.load(options.dkim_selectors)


def run_scan(options: ScanOptions, progress: Progress | None = None) -> ScanSummary:
    """Scan `options.input_path` into the snapshot `options.label`. Synchronous entry point.

    The runner is checked (a cluster reached) and the input (format) before anything is
    written, and the input read whole (counts final) before the first question; a fresh
    snapshot whose runner or input turns out unusable is removed."""
    if options.psl_path is not None:
        psl.load(options.psl_path)
    dkim_list(options)  # an unusable selector file fails before the snapshot is created
    writer = SnapshotWriter.create(options.snapshots, options.label)
    with (
        read_domains(
            options.input_path, chunk_size=options.chunk_size, rejects_to=writer.rejects_path
        ) as stream,
        writer,
    ):
        done = _prepare(options, writer)
        with _removed_on_failure(writer, fresh=not done and writer.existing_manifest() is None):
            runner = runner_for(options, writer.folder)
            runner.check()  # a cluster out of reach fails before the input is read
            _read_input(stream, options.input_path)
        if progress is not None:
            progress(ChunkDone(0, Counter(), total=stream.counts.unique))
        with tuned_collector(), system_memory_pool():
            scan = _Run(options, writer, progress or (lambda _: None))
            return run(_scan(options, writer, stream, done, runner, scan))


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
    runner: ChunkRunner,
    scan: _Run,
) -> ScanSummary:
    with Stopper() as stop:
        manifest = _start_manifest(options, writer, done)
        manifest["input"].update(input_counts(stream.counts))
        run_entry = start_run_entry("resume" if done else "scan", options.resolver)
        try:
            outcome = await scan.scan(runner, stream, done, stop.event)
            completed = outcome.completed
            run_entry["workers"] = _workers_of(options, runner)
            run_entry["runner"] = runner.describe()
            run_entry["questions"] = question_counts(outcome.counts)
            run_entry["transport"] = transport_counts(outcome.counts)
            run_entry["tree_walk"] = outcome.walk.manifest_entry()
            run_entry["spf_eval"] = outcome.spf.manifest_entry()
        except BaseException as exc:
            run_entry["runner"] = runner.describe()
            record_failure(writer, manifest, run_entry, exc)
            raise
        manifest["runs"] = [*manifest.get("runs", []), end_run_entry(run_entry, completed)]
        manifest["elapsed_seconds"] = round(time.monotonic() - run_entry.pop("_started"), 3)
        return ScanSummary(writer.folder, finish_manifest(writer, manifest, completed))


def _workers_of(options: ScanOptions, runner: ChunkRunner) -> int:
    """Processes that scanned chunks: on a cluster, the Dask workers that wrote parts."""
    if options.cluster is None:
        return options.workers
    return len(runner.describe().get("workers", ()))


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
        "DKIM selector list": _dkim_digest(existing.get("dkim", _NO_DKIM_ENTRY)),
    }
    actual = {
        "input sha256": file_sha256(options.input_path),
        "chunk size": options.chunk_size,
        "DKIM selector list": _dkim_digest(_dkim_entry(options)),
    }
    for key, value in expected.items():
        if value != actual[key]:
            raise SnapshotError(
                f"cannot resume: the {key} differs from the interrupted run "
                f"({value!r} then, {actual[key]!r} now)"
            )


#: A manifest written before DKIM was asked has no `dkim` entry: it asked none.
_NO_DKIM_ENTRY: dict[str, Any] = {"asked": False}


def _dkim_entry(options: ScanOptions) -> dict[str, Any]:
    """The manifest's `dkim`: whether DKIM was asked, and the selector list (name, digest,
    selectors) when it was; the retry pass asks the same."""
    selectors = dkim_list(options)
    if selectors is None:
        return dict(_NO_DKIM_ENTRY)
    return {"asked": True, **selectors.manifest_entry()}


def _dkim_digest(entry: dict[str, Any]) -> str | None:
    return entry.get("sha256") if entry.get("asked") else None


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
        "dkim": _dkim_entry(options),
        "spf_eval": options.spf_eval,
        "psl_date": psl.psl_date(),
        "runs": previous.get("runs", []),
    }
    writer.write_manifest(manifest)
    return manifest
