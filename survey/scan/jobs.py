"""Running a scan's jobs: a bounded number at once, stopped cleanly by SIGINT/SIGTERM, and
parts written so that a signal never leaves one half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pyarrow as pa

from survey.errors import SnapshotError, SurveyError
from survey.store.snapshot import SnapshotWriter


class Stopper:
    """SIGINT and SIGTERM set `event` while installed on the running loop, so that a signal
    arriving at any point (even while a part is written) stops the run between two steps."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._installed = False

    def __enter__(self) -> Stopper:
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:  # signals reach the main thread only (a library caller's thread
            loop = asyncio.get_running_loop()  # keeps its own handling)
            for sig in self.SIGNALS:
                loop.add_signal_handler(sig, self.event.set)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            loop = asyncio.get_running_loop()
            for sig in self.SIGNALS:
                loop.remove_signal_handler(sig)

    @property
    def stopped(self) -> bool:
        return self.event.is_set()


Job = Callable[[], Awaitable[None]]


async def run_jobs(jobs: Iterable[Job | None], limit: int, stop: asyncio.Event) -> bool:
    """Run `jobs` (None entries are skipped) at most `limit` at once; False when `stop` was set.

    A job still running when `stop` is set is cancelled: its part is discarded whole."""
    pending: set[asyncio.Future[Any]] = set()
    stopper = asyncio.ensure_future(stop.wait())
    try:
        for job in jobs:
            if job is None:
                continue
            while len(pending) >= limit and not stop.is_set():
                pending = await _wait_one(pending, stopper)
            if stop.is_set():
                break
            pending.add(asyncio.ensure_future(job()))
        while pending and not stop.is_set():
            pending = await _wait_one(pending, stopper)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        stopper.cancel()
    return not stop.is_set()


async def _wait_one(
    pending: set[asyncio.Future[Any]], stopper: asyncio.Future[Any]
) -> set[asyncio.Future[Any]]:
    """Wait until a job ends (raising its failure) or the stop flag is set; the rest."""
    finished, rest = await asyncio.wait({*pending, stopper}, return_when=asyncio.FIRST_COMPLETED)
    rest.discard(stopper)
    for task in finished - {stopper}:
        task.result()
    return rest


async def write_part_whole(writer: SnapshotWriter, index: int, table: pa.Table) -> None:
    """Write part `index` in a worker thread. Once begun, the write is finished even if the
    caller is cancelled (a signal): the part then exists whole; it never exists half."""
    loop = asyncio.get_running_loop()
    write = loop.run_in_executor(None, _write_part, writer, index, table)
    try:
        await asyncio.shield(write)
    except asyncio.CancelledError:
        with contextlib.suppress(SurveyError):
            await write
        raise


def _write_part(writer: SnapshotWriter, index: int, table: pa.Table) -> None:
    try:
        writer.write_part(index, table)
    except OSError as exc:
        raise SnapshotError(
            f"cannot write part {index} of {writer.folder}: {exc.strerror or exc}"
        ) from exc
