"""Every table of one snapshot, from the engine's aggregates: the contract of
`survey.report.tally` (one key column, `count`, `share`; `attrs` with by, n, unresolved,
unresolved_domains, total) computed without loading the rows.

`tally` is the reference: the same tables from the rows in pandas. The categorical tables are
sums over `Engine.combinations()` (a few hundred rows at most); the list tables (vendors, codes,
`other` destinations) come from per-name aggregates; the top-N cut holds `top` rows, so the
reference `tally.types` tallies it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from survey.report import tally
from survey.report.engine import Engine, list_column
from survey.report.hosts import other_domain_counts
from survey.report.tally import By, HostNaming, RecordKind, ReportKind, TopBy

Mask = Callable[[pd.DataFrame], pd.Series]


def _dmarc_unresolved(c: pd.DataFrame) -> pd.Series:
    return c["dmarc"].eq(tally.ERROR)


def _spf_unresolved(c: pd.DataFrame) -> pd.Series:
    return c["spf"].eq(tally.ERROR)


def _dmarc_published(c: pd.DataFrame) -> pd.Series:
    return c["dmarc"].isin(tally.PUBLISHED)


def _spf_keys(c: pd.DataFrame) -> pd.Series:
    return c["spf"].where(~c["spf_multiple"].astype(bool), "multiple")


@dataclass(frozen=True, slots=True)
class Categorical:
    """A table over one key of the combinations: which rows form its base, which are
    unresolved, and the key order."""

    key: str
    column: str | Callable[[pd.DataFrame], pd.Series]
    base: Mask
    unresolved: Mask
    order: Sequence[str]

    def keys(self, combos: pd.DataFrame) -> pd.Series:
        return combos[self.column] if isinstance(self.column, str) else self.column(combos)


def _dmarc9989_unresolved(c: pd.DataFrame) -> pd.Series:
    return c["dmarc9989"].eq(tally.ERROR)


def _either_unresolved(c: pd.DataFrame) -> pd.Series:
    return _dmarc_unresolved(c) | _dmarc9989_unresolved(c)


def _notna(column: str) -> Mask:
    return lambda c: c[column].notna()


CATEGORICAL: dict[str, Categorical] = {
    "types": Categorical("type", "type", _notna("type"), lambda c: c["type"].isna(), tally.TYPES),
    "dmarc_status": Categorical(
        "dmarc_status",
        "dmarc",
        lambda c: c["dmarc"].isin(tally.DMARC_STATUS_KEYS),
        _dmarc_unresolved,
        tally.DMARC_STATUS_KEYS,
    ),
    "spf_status": Categorical(
        "spf_status",
        _spf_keys,
        lambda c: c["spf"].isin(("valid", "invalid", "absent")),
        _spf_unresolved,
        tally.SPF_STATUS_KEYS,
    ),
    "policy_p": Categorical("p", "p", _dmarc_published, _dmarc_unresolved, tally.P_KEYS),
    "policy_effective": Categorical(
        "policy", "effective", _dmarc_published, _dmarc_unresolved, tally.EFFECTIVE_KEYS
    ),
    "policy_effective_9989": Categorical(
        "policy",
        "effective_9989",
        lambda c: c["dmarc9989"].isin(tally.PUBLISHED),
        _dmarc9989_unresolved,
        tally.EFFECTIVE_9989_KEYS,
    ),
    "rfc_differences": Categorical(
        "reason",
        "difference",
        lambda c: (
            c["dmarc"].isin(tally.DMARC_STATUS_KEYS) & c["dmarc9989"].isin(tally.DMARC_STATUS_KEYS)
        ),
        _either_unresolved,
        tally.DIFFERENCE_KEYS,
    ),
    "policy_sp": Categorical("sp", "sp", _dmarc_published, _dmarc_unresolved, tally.SP_KEYS),
    "report_types": Categorical(
        "report_type",
        "report_type",
        _notna("report_type"),
        _dmarc_unresolved,
        tally.REPORT_TYPES,
    ),
    "spf_all": Categorical(
        "all", "spf_all", _notna("spf_all"), _spf_unresolved, tally.SPF_ALL_KEYS
    ),
}


def _attrs(table: pd.DataFrame, combos: pd.DataFrame, by: By, n: int, unresolved: Mask) -> None:
    gone = unresolved(combos)
    table.attrs.update(
        by=by,
        n=int(n),
        unresolved=int(combos.loc[gone, by].sum()),
        unresolved_domains=int(combos.loc[gone, "domains"].sum()),
        total=int(combos[by].sum()),
    )


def _share(table: pd.DataFrame, n: int) -> None:
    table["share"] = table["count"] / n if n else 0.0


def categorical(combos: pd.DataFrame, spec: Categorical, by: By) -> pd.DataFrame:
    """One categorical table from the combinations (as `tally._table` from the rows)."""
    base = spec.base(combos)
    amount = combos.loc[base, by]
    counts = amount.groupby(spec.keys(combos)[base]).sum().reindex(list(spec.order), fill_value=0)
    n = int(amount.sum())
    table = pd.DataFrame({spec.key: list(spec.order), "count": counts.to_numpy(dtype="int64")})
    _share(table, n)
    _attrs(table, combos, by, n, spec.unresolved)
    return table


def rfc9989_tags(combos: pd.DataFrame, by: By) -> pd.DataFrame:
    """The use of np, psd and t (as `tally.rfc9989_tags`): one sum per tag over the
    combinations where RFC 9989's record applies."""
    base = combos["dmarc9989"].isin(tally.PUBLISHED)
    has = [
        combos["np_set"].astype(bool),
        *(combos["psd"].eq(v) for v in ("y", "n", "u")),
        *(combos["t"].eq(v) for v in ("y", "n")),
    ]
    counts = [int(combos.loc[base & mask.fillna(False).astype(bool), by].sum()) for mask in has]
    n = int(combos.loc[base, by].sum())
    table = pd.DataFrame({"tag": list(tally.TAG_KEYS), "count": pd.Series(counts, dtype="int64")})
    _share(table, n)
    _attrs(table, combos, by, n, _dmarc9989_unresolved)
    return table


