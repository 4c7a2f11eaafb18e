"""``Chaos``: opt-in fault and latency injection for resilience drills."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import ChaosFault, ConfigurationError
from maestro_resilience._policy import Policy

__all__ = ["Chaos"]

P = ParamSpec("P")
R = TypeVar("R")


class Chaos(Policy):
    """Inject faults and latency into a fraction of calls (off unless ``enabled``).

    Args:
        fault_rate: fraction of calls that raise ``fault`` instead of running, in [0, 1].
        fault: an exception class or factory returning the exception (default ``ChaosFault``).
        latency: seconds of delay added to a fraction of calls.
        latency_rate: fraction of calls delayed, in [0, 1].
        enabled: master switch (also settable later: ``chaos.enabled = False``).
        seed: seed for a reproducible drill.

    Examples:
        >>> from maestro_resilience import Chaos, ChaosFault
        >>> from maestro_resilience.testing import FakeClock
        >>> clock = FakeClock()
        >>> drill = Chaos(fault_rate=1.0, latency=0.2, latency_rate=1.0, clock=clock)
        >>> try:
        ...     drill.call(print, "never printed")
        ... except ChaosFault:
        ...     print("fault injected after", clock.sleeps)
        fault injected after [0.2]
        >>> drill.enabled = False  # the drill is over
        >>> drill.call(sum, [1, 2])
        3
    """

    def __init__(
        self,
        *,
        fault_rate: float = 0.0,
        fault: Callable[[], BaseException] = ChaosFault,
        latency: float = 0.0,
        latency_rate: float = 0.0,
        enabled: bool = True,
        seed: int | None = None,
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        for pname, value in (("fault_rate", fault_rate), ("latency_rate", latency_rate)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value <= 1
                or not math.isfinite(value)
            ):
                raise ConfigurationError(f"{pname} must be a finite number in [0, 1], got {value!r}")
        if (
            isinstance(latency, bool)
            or not isinstance(latency, int | float)
            or latency < 0
            or not math.isfinite(latency)
        ):
            raise ConfigurationError(f"latency must be a finite number of seconds >= 0, got {latency!r}")
        if not callable(fault):
            raise ConfigurationError(f"fault must be an exception class or factory, got {fault!r}")
        self.fault_rate = float(fault_rate)
        self.fault = fault
        self.latency = float(latency)
        self.latency_rate = float(latency_rate)
        self.enabled = bool(enabled)
        import random  # noqa: PLC0415 - only drills pay for it

        self._random = random.Random(seed)  # noqa: S311 - drills need reproducibility, not secrecy

    def _decide(self) -> tuple[float, BaseException | None]:
        if not self.enabled:
            return 0.0, None
        delay = self.latency if self.latency and self._random.random() < self.latency_rate else 0.0
        error = self.fault() if self.fault_rate and self._random.random() < self.fault_rate else None
        if delay or error is not None:
            emit(self.listeners, self.name, "chaos", latency=delay, fault=None if error is None else repr(error))
        return delay, error

    def inject(self) -> None:
        """Apply the drill once (sleep and/or raise), as before a call."""
        delay, error = self._decide()
        if delay:
            self.clock.sleep(delay)
        if error is not None:
            raise error

    async def inject_async(self) -> None:
        """Apply the drill once without blocking the event loop."""
        delay, error = self._decide()
        if delay:
            await self.clock.asleep(delay)
        if error is not None:
            raise error

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        chaos = self

        def drilled(*args: P.args, **kwargs: P.kwargs) -> R:
            chaos.inject()
            return fn(*args, **kwargs)

        return drilled

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        chaos = self

        async def drilled(*args: P.args, **kwargs: P.kwargs) -> R:
            await chaos.inject_async()
            return await fn(*args, **kwargs)

        return drilled

    def __enter__(self) -> Chaos:
        self.inject()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def __aenter__(self) -> Chaos:
        await self.inject_async()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
