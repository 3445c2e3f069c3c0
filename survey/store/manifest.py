"""The manifest's bookkeeping on disk: counts read back from the parts, the input accounting,
and the final status (`complete` only when every input record is accounted for).

What a run adds to the manifest (its history entry, question and try counts) is
`survey.scan.accounting`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from survey.schema.codes import DmarcCode
from survey.store.snapshot import Snapshot, SnapshotWriter, utc_now


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def accounting(manifest: dict[str, Any]) -> dict[str, Any]:
    """Input records = rows + rejects + merged duplicates; `balanced` says whether it holds."""
    given = manifest.get("input", {})
    rows = int(manifest.get("rows", 0))
    lines, rejected, duplicates = (given.get(k) for k in ("lines", "rejected", "duplicates"))
    if None in (lines, rejected, duplicates):
        return {"rows": rows, "balanced": None}
    return {
        "input_lines": lines,
        "rows": rows,
        "rejected": rejected,
        "duplicates": duplicates,
        "balanced": lines == rows + rejected + duplicates,
    }


def finish_manifest(
    writer: SnapshotWriter, manifest: dict[str, Any], completed: bool
) -> dict[str, Any]:
    """Tally the parts on disk and set the final status: `complete` only when the run ended
    and every input record is accounted for."""
    manifest["finished_at"] = utc_now()
    manifest.pop("error", None)
    manifest.update(tally_parts(writer))
    manifest["accounting"] = accounting(manifest)
    if not completed:
        manifest["status"] = "interrupted"
    elif manifest["accounting"]["balanced"] is False:
        manifest["status"] = "incomplete"
        manifest["accounting_error"] = (
            f"{manifest['rows']} rows for {manifest['input']['unique']} distinct input domains"
        )
    else:
        manifest["status"] = "complete"
        manifest.pop("accounting_error", None)
    writer.write_manifest(manifest)
    return manifest


_TALLIED = (
    "dmarc_lookup",
    "spf_lookup",
    "dmarc_org_lookup",
    "dmarc_status",
    "spf_status",
    "type",
    "dnssec",
    "dmarc9989_status",
    "dkim_domainkey_lookup",
    "dkim_status",
    "spf_result",
)


def tally_parts(writer: SnapshotWriter) -> dict[str, Any]:
    """Counts for the manifest, read back from the parts on disk (exact across resumes).

    Batch by batch: memory stays that of one part, whatever the size of the snapshot."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in _TALLIED}
    rows = auth_unresolved = 0
    for batch in Snapshot(writer.folder, {}).iter_batches([*_TALLIED, "dmarc_warnings"]):
        rows += batch.num_rows
        for name in _TALLIED:
            values = pc.value_counts(pc.fill_null(batch.column(name), "null")).to_pylist()
            counts[name].update({str(v["values"]): int(v["counts"]) for v in values})
        auth_unresolved += int(pc.sum(report_auth_unresolved(batch)).as_py() or 0)
    types = dict(counts["type"])
    return {
        "rows": rows,
        "parts": len(writer.done_parts()),
        "outcomes": {
            "dmarc": dict(counts["dmarc_lookup"]),
            "spf": dict(counts["spf_lookup"]),
            "dmarc_org": dict(counts["dmarc_org_lookup"]),
            "dkim_domainkey": dict(counts["dkim_domainkey_lookup"]),
        },
        "dmarc_status": dict(counts["dmarc_status"]),
        "spf_status": dict(counts["spf_status"]),
        "dmarc9989_status": dict(counts["dmarc9989_status"]),
        "spf_result": dict(counts["spf_result"]),
        "types": types,
        "dnssec": dict(counts["dnssec"]),
        "dkim_status": dict(counts["dkim_status"]),
        "unresolved": types.get("null", 0),
        "report_auth_unresolved": auth_unresolved,
    }


def report_auth_unresolved(table: pa.Table | pa.RecordBatch) -> pa.Array:
    """Per row: a report-authorization question (RFC 7489 §7.1) ended without an answer."""
    warnings = table.column("dmarc_warnings")
    if isinstance(warnings, pa.ChunkedArray):
        warnings = warnings.combine_chunks()
    hit = pc.equal(pc.list_flatten(warnings), DmarcCode.REPORT_AUTH_UNRESOLVED.value)
    rows = pc.filter(pc.list_parent_indices(warnings), hit)
    return pc.is_in(pa.array(range(len(warnings)), pa.int64()), value_set=rows.cast(pa.int64()))


def unresolved_rows(table: pa.Table) -> pa.Array:
    """Per row: some question of the domain never got an answer (a retry may still find it):
    one the type needs, a §7.1 authorization question, one of the RFC 9989 tree walk, a DKIM
    one the DKIM verdict needs, or one the SPF evaluation needs (`spf_result` temperror); the
    type stays what RFC 7489 makes it."""
    walk_failed = pc.fill_null(pc.equal(table["dmarc9989_status"], "error"), False)
    dkim_failed = pc.fill_null(pc.equal(table["dkim_status"], "error"), False)
    spf_failed = pc.fill_null(pc.equal(table["spf_result"], "temperror"), False)
    failed = pc.or_(pc.is_null(table["type"]), report_auth_unresolved(table))
    return pc.or_(pc.or_(pc.or_(failed, walk_failed), dkim_failed), spf_failed)
