"""OpenTelemetry metrics: event counters and the call-duration histogram, read back with the SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import tenacity
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from maestro_resilience import CircuitBreaker, Consecutive, OpenTelemetryMetrics, Pipeline, Retry
from maestro_resilience.testing import FakeClock


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    assert data is not None
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
