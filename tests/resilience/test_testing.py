"""maestro_resilience.testing: FakeClock, no_wait, force_state and capture_events."""

from __future__ import annotations

import pytest
import tenacity

from maestro_resilience import CircuitBreaker, CircuitOpenError, CircuitState, Consecutive, Retry
from maestro_resilience.testing import FakeClock, capture_events, force_state, no_wait


async def test_fake_clock() -> None:
    clock = FakeClock(0)
    clock.sleep(2)
    await clock.asleep(3)
    clock.advance(0.5)
    assert clock.monotonic() == 5.5
    assert clock.sleeps == [2, 3]
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(-1)


def test_no_wait_skips_retry_sleeps_on_the_system_clock() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError
        return "ok"

    with no_wait():  # an hour between attempts, computed and never slept
        assert Retry(attempts=3, wait=tenacity.wait_fixed(3600), deadline=None).call(flaky) == "ok"
    assert len(calls) == 3


def test_force_state_helper_and_rejection_events() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(1), half_open_max_calls=1, clock=clock)
    force_state(breaker, "half_open")
    assert breaker.state is CircuitState.HALF_OPEN
    force_state(breaker, CircuitState.OPEN)
    with capture_events() as events, pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)
    assert [e.kind for e in events] == ["rejected"]
    force_state(breaker, "closed")
    assert breaker.call(lambda: 5) == 5
    with pytest.raises(ValueError, match="ajar"):
        force_state(breaker, "ajar")
