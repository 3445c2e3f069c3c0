"""The closed value sets of flow snapshots (`survey flows`). Schema: values are only appended.

Report fields follow the XML schemas of DMARC aggregate reports: RFC 7489 Appendix C and RFC
9990 (its XML schema; namespace `urn:ietf:params:xml:ns:dmarc-2.0`); DKIM and SPF results are
those of RFC 8601 §2.7.1 and §2.7.2. The classes (`dkim`, `spf`, `dmarc`) are the survey's own.
"""

from enum import StrEnum


class FlowFormat(StrEnum):
    """What a flow row was read from (`format`)."""

    RFC7489 = "rfc7489"  # an aggregate report without the RFC 9990 namespace
    RFC9990 = "rfc9990"  # an aggregate report in urn:ietf:params:xml:ns:dmarc-2.0
    FLOW_TABLE = "flow_table"  # a CSV or Parquet mail-flow table


class DkimClass(StrEnum):
    """Who signed the mail (`dkim`), by the DKIM results of a record."""

    SELF = "self"  # a passing signature aligned with the header From (RFC 7489 §3.1.1)
    THIRD_PARTY = "third_party"  # passing signatures, none aligned
    FAIL = "fail"  # signatures, none passing
    UNSIGNED = "unsigned"  # no signature (or only results `none`: RFC 8601 §2.7.1)


class SpfClass(StrEnum):
    """What SPF says of the MAIL FROM domain (`spf`)."""

    ALIGNED = "aligned"  # pass, aligned with the header From (RFC 7489 §3.1.2)
    UNALIGNED = "unaligned"  # pass, not aligned
    FAIL = "fail"  # any result but pass and none
    NONE = "none"  # no SPF result, or `none`


class DmarcResult(StrEnum):
    """Pass or fail (`dmarc`; `reported_dkim`, `reported_spf`: the report's policy_evaluated)."""

    PASS = "pass"
    FAIL = "fail"


class Disposition(StrEnum):
    """What the receiver did (`disposition`); `pass` is RFC 9990's ActionDispositionType."""

    NONE = "none"
    PASS = "pass"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class Alignment(StrEnum):
    """adkim, aspf (RFC 7489 §6.3): relaxed or strict."""

    RELAXED = "r"
    STRICT = "s"


class PolicyTesting(StrEnum):
    """The `t` tag as an RFC 9990 report states it (`policy_testing`)."""

    NO = "n"
    YES = "y"


class DiscoveryMethod(StrEnum):
    """How the receiver found the policy (RFC 9990 `discovery_method`)."""

    PSL = "psl"  # RFC 7489 §6.6.3, organizational domain from a public suffix list
    TREEWALK = "treewalk"  # RFC 9989's DNS tree walk


