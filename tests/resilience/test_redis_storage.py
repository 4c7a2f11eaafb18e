"""RedisStorage against a real redis-server: shared state, windows in Lua, probes, manual control,
METRICS_ONLY and cluster-wide metrics, asyncio clients, several processes, the Registry's clients.

Round trips per call are counted in ``test_redis_round_trips.py``; outages in ``test_redis_outage.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable

import pytest
import redis
import redis.asyncio

from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    Pipeline,
    RateLimitExceeded,
    RedisStorage,
    Registry,
    Timeout,
    TimeoutExceeded,
    TimeWindow,
)
from maestro_resilience.testing import FakeClock
from tests.resilience.support import LONG, async_wait_until_half_open, wait_until_half_open
from tests.waiting import DEADLINE, async_wait_until

pytestmark = pytest.mark.timing  # a real server; open durations run on its clock


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom


def ok() -> str:
    return "ok"


def run(breaker: CircuitBreaker, outcomes: str) -> None:
    """``outcomes``: ``f`` fails, ``s`` succeeds."""
    for outcome in outcomes:
        with contextlib.suppress(Boom):
            breaker.call(fail if outcome == "f" else ok)


def command_calls(client: redis.Redis) -> dict[str, int]:
    """Calls per command so far on this worker's server (other tests' included: compare differences)."""
    return {name[8:]: int(stats["calls"]) for name, stats in client.info("commandstats").items()}


def evalsha_calls(client: redis.Redis) -> int:
    return command_calls(client).get("evalsha", 0)


def shared(client: redis.Redis, name: str = "svc", **kwargs: object) -> CircuitBreaker:
    """A Redis-backed breaker on a ``FakeClock``: its copy stays fresh (max_staleness) however slow the machine."""
    kwargs.setdefault("clock", FakeClock())
    return CircuitBreaker(name, storage=RedisStorage(client), **kwargs)  # type: ignore[arg-type]


def warm(breaker: CircuitBreaker) -> None:
    """A first call: admitted by a round trip, its (deferred) success rides on the next call's round trip."""
    breaker.call(ok)


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
    with pytest.raises(CircuitOpenError):
        b.call(ok)  # b learned of the trip through the state read above
    assert client.hget("maestro:breaker:svc", "state") == b"open"
    assert int(client.hget("maestro:breaker:svc", "open_until") or 0) > 1_000_000_000_000  # milliseconds


def test_one_round_trip_per_guarded_call(client: redis.Redis) -> None:
    # A long flush delay: the background flush never sends a deferred outcome on its own round trip here.
    storage = RedisStorage(client, flush_delay=3600)
    breaker = CircuitBreaker("svc", storage=storage, window=CountWindow(10, minimum_calls=5), clock=FakeClock())
    breaker.call(ok)  # loads the script
    before = command_calls(client)
    for _ in range(20):
        breaker.call(ok)
    for _ in range(3):
        with pytest.raises(Boom):
            breaker.call(fail)
    after = command_calls(client)
    assert after["evalsha"] - before["evalsha"] == 23
    for command in ("get", "set", "incr", "eval"):  # nothing but the script, not even inside it
        assert after.get(command, 0) == before.get(command, 0), command


def test_rejection_while_open_costs_no_round_trip(client: redis.Redis) -> None:
    breaker = shared(client, window=Consecutive(1), open_duration=60)
    warm(breaker)
    with pytest.raises(Boom):
        breaker.call(fail)
    before = evalsha_calls(client)
    for _ in range(5):
        with pytest.raises(CircuitOpenError) as info:
            breaker.call(ok)
    assert 50 < (info.value.retry_after or 0) <= 60
    assert evalsha_calls(client) == before


def test_half_open_admits_exactly_n_probes_across_breakers(client: redis.Redis) -> None:
    a = shared(client, window=Consecutive(1), open_duration=0.05, half_open_max_calls=2)
    b = shared(client, window=Consecutive(1), open_duration=0.05, half_open_max_calls=2)
    warm(a)
    with pytest.raises(Boom):
        a.call(fail)
    wait_until_half_open(a)
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
        counted.call(ok)
    with pytest.raises(Boom):
        counted.call(fail)
    assert counted.state is CircuitState.CLOSED  # 1/4
    with pytest.raises(Boom):
        counted.call(fail)
    assert counted.state is CircuitState.OPEN  # 2/4 (the oldest success slid out)
    timed = shared(client, "time", window=TimeWindow(60, failure_rate_threshold=0.6, minimum_calls=3))
    timed.call(ok)
    for _ in range(2):
        with pytest.raises(Boom):
            timed.call(fail)
    assert timed.state is CircuitState.OPEN


