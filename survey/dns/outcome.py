"""The answer values of the resolver pool: the records at one name, or the outcome saying why
there are none; one class per type asked (TXT, A, MX).

Kept apart from `survey.dns.pool` so that pure modules (classify) can take answers without
importing the network stack. `Outcome` itself is schema (`survey.schema.values`).

Every answer carries, beside its records:
- `canonical`: the name the records were found at after following CNAMEs inside the answer
  (RFC 1034 §3.6.2), lower-cased, without the trailing dot; None when no CNAME was followed,
  and for any answer but NOERROR (c-ares hands over no records of an NXDOMAIN reply, so
  neither client keeps its chain). A CNAME to a name without records of the type gives NODATA
  and the target's name.
- `authenticated`: the AD bit of the reply (RFC 4035 §3.2.3): set by a validating resolver
  for data it validated, and only worth what that resolver is worth (README, DNSSEC). False
  when the question did not ask for it, when no reply came, and through c-ares, which cannot
  read it (`ResolverPool.dnssec` says whether the client can).
"""

from dataclasses import dataclass

from survey.schema.values import Outcome

__all__ = ["AddressAnswer", "MxAnswer", "TxtAnswer"]


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
    canonical: str | None = None
    authenticated: bool = False

    @property
    def is_answer(self) -> bool:
        return self.outcome.is_answer


@dataclass(frozen=True, slots=True)
class AddressAnswer:
    """The A records at one name (dotted quads), or why there are none."""

    name: str
    outcome: Outcome
    addresses: tuple[str, ...] = ()
    tries: int = 1
    canonical: str | None = None
    authenticated: bool = False

    @property
    def is_answer(self) -> bool:
        return self.outcome.is_answer


@dataclass(frozen=True, slots=True)
class MxAnswer:
    """The MX records at one name, as their exchange names in answer order (one per record,
    repeats kept: RFC 7208 §4.6.4 counts records), or why there are none."""

    name: str
    outcome: Outcome
    exchanges: tuple[str, ...] = ()
    tries: int = 1
    canonical: str | None = None
    authenticated: bool = False

    @property
    def is_answer(self) -> bool:
        return self.outcome.is_answer
