"""`survey flows`: input files → groups → flow parts, a manifest, rejects. Resumable.

The inputs (files, and the files under folders) are sorted and cut into groups of
`files_per_part`; group N becomes part N. The same inputs give the same groups, so `--resume`
reads only the groups whose part is missing: no document twice, none lost. The manifest keeps
the digest of the file list (paths and sizes): a resume over other inputs is refused. Reports
already read by the done groups are remembered from their parts, so a duplicate is refused the
same way whether or not the run was interrupted.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from survey import __version__
from survey.errors import InputError, SnapshotError
from survey.flows.accounting import tally, write_rejects_csv
from survey.flows.archive import Limits, list_inputs
from survey.flows.group import GroupReader, ReportKey
from survey.flows.signers import DEFAULT_SIGNERS, SignerTable
from survey.schema.flow_columns import FLOW_SCHEMA_VERSION
from survey.store.flows import RECORDS_DIR, REJECTS_DIR, parts, with_group
from survey.store.snapshot import SnapshotWriter, utc_now
from survey.verdict import psl

DEFAULT_FILES_PER_PART = 100
REJECTS_CSV = "rejects.csv"


@dataclass(frozen=True, slots=True)
class FlowOptions:
    inputs: tuple[Path, ...]
    flows: Path
    label: str
    files_per_part: int = DEFAULT_FILES_PER_PART
    resume: bool = False
    limits: Limits = field(default_factory=Limits)
    psl_path: Path | None = None
    signers_path: Path = DEFAULT_SIGNERS

    def __post_init__(self) -> None:
        if self.files_per_part < 1:
            raise InputError(f"files per part must be >= 1, not {self.files_per_part}")


@dataclass(frozen=True, slots=True)
class GroupDone:
    """What the caller is told after each group."""

    group: int
    groups: int
    rows: int
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class FlowSummary:
    folder: Path
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.manifest["status"])


def groups(files: list[Path], size: int) -> list[list[Path]]:
    return [files[start : start + size] for start in range(0, len(files), size)]


def files_digest(files: list[Path]) -> str:
    """sha256 of the file list: one `path<TAB>size` line per file, in order."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path}\t{path.stat().st_size}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def run_flows(
    options: FlowOptions, progress: Callable[[GroupDone], None] | None = None
) -> FlowSummary:
    """Read the inputs into the flow snapshot `options.label`. Synchronous.

    SIGINT (KeyboardInterrupt) stops between two documents: the manifest says `interrupted`
    and `--resume` continues; a SIGKILL leaves it `running`, every part whole."""
    files = list_inputs(options.inputs)
    if not files:
        raise InputError("no input files: the folders given are empty")
    if options.psl_path is not None:
        psl.load(options.psl_path)
    signers = SignerTable.load(options.signers_path)
    writer = SnapshotWriter.create(options.flows, options.label, parts_dir=RECORDS_DIR)
    with writer:
        done = _prepare(options, writer, files)
        manifest = _start_manifest(options, writer, files, done)
        reader = GroupReader(signers, options.limits, _seen_reports(writer.folder))
        try:
            _run_groups(writer, reader, groups(files, options.files_per_part), done, progress)
        except KeyboardInterrupt:
            return FlowSummary(writer.folder, _finish(writer, manifest, completed=False))
        except BaseException as exc:
            _record_failure(writer, manifest, exc)
            raise
        return FlowSummary(writer.folder, _finish(writer, manifest, completed=True))


def _run_groups(
    writer: SnapshotWriter,
    reader: GroupReader,
    todo: list[list[Path]],
    done: set[int],
    progress: Callable[[GroupDone], None] | None,
) -> None:
    tell = progress or (lambda _: None)
    for index, files in enumerate(todo):
        if index in done:
            tell(GroupDone(index, len(todo), 0, skipped=True))
            continue
        result = reader.read(files)
        group = {"files": [str(path) for path in files], "counts": result.counts}
        # Rejects first: the records part, written last, is what marks the group done.
        writer.write_part(index, result.rejects_table(), REJECTS_DIR)
        writer.write_part(index, with_group(result.rows.table(), group))
        tell(GroupDone(index, len(todo), len(result.rows)))


