"""DNSSEC of a domain, from its own TXT answer (the SPF question, asked with DO and AD).

Pure. Side by side, as for the other questions: which extra question is needed (`needs_unchecked`)
and what the answers say (`dnssec_state`).

- `secure`: answered (records, NODATA or NXDOMAIN) with the AD bit set: the resolver validated
  the data or its denial (RFC 4035 §3.2.3, RFC 6840 §5.7);
- `insecure`: answered with AD clear: the zone is not signed, or the resolver does not validate
  (which is why only a resolver the operator runs is to be asked: README, DNSSEC);
- `bogus`: SERVFAIL, and the same question asked once more with CD set (RFC 4035 §3.2.2: "do not
  validate") answered: the data is there, its validation failed;
- `error`: no answer either way (a timeout, REFUSED, SERVFAIL twice): unresolved, never shown as
  insecure.

The CD answer is evidence of bogus data and nothing more: it is never taken as the domain's SPF
answer. A receiver behind a validating resolver gets SERVFAIL for it, and so does the survey:
the domain's SPF (and DMARC) lookups stay failed, its type unresolved.
"""

from __future__ import annotations

from survey.dns.outcome import TxtAnswer
from survey.schema.values import Dnssec, Outcome

__all__ = ["dnssec_state", "needs_unchecked"]


def needs_unchecked(answer: TxtAnswer) -> bool:
    """A SERVFAIL (after the pool's retries) is asked once more with CD set: the one extra
    question DNSSEC costs, and only for such domains."""
    return answer.outcome is Outcome.SERVFAIL


def dnssec_state(answer: TxtAnswer, unchecked: TxtAnswer | None = None) -> Dnssec:
    """What the answer to the domain's own TXT question (asked with DO and AD) says of its
    DNSSEC; `unchecked` is the answer to the same question with CD set, when it was asked."""
    if answer.is_answer:
        return Dnssec.SECURE if answer.authenticated else Dnssec.INSECURE
    if answer.outcome is Outcome.SERVFAIL and unchecked is not None and unchecked.is_answer:
        return Dnssec.BOGUS
    return Dnssec.ERROR