def ranked(
    counts: pd.DataFrame, key: str, by: By, combos: pd.DataFrame, base: Mask
) -> pd.DataFrame:
    """Names by count (descending, then name), shares of the base (as `tally._list_table`)."""
    # An empty table keeps pandas' object key column, as the reference's empty groupby does.
    names = counts["name"].astype(str) if len(counts) else pd.Index([], dtype=object)
    series = pd.Series(counts[by].to_numpy(dtype="int64"), index=names)
    table = series.sort_index().rename_axis(key).reset_index(name="count")
    table = table.sort_values(["count", key], ascending=[False, True], ignore_index=True)
    n = int(combos.loc[base(combos), by].sum())
    _share(table, n)
    _attrs(table, combos, by, n, _dmarc_unresolved)
    return table


def _named(kind: ReportKind) -> Mask:
    return lambda c: c[f"{kind}_named"].astype(bool)


def _codes(rows: pd.DataFrame, by: By, kind: str) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "code": rows["code"].astype(str) if len(rows) else pd.Series([], dtype=object),
            "kind": kind,
            "count": rows[by].to_numpy(dtype="int64"),
            "example_domain": rows["example_domain"],
            "example_record": rows["example_record"],
        }
    ).sort_values("code", ignore_index=True)
    return table.sort_values(["count", "code"], ascending=[False, True], ignore_index=True)


def problems(
    codes: dict[str, pd.DataFrame], record: RecordKind, by: By, combos: pd.DataFrame
) -> pd.DataFrame:
    """Each error and warning code of `record` (as `tally.problems`)."""
    parts = [_codes(codes[kind], by, kind) for kind in ("error", "warning")]
    table = pd.concat(parts, ignore_index=True)
    status = combos[record]
    n = int(combos.loc[status.isin(tally.PUBLISHED), by].sum())
    _share(table, n)
    table = table[["code", "kind", "count", "share", "example_domain", "example_record"]]
    _attrs(table, combos, by, n, lambda c: c[record].eq(tally.ERROR))
    return table


def _mode_tables(aggregates: Aggregates, by: By) -> dict[str, pd.DataFrame]:
    """The tables of one unit, in report order (as `tally.snapshot_tables`)."""
    combos = aggregates.combos
    tables = {name: categorical(combos, spec, by) for name, spec in CATEGORICAL.items()}
    tables["rfc9989_tags"] = rfc9989_tags(combos, by)
    for kind in KINDS:
        tables[f"{kind}_vendors"] = ranked(
            aggregates.vendors[kind], "vendor", by, combos, _named(kind)
        )
    for record in RECORDS:
        tables[f"{record}_problems"] = problems(aggregates.codes[record], record, by, combos)
    ordered = {name: tables[name] for name in tally.TABLES}
    if aggregates.top is not None:
        ordered["types_top"] = tally.types(aggregates.top, by)
        ordered["types_top"].attrs.update(top=aggregates.top_n, top_by=aggregates.top_by)
    for kind, counts in aggregates.other.items():
        ordered[f"{kind}_other"] = ranked(counts, "report_domain", by, combos, _named(kind))
    return ordered


KINDS: tuple[ReportKind, ...] = ("rua", "ruf")
RECORDS: tuple[RecordKind, ...] = ("dmarc", "spf")


@dataclass(frozen=True, slots=True)
class Aggregates:
    """What the engine computed over the rows, once for both units."""

    combos: pd.DataFrame
    vendors: dict[ReportKind, pd.DataFrame]
    codes: dict[RecordKind, dict[str, pd.DataFrame]]
    top: pd.DataFrame | None
    top_n: int | None
    top_by: TopBy
    other: dict[ReportKind, pd.DataFrame]

    @property
    def has_volume(self) -> bool:
        return bool(self.combos["weighted"].sum() > 0)

    @property
    def modes(self) -> tuple[By, ...]:
        return tally.BY if self.has_volume else ("domains",)


def aggregate(
    engine: Engine, top: int | None, top_by: TopBy | None, naming: HostNaming | None
) -> Aggregates:
    """Every aggregate the tables need: one pass over the rows per query."""
    combos = engine.combinations()
    cut_by: TopBy = top_by or ("rank" if combos["ranked"].sum() > 0 else "volume")
    vendors = engine.names([list_column(kind, "vendors") for kind in KINDS])
    codes = engine.codes()
    return Aggregates(
        combos=combos,
        vendors={kind: vendors[list_column(kind, "vendors")] for kind in KINDS},
        codes={r: {k: codes[(r, k)] for k in ("error", "warning")} for r in RECORDS},
        top=engine.top_rows(top, cut_by) if top is not None else None,
        top_n=top,
        top_by=cut_by,
        other={k: other_domain_counts(engine, naming, k) for k in KINDS} if naming else {},
    )


def snapshot_tables(aggregates: Aggregates) -> dict[By, dict[str, pd.DataFrame]]:
    """Every table of every unit the snapshot has (volume only with weights)."""
    return {by: _mode_tables(aggregates, by) for by in aggregates.modes}
