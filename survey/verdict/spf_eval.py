"""SPF as a receiver evaluates it: the DNS-querying terms, the limits, and where evaluation fails.

Pure. A record is evaluated as for a client address that matches no IP-based mechanism, the
case the limits of RFC 7208 §4.6.4 are written for: every mechanism up to the first `all` is
reached (terms after `all` never are, §5.1), and `redirect` is followed only when the record
has no `all` (§6.1). The scan (`survey.scan.spf_tree`) asks the names; this module says which
names each term needs and turns the answers into an ordered list of events:

- `LOOKUP`: a term that queries DNS (`include`, `a`, `mx`, `ptr`, `exists`, `redirect`; §4.6.4),
  each occurrence counted;
- `VOID`: a lookup that got NXDOMAIN or no answer of the asked type (§4.6.4);
- a failure (`Reason`), at the point evaluation meets it: a loop, a target without an SPF record,
  an included record that is itself invalid, an `mx` with more than 10 names; `TEMPERROR` when a
  needed lookup failed.

`replay` walks the events of a whole tree: the counts describe the whole tree (counting goes on
past the first limit or error: a tree of 23 lookups reports 23), while the result is what a
receiver stops at: the first condition met in evaluation order (more than 10 lookups, more than
2 void lookups, or a failure event). A lookup of the tree that failed makes the result
`temperror` wherever it was met: the counts are then incomplete (a failed include was not
expanded), so the columns are unresolved, never a count short of the truth (even when a
receiver would have stopped at a permerror before it). Terms whose domain depends on the
sender (macros, §7; and `ptr`, which needs the client address) are counted and not resolved
("unasked"); so is a term whose name cannot be asked at all (empty, or not a DNS name: a
record with a syntax error).

`SpfEvaluation` is what one domain's evaluation comes to: the `spf_*` evaluation columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from survey.records.spf import SpfRecord, Term
from survey.schema.values import Outcome, SpfResult, SpfResultReason

MAX_LOOKUPS = 10  # §4.6.4
MAX_VOID_LOOKUPS = 2  # §4.6.4 (SHOULD)
MAX_MX_NAMES = 10  # §4.6.4: an mx whose answer holds more names is a permerror
QUERYING = frozenset({"include", "a", "mx", "ptr", "exists"})


class Ask(Enum):
    """What a term needs from DNS."""

    TXT = "txt"  # include and redirect targets: their SPF record
    A = "a"  # a, exists
    MX = "mx"  # mx
    NOTHING = "nothing"  # ptr, and any term whose domain holds a macro


@dataclass(frozen=True, slots=True)
class Need:
    """One DNS-querying term of a record, in evaluation order, and the name it asks."""

    term: str  # include / a / mx / ptr / exists / redirect
    ask: Ask
    name: str  # the target (as written, lower case, no trailing dot); "" for ptr without one


Event = str  # LOOKUP, VOID, TEMPERROR below, or a failure (an SpfResultReason)
LOOKUP = "lookup"
VOID = "void"
TEMPERROR = "temperror"


def needs(record: SpfRecord, domain: str) -> tuple[Need, ...]:
    """The DNS-querying terms a receiver reaches in `record` (published at `domain`)."""
    found: list[Need] = []
    for term in reachable_terms(record):
        name = _target(term, domain)
        if term.name in ("include", "redirect"):
            ask = Ask.TXT
        elif term.name in ("a", "exists"):
            ask = Ask.A
        else:
            ask = Ask.MX if term.name == "mx" else Ask.NOTHING
        if "%" in name or term.name == "ptr" or not askable(name):
            ask = Ask.NOTHING  # depends on the sender or the client address (§5.5, §7)
        found.append(Need(term.name, ask, name))
    return tuple(found)


def reachable_terms(record: SpfRecord) -> Iterable[Term]:
    """The querying mechanisms up to the first `all`, then `redirect` when there is no `all`."""
    for term in record.terms:
        if term.kind != "mechanism":
            continue
        if term.name == "all":
            return
        if term.name in QUERYING:
            yield term
    redirect = next(
        (t for t in record.terms if t.kind == "modifier" and t.name == "redirect"), None
    )
    if redirect is not None:
        yield redirect


def askable(name: str) -> bool:
    """A name a DNS question can carry: not empty, at most 253 octets, no empty label, labels
    of at most 63 octets (a bad one is a syntax error of its record, never a question)."""
    if not name or len(name) > 253 or not name.isascii():
        return False
    return all(0 < len(label) <= 63 for label in name.split("."))


def _target(term: Term, domain: str) -> str:
    """The domain a term names: its domain-spec without a CIDR suffix, or the record's own."""
    spec = term.argument or ""
    if term.name in ("a", "mx"):
        spec = spec.split("/", 1)[0]  # a:example.com/24, mx/24 (§5.6 dual-cidr-length)
    spec = spec.strip().lower().rstrip(".")
    return spec or (domain if term.name in ("a", "mx") else "")