def _prepare(options: FlowOptions, writer: SnapshotWriter, files: list[Path]) -> set[int]:
    """Check that the label may be written; on resume, the groups already done."""
    existing = writer.existing_manifest()
    if existing is None:
        if writer.done_parts():
            raise SnapshotError(f"{writer.folder} holds parts but no manifest; remove it first")
        return set()
    if existing.get("schema_version") != FLOW_SCHEMA_VERSION:
        raise SnapshotError(f"{writer.folder} is not a flow snapshot; use another --label")
    if not options.resume:
        raise SnapshotError(
            f"flow snapshot {writer.folder} exists (status {existing.get('status')}); "
            "use --resume to continue it or another --label"
        )
    if existing.get("status") == "complete":
        raise SnapshotError(f"flow snapshot {writer.folder} is already complete")
    _check_same_inputs(options, existing.get("input", {}), files)
    return writer.done_parts()


def _check_same_inputs(options: FlowOptions, given: dict[str, Any], files: list[Path]) -> None:
    then = {"file list": given.get("sha256"), "files per part": given.get("files_per_part")}
    now = {"file list": files_digest(files), "files per part": options.files_per_part}
    for key, value in then.items():
        if value != now[key]:
            raise SnapshotError(
                f"cannot resume: the {key} differs from the interrupted run "
                f"({value!r} then, {now[key]!r} now)"
            )


def _seen_reports(folder: Path) -> set[ReportKey]:
    """The report keys of the parts already written (a resume refuses their duplicates)."""
    names = ["report_org", "report_id", "policy_domain", "report_begin", "report_end"]
    seen: set[ReportKey] = set()
    for path in parts(folder, RECORDS_DIR):
        table = pq.read_table(path, columns=names).group_by(names).aggregate([])
        for row in table.to_pylist():
            if row["report_id"] is not None:
                seen.add(_key(row))
    return seen


def _key(row: dict[str, Any]) -> ReportKey:
    begin, end = row["report_begin"], row["report_end"]
    return (
        row["report_org"],
        row["report_id"],
        row["policy_domain"],
        None if begin is None else int(begin.timestamp()),
        None if end is None else int(end.timestamp()),
    )


def _start_manifest(
    options: FlowOptions, writer: SnapshotWriter, files: list[Path], done: set[int]
) -> dict[str, Any]:
    previous = writer.existing_manifest() or {}
    manifest: dict[str, Any] = {
        "schema_version": FLOW_SCHEMA_VERSION,
        "kind": "flows",
        "label": options.label,
        "status": "running",
        "started_at": previous.get("started_at", utc_now()),
        "resumed_at": [*previous.get("resumed_at", []), utc_now()] if previous else [],
        "finished_at": None,
        "tool_version": __version__,
        "input": {
            "paths": [str(path) for path in options.inputs],
            "files": len(files),
            "sha256": files_digest(files),
            "files_per_part": options.files_per_part,
            "parts": len(groups(files, options.files_per_part)),
        },
        "limits": asdict(options.limits),
        "signers": str(options.signers_path),
        "psl_date": psl.psl_date(),
    }
    writer.write_manifest(manifest)
    return manifest


def _finish(writer: SnapshotWriter, manifest: dict[str, Any], completed: bool) -> dict[str, Any]:
    """Tally the parts on disk, write rejects.csv, set the status: `complete` only when every
    group is a part and every document and record is accounted for."""
    manifest.update(tally(writer.folder), finished_at=utc_now())
    manifest["parts"] = len(writer.done_parts())
    write_rejects_csv(writer.folder, writer.folder / REJECTS_CSV)
    accounting = manifest["accounting"]
    whole = manifest["parts"] == manifest["input"]["parts"]
    whole = whole and accounting["files"] == manifest["input"]["files"]
    if not completed:
        manifest["status"] = "interrupted"
    else:
        manifest["status"] = "complete" if whole and accounting["balanced"] else "incomplete"
    writer.write_manifest(manifest)
    return manifest


def _record_failure(writer: SnapshotWriter, manifest: dict[str, Any], exc: BaseException) -> None:
    manifest.update(status="failed", finished_at=utc_now(), error=str(exc) or type(exc).__name__)
    # A full disk may refuse even that: the previous manifest stays, and is not complete.
    with contextlib.suppress(OSError):
        writer.write_manifest(manifest)
