"""METRICS_ONLY (always pass, keep measuring, emit threshold events) and cluster-wide metrics in Redis."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio

from maestro_resilience import CircuitBreaker, CircuitState, Consecutive, CountWindow, Event, RedisStorage, TimeWindow
from maestro_resilience.testing import FakeClock, force_state


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


def thresholds(events: list[Event]) -> list[dict[str, object]]:
    return [e.detail for e in events if e.kind == "threshold_exceeded"]


def test_metrics_only_passes_measures_and_emits_once_per_entry() -> None:
    events: list[Event] = []
    breaker = CircuitBreaker(
        "watched", window=CountWindow(4, failure_rate_threshold=0.5), listeners=[events.append], clock=FakeClock()
    )
    breaker.metrics_only()
    assert breaker.state is CircuitState.METRICS_ONLY
    assert breaker.current_state == "closed"  # pybreaker's vocabulary
    run(breaker, "sfsf")  # 50 %: a CLOSED breaker would trip here
    assert breaker.state is CircuitState.METRICS_ONLY
    assert thresholds(events) == [{"failure_rate": 0.5, "slow_call_rate": 0.0}]
    run(breaker, "ffff")  # still over: no second event in this entry
    assert len(thresholds(events)) == 1
    assert breaker.call(ok) == "ok"
    metrics = breaker.metrics
    assert metrics.state is CircuitState.METRICS_ONLY
    assert (metrics.calls, metrics.failures, metrics.window_calls, metrics.window_failures) == (9, 6, 4, 3)
    breaker.metrics_only()  # a new entry (and a new window): the next crossing is reported again
    run(breaker, "ffff")
    assert len(thresholds(events)) == 2
    assert [(e.detail["old"], e.detail["new"]) for e in events if e.kind == "state_change"] == [
        ("closed", "metrics_only"),
    ]
    breaker.reset()
    run(breaker, "ffff")
    assert breaker.state is CircuitState.OPEN  # out of METRICS_ONLY the window trips again


def test_disabled_measures_without_threshold_events() -> None:
    events: list[Event] = []
    breaker = CircuitBreaker(window=Consecutive(2), listeners=[events.append], clock=FakeClock())
    force_state(breaker, "disabled")
    run(breaker, "fffff")
    assert breaker.state is CircuitState.DISABLED
    assert breaker.metrics.failures == 5
    assert thresholds(events) == []
    force_state(breaker, "metrics_only")
    run(breaker, "ff")
    assert thresholds(events) == [{"failure_rate": 1.0, "slow_call_rate": 0.0}]


# -- Redis: the state, the threshold event and the window are cluster-wide --------------------------
@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def shared(client: redis.Redis, events: list[Event] | None = None, **kwargs: object) -> CircuitBreaker:
    return CircuitBreaker(
        "cluster",
        storage=RedisStorage(client, max_staleness=0),  # every call asks: deterministic round trips
        listeners=[events.append] if events is not None else [],
        **kwargs,  # type: ignore[arg-type]
    )


def test_metrics_only_in_redis_and_cluster_wide_window(client: redis.Redis) -> None:
    events_a: list[Event] = []
    events_b: list[Event] = []
    a = shared(client, events_a, window=CountWindow(4, failure_rate_threshold=0.5))
    b = shared(client, events_b, window=CountWindow(4, failure_rate_threshold=0.5))
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


async def test_metrics_async_reads_the_cluster_window(redis_url: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        breaker = CircuitBreaker("async-cluster", window=CountWindow(10), storage=RedisStorage(client, max_staleness=0))

        async def aok() -> str:
            return "ok"

        async def afail() -> None:
            raise Boom

        await breaker.call_async(aok)
        with pytest.raises(Boom):
            await breaker.call_async(afail)
        assert breaker.storage is not None
        await breaker.storage.flush_async()
        metrics = await breaker.metrics_async()
        assert (metrics.window_calls, metrics.window_failures, metrics.shared) == (2, 1, True)
        assert not breaker.metrics.shared  # the property cannot await: local figures
        with pytest.raises(TypeError, match="window_async"):
            breaker.storage.window()
    finally:
        await client.aclose()


def test_metrics_without_storage_are_local() -> None:
    breaker = CircuitBreaker(clock=FakeClock())
    breaker.call(ok)
    assert not breaker.metrics.shared
    assert breaker.metrics.window_slow_calls == 0
