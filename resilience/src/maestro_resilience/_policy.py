"""The base every policy shares: decorator, context manager and call forms, sync and async."""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import math
from collections.abc import Awaitable, Callable, Coroutine
from types import FunctionType, TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener
from maestro_resilience._exceptions import ConfigurationError

__all__ = ["Policy", "is_async_callable"]

P = ParamSpec("P")
R = TypeVar("R")

_names = itertools.count(1)

#: Wrappers a policy keeps for ``call``/``call_async`` (per policy and kind), so that calling the same
#: function again costs what the decorated function costs.
_KEPT_WRAPPERS = 256


def _long_lived(fn: FunctionType) -> bool:
    """A function defined at module or class level: keeping its wrapper keeps nothing else alive."""
    qualname = fn.__qualname__
    return "<locals>" not in qualname and "<lambda>" not in qualname


def is_async_callable(fn: object) -> bool:
    """True for ``async def`` functions, partials of them and objects with an ``async def __call__``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004


def _unwrapped(fn: object) -> object:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _label(fn: object) -> str:
    return getattr(_unwrapped(fn), "__qualname__", None) or repr(fn)


def refuse_generator(policy: object, fn: object) -> None:
    """``TypeError`` for a generator function: calling it only creates the generator, nothing to guard."""
    inner = _unwrapped(fn)
    if inspect.isgeneratorfunction(inner) or inspect.isasyncgenfunction(inner):
        raise TypeError(
            f"{type(policy).__name__} cannot guard the generator function {_label(fn)}: calling it only creates "
            "the generator and the work runs while it is iterated, so every call would count as an instant "
            "success; guard the function that iterates it (or one that returns a list) instead"
        )


def check_seconds(name: str, value: object) -> float:
    """``value`` as a finite number of seconds >= 0, or ``ConfigurationError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


def check_sync_callable(policy: object, fn: object) -> None:
    """``TypeError`` unless ``fn`` may run through the sync ``call``: not ``async def``, not a generator function."""
    if is_async_callable(fn):
        raise TypeError(
            f"{_label(fn)} is an async def function: {type(policy).__name__}.call() would only create its "
            "coroutine; use: await policy.call_async(fn, ...)"
        )
    refuse_generator(policy, fn)


def check_clock(clock: object) -> Clock:
    """Validate the ``clock`` argument of a policy."""
    if not isinstance(clock, Clock):
        raise ConfigurationError(f"clock must provide monotonic(), sleep() and asleep(), got {clock!r}")
    return clock


class Policy:
    """Base class of every policy.

    A policy works three ways, on ``def`` and ``async def`` code alike:

    * as a decorator: ``@policy`` keeps the function's exact signature for type checkers;
    * by call: ``policy.call(fn, *args, **kwargs)`` / ``await policy.call_async(fn, *args, **kwargs)``;
    * as a context manager (``with policy:`` / ``async with policy:``): breaker, bulkhead, rate
      limiter, chaos and timeout guard the block (a sync ``with Timeout(s):`` uses ``SIGALRM`` and
      runs in the main thread only); ``with fallback as outcome:`` suppresses a handled error and
      puts the replacement in ``outcome.value``; ``Retry`` guards a block as a loop
      (``for attempt in retry: with attempt: ...``) and raises ``TypeError`` in a plain ``with``.

    Subclasses implement ``_wrap_sync`` and ``_wrap_async``; ``Pipeline`` composes those.

    Examples:
        >>> from maestro_resilience import Bulkhead, Policy
        >>> bulkhead = Bulkhead(10, name="api")
        >>> isinstance(bulkhead, Policy)
        True
        >>> @bulkhead  # a decorator ...
        ... def double(x: int) -> int:
        ...     return 2 * x
        >>> double(2), bulkhead.call(double, 3)  # ... a call ...
        (4, 6)
        >>> with bulkhead:  # ... and a block (async code: await bulkhead.call_async(...), async with)
        ...     bulkhead.active
        1
    """

    name: str
    listeners: tuple[EventListener, ...]
    clock: Clock

    def __init__(
        self,
        name: str | None = None,
        *,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"name must be a non-empty str, got {name!r}")
        self.name = name if name is not None else f"{type(self).__name__.lower()}-{next(_names)}"
        for listener in listeners:
            if not callable(listener):
                raise ConfigurationError(f"listeners must be callables taking an Event, got {listener!r}")
        self.listeners = tuple(listeners)
        self.clock = check_clock(clock)
        # call()/call_async() build a function's wrapper once, as the decorator does (see _wrapped_sync)
        self._sync_wrappers: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._async_wrappers: dict[Callable[..., Any], Callable[..., Any]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- what subclasses provide -------------------------------------------------------------
    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        raise NotImplementedError

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        raise NotImplementedError

    # -- decorator -------------------------------------------------------------------------------
    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate ``fn`` (a ``def`` or an ``async def``); the result keeps its signature."""
        if not callable(fn):
            raise TypeError(f"{type(self).__name__} decorates a callable, got {fn!r}")
        refuse_generator(self, fn)
        wrapper: Callable[P, Any] = self._wrap_async(fn) if is_async_callable(fn) else self._wrap_sync(fn)
        with contextlib.suppress(AttributeError):  # callables without __name__
            functools.update_wrapper(wrapper, fn)
        return wrapper

    # -- call ----------------------------------------------------------------------------------
    def _wrapped_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        """``fn``'s sync wrapper, built once for a module- or class-level function, else for this call."""
        if type(fn) is FunctionType:
            wrapped = self._sync_wrappers.get(fn)
            if wrapped is not None:
                return wrapped
        check_sync_callable(self, fn)
        wrapped = self._wrap_sync(fn)
        if type(fn) is FunctionType and _long_lived(fn) and len(self._sync_wrappers) < _KEPT_WRAPPERS:
            self._sync_wrappers[fn] = wrapped
        return wrapped

    def _wrapped_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        """``_wrapped_sync`` for ``call_async``."""
        if type(fn) is FunctionType:
            wrapped = self._async_wrappers.get(fn)
            if wrapped is not None:
                return wrapped
        refuse_generator(self, fn)
        wrapped = self._wrap_async(fn)
        if type(fn) is FunctionType and _long_lived(fn) and len(self._async_wrappers) < _KEPT_WRAPPERS:
            self._async_wrappers[fn] = wrapped
        return wrapped

    def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` under this policy and return its result.

        ``TypeError`` for an ``async def`` function (use ``call_async``) or a generator function.
        The wrapper of a module- or class-level function is built on its first call and kept, so
        ``policy.call(fn, ...)`` costs what ``@policy`` does.
        """
        return self._wrapped_sync(fn)(*args, **kwargs)

    async def call_async(self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` under this policy and return its result."""
        return await self._wrapped_async(fn)(*args, **kwargs)

    # -- context manager (default: not supported) ----------------------------------------------
    def _no_block(self) -> TypeError:
        return TypeError(
            f"{type(self).__name__} cannot guard a with-block (it must re-run or replace the call): "
            "use it as a decorator or with .call()/.call_async()"
        )

    def __enter__(self) -> Any:
        raise self._no_block()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        raise self._no_block()

    async def __aenter__(self) -> Any:
        raise self._no_block()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        raise self._no_block()
