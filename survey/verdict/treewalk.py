"""RFC 9989 §4.10: the DNS Tree Walk, the organizational domain it finds (§4.10.2) and the
policy that applies (§4.10.1). Section numbers as in draft-ietf-dmarc-dmarcbis-41.

Pure. The rule that decides which names are asked (`walk_names`, `walk_goes_on`) sits beside
the rule that judges their answers (`judge_walk`): the scanner asks `_dmarc.<name>` for each
name in turn while `walk_goes_on` says so, and hands the answers over.

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from survey.dns.outcome import TxtAnswer
from survey.records.dmarc9989 import Dmarc9989Record, parse_dmarc9989_record
from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.schema.codes import Dmarc9989Code as Code
from survey.schema.values import Outcome, Policy, Status

#: §4.10: at most eight queries; a name of eight or more labels is first cut to seven.
MAX_QUERIES = 8
_CUT_TO = 7


def walk_names(domain: str) -> tuple[str, ...]:
    """The names whose `_dmarc` the walk asks, in order: the domain, then (§4.10 step 4) its
    parent, or its last seven labels when it has eight or more, then one label less each time
    down to the TLD (step 7). At most MAX_QUERIES."""
    labels = domain.split(".")
    count = len(labels)
    sizes = range(min(count - 1, _CUT_TO), 0, -1)
    return (domain, *(".".join(labels[-size:]) for size in sizes))


@dataclass(frozen=True, slots=True)
class WalkStep:
    """What the walk makes of the TXT texts at one name (§4.10 steps 2 and 6)."""

    record: Dmarc9989Record | None  # the only DMARC record there, if there is exactly one
    several: bool = False  # several DMARC records: all discarded
    discarded: tuple[Dmarc9989Record, ...] = ()  # texts that are no DMARC record


_NOTHING = WalkStep(None)


def walk_step(texts: tuple[str, ...]) -> WalkStep:
    """The step of the texts at one name; most names hold none."""
    return _step(texts) if texts else _NOTHING


# The texts at a name repeat across domains (one PSD record, the same organization's record for
# each of its subdomains): judged once per distinct answer that comes back (values are frozen).
@repeated_memo(maxsize=4096)
def _step(texts: tuple[str, ...]) -> WalkStep:
    parsed = [parse_dmarc9989_record(text) for text in texts]
    dmarc = [record for record in parsed if record.is_dmarc]
    discarded = tuple(record for record in parsed if not record.is_dmarc)
    return WalkStep(dmarc[0] if len(dmarc) == 1 else None, len(dmarc) > 1, discarded)


def walk_goes_on(answer: TxtAnswer) -> bool:
    """After one name was asked: does the walk ask the next? Not after a failed lookup (the
    verdict is `error` whatever follows), nor after a single record with psd=y or psd=n
    (§4.10 steps 2 and 6); and there is no next name after the TLD."""
    if not answer.is_answer:
        return False
    record = walk_step(answer.texts).record
    return record is None or not record.stops_walk


def existence(own: TxtAnswer) -> bool | None:
    """Whether the domain exists (§3.2.13: NXDOMAIN means it does not), from the answer to a
    question for the domain itself; None when that question failed."""
    if not own.is_answer:
        return None
    return own.outcome is not Outcome.NXDOMAIN


@dataclass(frozen=True, slots=True)
class Walk9989:
    """The RFC 9989 verdict of one domain; `columns` are its snapshot columns in order
    (`dmarc9989_status` … `dmarc9989_warnings`)."""

    status: Status
    policy_domain: str | None = None
    org_domain: str | None = None
    record: Dmarc9989Record | None = None
    effective_p: Policy | None = None
    errors: tuple[Code, ...] = ()
    warnings: tuple[Code, ...] = ()
    columns: tuple[object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        record = self.record
        tags = (None, None, None) if record is None else (record.np, record.psd, record.t)
        columns = (self.status, self.policy_domain, self.org_domain, self.effective_p, *tags)
        object.__setattr__(self, "columns", (*columns, self.errors, self.warnings))


_ERROR = Walk9989(Status.ERROR)


def judge_walk(domain: str, answers: Sequence[TxtAnswer], exists: bool | None) -> Walk9989:
    """The verdict from the walk's answers: `answers[i]` is the answer for `_dmarc.` +
    `walk_names(domain)[i]`, as far as the walk went. A walk cut short (a failed lookup, or
    answers missing where `walk_goes_on` asks for more) is `error`, never absent."""
    names = walk_names(domain)
    if not answers or len(answers) > len(names) or not _complete(answers, len(names)):
        return _ERROR
    steps = [walk_step(answer.texts) for answer in answers]
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
        record,
        record.policy(subdomain, exists is not False),
        _codes(record.errors),
        tuple(sorted(set(warnings))),
    )


def _complete(answers: Sequence[TxtAnswer], most: int) -> bool:
    """Every answer is an answer, and the walk ended where `walk_goes_on` ends it."""
    if not all(answer.is_answer for answer in answers):
        return False
    return len(answers) == most or not walk_goes_on(answers[-1])


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


def _codes(problems: Iterable[Problem]) -> tuple[Code, ...]:
    """Sorted unique codes; a code the schema does not know is a bug and raises here."""
    return tuple(sorted({Code(p.code) for p in problems}))
