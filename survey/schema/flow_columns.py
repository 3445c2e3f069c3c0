"""The flow snapshot's columns: one row per aggregate-report record (or flow-table row),
weighted by `messages`, so that every table of the talk is a GROUP BY summing `messages`.

The same discipline as the DNS snapshot's table (`survey.schema.columns`): the Arrow schema of
every part and the README's table derive from it; columns are only appended, and a rename or a
type change needs a new `FLOW_SCHEMA_VERSION`.
"""

from __future__ import annotations

import pyarrow as pa

from survey.schema.columns import INT16, INT64, STRING, STRINGS, TIMESTAMP, Column
from survey.schema.flow_values import (
    Alignment,
    DiscoveryMethod,
    Disposition,
    DkimClass,
    DkimResult,
    DmarcResult,
    FlowFormat,
    FlowReject,
    FlowWarning,
    OverrideReason,
    PolicyTesting,
    SpfClass,
    SpfResult,
    SpfScope,
)
from survey.schema.values import Policy

#: Written to the manifest as `schema_version`: a string, so that a DNS snapshot reader
#: (which knows the integer 1) refuses a flow snapshot instead of misreading it.
FLOW_SCHEMA_VERSION = "flows-1"
#: `dkim_service` of a signature in the header From's own organization.
SELF_SERVICE = "self"
#: `dkim_service` of a third-party signer the signer table does not know.
OTHER_SERVICE = "other"

FLOW_COLUMNS: tuple[Column, ...] = (
    Column("input_file", STRING, "the input file the row was read from, as found"),
    Column("input_member", STRING, "the zip member it was read from; null when not in a zip"),
    Column("record", INT64, "the record's position in its report (1-based), or the table's line"),
    Column("format", STRING, "what the row was read from", FlowFormat),
    Column("report_org", STRING, "the reporting organization (`org_name`)"),
    Column("report_id", STRING, "the report's `report_id`"),
    Column("report_begin", TIMESTAMP, "start of the reporting period (`date_range/begin`)"),
    Column("report_end", TIMESTAMP, "end of the reporting period (`date_range/end`)"),
    Column("policy_domain", STRING, "`policy_published/domain`: the DMARC policy domain"),
    Column("policy_p", STRING, "`p` as the receiver found it", Policy),
    Column("policy_sp", STRING, "`sp` as the receiver found it", Policy),
    Column("policy_np", STRING, "`np` (RFC 9990)", Policy),
    Column("policy_adkim", STRING, "`adkim`; null when not stated (then `r` applies)", Alignment),
    Column("policy_aspf", STRING, "`aspf`; null when not stated (then `r` applies)", Alignment),
    Column("policy_pct", INT16, "`pct` (RFC 7489 reports)"),
    Column("policy_fo", STRING, "`fo` as written"),
    Column("policy_testing", STRING, "`testing`, the `t` tag (RFC 9990)", PolicyTesting),
    Column("discovery_method", STRING, "how the policy was found (RFC 9990)", DiscoveryMethod),
    Column("source_ip", STRING, "the connecting IP address (`row/source_ip`)"),
    Column("messages", INT64, "messages the row stands for (`row/count`)"),
    Column("disposition", STRING, "what the receiver did (`policy_evaluated`)", Disposition),
    Column("reported_dkim", STRING, "the receiver's aligned-DKIM verdict", DmarcResult),
    Column("reported_spf", STRING, "the receiver's aligned-SPF verdict", DmarcResult),
    Column("override_reasons", STRINGS, "`reason/type` of the policy_evaluated", OverrideReason),
    Column("header_from", STRING, "the RFC 5322.From domain, normalised"),
    Column("header_from_org", STRING, "its organizational domain (RFC 7489 §3.2)"),
    Column("envelope_from", STRING, "the RFC 5321.MailFrom domain, when reported"),
    Column("envelope_to", STRING, "the RFC 5321.RcptTo domain, when reported"),
    Column("dkim_domains", STRINGS, "`d=` of each DKIM result, normalised, in report order"),
    Column("dkim_selectors", STRINGS, "`s=` of each DKIM result (null items when not given)"),
    Column("dkim_results", STRINGS, "the result of each DKIM signature", DkimResult),
    Column("spf_domain", STRING, "the domain SPF checked (MAIL FROM scope)"),
    Column("spf_scope", STRING, "the scope of that result, when given", SpfScope),
    Column("spf_result", STRING, "its SPF result", SpfResult),
    Column("dkim", STRING, "who signed: self / third party / failed / unsigned", DkimClass),
    Column("dkim_signer", STRING, "the `d=` the class rests on (first aligned pass, else first"
        " pass, else first signature); null when unsigned"),
    Column("dkim_signer_org", STRING, "its organizational domain"),
    Column("dkim_service", STRING, "`self` (the author's organization), a service of"
        " data/signers.csv, or `other`; null when no signature passed"),
    Column("spf", STRING, "SPF of the MAIL FROM domain against the header From", SpfClass),
    Column("dmarc", STRING, "DMARC by our reading: pass when dkim is self or spf aligned",
        DmarcResult),
    Column("warnings", STRINGS, "what was odd in the row (it was read all the same)",
        FlowWarning),
)  # fmt: skip

FLOW_BY_NAME: dict[str, Column] = {column.name: column for column in FLOW_COLUMNS}
FLOW_NAMES: tuple[str, ...] = tuple(FLOW_BY_NAME)
#: The Arrow schema of every flow part.
FLOW_ARROW_SCHEMA = pa.schema([(column.name, column.type) for column in FLOW_COLUMNS])

#: `rejects.csv` of a flow snapshot: one line per document or record not read.
REJECT_COLUMNS: tuple[Column, ...] = (
    Column("input_file", STRING, "the input file"),
    Column("input_member", STRING, "the zip member; null when not in a zip"),
    Column("record", INT64, "the record (or table line) refused; null when the whole document was"),
    Column("reason", STRING, "why", FlowReject),
    Column("detail", STRING, "what was found"),
)
REJECT_ARROW_SCHEMA = pa.schema([(column.name, column.type) for column in REJECT_COLUMNS])


if __name__ == "__main__":
    from survey.schema.columns import markdown_table

    print(markdown_table(FLOW_COLUMNS))
