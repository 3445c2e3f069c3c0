"""The snapshot's columns: one table of name, Arrow type, meaning and closed value set.

Everything else is derived from or checked against it: the Arrow schema of every part, the
verdict row (`survey.verdict.row.Verdict`, whose fields are these names but `scanned_at`), the
columns the report reads, and the README's schema table. Schema: columns are only appended;
a rename or a type change needs a new `SCHEMA_VERSION` and a reader for the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa
import pyarrow.compute as pc

from survey.schema.codes import DkimCode, Dmarc9989Code, DmarcCode, ProblemCode, SpfCode
from survey.schema.values import (
    DkimKeyType,
    DkimStatus,
    DmarcSource,
    Dnssec,
    DomainType,
    Outcome,
    Policy,
    ReportType,
    SpfAll,
    SpfResult,
    SpfResultReason,
    Status,
)

SCHEMA_VERSION = 1

STRING = pa.string()
STRINGS = pa.list_(pa.string())
INT16 = pa.int16()
INT64 = pa.int64()
TIMESTAMP = pa.timestamp("us", tz="UTC")
INTS = pa.list_(pa.int32())

_TYPE_NAMES = {
    STRING: "string",
    STRINGS: "list<string>",
    INT16: "int16",
    INT64: "int64",
    TIMESTAMP: "timestamp[us, UTC]",
    INTS: "list<int32>",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One snapshot column. `values`: the closed set its strings (or list items) come from."""

    name: str
    type: pa.DataType
    meaning: str
    values: type[StrEnum] | None = None

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]


COLUMNS: tuple[Column, ...] = (
    Column("domain", STRING, "the normalised domain"),
    Column("org_domain", STRING, "its organizational domain (RFC 7489 §3.2)"),
    Column("rank", INT64, "from the input; null when it had none"),
    Column("weight", INT64, "from the input (messages); null when it had none"),
    Column("dmarc_status", STRING, "the DMARC verdict (`error`: a lookup it needs failed)", Status),
    Column(
        "dmarc_source",
        STRING,
        "where the record that applies was found; null when none applies",
        DmarcSource,
    ),
    Column(
        "dmarc_record",
        STRING,
        "the record text as received (several texts joined by a newline when no single"
        " record applies)",
    ),
    Column("dmarc_p", STRING, "p as written, lower-cased (`monitor` stays `monitor`)"),
    Column("dmarc_sp", STRING, "sp as written, lower-cased"),
    Column(
        "dmarc_effective_p",
        STRING,
        "what a receiver following RFC 7489 §6.6.3 applies; null: no DMARC processing",
        Policy,
    ),
    Column("dmarc_pct", INT16, "`pct`, null when absent or invalid"),
    Column("dmarc_rua", STRINGS, "aggregate report URIs as written"),
    Column("dmarc_ruf", STRINGS, "failure report URIs as written"),
    Column("rua_hosts", STRINGS, "hosts of the valid rua URIs"),
    Column("ruf_hosts", STRINGS, "hosts of the valid ruf URIs"),
    Column("rua_vendors", STRINGS, "rua vendor names, `self`, `other` (sorted, unique)"),
    Column("ruf_vendors", STRINGS, "ruf vendor names, `self`, `other` (sorted, unique)"),
    Column(
        "dmarc_errors", STRINGS, "errors of the DMARC verdict (they make it `invalid`)", DmarcCode
    ),
    Column("dmarc_warnings", STRINGS, "warnings of the DMARC verdict", DmarcCode),
    Column("spf_status", STRING, "the SPF verdict (several records: `invalid`)", Status),
    Column("spf_record", STRING, "the SPF record as received"),
    Column("spf_all", STRING, "how the record ends; null when no single record applies", SpfAll),
    Column("spf_errors", STRINGS, "errors of the SPF verdict", SpfCode),
    Column("spf_warnings", STRINGS, "warnings of the SPF verdict", SpfCode),
    Column(
        "type",
        STRING,
        "DMARC valid / invalid / absent × SPF present / absent; null when unresolved",
        DomainType,
    ),
    Column(
        "report_type",
        STRING,
        "rua and ruf / rua only / ruf only / neither; null when no record applies",
        ReportType,
    ),
    Column("dmarc_lookup", STRING, "resolver outcome of `_dmarc.d`", Outcome),
    Column("spf_lookup", STRING, "resolver outcome of `d`", Outcome),
    Column("scanned_at", TIMESTAMP, "when the row's chunk finished"),
    Column("dmarc_org_lookup", STRING, "outcome of `_dmarc.o`, null when not asked", Outcome),
    Column("dmarc_record_count", INT16, "TXT texts at the name the DMARC verdict rests on"),
    Column("spf_record_count", INT16, "SPF records found"),
    Column(
        "dnssec",
        STRING,
        "the AD bit of the resolver's answer for `d` (see [DNSSEC](#dnssec)); null when not"
        " measured (`--dns-client aiodns`)",
        Dnssec,
    ),
    Column(
        "dmarc9989_status",
        STRING,
        "the DMARC verdict under RFC 9989, on the record its DNS Tree Walk selects (`error`: a"
        " lookup of the walk failed)",
        Status,
    ),
    Column(
        "dmarc9989_policy_domain",
        STRING,
        "the name whose record supplies the RFC 9989 policy (without `_dmarc.`); null when none"
        " applies",
    ),
    Column(
        "dmarc9989_org_domain",
        STRING,
        "the organizational domain by the tree walk (RFC 9989 §4.10.2); the domain itself when"
        " the walk finds no record; null on `error`",
    ),
    Column(
        "dmarc9989_effective_p",
        STRING,
        "what a receiver following RFC 9989 §4.10.1 applies (p, sp or np, then the t=y"
        " downgrade); null: no DMARC processing",
        Policy,
    ),
    Column("dmarc9989_np", STRING, "np of the record that applies, as written, lower-cased"),
    Column("dmarc9989_psd", STRING, "psd of the record that applies, as written, lower-cased"),
    Column("dmarc9989_t", STRING, "t of the record that applies, as written, lower-cased"),
    Column(
        "dmarc9989_errors",
        STRINGS,
        "errors of the RFC 9989 verdict (they make it `invalid`)",
        Dmarc9989Code,
    ),
    Column("dmarc9989_warnings", STRINGS, "warnings of the RFC 9989 verdict", Dmarc9989Code),
    Column(
        "dkim_domainkey_lookup",
        STRING,
        "resolver outcome of `_domainkey.d`; null when DKIM was not asked (`--no-dkim`)",
        Outcome,
    ),
    Column(
        "dkim_status",
        STRING,
        "what DNS says of the domain's DKIM keys (see [DKIM](#dkim)): `found` (a listed selector"
        " has a key record, revoked included), `none_found`, `absent` (`_domainkey.d` is"
        " NXDOMAIN), `error` (a needed lookup failed: unresolved); null when not asked",
        DkimStatus,
    ),
    Column("dkim_selectors", STRINGS, "selectors of the list with a key record (sorted)"),
    Column(
        "dkim_key_types",
        STRINGS,
        "key type of each selector's record (parallel to `dkim_selectors`)",
        DkimKeyType,
    ),
    Column(
        "dkim_key_bits",
        INTS,
        "key size in bits (RSA modulus, 256 for ed25519), parallel to `dkim_selectors`; null"
        " for a revoked or unparsable key",
    ),
    Column("dkim_revoked", STRINGS, "selectors whose key is revoked (empty `p`)"),
    Column(
        "dkim_providers",
        STRINGS,
        "signing providers, from the CNAME target of a selector, else the selector itself"
        " (sorted, unique)",
    ),
    Column("dkim_errors", STRINGS, "errors of the selectors' key records", DkimCode),
    Column(
        "dkim_warnings",
        STRINGS,
        "warnings of the key records, and `wildcard_domainkey`",
        DkimCode,
    ),
    Column(
        "spf_lookups",
        INT16,
        "DNS-querying terms (include, a, mx, ptr, exists, redirect) over the whole include and"
        " redirect tree, as a receiver evaluates it (see [SPF evaluation](#spf-evaluation)),"
        " counted past the limit of 10; null without a single SPF record",
    ),
    Column(
        "spf_void_lookups",
        INT16,
        "lookups of that tree answered NXDOMAIN or with no record of the asked type; null"
        " without a single SPF record",
    ),
    Column(
        "spf_result",
        STRING,
        "what the evaluation ends in (`temperror`: a lookup it needs failed, unresolved); null"
        " without an SPF record or when not evaluated (`--no-spf-eval`)",
        SpfResult,
    ),
    Column(
        "spf_result_reason",
        STRING,
        "why `permerror`: the first condition a receiver meets in evaluation order",
        SpfResultReason,
    ),
    Column(
        "spf_includes",
        STRINGS,
        "the include and redirect targets of the tree, nested ones too, each once in the order"
        " met (a target holding a macro as written); null without a single SPF record",
    ),
    Column(
        "spf_unasked_terms",
        INT16,
        "terms of the tree counted in `spf_lookups` but not asked: a macro in their domain"
        " (depends on the sender), `ptr` (needs the client's address), or no DNS name; null"
        " without a single SPF record",
    ),
)

BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
#: The Arrow schema of every part.
ARROW_SCHEMA = pa.schema([(column.name, column.type) for column in COLUMNS])
#: The columns a verdict row carries: all but `scanned_at`, which the scan stamps per chunk.
ROW_NAMES: tuple[str, ...] = tuple(name for name in NAMES if name != "scanned_at")


def markdown_table(columns: tuple[Column, ...] = COLUMNS) -> str:
    """The README's schema table of `columns` (default: the DNS snapshot's), one row per column
    (`python -m survey.schema.columns`)."""
    lines = ["| column | type | values | meaning |", "| --- | --- | --- | --- |"]
    for column in columns:
        row = (f"`{column.name}`", column.type_name, _values_text(column), column.meaning)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _values_text(column: Column) -> str:
    if column.values is None:
        return ""
    if issubclass(column.values, ProblemCode):
        return f"[{column.values.__name__.removesuffix('Code').upper()} codes](#problem-codes)"
    return " / ".join(f"`{v}`" for v in column.values)


def values_outside_schema(
    table: pa.Table, columns: tuple[Column, ...] = COLUMNS
) -> dict[str, set[str]]:
    """For each column of `columns` (default: the DNS snapshot's) with a closed value set: the
    values in `table` outside it (none: {}).

    List columns are checked item by item; nulls are allowed everywhere."""
    by_name = {column.name: column for column in columns}
    found: dict[str, set[str]] = {}
    for name in table.column_names:
        column = by_name.get(name)
        if column is None or column.values is None:
            continue
        data = table.column(name)
        if pa.types.is_list(data.type):
            data = pc.list_flatten(data)
        allowed = {str(value) for value in column.values}
        unknown = {v for v in pc.unique(data).to_pylist() if v is not None and v not in allowed}
        if unknown:
            found[name] = unknown
    return found


if __name__ == "__main__":
    print(markdown_table())
