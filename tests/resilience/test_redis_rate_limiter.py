"""RedisRateLimiter: one GCRA limit shared by every process, against a real redis-server.

Permits are computed on the Redis clock; the limiters sleep on a ``FakeClock``, so a wait is read
from ``clock.sleeps`` instead of being slept.
"""

from __future__ import annotations

import pytest
import redis
import redis.asyncio

from maestro_resilience import (
    Event,
    RateLimitExceeded,
    RedisRateLimiter,
    ResilienceError,
    StorageUnavailable,
)
from maestro_resilience.testing import FakeClock
from tests.resilience.support import PrivateRedis, asyncio_client, blocking_client

pytestmark = pytest.mark.timing  # a real server (killed in the outage tests); permits run on its clock


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


# -- Redis down: the outage policy (on_unavailable) -----------------------------------------------

RECHECK = 0.05  # the limiters' recheck_interval, on their FakeClock


def test_redis_killed_falls_back_to_a_local_limiter_at_the_same_rate(private_redis: PrivateRedis) -> None:
    client = blocking_client(private_redis.url)
    clock = FakeClock()
    events: list[Event] = []
    try:
        limiter = RedisRateLimiter(
            client, 1, per=60, burst=2, name="outage", listeners=[events.append], clock=clock, recheck_interval=RECHECK
        )
        assert limiter.call(lambda: "shared") == "shared"
        private_redis.kill()
        assert limiter.call(lambda: "local") == "local"  # the local limiter's burst of two
        assert limiter.call(lambda: "local") == "local"
        with pytest.raises(RateLimitExceeded) as info:
            limiter.call(lambda: "never")  # the same rate: one permit a minute
        assert info.value.retry_after == pytest.approx(60)
        assert limiter.degraded
        assert [e.kind for e in events] == ["storage_fallback", "rejected"]
        assert "ConnectionError" in events[0].detail["error"]
        private_redis.restart()
        clock.advance(RECHECK)
        assert limiter.call(lambda: "shared") == "shared"  # Redis answers again: the shared limit
        assert not limiter.degraded
        assert [e.kind for e in events][-1] == "storage_rejoined"
    finally:
        client.close()


def test_redis_killed_fail_open_lets_every_call_through(private_redis: PrivateRedis) -> None:
    client = blocking_client(private_redis.url)
    events: list[Event] = []
    try:
        limiter = RedisRateLimiter(
            client, 1, per=60, name="open", on_unavailable="allow", listeners=[events.append], clock=FakeClock()
        )
        limiter.call(lambda: None)
        private_redis.kill()
        assert [limiter.call(lambda: "ran") for _ in range(5)] == ["ran"] * 5
        assert [e.kind for e in events] == ["storage_fallback"]
    finally:
        client.close()


def test_redis_killed_fail_mode_raises_storage_unavailable(private_redis: PrivateRedis) -> None:
    client = blocking_client(private_redis.url)
    ran: list[int] = []
    try:
        limiter = RedisRateLimiter(client, 1, per=60, name="strict", on_unavailable="fail", clock=FakeClock())
        limiter.call(ran.append, 1)
        private_redis.kill()
        for _ in range(2):  # the second one without asking Redis (before the recheck interval)
            with pytest.raises(StorageUnavailable) as info:
                limiter.call(ran.append, 2)
            assert "'strict'" in str(info.value)
        assert isinstance(info.value, ResilienceError)
        assert ran == [1]
    finally:
        client.close()


async def test_async_redis_killed_falls_back_to_a_local_limiter(private_redis: PrivateRedis) -> None:
    client = asyncio_client(private_redis.url)
    events: list[Event] = []
    try:
        limiter = RedisRateLimiter(client, 1, per=60, burst=1, name="async-outage", listeners=[events.append])

        @limiter
        async def ping() -> str:
            return "pong"

        assert await ping() == "pong"
        private_redis.kill()
        assert await ping() == "pong"  # the local limiter's burst of one
        with pytest.raises(RateLimitExceeded):
            await ping()
        assert [e.kind for e in events] == ["storage_fallback", "rejected"]
    finally:
        await client.aclose()


def test_outage_policy_is_validated(client: redis.Redis) -> None:
    with pytest.raises(ValueError, match="on_unavailable"):
        RedisRateLimiter(client, 1, on_unavailable="ignore")  # type: ignore[arg-type]
