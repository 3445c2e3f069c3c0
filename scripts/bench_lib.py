"""Shared pieces of the benchmark: measured child processes, medians, the question list.

Every client runs in a child process of its own so that its CPU time and peak RSS come from
the kernel (`wait4` rusage for CPU, /proc VmHWM for memory), never from the client's own
say-so. Rates are taken over the client's work only (it reports its elapsed seconds), so
interpreter start and imports do not count against anyone.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq

LOST_OUTCOMES = ("timeout", "error", "servfail", "refused")


@dataclass(slots=True)
class Measured:
    """One run of one client."""

    name: str
    domains: int
    questions: int
    elapsed: float  # seconds of work, as the client measured it
    cpu: float  # user + system seconds of the whole process (kernel rusage)
    peak_rss_mb: float  # VmHWM of the process (see PeakWatcher)
    outcomes: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def domains_per_s(self) -> float:
        return self.domains / self.elapsed if self.elapsed else 0.0

    @property
    def queries_per_s(self) -> float:
        return self.questions / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu / self.domains if self.domains else 0.0

    @property
    def lost(self) -> int:
        return sum(self.outcomes.get(k, 0) for k in LOST_OUTCOMES)


@dataclass(frozen=True, slots=True)
class Usage:
    wall: float
    cpu: float
    peak_rss_mb: float
    returncode: int
    rss_trace: tuple[tuple[float, float], ...] = ()
    hwm_sum_mb: float = 0.0  # each process's own peak, added up: an upper bound
    peak_pss_mb: float = 0.0  # the tree's largest summed PSS: shared pages counted once


def run_measured(
    argv: Sequence[str],
    log: IO[str] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Usage:
    """Run `argv` to its end (in `cwd`, when given); its own CPU seconds and peak RSS from the
    kernel."""
    began = time.monotonic()
    process = subprocess.Popen(list(argv), stdout=log, stderr=log, env=env, cwd=cwd)
    watcher = PeakWatcher(process.pid)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    watcher.stopped.set()
    watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Usage(
        wall=time.monotonic() - began,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=watcher.peak_kib / 1024,  # the process tree's, workers included
        hwm_sum_mb=watcher.hwm_sum_kib / 1024,
        peak_pss_mb=watcher.peak_pss_kib / 1024,
        returncode=process.returncode,
        rss_trace=tuple(watcher.trace),
    )


class PeakWatcher(threading.Thread):
    """The peak RSS of a child and of every process it starts (scan workers), from /proc.

    `peak_kib` is the largest sum of the tree's current RSS over the samples (every
    `interval` seconds): what the scan held at once. `hwm_sum_kib` adds each process's own
    high-water mark (`VmHWM`, exact per process): an upper bound, since the processes peak at
    different moments (the parent reads the parts back after its workers have ended).
    `trace` samples the tree's summed RSS. `peak_pss_kib` is the largest sum of the tree's
    proportional set size (`Pss` of /proc/PID/smaps_rollup, sampled every `pss_every` seconds: the
    kernel walks the page tables for it): the same memory with the pages the processes share
    (Python, numpy and Arrow libraries mapped by every worker) counted once, not once per process.

    Not `wait4`'s ru_maxrss: Linux carries the high-water mark of the address space a child had
    before `exec` into it, which after a fork is the benchmark's own (a parent holding the
    lab's expected verdicts: ~800 MB), so every client would seem at least that large."""

    def __init__(
        self, pid: int, interval: float = 0.1, trace_every: float = 5.0, pss_every: float = 1.0
    ) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.trace_every = pid, interval, trace_every
        self.pss_every = pss_every
        self.peak_pss_kib = 0
        self.trace: list[tuple[float, float]] = []  # (seconds, current RSS in MB)
        self.peaks: dict[int, int] = {}  # pid -> its VmHWM in KiB
        self.peak_kib = 0
        self.stopped = threading.Event()

    @property
    def hwm_sum_kib(self) -> int:
        return sum(self.peaks.values())

    def run(self) -> None:
        began = next_trace = next_pss = time.monotonic()
        while not self.stopped.is_set():
            total_rss = largest_hwm = 0
            tree = _tree(self.pid)
            if time.monotonic() >= next_pss:
                pss = sum(_proc_kib(pid, "smaps_rollup", "Pss")[0] for pid in tree)
                self.peak_pss_kib = max(self.peak_pss_kib, pss)
                next_pss += self.pss_every
            for pid in tree:
                hwm, rss = _proc_kib(pid, "status", "VmHWM", "VmRSS")
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
                total_rss += rss
                largest_hwm = max(largest_hwm, hwm)
            # The tree never held less than its largest process did (exact for one process).
            self.peak_kib = max(self.peak_kib, total_rss, largest_hwm)
            if total_rss and time.monotonic() >= next_trace:
                self.trace.append((time.monotonic() - began, total_rss / 1024))
                next_trace += self.trace_every
            self.stopped.wait(self.interval)


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc/PID/task/TID/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def _proc_kib(pid: int, name: str, *fields: str) -> list[int]:
    """`fields` (KiB) of /proc/PID/`name` (`status`, `smaps_rollup`), read once; 0 if gone."""
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return [0] * len(fields)
    found = (re.search("^" + field + r":\s+(\d+) kB", text, re.MULTILINE) for field in fields)
    return [int(match[1]) if match else 0 for match in found]


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def write_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the question list ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DomainQuestions:
    """The TXT questions `survey scan` asks for one domain, phase by phase (scan/scanner.py)."""

    domain: str
    org_question: str | None  # `_dmarc.<org>`, only where the scan asks it (first time a run)
    report_auth: tuple[str, ...]  # RFC 7489 §7.1 names

    @property
    def first(self) -> tuple[str, str]:
        return (f"_dmarc.{self.domain}", self.domain)

    def all(self) -> tuple[str, ...]:
        org = (self.org_question,) if self.org_question else ()
        return (*self.first, *org, *self.report_auth)