class DkimResult(StrEnum):
    """A DKIM verification result (RFC 8601 §2.7.1), as reported (`dkim_results`)."""

    NONE = "none"
    PASS = "pass"
    FAIL = "fail"
    POLICY = "policy"
    NEUTRAL = "neutral"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class SpfResult(StrEnum):
    """An SPF result (RFC 8601 §2.7.2, RFC 7208 §2.6), as reported (`spf_result`)."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    POLICY = "policy"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


class SpfScope(StrEnum):
    """Which identity SPF checked (`spf_scope`); RFC 9990 keeps only mfrom."""

    MFROM = "mfrom"
    HELO = "helo"


class OverrideReason(StrEnum):
    """Why the disposition differs from the policy (PolicyOverrideType, both RFCs)."""

    FORWARDED = "forwarded"
    SAMPLED_OUT = "sampled_out"
    TRUSTED_FORWARDER = "trusted_forwarder"
    MAILING_LIST = "mailing_list"
    LOCAL_POLICY = "local_policy"
    OTHER = "other"
    POLICY_TEST_MODE = "policy_test_mode"  # RFC 9990


class FlowReject(StrEnum):
    """Why a document (a file, or a zip member) or one of its records was not read
    (`rejects.csv`, column `reason`)."""

    UNREADABLE = "unreadable"
    UNKNOWN_FORMAT = "unknown_format"
    TOO_LARGE = "too_large"
    TOO_MANY_MEMBERS = "too_many_members"
    COMPRESSION_ERROR = "compression_error"
    NESTED_ARCHIVE = "nested_archive"
    XML_ERROR = "xml_error"
    XML_FORBIDDEN = "xml_forbidden"
    NOT_AGGREGATE_REPORT = "not_aggregate_report"
    DUPLICATE_REPORT = "duplicate_report"
    BAD_TABLE = "bad_table"
    BAD_COUNT = "bad_count"
    MISSING_HEADER_FROM = "missing_header_from"
    BAD_ROW = "bad_row"

    @property
    def meaning(self) -> str:
        return _REJECT_MEANINGS[self]

    @property
    def is_record(self) -> bool:
        """True for a reason that rejects one record, the rest of its document being read."""
        return self in (FlowReject.BAD_COUNT, FlowReject.MISSING_HEADER_FROM, FlowReject.BAD_ROW)


_REJECT_MEANINGS = {
    FlowReject.UNREADABLE: "the file cannot be read (permissions, vanished, an I/O error)",
    FlowReject.UNKNOWN_FORMAT: "neither XML, gzip, zip, CSV nor Parquet (e.g. a PDF, a mail "
    "message)",
    FlowReject.TOO_LARGE: "larger than the limits once decompressed (size per document, or "
    "compression ratio: a zip or gzip bomb)",
    FlowReject.TOO_MANY_MEMBERS: "a zip with more members than the limit",
    FlowReject.COMPRESSION_ERROR: "a gzip or zip that cannot be decompressed: truncated, corrupt, "
    "a CRC mismatch, an encrypted or unsupported member",
    FlowReject.NESTED_ARCHIVE: "an archive inside an archive (a zip in a zip, a gzip in a gzip)",
    FlowReject.XML_ERROR: "not well-formed XML (truncated, bad encoding, not XML at all)",
    FlowReject.XML_FORBIDDEN: "a DTD, entity declaration or external reference (billion laughs, "
    "XXE): never in a report, refused unexpanded",
    FlowReject.NOT_AGGREGATE_REPORT: "well-formed XML that is no DMARC aggregate report (root "
    "not `feedback`)",
    FlowReject.DUPLICATE_REPORT: "a report read already (same organization, report ID, policy "
    "domain and date range)",
    FlowReject.BAD_TABLE: "a CSV or Parquet file without the flow-table columns, or unreadable "
    "as a table",
    FlowReject.BAD_COUNT: "a record whose count (messages) is missing, not a whole number, "
    "negative or above 10^12",
    FlowReject.MISSING_HEADER_FROM: "a record without a header_from domain",
    FlowReject.BAD_ROW: "a table row with the wrong number of cells, or as many DKIM results as "
    "domains not given",
}


class FlowWarning(StrEnum):
    """Something odd in a row that did not stop it being read (`warnings`)."""

    UNKNOWN_VALUE = "unknown_value"
    SPF_HELO_ONLY = "spf_helo_only"
    DKIM_WITHOUT_DOMAIN = "dkim_without_domain"
    UNKNOWN_NAMESPACE = "unknown_namespace"
    BAD_DATE_RANGE = "bad_date_range"

    @property
    def meaning(self) -> str:
        return _WARNING_MEANINGS[self]


_WARNING_MEANINGS = {
    FlowWarning.UNKNOWN_VALUE: "a field of a closed set held another value; it is stored as null",
    FlowWarning.SPF_HELO_ONLY: "only HELO-scope SPF results; DMARC uses the MAIL FROM identity "
    "(RFC 9990, the spf element), so SPF counts as none",
    FlowWarning.DKIM_WITHOUT_DOMAIN: "a DKIM result without a signing domain; it is left out",
    FlowWarning.UNKNOWN_NAMESPACE: "the report's root is in a namespace neither RFC defines; "
    "read as RFC 7489",
    FlowWarning.BAD_DATE_RANGE: "the date range is missing or not seconds since the epoch; "
    "report_begin and report_end are null",
}
