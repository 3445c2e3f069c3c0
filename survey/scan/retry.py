"""`survey scan --retry-unresolved SNAPSHOT`: ask again only what never got an answer.

A domain is retried when a question it needed ended without a DNS answer: its type is null (the
DMARC, SPF or organizational DMARC lookup failed), a report-authorization question (RFC 7489
§7.1) failed (warning `report_auth_unresolved`), a question of the RFC 9989 tree walk did
(`dmarc9989_status` `error`), a DKIM question the verdict needs did (`dkim_status` `error`), or
one the SPF evaluation needed (`spf_result` `temperror`).
Every other row is kept as it is.

The snapshot is updated in place, safely. The pass holds the snapshot's lock; the manifest says
`retrying` while it runs; each part holding a retried domain is rebuilt whole (the retried rows
replaced in place, the others untouched) and replaced atomically (temp file, fsync, rename). A
pass cut short therefore leaves only whole parts, each one either as before or as after, and a
manifest that is not `complete`; running `--retry-unresolved` again finishes the job.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from survey.dns.loop import run
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings
from survey.errors import SnapshotError
from survey.input.stream import InputDomain
from survey.scan.accounting import (
    end_run_entry,
    question_counts,
    record_failure,
    start_run_entry,
    transport_counts,
)
from survey.scan.jobs import Job, Stopper, run_jobs, write_part_whole
from survey.scan.pipeline import ChunkDone, Progress, ScanSummary
from survey.scan.scanner import DomainScanner, scan_chunk, verdicts_to_table
from survey.store.manifest import finish_manifest, unresolved_rows
from survey.store.snapshot import PARTS_DIR, Snapshot, SnapshotWriter, part_name, with_schema
from survey.verdict import psl
from survey.verdict.dkim import SelectorList

RETRY_KIND = "retry-unresolved"


@dataclass(frozen=True, slots=True)
class RetryOptions:
    folder: Path
    resolver: ResolverSettings = field(default_factory=ResolverSettings)
    parts_in_flight: int = 4
    psl_path: Path | None = None


def run_retry(options: RetryOptions, progress: Progress | None = None) -> ScanSummary:
    """Retry the unresolved domains of the snapshot at `options.folder`. Synchronous."""
    if options.psl_path is not None:
        psl.load(options.psl_path)
    folder = Path(options.folder)
    Snapshot.open(folder)  # a snapshot of a known schema, before anything is locked
    with SnapshotWriter.create(folder.parent, folder.name) as writer:
        manifest = writer.existing_manifest() or {}
        check_retryable(folder, manifest)
        return run(_retry(options, writer, manifest, progress or (lambda _: None)))


def check_retryable(folder: Path, manifest: dict[str, Any]) -> None:
    """A complete snapshot, or one whose last run was a retry pass that did not finish."""
    status = manifest.get("status")
    runs = manifest.get("runs") or [{}]
    if status in ("complete", "retrying") or runs[-1].get("kind") == RETRY_KIND:
        return
    raise SnapshotError(
        f"snapshot {folder} has status {status!r}: only a complete scan can be retried; "
        "finish it first with `survey scan INPUT --label ... --resume`"
    )


async def _retry(
    options: RetryOptions, writer: SnapshotWriter, manifest: dict[str, Any], progress: Progress
) -> ScanSummary:
    with Stopper() as stop:
        entry = start_run_entry(RETRY_KIND, options.resolver)
        manifest["status"] = "retrying"
        writer.write_manifest(manifest)
        tally: Counter[str] = Counter()
        try:
            async with ResolverPool(options.resolver) as pool:
                scanner = _scanner(pool, manifest)
                part = _PartRetry(writer, scanner, tally, progress, options.resolver.concurrency)
                jobs = (part.job(index) for index in sorted(writer.done_parts()))
                completed = await run_jobs(jobs, options.parts_in_flight, stop.event)
                entry["questions"] = question_counts(pool.counts())
                entry["transport"] = transport_counts(pool.counts())
                entry["tree_walk"] = scanner.walk_counts.manifest_entry()
                entry["spf_eval"] = scanner.spf_counts.manifest_entry()
        except BaseException as exc:
            record_failure(writer, manifest, {**entry, **tally}, exc)
            raise
        manifest["runs"] = [*manifest.get("runs", []), {**end_run_entry(entry, completed), **tally}]
        return ScanSummary(writer.folder, finish_manifest(writer, manifest, completed))


def _scanner(pool: ResolverPool, manifest: dict[str, Any]) -> DomainScanner:
    report_auth = bool(manifest.get("report_auth", True))  # ask what the scan asked
    spf_eval = bool(manifest.get("spf_eval", False))  # a scan from before it did not evaluate
    return DomainScanner.standard(pool, report_auth, dkim_of(manifest), spf_eval=spf_eval)


def dkim_of(manifest: dict[str, Any]) -> SelectorList | None:
    """The DKIM selectors the scan asked (its manifest's `dkim`); None when it asked none."""
    entry = manifest.get("dkim") or {}
    return SelectorList.from_manifest(entry) if entry.get("asked") else None


class _PartRetry:
    """Rebuilds one part: its unresolved rows asked again, the part replaced whole."""

    def __init__(
        self,
        writer: SnapshotWriter,
        scanner: DomainScanner,
        tally: Counter[str],
        progress: Progress,
        concurrency: int,
    ) -> None:
        self.concurrency = concurrency
        self.writer = writer
        self.scanner = scanner
        self.tally = tally
        self.progress = progress

    def job(self, index: int) -> Job:
        return lambda: self.retry(index)

    async def retry(self, index: int) -> None:
        path = self.writer.folder / PARTS_DIR / part_name(index)
        table = with_schema(pq.read_table(path))
        mask = unresolved_rows(table)
        asked = table.filter(mask)
        if asked.num_rows == 0:
            return
        domains = input_domains(asked)
        verdicts = await scan_chunk(self.scanner, domains, self.concurrency)
        fresh = verdicts_to_table(verdicts, dt.datetime.now(dt.UTC))
        await write_part_whole(self.writer, index, replace_rows(table, mask, fresh))
        still = int(pc.sum(unresolved_rows(fresh)).as_py() or 0)
        self.tally.update(asked=asked.num_rows, resolved=asked.num_rows - still)
        self.tally["still_unresolved"] += still
        self.progress(ChunkDone(asked.num_rows, Counter(v.type or "unresolved" for v in verdicts)))


def input_domains(table: pa.Table) -> list[InputDomain]:
    """The rows' domains with their rank and weight, as the scan read them from the input."""
    columns = (table[name].to_pylist() for name in ("domain", "rank", "weight"))
    return [InputDomain(d, r, w) for d, r, w in zip(*columns, strict=True)]


def replace_rows(table: pa.Table, mask: pa.Array, fresh: pa.Table) -> pa.Table:
    """`table` with the rows selected by `mask` replaced, in order, by the rows of `fresh`."""
    if fresh.num_rows != int(pc.sum(mask).as_py() or 0):
        raise SnapshotError("internal: retried rows do not match the rows asked")
    kept = pc.invert(mask)
    merged = pa.concat_tables([table.filter(kept), fresh.cast(table.schema)])
    positions = pa.concat_arrays([pc.indices_nonzero(kept), pc.indices_nonzero(mask)])
    return merged.take(pc.sort_indices(positions))
