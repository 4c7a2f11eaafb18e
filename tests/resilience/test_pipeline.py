"""Pipeline: policies composed outermost first, as one policy; where a Timeout sits decides what it limits."""

from __future__ import annotations

import asyncio

import pytest

from maestro_resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitState,
    Consecutive,
    Fallback,
    Pipeline,
    Retry,
    Timeout,
    TimeoutExceeded,
)
from maestro_resilience.testing import FakeClock, no_wait
from tests.resilience.support import LONG


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


@pytest.mark.timing
async def test_pipeline_retry_outside_timeout_is_per_attempt() -> None:
    calls = 0

    async def slow_then_fast() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(LONG)
        return "fast"  # the second attempt returns without awaiting: its deadline cannot pass first

    pipeline = Pipeline(Retry(attempts=2, on=TimeoutError), Timeout(0.05))
    with no_wait():
        assert await pipeline.call_async(slow_then_fast) == "fast"
    assert calls == 2


async def test_pipeline_decorates_async_and_keeps_metadata() -> None:
    pipeline = Pipeline(Retry(attempts=2), CircuitBreaker(), Timeout(LONG), Bulkhead(2))

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


@pytest.mark.timing
async def test_timeout_outside_retry_bounds_total() -> None:
    attempts = 0

    async def always_slow() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(LONG)

    pipeline = Pipeline(Timeout(0.1), Retry(attempts=50, on=TimeoutError))
    with pytest.raises(TimeoutExceeded):
        await pipeline.call_async(always_slow)
    assert attempts == 1  # the outer deadline cancelled the first attempt, and the retries with it
