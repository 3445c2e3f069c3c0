"""One domain's questions and verdict, a chunk of them, and the chunk written as its part.

The questions per domain: TXT `_dmarc.<d>` and TXT `<d>` at once, the latter with DO and AD
(its AD bit is the `dnssec` column); `<d>` again with CD when it ended SERVFAIL (bogus or
not); then the RFC 9989 DNS Tree Walk, `_dmarc.<name>` for the names above `d` in turn;
`_dmarc.<org>` when RFC 7489 §6.6.3 falls back to the organizational domain; the §7.1
authorization names of external report destinations. Which are needed is decided by the
verdict package (`needs_unchecked`, `walk_goes_on`, `needs_org_lookup`,
`authorization_names`); this module only asks them. The DKIM questions (`dkim_probe.py`) run
beside these: `_domainkey.<d>` with the first two, the selectors while the rest are asked. So
does the SPF record's evaluation as a receiver would do it (`survey.scan.spf_tree`: its include
and redirect tree).

The `_dmarc` names above a domain (the walk's, and the §6.6.3 organizational one, usually one
of them) are shared by many domains (`_dmarc.com`, `_dmarc.co.jp`, an organization's own for
each of its subdomains): their answers are kept for the run by each scanning process, so that
each is asked once; failures are not kept. Domains that miss the same name while it is being
asked wait for the same wire question (the resolver pool merges identical questions in flight)
and count as answered from the shared answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from survey.dns.outcome import TxtAnswer
from survey.dns.pool import ResolverPool
from survey.dns.wire import QueryFlags
from survey.input.stream import InputDomain
from survey.scan.dkim_probe import DkimProbe
from survey.scan.jobs import write_part_whole
from survey.scan.spf_tree import PoolResolver, SpfCounts, SpfTrees
from survey.schema.values import Dnssec, Outcome
from survey.store.snapshot import SCHEMA, SnapshotWriter, rows_to_table
from survey.verdict import psl
from survey.verdict.authorization import OrgOf, authorization_names
from survey.verdict.classify import classify
from survey.verdict.dkim import NOT_ASKED, SelectorList
from survey.verdict.dnssec import dnssec_state, needs_unchecked
from survey.verdict.policy import DomainLookups, discover_policy, needs_org_lookup
from survey.verdict.row import VERDICT_FIELDS, Verdict
from survey.verdict.spf_eval import NO_EVALUATION, SpfEvaluation
from survey.verdict.treewalk import names_above, walk_goes_on
from survey.verdict.vendors import VendorTable

#: Shared `_dmarc` answers kept by a process. Most are empty (NXDOMAIN), kept as one shared
#: value, so an entry costs its name and a dict slot (~150 bytes): ~15 MB a process at most,
#: however long the input. The names worth keeping are a few thousand (TLDs and public
#: suffixes) and the organizations whose subdomains come close together; the cache is emptied
#: whole when full, after which those few thousand are asked again (under 3% more).
SHARED_CACHE_LIMIT = 100_000
_EMPTY = {outcome: TxtAnswer("", outcome) for outcome in Outcome if outcome.is_answer}


@dataclass(slots=True)
class WalkCounts:
    """What the RFC 9989 tree walk of a run did beyond each domain's own `_dmarc` question:
    the names it consulted, and the questions it handed to the resolver pool for them, by final
    outcome (the others were answered from the run's shared answers). Adds up across
    processes."""

    steps: int = 0
    asked: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: WalkCounts) -> WalkCounts:
        return WalkCounts(self.steps + other.steps, self.asked + other.asked)

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "questions": {str(k): n for k, n in sorted(self.asked.items())},
            "from_shared_answers": self.steps - sum(self.asked.values()),
        }


class DomainScanner:
    """Asks the questions of one domain (the module docstring lists them) and classifies the
    answers."""

    def __init__(
        self,
        pool: ResolverPool,
        org_of: OrgOf,
        vendors: VendorTable,
        report_auth: bool,
        dkim: SelectorList | None = None,
        spf_eval: bool = True,
    ) -> None:
        self._pool = pool
        self._dkim = DkimProbe(pool, dkim) if dkim is not None else None
        self._org_of = org_of
        self._vendors = vendors
        self._report_auth = report_auth
        self._shared: dict[str, TxtAnswer] = {}
        # the first question for each shared name not yet kept: in flight, or just answered
        self._asking: dict[str, asyncio.Future[TxtAnswer]] = {}
        self.walk_counts = WalkCounts()
        self.spf_trees = SpfTrees(PoolResolver(pool)) if spf_eval else None

    @classmethod
    def standard(
        cls,
        pool: ResolverPool,
        report_auth: bool,
        dkim: SelectorList | None = None,
        spf_eval: bool = True,
    ) -> DomainScanner:
        """A scanner with the bundled (or `psl.load`ed) suffix list and the vendor table; the
        DKIM questions with the selector list `dkim` (None: not asked); SPF records evaluated
        as a receiver does unless `spf_eval` is False."""
        return cls(pool, psl.organizational_domain, VendorTable.load(), report_auth, dkim, spf_eval)

    @property
    def spf_counts(self) -> SpfCounts:
        """What the SPF evaluations of this scanner asked (none: switched off)."""
        return self.spf_trees.counts if self.spf_trees else SpfCounts(enabled=False)

    async def scan(self, item: InputDomain) -> Verdict:
        domain = item.domain
        org = self._org_of(domain)
        pool = self._pool
        # Both questions are in flight before the first await (txt() returns a future).
        dmarc_future = pool.txt(f"_dmarc.{domain}")
        spf_future = pool.txt(domain, QueryFlags.DNSSEC)
        dkim = self._dkim.start(domain) if self._dkim is not None else None
        dmarc, spf = await dmarc_future, await spf_future
        trees = self.spf_trees  # evaluated beside the questions below (a task when it asks)
        spf_eval = trees.begin(domain, spf) if trees else NO_EVALUATION
        if dkim is not None:
            await dkim.go_on()  # the selectors in flight while the rest is asked
        dnssec = await self._dnssec(domain, spf)
        walk = await self._walk(domain, dmarc)
        org_answer = None
        if needs_org_lookup(domain, org, dmarc):
            org_answer = self._shared.get(org) or await self._ask_shared(org, None)
        lookups = DomainLookups(domain, org, dmarc, spf, org_answer, walk=walk)
        policy = discover_policy(lookups)  # once; report authorization does not change it
        if self._report_auth and policy.record is not None:
            names = authorization_names(lookups, self._org_of, policy)
            if names:
                # All in flight before the first await, as with gather, without its task
                # machinery per domain.
                futures = [pool.txt(name) for name in names]
                answers = {name: await future for name, future in zip(names, futures, strict=True)}
                lookups = DomainLookups(domain, org, dmarc, spf, org_answer, answers, walk)
        keys = await dkim.verdict() if dkim is not None else NOT_ASKED
        if not isinstance(spf_eval, SpfEvaluation):
            spf_eval = await spf_eval
        return classify(
            lookups,
            self._org_of,
            self._vendors,
            item.rank,
            item.weight,
            policy,
            dnssec,
            keys,
            spf_eval,
        )

    async def _dnssec(self, domain: str, answer: TxtAnswer) -> Dnssec | None:
        """The `dnssec` column; None when the client cannot read the AD bit (c-ares). The CD
        answer only tells bogus from a failure: it is never the domain's SPF answer."""
        if not self._pool.dnssec:
            return None
        unchecked = None
        if needs_unchecked(answer):
            unchecked = await self._pool.txt(domain, QueryFlags.CHECKING_DISABLED)
        return dnssec_state(answer, unchecked)

    async def _walk(self, domain: str, own: TxtAnswer) -> tuple[TxtAnswer, ...]:
        """RFC 9989 §4.10: the answers for the names above the domain, asked one after another
        while the walk goes on (a psd=y or psd=n record, or a failed lookup, ends it)."""
        answers: list[TxtAnswer] = []
        last, shared, counts = own, self._shared, self.walk_counts
        for name in names_above(domain):
            if not walk_goes_on(last):
                break
            last = shared.get(name) or await self._ask_shared(name, counts.asked)
            answers.append(last)
        counts.steps += len(answers)
        return tuple(answers)

    def _ask_shared(self, name: str, asked: Counter[str] | None) -> asyncio.Future[TxtAnswer]:
        """`_dmarc.<name>` for a name above a domain, not kept yet. The first question is kept
        for the run once answered and counted in `asked` (by the walk); a domain that needs
        the name meanwhile waits for it on the wire (the pool merges identical questions in
        flight, each caller with a future of its own), or takes its answer if it came."""
        first = self._asking.get(name)
        if first is not None and not first.cancelled():
            return first if first.done() else self._pool.txt(f"_dmarc.{name}")
        future = self._asking[name] = self._pool.txt(f"_dmarc.{name}")
        future.add_done_callback(functools.partial(self._settled, name, asked))
        return future

    def _settled(
        self, name: str, asked: Counter[str] | None, future: asyncio.Future[TxtAnswer]
    ) -> None:
        if self._asking.get(name) is future:
            del self._asking[name]
        if future.cancelled() or future.exception() is not None:
            return  # the asker gave up, or the pool failed: its caller hears of it
        answer = future.result()
        if asked is not None:
            asked[answer.outcome] += 1
        if answer.is_answer:  # failures are asked again next time
            if len(self._shared) >= SHARED_CACHE_LIMIT:
                self._shared.clear()
            texts = answer.texts
            self._shared[name] = (
                TxtAnswer("", answer.outcome, texts) if texts else _EMPTY[answer.outcome]
            )


_GETTERS = tuple(operator.attrgetter(name) for name in VERDICT_FIELDS)
_SCANNED_AT = SCHEMA.field("scanned_at").type


def verdicts_to_table(verdicts: Iterable[Verdict], scanned_at: dt.datetime) -> pa.Table:
    """Verdicts to Arrow columns, one C-level pass per column; `scanned_at` is one value
    repeated (converting a chunk's equal timezone-aware datetimes one by one costs more than
    the rest of the table)."""
    rows = verdicts if isinstance(verdicts, list) else list(verdicts)
    columns: dict[str, Any] = {
        name: list(map(getter, rows)) for name, getter in zip(VERDICT_FIELDS, _GETTERS, strict=True)
    }
    columns["scanned_at"] = pa.repeat(pa.scalar(scanned_at, type=_SCANNED_AT), len(rows))
    return rows_to_table(columns)


async def scan_chunk(
    scanner: DomainScanner, chunk: Sequence[InputDomain], concurrency: int
) -> list[Verdict]:
    """Verdicts of `chunk` in input order, from a fixed set of workers pulling domains.

    One task per worker, not per domain: a chunk would otherwise queue a task (and its
    questions) per domain at once. A domain asks at most two questions at a time, so
    concurrency/2 workers keep the pool's question bound busy."""
    verdicts: list[Verdict | None] = [None] * len(chunk)
    todo = iter(enumerate(chunk))

    async def worker() -> None:
        for position, item in todo:
            verdicts[position] = await scanner.scan(item)

    workers = max(1, min(len(chunk), concurrency // 2))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return verdicts  # type: ignore[return-value]  # every position was filled


async def scan_part(
    scanner: DomainScanner,
    writer: SnapshotWriter,
    index: int,
    chunk: Sequence[InputDomain],
    concurrency: int,
) -> Counter[str]:
    """Chunk `index` scanned and written whole as part `index` (in this process or in a
    worker); the count of its domains by type."""
    verdicts = await scan_chunk(scanner, chunk, concurrency)
    await write_part_whole(writer, index, verdicts_to_table(verdicts, dt.datetime.now(dt.UTC)))
    return Counter(v.type or "unresolved" for v in verdicts)
