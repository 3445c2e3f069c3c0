"""The floor: the questions `survey scan` asks, through a bare aiodns loop, nothing else.

Same channel settings as the survey's resolver pool (EDNS flag, timeout, tries=1, the same
event loop), the same phases per domain (the two first questions at once, then the
organizational fallback, then the RFC 7489 §7.1 names) and the same number of questions in
flight. No parsing, no classification, no retries, no output: what is left is the cost of
asking. Writes a JSON result (elapsed seconds, outcome counts).

    python scripts/bench_floor.py QUESTIONS RESULT --nameserver 127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import aiodns
import pycares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lib import DomainQuestions, read_questions, write_json

from survey.resolver import ResolverSettings, channel_options, outcome_of_errno, run


async def ask_all(
    questions: list[DomainQuestions], nameserver: str, concurrency: int, timeout: float
) -> Counter[str]:
    settings = ResolverSettings(nameservers=(nameserver,), timeout=timeout)
    channel = aiodns.DNSResolver(
        nameservers=list(settings.nameservers),
        loop=asyncio.get_running_loop(),
        **channel_options(settings),
    )
    outcomes: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)

    async def ask(name: str) -> None:
        async with gate:
            try:
                await channel.query_dns(name, "TXT")
            except aiodns.error.DNSError as exc:
                outcomes[str(outcome_of_errno(exc.args[0]))] += 1
            else:
                outcomes["ok"] += 1

    async def domain_worker(todo: list[DomainQuestions]) -> None:
        while todo:
            item = todo.pop()
            await asyncio.gather(*(ask(name) for name in item.first))
            if item.org_question:
                await ask(item.org_question)
            if item.report_auth:
                await asyncio.gather(*(ask(name) for name in item.report_auth))

    todo = list(reversed(questions))
    await asyncio.gather(*(domain_worker(todo) for _ in range(concurrency)))
    await channel.close()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--nameserver", required=True)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()
    questions = read_questions(args.questions)
    began = time.monotonic()
    outcomes = run(ask_all(questions, args.nameserver, args.concurrency, args.timeout))
    elapsed = time.monotonic() - began
    write_json(
        args.result,
        {
            "domains": len(questions),
            "questions": sum(len(q.all()) for q in questions),
            "elapsed": elapsed,
            "outcomes": dict(outcomes),
            "pycares": pycares.__version__,
            "aiodns": aiodns.__version__,
        },
    )


if __name__ == "__main__":
    main()
