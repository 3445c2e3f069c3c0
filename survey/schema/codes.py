"""Problem codes: what is wrong with a record, as stable strings (`dmarc_errors`, `spf_warnings`…).

Schema: codes are only ever appended, never renamed. Each code carries its kind (an error makes
the record invalid, a warning does not) and its meaning; the README's code tables are checked
against these definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from survey.schema.values import ProblemKind

E, W = ProblemKind.ERROR, ProblemKind.WARNING


class ProblemCode(StrEnum):
    """A problem code: its value is the string stored, `kind` and `meaning` describe it."""

    kind: ProblemKind
    meaning: str

    # The defaults only let `DmarcCode("p_invalid")` (a lookup by value) type-check: every
    # member is defined with its kind and meaning (a test checks).
    def __new__(cls, value: str, kind: ProblemKind = E, meaning: str = "") -> ProblemCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.kind = kind
        member.meaning = meaning
        return member

    @classmethod
    def table(cls, kind: ProblemKind | None = None) -> Mapping[str, str]:
        """code → meaning, of one kind or of all."""
        return {str(c): c.meaning for c in cls if kind is None or c.kind is kind}

    @classmethod
    def markdown(cls) -> str:
        """The README's table of these codes."""
        rows = [f"| `{c}` | {c.kind} | {c.meaning} |" for c in cls]
        return "\n".join(["| code | kind | meaning |", "| --- | --- | --- |", *rows])


class DmarcCode(ProblemCode):
    """Problems of a DMARC record (RFC 7489 §6.3, §6.4, §6.6.3, §7.1)."""

    NOT_DMARC = (
        "not_dmarc",
        E,
        "text at _dmarc that is not a DMARC record at all (e.g. a verification token)",
    )
    SPF_AT_DMARC = (
        "spf_at_dmarc",
        E,
        "an SPF record (v=spf1) published at _dmarc instead of a DMARC record",
    )
    V_NOT_FIRST = (
        "v_not_first",
        E,
        "a v=DMARC1 tag is present but is not the first tag, so the record is discarded",
    )
    V_INVALID = (
        "v_invalid",
        E,
        "the first tag is v but its value is not exactly DMARC1 (e.g. dmarc1, DMARC2)",
    )
    MULTIPLE_RECORDS = (
        "multiple_records",
        E,
        "more than one DMARC record at the same name: no policy applies",
    )
    P_MISSING = "p_missing", E, "the required p (policy) tag is missing"
    P_NOT_SECOND = (
        "p_not_second",
        E,
        "the p tag is not the second tag, right after v (RFC 7489 §6.4 order)",
    )
    P_INVALID = "p_invalid", E, "p is not none, quarantine or reject (e.g. monitor, quarentena)"
    SP_INVALID = "sp_invalid", E, "sp is not none, quarantine or reject"
    PCT_INVALID = "pct_invalid", E, "pct is not an integer from 0 to 100"
    ADKIM_INVALID = "adkim_invalid", E, "adkim is not r or s"
    ASPF_INVALID = "aspf_invalid", E, "aspf is not r or s"
    FO_INVALID = "fo_invalid", E, "fo is not a colon-separated list of 0, 1, d and s"
    RF_INVALID = (
        "rf_invalid",
        E,
        "rf is not a colon-separated list of registered report formats (afrf)",
    )
    RI_INVALID = "ri_invalid", E, "ri is not an unsigned 32-bit integer"
    RUA_INVALID = (
        "rua_invalid",
        E,
        "a rua entry is not a URI with an optional !size (mailto needs an address)",
    )
    RUF_INVALID = (
        "ruf_invalid",
        E,
        "a ruf entry is not a URI with an optional !size (mailto needs an address)",
    )
    TAG_SYNTAX = (
        "tag_syntax",
        E,
        "a part is not name=value (e.g. p:reject, p reject) or has bad characters",
    )
    DUPLICATE_TAG = "duplicate_tag", E, "the same tag appears more than once"
    UNKNOWN_TAG = "unknown_tag", W, "a tag DMARC does not define; receivers ignore it"
    DISCARDED_TEXT = (
        "discarded_text",
        W,
        "a non-DMARC TXT text beside the DMARC record at the same name (ignored)",
    )
    REPORT_URI_NOT_MAILTO = (
        "report_uri_not_mailto",
        W,
        "a report URI with a scheme other than mailto (few receivers use it)",
    )
    RUA_UNAUTHORIZED = (
        "rua_unauthorized",
        W,
        "an external rua destination did not authorize the reports (RFC 7489 §7.1)",
    )
    RUF_UNAUTHORIZED = (
        "ruf_unauthorized",
        W,
        "an external ruf destination did not authorize the reports (RFC 7489 §7.1)",
    )
    REPORT_AUTH_UNRESOLVED = (
        "report_auth_unresolved",
        W,
        "the authorization lookup for an external destination failed (§7.1)",
    )
    NON_UTF8 = "non_utf8", W, "the record holds bytes that are not valid UTF-8"
    LEADING_WHITESPACE = (
        "leading_whitespace",
        E,
        'white space before v=DMARC1: the text does not start with "v=", so it is discarded'
        " (§6.4, §6.6.3)",
    )


