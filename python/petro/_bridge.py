"""Await a native task on the running asyncio loop (see ``src/python/bridge.rs``).

The Rust side runs the work on petro's tokio runtime; one dispatcher thread per
process hands each result to the loop with ``loop.call_soon_threadsafe(on_done,
ok, value)``. Cancelling the awaiting task aborts the Rust future, which closes
its connection.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
from collections.abc import Callable
from typing import Any

from . import _core

__all__ = ["run_native"]

# The dispatcher thread must be done before the interpreter starts finalizing: a
# thread that takes the GIL after that is stopped mid-call and crashes the process.
atexit.register(_core.shutdown_dispatcher)


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Settle ``future`` on its loop's thread, unless it was cancelled meanwhile."""
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _resolve_all(items: list[tuple[Callable[[bool, Any], None], bool, Any]]) -> None:
    """Deliver a burst of results the dispatcher collected (one loop wake-up for all)."""
    for on_done, ok, value in items:
        on_done(ok, value)


async def run_native(start: Callable[[Any, Callable[[bool, Any], None]], Any]) -> Any:
    """Start a native task with ``start(loop, on_done)`` and await its result.

    Args:
        start: a bound native method such as ``session.request_async``'s partial; it
            returns a ``TaskHandle``.

    Returns:
        What the native task produced.

    Raises:
        Whatever exception the native task produced; ``CancelledError`` on cancellation
        (the native task is aborted then).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    handle = start(loop, functools.partial(_resolve, future))
    # AsyncSession.request repeats these lines inline (hot path): keep them in step.
    try:
        return await future
    except asyncio.CancelledError:
        # The awaiting task was cancelled. (Not a done-callback on the future:
        # asyncio runs those through loop.call_soon, one more loop turn per result.)
        handle.abort()
        raise