def address_events(outcome: Outcome) -> tuple[Event, ...]:
    """An `a` or `exists` term: its lookup, and whether the answer was void or failed."""
    return (LOOKUP, *_answer_events(outcome))


def mx_events(outcome: Outcome, names: int) -> tuple[Event, ...]:
    """An `mx` term; more than 10 names in the answer is a permerror (§4.6.4)."""
    events: tuple[Event, ...] = (LOOKUP, *_answer_events(outcome))
    if outcome is Outcome.OK and names > MAX_MX_NAMES:
        events += (SpfResultReason.TOO_MANY_MX,)
    return events


def _answer_events(outcome: Outcome) -> tuple[Event, ...]:
    if not outcome.is_answer:
        return (TEMPERROR,)
    return (VOID,) if outcome in (Outcome.NXDOMAIN, Outcome.NODATA) else ()


@dataclass(frozen=True, slots=True)
class Replayed:
    lookups: int
    voids: int
    result: SpfResult
    reason: SpfResultReason | None


@dataclass(frozen=True, slots=True)
class SpfEvaluation:
    """One domain's `spf_*` evaluation columns. `lookups`, `voids`, `includes` and `unasked`
    are None without a single SPF record (and when not evaluated); `result` is None without an
    SPF record, `permerror`/`multiple_records` for several, `temperror` when a needed lookup
    failed (the domain's own TXT question included)."""

    lookups: int | None
    voids: int | None
    result: SpfResult | None
    reason: SpfResultReason | None
    includes: tuple[str, ...] | None
    unasked: int | None = None  # terms counted but not asked (macros, ptr, bad names)

    @property
    def columns(self) -> tuple[object, ...]:
        """In the order of the snapshot's columns `spf_lookups` … `spf_unasked_terms`."""
        return (self.lookups, self.voids, self.result, self.reason, self.includes, self.unasked)


#: Nothing evaluated: no SPF record, or evaluation switched off (`--no-spf-eval`).
NO_EVALUATION = SpfEvaluation(None, None, None, None, None)


def replay(events: Sequence[Event], syntax: SpfResultReason | None = None) -> Replayed:
    """Count the whole tree; the result is the first condition met in evaluation order.
    `syntax`: a top-level record error (`syntax`, `multiple_records`), met before anything
    (§4.6: a record with a syntax error is a permerror without further interpretation)."""
    lookups = voids = 0
    first: Event | None = syntax
    for event in events:
        if event == LOOKUP:
            lookups += 1
            if lookups > MAX_LOOKUPS and first is None:
                first = SpfResultReason.TOO_MANY_LOOKUPS
        elif event == VOID:
            voids += 1
            if voids > MAX_VOID_LOOKUPS and first is None:
                first = SpfResultReason.TOO_MANY_VOID_LOOKUPS
        elif first is None:
            first = event
    if first == TEMPERROR or TEMPERROR in events:  # incomplete counts: unresolved
        return Replayed(lookups, voids, SpfResult.TEMPERROR, None)
    if first is None:
        return Replayed(lookups, voids, SpfResult.OK, None)
    return Replayed(lookups, voids, SpfResult.PERMERROR, SpfResultReason(first))
