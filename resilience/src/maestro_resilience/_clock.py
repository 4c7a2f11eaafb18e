"""Injectable time: a clock is where every policy reads time and sleeps."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What policies need from time: a monotonic reading and two ways to sleep.

    Examples:
        >>> from maestro_resilience import Clock, SystemClock
        >>> from maestro_resilience.testing import FakeClock
        >>> isinstance(SystemClock(), Clock), isinstance(FakeClock(), Clock)
        (True, True)
    """

    def monotonic(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the current thread for ``seconds``."""
        ...

    async def asleep(self, seconds: float) -> None:
        """Suspend the current task for ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic``, ``time.sleep`` and ``asyncio.sleep``.

    Examples:
        >>> from maestro_resilience import SystemClock
        >>> clock = SystemClock()
        >>> before = clock.monotonic()
        >>> clock.sleep(0.001)
        >>> clock.monotonic() > before
        True
    """

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    async def asleep(self, seconds: float) -> None:
        """Suspend the current task for ``seconds`` (``asyncio.sleep``)."""
        import asyncio  # noqa: PLC0415

        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class _Switches:
    """Process-wide switches flipped by ``maestro_resilience.testing``."""

    no_wait: bool = False


SWITCHES = _Switches()
