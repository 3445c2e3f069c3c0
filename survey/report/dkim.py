"""The DKIM tables of one snapshot: what DNS says of the domains' signing keys (issue 13).

Two ways to the same tables, as for the other tables (`tally` and `engine`): `reference_tables`
over a pandas frame (the definition, tested), and `engine_tables` out of core on DuckDB over the
parts (what `survey report` uses at any size); `tests/test_report_dkim.py` checks they agree and
that they count what the lab's generator wrote.

Every table has one key column, `count` and `share` (of `n`), and the attrs of the others (`by`,
`n`, `unresolved`, `unresolved_domains`, `total`). A domain whose DKIM verdict is `error` is
unresolved for every DKIM table; a domain DKIM was not asked of (`--no-dkim`) is in `total`
only.

- `dkim_adoption`: found / none_found / absent, of the domains asked.
- `dkim_key_types`: rsa / ed25519 / unknown, of the domains with keys (a domain with two types
  counts for each: shares may sum past 100%).
- `dkim_rsa_bits`: the RSA key sizes (bits) a domain publishes, of the domains with an RSA key
  whose size was read; each size once per domain.
- `dkim_key_states`: `revoked` (an empty `p`) and `testing` (`t=y`), of the domains with keys.
- `dkim_providers`: who signs (from the CNAME target or the selector), of the domains with keys;
  `none` for a domain whose keys name no provider.
- `dkim_problems`: each error and warning code, of the domains with keys or a `_domainkey` tree
  (found and none_found: the wildcard warning comes with none_found).
- `dkim_by_type`: the DKIM verdict within each type A–F (DMARC × SPF × DKIM), `type/status` keys,
  shares of all domains with both; unresolved: either one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from survey.report.engine import Engine
from survey.report.tallies import part_files
from survey.report.tally import TYPES, By, amounts, has_volume
from survey.schema.codes import DkimCode
from survey.schema.values import DkimKeyType, DkimStatus
from survey.store.snapshot import Snapshot

STATUS_KEYS: tuple[str, ...] = (DkimStatus.FOUND, DkimStatus.NONE_FOUND, DkimStatus.ABSENT)
KEY_TYPES: tuple[str, ...] = tuple(DkimKeyType)
KEY_STATES = ("revoked", "testing")
NO_PROVIDER = "none"
ERROR = DkimStatus.ERROR
TESTING = DkimCode.TESTING
#: The columns the DKIM tables read.
DKIM_COLUMNS: tuple[str, ...] = (
    "weight",
    "type",
    "dkim_status",
    "dkim_key_types",
    "dkim_key_bits",
    "dkim_revoked",
    "dkim_providers",
    "dkim_errors",
    "dkim_warnings",
)
Tables = dict[By, dict[str, pd.DataFrame]]
BY_TYPE_KEYS = tuple(f"{t}/{s}" for t in TYPES for s in STATUS_KEYS)
TABLE_NAMES = (
    "dkim_adoption",
    "dkim_key_types",
    "dkim_rsa_bits",
    "dkim_key_states",
    "dkim_providers",
    "dkim_problems",
    "dkim_by_type",
)


def asked(manifest_or_counts: dict[str, Any]) -> bool:
    """Whether a snapshot's rows carry DKIM verdicts (its manifest's `dkim_status` counts)."""
    counts = manifest_or_counts.get("dkim_status") or {}
    return any(k != "null" and n for k, n in counts.items())


# --- the items each row counts for: one definition, used by both ways -----------------------


def _items(row: Mapping[Hashable, Any]) -> dict[str, list[str]]:
    """Per list table, the keys one row counts for (each once)."""
    found = row["dkim_status"] == DkimStatus.FOUND
    types, bits = _list(row["dkim_key_types"]), _list(row["dkim_key_bits"])
    rsa = sorted({int(b) for t, b in zip(types, bits, strict=False) if t == "rsa" and _number(b)})
    states = []
    if found and _list(row["dkim_revoked"]):
        states.append("revoked")
    if found and TESTING in _list(row["dkim_warnings"]):
        states.append("testing")
    providers = sorted(set(_list(row["dkim_providers"]))) or [NO_PROVIDER]
    return {
        "dkim_key_types": sorted(set(types)) if found else [],
        "dkim_rsa_bits": [str(b) for b in rsa] if found else [],
        "dkim_key_states": states,
        "dkim_providers": providers if found else [],
    }


def _list(value: Any) -> list[Any]:
    """A list cell as a list (pandas hands over arrays, or None)."""
    return [] if value is None else list(value)


def _number(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and value != value)


# --- the reference, over pandas ------------------------------------------------------------


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.items()}


def _shaped(
    counts: dict[str, int], keys: Iterable[str], key: str, n: int, ranked: bool = False
) -> pd.DataFrame:
    """A table of `keys` (ranked: every key counted, most first) with its base `n`."""
    order = sorted(counts, key=lambda k: (-counts[k], k)) if ranked else list(keys)
    table = pd.DataFrame({key: order, "count": [int(counts.get(k, 0)) for k in order]})
    table["count"] = table["count"].astype("int64")
    table["share"] = table["count"] / n if n else 0.0
    table.attrs["n"] = int(n)
    return table


def _finish(
    tables: dict[str, pd.DataFrame],
    by: By,
    unresolved: tuple[int, int],
    by_type_unresolved: tuple[int, int],
    total: int,
) -> dict[str, pd.DataFrame]:
    for name, table in tables.items():
        amount, domains = by_type_unresolved if name == "dkim_by_type" else unresolved
        table.attrs.update(by=by, unresolved=amount, unresolved_domains=domains, total=total)
    return tables


def reference_tables(frame: pd.DataFrame, by: By) -> dict[str, pd.DataFrame]:
    """Every DKIM table of one unit over `frame` (the DKIM_COLUMNS of a snapshot)."""
    weight = amounts(frame, by)
    status = frame["dkim_status"]
    base, found = status.isin(STATUS_KEYS), status.eq(DkimStatus.FOUND)
    n_found = int(weight[found].sum())
    items = [_items(row) for row in frame[list(DKIM_COLUMNS[2:])].to_dict("records")]

    def listed(name: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for amount, row_items in zip(weight, items, strict=True):
            for item in row_items[name]:
                totals[item] = totals.get(item, 0) + int(amount)
        return totals

    rsa = listed("dkim_rsa_bits")
    n_rsa = sum(int(a) for a, r in zip(weight, items, strict=True) if r["dkim_rsa_bits"])
    both = frame["type"].notna() & base
    pairs = frame["type"][both].astype(str) + "/" + status[both].astype(str)
    tables = {
        "dkim_adoption": _shaped(
            _counts(weight[base].groupby(status[base]).sum()),
            STATUS_KEYS,
            "dkim_status",
            int(weight[base].sum()),
        ),
        "dkim_key_types": _shaped(listed("dkim_key_types"), KEY_TYPES, "key_type", n_found),
        "dkim_rsa_bits": _shaped(rsa, sorted(rsa, key=int), "rsa_bits", n_rsa),
        "dkim_key_states": _shaped(listed("dkim_key_states"), KEY_STATES, "key_state", n_found),
        "dkim_providers": _shaped(listed("dkim_providers"), (), "provider", n_found, ranked=True),
        "dkim_problems": _reference_problems(frame, weight),
        "dkim_by_type": _shaped(
            _counts(weight[both].groupby(pairs).sum()),
            BY_TYPE_KEYS,
            "type_dkim",
            int(weight[both].sum()),
        ),
    }
    error = status.eq(ERROR)
    either = frame["type"].isna() | error
    return _finish(
        tables,
        by,
        (int(weight[error].sum()), int(error.sum())),
        (int(weight[either].sum()), int(either.sum())),
        int(weight.sum()),
    )


PROBLEM_BASE = (DkimStatus.FOUND, DkimStatus.NONE_FOUND)


def _reference_problems(frame: pd.DataFrame, weight: pd.Series) -> pd.DataFrame:
    base = frame["dkim_status"].isin(PROBLEM_BASE)
    counts: dict[tuple[str, str], int] = {}
    for amount, errors, warnings in zip(
        weight[base], frame["dkim_errors"][base], frame["dkim_warnings"][base], strict=True
    ):
        for kind, codes in (("error", errors), ("warning", warnings)):
            for code in set(_list(codes)):
                counts[(kind, code)] = counts.get((kind, code), 0) + int(amount)
    return _problem_table(counts, int(weight[base].sum()))


def _problem_table(counts: dict[tuple[str, str], int], n: int) -> pd.DataFrame:
    """code, kind, count, share: errors first, each kind by count (most first), then code."""
    order = sorted(counts, key=lambda k: (k[0] != "error", -counts[k], k[1]))
    table = pd.DataFrame(
        {
            "code": [code for _, code in order],
            "kind": [kind for kind, _ in order],
            "count": pd.Series([counts[k] for k in order], dtype="int64"),
        }
    )
    table["share"] = table["count"] / n if n else 0.0
    table.attrs["n"] = int(n)
    return table


# --- out of core, on DuckDB ------------------------------------------------------------------

_ITEMS_SQL = """
WITH rows AS (
    SELECT dkim_status AS status, coalesce(weight, 0) AS weight,
        list_distinct(coalesce(dkim_key_types, [])) AS types,
        list_distinct(list_filter(
            list_transform(range(1, len(coalesce(dkim_key_bits, [])) + 1),
                lambda i: CASE WHEN dkim_key_types[i] = 'rsa' THEN dkim_key_bits[i] END),
            lambda b: b IS NOT NULL)) AS rsa,
        (len(coalesce(dkim_revoked, [])) > 0) AS revoked,
        coalesce(list_contains(dkim_warnings, 'testing'), false) AS testing,
        CASE WHEN len(coalesce(dkim_providers, [])) = 0 THEN ['none']
            ELSE list_distinct(dkim_providers) END AS providers,
        list_distinct(coalesce(dkim_errors, [])) AS errors,
        list_distinct(coalesce(dkim_warnings, [])) AS warnings
    FROM parts WHERE dkim_status IN ('found', 'none_found')
), found AS (SELECT * FROM rows WHERE status = 'found'),
items AS (
    SELECT 'dkim_key_types' AS tab, unnest(types) AS item, weight FROM found
    UNION ALL SELECT 'dkim_rsa_bits', unnest(rsa)::VARCHAR, weight FROM found
    UNION ALL SELECT '_rsa_base', 'all', weight FROM found WHERE len(rsa) > 0
    UNION ALL SELECT 'dkim_key_states', 'revoked', weight FROM found WHERE revoked
    UNION ALL SELECT 'dkim_key_states', 'testing', weight FROM found WHERE testing
    UNION ALL SELECT 'dkim_providers', unnest(providers), weight FROM found
    UNION ALL SELECT 'error', unnest(errors), weight FROM rows
    UNION ALL SELECT 'warning', unnest(warnings), weight FROM rows
)
SELECT tab, item, count(*) AS domains, sum(weight)::BIGINT AS volume
FROM items WHERE item IS NOT NULL GROUP BY ALL
"""

_COMBINATIONS_SQL = """
SELECT type, dkim_status AS status, count(*) AS domains,
    sum(coalesce(weight, 0))::BIGINT AS volume, count(weight) AS weighted
