"""RedisRateLimiter: one GCRA limit shared by every process, against a real redis-server.

Permits are computed on the Redis clock; the limiters sleep on a ``FakeClock``, so a wait is read
from ``clock.sleeps`` instead of being slept.
"""

from __future__ import annotations

import pytest
import redis
import redis.asyncio

from maestro_resilience import RateLimitExceeded, RedisRateLimiter
from maestro_resilience.testing import FakeClock

pytestmark = pytest.mark.timing  # a real server; permits run on its clock


def test_limit_is_shared_and_rejects_with_retry_after(client: redis.Redis) -> None:
    a = RedisRateLimiter(client, 1, per=60, burst=2, name="api")
    b = RedisRateLimiter(client, 1, per=60, burst=2, name="api")
    a.call(lambda: None)
    b.call(lambda: None)  # the burst of two is shared
    with pytest.raises(RateLimitExceeded) as info:
        a.call(lambda: None)
    assert 50 < info.value.retry_after <= 60  # one permit a minute
    other = RedisRateLimiter(client, 1, per=60, burst=2, name="other-api")
    other.call(lambda: None)  # another name, another limit
    with pytest.raises(ValueError, match="rate"):
        RedisRateLimiter(client, 0)


def test_a_caller_waits_up_to_max_wait_for_its_permit(client: redis.Redis) -> None:
    clock = FakeClock()
    limiter = RedisRateLimiter(client, 1, per=60, max_wait=90, name="patient", clock=clock)
    limiter.call(lambda: None)
    limiter.call(lambda: None)  # its permit is reserved a minute ahead: it sleeps until then
    assert len(clock.sleeps) == 1
    assert 50 < clock.sleeps[0] <= 60
    with pytest.raises(RateLimitExceeded):
        limiter.call(lambda: None)  # two minutes ahead: longer than max_wait
    assert len(clock.sleeps) == 1


async def test_async_client(async_client: redis.asyncio.Redis) -> None:
    limiter = RedisRateLimiter(async_client, 1, per=10.0, name="async-api")

    @limiter
    async def ping() -> str:
        return "pong"

    assert await ping() == "pong"
    with pytest.raises(RateLimitExceeded):
        await ping()
    with pytest.raises(TypeError, match="async def"):

        @limiter
        def sync_ping() -> str:
            return "pong"
