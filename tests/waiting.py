"""Wait on a condition, never for a fixed time: a slow machine makes a test slower, not red.

Tests that wait for background work (a writer thread, a server, a subprocess) poll the
condition itself with these, bounded by a generous deadline that only a real hang reaches.

Examples:
    >>> import threading
    >>> done = threading.Event()
    >>> threading.Timer(0.01, done.set).start()
    >>> wait_until(done.is_set, what="the timer fired")
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

#: Long enough that only a hang reaches it on a loaded 2-core CI machine.
DEADLINE = 60.0


def wait_until(
    condition: Callable[[], object], *, what: str = "the condition", timeout: float = DEADLINE, interval: float = 0.002
) -> None:
    """Return as soon as ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(interval)


async def async_wait_until(
    condition: Callable[[], object | Awaitable[object]],
    *,
    what: str = "the condition",
    timeout: float = DEADLINE,
    interval: float = 0.002,
) -> None:
    """``wait_until`` for asyncio: ``condition`` may be a plain or an async callable."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        await asyncio.sleep(interval)
