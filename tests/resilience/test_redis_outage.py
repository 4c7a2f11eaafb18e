"""RedisStorage while Redis goes away and comes back: local fallback, one warning per outage, rejoining.

Each test runs its own redis-server (``private_redis``), kills it and starts it again on the same
port; the fixture stops it at teardown whatever happens. The breakers read a ``FakeClock``, so the
``recheck_interval`` between attempts to reach Redis passes when the test says, not after a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from pathlib import Path

import pytest
import redis

from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    RedisStorage,
    StorageUnavailable,
)
from maestro_resilience.testing import FakeClock
from tests.fixtures import binaries
from tests.fixtures.services import require
from tests.resilience.support import PrivateRedis, asyncio_client, blocking_client
from tests.waiting import async_wait_until, wait_until

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
    clock = FakeClock()
    events: list[Event] = []
    work = Counted()
    storage = RedisStorage(client, on_unavailable="fail", recheck_interval=RECHECK, flush_delay=3600)
    try:
        breaker = CircuitBreaker("strict", storage=storage, listeners=[events.append], clock=clock)
        assert breaker.call(work, 1) == 1
        private_redis.kill()
        # admitted on the fresh copy: it runs, and its result is returned although recording it failed
        assert breaker.call(work, 2) == 2
        assert [e.kind for e in events] == ["storage_unavailable"]
        with pytest.raises(StorageUnavailable):
            breaker.call(work, 3)  # refused without a round trip until the recheck interval passes
        clock.advance(RECHECK)
        with pytest.raises(StorageUnavailable):
            breaker.call(work, 4)  # asks Redis, which is still gone
        assert work.runs == 2
        private_redis.restart()
        clock.advance(RECHECK)
        assert breaker.call(work, 5) == 5
        assert [e.kind for e in events] == ["storage_unavailable", "storage_rejoined"]
    finally:
        storage.close()
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


# -- error replies: Redis answers, but with an error (out of memory, read-only replica...) --------


class Counted:
    """A guarded function that counts its runs and returns its argument."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, value: int) -> int:
        self.runs += 1
        return value

    def fail(self) -> None:
        self.runs += 1
        raise Boom


def out_of_memory(client: redis.Redis) -> None:
    """Every write Redis is asked for from now on is refused with ``OOM`` (nothing may be evicted)."""
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", 1)


def test_out_of_memory_replies_fall_back_and_return_each_calls_own_outcome(private_redis: PrivateRedis) -> None:
    client = blocking_client(private_redis.url)
    clock = FakeClock()
    events: list[Event] = []
    work = Counted()
    storage = RedisStorage(client, recheck_interval=RECHECK, flush_delay=3600)
    try:
        breaker = CircuitBreaker("oom", window=CountWindow(10), storage=storage, listeners=[events.append], clock=clock)
        assert breaker.call(work, 0) == 0
        storage.flush()
        out_of_memory(client)
        results = []
        for i in range(1, 7):
            results.append(breaker.call(work, i))
            clock.advance(RECHECK)  # every other call asks Redis again, which refuses the write again
        with pytest.raises(Boom):
            breaker.call(work.fail)  # the call's own error, not Redis's
        assert results == [1, 2, 3, 4, 5, 6]
        assert work.runs == 8
        assert storage.degraded
        assert "storage_fallback" in [e.kind for e in events]
        assert all("OutOfMemoryError" in e.detail["error"] for e in events if e.kind == "storage_fallback")
        client.config_set("maxmemory", 0)
        clock.advance(RECHECK)
        assert breaker.call(work, 7) == 7
        assert not storage.degraded
        assert [e.kind for e in events][-1] == "storage_rejoined"
    finally:
        storage.close()
        client.close()


async def test_async_out_of_memory_replies_fall_back_and_return_each_calls_own_outcome(
    private_redis: PrivateRedis,
) -> None:
    client = asyncio_client(private_redis.url)
    admin = blocking_client(private_redis.url)
    clock = FakeClock()
    events: list[Event] = []
    work = Counted()
    storage = RedisStorage(client, recheck_interval=RECHECK, flush_delay=3600)
    try:
        breaker = CircuitBreaker(
            "async-oom", window=CountWindow(10), storage=storage, listeners=[events.append], clock=clock
        )

        @breaker
        async def call(value: int) -> int:
            return work(value)

        assert await call(0) == 0
        await storage.flush_async()
        out_of_memory(admin)
        results = [await call(i) for i in range(1, 7)]
        assert results == [1, 2, 3, 4, 5, 6]
        assert work.runs == 7
        assert storage.degraded
        assert [e.kind for e in events].count("storage_fallback") == 1
    finally:
        await storage.aclose()
        await client.aclose()
        admin.close()


