"""Errors raised by maestro-resilience.

A guarded call that fails re-raises the ORIGINAL exception, unwrapped. The errors below are
raised only when a policy itself refuses or abandons a call::

    ResilienceError                 root of every error this library raises
    ├── CircuitOpenError            the breaker rejected the call (open, forced open, or half-open full)
    ├── BulkheadFullError           no concurrency slot (or queue place) within max_wait
    ├── RateLimitExceeded           no rate-limit token within max_wait
    ├── TimeoutExceeded             also a builtin TimeoutError: the call overran its Timeout
    ├── ChaosFault                  the default fault injected by Chaos
    ├── StorageUnavailable          shared storage unavailable and the policy is set to fail
    └── ConfigurationError          a policy or Registry configuration was refused (also ValueError, TypeError)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "BulkheadFullError",
    "ChaosFault",
    "CircuitOpenError",
    "ConfigurationError",
    "RateLimitExceeded",
    "ResilienceError",
    "StorageUnavailable",
    "TimeoutExceeded",
]


class ResilienceError(Exception):
    """Root of every error raised by a maestro-resilience policy itself.

    Examples:
        >>> from maestro_resilience import Bulkhead, ResilienceError
        >>> bulkhead = Bulkhead(1, name="reports")
        >>> with bulkhead:
        ...     try:
        ...         bulkhead.call(print, "never printed")
        ...     except ResilienceError as error:  # any refusal by a policy, never the call's own errors
        ...         print(type(error).__name__)
        BulkheadFullError
    """


class CircuitOpenError(ResilienceError):
    """The circuit breaker rejected the call without running it.

    Attributes:
        name: the breaker's name.
        state: the breaker's state when it rejected (``"open"``, ``"forced_open"`` or ``"half_open"``).
        retry_after: seconds until the breaker admits a probe again (when half-open is full: until
            the probe lease takes the slots back), never 0; ``None`` when no time can be given
            (forced open, or half-open full without a probe lease).

    Examples:
        >>> from maestro_resilience import CircuitBreaker, CircuitOpenError
        >>> breaker = CircuitBreaker("payments")
        >>> breaker.force_open()
        >>> try:
        ...     breaker.call(print, "never printed")
        ... except CircuitOpenError as error:
        ...     print(error.name, error.state, error.retry_after)
        payments forced_open None
    """

    # Raised on the hot rejection path: the constructor is BaseException's own (C) one, and the
    # attributes read ``args``, so building one costs no more than a plain exception.
    if TYPE_CHECKING:

        def __init__(self, name: str, state: str, retry_after: float | None) -> None: ...

    @property
    def name(self) -> str:
        """The breaker's name."""
        return str(self.args[0])

    @property
    def state(self) -> str:
        """The breaker's state when it rejected."""
        return str(self.args[1])

    @property
    def retry_after(self) -> float | None:
        """Seconds until a probe is admitted (``None``: forced open)."""
        value = self.args[2]
        return None if value is None else float(value)

    def __str__(self) -> str:
        when = "" if self.retry_after is None else f"; retry after {self.retry_after:.3f}s"
        return f"circuit breaker {self.name!r} is {self.state}{when}"


class BulkheadFullError(ResilienceError):
    """The bulkhead had no free slot (or queue place) within its ``max_wait``.

    Attributes:
        name: the bulkhead's name.
        max_concurrent: its concurrency limit.

    Examples:
        >>> from maestro_resilience import Bulkhead, BulkheadFullError
        >>> pool = Bulkhead(1, name="db-pool")
        >>> with pool:
        ...     try:
        ...         pool.call(print, "never printed")
        ...     except BulkheadFullError as error:
        ...         print(error.name, error.max_concurrent)
        db-pool 1
    """

    def __init__(self, name: str, max_concurrent: int) -> None:
        self.name = name
        self.max_concurrent = max_concurrent
        super().__init__(f"bulkhead {name!r} is full ({max_concurrent} concurrent calls)")

    def __reduce__(self) -> tuple[type[BulkheadFullError], tuple[str, int]]:
        return (type(self), (self.name, self.max_concurrent))


