"""The closed set of outcomes a DNS question can end in, and the TXT answer value.

Kept apart from `survey.dns.pool` so that pure modules (classify, tally) can name outcomes
without importing the network stack.
"""

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """How one DNS question ended. Schema: values are stored in snapshots; append only."""

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


@dataclass(frozen=True, slots=True)
class TxtAnswer:
    """The TXT records at one name, or why there are none.

    `texts` holds each TXT record's character-strings joined without separator (RFC 7208 §3.3),
    decoded as UTF-8 with `surrogateescape` so that no byte is lost.
    """

    name: str
    outcome: Outcome
    texts: tuple[str, ...] = ()
    tries: int = 1

    @property
    def is_answer(self) -> bool:
        return self.outcome.is_answer
