"""A flow snapshot on disk (`survey flows`), written with the DNS snapshot's atomic writer.

Layout (flow schema `flows-1`)::

    <flows>/<label>/manifest.json
    <flows>/<label>/records/part-00000.parquet ...   one row per report record; part N = group N
    <flows>/<label>/rejects/part-00000.parquet ...   the documents and records group N refused
    <flows>/<label>/rejects.csv                      all of them, written when the run ends
    <flows>/<label>/.lock

Input files are sorted and taken `files_per_part` at a time; group N becomes records part N
(written last, so it marks the group done) and rejects part N. Each records part carries its
group's accounting in its Parquet metadata, so a resumed run counts from the parts alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from survey.errors import SnapshotError
from survey.schema.flow_columns import (
    FLOW_ARROW_SCHEMA,
    FLOW_NAMES,
    FLOW_SCHEMA_VERSION,
    REJECT_ARROW_SCHEMA,
)
from survey.store.snapshot import read_manifest

RECORDS_DIR = "records"
REJECTS_DIR = "rejects"
#: The key of a records part's Parquet metadata that holds its group's accounting (JSON).
GROUP_KEY = b"survey.flows.group"


def with_group(table: pa.Table, group: dict[str, Any]) -> pa.Table:
    """`table` carrying its group's accounting in its schema metadata."""
    return table.replace_schema_metadata({GROUP_KEY: json.dumps(group).encode()})


def group_of(path: Path) -> dict[str, Any]:
    """The accounting a records part was written with."""
    metadata = pq.read_schema(path).metadata or {}
    try:
        return dict(json.loads(metadata[GROUP_KEY]))
    except (KeyError, ValueError, TypeError):
        raise SnapshotError(f"{path} is not a flow part: no group accounting") from None


def parts(folder: Path, parts_dir: str = RECORDS_DIR) -> list[Path]:
    return sorted((Path(folder) / parts_dir).glob("part-*.parquet"))


@dataclass(frozen=True, slots=True)
class FlowSnapshot:
    """A flow snapshot opened for reading. Refuses other schemas (a DNS snapshot included)."""

    folder: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, folder: Path | str) -> FlowSnapshot:
        folder = Path(folder)
        manifest = read_manifest(folder)
        version = manifest.get("schema_version")
        if version != FLOW_SCHEMA_VERSION:
            raise SnapshotError(
                f"{folder} has schema version {version!r}, not a flow snapshot "
                f"({FLOW_SCHEMA_VERSION})"
            )
        return cls(folder, manifest)

    @property
    def label(self) -> str:
        return str(self.manifest.get("label", self.folder.name))

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def is_complete(self) -> bool:
        return self.status == "complete"

    def to_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The flow rows, reading only `columns` (all when None)."""
        unknown = set(columns or ()) - set(FLOW_NAMES)
        if unknown:
            raise SnapshotError(f"unknown flow column(s): {', '.join(sorted(unknown))}")
        return self._dataset(RECORDS_DIR, FLOW_ARROW_SCHEMA).to_table(
            columns=list(columns) if columns else None
        )

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        dataset = self._dataset(RECORDS_DIR, FLOW_ARROW_SCHEMA)
        yield from dataset.to_batches(columns=list(columns) if columns else None)

    def rejects(self) -> pa.Table:
        """Every document and record refused, in input order."""
        return self._dataset(REJECTS_DIR, REJECT_ARROW_SCHEMA).to_table()

    def _dataset(self, parts_dir: str, schema: pa.Schema) -> Any:
        import pyarrow.dataset as ds  # as in Snapshot.dataset: only readers pay for it

        files = [str(p) for p in parts(self.folder, parts_dir)]
        return ds.dataset(files, schema=schema, format="parquet")