class RateLimitExceeded(ResilienceError):
    """No rate-limit permit was available within the limiter's ``max_wait``.

    Attributes:
        name: the limiter's name.
        retry_after: seconds until a permit is expected to be available.

    Examples:
        >>> from maestro_resilience import RateLimiter, RateLimitExceeded
        >>> from maestro_resilience.testing import FakeClock
        >>> limiter = RateLimiter(1, per=60, name="exports", clock=FakeClock())
        >>> limiter.call(print, "first export")
        first export
        >>> try:
        ...     limiter.call(print, "never printed")
        ... except RateLimitExceeded as error:
        ...     print(error.name, error.retry_after)
        exports 60.0
    """

    def __init__(self, name: str, retry_after: float) -> None:
        self.name = name
        self.retry_after = retry_after
        super().__init__(f"rate limiter {name!r} exceeded; retry after {retry_after:.3f}s")

    def __reduce__(self) -> tuple[type[RateLimitExceeded], tuple[str, float]]:
        return (type(self), (self.name, self.retry_after))


class TimeoutExceeded(ResilienceError, TimeoutError):
    """The guarded call did not finish within its ``Timeout`` (also a builtin ``TimeoutError``).

    Attributes:
        name: the timeout policy's name.
        seconds: the limit that was exceeded.

    Examples:
        >>> from maestro_resilience import TimeoutExceeded
        >>> error = TimeoutExceeded("lookup", 0.05)
        >>> isinstance(error, TimeoutError), error.name, error.seconds  # `except TimeoutError` catches it
        (True, 'lookup', 0.05)
    """

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        super().__init__(f"{name!r} timed out after {seconds:.3f}s")

    def __reduce__(self) -> tuple[type[TimeoutExceeded], tuple[str, float]]:
        return (type(self), (self.name, self.seconds))


class ChaosFault(ResilienceError):
    """The default fault raised by a ``Chaos`` policy (a drill, not a real failure).

    Examples:
        >>> from maestro_resilience import Chaos, ChaosFault
        >>> try:
        ...     Chaos(fault_rate=1.0).call(print, "never printed")
        ... except ChaosFault as fault:
        ...     print(type(fault).__name__)
        ChaosFault
    """


class StorageUnavailable(ResilienceError):
    """Shared breaker storage (Redis) is unreachable and the breaker is configured to fail.

    Examples:
        >>> import redis
        >>> from redis.backoff import NoBackoff
        >>> from redis.retry import Retry
        >>> from maestro_resilience import CircuitBreaker, RedisStorage, StorageUnavailable
        >>> nowhere = redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))  # nothing listens
        >>> strict = CircuitBreaker("ledger", storage=RedisStorage(nowhere, on_unavailable="fail"))
        >>> try:
        ...     strict.call(print, "never printed")
        ... except StorageUnavailable as error:
        ...     print(type(error.__cause__).__name__)
        ConnectionError
        >>> nowhere.close()
    """


class ConfigurationError(ResilienceError, ValueError, TypeError):
    """A policy's or a ``Registry``'s configuration was refused, naming what was wrong.

    Raised at construction (a policy never starts with a bad setting: a negative wait, a non-finite
    number, an unknown mode...) and by ``Registry.from_dict`` / ``from_toml``, whose messages start
    with the entry and the key. It is also a ``ValueError`` and a ``TypeError``, what these errors
    were before, so existing handlers still catch it.

    Attributes:
        field: the parameter (or Registry key) at fault, when known.
        entry: the Registry entry at fault (``None`` outside a Registry).

    Examples:
        >>> import math
        >>> from maestro_resilience import ConfigurationError, Registry, Timeout
        >>> try:
        ...     Timeout(math.inf)
        ... except ConfigurationError as error:
        ...     print(error.field, "|", error)
        seconds | seconds must be a finite number > 0, got inf
        >>> try:
        ...     Registry.from_dict({"db": {"type": "bulkhead", "max_concurrent": 4, "max_wait": math.nan}})
        ... except ConfigurationError as error:
        ...     print(error.entry, error.field, "|", error)
        db max_wait | registry entry 'db', key 'max_wait': max_wait must be a finite number of seconds >= 0, got nan
    """

    def __init__(self, message: str, *, field: str | None = None, entry: str | None = None) -> None:
        if field is None:  # "<field> must ...": the messages of this package name the field first
            head = message.split(" must ", 1)[0].rpartition(".")[2]
            field = head if " must " in message and head.isidentifier() else None
        self.field = field
        self.entry = entry
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_configuration_error, (str(self), self.field, self.entry))


def _configuration_error(message: str, field: str | None, entry: str | None) -> ConfigurationError:
    return ConfigurationError(message, field=field, entry=entry)
