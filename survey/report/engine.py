"""The report's aggregations, out of core: SQL over a snapshot's Parquet parts, on DuckDB.

A snapshot of 40 million rows does not fit in pandas (~1.8 GB per million rows); its tables are
small. DuckDB reads only the columns a query names from the parts, streams them through its
hash aggregates (spilling to a temporary folder beyond `MEMORY_LIMIT`), and hands back a few
hundred rows, which `survey.report.tables` shapes into the tables `survey.report.tally` defines.
Every query returns both units at once: `domains` (rows) and `volume` (messages; a null weight
is 0), so one pass serves the tables by domains and by mail volume.

Row order, where a table depends on it (the example record of a problem code, the top-N cut),
is the parts' order and the rows' order inside each part, as `Snapshot.to_table` reads them:
DuckDB's `filename` and `file_row_number` columns.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa

from survey.report.tally import (
    DMARC_STATUS_KEYS,
    EFFECTIVE_KEYS,
    MULTIPLE_RECORDS,
    POLICIES,
    REPORT_TYPES,
    SPF_ALL_KEYS,
    TYPES,
    RecordKind,
    ReportKind,
    TopBy,
)
from survey.store.snapshot import SCHEMA

#: DuckDB's buffer limit. The report's process tree must stay under 2 GB at any snapshot size:
#: ~300 MB is Python with pandas, Arrow and matplotlib, and DuckDB's own allocations outside its
#: buffer manager (Parquet readers, one per thread) add to this. Past it, aggregates spill.
MEMORY_LIMIT = "1GB"
#: The machine has two cores: two threads keep both busy decoding Parquet and hashing; more
#: would only add a reader and a hash table each (memory) for no more CPU.
THREADS = 2
#: A value outside a table's categories (it still counts in the table's base, as in pandas).
OUTSIDE = "?"
#: Rows handed to Python at a time when it names report hosts.
BATCH_ROWS = 65_536
#: How a row is identified (and ordered) across the parts.
ROW_ORDER = "filename, file_row_number"
STATUSES = (*DMARC_STATUS_KEYS, "error")


def quote(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _values(values: Sequence[str]) -> str:
    return "(" + ", ".join(quote(v) for v in values) + ")"


def _closed(column: str, keys: Sequence[str]) -> str:
    """`column` where it is one of `keys`, null where null, else OUTSIDE: a table treats every
    value outside its keys alike, so the combinations stay few whatever a snapshot holds."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} IN {_values(keys)} "
        f"THEN {column} ELSE {quote(OUTSIDE)} END"
    )


def _policy_key(column: str, missing: str) -> str:
    """`tally._policy_keys` in SQL: a policy as written, `invalid`, or `missing`/`unset`."""
    return (
        f"CASE WHEN {column} IN {_values(POLICIES)} THEN {column} "
        f"WHEN {column} IS NOT NULL THEN 'invalid' ELSE {quote(missing)} END"
    )


# RFC 7489 §6.6.4: pct below 100 applies quarantine/reject to a sample only; absent is 100.
_EFFECTIVE = """CASE
    WHEN dmarc_effective_p IN ('quarantine', 'reject') AND coalesce(dmarc_pct, 100) < 100
        THEN dmarc_effective_p || '_pct'
    WHEN dmarc_effective_p IS NULL THEN 'no_policy'
    ELSE dmarc_effective_p END"""
#: The effective policy as the tables key it, for other queries (the flow report's DNS join).
EFFECTIVE_SQL = _EFFECTIVE

#: One row per combination of every categorical table's key, with the domains and messages
#: it holds: every table of `tables.CATEGORICAL` is a sum over these few rows.
COMBINATIONS_SQL = f"""
SELECT
    {_closed("type", TYPES)} AS type,
    {_closed("dmarc_status", STATUSES)} AS dmarc,
    {_closed("spf_status", STATUSES)} AS spf,
    coalesce(list_contains(spf_errors, {quote(MULTIPLE_RECORDS)}), false) AS spf_multiple,
    {_policy_key("dmarc_p", "missing")} AS p,
    {_policy_key("dmarc_sp", "unset")} AS sp,
    {_closed(_EFFECTIVE, EFFECTIVE_KEYS)} AS effective,
    {_closed("report_type", REPORT_TYPES)} AS report_type,
    {_closed("spf_all", SPF_ALL_KEYS)} AS spf_all,
    coalesce(len(rua_vendors) > 0, false) AS rua_named,
    coalesce(len(ruf_vendors) > 0, false) AS ruf_named,
    count(*) AS domains,
    sum(coalesce(weight, 0))::BIGINT AS volume,
    count(weight) AS weighted,
    count(rank) AS ranked
FROM parts
GROUP BY ALL
"""


def names_sql(columns: Sequence[str]) -> str:
    """Domains and messages per item of each list column (each occurrence counts), in one pass
    over the rows: `column`, `name`, `domains`, `volume`."""
    tagged = ", ".join(
        f"list_transform({c}, lambda x: {{'c': {quote(c)}, 'x': x}})" for c in columns
    )
    return f"""
SELECT item.c AS column, item.x AS name, count(*) AS domains,
    sum(coalesce(weight, 0))::BIGINT AS volume
FROM (SELECT unnest(list_concat({tagged})) AS item, weight FROM parts)
WHERE item.x IS NOT NULL
GROUP BY ALL
"""


