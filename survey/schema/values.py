"""The closed value sets stored in snapshots. Schema: values are only ever appended, never renamed.

Each is a `StrEnum`, so a member is the very string written to Parquet, and a reader compares
a column's strings with members directly.
"""

from enum import StrEnum


class Outcome(StrEnum):
    """How one DNS question ended (`dmarc_lookup`, `spf_lookup`, `dmarc_org_lookup`)."""

    OK = "ok"  # an answer with at least one record of the asked type
    NXDOMAIN = "nxdomain"  # the name does not exist
    NODATA = "nodata"  # the name exists, no record of the asked type
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    ERROR = "error"  # anything else: malformed answer, connection refused, bad name

    @property
    def is_answer(self) -> bool:
        """True when the DNS gave a definite answer (records, or a definite absence)."""
        return self in _ANSWERS

    @property
    def is_retryable(self) -> bool:
        """The one place that decides what is retried: timeouts and SERVFAIL only."""
        return self in _RETRYABLE


_ANSWERS = frozenset({Outcome.OK, Outcome.NXDOMAIN, Outcome.NODATA})
_RETRYABLE = frozenset({Outcome.TIMEOUT, Outcome.SERVFAIL})


class Status(StrEnum):
    """A record's verdict (`dmarc_status`, `spf_status`)."""

    VALID = "valid"
    INVALID = "invalid"  # published, with errors (SPF: several records too)
    ABSENT = "absent"  # the DNS answered: no record
    ERROR = "error"  # a lookup the verdict needs failed: unresolved, never absent

    @property
    def is_published(self) -> bool:
        return self in (Status.VALID, Status.INVALID)


class DmarcSource(StrEnum):
    """Where the DMARC record that applies was found (RFC 7489 §6.6.3)."""

    DOMAIN = "domain"
    ORGANIZATIONAL = "organizational"


class Policy(StrEnum):
    """A policy a receiver applies (`dmarc_effective_p`; RFC 7489 §6.3 p, sp)."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class SpfAll(StrEnum):
    """How an SPF record ends (`spf_all`): its `all` qualifier, a redirect, or neither."""

    FAIL = "-all"
    SOFTFAIL = "~all"
    NEUTRAL = "?all"
    PASS = "+all"
    REDIRECT = "redirect"
    NONE = "none"


class DomainType(StrEnum):
    """Type A–F (`type`): DMARC valid / invalid / absent × SPF present / absent."""

    A = "A"  # DMARC valid, SPF present
    B = "B"  # DMARC invalid, SPF present
    C = "C"  # DMARC valid, SPF absent
    D = "D"  # DMARC invalid, SPF absent
    E = "E"  # DMARC absent, SPF present
    F = "F"  # DMARC absent, SPF absent


class ReportType(StrEnum):
    """Which reports a DMARC record asks for (`report_type`)."""

    A = "A"  # rua and ruf
    B = "B"  # rua only
    C = "C"  # ruf only
    D = "D"  # neither


class ProblemKind(StrEnum):
    """Errors make a record invalid; warnings do not."""

    ERROR = "error"
    WARNING = "warning"


class DkimKeyType(StrEnum):
    """The key type of a DKIM key record (`k`; RFC 6376 §3.6.1, RFC 8463)."""

    RSA = "rsa"
    ED25519 = "ed25519"
    UNKNOWN = "unknown"  # any other k value


class DkimStatus(StrEnum):
    """What DNS says of a domain's DKIM keys (`dkim_status`)."""

    FOUND = "found"  # at least one listed selector has a key record (revoked included)
    NONE_FOUND = "none_found"  # _domainkey.<d> exists, no listed selector answers
    ABSENT = "absent"  # _domainkey.<d> is NXDOMAIN: no selector can exist (RFC 8020)
    ERROR = "error"  # a needed lookup failed: unresolved, never absent


class SpfResult(StrEnum):
    """What a receiver's evaluation of a domain's SPF record ends in (`spf_result`), for a
    client address that matches no IP-based mechanism (RFC 7208 §4.6.4 limits)."""

    OK = "ok"  # evaluation ran to its end within the limits
    PERMERROR = "permerror"
    TEMPERROR = "temperror"  # a needed lookup failed: unresolved, never ok


class SpfResultReason(StrEnum):
    """The first condition a receiver's evaluation stops at (`spf_result_reason`)."""

    SYNTAX = "syntax"  # the record has a syntax error (§4.6)
    MULTIPLE_RECORDS = "multiple_records"  # several SPF records (§4.5)
    TOO_MANY_LOOKUPS = "too_many_lookups"  # more than 10 DNS-querying terms (§4.6.4)
    TOO_MANY_VOID_LOOKUPS = "too_many_void_lookups"  # more than 2 void lookups (§4.6.4)
    INCLUDE_LOOP = "include_loop"
    REDIRECT_LOOP = "redirect_loop"
    INCLUDE_NO_SPF = "include_no_spf"  # an include target without an SPF record (§5.2)
    REDIRECT_NO_SPF = "redirect_no_spf"  # a redirect target without an SPF record (§6.1)
    INCLUDE_PERMERROR = "include_permerror"  # an included record that is itself invalid (§5.2)
    TOO_MANY_MX = "too_many_mx"  # an mx answer of more than 10 names (§4.6.4)


class Dnssec(StrEnum):
    """What a validating resolver said of the domain's own TXT answer (`dnssec`), asked with DO
    and AD (RFC 3225, RFC 6840 §5.7); worth what the resolver is worth (README, DNSSEC)."""

    SECURE = "secure"  # answered with AD set: validated (RFC 4035 §3.2.3)
    INSECURE = "insecure"  # answered, AD clear: not signed, or not validated
    BOGUS = "bogus"  # SERVFAIL, and the same question with CD set answered (RFC 4035 §3.2.2)
    ERROR = "error"  # unresolved: no answer either way, never insecure
