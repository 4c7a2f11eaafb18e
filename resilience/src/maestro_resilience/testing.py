"""Helpers for testing code that uses maestro-resilience, without sleeping.

* :class:`FakeClock`: pass ``clock=FakeClock()`` to any policy; sleeps advance it instantly.
* :func:`no_wait`: retries (and rate-limiter waits of policies on the system clock) skip sleeping.
* :func:`force_state`: put a breaker in any state, including half-open.
* :func:`capture_events`: collect every event emitted inside a block.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from maestro_resilience._breaker import CircuitBreaker, CircuitState
from maestro_resilience._clock import SWITCHES
from maestro_resilience._events import Event, add_global_listener, remove_global_listener

__all__ = ["FakeClock", "capture_events", "force_state", "no_wait"]


class FakeClock:
    """A clock that only moves when told (``advance``) or when something sleeps on it.

    Attributes:
        now: the current reading in seconds.
        sleeps: every duration passed to ``sleep``/``asleep``, in order.

    Examples:
        >>> from maestro_resilience import CircuitBreaker, Consecutive
        >>> from maestro_resilience.testing import FakeClock
        >>> clock = FakeClock()
        >>> breaker = CircuitBreaker(window=Consecutive(1), open_duration=30, clock=clock)
        >>> try:
        ...     breaker.call(lambda: 1 / 0)
        ... except ZeroDivisionError:
        ...     pass
        >>> clock.advance(30)  # no sleeping
        >>> breaker.call(lambda: "probe")
        'probe'
        >>> clock.sleep(2.5)  # what a policy sleeping on it does: instant, recorded
        >>> clock.now, clock.sleeps
        (1032.5, [2.5])
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = float(start)
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        """The current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance time instantly."""
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    async def asleep(self, seconds: float) -> None:
        """Record the sleep, advance time and yield to the event loop once."""
        self.sleep(seconds)
        await asyncio.sleep(0)


@contextmanager
def no_wait() -> Iterator[None]:
    """Inside the block, ``Retry`` does not sleep between attempts (the waits are still computed).

    Examples:
        >>> from maestro_resilience import Retry
        >>> from maestro_resilience.testing import no_wait
        >>> attempts = []
        >>> def flaky() -> str:
        ...     attempts.append(1)
        ...     if len(attempts) < 3:
        ...         raise ConnectionError("reset by peer")
        ...     return "ok"
        >>> with no_wait():  # the default backoff is computed, not slept
        ...     Retry(attempts=3).call(flaky)
        'ok'
    """
    previous = SWITCHES.no_wait
    SWITCHES.no_wait = True
    try:
        yield
    finally:
        SWITCHES.no_wait = previous


def force_state(breaker: CircuitBreaker, state: CircuitState | str) -> None:
    """Put ``breaker`` in ``state``; ``half_open`` admits probes on the very next call.

    Examples:
        >>> from maestro_resilience import CircuitBreaker, CircuitOpenError
        >>> from maestro_resilience.testing import force_state
        >>> breaker = CircuitBreaker()
        >>> force_state(breaker, "open")
        >>> try:
        ...     breaker.call(print, "never printed")
        ... except CircuitOpenError as error:
        ...     print(error.state)
        open
        >>> force_state(breaker, "half_open")
        >>> breaker.call(lambda: "probe")  # the probe closes it
        'probe'
    """
    state = CircuitState(state)
    if state is CircuitState.HALF_OPEN:
        breaker.open()
        with breaker._lock:
            breaker._open_until = breaker.clock.monotonic()
        return
    {
        CircuitState.CLOSED: breaker.close,
        CircuitState.OPEN: breaker.open,
        CircuitState.FORCED_OPEN: breaker.force_open,
        CircuitState.DISABLED: breaker.disable,
        CircuitState.METRICS_ONLY: breaker.metrics_only,
    }[state]()


@contextmanager
def capture_events() -> Iterator[list[Event]]:
    """Collect every event emitted by any policy inside the block (the yielded list fills up).

    Examples:
        >>> from maestro_resilience import CircuitBreaker
        >>> from maestro_resilience.testing import capture_events, force_state
        >>> breaker = CircuitBreaker("db")
        >>> with capture_events() as events:
        ...     force_state(breaker, "forced_open")
        >>> [(event.policy, event.kind, event.detail["new"]) for event in events]
        [('db', 'state_change', 'forced_open')]
    """
    events: list[Event] = []
    add_global_listener(events.append)
    try:
        yield events
    finally:
        remove_global_listener(events.append)