class Dmarc9989Code(ProblemCode):
    """Problems of the DMARC verdict under RFC 9989 (its §4.7 tags, §4.8 grammar, §4.10 DNS
    Tree Walk): `dmarc9989_errors`, `dmarc9989_warnings`. A table of its own beside
    `DmarcCode`: the same name may mean another rule here (`p_missing` is a warning)."""

    NOT_DMARC = (
        "not_dmarc",
        E,
        "only text that is not a DMARC record at the domain's own _dmarc, and the tree walk"
        " found no record",
    )
    SPF_AT_DMARC = (
        "spf_at_dmarc",
        E,
        "an SPF record (v=spf1) at the domain's own _dmarc, and the tree walk found no record",
    )
    V_NOT_FIRST = (
        "v_not_first",
        E,
        "v=DMARC1 is present but not the first tag, so the text is discarded (§4.7 v)",
    )
    V_INVALID = (
        "v_invalid",
        E,
        "the first tag is v but its value is not exactly DMARC1, so the text is discarded (§4.7)",
    )
    LEADING_WHITESPACE = (
        "leading_whitespace",
        E,
        "white space before v=DMARC1: the record must start with v (§4.8), so it is discarded",
    )
    MULTIPLE_RECORDS = (
        "multiple_records",
        E,
        "several DMARC records at the domain's own _dmarc, all discarded (§4.10 step 2), and"
        " the tree walk found no record",
    )
    P_INVALID = (
        "p_invalid",
        E,
        "p is not none, quarantine or reject: p=none with a valid rua, else no policy (§4.10.1)",
    )
    SP_INVALID = (
        "sp_invalid",
        E,
        "sp is not none, quarantine or reject: p=none with a valid rua, else no policy",
    )
    NP_INVALID = (
        "np_invalid",
        E,
        "np is not none, quarantine or reject: p=none with a valid rua, else no policy",
    )
    PSD_INVALID = "psd_invalid", E, "psd is not y, n or u (it counts as the default u, §4.8)"
    T_INVALID = "t_invalid", E, "t is not y or n (it counts as the default n, §4.8)"
    ADKIM_INVALID = "adkim_invalid", E, "adkim is not r or s"
    ASPF_INVALID = "aspf_invalid", E, "aspf is not r or s"
    FO_INVALID = (
        "fo_invalid",
        E,
        "fo is not a colon-separated list of 0 or 1, d, s, each at most once (§4.8 dmarc-fo)",
    )
    RUA_INVALID = (
        "rua_invalid",
        E,
        "a rua entry is not a URI (RFC 3986), with an optional !size (mailto needs an address)",
    )
    RUF_INVALID = (
        "ruf_invalid",
        E,
        "a ruf entry is not a URI (RFC 3986), with an optional !size (mailto needs an address)",
    )
    TAG_SYNTAX = (
        "tag_syntax",
        E,
        "a part is not tag=value (e.g. p:reject) or has bad characters; receivers ignore it",
    )
    DUPLICATE_TAG = "duplicate_tag", E, "the same tag appears more than once (the first is read)"
    P_MISSING = (
        "p_missing",
        W,
        "no p tag (RECOMMENDED): the record is treated as if it held p=none (§4.7)",
    )
    REMOVED_TAG = (
        "removed_tag",
        W,
        "pct, rf or ri: tags RFC 9989 removed, now unknown tags that receivers ignore",
    )
    UNKNOWN_TAG = "unknown_tag", W, "a tag RFC 9989 does not define; receivers ignore it (§4.7)"
    OBSOLETE_SIZE = (
        "obsolete_size",
        W,
        "a report URI with a !size suffix: obsolete syntax that reporters ignore (§4.8)",
    )
    DISCARDED_TEXT = (
        "discarded_text",
        W,
        "non-DMARC text at the domain's own _dmarc, ignored: a record applies all the same",
    )
    WALK_DISCARDED = (
        "walk_discarded",
        W,
        "several DMARC records at a name the tree walk asked, all discarded; the walk went on"
        " (§4.10)",
    )
    REPORT_URI_NOT_MAILTO = (
        "report_uri_not_mailto",
        W,
        "a report URI with a scheme other than mailto (few receivers use it)",
    )
    NON_UTF8 = "non_utf8", W, "the record holds bytes that are not valid UTF-8"


