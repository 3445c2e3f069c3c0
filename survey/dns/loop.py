"""The event loop a scan runs on: uvloop when installed, else asyncio's own."""

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["EVENT_LOOP_VARIABLE", "run"]

T = TypeVar("T")

EVENT_LOOP_VARIABLE = "SURVEY_EVENT_LOOP"


def _uvloop() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion on a fresh event loop: uvloop when installed, else asyncio;
    `SURVEY_EVENT_LOOP=asyncio` asks for asyncio's own (the benchmark compares the two)."""
    uvloop = None if os.environ.get(EVENT_LOOP_VARIABLE) == "asyncio" else _uvloop()
    factory = uvloop.new_event_loop if uvloop else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
