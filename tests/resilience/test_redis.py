"""RedisStorage and RedisRateLimiter against a real redis-server (shared fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from maestro_devtools.servers import ServerProcess, start_server
from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    RateLimitExceeded,
    RedisRateLimiter,
    RedisStorage,
    StorageUnavailable,
    TimeWindow,
)
from tests.fixtures import binaries
from tests.fixtures.services import require

NO_RETRY = Retry(NoBackoff(), 0)  # fail fast: the breaker, not the client, handles an outage


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom


def evalsha_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def shared(client: redis.Redis, name: str = "svc", **kwargs: object) -> CircuitBreaker:
    return CircuitBreaker(name, storage=RedisStorage(client), **kwargs)  # type: ignore[arg-type]


def warm(breaker: CircuitBreaker) -> None:
    """A first call: admitted by a round trip, its (deferred) success rides on the next call's round trip."""
    breaker.call(lambda: None)


def test_two_breakers_share_state_and_namespace_isolates(client: redis.Redis) -> None:
    a = shared(client, window=Consecutive(2))
    b = shared(client, window=Consecutive(2))
    other = CircuitBreaker("svc", window=Consecutive(2), storage=RedisStorage(client, namespace="other"))
    warm(a)  # from here on a's copy is fresh: each outcome is recorded before the call returns
    for _ in range(2):
        with pytest.raises(Boom):
            a.call(fail)
    assert b.state is CircuitState.OPEN
    assert other.state is CircuitState.CLOSED
    b.call(lambda: None) if False else None
    with pytest.raises(CircuitOpenError):
        b.call(lambda: None)  # b learned of the trip through the state read above
    assert client.hget("maestro:breaker:svc", "state") == b"open"
    assert int(client.hget("maestro:breaker:svc", "open_until") or 0) > 1_000_000_000_000  # milliseconds


def test_one_round_trip_per_guarded_call(client: redis.Redis) -> None:
    # A long flush delay: on a loaded machine a 50 ms gap between two calls would let the
    # background flush send a deferred outcome on its own round trip, an extra EVALSHA.
    storage = RedisStorage(client, flush_delay=60)
    breaker = CircuitBreaker("svc", storage=storage, window=CountWindow(10, minimum_calls=5))
    breaker.call(lambda: None)  # loads the script
    before = evalsha_calls(client)
    for _ in range(20):
        breaker.call(lambda: None)
    for _ in range(3):
        with pytest.raises(Boom):
            breaker.call(fail)
    assert evalsha_calls(client) - before == 23
    commands = client.info("commandstats")
    assert "cmdstat_get" not in commands
    assert "cmdstat_incr" not in commands


def test_rejection_while_open_costs_no_round_trip(client: redis.Redis) -> None:
    breaker = shared(client, window=Consecutive(1), open_duration=60)
    warm(breaker)
    with pytest.raises(Boom):
        breaker.call(fail)
    before = evalsha_calls(client)
    for _ in range(5):
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(lambda: None)
    assert 59 < (info.value.retry_after or 0) <= 60
    assert evalsha_calls(client) == before


def test_half_open_admits_exactly_n_probes_across_breakers(client: redis.Redis) -> None:
    a = shared(client, window=Consecutive(1), open_duration=0.05, half_open_max_calls=2)
    b = shared(client, window=Consecutive(1), open_duration=0.05, half_open_max_calls=2)
    warm(a)
    with pytest.raises(Boom):
        a.call(fail)
    import time

    time.sleep(0.08)
    admitted: list[str] = []

    def probe(who: str) -> None:
        admitted.append(who)
        for other in (a, b):
            with contextlib.suppress(CircuitOpenError):
                other.call(lambda: admitted.append("nested"))

    a.call(probe, "a")
    assert admitted.count("nested") == 1  # one more slot was free, then everyone was rejected
    assert a.state is CircuitState.CLOSED  # both probes succeeded


def test_count_and_time_windows_in_lua(client: redis.Redis) -> None:
    counted = shared(client, "count", window=CountWindow(4, failure_rate_threshold=0.5, minimum_calls=4))
    for _ in range(3):
        counted.call(lambda: None)
    with pytest.raises(Boom):
        counted.call(fail)
    assert counted.state is CircuitState.CLOSED  # 1/4
    with pytest.raises(Boom):
        counted.call(fail)
    assert counted.state is CircuitState.OPEN  # 2/4 (the oldest success slid out)
    timed = shared(client, "time", window=TimeWindow(10, failure_rate_threshold=0.6, minimum_calls=3))
    timed.call(lambda: None)
    for _ in range(2):
        with pytest.raises(Boom):
            timed.call(fail)
    assert timed.state is CircuitState.OPEN


def test_stale_generation_does_not_change_state(client: redis.Redis) -> None:
    breaker = shared(client, window=Consecutive(1))
    storage = breaker.storage
    assert storage is not None
    token = storage.acquire()
    breaker.force_open()
    breaker.reset()
    storage.complete(token, 1, False)  # a failure from before the reset
    assert breaker.state is CircuitState.CLOSED


