"""The tables of one snapshot, counted by domains or weighted by mail volume: their definition.

Pure over pandas: every function takes the snapshot's domain rows as a DataFrame (read with
`read_frame`, which projects only the columns the tables need) and returns a DataFrame with stable
column names: one key column, `count` and `share` (a fraction 0..1 of `n`). `survey report` and
`survey trend` compute the same tables out of core (`survey.report.engine` and `tables`: a frame
of 40 million rows does not fit in memory); these functions are the reference they are tested
against (`tests/test_engine.py`), and serve frames pandas can hold (the top-N cut, the notebook).
The numbers every chart prints sit in `table.attrs`:

- `by`: `domains` or `volume`.
- `n`: the base the shares are taken of (domains, or messages), unresolved domains left out.
- `unresolved`: what was left out because a lookup the table needs failed (same unit as `n`).
- `unresolved_domains`: the number of those domains (equal to `unresolved` when by domains).
- `total`: every domain (or message) of the frame, resolved or not.

A domain is unresolved for a table when a lookup that table needs ended in status `error`:
`type` tables need both lookups (type is null), DMARC tables the DMARC ones, SPF tables the SPF one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from survey.schema.codes import Dmarc9989Code, SpfCode
from survey.schema.values import DomainType, Policy, ReportType, SpfAll, Status
from survey.store.snapshot import Snapshot

By = Literal["domains", "volume"]
TopBy = Literal["rank", "volume"]
ReportKind = Literal["rua", "ruf"]
RecordKind = Literal["dmarc", "spf"]

BY: tuple[By, ...] = ("domains", "volume")
TYPES: tuple[str, ...] = tuple(DomainType)
REPORT_TYPES: tuple[str, ...] = tuple(ReportType)
POLICIES: tuple[str, ...] = tuple(Policy)
P_KEYS = (*POLICIES, "invalid", "missing")
SP_KEYS = (*POLICIES, "invalid", "unset")
EFFECTIVE_KEYS = ("none", "quarantine_pct", "quarantine", "reject_pct", "reject", "no_policy")
PUBLISHED: tuple[str, ...] = (Status.VALID, Status.INVALID)
DMARC_STATUS_KEYS = (*PUBLISHED, Status.ABSENT)
SPF_STATUS_KEYS = (*PUBLISHED, "multiple", Status.ABSENT)
SPF_ALL_KEYS: tuple[str, ...] = tuple(SpfAll)
ERROR = Status.ERROR
MULTIPLE_RECORDS = SpfCode.MULTIPLE_RECORDS
#: RFC 9989 has no pct (a sample): t=y is applied in `dmarc9989_effective_p` already.
EFFECTIVE_9989_KEYS = ("none", "quarantine", "reject", "no_policy")
#: Why a domain's verdict or effective policy differs between the RFCs, the first that holds:
#: a PSD's record (psd=y) supplies the RFC 9989 policy; the record has no p (RFC 9989 §4.7:
#: p=none); pct below 100 (gone in RFC 9989) or t=y; the tree walk's organizational domain is
#: not the public suffix list's; else `other` (removed tags, the §4.10.1 rua rule, …).
DIFFERENCE_KEYS = ("psd_policy", "missing_p", "pct_t", "tree_walk_org", "other")
#: The RFC 9989 tags of the record that applies: np written (any value), psd, t.
TAG_KEYS = ("np", "psd=y", "psd=n", "psd=u", "t=y", "t=n")
P_MISSING_9989 = Dmarc9989Code.P_MISSING

#: The columns the snapshot tables read; nothing else is loaded.
REPORT_COLUMNS: tuple[str, ...] = (
    "domain",
    "org_domain",
    "rank",
    "weight",
    "dmarc_status",
    "dmarc_record",
    "dmarc_p",
    "dmarc_sp",
    "dmarc_effective_p",
    "dmarc_pct",
    "rua_hosts",
    "ruf_hosts",
    "rua_vendors",
    "ruf_vendors",
    "dmarc_errors",
    "dmarc_warnings",
    "spf_status",
    "spf_record",
    "spf_all",
    "spf_errors",
    "spf_warnings",
    "type",
    "report_type",
    "dmarc_source",
    "dmarc9989_status",
    "dmarc9989_policy_domain",
    "dmarc9989_org_domain",
    "dmarc9989_effective_p",
    "dmarc9989_np",
    "dmarc9989_psd",
    "dmarc9989_t",
    "dmarc9989_warnings",
)
#: The columns the trend tables read.
TREND_COLUMNS: tuple[str, ...] = (
    "domain",
    "weight",
    "dmarc_status",
    "dmarc_effective_p",
    "dmarc_pct",
    "rua_vendors",
    "ruf_vendors",
    "type",
    "report_type",
    "dmarc9989_status",
    "dmarc9989_effective_p",
)


@dataclass(frozen=True, slots=True)
class HostNaming:
    """How to name a report host: its vendor (`vendor_of(host, policy org domain)` → a vendor,
    `self` or `other`, as `survey.verdict.vendors.VendorTable.vendor_of`) and its registrable domain
    (`org_of(host)`, as `survey.verdict.psl.organizational_domain`).

    `host_vendor(host)`, when given, is the vendor the host's suffix names (None: none) and
    promises that `vendor_of(h, o)` is `other` exactly when `host_vendor(h)` is None and
    `org_of(h)` is empty or differs from `org_of(o)` (self before vendor, as `VendorTable` does),
    and that `org_of(x)` of a normalised name `x` (lower-case ASCII, no trailing dot) is `x` or
    a label-suffix of it (RFC 7489 §3.2).
    The report engine then names each distinct host once instead of each (host, policy) pair.
    A host equal to its policy domain's organizational domain is in that organization: the
    engine never asks about it (`self`, or that organization's vendor).

    `key` names the naming in stored tallies (e.g. the checksums of the vendor table and the
    public suffix list): tables named by a naming without a key are never reused."""

    vendor_of: Callable[[str, str], str]
    org_of: Callable[[str], str]
    host_vendor: Callable[[str], str | None] | None = None
    key: str | None = None


def read_frame(snapshot: Snapshot, columns: Sequence[str] = REPORT_COLUMNS) -> pd.DataFrame:
    """The snapshot's domain rows, only `columns`."""
    return snapshot.to_pandas(columns=list(columns))


def has_volume(frame: pd.DataFrame) -> bool:
    """Whether the input carried message volumes (at least one weight)."""
    return "weight" in frame.columns and bool(frame["weight"].notna().any())


def amounts(frame: pd.DataFrame, by: By) -> pd.Series:
    """What one row counts for: 1 (by domains) or its messages (by volume; a null weight is 0)."""
    if by == "domains":
        return pd.Series(1, index=frame.index, dtype="int64")
    if by != "volume":
        raise ValueError(f"by must be 'domains' or 'volume', not {by!r}")
    if not has_volume(frame):
        raise ValueError("no weights in this snapshot: volume tables need message counts")
    return frame["weight"].fillna(0).astype("int64")


def top_domains(frame: pd.DataFrame, top: int, top_by: TopBy = "rank") -> pd.DataFrame:
    """The first `top` domains by rank (ascending; unranked left out) or by volume (descending).

    Ties are broken by domain name, so the cut is the same on every run."""
    if top_by == "rank":
        ranked = frame[frame["rank"].notna()]
        return ranked.sort_values(["rank", "domain"], kind="stable").head(top)
    weights = frame["weight"].fillna(-1)
    order = frame.assign(_w=weights).sort_values(["_w", "domain"], ascending=[False, True])
    return order.drop(columns="_w").head(top)


def _attrs(
    table: pd.DataFrame, by: By, n: float, unresolved: float, domains: int, total: int
) -> None:
    table.attrs.update(
        by=by, n=int(n), unresolved=int(unresolved), unresolved_domains=int(domains), total=total
    )


def _table(
    frame: pd.DataFrame,
    keys: pd.Series,
    base: pd.Series,
    unresolved: pd.Series,
    order: Sequence[str],
    by: By,
    key: str,
) -> pd.DataFrame:
    """Count `keys` over the rows in `base`, in `order`; shares of the base's amount."""
    weight = amounts(frame, by)
    counts = weight[base].groupby(keys[base]).sum().reindex(list(order), fill_value=0)
    n = int(weight[base].sum())
    table = pd.DataFrame({key: list(order), "count": counts.to_numpy(dtype="int64")})
    table["share"] = table["count"] / n if n else 0.0
    _attrs(table, by, n, weight[unresolved].sum(), int(unresolved.sum()), int(weight.sum()))
    return table


def types(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """Type A-F (A valid DMARC + SPF … F neither); null type is unresolved."""
    keys = frame["type"]
    return _table(frame, keys, frame["type"].notna(), frame["type"].isna(), TYPES, by, "type")


def _dmarc_unresolved(frame: pd.DataFrame) -> pd.Series:
    return frame["dmarc_status"].eq(ERROR)


def _dmarc_published(frame: pd.DataFrame) -> pd.Series:
    return frame["dmarc_status"].isin(PUBLISHED)


def dmarc_status(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """DMARC record valid / invalid (published with mistakes) / absent."""
    keys = frame["dmarc_status"]
    base = frame["dmarc_status"].isin(DMARC_STATUS_KEYS)
    return _table(
        frame, keys, base, _dmarc_unresolved(frame), DMARC_STATUS_KEYS, by, "dmarc_status"
    )


def _policy_keys(values: pd.Series, missing: str) -> pd.Series:
    known = values.isin(POLICIES)
    return values.where(known, values.notna().map({True: "invalid", False: missing}))


def policy_p(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """`p` as written, among domains publishing a DMARC record; `invalid` (e.g. `monitor`)
    and `missing` (no `p`, or no single record applies) have their own rows."""
    keys = _policy_keys(frame["dmarc_p"], "missing")
    return _table(frame, keys, _dmarc_published(frame), _dmarc_unresolved(frame), P_KEYS, by, "p")


def policy_sp(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """`sp` as written, among domains publishing a DMARC record; `unset` means `p` applies."""
    keys = _policy_keys(frame["dmarc_sp"], "unset")
    return _table(frame, keys, _dmarc_published(frame), _dmarc_unresolved(frame), SP_KEYS, by, "sp")


def _effective_keys(frame: pd.DataFrame) -> pd.Series:
    policy = frame["dmarc_effective_p"]
    # RFC 7489 §6.6.4: pct below 100 applies quarantine/reject to a sample only; absent is 100.
    sampled = frame["dmarc_pct"].fillna(100).lt(100) & policy.isin(("quarantine", "reject"))
    keys = policy.where(~sampled, policy + "_pct")
    return keys.fillna("no_policy")


def policy_effective(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """The policy a receiver applies (RFC 7489 §6.6.3), `pct` < 100 as its own slice, among
    domains publishing a DMARC record (`no_policy`: none applies, e.g. several records)."""
    keys = _effective_keys(frame)
    base = _dmarc_published(frame)
    return _table(frame, keys, base, _dmarc_unresolved(frame), EFFECTIVE_KEYS, by, "policy")


def _published_9989(frame: pd.DataFrame) -> pd.Series:
    return frame["dmarc9989_status"].isin(PUBLISHED)


def _unresolved_9989(frame: pd.DataFrame) -> pd.Series:
    return frame["dmarc9989_status"].eq(ERROR)


def policy_effective_9989(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """The policy a receiver applies under RFC 9989 (§4.10.1, after t=y), among domains where
    its DNS Tree Walk finds a record (`no_policy`: none applies): beside `policy_effective`."""
    keys = frame["dmarc9989_effective_p"].fillna("no_policy")
    base = _published_9989(frame)
    unresolved = _unresolved_9989(frame)
    return _table(frame, keys, base, unresolved, EFFECTIVE_9989_KEYS, by, "policy")


def _distinct(a: pd.Series, b: pd.Series) -> pd.Series:
    """`a IS DISTINCT FROM b`: two nulls are the same, a null and a value are not."""
    same = a.eq(b).fillna(False).astype(bool) | (a.isna() & b.isna())
    return ~same


def _holds(mask: pd.Series) -> pd.Series:
    return mask.fillna(False).astype(bool)


def _difference_keys(frame: pd.DataFrame) -> pd.Series:
    """A domain's `DIFFERENCE_KEYS` reason, null where both RFCs agree."""
    seventy = _effective_keys(frame)
    ninety = frame["dmarc9989_effective_p"].fillna("no_policy")
    differs = _distinct(frame["dmarc_status"], frame["dmarc9989_status"]) | _distinct(
        seventy, ninety
    )
    walk_domain = frame["dmarc9989_policy_domain"]
    psd = _holds(frame["dmarc9989_psd"].eq("y")) & _distinct(walk_domain, frame["domain"])
    psd &= walk_domain.notna()
    warnings = frame["dmarc9989_warnings"]
    missing_p = warnings.map(lambda codes: codes is not None and P_MISSING_9989 in codes)
    pct_t = _holds(frame["dmarc_pct"].fillna(100).lt(100)) | _holds(frame["dmarc9989_t"].eq("y"))
    org = _distinct(frame["dmarc9989_org_domain"], frame["org_domain"])
    reasons = pd.Series(None, index=frame.index, dtype=object)
    holds = (psd, missing_p.astype(bool), pct_t, org, differs)
    for key, reason in reversed(list(zip(DIFFERENCE_KEYS, holds, strict=True))):
        reasons = reasons.mask(differs & reason, key)
    return reasons


def _both_measured(frame: pd.DataFrame) -> pd.Series:
    """Resolved under both RFCs (a snapshot from before RFC 9989's columns has none)."""
    return frame["dmarc_status"].isin(DMARC_STATUS_KEYS) & frame["dmarc9989_status"].isin(
        DMARC_STATUS_KEYS
    )


def rfc_differences(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """Domains whose DMARC verdict or effective policy differs between RFC 7489 and RFC 9989,
    by reason (`DIFFERENCE_KEYS`, each domain once), among domains resolved under both."""
    unresolved = _dmarc_unresolved(frame) | _unresolved_9989(frame)
    keys = _difference_keys(frame)
    base = _both_measured(frame)
    return _table(frame, keys, base, unresolved, DIFFERENCE_KEYS, by, "reason")


def _tag_keys(frame: pd.DataFrame) -> list[pd.Series]:
    """Per `TAG_KEYS` entry: whether the record that applies has it."""
    np_, psd, t = frame["dmarc9989_np"], frame["dmarc9989_psd"], frame["dmarc9989_t"]
    return [np_.notna(), psd.eq("y"), psd.eq("n"), psd.eq("u"), t.eq("y"), t.eq("n")]


def rfc9989_tags(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """Use of the RFC 9989 tags np, psd and t in the record that applies, among domains where
    the tree walk finds a record; a domain counts once per tag it has (shares may sum past 1)."""
    weight = amounts(frame, by)
    base = _published_9989(frame)
    counts = [int(weight[base & _holds(has)].sum()) for has in _tag_keys(frame)]
    n = int(weight[base].sum())
    table = pd.DataFrame({"tag": list(TAG_KEYS), "count": pd.Series(counts, dtype="int64")})
    table["share"] = table["count"] / n if n else 0.0
    unresolved = _unresolved_9989(frame)
    _attrs(table, by, n, weight[unresolved].sum(), int(unresolved.sum()), int(weight.sum()))
    return table


def report_types(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """Report type A (rua and ruf), B (rua only), C (ruf only), D (neither), among domains
    where a DMARC record applies."""
    keys = frame["report_type"]
    base = frame["report_type"].notna()
    return _table(frame, keys, base, _dmarc_unresolved(frame), REPORT_TYPES, by, "report_type")


def _named(lists: pd.Series) -> pd.Series:
    # bool even when empty: an empty object Series would select columns, not rows.
    return lists.map(lambda names: names is not None and len(names) > 0).astype(bool)


def _exploded(frame: pd.DataFrame, column: str, by: By) -> pd.DataFrame:
    named = frame[_named(frame[column])]
    rows = pd.DataFrame({"name": named[column], "amount": amounts(frame, by)[named.index]})
    return rows.explode("name")


def _ranked(counts: pd.Series, key: str) -> pd.DataFrame:
    table = counts.rename_axis(key).reset_index(name="count")
    table["count"] = table["count"].astype("int64")
    return table.sort_values(["count", key], ascending=[False, True], ignore_index=True)


def _list_table(
    frame: pd.DataFrame, column: str, rows: pd.DataFrame, by: By, key: str
) -> pd.DataFrame:
    weight = amounts(frame, by)
    base = _named(frame[column])
    table = _ranked(rows.groupby("name")["amount"].sum(), key)
    n = int(weight[base].sum())
    table["share"] = table["count"] / n if n else 0.0
    unresolved = _dmarc_unresolved(frame)
    _attrs(table, by, n, weight[unresolved].sum(), int(unresolved.sum()), int(weight.sum()))
    return table


def vendors(frame: pd.DataFrame, kind: ReportKind = "rua", by: By = "domains") -> pd.DataFrame:
    """Domains (or volume) naming each report vendor, `self` and `other` included, among domains
    with at least one valid `kind` URI. A domain naming several counts for each: shares may sum
    past 1."""
    column = f"{kind}_vendors"
    return _list_table(frame, column, _exploded(frame, column, by), by, "vendor")


def other_report_domains(
    frame: pd.DataFrame, naming: HostNaming, kind: ReportKind = "rua", by: By = "domains"
) -> pd.DataFrame:
    """Registrable domains of the `kind` report hosts that belong to no known vendor nor to the
    policy domain's own organization (`other`), so new vendors are seen; same base as `vendors`."""
    column = f"{kind}_hosts"
    weight = amounts(frame, by)
    pairs = [
        (name, weight[index])
        for index, hosts, org in zip(frame.index, frame[column], frame["org_domain"], strict=True)
        for name in _other_domains(hosts, org, naming)
    ]
    rows = pd.DataFrame(pairs, columns=["name", "amount"])
    return _list_table(frame, f"{kind}_vendors", rows, by, "report_domain")


def _other_domains(hosts: Iterable[str] | None, org: object, naming: HostNaming) -> set[str]:
    if hosts is None:
        return set()
    # A null org_domain reads as NaN under pandas' string dtype, not None: name it "".
    policy = org if isinstance(org, str) else ""
    return {naming.org_of(h) for h in hosts if naming.vendor_of(h, policy) == "other"}


def problems(frame: pd.DataFrame, record: RecordKind = "dmarc", by: By = "domains") -> pd.DataFrame:
    """Each error and warning code of `record`: domains (or volume) carrying it and an example
    (the first such domain in domain order), among domains publishing a record."""
    status = frame[f"{record}_status"]
    base = status.isin(PUBLISHED)
    weight = amounts(frame, by)
    parts = [_codes(frame[base], weight, record, kind) for kind in ("error", "warning")]
    table = pd.concat(parts, ignore_index=True)
    n = int(weight[base].sum())
    table["share"] = table["count"] / n if n else 0.0
    table = table[["code", "kind", "count", "share", "example_domain", "example_record"]]
    unresolved = status.eq(ERROR)
    _attrs(table, by, n, weight[unresolved].sum(), int(unresolved.sum()), int(weight.sum()))
    return table


def _codes(published: pd.DataFrame, weight: pd.Series, record: str, kind: str) -> pd.DataFrame:
    column = f"{record}_{kind}s"
    rows = published[["domain", f"{record}_record", column]].copy()
    rows["amount"] = weight[rows.index]
    rows = rows[_named(rows[column])].explode(column).sort_values("domain", kind="stable")
    grouped = rows.groupby(column, sort=True)
    table = pd.DataFrame(
        {
            "count": grouped["amount"].sum().astype("int64"),
            "example_domain": grouped["domain"].first(),
            "example_record": grouped[f"{record}_record"].first(),
        }
    )
    table = table.rename_axis("code").reset_index()
    table.insert(1, "kind", kind)
    return table.sort_values(["count", "code"], ascending=[False, True], ignore_index=True)


def _spf_status_keys(frame: pd.DataFrame) -> pd.Series:
    several = frame["spf_errors"].map(lambda codes: codes is not None and MULTIPLE_RECORDS in codes)
    return frame["spf_status"].where(~several, "multiple")


def spf_status(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """SPF valid / invalid / `multiple` (invalid because several SPF records, RFC 7208 §4.5) /
    absent."""
    keys = _spf_status_keys(frame)
    base = frame["spf_status"].isin(("valid", "invalid", "absent"))
    return _table(
        frame, keys, base, frame["spf_status"].eq(ERROR), SPF_STATUS_KEYS, by, "spf_status"
    )


def spf_all(frame: pd.DataFrame, by: By = "domains") -> pd.DataFrame:
    """The `all` qualifier of the SPF record (RFC 7208 §5.1), or `redirect`, or `none`, among
    domains where one SPF record applies."""
    keys = frame["spf_all"]
    base = frame["spf_all"].notna()
    return _table(frame, keys, base, frame["spf_status"].eq(ERROR), SPF_ALL_KEYS, by, "all")


#: Table name → function of (frame, by), in report order.
TABLES: dict[str, Callable[[pd.DataFrame, By], pd.DataFrame]] = {
    "types": types,
    "dmarc_status": dmarc_status,
    "spf_status": spf_status,
    "policy_p": policy_p,
    "policy_effective": policy_effective,
    "policy_effective_9989": policy_effective_9989,
    "rfc_differences": rfc_differences,
    "rfc9989_tags": rfc9989_tags,
    "policy_sp": policy_sp,
    "report_types": report_types,
    "rua_vendors": lambda frame, by: vendors(frame, "rua", by),
    "ruf_vendors": lambda frame, by: vendors(frame, "ruf", by),
    "dmarc_problems": lambda frame, by: problems(frame, "dmarc", by),
    "spf_problems": lambda frame, by: problems(frame, "spf", by),
    "spf_all": spf_all,
}


def snapshot_tables(
    frame: pd.DataFrame,
    by: By,
    top: int | None = None,
    top_by: TopBy = "rank",
    naming: HostNaming | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of one counting mode, named; `types_top` with `top`, the `other` report
    domains with `naming`."""
    tables = {name: tally(frame, by) for name, tally in TABLES.items()}
    if top is not None:
        tables["types_top"] = types(top_domains(frame, top, top_by), by)
        tables["types_top"].attrs.update(top=top, top_by=top_by)
    if naming is not None:
        for kind in ("rua", "ruf"):
            tables[f"{kind}_other"] = other_report_domains(frame, naming, kind, by)
    return tables
