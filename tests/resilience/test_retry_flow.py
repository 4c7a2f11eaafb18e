"""Retry's loop as a sans-IO flow of typed actions: the same decisions whatever drives them.

The flow is stepped here by hand, with no clock and no call: it says what to do (``DoSleep``,
``DoAttempt``) and ends with ``DoReturn`` or ``DoRaise``. The two drivers (blocking, asyncio) only
carry the actions out; they must give the same calls the same fate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import tenacity

from maestro_resilience import Retry
from maestro_resilience._retry_flow import DoAttempt, DoRaise, DoReturn, DoSleep, Flow
from maestro_resilience.testing import FakeClock

START = 1000.0  # FakeClock's start: a flow's start is when its first attempt began


def fixed(attempts: int = 3, **kwargs: Any) -> Retry:
    return Retry(attempts=attempts, wait=tenacity.wait_fixed(2), clock=FakeClock(START), **kwargs)


def finish(flow: Flow, value: Any) -> DoReturn | DoRaise:
    try:
        flow.send(value)
    except StopIteration as stop:
        done: DoReturn | DoRaise = stop.value
        return done
    raise AssertionError("the flow went on")


def test_a_failing_call_sleeps_attempts_then_gives_up_with_a_note() -> None:
    retry = fixed(attempts=2)
    first = ConnectionError("first")
    flow = retry._flow(None, (), {}, start=START, exc=first, result=None)
    assert next(flow) == DoSleep(2.0)
    assert flow.send(None) == DoAttempt()
    second = ConnectionError("second")
    done = finish(flow, (second, None))
    assert done == DoRaise(second)
    assert second.__notes__ == [f"maestro_resilience.Retry({retry.name!r}): gave up after 2 attempt(s)"]


def test_a_success_after_a_failure_ends_the_flow_with_its_value() -> None:
    flow = fixed()._flow(None, (), {}, start=START, exc=ConnectionError(), result=None)
    assert next(flow) == DoSleep(2.0)
    assert flow.send(None) == DoAttempt()
    assert finish(flow, (None, "ok")) == DoReturn("ok")


def test_an_error_that_is_not_retried_ends_the_flow_at_once_without_a_note() -> None:
    error = ValueError("bad input")
    flow = fixed(on=(ConnectionError,))._flow(None, (), {}, start=START, exc=error, result=None)
    with pytest.raises(StopIteration) as stop:
        next(flow)
    assert stop.value.value == DoRaise(error)
    assert not hasattr(error, "__notes__")


def test_results_are_judged_when_the_strategy_looks_at_them() -> None:
    retry = fixed(retry=tenacity.retry_if_result(lambda value: value is None))
    flow = retry._flow(None, (), {}, start=START, exc=None, result=None)
    assert next(flow) == DoSleep(2.0)
    assert flow.send(None) == DoAttempt()
    assert finish(flow, (None, 7)) == DoReturn(7)


def outcomes(*fates: Any) -> Any:
    """A function failing or returning, in turn, as ``fates`` say."""
    fates_left = list(fates)

    def call() -> Any:
        fate = fates_left.pop(0)
        if isinstance(fate, BaseException):
            raise fate
        return fate

    return call


@pytest.mark.parametrize(
    "fates",
    [
        (ConnectionError("a"), "done"),
        (ConnectionError("a"), ConnectionError("b"), ConnectionError("c")),
        (ConnectionError("a"), KeyError("k")),
    ],
)
def test_both_drivers_give_the_same_fate(fates: tuple[Any, ...]) -> None:
    clock = FakeClock()
    retry = Retry(attempts=3, on=(ConnectionError,), wait=tenacity.wait_fixed(1), clock=clock)
    sync_call = outcomes(*fates)

    def run_sync() -> Any:
        try:
            return ("returned", retry.call(sync_call))
        except Exception as exc:
            return ("raised", exc)

    async_fates = outcomes(*fates)

    async def async_call() -> Any:
        return async_fates()

    async def run_async() -> Any:
        try:
            return ("returned", await retry.call_async(async_call))
        except Exception as exc:
            return ("raised", exc)

    before = clock.monotonic()
    sync_fate = run_sync()
    slept = clock.monotonic() - before
    before = clock.monotonic()
    async_fate = asyncio.run(run_async())
    assert async_fate == sync_fate
    assert clock.monotonic() - before == slept


def test_a_stop_iteration_from_the_call_stays_a_stop_iteration() -> None:
    """A generator-based loop must not turn the call's StopIteration into RuntimeError (PEP 479)."""
    retry = Retry(attempts=2, clock=FakeClock())
    error = StopIteration("from the call")
    with pytest.raises(StopIteration) as info:
        retry.call(outcomes(ConnectionError(), error))
    assert info.value is error


def test_the_raised_error_keeps_its_own_context() -> None:
    """Raised by the driver after the flow ended, not inside its StopIteration handler."""
    retry = Retry(attempts=2, clock=FakeClock())
    first = ConnectionError("a")
    with pytest.raises(ConnectionError) as info:
        retry.call(outcomes(first, ConnectionError("b")))
    assert str(info.value) == "b"
    assert info.value.__context__ is first  # raised while the first was handled, as before; no StopIteration