def test_read_only_replica_replies_fall_back_and_return_each_calls_own_outcome(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    executable = require(binaries.redis_server(), "redis-server", "redis-server")
    (tmp_path / "replica").mkdir()
    replica = PrivateRedis(executable, tmp_path / "replica")
    client = blocking_client(replica.url)
    events: list[Event] = []
    work = Counted()
    storage = RedisStorage(client, recheck_interval=RECHECK, flush_delay=3600)
    try:
        client.replicaof("127.0.0.1", private_redis.port)  # after a failover: a client left on a replica
        wait_until(lambda: client.info("replication")["master_link_status"] == "up", what="the replica to sync")
        breaker = CircuitBreaker(
            "replica", window=CountWindow(10), storage=storage, listeners=[events.append], clock=FakeClock()
        )
        results = [breaker.call(work, i) for i in range(6)]
        assert results == [0, 1, 2, 3, 4, 5]
        assert work.runs == 6
        assert storage.degraded
        fallbacks = [e for e in events if e.kind == "storage_fallback"]
        assert len(fallbacks) == 1
        assert "ReadOnlyError" in fallbacks[0].detail["error"]
    finally:
        storage.close()
        client.close()
        replica.stop()


def test_script_flushed_between_calls_is_loaded_again(client: redis.Redis) -> None:
    events: list[Event] = []
    work = Counted()
    storage = RedisStorage(client, flush_delay=3600)
    try:
        breaker = CircuitBreaker("noscript", window=CountWindow(10), storage=storage, listeners=[events.append])
        results = []
        for i in range(4):
            client.script_flush()
            results.append(breaker.call(work, i))
        storage.flush()
        assert results == [0, 1, 2, 3]
        assert work.runs == 4
        assert not storage.degraded
        assert events == []
        assert storage.window() == (4, 0, 0)
    finally:
        storage.close()


# -- the background flush: whatever happens, nothing escapes its thread or task ------------------


def test_background_flush_failure_never_escapes_its_thread(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    escaped: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)
    client = blocking_client(private_redis.url)
    events: list[Event] = []
    storage = RedisStorage(client, flush_delay=0)
    try:
        breaker = CircuitBreaker("flush-oom", window=CountWindow(10), storage=storage, listeners=[events.append])
        out_of_memory(client)
        assert breaker.call(lambda: "ran") == "ran"  # admitted by a round trip that writes nothing: deferred
        wait_until(lambda: escaped or storage.degraded, what="the background flush to meet the OOM reply")
        assert escaped == []
        assert [e.kind for e in events] == ["storage_fallback"]
    finally:
        storage.close()
        client.close()


async def test_background_flush_failure_never_escapes_its_task(private_redis: PrivateRedis) -> None:
    loop = asyncio.get_running_loop()
    escaped: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: escaped.append(context))
    client = asyncio_client(private_redis.url)
    admin = blocking_client(private_redis.url)
    events: list[Event] = []
    storage = RedisStorage(client, flush_delay=0)
    try:
        breaker = CircuitBreaker("async-flush-oom", window=CountWindow(10), storage=storage, listeners=[events.append])

        @breaker
        async def call() -> str:
            return "ran"

        out_of_memory(admin)
        assert await call() == "ran"

        def settled() -> bool:
            gc.collect()  # a task whose exception nobody retrieved reports it when collected
            return bool(escaped) or storage.degraded

        await async_wait_until(settled, what="the background flush to meet the OOM reply")
        assert escaped == []
        assert [e.kind for e in events] == ["storage_fallback"]
    finally:
        await storage.aclose()
        await client.aclose()
        admin.close()
        loop.set_exception_handler(None)


def test_close_cancels_the_pending_background_flush(client: redis.Redis) -> None:
    storage = RedisStorage(client, flush_delay=3600)
    breaker = CircuitBreaker("closing", window=CountWindow(10), storage=storage)
    breaker.call(lambda: None)  # admitted by a round trip: its outcome waits for the flush
    assert storage.pending == 1
    assert flush_timers(storage)
    storage.close()
    assert storage.pending == 0  # sent, not dropped
    assert storage.window() == (1, 0, 0)
    wait_until(lambda: not flush_timers(storage), what="the flush timer to end")


def flush_timers(storage: RedisStorage) -> list[threading.Thread]:
    """Live background-flush timers of ``storage``."""
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, threading.Timer) and getattr(t.function, "__self__", None) is storage
    ]
