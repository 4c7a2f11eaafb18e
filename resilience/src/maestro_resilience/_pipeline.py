"""``Pipeline``: policies composed outermost first, as one policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

from maestro_resilience._breaker import _CUTS, CircuitBreaker, _Cut
from maestro_resilience._exceptions import ConfigurationError, TimeoutExceeded
from maestro_resilience._policy import Policy
from maestro_resilience._timeout import Timeout

__all__ = ["Pipeline"]

P = ParamSpec("P")
R = TypeVar("R")


class Pipeline(Policy):
    """Compose policies, OUTERMOST FIRST: ``Pipeline(Fallback(...), Retry(...), CircuitBreaker(...), Timeout(...))``.

    The first policy sees the final outcome; the last one wraps the function itself. A ``Timeout``
    inside a ``Retry`` limits each attempt; outside it limits the total. The composition is built
    once per decorated function, so a call pays only for the policies' own work.

    A ``CircuitBreaker`` inside a ``Timeout`` (``Pipeline(Timeout(2), breaker)``) records a call the
    timeout gives up on as a ``TimeoutExceeded`` (a failure unless the breaker's ``ignore_on`` or
    ``success_on`` say otherwise) when the deadline passes, as a breaker outside the timeout would:
    a call abandoned on its worker thread, or cancelled, still counts, so a hanging dependency trips
    the breaker. Its late return changes nothing.

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
            raise ConfigurationError("Pipeline needs at least one policy")
        for policy in policies:
            if not isinstance(policy, Policy):
                raise ConfigurationError(f"Pipeline takes policies (CircuitBreaker, Retry, ...), got {policy!r}")
        self.policies: tuple[Policy, ...] = policies

    def __repr__(self) -> str:
        return f"Pipeline({', '.join(repr(p) for p in self.policies)})"

    def _cutting(self) -> tuple[set[int], set[int]]:
        """Indexes of the timeouts with a breaker inside them, and of the breakers inside a timeout."""
        timeouts: set[int] = set()
        breakers: set[int] = set()
        for i, policy in enumerate(self.policies):
            if isinstance(policy, CircuitBreaker):
                outer = {j for j in range(i) if isinstance(self.policies[j], Timeout)}
                if outer:
                    timeouts |= outer
                    breakers.add(i)
        return timeouts, breakers

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        timeouts, breakers = self._cutting()
        wrapped = fn
        for i in reversed(range(len(self.policies))):
            policy = self.policies[i]
            if i in breakers:
                wrapped = cast(CircuitBreaker, policy)._wrap_sync_cut(wrapped)
            else:
                wrapped = policy._wrap_sync(wrapped)
            if i in timeouts:
                wrapped = _cut_sync(wrapped)
        return wrapped

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        timeouts, breakers = self._cutting()
        wrapped: Callable[P, Awaitable[R]] = fn
        for i in reversed(range(len(self.policies))):
            policy = self.policies[i]
            if i in breakers:
                wrapped = cast(CircuitBreaker, policy)._wrap_async_cut(wrapped)
            else:
                wrapped = policy._wrap_async(wrapped)
            if i in timeouts:
                wrapped = _cut_async(wrapped)
        return cast(Callable[P, Coroutine[Any, Any, R]], wrapped)


def _cut_sync(timed: Callable[P, R]) -> Callable[P, R]:
    """Around a ``Timeout``'s sync wrapper: the breaker calls it abandons record its ``TimeoutExceeded``."""

    def cut(*args: P.args, **kwargs: P.kwargs) -> R:
        scope = _Cut()
        reset = _CUTS.set((*_CUTS.get(), scope))  # the worker thread runs in a copy of this context
        try:
            return timed(*args, **kwargs)
        except TimeoutExceeded as exc:
            scope.settle(exc)
            raise
        finally:
            _CUTS.reset(reset)

    return cut


def _cut_async(timed: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Around a ``Timeout``'s async wrapper: cancelled breaker calls record the timeout, or their cancellation."""

    async def cut(*args: P.args, **kwargs: P.kwargs) -> R:
        scope = _Cut()
        reset = _CUTS.set((*_CUTS.get(), scope))
        try:
            return await timed(*args, **kwargs)
        except BaseException as exc:  # TimeoutExceeded: the deadline; a CancelledError: from elsewhere
            await scope.settle_async(exc)
            raise
        finally:
            _CUTS.reset(reset)

    return cut
