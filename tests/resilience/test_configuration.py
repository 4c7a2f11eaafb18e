"""Every policy checks its configuration at construction and names the parameter at fault."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from maestro_resilience import (
    Bulkhead,
    Chaos,
    CircuitBreaker,
    ConfigurationError,
    CountWindow,
    Fallback,
    RateLimiter,
    ResilienceError,
    Retry,
    RetryBudget,
    ThreadPoolBulkhead,
    Timeout,
    TimeWindow,
)


@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (lambda: Bulkhead(0), ValueError, "max_concurrent must be an int >= 1"),
        (lambda: Bulkhead(1, max_wait=-1), ValueError, "max_wait"),
        (lambda: ThreadPoolBulkhead(0), ValueError, "max_workers"),
        (lambda: ThreadPoolBulkhead(1, max_queue=-1), ValueError, "max_queue"),
        (lambda: Timeout(0), ValueError, "seconds must be a finite number > 0"),
        (lambda: Timeout(1, max_workers=0), ValueError, "max_workers"),
        (lambda: Fallback(1, on="Exception"), TypeError, "on must be"),
        (lambda: Fallback(func=3), TypeError, "func"),
        (lambda: RateLimiter(1, per=0), ValueError, "per"),
        (lambda: RateLimiter(1, max_wait=-1), ValueError, "max_wait"),
        (lambda: Chaos(latency=-1), ValueError, "latency"),
        (lambda: Chaos(fault=3), TypeError, "fault"),
        (lambda: Bulkhead(1, name=""), TypeError, "name"),
        (lambda: Bulkhead(1, listeners=[3]), TypeError, "listeners"),
    ],
)
def test_bad_configuration_fails_at_construction(
    factory: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        factory()


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(
    ("field", "factory"),
    [
        ("open_duration", lambda v: CircuitBreaker(open_duration=v)),
        ("max_open_duration", lambda v: CircuitBreaker(max_open_duration=v)),
        ("open_duration_multiplier", lambda v: CircuitBreaker(open_duration_multiplier=v)),
        ("max_wait", lambda v: Bulkhead(1, max_wait=v)),
        ("rate", RateLimiter),
        ("per", lambda v: RateLimiter(1, per=v)),
        ("max_wait", lambda v: RateLimiter(1, max_wait=v)),
        ("seconds", Timeout),
        ("latency", lambda v: Chaos(latency=v)),
        ("fault_rate", lambda v: Chaos(fault_rate=v)),
        ("deadline", lambda v: Retry(deadline=v)),
        ("min_per_second", lambda v: RetryBudget(min_per_second=v)),
        ("max_tokens", lambda v: RetryBudget(max_tokens=v)),
        ("failure_rate_threshold", lambda v: CountWindow(10, failure_rate_threshold=v)),
        ("seconds", TimeWindow),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(
    field: str, factory: Callable[[float], object], bad: float
) -> None:
    with pytest.raises(ConfigurationError, match=rf"\b{field} must be a finite number") as info:
        factory(bad)
    assert info.value.field == field
    assert isinstance(info.value, ResilienceError)
    assert isinstance(info.value, ValueError)  # what it was before: existing handlers still catch it


def test_configuration_error_is_one_type_for_every_refusal() -> None:
    for factory in (lambda: Bulkhead(0), lambda: Fallback(func=3), lambda: Timeout(1, sync_mode="fork")):
        with pytest.raises(ConfigurationError):
            factory()  # type: ignore[no-untyped-call]
