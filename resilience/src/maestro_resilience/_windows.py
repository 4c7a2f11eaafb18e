"""Failure-counting windows of the circuit breaker: small immutable specs, each making its own state.

A window spec (``Consecutive``, ``CountWindow``, ``TimeWindow``) is configuration; the breaker asks it
for a fresh mutable ``_WindowState`` whenever it closes. States are sans-IO: they are given the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from maestro_resilience._exceptions import ConfigurationError

__all__ = ["Consecutive", "CountWindow", "TimeWindow", "Window"]


def _check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigurationError(f"{name} must be a finite number in (0, 1], got {value!r}")
    return float(value)


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}")
    return value


def _check_duration(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or math.isinf(value):
        raise ConfigurationError(f"{name} must be a finite number of seconds > 0 (or None), got {value!r}")
    return float(value)


class _WindowState:
    """Mutable counters of one closed period.

    While ``clean`` (no failure, no slow call inside), the breaker records successes lock-free by
    bumping ``fast``: in an all-success ring buffer a success changes nothing but the call count.
    """

    __slots__ = ("calls", "cap", "clean", "fast")

    def __init__(self, cap: int) -> None:
        self.calls = 0  # outcomes recorded under the lock (capped at ``cap`` by count windows)
        self.cap = cap
        self.clean = True  # no failure and no slow call inside the window
        self.fast = 0  # successes recorded lock-free

    def record(self, failed: bool, slow: bool, now: float) -> bool:  # pragma: no cover - abstract
        """Record one outcome; True when the breaker must open."""
        raise NotImplementedError

    def snapshot(self, now: float) -> tuple[int, int, int]:  # pragma: no cover - abstract
        """``(calls, failures, slow_calls)`` currently inside the window."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Consecutive:
    """Open after ``failures`` consecutive failures (pybreaker's rule); any success resets the count.

    In half-open, one failed probe re-opens the breaker.

    Examples:
        >>> from maestro_resilience import CircuitBreaker, Consecutive
        >>> breaker = CircuitBreaker("search", window=Consecutive(2))
        >>> for fails in (True, False, True):  # the success in between resets the count
        ...     try:
        ...         breaker.call(lambda: 1 / 0 if fails else None)
        ...     except ZeroDivisionError:
        ...         pass
        >>> breaker.state
        <CircuitState.CLOSED: 'closed'>
    """

    failures: int = 5

    def __post_init__(self) -> None:
        _check_positive_int("Consecutive.failures", self.failures)

    @property
    def failure_rate_threshold(self) -> float:
        """A consecutive window trips on the first half-open failure: the threshold is any failure."""
        return 1e-9

    @property
    def slow_call_duration(self) -> float | None:
        """Consecutive windows do not track slow calls."""
        return None

    @property
    def slow_call_rate_threshold(self) -> float:
        """Consecutive windows do not track slow calls."""
        return 1.0

    def new_state(self) -> _ConsecutiveState:
        """A fresh counter."""
        return _ConsecutiveState(self.failures)


class _ConsecutiveState(_WindowState):
    __slots__ = ("failures", "limit")

    def __init__(self, limit: int) -> None:
        super().__init__(0)
        self.failures = 0
        self.limit = limit

    def record(self, failed: bool, slow: bool, now: float) -> bool:
        if failed:
            self.failures += 1
            self.clean = False
            return self.failures >= self.limit
        self.failures = 0
        self.clean = True
        return False

    def snapshot(self, now: float) -> tuple[int, int, int]:
        return (self.failures, self.failures, 0)


@dataclass(frozen=True, slots=True)
class CountWindow:
    """Failure rate over the last ``size`` calls (resilience4j's count-based sliding window).

    Args:
        size: number of most recent calls considered.
        failure_rate_threshold: open when failures / calls reaches this, in (0, 1].
        minimum_calls: no verdict before this many calls are in the window (defaults to ``size``).
        slow_call_duration: a call lasting at least this many seconds is slow (``None``: not tracked).
        slow_call_rate_threshold: open when slow calls / calls reaches this, in (0, 1].

    Examples:
        >>> from maestro_resilience import CircuitBreaker, CountWindow
        >>> breaker = CircuitBreaker("search", window=CountWindow(4, failure_rate_threshold=0.5))
        >>> for fails in (False, True, False, True):  # 2 failures among the last 4 calls: 50 %
        ...     try:
        ...         breaker.call(lambda: 1 / 0 if fails else None)
        ...     except ZeroDivisionError:
        ...         pass
        >>> breaker.state
        <CircuitState.OPEN: 'open'>
    """

    size: int = 100
    failure_rate_threshold: float = 0.5
    minimum_calls: int | None = None
    slow_call_duration: float | None = None
    slow_call_rate_threshold: float = 1.0

    def __post_init__(self) -> None:
        _check_positive_int("CountWindow.size", self.size)
        _check_rate("CountWindow.failure_rate_threshold", self.failure_rate_threshold)
        _check_rate("CountWindow.slow_call_rate_threshold", self.slow_call_rate_threshold)
        _check_duration("CountWindow.slow_call_duration", self.slow_call_duration)
        if self.minimum_calls is not None:
            _check_positive_int("CountWindow.minimum_calls", self.minimum_calls)
            if self.minimum_calls > self.size:
                raise ConfigurationError(
                    f"CountWindow.minimum_calls must be <= size ({self.size}), got {self.minimum_calls}"
                )

    def new_state(self) -> _CountState:
        """An empty ring buffer."""
        minimum = self.size if self.minimum_calls is None else self.minimum_calls
        return _CountState(self.size, minimum, self.failure_rate_threshold, self.slow_call_rate_threshold)


