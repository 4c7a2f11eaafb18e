"""``Fallback``: replace a failure (or a bad result) with a value or the result of a function."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import ConfigurationError
from maestro_resilience._policy import Policy

__all__ = ["Fallback", "FallbackOutcome"]

P = ParamSpec("P")
R = TypeVar("R")

_MISSING: Any = object()


class FallbackOutcome:
    """What a ``with fallback as outcome:`` block produced: its value, or the fallback and the error.

    Assign the block's result to ``outcome.value`` inside the block. When the block raises an
    exception the ``Fallback`` handles, the exception is suppressed, kept in ``error``, and
    ``value`` becomes the fallback value (or ``func(error)``). When the block ends normally and
    ``result_predicate(value)`` is true, ``value`` is replaced too (``error`` stays ``None``).

    Attributes:
        value: the block's result or its replacement (``None`` until assigned).
        error: the suppressed exception, or ``None``.
        fell_back: whether ``value`` is a replacement.

    Examples:
        >>> from maestro_resilience import Fallback
        >>> with Fallback(0, on=ValueError) as outcome:
        ...     outcome.value = int("42")
        >>> outcome
        FallbackOutcome(value=42, error=None, fell_back=False)
        >>> with Fallback(0, on=ValueError) as outcome:
        ...     outcome.value = int("forty-two")
        >>> outcome.value, type(outcome.error).__name__, outcome.fell_back
        (0, 'ValueError', True)
    """

    __slots__ = ("error", "fell_back", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.fell_back = False

    def __repr__(self) -> str:
        return f"FallbackOutcome(value={self.value!r}, error={self.error!r}, fell_back={self.fell_back})"


# (policy, outcome) of each `with fallback as outcome:` block in progress in this context, innermost last
_BLOCKS: ContextVar[tuple[tuple[Fallback, FallbackOutcome], ...]] = ContextVar(
    "maestro_resilience_fallback_blocks", default=()
)


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

    As a context manager, ``with fallback as outcome:`` suppresses a handled exception and exposes
    the replacement as ``outcome.value`` (see ``FallbackOutcome``). An ``async def`` ``func`` needs
    ``async with``.

    Examples:
        >>> from maestro_resilience import Fallback
        >>> def fetch_price(sku: str) -> str:
        ...     raise ConnectionError("pricing service down")
        >>> @Fallback(func=lambda error: f"cached ({type(error).__name__})")
        ... def price(sku: str) -> str:
        ...     return fetch_price(sku)
        >>> price("A-1")
        'cached (ConnectionError)'
        >>> with Fallback("9.99") as outcome:  # a block: the replacement lands in outcome.value
        ...     outcome.value = fetch_price("A-1")
        >>> outcome.value, outcome.fell_back
        ('9.99', True)
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
            raise ConfigurationError("Fallback needs exactly one of value= and func=")
        if func is not None and not callable(func):
            raise ConfigurationError(f"func must be a callable taking the exception, got {func!r}")
        if isinstance(on, type):
            on = (on,)
        if not isinstance(on, tuple) or not all(isinstance(t, type) and issubclass(t, BaseException) for t in on):
            raise ConfigurationError(f"on must be an exception class or a tuple of them, got {on!r}")
        for pname, p in (("predicate", predicate), ("result_predicate", result_predicate)):
            if p is not None and not callable(p):
                raise ConfigurationError(f"{pname} must be a callable, got {p!r}")
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

    # -- context manager: the block's error is suppressed and its replacement read from the outcome --
    def __enter__(self) -> FallbackOutcome:
        outcome = FallbackOutcome()
        _BLOCKS.set((*_BLOCKS.get(), (self, outcome)))
        return outcome

    def _pop(self) -> FallbackOutcome | None:
        blocks = _BLOCKS.get()
        for i in range(len(blocks) - 1, -1, -1):
            if blocks[i][0] is self:
                _BLOCKS.set(blocks[:i] + blocks[i + 1 :])
                return blocks[i][1]
        return None  # pragma: no cover - __exit__ without __enter__

    def _block_replacement(self, exc: BaseException | None) -> tuple[FallbackOutcome, Any] | None:
        """The ending block's outcome and replacement (maybe awaitable), or ``None`` when nothing is replaced."""
        outcome = self._pop()
        if outcome is None:  # pragma: no cover - __exit__ without __enter__
            return None
        if exc is not None:
            if not self._handles(exc):
                return None
        elif self.result_predicate is None or not self.result_predicate(outcome.value):
            return None
        return outcome, self._replacement(exc)

    @staticmethod
    def _settle(outcome: FallbackOutcome, value: Any, exc: BaseException | None) -> bool:
        outcome.value, outcome.error, outcome.fell_back = value, exc, True
        return exc is not None  # suppress the handled exception

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        replaced = self._block_replacement(exc)
        if replaced is None:
            return False
        outcome, value = replaced
        if inspect.isawaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()  # no "never awaited" warning
            raise TypeError("this Fallback's func is async: use `async with`")
        return self._settle(outcome, value, exc)

    async def __aenter__(self) -> FallbackOutcome:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        replaced = self._block_replacement(exc)
        if replaced is None:
            return False
        outcome, value = replaced
        if inspect.isawaitable(value):
            value = await value
        return self._settle(outcome, value, exc)
