"""Retry's decisions as typed actions, and the two thin drivers that carry them out.

``Retry`` decides sans-IO (``Retry._decide``: after an outcome, ``DoSleep``, ``DoReturn`` or
``DoRaise``), as tenacity's ``DoAttempt``/``DoSleep``. A call's retry loop is one generator
(``Retry._flow``) that yields the I/O it needs, ``DoSleep(seconds)`` and ``DoAttempt()``, and
receives each attempt's outcome; it returns its final ``DoReturn``/``DoRaise``. ``drive_sync`` and
``drive_async`` run such a flow with a blocking or an asyncio sleep and call: the loop is written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

from maestro_resilience._clock import SWITCHES, Clock

__all__ = ["DoAttempt", "DoRaise", "DoReturn", "DoSleep", "Flow", "Outcome", "drive_async", "drive_sync"]


@dataclass(frozen=True, slots=True)
class DoAttempt:
    """Run the next attempt and send its ``Outcome`` back to the flow."""


@dataclass(frozen=True, slots=True)
class DoSleep:
    """Wait ``seconds`` before the next attempt (not at all under ``testing.no_wait()``)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class DoReturn:
    """Stop retrying: the call returns ``value``."""

    value: Any


@dataclass(frozen=True, slots=True)
class DoRaise:
    """Stop retrying: the call raises ``error``, an attempt's own exception."""

    error: BaseException


ATTEMPT = DoAttempt()

#: An attempt's outcome: ``(exception, None)`` or ``(None, result)``.
Outcome = tuple[BaseException | None, Any]
#: A retry loop, sans-IO: yields the I/O it needs, receives outcomes (``None`` after a sleep).
Flow = Generator[DoAttempt | DoSleep, Outcome | None, DoReturn | DoRaise]


def _finish(done: DoReturn | DoRaise) -> Any:
    """The call's end: return the value or raise the error."""
    if isinstance(done, DoRaise):
        raise done.error
    return done.value


def drive_sync(flow: Flow, fn: Callable[..., Any], args: Any, kwargs: Any, clock: Clock) -> Any:
    """Run ``flow`` with blocking sleeps and calls of ``fn(*args, **kwargs)``."""
    try:
        action = next(flow)
        while True:
            if isinstance(action, DoSleep):
                if action.seconds > 0 and not SWITCHES.no_wait:
                    clock.sleep(action.seconds)
                action = flow.send(None)
                continue
            try:
                outcome: Outcome = (None, fn(*args, **kwargs))
            except Exception as error:  # the flow judges it (BaseException is never retried)
                outcome = (error, None)
            action = flow.send(outcome)
    except StopIteration as stop:
        done = stop.value
    return _finish(done)  # outside the handler: the error keeps its own __context__


async def drive_async(flow: Flow, fn: Callable[..., Awaitable[Any]], args: Any, kwargs: Any, clock: Clock) -> Any:
    """Run ``flow`` with asyncio sleeps and awaits of ``fn(*args, **kwargs)``."""
    try:
        action = next(flow)
        while True:
            if isinstance(action, DoSleep):
                if action.seconds > 0 and not SWITCHES.no_wait:
                    await clock.asleep(action.seconds)
                action = flow.send(None)
                continue
            try:
                outcome: Outcome = (None, await fn(*args, **kwargs))
            except Exception as error:  # the flow judges it (BaseException is never retried)
                outcome = (error, None)
            action = flow.send(outcome)
    except StopIteration as stop:
        done = stop.value
    return _finish(done)  # outside the handler: the error keeps its own __context__
