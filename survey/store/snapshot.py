"""The on-disk snapshot: Parquet parts written atomically, a manifest, rejects; and reading back.

Layout (schema version 1)::

    <snapshots>/<label>/manifest.json
    <snapshots>/<label>/domains/part-00000.parquet ...
    <snapshots>/<label>/rejects.csv
    <snapshots>/<label>/.lock

A part is written to a temporary name, fsynced and renamed, so a part either exists whole or not at
all; part N holds the verdicts of input chunk N, which is what makes `--resume` exact. The manifest
is replaced the same way. While a scan runs, it holds an exclusive `flock` on `.lock`: the kernel
drops it when the process dies, even by SIGKILL, so a crashed scan never blocks its resume.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from survey.errors import SnapshotError
from survey.schema.columns import ARROW_SCHEMA, NAMES, SCHEMA_VERSION

MANIFEST = "manifest.json"
PARTS_DIR = "domains"
REJECTS = "rejects.csv"
LOCK = ".lock"

#: The Arrow schema of every part, from the column table (`survey.schema.columns`).
SCHEMA = ARROW_SCHEMA
COLUMNS: tuple[str, ...] = NAMES

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_label(label: str) -> str:
    """A label names a folder: letters, digits, `.`, `_`, `-`; no path separators, no `..`."""
    if not _LABEL.match(label) or ".." in label:
        raise SnapshotError(
            f"invalid snapshot label {label!r}: use letters, digits, '.', '_' and '-' "
            "(e.g. 2026-11), at most 64 characters"
        )
    return label


def default_label(now: dt.datetime | None = None) -> str:
    """The current month, `YYYY-MM` (UTC)."""
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_atomically(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` so that readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def rows_to_table(rows: Mapping[str, Sequence[Any] | pa.Array]) -> pa.Table:
    """Columns (name → values, or an Arrow array) to a table of exactly SCHEMA; missing columns
    become nulls."""
    length = len(next(iter(rows.values()))) if rows else 0
    arrays = [
        _array(rows[f.name], f.type) if f.name in rows else pa.nulls(length, f.type) for f in SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def with_schema(table: pa.Table) -> pa.Table:
    """A part read back, as SCHEMA: the columns a part written before they were appended lacks
    are nulls (columns are only ever appended within a schema version)."""
    present = set(table.column_names)
    columns = {
        f.name: table[f.name] if f.name in present else pa.nulls(table.num_rows, f.type)
        for f in SCHEMA
    }
    return pa.table(columns).cast(SCHEMA)


class _NoPandas:
    """A meta path finder that makes `import pandas` fail (see `arrow_without_pandas`)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is left unloaded by this process", name=name)


def arrow_without_pandas() -> None:
    """Keep pyarrow from importing pandas in a process that only writes snapshots.

    The first Python list pyarrow converts makes it import pandas (tens of MB of RSS) only to
    ask whether the list is a pandas object and what pandas' missing
    values look like. Asked once while pandas cannot be imported, pyarrow remembers "no
    pandas" and stops asking; `Table.to_pandas()` still imports it when it is wanted. For
    processes of our own (scan workers, the `survey scan` command): a library caller's process
    is left alone. A no-op when pandas is already loaded; harmless if a pyarrow version asks
    again (pandas is then loaded, nothing else changes)."""
    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, _NoPandas)
    try:
        pa.array([""], type=pa.string())
    finally:
        sys.meta_path.remove(_NoPandas)


def _array(values: Sequence[Any] | pa.Array, type_: pa.DataType) -> pa.Array:
    if isinstance(values, pa.Array):
        return values if values.type == type_ else values.cast(type_)
    return pa.array(values, type=type_)


@dataclass(slots=True)
class SnapshotWriter:
    """Writes one snapshot folder. Use as a context manager: it takes and releases the lock.

    `parts_dir` names the folder of its parts (`domains` for a DNS snapshot, `records` for a
    flow snapshot); `write_part` may also write parts of another table into a folder beside it.
    """

    folder: Path
    _lock_fd: int | None = None
    parts_dir: str = PARTS_DIR

    @classmethod
    def create(cls, snapshots: Path, label: str, parts_dir: str = PARTS_DIR) -> SnapshotWriter:
        folder = Path(snapshots) / check_label(label)
        return cls(folder, parts_dir=parts_dir)

    def __enter__(self) -> SnapshotWriter:
        (self.folder / self.parts_dir).mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SnapshotError(
                f"snapshot {self.folder} is being written by another scan (locked); "
                "wait for it to finish or use another --label"
            ) from None
        self._lock_fd = fd
        self._clean_temporaries()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _clean_temporaries(self) -> None:
        """Leftovers of a write cut short (crash, full disk) are never valid parts."""
        for tmp in self.folder.glob("*/.*.tmp-*"):
            tmp.unlink(missing_ok=True)

    @property
    def rejects_path(self) -> Path:
        return self.folder / REJECTS

    def existing_manifest(self) -> dict[str, Any] | None:
        path = self.folder / MANIFEST
        return read_manifest(self.folder) if path.exists() else None

    def done_parts(self) -> set[int]:
        """Indexes of the parts already written whole (their chunks need no scanning)."""
        found = set()
        for path in (self.folder / self.parts_dir).glob("part-*.parquet"):
            with contextlib.suppress(ValueError):
                found.add(int(path.stem.removeprefix("part-")))
        return found

    def write_part(self, index: int, table: pa.Table, parts_dir: str | None = None) -> None:
        """Part `index` of `parts_dir` (default: this snapshot's parts), whole or not at all."""
        folder = self.folder / (parts_dir or self.parts_dir)
        folder.mkdir(exist_ok=True)
        path = folder / part_name(index)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        write_atomically(path, sink.getvalue().to_pybytes())

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        text = json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n"
        write_atomically(self.folder / MANIFEST, text.encode())


def read_manifest(folder: Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise SnapshotError(f"{folder} is not a snapshot: no {MANIFEST}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{path} is not a snapshot manifest")
    return manifest


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot opened for reading. Refuses schema versions it does not know."""

    folder: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, folder: Path | str) -> Snapshot:
        folder = Path(folder)
        manifest = read_manifest(folder)
        version = manifest.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SnapshotError(
                f"snapshot {folder} has schema version {version!r}; this survey "
                f"{_version()} reads schema version {SCHEMA_VERSION} only"
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

    def dataset(self) -> Any:  # pyarrow.dataset.Dataset
        # Imported here: pyarrow.dataset (with pandas, which it loads) costs each scan worker
        # tens of MB of RSS, and a worker only writes parts.
        import pyarrow.dataset as ds

        parts = sorted((self.folder / PARTS_DIR).glob("part-*.parquet"))
        return ds.dataset([str(p) for p in parts], schema=SCHEMA, format="parquet")

    def to_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The domain rows, reading only `columns` (all when None)."""
        unknown = set(columns or ()) - set(COLUMNS)
        if unknown:
            raise SnapshotError(f"unknown snapshot column(s): {', '.join(sorted(unknown))}")
        return self.dataset().to_table(columns=list(columns) if columns else None)

    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        return self.to_table(columns).to_pandas()

    def iter_batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        yield from self.dataset().to_batches(columns=list(columns) if columns else None)


def list_snapshots(snapshots: Path | str) -> list[Path]:
    """Snapshot folders under `snapshots` (those with a manifest), ordered by label."""
    root = Path(snapshots)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / MANIFEST).is_file())


def _version() -> str:
    from survey import __version__

    return __version__
