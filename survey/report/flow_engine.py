"""The flow report's aggregations, out of core: SQL over a flow snapshot's record parts, on
DuckDB, with the DNS report's connection limits (`survey.report.engine.Engine`).

A flow snapshot can hold hundreds of millions of records; its tables are a few hundred rows.
Tables come in two units: `volume` (messages, the sum of `messages`) and `domains` (distinct
`header_from`, the RFC 5322.From domains). A From domain with mail in several classes counts
once in each, so by domains the shares of a table may sum past 100%.

No query counts DISTINCT: DuckDB holds a distinct aggregate's sets in memory, and a month of
reports names tens of millions of From domains. Messages come from one small aggregate over
the class combinations. From domains come from one row per From domain holding a bit per
(table, class) it has mail in (a plain GROUP BY, which spills past the memory limit), whose
bits are then summed; services and signers, open-ended, are summed per (name, From domain)
first and counted after.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from survey.report.engine import EFFECTIVE_SQL, Engine, quote
from survey.schema.flow_columns import FLOW_ARROW_SCHEMA, SELF_SERVICE
from survey.schema.flow_values import Disposition, DkimClass, DmarcResult, SpfClass
from survey.store.snapshot import SCHEMA

#: The signers kept in the signer table (the chart shows the first of them).
TOP_SIGNERS = 50
#: A table's base row: its records with a key (`in`) or without one (`left_out`).
BASE = ":n"
IN, LEFT_OUT = "in", "left_out"
VERDICT_KEYS = ("both_pass", "only_ours_pass", "only_receiver_pass", "both_fail")

#: The receiver's DMARC verdict (pass when its aligned DKIM or SPF passed, RFC 7489 §4.2)
#: against ours; null when the row has no receiver verdict (a flow table).
VERDICTS_SQL = """CASE
    WHEN reported_dkim IS NULL AND reported_spf IS NULL THEN NULL
    WHEN (coalesce(reported_dkim = 'pass', false) OR coalesce(reported_spf = 'pass', false))
        THEN CASE WHEN dmarc = 'pass' THEN 'both_pass' ELSE 'only_receiver_pass' END
    ELSE CASE WHEN dmarc = 'pass' THEN 'only_ours_pass' ELSE 'both_fail' END END"""
SERVICE_SQL = "CASE WHEN dkim = 'third_party' THEN dkim_service END"

#: Table name → the column of its key in the combinations (null: not in the table's base).
CLASS_KEYS: dict[str, str] = {
    "flow_dkim": "dkim",
    "flow_spf": "spf",
    "flow_dmarc": "dmarc",
    "flow_dmarc_reported": "verdicts",
    "flow_disposition": "disposition",
    "flow_services": "service",
}
#: The closed tables: their key's SQL over the records, and their keys.
CLOSED: dict[str, tuple[str, tuple[str, ...]]] = {
    "flow_dkim": ("dkim", tuple(DkimClass)),
    "flow_spf": ("spf", tuple(SpfClass)),
    "flow_dmarc": ("dmarc", tuple(DmarcResult)),
    "flow_dmarc_reported": (VERDICTS_SQL, VERDICT_KEYS),
    "flow_disposition": ("disposition", tuple(Disposition)),
}

#: Messages per class combination: a few hundred rows whatever the snapshot's size.
COMBINATIONS_SQL = f"""
SELECT dkim, spf, dmarc, disposition, {SERVICE_SQL} AS service, {VERDICTS_SQL} AS verdicts,
    sum(messages)::BIGINT AS volume
FROM parts
GROUP BY ALL
"""


def domain_bits() -> list[tuple[str, str]]:
    """(table, key) of each bit of a From domain's mask: every key of the closed tables, and
    each table's base (`<table>:n`, `in` or `left_out`)."""
    bits = []
    for table, (_, keys) in CLOSED.items():
        bits += [(table, key) for key in keys] + [(table + BASE, IN), (table + BASE, LEFT_OUT)]
    return bits


def _mask_sql() -> str:
    """A record's bits: one per table for its key, and one for its base."""
    bits = {pair: 1 << index for index, pair in enumerate(domain_bits())}
    terms = []
    for table, (sql, keys) in CLOSED.items():
        whens = " ".join(f"WHEN {quote(k)} THEN {bits[table, k]}" for k in keys)
        terms.append(f"CASE ({sql}) {whens} ELSE 0 END")
        inside, left_out = bits[table + BASE, IN], bits[table + BASE, LEFT_OUT]
        terms.append(f"CASE WHEN ({sql}) IS NULL THEN {left_out} ELSE {inside} END")
    return " | ".join(f"({term})::BIGINT" for term in terms)


#: From domains per bit: one row per From domain (its mask), then the bits summed.
DOMAINS_SQL = f"""
WITH senders AS (
    SELECT header_from, bit_or({_mask_sql()}) AS mask FROM parts GROUP BY header_from
)
SELECT count(*) AS all_domains,
    {
    ", ".join(
        f"coalesce(sum((mask >> {i}) & 1), 0)::BIGINT AS b{i}" for i in range(len(domain_bits()))
    )
}
FROM senders
"""

#: Third-party signing services: messages and From domains (summed per service and From
#: domain first).
SERVICES_SQL = f"""
SELECT service, count(*) AS domains, sum(volume)::BIGINT AS volume
FROM (
    SELECT {SERVICE_SQL} AS service, header_from, sum(messages) AS volume
    FROM parts WHERE dkim = 'third_party'
    GROUP BY ALL)
GROUP BY ALL
"""

