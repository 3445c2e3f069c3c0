"""Scanning in several processes: one per CPU, each with its own event loop, resolver pool
and domain scanner, so that the scan is not bound to the one core a Python process can use.

The parent reads the input, hands out whole chunks (part N is still chunk N), shows progress
and keeps the manifest; a worker scans the chunks it is given and writes their parts itself
(atomically, as a single process does). The user's `--concurrency` and `--qps` are totals:
each of the N workers gets 1/N of them.

The parent never lets a worker hold more than `chunks_in_flight` chunks, so memory stays
bounded by the chunk size. Stopping keeps the single-process guarantees:
- SIGINT/SIGTERM reach the parent (workers ignore SIGINT, which a terminal sends to the whole
  process group); it tells every worker to abort: chunks being asked are dropped, a part
  being written is finished whole.
- A worker that fails reports why and the parent stops the others and fails the run; a
  worker that dies without a word (SIGKILL, out of memory) fails it too.
- A parent killed with SIGKILL leaves orphans: each worker checks every second that its
  parent is alive and stops when it is not. Their parts are whole either way, and `--resume`
  scans whatever is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import queue
import signal
from dataclasses import replace
from multiprocessing.process import BaseProcess
from typing import Any

from survey.dns.loop import run
from survey.dns.pool import PoolCounts, ResolverPool
from survey.errors import SurveyError
from survey.input.stream import InputDomain
from survey.scan.runners import Chunks, OnChunk, RunnerOutcome, RunnerSetup, share
from survey.scan.scanner import DomainScanner, WalkCounts, scan_part
from survey.scan.spf_tree import SpfCounts
from survey.scan.tuning import system_memory_pool, tuned_collector
from survey.store.snapshot import SnapshotWriter, arrow_without_pandas
from survey.verdict import psl

__all__ = ["ProcessRunner"]

POLL = 0.2  # seconds between looks at the stop flag and the workers' health
PARENT_CHECK = 1.0  # seconds between a worker's looks at its parent
JOIN_TIMEOUT = 30.0


class ProcessRunner:
    """The chunks scanned in `workers` spawned processes, each given 1/N of the totals."""

    def __init__(self, setup: RunnerSetup, workers: int) -> None:
        self.setup = replace(setup, settings=share(setup.settings, workers))
        self.workers = workers

    def check(self) -> None:
        pass  # spawning is checked by starting the workers

    def describe(self) -> dict[str, Any]:
        return {"kind": "processes", "workers": self.workers}

    async def run(self, chunks: Chunks, on_chunk: OnChunk, stop: asyncio.Event) -> RunnerOutcome:
        """`on_chunk(domains, types)` is called in the parent as each part is written."""
        context = mp.get_context("spawn")  # not fork: the parent runs an event loop and threads
        outbox: Any = context.Queue()
        inboxes: list[Any] = [context.Queue() for _ in range(self.workers)]
        processes: list[BaseProcess] = [
            context.Process(
                target=_worker_main,
                args=(self.setup, inboxes[i], outbox, i, os.getpid()),
                name=f"survey-worker-{i}",
            )
            for i in range(self.workers)
        ]
        for process in processes:
            process.start()
        parent = _Parent(self.setup, inboxes, outbox, processes, on_chunk, stop)
        try:
            completed = await parent.drive(chunks)
        finally:
            parent.shut_down()
        return RunnerOutcome(completed, parent.counts, parent.walk, parent.spf)


# -- the parent ------------------------------------------------------------------------------


class _Parent:
    def __init__(
        self,
        setup: RunnerSetup,
        inboxes: list[Any],
        outbox: Any,
        processes: list[BaseProcess],
        on_chunk: OnChunk,
        stop: asyncio.Event,
    ) -> None:
        self.setup = setup
        self.inboxes = inboxes
        self.outbox = outbox
        self.processes = processes
        self.on_chunk = on_chunk
        self.stop = stop
        self.holding = [0] * len(processes)  # chunks handed to each worker, not yet written
        self.reported: set[int] = set()  # workers that sent their final counts
        self.counts = PoolCounts()
        self.walk = WalkCounts()
        self.spf = SpfCounts(enabled=setup.spf_eval)

    async def drive(self, chunks: Any) -> bool:
        loop = asyncio.get_running_loop()
        exhausted = False
        while True:
            if self.stop.is_set():
                await self._finish(loop, "abort")
                return False
            if not exhausted:
                exhausted = self._hand_out(chunks)
            if exhausted and not any(self.holding):
                await self._finish(loop, "end")
                return not self.stop.is_set()
            await self._receive(loop)

    def _hand_out(self, chunks: Any) -> bool:
        """Give every worker chunks up to its limit; True once the input is exhausted."""
        for worker, inbox in enumerate(self.inboxes):
            while self.holding[worker] < self.setup.chunks_in_flight:
                item = next(chunks, None)
                if item is None:
                    return True
                inbox.put(("chunk", *item))
                self.holding[worker] += 1
        return False

    async def _receive(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for one message (or POLL seconds) and act on it; check the workers' health."""
        try:
            message = await loop.run_in_executor(None, self.outbox.get, True, POLL)
        except queue.Empty:
            self._check_alive()
            return
        kind, worker, *rest = message
        if kind == "done":
            domains, types = rest
            self.holding[worker] -= 1
            self.on_chunk(domains, types)
        elif kind == "counts":
            self.counts = self.counts + rest[0]
            self.walk = self.walk + rest[1]
            self.spf = self.spf + rest[2]
            self.reported.add(worker)
        elif kind == "failed":
            raise SurveyError(f"scan worker {worker}: {rest[0]}")

    def _check_alive(self) -> None:
        for worker, process in enumerate(self.processes):
            if process.exitcode is not None and worker not in self.reported:
                raise SurveyError(
                    f"scan worker {worker} died (exit code {process.exitcode}) before its end"
                )

    async def _finish(self, loop: asyncio.AbstractEventLoop, how: str) -> None:
        """Tell every worker to end (`end`: after its chunks; `abort`: now) and collect the
        last parts and counts."""
        for inbox in self.inboxes:
            inbox.put((how,))
        while len(self.reported) < len(self.processes):
            if how == "end" and self.stop.is_set():  # a signal while the last chunks finish
                how = "abort"
                for inbox in self.inboxes:
                    inbox.put((how,))
            await self._receive(loop)

    def shut_down(self) -> None:
        for inbox in self.inboxes:
            with contextlib.suppress(Exception):
                inbox.put(("abort",))
        for process in self.processes:
            process.join(JOIN_TIMEOUT)
            if process.exitcode is None:
                process.kill()
                process.join()
        for box in (*self.inboxes, self.outbox):
            box.close()
            box.cancel_join_thread()


