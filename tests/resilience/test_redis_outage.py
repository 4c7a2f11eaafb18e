"""RedisStorage while Redis goes away and comes back: local fallback, one warning per outage, rejoining.

Each test runs its own redis-server (``private_redis``), kills it and starts it again on the same
port; the fixture stops it at teardown whatever happens. The breakers read a ``FakeClock``, so the
``recheck_interval`` between attempts to reach Redis passes when the test says, not after a sleep.
"""

from __future__ import annotations

import contextlib

import pytest

from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    Event,
    RedisStorage,
    StorageUnavailable,
)
from maestro_resilience.testing import FakeClock
from tests.resilience.support import PrivateRedis, asyncio_client, blocking_client

pytestmark = pytest.mark.timing  # real servers killed and restarted under the calls

RECHECK = 0.05  # the storages' recheck_interval, on their FakeClock


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom


def test_redis_killed_and_restarted_falls_back_and_rejoins(private_redis: PrivateRedis) -> None:
    client = blocking_client(private_redis.url)
    clock = FakeClock()
    events: list[Event] = []
    try:
        storage = RedisStorage(client, recheck_interval=RECHECK)
        breaker = CircuitBreaker(
            "outage", window=Consecutive(3), storage=storage, listeners=[events.append], clock=clock
        )
        breaker.call(lambda: None)
        private_redis.kill()
        # Redis is gone: calls keep working on local state, one warning per outage
        for _ in range(5):
            assert breaker.call(lambda: "local") == "local"
        assert storage.degraded
        for _ in range(3):
            with pytest.raises(Boom):
                breaker.call(fail)
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: None)  # the local breaker tripped
        assert [e.kind for e in events].count("storage_fallback") == 1
        private_redis.restart()
        breaker.reset()  # operator action: it goes to Redis at once, which answers again
        assert not storage.degraded
        assert "storage_rejoined" in [e.kind for e in events]
        assert client.hget("maestro:breaker:outage", "state") == b"closed"
        assert breaker.call(lambda: "shared") == "shared"
    finally:
        client.close()


def test_calls_rejoin_after_the_recheck_interval(private_redis: PrivateRedis) -> None:
    client = blocking_client(private_redis.url)
    clock = FakeClock()
    events: list[Event] = []
    try:
        storage = RedisStorage(client, recheck_interval=RECHECK)
        breaker = CircuitBreaker("recheck", storage=storage, listeners=[events.append], clock=clock)
        breaker.call(lambda: None)
        private_redis.kill()
        breaker.call(lambda: None)  # its outcome's round trip fails: local state from here on
        assert storage.degraded
        private_redis.restart()
        breaker.call(lambda: None)  # before the recheck interval: Redis is not asked
        assert storage.degraded
        clock.advance(RECHECK)
        breaker.call(lambda: None)  # asks Redis again, which answers
        assert not storage.degraded
        assert [e.kind for e in events] == ["storage_fallback", "storage_rejoined"]
    finally:
        client.close()


def test_fail_mode_raises_storage_unavailable(private_redis: PrivateRedis) -> None:
    client = blocking_client(private_redis.url)
    try:
        breaker = CircuitBreaker("strict", storage=RedisStorage(client, on_unavailable="fail"))
        breaker.call(lambda: None)
        private_redis.kill()
        with pytest.raises(StorageUnavailable):
            breaker.call(lambda: None)
    finally:
        client.close()


async def test_async_client_outage_and_manual_control(private_redis: PrivateRedis) -> None:
    client = asyncio_client(private_redis.url)
    clock = FakeClock()
    events: list[Event] = []
    try:
        storage = RedisStorage(client, recheck_interval=RECHECK)
        breaker = CircuitBreaker(
            "async-outage", window=Consecutive(2), storage=storage, listeners=[events.append], clock=clock
        )

        @breaker
        async def call(ok: bool) -> str:
            if not ok:
                raise Boom
            return "ok"

        assert await call(True) == "ok"
        await storage.set_state_async("forced_open")
        with pytest.raises(CircuitOpenError):
            await call(True)
        with pytest.raises(TypeError, match="set_state_async"):
            breaker.reset()
        await storage.set_state_async("closed")
        private_redis.kill()
        assert await call(True) == "ok"  # local fallback
        for _ in range(2):
            with pytest.raises(Boom):
                await call(False)
        with pytest.raises(CircuitOpenError):
            await call(True)
        assert storage.degraded
        private_redis.restart()
        clock.advance(RECHECK)
        with contextlib.suppress(CircuitOpenError):
            await call(True)  # asks Redis again: the shared state (closed) wins over the local trip
        assert not storage.degraded
        assert breaker.state is CircuitState.CLOSED
        kinds = [e.kind for e in events]
        assert kinds.count("storage_fallback") == 1
        assert "storage_rejoined" in kinds
    finally:
        await client.aclose()