def test_count_window_resized_under_the_same_name_keeps_the_shared_window_consistent(client: redis.Redis) -> None:
    # a rolling deploy: the old release counts over 50 calls, the new one over 20, one shared window
    old = shared(client, "resized", window=CountWindow(50))
    new = shared(client, "resized", window=CountWindow(20))
    old_storage, new_storage = old.storage, new.storage
    assert old_storage is not None
    assert new_storage is not None
    run(old, "s" * 40 + "f" * 10)  # 20% failures: below the 50% threshold
    old_storage.flush()
    assert old_storage.window() == (50, 10, 0)
    run(new, "f")  # the shrunk window holds the 20 latest outcomes: 11 failures of 20, 55%: trips
    new_storage.flush()
    assert new.state is CircuitState.OPEN
    new.reset()
    run(new, "s" * 100)
    new_storage.flush()
    assert new_storage.window() == (20, 0, 0)
    run(new, "f")
    new_storage.flush()
    assert new_storage.window() == (20, 1, 0)
    assert new.state is CircuitState.CLOSED  # 1 failure in 20 trips nothing
    assert old.state is CircuitState.CLOSED  # a round trip: its copy learns of the trip and the reset
    run(old, "s" * 10)  # grown back to 50: the 20 outcomes kept, then 10 more
    old_storage.flush()
    assert old_storage.window() == (30, 1, 0)
    run(old, "s" * 100)
    old_storage.flush()
    assert old_storage.window() == (50, 0, 0)
    assert old.state is CircuitState.CLOSED


def test_count_window_written_before_sizes_were_stored_is_resized_too(client: redis.Redis) -> None:
    old = shared(client, "legacy", window=CountWindow(50))
    run(old, "s" * 40 + "f" * 10)
    assert old.storage is not None
    old.storage.flush()
    client.hdel("maestro:breaker:legacy", "size")  # as a release without sizes left it
    new = shared(client, "legacy", window=CountWindow(20))
    run(new, "f")  # 11 failures among the 20 latest outcomes
    assert new.storage is not None
    new.storage.flush()
    assert new.state is CircuitState.OPEN


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
    assert b.state is CircuitState.FORCED_OPEN
    with pytest.raises(CircuitOpenError) as info:
        b.call(ok)
    assert info.value.retry_after is None
    a.disable()
    assert b.state is CircuitState.DISABLED
    a.reset()
    assert b.state is CircuitState.CLOSED


def test_stale_copy_asks_redis_first(client: redis.Redis) -> None:
    a = CircuitBreaker("stale", window=Consecutive(1), storage=RedisStorage(client, max_staleness=0))
    b = CircuitBreaker("stale", window=Consecutive(1), storage=RedisStorage(client, max_staleness=0))
    a.call(ok)
    b.call(ok)
    with pytest.raises(Boom):
        a.call(fail)  # admitted by a round trip (max_staleness=0): its failure is deferred ...
    assert a.storage is not None
    a.storage.flush()  # ... until a's next round trip, or a background flush after flush_delay
    with pytest.raises(CircuitOpenError):
        b.call(ok)  # with max_staleness=0, b asks Redis before every closed-state call
    with pytest.raises(ValueError, match="max_staleness"):
        RedisStorage(client, max_staleness=-1)


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


# -- asyncio clients ------------------------------------------------------------------------------
async def test_async_client(async_client: redis.asyncio.Redis) -> None:
    breaker = CircuitBreaker("async", window=Consecutive(2), storage=RedisStorage(async_client))

    @breaker
    async def call(good: bool) -> str:
        if not good:
            raise Boom
        return "ok"

    assert await call(True) == "ok"
    for _ in range(2):
        with pytest.raises(Boom):
            await call(False)
    with pytest.raises(CircuitOpenError):
        await call(True)
    async with breaker.__class__("async-cm", storage=RedisStorage(async_client)):
        pass
    assert await async_client.hget("maestro:breaker:async", "state") == b"open"
    with pytest.raises(TypeError, match="asyncio Redis client"):

        @breaker
        def sync_fn() -> None:
            pass


