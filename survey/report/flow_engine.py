"""The flow report's aggregations, out of core: SQL over a flow snapshot's record parts, on
DuckDB, with the DNS report's connection limits (`survey.report.engine.Engine`).

A flow snapshot can hold hundreds of millions of records; its tables are a few hundred rows.
Every query hands back both units at once: `volume` (messages, the sum of `messages`) and
`domains` (distinct `header_from`, the RFC 5322.From domains). A From domain with mail in
several classes counts once in each, so by domains the shares of a table may sum past 100%.

Distinct From domains are counted in two steps: the records are first summed per From domain
and class combination (at most a few rows per From domain, however many records it has), and
the distinct counts are taken over those.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from survey.report.engine import EFFECTIVE_SQL, Engine, quote
from survey.schema.flow_columns import FLOW_ARROW_SCHEMA, SELF_SERVICE
from survey.store.snapshot import SCHEMA

#: The signers kept in the signer table (the chart shows the first of them).
TOP_SIGNERS = 50
#: A table's base row: its records with a key (`in`) or without one (`left_out`).
BASE = ":n"

#: The receiver's DMARC verdict (pass when its aligned DKIM or SPF passed, RFC 7489 §4.2)
#: against ours; null when the row has no receiver verdict (a flow table).
VERDICTS_SQL = """CASE
    WHEN reported_dkim IS NULL AND reported_spf IS NULL THEN NULL
    WHEN (coalesce(reported_dkim = 'pass', false) OR coalesce(reported_spf = 'pass', false))
        THEN CASE WHEN dmarc = 'pass' THEN 'both_pass' ELSE 'only_receiver_pass' END
    ELSE CASE WHEN dmarc = 'pass' THEN 'only_ours_pass' ELSE 'both_fail' END END"""

#: Table name → the SQL of its key over the per-combination rows (null: not in its base).
CLASS_KEYS: dict[str, str] = {
    "flow_dkim": "dkim",
    "flow_spf": "spf",
    "flow_dmarc": "dmarc",
    "flow_dmarc_reported": "verdicts",
    "flow_disposition": "disposition",
    "flow_services": "service",
}


def _items() -> str:
    """Each combination row tagged once per table with its key, once per table with whether
    it is in that table's base, and once as `all`."""
    items = []
    for table, key in CLASS_KEYS.items():
        items.append(f"{{'t': {quote(table)}, 'k': {key}}}")
        base = f"CASE WHEN {key} IS NULL THEN 'left_out' ELSE 'in' END"
        items.append(f"{{'t': {quote(table + BASE)}, 'k': {base}}}")
    items.append("{'t': 'all', 'k': 'all'}")
    return "[" + ", ".join(items) + "]"


CLASSES_SQL = f"""
WITH combos AS (
    SELECT header_from, dkim, spf, dmarc, disposition,
        CASE WHEN dkim = 'third_party' THEN dkim_service END AS service,
        {VERDICTS_SQL} AS verdicts,
        sum(messages)::BIGINT AS volume
    FROM parts
    GROUP BY ALL
)
SELECT item.t AS "table", item.k AS key, count(DISTINCT header_from) AS domains,
    sum(volume)::BIGINT AS volume
FROM (SELECT unnest({_items()}) AS item, header_from, volume FROM combos)
GROUP BY ALL
"""

#: Third-party signers by signing organization (`dkim_signer_org`) and service; a signer in
#: the author's own organization (not aligned under adkim=s) is one row, `self`.
SIGNERS_SQL = f"""
SELECT signer, service, volume, domains, count(*) OVER () AS signers
FROM (
    SELECT CASE WHEN dkim_service = {quote(SELF_SERVICE)} THEN {quote(SELF_SERVICE)}
            ELSE coalesce(dkim_signer_org, '?') END AS signer,
        coalesce(dkim_service, '?') AS service,
        sum(messages)::BIGINT AS volume, count(DISTINCT header_from) AS domains
    FROM parts WHERE dkim = 'third_party'
    GROUP BY ALL)
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
        """Per table and key (and per table's base): distinct From domains and messages."""
        return self.frame(CLASSES_SQL)

    def signers(self) -> pd.DataFrame:
        return self.frame(SIGNERS_SQL)

    def period(self) -> dict[str, Any]:
        """`period_begin`, `period_end` (datetimes, None without reports), `undated`, `records`."""
        return dict(self.arrow(PERIOD_SQL).to_pylist()[0])

    def policies(self) -> pd.DataFrame:
        return self.frame(POLICIES_SQL)
