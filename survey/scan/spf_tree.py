"""Asking what an SPF record's evaluation needs: include and redirect targets, `a`, `mx`, `exists`.

The rules (what each term needs, how answers become events, what the result is) are pure and
live in `survey.verdict.spf_eval`; this module asks the names, once per run: the TXT answer of
every include or redirect target is shared by the evaluations that need it while it is asked,
and the evaluated subtree of every target is kept for the run (bounded), so `_spf.google.com`
or `spf.protection.outlook.com` is asked and evaluated once a month, not once per domain. The
A and MX answers of `a`, `mx` and `exists` names are kept for the run too (their outcome only).
Failed lookups are never kept: they are asked again by the next evaluation that needs them.

A subtree evaluated below one path is reused below another unless a loop could differ: it is
kept only when no loop it met closed on a name outside it, and reused only when the requester's
path shares no name with it. Evaluations share answers, never unfinished subtrees (two of
them could then wait for each other: `a` including `b` in one, `b` including `a` in another).

A hostile tree is bounded: a domain's evaluation follows at most `MAX_TARGETS` targets afresh
and `MAX_DEPTH` levels of nesting; a target beyond either counts as one lookup, not followed.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from survey.dns.outcome import TxtAnswer
from survey.dns.pool import ResolverPool
from survey.records.spf import SpfRecord, discover_spf
from survey.schema.values import Outcome, SpfResult, SpfResultReason
from survey.verdict.spf_eval import (
    LOOKUP,
    NO_EVALUATION,
    TEMPERROR,
    VOID,
    Ask,
    Event,
    Need,
    SpfEvaluation,
    address_events,
    mx_events,
    needs,
    replay,
)

TREE_CACHE_LIMIT = 100_000  # targets' subtrees (and A/MX outcomes) kept per run, each
MAX_EVENTS = 10_000  # a hostile tree is cut here: far past any limit a receiver applies
MAX_DEPTH = 32  # nesting of includes followed; deeper ones count as one lookup each
MAX_TARGETS = 500  # targets one domain's evaluation follows afresh (its cache hits are free)


class SpfResolver(Protocol):
    """The questions an evaluation asks (the scan's resolver pool answers them)."""

    def txt(self, name: str) -> Awaitable[TxtAnswer]: ...

    def address(self, name: str) -> Awaitable[Outcome]: ...  # A

    def mx(self, name: str) -> Awaitable[tuple[Outcome, int]]: ...  # outcome, names in the answer


class PoolResolver:
    """The scan's resolver pool as an `SpfResolver`: its A and MX answers reduced to what the
    rules read (the outcome; and for MX the number of records, RFC 7208 §4.6.4). Every
    question goes through the pool, with its retries, deadlines, counts and sharing."""

    def __init__(self, pool: ResolverPool) -> None:
        self._pool = pool

    def txt(self, name: str) -> Awaitable[TxtAnswer]:
        return self._pool.txt(name)

    async def address(self, name: str) -> Outcome:
        return (await self._pool.address(name)).outcome

    async def mx(self, name: str) -> tuple[Outcome, int]:
        answer = await self._pool.mx(name)
        return answer.outcome, len(answer.exchanges)


@dataclass(frozen=True, slots=True)
class SpfNode:
    """One term of an evaluated tree, for a person (`survey check`): the lookups and void
    lookups it accounts for (itself and everything below it), what happened at it, and the
    terms of the record it led to."""

    term: str  # include / redirect / a / mx / ptr / exists; "" for the domain's own record
    name: str
    lookups: int
    voids: int
    note: str = ""  # "" (evaluated), or why it was not, or what went wrong at it
    children: tuple[SpfNode, ...] = ()


@dataclass(frozen=True, slots=True)
class Subtree:
    """The evaluation of one record below its parent: events in order, the targets reached."""

    events: tuple[Event, ...]
    includes: tuple[str, ...]  # include and redirect targets below, nested ones too, each once
    reached: frozenset[str]  # every target name the evaluation went through
    loops: frozenset[str] = frozenset()  # names at which a loop closed
    unasked: int = 0  # terms counted but not asked (macros, ptr, bad names)
    cut: bool = False  # a target was not followed (MAX_DEPTH, MAX_TARGETS): not kept
    note: str = ""  # for a target: what its TXT answer was, when no record was evaluated
    nodes: tuple[SpfNode, ...] = ()  # only when tracing


@dataclass(slots=True)
class SpfCounts:
    """What the SPF evaluations of a run did: the domains evaluated, the questions they handed
    to the resolver pool (by type and final outcome), the targets evaluated afresh and those
    taken from the run's evaluations, the answers shared, the domains whose record (its text)
    was judged before. Adds up across processes."""

    domains: int = 0
    questions: Counter[str] = field(default_factory=Counter)  # "TXT ok", "A nxdomain", …
    targets: int = 0
    reused: int = 0
    shared: int = 0
    enabled: bool = True
    records: int = 0  # domains whose record text was judged before, taken whole

    def __add__(self, other: SpfCounts) -> SpfCounts:
        return SpfCounts(
            self.domains + other.domains,
            self.questions + other.questions,
            self.targets + other.targets,
            self.reused + other.reused,
            self.shared + other.shared,
            self.enabled and other.enabled,
            self.records + other.records,
        )

    def manifest_entry(self) -> dict[str, Any]:
        by_type: dict[str, dict[str, int]] = {}
        for key, count in sorted(self.questions.items()):
            kind, outcome = key.split(" ")
            by_type.setdefault(kind, {})[outcome] = count
        return {
            "enabled": self.enabled,
            "domains": self.domains,
            "questions": by_type,
            "questions_total": sum(self.questions.values()),
            "targets_evaluated": self.targets,
            "targets_reused": self.reused,
            "answers_shared": self.shared,
            "records_reused": self.records,
        }


@dataclass(slots=True)
class _Walk:
    """One domain's evaluation: what it may still follow afresh."""

    left: int = MAX_TARGETS


_NO_SPF = {"include": SpfResultReason.INCLUDE_NO_SPF, "redirect": SpfResultReason.REDIRECT_NO_SPF}
_LOOP = {"include": SpfResultReason.INCLUDE_LOOP, "redirect": SpfResultReason.REDIRECT_LOOP}
_FAILED = SpfEvaluation(None, None, SpfResult.TEMPERROR, None, None)
_SEVERAL = SpfEvaluation(None, None, SpfResult.PERMERROR, SpfResultReason.MULTIPLE_RECORDS, None)


class SpfTrees:
    """Evaluates domains' SPF records over one run, sharing what their trees have in common.
    `trace`: also keep each domain's tree of `SpfNode`s in `traces` (for `survey check`)."""

    def __init__(
        self, resolver: SpfResolver, limit: int = TREE_CACHE_LIMIT, trace: bool = False
    ) -> None:
        self._resolver = resolver
        self._limit = limit
        self._trace = trace
        self._trees: dict[tuple[str, str], Subtree] = {}
        self._answers: dict[str, TxtAnswer | asyncio.Future[TxtAnswer]] = {}
        self._addresses: dict[str, Outcome] = {}
        self._exchanges: dict[str, tuple[Outcome, int]] = {}
        # record text → its evaluation and the target names it reached, for records whose
        # evaluation cannot depend on the domain publishing them (no a/mx of its own name,
        # no loop, nothing failed): `v=spf1 include:_spf.google.com ~all` is judged once
        self._records: dict[str, tuple[SpfEvaluation, frozenset[str]]] = {}
        self.counts = SpfCounts()
        self.traces: dict[str, SpfNode] = {}

    async def evaluate(self, domain: str, answer: TxtAnswer) -> SpfEvaluation:
        """The evaluation of `domain`'s SPF answer (already asked by the scan)."""
        begun = self.begin(domain, answer)
        return begun if isinstance(begun, SpfEvaluation) else await begun

    def begin(self, domain: str, answer: TxtAnswer) -> SpfEvaluation | asyncio.Task[SpfEvaluation]:
        """The evaluation at once when it needs no question (no single record, no querying
        term, or only what the run knows already: the common case), else a task asking them,
        to be awaited (the scan asks its other questions meanwhile)."""
        if not answer.is_answer:
            return _FAILED  # the domain's own TXT question failed: a needed lookup
        found = discover_spf(answer.texts)
        if found.record is None:  # none (nothing to evaluate), or several: §4.5 permerror
            return _SEVERAL if len(found.records) > 1 else NO_EVALUATION
        self.counts.domains += 1
        record, path = found.record, (domain,)
        kept = self._records.get(record.text)
        if kept is not None and domain not in kept[1] and not self._trace:
            self.counts.records += 1
            return kept[0]
        wanted = needs(record, domain)
        known = [self._known(need, path) for need in wanted]
        if all(part is not None for part in known):
            return self._finished(domain, record, wanted, _joined(known))  # type: ignore[arg-type]
        task = asyncio.ensure_future(self._evaluate(domain, record, wanted, known))
        task.add_done_callback(_retrieved)
        return task

    async def _evaluate(
        self,
        domain: str,
        record: SpfRecord,
        wanted: Sequence[Need],
        known: Sequence[Subtree | None],
    ) -> SpfEvaluation:
        walk, path = _Walk(), (domain,)
        asked = [i for i, part in enumerate(known) if part is None]
        if len(asked) == 1:
            answered = [await self._term(wanted[asked[0]], path, walk)]
        else:
            answered = await asyncio.gather(*(self._term(wanted[i], path, walk) for i in asked))
        parts = list(known)
        for i, part in zip(asked, answered, strict=True):
            parts[i] = part
        return self._finished(domain, record, wanted, _joined(parts))  # type: ignore[arg-type]

    def _finished(
        self, domain: str, record: SpfRecord, wanted: Sequence[Need], tree: Subtree
    ) -> SpfEvaluation:
        syntax = SpfResultReason.SYNTAX if record.errors else None
        counted = replay(tree.events, syntax)
        if self._trace:
            note = str(counted.reason or counted.result)
            self.traces[domain] = SpfNode(
                "", domain, counted.lookups, counted.voids, note, tree.nodes
            )
        evaluation = SpfEvaluation(
            counted.lookups,
            counted.voids,
            counted.result,
            counted.reason,
            tree.includes,
            tree.unasked,
        )
        independent = not tree.loops and not tree.cut and counted.result is not SpfResult.TEMPERROR
        if independent and all(need.name != domain for need in wanted):
            if len(self._records) >= self._limit:
                self._records.clear()
            self._records[record.text] = (evaluation, tree.reached)
        return evaluation

    async def _record(
        self, record: SpfRecord, name: str, path: tuple[str, ...], walk: _Walk
    ) -> Subtree:
        """Every reachable term of `record` asked at once; the events assembled in order."""
        wanted = needs(record, name)
        return _joined(await asyncio.gather(*(self._term(need, path, walk) for need in wanted)))

    def _known(self, need: Need, path: tuple[str, ...]) -> Subtree | None:
        """A term's subtree when no question is needed for it, else None."""
        if need.ask is Ask.NOTHING:
            targets = (need.name,) if need.term in _NO_SPF and need.name else ()
            return self._leaf(need, (LOOKUP,), targets, unasked=1, note=_unasked_note(need))
        if need.ask is Ask.A:
            outcome = self._addresses.get(need.name)
            return None if outcome is None else self._leaf(need, address_events(outcome))
        if need.ask is Ask.MX:
            known = self._exchanges.get(need.name)
            return None if known is None else self._mx_leaf(need, *known)
        if need.name in path:  # the target is on the way here: a loop, counted once
            loop = (LOOKUP, _LOOP[need.term])
            return self._leaf(need, loop, (need.name,), loops=frozenset({need.name}), note="loop")
        tree = self._trees.get((need.name, need.term))
        if tree is not None and _reusable(tree, path):
            self.counts.reused += 1
            return self._branch(need, tree)
        return None

    async def _term(self, need: Need, path: tuple[str, ...], walk: _Walk) -> Subtree:
        known = self._known(need, path)
        if known is not None:
            return known
        if need.ask is Ask.A:
            outcome = await self._resolver.address(need.name)
            self._answered(self._addresses, need.name, "A", outcome, outcome)
            return self._leaf(need, address_events(outcome))
        if need.ask is Ask.MX:
            outcome, names = await self._resolver.mx(need.name)
            self._answered(self._exchanges, need.name, "MX", outcome, (outcome, names))
            return self._mx_leaf(need, outcome, names)
        if len(path) > MAX_DEPTH or walk.left <= 0:
            note = "not followed: too deep" if walk.left > 0 else "not followed: too many"
            return self._leaf(need, (LOOKUP,), (need.name,), cut=True, note=note)
        walk.left -= 1
        return self._branch(need, await self._target(need.name, need.term, path, walk))

    async def _target(self, name: str, kind: str, path: tuple[str, ...], walk: _Walk) -> Subtree:
        """The subtree of an include or redirect target, kept for the run when it cannot
        depend on the path it was reached by."""
        self.counts.targets += 1
        tree = await self._target_tree(name, kind, path, walk)
        if _path_free(tree) and not tree.cut and TEMPERROR not in tree.events:
            if len(self._trees) >= self._limit:
                self._trees.clear()
            self._trees[name, kind] = tree
            if isinstance(self._answers.get(name), TxtAnswer):
                del self._answers[name]  # the subtree stands for it now
        return tree

    async def _target_tree(
        self, name: str, kind: str, path: tuple[str, ...], walk: _Walk
    ) -> Subtree:
        answer = await self._txt(name)
        reached = frozenset({name})
        if not answer.is_answer:
            return Subtree((TEMPERROR,), (), reached, note=f"temperror ({answer.outcome})")
        if answer.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
            return Subtree((VOID, _NO_SPF[kind]), (), reached, note=f"void ({answer.outcome})")
        found = discover_spf(answer.texts)
        if found.record is None or found.record.errors:
            reason = _invalid(kind, found.record is None, len(found.records))
            return Subtree((reason,), (), reached, note=str(reason))
        tree = await self._record(found.record, name, (*path, name), walk)
        return Subtree(
            tree.events,
            tree.includes,
            tree.reached | reached,
            tree.loops,
            tree.unasked,
            tree.cut,
            nodes=tree.nodes,
        )

    async def _txt(self, name: str) -> TxtAnswer:
        """A target's TXT answer: asked once however many evaluations need it meanwhile."""
        known = self._answers.get(name)
        if isinstance(known, TxtAnswer):
            self.counts.shared += 1
            return known
        if known is None:
            known = asyncio.ensure_future(self._resolver.txt(name))
            self._answers[name] = known
            known.add_done_callback(functools.partial(self._txt_answered, name))
        else:
            self.counts.shared += 1
        return await asyncio.shield(known)

    def _txt_answered(self, name: str, future: asyncio.Future[TxtAnswer]) -> None:
        if self._answers.get(name) is future:
            del self._answers[name]
        if future.cancelled() or future.exception() is not None:
            return  # its awaiters hear of it
        answer = future.result()
        self._answered(self._answers, name, "TXT", answer.outcome, answer)

    def _answered(
        self, kept: dict[str, Any], name: str, kind: str, outcome: Outcome, value: object
    ) -> None:
        """Count a question; keep its answer for the run unless the lookup failed."""
        self.counts.questions[f"{kind} {outcome}"] += 1
        if outcome.is_answer:
            if len(kept) >= self._limit:
                kept.clear()
            kept[name] = value

    def _leaf(
        self,
        need: Need,
        events: tuple[Event, ...],
        includes: tuple[str, ...] = (),
        loops: frozenset[str] = frozenset(),
        unasked: int = 0,
        cut: bool = False,
        note: str = "",
    ) -> Subtree:
        reached = frozenset(includes) if cut else frozenset()
        nodes: tuple[SpfNode, ...] = ()
        if self._trace:
            nodes = (_node(need, events, note or _leaf_note(events)),)
        return Subtree(events, includes, reached, loops, unasked, cut, nodes=nodes)

    def _mx_leaf(self, need: Need, outcome: Outcome, names: int) -> Subtree:
        events = mx_events(outcome, names)
        named = f"{names} name{'s' if names != 1 else ''}" if outcome is Outcome.OK else ""
        said = (named, _leaf_note(events))
        return self._leaf(need, events, note=", ".join(filter(None, said)))

    def _branch(self, need: Need, child: Subtree) -> Subtree:
        """An include or redirect term above its target's subtree."""
        events = (LOOKUP, *child.events)[:MAX_EVENTS]
        includes = tuple(dict.fromkeys((need.name, *child.includes)))
        nodes: tuple[SpfNode, ...] = ()
        if self._trace:
            nodes = (_node(need, events, child.note, child.nodes),)
        return Subtree(
            events, includes, child.reached, child.loops, child.unasked, child.cut, nodes=nodes
        )


def _retrieved(task: asyncio.Task[SpfEvaluation]) -> None:
    """A task whose scan was abandoned must not log its end as an unretrieved exception."""
    if not task.cancelled():
        task.exception()


def _node(
    need: Need, events: tuple[Event, ...], note: str, children: tuple[SpfNode, ...] = ()
) -> SpfNode:
    return SpfNode(need.term, need.name, events.count(LOOKUP), events.count(VOID), note, children)


def _leaf_note(events: tuple[Event, ...]) -> str:
    """What a term's own lookup came to: void, a failure, or nothing to say."""
    said = [str(e) for e in events if e != LOOKUP]
    return ", ".join(said)


def _unasked_note(need: Need) -> str:
    if "%" in need.name:
        return "not asked: a macro (depends on the sender)"
    if need.term == "ptr":
        return "not asked: needs the client's address"
    return "not asked: not a DNS name"


def _path_free(tree: Subtree) -> bool:
    """No loop of the subtree closed on a name outside it: the path it came by did not matter."""
    return not tree.loops - tree.reached


def _reusable(tree: Subtree, path: tuple[str, ...]) -> bool:
    """A subtree evaluated elsewhere stands for this path too: it did not depend on its own
    path, and this one holds none of its names (else a loop would close differently)."""
    return _path_free(tree) and not tree.reached & set(path)


def _invalid(kind: str, no_record: bool, records: int) -> SpfResultReason:
    """A target whose TXT answer holds no SPF record, several, or one with errors (§5.2, §6.1:
    an include's invalid record is its permerror; a redirect's is the record's own error)."""
    if no_record and records == 0:
        return _NO_SPF[kind]
    if kind == "include":
        return SpfResultReason.INCLUDE_PERMERROR
    return SpfResultReason.MULTIPLE_RECORDS if no_record else SpfResultReason.SYNTAX


def _joined(parts: Sequence[Subtree]) -> Subtree:
    if len(parts) == 1:
        return parts[0]
    events: list[Event] = []
    includes: dict[str, None] = {}  # each target once, in order of first appearance
    for part in parts:
        events += part.events[: MAX_EVENTS - len(events)]
        includes.update(dict.fromkeys(part.includes))
    return Subtree(
        tuple(events),
        tuple(includes),
        frozenset().union(*(p.reached for p in parts)),
        frozenset().union(*(p.loops for p in parts)),
        sum(p.unasked for p in parts),
        any(p.cut for p in parts),
        nodes=tuple(node for p in parts for node in p.nodes),
    )
