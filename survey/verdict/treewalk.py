"""RFC 9989 §4.10: the DNS Tree Walk, the organizational domain it finds (§4.10.2) and the
policy that applies (§4.10.1). Section numbers as in draft-ietf-dmarc-dmarcbis-41.

Pure. The rule that decides which names are asked (`walk_names`, `walk_goes_on`) sits beside
the rule that judges their answers (`judge_walk`, `walk_columns`): the scanner asks
`_dmarc.<name>` for each name in turn while `walk_goes_on` says so, and hands the answers over.
The verdict depends on the answers and on the domain's number of labels only, so it is worked
out once for every domain whose walk met the same (most: NXDOMAIN up to the TLD, or a PSD's
record); each domain then gets its own names.

Decisions where the RFC leaves room (the README lists them too):
- A "valid DMARC Policy Record" of the walk is a text that starts with `v=DMARC1` and is the
  only such text at its name (§4.10 steps 2, 6); invalid tag values make it an `invalid` record,
  not no record (§4.8: they are ignored or defaulted, and §4.10.1 says what an invalid p does).
- The walk always runs to its end, also when the domain has its own record, because the
  organizational domain (§4.10.2) needs it; the policy is still the domain's own record's.
- A failed lookup anywhere in the walk makes the verdict `error`: what was not answered could
  have changed the organizational domain or the policy. The walk stops there.
- Non-existence (§3.2.13, RFC 8020) is the NXDOMAIN of the domain's own TXT question (the SPF
  one). When np could apply and that question failed, the verdict is `error`.
- The organizational domain's record is the one the walk retrieved at that name: after the
  8-label cut a `psd=y` may name an organizational domain the walk never asked (§4.10.2 rule 2);
  the PSD's record then applies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from survey.dns.outcome import TxtAnswer
from survey.records.dmarc import DmarcRecord
from survey.records.dmarc9989 import Dmarc9989Record, dmarc9989_of, parse_dmarc9989_record
from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.schema.codes import Dmarc9989Code as Code
from survey.schema.values import Outcome, Policy, Status

#: §4.10: at most eight queries; a name of eight or more labels is first cut to seven.
MAX_QUERIES = 8
_CUT_TO = 7
_PSD = re.compile("psd", re.IGNORECASE)
_ANSWERED = frozenset(outcome for outcome in Outcome if outcome.is_answer)


def walk_names(domain: str) -> tuple[str, ...]:
    """The names whose `_dmarc` the walk asks, in order: the domain, then (§4.10 step 4) its
    parent, or its last seven labels when it has eight or more, then one label less each time
    down to the TLD (step 7). At most MAX_QUERIES."""
    return (domain, *names_above(domain))


def names_above(domain: str) -> Iterator[str]:
    """`walk_names(domain)` after the domain itself, one at a time (the scanner asks them so,
    and stops early)."""
    rest = domain
    if domain.count(".") >= _CUT_TO + 1:  # 8 labels or more: on from the last 7
        rest = ".".join(domain.split(".")[-_CUT_TO - 1 :])
    while "." in rest:
        rest = rest.partition(".")[2]
        yield rest


def _codes(problems: Iterable[Problem]) -> tuple[Code, ...]:
    """Sorted unique codes; a code the schema does not know is a bug and raises here."""
    return tuple(sorted({Code(p.code) for p in problems}))


@dataclass(frozen=True, slots=True, eq=False)
class WalkStep:
    """What the walk makes of the TXT texts at one name (§4.10 steps 2 and 6).

    Two steps are equal when the walk makes the same of them (`signature`: the record's tag
    values and problem codes, not its text): a verdict cannot tell them apart, so domains whose
    steps are equal share it."""

    record: Dmarc9989Record | None  # the only DMARC record there, if there is exactly one
    several: bool = False  # several DMARC records: all discarded
    discarded: tuple[Dmarc9989Record, ...] = ()  # texts that are no DMARC record
    signature: tuple[object, ...] = field(init=False, repr=False)
    _hash: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        record = self.record
        facts = None
        if record is not None:
            facts = (
                *(record.p, record.sp, record.np, record.psd, record.t, record.has_valid_rua),
                _codes(record.errors),
                _codes(record.warnings),
            )
        dropped = _codes(p for text in self.discarded for p in text.errors)
        signature = (facts, self.several, dropped)
        object.__setattr__(self, "signature", signature)
        object.__setattr__(self, "_hash", hash(signature))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WalkStep) and self.signature == other.signature

    def __hash__(self) -> int:
        return self._hash


def _step_of(records: Iterable[Dmarc9989Record]) -> WalkStep:
    records = tuple(records)
    dmarc = [record for record in records if record.is_dmarc]
    discarded = tuple(record for record in records if not record.is_dmarc)
    return WalkStep(dmarc[0] if len(dmarc) == 1 else None, len(dmarc) > 1, discarded)


_NOTHING = WalkStep(None)


def walk_step(texts: tuple[str, ...]) -> WalkStep:
    """The step of the texts at one name; most names hold none."""
    return _step(texts) if texts else _NOTHING


# The texts at a name above a domain repeat across domains (one PSD record, an organization's
# for each of its subdomains): judged once per distinct answer that comes back (frozen values).
@repeated_memo(maxsize=4096)
def _step(texts: tuple[str, ...]) -> WalkStep:
    return _step_of(parse_dmarc9989_record(text) for text in texts)


def own_step(records: Sequence[DmarcRecord]) -> WalkStep:
    """The step of a domain's own texts from the RFC 7489 parser's records of them (classify
    has them): nothing is lexed again.

    Most domains publish a text of their own (a rua naming the domain) whose judgment many
    others share: the step is worked out once per `_own_key` of the records, which leaves the
    report URIs' text out."""
    if not records:
        return _NOTHING
    if len(records) == 1:
        key = _own_key(records[0])
        keys: tuple[object, ...] | None = None if key is None else (key,)
    else:
        keys = tuple(_own_key(record) for record in records)
    if keys is None or None in keys:
        return _step_of(dmarc9989_of(record) for record in records)
    return _own_steps(keys, records)


