"""The lab's SPF trees: the providers' include trees, each domain's own names below it, and the
generator's own evaluation of what it wrote (RFC 7208 §4.6.4, §5.2, §6.1), for the `spf_*`
evaluation columns of expected.parquet.

Records are built from terms — (name, argument) pairs, `("include", "_spf.google.com")`,
`("~all", "")`, `("redirect", "x")` — and rendered to text from them; the evaluation walks the
terms, never the text, and never the survey's parser or evaluator. It follows the rules as the
issue states them, in a plain recursive walk: every querying term counted (each occurrence,
past the limit), a term after the first `all` never reached, `redirect` only without `all`;
a void lookup is a name without a record of the asked type; a loop-closing term or a target
without a valid SPF record counts once and is not expanded; the result is the first condition
met in evaluation order; a macro or `ptr` is counted and not asked.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

Term = tuple[str, str]  # (name with its qualifier when it is all, argument or "")


@dataclass(frozen=True, slots=True)
class Rec:
    """One TXT text as written: an SPF record built from `terms` (`valid` False when the
    generator wrote a mistake into it), or any other text (`terms` None)."""

    text: str
    terms: tuple[Term, ...] | None = None
    valid: bool = True


def spf_rec(*terms: Term, valid: bool = True) -> Rec:
    return Rec(render(terms), terms, valid)


def render(terms: tuple[Term, ...]) -> str:
    words = ["v=spf1"]
    for name, argument in terms:
        if name in ("redirect", "exp"):
            words.append(f"{name}={argument}")
        else:
            words.append(f"{name}:{argument}" if argument else name)
    return " ".join(words)


def _ip4s(first: int, count: int) -> tuple[Term, ...]:
    return tuple(("ip4", f"{first}.{k * 7 % 256}.{k % 256}.0/24") for k in range(count))


#: The providers' trees, in the lab zone at their real names (modelled on what they publish).
PROVIDERS: dict[str, Rec] = {
    "_spf.google.com": spf_rec(
        ("include", "_netblocks.google.com"),
        ("include", "_netblocks2.google.com"),
        ("include", "_netblocks3.google.com"),
        ("~all", ""),
    ),
    "_netblocks.google.com": spf_rec(*_ip4s(35, 6), ("~all", "")),
    "_netblocks2.google.com": spf_rec(("ip6", "2001:4860:4000::/36"), ("~all", "")),
    "_netblocks3.google.com": spf_rec(*_ip4s(172, 4), ("~all", "")),
    "spf.protection.outlook.com": spf_rec(
        *_ip4s(40, 4),
        ("ip6", "2a01:111:f400::/48"),
        ("include", "spfd.protection.outlook.com"),
        ("-all", ""),
    ),
    "spfd.protection.outlook.com": spf_rec(*_ip4s(51, 2), ("-all", "")),
    "servers.mcsv.net": spf_rec(*_ip4s(205, 3), ("-all", "")),
    "spf.mandrillapp.com": spf_rec(*_ip4s(198, 4), ("~all", "")),
    "_spf.salesforce.com": spf_rec(("exists", "%{i}._spf.mta.salesforce.com"), ("-all", "")),
    "sendgrid.net": spf_rec(*_ip4s(167, 8), ("include", "ab.sendgrid.net"), ("~all", "")),
    "ab.sendgrid.net": spf_rec(*_ip4s(168, 2), ("~all", "")),
    "amazonses.com": spf_rec(*_ip4s(54, 10), ("-all", "")),
    "mail.zendesk.com": spf_rec(*_ip4s(192, 6), ("~all", "")),
}


@dataclass(frozen=True, slots=True)
class Zone:
    """What the lab holds for the evaluation of one domain: TXT texts by name, names with an
    A record, MX exchanges by name. Anything else does not exist."""

    txt: Mapping[str, tuple[Rec, ...]]
    a: frozenset[str] = frozenset()
    mx: Mapping[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _State:
    lookups: int = 0
    voids: int = 0
    first: str | None = None
    includes: dict[str, None] = field(default_factory=dict)
    unasked: int = 0

    def lookup(self) -> None:
        self.lookups += 1
        if self.lookups > 10:
            self.fail("too_many_lookups")

    def void(self) -> None:
        self.voids += 1
        if self.voids > 2:
            self.fail("too_many_void_lookups")

    def fail(self, reason: str) -> None:
        if self.first is None:
            self.first = reason


QUERYING = ("include", "a", "mx", "ptr", "exists")
EvalColumns = tuple[int | None, int | None, str | None, str | None, list[str] | None, int | None]
NOTHING: EvalColumns = (None, None, None, None, None, None)


def evaluate(domain: str, zone: Zone) -> EvalColumns:
    """spf_lookups, spf_void_lookups, spf_result, spf_result_reason, spf_includes,
    spf_unasked_terms of `domain`, by the generator's own walk over what it wrote."""
    records = [rec for rec in zone.txt.get(domain, ()) if rec.terms is not None]
    if not records:
        return NOTHING
    if len(records) > 1:
        return (None, None, "permerror", "multiple_records", None, None)
    state = _State()
    if not records[0].valid:
        state.fail("syntax")
    _walk(domain, records[0], [domain], zone, state)
    result = "ok" if state.first is None else "permerror"
    unasked = state.unasked
    return (state.lookups, state.voids, result, state.first, list(state.includes), unasked)


def _reached(rec: Rec) -> list[Term]:
    """The querying terms up to the first all; then redirect, when the record has no all."""
    found: list[Term] = []
    terms = rec.terms or ()
    for name, argument in terms:
        if name.endswith("all"):
            return found
        if name in QUERYING:
            found.append((name, argument))
    return found + [(n, a) for n, a in terms if n == "redirect"][:1]


def _walk(name: str, rec: Rec, path: list[str], zone: Zone, state: _State) -> None:
    for kind, argument in _reached(rec):
        target = argument or name
        state.lookup()
        if kind in ("include", "redirect"):
            state.includes.setdefault(target, None)
        if "%" in target or kind == "ptr":
            state.unasked += 1
        elif kind in ("a", "exists"):
            if target not in zone.a:
                state.void()
        elif kind == "mx":
            exchanges = zone.mx.get(target, 0)
            if exchanges == 0:
                state.void()
            elif exchanges > 10:
                state.fail("too_many_mx")
        else:
            _follow(kind, target, path, zone, state)


def _follow(kind: str, target: str, path: list[str], zone: Zone, state: _State) -> None:
    if target in path:
        state.fail(f"{kind}_loop")
        return
    texts = zone.txt.get(target)
    if not texts:
        state.void()  # no TXT at all there: NXDOMAIN, or a name with other records only
        state.fail(f"{kind}_no_spf")
        return
    records = [rec for rec in texts if rec.terms is not None]
    if not records:
        state.fail(f"{kind}_no_spf")
    elif kind == "include" and (len(records) > 1 or not records[0].valid):
        state.fail("include_permerror")
    elif len(records) > 1:
        state.fail("multiple_records")
    elif not records[0].valid:
        state.fail("syntax")
    else:
        _walk(target, records[0], [*path, target], zone, state)