def questions_from_snapshot(parts: Path) -> Iterator[DomainQuestions]:
    """The questions a scan asked, read back from its verdicts (checked against the lab's
    expected verdicts first): the org question where `dmarc_org_lookup` is set, once per
    organizational domain as the scan's per-run cache does; §7.1 names for external hosts."""
    from survey.verdict import psl
    from survey.verdict.authorization import authorization_name, external_hosts

    columns = [
        "domain",
        "org_domain",
        "dmarc_org_lookup",
        "dmarc_source",
        "rua_hosts",
        "ruf_hosts",
    ]
    table = pq.read_table(parts, columns=columns)
    asked_orgs: set[str] = set()
    for row in table.to_pylist():
        org_question = None
        if row["dmarc_org_lookup"] is not None and row["org_domain"] not in asked_orgs:
            asked_orgs.add(row["org_domain"])
            org_question = f"_dmarc.{row['org_domain']}"
        policy_dom = row["org_domain"] if row["dmarc_source"] == "organizational" else row["domain"]
        hosts = dict.fromkeys([*row["rua_hosts"], *row["ruf_hosts"]])
        external = external_hosts(hosts, policy_dom, psl.organizational_domain)
        auth = tuple(authorization_name(policy_dom, host) for host in external)
        yield DomainQuestions(row["domain"], org_question, auth)


def write_questions(path: Path, questions: Iterator[DomainQuestions]) -> int:
    """One line per domain: domain TAB org question TAB §7.1 names (space separated)."""
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for item in questions:
            out.write(f"{item.domain}\t{item.org_question or ''}\t{' '.join(item.report_auth)}\n")
            count += len(item.all())
    return count


def read_questions(path: Path) -> list[DomainQuestions]:
    found = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            domain, org, auth = line.rstrip("\n").split("\t")
            found.append(DomainQuestions(domain, org or None, tuple(auth.split())))
    return found
