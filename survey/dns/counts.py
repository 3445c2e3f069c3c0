"""What a resolver pool counted (`ResolverPool.counts()`), for the manifest: a plain value
that crosses processes and adds up (`survey.scan.accounting` writes it)."""

from collections import Counter
from dataclasses import dataclass, field

from survey.schema.values import Outcome

__all__ = ["PoolCounts"]


@dataclass(slots=True)
class PoolCounts:
    """What a pool counted, in a form that crosses processes and adds up: the final outcome
    of each question, the outcome of every try, questions asked again over TCP, replies
    ignored as stray (late or forged), replies that echoed a question but could not be
    read (malformed), the questions of each type (`TXT`, `A`, `MX`), and those asked with
    CD (the DNSSEC bogus check)."""

    questions: Counter[Outcome] = field(default_factory=Counter)
    tries: Counter[Outcome] = field(default_factory=Counter)
    tcp: int = 0
    stray: int = 0
    malformed: int = 0
    types: Counter[str] = field(default_factory=Counter)
    checking_disabled: int = 0

    def __add__(self, other: "PoolCounts") -> "PoolCounts":
        return PoolCounts(
            self.questions + other.questions,
            self.tries + other.tries,
            self.tcp + other.tcp,
            self.stray + other.stray,
            self.malformed + other.malformed,
            self.types + other.types,
            self.checking_disabled + other.checking_disabled,
        )
