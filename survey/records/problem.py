"""A problem found in a record: a stable code plus the context that shows where."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. `code` is schema (append only, listed in the README); `context` is free text,
    e.g. the offending tag or term, or the position of a bad character."""

    code: str
    context: str = ""

    def __str__(self) -> str:
        return f"{self.code} ({self.context})" if self.context else self.code
