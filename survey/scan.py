"""The pipeline: chunks of domains → questions → verdict rows → snapshot parts. Resumable.

Input chunk N becomes part N. The domain reader yields the same chunks for the same input every
time, so `--resume` skips the parts already on disk and scans the rest: no domain twice, none lost.
Several chunks are in flight at once so that the slow tail of one (timeouts being retried) does not
leave the resolver pool idle.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from survey import __version__, psl
from survey.classify import (
    VERDICT_FIELDS,
    DomainLookups,
    OrgOf,
    Verdict,
    authorization_names,
    classify,
    needs_org_lookup,
)
from survey.domains import InputDomain, read_domains
from survey.errors import SnapshotError
from survey.outcome import TxtAnswer
from survey.resolver import ResolverPool, ResolverSettings, run
from survey.snapshot import SCHEMA_VERSION, Snapshot, SnapshotWriter, rows_to_table, utc_now
from survey.vendors import VendorTable

DEFAULT_CHUNK_SIZE = 50_000
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


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """What the progress display is told after each chunk."""

    domains: int
    types: Counter[str]
    skipped: bool = False


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

    async def scan(self, item: InputDomain) -> Verdict:
        domain = item.domain
        org = self._org_of(domain)
        dmarc, spf = await asyncio.gather(
            self._pool.txt(f"_dmarc.{domain}"), self._pool.txt(domain)
        )
        org_answer = None
        if needs_org_lookup(domain, org, dmarc):
            org_answer = await self._org_dmarc(org)
        lookups = DomainLookups(domain, org, dmarc, spf, org_answer)
        if self._report_auth:
            lookups = await self._with_authorizations(lookups)
        return classify(lookups, self._org_of, self._vendors, item.rank, item.weight)

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

    async def _with_authorizations(self, lookups: DomainLookups) -> DomainLookups:
        names = authorization_names(lookups, self._org_of)
        if not names:
            return lookups
        answers = await asyncio.gather(*(self._pool.txt(n) for n in names))
        return replace(lookups, report_auth=dict(zip(names, answers, strict=True)))


def verdicts_to_table(verdicts: Iterable[Verdict], scanned_at: dt.datetime) -> pa.Table:
    rows = list(verdicts)
    columns: dict[str, list[Any]] = {
        name: [getattr(v, name) for v in rows] for name in VERDICT_FIELDS
    }
    columns["scanned_at"] = [scanned_at] * len(rows)
    return rows_to_table(columns)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _Run:
    """One scan run: owns the writer, the stop flag and the chunk tasks."""

    def __init__(self, options: ScanOptions, writer: SnapshotWriter, progress: Progress) -> None:
        self.options = options
        self.writer = writer
        self.progress = progress
        self.stop = asyncio.Event()

    async def scan_all(self, chunks: Iterable[list[InputDomain]], done: set[int]) -> bool:
        """Scan every chunk not in `done`; False when stopped by a signal."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        try:
            async with ResolverPool(self.options.resolver) as pool:
                scanner = DomainScanner(
                    pool, psl.organizational_domain, VendorTable.load(), self.options.report_auth
                )
                return await self._feed(scanner, chunks, done)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def _feed(
        self, scanner: DomainScanner, chunks: Iterable[list[InputDomain]], done: set[int]
    ) -> bool:
        pending: set[asyncio.Task[None]] = set()
        stopper = asyncio.ensure_future(self.stop.wait())
        try:
            for index, chunk in enumerate(chunks):
                if index in done:
                    self.progress(ChunkDone(len(chunk), Counter(), skipped=True))
                    continue
                while len(pending) >= self.options.chunks_in_flight and not self.stop.is_set():
                    finished, pending = await asyncio.wait(
                        {*pending, stopper}, return_when=asyncio.FIRST_COMPLETED
                    )
                    pending.discard(stopper)  # type: ignore[arg-type]
                    _raise_failures(finished - {stopper})  # type: ignore[operator]
                if self.stop.is_set():
                    break
                pending.add(asyncio.create_task(self._chunk(scanner, index, chunk)))
            while pending and not self.stop.is_set():
                finished, pending = await asyncio.wait(
                    {*pending, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(stopper)  # type: ignore[arg-type]
                _raise_failures(finished - {stopper})  # type: ignore[operator]
        finally:
            for task in pending:
                task.cancel()  # a part in flight is discarded whole, never half-written
            await asyncio.gather(*pending, return_exceptions=True)
            stopper.cancel()
        return not self.stop.is_set()

    async def _chunk(self, scanner: DomainScanner, index: int, chunk: list[InputDomain]) -> None:
        verdicts = await asyncio.gather(*(scanner.scan(item) for item in chunk))
        table = verdicts_to_table(verdicts, dt.datetime.now(dt.UTC))
        await asyncio.get_running_loop().run_in_executor(None, self.writer.write_part, index, table)
        self.progress(ChunkDone(len(chunk), Counter(v.type or "unresolved" for v in verdicts)))


def _raise_failures(finished: set[asyncio.Future[Any]]) -> None:
    for task in finished:
        task.result()


def run_scan(options: ScanOptions, progress: Progress | None = None) -> ScanSummary:
    """Scan `options.input_path` into the snapshot `options.label`. Synchronous entry point."""
    if options.psl_path is not None:
        psl.load(options.psl_path)
    with SnapshotWriter.create(options.snapshots, options.label) as writer:
        done = _prepare(options, writer)
        manifest = _start_manifest(options, writer, done)
        with read_domains(
            options.input_path, chunk_size=options.chunk_size, rejects_to=writer.rejects_path
        ) as stream:
            runner = _Run(options, writer, progress or (lambda _: None))
            started = time.monotonic()
            completed = run(runner.scan_all(stream, done))
            manifest["input"].update(_input_counts(stream))
        manifest["elapsed_seconds"] = round(time.monotonic() - started, 3)
        manifest = _finish_manifest(writer, manifest, completed)
        return ScanSummary(writer.folder, manifest)


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
        "resolver": _resolver_settings(options.resolver),
        "report_auth": options.report_auth,
        "psl_date": psl.psl_date(),
    }
    writer.write_manifest(manifest)
    return manifest


def _resolver_settings(settings: ResolverSettings) -> dict[str, Any]:
    values = asdict(settings)
    values["nameservers"] = list(settings.nameservers) or ["system"]
    return values


def _input_counts(stream: Any) -> dict[str, Any]:
    counts = stream.counts
    return {
        key: getattr(counts, key)
        for key in ("lines", "accepted", "rejected", "duplicates")
        if hasattr(counts, key)
    }


def _finish_manifest(
    writer: SnapshotWriter, manifest: dict[str, Any], completed: bool
) -> dict[str, Any]:
    manifest["finished_at"] = utc_now()
    manifest.update(_tally_parts(writer))
    accepted = manifest["input"].get("accepted")
    if not completed:
        manifest["status"] = "interrupted"
    elif accepted is not None and manifest["rows"] != accepted:
        manifest["status"] = "incomplete"
        manifest["accounting_error"] = f"{manifest['rows']} rows for {accepted} accepted domains"
    else:
        manifest["status"] = "complete"
    writer.write_manifest(manifest)
    return manifest


def _tally_parts(writer: SnapshotWriter) -> dict[str, Any]:
    """Counts for the manifest, read back from the parts on disk (exact across resumes)."""
    columns = [
        "dmarc_lookup",
        "spf_lookup",
        "dmarc_org_lookup",
        "dmarc_status",
        "spf_status",
        "type",
    ]
    table = Snapshot(writer.folder, {}).to_table(columns)

    def counts(name: str) -> dict[str, int]:
        values = pc.value_counts(pc.fill_null(table[name], "null")).to_pylist()
        return {str(v["values"]): int(v["counts"]) for v in values}

    types = counts("type")
    return {
        "rows": table.num_rows,
        "parts": len(writer.done_parts()),
        "outcomes": {
            "dmarc": counts("dmarc_lookup"),
            "spf": counts("spf_lookup"),
            "dmarc_org": counts("dmarc_org_lookup"),
        },
        "dmarc_status": counts("dmarc_status"),
        "spf_status": counts("spf_status"),
        "types": types,
        "unresolved": types.get("null", 0),
    }
