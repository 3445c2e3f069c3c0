"""The floors: the questions `survey scan` asks, through a bare client, nothing else.

`--client aiodns` (the issue's floor, (a)): a bare aiodns loop with c-ares options matching
the survey's settings (EDNS on, the same timeout, one try, the same event loop and number of
questions in flight). `--client pool` ((a2)): the survey's own resolver pool and transport,
asked the same questions by the same loop, so that b/a2 is what the pipeline costs over its
own DNS client. `--client dnspython` ((a3)): a bare dnspython asyncio resolver loop (EDNS
with a 1232-octet payload, no cache, no search list, the same timeout, one try, TCP on TC),
the pure-Python codec beside c-ares and ours. All follow the scan's phases per domain (the two
first questions at once, then the organizational fallback, then the RFC 7489 §7.1 names). No
classification, no retries, no output: what is left is the cost of asking. Writes a JSON
result (elapsed seconds, outcome counts).

    python scripts/bench_floor.py QUESTIONS RESULT --nameserver 127.0.0.1:PORT \
        [--client aiodns|pool|dnspython]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiodns
import dns.asyncresolver
import dns.exception
import dns.resolver
import dns.version
import pycares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lib import DomainQuestions, read_questions, write_json

from survey.dns.loop import run
from survey.dns.pool import ResolverPool
from survey.dns.settings import ResolverSettings
from survey.schema.values import Outcome

# The c-ares statuses that are DNS answers; every other status is `error`.
_CARES_OUTCOMES = {
    pycares.errno.ARES_ENOTFOUND: Outcome.NXDOMAIN,
    pycares.errno.ARES_ENODATA: Outcome.NODATA,
    pycares.errno.ARES_ESERVFAIL: Outcome.SERVFAIL,
    pycares.errno.ARES_EREFUSED: Outcome.REFUSED,
    pycares.errno.ARES_ETIMEOUT: Outcome.TIMEOUT,
}


async def ask_all(
    questions: list[DomainQuestions], nameserver: str, concurrency: int, timeout: float, client: str
) -> Counter[str]:
    settings = ResolverSettings(
        nameservers=(nameserver,), timeout=timeout, tries=1, concurrency=concurrency
    )
    outcomes: Counter[str] = Counter()
    if client == "pool":
        async with ResolverPool(settings) as pool:
            await _domains(questions, concurrency, _pool_asker(pool, outcomes))
        return outcomes
    if client == "dnspython":
        await _domains(questions, concurrency, _dnspython_asker(settings, outcomes))
        return outcomes
    channel = aiodns.DNSResolver(
        nameservers=list(settings.nameservers),
        loop=asyncio.get_running_loop(),
        flags=pycares.ARES_FLAG_EDNS,  # c-ares' default, lost when flags are given
        timeout=settings.timeout,
        tries=1,
    )
    gate = asyncio.Semaphore(concurrency)

    async def ask(name: str) -> None:
        async with gate:
            try:
                await channel.query_dns(name, "TXT")
            except aiodns.error.DNSError as exc:
                outcomes[str(_CARES_OUTCOMES.get(exc.args[0], Outcome.ERROR))] += 1
            else:
                outcomes["ok"] += 1

    await _domains(questions, concurrency, ask)
    await channel.close()
    return outcomes


def _dnspython_asker(settings: ResolverSettings, outcomes: Counter[str]) -> Any:
    host, port = settings.nameservers[0].rsplit(":", 1)
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [host.strip("[]")]
    resolver.port = int(port)
    resolver.timeout = resolver.lifetime = settings.timeout  # one try
    resolver.use_edns(0, 0, 1232)
    resolver.cache = None

    async def ask(name: str) -> None:
        try:
            answer = await resolver.resolve(name, "TXT", search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            outcomes["nxdomain"] += 1
        except dns.exception.Timeout:
            outcomes["timeout"] += 1
        except dns.resolver.NoNameservers:  # SERVFAIL, REFUSED, …: the only server failed
            outcomes["servfail"] += 1
        except dns.exception.DNSException:
            outcomes["error"] += 1
        else:
            outcomes["ok" if answer.rrset is not None else "nodata"] += 1

    return ask


def _pool_asker(pool: ResolverPool, outcomes: Counter[str]) -> Any:
    async def ask(name: str) -> None:
        answer = await pool.txt(name)
        outcomes[str(answer.outcome)] += 1

    return ask


async def _domains(questions: list[DomainQuestions], concurrency: int, ask: Any) -> None:
    """The scan's phases per domain, `concurrency` domains' questions at a time at most."""

    async def domain_worker(todo: list[DomainQuestions]) -> None:
        while todo:
            item = todo.pop()
            await asyncio.gather(*(ask(name) for name in item.first))
            if item.org_question:
                await ask(item.org_question)
            if item.report_auth:
                await asyncio.gather(*(ask(name) for name in item.report_auth))

    todo = list(reversed(questions))
    await asyncio.gather(*(domain_worker(todo) for _ in range(max(1, concurrency // 2))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--nameserver", required=True)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--client", choices=("aiodns", "pool", "dnspython"), default="aiodns")
    args = parser.parse_args()
    questions = read_questions(args.questions)
    began = time.monotonic()
    outcomes = run(ask_all(questions, args.nameserver, args.concurrency, args.timeout, args.client))
    elapsed = time.monotonic() - began
    write_json(
        args.result,
        {
            "domains": len(questions),
            "questions": sum(len(q.all()) for q in questions),
            "elapsed": elapsed,
            "outcomes": dict(outcomes),
            "client": args.client,
            "pycares": pycares.__version__,
            "aiodns": aiodns.__version__,
            "dnspython": dns.version.version,
        },
    )


if __name__ == "__main__":
    main()