def _published_codes(record: RecordKind, kind: str) -> str:
    """The `record`'s `kind` codes of a row, tagged, when its record is published."""
    tag = f"{{'r': {quote(record)}, 'k': {quote(kind)}, 'c': c}}"
    return (
        f"CASE WHEN {record}_status IN ('valid', 'invalid') "
        f"THEN list_transform({record}_{kind}s, lambda c: {tag}) END"
    )


#: Per problem code (`record`, `kind`, `code`) of published records: domains, messages, the
#: first domain in domain order and the first record text in that order (each the first that
#: is not null, as pandas' `first` takes it); all four code lists in one pass.
CODES_SQL = f"""
SELECT item.r AS record, item.k AS kind, item.c AS code, count(*) AS domains,
    sum(coalesce(weight, 0))::BIGINT AS volume,
    min(domain) AS example_domain,
    arg_min(CASE item.r WHEN 'dmarc' THEN dmarc_record ELSE spf_record END,
        {{'n': domain IS NULL, 'd': coalesce(domain, ''), 'f': filename, 'r': file_row_number}})
        FILTER (WHERE CASE item.r WHEN 'dmarc' THEN dmarc_record ELSE spf_record END IS NOT NULL)
        AS example_record
FROM (
    SELECT unnest(list_concat(
        {_published_codes("dmarc", "error")}, {_published_codes("dmarc", "warning")},
        {_published_codes("spf", "error")}, {_published_codes("spf", "warning")})) AS item,
        domain, dmarc_record, spf_record, weight, filename, file_row_number
    FROM parts)
WHERE item.c IS NOT NULL
GROUP BY ALL
"""


def top_sql(top: int, top_by: TopBy) -> str:
    """The first `top` rows by rank (unranked left out) or by volume, ties by domain then row
    order: DuckDB keeps only `top` rows while it reads (a top-N heap)."""
    if top_by == "rank":
        where, first = "WHERE rank IS NOT NULL", "rank"
    else:
        where, first = "", "coalesce(weight, -1) DESC"
    return f"""
SELECT domain, rank, weight, type FROM parts {where}
ORDER BY {first}, domain ASC NULLS LAST, {ROW_ORDER}
LIMIT {int(top)}
"""


class Engine:
    """A DuckDB connection over one snapshot's parts (a view `parts`), with deliberate memory
    and thread limits and a spill folder of its own (never inside the snapshot)."""

    def __init__(self, parts: Sequence[Path], spill_under: Path | None = None) -> None:
        import duckdb  # here: a scan never loads it

        self._spill = Path(tempfile.mkdtemp(prefix="survey-duckdb-", dir=spill_under))
        config: dict[str, str | bool | int | float | list[str]] = {
            "memory_limit": MEMORY_LIMIT,
            "threads": THREADS,
            "temp_directory": str(self._spill),
            "preserve_insertion_order": False,  # no query relies on it: each orders itself
        }
        try:
            self.connection: Any = duckdb.connect(":memory:", config=config)
            self._view(parts)
        except BaseException:
            shutil.rmtree(self._spill, ignore_errors=True)
            raise

    def _view(self, parts: Sequence[Path]) -> None:
        if not parts:  # read_parquet needs a file: a snapshot of no rows is an empty table
            self.register("no_parts", _no_rows())
            self.connection.execute("CREATE TEMP VIEW parts AS SELECT * FROM no_parts")
            return
        files = "[" + ", ".join(quote(str(p)) for p in parts) + "]"
        self.connection.execute(
            "CREATE TEMP VIEW parts AS SELECT * FROM "
            f"read_parquet({files}, filename = true, file_row_number = true)"
        )

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()
        shutil.rmtree(self._spill, ignore_errors=True)

    def arrow(self, sql: str) -> pa.Table:
        return self.connection.sql(sql).to_arrow_table()

    def frame(self, sql: str) -> pd.DataFrame:
        return self.arrow(sql).to_pandas()

    def batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        yield from self.connection.sql(sql).to_arrow_reader(BATCH_ROWS)

    def register(self, name: str, table: pa.Table) -> None:
        self.connection.register(name, table)

    def combinations(self) -> pd.DataFrame:
        return self.frame(COMBINATIONS_SQL)

    def names(self, columns: Sequence[str]) -> dict[str, pd.DataFrame]:
        """Per list column: its items' domains and messages."""
        found = self.frame(names_sql(columns))
        return {c: found[found["column"] == c].reset_index(drop=True) for c in columns}

    def codes(self) -> dict[tuple[str, str], pd.DataFrame]:
        """Per (record, kind): its codes' domains, messages and examples."""
        found = self.frame(CODES_SQL)
        return {
            (record, kind): found[found["record"].eq(record) & found["kind"].eq(kind)].reset_index(
                drop=True
            )
            for record in ("dmarc", "spf")
            for kind in ("error", "warning")
        }

    def top_rows(self, top: int, top_by: TopBy) -> pd.DataFrame:
        return self.frame(top_sql(top, top_by))


def _no_rows() -> pa.Table:
    """The snapshot's columns, and the two DuckDB adds for a file's rows, with no rows."""
    extra = [pa.field("filename", pa.string()), pa.field("file_row_number", pa.int64())]
    return pa.schema([*SCHEMA, *extra]).empty_table()


def list_column(kind: ReportKind, what: str) -> str:
    """`rua_vendors`, `ruf_hosts` …"""
    return f"{kind}_{what}"