def test_manual_control_is_shared(client: redis.Redis) -> None:
    a = shared(client)
    b = shared(client)
    a.force_open()
    with pytest.raises(CircuitOpenError) as info:
        b.call(lambda: None) if b.state is CircuitState.FORCED_OPEN else pytest.fail("not shared")
    assert info.value.retry_after is None
    a.disable()
    assert b.state is CircuitState.DISABLED
    a.reset()
    assert b.state is CircuitState.CLOSED


async def test_async_client(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        breaker = CircuitBreaker("async", window=Consecutive(2), storage=RedisStorage(client))

        @breaker
        async def call(ok: bool) -> str:
            if not ok:
                raise Boom
            return "ok"

        assert await call(True) == "ok"
        for _ in range(2):
            with pytest.raises(Boom):
                await call(False)
        with pytest.raises(CircuitOpenError):
            await call(True)
        async with breaker.__class__("async-cm", storage=RedisStorage(client)):
            pass
        assert await client.hget("maestro:breaker:async", "state") == b"open"
        with pytest.raises(TypeError, match="asyncio Redis client"):

            @breaker
            def sync_fn() -> None:
                pass
    finally:
        await client.aclose()


def test_sync_client_cannot_guard_async_functions(client: redis.Redis) -> None:
    breaker = shared(client)
    with pytest.raises(TypeError, match="blocking Redis client"):

        @breaker
        async def fn() -> None:
            pass

    with pytest.raises(TypeError, match="client must be"):
        RedisStorage(object())
    with pytest.raises(ValueError, match="on_unavailable"):
        RedisStorage(client, on_unavailable="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one breaker"):
        CircuitBreaker("x", storage=breaker.storage)


def start_private_redis(tmp_path: Path, port: int | None = None) -> ServerProcess:
    executable = require(binaries.redis_server(), "redis-server", "redis-server")

    def argv(p: int) -> list[str]:
        return [str(executable), "--port", str(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    return start_server("redis-server", argv, log_path=tmp_path / "redis.log", port=port)


def test_redis_killed_and_restarted_falls_back_and_rejoins(tmp_path: Path) -> None:
    server = start_private_redis(tmp_path)
    client = redis.Redis(
        host="127.0.0.1", port=server.port, socket_connect_timeout=0.5, socket_timeout=0.5, retry=NO_RETRY
    )
    events: list[Event] = []
    try:
        breaker = CircuitBreaker(
            "outage",
            window=Consecutive(3),
            storage=RedisStorage(client, recheck_interval=0.05),
            listeners=[events.append],
        )
        breaker.call(lambda: None)
        server.stop(signal.SIGKILL)
        # Redis is gone: calls keep working on local state, one warning per outage
        for _ in range(5):
            assert breaker.call(lambda: "local") == "local"
        assert breaker.storage is not None
        assert breaker.storage.degraded
        for _ in range(3):
            with pytest.raises(Boom):
                breaker.call(fail)
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: None)  # the local breaker tripped
        assert [e.kind for e in events].count("storage_fallback") == 1
        server = start_private_redis(tmp_path, port=server.port)
        import time

        time.sleep(0.06)
        breaker.reset()  # operator action reaches Redis again
        deadline = time.monotonic() + 5
        while breaker.storage.degraded and time.monotonic() < deadline:
            breaker.call(lambda: None)
            time.sleep(0.06)
        assert not breaker.storage.degraded
        assert "storage_rejoined" in [e.kind for e in events]
        assert client.hget("maestro:breaker:outage", "state") == b"closed"
    finally:
        client.close()
        server.stop()


def test_fail_mode_raises_storage_unavailable(tmp_path: Path) -> None:
    server = start_private_redis(tmp_path)
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_connect_timeout=0.5, retry=NO_RETRY)
    try:
        breaker = CircuitBreaker("strict", storage=RedisStorage(client, on_unavailable="fail"))
        breaker.call(lambda: None)
        server.stop(signal.SIGKILL)
        with pytest.raises(StorageUnavailable):
            breaker.call(lambda: None)
    finally:
        client.close()
        server.stop()


CHILD = textwrap.dedent(
    """
    import sys, redis
    from maestro_resilience import CircuitBreaker, Consecutive, RedisStorage
    storage = RedisStorage(redis.Redis.from_url(sys.argv[1]))
    breaker = CircuitBreaker("two-procs", window=Consecutive(2), storage=storage)
    for _ in range(2):
        try:
            breaker.call(lambda: 1 / 0)
        except ZeroDivisionError:
            pass
    print(breaker.state.value)
    """
)


def test_two_processes_share_one_breaker(client: redis.Redis, redis_url: str) -> None:
    breaker = shared(client, "two-procs", window=Consecutive(2))
    breaker.call(lambda: None)
    out = subprocess.run([sys.executable, "-c", CHILD, redis_url], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "open"
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)


def test_redis_rate_limiter_gcra(client: redis.Redis) -> None:
    a = RedisRateLimiter(client, 5, per=1.0, burst=2, name="api")
    b = RedisRateLimiter(client, 5, per=1.0, burst=2, name="api")
    a.call(lambda: None)
    b.call(lambda: None)
    with pytest.raises(RateLimitExceeded) as info:
        a.call(lambda: None)
    assert 0 < info.value.retry_after <= 0.2
    waiting = RedisRateLimiter(client, 5, per=1.0, burst=2, max_wait=1.0, name="api")
    waiting.call(lambda: None)  # waits ~0.2 s for its permit
    with pytest.raises(ValueError, match="rate"):
        RedisRateLimiter(client, 0)


async def test_redis_rate_limiter_async(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        limiter = RedisRateLimiter(client, 1, per=10.0, name="async-api")

        @limiter
        async def ping() -> str:
            return "pong"

        assert await ping() == "pong"
        with pytest.raises(RateLimitExceeded):
            await ping()
        await asyncio.sleep(0)
    finally:
        await client.aclose()


async def test_async_client_outage_and_manual_control(tmp_path: Path) -> None:
    server = start_private_redis(tmp_path)
    client = redis.asyncio.Redis(host="127.0.0.1", port=server.port, socket_connect_timeout=0.5, retry=NO_RETRY)
    events: list[Event] = []
    try:
        storage = RedisStorage(client, recheck_interval=0.05)
        breaker = CircuitBreaker("async-outage", window=Consecutive(2), storage=storage, listeners=[events.append])

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
        server.stop(signal.SIGKILL)
        assert await call(True) == "ok"  # local fallback
        for _ in range(2):
            with pytest.raises(Boom):
                await call(False)
        with pytest.raises(CircuitOpenError):
            await call(True)
        assert storage.degraded
        server = start_private_redis(tmp_path, port=server.port)
        await asyncio.sleep(0.06)
        for _ in range(50):
            if not storage.degraded:
                break
            with contextlib.suppress(CircuitOpenError):
                await call(True)
            await asyncio.sleep(0.06)
        assert not storage.degraded
        kinds = [e.kind for e in events]
        assert kinds.count("storage_fallback") == 1
        assert "storage_rejoined" in kinds
    finally:
        await client.aclose()
        server.stop()


def test_stale_copy_asks_redis_first(client: redis.Redis) -> None:
    a = CircuitBreaker("stale", window=Consecutive(1), storage=RedisStorage(client, max_staleness=0))
    b = CircuitBreaker("stale", window=Consecutive(1), storage=RedisStorage(client, max_staleness=0))
    a.call(lambda: None)
    b.call(lambda: None)
    with pytest.raises(Boom):
        a.call(fail)  # admitted by a round trip (max_staleness=0): its failure is deferred ...
    assert a.storage is not None
    a.storage.flush()  # ... until a's next round trip, or a background flush after flush_delay
    with pytest.raises(CircuitOpenError):
        b.call(lambda: None)  # with max_staleness=0, b asks Redis before every closed-state call
    with pytest.raises(ValueError, match="max_staleness"):
        RedisStorage(client, max_staleness=-1)


def test_registry_builds_redis_backed_policies(client: redis.Redis, redis_url: str) -> None:
    from maestro_resilience import Registry

    registry = Registry.from_dict(
        {
            "shared": {"type": "circuit_breaker", "window": {"failures": 1}, "redis_url": redis_url,
                       "redis_namespace": "cfg"},
            "limit": {"type": "rate_limiter", "rate": 1, "per": 60, "redis_url": redis_url},
        }
    )  # fmt: skip
    with pytest.raises(Boom):
        registry["shared"].call(fail)
    registry["shared"].storage.flush()  # a first call's outcome is deferred (see RedisStorage)
    assert client.hget("cfg:shared", "state") == b"open"
    registry["limit"].call(lambda: None)
    with pytest.raises(RateLimitExceeded):
        registry["limit"].call(lambda: None)
    with pytest.raises(ValueError, match="redis_url"):
        Registry.from_dict({"x": {"type": "retry", "redis_url": redis_url}})


async def test_half_open_admits_exactly_n_among_many_tasks(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        breakers = [
            CircuitBreaker("swarm", window=Consecutive(1), open_duration=0.05, half_open_max_calls=3,
                           storage=RedisStorage(client))
            for _ in range(4)
        ]  # fmt: skip
        gate = asyncio.Event()
        admitted = 0

        async def probe() -> None:
            nonlocal admitted
            admitted += 1
            await gate.wait()

        async def boom() -> None:
            raise Boom

        with pytest.raises(Boom):
            await breakers[0].call_async(boom)
        await asyncio.sleep(0.08)
        tasks = [asyncio.create_task(breakers[i % 4].call_async(probe)) for i in range(24)]
        for _ in range(100):
            await asyncio.sleep(0.01)
            if sum(t.done() for t in tasks) >= 21:
                break
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert admitted == 3
        assert sum(isinstance(r, CircuitOpenError) for r in results) == 21
        for b in breakers:  # the probes' outcomes are deferred: send them now rather than after flush_delay
            assert b.storage is not None
            await b.storage.flush_async()
        assert await client.hget("maestro:breaker:swarm", "state") == b"closed"
    finally:
        await client.aclose()