class _CountState(_WindowState):
    __slots__ = ("buffer", "failures", "fthreshold", "index", "minimum", "slow", "sthreshold")

    def __init__(self, size: int, minimum: int, fthreshold: float, sthreshold: float) -> None:
        super().__init__(size)
        self.buffer = bytearray(size)  # bit 1: failed, bit 2: slow
        self.index = 0
        self.failures = 0
        self.slow = 0
        self.minimum = minimum
        self.fthreshold = fthreshold
        self.sthreshold = sthreshold

    def record(self, failed: bool, slow: bool, now: float) -> bool:
        index = self.index
        old = self.buffer[index]
        if old & 1:
            self.failures -= 1
        if old & 2:
            self.slow -= 1
        new = (1 if failed else 0) | (2 if slow else 0)
        self.buffer[index] = new
        self.failures += new & 1
        self.slow += (new & 2) >> 1
        self.index = (index + 1) % self.cap
        self.calls += 1
        self.clean = not (self.failures or self.slow)
        calls = self.calls + self.fast
        calls = min(calls, self.cap)
        if calls < self.minimum or not new:
            return False
        return self.failures / calls >= self.fthreshold or self.slow / calls >= self.sthreshold

    def snapshot(self, now: float) -> tuple[int, int, int]:
        return (min(self.calls + self.fast, self.cap), self.failures, self.slow)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Failure rate over the calls of the last ``seconds`` (resilience4j's time-based sliding window).

    Args:
        seconds: length of the window; it is kept as ``buckets`` buckets of ``seconds / buckets`` each.
        failure_rate_threshold: open when failures / calls reaches this, in (0, 1].
        minimum_calls: no verdict before this many calls are in the window.
        slow_call_duration: a call lasting at least this many seconds is slow (``None``: not tracked).
        slow_call_rate_threshold: open when slow calls / calls reaches this, in (0, 1].
        buckets: resolution of the window.

    Examples:
        >>> from maestro_resilience import CircuitBreaker, TimeWindow
        >>> from maestro_resilience.testing import FakeClock
        >>> clock = FakeClock()
        >>> breaker = CircuitBreaker("search", window=TimeWindow(10, minimum_calls=2), clock=clock)
        >>> def down() -> None:
        ...     raise ConnectionError("search down")
        >>> for _ in range(2):
        ...     try:
        ...         breaker.call(down)
        ...     except ConnectionError:
        ...         pass
        ...     clock.advance(11)  # each failure has left the 10 s window before the next
        >>> breaker.state  # never two calls in one window: below minimum_calls
        <CircuitState.CLOSED: 'closed'>
    """

    seconds: float = 60.0
    failure_rate_threshold: float = 0.5
    minimum_calls: int = 10
    slow_call_duration: float | None = None
    slow_call_rate_threshold: float = 1.0
    buckets: int = 10

    def __post_init__(self) -> None:
        _check_duration("TimeWindow.seconds", self.seconds)
        _check_rate("TimeWindow.failure_rate_threshold", self.failure_rate_threshold)
        _check_rate("TimeWindow.slow_call_rate_threshold", self.slow_call_rate_threshold)
        _check_duration("TimeWindow.slow_call_duration", self.slow_call_duration)
        _check_positive_int("TimeWindow.minimum_calls", self.minimum_calls)
        _check_positive_int("TimeWindow.buckets", self.buckets)

    def new_state(self) -> _TimeState:
        """Empty buckets."""
        return _TimeState(self)


class _TimeState(_WindowState):
    __slots__ = ("buckets", "epoch", "spec", "width")

    def __init__(self, spec: TimeWindow) -> None:
        super().__init__(0)
        self.clean = False  # never lock-free: every outcome, successes included, needs its bucket
        self.spec = spec
        self.width = spec.seconds / spec.buckets
        self.buckets: list[list[int]] = [[0, 0, 0] for _ in range(spec.buckets)]  # calls, failures, slow
        self.epoch = [-1] * spec.buckets

    def _totals(self, now: float) -> tuple[int, int, int]:
        tick = int(now // self.width)
        n = self.spec.buckets
        calls = failures = slow = 0
        for i in range(n):
            if self.epoch[i] > tick - n:
                c, f, s = self.buckets[i]
                calls += c
                failures += f
                slow += s
        return calls, failures, slow

    def record(self, failed: bool, slow: bool, now: float) -> bool:
        tick = int(now // self.width)
        i = tick % self.spec.buckets
        bucket = self.buckets[i]
        if self.epoch[i] != tick:
            self.epoch[i] = tick
            bucket[0] = bucket[1] = bucket[2] = 0
        bucket[0] += 1
        bucket[1] += failed
        bucket[2] += slow
        calls, failures, slows = self._totals(now)
        self.calls = calls
        self.clean = False
        if calls < self.spec.minimum_calls or not (failed or slow):
            return False
        return (
            failures / calls >= self.spec.failure_rate_threshold or slows / calls >= self.spec.slow_call_rate_threshold
        )

    def snapshot(self, now: float) -> tuple[int, int, int]:
        return self._totals(now)


Window = Consecutive | CountWindow | TimeWindow
"""Any of the breaker's window specs."""
