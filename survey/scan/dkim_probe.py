"""One domain's DKIM questions, asked on the resolver pool (the rules are `survey.verdict.dkim`).

1. TXT `_domainkey.<d>`, put in flight together with the domain's first DMARC and SPF
   questions (`DkimProbe.start`), so that it costs no round of its own.
2. When that is not NXDOMAIN (`probes_needed`): TXT `<s>._domainkey.<d>` for every selector of
   the list, and TXT `<random>._domainkey.<d>` (the wildcard check, once per domain), all in
   flight at once (`DkimQuestions.go_on`), while the scanner goes on with the domain's other
   questions; `DkimQuestions.verdict` collects them. The DKIM questions cost one round more
   than the `_domainkey` one, however long the list.

Each is a normal question of the pool: the same outcomes, retries and counts as any other.
The CNAME chain's last name of a selector's answer (`TxtAnswer.canonical`) is kept as its
target: the provider is read from it.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Protocol

from survey.dns.outcome import TxtAnswer
from survey.verdict.dkim import (
    DkimLookups,
    DkimVerdict,
    SelectorList,
    domainkey_name,
    judge_dkim,
    load_providers,
    probes_needed,
    selector_name,
)
from survey.verdict.vendors import VendorTable

#: The random selector's label: a prefix no provider uses, and 64 random bits.
WILDCARD_PREFIX = "survey-wildcard-"


class TxtAsker(Protocol):
    def txt(self, name: str) -> asyncio.Future[TxtAnswer]: ...


def wildcard_label() -> str:
    """A selector label no one publishes: answered only through a wildcard."""
    return WILDCARD_PREFIX + secrets.token_hex(8)


class DkimProbe:
    """The DKIM questions of a scan: the selector list and the provider table, on one pool."""

    def __init__(
        self, pool: TxtAsker, selectors: SelectorList, providers: VendorTable | None = None
    ) -> None:
        self.pool = pool
        self.selectors = selectors
        self.providers = providers if providers is not None else load_providers()

    def start(self, domain: str) -> DkimQuestions:
        """Step 1 in flight (no await)."""
        return DkimQuestions(self, domain)


class DkimQuestions:
    """One domain's DKIM questions: `go_on` once the caller may wait for `_domainkey.<d>`,
    `verdict` at the end."""

    __slots__ = ("_domain", "_domainkey", "_probe", "_selectors", "_went_on", "_wildcard")

    def __init__(self, probe: DkimProbe, domain: str) -> None:
        self._probe = probe
        self._domain = domain
        self._domainkey = probe.pool.txt(domainkey_name(domain))
        self._selectors: dict[str, asyncio.Future[TxtAnswer]] | None = None
        self._wildcard: asyncio.Future[TxtAnswer] | None = None
        self._went_on = False

    async def go_on(self) -> None:
        """Wait for `_domainkey.<d>`; when it is not NXDOMAIN, put step 2 in flight."""
        self._went_on = True
        answer = await self._domainkey
        if not probes_needed(answer):
            return
        ask, domain = self._probe.pool.txt, self._domain
        selectors = self._probe.selectors.selectors
        self._selectors = {s: ask(selector_name(s, domain)) for s in selectors}
        self._wildcard = ask(selector_name(wildcard_label(), domain))

    async def verdict(self) -> DkimVerdict:
        """The DKIM columns, once every question asked has its answer."""
        if not self._went_on:
            await self.go_on()
        domainkey = await self._domainkey
        lookups = DkimLookups(self._domain, domainkey)
        if self._selectors is not None and self._wildcard is not None:
            answers = {s: await future for s, future in self._selectors.items()}
            lookups.selectors = answers
            lookups.wildcard = await self._wildcard
            lookups.targets = {s: a.canonical for s, a in answers.items() if a.canonical}
        probe = self._probe
        return judge_dkim(lookups, probe.selectors, probe.providers)
