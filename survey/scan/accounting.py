"""A run's place in the manifest: its history entry (what it asked, how the tries went, how it
ended) and the input accounting, from the scan's own objects (settings, pool and input counts).

The snapshot's on-disk bookkeeping (tallies read back from the parts, the final status) is
`survey.store.manifest`; the scan and the retry pass both write their entries through these
functions so that their figures are computed one way only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict
from typing import Any

from survey.dns.pool import PoolCounts
from survey.dns.settings import ResolverSettings
from survey.input.stream import InputCounts
from survey.store.snapshot import SnapshotWriter, utc_now


def start_run_entry(kind: str, settings: ResolverSettings) -> dict[str, Any]:
    """A history entry of the manifest: what one run did (scan, resume, retry-unresolved)."""
    return {
        "kind": kind,
        "started_at": utc_now(),
        "nameservers": list(settings.nameservers) or ["system"],
        "_started": time.monotonic(),
    }


def end_run_entry(entry: dict[str, Any], completed: bool) -> dict[str, Any]:
    entry = {k: v for k, v in entry.items() if not k.startswith("_")}
    entry.update(finished_at=utc_now(), status="finished" if completed else "interrupted")
    return entry


def question_counts(counts: PoolCounts) -> dict[str, int]:
    """Final outcomes of the questions a run asked (report-authorization ones included)."""
    return {str(outcome): n for outcome, n in sorted(counts.questions.items())}


def transport_counts(counts: PoolCounts) -> dict[str, Any]:
    """How a run's tries went on the wire: the outcome of every try (retried ones too), the
    questions asked again over TCP, the replies ignored as stray (late or forged), and those
    that echoed a question but could not be read (each counted, the try waiting on); the
    questions of each type (TXT, A, MX), and those asked with CD (the DNSSEC bogus check)."""
    return {
        "tries": {str(outcome): n for outcome, n in sorted(counts.tries.items())},
        "tcp": counts.tcp,
        "stray_replies": counts.stray,
        "malformed_replies": counts.malformed,
        "question_types": dict(sorted(counts.types.items())),
        "checking_disabled_questions": counts.checking_disabled,
    }


def record_failure(
    writer: SnapshotWriter, manifest: dict[str, Any], entry: dict[str, Any], exc: BaseException
) -> None:
    """Say in the manifest why a run stopped, when it can be said (a full disk may refuse even
    that: the previous manifest then stays, still valid and still not `complete`)."""
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        status, error = "interrupted", None
    else:
        status, error = "failed", str(exc) or type(exc).__name__
    entry = end_run_entry(entry, completed=False)
    entry.update(status=status, error=error)
    manifest.update(status=status, finished_at=utc_now(), error=error)
    manifest["runs"] = [*manifest.get("runs", []), entry]
    with contextlib.suppress(OSError):
        writer.write_manifest(manifest)


def resolver_settings(settings: ResolverSettings) -> dict[str, Any]:
    values = asdict(settings)
    values["nameservers"] = list(settings.nameservers) or ["system"]
    return values


def input_counts(counts: InputCounts) -> dict[str, int]:
    """`lines`: input records examined (blank lines, `#` comments and a CSV header are not
    records); every record is a row, a reject or a duplicate merged into an earlier row."""
    return {
        "lines": counts.lines,
        "accepted": counts.accepted,
        "rejected": counts.rejected,
        "duplicates": counts.duplicates,
        "unique": counts.unique,
    }
