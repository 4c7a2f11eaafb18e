"""OpenTelemetry metrics: event counters and the call-duration histogram, read back with the SDK."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest
import tenacity
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from maestro_resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitState,
    ConfigurationError,
    Consecutive,
    CountWindow,
    OpenTelemetryMetrics,
    Pipeline,
    RateLimiter,
    Retry,
    ThreadPoolBulkhead,
    Timeout,
    TimeoutExceeded,
)
from maestro_resilience.testing import FakeClock
from tests.resilience.support import LONG
from tests.waiting import wait_until


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    if data is None:  # nothing to export at all
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = list(metric.data.data_points)
    return found


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


def test_events_and_call_metrics(reader: InMemoryMetricReader) -> None:
    clock = FakeClock()
    metrics = OpenTelemetryMetrics("payments", meter_provider=MeterProvider(metric_readers=[reader]), clock=clock)
    breaker = CircuitBreaker("pay-breaker", window=Consecutive(2), listeners=[metrics.on_event], clock=clock)

    @Pipeline(metrics, Retry(attempts=2, wait=tenacity.wait_fixed(0.5), clock=clock), breaker)
    def pay(ok: bool) -> str:
        clock.advance(0.25)  # each attempt takes a quarter of a second
        if not ok:
            raise ConnectionError
        return "paid"

    assert pay(True) == "paid"
    with pytest.raises(ConnectionError):
        pay(False)
    found = points(reader)
    events = {(p.attributes["kind"], p.attributes.get("state")): p.value for p in found["maestro_resilience.events"]}
    assert events == {("state_change", "open"): 1}  # only the breaker reports to this listener
    calls = {p.attributes["outcome"]: p.value for p in found["maestro_resilience.calls"]}
    assert calls == {"success": 1, "ConnectionError": 1}
    durations = {p.attributes["outcome"]: p for p in found["maestro_resilience.call.duration"]}
    assert {p.attributes["policy"] for p in durations.values()} == {"payments"}
    assert (durations["success"].count, durations["success"].sum) == (1, 0.25)
    assert (durations["ConnectionError"].count, durations["ConnectionError"].sum) == (1, 0.25 + 0.5 + 0.25)


async def test_async_and_global_install(reader: InMemoryMetricReader) -> None:
    metrics = OpenTelemetryMetrics(meter_provider=MeterProvider(metric_readers=[reader]))
    metrics.install()
    try:
        retry = Retry(attempts=3, clock=FakeClock(), name="r")
        attempts = 0

        @metrics
        @retry
        async def flaky() -> int:
            nonlocal attempts
            attempts += 1
            await asyncio.sleep(0)
            if attempts < 3:
                raise TimeoutError
            return attempts

        assert await flaky() == 3
    finally:
        metrics.uninstall()
    found = points(reader)
    retries = [p for p in found["maestro_resilience.events"] if p.attributes == {"policy": "r", "kind": "retry"}]
    assert retries[0].value == 2
    assert [p.attributes["outcome"] for p in found["maestro_resilience.calls"]] == ["success"]


def gauges(reader: InMemoryMetricReader, name: str) -> dict[tuple[str, ...], Any]:
    """One gauge's values by attributes (``policy``, then ``state`` where there is one)."""
    return {
        tuple(str(v) for v in point.attributes.values()): point.value
        for point in points(reader).get(f"maestro_resilience.{name}", [])
    }


def test_breaker_gauges_state_failure_rate_and_slow_call_rate(reader: InMemoryMetricReader) -> None:
    clock = FakeClock()
    metrics = OpenTelemetryMetrics(meter_provider=MeterProvider(metric_readers=[reader]))
    window = CountWindow(10, failure_rate_threshold=0.9, slow_call_duration=1.0)
    breaker = CircuitBreaker("db", window=window, clock=clock)
    metrics.observe(breaker)
    assert gauges(reader, "circuit_breaker.failure_rate") == {("db",): 0.0}

    def slow() -> None:
        clock.advance(1.5)

    for fn in (lambda: None, lambda: None, slow):
        breaker.call(fn)
    with pytest.raises(ZeroDivisionError):
        breaker.call(lambda: 1 / 0)
    assert gauges(reader, "circuit_breaker.failure_rate") == {("db",): 0.25}
    assert gauges(reader, "circuit_breaker.slow_call_rate") == {("db",): 0.25}
    states = gauges(reader, "circuit_breaker.state")
    assert states == {("db", state.value): int(state is CircuitState.CLOSED) for state in CircuitState}
    breaker.open()
    assert gauges(reader, "circuit_breaker.state")[("db", "open")] == 1
    assert sum(gauges(reader, "circuit_breaker.state").values()) == 1


