"""Events: every policy's listeners and the global ones, the default logging listener, listener failures."""

from __future__ import annotations

import asyncio
import logging

import pytest

from maestro_resilience import (
    Bulkhead,
    BulkheadFullError,
    CircuitBreaker,
    CircuitState,
    Consecutive,
    Event,
    Fallback,
    Pipeline,
    Timeout,
    add_global_listener,
    remove_global_listener,
)
from maestro_resilience.testing import capture_events
from tests.resilience.support import LONG


def test_logging_listener_and_global_listeners(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Event] = []
    add_global_listener(seen.append)
    try:
        breaker = CircuitBreaker("logged", window=Consecutive(1))
        with caplog.at_level(logging.WARNING, logger="maestro_resilience"), pytest.raises(ZeroDivisionError):
            breaker.call(lambda: 1 / 0)
    finally:
        remove_global_listener(seen.append)
    assert "logged state_change old='closed' new='open'" in caplog.text
    assert [e.kind for e in seen] == ["state_change"]


def test_failing_listener_does_not_break_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    breaker = CircuitBreaker(window=Consecutive(1), listeners=[broken])
    with pytest.raises(ZeroDivisionError):
        breaker.call(lambda: 1 / 0)
    assert breaker.state is CircuitState.OPEN
    assert "listener bug" in caplog.text


@pytest.mark.timing
async def test_timeout_fallback_and_bulkhead_events() -> None:
    async def slow() -> None:
        await asyncio.sleep(LONG)

    with capture_events() as events:
        assert await Pipeline(Fallback("late", name="fb"), Timeout(0.01, name="to")).call_async(slow) == "late"
        bulkhead = Bulkhead(1, name="bh")
        async with bulkhead:
            with pytest.raises(BulkheadFullError):
                await bulkhead.call_async(slow)
    assert [(e.policy, e.kind) for e in events] == [("to", "timeout"), ("fb", "fallback"), ("bh", "rejected")]
    assert events[1].detail["error"].startswith("TimeoutExceeded")