def _own_key(record: DmarcRecord) -> tuple[object, ...] | None:
    """What the RFC 9989 judgment of a record depends on, but the URIs of rua and ruf: every
    other tag as written, and of the URIs what the RFC 7489 parser found (its problem codes,
    whether one is valid), which RFC 9989 judges alike when no `!size` is written (RFC 7489
    alone limits the size). None when one is: the record is judged on its own.

    Strings joined rather than tuples nested, as the collector does not track strings; no
    tag name or value holds ";", no name "=", no code ",", so the joins are unambiguous."""
    if not record.is_dmarc:
        return (record.errors[0].code,)
    parts = []
    for tag in record.tags:
        if tag.name == "rua" or tag.name == "ruf":
            if "!" in tag.value:
                return None
            parts.append(tag.name)
        else:
            parts.append(f"{tag.name}={tag.value}")
    errors = ",".join([p.code for p in record.errors]) if record.errors else ""
    warnings = ",".join([p.code for p in record.warnings]) if record.warnings else ""
    return (";".join(parts), bool(record.valid_rua), errors, warnings)


def _own_steps(keys: tuple[object, ...], records: Sequence[DmarcRecord]) -> WalkStep:
    """The step for `keys`, kept once it comes back (the records are those of the first
    domain that had the keys: the step's signature is the same for all)."""
    found = _OWN_STEPS.get(keys)
    if found is None:
        found = _step_of(dmarc9989_of(record) for record in records)
        if len(_OWN_STEPS) >= _OWN_STEPS_LIMIT:
            _OWN_STEPS.clear()
        _OWN_STEPS[keys] = found
    return found


#: Steps by the keys of the records (`_own_key`): the keys repeat (the same tags, only the
#: report address differs), so they are kept on their first sighting, emptied whole when full.
_OWN_STEPS: dict[tuple[object, ...], WalkStep] = {}
_OWN_STEPS_LIMIT = 8192


def walk_goes_on(answer: TxtAnswer) -> bool:
    """After one name was asked: does the walk ask the next? Not after a failed lookup (the
    verdict is `error` whatever follows), nor after a single record with psd=y or psd=n
    (§4.10 steps 2 and 6); and there is no next name after the TLD."""
    if answer.outcome not in _ANSWERED:
        return False
    # Without "psd" in any text (case aside) no record can stop the walk: most answers need
    # no parsing here (and a text parsed here and again by judge_walk would be kept by the
    # parsers' caches, which keep what comes back).
    for text in answer.texts:
        if _PSD.search(text):
            record = walk_step(answer.texts).record
            return record is None or not record.stops_walk
    return True


