"""The `other` report destinations of a snapshot, out of core: DuckDB finds the distinct report
hosts, Python names them, DuckDB joins the names back to the rows.

Naming a host takes the public suffix list (`HostNaming`), which is Python: several µs per
name not seen before (~8 µs here), and 40M lab rows hold ~17 million distinct (host,
organization) pairs. What Python sees is kept to the distinct names that can be `other`:

- a host equal to its policy domain's organizational domain is in that organization (`self`,
  RFC 7489 §3.2) and is never asked about: that is most self-hosted report addresses;
- with `HostNaming.host_vendor`, each distinct host is asked once whether its suffix names a
  vendor (then it is never `other`: it is the vendor's or `self`), and only the (host, policy
  organization) pairs of the other hosts are compared; the policy organization's own
  `org_of` is asked only when it could match (an organizational domain is the name itself or a
  label-suffix of it, RFC 7489 §3.2), which spares a public-suffix lookup per organization;
- without it, `vendor_of` is asked once per distinct (host, policy organization) pair.

Per row, a registrable domain counts once however many of the row's hosts it holds (as
`tally.other_report_domains` collects them in a set).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyarrow as pa

from survey.report.engine import Engine, list_column
from survey.report.tally import HostNaming, ReportKind

OTHER = "other"
_PAIRS = pa.schema([("host", pa.string()), ("org", pa.string()), ("name", pa.string())])


def _hosts_sql(kind: ReportKind) -> str:
    """Every (host, policy organization) of the rows, hosts equal to the organization left out
    (null hosts name nothing)."""
    return f"""
SELECT filename, file_row_number, coalesce(weight, 0) AS w, host, org FROM (
    SELECT filename, file_row_number, weight, unnest({list_column(kind, "hosts")}) AS host,
        coalesce(org_domain, '') AS org
    FROM parts)
WHERE host IS NOT NULL AND NOT (host = org AND org <> '')
"""


def _pairs_sql(kind: ReportKind, only: str | None) -> str:
    among = f"WHERE host IN (SELECT host FROM {only})" if only else ""
    return f"SELECT DISTINCT host, org FROM ({_hosts_sql(kind)}) {among}"


def _counts_sql(kind: ReportKind) -> str:
    return f"""
SELECT name, count(*) AS domains, sum(w)::BIGINT AS volume FROM (
    SELECT DISTINCT h.filename, h.file_row_number, h.w, o.name
    FROM ({_hosts_sql(kind)}) h JOIN other_pairs o ON h.host = o.host AND h.org = o.org)
GROUP BY name
"""


def _bare_hosts(engine: Engine, naming: HostNaming, kind: ReportKind) -> pa.Table:
    """The distinct hosts whose suffix names no vendor (`host_vendor` is None)."""
    assert naming.host_vendor is not None
    sql = f"SELECT DISTINCT host FROM ({_hosts_sql(kind)})"
    bare: list[str] = []
    for batch in engine.batches(sql):
        bare += [h for h in batch.column(0).to_pylist() if naming.host_vendor(h) is None]
    return pa.table({"host": pa.array(bare, pa.string())})


def _named_pairs(engine: Engine, naming: HostNaming, kind: ReportKind) -> Iterator[pa.Table]:
    """The (host, organization) pairs whose host is `other`, with its registrable domain."""
    only = None
    if naming.host_vendor is not None:
        engine.register("bare_hosts", _bare_hosts(engine, naming, kind))
        only = "bare_hosts"
    for batch in engine.batches(_pairs_sql(kind, only)):
        hosts, orgs = batch.column(0).to_pylist(), batch.column(1).to_pylist()
        found = [(h, o) for h, o in zip(hosts, orgs, strict=True) if _is_other(naming, h, o)]
        columns = [
            [h for h, _ in found],
            [o for _, o in found],
            [naming.org_of(h) for h, _ in found],
        ]
        yield pa.Table.from_arrays([pa.array(c, pa.string()) for c in columns], schema=_PAIRS)


def _is_other(naming: HostNaming, host: str, org: str) -> bool:
    if naming.host_vendor is None:
        return naming.vendor_of(host, org) == OTHER
    # The promise of `host_vendor`: a host of no vendor is `other` unless in the organization.
    name = naming.org_of(host)
    if not name:
        return True
    if _normalised(org) and not (org == name or org.endswith("." + name)):
        return True  # org_of(org) is org or a label-suffix of it: it cannot be `name`
    return name != naming.org_of(org)


def _normalised(name: str) -> bool:
    """Already in the form names are compared in (as `survey.input.names.normalise` leaves an
    ASCII name): lower case, no surrounding space, no trailing dot."""
    return name.isascii() and name == name.strip().lower() and not name.endswith(".")


def other_domain_counts(engine: Engine, naming: HostNaming, kind: ReportKind) -> pd.DataFrame:
    """Per registrable domain of `other` `kind` hosts: the domains (rows) naming it and their
    messages."""
    pairs = pa.concat_tables([_PAIRS.empty_table(), *_named_pairs(engine, naming, kind)])
    engine.register("other_pairs", pairs)
    try:
        return engine.frame(_counts_sql(kind))
    finally:
        engine.connection.unregister("other_pairs")
