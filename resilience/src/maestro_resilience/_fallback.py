"""``Fallback``: replace a failure (or a bad result) with a value or the result of a function."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._policy import Policy

__all__ = ["Fallback"]

P = ParamSpec("P")
R = TypeVar("R")

_MISSING: Any = object()


class Fallback(Policy):
    """Return ``value`` (or ``func(error)``) when the call raises one of ``on``.

    Args:
        value: the replacement result.
        func: called with the exception (``None`` when a result was rejected by ``result_predicate``)
            to produce the replacement; may be ``async def`` when guarding async code.
        on: exception classes handled (default ``Exception``).
        predicate: further narrows which handled exceptions fall back.
        result_predicate: a returned value for which this is true is replaced too.

    Exactly one of ``value`` and ``func`` is required.
    """

    def __init__(
        self,
        value: Any = _MISSING,
        *,
        func: Callable[[BaseException | None], Any] | None = None,
        on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        predicate: Callable[[BaseException], bool] | None = None,
        result_predicate: Callable[[Any], bool] | None = None,
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        if (value is _MISSING) == (func is None):
            raise TypeError("Fallback needs exactly one of value= and func=")
        if func is not None and not callable(func):
            raise TypeError(f"func must be a callable taking the exception, got {func!r}")
        if isinstance(on, type):
            on = (on,)
        if not isinstance(on, tuple) or not all(isinstance(t, type) and issubclass(t, BaseException) for t in on):
            raise TypeError(f"on must be an exception class or a tuple of them, got {on!r}")
        for pname, p in (("predicate", predicate), ("result_predicate", result_predicate)):
            if p is not None and not callable(p):
                raise TypeError(f"{pname} must be a callable, got {p!r}")
        self.value = value
        self.func = func
        self.on = on
        self.predicate = predicate
        self.result_predicate = result_predicate

    def _handles(self, exc: BaseException) -> bool:
        return isinstance(exc, self.on) and (self.predicate is None or self.predicate(exc))

    def _replacement(self, exc: BaseException | None) -> Any:
        emit(self.listeners, self.name, "fallback", error=None if exc is None else repr(exc))
        if self.func is None:
            return self.value
        return self.func(exc)

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        policy = self
        result_predicate = self.result_predicate

        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                if policy._handles(exc):
                    return policy._replacement(exc)  # type: ignore[no-any-return]
                raise
            if result_predicate is not None and result_predicate(result):
                return policy._replacement(None)  # type: ignore[no-any-return]
            return result

        return guarded

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        policy = self

        async def replaced(exc: BaseException | None) -> R:
            value = policy._replacement(exc)
            if inspect.isawaitable(value):
                value = await value
            return value  # type: ignore[no-any-return]

        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                if policy._handles(exc):
                    return await replaced(exc)
                raise
            if policy.result_predicate is not None and policy.result_predicate(result):
                return await replaced(None)
            return result

        return guarded
