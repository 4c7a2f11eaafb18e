"""RateLimiter: a token bucket (GCRA) in process memory, on a ``FakeClock`` (the Redis one is in
``test_redis_rate_limiter.py``)."""

from __future__ import annotations

import pytest

from maestro_resilience import RateLimiter, RateLimitExceeded
from maestro_resilience.testing import FakeClock


def test_rate_limiter_bursts_then_rejects_then_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, per=1.0, burst=2, clock=clock)
    limiter.call(lambda: None)
    limiter.call(lambda: None)
    with pytest.raises(RateLimitExceeded) as info:
        limiter.call(lambda: None)
    assert info.value.retry_after == pytest.approx(0.5)
    clock.advance(0.5)
    limiter.call(lambda: None)


def test_rate_limiter_waits_within_max_wait_in_order() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, per=1.0, burst=1, max_wait=1.0, clock=clock)
    for _ in range(3):
        with limiter:
            pass
    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.1)]
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst"):
        RateLimiter(1, burst=0)


async def test_rate_limiter_async() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, per=2.0, max_wait=5, clock=clock)

    @limiter
    async def ping() -> str:
        return "pong"

    assert [await ping(), await ping()] == ["pong", "pong"]
    assert clock.sleeps == [pytest.approx(2.0)]
    async with limiter:
        pass