@pytest.mark.timing  # a real thread queues
def test_bulkhead_gauges_in_use_queued_and_limit(reader: InMemoryMetricReader) -> None:
    metrics = OpenTelemetryMetrics(meter_provider=MeterProvider(metric_readers=[reader]))
    bulkhead = Bulkhead(1, max_wait=LONG, name="pool")
    metrics.observe(bulkhead)
    with bulkhead:
        waiter = threading.Thread(target=bulkhead.call, args=(lambda: None,))
        waiter.start()
        wait_until(lambda: bulkhead.waiting == 1, what="the second caller to queue")
        assert {name: gauges(reader, f"bulkhead.{name}") for name in ("in_use", "queued", "limit")} == {
            "in_use": {("pool",): 1},
            "queued": {("pool",): 1},
            "limit": {("pool",): 1},
        }
    waiter.join()
    assert gauges(reader, "bulkhead.in_use") == {("pool",): 0}


@pytest.mark.timing  # a real deadline on a worker thread
def test_rate_limiter_and_timeout_gauges(reader: InMemoryMetricReader) -> None:
    clock = FakeClock()
    metrics = OpenTelemetryMetrics(meter_provider=MeterProvider(metric_readers=[reader]))
    limiter = RateLimiter(2, burst=4, name="api", clock=clock)
    timeout = Timeout(0.05, name="slow", max_workers=1)
    metrics.observe(limiter, timeout)
    for _ in range(3):
        limiter.acquire()
    assert gauges(reader, "rate_limiter.available_permits") == {("api",): 1}
    clock.advance(0.5)
    assert gauges(reader, "rate_limiter.available_permits") == {("api",): 2}
    release = threading.Event()
    try:
        with pytest.raises(TimeoutExceeded):
            timeout.call(release.wait, LONG)
        assert gauges(reader, "timeout.abandoned") == {("slow",): 1}
    finally:
        release.set()
        wait_until(lambda: timeout.abandoned == 0, what="the abandoned call to return")
        timeout.shutdown()
    assert gauges(reader, "timeout.abandoned") == {("slow",): 0}


def test_observe_refuses_policies_without_gauges_and_drops_collected_ones(reader: InMemoryMetricReader) -> None:
    metrics = OpenTelemetryMetrics(meter_provider=MeterProvider(metric_readers=[reader]))
    with pytest.raises(ConfigurationError, match="observe"):
        metrics.observe(Retry())
    breaker = CircuitBreaker("gone")
    metrics.observe(breaker)
    assert gauges(reader, "circuit_breaker.failure_rate") == {("gone",): 0.0}
    del breaker
    gc.collect()
    assert gauges(reader, "circuit_breaker.failure_rate") == {}


@pytest.mark.timing  # real threads run and queue on the pool
def test_thread_pool_bulkhead_gauges(reader: InMemoryMetricReader) -> None:
    metrics = OpenTelemetryMetrics(meter_provider=MeterProvider(metric_readers=[reader]))
    pool = ThreadPoolBulkhead(1, max_queue=1, name="reports")
    metrics.observe(pool)
    release = threading.Event()
    callers = [threading.Thread(target=pool.call, args=(release.wait, LONG)) for _ in range(2)]
    try:
        callers[0].start()
        wait_until(lambda: pool.active == 1, what="the first call to run")
        callers[1].start()
        wait_until(lambda: pool.waiting == 1, what="the second call to queue")
        assert {name: gauges(reader, f"bulkhead.{name}") for name in ("in_use", "queued", "limit")} == {
            "in_use": {("reports",): 1},
            "queued": {("reports",): 1},
            "limit": {("reports",): 1},
        }
    finally:
        release.set()
        for caller in callers:
            caller.join()
        pool.shutdown()
    assert (gauges(reader, "bulkhead.in_use"), gauges(reader, "bulkhead.queued")) == (
        {("reports",): 0},
        {("reports",): 0},
    )