# -- a worker --------------------------------------------------------------------------------


def _worker_main(setup: RunnerSetup, inbox: Any, outbox: Any, worker: int, parent: int) -> None:
    """A worker process. `parent` is the parent's PID as the parent saw it: a worker that
    starts after its parent died (SIGKILL during the spawn) must not take init for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the scan stops
    arrow_without_pandas()  # a worker writes parts and never needs pandas
    try:
        with tuned_collector(), system_memory_pool():
            counts, walk, spf = run(_Worker(setup, inbox, outbox, worker, parent).serve())
    except BaseException as exc:  # told to the parent, then the process ends
        outbox.put(("failed", worker, _why(exc)))
        _leave(outbox, parent)
        raise SystemExit(1) from None
    outbox.put(("counts", worker, counts, walk, spf))
    _leave(outbox, parent)


def _why(exc: BaseException) -> str:
    """A failure as the parent will say it: our own errors speak for themselves."""
    return str(exc) if isinstance(exc, SurveyError) else f"{type(exc).__name__}: {exc}"


def _leave(outbox: Any, parent: int) -> None:
    """An orphan must not wait at exit to flush messages nobody will read."""
    if os.getppid() != parent:
        outbox.cancel_join_thread()


class _Worker:
    def __init__(
        self, setup: RunnerSetup, inbox: Any, outbox: Any, worker: int, parent: int
    ) -> None:
        self.setup = setup
        self.inbox = inbox
        self.outbox = outbox
        self.worker = worker
        self.parent = parent

    async def serve(self) -> tuple[PoolCounts, WalkCounts, SpfCounts]:
        if self.setup.psl_path is not None:
            psl.load(self.setup.psl_path)
        writer = SnapshotWriter(self.setup.folder)
        loop = asyncio.get_running_loop()
        running: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []
        async with ResolverPool(self.setup.settings) as pool:
            setup = self.setup
            scanner = DomainScanner.standard(
                pool, setup.report_auth, setup.dkim, spf_eval=setup.spf_eval
            )
            while True:
                message = await loop.run_in_executor(None, self._next_message)
                if failures:
                    raise failures[0]
                if message[0] == "chunk":
                    task = asyncio.create_task(self._chunk(scanner, writer, *message[1:]))
                    running.add(task)
                    task.add_done_callback(lambda t: self._ended(t, running, failures))
                    continue
                # "end": finish the chunks held; "abort": drop them (a part being written is
                # finished whole by write_part_whole)
                if message[0] == "abort":
                    for task in running:
                        task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                if failures:
                    raise failures[0]
                return pool.counts(), scanner.walk_counts, scanner.spf_counts

    def _next_message(self) -> tuple[Any, ...]:
        while True:
            try:
                return self.inbox.get(True, PARENT_CHECK)  # type: ignore[no-any-return,unused-ignore]
            except queue.Empty:
                if os.getppid() != self.parent:  # the parent died: nobody needs our parts
                    return ("abort",)

    def _ended(
        self,
        task: asyncio.Task[None],
        running: set[asyncio.Task[None]],
        failures: list[BaseException],
    ) -> None:
        running.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        failures.append(exc)  # type: ignore[arg-type]
        # Said at once: the parent may hand out nothing more that would wake this worker.
        self.outbox.put(("failed", self.worker, _why(exc)))  # type: ignore[arg-type]

    async def _chunk(
        self, scanner: DomainScanner, writer: SnapshotWriter, index: int, chunk: list[InputDomain]
    ) -> None:
        types = await scan_part(scanner, writer, index, chunk, self.setup.settings.concurrency)
        self.outbox.put(("done", self.worker, len(chunk), types))
