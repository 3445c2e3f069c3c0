"""One domain's questions and verdict, a chunk of them, and the chunk written as its part.

The questions per domain: TXT `_dmarc.<d>` and TXT `<d>` at once, the latter with DO and AD
(its AD bit is the `dnssec` column); `<d>` again with CD when it ended SERVFAIL (bogus or
not); `_dmarc.<org>` when RFC 7489 §6.6.3 falls back to the organizational domain (once per
run per organization); the §7.1 authorization names of external report destinations. Which
are needed is decided by the verdict package (`needs_unchecked`, `needs_org_lookup`,
`authorization_names`); this module only asks them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from survey.dns.outcome import TxtAnswer
from survey.dns.pool import ResolverPool
from survey.dns.wire import QueryFlags
from survey.input.stream import InputDomain
from survey.scan.jobs import write_part_whole
from survey.schema.values import Dnssec
from survey.store.snapshot import SCHEMA, SnapshotWriter, rows_to_table
from survey.verdict import psl
from survey.verdict.authorization import OrgOf, authorization_names
from survey.verdict.classify import classify
from survey.verdict.dnssec import dnssec_state, needs_unchecked
from survey.verdict.policy import DomainLookups, discover_policy, needs_org_lookup
from survey.verdict.row import VERDICT_FIELDS, Verdict
from survey.verdict.vendors import VendorTable

ORG_CACHE_LIMIT = 200_000


class DomainScanner:
    """Asks the questions of one domain (the module docstring lists them) and classifies the
    answers."""

    def __init__(
        self, pool: ResolverPool, org_of: OrgOf, vendors: VendorTable, report_auth: bool
    ) -> None:
        self._pool = pool
        self._org_of = org_of
        self._vendors = vendors
        self._report_auth = report_auth
        self._org_cache: dict[str, TxtAnswer] = {}

    @classmethod
    def standard(cls, pool: ResolverPool, report_auth: bool) -> DomainScanner:
        """A scanner with the bundled (or `psl.load`ed) suffix list and the vendor table."""
        return cls(pool, psl.organizational_domain, VendorTable.load(), report_auth)

    async def scan(self, item: InputDomain) -> Verdict:
        domain = item.domain
        org = self._org_of(domain)
        pool = self._pool
        # Both questions are in flight before the first await (txt() returns a future).
        dmarc_future = pool.txt(f"_dmarc.{domain}")
        spf_future = pool.txt(domain, QueryFlags.DNSSEC)
        dmarc, spf = await dmarc_future, await spf_future
        dnssec = await self._dnssec(domain, spf)
        org_answer = None
        if needs_org_lookup(domain, org, dmarc):
            org_answer = await self._org_dmarc(org)
        lookups = DomainLookups(domain, org, dmarc, spf, org_answer)
        policy = discover_policy(lookups)  # once; report authorization does not change it
        if self._report_auth and policy.record is not None:
            names = authorization_names(lookups, self._org_of, policy)
            if names:
                # All in flight before the first await, as with gather, without its task
                # machinery per domain.
                futures = [pool.txt(name) for name in names]
                answers = {name: await future for name, future in zip(names, futures, strict=True)}
                lookups = DomainLookups(domain, org, dmarc, spf, org_answer, answers)
        return classify(
            lookups, self._org_of, self._vendors, item.rank, item.weight, policy, dnssec
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

    async def _org_dmarc(self, org: str) -> TxtAnswer:
        """`_dmarc.<org>` is shared by every subdomain of an organization: ask it once a run."""
        cached = self._org_cache.get(org)
        if cached is not None:
            return cached
        answer = await self._pool.txt(f"_dmarc.{org}")
        if answer.is_answer:  # failures are asked again next time
            if len(self._org_cache) >= ORG_CACHE_LIMIT:
                self._org_cache.clear()
            self._org_cache[org] = answer
        return answer


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
