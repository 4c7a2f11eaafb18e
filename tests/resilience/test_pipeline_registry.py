"""Pipeline composition and order; Registry from dict and TOML; events; testing helpers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from maestro_resilience import (
    Bulkhead,
    BulkheadFullError,
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    Fallback,
    Pipeline,
    Registry,
    Retry,
    Timeout,
    TimeoutExceeded,
    add_global_listener,
    remove_global_listener,
)
from maestro_resilience.testing import FakeClock, capture_events, force_state, no_wait


def test_pipeline_order_outermost_first() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(window=Consecutive(2), clock=clock)
    attempts = 0

    def down() -> str:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    pipeline = Pipeline(Fallback("cached"), Retry(attempts=5, clock=clock), breaker, Bulkhead(4))
    assert pipeline.call(down) == "cached"
    # two failures open the breaker; Retry does not retry its rejection; Fallback replaces it
    assert attempts == 2
    assert len(clock.sleeps) == 2
    assert breaker.state is CircuitState.OPEN


def test_pipeline_retry_outside_timeout_is_per_attempt() -> None:
    calls = 0

    async def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(1)
        return "fast"

    pipeline = Pipeline(Retry(attempts=2, on=TimeoutError), Timeout(0.05))
    with no_wait():
        assert asyncio.run(pipeline.call_async(slow_then_fast)) == "fast"
    assert calls == 2


async def test_pipeline_decorates_async_and_keeps_metadata() -> None:
    pipeline = Pipeline(Retry(attempts=2), CircuitBreaker(), Timeout(1), Bulkhead(2))

    @pipeline
    async def fetch(x: int) -> int:
        """Doc."""
        return x + 1

    assert await fetch(1) == 2
    assert fetch.__doc__ == "Doc."
    assert fetch.__name__ == "fetch"
    with pytest.raises(TypeError, match="policies"):
        Pipeline("retry")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        Pipeline()


def test_timeout_outside_retry_bounds_total() -> None:
    async def always_slow() -> None:
        await asyncio.sleep(1)

    pipeline = Pipeline(Timeout(0.1), Retry(attempts=50, on=TimeoutError))
    with pytest.raises(TimeoutExceeded):
        asyncio.run(pipeline.call_async(always_slow))


TOML = """
[db-breaker]
type = "circuit_breaker"
window = { type = "count", size = 10, failure_rate_threshold = 0.5, minimum_calls = 2 }
open_duration = 5
ignore_on = ["KeyError"]

[db-retry]
type = "retry"
attempts = 2
on = ["ConnectionError", "builtins.TimeoutError"]

[db]
type = "pipeline"
policies = ["db-retry", "db-breaker"]
"""


def test_registry_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "resilience.toml"
    path.write_text(TOML)
    registry = Registry.from_toml(path, clock=FakeClock())
    assert sorted(registry) == ["db", "db-breaker", "db-retry"]
    breaker = registry["db-breaker"]
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.window == CountWindow(10, failure_rate_threshold=0.5, minimum_calls=2)
    assert breaker.name == "db-breaker"

    def down() -> None:
        raise ConnectionError

    with no_wait(), pytest.raises(ConnectionError):
        registry["db"].call(down)
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(KeyError, match="known"):
        registry["nope"]


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"x": {"type": "breaker"}}, ValueError, "unknown type 'breaker'"),
        ({"x": {"size": 1}}, ValueError, "'type' key"),
        ({"x": {"type": "retry", "on": ["NoSuchError"]}}, ValueError, "key 'on'"),
        ({"x": {"type": "retry", "attempts": 0}}, ValueError, "entry 'x'.*attempts"),
        ({"x": {"type": "bulkhead", "max_concurrent": 1, "bogus": 1}}, TypeError, "entry 'x'"),
        ({"x": {"type": "pipeline", "policies": ["y"]}}, ValueError, "unknown policies"),
        ({"x": {"type": "circuit_breaker", "window": {"type": "sliding"}}}, ValueError, "key 'window'"),
    ],
)
def test_registry_errors_name_entry_and_key(config: dict[str, dict[str, object]], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Registry.from_dict(config)


def test_registry_register_and_duplicates() -> None:
    registry = Registry({"a": Bulkhead(1)})
    with pytest.raises(ValueError, match="already"):
        registry.register("a", Bulkhead(1))
    with pytest.raises(TypeError, match="policy"):
        registry.register("b", object())  # type: ignore[arg-type]
    assert len(registry) == 1


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


def test_fake_clock() -> None:
    clock = FakeClock(0)
    clock.sleep(2)
    asyncio.run(clock.asleep(3))
    assert clock.monotonic() == 5
    assert clock.sleeps == [2, 3]
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(-1)


async def test_timeout_fallback_and_bulkhead_events() -> None:
    async def slow() -> None:
        await asyncio.sleep(1)

    with capture_events() as events:
        assert await Pipeline(Fallback("late", name="fb"), Timeout(0.01, name="to")).call_async(slow) == "late"
        bulkhead = Bulkhead(1, name="bh")
        async with bulkhead:
            with pytest.raises(BulkheadFullError):
                await bulkhead.call_async(slow)
    assert [(e.policy, e.kind) for e in events] == [("to", "timeout"), ("fb", "fallback"), ("bh", "rejected")]
    assert events[1].detail["error"].startswith("TimeoutExceeded")
