"""Every table of one flow snapshot, from the flow engine's aggregates, in the DNS report's
shape: one key column, `count`, `share` (a fraction of `n`), and `attrs`:

- `by`: `volume` (messages) or `domains` (distinct From domains, `header_from`).
- `n`: the base of the shares: the table's records with a key (a disposition, a receiver
  verdict, a third-party signature, a From domain in the DNS snapshot whose lookup answered).
- `unresolved`, `unresolved_domains`: what was left out of `n` (messages or From domains, and
  From domains) because the records have no key: no disposition or receiver verdict reported
  (flow tables), a DNS lookup that failed. A From domain can be in `n` and left out at once.
- `total`: every message (or From domain) of the snapshot.
- `period_begin`, `period_end`: the reports' period (ISO 8601, UTC; null without reports);
  `undated`: the messages of rows without one.

Tables (`FLOW_ORDER`): DKIM class, SPF class, DMARC by our reading, our DMARC against the
receivers' (`volume` only), dispositions, third-party signing services, the top third-party
signers (`volume` only), and with a DNS snapshot the From domains' published policy, whose
From domains missing from the DNS snapshot are counted apart (`not_in_dns`, never `no_policy`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from survey.report.flow_engine import BASE, TOP_SIGNERS, VERDICT_KEYS, FlowEngine
from survey.report.tally import BY, EFFECTIVE_KEYS, By
from survey.schema.flow_values import Disposition, DkimClass, DmarcResult, SpfClass

Tables = dict[By, dict[str, pd.DataFrame]]
VOLUME_ONLY: tuple[By, ...] = ("volume",)


@dataclass(frozen=True, slots=True)
class ClassTable:
    """A table of the classes query: its key column, its key order (None: ranked by count),
    its units, and whether a record without a key is left out for want of data (no
    disposition reported) rather than outside the table by definition (not third-party)."""

    key: str
    order: Sequence[str] | None
    units: tuple[By, ...] = BY
    left_out: bool = True


#: The tables of `FlowEngine.classes()` (the engine's `CLASS_KEYS`).
CLASS_TABLES: dict[str, ClassTable] = {
    "flow_dkim": ClassTable("dkim", tuple(DkimClass)),
    "flow_spf": ClassTable("spf", tuple(SpfClass)),
    "flow_dmarc": ClassTable("dmarc", tuple(DmarcResult)),
    "flow_dmarc_reported": ClassTable("verdicts", VERDICT_KEYS, VOLUME_ONLY),
    "flow_disposition": ClassTable("disposition", tuple(Disposition)),
    "flow_services": ClassTable("service", None, left_out=False),
}
#: Every table in report order (`flow_policy` only with a DNS snapshot).
FLOW_ORDER = (*CLASS_TABLES, "flow_signers", "flow_policy")


def _share(table: pd.DataFrame, n: int) -> None:
    table["share"] = table["count"] / n if n else 0.0


def _amount(rows: pd.DataFrame, key: str, by: By) -> int:
    found = rows.loc[rows["key"] == key, by]
    return int(found.sum())


def _counts(rows: pd.DataFrame, spec: ClassTable, by: By) -> pd.DataFrame:
    keyed = rows[rows["key"].notna()]
    counts = pd.Series(keyed[by].to_numpy(dtype="int64"), index=keyed["key"].astype(str))
    if spec.order is not None:
        counts = counts.reindex(list(spec.order), fill_value=0)
        return pd.DataFrame({spec.key: list(spec.order), "count": counts.to_numpy()})
    table = counts.sort_index().rename_axis(spec.key).reset_index(name="count")
    return table.sort_values(["count", spec.key], ascending=[False, True], ignore_index=True)


def class_table(
    classes: pd.DataFrame, name: str, by: By, common: Mapping[str, Any]
) -> pd.DataFrame:
    """Table `name` in unit `by` from the classes query."""
    spec = CLASS_TABLES[name]
    base = classes[classes["table"] == name + BASE]
    table = _counts(classes[classes["table"] == name], spec, by)
    n = _amount(base, "in", by)
    _share(table, n)
    gone = base if spec.left_out else base.iloc[:0]
    table.attrs.update(
        by=by,
        n=n,
        unresolved=_amount(gone, "left_out", by),
        unresolved_domains=_amount(gone, "left_out", "domains"),
        total=_amount(classes[classes["table"] == "all"], "all", by),
        **common,
    )
    return table


def signers_table(signers: pd.DataFrame, dkim: pd.DataFrame) -> pd.DataFrame:
    """The top third-party signers by messages, with the services they map to and the From
    domains they sign for; shares of the third-party-signed messages."""
    table = pd.DataFrame(
        {
            "signer": signers["signer"].astype(object),
            "service": signers["service"].astype(object),
            "count": signers["volume"].to_numpy(dtype="int64"),
            "from_domains": signers["domains"].to_numpy(dtype="int64"),
        }
    )
    n = int(dkim.set_index("dkim")["count"].get(DkimClass.THIRD_PARTY, 0))
    _share(table, n)
    table = table[["signer", "service", "count", "share", "from_domains"]]
    shown = int(signers["signers"].iloc[0]) if len(signers) else 0
    table.attrs.update({**dkim.attrs, "n": n, "signers": shown, "top": TOP_SIGNERS})
    table.attrs.update(unresolved=0, unresolved_domains=0)
    return table


def policy_table(
    policies: pd.DataFrame, by: By, common: Mapping[str, Any], dns_label: str
) -> pd.DataFrame:
    """Messages (or From domains) by the From domain's effective DMARC policy in the DNS
    snapshot; From domains not in it, and those whose lookup failed, left out of the shares."""
    amount = policies.set_index("policy")
    counts = amount[by].reindex(list(EFFECTIVE_KEYS), fill_value=0).astype("int64")
    table = pd.DataFrame({"policy": list(EFFECTIVE_KEYS), "count": counts.to_numpy()})
    n = int(table["count"].sum())
    _share(table, n)

    def of(key: str, unit: By) -> int:
        return int(amount[unit].get(key, 0))

    table.attrs.update(
        by=by,
        n=n,
        unresolved=of("unresolved", by),
        unresolved_domains=of("unresolved", "domains"),
        not_in_dns=of("not_in_dns", by),
        not_in_dns_domains=of("not_in_dns", "domains"),
        total=int(amount[by].sum()),
        dns_label=dns_label,
        **common,
    )
    return table


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else None


def common_attrs(period: Mapping[str, Any]) -> dict[str, Any]:
    """The attrs every table of a snapshot shares: the reports' period."""
    return {
        "period_begin": _iso(period.get("period_begin")),
        "period_end": _iso(period.get("period_end")),
        "undated": int(period.get("undated") or 0),
    }


def flow_tables(engine: FlowEngine, dns_label: str | None = None) -> Tables:
    """Every table of the flow snapshot behind `engine`, by unit, in report order; the policy
    table when `engine` has a DNS snapshot attached (named `dns_label`)."""
    common = common_attrs(engine.period())
    classes = engine.classes()
    tables: Tables = {by: {} for by in BY}
    for name, spec in CLASS_TABLES.items():
        for by in spec.units:
            tables[by][name] = class_table(classes, name, by, common)
    by_volume = tables["volume"]
    by_volume["flow_signers"] = signers_table(engine.signers(), by_volume["flow_dkim"])
    if dns_label is not None:
        policies = engine.policies()
        for by in BY:
            tables[by]["flow_policy"] = policy_table(policies, by, common, dns_label)
    return tables
