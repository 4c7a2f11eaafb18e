"""``RateLimiter``: a token bucket in process memory (``RedisRateLimiter`` shares one across processes)."""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import ConfigurationError, RateLimitExceeded
from maestro_resilience._policy import Policy, check_seconds

__all__ = ["RateLimiter"]

P = ParamSpec("P")
R = TypeVar("R")


class RateLimiter(Policy):
    """Allow ``rate`` calls per ``per`` seconds with bursts up to ``burst`` (a token bucket, computed as GCRA).

    A caller that would exceed the rate waits for its permit when that wait is at most ``max_wait``
    (the permit is reserved, so waiters are served in order); otherwise it gets
    ``RateLimitExceeded`` at once with the expected ``retry_after``.

    Args:
        rate: permits per ``per`` seconds (> 0).
        per: the period in seconds (> 0).
        burst: bucket capacity (defaults to ``max(1, rate)``).
        max_wait: seconds a caller may wait for a permit (>= 0).

    Examples:
        >>> from maestro_resilience import RateLimiter
        >>> from maestro_resilience.testing import FakeClock
        >>> clock = FakeClock()
        >>> limiter = RateLimiter(10, per=1.0, burst=1, max_wait=1.0, clock=clock)
        >>> for _ in range(3):
        ...     with limiter:  # the 2nd and 3rd callers wait their turn
        ...         pass
        >>> [round(seconds, 3) for seconds in clock.sleeps]
        [0.1, 0.1]
    """

    def __init__(
        self,
        rate: float,
        per: float = 1.0,
        burst: int | None = None,
        *,
        max_wait: float = 0.0,
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        for pname, value in (("rate", rate), ("per", per)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not value > 0
                or not math.isfinite(value)
            ):
                raise ConfigurationError(f"{pname} must be a finite number > 0, got {value!r}")
        if burst is None:
            burst = max(1, int(rate))
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigurationError(f"burst must be an int >= 1, got {burst!r}")
        check_seconds("max_wait", max_wait)
        self.rate = float(rate)
        self.per = float(per)
        self.burst = burst
        self.max_wait = float(max_wait)
        self._interval = self.per / self.rate  # seconds per permit
        self._tolerance = (burst - 1) * self._interval  # how far ahead of now the schedule may run
        self._lock = threading.Lock()
        self._tat = clock.monotonic()  # GCRA: theoretical arrival time of the next permit

    @property
    def available_permits(self) -> int:
        """Permits a caller could take right now without waiting (0 to ``burst``).

        Examples:
            >>> from maestro_resilience import RateLimiter
            >>> from maestro_resilience.testing import FakeClock
            >>> clock = FakeClock()
            >>> limiter = RateLimiter(2, per=1.0, burst=4, clock=clock)
            >>> limiter.available_permits
            4
            >>> for _ in range(3):
            ...     limiter.acquire()
            >>> limiter.available_permits
            1
            >>> clock.advance(0.5)  # one permit back every half second
            >>> limiter.available_permits
            2
        """
        with self._lock:
            now = self.clock.monotonic()
            ahead = max(self._tat, now) - now  # how far the schedule runs ahead of now
        permits = math.floor((self._tolerance - ahead) / self._interval + 1e-9) + 1
        return max(0, min(self.burst, permits))

    def reserve(self) -> float:
        """Take a permit now; return how long to wait before using it (raises when over ``max_wait``)."""
        with self._lock:
            now = self.clock.monotonic()
            tat = max(self._tat, now)
            wait = tat - self._tolerance - now
            if wait <= 0.0:
                self._tat = tat + self._interval
                return 0.0
            if wait <= self.max_wait:
                self._tat = tat + self._interval  # reserved: later callers wait longer
                return wait
        emit(self.listeners, self.name, "rejected", retry_after=round(wait, 6))
        raise RateLimitExceeded(self.name, wait)

    def acquire(self) -> None:
        """Take a permit, sleeping up to ``max_wait`` (threads)."""
        wait = self.reserve()
        if wait > 0:
            self.clock.sleep(wait)

    async def acquire_async(self) -> None:
        """Take a permit, suspending up to ``max_wait`` (asyncio)."""
        wait = self.reserve()
        if wait > 0:
            await self.clock.asleep(wait)

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        limiter = self
        lock = self._lock
        monotonic = self.clock.monotonic
        interval = self._interval
        tolerance = self._tolerance

        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            with lock:
                now = monotonic()
                tat = limiter._tat
                if tat < now:  # noqa: PLR1730 - max() would cost a builtin call on the hot path
                    tat = now
                taken = tat - tolerance <= now
                if taken:
                    limiter._tat = tat + interval
            if not taken:
                limiter.acquire()
            return fn(*args, **kwargs)

        return limited

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        limiter = self

        async def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            await limiter.acquire_async()
            return await fn(*args, **kwargs)

        return limited

    def __enter__(self) -> RateLimiter:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def __aenter__(self) -> RateLimiter:
        await self.acquire_async()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