async def test_half_open_admits_exactly_n_among_many_tasks(async_client: redis.asyncio.Redis) -> None:
    breakers = [
        CircuitBreaker("swarm", window=Consecutive(1), open_duration=0.05, half_open_max_calls=3,
                       storage=RedisStorage(async_client))
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
        await breakers[0].call_async(boom)  # a first call: its failure is deferred ...
    assert breakers[0].storage is not None
    await breakers[0].storage.flush_async()  # ... until sent: the open duration starts now, in Redis
    await async_wait_until_half_open(breakers[0])
    tasks = [asyncio.create_task(breakers[i % 4].call_async(probe)) for i in range(24)]
    await async_wait_until(lambda: sum(t.done() for t in tasks) >= 21, what="21 callers rejected")
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert admitted == 3
    assert sum(isinstance(r, CircuitOpenError) for r in results) == 21
    for b in breakers:  # the probes' outcomes are deferred: send them now rather than after flush_delay
        assert b.storage is not None
        await b.storage.flush_async()
    assert await async_client.hget("maestro:breaker:swarm", "state") == b"closed"


# -- several processes ----------------------------------------------------------------------------
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
    breaker.call(ok)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, redis_url], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "open"
    assert breaker.state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.call(ok)


# -- METRICS_ONLY and cluster-wide metrics --------------------------------------------------------
def thresholds(events: list[Event]) -> list[dict[str, object]]:
    return [e.detail for e in events if e.kind == "threshold_exceeded"]


def every_call_asks(client: redis.Redis, events: list[Event] | None = None, **kwargs: object) -> CircuitBreaker:
    return CircuitBreaker(
        "cluster",
        storage=RedisStorage(client, max_staleness=0),  # every call asks: deterministic round trips
        listeners=[events.append] if events is not None else [],
        **kwargs,  # type: ignore[arg-type]
    )


def test_metrics_only_in_redis_and_cluster_wide_window(client: redis.Redis) -> None:
    events_a: list[Event] = []
    events_b: list[Event] = []
    a = every_call_asks(client, events_a, window=CountWindow(4, failure_rate_threshold=0.5))
    b = every_call_asks(client, events_b, window=CountWindow(4, failure_rate_threshold=0.5))
    a.metrics_only()
    assert client.hget("maestro:breaker:cluster", "state") == b"metrics_only"
    run(a, "sf")
    run(b, "sf")  # the shared window reaches 2/4 with b's failure: b's round trip reports it
    assert b.storage is not None
    assert a.storage is not None
    b.storage.flush()
    a.storage.flush()
    metrics = b.metrics
    assert metrics.shared
    assert metrics.state is CircuitState.METRICS_ONLY
    assert (metrics.window_calls, metrics.window_failures, metrics.failure_rate) == (4, 2, 0.5)
    assert (metrics.calls, metrics.failures) == (2, 1)  # this process's own counters
    events = thresholds(events_a) + thresholds(events_b)
    assert events == [{"failure_rate": 0.5, "slow_call_rate": 0.0}]  # once, cluster-wide
    run(a, "ff")
    a.storage.flush()
    assert len(thresholds(events_a) + thresholds(events_b)) == 1
    assert a.state is CircuitState.METRICS_ONLY
    a.reset()
    run(a, "ffff")
    a.storage.flush()
    assert b.state is CircuitState.OPEN


def test_shared_window_figures_for_each_window(client: redis.Redis) -> None:
    consecutive = CircuitBreaker("c", window=Consecutive(10), storage=RedisStorage(client, max_staleness=0))
    run(consecutive, "sfff")
    assert consecutive.storage is not None
    assert consecutive.storage.window() == (3, 3, 0)
    timed = CircuitBreaker("t", window=TimeWindow(60, minimum_calls=100), storage=RedisStorage(client, max_staleness=0))
    run(timed, "sfsfs")
    metrics = timed.metrics
    assert (metrics.window_calls, metrics.window_failures, metrics.shared) == (5, 2, True)


async def test_metrics_async_reads_the_cluster_window(async_client: redis.asyncio.Redis) -> None:
    storage = RedisStorage(async_client, max_staleness=0)
    breaker = CircuitBreaker("async-cluster", window=CountWindow(10), storage=storage)

    async def aok() -> str:
        return "ok"

    async def afail() -> None:
        raise Boom

    await breaker.call_async(aok)
    with pytest.raises(Boom):
        await breaker.call_async(afail)
    await storage.flush_async()
    metrics = await breaker.metrics_async()
    assert (metrics.window_calls, metrics.window_failures, metrics.shared) == (2, 1, True)
    assert not breaker.metrics.shared  # the property cannot await: local figures
    with pytest.raises(TypeError, match="window_async"):
        storage.window()