class SpfCode(ProblemCode):
    """Problems of an SPF record (RFC 7208 §3, §4.5, §4.6, §5, §6, §7)."""

    MULTIPLE_RECORDS = (
        "multiple_records",
        E,
        "more than one SPF record for the domain: a permanent error (§4.5)",
    )
    UNKNOWN_TERM = (
        "unknown_term",
        E,
        "a term that is neither a known mechanism nor name=value modifier syntax",
    )
    MECHANISM_SYNTAX = (
        "mechanism_syntax",
        E,
        "a bad argument to a mechanism, redirect or exp (address, CIDR, domain)",
    )
    DUPLICATE_MODIFIER = "duplicate_modifier", E, "redirect or exp given more than once (§6)"
    MACRO_SYNTAX = (
        "macro_syntax",
        E,
        "a malformed macro in a domain or modifier (§7.1), e.g. %(ir) for %{ir}",
    )
    NON_ASCII = "non_ascii", E, "the record holds characters outside US-ASCII"
    PTR_MECHANISM = "ptr_mechanism", W, "the ptr mechanism is used, which SHOULD NOT be (§5.5)"
    PLUS_ALL = "plus_all", W, "+all or a bare all: every sender on the Internet passes"
    TERMS_AFTER_ALL = (
        "terms_after_all",
        W,
        "mechanisms after all are never reached; redirect beside all is ignored",
    )
    NO_ALL = (
        "no_all",
        W,
        "neither all nor redirect: mail matching no mechanism gets a neutral result",
    )
    UNKNOWN_MODIFIER = (
        "unknown_modifier",
        W,
        "a modifier SPF does not define; receivers ignore it (§6)",
    )
    RECORD_OVER_512 = (
        "record_over_512",
        W,
        "the record is over 512 bytes, so the DNS answer may not fit UDP (§3.4)",
    )
    NON_UTF8 = "non_utf8", W, "the record holds bytes that are not valid UTF-8"


class DkimCode(ProblemCode):
    """Problems of a DKIM key record (RFC 6376 §3.6.1, RFC 8301, RFC 8463) or of a domain's
    `_domainkey` tree."""

    TAG_SYNTAX = (
        "tag_syntax",
        E,
        "a part is not name=value or has bad characters (RFC 6376 §3.2)",
    )
    DUPLICATE_TAG = "duplicate_tag", E, "the same tag appears more than once (RFC 6376 §3.2)"
    V_NOT_FIRST = "v_not_first", E, "a v tag is present but is not the first tag (§3.6.1)"
    V_INVALID = "v_invalid", E, "v is not DKIM1: the record must be discarded (§3.6.1)"
    P_MISSING = "p_missing", E, "the required p (public key) tag is missing"
    P_NOT_BASE64 = "p_not_base64", E, "p is not base64 (§2.4)"
    KEY_UNPARSABLE = (
        "key_unparsable",
        E,
        "p decodes, but not to a key of the type k names (RSA SubjectPublicKeyInfo or"
        " RSAPublicKey; 32-byte ed25519)",
    )
    RSA_UNDER_1024 = (
        "rsa_under_1024",
        E,
        "an RSA key under 1024 bits: verifiers must not accept its signatures (RFC 8301 §3.2)",
    )
    UNKNOWN_KEY_TYPE = (
        "unknown_key_type",
        E,
        "k names a key type that is neither rsa nor ed25519: no verifier can use the key",
    )
    SHA1_ONLY = (
        "sha1_only",
        E,
        "h allows only sha1, which verifiers must not accept (RFC 8301 §3.1)",
    )
    RSA_UNDER_2048 = (
        "rsa_under_2048",
        W,
        "an RSA key under 2048 bits (RFC 8301 §3.2: signers should use at least 2048)",
    )
    TESTING = "testing", W, "t=y: the domain is testing DKIM; verifiers may ignore failures"
    SERVICE_NOT_EMAIL = (
        "service_not_email",
        W,
        "s lists neither email nor *: the key may not be used for mail (§3.6.1)",
    )
    UNKNOWN_TAG = "unknown_tag", W, "a tag DKIM does not define; verifiers ignore it"
    MULTIPLE_RECORDS = (
        "multiple_records",
        W,
        "several TXT records at one selector: which one a verifier uses is undefined (§3.6.2.2)",
    )
    NON_UTF8 = "non_utf8", W, "the record holds bytes that are not valid UTF-8"
    WILDCARD_DOMAINKEY = (
        "wildcard_domainkey",
        W,
        "a random selector answers: a wildcard under _domainkey, not counted as adoption",
    )
