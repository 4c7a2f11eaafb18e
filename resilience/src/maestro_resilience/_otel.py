"""OpenTelemetry metrics (extra ``otel``): event counters and a call-duration histogram.

Importing this module imports ``opentelemetry-api`` (``pip install 'maestro-resilience[otel]'``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

try:
    from opentelemetry import metrics
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("OpenTelemetryMetrics needs opentelemetry-api: pip install 'maestro-resilience[otel]'") from error

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import Event, add_global_listener, remove_global_listener
from maestro_resilience._policy import Policy

__all__ = ["OpenTelemetryMetrics"]

P = ParamSpec("P")
R = TypeVar("R")


class OpenTelemetryMetrics(Policy):
    """Export resilience metrics through OpenTelemetry.

    Two uses, together or apart:

    * as an **event listener** (``install()`` attaches it to every policy; or pass ``metrics.on_event``
      to one policy's ``listeners``): counter ``maestro_resilience.events`` with attributes
      ``policy`` and ``kind`` (state changes also carry ``state``), so breaker trips, retries,
      rejections, timeouts and fallbacks are counted;
    * as a **policy** (``@metrics`` or first in a ``Pipeline``): histogram
      ``maestro_resilience.call.duration`` in seconds and counter ``maestro_resilience.calls``, with
      attributes ``policy`` (this policy's name) and ``outcome`` (``success`` or the exception's class name).

    Args:
        name: the ``policy`` attribute of the call metrics.
        meter_provider: defaults to the global one (``opentelemetry.metrics.get_meter_provider()``).
        clock: what call durations are measured with (``maestro_resilience.testing.FakeClock`` in tests).

    Examples:
        >>> from opentelemetry.sdk.metrics import MeterProvider
        >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        >>> from maestro_resilience import OpenTelemetryMetrics
        >>> reader = InMemoryMetricReader()
        >>> metrics = OpenTelemetryMetrics("checkout", meter_provider=MeterProvider(metric_readers=[reader]))
        >>> @metrics
        ... def pay() -> str:
        ...     return "paid"
        >>> pay()
        'paid'
        >>> data = reader.get_metrics_data()
        >>> sorted(m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics)
        ['maestro_resilience.call.duration', 'maestro_resilience.calls']
    """

    def __init__(self, name: str | None = None, *, meter_provider: Any = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(name, clock=clock)
        provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        meter = provider.get_meter("maestro_resilience")
        self._events = meter.create_counter(
            "maestro_resilience.events", unit="{event}", description="Events of resilience policies"
        )
        self._calls = meter.create_counter("maestro_resilience.calls", unit="{call}", description="Guarded calls")
        self._duration = meter.create_histogram(
            "maestro_resilience.call.duration", unit="s", description="Duration of guarded calls"
        )

    def on_event(self, event: Event) -> None:
        """Count one event (an ``EventListener``)."""
        attributes = {"policy": event.policy, "kind": event.kind}
        if event.kind == "state_change":
            attributes["state"] = str(event.detail.get("new"))
        self._events.add(1, attributes)

    def install(self) -> None:
        """Count the events of every policy (``add_global_listener(self.on_event)``)."""
        add_global_listener(self.on_event)

    def uninstall(self) -> None:
        """Undo ``install()``."""
        remove_global_listener(self.on_event)

    def _record(self, start: float, outcome: str) -> None:
        attributes = {"policy": self.name, "outcome": outcome}
        self._duration.record(self.clock.monotonic() - start, attributes)
        self._calls.add(1, attributes)

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        policy = self
        monotonic = self.clock.monotonic

        def measured(*args: P.args, **kwargs: P.kwargs) -> R:
            start = monotonic()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                policy._record(start, type(exc).__name__)
                raise
            policy._record(start, "success")
            return result

        return measured

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        policy = self
        monotonic = self.clock.monotonic

        async def measured(*args: P.args, **kwargs: P.kwargs) -> R:
            start = monotonic()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                policy._record(start, type(exc).__name__)
                raise
            policy._record(start, "success")
            return result

        return measured