# -- the Registry's clients -----------------------------------------------------------------------
def test_registry_builds_redis_backed_policies(client: redis.Redis, redis_url: str) -> None:
    url = f"{redis_url}?socket_timeout={DEADLINE}"  # a reply late on a loaded machine is no outage here
    registry = Registry.from_dict(
        {
            "shared": {"type": "circuit_breaker", "window": {"failures": 1}, "redis_url": url,
                       "redis_namespace": "cfg"},
            "limit": {"type": "rate_limiter", "rate": 1, "per": 60, "redis_url": url},
        }
    )  # fmt: skip
    breaker, limiter = registry["shared"], registry["limit"]
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.storage is not None
    try:
        with pytest.raises(Boom):
            breaker.call(fail)
        breaker.storage.flush()  # a first call's outcome is deferred (see RedisStorage)
        assert client.hget("cfg:shared", "state") == b"open"
        limiter.call(ok)
        with pytest.raises(RateLimitExceeded):
            limiter.call(ok)
        with pytest.raises(ValueError, match="redis_url"):
            Registry.from_dict({"x": {"type": "retry", "redis_url": redis_url}})
    finally:
        breaker.storage.client.close()
        limiter.client.close()  # type: ignore[attr-defined]


def test_registry_clients_fail_fast(redis_url: str) -> None:
    """A registry-built client follows RedisStorage's advice: short socket timeouts, no client-side retries."""
    registry = Registry.from_dict(
        {
            "default": {"type": "circuit_breaker", "redis_url": redis_url},
            "patient": {"type": "circuit_breaker", "redis_url": f"{redis_url}?socket_timeout=2"},
        }
    )
    clients = {name: registry[name].storage.client for name in registry}  # type: ignore[attr-defined]
    try:
        for name, expected_timeout in (("default", 0.5), ("patient", 2.0)):
            settings = clients[name].connection_pool.connection_kwargs
            assert isinstance(clients[name], redis.Redis)
            assert settings["socket_timeout"] == expected_timeout  # the URL's own setting wins
            assert settings["socket_connect_timeout"] == 0.5
            retry = settings["retry"]
            assert (retry.get_retries() if hasattr(retry, "get_retries") else retry._retries) == 0  # redis-py 5.0
    finally:
        for c in clients.values():
            c.close()


def test_timeouts_outside_a_shared_breaker_count_as_its_failures(client: redis.Redis) -> None:
    breaker = shared(client, "shared-hanging", window=Consecutive(2))
    release = threading.Event()

    @Pipeline(Timeout(0.5), breaker)  # (0.5 s: time enough for a worker to start the call under load)
    def hang() -> None:
        release.wait(LONG)

    try:
        for _ in range(2):
            with pytest.raises(TimeoutExceeded):
                hang()
        assert breaker.storage is not None
        breaker.storage.flush()
        assert client.hget("maestro:breaker:shared-hanging", "state") == b"open"
    finally:
        release.set()


async def test_async_timeouts_outside_a_shared_breaker_count_as_its_failures(
    async_client: redis.asyncio.Redis,
) -> None:
    storage = RedisStorage(async_client)
    breaker = CircuitBreaker("async-shared-hanging", window=Consecutive(2), storage=storage)

    entered = 0

    # 0.5 s: a deadline that passes during the breaker's own admission round trip (a first
    # connection under load took > 50 ms) cancels before the call runs, and is not the call's failure
    @Pipeline(Timeout(0.5), breaker)
    async def hang() -> None:
        nonlocal entered
        entered += 1
        await asyncio.sleep(LONG)

    for _ in range(2):
        with pytest.raises(TimeoutExceeded):
            await hang()
    assert entered == 2, "the deadline passed before the breaker admitted the call"
    await storage.flush_async()
    assert await async_client.hget("maestro:breaker:async-shared-hanging", "state") == b"open"
    with pytest.raises(CircuitOpenError):
        await hang()
    await storage.aclose()


@pytest.mark.parametrize(("probe", "final"), [(ok, "closed"), (fail, "open")], ids=["probe-closes", "probe-fails"])
def test_a_probe_made_elsewhere_reaches_listeners_through_half_open(
    client: redis.Redis, probe: Callable[[], object], final: str
) -> None:
    events: list[Event] = []
    watcher = shared(client, window=Consecutive(1), open_duration=0.05, listeners=[events.append])
    prober = shared(client, window=Consecutive(1), open_duration=0.05)
    with pytest.raises(Boom):
        watcher.call(fail)
    wait_until_half_open(prober)
    with contextlib.suppress(Boom):
        prober.call(probe)  # half-open, then closed or open again: only the prober saw it happen
    assert prober.state.value == final  # its round trip carries the probe's deferred outcome
    assert watcher.state.value == final  # one round trip: the watcher learns the new state
    changes = [(e.detail["old"], e.detail["new"]) for e in events if e.kind == "state_change"]
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", final)]
