"""Circuit breaker, retry, bulkhead, timeout, fallback and rate limiting for sync and asyncio
Python, with shared state in Redis.

Every policy works as a decorator (keeping the function's signature), by call
(``policy.call(fn, ...)`` / ``await policy.call_async(fn, ...)``) and, where it can guard a block,
as a context manager; on ``def`` and ``async def`` alike. A failing call re-raises the original
exception; errors of the policies themselves derive from :class:`ResilienceError`.
"""

from typing import TYPE_CHECKING
from typing import Any as _Any

from maestro_resilience.__about__ import __version__
from maestro_resilience._breaker import BreakerMetrics, CircuitBreaker, CircuitState
from maestro_resilience._bulkhead import Bulkhead, ThreadPoolBulkhead
from maestro_resilience._chaos import Chaos
from maestro_resilience._clock import Clock, SystemClock
from maestro_resilience._events import Event, LoggingListener, add_global_listener, remove_global_listener
from maestro_resilience._exceptions import (
    BulkheadFullError,
    ChaosFault,
    CircuitOpenError,
    ConfigurationError,
    RateLimitExceeded,
    ResilienceError,
    StorageUnavailable,
    TimeoutExceeded,
)
from maestro_resilience._fallback import Fallback, FallbackOutcome
from maestro_resilience._pipeline import Pipeline
from maestro_resilience._policy import Policy
from maestro_resilience._ratelimit import RateLimiter
from maestro_resilience._registry import Registry
from maestro_resilience._retry import Attempt, RetriedFunction, Retry, RetryBudget
from maestro_resilience._timeout import Timeout
from maestro_resilience._windows import Consecutive, CountWindow, TimeWindow

if TYPE_CHECKING:
    from maestro_resilience._otel import OpenTelemetryMetrics
    from maestro_resilience._redis import RedisRateLimiter, RedisStorage

__all__ = [
    "Attempt",
    "BreakerMetrics",
    "Bulkhead",
    "BulkheadFullError",
    "Chaos",
    "ChaosFault",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "Clock",
    "ConfigurationError",
    "Consecutive",
    "CountWindow",
    "Event",
    "Fallback",
    "FallbackOutcome",
    "LoggingListener",
    "OpenTelemetryMetrics",
    "Pipeline",
    "Policy",
    "RateLimitExceeded",
    "RateLimiter",
    "RedisRateLimiter",
    "RedisStorage",
    "Registry",
    "ResilienceError",
    "RetriedFunction",
    "Retry",
    "RetryBudget",
    "StorageUnavailable",
    "SystemClock",
    "ThreadPoolBulkhead",
    "TimeWindow",
    "Timeout",
    "TimeoutExceeded",
    "__version__",
    "add_global_listener",
    "remove_global_listener",
]


def __getattr__(name: str) -> _Any:
    """Import the Redis-backed classes (redis-py) and OpenTelemetry support only when first used."""
    if name in ("RedisStorage", "RedisRateLimiter"):
        from maestro_resilience import _redis  # noqa: PLC0415

        return getattr(_redis, name)
    if name == "OpenTelemetryMetrics":
        from maestro_resilience import _otel  # noqa: PLC0415

        return _otel.OpenTelemetryMetrics
    raise AttributeError(f"module 'maestro_resilience' has no attribute {name!r}")