#: Third-party signers by signing organization (`dkim_signer_org`) and service; a signer in
#: the author's own organization (not aligned under adkim=s) is one row, `self`.
SIGNERS_SQL = f"""
SELECT signer, service, sum(volume)::BIGINT AS volume, count(*) AS domains,
    count(*) OVER () AS signers
FROM (
    SELECT CASE WHEN dkim_service = {quote(SELF_SERVICE)} THEN {quote(SELF_SERVICE)}
            ELSE coalesce(dkim_signer_org, '?') END AS signer,
        coalesce(dkim_service, '?') AS service, header_from, sum(messages) AS volume
    FROM parts WHERE dkim = 'third_party'
    GROUP BY ALL)
GROUP BY ALL
ORDER BY volume DESC, signer, service
LIMIT {TOP_SIGNERS}
"""

#: The reports' period, and the messages of rows without one (flow tables have none).
PERIOD_SQL = """
SELECT min(report_begin) AS period_begin, max(report_end) AS period_end,
    coalesce(sum(messages) FILTER (WHERE report_begin IS NULL OR report_end IS NULL), 0)::BIGINT
        AS undated,
    count(*) AS records
FROM parts
"""

#: Each From domain's messages against its DNS verdict: the effective policy as the DNS
#: report keys it (`no_policy` when the domain is in the DNS snapshot and none applies),
#: `unresolved` when the DNS lookup failed, `not_in_dns` when the domain is not there at all.
POLICIES_SQL = f"""
WITH senders AS (
    SELECT header_from AS domain, sum(messages)::BIGINT AS volume FROM parts GROUP BY ALL
)
SELECT CASE WHEN dns.domain IS NULL THEN 'not_in_dns'
        WHEN dns.dmarc_status = 'error' THEN 'unresolved'
        ELSE {EFFECTIVE_SQL} END AS policy,
    count(*) AS domains, coalesce(sum(volume), 0)::BIGINT AS volume
FROM senders LEFT JOIN (
    SELECT domain, dmarc_status, dmarc_effective_p, dmarc_pct FROM dns
) AS dns ON senders.domain = dns.domain
GROUP BY ALL
"""


class FlowEngine(Engine):
    """A DuckDB connection over a flow snapshot's record parts (the view `parts`), and, when
    joined, a DNS snapshot's parts (the view `dns`)."""

    def __enter__(self) -> FlowEngine:
        return self

    def _view(self, parts: Sequence[Path]) -> None:
        self._create("parts", parts, FLOW_ARROW_SCHEMA)

    def _create(self, view: str, parts: Sequence[Path], schema: pa.Schema) -> None:
        if not parts:  # read_parquet needs a file: no parts is an empty table
            self.register(f"no_{view}", schema.empty_table())
            self.connection.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM no_{view}")
            return
        files = "[" + ", ".join(quote(str(p)) for p in parts) + "]"
        self.connection.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM read_parquet({files})")

    def attach_dns(self, parts: Sequence[Path]) -> None:
        """The DNS snapshot's parts as the view `dns`."""
        self._create("dns", parts, SCHEMA)

    def classes(self) -> pd.DataFrame:
        """Per table and key (and per table's base, `<table>:n`): From domains and messages,
        as rows `table`, `key`, `domains`, `volume`; `all` holds the snapshot's totals."""
        combos = self.frame(COMBINATIONS_SQL)
        domains = self.frame(DOMAINS_SQL).iloc[0]
        services = self.frame(SERVICES_SQL).assign(table="flow_services").rename(
            columns={"service": "key"})  # fmt: skip
        rows = [services, _volumes(combos, domains)]
        return pd.concat(rows, ignore_index=True)[["table", "key", "domains", "volume"]]

    def signers(self) -> pd.DataFrame:
        return self.frame(SIGNERS_SQL)

    def period(self) -> dict[str, Any]:
        """`period_begin`, `period_end` (datetimes, None without reports), `undated`, `records`."""
        return dict(self.arrow(PERIOD_SQL).to_pylist()[0])

    def policies(self) -> pd.DataFrame:
        return self.frame(POLICIES_SQL)


def _volumes(combos: pd.DataFrame, domains: pd.Series) -> pd.DataFrame:
    """The closed tables' rows (messages summed over the combinations, From domains from the
    summed bits), every table's base, and `all`."""
    counted = {pair: int(domains[f"b{i}"]) for i, pair in enumerate(domain_bits())}
    rows = [("all", "all", int(domains["all_domains"]), int(combos["volume"].sum()))]
    for table, column in CLASS_KEYS.items():
        rows += _base_rows(table, combos[column].notna(), combos, counted)
        if table in CLOSED:
            sums = combos.groupby(column)["volume"].sum()
            rows += [(table, k, counted[table, k], int(sums.get(k, 0))) for k in CLOSED[table][1]]
    return pd.DataFrame(rows, columns=["table", "key", "domains", "volume"])


def _base_rows(
    table: str, keyed: pd.Series, combos: pd.DataFrame, counted: dict[tuple[str, str], int]
) -> list[tuple[str, str, int, int]]:
    volume = {
        IN: int(combos.loc[keyed, "volume"].sum()),
        LEFT_OUT: int(combos.loc[~keyed, "volume"].sum()),
    }
    if table == "flow_services":  # its base: the From domains with third-party-signed mail
        domains = {IN: counted["flow_dkim", DkimClass.THIRD_PARTY], LEFT_OUT: 0}
    else:
        domains = {b: counted[table + BASE, b] for b in (IN, LEFT_OUT)}
    return [(table + BASE, b, domains[b], volume[b]) for b in (IN, LEFT_OUT)]
