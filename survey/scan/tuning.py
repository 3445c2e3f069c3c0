"""Process settings for the length of a scan: the garbage collector and Arrow's allocator.

Both are restored on exit, so a notebook calling `run_scan` keeps its own settings afterwards.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

import pyarrow as pa

# The cyclic garbage collector's thresholds for a scan (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


@contextlib.contextmanager
def system_memory_pool() -> Iterator[None]:
    """Arrow's buffers from the C library's malloc instead of its bundled jemalloc, which
    keeps freed pages for a while, so a worker's peak grows with it (README, Benchmark).
    Restored on exit."""
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


@contextlib.contextmanager
def tuned_collector() -> Iterator[None]:
    """Keep the garbage collector from rescanning a growing heap of live verdicts.

    A chunk's answers and verdicts stay alive until its part is written, and every full
    collection walks all of them; the objects alive at the start are frozen out of the
    collector's sight and the thresholds raised (the gain is in the README's Benchmark).
    Reference counting still frees almost everything at once; full collections still run, only
    far less often, so cyclic garbage stays bounded. Restored on exit."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


class _Shared:
    """The scans running in this process under `shared_tuning`, and the settings they hold."""

    lock = threading.Lock()
    users = 0
    held: contextlib.ExitStack | None = None


@contextlib.contextmanager
def shared_tuning() -> Iterator[None]:
    """Both settings above, for scans that run in threads of a process the survey does not own
    (a Dask worker scans one chunk per thread, several at once): both are process-wide, so they
    are set when the first scan starts and restored when the last one ends, never under a scan
    still running in another thread."""
    with _Shared.lock:
        if _Shared.users == 0:
            with contextlib.ExitStack() as stack:
                stack.enter_context(tuned_collector())
                stack.enter_context(system_memory_pool())
                _Shared.held = stack.pop_all()
        _Shared.users += 1
    try:
        yield
    finally:
        with _Shared.lock:
            _Shared.users -= 1
            if _Shared.users == 0 and _Shared.held is not None:
                _Shared.held.close()
                _Shared.held = None