def existence(own: TxtAnswer) -> bool | None:
    """Whether the domain exists (§3.2.13: NXDOMAIN means it does not), from the answer to a
    question for the domain itself; None when that question failed."""
    if not own.is_answer:
        return None
    return own.outcome is not Outcome.NXDOMAIN


@dataclass(frozen=True, slots=True)
class Walk9989:
    """The RFC 9989 verdict of one domain; `columns` are its snapshot columns in order
    (`dmarc9989_status` … `dmarc9989_warnings`). np, psd, t: of the record that applies."""

    status: Status
    policy_domain: str | None = None
    org_domain: str | None = None
    effective_p: Policy | None = None
    np: str | None = None
    psd: str | None = None
    t: str | None = None
    errors: tuple[Code, ...] = ()
    warnings: tuple[Code, ...] = ()
    columns: tuple[object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        columns = (self.status, self.policy_domain, self.org_domain, self.effective_p)
        tags = (self.np, self.psd, self.t, self.errors, self.warnings)
        object.__setattr__(self, "columns", (*columns, *tags))


_ERROR = Walk9989(Status.ERROR)


def judge_walk(
    domain: str, answers: Sequence[TxtAnswer], exists: bool | None, own: WalkStep | None = None
) -> Walk9989:
    """The verdict from the walk's answers: `answers[i]` is the answer for `_dmarc.` +
    `walk_names(domain)[i]`, as far as the walk went; `own`, when given, is the step of
    `answers[0]` (`own_step`). A walk cut short (a failed lookup, or answers missing where
    `walk_goes_on` asks for more) is `error`, never absent."""
    shape, count = _shape_of(domain, answers, exists, own)
    policy, org = (
        _suffix(domain, count, shape.policy_labels),
        _suffix(domain, count, shape.org_labels),
    )
    return replace(shape.verdict, policy_domain=policy, org_domain=org)


def walk_columns(
    domain: str, answers: Sequence[TxtAnswer], exists: bool | None, own: WalkStep | None = None
) -> tuple[object, ...]:
    """`judge_walk(...).columns`, without building a verdict object per domain."""
    shape, count = _shape_of(domain, answers, exists, own)
    columns = shape.verdict.columns
    policy, org = (
        _suffix(domain, count, shape.policy_labels),
        _suffix(domain, count, shape.org_labels),
    )
    return (columns[0], policy, org, *columns[3:])


@dataclass(frozen=True, slots=True)
class _Shape:
    """A verdict with its two names as label counts (the last N labels of the domain)."""

    verdict: Walk9989
    policy_labels: int | None = None
    org_labels: int | None = None


_ERROR_SHAPE = _Shape(_ERROR)


def _shape_of(
    domain: str, answers: Sequence[TxtAnswer], exists: bool | None, own: WalkStep | None
) -> tuple[_Shape, int]:
    """The shared verdict of the walk, and the domain's number of labels."""
    count = domain.count(".") + 1
    if not _complete(answers, min(count, MAX_QUERIES)):
        return _ERROR_SHAPE, count
    first = own if own is not None else walk_step(answers[0].texts)
    steps = [first]
    empty = first is _NOTHING
    for answer in answers[1:]:
        if answer.texts:
            empty = False
            steps.append(walk_step(answer.texts))
        else:
            steps.append(_NOTHING)
    if empty:
        return _absent(count), count  # nothing at any name: most domains
    return _shape((count, exists, tuple(steps))), count


def _complete(answers: Sequence[TxtAnswer], most: int) -> bool:
    """Every answer is an answer, and the walk ended where `walk_goes_on` ends it."""
    if not answers or len(answers) > most:
        return False
    for answer in answers:
        if answer.outcome not in _ANSWERED:
            return False
    return len(answers) == most or not walk_goes_on(answers[-1])


_ABSENT = Walk9989(Status.ABSENT)


@functools.cache
def _absent(count: int) -> _Shape:
    """No text at any name of a complete walk: absent, and the domain is its own
    organizational domain (§4.10.2)."""
    return _Shape(_ABSENT, None, count)


@repeated_memo(maxsize=8192)
def _shape(key: tuple[int, bool | None, tuple[WalkStep, ...]]) -> _Shape:
    """The verdict of a stand-in domain of as many labels (no step depends on a name)."""
    count, exists, steps = key
    stand_in = ".".join(f"l{i}" for i in range(count))
    verdict = _judge(stand_in, steps, exists)
    return _Shape(verdict, _labels(verdict.policy_domain), _labels(verdict.org_domain))


def _labels(name: str | None) -> int | None:
    return None if name is None else name.count(".") + 1


def _suffix(domain: str, labels: int, count: int | None) -> str | None:
    """The name of the domain's last `count` labels (it has `labels`)."""
    if count is None or count == labels:
        return None if count is None else domain
    return ".".join(domain.split(".")[-count:])


def _judge(domain: str, steps: Sequence[WalkStep], exists: bool | None) -> Walk9989:
    """The verdict of a complete walk, names and all."""
    names = walk_names(domain)
    org = organizational_domain(domain, names, steps)
    applies = policy_record(names, steps, org)
    if applies is None:
        return _no_record(steps, org)
    index, record = applies
    subdomain = index > 0
    if subdomain and record.np_applies and exists is None:
        return _ERROR  # np or sp/p: which one depends on an answer we do not have
    warnings = _codes(record.warnings) + _walk_warnings(steps, record_applies=True)
    return Walk9989(
        Status.INVALID if record.errors else Status.VALID,
        names[index],
        org,
        record.policy(subdomain, exists is not False),
        record.np,
        record.psd,
        record.t,
        _codes(record.errors),
        tuple(sorted(set(warnings))),
    )


def organizational_domain(domain: str, names: Sequence[str], steps: Sequence[WalkStep]) -> str:
    """§4.10.2, over the names with a record, longest first: psd=n → that name; psd=y (not at
    the name the walk started from) → the name one label below it; else the name with the
    fewest labels. The domain itself when the walk found no record."""
    found = [(i, step.record) for i, step in enumerate(steps) if step.record is not None]
    for i, record in found:
        if record.psd_flag == "n":
            return names[i]
        if record.psd_flag == "y" and i > 0:
            return ".".join(domain.split(".")[-(names[i].count(".") + 2) :])
    return names[found[-1][0]] if found else domain


def policy_record(
    names: Sequence[str], steps: Sequence[WalkStep], org: str
) -> tuple[int, Dmarc9989Record] | None:
    """§4.10.1: the record of the domain itself, else the organizational domain's, else the
    public suffix domain's (psd=y), with the index of its name; None when none applies."""
    own = steps[0].record
    if own is not None:
        return 0, own
    found = [(i, step.record) for i, step in enumerate(steps) if step.record is not None]
    for i, record in found:
        if names[i] == org:
            return i, record
    for i, record in found:
        if record.psd_flag == "y":
            return i, record
    return None


def _no_record(steps: Sequence[WalkStep], org: str) -> Walk9989:
    """No record applies: what the domain published at its own `_dmarc` is a mistake (as
    `dmarc_status` says for RFC 7489), else absent."""
    own = steps[0]
    warnings = _walk_warnings(steps, record_applies=False)
    if own.several:
        return Walk9989(
            Status.INVALID, None, org, errors=(Code.MULTIPLE_RECORDS,), warnings=warnings
        )
    if own.discarded:
        errors = _codes(p for record in own.discarded for p in record.errors)
        return Walk9989(Status.INVALID, None, org, errors=errors, warnings=warnings)
    return Walk9989(Status.ABSENT, None, org, warnings=warnings)


def _walk_warnings(steps: Sequence[WalkStep], record_applies: bool) -> tuple[Code, ...]:
    """What the walk discarded on its way, as warnings: several records at a name, and
    non-DMARC text at the domain's own name; what the domain published itself is the
    verdict's error instead when no record applies."""
    found: list[Code] = []
    if record_applies and steps[0].discarded:
        found.append(Code.DISCARDED_TEXT)
    if any(step.several for step in steps[0 if record_applies else 1 :]):
        found.append(Code.WALK_DISCARDED)
    return tuple(found)
