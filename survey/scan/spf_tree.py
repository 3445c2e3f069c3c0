"""Asking what an SPF record's evaluation needs: include and redirect targets, `a`, `mx`, `exists`.

The rules (what each term needs, how answers become events, what the result is) are pure and
live in `survey.verdict.spf_eval`; this module asks the names, once per run: answers and the
evaluated subtree of every include or redirect target are kept for the run (bounded), so
`_spf.google.com` or `spf.protection.outlook.com` is asked and evaluated once a month, not once
per domain. Identical evaluations in flight are shared too.

A subtree evaluated below one path is reused below another unless a loop could differ: it is
kept only when no loop it met closed on a name outside it, and reused only when the requester's
path shares no name with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Protocol

from survey.dns.outcome import TxtAnswer
from survey.dns.pool import ResolverPool
from survey.records.spf import SpfRecord, discover_spf
from survey.schema.values import Outcome, SpfResult, SpfResultReason
from survey.verdict.spf_eval import (
    LOOKUP,
    TEMPERROR,
    VOID,
    Ask,
    Event,
    Need,
    address_events,
    mx_events,
    needs,
    replay,
)

TREE_CACHE_LIMIT = 100_000  # include/redirect targets kept per run (a few events each)
MAX_EVENTS = 10_000  # a hostile tree is cut here: far past any limit a receiver applies
MAX_DEPTH = 32  # nesting of includes followed; deeper ones count as one lookup each


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
class Subtree:
    """The evaluation of one record below its parent: events in order, the targets reached."""

    events: tuple[Event, ...]
    includes: tuple[str, ...]  # include and redirect targets below, nested ones too, each once
    reached: frozenset[str]  # every target name the evaluation went through
    loops: frozenset[str] = frozenset()  # names at which a loop closed
    unresolved: int = 0  # terms counted but not asked (macros, ptr)


@dataclass(frozen=True, slots=True)
class SpfEvaluation:
    """The columns of one domain: `lookups`/`voids` are None without a single SPF record."""

    lookups: int | None
    voids: int | None
    result: SpfResult | None
    reason: SpfResultReason | None
    includes: tuple[str, ...]
    unresolved: int = 0


NO_EVALUATION = SpfEvaluation(None, None, None, None, ())
_NO_SPF = {"include": SpfResultReason.INCLUDE_NO_SPF, "redirect": SpfResultReason.REDIRECT_NO_SPF}
_LOOP = {"include": SpfResultReason.INCLUDE_LOOP, "redirect": SpfResultReason.REDIRECT_LOOP}


class SpfTrees:
    """Evaluates domains' SPF records over one run, sharing what their trees have in common."""

    def __init__(self, resolver: SpfResolver, limit: int = TREE_CACHE_LIMIT) -> None:
        self._resolver = resolver
        self._limit = limit
        self._trees: dict[tuple[str, str], Subtree] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[Subtree]] = {}

    async def evaluate(self, domain: str, answer: TxtAnswer) -> SpfEvaluation:
        """The evaluation of `domain`'s SPF answer (already asked by the scan)."""
        if not answer.is_answer:
            return SpfEvaluation(None, None, SpfResult.TEMPERROR, None, ())
        found = discover_spf(answer.texts)
        if found.record is None:
            if len(found.records) > 1:  # §4.5: a permerror before any evaluation
                reason = SpfResultReason.MULTIPLE_RECORDS
                return SpfEvaluation(None, None, SpfResult.PERMERROR, reason, ())
            return NO_EVALUATION
        syntax = SpfResultReason.SYNTAX if found.record.errors else None
        tree = await self._record(found.record, domain, (domain,))
        counted = replay(tree.events, syntax)
        return SpfEvaluation(
            counted.lookups,
            counted.voids,
            counted.result,
            counted.reason,
            tree.includes,
            tree.unresolved,
        )

    async def _record(self, record: SpfRecord, name: str, path: tuple[str, ...]) -> Subtree:
        """Every reachable term of `record` asked at once; the events assembled in order."""
        wanted = needs(record, name)
        parts = await asyncio.gather(*(self._term(need, path) for need in wanted))
        return _joined(parts)

    async def _term(self, need: Need, path: tuple[str, ...]) -> Subtree:
        if need.ask is Ask.NOTHING:
            return Subtree((LOOKUP,), (), frozenset(), unresolved=1)
        if need.ask is Ask.A:
            return Subtree(address_events(await self._resolver.address(need.name)), (), frozenset())
        if need.ask is Ask.MX:
            return Subtree(mx_events(*await self._resolver.mx(need.name)), (), frozenset())
        if need.name in path:  # the target is on the way here: a loop, counted once
            loop = (LOOKUP, _LOOP[need.term])
            return Subtree(loop, (need.name,), frozenset(), frozenset({need.name}))
        if len(path) > MAX_DEPTH:
            return Subtree((LOOKUP,), (need.name,), frozenset({need.name}))
        child = await self._target(need.name, need.term, path)
        events = (LOOKUP, *child.events)[:MAX_EVENTS]
        includes = tuple(dict.fromkeys((need.name, *child.includes)))
        return Subtree(events, includes, child.reached, child.loops, child.unresolved)

    async def _target(self, name: str, kind: str, path: tuple[str, ...]) -> Subtree:
        """The subtree of an include or redirect target: shared when its evaluation cannot
        depend on the path it was reached by."""
        key = (name, kind)
        known = self._trees.get(key)
        if known is not None and _reusable(known, path):
            return known
        pending = self._inflight.get(key)
        if pending is not None:
            shared = await asyncio.shield(pending)
            if _reusable(shared, path):
                return shared
        return await self._evaluate_target(key, path)

    async def _evaluate_target(self, key: tuple[str, str], path: tuple[str, ...]) -> Subtree:
        name, kind = key
        future: asyncio.Future[Subtree] = asyncio.get_running_loop().create_future()
        self._inflight.setdefault(key, future)
        try:
            tree = await self._target_tree(name, kind, path)
        except BaseException as exc:
            if self._inflight.get(key) is future:
                del self._inflight[key]
                future.set_exception(exc)
                future.exception()  # retrieved: nobody else need be waiting
            raise
        if self._inflight.get(key) is future:
            del self._inflight[key]
            future.set_result(tree)
        if _path_free(tree) and TEMPERROR not in tree.events:  # failures are asked again
            self._keep(key, tree)
        return tree

    async def _target_tree(self, name: str, kind: str, path: tuple[str, ...]) -> Subtree:
        answer = await self._resolver.txt(name)
        reached = frozenset({name})
        if not answer.is_answer:
            return Subtree((TEMPERROR,), (), reached)
        if answer.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
            return Subtree((VOID, _NO_SPF[kind]), (), reached)
        found = discover_spf(answer.texts)
        if found.record is None or found.record.errors:
            return Subtree((_invalid(kind, found.record is None, len(found.records)),), (), reached)
        tree = await self._record(found.record, name, (*path, name))
        return Subtree(
            tree.events, tree.includes, tree.reached | reached, tree.loops, tree.unresolved
        )

    def _keep(self, key: tuple[str, str], tree: Subtree) -> None:
        if len(self._trees) >= self._limit:
            self._trees.clear()
        self._trees[key] = tree


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
        sum(p.unresolved for p in parts),
    )
