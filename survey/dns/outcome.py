"""The TXT answer value: the texts at one name, or the outcome saying why there are none.

Kept apart from `survey.dns.pool` so that pure modules (classify) can take answers without
importing the network stack. `Outcome` itself is schema (`survey.schema.values`).
"""

from dataclasses import dataclass

from survey.schema.values import Outcome


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
