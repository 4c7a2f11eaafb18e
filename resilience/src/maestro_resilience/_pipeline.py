"""``Pipeline``: policies composed outermost first, as one policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

from maestro_resilience._policy import Policy

__all__ = ["Pipeline"]

P = ParamSpec("P")
R = TypeVar("R")


class Pipeline(Policy):
    """Compose policies, OUTERMOST FIRST: ``Pipeline(Fallback(...), Retry(...), CircuitBreaker(...), Timeout(...))``.

    The first policy sees the final outcome; the last one wraps the function itself. A ``Timeout``
    inside a ``Retry`` limits each attempt; outside it limits the total. The composition is built
    once per decorated function, so a call pays only for the policies' own work.

    Examples:
        >>> from maestro_resilience import CircuitBreaker, Fallback, Pipeline, Retry
        >>> from maestro_resilience.testing import no_wait
        >>> attempts = []
        >>> @Pipeline(Fallback("cached"), Retry(attempts=3), CircuitBreaker("db"))
        ... def load() -> str:
        ...     attempts.append(1)
        ...     raise ConnectionError("db down")
        >>> with no_wait():  # (the retries' backoff is computed, not slept)
        ...     load()
        'cached'
        >>> len(attempts)  # three attempts through the breaker, then the fallback
        3
    """

    def __init__(self, *policies: Policy, name: str | None = None) -> None:
        super().__init__(name)
        if not policies:
            raise ValueError("Pipeline needs at least one policy")
        for policy in policies:
            if not isinstance(policy, Policy):
                raise TypeError(f"Pipeline takes policies (CircuitBreaker, Retry, ...), got {policy!r}")
        self.policies: tuple[Policy, ...] = policies

    def __repr__(self) -> str:
        return f"Pipeline({', '.join(repr(p) for p in self.policies)})"

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        wrapped = fn
        for policy in reversed(self.policies):
            wrapped = policy._wrap_sync(wrapped)
        return wrapped

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        wrapped: Callable[P, Awaitable[R]] = fn
        for policy in reversed(self.policies):
            wrapped = policy._wrap_async(wrapped)
        return cast(Callable[P, Coroutine[Any, Any, R]], wrapped)