FROM parts GROUP BY ALL
"""


def engine_tables(engine: Engine) -> Tables:
    """Every DKIM table, by domains and (when the snapshot has weights) by volume."""
    combos = engine.frame(_COMBINATIONS_SQL)
    items = engine.frame(_ITEMS_SQL)
    units: list[By] = ["domains"]
    if int(combos["weighted"].sum()) > 0:
        units.append("volume")
    return {by: _engine_unit(combos, items, by) for by in units}


def _sum(frame: pd.DataFrame, mask: pd.Series, column: str) -> int:
    return int(frame.loc[mask, column].sum())


def _engine_unit(combos: pd.DataFrame, items: pd.DataFrame, by: By) -> dict[str, pd.DataFrame]:
    status, kind = combos["status"], combos["type"]
    base = status.isin(STATUS_KEYS)
    by_status = {str(k): int(v) for k, v in combos[base].groupby("status")[by].sum().items()}
    n_found = by_status.get(DkimStatus.FOUND, 0)

    def item_counts(tab: str) -> dict[str, int]:
        rows = items[items["tab"].eq(tab)]
        return {str(k): int(v) for k, v in zip(rows["item"], rows[by], strict=True)}

    rsa = item_counts("dkim_rsa_bits")
    codes = {
        (kind_name, code): count
        for kind_name in ("error", "warning")
        for code, count in item_counts(kind_name).items()
    }
    both = kind.notna() & base
    pairs = (kind[both].astype(str) + "/" + status[both].astype(str)).rename("pair")
    tables = {
        "dkim_adoption": _shaped(by_status, STATUS_KEYS, "dkim_status", _sum(combos, base, by)),
        "dkim_key_types": _shaped(item_counts("dkim_key_types"), KEY_TYPES, "key_type", n_found),
        "dkim_rsa_bits": _shaped(
            rsa, sorted(rsa, key=int), "rsa_bits", sum(item_counts("_rsa_base").values())
        ),
        "dkim_key_states": _shaped(
            item_counts("dkim_key_states"), KEY_STATES, "key_state", n_found
        ),
        "dkim_providers": _shaped(
            item_counts("dkim_providers"), (), "provider", n_found, ranked=True
        ),
        "dkim_problems": _problem_table(codes, _sum(combos, status.isin(PROBLEM_BASE), by)),
        "dkim_by_type": _shaped(
            _counts(combos.loc[both, by].groupby(pairs).sum()),
            BY_TYPE_KEYS,
            "type_dkim",
            _sum(combos, both, by),
        ),
    }
    error = status.eq(ERROR)
    either = kind.isna() | error
    return _finish(
        tables,
        by,
        (_sum(combos, error, by), _sum(combos, error, "domains")),
        (_sum(combos, either, by), _sum(combos, either, "domains")),
        int(combos[by].sum()),
    )


def units(frame: pd.DataFrame) -> tuple[By, ...]:
    return ("domains", "volume") if has_volume(frame) else ("domains",)


def snapshot_tables(snapshot: Snapshot, spill_under: Path | None = None) -> Tables:
    """The DKIM tables of `snapshot`, out of core (empty when no row was asked about DKIM)."""
    with Engine(part_files(snapshot), spill_under) as engine:
        tables = engine_tables(engine)
    attrs = tables["domains"]["dkim_adoption"].attrs
    if not attrs["n"] and not attrs["unresolved_domains"]:
        return {}
    return tables
