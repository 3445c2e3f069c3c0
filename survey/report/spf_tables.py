"""The SPF evaluation's tables (issue 17): how many DNS lookups records take, what evaluation
ends in, and the sending services authorized through includes.

Each table has the contract of `survey.report.tally`: one key column, `count`, `share`, and
`attrs` (by, n, unresolved, unresolved_domains, total), by domains or by volume (messages). Its
base is the domains whose SPF record was evaluated and resolved (`spf_result` not null and not
`temperror`); those whose evaluation met a failed lookup are `unresolved`, never counted.

- `spf_lookups`: the count of DNS-querying terms of the whole tree, 0 … 10, `>10`;
- `spf_results`: `ok`, or the reason of the permerror (`syntax`, `too_many_lookups`, …);
- `spf_senders`: each sending service whose include target (the tree's, nested ones too) ends
  with one of its suffixes (`data/spf_senders.csv`, columns `vendor,suffix`: the longest suffix
  wins, as for `data/vendors.csv`), by the domains that authorize it; shares of the base.

`frame_tables` is the reference over a pandas frame of rows; `engine_tables` computes the same
out of core with DuckDB over the parts (`tests/test_spf_report.py` checks they agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa

from survey import DATA_DIR
from survey.report.engine import Engine
from survey.report.tally import BY, By
from survey.schema.values import SpfResult, SpfResultReason
from survey.verdict.vendors import VendorTable

SENDERS = DATA_DIR / "spf_senders.csv"
LOOKUP_KEYS = (*(str(n) for n in range(11)), ">10")
RESULT_KEYS = (str(SpfResult.OK), *(str(r) for r in SpfResultReason))
TABLES = ("spf_lookups", "spf_results", "spf_senders")
COLUMNS = ("spf_lookups", "spf_result", "spf_result_reason", "spf_includes", "weight")


def load_senders(path: Path = SENDERS) -> dict[str, str]:
    """Include-target suffix → sending service."""
    return dict(VendorTable.load(path).by_suffix)


def sender_of(name: str, senders: Mapping[str, str]) -> str | None:
    """The service of the longest suffix `name` equals or ends with `.` + of (macros and all:
    `%{i}._spf.mta.salesforce.com` is Salesforce's)."""
    labels = name.lower().rstrip(".").split(".")
    for start in range(len(labels)):
        found = senders.get(".".join(labels[start:]))
        if found is not None:
            return found
    return None


# -- the reference, over a frame -------------------------------------------------------------


def frame_tables(
    frame: pd.DataFrame, senders: Mapping[str, str], modes: Iterable[By] = BY
) -> dict[By, dict[str, pd.DataFrame]]:
    """Every SPF table of `frame` (the rows, with COLUMNS), by each unit of `modes`."""
    rows = frame.assign(domains=1, volume=frame["weight"].fillna(0).astype("int64"))
    unresolved = rows["spf_result"].eq(str(SpfResult.TEMPERROR))
    base = rows[rows["spf_result"].notna() & ~unresolved]
    lookups = base[base["spf_lookups"].notna()]
    keys = lookups["spf_lookups"].astype("int64").map(lambda n: str(n) if n <= 10 else ">10")
    results = base["spf_result_reason"].where(base["spf_result_reason"].notna(), base["spf_result"])
    served: list[tuple[int, str]] = []
    for position, names in enumerate(base["spf_includes"]):
        if names is not None:
            found_here = {sender_of(name, senders) for name in names}
            served += [(position, sender) for sender in found_here if sender is not None]
    found: dict[By, dict[str, pd.DataFrame]] = {}
    for by in modes:
        gone = (int(rows.loc[unresolved, by].sum()), int(unresolved.sum()), int(rows[by].sum()))
        n_lookups = int(lookups[by].sum())
        n = int(base[by].sum())
        counted, ended = lookups[by].groupby(keys).sum(), base[by].groupby(results).sum()
        tables = {
            "spf_lookups": _keyed("lookups", LOOKUP_KEYS, counted, n_lookups, by, gone),
            "spf_results": _keyed("result", RESULT_KEYS, ended, n, by, gone),
        }
        amounts: dict[str, int] = {}
        amount = base[by].to_numpy(dtype="int64")
        for position, sender in served:
            amounts[sender] = amounts.get(sender, 0) + int(amount[position])
        tables["spf_senders"] = _ranked(amounts, n, by, gone)
        found[by] = tables
    return found


def _keyed(
    key: str, keys: tuple[str, ...], counts: pd.Series, n: int, by: By, gone: tuple[int, int, int]
) -> pd.DataFrame:
    values = counts.reindex(list(keys), fill_value=0).to_numpy(dtype="int64")
    return _shaped(pd.DataFrame({key: list(keys), "count": values}), n, by, gone)


def _ranked(amounts: Mapping[str, int], n: int, by: By, gone: tuple[int, int, int]) -> pd.DataFrame:
    table = pd.DataFrame(
        {"sender": list(amounts), "count": pd.Series(list(amounts.values()), dtype="int64")}
    )
    table["sender"] = table["sender"].astype(object)
    table = table.sort_values(["count", "sender"], ascending=[False, True], ignore_index=True)
    return _shaped(table, n, by, gone)


def _shaped(table: pd.DataFrame, n: int, by: By, gone: tuple[int, int, int]) -> pd.DataFrame:
    table["share"] = table["count"] / n if n else 0.0
    unresolved, unresolved_domains, total = gone
    table.attrs.update(
        by=by, n=n, unresolved=unresolved, unresolved_domains=unresolved_domains, total=total
    )
    return table


# -- out of core, over the parts ----------------------------------------------------------------

_ROWS = """
SELECT 1 AS domains, coalesce(weight, 0) AS volume, spf_lookups, spf_result,
       spf_result_reason, spf_includes, filename, file_row_number
FROM parts
"""
_RESOLVED = "spf_result IS NOT NULL AND spf_result <> 'temperror'"

_COUNTS_SQL = f"""
WITH r AS ({_ROWS})
SELECT
  CASE WHEN spf_lookups IS NULL THEN NULL WHEN spf_lookups > 10 THEN '>10'
       ELSE CAST(spf_lookups AS VARCHAR) END AS lookups,
  CASE WHEN {_RESOLVED} THEN coalesce(spf_result_reason, spf_result) END AS result,
  spf_result = 'temperror' AS unresolved,
  count(*) AS domains, sum(volume) AS volume
FROM r GROUP BY ALL
"""

_SENDERS_SQL = f"""
WITH r AS ({_ROWS} WHERE {_RESOLVED} AND spf_includes IS NOT NULL),
inc AS (SELECT filename, file_row_number, volume,
               lower(rtrim(unnest(spf_includes), '.')) AS name FROM r),
hit AS (
  SELECT filename, file_row_number, volume, name, s.vendor,
         row_number() OVER (PARTITION BY filename, file_row_number, name
                            ORDER BY length(s.suffix) DESC) AS pick
  FROM inc JOIN spf_senders s ON inc.name = s.suffix OR suffix(inc.name, '.' || s.suffix))
SELECT vendor AS sender, count(*) AS domains, sum(volume) AS volume
FROM (SELECT DISTINCT filename, file_row_number, volume, vendor FROM hit WHERE pick = 1)
GROUP BY vendor
"""


def engine_tables(
    engine: Engine, senders: Mapping[str, str], modes: Iterable[By] = BY
) -> dict[By, dict[str, pd.DataFrame]]:
    """The same tables as `frame_tables`, from DuckDB over the parts (a snapshot from before
    the SPF evaluation holds none of its columns: every table is then empty)."""
    present = set(engine.frame("DESCRIBE parts")["column_name"])
    if not {"spf_lookups", "spf_result", "spf_includes"} <= present:
        empty = pd.DataFrame(
            {c: pd.Series([], dtype=object) for c in COLUMNS if c != "weight"}
            | {"weight": pd.Series([], dtype="Int64")}
        )
        return frame_tables(empty, senders, modes)
    counts = engine.frame(_COUNTS_SQL)
    suffixes = pa.table({"suffix": list(senders), "vendor": list(senders.values())})
    engine.register("spf_senders", suffixes)
    served = engine.frame(_SENDERS_SQL)
    found: dict[By, dict[str, pd.DataFrame]] = {}
    for by in modes:
        gone_rows = counts["unresolved"].fillna(False).astype(bool)
        gone = (
            int(counts.loc[gone_rows, by].sum()),
            int(counts.loc[gone_rows, "domains"].sum()),
            int(counts[by].sum()),
        )
        resolved = counts[counts["result"].notna()]
        with_lookups = resolved[resolved["lookups"].notna()]
        n = int(resolved[by].sum())
        by_lookups = with_lookups.groupby("lookups")[by].sum()
        by_result = resolved.groupby("result")[by].sum()
        amounts = {str(s): int(v) for s, v in zip(served["sender"], served[by], strict=True)}
        found[by] = {
            "spf_lookups": _keyed(
                "lookups", LOOKUP_KEYS, by_lookups, int(with_lookups[by].sum()), by, gone
            ),
            "spf_results": _keyed("result", RESULT_KEYS, by_result, n, by, gone),
            "spf_senders": _ranked(amounts, n, by, gone),
        }
    return found


def snapshot_spf_tables(
    parts: list[Path], modes: Iterable[By], senders: Mapping[str, str] | None = None
) -> dict[By, dict[str, pd.DataFrame]]:
    """The SPF tables of a snapshot's parts (for `survey report`)."""
    with Engine(parts) as engine:
        return engine_tables(engine, senders if senders is not None else load_senders(), modes)
