"""The SPF verdict of one domain's answer (RFC 7208 §4.5 record selection, then the record's
own problems), with its verdict columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from survey.dns.outcome import TxtAnswer
from survey.records.memo import repeated_memo
from survey.records.problem import Problem
from survey.records.spf import discover_spf, is_spf
from survey.schema.codes import SpfCode
from survey.schema.values import Outcome, SpfAll, Status


@dataclass(frozen=True, slots=True)
class SpfVerdict:
    """The SPF columns of one domain (`count`: the SPF records found)."""

    status: Status
    record: str | None
    all: SpfAll | None
    errors: tuple[SpfCode, ...]
    warnings: tuple[SpfCode, ...]
    count: int


#: The SPF columns depend on the answer's outcome and its SPF texts alone (§4.5: the others
#: are ignored; they are mostly verification tokens, one of a kind), and domains share a few
#: records (`v=spf1 -all`, the big providers' includes): judged once per distinct pair that
#: comes back.
_SPF_CACHE_SIZE = 8192

#: A judged SPF answer: the verdict, its columns `spf_status` … `spf_warnings` in Verdict
#: order, and `spf_lookup`.
SpfColumns = tuple[SpfVerdict, tuple[object, ...], Outcome]


def judged_spf(answer: TxtAnswer) -> SpfColumns:
    """The verdict of one answer at the domain, with its columns."""
    texts = answer.texts
    if texts and not all(map(is_spf, texts)):
        texts = tuple(filter(is_spf, texts))
    return _spf_verdicts((answer.outcome, texts))


@repeated_memo(maxsize=_SPF_CACHE_SIZE)
def _spf_verdicts(key: tuple[Outcome, tuple[str, ...]]) -> SpfColumns:
    outcome, spf_texts = key
    spf = _judge_spf(TxtAnswer("", outcome, spf_texts))
    return spf, (spf.status, spf.record, spf.all, spf.errors, spf.warnings), outcome


def _judge_spf(answer: TxtAnswer) -> SpfVerdict:
    if not answer.is_answer:
        return SpfVerdict(Status.ERROR, None, None, (), (), 0)
    found = discover_spf(answer.texts)
    record = found.record
    problems_e = (*found.errors, *(record.errors if record else ()))
    problems_w = (*found.warnings, *(record.warnings if record else ()))
    text = record.text if record else ("\n".join(r.text for r in found.records) or None)
    return SpfVerdict(
        found.status,
        text,
        record.all if record else None,
        _codes(problems_e),
        _codes(problems_w),
        len(found.records),
    )


def _codes(problems: Iterable[Problem]) -> tuple[SpfCode, ...]:
    """Sorted unique codes; a code the schema does not know is a bug and raises here."""
    return tuple(sorted({SpfCode(p.code) for p in problems}))
