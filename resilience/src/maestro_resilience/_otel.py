"""OpenTelemetry metrics (extra ``otel``): event counters, a call-duration histogram and the gauges operators watch.

Importing this module imports ``opentelemetry-api`` (``pip install 'maestro-resilience[otel]'``).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar

try:
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, Observation
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("OpenTelemetryMetrics needs opentelemetry-api: pip install 'maestro-resilience[otel]'") from error

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import Event, add_global_listener, remove_global_listener
from maestro_resilience._exceptions import ConfigurationError
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
      attributes ``policy`` (this policy's name) and ``outcome`` (``success`` or the exception's class name);
    * as **gauges** of the policies given to ``observe(...)``, read at each collection (resilience4j's
      and Polly's), each with attribute ``policy`` (the observed policy's name):
      ``maestro_resilience.circuit_breaker.state`` (1 for the current state, 0 for the others, attribute
      ``state``), ``maestro_resilience.circuit_breaker.failure_rate`` and ``.slow_call_rate`` (0 to 1,
      over the breaker's window), ``maestro_resilience.bulkhead.in_use``, ``.queued`` and ``.limit``,
      ``maestro_resilience.rate_limiter.available_permits`` and ``maestro_resilience.timeout.abandoned``.

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
        self._observed: list[weakref.ref[Policy]] = []
        for gauge, unit, description in _GAUGES:
            meter.create_observable_gauge(
                f"maestro_resilience.{gauge}", callbacks=[self._reader(gauge)], unit=unit, description=description
            )

    def observe(self, *policies: Policy) -> None:
        """Publish the gauges of these breakers, bulkheads, rate limiters and timeouts.

        Policies are held weakly: one that is garbage-collected drops out of the gauges.

        Raises:
            ConfigurationError: a policy with no gauge (a ``Retry``, a ``Fallback``...).

        Examples:
            >>> from opentelemetry.sdk.metrics import MeterProvider
            >>> from opentelemetry.sdk.metrics.export import InMemoryMetricReader
            >>> from maestro_resilience import CircuitBreaker, OpenTelemetryMetrics
            >>> reader = InMemoryMetricReader()
            >>> metrics = OpenTelemetryMetrics(meter_provider=MeterProvider(metric_readers=[reader]))
            >>> breaker = CircuitBreaker("db")
            >>> metrics.observe(breaker)
            >>> data = reader.get_metrics_data()
            >>> [
            ...     (p.attributes["state"], p.value)
            ...     for r in data.resource_metrics
            ...     for s in r.scope_metrics
            ...     for m in s.metrics
            ...     if m.name == "maestro_resilience.circuit_breaker.state"
            ...     for p in m.data.data_points
            ... ][:2]
            [('closed', 1), ('open', 0)]
        """
        for policy in policies:
            if not isinstance(policy, _observable()):
                raise ConfigurationError(
                    f"observe() takes breakers, bulkheads, rate limiters and timeouts, got {policy!r}"
                )
        self._observed.extend(weakref.ref(policy) for policy in policies)

    def _policies(self) -> list[Any]:
        alive = [policy for ref in self._observed if (policy := ref()) is not None]
        if len(alive) != len(self._observed):
            self._observed = [weakref.ref(policy) for policy in alive]
        return alive

    def _reader(self, gauge: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def read(options: CallbackOptions) -> Iterable[Observation]:
            return [point for policy in self._policies() for point in _points(gauge, policy)]

        return read

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


_GAUGES = (
    ("circuit_breaker.state", "1", "1 for the breaker's current state (attribute state), 0 for the others"),
    ("circuit_breaker.failure_rate", "1", "Failed calls / calls in the breaker's window"),
    ("circuit_breaker.slow_call_rate", "1", "Slow calls / calls in the breaker's window"),
    ("bulkhead.in_use", "{call}", "Calls holding a bulkhead slot"),
    ("bulkhead.queued", "{call}", "Callers waiting for a bulkhead slot"),
    ("bulkhead.limit", "{call}", "Slots of the bulkhead"),
    ("rate_limiter.available_permits", "{permit}", "Permits a caller could take without waiting"),
    ("timeout.abandoned", "{thread}", "Timed-out sync calls still running on their worker threads"),
)


def _observable() -> tuple[type, ...]:
    from maestro_resilience._breaker import CircuitBreaker  # noqa: PLC0415
    from maestro_resilience._bulkhead import Bulkhead, ThreadPoolBulkhead  # noqa: PLC0415
    from maestro_resilience._ratelimit import RateLimiter  # noqa: PLC0415
    from maestro_resilience._timeout import Timeout  # noqa: PLC0415

    return (CircuitBreaker, Bulkhead, ThreadPoolBulkhead, RateLimiter, Timeout)


def _points(gauge: str, policy: Any) -> list[Observation]:
    """The observations of one gauge for one policy (none when the gauge is not the policy's kind)."""
    from maestro_resilience._breaker import CircuitBreaker, CircuitState  # noqa: PLC0415
    from maestro_resilience._bulkhead import Bulkhead, ThreadPoolBulkhead  # noqa: PLC0415
    from maestro_resilience._ratelimit import RateLimiter  # noqa: PLC0415
    from maestro_resilience._timeout import Timeout  # noqa: PLC0415

    name = {"policy": policy.name}
    value: float | None = None
    if gauge == "circuit_breaker.state" and isinstance(policy, CircuitBreaker):
        current = policy.state
        return [Observation(int(state is current), {**name, "state": state.value}) for state in CircuitState]
    if gauge.startswith("circuit_breaker.") and isinstance(policy, CircuitBreaker):
        snapshot = policy.metrics
        calls = snapshot.window_calls
        slow_rate = snapshot.window_slow_calls / calls if calls else 0.0
        value = snapshot.failure_rate if gauge == "circuit_breaker.failure_rate" else slow_rate
    elif gauge.startswith("bulkhead.") and isinstance(policy, Bulkhead | ThreadPoolBulkhead):
        limit = policy.max_concurrent if isinstance(policy, Bulkhead) else policy.max_workers
        value = {"bulkhead.in_use": policy.active, "bulkhead.queued": policy.waiting}.get(gauge, limit)
    elif gauge.startswith("rate_limiter.") and isinstance(policy, RateLimiter):
        value = policy.available_permits
    elif gauge.startswith("timeout.") and isinstance(policy, Timeout):
        value = policy.abandoned
    return [] if value is None else [Observation(value, name)]
